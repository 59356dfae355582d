"""Log-in and registration pages.

The forms post straight to ``/api/browser/login`` and ``/api/browser/register`` (plain HTML form
posts, see ``api.routes.browser``): only an HTTP answer can set the HttpOnly session cookie. A
refusal comes back as ``?error=<code>``, shown as one of a fixed set of sentences.
"""

from __future__ import annotations

import reflex as rx

from commons_app import routes
from commons_app.components.a11y import FORM_ERROR, field_attrs, focus_on
from commons_app.components.layout import error_callout, page
from commons_app.components.native_form import native_form
from commons_app.i18n import t, tr
from commons_app.routes import LOGIN_ERRORS, REGISTER_ERRORS, safe_next
from commons_app.state.session import SessionState

__all__ = ["LoginState", "RegisterState", "login_page", "register_page", "safe_next"]

# Which field a refused form's error is about ("all": every field of the form; none: the form).
ERROR_FIELDS = {
    "missing": "all", "invalid": "all",
    "username": "username", "reserved": "username", "lookalike": "username",
    "email": "email", "password": "password", "taken": "all",
}


class _AuthFormState(SessionState):
    error: str = ""
    # Where the post sends the browser afterwards (the hidden ``next`` field; safe_next again there).
    next_path: str = routes.POLLS
    # ``next`` as asked for, kept by the link to the other form ("" when none was asked for).
    asked_next: str = ""
    # What the refused form held (the post's answer sends it back; never the password).
    typed_username: str = ""
    typed_email: str = ""
    # The field the error is about (ERROR_FIELDS): it is marked invalid and points at the error.
    error_field: str = ""

    @rx.var
    def login_href(self) -> str:
        """The log-in page, keeping ``next``."""
        return routes.login_url(self.asked_next)

    @rx.var
    def register_href(self) -> str:
        """The registration page, keeping ``next``."""
        return routes.register_url(self.asked_next)

    def _read_query(self, errors: dict[str, str]) -> None:
        self._pick_language()  # the error below is shown in the reader's language
        query = self.router.url.query_parameters
        raw = query.get("next")
        self.next_path = safe_next(raw)
        self.asked_next = raw if raw and self.next_path == raw else ""
        code = str(query.get("error") or "")
        self.error = tr(self.lang, errors.get(code, ""))
        self.error_field = ERROR_FIELDS.get(code, "") if self.error else ""
        self.typed_username = str(query.get("username") or "")[:254]
        self.typed_email = str(query.get("email") or "")[:254]

    async def _go_on_if_signed_in(self, errors: dict[str, str]):  # noqa: ANN202 - Reflex event return
        self._read_query(errors)
        await self.check_session()
        if self.signed_in:
            return rx.redirect(self.next_path)
        # A refused form comes back here: the focus goes to the one field at fault (described by
        # the message), or to the message when it is about the whole form.
        if self.error:
            return focus_on(self.error_field if self.error_field not in ("", "all") else FORM_ERROR)
        return None


class LoginState(_AuthFormState):
    """The log-in form's message and where to go afterwards."""

    @rx.event
    async def redirect_if_signed_in(self):  # noqa: ANN201 - Reflex event return
        """On load: a signed-in user goes straight on; otherwise show any refusal."""
        return await self._go_on_if_signed_in(LOGIN_ERRORS)


class RegisterState(_AuthFormState):
    """The registration form's message and where to go afterwards."""

    @rx.event
    async def redirect_if_signed_in(self):  # noqa: ANN201 - Reflex event return
        """On load: a signed-in user goes straight on; otherwise show any refusal."""
        return await self._go_on_if_signed_in(REGISTER_ERRORS)


def field(
    label: str | rx.Var, name: str, *, type_: str = "text", autocomplete: str = "", hint: str | rx.Var = "",
    value: rx.Var | str = "", error_field: rx.Var | None = None,
) -> rx.Component:
    """A labelled input; the label names the input for screen readers and tests. ``value``
    prefills it (keyed by it, so that the prefill arriving with the state takes effect). While
    ``error_field`` names it (or is "all") it is invalid and described by the form's error."""
    invalid = (error_field == name) | (error_field == "all") if error_field is not None else False
    return rx.vstack(
        rx.el.label(label, html_for=name, font_weight="500"),
        rx.input(
            id=name, name=name, type=type_, auto_complete=autocomplete, required=True, size="3", width="100%",
            default_value=value, key=value,
            # the hint, and the error while there is one, are read with the field
            custom_attrs=field_attrs(name, invalid=invalid, hint=isinstance(hint, rx.Var) or bool(hint), error_id=FORM_ERROR),
        ),
        rx.text(hint, size="1", color_scheme="gray", id=f"{name}-hint") if isinstance(hint, rx.Var) or hint else rx.fragment(),
        spacing="1",
        width="100%",
        align="stretch",
    )


def _card(*children: rx.Component) -> rx.Component:
    return rx.card(rx.vstack(*children, spacing="4", width="100%"), width="100%", max_width="26rem", margin_x="auto")


def login_page() -> rx.Component:
    """``/login``"""
    return page(
        _card(
            rx.heading(t("Log in"), size="6", as_="h1"),
            error_callout(LoginState.error, id=FORM_ERROR),
            native_form(
                rx.vstack(
                    field(t("Username"), "username", autocomplete="username", value=LoginState.typed_username,
                          error_field=LoginState.error_field),
                    field(t("Password"), "password", type_="password", autocomplete="current-password",
                          error_field=LoginState.error_field),
                    rx.el.input(type="hidden", name="next", value=LoginState.next_path),
                    rx.button(t("Log in"), type="submit", size="3", width="100%"),
                    spacing="4",
                    width="100%",
                ),
                action="/api/browser/login",
                method="post",
                width="100%",
            ),
            rx.text(t("New here? "), rx.link(t("Create an account"), href=LoginState.register_href), size="2"),
        ),
    )


def register_page() -> rx.Component:
    """``/register``"""
    return page(
        _card(
            rx.heading(t("Create an account"), size="6", as_="h1"),
            error_callout(RegisterState.error, id=FORM_ERROR),
            native_form(
                rx.vstack(
                    field(t("Username"), "username", autocomplete="username", hint=t("3–32 letters, digits, . _ -"),
                          value=RegisterState.typed_username, error_field=RegisterState.error_field),
                    field(t("Email"), "email", type_="email", autocomplete="email", value=RegisterState.typed_email,
                          error_field=RegisterState.error_field),
                    field(t("Password"), "password", type_="password", autocomplete="new-password",
                          hint=t("8 to 128 characters; not a common password."), error_field=RegisterState.error_field),
                    rx.el.input(type="hidden", name="next", value=RegisterState.next_path),
                    rx.button(t("Create account"), type="submit", size="3", width="100%"),
                    spacing="4",
                    width="100%",
                ),
                action="/api/browser/register",
                method="post",
                width="100%",
            ),
            rx.text(t("Already registered? "), rx.link(t("Log in"), href=RegisterState.login_href), size="2"),
        ),
    )
