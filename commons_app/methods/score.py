"""Score voting: each option gets 0 to 5 on each ballot; the highest total wins."""

from __future__ import annotations

from typing import Any

from commons_app.i18n import N_
from commons_app.methods.ballots import MAX_SCORE, SCORES
from commons_app.methods.registry import Method, register
from commons_app.services.tally import tally


def count(option_ids: Any, ballots: Any, *, seed: str | None = None) -> Any:
    """The tally of a score poll."""
    return tally("score", option_ids, ballots, seed=seed)


METHOD = register(Method(
    name="score",
    position=60,
    label=N_("Score"),
    instructions=f"Give each option a score from 0 (worst) to {MAX_SCORE} (best).",
    ballot=SCORES,
    count=count,
    explanation=N_("Each ballot scores the options; the highest (weighted) total score wins."),
    first_label=N_("Ballots scoring it"),
    figures=("score",),
))
