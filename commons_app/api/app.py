"""The REST API: a FastAPI app mounted on Reflex's backend (``rx.App(api_transformer=...)``)."""

from __future__ import annotations

import hmac
import logging
import re
import time
import uuid

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text
from sqlalchemy.exc import DataError, DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from commons_app import metrics
from commons_app.api.deps import api_rate_limit
from commons_app.api.fast_votes import PATH as FAST_PATH
from commons_app.api.fast_votes import FastBallots, error_answer
from commons_app.api.routes import accounts, admin, browser, polls, votes
from commons_app.api.schemas import ErrorOut, Health
from commons_app.config import get_settings
from commons_app.db import get_engine
from commons_app.redis_client import get_redis
from commons_app.services.errors import ServiceError

logger = logging.getLogger("commons.api")
MAX_BODY_BYTES = 1_000_000

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
    "x-frame-options": "DENY",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
    # Reflex's compiled pages use inline bootstrapping scripts and styles, and Reflex runs the
    # client actions a handler sends back (toasts, clipboard, storing a ballot's receipt) through
    # eval(): measured in Chromium, the production build without 'unsafe-eval' loads, hydrates
    # and pushes, but every such action is refused (tests/browser/test_csp.py, docs/SECURITY.md).
    # Nothing but the app's own origin, its websocket included ('self' covers ws:/wss: to it).
    # User text is rendered by React as text, never as markup or script.
    "content-security-policy": (
        "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
        "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    ),
}


# Responses of at least this many bytes are gzip-compressed when the client accepts it.
GZIP_MIN_BYTES = 1024
# The production build (Vite) names every file under /assets/ "<name>-<8-character hash>.<ext>"
# (and serves precompressed "<file>.gz" sidecars): a name never changes content, so it may be cached for good.
# (A hash has at least one capital, digit, "_" or "-": "react-dropzone.js" is not hashed.)
HASHED_ASSET = re.compile(
    r"^/assets/(?:[^/]+/)*[^/]+-(?=[a-z]{0,7}[A-Z0-9_-])[A-Za-z0-9_-]{8}\.[A-Za-z0-9]+(?:\.gz|\.br|\.zst)?$"
)
CACHE_IMMUTABLE = "public, max-age=31536000, immutable"
CACHE_REVALIDATE = "no-cache"  # pages and other static files: stored, but revalidated (ETag) before use
CACHE_PRIVATE = "no-store"  # the API and metrics: answers may hold private data


def cache_control_for(path: str, status: int) -> str:
    """The ``Cache-Control`` of a response that did not choose its own."""
    if path.startswith("/api/") or path in {"/api", "/metrics"}:
        return CACHE_PRIVATE
    if status in {200, 203, 206, 304} and HASHED_ASSET.match(path):
        return CACHE_IMMUTABLE
    return CACHE_REVALIDATE


class RequestGuard:
    """Pure ASGI middleware: request ids, size cap, security and caching headers, metrics and one log line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("commons.guarded"):
            await self.app(scope, receive, send)
            return
        scope["commons.guarded"] = True  # once per request: the ballot's hot path guards it outside Reflex's layers
        headers = dict(scope.get("headers") or [])
        request_id = headers.get(b"x-request-id", b"").decode("latin-1")[:64] or uuid.uuid4().hex
        started = time.perf_counter()
        status_holder = {"status": 500}
        received = 0

        async def capped_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > MAX_BODY_BYTES:
                    raise _BodyTooLarge()
            return message

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                raw = list(message.get("headers", []))
                present = {k.lower() for k, _ in raw}
                for name, value in SECURITY_HEADERS.items():
                    if name.encode() not in present:
                        raw.append((name.encode(), value.encode()))
                if b"cache-control" not in present:
                    cache_control = cache_control_for(scope.get("path", ""), message["status"])
                    raw.append((b"cache-control", cache_control.encode()))
                raw.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": raw}
            await send(message)

        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or len(length) > 12 or int(length) > MAX_BODY_BYTES):
            response = JSONResponse({"detail": f"Request body larger than {MAX_BODY_BYTES} bytes."}, status_code=413)
            await response(scope, receive, send_with_headers)
            return
        try:
            await self.app(scope, capped_receive, send_with_headers)
        except _BodyTooLarge:
            response = JSONResponse({"detail": f"Request body larger than {MAX_BODY_BYTES} bytes."}, status_code=413)
            await response(scope, receive, send_with_headers)
        finally:
            path = scope.get("path", "")
            if path.startswith("/api") or path == "/metrics":
                route = scope.get("route")
                route_path = getattr(route, "path", None) or ("/api/*" if path.startswith("/api") else path)
                if path.startswith("/api/") and not route_path.startswith("/api"):
                    # Routers included with prefix="/api" keep their own, unprefixed paths.
                    route_path = "/api" + route_path
                elapsed = time.perf_counter() - started
                metrics.REQUESTS.labels(scope["method"], route_path, str(status_holder["status"])).inc()
                metrics.REQUEST_SECONDS.labels(scope["method"], route_path).observe(elapsed)
                logger.info(
                    "request",
                    extra={
                        "request_id": request_id,
                        "method": scope["method"],
                        "path": path,
                        "status": status_holder["status"],
                        "ms": round(elapsed * 1000, 2),
                    },
                )


class _BodyTooLarge(StarletteHTTPException):
    """Raised while reading a body past the cap. An HTTPException, so that FastAPI's body parsing
    passes it on (it turns other exceptions into a 400) and the handler answers 413."""

    def __init__(self) -> None:
        super().__init__(status_code=413, detail=f"Request body larger than {MAX_BODY_BYTES} bytes.")


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors()[:10]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("body",))
        parts.append(f"{where}: {error.get('msg', 'invalid')}" if where else str(error.get("msg", "invalid")))
    return "; ".join(parts) or "Invalid request."


def create_api() -> FastAPI:
    """Build the FastAPI app holding the REST API, health and metrics."""
    api = FastAPI(
        title="The Commons API",
        version="1.0.0",
        description="Polls, ballots and live results. Errors are JSON {\"detail\": \"...\"}.",
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
    )

    @api.exception_handler(ServiceError)
    async def service_error(_request: Request, exc: ServiceError) -> JSONResponse:
        status, headers = error_answer(exc)
        return JSONResponse({"detail": exc.message}, status_code=status, headers=headers or None)

    @api.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _validation_message(exc)}, status_code=422)

    @api.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"detail": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)

    @api.exception_handler(OperationalError)
    @api.exception_handler(DBAPIError)
    @api.exception_handler(PoolTimeoutError)  # every pooled connection busy for pool_timeout seconds
    async def database_down(_request: Request, exc: Exception) -> JSONResponse:
        logger.error("database error", exc_info=exc)
        return JSONResponse({"detail": "The database is unavailable; try again shortly."}, status_code=503)

    @api.exception_handler(DataError)
    @api.exception_handler(OverflowError)
    async def value_refused(_request: Request, exc: Exception) -> JSONResponse:
        # The database refused a value from the request (an id beyond its integer range, a NUL
        # byte in text on PostgreSQL; SQLite raises OverflowError for ids >= 2**63): bad input.
        logger.info("database refused a value: %s", type(exc).__name__)
        return JSONResponse({"detail": "A value in the request is out of range or not allowed."}, status_code=422)

    for router in (accounts.router, polls.router, votes.router, admin.router, browser.router):
        api.include_router(router, prefix="/api", dependencies=[Depends(api_rate_limit)])

    @api.get("/api/health", response_model=Health, tags=["operations"], responses={503: {"model": Health}})
    def health() -> JSONResponse:
        """Readiness: the database and (when configured) Redis answer. A failing one is named
        ``"down"``; why is in the log, not in the answer (exception names tell an outsider which
        driver and library versions to aim at)."""
        database = "ok"
        try:
            with get_engine().connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception:  # any failure means not ready
            logger.warning("health: the database is down", exc_info=True)
            database = "down"
        client = get_redis()
        redis_state = "not configured"
        if client is not None:
            try:
                client.ping()
                redis_state = "ok"
            except Exception:
                logger.warning("health: Redis is down", exc_info=True)
                redis_state = "down"
        ok = database == "ok" and redis_state in {"ok", "not configured"}
        body = {"status": "ok" if ok else "degraded", "database": database, "redis": redis_state}
        return JSONResponse(body, status_code=200 if ok else 503)

    @api.get("/api/health/live", tags=["operations"])
    def liveness() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @api.get("/metrics", tags=["operations"], response_class=Response,
             responses={401: {"model": ErrorOut}, 404: {"model": ErrorOut}})
    def metrics_page(request: Request) -> Response:
        """Prometheus text format, for ``Authorization: Bearer <METRICS_TOKEN>`` only (not served
        when ``METRICS_TOKEN`` is unset)."""
        # Ballot counts moving and connected clients are a side channel against anonymous polls:
        # only the operator's scraper may read them.
        expected = get_settings().metrics_token
        if expected is None:
            raise StarletteHTTPException(status_code=404)  # "Not Found", as for an unknown route
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        # Bytes: compare_digest refuses str with non-ASCII characters (headers arrive as latin-1).
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode("latin-1"), expected.encode("utf-8")
        ):
            raise StarletteHTTPException(
                status_code=401, detail="A valid metrics token is required.", headers={"WWW-Authenticate": "Bearer"}
            )
        body, content_type = metrics.render()
        return Response(content=body, media_type=content_type)

    return api


class Compression:
    """gzip for HTTP responses of at least :data:`GZIP_MIN_BYTES` (Starlette's ``GZipMiddleware``).

    Left alone: websockets and the socket.io endpoint (``/_event``), event streams, already encoded
    responses (the precompressed ``.gz`` assets) and files sent with the server's ``pathsend``.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.gzip = GZipMiddleware(
            app, minimum_size=GZIP_MIN_BYTES, compresslevel=6,
            exclude_content_types=(*DEFAULT_EXCLUDED_CONTENT_TYPES, "application/octet-stream"),
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path", "").startswith("/_event"):
            await self.app(scope, receive, send)
            return
        await self.gzip(scope, receive, send)


def wrap_with_guard(app: ASGIApp) -> ASGIApp:
    """The outermost layers around the whole backend (pages, websocket and API) that Reflex's
    ``api_transformer`` places: the request guard, then compression."""
    return RequestGuard(Compression(app))


class HotPaths:
    """The layer around everything Reflex serves (``CommonsApp``): ``POST /api/votes/`` goes to the
    request guard and the ballot's hot path (``FastBallots``) directly, without Reflex's own
    Starlette app, middlewares and mount, which cost more than the ballot's own work. What the hot
    path does not take goes on through all of them, and is guarded once."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.ballots = RequestGuard(FastBallots(app))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == FAST_PATH and scope["method"] == "POST":
            await self.ballots(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def with_hot_paths(app: ASGIApp) -> ASGIApp:
    """The served backend: Reflex's app (or, in tests, the guarded API) behind :class:`HotPaths`."""
    return HotPaths(app)
