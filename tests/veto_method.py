"""A voting method that exists only in the tests: anti-plurality ("veto"), one registry entry.

``tests/api/test_method_registry.py`` registers it in-process; the browser test copies this file
into a server's project and names a module that registers it in ``COMMONS_METHOD_MODULES``.
"""

from __future__ import annotations

from typing import Any

from commons_app import methods
from commons_app.methods.ballots import CHOICE
from commons_app.services.tally import OptionTally, TallyResult


def count_vetoes(option_ids: Any, ballots: Any, *, seed: str | None = None) -> TallyResult:
    """Anti-plurality: each ballot names the option it likes least; the fewest vetoes win."""
    ballots = list(ballots)
    vetoes = dict.fromkeys(option_ids, 0)
    weights = dict.fromkeys(option_ids, 0.0)
    for ballot in ballots:
        vetoes[ballot.choices[0]] += 1
        weights[ballot.choices[0]] += ballot.weight
    fewest = min(weights.values()) if ballots else None
    winners = [o for o in option_ids if ballots and weights[o] == fewest]
    return TallyResult(
        method="veto", total_ballots=len(ballots), total_weight=float(sum(b.weight for b in ballots)),
        options=[OptionTally(option_id=o, votes=vetoes[o], weight=weights[o]) for o in option_ids],
        winners=winners, rounds=[],
    )


def veto_table(results: Any, texts: Any) -> list[methods.Table]:
    """The vetoes per option, as a table of the results page."""
    return [methods.Table("Vetoes", ["Option", "Vetoes"], [[texts[o.option_id], str(o.votes)] for o in results.options])]


METHOD = methods.Method(
    name="veto",
    label="Veto (anti-plurality)",
    instructions="Choose the option you like least.",
    ballot=CHOICE,
    count=count_vetoes,
    explanation="The option the fewest ballots veto wins.",
    first_label="Vetoes",
    tables=veto_table,
)
