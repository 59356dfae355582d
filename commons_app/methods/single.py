"""Single choice (plurality): each ballot names one option; the most weight wins."""

from __future__ import annotations

from typing import Any

from commons_app.i18n import N_
from commons_app.methods.ballots import CHOICE
from commons_app.methods.registry import Method, register
from commons_app.services.tally import tally


def count(option_ids: Any, ballots: Any, *, seed: str | None = None) -> Any:
    """The tally of a single-choice poll."""
    return tally("single", option_ids, ballots, seed=seed)


METHOD = register(Method(
    name="single",
    position=10,
    label=N_("Single choice"),
    instructions=N_("Choose one option."),
    ballot=CHOICE,
    count=count,
    explanation=N_("Each ballot names one option; the option with the most (weighted) votes wins."),
    pass_rule=True,
    counts_table=True,
))
