"""STAR: Score Then Automatic Runoff."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from commons_app.services.tally.ballots import _Election, _fmt, _names, _prepare, _result, _top
from commons_app.services.tally.exact import _Exact
from commons_app.services.tally.scores import _score_matrix, _score_options
from commons_app.services.tally.types import TallyBallot, TallyResult


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
