"""Every list that can grow is paged: the audit log (offset and keyset), a poll's roll, and the
admin and dashboard pages' loaders, which never hand out more than one bounded page."""

from __future__ import annotations

import pytest

from commons_app.components.pager import clamp_page, page_count, page_text, showing_text
from commons_app.pages import admin as admin_page
from commons_app.pages.polls import poll_rows
from commons_app.services import audit, polls
from commons_app.services.errors import Forbidden, InvalidInput, NotFound
from tests import aio, factories


def _log(session, actor, count: int) -> list[int]:
    ids = []
    for i in range(count):
        entry = audit.record_event(session=session, actor_id=actor.id, action="test.entry", target_type="test", target_id=i)
        session.commit()
        ids.append(entry.id)
    return ids


# --- the arithmetic ---------------------------------------------------------------------------------
def test_page_arithmetic():
    assert [page_count(n, 20) for n in (0, 1, 20, 21, 40, 41)] == [1, 1, 1, 2, 2, 3]
    assert clamp_page(5, 41, 20) == 2 and clamp_page(-1, 41, 20) == 0 and clamp_page(3, 0, 20) == 0
    assert page_text(1, 41, 20) == "Page 2 of 3"
    assert showing_text(2, 41, 20, "users") == "Showing 41–41 of 41 users"
    assert showing_text(0, 41, 20, "users") == "Showing 1–20 of 41 users"
    assert showing_text(0, 0, 20, "users") == "No users"


# --- audit log --------------------------------------------------------------------------------------
def test_audit_log_pages_by_offset_and_by_keyset(session, admin):
    ids = _log(session, admin, 7)
    newest_first = list(reversed(ids))

    page, total = audit.list_events(session=session, skip=2, limit=3)
    assert total == 7 and [e.id for e in page] == newest_first[2:5]

    walked: list[int] = []
    before = None
    while True:
        rows, matching = audit.list_events(session=session, limit=3, before_id=before)
        assert matching == 7 - len(walked)  # total counts what is left to walk
        if not rows:
            break
        walked += [e.id for e in rows]
        before = rows[-1].id
    assert walked == newest_first  # every entry once, newest first, whatever the log's size

    for bad in ({"skip": -1}, {"limit": 0}, {"limit": audit.LIST_LIMIT_MAX + 1}):
        with pytest.raises(InvalidInput):
            audit.list_events(session=session, **bad)


def test_actor_names_cover_any_page(session, make_user):
    first, second = make_user(), make_user()
    _log(session, first, 1)
    _log(session, second, 1)
    audit.record_event(session=session, actor_id=None, action="system", target_type="test", target_id=None)
    session.commit()
    events, _ = audit.list_events(session=session)
    assert audit.actor_names(session=session, events=events) == {first.id: first.username, second.id: second.username}
    assert audit.actor_names(session=session, events=[]) == {}


# --- a poll's roll -----------------------------------------------------------------------------------
def test_roll_pages_by_username_with_who_has_voted(session, user, make_user):
    voters = [make_user(username=f"Roll{i:02d}x{factories.random_username()[:6]}") for i in range(7)]
    view = factories.make_poll(session, user, voters=[(v, 1.0 + i) for i, v in enumerate(voters)])
    factories.vote(session, voters[3], view, option_id=view.options[0].id)
    everyone = polls.get_roll(session=session, user=user, poll_id=view.poll.id)
    assert [u.username_key for u, _, _ in everyone] == sorted(v.username_key for v in voters)

    rows, total = polls.roll_page(session=session, user=user, poll_id=view.poll.id, skip=3, limit=3)
    assert total == 7
    assert [(u.id, w.weight, voted) for u, w, voted in rows] == [(u.id, w.weight, voted) for u, w, voted in everyone[3:6]]
    assert [voted for _, _, voted in everyone] == [u.id == voters[3].id for u, _, _ in everyone]
    tail, _ = polls.roll_page(session=session, user=user, poll_id=view.poll.id, skip=6, limit=3)
    assert [u.id for u, _, _ in tail] == [everyone[6][0].id]
    assert polls.roll_page(session=session, user=user, poll_id=view.poll.id, skip=50, limit=3) == ([], 7)


def test_roll_pages_are_bounded_and_for_managers_only(session, user, other_user, admin):
    view = factories.make_poll(session, user, voters=[(other_user, 1.0)])
    for bad in ({"skip": -1, "limit": 1}, {"limit": 0}, {"limit": polls.ROLL_PAGE_MAX + 1}):
        with pytest.raises(InvalidInput):
            polls.roll_page(session=session, user=user, poll_id=view.poll.id, **bad)
    with pytest.raises(Forbidden):
        polls.roll_page(session=session, user=other_user, poll_id=view.poll.id, limit=10)
    assert polls.roll_page(session=session, user=admin, poll_id=view.poll.id, limit=10)[1] == 1
    private = factories.make_poll(session, user, visibility="private")
    with pytest.raises(NotFound):
        polls.roll_page(session=session, user=other_user, poll_id=private.poll.id, limit=10)


# --- the pages' loaders ---------------------------------------------------------------------------
def test_admin_users_page_walks_every_user(session, admin, make_user):
    size = admin_page.USERS_PAGE_SIZE
    for _ in range(size + 3):
        make_user()
    total = size + 4  # with the admin
    seen: list[int] = []
    for index in range(page_count(total, size)):
        data = admin_page.users_page(session=session, user=admin, page=index)
        assert data["total"] == total and data["page"] == index
        assert len(data["users"]) <= size
        seen += [u["id"] for u in data["users"]]
    assert sorted(seen) == sorted(set(seen)) and len(seen) == total
    # A page past the end (rows deleted meanwhile, or a crafted index) gives the last page.
    past = admin_page.users_page(session=session, user=admin, page=99)
    assert past["page"] == 1 and [u["id"] for u in past["users"]] == seen[size:]
    assert admin_page.users_page(session=session, user=admin, page=-4)["page"] == 0


def test_admin_audit_page_names_actors_off_the_users_page(session, admin, make_user):
    size = admin_page.EVENTS_PAGE_SIZE
    actor = make_user()
    _log(session, actor, size + 2)
    first = admin_page.audit_page(session=session, user=admin, page=0)
    assert first["total"] == size + 2 and len(first["events"]) == size
    assert {e["actor"] for e in first["events"]} == {actor.username}
    second = admin_page.audit_page(session=session, user=admin, page=1)
    assert len(second["events"]) == 2 and second["events"][-1]["id"] < first["events"][-1]["id"]
    assert admin_page.audit_page(session=session, user=admin, page=50)["page"] == 1


def test_admin_loaders_refuse_members(session, user):
    for loader in (admin_page.users_page, admin_page.audit_page, admin_page.admin_overview):
        with pytest.raises(Forbidden):
            loader(session=session, user=user)


def test_dashboard_rows_page_through_the_owners_polls(session, user, other_user):
    for _ in range(12):
        factories.make_poll(session, user)
    factories.make_poll(session, other_user)
    first = poll_rows(session=session, user=user, skip=0, limit=10, mine=True)
    second = poll_rows(session=session, user=user, skip=10, limit=10, mine=True)
    assert first["total"] == second["total"] == 12
    assert len(first["rows"]) == 10 and len(second["rows"]) == 2
    assert not {r["id"] for r in first["rows"]} & {r["id"] for r in second["rows"]}
    assert all(r["mine"] for r in first["rows"] + second["rows"])


class AdminTab:
    """One tab's ``AdminState`` on plain attributes, its services run in the test's session."""

    _load = admin_page.AdminState._load
    lang = "en"  # SessionState.lang: messages in English

    def __init__(self, session, user) -> None:
        self.session, self.user = session, user
        self.users, self.events, self.total, self.events_total = [], [], 0, 0
        self.users_at, self.events_at, self.search, self.refused, self.loaded = 0, 0, "", "", False

    async def _call(self, fn, **kwargs):
        return fn(session=self.session, user=self.user, **kwargs)

    def run(self, handler: str, *args) -> None:
        coroutine = getattr(admin_page.AdminState, handler).fn(self, *args)
        aio.run(coroutine, timeout=60)


def test_admin_paging_handlers_check_the_user_and_stay_on_real_pages(session, admin, user, make_user):
    for _ in range(admin_page.USERS_PAGE_SIZE):
        make_user()
    member = AdminTab(session, user)
    member.run("next_users")
    assert member.refused == "Only administrators may do this." and member.users == [] and member.total == 0
    member.run("next_events")
    assert member.events == [] and member.events_total == 0

    tab = AdminTab(session, admin)
    tab.run("on_load")
    assert (tab.users_at, tab.total, len(tab.users)) == (0, admin_page.USERS_PAGE_SIZE + 2, admin_page.USERS_PAGE_SIZE)
    tab.run("next_users")
    tab.run("next_users")  # past the last page: stays on it
    assert tab.users_at == 1 and len(tab.users) == 2
    tab.run("set_search", user.username)
    assert tab.users_at == 0 and [u["id"] for u in tab.users] == [user.id]
    tab.run("previous_users")
    assert tab.users_at == 0
