"""The browser's log-in, registration and log-out: plain HTML form posts that set or clear the
HttpOnly session cookie.

Why HTTP and not a websocket event: only an HTTP response can set a cookie that no script can
read, and the websocket then presents it in its handshake (``state.connections``). Each answer is
a 303 back into the app; a refusal goes back to the form with a short code in the query string,
which the page turns into one of a fixed set of sentences (never text from the request).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from commons_app import routes
from commons_app.api.deps import client_address
from commons_app.config import get_settings
from commons_app.db import session_scope
from commons_app.routes import safe_next
from commons_app.services import auth, guests, ratelimit
from commons_app.services.auth import BROWSER_COOKIE as COOKIE_NAME
from commons_app.services.errors import Conflict, Forbidden, InvalidInput, NotAuthenticated, RateLimited, ServiceError

router = APIRouter(include_in_schema=False)
T = TypeVar("T")

def _same_origin(request: Request) -> bool:
    """A form post from the app's own pages (browsers send ``Origin`` with every POST): refuses
    log-in CSRF, which would sign a victim into the attacker's account."""
    origin = request.headers.get("origin")
    if origin is None:
        return True  # not a browser's cross-site post: browsers always send it
    host = (request.headers.get("host") or "").rsplit(":", 1)[0].strip("[]").lower()
    allowed = {host} | {urlsplit(o).hostname or "" for o in get_settings().cors_origins}
    return (urlsplit(origin).hostname or "").lower() in allowed - {""}


def _secure(request: Request) -> bool:
    """Whether the browser reached us over HTTPS (directly, through a trusted proxy, or as the
    public URL says): the cookie is then marked Secure."""
    settings = get_settings()
    peer = request.client.host if request.client else ""
    forwarded = request.headers.get("x-forwarded-proto", "") if peer in settings.trusted_proxies else ""
    public = os.environ.get("COMMONS_PUBLIC_URL", "")
    return request.url.scheme == "https" or forwarded == "https" or public.startswith("https://")


def _back(page: str, code: str, target: str, **typed: str) -> RedirectResponse:
    """Back to the form with the refusal's code, keeping what was typed (never a password)."""
    query = {"error": code, "next": target, **{k: v.strip()[:254] for k, v in typed.items() if v.strip()}}
    return RedirectResponse(f"{page}?{urlencode(query, safe='/@')}", status_code=303)


def signed_in(request: Request, credential: str, target: str) -> RedirectResponse:
    """The answer that hands a new browser session's credential (``auth.start_browser_session``)
    to the browser as its HttpOnly cookie and sends it on to ``target``: every way of letting a
    browser in ends here."""
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE_NAME, credential, max_age=int(get_settings().browser_max_hours * 3600), path="/",
        httponly=True, samesite="strict", secure=_secure(request),
    )
    return response


def _log_in(*, session: Session, username: str, password: str, address: str) -> str:
    user = auth.authenticate(session=session, username=username, password=password, address=address)
    return auth.start_browser_session(session=session, user=user)[1]


def _register(*, session: Session, username: str, email: str, password: str, address: str) -> str:
    user = auth.register_user(session=session, username=username, email=email, password=password, address=address)
    return auth.start_browser_session(session=session, user=user)[1]


def _limit_code(exc: RateLimited) -> str:
    """Which limit refused a log-in, as the form's code: the client's address (its failures) or
    the account (routes.LOGIN_ERRORS says which, as the API's 429 does)."""
    return "limited_address" if exc.message == ratelimit.MESSAGES["login_address"] else "limited_account"


def _in_session(fn: Callable[..., T], **kwargs: Any) -> T:
    with session_scope() as session:
        return fn(session=session, **kwargs)


@router.post("/browser/login")
async def browser_login(
    request: Request,
    username: Annotated[str, Form(max_length=254)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str, Form(max_length=512)] = "",
) -> RedirectResponse:
    """Check the credentials and open a browser session (303 to ``next``, or back to the form)."""
    target = safe_next(next)
    if not _same_origin(request):
        return _back(routes.LOGIN, "origin", target)
    if not username.strip() or not password:
        return _back(routes.LOGIN, "missing", target)
    try:
        credential = await run_in_threadpool(
            _in_session, _log_in, username=username.strip(), password=password, address=client_address(request)
        )
    except RateLimited as exc:
        return _back(routes.LOGIN, _limit_code(exc), target, username=username)
    except NotAuthenticated as exc:
        return _back(routes.LOGIN, "disabled" if "disabled" in exc.message else "invalid", target, username=username)
    return signed_in(request, credential, target)


@router.post("/browser/register")
async def browser_register(
    request: Request,
    username: Annotated[str, Form(max_length=64)] = "",
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str, Form(max_length=512)] = "",
) -> RedirectResponse:
    """Create the account (every rule in the service) and open a browser session."""
    target = safe_next(next)
    if not _same_origin(request):
        return _back(routes.REGISTER, "origin", target)
    if not username.strip() or not email.strip() or not password:
        return _back(routes.REGISTER, "missing", target)
    # Which field is wrong, as a code: the page shows the fixed sentence for it.
    checks = (
        ("username", lambda: auth.check_username(username)),
        ("email", lambda: auth.check_email(email)),
        ("password", lambda: auth.check_password(password, username=username.strip())),
    )
    for code, check in checks:
        try:
            check()
        except InvalidInput:
            if code == "username" and auth.USERNAME_RE.fullmatch(username.strip()):
                code = "reserved"  # the shape is fine: the name is one of the reserved ones
            return _back(routes.REGISTER, code, target, username=username, email=email)
    try:
        credential = await run_in_threadpool(
            _in_session, _register, username=username.strip(), email=email.strip(), password=password,
            address=client_address(request),
        )
    except RateLimited:
        return _back(routes.REGISTER, "rate_limited", target, username=username, email=email)
    except Conflict as exc:
        code = "lookalike" if "looks like" in exc.message else "taken"
        return _back(routes.REGISTER, code, target, username=username, email=email)
    except ServiceError:
        return _back(routes.REGISTER, "missing", target, username=username, email=email)
    return signed_in(request, credential, target)


def _invitation(*, session: Session, token: str) -> guests.GuestPass:
    return guests.open_invitation(session=session, token=token)


@router.post("/browser/invitation")
async def browser_invitation(
    request: Request, token: Annotated[str, Form(max_length=256)] = ""
) -> RedirectResponse:
    """A personal link (``/v/<token>``, whose page posts here): open a browser session of the
    link's guest voter and go to the poll's ballot. A link that names an account sends to the
    log-in; a bad or closed one goes back to the link's page with the refusal's code."""
    token = token.strip()
    page = routes.invitation_url(token) if routes._POLL_ID.fullmatch(token) else routes.POLLS
    if not _same_origin(request):
        return RedirectResponse(f"{page}?error=origin", status_code=303)
    try:
        guest_pass = await run_in_threadpool(_in_session, _invitation, token=token)
    except guests.AccountInvitation as exc:
        return RedirectResponse(routes.login_url(routes.vote_url(exc.poll_id)), status_code=303)
    except Forbidden:
        return RedirectResponse(f"{page}?error=closed", status_code=303)
    except ServiceError:
        return RedirectResponse(f"{page}?error=invalid", status_code=303)
    return signed_in(request, guest_pass.credential, routes.vote_url(guest_pass.poll_id))


def _link_guest(*, session: Session, poll_id: str, address: str) -> guests.GuestPass:
    return guests.start_link_guest(session=session, poll_id=poll_id, address=address)


@router.post("/browser/link-guest")
async def browser_link_guest(
    request: Request, poll: Annotated[str, Form(max_length=64)] = ""
) -> RedirectResponse:
    """"Vote without an account" in a link poll: this browser's guest voter (new guests are
    limited per address, ``RATELIMIT_LINK_GUEST``), then back to the poll's ballot."""
    if not routes._POLL_ID.fullmatch(poll):
        return RedirectResponse(routes.POLLS, status_code=303)
    page = routes.vote_url(poll)
    if not _same_origin(request):
        return RedirectResponse(f"{page}?error=origin", status_code=303)
    try:
        guest_pass = await run_in_threadpool(_in_session, _link_guest, poll_id=poll, address=client_address(request))
    except RateLimited:
        return RedirectResponse(f"{page}?error=rate_limited", status_code=303)
    except ServiceError:
        return RedirectResponse(f"{page}?error=invalid", status_code=303)
    return signed_in(request, guest_pass.credential, page)


def _end(*, session: Session, credential: str) -> None:
    try:
        # A guest's session ends by log-out like anyone's.
        identity = auth.identify_browser(session=session, credential=credential, allow_guest=True)
    except NotAuthenticated:
        return
    auth.revoke_session(session=session, session_id=identity.session_id, reason="logout")


@router.post("/browser/logout")
async def browser_logout(request: Request) -> RedirectResponse:
    """End the cookie's session (every tab of it stops at once) and clear the cookie."""
    credential = request.cookies.get(COOKIE_NAME, "")
    if credential and _same_origin(request):
        await run_in_threadpool(_in_session, _end, credential=credential)
    response = RedirectResponse(routes.LOGIN, status_code=303)
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="strict", secure=_secure(request))
    return response
