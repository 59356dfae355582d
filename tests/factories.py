"""Random test data made through the real models and services.

Users are stored with one argon2 hash of :data:`DEFAULT_PASSWORD` computed once per process, so
making a user costs an INSERT rather than ~30 ms of hashing; log-in tests still verify real hashes.
"""

from __future__ import annotations

import random
import string
import uuid
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from commons_app.models import Poll, User, utcnow
from commons_app.services import auth, polls, votes
from commons_app.services.polls import PollSpec, PollView, RollEntry
from commons_app.services.text import username_key
from commons_app.services.votes import BallotInput

DEFAULT_PASSWORD = "Tr0ubadour-and-horse-staple"
_rng = random.Random()
_WORDS = (
    "river", "garden", "lantern", "harbour", "meadow", "orchard", "library", "bridge", "market",
    "festival", "bakery", "tram", "pond", "workshop", "choir", "bicycle", "mural", "kiosk",
)


@lru_cache(maxsize=1)
def default_password_hash() -> str:
    """One argon2id hash of :data:`DEFAULT_PASSWORD`, made with the app's current parameters."""
    return auth.hash_password(DEFAULT_PASSWORD)


def random_username(prefix: str = "user") -> str:
    """A valid, unique username (mixed case, so case-folding is exercised)."""
    return f"{prefix}{uuid.uuid4().hex[:10]}".capitalize()


def random_email(username: str | None = None) -> str:
    """A valid, unique email address."""
    local = (username or random_username()).lower()
    return f"{local}@{_rng.choice(_WORDS)}.example.org"


def random_password() -> str:
    """A password the app accepts."""
    return "".join(_rng.choice(string.ascii_letters + string.digits) for _ in range(16)) + "-Pw9"


def random_title() -> str:
    """A poll title."""
    return f"Which {_rng.choice(_WORDS)} for the {_rng.choice(_WORDS)}? #{uuid.uuid4().hex[:6]}"


def random_options(count: int = 3) -> list[str]:
    """``count`` distinct option texts."""
    return [f"{_rng.choice(_WORDS).capitalize()} {i} {uuid.uuid4().hex[:4]}" for i in range(count)]


def make_user(
    session: Session,
    *,
    username: str | None = None,
    email: str | None = None,
    password: str | None = None,
    role: str = "member",
    is_active: bool = True,
) -> User:
    """Store a user directly (no validation, no audit). Its password is :data:`DEFAULT_PASSWORD`
    unless ``password`` is given (which then costs a real hash)."""
    username = username or random_username()
    email = email or random_email(username)
    user = User(
        username=username,
        username_key=username.lower(),
        username_skeleton=username_key(username),
        email=email,
        email_key=email.lower(),
        password_hash=auth.hash_password(password) if password else default_password_hash(),
        role=role,
        is_active=is_active,
    )
    session.add(user)
    session.commit()
    session.refresh(user)
    return user


def make_admin(session: Session, **kwargs: Any) -> User:
    """Store an administrator."""
    return make_user(session, role="admin", **kwargs)


def issue_tokens(session: Session, user: User) -> auth.TokenPair:
    """Open a session for ``user`` without checking a password."""
    return auth.start_session(session=session, user=user)


def bearer(access_token: str) -> dict[str, str]:
    """The Authorization header for an access token."""
    return {"Authorization": f"Bearer {access_token}"}


def token_headers(session: Session, user: User) -> dict[str, str]:
    """Headers carrying a fresh access token of ``user``."""
    return bearer(issue_tokens(session, user).access_token)


def make_poll(
    session: Session,
    owner: User,
    *,
    options: list[str] | int | None = None,
    title: str | None = None,
    voters: list[tuple[User, float]] | None = None,
    **spec: Any,
) -> PollView:
    """Create a poll through the poll service (``spec`` holds the other PollSpec fields);
    ``voters`` sets its roll as ``[(user, weight), ...]``."""
    if options is None or isinstance(options, int):
        options = random_options(options or 3)
    view = polls.create_poll(
        session=session, user=owner, spec=PollSpec(title=title or random_title(), options=options, **spec)
    )
    if voters is not None:
        set_roll(session, owner, view.poll.id, voters)  # type: ignore[arg-type]
    return view


def set_roll(session: Session, manager: User, poll_id: str, voters: list[tuple[User, float]]) -> None:
    """Replace a poll's roll."""
    polls.set_roll(
        session=session, user=manager, poll_id=poll_id, voters=[RollEntry(u.username, w) for u, w in voters]
    )


def set_poll_times(
    session: Session,
    poll_id: str,
    *,
    opens_at: datetime | None = None,
    closes_at: datetime | None = None,
    closed_at: datetime | None = None,
) -> Poll:
    """Move a poll's times directly in the database (for states the API refuses to create)."""
    poll = session.get(Poll, poll_id)
    assert poll is not None
    poll.opens_at, poll.closes_at, poll.closed_at = opens_at, closes_at, closed_at
    session.add(poll)
    session.commit()
    session.refresh(poll)
    return poll


def make_scheduled(session: Session, owner: User, **kwargs: Any) -> PollView:
    """A poll that opens in an hour."""
    return make_poll(session, owner, opens_at=utcnow() + timedelta(hours=1), **kwargs)


def make_closed(session: Session, owner: User, **kwargs: Any) -> PollView:
    """A poll whose closing time has passed."""
    view = make_poll(session, owner, **kwargs)
    set_poll_times(session, view.poll.id, closes_at=utcnow() - timedelta(seconds=1))  # type: ignore[arg-type]
    return polls.view_poll(session=session, poll=session.get(Poll, view.poll.id))  # type: ignore[arg-type]


def vote(session: Session, user: User, poll: PollView | Poll | str, **choice: Any) -> Any:
    """Cast a ballot through the service: ``vote(s, user, view, option_id=...)``."""
    poll_id = poll if isinstance(poll, str) else (poll.poll.id if isinstance(poll, PollView) else poll.id)
    return votes.cast_ballot(session=session, user=user, poll_id=poll_id, ballot=BallotInput(**choice))  # type: ignore[arg-type]


def row_counts(engine: Engine) -> dict[str, int]:
    """How many rows each table holds (to show a refused request changed nothing)."""
    with engine.connect() as conn:
        return {
            table.name: int(conn.execute(select(func.count()).select_from(table)).scalar_one())
            for table in SQLModel.metadata.sorted_tables
        }


def iso(value: datetime) -> str:
    """ISO 8601 with offset, as clients send it."""
    return value.isoformat()


# --- HTTP helpers ------------------------------------------------------------------------------------
def assert_error(response: Any, status: int) -> str:
    """The response has ``status`` and a JSON body ``{"detail": "<text>"}``; returns the text."""
    assert response.status_code == status, f"{response.status_code} != {status}: {response.text}"
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert isinstance(body, dict) and isinstance(body.get("detail"), str) and body["detail"], body
    return body["detail"]


def assert_utc_offset(value: str) -> datetime:
    """``value`` is an ISO 8601 timestamp with a UTC offset (``Z`` or ``+00:00``); returns it parsed."""
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is not None and parsed.utcoffset() == timedelta(0), value
    return parsed


def api_poll(client: Any, headers: dict[str, str], *, options: Any = ("Apple", "Banana", "Cherry"), **fields: Any) -> tuple[dict[str, Any], dict[str, int]]:
    """Create a poll through the API; returns its JSON and its option ids by text."""
    response = client.post("/api/polls/", headers=headers, json={"title": "Fruit", "options": list(options), **fields})
    assert response.status_code == 201, response.text
    body = response.json()
    return body, {o["text"]: o["id"] for o in body["options"]}


def api_vote(client: Any, headers: dict[str, str], poll_id: Any, **choice: Any) -> Any:
    """Cast a ballot through the API (the response, whatever its status)."""
    return client.post("/api/votes/", headers=headers, json={"poll_id": poll_id, **choice})
