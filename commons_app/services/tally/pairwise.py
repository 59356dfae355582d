"""Pairwise methods: Schulze."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from commons_app.services.tally.ballots import (
    _Election,
    _first_choices,
    _first_preferences,
    _prepare,
    _rank_matrix,
    _result,
)
from commons_app.services.tally.types import Note, TallyBallot, TallyResult

# --------------------------------------------------------------------------
# Schulze
# --------------------------------------------------------------------------


def _pairwise(election: _Election, ranks: np.ndarray) -> dict[int, dict[int, int]]:
    """Compute the exact weighted pairwise preference matrix.

    ``d[a][b]`` is the weight of the ballots ranking ``a`` above ``b``. An
    unranked option ranks below every ranked one; two unranked options are
    equal. Every ballot either prefers ``a``, prefers ``b`` or leaves both
    unranked, so only ``a`` over ``b`` for ``a`` before ``b`` in the option
    order and the weight leaving both unranked are counted; the rest follows
    exactly.

    Args:
        election: The election.
        ranks: The rank matrix of :func:`_rank_matrix`.

    Returns:
        ``d[a][b]`` (in ``1/den``) for every ordered pair of distinct options.
    """
    ids, weights = election.ids, election.weights
    n = len(ids)
    above = [[0] * n for _ in range(n)]
    for a in range(n - 1):
        row = weights.dot(ranks[:, a, None] < ranks[:, a + 1 :])
        above[a][a + 1 :] = row
    both_unranked = weights.gram(ranks == n) if n else []
    total = weights.total()
    for a in range(n):
        for b in range(a + 1, n):
            above[b][a] = total - above[a][b] - both_unranked[a][b]
    return {a: {b: above[i][j] for j, b in enumerate(ids) if j != i} for i, a in enumerate(ids)}


def _strongest_paths(
    ids: Sequence[int], d: Mapping[int, Mapping[int, Any]], *, losing: bool = True
) -> dict[int, dict[int, tuple[Any, Any]]]:
    """Compute Schulze strongest path strengths (widest paths, Floyd–Warshall), exactly.

    A link ``a -> b`` exists when ``a`` beats ``b`` pairwise; its strength is the pair
    ``(d[a][b], -d[b][a])``: winning votes first, then losing votes (fewer is stronger), as in
    Schulze (2011), "A new monotonic, clone-independent, reversal symmetric, and
    Condorcet-consistent single-winner election method", §2.1, and the Debian constitution,
    A.6. No link is ``(0, 0)``, weaker than every link. Shared with the reference
    implementation (the pairs compare whatever exact numbers ``d`` holds).

    Args:
        ids: The option ids.
        d: The exact pairwise preference matrix.
        losing: False to compare links by winning votes alone (for the note saying the losing
            votes decided).

    Returns:
        ``p[a][b]`` for every ordered pair of distinct options.
    """
    none = (0, 0)
    p = {
        a: {b: ((d[a][b], -d[b][a] if losing else 0) if d[a][b] > d[b][a] else none) for b in ids if b != a}
        for a in ids
    }
    for i in ids:
        p_i = p[i]
        for j in ids:
            if j == i:
                continue
            p_j = p[j]
            p_ji = p_j[i]
            for k in ids:
                if k in (i, j):
                    continue
                through = p_ji if p_ji < p_i[k] else p_i[k]
                if through > p_j[k]:
                    p_j[k] = through
    return p


def schulze_winners(
    ids: Sequence[int], d: Mapping[int, Mapping[int, Any]], p: Mapping[int, Mapping[int, tuple[Any, Any]]]
) -> tuple[list[int], Note | None]:
    """The Schulze winners, and a note when the losing votes decided between options that winning
    votes alone leave equal (shared with the reference implementation).

    Args:
        ids: The option ids, in option order.
        d: The exact pairwise preference matrix.
        p: The strongest paths of :func:`_strongest_paths`.

    Returns:
        The winners (every ``a`` with ``p[a][b] >= p[b][a]`` for all ``b``), in option order,
        and the note or None.
    """
    winners = [a for a in ids if all(p[a][b] >= p[b][a] for b in ids if b != a)]
    # Winning votes alone: the widest paths on winning votes (a few ms even for 20 options).
    alone = _strongest_paths(ids, d, losing=False)
    tied = [a for a in ids if all(alone[a][b] >= alone[b][a] for b in ids if b != a)]
    if tied == winners:
        return winners, None
    return winners, Note("schulze_losing_votes", tuple(tied), {"winners": list(winners)})


def tally_schulze(option_ids: Sequence[int], ballots: Iterable[TallyBallot]) -> TallyResult:
    """Count a ranked poll with the Schulze (beatpath) method.

    ``d[a][b]`` is the weighted count of ballots ranking ``a`` above ``b`` (an
    unranked option ranks below all ranked ones; two unranked options are
    equal). Strongest paths are computed as widest paths using the
    winning votes, then losing votes (see :func:`_strongest_paths`): the link
    ``a -> b`` has strength ``(d[a][b], -d[b][a])`` if ``d[a][b] > d[b][a]``. The winners are all ``a`` with
    ``p[a][b] >= p[b][a]`` for every other ``b``. A Condorcet winner (who
    beats every other option pairwise) is always the sole winner.

    ``detail`` is ``{"pairwise": {str(a): {str(b): d}}, "strongest_paths":
    {str(a): {str(b): p}}, "condorcet_winner": id | None}`` (``p`` shows the
    winning votes of the path strength).

    Args:
        option_ids: The poll's option ids in display order.
        ballots: The ballots to count; ``choices`` is the ranking.

    Returns:
        The tally result. ``OptionTally.votes``/``weight`` are first
        preferences; ``rounds`` is empty.
    """
    election, ballots = _prepare(option_ids, ballots)
    ids = election.ids
    election, ranks, ranked = _rank_matrix(election, ballots)
    first, has = _first_choices(ranks, ranked)
    options = _first_preferences(election, first, has)
    d = _pairwise(election, ranks)
    p = _strongest_paths(ids, d)
    any_ranked = bool(has.any())

    condorcet: int | None = None
    if any_ranked:
        for a in ids:
            if all(d[a][b] > d[b][a] for b in ids if b != a):
                condorcet = a
                break

    # With exact path strengths the beatpath relation is transitive, so someone always wins.
    winners, note = schulze_winners(ids, d, p) if any_ranked else ([], None)

    shown = election.weights.value  # for display only
    detail = {
        "pairwise": {str(a): {str(b): shown(d[a][b]) for b in d[a]} for a in ids},
        "strongest_paths": {str(a): {str(b): shown(p[a][b][0]) for b in p[a]} for a in ids},
        "condorcet_winner": condorcet,
    }
    return _result(
        "schulze",
        election,
        options,
        winners,
        detail=detail,
        notes=[note] if note else [],
        tie_broken=note is not None,
        what="strongest_paths",
    )
