"""Ballot kinds: the four ballot fields a method can take, and everything that follows from one.

A kind knows how its field is checked (:meth:`BallotKind.clean`), stored (a :class:`CleanBallot`:
``option_id``, ``choices``, ``scores``), given back through the API (:meth:`BallotKind.api_form`),
read from the ballot form of the vote page (:meth:`BallotKind.from_form`), described in words
(:meth:`BallotKind.describe`) and which input the vote page shows (:attr:`BallotKind.widget`).
Methods share kinds: IRV, Schulze, Borda and STV all take a ranking.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from commons_app.i18n import N_, tr
from commons_app.services.errors import InvalidInput

__all__ = ["APPROVAL", "CHOICE", "KINDS", "MAX_SCORE", "RANKING", "SCORES", "BallotKind", "CleanBallot"]

MAX_SCORE = 5
"""The highest score a score or STAR ballot gives (the tally clamps to the same bound)."""

_INT_TEXT = re.compile(r"-?[0-9]{1,19}")
_WHOLE = re.compile(r"[0-9]{1,18}")


@dataclass(frozen=True)
class CleanBallot:
    """A validated ballot in storage form: ``option_id`` (the single choice, or a ranking's first
    preference, which the running counts use), ``choices`` (the choice, approvals or ranking) and
    ``scores`` (option id as text -> score)."""

    option_id: int | None
    choices: list[int]
    scores: dict[str, int]


def as_option_id(value: Any, what: str) -> int:
    """An option id given as an int or as ASCII digits.

    Raises:
        InvalidInput: Anything else (a bool, "--1", "²" or 5000 nines, which ``int()`` would
            take or choke on).
    """
    if isinstance(value, bool):
        raise InvalidInput(N_("%(what)s must be an option id (an integer)."), what=what)
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _INT_TEXT.fullmatch(value.strip()):
        return int(value.strip())
    raise InvalidInput(N_("%(what)s must be an option id (an integer)."), what=what)


def whole(value: Any) -> int | None:
    """A form value as a whole number, or None (ASCII digits only: a crafted event must not
    crash a handler)."""
    text = str(value).strip()
    return int(text) if _WHOLE.fullmatch(text) else None


def _check_ids(values: Any, what: str, known: set[int]) -> list[int]:
    if not isinstance(values, list):
        raise InvalidInput(N_("%(what)s must be a list of option ids."), what=what)
    if not values:
        raise InvalidInput(N_("%(what)s must name at least one option."), what=what)
    ids = [as_option_id(v, what) for v in values]
    if len(set(ids)) != len(ids):
        raise InvalidInput(N_("%(what)s names an option more than once."), what=what)
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise InvalidInput(
            N_("%(what)s names options that are not in this poll: %(unknown)s."),
            what=what, unknown=unknown,
        )
    return ids


def _form_ids(form: Mapping[str, Any], prefix: str) -> list[tuple[str, int]]:
    """``(value, option id)`` of the form entries named ``<prefix><option id>``."""
    found = []
    for key, value in form.items():
        if key.startswith(prefix):
            option_id = whole(key[len(prefix):])
            if option_id is not None:
                found.append((value, option_id))
    return found


@dataclass(frozen=True)
class BallotKind:
    """One ballot field and its behaviour (see the module docstring).

    Attributes:
        field: The API and record field: ``option_id``, ``option_ids``, ``ranking`` or ``scores``.
        widget: The vote page's input: ``radio``, ``checkbox``, ``rank`` or ``score``.
        clean: ``(value, known option ids, poll) -> CleanBallot``; raises InvalidInput.
        from_stored: The API form of a stored ballot ``(option_id, choices, scores)``.
        from_form: The field's value from the vote page's form; raises InvalidInput when
            nothing was chosen.
        joiner: How the choices of a ballot are joined when described.
        random_value: A random valid value (demo data).
    """

    field: str
    widget: str
    clean: Callable[[Any, set[int], Any], CleanBallot]
    from_stored: Callable[[int | None, Sequence[int], Mapping[str, int]], Any]
    from_form: Callable[[Mapping[str, Any]], Any]
    joiner: str = ", "
    random_value: Callable[[list[int], random.Random], Any] | None = None

    def api_form(self, option_id: int | None, choices: Sequence[int], scores: Mapping[str, int] | None) -> dict[str, Any]:
        """``{field: value}`` of a stored ballot, as the API shows it."""
        return {self.field: self.from_stored(option_id, list(choices or ()), dict(scores or {}))}

    def describe(self, value: Any, texts: Mapping[int, str], lang: str = "en") -> str:
        """The field's value in words (in ``lang``), options named by their texts."""

        def name(option_id: Any) -> str:
            try:
                return texts.get(int(option_id), tr(lang, N_("option %(id)s"), id=option_id))
            except (TypeError, ValueError):
                return str(option_id)

        if self.field == "scores":
            return ", ".join(f"{name(k)}: {v}" for k, v in (value or {}).items())
        if self.field == "option_id":
            return name(value)
        return self.joiner.join(name(i) for i in (value or []))


def _clean_choice(value: Any, known: set[int], _poll: Any) -> CleanBallot:
    option_id = as_option_id(value, "option_id")
    if option_id not in known:
        raise InvalidInput(N_("option_id is not an option of this poll."))
    return CleanBallot(option_id=option_id, choices=[option_id], scores={})


def _choice_from_form(form: Mapping[str, Any]) -> int:
    choice = whole(form.get("choice", ""))
    if choice is None:
        raise InvalidInput(N_("Choose an option."))
    return choice


def _clean_approval(value: Any, known: set[int], poll: Any) -> CleanBallot:
    ids = _check_ids(value, "option_ids", known)
    most = getattr(poll, "max_choices", None)
    if most is not None and len(ids) > most:
        raise InvalidInput(N_("This poll allows at most %(most)s approvals."), most=most)
    return CleanBallot(option_id=None, choices=ids, scores={})


def _approval_from_form(form: Mapping[str, Any]) -> list[int]:
    approved = sorted(i for v, i in _form_ids(form, "approve-") if v not in ("", None, False))
    if not approved:
        raise InvalidInput(N_("Approve at least one option."))
    return approved


def _clean_ranking(value: Any, known: set[int], _poll: Any) -> CleanBallot:
    ids = _check_ids(value, "ranking", known)
    return CleanBallot(option_id=ids[0], choices=ids, scores={})


def _ranking_from_form(form: Mapping[str, Any]) -> list[int]:
    ranked = [(rank, i) for v, i in _form_ids(form, "rank-") if (rank := whole(v)) is not None]
    if not ranked:
        raise InvalidInput(N_("Rank at least one option."))
    positions = [r for r, _ in ranked]
    if len(set(positions)) != len(positions):
        raise InvalidInput(N_("Each rank can be given to one option only."))
    return [i for _, i in sorted(ranked)]


def _clean_scores(value: Any, known: set[int], _poll: Any) -> CleanBallot:
    if not isinstance(value, dict) or not value:
        raise InvalidInput(
            N_("scores must map at least one option id to a score from 0 to %(max_score)s."),
            max_score=MAX_SCORE,
        )
    scores: dict[str, int] = {}
    for key, score in value.items():
        option_id = as_option_id(key, "scores")
        if option_id not in known:
            raise InvalidInput(
                N_("scores names an option that is not in this poll: %(option_id)s."),
                option_id=option_id,
            )
        if str(option_id) in scores:
            raise InvalidInput(N_("scores names an option more than once."))
        if isinstance(score, bool) or not isinstance(score, int) or not (0 <= score <= MAX_SCORE):
            raise InvalidInput(N_("Each score must be a whole number from 0 to %(max_score)s."), max_score=MAX_SCORE)
        scores[str(option_id)] = score
    return CleanBallot(option_id=None, choices=[], scores=scores)


def _scores_from_form(form: Mapping[str, Any]) -> dict[str, int]:
    scores = {str(i): s for v, i in _form_ids(form, "score-") if (s := whole(v)) is not None}
    if not scores:
        raise InvalidInput(N_("Score at least one option."))
    return scores


CHOICE = BallotKind(
    field="option_id", widget="radio", clean=_clean_choice,
    from_stored=lambda option_id, _c, _s: option_id, from_form=_choice_from_form,
    random_value=lambda ids, rng: rng.choice(ids),
)
APPROVAL = BallotKind(
    field="option_ids", widget="checkbox", clean=_clean_approval,
    from_stored=lambda _o, choices, _s: list(choices), from_form=_approval_from_form,
    random_value=lambda ids, rng: rng.sample(ids, rng.randint(1, len(ids))),
)
RANKING = BallotKind(
    field="ranking", widget="rank", clean=_clean_ranking, joiner=" > ",
    from_stored=lambda _o, choices, _s: list(choices), from_form=_ranking_from_form,
    random_value=lambda ids, rng: rng.sample(ids, rng.randint(2, len(ids))),
)
SCORES = BallotKind(
    field="scores", widget="score", clean=_clean_scores,
    from_stored=lambda _o, _c, scores: {str(k): v for k, v in scores.items()}, from_form=_scores_from_form,
    random_value=lambda ids, rng: {str(i): rng.randint(0, MAX_SCORE) for i in ids},
)
KINDS: dict[str, BallotKind] = {kind.field: kind for kind in (CHOICE, APPROVAL, RANKING, SCORES)}
"""Every ballot kind by its field."""
