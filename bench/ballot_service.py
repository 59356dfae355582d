"""The ballot service alone: N voters cast one ballot each through ``votes.cast_ballot``, one
after another, on a throwaway PostgreSQL database (no HTTP, no threads): what one ballot costs
the app and the database, named and anonymous.

    .venv/bin/python bench/ballot_service.py [--voters 2000] [--anonymous]

Prints the wall time and the process's CPU time per ballot. Run it from two checkouts (or two
commits) with ``farm-bench`` to compare them: the figures of one run vary with the machine's load.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(32))
os.environ["RATELIMIT_ENABLED"] = "0"

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--voters", type=int, default=2000)
    parser.add_argument("--anonymous", action="store_true", help="an anonymous poll (k = 5)")
    args = parser.parse_args()
    server = make_url(os.environ.get("DATABASE_URL", "postgresql://127.0.0.1:5432/test"))
    name = f"bench_ballots_{secrets.token_hex(4)}"
    admin = create_engine(server.set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = server.set(drivername="postgresql+psycopg", database=name).render_as_string(hide_password=False)
    os.environ["DATABASE_URL"] = url
    try:
        run(url, args.voters, args.anonymous)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


def run(url: str, voters: int, anonymous: bool) -> None:
    from alembic.config import Config
    from sqlmodel import Session

    from alembic import command
    from commons_app.db import make_engine
    from commons_app.models import User
    from commons_app.services import polls, votes
    from commons_app.services.polls import PollSpec
    from commons_app.services.votes import BallotInput

    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "alembic"))
    config.attributes["database_url"] = url
    config.attributes["configure_logging"] = False
    command.upgrade(config, "head")
    engine = make_engine(url)
    with Session(engine, expire_on_commit=False) as session:
        people = [
            User(username=f"u{i}", username_key=f"u{i}", email=f"u{i}@x.org", email_key=f"u{i}@x.org", password_hash="x")
            for i in range(voters + 1)
        ]
        session.add_all(people)
        session.commit()
        for person in people:
            session.refresh(person)
        view = polls.create_poll(
            session=session, user=people[0], spec=PollSpec(title="Bench", options=["a", "b", "c"], anonymous=anonymous)
        )
        poll_id, option_ids = view.poll.id, [o.id for o in view.options]
        session.expunge_all()
    cpu, wall = time.process_time(), time.perf_counter()
    for i, person in enumerate(people[1:]):
        with Session(engine) as session:
            votes.cast_ballot(session=session, user=person, poll_id=poll_id, ballot=BallotInput(option_id=option_ids[i % 3]))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    engine.dispose()
    kind = "anonymous" if anonymous else "named"
    print(f"{voters} {kind} ballots: {wall / voters * 1000:.3f} ms wall, {cpu / voters * 1000:.3f} ms CPU per ballot")


if __name__ == "__main__":
    main()
