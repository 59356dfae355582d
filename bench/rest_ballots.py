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
import os
import re
import secrets
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

import httpx  # noqa: E402
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


def new_poll(url: str, owner: User, label: str) -> tuple[int, list[int]]:
    engine = make_engine(url)
    with Session(engine, expire_on_commit=False) as session:
        view = polls.create_poll(session=session, user=owner, spec=PollSpec(title=label, options=["A", "B", "C", "D"]))
    engine.dispose()
    return view.poll.id, [o.id for o in view.options]  # type: ignore[return-value]


def stored(url: str, poll_id: int) -> int:
    engine = make_engine(url)
    with engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM ballots WHERE poll_id = :p"), {"p": poll_id}).scalar_one()
    engine.dispose()
    return int(count)


async def cast_all(base: str, tokens: list[str], poll_id: int, option_ids: list[int], concurrency: int) -> dict:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(len(tokens)):
        queue.put_nowait(i)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:

        async def voter() -> None:
            while True:
                try:
                    i = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                body = {"poll_id": poll_id, "option_id": option_ids[i % len(option_ids)]}
                started = time.perf_counter()
                try:
                    response = await client.post("/api/votes/", json=body, headers={"Authorization": f"Bearer {tokens[i]}"})
                    code = response.status_code
                except httpx.HTTPError:
                    code = 0
                latencies.append(time.perf_counter() - started)
                statuses[code] = statuses.get(code, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(voter() for _ in range(concurrency)))
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
    }


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
    parser.add_argument("--database", default=os.environ.get("DATABASE_URL", "postgresql://127.0.0.1:5432/test"))
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/13"))
    args = parser.parse_args()
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
            result = asyncio.run(cast_all(server.url, tokens, poll_id, option_ids, level))
            result["stored"] = stored(url, poll_id)
            rows.append(result)
            print(
                f"c={level:>3}: {result['ballots_per_s']:8.0f} ballots/s  p50 {result['p50_ms']:6.1f} ms  "
                f"p95 {result['p95_ms']:6.1f} ms  p99 {result['p99_ms']:6.1f} ms  accepted {result['accepted']}  "
                f"stored {result['stored']}  errors {result['errors']} {result['statuses']}",
                flush=True,
            )
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
