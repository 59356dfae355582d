"""Tally notes are structured data, worded at the edge by ``render_note`` (one function)."""

from __future__ import annotations

import json

from commons_app.services.tally import Note, TallyBallot, tally
from commons_app.services.tally.notes import render_note

NAMES = {1: "Tea", 2: "Coffee", 3: "Cocoa"}


def test_notes_are_json_data_and_render_with_the_option_names() -> None:
    ballots = [TallyBallot(choices=(1,)), TallyBallot(choices=(2,))]
    note = tally("single", [1, 2, 3], ballots).notes[0]
    assert json.loads(json.dumps(note.as_dict())) == {
        "kind": "tied_winners", "options": [1, 2], "figures": {"what": "most_votes", "value": 1.0},
    }
    assert Note.from_dict(note.as_dict()) == note
    # The sentence the results page showed before notes were structured, names in quotes.
    assert render_note(note, NAMES) == (
        "“Tea” and “Coffee” tied with the most votes (1); no tie-break rule applies, so all of them are winners."
    )
    assert render_note(note).startswith("Options 1 and 2 tied")


def test_irv_count_back_note_keeps_its_wording() -> None:
    ballots = (
        [TallyBallot(choices=(1,))] * 10 + [TallyBallot(choices=(2, 3))] * 6 + [TallyBallot(choices=(3, 2))] * 5
        + [TallyBallot(choices=(4, 1))] * 2 + [TallyBallot(choices=(4, 3))]
    )
    note = tally("irv", [1, 2, 3, 4], ballots).notes[0]
    assert render_note(note, {**NAMES, 4: "Juice"}) == (
        "Round 2: “Coffee” and “Cocoa” tied for the fewest votes (6); “Cocoa” was eliminated because it had "
        "fewer votes in round 1 (backwards tie-break)."
    )


def test_every_kind_renders_from_its_dict_and_a_sealed_string_passes_through() -> None:
    ballots = [TallyBallot(scores={1: 5, 2: 1}), TallyBallot(scores={1: 0, 2: 4})]
    for note in tally("star", [1, 2], ballots).notes:
        assert render_note(note.as_dict(), NAMES) == render_note(note, NAMES)
        assert "“Tea”" in render_note(note, NAMES)
    assert render_note("An old sealed sentence.") == "An old sealed sentence."
