"""Schulze (Condorcet): the option that beats every other through the strongest paths wins."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from commons_app.i18n import N_
from commons_app.methods._display import number
from commons_app.methods.ballots import RANKING
from commons_app.methods.registry import Method, Table, register
from commons_app.services.tally import tally


def count(option_ids: Any, ballots: Any, *, seed: str | None = None) -> Any:
    """The tally of a Schulze poll."""
    return tally("schulze", option_ids, ballots, seed=seed)


def pairwise_table(results: Any, texts: Mapping[int, str]) -> list[Table]:
    """How many (weighted) ballots prefer each row's option over each column's."""
    pairwise = results.detail.get("pairwise")
    if not pairwise:
        return []
    ids = [o.option_id for o in results.options]
    header = ["Preferred over →"] + [texts[i] for i in ids]
    rows = [
        [texts[a]] + ["—" if a == b else number(pairwise.get(str(a), {}).get(str(b), 0)) for b in ids] for a in ids
    ]
    return [Table("Pairwise preferences (row preferred over column)", header, rows)]


METHOD = register(Method(
    name="schulze",
    position=40,
    label=N_("Schulze (Condorcet)"),
    instructions=N_("Rank the options: 1 is your first choice. Equal ranks are not allowed; unranked options come last."),
    ballot=RANKING,
    count=count,
    explanation=N_(
        "Every pair of options is compared on the ballots; the winner beats each other option "
        "directly or through a chain of stronger wins."
    ),
    first_label=N_("First preferences"),
    tables=pairwise_table,
    ranked_record=True,
))
