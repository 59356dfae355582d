"""GET /api/polls/{id}/ballots pages by ballot id: every ballot reachable exactly once."""

from __future__ import annotations

from tests import factories


def test_ballot_export_walks_every_ballot_once(client, session, make_user, auth_headers):
    owner = make_user()
    view = factories.make_poll(session, owner, options=2)
    voters = [make_user() for _ in range(7)]
    for i, voter in enumerate(voters):
        factories.vote(session, voter, view, option_id=view.options[i % 2].id)
    headers = auth_headers(owner)
    seen: list[str] = []
    after = 0
    pages = 0
    while True:
        answer = client.get(f"/api/polls/{view.poll.id}/ballots", params={"after_id": after, "limit": 3}, headers=headers)
        assert answer.status_code == 200, answer.text
        assert answer.headers["X-Total-Count"] == "7"
        page = answer.json()
        assert len(page) <= 3
        seen += [row["username"] for row in page]
        pages += 1
        if "X-Next-After-Id" not in answer.headers:
            break
        after = int(answer.headers["X-Next-After-Id"])
        assert after == page[-1]["ballot_id"]
    assert pages == 3 and sorted(seen) == sorted(v.username for v in voters)
    # Without parameters a small poll comes whole, as before.
    whole = client.get(f"/api/polls/{view.poll.id}/ballots", headers=headers)
    assert len(whole.json()) == 7 and "X-Next-After-Id" not in whole.headers


def test_ballot_export_page_size_is_bounded(client, session, make_user, auth_headers):
    owner = make_user()
    view = factories.make_poll(session, owner, options=2)
    for limit in (0, 5001, -1):
        answer = client.get(f"/api/polls/{view.poll.id}/ballots", params={"limit": limit}, headers=auth_headers(owner))
        assert answer.status_code == 422 and answer.json()["detail"]
    answer = client.get(f"/api/polls/{view.poll.id}/ballots", params={"after_id": -5}, headers=auth_headers(owner))
    assert answer.status_code == 422
