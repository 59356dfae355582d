"""REST ballots: N voters each cast one ballot through POST /api/votes/ at several concurrencies.

Starts the app in production mode (granian workers, Redis state manager) on a throwaway
PostgreSQL database, casts the ballots with an asyncio HTTP client, prints ballots/s and
p50/p95/p99 latency per concurrency, checks the stored count equals the accepted ballots, and
measures the machine's own limit with pgbench (single-row inserts at 1 and 16 clients).

    .venv/bin/python bench/rest_ballots.py [--voters 2000] [--concurrency 1,16,64] [--workers 5]

Needs PostgreSQL and Redis (DATABASE_URL / REDIS_URL, defaulting to the machine's). The client
runs on the same 2-core machine as the server, so it takes CPU from it: the figures are a floor.
Rate limits are off in the server under test (they would refuse a single client's burst).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser.servers import SERVER_SECRET_KEY, AppServer, free_port, prepare_project  # noqa: E402

os.environ["SECRET_KEY"] = SERVER_SECRET_KEY
os.environ["COMMONS_ENV"] = "production"

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.pool import NullPool  # noqa: E402
from sqlmodel import Session  # noqa: E402

from commons_app.config import get_settings, normalize_database_url  # noqa: E402
from commons_app.db import make_engine  # noqa: E402
from commons_app.models import User  # noqa: E402
from commons_app.services import auth, polls  # noqa: E402
from commons_app.services.polls import PollSpec  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def make_database(server_url: str) -> str:
    name = f"commons_bench_{secrets.token_hex(4)}"
    admin = create_engine(normalize_database_url(server_url), isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(normalize_database_url(server_url)).set(database=name).render_as_string(hide_password=False)


def drop_database(server_url: str, url: str) -> None:
    admin = create_engine(normalize_database_url(server_url), isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


def seed(url: str, voters: int) -> tuple[list[str], User]:
    """Voters stored with one shared hash, and an access token for each (no password checks)."""
    engine = make_engine(url)
    shared_hash = auth.hash_password(secrets.token_urlsafe(16))
    with Session(engine, expire_on_commit=False) as session:
        owner = User(username="owner", username_key="owner", email="owner@x.org", email_key="owner@x.org",
                     password_hash=shared_hash)
        session.add(owner)
        people = [
            User(username=f"v{i}", username_key=f"v{i}", email=f"v{i}@x.org", email_key=f"v{i}@x.org",
                 password_hash=shared_hash)
            for i in range(voters)
        ]
        session.add_all(people)
        session.commit()
        tokens = [auth.start_session(session=session, user=u).access_token for u in people]
    engine.dispose()
    return tokens, owner


def new_poll(url: str, owner: User, label: str) -> tuple[str, list[int]]:
    engine = make_engine(url)
    with Session(engine, expire_on_commit=False) as session:
        view = polls.create_poll(session=session, user=owner, spec=PollSpec(title=label, options=["A", "B", "C", "D"]))
    engine.dispose()
    return view.poll.id, [o.id for o in view.options]  # type: ignore[return-value]


def stored(url: str, poll_id: str) -> int:
    engine = make_engine(url)
    with engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM ballots WHERE poll_id = :p"), {"p": poll_id}).scalar_one()
    engine.dispose()
    return int(count)


async def _post(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    """Send one pre-encoded HTTP/1.1 request on a kept-alive connection; the response's status."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    match = re.search(rb"(?i)\r\ncontent-length: *([0-9]+)", head)
    if match:
        await reader.readexactly(int(match.group(1)))
    else:  # chunked: read to the last chunk
        while True:
            size = int((await reader.readline()).strip() or b"0", 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status


def vote_request(host: str, token: str, poll_id: str, option_id: int) -> bytes:
    body = json.dumps({"poll_id": poll_id, "option_id": option_id}, separators=(",", ":")).encode()
    return (
        f"POST /api/votes/ HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def cast_all(base: str, tokens: list[str], poll_id: str, option_ids: list[int], concurrency: int) -> dict:
    """Each of ``concurrency`` connections casts ballots back to back until every voter has voted.

    The client is a few lines of asyncio over kept-alive HTTP/1.1 connections with the requests
    encoded beforehand, so that it takes as little as possible of the 2 cores it shares with the
    server (httpx took about as much CPU per request as the server's framework)."""
    host, port = base.removeprefix("http://").split(":")
    requests = [vote_request(f"{host}:{port}", t, poll_id, option_ids[i % len(option_ids)]) for i, t in enumerate(tokens)]
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(len(tokens)):
        queue.put_nowait(i)

    # Every connection is opened before the clock starts, as a keep-alive client's pool is: the
    # first round of requests then measures the server's answer, not 64 TCP accepts at once.
    connections = [await asyncio.open_connection(host, int(port)) for _ in range(concurrency)]

    async def voter(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    i = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                started = time.perf_counter()
                try:
                    code = await asyncio.wait_for(_post(reader, writer, requests[i]), 30)
                except (TimeoutError, OSError, asyncio.IncompleteReadError):
                    code = 0
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, int(port))
                latencies.append(time.perf_counter() - started)
                statuses[code] = statuses.get(code, 0) + 1
        finally:
            writer.close()

    cpu_before = time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(voter(reader, writer) for reader, writer in connections))
    elapsed = time.perf_counter() - started
    accepted = statuses.get(201, 0)
    return {
        "concurrency": concurrency,
        "ballots_per_s": accepted / elapsed,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p95_ms": percentile(latencies, 95) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "accepted": accepted,
        "errors": sum(v for k, v in statuses.items() if k != 201),
        "statuses": statuses,
        "client_cpu_ms_per_request": (time.process_time() - cpu_before) * 1000 / max(1, len(tokens)),
    }


def cpu_seconds(pgid: int) -> dict[str, float]:
    """User + system CPU seconds so far of the server's process group ("app") and of the
    machine's PostgreSQL and Redis server processes."""
    tick = os.sysconf("SC_CLK_TCK")
    totals = {"app": 0.0, "postgres": 0.0, "redis": 0.0}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm, rest = (entry / "stat").read_text().split(" (", 1)[1].rsplit(")", 1)
        except (OSError, ValueError):
            continue
        fields = rest.split()
        used = (int(fields[11]) + int(fields[12])) / tick  # utime, stime
        if int(fields[2]) == pgid:  # the process group
            totals["app"] += used
        elif comm == "postgres":
            # cutime + cstime: the backends that exited (a closed connection's process) are
            # added to the postmaster's children's time.
            totals["postgres"] += used + (int(fields[13]) + int(fields[14])) / tick
        elif comm.startswith("redis-server"):
            totals["redis"] += used
    return totals


async def liveness_rate(base: str, concurrency: int, count: int) -> float:
    """Requests/s of GET /api/health/live: what the HTTP stack alone manages on this machine."""
    host, port = base.removeprefix("http://").split(":")
    request = f"GET /api/health/live HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    remaining = [count]

    async def one() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        while remaining[0] > 0:
            remaining[0] -= 1
            await _post(reader, writer, request)
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(concurrency)))
    return count / (time.perf_counter() - started)


def pgbench(url: str, clients: int, seconds: int = 10) -> float:
    """Transactions per second of single-row inserts, the database's own ceiling here."""
    parsed = make_url(url)
    args = ["-h", parsed.host or "127.0.0.1", "-p", str(parsed.port or 5432), "-d", parsed.database or "test"]
    if parsed.username:
        args += ["-U", parsed.username]
    subprocess.run(["psql", *args, "-qc", "CREATE TABLE IF NOT EXISTS bench_insert (id bigserial PRIMARY KEY, v int)"], check=True)
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
        script.write("INSERT INTO bench_insert (v) VALUES (1);\n")
    out = subprocess.run(
        ["pgbench", "-n", "-f", script.name, "-c", str(clients), "-j", str(min(clients, 2)), "-T", str(seconds), *args],
        check=True, capture_output=True, text=True,
    ).stdout
    match = re.search(r"tps = ([0-9.]+)", out)
    return float(match.group(1)) if match else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--voters", type=int, default=2000)
    parser.add_argument("--concurrency", default="1,16,64")
    parser.add_argument("--workers", type=int, default=None, help="granian workers (default: Reflex's choice)")
    parser.add_argument("--profile", metavar="SVG", help="record the server with py-spy during the last level (.svg: flame graph, else collapsed stacks)")
    parser.add_argument("--database", default=os.environ.get("DATABASE_URL", "postgresql://127.0.0.1:5432/test"))
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/13"))
    args = parser.parse_args()
    # Killed with TERM (a timeout, Ctrl-C from a wrapper): still stop the server and drop the database.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    levels = [int(c) for c in args.concurrency.split(",")]
    get_settings.cache_clear()

    url = make_database(args.database)
    server = None
    try:
        engine = make_engine(url)
        from alembic.config import Config

        from alembic import command

        cfg = Config(str(ROOT / "alembic.ini"))
        cfg.attributes["database_url"] = url
        cfg.attributes["configure_logging"] = False
        command.upgrade(cfg, "head")
        engine.dispose()
        print(f"seeding {args.voters} voters ...", flush=True)
        tokens, owner = seed(url, args.voters)
        project = prepare_project(Path(tempfile.mkdtemp(prefix="commons-bench-")) / "app")
        server = AppServer("bench", project, free_port(), url, redis_url=args.redis, workers=args.workers)
        print(f"starting the app (prod, Redis) on {server.url} ...", flush=True)
        server.start()
        server.wait_ready()
        rows = []
        for level in levels:
            poll_id, option_ids = new_poll(url, owner, f"bench c={level}")
            cpu_before = cpu_seconds(server.process.pid)  # type: ignore[union-attr]
            spy = None
            if args.profile and level == levels[-1]:
                spy = subprocess.Popen(
                    [str(Path(sys.executable).parent / "py-spy"), "record", "--subprocesses", "-r", "200",
                     "-o", args.profile, "--format", "flamegraph" if args.profile.endswith(".svg") else "raw", "--pid", str(server.process.pid)],  # type: ignore[union-attr]
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )
                time.sleep(2)
            result = asyncio.run(cast_all(server.url, tokens, poll_id, option_ids, level))
            if spy is not None:
                spy.send_signal(2)
                spy.wait(60)
            cpu_after = cpu_seconds(server.process.pid)  # type: ignore[union-attr]
            result["cpu_ms"] = {k: (cpu_after[k] - cpu_before[k]) * 1000 / args.voters for k in cpu_after}
            result["stored"] = stored(url, poll_id)
            rows.append(result)
            print(
                f"c={level:>3}: {result['ballots_per_s']:8.0f} ballots/s  p50 {result['p50_ms']:6.1f} ms  "
                f"p95 {result['p95_ms']:6.1f} ms  p99 {result['p99_ms']:6.1f} ms  accepted {result['accepted']}  "
                f"stored {result['stored']}  errors {result['errors']} {result['statuses']}  "
                "CPU ms per ballot: " + ", ".join(f"{k} {v:.2f}" for k, v in result["cpu_ms"].items())
                + f", client {result['client_cpu_ms_per_request']:.2f}",
                flush=True,
            )
        for level in levels:
            rate = asyncio.run(liveness_rate(server.url, level, 4000))
            print(f"GET /api/health/live (HTTP stack only), c={level:>3}: {rate:8.0f} requests/s", flush=True)
        for clients in (1, 16):
            print(f"pgbench single-row inserts, {clients:>2} clients: {pgbench(url, clients):8.0f} tps", flush=True)
        durable = all(r["stored"] == r["accepted"] for r in rows)
        print("every accepted ballot stored:", durable)
        return 0 if durable else 1
    finally:
        if server is not None:
            server.stop()
        drop_database(args.database, url)


if __name__ == "__main__":
    raise SystemExit(main())
