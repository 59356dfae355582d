"""Instant runoff: worked examples and its rounds, exhaustion and tie rules."""

from __future__ import annotations

import pytest

from commons_app.services.tally import (
    TallyBallot,
    tally_irv,
    tally_single,
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
    TENNESSEE_RANKED,
    by_id,
    ranked,
)

# --------------------------------------------------------------------------
# instant runoff
# --------------------------------------------------------------------------


@pytest.mark.parametrize("form", FORMS)
def test_irv_tennessee_knoxville_wins(form: str) -> None:
    """Chattanooga then Nashville are eliminated; Knoxville beats Memphis 58-42.

    Source: Wikipedia "Instant-runoff voting", section "Examples" (Tennessee
    capital: "Knoxville wins", whereas plurality elects Memphis).
    """
    result = tally_irv(CITIES, ranked(TENNESSEE_RANKED, form))
    assert result.winners == [KNOXVILLE]
    assert result.tie is False and result.notes == []
    assert by_id(result, "weight") == {
        MEMPHIS: 42,
        NASHVILLE: 26,
        CHATTANOOGA: 15,
        KNOXVILLE: 17,
    }
    assert result.rounds == [
        {
            "round": 1,
            "tallies": {"1": 42, "2": 26, "3": 15, "4": 17},
            "exhausted": 0,
            "eliminated": [CHATTANOOGA],
            "transfers": {"4": 15},
            "tie_break": None,
        },
        {
            "round": 2,
            "tallies": {"1": 42, "2": 26, "4": 32},
            "exhausted": 0,
            "eliminated": [NASHVILLE],
            "transfers": {"4": 26},
            "tie_break": None,
        },
        {
            "round": 3,
            "tallies": {"1": 42, "4": 58},
            "exhausted": 0,
            "eliminated": [],
            "transfers": {},
            "tie_break": None,
        },
    ]
    assert tally_single(CITIES, ranked(TENNESSEE_RANKED, form)).winners == [MEMPHIS]


@pytest.mark.parametrize("form", FORMS)
def test_irv_tennessee_tie_variant_two_winners(form: str) -> None:
    """Memphis 42, Nashville 20, Chattanooga 10, Knoxville 12: the final round is tied 42-42.

    Source: electorama/abiftool, testdata/tenn-example/tennessee-example-irv-tie.abif
    ("only this time representing a tie election rather than an outright win").
    """
    groups = [
        (42, (MEMPHIS, NASHVILLE, CHATTANOOGA, KNOXVILLE)),
        (20, (NASHVILLE, CHATTANOOGA, KNOXVILLE, MEMPHIS)),
        (10, (CHATTANOOGA, KNOXVILLE, NASHVILLE, MEMPHIS)),
        (12, (KNOXVILLE, CHATTANOOGA, NASHVILLE, MEMPHIS)),
    ]
    result = tally_irv(CITIES, ranked(groups, form))
    # The final tie 42:42 is broken like any other (count-back): Knoxville had fewer in round 1.
    assert result.winners == [MEMPHIS]
    assert result.tie is True
    assert result.rounds[-2]["tallies"] == {"1": 42, "4": 42}
    assert result.rounds[-2]["eliminated"] == [KNOXVILLE]
    # 42 of 84 is exactly half, which is not a majority, so round 1 does not end the count.
    assert result.rounds[0]["eliminated"] == [CHATTANOOGA]
    assert [note.kind for note in result.notes] == ["irv_countback"]


def test_irv_exhausted_ballots_are_counted_and_leave_the_threshold() -> None:
    """Two bullet votes for C exhaust; A wins 6 of 11 continuing (only 6 of 13 overall)."""
    a, b, c = 1, 2, 3
    ballots = ranked([(6, (a,)), (4, (b,)), (2, (c,)), (1, (c, b))], "repeated")
    result = tally_irv([a, b, c], ballots)
    assert result.winners == [a]
    first, second = result.rounds
    assert first["tallies"] == {"1": 6, "2": 4, "3": 3}
    assert first["exhausted"] == 0
    assert first["eliminated"] == [c]
    assert first["transfers"] == {"2": 1}
    assert second["tallies"] == {"1": 6, "2": 5}
    assert second["exhausted"] == 2


def test_irv_partial_rankings_and_ballots_ranking_nothing() -> None:
    """Empty ballots are exhausted from round 1 and never count towards the majority."""
    a, b, c = 1, 2, 3
    ballots = [
        TallyBallot(choices=(a,)),
        TallyBallot(choices=(b, a)),
        TallyBallot(choices=()),
        TallyBallot(choices=(42,)),  # unknown id only: treated as empty
        TallyBallot(choices=(c, b)),
        TallyBallot(choices=(c,)),
    ]
    result = tally_irv([a, b, c], ballots)
    first = result.rounds[0]
    assert first["exhausted"] == 2
    assert first["tallies"] == {"1": 1, "2": 1, "3": 2}
    assert result.total_ballots == 6 and result.total_weight == 6
    # a and b tie for fewest in round 1 with no earlier round: the lot decides.
    assert first["eliminated"] == [draw(None, [a, b])]
    assert first["tie_break"]["kind"] == "irv_lot"


def test_irv_backwards_tie_break_uses_earlier_round() -> None:
    """B and C tie for fewest in round 2; C had fewer in round 1, so C is eliminated."""
    a, b, c, d = 1, 2, 3, 4
    ballots = ranked(
        [(10, (a,)), (6, (b, c)), (5, (c, b)), (2, (d, a)), (1, (d, c))], "repeated"
    )
    result = tally_irv([a, b, c, d], ballots)
    assert result.rounds[0]["eliminated"] == [d]
    assert result.rounds[0]["transfers"] == {"1": 2, "3": 1}
    second = result.rounds[1]
    assert second["tallies"] == {"1": 12, "2": 6, "3": 6}
    assert second["eliminated"] == [c]
    assert second["tie_break"] is not None and "backwards" in render_note(second["tie_break"])
    assert result.tie is True
    assert [note.as_dict() for note in result.notes] == [second["tie_break"]]
    assert "round 1" in render_note(result.notes[0])
    assert result.rounds[2]["tallies"] == {"1": 12, "2": 11}
    assert result.rounds[2]["exhausted"] == 1
    assert result.winners == [a]


def test_irv_lot_not_option_order_decides_a_tie_count_back_cannot_break() -> None:
    """C and D tie for fewest in round 1; the seeded lot decides, whatever the option order."""
    a, b, c, d = 1, 2, 3, 4
    ballots = ranked([(3, (a,)), (2, (b,)), (1, (c, b)), (1, (d, b))], "repeated")
    for seed in ("s1", "s2", "s3", "s4"):
        loser = draw(seed, [c, d])
        for order in ([a, b, c, d], [a, b, d, c]):
            result = tally_irv(order, ballots, seed=seed)
            assert result.rounds[0]["eliminated"] == [loser]
            assert result.tie is True and len(result.notes) == 1
            assert "by lot" in render_note(result.notes[0]) and seed in render_note(result.notes[0])
            assert result.rounds[0]["tie_break"] == result.notes[0].as_dict()
            assert result.winners == [b]


def test_irv_options_without_votes_are_eliminated_together_without_a_tie() -> None:
    a, b, c, d, e = 1, 2, 3, 4, 5
    ballots = ranked([(2, (a,)), (2, (b,)), (1, (c, a))], "repeated")
    result = tally_irv([a, b, c, d, e], ballots)
    assert result.rounds[0]["eliminated"] == [d, e]
    assert result.rounds[0]["transfers"] == {}
    assert result.rounds[1]["eliminated"] == [c]
    assert result.winners == [a]
    assert result.tie is False and result.notes == []


def test_irv_weights_change_the_winner() -> None:
    a, b, c = 1, 2, 3
    groups = [(4, (a,)), (3, (b, c)), (2, (c, b))]
    assert tally_irv([a, b, c], ranked(groups)).winners == [b]
    heavier_a = [TallyBallot(weight=1.6, choices=(a,)) for _ in range(4)] + ranked(
        groups[1:], "repeated"
    )
    assert tally_irv([a, b, c], heavier_a).winners == [a]


def test_irv_no_ballots() -> None:
    result = tally_irv([1, 2, 3], [])
    assert result.winners == [] and result.rounds == [] and result.tie is False
