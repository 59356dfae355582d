"""The lot that breaks a tie no count-back can break is seeded: while a poll is open with a
provisional seed, and at close with the sealed record's SHA-256, published with the result, so
anyone can redo the draw from the published record."""

from __future__ import annotations

import hashlib

from commons_app.services import polls, record, results
from tests import factories


def test_a_closed_polls_lot_is_seeded_by_its_published_record_and_reproducible(session, make_user):
    owner, a, b = make_user(), make_user(), make_user()
    view = factories.make_poll(session, owner, options=["Tea", "Coffee"], method="irv")
    tea, coffee = (o.id for o in view.options)
    factories.vote(session, a, view, ranking=[tea])
    factories.vote(session, b, view, ranking=[coffee])

    live = results.compute_results(session=session, poll=view.poll)
    assert live.rounds[0]["tie_break"]["figures"]["seed"] == results.provisional_seed(view.poll)

    polls.close_poll(session=session, user=owner, poll_id=view.poll.id)
    sealed = results.compute_results(session=session, poll=view.poll)
    digest = sealed.record_sha256
    lot = sealed.rounds[0]["tie_break"]
    assert lot["kind"] == "irv_lot" and lot["figures"]["seed"] == digest
    # Redo the draw from what is published: the smallest SHA-256("<record_sha256>:<option id>") goes out.
    tickets = {o: hashlib.sha256(f"{digest}:{o}".encode()).hexdigest() for o in (tea, coffee)}
    out = min(tickets, key=tickets.__getitem__)
    assert lot["figures"]["eliminated"] == out
    assert sealed.winners == [coffee if out == tea else tea]
    # The note names the options and the seed; the recount of the published record agrees.
    assert digest in sealed.notes[0] and "“Tea”" in sealed.notes[0] and "“Coffee”" in sealed.notes[0]
    data, _ = results.poll_record(session=session, user=owner, poll_id=view.poll.id)
    assert record.tally_record("irv", [tea, coffee], data.encode()).winners == sealed.winners
