"""The plain reference implementation of every method, and the check that the fast count agrees.

``tally(..., algorithm="reference")`` counts with these functions: the tally code as it was before
it was optimised, made exact (weights taken as the decimals they were written as and summed as
Fractions, ballot by ballot, with no tolerance). The tie-break rules themselves (count-back, the
lot, Schulze's path strengths, STAR's protocol) are shared with the fast count, being decisions
on exact numbers rather than counting. :func:`check_random` compares both on seeded random and
edge-case elections (``tests/tally/test_reference.py``, ``bench/tallies.py``).
"""

from __future__ import annotations

import math
import numbers
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from commons_app.i18n import N_
from commons_app.services.tally import exact as _exact_module
from commons_app.services.tally import tally
from commons_app.services.tally.ballots import _tie_notes
from commons_app.services.tally.pairwise import _strongest_paths as _shared_paths
from commons_app.services.tally.pairwise import schulze_winners
from commons_app.services.tally.runoff import _irv_tie_break as _shared_irv_tie_break
from commons_app.services.tally.star import star_advance, star_runoff
from commons_app.services.tally.stv import tally_stv
from commons_app.services.tally.ties import lot_figures
from commons_app.services.tally.types import MAX_SCORE, METHODS, Note, OptionTally, TallyBallot, TallyResult

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






def _prepare(option_ids: Sequence[int], ballots: Iterable[TallyBallot]) -> _Election:
    ids = tuple(option_ids)
    known = set(ids)
    if len(known) != len(ids):
        raise ValueError(N_("option_ids must not contain duplicates"))
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
    notes: list[Note] | None = None,
    tie_broken: bool = False,
    what: str = "most_votes",
    value: float | None = None,
) -> TallyResult:
    return TallyResult(
        method=method,
        total_ballots=len(election.ballots),
        total_weight=float(election.total_weight),
        options=options,
        winners=winners,
        rounds=rounds or [],
        detail=detail or {},
        tie=len(winners) > 1 or tie_broken,
        notes=list(notes or []) + _tie_notes(winners, what, value),
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
        what="most_votes",
        value=float(max(weights.values(), default=0)),
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
        what="most_approvals",
        value=float(max(totals.values(), default=0)),
    )


def _top_continuing(ranking: Sequence[int], continuing: set[int]) -> int | None:
    for option_id in ranking:
        if option_id in continuing:
            return option_id
    return None


def ref_tally_irv(option_ids: Sequence[int], ballots: Iterable[TallyBallot], *, seed: str | None = None) -> TallyResult:
    election = _prepare(option_ids, ballots)
    options, _ = _first_preferences(election)
    rounds: list[dict[str, Any]] = []
    notes: list[Note] = []
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
        if len(continuing) == 1:
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
                loser, note = _shared_irv_tie_break(tied, history, round_number, float(fewest), seed)
                eliminated = [loser]
                entry["tie_break"] = note.as_dict()
                notes.append(note)
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


def ref_tally_schulze(option_ids: Sequence[int], ballots: Iterable[TallyBallot]) -> TallyResult:
    election = _prepare(option_ids, ballots)
    ids = election.ids
    options, _ = _first_preferences(election)
    d = _pairwise(election)
    p = _shared_paths(ids, d)
    condorcet: int | None = None
    if any(ballot.ranking for ballot in election.ballots):
        for a in ids:
            if all(d[a][b] > d[b][a] for b in ids if b != a):
                condorcet = a
                break
    winners: list[int] = []
    note: Note | None = None
    if any(ballot.ranking for ballot in election.ballots):
        winners, note = schulze_winners(ids, d, p)
    detail = {
        "pairwise": {str(a): {str(b): float(d[a][b]) for b in d[a]} for a in ids},
        "strongest_paths": {str(a): {str(b): float(p[a][b][0]) for b in p[a]} for a in ids},
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
        what="most_points",
        value=float(max(points.values(), default=0)),
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
        what="highest_score",
        value=float(max(scores.values(), default=0)),
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


def _five_star(election: _Election) -> dict[int, Fraction]:
    return {
        option_id: _sum(b.weight for b in election.ballots if b.scores.get(option_id, 0) == MAX_SCORE)
        for option_id in election.ids
    }


def _star_finalists(
    election: _Election, scores: Mapping[int, Fraction], seed: str | None
) -> tuple[list[int], Note | None]:
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
        return (chosen + group, None)
    if scores[group[0]] <= 0:
        return (chosen + group[:slots], None)
    five = _five_star(election)
    picked, decided_by = star_advance(
        group, slots, lambda a, b: _head_to_head(election, a, b)[:2], five.__getitem__, seed
    )
    figures: dict[str, Any] = {
        "place": place, "score": float(scores[group[0]]), "advancing": picked, "decided_by": decided_by,
    }
    if decided_by == "lot":
        figures.update(lot_figures(seed, group))
    return (chosen + picked, Note("star_scoring", tuple(group), figures))


def ref_tally_star(option_ids: Sequence[int], ballots: Iterable[TallyBallot], *, seed: str | None = None) -> TallyResult:
    election = _prepare(option_ids, ballots)
    ids = election.ids
    options, scores = _score_options(election)
    detail: dict[str, Any] = {"finalists": [], "runoff": {}}
    rounds: list[dict[str, Any]] = []
    notes: list[Note] = []
    winners: list[int] = []
    tie_broken = False
    if len(ids) == 1 and election.ballots:
        winners = [ids[0]]
        detail["finalists"] = [ids[0]]
    elif len(ids) >= 2 and any(value > 0 for value in scores.values()):
        finalists, scoring_note = _star_finalists(election, scores, seed)
        if scoring_note:
            notes.append(scoring_note)
            tie_broken = True
        a, b = finalists
        prefer_a, prefer_b, equal = _head_to_head(election, a, b)
        runoff = {str(a): float(prefer_a), str(b): float(prefer_b), "no_preference": float(equal)}
        runoff_note: Note | None = None
        if prefer_a > prefer_b:
            winners = [a]
        elif prefer_b > prefer_a:
            winners = [b]
        else:
            five = _five_star(election)
            winner, decided_by = star_runoff(finalists, scores, five.__getitem__, seed)
            winners = [winner]
            pair = tuple(sorted(finalists, key=election.order.__getitem__))
            figures: dict[str, Any] = {
                "preference": float(prefer_a), "winner": winner, "decided_by": decided_by,
                "score": float(scores[winner]), "five_star": float(five[winner]),
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
                "scores": {str(option_id): float(scores[option_id]) for option_id in ids},
                "finalists": [a, b],
                "tie_break": scoring_note.as_dict() if scoring_note else None,
            },
            {"round": 2, "stage": "runoff", "preferences": dict(runoff), "tie_break": runoff_note.as_dict() if runoff_note else None},
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


REFERENCE: dict[str, Callable[..., TallyResult]] = {
    "single": ref_tally_single,
    "approval": ref_tally_approval,
    "irv": ref_tally_irv,
    "schulze": ref_tally_schulze,
    "borda": ref_tally_borda,
    "score": ref_tally_score,
    "star": ref_tally_star,
    "stv": tally_stv,  # one implementation only: its exact count is already per ballot parcel
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


def same_result(method: str, ids: Sequence[int], ballots: Sequence[TallyBallot], seed: str | None = None) -> str | None:
    """Run the app and the reference on one election; None when identical, else what differs."""
    outcomes = []
    for algorithm in ("fast", "reference"):
        try:
            outcomes.append(("ok", asdict(tally(method, ids, ballots, algorithm=algorithm, seed=seed))))
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


def check_random(count: int, seed: int) -> tuple[int, list[str]]:
    """Compare the fast count and the reference on ``count`` random elections per size class.

    Returns:
        The number of differences, and lines describing the first ten and the totals.
    """
    rng = random.Random(seed)
    failures = 0
    lines: list[str] = []
    elections = [random_election(rng, 5, 14) for _ in range(count)]
    elections += [random_election(rng, 12, 400) for _ in range(count // 10)]
    elections += edge_cases()
    # The app sums weights per weight class, or (beyond _CLASS_LIMIT distinct weights) per
    # "limb"; run every election through both strategies.
    limit = _exact_module._CLASS_LIMIT
    for strategy, forced in (("per-class", limit), ("per-limb", 0)):
        _exact_module._CLASS_LIMIT = forced
        try:
            for ids, ballots in elections:
                for method in METHODS:
                    problem = same_result(method, ids, ballots)
                    if problem:
                        failures += 1
                        if failures <= 10:
                            lines.append(f"  DIFFERENCE [{strategy}] ({len(ids)} options, {len(ballots)} ballots) {problem}")
        finally:
            _exact_module._CLASS_LIMIT = limit
    lines.append(
        f"equivalence: {len(elections)} random and edge-case elections x {len(METHODS)} methods "
        f"x 2 weight strategies, {failures} differences"
    )
    return failures, lines


