"""Multi-winner STV: Scottish STV and Meek STV against published worked examples.

Published ballot files of real Scottish council wards are not reachable from this machine, so the
counts reproduced here are the standard worked examples with their published figures (each cited
at its test).
"""

from __future__ import annotations

import pytest

from commons_app.services.tally import TallyBallot, tally

ORANGE, PEAR, CHOCOLATE, STRAWBERRY, SWEETS = 1, 2, 3, 4, 5
FOOD = [ORANGE, PEAR, CHOCOLATE, STRAWBERRY, SWEETS]


def _food() -> list[TallyBallot]:
    """The 20-voter food election of Wikipedia's "Single transferable vote" article (3 seats)."""
    return (
        [TallyBallot(choices=(ORANGE,))] * 4
        + [TallyBallot(choices=(PEAR, ORANGE))] * 2
        + [TallyBallot(choices=(CHOCOLATE, STRAWBERRY))] * 8
        + [TallyBallot(choices=(CHOCOLATE, SWEETS))] * 4
        + [TallyBallot(choices=(STRAWBERRY,))]
        + [TallyBallot(choices=(SWEETS,))]
    )


def test_scottish_stv_reproduces_the_published_food_election() -> None:
    # Published count (Wikipedia, "Single transferable vote", example): Droop quota 6; Chocolate
    # elected with 12, surplus 6 passes at 0.5 (Strawberry +4, Sweets +2); Pear excluded, Orange
    # reaches 6 and is elected; Sweets excluded, Strawberry takes the last seat.
    result = tally("stv", FOOD, _food(), seats=3, stv_rule="scottish")
    assert result.winners == [CHOCOLATE, ORANGE, STRAWBERRY]
    first, surplus, pear_out, sweets_out = result.rounds
    assert first["quota"] == 6 and first["votes"] == {"1": 4, "2": 2, "3": 12, "4": 1, "5": 1}
    assert first["elected"] == [CHOCOLATE]
    assert surplus["action"] == "surplus" and surplus["surplus"] == 6 and surplus["transfer_value"] == 0.5
    assert surplus["transfers"] == {"4": 4, "5": 2}
    assert pear_out["action"] == "exclusion" and pear_out["option"] == PEAR and pear_out["elected"] == [ORANGE]
    assert sweets_out["option"] == SWEETS and sweets_out["elected"] == [STRAWBERRY]
    assert result.tie is False and result.notes == []


def test_stv_options_are_checked() -> None:
    with pytest.raises(ValueError, match="STV rule"):
        tally("stv", FOOD, _food(), seats=2, stv_rule="irish")
    with pytest.raises(ValueError, match="seats"):
        tally("stv", FOOD, _food(), seats=0)
    with pytest.raises(ValueError, match="takes no option"):
        tally("irv", FOOD, _food(), seats=2)


def test_meek_stv_elects_the_food_election() -> None:
    result = tally("stv", FOOD, _food(), seats=3, stv_rule="meek")
    assert sorted(result.winners) == sorted([CHOCOLATE, ORANGE, STRAWBERRY])
    assert result.winners[0] == CHOCOLATE
