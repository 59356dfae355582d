"""Decision rules through the REST API: a quorum (ballots, or a share of a private poll's roll)
and a pass rule (majority, two thirds, three quarters, unanimous) on single-choice and approval
polls; ``quorum_met`` and ``passed`` in the results, the CSV and the sealed result."""

from __future__ import annotations

import csv
import io

import pytest

from commons_app.pages.vote import vote_context
from commons_app.services.results import PollResults
from commons_app.state.live import results_display
from tests import factories
from tests.factories import assert_error, row_counts

_create, _vote = factories.api_poll, factories.api_vote


def _results(client, headers, poll_id):
    response = client.get(f"/api/polls/{poll_id}/results", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def _roll(client, headers, poll_id, voters):
    response = client.put(
        f"/api/polls/{poll_id}/voters", headers=headers,
        json={"voters": [{"username": u.username, "weight": w} for u, w in voters]},
    )
    assert response.status_code == 200, response.text


def test_without_rules_both_fields_are_null(client, make_user, auth_headers):
    owner = make_user()
    poll, ids = _create(client, auth_headers(owner))
    assert poll["pass_rule"] == "none" and poll["quorum_ballots"] is None and poll["quorum_share"] is None
    _vote(client, auth_headers(make_user()), poll["id"], option_id=ids["Apple"])
    body = _results(client, auth_headers(owner), poll["id"])
    # Present and null (not left out): "no such rule".
    assert "quorum_met" in body and body["quorum_met"] is None
    assert "passed" in body and body["passed"] is None


def test_quorum_of_ballots_is_met_only_at_the_number(client, make_user, auth_headers):
    owner = make_user()
    poll, ids = _create(client, auth_headers(owner), quorum_ballots=3)
    assert poll["quorum_ballots"] == 3
    for _ in range(3):
        assert _results(client, auth_headers(owner), poll["id"])["quorum_met"] is False
        assert _vote(client, auth_headers(make_user()), poll["id"], option_id=ids["Apple"]).status_code == 201
    body = _results(client, auth_headers(owner), poll["id"])
    assert body["quorum_met"] is True and body["passed"] is None
    assert body["decision"]["ballots"] == 3 and body["decision"]["quorum_ballots"] == 3


def test_quorum_share_counts_the_roll_of_a_private_poll(client, make_user, auth_headers):
    owner = make_user()
    voters = [make_user() for _ in range(5)]
    poll, ids = _create(client, auth_headers(owner), visibility="private", quorum_share=0.6)
    _roll(client, auth_headers(owner), poll["id"], [(v, 1) for v in voters])
    for voter in voters[:2]:
        _vote(client, auth_headers(voter), poll["id"], option_id=ids["Apple"])
    body = _results(client, auth_headers(owner), poll["id"])
    assert body["quorum_met"] is False  # 2 of 5 < 60 %
    assert body["decision"]["roll"] == 5 and body["decision"]["share_needed"] == 3
    _vote(client, auth_headers(voters[2]), poll["id"], option_id=ids["Banana"])
    assert _results(client, auth_headers(owner), poll["id"])["quorum_met"] is True  # 3 of 5 = 60 %


@pytest.mark.parametrize(
    ("rule", "apple", "banana", "passed"),
    [
        ("majority", 2, 2, False),  # a tie for first place decides nothing
        ("majority", 3, 2, True),
        ("majority", 1, 1, False),  # the tie again, at one each
        ("two_thirds", 2, 1, True),  # exactly two thirds reaches it
        ("two_thirds", 3, 2, False),
        ("three_quarters", 3, 1, True),
        ("three_quarters", 5, 2, False),
        ("unanimous", 3, 0, True),
        ("unanimous", 3, 1, False),
    ],
)
def test_pass_rules_on_single_choice(client, make_user, auth_headers, rule, apple, banana, passed):
    owner = make_user()
    poll, ids = _create(client, auth_headers(owner), pass_rule=rule)
    for text, n in (("Apple", apple), ("Banana", banana)):
        for _ in range(n):
            _vote(client, auth_headers(make_user()), poll["id"], option_id=ids[text])
    body = _results(client, auth_headers(owner), poll["id"])
    assert body["passed"] is passed
    assert body["quorum_met"] is None


def test_majority_is_of_the_weighted_ballots_exactly(client, make_user, auth_headers):
    """0.1 + 0.2 back Apple against 0.15 and 0.15: exactly half, so no majority. In binary
    floating point Apple's 0.30000000000000004 outweighs the others' 0.29999999999999999 and would
    pass; one more ballot of 0.000001 for Apple makes a true majority."""
    owner = make_user()
    a1, a2, b1, c1, extra = make_user(), make_user(), make_user(), make_user(), make_user()
    poll, ids = _create(client, auth_headers(owner), visibility="private", pass_rule="majority")
    _roll(client, auth_headers(owner), poll["id"], [(a1, 0.1), (a2, 0.2), (b1, 0.15), (c1, 0.15), (extra, 0.000001)])
    for voter, text in ((a1, "Apple"), (a2, "Apple"), (b1, "Banana"), (c1, "Cherry")):
        _vote(client, auth_headers(voter), poll["id"], option_id=ids[text])
    body = _results(client, auth_headers(owner), poll["id"])
    assert body["winners"] == [ids["Apple"]] and body["passed"] is False
    _vote(client, auth_headers(extra), poll["id"], option_id=ids["Apple"])
    assert _results(client, auth_headers(owner), poll["id"])["passed"] is True


def test_weights_decide_the_share_not_heads(client, make_user, auth_headers):
    owner, heavy, light1, light2 = make_user(), make_user(), make_user(), make_user()
    poll, ids = _create(client, auth_headers(owner), visibility="private", pass_rule="two_thirds")
    _roll(client, auth_headers(owner), poll["id"], [(heavy, 4), (light1, 1), (light2, 1)])
    _vote(client, auth_headers(heavy), poll["id"], option_id=ids["Apple"])
    _vote(client, auth_headers(light1), poll["id"], option_id=ids["Banana"])
    _vote(client, auth_headers(light2), poll["id"], option_id=ids["Banana"])
    body = _results(client, auth_headers(owner), poll["id"])
    # One ballot of three, but 4 of the 6 weight: exactly two thirds.
    assert body["winners"] == [ids["Apple"]] and body["passed"] is True
    assert body["decision"]["support_percent"] == pytest.approx(66.6)


def test_approval_pass_rule_counts_ballots_approving_the_winner(client, make_user, auth_headers):
    owner = make_user()
    poll, ids = _create(client, auth_headers(owner), method="approval", pass_rule="three_quarters")
    for approved in (["Apple", "Banana"], ["Apple"], ["Apple", "Cherry"], ["Banana"]):
        _vote(client, auth_headers(make_user()), poll["id"], option_ids=[ids[t] for t in approved])
    body = _results(client, auth_headers(owner), poll["id"])
    assert body["winners"] == [ids["Apple"]] and body["passed"] is True  # 3 of 4 ballots approve Apple


def test_no_pass_without_the_quorum(client, make_user, auth_headers):
    owner = make_user()
    poll, ids = _create(client, auth_headers(owner), pass_rule="majority", quorum_ballots=3)
    for _ in range(2):
        _vote(client, auth_headers(make_user()), poll["id"], option_id=ids["Apple"])
    body = _results(client, auth_headers(owner), poll["id"])
    assert body["quorum_met"] is False and body["passed"] is False
    _vote(client, auth_headers(make_user()), poll["id"], option_id=ids["Apple"])
    body = _results(client, auth_headers(owner), poll["id"])
    assert body["quorum_met"] is True and body["passed"] is True


def test_the_decision_is_in_the_csv_and_the_sealed_result(client, session, make_user, auth_headers):
    owner = make_user()
    poll, ids = _create(client, auth_headers(owner), pass_rule="majority", quorum_ballots=2)
    for text in ("Apple", "Apple", "Banana"):
        _vote(client, auth_headers(make_user()), poll["id"], option_id=ids[text])
    rules = vote_context(session=session, user=owner, poll_id=poll["id"])["rules"]
    assert rules == [
        "Quorum: the result counts only with at least 2 ballots.",
        "Passes only if more than half of the weighted ballots back the winner.",
    ]
    table = client.get(f"/api/polls/{poll['id']}/results.csv", headers=auth_headers(owner))
    rows = list(csv.DictReader(io.StringIO(table.text)))
    assert {r["quorum_met"] for r in rows} == {"yes"} and {r["passed"] for r in rows} == {"yes"}
    assert client.post(f"/api/polls/{poll['id']}/close", headers=auth_headers(owner)).status_code == 200
    sealed = _results(client, auth_headers(owner), poll["id"])
    assert sealed["status"] == "closed" and sealed["quorum_met"] is True and sealed["passed"] is True
    assert sealed["record_sha256"]
    shown = results_display(PollResults.from_dict({k: v for k, v in sealed.items() if k in PollResults.__dataclass_fields__}))
    assert shown["decision_lines"] == [
        "Quorum reached: 3 ballots (2 needed)", "Passed with 66.6 % (more than half needed)",
    ]


def test_an_open_anonymous_poll_decides_on_its_snapshot(client, make_user, auth_headers):
    """The quorum must not tick over with one ballot: it reads the snapshot's count, which moves
    only in steps of the anonymity threshold."""
    owner = make_user()
    poll, ids = _create(client, auth_headers(owner), anonymous=True, anonymity_threshold=2, quorum_ballots=1, pass_rule="majority")
    _vote(client, auth_headers(make_user()), poll["id"], option_id=ids["Apple"])
    body = _results(client, auth_headers(owner), poll["id"])
    assert body["total_ballots"] == 0 and body["quorum_met"] is False and body["passed"] is False
    _vote(client, auth_headers(make_user()), poll["id"], option_id=ids["Apple"])
    body = _results(client, auth_headers(owner), poll["id"])
    assert body["total_ballots"] == 2 and body["quorum_met"] is True and body["passed"] is True


BAD_RULES = [
    ({"pass_rule": "most"}, "pass_rule"),
    ({"pass_rule": "majority", "method": "irv"}, "pass_rule"),
    ({"pass_rule": "two_thirds", "method": "score"}, "pass_rule"),
    ({"quorum_ballots": 0}, "quorum_ballots"),
    ({"quorum_ballots": True}, "quorum_ballots"),
    ({"quorum_ballots": 2.5}, "quorum_ballots"),
    ({"quorum_share": 0.5}, "quorum_share"),  # a public poll has no roll to count against
    ({"quorum_share": 0, "visibility": "private"}, "quorum_share"),
    ({"quorum_share": 1.5, "visibility": "private"}, "quorum_share"),
    ({"quorum_share": 0.1234567, "visibility": "private"}, "quorum_share"),
    ({"seats": 1}, "seats"),  # only STV takes seats
    ({"stv_rule": "meek"}, "stv_rule"),
    ({"method": "stv", "seats": 3}, "seats"),  # seats must be fewer than the three options
    ({"method": "stv", "seats": 0}, "seats"),
    ({"method": "stv", "stv_rule": "wigm"}, "stv_rule"),
    ({"method": "plurality"}, "method"),
]


@pytest.mark.parametrize(("fields", "name"), BAD_RULES)
def test_bad_rules_are_refused_with_a_message_and_change_nothing(client, engine, make_user, auth_headers, fields, name):
    owner = make_user()
    before = row_counts(engine)
    response = client.post(
        "/api/polls/", headers=auth_headers(owner), json={"title": "Rules?", "options": ["Apple", "Banana", "Cherry"], **fields}
    )
    message = assert_error(response, 422)
    assert name in message.lower()
    assert row_counts(engine)["polls"] == before["polls"]


def test_rules_cannot_change_once_ballots_are_in(client, make_user, auth_headers):
    owner = make_user()
    poll, ids = _create(client, auth_headers(owner), pass_rule="majority")
    url = f"/api/polls/{poll['id']}"
    # Before any ballot: they may change (and are checked as on create).
    changed = client.patch(url, headers=auth_headers(owner), json={"pass_rule": "two_thirds", "quorum_ballots": 2})
    assert changed.status_code == 200, changed.text
    assert changed.json()["pass_rule"] == "two_thirds" and changed.json()["quorum_ballots"] == 2
    assert_error(client.patch(url, headers=auth_headers(owner), json={"method": "borda"}), 422)  # pass rule stays
    _vote(client, auth_headers(make_user()), poll["id"], option_id=ids["Apple"])
    for change in ({"pass_rule": "none"}, {"quorum_ballots": 1}, {"quorum_ballots": None}):
        message = assert_error(client.patch(url, headers=auth_headers(owner), json=change), 409)
        assert next(iter(change)) in message
    assert client.get(url, headers=auth_headers(owner)).json()["pass_rule"] == "two_thirds"
