"""Decision rules of a poll: a quorum and a pass threshold, decided in exact arithmetic.

* ``quorum_ballots``: the result counts only when at least this many ballots are in.
* ``quorum_share`` (private polls): ... only when at least this share (0..1] of the roll has voted.
* ``pass_rule``: for methods whose entry allows it (single choice and approval: a ballot "backs"
  an option when it names it), the winner passes when the weighted ballots backing it are
  ``majority``: more than half of all weighted ballots; ``two_thirds`` / ``three_quarters``: at
  least that share; ``unanimous``: all of them. A tie for first place passes nothing (no single
  option was decided), and neither does a result whose quorum is not met.

Weights are taken as the decimals they were written as (the tally's rule: ``repr`` of the float,
so 0.1 + 0.2 backs exactly as much as 0.3), sums are :class:`~fractions.Fraction`, and shares are
compared as fractions: no float decides anything. The figures reported are rounded once, for show.

Results carry ``quorum_met`` and ``passed``: True/False, or None when the poll has no such rule.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from commons_app.i18n import N_, tr
from commons_app.services.errors import InvalidInput

__all__ = [
    "PASS_RULES", "Decision", "check_rules", "decide", "describe_decision", "describe_rules", "exact_weight",
]

PASS_RULES: dict[str, tuple[Fraction, bool]] = {
    "none": (Fraction(0), False),
    "majority": (Fraction(1, 2), True),  # strictly more than half
    "two_thirds": (Fraction(2, 3), False),
    "three_quarters": (Fraction(3, 4), False),
    "unanimous": (Fraction(1), False),
}
"""Each pass rule: the share of the weighted ballots that must back the winner, and whether the
share must be exceeded (True) or only reached."""

RULE_WORDS = {
    "majority": N_("more than half"),
    "two_thirds": N_("at least two thirds"),
    "three_quarters": N_("at least three quarters"),
    "unanimous": N_("all"),
}
MAX_QUORUM_BALLOTS = 10_000_000
SHARE_DECIMALS = 6


def exact_weight(weight: Any) -> Fraction:
    """A ballot weight as the exact decimal it was written as (ints and Fractions as they are)."""
    if isinstance(weight, (int, Fraction)):
        return Fraction(weight)
    return Fraction(Decimal(repr(float(weight))))


def check_rules(
    *, method: Any, visibility: str, quorum_ballots: Any, quorum_share: Any, pass_rule: Any
) -> tuple[int | None, float | None, str]:
    """Check a poll's decision rules against its method and visibility; the cleaned values.

    Raises:
        InvalidInput: With a message naming the field.
    """
    if quorum_ballots is not None and (
        isinstance(quorum_ballots, bool) or not isinstance(quorum_ballots, int)
        or not 1 <= quorum_ballots <= MAX_QUORUM_BALLOTS
    ):
        raise InvalidInput(
            N_("quorum_ballots must be a whole number from 1 to %(max_quorum_ballots)s."),
            field="quorum_ballots", max_quorum_ballots=MAX_QUORUM_BALLOTS,
        )
    if quorum_share is not None:
        message = (
            f"quorum_share must be a number above 0 and at most 1 (the share of the roll that must vote), "
            f"with at most {SHARE_DECIMALS} decimal places."
        )
        if isinstance(quorum_share, bool) or not isinstance(quorum_share, (int, float)):
            raise InvalidInput(message, field="quorum_share")
        share = float(quorum_share)
        try:
            places = -Decimal(repr(share)).as_tuple().exponent  # type: ignore[operator]
        except (InvalidOperation, TypeError):
            raise InvalidInput(message, field="quorum_share") from None
        if not math.isfinite(share) or not 0 < share <= 1 or places > SHARE_DECIMALS:
            raise InvalidInput(message, field="quorum_share")
        if visibility != "private":
            raise InvalidInput(
                "quorum_share applies to private polls only (only they have a roll to count against); "
                "use quorum_ballots for the others.",
                field="quorum_share",
            )
        quorum_share = share
    rule = "none" if pass_rule is None else pass_rule
    if rule not in PASS_RULES:
        raise InvalidInput(
            N_("pass_rule must be one of %(pass_rules)s."),
            field="pass_rule", pass_rules=', '.join(PASS_RULES),
        )
    if rule != "none" and not method.pass_rule:
        from commons_app.methods import all_methods  # the registry decides which methods take one

        allowed = ", ".join(m.name for m in all_methods() if m.pass_rule)
        raise InvalidInput(
            N_(
                "pass_rule applies to polls of these methods only: %(allowed)s "
                "(a %(name)s ballot does not say yes or no to the winner)."
            ),
            field="pass_rule", allowed=allowed, name=method.name,
        )
    return quorum_ballots, quorum_share, rule


@dataclass(frozen=True)
class Decision:
    """What a result decides under the poll's rules, and the figures that show why."""

    quorum_met: bool | None
    passed: bool | None
    figures: dict[str, Any]


def decide(
    *,
    quorum_ballots: int | None,
    quorum_share: float | None,
    pass_rule: str | None,
    ballots: int,
    roll: int | None,
    winners: list[int],
    support: Iterable[tuple[Any, Iterable[int], int]] = (),
) -> Decision:
    """Apply the rules to a result.

    Args:
        quorum_ballots, quorum_share, pass_rule: The poll's rules (None/"none": no such rule).
        ballots: The ballots the result counts (an open anonymous poll: its snapshot's).
        roll: How many voters the roll holds (private polls; None otherwise).
        winners: The result's winners.
        support: ``(weight, option ids the ballot backs, how many such ballots)`` for each ballot
            or group of equal ballots counted (only read when there is a pass rule).

    Returns:
        The decision: ``quorum_met`` None without a quorum rule, ``passed`` None without a pass
        rule; ``figures`` for :func:`describe_decision`.
    """
    figures: dict[str, Any] = {"ballots": ballots}
    checks: list[bool] = []
    if quorum_ballots is not None:
        figures["quorum_ballots"] = quorum_ballots
        checks.append(ballots >= quorum_ballots)
    if quorum_share is not None:
        size = roll or 0
        share = exact_weight(quorum_share)
        figures |= {"roll": size, "quorum_share": quorum_share, "share_needed": math.ceil(share * size)}
        checks.append(size > 0 and ballots >= share * size)
    quorum_met = all(checks) if checks else None
    if not pass_rule or pass_rule == "none":
        return Decision(quorum_met=quorum_met, passed=None, figures=figures)
    threshold, strictly = PASS_RULES[pass_rule]
    winner = winners[0] if len(winners) == 1 else None
    # Ballots counted per distinct weight first: each weight becomes a Fraction once, not once
    # per ballot (100,000 approval ballots: 2.3 s -> well under 0.1 s).
    all_by_weight: dict[Any, int] = {}
    backing_by_weight: dict[Any, int] = {}
    for weight, backs, count in support:
        all_by_weight[weight] = all_by_weight.get(weight, 0) + count
        if winner is not None and winner in backs:
            backing_by_weight[weight] = backing_by_weight.get(weight, 0) + count
    total = sum((exact_weight(w) * n for w, n in all_by_weight.items()), Fraction(0))
    backing = sum((exact_weight(w) * n for w, n in backing_by_weight.items()), Fraction(0))
    share = backing / total if total else Fraction(0)
    enough = share > threshold if strictly else share >= threshold
    passed = bool(winner is not None and total > 0 and enough and quorum_met is not False)
    figures |= {
        "pass_rule": pass_rule,
        "winner": winner,
        "tied": len(winners) > 1,
        # Shown rounded down, so a share just short of the threshold never reads as reaching it.
        "support_percent": math.floor(share * 1000) / 10,
    }
    return Decision(quorum_met=quorum_met, passed=passed, figures=figures)


def _percent(value: float) -> str:
    return (f"{value:.1f}".rstrip("0").rstrip(".")) + " %"


def describe_rules(*, quorum_ballots: int | None, quorum_share: float | None, pass_rule: str | None) -> list[str]:
    """The poll's decision rules in words (the poll page shows them)."""
    lines = []
    if quorum_ballots is not None:
        lines.append(f"Quorum: the result counts only with at least {quorum_ballots} ballots.")
    if quorum_share is not None:
        lines.append(f"Quorum: the result counts only if at least {_percent(quorum_share * 100)} of the roll votes.")
    if pass_rule and pass_rule != "none":
        lines.append(f"Passes only if {RULE_WORDS[pass_rule]} of the weighted ballots back the winner.")
    return lines


def describe_decision(
    *, quorum_met: bool | None, passed: bool | None, figures: dict[str, Any], closed: bool, lang: str = "en"
) -> list[str]:
    """The decision of a result in words: "Quorum reached: 41 of 60", "Passed with 68 %" (in ``lang``)."""
    lines = []
    ballots = figures.get("ballots", 0)
    if quorum_met is not None:
        if quorum_met:
            head = N_("Quorum reached: %(details)s")
        else:
            head = N_("Quorum not reached: %(details)s") if closed else N_("Quorum not reached yet: %(details)s")
        parts = []
        if "roll" in figures:
            parts.append(tr(lang, N_("%(ballots)s of %(roll)s voted (%(needed)s needed)"),
                            ballots=ballots, roll=figures["roll"], needed=figures["share_needed"]))
        if "quorum_ballots" in figures:
            parts.append(tr(lang, N_("%(ballots)s ballots (%(needed)s needed)"),
                            ballots=ballots, needed=figures["quorum_ballots"]))
        lines.append(tr(lang, head, details="; ".join(parts)))
    if passed is not None:
        rule = tr(lang, RULE_WORDS[figures["pass_rule"]])
        percent = _percent(figures.get("support_percent", 0))
        if passed:
            sentence = N_("Passed with %(percent)s (%(rule)s needed)") if closed else N_(
                "Passing with %(percent)s (%(rule)s needed)")
        elif figures.get("tied"):
            sentence = N_("Not passed: a tie for first place decides nothing") if closed else N_(
                "Not passing: a tie for first place decides nothing")
        elif quorum_met is False:
            sentence = N_("Not passed: the quorum is not reached") if closed else N_(
                "Not passing yet: the quorum is not reached")
        else:
            sentence = N_("Not passed: %(percent)s back the winner (%(rule)s needed)") if closed else N_(
                "Not passing: %(percent)s back the winner (%(rule)s needed)")
        lines.append(tr(lang, sentence, percent=percent, rule=rule))
    return lines
