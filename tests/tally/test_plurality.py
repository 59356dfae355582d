"""Single choice (plurality) and approval: worked examples (sources cited at each; see tests/tally/examples.py)."""

from __future__ import annotations

import pytest

from commons_app.services.tally import (
    TallyBallot,
    tally_approval,
    tally_single,
)
from commons_app.services.tally.notes import render_note
from tests.tally.examples import (
    CHATTANOOGA,
    CITIES,
    FORMS,
    KNOXVILLE,
    MEMPHIS,
    NASHVILLE,
    TENNESSEE_RANKED,
    by_id,
    ranked,
)

# --------------------------------------------------------------------------
# single (plurality)
# --------------------------------------------------------------------------


@pytest.mark.parametrize("form", FORMS)
def test_single_tennessee_memphis_wins_plurality(form: str) -> None:
    """Plurality elects Memphis with 42%.

    Source: Wikipedia "STAR voting" (comparison: "traditional first-past-the-post
    would elect Memphis") and electowiki "Effects of different voting systems
    under similar circumstances", section "Plurality".
    """
    ballots = ranked([(n, choices[:1]) for n, choices in TENNESSEE_RANKED], form)
    result = tally_single(CITIES, ballots)
    assert result.winners == [MEMPHIS]
    assert result.tie is False
    assert by_id(result, "weight") == {
        MEMPHIS: 42,
        NASHVILLE: 26,
        CHATTANOOGA: 15,
        KNOXVILLE: 17,
    }
    assert result.total_weight == 100
    assert result.total_ballots == (4 if form == "weighted" else 100)
    assert by_id(result, "votes") == (
        {MEMPHIS: 1, NASHVILLE: 1, CHATTANOOGA: 1, KNOXVILLE: 1}
        if form == "weighted"
        else {MEMPHIS: 42, NASHVILLE: 26, CHATTANOOGA: 15, KNOXVILLE: 17}
    )
    assert result.rounds == [] and result.detail == {} and result.notes == []


def test_single_tie_gives_several_winners() -> None:
    ballots = ranked([(3, (1,)), (3, (2,)), (1, (3,))], "repeated")
    result = tally_single([1, 2, 3], ballots)
    assert result.winners == [1, 2]
    assert result.tie is True
    assert len(result.notes) == 1 and "tied" in render_note(result.notes[0])


def test_single_weights_change_the_winner() -> None:
    """Three ballots for option 1 lose to two ballots of weight 2 for option 2."""
    ballots = [TallyBallot(choices=(1,)) for _ in range(3)] + [
        TallyBallot(weight=2.0, choices=(2,)) for _ in range(2)
    ]
    result = tally_single([1, 2], ballots)
    assert by_id(result, "votes") == {1: 3, 2: 2}
    assert by_id(result, "weight") == {1: 3.0, 2: 4.0}
    assert result.winners == [2]
    unweighted = tally_single([1, 2], [TallyBallot(choices=b.choices) for b in ballots])
    assert unweighted.winners == [1]


def test_single_no_ballots_and_blank_ballots() -> None:
    empty = tally_single([1, 2], [])
    assert empty.winners == [] and empty.tie is False
    assert empty.total_ballots == 0 and empty.total_weight == 0
    assert [option.option_id for option in empty.options] == [1, 2]
    blank = tally_single([1, 2], [TallyBallot(), TallyBallot(choices=(99,))])
    assert blank.winners == [] and blank.total_ballots == 2


# --------------------------------------------------------------------------
# approval
# --------------------------------------------------------------------------


@pytest.mark.parametrize("form", FORMS)
def test_approval_tennessee_top_two_nashville_wins(form: str) -> None:
    """Each voter approves their top two cities: Nashville wins with 68%.

    Source: Wikipedia "STAR voting" (comparison: "In approval voting, with each
    voter selecting their top two cities, Nashville would also win because of
    the significant boost from Memphis residents").
    """
    ballots = ranked([(n, choices[:2]) for n, choices in TENNESSEE_RANKED], form)
    result = tally_approval(CITIES, ballots)
    assert by_id(result, "weight") == {
        MEMPHIS: 42,
        NASHVILLE: 68,
        CHATTANOOGA: 58,
        KNOXVILLE: 32,
    }
    assert result.winners == [NASHVILLE]
    assert result.tie is False


@pytest.mark.parametrize("form", FORMS)
def test_approval_tennessee_mock_election_nashville_wins(form: str) -> None:
    """Mixed approvals: Nashville 50, Memphis 42, Chattanooga 36, Knoxville 21.

    Source: electorama/abiftool, testdata/mock-elections/tennessee-example-approval.abif
    ("Capitol of Tennessee Mock Approval Election").
    """
    groups = [
        (21, (MEMPHIS,)),
        (21, (MEMPHIS, NASHVILLE)),
        (13, (NASHVILLE,)),
        (13, (NASHVILLE, CHATTANOOGA)),
        (8, (CHATTANOOGA,)),
        (4, (CHATTANOOGA, KNOXVILLE)),
        (3, (CHATTANOOGA, NASHVILLE)),
        (9, (KNOXVILLE,)),
        (8, (KNOXVILLE, CHATTANOOGA)),
    ]
    result = tally_approval(CITIES, ranked(groups, form))
    assert by_id(result, "weight") == {
        MEMPHIS: 42,
        NASHVILLE: 50,
        CHATTANOOGA: 36,
        KNOXVILLE: 21,
    }
    assert result.winners == [NASHVILLE]
    assert result.total_weight == 100


def test_approval_tie_and_weights() -> None:
    ballots = [
        TallyBallot(choices=(1, 2)),
        TallyBallot(choices=(2, 3)),
        TallyBallot(choices=(1,)),
    ]
    result = tally_approval([1, 2, 3], ballots)
    assert by_id(result, "votes") == {1: 2, 2: 2, 3: 1}
    assert result.winners == [1, 2] and result.tie is True
    heavier = [TallyBallot(weight=1.5, choices=(2, 3)), *ballots[::2]]
    assert tally_approval([1, 2, 3], heavier).winners == [2]
