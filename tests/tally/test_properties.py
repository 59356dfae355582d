"""Property-based tests (Hypothesis) for ``commons_app.services.tally``.

Random polls of up to five options and a dozen weighted ballots are generated;
each ballot carries both a (possibly partial) ranking and a score map, so the
same ballots can be fed to every method. Weights are decimals of up to six
places, as people enter them; the tally takes each as that decimal exactly.
"""

from __future__ import annotations

import math
import random
from dataclasses import asdict, replace
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from commons_app.services.tally import (
    MAX_SCORE,
    METHODS,
    TallyBallot,
    tally,
    tally_approval,
    tally_irv,
    tally_schulze,
)

PROPERTY_SETTINGS = settings(max_examples=60, deadline=None, database=None)

WEIGHTS = st.one_of(
    st.sampled_from([1.0, 1.0, 1.0, 2.0, 0.5, 3.0, 0.1, 0.2, 0.3]),
    st.integers(min_value=1, max_value=10**8).map(lambda units: units / 10**6),
)


def exact(weight: float) -> Fraction:
    """The decimal a weight was written as, which is what the tally counts."""
    return Fraction(repr(weight))


@st.composite
def ballots_for(draw: st.DrawFn, option_ids: list[int]) -> TallyBallot:
    """Draw one ballot for the given options.

    Args:
        draw: Hypothesis draw function.
        option_ids: The poll's option ids.

    Returns:
        A ballot with a weight, a partial ranking and a score map.
    """
    ranking = draw(st.permutations(option_ids))
    length = draw(st.integers(min_value=0, max_value=len(option_ids)))
    scores = draw(
        st.dictionaries(
            st.sampled_from(option_ids),
            st.integers(min_value=0, max_value=MAX_SCORE),
            max_size=len(option_ids),
        )
    )
    return TallyBallot(
        weight=draw(WEIGHTS), choices=tuple(ranking[:length]), scores=scores
    )


@st.composite
def elections(
    draw: st.DrawFn, min_options: int = 1, min_ballots: int = 0
) -> tuple[list[int], list[TallyBallot]]:
    """Draw a poll: distinct option ids and a list of ballots.

    Args:
        draw: Hypothesis draw function.
        min_options: Smallest number of options.
        min_ballots: Smallest number of ballots.

    Returns:
        The option ids and the ballots.
    """
    option_ids = draw(
        st.lists(
            st.integers(min_value=1, max_value=99),
            min_size=min_options,
            max_size=5,
            unique=True,
        )
    )
    ballots = draw(st.lists(ballots_for(option_ids), min_size=min_ballots, max_size=12))
    return option_ids, ballots


def pairwise(
    option_ids: list[int], ballots: list[TallyBallot]
) -> dict[int, dict[int, Fraction]]:
    """Independent, exact pairwise count: unranked options rank below ranked ones.

    Args:
        option_ids: The option ids.
        ballots: The ballots (rankings in ``choices``).

    Returns:
        ``d[a][b]``: exact weight of the ballots ranking ``a`` above ``b``.
    """
    d = {a: {b: Fraction(0) for b in option_ids if b != a} for a in option_ids}
    for ballot in ballots:
        rank = {option_id: i for i, option_id in enumerate(ballot.choices)}
        for a in option_ids:
            for b in option_ids:
                if a != b and rank.get(a, math.inf) < rank.get(b, math.inf):
                    d[a][b] += exact(ballot.weight)
    return d


@PROPERTY_SETTINGS
@given(elections())
def test_totals_equal_ballot_count_and_weight_sum(
    election: tuple[list[int], list[TallyBallot]],
) -> None:
    option_ids, ballots = election
    expected_weight = float(sum((exact(ballot.weight) for ballot in ballots), Fraction(0)))
    for method in METHODS:
        result = tally(method, option_ids, ballots)
        assert result.total_ballots == len(ballots)
        assert result.total_weight == expected_weight


@PROPERTY_SETTINGS
@given(elections())
def test_winners_are_a_subset_of_option_ids(
    election: tuple[list[int], list[TallyBallot]],
) -> None:
    option_ids, ballots = election
    for method in METHODS:
        result = tally(method, option_ids, ballots)
        assert set(result.winners) <= set(option_ids)
        assert len(set(result.winners)) == len(result.winners)
        assert result.winners == sorted(result.winners, key=option_ids.index)
        assert [option.option_id for option in result.options] == option_ids
        if len(result.winners) > 1:
            assert result.tie
        if not ballots:
            assert result.winners == []


@PROPERTY_SETTINGS
@given(elections(), st.randoms(use_true_random=False))
def test_results_do_not_depend_on_ballot_order(
    election: tuple[list[int], list[TallyBallot]], rng: random.Random
) -> None:
    option_ids, ballots = election
    shuffled = list(ballots)
    rng.shuffle(shuffled)
    for method in METHODS:
        assert asdict(tally(method, option_ids, shuffled)) == asdict(
            tally(method, option_ids, ballots)
        )


@PROPERTY_SETTINGS
@given(elections(min_options=2, min_ballots=1))
def test_a_condorcet_winner_always_wins_schulze(
    election: tuple[list[int], list[TallyBallot]],
) -> None:
    option_ids, ballots = election
    d = pairwise(option_ids, ballots)
    result = tally_schulze(option_ids, ballots)
    condorcet = [a for a in option_ids if all(d[a][b] > d[b][a] for b in d[a])]
    if condorcet:
        assert result.winners == condorcet
        assert result.detail["condorcet_winner"] == condorcet[0]
    else:
        assert result.detail["condorcet_winner"] is None


@PROPERTY_SETTINGS
@given(elections(min_options=2), st.data())
def test_a_built_condorcet_winner_wins_schulze(
    election: tuple[list[int], list[TallyBallot]], data: st.DataObject
) -> None:
    """A block ranking X first, outweighing all other ballots, makes X the Condorcet winner."""
    option_ids, ballots = election
    favourite = data.draw(st.sampled_from(option_ids))
    rest = [option_id for option_id in option_ids if option_id != favourite]
    tail = data.draw(st.permutations(rest))
    block = TallyBallot(
        weight=math.fsum(b.weight for b in ballots) + 1.0, choices=(favourite, *tail)
    )
    result = tally_schulze(option_ids, [*ballots, block])
    assert result.winners == [favourite]
    assert result.detail["condorcet_winner"] == favourite


@PROPERTY_SETTINGS
@given(elections(min_options=1), st.data())
def test_a_first_preference_majority_wins_irv_in_the_first_round(
    election: tuple[list[int], list[TallyBallot]], data: st.DataObject
) -> None:
    option_ids, ballots = election
    favourite = data.draw(st.sampled_from(option_ids))
    others = math.fsum(
        b.weight for b in ballots if not b.choices or b.choices[0] != favourite
    )
    extra = data.draw(st.floats(min_value=0.01, max_value=10.0, allow_nan=False))
    block = TallyBallot(weight=others + extra, choices=(favourite,))
    result = tally_irv(option_ids, [*ballots, block])
    assert result.winners == [favourite]
    assert len(result.rounds) == 1
    assert result.rounds[0]["eliminated"] == []
    assert result.tie is False


@PROPERTY_SETTINGS
@given(elections(min_options=1, min_ballots=1), st.data())
def test_adding_an_approval_for_the_winner_never_makes_it_lose(
    election: tuple[list[int], list[TallyBallot]], data: st.DataObject
) -> None:
    option_ids, ballots = election
    before = tally_approval(option_ids, ballots)
    if not before.winners:
        # Nobody approved anything: one approval makes that option the sole winner.
        target = data.draw(st.sampled_from(option_ids))
        index = data.draw(st.integers(min_value=0, max_value=len(ballots) - 1))
        changed = list(ballots)
        changed[index] = replace(
            ballots[index], choices=(*ballots[index].choices, target)
        )
        assert tally_approval(option_ids, changed).winners == [target]
        return
    winner = data.draw(st.sampled_from(before.winners))
    without = [i for i, ballot in enumerate(ballots) if winner not in ballot.choices]
    changed = list(ballots)
    if without:
        index = data.draw(st.sampled_from(without))
        changed[index] = replace(
            ballots[index], choices=(*ballots[index].choices, winner)
        )
    else:
        changed.append(TallyBallot(weight=data.draw(WEIGHTS), choices=(winner,)))
    after = tally_approval(option_ids, changed)
    assert after.winners == [winner]


@PROPERTY_SETTINGS
@given(elections(), st.sampled_from([2.0, 0.5, 8.0]))
def test_scaling_every_weight_keeps_the_winners(
    election: tuple[list[int], list[TallyBallot]], factor: float
) -> None:
    """Scaling every decimal weight by the same factor scales every exact total, so even
    near-ties and exact ties are unchanged."""
    option_ids, ballots = election
    scaled = [replace(ballot, weight=ballot.weight * factor) for ballot in ballots]
    for method in METHODS:
        assert (
            tally(method, option_ids, scaled).winners
            == tally(method, option_ids, ballots).winners
        )
