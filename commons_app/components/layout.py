"""Page chrome in one place: navigation, the signed-in user, and the content column."""

from __future__ import annotations

import reflex as rx

from commons_app import i18n, routes
from commons_app.components.native_form import native_form
from commons_app.i18n import t
from commons_app.state.session import SessionState

MAIN_ID = "main"


def nav_link(text: str | rx.Var, href: str) -> rx.Component:
    """A navigation link (44 px tall on phones, see assets/theme.css)."""
    return rx.link(text, href=href, size="3", weight="medium", underline="hover")


def link_button(text: str | rx.Var, href: str, *, solid: bool = False) -> rx.Component:
    """A link that looks like a button (it navigates, so it is a link for screen readers too)."""
    return rx.link(
        text,
        href=href,
        class_name="commons-button-link",
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


def _links() -> list[rx.Component]:
    return [
        nav_link(t("Polls"), routes.POLLS),
        nav_link(t("Join"), routes.JOIN),
        rx.cond(SessionState.signed_in, nav_link(t("New poll"), routes.NEW_POLL)),
        rx.cond(SessionState.signed_in, nav_link(t("Dashboard"), routes.DASHBOARD)),
        rx.cond(SessionState.is_admin, nav_link(t("Admin"), routes.ADMIN)),
    ]


def language_switcher() -> rx.Component:
    """The language menu: each language named in itself; the choice is remembered (a cookie)."""
    return rx.el.select(
        *[rx.el.option(name, value=code, lang=code) for code, name in i18n.LANGUAGE_NAMES.items()
          if code in i18n.languages()],
        value=SessionState.lang,
        on_change=SessionState.choose_language,
        aria_label=t("Language"),
        title=t("Language"),
        class_name="commons-select language-switcher",
    )


def _user_area() -> rx.Component:
    return rx.cond(
        SessionState.signed_in,
        rx.hstack(
            rx.badge(rx.icon("user", size=14, aria_hidden="true"), SessionState.username, size="2", variant="soft"),
            # A plain form post: only an HTTP answer can clear the HttpOnly session cookie.
            native_form(
                rx.button(t("Log out"), type="submit", variant="outline", size="2"),
                action="/api/browser/logout",
                method="post",
            ),
            align="center",
            spacing="3",
        ),
        rx.hstack(
            link_button(t("Sign in"), routes.LOGIN),
            link_button(t("Register"), routes.REGISTER, solid=True),
            spacing="2",
        ),
    )


def _phone_menu() -> rx.Component:
    """Below 768 px the links and the user sit behind one "Menu" button (a Radix popover: a
    disclosure with aria-expanded, closed by Escape, focus returned to the button)."""
    return rx.popover.root(
        rx.popover.trigger(
            rx.button(rx.icon("menu", size=20, aria_hidden="true"), t("Menu"), variant="soft", size="3",
                      class_name="site-menu-button"),
        ),
        rx.popover.content(
            rx.el.nav(
                rx.vstack(*_links(), _user_area(), language_switcher(), spacing="2", align="start"),
                aria_label=t("Main"),
                class_name="site-menu",
            ),
            align="end",
            max_width="90vw",
        ),
    )


def navbar() -> rx.Component:
    """The banner: a skip link, the brand, the main navigation and the user with a log-out button."""
    return rx.el.header(
        rx.el.a(
            t("Skip to main content"),
            href=f"#{MAIN_ID}",
            class_name="skip-link",
            # the fragment scrolls; focus must move too, or the next Tab starts from the top again
            on_click=rx.call_script(f"document.getElementById('{MAIN_ID}')?.focus()"),
        ),
        rx.flex(
            rx.link(
                rx.hstack(
                    rx.icon("vote", size=22, aria_hidden="true"),
                    rx.text(t("The Commons"), size="5", weight="bold"),
                    spacing="2",
                    align="center",
                ),
                href=routes.INDEX,
                underline="none",
                color_scheme="gray",
                high_contrast=True,
                class_name="commons-button-link",
            ),
            rx.el.nav(
                rx.flex(
                    rx.flex(*_links(), spacing="4", wrap="wrap", align="center"),
                    rx.spacer(),
                    _user_area(),
                    language_switcher(),
                    spacing="3",
                    wrap="wrap",
                    align="center",
                    width="100%",
                ),
                aria_label=t("Main"),
                class_name="site-nav-inline",
                # take the row's remaining width (not its one-line width), so the header wraps
                # inside the navigation only when the words really do not fit (German at 1280 px did)
                flex="1 1 0",
                min_width="0",
            ),
            rx.spacer(class_name="site-menu-button"),
            _phone_menu(),
            align="center",
            spacing="5",
            wrap="wrap",
            width="100%",
            max_width="72rem",
            margin_x="auto",
            padding_x="1rem",
            padding_y="0.5rem",
        ),
        border_bottom="1px solid var(--gray-a5)",
        background_color="var(--color-panel-solid)",
        position="sticky",
        top="0",
        z_index="10",
        width="100%",
    )


def page(*children: rx.Component, title: str | rx.Var = "") -> rx.Component:
    """Wrap a page's content in the layout: header (banner, navigation) and main."""
    return rx.box(
        i18n.document_sync(),
        navbar(),
        rx.el.main(
            rx.vstack(
                rx.heading(title, size="7", as_="h1") if isinstance(title, rx.Var) or title else rx.fragment(),
                *children,
                spacing="5",
                width="100%",
                align="stretch",
            ),
            id=MAIN_ID,
            tab_index=-1,  # the skip link moves the keyboard focus here, not only the scroll position
            width="100%",
            max_width="72rem",
            margin_x="auto",
            padding_x="1rem",
            padding_y="1.5rem",
        ),
        min_height="100vh",
    )


def spinner_block(text: str | rx.Var | None = None) -> rx.Component:
    """A spinner with a label, shown while data loads."""
    return rx.hstack(rx.spinner(size="3"), rx.text(text if text is not None else t("Loading…"), color_scheme="gray"), align="center", role="status")


def status_badge(status: rx.Var | str) -> rx.Component:
    """A coloured badge for scheduled / open / closed."""
    return rx.match(
        status,
        ("open", rx.badge(t("open"), color_scheme="green")),
        ("scheduled", rx.badge(t("scheduled"), color_scheme="amber")),
        ("closed", rx.badge(t("closed"), color_scheme="gray")),
        rx.badge(status),
    )


def error_callout(message: rx.Var, *, id: str = "") -> rx.Component:
    """A readable error message, shown only when there is one. ``id`` lets fields point at it
    (``aria-describedby``) and ``components.a11y.focus_on`` move the focus to it."""
    return rx.cond(
        message != "",
        rx.callout(message, icon="triangle_alert", color_scheme="red", role="alert", width="100%",
                   **({"id": id} if id else {})),
    )


def data_table(headers: list[str | rx.Var], rows: rx.Component, *, size: str = "2", label: str | rx.Var = "Table") -> rx.Component:
    """A table with a header row, scrolling sideways inside its box on narrow screens. The box is
    a named, focusable region so that keyboard users can scroll it (axe: scrollable-region-focusable)."""
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
        tab_index=0,
        role="region",
        aria_label=label,
        class_name="commons-table-scroll",
    )
