"""Reflex configuration. Settings come from the environment (see commons_app/config.py)."""

import os

import reflex as rx
from reflex.plugins.sitemap import SitemapPlugin

_origins = [o.strip() for o in os.environ.get("CORS_ORIGINS", "").split(",") if o.strip()]
# One port setting serves the pages, the API and the websocket: the port Reflex serves on.
# `reflex run --frontend-port N` (as `make run PORT=N` runs it) hands N to the server's workers
# as REFLEX_FRONTEND_PORT, and the websocket's allowed origin follows it. COMMONS_PORT is for
# the backend-only instances of deploy/, which serve no pages (their origin is the public URL).
_port = os.environ.get("REFLEX_FRONTEND_PORT") or os.environ.get("COMMONS_PORT") or "3000"
# Behind a load balancer, pages must open their websocket to the balancer, not to one instance.
_public_url = os.environ.get("COMMONS_PUBLIC_URL", "").rstrip("/")

config = rx.Config(
    app_name="commons_app",
    telemetry_enabled=False,
    show_built_with_reflex=False,
    redis_url=os.environ.get("REDIS_URL") or None,
    # The websocket accepts only the app's own origin unless CORS_ORIGINS names others.
    cors_allowed_origins=_origins
    or ([_public_url] if _public_url else [])
    + [f"http://localhost:{_port}", f"http://127.0.0.1:{_port}"],
    plugins=[rx.plugins.RadixThemesPlugin()],
    **({"api_url": _public_url, "deploy_url": _public_url} if _public_url else {}),
    disable_plugins=[SitemapPlugin],
    # Reflex warns (through its rich console, ~1 ms on the event loop each) when an event held
    # its tab's lock over 1 s. In a burst of ballots every event waits that long for a worker
    # thread while holding its own tab's lock (no other tab waits for it), so the warning fired for
    # most of a 200-voter burst and added to it. Warn at half the lock's 10 s expiry instead.
    redis_lock_warning_threshold=5000,
)
