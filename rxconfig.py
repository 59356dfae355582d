"""Reflex configuration. Settings come from the environment (see commons_app/config.py)."""

import os

import reflex as rx
from reflex.plugins.sitemap import SitemapPlugin

_origins = [o.strip() for o in os.environ.get("CORS_ORIGINS", "").split(",") if o.strip()]
_port = os.environ.get("COMMONS_PORT", "3000")
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
)
