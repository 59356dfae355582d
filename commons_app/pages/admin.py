"""``/admin``: users, roles, activation and the audit log. The services check the admin role."""

from __future__ import annotations

from typing import Any

import reflex as rx
from sqlmodel import Session

from commons_app import routes
from commons_app.components.layout import data_table, error_callout, page, spinner_block
from commons_app.models import User, as_utc
from commons_app.services import audit, auth
from commons_app.services.errors import Forbidden, NotAuthenticated, ServiceError
from commons_app.state.session import SessionState, login_redirect, private_state

USERS_LIMIT = 100


def admin_overview(*, session: Session, user: User, search: str = "") -> dict[str, Any]:
    """Users and recent audit entries, for admins only."""
    rows, total = auth.list_users(session=session, actor=user, limit=USERS_LIMIT, search=search)
    events, _ = audit.list_events(session=session, limit=30)
    names = {u.id: u.username for u in rows}
    return {
        "total": total,
        "users": [
            {
                "id": u.id,
                "username": u.username,
                "email": u.email,
                "role": u.role,
                "active": u.is_active,
                "created": (as_utc(u.created_at) or u.created_at).strftime("%Y-%m-%d"),
                "is_self": u.id == user.id,
            }
            for u in rows
        ],
        "events": [
            {
                "at": (as_utc(e.at) or e.at).strftime("%Y-%m-%d %H:%M:%S"),
                "actor": names.get(e.actor_id, str(e.actor_id or "—")),
                "action": e.action,
                "target": f"{e.target_type} {e.target_id or ''}".strip(),
            }
            for e in events
        ],
    }


@private_state
class AdminState(SessionState):
    """The admin page; a member who opens it sees a refusal and no data."""

    users: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    total: int = 0
    search: str = ""
    refused: str = ""
    loaded: bool = False
    error: str = ""

    async def _load(self) -> Any:
        try:
            data = await self._call(admin_overview, search=self.search)
        except NotAuthenticated:
            return login_redirect(routes.ADMIN)
        except Forbidden as exc:
            self.users, self.events, self.total = [], [], 0
            self.refused = exc.message
            self.loaded = True
            return None
        self.refused = ""
        self.users, self.events, self.total = data["users"], data["events"], data["total"]
        self.loaded = True
        return None

    @rx.event
    async def on_load(self):  # noqa: ANN201 - Reflex event return
        """Load users and the audit log (admins only)."""
        self.loaded, self.error = False, ""
        return await self._load()

    @rx.event
    async def set_search(self, value: str):  # noqa: ANN201 - Reflex event return
        """Filter users by name or email."""
        self.search = value[:254]
        return await self._load()

    @rx.event
    async def set_role(self, user_id: int, role: str):  # noqa: ANN201 - Reflex event return
        """Change a user's role (checked on the server)."""
        return await self._act(auth.set_role, "Role changed.", user_id=int(user_id), role=str(role))

    @rx.event
    async def set_active(self, user_id: int, active: bool):  # noqa: ANN201 - Reflex event return
        """Enable or disable a user (checked on the server)."""
        return await self._act(
            auth.set_active, "Account enabled." if active else "Account disabled.", user_id=int(user_id), active=bool(active)
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
            self.error = exc.message
            return rx.toast.error(exc.message)
        await self._load()
        return rx.toast.success(done)


def _user_row(row: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(row["username"]),
        rx.table.cell(row["email"]),
        rx.table.cell(
            rx.el.select(
                rx.el.option("member", value="member"),
                rx.el.option("admin", value="admin"),
                value=row["role"],
                on_change=lambda value: AdminState.set_role(row["id"], value),
                aria_label="Role of " + row["username"].to(str),
                class_name="commons-select",
            )
        ),
        rx.table.cell(
            rx.switch(
                checked=row["active"].to(bool),
                on_change=lambda value: AdminState.set_active(row["id"], value),
                aria_label="Active: " + row["username"].to(str),
                disabled=row["is_self"].to(bool),
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
                        placeholder="Search users…", value=AdminState.search,
                        on_change=AdminState.set_search.debounce(300), aria_label="Search users", width="100%",
                    ),
                    rx.text(AdminState.total.to_string() + " users", size="2", color_scheme="gray"),
                    data_table(["Username", "Email", "Role", "Active", "Joined"], rx.foreach(AdminState.users, _user_row)),
                    rx.heading("Audit log", size="5", as_="h2"),
                    data_table(
                        ["When (UTC)", "Who", "Action", "Target"],
                        rx.foreach(
                            AdminState.events,
                            lambda e: rx.table.row(
                                rx.table.cell(e["at"]), rx.table.cell(e["actor"]),
                                rx.table.cell(e["action"]), rx.table.cell(e["target"]),
                            ),
                        ),
                        size="1",
                    ),
                    spacing="4",
                    width="100%",
                    align="stretch",
                ),
            ),
        ),
        title="Administration",
    )
