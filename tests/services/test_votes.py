"""Ballots: one per user and poll (also under concurrency), change, retract, eligibility, weights."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from commons_app.models import Ballot, utcnow
from commons_app.services import notify, votes
from commons_app.services.errors import Conflict, Forbidden, InvalidInput, NotFound
from commons_app.services.votes import BallotInput
from tests import factories


def _ballots(session) -> list[Ballot]:
    session.expire_all()
    return list(session.exec(select(Ballot)).all())


def test_cast_stores_one_ballot_with_weight_one(session, user, other_user):
    view = factories.make_poll(session, other_user)
    row = factories.vote(session, user, view, option_id=view.options[1].id)

    [stored] = _ballots(session)
    assert stored.id == row.id
    assert (stored.poll_id, stored.user_id, stored.option_id, stored.choices, stored.weight) == (
        view.poll.id, user.id, view.options[1].id, [view.options[1].id], 1.0,
    )
    assert votes.has_voted(session=session, user=user, poll_id=view.poll.id)
    assert not votes.has_voted(session=session, user=other_user, poll_id=view.poll.id)
    assert votes.get_my_ballot(session=session, user=user, poll_id=view.poll.id).id == row.id


def test_a_second_ballot_is_a_conflict(session, user):
    view = factories.make_poll(session, user)
    factories.vote(session, user, view, option_id=view.options[0].id)
    with pytest.raises(Conflict) as caught:
        factories.vote(session, user, view, option_id=view.options[1].id)
    assert caught.value.status_code == 409
    [stored] = _ballots(session)
    assert stored.option_id == view.options[0].id


def test_two_concurrent_ballots_store_exactly_one(engine, session, user, run_in_threads, monkeypatch):
    view = factories.make_poll(session, user)
    poll_id, options = view.poll.id, [o.id for o in view.options]
    # Both threads pass every check before either writes: the database constraint must decide.
    barrier = threading.Barrier(2, timeout=20)
    real_validate = votes.validate_ballot

    def validate_then_wait(**kwargs):
        clean = real_validate(**kwargs)
        barrier.wait()
        return clean

    monkeypatch.setattr(votes, "validate_ballot", validate_then_wait)

    def attempt(option_id: int):
        def run():
            with Session(engine, expire_on_commit=False) as own:
                voter = own.get(type(user), user.id)
                return votes.cast_ballot(session=own, user=voter, poll_id=poll_id, ballot=BallotInput(option_id=option_id))
        return run

    outcomes = run_in_threads(attempt(options[0]), attempt(options[1]))

    stored = [o for o in outcomes if isinstance(o, Ballot)]
    refused = [o for o in outcomes if isinstance(o, Conflict)]
    assert len(stored) == 1 and len(refused) == 1, outcomes
    [row] = _ballots(session)
    assert row.id == stored[0].id and row.option_id == stored[0].option_id


def test_change_replaces_the_ballot(session, user):
    view = factories.make_poll(session, user)
    first = factories.vote(session, user, view, option_id=view.options[0].id)

    changed = votes.change_ballot(session=session, user=user, poll_id=view.poll.id, ballot=BallotInput(option_id=view.options[2].id))

    assert changed.id == first.id and changed.option_id == view.options[2].id
    [stored] = _ballots(session)
    assert (stored.option_id, stored.choices) == (view.options[2].id, [view.options[2].id])
    with pytest.raises(InvalidInput):
        votes.change_ballot(session=session, user=user, poll_id=view.poll.id, ballot=BallotInput(option_id=999_999))
    assert _ballots(session)[0].option_id == view.options[2].id


def test_change_without_a_ballot_is_not_found(session, user):
    view = factories.make_poll(session, user)
    with pytest.raises(NotFound):
        votes.change_ballot(session=session, user=user, poll_id=view.poll.id, ballot=BallotInput(option_id=view.options[0].id))
    assert _ballots(session) == []


def test_retract_then_vote_again(session, user):
    view = factories.make_poll(session, user)
    factories.vote(session, user, view, option_id=view.options[0].id)

    votes.retract_ballot(session=session, user=user, poll_id=view.poll.id)
    assert _ballots(session) == []
    with pytest.raises(NotFound):
        votes.retract_ballot(session=session, user=user, poll_id=view.poll.id)
    with pytest.raises(NotFound):
        votes.get_my_ballot(session=session, user=user, poll_id=view.poll.id)
    factories.vote(session, user, view, option_id=view.options[1].id)
    assert [b.option_id for b in _ballots(session)] == [view.options[1].id]


def test_scheduled_and_closed_polls_refuse_ballots(session, user, other_user):
    scheduled = factories.make_scheduled(session, other_user)
    with pytest.raises(Forbidden, match="not open yet"):
        factories.vote(session, user, scheduled, option_id=scheduled.options[0].id)

    view = factories.make_poll(session, other_user)
    factories.vote(session, user, view, option_id=view.options[0].id)
    factories.set_poll_times(session, view.poll.id, closes_at=utcnow() - timedelta(seconds=1))
    with pytest.raises(Forbidden, match="closed"):
        factories.vote(session, other_user, view, option_id=view.options[0].id)
    with pytest.raises(Forbidden):
        votes.change_ballot(session=session, user=user, poll_id=view.poll.id, ballot=BallotInput(option_id=view.options[1].id))
    with pytest.raises(Forbidden):
        votes.retract_ballot(session=session, user=user, poll_id=view.poll.id)
    [stored] = _ballots(session)
    assert (stored.user_id, stored.option_id) == (user.id, view.options[0].id)
    # Closing by hand works the same way.
    manual = factories.make_poll(session, other_user)
    from commons_app.services import polls

    polls.close_poll(session=session, user=other_user, poll_id=manual.poll.id)
    with pytest.raises(Forbidden):
        factories.vote(session, user, manual, option_id=manual.options[0].id)


def test_private_polls_admit_only_their_roll(session, user, other_user, admin):
    view = factories.make_poll(session, user, visibility="private", voters=[(other_user, 1.0)])

    with pytest.raises(Forbidden, match="roll"):  # the owner sees the poll but is not on its roll
        factories.vote(session, user, view, option_id=view.options[0].id)
    with pytest.raises(Forbidden, match="roll"):  # nor is the admin
        factories.vote(session, admin, view, option_id=view.options[0].id)
    outsider = factories.make_user(session)
    with pytest.raises(NotFound):  # an outsider cannot even see it
        factories.vote(session, outsider, view, option_id=view.options[0].id)
    assert _ballots(session) == []
    assert factories.vote(session, other_user, view, option_id=view.options[0].id).user_id == other_user.id


def test_the_weight_comes_from_the_roll(session, user, other_user, make_user):
    third = make_user()
    public = factories.make_poll(session, user, voters=[(other_user, 2.5)])
    private = factories.make_poll(session, user, visibility="private", voters=[(other_user, 3.0), (third, 0.5)])

    assert factories.vote(session, other_user, public, option_id=public.options[0].id).weight == 2.5
    assert factories.vote(session, third, public, option_id=public.options[0].id).weight == 1.0  # not on roll: 1
    assert factories.vote(session, other_user, private, option_id=private.options[0].id).weight == 3.0
    assert factories.vote(session, third, private, option_id=private.options[1].id).weight == 0.5


def test_notify_listeners_hear_of_changes_and_cannot_break_a_vote(session, user):
    view = factories.make_poll(session, user)
    heard: list[int] = []

    def broken(poll_id: str) -> None:
        raise RuntimeError("listener bug")

    notify.add_listener(heard.append)
    notify.add_listener(broken)
    try:
        factories.vote(session, user, view, option_id=view.options[0].id)
        votes.change_ballot(session=session, user=user, poll_id=view.poll.id, ballot=BallotInput(option_id=view.options[1].id))
        votes.retract_ballot(session=session, user=user, poll_id=view.poll.id)
    finally:
        notify.remove_listener(heard.append)
        notify.remove_listener(broken)
    assert heard == [view.poll.id] * 3


# --- ballot validation per method --------------------------------------------------------------------
@pytest.mark.parametrize(
    "method,good,bad",
    [
        ("single", {"option_id": 0}, [{"option_ids": [0]}, {"option_id": 0, "ranking": [0]}, {"option_id": -5}, {}, {"option_id": True}]),
        ("approval", {"option_ids": [0, 2]}, [{"option_id": 0}, {"option_ids": []}, {"option_ids": [0, 0]}, {"option_ids": [0, 1, 2]}, {"option_ids": "0"}]),
        ("irv", {"ranking": [2, 0]}, [{"option_id": 0}, {"ranking": [0, 0]}, {"ranking": []}, {"ranking": [0, -5]}]),
        ("schulze", {"ranking": [1, 2, 0]}, [{"scores": {"0": 1}}, {"ranking": [1, 1]}]),
        ("borda", {"ranking": [0]}, [{"option_ids": [0]}, {"ranking": ["x"]}]),
        ("score", {"scores": {"0": 5, "1": 0}}, [{"scores": {}}, {"scores": {"0": 6}}, {"scores": {"0": -1}}, {"scores": {"0": 2.5}}, {"scores": {"-5": 1}}, {"scores": {"0": True}}, {"ranking": [0]}]),
        ("star", {"scores": {"2": 3}}, [{"scores": {"0": 1, " 0": 2}}, {"option_id": 0}]),
    ],
)
def test_ballots_must_fit_the_method(session, user, method, good, bad):
    extra = {"max_choices": 2} if method == "approval" else {}
    view = factories.make_poll(session, user, method=method, **extra)
    ids = [o.id for o in view.options]

    def option(index):
        # Placeholders: 0..2 are the poll's options, -5 an option of no poll; anything else stays.
        if type(index) is not int:
            return index
        return 10_000_000 if index == -5 else ids[index]

    def resolve(choice: dict) -> dict:
        out = {}
        for name, value in choice.items():
            if name == "option_id":
                out[name] = option(value)
            elif name in ("option_ids", "ranking"):
                out[name] = [option(v) for v in value] if isinstance(value, list) else value
            else:  # scores: keys are placeholders written as text (a leading space is kept)
                out[name] = {k.replace(k.strip(), str(option(int(k.strip())))): v for k, v in value.items()}
        return out

    for choice in bad:
        with pytest.raises(InvalidInput):
            factories.vote(session, user, view, **resolve(choice))
    assert _ballots(session) == []
    row = factories.vote(session, user, view, **resolve(good))
    assert votes.ballot_fields(row, method) == resolve(good)
