"""STAR (score then automatic runoff): the two highest-scored options go to a runoff."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from commons_app.i18n import N_
from commons_app.methods._display import number
from commons_app.methods.ballots import MAX_SCORE, SCORES
from commons_app.methods.registry import Method, register
from commons_app.services.tally import tally


def count(option_ids: Any, ballots: Any, *, seed: str | None = None) -> Any:
    """The tally of a STAR poll."""
    return tally("star", option_ids, ballots, seed=seed)


def runoff_line(results: Any, texts: Mapping[int, str]) -> list[str]:
    """The automatic runoff between the two finalists."""
    finalists = results.detail.get("finalists")
    if not finalists:
        return []
    runoff = results.detail.get("runoff", {})
    parts = [f"{texts.get(int(f), f)}: {number(runoff.get(str(f), 0))}" for f in finalists]
    line = "Automatic runoff — " + " vs ".join(parts)
    if runoff.get("no_preference"):
        line += f" (no preference: {number(runoff['no_preference'])})"
    return [line]


METHOD = register(Method(
    name="star",
    position=70,
    label=N_("STAR"),
    instructions=f"Score each option from 0 to {MAX_SCORE}; the two highest-scored go to an automatic runoff.",
    ballot=SCORES,
    count=count,
    explanation=N_(
        "The two options with the highest (weighted) total scores are the finalists; the finalist "
        "that more (weighted) ballots score higher wins."
    ),
    first_label=N_("Ballots scoring it"),
    figures=("score",),
    lines=runoff_line,
))
