"""Shared examples and helpers of the method tests (tests/tally/test_*.py).

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

import math
from collections.abc import Mapping, Sequence
from typing import Any

from commons_app.services.tally import TallyBallot, TallyResult

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


