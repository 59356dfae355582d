"""Browser routes (see shared/CONTRACT.md) and URL builders."""

INDEX = "/"
LOGIN = "/login"
REGISTER = "/register"
POLLS = "/polls"
NEW_POLL = "/polls/new"
VOTE = "/polls/[poll_id]"
RESULTS = "/polls/[poll_id]/results"
DASHBOARD = "/dashboard"
ADMIN = "/admin"


def vote_url(poll_id: int | str) -> str:
    """The ballot page of a poll."""
    return f"/polls/{poll_id}"


def results_url(poll_id: int | str) -> str:
    """The live results page of a poll."""
    return f"/polls/{poll_id}/results"


# What a refused log-in or registration form shows, by the code its post answers with
# (api.routes.browser): fixed sentences, never text from the request.
LOGIN_ERRORS = {
    "missing": "Enter your username and password.",
    "invalid": "Incorrect username or password.",
    "disabled": "This account is disabled.",
    "rate_limited": "Too many attempts; wait a minute and try again.",
    "origin": "This form must be sent from the app's own page.",
}
REGISTER_ERRORS = {
    "missing": "Fill in username, email and password.",
    "username": "Username must be 3 to 32 characters: letters, digits, '.', '_' or '-', starting with a letter or digit.",
    "email": "Email address is not valid.",
    "password": "Password must be 8 to 128 characters, not a common password, and not the same as the username.",
    "taken": "Username or email is already registered.",
    "rate_limited": "Too many registrations from your address; try again later.",
    "origin": "This form must be sent from the app's own page.",
}


def safe_next(target: str | None) -> str:
    """Only local paths are followed after signing in (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target or len(target) > 512:
        return POLLS
    return target
