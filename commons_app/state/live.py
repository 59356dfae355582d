"""Live results: a coalescing pusher that sends each poll's tally to the tabs watching it.

A committed ballot change calls :func:`on_poll_changed` (through ``services.notify``). The first
change in a quiet poll claims a short window (in Redis when configured, so all workers and
instances share it, else in memory); when the window ends, the claimer releases it, re-tallies the
poll from the database and publishes the result once (:func:`publish`): over Redis to every worker
of every instance, each of which emits it in one packet to the poll's Socket.IO room — the tabs
whose results page checked, on the server, that they may see the results (:func:`watch`). Changes
during the window ride along: the release happens before the database is read, so nothing
committed before the release is missed, and a change after it claims a new window. Pushes per
poll are thus bounded by the window, whatever the vote rate, and cost one message per worker
whatever the number of viewers.

Being in a poll's room follows permission all the time, on every worker: a tab joins only after
the server checked (``services.polls``: ``can_view`` and ``results_refusal``) that its socket's
session may see the results, and whatever changes that — the poll's visibility, results rule or
roll, its deletion, the session's end (log-out, idle or absolute expiry, password change,
disabling), the user's role — is announced (``services.notify``) to every worker (Redis pub/sub
when configured, else in-process), which re-checks its sockets concerned with the same rule and
takes out, at once, each one that may no longer see them. A periodic sweep catches sessions that
expire without anyone's action. A tab that navigates leaves its poll's room (see
:class:`ConnectionMiddleware`).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import os
import threading
import time
from typing import Any

import reflex as rx
from reflex.middleware import Middleware
from reflex_base.constants.state import FIELD_MARKER
from sqlmodel import Session

from commons_app import i18n, methods, metrics
from commons_app.i18n import N_, tr
from commons_app.jobs import POLL_CHANGED_CHANNEL
from commons_app.methods import _display
from commons_app.models import Poll
from commons_app.redis_client import get_async_redis, get_redis
from commons_app.services import auth, decisions, notify
from commons_app.services.errors import NotAuthenticated
from commons_app.services.polls import can_view, options_of, results_refusal, room_refusal
from commons_app.services.results import PollResults, compute_results, format_number
from commons_app.state import connections

logger = logging.getLogger("commons.live")

PUSH_INTERVAL = float(os.environ.get("LIVE_PUSH_INTERVAL", "0.25"))
# A push costs each worker a websocket frame per tab of the poll's room it holds (engine.io's
# writer, the server's send and its wake-up of the loop): in a large room the window lengthens so
# that one poll's pushes cost a worker at most this many frames a second (see push_window).
FRAMES_PER_SECOND = max(1.0, float(os.environ.get("LIVE_FRAMES_PER_SECOND", "5000")))  # 0 would divide by zero
# How often each worker checks that the sessions of its sockets are still live (expiry needs no
# one's action, so nobody announces it).
SESSION_SWEEP_SECONDS = float(os.environ.get("SESSION_SWEEP_SECONDS", "5"))
CLAIM_TTL_MS = 5000
_loop: asyncio.AbstractEventLoop | None = None
_app: Any = None
_local_claims: set[str] = set()
_due: set[str] = set()  # polls this worker will claim, or has claimed and not yet released
_claims_lock = threading.Lock()
_tasks: set[asyncio.Task] = set()
_tally_seconds: dict[str, float] = {}  # how long the last re-tally of each poll took


def _claim_key(poll_id: str) -> str:
    return f"commons:live:claim:{poll_id}"


def _claim(poll_id: str) -> bool:
    client = get_redis()
    if client is not None:
        try:
            return bool(client.set(_claim_key(poll_id), "1", nx=True, px=CLAIM_TTL_MS))
        except Exception:
            logger.warning("live claim fell back to memory for poll %s", poll_id, exc_info=True)
    with _claims_lock:
        if poll_id in _local_claims:
            return False
        _local_claims.add(poll_id)
        return True


def _release(poll_id: str) -> None:
    _due.discard(poll_id)  # first: a ballot after this point claims again (or finds the key still held)
    with _claims_lock:
        _local_claims.discard(poll_id)
    client = get_redis()
    if client is not None:
        try:
            client.delete(_claim_key(poll_id))
        except Exception:
            logger.warning("could not release live claim for poll %s", poll_id, exc_info=True)


def on_poll_changed(poll_id: str) -> None:
    """Listener for ``services.notify``: see that one coalesced push follows (callable from any
    thread, and from the event loop by the REST ballot's hot path: it never waits for Redis).

    A change needs a push whose tally starts after it. This worker tries to claim the poll (one
    push per window across the workers) once for all the changes it sees until that attempt is
    made (``_due``). The attempt comes after every such change committed: if it fails, the worker
    holding the claim releases it later, and tallies after releasing, so its push covers them.
    """
    loop = _loop
    if loop is None or loop.is_closed() or poll_id in _due:
        return
    _due.add(poll_id)
    if asyncio._get_running_loop() is loop:
        loop.call_soon(_spawn_claim, poll_id)
    else:
        loop.call_soon_threadsafe(_spawn_claim, poll_id)


def _spawn_claim(poll_id: str) -> None:
    task = asyncio.create_task(_claim_then_push(poll_id))
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


async def _claim_then_push(poll_id: str) -> None:
    try:
        claimed = await asyncio.to_thread(_claim, poll_id)  # Redis: off the event loop
    except BaseException:
        _due.discard(poll_id)
        raise
    if not claimed:
        _due.discard(poll_id)
        return
    await _push(poll_id)


def _load_results(*, session: Session, poll_id: str) -> PollResults | None:
    poll = session.get(Poll, poll_id)
    if poll is None:
        return None
    return compute_results(session=session, poll=poll, options=options_of(session=session, poll_id=poll_id))


def push_window(poll_id: str) -> float:
    """How long a claimed poll's changes are gathered before its tally is read and pushed: at least
    ``LIVE_PUSH_INTERVAL``; four times the last tally's time, so that re-tallying a huge poll takes
    at most about a fifth of a core however fast its ballots arrive; and the room's frames over
    ``LIVE_FRAMES_PER_SECOND``, so that a room of thousands of tabs does not take the worker's
    loop from everything else. The room is this worker's share of it: the tabs' sockets are spread
    over the workers, and each worker sends frames only to its own."""
    room = len(_watchers.get(poll_id, ()))
    return max(PUSH_INTERVAL, 4 * _tally_seconds.get(poll_id, 0.0), room / FRAMES_PER_SECOND)


async def _push(poll_id: str) -> None:
    from commons_app.state.session import run_service

    try:
        await asyncio.sleep(push_window(poll_id))
        await asyncio.to_thread(_release, poll_id)
        started = time.perf_counter()
        results = await run_service(_load_results, poll_id=poll_id)
        _tally_seconds[poll_id] = time.perf_counter() - started
        await publish(poll_id, results)
    except Exception:
        _release(poll_id)
        logger.exception("live push failed for poll %s", poll_id)


async def publish(poll_id: str, results: PollResults | None) -> None:
    """Send a tally to every tab watching the poll: one message to all workers of all instances
    (Redis pub/sub; in-process without Redis), and each worker emits one packet to the poll's
    Socket.IO room, i.e. its own watching sockets. No viewer's state is loaded, locked or saved.

    (The first design wrote the tally into an ``rx.SharedState`` linked per poll; Reflex then
    locked, loaded and saved every linked viewer's state in turn for each push, and a viewer
    linking sent an update to all the others: with a few hundred viewers pushes queued past
    Reflex's 10 s lock expiry and were dropped — see docs/BENCHMARKS.md, "Live fan-out".)"""
    if _app is None:
        return
    values = display_values(poll_id, results)
    message = json.dumps({"poll_id": poll_id, "values": values})
    client = get_async_redis()
    if client is not None:
        await client.publish(FANOUT_CHANNEL, message)
    else:
        await _deliver(poll_id, values)
    metrics.LIVE_PUSHES.inc()


def display_values(poll_id: str, results: PollResults | None) -> dict[str, Any]:
    """The fields of :class:`LiveResults` for a tally (None: the poll was deleted)."""
    values: dict[str, Any] = {"poll_id": poll_id}
    if results is None:
        values.update(deleted=True, rows=[], total_ballots=0)
    else:
        values.update(deleted=False, **results_display(results))
    return values


FANOUT_CHANNEL = "commons:live:fanout"
ACCESS_CHANNEL = "commons:live:access"
# This worker's watching sockets: sid -> poll, and poll -> sids.
_watching: dict[str, str] = {}
_watchers: dict[str, set[str]] = {}
# The watching sockets of presentation pages: what they show, a room sees (``room_refusal``).
_rooms: set[str] = set()
NO_LONGER = N_("You can no longer see these results.")


def _room(poll_id: str) -> str:
    return f"live-poll-{poll_id}"


def watching(sid: str) -> str | None:
    """The poll whose live results the socket receives, if any."""
    return _watching.get(sid)


def _forget(sid: str) -> str | None:
    poll_id = _watching.pop(sid, None)
    _rooms.discard(sid)
    if poll_id is not None:
        members = _watchers.get(poll_id)
        if members is not None:
            members.discard(sid)
            if not members:
                del _watchers[poll_id]
    return poll_id


async def watch(poll_id: str, sid: str, *, room: bool = False) -> None:
    """Put a tab's socket in the poll's Socket.IO room (on this worker: events run where their
    socket is), leaving any other poll's. python-socketio drops it from every room when it
    disconnects. ``room``: the tab is projected (``/present``); every re-check then applies
    ``services.polls.room_refusal`` rather than the presenter's own right."""
    namespace = _app.event_namespace if _app is not None else None
    if namespace is None or not sid:
        return
    previous = _forget(sid)
    if previous is not None and previous != poll_id:
        await namespace.leave_room(sid, _room(previous))
    _watching[sid] = poll_id
    if room:
        _rooms.add(sid)
    _watchers.setdefault(poll_id, set()).add(sid)
    await namespace.enter_room(sid, _room(poll_id))


async def unwatch(sid: str) -> None:
    """Take a tab's socket out of the room of the poll it watches, if any."""
    poll_id = _forget(sid)
    namespace = _app.event_namespace if _app is not None else None
    if poll_id is not None and namespace is not None:
        await namespace.leave_room(sid, _room(poll_id))


async def _withdraw(sid: str, message: str) -> None:
    """Stop the socket's live results now, and tell its page why (the tally is emptied)."""
    poll_id = watching(sid)
    await unwatch(sid)
    namespace = _app.event_namespace if _app is not None else None
    if poll_id is None or namespace is None:
        return
    values = {"poll_id": poll_id, "rows": [], "total_ballots": 0, "total_weight_label": "0", "winners_label": "",
              "rounds_header": [], "rounds_rows": [], "matrix_header": [], "matrix_rows": [], "runoff_label": "",
              "notes": [], "summaries": {}, "headlines": {}, "tie_texts": {}, "rounds_chart": [], "rounds_series": [], "winners_template": "",
              "winners_names": "", "winners_elected": "", "withdrawn": message}
    delta = {LiveResults.get_full_name(): {f"{k}{FIELD_MARKER}": v for k, v in values.items()}}
    await namespace.emit("event", {"delta": delta}, to=sid)


def _verdicts(*, session: Session, items: list[tuple[str, str, str, bool]]) -> dict[str, tuple[bool, str | None]]:
    """For each (sid, session id, poll, projected): whether the session is still live, and why the
    socket may no longer see the poll's results (None: it may). The rule is the services' own."""
    out: dict[str, tuple[bool, str | None]] = {}
    for sid, session_id, poll_id, projected in items:
        try:
            user = auth.identify_browser_session(session=session, session_id=session_id, touch=False).user
        except NotAuthenticated:
            out[sid] = (False, NO_LONGER)
            continue
        poll = session.get(Poll, poll_id)
        if poll is None:
            out[sid] = (True, N_("This poll has been deleted."))
        elif not can_view(session=session, poll=poll, user=user):
            out[sid] = (True, NO_LONGER)
        else:
            refusal = room_refusal if projected else results_refusal
            out[sid] = (True, refusal(session=session, poll=poll, user=user))
    return out


async def recheck(sids: list[str]) -> None:
    """Re-decide, for this worker's sockets ``sids``, whether each may still see the results it
    receives; take out at once every one that may not."""
    from commons_app.state.session import run_service

    items: list[tuple[str, str, str, bool]] = []
    for sid in sids:
        poll_id = watching(sid)
        if poll_id is None:
            continue
        connection = connections.identity_of(sid)
        if connection is None:
            await _withdraw(sid, NO_LONGER)
            continue
        items.append((sid, connection.session_id, poll_id, sid in _rooms))
    if not items:
        return
    verdicts = await run_service(_verdicts, items=items)
    for sid, (live, refusal) in verdicts.items():
        if not live:
            connections.forget(sid)
        if refusal is not None:
            await _withdraw(sid, refusal)


async def _end_sockets(sids: list[str]) -> None:
    """The sessions of these sockets ended: they act as nobody and receive nothing more."""
    for sid in sids:
        connections.forget(sid)
        if watching(sid) is not None:
            await _withdraw(sid, NO_LONGER)


async def apply_access_change(change: dict[str, Any]) -> None:
    """Act on an announced change (see ``services.notify``) for this worker's sockets."""
    if "poll_id" in change:
        await recheck(sorted(_watchers.get(change["poll_id"], ())))  # the id as the service gave it
    elif "session_ids" in change:
        await _end_sockets(connections.sockets_of(session_ids=[str(i) for i in change["session_ids"]]))
    elif "user_id" in change:
        sids = connections.sockets_of(user_id=int(change["user_id"]))
        if change.get("ended"):
            await _end_sockets(sids)
        else:
            await recheck(sids)


def on_access_changed(change: dict[str, Any]) -> None:
    """Listener for ``services.notify``'s access changes (callable from any thread): every worker
    of every instance hears it (Redis), or this one does (no Redis: it is the only one)."""
    client = get_redis()
    if client is not None:
        try:
            client.publish(ACCESS_CHANNEL, json.dumps(change))
            return
        except Exception:
            logger.warning("could not announce an access change over Redis; acting locally", exc_info=True)
    loop = _loop
    if loop is None or loop.is_closed():
        return
    loop.call_soon_threadsafe(_spawn, apply_access_change(change))


def _spawn(coro: Any) -> None:
    task = asyncio.create_task(coro)
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


async def sweep_sessions() -> None:
    """Every worker, every ``SESSION_SWEEP_SECONDS``: end the sockets whose session expired (idle
    or absolute lifetime) or whose user was disabled without an announcement reaching us."""
    from commons_app.state.session import run_service

    while True:
        await asyncio.sleep(SESSION_SWEEP_SECONDS)
        try:
            bound = connections.bound_session_ids()
            if not bound:
                continue
            ended = await run_service(auth.ended_browser_sessions, session_ids=bound)
            if ended:
                await _end_sockets(connections.sockets_of(session_ids=ended))
        except Exception:
            logger.warning("session sweep failed", exc_info=True)


async def _deliver(poll_id: str, values: dict[str, Any]) -> None:
    """Emit the tally to this worker's sockets in the poll's room (one encoded packet for all)."""
    namespace = _app.event_namespace
    if namespace is None:
        return
    delta = {LiveResults.get_full_name(): {f"{k}{FIELD_MARKER}": v for k, v in values.items()}}
    if not _queue_to_room(namespace, "event", {"delta": delta}, _room(poll_id)):
        await namespace.emit("event", {"delta": delta}, room=_room(poll_id))


def _queue_to_room(namespace: Any, event: str, data: Any, room: str) -> bool:
    """Emit to a room with the least work per socket: the packet encoded once, then put straight
    on each member's engine.io send queue (its writer task sends it). python-socketio's own room
    emit encodes once too, but creates a task per member and awaits them all; with thousands of
    watchers per worker that bookkeeping is most of a push's cost. False: not possible here (a
    binary packet, or a server without these internals), the caller emits the ordinary way."""
    from engineio import packet as eio_packet
    from socketio import packet as sio_packet

    try:
        server = namespace.server
        eio_sockets = server.eio.sockets
        encoded = server.packet_class(sio_packet.EVENT, namespace=namespace.namespace, data=[event, data]).encode()
        participants = list(server.manager.get_participants(namespace.namespace, room))
    except AttributeError:
        return False
    if not isinstance(encoded, str):
        return False
    frame = eio_packet.Packet(eio_packet.MESSAGE, encoded)
    frame.encode()  # cached: each writer sends the same string
    for _sid, eio_sid in participants:
        socket = eio_sockets.get(eio_sid)
        # A closed or closing socket is skipped, as engine.io's own send does.
        if socket is not None and not socket.closed:
            socket.queue.put_nowait(frame)
    return True


async def _poll_with_timeout(self: Any) -> list[Any]:
    """engine.io's ``AsyncSocket.poll`` (python-engineio 4.x), the same packets, with
    ``asyncio.timeout`` instead of ``asyncio.wait_for``: each websocket's writer task calls it once
    per frame, and on Python 3.11 ``wait_for`` wraps the queue's ``get`` in a task of its own. At a
    push to thousands of watching tabs that was the largest item of the writer's cost."""
    from engineio import exceptions as eio_exceptions

    queue = self.queue
    try:
        if queue.empty():
            async with asyncio.timeout(self.server.ping_interval + self.server.ping_timeout):
                first = await queue.get()
        else:
            first = queue.get_nowait()
        queue.task_done()
    except (TimeoutError, asyncio.CancelledError):
        raise eio_exceptions.QueueEmpty() from None
    if first is None:
        return []
    packets = [first]
    while True:
        try:
            pkt = queue.get_nowait()
        except asyncio.QueueEmpty:
            break
        queue.task_done()
        if pkt is None:
            queue.put_nowait(None)
            break
        packets.append(pkt)
    return packets


_engineio_poll: Any = None  # python-engineio's own, kept for the tests that compare the two


def _install_writer_poll() -> None:
    """Use :func:`_poll_with_timeout` for engine.io's websocket writers (once per process)."""
    global _engineio_poll
    from engineio.async_socket import AsyncSocket

    if AsyncSocket.poll is not _poll_with_timeout:
        _engineio_poll = AsyncSocket.poll
        AsyncSocket.poll = _poll_with_timeout  # type: ignore[method-assign]


def _channel_name(message: dict[str, Any]) -> str:
    channel = message.get("channel")
    return channel.decode() if isinstance(channel, bytes) else str(channel)


async def _deliver_loop() -> None:
    """Every worker: receive each push from Redis and emit it to its own watching sockets, and
    each access change, acting on it for its own sockets."""
    client = get_async_redis()
    if client is None:
        return
    while True:
        try:
            async with client.pubsub() as pubsub:
                await pubsub.subscribe(FANOUT_CHANNEL, ACCESS_CHANNEL, POLL_CHANGED_CHANNEL)
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    data = json.loads(message["data"])
                    channel = _channel_name(message)
                    if channel == ACCESS_CHANNEL:
                        await apply_access_change(data)
                    elif channel == POLL_CHANGED_CHANNEL:
                        # A job in a worker process changed a poll (it closed on time): push it
                        # from here (the shared claim makes one worker of all do it).
                        on_poll_changed(str(data["poll_id"]))
                    else:
                        await _deliver(str(data["poll_id"]), data["values"])
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.warning("live delivery loop failed; restarting", exc_info=True)
            await asyncio.sleep(1)


def install(app: Any) -> None:
    """Hook the pusher into the app: call once where the app is built."""
    global _app
    _app = app
    _install_writer_poll()

    async def _capture_loop() -> None:
        global _loop
        _loop = asyncio.get_running_loop()
        notify.add_listener(on_poll_changed)
        notify.add_access_listener(on_access_changed)

    app.register_lifespan_task(_capture_loop)
    app.register_lifespan_task(_deliver_loop)
    app.register_lifespan_task(sweep_sessions)
    connections.on_disconnect(_forget)
    app.add_middleware(ConnectionMiddleware(), index=0)


def results_display(results: PollResults) -> dict[str, Any]:
    """Turn a tally into the plain values the results page shows; what differs by method comes
    from the method's registry entry (columns, tables, extra lines, how winners are named)."""
    method = methods.find(results.method)
    texts = {o.option_id: o.text for o in results.options}
    outcome = {lang: methods.summary_texts(results, lang) for lang in summary_languages()}  # worded once each
    winners = set(results.winners)

    def chart_value(o: Any) -> float:
        return float(o.score if o.score is not None else o.points if o.points is not None else o.weight)

    top = max((chart_value(o) for o in results.options), default=0.0)
    rows = [
        {
            "option_id": o.option_id,
            "text": o.text,
            "votes": o.votes,
            "weight": float(o.weight),
            "weight_label": format_number(o.weight),
            "score_label": "" if o.score is None else format_number(o.score),
            "mean_label": "" if o.mean is None else format_number(round(o.mean, 2)),
            "points_label": "" if o.points is None else format_number(o.points),
            "chart_value": chart_value(o),
            # The bar's length on the presentation page: a share of the largest value.
            "bar_percent": max(0.0, round(100 * chart_value(o) / top, 2)) if top > 0 else 0.0,
            "is_winner": o.option_id in winners,
        }
        for o in results.options
    ]
    tables = [t.as_dict() for t in method.tables(results, texts)] if method and method.tables else []
    lines = method.lines(results, texts) if method and method.lines else []
    # Each language's wording too, for the methods whose lines take one (a push serves everyone).
    lines_texts = {
        lang: method.lines(results, texts, lang) if lang != i18n.DEFAULT_LANGUAGE else lines
        for lang in summary_languages()
    } if method and method.lines and _takes_language(method.lines) else {}
    winner_names = [texts[w] for w in results.winners if w in texts]
    closed = results.status == "closed"
    # The sentence as a msgid and its values: each watching tab shows it in its own language.
    if not winner_names:
        winners_template = N_("No ballots yet") if results.total_ballots == 0 else N_("No winner")
    elif method is not None and method.elected_label:  # multi-winner: in the order elected
        winners_template = N_("%(elected)s: %(names)s") if closed else N_("%(elected)s so far: %(names)s")
    elif len(winner_names) == 1:
        winners_template = N_("Winner: %(names)s") if closed else N_("Leading: %(names)s")
    else:
        winners_template = N_("Tie: %(names)s") if closed else N_("Tied so far: %(names)s")
    elected = method.elected_label if method is not None and method.elected_label else ""
    winners_label = tr("en", winners_template, elected=elected, names=", ".join(winner_names))
    chart_rows, chart_series = rounds_chart(results)
    # Worded in every language offered, as the summaries: one push serves every watcher.
    decision_texts = {
        lang: decisions.describe_decision(
            quorum_met=results.quorum_met, passed=results.passed, figures=results.decision, closed=closed, lang=lang
        )
        for lang in summary_languages()
    }
    decision_lines = decision_texts[i18n.DEFAULT_LANGUAGE]
    return {
        "method": results.method,
        "status": results.status,
        "rows": rows,
        "total_ballots": results.total_ballots,
        "total_weight_label": format_number(results.total_weight),
        "winners_label": winners_label,
        "winners_template": winners_template,
        "winners_names": ", ".join(winner_names),
        "winners_elected": elected,
        "first_label": method.first_label if method else "Votes",
        "show_score": bool(method and "score" in method.figures),
        "show_points": bool(method and "points" in method.figures),
        "tables": tables,
        "lines": lines,
        "lines_texts": lines_texts,
        "explanation": method.explanation if method else "",
        "decision_lines": decision_lines,
        "decision_texts": decision_texts,
        "quorum_met": "" if results.quorum_met is None else ("yes" if results.quorum_met else "no"),
        "passed": "" if results.passed is None else ("yes" if results.passed else "no"),
        "notes": list(results.notes),
        # The plain-language outcome in every language offered: a push goes to every watcher
        # of the poll at once, whatever language each one reads.
        "summaries": {lang: worded[0] for lang, worded in outcome.items()},
        "headlines": {lang: worded[1] for lang, worded in outcome.items()},
        "tie_texts": {lang: worded[2] for lang, worded in outcome.items()},
        "weighted": _display.is_weighted(results),
        "rounds_chart": chart_rows,
        "rounds_series": chart_series,
    }


def _takes_language(lines: Any) -> bool:
    """Whether a method's ``lines`` accepts the language as its third argument."""
    try:
        return len(inspect.signature(lines).parameters) >= 3
    except (TypeError, ValueError):
        return False


def summary_languages() -> tuple[str, ...]:
    """The languages a pushed summary is worded in: every one ``i18n`` offers, English first."""
    return tuple(dict.fromkeys([i18n.DEFAULT_LANGUAGE, *i18n.languages()]))


SERIES_COLOURS = (
    "var(--blue-9)", "var(--orange-9)", "var(--grass-9)", "var(--crimson-9)", "var(--violet-9)",
    "var(--amber-9)", "var(--cyan-9)", "var(--brown-9)",
)


def rounds_chart(results: PollResults) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """For methods counted in rounds of transfers (instant runoff, STV): one row per round with
    each option's votes in it and the exhausted ballots, for a stacked bar per round (how the
    ballots moved), and the series (an option: its key, name and colour). Empty otherwise."""
    rounds = [r for r in results.rounds or [] if isinstance(r.get("tallies", r.get("votes")), dict)]
    if not rounds:
        return [], []
    rows: list[dict[str, Any]] = []
    for i, r in enumerate(rounds):
        votes = r.get("tallies", r.get("votes")) or {}
        # The round's name in English, like ``winners_label``; the msgid lets a page word it anew.
        number = r.get("round", i + 1)
        label = tr("en", N_("Round %(n)s"), n=number)
        row: dict[str, Any] = {"round": label, "exhausted": float(r.get("exhausted", 0) or 0)}
        # ... and in every language offered (round_de ...): each viewer's axis reads its own key.
        row.update({f"round_{lang}": tr(lang, N_("Round %(n)s"), n=number) for lang in summary_languages()})
        for o in results.options:
            row[f"o{o.option_id}"] = float(votes.get(str(o.option_id), 0) or 0)
        rows.append(row)
    series = [
        {"key": f"o{o.option_id}", "name": o.text, "colour": SERIES_COLOURS[i % len(SERIES_COLOURS)]}
        for i, o in enumerate(results.options)
    ]
    series.append({"key": "exhausted", "name": N_("Exhausted"), "colour": "var(--gray-8)"})
    return rows, series


class LiveResults(rx.State):
    """The tally of the poll a tab shows: set by the results page's on_load (after the server
    checked who may see it), then replaced in the browser by each push of :func:`publish`.

    It has no event handlers of its own. ``withdrawn`` says why the tab stopped receiving the
    results (its access ended while it watched).
    """

    poll_id: str = ""
    deleted: bool = False
    method: str = ""
    status: str = ""
    rows: list[dict[str, Any]] = []
    total_ballots: int = 0
    total_weight_label: str = "0"
    winners_label: str = ""
    winners_template: str = ""
    winners_names: str = ""
    winners_elected: str = ""
    first_label: str = "Votes"
    show_score: bool = False
    show_points: bool = False
    tables: list[dict[str, Any]] = []
    lines: list[str] = []
    lines_texts: dict[str, list[str]] = {}  # language -> lines worded in it (methods that can)
    explanation: str = ""
    decision_lines: list[str] = []
    decision_texts: dict[str, list[str]] = {}  # language -> decision_lines worded in it
    quorum_met: str = ""  # "yes" / "no" / "" (no quorum rule)
    passed: str = ""  # "yes" / "no" / "" (no pass rule)
    notes: list[str] = []
    summaries: dict[str, str] = {}  # language -> the plain-language outcome (methods.summarize)
    headlines: dict[str, str] = {}  # language -> the same without its tie-breaks (methods.headline)
    tie_texts: dict[str, str] = {}  # language -> only how its ties were broken ("" without ties)
    weighted: bool = False  # some ballot weight differs from 1: show the weighted column
    rounds_chart: list[dict[str, Any]] = []  # per round: each option's votes (rounds_chart)
    rounds_series: list[dict[str, str]] = []
    withdrawn: str = ""

    def _apply(self, poll_id: str, results: PollResults | None) -> None:
        """Show a tally (None: the poll was deleted), assigning only the fields that differ."""
        for key, value in {**display_values(poll_id, results), "withdrawn": ""}.items():
            if getattr(self, key) != value:
                setattr(self, key, value)


class ConnectionMiddleware(Middleware):
    """Runs before every event of every socket (Reflex's app middleware):

    * a hydrate (a page load, a reconnect, or a replayed client token) first resets every state
      holding private data, so the full state it sends back shows none of it; the page's own
      on_load fills it again for the socket's verified user, if any;
    * a navigation (hydrate or a page's on_load) takes the tab out of the room of the poll it
      watched: only the results page's on_load puts it (back) in.
    """

    async def preprocess(self, app: Any, state: Any, event: Any) -> None:
        """Reset private states on hydrate; leave the watched poll on navigation."""
        name = str(event.name)
        hydrating = name.endswith((".hydrate", ".hydrate_and_load"))
        if hydrating:
            from commons_app.state.session import reset_private_states

            await reset_private_states(state)
        if hydrating or name.endswith(".on_load_internal"):
            sid = state.router.session.session_id
            if sid and watching(sid) is not None:
                await unwatch(sid)
        return None


def summary_text() -> rx.Var:
    """The plain-language outcome in the viewer's language (English when not worded in it); the
    results page and the presentation view show the same sentence."""
    from commons_app.state.session import SessionState

    lang = SessionState.lang
    return rx.cond(LiveResults.summaries.contains(lang), LiveResults.summaries[lang], LiveResults.summaries["en"]).to(str)


def headline_text() -> rx.Var:
    """:func:`summary_text` without how ties were broken (the presentation view's large line)."""
    from commons_app.state.session import SessionState

    lang = SessionState.lang
    return rx.cond(LiveResults.headlines.contains(lang), LiveResults.headlines[lang], LiveResults.headlines["en"]).to(str)


def tie_text() -> rx.Var:
    """How the outcome's ties were broken, in the viewer's language ("" without ties)."""
    from commons_app.state.session import SessionState

    lang = SessionState.lang
    return rx.cond(LiveResults.tie_texts.contains(lang), LiveResults.tie_texts[lang], LiveResults.tie_texts["en"]).to(str)


def method_lines() -> rx.Var:
    """The method's extra lines in the viewer's language (as they are when not worded in it)."""
    from commons_app.state.session import SessionState

    lang = SessionState.lang
    return rx.cond(LiveResults.lines_texts.contains(lang), LiveResults.lines_texts[lang], LiveResults.lines).to(list[str])


def decision_lines() -> rx.Var:
    """The decision's lines in the viewer's language (English when not worded in it)."""
    from commons_app.state.session import SessionState

    lang = SessionState.lang
    return rx.cond(
        LiveResults.decision_texts.contains(lang), LiveResults.decision_texts[lang], LiveResults.decision_lines
    ).to(list[str])
