"""Log-in and registration pages."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import reflex as rx
from sqlmodel import Session

from commons_app import routes
from commons_app.components.layout import error_callout, page
from commons_app.services import auth, ratelimit
from commons_app.services.errors import ServiceError
from commons_app.state.session import SessionState, private_state, run_service


def _browser_login(*, session: Session, username: str, password: str, address: str) -> dict[str, Any]:
    user = auth.authenticate(session=session, username=username, password=password, address=address)
    _sid, credential = auth.start_browser_session(session=session, user=user)
    return {"credential": credential, "username": user.username, "role": user.role, "id": user.id}


def _browser_register(*, session: Session, username: str, email: str, password: str, address: str) -> dict[str, Any]:
    user = auth.register_user(session=session, username=username, email=email, password=password, address=address)
    _sid, credential = auth.start_browser_session(session=session, user=user)
    return {"credential": credential, "username": user.username, "role": user.role, "id": user.id}


def safe_next(target: str | None) -> str:
    """Only same-site paths are followed after signing in (no open redirect): ``/polls/…`` yes;
    ``https://evil.example``, ``//evil.example``, ``/\\evil.example`` and paths with control
    characters or spaces (which browsers drop, turning ``/\t/evil`` into ``//evil``) no."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return routes.POLLS
    if any(ord(ch) <= 32 or ord(ch) == 127 for ch in target):
        return routes.POLLS
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return routes.POLLS
    return target


class _AuthFormState(SessionState):
    error: str = ""
    loading: bool = False
    next_path: str = ""  # where to go after signing in; kept by the link to the other form

    @rx.var
    def login_href(self) -> str:
        """The log-in page, keeping ``next``."""
        return routes.login_url(self.next_path)

    @rx.var
    def register_href(self) -> str:
        """The registration page, keeping ``next``."""
        return routes.register_url(self.next_path)

    def _read_next(self) -> None:
        raw = self.router.url.query_parameters.get("next")
        self.next_path = safe_next(raw) if raw and safe_next(raw) == raw else ""

    @rx.event
    async def redirect_if_signed_in(self):  # noqa: ANN202 - Reflex event return
        """On load: remember ``next``; a signed-in user goes straight on."""
        self.error = ""
        self._read_next()
        await self.check_session()
        if self.signed_in:
            return rx.redirect(safe_next(self.next_path))
        return None

    def _client_address(self) -> str:
        """The browser's address, by the REST API's rule (TRUSTED_PROXIES and X-Forwarded-For):
        behind the deploy's nginx the socket's peer is nginx for everyone."""
        # Reflex's client_ip is the socket's peer (its trusted_proxy_hops is left at 0).
        forwarded = self.router.headers.raw_headers.get("x-forwarded-for", "")
        return ratelimit.client_address(self.router.session.client_ip, forwarded)

    def _signed_in(self, me: dict[str, Any]):  # noqa: ANN202 - Reflex event return
        self.credential = me["credential"]
        self.username, self.role, self.user_id = me["username"], me["role"], int(me["id"])
        self.loading = False
        target = safe_next(self.router.url.query_parameters.get("next"))
        return [rx.redirect(target), rx.toast.success(f"Welcome, {me['username']}!")]


@private_state
class LoginState(_AuthFormState):
    """The log-in form."""

    @rx.event
    async def submit(self, form: dict[str, Any]):  # noqa: ANN201 - Reflex event return
        """Check the credentials on the server and open a browser session."""
        self.error = ""
        username = str(form.get("username", "")).strip()
        password = str(form.get("password", ""))
        if not username or not password:
            self.error = "Enter your username and password."
            return
        self.loading = True
        yield
        try:
            me = await run_service(
                _browser_login, username=username, password=password, address=self._client_address()
            )
        except ServiceError as exc:
            self.error = exc.message
            self.loading = False
            return
        yield self._signed_in(me)


@private_state
class RegisterState(_AuthFormState):
    """The registration form."""

    @rx.event
    async def submit(self, form: dict[str, Any]):  # noqa: ANN201 - Reflex event return
        """Create the account (all checks in the service) and sign in."""
        self.error = ""
        username = str(form.get("username", "")).strip()
        email = str(form.get("email", "")).strip()
        password = str(form.get("password", ""))
        if not username or not email or not password:
            self.error = "Fill in username, email and password."
            return
        if len(username) > 32 or len(email) > 254 or len(password) > 128:
            self.error = "Username, email or password is too long."
            return
        self.loading = True
        yield
        try:
            me = await run_service(
                _browser_register, username=username, email=email, password=password, address=self._client_address()
            )
        except ServiceError as exc:
            self.error = exc.message
            self.loading = False
            return
        yield self._signed_in(me)


def field(label: str, name: str, *, type_: str = "text", autocomplete: str = "", hint: str = "") -> rx.Component:
    """A labelled input; the label names the input for screen readers and tests."""
    return rx.vstack(
        rx.el.label(label, html_for=name, font_weight="500"),
        rx.input(id=name, name=name, type=type_, auto_complete=autocomplete, required=True, size="3", width="100%"),
        rx.cond(hint != "", rx.text(hint, size="1", color_scheme="gray")) if hint else rx.fragment(),
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
            rx.heading("Log in", size="6", as_="h1"),
            error_callout(LoginState.error),
            rx.form(
                rx.vstack(
                    field("Username", "username", autocomplete="username"),
                    field("Password", "password", type_="password", autocomplete="current-password"),
                    rx.button("Log in", type="submit", loading=LoginState.loading, size="3", width="100%"),
                    spacing="4",
                    width="100%",
                ),
                on_submit=LoginState.submit,
                width="100%",
            ),
            rx.text("New here? ", rx.link("Create an account", href=LoginState.register_href), size="2"),
        ),
    )


def register_page() -> rx.Component:
    """``/register``"""
    return page(
        _card(
            rx.heading("Create an account", size="6", as_="h1"),
            error_callout(RegisterState.error),
            rx.form(
                rx.vstack(
                    field("Username", "username", autocomplete="username", hint="3–32 letters, digits, . _ -"),
                    field("Email", "email", type_="email", autocomplete="email"),
                    field("Password", "password", type_="password", autocomplete="new-password", hint="8 to 128 characters; not a common password."),
                    rx.button("Create account", type="submit", loading=RegisterState.loading, size="3", width="100%"),
                    spacing="4",
                    width="100%",
                ),
                on_submit=RegisterState.submit,
                width="100%",
            ),
            rx.text("Already registered? ", rx.link("Log in", href=RegisterState.login_href), size="2"),
        ),
    )
