"""Browser ballots: voters cast their ballots through Reflex's websocket events, as browsers do.

Starts the app in production mode (granian workers, Redis state manager) on a throwaway
PostgreSQL database, then opens one Socket.IO connection per voter (``/_event``, its own client
token, the ``hydrate_and_load`` boot event in the CONNECT packet, exactly as the compiled frontend
does) and walks each voter through what a browser does:

1. open ``/login?next=/polls/<id>`` (connect + hydrate + the page's on_load);
2. log in through the login form's post (``/api/browser/login``: argon2 check, a browser session
   whose credential comes back as an HttpOnly cookie), then, as the browser follows the 303, a
   new socket presenting the cookie opens the poll's page — or, with ``--stored-session``, arrive
   with the cookie already set;
3. go to the poll's vote page (client-side navigation: the page's on_load events);
4. submit the ballot form: the round trip is measured from the emit to the delta in which the
   vote page shows the ballot as recorded (``ctx.has_voted``), and to the final toast event.

Step 4 runs at several concurrencies (a fresh poll each, every voter casting one ballot; at the
top level every voter submits at once). Prints connect / login / page-load / ballot round trips
(p50/p95/p99), how the sockets spread over the server's workers, server CPU, and checks that the
stored ballots equal the confirmed ones, that every voter got an answer, and that no error was
shown. Exits non-zero otherwise.

    .venv/bin/python bench/ws_ballots.py [--voters 200] [--concurrency 1,16,200] [--workers N]

Needs PostgreSQL and Redis (DATABASE_URL / REDIS_URL, defaulting to the machine's). The client
runs on the same 2-core machine as the server and takes CPU from it: the figures are a floor.
Rate limits are off in the server under test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pickle
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    NAMES,
    PASSWORD,
    BrowserClient,
    Frontend,
    Person,
    ServerProbe,
    bench_server,
    load_average,
    new_poll,
    percentile,
    seed_people,
    start_py_spy,
    state_delta,
    stop_py_spy,
    stored,
    summarize_profile,
    var,
)

HYDRATED = var("is_hydrated")


def summary(values: list[float]) -> str:
    if not values:
        return "no samples"
    ms = [v * 1000 for v in values]
    return (f"p50 {percentile(ms, 50):7.1f} ms  p95 {percentile(ms, 95):7.1f} ms  p99 {percentile(ms, 99):7.1f} ms  "
            f"max {max(ms):7.1f} ms  (n={len(ms)})")


def hydrated(update: dict) -> bool:
    return state_delta(update, NAMES.root).get(HYDRATED) is True


def vote_page_loaded(poll_id: int) -> Callable[[dict], bool]:
    """The update that ends loading the vote page of ``poll_id``."""

    def loaded(update: dict) -> bool:
        ctx = state_delta(update, NAMES.vote_state).get(var("ctx"))
        if ctx is not None and ctx.get("poll_id") != poll_id:
            raise RuntimeError(f"vote page loaded poll {ctx.get('poll_id')}, not {poll_id}")
        if ctx is not None and ctx.get("reason"):
            raise RuntimeError(f"cannot vote: {ctx['reason']}")
        return hydrated(update)

    return loaded


class Voter:
    def __init__(self, base: str, frontend: Frontend, person: Person, stored_session: bool, http: object) -> None:
        self.person = person
        self.first_poll = 0
        self.client = BrowserClient(base, frontend=frontend, credential=person.credential if stored_session else "",
                                    http_session=http)

    async def open_login(self, first_poll: str, timeout: float) -> float:
        started = time.monotonic()
        self.first_poll = first_poll
        await self.client.connect(f"/login?next=/polls/{first_poll}")
        at, _ = await self.client.wait_for(hydrated, timeout)
        return at - started

    async def open_page(self, path: str, params: dict[str, str], timeout: float) -> float:
        """Connect straight to a page (a browser with a stored session opening a link)."""
        started = time.monotonic()
        await self.client.connect(path, params)
        at, _ = await self.client.wait_for(hydrated, timeout)
        return at - started

    async def log_in(self, timeout: float) -> float:
        """The form post, then the page it sends the browser to (the first poll's vote page)."""
        start = len(self.client.updates)
        started = time.monotonic()
        await self.client.log_in(self.person.username, PASSWORD, {"poll_id": str(self.first_poll)})
        at, _ = await self.client.wait_for(vote_page_loaded(self.first_poll), timeout, start)
        return at - started

    async def go_to_vote_page(self, poll_id: str, timeout: float) -> float:
        start = len(self.client.updates)
        started = time.monotonic()
        await self.client.navigate(f"/polls/{poll_id}", {"poll_id": str(poll_id)})
        at, _ = await self.client.wait_for(vote_page_loaded(poll_id), timeout, start)
        return at - started

    async def vote(self, option_id: int, timeout: float) -> tuple[float, float]:
        """Submit the ballot form; (time to the confirming delta, time to the final toast)."""
        start = len(self.client.updates)
        started = time.monotonic()
        await self.client.emit(f"{NAMES.vote_state}.submit", {"form": {"choice": str(option_id)}})

        def confirmed(update: dict) -> bool:
            vote = state_delta(update, NAMES.vote_state)
            if vote.get(var("error")):
                raise RuntimeError(f"ballot refused: {vote[var('error')]}")
            ctx = vote.get(var("ctx"))
            return bool(ctx and ctx.get("has_voted"))

        confirmed_at, _ = await self.client.wait_for(confirmed, timeout, start)

        def toast(update: dict) -> bool:
            return any("Your vote was recorded" in str(ev.get("payload")) for ev in update.get("events") or [])

        toast_at, _ = await self.client.wait_for(toast, timeout, start)
        return confirmed_at - started, toast_at - started


def thread_times(probe: ServerProbe) -> dict[tuple[int, int], tuple[str, float]]:
    """CPU seconds of every thread of the server's processes, keyed by (pid, thread id), with a
    kind: the process's main thread (a worker's event loop), or another thread named by the
    kernel's thread name (service threads, granian's own, Redis/psycopg have none)."""
    times: dict[tuple[int, int], tuple[str, float]] = {}
    for proc in probe.processes():
        try:
            for t in proc.threads():
                if t.id == proc.pid:
                    kind = "main (event loop)"
                else:
                    try:
                        kind = Path(f"/proc/{proc.pid}/task/{t.id}/comm").read_text().strip()
                    except OSError:
                        kind = "?"
                times[(proc.pid, t.id)] = (kind, t.user_time + t.system_time)
        except psutil.Error:  # a process that went away
            continue
    return times


def thread_split(before: dict, after: dict, ballots: int) -> str:
    """Server CPU per ballot, summed by thread kind (where a ballot's CPU goes)."""
    by_kind: dict[str, float] = {}
    for key, (kind, cpu) in after.items():
        by_kind[kind] = by_kind.get(kind, 0.0) + cpu - before.get(key, (kind, 0.0))[1]
    return ", ".join(f"{kind} {cpu * 1000 / ballots:.1f} ms" for kind, cpu in sorted(by_kind.items(), key=lambda kv: -kv[1])
                     if cpu * 1000 / ballots >= 0.05)


async def gather_limited(coros, limit: int) -> list:
    semaphore = asyncio.Semaphore(limit)

    async def one(coro):
        async with semaphore:
            return await coro

    return await asyncio.gather(*(one(c) for c in coros), return_exceptions=True)


def worker_spread(redis_url: str, tokens: list[str]) -> dict[str, int]:
    """How many of the voters' sockets each server worker holds (Reflex's socket records)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    spread: dict[str, int] = {}
    try:
        for token in tokens:
            raw = client.get(f"token_manager_socket_record_{token}")
            owner = pickle.loads(raw).instance_id if raw else "(none)"
            spread[owner] = spread.get(owner, 0) + 1
    finally:
        client.close()
    return spread


async def run(bench, people, owner, args) -> int:
    import aiohttp

    timeout = args.timeout
    levels = [min(int(c), len(people)) for c in args.concurrency.split(",")]
    polls = [new_poll(bench.database_url, owner, f"ws c={level} #{i}") for i, level in enumerate(levels)]
    probe = ServerProbe(bench.server)
    problems: list[str] = []
    # No cookie jar: each voter's session cookie goes only in its own socket's handshake.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), cookie_jar=aiohttp.DummyCookieJar()) as http:
        voters = [Voter(bench.url, bench.frontend, p, args.stored_session, http) for p in people]
        first = polls[0][0]

        # 1-2: open the page and log in (setup, bounded concurrency like browsers arriving).
        cpu0 = probe.sample()
        if args.stored_session:
            opened = await gather_limited(
                [v.open_page(f"/polls/{first}", {"poll_id": str(first)}, timeout) for v in voters], args.setup_concurrency)
            logins: list = []
        else:
            opened = await gather_limited([v.open_login(first, timeout) for v in voters], args.setup_concurrency)
            logins = await gather_limited([v.log_in(timeout) for v in voters], args.setup_concurrency)
        cpu1 = probe.sample()
        failures = [r for r in opened + logins if isinstance(r, BaseException)]
        if failures:
            problems.append(f"{len(failures)} voters could not connect or log in: {failures[0]!r}")
        print(f"connect + hydrate + on_load: {summary([r for r in opened if not isinstance(r, BaseException)])}", flush=True)
        if logins:
            print(f"log in (form post + page):   {summary([r for r in logins if not isinstance(r, BaseException)])}",
                  flush=True)
        print(f"  setup took {cpu1['at'] - cpu0['at']:.1f} s, server CPU {cpu1['cpu'] - cpu0['cpu']:.1f} s", flush=True)
        spread = worker_spread(bench.redis_url, [v.client.token for v in voters])
        print(f"sockets per server worker: {sorted(spread.values(), reverse=True)} ({len(spread)} workers)", flush=True)

        rows = []
        for level, (poll_id, option_ids) in zip(levels, polls, strict=True):
            loads = await gather_limited([v.go_to_vote_page(poll_id, timeout) for v in voters], args.setup_concurrency)
            load_fail = [r for r in loads if isinstance(r, BaseException)]
            if load_fail:
                problems.append(f"c={level}: {len(load_fail)} vote pages failed to load: {load_fail[0]!r}")
            order = list(range(len(voters)))
            random.Random(level).shuffle(order)
            spy = None
            if args.profile is not None and level == levels[-1]:
                assert bench.server.process is not None
                spy = start_py_spy(bench.server.process.pid, None, args.profile, args.profile_rate)
                await asyncio.sleep(1.0)  # py-spy attaches to every worker first
            before, threads_before = probe.sample(), thread_times(probe)
            started = time.monotonic()
            results = await gather_limited(
                [voters[i].vote(option_ids[i % len(option_ids)], timeout) for i in order], level)
            elapsed = time.monotonic() - started
            after, threads_after = probe.sample(), thread_times(probe)
            if spy is not None:
                stop_py_spy(spy)
            ok = [r for r in results if not isinstance(r, BaseException)]
            bad = [r for r in results if isinstance(r, BaseException)]
            count = stored(bench.database_url, poll_id)
            row = {
                "level": level, "voters": len(voters), "confirmed": len(ok), "failed": len(bad), "stored": count,
                "ballots_per_s": len(ok) / elapsed, "confirm": [r[0] for r in ok], "toast": [r[1] for r in ok],
                "page": [r for r in loads if not isinstance(r, BaseException)],
                "server_cpu": (after["cpu"] - before["cpu"]) / (after["at"] - before["at"]),
                # Server CPU time per confirmed ballot: less sensitive to the machine's other load
                # than the rate, which is what a shared 2-core machine mostly moves.
                "cpu_ms": (after["cpu"] - before["cpu"]) * 1000 / max(len(ok), 1),
            }
            rows.append(row)
            print(f"c={level:>3}: vote page load {summary(row['page'])}", flush=True)
            print(f"c={level:>3}: ballot confirmed {summary(row['confirm'])}", flush=True)
            print(f"       final toast      {summary(row['toast'])}", flush=True)
            print(f"       {row['ballots_per_s']:.0f} ballots/s, confirmed {len(ok)}, failed {len(bad)}, stored {count}, "
                  f"server CPU {row['server_cpu']:.2f} cores ({row['cpu_ms']:.1f} ms per ballot), "
                  f"load average {load_average()}", flush=True)
            print(f"       CPU per ballot by thread: {thread_split(threads_before, threads_after, max(len(ok), 1))}", flush=True)
            if bad:
                problems.append(f"c={level}: {len(bad)} ballots not confirmed: {bad[0]!r}")
            if count != len(ok):
                problems.append(f"c={level}: stored {count} ballots but {len(ok)} were confirmed")
        await asyncio.gather(*(v.client.close() for v in voters))

    print()
    print("| concurrency | ballots/s | confirm p50 | p95 | p99 | max | toast p99 | confirmed | stored | failed | server CPU "
          "| CPU per ballot |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        c = [x * 1000 for x in r["confirm"]] or [float("nan")]
        t = [x * 1000 for x in r["toast"]] or [float("nan")]
        print(f"| {r['level']} | {r['ballots_per_s']:.0f} | {percentile(c, 50):.1f} ms | {percentile(c, 95):.1f} ms | "
              f"{percentile(c, 99):.1f} ms | {max(c):.1f} ms | {percentile(t, 99):.1f} ms | {r['confirmed']} | "
              f"{r['stored']} | {r['failed']} | {r['server_cpu']:.2f} cores | {r['cpu_ms']:.1f} ms |")
    print(f"load average after: {load_average()}")
    if args.profile is not None and args.profile.exists():
        print(f"server profile while the c={levels[-1]} ballots were cast ({args.profile}):")
        print(summarize_profile(args.profile))
    for p in problems:
        print("PROBLEM:", p)
    return 1 if problems else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--voters", type=int, default=200)
    parser.add_argument("--concurrency", default="1,16,200", help="ballots in flight at once, per level")
    parser.add_argument("--workers", type=int, default=None, help="granian workers (default: Reflex's choice)")
    parser.add_argument("--stored-session", action="store_true",
                        help="voters arrive with a credential in local storage instead of logging in")
    parser.add_argument("--setup-concurrency", type=int, default=20, help="voters connecting / logging in at once")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for any one answer")
    parser.add_argument("--profile", type=Path, default=None,
                        help="record the server with py-spy during the top level; collapsed stacks to this file")
    parser.add_argument("--profile-rate", type=int, default=50, help="py-spy samples per second (--profile)")
    parser.add_argument("--app-source", type=Path, default=None,
                        help="serve the commons_app package of this directory instead of the checkout's")
    parser.add_argument("--database", default=os.environ.get("DATABASE_URL", "postgresql://127.0.0.1:5432/test"))
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/12"))
    args = parser.parse_args()

    seeded: dict = {}

    def seed(url: str) -> None:
        print(f"seeding {args.voters} voters ...", flush=True)
        seeded["people"], seeded["owner"] = seed_people(url, args.voters, prefix="w", browser=args.stored_session)

    print(f"load average before: {load_average()}", flush=True)
    with bench_server(database=args.database, redis_url=args.redis, workers=args.workers, name="ws-ballots",
                      before_start=seed, app_source=args.app_source) as bench:
        return asyncio.run(run(bench, seeded["people"], seeded["owner"], args))


if __name__ == "__main__":
    raise SystemExit(main())
