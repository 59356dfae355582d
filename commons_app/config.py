"""Settings read from the environment, with safe defaults for the embedded (SQLite) mode."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = f"sqlite:///{PROJECT_ROOT / 'commons.db'}"
# Any of these as SECRET_KEY in production is refused at start-up.
INSECURE_SECRETS = frozenset({"", "changeme", "change-me", "secret", "dev", "development"})
SECRET_FILE = PROJECT_ROOT / ".commons-secret"
# Shortest METRICS_TOKEN accepted in production (as for SECRET_KEY): it is a bearer password.
MIN_METRICS_TOKEN_LENGTH = 32
DEFAULT_MAIL_FROM = "The Commons <commons@localhost>"


class ConfigError(RuntimeError):
    """Raised when the settings cannot be used (for example a default secret in production)."""


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from exc
    if not value > 0:
        raise ConfigError(f"{name} must be greater than 0, got {raw!r}")
    return value


def _env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def _development_secret() -> str:
    """A per-checkout random secret, kept in a git-ignored file so tokens survive restarts."""
    try:
        value = SECRET_FILE.read_text().strip()
        if value:
            return value
    except OSError:
        pass
    value = secrets.token_urlsafe(48)
    try:
        SECRET_FILE.write_text(value)
        SECRET_FILE.chmod(0o600)
    except OSError:
        pass
    return value


def normalize_database_url(url: str) -> str:
    """Use the psycopg 3 driver for plain ``postgresql://`` URLs."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


@dataclass(frozen=True)
class Settings:
    """Every setting the app reads; build one with :func:`load_settings`."""

    environment: str = "development"
    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str | None = None
    secret_key: str = ""
    access_token_minutes: int = 15
    refresh_token_days: int = 14
    jwt_issuer: str = "the-commons"
    jwt_audience: str = "the-commons-api"
    cors_origins: list[str] = field(default_factory=list)
    trusted_proxies: list[str] = field(default_factory=list)
    db_pool_size: int = 10
    db_max_overflow: int = 20
    # Per worker, on PostgreSQL: the async connections of the REST ballot's hot path (db.AsyncPool).
    db_async_pool_size: int = 0
    # Bearer token that /metrics requires; None: /metrics is not served at all.
    metrics_token: str | None = field(default=None, repr=False)
    # A browser session ends after this long without an event from any of its tabs...
    browser_idle_minutes: float = 120.0
    # ...and this long after it began, whatever its use (also the cookie's Max-Age).
    browser_max_hours: float = 24.0
    # Outgoing mail: None keeps mails in the outbox (the log and the admin page show them).
    smtp_url: str | None = field(default=None, repr=False)
    mail_from: str = DEFAULT_MAIL_FROM
    # The URL people reach the app at, for links in mails.
    public_url: str = "http://localhost:3000"

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def load_settings() -> Settings:
    """Read the settings from the environment.

    Raises:
        ConfigError: In production, when ``SECRET_KEY`` is missing, short or a known default, or
            ``METRICS_TOKEN`` is set but short.
    """
    environment = os.environ.get("COMMONS_ENV", "development").strip().lower()
    if environment not in {"development", "production", "test"}:
        raise ConfigError(f"COMMONS_ENV must be development, production or test, not {environment!r}")
    secret = os.environ.get("SECRET_KEY", "")
    # Blank counts as unset: an empty token must never be one that every scraper "knows".
    metrics_token = os.environ.get("METRICS_TOKEN", "").strip() or None
    if environment == "production":
        if secret.strip().lower() in INSECURE_SECRETS or len(secret) < 32:
            raise ConfigError(
                "SECRET_KEY must be set to a random value of at least 32 characters in production "
                "(for example: python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        if metrics_token is not None and len(metrics_token) < MIN_METRICS_TOKEN_LENGTH:
            raise ConfigError(
                f"METRICS_TOKEN must be a random value of at least {MIN_METRICS_TOKEN_LENGTH} characters in production, "
                "or unset to turn /metrics off "
                "(for example: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
    elif not secret:
        secret = _development_secret()
    redis_url = os.environ.get("REDIS_URL") or None
    database_url = normalize_database_url(os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL)
    return Settings(
        environment=environment,
        database_url=database_url,
        redis_url=redis_url,
        secret_key=secret,
        access_token_minutes=_env_int("ACCESS_TOKEN_MINUTES", 15),
        refresh_token_days=_env_int("REFRESH_TOKEN_DAYS", 14),
        jwt_issuer=os.environ.get("JWT_ISSUER", "the-commons"),
        jwt_audience=os.environ.get("JWT_AUDIENCE", "the-commons-api"),
        cors_origins=_env_list("CORS_ORIGINS", []),
        trusted_proxies=_env_list("TRUSTED_PROXIES", []),
        db_pool_size=_env_int("DB_POOL_SIZE", default_pool_size(redis_url, database_url)),
        db_async_pool_size=_env_int("DB_ASYNC_POOL_SIZE", default_async_pool_size(redis_url, database_url)),
        db_max_overflow=_env_int("DB_MAX_OVERFLOW", 0),
        metrics_token=metrics_token,
        browser_idle_minutes=_env_float("BROWSER_SESSION_IDLE_MINUTES", 120.0),
        browser_max_hours=_env_float("BROWSER_SESSION_MAX_HOURS", 24.0),
        smtp_url=os.environ.get("SMTP_URL", "").strip() or None,
        mail_from=os.environ.get("MAIL_FROM", "").strip() or DEFAULT_MAIL_FROM,
        public_url=(
            os.environ.get("COMMONS_PUBLIC_URL", "").strip()
            # The port Reflex serves pages on (make run PORT=...), as rxconfig.py reads it.
            or f"http://localhost:{os.environ.get('REFLEX_FRONTEND_PORT') or os.environ.get('COMMONS_PORT') or '3000'}"
        ).rstrip("/"),
    )


def backend_workers(redis_url: str | None) -> int:
    """How many worker processes ``reflex run --env prod`` starts: ``GRANIAN_WORKERS``, else (as
    Reflex 0.10 decides) one without Redis and ``2 × cores + 1`` (at most 8) with it."""
    configured = os.environ.get("GRANIAN_WORKERS", "").strip()
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    if not redis_url:
        return 1
    return min((os.cpu_count() or 1) * 2 + 1, 8)


def default_pool_size(redis_url: str | None, database_url: str = "sqlite") -> int:
    """Connections each worker keeps: ``DB_CONNECTIONS`` (the instance's share of the database's
    connections, default 40, so two instances stay well inside PostgreSQL's default of 100)
    divided among the workers, at least 2; on PostgreSQL the engine keeps half of it
    (:func:`default_async_pool_size`).

    There is no overflow by default: connections opened beyond the pool would be closed again
    after each burst, and opening one costs PostgreSQL a new process every time. A request that
    finds every connection busy waits for one (up to 10 s, then 503).
    """
    share = _worker_share(redis_url)
    return max(2, share - default_async_pool_size(redis_url, database_url))


def default_async_pool_size(redis_url: str | None, database_url: str) -> int:
    """On PostgreSQL, half of each worker's share goes to the ballot's async hot path
    (``db.AsyncPool``), the other half stays with the engine; none on SQLite."""
    if not database_url.startswith("postgresql"):
        return 0
    return max(2, _worker_share(redis_url) // 2)


def _worker_share(redis_url: str | None) -> int:
    return _env_int("DB_CONNECTIONS", 40) // backend_workers(redis_url)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read once)."""
    return load_settings()
