"""Browser routes (see shared/CONTRACT.md) and URL builders."""

import re
from urllib.parse import quote, urlsplit

from commons_app.i18n import N_

INDEX = "/"
LOGIN = "/login"
REGISTER = "/register"
POLLS = "/polls"
NEW_POLL = "/polls/new"
VOTE = "/polls/[poll_id]"
RESULTS = "/polls/[poll_id]/results"
PRESENT = "/polls/[poll_id]/present"
EDIT_POLL = "/polls/[poll_id]/edit"
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


def edit_url(poll_id: str) -> str:
    """The edit page of a poll (its managers only)."""
    return f"/polls/{poll_id}/edit"


def results_url(poll_id: str) -> str:
    """The live results page of a poll."""
    return f"/polls/{poll_id}/results"


def present_url(poll_id: str) -> str:
    """The poll's results to project in a room."""
    return f"/polls/{poll_id}/present"


# What a refused log-in or registration form shows, by the code its post answers with
# (api.routes.browser): fixed sentences, never text from the request.
LOGIN_ERRORS = {
    "missing": N_("Enter your username and password."),
    "invalid": N_("Incorrect username or password."),
    "disabled": N_("This account is disabled."),
    # The limits' own sentences (services.ratelimit.MESSAGES): whose attempts were too many.
    "limited_address": N_("Too many log-in attempts from this address; try again later."),
    "limited_account": N_("Too many log-in attempts for this account; try again later."),
    "origin": N_("This form must be sent from the app's own page."),
}
REGISTER_ERRORS = {
    "missing": N_("Fill in username, email and password."),
    "username": N_("Username must be 3 to 32 characters: letters, digits, '.', '_' or '-', starting with a letter or digit."),
    "email": N_("Email address is not valid."),
    "password": N_("Password must be 8 to 128 characters, not a common password, and not the same as the username."),
    "reserved": N_("That username is reserved; choose another."),
    "taken": N_("Username or email is already registered."),
    "lookalike": N_("Username looks like one that is already taken; choose another."),
    "rate_limited": N_("Too many accounts created from this address; try again later."),
    "origin": N_("This form must be sent from the app's own page."),
}

# What a refused personal link or "vote without an account" post shows (api.routes.browser).
GUEST_ERRORS = {
    "invalid": N_("This voting link is not valid. Ask the poll's organiser for a new one."),
    "closed": N_("This poll is closed: its voting links no longer work."),
    "rate_limited": N_("Too many new voters from this address; try again later."),
    "origin": N_("This form must be sent from the app's own page."),
}


def invitation_url(token: str) -> str:
    """The personal link's page (``/v/<token>``)."""
    return "/v/" + token


def safe_next(target: str | None) -> str:
    """Only same-site paths are followed after signing in (no open redirect): ``/polls/…`` yes;
    ``https://evil.example``, ``//evil.example``, ``/\\evil.example`` and paths with control
    characters or spaces (which browsers drop, turning ``/\t/evil`` into ``//evil``) no."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target or len(target) > 512:
        return POLLS
    if any(ord(ch) <= 32 or ord(ch) == 127 for ch in target):
        return POLLS
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return POLLS
    return target


def login_url(next_path: str = "") -> str:
    """The log-in page, coming back to ``next_path`` afterwards."""
    return LOGIN + _next_query(next_path)


def register_url(next_path: str = "") -> str:
    """The registration page, coming back to ``next_path`` afterwards."""
    return REGISTER + _next_query(next_path)


def _next_query(next_path: str) -> str:
    return f"?next={quote(next_path, safe='/')}" if next_path else ""
