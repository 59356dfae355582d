"""Text that means what it shows (issue 11 item 6).

Titles, descriptions, options and usernames refuse control and invisible format characters;
options that read alike (zero-width, full-width, Cyrillic, case, ``I``/``l``) are one option;
usernames that look like a taken one, and reserved names and their look-alikes, are refused.
Each refusal is a 4xx with a message and changes nothing.
"""

from __future__ import annotations

import pytest

from commons_app.services import auth
from commons_app.services.errors import Conflict, InvalidInput
from tests.factories import assert_error, row_counts

HIDDEN = {
    "right-to-left override": "\u202e",
    "left-to-right isolate": "\u2066",
    "zero-width space": "\u200b",
    "zero-width joiner": "\u200d",
    "zero-width non-joiner": "\u200c",
    "byte order mark": "\ufeff",
    "soft hyphen": "\u00ad",
    "bell": "\x07",
    "escape": "\x1b",
    "delete": "\x7f",
    "C1 control": "\x85",
    "Hangul filler": "\u3164",
    "private use": "\ue000",
    "line separator": "\u2028",
}


def create(client, headers, **body):
    body.setdefault("title", "Lunch?")
    body.setdefault("options", ["Pizza", "Sushi"])
    return client.post("/api/polls/", json=body, headers=headers)


@pytest.mark.parametrize("char", HIDDEN.values(), ids=HIDDEN.keys())
@pytest.mark.parametrize("where", ["title", "description", "option"])
def test_hidden_characters_are_refused(client, engine, user, auth_headers, where, char):
    headers = auth_headers(user)
    before = row_counts(engine)
    text = f"Pay{char}Pal"
    body = {"options": ["Pizza", text]} if where == "option" else {where: text}
    detail = assert_error(create(client, headers, **body), 422)
    assert "invisible or control character" in detail and f"U+{ord(char):04X}" in detail, detail
    assert row_counts(engine) == before


def test_a_title_cannot_be_changed_to_a_spoof(client, user, auth_headers):
    headers = auth_headers(user)
    poll = create(client, headers).json()
    answer = client.patch(f"/api/polls/{poll['id']}", json={"title": "Vote \u202eon\u202c now"}, headers=headers)
    assert "U+202E" in assert_error(answer, 422)
    assert client.get(f"/api/polls/{poll['id']}", headers=headers).json()["title"] == "Lunch?"


def test_visible_text_still_passes(client, user, auth_headers):
    """Line breaks in a description, accents, other scripts and emoji (a ZWJ family included)."""
    headers = auth_headers(user)
    answer = create(client, headers, title="Où déjeuner ? 昼ご飯 🍕", description="Two lines:\nhere\tand there",
                    options=["Café", "Кафе", "👨\u200d👩\u200d👧 family table", "Sushi 🍣"])
    assert answer.status_code == 201, answer.text
    assert [o["text"] for o in answer.json()["options"]][2] == "👨\u200d👩\u200d👧 family table"


@pytest.mark.parametrize(
    "twins",
    [
        ["Yes", "Ｙｅｓ"],  # full-width
        ["Yes", "Y\u0435s"],  # Cyrillic е
        ["Yes", "YES"],
        ["Option I", "Option l"],  # capital i, small L
        ["Paypal", "Pa\u0443pal"],  # Cyrillic у
        ["No", "N\u043e"],  # Cyrillic о
        ["Room 10", "Room lO"],
        ["Café", "Cafe\u0301"],  # composed and decomposed
        ["Two  words", "Two words"],
    ],
    ids=["full-width", "cyrillic-e", "case", "I-l", "cyrillic-y", "cyrillic-o", "digits", "nfc", "spaces"],
)
def test_options_that_read_alike_are_one_option(client, engine, user, auth_headers, twins):
    headers = auth_headers(user)
    before = row_counts(engine)
    detail = assert_error(create(client, headers, options=[*twins, "Maybe"]), 422)
    assert "distinct" in detail, detail
    assert row_counts(engine) == before
    # Nor can an edit bring a look-alike in beside the original.
    poll = create(client, headers, options=[twins[0], "Maybe"]).json()
    assert_error(client.patch(f"/api/polls/{poll['id']}", json={"options": [twins[0], "Maybe", twins[1]]},
                              headers=headers), 422)


def register(client, username: str, email: str | None = None):
    return client.post("/api/users/", json={"username": username, "email": email or f"{username}@example.org",
                                            "password": "a-long-passphrase-1"})


@pytest.mark.parametrize("lookalike", ["aIice", "a1ice", "AIice", "a|ice"])
def test_usernames_that_look_like_a_taken_one_are_refused(client, engine, lookalike):
    assert register(client, "alice").status_code == 201
    before = row_counts(engine)
    answer = register(client, lookalike, "other@example.org")
    if lookalike == "a|ice":  # not a username character at all
        assert_error(answer, 422)
    else:
        assert "looks like" in assert_error(answer, 409)
    assert row_counts(engine) == before


def test_rn_reads_as_m(client):
    assert register(client, "marta").status_code == 201
    assert "looks like" in assert_error(register(client, "rnarta", "x@example.org"), 409)


@pytest.mark.parametrize(
    "name", ["admin", "Admin", "ADMIN", "admin_", "admin-2", "adrnin", "root", "r00t", "ROOT.",
             "support", "Support_", "moderator", "m0derator", "administrator"],
)
def test_reserved_names_and_their_lookalikes_are_refused(client, engine, name):
    before = row_counts(engine)
    assert "reserved" in assert_error(register(client, name), 422)
    assert row_counts(engine) == before


def test_names_near_reserved_ones_are_fine(client):
    for name in ("rooty", "supporter7x", "admiral", "modest", "alice"):
        assert register(client, name).status_code == 201, name


def test_the_operator_may_use_a_reserved_name(session):
    user = auth.register_user(session=session, username="admin", email="ops@example.org",
                              password="operator-password-1", role="admin", allow_reserved=True)
    assert user.username_skeleton
    with pytest.raises(Conflict):  # and then nobody may take a look-alike of it
        auth.register_user(session=session, username="adrnin", email="x@example.org", password="operator-password-1",
                           allow_reserved=True)
    with pytest.raises(InvalidInput):
        auth.register_user(session=session, username="admin_", email="y@example.org", password="operator-password-1")
