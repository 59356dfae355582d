"""REST ballots side by side with the machine's own reference figures, in one run.

    .venv/bin/python -m bench.side_by_side [--voters 1500] [--concurrency 1,16,64] [--json]

1. **The app**: a throwaway PostgreSQL database, migrated, ``--voters`` voters with API tokens
   (``bench/rest_ballots.py``'s seeding), and the app in production mode with 2 granian workers
   and the Redis state manager, started as ``deploy/`` starts an instance (``reflex run --env
   prod --backend-only``: the API is the same, and no frontend build is waited for; ``--with-pages``
   builds and serves the pages too, as ``bench/rest_ballots.py`` does). At each concurrency, that
   many kept-alive HTTP/1.1 connections cast one ballot per voter on a fresh poll with
   ``rest_ballots.cast_all``'s client (pre-encoded requests over raw asyncio streams, so that the
   client is not the bottleneck: its own CPU per request is reported), then the ballots stored in
   the database are counted.
2. **A minimal ASGI app** (``bench/minimal_app.py``: one ``INSERT`` per request, no framework)
   under granian with the same workers, driven by the same client with the same requests.
3. **PostgreSQL alone**: pgbench single-row inserts (a one-table script) at the same
   concurrencies, in a second throwaway database, which also holds the minimal app's table.

Prints ballots/s, p50/p95/p99, errors and stored == accepted per row, and the CPU each request
cost the server's processes and PostgreSQL (from /proc); ``--json`` prints one JSON document
instead (progress goes to stderr). Exit status 1 when a run had errors or lost a ballot.
Everything runs on the same machine: the client and PostgreSQL share its cores with the server,
so the load average is printed before and after; figures from a loaded machine are not the app's.
A smoke run: ``--voters 30 --concurrency 1,4 --pgbench-seconds 1`` (under a minute).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# rest_ballots sets SECRET_KEY / COMMONS_ENV for the services used to seed before they are imported.
import httpx  # noqa: E402
import psycopg  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench import rest_ballots  # noqa: E402
from bench.common import _migrate, load_average, source_version  # noqa: E402
from bench.minimal_app import TABLE_DDL  # noqa: E402
from commons_app.config import get_settings  # noqa: E402
from tests.browser.servers import VENV_BIN, AppServer, free_port, prepare_project  # noqa: E402

BENCH_PORTS = range(3300, 3400)
WORKERS = 2


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class BackendServer(AppServer):
    """The app as one ``deploy/`` instance runs it: ``reflex run --env prod --backend-only``."""

    def start(self) -> None:
        self.started_at = time.monotonic()
        with self.log_path.open("a") as log:
            self.process = subprocess.Popen(
                [str(VENV_BIN / "reflex"), "run", "--env", "prod", "--backend-only", "--backend-port", str(self.port),
                 "--backend-host", "127.0.0.1"],
                cwd=self.project, env=self.env(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def wait_ready(self, timeout: float = 240.0) -> None:
        _wait_http(self, f"{self.url}/api/health", timeout)
        self.ready_after = time.monotonic() - self.started_at


class MinimalServer(AppServer):
    """``bench/minimal_app.py`` under granian (its own process group, like the app's)."""

    def env(self) -> dict[str, str]:
        env = super().env()
        env["MINIMAL_DATABASE_URL"] = _psycopg_url(self.database_url)
        env["PYTHONPATH"] = str(ROOT)
        return env

    def start(self) -> None:
        self.started_at = time.monotonic()
        with self.log_path.open("a") as log:
            self.process = subprocess.Popen(
                [str(VENV_BIN / "granian"), "--interface", "asgi", "--workers", str(self.workers or WORKERS),
                 "--host", "127.0.0.1", "--port", str(self.port), "bench.minimal_app:app"],
                cwd=ROOT, env=self.env(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def wait_ready(self, timeout: float = 60.0) -> None:
        _wait_http(self, self.url, timeout)
        self.ready_after = time.monotonic() - self.started_at


def _wait_http(server: AppServer, url: str, timeout: float) -> None:
    assert server.process is not None
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=5) as client:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise RuntimeError(f"{server.name} exited with {server.process.returncode}:\n{server.tail()}")
            try:
                if client.get(url).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
    raise RuntimeError(f"{server.name} not ready after {timeout:.0f} s:\n{server.tail()}")


def _psycopg_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _count(url: str, sql: str, params: tuple[Any, ...]) -> int:
    with psycopg.connect(_psycopg_url(url), autocommit=True) as conn:
        row = conn.execute(sql, params).fetchone()
    return int(row[0]) if row else 0


def run_levels(server: AppServer, levels: list[int], tokens: list[str], warmup: list[str],
               target: Callable[[int], tuple[str, list[int], Callable[[], int]]],
               profile: str | None = None) -> list[dict[str, Any]]:
    """Cast one ballot per token at each concurrency; ``target(level)`` gives the poll id, its option
    ids and how to count what was stored for it. The ``warmup`` tokens vote first, unmeasured.
    ``profile``: record the server's processes with py-spy during the last level (collapsed stacks)."""
    rows = []
    assert server.process is not None
    if warmup:
        # Not measured: the first requests of each worker open connections and fill caches. They
        # come as many at once as the highest level, so that each worker's pool has opened the
        # connections that level needs (otherwise its first round waited for them: up to ~130 ms).
        poll_id, option_ids, _ = target(0)
        asyncio.run(rest_ballots.cast_all(server.url, warmup, poll_id, option_ids, min(len(warmup), max(levels))))
    for level in levels:
        poll_id, option_ids, count_stored = target(level)
        spy = None
        if profile and level == levels[-1]:
            spy = subprocess.Popen(
                [str(VENV_BIN / "py-spy"), "record", "--subprocesses", "-r", "200", "-o", profile, "--format", "raw",
                 "--pid", str(server.process.pid)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            time.sleep(2)
        cpu_before = rest_ballots.cpu_seconds(server.process.pid)
        row = asyncio.run(rest_ballots.cast_all(server.url, tokens, poll_id, option_ids, level))
        cpu_after = rest_ballots.cpu_seconds(server.process.pid)
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(60)
        row["statuses"] = {str(k): v for k, v in row["statuses"].items()}
        row["server_cpu_ms_per_request"] = (cpu_after["app"] - cpu_before["app"]) * 1000 / len(tokens)
        row["postgres_cpu_ms_per_request"] = (cpu_after["postgres"] - cpu_before["postgres"]) * 1000 / len(tokens)
        row["stored"] = count_stored()
        row["stored_equals_accepted"] = row["stored"] == row["accepted"]
        rows.append(row)
        _log(f"  {format_row(row)}")
    return rows


def format_row(row: dict[str, Any]) -> str:
    return (
        f"c={row['concurrency']:>3}: {row['ballots_per_s']:7.0f}/s  p50 {row['p50_ms']:7.1f}  "
        f"p95 {row['p95_ms']:7.1f}  p99 {row['p99_ms']:7.1f} ms  errors {row['errors']}  "
        f"accepted {row['accepted']} stored {row['stored']} ({'equal' if row['stored_equals_accepted'] else 'DIFFERENT'})  "
        f"CPU ms/request: server {row['server_cpu_ms_per_request']:.2f}, PostgreSQL "
        f"{row['postgres_cpu_ms_per_request']:.2f}, client {row['client_cpu_ms_per_request']:.2f}"
    )


def bench_app(args: argparse.Namespace, levels: list[int]) -> tuple[list[dict[str, Any]], list[str]]:
    """The app's rows, and the voters' tokens (the minimal app is sent the same requests)."""
    url = rest_ballots.make_database(args.database)
    server: AppServer | None = None
    try:
        _migrate(url)
        _log(f"app: seeding {args.voters} voters ...")
        everyone, owner = rest_ballots.seed(url, args.voters + args.warmup)
        tokens, warmup = everyone[:args.voters], everyone[args.voters:]
        project = prepare_project(Path(tempfile.mkdtemp(prefix="commons-side-by-side-")) / "app")
        kind = AppServer if args.with_pages else BackendServer
        server = kind("side-by-side", project, free_port(BENCH_PORTS), url, redis_url=args.redis, workers=WORKERS)
        _log(f"app: starting ({'with pages' if args.with_pages else 'backend only'}, {WORKERS} granian workers) "
             f"on {server.url}; log {server.log_path}")
        server.start()
        server.wait_ready(timeout=400)
        _log(f"app: ready after {server.ready_after:.0f} s")

        def target(level: int) -> tuple[str, list[int], Callable[[], int]]:
            poll_id, option_ids = rest_ballots.new_poll(url, owner, f"side by side c={level}")
            return poll_id, option_ids, lambda: _count(url, "SELECT count(*) FROM ballots WHERE poll_id = %s", (poll_id,))

        return run_levels(server, levels, tokens, warmup, target, args.profile), everyone
    finally:
        if server is not None:
            server.stop()
            shutil.rmtree(server.project.parent, ignore_errors=True)
        rest_ballots.drop_database(args.database, url)


def bench_reference(args: argparse.Namespace, levels: list[int],
                    everyone: list[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The minimal app's rows and pgbench's, on a second throwaway database; ``everyone``: the app's
    tokens, voters then warm-up."""
    url = rest_ballots.make_database(args.database)
    server: MinimalServer | None = None
    try:
        with psycopg.connect(_psycopg_url(url), autocommit=True) as conn:
            conn.execute(TABLE_DDL)
        server = MinimalServer("side-by-side-minimal", ROOT, free_port(BENCH_PORTS), url, workers=WORKERS)
        _log(f"minimal ASGI app: starting ({WORKERS} granian workers) on {server.url}; log {server.log_path}")
        server.start()
        server.wait_ready()
        # Same client, same requests (the tokens are sent and ignored), each level on its own poll id.

        def target(level: int) -> tuple[str, list[int], Callable[[], int]]:
            poll_id = f"minimal-c{level}-{secrets.token_hex(4)}"
            return poll_id, [1, 2, 3, 4], lambda: _count(
                url, "SELECT count(*) FROM minimal_ballots WHERE poll_id = %s", (poll_id,))

        minimal = run_levels(server, levels, everyone[:args.voters], everyone[args.voters:], target)
        server.stop()
        server = None
        pgbench_rows = []
        os.environ.setdefault("PGOPTIONS", "-c client_min_messages=warning")  # psql's "already exists" NOTICE
        for clients in levels:
            tps = rest_ballots.pgbench(url, clients, seconds=args.pgbench_seconds)
            pgbench_rows.append({"clients": clients, "tps": tps})
            _log(f"  pgbench single-row inserts, {clients:>3} clients: {tps:8.0f} tps")
        return minimal, pgbench_rows
    finally:
        if server is not None:
            server.stop()
        rest_ballots.drop_database(args.database, url)


def render(report: dict[str, Any]) -> str:
    lines = [
        f"REST ballots side by side: {report['voters']} voters, one ballot each (after {report['warmup']} "
        f"unmeasured), {WORKERS} granian workers; "
        f"code {report['code']}",
        f"load average (1/5/15 min): before {report['load_average_before']}, after {report['load_average_after']} "
        f"on {report['cpus']} CPUs",
        "",
        "The Commons, POST /api/votes/:",
        *(f"  {format_row(r)}" for r in report["app"]),
        "Minimal ASGI app, one INSERT per request:",
        *(f"  {format_row(r)}" for r in report["minimal"]),
        "PostgreSQL alone, pgbench single-row inserts:",
        *(f"  c={r['clients']:>3}: {r['tps']:7.0f} tps" for r in report["pgbench"]),
        "",
        f"no errors and every accepted ballot stored: {report['ok']}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").strip().split("\n")[0])
    parser.add_argument("--voters", type=int, default=1500, help="voters, one ballot each, per run (default 1500)")
    parser.add_argument("--concurrency", default="1,16,64", help="comma-separated concurrencies (default 1,16,64)")
    parser.add_argument("--warmup", type=int, default=200,
                        help="extra voters who vote first on a poll of their own, as many at once as the highest "
                        "concurrency, not measured (default 200)")
    parser.add_argument("--pgbench-seconds", type=int, default=10, help="length of each pgbench run (default 10)")
    parser.add_argument("--with-pages", action="store_true",
                        help="start the app with its pages built (reflex run --single-port), as rest_ballots.py does")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of the table")
    parser.add_argument("--profile", default=None, metavar="FILE",
                        help="py-spy record of the app's processes during its last level (collapsed stacks)")
    parser.add_argument("--database", default=os.environ.get("DATABASE_URL", "postgresql://127.0.0.1:5432/test"),
                        help="PostgreSQL server (throwaway databases are made on it)")
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/13"))
    args = parser.parse_args(argv)
    levels = [int(c) for c in args.concurrency.split(",") if c.strip()]
    if args.voters < 1 or args.warmup < 0 or not levels or min(levels) < 1:
        parser.error("--voters and every --concurrency must be at least 1, --warmup at least 0")
    # Killed with TERM: still stop the servers and drop the databases (the finally blocks).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    get_settings.cache_clear()
    report: dict[str, Any] = {
        "code": source_version(), "voters": args.voters, "warmup": args.warmup, "concurrency": levels, "workers": WORKERS,
        "cpus": os.cpu_count(), "load_average_before": load_average(),
    }
    report["app"], tokens = bench_app(args, levels)
    report["minimal"], report["pgbench"] = bench_reference(args, levels, tokens)
    report["load_average_after"] = load_average()
    report["ok"] = all(r["errors"] == 0 and r["stored_equals_accepted"] for r in report["app"] + report["minimal"])
    print(json.dumps(report, indent=2) if args.json else render(report), flush=True)
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
