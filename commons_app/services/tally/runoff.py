"""Instant runoff (single winner)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from commons_app.services.tally.ballots import (
    _first_choices,
    _first_preferences,
    _fmt,
    _names,
    _prepare,
    _rank_matrix,
    _result,
    _top,
)
from commons_app.services.tally.types import TallyBallot, TallyResult

# --------------------------------------------------------------------------
# Instant runoff
# --------------------------------------------------------------------------


def _irv_tie_break(
    tied: list[int],
    history: list[dict[int, int]],
    order: Mapping[int, int],
    round_number: int,
    tied_votes: str,
) -> tuple[int, str]:
    """Pick which of several options tied for fewest votes is eliminated.

    Backwards tie-break: look at the earlier rounds, most recent first, and
    keep only the tied options with the fewest votes in that round, until one
    is left. If several are still tied after the first round, the one that
    comes latest in the option order is eliminated.

    Args:
        tied: The options tied for fewest votes in the current round.
        history: The exact tallies of every round so far, the current one last.
        order: Position of each option in the option order.
        round_number: Number of the current round, for the explanation.
        tied_votes: The tied options' votes as shown, for the explanation.

    Returns:
        The option to eliminate and a sentence explaining the decision.
    """
    candidates = list(tied)
    for earlier in range(len(history) - 2, -1, -1):
        tallies = history[earlier]
        fewest = min(tallies[option_id] for option_id in candidates)
        narrowed = [option_id for option_id in candidates if tallies[option_id] == fewest]
        if len(narrowed) == 1:
            loser = narrowed[0]
            return loser, (
                f"Round {round_number}: {_names(tied)} tied for the fewest votes ({tied_votes}); "
                f"option {loser} was eliminated because it had fewer votes in round {earlier + 1} "
                "(backwards tie-break)."
            )
        candidates = narrowed
    loser = max(candidates, key=lambda option_id: order[option_id])
    if round_number == 1:
        why = "there is no earlier round to separate them"
    else:
        still = _names(sorted(candidates, key=order.__getitem__))
        why = f"no earlier round separates {still}"
    return loser, (
        f"Round {round_number}: {_names(tied)} tied for the fewest votes ({tied_votes}) and {why}; "
        f"option {loser} was eliminated because it comes latest in the option order."
    )


def tally_irv(option_ids: Sequence[int], ballots: Iterable[TallyBallot]) -> TallyResult:
    """Count an instant-runoff (ranked-choice, single winner) poll.

    In each round every continuing ballot counts, by weight, for its
    highest-ranked option still in the count; a ballot ranking none of them is
    exhausted. An option holding more than half of the weight of the
    continuing (non-exhausted) ballots wins. Otherwise the option with the
    fewest votes is eliminated and its ballots move to their next continuing
    choice. When all continuing options are exactly tied, they all win.

    Options with no votes at all in the first round are eliminated together:
    they hold no ballots and would be eliminated one by one, before any other
    option, without anything moving, so this cannot change the outcome.

    Tie for the fewest votes: the tied option with fewer votes in the most
    recent earlier round where they differ is eliminated (backwards
    tie-break); if they were tied in every earlier round, the one that comes
    latest in ``option_ids`` is eliminated. Either way ``tie`` is set and a
    note explains the decision.

    ``rounds`` holds one entry per round: ``{"round": n, "tallies":
    {str(id): weight}, "exhausted": weight, "eliminated": [ids],
    "transfers": {str(to_id): weight moved}, "tie_break": str | None}``, where
    ``tallies`` covers the options continuing in that round and
    ``transfers`` the ballots moved by that round's elimination (weight that
    becomes exhausted shows in the next round's ``exhausted``).

    Args:
        option_ids: The poll's option ids in display order.
        ballots: The ballots to count; ``choices`` is the ranking.

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
    notes: list[str] = []
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
        if all(tallies[option_id] == best for option_id in continuing):
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
                loser, explanation = _irv_tie_break(tied, history, index, round_number, _fmt(weights.value(fewest)))
                eliminated = [loser]
                entry["tie_break"] = explanation
                notes.append(explanation)
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
        what="exactly the same number of votes in the final round",
    )
