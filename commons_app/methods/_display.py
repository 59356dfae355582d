"""Small helpers the methods' displays and summaries share.

The plain-language summary of a result (issue 13): each method module words its own outcome
(``summary`` in its registry entry); what every summary needs — numbers and percentages
formatted one way, a list of names, the "no ballots" sentence, how a tie was broken, what the
poll's decision rules made of the result — lives here, once. Every sentence is one msgid
through :func:`commons_app.i18n.tr` / ``trn``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from commons_app.i18n import tr, trn


def number(value: Any) -> str:
    """Whole numbers without a decimal point, others with up to four decimals."""
    value = float(value)
    if value.is_integer():
        return str(int(value))
    return f"{value:.4f}".rstrip("0").rstrip(".")


def percent(part: Any, whole: Any) -> str:
    """``part`` as a whole-number percentage of ``whole`` (``"67%"``; ``"0%"`` of nothing).

    Rounded half up, so 2 of 3 is 67% and 1 of 2 is 50%; never 100% unless it is all of it,
    never 0% unless it is none (a share that decides something must not read as another one)."""
    part, whole = float(part), float(whole)
    if whole <= 0:
        return "0%"
    share = 100 * part / whole
    shown = int(share + 0.5)
    if shown == 100 and part < whole:
        shown = 99
    if shown == 0 and part > 0:
        shown = 1
    return f"{shown}%"


def names(lang: str, texts: Sequence[str]) -> str:
    """``A``, ``A and B``, ``A, B and C``."""
    items = list(texts)
    if not items:
        return ""
    if len(items) == 1:
        return items[0]
    return tr(lang, "%(first)s and %(last)s", first=", ".join(items[:-1]), last=items[-1])


def is_weighted(results: Any) -> bool:
    """Whether any ballot weight differs from 1 (then totals are weights, not ballot counts).

    The results carry sums only: weights differ when the total weight is not the number of
    ballots or an option's weight is not its number of ballots."""
    if float(results.total_weight) != float(results.total_ballots):
        return True
    return any(float(o.weight) != float(o.votes) for o in results.options)


def closed(results: Any) -> bool:
    """Whether the result is final (the poll closed)."""
    return results.status == "closed"


def ballots_of(lang: str, results: Any, part: Any, whole: Any | None = None, *, counting: bool = False) -> str:
    """``"4 of 6 ballots (67%)"`` — or, when weights differ, ``"4.5 of 6 votes by weight (75%)"``;
    with ``counting``, of the ballots still counting (some were exhausted): ``"3 of the 5 ballots
    still counting (60%)"``."""
    whole = results.total_weight if whole is None else whole
    figures = {"part": number(part), "whole": number(whole), "percent": percent(part, whole)}
    if is_weighted(results):
        if counting:
            return tr(lang, "%(part)s of the %(whole)s votes by weight still counting (%(percent)s)", **figures)
        return tr(lang, "%(part)s of %(whole)s votes by weight (%(percent)s)", **figures)
    if counting:
        return trn(lang, "%(part)s of the %(whole)s ballot still counting (%(percent)s)",
                   "%(part)s of the %(whole)s ballots still counting (%(percent)s)", int(float(whole)), **figures)
    return trn(lang, "%(part)s of %(whole)s ballot (%(percent)s)", "%(part)s of %(whole)s ballots (%(percent)s)",
               int(float(whole)), **figures)


def no_ballots(lang: str, results: Any) -> str:
    """The summary of a result without ballots (an open anonymous poll before its first step
    shows none either: the sentence says nothing about how many were cast)."""
    if closed(results):
        return tr(lang, "Final result: the poll closed without ballots, so there is no winner.")
    return tr(lang, "No ballots are counted yet.")


def lead(lang: str, results: Any, texts: Mapping[int, str]) -> str:
    """The winners' names (in the results' order)."""
    return names(lang, [texts.get(w, str(w)) for w in results.winners])


def tie_breaks(lang: str, results: Any, texts: Mapping[int, str]) -> list[str]:
    """One sentence per tie a rule broke in the rounds (count-back, lot ...): what broke it.

    A lot drawn while the poll is open uses a provisional seed; the one that counts is drawn at
    close with the sealed record's SHA-256 (``services.tally.ties``)."""
    out: list[str] = []
    final = closed(results)
    for r in results.rounds or []:
        note = r.get("tie_break") if isinstance(r, Mapping) else None
        if not note:
            continue
        kind, f = note.get("kind", ""), note.get("figures", {})
        tied = names(lang, [texts.get(int(i), str(i)) for i in note.get("options", [])])
        if kind == "irv_countback":
            out.append(tr(lang, "Round %(round)s: %(tied)s tied for last place; %(out)s was eliminated because it had fewer votes in round %(earlier)s.",
                          round=f.get("round"), tied=tied, out=texts.get(int(f["eliminated"]), ""), earlier=f.get("decided_at")))
        elif kind == "irv_lot":
            out.append(tr(lang, "Round %(round)s: %(tied)s tied for last place and no earlier round separated them; %(out)s was eliminated by lot.",
                          round=f.get("round"), tied=tied, out=texts.get(int(f["eliminated"]), "")))
        elif kind in ("stv_countback", "stv_lot"):
            chosen = texts.get(int(f["chosen"]), "")
            figures = {"round": f.get("stage"), "tied": tied, "chosen": chosen, "earlier": f.get("decided_at")}
            what = f.get("what")
            if kind == "stv_countback":
                if what == "excluded":
                    out.append(tr(lang, "Round %(round)s: %(tied)s were tied for exclusion; count-back to round %(earlier)s excluded %(chosen)s.", **figures))
                else:
                    out.append(tr(lang, "Round %(round)s: %(tied)s were tied; count-back to round %(earlier)s put %(chosen)s first.", **figures))
            elif what == "excluded":
                out.append(tr(lang, "Round %(round)s: %(tied)s were tied for exclusion; %(chosen)s was excluded by lot.", **figures))
            else:
                out.append(tr(lang, "Round %(round)s: %(tied)s were tied; a lot put %(chosen)s first.", **figures))
        elif kind == "star_scoring":
            why = {
                "head_to_head": tr(lang, "%(tied)s tied for a place in the runoff; head-to-head preference decided.", tied=tied),
                "five_star": tr(lang, "%(tied)s tied for a place in the runoff; more five-star ratings decided.", tied=tied),
                "lot": tr(lang, "%(tied)s tied for a place in the runoff; a lot decided.", tied=tied),
            }
            out.append(why.get(f.get("decided_by"), why["lot"]))
        elif kind == "star_runoff":
            why = {
                "score": tr(lang, "The runoff was tied; the higher total score decided."),
                "five_star": tr(lang, "The runoff was tied and so were the scores; more five-star ratings decided."),
                "lot": tr(lang, "The runoff, the scores and the five-star ratings were all tied; a lot decided."),
            }
            out.append(why.get(f.get("decided_by"), why["lot"]))
        if kind.endswith("lot") or f.get("decided_by") == "lot":
            out.append(
                tr(lang, "The lot was drawn with the published record's SHA-256 as its seed, so anyone can redo it.")
                if final
                else tr(lang, "While the poll is open this lot is provisional: the one that counts is drawn when it closes.")
            )
    return out


def decision(lang: str, results: Any) -> list[str]:
    """What the poll's quorum and pass rule made of the result (``services.decisions``)."""
    out: list[str] = []
    f = results.decision or {}
    final = closed(results)
    if results.quorum_met is False:
        out.append(
            tr(lang, "The quorum was not reached, so this result decides nothing.")
            if final
            else tr(lang, "The quorum is not reached yet, so this result would decide nothing so far.")
        )
    if results.passed is not None and results.quorum_met is not False:
        rule = {
            "majority": tr(lang, "more than half"),
            "two_thirds": tr(lang, "at least two thirds"),
            "three_quarters": tr(lang, "at least three quarters"),
            "unanimous": tr(lang, "all"),
        }.get(f.get("pass_rule", ""), "")
        share = f"{float(f.get('support_percent', 0) or 0):g}%"
        if f.get("tied"):
            out.append(tr(lang, "A tie for first place passes nothing."))
        elif results.passed:
            out.append(
                tr(lang, "It passed: %(share)s backed it (%(rule)s needed).", share=share, rule=rule)
                if final
                else tr(lang, "It is passing so far: %(share)s back it (%(rule)s needed).", share=share, rule=rule)
            )
        else:
            out.append(
                tr(lang, "It did not pass: %(share)s backed it (%(rule)s needed).", share=share, rule=rule)
                if final
                else tr(lang, "It is not passing so far: %(share)s back it (%(rule)s needed).", share=share, rule=rule)
            )
    return out


def generic(lang: str, results: Any, texts: Mapping[int, str]) -> str:
    """The summary of a method that words none of its own: its winners."""
    if not results.winners:
        return tr(lang, "No option won.")
    n = len(results.winners)
    if closed(results):
        return trn(lang, "Final result: %(names)s won.", "Final result: %(names)s tied and won.", n, names=lead(lang, results, texts))
    return trn(lang, "%(names)s is leading so far.", "%(names)s are tied for the lead so far.", n, names=lead(lang, results, texts))


def top(lang: str, results: Any, texts: Mapping[int, str]) -> dict[str, Any]:
    """What a sentence about the option(s) with the most of a count (votes, approvals) needs:
    ``names`` (the winners), ``share`` (:func:`ballots_of` of the top count) and ``tie``."""
    by_id = {o.option_id: o for o in results.options}
    return {
        "names": lead(lang, results, texts),
        "share": ballots_of(lang, results, by_id[results.winners[0]].weight),
        "tie": len(results.winners) > 1,
    }
