"""Browser routes (see shared/CONTRACT.md) and URL builders."""

from urllib.parse import quote

INDEX = "/"
LOGIN = "/login"
REGISTER = "/register"
POLLS = "/polls"
NEW_POLL = "/polls/new"
VOTE = "/polls/[poll_id]"
RESULTS = "/polls/[poll_id]/results"
DASHBOARD = "/dashboard"
ADMIN = "/admin"
JOIN = "/join"


def vote_url(poll_id: int | str) -> str:
    """The ballot page of a poll."""
    return f"/polls/{poll_id}"


def results_url(poll_id: int | str) -> str:
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
