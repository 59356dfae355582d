"""Score voting: each option gets 0 to 5 on each ballot; the highest total wins."""

from __future__ import annotations

from typing import Any

from commons_app.i18n import N_, tr
from commons_app.methods import _display
from commons_app.methods.ballots import MAX_SCORE, SCORES
from commons_app.methods.registry import Method, register
from commons_app.services.tally import tally


def count(option_ids: Any, ballots: Any, *, seed: str | None = None) -> Any:
    """The tally of a score poll."""
    return tally("score", option_ids, ballots, seed=seed)



def summary(results: Any, texts: Any, lang: str) -> str:
    """The winner's total score, and its average over all ballots (a ballot not scoring it gives 0)."""
    if not results.winners:
        return _display.generic(lang, results, texts)
    by_id = {o.option_id: o for o in results.options}
    best = by_id[results.winners[0]]
    figures = {"names": _display.lead(lang, results, texts), "score": _display.number(best.score or 0),
               "mean": _display.number(round(float(best.mean or 0), 2)), "max": MAX_SCORE}
    done = _display.closed(results)
    if len(results.winners) > 1:
        return (tr(lang, "Final result: %(names)s tied with a total score of %(score)s each (an average of %(mean)s out of %(max)s per ballot); no rule breaks this tie, so all of them won.", **figures) if done
                else tr(lang, "%(names)s are tied for the lead with a total score of %(score)s each (an average of %(mean)s out of %(max)s per ballot) so far.", **figures))
    return (tr(lang, "Final result: %(names)s won with the highest total score, %(score)s (an average of %(mean)s out of %(max)s per ballot).", **figures) if done
            else tr(lang, "%(names)s is leading with the highest total score so far, %(score)s (an average of %(mean)s out of %(max)s per ballot).", **figures))


METHOD = register(Method(
    name="score",
    position=60,
    label=N_("Score"),
    # %(max)s: MAX_SCORE, filled where the sentence is shown (one msgid whatever the scale).
    instructions=N_("Give each option a score from 0 (worst) to %(max)s (best)."),
    ballot=SCORES,
    count=count,
    # The msgid spells out MAX_SCORE (5): a msgid must be a literal for extraction and lookup.
    explanation=N_(
        "The rule: each ballot gives every option a score from 0 to 5 (an option left out scores 0); "
        "the option with the highest (weighted) total score wins. The average is over all ballots."
    ),
    first_label=N_("Ballots scoring it"),
    figures=("score",),
    summary=summary,
))
