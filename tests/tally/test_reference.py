"""The optimized tally functions agree exactly with the plain reference implementation.

The reference (the first, straightforward version of every method) lives in bench/tallies.py,
which also times them; here a seeded sample of random and edge-case elections runs through both.
"""

from __future__ import annotations

from bench.tallies import check_random


def test_optimized_tallies_match_the_reference_implementation(capsys):
    failures = check_random(count=300, seed=20261124)
    out = capsys.readouterr().out
    assert "differences" in out
    assert failures == 0, out
