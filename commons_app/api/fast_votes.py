"""``POST /api/votes/`` on PostgreSQL without the framework layers: a pure ASGI layer inside the
request guard (which still adds the request id, the security and caching headers, the metrics and
the log line) that answers the ballot itself, on the event loop (``services.fast_ballots``). The
server runs it outside Reflex's own layers (``app.HotPaths``).

It takes only what it can answer exactly as the FastAPI route would: a JSON body that
``VoteCreate`` accepts, a bearer token, a named poll, no ``Origin`` (a browser's cross-origin
call needs the CORS layer's headers). Everything else (no token, a body the schema refuses, an
anonymous poll, SQLite) goes on, untouched and with its body replayed, to the FastAPI route, whose
answers (401, 422 and their wording) are then the route's own.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import psycopg
from pydantic import ValidationError
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from commons_app.api.deps import api_rate_limit
from commons_app.api.routes.votes import vote_out
from commons_app.api.schemas import VoteCreate
from commons_app.db import PoolTimeout, async_pool
from commons_app.services import fast_ballots
from commons_app.services.errors import RateLimited, ServiceError
from commons_app.services.votes import BallotInput

logger = logging.getLogger("commons.api")

PATH = "/api/votes/"


class _Route:
    """What the request guard reads of ``scope["route"]`` for its metrics label."""

    path = PATH


_ROUTE = _Route()
_UNAVAILABLE = b'{"detail":"The database is unavailable; try again shortly."}'


def error_answer(exc: ServiceError) -> tuple[int, dict[str, str]]:
    """The status and extra headers of a service's refusal (the API's exception handler's rule)."""
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else {}
    if exc.status_code == 401:
        headers = {"WWW-Authenticate": "Bearer"}
    return exc.status_code, headers


class FastBallots:
    """Answers ``POST /api/votes/`` itself where it can (see the module's docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        token = content_type = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, credential = value.decode("latin-1").partition(" ")
                if scheme.lower() == "bearer" and credential:
                    token = credential
            elif name == b"content-type":
                content_type = value
            elif name == b"origin":  # a browser's cross-origin call: the CORS layer answers it
                token = None
                break
        pool = async_pool() if token and content_type and content_type.startswith(b"application/json") else None
        if pool is None:
            await self.app(scope, receive, send)
            return
        body, message = await _read_body(receive)
        if message is not None:  # the client went away
            return
        try:
            vote = VoteCreate.model_validate_json(body)
        except ValidationError:
            vote = None
        if vote is None:
            await self.app(scope, _replay(body, receive), send)
            return
        scope["route"] = _ROUTE
        try:
            await api_rate_limit(Request(scope))  # the API-wide limit every route has, counted once
            cast = await fast_ballots.cast_ballot(
                pool=pool,
                token=token,  # type: ignore[arg-type]
                poll_id=vote.poll_id,
                ballot=BallotInput(
                    option_id=vote.option_id, option_ids=vote.option_ids, ranking=vote.ranking, scores=vote.scores
                ),
            )
        except ServiceError as exc:
            status, headers = error_answer(exc)
            await _respond(send, status, _detail(exc.message), headers)
            return
        except (psycopg.OperationalError, PoolTimeout) as exc:
            logger.error("database error", exc_info=exc)
            await _respond(send, 503, _UNAVAILABLE)
            return
        if cast is None:  # not this path's ballot: the route decides it all again
            scope.pop("route", None)
            await self.app(scope, _replay(body, receive), send)
            return
        await _respond(send, 201, vote_out(cast.ballot, cast.method).model_dump_json().encode())


def _detail(message: str) -> bytes:
    return json.dumps({"detail": message}, ensure_ascii=False, separators=(",", ":")).encode()


async def _read_body(receive: Receive) -> tuple[bytes, Message | None]:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"", message
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks), None


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the already read body over once, then waits as the server's does."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _respond(send: Send, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
    raw: list[Any] = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
