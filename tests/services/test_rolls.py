"""The roll edited piece by piece and as CSV (services/rolls.py), the preview a shared link gives
a visitor who is not signed in, join codes, and the same-site check of ``next``."""

from __future__ import annotations

import pytest
from sqlmodel import select

from commons_app.models import PollVoter
from commons_app.pages.auth import safe_next
from commons_app.services import polls, rolls
from commons_app.services.errors import Conflict, Forbidden, InvalidInput, NotFound, RateLimited
from commons_app.services.share import qr_svg_data_uri
from tests import factories


def _roll(session, poll_id) -> dict[int, float]:
    return {v.user_id: v.weight for v in session.exec(select(PollVoter).where(PollVoter.poll_id == poll_id)).all()}


def test_add_reweigh_and_remove_voters(session, make_user, make_poll):
    owner, ann, bob = make_user(), make_user(), make_user()
    poll = make_poll(owner, visibility="private").poll
    rolls.add_voter(session=session, user=owner, poll_id=poll.id, who=ann.username.upper(), weight="2.5")
    rolls.add_voter(session=session, user=owner, poll_id=poll.id, who=bob.username)
    assert _roll(session, poll.id) == {ann.id: 2.5, bob.id: 1.0}
    rolls.set_weight(session=session, user=owner, poll_id=poll.id, key=bob.username, weight="3")
    rolls.remove_voter(session=session, user=owner, poll_id=poll.id, key=ann.username)
    assert _roll(session, poll.id) == {bob.id: 3.0}
    rows = rolls.roll_rows(session=session, user=owner, poll_id=poll.id)
    assert rows == [{"key": bob.username, "username": bob.username, "email": "", "weight": 3.0, "weight_text": "3",
                     "has_voted": False, "invitation": ""}]


@pytest.mark.parametrize("who, weight, message", [
    ("", "1", "Enter a username"),
    ("nobody_here_at_all", "1", "No user is called"),
    ("{ann}", "0", "must be a number greater than 0"),
    ("{ann}", "abc", "must be a number greater than 0"),
])
def test_bad_additions_are_refused_and_change_nothing(session, make_user, make_poll, who, weight, message):
    owner, ann = make_user(), make_user()
    poll = make_poll(owner, visibility="private", voters=[(owner, 1.0)]).poll
    with pytest.raises(InvalidInput, match=message):
        rolls.add_voter(session=session, user=owner, poll_id=poll.id, who=who.format(ann=ann.username), weight=weight)
    assert _roll(session, poll.id) == {owner.id: 1.0}


def test_a_voter_who_voted_cannot_be_removed_or_reweighed(session, make_user, make_poll):
    owner, ann = make_user(), make_user()
    view = make_poll(owner, visibility="private", voters=[(ann, 1.0)])
    factories.vote(session, ann, view, option_id=view.options[0].id)
    with pytest.raises(Conflict):
        rolls.remove_voter(session=session, user=owner, poll_id=view.poll.id, key=ann.username)
    with pytest.raises(Conflict):
        rolls.set_weight(session=session, user=owner, poll_id=view.poll.id, key=ann.username, weight="2")
    assert _roll(session, view.poll.id) == {ann.id: 1.0}
    assert rolls.roll_rows(session=session, user=owner, poll_id=view.poll.id)[0]["has_voted"] is True


def test_only_managers_edit_or_export(session, make_user, make_poll):
    owner, ann, stranger = make_user(), make_user(), make_user()
    poll = make_poll(owner, visibility="public", voters=[(ann, 1.0)]).poll
    with pytest.raises(Forbidden):
        rolls.add_voter(session=session, user=stranger, poll_id=poll.id, who=stranger.username)
    with pytest.raises(Forbidden):
        rolls.export_csv(session=session, user=stranger, poll_id=poll.id)
    with pytest.raises(Forbidden):
        rolls.import_csv(session=session, user=ann, poll_id=poll.id, text=f"email,name,weight\n,{ann.username},9\n")
    assert _roll(session, poll.id) == {ann.id: 1.0}


def test_csv_import_adds_and_export_reads_back(session, make_user, make_poll):
    owner, ann, bob, cid = make_user(), make_user(), make_user(), make_user()
    poll = make_poll(owner, visibility="private", voters=[(cid, 1.0)]).poll
    text = f"\ufeffName,Email,Weight\r\n{ann.username},,2\r\n\r\n{bob.username.upper()},,\r\n"
    assert rolls.import_csv(session=session, user=owner, poll_id=poll.id, text=text) == 3
    assert _roll(session, poll.id) == {ann.id: 2.0, bob.id: 1.0, cid.id: 1.0}
    exported = rolls.export_csv(session=session, user=owner, poll_id=poll.id)
    assert exported.splitlines()[0] == "email,name,weight"
    assert f",{ann.username},2" in exported.splitlines()
    # Replace: the exported file minus one line is the whole roll afterwards.
    kept = "\n".join(line for line in exported.splitlines() if cid.username not in line)
    assert rolls.import_csv(session=session, user=owner, poll_id=poll.id, text=kept, replace=True) == 2
    assert _roll(session, poll.id) == {ann.id: 2.0, bob.id: 1.0}


def test_csv_with_bad_lines_names_each_and_saves_nothing(session, make_user, make_poll):
    owner, ann = make_user(), make_user()
    poll = make_poll(owner, visibility="private", voters=[(owner, 1.0)]).poll
    text = (
        "email,name,weight\n"
        f",{ann.username},2\n"        # line 2: fine
        ",ghost_user_x,1\n"           # line 3: unknown
        f",{ann.username},1\n"        # line 4: twice
        f",{owner.username},-1\n"     # line 5: bad weight
        ",,1\n"                       # line 6: nobody
        "too,many,fields,here\n"      # line 7: shape
    )
    with pytest.raises(rolls.RollCsvError) as caught:
        rolls.import_csv(session=session, user=owner, poll_id=poll.id, text=text)
    assert [line.split(":")[0] for line in caught.value.lines] == ["Line 7"]  # shape first
    with pytest.raises(rolls.RollCsvError) as caught:
        rolls.import_csv(session=session, user=owner, poll_id=poll.id, text=text.replace("too,many,fields,here\n", ""))
    assert [line.split(":")[0] for line in caught.value.lines] == ["Line 3", "Line 4", "Line 5", "Line 6"]
    assert "ghost_user_x" in caught.value.lines[0]
    assert _roll(session, poll.id) == {owner.id: 1.0}


@pytest.mark.parametrize("text", ["", "\n\n", "alice,bob\n"])
def test_csv_without_a_header_is_refused(session, make_user, make_poll, text):
    owner = make_user()
    poll = make_poll(owner, visibility="private").poll
    with pytest.raises(rolls.RollCsvError):
        rolls.import_csv(session=session, user=owner, poll_id=poll.id, text=text)


@pytest.mark.skipif(rolls.TAKES_EMAIL, reason="the roll takes emails (guests branch): see the test below")
def test_voters_by_email_are_refused_readably_until_invitations_exist(session, make_user, make_poll):
    owner = make_user()
    poll = make_poll(owner, visibility="private").poll
    with pytest.raises(InvalidInput, match="by email"):
        rolls.add_voter(session=session, user=owner, poll_id=poll.id, who="zoe@example.org")
    with pytest.raises(rolls.RollCsvError) as caught:
        rolls.import_csv(session=session, user=owner, poll_id=poll.id, text="email,name,weight\nzoe@example.org,,1\n")
    assert "Line 2" in caught.value.lines[0]


@pytest.mark.skipif(not rolls.TAKES_EMAIL, reason="the roll takes accounts only until the guests branch is merged")
def test_voters_by_email_join_the_roll_and_export_with_their_address(session, make_user, make_poll):
    owner, ann = make_user(), make_user()
    poll = make_poll(owner, visibility="private").poll
    rolls.add_voter(session=session, user=owner, poll_id=poll.id, who="zoe@example.org", weight="2")
    rolls.import_csv(session=session, user=owner, poll_id=poll.id, text=f"email,name,weight\nyan@example.org,,1\n,{ann.username},1\n")
    rows = {r["key"]: r for r in rolls.roll_rows(session=session, user=owner, poll_id=poll.id)}
    assert set(rows) == {"zoe@example.org", "yan@example.org", ann.username}
    assert rows["zoe@example.org"]["weight"] == 2.0 and rows["zoe@example.org"]["username"] == ""
    assert "zoe@example.org,,2" in rolls.export_csv(session=session, user=owner, poll_id=poll.id).splitlines()
    rolls.remove_voter(session=session, user=owner, poll_id=poll.id, key="ZOE@example.org")
    assert {r["key"] for r in rolls.roll_rows(session=session, user=owner, poll_id=poll.id)} == {"yan@example.org", ann.username}


def test_exported_cells_do_not_run_as_spreadsheet_formulas():
    assert rolls._safe_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert rolls._unquote(rolls._safe_cell("@x")) == "@x"
    assert rolls._unquote("'plain") == "'plain"


def test_creator_always_sees_and_manages_her_private_poll(session, make_user, make_poll):
    owner, stranger = make_user(), make_user()
    poll = make_poll(owner, visibility="private").poll
    assert polls.get_visible_poll(session=session, poll_id=poll.id, user=owner).id == poll.id
    assert rolls.roll_rows(session=session, user=owner, poll_id=poll.id) == []
    with pytest.raises(NotFound):
        polls.get_visible_poll(session=session, poll_id=poll.id, user=stranger)


def test_preview_shows_public_and_unlisted_polls_but_not_private_ones(session, make_user, make_poll):
    owner = make_user()
    public = make_poll(owner, title="Picnic day", options=["Sat", "Sun"]).poll
    unlisted = make_poll(owner, visibility="unlisted").poll
    private = make_poll(owner, title="Secret board vote", visibility="private").poll
    shown = polls.preview_poll(session=session, poll_id=public.id)
    assert (shown.visible, shown.title, shown.options, shown.status) == (True, "Picnic day", ["Sat", "Sun"], "open")
    assert polls.preview_poll(session=session, poll_id=unlisted.id).visible
    hidden = polls.preview_poll(session=session, poll_id=private.id)
    missing = polls.preview_poll(session=session, poll_id="no-such-poll-id")
    assert (hidden.visible, hidden.title, hidden.options) == (False, "", [])
    assert (missing.visible, missing.title) == (False, "")


def test_join_code_finds_the_poll_and_unknown_codes_are_refused(session, make_user, make_poll):
    owner = make_user()
    poll = make_poll(owner).poll
    code = polls.join_code_of(poll)
    assert polls.find_by_join_code(session=session, code=f" {code.lower()} ", address="203.0.113.9") == poll.id
    for bad in ["", "nope!", "9" * 40, "ZZZZ99"]:
        with pytest.raises(NotFound, match="No poll has this join code"):
            polls.find_by_join_code(session=session, code=bad, address="203.0.113.9")


def test_join_codes_are_rate_limited_per_address(session, make_user, make_poll, rate_limits):
    rate_limits(join="3/minute")
    owner = make_user()
    poll = make_poll(owner).poll
    for _ in range(3):
        with pytest.raises(NotFound):
            polls.find_by_join_code(session=session, code="ZZZZ99", address="198.51.100.7")
    with pytest.raises(RateLimited):
        polls.find_by_join_code(session=session, code=polls.join_code_of(poll), address="198.51.100.7")
    assert polls.find_by_join_code(session=session, code=polls.join_code_of(poll), address="198.51.100.8") == poll.id



@pytest.mark.parametrize("target", [
    "https://evil.example", "//evil.example", "/\\evil.example", "\\\\evil.example", "/\t/evil.example",
    "/\n/evil.example", "javascript:alert(1)", "evil.example", "", None, "https:/evil.example",
])
def test_next_refuses_other_sites(target):
    assert safe_next(target) == "/polls"


@pytest.mark.parametrize("target", ["/polls/12", "/polls/12/results", "/dashboard?x=1"])
def test_next_keeps_same_site_paths(target):
    assert safe_next(target) == target


def test_qr_code_is_an_svg_data_uri():
    assert qr_svg_data_uri("http://localhost:3000/polls/1").startswith("data:image/svg+xml")


def test_a_long_roll_shows_its_first_voters_and_counts_all(session, make_user, make_poll, monkeypatch):
    from commons_app.pages import roll_editor

    monkeypatch.setattr(roll_editor, "ROWS_SHOWN", 2)
    owner, voters = make_user(), [make_user() for _ in range(3)]
    poll = make_poll(owner, visibility="private", voters=[(v, 1.0) for v in voters]).poll
    ctx = roll_editor.roll_context(session=session, user=owner, poll_id=poll.id)
    assert (ctx["total"], len(ctx["rows"]), ctx["voted"]) == (3, 2, 0)
    with pytest.raises(Forbidden):  # on the roll: sees the poll, may not manage it
        roll_editor.roll_context(session=session, user=voters[0], poll_id=poll.id)
