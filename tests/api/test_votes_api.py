"""Ballots and results over HTTP: POST /api/votes/, my-vote, results and results.csv."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import factories
from tests.factories import assert_error, assert_utc_offset, row_counts


@pytest.fixture
def poll(session, admin):
    """An open public single-choice poll owned by an admin (so the voters are plain members)."""
    return factories.make_poll(session, admin, options=["Apples", "Pears", "Plums"])


@pytest.fixture
def headers(user, auth_headers):
    return auth_headers(user)


def cast(client, headers, poll_id, **choice):
    return client.post("/api/votes/", json={"poll_id": poll_id, **choice}, headers=headers)


# --- cast --------------------------------------------------------------------------------------------
def test_cast_returns_the_ballot(client, engine, poll, headers):
    response = cast(client, headers, poll.poll.id, option_id=poll.options[1].id)

    assert response.status_code == 201, response.text
    body = response.json()
    assert {"id", "poll_id", "weight", "created_at"} <= set(body)
    assert (body["poll_id"], body["weight"], body["option_id"]) == (poll.poll.id, 1.0, poll.options[1].id)
    assert_utc_offset(body["created_at"])
    assert_utc_offset(body["updated_at"])
    assert row_counts(engine)["ballots"] == 1


def test_second_ballot_is_409(client, engine, poll, headers):
    assert cast(client, headers, poll.poll.id, option_id=poll.options[0].id).status_code == 201
    assert_error(cast(client, headers, poll.poll.id, option_id=poll.options[1].id), 409)
    assert row_counts(engine)["ballots"] == 1
    assert client.get(f"/api/polls/{poll.poll.id}/my-vote", headers=headers).json()["option_id"] == poll.options[0].id


def test_the_weight_is_set_by_the_server(client, engine, session, admin, user, headers):
    view = factories.make_poll(session, admin, voters=[(user, 4.0)])
    before = row_counts(engine)
    assert_error(cast(client, headers, view.poll.id, option_id=view.options[0].id, weight=100), 422)
    assert row_counts(engine) == before
    assert cast(client, headers, view.poll.id, option_id=view.options[0].id).json()["weight"] == 4.0


@pytest.mark.parametrize(
    "make_choice",
    [
        pytest.param(lambda ids: {"ranking": ids}, id="ranking-for-single"),
        pytest.param(lambda ids: {"option_ids": [ids[0]]}, id="option_ids-for-single"),
        pytest.param(lambda ids: {"option_id": ids[0], "ranking": ids}, id="two-fields"),
        pytest.param(lambda ids: {}, id="no-choice"),
        pytest.param(lambda ids: {"option_id": 99_999_999}, id="unknown-option"),
        pytest.param(lambda ids: {"option_id": str(ids[0]) + "x"}, id="option-not-int"),
        pytest.param(lambda ids: {"option_id": True}, id="option-bool"),
        pytest.param(lambda ids: {"option_id": 2.5}, id="option-float"),
        pytest.param(lambda ids: {"option_id": -1}, id="option-negative"),
        pytest.param(lambda ids: {"option_id": 2**60}, id="option-huge"),
        pytest.param(lambda ids: {"option_id": ids[0], "comment": "hi"}, id="unknown-field"),
    ],
)
def test_ballots_that_do_not_fit_are_422(client, engine, poll, headers, make_choice):
    before = row_counts(engine)
    assert_error(cast(client, headers, poll.poll.id, **make_choice([o.id for o in poll.options])), 422)
    assert row_counts(engine) == before


@pytest.mark.parametrize(
    "body",
    [
        {"option_id": 1}, {"poll_id": 1, "option_id": 1}, {"poll_id": "a b", "option_id": 1},
        {"poll_id": None, "option_id": 1}, [], "text",
    ],
)
def test_vote_body_shape_errors_are_422(client, headers, body, engine):
    assert_error(client.post("/api/votes/", json=body, headers=headers), 422)


def test_vote_without_token_is_401(client, engine, poll):
    assert_error(cast(client, {}, poll.poll.id, option_id=poll.options[0].id), 401)
    assert row_counts(engine)["ballots"] == 0


def test_vote_in_missing_or_invisible_poll_is_404(client, session, admin, poll, headers):
    private = factories.make_poll(session, admin, visibility="private")
    assert_error(cast(client, headers, "987654", option_id=poll.options[0].id), 404)
    assert_error(cast(client, headers, private.poll.id, option_id=private.options[0].id), 404)


def test_vote_when_not_eligible_or_not_open_is_403(client, engine, session, admin, user, auth_headers, headers):
    scheduled = factories.make_scheduled(session, admin)
    closed = factories.make_closed(session, admin)
    private = factories.make_poll(session, user, visibility="private")  # the owner sees it but is not on the roll
    for view in (scheduled, closed, private):
        assert_error(cast(client, headers, view.poll.id, option_id=view.options[0].id), 403)
    assert row_counts(engine)["ballots"] == 0


@pytest.mark.parametrize(
    "method,make_choice,field",
    [
        ("approval", lambda ids: {"option_ids": [ids[2], ids[0]]}, "option_ids"),
        ("irv", lambda ids: {"ranking": [ids[1], ids[0], ids[2]]}, "ranking"),
        ("schulze", lambda ids: {"ranking": [ids[2]]}, "ranking"),
        ("borda", lambda ids: {"ranking": ids[:2]}, "ranking"),
        ("score", lambda ids: {"scores": {str(ids[0]): 5, str(ids[1]): 0}}, "scores"),
        ("star", lambda ids: {"scores": {str(ids[2]): 3}}, "scores"),
    ],
)
def test_every_method_takes_its_field(client, session, admin, headers, make_user, auth_headers, method, make_choice, field):
    view = factories.make_poll(session, admin, method=method)
    choice = make_choice([o.id for o in view.options])

    response = cast(client, headers, view.poll.id, **choice)

    assert response.status_code == 201, response.text
    mine = client.get(f"/api/polls/{view.poll.id}/my-vote", headers=headers).json()
    assert mine[field] == choice[field]
    # A single-choice field does not fit any of these methods.
    assert_error(cast(client, auth_headers(make_user()), view.poll.id, option_id=view.options[0].id), 422)


@pytest.mark.parametrize(
    "make_scores",
    [
        pytest.param(lambda first: {first: 6}, id="above-5"),
        pytest.param(lambda first: {first: -1}, id="negative"),
        pytest.param(lambda first: {first: 2.5}, id="fraction"),
        pytest.param(lambda first: {first: "5"}, id="text"),
        pytest.param(lambda first: {"99999999": 3}, id="unknown-option"),
        pytest.param(lambda first: {"first": 3}, id="key-not-an-id"),
        pytest.param(lambda first: {}, id="empty"),
        pytest.param(lambda first: [first], id="not-a-map"),
    ],
)
def test_bad_scores_are_422(client, engine, session, admin, headers, make_scores):
    view = factories.make_poll(session, admin, method="score")
    before = row_counts(engine)
    assert_error(cast(client, headers, view.poll.id, scores=make_scores(str(view.options[0].id))), 422)
    assert row_counts(engine) == before


def test_approval_over_max_choices_is_422(client, session, admin, headers):
    view = factories.make_poll(session, admin, method="approval", max_choices=1)
    assert_error(cast(client, headers, view.poll.id, option_ids=[o.id for o in view.options[:2]]), 422)


# --- my-vote -----------------------------------------------------------------------------------------
def test_my_vote_read_change_retract(client, engine, poll, headers):
    url = f"/api/polls/{poll.poll.id}/my-vote"
    assert_error(client.get(url, headers=headers), 404)
    assert_error(client.put(url, json={"option_id": poll.options[0].id}, headers=headers), 404)
    assert_error(client.delete(url, headers=headers), 404)
    created = cast(client, headers, poll.poll.id, option_id=poll.options[0].id).json()

    mine = client.get(url, headers=headers)
    assert mine.status_code == 200 and mine.json()["id"] == created["id"]
    changed = client.put(url, json={"option_id": poll.options[2].id}, headers=headers)
    assert changed.status_code == 200, changed.text
    assert changed.json()["option_id"] == poll.options[2].id and changed.json()["id"] == created["id"]
    assert_error(client.put(url, json={"option_id": poll.options[0].id, "poll_id": 5}, headers=headers), 422)
    assert_error(client.put(url, json={"ranking": [poll.options[0].id]}, headers=headers), 422)
    assert client.get(url, headers=headers).json()["option_id"] == poll.options[2].id

    removed = client.delete(url, headers=headers)
    assert removed.status_code == 204 and removed.content == b""
    assert_error(client.get(url, headers=headers), 404)
    assert row_counts(engine)["ballots"] == 0


def test_my_vote_cannot_change_after_close(client, session, admin, poll, headers, auth_headers):
    url = f"/api/polls/{poll.poll.id}/my-vote"
    cast(client, headers, poll.poll.id, option_id=poll.options[0].id)
    assert client.post(f"/api/polls/{poll.poll.id}/close", headers=auth_headers(admin)).status_code == 200

    assert_error(client.put(url, json={"option_id": poll.options[1].id}, headers=headers), 403)
    assert_error(client.delete(url, headers=headers), 403)
    assert client.get(url, headers=headers).json()["option_id"] == poll.options[0].id


def test_my_vote_of_an_invisible_poll_is_404(client, session, admin, headers):
    private = factories.make_poll(session, admin, visibility="private")
    assert_error(client.get(f"/api/polls/{private.poll.id}/my-vote", headers=headers), 404)
    assert_error(client.get(f"/api/polls/{private.poll.id}/my-vote"), 401)


# --- results -----------------------------------------------------------------------------------------
def test_results_in_the_contract_shape(client, session, admin, user, make_user, headers, auth_headers):
    heavy = make_user()
    view = factories.make_poll(session, admin, options=["Apples", "Pears", "Plums"], voters=[(heavy, 2.0)])
    a, b, c = (o.id for o in view.options)
    cast(client, headers, view.poll.id, option_id=a)
    cast(client, auth_headers(heavy), view.poll.id, option_id=b)

    response = client.get(f"/api/polls/{view.poll.id}/results", headers=headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert {"poll_id", "method", "status", "total_ballots", "total_weight", "options", "winners", "rounds"} <= set(body)
    assert (body["poll_id"], body["method"], body["status"]) == (view.poll.id, "single", "open")
    assert (body["total_ballots"], body["total_weight"]) == (2, 3.0)
    assert body["options"] == [
        {"option_id": a, "text": "Apples", "votes": 1, "weight": 1.0},
        {"option_id": b, "text": "Pears", "votes": 1, "weight": 2.0},
        {"option_id": c, "text": "Plums", "votes": 0, "weight": 0.0},
    ]
    assert body["winners"] == [b]
    assert isinstance(body["rounds"], list)


def test_score_results_carry_scores(client, session, admin, headers):
    view = factories.make_poll(session, admin, method="score")
    a = view.options[0].id
    cast(client, headers, view.poll.id, scores={str(a): 4})
    body = client.get(f"/api/polls/{view.poll.id}/results", headers=headers).json()
    assert {o["option_id"]: o["score"] for o in body["options"]}[a] == 4


def test_results_hidden_by_visibility_are_403(client, session, admin, user, poll, headers, auth_headers):
    hidden = factories.make_poll(session, admin, results_visibility="after_vote")
    url = f"/api/polls/{hidden.poll.id}/results"
    assert_error(client.get(url, headers=headers), 403)
    assert_error(client.get(url + ".csv", headers=headers), 403)
    assert client.get(url, headers=auth_headers(admin)).status_code == 200
    cast(client, headers, hidden.poll.id, option_id=hidden.options[0].id)
    assert client.get(url, headers=headers).json()["total_ballots"] == 1

    creator_only = factories.make_poll(session, admin, results_visibility="creator")
    assert_error(client.get(f"/api/polls/{creator_only.poll.id}/results", headers=headers), 403)


def test_results_of_missing_or_invisible_polls_are_404(client, session, admin, headers):
    private = factories.make_poll(session, admin, visibility="private")
    for poll_id in (private.poll.id, 99_999):
        assert_error(client.get(f"/api/polls/{poll_id}/results", headers=headers), 404)
        assert_error(client.get(f"/api/polls/{poll_id}/results.csv", headers=headers), 404)
    assert_error(client.get(f"/api/polls/{private.poll.id}/results"), 401)


def test_results_csv(client, session, poll, headers):
    a, b, _c = (o.id for o in poll.options)
    cast(client, headers, poll.poll.id, option_id=b)

    response = client.get(f"/api/polls/{poll.poll.id}/results.csv", headers=headers)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert f"poll-{poll.poll.id}-results.csv" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(int(r["option_id"]), r["text"], r["votes"], r["weight"], r["winner"]) for r in rows][:2] == [
        (a, "Apples", "0", "0", ""),
        (b, "Pears", "1", "1", "yes"),
    ]
    assert len(rows) == 3


# --- robustness: any JSON body gets a 4xx or a 201, never a 500 ---------------------------------------
_json_scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**63) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8)
_json = st.recursive(_json_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    extra=st.dictionaries(st.sampled_from(["option_id", "option_ids", "ranking", "scores", "weight", "poll_id"]), _json, max_size=3),
    pick=st.integers(0, 2),
)
def test_any_ballot_body_is_answered_without_a_server_error(client, engine, session, poll, headers, extra, pick):
    body = {"poll_id": poll.poll.id, "option_id": poll.options[pick].id} | extra
    before = row_counts(engine)["ballots"]
    response = client.post("/api/votes/", json=body, headers=headers)  # a 500 raises here (raise_server_exceptions)
    assert response.status_code in {201, 404, 409, 422}, (body, response.text)
    if response.status_code == 201:
        assert row_counts(engine)["ballots"] == before + 1
        assert client.delete(f"/api/polls/{poll.poll.id}/my-vote", headers=headers).status_code == 204
    else:
        assert_error(response, response.status_code)
        assert row_counts(engine)["ballots"] == before
