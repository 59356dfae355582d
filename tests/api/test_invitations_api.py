"""Rolls by email, invitations with personal links, reminders, voters without an account and
link polls, through the API and the services the browser uses."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlmodel import SQLModel, select

from commons_app import jobs
from commons_app.models import AuthSession, InvitationToken, OutboxMail, Poll, User, utcnow
from commons_app.services import auth, guests, invitations, polls, votes
from commons_app.services.errors import Conflict, Forbidden, NotAuthenticated, NotFound, RateLimited
from commons_app.services.votes import BallotInput
from tests import factories
from tests.factories import assert_error, row_counts

LINK = re.compile(r"^(https?://\S+/v/([A-Za-z0-9_-]+))$", re.MULTILINE)


@pytest.fixture
def owner_headers(user, auth_headers):
    return auth_headers(user)


def private_poll(client, headers, **fields):
    body, options = factories.api_poll(client, headers, visibility="private", **fields)
    return body["id"], options


def put_roll(client, headers, poll_id, voters):
    return client.put(f"/api/polls/{poll_id}/voters", headers=headers, json={"voters": voters})


def mails(session, poll_id, kind="invitation"):
    session.expire_all()
    return session.exec(
        select(OutboxMail).where(OutboxMail.poll_id == str(poll_id), OutboxMail.kind == kind).order_by(OutboxMail.id)
    ).all()


def token_in(mail: OutboxMail) -> str:
    """The token of the link that stands on a line of its own in the mail's text."""
    found = LINK.findall(mail.body)
    assert len(found) == 1, mail.body
    return found[0][1]


def guest_vote(session, token, option_id):
    """What the /v/<token> page does: exchange the link for a guest's browser session, then vote
    (or change the ballot) as that session's user."""
    guest_pass = guests.open_invitation(session=session, token=token)
    identity = auth.identify_browser(session=session, credential=guest_pass.credential, allow_guest=True)
    if votes.has_voted(session=session, user=identity.user, poll_id=guest_pass.poll_id):
        return votes.change_ballot(
            session=session, user=identity.user, poll_id=guest_pass.poll_id, ballot=BallotInput(option_id=option_id)
        )
    return votes.cast_ballot(session=session, user=identity.user, poll_id=guest_pass.poll_id, ballot=BallotInput(option_id=option_id))


# --- the roll by username and by email ---------------------------------------------------------------
def test_a_private_polls_roll_by_username_and_by_email(client, session, user, owner_headers, make_user):
    member, member_by_mail = make_user(), make_user()
    poll_id, _ = private_poll(client, owner_headers)
    response = put_roll(client, owner_headers, poll_id, [
        {"username": member.username, "weight": 2},
        {"email": "Newcomer@Example.org"},
        {"email": member_by_mail.email.upper()},
    ])
    assert response.status_code == 200, response.text
    roll = client.get(f"/api/polls/{poll_id}/voters", headers=owner_headers).json()["voters"]
    by_email = {v["email"].lower(): v for v in roll if v["email"]}
    assert set(by_email) == {"newcomer@example.org", member_by_mail.email.lower()}
    # An address with no account: a voter without one (no username); an account's address: that account.
    assert by_email["newcomer@example.org"]["username"] is None
    assert by_email[member_by_mail.email.lower()]["username"] == member_by_mail.username
    assert next(v for v in roll if v["username"] == member.username)["weight"] == 2.0

    # The same roll again keeps the same voters (a guest is not made twice).
    before = {v["user_id"] for v in roll}
    again = put_roll(client, owner_headers, poll_id, [
        {"username": member.username, "weight": 2}, {"email": "newcomer@example.org"}, {"email": member_by_mail.email},
    ])
    assert again.status_code == 200, again.text
    assert {v["user_id"] for v in again.json()["voters"]} == before
    # Guests are not accounts: hidden from the admin's list, and no log-in reaches them.
    admin = make_user(role="admin")
    listed, _ = auth.list_users(session=session, actor=admin, limit=500)
    assert all(u.role != "guest" for u in listed)


@pytest.mark.parametrize("bad", [
    [{"weight": 2}],
    [{"email": "not an address"}],
    [{"email": "a@example.org"}, {"email": "A@example.org"}],
    [{"username": "nobody-here-at-all"}],
])
def test_bad_roll_entries_are_refused_and_change_nothing(client, engine, owner_headers, bad):
    poll_id, _ = private_poll(client, owner_headers)
    assert put_roll(client, owner_headers, poll_id, [{"email": "keep@example.org"}]).status_code == 200
    counts = row_counts(engine)
    assert_error(put_roll(client, owner_headers, poll_id, bad), 422)
    assert row_counts(engine) == counts


def test_a_guest_who_voted_keeps_place_and_weight(client, session, owner_headers):
    poll_id, options = private_poll(client, owner_headers)
    put_roll(client, owner_headers, poll_id, [{"email": "ann@example.org"}])
    client.post(f"/api/polls/{poll_id}/invitations", headers=owner_headers)
    guest_vote(session, token_in(mails(session, poll_id)[0]), options["Apple"])
    assert_error(put_roll(client, owner_headers, poll_id, []), 409)
    assert_error(put_roll(client, owner_headers, poll_id, [{"email": "ann@example.org", "weight": 3}]), 409)
    roll = client.get(f"/api/polls/{poll_id}/voters", headers=owner_headers).json()["voters"]
    assert [(v["email"], v["has_voted"], v["weight"]) for v in roll] == [("ann@example.org", True, 1.0)]


def test_an_anonymous_polls_guest_weights_follow_the_anonymity_rules(client, owner_headers):
    poll_id, _ = private_poll(client, owner_headers, anonymous=True, anonymity_threshold=2)
    lonely = [{"email": "a@example.org", "weight": 5}, {"email": "b@example.org"}, {"email": "c@example.org"}]
    assert_error(put_roll(client, owner_headers, poll_id, lonely), 422)
    assert put_roll(client, owner_headers, poll_id, [{"email": "a@example.org"}, {"email": "b@example.org"}]).status_code == 200
    assert_error(put_roll(client, owner_headers, poll_id, [{"email": "a@example.org", "weight": 2}, {"email": "b@example.org", "weight": 2}]), 409)


# --- invitations and personal links ----------------------------------------------------------------------
def test_invitations_mail_one_personal_link_to_each_address_once(client, session, owner_headers, make_user, other_user):
    member_by_mail = make_user()
    poll_id, options = private_poll(client, owner_headers)
    put_roll(client, owner_headers, poll_id, [
        {"username": other_user.username},  # no address: not invited
        {"email": "ann@example.org"}, {"email": "bob@example.org"}, {"email": member_by_mail.email},
    ])
    response = client.post(f"/api/polls/{poll_id}/invitations", headers=owner_headers)
    assert response.status_code == 202 and response.json() == {"queued": 3}
    assert client.post(f"/api/polls/{poll_id}/invitations", headers=owner_headers, json={}).json() == {"queued": 0}
    sent = mails(session, poll_id)
    assert sorted(m.to_address.lower() for m in sent) == sorted(["ann@example.org", "bob@example.org", member_by_mail.email.lower()])
    tokens = [token_in(m) for m in sent]
    assert len(set(tokens)) == 3 and all(len(t) >= 43 for t in tokens)  # 256 random bits each
    listing = client.get(f"/api/polls/{poll_id}/invitations", headers=owner_headers).json()
    assert listing["total"] == 3
    assert {(i["status"], i["attempts"], i["last_error"], i["sent_at"]) for i in listing["items"]} == {("queued", 0, None, None)}
    roll = client.get(f"/api/polls/{poll_id}/voters", headers=owner_headers).json()["voters"]
    assert sorted(str(v["invitation"]) for v in roll) == ["None", "queued", "queued", "queued"]

    # Each guest's link casts a ballot that counts once; a second use changes it.
    by_address = {m.to_address: token_in(m) for m in sent}
    guest_vote(session, by_address["ann@example.org"], options["Apple"])
    guest_vote(session, by_address["bob@example.org"], options["Banana"])
    guest_vote(session, by_address["ann@example.org"], options["Cherry"])
    tally = client.get(f"/api/polls/{poll_id}/results", headers=owner_headers).json()
    assert tally["total_ballots"] == 2
    assert {o["text"]: o["votes"] for o in tally["options"]} == {"Apple": 0, "Banana": 1, "Cherry": 1}
    # A link naming an account is no way into it: the account logs in to vote.
    with pytest.raises(guests.AccountInvitation):
        guests.open_invitation(session=session, token=by_address[member_by_mail.email])

    # Resend: new links for everyone; the earlier ones stop working.
    assert client.post(f"/api/polls/{poll_id}/invitations", headers=owner_headers, json={"resend": True}).json() == {"queued": 3}
    with pytest.raises(NotFound):
        guests.open_invitation(session=session, token=by_address["bob@example.org"])
    fresh = {m.to_address: token_in(m) for m in mails(session, poll_id)[3:]}
    guest_vote(session, fresh["bob@example.org"], options["Apple"])
    tally = client.get(f"/api/polls/{poll_id}/results", headers=owner_headers).json()
    assert tally["total_ballots"] == 2
    assert {o["text"]: o["votes"] for o in tally["options"]} == {"Apple": 1, "Banana": 0, "Cherry": 1}


def test_links_are_stored_only_hashed(client, session, engine, owner_headers):
    poll_id, _ = private_poll(client, owner_headers)
    put_roll(client, owner_headers, poll_id, [{"email": "ann@example.org"}, {"email": "bob@example.org"}])
    client.post(f"/api/polls/{poll_id}/invitations", headers=owner_headers)
    tokens = [token_in(m) for m in mails(session, poll_id)]
    session.commit()
    outbox_table = OutboxMail.__tablename__
    found: dict[str, list[str]] = {}
    with engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            if table.name == outbox_table:
                continue  # the mail itself must carry the link until it is sent
            for row in conn.execute(table.select()).all():
                dump = " ".join(str(value) for value in row)
                for token in tokens:
                    if token in dump:
                        found.setdefault(table.name, []).append(token)
    assert found == {}
    hashes = set(session.exec(select(InvitationToken.token_hash)).all())
    assert hashes == {guests.hash_token(t) for t in tokens}


def test_a_link_is_refused_once_the_poll_closes_or_when_malformed(client, session, owner_headers):
    poll_id, _options = private_poll(client, owner_headers)
    put_roll(client, owner_headers, poll_id, [{"email": "ann@example.org"}])
    client.post(f"/api/polls/{poll_id}/invitations", headers=owner_headers)
    token = token_in(mails(session, poll_id)[0])
    for bad in ("", "x" * 500, token[:-1] + ("A" if token[-1] != "A" else "B"), "../../etc"):
        with pytest.raises(NotFound):
            guests.open_invitation(session=session, token=bad)
    assert client.post(f"/api/polls/{poll_id}/close", headers=owner_headers).status_code == 200
    with pytest.raises(Forbidden, match="closed"):
        guests.open_invitation(session=session, token=token)
    assert_error(client.post(f"/api/polls/{poll_id}/invitations", headers=owner_headers), 409)
    assert_error(client.post(f"/api/polls/{poll_id}/reminders", headers=owner_headers), 409)


def test_a_removed_voters_link_stops_working(client, session, owner_headers):
    poll_id, _ = private_poll(client, owner_headers)
    put_roll(client, owner_headers, poll_id, [{"email": "ann@example.org"}])
    client.post(f"/api/polls/{poll_id}/invitations", headers=owner_headers)
    token = token_in(mails(session, poll_id)[0])
    guest_pass = guests.open_invitation(session=session, token=token)
    put_roll(client, owner_headers, poll_id, [])
    with pytest.raises(NotFound):
        guests.open_invitation(session=session, token=token)
    with pytest.raises(NotAuthenticated):  # the guest is gone, with its sessions
        auth.identify_browser(session=session, credential=guest_pass.credential, allow_guest=True)


def test_invitations_and_reminders_are_for_managers_only(client, owner_headers, other_user, auth_headers):
    poll_id, _ = factories.api_poll(client, owner_headers)[0]["id"], None
    other = auth_headers(other_user)
    for path in ("invitations", "reminders"):
        assert_error(client.post(f"/api/polls/{poll_id}/{path}", headers=other), 403)
        assert_error(client.post(f"/api/polls/{poll_id}/{path}"), 401)
    assert_error(client.get(f"/api/polls/{poll_id}/invitations", headers=other), 403)
    private_id, _ = private_poll(client, owner_headers)
    assert_error(client.post(f"/api/polls/{private_id}/invitations", headers=other), 404)
    assert_error(client.post(f"/api/polls/{private_id}/invitations", headers=owner_headers, json={"resend": "yes"}), 422)


# --- a guest is nobody outside its ballot ------------------------------------------------------------------
def test_a_guest_credential_opens_only_its_ballot(client, session, owner_headers, user):
    poll_id, _ = private_poll(client, owner_headers)
    other_poll = factories.make_poll(session, user)  # public: any account could vote in it
    put_roll(client, owner_headers, poll_id, [{"email": "ann@example.org"}])
    client.post(f"/api/polls/{poll_id}/invitations", headers=owner_headers)
    guest_pass = guests.open_invitation(session=session, token=token_in(mails(session, poll_id)[0]))
    with pytest.raises(NotAuthenticated):  # every page but the ballot asks without allow_guest
        auth.identify_browser(session=session, credential=guest_pass.credential)
    guest = auth.identify_browser(session=session, credential=guest_pass.credential, allow_guest=True).user
    assert polls.get_visible_poll(session=session, poll_id=poll_id, user=guest).id == poll_id
    with pytest.raises(NotFound):
        polls.get_visible_poll(session=session, poll_id=other_poll.poll.id, user=guest)
    with pytest.raises(NotFound):
        votes.cast_ballot(session=session, user=guest, poll_id=other_poll.poll.id, ballot=BallotInput(option_id=other_poll.options[0].id))
    with pytest.raises(NotAuthenticated):  # no password opens a guest, not even an empty one
        auth.authenticate(session=session, username=guest.username, password="")
    with pytest.raises(NotAuthenticated):
        auth.authenticate(session=session, username="ann@example.org", password="!")
    assert auth.find_user_by_username(session=session, username=guest.username) is None


# --- reminders -------------------------------------------------------------------------------------------
def test_reminders_reach_only_invited_voters_who_have_not_voted(client, session, owner_headers, make_user):
    member = make_user()
    poll_id, options = private_poll(client, owner_headers)
    put_roll(client, owner_headers, poll_id, [
        {"email": "ann@example.org"}, {"email": "bob@example.org"}, {"email": "cat@example.org"},
        {"username": member.username},  # on the roll, never invited: no reminder either
    ])
    client.post(f"/api/polls/{poll_id}/invitations", headers=owner_headers)
    links = {m.to_address: token_in(m) for m in mails(session, poll_id)}
    guest_vote(session, links["ann@example.org"], options["Apple"])
    response = client.post(f"/api/polls/{poll_id}/reminders", headers=owner_headers)
    assert response.status_code == 202 and response.json() == {"queued": 2}
    reminders = mails(session, poll_id, kind="reminder")
    assert sorted(m.to_address for m in reminders) == ["bob@example.org", "cat@example.org"]
    # A reminder's link works beside the invitation's, for the same voter.
    guest_vote(session, token_in(reminders[0]), options["Banana"])
    guest_vote(session, links[reminders[0].to_address], options["Cherry"])
    assert client.get(f"/api/polls/{poll_id}/results", headers=owner_headers).json()["total_ballots"] == 2


def test_automatic_reminders_go_once_before_the_poll_closes(client, session, owner_headers):
    closes = utcnow() + timedelta(hours=30)
    poll_id, options = private_poll(client, owner_headers, closes_at=closes.isoformat(), remind_before_hours=24)
    assert client.get(f"/api/polls/{poll_id}", headers=owner_headers).json()["remind_before_hours"] == 24
    put_roll(client, owner_headers, poll_id, [{"email": "ann@example.org"}, {"email": "bob@example.org"}])
    client.post(f"/api/polls/{poll_id}/invitations", headers=owner_headers)
    guest_vote(session, token_in(mails(session, poll_id)[0]), options["Apple"])
    assert invitations.send_due_reminders(session=session, now=utcnow()) == 0  # not due yet
    due = closes - timedelta(hours=23)
    assert invitations.send_due_reminders(session=session, now=due) == 1
    assert invitations.send_due_reminders(session=session, now=due + timedelta(minutes=5)) == 0
    assert [m.to_address for m in mails(session, poll_id, kind="reminder")] == [mails(session, poll_id)[1].to_address]
    assert_error(client.patch(f"/api/polls/{poll_id}", headers=owner_headers, json={"remind_before_hours": 0}), 422)
    # The job queue runs it (the app and `python -m commons_app worker` both import JOB_MODULES).
    assert {"automatic_reminders"} <= {job.name for job in jobs.periodic_jobs()}
    invitations.run_due_reminders()  # nothing more is due
    assert len(mails(session, poll_id, kind="reminder")) == 1


# --- link polls --------------------------------------------------------------------------------------------
def test_a_link_poll_takes_one_ballot_per_browser_without_accounts(client, session, owner_headers, user):
    body, options = factories.api_poll(client, owner_headers, access="link")
    assert body["access"] == "link"
    account_poll = factories.make_poll(session, user)
    credentials = [guests.start_link_guest(session=session, poll_id=body["id"], address="203.0.113.9").credential for _ in range(5)]
    for i, credential in enumerate(credentials):
        guest = auth.identify_browser(session=session, credential=credential, allow_guest=True).user
        assert polls.get_visible_poll(session=session, poll_id=body["id"], user=guest).id == body["id"]
        with pytest.raises(NotFound):
            polls.get_visible_poll(session=session, poll_id=account_poll.poll.id, user=guest)
        votes.cast_ballot(session=session, user=guest, poll_id=body["id"], ballot=BallotInput(option_id=options["Apple" if i % 2 else "Banana"]))
        with pytest.raises(Exception, match="already voted"):
            votes.cast_ballot(session=session, user=guest, poll_id=body["id"], ballot=BallotInput(option_id=options["Cherry"]))
        with pytest.raises(NotFound):  # a link guest votes in link polls only
            votes.cast_ballot(session=session, user=guest, poll_id=account_poll.poll.id, ballot=BallotInput(option_id=account_poll.options[0].id))
    tally = client.get(f"/api/polls/{body['id']}/results", headers=owner_headers).json()
    assert tally["total_ballots"] == 5
    with pytest.raises(NotFound):  # an account poll makes no guests
        guests.start_link_guest(session=session, poll_id=account_poll.poll.id, address="203.0.113.9")
    # A link poll cannot be private: anyone with the link votes.
    assert_error(client.post("/api/polls/", headers=owner_headers, json={
        "title": "x", "options": ["a", "b"], "visibility": "private", "access": "link"}), 422)
    # Access is fixed once ballots exist.
    assert_error(client.patch(f"/api/polls/{body['id']}", headers=owner_headers, json={"access": "account"}), 409)


def test_deleting_a_poll_deletes_its_guests(client, session, owner_headers):
    poll_id, _ = private_poll(client, owner_headers)
    put_roll(client, owner_headers, poll_id, [{"email": "ann@example.org"}])
    assert client.delete(f"/api/polls/{poll_id}", headers=owner_headers).status_code == 204
    session.expire_all()
    assert session.exec(select(User).where(User.role == "guest")).all() == []
    assert session.exec(select(InvitationToken)).all() == []


def test_a_closed_polls_link_guest_cannot_vote(client, session, owner_headers):
    body, options = factories.api_poll(client, owner_headers, access="link")
    credential = guests.start_link_guest(session=session, poll_id=body["id"]).credential
    guest = auth.identify_browser(session=session, credential=credential, allow_guest=True).user
    client.post(f"/api/polls/{body['id']}/close", headers=owner_headers)
    with pytest.raises(Forbidden):
        votes.cast_ballot(session=session, user=guest, poll_id=body["id"], ballot=BallotInput(option_id=options["Apple"]))
    session.expire_all()
    assert polls.poll_status(session.get(Poll, body["id"])) == "closed"
    assert client.get(f"/api/polls/{body['id']}/results", headers=owner_headers).json()["total_ballots"] == 0


def test_a_room_of_200_behind_one_address_joins_a_link_poll_under_the_default_limits(client, session, owner_headers, rate_limits):
    rate_limits()  # every limit on, at its default
    body, options = factories.api_poll(client, owner_headers, access="link")
    for i in range(200):
        credential = guests.start_link_guest(session=session, poll_id=body["id"], address="198.51.100.7").credential
        guest = auth.identify_browser(session=session, credential=credential, allow_guest=True).user
        votes.cast_ballot(session=session, user=guest, poll_id=body["id"], ballot=BallotInput(option_id=options["Apple" if i % 3 else "Banana"]))
    assert client.get(f"/api/polls/{body['id']}/results", headers=owner_headers).json()["total_ballots"] == 200


def test_new_guests_per_address_are_limited(client, session, owner_headers, rate_limits, engine):
    rate_limits(link_guest="3/hour")
    body, _ = factories.api_poll(client, owner_headers, access="link")
    for _ in range(3):
        guests.start_link_guest(session=session, poll_id=body["id"], address="198.51.100.8")
    counts = row_counts(engine)
    with pytest.raises(RateLimited):
        guests.start_link_guest(session=session, poll_id=body["id"], address="198.51.100.8")
    assert row_counts(engine) == counts
    guests.start_link_guest(session=session, poll_id=body["id"], address="198.51.100.9")  # another address


def test_an_invitee_with_an_account_attaches_the_invitation_before_voting(client, session, owner_headers, make_user, auth_headers):
    member, other = make_user(), make_user()
    poll_id, options = private_poll(client, owner_headers)
    put_roll(client, owner_headers, poll_id, [{"email": "ann@example.org", "weight": 2}, {"email": "bob@example.org"}, {"username": other.username}])
    client.post(f"/api/polls/{poll_id}/invitations", headers=owner_headers)
    links = {m.to_address: token_in(m) for m in mails(session, poll_id)}
    with pytest.raises(Conflict):  # already on the roll
        guests.attach_invitation(session=session, user=other, token=links["ann@example.org"])
    assert guests.attach_invitation(session=session, user=member, token=links["ann@example.org"]) == poll_id
    roll = {v["email"]: v for v in client.get(f"/api/polls/{poll_id}/voters", headers=owner_headers).json()["voters"]}
    assert (roll["ann@example.org"]["username"], roll["ann@example.org"]["weight"]) == (member.username, 2.0)
    with pytest.raises(guests.AccountInvitation):  # the link now asks the account to log in
        guests.open_invitation(session=session, token=links["ann@example.org"])
    vote = factories.api_vote(client, auth_headers(member), poll_id, option_id=options["Apple"])
    assert vote.status_code == 201 and vote.json()["weight"] == 2.0
    # A ballot cast through a link stays with it.
    guest_vote(session, links["bob@example.org"], options["Banana"])
    with pytest.raises(Conflict):
        guests.attach_invitation(session=session, user=make_user(), token=links["bob@example.org"])
    assert client.get(f"/api/polls/{poll_id}/results", headers=owner_headers).json()["total_ballots"] == 2


def test_the_ballot_export_names_an_invitee_by_address(client, session, owner_headers):
    poll_id, options = private_poll(client, owner_headers)
    put_roll(client, owner_headers, poll_id, [{"email": "ann@example.org"}])
    client.post(f"/api/polls/{poll_id}/invitations", headers=owner_headers)
    guest_vote(session, token_in(mails(session, poll_id)[0]), options["Cherry"])
    rows = client.get(f"/api/polls/{poll_id}/ballots", headers=owner_headers).json()
    assert [(r["username"], r["option_id"]) for r in rows] == [("ann@example.org", options["Cherry"])]


def test_invitations_sent_twice_at_once_mail_each_address_once(client, session, engine, owner_headers, user, run_in_threads):
    from sqlmodel import Session

    poll_id, _ = private_poll(client, owner_headers)
    put_roll(client, owner_headers, poll_id, [{"email": f"v{i}@example.org"} for i in range(5)])

    def send() -> int:
        with Session(engine, expire_on_commit=False) as own:
            return invitations.send_invitations(session=own, user=own.get(User, user.id), poll_id=poll_id)

    outcomes = run_in_threads(send, send)
    assert not [o for o in outcomes if isinstance(o, BaseException) and "locked" not in str(o)], outcomes
    sent = mails(session, poll_id)
    assert sorted(m.to_address for m in sent) == [f"v{i}@example.org" for i in range(5)]
    # Every mailed link works; no stored link lacks its mail.
    for mail in sent:
        assert guests.open_invitation(session=session, token=token_in(mail)).poll_id == poll_id
    rows = session.exec(select(InvitationToken).where(InvitationToken.poll_id == poll_id)).all()
    assert sorted(r.mail_id for r in rows) == sorted(m.id for m in sent)


@pytest.fixture
def smtp(monkeypatch):
    """A real SMTP server (aiosmtpd) with the app's SMTP_URL aimed at it."""
    from tests.conftest import clear_caches
    from tests.mail.conftest import SmtpServer, free_port

    server = SmtpServer(port=free_port())
    server.start()
    monkeypatch.setenv("SMTP_URL", server.url)
    monkeypatch.setenv("MAIL_FROM", "The Commons <polls@commons.example>")
    clear_caches()
    try:
        yield server
    finally:
        server.stop()


def test_a_real_smtp_server_receives_one_invitation_per_invitee_with_its_link(client, session, owner_headers, smtp):
    from commons_app.services import mailer

    poll_id, _options = private_poll(client, owner_headers)
    invitees = ["ann@example.org", "bob@example.org", "cat@example.org"]
    put_roll(client, owner_headers, poll_id, [{"email": e} for e in invitees])
    assert client.post(f"/api/polls/{poll_id}/invitations", headers=owner_headers).json() == {"queued": 3}
    report = mailer.send_due(settings=mailer.MailerSettings(max_attempts=3, retry_seconds=0.3, lease_seconds=30, batch=10, smtp_timeout=5))
    assert report.sent == 3
    assert sorted(r.rcpt_tos[0] for r in smtp.received) == invitees and all(len(r.rcpt_tos) == 1 for r in smtp.received)
    for received in smtp.received:
        assert received.message.get_content_type() == "text/plain"
        [(link, token)] = LINK.findall(received.text)  # the link on a line of its own
        assert link.endswith(f"/v/{token}")
        assert guests.open_invitation(session=session, token=token).poll_id == poll_id
    listing = client.get(f"/api/polls/{poll_id}/invitations", headers=owner_headers).json()["items"]
    assert {(i["status"], i["attempts"]) for i in listing} == {("sent", 1)} and all(i["sent_at"] for i in listing)
    roll = client.get(f"/api/polls/{poll_id}/voters", headers=owner_headers).json()["voters"]
    assert {v["invitation"] for v in roll} == {"sent"}


# --- the browser's HTTP routes: the session cookie a guest gets -------------------------------------------
def guest_sessions(session) -> int:
    session.expire_all()
    return len(session.exec(select(AuthSession).join(User, AuthSession.user_id == User.id).where(User.role == "guest")).all())


def test_a_personal_link_post_sets_an_httponly_cookie_and_opens_the_ballot(client, session, owner_headers):
    poll_id, _ = private_poll(client, owner_headers)
    put_roll(client, owner_headers, poll_id, [{"email": "ann@example.org"}])
    client.post(f"/api/polls/{poll_id}/invitations", headers=owner_headers)
    token = token_in(mails(session, poll_id)[0])
    answer = client.post("/api/browser/invitation", data={"token": token}, headers={"Origin": "http://testserver"},
                         follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == f"/polls/{poll_id}"
    cookie = answer.headers["set-cookie"]
    assert "commons_session=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    credential = client.cookies.get("commons_session")
    identity = auth.identify_browser(session=session, credential=credential, allow_guest=True)
    assert identity.user.role == "guest" and identity.user.guest_poll_id == poll_id
    with pytest.raises(NotAuthenticated, match="Please log in"):  # off the ballot page it is no one
        auth.identify_browser_session(session=session, session_id=identity.session_id)
    assert auth.identify_browser_session(session=session, session_id=identity.session_id, allow_guest=True).user.id == identity.user.id


def test_link_posts_from_other_sites_or_with_bad_links_open_no_session(client, session, owner_headers, make_user):
    poll_id, _ = private_poll(client, owner_headers)
    account = make_user()
    put_roll(client, owner_headers, poll_id, [{"email": "ann@example.org"}, {"email": account.email}])
    client.post(f"/api/polls/{poll_id}/invitations", headers=owner_headers)
    tokens = {i: token_in(m) for i, m in enumerate(mails(session, poll_id))}
    link_body, _ = factories.api_poll(client, owner_headers, access="link")

    def post(route, data, origin="http://testserver", *, session_expected=False):
        client.cookies.clear()
        answer = client.post(route, data=data, headers={"Origin": origin}, follow_redirects=False)
        assert answer.status_code == 303, answer.text
        assert ("commons_session" in answer.headers.get("set-cookie", "")) == session_expected
        return answer.headers["location"]

    for token in tokens.values():  # a cross-site post (log-in CSRF into a guest) is refused
        assert post("/api/browser/invitation", {"token": token}, "https://evil.example").endswith("?error=origin")
    assert post("/api/browser/link-guest", {"poll": link_body["id"]}, "https://evil.example").endswith("?error=origin")
    assert post("/api/browser/invitation", {"token": "not-a-real-token"}) == "/v/not-a-real-token?error=invalid"
    assert post("/api/browser/link-guest", {"poll": poll_id}) == f"/polls/{poll_id}?error=invalid"  # not a link poll
    assert guest_sessions(session) == 0
    # The account's link is no way into the account: it asks to log in.
    answers = {}
    for token in tokens.values():
        client.cookies.clear()
        answers[token] = client.post("/api/browser/invitation", data={"token": token}, follow_redirects=False).headers["location"]
    assert sorted(answers.values()) == sorted([f"/login?next=/polls/{poll_id}", f"/polls/{poll_id}"])
    assert guest_sessions(session) == 1  # ann's link opened her ballot
    client.post(f"/api/polls/{poll_id}/close", headers=owner_headers)
    before = guest_sessions(session)
    assert {post("/api/browser/invitation", {"token": t}) for t in tokens.values()} == {f"/v/{t}?error=closed" for t in tokens.values()}
    assert guest_sessions(session) == before


def test_vote_without_an_account_post_makes_one_guest_per_browser_within_the_address_limit(client, session, owner_headers, rate_limits):
    rate_limits(link_guest="2/hour")
    body, _options = factories.api_poll(client, owner_headers, access="link")
    users = set()
    for _ in range(2):
        client.cookies.clear()
        answer = client.post("/api/browser/link-guest", data={"poll": body["id"]}, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == f"/polls/{body['id']}"
        assert "HttpOnly" in answer.headers["set-cookie"]
        users.add(auth.identify_browser(session=session, credential=client.cookies.get("commons_session"), allow_guest=True).user.id)
    assert len(users) == 2
    client.cookies.clear()
    answer = client.post("/api/browser/link-guest", data={"poll": body["id"]}, follow_redirects=False)
    assert answer.headers["location"] == f"/polls/{body['id']}?error=rate_limited"
    assert "commons_session" not in answer.headers.get("set-cookie", "")
    assert guest_sessions(session) == 2
def test_the_roll_editor_shows_each_invitations_status_and_why_one_failed(client, session, user, other_user, owner_headers):
    from commons_app.pages.roll_editor import roll_context

    poll_id, _ = private_poll(client, owner_headers)
    roll = [{"username": other_user.username}, {"email": "ann.status@example.org"}, {"email": "bob.status@example.org"}]
    assert put_roll(client, owner_headers, poll_id, roll).status_code == 200
    assert client.post(f"/api/polls/{poll_id}/invitations", headers=owner_headers).json() == {"queued": 2}
    assert put_roll(client, owner_headers, poll_id, [*roll, {"email": "cal.status@example.org"}]).status_code == 200
    # What the sender records when the server refuses the address for good (tests/mail/test_mailer.py).
    bob = next(m for m in mails(session, poll_id) if m.to_address == "bob.status@example.org")
    bob.status, bob.last_error = "failed", "550 5.1.1 No such user"
    session.add(bob)
    session.commit()

    rows = {r["key"]: r["invite_text"] for r in roll_context(session=session, user=user, poll_id=poll_id)["rows"]}
    assert rows == {
        other_user.username: "", "ann.status@example.org": "queued",
        "bob.status@example.org": "failed: 550 5.1.1 No such user", "cal.status@example.org": "not invited",
    }
    # Only the poll's managers learn why a mail failed.
    with pytest.raises(Forbidden):
        invitations.failure_reasons(session=session, user=other_user, poll_id=poll_id)
