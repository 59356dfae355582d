"""``/polls``: the polls a user may see, paginated and searchable; and the home page."""

from __future__ import annotations

from typing import Any

import reflex as rx
from sqlmodel import Session

from commons_app import methods, routes
from commons_app.components.layout import error_callout, link_button, page, spinner_block, status_badge
from commons_app.components.pager import clamp_page, page_count, page_text, pager, showing_text
from commons_app.components.schedule import poll_schedule
from commons_app.i18n import N_, t, t_value, tn
from commons_app.models import User
from commons_app.services import polls, schedules
from commons_app.services.errors import NotAuthenticated, ServiceError
from commons_app.state.session import SessionState, login_redirect, private_state

# Visibilities as the list's badges show them, for extraction (services.polls).
VISIBILITY_NAMES = (N_("unlisted"), N_("private"))

PAGE_SIZE = 10


def poll_rows(
    *, session: Session, user: User, skip: int, limit: int, search: str = "", mine: bool = False, show: str = "all"
) -> dict[str, Any]:
    """Polls as plain rows for the list pages."""
    views, total = polls.list_polls(session=session, user=user, skip=skip, limit=limit, search=search, mine=mine, show=show)
    return {
        "total": total,
        "rows": [
            {
                "id": v.poll.id,
                "title": v.poll.title,
                "method": methods.label_of(v.poll.method),
                "status": v.status,
                "visibility": v.poll.visibility,
                "ballots": v.ballot_count,
                "options": len(v.options),
                "mine": v.poll.created_by == user.id,
                **schedules.schedule_of(v.poll),
                "voted": bool(v.extra.get("voted")),
            }
            for v in views
        ],
    }


@private_state
class PollListState(SessionState):
    """The list of polls with its page and search text."""

    rows: list[dict[str, Any]] = []
    total: int = 0
    page_index: int = 0
    search: str = ""
    show: str = "all"  # one of polls.LIST_FILTERS, from the URL's ?show= (survives a reload)
    loading: bool = False
    error: str = ""

    @rx.var
    def page_label(self) -> str:
        """"Page 2 of 5"."""
        return page_text(self.page_index, self.total, PAGE_SIZE, lang=self.lang)

    @rx.var
    def showing(self) -> str:
        """"Showing 11–20 of 43 polls"."""
        return showing_text(self.page_index, self.total, PAGE_SIZE, N_("polls"), lang=self.lang)

    @rx.var
    def has_next(self) -> bool:
        """Whether a later page exists."""
        return self.page_index + 1 < page_count(self.total, PAGE_SIZE)

    async def _load(self):  # noqa: ANN202 - Reflex event return
        self.loading = True
        self.error = ""
        try:
            data = await self._call(poll_rows, skip=self.page_index * PAGE_SIZE, limit=PAGE_SIZE, search=self.search, show=self.show)
            if not data["rows"] and self.page_index > 0:
                # The page emptied under us (polls deleted meanwhile): show the last one.
                self.page_index = clamp_page(self.page_index, data["total"], PAGE_SIZE)
                data = await self._call(poll_rows, skip=self.page_index * PAGE_SIZE, limit=PAGE_SIZE, search=self.search, show=self.show)
        except NotAuthenticated:
            self.loading = False
            return login_redirect(routes.POLLS)
        except ServiceError as exc:
            self.error = exc.in_language(self.lang)
            self.loading = False
            return None
        self.rows, self.total = data["rows"], data["total"]
        self.loading = False
        return None

    @rx.event
    async def on_load(self):  # noqa: ANN201 - Reflex event return
        """Load the first page of the filter the URL names (``?show=open``; unknown: all)."""
        show = str(self.router.url.query_parameters.get("show") or "all")
        self.show = show if show in polls.LIST_FILTERS else "all"
        self.page_index = 0
        return await self._load()

    @rx.event
    async def set_search(self, value: str):  # noqa: ANN201 - Reflex event return
        """Search titles as the user types (debounced in the page)."""
        self.search = value[:200]
        self.page_index = 0
        return await self._load()

    @rx.event
    async def refresh(self):  # noqa: ANN201 - Reflex event return
        """Read the shown page again (a poll on it opened or closed)."""
        return await self._load()

    @rx.event
    async def next_page(self):  # noqa: ANN201 - Reflex event return
        """Show the next page."""
        if (self.page_index + 1) * PAGE_SIZE < self.total:
            self.page_index += 1
        return await self._load()

    @rx.event
    async def previous_page(self):  # noqa: ANN201 - Reflex event return
        """Show the previous page."""
        self.page_index = max(0, self.page_index - 1)
        return await self._load()


def poll_card(row: rx.Var) -> rx.Component:
    """One poll in the list."""
    return rx.card(
        rx.flex(
            rx.vstack(
                rx.link(rx.heading(row["title"], size="4", as_="h2"), href="/polls/" + row["id"].to(str)),
                rx.hstack(
                    status_badge(row["status"]),
                    rx.badge(t_value(row["method"]), variant="soft"),
                    rx.cond(row["visibility"] != "public", rx.badge(t_value(row["visibility"]), color_scheme="violet", variant="soft")),
                    rx.cond(
                        row["ballots"].is_not_none(),
                        rx.text(tn("%(n)s ballot", "%(n)s ballots", n=row["ballots"].to(int)), size="2", color_scheme="gray"),
                    ),
                    rx.cond(
                        row["voted"].to(bool),
                        rx.badge(rx.icon("check", size=14, aria_hidden="true"), t("You voted"), color_scheme="green",
                                 variant="soft", class_name="you-voted"),
                    ),
                    wrap="wrap",
                    spacing="2",
                ),
                poll_schedule(
                    row["opens_at"].to(str), row["closes_at"].to(str), row["status"].to(str),
                    on_cross=PollListState.refresh, compact=True,
                ),
                spacing="2",
                align="start",
            ),
            rx.spacer(),
            rx.hstack(
                link_button(t("Vote"), "/polls/" + row["id"].to(str)),
                link_button(t("Results"), "/polls/" + row["id"].to(str) + "/results"),
                spacing="2",
            ),
            wrap="wrap",
            gap="3",
            align="center",
            width="100%",
        ),
        width="100%",
    )


def _filter_link(value: str, label: rx.Var) -> rx.Component:
    """One filter: a link (so it is in the URL and survives a reload), marked when current."""
    current = PollListState.show == value
    return rx.el.li(
        rx.link(
            label,
            href=routes.POLLS if value == "all" else f"{routes.POLLS}?show={value}",
            aria_current=rx.cond(current, "page", "false"),
            class_name="commons-button-link poll-filter",
            underline="none",
            padding="0.3rem 0.75rem",
            font_size="var(--font-size-2)",
            border_radius="var(--radius-2)",
            border="1px solid var(--accent-8)",
            background=rx.cond(current, "var(--accent-9)", "transparent"),
            color=rx.cond(current, "var(--accent-contrast)", "var(--accent-11)"),
            font_weight="500",
            white_space="nowrap",
        ),
        list_style="none",
    )


def filter_nav() -> rx.Component:
    """The list's filters: all, open, closed, mine, not voted yet."""
    return rx.el.nav(
        rx.el.ul(
            _filter_link("all", t("All")),
            _filter_link("open", t("Open")),
            _filter_link("closed", t("Closed")),
            _filter_link("mine", t("Mine")),
            _filter_link("not_voted", t("Not voted yet")),
            display="flex",
            flex_wrap="wrap",
            gap="0.5rem",
            margin="0",
            padding="0",
        ),
        aria_label=t("Filter polls"),
        id="poll-filters",
    )


def polls_page() -> rx.Component:
    """``/polls``"""
    return page(
        rx.flex(
            rx.el.label(t("Search polls"), html_for="poll-search", class_name="sr-only", style={"position": "absolute", "left": "-9999px"}),
            rx.input(
                id="poll-search",
                placeholder=t("Search by title…"),
                value=PollListState.search,
                on_change=PollListState.set_search.debounce(300),
                size="3",
                flex="1",
                min_width="12rem",
            ),
            link_button(t("New poll"), routes.NEW_POLL, solid=True),
            gap="3",
            wrap="wrap",
            width="100%",
        ),
        filter_nav(),
        error_callout(PollListState.error),
        rx.cond(
            PollListState.loading & (PollListState.rows.length() == 0),
            spinner_block(),
            rx.cond(
                PollListState.rows.length() == 0,
                rx.cond(
                    PollListState.show == "all",
                    rx.text(t("No polls yet. Create the first one!"), color_scheme="gray"),
                    rx.text(t("No polls match this filter."), color_scheme="gray", id="no-polls-match"),
                ),
                rx.vstack(rx.foreach(PollListState.rows, poll_card), spacing="3", width="100%"),
            ),
        ),
        pager(
            name="Polls",
            showing=PollListState.showing,
            label=PollListState.page_label,
            on_previous=PollListState.previous_page,
            on_next=PollListState.next_page,
            has_previous=PollListState.page_index > 0,
            has_next=PollListState.has_next,
        ),
        title=t("Polls"),
    )


def index_page() -> rx.Component:
    """``/``"""
    return page(
        rx.vstack(
            rx.heading(t("Decide together."), size="9", as_="h1"),
            rx.text(
                t("The Commons is an open voting system: create a poll, share the link, and watch the results "
                "move live. Single choice, approval, instant runoff, Schulze, Borda, score and STAR voting; "
                "public, unlisted or private polls with weighted rolls."),
                size="4",
                color_scheme="gray",
                max_width="44rem",
            ),
            rx.cond(
                SessionState.signed_in,
                rx.hstack(
                    link_button(t("Browse polls"), routes.POLLS),
                    link_button(t("Create a poll"), routes.NEW_POLL),
                    wrap="wrap",
                ),
                rx.hstack(
                    link_button(t("Create an account"), routes.REGISTER),
                    link_button(t("Log in"), routes.LOGIN),
                    wrap="wrap",
                ),
            ),
            spacing="5",
            padding_y="3rem",
        ),
    )
