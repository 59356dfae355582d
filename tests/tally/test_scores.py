"""Score voting and STAR: worked examples, runoff and scoring-round tie rules."""

from __future__ import annotations

import pytest

from commons_app.services.tally import (
    MAX_SCORE,
    TallyBallot,
    tally_score,
    tally_star,
)
from commons_app.services.tally.notes import render_note
from commons_app.services.tally.ties import draw
from tests.tally.examples import (
    CHATTANOOGA,
    CITIES,
    FORMS,
    KNOXVILLE,
    MEMPHIS,
    NASHVILLE,
    TENNESSEE_STARS,
    by_id,
    scored,
)

# --------------------------------------------------------------------------
# score
# --------------------------------------------------------------------------


@pytest.mark.parametrize("form", FORMS)
def test_score_tennessee_nashville_wins(form: str) -> None:
    """Nashville has the highest total score.

    Source: Wikipedia "Score voting", section "Example" (Tennessee capital:
    Nashville wins); the 0-5 ratings are those of electorama/abiftool
    tennessee-example-STAR.abif, since Wikipedia's score table uses 0-10.
    """
    result = tally_score(CITIES, scored(TENNESSEE_STARS, form))
    assert by_id(result, "score") == {
        MEMPHIS: 210,
        NASHVILLE: 261,
        CHATTANOOGA: 246,
        KNOXVILLE: 182,
    }
    assert by_id(result, "mean") == pytest.approx(
        {MEMPHIS: 2.1, NASHVILLE: 2.61, CHATTANOOGA: 2.46, KNOXVILLE: 1.82}
    )
    assert by_id(result, "weight") == {
        MEMPHIS: 42,
        NASHVILLE: 100,
        CHATTANOOGA: 100,
        KNOXVILLE: 58,
    }
    assert result.winners == [NASHVILLE]
    assert result.tie is False


def test_score_missing_scores_count_as_zero_and_ties() -> None:
    ballots = [
        TallyBallot(scores={1: 5}),
        TallyBallot(scores={2: 4, 3: 1}),
        TallyBallot(scores={2: 1, 99: 5}),
    ]
    result = tally_score([1, 2, 3], ballots)
    assert by_id(result, "score") == {1: 5, 2: 5, 3: 1}
    assert by_id(result, "votes") == {1: 1, 2: 2, 3: 1}
    assert by_id(result, "mean") == pytest.approx({1: 5 / 3, 2: 5 / 3, 3: 1 / 3})
    assert result.winners == [1, 2] and result.tie is True


def test_score_weights_and_zero_cases() -> None:
    ballots = [
        TallyBallot(weight=0.5, scores={1: 5, 2: 4}),
        TallyBallot(weight=2.0, scores={1: 1, 2: 2}),
    ]
    result = tally_score([1, 2], ballots)
    assert by_id(result, "score") == {1: 4.5, 2: 6.0}
    assert by_id(result, "mean") == {1: 1.8, 2: 2.4}
    assert result.winners == [2]
    empty = tally_score([1, 2], [])
    assert empty.winners == [] and by_id(empty, "mean") == {1: 0, 2: 0}
    zeros = tally_score([1, 2], [TallyBallot(scores={1: 0, 2: 0})])
    assert zeros.winners == []


# --------------------------------------------------------------------------
# STAR
# --------------------------------------------------------------------------


@pytest.mark.parametrize("form", FORMS)
def test_star_tennessee_nashville_wins_runoff(form: str) -> None:
    """Nashville and Chattanooga are the finalists; Nashville wins the runoff 68-32.

    Source: Wikipedia "STAR voting", section "Example" (Nashville and
    Chattanooga advance, Nashville wins); ratings from electorama/abiftool
    testdata/tenn-example/tennessee-example-STAR.abif.
    """
    result = tally_star(CITIES, scored(TENNESSEE_STARS, form))
    assert by_id(result, "score") == {
        MEMPHIS: 210,
        NASHVILLE: 261,
        CHATTANOOGA: 246,
        KNOXVILLE: 182,
    }
    assert result.detail == {
        "finalists": [NASHVILLE, CHATTANOOGA],
        "runoff": {"2": 68, "3": 32, "no_preference": 0},
    }
    assert result.winners == [NASHVILLE]
    assert result.tie is False and result.notes == []
    assert [r["stage"] for r in result.rounds] == ["scoring", "runoff"]


@pytest.mark.parametrize("form", FORMS)
def test_star_runoff_tie_with_equal_scores_and_five_stars_goes_to_the_lot(form: str) -> None:
    """Alice and Bob score 45 each and tie the runoff 5-5: both win.

    Source: electorama/abiftool, testdata/mock-elections/mock-scorestar-tie.abif
    ("Alice and Bob tie in the final pairwise round").
    """
    alice, bob, charlie = 1, 2, 3
    groups = [(5, {alice: 5, bob: 4, charlie: 2}), (5, {bob: 5, alice: 4, charlie: 2})]
    result = tally_star([alice, bob, charlie], scored(groups, form))
    assert by_id(result, "score") == {alice: 45, bob: 45, charlie: 20}
    assert result.detail == {
        "finalists": [alice, bob],
        "runoff": {"1": 5, "2": 5, "no_preference": 0},
    }
    # Equal runoff, equal scores, equal five-star ratings (5 each): the lot decides.
    assert result.winners == [draw(None, [alice, bob])]
    assert result.tie is True
    assert result.notes[0].figures["decided_by"] == "lot"


def test_star_runoff_tie_broken_by_score() -> None:
    a, b = 1, 2
    ballots = [TallyBallot(scores={a: 5, b: 0}), TallyBallot(scores={a: 0, b: 1})]
    result = tally_star([a, b], ballots)
    assert result.detail["runoff"] == {"1": 1, "2": 1, "no_preference": 0}
    assert result.winners == [a]
    assert result.tie is True
    assert len(result.notes) == 1 and "higher score" in render_note(result.notes[0])


def test_star_second_place_tie_broken_head_to_head() -> None:
    a, b, c = 1, 2, 3
    ballots = [
        TallyBallot(scores={a: 5, b: 4, c: 0}),
        TallyBallot(scores={a: 5, b: 0, c: 2}),
        TallyBallot(scores={a: 0, b: 0, c: 2}),
    ]
    result = tally_star([a, b, c], ballots)
    assert by_id(result, "score") == {a: 10, b: 4, c: 4}
    assert result.detail["finalists"] == [a, c]
    assert result.tie is True
    assert "head-to-head" in render_note(result.notes[0])
    assert result.rounds[0]["tie_break"] == result.notes[0].as_dict()
    assert result.winners == [a]


def test_star_second_place_tie_no_step_settles_goes_to_the_lot_not_option_order() -> None:
    a, b, c = 1, 2, 3
    ballots = [
        TallyBallot(scores={a: 5, b: 4, c: 0}),
        TallyBallot(scores={a: 5, b: 0, c: 4}),
    ]
    for seed in ("x", "y", "z"):
        second = draw(seed, [b, c])
        assert tally_star([a, b, c], ballots, seed=seed).detail["finalists"] == [a, second]
        result = tally_star([a, c, b], ballots, seed=seed)
        assert result.detail["finalists"] == [a, second]
        assert result.tie is True and "by lot" in render_note(result.notes[0])


def test_star_first_place_three_way_tie_uses_head_to_head() -> None:
    a, b, c = 1, 2, 3
    # All score 6; a beats b and c head-to-head, b beats c.
    ballots = [
        TallyBallot(scores={a: 3, b: 2, c: 1}),
        TallyBallot(scores={a: 3, b: 2, c: 1}),
        TallyBallot(scores={c: 4, b: 2}),
    ]
    result = tally_star([a, b, c], ballots)
    assert by_id(result, "score") == {a: 6, b: 6, c: 6}
    assert result.detail["finalists"] == [a, b]
    assert result.winners == [a] and result.tie is True


def test_star_weights_change_the_winner() -> None:
    a, b, c = 1, 2, 3
    ballots = [
        TallyBallot(scores={a: 5, b: 4}),
        TallyBallot(scores={a: 5, b: 4}),
        TallyBallot(scores={b: 5, a: 1}),
    ]
    assert tally_star([a, b, c], ballots).winners == [a]
    reweighted = [*ballots[:2], TallyBallot(weight=3.0, scores={b: 5, a: 1})]
    assert tally_star([a, b, c], reweighted).winners == [b]


def test_star_edge_cases() -> None:
    assert tally_star([7], [TallyBallot(scores={7: 3})]).winners == [7]
    assert tally_star([7], [TallyBallot(scores={})]).winners == [
        7
    ]  # a single option wins if there are ballots
    assert tally_star([7], []).winners == []
    assert tally_star([1, 2], []).winners == []
    assert tally_star([1, 2], [TallyBallot(scores={1: 0})]).winners == []
    # Only option 1 has support: the second finalist is not a real tie-break.
    lone = tally_star([1, 2, 3], [TallyBallot(scores={1: 2})])
    assert lone.detail["finalists"] == [1, 2]
    assert lone.winners == [1] and lone.tie is False and lone.notes == []


def test_star_scores_are_clamped() -> None:
    result = tally_star([1, 2], [TallyBallot(scores={1: 9, 2: -3})])
    assert by_id(result, "score") == {1: MAX_SCORE, 2: 0}
