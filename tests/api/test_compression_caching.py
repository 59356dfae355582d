"""Compression and caching headers of the backend (``wrap_with_guard``: the request guard around
Starlette's GZipMiddleware), for the API and for the static files of the production build.

* responses of at least 1 KB are gzip-compressed when the client accepts gzip; smaller ones,
  event streams, already-encoded files (the build's ``.gz`` sidecars), websockets and the
  socket.io endpoint are left alone;
* ``Cache-Control``: ``no-store`` on the API and /metrics, a year and ``immutable`` on the
  build's hashed files under ``/assets/``, ``no-cache`` on pages and other static files; a
  response that chose its own keeps it;
* the 1 MB body cap and the security headers still apply.

The static side is checked here on a miniature build served by Reflex's own static files class;
``tests/deploy/test_cluster.py`` checks the real build through nginx.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.websockets import WebSocket

from commons_app.api.app import (
    CACHE_IMMUTABLE,
    CACHE_PRIVATE,
    CACHE_REVALIDATE,
    GZIP_MIN_BYTES,
    HASHED_ASSET,
    MAX_BODY_BYTES,
    SECURITY_HEADERS,
    cache_control_for,
    wrap_with_guard,
)
from tests import factories
from tests.conftest import METRICS_HEADERS

GZIP = {"Accept-Encoding": "gzip"}
IDENTITY = {"Accept-Encoding": "identity"}


def assert_security_headers(response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, name


def vary(response) -> set[str]:
    return {v.strip().lower() for v in response.headers.get("vary", "").split(",") if v.strip()}


# --- the API ------------------------------------------------------------------------------------------
@pytest.fixture
def big_poll(session, user):
    """A poll whose JSON is several kilobytes (50 options with long labels)."""
    options = [f"Option {i:02d}: a fairly long label so that the answer passes the threshold" for i in range(50)]
    return factories.make_poll(session, user, options=options).poll


def test_a_large_json_answer_is_gzipped_and_not_stored(client, user, big_poll, auth_headers):
    headers = {**auth_headers(user), **GZIP}
    plain = client.get(f"/api/polls/{big_poll.id}", headers={**auth_headers(user), **IDENTITY})
    response = client.get(f"/api/polls/{big_poll.id}", headers=headers)

    assert response.status_code == 200, response.text
    assert response.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in vary(response)
    # httpx decodes the body; what travelled is the compressed size.
    assert int(response.headers["content-length"]) < len(plain.content) // 3
    assert response.json() == plain.json() and len(response.json()["options"]) == 50
    assert response.headers["cache-control"] == CACHE_PRIVATE
    assert_security_headers(response)
    assert response.headers["x-request-id"]


def test_without_accept_encoding_the_answer_is_plain(client, user, big_poll, auth_headers):
    response = client.get(f"/api/polls/{big_poll.id}", headers={**auth_headers(user), **IDENTITY})

    assert response.status_code == 200
    assert "content-encoding" not in response.headers
    assert int(response.headers["content-length"]) == len(response.content) >= GZIP_MIN_BYTES
    assert response.headers["cache-control"] == CACHE_PRIVATE


def test_a_small_answer_is_not_compressed(client):
    response = client.get("/api/health/live", headers=GZIP)

    assert response.status_code == 200 and len(response.content) < GZIP_MIN_BYTES
    assert "content-encoding" not in response.headers
    assert response.headers["cache-control"] == CACHE_PRIVATE
    assert_security_headers(response)


def test_private_answers_and_errors_are_not_stored(client, user, auth_headers):
    me = client.get("/api/me", headers=auth_headers(user))
    denied = client.get("/api/me")
    missing = client.get("/api/polls/999999", headers=auth_headers(user))

    assert (me.status_code, denied.status_code, missing.status_code) == (200, 401, 404)
    for response in (me, denied, missing):
        assert response.headers["cache-control"] == CACHE_PRIVATE


def test_metrics_and_the_openapi_document_are_compressed_and_not_stored(client):
    for path in ("/metrics", "/api/openapi.json"):
        response = client.get(path, headers={**GZIP, **METRICS_HEADERS})
        assert response.status_code == 200, path
        assert response.headers["content-encoding"] == "gzip", path
        assert response.headers["cache-control"] == CACHE_PRIVATE, path
    assert "paths" in client.get("/api/openapi.json", headers=GZIP).json()


def test_the_body_cap_still_applies_to_a_client_that_accepts_gzip(client, engine, session, user):
    headers = {**factories.token_headers(session, user), "content-type": "application/json", **GZIP}
    big = b'{"title": "' + b"x" * MAX_BODY_BYTES + b'", "options": ["a", "b"]}'

    response = client.post("/api/polls/", content=big, headers=headers)

    assert response.status_code == 413
    assert "larger than" in response.json()["detail"]
    assert response.headers["cache-control"] == CACHE_PRIVATE
    assert_security_headers(response)
    assert factories.row_counts(engine)["polls"] == 0


# --- which Cache-Control ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "status", "expected"),
    [
        ("/api/polls/", 200, CACHE_PRIVATE),
        ("/api/health", 503, CACHE_PRIVATE),
        ("/metrics", 200, CACHE_PRIVATE),
        # names of Reflex 0.10's production build (Vite: "<name>-<8-character hash>.<ext>")
        ("/assets/entry.client-DAbZKoE_.js", 200, CACHE_IMMUTABLE),
        ("/assets/_polls_.__poll_id_._index--D6BfWZI.js", 200, CACHE_IMMUTABLE),
        ("/assets/__reflex_global_styles-NccINl-w.css", 200, CACHE_IMMUTABLE),
        ("/assets/manifest-ec9eff2e.js", 304, CACHE_IMMUTABLE),
        ("/assets/reflex-env-CeKS4ii_.js.gz", 200, CACHE_IMMUTABLE),
        ("/assets/entry.client-DAbZKoE_.js", 404, CACHE_REVALIDATE),  # a missing file may appear later
        ("/assets/react-dropzone.js", 200, CACHE_REVALIDATE),  # not a hash: lower-case letters only
        ("/assets/logo.png", 200, CACHE_REVALIDATE),
        ("/", 200, CACHE_REVALIDATE),
        ("/polls/12/results/", 200, CACHE_REVALIDATE),
        ("/favicon.ico", 200, CACHE_REVALIDATE),
    ],
)
def test_cache_control_by_path(path, status, expected):
    assert cache_control_for(path, status) == expected


def test_the_hash_pattern_needs_the_assets_folder():
    assert HASHED_ASSET.match("/assets/root-DvDrYYjk.js")
    assert not HASHED_ASSET.match("/root-DvDrYYjk.js")
    assert not HASHED_ASSET.match("/api/assets/root-DvDrYYjk.js")


# --- static files, websockets and streams through the same layers ----------------------------------------
BIG_JS = "export const data = [" + ",".join(f'"item-{i}"' for i in range(2000)) + "];\n"
PAGE = "<!doctype html><html><head><title>Commons</title></head><body>" + "<p>page</p>" * 300 + "</body></html>"


@pytest.fixture
def site(tmp_path: Path) -> TestClient:
    """A miniature production build served like Reflex serves it (``PrecompressedStaticFiles``),
    next to a websocket, an event stream and a route with its own Cache-Control."""
    from reflex.utils.precompressed_staticfiles import PrecompressedStaticFiles

    assets = tmp_path / "assets"
    assets.mkdir()
    (assets / "big-Ab12Cd34.js").write_text(BIG_JS)
    (assets / "pre-Zx98Yw76.js").write_text(BIG_JS)
    (assets / "pre-Zx98Yw76.js.gz").write_bytes(gzip.compress(BIG_JS.encode()))
    (tmp_path / "index.html").write_text(PAGE)
    (tmp_path / "favicon.ico").write_bytes(b"\x00" * 64)

    async def stream(_request):
        async def events():
            for i in range(50):
                yield f"data: {'x' * 100} {i}\n\n"
        return StreamingResponse(events(), media_type="text/event-stream")

    async def own_cache(_request):
        return PlainTextResponse("y" * 4000, headers={"Cache-Control": "public, max-age=60"})

    async def engine_io(_request):
        return PlainTextResponse("0" * 4000)

    async def echo(websocket: WebSocket):
        await websocket.accept()
        await websocket.send_text((await websocket.receive_text()) * 500)
        await websocket.close()

    app = Starlette(routes=[
        Route("/stream", stream),
        Route("/own-cache", own_cache),
        Route("/_event/", engine_io),
        WebSocketRoute("/_event/ws", echo),
        Mount("/", app=PrecompressedStaticFiles(directory=tmp_path, html=True, encodings=["gzip"])),
    ])
    with TestClient(wrap_with_guard(app)) as client:
        yield client


def test_a_hashed_asset_is_immutable_and_compressed(site):
    response = site.get("/assets/big-Ab12Cd34.js", headers=GZIP)

    assert response.status_code == 200
    assert response.headers["cache-control"] == CACHE_IMMUTABLE
    assert response.headers["content-encoding"] == "gzip"
    assert response.text == BIG_JS
    assert_security_headers(response)


def test_a_precompressed_asset_is_sent_as_built_not_compressed_twice(site):
    response = site.get("/assets/pre-Zx98Yw76.js", headers=GZIP)

    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip"
    assert response.text == BIG_JS  # one gzip layer: httpx's single decode gives the source back
    assert response.headers["cache-control"] == CACHE_IMMUTABLE


def test_a_revalidated_asset_keeps_its_cache_headers(site):
    first = site.get("/assets/big-Ab12Cd34.js", headers=IDENTITY)
    again = site.get("/assets/big-Ab12Cd34.js", headers={**IDENTITY, "If-None-Match": first.headers["etag"]})

    assert again.status_code == 304
    assert again.headers["cache-control"] == CACHE_IMMUTABLE


def test_pages_and_unhashed_files_are_revalidated(site):
    page = site.get("/", headers=GZIP)
    icon = site.get("/favicon.ico", headers=GZIP)
    missing = site.get("/assets/gone-Ab12Cd34.js", headers=GZIP)

    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == CACHE_REVALIDATE
    assert page.headers["content-encoding"] == "gzip" and page.text == PAGE
    assert_security_headers(page)
    assert icon.headers["cache-control"] == CACHE_REVALIDATE and "content-encoding" not in icon.headers
    assert missing.status_code == 404 and missing.headers["cache-control"] == CACHE_REVALIDATE


def test_a_route_that_sets_cache_control_keeps_it(site):
    response = site.get("/own-cache", headers=GZIP)

    assert response.headers["cache-control"] == "public, max-age=60"
    assert response.headers["content-encoding"] == "gzip"


def test_an_event_stream_is_not_compressed(site):
    with site.stream("GET", "/stream", headers=GZIP) as response:
        body = "".join(response.iter_text())
    assert response.headers["content-type"].startswith("text/event-stream")
    assert "content-encoding" not in response.headers
    assert body.count("data: ") == 50


def test_the_socketio_endpoint_and_websockets_are_left_alone(site):
    polling = site.get("/_event/", headers=GZIP)
    assert polling.status_code == 200 and len(polling.content) >= GZIP_MIN_BYTES
    assert "content-encoding" not in polling.headers

    with site.websocket_connect("/_event/ws") as websocket:
        websocket.send_text("ping ")
        assert websocket.receive_text() == "ping " * 500


def test_json_over_the_threshold_from_any_route_is_compressed(tmp_path):
    payload = {"items": [{"id": i, "name": f"entry {i}"} for i in range(200)]}

    async def listing(_request):
        return JSONResponse(payload)

    with TestClient(wrap_with_guard(Starlette(routes=[Route("/api/things", listing)]))) as client:
        response = client.get("/api/things", headers=GZIP)
    assert response.headers["content-encoding"] == "gzip"
    assert json.loads(response.text) == payload
    assert response.headers["cache-control"] == CACHE_PRIVATE
