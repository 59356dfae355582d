"""Counted as recorded: after thousands of concurrent ballots, changes and retractions from many
users on one poll, three independent readings of the tally agree exactly.

1. ``GET /api/polls/{id}/results`` (the API),
2. ``COUNT(*)`` / ``SUM(weight)`` ``GROUP BY option_id`` straight on the ballots table (for
   approval polls, the stored ``choices`` counted one by one),
3. ``results.compute_results`` (the service the pages and live updates use).

The traffic goes through the service layer from 24 threads (one database session per
operation) or, for the single-choice poll, through the real HTTP API (uvicorn) with one token
per user. A reader thread tallies the poll all along and must never fail. Vote weights come from
the roll and are dyadic fractions, so sums are exact and compared with ``==``.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from commons_app.models import Ballot, Poll
from commons_app.services import results, votes
from commons_app.services.errors import Conflict, NotFound
from commons_app.services.votes import BallotInput
from tests import factories
from tests.security.conftest import REPORT

USERS = 120
OPERATIONS = 2000
WORKERS = 24
WEIGHTS = [1.0, 1.0, 1.0, 2.0, 0.5, 3.25, 0.25, 5.0]


def choice_for(method: str, ids: list[int], rng: random.Random) -> dict[str, Any]:
    if method == "single":
        return {"option_id": rng.choice(ids)}
    if method == "approval":
        return {"option_ids": rng.sample(ids, rng.randint(1, len(ids)))}
    return {"ranking": rng.sample(ids, rng.randint(1, len(ids)))}


def table_reading(engine: Engine, poll: Poll, option_ids: list[int]) -> dict[str, Any]:
    """Per-option votes and weights straight from the ballots table."""
    with engine.connect() as conn:
        total_ballots, total_weight = conn.execute(
            select(func.count(), func.coalesce(func.sum(Ballot.weight), 0.0)).where(Ballot.poll_id == poll.id)
        ).one()
        per_option: dict[int, tuple[int, float]] = {i: (0, 0.0) for i in option_ids}
        if poll.method == "approval":
            counts: Counter[int] = Counter()
            weights: dict[int, float] = defaultdict(float)
            for choices, weight in conn.execute(
                select(Ballot.choices, Ballot.weight).where(Ballot.poll_id == poll.id)
            ).all():
                for option_id in choices:
                    counts[option_id] += 1
                    weights[option_id] += weight
            per_option.update({i: (counts[i], weights[i]) for i in counts})
        else:
            rows = conn.execute(
                select(Ballot.option_id, func.count(), func.sum(Ballot.weight))
                .where(Ballot.poll_id == poll.id)
                .group_by(Ballot.option_id)
            ).all()
            per_option.update({option_id: (int(n), float(w)) for option_id, n, w in rows})
    return {"total_ballots": int(total_ballots), "total_weight": float(total_weight), "options": per_option}


def reading_of(tally: dict[str, Any]) -> dict[str, Any]:
    """The same shape from a results dict (the API's JSON or ``PollResults.as_dict()``)."""
    return {
        "total_ballots": tally["total_ballots"],
        "total_weight": float(tally["total_weight"]),
        "options": {o["option_id"]: (o["votes"], float(o["weight"])) for o in tally["options"]},
    }


class Traffic:
    """Random casts, changes and retractions, with every outcome counted."""

    def __init__(self, method: str, option_ids: list[int], seed: int) -> None:
        self.method = method
        self.option_ids = option_ids
        self.seed = seed
        self.outcomes: Counter[str] = Counter()
        self.unexpected: list[str] = []
        self.lock = threading.Lock()

    def plan(self, users: list[Any]) -> list[tuple[Any, str, dict[str, Any]]]:
        rng = random.Random(self.seed)
        ops = []
        for _ in range(OPERATIONS):
            action = rng.choices(["cast", "change", "retract"], weights=[5, 3, 2])[0]
            ops.append((rng.choice(users), action, choice_for(self.method, self.option_ids, rng)))
        return ops

    def record(self, name: str) -> None:
        with self.lock:
            self.outcomes[name] += 1


def run_service_traffic(engine: Engine, poll_id: str, traffic: Traffic, users: list[Any]) -> None:
    def one(op: tuple[Any, str, dict[str, Any]]) -> None:
        user, action, choice = op
        with Session(engine, expire_on_commit=False) as db:
            try:
                if action == "cast":
                    votes.cast_ballot(session=db, user=user, poll_id=poll_id, ballot=BallotInput(**choice))
                elif action == "change":
                    votes.change_ballot(session=db, user=user, poll_id=poll_id, ballot=BallotInput(**choice))
                else:
                    votes.retract_ballot(session=db, user=user, poll_id=poll_id)
                traffic.record(f"{action} ok")
            except (Conflict, NotFound) as exc:
                traffic.record(f"{action} {type(exc).__name__}")
            except Exception as exc:  # noqa: BLE001 - reported by the test
                traffic.record(f"{action} {type(exc).__name__}")
                traffic.unexpected.append(f"{action}: {exc!r}")

    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(one, traffic.plan(users)))


def run_http_traffic(url: str, poll_id: str, traffic: Traffic, users: list[Any], tokens: dict[int, str]) -> None:
    local = threading.local()
    expected = {"cast": {201, 409}, "change": {200, 404}, "retract": {204, 404}}

    def client() -> httpx.Client:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=url, timeout=60)
            clients.append(local.client)
        return local.client

    def one(op: tuple[Any, str, dict[str, Any]]) -> None:
        user, action, choice = op
        headers = {"Authorization": f"Bearer {tokens[user.id]}"}
        if action == "cast":
            response = client().post("/api/votes/", json={"poll_id": poll_id, **choice}, headers=headers)
        elif action == "change":
            response = client().put(f"/api/polls/{poll_id}/my-vote", json=choice, headers=headers)
        else:
            response = client().delete(f"/api/polls/{poll_id}/my-vote", headers=headers)
        traffic.record(f"{action} {response.status_code}")
        if response.status_code not in expected[action]:
            traffic.unexpected.append(f"{action}: {response.status_code} {response.text[:200]}")

    clients: list[httpx.Client] = []
    try:
        with ThreadPoolExecutor(WORKERS) as pool:
            list(pool.map(one, traffic.plan(users)))
    finally:
        for c in clients:
            c.close()


@pytest.mark.parametrize(("method", "transport"), [("single", "http"), ("irv", "service"), ("approval", "service")])
def test_tally_agrees_with_the_ballots_table(method, transport, wide_engine, live_api, client, session, admin,
                                             auth_headers, make_user):
    users = [make_user() for _ in range(USERS)]
    rng = random.Random(f"{method}-{transport}")
    roll = [(u, rng.choice(WEIGHTS)) for u in users]
    view = factories.make_poll(session, admin, options=5, method=method, voters=roll)
    poll_id, option_ids = view.poll.id, [o.id for o in view.options]
    traffic = Traffic(method, option_ids, seed=rng.randrange(2**32))

    stop = threading.Event()
    reader_errors: list[str] = []
    readings = 0

    def reader() -> None:  # tallies all along: a half-written state must never break it
        nonlocal readings
        while not stop.is_set():
            try:
                with Session(wide_engine, expire_on_commit=False) as db:
                    results.compute_results(session=db, poll=db.get(Poll, poll_id))
                readings += 1
            except Exception as exc:  # noqa: BLE001
                reader_errors.append(repr(exc))
            time.sleep(0.01)

    reader_thread = threading.Thread(target=reader, daemon=True)
    reader_thread.start()
    started = time.perf_counter()
    try:
        if transport == "http":
            tokens = {u.id: factories.issue_tokens(session, u).access_token for u in users}
            run_http_traffic(live_api.url, poll_id, traffic, users, tokens)
        else:
            run_service_traffic(wide_engine, poll_id, traffic, users)
    finally:
        stop.set()
        reader_thread.join(30)
    elapsed = time.perf_counter() - started

    assert not traffic.unexpected, traffic.unexpected[:5]
    assert not reader_errors, reader_errors[:5]
    assert sum(traffic.outcomes.values()) == OPERATIONS

    poll = session.get(Poll, poll_id)
    direct = table_reading(wide_engine, poll, option_ids)
    api = client.get(f"/api/polls/{poll_id}/results", headers=auth_headers(admin))
    assert api.status_code == 200, api.text
    with Session(wide_engine) as db:
        service = results.compute_results(session=db, poll=db.get(Poll, poll_id)).as_dict()

    assert reading_of(api.json()) == direct
    assert reading_of(service) == direct
    assert api.json()["winners"] == service["winners"]
    assert direct["total_ballots"] > 0

    # Every stored ballot is one user's, once, with that user's roll weight, and well formed.
    weights = {u.id: w for u, w in roll}
    with wide_engine.connect() as conn:
        rows = conn.execute(select(Ballot.__table__).where(Ballot.__table__.c.poll_id == poll_id)).all()
    assert len({r.user_id for r in rows}) == len(rows)
    for row in rows:
        assert row.weight == weights[row.user_id]
        if method == "single":
            assert list(row.choices) == [row.option_id]
        elif method == "irv":
            assert row.option_id == row.choices[0]
        assert set(row.choices) <= set(option_ids)

    REPORT[f"consistency operations ({method}, {transport})"] += OPERATIONS
    print(f"{method}/{transport}: {OPERATIONS} operations in {elapsed:.1f} s, {readings} tallies read during, "
          f"outcomes {dict(traffic.outcomes)}, final ballots {direct['total_ballots']}")
