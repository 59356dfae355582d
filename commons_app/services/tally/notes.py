"""Tally notes into English: the one place a :class:`~commons_app.services.tally.types.Note` becomes words.

Kinds and their figures (numbers are the shown floats; ``options`` are the tied options):

* ``tied_winners`` - ``what`` (``most_votes``, ``most_approvals``, ``most_points``,
  ``highest_score``, ``strongest_paths``) and ``value``: several options win and no rule separates them.
* ``irv_countback`` - ``round``, ``votes``, ``eliminated``, ``decided_at`` (earlier round).
* ``irv_lot`` - ``round``, ``votes``, ``eliminated``, ``still`` (tied after count-back) and the lot's
  ``seed``, ``tickets``, ``rule``.
* ``star_scoring`` - ``place`` (first/second), ``score``, ``advancing``, ``decided_by``
  (``head_to_head``, ``five_star``, ``lot``), and for a lot its ``seed``, ``tickets``, ``rule``.
* ``star_runoff`` - ``preference``, ``winner``, ``decided_by`` (``score``, ``five_star``, ``lot``),
  ``score``/``five_star`` of the winner, and for a lot its ``seed``, ``tickets``, ``rule``.
* ``schulze_losing_votes`` - ``winners``: the options (``options``) that winning votes alone leave
  equal are separated by the losing votes.
* ``stv_countback`` / ``stv_lot`` - ``stage``, ``what`` (``surplus``, ``excluded``,
  ``elected first``), ``chosen``, ``decided_at`` or the lot's figures.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from commons_app.services.tally.types import Note

_TIED_WHAT = {
    "most_votes": "the most votes ({value})",
    "most_approvals": "the most approvals ({value})",
    "most_points": "the most Borda points ({value})",
    "highest_score": "the highest score ({value})",
    "strongest_paths": "equally strong paths against each other",
}


def _fmt(value: Any) -> str:
    """A shown figure without a trailing ``.0``, else to six significant digits."""
    if isinstance(value, (int, float)) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _spell(option_ids: Iterable[int], names: Mapping[int, str] | None) -> str:
    """``option 3`` / ``options 1, 2 and 4``, or the options' names in quotes when known."""
    ids = list(option_ids)
    if names is not None and all(option_id in names for option_id in ids):
        words = [f"“{names[option_id]}”" for option_id in ids]
        return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
    if len(ids) == 1:
        return f"option {ids[0]}"
    return f"options {', '.join(map(str, ids[:-1]))} and {ids[-1]}"


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _lot(figures: Mapping[str, Any]) -> str:
    """How to redo a lot from the published result."""
    seed = figures.get("seed") or ""
    shown = f"seed {seed}" if seed else "an empty seed"
    return f"drawn by lot (the smallest SHA-256 of “seed:option id” is drawn; {shown})"


def render_note(note: Note | Mapping[str, Any] | str, names: Mapping[int, str] | None = None) -> str:
    """Turn a tally note into an English sentence.

    Args:
        note: The note (or its :meth:`Note.as_dict`; a string is returned as it is, for results
            sealed before notes were structured).
        names: Option id -> text, to name the options; ids are spelled out without it.

    Returns:
        The sentence.
    """
    if isinstance(note, str):
        return note
    if not isinstance(note, Note):
        note = Note.from_dict(note)
    f = note.figures
    tied = _spell(note.options, names)

    def one(option_id: int) -> str:
        return _spell([option_id], names)

    if note.kind == "tied_winners":
        what = _TIED_WHAT.get(f.get("what", ""), "the most support").format(value=_fmt(f.get("value")))
        return f"{_capital(tied)} tied with {what}; no tie-break rule applies, so all of them are winners."
    if note.kind == "irv_countback":
        return (
            f"Round {f['round']}: {tied} tied for the fewest votes ({_fmt(f['votes'])}); "
            f"{one(f['eliminated'])} was eliminated because it had fewer votes in round {f['decided_at']} "
            "(backwards tie-break)."
        )
    if note.kind == "irv_lot":
        still = list(f.get("still") or note.options)
        if f["round"] == 1:
            why = "there is no earlier round to separate them"
        elif len(still) < len(note.options):
            why = f"no earlier round separates {_spell(still, names)}"
        else:
            why = "no earlier round separates them"
        return (
            f"Round {f['round']}: {tied} tied for the fewest votes ({_fmt(f['votes'])}) and {why}; "
            f"{one(f['eliminated'])} was eliminated, {_lot(f)}."
        )
    if note.kind == "star_scoring":
        advancing = _spell(f["advancing"], names)
        verb = "advances" if len(f["advancing"]) == 1 else "advance"
        why = {
            "head_to_head": "being preferred head-to-head over more of the tied options",
            "five_star": "head-to-head preference did not settle it, and it has more five-star ratings",
            "lot": "neither head-to-head preference nor five-star ratings settled it, so it was " + _lot(f),
        }[f["decided_by"]]
        if f["decided_by"] == "head_to_head" and len(note.options) == 2:  # the wording used before issue 14
            return (
                f"Scoring round: {tied} tied for {f['place']} place with {_fmt(f['score'])} points; "
                f"{advancing} {verb} to the runoff because more ballot weight prefers it head-to-head."
            )
        return (
            f"Scoring round: {tied} tied for {f['place']} place with {_fmt(f['score'])} points; "
            f"{advancing} {verb} to the runoff, {why}."
        )
    if note.kind == "star_runoff":
        why = {
            "score": f"it has the higher score ({_fmt(f.get('score'))} points)",
            "five_star": f"the scores are equal too and it has more five-star ratings ({_fmt(f.get('five_star'))})",
            "lot": "the scores and five-star ratings are equal too, so it was " + _lot(f),
        }[f["decided_by"]]
        return (
            f"Runoff: {tied} were preferred on equal ballot weight ({_fmt(f['preference'])}); "
            f"{one(f['winner'])} wins because {why}."
        )
    if note.kind == "schulze_losing_votes":
        return (
            f"{_capital(tied)} have equally strong paths by winning votes; the losing votes decide "
            f"(Schulze 2011, §2.1): {_spell(f['winners'], names)} "
            f"{'wins' if len(f['winners']) == 1 else 'win'}."
        )
    if note.kind in ("stv_countback", "stv_lot"):
        what = {
            "surplus": "whose surplus is transferred first",
            "excluded": "who is excluded",
            "elected first": "who is elected first",
        }.get(f.get("what", ""), "which goes first")
        how = (
            f"by count-back: stage {f['decided_at']} separated them"
            if note.kind == "stv_countback"
            else _lot(f)
        )
        return f"Stage {f['stage']}: {tied} were tied; {one(f['chosen'])} is the one {what}, {how}."
    return f"{note.kind}: {tied}"
