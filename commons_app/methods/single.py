"""Single choice (plurality): each ballot names one option; the most weight wins."""

from __future__ import annotations

from typing import Any

from commons_app.i18n import N_, tr
from commons_app.methods import _display
from commons_app.methods.ballots import CHOICE
from commons_app.methods.registry import Method, register
from commons_app.services.tally import tally


def count(option_ids: Any, ballots: Any, *, seed: str | None = None) -> Any:
    """The tally of a single-choice poll."""
    return tally("single", option_ids, ballots, seed=seed)


def summary(results: Any, texts: Any, lang: str) -> str:
    """Who has the most votes, with how many of all ballots."""
    if not results.winners:
        return _display.generic(lang, results, texts)
    top = _display.top(lang, results, texts)
    if _display.closed(results):
        if top["tie"]:
            return tr(lang, "Final result: %(names)s tied with %(share)s each; no rule breaks this tie, so all of them won.", **top)
        return tr(lang, "Final result: %(names)s won with %(share)s.", **top)
    if top["tie"]:
        return tr(lang, "%(names)s are tied for the lead with %(share)s each so far.", **top)
    return tr(lang, "%(names)s is leading with %(share)s so far.", **top)


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
    summary=summary,
))
