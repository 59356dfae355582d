"""CPU per REST ballot of the service path (token check + ``votes.record_ballot``), one thread.

    .venv/bin/python -m bench.ballot_cpu [--voters 400] [--compare-pre-ping]

A throwaway PostgreSQL database (``DATABASE_URL``'s server) migrated to head, ``--voters`` voters
with access tokens; each casts one single-choice ballot through exactly what ``POST /api/votes/``
runs in its worker thread: a session, ``auth.identify``, ``votes.record_ballot``. The figure is
``time.thread_time()`` per ballot: the CPU this thread spent, not the wait for PostgreSQL, so it
moves far less with other load on the machine than a rate does (it still grows with contention:
compare only runs taken together). The first 50 ballots are not counted (connections, caches).

``--compare-pre-ping`` casts every voter's ballot twice, alternating ballot by ballot on two polls:
once on the app's engine and once on an engine that pings each connection at checkout
(``pool_pre_ping``, what the app did before), and prints both and their ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

os.environ["RATELIMIT_ENABLED"] = "0"  # one client casting many ballots: the limits would refuse it

from sqlalchemy import create_engine  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402
from sqlmodel import Session  # noqa: E402

from bench import rest_ballots  # noqa: E402  (sets SECRET_KEY and COMMONS_ENV first)
from bench.common import _migrate  # noqa: E402
from commons_app.config import get_settings, normalize_database_url  # noqa: E402
from commons_app.db import make_engine  # noqa: E402
from commons_app.services import auth, votes  # noqa: E402
from commons_app.services.votes import BallotInput  # noqa: E402

WARMUP = 50


def cast(engine: Engine, token: str, poll_id: str, option_id: int) -> float:
    """One ballot as the API route casts it; the thread's CPU seconds it took."""
    started = time.thread_time()
    with Session(engine, expire_on_commit=False) as db:
        user = auth.identify(session=db, token=token).user
        votes.record_ballot(session=db, user=user, poll_id=poll_id, ballot=BallotInput(option_id=option_id))
    return time.thread_time() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").strip().split("\n")[0])
    parser.add_argument("--voters", type=int, default=400)
    parser.add_argument("--compare-pre-ping", action="store_true",
                        help="also cast on an engine with pool_pre_ping, alternating, and print the ratio")
    parser.add_argument("--database", default=os.environ.get("DATABASE_URL", "postgresql://127.0.0.1:5432/test"))
    args = parser.parse_args(argv)
    if args.voters <= WARMUP:
        parser.error(f"--voters must be more than {WARMUP}")
    get_settings.cache_clear()
    url = rest_ballots.make_database(args.database)
    engines = {}
    try:
        _migrate(url)
        tokens, owner = rest_ballots.seed(url, args.voters)
        engines["app"] = make_engine(url, pool_size=2, max_overflow=0)
        if args.compare_pre_ping:
            engines["pre-ping"] = create_engine(
                normalize_database_url(url), pool_pre_ping=True, pool_size=2, max_overflow=0, pool_timeout=10
            )
        polls = {name: rest_ballots.new_poll(url, owner, f"ballot cpu {name}") for name in engines}
        spent: dict[str, list[float]] = {name: [] for name in engines}
        for i, token in enumerate(tokens):
            for name, engine in engines.items():
                poll_id, option_ids = polls[name]
                seconds = cast(engine, token, poll_id, option_ids[i % len(option_ids)])
                if i >= WARMUP:
                    spent[name].append(seconds)
        for name, values in spent.items():
            print(f"{name:>8}: CPU per ballot mean {1000 * statistics.fmean(values):.3f} ms, median "
                  f"{1000 * statistics.median(values):.3f} ms ({len(values)} ballots)")
        if args.compare_pre_ping:
            ratio = statistics.fmean(spent["app"]) / statistics.fmean(spent["pre-ping"])
            print(f"app / pre-ping: {ratio:.3f}")
        for name, (poll_id, _) in polls.items():
            if rest_ballots.stored(url, poll_id) != len(tokens):
                print(f"{name}: stored ballots differ from the {len(tokens)} cast", file=sys.stderr)
                return 1
        return 0
    finally:
        for engine in engines.values():
            engine.dispose()
        rest_ballots.drop_database(args.database, url)


if __name__ == "__main__":
    raise SystemExit(main())
