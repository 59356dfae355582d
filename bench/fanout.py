"""Live fan-out: many browser tabs watch one poll's live results while ballots arrive.

Starts the app in production mode (granian workers, Redis state manager) on a throwaway
PostgreSQL database and opens ``--viewers`` Socket.IO connections to the poll's results page
(``/polls/<id>/results``, each with its own client token and a browser session cookie, the
``hydrate_and_load`` boot event in the CONNECT packet, as the compiled frontend does): the page's
on_load checks the viewer and puts its socket in the poll's room. The viewers are spread over
``--client-procs`` processes; by default (``--client raw``) each is a bare websocket with the
engine.io/Socket.IO framing done by hand and the total found in each frame by a string search,
so that the clients, which share the machine's cores with the server, cost little per delta
(``--client sio``: the former python-socketio client, decoding every frame). Then a driver casts ``--rate`` ballots a second for
``--duration`` seconds through ``POST /api/votes/`` (bearer tokens; open loop: every ballot is
sent at its scheduled time, however slow the answers).

For every accepted ballot b (accepted at t_b, when its 201 arrived) and every viewer v, the
latency is the time from t_b to the first delta at v whose ``total_ballots`` covers b. "Covers" is
taken conservatively: the total must reach the number of accepted ballots whose ``created_at`` (set
by the server just before the INSERT) is before t_b; every ballot in a tally that leaves b out
was committed before b, so created before t_b, and such a total therefore includes b. The
optimistic bound (total >= b's rank in acceptance order) is printed too. Reported: p50/p99 over
all (ballot, viewer) pairs, the same for the slowest viewer of each ballot, pushes per second for
the poll (``commons_live_pushes_total`` from /metrics, and the deltas each viewer received),
server CPU (the process group: reflex, granian and its workers) and RSS and Redis memory per
connected viewer, and the client processes' CPU (they share the 2 cores with the server).

Exits non-zero if a viewer could not connect, a viewer received no update or not the final total,
a ballot was refused, or the stored ballots differ from the accepted ones.

    .venv/bin/python bench/fanout.py [--viewers 1000] [--rate 200] [--duration 20] [--workers N] [--client raw|sio]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import resource
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
import numpy as np

from bench.common import (
    EVENT_NAMESPACE,
    NAMES,
    SESSION_COOKIE,
    BrowserClient,
    Frontend,
    ServerProbe,
    bench_server,
    load_average,
    metric_value,
    new_poll,
    redis_memory,
    seed_people,
    start_py_spy,
    state_delta,
    stored,
    summarize_profile,
    var,
)
from bench.common import _router_data as router_data

# The LiveResults delta is found by the state's own name, so that a candidate change that moves the
# state in the tree (``--app-source``) is measured the same way.
LIVE_SUFFIX = "." + NAMES.live_state.rpartition(".")[2]
TOTAL = var("total_ballots")
POLL_ID = var("poll_id")
HYDRATED = var("is_hydrated")
WS_TEXT = aiohttp.WSMsgType.TEXT


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# --- viewer processes ------------------------------------------------------------------------------
class Viewer:
    def __init__(self, base: str, frontend: Frontend, credential: str, http: Any) -> None:
        self.client = BrowserClient(base, frontend=frontend, credential=credential, http_session=http,
                                    keep_updates=False)
        self.client.watchers.append(self._seen)
        self.arrivals: list[tuple[float, int]] = []
        self.updates = 0
        self.live_updates = 0
        self.linked_poll = ""
        self.hydrated = asyncio.Event()
        self.recording = False

    def _seen(self, at: float, update: dict) -> None:
        self.updates += 1
        delta = update.get("delta") or {}
        live = next((v for k, v in delta.items() if k.endswith(LIVE_SUFFIX)), {})
        if POLL_ID in live:
            self.linked_poll = live[POLL_ID]
        if state_delta(update, NAMES.root).get(HYDRATED) is True:
            self.hydrated.set()
        if TOTAL in live and self.recording:
            self.live_updates += 1
            self.arrivals.append((at, int(live[TOTAL])))
        elif TOTAL in live:
            self.arrivals = [(at, int(live[TOTAL]))]

    async def open(self, poll_id: str, timeout: float) -> float:
        started = time.monotonic()
        await self.client.connect(f"/polls/{poll_id}/results", {"poll_id": str(poll_id)}, timeout=timeout)
        await asyncio.wait_for(self.hydrated.wait(), timeout)
        if self.linked_poll != poll_id:
            raise RuntimeError(f"viewer hydrated but is not linked to poll {poll_id} (linked: {self.linked_poll})")
        return time.monotonic() - started

    @property
    def connected(self) -> bool:
        return bool(self.client.sio.connected)

    async def close(self) -> None:
        await self.client.close()


class RawViewer:
    """The same tab as :class:`Viewer` on a bare websocket (aiohttp): the engine.io and Socket.IO
    framing by hand, the JSON decoded only while connecting. While ballots arrive a frame's total
    is found with a string search (``"total_ballots_rx_state_":<n>``), so the client's CPU per
    delta no longer grows with the delta's size: on 2 shared cores python-socketio's decoding
    made the viewer processes the bottleneck (see docs/BENCHMARKS.md, "Live fan-out")."""

    PREFIX = f"42{EVENT_NAMESPACE},"
    KEY = f'"{TOTAL}":'

    def __init__(self, base: str, frontend: Frontend, credential: str, http: Any) -> None:
        self.base, self.frontend, self.credential, self.http = base, frontend, credential, http
        self.token = str(uuid.uuid4())
        self.ws: Any = None
        self.reader: asyncio.Task | None = None
        self.arrivals: list[tuple[float, int]] = []
        self.updates = 0
        self.live_updates = 0
        self.linked_poll = ""
        self.hydrated = asyncio.Event()
        self.recording = False
        self.frame_bytes = 0  # characters of the live deltas received while recording
        self.parse = True  # decode whole frames (connect phase) or only search for the total

    @property
    def connected(self) -> bool:
        return self.ws is not None and not self.ws.closed

    async def open(self, poll_id: str, timeout: float) -> float:
        started = time.monotonic()
        url = f"{self.base.replace('http', 'ws', 1)}{EVENT_NAMESPACE}/?EIO=4&transport=websocket&token={self.token}"
        headers = {"Origin": self.base, "Cookie": f"{SESSION_COOKIE}={self.credential}"}
        self.ws = await self.http.ws_connect(url, headers=headers, autoping=True, max_msg_size=0,
                                             timeout=aiohttp.ClientWSTimeout(ws_close=10))
        opening = await asyncio.wait_for(self.ws.receive_str(), timeout)
        if not opening.startswith("0"):
            raise RuntimeError(f"no engine.io OPEN: {opening[:80]}")
        path = f"/polls/{poll_id}/results"
        event = {"name": NAMES.hydrate_and_load, "payload": {"hashes": self.frontend.hashes},
                 "router_data": router_data(path, {"poll_id": str(poll_id)})}
        auth = {"event": event, "state_schema": self.frontend.schema}
        await self.ws.send_str(f"40{EVENT_NAMESPACE},{json.dumps(auth)}")
        self.reader = asyncio.ensure_future(self._read())
        await asyncio.wait_for(self.hydrated.wait(), timeout)
        if self.linked_poll != poll_id:
            raise RuntimeError(f"viewer hydrated but is not linked to poll {poll_id} (linked: {self.linked_poll})")
        self.parse = False
        return time.monotonic() - started

    async def _read(self) -> None:
        ws = self.ws
        async for msg in ws:
            if msg.type != WS_TEXT:
                break
            data: str = msg.data
            now = time.monotonic()
            if data == "2":  # engine.io ping
                await ws.send_str("3")
                continue
            if not data.startswith(self.PREFIX):
                continue
            self.updates += 1
            if self.parse:
                self._seen_parsed(now, json.loads(data[len(self.PREFIX):])[1])
                continue
            at = data.find(self.KEY)
            if at < 0:
                continue
            start = at + len(self.KEY)
            end = start
            while data[end].isdigit():
                end += 1
            total = int(data[start:end])
            if self.recording:
                self.live_updates += 1
                self.frame_bytes += len(data)
                self.arrivals.append((now, total))
            else:
                self.arrivals = [(now, total)]

    def _seen_parsed(self, at: float, update: dict) -> None:
        delta = update.get("delta") or {}
        live = next((v for k, v in delta.items() if k.endswith(LIVE_SUFFIX)), {})
        if POLL_ID in live:
            self.linked_poll = live[POLL_ID]
        if state_delta(update, NAMES.root).get(HYDRATED) is True:
            self.hydrated.set()
        if TOTAL in live:
            self.arrivals = [(at, int(live[TOTAL]))]

    async def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.close()
        if self.reader is not None:
            self.reader.cancel()
            await asyncio.gather(self.reader, return_exceptions=True)


async def viewer_main(conn: Any, base: str, frontend: Frontend, poll_id: str, credentials: list[str],
                      connect_concurrency: int, timeout: float, budget: float, client: str) -> None:
    import aiohttp

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), cookie_jar=aiohttp.DummyCookieJar()) as http:
        kind = RawViewer if client == "raw" else Viewer
        viewers = [kind(base, frontend, c, http) for c in credentials]
        semaphore = asyncio.Semaphore(connect_concurrency)

        async def open_one(v: Viewer | RawViewer) -> float:
            async with semaphore:
                return await v.open(poll_id, timeout)

        cpu0 = own_cpu()
        tasks = [asyncio.ensure_future(open_one(v)) for v in viewers]
        _done, pending = await asyncio.wait(tasks, timeout=budget)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        connect_times = [t.result() for t in tasks if not t.cancelled() and t.exception() is None]
        errors = [repr(t.exception()) for t in tasks if not t.cancelled() and t.exception() is not None]
        if pending:
            errors.append(f"{len(pending)} viewers not connected and linked within the {budget:.0f} s connect budget")
        # Only the viewers that made it take part; the others are closed.
        linked = [v for v, t in zip(viewers, tasks, strict=True) if not t.cancelled() and t.exception() is None]
        await asyncio.gather(*(v.close() for v in viewers if v not in linked))
        viewers = linked
        conn.send({"connected": connect_times, "errors": errors, "cpu": own_cpu() - cpu0,
                   "updates": [v.updates for v in viewers]})
        loop = asyncio.get_running_loop()
        while True:
            command = await loop.run_in_executor(None, conn.recv)
            if command == "start":
                for v in viewers:
                    v.recording = True
                    v.live_updates = 0
                conn.send({"cpu": own_cpu()})
            elif command == "totals":
                conn.send([v.arrivals[-1][1] if v.arrivals else -1 for v in viewers])
            elif command == "stop":
                conn.send({
                    "cpu": own_cpu(),
                    "arrivals": [v.arrivals for v in viewers],
                    "live_updates": [v.live_updates for v in viewers],
                    "updates": [v.updates for v in viewers],
                    "frame_bytes": sum(getattr(v, "frame_bytes", 0) for v in viewers),
                    "connected": [v.connected for v in viewers],
                })
                break
        await asyncio.gather(*(v.close() for v in viewers))


def viewer_process(conn: Any, *args: Any) -> None:
    try:
        asyncio.run(viewer_main(conn, *args))
    except BaseException as exc:  # report anything to the parent rather than hang it
        conn.send({"fatal": repr(exc)})
        raise


# --- the driver ----------------------------------------------------------------------------------
async def drive(base: str, tokens: list[str], poll_id: str, option_ids: list[int], rate: float,
                max_in_flight: int) -> dict[str, Any]:
    """Cast one ballot per token at ``rate`` a second, each at its scheduled time (open loop, at most
    ``max_in_flight`` at once). aiohttp rather than httpx: it costs the shared CPU about half."""
    import aiohttp

    sent = np.zeros(len(tokens))
    answered = np.zeros(len(tokens))
    answered_wall = np.zeros(len(tokens))
    created = np.zeros(len(tokens))  # the ballot's created_at (server wall clock, set just before its INSERT)
    status = np.zeros(len(tokens), dtype=int)
    semaphore = asyncio.Semaphore(max_in_flight)
    connector = aiohttp.TCPConnector(limit=max_in_flight)
    async with aiohttp.ClientSession(base, connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as client:
        # Warm the connection pool so the first ballots do not pay for the TCP connects.
        async def warm() -> None:
            async with client.get("/api/health") as answer:
                await answer.read()

        await asyncio.gather(*(warm() for _ in range(max_in_flight)))
        start = time.monotonic() + 0.2

        async def one(i: int) -> None:
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            async with semaphore:
                body = {"poll_id": poll_id, "option_id": option_ids[i % len(option_ids)]}
                sent[i] = time.monotonic()
                try:
                    async with client.post("/api/votes/", json=body,
                                           headers={"Authorization": f"Bearer {tokens[i]}"}) as answer:
                        status[i] = answer.status
                        data = await answer.json() if answer.status == 201 else None
                except (aiohttp.ClientError, TimeoutError):
                    status[i], data = 0, None
                answered[i], answered_wall[i] = time.monotonic(), time.time()
                if data is not None:
                    created[i] = datetime.fromisoformat(data["created_at"]).timestamp()

        cpu0 = own_cpu()
        await asyncio.gather(*(one(i) for i in range(len(tokens))))
        cpu = own_cpu() - cpu0
    return {"sent": sent, "answered": answered, "answered_wall": answered_wall, "created": created, "status": status,
            "start": start, "cpu": cpu}


# --- analysis ------------------------------------------------------------------------------------
def pct(values: np.ndarray, q: float) -> float:
    return float(np.percentile(values, q, method="nearest")) if values.size else float("nan")


def latencies(arrivals: list[list[tuple[float, int]]], accepted_at: np.ndarray, need: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Per (ballot, viewer): time from acceptance to the first delta whose total >= need.

    Returns the latencies of all pairs, the slowest viewer's latency per ballot, and the number of
    (ballot, viewer) pairs never covered (NaN in the arrays)."""
    per_viewer = np.full((len(arrivals), accepted_at.size), np.nan)
    for v, seen in enumerate(arrivals):
        if not seen:
            continue
        times = np.array([t for t, _ in seen])
        totals = np.maximum.accumulate(np.array([n for _, n in seen]))
        index = np.searchsorted(totals, need, side="left")
        covered = index < totals.size
        got = np.where(covered, times[np.minimum(index, totals.size - 1)], np.nan)
        per_viewer[v] = np.maximum(got - accepted_at, 0.0)
    missing = int(np.isnan(per_viewer).sum())
    worst = np.max(np.nan_to_num(per_viewer, nan=np.inf), axis=0)
    return per_viewer[~np.isnan(per_viewer)], worst[np.isfinite(worst)], missing


def ms(value: float) -> str:
    return f"{value * 1000:,.0f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--viewers", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=200.0, help="ballots per second")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of ballots")
    parser.add_argument("--workers", type=int, default=None, help="granian workers (default: Reflex's choice)")
    parser.add_argument("--client-procs", type=int, default=4, help="processes holding the viewers' sockets")
    parser.add_argument("--client", choices=("raw", "sio"), default="raw",
                        help="viewer client: bare websocket with a string search for the total (raw), or python-socketio")
    parser.add_argument("--connect-concurrency", type=int, default=10, help="viewers connecting at once, per process")
    parser.add_argument("--max-in-flight", type=int, default=32, help="the driver's cap on ballots in flight")
    parser.add_argument("--settle", type=float, default=30.0, help="seconds to wait for the last update after the ballots")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds a viewer may take to connect")
    parser.add_argument("--connect-budget", type=float, default=900.0,
                        help="seconds for all viewers to connect; the ones not linked by then are dropped (a failure)")
    parser.add_argument("--profile", type=Path, default=None,
                        help="record the server with py-spy while ballots arrive; collapsed stacks to this file")
    parser.add_argument("--dump", type=Path, default=None,
                        help="save the raw timings (acceptances, every viewer's arrivals) to this .npz file")
    parser.add_argument("--push-interval", type=float, default=None, help="LIVE_PUSH_INTERVAL for the server")
    parser.add_argument("--app-source", type=Path, default=None,
                        help="serve the commons_app package of this directory instead of the checkout's")
    parser.add_argument("--database", default=os.environ.get("DATABASE_URL", "postgresql://127.0.0.1:5432/test"))
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/12"))
    args = parser.parse_args()
    # Every viewer holds a socket here and one in a server worker: raise the descriptor limit
    # (inherited by the client processes and the server) to the hard limit.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    ballots = round(args.rate * args.duration)
    seeded: dict[str, Any] = {}

    def seed(url: str) -> None:
        print(f"seeding {args.viewers} viewers and {ballots} voters ...", flush=True)
        seeded["viewers"], seeded["owner"] = seed_people(url, args.viewers, prefix="view", browser=True)
        seeded["voters"], _ = seed_people(url, ballots, prefix="drv", api=True)

    problems: list[str] = []
    print(f"load average before: {load_average()}", flush=True)
    extra = {"LIVE_PUSH_INTERVAL": str(args.push_interval)} if args.push_interval is not None else {}
    with bench_server(database=args.database, redis_url=args.redis, workers=args.workers, name="fanout",
                      before_start=seed, extra_env=extra, app_source=args.app_source) as bench:
        probe = ServerProbe(bench.server)
        poll_id, option_ids = new_poll(bench.database_url, seeded["owner"], "fan-out")
        time.sleep(2)
        idle = probe.sample()
        redis0 = redis_memory(bench.redis_url)

        # Viewers connect, spread over the client processes.
        ctx = mp.get_context("fork")
        credentials = [p.credential for p in seeded["viewers"]]
        shares = [credentials[i::args.client_procs] for i in range(args.client_procs)]
        pipes, procs = [], []
        started = time.monotonic()
        for share in shares:
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=viewer_process, daemon=True, args=(
                child, bench.url, bench.frontend, poll_id, share, args.connect_concurrency, args.timeout,
                args.connect_budget, args.client))
            proc.start()
            pipes.append(parent)
            procs.append(proc)
        try:
            reports = [p.recv() for p in pipes]
            for r in reports:
                if "fatal" in r:
                    raise RuntimeError(f"a viewer process failed: {r['fatal']}")
            connect_wall = time.monotonic() - started
            connect_times = np.array([t for r in reports for t in r["connected"]])
            errors = [e for r in reports for e in r["errors"]]
            connected = connect_times.size
            print(f"{connected} of {args.viewers} viewers connected and linked in {connect_wall:.1f} s: connect p50 "
                  f"{ms(pct(connect_times, 50))}, p99 {ms(pct(connect_times, 99))}; client CPU "
                  f"{sum(r['cpu'] for r in reports):.1f} s", flush=True)
            connect_updates = np.array([n for r in reports for n in r["updates"]])
            print(f"updates received per viewer while the viewers connected: p50 {pct(connect_updates, 50):.0f}, "
                  f"max {connect_updates.max()}", flush=True)
            if errors:
                problems.append(f"{len(errors)} viewers could not connect: {errors[0]}")
            time.sleep(3)
            linked = probe.sample()
            redis1 = redis_memory(bench.redis_url)
            per_client_rss = (linked["rss"] - idle["rss"]) / max(connected, 1)
            per_client_redis = (redis1 - redis0) / max(connected, 1)
            connect_cpu = linked["cpu"] - idle["cpu"]
            print(f"server RSS {idle['rss'] / 2**20:.0f} MiB idle -> {linked['rss'] / 2**20:.0f} MiB with {connected} "
                  f"viewers: {per_client_rss / 1024:.0f} KiB per viewer; Redis +{per_client_redis / 1024:.1f} KiB per "
                  f"viewer; server CPU for the connects {connect_cpu:.1f} s", flush=True)

            # Drive the ballots.
            pushes0 = metric_value(bench.url, "commons_live_pushes_total")
            for p in pipes:
                p.send("start")
            client_cpu0 = sum(p.recv()["cpu"] for p in pipes)
            before = probe.sample()
            spy = None
            if args.profile is not None:
                assert bench.server.process is not None
                spy = start_py_spy(bench.server.process.pid, args.duration + 5, args.profile)
            print(f"casting {ballots} ballots at {args.rate:.0f}/s ...", flush=True)
            result = asyncio.run(drive(bench.url, [p.access_token for p in seeded["voters"]], poll_id, option_ids,
                                       args.rate, args.max_in_flight))
            after = probe.sample()
            pushes1 = metric_value(bench.url, "commons_live_pushes_total")
            accepted_mask = result["status"] == 201
            accepted = int(accepted_mask.sum())
            drive_wall = float(result["answered"].max() - result["start"])
            send_span = float(result["sent"].max() - result["start"])

            # Wait until every viewer shows the final total (or the settle time is up).
            deadline = time.monotonic() + args.settle
            while True:
                for p in pipes:
                    p.send("totals")
                totals = [t for p in pipes for t in p.recv()]
                behind = sum(1 for t in totals if t < accepted)
                if behind == 0 or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            settled = probe.sample()
            pushes2 = metric_value(bench.url, "commons_live_pushes_total")
            for p in pipes:
                p.send("stop")
            final = [p.recv() for p in pipes]
            if spy is not None:
                spy.wait(timeout=120)
            client_cpu1 = sum(r["cpu"] for r in final)
        finally:
            for proc in procs:
                proc.join(timeout=30)
                if proc.is_alive():
                    proc.kill()
        count = stored(bench.database_url, poll_id)

    # --- figures ---------------------------------------------------------------------------------
    arrivals = [a for r in final for a in r["arrivals"]]
    live_updates = np.array([n for r in final for n in r["live_updates"]])
    still_connected = sum(c for r in final for c in r["connected"])
    order = np.argsort(result["answered"][accepted_mask])
    accepted_at = result["answered"][accepted_mask][order]
    accepted_wall = result["answered_wall"][accepted_mask][order]
    created = np.sort(result["created"][accepted_mask])
    # A tally that leaves ballot b out was read before b committed, so before b was accepted: every
    # ballot in it was created (its row built, just before the INSERT) before b's acceptance. A total
    # of at least the number of ballots created by then therefore includes b.
    need_safe = np.searchsorted(created, accepted_wall, side="right")
    need_rank = np.arange(1, accepted_at.size + 1)
    if args.dump is not None:
        flat = np.array([(v, t, n) for v, seen in enumerate(arrivals) for t, n in seen]).reshape(-1, 3)
        np.savez_compressed(args.dump, accepted_at=accepted_at, need_safe=need_safe, arrivals=flat,
                            sent=result["sent"], answered=result["answered"], status=result["status"])
    pairs, worst, missing = latencies(arrivals, accepted_at, need_safe)
    pairs_opt, worst_opt, _ = latencies(arrivals, accepted_at, need_rank)
    answer_times = (result["answered"] - result["sent"])[accepted_mask]
    span = max(float(accepted_at.max() - accepted_at.min()), 1e-9) if accepted else 1.0
    drive_secs = after["at"] - before["at"]
    window_secs = settled["at"] - before["at"]
    server_cores = (after["cpu"] - before["cpu"]) / drive_secs
    client_cores = (client_cpu1 - client_cpu0) / window_secs
    statuses = {int(s): int((result["status"] == s).sum()) for s in np.unique(result["status"])}

    print()
    print(f"viewers connected {connected} (still connected at the end: {still_connected}); ballots sent {ballots} in "
          f"{send_span:.1f} s, accepted {accepted} ({accepted / span:.0f}/s), stored {count}; statuses {statuses}")
    print(f"ballot answer (POST /api/votes/) p50 {ms(pct(answer_times, 50))}, p99 {ms(pct(answer_times, 99))}; "
          f"last answer {drive_wall:.1f} s after the first send")
    print()
    print("| figure | p50 | p99 | max |")
    print("|---|---:|---:|---:|")
    print(f"| acceptance -> viewer, all (ballot, viewer) pairs | {ms(pct(pairs, 50))} | {ms(pct(pairs, 99))} | "
          f"{ms(float(pairs.max()) if pairs.size else float('nan'))} |")
    print(f"| acceptance -> slowest viewer, per ballot | {ms(pct(worst, 50))} | {ms(pct(worst, 99))} | "
          f"{ms(float(worst.max()) if worst.size else float('nan'))} |")
    print(f"| (optimistic bound) all pairs | {ms(pct(pairs_opt, 50))} | {ms(pct(pairs_opt, 99))} | "
          f"{ms(float(pairs_opt.max()) if pairs_opt.size else float('nan'))} |")
    print(f"| (optimistic bound) slowest viewer | {ms(pct(worst_opt, 50))} | {ms(pct(worst_opt, 99))} | "
          f"{ms(float(worst_opt.max()) if worst_opt.size else float('nan'))} |")
    print()
    pushes_drive = pushes1 - pushes0
    print(f"pushes for the poll (commons_live_pushes_total): {pushes_drive:.0f} while ballots arrived "
          f"({pushes_drive / drive_secs:.2f}/s), {pushes2 - pushes0:.0f} until settled")
    print(f"live deltas per viewer: p50 {pct(live_updates, 50):.0f}, min {live_updates.min() if live_updates.size else 0}, "
          f"max {live_updates.max() if live_updates.size else 0} over {window_secs:.1f} s "
          f"({pct(live_updates, 50) / window_secs:.2f}/s)")
    frame_chars = sum(r["frame_bytes"] for r in final)
    if frame_chars:
        print(f"live delta frame: {frame_chars / max(int(live_updates.sum()), 1):,.0f} characters on average")
    print(f"server CPU while ballots arrived: {server_cores:.2f} cores ({after['cpu'] - before['cpu']:.1f} s in "
          f"{drive_secs:.1f} s); until settled {(settled['cpu'] - before['cpu']) / window_secs:.2f} cores")
    print(f"client CPU: viewer processes {client_cores:.2f} cores, driver {result['cpu'] / drive_secs:.2f} cores")
    print(f"server RSS per connected viewer {per_client_rss / 1024:.0f} KiB; Redis {per_client_redis / 1024:.1f} KiB")
    print(f"load average after: {load_average()}")
    if args.profile is not None and args.profile.exists():
        print(f"server profile while ballots arrived ({args.profile}):")
        print(summarize_profile(args.profile))

    never = int(sum(1 for n in live_updates if n == 0))
    if never:
        problems.append(f"{never} viewers received no update while ballots arrived")
    if missing:
        problems.append(f"{missing} (ballot, viewer) pairs never covered: {behind} viewers never showed the final total "
                        f"{accepted} within {args.settle:.0f} s")
    if count != accepted:
        problems.append(f"stored {count} ballots but {accepted} were accepted")
    if accepted != ballots:
        problems.append(f"{ballots - accepted} ballots were not accepted: {statuses}")
    if still_connected != connected:
        problems.append(f"{connected - still_connected} viewers lost their connection")
    p99 = pct(pairs, 99)
    print(f"target p99 < 1 s to every viewer: {'met' if p99 < 1 and worst.size and pct(worst, 99) < 1 else 'NOT met'}")
    for p in problems:
        print("PROBLEM:", p)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
