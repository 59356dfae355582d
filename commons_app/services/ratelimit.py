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
from commons_app.i18n import N_
from commons_app.services.errors import RateLimited

logger = logging.getLogger(__name__)
REDIS_TIMEOUT = 0.5  # seconds, per Redis call of the limiter

# What each limit counts (docs/SECURITY.md, "Rate limits", explains the choice):
# login_address        failed log-ins from one client address (successes are free: a room of 200
#                      people behind one NAT address logs in at once; guessing fails, and is held)
# login_account        log-in attempts on one account from one client address (a stranger's
#                      guesses fill the stranger's bucket, never the owner's)
# login_account_total  log-in attempts on one account from every address together: the ceiling
#                      that many addresses guessing together meet
# register             accounts created from one client address (a room registering at once fits)
# ws_event             events one websocket connection sends (commons_app/state/throttle.py)
DEFAULT_LIMITS = {
    "login_address": "30/minute",
    "login_account": "10/minute",
    "login_account_total": "60/minute",
    "register": "300/hour",
    "refresh": "60/minute",
    "ballot": "60/minute",
    "api": "1200/minute",
    # New guests (voters without an account) per address: a room of 200 behind one NAT fits.
    "link_guest": "1000/hour",
    "ws_event": "100/10 seconds",
    # Per address: a room of 200 behind one NAT joins within two minutes; a guesser of codes
    # gets 300 tries a minute from one address against ~8.5e11 codes.
    "join": "300/minute",
}
MESSAGES = {
    "login_address": N_("Too many log-in attempts from this address; try again later."),
    "login_account": N_("Too many log-in attempts for this account; try again later."),
    "login_account_total": N_("Too many log-in attempts for this account; try again later."),
    "register": N_("Too many accounts created from this address; try again later."),
    "refresh": N_("Too many token refreshes; try again later."),
    "ballot": N_("Too many ballots in a short time; try again later."),
    "api": N_("Too many requests; slow down."),
    "link_guest": N_("Too many new voters from this address; try again later."),
    "ws_event": N_("Too many actions in a short time: the last ones were ignored. Wait a moment and try again."),
    "join": N_("Too many join codes tried from this address; wait a minute and try again."),
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


def private_key(user_id: int | str) -> str:
    """A limit key for a user that names nobody to a reader of Redis: a keyed hash of the id.

    The ballot limit's keys live a minute after each ballot; under the plain user id they would
    tell a reader of Redis who voted just now, which next to the events an anonymous poll has not shown yet
    could single a voter out (docs/SECURITY.md).
    """
    secret = get_settings().secret_key.encode()
    return hmac.new(secret, f"limit:{user_id}".encode(), hashlib.sha256).hexdigest()[:32]


def client_address(peer: str, forwarded_for: str, trusted: list[str] | None = None) -> str:
    """The address a per-address limit counts: the peer, or, when the peer is a proxy listed in
    ``TRUSTED_PROXIES``, the last address of ``X-Forwarded-For`` that no trusted proxy added
    (earlier entries can be forged by the client). One rule for the REST API and the websocket.
    """
    trusted = get_settings().trusted_proxies if trusted is None else trusted
    if peer in trusted:
        hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
        for hop in reversed(hops):
            if hop not in trusted:
                return hop[:64]
    return peer or "unknown"


def check(name: str, key: str) -> None:
    """Refuse when limit ``name`` is exhausted for ``key``, without counting anything (for limits
    that count only failures: :func:`record` counts them afterwards).

    Raises:
        RateLimited: The limit is exhausted.
    """
    if not enabled():
        return
    limiter, _ = _limiter()
    item = limit_for(name)
    try:
        if limiter.test(item, _prefix(), name, key):
            return
        reset_at, _remaining = limiter.get_window_stats(item, _prefix(), name, key)
    except Exception:
        logger.warning("rate limiter storage unavailable; letting %s through", name, exc_info=True)
        return
    raise RateLimited(MESSAGES[name], retry_after=int(reset_at - time.time()) + 1)


def record(name: str, key: str) -> None:
    """Count one event (a failure) against limit ``name`` for ``key``; never raises."""
    if not enabled():
        return
    limiter, _ = _limiter()
    try:
        limiter.hit(limit_for(name), _prefix(), name, key)
    except Exception:
        logger.warning("rate limiter storage unavailable; %s not counted", name, exc_info=True)


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
