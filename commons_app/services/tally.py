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
* Every count honours the ballot weights. Weighted sums use
  :func:`math.fsum`, so results do not depend on the order of the ballots, and
  two weighted totals are treated as equal when they agree to a relative
  tolerance of 1e-9 (so ``0.1 + 0.2`` ties with ``0.3``).
* ``winners`` lists option ids in the order of ``option_ids``. It is empty when
  there are no ballots, and also when no ballot supports any option at all
  (nothing chosen, approved, ranked or scored above zero).
* ``tie`` is True when several options win or when a tie-break rule had to
  decide something; ``notes`` then explains, in plain sentences, what happened.
* ``rounds`` and ``detail`` only hold JSON-serialisable values: string keys
  (``str(option_id)``), numbers, lists and dicts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

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

_REL_TOL = 1e-9


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


@dataclass(frozen=True)
class _Ballot:
    """A ballot reduced to what the tallies need: known ids only, no repeats."""

    weight: float
    ranking: tuple[int, ...]
    scores: dict[int, int]


@dataclass(frozen=True)
class _Election:
    """Prepared input shared by all methods."""

    ids: tuple[int, ...]
    ballots: tuple[_Ballot, ...]
    total_weight: float

    @property
    def order(self) -> dict[int, int]:
        """Position of each option id in the option order."""
        return {option_id: index for index, option_id in enumerate(self.ids)}


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


def _same(a: float, b: float) -> bool:
    """Tell whether two weighted totals are equal, up to rounding error.

    Args:
        a: First total.
        b: Second total.

    Returns:
        True when the totals agree to a relative tolerance of 1e-9.
    """
    return a == b or math.isclose(a, b, rel_tol=_REL_TOL, abs_tol=0.0)


def _greater(a: float, b: float) -> bool:
    """Tell whether ``a`` is strictly greater than ``b`` beyond rounding error.

    Args:
        a: First total.
        b: Second total.

    Returns:
        True when ``a > b`` and the two are not :func:`_same`.
    """
    return a > b and not _same(a, b)


def _fmt(value: float) -> str:
    """Format a weighted total for a human-readable note.

    Args:
        value: The number to format.

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


def _prepare(option_ids: Sequence[int], ballots: Iterable[TallyBallot]) -> _Election:
    """Check the options and reduce the ballots to known, de-duplicated ids.

    Args:
        option_ids: The poll's option ids in display order.
        ballots: The ballots to count.

    Returns:
        The prepared election.

    Raises:
        ValueError: If ``option_ids`` repeats an id or a ballot weight is not a
            finite number greater than zero.
    """
    ids = tuple(option_ids)
    known = set(ids)
    if len(known) != len(ids):
        raise ValueError("option_ids must not contain duplicates")
    prepared: list[_Ballot] = []
    for ballot in ballots:
        weight = float(ballot.weight)
        if not math.isfinite(weight) or weight <= 0:
            raise ValueError(
                f"ballot weight must be a finite number > 0, got {ballot.weight!r}"
            )
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
        prepared.append(_Ballot(weight=weight, ranking=tuple(ranking), scores=scores))
    total_weight = math.fsum(ballot.weight for ballot in prepared)
    return _Election(ids=ids, ballots=tuple(prepared), total_weight=total_weight)


def _top(values: Mapping[int, float], ids: Sequence[int]) -> list[int]:
    """Return every option sharing the highest value.

    Args:
        values: Value per option id.
        ids: Option ids to consider, in option order.

    Returns:
        The ids whose value equals the maximum (up to rounding error), in
        option order; empty when ``ids`` is empty.
    """
    if not ids:
        return []
    best = max(values[option_id] for option_id in ids)
    return [option_id for option_id in ids if _same(values[option_id], best)]


def _top_positive(values: Mapping[int, float], ids: Sequence[int]) -> list[int]:
    """Return every option sharing the highest value, if that value is positive.

    Args:
        values: Value per option id.
        ids: Option ids to consider, in option order.

    Returns:
        As :func:`_top`, but empty when the highest value is zero.
    """
    winners = _top(values, ids)
    if winners and values[winners[0]] <= 0:
        return []
    return winners


def _first_preferences(election: _Election) -> list[OptionTally]:
    """Count first preferences (the first valid id on each ballot).

    Args:
        election: The prepared election.

    Returns:
        One :class:`OptionTally` per option, in option order.
    """
    counts = dict.fromkeys(election.ids, 0)
    weights: dict[int, list[float]] = {option_id: [] for option_id in election.ids}
    for ballot in election.ballots:
        if ballot.ranking:
            first = ballot.ranking[0]
            counts[first] += 1
            weights[first].append(ballot.weight)
    return [
        OptionTally(
            option_id=option_id,
            votes=counts[option_id],
            weight=math.fsum(weights[option_id]),
        )
        for option_id in election.ids
    ]


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
    all_notes = list(notes or [])
    if len(winners) > 1:
        all_notes.append(
            f"{_names(winners).capitalize()} tied with {what}; "
            "no tie-break rule applies, so all of them are winners."
        )
    return TallyResult(
        method=method,
        total_ballots=len(election.ballots),
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


def tally_single(
    option_ids: Sequence[int], ballots: Iterable[TallyBallot]
) -> TallyResult:
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
    election = _prepare(option_ids, ballots)
    options = _first_preferences(election)
    weights = {option.option_id: option.weight for option in options}
    winners = _top_positive(weights, election.ids)
    return _result(
        "single",
        election,
        options,
        winners,
        what=f"the most votes ({_fmt(max(weights.values(), default=0))})",
    )


def tally_approval(
    option_ids: Sequence[int], ballots: Iterable[TallyBallot]
) -> TallyResult:
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
    election = _prepare(option_ids, ballots)
    counts = dict.fromkeys(election.ids, 0)
    weights: dict[int, list[float]] = {option_id: [] for option_id in election.ids}
    for ballot in election.ballots:
        for option_id in ballot.ranking:
            counts[option_id] += 1
            weights[option_id].append(ballot.weight)
    options = [
        OptionTally(
            option_id=option_id,
            votes=counts[option_id],
            weight=math.fsum(weights[option_id]),
        )
        for option_id in election.ids
    ]
    totals = {option.option_id: option.weight for option in options}
    winners = _top_positive(totals, election.ids)
    return _result(
        "approval",
        election,
        options,
        winners,
        what=f"the most approvals ({_fmt(max(totals.values(), default=0))})",
    )


# --------------------------------------------------------------------------
# Instant runoff
# --------------------------------------------------------------------------


def _top_continuing(ranking: Sequence[int], continuing: set[int]) -> int | None:
    """Return the highest-ranked option of a ballot that is still continuing.

    Args:
        ranking: The ballot's ranking.
        continuing: Option ids still in the count.

    Returns:
        The option id, or None when the ballot is exhausted.
    """
    for option_id in ranking:
        if option_id in continuing:
            return option_id
    return None


def _irv_tie_break(
    tied: list[int],
    history: list[dict[int, float]],
    order: Mapping[int, int],
    round_number: int,
) -> tuple[int, str]:
    """Pick which of several options tied for fewest votes is eliminated.

    Backwards tie-break: look at the earlier rounds, most recent first, and
    keep only the tied options with the fewest votes in that round, until one
    is left. If several are still tied after the first round, the one that
    comes latest in the option order is eliminated.

    Args:
        tied: The options tied for fewest votes in the current round.
        history: The tallies of every round so far, the current one last.
        order: Position of each option in the option order.
        round_number: Number of the current round, for the explanation.

    Returns:
        The option to eliminate and a sentence explaining the decision.
    """
    candidates = list(tied)
    tied_votes = _fmt(history[-1][tied[0]])
    for earlier in range(len(history) - 2, -1, -1):
        tallies = history[earlier]
        fewest = min(tallies[option_id] for option_id in candidates)
        narrowed = [
            option_id for option_id in candidates if _same(tallies[option_id], fewest)
        ]
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
    election = _prepare(option_ids, ballots)
    order = election.order
    options = _first_preferences(election)
    rounds: list[dict[str, Any]] = []
    notes: list[str] = []
    winners: list[int] = []
    tie_broken = False
    history: list[dict[int, float]] = []
    continuing = list(election.ids)

    while continuing and election.ballots:
        round_number = len(rounds) + 1
        in_count = set(continuing)
        piles: dict[int, list[float]] = {option_id: [] for option_id in continuing}
        exhausted: list[float] = []
        for ballot in election.ballots:
            top = _top_continuing(ballot.ranking, in_count)
            if top is None:
                exhausted.append(ballot.weight)
            else:
                piles[top].append(ballot.weight)
        tallies = {option_id: math.fsum(piles[option_id]) for option_id in continuing}
        active = math.fsum(
            weight for option_id in continuing for weight in piles[option_id]
        )
        history.append(tallies)
        entry: dict[str, Any] = {
            "round": round_number,
            "tallies": {str(option_id): tallies[option_id] for option_id in continuing},
            "exhausted": math.fsum(exhausted),
            "eliminated": [],
            "transfers": {},
            "tie_break": None,
        }
        rounds.append(entry)
        if active <= 0:
            break  # no ballot ranks any option
        best = max(tallies.values())
        if _greater(best, active / 2):
            winners = _top(tallies, continuing)
            break
        if all(_same(tallies[option_id], best) for option_id in continuing):
            winners = list(continuing)
            break

        zero = [option_id for option_id in continuing if tallies[option_id] == 0]
        if zero:
            eliminated = zero
        else:
            fewest = min(tallies.values())
            tied = [
                option_id
                for option_id in continuing
                if _same(tallies[option_id], fewest)
            ]
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
        moved: dict[int, list[float]] = {}
        for ballot in election.ballots:
            if _top_continuing(ballot.ranking, in_count) in gone:
                target = _top_continuing(ballot.ranking, remaining)
                if target is not None:
                    moved.setdefault(target, []).append(ballot.weight)
        continuing = [option_id for option_id in continuing if option_id not in gone]
        entry["eliminated"] = eliminated
        entry["transfers"] = {
            str(option_id): math.fsum(moved[option_id])
            for option_id in continuing
            if option_id in moved
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


def _pairwise(election: _Election) -> dict[int, dict[int, float]]:
    """Compute the weighted pairwise preference matrix.

    ``d[a][b]`` is the weight of the ballots ranking ``a`` above ``b``. An
    unranked option ranks below every ranked one; two unranked options are
    equal.

    Args:
        election: The prepared election.

    Returns:
        ``d[a][b]`` for every ordered pair of distinct options.
    """
    parts: dict[int, dict[int, list[float]]] = {
        a: {b: [] for b in election.ids if b != a} for a in election.ids
    }
    for ballot in election.ballots:
        below = set(election.ids)
        for a in ballot.ranking:
            below.discard(a)
            for b in below:
                parts[a][b].append(ballot.weight)
    return {a: {b: math.fsum(parts[a][b]) for b in parts[a]} for a in parts}


def _strongest_paths(
    ids: Sequence[int], d: Mapping[int, Mapping[int, float]], *, exact: bool = False
) -> dict[int, dict[int, float]]:
    """Compute Schulze strongest path strengths (widest paths, Floyd–Warshall).

    A link ``a -> b`` has strength ``d[a][b]`` when ``a`` beats ``b``
    pairwise (winning votes), else 0.

    Args:
        ids: The option ids.
        d: The pairwise preference matrix.
        exact: Compare pairwise totals exactly instead of with the rounding
            tolerance.

    Returns:
        ``p[a][b]`` for every ordered pair of distinct options.
    """
    beats = (lambda x, y: x > y) if exact else _greater
    p = {
        a: {b: (d[a][b] if beats(d[a][b], d[b][a]) else 0.0) for b in ids if b != a}
        for a in ids
    }
    for i in ids:
        for j in ids:
            if j == i:
                continue
            for k in ids:
                if k in (i, j):
                    continue
                p[j][k] = max(p[j][k], min(p[j][i], p[i][k]))
    return p


def tally_schulze(
    option_ids: Sequence[int], ballots: Iterable[TallyBallot]
) -> TallyResult:
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
    election = _prepare(option_ids, ballots)
    ids = election.ids
    options = _first_preferences(election)
    d = _pairwise(election)
    p = _strongest_paths(ids, d)

    condorcet: int | None = None
    if any(ballot.ranking for ballot in election.ballots):
        for a in ids:
            if all(_greater(d[a][b], d[b][a]) for b in ids if b != a):
                condorcet = a
                break

    winners: list[int] = []
    if any(ballot.ranking for ballot in election.ballots):
        winners = [
            a for a in ids if all(not _greater(p[b][a], p[a][b]) for b in ids if b != a)
        ]
        if (
            not winners
        ):  # pragma: no cover - only conceivable through the rounding tolerance
            exact = _strongest_paths(ids, d, exact=True)
            winners = [
                a for a in ids if all(exact[a][b] >= exact[b][a] for b in ids if b != a)
            ]

    detail = {
        "pairwise": {str(a): {str(b): d[a][b] for b in d[a]} for a in ids},
        "strongest_paths": {str(a): {str(b): p[a][b] for b in p[a]} for a in ids},
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


def tally_borda(
    option_ids: Sequence[int], ballots: Iterable[TallyBallot]
) -> TallyResult:
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
    election = _prepare(option_ids, ballots)
    n = len(election.ids)
    parts: dict[int, list[float]] = {option_id: [] for option_id in election.ids}
    for ballot in election.ballots:
        for position, option_id in enumerate(ballot.ranking):
            parts[option_id].append(ballot.weight * (n - 1 - position))
    points = {option_id: math.fsum(parts[option_id]) for option_id in election.ids}
    options = _first_preferences(election)
    for option in options:
        option.points = points[option.option_id]
    winners = (
        _top(points, election.ids) if any(b.ranking for b in election.ballots) else []
    )
    return _result(
        "borda",
        election,
        options,
        winners,
        what=f"the most Borda points ({_fmt(max(points.values(), default=0))})",
    )


# --------------------------------------------------------------------------
# Score and STAR
# --------------------------------------------------------------------------


def _score_options(election: _Election) -> list[OptionTally]:
    """Compute the scoring figures shared by the score and STAR methods.

    Args:
        election: The prepared election.

    Returns:
        One :class:`OptionTally` per option with ``votes``/``weight`` (ballots
        scoring it above zero), ``score`` (weighted sum) and ``mean``
        (``score / total_weight``, 0 when there are no ballots).
    """
    counts = dict.fromkeys(election.ids, 0)
    supporters: dict[int, list[float]] = {option_id: [] for option_id in election.ids}
    parts: dict[int, list[float]] = {option_id: [] for option_id in election.ids}
    for ballot in election.ballots:
        for option_id, value in ballot.scores.items():
            if value > 0:
                counts[option_id] += 1
                supporters[option_id].append(ballot.weight)
                parts[option_id].append(ballot.weight * value)
    options: list[OptionTally] = []
    for option_id in election.ids:
        score = math.fsum(parts[option_id])
        mean = score / election.total_weight if election.total_weight > 0 else 0.0
        options.append(
            OptionTally(
                option_id=option_id,
                votes=counts[option_id],
                weight=math.fsum(supporters[option_id]),
                score=score,
                mean=mean,
            )
        )
    return options


def tally_score(
    option_ids: Sequence[int], ballots: Iterable[TallyBallot]
) -> TallyResult:
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
    election = _prepare(option_ids, ballots)
    options = _score_options(election)
    scores = {option.option_id: option.score or 0.0 for option in options}
    winners = _top_positive(scores, election.ids)
    return _result(
        "score",
        election,
        options,
        winners,
        what=f"the highest score ({_fmt(max(scores.values(), default=0))})",
    )


def _head_to_head(election: _Election, a: int, b: int) -> tuple[float, float, float]:
    """Compare two options on every ballot by score.

    Args:
        election: The prepared election.
        a: First option.
        b: Second option.

    Returns:
        Weight preferring ``a``, weight preferring ``b`` and weight scoring
        them equally.
    """
    prefer_a: list[float] = []
    prefer_b: list[float] = []
    equal: list[float] = []
    for ballot in election.ballots:
        score_a = ballot.scores.get(a, 0)
        score_b = ballot.scores.get(b, 0)
        if score_a > score_b:
            prefer_a.append(ballot.weight)
        elif score_b > score_a:
            prefer_b.append(ballot.weight)
        else:
            equal.append(ballot.weight)
    return math.fsum(prefer_a), math.fsum(prefer_b), math.fsum(equal)


def _star_finalists(
    election: _Election, scores: Mapping[int, float]
) -> tuple[list[int], str | None]:
    """Pick the two STAR finalists from the scoring round.

    The two highest scores advance. A tie that decides who advances is broken
    by head-to-head preference among the tied options (the option preferred
    over more of the others advances), then by option order (earlier
    advances). A tie among options that no ballot scored above zero is not a
    real tie-break: such an option cannot win the runoff against an option
    with support, so the first of them in option order is taken quietly.

    Args:
        election: The prepared election (at least two options, some score
            above zero).
        scores: Weighted score per option.

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
    for index, a in enumerate(group):
        for b in group[index + 1 :]:
            prefer_a, prefer_b, _ = _head_to_head(election, a, b)
            if _greater(prefer_a, prefer_b):
                wins[a] += 1
            elif _greater(prefer_b, prefer_a):
                wins[b] += 1
    ranked = sorted(group, key=lambda option_id: (-wins[option_id], order[option_id]))
    picked = ranked[:slots]
    by_order = wins[ranked[slots - 1]] == wins[ranked[slots]]
    advancing = _names(sorted(picked, key=order.__getitem__))
    verb = "advances" if slots == 1 else "advance"
    if len(group) == 2 and by_order:
        outcome = (
            f"they were also tied head-to-head, so {advancing}, earlier in the option "
            f"order, {verb} to the runoff"
        )
    elif len(group) == 2:
        outcome = (
            f"{advancing} {verb} to the runoff because more ballot weight prefers it "
            "head-to-head"
        )
    elif by_order:
        outcome = (
            "head-to-head preference among them did not settle it, so the option order "
            f"did: {advancing} {verb} to the runoff"
        )
    else:
        outcome = (
            f"{advancing} {verb} to the runoff, being preferred head-to-head over more "
            "of the tied options"
        )
    explanation = (
        f"Scoring round: {_names(group)} tied for {place} place with "
        f"{_fmt(scores[group[0]])} points; {outcome}."
    )
    return chosen + picked, explanation


def tally_star(
    option_ids: Sequence[int], ballots: Iterable[TallyBallot]
) -> TallyResult:
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
    election = _prepare(option_ids, ballots)
    ids = election.ids
    options = _score_options(election)
    scores = {option.option_id: option.score or 0.0 for option in options}
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
        runoff = {str(a): prefer_a, str(b): prefer_b, "no_preference": equal}
        runoff_note: str | None = None
        if _greater(prefer_a, prefer_b):
            winners = [a]
        elif _greater(prefer_b, prefer_a):
            winners = [b]
        elif _greater(scores[a], scores[b]) or _greater(scores[b], scores[a]):
            winner = a if scores[a] > scores[b] else b
            winners = [winner]
            pair = _names(sorted(finalists, key=election.order.__getitem__))
            runoff_note = (
                f"Runoff: {pair} were preferred on equal ballot weight "
                f"({_fmt(prefer_a)}); option {winner} wins because it has the higher "
                f"score ({_fmt(scores[winner])} points)."
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
                "scores": {str(option_id): scores[option_id] for option_id in ids},
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


def tally(
    method: str, option_ids: Sequence[int], ballots: Iterable[TallyBallot]
) -> TallyResult:
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
        raise ValueError(
            f"unknown voting method {method!r}; expected one of {', '.join(METHODS)}"
        ) from None
    return function(option_ids, ballots)
