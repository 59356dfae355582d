"""``/admin``: users, roles, activation, the audit log and the mail outbox. The services check the admin role."""

from __future__ import annotations

from typing import Any

import reflex as rx
from sqlmodel import Session

from commons_app import routes
from commons_app.components.confirm import confirm_dialog
from commons_app.components.layout import data_table, error_callout, page, spinner_block
from commons_app.components.pager import clamp_page, page_count, page_text, pager, showing_text
from commons_app.i18n import N_, format_day, format_when_utc, t, t_value, tr
from commons_app.models import User, as_utc
from commons_app.pages.admin_outbox import outbox_section
from commons_app.services import audit, auth
from commons_app.services.errors import Forbidden, NotAuthenticated, ServiceError
from commons_app.state.session import SessionState, login_redirect, private_state

USERS_PAGE_SIZE = 20
EVENTS_PAGE_SIZE = 20
# The roles as the users table shows them (translated there with t_value).
ROLE_NAMES = (N_("member"), N_("admin"))


def users_page(*, session: Session, user: User, search: str = "", page: int = 0, lang: str = "en") -> dict[str, Any]:
    """One page of users (admins only); a page past the end gives the last page instead."""
    page = max(0, page)
    rows, total = auth.list_users(session=session, actor=user, skip=page * USERS_PAGE_SIZE, limit=USERS_PAGE_SIZE, search=search)
    if not rows and page > 0:
        page = clamp_page(page, total, USERS_PAGE_SIZE)
        rows, total = auth.list_users(session=session, actor=user, skip=page * USERS_PAGE_SIZE, limit=USERS_PAGE_SIZE, search=search)
    return {
        "page": page,
        "total": total,
        "users": [
            {
                "id": u.id,
                "username": u.username,
                "email": u.email,
                "role": u.role,
                "active": u.is_active,
                "created": format_day(lang, as_utc(u.created_at) or u.created_at),
                "is_self": u.id == user.id,
            }
            for u in rows
        ],
    }


def audit_page(*, session: Session, user: User, page: int = 0, lang: str = "en") -> dict[str, Any]:
    """One page of the audit log, newest first (admins only); past the end gives the last page."""
    auth.require_admin(user)
    page = max(0, page)
    events, total = audit.list_events(session=session, skip=page * EVENTS_PAGE_SIZE, limit=EVENTS_PAGE_SIZE)
    if not events and page > 0:
        page = clamp_page(page, total, EVENTS_PAGE_SIZE)
        events, total = audit.list_events(session=session, skip=page * EVENTS_PAGE_SIZE, limit=EVENTS_PAGE_SIZE)
    names = audit.actor_names(session=session, events=events)
    return {
        "page": page,
        "total": total,
        "events": [
            {
                "id": e.id,
                "at": format_when_utc(lang, as_utc(e.at) or e.at, seconds=True),
                "actor": "—" if e.actor_id is None else names.get(e.actor_id, str(e.actor_id)),
                "action": e.action,
                "target": f"{e.target_type} {e.target_id or ''}".strip(),
            }
            for e in events
        ],
    }


def admin_overview(
    *, session: Session, user: User, search: str = "", users_at: int = 0, events_at: int = 0, lang: str = "en"
) -> dict[str, Any]:
    """A page of users and a page of the audit log, for admins only."""
    return {
        "users": users_page(session=session, user=user, search=search, page=users_at, lang=lang),
        "audit": audit_page(session=session, user=user, page=events_at, lang=lang),
    }


@private_state
class AdminState(SessionState):
    """The admin page; a member who opens it sees a refusal and no data."""

    users: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    total: int = 0
    events_total: int = 0
    users_at: int = 0
    events_at: int = 0
    search: str = ""
    refused: str = ""
    loaded: bool = False
    error: str = ""

    @rx.var
    def users_showing(self) -> str:
        """"Showing 21–40 of 57 users"."""
        return showing_text(self.users_at, self.total, USERS_PAGE_SIZE, N_("users"), lang=self.lang)

    @rx.var
    def users_label(self) -> str:
        """"Page 2 of 3" of the users."""
        return page_text(self.users_at, self.total, USERS_PAGE_SIZE, lang=self.lang)

    @rx.var
    def users_has_next(self) -> bool:
        """Whether a later page of users exists."""
        return self.users_at + 1 < page_count(self.total, USERS_PAGE_SIZE)

    @rx.var
    def events_showing(self) -> str:
        """"Showing 1–20 of 480 entries"."""
        return showing_text(self.events_at, self.events_total, EVENTS_PAGE_SIZE, N_("entries"), lang=self.lang)

    @rx.var
    def events_label(self) -> str:
        """"Page 1 of 24" of the audit log."""
        return page_text(self.events_at, self.events_total, EVENTS_PAGE_SIZE, lang=self.lang)

    @rx.var
    def events_has_next(self) -> bool:
        """Whether older audit entries exist."""
        return self.events_at + 1 < page_count(self.events_total, EVENTS_PAGE_SIZE)

    async def _load(self, which: str = "both") -> Any:
        """Reload the users, the audit log or both (``which``), each at its current page."""
        try:
            if which == "users":
                data = {"users": await self._call(users_page, search=self.search, page=self.users_at, lang=self.lang)}
            elif which == "audit":
                data = {"audit": await self._call(audit_page, page=self.events_at, lang=self.lang)}
            else:
                data = await self._call(
                    admin_overview, search=self.search, users_at=self.users_at, events_at=self.events_at, lang=self.lang
                )
        except NotAuthenticated:
            return login_redirect(routes.ADMIN)
        except Forbidden as exc:
            self.users, self.events, self.total, self.events_total = [], [], 0, 0
            self.refused = exc.in_language(self.lang)
            self.loaded = True
            return None
        self.refused = ""
        if "users" in data:
            self.users, self.total, self.users_at = data["users"]["users"], data["users"]["total"], data["users"]["page"]
        if "audit" in data:
            self.events, self.events_total, self.events_at = data["audit"]["events"], data["audit"]["total"], data["audit"]["page"]
        self.loaded = True
        return None

    @rx.event
    async def on_load(self):  # noqa: ANN201 - Reflex event return
        """Load the first page of users and of the audit log (admins only)."""
        self.loaded, self.error, self.users_at, self.events_at = False, "", 0, 0
        return await self._load()

    @rx.event
    async def set_search(self, value: str):  # noqa: ANN201 - Reflex event return
        """Filter users by name or email, from the first page."""
        self.search = str(value)[:254]
        self.users_at = 0
        return await self._load("users")

    @rx.event
    async def next_users(self):  # noqa: ANN201 - Reflex event return
        """Show the next page of users (the server checks the admin role)."""
        self.users_at += 1
        return await self._load("users")

    @rx.event
    async def previous_users(self):  # noqa: ANN201 - Reflex event return
        """Show the previous page of users."""
        self.users_at = max(0, self.users_at - 1)
        return await self._load("users")

    @rx.event
    async def next_events(self):  # noqa: ANN201 - Reflex event return
        """Show older audit entries."""
        self.events_at += 1
        return await self._load("audit")

    @rx.event
    async def previous_events(self):  # noqa: ANN201 - Reflex event return
        """Show newer audit entries."""
        self.events_at = max(0, self.events_at - 1)
        return await self._load("audit")

    @rx.event
    async def set_role(self, user_id: int, role: str):  # noqa: ANN201 - Reflex event return
        """Change a user's role (checked on the server)."""
        return await self._act(auth.set_role, N_("Role changed."), user_id=int(user_id), role=str(role))

    @rx.event
    async def set_active(self, user_id: int, active: bool):  # noqa: ANN201 - Reflex event return
        """Enable or disable a user (checked on the server)."""
        return await self._act(
            auth.set_active, N_("Account enabled.") if active else N_("Account disabled."), user_id=int(user_id), active=bool(active)
        )

    async def _act(self, fn: Any, done: str, **kwargs: Any) -> Any:
        self.error = ""

        def run(*, session: Session, user: User, **kw: Any) -> Any:
            return fn(session=session, actor=user, **kw)

        try:
            await self._call(run, **kwargs)
        except NotAuthenticated:
            return login_redirect(routes.ADMIN)
        except ServiceError as exc:
            self.error = exc.in_language(self.lang)
            return rx.toast.error(self.error)
        await self._load()
        return rx.toast.success(tr(self.lang, done))


def _user_row(row: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(row["username"]),
        rx.table.cell(row["email"]),
        rx.table.cell(
            # A role changes only after a confirmation; the server checks the admin role and
            # refuses to demote the last administrator.
            rx.flex(
                rx.text(t_value(row["role"].to(str)), size="2", class_name="user-role"),
                rx.cond(
                    row["role"] == "admin",
                    confirm_dialog(
                        rx.button(t("Remove admin role"), variant="soft", color_scheme="red", size="1",
                                  aria_label=t("Remove the admin role of %(user)s", user=row["username"].to(str))),
                        title=t("Remove the admin role of %(user)s?", user=row["username"].to(str)),
                        description=t("%(user)s will become a member and lose access to administration.",
                                      user=row["username"].to(str)),
                        confirm_label=t("Remove admin role"),
                        on_confirm=AdminState.set_role(row["id"], "member"),
                    ),
                    confirm_dialog(
                        rx.button(t("Make admin"), variant="soft", size="1",
                                  aria_label=t("Make %(user)s an admin", user=row["username"].to(str))),
                        title=t("Make %(user)s an admin?", user=row["username"].to(str)),
                        description=t("%(user)s will be able to manage every user and every poll.",
                                      user=row["username"].to(str)),
                        confirm_label=t("Make admin"),
                        on_confirm=AdminState.set_role(row["id"], "admin"),
                        color_scheme="amber",
                    ),
                ),
                gap="2",
                align="center",
                wrap="wrap",
            )
        ),
        rx.table.cell(
            # The label around the switch is its 44 × 44 px tap target on a phone (a tap on it
            # toggles the switch; the switch keeps its own name).
            rx.el.label(
                rx.switch(
                    checked=row["active"].to(bool),
                    on_change=lambda value: AdminState.set_active(row["id"], value),
                    aria_label=t("Active: %(user)s", user=row["username"].to(str)),
                    disabled=row["is_self"].to(bool),
                ),
                class_name="commons-switch-target",
            )
        ),
        rx.table.cell(row["created"]),
    )


def admin_page() -> rx.Component:
    """``/admin``"""
    return page(
        rx.cond(
            ~AdminState.loaded,
            spinner_block(),
            rx.cond(
                AdminState.refused != "",
                rx.callout(AdminState.refused, icon="shield_alert", color_scheme="red", role="alert", id="admin-refused"),
                rx.vstack(
                    error_callout(AdminState.error),
                    rx.input(
                        placeholder=t("Search users…"), value=AdminState.search,
                        on_change=AdminState.set_search.debounce(300), aria_label=t("Search users"), width="100%",
                    ),
                    data_table([t("Username"), t("Email"), t("Role"), t("Active"), t("Joined")], rx.foreach(AdminState.users, _user_row),
                               label=t("Users")),
                    pager(
                        name="Users",
                        showing=AdminState.users_showing,
                        label=AdminState.users_label,
                        on_previous=AdminState.previous_users,
                        on_next=AdminState.next_users,
                        has_previous=AdminState.users_at > 0,
                        has_next=AdminState.users_has_next,
                    ),
                    rx.heading(t("Audit log"), size="5", as_="h2"),
                    data_table(
                        [t("When (UTC)"), t("Who"), t("Action"), t("Target")],
                        rx.foreach(
                            AdminState.events,
                            lambda e: rx.table.row(
                                rx.table.cell(e["at"]), rx.table.cell(e["actor"]),
                                rx.table.cell(e["action"]), rx.table.cell(e["target"]),
                            ),
                        ),
                        size="1",
                        label=t("Audit log"),
                    ),
                    pager(
                        name="Audit log",
                        showing=AdminState.events_showing,
                        label=AdminState.events_label,
                        on_previous=AdminState.previous_events,
                        on_next=AdminState.next_events,
                        has_previous=AdminState.events_at > 0,
                        has_next=AdminState.events_has_next,
                    ),
                    outbox_section(),
                    spacing="4",
                    width="100%",
                    align="stretch",
                ),
            ),
        ),
        title=t("Administration"),
    )
