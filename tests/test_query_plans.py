"""Every query of the ballot and results paths uses an index on PostgreSQL (checked with EXPLAIN).

A database of 500 polls, 2,000 users with sessions, 20,000 ballots and rolls is built with
``generate_series`` and ANALYZEd; the statements the services send while a ballot is cast,
changed and retracted and while results are read (single-choice from the counts, ranked from
the ballots, visibility checks) are recorded, and each is EXPLAINed with its own parameters.
No plan may read a whole table of those that grow with use.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlalchemy import event, text
from sqlmodel import Session

from alembic import command
from commons_app.db import make_engine
from commons_app.models import Poll, User
from commons_app.services import auth, counts, results, votes
from commons_app.services.votes import BallotInput
from tests.conftest import alembic_config, create_postgres_database, drop_postgres_database

GROWING = ("ballots", "ballot_counts", "users", "auth_sessions", "poll_voters", "poll_options", "polls", "refresh_tokens")
POLLS, USERS, PER_POLL = 500, 2000, 40


@pytest.fixture(scope="module")
def big_database() -> Iterator[str]:
    url = create_postgres_database("_plans")
    try:
        command.upgrade(alembic_config(url=url), "head")
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO users (username, username_key, email, email_key, password_hash, role, is_active, "
                "created_at, updated_at) SELECT 'u' || i, 'u' || i, 'u' || i || '@x.org', 'u' || i || '@x.org', 'x', "
                "'member', true, now(), now() FROM generate_series(1, :n) AS i"
            ), {"n": USERS})
            conn.execute(text(
                "INSERT INTO polls (id, join_code, title, description, created_by, method, visibility, results_visibility, "
                "anonymous, created_at, updated_at) SELECT 'poll-' || i, 'J' || lpad(i::text, 7, '0'), 'p' || i, '', 1 + i % 50, "
                "CASE WHEN i % 2 = 0 THEN 'single' ELSE 'irv' END, "
                "CASE WHEN i % 5 = 0 THEN 'private' ELSE 'public' END, 'after_vote', false, now(), now() "
                "FROM generate_series(1, :n) AS i"
            ), {"n": POLLS})
            conn.execute(text(
                "INSERT INTO poll_options (poll_id, text, position) SELECT p.id, 'o' || k, k "
                "FROM polls p, generate_series(0, 3) AS k"
            ))
            # Every poll: PER_POLL voters on its roll and a ballot from each (first option first).
            conn.execute(text(
                "INSERT INTO poll_voters (poll_id, user_id, weight) SELECT p.id, 1 + (substr(p.id, 6)::int * 7 + j) % :u, 1.0 "
                "FROM polls p, generate_series(1, :k) AS j"
            ), {"u": USERS, "k": PER_POLL})
            conn.execute(text(
                "INSERT INTO ballots (poll_id, user_id, option_id, choices, scores, weight, receipt, created_at, updated_at) "
                "SELECT v.poll_id, v.user_id, o.id, json_build_array(o.id), '{}', 1.0, md5(random()::text || v.id), now(), now() "
                "FROM poll_voters v JOIN poll_options o ON o.poll_id = v.poll_id AND o.position = v.user_id % 4"
            ))
            # The counts of all those ballots (what services.counts keeps), and a session per user.
            conn.execute(text(
                "INSERT INTO ballot_counts (poll_id, option_id, weight, shard, ballots) "
                "SELECT poll_id, option_id, weight, id % :s, count(*) FROM ballots "
                "GROUP BY poll_id, option_id, weight, id % :s"
            ), {"s": counts.SHARDS})
            conn.execute(text(
                "INSERT INTO auth_sessions (id, user_id, created_at, expires_at) "
                "SELECT md5(random()::text || i), i, now(), now() + interval '1 day' FROM generate_series(1, :n) AS i"
            ), {"n": USERS})
            conn.execute(text("ANALYZE"))
        engine.dispose()
        yield url
    finally:
        drop_postgres_database(url)


def _recorded(engine) -> list[tuple[str, object]]:
    statements: list[tuple[str, object]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def record(_conn, _cursor, statement, parameters, _context, executemany):
        if not executemany:
            statements.append((statement, parameters))

    return statements


def _seq_scans(engine, statements: list[tuple[str, object]]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    with engine.connect() as conn:
        for statement, parameters in statements:
            if not re.match(r"(?is)\s*(select|insert|update|delete|with)\b", statement):
                continue
            plan = "\n".join(row[0] for row in conn.exec_driver_sql("EXPLAIN " + statement, parameters))
            scanned = [t for t in GROWING if re.search(rf"Seq Scan on {t}\b", plan)]
            if scanned:
                found[statement.split("\n")[0][:160]] = scanned
        conn.rollback()
    return found


def test_the_ballot_and_results_paths_use_indexes(big_database):
    engine = make_engine(big_database)
    try:
        with Session(engine, expire_on_commit=False) as session:
            single = session.get(Poll, "poll-12")  # public, single-choice
            ranked = session.get(Poll, "poll-13")  # public, IRV
            assert single is not None and ranked is not None and single.method == "single" and ranked.method == "irv"
            voter = session.get(User, 1999)
            token = auth.start_session(session=session, user=voter).access_token  # type: ignore[arg-type]
            options = [o for (o,) in session.execute(text("SELECT id FROM poll_options WHERE poll_id = 'poll-12' ORDER BY position"))]
            ranked_options = [o for (o,) in session.execute(text("SELECT id FROM poll_options WHERE poll_id = 'poll-13' ORDER BY position"))]
            statements = _recorded(engine)

            identity = auth.identify(session=session, token=token)
            votes.cast_ballot(session=session, user=identity.user, poll_id="poll-12", ballot=BallotInput(option_id=options[1]))
            votes.change_ballot(session=session, user=identity.user, poll_id="poll-12", ballot=BallotInput(option_id=options[2]))
            votes.cast_ballot(session=session, user=identity.user, poll_id="poll-13", ballot=BallotInput(ranking=ranked_options[::-1]))
            results.poll_results(session=session, user=identity.user, poll_id="poll-12")
            results.poll_results(session=session, user=identity.user, poll_id="poll-13")
            votes.retract_ballot(session=session, user=identity.user, poll_id="poll-12")
            counts.reconcile(session=session, poll_id="poll-12")
            recorded = list(statements)

        kinds = {s.split()[0].upper() for s, _ in recorded}
        assert {"SELECT", "INSERT", "UPDATE", "DELETE"} <= kinds, kinds
        assert len(recorded) >= 15, recorded
        assert _seq_scans(engine, recorded) == {}
    finally:
        engine.dispose()
