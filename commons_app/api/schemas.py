"""Request and response shapes of the REST API. Requests reject unknown fields."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from commons_app import methods
from commons_app.models import as_utc


def _method_names(schema: dict) -> None:
    """The methods in the OpenAPI schema, read from the registry when the schema is built."""
    schema["enum"] = list(methods.names())


# Any registered method (the services check the name against the registry: 422 otherwise).
Method = Annotated[StrictStr, Field(min_length=1, max_length=16, json_schema_extra=_method_names)]
PassRule = Literal["none", "majority", "two_thirds", "three_quarters", "unanimous"]
StvRule = Literal["scottish", "meek"]
ListFilter = Literal["all", "open", "closed", "mine", "not_voted"]
Seats = Annotated[StrictInt, Field(ge=1, le=49, description='method "stv" only: how many winners; 1 <= seats < options')]
QuorumBallots = Annotated[StrictInt, Field(ge=1, le=10_000_000, description="the result counts only with at least this many ballots")]
QuorumShare = Annotated[
    float, Field(gt=0, le=1, allow_inf_nan=False, description="private polls: the result counts only if at least this share of the roll voted")
]
Visibility = Literal["public", "unlisted", "private"]
ResultsVisibility = Literal["live", "after_vote", "after_close", "creator"]
Status = Literal["scheduled", "open", "closed"]
Access = Literal["account", "link"]
RemindBeforeHours = Annotated[StrictInt, Field(ge=1, le=24 * 365)]
OptionText = Annotated[StrictStr, Field(min_length=1, max_length=200)]
# Every timestamp leaves the API in UTC with its offset (SQLite hands back naive values).
Timestamp = Annotated[datetime, AfterValidator(as_utc)]
OptionId = Annotated[StrictInt, Field(ge=1, le=2**53)]
# A poll's opaque id (models.new_poll_id): URL-safe characters only, never a number.
POLL_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
PollIdField = Annotated[
    StrictStr, Field(min_length=1, max_length=64, pattern=POLL_ID_PATTERN, description="The poll's opaque id.")
]


class Request(BaseModel):
    """Base of every request body: unknown fields are an error."""

    model_config = ConfigDict(extra="forbid")


class UserCreate(Request):
    username: Annotated[StrictStr, Field(min_length=1, max_length=32)]
    email: Annotated[StrictStr, Field(min_length=3, max_length=254)]
    password: Annotated[StrictStr, Field(min_length=1, max_length=128)]


class UserPublic(BaseModel):
    id: int
    username: str
    email: str
    role: str
    created_at: Timestamp


class Me(BaseModel):
    id: int
    username: str
    email: str
    role: str


class AdminUser(UserPublic):
    is_active: bool


class AdminUserUpdate(Request):
    role: Literal["admin", "member"] | None = None
    is_active: StrictBool | None = None


class UserPage(BaseModel):
    items: list[AdminUser]
    total: int
    skip: int
    limit: int


class TokenPairOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class RefreshIn(Request):
    refresh_token: Annotated[StrictStr, Field(min_length=1, max_length=512)]


class PasswordChange(Request):
    current_password: Annotated[StrictStr, Field(min_length=1, max_length=128)]
    new_password: Annotated[StrictStr, Field(min_length=1, max_length=128)]


class PollCreate(Request):
    title: Annotated[StrictStr, Field(min_length=1, max_length=200)]
    description: Annotated[StrictStr, Field(max_length=5000)] | None = None
    options: Annotated[list[OptionText], Field(min_length=2, max_length=50)]
    method: Method = "single"
    max_choices: Annotated[StrictInt, Field(ge=1, le=50)] | None = None
    visibility: Visibility = "public"
    results_visibility: ResultsVisibility = "live"
    opens_at: AwareDatetime | None = None
    closes_at: AwareDatetime | None = None
    anonymous: StrictBool = False
    anonymity_threshold: Annotated[StrictInt, Field(ge=2, le=1000)] | None = None
    seats: Seats | None = None
    stv_rule: StvRule | None = None
    quorum_ballots: QuorumBallots | None = None
    quorum_share: QuorumShare | None = None
    pass_rule: PassRule | None = None
    access: Access = "account"
    remind_before_hours: RemindBeforeHours | None = Field(
        default=None, description="Extension: mail a reminder to invited voters who have not voted this many hours before closes_at."
    )


class PollUpdate(Request):
    title: Annotated[StrictStr, Field(min_length=1, max_length=200)] | None = None
    description: Annotated[StrictStr, Field(max_length=5000)] | None = None
    options: Annotated[list[OptionText], Field(min_length=2, max_length=50)] | None = None
    method: Method | None = None
    max_choices: Annotated[StrictInt, Field(ge=1, le=50)] | None = None
    visibility: Visibility | None = None
    results_visibility: ResultsVisibility | None = None
    opens_at: AwareDatetime | None = None
    closes_at: AwareDatetime | None = None
    anonymous: StrictBool | None = None
    anonymity_threshold: Annotated[StrictInt, Field(ge=2, le=1000)] | None = None
    seats: Seats | None = None
    stv_rule: StvRule | None = None
    quorum_ballots: QuorumBallots | None = None
    quorum_share: QuorumShare | None = None
    pass_rule: PassRule | None = None
    access: Access | None = None
    remind_before_hours: RemindBeforeHours | None = None


class OptionOut(BaseModel):
    id: int
    text: str
    position: int


class PollOut(BaseModel):
    id: str = Field(description="Opaque, URL-safe, at least 128 random bits: the only way to reach the poll.")
    join_code: str = Field(description="Short code (letters and digits, case-insensitive) that /join takes.")
    title: str
    description: str
    created_by: int
    method: Method
    max_choices: int | None
    visibility: Visibility
    results_visibility: ResultsVisibility
    opens_at: Timestamp | None
    closes_at: Timestamp | None
    closed_at: Timestamp | None
    anonymous: bool
    anonymity_threshold: int | None = None
    seats: int | None = None
    stv_rule: StvRule | None = None
    quorum_ballots: int | None = None
    quorum_share: float | None = None
    pass_rule: PassRule = "none"
    access: Access = "account"
    remind_before_hours: int | None = None
    status: Status
    created_at: Timestamp
    updated_at: Timestamp
    options: list[OptionOut]
    # In lists only: whether the caller has voted in it (never how); null elsewhere.
    voted: bool | None = None


class PollPage(BaseModel):
    items: list[PollOut]
    total: int
    skip: int
    limit: int


class RollEntryIn(Request):
    """A voter named by username, or by email address (an account's, or a voter without one)."""

    username: Annotated[StrictStr, Field(min_length=1, max_length=32)] | None = None
    email: Annotated[StrictStr, Field(min_length=3, max_length=254)] | None = None
    weight: Annotated[float, Field(gt=0, le=1_000_000, allow_inf_nan=False)] = 1.0


class RollIn(Request):
    voters: Annotated[list[RollEntryIn], Field(max_length=10_000)]


class RollEntryOut(BaseModel):
    user_id: int
    username: str | None  # None: a voter without an account (named by email)
    email: str | None
    weight: float
    has_voted: bool
    invitation: Literal["queued", "sent", "failed"] | None  # the latest invitation mail's status


class InvitationsIn(Request):
    resend: StrictBool = False


class QueuedOut(BaseModel):
    queued: int


class InvitationOut(BaseModel):
    email: str
    status: Literal["queued", "sent", "failed"]
    attempts: int
    last_error: str | None
    sent_at: Timestamp | None


class InvitationPage(BaseModel):
    items: list[InvitationOut]
    total: int
    skip: int
    limit: int


class RollOut(BaseModel):
    poll_id: str
    voters: list[RollEntryOut]


class BallotChoice(Request):
    option_id: OptionId | None = None
    option_ids: Annotated[list[OptionId], Field(max_length=50)] | None = None
    ranking: Annotated[list[OptionId], Field(max_length=50)] | None = None
    scores: Annotated[dict[Annotated[str, Field(max_length=20)], StrictInt], Field(max_length=50)] | None = None


class VoteCreate(BallotChoice):
    poll_id: PollIdField


class ChoiceOut(BaseModel):
    """The choice field of a stored ballot: the one its poll's method takes is set."""

    weight: float
    created_at: Timestamp | None = None  # None in anonymous polls: their ballots carry no time
    updated_at: Timestamp | None = None
    option_id: int | None = None
    option_ids: list[int] | None = None
    ranking: list[int] | None = None
    scores: dict[str, int] | None = None


class VoteOut(ChoiceOut):
    id: int
    poll_id: str
    receipt: str


class BallotExportOut(ChoiceOut):
    ballot_id: int
    username: str


class OptionResultOut(BaseModel):
    option_id: int
    text: str
    votes: int
    weight: float
    score: float | None = None
    mean: float | None = None
    points: float | None = None


class ResultsOut(BaseModel):
    poll_id: str
    method: Method
    status: Status
    total_ballots: int
    total_weight: float
    options: list[OptionResultOut]
    winners: list[int]
    rounds: list[dict]
    detail: dict = {}
    tie: bool = False
    notes: list[str] = []
    record_sha256: str | None = None
    quorum_met: bool | None = Field(None, description="whether the quorum is met; null when the poll has no quorum")
    passed: bool | None = Field(None, description="whether the winner passes the pass rule; null when the poll has none")
    decision: dict = {}
    settings: dict = {}
    summary: str = Field("", description="the outcome in plain English: who won (or leads) and why")


class AuditOut(BaseModel):
    id: int
    at: Timestamp
    actor_id: int | None
    action: str
    target_type: str
    target_id: str | None
    detail: dict


class AuditPage(BaseModel):
    items: list[AuditOut]
    total: int
    skip: int
    limit: int


class OutboxMailOut(BaseModel):
    id: int
    to_address: str
    subject: str
    body: str
    kind: str
    poll_id: str | None
    status: Literal["queued", "sent", "failed"]
    attempts: int
    last_error: str | None
    message_id: str
    created_at: Timestamp
    next_attempt_at: Timestamp
    sent_at: Timestamp | None


class OutboxPage(BaseModel):
    items: list[OutboxMailOut]
    total: int
    skip: int
    limit: int


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    database: str
    redis: str


class ErrorOut(BaseModel):
    detail: str
