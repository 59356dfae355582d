"""Unguessable poll ids: nobody finds a poll they were not given (issue 11, item 5).

The attacker here is a signed-in member who reads the code: they walk small and sequential ids,
try ids shaped like others' and read every page of the poll list, looking for unlisted polls.
"""

from __future__ import annotations

import base64
import re

from commons_app.models import JOIN_CODE_ALPHABET
from tests import factories
from tests.factories import assert_error

URL_SAFE = re.compile(r"[A-Za-z0-9_-]+")


def test_walking_small_and_sequential_ids_finds_nothing(client, session, user, other_user, make_user, auth_headers):
    voter = make_user()
    made = [
        factories.make_poll(session, user, title="public one"),
        factories.make_poll(session, user, title="unlisted one", visibility="unlisted"),
        factories.make_poll(session, user, title="private one", visibility="private", voters=[(voter, 1.0)]),
    ]
    stranger = auth_headers(other_user)
    guesses = [str(n) for n in range(0, 60)] + ["-1", "00001", str(2**31), str(2**63)]
    for guess in guesses:
        for path in (f"/api/polls/{guess}", f"/api/polls/{guess}/results", f"/api/polls/{guess}/my-vote"):
            assert_error(client.get(path, headers=stranger), 404)
    for guess in guesses:
        assert_error(client.post("/api/votes/", json={"poll_id": guess, "option_id": 1}, headers=stranger), 404)
    # Ids next to a real one (one character changed, cut short, changed case) find nothing either.
    for view in made:
        real = view.poll.id
        near = {real[:-1], real + "A", real.swapcase(), real[:-1] + ("A" if real[-1] != "A" else "B")} - {real}
        for guess in near:
            assert_error(client.get(f"/api/polls/{guess}", headers=stranger), 404)
    # The unlisted poll is reached with its id, and only with it.
    unlisted = made[1].poll.id
    assert client.get(f"/api/polls/{unlisted}", headers=stranger).json()["title"] == "unlisted one"


def test_the_list_never_shows_others_unlisted_polls(client, session, user, other_user, auth_headers):
    hidden = {factories.make_poll(session, user, title=f"hidden {i}", visibility="unlisted").poll.id for i in range(3)}
    shown = factories.make_poll(session, user, title="shown").poll.id
    stranger = auth_headers(other_user)
    seen: set[str] = set()
    skip = 0
    while True:
        page = client.get(f"/api/polls/?skip={skip}&limit=100", headers=stranger).json()
        seen |= {p["id"] for p in page["items"]}
        skip += 100
        if skip >= page["total"]:
            break
    for search in ("hidden", "hidden 1", ""):
        seen |= {p["id"] for p in client.get("/api/polls/", params={"search": search}, headers=stranger).json()["items"]}
    assert shown in seen and not (seen & hidden)
    # The owner lists them (they are theirs).
    mine = {p["id"] for p in client.get("/api/polls/?mine=true&limit=100", headers=auth_headers(user)).json()["items"]}
    assert hidden <= mine


def test_ids_carry_at_least_128_random_bits_and_are_url_safe(client, session, user, auth_headers):
    made = [factories.make_poll(session, user).poll.id for _ in range(60)]
    made += [client.post("/api/polls/", json={"title": "t", "options": ["a", "b"]}, headers=auth_headers(user)).json()["id"]
             for _ in range(5)]
    for poll_id in made:
        assert isinstance(poll_id, str) and URL_SAFE.fullmatch(poll_id), poll_id
        assert len(base64.urlsafe_b64decode(poll_id + "=" * (-len(poll_id) % 4))) >= 16, poll_id
    assert len(set(made)) == len(made)
    # Not sequential: neither sorted in creation order, nor sharing a prefix.
    assert made != sorted(made)
    assert len({p[:2] for p in made}) > len(made) // 2


def test_join_codes_are_short_unambiguous_and_unique(session, user):
    codes = [factories.make_poll(session, user).poll.join_code for _ in range(60)]
    assert len(set(codes)) == len(codes)
    assert all(len(c) == 8 and set(c) <= set(JOIN_CODE_ALPHABET) for c in codes)
    assert not set(JOIN_CODE_ALPHABET) & set("01OIL")
