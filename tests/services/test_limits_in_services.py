"""The ballot and log-in limits live in the services, so the browser app and the API share them."""

from __future__ import annotations

import pytest

from commons_app.services import auth, votes
from commons_app.services.errors import NotAuthenticated, RateLimited
from commons_app.services.votes import BallotInput


def test_ballot_limit_applies_to_every_caller_of_the_service(session, make_user, make_poll, rate_limits):
    rate_limits(ballot="3/minute")
    owner, voter = make_user(), make_user()
    view = make_poll(owner, method="approval")
    ids = [o.id for o in view.options]
    votes.cast_ballot(session=session, user=voter, poll_id=view.poll.id, ballot=BallotInput(option_ids=ids[:1]))
    votes.change_ballot(session=session, user=voter, poll_id=view.poll.id, ballot=BallotInput(option_ids=ids[:2]))
    votes.retract_ballot(session=session, user=voter, poll_id=view.poll.id)
    with pytest.raises(RateLimited) as refused:
        votes.cast_ballot(session=session, user=voter, poll_id=view.poll.id, ballot=BallotInput(option_ids=ids[:1]))
    assert refused.value.retry_after >= 1
    assert not votes.has_voted(session=session, user=voter, poll_id=view.poll.id)


def test_login_limits_count_account_and_address(session, make_user, rate_limits):
    rate_limits(login_account="100/minute", login_address="2/minute")
    user = make_user()
    for _ in range(2):
        with pytest.raises(NotAuthenticated):
            auth.authenticate(session=session, username=user.username, password="wrong password!", address="198.51.100.4")
    with pytest.raises(RateLimited):
        auth.authenticate(session=session, username=user.username, password="wrong password!", address="198.51.100.4")
    # Another address is not held back by the first one's attempts.
    with pytest.raises(NotAuthenticated):
        auth.authenticate(session=session, username=user.username, password="wrong password!", address="203.0.113.8")
