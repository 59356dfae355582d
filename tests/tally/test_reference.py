"""The optimised tally agrees exactly with the plain reference implementation inside the package.

``tally(..., algorithm="reference")`` counts with ``commons_app.services.tally.reference`` (the
first, straightforward version of every method); here a seeded sample of random and edge-case
elections runs through both (``bench/tallies.py`` also times them).
"""

from __future__ import annotations

from commons_app.services.tally import TallyBallot, tally
from commons_app.services.tally.reference import check_random, same_result


def test_optimized_tallies_match_the_reference_implementation():
    failures, lines = check_random(count=300, seed=20261124)
    assert failures == 0, "\n".join(lines)


def test_reference_is_selectable_and_agrees_on_a_seeded_lot():
    ballots = [TallyBallot(choices=(1,)), TallyBallot(choices=(2,)), TallyBallot(choices=(3, 1))]
    for seed in ("a", "b", "c"):
        assert same_result("irv", [1, 2, 3], ballots, seed=seed) is None
    fast = tally("irv", [1, 2, 3], ballots, seed="a")
    assert tally("irv", [1, 2, 3], ballots, seed="a", algorithm="reference") == fast
