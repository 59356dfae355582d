"""Browser routes (see shared/CONTRACT.md) and URL builders."""

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


def vote_url(poll_id: int | str) -> str:
    """The ballot page of a poll."""
    return f"/polls/{poll_id}"


def results_url(poll_id: int | str) -> str:
    """The live results page of a poll."""
    return f"/polls/{poll_id}/results"
