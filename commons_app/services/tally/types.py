"""The public types of the tally: ballots in, results out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

METHODS: tuple[str, ...] = (
    "single",
    "approval",
    "irv",
    "schulze",
    "borda",
    "score",
    "star",
)
"""Names of the supported voting methods, as accepted by :func:`tally`."""

MAX_SCORE = 5
"""Highest score a ballot can give an option under the score and STAR methods."""


@dataclass(frozen=True)
class TallyBallot:
    """One ballot as seen by the tally.

    Attributes:
        weight: Weight of the ballot, greater than zero, set by the server.
        choices: For ``single`` the chosen option id ``(option_id,)``; for
            ``approval`` the approved ids; for ``irv``, ``schulze`` and
            ``borda`` the ids in order of preference (partial rankings are
            allowed).
        scores: For ``score`` and ``star``: option id -> score in
            ``0..MAX_SCORE``. An option missing from the map scores 0.
    """

    weight: float = 1.0
    choices: tuple[int, ...] = ()
    scores: Mapping[int, int] | None = None


@dataclass
class OptionTally:
    """Per-option figures of a tally.

    Attributes:
        option_id: The option.
        votes: Number of ballots naming or approving the option; first
            preferences for the ranked methods; for score and STAR, ballots
            giving it a score above zero.
        weight: The same as ``votes``, summed by ballot weight.
        score: Score and STAR only: sum of the scores weighted by ballot
            weight.
        mean: Score and STAR only: weighted mean score over all ballots (0 when
            there are no ballots).
        points: Borda only: weighted Borda points.
    """

    option_id: int
    votes: int
    weight: float
    score: float | None = None
    mean: float | None = None
    points: float | None = None


@dataclass
class TallyResult:
    """Outcome of a tally.

    Attributes:
        method: Name of the voting method (one of :data:`METHODS`).
        total_ballots: Number of ballots counted.
        total_weight: Sum of the ballot weights.
        options: One :class:`OptionTally` per option, in the order of the
            ``option_ids`` passed in.
        winners: Winning option ids, in option order; several on a tie, empty
            when there are no ballots.
        rounds: JSON-serialisable, method-specific detail of each round
            (instant runoff and STAR); empty for methods without rounds.
        detail: JSON-serialisable extras (Schulze and STAR).
        tie: True when ``winners`` has several entries or a tie-break rule had
            to decide something.
        notes: What decided each tie, as :class:`Note` values (rendered into words by
            :func:`commons_app.services.tally.notes.render_note`).
    """

    method: str
    total_ballots: int
    total_weight: float
    options: list[OptionTally]
    winners: list[int]
    rounds: list[dict[str, Any]]
    detail: dict[str, Any] = field(default_factory=dict)
    tie: bool = False
    notes: list[Note] = field(default_factory=list)


@dataclass(frozen=True)
class Note:
    """A structured remark about a tally (a tie, a tie-break, a lot), turned into words at the edge.

    The tally never writes sentences: :func:`commons_app.services.tally.notes.render_note` does,
    with the options' names, so a page, the CLI or another language can word it their own way.

    Attributes:
        kind: What happened, e.g. ``"tied_winners"``, ``"irv_countback"``, ``"lot"`` (the
            kinds and their figures are listed in :mod:`commons_app.services.tally.notes`).
        options: The option ids the note is about (the tied ones), in option order.
        figures: JSON-serialisable numbers, ids and words the sentence needs.
    """

    kind: str
    options: tuple[int, ...] = ()
    figures: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The note as plain JSON data (``rounds`` carry it this way)."""
        return {"kind": self.kind, "options": list(self.options), "figures": dict(self.figures)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Note:
        """Read a note back from :meth:`as_dict`."""
        return cls(kind=data["kind"], options=tuple(data.get("options", ())), figures=dict(data.get("figures", {})))
