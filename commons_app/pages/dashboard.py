"""``/dashboard``: the creator's polls, their turnout over time, and close/delete/share."""

from __future__ import annotations

from typing import Any

import reflex as rx
from sqlmodel import Session

from commons_app import routes
from commons_app.components.layout import error_callout, link_button, page, spinner_block, status_badge
from commons_app.components.pager import clamp_page, page_count, page_text, pager, showing_text
from commons_app.components.schedule import poll_schedule
from commons_app.components.share import share_panel
from commons_app.i18n import N_, t, t_value, tn, tr
from commons_app.models import User
from commons_app.pages.polls import poll_rows
from commons_app.pages.roll_editor import RollEditorState, roll_editor
from commons_app.services import polls
from commons_app.services import share as sharing
from commons_app.services.errors import NotAuthenticated, ServiceError
from commons_app.state.session import SessionState, login_redirect, private_state

PAGE_SIZE = 10


def share_context(*, session: Session, user: User, poll_id: str) -> dict[str, Any]:
    """What the share panel needs of a poll the user may see."""
    poll = polls.get_visible_poll(session=session, poll_id=poll_id, user=user)
    return {"poll_id": poll.id, "title": poll.title, "join_code": polls.join_code_of(poll)}


@private_state
class DashboardState(SessionState):
    """The signed-in creator's polls."""

    rows: list[dict[str, Any]] = []
    total: int = 0
    page_index: int = 0
    selected: str = ""
    selected_title: str = ""
    series: list[dict[str, Any]] = []
    loading: bool = False
    error: str = ""
    sharing: dict[str, str] = {}  # the share panel shown ({}: none)

    @rx.var
    def showing(self) -> str:
        """"Showing 11–20 of 34 polls"."""
        return showing_text(self.page_index, self.total, PAGE_SIZE, N_("polls"), lang=self.lang)

    @rx.var
    def page_label(self) -> str:
        """"Page 2 of 4"."""
        return page_text(self.page_index, self.total, PAGE_SIZE, lang=self.lang)

    @rx.var
    def has_next(self) -> bool:
        """Whether a later page exists."""
        return self.page_index + 1 < page_count(self.total, PAGE_SIZE)

    async def _load(self) -> Any:
        self.loading = True
        try:
            data = await self._call(poll_rows, skip=self.page_index * PAGE_SIZE, limit=PAGE_SIZE, mine=True)
            if not data["rows"] and self.page_index > 0:
                # The page emptied under us (a deletion, or polls gone elsewhere): show the last one.
                self.page_index = clamp_page(self.page_index, data["total"], PAGE_SIZE)
                data = await self._call(poll_rows, skip=self.page_index * PAGE_SIZE, limit=PAGE_SIZE, mine=True)
        except NotAuthenticated:
            self.loading = False
            return login_redirect(routes.DASHBOARD)
        self.rows, self.total = data["rows"], data["total"]
        self.loading = False
        ids = [r["id"] for r in self.rows]
        if self.selected not in ids:
            self.selected = ids[0] if ids else ""
        if self.selected:
            return await self._load_series()
        self.series = []
        return None

    async def _load_series(self) -> Any:
        try:
            self.series = await self._call(polls.turnout, poll_id=self.selected)
        except NotAuthenticated:
            return login_redirect(routes.DASHBOARD)
        except ServiceError as exc:
            self.error = exc.in_language(self.lang)
            self.series = []
        self.selected_title = next((r["title"] for r in self.rows if r["id"] == self.selected), "")
        return None

    @rx.event
    async def on_load(self):  # noqa: ANN201 - Reflex event return
        """Load the first page of the creator's polls."""
        self.error = ""
        self.page_index = 0
        return await self._load()

    @rx.event
    async def refresh(self):  # noqa: ANN201 - Reflex event return
        """Read the shown page again (a poll on it opened or closed)."""
        return await self._load()

    @rx.event
    async def next_page(self):  # noqa: ANN201 - Reflex event return
        """Show the next page of polls."""
        if self.page_index + 1 < page_count(self.total, PAGE_SIZE):
            self.page_index += 1
        return await self._load()

    @rx.event
    async def previous_page(self):  # noqa: ANN201 - Reflex event return
        """Show the previous page of polls."""
        self.page_index = max(0, self.page_index - 1)
        return await self._load()

    @rx.event
    async def select(self, poll_id: str):  # noqa: ANN201 - Reflex event return
        """Show the turnout of another poll."""
        self.selected = str(poll_id)
        return await self._load_series()

    async def _manage(self, fn: Any, done: str, poll_id: str) -> Any:
        """Run a poll action as the signed-in user (the service checks ownership)."""
        self.error = ""
        try:
            await self._call(fn, poll_id=str(poll_id))
        except NotAuthenticated:
            return login_redirect(routes.DASHBOARD)
        except ServiceError as exc:
            self.error = exc.in_language(self.lang)
            return rx.toast.error(exc.in_language(self.lang))
        await self._load()
        return rx.toast.success(tr(self.lang, done))

    @rx.event
    async def close_poll(self, poll_id: str):  # noqa: ANN201 - Reflex event return
        """Close a poll now."""
        return await self._manage(polls.close_poll, N_("Poll closed."), poll_id)

    @rx.event
    async def delete_poll(self, poll_id: str):  # noqa: ANN201 - Reflex event return
        """Delete a poll."""
        return await self._manage(polls.delete_poll, N_("Poll deleted."), poll_id)

    @rx.event
    async def share(self, poll_id: str):  # noqa: ANN201 - Reflex event return
        """Show the share panel of a poll: its link, join code and QR code."""
        self.error = ""
        try:
            found = await self._call(share_context, poll_id=str(poll_id))
        except NotAuthenticated:
            return login_redirect(routes.DASHBOARD)
        except ServiceError as exc:
            self.error = exc.in_language(self.lang)
            return None
        link = sharing.poll_link(found["poll_id"], self.router.url.origin or "")
        self.sharing = {"link": link, "join_code": found["join_code"], "qr": sharing.qr_svg_data_uri(link),
                        "title": found["title"], "poll_id": str(found["poll_id"])}
        return None

    @rx.event
    def close_share(self) -> None:
        """Hide the share panel."""
        self.sharing = {}


def _confirm_close(row: rx.Var) -> rx.Component:
    """Closing early ends the voting for everyone and seals the result: ask first."""
    return rx.alert_dialog.root(
        rx.alert_dialog.trigger(
            rx.button(t("Close"), variant="soft", color_scheme="amber", size="2",
                      aria_label=t("Close %(title)s", title=row["title"].to(str)))
        ),
        rx.alert_dialog.content(
            rx.alert_dialog.title(t("Close this poll now?")),
            rx.alert_dialog.description(
                t("Voting in “%(title)s” ends for everyone and its result is sealed. This cannot be undone.",
                  title=row["title"].to(str))
            ),
            rx.flex(
                rx.alert_dialog.cancel(rx.button(t("Cancel"), variant="soft", color_scheme="gray")),
                rx.alert_dialog.action(rx.button(t("Close poll"), color_scheme="amber", high_contrast=True, on_click=DashboardState.close_poll(row["id"]))),
                spacing="3",
                justify="end",
                margin_top="1rem",
                wrap="wrap",
            ),
        ),
    )


def _confirm_delete(row: rx.Var) -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.trigger(rx.button(t("Delete"), color_scheme="red", variant="soft", size="2")),
        rx.alert_dialog.content(
            rx.alert_dialog.title(t("Delete this poll?")),
            rx.alert_dialog.description(t("“%(title)s” and all its ballots will be deleted. This cannot be undone.", title=row["title"])),
            rx.flex(
                rx.alert_dialog.cancel(rx.button(t("Cancel"), variant="soft", color_scheme="gray")),
                rx.alert_dialog.action(rx.button(t("Delete poll"), color_scheme="red", high_contrast=True, on_click=DashboardState.delete_poll(row["id"]))),
                spacing="3",
                justify="end",
                margin_top="1rem",
            ),
        ),
    )


def _poll_card(row: rx.Var) -> rx.Component:
    """One of the creator's polls: its state, turnout and actions (wrapping on a phone)."""
    return rx.card(
        rx.flex(
            rx.vstack(
                rx.link(rx.heading(row["title"], size="4", as_="h2"), href="/polls/" + row["id"].to(str)),
                rx.hstack(
                    status_badge(row["status"]),
                    rx.badge(t_value(row["method"]), variant="soft"),
                    rx.text(
                        tn("%(n)s ballot", "%(n)s ballots", n=row["ballots"].to(int)),
                        size="2",
                        custom_attrs={"data-testid": "dashboard-ballots-" + row["id"].to(str)},
                    ),
                    wrap="wrap",
                    align="center",
                ),
                poll_schedule(
                    row["opens_at"].to(str), row["closes_at"].to(str), row["status"].to(str),
                    on_cross=DashboardState.refresh, compact=True,
                ),
                spacing="2",
                align="start",
            ),
            rx.spacer(),
            rx.flex(
                rx.button(t("Turnout"), on_click=DashboardState.select(row["id"]), variant="soft", size="2"),
                link_button(t("Results"), "/polls/" + row["id"].to(str) + "/results"),
                link_button(t("Present"), "/polls/" + row["id"].to(str) + "/present"),
                rx.button(t("Share"), on_click=DashboardState.share(row["id"]), variant="soft", size="2",
                          aria_label=t("Share %(title)s", title=row["title"].to(str))),
                rx.button(t("Voters"), on_click=RollEditorState.load(row["id"]), variant="soft", size="2",
                          aria_label=t("Voters of %(title)s", title=row["title"].to(str))),
                rx.cond(
                    row["status"] != "closed",
                    rx.link(t("Edit"), href="/polls/" + row["id"].to(str) + "/edit", class_name="commons-button-link",
                            aria_label=t("Edit %(title)s", title=row["title"].to(str)), underline="none",
                            padding="0.3rem 0.75rem", font_size="var(--font-size-2)", border_radius="var(--radius-2)",
                            border="1px solid var(--accent-8)", color="var(--accent-11)", font_weight="500"),
                ),
                rx.cond(row["status"] != "closed", _confirm_close(row)),
                _confirm_delete(row),
                gap="2",
                wrap="wrap",
                align="center",
            ),
            gap="3",
            wrap="wrap",
            align="center",
            width="100%",
        ),
        # The share panel and the roll open inside the poll's card, where the button was pressed.
        rx.cond(
            DashboardState.sharing["poll_id"].to(str) == row["id"].to(str),
            rx.vstack(
                share_panel(DashboardState.sharing, heading=t("Share")),
                rx.button(t("Hide share panel"), on_click=DashboardState.close_share, variant="ghost", size="1"),
                width="100%",
                align="end",
                margin_top="0.75rem",
            ),
        ),
        rx.cond(
            RollEditorState.poll_id == row["id"],
            rx.vstack(
                roll_editor(),
                rx.button(t("Hide voters"), on_click=RollEditorState.close, variant="ghost", size="1"),
                width="100%",
                align="end",
                margin_top="0.75rem",
            ),
        ),
        width="100%",
        class_name="dashboard-poll",
    )


def dashboard_page() -> rx.Component:
    """``/dashboard``"""
    return page(
        error_callout(DashboardState.error),
        rx.cond(
            DashboardState.loading & (DashboardState.rows.length() == 0),
            spinner_block(),
            rx.cond(
                DashboardState.rows.length() == 0,
                rx.vstack(
                    rx.text(t("You have not created any polls yet.")),
                    link_button(t("Create a poll"), routes.NEW_POLL),
                ),
                rx.vstack(
                    rx.card(
                        rx.vstack(
                            rx.heading(t("Turnout: %(title)s", title=DashboardState.selected_title), size="4", as_="h2"),
                            rx.recharts.area_chart(
                                rx.recharts.cartesian_grid(stroke_dasharray="3 3"),
                                rx.recharts.x_axis(data_key="time"),
                                rx.recharts.y_axis(allow_decimals=False),
                                rx.recharts.graphing_tooltip(),
                                rx.recharts.area(data_key="ballots", name="Ballots", stroke="var(--accent-9)", fill="var(--accent-5)", is_animation_active=False),
                                data=DashboardState.series,
                                width="100%",
                                height=220,
                            ),
                            width="100%",
                        ),
                        width="100%",
                    ),
                    rx.vstack(rx.foreach(DashboardState.rows, _poll_card), spacing="3", width="100%"),
                    pager(
                        name="Polls",
                        showing=DashboardState.showing,
                        label=DashboardState.page_label,
                        on_previous=DashboardState.previous_page,
                        on_next=DashboardState.next_page,
                        has_previous=DashboardState.page_index > 0,
                        has_next=DashboardState.has_next,
                    ),
                    spacing="4",
                    width="100%",
                ),
            ),
        ),
        title=t("Dashboard"),
    )
