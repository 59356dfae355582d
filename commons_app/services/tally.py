"""Pure tally functions, one per voting method of The Commons.

Every function here is pure: it takes the poll's option ids (in display order)
and an iterable of :class:`TallyBallot` and returns a :class:`TallyResult`. No
I/O, no database and no framework code is involved, so the functions can be
used by the web app, the API, the command line and the tests alike.

Conventions shared by all methods:

* Ballots are expected to be validated already, but the tally stays robust:
  option ids that are not in ``option_ids`` are ignored, a repeated id on a
  ballot only counts the first time, and scores are clamped to
  ``0..MAX_SCORE``. A ballot weight that is not a finite number greater than
  zero, or a repeated id in ``option_ids``, raises :class:`ValueError`.
* Every count honours the ballot weights, and every count is exact. A weight
  is taken as the decimal it was written as: a float as the shortest decimal
  that its ``repr`` shows (the float ``0.1`` counts as exactly one tenth, not
  as the binary value it holds), an int or a :class:`~fractions.Fraction` as
  it is. So ``0.1 + 0.2`` ties exactly with ``0.3``, and ``1_000_000.0001``
  beats ``1_000_000``. Sums are kept as integers over a common denominator,
  and everything that decides a result (winners, eliminations, rankings,
  runoffs, Schulze paths, STAR finalists, tie-breaks) compares those exact
  numbers: there is no tolerance, and no rounded total is ever compared.
  Floats only appear in the figures reported (``weight``, ``score``,
  ``mean``, ``points``, the numbers in ``rounds`` and ``detail``,
  ``total_weight``), each the exact value correctly rounded once; two
  different totals may therefore show the same float and still be told
  apart. A score that is not a whole number (only possible for input that
  skipped validation) is likewise taken as its decimal.
* ``winners`` lists option ids in the order of ``option_ids``. It is empty when
  there are no ballots, and also when no ballot supports any option at all
  (nothing chosen, approved, ranked or scored above zero).
* ``tie`` is True when several options win or when a tie-break rule had to
  decide something; ``notes`` then explains, in plain sentences, what happened.
* ``rounds`` and ``detail`` only hold JSON-serialisable values: string keys
  (``str(option_id)``), numbers, lists and dicts.

How the counting is done: the ballots are flattened once into numpy arrays (a
ballots x options matrix of rank positions or of scores) and each method
counts whole columns at a time; see :class:`_Weights` for how the weighted
sums stay exact and fast. ``bench/tallies.py`` times the methods on large
elections and checks them against a straightforward per-ballot reference
implementation.
"""

from __future__ import annotations

import copy
import math
import numbers
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from fractions import Fraction
from itertools import chain, repeat
from operator import attrgetter, methodcaller
from typing import Any

import numpy as np

__all__ = [
    "MAX_SCORE",
    "METHODS",
    "OptionTally",
    "TallyBallot",
    "TallyResult",
    "tally",
    "tally_approval",
    "tally_borda",
    "tally_irv",
    "tally_schulze",
    "tally_score",
    "tally_single",
    "tally_star",
]

METHODS: tuple[str, ...] = (
    "single",
    "approval",
    "irv",
    "schulze",
    "borda",
    "score",
    "star",
)
"""Names of the supported voting methods, as accepted by :func:`tally`."""

MAX_SCORE = 5
"""Highest score a ballot can give an option under the score and STAR methods."""


@dataclass(frozen=True)
class TallyBallot:
    """One ballot as seen by the tally.

    Attributes:
        weight: Weight of the ballot, greater than zero, set by the server.
        choices: For ``single`` the chosen option id ``(option_id,)``; for
            ``approval`` the approved ids; for ``irv``, ``schulze`` and
            ``borda`` the ids in order of preference (partial rankings are
            allowed).
        scores: For ``score`` and ``star``: option id -> score in
            ``0..MAX_SCORE``. An option missing from the map scores 0.
    """

    weight: float = 1.0
    choices: tuple[int, ...] = ()
    scores: Mapping[int, int] | None = None


@dataclass
class OptionTally:
    """Per-option figures of a tally.

    Attributes:
        option_id: The option.
        votes: Number of ballots naming or approving the option; first
            preferences for the ranked methods; for score and STAR, ballots
            giving it a score above zero.
        weight: The same as ``votes``, summed by ballot weight.
        score: Score and STAR only: sum of the scores weighted by ballot
            weight.
        mean: Score and STAR only: weighted mean score over all ballots (0 when
            there are no ballots).
        points: Borda only: weighted Borda points.
    """

    option_id: int
    votes: int
    weight: float
    score: float | None = None
    mean: float | None = None
    points: float | None = None


@dataclass
class TallyResult:
    """Outcome of a tally.

    Attributes:
        method: Name of the voting method (one of :data:`METHODS`).
        total_ballots: Number of ballots counted.
        total_weight: Sum of the ballot weights.
        options: One :class:`OptionTally` per option, in the order of the
            ``option_ids`` passed in.
        winners: Winning option ids, in option order; several on a tie, empty
            when there are no ballots.
        rounds: JSON-serialisable, method-specific detail of each round
            (instant runoff and STAR); empty for methods without rounds.
        detail: JSON-serialisable extras (Schulze and STAR).
        tie: True when ``winners`` has several entries or a tie-break rule had
            to decide something.
        notes: Human-readable sentences explaining any tie or tie-break.
    """

    method: str
    total_ballots: int
    total_weight: float
    options: list[OptionTally]
    winners: list[int]
    rounds: list[dict[str, Any]]
    detail: dict[str, Any] = field(default_factory=dict)
    tie: bool = False
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------
# Exact weighted sums
# --------------------------------------------------------------------------
#
# The counts below work on whole columns of ballots at once (numpy) instead of
# one ballot at a time, and every weighted total is exact: each distinct
# weight is the decimal ``units / den`` with integer ``units`` and a ``den``
# shared by all weights (the lcm of the weights' decimal denominators, so 10
# for weights such as 0.5 and 0.3, and 1 for whole weights), sums are taken in
# integers (in float64 only where every partial sum is an integer below 2**53,
# hence exact), and results are compared as those integers. A total becomes a
# float, for display only, by one correctly rounded division.

_Exact = int | Fraction
"""An exact weighted total, in units of ``1/den`` (a Fraction only when some score is not whole)."""


def _ratio(value: float) -> tuple[int, int]:
    """The decimal a float was written as, as a reduced ``(numerator, denominator)``.

    ``repr`` gives the shortest decimal that rounds to the float, which is the
    decimal that was typed for any number of up to 15 significant digits
    (``0.1`` gives ``(1, 10)``, not the binary value of the float).

    Args:
        value: A finite float.

    Returns:
        The numerator and the (positive) denominator.
    """
    return Decimal(repr(value)).as_integer_ratio()


def _decimal(weight: Any) -> tuple[int, int]:
    """Check a ballot weight and give its exact value.

    Args:
        weight: The weight as given (normally a float; ints, Fractions and
            Decimals are taken exactly as they are).

    Returns:
        The weight as a reduced ``(numerator, denominator)``.

    Raises:
        ValueError: If the weight is not a finite number greater than zero.
        TypeError: If the weight is not a number at all (as ``float()`` raises).
    """
    value = float(weight)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"ballot weight must be a finite number > 0, got {weight!r}")
    if isinstance(weight, numbers.Rational):  # int, bool, Fraction: exact already
        return weight.numerator, weight.denominator
    if isinstance(weight, Decimal):
        return weight.as_integer_ratio()
    return _ratio(value)


def _common_units(ratios: Sequence[tuple[int, int]]) -> tuple[list[int], int]:
    """Write exact values over one common denominator.

    Args:
        ratios: Reduced ``(numerator, denominator)`` pairs.

    Returns:
        The integer units of each value and the denominator, the lcm of the
        values' denominators (a decimal's is ``2**a * 5**b``, so the lcm stays
        small: at most 10**6 for weights of up to six decimal places).
    """
    den = math.lcm(*(d for _, d in ratios))
    return [num * (den // d) for num, d in ratios], den


_PLACES = 10**6
"""Weights of up to six decimal places (``10**-6``) are converted in bulk by :func:`_float_units`."""


def _float_units(values: np.ndarray) -> tuple[list[int], int]:
    """Write the decimals a 1-D array of finite floats > 0 was written as over one denominator.

    The same as :func:`_common_units` of :func:`_ratio` of each value, but weights of up to six
    decimal places (all the app accepts) are converted at once: ``r = rint(w * 10**6)`` is the
    decimal of ``w`` times 10**6 whenever ``r < 10**15`` and ``r / 10**6`` rounds back to ``w``:
    no other decimal of at most 15 significant digits rounds to the same float, so ``r / 10**6``
    is the shortest one, the one ``repr`` shows. Other floats go through :func:`_ratio` one by
    one.

    Args:
        values: The distinct weights.

    Returns:
        The integer units of each value and the common denominator.
    """
    scaled = np.rint(values * _PLACES)
    fits = (scaled < 1e15) & (scaled / _PLACES == values)
    exact = scaled[fits].astype(np.int64)
    # Reduce the denominator to what the decimals need: 1 for whole weights, 2 for halves, ...
    step = math.gcd(int(np.gcd.reduce(exact)) if len(exact) else 0, _PLACES)
    den = _PLACES // step
    if fits.all():
        return (exact // step).tolist(), den
    others = [_ratio(value) for value in values[~fits].tolist()]
    common = math.lcm(den, *(d for _, d in others))
    units = [0] * len(values)
    for position, unit in zip(np.flatnonzero(fits).tolist(), (exact // step).tolist(), strict=True):
        units[position] = unit * (common // den)
    for position, (num, d) in zip(np.flatnonzero(~fits).tolist(), others, strict=True):
        units[position] = num * (common // d)
    return units, common


_CLASS_LIMIT = 64
"""Up to this many distinct ballot weights, sums are taken per weight class."""


class _Weights:
    """The ballot weights of an election, in a form that allows exact sums.

    Every distinct weight is a *class*; ballot ``i`` is in class ``cls[i]``
    and weighs exactly ``units[cls[i]] / den``, with integer ``units`` and a
    common ``den`` (see :func:`_decimal`). A weighted sum is computed as
    integers: the number of ballots (or of ballots times a small integer) per
    class, times the class's units. With many distinct weights (more than
    ``_CLASS_LIMIT``) each weight's units are instead split into "limbs" of a
    few bits and the sums are taken per limb in float64, every partial sum an
    integer below 2**53 and so exact.

    Every sum is returned in units of ``1/den`` (an :data:`_Exact`), to be
    compared as it is and turned into a float only for display
    (:meth:`value`).

    Methods taking a ballots x columns matrix (:meth:`dot`, :meth:`gram`,
    :meth:`products`) need the rows grouped by class: call :meth:`grouped`
    first and use the matrices it returns (row ``i`` of them is ballot
    ``perm[i]``).
    """

    def __init__(self, units: list[int], den: int, cls: np.ndarray | None, count: int, factor: int) -> None:
        """Prepare the weights.

        Args:
            units: The distinct weights, each exactly ``unit / den`` (> 0).
            den: Their common denominator.
            cls: Index into ``units`` of each ballot's weight; None when there
                is at most one distinct weight.
            count: Number of ballots.
            factor: Largest integer a weight will be multiplied by in
                :meth:`dot` (sizes the limbs).
        """
        self.den = den
        self.units = units
        self.count = count
        self.factor = max(1, factor)
        self.cls = cls if len(units) > 1 else None
        self.limbs = self.cls is not None and len(units) > _CLASS_LIMIT
        # Class blocks of grouped rows: start row and class of each (see grouped()).
        self.starts: np.ndarray | None = None if self.cls is not None else np.zeros(len(units), dtype=np.intp)
        self.blocks: list[int] = [] if self.cls is not None else list(range(len(units)))
        per_class = [count] if self.cls is None else np.bincount(self.cls, minlength=len(units)).tolist()
        self.sum = sum(n * unit for n, unit in zip(per_class, self.units, strict=False))
        self._basis: np.ndarray | None = None
        self._scales: list[int] = []

    # -- set-up ---------------------------------------------------------------

    def grouped(self, *matrices: np.ndarray) -> tuple[_Weights, list[np.ndarray]]:
        """Reorder the ballots so that each weight class is a block of rows.

        Args:
            matrices: Per-ballot arrays (first axis: ballots, in the order of
                ``cls``).

        Returns:
            Weights describing the reordered ballots, and the arrays reordered
            the same way.
        """
        if self.cls is None or self.limbs:
            return self, list(matrices)
        perm = np.argsort(self.cls, kind="stable")
        grouped = copy.copy(self)
        grouped.cls = self.cls[perm]
        grouped.starts = np.flatnonzero(np.diff(grouped.cls, prepend=-1))
        grouped.blocks = grouped.cls[grouped.starts].tolist()
        return grouped, [matrix[perm] for matrix in matrices]

    def _limb_basis(self) -> np.ndarray:
        """The per-ballot limbs (ballots x limbs, float64), built on first use."""
        if self._basis is None:
            # Limbs small enough that ``count`` of them times ``factor`` stay exact in float64.
            bits = max(1, 52 - self.count.bit_length() - self.factor.bit_length())
            limbs = max(1, -(-max(self.units).bit_length() // bits))
            mask = (1 << bits) - 1
            table = np.array(
                [[(unit >> (bits * limb)) & mask for limb in range(limbs)] for unit in self.units],
                dtype=np.float64,
            )
            assert self.cls is not None
            self._basis = table[self.cls]
            self._scales = [1 << (bits * limb) for limb in range(limbs)]
        return self._basis

    # -- combining --------------------------------------------------------------

    def value(self, units: _Exact) -> float:
        """Turn an exact sum of weights (in ``1/den``) into the float nearest to it, for display.

        Both branches round once: int / int true division is correctly rounded in Python, and so
        is the conversion of a Fraction.
        """
        if type(units) is int:
            return units / self.den
        return float(Fraction(units) / self.den)

    def _by_class(self, sums: np.ndarray, classes: Sequence[int]) -> list[int]:
        """Combine per-class integer sums (classes x columns) into weighted sums."""
        if sums.size == 0:
            return [0] * sums.shape[1]
        units = [self.units[c] for c in classes]
        if max(units) * max(1, int(sums.max())) * len(units) < 2**62:
            return (np.asarray(units, dtype=np.int64) @ sums.astype(np.int64)).tolist()
        rows = sums.tolist()
        return [sum(unit * row[c] for unit, row in zip(units, rows, strict=True)) for c in range(sums.shape[1])]

    def _by_limb(self, sums: np.ndarray) -> list[int]:
        """Combine per-limb sums (limbs x columns, exact float64 integers) into weighted sums."""
        rows = sums.astype(np.int64).tolist()
        return [
            sum(scale * row[c] for scale, row in zip(self._scales, rows, strict=True)) for c in range(sums.shape[1])
        ]

    # -- sums ---------------------------------------------------------------------

    def total(self, rows: np.ndarray | None = None) -> int:
        """Sum the weights of all ballots, or of those ``rows`` selects (index array or mask)."""
        if rows is None:
            return self.sum
        if self.cls is None:
            return (int(np.count_nonzero(rows)) if rows.dtype == np.bool_ else len(rows)) * self.unit
        if self.limbs:
            return self._by_limb(self._limb_basis()[rows].sum(axis=0)[:, None])[0]
        counts = np.bincount(self.cls[rows], minlength=len(self.units))
        return self._by_class(counts[:, None], range(len(self.units)))[0]

    @property
    def unit(self) -> int:
        """Units of the only weight (uniform weights)."""
        return self.units[0] if self.units else 1

    def bincount(self, bins: np.ndarray, rows: np.ndarray | None, length: int) -> list[int]:
        """Sum the weights of ballots per bin.

        Args:
            bins: Bin (option index) of each selected ballot.
            rows: Which ballots ``bins`` describes (index array or boolean
                mask), or None for all of them in order.
            length: Number of bins.

        Returns:
            The summed weight (in ``1/den``) of each bin.
        """
        if self.cls is None:
            return [self.unit * c for c in np.bincount(bins, minlength=length).tolist()]
        if self.limbs:
            part = self._limb_basis() if rows is None else self._limb_basis()[rows]
            return self._by_limb(
                np.array([np.bincount(bins, weights=part[:, limb], minlength=length) for limb in range(part.shape[1])])
            )
        classes = self.cls if rows is None else self.cls[rows]
        kinds = len(self.units)
        counts = np.bincount(classes * length + bins, minlength=kinds * length).reshape(kinds, length)
        return self._by_class(counts, range(kinds))

    def _blocks_of(self, matrix: np.ndarray) -> list[tuple[np.ndarray, int]]:
        """Split a grouped matrix into its class blocks: (rows of the block, class)."""
        assert self.starts is not None, "call grouped() first"
        bounds = [*self.starts.tolist(), len(matrix)]
        return [(matrix[bounds[i] : bounds[i + 1]], kind) for i, kind in enumerate(self.blocks)]

    def _block_sums(self, matrix: np.ndarray) -> np.ndarray:
        """Column sums of each class block of a grouped matrix (blocks x columns, int64)."""
        assert self.starts is not None, "call grouped() first"
        if len(matrix) == 0:
            return np.zeros((0, matrix.shape[1]), dtype=np.int64)
        return np.add.reduceat(matrix, self.starts, axis=0, dtype=np.int64)

    def dot(self, matrix: np.ndarray) -> list[int]:
        """Weighted column sums of a grouped ballots x columns matrix of small integers.

        Args:
            matrix: One row per ballot (see :meth:`grouped`); booleans or
                integers in ``0..factor``.

        Returns:
            Per column, the sum of weight times entry (in ``1/den``).
        """
        if self.limbs:
            return self._by_limb(self._limb_basis().T @ matrix.astype(np.float64))
        return self._by_class(self._block_sums(matrix), self.blocks)

    def gram(self, matrix: np.ndarray) -> list[list[int]]:
        """Weighted co-occurrence: ``sum(weight * matrix[:, a] * matrix[:, b])`` per pair.

        Args:
            matrix: A grouped ballots x columns boolean matrix.

        Returns:
            A columns x columns nested list of sums (in ``1/den``).
        """
        cols = matrix.shape[1]
        if self.limbs:
            rows = matrix.any(axis=1)
            ones = matrix[rows].astype(np.float64)
            basis = self._limb_basis()[rows]
            blocks = np.array([((ones * basis[:, limb, None]).T @ ones) for limb in range(basis.shape[1])])
            flat = self._by_limb(blocks.reshape(len(blocks), cols * cols))
        else:
            counts = []
            for block, _ in self._blocks_of(matrix):
                ones = block[block.any(axis=1)].astype(np.float64)  # rows with no entry add nothing
                counts.append((ones.T @ ones).reshape(cols * cols))
            sums = np.array(counts).reshape(len(counts), cols * cols)
            flat = self._by_class(sums.astype(np.int64), self.blocks)
        return [flat[a * cols : (a + 1) * cols] for a in range(cols)]

    def products(self, matrix: np.ndarray) -> list[_Exact]:
        """Exact weighted column sums, ``sum(weight * entry)``, of a grouped matrix of numbers >= 0.

        Args:
            matrix: A grouped ballots x columns matrix: small integers (ranks'
                Borda points, scores) or, for scores that are not whole, floats
                in ``0..MAX_SCORE``.

        Returns:
            Per column, the exact sum (in ``1/den``): an int for an integer
            matrix, else possibly a Fraction, each float entry taken as its
            decimal (see :func:`_ratio`).
        """
        if matrix.dtype.kind in "biu":
            return list(self.dot(matrix))
        # Rare (scores are validated as whole numbers): one exact sum per distinct entry value.
        sums: list[_Exact] = [0] * matrix.shape[1]
        for entry in np.unique(matrix).tolist():
            if entry == 0:
                continue
            num, den = _ratio(entry)
            counts = self.dot(matrix == entry)
            sums = [total + Fraction(num * n, den) for total, n in zip(sums, counts, strict=True)]
        return sums


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


def _fmt(value: float) -> str:
    """Format a weighted total for a human-readable note (display only).

    Args:
        value: The number to format, as shown in the result.

    Returns:
        The number without a trailing ``.0`` when it is whole, else with up to
        six significant digits.
    """
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.6g}"


def _names(option_ids: Iterable[int]) -> str:
    """Spell a list of option ids for a note.

    Args:
        option_ids: The ids, already in the order to print them.

    Returns:
        For example ``"option 3"`` or ``"options 1, 2 and 4"``.
    """
    ids = [str(option_id) for option_id in option_ids]
    if len(ids) == 1:
        return f"option {ids[0]}"
    return f"options {', '.join(ids[:-1])} and {ids[-1]}"


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
        raise ValueError("option_ids must not contain duplicates")
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


def _shown_max(options: Iterable[OptionTally], figure: str) -> str:
    """The largest shown ``figure`` (an :class:`OptionTally` field) of the options, for a note."""
    return _fmt(max((getattr(option, figure) or 0.0 for option in options), default=0))


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


def _tie_notes(winners: list[int], what: str) -> list[str]:
    """The note for several winners sharing ``what`` (none for a single winner)."""
    if len(winners) <= 1:
        return []
    return [f"{_names(winners).capitalize()} tied with {what}; no tie-break rule applies, so all of them are winners."]


def _result(
    method: str,
    election: _Election,
    options: list[OptionTally],
    winners: list[int],
    *,
    rounds: list[dict[str, Any]] | None = None,
    detail: dict[str, Any] | None = None,
    notes: list[str] | None = None,
    tie_broken: bool = False,
    what: str = "the most support",
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
        what: What the tied winners share, for the note.

    Returns:
        The result.
    """
    all_notes = list(notes or []) + _tie_notes(winners, what)
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


# --------------------------------------------------------------------------
# Plurality and approval
# --------------------------------------------------------------------------


def tally_single(option_ids: Sequence[int], ballots: Iterable[TallyBallot]) -> TallyResult:
    """Count a single-choice (plurality) poll.

    Each ballot counts for its chosen option, ``choices[0]`` (should a ballot
    carry several known ids, only the first one counts). The option with the
    greatest weight wins; all options sharing it win together. When nothing
    was chosen there is no winner.

    Args:
        option_ids: The poll's option ids in display order.
        ballots: The ballots to count.

    Returns:
        The tally result; ``rounds`` and ``detail`` are empty.
    """
    election, ballots = _prepare(option_ids, ballots)
    choices, lengths, entries = _choice_entries(election, ballots)
    # Each ballot counts for its first known id: usually its first entry.
    first = np.full(election.ballots, -1, dtype=np.intp)
    filled = lengths > 0
    first[filled] = entries[(np.cumsum(lengths) - lengths)[filled]]
    unknown_first = np.flatnonzero(filled & (first < 0))
    if len(unknown_first) > 64:  # many: find the first known entry of every ballot at once
        known = entries >= 0
        owners = _owners(lengths)[known]
        starts = np.flatnonzero(np.diff(owners, prepend=-1))
        first[:] = -1
        first[owners[starts]] = entries[known][starts]
    else:
        for row in unknown_first.tolist():
            first[row] = next((option for option in map(election.index.get, choices[row]) if option is not None), -1)
    counted = first >= 0
    options, weights = _count_options(election, first[counted], counted)
    winners = _top_positive(weights, election.ids)
    return _result("single", election, options, winners, what=f"the most votes ({_shown_max(options, 'weight')})")


def tally_single_counts(option_ids: Sequence[int], counts: Iterable[tuple[int, float, int]]) -> TallyResult:
    """Count a single-choice poll from per-option counts instead of ballots.

    The result is the one :func:`tally_single` gives for the ballots the counts describe: the
    weights are taken as decimals and summed exactly, the winners decided on those exact sums,
    and each figure shown is the exact sum correctly rounded once.

    Args:
        option_ids: The poll's option ids in display order.
        counts: ``(option_id, weight, ballots)``: how many ballots of that weight chose the
            option. Several entries may name the same option and weight; they add up.

    Returns:
        The tally result; ``rounds`` and ``detail`` are empty.

    Raises:
        ValueError: A repeated option id, a weight that is not a finite number greater than
            zero, or a negative number of ballots.
    """
    ids = tuple(option_ids)
    if len(set(ids)) != len(ids):
        raise ValueError("option_ids must not contain duplicates")
    exact: dict[int, Fraction] = dict.fromkeys(ids, Fraction(0))
    votes: dict[int, int] = dict.fromkeys(ids, 0)
    total_ballots = 0
    total = Fraction(0)
    for option_id, weight, ballots in counts:
        num, den = _decimal(weight)
        if ballots < 0:
            raise ValueError(f"a count of ballots cannot be negative, got {ballots!r}")
        share = Fraction(num * ballots, den)
        total_ballots += ballots
        total += share
        if option_id in exact:
            exact[option_id] += share
            votes[option_id] += ballots
    options = [
        OptionTally(option_id=option_id, votes=votes[option_id], weight=float(exact[option_id])) for option_id in ids
    ]
    winners = _top_positive(exact, ids)
    return TallyResult(
        method="single",
        total_ballots=total_ballots,
        total_weight=float(total),
        options=options,
        winners=winners,
        rounds=[],
        detail={},
        tie=len(winners) > 1,
        notes=_tie_notes(winners, f"the most votes ({_shown_max(options, 'weight')})"),
    )


def tally_approval(option_ids: Sequence[int], ballots: Iterable[TallyBallot]) -> TallyResult:
    """Count an approval poll.

    Each ballot approves every option listed in ``choices``. The option with
    the greatest approval weight wins; all options sharing it win together.
    When nothing was approved there is no winner.

    Args:
        option_ids: The poll's option ids in display order.
        ballots: The ballots to count.

    Returns:
        The tally result; ``rounds`` and ``detail`` are empty.
    """
    election, ballots = _prepare(option_ids, ballots)
    _, lengths, entries = _choice_entries(election, ballots)
    owners = _owners(lengths)
    approves = np.zeros((election.ballots, len(election.ids)), dtype=bool)
    known = entries >= 0
    approves[owners[known], entries[known]] = True  # a repeated id approves once
    election, (approves,) = _grouped(election, approves)
    counts = np.count_nonzero(approves, axis=0).tolist()
    weights = election.weights.dot(approves)
    options = [
        OptionTally(option_id=option_id, votes=counts[a], weight=election.weights.value(weights[a]))
        for a, option_id in enumerate(election.ids)
    ]
    winners = _top_positive(dict(zip(election.ids, weights, strict=True)), election.ids)
    return _result("approval", election, options, winners, what=f"the most approvals ({_shown_max(options, 'weight')})")


# --------------------------------------------------------------------------
# Instant runoff
# --------------------------------------------------------------------------


def _irv_tie_break(
    tied: list[int],
    history: list[dict[int, int]],
    order: Mapping[int, int],
    round_number: int,
    tied_votes: str,
) -> tuple[int, str]:
    """Pick which of several options tied for fewest votes is eliminated.

    Backwards tie-break: look at the earlier rounds, most recent first, and
    keep only the tied options with the fewest votes in that round, until one
    is left. If several are still tied after the first round, the one that
    comes latest in the option order is eliminated.

    Args:
        tied: The options tied for fewest votes in the current round.
        history: The exact tallies of every round so far, the current one last.
        order: Position of each option in the option order.
        round_number: Number of the current round, for the explanation.
        tied_votes: The tied options' votes as shown, for the explanation.

    Returns:
        The option to eliminate and a sentence explaining the decision.
    """
    candidates = list(tied)
    for earlier in range(len(history) - 2, -1, -1):
        tallies = history[earlier]
        fewest = min(tallies[option_id] for option_id in candidates)
        narrowed = [option_id for option_id in candidates if tallies[option_id] == fewest]
        if len(narrowed) == 1:
            loser = narrowed[0]
            return loser, (
                f"Round {round_number}: {_names(tied)} tied for the fewest votes ({tied_votes}); "
                f"option {loser} was eliminated because it had fewer votes in round {earlier + 1} "
                "(backwards tie-break)."
            )
        candidates = narrowed
    loser = max(candidates, key=lambda option_id: order[option_id])
    if round_number == 1:
        why = "there is no earlier round to separate them"
    else:
        still = _names(sorted(candidates, key=order.__getitem__))
        why = f"no earlier round separates {still}"
    return loser, (
        f"Round {round_number}: {_names(tied)} tied for the fewest votes ({tied_votes}) and {why}; "
        f"option {loser} was eliminated because it comes latest in the option order."
    )


def tally_irv(option_ids: Sequence[int], ballots: Iterable[TallyBallot]) -> TallyResult:
    """Count an instant-runoff (ranked-choice, single winner) poll.

    In each round every continuing ballot counts, by weight, for its
    highest-ranked option still in the count; a ballot ranking none of them is
    exhausted. An option holding more than half of the weight of the
    continuing (non-exhausted) ballots wins. Otherwise the option with the
    fewest votes is eliminated and its ballots move to their next continuing
    choice. When all continuing options are exactly tied, they all win.

    Options with no votes at all in the first round are eliminated together:
    they hold no ballots and would be eliminated one by one, before any other
    option, without anything moving, so this cannot change the outcome.

    Tie for the fewest votes: the tied option with fewer votes in the most
    recent earlier round where they differ is eliminated (backwards
    tie-break); if they were tied in every earlier round, the one that comes
    latest in ``option_ids`` is eliminated. Either way ``tie`` is set and a
    note explains the decision.

    ``rounds`` holds one entry per round: ``{"round": n, "tallies":
    {str(id): weight}, "exhausted": weight, "eliminated": [ids],
    "transfers": {str(to_id): weight moved}, "tie_break": str | None}``, where
    ``tallies`` covers the options continuing in that round and
    ``transfers`` the ballots moved by that round's elimination (weight that
    becomes exhausted shows in the next round's ``exhausted``).

    Args:
        option_ids: The poll's option ids in display order.
        ballots: The ballots to count; ``choices`` is the ranking.

    Returns:
        The tally result. ``OptionTally.votes``/``weight`` are first
        preferences.
    """
    election, ballots = _prepare(option_ids, ballots)
    election, ranks, ranked = _rank_matrix(election, ballots)
    ids, index, weights = election.ids, election.index, election.weights
    n = len(ids)
    top, has = _first_choices(ranks, ranked)
    options = _first_preferences(election, top, has)
    rounds: list[dict[str, Any]] = []
    notes: list[str] = []
    winners: list[int] = []
    tie_broken = False
    history: list[dict[int, int]] = []  # exact tallies of each round
    continuing = list(ids)
    # Each ballot sits on the pile of its top continuing option (``top``, while
    # ``has``); piles and exhausted weight are kept as exact integer sums, and
    # an elimination only re-examines the ballots on the eliminated piles.
    piles = weights.bincount(top[has], has, n) if election.ballots else [0] * n
    exhausted = weights.total() - sum(piles) if election.ballots else 0
    out = np.zeros(n, dtype=bool)

    while continuing and election.ballots:
        round_number = len(rounds) + 1
        tallies = {option_id: piles[index[option_id]] for option_id in continuing}
        active = sum(tallies.values())
        history.append(tallies)
        entry: dict[str, Any] = {
            "round": round_number,
            "tallies": {str(option_id): weights.value(tallies[option_id]) for option_id in continuing},
            "exhausted": weights.value(exhausted),
            "eliminated": [],
            "transfers": {},
            "tie_break": None,
        }
        rounds.append(entry)
        if active <= 0:
            break  # no ballot ranks any option
        best = max(tallies.values())
        if 2 * best > active:  # a majority of the continuing weight, exactly
            winners = _top(tallies, continuing)
            break
        if all(tallies[option_id] == best for option_id in continuing):
            winners = list(continuing)
            break

        zero = [option_id for option_id in continuing if tallies[option_id] == 0]
        if zero:
            eliminated = zero
        else:
            fewest = min(tallies.values())
            tied = [option_id for option_id in continuing if tallies[option_id] == fewest]
            if len(tied) == 1:
                eliminated = tied
            else:
                loser, explanation = _irv_tie_break(tied, history, index, round_number, _fmt(weights.value(fewest)))
                eliminated = [loser]
                entry["tie_break"] = explanation
                notes.append(explanation)
                tie_broken = True

        gone = set(eliminated)
        out[[index[option_id] for option_id in eliminated]] = True
        moving = np.flatnonzero(has & out[top])
        moved = [0] * n
        if len(moving):
            choices = ranks[moving]
            choices[:, out] = n
            target = choices.argmin(axis=1)
            kept = choices[np.arange(len(moving)), target] < n
            moved = weights.bincount(target[kept], moving[kept], n)
            exhausted += weights.total(moving[~kept])
            top[moving] = target
            has[moving] = kept
        for option_id in eliminated:
            piles[index[option_id]] = 0
        piles = [pile + extra for pile, extra in zip(piles, moved, strict=True)]
        continuing = [option_id for option_id in continuing if option_id not in gone]
        entry["eliminated"] = eliminated
        entry["transfers"] = {
            str(option_id): weights.value(moved[index[option_id]])
            for option_id in continuing
            if moved[index[option_id]]
        }

    if not election.ballots:
        rounds = []
    return _result(
        "irv",
        election,
        options,
        winners,
        rounds=rounds,
        notes=notes,
        tie_broken=tie_broken,
        what="exactly the same number of votes in the final round",
    )


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


def _strongest_paths(ids: Sequence[int], d: Mapping[int, Mapping[int, int]]) -> dict[int, dict[int, int]]:
    """Compute Schulze strongest path strengths (widest paths, Floyd–Warshall), exactly.

    A link ``a -> b`` has strength ``d[a][b]`` when ``a`` beats ``b``
    pairwise (winning votes), else 0.

    Args:
        ids: The option ids.
        d: The exact pairwise preference matrix.

    Returns:
        ``p[a][b]`` for every ordered pair of distinct options.
    """
    p = {a: {b: (d[a][b] if d[a][b] > d[b][a] else 0) for b in ids if b != a} for a in ids}
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
                p_j[k] = max(p_j[k], min(p_ji, p_i[k]))
    return p


def tally_schulze(option_ids: Sequence[int], ballots: Iterable[TallyBallot]) -> TallyResult:
    """Count a ranked poll with the Schulze (beatpath) method.

    ``d[a][b]`` is the weighted count of ballots ranking ``a`` above ``b`` (an
    unranked option ranks below all ranked ones; two unranked options are
    equal). Strongest paths are computed as widest paths using the
    winning-votes measure: the link ``a -> b`` has strength ``d[a][b]`` if
    ``d[a][b] > d[b][a]``, else 0. The winners are all ``a`` with
    ``p[a][b] >= p[b][a]`` for every other ``b``. A Condorcet winner (who
    beats every other option pairwise) is always the sole winner.

    ``detail`` is ``{"pairwise": {str(a): {str(b): d}}, "strongest_paths":
    {str(a): {str(b): p}}, "condorcet_winner": id | None}``.

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
    winners = [a for a in ids if all(p[a][b] >= p[b][a] for b in ids if b != a)] if any_ranked else []

    shown = election.weights.value  # for display only
    detail = {
        "pairwise": {str(a): {str(b): shown(d[a][b]) for b in d[a]} for a in ids},
        "strongest_paths": {str(a): {str(b): shown(p[a][b]) for b in p[a]} for a in ids},
        "condorcet_winner": condorcet,
    }
    return _result(
        "schulze",
        election,
        options,
        winners,
        detail=detail,
        what="equally strong paths against each other",
    )


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
    return _result("borda", election, options, winners, what=f"the most Borda points ({_shown_max(options, 'points')})")


# --------------------------------------------------------------------------
# Score and STAR
# --------------------------------------------------------------------------


def _clamp(value: Any) -> Any:
    """Clamp a score to ``0..MAX_SCORE``."""
    return max(0, min(MAX_SCORE, value))


def _score_matrix(election: _Election, ballots: Sequence[TallyBallot]) -> tuple[_Election, np.ndarray]:
    """Reduce the score maps to a ballots x options matrix of clamped scores.

    Ids that are not options are ignored; a missing option scores 0. The rows
    are grouped by weight class (see :func:`_grouped`).

    Returns:
        The election with weights matching the rows, and ``scores[i, a]``: the
        score ballot ``i`` gives option ``a``; int8 unless some score is not a
        whole number.
    """
    maps = [scores or _EMPTY for scores in map(_scores_of, ballots)]
    lengths = np.fromiter(map(len, maps), dtype=np.intp, count=len(maps))
    total = int(lengths.sum())
    options = _option_indices(election, maps, total)
    raw = list(chain.from_iterable(map(_values_of, maps)))
    distinct = set(raw)
    if all(type(value) is int and abs(value) < 2**62 for value in distinct):  # the usual case
        values = np.clip(np.fromiter(raw, dtype=np.int64, count=total), 0, MAX_SCORE)
        whole = True
    else:
        clamped = {value: _clamp(value) for value in distinct}
        values = np.fromiter(map(clamped.__getitem__, raw), dtype=np.float64, count=total)
        whole = bool(np.array_equal(values, np.rint(values)))
    scores = np.zeros((len(maps), len(election.ids)), dtype=np.int8 if whole else np.float64)
    owners = np.repeat(np.arange(len(maps)), lengths)
    known = options >= 0
    scores[owners[known], options[known]] = values[known]
    election, (scores,) = _grouped(election, scores)
    return election, scores


def _score_options(election: _Election, scores: np.ndarray) -> tuple[list[OptionTally], dict[int, _Exact]]:
    """Compute the scoring figures shared by the score and STAR methods.

    Args:
        election: The election.
        scores: The score matrix of :func:`_score_matrix`.

    Returns:
        One :class:`OptionTally` per option with ``votes``/``weight`` (ballots
        scoring it above zero), ``score`` (weighted sum) and ``mean``
        (``score / total_weight``, 0 when there are no ballots), and the exact
        weighted score per option id.
    """
    weights = election.weights
    positive = scores > 0
    counts = np.count_nonzero(positive, axis=0).tolist()
    supporters = weights.dot(positive)
    sums = weights.products(scores)
    options: list[OptionTally] = []
    for a, option_id in enumerate(election.ids):
        score = sums[a]
        # The exact quotient (both in 1/den), rounded once.
        mean = float(Fraction(score) / weights.sum) if weights.sum > 0 else 0.0
        options.append(
            OptionTally(
                option_id=option_id,
                votes=counts[a],
                weight=weights.value(supporters[a]),
                score=weights.value(score),
                mean=mean,
            )
        )
    return options, dict(zip(election.ids, sums, strict=True))


def tally_score(option_ids: Sequence[int], ballots: Iterable[TallyBallot]) -> TallyResult:
    """Count a score (range) poll.

    Each ballot scores options from 0 to :data:`MAX_SCORE`; an option missing
    from a ballot's ``scores`` gets 0. An option's score is the weighted sum of
    its scores and its mean that sum divided by the total ballot weight. The
    highest score wins; when every score is 0 there is no winner.

    Args:
        option_ids: The poll's option ids in display order.
        ballots: The ballots to count; ``scores`` holds the scores.

    Returns:
        The tally result; ``rounds`` and ``detail`` are empty.
    """
    election, ballots = _prepare(option_ids, ballots)
    election, score_matrix = _score_matrix(election, ballots)
    options, scores = _score_options(election, score_matrix)
    winners = _top_positive(scores, election.ids)
    return _result("score", election, options, winners, what=f"the highest score ({_shown_max(options, 'score')})")


def _head_to_head(election: _Election, scores: np.ndarray, a: int, b: int) -> tuple[int, int, int]:
    """Compare two options on every ballot by score.

    Args:
        election: The election.
        scores: The score matrix of :func:`_score_matrix`.
        a: First option.
        b: Second option.

    Returns:
        Exact weight (in ``1/den``) preferring ``a``, preferring ``b`` and
        scoring them equally.
    """
    weights = election.weights
    column_a = scores[:, election.index[a]]
    column_b = scores[:, election.index[b]]
    prefer_a = weights.total(column_a > column_b)
    prefer_b = weights.total(column_b > column_a)
    equal = weights.total() - prefer_a - prefer_b
    return prefer_a, prefer_b, equal


def _star_finalists(
    election: _Election, score_matrix: np.ndarray, scores: Mapping[int, _Exact]
) -> tuple[list[int], str | None]:
    """Pick the two STAR finalists from the scoring round.

    The two highest scores advance. A tie that decides who advances is broken
    by head-to-head preference among the tied options (the option preferred
    over more of the others advances), then by option order (earlier
    advances). A tie among options that no ballot scored above zero is not a
    real tie-break: such an option cannot win the runoff against an option
    with support, so the first of them in option order is taken quietly.

    Args:
        election: The election (at least two options, some score above
            zero).
        score_matrix: The score matrix of :func:`_score_matrix`.
        scores: Exact weighted score per option.

    Returns:
        The finalists (higher score first) and a sentence explaining the
        tie-break, or None when none was needed.
    """
    ids = election.ids
    order = election.order
    first_group = _top(scores, ids)
    if len(first_group) >= 2:
        chosen: list[int] = []
        group = first_group
        place = "first"
    else:
        chosen = [first_group[0]]
        rest = [option_id for option_id in ids if option_id != first_group[0]]
        group = _top(scores, rest)
        place = "second"
    slots = 2 - len(chosen)
    if len(group) == slots:
        return chosen + group, None
    if scores[group[0]] <= 0:
        return chosen + group[:slots], None

    wins: dict[int, int] = dict.fromkeys(group, 0)
    for position, a in enumerate(group):
        for b in group[position + 1 :]:
            prefer_a, prefer_b, _ = _head_to_head(election, score_matrix, a, b)
            if prefer_a > prefer_b:
                wins[a] += 1
            elif prefer_b > prefer_a:
                wins[b] += 1
    ranked = sorted(group, key=lambda option_id: (-wins[option_id], order[option_id]))
    picked = ranked[:slots]
    by_order = wins[ranked[slots - 1]] == wins[ranked[slots]]
    advancing = _names(sorted(picked, key=order.__getitem__))
    verb = "advances" if slots == 1 else "advance"
    if len(group) == 2 and by_order:
        outcome = f"they were also tied head-to-head, so {advancing}, earlier in the option order, {verb} to the runoff"
    elif len(group) == 2:
        outcome = f"{advancing} {verb} to the runoff because more ballot weight prefers it head-to-head"
    elif by_order:
        outcome = (
            "head-to-head preference among them did not settle it, so the option order "
            f"did: {advancing} {verb} to the runoff"
        )
    else:
        outcome = f"{advancing} {verb} to the runoff, being preferred head-to-head over more of the tied options"
    tied_score = _fmt(election.weights.value(scores[group[0]]))
    explanation = f"Scoring round: {_names(group)} tied for {place} place with {tied_score} points; {outcome}."
    return chosen + picked, explanation


def tally_star(option_ids: Sequence[int], ballots: Iterable[TallyBallot]) -> TallyResult:
    """Count a STAR (Score Then Automatic Runoff) poll.

    Scoring round as in :func:`tally_score`; the two highest-scoring options
    become finalists (ties for a finalist place are broken by head-to-head
    preference between the tied options, then by option order, see
    :func:`_star_finalists`). In the automatic runoff each ballot supports
    whichever finalist it scored higher (equal scores: no preference). The
    finalist with more weighted preference wins; on a runoff tie the higher
    score wins; if the scores are equal too both finalists win.

    With a single option, it wins if there are any ballots. With no ballots, or
    when no ballot scores any option above zero, there is no winner.

    ``detail`` is ``{"finalists": [a, b], "runoff": {str(a): w, str(b): w,
    "no_preference": w}}`` (``finalists`` is empty and ``runoff`` ``{}`` when
    there is no runoff). ``rounds`` holds ``{"round": 1, "stage": "scoring",
    "scores": {...}, "finalists": [...], "tie_break": str | None}`` and
    ``{"round": 2, "stage": "runoff", "preferences": {...}, "tie_break":
    str | None}``.

    Args:
        option_ids: The poll's option ids in display order.
        ballots: The ballots to count; ``scores`` holds the scores.

    Returns:
        The tally result.
    """
    election, ballots = _prepare(option_ids, ballots)
    ids = election.ids
    election, score_matrix = _score_matrix(election, ballots)
    options, scores = _score_options(election, score_matrix)
    shown = election.weights.value  # for display only
    detail: dict[str, Any] = {"finalists": [], "runoff": {}}
    rounds: list[dict[str, Any]] = []
    notes: list[str] = []
    winners: list[int] = []
    tie_broken = False

    if len(ids) == 1 and election.ballots:
        winners = [ids[0]]
        detail["finalists"] = [ids[0]]
    elif len(ids) >= 2 and any(score > 0 for score in scores.values()):
        finalists, explanation = _star_finalists(election, score_matrix, scores)
        if explanation:
            notes.append(explanation)
            tie_broken = True
        a, b = finalists
        prefer_a, prefer_b, equal = _head_to_head(election, score_matrix, a, b)
        runoff = {str(a): shown(prefer_a), str(b): shown(prefer_b), "no_preference": shown(equal)}
        runoff_note: str | None = None
        if prefer_a > prefer_b:
            winners = [a]
        elif prefer_b > prefer_a:
            winners = [b]
        elif scores[a] != scores[b]:
            winner = a if scores[a] > scores[b] else b
            winners = [winner]
            pair = _names(sorted(finalists, key=election.order.__getitem__))
            runoff_note = (
                f"Runoff: {pair} were preferred on equal ballot weight "
                f"({_fmt(shown(prefer_a))}); option {winner} wins because it has the higher "
                f"score ({_fmt(shown(scores[winner]))} points)."
            )
            tie_broken = True
        else:
            winners = sorted(finalists, key=election.order.__getitem__)
        if runoff_note:
            notes.append(runoff_note)
        detail = {"finalists": [a, b], "runoff": runoff}
        rounds = [
            {
                "round": 1,
                "stage": "scoring",
                "scores": {str(option.option_id): option.score for option in options},
                "finalists": [a, b],
                "tie_break": explanation,
            },
            {
                "round": 2,
                "stage": "runoff",
                "preferences": dict(runoff),
                "tie_break": runoff_note,
            },
        ]
    return _result(
        "star",
        election,
        options,
        winners,
        rounds=rounds,
        detail=detail,
        notes=notes,
        tie_broken=tie_broken,
        what="the same runoff preference and the same score",
    )


# --------------------------------------------------------------------------
# Dispatch
# --------------------------------------------------------------------------

_TALLIES: dict[str, Callable[[Sequence[int], Iterable[TallyBallot]], TallyResult]] = {
    "single": tally_single,
    "approval": tally_approval,
    "irv": tally_irv,
    "schulze": tally_schulze,
    "borda": tally_borda,
    "score": tally_score,
    "star": tally_star,
}


def tally(method: str, option_ids: Sequence[int], ballots: Iterable[TallyBallot]) -> TallyResult:
    """Count a poll with the named voting method.

    Args:
        method: One of :data:`METHODS`.
        option_ids: The poll's option ids in display order.
        ballots: The ballots to count.

    Returns:
        The tally result.

    Raises:
        ValueError: If ``method`` is not one of :data:`METHODS`, or as raised
            by the method's tally function.
    """
    try:
        function = _TALLIES[method]
    except KeyError:
        raise ValueError(f"unknown voting method {method!r}; expected one of {', '.join(METHODS)}") from None
    return function(option_ids, ballots)
