"""Positional methods: the Borda count."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from commons_app.services.tally.ballots import (
    _first_choices,
    _first_preferences,
    _prepare,
    _rank_matrix,
    _result,
    _shown_max,
    _top,
)
from commons_app.services.tally.types import TallyBallot, TallyResult

# --------------------------------------------------------------------------
# Borda
# --------------------------------------------------------------------------


def tally_borda(option_ids: Sequence[int], ballots: Iterable[TallyBallot]) -> TallyResult:
    """Count a ranked poll with the Borda count (truncated variant).

    With ``n`` options a ballot gives ``n - 1`` points to its first choice,
    ``n - 2`` to its second, and so on. Options a partial ballot leaves
    unranked get 0 points from it (the "truncated" Borda variant), so a ballot
    ranking fewer options gives fewer points in total. Points are weighted by
    ballot weight; the most points win. When no ballot ranks anything there
    is no winner.

    Args:
        option_ids: The poll's option ids in display order.
        ballots: The ballots to count; ``choices`` is the ranking.

    Returns:
        The tally result. ``OptionTally.votes``/``weight`` are first
        preferences and ``points`` the weighted Borda points; ``rounds`` and
        ``detail`` are empty.
    """
    election, ballots = _prepare(option_ids, ballots)
    n = len(election.ids)
    election, ranks, ranked = _rank_matrix(election, ballots)
    first, has = _first_choices(ranks, ranked)
    gains = np.where(ranks < n, (n - 1) - ranks, 0)  # same dtype as ranks: n - 1 fits
    points = dict(zip(election.ids, election.weights.dot(gains), strict=True))
    options = _first_preferences(election, first, has)
    for option in options:
        option.points = election.weights.value(points[option.option_id])
    winners = _top(points, election.ids) if has.any() else []
    return _result("borda", election, options, winners, what="most_points", value=_shown_max(options, "points"))
