"""``python -m bench.side_by_side`` in its smallest form, against the real PostgreSQL and Redis.

It starts the app (2 granian workers) and the minimal ASGI app, casts 30 ballots at concurrency
1 and 4 through each, runs pgbench for a second per level, and its JSON must add up: every
request answered 201, no errors, the ballots counted in the database equal to the accepted ones,
percentiles in order, and a figure for every reference row. About 50 s on the 2-core machine.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from tests.conftest import PROJECT_ROOT, TARGET_REDIS_URL, postgres_server_url, unavailable

VOTERS = 30
LEVELS = [1, 4]


@pytest.mark.slow
def test_smallest_side_by_side_run_is_consistent() -> None:
    database = postgres_server_url()
    if not TARGET_REDIS_URL:
        unavailable("no Redis server: REDIS_URL is not set")
    if shutil.which("pgbench") is None:
        unavailable("pgbench is not installed (Debian: the postgresql server package)")
    done = subprocess.run(
        [sys.executable, "-m", "bench.side_by_side", "--voters", str(VOTERS), "--warmup", "6",
         "--concurrency", ",".join(map(str, LEVELS)), "--pgbench-seconds", "1", "--json",
         "--database", database, "--redis", str(TARGET_REDIS_URL)],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=240,
    )
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    report = json.loads(done.stdout)

    assert report["ok"] is True
    assert report["voters"] == VOTERS and report["concurrency"] == LEVELS and report["workers"] == 2
    assert report["load_average_before"] and report["load_average_after"]
    for name in ("app", "minimal"):
        rows = report[name]
        assert [r["concurrency"] for r in rows] == LEVELS, name
        for row in rows:
            where = f"{name} c={row['concurrency']}"
            assert row["statuses"] == {"201": VOTERS}, where
            assert row["accepted"] == VOTERS and row["errors"] == 0, where
            assert row["stored"] == row["accepted"] and row["stored_equals_accepted"] is True, where
            assert 0 < row["p50_ms"] <= row["p95_ms"] <= row["p99_ms"], where
            assert row["ballots_per_s"] > 0, where
            assert row["client_cpu_ms_per_request"] > 0, where
    assert [r["clients"] for r in report["pgbench"]] == LEVELS
    assert all(r["tps"] > 0 for r in report["pgbench"])
