"""Benchmark and equivalence check for the pure tally functions (commons_app.services.tally).

Run from the repository root::

    .venv/bin/python bench/tallies.py            # full run: 100,000 ranked/scored ballots, 1,000,000 single-choice
    .venv/bin/python bench/tallies.py --quick    # smaller elections, fewer repeats

It does three things:

1. Equivalence on many small and medium random elections (seeded): every method of the app is
   compared with the straightforward reference implementation kept in this file (the tally code
   as it was before it was optimised, made exact: weights taken as the decimals they were written
   as and summed as Fractions, ballot by ballot, with no tolerance), including weights such as
   0.1 and 1/3, partial rankings, unknown and repeated ids, out-of-range scores, ties, and the
   errors raised for invalid input. Results must be identical: ``dataclasses.asdict`` of both results
   compared with ``==`` and by ``repr`` (same floats, winners, rounds, detail, notes and tie
   flags). Every election is run twice, once per strategy the app uses to sum weights exactly
   (per weight class, and per "limb" as used beyond ``_CLASS_LIMIT`` distinct weights).
2. Large synthetic elections (seeded; voters and options in a 2-D opinion space, so ballots have
   preference structure; about a quarter of the rankings are partial; about 4% of the ballots
   carry a weight other than 1, among them 0.3, a decimal no float holds exactly): each tally is
   run ``--repeat`` times and the median, p95 (nearest rank) and minimum wall-clock time in ms
   are printed. The machine may be shared: the load average is printed at the start and end.
3. Each large result is compared with the reference too (skip with ``--no-check``).

Exits with status 1 when any result differs from the reference, else 0. ``--impl reference``
times the reference implementation instead of the app (the "before" figures).
"""

from __future__ import annotations

import argparse
import math
import numbers
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from commons_app.services import tally as app
from commons_app.services.tally import (
    MAX_SCORE,
    METHODS,
    OptionTally,
    TallyBallot,
    TallyResult,
)
from commons_app.services.tally import exact as app_exact

# ==========================================================================================
# Reference implementation: the tally code before optimisation, but for docstrings and for
# exactness. Deliberately simple: one pass over every ballot per quantity; every weight is the
# decimal it was written as (a Fraction), every sum a Fraction, every comparison exact (no
# tolerance); floats only for the figures reported, each the exact value rounded once.
# ==========================================================================================


@dataclass(frozen=True)
class _Ballot:
    weight: Fraction
    ranking: tuple[int, ...]
    scores: dict[int, Any]


@dataclass(frozen=True)
class _Election:
    ids: tuple[int, ...]
    ballots: tuple[_Ballot, ...]
    total_weight: Fraction

    @property
    def order(self) -> dict[int, int]:
        return {option_id: index for index, option_id in enumerate(self.ids)}


def _exact(value: Any) -> Fraction:
    """A weight or score as the number it was written as: a float as the decimal its repr shows."""
    if isinstance(value, numbers.Rational | Decimal):
        return Fraction(value)
    return Fraction(repr(float(value)))


def _sum(values: Iterable[Fraction]) -> Fraction:
    return sum(values, Fraction(0))


def _fmt(value: Fraction) -> str:
    shown = float(value)
    if shown.is_integer():
        return str(int(shown))
    return f"{shown:.6g}"


def _names(option_ids: Iterable[int]) -> str:
    ids = [str(option_id) for option_id in option_ids]
    if len(ids) == 1:
        return f"option {ids[0]}"
    return f"options {', '.join(ids[:-1])} and {ids[-1]}"


def _prepare(option_ids: Sequence[int], ballots: Iterable[TallyBallot]) -> _Election:
    ids = tuple(option_ids)
    known = set(ids)
    if len(known) != len(ids):
        raise ValueError("option_ids must not contain duplicates")
    prepared: list[_Ballot] = []
    for ballot in ballots:
        weight = float(ballot.weight)
        if not math.isfinite(weight) or weight <= 0:
            raise ValueError(f"ballot weight must be a finite number > 0, got {ballot.weight!r}")
        ranking: list[int] = []
        seen: set[int] = set()
        for option_id in ballot.choices:
            if option_id in known and option_id not in seen:
                seen.add(option_id)
                ranking.append(option_id)
        scores: dict[int, int] = {}
        for option_id, value in (ballot.scores or {}).items():
            if option_id in known:
                scores[option_id] = max(0, min(MAX_SCORE, value))
        prepared.append(_Ballot(weight=_exact(ballot.weight), ranking=tuple(ranking), scores=scores))
    total_weight = _sum(ballot.weight for ballot in prepared)
    return _Election(ids=ids, ballots=tuple(prepared), total_weight=total_weight)


def _top(values: Mapping[int, Fraction], ids: Sequence[int]) -> list[int]:
    if not ids:
        return []
    best = max(values[option_id] for option_id in ids)
    return [option_id for option_id in ids if values[option_id] == best]


def _top_positive(values: Mapping[int, Fraction], ids: Sequence[int]) -> list[int]:
    winners = _top(values, ids)
    if winners and values[winners[0]] <= 0:
        return []
    return winners


def _first_preferences(election: _Election) -> tuple[list[OptionTally], dict[int, Fraction]]:
    counts = dict.fromkeys(election.ids, 0)
    weights: dict[int, list[Fraction]] = {option_id: [] for option_id in election.ids}
    for ballot in election.ballots:
        if ballot.ranking:
            first = ballot.ranking[0]
            counts[first] += 1
            weights[first].append(ballot.weight)
    totals = {option_id: _sum(weights[option_id]) for option_id in election.ids}
    options = [
        OptionTally(option_id=option_id, votes=counts[option_id], weight=float(totals[option_id]))
        for option_id in election.ids
    ]
    return options, totals


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
    all_notes = list(notes or [])
    if len(winners) > 1:
        all_notes.append(
            f"{_names(winners).capitalize()} tied with {what}; no tie-break rule applies, so all of them are winners."
        )
    return TallyResult(
        method=method,
        total_ballots=len(election.ballots),
        total_weight=float(election.total_weight),
        options=options,
        winners=winners,
        rounds=rounds or [],
        detail=detail or {},
        tie=len(winners) > 1 or tie_broken,
        notes=all_notes,
    )


def ref_tally_single(option_ids: Sequence[int], ballots: Iterable[TallyBallot]) -> TallyResult:
    election = _prepare(option_ids, ballots)
    options, weights = _first_preferences(election)
    winners = _top_positive(weights, election.ids)
    return _result(
        "single",
        election,
        options,
        winners,
        what=f"the most votes ({_fmt(max(weights.values(), default=0))})",
    )


def ref_tally_approval(option_ids: Sequence[int], ballots: Iterable[TallyBallot]) -> TallyResult:
    election = _prepare(option_ids, ballots)
    counts = dict.fromkeys(election.ids, 0)
    weights: dict[int, list[Fraction]] = {option_id: [] for option_id in election.ids}
    for ballot in election.ballots:
        for option_id in ballot.ranking:
            counts[option_id] += 1
            weights[option_id].append(ballot.weight)
    totals = {option_id: _sum(weights[option_id]) for option_id in election.ids}
    options = [
        OptionTally(option_id=option_id, votes=counts[option_id], weight=float(totals[option_id]))
        for option_id in election.ids
    ]
    winners = _top_positive(totals, election.ids)
    return _result(
        "approval",
        election,
        options,
        winners,
        what=f"the most approvals ({_fmt(max(totals.values(), default=0))})",
    )


def _top_continuing(ranking: Sequence[int], continuing: set[int]) -> int | None:
    for option_id in ranking:
        if option_id in continuing:
            return option_id
    return None


def _irv_tie_break(
    tied: list[int], history: list[dict[int, Fraction]], order: Mapping[int, int], round_number: int
) -> tuple[int, str]:
    candidates = list(tied)
    tied_votes = _fmt(history[-1][tied[0]])
    for earlier in range(len(history) - 2, -1, -1):
        tallies = history[earlier]
        fewest = min(tallies[option_id] for option_id in candidates)
        narrowed = [option_id for option_id in candidates if tallies[option_id] == fewest]
        if len(narrowed) == 1:
            loser = narrowed[0]
            return (
                loser,
                f"Round {round_number}: {_names(tied)} tied for the fewest votes ({tied_votes}); option {loser} was eliminated because it had fewer votes in round {earlier + 1} (backwards tie-break).",
            )
        candidates = narrowed
    loser = max(candidates, key=lambda option_id: order[option_id])
    if round_number == 1:
        why = "there is no earlier round to separate them"
    else:
        still = _names(sorted(candidates, key=order.__getitem__))
        why = f"no earlier round separates {still}"
    return (
        loser,
        f"Round {round_number}: {_names(tied)} tied for the fewest votes ({tied_votes}) and {why}; option {loser} was eliminated because it comes latest in the option order.",
    )


def ref_tally_irv(option_ids: Sequence[int], ballots: Iterable[TallyBallot]) -> TallyResult:
    election = _prepare(option_ids, ballots)
    order = election.order
    options, _ = _first_preferences(election)
    rounds: list[dict[str, Any]] = []
    notes: list[str] = []
    winners: list[int] = []
    tie_broken = False
    history: list[dict[int, Fraction]] = []
    continuing = list(election.ids)
    while continuing and election.ballots:
        round_number = len(rounds) + 1
        in_count = set(continuing)
        piles: dict[int, list[Fraction]] = {option_id: [] for option_id in continuing}
        exhausted: list[Fraction] = []
        for ballot in election.ballots:
            top = _top_continuing(ballot.ranking, in_count)
            if top is None:
                exhausted.append(ballot.weight)
            else:
                piles[top].append(ballot.weight)
        tallies = {option_id: _sum(piles[option_id]) for option_id in continuing}
        active = _sum(weight for option_id in continuing for weight in piles[option_id])
        history.append(tallies)
        entry: dict[str, Any] = {
            "round": round_number,
            "tallies": {str(option_id): float(tallies[option_id]) for option_id in continuing},
            "exhausted": float(_sum(exhausted)),
            "eliminated": [],
            "transfers": {},
            "tie_break": None,
        }
        rounds.append(entry)
        if active <= 0:
            break
        best = max(tallies.values())
        if best > active / 2:
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
                loser, explanation = _irv_tie_break(tied, history, order, round_number)
                eliminated = [loser]
                entry["tie_break"] = explanation
                notes.append(explanation)
                tie_broken = True
        gone = set(eliminated)
        remaining = in_count - gone
        moved: dict[int, list[Fraction]] = {}
        for ballot in election.ballots:
            if _top_continuing(ballot.ranking, in_count) in gone:
                target = _top_continuing(ballot.ranking, remaining)
                if target is not None:
                    moved.setdefault(target, []).append(ballot.weight)
        continuing = [option_id for option_id in continuing if option_id not in gone]
        entry["eliminated"] = eliminated
        entry["transfers"] = {
            str(option_id): float(_sum(moved[option_id])) for option_id in continuing if option_id in moved
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


def _pairwise(election: _Election) -> dict[int, dict[int, Fraction]]:
    parts: dict[int, dict[int, list[Fraction]]] = {a: {b: [] for b in election.ids if b != a} for a in election.ids}
    for ballot in election.ballots:
        below = set(election.ids)
        for a in ballot.ranking:
            below.discard(a)
            for b in below:
                parts[a][b].append(ballot.weight)
    return {a: {b: _sum(parts[a][b]) for b in parts[a]} for a in parts}


def _strongest_paths(ids: Sequence[int], d: Mapping[int, Mapping[int, Fraction]]) -> dict[int, dict[int, Fraction]]:
    p = {a: {b: d[a][b] if d[a][b] > d[b][a] else Fraction(0) for b in ids if b != a} for a in ids}
    for i in ids:
        for j in ids:
            if j == i:
                continue
            for k in ids:
                if k in (i, j):
                    continue
                p[j][k] = max(p[j][k], min(p[j][i], p[i][k]))
    return p


def ref_tally_schulze(option_ids: Sequence[int], ballots: Iterable[TallyBallot]) -> TallyResult:
    election = _prepare(option_ids, ballots)
    ids = election.ids
    options, _ = _first_preferences(election)
    d = _pairwise(election)
    p = _strongest_paths(ids, d)
    condorcet: int | None = None
    if any(ballot.ranking for ballot in election.ballots):
        for a in ids:
            if all(d[a][b] > d[b][a] for b in ids if b != a):
                condorcet = a
                break
    winners: list[int] = []
    if any(ballot.ranking for ballot in election.ballots):
        winners = [a for a in ids if all(p[a][b] >= p[b][a] for b in ids if b != a)]
    detail = {
        "pairwise": {str(a): {str(b): float(d[a][b]) for b in d[a]} for a in ids},
        "strongest_paths": {str(a): {str(b): float(p[a][b]) for b in p[a]} for a in ids},
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


def ref_tally_borda(option_ids: Sequence[int], ballots: Iterable[TallyBallot]) -> TallyResult:
    election = _prepare(option_ids, ballots)
    n = len(election.ids)
    parts: dict[int, list[Fraction]] = {option_id: [] for option_id in election.ids}
    for ballot in election.ballots:
        for position, option_id in enumerate(ballot.ranking):
            parts[option_id].append(ballot.weight * (n - 1 - position))
    points = {option_id: _sum(parts[option_id]) for option_id in election.ids}
    options, _ = _first_preferences(election)
    for option in options:
        option.points = float(points[option.option_id])
    winners = _top(points, election.ids) if any(b.ranking for b in election.ballots) else []
    return _result(
        "borda",
        election,
        options,
        winners,
        what=f"the most Borda points ({_fmt(max(points.values(), default=0))})",
    )


def _score_options(election: _Election) -> tuple[list[OptionTally], dict[int, Fraction]]:
    counts = dict.fromkeys(election.ids, 0)
    supporters: dict[int, list[Fraction]] = {option_id: [] for option_id in election.ids}
    parts: dict[int, list[Fraction]] = {option_id: [] for option_id in election.ids}
    for ballot in election.ballots:
        for option_id, value in ballot.scores.items():
            if value > 0:
                counts[option_id] += 1
                supporters[option_id].append(ballot.weight)
                parts[option_id].append(ballot.weight * _exact(value))
    options: list[OptionTally] = []
    scores: dict[int, Fraction] = {}
    for option_id in election.ids:
        score = scores[option_id] = _sum(parts[option_id])
        mean = float(score / election.total_weight) if election.total_weight > 0 else 0.0
        options.append(
            OptionTally(
                option_id=option_id,
                votes=counts[option_id],
                weight=float(_sum(supporters[option_id])),
                score=float(score),
                mean=mean,
            )
        )
    return options, scores


def ref_tally_score(option_ids: Sequence[int], ballots: Iterable[TallyBallot]) -> TallyResult:
    election = _prepare(option_ids, ballots)
    options, scores = _score_options(election)
    winners = _top_positive(scores, election.ids)
    return _result(
        "score",
        election,
        options,
        winners,
        what=f"the highest score ({_fmt(max(scores.values(), default=0))})",
    )


def _head_to_head(election: _Election, a: int, b: int) -> tuple[Fraction, Fraction, Fraction]:
    prefer_a: list[Fraction] = []
    prefer_b: list[Fraction] = []
    equal: list[Fraction] = []
    for ballot in election.ballots:
        score_a = ballot.scores.get(a, 0)
        score_b = ballot.scores.get(b, 0)
        if score_a > score_b:
            prefer_a.append(ballot.weight)
        elif score_b > score_a:
            prefer_b.append(ballot.weight)
        else:
            equal.append(ballot.weight)
    return (_sum(prefer_a), _sum(prefer_b), _sum(equal))


def _star_finalists(election: _Election, scores: Mapping[int, Fraction]) -> tuple[list[int], str | None]:
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
        return (chosen + group, None)
    if scores[group[0]] <= 0:
        return (chosen + group[:slots], None)
    wins: dict[int, int] = dict.fromkeys(group, 0)
    for index, a in enumerate(group):
        for b in group[index + 1 :]:
            prefer_a, prefer_b, _ = _head_to_head(election, a, b)
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
        outcome = f"head-to-head preference among them did not settle it, so the option order did: {advancing} {verb} to the runoff"
    else:
        outcome = f"{advancing} {verb} to the runoff, being preferred head-to-head over more of the tied options"
    explanation = (
        f"Scoring round: {_names(group)} tied for {place} place with {_fmt(scores[group[0]])} points; {outcome}."
    )
    return (chosen + picked, explanation)


def ref_tally_star(option_ids: Sequence[int], ballots: Iterable[TallyBallot]) -> TallyResult:
    election = _prepare(option_ids, ballots)
    ids = election.ids
    options, scores = _score_options(election)
    detail: dict[str, Any] = {"finalists": [], "runoff": {}}
    rounds: list[dict[str, Any]] = []
    notes: list[str] = []
    winners: list[int] = []
    tie_broken = False
    if len(ids) == 1 and election.ballots:
        winners = [ids[0]]
        detail["finalists"] = [ids[0]]
    elif len(ids) >= 2 and any(value > 0 for value in scores.values()):
        finalists, explanation = _star_finalists(election, scores)
        if explanation:
            notes.append(explanation)
            tie_broken = True
        a, b = finalists
        prefer_a, prefer_b, equal = _head_to_head(election, a, b)
        runoff = {str(a): float(prefer_a), str(b): float(prefer_b), "no_preference": float(equal)}
        runoff_note: str | None = None
        if prefer_a > prefer_b:
            winners = [a]
        elif prefer_b > prefer_a:
            winners = [b]
        elif scores[a] != scores[b]:
            winner = a if scores[a] > scores[b] else b
            winners = [winner]
            pair = _names(sorted(finalists, key=election.order.__getitem__))
            runoff_note = f"Runoff: {pair} were preferred on equal ballot weight ({_fmt(prefer_a)}); option {winner} wins because it has the higher score ({_fmt(scores[winner])} points)."
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
                "scores": {str(option_id): float(scores[option_id]) for option_id in ids},
                "finalists": [a, b],
                "tie_break": explanation,
            },
            {"round": 2, "stage": "runoff", "preferences": dict(runoff), "tie_break": runoff_note},
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


REFERENCE: dict[str, Callable[[Sequence[int], Iterable[TallyBallot]], TallyResult]] = {
    "single": ref_tally_single,
    "approval": ref_tally_approval,
    "irv": ref_tally_irv,
    "schulze": ref_tally_schulze,
    "borda": ref_tally_borda,
    "score": ref_tally_score,
    "star": ref_tally_star,
}


# ==========================================================================================
# Equivalence on small random elections
# ==========================================================================================

ODD_WEIGHTS = [0.1, 0.2, 0.3, 0.7, 1 / 3, 2.5, 1e-3, 12.75]


def _random_weight(rng: random.Random) -> float:
    roll = rng.random()
    if roll < 0.55:
        return 1.0
    if roll < 0.75:
        return rng.choice([2.0, 0.5, 3.0, 1.5])
    if roll < 0.9:
        return rng.choice(ODD_WEIGHTS)
    return rng.uniform(0.01, 100.0)


def random_election(rng: random.Random, max_options: int, max_ballots: int) -> tuple[list[int], list[TallyBallot]]:
    """A small election with every awkward feature the tallies must handle."""
    n = rng.randint(1, max_options)
    ids = rng.sample(range(1, 200), n)
    uniform = rng.random() < 0.3  # all weights 1: exact ties become likely
    continuous = not uniform and rng.random() < 0.1  # every ballot its own weight
    few = rng.random() < 0.4  # few distinct ballots: many identical ones
    pool: list[TallyBallot] = []
    ballots: list[TallyBallot] = []
    for _ in range(rng.randint(0, max_ballots)):
        if few and pool and rng.random() < 0.7:
            ballots.append(rng.choice(pool))
            continue
        ranking = rng.sample(ids, n)[: rng.randint(0, n)]
        if ranking and rng.random() < 0.08:
            ranking.insert(rng.randrange(len(ranking) + 1), rng.choice(ranking))  # repeated id
        if rng.random() < 0.05:
            ranking.insert(rng.randrange(len(ranking) + 1), 999)  # unknown id
        scores: dict[int, int] = {}
        for option_id in rng.sample(ids, rng.randint(0, n)):
            scores[option_id] = rng.choice([0, 1, 2, 3, 4, 5, 5, 0]) if rng.random() > 0.05 else rng.choice([-2, 7])
        if rng.random() < 0.05:
            scores[999] = 3
        weight = 1.0 if uniform else rng.uniform(0.01, 100.0) if continuous else _random_weight(rng)
        ballot = TallyBallot(weight=weight, choices=tuple(ranking), scores=scores if rng.random() > 0.05 else None)
        pool.append(ballot)
        ballots.append(ballot)
    return ids, ballots


def _first_difference(a: Any, b: Any, path: str = "") -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        if list(a) != list(b):
            return f"{path}: keys {list(a)} != {list(b)}"
        for key in a:
            if a[key] != b[key]:
                return _first_difference(a[key], b[key], f"{path}.{key}")
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{path}: length {len(a)} != {len(b)}"
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            if x != y:
                return _first_difference(x, y, f"{path}[{index}]")
    return f"{path}: {a!r} != {b!r}"


def same_result(method: str, ids: Sequence[int], ballots: Sequence[TallyBallot]) -> str | None:
    """Run the app and the reference on one election; None when identical, else what differs."""
    outcomes = []
    for function in (app.tally, lambda m, i, b: REFERENCE[m](i, b)):
        try:
            outcomes.append(("ok", asdict(function(method, ids, ballots))))
        except Exception as error:  # noqa: BLE001 - the errors themselves are compared
            outcomes.append(("error", f"{type(error).__name__}: {error}"))
    (kind_app, got), (kind_ref, want) = outcomes
    if kind_app == kind_ref and got == want:
        # == treats 0.0 and -0.0 alike; the JSON would differ, so compare the reprs too.
        if kind_app == "error" or repr(got) == repr(want):
            return None
    if kind_app != kind_ref:
        return f"{method}: app {kind_app} {got if kind_app == 'error' else ''} / reference {kind_ref} {want if kind_ref == 'error' else ''}"
    if kind_app == "error":
        return f"{method}: app raised {got!r}, reference raised {want!r}"
    return f"{method}: {_first_difference(got, want)}"


def edge_cases() -> list[tuple[list[int], list[TallyBallot]]]:
    """Invalid input (every method must raise what the reference raises) and odd corners."""
    good = TallyBallot(weight=1.0, choices=(1, 2), scores={1: 3})
    cases: list[tuple[list[int], list[TallyBallot]]] = [
        ([1, 2, 1], [good]),
        ([], [good]),
        ([], []),
        ([5], []),
        ([5], [TallyBallot(choices=(), scores=None)]),
        ([1, 2], [TallyBallot(weight=1e-300, choices=(1, 2), scores={1: 5}), TallyBallot(weight=1e300, choices=(2,))]),
        ([1, 2], [TallyBallot(weight=5e-324, choices=(1, 2), scores={1: 5}), TallyBallot(weight=3.0, scores={2: 1.5})]),
        # a list for choices, bool / float / NaN / huge scores, ids given as equal floats and bools
        ([1, 2, 3], [TallyBallot(weight=1, choices=[1, 2], scores={1: True, 2: 2.0, 3: math.nan})]),  # type: ignore[arg-type]
        ([1, 2, 3], [TallyBallot(weight=1, choices=(1.0, True, 2), scores={1: 10**30, 2: -(10**30)})]),  # type: ignore[arg-type]
    ]
    # many ballots whose first entry is not an option (single-choice takes another path for those)
    rng = random.Random(5)
    cases.append(
        (
            [1, 2, 3],
            [
                TallyBallot(weight=rng.choice([1.0, 0.3]), choices=(9, *rng.sample([1, 2, 3, 3], rng.randint(0, 3))))
                for _ in range(300)
            ],
        )
    )
    for bad in (0, 0.0, -1.0, math.nan, math.inf, -math.inf, "abc"):
        cases.append(([1, 2], [good, TallyBallot(weight=bad, choices=(2,)), TallyBallot(weight=-5.0)]))  # type: ignore[arg-type]
    cases.append(
        ([1, 2], [TallyBallot(weight=2, choices=(2,)), TallyBallot(weight=True, choices=(1,))])
    )  # int/bool weights
    return cases


def check_random(count: int, seed: int) -> int:
    """Compare app and reference on ``count`` random elections per size class; return the failures."""
    rng = random.Random(seed)
    failures = 0
    elections = [random_election(rng, 5, 14) for _ in range(count)]
    elections += [random_election(rng, 12, 400) for _ in range(count // 10)]
    elections += edge_cases()
    # The app sums weights per weight class, or (beyond _CLASS_LIMIT distinct weights) per
    # "limb"; run every election through both strategies.
    limit = app_exact._CLASS_LIMIT
    for strategy, forced in (("per-class", limit), ("per-limb", 0)):
        app_exact._CLASS_LIMIT = forced
        try:
            for ids, ballots in elections:
                for method in METHODS:
                    problem = same_result(method, ids, ballots)
                    if problem:
                        failures += 1
                        if failures <= 10:
                            print(f"  DIFFERENCE [{strategy}] ({len(ids)} options, {len(ballots)} ballots) {problem}")
        finally:
            app_exact._CLASS_LIMIT = limit
    print(
        f"equivalence: {len(elections)} random and edge-case elections x {len(METHODS)} methods "
        f"x 2 weight strategies, {failures} differences"
    )
    return failures


# ==========================================================================================
# Large synthetic elections
# ==========================================================================================


@dataclass
class Election:
    name: str
    option_ids: list[int]
    ballots: list[TallyBallot]


def synthetic(kind: str, n: int, count: int, seed: int) -> Election:
    """A structured election: voters in clusters of a 2-D opinion space, options at points in it.

    ``kind`` is ``ranked`` (partial rankings for about a quarter of the ballots), ``scored``
    (0..5 scores from the distance, some options left unscored), ``approval`` or ``single``.
    """
    rng = np.random.default_rng(seed)
    option_ids = [100 + 7 * i for i in rng.permutation(n).tolist()]
    positions = rng.normal(scale=1.2, size=(n, 2))
    appeal = rng.normal(scale=0.15, size=n)
    centres = rng.normal(scale=1.5, size=(6, 2))
    cluster = rng.choice(6, size=count, p=rng.dirichlet(np.full(6, 4.0)))
    voters = centres[cluster] + rng.normal(scale=0.9, size=(count, 2))
    utility = -np.linalg.norm(voters[:, None, :] - positions[None, :, :], axis=2) + appeal
    utility += rng.normal(scale=0.4, size=utility.shape)
    weights = np.where(rng.random(count) < 0.96, 1.0, rng.choice([2.0, 0.5, 1.5, 3.0, 0.3], size=count)).tolist()
    ids = np.array(option_ids)
    ballots: list[TallyBallot] = []
    if kind in ("ranked", "single"):
        order = ids[np.argsort(-utility, axis=1)]
        if kind == "single":
            firsts = order[:, 0].tolist()
            ballots = [TallyBallot(weight=w, choices=(c,)) for w, c in zip(weights, firsts, strict=True)]
        else:
            lengths = np.where(rng.random(count) < 0.75, n, rng.integers(1, n, size=count))
            lengths[rng.random(count) < 0.005] = 0  # a few blank ballots
            rows = order.tolist()
            ballots = [
                TallyBallot(weight=w, choices=tuple(row[:length]))
                for w, row, length in zip(weights, rows, lengths.tolist(), strict=True)
            ]
    elif kind == "approval":
        threshold = np.sort(utility, axis=1)[np.arange(count), -rng.integers(1, min(n, 4) + 1, size=count)]
        approved = utility >= threshold[:, None]
        ballots = [
            TallyBallot(weight=w, choices=tuple(ids[row].tolist())) for w, row in zip(weights, approved, strict=True)
        ]
    elif kind == "scored":
        low = utility.min(axis=1, keepdims=True)
        high = utility.max(axis=1, keepdims=True)
        scores = np.rint(MAX_SCORE * (utility - low) / (high - low)).astype(int)
        keep = rng.random((count, n)) < np.where(rng.random(count) < 0.3, 0.5, 1.0)[:, None]
        ballots = [
            TallyBallot(weight=w, scores={int(o): int(s) for o, s, k in zip(option_ids, row, mask, strict=True) if k})
            for w, row, mask in zip(weights, scores.tolist(), keep.tolist(), strict=True)
        ]
    else:
        raise ValueError(kind)
    # A handful of sloppy ballots (repeated or unknown ids), as the tally must stay robust.
    for index in rng.choice(count, size=min(count, 20), replace=False).tolist():
        b = ballots[index]
        ballots[index] = TallyBallot(weight=b.weight, choices=(*b.choices, 999_999, *b.choices[:1]), scores=b.scores)
    return Election(f"{kind} {n} options x {count:,} ballots", option_ids, ballots)


def scenarios(quick: bool) -> list[tuple[str, str, int, int]]:
    """(method, ballot kind, options, ballots) of the timed elections."""
    big = 10_000 if quick else 100_000
    single = 100_000 if quick else 1_000_000
    return [
        ("irv", "ranked", 10, big),
        ("irv", "ranked", 20, big),
        ("schulze", "ranked", 10, big),
        ("schulze", "ranked", 20, big),
        ("borda", "ranked", 10, big),
        ("borda", "ranked", 20, big),
        ("star", "scored", 10, big),
        ("score", "scored", 10, big),
        ("approval", "approval", 10, big),
        ("single", "single", 8, single),
    ]


def timings(function: Callable[[], Any], repeat: int) -> tuple[float, float, float]:
    """Median, p95 (nearest rank) and minimum wall-clock ms of ``repeat`` calls."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[max(0, math.ceil(0.95 * len(samples)) - 1)], samples[0]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 ballots (100,000 single-choice), 3 repeats")
    parser.add_argument("--repeat", type=int, help="timed runs per election (default 7, quick 3)")
    parser.add_argument("--methods", help="comma-separated methods to time (default: all)")
    parser.add_argument("--impl", choices=("app", "reference"), default="app", help="what to time")
    parser.add_argument("--no-check", action="store_true", help="skip comparing the large results with the reference")
    parser.add_argument(
        "--random", type=int, help="small random elections to compare, 0 for none (default 2000, quick 300)"
    )
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    repeat = args.repeat or (3 if args.quick else 7)
    wanted = set(args.methods.split(",")) if args.methods else set(METHODS)
    failures = 0
    print(
        f"# python {platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} cores, "
        f"impl={args.impl}, repeat={repeat}{', quick' if args.quick else ''}, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    if args.impl == "app" and args.random != 0:
        failures += check_random(args.random if args.random is not None else (300 if args.quick else 2000), args.seed)

    print(f"{'method':<9} {'election':<38} {'median ms':>10} {'p95 ms':>10} {'min ms':>10}  check")
    cache: dict[tuple[str, int, int], Election] = {}
    for method, kind, n, count in scenarios(args.quick):
        if method not in wanted:
            continue
        key = (kind, n, count)
        if key not in cache:
            cache[key] = synthetic(kind, n, count, seed=args.seed + n)
        election = cache[key]
        function = app.tally if args.impl == "app" else (lambda m, i, b: REFERENCE[m](i, b))
        median, p95, fastest = timings(lambda: function(method, election.option_ids, election.ballots), repeat)  # noqa: B023
        status = "-"
        if args.impl == "app" and not args.no_check:
            problem = same_result(method, election.option_ids, election.ballots)
            status = "identical" if problem is None else f"DIFFERS {problem}"
            failures += problem is not None
        print(f"{method:<9} {election.name:<38} {median:>10.1f} {p95:>10.1f} {fastest:>10.1f}  {status}", flush=True)
    print(f"# load average at the end {os.getloadavg()[0]:.1f}")
    if failures:
        print(f"FAILED: {failures} result(s) differ from the reference")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
