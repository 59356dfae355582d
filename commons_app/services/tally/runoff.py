"""Instant runoff (single winner)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from commons_app.services.tally.ballots import (
    _first_choices,
    _first_preferences,
    _prepare,
    _rank_matrix,
    _result,
    _top,
)
from commons_app.services.tally.ties import count_back, draw, lot_figures
from commons_app.services.tally.types import Note, TallyBallot, TallyResult

# --------------------------------------------------------------------------
# Instant runoff
# --------------------------------------------------------------------------


def _irv_tie_break(
    tied: list[int],
    history: list[dict[int, Any]],
    round_number: int,
    tied_votes: float,
    seed: str | None,
) -> tuple[int, Note]:
    """Pick which of several options tied for fewest votes is eliminated.

    Count-back: look at the earlier rounds, most recent first, and keep only the tied options
    with the fewest votes in that round, until one is left. If several are still tied after the
    first round, a lot decides (:mod:`commons_app.services.tally.ties`). The same rule applies at
    every round, the last included. Shared with the reference implementation.

    Args:
        tied: The options tied for fewest votes in the current round, in option order.
        history: The exact tallies of every round so far, the current one last.
        round_number: Number of the current round, for the note.
        tied_votes: The tied options' votes as shown, for the note.
        seed: The lot's seed.

    Returns:
        The option to eliminate and the note saying which rule decided.
    """
    still, decided_at = count_back(tied, history, lowest=True)
    if len(still) == 1:
        figures = {"round": round_number, "votes": tied_votes, "eliminated": still[0], "decided_at": decided_at}
        return still[0], Note("irv_countback", tuple(tied), figures)
    loser = draw(seed, still)
    figures = {
        "round": round_number, "votes": tied_votes, "eliminated": loser, "still": list(still),
        **lot_figures(seed, still),
    }
    return loser, Note("irv_lot", tuple(tied), figures)


def tally_irv(option_ids: Sequence[int], ballots: Iterable[TallyBallot], *, seed: str | None = None) -> TallyResult:
    """Count an instant-runoff (ranked-choice, single winner) poll.

    In each round every continuing ballot counts, by weight, for its
    highest-ranked option still in the count; a ballot ranking none of them is
    exhausted. An option holding more than half of the weight of the
    continuing (non-exhausted) ballots wins. Otherwise the option with the
    fewest votes is eliminated and its ballots move to their next continuing
    choice. There is always a single winner when some ballot ranks an option: an
    exact tie of all continuing options is a tie for the fewest votes like any other.

    Options with no votes at all in the first round are eliminated together:
    they hold no ballots and would be eliminated one by one, before any other
    option, without anything moving, so this cannot change the outcome.

    Tie for the fewest votes, at every round including the last: the tied
    option with fewer votes in the most recent earlier round where they
    differ is eliminated (count-back); if they were tied in every earlier
    round, a lot decides, seeded by ``seed`` (see
    :mod:`commons_app.services.tally.ties`). Either way ``tie`` is set and a
    note (``rounds[i]["tie_break"]``, a :meth:`Note.as_dict`) says which rule
    decided and, for a lot, how to redo it.

    ``rounds`` holds one entry per round: ``{"round": n, "tallies":
    {str(id): weight}, "exhausted": weight, "eliminated": [ids],
    "transfers": {str(to_id): weight moved}, "tie_break": dict | None}``, where
    ``tallies`` covers the options continuing in that round and
    ``transfers`` the ballots moved by that round's elimination (weight that
    becomes exhausted shows in the next round's ``exhausted``).

    Args:
        option_ids: The poll's option ids in display order.
        ballots: The ballots to count; ``choices`` is the ranking.
        seed: The seed of any lot.

    Returns:
        The tally result. ``OptionTally.votes``/``weight`` are first
        preferences.
    """
    election, ballots = _prepare(option_ids, ballots)
    election, ranks, ranked = _rank_matrix(election, ballots)
    ids, index, weights = election.ids, election.index, election.weights
    n = len(ids)
    top, has = _first_choices(ranks, ranked)
    options = _first_preferences(election, top, has)
    rounds: list[dict[str, Any]] = []
    notes: list[Note] = []
    winners: list[int] = []
    tie_broken = False
    history: list[dict[int, int]] = []  # exact tallies of each round
    continuing = list(ids)
    # Each ballot sits on the pile of its top continuing option (``top``, while
    # ``has``); piles and exhausted weight are kept as exact integer sums, and
    # an elimination only re-examines the ballots on the eliminated piles.
    piles = weights.bincount(top[has], has, n) if election.ballots else [0] * n
    exhausted = weights.total() - sum(piles) if election.ballots else 0
    out = np.zeros(n, dtype=bool)

    while continuing and election.ballots:
        round_number = len(rounds) + 1
        tallies = {option_id: piles[index[option_id]] for option_id in continuing}
        active = sum(tallies.values())
        history.append(tallies)
        entry: dict[str, Any] = {
            "round": round_number,
            "tallies": {str(option_id): weights.value(tallies[option_id]) for option_id in continuing},
            "exhausted": weights.value(exhausted),
            "eliminated": [],
            "transfers": {},
            "tie_break": None,
        }
        rounds.append(entry)
        if active <= 0:
            break  # no ballot ranks any option
        best = max(tallies.values())
        if 2 * best > active:  # a majority of the continuing weight, exactly
            winners = _top(tallies, continuing)
            break
        if len(continuing) == 1:
            winners = list(continuing)
            break

        zero = [option_id for option_id in continuing if tallies[option_id] == 0]
        if zero:
            eliminated = zero
        else:
            fewest = min(tallies.values())
            tied = [option_id for option_id in continuing if tallies[option_id] == fewest]
            if len(tied) == 1:
                eliminated = tied
            else:
                loser, note = _irv_tie_break(tied, history, round_number, weights.value(fewest), seed)
                eliminated = [loser]
                entry["tie_break"] = note.as_dict()
                notes.append(note)
                tie_broken = True

        gone = set(eliminated)
        out[[index[option_id] for option_id in eliminated]] = True
        moving = np.flatnonzero(has & out[top])
        moved = [0] * n
        if len(moving):
            choices = ranks[moving]
            choices[:, out] = n
            target = choices.argmin(axis=1)
            kept = choices[np.arange(len(moving)), target] < n
            moved = weights.bincount(target[kept], moving[kept], n)
            exhausted += weights.total(moving[~kept])
            top[moving] = target
            has[moving] = kept
        for option_id in eliminated:
            piles[index[option_id]] = 0
        piles = [pile + extra for pile, extra in zip(piles, moved, strict=True)]
        continuing = [option_id for option_id in continuing if option_id not in gone]
        entry["eliminated"] = eliminated
        entry["transfers"] = {
            str(option_id): weights.value(moved[index[option_id]])
            for option_id in continuing
            if moved[index[option_id]]
        }

    if not election.ballots:
        rounds = []
    return _result(
        "irv",
        election,
        options,
        winners,
        rounds=rounds,
        notes=notes,
        tie_broken=tie_broken,
    )
