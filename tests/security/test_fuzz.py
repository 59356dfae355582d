"""Fuzzing: the API never answers 500 and its answers match its own OpenAPI schema; the services
refuse bad input only with InvalidInput and leave nothing behind when they do.

* Schemathesis (``schemathesis.openapi.from_asgi("/api/openapi.json", app)``) generates requests
  for every operation of the app's schema, three ways: schema-conforming data with random ids
  (member's token), schema-conforming data aimed at real polls and users (admin's token, so the
  deep paths run: editing, rolls, exports), and schema-violating data (member's token). Every
  request carries a fresh bearer token of a real user (a fuzzed logout or password change must
  not blind the rest). Checks: ``not_a_server_error``, ``response_schema_conformance``, and every
  error is JSON ``{"detail": "..."}``. The number of requests is printed ("requests fuzzed").
  Examples are bounded (``FUZZ_EXAMPLES`` per mode and operation, default 15) and the seed is
  fixed (``FUZZ_SEED``) so CI sees the same requests each run; set another seed to explore.
* Hypothesis for the services: random poll specs through ``polls.validate_spec`` /
  ``create_poll`` and random ballot payloads through ``votes.validate_ballot`` / ``cast_ballot``.
"""

from __future__ import annotations

import os
import string
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, example, given, seed, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import response_schema_conformance

from commons_app.api.app import create_api, wrap_with_guard
from commons_app.models import METHODS, RESULTS_VISIBILITIES, VISIBILITIES, Poll, PollOption
from commons_app.services import polls, votes
from commons_app.services.errors import InvalidInput
from commons_app.services.polls import PollSpec
from commons_app.services.votes import BallotInput
from tests import factories
from tests.factories import row_counts
from tests.security.conftest import REPORT

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "15"))
FUZZ_SEED = int(os.environ.get("FUZZ_SEED", "20260501"))
SERVICE_EXAMPLES = int(os.environ.get("FUZZ_SERVICE_EXAMPLES", "150"))

APP = wrap_with_guard(create_api())
SCHEMA = schemathesis.openapi.from_asgi("/api/openapi.json", APP)
OPERATIONS = [result.ok().label for result in SCHEMA.get_all_operations()]
CHECKS = [not_a_server_error, response_schema_conformance]


class Targets:
    """Real polls (one per method, with a ballot each) and users for the aimed mode; remade when a
    fuzzed request deletes or closes them."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.admin = factories.make_user(session, role="admin")
        self.member = factories.make_user(session)
        self.victim = factories.make_user(session)
        self.poll_ids: list[str] = []

    def poll_id(self, index: int) -> int:
        self.session.expire_all()
        alive = [pid for pid in self.poll_ids if self.session.get(Poll, pid) is not None]
        while len(alive) < len(METHODS):
            method = METHODS[len(alive)]
            view = factories.make_poll(self.session, self.admin, method=method, options=4,
                                       voters=[(self.member, 2.0), (self.victim, 1.0)])
            choice: dict[str, Any] = {
                "single": {"option_id": view.options[0].id},
                "approval": {"option_ids": [view.options[0].id]},
                "score": {"scores": {str(view.options[0].id): 4}},
                "star": {"scores": {str(view.options[1].id): 5}},
            }.get(method, {"ranking": [o.id for o in view.options]})
            factories.vote(self.session, self.member, view, **choice)
            alive.append(view.poll.id)
        self.poll_ids = alive
        return alive[index % len(alive)]

    def option_ids(self, poll_id: str) -> list[int]:
        return [o.id for o in polls.options_of(session=self.session, poll_id=poll_id)]


def aim_at_options(body: dict[str, Any], option_ids: list[int]) -> None:
    """Turn the generated option ids of a ballot into ids of the poll's real options."""

    def real(value: Any) -> Any:
        return option_ids[value % len(option_ids)] if isinstance(value, int) and not isinstance(value, bool) else value

    if "option_id" in body:
        body["option_id"] = real(body["option_id"])
    for name in ("option_ids", "ranking"):
        if isinstance(body.get(name), list):
            body[name] = list(dict.fromkeys(real(v) for v in body[name]))
    if isinstance(body.get("scores"), dict):
        body["scores"] = {str(real(int(k))) if k.isdigit() and len(k) < 18 else k: v for k, v in body["scores"].items()}


def scrub(value: Any) -> Any:
    """Drop control characters from generated strings (the app refuses them; the aimed mode wants
    to get past that check)."""
    if isinstance(value, str):
        return "".join(ch for ch in value if ord(ch) >= 32)
    if isinstance(value, list):
        return [scrub(v) for v in value]
    if isinstance(value, dict):
        return {scrub(k): scrub(v) for k, v in value.items()}
    return value


def fit_ballot(body: dict[str, Any], method: str, option_ids: list[int], pick: int) -> None:
    """Keep only the field the poll's method takes, and supply it when the generator left it out."""
    wanted = votes.FIELD_FOR_METHOD[method]
    for name in {"option_id", "option_ids", "ranking", "scores"} - {wanted}:
        body.pop(name, None)
    if body.get(wanted) is None:
        rotated = option_ids[pick % len(option_ids):] + option_ids[: pick % len(option_ids)]
        body[wanted] = {
            "option_id": rotated[0],
            "option_ids": rotated[: 1 + pick % len(rotated)],
            "ranking": rotated,
            "scores": {str(i): (pick + n) % 6 for n, i in enumerate(rotated)},
        }[wanted]


def check_error_shape(response: Any) -> None:
    if response.status_code >= 400 and urlsplit(str(response.request.url)).path != "/api/health":
        content_type = response.headers.get("content-type") or [""]
        assert str(content_type[0] if isinstance(content_type, list) else content_type).startswith(
            "application/json"), response.headers
        body = response.json()
        assert isinstance(body, dict) and isinstance(body.get("detail"), str) and body["detail"], body


@pytest.mark.parametrize("label", OPERATIONS)
def test_fuzz_operation(label, engine, session):
    operation = SCHEMA.find_operation_by_label(label)
    assert operation is not None
    targets = Targets(session)
    sent = {"count": 0, "statuses": {}}

    def send(case: Any, caller: Any) -> None:
        headers = factories.token_headers(session, caller)
        response = case.call(headers=headers)
        sent["count"] += 1
        sent["statuses"][response.status_code] = sent["statuses"].get(response.status_code, 0) + 1
        if os.environ.get("FUZZ_DEBUG") and response.status_code == 422:
            print(case.body, response.text[:150])
        case.validate_response(response, checks=CHECKS, headers=headers)
        check_error_shape(response)

    common = settings(
        max_examples=FUZZ_EXAMPLES, deadline=None, database=None,
        suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate, Phase.shrink],
    )

    @common
    @seed(FUZZ_SEED)
    @given(case=operation.as_strategy(GenerationMode.POSITIVE))
    def random_ids(case: Any) -> None:
        send(case, targets.member)

    @common
    @seed(FUZZ_SEED + 1)
    @given(case=operation.as_strategy(GenerationMode.POSITIVE), pick=st.integers(0, 50))
    def aimed(case: Any, pick: int) -> None:
        poll_id = targets.poll_id(pick)
        if "poll_id" in (case.path_parameters or {}):
            case.path_parameters["poll_id"] = poll_id
        if "user_id" in (case.path_parameters or {}):
            case.path_parameters["user_id"] = targets.victim.id
        if isinstance(case.body, dict):
            if "poll_id" in case.body:
                case.body["poll_id"] = poll_id
            case.body = scrub(case.body)
            option_ids = targets.option_ids(poll_id)
            aim_at_options(case.body, option_ids)
            if label in {"POST /api/votes/", "PUT /api/polls/{poll_id}/my-vote"}:
                fit_ballot(case.body, targets.session.get(Poll, poll_id).method, option_ids, pick)
        send(case, targets.admin if pick % 3 else targets.member)

    @common
    @seed(FUZZ_SEED + 2)
    @given(case=operation.as_strategy(GenerationMode.NEGATIVE))
    def malformed(case: Any) -> None:
        send(case, targets.member)

    random_ids()
    aimed()
    if operation.path_parameters or operation.body or operation.query:
        malformed()
    REPORT["requests fuzzed (schemathesis)"] += sent["count"]
    print(f"{label}: {sent['count']} requests, statuses {dict(sorted(sent['statuses'].items()))}")


# --- Hypothesis on the services ----------------------------------------------------------------------------
TRICKY_NUMBERS = ["--1", "²", "¹²", "١", "١٢", "+1", " 1 ", "1_000", "0x1", "-0", "1e3", "9" * 30, "9" * 5000,
                  "\u0661", "1\x00", ""]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=8,
)
texts = st.text(max_size=300) | st.text(alphabet=string.printable, max_size=30) | st.sampled_from(
    ["", " ", "\x00", "<script>", "a" * 201, "a" * 5001, "\u202e", "\n\t"])
offsets = st.integers(-23 * 60, 23 * 60).map(lambda m: timezone(timedelta(minutes=m)))
moments = st.none() | st.datetimes() | st.datetimes(timezones=offsets) | st.datetimes(
    min_value=datetime(1, 1, 1), max_value=datetime(1, 1, 3), timezones=offsets) | st.datetimes(
    min_value=datetime(9999, 12, 30), max_value=datetime(9999, 12, 31), timezones=offsets)
good_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cc", "Cs"]), min_size=1, max_size=40)
specs = st.builds(
    PollSpec,
    title=good_text | good_text | texts | json_values,
    options=st.lists(good_text, min_size=2, max_size=6) | st.lists(texts, max_size=55)
    | st.lists(st.sampled_from(["a", "A", "b", " a ", "\u212b", "\u00c5"]), max_size=4)
    | st.lists(json_values, max_size=4) | json_values,
    description=st.just("") | good_text | texts | json_values,
    method=st.sampled_from(METHODS) | st.text(max_size=10),
    max_choices=st.none() | st.integers(),
    visibility=st.sampled_from(VISIBILITIES) | st.text(max_size=10),
    results_visibility=st.sampled_from(RESULTS_VISIBILITIES) | st.text(max_size=10),
    opens_at=moments,
    closes_at=moments,
    anonymous=json_values,
)
service_settings = settings(max_examples=SERVICE_EXAMPLES, deadline=None, database=None,
                            suppress_health_check=list(HealthCheck))


EDGE_OF_TIME = [datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5))),
                datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5)))]


@service_settings
@seed(FUZZ_SEED)
@given(spec=specs)
@example(spec=PollSpec(title="t", options=["a", "b"], opens_at=EDGE_OF_TIME[0]))
@example(spec=PollSpec(title="t", options=["a", "b"], closes_at=EDGE_OF_TIME[1]))
def test_validate_spec_refuses_only_with_invalid_input(spec):
    try:
        cleaned = polls.validate_spec(spec)
    except InvalidInput as exc:
        assert exc.message
        return
    assert isinstance(cleaned.title, str) and 1 <= len(cleaned.title) <= polls.TITLE_MAX
    assert polls.MIN_OPTIONS <= len(cleaned.options) <= polls.MAX_OPTIONS
    assert len({o.casefold() for o in cleaned.options}) == len(cleaned.options)
    for moment in (cleaned.opens_at, cleaned.closes_at):
        assert moment is None or moment.utcoffset() == timedelta(0)


def test_create_poll_refusals_leave_no_rows(engine, session, user):
    created = {"count": 0}

    @service_settings
    @seed(FUZZ_SEED)
    @given(spec=specs)
    def run(spec: PollSpec) -> None:
        before = row_counts(engine)
        try:
            view = polls.create_poll(session=session, user=user, spec=spec)
        except InvalidInput:
            session.rollback()
            assert row_counts(engine) == before
            return
        created["count"] += 1
        after = row_counts(engine)
        assert after["polls"] == before["polls"] + 1
        assert after["poll_options"] == before["poll_options"] + len(view.options)

    run()
    REPORT["service specs fuzzed"] += SERVICE_EXAMPLES


def _poll(method: str, max_choices: int | None = None) -> tuple[Poll, list[PollOption]]:
    poll = Poll(id="fuzzed-poll", title="t", created_by=1, method=method, max_choices=max_choices)
    return poll, [PollOption(id=i, poll_id="fuzzed-poll", text=f"o{i}", position=i) for i in (11, 12, 13)]


ids = st.sampled_from([11, 12, 13]) | st.sampled_from([14, 0, -11, 2**63, 2**70]) | st.integers()
id_like = ids | ids | ids.map(str) | st.sampled_from(TRICKY_NUMBERS) | json_values
id_lists = st.lists(ids, max_size=5) | st.lists(id_like, max_size=5) | json_values
score_maps = st.dictionaries(
    ids.map(str) | ids | st.sampled_from(TRICKY_NUMBERS) | st.text(max_size=5) | st.floats(allow_nan=False),
    st.integers(0, 5) | st.integers(-2, 7) | json_values, max_size=5,
) | json_values
FIELD_VALUES = {"option_id": id_like, "option_ids": id_lists, "ranking": id_lists, "scores": score_maps}


@st.composite
def ballots_for(draw: Any, method: str) -> BallotInput:
    """Mostly the one field the method takes; now and then another one (or none) as well."""
    wanted = votes.FIELD_FOR_METHOD[method]
    fields = {wanted: draw(FIELD_VALUES[wanted])} if draw(st.integers(0, 9)) else {}
    if not draw(st.integers(0, 7)):
        other = draw(st.sampled_from(sorted(set(FIELD_VALUES) - {wanted})))
        fields[other] = draw(FIELD_VALUES[other])
    return BallotInput(**fields)


method_and_ballot = st.sampled_from(METHODS).flatmap(lambda m: st.tuples(st.just(m), ballots_for(m)))


@service_settings
@seed(FUZZ_SEED)
@given(method_ballot=method_and_ballot, max_choices=st.none() | st.integers(1, 3))
def test_validate_ballot_refuses_only_with_invalid_input(method_ballot, max_choices):
    method, ballot = method_ballot
    poll, options = _poll(method, max_choices if method == "approval" else None)
    try:
        clean = votes.validate_ballot(poll=poll, options=options, ballot=ballot)
    except InvalidInput as exc:
        assert exc.message
        return
    known = {11, 12, 13}
    assert set(clean.choices) <= known and len(set(clean.choices)) == len(clean.choices)
    assert all(int(k) in known and 0 <= v <= votes.MAX_SCORE for k, v in clean.scores.items())
    assert clean.option_id is None or clean.option_id in known


def test_cast_ballot_refusals_leave_no_rows(engine, session, admin, user):
    views = {m: factories.make_poll(session, admin, method=m, options=3) for m in METHODS}
    accepted = {"count": 0}

    @service_settings
    @seed(FUZZ_SEED)
    @given(method_ballot=method_and_ballot, aim=st.booleans())
    def run(method_ballot: tuple[str, BallotInput], aim: bool) -> None:
        method, ballot = method_ballot
        view = views[method]
        if aim:  # map the fixed ids 11..13 onto this poll's real option ids
            real = {11 + i: o.id for i, o in enumerate(view.options)}
            ballot = BallotInput(
                option_id=real.get(ballot.option_id, ballot.option_id) if isinstance(ballot.option_id, int) else ballot.option_id,
                option_ids=[real.get(x, x) if isinstance(x, int) else x for x in ballot.option_ids]
                if isinstance(ballot.option_ids, list) else ballot.option_ids,
                ranking=[real.get(x, x) if isinstance(x, int) else x for x in ballot.ranking]
                if isinstance(ballot.ranking, list) else ballot.ranking,
                scores={str(real.get(k, k)) if isinstance(k, int) else k: v for k, v in ballot.scores.items()}
                if isinstance(ballot.scores, dict) else ballot.scores,
            )
        before = row_counts(engine)
        try:
            votes.cast_ballot(session=session, user=user, poll_id=view.poll.id, ballot=ballot)
        except InvalidInput:
            session.rollback()
            assert row_counts(engine) == before
            return
        accepted["count"] += 1
        assert row_counts(engine)["ballots"] == before["ballots"] + 1
        votes.retract_ballot(session=session, user=user, poll_id=view.poll.id)
        assert row_counts(engine) == before

    run()
    REPORT["service ballots fuzzed"] += SERVICE_EXAMPLES
    print(f"accepted {accepted['count']} of {SERVICE_EXAMPLES} fuzzed ballots")


def test_tricky_number_strings_in_api_scores_are_422_not_500(client, engine, session, admin, user):
    """Regression: ``"--1"`` or ``"²"`` as a score key passed ``isdigit`` and crashed ``int()``."""
    view = factories.make_poll(session, admin, method="score", options=3)
    headers = factories.token_headers(session, user)
    for key in ("--1", "²", "-" * 19 + "1", "¹²", "1\u00b2"):
        response = client.post("/api/votes/", json={"poll_id": view.poll.id, "scores": {key: 3}}, headers=headers)
        factories.assert_error(response, 422)
    assert row_counts(engine)["ballots"] == 0


form_keys = st.sampled_from(["choice", "approve-", "rank-", "score-"]).flatmap(
    lambda prefix: st.just(prefix) if prefix == "choice" else (
        st.sampled_from(TRICKY_NUMBERS) | st.integers(-5, 10**20).map(str) | st.text(max_size=6)
    ).map(lambda rest: prefix + rest)
) | st.text(max_size=8)
form_values = st.sampled_from(TRICKY_NUMBERS) | st.integers(-5, 10**20).map(str) | json_values


@service_settings
@seed(FUZZ_SEED)
@given(method=st.sampled_from(METHODS), form=st.dictionaries(form_keys, form_values, max_size=6))
def test_the_vote_forms_reader_refuses_only_with_invalid_input(method, form):
    """``pages.vote.ballot_from_form`` reads what a (possibly crafted) Reflex event submitted."""
    from commons_app.pages.vote import ballot_from_form

    try:
        ballot = ballot_from_form(method, form)
    except InvalidInput:
        return
    assert getattr(ballot, votes.FIELD_FOR_METHOD[method]) is not None
