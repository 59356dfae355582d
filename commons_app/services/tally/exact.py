"""Exact weighted sums: weights as the decimals they were written as, summed as integers."""

from __future__ import annotations

import copy
import math
import numbers
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np

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
