"""Real app servers for the browser tests: a private copy of the project per port, started with
``reflex run --env prod --single-port`` exactly as ``make run`` does.

Why copies: the frontend's websocket URL (with its port) is baked into the production bundle
(``.web/env.json`` -> ``assets/reflex-env-*.js``), so every port needs its own build. What is
reused to keep builds cheap:

* the first copy hardlinks ``.web/node_modules`` from the checkout's ``.web`` (when present), so
  npm has little or nothing to install;
* later copies take the first copy's initialised ``.web`` (minus ``build/``) and hardlink its
  ``node_modules``; Reflex then skips its init step and only recompiles (~3 s) and runs
  ``vite build`` (~4 s) for the new port.

(``reflex run --backend-only`` cannot serve a reused build: ``run_backend_prod`` forces
``REFLEX_MOUNT_FRONTEND_COMPILED_APP`` to "has a frontend", i.e. off, so the pages would 404.)
"""

from __future__ import annotations

import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

PROJECT_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
SERVER_SECRET_KEY = "e2e-browser-suite-secret-key-0123456789abcdefghi"
assert len(SERVER_SECRET_KEY) == 48
# The servers run in production mode: /metrics needs this token (>= 32 characters there).
SERVER_METRICS_TOKEN = "e2e-browser-suite-metrics-token-0123456789abcdef"
assert len(SERVER_METRICS_TOKEN) >= 32
METRICS_HEADERS = {"Authorization": f"Bearer {SERVER_METRICS_TOKEN}"}

# Never copied into a server's project directory.
_SKIP_TOP = {
    ".venv", ".git", ".web", ".states", "test-artifacts", ".hypothesis", ".ruff_cache", ".pytest_cache",
    "reflex.lock", "tests", "bench", "docs", "deploy", ".ci", ".commons-secret",
}
# Never passed on to a server from the test process's environment.
_DROP_ENV_PREFIXES = ("DATABASE_URL", "REDIS_URL", "COMMONS_", "RATELIMIT_", "GRANIAN_", "CORS_ORIGINS",
                      "SECRET_KEY", "PYTEST_", "LIVE_PUSH_INTERVAL", "REFLEX_", "METRICS_TOKEN", "SMTP_URL", "MAIL_FROM",
                      "OUTBOX_", "JOBS_")


_handed_out: set[int] = set()


def free_port(preferred: range = range(3101, 3200)) -> int:
    """A port of ``preferred`` (default 3101-3199; 3000 is the developer's) that nothing listens on,
    picked at random so that two suites running at once rarely reach for the same one, and never
    one this process handed out before."""
    candidates = [p for p in preferred if p not in _handed_out]
    random.shuffle(candidates)
    for port in candidates:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free port in {preferred.start}-{preferred.stop - 1}")


def _ignore(directory: str, names: list[str]) -> set[str]:
    skipped = {n for n in names if n == "__pycache__" or n.endswith((".pyc", ".db", ".db-shm", ".db-wal", ".db-journal"))}
    if Path(directory).resolve() == PROJECT_ROOT:
        skipped |= {n for n in names if n in _SKIP_TOP}
    return skipped


def prepare_project(dest: Path, template: Path | None = None) -> Path:
    """Copy the app's sources to ``dest`` and give it a ``.web`` that builds quickly."""
    shutil.copytree(PROJECT_ROOT, dest, ignore=_ignore)
    web = dest / ".web"
    if template is not None and (template / ".web" / "reflex.json").exists():
        shutil.copytree(
            template / ".web", web, symlinks=True,
            ignore=lambda d, names: {"node_modules", "build"} if Path(d) == template / ".web" else set(),
        )
        modules = template / ".web" / "node_modules"
    else:
        web.mkdir()
        modules = PROJECT_ROOT / ".web" / "node_modules"
    if modules.is_dir():
        subprocess.run(["cp", "-al", str(modules), str(web / "node_modules")], check=True)
    return dest


@dataclass
class AppServer:
    """One ``reflex run`` process group serving pages, websocket and /api on one port."""

    name: str
    project: Path
    port: int
    database_url: str
    redis_url: str | None = None
    workers: int | None = None
    log_path: Path = field(init=False)
    process: subprocess.Popen | None = field(default=None, init=False)
    started_at: float = field(default=0.0, init=False)
    ready_after: float = field(default=0.0, init=False)
    marker: tuple[str, str] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        (ARTIFACTS / "logs").mkdir(parents=True, exist_ok=True)
        self.log_path = ARTIFACTS / "logs" / f"server-{self.name}-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(_DROP_ENV_PREFIXES)}
        env.update(
            PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
            REFLEX_USE_NPM="1",
            REFLEX_TELEMETRY_ENABLED="false",
            COMMONS_ENV="production",
            COMMONS_PORT=str(self.port),
            DATABASE_URL=self.database_url,
            SECRET_KEY=SERVER_SECRET_KEY,
            METRICS_TOKEN=SERVER_METRICS_TOKEN,
            RATELIMIT_ENABLED="0",
            PYTHONUNBUFFERED="1",
        )
        if self.redis_url:
            env["REDIS_URL"] = self.redis_url
        if self.workers:
            env["GRANIAN_WORKERS"] = str(self.workers)
        return env

    def cli(self, *args: str, environment: str | None = None) -> None:
        """``python -m commons_app <args>`` in the server's project, against its database
        (``environment``: another ``COMMONS_ENV`` than the server's, e.g. for ``seed-demo``)."""
        env = self.env()
        if environment:
            env["COMMONS_ENV"] = environment
        with self.log_path.open("a") as log:
            log.write(f"$ python -m commons_app {' '.join(args)}\n")
            log.flush()
            subprocess.run(
                [sys.executable, "-m", "commons_app", *args], cwd=self.project, env=env,
                stdout=log, stderr=subprocess.STDOUT, check=True, timeout=120,
            )

    def mark(self) -> tuple[str, str]:
        """Create a random admin account in the (migrated) database: ``wait_ready`` then proves that
        the server answering on the port is this one, not another suite's that took the port first.
        Returns its username and password."""
        username, password = f"e2e_admin_{secrets.token_hex(4)}", secrets.token_urlsafe(18)
        self.cli("create-admin", username, f"{username}@example.org", f"--password={password}")  # "=": it may start with "-"
        self.marker = (username, password)
        return self.marker

    def start(self) -> None:
        self.started_at = time.monotonic()
        log = self.log_path.open("a")
        self.process = subprocess.Popen(
            [str(VENV_BIN / "reflex"), "run", "--env", "prod", "--single-port", "--frontend-port", str(self.port),
             "--backend-host", "127.0.0.1"],
            cwd=self.project, env=self.env(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()

    def wait_ready(self, timeout: float = 240.0) -> None:
        """Poll ``/api/health`` and ``/`` until both answer 200."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        with httpx.Client(base_url=self.url, timeout=5) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"server {self.name} exited with {self.process.returncode}:\n{self.tail()}")
                try:
                    if client.get("/api/health").status_code == 200 and client.get("/").status_code == 200:
                        self.ready_after = time.monotonic() - self.started_at
                        self._check_identity(client)
                        return
                except httpx.HTTPError:
                    pass
                time.sleep(0.25)
        raise RuntimeError(f"server {self.name} not ready after {timeout:.0f} s:\n{self.tail()}")

    def _check_identity(self, client: httpx.Client) -> None:
        if self.marker is None:
            return
        username, password = self.marker
        answer = client.post("/api/token", data={"username": username, "password": password})
        if answer.status_code != 200:
            raise RuntimeError(f"port {self.port} is answered by another server (our marker account is unknown "
                               f"there: {answer.status_code}); is another test run using it?\n{self.tail()}")

    def stop(self) -> None:
        """Stop the whole process group (reflex, granian and its workers): TERM, then KILL."""
        if self.process is None:
            return
        pgid = self.process.pid  # start_new_session: the leader's pid is the group id
        for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + grace
            gone = False
            while time.monotonic() < deadline and not gone:
                self.process.poll()  # reap the leader so it does not linger as a zombie
                try:
                    os.killpg(pgid, 0)
                except ProcessLookupError:
                    gone = True
                else:
                    time.sleep(0.1)
            if gone:
                break
        self.process = None

    def tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(text[-lines:])
