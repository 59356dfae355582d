"""STAR: Score Then Automatic Runoff."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from commons_app.services.tally.ballots import _Election, _prepare, _result, _top
from commons_app.services.tally.exact import _Exact
from commons_app.services.tally.scores import _score_matrix, _score_options
from commons_app.services.tally.ties import draw, lot_figures
from commons_app.services.tally.types import MAX_SCORE, Note, TallyBallot, TallyResult


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


def _narrow(group: list[int], slots: int, key: Callable[[int], Any]) -> tuple[list[int], list[int], int]:
    """Let the options with the highest ``key`` take places while whole classes of equal keys fit.

    Returns:
        The options that take places, the options still tied for the rest, and the places left.
    """
    taken: list[int] = []
    for value in sorted({key(option_id) for option_id in group}, reverse=True):
        members = [option_id for option_id in group if key(option_id) == value]
        if len(taken) + len(members) <= slots:
            taken += members
            if len(taken) == slots:
                return taken, [], 0
        else:
            return taken, members, slots - len(taken)
    return taken, [], slots - len(taken)


def star_advance(
    group: list[int],
    slots: int,
    prefer: Callable[[int, int], tuple[Any, Any]],
    five_star: Callable[[int], Any],
    seed: str | None,
) -> tuple[list[int], str]:
    """The Equal Vote Coalition's official tiebreaker for a scoring-round tie (starvoting.org/ties).

    Step 1: among the tied options, those who lost the most head-to-head match-ups (against
    the other options still tied) are set aside, repeatedly, while more options are tied than
    places are left. Step 2: the most five-star ratings. Step 3: a lot. Shared with the
    reference implementation.

    Args:
        group: The options tied for the places, in option order.
        slots: How many of them advance (1 or 2, fewer than ``len(group)``).
        prefer: Exact weight preferring ``a`` and preferring ``b``, for two options.
        five_star: Exact weight of the ballots giving an option the top score.
        seed: The lot's seed.

    Returns:
        The advancing options, in option order, and the step that settled it (``head_to_head``,
        ``five_star`` or ``lot``).
    """
    order = {option_id: position for position, option_id in enumerate(group)}
    advancing: list[int] = []
    tied = list(group)
    decided_by = "lot"
    while len(tied) > slots:
        losses = dict.fromkeys(tied, 0)
        for position, a in enumerate(tied):
            for b in tied[position + 1 :]:
                for_a, for_b = prefer(a, b)
                if for_a < for_b:
                    losses[a] += 1
                elif for_b < for_a:
                    losses[b] += 1
        taken, tied, slots = _narrow(tied, slots, lambda option_id: -losses[option_id])  # noqa: B023
        advancing += taken
        if not tied:
            return sorted(advancing, key=order.__getitem__), "head_to_head"
        if not taken and len(set(losses.values())) == 1:
            break
    taken, tied, slots = _narrow(tied, slots, five_star)
    advancing += taken
    if not tied:
        return sorted(advancing, key=order.__getitem__), "five_star"
    while slots:
        drawn = draw(seed, tied)
        advancing.append(drawn)
        tied.remove(drawn)
        slots -= 1
    return sorted(advancing, key=order.__getitem__), decided_by


def star_runoff(
    finalists: list[int], scores: Mapping[int, Any], five_star: Callable[[int], Any], seed: str | None
) -> tuple[int, str]:
    """Break a runoff tie (official protocol): the higher score, then more five-star ratings, then a lot.

    Returns:
        The winner and the step that decided (``score``, ``five_star`` or ``lot``).
    """
    a, b = finalists
    if scores[a] != scores[b]:
        return (a if scores[a] > scores[b] else b), "score"
    if five_star(a) != five_star(b):
        return (a if five_star(a) > five_star(b) else b), "five_star"
    return draw(seed, finalists), "lot"


def _star_finalists(
    election: _Election, score_matrix: np.ndarray, scores: Mapping[int, _Exact], seed: str | None
) -> tuple[list[int], Note | None]:
    """Pick the two STAR finalists from the scoring round.

    The two highest scores advance. A tie that decides who advances is broken by the official
    protocol (:func:`star_advance`). A tie among options that no ballot scored above zero is
    not a real tie-break: such an option cannot win the runoff against an option with support,
    so the first of them in option order is taken quietly.

    Returns:
        The finalists (higher score first) and the note on the tie-break, or None.
    """
    ids = election.ids
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

    def prefer(a: int, b: int) -> tuple[int, int]:
        return _head_to_head(election, score_matrix, a, b)[:2]

    five = _five_star(election, score_matrix)
    picked, decided_by = star_advance(group, slots, prefer, five.__getitem__, seed)
    figures: dict[str, Any] = {
        "place": place,
        "score": election.weights.value(scores[group[0]]),
        "advancing": picked,
        "decided_by": decided_by,
    }
    if decided_by == "lot":
        figures.update(lot_figures(seed, group))
    return chosen + picked, Note("star_scoring", tuple(group), figures)


def _five_star(election: _Election, score_matrix: np.ndarray) -> dict[int, int]:
    """Exact weight of the ballots giving each option the top score."""
    return dict(zip(election.ids, election.weights.dot(score_matrix == MAX_SCORE), strict=True))


def tally_star(option_ids: Sequence[int], ballots: Iterable[TallyBallot], *, seed: str | None = None) -> TallyResult:
    """Count a STAR (Score Then Automatic Runoff) poll.

    Scoring round as in :func:`tally_score`; the two highest-scoring options
    become finalists (ties for a finalist place are broken by the Equal Vote
    Coalition's official protocol: head-to-head match-ups, then five-star
    ratings, then a lot, see :func:`star_advance`). In the automatic runoff
    each ballot supports whichever finalist it scored higher (equal scores: no
    preference). The finalist with more weighted preference wins; on a runoff
    tie the higher score wins, then more five-star ratings, then a lot seeded by
    ``seed`` (:mod:`commons_app.services.tally.ties`).

    With a single option, it wins if there are any ballots. With no ballots, or
    when no ballot scores any option above zero, there is no winner.

    ``detail`` is ``{"finalists": [a, b], "runoff": {str(a): w, str(b): w,
    "no_preference": w}}`` (``finalists`` is empty and ``runoff`` ``{}`` when
    there is no runoff). ``rounds`` holds ``{"round": 1, "stage": "scoring",
    "scores": {...}, "finalists": [...], "tie_break": str | None}`` and
    ``{"round": 2, "stage": "runoff", "preferences": {...}, "tie_break":
    dict | None}`` (``tie_break``: a :meth:`Note.as_dict`).

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
    notes: list[Note] = []
    winners: list[int] = []
    tie_broken = False

    if len(ids) == 1 and election.ballots:
        winners = [ids[0]]
        detail["finalists"] = [ids[0]]
    elif len(ids) >= 2 and any(score > 0 for score in scores.values()):
        finalists, scoring_note = _star_finalists(election, score_matrix, scores, seed)
        if scoring_note:
            notes.append(scoring_note)
            tie_broken = True
        a, b = finalists
        prefer_a, prefer_b, equal = _head_to_head(election, score_matrix, a, b)
        runoff = {str(a): shown(prefer_a), str(b): shown(prefer_b), "no_preference": shown(equal)}
        runoff_note: Note | None = None
        if prefer_a > prefer_b:
            winners = [a]
        elif prefer_b > prefer_a:
            winners = [b]
        else:
            five = _five_star(election, score_matrix)
            winner, decided_by = star_runoff(finalists, scores, five.__getitem__, seed)
            winners = [winner]
            pair = tuple(sorted(finalists, key=election.order.__getitem__))
            figures: dict[str, Any] = {
                "preference": shown(prefer_a),
                "winner": winner,
                "decided_by": decided_by,
                "score": shown(scores[winner]),
                "five_star": shown(five[winner]),
            }
            if decided_by == "lot":
                figures.update(lot_figures(seed, list(pair)))
            runoff_note = Note("star_runoff", pair, figures)
            notes.append(runoff_note)
            tie_broken = True
        detail = {"finalists": [a, b], "runoff": runoff}
        rounds = [
            {
                "round": 1,
                "stage": "scoring",
                "scores": {str(option.option_id): option.score for option in options},
                "finalists": [a, b],
                "tie_break": scoring_note.as_dict() if scoring_note else None,
            },
            {
                "round": 2,
                "stage": "runoff",
                "preferences": dict(runoff),
                "tie_break": runoff_note.as_dict() if runoff_note else None,
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
    )
