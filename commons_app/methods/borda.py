"""Borda count: points by rank; the most points win."""

from __future__ import annotations

from typing import Any

from commons_app.i18n import N_, tr
from commons_app.methods import _display
from commons_app.methods.ballots import RANKING
from commons_app.methods.registry import Method, register
from commons_app.services.tally import tally


def count(option_ids: Any, ballots: Any, *, seed: str | None = None) -> Any:
    """The tally of a Borda poll."""
    return tally("borda", option_ids, ballots, seed=seed)



def summary(results: Any, texts: Any, lang: str) -> str:
    """The winner's points, and their share of all the points the ballots gave."""
    if not results.winners:
        return _display.generic(lang, results, texts)
    by_id = {o.option_id: o for o in results.options}
    points = float(by_id[results.winners[0]].points or 0)
    given = sum(float(o.points or 0) for o in results.options)
    figures = {"names": _display.lead(lang, results, texts), "points": _display.number(points),
               "percent": _display.percent(points, given)}
    done = _display.closed(results)
    if len(results.winners) > 1:
        return (tr(lang, "Final result: %(names)s tied with %(points)s Borda points each (%(percent)s of all points given); no rule breaks this tie, so all of them won.", **figures) if done
                else tr(lang, "%(names)s are tied for the lead with %(points)s Borda points each (%(percent)s of all points given) so far.", **figures))
    return (tr(lang, "Final result: %(names)s won with %(points)s Borda points (%(percent)s of all points given).", **figures) if done
            else tr(lang, "%(names)s is leading with %(points)s Borda points (%(percent)s of all points given) so far.", **figures))


METHOD = register(Method(
    name="borda",
    position=50,
    label=N_("Borda count"),
    instructions=N_("Rank the options: 1 is your first choice. Unranked options get no points."),
    ballot=RANKING,
    count=count,
    explanation=N_(
        "The rule: with N options, each ballot gives its first choice N − 1 points, its second N − 2, and so on "
        "down to 0 for its last; unranked options get no points. The option with the most (weighted) points wins."
    ),
    first_label=N_("First preferences"),
    figures=("points",),
    ranked_record=True,
    summary=summary,
))
