"""Results: the single-choice tally on stored ballots, who may see results, the CSV export."""

from __future__ import annotations

import csv
import io

import pytest

from commons_app.services import polls, results
from commons_app.services.errors import Forbidden, NotFound
from tests import factories


@pytest.fixture
def voters(make_user):
    return [make_user() for _ in range(4)]


def _by_option(res: results.PollResults) -> dict[int, tuple[int, float]]:
    return {o.option_id: (o.votes, o.weight) for o in res.options}


def test_single_counts_weighted_totals_and_winner(session, user, voters):
    heavy, light, plain, absent = voters
    view = factories.make_poll(session, user, voters=[(heavy, 3.0), (light, 0.25)])
    a, b, c = (o.id for o in view.options)
    factories.vote(session, heavy, view, option_id=b)
    factories.vote(session, light, view, option_id=a)
    factories.vote(session, plain, view, option_id=a)

    res = results.poll_results(session=session, user=absent, poll_id=view.poll.id)

    assert (res.poll_id, res.method, res.status) == (view.poll.id, "single", "open")
    assert res.total_ballots == 3
    assert res.total_weight == pytest.approx(4.25)
    assert _by_option(res) == {a: (2, 1.25), b: (1, 3.0), c: (0, 0.0)}
    assert [o.option_id for o in res.options] == [a, b, c]  # display order
    assert [o.text for o in res.options] == [o.text for o in view.options]
    assert res.winners == [b]  # the weighted total decides, not the head count
    assert res.tie is False
    data = res.as_dict()
    assert "score" not in data["options"][0]


def test_ties_give_several_winners(session, user, voters):
    view = factories.make_poll(session, user, options=["North", "South", "East"])
    a, b, _c = (o.id for o in view.options)
    factories.vote(session, voters[0], view, option_id=a)
    factories.vote(session, voters[1], view, option_id=b)

    res = results.poll_results(session=session, user=user, poll_id=view.poll.id)

    assert sorted(res.winners) == sorted([a, b])
    assert res.tie is True


def test_no_ballots_no_winner(session, user):
    view = factories.make_poll(session, user)
    res = results.poll_results(session=session, user=user, poll_id=view.poll.id)
    assert (res.total_ballots, res.total_weight, res.winners) == (0, 0, [])
    assert all((o.votes, o.weight) == (0, 0) for o in res.options)


def test_changed_and_retracted_ballots_are_counted_as_they_stand(session, user, voters):
    view = factories.make_poll(session, user)
    a, b, _c = (o.id for o in view.options)
    factories.vote(session, voters[0], view, option_id=a)
    factories.vote(session, voters[1], view, option_id=a)
    from commons_app.services import votes

    votes.change_ballot(session=session, user=voters[0], poll_id=view.poll.id, ballot=votes.BallotInput(option_id=b))
    votes.retract_ballot(session=session, user=voters[1], poll_id=view.poll.id)
    res = results.poll_results(session=session, user=user, poll_id=view.poll.id)
    assert res.total_ballots == 1 and _by_option(res)[b] == (1, 1.0) and _by_option(res)[a] == (0, 0.0)


def test_scored_polls_carry_a_weighted_score(session, user, voters):
    view = factories.make_poll(session, user, method="score", voters=[(voters[0], 2.0)])
    a, b, c = (o.id for o in view.options)
    factories.vote(session, voters[0], view, scores={str(a): 5, str(b): 1})
    factories.vote(session, voters[1], view, scores={str(a): 0, str(c): 4})
    res = results.poll_results(session=session, user=user, poll_id=view.poll.id)
    scores = {o.option_id: o.score for o in res.options}
    assert scores == {a: 10.0, b: 2.0, c: 4.0}
    assert res.winners == [a]


# --- who may see results -----------------------------------------------------------------------------
def test_live_results_are_for_every_viewer(session, user, voters):
    view = factories.make_poll(session, user, results_visibility="live")
    assert results.poll_results(session=session, user=voters[0], poll_id=view.poll.id).total_ballots == 0


def test_after_vote_results_need_a_ballot_or_a_closed_poll(session, user, voters):
    view = factories.make_poll(session, user, results_visibility="after_vote")
    voter, onlooker = voters[0], voters[1]

    with pytest.raises(Forbidden, match="voted"):
        results.poll_results(session=session, user=voter, poll_id=view.poll.id)
    assert results.poll_results(session=session, user=user, poll_id=view.poll.id).total_ballots == 0  # owner
    factories.vote(session, voter, view, option_id=view.options[0].id)
    assert results.poll_results(session=session, user=voter, poll_id=view.poll.id).total_ballots == 1
    with pytest.raises(Forbidden):
        results.poll_results(session=session, user=onlooker, poll_id=view.poll.id)
    polls.close_poll(session=session, user=user, poll_id=view.poll.id)
    assert results.poll_results(session=session, user=onlooker, poll_id=view.poll.id).status == "closed"


def test_after_close_results_wait_for_the_close(session, user, voters, admin):
    view = factories.make_poll(session, user, results_visibility="after_close")
    factories.vote(session, voters[0], view, option_id=view.options[0].id)

    with pytest.raises(Forbidden, match="closes"):
        results.poll_results(session=session, user=voters[0], poll_id=view.poll.id)
    assert results.poll_results(session=session, user=admin, poll_id=view.poll.id).total_ballots == 1
    polls.close_poll(session=session, user=user, poll_id=view.poll.id)
    assert results.poll_results(session=session, user=voters[0], poll_id=view.poll.id).winners == [view.options[0].id]


def test_creator_results_are_for_the_creator_and_admins_only(session, user, voters, admin):
    view = factories.make_poll(session, user, results_visibility="creator")
    factories.vote(session, voters[0], view, option_id=view.options[0].id)
    polls.close_poll(session=session, user=user, poll_id=view.poll.id)

    with pytest.raises(Forbidden, match="creator"):
        results.poll_results(session=session, user=voters[0], poll_id=view.poll.id)
    assert results.poll_results(session=session, user=user, poll_id=view.poll.id).total_ballots == 1
    assert results.poll_results(session=session, user=admin, poll_id=view.poll.id).total_ballots == 1


def test_results_of_an_invisible_poll_are_not_found(session, user, voters):
    view = factories.make_poll(session, user, visibility="private")
    with pytest.raises(NotFound):
        results.poll_results(session=session, user=voters[0], poll_id=view.poll.id)


# --- CSV ---------------------------------------------------------------------------------------------
def test_csv_has_one_row_per_option_and_defuses_formulas(session, user, voters):
    view = factories.make_poll(session, user, options=["=HYPERLINK(\"x\")", "Plain, with comma", "@SUM(A1)"], voters=[(voters[0], 1.5)])
    a, b, c = (o.id for o in view.options)
    factories.vote(session, voters[0], view, option_id=b)

    table = results.results_csv(results.poll_results(session=session, user=user, poll_id=view.poll.id))

    rows = list(csv.reader(io.StringIO(table)))
    assert rows[0] == ["option_id", "text", "votes", "weight", "winner"]
    assert rows[1:] == [
        [str(a), "'=HYPERLINK(\"x\")", "0", "0", ""],
        [str(b), "Plain, with comma", "1", "1.5", "yes"],
        [str(c), "'@SUM(A1)", "0", "0", ""],
    ]


@pytest.mark.parametrize("rule", ["live", "after_vote", "after_close", "creator"])
def test_a_room_sees_results_only_when_every_viewer_may(rule, session, user, voters, admin):
    """A projected screen (``room_refusal``): the owner's and admin's right and the presenter's own
    vote do not count, since the room holds people who have neither."""
    view = factories.make_poll(session, user, results_visibility=rule)
    poll, voter = view.poll, voters[0]
    factories.vote(session, voter, view, option_id=view.options[0].id)

    def refused(who) -> bool:
        return polls.room_refusal(session=session, poll=poll, user=who) is not None

    open_refused = rule != "live"
    assert [refused(user), refused(admin), refused(voter)] == [open_refused] * 3
    # Never more than the presenter's own right: an onlooker refused results is refused here too.
    if polls.results_refusal(session=session, poll=poll, user=voters[1]) is not None:
        assert polls.room_refusal(session=session, poll=poll, user=voters[1]) == polls.results_refusal(
            session=session, poll=poll, user=voters[1])
    polls.close_poll(session=session, user=user, poll_id=poll.id)
    closed_refused = rule == "creator"
    assert [refused(user), refused(admin), refused(voter)] == [closed_refused] * 3
