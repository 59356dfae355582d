"""Approval: each ballot approves any number of options (up to ``max_choices``); most approvals win."""

from __future__ import annotations

from typing import Any

from commons_app.i18n import N_, tr
from commons_app.methods import _display
from commons_app.methods.ballots import APPROVAL
from commons_app.methods.registry import Method, Param, register
from commons_app.services.errors import InvalidInput
from commons_app.services.tally import tally


def check_max_choices(value: Any, options: int) -> int | None:
    """``max_choices``: none, or 1 up to the number of options."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not (1 <= value <= options):
        raise InvalidInput(
            N_("max_choices must be between 1 and the number of options (%(options)s)."),
            field="max_choices", options=options,
        )
    return value


def count(option_ids: Any, ballots: Any, *, seed: str | None = None, max_choices: int | None = None) -> Any:
    """The tally of an approval poll (``max_choices`` was checked when the ballots were cast)."""
    return tally("approval", option_ids, ballots, seed=seed)


def summary(results: Any, texts: Any, lang: str) -> str:
    """Who is approved on the most ballots, with how many of all ballots."""
    if not results.winners:
        return _display.generic(lang, results, texts)
    top = _display.top(lang, results, texts)
    if _display.closed(results):
        if top["tie"]:
            return tr(lang, "Final result: %(names)s tied, each approved on %(share)s; no rule breaks this tie, so all of them won.", **top)
        return tr(lang, "Final result: %(names)s won, approved on %(share)s.", **top)
    if top["tie"]:
        return tr(lang, "%(names)s are tied for the lead so far, each approved on %(share)s.", **top)
    return tr(lang, "%(names)s is leading so far, approved on %(share)s.", **top)


METHOD = register(Method(
    name="approval",
    position=20,
    label=N_("Approval"),
    instructions=N_("Tick every option you approve of."),
    ballot=APPROVAL,
    count=count,
    explanation=N_("Each ballot approves any number of options; the option approved by the most (weighted) ballots wins."),
    params=(Param("max_choices", check_max_choices, "Most approvals per ballot"),),
    pass_rule=True,
    first_label=N_("Approvals"),
    summary=summary,
))
