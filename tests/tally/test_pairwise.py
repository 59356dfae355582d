"""Schulze: worked examples (Wikipedia's 45-voter example, Tennessee) and its pairwise detail."""

from __future__ import annotations

import pytest

from commons_app.services.tally import (
    TallyBallot,
    tally_schulze,
)
from tests.tally.examples import (
    CITIES,
    FORMS,
    NASHVILLE,
    TENNESSEE_RANKED,
    ranked,
)

# --------------------------------------------------------------------------
# Schulze
# --------------------------------------------------------------------------

# Wikipedia "Schulze method", section "Example": 45 voters, 5 candidates.
SCHULZE_45 = [
    (5, "ACBED"),
    (5, "ADECB"),
    (8, "BEDAC"),
    (3, "CABED"),
    (7, "CAEBD"),
    (2, "CBADE"),
    (7, "DCEBA"),
    (8, "EBADC"),
]
LETTER = {"A": 1, "B": 2, "C": 3, "D": 4, "E": 5}


@pytest.mark.parametrize("form", FORMS)
def test_schulze_wikipedia_45_voters_e_wins(form: str) -> None:
    """The pairwise and strongest-path matrices and the winner E match the article.

    Source: Wikipedia "Schulze method", section "Example" (45 voters; matrix of
    pairwise preferences, strongest paths; "E > A > C > B > D", winner E).
    """
    groups = [(n, tuple(LETTER[x] for x in order)) for n, order in SCHULZE_45]
    result = tally_schulze([1, 2, 3, 4, 5], ranked(groups, form))
    assert result.winners == [LETTER["E"]]
    assert result.tie is False
    assert result.detail["condorcet_winner"] is None
    pairwise = {
        "A": {"B": 20, "C": 26, "D": 30, "E": 22},
        "B": {"A": 25, "C": 16, "D": 33, "E": 18},
        "C": {"A": 19, "B": 29, "D": 17, "E": 24},
        "D": {"A": 15, "B": 12, "C": 28, "E": 14},
        "E": {"A": 23, "B": 27, "C": 21, "D": 31},
    }
    paths = {
        "A": {"B": 28, "C": 28, "D": 30, "E": 24},
        "B": {"A": 25, "C": 28, "D": 33, "E": 24},
        "C": {"A": 25, "B": 29, "D": 29, "E": 24},
        "D": {"A": 25, "B": 28, "C": 28, "E": 24},
        "E": {"A": 25, "B": 28, "C": 28, "D": 31},
    }

    def numeric(matrix: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
        return {
            str(LETTER[a]): {str(LETTER[b]): v for b, v in row.items()}
            for a, row in matrix.items()
        }

    assert result.detail["pairwise"] == numeric(pairwise)
    assert result.detail["strongest_paths"] == numeric(paths)
    # The full Schulze order E > A > C > B > D: count the options each one beats by paths.
    p = result.detail["strongest_paths"]
    beaten = {a: sum(p[a][b] > p[b][a] for b in p[a]) for a in p}
    assert sorted(beaten, key=beaten.__getitem__, reverse=True) == [
        str(LETTER[x]) for x in "EACBD"
    ]


@pytest.mark.parametrize("form", FORMS)
def test_schulze_tennessee_condorcet_winner_nashville(form: str) -> None:
    """Nashville beats every other city head-to-head (68-32, 68-32, 58-42).

    Source: Wikipedia "Condorcet method" / "Schulze method" Tennessee example
    (Nashville is the Condorcet winner).
    """
    result = tally_schulze(CITIES, ranked(TENNESSEE_RANKED, form))
    assert result.winners == [NASHVILLE]
    assert result.detail["condorcet_winner"] == NASHVILLE
    assert result.detail["pairwise"]["2"] == {"1": 58, "3": 68, "4": 68}
    assert result.rounds == []


def test_schulze_partial_rankings_rank_unranked_last() -> None:
    a, b, c = 1, 2, 3
    ballots = ranked([(2, (a,)), (3, (b, c))], "repeated")
    result = tally_schulze([a, b, c], ballots)
    pairwise = result.detail["pairwise"]
    assert pairwise["1"] == {"2": 2, "3": 2}  # a ranked, b and c unranked
    assert pairwise["2"] == {"1": 3, "3": 3}
    assert pairwise["3"] == {
        "1": 3,
        "2": 0,
    }  # b and c both unranked on a's ballots: no preference
    assert result.detail["condorcet_winner"] == b
    assert result.winners == [b]


def test_schulze_tie_and_no_ballots() -> None:
    tied = tally_schulze([1, 2], ranked([(1, (1, 2)), (1, (2, 1))], "repeated"))
    assert tied.winners == [1, 2] and tied.tie is True
    assert tied.detail["condorcet_winner"] is None
    empty = tally_schulze([1, 2], [])
    assert empty.winners == [] and empty.detail["condorcet_winner"] is None
    assert empty.detail["pairwise"] == {"1": {"2": 0}, "2": {"1": 0}}


def test_schulze_weights_change_the_winner() -> None:
    ballots = [
        TallyBallot(choices=(1, 2)),
        TallyBallot(choices=(1, 2)),
        TallyBallot(weight=3.0, choices=(2, 1)),
    ]
    assert tally_schulze([1, 2], ballots).winners == [2]
    assert tally_schulze(
        [1, 2], [TallyBallot(choices=b.choices) for b in ballots]
    ).winners == [1]
