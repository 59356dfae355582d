"""The vote page's submit (``pages.vote.submit_ballot``) shows the ballot it has just committed
without reading it back: the page it returns must equal a fresh read of the page, for every
method, named and anonymous, when casting and when changing a ballot."""

from __future__ import annotations

from typing import Any

import pytest

from commons_app import methods
from commons_app.pages.vote import submit_ballot, vote_context
from commons_app.services.votes import BallotInput


def _ballot(field: str, ids: list[int], turn: int) -> BallotInput:
    value: Any = {
        "option_id": ids[turn],
        "option_ids": ids[turn : turn + 2],
        "ranking": [ids[2 + turn], ids[turn]],
        "scores": {str(i): (n + turn) % 5 for n, i in enumerate(ids)},
    }[field]
    return BallotInput(**{field: value})


@pytest.mark.parametrize("anonymous", [False, True])
@pytest.mark.parametrize("method", [m.name for m in methods.all_methods()])
def test_submit_shows_what_a_fresh_read_shows(session, make_user, make_poll, method: str, anonymous: bool) -> None:
    owner, voter = make_user(), make_user()
    view = make_poll(owner, voters=[(voter, 2.0)], method=method, options=4, **({"anonymous": True} if anonymous else {}))
    poll_id = view.poll.id
    ids = [o["id"] for o in vote_context(session=session, user=voter, poll_id=poll_id)["options"]]
    field = methods.get(method).ballot.field

    page, receipt = submit_ballot(session=session, user=voter, poll_id=poll_id, ballot=_ballot(field, ids, 0), changing=False)
    assert page["has_voted"]
    assert page == vote_context(session=session, user=voter, poll_id=poll_id)

    page, _ = submit_ballot(
        session=session, user=voter, poll_id=poll_id, ballot=_ballot(field, ids, 1), changing=True, receipt=receipt
    )
    assert page == vote_context(session=session, user=voter, poll_id=poll_id)
    if not anonymous:
        assert page["summary"] and page["receipt"] != receipt
