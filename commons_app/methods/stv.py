"""Single transferable vote (multi-winner): ``seats`` winners, Scottish STV or Meek STV."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from commons_app.i18n import N_, tr, trn
from commons_app.methods import _display
from commons_app.methods._display import number
from commons_app.methods.ballots import RANKING
from commons_app.methods.registry import Method, Param, Table, register
from commons_app.services.errors import InvalidInput
from commons_app.services.tally import tally

STV_RULES = {"scottish": N_("Scottish STV (Droop quota, fractional transfers)"), "meek": N_("Meek STV")}
"""The counting rules offered: Droop quota with fractional transfers as in Scottish local
elections, or Meek's method."""


def check_seats(value: Any, options: int) -> int:
    """``seats``: 1 up to one fewer than the options (default 1)."""
    if value is None:
        return 1
    if isinstance(value, bool) or not isinstance(value, int) or not (1 <= value < options):
        raise InvalidInput(
            N_("seats must be a whole number from 1 to one fewer than the options (%(most)s)."),
            field="seats", most=options - 1,
        )
    return value


def check_rule(value: Any, _options: int) -> str:
    """``stv_rule``: one of :data:`STV_RULES` (default ``scottish``)."""
    if value is None:
        return "scottish"
    if value not in STV_RULES:
        raise InvalidInput(
            N_("stv_rule must be one of %(stv_rules)s."),
            field="stv_rule", stv_rules=', '.join(STV_RULES),
        )
    return value


def count(
    option_ids: Any, ballots: Any, *, seed: str | None = None, seats: int = 1, stv_rule: str = "scottish"
) -> Any:
    """The tally of an STV poll (the counting is ``services.tally``'s)."""
    return tally("stv", option_ids, ballots, seats=seats, stv_rule=stv_rule, seed=seed)


def _cell(value: Any) -> str:
    return "" if value is None else number(value)


def rounds_table(results: Any, texts: Mapping[int, str]) -> list[Table]:
    """Quota, each option's votes per round (elected ✓, excluded ✗) and the exhausted ballots."""
    rounds = results.rounds
    if not rounds:
        return []
    header = [N_("Option")] + [f"Round {r.get('round', i + 1)}" for i, r in enumerate(rounds)]
    rows: list[list[str]] = [[N_("Quota")] + [_cell(r.get("quota")) for r in rounds]]
    for o in results.options:
        key = str(o.option_id)
        cells = [o.text]
        done = ""
        for r in rounds:
            votes = r.get("tallies", r.get("votes", {}))
            if done:
                cells.append("—")
                continue
            cells.append(_cell(votes.get(key)) if key in votes else "—")
            if o.option_id in r.get("elected", []):
                done = " ✓"
                cells[-1] += done
            elif o.option_id in r.get("eliminated", r.get("excluded", [])):
                done = " ✗"
                cells[-1] += done
        rows.append(cells)
    rows.append([N_("Exhausted")] + [_cell(r.get("exhausted", 0)) for r in rounds])
    return [Table(N_("STV rounds (✓ = elected, ✗ = excluded)"), header, rows, label_rows=(0, len(rows) - 1))]



def summary(results: Any, texts: Mapping[int, str], lang: str) -> str:
    """Who was elected in which round, for how many seats, with which quota."""
    if not results.winners:
        return _display.generic(lang, results, texts)
    elected_in: dict[int, int] = {}
    for i, r in enumerate(results.rounds or []):
        for option_id in r.get("elected", []):
            elected_in.setdefault(int(option_id), int(r.get("round", i + 1)))
    each = [
        tr(lang, "%(name)s in round %(round)s", name=texts.get(w, str(w)), round=elected_in[w]) if w in elected_in
        else texts.get(w, str(w))
        for w in results.winners
    ]
    seats = int(results.detail.get("seats") or results.settings.get("seats") or len(results.winners))
    figures = {"elected": _display.names(lang, each), "seats": seats,
               "quota": _display.number(results.detail.get("quota", 0))}
    if _display.closed(results):
        return trn(lang, "Final result for %(seats)s seat, with a quota of %(quota)s votes: elected %(elected)s.",
                   "Final result for %(seats)s seats, with a quota of %(quota)s votes: elected %(elected)s.", seats, **figures)
    return trn(lang, "So far, for %(seats)s seat with a quota of %(quota)s votes: elected %(elected)s.",
               "So far, for %(seats)s seats with a quota of %(quota)s votes: elected %(elected)s.", seats, **figures)


METHOD = register(Method(
    name="stv",
    position=80,
    label=N_("Single transferable vote (STV)"),
    instructions=N_("Rank the options: 1 is your first choice. Rank as many as you like; lower preferences help when higher ones are elected or excluded."),
    ballot=RANKING,
    count=count,
    explanation=N_(
        "An option reaching the quota is elected and its surplus passes on to the next preferences; "
        "when none reaches it, the option with the fewest votes is excluded and its ballots pass on, "
        "until every seat is filled."
    ),
    params=(Param("seats", check_seats, "Seats"), Param("stv_rule", check_rule, "Counting rule", show=lambda rule: STV_RULES.get(rule, rule))),
    first_label=N_("First preferences"),
    tables=rounds_table,
    elected_label=N_("Elected"),
    ranked_record=True,
    summary=summary,
))
