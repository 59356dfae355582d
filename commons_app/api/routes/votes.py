"""Ballots and results."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response, status
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from commons_app import methods
from commons_app.api.deps import BearerToken, CurrentUser, DbSession, PollId, identify
from commons_app.api.schemas import BallotChoice, BallotExportOut, ErrorOut, ResultsOut, VoteCreate, VoteOut
from commons_app.db import session_scope
from commons_app.models import Ballot, Poll
from commons_app.services import polls, results, votes
from commons_app.services.votes import BallotInput

router = APIRouter(tags=["ballots"])
ERRORS = {code: {"model": ErrorOut} for code in (401, 403, 404, 409, 422, 429)}


def vote_out(row: Ballot, method: str) -> VoteOut:
    """The API form of the caller's own ballot."""
    return VoteOut(
        id=row.id,  # type: ignore[arg-type]
        poll_id=row.poll_id,
        weight=row.weight,
        receipt=row.receipt,
        created_at=row.created_at,
        updated_at=row.updated_at,
        **results.ballot_fields(row, method),
    )


def _ballot(body: BallotChoice) -> BallotInput:
    return BallotInput(option_id=body.option_id, option_ids=body.option_ids, ranking=body.ranking, scores=body.scores)


@router.post("/votes/", status_code=status.HTTP_201_CREATED, response_model=VoteOut, responses=ERRORS)
async def cast_vote(body: VoteCreate, token: BearerToken) -> VoteOut:
    """Cast a ballot. The weight comes from the poll's roll, never from the body."""
    # The hot path: the token check and the ballot share one database session and one trip to
    # the thread pool (sync dependencies would each cost a thread hand-off).
    return await run_in_threadpool(_cast_vote, body, token)


def _cast_vote(body: VoteCreate, token: str | None) -> VoteOut:
    with session_scope() as db:
        user = identify(db, token).user
        cast = votes.record_ballot(session=db, user=user, poll_id=body.poll_id, ballot=_ballot(body))
        return vote_out(cast.ballot, cast.method)


ReceiptHeader = Annotated[
    str | None,
    Header(
        alias="X-Ballot-Receipt", max_length=64,
        description="The ballot's receipt: required in anonymous polls, where nothing else links you to your ballot.",
    ),
]


@router.get("/polls/{poll_id}/my-vote", response_model=VoteOut, responses=ERRORS)
def my_vote(poll_id: PollId, user: CurrentUser, db: DbSession, receipt: ReceiptHeader = None) -> VoteOut:
    """The caller's ballot in this poll (anonymous polls: the one the receipt names)."""
    row = votes.get_my_ballot(session=db, user=user, poll_id=poll_id, receipt=receipt)
    return vote_out(row, db.get(Poll, poll_id).method)  # type: ignore[union-attr]


@router.put("/polls/{poll_id}/my-vote", response_model=VoteOut, responses=ERRORS)
def change_vote(
    poll_id: PollId, body: BallotChoice, user: CurrentUser, db: DbSession, receipt: ReceiptHeader = None
) -> VoteOut:
    """Replace the caller's ballot while the poll is open; answers with the ballot's new receipt."""
    row = votes.change_ballot(session=db, user=user, poll_id=poll_id, ballot=_ballot(body), receipt=receipt)
    return vote_out(row, db.get(Poll, poll_id).method)  # type: ignore[union-attr]


@router.delete("/polls/{poll_id}/my-vote", status_code=status.HTTP_204_NO_CONTENT, responses=ERRORS)
def retract_vote(poll_id: PollId, user: CurrentUser, db: DbSession, receipt: ReceiptHeader = None) -> Response:
    """Withdraw the caller's ballot while the poll is open."""
    votes.retract_ballot(session=db, user=user, poll_id=poll_id, receipt=receipt)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/polls/{poll_id}/results", response_model=ResultsOut, response_model_exclude_none=True, responses=ERRORS)
def poll_results(poll_id: PollId, user: CurrentUser, db: DbSession) -> Any:
    """The tally, with winners and method-specific rounds, and ``quorum_met`` / ``passed`` (null
    when the poll has no such rule); 403 while results are hidden from the caller."""
    found = results.poll_results(session=db, user=user, poll_id=poll_id)
    shown = ResultsOut.model_validate(found.as_dict() | {"summary": methods.summarize(found)})
    # Absent figures are left out (score, record_sha256 ...), but the decision fields are always
    # there: null says "no such rule".
    body = shown.model_dump(mode="json", exclude_none=True) | {"quorum_met": shown.quorum_met, "passed": shown.passed}
    return JSONResponse(body)


def _record_response(db: Any, user: Any, poll_id: str, form: str, media_type: str, filename: str) -> Response:
    """The record in ``form`` as a download, with the JSONL record's SHA-256 in a header."""
    body, digest = results.poll_record(session=db, user=user, poll_id=poll_id, form=form)
    return Response(
        content=body.encode("utf-8"),
        media_type=f"{media_type}; charset=utf-8",
        headers={"X-Record-SHA256": digest, "Content-Disposition": f'attachment; filename="{filename}"'},
    )


RECORD_DIGEST_HEADER = {"X-Record-SHA256": {"description": "SHA-256 of the JSONL record.", "schema": {"type": "string"}}}


@router.get(
    "/polls/{poll_id}/record.jsonl",
    responses={200: {"content": {"application/jsonl": {}}, "headers": RECORD_DIGEST_HEADER}, **ERRORS},
    response_class=Response,
)
def poll_record(poll_id: PollId, user: CurrentUser, db: DbSession) -> Response:
    """A closed poll's ballot record: one JSON line per counted ballot (receipt, weight, choice; no
    voter, no time), sorted by receipt. Its SHA-256 is the results' ``record_sha256``. 409 while open."""
    return _record_response(db, user, poll_id, "jsonl", "application/jsonl", f"poll-{poll_id}-record.jsonl")


@router.get(
    "/polls/{poll_id}/record.blt",
    responses={200: {"content": {"text/plain": {}}, "headers": RECORD_DIGEST_HEADER}, **ERRORS},
    response_class=Response,
)
def poll_record_blt(poll_id: PollId, user: CurrentUser, db: DbSession) -> Response:
    """A closed ranked poll's ballot record in BLT, the format STV/IRV counting programs read."""
    return _record_response(db, user, poll_id, "blt", "text/plain", f"poll-{poll_id}.blt")


@router.get(
    "/polls/{poll_id}/results.csv",
    responses={200: {"content": {"text/csv": {}}}, **ERRORS},
    response_class=Response,
)
def poll_results_csv(poll_id: PollId, user: CurrentUser, db: DbSession) -> Response:
    """The results table as CSV."""
    table = results.results_csv(results.poll_results(session=db, user=user, poll_id=poll_id))
    return Response(
        content=table,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="poll-{poll_id}-results.csv"'},
    )


@router.get("/polls/{poll_id}/ballots", response_model=list[BallotExportOut], response_model_exclude_none=True, responses=ERRORS)
def export_ballots(
    poll_id: PollId,
    user: CurrentUser,
    db: DbSession,
    response: Response,
    after_id: Annotated[int, Query(ge=0, le=2**62, description="Only ballots with a larger id (keyset paging).")] = 0,
    limit: Annotated[int, Query(ge=1, le=5000, description="Ballots per page.")] = 1000,
) -> list[BallotExportOut]:
    """A page of the ballots with their voters, in id order (owner or admin; 403 for anonymous
    polls). ``X-Total-Count`` holds the poll's number of ballots; when more follow the page,
    ``X-Next-After-Id`` holds the ``after_id`` of the next one."""
    rows = results.export_ballots(session=db, user=user, poll_id=poll_id, after_id=after_id, limit=limit + 1)
    response.headers["X-Total-Count"] = str(polls.ballot_count(session=db, poll_id=poll_id))
    if len(rows) > limit:
        rows = rows[:limit]
        response.headers["X-Next-After-Id"] = str(rows[-1]["ballot_id"])
    return [BallotExportOut.model_validate(b) for b in rows]


@router.get(
    "/polls/{poll_id}/ballots.csv",
    responses={200: {"content": {"text/csv": {}}}, **ERRORS},
    response_class=Response,
)
def export_ballots_csv(poll_id: PollId, user: CurrentUser, db: DbSession) -> Response:
    """The ballots as CSV (owner or admin; 403 for anonymous polls)."""
    rows = results.export_ballots(session=db, user=user, poll_id=poll_id)
    texts = {o.id: o.text for o in polls.options_of(session=db, poll_id=poll_id)}
    return Response(
        content=results.ballots_csv(rows, texts),  # type: ignore[arg-type]
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="poll-{poll_id}-ballots.csv"'},
    )
