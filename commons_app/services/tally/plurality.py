"""Plurality (single choice) and approval."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from fractions import Fraction

import numpy as np

from commons_app.i18n import N_
from commons_app.services.tally.ballots import (
    _choice_entries,
    _count_options,
    _grouped,
    _owners,
    _prepare,
    _result,
    _shown_max,
    _tie_notes,
    _top_positive,
)
from commons_app.services.tally.exact import _decimal
from commons_app.services.tally.types import OptionTally, TallyBallot, TallyResult

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
    return _result("single", election, options, winners, what="most_votes", value=_shown_max(options, "weight"))


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
        raise ValueError(N_("option_ids must not contain duplicates"))
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
        notes=_tie_notes(winners, "most_votes", _shown_max(options, "weight")),
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
    return _result("approval", election, options, winners, what="most_approvals", value=_shown_max(options, "weight"))
