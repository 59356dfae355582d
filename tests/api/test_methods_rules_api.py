"""Voting methods and poll rules through the REST API (issue: methods and rules).

Each method is cast and counted end to end; each rule (visibility, rolls and weights, schedules,
results visibility, anonymity, exports) is checked from the outside, as a client sees it.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from commons_app.models import AuditEvent, utcnow
from tests import factories
from tests.factories import assert_error, iso, row_counts, set_poll_times

_create, _vote = factories.api_poll, factories.api_vote


# Ballots per method over options A=Apple, B=Banana, C=Cherry, with the winner each must produce.
# single: A, A, B -> Apple. approval: {A,B}, {B}, {B,C} -> Banana (3 approvals).
# irv: [A,B], [A,C], [B,A], [C,B], [C,B]: round 1 A2 B1 C2, Banana out, its ballot moves to Apple,
#      Apple 3 of 5 -> Apple. schulze/borda: [B,A,C] x2, [A,B,C], [C,B,A]: Banana beats both
#      pairwise (3-1), Borda points B 6, A 4, C 2 -> Banana.
# score: {A5,B3}, {A0,B4,C5}, {B4} -> sums A5 B11 C5 -> Banana.
# star: same ballots; finalists Banana (11) and Apple (Apple and Cherry tie at 5; their
#      head-to-head and five-star ratings tie too, the lot picks one); either runoff is Banana 2 - 1.
CASES = {
    "single": ([{"option_id": "A"}, {"option_id": "A"}, {"option_id": "B"}], "Apple"),
    "approval": ([{"option_ids": ["A", "B"]}, {"option_ids": ["B"]}, {"option_ids": ["B", "C"]}], "Banana"),
    "irv": (
        [{"ranking": ["A", "B"]}, {"ranking": ["A", "C"]}, {"ranking": ["B", "A"]}, {"ranking": ["C", "B"]}, {"ranking": ["C", "B"]}],
        "Apple",
    ),
    "schulze": (
        [{"ranking": ["B", "A", "C"]}, {"ranking": ["B", "A", "C"]}, {"ranking": ["A", "B", "C"]}, {"ranking": ["C", "B", "A"]}],
        "Banana",
    ),
    "borda": (
        [{"ranking": ["B", "A", "C"]}, {"ranking": ["B", "A", "C"]}, {"ranking": ["A", "B", "C"]}, {"ranking": ["C", "B", "A"]}],
        "Banana",
    ),
    "score": ([{"scores": {"A": 5, "B": 3}}, {"scores": {"A": 0, "B": 4, "C": 5}}, {"scores": {"B": 4}}], "Banana"),
    "star": ([{"scores": {"A": 5, "B": 3}}, {"scores": {"A": 0, "B": 4, "C": 5}}, {"scores": {"B": 4}}], "Banana"),
}
LETTERS = {"A": "Apple", "B": "Banana", "C": "Cherry"}


def _resolve(choice, ids):
    (field, value), = choice.items()
    if field == "option_id":
        return {field: ids[LETTERS[value]]}
    if field == "scores":
        return {field: {str(ids[LETTERS[k]]): v for k, v in value.items()}}
    return {field: [ids[LETTERS[v]] for v in value]}


@pytest.mark.parametrize("method", sorted(CASES))
def test_every_method_counts_end_to_end(client, make_user, auth_headers, method):
    owner = make_user()
    poll, ids = _create(client, auth_headers(owner), method=method)
    ballots, winner = CASES[method]
    for choice in ballots:
        response = _vote(client, auth_headers(make_user()), poll["id"], **_resolve(choice, ids))
        assert response.status_code == 201, response.text
        assert response.json()["weight"] == 1.0
    results = client.get(f"/api/polls/{poll['id']}/results", headers=auth_headers(owner))
    assert results.status_code == 200, results.text
    body = results.json()
    assert body["method"] == method
    assert body["total_ballots"] == len(ballots)
    assert body["total_weight"] == pytest.approx(len(ballots))
    assert body["winners"] == [ids[winner]]
    by_text = {o["text"]: o for o in body["options"]}
    if method in ("score", "star"):
        assert by_text["Banana"]["score"] == pytest.approx(11)
        assert by_text["Apple"]["score"] == pytest.approx(5)
    else:
        assert all("score" not in o for o in body["options"])
    if method == "irv":
        assert len(body["rounds"]) == 2
        assert body["rounds"][0]["tallies"][str(ids["Banana"])] == pytest.approx(1)
        assert ids["Banana"] in body["rounds"][0]["eliminated"]
    if method == "schulze":
        pairwise = body["detail"]["pairwise"]
        assert pairwise[str(ids["Banana"])][str(ids["Apple"])] == pytest.approx(3)
        assert pairwise[str(ids["Apple"])][str(ids["Banana"])] == pytest.approx(1)
        assert body["detail"]["condorcet_winner"] == ids["Banana"]
    if method == "borda":
        assert by_text["Banana"]["points"] == pytest.approx(6)
    if method == "star":
        lot = body["rounds"][0]["tie_break"]
        assert lot["kind"] == "star_scoring" and lot["figures"]["decided_by"] == "lot"
        assert lot["figures"]["advancing"] in ([ids["Apple"]], [ids["Cherry"]])
        assert set(body["detail"]["finalists"]) == {ids["Banana"], *lot["figures"]["advancing"]}


BAD_BALLOTS = {
    "single": [{"option_ids": ["A"]}, {"option_id": 999999}, {"ranking": ["A"]}],
    "approval": [{"option_ids": ["A", "A"]}, {"option_ids": []}, {"option_ids": ["A", "B", "C"]}, {"option_id": "A"}],
    "irv": [{"ranking": ["A", "A"]}, {"ranking": [999999]}, {"ranking": []}, {"scores": {"A": 1}}],
    "score": [{"scores": {"A": 6}}, {"scores": {"A": -1}}, {"scores": {"999999": 3}}, {"scores": {}}, {"ranking": ["A"]}],
}


@pytest.mark.parametrize(("method", "index"), [(m, i) for m, cases in BAD_BALLOTS.items() for i in range(len(cases))])
def test_a_ballot_that_does_not_fit_is_refused_and_changes_nothing(client, engine, make_user, auth_headers, method, index):
    owner = make_user()
    extra = {"max_choices": 2} if method == "approval" else {}
    poll, ids = _create(client, auth_headers(owner), method=method, **extra)
    choice = BAD_BALLOTS[method][index]
    (field, value), = choice.items()
    if isinstance(value, str):
        value = ids[LETTERS[value]]
    elif isinstance(value, list):
        value = [ids[LETTERS[v]] if isinstance(v, str) else v for v in value]
    elif isinstance(value, dict):
        value = {str(ids[LETTERS[k]]) if k in LETTERS else k: v for k, v in value.items()}
    before = row_counts(engine)
    response = _vote(client, auth_headers(make_user()), poll["id"], **{field: value})
    assert_error(response, 422)
    assert row_counts(engine)["ballots"] == before["ballots"] == 0


def test_weights_come_from_the_roll_and_never_from_the_client(client, make_user, auth_headers):
    owner, heavy, light, outsider = make_user(), make_user(), make_user(), make_user()
    poll, ids = _create(client, auth_headers(owner), visibility="private")
    roll = client.put(
        f"/api/polls/{poll['id']}/voters",
        headers=auth_headers(owner),
        json={"voters": [{"username": heavy.username, "weight": 3}, {"username": light.username}]},
    )
    assert roll.status_code == 200, roll.text
    assert_error(_vote(client, auth_headers(heavy), poll["id"], option_id=ids["Apple"], weight=100), 422)
    assert _vote(client, auth_headers(heavy), poll["id"], option_id=ids["Apple"]).json()["weight"] == 3
    assert _vote(client, auth_headers(light), poll["id"], option_id=ids["Banana"]).json()["weight"] == 1
    # Off the roll of a private poll: the poll is not even visible.
    assert_error(_vote(client, auth_headers(outsider), poll["id"], option_id=ids["Apple"]), 404)
    body = client.get(f"/api/polls/{poll['id']}/results", headers=auth_headers(owner)).json()
    weights = {o["text"]: o["weight"] for o in body["options"]}
    assert weights == {"Apple": 3, "Banana": 1, "Cherry": 0}
    assert body["total_weight"] == 4 and body["total_ballots"] == 2
    assert body["winners"] == [ids["Apple"]]
    # Voters who have voted keep their weight: re-weighting them is refused and changes nothing.
    refused = client.put(
        f"/api/polls/{poll['id']}/voters",
        headers=auth_headers(owner),
        json={"voters": [{"username": heavy.username, "weight": 0.5}, {"username": light.username, "weight": 2}]},
    )
    assert_error(refused, 409)
    body = client.get(f"/api/polls/{poll['id']}/results", headers=auth_headers(owner)).json()
    assert body["winners"] == [ids["Apple"]]


def test_unlisted_polls_are_reached_by_link_only(client, make_user, auth_headers):
    owner, other = make_user(), make_user()
    poll, _ = _create(client, auth_headers(owner), visibility="unlisted")
    listed = client.get("/api/polls/?limit=100", headers=auth_headers(other)).json()
    assert poll["id"] not in [p["id"] for p in listed["items"]]
    assert client.get(f"/api/polls/{poll['id']}", headers=auth_headers(other)).status_code == 200
    own = client.get("/api/polls/?limit=100", headers=auth_headers(owner)).json()
    assert poll["id"] in [p["id"] for p in own["items"]]


def test_schedule_refuses_votes_outside_the_window_and_closes_on_time(client, session, make_user, auth_headers):
    owner, voter = make_user(), make_user()
    opens = utcnow() + timedelta(hours=1)
    poll, ids = _create(client, auth_headers(owner), opens_at=iso(opens), closes_at=iso(opens + timedelta(hours=1)))
    assert poll["status"] == "scheduled"
    assert "not open yet" in assert_error(_vote(client, auth_headers(voter), poll["id"], option_id=ids["Apple"]), 403)
    # Time passes: the poll is open, then closed, without anyone acting.
    set_poll_times(session, poll["id"], opens_at=utcnow() - timedelta(minutes=5), closes_at=utcnow() + timedelta(minutes=5))
    assert client.get(f"/api/polls/{poll['id']}", headers=auth_headers(voter)).json()["status"] == "open"
    assert _vote(client, auth_headers(voter), poll["id"], option_id=ids["Apple"]).status_code == 201
    set_poll_times(session, poll["id"], opens_at=utcnow() - timedelta(minutes=5), closes_at=utcnow() - timedelta(seconds=1))
    assert client.get(f"/api/polls/{poll['id']}", headers=auth_headers(voter)).json()["status"] == "closed"
    late = make_user()
    assert "closed" in assert_error(_vote(client, auth_headers(late), poll["id"], option_id=ids["Apple"]), 403)
    assert_error(client.delete(f"/api/polls/{poll['id']}/my-vote", headers=auth_headers(voter)), 403)


def test_bad_schedules_are_refused(client, make_user, auth_headers, engine):
    headers = auth_headers(make_user())
    now = utcnow()
    before = row_counts(engine)
    for fields in (
        {"opens_at": iso(now + timedelta(hours=2)), "closes_at": iso(now + timedelta(hours=1))},
        {"closes_at": iso(now - timedelta(hours=1))},
        {"closes_at": "2030-01-01T10:00:00"},  # no offset
    ):
        response = client.post("/api/polls/", headers=headers, json={"title": "T", "options": ["a", "b"], **fields})
        assert_error(response, 422)
    assert row_counts(engine) == before


def test_owner_may_close_early(client, make_user, auth_headers):
    owner, voter = make_user(), make_user()
    poll, ids = _create(client, auth_headers(owner), closes_at=iso(utcnow() + timedelta(days=3)))
    closed = client.post(f"/api/polls/{poll['id']}/close", headers=auth_headers(owner))
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    assert_error(_vote(client, auth_headers(voter), poll["id"], option_id=ids["Apple"]), 403)


@pytest.mark.parametrize("rule", ["after_vote", "after_close", "creator"])
def test_results_visibility(client, make_user, auth_headers, rule):
    owner, voter = make_user(), make_user()
    poll, ids = _create(client, auth_headers(owner), results_visibility=rule)
    url = f"/api/polls/{poll['id']}/results"
    assert client.get(url, headers=auth_headers(owner)).status_code == 200
    assert_error(client.get(url, headers=auth_headers(voter)), 403)
    assert_error(client.get(url + ".csv", headers=auth_headers(voter)), 403)
    _vote(client, auth_headers(voter), poll["id"], option_id=ids["Apple"])
    after_vote = client.get(url, headers=auth_headers(voter))
    if rule == "after_vote":
        assert after_vote.status_code == 200 and after_vote.json()["total_ballots"] == 1
    else:
        assert_error(after_vote, 403)
    client.post(f"/api/polls/{poll['id']}/close", headers=auth_headers(owner))
    after_close = client.get(url, headers=auth_headers(voter))
    assert after_close.status_code == (403 if rule == "creator" else 200)


def test_anonymous_polls_reveal_nobody_s_ballot(client, session, make_user, auth_headers, admin):
    owner, voter = make_user(), make_user()
    poll, ids = _create(client, auth_headers(owner), anonymous=True, visibility="private")
    client.put(f"/api/polls/{poll['id']}/voters", headers=auth_headers(owner), json={"voters": [{"username": voter.username}]})
    cast = _vote(client, auth_headers(voter), poll["id"], option_id=ids["Cherry"])
    assert cast.status_code == 201
    # The voter sees their own ballot with its receipt; without it not even they can.
    receipt = {"X-Ballot-Receipt": cast.json()["receipt"]}
    mine = client.get(f"/api/polls/{poll['id']}/my-vote", headers=auth_headers(voter) | receipt)
    assert mine.json()["option_id"] == ids["Cherry"]
    assert_error(client.get(f"/api/polls/{poll['id']}/my-vote", headers=auth_headers(voter)), 404)
    assert_error(client.get(f"/api/polls/{poll['id']}/my-vote", headers=auth_headers(owner) | receipt), 404)
    for who in (owner, admin):
        assert_error(client.get(f"/api/polls/{poll['id']}/ballots", headers=auth_headers(who)), 403)
        assert_error(client.get(f"/api/polls/{poll['id']}/ballots.csv", headers=auth_headers(who)), 403)
    # The roll says who has voted, never how.
    roll = client.get(f"/api/polls/{poll['id']}/voters", headers=auth_headers(owner)).json()
    assert roll["voters"] == [{"user_id": voter.id, "username": voter.username, "weight": 1.0, "has_voted": True}]
    # Once a ballot exists, anonymity cannot be switched off.
    assert_error(client.patch(f"/api/polls/{poll['id']}", headers=auth_headers(owner), json={"anonymous": False}), 409)
    # Nothing in the audit log carries the choice (the roll's entries name voters and weights only).
    for entry in session.exec(__import__("sqlmodel").select(AuditEvent)).all():
        assert entry.target_type != "ballot"
        assert not {"option_id", "option_ids", "ranking", "scores", "choices"} & set(str(entry.detail).replace("'", " ").split())


def test_exports_for_the_owner_of_a_non_anonymous_poll(client, make_user, auth_headers):
    owner, voter, stranger = make_user(), make_user(), make_user()
    poll, ids = _create(client, auth_headers(owner), method="irv", options=("=SUM(A1)", "Banana", "Cherry"))
    _vote(client, auth_headers(voter), poll["id"], ranking=[ids["=SUM(A1)"], ids["Banana"]])
    ballots = client.get(f"/api/polls/{poll['id']}/ballots", headers=auth_headers(owner))
    assert ballots.status_code == 200, ballots.text
    (row,) = ballots.json()
    assert row["username"] == voter.username and row["ranking"] == [ids["=SUM(A1)"], ids["Banana"]]
    assert_error(client.get(f"/api/polls/{poll['id']}/ballots", headers=auth_headers(stranger)), 403)
    table = client.get(f"/api/polls/{poll['id']}/ballots.csv", headers=auth_headers(owner))
    assert table.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(table.text)))
    assert rows[0]["username"] == voter.username
    assert rows[0]["choice"] == "'=SUM(A1) > Banana"  # a cell starting like a formula is defused
    results_csv = client.get(f"/api/polls/{poll['id']}/results.csv", headers=auth_headers(owner))
    results_rows = list(csv.DictReader(io.StringIO(results_csv.text)))
    assert [r["text"] for r in results_rows] == ["'=SUM(A1)", "Banana", "Cherry"]
    assert {r["text"]: r["votes"] for r in results_rows}["'=SUM(A1)"] == "1"


def test_change_and_retract_move_the_tally(client, make_user, auth_headers):
    owner, voter = make_user(), make_user()
    poll, ids = _create(client, auth_headers(owner), method="approval")
    url = f"/api/polls/{poll['id']}"
    _vote(client, auth_headers(voter), poll["id"], option_ids=[ids["Apple"]])
    changed = client.put(url + "/my-vote", headers=auth_headers(voter), json={"option_ids": [ids["Banana"], ids["Cherry"]]})
    assert changed.status_code == 200 and changed.json()["option_ids"] == [ids["Banana"], ids["Cherry"]]
    votes = {o["text"]: o["votes"] for o in client.get(url + "/results", headers=auth_headers(owner)).json()["options"]}
    assert votes == {"Apple": 0, "Banana": 1, "Cherry": 1}
    assert client.delete(url + "/my-vote", headers=auth_headers(voter)).status_code == 204
    body = client.get(url + "/results", headers=auth_headers(owner)).json()
    assert body["total_ballots"] == 0 and body["winners"] == []
    assert_error(client.get(url + "/my-vote", headers=auth_headers(voter)), 404)
