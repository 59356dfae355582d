"""Dependencies of the API routes: a database session and the caller's identity."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import OAuth2PasswordBearer
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from commons_app.api.schemas import POLL_ID_PATTERN
from commons_app.db import session_scope
from commons_app.models import User
from commons_app.services import auth, ratelimit
from commons_app.services.errors import NotAuthenticated

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/token", auto_error=False)


def get_db() -> Iterator[Session]:
    """One session per request."""
    with session_scope() as session:
        yield session


DbSession = Annotated[Session, Depends(get_db)]

# Every {poll_id} in a path: the poll's opaque id (anything else is a 422, a wrong one a 404).
PollId = Annotated[str, Path(min_length=1, max_length=64, pattern=POLL_ID_PATTERN, description="The poll's opaque id.")]


BearerToken = Annotated[str | None, Depends(oauth2_scheme)]


def identify(db: Session, token: str | None) -> auth.Identity:
    """The caller, from a bearer token whose session is still live."""
    if not token:
        raise NotAuthenticated("Not authenticated: send a bearer token.")
    return auth.identify(session=db, token=token)


def get_identity(db: DbSession, token: BearerToken) -> auth.Identity:
    """The caller, from a bearer token whose session is still live."""
    return identify(db, token)


CurrentIdentity = Annotated[auth.Identity, Depends(get_identity)]


async def get_user(identity: CurrentIdentity) -> User:
    """The calling user (async: nothing to wait for, so no trip to the thread pool)."""
    return identity.user


CurrentUser = Annotated[User, Depends(get_user)]


def client_address(request: Request) -> str:
    """The caller's address: the peer, or, behind a proxy listed in TRUSTED_PROXIES, the last
    address that proxy saw in X-Forwarded-For (earlier entries can be forged by the client)."""
    peer = request.client.host if request.client else "unknown"
    return ratelimit.client_address(peer, request.headers.get("x-forwarded-for", ""))


API_LIMIT_COUNTED = "commons.api_limit_counted"  # in the ASGI scope: this request was counted


async def api_rate_limit(request: Request) -> None:
    """The limit on the API as a whole, per client address, once per request (the ballot's hot
    path counts it before it hands a ballot on to the route; counted in a worker thread: the
    limiter's storage may be Redis)."""
    if ratelimit.enabled() and not request.scope.get(API_LIMIT_COUNTED):
        request.scope[API_LIMIT_COUNTED] = True
        await run_in_threadpool(ratelimit.hit, "api", client_address(request))
