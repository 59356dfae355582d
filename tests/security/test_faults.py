"""Faults: backing services stop and come back while people vote (a ballot is recorded as cast).

Each test stops only a server it started itself, on its own free port — never the machine's
shared PostgreSQL or Redis:

* a private ``redis-server --port <free> --save '' --appendonly no``, used as the rate limiter's
  storage. Stopped during voting: ballots keep being accepted (the limiter fails open by design)
  and nothing answers 500; restarted: the limiter uses it again, without restarting the app.
  Frozen (SIGSTOP, a hung server rather than a closed port): ballots still get through promptly.
* a private PostgreSQL cluster (``initdb`` in a temp directory, ``pg_ctl`` on a free port; as root
  through ``runuser -u postgres``). Killed (``pg_ctl stop -m immediate``, like a crash) and started
  again during voting: requests in the outage get 503 with a JSON detail (never 500), every ballot
  acknowledged with 201 is in the database afterwards ("ballots lost" must be 0), and the app
  recovers by itself (the pool replaces connections the server closed: ``db._check_still_connected``).

The voters are real HTTP clients of a uvicorn server in this process (the ``live_api`` fixture).
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.pool import NullPool
from sqlmodel import Session

from alembic import command
from commons_app import db as db_module
from commons_app.models import Ballot
from tests import factories
from tests.conftest import alembic_config, unavailable
from tests.security.conftest import REPORT, free_port

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))


# --- private servers ------------------------------------------------------------------------------------
class PrivateRedis:
    """A throwaway redis-server on a free port (no persistence)."""

    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            unavailable("redis-server is not installed")
        self.binary = str(binary)
        self.workdir = workdir
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        log = (self.workdir / "redis.log").open("a")
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        log.close()
        import redis

        deadline = time.monotonic() + 15
        while True:
            try:
                client = redis.Redis.from_url(self.url, socket_timeout=1, socket_connect_timeout=1)
                client.ping()
                client.close()
                return
            except redis.RedisError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError("private redis-server did not start") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
            self.process.wait(15)
            self.process = None

    def pause(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def keys(self) -> list[bytes]:
        import redis

        client = redis.Redis.from_url(self.url, socket_timeout=2)
        try:
            return list(client.scan_iter(match=f"*{os.environ['RATELIMIT_PREFIX']}*", count=500))
        finally:
            client.close()


class PrivatePostgres:
    """A throwaway PostgreSQL cluster in a temp directory, on a free port."""

    def __init__(self) -> None:
        if not (PG_BIN / "initdb").exists():
            unavailable(f"PostgreSQL server binaries not found in {PG_BIN} (set PG_BIN)")
        self.root = Path(tempfile.mkdtemp(prefix="commons-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.port = free_port()
        self.prefix: list[str] = []
        if os.geteuid() == 0:  # initdb refuses to run as root
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                unavailable("running as root and there is no 'postgres' user to run initdb as")
            runuser = shutil.which("runuser")
            if runuser is None:
                unavailable("running as root and runuser is not available")
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
            self.prefix = [str(runuser), "-u", "postgres", "--"]
        self._run([str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-N",
                   "-E", "UTF8", "--locale=C"])

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, args: list[str]) -> None:
        result = subprocess.run(self.prefix + args, capture_output=True, text=True, timeout=120, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}\n{self.tail()}")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=200"
        self._run([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60",
                   "start"])

    def stop(self, mode: str = "fast") -> None:
        self._run([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop"])

    def destroy(self) -> None:
        try:
            self.stop("immediate")
        except RuntimeError:
            pass
        shutil.rmtree(self.root, ignore_errors=True)

    def tail(self) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-30:])
        except OSError:
            return ""


@pytest.fixture
def private_redis(tmp_path: Path):
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def private_postgres():
    server = PrivatePostgres()
    try:
        server.start()
        yield server
    finally:
        server.destroy()


# --- voters -----------------------------------------------------------------------------------------------
@dataclass
class Outcome:
    job: int
    phase_sent: str
    phase_done: str
    status: int | str
    body: Any
    seconds: float


@dataclass
class Voters:
    """Threads that send one ballot per job over HTTP, noting the phase each request saw."""

    url: str
    jobs: list[tuple[dict[str, str], dict[str, Any]]]
    workers: int = 8
    pause: float = 0.005
    phase: str = "before"
    outcomes: list[Outcome] = field(default_factory=list)
    _next: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        self._threads = [threading.Thread(target=self._work, daemon=True) for _ in range(self.workers)]
        for thread in self._threads:
            thread.start()

    def _take(self) -> int | None:
        with self._lock:
            if self._next >= len(self.jobs) or self._stop.is_set():
                return None
            self._next += 1
            return self._next - 1

    def _work(self) -> None:
        with httpx.Client(base_url=self.url, timeout=60) as client:
            while (job := self._take()) is not None:
                headers, body = self.jobs[job]
                sent, started = self.phase, time.perf_counter()
                try:
                    response = client.post("/api/votes/", json=body, headers=headers)
                    status: int | str = response.status_code
                    try:
                        payload: Any = response.json()
                    except ValueError:
                        payload = response.text
                except httpx.HTTPError as exc:
                    status, payload = type(exc).__name__, str(exc)
                with self._lock:
                    self.outcomes.append(Outcome(job, sent, self.phase, status, payload, time.perf_counter() - started))
                time.sleep(self.pause if status == 201 else self.pause * 10)  # like a client backing off

    def count(self, phase: str, status: int | None = None) -> int:
        with self._lock:
            return sum(1 for o in self.outcomes
                       if o.phase_sent == phase and o.phase_done == phase and (status is None or o.status == status))

    def wait_for(self, phase: str, at_least: int, status: int | None = None, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while self.count(phase, status) < at_least:
            assert time.monotonic() < deadline, f"only {self.count(phase, status)} answers in phase {phase!r}"
            assert self._next < len(self.jobs), "ran out of jobs"
            time.sleep(0.02)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(90)


def statuses(outcomes: list[Outcome]) -> dict[str, int]:
    return dict(Counter(f"{o.phase_sent}->{o.phase_done}: {o.status}" for o in outcomes))


# --- (a) Redis --------------------------------------------------------------------------------------------
def make_jobs(session: Session, owner: Any, users: int, polls: int) -> list[tuple[dict[str, str], dict[str, Any]]]:
    views = [factories.make_poll(session, owner, options=3) for _ in range(polls)]
    voters = [factories.make_user(session) for _ in range(users)]
    headers = {v.id: factories.token_headers(session, v) for v in voters}
    return [
        (headers[v.id], {"poll_id": view.poll.id, "option_id": view.options[(v.id + i) % 3].id})
        for i, view in enumerate(views) for v in voters
    ]


def test_voting_survives_redis_stopping_and_coming_back(engine, session, admin, live_api, rate_limits,
                                                        private_redis):
    rate_limits(ballot="100000/minute", api="100000/minute", login_address="100000/minute", redis_url=private_redis.url)
    voters = Voters(live_api.url, make_jobs(session, admin, users=40, polls=12))
    voters.start()
    try:
        voters.wait_for("before", 40, status=201)
        assert private_redis.keys(), "the limiter is not using the private Redis"

        private_redis.stop()
        voters.phase = "down"
        voters.wait_for("down", 60)
        with httpx.Client(base_url=live_api.url, timeout=30) as client:
            health = client.get("/api/health")
            assert health.status_code == 503 and health.json()["redis"].startswith("down"), health.text
            assert health.json()["database"] == "ok"

        private_redis.start()  # the same port, empty: nothing in the app is restarted
        voters.phase = "after"
        voters.wait_for("after", 40, status=201)
        with httpx.Client(base_url=live_api.url, timeout=30) as client:
            assert client.get("/api/health").json()["redis"] == "ok"
    finally:
        voters.stop()
    assert private_redis.keys(), "after the restart the limiter does not write to Redis again"

    unexpected = [o for o in voters.outcomes if o.status != 201]
    assert not unexpected, (statuses(voters.outcomes), unexpected[:5])
    with engine.connect() as conn:
        stored = conn.execute(select(Ballot.id)).scalars().all()
    assert {o.body["id"] for o in voters.outcomes} <= set(stored)
    REPORT["faults survived"] += 1
    REPORT["ballots accepted while Redis was down"] += voters.count("down", 201)
    print(f"redis stop/start: {statuses(voters.outcomes)}")


def test_the_limiter_still_limits_after_redis_came_back(engine, session, admin, user, live_api, rate_limits,
                                                        private_redis):
    """After a Redis restart the limits hold again (they are in Redis, not forgotten by the app)."""
    rate_limits(ballot="3/minute", api="100000/minute", redis_url=private_redis.url)
    view = factories.make_poll(session, admin)
    headers = factories.token_headers(session, user)
    with httpx.Client(base_url=live_api.url, timeout=30, headers=headers) as client:
        private_redis.stop()
        assert client.post("/api/votes/", json={"poll_id": view.poll.id, "option_id": view.options[0].id}).status_code == 201
        private_redis.start()
        path = f"/api/polls/{view.poll.id}/my-vote"
        answers = [client.put(path, json={"option_id": view.options[i % 3].id}).status_code for i in range(5)]
    assert answers == [200, 200, 200, 429, 429], answers
    REPORT["faults survived"] += 1


def test_voting_goes_on_when_redis_hangs(engine, session, admin, live_api, rate_limits, private_redis):
    """A frozen Redis (SIGSTOP: the port is open, nothing answers) must not hold ballots hostage."""
    rate_limits(ballot="100000/minute", api="100000/minute", redis_url=private_redis.url)
    jobs = make_jobs(session, admin, users=10, polls=2)
    with httpx.Client(base_url=live_api.url, timeout=30) as client:
        headers, body = jobs[0]
        assert client.post("/api/votes/", json=body, headers=headers).status_code == 201
        private_redis.pause()
        try:
            started = time.perf_counter()
            answers = []
            for headers, body in jobs[1:4]:
                try:
                    answers.append(client.post("/api/votes/", json=body, headers=headers, timeout=8).status_code)
                except httpx.TimeoutException:
                    answers.append("timeout")
            elapsed = time.perf_counter() - started
        finally:
            private_redis.resume()
        assert answers == [201] * 3, answers
        assert elapsed < 3 * 3, f"3 ballots took {elapsed:.1f} s while Redis hung"
        headers, body = jobs[6]
        assert client.post("/api/votes/", json=body, headers=headers).status_code == 201
    REPORT["faults survived"] += 1
    print(f"3 ballots with a frozen Redis in {elapsed:.1f} s")


# --- (b) PostgreSQL ---------------------------------------------------------------------------------------
def test_voting_survives_a_postgres_crash_and_restart(private_postgres, live_api):
    url = private_postgres.url
    command.upgrade(alembic_config(url=url), "head")
    engine = db_module.make_engine(url, pool_size=10, max_overflow=20)
    checker = create_engine(url, poolclass=NullPool)
    previous = db_module._engine
    db_module.set_engine(engine)
    try:
        with Session(engine, expire_on_commit=False) as session:
            owner = factories.make_user(session, role="admin")
            voters = Voters(live_api.url, make_jobs(session, owner, users=40, polls=40))

        voters.start()
        try:
            voters.wait_for("before", 80, status=201)

            voters.phase = "stopping"
            private_postgres.stop("immediate")  # like a crash: no checkpoint, connections cut
            voters.phase = "down"
            voters.wait_for("down", 40)
            with httpx.Client(base_url=live_api.url, timeout=30) as client:
                health = client.get("/api/health")
                assert health.status_code == 503 and health.json()["database"].startswith("down"), health.text
                poll_read = client.get("/api/polls/", headers=voters.jobs[0][0])
                assert poll_read.status_code == 503, poll_read.text
                factories.assert_error(poll_read, 503)

            voters.phase = "starting"
            private_postgres.start()
            voters.phase = "after"
            voters.wait_for("after", 80, status=201)  # the app recovers by itself
            with httpx.Client(base_url=live_api.url, timeout=30) as client:
                assert client.get("/api/health").status_code == 200
        finally:
            voters.stop()

        outcomes = voters.outcomes
        server_errors = [o for o in outcomes if not isinstance(o.status, int) or (o.status >= 500 and o.status != 503)]
        assert not server_errors, (statuses(outcomes), server_errors[:5])
        for o in outcomes:
            if o.status == 503:
                assert isinstance(o.body, dict) and isinstance(o.body.get("detail"), str), o.body
            else:
                assert o.status == 201, (o.status, o.body)
        refused = [o for o in outcomes if o.status == 503]
        assert refused, "no request met the outage"
        up_all_along = [o for o in refused if o.phase_sent == o.phase_done and o.phase_sent in {"before", "after"}]
        assert not up_all_along, ("refused although the database was up the whole time", up_all_along[:3])

        acknowledged = {(voters.jobs[o.job][1]["poll_id"], o.body["id"]) for o in outcomes if o.status == 201}
        with checker.connect() as conn:
            stored = set(map(tuple, conn.execute(select(Ballot.poll_id, Ballot.id)).all()))
            per_pair = conn.execute(text(
                "SELECT COUNT(*) FROM (SELECT poll_id, user_id FROM ballots GROUP BY poll_id, user_id "
                "HAVING COUNT(*) > 1) AS dup")).scalar_one()
        lost = acknowledged - stored
        assert not lost, f"{len(lost)} acknowledged ballots lost"
        assert per_pair == 0
        unacknowledged_but_stored = len(stored) - len(acknowledged)
        REPORT["faults survived"] += 1
        REPORT["ballots acknowledged across the PostgreSQL crash"] += len(acknowledged)
        REPORT["ballots lost"] += len(lost)
        REPORT["requests answered 503 during the PostgreSQL outage"] += len(refused)
        print(f"postgres crash/restart: {statuses(outcomes)}; acknowledged {len(acknowledged)}, lost {len(lost)}, "
              f"stored without acknowledgement {unacknowledged_but_stored}")
    finally:
        db_module.set_engine(previous)
        engine.dispose()
        checker.dispose()


# --- (c) an exhausted connection pool ---------------------------------------------------------------------
def test_an_exhausted_connection_pool_answers_503_not_500(database, engine, session, user, live_api):
    """Every pooled connection busy (a burst, a slow query): the wait times out with a JSON 503."""
    headers = factories.token_headers(session, user)
    connect_args = {"check_same_thread": False} if database.backend == "sqlite" else {}
    small = create_engine(database.url, pool_size=1, max_overflow=0, pool_timeout=0.3, connect_args=connect_args)
    db_module.set_engine(small)
    held = small.connect()
    try:
        with httpx.Client(base_url=live_api.url, timeout=30, headers=headers) as client:
            busy = client.get("/api/me")
            factories.assert_error(busy, 503)
            held.close()
            assert client.get("/api/me").status_code == 200
    finally:
        held.close()
        db_module.set_engine(engine)
        small.dispose()
    REPORT["faults survived"] += 1
