"""Worked examples for every tally method of ``commons_app.services.tally``.

Each method is checked against published examples whose answer is known; the
source is cited next to each example. Most examples are given twice: once with
one ballot per voter group, weighted by the number of voters, and once as that
many explicit unit-weight ballots, and both forms must give the same answer.

The "Tennessee capital" example (100 voters; 42% Memphis, 26% Nashville, 15%
Chattanooga, 17% Knoxville, each preferring nearer cities) is used on
Wikipedia in "Instant-runoff voting", "Borda count", "Condorcet method",
"Schulze method", "Score voting" and "STAR voting", and on electowiki in
"Effects of different voting systems under similar circumstances".
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

import pytest

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
    tally_star,
)
from commons_app.services.tally.notes import render_note
from commons_app.services.tally.ties import draw

MEMPHIS, NASHVILLE, CHATTANOOGA, KNOXVILLE = 1, 2, 3, 4
CITIES = [MEMPHIS, NASHVILLE, CHATTANOOGA, KNOXVILLE]

# Sincere rankings of the Tennessee example (Wikipedia "Instant-runoff voting",
# section "Examples"; identical in "Borda count" and "Condorcet method").
TENNESSEE_RANKED: list[tuple[int, tuple[int, ...]]] = [
    (42, (MEMPHIS, NASHVILLE, CHATTANOOGA, KNOXVILLE)),
    (26, (NASHVILLE, CHATTANOOGA, KNOXVILLE, MEMPHIS)),
    (15, (CHATTANOOGA, KNOXVILLE, NASHVILLE, MEMPHIS)),
    (17, (KNOXVILLE, CHATTANOOGA, NASHVILLE, MEMPHIS)),
]

# 0-5 star ratings of the Tennessee example as published in electorama/abiftool,
# testdata/tenn-example/tennessee-example-STAR.abif ("Tennessee capitol example
# ... frequently used on Wikipedia and electowiki"). The outcome - Nashville
# and Chattanooga are the finalists and Nashville wins - is the one Wikipedia
# "STAR voting" (section "Example") gives for its own 0-5 ratings.
TENNESSEE_STARS: list[tuple[int, dict[int, int]]] = [
    (42, {MEMPHIS: 5, NASHVILLE: 2, CHATTANOOGA: 1, KNOXVILLE: 0}),
    (26, {NASHVILLE: 5, CHATTANOOGA: 3, KNOXVILLE: 2, MEMPHIS: 0}),
    (15, {CHATTANOOGA: 5, KNOXVILLE: 3, NASHVILLE: 2, MEMPHIS: 0}),
    (17, {KNOXVILLE: 5, CHATTANOOGA: 3, NASHVILLE: 1, MEMPHIS: 0}),
]

FORMS = ["weighted", "repeated"]


def ranked(
    groups: Sequence[tuple[float, tuple[int, ...]]], form: str = "weighted"
) -> list[TallyBallot]:
    """Build ballots from (voters, choices) groups.

    Args:
        groups: Number of voters and their choices.
        form: ``"weighted"`` for one ballot per group weighted by its voters,
            ``"repeated"`` for that many unit-weight ballots.

    Returns:
        The ballots.
    """
    if form == "weighted":
        return [TallyBallot(weight=float(n), choices=choices) for n, choices in groups]
    return [
        TallyBallot(choices=choices) for n, choices in groups for _ in range(int(n))
    ]


def scored(
    groups: Sequence[tuple[float, Mapping[int, int]]], form: str = "weighted"
) -> list[TallyBallot]:
    """Build score ballots from (voters, scores) groups.

    Args:
        groups: Number of voters and their scores.
        form: ``"weighted"`` or ``"repeated"``, as for :func:`ranked`.

    Returns:
        The ballots.
    """
    if form == "weighted":
        return [
            TallyBallot(weight=float(n), scores=dict(scores)) for n, scores in groups
        ]
    return [
        TallyBallot(scores=dict(scores)) for n, scores in groups for _ in range(int(n))
    ]


def by_id(result: TallyResult, attribute: str) -> dict[int, Any]:
    """Map option id to one attribute of its OptionTally.

    Args:
        result: A tally result.
        attribute: Name of the OptionTally attribute.

    Returns:
        ``{option_id: value}``.
    """
    return {option.option_id: getattr(option, attribute) for option in result.options}


def assert_json_ready(value: Any) -> None:
    """Assert a value is made only of str-keyed dicts, lists, str, numbers, bool and None.

    Args:
        value: The value to check.
    """
    if isinstance(value, dict):
        for key, item in value.items():
            assert isinstance(key, str), f"non-string key {key!r}"
            assert_json_ready(item)
    elif isinstance(value, list):
        for item in value:
            assert_json_ready(item)
    else:
        assert value is None or isinstance(value, (str, int, float, bool)), repr(value)
        if isinstance(value, float):
            assert math.isfinite(value)


# --------------------------------------------------------------------------
# single (plurality)
# --------------------------------------------------------------------------


@pytest.mark.parametrize("form", FORMS)
def test_single_tennessee_memphis_wins_plurality(form: str) -> None:
    """Plurality elects Memphis with 42%.

    Source: Wikipedia "STAR voting" (comparison: "traditional first-past-the-post
    would elect Memphis") and electowiki "Effects of different voting systems
    under similar circumstances", section "Plurality".
    """
    ballots = ranked([(n, choices[:1]) for n, choices in TENNESSEE_RANKED], form)
    result = tally_single(CITIES, ballots)
    assert result.winners == [MEMPHIS]
    assert result.tie is False
    assert by_id(result, "weight") == {
        MEMPHIS: 42,
        NASHVILLE: 26,
        CHATTANOOGA: 15,
        KNOXVILLE: 17,
    }
    assert result.total_weight == 100
    assert result.total_ballots == (4 if form == "weighted" else 100)
    assert by_id(result, "votes") == (
        {MEMPHIS: 1, NASHVILLE: 1, CHATTANOOGA: 1, KNOXVILLE: 1}
        if form == "weighted"
        else {MEMPHIS: 42, NASHVILLE: 26, CHATTANOOGA: 15, KNOXVILLE: 17}
    )
    assert result.rounds == [] and result.detail == {} and result.notes == []


def test_single_tie_gives_several_winners() -> None:
    ballots = ranked([(3, (1,)), (3, (2,)), (1, (3,))], "repeated")
    result = tally_single([1, 2, 3], ballots)
    assert result.winners == [1, 2]
    assert result.tie is True
    assert len(result.notes) == 1 and "tied" in render_note(result.notes[0])


def test_single_weights_change_the_winner() -> None:
    """Three ballots for option 1 lose to two ballots of weight 2 for option 2."""
    ballots = [TallyBallot(choices=(1,)) for _ in range(3)] + [
        TallyBallot(weight=2.0, choices=(2,)) for _ in range(2)
    ]
    result = tally_single([1, 2], ballots)
    assert by_id(result, "votes") == {1: 3, 2: 2}
    assert by_id(result, "weight") == {1: 3.0, 2: 4.0}
    assert result.winners == [2]
    unweighted = tally_single([1, 2], [TallyBallot(choices=b.choices) for b in ballots])
    assert unweighted.winners == [1]


def test_single_no_ballots_and_blank_ballots() -> None:
    empty = tally_single([1, 2], [])
    assert empty.winners == [] and empty.tie is False
    assert empty.total_ballots == 0 and empty.total_weight == 0
    assert [option.option_id for option in empty.options] == [1, 2]
    blank = tally_single([1, 2], [TallyBallot(), TallyBallot(choices=(99,))])
    assert blank.winners == [] and blank.total_ballots == 2


# --------------------------------------------------------------------------
# approval
# --------------------------------------------------------------------------


@pytest.mark.parametrize("form", FORMS)
def test_approval_tennessee_top_two_nashville_wins(form: str) -> None:
    """Each voter approves their top two cities: Nashville wins with 68%.

    Source: Wikipedia "STAR voting" (comparison: "In approval voting, with each
    voter selecting their top two cities, Nashville would also win because of
    the significant boost from Memphis residents").
    """
    ballots = ranked([(n, choices[:2]) for n, choices in TENNESSEE_RANKED], form)
    result = tally_approval(CITIES, ballots)
    assert by_id(result, "weight") == {
        MEMPHIS: 42,
        NASHVILLE: 68,
        CHATTANOOGA: 58,
        KNOXVILLE: 32,
    }
    assert result.winners == [NASHVILLE]
    assert result.tie is False


@pytest.mark.parametrize("form", FORMS)
def test_approval_tennessee_mock_election_nashville_wins(form: str) -> None:
    """Mixed approvals: Nashville 50, Memphis 42, Chattanooga 36, Knoxville 21.

    Source: electorama/abiftool, testdata/mock-elections/tennessee-example-approval.abif
    ("Capitol of Tennessee Mock Approval Election").
    """
    groups = [
        (21, (MEMPHIS,)),
        (21, (MEMPHIS, NASHVILLE)),
        (13, (NASHVILLE,)),
        (13, (NASHVILLE, CHATTANOOGA)),
        (8, (CHATTANOOGA,)),
        (4, (CHATTANOOGA, KNOXVILLE)),
        (3, (CHATTANOOGA, NASHVILLE)),
        (9, (KNOXVILLE,)),
        (8, (KNOXVILLE, CHATTANOOGA)),
    ]
    result = tally_approval(CITIES, ranked(groups, form))
    assert by_id(result, "weight") == {
        MEMPHIS: 42,
        NASHVILLE: 50,
        CHATTANOOGA: 36,
        KNOXVILLE: 21,
    }
    assert result.winners == [NASHVILLE]
    assert result.total_weight == 100


def test_approval_tie_and_weights() -> None:
    ballots = [
        TallyBallot(choices=(1, 2)),
        TallyBallot(choices=(2, 3)),
        TallyBallot(choices=(1,)),
    ]
    result = tally_approval([1, 2, 3], ballots)
    assert by_id(result, "votes") == {1: 2, 2: 2, 3: 1}
    assert result.winners == [1, 2] and result.tie is True
    heavier = [TallyBallot(weight=1.5, choices=(2, 3)), *ballots[::2]]
    assert tally_approval([1, 2, 3], heavier).winners == [2]


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
def test_star_runoff_tie_with_equal_scores_gives_two_winners(form: str) -> None:
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
