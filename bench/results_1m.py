"""Single-choice results of a poll with 1,000,000 ballots on PostgreSQL: from the kept counts
(what the app does), from a GROUP BY over the ballots, and from loading every ballot (what the
app did before the counts).

    .venv/bin/python bench/results_1m.py [--ballots 1000000] [--repeat 30]

Builds a throwaway database on the machine's PostgreSQL (DATABASE_URL), fills it with
``generate_series`` (1,000,000 users and ballots over 8 options, 4% of them weighted 2 or 0.5),
reconciles the counts from the ballots, then times ``results.poll_results`` (the service the API,
the results page and the live updates call, permission check included) and prints median, p95
and minimum per variant. Exits non-zero if the three variants disagree.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402
from sqlmodel import Session  # noqa: E402

from bench.rest_ballots import drop_database, make_database, percentile  # noqa: E402
from commons_app.db import make_engine  # noqa: E402
from commons_app.models import Poll, User  # noqa: E402
from commons_app.services import counts, results  # noqa: E402

POLL = secrets.token_urlsafe(16)  # the one poll's opaque id


def build(url: str, ballots: int) -> None:
    from alembic.config import Config

    from alembic import command

    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.attributes["database_url"] = url
    cfg.attributes["configure_logging"] = False
    command.upgrade(cfg, "head")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO users (username, username_key, email, email_key, password_hash, role, is_active, "
            "created_at, updated_at) SELECT 'u' || i, 'u' || i, 'u' || i || '@x.org', 'u' || i || '@x.org', 'x', "
            "'member', true, now(), now() FROM generate_series(1, :n) AS i"
        ), {"n": ballots})
        conn.execute(text(
            "INSERT INTO polls (id, join_code, title, description, created_by, method, visibility, results_visibility, "
            "anonymous, created_at, updated_at) VALUES (:p, 'MANYBALT', 'A million ballots', '', 1, 'single', 'public', "
            "'live', false, now(), now())"
        ), {"p": POLL})
        conn.execute(text(
            "INSERT INTO poll_options (poll_id, text, position) SELECT :p, 'Option ' || k, k FROM generate_series(0, 7) AS k"
        ), {"p": POLL})
        # Skewed choices (option k with falling frequency), weights 2 and 0.5 on 4% of the ballots.
        conn.execute(text(
            "INSERT INTO ballots (poll_id, user_id, option_id, choices, scores, weight, receipt, created_at, updated_at) "
            "SELECT :p, i, o.id, json_build_array(o.id), '{}', "
            "CASE WHEN i % 50 = 0 THEN 2.0 WHEN i % 50 = 1 THEN 0.5 ELSE 1.0 END, md5(i::text), now(), now() "
            "FROM generate_series(1, :n) AS i "
            "JOIN poll_options o ON o.poll_id = :p AND o.position = floor(8 * power((i * 0.6180339887) % 1, 2))::int"
        ), {"n": ballots, "p": POLL})
        conn.execute(text("ANALYZE"))
    with Session(engine, expire_on_commit=False) as session:
        counts.rebuild(session=session, poll_id=POLL)
        session.commit()
    engine.dispose()


def timed(fn, repeat: int) -> tuple[list[float], object]:
    values, outcome = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        outcome = fn()
        values.append((time.perf_counter() - started) * 1000)
    return values, outcome


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ballots", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--database", default=os.environ.get("DATABASE_URL", "postgresql://127.0.0.1:5432/test"))
    args = parser.parse_args()
    # Killed with TERM (a timeout, Ctrl-C from a wrapper): still stop the server and drop the database.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    url = make_database(args.database)
    try:
        started = time.perf_counter()
        build(url, args.ballots)
        print(f"built {args.ballots:,} ballots in {time.perf_counter() - started:.1f} s", flush=True)
        engine = make_engine(url)
        with Session(engine, expire_on_commit=False) as session:
            viewer = session.get(User, 2)
            poll = session.get(Poll, POLL)
            assert viewer is not None and poll is not None
            kept = results.poll_results(session=session, user=viewer, poll_id=POLL)  # warm up
            variants = {
                "counts (the app)": lambda: results.poll_results(session=session, user=viewer, poll_id=POLL),
                "GROUP BY over the ballots": lambda: results._poll_results(
                    poll, results.options_of(session=session, poll_id=POLL),
                    results.tally_single_counts(
                        [o.id for o in results.options_of(session=session, poll_id=POLL)],  # type: ignore[misc]
                        counts.counted_from_ballots(session=session, poll_id=POLL),
                    ),
                ),
                "every ballot loaded and tallied (before)": lambda: results.compute_results(
                    session=session, poll=poll, use_counts=False
                ),
            }
            outcomes = {}
            for name, fn in variants.items():
                repeat = args.repeat if "before" not in name else max(3, args.repeat // 10)
                values, outcomes[name] = timed(fn, repeat)
                print(
                    f"{name:42s} median {percentile(values, 50):9.2f} ms  p95 {percentile(values, 95):9.2f} ms  "
                    f"min {min(values):9.2f} ms  ({repeat} runs)",
                    flush=True,
                )
        engine.dispose()
        same = len({repr(o.as_dict()) for o in outcomes.values()}) == 1  # type: ignore[attr-defined]
        print(f"total ballots {kept.total_ballots:,}, winner option {kept.winners}; all variants agree: {same}")
        return 0 if same else 1
    finally:
        drop_database(args.database, url)


if __name__ == "__main__":
    raise SystemExit(main())
