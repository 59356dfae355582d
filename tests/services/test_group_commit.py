"""Group commit of the ballot's hot path (``services.fast_ballots._Group``): ballots that reach
their write while another statement is at the database go together in one statement. The attacks:
a voter's second ballot, a ballot for a poll closed meanwhile, a ballot naming an option that is
gone, a voter who gives up waiting, two workers' groups on the same poll. Each must get its own
answer, and none may cost another voter's ballot or the counts their agreement with the ballots."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from commons_app.models import utcnow
from commons_app.services import fast_ballots
from commons_app.services.errors import Conflict, Forbidden
from commons_app.services.votes import new_receipt
from tests import aio, factories
from tests.factories import row_counts

pytestmark = pytest.mark.parametrize("backend", ["postgresql"])


def _values(poll_id: str, user_id: int, option_id: int) -> dict[str, Any]:
    """A named ballot's columns, as ``votes.ballot_values`` gives them."""
    now = utcnow()
    return {
        "poll_id": poll_id, "user_id": user_id, "option_id": option_id, "choices": [], "scores": {},
        "weight": 1.0, "receipt": new_receipt(), "created_at": now, "updated_at": now,
    }


@pytest.fixture
def groups(monkeypatch) -> list[int]:
    """The size of every statement's group, in order."""
    sizes: list[int] = []
    real = fast_ballots._Group._commit

    async def commit(self, group):
        sizes.append(len(group))
        return await real(self, group)

    monkeypatch.setattr(fast_ballots._Group, "_commit", commit)
    return sizes


async def _write_all(engine, values: list[dict[str, Any]], *, pools: int = 1) -> list[Any]:
    """Every ballot written at once through ``pools`` pools (workers), each ballot's answer: its
    id or its refusal."""
    async with contextlib.AsyncExitStack() as stack:
        group_of = [fast_ballots._Group(await stack.enter_async_context(aio.pool_of(engine, 3))) for _ in range(pools)]
        return await asyncio.gather(
            *(group_of[i % pools].write(v) for i, v in enumerate(values)), return_exceptions=True
        )


def _counts_agree(session) -> None:
    by_ballots = session.execute(text(
        "SELECT poll_id, option_id, count(*) FROM ballots WHERE option_id IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2"
    )).all()
    by_counts = session.execute(text(
        "SELECT poll_id, option_id, sum(ballots) FROM ballot_counts GROUP BY 1, 2 HAVING sum(ballots) > 0 ORDER BY 1, 2"
    )).all()
    assert [tuple(r) for r in by_ballots] == [tuple(r) for r in by_counts]


def test_each_ballot_of_a_group_gets_its_own_answer(engine, session, admin, groups, backend):
    open_poll = factories.make_poll(session, admin)
    closed = factories.make_poll(session, admin)
    factories.set_poll_times(session, closed.poll.id, closed_at=utcnow())
    voters = [factories.make_user(session) for _ in range(6)]
    first = open_poll.options[0].id
    given = [_values(open_poll.poll.id, v.id, first) for v in voters]
    given.append(_values(open_poll.poll.id, voters[1].id, open_poll.options[1].id))  # voter 1 again
    given.append(_values(closed.poll.id, voters[2].id, closed.options[0].id))  # a poll closed since its read

    answers = aio.run(_write_all(engine, given))

    assert groups == [1, len(given) - 1]  # the first alone, the others in one statement
    assert all(isinstance(a, int) for a in answers[:6]), answers
    assert isinstance(answers[6], Conflict) and answers[6].message == "You have already voted in this poll."
    assert isinstance(answers[7], Forbidden) and answers[7].message == "This poll is closed."
    stored = session.execute(text("SELECT id, user_id, option_id FROM ballots ORDER BY id")).all()
    assert [(r.id, r.user_id, r.option_id) for r in stored] == [(answers[i], v.id, first) for i, v in enumerate(voters)]
    _counts_agree(session)


def test_an_option_gone_refuses_only_its_own_ballot(engine, session, admin, groups, backend):
    view = factories.make_poll(session, admin)
    voters = [factories.make_user(session) for _ in range(5)]
    given = [_values(view.poll.id, v.id, view.options[0].id) for v in voters]
    gone = session.execute(text("SELECT max(id) + 1000 FROM poll_options")).scalar()
    given.insert(3, _values(view.poll.id, factories.make_user(session).id, gone))

    answers = aio.run(_write_all(engine, given))

    # The group's statement failed as a whole (the foreign key): each of its ballots alone again.
    assert groups == [1, len(given) - 1] + [1] * (len(given) - 1)
    assert isinstance(answers[3], Conflict)
    assert all(isinstance(a, int) for i, a in enumerate(answers) if i != 3), answers
    assert row_counts(engine)["ballots"] == len(voters)
    _counts_agree(session)


def test_a_voter_who_gives_up_waiting_still_has_the_ballot_stored(engine, session, admin, groups, backend):
    view = factories.make_poll(session, admin)
    voters = [factories.make_user(session) for _ in range(4)]
    given = [_values(view.poll.id, v.id, view.options[0].id) for v in voters]

    async def scenario() -> list[Any]:
        async with aio.pool_of(engine, 3) as pool:
            group = fast_ballots._Group(pool)
            tasks = [asyncio.create_task(group.write(v)) for v in given]
            await asyncio.sleep(0)  # the first at the database, the others waiting for it
            tasks[2].cancel()
            return await asyncio.gather(*tasks, return_exceptions=True)

    answers = aio.run(scenario())

    assert isinstance(answers[2], asyncio.CancelledError)
    assert groups == [1, 3]
    assert row_counts(engine)["ballots"] == 4  # the ballot was in its group: written all the same
    _counts_agree(session)


def test_two_workers_groups_on_one_poll_lose_nothing(engine, session, admin, groups, backend):
    view = factories.make_poll(session, admin, options=3)
    voters = [factories.make_user(session) for _ in range(120)]
    given = [_values(view.poll.id, v.id, view.options[i % 3].id) for i, v in enumerate(voters)]

    answers = aio.run(_write_all(engine, given, pools=2))

    assert all(isinstance(a, int) for a in answers), [a for a in answers if not isinstance(a, int)][:3]
    assert max(groups) > 1
    assert row_counts(engine)["ballots"] == 120
    _counts_agree(session)


@pytest.mark.parametrize("close_by_hand", [True, False], ids=["closed-by-hand", "closed-on-time"])
def test_a_group_racing_the_seal_is_refused_not_stored(engine, session, admin, groups, backend, close_by_hand):
    """The sealer holds the poll's row (``counts.lock_poll``) while a group's statement reaches
    it; the poll closes (by hand, or on time while the group waits): none of the group's ballots
    may be stored, and the ballot for another poll, ahead of them, is."""
    other = factories.make_poll(session, admin)
    view = factories.make_poll(session, admin)
    closes_in = None if close_by_hand else 1.0
    if closes_in is not None:
        factories.set_poll_times(session, view.poll.id, closes_at=utcnow() + timedelta(seconds=closes_in))
    voters = [factories.make_user(session) for _ in range(4)]
    given = [_values(other.poll.id, voters[0].id, other.options[0].id)]  # alone, while the others queue
    given += [_values(view.poll.id, v.id, view.options[0].id) for v in voters[1:]]

    async def race() -> list[Any]:
        async with aio.pool_of(engine, 3) as pool:
            with engine.connect() as sealer:
                sealer.execute(text("SELECT id FROM polls WHERE id = :p FOR UPDATE"), {"p": view.poll.id})
                if close_by_hand:
                    sealer.execute(text("UPDATE polls SET closed_at = now() WHERE id = :p"), {"p": view.poll.id})
                group = fast_ballots._Group(pool)
                tasks = [asyncio.create_task(group.write(v)) for v in given]
                await asyncio.sleep(0.6 if closes_in is None else closes_in + 0.4)
                assert not any(t.done() for t in tasks[1:]), "the group should wait for the sealer's lock"
                sealer.commit()
                return await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 10)

    answers = aio.run(race())

    assert groups == [1, 3]  # the three for the sealed poll in one statement
    assert isinstance(answers[0], int)
    assert all(isinstance(a, Forbidden) and a.message == "This poll is closed." for a in answers[1:]), answers
    stored = session.execute(text("SELECT poll_id FROM ballots")).scalars().all()
    assert stored == [other.poll.id]
    _counts_agree(session)
