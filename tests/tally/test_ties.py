"""Tie rules from the methods' own standards, each on the example that exposes it.

Each of these failed on the tally before issue 14 (option order decided IRV and STAR ties, an
exact IRV final tie was declared a tie, Schulze compared winning votes only), except the STAR
match-ups test, which documents step 1 of the protocol (the old rule already had it).
"""

from __future__ import annotations

import hashlib

from commons_app.services.tally import TallyBallot, tally
from commons_app.services.tally.notes import render_note
from commons_app.services.tally.ties import draw


def _ranked(groups: list[tuple[int, tuple[int, ...]]]) -> list[TallyBallot]:
    return [TallyBallot(choices=choices) for count, choices in groups for _ in range(count)]


def test_irv_three_way_final_tie_is_broken_by_count_back_not_declared() -> None:
    a, b, c, d = 1, 2, 3, 4
    ballots = _ranked([(3, (a,)), (3, (b,)), (2, (c, a)), (1, (d, c, b))])
    result = tally("irv", [a, b, c, d], ballots)
    assert result.rounds[1]["tallies"] == {"1": 3, "2": 3, "3": 3}  # all continuing options tied
    assert result.rounds[1]["eliminated"] == [c]  # c had fewest (2) in round 1
    assert result.rounds[1]["tie_break"]["kind"] == "irv_countback"
    assert result.winners == [a]


def test_irv_lot_is_seeded_published_and_reproducible() -> None:
    a, b = 1, 2
    ballots = _ranked([(2, (a,)), (2, (b,))])
    seed = hashlib.sha256(b"some sealed record").hexdigest()
    result = tally("irv", [a, b], ballots, seed=seed)
    note = result.notes[0]
    assert note.kind == "irv_lot" and note.figures["seed"] == seed
    # Anyone can redo the draw from the published seed: smallest SHA-256("seed:id") goes out.
    tickets = {o: hashlib.sha256(f"{seed}:{o}".encode()).hexdigest() for o in (a, b)}
    assert note.figures["tickets"] == {str(o): t for o, t in tickets.items()}
    loser = min(tickets, key=tickets.__getitem__)
    assert note.figures["eliminated"] == loser and result.winners == [b if loser == a else a]
    assert seed in render_note(note) and "by lot" in render_note(note)
    # The option order plays no part; the seed does.
    assert tally("irv", [b, a], ballots, seed=seed).winners == result.winners
    assert {tally("irv", [a, b], ballots, seed=s).winners[0] for s in map(str, range(12))} == {a, b}


def test_schulze_losing_votes_break_equal_winning_votes() -> None:
    """Winning votes alone leave 2 and 4 co-winners; losing votes (Schulze 2011 §2.1) pick 4."""
    ballots = _ranked([(4, (1,)), (3, (3, 4, 2)), (4, (3, 2)), (3, (4, 1)), (2, (2, 4, 1))])
    result = tally("schulze", [1, 2, 3, 4], ballots)
    assert result.winners == [4] and result.tie is True
    note = result.notes[0]
    assert note.kind == "schulze_losing_votes" and note.options == (2, 4) and note.figures["winners"] == [4]
    assert "losing votes" in render_note(note)


def test_star_scoring_tie_head_to_head_tied_goes_to_five_star_ratings() -> None:
    a, b, c = 1, 2, 3
    ballots = [TallyBallot(scores={a: 5, b: 5, c: 2}), TallyBallot(scores={a: 5, b: 0, c: 3})]
    # b and c both score 5 and split head-to-head 1:1; b has the only five-star rating.
    for order in ([a, b, c], [a, c, b]):
        result = tally("star", order, ballots)
        assert result.detail["finalists"] == [a, b]
        assert result.notes[0].figures["decided_by"] == "five_star"


def test_star_runoff_tie_equal_scores_goes_to_five_star_ratings() -> None:
    a, b = 1, 2
    ballots = [TallyBallot(scores={a: 5, b: 1}), TallyBallot(scores={a: 0, b: 4})]
    result = tally("star", [a, b], ballots)
    assert result.detail["runoff"] == {"1": 1, "2": 1, "no_preference": 0}
    assert result.winners == [a]
    assert result.notes[0].kind == "star_runoff" and result.notes[0].figures["decided_by"] == "five_star"
    assert "five-star" in render_note(result.notes[0])


def test_star_scoring_three_way_tie_sets_aside_the_option_losing_most_match_ups() -> None:
    a, b, c, d = 1, 2, 3, 4
    # d leads; a, b, c tie on 6 points for second. a beats b and c head-to-head; b beats c.
    ballots = [
        TallyBallot(scores={d: 5, a: 3, b: 2, c: 1}),
        TallyBallot(scores={d: 5, a: 3, b: 2, c: 1}),
        TallyBallot(scores={d: 5, c: 4, b: 2}),
    ]
    result = tally("star", [c, b, a, d], ballots)
    assert result.detail["finalists"] == [d, a]
    assert result.notes[0].figures["decided_by"] == "head_to_head"


def test_lot_draw_is_the_smallest_ticket() -> None:
    tickets = {o: hashlib.sha256(f"seed:{o}".encode()).hexdigest() for o in (5, 6, 7)}
    assert draw("seed", [5, 6, 7]) == min(tickets, key=tickets.__getitem__)
