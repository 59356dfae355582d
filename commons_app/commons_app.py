"""The Reflex app: pages, the REST API on the same backend, and the live-results pusher."""

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from typing import Any

import reflex as rx

from commons_app import jobs, routes
from commons_app.api.app import create_api, with_hot_paths, wrap_with_guard
from commons_app.heap import settle_worker_heap
from commons_app.i18n import N_
from commons_app.logs import configure_logging
from commons_app.pages.admin import AdminState, admin_page
from commons_app.pages.admin_outbox import OutboxAdminState
from commons_app.pages.auth import LoginState, RegisterState, login_page, register_page
from commons_app.pages.dashboard import DashboardState, dashboard_page
from commons_app.pages.edit_poll import edit_poll_page
from commons_app.pages.join import JoinState, join_page
from commons_app.pages.new_poll import NewPollState, new_poll_page
from commons_app.pages.not_found import not_found_page
from commons_app.pages.polls import PollListState, index_page, polls_page
from commons_app.pages.present import PresentState, present_page
from commons_app.pages.results import ResultsState, results_page
from commons_app.pages.vote import VoteState, invitation_page, vote_page
from commons_app.redis_client import warm_redis_pool
from commons_app.state import connections, live, throttle
from commons_app.state.session import SessionState

logger = logging.getLogger("commons.app")

STYLE = {
    ".commons-select": {
        "padding": "0.45rem 0.6rem",
        "borderRadius": "var(--radius-2)",
        "border": "1px solid var(--gray-a7)",
        "background": "var(--color-surface)",
        "color": "var(--gray-12)",
        "fontSize": "var(--font-size-2)",
        "maxWidth": "100%",
    },
    "input[type=radio], input[type=checkbox]": {"accentColor": "var(--accent-9)"},
}

configure_logging()


class CommonsApp(rx.App):
    """Reflex's app, with the REST ballot's hot path in front of Reflex's own layers."""

    def __call__(self) -> Any:
        """The backend's ASGI app, as granian serves it."""
        return with_hot_paths(super().__call__())


app = CommonsApp(
    theme=rx.theme(accent_color="teal", radius="medium"),
    style=STYLE,
    # assets/theme.css: WCAG AA colours, focus ring, 44 px targets on phones, skip link, print.
    stylesheets=["/theme.css"],
    html_lang="en",
    toaster=rx.toast.provider(visible_toasts=1),  # only the current toast, not a pile
    api_transformer=[create_api(), wrap_with_guard],
    head_components=[rx.el.meta(name="description", content="The Commons: open voting with live results")],
)

app.add_page(index_page, route=routes.INDEX, title=N_("The Commons"), on_load=SessionState.check_session)
app.add_page(login_page, route=routes.LOGIN, title=N_("Log in · The Commons"), on_load=LoginState.redirect_if_signed_in)
app.add_page(register_page, route=routes.REGISTER, title=N_("Register · The Commons"), on_load=RegisterState.redirect_if_signed_in)
app.add_page(polls_page, route=routes.POLLS, title=N_("Polls · The Commons"), on_load=[SessionState.require_login, PollListState.on_load])
app.add_page(new_poll_page, route=routes.NEW_POLL, title=N_("New poll · The Commons"), on_load=NewPollState.on_load)
# No log-in guard: VoteState.on_load checks the session first, then serves a signed-in voter, a
# link poll's guest (no account needed) or a logged-out visitor's read-only preview.
app.add_page(edit_poll_page, route=routes.EDIT_POLL, title=N_("Edit poll · The Commons"), on_load=SessionState.require_login)
app.add_page(vote_page, route=routes.VOTE, title=N_("Vote · The Commons"), on_load=[SessionState.check_session, VoteState.on_load])
app.add_page(invitation_page, route=routes.INVITATION, title=N_("Your ballot · The Commons"), on_load=VoteState.open_invitation)
app.add_page(results_page, route=routes.RESULTS, title=N_("Results · The Commons"), on_load=[SessionState.require_login, ResultsState.on_load])
app.add_page(present_page, route=routes.PRESENT, title=N_("Present · The Commons"), on_load=[SessionState.require_login, PresentState.on_load])
app.add_page(dashboard_page, route=routes.DASHBOARD, title=N_("Dashboard · The Commons"), on_load=[SessionState.require_login, DashboardState.on_load])
app.add_page(join_page, route=routes.JOIN, title=N_("Join a poll · The Commons"), on_load=JoinState.on_load)
app.add_page(not_found_page, route="404", title=N_("Page not found · The Commons"), on_load=SessionState.check_session)
app.add_page(admin_page, route=routes.ADMIN, title=N_("Admin · The Commons"), on_load=[SessionState.require_login, AdminState.on_load, OutboxAdminState.on_load])

live.install(app)
connections.install(app)
throttle.install(app)
# The job worker (outbox sends, polls closing on time, periodic jobs) starts and stops with the app.
app.register_lifespan_task(jobs.app_lifespan)


@contextlib.asynccontextmanager
async def _freeze_start_heap() -> AsyncIterator[None]:
    """Keep what the worker loaded at start (modules, pages, Reflex's state classes: hundreds of
    thousands of objects) out of the garbage collector's full passes, which otherwise walked all of
    it about once a second under load and stopped the worker for 20-110 ms each time, every
    request in flight waiting (the REST ballots' p99, ``bench.side_by_side``). Then collect the
    young generation less often (``heap.settle_worker_heap``)."""
    logger.info("worker heap settled", extra={**settle_worker_heap(), "pid": os.getpid()})
    yield


app.register_lifespan_task(_freeze_start_heap)


@contextlib.asynccontextmanager
async def _open_worker_connections() -> AsyncIterator[None]:
    """Open Reflex's Redis connections for the tabs' states in the background at start rather
    than in the middle of the first burst of events (``redis_client.warm_redis_pool``).

    (The ballot path's PostgreSQL connections are not opened ahead: each instance's share,
    ``DB_CONNECTIONS``, is a ceiling that lazily opened pools rarely reach, and opening it whole
    took the test suite's instances together past PostgreSQL's 100 connections.)"""

    async def open_all() -> None:
        redis = getattr(app._state_manager, "redis", None)
        state = await warm_redis_pool(redis.connection_pool) if redis is not None else 0
        # The loop too: granian runs its workers on uvloop when it is installed (requirements.txt).
        loop = type(asyncio.get_running_loop())
        logger.info("worker connections opened", extra={
            "redis": state, "loop": f"{loop.__module__}.{loop.__name__}", "pid": os.getpid()})

    task = asyncio.create_task(open_all())
    yield
    if not task.done():
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


app.register_lifespan_task(_open_worker_connections)
