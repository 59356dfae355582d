"""STAR (score then automatic runoff): the two highest-scored options go to a runoff."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from commons_app.i18n import N_, tr
from commons_app.methods import _display
from commons_app.methods._display import number
from commons_app.methods.ballots import SCORES
from commons_app.methods.registry import Method, register
from commons_app.services.tally import tally


def count(option_ids: Any, ballots: Any, *, seed: str | None = None) -> Any:
    """The tally of a STAR poll."""
    return tally("star", option_ids, ballots, seed=seed)


def runoff_line(results: Any, texts: Mapping[int, str], lang: str = "en") -> list[str]:
    """The automatic runoff between the two finalists (in ``lang``)."""
    finalists = results.detail.get("finalists")
    if not finalists:
        return []
    runoff = results.detail.get("runoff", {})
    parts = [f"{texts.get(int(f), f)}: {number(runoff.get(str(f), 0))}" for f in finalists]
    if runoff.get("no_preference"):
        return [tr(lang, N_("Automatic runoff — %(pairs)s (no preference: %(none)s)"),
                   pairs=" vs ".join(parts), none=number(runoff["no_preference"]))]
    return [tr(lang, N_("Automatic runoff — %(pairs)s"), pairs=" vs ".join(parts))]



def summary(results: Any, texts: Mapping[int, str], lang: str) -> str:
    """The runoff between the two highest-scored options: who won it, preferred on how many ballots."""
    finalists = [int(f) for f in results.detail.get("finalists") or []]
    if not results.winners or len(finalists) != 2:
        return _display.generic(lang, results, texts)
    winner = results.winners[0]
    other = finalists[1] if finalists[0] == winner else finalists[0]
    runoff = results.detail.get("runoff", {})
    figures = {
        "names": _display.lead(lang, results, texts),
        "other": texts.get(other, str(other)),
        "share": _display.ballots_of(lang, results, runoff.get(str(winner), 0)),
        "against": _display.number(runoff.get(str(other), 0)),
    }
    if _display.closed(results):
        return tr(lang, "Final result: %(names)s won the automatic runoff between the two highest-scored options: %(share)s scored it above %(other)s, %(against)s the other way round.", **figures)
    return tr(lang, "%(names)s is leading the automatic runoff between the two highest-scored options so far: %(share)s score it above %(other)s, %(against)s the other way round.", **figures)


METHOD = register(Method(
    name="star",
    position=70,
    label=N_("STAR"),
    instructions=N_("Score each option from 0 to %(max)s; the two highest-scored go to an automatic runoff."),  # max: MAX_SCORE
    ballot=SCORES,
    count=count,
    # The msgid spells out MAX_SCORE (5): a msgid must be a literal for extraction and lookup.
    explanation=N_(
        "The rule: each ballot scores every option from 0 to 5; the two options with the highest "
        "(weighted) total scores go to an automatic runoff, which the one scored higher on more (weighted) "
        "ballots wins."
    ),
    first_label=N_("Ballots scoring it"),
    figures=("score",),
    lines=runoff_line,
    summary=summary,
))
