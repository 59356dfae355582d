"""Preparing the ballots (options, weights, rank and score matrices) and assembling results."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import chain, repeat
from operator import attrgetter, methodcaller
from typing import Any

import numpy as np

from commons_app.i18n import N_
from commons_app.services.tally.exact import _common_units, _decimal, _Exact, _float_units, _Weights
from commons_app.services.tally.types import MAX_SCORE, Note, OptionTally, TallyBallot, TallyResult

# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------






# --------------------------------------------------------------------------
# Preparing the ballots
# --------------------------------------------------------------------------

_weight_of = attrgetter("weight")
_choices_of = attrgetter("choices")
_scores_of = attrgetter("scores")
_values_of = methodcaller("values")
_EMPTY: Mapping[int, int] = {}


@dataclass(frozen=True)
class _Election:
    """What every method needs: the options, the ballot count and the weights.

    ``total_weight`` is the total shown in the result; compare ``weights.sum``
    (exact) instead.
    """

    ids: tuple[int, ...]
    index: dict[int, int]
    ballots: int
    weights: _Weights
    total_weight: float

    @property
    def order(self) -> dict[int, int]:
        """Position of each option id in the option order."""
        return self.index


def _prepare(option_ids: Sequence[int], ballots: Iterable[TallyBallot]) -> tuple[_Election, Sequence[TallyBallot]]:
    """Check the options and the ballot weights.

    Args:
        option_ids: The poll's option ids in display order.
        ballots: The ballots to count.

    Returns:
        The election and the ballots as a sequence.

    Raises:
        ValueError: If ``option_ids`` repeats an id or a ballot weight is not a
            finite number greater than zero.
    """
    ids = tuple(option_ids)
    index = {option_id: position for position, option_id in enumerate(ids)}
    if len(index) != len(ids):
        raise ValueError(N_("option_ids must not contain duplicates"))
    if not isinstance(ballots, (list, tuple)):
        ballots = list(ballots)
    count = len(ballots)
    raw = list(map(_weight_of, ballots))
    distinct = set(raw)
    cls: np.ndarray | None = None
    if all(type(weight) is float for weight in distinct):  # the usual case
        values = np.fromiter(distinct, dtype=np.float64, count=len(distinct))
        if not (np.isfinite(values) & (values > 0)).all():
            for weight in raw:  # raise what the first offending ballot raises
                _decimal(weight)
        # Distinct floats are distinct decimals, so the floats themselves tell the classes.
        if len(values) > 16:
            values, inverse = np.unique(np.fromiter(raw, dtype=np.float64, count=count), return_inverse=True)
            cls = inverse.ravel().astype(np.intp, copy=False)
        elif len(values) > 1:
            floats = np.fromiter(raw, dtype=np.float64, count=count)
            cls = np.zeros(count, dtype=np.intp)
            for number, value in enumerate(values.tolist()[1:], start=1):
                cls[floats == value] = number
        units, den = _float_units(values)
    else:
        exact: dict[Any, tuple[int, int]] = {}
        try:
            for weight in distinct:
                exact[weight] = _decimal(weight)
        except (TypeError, ValueError):
            for weight in raw:  # raise what the first offending ballot raises
                _decimal(weight)
            raise
        ratios = list(dict.fromkeys(exact.values()))  # 2 and 2.0 are one class
        if len(ratios) > 1:
            position = {ratio: number for number, ratio in enumerate(ratios)}
            by_raw = {weight: position[ratio] for weight, ratio in exact.items()}
            cls = np.fromiter(map(by_raw.__getitem__, raw), dtype=np.intp, count=count)
        units, den = _common_units(ratios)
    weights = _Weights(units, den, cls, count, max(len(ids), MAX_SCORE))
    election = _Election(ids=ids, index=index, ballots=count, weights=weights, total_weight=weights.value(weights.sum))
    return election, ballots


def _grouped(election: _Election, *matrices: np.ndarray) -> tuple[_Election, list[np.ndarray]]:
    """Reorder per-ballot arrays so that each weight class is a block (see :meth:`_Weights.grouped`).

    Args:
        election: The election.
        matrices: Per-ballot arrays, in ballot order.

    Returns:
        The election with weights matching the new order, and the reordered arrays.
    """
    weights, arrays = election.weights.grouped(*matrices)
    return replace(election, weights=weights), arrays


def _option_indices(election: _Election, groups: Sequence[Iterable[Any]], total: int) -> np.ndarray:
    """Look up the option index of every id in a list of id collections, flattened.

    Args:
        election: The election.
        groups: Collections of option ids (choices, or score maps' keys).
        total: Number of ids in all of them together.

    Returns:
        The option index of each id, -1 for an id that is not an option
        (compared as Python compares them, so ``1.0`` is option ``1``).
    """
    return np.fromiter(map(election.index.get, chain.from_iterable(groups), repeat(-1)), dtype=np.intp, count=total)


def _choice_entries(election: _Election, ballots: Sequence[TallyBallot]) -> tuple[list[Any], np.ndarray, np.ndarray]:
    """Flatten the ``choices`` of every ballot.

    Returns:
        The choices of each ballot, the number of entries of each ballot and
        the option index of every entry (-1 for an unknown id); the entries of
        ballot ``i`` follow those of ballot ``i - 1``.
    """
    choices = list(map(_choices_of, ballots))
    lengths = np.fromiter(map(len, choices), dtype=np.intp, count=len(choices))
    entries = _option_indices(election, choices, int(lengths.sum()))
    return choices, lengths, entries


def _owners(lengths: np.ndarray) -> np.ndarray:
    """The ballot of every entry, given the number of entries of each ballot."""
    return np.repeat(np.arange(len(lengths)), lengths)


def _rank_matrix(election: _Election, ballots: Sequence[TallyBallot]) -> tuple[_Election, np.ndarray, np.ndarray]:
    """Reduce the rankings to a ballots x options matrix of positions.

    Unknown ids are dropped and a repeated id only counts the first time, as
    if the ballot had not carried them. The rows are grouped by weight class
    (see :func:`_grouped`).

    Returns:
        The election with weights matching the rows; ``ranks[i, a]``: position
        (0 = first choice) of option ``a`` on ballot ``i``, or ``len(ids)`` when
        the ballot leaves it unranked; and the number of options each ballot
        ranks.
    """
    n = len(election.ids)
    choices, lengths, entries = _choice_entries(election, ballots)
    owners = _owners(lengths)
    longest = int(lengths.max()) if len(lengths) else 0
    dtype = np.int8 if max(n, longest) < 127 else np.int16 if max(n, longest) < 32_767 else np.int64
    ranks = np.full((len(choices), n), n, dtype=dtype)
    starts = np.cumsum(lengths) - lengths
    places = np.arange(len(entries)) - np.repeat(starts, lengths)
    cells = owners * n + entries
    known = entries >= 0
    if not known.all():
        cells, places = cells[known], places[known]
    np.put(ranks, cells, places)
    ranked = np.count_nonzero(ranks < n, axis=1)
    # A ballot with an unknown or repeated id fills fewer cells than it has entries: redo it by hand.
    for row in np.flatnonzero(ranked != lengths).tolist():
        ranks[row] = n
        place = 0
        for option_id in choices[row]:
            option = election.index.get(option_id)
            if option is not None and ranks[row, option] == n:
                ranks[row, option] = place
                place += 1
        ranked[row] = place
    election, (ranks, ranked) = _grouped(election, ranks, ranked)
    return election, ranks, ranked


def _first_choices(ranks: np.ndarray, ranked: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each ballot's first choice (option index) and whether it ranks anything."""
    if ranks.shape[1] == 0:
        return np.zeros(len(ranks), dtype=np.intp), np.zeros(len(ranks), dtype=bool)
    return ranks.argmin(axis=1), ranked > 0


def _top(values: Mapping[int, _Exact], ids: Sequence[int]) -> list[int]:
    """Return every option sharing the highest value.

    Args:
        values: Exact value per option id.
        ids: Option ids to consider, in option order.

    Returns:
        The ids whose value equals the maximum exactly, in option order;
        empty when ``ids`` is empty.
    """
    if not ids:
        return []
    best = max(values[option_id] for option_id in ids)
    return [option_id for option_id in ids if values[option_id] == best]


def _top_positive(values: Mapping[int, _Exact], ids: Sequence[int]) -> list[int]:
    """Return every option sharing the highest value, if that value is positive.

    Args:
        values: Exact value per option id.
        ids: Option ids to consider, in option order.

    Returns:
        As :func:`_top`, but empty when the highest value is zero.
    """
    winners = _top(values, ids)
    if winners and values[winners[0]] <= 0:
        return []
    return winners


def _shown_max(options: Iterable[OptionTally], figure: str) -> float:
    """The largest shown ``figure`` (an :class:`OptionTally` field) of the options, for a note."""
    return max((getattr(option, figure) or 0.0 for option in options), default=0.0)


def _count_options(
    election: _Election, bins: np.ndarray, rows: np.ndarray | None
) -> tuple[list[OptionTally], dict[int, int]]:
    """Count, per option, the ballots selected and their weight.

    Args:
        election: The election.
        bins: Option index counted by each selected ballot.
        rows: Which ballots ``bins`` describes (None: all, in order).

    Returns:
        One :class:`OptionTally` per option, in option order (``votes`` and
        the shown ``weight``), and the exact weight per option id.
    """
    n = len(election.ids)
    votes = np.bincount(bins, minlength=n).tolist()
    weights = election.weights.bincount(bins, rows, n)
    options = [
        OptionTally(option_id=option_id, votes=votes[a], weight=election.weights.value(weights[a]))
        for a, option_id in enumerate(election.ids)
    ]
    return options, dict(zip(election.ids, weights, strict=True))


def _first_preferences(election: _Election, first: np.ndarray, has: np.ndarray) -> list[OptionTally]:
    """Count first preferences (the first valid id on each ballot).

    Args:
        election: The election.
        first: First choice (option index) of each ballot.
        has: Whether each ballot ranks anything.

    Returns:
        One :class:`OptionTally` per option, in option order.
    """
    return _count_options(election, first[has], has)[0]


def _tie_notes(winners: list[int], what: str, value: float | None = None) -> list[Note]:
    """The note for several winners sharing ``what`` (none for a single winner).

    Args:
        winners: The winners, in option order.
        what: What they share, a ``tied_winners`` key of :mod:`commons_app.services.tally.notes`.
        value: The shared figure as shown, if the sentence names one.
    """
    if len(winners) <= 1:
        return []
    return [Note("tied_winners", tuple(winners), {"what": what, "value": value})]


def _result(
    method: str,
    election: _Election,
    options: list[OptionTally],
    winners: list[int],
    *,
    rounds: list[dict[str, Any]] | None = None,
    detail: dict[str, Any] | None = None,
    notes: list[Note] | None = None,
    tie_broken: bool = False,
    what: str = "most_votes",
    value: float | None = None,
) -> TallyResult:
    """Assemble a :class:`TallyResult`, adding a note when several options win.

    Args:
        method: Name of the method.
        election: The prepared election.
        options: Per-option figures.
        winners: Winning option ids, in option order.
        rounds: Round detail, if any.
        detail: Extra detail, if any.
        notes: Notes about tie-breaks already applied.
        tie_broken: Whether a tie-break rule decided something.
        what: What the tied winners share, for the note (see :func:`_tie_notes`).
        value: The figure they share, as shown.

    Returns:
        The result.
    """
    all_notes = list(notes or []) + _tie_notes(winners, what, value)
    return TallyResult(
        method=method,
        total_ballots=election.ballots,
        total_weight=election.total_weight,
        options=options,
        winners=winners,
        rounds=rounds or [],
        detail=detail or {},
        tie=len(winners) > 1 or tie_broken,
        notes=all_notes,
    )
