"""Browser routes (see shared/CONTRACT.md) and URL builders."""

import re
from urllib.parse import quote

INDEX = "/"
LOGIN = "/login"
REGISTER = "/register"
POLLS = "/polls"
NEW_POLL = "/polls/new"
VOTE = "/polls/[poll_id]"
RESULTS = "/polls/[poll_id]/results"
INVITATION = "/v/[token]"
DASHBOARD = "/dashboard"
ADMIN = "/admin"
JOIN = "/join"


# A poll's opaque id as it appears in a path (models.new_poll_id; the API checks the same shape).
_POLL_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def poll_id_from_path(path: str) -> str:
    """The poll id in ``/polls/<id>[/...]``, or "" when the path holds none (never a guess)."""
    parts = str(path).strip("/").split("/")
    if len(parts) >= 2 and parts[0] == "polls" and _POLL_ID.fullmatch(parts[1]) and parts[1] != "new":
        return parts[1]
    return ""


def vote_url(poll_id: str) -> str:
    """The ballot page of a poll."""
    return f"/polls/{poll_id}"


def results_url(poll_id: str) -> str:
    """The live results page of a poll."""
    return f"/polls/{poll_id}/results"


def login_url(next_path: str = "") -> str:
    """The log-in page, coming back to ``next_path`` afterwards."""
    return LOGIN + _next_query(next_path)


def register_url(next_path: str = "") -> str:
    """The registration page, coming back to ``next_path`` afterwards."""
    return REGISTER + _next_query(next_path)


def _next_query(next_path: str) -> str:
    return f"?next={quote(next_path, safe='/')}" if next_path else ""
