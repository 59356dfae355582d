"""STV polls through the REST API: create with seats and a counting rule, vote, count, display,
publish. The counting itself is tested in tests/tally/test_stv.py; here: the wiring."""

from __future__ import annotations

import pytest

from commons_app.models import Poll
from commons_app.pages.vote import vote_context
from commons_app.services.results import PollResults
from commons_app.state.live import results_display
from tests import factories
from tests.factories import assert_error

_create, _vote = factories.api_poll, factories.api_vote
FOOD = ("Orange", "Pear", "Chocolate", "Strawberry", "Sweets")
# Wikipedia's "Single transferable vote" food election (20 voters, 3 seats): Chocolate, Orange,
# Strawberry are elected in that order.
FOOD_BALLOTS = (
    [["Orange"]] * 4 + [["Pear", "Orange"]] * 2 + [["Chocolate", "Strawberry"]] * 8
    + [["Chocolate", "Sweets"]] * 4 + [["Strawberry"]] + [["Sweets"]]
)


@pytest.mark.parametrize("rule", ["scottish", "meek"])
def test_stv_poll_elects_in_order_through_the_api(client, session, make_user, auth_headers, rule):
    owner = make_user()
    poll, ids = _create(client, auth_headers(owner), options=FOOD, method="stv", seats=3, stv_rule=rule)
    assert poll["method"] == "stv" and poll["seats"] == 3 and poll["stv_rule"] == rule
    for ranking in FOOD_BALLOTS:
        response = _vote(client, auth_headers(make_user()), poll["id"], ranking=[ids[t] for t in ranking])
        assert response.status_code == 201, response.text
    body = client.get(f"/api/polls/{poll['id']}/results", headers=auth_headers(owner)).json()
    assert body["method"] == "stv" and body["total_ballots"] == 20
    assert body["winners"][0] == ids["Chocolate"]
    assert sorted(body["winners"]) == sorted(ids[t] for t in ("Chocolate", "Orange", "Strawberry"))
    if rule == "scottish":
        assert body["winners"] == [ids["Chocolate"], ids["Orange"], ids["Strawberry"]]
        assert body["rounds"][0]["quota"] == 6
    assert body["settings"] == {"seats": 3, "stv_rule": rule}
    assert body["quorum_met"] is None and body["passed"] is None
    # The page shows the elected in order and the round table.
    shown = results_display(PollResults.from_dict({k: v for k, v in body.items() if k in PollResults.__dataclass_fields__}))
    assert shown["winners_label"].startswith("Elected so far: Chocolate")
    (table,) = shown["tables"]
    assert table["rows"][0][0] == "Quota"
    chocolate = next(row for row in table["rows"] if row[0] == "Chocolate")
    assert chocolate[1] == "12 ✓"
    if rule == "scottish":  # Droop: 20 / 4 + 1 (Meek's quota is 20 / 4 and falls with exhaustion)
        assert table["rows"][0][1] == "6"
    # Closed: sealed, with the record and its BLT naming the seats.
    assert client.post(f"/api/polls/{poll['id']}/close", headers=auth_headers(owner)).status_code == 200
    sealed = client.get(f"/api/polls/{poll['id']}/results", headers=auth_headers(owner)).json()
    assert sealed["winners"] == body["winners"] and sealed["record_sha256"]
    blt = client.get(f"/api/polls/{poll['id']}/record.blt", headers=auth_headers(owner))
    assert blt.status_code == 200 and blt.text.splitlines()[0] == "5 3"
    assert session.get(Poll, poll["id"]).seats == 3
    # The ballot page says how many are elected, and by which rule.
    rules = vote_context(session=session, user=owner, poll_id=poll["id"])["rules"]
    assert rules[0] == "Seats: 3" and rules[1].startswith("Counting rule: " + ("Meek" if rule == "meek" else "Scottish"))


def test_stv_defaults_and_patch(client, make_user, auth_headers):
    owner = make_user()
    poll, ids = _create(client, auth_headers(owner), method="stv")
    assert poll["seats"] == 1 and poll["stv_rule"] == "scottish"
    url = f"/api/polls/{poll['id']}"
    changed = client.patch(url, headers=auth_headers(owner), json={"seats": 2, "stv_rule": "meek"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["seats"] == 2 and changed.json()["stv_rule"] == "meek"
    assert_error(client.patch(url, headers=auth_headers(owner), json={"seats": 3}), 422)  # 3 options: at most 2
    # Another method drops STV's settings.
    single = client.patch(url, headers=auth_headers(owner), json={"method": "single"})
    assert single.status_code == 200 and single.json()["seats"] is None and single.json()["stv_rule"] is None
    back = client.patch(url, headers=auth_headers(owner), json={"method": "stv", "seats": 2})
    assert back.status_code == 200 and back.json()["seats"] == 2
    _vote(client, auth_headers(make_user()), poll["id"], ranking=[ids["Apple"], ids["Banana"]])
    assert "seats" in assert_error(client.patch(url, headers=auth_headers(owner), json={"seats": 1}), 409)
    assert_error(_vote(client, auth_headers(make_user()), poll["id"], option_id=ids["Apple"]), 422)
