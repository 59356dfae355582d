"""CPU per REST ballot in the app's own ASGI stack, in one process, without the HTTP server.

    DATABASE_URL=postgresql://127.0.0.1:5432/test .venv/bin/python -m bench.ballot_asgi [--voters 2000]
        [--concurrency 64] [--profile out.pstats]

A throwaway database (migrated, ``--voters`` voters with access tokens: ``rest_ballots.seed``) and
the backend as the server runs it below granian (``wrap_with_guard(create_api())``: the request
guard, the ballot's hot path, compression, FastAPI), driven by raw ASGI calls, ``--concurrency`` at
a time on one event loop, one ballot per voter. Prints the process's CPU per ballot (the
PostgreSQL server's is not in it) and, with ``--profile``, writes a cProfile of the run and prints
its top functions by own time. Checks every ballot answered 201 and was stored.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import rest_ballots  # noqa: E402  (sets SECRET_KEY and COMMONS_ENV first)
from bench.common import _migrate  # noqa: E402
from commons_app import db as db_module  # noqa: E402
from commons_app.config import get_settings  # noqa: E402

WARMUP = 50


async def _call(app, body: bytes, token: str) -> int:
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": "/api/votes/", "raw_path": b"/api/votes/", "query_string": b"", "root_path": "",
        "headers": [
            (b"host", b"bench"), (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()), (b"authorization", f"Bearer {token}".encode()),
        ],
        "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 8000),
    }
    sent = False
    status = 0

    async def receive():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)

    async def send(message):
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def _run(app, jobs: list[tuple[bytes, str]], concurrency: int) -> list[int]:
    queue = list(reversed(jobs))
    statuses: list[int] = []

    async def worker():
        while queue:
            body, token = queue.pop()
            statuses.append(await _call(app, body, token))

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return statuses


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").strip().split("\n")[0])
    parser.add_argument("--voters", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--profile", type=Path, default=None, help="write a cProfile here and print its top")
    parser.add_argument("--database", default=os.environ.get("DATABASE_URL", "postgresql://127.0.0.1:5432/test"))
    args = parser.parse_args(argv)
    os.environ["RATELIMIT_ENABLED"] = "0"
    url = rest_ballots.make_database(args.database)
    try:
        _migrate(url)
        tokens, owner = rest_ballots.seed(url, args.voters + WARMUP)
        warm_poll, warm_options = rest_ballots.new_poll(url, owner, "warm-up")
        poll_id, option_ids = rest_ballots.new_poll(url, owner, "measured")
        os.environ["DATABASE_URL"] = url
        get_settings.cache_clear()
        db_module.set_engine(None)
        from commons_app.api import app as api_module

        # (An older checkout, for before/after pairs, has no hot path in front.)
        in_front = getattr(api_module, "with_hot_paths", lambda inner: inner)
        app = in_front(api_module.wrap_with_guard(api_module.create_api()))

        def jobs(poll: str, options: list[int], chosen: list[str]) -> list[tuple[bytes, str]]:
            return [(json.dumps({"poll_id": poll, "option_id": options[i % len(options)]}).encode(), t)
                    for i, t in enumerate(chosen)]

        async def both() -> tuple[list[int], float, float]:
            await _run(app, jobs(warm_poll, warm_options, tokens[:WARMUP]), args.concurrency)
            profiler = cProfile.Profile() if args.profile else None
            cpu, wall = time.process_time(), time.perf_counter()
            if profiler:
                profiler.enable()
            statuses = await _run(app, jobs(poll_id, option_ids, tokens[WARMUP:]), args.concurrency)
            if profiler:
                profiler.disable()
                profiler.dump_stats(args.profile)
            return statuses, time.process_time() - cpu, time.perf_counter() - wall

        statuses, cpu, wall = asyncio.run(both())
        ok = statuses.count(201)
        print(f"{ok}/{len(statuses)} answered 201 at concurrency {args.concurrency}: "
              f"CPU per ballot {1000 * cpu / len(statuses):.3f} ms (this process), {len(statuses) / wall:.0f} ballots/s")
        if args.profile:
            pstats.Stats(str(args.profile)).sort_stats("tottime").print_stats(25)
        stored = rest_ballots.stored(url, poll_id)
        if ok != len(statuses) or stored != ok:
            print(f"stored {stored}, answered 201: {ok}", file=sys.stderr)
            return 1
        return 0
    finally:
        db_module.set_engine(None)
        rest_ballots.drop_database(args.database, url)


if __name__ == "__main__":
    raise SystemExit(main())
