"""Tie-break rules shared by the methods: count-back over earlier rounds, and a reproducible lot.

The lot: each tied option gets the ticket ``SHA-256(seed + ":" + str(option_id))`` (hex, UTF-8);
the option with the smallest ticket is drawn. The seed of a closed poll is its sealed ballot
record's SHA-256 (``record_sha256`` in the results, fixed and published at close), so anyone can
redo the draw from the published result; while a poll is open a provisional seed is used
(see ``services/results.py``). ``seed=None`` draws with the empty seed ``""``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from fractions import Fraction

Value = int | Fraction
"""An exact count (any exact number type that compares correctly)."""


def ticket(seed: str | None, option_id: int) -> str:
    """The lot ticket of an option: hex SHA-256 of ``seed:option_id``."""
    return hashlib.sha256(f"{seed or ''}:{option_id}".encode()).hexdigest()


def draw(seed: str | None, tied: Sequence[int]) -> int:
    """The option the lot draws among ``tied``: the one with the smallest ticket."""
    return min(tied, key=lambda option_id: ticket(seed, option_id))


def lot_figures(seed: str | None, tied: Sequence[int]) -> dict[str, object]:
    """What a note about a lot publishes so that anyone can redo it: the seed and every ticket."""
    return {
        "seed": seed or "",
        "tickets": {str(option_id): ticket(seed, option_id) for option_id in tied},
        "rule": "sha256(seed:option_id), smallest drawn",
    }


def count_back(
    tied: Sequence[int], history: Sequence[Mapping[int, Value]], *, lowest: bool
) -> tuple[list[int], int | None]:
    """Narrow a tie by the earlier rounds, most recent first.

    Args:
        tied: The tied options.
        history: The exact counts of every round so far, the current one last.
        lowest: True to keep the options with the fewest votes (who goes out), False the most.

    Returns:
        The options still tied after looking back (one when count-back decided), and the number
        (1-based) of the last round looked at that narrowed the tie, or None if none did.
    """
    candidates = list(tied)
    decided_at: int | None = None
    for earlier in range(len(history) - 2, -1, -1):
        counts = history[earlier]
        pick = min if lowest else max
        best = pick(counts.get(option_id, 0) for option_id in candidates)
        narrowed = [option_id for option_id in candidates if counts.get(option_id, 0) == best]
        if len(narrowed) < len(candidates):
            decided_at = earlier + 1
            candidates = narrowed
        if len(candidates) == 1:
            break
    return candidates, decided_at
