"""Prometheus metrics. With several workers set PROMETHEUS_MULTIPROC_DIR so /metrics sums them."""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

REQUESTS = Counter("commons_http_requests_total", "HTTP requests", ["method", "route", "status"])
REQUEST_SECONDS = Histogram(
    "commons_http_request_seconds", "HTTP request latency", ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
BALLOTS = Counter("commons_ballots_total", "Ballot operations", ["action"])
EVENT_SECONDS = Histogram(
    "commons_event_handler_seconds", "Reflex event handler latency", ["handler"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
LIVE_PUSHES = Counter("commons_live_pushes_total", "Coalesced live-result pushes to a poll's viewers")


def render() -> tuple[bytes, str]:
    """The metrics page and its content type."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
