"""Multi-winner single transferable vote: Scottish STV and Meek STV.

``tally_stv(option_ids, ballots, seats=N, stv_rule="scottish"|"meek", seed=...)`` elects ``seats``
options from ranked ballots and returns them in the order they were elected.

Scottish STV follows the Scottish Local Government Elections Order 2007 (SSI 2007/42), Schedule 1,
rules 45-52 (the weighted inclusive Gregory method):

* quota: the total ballot weight divided by ``seats + 1``, any fraction ignored, plus 1 (Droop);
* an option reaching the quota is elected; the largest surplus is transferred first, each ballot
  paper the elected option holds passing on at ``value * surplus / total``, the quotient
  calculated to five decimal places with any remainder ignored;
* with no surplus to transfer, the option with the fewest votes is excluded and all its ballot
  papers pass on at the value they hold; when as many options continue as seats remain, they
  are all elected;
* ties (equal surpluses, or equal fewest votes): the option with more (fewer) votes at the most
  recent earlier stage where they differed; equal at every stage: by lot (see ``ties``).

Meek STV follows Hill, Wichmann & Woodall, "Algorithm 123 - Single Transferable Vote by Meek's
method" (Computer Journal 30(3), 1987) in the form of the Proportional Representation
Foundation's Reference Meek Rule (the rule New Zealand's Schedule 1A also follows): every option
has a keep value (1 hopeful, 0 excluded); each ballot gives each option it ranks, in turn, the
keep value's share of what is left of it, the rest going on to the next preference, and what
passes every preference is excess; the quota is ``(total - excess) / (seats + 1)``, truncated,
plus 10**-9; hopefuls reaching it are elected; elected options' keep values are iterated to
``keep * quota / votes`` until the total surplus is below omega = 10**-6, and then the hopeful
with the fewest votes is excluded. Arithmetic is fixed-point at nine decimal places (10**-9),
per ballot, every product and quotient rounded up, as in the reference rule; iteration also
stops when the surplus no longer falls. Exclusion ties as in the Scottish rule.

Ballot weights count as the weight of the paper (a ballot of weight 2 counts as two papers).
Unknown and repeated option ids on a ballot are dropped, as elsewhere in the tally.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from fractions import Fraction
from itertools import pairwise
from typing import Any

from commons_app.i18n import N_
from commons_app.services.tally.exact import _decimal
from commons_app.services.tally.ties import count_back, draw, lot_figures
from commons_app.services.tally.types import Note, OptionTally, TallyBallot, TallyResult

STV_RULES: tuple[str, ...] = ("scottish", "meek")
"""The STV counting rules :func:`tally_stv` offers."""

_SCOTTISH_PLACES = 10**5
_MEEK_UNIT = 10**9
_MEEK_OMEGA = 10**3
"""Iteration stops when the total surplus is below omega = 10**-6 (in units of 10**-9)."""
_MEEK_ITERATIONS = 1000

Parcel = tuple[tuple[int, ...], Fraction]
"""Identical ballot papers: their ranking and the weight of one paper."""


def _papers(option_ids: Sequence[int], ballots: Iterable[TallyBallot]) -> tuple[dict[Parcel, int], int, Fraction]:
    """Group identical ballots: (ranking, weight) -> how many; plus the ballot count and total weight."""
    index = set(option_ids)
    if len(index) != len(option_ids):
        raise ValueError(N_("option_ids must not contain duplicates"))
    weights: dict[Any, Fraction] = {}
    parcels: dict[Parcel, int] = defaultdict(int)
    count = 0
    for ballot in ballots:
        weight = weights.get(ballot.weight)
        if weight is None:
            weight = weights[ballot.weight] = Fraction(*_decimal(ballot.weight))
        seen: dict[int, None] = {}
        for option_id in ballot.choices:
            if option_id in index and option_id not in seen:
                seen[option_id] = None
        parcels[(tuple(seen), weight)] += 1
        count += 1
    per_weight: dict[Fraction, int] = defaultdict(int)
    for (_ranking, weight), n in parcels.items():
        per_weight[weight] += n
    return parcels, count, sum((weight * n for weight, n in per_weight.items()), Fraction(0))


def _show(value: Fraction | int) -> float:
    return float(value)


def _tie_break(
    tied: list[int], history: list[dict[int, Fraction]], *, lowest: bool, seed: str | None, stage: int, what: str
) -> tuple[int, Note]:
    """Pick one of several tied options: count-back over earlier stages, then the lot."""
    still, decided_at = count_back(tied, history, lowest=lowest)
    if len(still) == 1:
        return still[0], Note(
            "stv_countback", tuple(tied), {"stage": stage, "what": what, "chosen": still[0], "decided_at": decided_at}
        )
    chosen = draw(seed, still)
    return chosen, Note(
        "stv_lot", tuple(still), {"stage": stage, "what": what, "chosen": chosen, **lot_figures(seed, still)}
    )


def _order_elected(
    newly: Sequence[int], votes: Mapping[int, Any], history: Any, *, seed: str | None, stage: int, notes: list[Note]
) -> list[int]:
    """Options reaching the quota at one stage, most votes first; equal votes go to the tie rule
    (its notes appended to ``notes``). ``newly`` is already sorted by votes."""
    ordered: list[int] = []
    rest = list(newly)
    while rest:
        top = [o for o in rest if votes[o] == votes[rest[0]]]
        if len(top) > 1:
            first, note = _tie_break(top, history, lowest=False, seed=seed, stage=stage, what="elected first")
            notes.append(note)
        else:
            first = top[0]
        ordered.append(first)
        rest.remove(first)
    return ordered


def _first_preferences(option_ids: Sequence[int], parcels: Mapping[Parcel, int]) -> list[OptionTally]:
    votes: dict[int, int] = dict.fromkeys(option_ids, 0)
    weight: dict[int, Fraction] = dict.fromkeys(option_ids, Fraction(0))
    for (ranking, paper), n in parcels.items():
        if ranking:
            votes[ranking[0]] += n
            weight[ranking[0]] += paper * n
    return [OptionTally(option_id=o, votes=votes[o], weight=float(weight[o])) for o in option_ids]


def _pile_total(papers: Iterable[tuple[tuple[int, ...], Fraction, int]]) -> Fraction:
    """The votes a set of papers carries: papers of one value summed as integers first."""
    per_value: dict[Fraction, int] = defaultdict(int)
    for _ranking, value, n in papers:
        per_value[value] += n
    return sum((value * n for value, n in per_value.items()), Fraction(0))


def _truncate5(value: Fraction) -> Fraction:
    """A value to five decimal places, any remainder ignored (SSI 2007/42 Sch. 1 r. 48)."""
    return Fraction(value.numerator * _SCOTTISH_PLACES // value.denominator, _SCOTTISH_PLACES)


def _scottish(
    ids: Sequence[int], parcels: Mapping[Parcel, int], total: Fraction, seats: int, seed: str | None
) -> tuple[list[int], list[dict[str, Any]], list[Note]]:
    quota = Fraction(int(total / (seats + 1)) + 1)
    # Each pile: option -> list of [ranking, value of one paper, number of papers].
    piles: dict[int, list[tuple[tuple[int, ...], Fraction, int]]] = {o: [] for o in ids}
    held: dict[int, Fraction] = dict.fromkeys(ids, Fraction(0))  # each pile's total, kept in step
    exhausted = Fraction(0)
    for (ranking, paper), n in parcels.items():
        if paper.denominator == 1 and paper > 1:
            # A ballot of whole weight k is k papers of value 1: each transfer value is then
            # truncated per paper, as rule 48 does, not once for the k together.
            paper, n = Fraction(1), n * paper.numerator
        if ranking:
            piles[ranking[0]].append((ranking, paper, n))
        else:
            exhausted += paper * n
    for o in ids:
        held[o] = _pile_total(piles[o])
    continuing = list(ids)
    elected: list[int] = []
    pending: list[int] = []  # elected, surplus not yet transferred
    history: list[dict[int, Fraction]] = []
    rounds: list[dict[str, Any]] = []
    notes: list[Note] = []

    def place(papers: list[tuple[tuple[int, ...], Fraction, int]]) -> tuple[dict[int, Fraction], Fraction]:
        """Move papers to their next continuing preference; return what each option got and what exhausted."""
        moved_papers: dict[int, list[tuple[tuple[int, ...], Fraction, int]]] = defaultdict(list)
        lost: list[tuple[tuple[int, ...], Fraction, int]] = []
        hopeful = set(continuing)
        for paper in papers:
            target = next((o for o in paper[0] if o in hopeful), None)
            (lost if target is None else moved_papers[target]).append(paper)
        moved: dict[int, Fraction] = {}
        for target, arrived in moved_papers.items():
            piles[target].extend(arrived)
            moved[target] = _pile_total(arrived)
            held[target] += moved[target]
        return moved, _pile_total(lost)

    stage = 0
    action: dict[str, Any] = {"action": "first_preferences"}
    moved: dict[int, Fraction] = {}
    while True:
        stage += 1
        tallies = {o: held[o] for o in continuing + elected}
        history.append(tallies)
        newly = sorted(
            (o for o in continuing if tallies[o] >= quota), key=lambda o: (-tallies[o], ids.index(o))
        )
        # Equal votes among the newly elected: their order (and so the surplus order) by the tie rule.
        ordered = _order_elected(newly, tallies, history, seed=seed, stage=stage, notes=notes)
        for o in ordered:
            continuing.remove(o)
            elected.append(o)
            pending.append(o)
        entry: dict[str, Any] = {
            "round": stage,
            **action,
            "quota": _show(quota),
            "votes": {str(o): _show(tallies[o]) for o in ids if o in tallies},
            "transfers": {str(o): _show(v) for o, v in moved.items() if v},
            "exhausted": _show(exhausted),
            "elected": ordered,
            "excluded": [],
            "tie_break": None,
        }
        rounds.append(entry)
        if len(elected) >= seats or not continuing:
            break
        if len(continuing) <= seats - len(elected):
            entry["elected"] = ordered + list(continuing)
            elected.extend(continuing)
            continuing = []
            break
        surpluses = {o: tallies[o] - quota for o in pending if tallies[o] > quota}
        pending[:] = [o for o in pending if o in surpluses]
        if surpluses:
            biggest = max(surpluses.values())
            tied = [o for o in pending if surpluses[o] == biggest]
            if len(tied) > 1:
                source, note = _tie_break(tied, history, lowest=False, seed=seed, stage=stage + 1, what="surplus")
                notes.append(note)
            else:
                source = tied[0]
            pending.remove(source)
            surplus = surpluses[source]
            total = tallies[source]
            papers = piles[source]
            # One transfer value per distinct paper value (papers of equal value pass on equally).
            values = {value: _truncate5(value * surplus / total) for value in {paper[1] for paper in papers}}
            reduced = [(r, values[value], n) for r, value, n in papers]
            moved, lost = place(reduced)
            # What the elected option keeps is the quota (the papers' values now carry the rest).
            piles[source] = [((), quota, 1)]
            held[source] = quota
            exhausted += lost
            action = {
                "action": "surplus",
                "option": source,
                "surplus": _show(surplus),
                "transfer_value": _show(_truncate5(surplus / total)),
            }
        else:
            fewest = min(tallies[o] for o in continuing)
            tied = [o for o in continuing if tallies[o] == fewest]
            if len(tied) > 1:
                loser, note = _tie_break(tied, history, lowest=True, seed=seed, stage=stage + 1, what="excluded")
                notes.append(note)
            else:
                loser = tied[0]
            continuing.remove(loser)
            papers = piles[loser]
            piles[loser] = []
            held[loser] = Fraction(0)
            moved, lost = place(papers)
            exhausted += lost
            action = {"action": "exclusion", "option": loser}
    # Record exclusions on the stage that did them.
    for earlier, later in pairwise(rounds):
        if later.get("action") == "exclusion":
            earlier["excluded"] = [later["option"]]
    return elected, rounds, notes


def _ceil_div(a: int, b: int) -> int:
    """``a / b`` rounded up (b > 0)."""
    return -(-a // b)


def _meek(
    ids: Sequence[int], parcels: Mapping[Parcel, int], total: Fraction, seats: int, seed: str | None
) -> tuple[list[int], list[dict[str, Any]], list[Note]]:
    unit = _MEEK_UNIT
    # Papers in fixed point, rounded per paper as the rule does: (ranking, weight units) -> papers.
    grouped: list[tuple[tuple[int, ...], int, int]] = [
        (ranking, int(paper * unit), n) for (ranking, paper), n in parcels.items()  # weights: <= 6 decimals
    ]
    keep: dict[int, int] = dict.fromkeys(ids, unit)
    hopeful = list(ids)
    elected: list[int] = []
    excluded: list[int] = []
    history: list[dict[int, Fraction]] = []
    rounds: list[dict[str, Any]] = []
    notes: list[Note] = []
    action: dict[str, Any] = {"action": "first_preferences"}

    def distribute() -> tuple[dict[int, int], int]:
        got = dict.fromkeys(ids, 0)
        excess = 0
        for ranking, weight, n in grouped:
            left = weight
            for o in ranking:
                k = keep[o]
                if not k:
                    continue
                share = _ceil_div(left * k, unit)  # rounded up, as the reference rule does
                got[o] += share * n
                left -= share
                if not left:
                    break
            excess += left * n
        return got, excess

    stage = 0
    while True:
        stage += 1
        iterations = 0
        last_surplus: int | None = None
        while True:
            iterations += 1
            got, excess = distribute()
            quota = (sum(got.values())) // (seats + 1) + 1  # truncated to 10**-9, plus 10**-9
            newly = [o for o in hopeful if got[o] >= quota]
            surplus = max(0, sum(got[o] - quota for o in elected))
            stable = last_surplus is not None and surplus >= last_surplus
            if newly or surplus < _MEEK_OMEGA or stable or iterations >= _MEEK_ITERATIONS:
                break
            last_surplus = surplus
            for o in elected:
                if got[o]:  # keep * quota, then / votes, each rounded up
                    keep[o] = min(_ceil_div(_ceil_div(keep[o] * quota, unit) * unit, got[o]), unit)
        tallies = {o: Fraction(got[o], unit) for o in ids if o not in excluded}
        history.append(tallies)
        newly.sort(key=lambda o: (-got[o], ids.index(o)))
        ordered = _order_elected(newly, got, history, seed=seed, stage=stage, notes=notes)
        for o in ordered:
            hopeful.remove(o)
            elected.append(o)
        entry: dict[str, Any] = {
            "round": stage,
            **action,
            "quota": quota / unit,
            "votes": {str(o): got[o] / unit for o in ids if o not in excluded},
            "keep_values": {str(o): keep[o] / unit for o in elected},
            "iterations": iterations,
            "exhausted": excess / unit,
            "elected": ordered,
            "excluded": [],
            "tie_break": None,
        }
        rounds.append(entry)
        if len(elected) >= seats or not hopeful:
            break
        if len(hopeful) <= seats - len(elected):
            entry["elected"] = ordered + list(hopeful)
            elected.extend(hopeful)
            hopeful = []
            break
        if ordered:
            action = {"action": "keep_values"}
            continue
        fewest = min(got[o] for o in hopeful)
        tied = [o for o in hopeful if got[o] == fewest]
        if len(tied) > 1:
            loser, note = _tie_break(tied, history, lowest=True, seed=seed, stage=stage + 1, what="excluded")
            notes.append(note)
        else:
            loser = tied[0]
        hopeful.remove(loser)
        excluded.append(loser)
        keep[loser] = 0
        entry["excluded"] = [loser]
        action = {"action": "exclusion", "option": loser}
    return elected, rounds, notes


def tally_stv(
    option_ids: Sequence[int],
    ballots: Iterable[TallyBallot],
    *,
    seats: int = 1,
    stv_rule: str = "scottish",
    seed: str | None = None,
) -> TallyResult:
    """Count a ranked poll by single transferable vote (see the module docstring for the rules).

    Args:
        option_ids: The poll's option ids in display order.
        ballots: The ballots; ``choices`` is the ranking.
        seats: How many options to elect, at least 1 (when as many options continue as seats
            remain, they are all elected).
        stv_rule: ``"scottish"`` or ``"meek"``.
        seed: The seed of any lot (see :mod:`commons_app.services.tally.ties`).

    Returns:
        The result: ``winners`` in the order they were elected; ``rounds`` one entry per stage
        (``round``, ``action`` with its ``option``/``surplus``/``transfer_value``, ``quota``,
        ``votes``, ``transfers``, ``exhausted``, ``elected``, ``excluded``; Meek also
        ``keep_values`` and ``iterations``); ``detail`` ``{"seats", "stv_rule", "quota"}``
        (the first stage's quota); ``OptionTally.votes``/``weight`` are first preferences.

    Raises:
        ValueError: An unknown rule, seats below 1, or as the other methods raise.
    """
    if stv_rule not in STV_RULES:
        raise ValueError(f"unknown STV rule {stv_rule!r}; expected one of {', '.join(STV_RULES)}")
    if not isinstance(seats, int) or isinstance(seats, bool) or seats < 1:
        raise ValueError(f"seats must be a whole number >= 1, got {seats!r}")
    ids = list(option_ids)
    parcels, count, total = _papers(ids, ballots)
    options = _first_preferences(ids, parcels)
    winners: list[int] = []
    rounds: list[dict[str, Any]] = []
    notes: list[Note] = []
    if count and any(ranking for ranking, _ in parcels):
        count_ = _scottish if stv_rule == "scottish" else _meek
        winners, rounds, notes = count_(ids, parcels, total, seats, seed)
    for entry, note in _attach(rounds, notes):
        entry["tie_break"] = note.as_dict()
    return TallyResult(
        method="stv",
        total_ballots=count,
        total_weight=float(total),
        options=options,
        winners=winners,
        rounds=rounds,
        detail={"seats": seats, "stv_rule": stv_rule, "quota": rounds[0]["quota"] if rounds else None},
        tie=bool(notes),
        notes=notes,
    )


def _attach(rounds: list[dict[str, Any]], notes: list[Note]) -> list[tuple[dict[str, Any], Note]]:
    """Each note with the stage it decided (a stage's ``tie_break`` shows the last of its notes;
    ``notes`` has them all)."""
    by_stage = {entry["round"]: entry for entry in rounds}
    return [(by_stage[note.figures["stage"]], note) for note in notes if note.figures.get("stage") in by_stage]
