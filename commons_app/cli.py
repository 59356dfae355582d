"""Operator commands: migrate, create-admin, seed-demo, set-role, check-config, recount, worker."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import random
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlmodel import Session, select

from commons_app import methods
from commons_app.config import PROJECT_ROOT, ConfigError, get_settings
from commons_app.db import get_engine
from commons_app.models import Poll, User, utcnow
from commons_app.services import auth, polls, votes
from commons_app.services.errors import ServiceError
from commons_app.services.polls import PollSpec, RollEntry
from commons_app.services.record import parse_record, record_digest, tally_record
from commons_app.services.tally import TallyResult
from commons_app.services.tally.notes import render_note
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
        user = auth.register_user(
            session=session, username=username, email=email, password=password, role="admin", allow_reserved=True
        )
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
    """Add demo users, polls and ballots, once (a second run changes nothing). Refused in
    production: the demo admin's password is published in the README."""
    if get_settings().is_production:
        print(
            "seed-demo refuses to run with COMMONS_ENV=production: it would create an admin account whose "
            "password is published; use create-admin instead",
            file=sys.stderr,
        )
        return 2
    rng = random.Random(2026)
    with Session(get_engine(), expire_on_commit=False) as session:
        if session.exec(select(User).where(User.username_key == "admin")).first() is not None:
            print("demo data already present")
            return 0
        admin = auth.register_user(
            session=session, username="admin", email="admin@example.org", password=DEMO_PASSWORD, role="admin",
            allow_reserved=True,
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
            (people[4], PollSpec(
                title="Anonymous: should membership dues go up next year?",
                description="A secret ballot: nobody, not even the organisers, can see how you voted.",
                options=["Yes", "No", "Abstain"],
                anonymous=True,
            )),
            (admin, PollSpec(
                title="Elect two delegates to the regional assembly",
                description="Single transferable vote, two seats: rank as many candidates as you like.",
                options=["Ana Ortiz", "Ben Okafor", "Chen Wei", "Dana Novak", "Eli Haddad"],
                method="stv",
                seats=2,
            )),
            (people[2], PollSpec(
                title="Adopt the new community-garden rules?",
                description="Passes only with two thirds of the ballots, and counts only with at least four.",
                options=["Yes", "No"],
                quorum_ballots=4,
                pass_rule="two_thirds",
            )),
            (people[5], PollSpec(
                title="Which name for the newsletter?",
                description="Closed: its result is sealed and its ballot record published.",
                options=["The Commons Post", "Village Voice", "Green Sheet"],
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
        polls.close_poll(session=session, user=people[5], poll_id=created[-1].poll.id)  # type: ignore[arg-type]
    print(f"seeded demo data: users admin and {', '.join(DEMO_USERS)}, password {DEMO_PASSWORD!r}")
    return 0


def _demo_ballot(poll: Poll, ids: list[int], rng: random.Random) -> BallotInput:
    kind = methods.get(poll.method).ballot
    return BallotInput(**{kind.field: kind.random_value(ids, rng)})  # type: ignore[misc]


class RecountInputError(ValueError):
    """A record or results file the recount cannot use (exit code 2)."""


def _method_for_field(field: str) -> str | None:
    """The method a record's field names outright: only where one method takes that field."""
    taking = [m.name for m in methods.all_methods() if m.field == field]
    return taking[0] if len(taking) == 1 else None


def _read_json(path: str) -> dict[str, Any]:
    """The results JSON (the answer of ``GET /api/polls/{id}/results``), shape-checked."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise RecountInputError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:  # also UnicodeDecodeError
        raise RecountInputError(f"{path} is not JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("options"), list):
        raise RecountInputError(f"{path} is not a poll's results (no 'options' list)")
    for option in data["options"]:
        if not isinstance(option, dict) or type(option.get("option_id")) is not int:
            raise RecountInputError(f"{path}: every option needs an integer 'option_id'")
    if "method" in data and data["method"] not in methods.names():
        raise RecountInputError(
            f"{path}: method {data['method']!r} is not one recount counts ({', '.join(methods.names())})"
        )
    return data


def _parse_option_ids(raw: str) -> list[int]:
    """``--options 1,2,3`` as a list of ids."""
    try:
        ids = [int(part) for part in raw.split(",") if part.strip()]
    except ValueError:
        raise RecountInputError(f"--options takes option ids separated by commas, got {raw!r}") from None
    if not ids or len(set(ids)) != len(ids):
        raise RecountInputError(f"--options must list each option id once, got {raw!r}")
    return ids


def _number(value: float | None) -> str:
    """A total as people read it: ``3`` rather than ``3.0``, else the shortest exact form."""
    if value is None:
        return "-"
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _differs(expected: Any, actual: float | None) -> bool:
    """Whether a published figure and the recounted one disagree. Exactly: both are the same exact
    total rounded once to a float, and a tolerance would let a small forged change through."""
    if isinstance(expected, bool) or not isinstance(expected, (int, float)) or actual is None:
        return True
    return float(expected) != actual


def _compare(results: dict[str, Any], method: str, digest: str, outcome: TallyResult) -> list[str]:
    """Every way the published results differ from the recount, one sentence each."""
    differences: list[str] = []
    published_digest = results.get("record_sha256")
    if published_digest and published_digest != digest:
        differences.append(f"record_sha256: published {published_digest}, the file's is {digest}")
    if results.get("method", method) != method:
        differences.append(f"method: published {results['method']!r}, recounted as {method!r}")
    if results.get("total_ballots") != outcome.total_ballots:
        differences.append(f"total_ballots: published {results.get('total_ballots')}, recounted {outcome.total_ballots}")
    if "total_weight" in results and _differs(results["total_weight"], outcome.total_weight):
        differences.append(
            f"total_weight: published {results['total_weight']}, recounted {_number(outcome.total_weight)}"
        )
    recounted = {option.option_id: option for option in outcome.options}
    published_ids = [option["option_id"] for option in results["options"]]
    for option in results["options"]:
        ours = recounted.get(option["option_id"])
        if ours is None:
            differences.append(f"option {option['option_id']}: published but not recounted")
            continue
        if option.get("votes") != ours.votes:
            differences.append(f"option {ours.option_id} votes: published {option.get('votes')}, recounted {ours.votes}")
        for key in ("weight", "score", "points"):
            if option.get(key) is not None and _differs(option[key], getattr(ours, key)):
                differences.append(
                    f"option {ours.option_id} {key}: published {option[key]}, recounted {_number(getattr(ours, key))}"
                )
    for option_id in recounted:
        if option_id not in published_ids:
            differences.append(f"option {option_id}: recounted but not in the published results")
    published_winners = results.get("winners")
    # Winners come in option order; compare them as a set so that --options in another order
    # does not show up as a difference.
    if not isinstance(published_winners, list) or sorted(map(str, published_winners)) != sorted(
        map(str, outcome.winners)
    ):
        differences.append(f"winners: published {published_winners}, recounted {outcome.winners}")
    return differences


def recount(path: str, method: str | None, options: str | None, results_path: str | None) -> int:
    """Recount a published ballot record and, given the published results, compare.

    Needs no database and no settings: only the record file (and the results JSON).

    Returns:
        0 when the recount is done (and matches the results, if given), 1 when it differs.

    Raises:
        RecountInputError: When the record, the results or the options cannot be used.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise RecountInputError(f"cannot read {path}: {exc.strerror or exc}") from None
    results = _read_json(results_path) if results_path else None
    try:
        field, ballots = parse_record(data)
    except ValueError as exc:
        raise RecountInputError(f"{path}: {exc}") from None
    method = method or (results or {}).get("method") or _method_for_field(field)
    if method is None:
        raise RecountInputError(f"{path}: ballots with {field!r} fit several methods; give --method")
    if options:
        option_ids = _parse_option_ids(options)
    elif results is not None:
        option_ids = [option["option_id"] for option in results["options"]]
    else:
        # Without the poll's options, count those the ballots name (display order unknown).
        named: set[int] = set()
        for ballot in ballots:
            named.update((ballot.option_id,) if field == "option_id" else ballot.scores or ballot.choices)
        option_ids = sorted(named)
    texts = {option["option_id"]: option.get("text") for option in (results or {}).get("options", [])}
    try:
        # The method's settings (STV's seats and rule) come with the published results.
        outcome = tally_record(method, option_ids, data, (results or {}).get("settings"))
    except ValueError as exc:
        raise RecountInputError(f"{path}: {exc}") from None
    digest = record_digest(data)

    def label(option_id: int) -> str:
        return f"{option_id} ({texts[option_id]})" if texts.get(option_id) else str(option_id)

    print(f"record: {path}")
    print(f"sha256: {digest}")
    print(f"method: {method}")
    print(f"ballots: {outcome.total_ballots}, total weight: {_number(outcome.total_weight)}")
    for option in outcome.options:
        extra = "".join(
            f" {key} {_number(getattr(option, key))}" for key in ("score", "points") if getattr(option, key) is not None
        )
        print(f"  option {label(option.option_id)}: votes {option.votes}, weight {_number(option.weight)}{extra}")
    print(f"winners: {', '.join(map(label, outcome.winners)) or 'none'}")
    for note in outcome.notes:
        print(f"note: {render_note(note)}")
    if results is None:
        return 0
    differences = _compare(results, method, digest, outcome)
    for difference in differences:
        print(f"DIFFERENT {difference}")
    if differences:
        return 1
    print("MATCH")
    return 0


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
    sub.add_parser("worker", help="run the job worker (outbox sends, timed jobs) in this process")
    p_i18n = sub.add_parser("i18n-update", help="re-extract the messages, update every catalog, list what is untranslated")
    p_i18n.add_argument("--add-language", metavar="CODE", help="start a catalog for a new language first (e.g. fr)")
    p_recount = sub.add_parser(
        "recount", help="recount a published ballot record (record.jsonl); needs no database or settings"
    )
    p_recount.add_argument("file", help="the poll's record.jsonl")
    p_recount.add_argument("--method", choices=methods.names(), help="the poll's voting method (default: from --results)")
    p_recount.add_argument("--options", help="option ids in display order, e.g. 1,2,3 (default: from --results)")
    p_recount.add_argument("--results", help="the poll's published results JSON, to compare the recount with")
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
        if args.command == "recount":
            return recount(args.file, args.method, args.options, args.results)
        if args.command == "i18n-update":
            from commons_app import i18n_tools

            return i18n_tools.main(args.add_language)
        if args.command == "worker":
            from commons_app import jobs

            return jobs.main()
        if args.command == "check-config":
            settings = get_settings()
            if settings.smtp_url:
                from commons_app.services.mailer import parse_smtp_url

                parse_smtp_url(settings.smtp_url)  # a bad SMTP_URL is a configuration error
            # Never the token itself: only whether /metrics is served.
            print(f"environment={settings.environment} database={settings.database_url.split('@')[-1]} redis={'set' if settings.redis_url else 'not set'} "
                  f"metrics_token={'set' if settings.metrics_token else 'not set (no /metrics)'} "
                  f"smtp={'set' if settings.smtp_url else 'not set (mails stay in the outbox)'}")
            return 0
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    except RecountInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ServiceError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    return 1
