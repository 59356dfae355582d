"""``/join``: type a poll's join code, go to the poll."""

from __future__ import annotations

from typing import Any

import reflex as rx

from commons_app import routes
from commons_app.components.a11y import POLL_TITLE, field_attrs, focus_on
from commons_app.components.layout import page
from commons_app.i18n import t, tr
from commons_app.services import polls
from commons_app.services.errors import ServiceError
from commons_app.state.session import SessionState, run_service

CODE_INPUT = "join-code-input"


class JoinState(SessionState):
    """The join form (no account needed: the poll's page says what it needs)."""

    error: str = ""
    busy: bool = False

    @rx.event
    async def submit(self, form: dict[str, Any]):  # noqa: ANN201 - Reflex event return
        """Find the poll by its code and open it."""
        self.error = ""
        code = str(form.get("code", "")).strip()[:64]
        if not code:
            self.error = tr(self.lang, "Enter the join code you were given.")
            yield focus_on(CODE_INPUT)  # the field is at fault and described by the message
            return
        self.busy = True
        yield
        try:
            poll_id = await run_service(
                polls.find_by_join_code, code=code, address=self.router.session.client_ip or "unknown"
            )
        except ServiceError as exc:
            self.busy = False
            self.error = exc.in_language(self.lang)
            yield focus_on(CODE_INPUT)
            return
        self.busy = False
        # the poll's page: the focus goes to its title once it has rendered
        yield [rx.redirect(routes.vote_url(poll_id)), focus_on(POLL_TITLE)]

    @rx.event
    async def on_load(self) -> None:
        """Start with an empty message."""
        self.error, self.busy = "", False
        await self.check_session()


def join_page() -> rx.Component:
    """``/join``"""
    return page(
        rx.card(
            rx.vstack(
                rx.heading(t("Join a poll"), size="6", as_="h1"),
                rx.text(t("Type the code shown by whoever runs the poll (letters and digits; case does not matter)."), size="2",
                        color_scheme="gray", id=CODE_INPUT + "-hint"),
                rx.form(
                    rx.vstack(
                        rx.el.label(t("Join code"), html_for="join-code-input", font_weight="500"),
                        rx.input(id="join-code-input", name="code", auto_complete="off", auto_capitalize="characters",
                                 spell_check=False, size="3", width="100%", style={"letterSpacing": "0.08em"},
                                 custom_attrs=field_attrs(CODE_INPUT, invalid=JoinState.error != "", hint=True,
                                                          error_id="join-error")),
                        rx.cond(JoinState.error != "",
                                rx.text(JoinState.error, color_scheme="red", size="2", role="alert", id="join-error")),
                        rx.button(t("Join"), type="submit", loading=JoinState.busy, size="3", width="100%"),
                        spacing="3",
                        width="100%",
                    ),
                    on_submit=JoinState.submit,
                    reset_on_submit=False,
                    width="100%",
                ),
                spacing="4",
                width="100%",
            ),
            width="100%",
            max_width="26rem",
            margin_x="auto",
        ),
    )
