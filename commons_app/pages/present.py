"""``/polls/[poll_id]/present``: a poll's live results projected in a room.

Full screen, large type, light on dark, the join link, code and QR code beside the results, and
no navigation but a small "Back" link. What it shows follows the results page's rules for the
presenter *and* the room's (``services.polls.room_refusal``): whoever reads a projector has
neither voted nor manages the poll, so an owner cannot project results the poll hides from its
voters. The tally arrives as the results page's does (``state.live``), in a room-checked watch.
"""

from __future__ import annotations

import asyncio
from typing import Any

import reflex as rx
from sqlmodel import Session

from commons_app import routes
from commons_app.i18n import t, tn, tr
from commons_app.models import User
from commons_app.services import polls
from commons_app.services import share as sharing
from commons_app.services.errors import NotAuthenticated, NotFound
from commons_app.services.results import compute_results
from commons_app.state import live as live_state
from commons_app.state.live import NO_LONGER, LiveResults, recheck, unwatch, watch, watching
from commons_app.state.session import SessionState, as_connection, login_redirect, private_state

# Colours on the dark screen (contrast against BACKGROUND): text 17.9:1, muted text 11.6:1,
# bars 9.9:1 and 11.9:1 (WCAG 1.4.11 asks 3:1 of non-text), focus ring 11.9:1.
BACKGROUND = "#0b1016"
PANEL = "#151c25"
TEXT = "#f8fafc"
MUTED = "#cbd5e1"
BAR = "#2dd4bf"
LEADING = "#fbbf24"
FOCUS = {"outline": f"3px solid {LEADING}", "outlineOffset": "3px"}
# Hidden while the page is full screen (the whole document is the full-screen element).
CHROME = {"html:fullscreen &": {"display": "none"}}
# A projected poll whose results the room may not see yet asks again this often (they may show
# once it closes, on time or by hand), for at most ROOM_WAIT_CHECKS times (6 hours).
ROOM_WAIT_SECONDS = 3.0
ROOM_WAIT_CHECKS = 7200
FULL_SCREEN_SCRIPT = (
    "document.fullscreenElement ? document.exitFullscreen() : "
    "document.documentElement.requestFullscreen?.().catch(() => {})"
)


def present_context(*, session: Session, user: User, poll_id: str) -> dict[str, Any]:
    """The poll's heading, its join details, and its results when a room may see them."""
    poll = polls.get_visible_poll(session=session, poll_id=poll_id, user=user)
    refusal = polls.room_refusal(session=session, poll=poll, user=user)
    return {
        "title": poll.title,
        "status": polls.poll_status(poll),
        "join_code": polls.join_code_of(poll),
        "anonymous": poll.anonymous,
        "refusal": refusal or "",
        "results": None if refusal else compute_results(session=session, poll=poll),
    }


@private_state
class PresentState(SessionState):
    """Whether a room may see this poll's results; the tally itself lives in LiveResults."""

    loaded: bool = False
    not_found: bool = False
    poll_number: str = ""
    title: str = ""
    status: str = ""
    anonymous: bool = False
    refusal: str = ""
    share: dict[str, str] = {}
    # Each load starts a new wait for the room's results (see ``wait_for_results``); older ones stop.
    wait_round: int = 0

    @rx.event
    async def on_load(self):  # noqa: ANN201 - Reflex event return
        """Check the presenter and the room on the server; only then watch the poll's pushes
        (as the results page does, but re-checked with the room's rule)."""
        self.loaded, self.not_found, self.refusal = False, False, ""
        self.wait_round += 1
        poll_id = routes.poll_id_from_path(self.router.url.path)
        live = await self.get_state(LiveResults)
        sid = self._socket()
        await unwatch(sid)
        try:
            ctx = await self._call(present_context, poll_id=poll_id)
        except NotAuthenticated:
            live.reset()
            return login_redirect(self.router.url.path)
        except NotFound:
            live.reset()
            self.not_found, self.loaded = True, True
            return None
        self.poll_number, self.title, self.status, self.anonymous = poll_id, ctx["title"], ctx["status"], ctx["anonymous"]
        link = sharing.poll_link(poll_id, self.router.url.origin or "")
        if self.share.get("link") != link:  # the QR code is drawn once per poll and address
            self.share = {
                "link": link, "join_code": ctx["join_code"], "qr": sharing.qr_svg_data_uri(link),
                "join_page": (self.router.url.origin or "").rstrip("/") + routes.JOIN,
            }
        if ctx["results"] is None:
            live.reset()
            self.refusal, self.loaded = tr(self.lang, ctx["refusal"]), True
            # Not closed yet: the results may become the room's (on closing): ask again now and then.
            return PresentState.wait_for_results if ctx["status"] != "closed" else None
        await watch(poll_id, sid, room=True)
        # As on the results page: an access change between the check and the watch is caught here.
        await recheck([sid])
        if watching(sid) != poll_id:
            live.reset()
            self.refusal, self.loaded = tr(self.lang, NO_LONGER), True
            return None
        live._apply(poll_id, ctx["results"])
        self.loaded = True
        return None

    @rx.event(background=True)
    async def wait_for_results(self):  # noqa: ANN201 - Reflex event return
        """While the room is refused results, check again every ``ROOM_WAIT_SECONDS`` (no tally,
        only whether one may be shown) and load the page once it may. Stops when the tab loads
        another page or this one again, or its session ends."""
        async with self:
            round_, poll_id, sid = self.wait_round, self.poll_number, self._socket()
        for _ in range(ROOM_WAIT_CHECKS):
            await asyncio.sleep(ROOM_WAIT_SECONDS)
            async with self:
                here = str(self.router.url.path).rstrip("/") == routes.present_url(poll_id)
                if self.wait_round != round_ or not here:
                    return None
            try:  # as the socket's user, without touching this state (its lock is not held here)
                refused = await as_connection(sid, room_refused, poll_id=poll_id)
            except (NotAuthenticated, NotFound):
                return None
            if not refused:
                return PresentState.on_load
        return None


def room_refused(*, session: Session, user: User, poll_id: str) -> bool:
    """Whether a room may still not see the poll's results (``polls.room_refusal``).

    Raises:
        NotFound: The user may no longer see the poll.
    """
    poll = polls.get_visible_poll(session=session, poll_id=poll_id, user=user)
    return polls.room_refusal(session=session, poll=poll, user=user) is not None


def _screen(*children: rx.Component) -> rx.Component:
    """The dark full-window canvas; its ``main`` is the skip target the rest of the app uses."""
    return rx.el.main(
        *children,
        id="main",
        tab_index=-1,
        class_name="present-screen",
        style={
            "minHeight": "100vh",
            "background": BACKGROUND,
            "color": TEXT,
            "padding": "clamp(1rem, min(2.5vw, 4vh), 3rem)",
            "display": "flex",
            "flexDirection": "column",
            "gap": "clamp(1rem, min(2vw, 3vh), 2.5rem)",
            "boxSizing": "border-box",
            "&:focus": {"outline": "none"},
        },
    )


def _chrome() -> rx.Component:
    """"Back" and "Full screen" (Escape leaves it, as browsers do): gone while full screen."""
    control = {
        "minHeight": "44px",
        "minWidth": "44px",
        "padding": "0.5rem 1rem",
        "borderRadius": "0.5rem",
        "fontSize": "1rem",
        "fontWeight": 600,
        "display": "inline-flex",
        "alignItems": "center",
        "gap": "0.5rem",
        "&:focus-visible": FOCUS,
    }
    return rx.el.div(
        rx.el.a(
            rx.icon("arrow_left", size=18, aria_hidden="true"),
            t("Back"),
            href="/polls/" + PresentState.poll_number + "/results",
            style={**control, "color": TEXT, "textDecoration": "underline", "textUnderlineOffset": "0.2em"},
        ),
        rx.el.div(
            rx.el.span(t("Press Escape to leave full screen."), style={"color": MUTED, "fontSize": "0.95rem"}),
            rx.el.button(
                rx.icon("maximize", size=18, aria_hidden="true"),
                t("Full screen"),
                type="button",
                on_click=rx.call_script(FULL_SCREEN_SCRIPT),
                style={**control, "background": TEXT, "color": BACKGROUND, "border": "none", "cursor": "pointer"},
            ),
            style={"display": "flex", "gap": "1rem", "alignItems": "center", "flexWrap": "wrap"},
        ),
        style={"display": "flex", "justifyContent": "space-between", "alignItems": "center", "gap": "1rem",
               "flexWrap": "wrap", **CHROME},
    )


def _status_line() -> rx.Component:
    """"Final result" once closed, else "Live"; and the ballot count."""
    return rx.el.p(
        rx.cond(
            LiveResults.status == "closed",
            rx.el.strong(t("Final result"), custom_attrs={"data-testid": "present-final"}, style={"color": LEADING}),
            rx.el.strong(t("Live"), style={"color": BAR}),
        ),
        rx.el.span(" · ", aria_hidden="true"),
        rx.el.span(
            tn("%(n)s ballot", "%(n)s ballots", n=LiveResults.total_ballots),
            custom_attrs={"data-testid": "present-ballots"},
        ),
        style={"fontSize": "clamp(1.25rem, min(2.2vw, 4vh), 2.75rem)", "margin": 0, "color": MUTED},
    )


def _bar(row: rx.Var) -> rx.Component:
    """One option: its text and value above a bar as long as its share of the largest value."""
    winner = row["is_winner"].to(bool)
    value = rx.cond(
        LiveResults.show_score,
        row["score_label"].to(str),
        rx.cond(LiveResults.show_points, row["points_label"].to(str), row["weight_label"].to(str)),
    )
    return rx.el.li(
        rx.el.div(
            rx.el.span(
                rx.cond(winner, rx.icon("trophy", size=28, color=LEADING, aria_hidden="true")),
                row["text"].to(str),
                style={"display": "inline-flex", "alignItems": "center", "gap": "0.5rem", "overflowWrap": "anywhere"},
            ),
            rx.el.strong(value, custom_attrs={"data-testid": "present-value-" + row["option_id"].to_string()}),
            style={"display": "flex", "justifyContent": "space-between", "alignItems": "baseline", "gap": "1rem",
                   "fontWeight": rx.cond(winner, "800", "500")},
        ),
        rx.el.div(
            rx.el.div(
                style={
                    "width": row["bar_percent"].to(float).to_string() + "%",
                    "minWidth": "0.25rem",
                    "height": "100%",
                    "background": rx.cond(winner, LEADING, BAR),
                    "borderRadius": "0.4rem",
                    "transition": "width 0.4s ease",
                },
            ),
            aria_hidden="true",
            style={"height": "clamp(0.75rem, 2.2vh, 2rem)", "background": PANEL, "borderRadius": "0.4rem", "marginTop": "0.35rem"},
        ),
        style={"fontSize": "clamp(1.25rem, min(2.6vw, 4.6vh), 3rem)", "listStyle": "none"},
    )


def _results() -> rx.Component:
    """The summary sentence, the bars and the ballot count."""
    no_step_yet = PresentState.anonymous & (LiveResults.status == "open") & (LiveResults.total_ballots == 0)
    return rx.el.section(
        _status_line(),
        # The results page's plain-language outcome: who won and why, large; how a tie was broken
        # (a longer story) below it in smaller type, so the bars stay on a projector's screen.
        rx.el.p(
            rx.cond(no_step_yet, t("No results yet"), live_state.headline_text()),
            custom_attrs={"data-testid": "present-summary"},
            role="status",
            style={"fontSize": "clamp(1.5rem, min(2.6vw, 4.8vh), 3.25rem)", "fontWeight": 700, "lineHeight": 1.2, "margin": 0,
                   "color": TEXT},
        ),
        rx.cond(
            ~no_step_yet & (live_state.tie_text() != ""),
            rx.el.p(
                live_state.tie_text(),
                custom_attrs={"data-testid": "present-ties"},
                style={"fontSize": "clamp(1rem, min(1.3vw, 2.4vh), 1.6rem)", "lineHeight": 1.35, "margin": 0,
                       "color": TEXT},
            ),
        ),
        rx.el.ul(
            rx.foreach(LiveResults.rows, _bar),
            style={"display": "flex", "flexDirection": "column", "gap": "clamp(0.75rem, 1.8vh, 1.75rem)",
                   "padding": 0, "margin": 0},
        ),
        aria_label=t("Results"),
        # In the left column (a column flexbox): no flex basis, or 28rem would become its height.
        style={"minWidth": 0, "display": "flex", "flexDirection": "column", "gap": "clamp(1rem, 2vh, 2rem)"},
    )


def _join() -> rx.Component:
    """How to vote: the QR code, the link, and the join code (not once the poll is closed)."""
    share = PresentState.share
    return rx.el.aside(
        rx.el.h2(t("Vote now"), style={"fontSize": "clamp(1.5rem, min(2.8vw, 5vh), 3.25rem)", "margin": 0}),
        rx.image(
            src=share["qr"].to(str),
            alt=t("QR code of the poll's link"),
            custom_attrs={"data-testid": "share-qr"},
            style={"width": "clamp(11rem, min(20vw, 34vh), 26rem)", "height": "auto", "aspectRatio": "1",
                   "imageRendering": "pixelated", "background": "#fff", "borderRadius": "0.5rem"},
        ),
        rx.el.p(
            t("Scan the code, or open this link:"),
            rx.el.br(),
            rx.el.span(share["link"].to(str), custom_attrs={"data-testid": "share-link"},
                       style={"color": TEXT, "fontWeight": 700, "overflowWrap": "anywhere"}),
            style={"fontSize": "clamp(1rem, 1.6vw, 1.9rem)", "margin": 0, "color": MUTED},
        ),
        rx.el.p(
            t("Or go to %(page)s and enter the code", page=share["join_page"].to(str)),
            style={"fontSize": "clamp(1rem, 1.6vw, 1.9rem)", "margin": 0, "color": MUTED, "overflowWrap": "anywhere"},
        ),
        rx.el.p(
            share["join_code"].to(str),
            custom_attrs={"data-testid": "join-code"},
            style={"fontSize": "clamp(2rem, min(3.6vw, 7vh), 5.5rem)", "fontWeight": 800, "letterSpacing": "0.08em",
                   "overflowWrap": "anywhere",
                   "margin": 0, "fontFamily": "ui-monospace, monospace", "color": LEADING},
        ),
        aria_label=t("How to vote"),
        style={"flex": "1 1 18rem", "display": "flex", "flexDirection": "column", "gap": "clamp(0.5rem, 1.5vh, 1.5rem)",
               "alignItems": "flex-start", "background": PANEL, "padding": "clamp(1rem, min(2vw, 3.5vh), 2.5rem)",
               "borderRadius": "1rem", "minWidth": 0},
    )


def _message(text: rx.Var, testid: str) -> rx.Component:
    return rx.el.p(
        text, role="status", custom_attrs={"data-testid": testid},
        style={"fontSize": "clamp(1.5rem, 3.2vw, 3.5rem)", "fontWeight": 700, "margin": 0, "color": TEXT},
    )


def _body() -> rx.Component:
    """Results (or why a room may not see them) beside how to vote."""
    showing = rx.cond(
        PresentState.refusal != "",
        _message(PresentState.refusal, "present-refusal"),
        rx.cond(
            LiveResults.withdrawn != "",
            _message(LiveResults.withdrawn, "present-refusal"),
            rx.cond(
                LiveResults.deleted,
                _message(t("This poll has been deleted."), "present-refusal"),
                rx.cond(LiveResults.poll_id == PresentState.poll_number, _results(), rx.spinner(size="3")),
            ),
        ),
    )
    # Closed: nothing to join. A refused tab has no live status: it goes by the loaded one.
    closed = rx.cond(PresentState.refusal != "", PresentState.status == "closed", LiveResults.status == "closed")
    return rx.el.div(
        rx.el.div(
            rx.el.h1(
                PresentState.title,
                style={"fontSize": "clamp(2rem, min(4.2vw, 8vh), 5.5rem)", "lineHeight": 1.1, "margin": 0,
                       "overflowWrap": "anywhere"},
            ),
            showing,
            style={"flex": "2 1 28rem", "minWidth": 0, "display": "flex", "flexDirection": "column",
                   "gap": "clamp(1rem, 2.5vh, 2.5rem)"},
        ),
        rx.cond(~closed, _join()),
        style={"display": "flex", "flexWrap": "wrap", "gap": "clamp(1.5rem, 3vw, 4rem)", "alignItems": "flex-start",
               "flex": "1"},
    )


def present_page() -> rx.Component:
    """``/polls/[poll_id]/present``"""
    return _screen(
        rx.cond(
            ~PresentState.loaded,
            rx.spinner(size="3"),
            rx.cond(
                PresentState.not_found,
                rx.fragment(
                    rx.el.h1(t("Poll not found"), style={"margin": 0}),
                    _message(t("Poll not found, or you may not see it."), "present-refusal"),
                    rx.el.a(t("Back to polls"), href=routes.POLLS, style={"color": TEXT, "minHeight": "44px",
                                                                          "display": "inline-flex", "alignItems": "center",
                                                                          "&:focus-visible": FOCUS}),
                ),
                rx.fragment(_chrome(), _body()),
            ),
        ),
    )
