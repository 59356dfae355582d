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
  decide something; ``notes`` then says what happened, as structured
  :class:`Note` values (kind, options, figures) that
  :func:`commons_app.services.tally.notes.render_note` turns into words. The
  tie rules are each method's own standard's (see ``docs/TALLY.md``); a lot is
  seeded by ``seed`` and reproducible (:mod:`commons_app.services.tally.ties`).
* ``rounds`` and ``detail`` only hold JSON-serialisable values: string keys
  (``str(option_id)``), numbers, lists and dicts.

How the counting is done: the ballots are flattened once into numpy arrays (a
ballots x options matrix of rank positions or of scores) and each method
counts whole columns at a time; see :class:`_Weights` for how the weighted
sums stay exact and fast. ``reference.py`` keeps a straightforward per-ballot
implementation of every method (``tally(..., algorithm="reference")``) that the
tests check the fast one against; ``bench/tallies.py`` times both.
"""


from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from commons_app.services.tally.pairwise import tally_schulze
from commons_app.services.tally.plurality import tally_approval, tally_single, tally_single_counts
from commons_app.services.tally.positional import tally_borda
from commons_app.services.tally.runoff import tally_irv
from commons_app.services.tally.scores import tally_score
from commons_app.services.tally.star import tally_star
from commons_app.services.tally.stv import STV_RULES, tally_stv
from commons_app.services.tally.types import MAX_SCORE, METHODS, Note, OptionTally, TallyBallot, TallyResult

__all__ = [
    "ALGORITHMS",
    "MAX_SCORE",
    "METHODS",
    "STV_RULES",
    "TALLY_METHODS",
    "Note",
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
    "tally_single_counts",
    "tally_star",
    "tally_stv",
]

# --------------------------------------------------------------------------
# Dispatch
# --------------------------------------------------------------------------

_TALLIES: dict[str, Callable[..., TallyResult]] = {
    "single": tally_single,
    "approval": tally_approval,
    "irv": tally_irv,
    "schulze": tally_schulze,
    "borda": tally_borda,
    "score": tally_score,
    "star": tally_star,
    "stv": tally_stv,
}

TALLY_METHODS: tuple[str, ...] = (*METHODS, "stv")
"""Every method :func:`tally` counts: :data:`METHODS` and ``"stv"`` (multi-winner, ``seats=``)."""

_OPTIONS: dict[str, frozenset[str]] = {
    "irv": frozenset({"seed"}),
    "star": frozenset({"seed"}),
    "stv": frozenset({"seed", "seats", "stv_rule"}),
}
"""The keyword options each method takes (beyond option ids and ballots)."""

ALGORITHMS: tuple[str, ...] = ("fast", "reference")
"""``algorithm=`` of :func:`tally`: the optimised count, or the plain reference implementation."""


def tally(
    method: str,
    option_ids: Sequence[int],
    ballots: Iterable[TallyBallot],
    *,
    algorithm: str = "fast",
    **options: Any,
) -> TallyResult:
    """Count a poll with the named voting method.

    Args:
        method: One of :data:`TALLY_METHODS`.
        option_ids: The poll's option ids in display order.
        ballots: The ballots to count.
        algorithm: ``"fast"`` (the optimised count) or ``"reference"`` (the plain per-ballot
            implementation the fast one is tested against; same results, much slower).
        **options: The method's options: ``seed`` (``str | None``, the seed of any lot:
            the sealed record's SHA-256 once a poll is closed; every method accepts it, only
            IRV, STAR and STV can need it), and for ``stv`` ``seats`` (int >= 1, default 1) and
            ``stv_rule`` (``"scottish"`` default, or ``"meek"``). An option that is None is
            left at its default.

    Returns:
        The tally result.

    Raises:
        ValueError: If ``method`` is not one of :data:`TALLY_METHODS`, an option is not one the
            method takes, or as raised by the method's tally function.
    """
    try:
        function = _TALLIES[method]
    except KeyError:
        raise ValueError(f"unknown voting method {method!r}; expected one of {', '.join(TALLY_METHODS)}") from None
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {algorithm!r}; expected one of {', '.join(ALGORITHMS)}")
    given = {name: value for name, value in options.items() if value is not None}
    accepted = _OPTIONS.get(method, frozenset()) | {"seed"}
    unknown = sorted(set(given) - accepted)
    if unknown:
        raise ValueError(f"method {method!r} takes no option {', '.join(unknown)}")
    given = {name: value for name, value in given.items() if name in _OPTIONS.get(method, ())}
    if algorithm == "reference":
        from commons_app.services.tally import reference

        function = reference.REFERENCE[method]
    return function(option_ids, ballots, **given)
