"""Page chrome in one place: navigation, the signed-in user, and the content column."""

from __future__ import annotations

import reflex as rx

from commons_app import routes
from commons_app.state.session import SessionState


def nav_link(text: str, href: str) -> rx.Component:
    """A navigation link."""
    return rx.link(text, href=href, size="3", weight="medium", underline="hover")


def link_button(text: str, href: str, *, solid: bool = False) -> rx.Component:
    """A link that looks like a button (it navigates, so it is a link for screen readers too)."""
    return rx.link(
        text,
        href=href,
        underline="none",
        padding="0.3rem 0.75rem",
        font_size="var(--font-size-2)",
        line_height="1.4",
        border_radius="var(--radius-2)",
        border="1px solid var(--accent-8)",
        background=("var(--accent-9)" if solid else "transparent"),
        color=("var(--accent-contrast)" if solid else "var(--accent-11)"),
        font_weight="500",
        white_space="nowrap",
    )


def navbar() -> rx.Component:
    """The top bar: brand, links, and the user with a log-out button."""
    return rx.el.nav(
        rx.flex(
            rx.link(
                rx.hstack(rx.icon("vote", size=22), rx.heading("The Commons", size="5"), spacing="2", align="center"),
                href=routes.INDEX,
                underline="none",
                color_scheme="gray",
                high_contrast=True,
            ),
            rx.flex(
                nav_link("Polls", routes.POLLS),
                nav_link("Join", routes.JOIN),
                rx.cond(SessionState.signed_in, nav_link("New poll", routes.NEW_POLL)),
                rx.cond(SessionState.signed_in, nav_link("Dashboard", routes.DASHBOARD)),
                rx.cond(SessionState.is_admin, nav_link("Admin", routes.ADMIN)),
                spacing="4",
                wrap="wrap",
                align="center",
            ),
            rx.spacer(),
            rx.cond(
                SessionState.signed_in,
                rx.hstack(
                    rx.badge(rx.icon("user", size=14), SessionState.username, size="2", variant="soft"),
                    rx.button("Log out", on_click=SessionState.logout, variant="outline", size="2"),
                    align="center",
                    spacing="3",
                ),
                rx.hstack(
                    link_button("Sign in", routes.LOGIN),
                    link_button("Register", routes.REGISTER, solid=True),
                    spacing="2",
                ),
            ),
            align="center",
            spacing="5",
            wrap="wrap",
            width="100%",
            max_width="72rem",
            margin_x="auto",
            padding_x="1rem",
            padding_y="0.75rem",
        ),
        aria_label="Main",
        border_bottom="1px solid var(--gray-a5)",
        background_color="var(--color-panel-solid)",
        position="sticky",
        top="0",
        z_index="10",
        width="100%",
    )


def page(*children: rx.Component, title: str = "") -> rx.Component:
    """Wrap a page's content in the layout."""
    return rx.box(
        navbar(),
        rx.el.main(
            rx.vstack(
                rx.cond(title != "", rx.heading(title, size="7", as_="h1")) if title else rx.fragment(),
                *children,
                spacing="5",
                width="100%",
                align="stretch",
            ),
            width="100%",
            max_width="72rem",
            margin_x="auto",
            padding_x="1rem",
            padding_y="1.5rem",
        ),
        min_height="100vh",
    )


def spinner_block(text: str = "Loading…") -> rx.Component:
    """A spinner with a label, shown while data loads."""
    return rx.hstack(rx.spinner(size="3"), rx.text(text, color_scheme="gray"), align="center", role="status")


def status_badge(status: rx.Var | str) -> rx.Component:
    """A coloured badge for scheduled / open / closed."""
    return rx.match(
        status,
        ("open", rx.badge("open", color_scheme="green")),
        ("scheduled", rx.badge("scheduled", color_scheme="amber")),
        ("closed", rx.badge("closed", color_scheme="gray")),
        rx.badge(status),
    )


def error_callout(message: rx.Var) -> rx.Component:
    """A readable error message, shown only when there is one."""
    return rx.cond(
        message != "",
        rx.callout(message, icon="triangle_alert", color_scheme="red", role="alert", width="100%"),
    )


def data_table(headers: list[str], rows: rx.Component, *, size: str = "2") -> rx.Component:
    """A table with a header row, scrolling sideways inside its box on narrow screens."""
    return rx.box(
        rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in headers])),
            rx.table.body(rows),
            variant="surface",
            size=size,
            width="100%",
        ),
        overflow_x="auto",
        width="100%",
    )
