"""Borda (truncated): worked examples."""

from __future__ import annotations

import pytest

from commons_app.services.tally import (
    TallyBallot,
    tally_borda,
)
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
# Borda
# --------------------------------------------------------------------------


@pytest.mark.parametrize("form", FORMS)
def test_borda_tennessee_nashville_wins(form: str) -> None:
    """Nashville 194, Chattanooga 173, Memphis 126, Knoxville 107.

    Source: Wikipedia "Borda count", section "Example" (Tennessee capital,
    points 3-2-1-0: Nashville wins).
    """
    result = tally_borda(CITIES, ranked(TENNESSEE_RANKED, form))
    assert by_id(result, "points") == {
        MEMPHIS: 126,
        NASHVILLE: 194,
        CHATTANOOGA: 173,
        KNOXVILLE: 107,
    }
    assert result.winners == [NASHVILLE]
    assert by_id(result, "weight") == {
        MEMPHIS: 42,
        NASHVILLE: 26,
        CHATTANOOGA: 15,
        KNOXVILLE: 17,
    }
    assert result.tie is False


def test_borda_truncated_partial_ballots_give_unranked_options_zero() -> None:
    a, b, c = 1, 2, 3
    result = tally_borda(
        [a, b, c], [TallyBallot(choices=(a,)), TallyBallot(choices=(b, c))]
    )
    assert by_id(result, "points") == {a: 2, b: 2, c: 1}
    assert result.winners == [a, b] and result.tie is True
    weighted = tally_borda(
        [a, b, c], [TallyBallot(weight=2.0, choices=(a,)), TallyBallot(choices=(b, c))]
    )
    assert by_id(weighted, "points") == {a: 4, b: 2, c: 1}
    assert weighted.winners == [a]


def test_borda_no_ballots() -> None:
    result = tally_borda([1, 2], [])
    assert result.winners == [] and by_id(result, "points") == {1: 0, 2: 0}
