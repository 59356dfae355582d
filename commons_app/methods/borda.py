"""Borda count: points by rank; the most points win."""

from __future__ import annotations

from typing import Any

from commons_app.i18n import N_
from commons_app.methods.ballots import RANKING
from commons_app.methods.registry import Method, register
from commons_app.services.tally import tally


def count(option_ids: Any, ballots: Any, *, seed: str | None = None) -> Any:
    """The tally of a Borda poll."""
    return tally("borda", option_ids, ballots, seed=seed)


METHOD = register(Method(
    name="borda",
    position=50,
    label=N_("Borda count"),
    instructions=N_("Rank the options: 1 is your first choice. Unranked options get no points."),
    ballot=RANKING,
    count=count,
    explanation=N_("Each ranking gives an option more points the higher it ranks it; the most (weighted) points win."),
    first_label=N_("First preferences"),
    figures=("points",),
    ranked_record=True,
))
