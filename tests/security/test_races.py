"""Races (WSTG-BUSL-11: "casting a vote" is its example): one ballot per person, whatever the timing.

* 100 rounds (one new poll each) of 50 threads that cast the same ballot of one user at the same
  instant (``threading.Barrier``), each thread with its own database session: exactly one ballot
  is stored, the 49 others are refused with Conflict.
* The same over real HTTP (uvicorn on a free port, one httpx client per thread): one 201, 49 x 409.
* A change, a retraction and a new cast of one user at the same instant: afterwards there is no
  ballot or exactly the new one (never the old, never two), and the tally agrees with the table.

Every test runs on SQLite and, when configured, PostgreSQL.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from threading import BrokenBarrierError
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

SERVICE_ROUNDS = 100
HTTP_ROUNDS = 5
THREADS = 50
CHANGE_RETRACT_ROUNDS = 40
CHANGE_RETRACT_HTTP_ROUNDS = 10


def race(engine: Engine, actions: list[Callable[[Session], Any]], timeout: float = 60) -> list[Any]:
    """Run each action in its own thread with its own session, all released by one barrier.

    Each thread takes its database connection before the barrier, so that the statements
    reach the database together. Returns each action's result or exception.
    """
    barrier = threading.Barrier(len(actions))
    outcomes: list[Any] = [None] * len(actions)

    def worker(index: int, action: Callable[[Session], Any]) -> None:
        with Session(engine, expire_on_commit=False) as session:
            try:
                session.connection()
                barrier.wait(timeout=timeout)
                outcomes[index] = action(session)
            except BaseException as exc:  # noqa: BLE001 - handed back to the test
                outcomes[index] = exc

    threads = [threading.Thread(target=worker, args=(i, a), daemon=True) for i, a in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
        assert not thread.is_alive(), "a racing thread hung"
    return outcomes


def stored_ballots(engine: Engine, poll_id: str) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(Ballot.__table__).where(Ballot.__table__.c.poll_id == poll_id)).all())


def tally_matches_table(engine: Engine, poll_id: str) -> None:
    """compute_results and a direct COUNT/SUM over the ballots table agree."""
    with Session(engine, expire_on_commit=False) as session:
        poll = session.get(Poll, poll_id)
        outcome = results.compute_results(session=session, poll=poll)
        count, weight = session.execute(
            select(func.count(), func.coalesce(func.sum(Ballot.weight), 0.0)).where(Ballot.poll_id == poll_id)
        ).one()
        by_option = dict(
            session.execute(
                select(Ballot.option_id, func.count()).where(Ballot.poll_id == poll_id).group_by(Ballot.option_id)
            ).all()
        )
    assert outcome.total_ballots == count
    assert outcome.total_weight == pytest.approx(float(weight))
    assert {o.option_id: o.votes for o in outcome.options if o.votes} == {k: v for k, v in by_option.items() if v}


# --- 50 identical ballots at once, 100 times -----------------------------------------------------------
def test_fifty_identical_ballots_store_exactly_one_service(wide_engine, session, admin, user):
    started = time.perf_counter()
    refused = 0
    for _round in range(SERVICE_ROUNDS):
        view = factories.make_poll(session, admin, options=3)
        poll_id, option_id = view.poll.id, view.options[1].id

        def cast(db: Session, poll_id: str = poll_id, option_id: int = option_id) -> Any:
            return votes.cast_ballot(session=db, user=user, poll_id=poll_id, ballot=BallotInput(option_id=option_id))

        outcomes = race(wide_engine, [cast] * THREADS)
        kinds = Counter(type(o).__name__ for o in outcomes)
        unexpected = [o for o in outcomes if not isinstance(o, (Ballot, Conflict))]
        assert not unexpected, f"round {_round}: unexpected outcomes {kinds}: {unexpected[:3]!r}"
        assert kinds == {"Ballot": 1, "Conflict": THREADS - 1}, f"round {_round}: {kinds}"
        rows = stored_ballots(wide_engine, poll_id)
        assert len(rows) == 1 and rows[0].user_id == user.id and rows[0].option_id == option_id
        winner = next(o for o in outcomes if isinstance(o, Ballot))
        assert winner.id == rows[0].id
        refused += kinds["Conflict"]
        REPORT["race rounds run (service, 50 threads)"] += 1
    REPORT["racing duplicate ballots refused (service)"] += refused
    print(f"{SERVICE_ROUNDS} rounds x {THREADS} threads in {time.perf_counter() - started:.1f} s")


def test_fifty_identical_ballots_over_http(wide_engine, live_api, session, admin, user):
    headers = factories.token_headers(session, user)
    clients = [httpx.Client(base_url=live_api.url, headers=headers, timeout=60) for _ in range(THREADS)]
    try:
        for client in clients:  # open every connection before the races
            assert client.get("/api/health/live").status_code == 200
        for _round in range(HTTP_ROUNDS):
            view = factories.make_poll(session, admin, options=3)
            body = {"poll_id": view.poll.id, "option_id": view.options[2].id}
            barrier = threading.Barrier(THREADS)
            answers: list[Any] = [None] * THREADS

            def post(index: int, body: dict = body, barrier: threading.Barrier = barrier,
                     answers: list = answers) -> None:
                try:
                    barrier.wait(timeout=30)
                    answers[index] = clients[index].post("/api/votes/", json=body)
                except BaseException as exc:  # noqa: BLE001
                    answers[index] = exc

            threads = [threading.Thread(target=post, args=(i,), daemon=True) for i in range(THREADS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(90)
            statuses = Counter(a.status_code if isinstance(a, httpx.Response) else repr(a) for a in answers)
            assert statuses == {201: 1, 409: THREADS - 1}, f"round {_round}: {statuses}"
            for answer in answers:
                if answer.status_code == 409:
                    factories.assert_error(answer, 409)
            created = next(a for a in answers if a.status_code == 201).json()
            rows = stored_ballots(wide_engine, view.poll.id)
            assert [(r.id, r.user_id, r.option_id) for r in rows] == [(created["id"], user.id, body["option_id"])]
            mine = clients[0].get(f"/api/polls/{view.poll.id}/my-vote")
            assert mine.status_code == 200 and mine.json()["id"] == created["id"]
            tally = clients[0].get(f"/api/polls/{view.poll.id}/results").json()
            assert tally["total_ballots"] == 1
            REPORT["race rounds run (HTTP, 50 clients)"] += 1
    finally:
        for client in clients:
            client.close()


# --- change, retract and cast at once -------------------------------------------------------------------
def _check_after_change_retract(engine: Engine, poll_id: str, user_id: int, old: list[int], new: list[int]) -> str:
    rows = [r for r in stored_ballots(engine, poll_id) if r.user_id == user_id]
    assert len(rows) <= 1, rows
    tally_matches_table(engine, poll_id)
    if not rows:
        return "none"
    row = rows[0]
    assert list(row.choices) == new, f"the ballot is neither gone nor the new one: {row.choices} (old {old})"
    assert row.option_id == new[0], "option_id and ranking disagree"
    return "new"


def test_change_retract_and_cast_at_once_service(wide_engine, session, admin, user):
    finals: Counter[str] = Counter()
    for _round in range(CHANGE_RETRACT_ROUNDS):
        view = factories.make_poll(session, admin, options=3, method="irv", voters=[(user, 2.5)])
        a, b, c = (o.id for o in view.options)
        old, new = [a, b, c], [b, c, a]
        factories.vote(session, user, view, ranking=old)
        poll_id = view.poll.id

        def change(db: Session, poll_id: str = poll_id, new: list[int] = new) -> Any:
            return votes.change_ballot(session=db, user=user, poll_id=poll_id, ballot=BallotInput(ranking=new))

        def retract(db: Session, poll_id: str = poll_id) -> Any:
            return votes.retract_ballot(session=db, user=user, poll_id=poll_id)

        def cast(db: Session, poll_id: str = poll_id, new: list[int] = new) -> Any:
            return votes.cast_ballot(session=db, user=user, poll_id=poll_id, ballot=BallotInput(ranking=new))

        outcomes = race(wide_engine, [change, retract, cast, change, retract])
        unexpected = [o for o in outcomes if isinstance(o, BaseException) and not isinstance(o, (Conflict, NotFound))]
        assert not unexpected, f"round {_round}: {unexpected!r}"
        retracted = sum(1 for o in outcomes[1::3] if not isinstance(o, BaseException))
        assert retracted >= 1, "the first retraction found no ballot although one existed"
        finals[_check_after_change_retract(wide_engine, poll_id, user.id, old, new)] += 1
        rows = stored_ballots(wide_engine, poll_id)
        assert all(r.weight == 2.5 for r in rows)
        REPORT["change/retract/cast race rounds (service)"] += 1
    print(f"final states over {CHANGE_RETRACT_ROUNDS} rounds: {dict(finals)}")


def test_change_retract_and_cast_at_once_over_http(wide_engine, live_api, session, admin, user):
    headers = factories.token_headers(session, user)
    clients = [httpx.Client(base_url=live_api.url, headers=headers, timeout=60) for _ in range(3)]
    try:
        for client in clients:
            client.get("/api/health/live")
        finals: Counter[str] = Counter()
        for _round in range(CHANGE_RETRACT_HTTP_ROUNDS):
            view = factories.make_poll(session, admin, options=3, method="irv")
            a, b, c = (o.id for o in view.options)
            old, new = [a, b, c], [c, a, b]
            factories.vote(session, user, view, ranking=old)
            path = f"/api/polls/{view.poll.id}/my-vote"
            requests = {
                "put": lambda client, path=path, new=new: client.put(path, json={"ranking": new}),
                "delete": lambda client, path=path: client.delete(path),
                "post": lambda client, poll_id=view.poll.id, new=new: client.post(
                    "/api/votes/", json={"poll_id": poll_id, "ranking": new}
                ),
            }
            barrier = threading.Barrier(len(requests))
            answers: dict[str, Any] = {}

            def send(name: str, client: httpx.Client, barrier: threading.Barrier = barrier,
                     answers: dict = answers, requests: dict = requests) -> None:
                try:
                    barrier.wait(timeout=30)
                    answers[name] = requests[name](client)
                except BaseException as exc:  # noqa: BLE001
                    answers[name] = exc

            threads = [threading.Thread(target=send, args=(n, cl), daemon=True) for n, cl in zip(requests, clients, strict=True)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
            assert answers["delete"].status_code == 204, answers["delete"].text
            assert answers["put"].status_code in (200, 404), answers["put"].text
            assert answers["post"].status_code in (201, 409), answers["post"].text
            final = _check_after_change_retract(wide_engine, view.poll.id, user.id, old, new)
            finals[final] += 1
            assert (final == "new") == (answers["post"].status_code == 201)
            api_tally = clients[0].get(f"/api/polls/{view.poll.id}/results").json()
            assert api_tally["total_ballots"] == (1 if final == "new" else 0)
            mine = clients[0].get(path)
            assert mine.status_code == (200 if final == "new" else 404)
            if final == "new":
                assert mine.json()["ranking"] == new
            REPORT["change/retract/cast race rounds (HTTP)"] += 1
        print(f"final states over {CHANGE_RETRACT_HTTP_ROUNDS} HTTP rounds: {dict(finals)}")
    finally:
        for client in clients:
            client.close()


SEAL_ROUNDS = 15
SEAL_VOTERS = 12  # with the closer and the test's own session: within the pool of 15


@pytest.mark.parametrize("anonymous", [False, True], ids=["named", "anonymous"])
def test_no_acknowledged_ballot_slips_past_the_seal(engine, session, make_user, anonymous):
    """Ballots racing the close: every ballot the service acknowledged is in the sealed record,
    every ballot in the table is in it too, and the sealed result counts exactly those."""
    from commons_app.services import polls, record
    from commons_app.services.errors import Forbidden

    owner = make_user()
    people = [make_user() for _ in range(SEAL_VOTERS)]
    sealed_mid_stream = 0
    for _ in range(SEAL_ROUNDS):
        view = factories.make_poll(session, owner, options=2, anonymous=anonymous)
        poll_id, option = view.poll.id, view.options[0].id

        def cast(voter: Any, poll_id: str = poll_id, option: int = option) -> Callable[[Session], Any]:
            return lambda s: votes.cast_ballot(session=s, user=voter, poll_id=poll_id, ballot=BallotInput(option_id=option)).receipt

        def close(s: Session, poll_id: str = poll_id) -> Any:
            time.sleep(0.002)  # let some ballots start first
            return polls.close_poll(session=s, user=owner, poll_id=poll_id)

        outcomes = race(engine, [cast(v) for v in people] + [close])
        acknowledged = {o for o in outcomes[:-1] if isinstance(o, str)}
        refused = [o for o in outcomes[:-1] if not isinstance(o, str)]
        assert all(isinstance(o, Forbidden) for o in refused), [o for o in outcomes if not isinstance(o, BrokenBarrierError)][:3]
        assert not isinstance(outcomes[-1], BaseException), outcomes[-1]
        sealed_mid_stream += bool(acknowledged) and bool(refused)
        session.expire_all()
        data, digest = results.poll_record(session=session, user=owner, poll_id=poll_id)
        _field, lines = record.parse_record(data.encode())
        in_table = set(session.execute(select(Ballot.receipt).where(Ballot.poll_id == poll_id)).scalars())
        assert {b.receipt for b in lines} == acknowledged == in_table
        shown = results.poll_results(session=session, user=owner, poll_id=poll_id)
        assert shown.total_ballots == len(acknowledged) and shown.record_sha256 == digest
    REPORT[f"seal races closed mid-stream ({'anonymous' if anonymous else 'named'}, of {SEAL_ROUNDS})"] += sealed_mid_stream
    print(f"closed mid-stream in {sealed_mid_stream} of {SEAL_ROUNDS} rounds")
