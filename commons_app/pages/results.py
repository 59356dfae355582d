"""``/polls/[poll_id]/results``: live results for viewers the server has allowed to see them."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import reflex as rx
from sqlmodel import Session

from commons_app import i18n, methods, routes
from commons_app.components.a11y import results_announcer, start_announcer
from commons_app.components.layout import page, spinner_block, status_badge
from commons_app.components.receipts import STORED_RECEIPT, receipt_answer
from commons_app.components.schedule import poll_schedule
from commons_app.i18n import N_, number_text, t, t_value, tr
from commons_app.models import Poll, User, utcnow
from commons_app.services import polls, schedules, votes
from commons_app.services.errors import NotAuthenticated, NotFound, ServiceError
from commons_app.services.results import (
    PollResults,
    compute_results,
    format_number,
    poll_record,
    poll_results,
    results_refusal,
)
from commons_app.state import live as live_state
from commons_app.state.live import NO_LONGER, LiveResults, recheck, unwatch, watch, watching
from commons_app.state.session import SessionState, login_redirect, private_state

RECEIPT_CHECK_FIELD = "receipt-check-field"
NOT_IN_RECORD = N_(
    "Not in the record: no counted ballot has this receipt. (Changing a ballot gives it a new receipt; "
    "only the latest one names a counted ballot.)"
)
# What each download is: (record form or "results", file suffix, MIME type).
DOWNLOADS = {
    "jsonl": ("record.jsonl", "application/jsonl"),
    "blt": ("record.blt", "text/plain"),
    "results": ("results.json", "application/json"),
}


def _record_fields(*, session: Session, user: User, poll: Poll, shown: PollResults | None) -> dict[str, Any]:
    """A closed poll's record digest and, in a poll that is not anonymous, the user's own receipt
    (to prefill the check; an anonymous ballot's receipt is known only to the browser)."""
    digest = shown.record_sha256 if shown is not None and shown.status == "closed" else None
    known = ""
    if digest and not poll.anonymous:
        try:
            known = votes.get_my_ballot(session=session, user=user, poll_id=poll.id).receipt  # type: ignore[arg-type]
        except NotFound:
            pass
    return {"record_sha256": digest or "", "known_receipt": known}


def results_context(*, session: Session, user: User, poll_id: str) -> dict[str, Any]:
    """The poll's heading, and its results when this user may see them."""
    poll = polls.get_visible_poll(session=session, poll_id=poll_id, user=user)
    refusal = results_refusal(session=session, poll=poll, user=user)
    shown = None if refusal else compute_results(session=session, poll=poll)
    return {
        "title": poll.title,
        "method_name": methods.label_of(poll.method),
        "refusal": refusal or "",
        "results": shown,
        "anonymous": poll.anonymous,
        "anonymity_threshold": poll.anonymity_threshold,
        "ranked": methods.get(poll.method).ranked_record,
        "status": polls.poll_status(poll),
        **schedules.schedule_of(poll),
        **_record_fields(session=session, user=user, poll=poll, shown=shown),
    }


def record_context(*, session: Session, user: User, poll_id: str) -> dict[str, Any]:
    """The record fields of :func:`results_context`, for a poll that closed while it was shown."""
    poll = polls.get_visible_poll(session=session, poll_id=poll_id, user=user)
    shown = poll_results(session=session, user=user, poll_id=poll_id)
    return _record_fields(session=session, user=user, poll=poll, shown=shown)


def download_data(*, session: Session, user: User, poll_id: str, what: str) -> str:
    """The text of a closed poll's record (``jsonl``, ``blt``) or of its results (``results``,
    the JSON the API answers), for a user who may see them.

    Raises:
        NotFound, Forbidden, Conflict, InvalidInput: As ``results.poll_record``.
    """
    if what == "results":
        return json.dumps(poll_results(session=session, user=user, poll_id=poll_id).as_dict(), ensure_ascii=False, indent=1)
    text, _digest = poll_record(session=session, user=user, poll_id=poll_id, form="blt" if what == "blt" else "jsonl")
    return text


def find_in_record(record: str, receipt: str) -> dict[str, Any] | None:
    """The record line of the ballot that ``receipt`` names, or None. Lines are canonical
    (``services.record``): each starts with its receipt, so no line needs parsing but the match."""
    if not receipt or len(receipt) > 64:
        return None
    prefix = '{"receipt":' + json.dumps(receipt, ensure_ascii=False) + ","
    for line in record.splitlines():
        if line.startswith(prefix):
            return json.loads(line)
    return None


def describe_line(line: dict[str, Any], texts: dict[int, str], lang: str = "en") -> str:
    """A record line's weight and choice in ``lang``, options named by their texts."""

    def name(option_id: Any) -> str:
        return texts.get(int(option_id), tr(lang, N_("option %(id)s"), id=option_id))

    if "option_id" in line:
        sentence, listed = N_("weight %(weight)s, choice: %(choice)s"), name(line["option_id"])
    elif "option_ids" in line:
        sentence, listed = N_("weight %(weight)s, approved: %(choice)s"), ", ".join(name(i) for i in line["option_ids"])
    elif "ranking" in line:
        sentence, listed = N_("weight %(weight)s, ranking: %(choice)s"), " > ".join(name(i) for i in line["ranking"])
    else:
        sentence = N_("weight %(weight)s, scores: %(choice)s")
        listed = ", ".join(f"{name(k)} {v}" for k, v in line.get("scores", {}).items())
    weight = format_number(float(line["weight"])) if lang == "en" else i18n.format_number(lang, float(line["weight"]))
    return tr(lang, sentence, weight=weight, choice=listed)


def receipt_in_record(
    *, session: Session, user: User, poll_id: str, receipt: str, lang: str = "en"
) -> tuple[bool, str]:
    """Whether a closed poll's record holds the ballot ``receipt`` names, as a sentence in ``lang``.

    Raises:
        NotFound, Forbidden, Conflict: As ``results.poll_record``.
    """
    record, _digest = poll_record(session=session, user=user, poll_id=poll_id)
    line = find_in_record(record, receipt.strip())
    if line is None:
        return False, NOT_IN_RECORD
    texts = {int(o.id): o.text for o in polls.options_of(session=session, poll_id=poll_id)}  # type: ignore[arg-type]
    return True, tr(lang, N_("Counted: this receipt names a ballot in the record — %(ballot)s."),
                    ballot=describe_line(line, texts, lang))


@private_state
class ResultsState(SessionState):
    """Whether this viewer may see the poll's results; the tally itself lives in LiveResults.

    A receipt someone checks, and the ballot found, are never kept here (an anonymous ballot's
    receipt in the pickled state would link the voter to it): the answer goes to the browser.
    """

    loaded: bool = False
    not_found: bool = False
    poll_number: str = ""  # the poll's id (a string since ids became opaque)
    title: str = ""
    method_name: str = ""
    refusal: str = ""
    anonymous: bool = False
    anonymity_threshold: int = 0
    ranked: bool = False
    record_sha256: str = ""
    record_tried: bool = False  # load_record ran: do not ask again
    # Only in polls that are not anonymous: there the server links voters to ballots anyway.
    known_receipt: str = ""
    checking: bool = False
    # The poll's schedule (services.schedules.schedule_of) and status when the page read it.
    opens_at: str = ""
    closes_at: str = ""
    poll_status: str = ""

    def _poll_id(self) -> str:
        return routes.poll_id_from_path(self.router.url.path)

    @rx.event
    async def on_load(self):  # noqa: ANN201 - Reflex event return
        """Check the viewer on the server; only then put the tab among the poll's watchers, which
        receive every live push (see ``state.live``). A viewer who may not see results is never
        a watcher, so they receive nothing; one who loses the right while watching is taken out."""
        self.loaded, self.not_found, self.refusal = False, False, ""
        self.record_sha256, self.record_tried, self.known_receipt = "", False, ""
        poll_id = self._poll_id()
        live = await self.get_state(LiveResults)
        sid = self._socket()
        await unwatch(sid)
        try:
            ctx = await self._call(results_context, poll_id=poll_id)
        except NotAuthenticated:
            live.reset()
            return login_redirect(self.router.url.path)
        except NotFound:
            live.reset()
            self.not_found, self.loaded = True, True
            return None
        self.poll_number = poll_id
        self.title, self.method_name, self.refusal = ctx["title"], ctx["method_name"], ctx["refusal"]
        self.anonymous, self.anonymity_threshold, self.ranked = ctx["anonymous"], ctx["anonymity_threshold"], ctx["ranked"]
        self.record_sha256, self.known_receipt = ctx["record_sha256"], ctx["known_receipt"]
        self.opens_at, self.closes_at, self.poll_status = ctx["opens_at"], ctx["closes_at"], ctx["status"]
        if ctx["results"] is None:
            live.reset()
            self.loaded = True
            return receipt_answer.push("")
        # A push published between the read above and this line would be missed until the next
        # one; pushes re-read the database and follow every change within the window, so the
        # next change corrects it.
        await watch(poll_id, sid)
        # An access change committed after the check above was announced to the watchers of
        # that moment, which did not include this tab yet: decide again, now that it is one.
        await recheck([sid])
        if watching(sid) != poll_id:
            live.reset()
            self.refusal, self.loaded = NO_LONGER, True
            return None
        live._apply(poll_id, ctx["results"])
        self.loaded = True
        # the answer of another poll's page must not linger; the announcer speaks of changes
        return [receipt_answer.push(""), start_announcer()]

    @rx.event
    async def schedule_crossed(self):  # noqa: ANN201 - Reflex event return
        """The browser's clock passed the poll's opening or closing time. Shown results follow by
        the live push (the schedule job announces the poll, sealed at its close); a refusal
        ("after the close" ...) is decided again by reading the page anew. When the server's
        clock is a moment behind the browser's, wait for it first."""
        times = {"opens_at": self.opens_at, "closes_at": self.closes_at}
        wait = schedules.seconds_to_crossing(times, utcnow())
        if wait is not None:
            await asyncio.sleep(wait + 0.05)
        return ResultsState.on_load if self.refusal else None

    @rx.event
    async def load_record(self):  # noqa: ANN201 - Reflex event return
        """The poll closed while shown (a live push said so): fetch its record's digest, once."""
        self.record_tried = True
        try:
            ctx = await self._call(record_context, poll_id=self.poll_number)
        except NotAuthenticated:
            return login_redirect(self.router.url.path)
        except ServiceError:
            ctx = {"record_sha256": "", "known_receipt": ""}
        self.record_sha256, self.known_receipt = ctx["record_sha256"], ctx["known_receipt"]
        return None

    @rx.event
    async def download(self, what: str):  # noqa: ANN201 - Reflex event return
        """Download the record (``jsonl``/``blt``) or the results (``results``) as a file: the
        API's record URLs need a bearer token, which the browser does not hold."""
        if what not in DOWNLOADS:
            return None
        poll_id = self.poll_number
        try:
            text = await self._call(download_data, poll_id=poll_id, what=what)
        except NotAuthenticated:
            return login_redirect(self.router.url.path)
        except ServiceError as exc:
            return rx.toast.error(exc.in_language(self.lang))
        suffix, mime = DOWNLOADS[what]
        return rx.download(data=text.encode("utf-8"), filename=f"poll-{poll_id}-{suffix}", mime_type=mime)

    @rx.event
    async def check_receipt(self, form: dict[str, Any]):  # noqa: ANN201 - Reflex event return
        """Say whether the record holds the ballot a receipt names. The receipt arrives as an
        argument and the answer goes to the browser only (see the class docstring)."""
        receipt = str(form.get("receipt") or "").strip()
        if not receipt:
            yield receipt_answer.push(tr(self.lang, "Enter a receipt to check."))
            return
        self.checking = True
        yield
        try:
            _found, message = await self._call(
                receipt_in_record, poll_id=self.poll_number, receipt=receipt, lang=self.lang
            )
        except NotAuthenticated:
            self.checking = False
            yield login_redirect(self.router.url.path)
            return
        except ServiceError as exc:
            message = exc.in_language(self.lang)
        self.checking = False
        yield receipt_answer.push(tr(self.lang, message))


def _grid_table(table: rx.Var) -> rx.Component:
    """One of the method's tables (``methods.Table``: caption, header, rows of text)."""
    header = table["header"].to(list[str])
    rows = table["rows"].to(list[list[str]])
    # The caption, the header's first cell and the label rows' first cells are msgids; the other
    # cells are figures and option texts, shown as they are.
    label_rows = rx.cond(table.to(dict).contains("label_rows"), table["label_rows"], []).to(list[int])
    caption = t_value(table["caption"].to(str))

    def cell(text: rx.Var, column: rx.Var, row: rx.Var) -> rx.Component:
        return rx.table.cell(rx.cond((column == 0) & label_rows.contains(row), t_value(text), text))

    # The caption sits above the box that scrolls: inside a table wider than a phone it would be
    # cut off with the table. The scroll region around the table is named by the same words.
    return rx.box(
        rx.text(caption, as_="p", weight="bold", size="2", padding_y="0.5rem", aria_hidden="true"),
        rx.box(
            rx.table.root(
                rx.table.header(rx.table.row(rx.foreach(
                    header, lambda h, i: rx.table.column_header_cell(rx.cond(i == 0, t_value(h), h))
                ))),
                rx.table.body(rx.foreach(rows, lambda r, j: rx.table.row(rx.foreach(r, lambda c, i: cell(c, i, j))))),
                variant="surface",
                size="1",
            ),
            overflow_x="auto",
            width="100%",
            # A region that scrolls on a phone must be reachable and named for keyboard users.
            tab_index=0,
            role="region",
            aria_label=caption,
            class_name="commons-table-scroll",  # theme.css: only this box scrolls, not Radix's inside
        ),
        width="100%",
    )


def _result_row(row: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(
            rx.hstack(rx.text(row["text"]), rx.cond(row["is_winner"], rx.icon("trophy", size=14, color="var(--amber-9)")), align="center")
        ),
        rx.table.cell(number_text(row["votes"]), custom_attrs={"data-testid": "result-votes-" + row["option_id"].to_string()}),
        # The weighted total is the contract's hook: always there, shown only when weights differ.
        rx.table.cell(
            number_text(row["weight_label"]), custom_attrs={"data-testid": "result-weight-" + row["option_id"].to_string()},
            display=rx.cond(LiveResults.weighted, "table-cell", "none"),
        ),
        rx.cond(
            LiveResults.show_score,
            rx.table.cell(number_text(row["score_label"]), custom_attrs={"data-testid": "result-score-" + row["option_id"].to_string()}),
        ),
        rx.cond(
            LiveResults.show_score,
            rx.table.cell(number_text(row["mean_label"]), custom_attrs={"data-testid": "result-mean-" + row["option_id"].to_string()}),
        ),
        rx.cond(
            LiveResults.show_points,
            rx.table.cell(number_text(row["points_label"]), custom_attrs={"data-testid": "result-points-" + row["option_id"].to_string()}),
        ),
    )


def results_table() -> rx.Component:
    """Counts, weighted totals and method-specific columns (also the chart's text alternative)."""
    return rx.box(
        rx.table.root(
            rx.el.caption(
                t("The results in figures (the chart above shows the same values)"), id="results-table-caption",
                style={"textAlign": "left", "fontWeight": 600, "padding": "0.5rem 0"},
            ),
            rx.table.header(
                rx.table.row(
                    rx.table.column_header_cell(t("Option")),
                    rx.table.column_header_cell(t_value(LiveResults.first_label)),
                    rx.cond(LiveResults.weighted, rx.table.column_header_cell(t("Weighted"))),
                    rx.cond(LiveResults.show_score, rx.table.column_header_cell(t("Total score"))),
                    rx.cond(LiveResults.show_score, rx.table.column_header_cell(t("Average over all ballots"))),
                    rx.cond(LiveResults.show_points, rx.table.column_header_cell(t("Borda points"))),
                )
            ),
            rx.table.body(rx.foreach(LiveResults.rows, _result_row)),
            variant="surface",
            width="100%",
        ),
        # as layout.data_table: the box scrolls sideways on a phone and keyboard users can scroll it
        overflow_x="auto",
        width="100%",
        tab_index=0,
        role="region",
        aria_label=t("Results table"),
        class_name="commons-table-scroll",
    )


def results_chart() -> rx.Component:
    """A bar per option: weighted votes, score or Borda points."""
    return rx.recharts.bar_chart(
        rx.recharts.cartesian_grid(stroke_dasharray="3 3"),
        rx.recharts.x_axis(data_key="text"),
        rx.recharts.y_axis(allow_decimals=True),
        rx.recharts.graphing_tooltip(),
        rx.recharts.bar(data_key="chart_value", name=t("Total"), fill="var(--accent-9)", is_animation_active=False),
        data=LiveResults.rows,
        width="100%",
        height=300,
    )


def _series_bar(series: rx.Var) -> rx.Component:
    return rx.recharts.bar(
        data_key=series["key"].to(str), stack_id="round",
        # The exhausted ballots' name is a msgid; the others are option texts.
        name=rx.cond(series["key"] == "exhausted", t_value(series["name"].to(str)), series["name"].to(str)),
        fill=series["colour"].to(str), stroke="var(--color-background)", is_animation_active=False,
    )


def rounds_chart() -> rx.Component:
    """Instant runoff and STV: a stacked bar per round, one segment per option (and the exhausted
    ballots), so the eye sees ballots move from eliminated options to the others. The rounds
    table below is its text alternative."""
    return rx.box(
        rx.recharts.bar_chart(
            rx.recharts.cartesian_grid(stroke_dasharray="3 3"),
            rx.recharts.x_axis(data_key="round_" + SessionState.lang),
            rx.recharts.y_axis(allow_decimals=True),
            rx.recharts.graphing_tooltip(),
            rx.recharts.legend(),
            rx.foreach(LiveResults.rounds_series, _series_bar),
            data=LiveResults.rounds_chart,
            width="100%",
            height=320,
        ),
        width="100%",
        role="img",
        aria_label=t("Stacked bar chart: each option's votes in each round; the rounds table below gives the same figures."),
        custom_attrs={"data-testid": "rounds-chart"},
    )


def anonymous_steps_note() -> rx.Component:
    """Why an open anonymous poll's totals lag behind the ballots cast."""
    return rx.cond(
        ResultsState.anonymous & (LiveResults.status == "open"),
        rx.callout(
            t("Results of an anonymous poll move in steps of at least %(n)s ballots (the poll's anonymity "
              "threshold), so no single ballot can be told apart: ballots cast since the latest step show "
              "at the next one.", n=ResultsState.anonymity_threshold),
            icon="shield",
            color_scheme="violet",
            size="1",
            id="anonymous-steps",
            width="100%",
        ),
    )


def _download_button(text: str, what: str) -> rx.Component:
    return rx.button(rx.icon("download", size=16), text, type="button", variant="soft", size="2", on_click=ResultsState.download(what))


def receipt_check() -> rx.Component:
    """"Check your receipt": prefilled with the user's receipt (this browser's, or the server's in
    a poll that is not anonymous), answered in ``receipt-check``."""
    prefill = rx.cond(ResultsState.known_receipt != "", ResultsState.known_receipt, STORED_RECEIPT)
    return rx.form(
        rx.vstack(
            rx.el.label(t("Check your receipt"), html_for=RECEIPT_CHECK_FIELD, style={"fontWeight": 600}),
            rx.text(t("Is the ballot your receipt names in the record, and as you cast it?"), size="2", color_scheme="gray"),
            rx.flex(
                rx.input(
                    id=RECEIPT_CHECK_FIELD, name="receipt", default_value=prefill, placeholder=t("Your receipt"),
                    auto_complete="off", width="100%", max_width="24rem",
                ),
                rx.button(t("Check receipt"), type="submit", size="2", loading=ResultsState.checking),
                spacing="2",
                wrap="wrap",
                align="center",
                width="100%",
            ),
            rx.text(
                receipt_answer.value, size="2", role="status", aria_live="polite",
                custom_attrs={"data-testid": "receipt-check"},
            ),
            spacing="2",
            width="100%",
            align="start",
        ),
        on_submit=ResultsState.check_receipt,
        width="100%",
    )


def record_panel() -> rx.Component:
    """A closed poll's published ballot record: its digest, downloads, recount and receipt check."""
    poll = ResultsState.poll_number
    return rx.card(
        rx.vstack(
            rx.heading(t("Published ballot record"), size="4", as_="h2"),
            rx.text(
                t("Every counted ballot with its receipt, weight and choice — no voter, no time. Its SHA-256:"),
                size="2",
            ),
            rx.code(
                ResultsState.record_sha256, variant="soft", size="2",
                custom_attrs={"data-testid": "record-sha256"},
                style={"wordBreak": "break-all", "padding": "0.25rem 0.5rem"},
            ),
            rx.flex(
                _download_button("record.jsonl", "jsonl"),
                rx.cond(ResultsState.ranked, _download_button("record.blt", "blt")),
                _download_button("results.json", "results"),
                spacing="2",
                wrap="wrap",
            ),
            rx.text(t("Anyone can recount it with the two files (see docs/RECOUNT.md):"), size="2"),
            rx.code(
                "python -m commons_app recount poll-" + poll + "-record.jsonl --results poll-" + poll + "-results.json",
                size="2",
                style={"display": "block", "overflowWrap": "anywhere", "padding": "0.35rem 0.5rem"},
            ),
            rx.text(
                rx.cond(
                    ResultsState.ranked,
                    t("Scripts fetch the same files at %(jsonl)s and %(blt)s with a bearer token.",
                      jsonl="/api/polls/" + poll + "/record.jsonl", blt="/api/polls/" + poll + "/record.blt"),
                    t("Scripts fetch the same file at %(jsonl)s with a bearer token.", jsonl="/api/polls/" + poll + "/record.jsonl"),
                ),
                size="2",
                color_scheme="gray",
                style={"overflowWrap": "anywhere"},
            ),
            rx.divider(),
            receipt_check(),
            spacing="3",
            width="100%",
            align="start",
        ),
        width="100%",
        id="ballot-record",
    )


def closed_record() -> rx.Component:
    """The record panel once the poll is closed (fetched when it closed while shown)."""
    return rx.cond(
        LiveResults.status == "closed",
        rx.cond(
            ResultsState.record_sha256 != "",
            record_panel(),
            rx.cond(~ResultsState.record_tried, rx.box(spinner_block(), on_mount=ResultsState.load_record)),
        ),
    )


def decision_panel() -> rx.Component:
    """The poll's decision rules applied: "Quorum reached: 41 of 60 voted", "Passed with 68 %"."""
    failed = (LiveResults.quorum_met == "no") | (LiveResults.passed == "no")
    return rx.cond(
        LiveResults.decision_lines.length() > 0,
        rx.callout(
            rx.vstack(rx.foreach(live_state.decision_lines(), lambda line: rx.text(line)), spacing="1"),
            icon="gavel",
            color_scheme=rx.cond(failed, "amber", "green"),
            width="100%",
            custom_attrs={"data-testid": "decision", "data-quorum-met": LiveResults.quorum_met, "data-passed": LiveResults.passed},
        ),
    )


def live_results() -> rx.Component:
    """The results of the linked poll."""
    return rx.vstack(
        rx.text(live_state.summary_text(), size="4", weight="medium", as_="p", custom_attrs={"data-testid": "result-summary"}),
        rx.hstack(
            status_badge(LiveResults.status),
            rx.text(t("Ballots: "), rx.el.strong(number_text(LiveResults.total_ballots), custom_attrs={"data-testid": "total-ballots"})),
            rx.cond(
                LiveResults.weighted,
                rx.text(
                    t("Total weight: "),
                    rx.el.strong(number_text(LiveResults.total_weight_label), custom_attrs={"data-testid": "total-weight"}),
                ),
            ),
            rx.cond(
                LiveResults.status == "closed",
                rx.badge(rx.icon("flag", size=12), t("Final result"), color_scheme="gray", variant="soft"),
                rx.badge(rx.icon("radio", size=12), t("live"), color_scheme="green", variant="soft"),
            ),
            spacing="4",
            wrap="wrap",
            align="center",
        ),
        anonymous_steps_note(),
        rx.vstack(
            rx.heading(
                # An open anonymous poll shows no ballots until its first step, though some are cast.
                rx.cond(
                    ResultsState.anonymous & (LiveResults.status == "open") & (LiveResults.total_ballots == 0),
                    t("No results yet"),
                    t_value(LiveResults.winners_template, elected=t_value(LiveResults.winners_elected),
                            names=LiveResults.winners_names),
                ),
                size="5", as_="h2", custom_attrs={"data-testid": "winners"},
            ),
            decision_panel(),
            rx.text(t_value(LiveResults.explanation), size="2", color_scheme="gray"),
            spacing="3",
            width="100%",
        ),
        rx.foreach(LiveResults.notes, lambda n: rx.text(n, size="2", color_scheme="gray")),
        results_announcer(poll=LiveResults.poll_id, total=LiveResults.total_ballots, rows=LiveResults.rows),
        rx.cond(
            LiveResults.rounds_chart.length() > 0,
            rounds_chart(),
            # The chart is a picture of the table below it: named, and pointed to the table for its data.
            rx.box(results_chart(), width="100%", aria_label=t("Bar chart of the results"), role="img",
                   custom_attrs={"aria-describedby": "results-table-caption"}),
        ),
        results_table(),
        rx.foreach(live_state.method_lines(), lambda line: rx.callout(line, icon="swords")),
        rx.foreach(LiveResults.tables, _grid_table),
        closed_record(),
        spacing="4",
        width="100%",
        align="stretch",
    )


def results_page() -> rx.Component:
    """``/polls/[poll_id]/results``"""
    return page(
        rx.cond(
            ~ResultsState.loaded,
            spinner_block(),
            rx.cond(
                ResultsState.not_found,
                rx.callout(t("Poll not found, or you may not see it."), icon="circle_alert", color_scheme="gray", role="alert"),
                rx.vstack(
                    rx.heading(ResultsState.title, size="7", as_="h1"),
                    rx.hstack(
                        rx.badge(t_value(ResultsState.method_name), variant="soft"),
                        rx.link(t("Back to the ballot"), href="/polls/" + ResultsState.poll_number),
                        rx.link(t("Present"), href="/polls/" + ResultsState.poll_number + "/present",
                                aria_label=t("Present these results full screen")),
                        spacing="3",
                        align="center",
                    ),
                    poll_schedule(
                        ResultsState.opens_at, ResultsState.closes_at,
                        rx.cond(LiveResults.status != "", LiveResults.status, ResultsState.poll_status),
                        on_cross=ResultsState.schedule_crossed,
                    ),
                    rx.cond(
                        ResultsState.refusal != "",
                        rx.callout(t_value(ResultsState.refusal), icon="eye_off", color_scheme="amber", role="status", id="results-hidden"),
                        rx.cond(
                            LiveResults.withdrawn != "",
                            rx.callout(t_value(LiveResults.withdrawn), icon="eye_off", color_scheme="amber", role="status", id="results-withdrawn"),
                            rx.cond(
                            LiveResults.deleted,
                            rx.callout(t("This poll has been deleted."), color_scheme="red"),
                                rx.cond(LiveResults.poll_id == ResultsState.poll_number, live_results(), spinner_block()),
                            ),
                        ),
                    ),
                    spacing="4",
                    width="100%",
                    align="stretch",
                ),
            ),
        ),
    )
