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
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
from typing import Any

import reflex as rx
from reflex_base.constants.state import FIELD_MARKER
from sqlmodel import Session

from commons_app import metrics
from commons_app.jobs import POLL_CHANGED_CHANNEL
from commons_app.models import Poll
from commons_app.redis_client import get_async_redis, get_redis
from commons_app.services import notify
from commons_app.services.polls import options_of
from commons_app.services.results import PollResults, compute_results, format_number

logger = logging.getLogger("commons.live")

PUSH_INTERVAL = float(os.environ.get("LIVE_PUSH_INTERVAL", "0.25"))
CLAIM_TTL_MS = 5000
_loop: asyncio.AbstractEventLoop | None = None
_app: Any = None
_local_claims: set[str] = set()
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
    with _claims_lock:
        _local_claims.discard(poll_id)
    client = get_redis()
    if client is not None:
        try:
            client.delete(_claim_key(poll_id))
        except Exception:
            logger.warning("could not release live claim for poll %s", poll_id, exc_info=True)


def on_poll_changed(poll_id: str) -> None:
    """Listener for ``services.notify``: schedule one coalesced push (callable from any thread)."""
    loop = _loop
    if loop is None or loop.is_closed():
        return
    if not _claim(poll_id):
        return
    loop.call_soon_threadsafe(_spawn_push, poll_id)


def _spawn_push(poll_id: str) -> None:
    task = asyncio.create_task(_push(poll_id))
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


def _load_results(*, session: Session, poll_id: str) -> PollResults | None:
    poll = session.get(Poll, poll_id)
    if poll is None:
        return None
    return compute_results(session=session, poll=poll, options=options_of(session=session, poll_id=poll_id))


async def _push(poll_id: str) -> None:
    from commons_app.state.session import run_service

    try:
        # The window grows with the cost of a tally, so that re-tallying a huge poll takes at most
        # about a fifth of a core however fast its ballots arrive.
        await asyncio.sleep(max(PUSH_INTERVAL, 4 * _tally_seconds.get(poll_id, 0.0)))
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


def _room(poll_id: str) -> str:
    return f"live-poll-{poll_id}"


async def watch(poll_id: str, sid: str) -> None:
    """Put a tab's socket in the poll's Socket.IO room (on this worker: events run where their
    socket is). python-socketio drops it from every room when it disconnects."""
    namespace = _app.event_namespace if _app is not None else None
    if namespace is not None and sid:
        await namespace.enter_room(sid, _room(poll_id))


async def unwatch(poll_id: str, sid: str) -> None:
    namespace = _app.event_namespace if _app is not None else None
    if namespace is not None and sid:
        await namespace.leave_room(sid, _room(poll_id))


async def _deliver(poll_id: str, values: dict[str, Any]) -> None:
    """Emit the tally to this worker's sockets in the poll's room (one encoded packet for all)."""
    namespace = _app.event_namespace
    if namespace is None:
        return
    delta = {LiveResults.get_full_name(): {f"{k}{FIELD_MARKER}": v for k, v in values.items()}}
    await namespace.emit("event", {"delta": delta}, room=_room(poll_id))


def _channel_name(message: dict[str, Any]) -> str:
    channel = message.get("channel")
    return channel.decode() if isinstance(channel, bytes) else str(channel)


async def _deliver_loop() -> None:
    """Every worker: receive each push from Redis and emit it to its own watching sockets."""
    client = get_async_redis()
    if client is None:
        return
    while True:
        try:
            async with client.pubsub() as pubsub:
                await pubsub.subscribe(FANOUT_CHANNEL, POLL_CHANGED_CHANNEL)
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    data = json.loads(message["data"])
                    if _channel_name(message) == POLL_CHANGED_CHANNEL:
                        # A job in a worker process changed a poll (it closed on time): push it
                        # from here (the shared claim makes one worker of all do it).
                        on_poll_changed(str(data["poll_id"]))
                        continue
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

    async def _capture_loop() -> None:
        global _loop
        _loop = asyncio.get_running_loop()
        notify.add_listener(on_poll_changed)

    app.register_lifespan_task(_capture_loop)
    app.register_lifespan_task(_deliver_loop)


def results_display(results: PollResults) -> dict[str, Any]:
    """Turn a tally into the plain values the results page shows."""
    texts = {o.option_id: o.text for o in results.options}
    winners = set(results.winners)
    rows = [
        {
            "option_id": o.option_id,
            "text": o.text,
            "votes": o.votes,
            "weight": float(o.weight),
            "weight_label": format_number(o.weight),
            "score_label": "" if o.score is None else format_number(o.score),
            "mean_label": "" if o.mean is None else f"{o.mean:.2f}",
            "points_label": "" if o.points is None else format_number(o.points),
            "chart_value": float(o.score if o.score is not None else o.points if o.points is not None else o.weight),
            "is_winner": o.option_id in winners,
        }
        for o in results.options
    ]
    rounds_header: list[str] = []
    rounds_rows: list[list[str]] = []
    if results.method == "irv" and results.rounds:
        rounds_header = ["Option"] + [f"Round {r.get('round', i + 1)}" for i, r in enumerate(results.rounds)]
        out: set[str] = set()
        for o in results.options:
            cells = [o.text]
            for r in results.rounds:
                key = str(o.option_id)
                tallies = r.get("tallies", {})
                if key in out or key not in tallies:
                    cells.append("—")
                else:
                    cells.append(format_number(float(tallies[key])))
                if o.option_id in r.get("eliminated", []):
                    out.add(key)
                    cells[-1] += " ✗"
            rounds_rows.append(cells)
        rounds_rows.append(["Exhausted"] + [format_number(float(r.get("exhausted", 0))) for r in results.rounds])
    matrix_header: list[str] = []
    matrix_rows: list[list[str]] = []
    pairwise = results.detail.get("pairwise") if results.method == "schulze" else None
    if pairwise:
        ids = [o.option_id for o in results.options]
        matrix_header = ["Preferred over →"] + [texts[i] for i in ids]
        for a in ids:
            matrix_rows.append(
                [texts[a]] + ["—" if a == b else format_number(float(pairwise.get(str(a), {}).get(str(b), 0))) for b in ids]
            )
    runoff_label = ""
    if results.method == "star" and results.detail.get("finalists"):
        finalists = results.detail["finalists"]
        runoff = results.detail.get("runoff", {})
        parts = [f"{texts.get(int(f), f)}: {format_number(float(runoff.get(str(f), 0)))}" for f in finalists]
        runoff_label = "Automatic runoff — " + " vs ".join(parts)
        if runoff.get("no_preference"):
            runoff_label += f" (no preference: {format_number(float(runoff['no_preference']))})"
    winner_names = [texts[w] for w in results.winners if w in texts]
    if not winner_names:
        winners_label = "No ballots yet" if results.total_ballots == 0 else "No winner"
    elif len(winner_names) == 1:
        winners_label = ("Winner: " if results.status == "closed" else "Leading: ") + winner_names[0]
    else:
        winners_label = "Tie: " + ", ".join(winner_names)
    return {
        "method": results.method,
        "status": results.status,
        "rows": rows,
        "total_ballots": results.total_ballots,
        "total_weight_label": format_number(results.total_weight),
        "winners_label": winners_label,
        "rounds_header": rounds_header,
        "rounds_rows": rounds_rows,
        "matrix_header": matrix_header,
        "matrix_rows": matrix_rows,
        "runoff_label": runoff_label,
        "notes": list(results.notes),
    }


class LiveResults(rx.State):
    """The tally of the poll a tab shows: set by the results page's on_load (after the server
    checked who may see it), then replaced in the browser by each push of :func:`publish`.

    It has no event handlers of its own.
    """

    poll_id: str = ""
    deleted: bool = False
    method: str = ""
    status: str = ""
    rows: list[dict[str, Any]] = []
    total_ballots: int = 0
    total_weight_label: str = "0"
    winners_label: str = ""
    rounds_header: list[str] = []
    rounds_rows: list[list[str]] = []
    matrix_header: list[str] = []
    matrix_rows: list[list[str]] = []
    runoff_label: str = ""
    notes: list[str] = []

    def apply(self, poll_id: str, results: PollResults | None) -> None:
        """Show a tally (None: the poll was deleted), assigning only the fields that differ."""
        for key, value in display_values(poll_id, results).items():
            if getattr(self, key) != value:
                setattr(self, key, value)
