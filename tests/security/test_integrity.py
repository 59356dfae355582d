"""Counted as cast, secret when secret: the attacks of the poll's own owner and admins, as tests.

Each test is an attack that worked before rolls, results and anonymous ballots were sealed
(see docs/SECURITY.md); it now gets the answer written in the test.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import timedelta

import pytest
from sqlmodel import select

from commons_app.models import AuditEvent, Poll, utcnow
from commons_app.services import record
from tests import factories
from tests.conftest import METRICS_HEADERS
from tests.factories import assert_error

_create, _vote = factories.api_poll, factories.api_vote


def _roll(client, headers, poll_id, entries):
    return client.put(f"/api/polls/{poll_id}/voters", headers=headers, json={"voters": entries})


def _results(client, headers, poll_id):
    response = client.get(f"/api/polls/{poll_id}/results", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def _open_now(session, poll_id):
    poll = session.get(Poll, poll_id)
    factories.set_poll_times(session, poll_id, opens_at=utcnow() - timedelta(seconds=1), closes_at=poll.closes_at)


# --- sealed rolls ---------------------------------------------------------------------------------


def test_reweighting_an_anonymous_poll_to_decode_its_ballots_is_refused(client, session, make_user, auth_headers, admin):
    """The attack: six voters vote, then weights 1, 2, 4, ... 32 make each option's weight a bit
    mask of who chose it."""
    owner = make_user()
    voters = [make_user() for _ in range(6)]
    poll, ids = _create(client, auth_headers(owner), anonymous=True, visibility="private")
    assert _roll(client, auth_headers(owner), poll["id"], [{"username": v.username} for v in voters]).status_code == 200
    for i, voter in enumerate(voters):
        assert _vote(client, auth_headers(voter), poll["id"], option_id=list(ids.values())[i % 2]).status_code == 201
    decoding = [{"username": v.username, "weight": 2**i} for i, v in enumerate(voters)]
    for who in (owner, admin):
        message = assert_error(_roll(client, auth_headers(who), poll["id"], decoding), 409)
        assert "weight" in message
    assert client.post(f"/api/polls/{poll['id']}/close", headers=auth_headers(owner)).status_code == 200
    results = _results(client, auth_headers(owner), poll["id"])
    assert results["total_weight"] == 6 and sorted(o["weight"] for o in results["options"]) == [0, 3, 3]
    # Nor can the owner set such weights before the poll opens: 422, the roll unchanged.
    later, _ = _create(
        client, auth_headers(owner), anonymous=True, visibility="private",
        opens_at=(utcnow() + timedelta(hours=1)).isoformat(),
    )
    message = assert_error(_roll(client, auth_headers(owner), later["id"], decoding), 422)
    assert "at least 5 voters" in message
    assert client.get(f"/api/polls/{later['id']}/voters", headers=auth_headers(owner)).json()["voters"] == []
    # Weights held by at least k voters each are fine before it opens ...
    fair = [{"username": v.username, "weight": 1 if i < 5 else 2} for i, v in enumerate(voters)]
    assert_error(_roll(client, auth_headers(owner), later["id"], fair), 422)  # weight 2: one voter
    fair = [{"username": v.username, "weight": 2} for v in voters]
    assert _roll(client, auth_headers(owner), later["id"], fair).status_code == 200
    # ... and fixed once it opens, even before anyone votes; adding a voter stays possible.
    _open_now(session, later["id"])
    changed = [{"username": v.username, "weight": 3} for v in voters]
    assert_error(_roll(client, auth_headers(owner), later["id"], changed), 409)
    newcomer = make_user()
    grown = [*fair, {"username": newcomer.username, "weight": 2}]
    assert _roll(client, auth_headers(owner), later["id"], grown).status_code == 200


def test_reweighting_after_close_cannot_change_the_winner(client, make_user, auth_headers, admin):
    owner, x1, x2, y = make_user(), make_user(), make_user(), make_user()
    poll, ids = _create(client, auth_headers(owner), visibility="private")
    _roll(client, auth_headers(owner), poll["id"], [{"username": u.username} for u in (x1, x2, y)])
    for voter, choice in ((x1, "Apple"), (x2, "Apple"), (y, "Banana")):
        assert _vote(client, auth_headers(voter), poll["id"], option_id=ids[choice]).status_code == 201
    assert client.post(f"/api/polls/{poll['id']}/close", headers=auth_headers(owner)).status_code == 200
    sealed = _results(client, auth_headers(owner), poll["id"])
    attack = [{"username": x1.username}, {"username": x2.username}, {"username": y.username, "weight": 1000}]
    for who in (owner, admin):
        assert "closed" in assert_error(_roll(client, auth_headers(who), poll["id"], attack), 409)
        # Nor by reopening it: a closed poll's times are sealed too.
        reopen = {"closes_at": (utcnow() + timedelta(days=1)).isoformat()}
        assert_error(client.patch(f"/api/polls/{poll['id']}", headers=auth_headers(who), json=reopen), 409)
    after = _results(client, auth_headers(owner), poll["id"])
    assert after == sealed and after["winners"] == [ids["Apple"]]


def test_reweighting_a_voter_who_has_voted_is_refused_while_open(client, make_user, auth_headers):
    owner, a, b, late = make_user(), make_user(), make_user(), make_user()
    poll, ids = _create(client, auth_headers(owner), visibility="private")
    _roll(client, auth_headers(owner), poll["id"], [{"username": a.username}, {"username": b.username}])
    _vote(client, auth_headers(a), poll["id"], option_id=ids["Apple"])
    _vote(client, auth_headers(b), poll["id"], option_id=ids["Banana"])
    before = _results(client, auth_headers(owner), poll["id"])
    for entries in (
        [{"username": a.username}, {"username": b.username, "weight": 5}],  # re-weight b
        [{"username": a.username}],  # remove b
    ):
        assert_error(_roll(client, auth_headers(owner), poll["id"], entries), 409)
    assert _results(client, auth_headers(owner), poll["id"]) == before
    # Adding a voter (with a weight of their own) is still possible, and audited before/after.
    grown = [{"username": a.username}, {"username": b.username}, {"username": late.username, "weight": 2.5}]
    assert _roll(client, auth_headers(owner), poll["id"], grown).status_code == 200


def test_every_roll_change_is_audited_with_each_weight_before_and_after(client, session, make_user, auth_headers):
    owner, a, b = make_user(), make_user(), make_user()
    poll, _ = _create(client, auth_headers(owner), visibility="private")
    _roll(client, auth_headers(owner), poll["id"], [{"username": a.username, "weight": 2}])
    _roll(client, auth_headers(owner), poll["id"], [{"username": a.username, "weight": 3}, {"username": b.username}])
    _roll(client, auth_headers(owner), poll["id"], [{"username": b.username}])
    entries = session.exec(
        select(AuditEvent).where(AuditEvent.action == "poll.roll", AuditEvent.target_id == str(poll["id"])).order_by(AuditEvent.id)
    ).all()
    changes = [[(c["username"], c["before"], c["after"]) for c in e.detail["changes"]] for e in entries]
    assert changes == [
        [(a.username, None, 2.0)],
        [(a.username, 2.0, 3.0), (b.username, None, 1.0)] if a.id < b.id else [(b.username, None, 1.0), (a.username, 2.0, 3.0)],
        [(a.username, 3.0, None)],
    ]


# --- exact counts -----------------------------------------------------------------------------------


def test_a_deciding_ten_thousandth_is_not_lost_in_rounding(client, make_user, auth_headers):
    owner, big_a, big_b, small = make_user(), make_user(), make_user(), make_user()
    poll, ids = _create(client, auth_headers(owner), visibility="private")
    _roll(client, auth_headers(owner), poll["id"], [
        {"username": big_a.username, "weight": 1_000_000}, {"username": big_b.username, "weight": 1_000_000},
        {"username": small.username, "weight": 0.0001},
    ])
    _vote(client, auth_headers(big_a), poll["id"], option_id=ids["Apple"])
    _vote(client, auth_headers(big_b), poll["id"], option_id=ids["Banana"])
    _vote(client, auth_headers(small), poll["id"], option_id=ids["Apple"])
    for body in (_results(client, auth_headers(owner), poll["id"]),):
        assert body["winners"] == [ids["Apple"]] and not body["tie"]
    client.post(f"/api/polls/{poll['id']}/close", headers=auth_headers(owner))
    assert _results(client, auth_headers(owner), poll["id"])["winners"] == [ids["Apple"]]


def test_weights_with_more_than_six_decimals_are_refused(client, make_user, auth_headers):
    owner, a = make_user(), make_user()
    poll, _ = _create(client, auth_headers(owner), visibility="private")
    assert "decimal places" in assert_error(_roll(client, auth_headers(owner), poll["id"], [{"username": a.username, "weight": 1 / 3}]), 422)


# --- side channels -------------------------------------------------------------------------------------


def test_anonymous_results_move_only_in_steps_of_k_ballots(client, make_user, auth_headers, admin):
    owner = make_user()
    voters = [make_user() for _ in range(12)]
    poll, ids = _create(client, auth_headers(owner), anonymous=True, results_visibility="live")
    assert poll["anonymity_threshold"] == 5
    seen = []
    for i, voter in enumerate(voters):
        assert _vote(client, auth_headers(voter), poll["id"], option_id=ids["Apple" if i % 3 else "Banana"]).status_code == 201
        shown = _results(client, auth_headers(voter), poll["id"])
        assert _results(client, auth_headers(owner), poll["id"]) == shown  # the owner sees no more
        assert _results(client, auth_headers(admin), poll["id"]) == shown
        seen.append(shown["total_ballots"])
        listed = client.get("/api/polls/?limit=100", headers=auth_headers(voter)).json()
        assert poll["id"] in [p["id"] for p in listed["items"]]
    assert seen == [0, 0, 0, 0, 5, 5, 5, 5, 5, 10, 10, 10]
    # Changes and retractions count toward the next step too.
    first = voters[0]
    cast = client.get(f"/api/polls/{poll['id']}/my-vote", headers=auth_headers(first))
    assert cast.status_code == 404  # no receipt given: not even the voter is linked to the ballot


def _anonymous_poll_with_a_snapshot(client, make_user, auth_headers):
    """An anonymous poll (k = 5) where five voters have voted: its first snapshot is taken."""
    owner = make_user()
    poll, ids = _create(client, auth_headers(owner), anonymous=True)
    first = [make_user() for _ in range(5)]
    receipts = {}
    for voter in first:
        receipts[voter.id] = _vote(client, auth_headers(voter), poll["id"], option_id=ids["Apple"]).json()["receipt"]
    shown = _results(client, auth_headers(owner), poll["id"])
    assert shown["total_ballots"] == 5
    return owner, poll, ids, first, receipts, shown


def _change(client, headers, poll_id, receipt, **choice):
    response = client.put(f"/api/polls/{poll_id}/my-vote", headers=headers | {"X-Ballot-Receipt": receipt}, json=choice)
    assert response.status_code == 200, response.text
    return response.json()["receipt"]


def test_one_voter_changing_back_and_forth_cannot_expose_a_new_ballot(client, make_user, auth_headers):
    """The attack: the target casts one ballot; a colluding voter (or the owner, voting in their own
    poll) changes theirs k-1 times to force a new snapshot, whose difference is the target's choice."""
    owner, poll, ids, first, receipts, shown = _anonymous_poll_with_a_snapshot(client, make_user, auth_headers)
    target, colluder = make_user(), first[0]
    _vote(client, auth_headers(target), poll["id"], option_id=ids["Cherry"])
    receipt = receipts[colluder.id]
    for i in range(12):
        receipt = _change(client, auth_headers(colluder), poll["id"], receipt, option_id=ids["Banana" if i % 2 == 0 else "Apple"])
        assert _results(client, auth_headers(owner), poll["id"]) == shown
    # Casting and retracting over and over adds nobody either.
    sybil = make_user()
    for _ in range(4):
        cast = _vote(client, auth_headers(sybil), poll["id"], option_id=ids["Banana"]).json()["receipt"]
        gone = client.delete(f"/api/polls/{poll['id']}/my-vote", headers=auth_headers(sybil) | {"X-Ballot-Receipt": cast})
        assert gone.status_code == 204
        assert _results(client, auth_headers(owner), poll["id"]) == shown


def test_a_retraction_cannot_be_exposed_by_changes(client, make_user, auth_headers):
    owner, poll, ids, first, receipts, shown = _anonymous_poll_with_a_snapshot(client, make_user, auth_headers)
    leaver, colluder = first[1], first[0]
    gone = client.delete(f"/api/polls/{poll['id']}/my-vote", headers=auth_headers(leaver) | {"X-Ballot-Receipt": receipts[leaver.id]})
    assert gone.status_code == 204
    receipt = receipts[colluder.id]
    for i in range(8):
        receipt = _change(client, auth_headers(colluder), poll["id"], receipt, option_id=ids["Banana" if i % 2 == 0 else "Apple"])
    assert _results(client, auth_headers(owner), poll["id"]) == shown


def test_changes_alone_show_in_steps_of_k(client, make_user, auth_headers):
    owner, poll, ids, first, receipts, _shown = _anonymous_poll_with_a_snapshot(client, make_user, auth_headers)
    for n, voter in enumerate(first, start=1):
        _change(client, auth_headers(voter), poll["id"], receipts[voter.id], option_id=ids["Banana"])
        body = _results(client, auth_headers(owner), poll["id"])
        banana = next(o for o in body["options"] if o["option_id"] == ids["Banana"])
        assert banana["votes"] == (5 if n == 5 else 0)


def test_after_vote_results_do_not_show_the_other_voters_choice(client, make_user, auth_headers):
    owner, a, b = make_user(), make_user(), make_user()
    poll, ids = _create(client, auth_headers(owner), anonymous=True, results_visibility="after_vote")
    _vote(client, auth_headers(a), poll["id"], option_id=ids["Apple"])
    _vote(client, auth_headers(b), poll["id"], option_id=ids["Banana"])
    for who in (a, b):
        body = _results(client, auth_headers(who), poll["id"])
        assert body["total_ballots"] == 0 and all(o["votes"] == 0 for o in body["options"])


def test_poll_lists_hide_ballot_counts_that_the_results_hide(session, make_user):
    from commons_app.services import polls

    owner, voter, viewer = make_user(), make_user(), make_user()
    hidden = factories.make_poll(session, owner, results_visibility="creator")
    factories.vote(session, voter, hidden, option_id=hidden.options[0].id)
    views, _ = polls.list_polls(session=session, user=viewer, limit=100)
    assert [v.ballot_count for v in views if v.poll.id == hidden.poll.id] == [None]
    views, _ = polls.list_polls(session=session, user=owner, limit=100)
    assert [v.ballot_count for v in views if v.poll.id == hidden.poll.id] == [1]
    # An open anonymous poll lists the count of its snapshot, for everyone, owner included.
    secret = factories.make_poll(session, owner, anonymous=True)
    for _ in range(3):
        factories.vote(session, make_user(), secret, option_id=secret.options[0].id)
    for who in (viewer, owner):
        views, _ = polls.list_polls(session=session, user=who, limit=100)
        assert [v.ballot_count for v in views if v.poll.id == secret.poll.id] == [0]


def test_metrics_carry_no_per_poll_figure(client, make_user, auth_headers):
    owner, voter = make_user(), make_user()
    poll, ids = _create(client, auth_headers(owner), anonymous=True)
    _vote(client, auth_headers(voter), poll["id"], option_id=ids["Apple"])
    response = client.get("/metrics", headers=METRICS_HEADERS)
    assert response.status_code == 200
    labels = set(re.findall(r'([a-z_]+)="', response.text))
    assert labels and not {name for name in labels if "poll" in name or "user" in name}


# --- receipts and the published record ------------------------------------------------------------------

BALLOTS = {
    "single": [{"option_id": "A"}, {"option_id": "A"}, {"option_id": "B"}, {"option_id": "C"}],
    "approval": [{"option_ids": ["A", "B"]}, {"option_ids": ["B"]}, {"option_ids": ["B", "C"]}, {"option_ids": ["C"]}],
    "irv": [{"ranking": ["A", "B"]}, {"ranking": ["A", "C"]}, {"ranking": ["B", "A"]}, {"ranking": ["C", "B"]}, {"ranking": ["C", "B"]}],
    "schulze": [{"ranking": ["B", "A", "C"]}, {"ranking": ["B", "A", "C"]}, {"ranking": ["A", "B", "C"]}, {"ranking": ["C", "B", "A"]}],
    "borda": [{"ranking": ["B", "A", "C"]}, {"ranking": ["B", "A", "C"]}, {"ranking": ["A", "B", "C"]}, {"ranking": ["C", "B", "A"]}],
    "score": [{"scores": {"A": 5, "B": 3}}, {"scores": {"A": 0, "B": 4, "C": 5}}, {"scores": {"B": 4}}],
    "star": [{"scores": {"A": 5, "B": 3}}, {"scores": {"A": 0, "B": 4, "C": 5}}, {"scores": {"B": 4}}],
}


def _resolve(choice, ids):
    (name, value), = choice.items()
    if isinstance(value, dict):
        return {name: {str(ids[k]): v for k, v in value.items()}}
    if isinstance(value, list):
        return {name: [ids[k] for k in value]}
    return {name: ids[value]}


@pytest.mark.parametrize("anonymous", [False, True], ids=["named", "anonymous"])
@pytest.mark.parametrize("method", list(BALLOTS))
def test_receipts_name_each_ballot_in_the_record_and_the_record_recounts(client, make_user, auth_headers, method, anonymous):
    owner = make_user()
    poll, named = _create(client, auth_headers(owner), options=("A", "B", "C"), method=method, anonymous=anonymous,
                          visibility="private")
    voters = [make_user() for _ in BALLOTS[method]]
    weights = [1, 2.5, 0.125, 3, 1.75]
    roll = [{"username": v.username, "weight": weights[i]} for i, v in enumerate(voters)]
    if anonymous:
        roll = [{"username": v.username} for v in voters]  # one weight: nobody singled out
    assert _roll(client, auth_headers(owner), poll["id"], roll).status_code == 200
    receipts = {}
    for voter, choice in zip(voters, BALLOTS[method], strict=True):
        cast = _vote(client, auth_headers(voter), poll["id"], **_resolve(choice, named))
        assert cast.status_code == 201, cast.text
        receipts[voter.id] = (cast.json()["receipt"], _resolve(choice, named))
    # A change answers with a new receipt; only the latest one names a counted ballot.
    changer = voters[0]
    old_receipt, choice = receipts[changer.id]
    header = {"X-Ballot-Receipt": old_receipt} if anonymous else {}
    changed = client.put(f"/api/polls/{poll['id']}/my-vote", headers=auth_headers(changer) | header, json=choice)
    assert changed.status_code == 200, changed.text
    assert changed.json()["receipt"] != old_receipt
    receipts[changer.id] = (changed.json()["receipt"], choice)
    assert_error(client.get(f"/api/polls/{poll['id']}/record.jsonl", headers=auth_headers(owner)), 409)
    assert client.post(f"/api/polls/{poll['id']}/close", headers=auth_headers(owner)).status_code == 200

    response = client.get(f"/api/polls/{poll['id']}/record.jsonl", headers=auth_headers(voters[1]))
    assert response.status_code == 200, response.text
    data = response.content
    results = _results(client, auth_headers(voters[1]), poll["id"])
    assert results["record_sha256"] == hashlib.sha256(data).hexdigest() == response.headers["X-Record-SHA256"]
    assert client.get(f"/api/polls/{poll['id']}/record.jsonl", headers=auth_headers(owner)).content == data  # stable
    lines = [json.loads(line) for line in data.decode().splitlines()]
    assert [line["receipt"] for line in lines] == sorted(line["receipt"] for line in lines)
    by_receipt = {line["receipt"]: line for line in lines}
    assert old_receipt not in by_receipt
    for voter in voters:
        receipt, choice = receipts[voter.id]
        line = by_receipt[receipt]  # each voter finds their ballot
        assert {k: v for k, v in line.items() if k not in ("receipt", "weight")} == {
            k: sorted(v) if k == "option_ids" else v for k, v in choice.items()
        }
        assert set(line) == {"receipt", "weight", *choice}  # no voter, no time
    # Anyone recounts the result from the record alone.
    recount = record.tally_record(method, [o["option_id"] for o in results["options"]], data)
    assert list(recount.winners) == results["winners"]
    assert recount.total_weight == results["total_weight"] and recount.total_ballots == results["total_ballots"]
    assert [(o.votes, o.weight) for o in recount.options] == [(o["votes"], o["weight"]) for o in results["options"]]
    blt = client.get(f"/api/polls/{poll['id']}/record.blt", headers=auth_headers(owner))
    if method in ("irv", "schulze", "borda"):
        assert blt.status_code == 200 and blt.text.splitlines()[0] == "3 1"
    else:
        assert_error(blt, 422)


def test_a_poll_closed_on_time_is_sealed_and_stays_sealed(client, session, make_user, auth_headers):
    owner, a, b = make_user(), make_user(), make_user()
    poll, ids = _create(client, auth_headers(owner), closes_at=(utcnow() + timedelta(hours=1)).isoformat())
    _vote(client, auth_headers(a), poll["id"], option_id=ids["Apple"])
    factories.set_poll_times(session, poll["id"], closes_at=utcnow() - timedelta(seconds=1))
    sealed = _results(client, auth_headers(owner), poll["id"])
    assert sealed["status"] == "closed" and sealed["record_sha256"]
    assert_error(_vote(client, auth_headers(b), poll["id"], option_id=ids["Banana"]), 403)
    assert_error(client.delete(f"/api/polls/{poll['id']}/my-vote", headers=auth_headers(a)), 403)
    # Moving the closing time into the future reopens nothing.
    assert_error(client.patch(f"/api/polls/{poll['id']}", headers=auth_headers(owner),
                              json={"closes_at": (utcnow() + timedelta(days=1)).isoformat()}), 409)
    assert _results(client, auth_headers(owner), poll["id"]) == sealed
