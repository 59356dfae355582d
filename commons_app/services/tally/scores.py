"""Score (range) voting and the scoring figures STAR shares."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from fractions import Fraction
from itertools import chain
from typing import Any

import numpy as np

from commons_app.services.tally.ballots import (
    _EMPTY,
    _Election,
    _grouped,
    _option_indices,
    _prepare,
    _result,
    _scores_of,
    _shown_max,
    _top_positive,
    _values_of,
)
from commons_app.services.tally.exact import _Exact
from commons_app.services.tally.types import MAX_SCORE, OptionTally, TallyBallot, TallyResult

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
    return _result("score", election, options, winners, what="highest_score", value=_shown_max(options, "score"))
