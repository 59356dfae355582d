"""Instant runoff: the option with the fewest first preferences is eliminated until one has a majority."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from commons_app.i18n import N_, tr, trn
from commons_app.methods import _display
from commons_app.methods._display import number
from commons_app.methods.ballots import RANKING
from commons_app.methods.registry import Method, Table, register
from commons_app.services.tally import tally


def count(option_ids: Any, ballots: Any, *, seed: str | None = None) -> Any:
    """The tally of an instant-runoff poll."""
    return tally("irv", option_ids, ballots, seed=seed)


def rounds_table(results: Any, texts: Mapping[int, str]) -> list[Table]:
    """Each option's votes per round, ✗ where it was eliminated, and the exhausted ballots."""
    if not results.rounds:
        return []
    header = [N_("Option")] + [f"Round {r.get('round', i + 1)}" for i, r in enumerate(results.rounds)]
    rows: list[list[str]] = []
    out: set[str] = set()
    for o in results.options:
        cells = [o.text]
        key = str(o.option_id)
        for r in results.rounds:
            tallies = r.get("tallies", {})
            cells.append("—" if key in out or key not in tallies else number(tallies[key]))
            if o.option_id in r.get("eliminated", []):
                out.add(key)
                cells[-1] += " ✗"
        rows.append(cells)
    rows.append([N_("Exhausted")] + [number(r.get("exhausted", 0)) for r in results.rounds])
    return [Table(N_("Instant-runoff rounds (✗ = eliminated)"), header, rows, label_rows=(len(rows) - 1,))]


def summary(results: Any, texts: Mapping[int, str], lang: str) -> str:
    """The round the winner reached a majority in, with its votes of the ballots still counting
    then, and who was eliminated before."""
    if not results.winners or not results.rounds:
        return _display.generic(lang, results, texts)
    final = results.rounds[-1]
    tallies = {int(k): float(v) for k, v in final.get("tallies", {}).items()}
    active = sum(tallies.values())
    out = [texts.get(int(i), str(i)) for r in results.rounds[:-1] for i in r.get("eliminated", [])]
    figures = {
        "names": _display.lead(lang, results, texts),
        "round": final.get("round", len(results.rounds)),
        "share": _display.ballots_of(
            lang, results, tallies.get(results.winners[0], 0), active, counting=float(final.get("exhausted", 0)) > 0
        ),
        "eliminated": _display.names(lang, out),
    }
    done = _display.closed(results)
    if len(results.winners) > 1:
        return (tr(lang, "Final result: %(names)s tied in round %(round)s with %(share)s each.", **figures) if done
                else tr(lang, "%(names)s are tied in round %(round)s with %(share)s each so far.", **figures))
    if not out:
        return (tr(lang, "Final result: %(names)s won in round 1 with a majority of first preferences: %(share)s.", **figures) if done
                else tr(lang, "%(names)s is leading in round 1 with a majority of first preferences so far: %(share)s.", **figures))
    if done:
        return trn(lang, "Final result: %(names)s won in round %(round)s with %(share)s after %(eliminated)s was eliminated.",
                   "Final result: %(names)s won in round %(round)s with %(share)s after %(eliminated)s were eliminated.",
                   len(out), **figures)
    return trn(lang, "%(names)s is leading in round %(round)s with %(share)s so far, after %(eliminated)s was eliminated.",
               "%(names)s is leading in round %(round)s with %(share)s so far, after %(eliminated)s were eliminated.",
               len(out), **figures)


METHOD = register(Method(
    name="irv",
    position=30,
    label=N_("Instant runoff"),
    instructions=N_("Rank the options: 1 is your first choice. You may leave options unranked."),
    ballot=RANKING,
    count=count,
    explanation=N_(
        "Ballots count for their highest-ranked option still in the race; the option with the fewest "
        "votes is eliminated, round after round, until one has a majority."
    ),
    first_label=N_("First preferences"),
    tables=rounds_table,
    ranked_record=True,
    summary=summary,
))
