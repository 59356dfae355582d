"""Instant runoff: the option with the fewest first preferences is eliminated until one has a majority."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from commons_app.i18n import N_
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
    header = ["Option"] + [f"Round {r.get('round', i + 1)}" for i, r in enumerate(results.rounds)]
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
    rows.append(["Exhausted"] + [number(r.get("exhausted", 0)) for r in results.rounds])
    return [Table("Instant-runoff rounds (✗ = eliminated)", header, rows)]


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
))
