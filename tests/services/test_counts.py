"""Ballot counts (``services.counts``): kept in step with the ballots by every change, exact in
single-choice results, rebuilt when a roll re-weights ballots, repaired by reconciliation."""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import asdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlmodel import Session

from commons_app import metrics
from commons_app.models import BallotCount
from commons_app.services import counts, polls, results, votes
from commons_app.services.errors import Conflict
from commons_app.services.tally import TallyBallot, tally_single, tally_single_counts
from commons_app.services.votes import BallotInput
from tests import factories

WEIGHTS = st.sampled_from([1.0, 1.0, 1.0, 2.0, 0.5, 0.1, 1 / 3, 0.3, 7.25])


@settings(max_examples=300, deadline=None, database=None)
@given(
    options=st.integers(min_value=1, max_value=6),
    ballots=st.lists(st.tuples(st.integers(min_value=0, max_value=5), WEIGHTS), max_size=40),
)
def test_counts_tally_equals_the_ballot_tally(options, ballots):
    ids = list(range(100, 100 + options))
    cast = [TallyBallot(weight=w, choices=(ids[o % options],)) for o, w in ballots]
    grouped = Counter((ids[o % options], w) for o, w in ballots)
    from_counts = tally_single_counts(ids, [(o, w, n) for (o, w), n in grouped.items()])
    assert asdict(from_counts) == asdict(tally_single(ids, cast))


def test_counts_tally_sums_exactly_like_fsum():
    n = 1_000_000
    fsum = math.fsum([0.1] * n)
    assert sum([0.1] * n) != fsum  # adding the floats one by one drifts
    outcome = tally_single_counts([1, 2], [(1, 0.1, n), (2, 0.1, 3), (2, 0.1, n - 3)])
    assert outcome.options[0].weight == outcome.options[1].weight == fsum
    assert outcome.total_weight == math.fsum([0.1] * (2 * n))
    assert outcome.total_ballots == 2 * n and outcome.winners == [1, 2] and outcome.tie


def _kept(session: Session, poll_id: str) -> dict[tuple[int, float], int]:
    return {(o, w): n for o, w, n in counts.option_counts(session=session, poll_id=poll_id)}


def _true(session: Session, poll_id: str) -> dict[tuple[int, float], int]:
    return {(o, w): n for o, w, n in counts.counted_from_ballots(session=session, poll_id=poll_id)}


def test_cast_change_retract_keep_counts_equal_to_the_ballots(session, make_user):
    owner = make_user()
    voters = [make_user() for _ in range(12)]
    weights = [1.0, 2.0, 0.5, 0.333333]
    view = factories.make_poll(session, owner, options=4, voters=[(v, weights[i % 4]) for i, v in enumerate(voters)])
    poll_id, ids = view.poll.id, [o.id for o in view.options]
    rng = random.Random(7)
    voted: set[int] = set()
    for _ in range(80):
        voter = rng.choice(voters)
        action = rng.choice(["cast", "change", "retract"])
        if voter.id not in voted:
            votes.cast_ballot(session=session, user=voter, poll_id=poll_id, ballot=BallotInput(option_id=rng.choice(ids)))
            voted.add(voter.id)
        elif action == "change":
            votes.change_ballot(session=session, user=voter, poll_id=poll_id, ballot=BallotInput(option_id=rng.choice(ids)))
        elif action == "retract":
            votes.retract_ballot(session=session, user=voter, poll_id=poll_id)
            voted.discard(voter.id)
        assert _kept(session, poll_id) == _true(session, poll_id)
    assert sum(_kept(session, poll_id).values()) == len(voted)
    from_counts = results.compute_results(session=session, poll=view.poll)
    from_ballots = results.compute_results(session=session, poll=view.poll, use_counts=False)
    assert from_counts.as_dict() == from_ballots.as_dict()


def test_ranked_ballots_count_first_preferences(session, make_user):
    owner, a, b = make_user(), make_user(), make_user()
    view = factories.make_poll(session, owner, options=3, method="irv")
    ids = [o.id for o in view.options]
    votes.cast_ballot(session=session, user=a, poll_id=view.poll.id, ballot=BallotInput(ranking=[ids[2], ids[0]]))
    votes.cast_ballot(session=session, user=b, poll_id=view.poll.id, ballot=BallotInput(ranking=[ids[2]]))
    assert _kept(session, view.poll.id) == {(ids[2], 1.0): 2}
    votes.change_ballot(session=session, user=b, poll_id=view.poll.id, ballot=BallotInput(ranking=[ids[1], ids[2]]))
    assert _kept(session, view.poll.id) == {(ids[2], 1.0): 1, (ids[1], 1.0): 1}


def test_approval_ballots_are_not_counted(session, make_user):
    owner, voter = make_user(), make_user()
    view = factories.make_poll(session, owner, options=3, method="approval")
    votes.cast_ballot(session=session, user=voter, poll_id=view.poll.id, ballot=BallotInput(option_ids=[view.options[0].id]))
    assert _kept(session, view.poll.id) == {}


def test_a_refused_ballot_counts_nothing(session, make_user):
    owner, voter = make_user(), make_user()
    view = factories.make_poll(session, owner, options=2)
    factories.vote(session, voter, view, option_id=view.options[0].id)
    try:
        factories.vote(session, voter, view, option_id=view.options[1].id)
    except Exception as exc:  # noqa: BLE001 - the Conflict is the point
        assert type(exc).__name__ == "Conflict"
    assert _kept(session, view.poll.id) == {(view.options[0].id, 1.0): 1}


def test_roll_changes_never_reweight_counted_ballots(session, make_user):
    owner, a, b, c = make_user(), make_user(), make_user(), make_user()
    view = factories.make_poll(session, owner, options=2, voters=[(a, 1.0), (b, 1.0)])
    ids = [o.id for o in view.options]
    factories.vote(session, a, view, option_id=ids[0])
    factories.vote(session, b, view, option_id=ids[0])
    with pytest.raises(Conflict):
        factories.set_roll(session, owner, view.poll.id, [(a, 3.0), (b, 1.0)])
    session.rollback()
    # A new voter may still join, with a weight of their own.
    factories.set_roll(session, owner, view.poll.id, [(a, 1.0), (b, 1.0), (c, 3.0)])
    factories.vote(session, c, view, option_id=ids[1])
    assert _kept(session, view.poll.id) == {(ids[0], 1.0): 2, (ids[1], 3.0): 1}
    shown = results.compute_results(session=session, poll=view.poll)
    assert shown.options[0].weight == 2.0 and shown.total_weight == 5.0


def test_reconcile_repairs_counts_written_around_the_services(session, make_user):
    owner, a, b = make_user(), make_user(), make_user()
    view = factories.make_poll(session, owner, options=2)
    ids = [o.id for o in view.options]
    factories.vote(session, a, view, option_id=ids[0])
    assert counts.reconcile(session=session, poll_id=view.poll.id) == 0
    # A ballot stored by hand (not through the services) and a count row damaged by hand.
    session.execute(
        text(
            "INSERT INTO ballots (poll_id, user_id, option_id, choices, scores, weight, receipt, created_at, updated_at) "
            "VALUES (:p, :u, :o, '[]', '{}', 1.0, 'by-hand', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
        ),
        {"p": view.poll.id, "u": b.id, "o": ids[1]},
    )
    session.execute(text("UPDATE ballot_counts SET ballots = ballots + 5 WHERE poll_id = :p"), {"p": view.poll.id})
    session.commit()
    before = metrics.COUNT_REPAIRS._value.get()
    assert counts.reconcile(session=session, poll_id=view.poll.id) == 2
    assert metrics.COUNT_REPAIRS._value.get() == before + 1
    assert _kept(session, view.poll.id) == {(ids[0], 1.0): 1, (ids[1], 1.0): 1}
    assert counts.reconcile(session=session, poll_id=view.poll.id) == 0


def test_closing_a_poll_seals_what_its_ballots_say_not_its_counts(session, make_user):
    owner, a = make_user(), make_user()
    view = factories.make_poll(session, owner, options=2)
    factories.vote(session, a, view, option_id=view.options[0].id)
    session.execute(text("DELETE FROM ballot_counts WHERE poll_id = :p"), {"p": view.poll.id})
    session.commit()
    polls.close_poll(session=session, user=owner, poll_id=view.poll.id)
    sealed = results.compute_results(session=session, poll=view.poll)
    assert sealed.status == "closed" and sealed.options[0].votes == 1 and sealed.record_sha256


def test_deleting_a_poll_deletes_its_counts(session, make_user):
    owner, a = make_user(), make_user()
    view = factories.make_poll(session, owner, options=2)
    factories.vote(session, a, view, option_id=view.options[0].id)
    polls.delete_poll(session=session, user=owner, poll_id=view.poll.id)
    left = session.execute(text("SELECT count(*) FROM ballot_counts WHERE poll_id = :p"), {"p": view.poll.id}).scalar_one()
    assert left == 0


def test_counts_spread_over_shards(session, make_user):
    owner = make_user()
    view = factories.make_poll(session, owner, options=2)
    for _ in range(40):
        factories.vote(session, make_user(), view, option_id=view.options[0].id)
    rows = session.execute(
        text("SELECT shard, ballots FROM ballot_counts WHERE poll_id = :p"), {"p": view.poll.id}
    ).all()
    assert len(rows) > 1 and sum(n for _, n in rows) == 40
    assert all(0 <= shard < counts.SHARDS for shard, _ in rows)
    assert BallotCount.__tablename__ == "ballot_counts"


def test_open_poll_ids_lists_only_open_polls(session, make_user):
    owner = make_user()
    open_view = factories.make_poll(session, owner)
    closed_view = factories.make_closed(session, owner)
    ids = counts.open_poll_ids(session=session)
    assert open_view.poll.id in ids and closed_view.poll.id not in ids


def test_the_schedule_jobs_seal_polls_closing_on_time_and_reconcile_open_ones(engine, session, make_user):
    import time
    from datetime import timedelta

    from commons_app import jobs
    from commons_app.models import PollSeal, utcnow
    from commons_app.services import notify

    owner, a, b = make_user(), make_user(), make_user()
    open_view = factories.make_poll(session, owner, options=2)
    closing = factories.make_poll(session, owner, options=2)
    factories.vote(session, a, open_view, option_id=open_view.options[0].id)
    factories.vote(session, b, closing, option_id=closing.options[1].id)
    factories.set_poll_times(session, closing.poll.id, closes_at=utcnow() + timedelta(seconds=0.6))
    session.execute(text("DELETE FROM ballot_counts WHERE poll_id IN (:a, :b)"), {"a": open_view.poll.id, "b": closing.poll.id})
    session.commit()
    announced: list[int] = []
    notify.add_listener(announced.append)
    try:
        jobs.poll_schedules()  # before the close: nothing to seal
        assert session.get(PollSeal, closing.poll.id) is None and announced == []
        time.sleep(0.7)
        # The poll that closed on time is sealed from its ballots (not from its damaged counts),
        # without anyone reading it, and announced once; the open one waits for its period.
        jobs.poll_schedules()
        jobs.poll_schedules()
    finally:
        notify.remove_listener(announced.append)
    assert announced == [closing.poll.id]
    session.expire_all()
    seal = session.get(PollSeal, closing.poll.id)
    assert seal is not None and seal.ballots == 1
    assert [o["votes"] for o in seal.result["options"]] == [0, 1]
    assert _kept(session, open_view.poll.id) == {}
    jobs.reconcile_counts()
    assert _kept(session, open_view.poll.id) == {(open_view.options[0].id, 1.0): 1}


def test_damaged_negative_counts_fall_back_to_counting_the_ballots(session, make_user):
    owner, a = make_user(), make_user()
    view = factories.make_poll(session, owner, options=2)
    factories.vote(session, a, view, option_id=view.options[0].id)
    session.execute(text("UPDATE ballot_counts SET ballots = -3 WHERE poll_id = :p"), {"p": view.poll.id})
    session.commit()
    shown = results.compute_results(session=session, poll=view.poll)
    assert shown.total_ballots == 1 and shown.options[0].votes == 1
