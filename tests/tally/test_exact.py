"""Exact counts: no tolerance anywhere in deciding results (issue "Exact counts").

Ballot weights are decimals as people wrote them (at most six decimal places, at most
1,000,000), so ``0.1 + 0.2`` ties exactly with ``0.3`` and ``1,000,000.0001`` beats
``1,000,000``. Every sum and every comparison that decides winners, eliminations, rankings,
runoffs, Schulze paths or STAR finalists must be exact; floats only appear in the figures shown.

Every test runs with both strategies the tally uses to sum weights (per weight class, and per
"limb" beyond ``_CLASS_LIMIT`` distinct weights).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from commons_app.services.tally import (
    MAX_SCORE,
    METHODS,
    TallyBallot,
    TallyResult,
    tally,
    tally_approval,
    tally_borda,
    tally_irv,
    tally_schulze,
    tally_score,
    tally_single,
    tally_single_counts,
    tally_star,
)
from commons_app.services.tally import exact as tally_exact

A, B, C = 1, 2, 3
BIG = 1_000_000.0
SMALL = 0.0001


@pytest.fixture(params=["per-class", "per-limb"], autouse=True)
def strategy(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Run each test once per weight-summing strategy of the tally."""
    if request.param == "per-limb":
        monkeypatch.setattr(tally_exact, "_CLASS_LIMIT", 0)
    yield request.param


def _sole_winner(result: TallyResult, winner: int) -> None:
    assert result.winners == [winner]
    assert result.tie is False
    assert result.notes == []


def _exact(weight: float) -> Fraction:
    """The decimal a float weight was written as."""
    return Fraction(repr(weight))


# --------------------------------------------------------------------------
# One ballot of weight 0.0001 decides against 1,000,000 a side
# --------------------------------------------------------------------------


def test_single_a_ten_thousandth_decides() -> None:
    ballots = [
        TallyBallot(weight=BIG, choices=(A,)),
        TallyBallot(weight=BIG, choices=(B,)),
        TallyBallot(weight=SMALL, choices=(A,)),
    ]
    result = tally_single([A, B], ballots)
    _sole_winner(result, A)
    assert [option.weight for option in result.options] == [1_000_000.0001, BIG]
    assert result.total_weight == 2_000_000.0001


def test_single_counts_a_ten_thousandth_decides() -> None:
    result = tally_single_counts([A, B], [(A, BIG, 1), (B, BIG, 1), (A, SMALL, 1)])
    _sole_winner(result, A)
    assert [option.weight for option in result.options] == [1_000_000.0001, BIG]
    assert result.total_weight == 2_000_000.0001


def test_approval_a_ten_thousandth_decides() -> None:
    ballots = [
        TallyBallot(weight=BIG, choices=(A, C)),
        TallyBallot(weight=BIG, choices=(B,)),
        TallyBallot(weight=SMALL, choices=(A,)),
        TallyBallot(weight=0.00005, choices=(B, C)),
    ]
    result = tally_approval([A, B, C], ballots)
    _sole_winner(result, A)
    assert [option.weight for option in result.options] == [1_000_000.0001, 1_000_000.00005, 1_000_000.00005]


def test_irv_a_ten_thousandth_gives_a_majority() -> None:
    ballots = [
        TallyBallot(weight=BIG, choices=(A,)),
        TallyBallot(weight=BIG, choices=(B,)),
        TallyBallot(weight=SMALL, choices=(A,)),
    ]
    result = tally_irv([A, B], ballots)
    _sole_winner(result, A)
    assert len(result.rounds) == 1


def test_irv_a_ten_thousandth_decides_the_elimination() -> None:
    """A has 0.0001 more than B in round 1, so B (not A) is eliminated and A then wins.

    Were A and B taken as tied, the option-order tie-break would eliminate A (listed after B)
    and B would win on A's transfers.
    """
    ballots = [
        TallyBallot(weight=BIG, choices=(A, B)),
        TallyBallot(weight=SMALL, choices=(A,)),
        TallyBallot(weight=BIG, choices=(B, A)),
        TallyBallot(weight=1_500_000.0, choices=(C,)),
    ]
    result = tally_irv([B, A, C], ballots)
    _sole_winner(result, A)
    assert result.rounds[0]["eliminated"] == [B]
    assert result.rounds[0]["tie_break"] is None


def test_borda_a_ten_thousandth_decides() -> None:
    ballots = [
        TallyBallot(weight=BIG, choices=(A, B)),
        TallyBallot(weight=BIG, choices=(B, A)),
        TallyBallot(weight=SMALL, choices=(A,)),
    ]
    result = tally_borda([A, B], ballots)
    _sole_winner(result, A)
    assert [option.points for option in result.options] == [1_000_000.0001, BIG]


def test_score_a_ten_thousandth_decides() -> None:
    ballots = [
        TallyBallot(weight=BIG, scores={A: MAX_SCORE}),
        TallyBallot(weight=BIG, scores={B: MAX_SCORE}),
        TallyBallot(weight=SMALL, scores={A: 1}),
    ]
    result = tally_score([A, B], ballots)
    _sole_winner(result, A)
    assert [option.score for option in result.options] == [5_000_000.0001, 5_000_000.0]


def test_star_a_ten_thousandth_decides_the_runoff() -> None:
    ballots = [
        TallyBallot(weight=BIG, scores={A: MAX_SCORE, B: 0}),
        TallyBallot(weight=BIG, scores={B: MAX_SCORE, A: 0}),
        TallyBallot(weight=SMALL, scores={A: 1}),
    ]
    result = tally_star([A, B], ballots)
    _sole_winner(result, A)
    assert result.detail["runoff"] == {str(A): 1_000_000.0001, str(B): BIG, "no_preference": 0.0}


def test_star_a_ten_thousandth_decides_the_finalists() -> None:
    """C scores 0.0001 more than B, so C (not B) joins A in the runoff, and C wins it.

    Were B and C taken as tied for second place (and tied head-to-head, where C is also ahead
    by 0.0001 only), the option order would send B to the runoff, and B would win it.
    """
    ballots = [
        TallyBallot(weight=BIG, scores={A: 5, B: 0, C: 0}),
        TallyBallot(weight=BIG, scores={C: 3, B: 2, A: 0}),
        TallyBallot(weight=BIG, scores={B: 1, A: 0, C: 0}),
        TallyBallot(weight=SMALL, scores={C: 1}),
    ]
    result = tally_star([A, B, C], ballots)
    assert [option.score for option in result.options] == [5_000_000.0, 3_000_000.0, 3_000_000.0001]
    assert result.detail["finalists"] == [A, C]
    assert result.rounds[0]["tie_break"] is None
    _sole_winner(result, C)


def test_schulze_a_ten_thousandth_decides_the_pairwise_contest() -> None:
    ballots = [
        TallyBallot(weight=BIG, choices=(A, B)),
        TallyBallot(weight=BIG, choices=(B, A)),
        TallyBallot(weight=SMALL, choices=(A,)),
    ]
    result = tally_schulze([A, B], ballots)
    _sole_winner(result, A)
    assert result.detail["condorcet_winner"] == A


def test_schulze_a_ten_thousandth_decides_the_strongest_paths() -> None:
    """A cycle of equal strength, broken only by the 0.0001 ballot ranking A over B over C."""
    ballots = [
        TallyBallot(weight=BIG, choices=(A, B, C)),
        TallyBallot(weight=BIG, choices=(B, C, A)),
        TallyBallot(weight=BIG, choices=(C, A, B)),
        TallyBallot(weight=SMALL, choices=(A, B)),
    ]
    result = tally_schulze([A, B, C], ballots)
    _sole_winner(result, A)
    assert result.detail["condorcet_winner"] is None
    assert result.detail["strongest_paths"][str(A)] == {str(B): 2_000_000.0001, str(C): 2_000_000.0001}


# --------------------------------------------------------------------------
# Decimal weights: 0.1 + 0.2 is 0.3
# --------------------------------------------------------------------------


def test_single_tenth_plus_two_tenths_ties_exactly_with_three_tenths() -> None:
    ballots = [
        TallyBallot(weight=0.1, choices=(A,)),
        TallyBallot(weight=0.2, choices=(A,)),
        TallyBallot(weight=0.3, choices=(B,)),
    ]
    result = tally_single([A, B], ballots)
    assert result.winners == [A, B] and result.tie is True
    # Both totals are the decimal 0.3, shown as the float nearest to it (not 0.30000000000000004).
    assert [option.weight for option in result.options] == [0.3, 0.3]
    assert result.total_weight == 0.6
    counted = tally_single_counts([A, B], [(A, 0.1, 1), (A, 0.2, 1), (B, 0.3, 1)])
    assert counted == result


def test_three_tenths_beat_a_ten_thousandth_less() -> None:
    ballots = [
        TallyBallot(weight=0.1, choices=(A,)),
        TallyBallot(weight=0.2, choices=(A,)),
        TallyBallot(weight=0.2999, choices=(B,)),
        TallyBallot(weight=0.0001, choices=(B,)),
        TallyBallot(weight=0.000001, choices=(A,)),
    ]
    _sole_winner(tally_single([A, B], ballots), A)


# --------------------------------------------------------------------------
# Large magnitudes: differences far below a float's resolution
# --------------------------------------------------------------------------

HEAVY = 999_999.999999
MANY = 200_000


def test_large_totals_a_millionth_apart_single() -> None:
    """200,000 ballots of 999,999.999999 a side (about 2e11 each) and one millionth more for B.

    The two totals round to the same float, so only an exact comparison can tell them apart.
    """
    ballots = [TallyBallot(weight=HEAVY, choices=(A,))] * MANY + [TallyBallot(weight=HEAVY, choices=(B,))] * MANY
    ballots.append(TallyBallot(weight=0.000001, choices=(B,)))
    result = tally_single([A, B], ballots)
    _sole_winner(result, B)
    assert result.options[0].weight == result.options[1].weight  # the shown figures cannot tell
    counted = tally_single_counts([A, B], [(A, HEAVY, MANY), (B, HEAVY, MANY), (B, 0.000001, 1)])
    _sole_winner(counted, B)
    assert counted == result


def test_large_totals_a_millionth_apart_with_heavy_weights_only() -> None:
    """B has one ballot of 1,000,000 where A has 999,999.999999: B is ahead by a millionth."""
    ballots = [TallyBallot(weight=HEAVY, choices=(A,))] * MANY
    ballots += [TallyBallot(weight=HEAVY, choices=(B,))] * (MANY - 1)
    ballots.append(TallyBallot(weight=BIG, choices=(B,)))
    random.Random(3).shuffle(ballots)
    for method in ("single", "approval", "irv", "schulze", "borda"):
        _sole_winner(tally(method, [A, B], ballots), B)
    counted = tally_single_counts([A, B], [(A, HEAVY, MANY), (B, HEAVY, MANY - 1), (B, BIG, 1)])
    _sole_winner(counted, B)


def test_large_totals_a_millionth_apart_scored() -> None:
    ballots = [TallyBallot(weight=HEAVY, scores={A: 5, B: 4})] * MANY
    ballots += [TallyBallot(weight=HEAVY, scores={B: 5, A: 4})] * (MANY - 1)
    ballots.append(TallyBallot(weight=BIG, scores={B: 5, A: 4}))
    _sole_winner(tally_score([A, B], ballots), B)
    _sole_winner(tally_star([A, B], ballots), B)


# --------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------

# Decimal weights as people enter them: up to six decimal places and at most 1,000,000, with
# the awkward ones (huge against tiny, tenths) drawn often.
DECIMAL_WEIGHTS = st.one_of(
    st.sampled_from([1.0, 0.1, 0.2, 0.3, 0.0001, 0.000001, 999_999.999999, 1_000_000.0, 2.5]),
    st.integers(min_value=1, max_value=10**12).map(lambda units: units / 10**6),
)


@st.composite
def decimal_elections(draw: st.DrawFn) -> tuple[list[int], list[TallyBallot]]:
    """A poll of up to four options whose ballots carry decimal weights, rankings and scores."""
    option_ids = draw(st.lists(st.integers(min_value=1, max_value=9), min_size=1, max_size=4, unique=True))
    ballot = st.builds(
        TallyBallot,
        weight=DECIMAL_WEIGHTS,
        choices=st.permutations(option_ids).flatmap(
            lambda ranking: st.integers(min_value=0, max_value=len(ranking)).map(lambda n: tuple(ranking[:n]))
        ),
        scores=st.dictionaries(st.sampled_from(option_ids), st.integers(min_value=0, max_value=MAX_SCORE)),
    )
    return option_ids, draw(st.lists(ballot, max_size=10))


EXACT_SETTINGS = settings(max_examples=150, deadline=None, database=None)


@EXACT_SETTINGS
@given(decimal_elections(), st.randoms(use_true_random=False))
def test_winners_never_change_when_the_ballots_are_shuffled(
    election: tuple[list[int], list[TallyBallot]], rng: random.Random
) -> None:
    option_ids, ballots = election
    shuffled = list(ballots)
    rng.shuffle(shuffled)
    for method in METHODS:
        before, after = tally(method, option_ids, ballots), tally(method, option_ids, shuffled)
        assert after.winners == before.winners
        assert after == before


@EXACT_SETTINGS
@given(decimal_elections())
def test_additive_methods_pick_the_exact_maximum(election: tuple[list[int], list[TallyBallot]]) -> None:
    """Single, approval, Borda and score winners are the options with the exactly greatest total."""
    option_ids, ballots = election
    n = len(option_ids)
    totals: dict[str, dict[int, Fraction]] = {
        method: dict.fromkeys(option_ids, Fraction(0)) for method in ("single", "approval", "borda", "score")
    }
    for ballot in ballots:
        weight = _exact(ballot.weight)
        if ballot.choices:
            totals["single"][ballot.choices[0]] += weight
        for position, option_id in enumerate(ballot.choices):
            totals["approval"][option_id] += weight
            totals["borda"][option_id] += weight * (n - 1 - position)
        for option_id, score in (ballot.scores or {}).items():
            totals["score"][option_id] += weight * score
    for method, by_option in totals.items():
        best = max(by_option.values())
        expected = [option_id for option_id in option_ids if by_option[option_id] == best]
        nothing = best == 0 if method != "borda" else not any(ballot.choices for ballot in ballots)
        result = tally(method, option_ids, ballots)
        assert result.winners == ([] if nothing else expected), method
        assert result.total_weight == float(sum((_exact(b.weight) for b in ballots), Fraction(0)))
