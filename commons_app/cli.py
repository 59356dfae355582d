"""Operator commands: migrate, create-admin, seed-demo, set-role, check-config."""

from __future__ import annotations

import argparse
import getpass
import os
import random
import sys
from datetime import timedelta

from sqlmodel import Session, select

from commons_app.config import PROJECT_ROOT, ConfigError, get_settings
from commons_app.db import get_engine
from commons_app.models import Poll, User, utcnow
from commons_app.services import auth, polls, votes
from commons_app.services.errors import ServiceError
from commons_app.services.polls import PollSpec, RollEntry
from commons_app.services.votes import BallotInput

DEMO_PASSWORD = "commons-demo-2026"
DEMO_USERS = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"]


def migrate() -> None:
    """Bring the database schema to the newest revision (run once per deploy, not per worker)."""
    from alembic.config import Config

    from alembic import command

    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    command.upgrade(cfg, "head")


def create_admin(username: str, email: str, password: str | None) -> int:
    """Create an admin account; the first account made this way is the operator's."""
    password = password or os.environ.get("COMMONS_ADMIN_PASSWORD") or getpass.getpass("Password: ")
    with Session(get_engine(), expire_on_commit=False) as session:
        user = auth.register_user(session=session, username=username, email=email, password=password, role="admin")
    print(f"created admin {user.username} (id {user.id})")
    return 0


def set_role(username: str, role: str) -> int:
    """Give an existing account a role (operator's back door when no admin can log in)."""
    with Session(get_engine(), expire_on_commit=False) as session:
        user = auth.find_user_by_username(session=session, username=username)
        if user is None:
            print(f"no user {username!r}", file=sys.stderr)
            return 1
        user.role = role
        session.add(user)
        session.commit()
    print(f"{username} is now {role}")
    return 0


def seed_demo() -> int:
    """Add demo users, polls and ballots, once (a second run changes nothing)."""
    rng = random.Random(2026)
    with Session(get_engine(), expire_on_commit=False) as session:
        if session.exec(select(User).where(User.username_key == "admin")).first() is not None:
            print("demo data already present")
            return 0
        admin = auth.register_user(
            session=session, username="admin", email="admin@example.org", password=DEMO_PASSWORD, role="admin"
        )
        people = [
            auth.register_user(session=session, username=name, email=f"{name}@example.org", password=DEMO_PASSWORD)
            for name in DEMO_USERS
        ]
        now = utcnow()
        specs = [
            (people[0], PollSpec(
                title="Where should the spring retreat be held?",
                description="Pick one place; the retreat is in April.",
                options=["Lakeside cabins", "Mountain lodge", "City hostel", "Stay home, order pizza"],
            )),
            (people[1], PollSpec(
                title="Which features should we build next?",
                description="Approve every feature you would use.",
                options=["Dark mode", "Calendar export", "Email reminders", "Mobile app", "Comments"],
                method="approval",
            )),
            (people[2], PollSpec(
                title="Community garden: what to plant first",
                description="Rank the crops; instant runoff decides.",
                options=["Tomatoes", "Beans", "Squash", "Herbs", "Sunflowers"],
                method="irv",
            )),
            (admin, PollSpec(
                title="Board election 2026",
                description="Rank the candidates (Schulze method). Members only.",
                options=["Ana Ortiz", "Ben Okafor", "Chen Wei", "Dana Novak"],
                method="schulze",
                visibility="private",
            )),
            (people[3], PollSpec(
                title="Rate the new logo proposals",
                options=["Leaf", "Circle of hands", "Village green"],
                method="star",
                closes_at=now + timedelta(days=7),
            )),
        ]
        created = [polls.create_poll(session=session, user=owner, spec=spec) for owner, spec in specs]
        polls.set_roll(
            session=session, user=admin, poll_id=created[3].poll.id,  # type: ignore[arg-type]
            voters=[RollEntry(u.username, 2.0 if i == 0 else 1.0) for i, u in enumerate(people[:6])],
        )
        for view in created:
            ids = [o.id for o in view.options]
            for voter in people[:6]:
                ballot = _demo_ballot(view.poll, ids, rng)
                try:
                    votes.cast_ballot(session=session, user=voter, poll_id=view.poll.id, ballot=ballot)  # type: ignore[arg-type]
                except ServiceError as exc:
                    print(f"skipped a demo ballot: {exc.message}", file=sys.stderr)
    print(f"seeded demo data: users admin and {', '.join(DEMO_USERS)}, password {DEMO_PASSWORD!r}")
    return 0


def _demo_ballot(poll: Poll, ids: list[int], rng: random.Random) -> BallotInput:
    if poll.method == "single":
        return BallotInput(option_id=rng.choice(ids))
    if poll.method == "approval":
        return BallotInput(option_ids=rng.sample(ids, rng.randint(1, len(ids))))
    if poll.method in {"irv", "schulze", "borda"}:
        return BallotInput(ranking=rng.sample(ids, rng.randint(2, len(ids))))
    return BallotInput(scores={str(i): rng.randint(0, 5) for i in ids})


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m commons_app``."""
    parser = argparse.ArgumentParser(prog="python -m commons_app", description="The Commons: operator commands")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply database migrations (alembic upgrade head)")
    p_admin = sub.add_parser("create-admin", help="create an administrator account")
    p_admin.add_argument("username")
    p_admin.add_argument("email")
    p_admin.add_argument("--password", help="or COMMONS_ADMIN_PASSWORD, or asked for")
    p_role = sub.add_parser("set-role", help="set an account's role")
    p_role.add_argument("username")
    p_role.add_argument("role", choices=["admin", "member"])
    sub.add_parser("seed-demo", help="add demo users, polls and ballots (idempotent)")
    sub.add_parser("check-config", help="load the settings and report problems")
    args = parser.parse_args(argv)
    try:
        if args.command == "migrate":
            migrate()
            return 0
        if args.command == "create-admin":
            return create_admin(args.username, args.email, args.password)
        if args.command == "set-role":
            return set_role(args.username, args.role)
        if args.command == "seed-demo":
            return seed_demo()
        if args.command == "check-config":
            settings = get_settings()
            print(f"environment={settings.environment} database={settings.database_url.split('@')[-1]} redis={'set' if settings.redis_url else 'not set'}")
            return 0
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    except ServiceError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    return 1
