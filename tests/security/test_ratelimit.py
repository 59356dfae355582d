"""Rate limits hold exactly under concurrency (ASVS 5.0 V6.3 brute-force protection).

N requests fired at the same instant (``threading.Barrier``, one HTTP client each, over a real
uvicorn server) against a limit of K: exactly K get through (log-in: 200 or 401, ballots: 201) and
N - K get 429 with ``Retry-After`` and a JSON detail — on Redis storage (the limiter's Lua
script) and on memory storage.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from commons_app.models import Ballot
from tests import factories
from tests.factories import DEFAULT_PASSWORD, assert_error
from tests.security.conftest import REPORT

ATTEMPTS, LIMIT = 40, 10


def fire(url: str, requests: list[Callable[[httpx.Client], httpx.Response]]) -> list[httpx.Response]:
    """Send every request at once, each from its own client (connections opened beforehand)."""
    clients = [httpx.Client(base_url=url, timeout=60) for _ in requests]
    barrier = threading.Barrier(len(requests))
    answers: list[Any] = [None] * len(requests)

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            answers[index] = requests[index](clients[index])
        except BaseException as exc:  # noqa: BLE001
            answers[index] = exc

    try:
        for c in clients:
            c.get("/api/health/live")
        threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(requests))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(90)
    finally:
        for c in clients:
            c.close()
    assert all(isinstance(a, httpx.Response) for a in answers), [a for a in answers if not isinstance(a, httpx.Response)]
    return answers


def check_429(response: httpx.Response) -> None:
    assert_error(response, 429)
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= 61, retry_after


def storage_url(request: pytest.FixtureRequest, storage: str) -> str | None:
    return request.getfixturevalue("redis_url") if storage == "redis" else None


def redis_keys(url: str | None) -> list[bytes]:
    if url is None:
        return []
    import redis

    client = redis.Redis.from_url(url, socket_timeout=2)
    try:
        return list(client.scan_iter(match=f"*{os.environ['RATELIMIT_PREFIX']}*", count=500))
    finally:
        client.close()


@pytest.mark.parametrize("storage", ["redis", "memory"])
def test_concurrent_logins_get_exactly_the_limit(request, storage, engine, live_api, rate_limits, make_user):
    url = storage_url(request, storage)
    rate_limits(login_account=f"{LIMIT}/minute", login_address="10000/minute", api="100000/minute", redis_url=url)
    victim = make_user()
    requests = [
        (lambda c, i=i: c.post("/api/token", data={
            "username": victim.username, "password": DEFAULT_PASSWORD if i % 2 else f"guess-{i}-wrong"}))
        for i in range(ATTEMPTS)
    ]
    answers = fire(live_api.url, requests)
    statuses = Counter(a.status_code for a in answers)
    assert statuses[200] + statuses[401] == LIMIT, statuses
    assert statuses[429] == ATTEMPTS - LIMIT, statuses
    assert set(statuses) <= {200, 401, 429}, statuses
    for answer in answers:
        if answer.status_code == 429:
            check_429(answer)
    # The limit is per account: still shut for this one, open for another.
    with httpx.Client(base_url=live_api.url, timeout=30) as client:
        check_429(client.post("/api/token", data={"username": victim.username, "password": DEFAULT_PASSWORD}))
        other = make_user()
        assert client.post("/api/token", data={"username": other.username, "password": DEFAULT_PASSWORD}).status_code == 200
    if url:
        assert redis_keys(url), "the limiter did not use Redis"
    REPORT[f"concurrent log-ins limited ({storage})"] += ATTEMPTS
    print(f"{storage}: {dict(statuses)}")


@pytest.mark.parametrize("storage", ["redis", "memory"])
def test_concurrent_ballots_get_exactly_the_limit(request, storage, engine, live_api, rate_limits, session, admin,
                                                  user):
    url = storage_url(request, storage)
    limit, attempts = 5, 20
    rate_limits(ballot=f"{limit}/minute", api="100000/minute", redis_url=url)
    views = [factories.make_poll(session, admin) for _ in range(attempts)]
    headers = factories.token_headers(session, user)
    requests = [
        (lambda c, v=v: c.post("/api/votes/", json={"poll_id": v.poll.id, "option_id": v.options[0].id}, headers=headers))
        for v in views
    ]
    answers = fire(live_api.url, requests)
    statuses = Counter(a.status_code for a in answers)
    assert statuses == {201: limit, 429: attempts - limit}, statuses
    for answer in answers:
        if answer.status_code == 429:
            check_429(answer)
    with engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(Ballot).where(Ballot.user_id == user.id)).scalar_one()
    assert stored == limit
    REPORT[f"concurrent ballots limited ({storage})"] += attempts
