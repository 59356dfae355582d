"""Rate limits with the ``limits`` library: Redis storage when REDIS_URL is set, memory otherwise.

Each named limit can be changed with an environment variable ``RATELIMIT_<NAME>`` (for example
``RATELIMIT_LOGIN_ACCOUNT="5/minute"``); ``RATELIMIT_ENABLED=0`` turns them all off.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import time
from functools import cache, lru_cache

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from commons_app.config import get_settings
from commons_app.services.errors import RateLimited

logger = logging.getLogger(__name__)
REDIS_TIMEOUT = 0.5  # seconds, per Redis call of the limiter

DEFAULT_LIMITS = {
    "login_address": "30/minute",
    "login_account": "10/minute",
    "register": "20/hour",
    "refresh": "60/minute",
    "ballot": "60/minute",
    "api": "1200/minute",
    # New guests (voters without an account) per address: a room of 200 behind one NAT fits.
    "link_guest": "1000/hour",
}
MESSAGES = {
    "login_address": "Too many log-in attempts from this address; try again later.",
    "login_account": "Too many log-in attempts for this account; try again later.",
    "register": "Too many accounts created from this address; try again later.",
    "refresh": "Too many token refreshes; try again later.",
    "ballot": "Too many ballots in a short time; try again later.",
    "api": "Too many requests; slow down.",
    "link_guest": "Too many new voters from this address; try again later.",
}


def enabled() -> bool:
    """Whether limits are enforced at all."""
    return os.environ.get("RATELIMIT_ENABLED", "1").lower() not in {"0", "false", "no"}


@lru_cache(maxsize=1)
def _limiter() -> tuple[MovingWindowRateLimiter, Storage]:
    url = get_settings().redis_url
    # Bounded waits: a hung Redis (the port open, nothing answering) must end in the fail-open
    # path of hit(), not hold every request forever.
    storage: Storage = (
        storage_from_string(url, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT)
        if url else MemoryStorage()
    )
    return MovingWindowRateLimiter(storage), storage


@cache
def limit_for(name: str) -> RateLimitItem:
    """The configured limit called ``name``."""
    return parse(os.environ.get(f"RATELIMIT_{name.upper()}", DEFAULT_LIMITS[name]))


def _prefix() -> str:
    return os.environ.get("RATELIMIT_PREFIX", "commons")


def private_key(user_id: int) -> str:
    """A limit key for a user that names nobody to a reader of Redis: a keyed hash of the id.

    The ballot limit's keys live a minute after each ballot; under the plain user id they would
    tell a reader of Redis who voted just now, which next to the events an anonymous poll has not shown yet
    could single a voter out (docs/SECURITY.md).
    """
    secret = get_settings().secret_key.encode()
    return hmac.new(secret, f"limit:{user_id}".encode(), hashlib.sha256).hexdigest()[:32]


def hit(name: str, key: str) -> None:
    """Count one request against limit ``name`` for ``key``.

    The moving-window count is atomic (a Lua script on Redis, a lock in memory). When Redis is
    unreachable the request is let through and the failure logged: a limiter outage must not
    stop people from voting.

    Raises:
        RateLimited: The limit is exhausted; ``retry_after`` says when a slot frees up.
    """
    if not enabled():
        return
    limiter, _ = _limiter()
    item = limit_for(name)
    try:
        allowed = limiter.hit(item, _prefix(), name, key)
        if allowed:
            return
        reset_at, _remaining = limiter.get_window_stats(item, _prefix(), name, key)
    except Exception:
        logger.warning("rate limiter storage unavailable; letting %s through", name, exc_info=True)
        return
    raise RateLimited(MESSAGES[name], retry_after=int(reset_at - time.time()) + 1)


def reset() -> None:
    """Forget every count (tests use this)."""
    _, storage = _limiter()
    storage.reset()
