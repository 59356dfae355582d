"""tally(): dispatch and the behaviour every method shares (weights, empty input, bad input)."""

from __future__ import annotations

import json
import math
from dataclasses import asdict

import pytest

from commons_app.services.tally import (
    METHODS,
    TallyBallot,
    tally,
    tally_approval,
    tally_borda,
    tally_irv,
    tally_schulze,
    tally_score,
    tally_single,
    tally_star,
)
from commons_app.services.tally.ties import draw
from tests.tally.examples import (
    CHATTANOOGA,
    CITIES,
    KNOXVILLE,
    MEMPHIS,
    NASHVILLE,
    TENNESSEE_RANKED,
    TENNESSEE_STARS,
    assert_json_ready,
    by_id,
)

# --------------------------------------------------------------------------
# dispatch and shared behaviour
# --------------------------------------------------------------------------


def _any_ballots() -> list[TallyBallot]:
    """Ballots carrying both a ranking and scores, usable with every method."""
    return [
        TallyBallot(weight=float(n), choices=choices, scores=dict(stars))
        for (n, choices), (_, stars) in zip(
            TENNESSEE_RANKED, TENNESSEE_STARS, strict=True
        )
    ]


EXPECTED_TENNESSEE = {
    "single": [MEMPHIS],
    "approval": [
        MEMPHIS,
        NASHVILLE,
        CHATTANOOGA,
        KNOXVILLE,
    ],  # everyone approves every ranked city
    "irv": [KNOXVILLE],
    "schulze": [NASHVILLE],
    "borda": [NASHVILLE],
    "score": [NASHVILLE],
    "star": [NASHVILLE],
}


@pytest.mark.parametrize("method", METHODS)
def test_dispatch_matches_the_method_function(method: str) -> None:
    functions = {
        "single": tally_single,
        "approval": tally_approval,
        "irv": tally_irv,
        "schulze": tally_schulze,
        "borda": tally_borda,
        "score": tally_score,
        "star": tally_star,
    }
    result = tally(method, CITIES, _any_ballots())
    assert result == functions[method](CITIES, _any_ballots())
    assert result.method == method
    assert result.winners == EXPECTED_TENNESSEE[method]
    assert [option.option_id for option in result.options] == CITIES
    assert result.total_ballots == 4 and result.total_weight == 100
    assert_json_ready(result.rounds)
    assert_json_ready(result.detail)
    json.dumps(asdict(result))


@pytest.mark.parametrize("method", METHODS)
def test_weighted_and_repeated_ballots_agree(method: str) -> None:
    weighted = _any_ballots()
    repeated = [
        TallyBallot(choices=ballot.choices, scores=ballot.scores)
        for ballot in weighted
        for _ in range(int(ballot.weight))
    ]
    one = tally(method, CITIES, weighted)
    many = tally(method, CITIES, repeated)
    assert one.winners == many.winners
    assert one.total_weight == many.total_weight == 100
    assert [(o.weight, o.score, o.mean, o.points) for o in one.options] == [
        (o.weight, o.score, o.mean, o.points) for o in many.options
    ]
    assert one.rounds == many.rounds
    assert one.detail == many.detail
    assert one.tie == many.tie


@pytest.mark.parametrize("method", METHODS)
def test_no_ballots_no_winners(method: str) -> None:
    result = tally(method, [1, 2, 3], [])
    assert result.winners == []
    assert result.total_ballots == 0 and result.total_weight == 0
    assert result.tie is False
    assert [option.votes for option in result.options] == [0, 0, 0]
    assert_json_ready(result.rounds)
    assert_json_ready(result.detail)


@pytest.mark.parametrize("method", METHODS)
def test_no_options(method: str) -> None:
    result = tally(method, [], [TallyBallot(choices=(1,), scores={1: 5})])
    assert result.winners == [] and result.options == [] and result.total_ballots == 1


def test_unknown_method_raises() -> None:
    with pytest.raises(ValueError, match="unknown voting method"):
        tally("coin-toss", [1, 2], [])


@pytest.mark.parametrize("weight", [0.0, -1.0, math.nan, math.inf])
def test_invalid_weight_raises(weight: float) -> None:
    with pytest.raises(ValueError, match="weight"):
        tally_single([1, 2], [TallyBallot(weight=weight, choices=(1,))])


def test_duplicate_option_ids_raise() -> None:
    with pytest.raises(ValueError, match="duplicates"):
        tally_single([1, 1], [])


def test_unknown_and_repeated_ids_are_ignored() -> None:
    ballots = [TallyBallot(choices=(9, 2, 2, 1)), TallyBallot(choices=(1,))]
    assert by_id(tally_approval([1, 2], ballots), "votes") == {1: 2, 2: 1}
    assert by_id(tally_borda([1, 2], ballots), "points") == {1: 1, 2: 1}
    assert tally_single([1, 2], ballots).winners == [1, 2]


def test_float_rounding_does_not_break_ties() -> None:
    """0.1 + 0.2 and 0.3 differ in binary floating point, but the weights count as the decimals
    they were written as, so they tie exactly."""
    ballots = [
        TallyBallot(weight=0.1, choices=(1,)),
        TallyBallot(weight=0.2, choices=(1,)),
        TallyBallot(weight=0.3, choices=(2,)),
    ]
    assert tally_single([1, 2], ballots).winners == [1, 2]
    # IRV breaks the exact tie by lot (no earlier round): a tie, not a majority for either.
    irv = tally_irv([1, 2], ballots, seed="t")
    assert irv.rounds[0]["tie_break"]["kind"] == "irv_lot" and irv.winners == [3 - draw("t", [1, 2])]
