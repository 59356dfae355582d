"""``/polls/[poll_id]``: the ballot for the poll's method, and the user's current ballot."""

from __future__ import annotations

import asyncio
from typing import Any

import reflex as rx
from sqlmodel import Session, select

from commons_app import methods, routes
from commons_app.components.a11y import POLL_TITLE, focus_on
from commons_app.components.confirm import confirm_dialog
from commons_app.components.layout import error_callout, link_button, page, spinner_block, status_badge
from commons_app.components.native_form import native_form
from commons_app.components.ranking import ranking_ballot
from commons_app.components.receipts import (
    element_value,
    forget_receipt,
    receipt_panel,
    remember_receipt,
    show_stored_receipt,
    shown_receipt,
)
from commons_app.components.schedule import poll_schedule
from commons_app.components.share import share_panel
from commons_app.db import AsyncPool
from commons_app.i18n import N_, t, t_value, tn, tr
from commons_app.methods.ballots import MAX_SCORE
from commons_app.models import Ballot, Poll, User, utcnow
from commons_app.pages.roll_editor import RollEditorState, roll_editor
from commons_app.services import decisions, fast_ballots, guests, polls, schedules, votes
from commons_app.services import share as sharing
from commons_app.services.errors import InvalidInput, NotAuthenticated, NotFound, ServiceError
from commons_app.services.results import results_refusal
from commons_app.services.votes import BallotInput
from commons_app.state.session import SessionState, as_connection_on_loop, login_redirect, private_state, run_service

SCORE_CHOICES = [str(n) for n in range(MAX_SCORE + 1)]


MISSING_RECEIPT = N_("This browser does not hold your ballot's receipt; paste it here to change or retract your ballot.")
STALE_RECEIPT = N_(
    "No ballot of yours has this receipt (each change gives a new one, and only the latest counts). "
    "Paste your ballot's latest receipt to change or retract it."
)
RECEIPT_FIELD = "ballot-receipt-field"
# Where the focus goes after an action: the confirmation of the ballot, the error, the poll's title.
CONFIRMATION = "my-ballot"
VOTE_ERROR = "vote-error"
LINK_POLL_NOTE = N_(
    "Quick open poll: anyone with the link can vote, one ballot per browser, without an account. "
    "Not for binding decisions."
)
GUEST_NOTE = N_("You are voting without an account, through your personal invitation link.")


def submit_ballot(
    *, session: Session, user: User, poll_id: str, ballot: BallotInput, changing: bool, receipt: str | None = None,
    lang: str = "en",
) -> tuple[dict[str, Any], str]:
    """Cast (or change) the ballot, then read the vote page again: one credential check and one
    trip to a worker thread for the whole submit. Returns the page and the ballot's new receipt
    (which the handler hands to the browser, never to its state)."""
    if changing:
        row = votes.change_ballot(session=session, user=user, poll_id=poll_id, ballot=ballot, receipt=receipt)
    else:
        row = votes.cast_ballot(session=session, user=user, poll_id=poll_id, ballot=ballot)
    return vote_context(session=session, user=user, poll_id=poll_id, lang=lang, recorded=row), row.receipt


def vote_context(
    *, session: Session, user: User, poll_id: str, lang: str = "en", recorded: Ballot | None = None
) -> dict[str, Any]:
    """Everything the vote page shows, checked for this user.

    ``recorded``: the ballot this user's submit has just committed (the row the service returned),
    shown as it is instead of being read back: one statement fewer per submit."""
    poll = polls.get_visible_poll(session=session, poll_id=poll_id, user=user)
    options = polls.options_of(session=session, poll_id=poll_id)
    weight = polls.voter_weight(session=session, poll=poll, user=user)
    # An anonymous ballot is not linked to its voter: only whether they voted is known here.
    if recorded is not None:
        ballot, has_voted = (None if poll.anonymous else recorded), True
    else:
        ballot = None if poll.anonymous else session.exec(
            select(Ballot).where(Ballot.poll_id == poll_id, Ballot.user_id == user.id)
        ).first()
        has_voted = votes.has_voted(session=session, user=user, poll_id=poll_id) if poll.anonymous else ballot is not None
    return page_context(
        poll=poll, options=options, weight=weight, user=user, ballot=ballot, has_voted=has_voted, lang=lang,
        results_hidden=results_refusal(session=session, poll=poll, user=user) or "",
    )


async def cast_on_loop(
    *, pool: AsyncPool, session_id: str, allow_guest: bool, poll_id: str, ballot: BallotInput, lang: str = "en"
) -> tuple[dict[str, Any], str] | None:
    """:func:`submit_ballot` casting a named ballot on PostgreSQL, on the event loop
    (``fast_ballots.cast_browser_ballot``: one read, one write, no ORM, no worker thread); the
    page is built from the poll as read with the cast. ``None``: not this path's (the caller then
    calls :func:`submit_ballot`)."""
    cast = await fast_ballots.cast_browser_ballot(
        pool=pool, session_id=session_id, poll_id=poll_id, ballot=ballot, allow_guest=allow_guest
    )
    if cast is None:
        return None
    page = page_context(
        poll=cast.poll, options=cast.options, weight=cast.weight, user=cast.user, ballot=cast.ballot,  # type: ignore[arg-type]
        has_voted=True, lang=lang,
        results_hidden=results_refusal(session=None, poll=cast.poll, user=cast.user, voted=True) or "",  # type: ignore[arg-type]
    )
    return page, cast.ballot.receipt


def page_context(
    *, poll: Poll, options: list[Any], weight: float | None, user: User, ballot: Any, has_voted: bool,
    results_hidden: str, lang: str = "en",
) -> dict[str, Any]:
    """The vote page from what was read (both submit paths build it here): ``options`` with
    ``id`` and ``text`` in display order, ``ballot`` the user's named ballot (None in an
    anonymous poll or without one)."""
    status = polls.poll_status(poll)
    if status == "scheduled":
        reason = N_("This poll is not open yet.")
    elif status == "closed":
        reason = N_("This poll is closed.")
    elif weight is None and polls.is_manager(poll, user):
        reason = N_("You manage this poll but are not on its roll of voters: add yourself below to vote.")
    elif weight is None:
        reason = N_("You are not on this poll's roll of voters.")
    else:
        reason = ""
    texts = {o.id: o.text for o in options}
    method = methods.get(poll.method)
    summary = ""
    chosen: list[int] = []
    ranks: dict[str, str] = {}
    scores: dict[str, str] = {}
    if ballot is not None:
        stored = method.ballot.api_form(ballot.option_id, ballot.choices, ballot.scores)[method.field]
        summary = method.ballot.describe(stored, texts, lang)
        scores = {str(k): str(v) for k, v in ballot.scores.items()}
        chosen = list(ballot.choices)
        ranks = {str(oid): str(i + 1) for i, oid in enumerate(chosen)}
    settings = [p.describe(getattr(poll, p.name)) for p in method.params if getattr(poll, p.name, None) is not None]
    return {
        "poll_id": poll.id,
        "title": poll.title,
        "description": poll.description,
        "method": poll.method,
        "method_name": method.label,
        "instructions": method.instructions,
        "widget": method.ballot.widget,
        "rules": settings + decisions.describe_rules(
            quorum_ballots=poll.quorum_ballots, quorum_share=poll.quorum_share, pass_rule=poll.pass_rule
        ),
        "max_choices": poll.max_choices or 0,
        "status": status,
        "anonymous": poll.anonymous,
        "options": [{"id": o.id, "text": o.text} for o in options],
        "reason": reason,
        "weight": weight or 0,
        "has_voted": has_voted,
        "receipt": ballot.receipt if ballot is not None else "",
        "summary": summary,
        "chosen": chosen,
        "ranks": ranks,
        "scores": scores,
        "can_manage": polls.is_manager(poll, user),
        "access": poll.access,
        "guest": guests.is_guest(user),
        "invited": guests.is_guest(user) and user.guest_poll_id is not None,
        "join_code": polls.join_code_of(poll),
        "results_hidden": results_hidden,
        **schedules.schedule_of(poll),
    }


def ballot_from_form(method: str, form: dict[str, Any]) -> BallotInput:
    """Read the submitted form into the ballot field of ``method`` (its ballot kind reads it).

    Raises:
        InvalidInput: Nothing chosen, a rank used twice, or no such method.
    """
    kind = methods.get(method).ballot
    return BallotInput(**{kind.field: kind.from_form(form)})


@private_state
class VoteState(SessionState):
    """The ballot page of one poll.

    In an anonymous poll nothing here names the user's ballot: no receipt and no choice (the
    state is pickled beside the user's session); the receipt lives in the browser only (see
    ``components.receipts``) and comes back to a handler as an argument when it is needed.
    """

    loaded: bool = False
    not_found: bool = False
    ctx: dict[str, Any] = {}
    options: list[dict[str, Any]] = []
    chosen: list[int] = []
    ranks: dict[str, str] = {}
    scores: dict[str, str] = {}
    error: str = ""
    busy: bool = False
    form_key: int = 0
    # /v/<token>: why the link does not open a ballot ("" when it does).
    invite_error: str = ""
    # /v/<token>: the token the page posts to /api/browser/invitation (it is in the path anyway).
    invite_token: str = ""
    # /v/<token> while an account is signed in: attach the invitation, or vote through the link.
    invite_choice: bool = False
    signed_out: bool = False  # a visitor who is not signed in: ``preview`` only
    preview: dict[str, Any] = {}
    share: dict[str, str] = {}

    @rx.var
    def login_href(self) -> str:
        """Log in, then come back to this poll."""
        return routes.login_url(routes.vote_url(self.preview.get("poll_id", "")) if self.preview else "")

    @rx.var
    def register_href(self) -> str:
        """Register, then come back to this poll."""
        return routes.register_url(routes.vote_url(self.preview.get("poll_id", "")) if self.preview else "")

    def _poll_id(self) -> str:
        return routes.poll_id_from_path(self.router.url.path)

    async def _call(self, fn: Any, /, **kwargs: Any) -> Any:
        """Run a service as this socket's voter: its signed-in user, or its browser's guest (an
        invitee, or a link poll's voter): the ballot page is the one place a guest counts."""
        return await SessionState._call(self, fn, allow_guest=True, **kwargs)

    async def _cast_on_loop(self, *, poll_id: str, ballot: BallotInput) -> tuple[dict[str, Any], str] | None:
        """:func:`cast_on_loop` as this socket's voter (guests included, as in :meth:`_call`)."""
        try:
            return await as_connection_on_loop(
                self._socket(), cast_on_loop, allow_guest=True, poll_id=poll_id, ballot=ballot, lang=self.lang
            )
        except NotAuthenticated:
            self._clear_user()
            raise

    def _reset_page(self) -> None:
        self.loaded, self.not_found, self.error, self.ctx, self.options = False, False, "", {}, []
        self.invite_error, self.invite_token, self.invite_choice = "", "", False
        self.signed_out, self.preview = False, {}

    async def _refresh(self) -> Any:
        poll_id = self._poll_id()
        try:
            ctx = await self._call(vote_context, poll_id=poll_id, lang=self.lang)
        except NotAuthenticated:
            return await self._show_preview(poll_id)
        except NotFound:
            if not self.signed_in:  # a guest outside its polls is a visitor there
                return await self._show_preview(poll_id)
            self.not_found, self.loaded = True, True
            return None
        self._show(ctx)
        events = self._sync_receipt(ctx)
        if ctx["can_manage"]:
            events.append(RollEditorState.load(poll_id))
        return events

    async def _show_preview(self, poll_id: str) -> None:
        """A visitor who is not signed in: what the link shows them (``polls.preview_poll``)."""
        found = await run_service(polls.preview_poll, poll_id=poll_id)
        link = await run_service(guests.takes_link_ballots, poll_id=poll_id)
        self.preview = {
            "poll_id": str(found.poll_id), "visible": found.visible, "title": found.title,
            "description": found.description, "status": found.status, "options": found.options,
            "link": link and found.status == "open",
        }
        self.signed_out, self.not_found, self.loaded, self.ctx, self.options = True, False, True, {}, []

    def _sync_receipt(self, ctx: dict[str, Any]) -> list[rx.event.EventSpec]:
        """Browser events that bring the shown receipt in line with the server: a named ballot's
        receipt is known here (and stored); an anonymous one is shown from the browser's storage
        while the user has voted. A stored anonymous receipt is left alone otherwise: in a shared
        browser it may be another user's, and nobody else can give it back to them."""
        poll_id = str(ctx["poll_id"])
        if ctx["anonymous"]:
            return [show_stored_receipt(poll_id) if ctx["has_voted"] else shown_receipt.push("")]
        return remember_receipt(poll_id, ctx["receipt"]) if ctx["receipt"] else forget_receipt(poll_id)

    def _show(self, ctx: dict[str, Any]) -> None:
        self.ctx = {k: v for k, v in ctx.items() if k not in {"options", "chosen", "ranks", "scores"}}
        self.options = ctx["options"]
        self.chosen, self.ranks, self.scores = ctx["chosen"], ctx["ranks"], ctx["scores"]
        self.not_found, self.loaded, self.signed_out, self.preview = False, True, False, {}
        self.form_key += 1
        link = sharing.poll_link(ctx["poll_id"], self.router.url.origin or "")
        if self.share.get("link") != link:  # the QR code is drawn once per poll and address
            self.share = {"link": link, "join_code": ctx["join_code"], "qr": sharing.qr_svg_data_uri(link)}

    @rx.event
    async def on_load(self):  # noqa: ANN201 - Reflex event return
        """Load the poll and the ballot of this socket's voter (an account, or this browser's
        guest); a visitor sees what they may of the poll (``_show_preview``): in a link poll, a
        "Vote without an account" form post (``/api/browser/link-guest``) gives the browser its
        guest voter and comes back here."""
        self._reset_page()
        await (await self.get_state(SessionState)).check_session()
        result = await self._refresh()
        code = str(self.router.url.query_parameters.get("error") or "")
        if self.signed_out and code in routes.GUEST_ERRORS:
            self.error = tr(self.lang, routes.GUEST_ERRORS[code])
        return result

    @rx.event
    async def reload(self):  # noqa: ANN201 - Reflex event return
        """Read the poll again in place (after its roll changed)."""
        return await self._refresh()

    @rx.event
    async def schedule_crossed(self):  # noqa: ANN201 - Reflex event return
        """The browser's clock passed the poll's opening or closing time: read the poll again.
        The server decides; when its clock is a moment behind the browser's, wait for it."""
        if not self.ctx:
            return None
        before = self.ctx.get("status")
        result = await self._refresh()
        if self.ctx and self.ctx.get("status") == before:
            times = {k: str(self.ctx.get(k) or "") for k in ("opens_at", "closes_at")}
            wait = schedules.seconds_to_crossing(times, utcnow())
            if wait is not None:
                await asyncio.sleep(wait + 0.05)
                result = await self._refresh()
        return result

    @rx.event
    async def open_invitation(self):  # noqa: ANN201 - Reflex event return
        """``/v/<token>``: check the personal link, then post it to ``/api/browser/invitation``
        (only an HTTP answer can set the HttpOnly session cookie), which opens the invitee's
        browser session and goes to the poll's ballot (a second use shows, and changes, the same
        ballot). A signed-in account holder chooses: attach the invitation to the account, or
        vote through the link. A link that names an account sends to the log-in; a bad or
        closed one says why."""
        self._reset_page()
        await (await self.get_state(SessionState)).check_session()  # to offer attaching to an account
        token = str(self.router.url.path).rstrip("/").split("/")[-1]
        code = str(self.router.url.query_parameters.get("error") or "")
        if code:
            self.invite_error, self.loaded = tr(self.lang, routes.GUEST_ERRORS.get(code, routes.GUEST_ERRORS["invalid"])), True
            return None
        try:
            await run_service(guests.check_invitation, token=token)
        except guests.AccountInvitation as exc:
            return [login_redirect(f"/polls/{exc.poll_id}"), rx.toast.info(exc.in_language(self.lang))]
        except ServiceError as exc:
            self.invite_error, self.loaded = exc.in_language(self.lang), True
            return None
        self.invite_token, self.loaded = token, True
        if self.signed_in:
            self.invite_choice = True
            return None
        # The form renders with this state change: submit it once it is in the page (the event can
        # arrive first); the "Open my ballot" button stays as the fallback.
        return rx.call_script(
            "(function go(n){const f=document.getElementById('invitation-form');"
            "if(f){f.submit();}else if(n>0){setTimeout(function(){go(n-1);},100);}})(50)"
        )

    @rx.event
    async def attach_invitation(self):  # noqa: ANN201 - Reflex event return
        """``/v/<token>`` while signed in: put the signed-in account in the place of the link's
        voter (before any ballot through the link), then vote as that account."""
        token = str(self.router.url.path).rstrip("/").split("/")[-1]
        try:
            poll_id = await SessionState._call(self, guests.attach_invitation, token=token)
        except NotAuthenticated:
            return login_redirect(self.router.url.path)
        except ServiceError as exc:
            self.error = exc.in_language(self.lang)
            return None
        return [rx.redirect(f"/polls/{poll_id}"), rx.toast.success(tr(self.lang, "The invitation is now your account's."))]

    @rx.event
    async def submit(self, form: dict[str, Any]):  # noqa: ANN201 - Reflex event return
        """Cast the ballot, or change it when the user has one (in an anonymous poll: the one
        that the form's ``receipt`` names)."""
        self.error = ""
        method = str(self.ctx.get("method", ""))
        try:
            ballot = ballot_from_form(method, form)
        except InvalidInput as exc:
            self.error = exc.in_language(self.lang)
            yield focus_on(VOTE_ERROR)
            return
        changing = bool(self.ctx.get("has_voted"))
        anonymous = bool(self.ctx.get("anonymous"))
        receipt = str(form.get("receipt") or "").strip() if anonymous else None
        if changing and anonymous and not receipt:
            self.error = tr(self.lang, MISSING_RECEIPT)
            yield focus_on(VOTE_ERROR)
            return
        self.busy = True
        yield
        poll_id = self._poll_id()
        try:
            done = None if changing else await self._cast_on_loop(poll_id=poll_id, ballot=ballot)
            if done is None:  # a change, SQLite, an anonymous poll, an idle session: the service call
                done = await self._call(
                    submit_ballot, poll_id=poll_id, ballot=ballot, changing=changing, receipt=receipt, lang=self.lang
                )
            ctx, new_receipt = done
        except NotAuthenticated:
            self.busy = False
            yield login_redirect(self.router.url.path)
            return
        except NotFound as exc:
            self.busy = False
            stale = changing and anonymous
            self.error = tr(self.lang, STALE_RECEIPT) if stale else exc.in_language(self.lang)
            yield await self._refresh()
            if stale and not self.not_found:  # the poll is there: the receipt names no ballot
                yield forget_receipt(poll_id)
            yield focus_on(VOTE_ERROR)
            return
        except ServiceError as exc:
            self.busy = False
            self.error = exc.in_language(self.lang)
            yield await self._refresh()
            yield focus_on(VOTE_ERROR)
            return
        self.busy = False
        self._show(ctx)
        # One answer: the delta showing the recorded ballot, then the browser events in one packet.
        # The new receipt goes to the browser only (see the class docstring); the focus goes to what
        # happened (the confirmation), not back to <body> with the old form.
        yield [
            *remember_receipt(poll_id, new_receipt),
            rx.toast.success(tr(self.lang, "Your vote was changed.") if changing else tr(self.lang, "Your vote was recorded.")),
            focus_on(CONFIRMATION),
        ]

    @rx.event
    async def retract(self, receipt: str = ""):  # noqa: ANN201 - Reflex event return
        """Withdraw the user's ballot (in an anonymous poll: the one ``receipt`` names, read from
        the page when the button is pressed)."""
        self.error = ""
        anonymous = bool(self.ctx.get("anonymous"))
        receipt = str(receipt or "").strip()
        if anonymous and not receipt:
            self.error = tr(self.lang, MISSING_RECEIPT)
            yield focus_on(VOTE_ERROR)
            return
        self.busy = True
        yield
        poll_id = self._poll_id()
        try:
            await self._call(votes.retract_ballot, poll_id=poll_id, receipt=receipt if anonymous else None)
        except NotAuthenticated:
            self.busy = False
            yield login_redirect(self.router.url.path)
            return
        except NotFound as exc:
            self.busy = False
            self.error = tr(self.lang, STALE_RECEIPT) if anonymous else exc.in_language(self.lang)
            yield await self._refresh()
            if anonymous and not self.not_found:  # the poll is there: the receipt names no ballot
                yield forget_receipt(poll_id)
            return
        except ServiceError as exc:
            self.error = exc.in_language(self.lang)
            self.busy = False
            yield focus_on(VOTE_ERROR)
            return
        self.busy = False
        yield forget_receipt(poll_id)
        yield await self._refresh()
        # the retract button is gone: the focus goes to the top of the (now empty) ballot
        yield [rx.toast.info(tr(self.lang, "Your vote was retracted.")), focus_on(POLL_TITLE)]


def _input_id(option: rx.Var) -> rx.Var:
    return "option-input-" + option["id"].to_string()


def _choice_single(option: rx.Var) -> rx.Component:
    return rx.hstack(
        rx.el.input(
            type="radio", name="choice", id=_input_id(option), value=option["id"].to_string(),
            default_checked=VoteState.chosen.contains(option["id"]), style={"width": "1.2rem", "height": "1.2rem"},
        ),
        rx.el.label(option["text"], html_for=_input_id(option)),
        align="center",
        spacing="3",
    )


def _choice_approval(option: rx.Var) -> rx.Component:
    return rx.hstack(
        rx.el.input(
            type="checkbox", name="approve-" + option["id"].to_string(), id=_input_id(option),
            default_checked=VoteState.chosen.contains(option["id"]), style={"width": "1.2rem", "height": "1.2rem"},
        ),
        rx.el.label(option["text"], html_for=_input_id(option)),
        align="center",
        spacing="3",
    )


def _select(option: rx.Var, name_prefix: str, choices: rx.Var | list, default: rx.Var, blank: str | rx.Var) -> rx.Component:
    return rx.hstack(
        rx.el.select(
            rx.el.option(blank, value=""),
            rx.foreach(choices, lambda c: rx.el.option(c, value=c)),
            name=name_prefix + option["id"].to_string(),
            id=_input_id(option),
            default_value=default,
            class_name="commons-select",
            style={"minWidth": "5rem"},
        ),
        rx.el.label(option["text"], html_for=_input_id(option)),
        align="center",
        spacing="3",
    )


def _rank_numbers() -> rx.Var:
    return rx.Var.range(1, VoteState.options.length() + 1).map(lambda n: n.to_string())


def _receipt_field() -> rx.Component:
    """Anonymous polls: the receipt naming the ballot to change or retract, from this browser's
    storage (a hidden input), or pasted by the user when this browser does not hold it."""
    return rx.cond(
        VoteState.ctx["anonymous"].to(bool) & VoteState.ctx["has_voted"].to(bool),
        rx.cond(
            shown_receipt.value != "",
            rx.el.input(type="hidden", name="receipt", id=RECEIPT_FIELD, value=shown_receipt.value, read_only=True),
            rx.vstack(
                rx.callout(t_value(MISSING_RECEIPT), icon="key_round", color_scheme="amber", role="status", id="receipt-missing", width="100%"),
                rx.el.label(t("Receipt"), html_for=RECEIPT_FIELD, style={"fontWeight": 500}),
                rx.input(name="receipt", id=RECEIPT_FIELD, placeholder=t("Paste your receipt"), auto_complete="off", width="100%", max_width="24rem"),
                spacing="2",
                width="100%",
            ),
        ),
    )


def ballot_form() -> rx.Component:
    """The ballot for the poll's method."""
    widget = VoteState.ctx["widget"].to(str)
    return rx.form(
        rx.vstack(
            rx.text(t_value(VoteState.ctx["instructions"].to(str), max=MAX_SCORE), color_scheme="gray", id="ballot-hint"),
            rx.cond(
                (widget == "checkbox") & (VoteState.ctx["max_choices"].to(int) > 0),
                rx.text(tn("At most %(n)s approval.", "At most %(n)s approvals.", n=VoteState.ctx["max_choices"].to(int)), size="2"),
            ),
            rx.el.fieldset(
                rx.el.legend(t("Options"), style={"position": "absolute", "left": "-9999px"}),
                rx.vstack(
                    # One input per ballot kind (methods.ballots), whatever the method.
                    rx.match(
                        widget,
                        ("radio", rx.foreach(VoteState.options, _choice_single)),
                        ("checkbox", rx.foreach(VoteState.options, _choice_approval)),
                        ("score", rx.foreach(VoteState.options, lambda o: _select(o, "score-", SCORE_CHOICES, VoteState.scores.get(o["id"].to_string(), ""), "–"))),
                        ranking_ballot(
                            VoteState.options,
                            VoteState.ranks,
                            rx.foreach(VoteState.options, lambda o: _select(o, "rank-", _rank_numbers(), VoteState.ranks.get(o["id"].to_string(), ""), t("not ranked"))),
                        ),
                    ),
                    spacing="3",
                    align="start",
                ),
                style={"border": "none", "padding": 0, "margin": 0},
                # the instructions, and the error while there is one, are read with the options
                custom_attrs={"aria-describedby": rx.cond(VoteState.error != "", "ballot-hint " + VOTE_ERROR, "ballot-hint")},
            ),
            _receipt_field(),
            rx.hstack(
                rx.cond(
                    VoteState.ctx["has_voted"].to(bool),
                    rx.button(t("Change vote"), type="submit", loading=VoteState.busy, size="3"),
                    rx.button(t("Submit vote"), type="submit", loading=VoteState.busy, size="3"),
                ),
                rx.cond(
                    VoteState.ctx["has_voted"].to(bool),
                    confirm_dialog(
                        rx.button(t("Retract vote"), type="button", variant="outline", color_scheme="red", size="3", disabled=VoteState.busy),
                        title=t("Retract your vote?"),
                        description=t("Your ballot will no longer count. You can vote again while the poll is open."),
                        confirm_label=t("Retract my vote"),
                        on_confirm=VoteState.retract(element_value(RECEIPT_FIELD)),
                        dialog_id="confirm-retract",
                    ),
                ),
                spacing="3",
                wrap="wrap",
            ),
            spacing="4",
            align="start",
        ),
        on_submit=VoteState.submit,
        key=VoteState.form_key.to_string(),
    )


def poll_rules() -> rx.Component:
    """The method's settings (seats ...) and the poll's decision rules (quorum, pass rule)."""
    lines = VoteState.ctx["rules"].to(list[str])
    return rx.cond(
        lines.length() > 0,
        rx.vstack(
            rx.foreach(lines, lambda line: rx.text(line, size="2")),
            spacing="1",
            custom_attrs={"data-testid": "poll-rules"},
        ),
    )


def signed_out_view() -> rx.Component:
    """What a shared link shows a visitor who is not signed in: the poll (public and unlisted
    ones, read-only) and what they need to do to vote."""
    preview = VoteState.preview
    sign_in = rx.hstack(
        rx.cond(
            preview["link"].to(bool),
            # Only an HTTP answer can set the guest's HttpOnly session cookie.
            native_form(
                rx.el.input(type="hidden", name="poll", value=preview["poll_id"].to(str)),
                rx.button(t("Vote without an account"), type="submit", size="3", id="vote-as-guest"),
                action="/api/browser/link-guest",
                method="post",
            ),
        ),
        link_button(t("Log in to vote"), VoteState.login_href, solid=True),
        link_button(t("Create an account"), VoteState.register_href),
        spacing="3",
        wrap="wrap",
    )
    return rx.cond(
        preview["visible"].to(bool),
        rx.vstack(
            rx.heading(preview["title"].to(str), size="7", as_="h1", id=POLL_TITLE),
            rx.hstack(status_badge(preview["status"].to(str)), wrap="wrap"),
            rx.cond(preview["link"].to(bool), rx.callout(t_value(LINK_POLL_NOTE), icon="zap", color_scheme="orange", id="link-poll-note")),
            error_callout(VoteState.error),
            rx.cond(preview["description"].to(str) != "", rx.text(preview["description"].to(str), white_space="pre-wrap")),
            rx.el.ul(
                rx.foreach(preview["options"].to(list[str]), lambda text: rx.el.li(text)),
                aria_label=t("Options"),
                style={"margin": "0 0 0 1.25rem"},
            ),
            rx.callout(
                t("Log in or create an account to vote in this poll; you come back here afterwards. "
                  "Invited by email? Open the personal link from your invitation instead."),
                icon="log_in", color_scheme="blue", role="status", id="sign-in-to-vote", width="100%",
            ),
            sign_in,
            spacing="4",
            width="100%",
            align="start",
        ),
        rx.vstack(
            rx.heading(t("Sign in to see this poll"), size="6", as_="h1", id=POLL_TITLE),
            rx.callout(
                t("This poll is private, or the link is wrong. If you are on its roll of voters, log in (or create an "
                  "account with the address you were invited at) and you come back here. Invited by email? Open the "
                  "personal link from your invitation instead."),
                icon="lock", color_scheme="gray", role="status", id="sign-in-to-vote", width="100%",
            ),
            sign_in,
            spacing="4",
            width="100%",
            align="start",
        ),
    )


def vote_page() -> rx.Component:
    """``/polls/[poll_id]``"""
    return page(_vote_body())


def _invitation_form(label: str | rx.Var, **props: Any) -> rx.Component:
    """The post that opens the link's guest session (``/api/browser/invitation``)."""
    return native_form(
        rx.el.input(type="hidden", name="token", value=VoteState.invite_token),
        rx.button(label, type="submit", size="3", **props),
        action="/api/browser/invitation",
        method="post",
        id="invitation-form",
    )


def invitation_page() -> rx.Component:
    """``/v/[token]``: a personal invitation link. It posts itself to the HTTP route that gives
    the browser the invitee's session and sends it to the ballot; a signed-in account holder
    may attach the invitation to their account instead."""
    return page(
        rx.cond(
            ~VoteState.loaded,
            spinner_block(),
            rx.cond(
                VoteState.invite_error != "",
                rx.callout(VoteState.invite_error, icon="link_2_off", color_scheme="amber", role="alert", id="invitation-error"),
                rx.cond(
                    VoteState.invite_choice,
                    rx.vstack(
                        rx.heading(t("Your invitation"), size="6", as_="h1"),
                        error_callout(VoteState.error),
                        rx.text(
                            t("You are signed in as %(user)s. Vote with your account (the "
                              "invitation becomes your account's), or through the link without it (this browser "
                              "then leaves your account: log in again afterwards).", user=SessionState.username)
                        ),
                        rx.hstack(
                            rx.button(
                                t("Vote as %(user)s instead", user=SessionState.username), on_click=VoteState.attach_invitation,
                                size="3", id="attach-invitation",
                            ),
                            _invitation_form(t("Vote through the link"), variant="outline"),
                            spacing="3",
                            wrap="wrap",
                        ),
                        spacing="4",
                        align="start",
                    ),
                    rx.vstack(
                        rx.text(t("Opening your ballot…")),
                        _invitation_form(t("Open my ballot")),
                        spacing="3",
                        align="start",
                    ),
                ),
            ),
        )
    )


def _vote_body() -> rx.Component:
    ctx = VoteState.ctx
    return rx.fragment(
        rx.cond(
            ~VoteState.loaded,
            spinner_block(),
            rx.cond(
                VoteState.signed_out,
                signed_out_view(),
                rx.cond(
                VoteState.not_found,
                rx.cond(
                    VoteState.error != "",
                    error_callout(VoteState.error),
                    rx.callout(t("Poll not found, or you may not see it."), icon="circle_alert", color_scheme="gray", role="alert"),
                ),
                rx.vstack(
                    rx.heading(ctx["title"].to(str), size="7", as_="h1", id=POLL_TITLE),
                    rx.hstack(
                        status_badge(ctx["status"].to(str)),
                        rx.badge(t_value(ctx["method_name"].to(str)), variant="soft"),
                        rx.cond(ctx["anonymous"].to(bool), rx.badge(t("anonymous"), color_scheme="violet", variant="soft")),
                        rx.cond(ctx["access"].to(str) == "link", rx.badge(t("quick open poll"), color_scheme="orange", variant="soft")),
                        wrap="wrap",
                    ),
                    poll_schedule(
                        ctx["opens_at"].to(str), ctx["closes_at"].to(str), ctx["status"].to(str),
                        on_cross=VoteState.schedule_crossed,
                    ),
                    rx.cond(
                        ctx["access"].to(str) == "link",
                        rx.callout(t_value(LINK_POLL_NOTE), icon="zap", color_scheme="orange", id="link-poll-note"),
                    ),
                    rx.cond(ctx["invited"].to(bool), rx.callout(t_value(GUEST_NOTE), icon="mail", color_scheme="blue", id="guest-note")),
                    rx.cond(ctx["description"].to(str) != "", rx.text(ctx["description"].to(str), white_space="pre-wrap")),
                    poll_rules(),
                    error_callout(VoteState.error, id=VOTE_ERROR),
                    rx.cond(
                        ctx["has_voted"].to(bool),
                        rx.cond(
                            ctx["anonymous"].to(bool),
                            # The server cannot tell which ballot is this user's (and must not).
                            rx.callout(
                                t("You have voted. This poll is anonymous: nothing links you to your ballot, so it is not shown here."),
                                icon="circle_check", color_scheme="green", id=CONFIRMATION,
                            ),
                            rx.callout(
                                t("Your ballot: %(summary)s", summary=ctx["summary"]),
                                icon="circle_check", color_scheme="green", id=CONFIRMATION,
                            ),
                        ),
                    ),
                    rx.cond(
                        ctx["has_voted"].to(bool),
                        rx.cond(
                            ctx["anonymous"].to(bool),
                            rx.cond(shown_receipt.value != "", receipt_panel(shown_receipt.value)),
                            rx.cond(ctx["receipt"].to(str) != "", receipt_panel(ctx["receipt"].to(str))),
                        ),
                    ),
                    rx.cond(
                        ctx["reason"].to(str) != "",
                        rx.callout(t_value(ctx["reason"].to(str)), icon="info", color_scheme="amber", role="status", id="vote-closed-reason"),
                        rx.card(ballot_form(), width="100%"),
                    ),
                    rx.cond(~ctx["guest"].to(bool), rx.vstack(
                        rx.hstack(
                            rx.link(t("See results"), href="/polls/" + ctx["poll_id"].to(str) + "/results"),
                            rx.cond(ctx["results_hidden"].to(str) != "", rx.text("(" + ctx["results_hidden"].to(str) + ")", size="2", color_scheme="gray")),
                            spacing="2",
                            wrap="wrap",
                        ),
                        share_panel(VoteState.share),
                        spacing="4",
                        width="100%",
                        align="start",
                    )),
                    rx.cond(
                        ctx["can_manage"].to(bool) & (ctx["status"].to(str) != "closed"),
                        link_button(t("Edit poll"), "/polls/" + ctx["poll_id"].to(str) + "/edit"),
                    ),
                    rx.cond(ctx["can_manage"].to(bool), roll_editor()),
                    spacing="4",
                    width="100%",
                    align="start",
                ),
                ),
            ),
        ),
    )
