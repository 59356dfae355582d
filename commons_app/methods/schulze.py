"""Schulze (Condorcet): the option that beats every other through the strongest paths wins."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from commons_app.i18n import N_, tr
from commons_app.methods import _display
from commons_app.methods._display import number
from commons_app.methods.ballots import RANKING
from commons_app.methods.registry import Method, Table, register
from commons_app.services.tally import tally


def count(option_ids: Any, ballots: Any, *, seed: str | None = None) -> Any:
    """The tally of a Schulze poll."""
    return tally("schulze", option_ids, ballots, seed=seed)


def pairwise_table(results: Any, texts: Mapping[int, str]) -> list[Table]:
    """How many (weighted) ballots prefer each row's option over each column's, and who beats
    whom said by a word, not a colour alone: "beats", "loses to", "ties"."""
    pairwise = results.detail.get("pairwise")
    if not pairwise:
        return []
    ids = [o.option_id for o in results.options]

    def cell(a: int, b: int) -> str:
        if a == b:
            return "—"
        ab = float(pairwise.get(str(a), {}).get(str(b), 0))
        ba = float(pairwise.get(str(b), {}).get(str(a), 0))
        verdict = "✓ beats" if ab > ba else "✗ loses to" if ab < ba else "= ties"
        return f"{number(ab)} : {number(ba)} {verdict}"

    header = [N_("Row option vs column option →")] + [texts[i] for i in ids]
    rows = [[texts[a]] + [cell(a, b) for b in ids] for a in ids]
    return [Table(
        N_("Head to head: ballots preferring the row's option to the column's, against the other way round "
           "(✓ beats, ✗ loses to, = ties)"),
        header, rows,
    )]


def summary(results: Any, texts: Mapping[int, str], lang: str) -> str:
    """Whether the winner beats every other option head to head, or wins through chains."""
    if not results.winners:
        return _display.generic(lang, results, texts)
    names = _display.lead(lang, results, texts)
    done = _display.closed(results)
    if len(results.winners) > 1:
        return (tr(lang, "Final result: %(names)s tied: their strongest chains of head-to-head wins against each other are equally strong.", names=names) if done
                else tr(lang, "%(names)s are tied so far: their strongest chains of head-to-head wins against each other are equally strong.", names=names))
    if results.detail.get("condorcet_winner") == results.winners[0]:
        return (tr(lang, "Final result: %(names)s won: more ballots prefer it to each other option, head to head.", names=names) if done
                else tr(lang, "%(names)s is leading so far: more ballots prefer it to each other option, head to head.", names=names))
    return (tr(lang, "Final result: %(names)s won: no option beats every other head to head, and it has the strongest chains of wins.", names=names) if done
            else tr(lang, "%(names)s is leading so far: no option beats every other head to head, and it has the strongest chains of wins.", names=names))


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
    summary=summary,
))
