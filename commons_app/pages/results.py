"""``/polls/[poll_id]/results``: live results for viewers the server has allowed to see them."""

from __future__ import annotations

from typing import Any

import reflex as rx
from sqlmodel import Session

from commons_app.components.layout import page, spinner_block, status_badge
from commons_app.models import User
from commons_app.pages.polls import METHOD_NAMES
from commons_app.services import polls
from commons_app.services.errors import NotAuthenticated, NotFound
from commons_app.services.results import compute_results, results_refusal
from commons_app.state.live import LiveResults, unwatch, watch
from commons_app.state.session import SessionState, login_redirect, private_state


def results_context(*, session: Session, user: User, poll_id: int) -> dict[str, Any]:
    """The poll's heading, and its results when this user may see them."""
    poll = polls.get_visible_poll(session=session, poll_id=poll_id, user=user)
    refusal = results_refusal(session=session, poll=poll, user=user)
    return {
        "title": poll.title,
        "method_name": METHOD_NAMES.get(poll.method, poll.method),
        "refusal": refusal or "",
        "results": None if refusal else compute_results(session=session, poll=poll),
    }


@private_state
class ResultsState(SessionState):
    """Whether this viewer may see the poll's results; the tally itself lives in LiveResults."""

    loaded: bool = False
    not_found: bool = False
    poll_number: int = 0
    title: str = ""
    method_name: str = ""
    refusal: str = ""

    def _poll_id(self) -> int:
        parts = str(self.router.url.path).rstrip("/").split("/")
        raw = parts[-2] if len(parts) >= 2 else ""
        return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 18 else 0

    @rx.event
    async def on_load(self):  # noqa: ANN201 - Reflex event return
        """Check the viewer on the server; only then put the tab among the poll's watchers, which
        receive every live push (see ``state.live``). A viewer who may not see results is never
        a watcher, so they receive nothing."""
        self.loaded, self.not_found, self.refusal = False, False, ""
        poll_id = self._poll_id()
        live = await self.get_state(LiveResults)
        sid = self.router.session.session_id  # this tab's socket
        if live.poll_id and live.poll_id != poll_id:
            await unwatch(live.poll_id, sid)
        try:
            ctx = await self._call(results_context, poll_id=poll_id)
        except NotAuthenticated:
            await unwatch(poll_id, sid)
            return login_redirect(self.router.url.path)
        except NotFound:
            await unwatch(poll_id, sid)
            live.reset()
            self.not_found, self.loaded = True, True
            return None
        self.poll_number = poll_id
        self.title, self.method_name, self.refusal = ctx["title"], ctx["method_name"], ctx["refusal"]
        if ctx["results"] is None:
            await unwatch(poll_id, sid)
            live.reset()
            self.loaded = True
            return None
        # A push published between the read above and this line would be missed until the next
        # one; pushes re-read the database and follow every change within the window, so the
        # next change corrects it.
        await watch(poll_id, sid)
        live.apply(poll_id, ctx["results"])
        self.loaded = True
        return None


def _grid_table(header: rx.Var, rows: rx.Var, caption: str) -> rx.Component:
    return rx.box(
        rx.table.root(
            rx.el.caption(caption, style={"textAlign": "left", "fontWeight": 600, "padding": "0.5rem 0"}),
            rx.table.header(rx.table.row(rx.foreach(header, lambda h: rx.table.column_header_cell(h)))),
            rx.table.body(rx.foreach(rows, lambda r: rx.table.row(rx.foreach(r, lambda c: rx.table.cell(c))))),
            variant="surface",
            size="1",
        ),
        overflow_x="auto",
        width="100%",
    )


def _result_row(row: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(
            rx.hstack(rx.text(row["text"]), rx.cond(row["is_winner"], rx.icon("trophy", size=14, color="var(--amber-9)")), align="center")
        ),
        rx.table.cell(row["votes"], custom_attrs={"data-testid": "result-votes-" + row["option_id"].to_string()}),
        rx.table.cell(row["weight_label"], custom_attrs={"data-testid": "result-weight-" + row["option_id"].to_string()}),
        rx.cond(
            (LiveResults.method == "score") | (LiveResults.method == "star"),
            rx.table.cell(row["score_label"].to(str) + " (mean " + row["mean_label"].to(str) + ")", custom_attrs={"data-testid": "result-score-" + row["option_id"].to_string()}),
        ),
        rx.cond(LiveResults.method == "borda", rx.table.cell(row["points_label"], custom_attrs={"data-testid": "result-points-" + row["option_id"].to_string()})),
    )


def results_table() -> rx.Component:
    """Counts, weighted totals and method-specific columns."""
    first_label = rx.match(
        LiveResults.method,
        ("approval", "Approvals"),
        ("irv", "First preferences"),
        ("schulze", "First preferences"),
        ("borda", "First preferences"),
        ("score", "Ballots scoring it"),
        ("star", "Ballots scoring it"),
        "Votes",
    )
    return rx.box(
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    rx.table.column_header_cell("Option"),
                    rx.table.column_header_cell(first_label),
                    rx.table.column_header_cell("Weighted"),
                    rx.cond(
                        (LiveResults.method == "score") | (LiveResults.method == "star"),
                        rx.table.column_header_cell("Score"),
                    ),
                    rx.cond(LiveResults.method == "borda", rx.table.column_header_cell("Borda points")),
                )
            ),
            rx.table.body(rx.foreach(LiveResults.rows, _result_row)),
            variant="surface",
            width="100%",
        ),
        overflow_x="auto",
        width="100%",
    )


def results_chart() -> rx.Component:
    """A bar per option: weighted votes, score or Borda points."""
    return rx.recharts.bar_chart(
        rx.recharts.cartesian_grid(stroke_dasharray="3 3"),
        rx.recharts.x_axis(data_key="text"),
        rx.recharts.y_axis(allow_decimals=True),
        rx.recharts.graphing_tooltip(),
        rx.recharts.bar(data_key="chart_value", name="Total", fill="var(--accent-9)", is_animation_active=False),
        data=LiveResults.rows,
        width="100%",
        height=300,
    )


def live_results() -> rx.Component:
    """The results of the linked poll."""
    return rx.vstack(
        rx.hstack(
            status_badge(LiveResults.status),
            rx.text("Ballots: ", rx.el.strong(LiveResults.total_ballots, custom_attrs={"data-testid": "total-ballots"})),
            rx.text("Total weight: ", rx.el.strong(LiveResults.total_weight_label, custom_attrs={"data-testid": "total-weight"})),
            rx.badge(rx.icon("radio", size=12), "live", color_scheme="green", variant="soft"),
            spacing="4",
            wrap="wrap",
            align="center",
        ),
        rx.heading(LiveResults.winners_label, size="5", as_="h2", custom_attrs={"data-testid": "winners"}),
        rx.foreach(LiveResults.notes, lambda n: rx.text(n, size="2", color_scheme="gray")),
        rx.box(results_chart(), width="100%", aria_label="Bar chart of the results", role="img"),
        results_table(),
        rx.cond(LiveResults.runoff_label != "", rx.callout(LiveResults.runoff_label, icon="swords")),
        rx.cond(
            LiveResults.rounds_rows.length() > 0,
            _grid_table(LiveResults.rounds_header, LiveResults.rounds_rows, "Instant-runoff rounds (✗ = eliminated)"),
        ),
        rx.cond(
            LiveResults.matrix_rows.length() > 0,
            _grid_table(LiveResults.matrix_header, LiveResults.matrix_rows, "Pairwise preferences (row preferred over column)"),
        ),
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
                rx.callout("Poll not found, or you may not see it.", icon="circle_alert", color_scheme="gray", role="alert"),
                rx.vstack(
                    rx.heading(ResultsState.title, size="7", as_="h1"),
                    rx.hstack(
                        rx.badge(ResultsState.method_name, variant="soft"),
                        rx.link("Back to the ballot", href="/polls/" + ResultsState.poll_number.to_string()),
                        spacing="3",
                        align="center",
                    ),
                    rx.cond(
                        ResultsState.refusal != "",
                        rx.callout(ResultsState.refusal, icon="eye_off", color_scheme="amber", role="status", id="results-hidden"),
                        rx.cond(
                            LiveResults.deleted,
                            rx.callout("This poll has been deleted.", color_scheme="red"),
                            rx.cond(LiveResults.poll_id == ResultsState.poll_number, live_results(), spinner_block()),
                        ),
                    ),
                    spacing="4",
                    width="100%",
                    align="stretch",
                ),
            ),
        ),
    )
