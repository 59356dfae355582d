"""The live push's room emit (``state.live._queue_to_room``) on python-socketio's real server,
manager and packet classes: the members of the room get the packet python-socketio's own emit
would send, encoded once; other rooms, other namespaces and closed sockets get nothing.

The whole path (a results page in a browser receiving pushes) is in ``tests/browser/test_live.py``."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import socketio
from engineio import packet as eio_packet

from commons_app.state.live import _queue_to_room
from tests import aio

NAMESPACE = "/_event"


class FakeSocket:
    """What the emit touches of an engine.io socket: its send queue and whether it is closed."""

    def __init__(self, closed: bool = False) -> None:
        self.queue: asyncio.Queue = asyncio.Queue()
        self.closed = closed

    def sent(self) -> list[eio_packet.Packet]:
        out = []
        while not self.queue.empty():
            out.append(self.queue.get_nowait())
        return out


async def _scenario() -> None:
    server = socketio.AsyncServer(async_mode="asgi")
    namespace = socketio.AsyncNamespace(NAMESPACE)
    server.register_namespace(namespace)
    sockets: dict[str, FakeSocket] = {}
    sids: dict[str, str] = {}
    for name, closed in (("a", False), ("b", False), ("gone", True), ("other", False)):
        eio_sid = f"eio-{name}"
        sockets[eio_sid] = FakeSocket(closed)
        sids[name] = await server.manager.connect(eio_sid, NAMESPACE)
    for name in ("a", "b", "gone"):
        await server.manager.enter_room(sids[name], NAMESPACE, "live-poll-7")
    await server.manager.enter_room(sids["other"], NAMESPACE, "live-poll-8")
    server.eio.sockets = sockets  # the engine.io sockets, by their engine.io sid

    data = {"delta": {"state.live_results": {"total_ballots_rx_state_": 3, "label": "é"}}}
    assert _queue_to_room(namespace, "event", data, "live-poll-7") is True

    expected = eio_packet.Packet(
        eio_packet.MESSAGE,
        server.packet_class(socketio.packet.EVENT, namespace=NAMESPACE, data=["event", data]).encode(),
    ).encode()
    got_a, got_b = sockets["eio-a"].sent(), sockets["eio-b"].sent()
    assert [p.encode() for p in got_a] == [expected]
    assert [p.encode() for p in got_b] == [expected]
    assert got_a[0] is got_b[0]  # one packet, encoded once, for every member
    assert sockets["eio-gone"].sent() == []
    assert sockets["eio-other"].sent() == []
    # A room with nobody in it on this worker: nothing to do, and still handled.
    assert _queue_to_room(namespace, "event", data, "live-poll-9") is True


def test_room_emit_queues_one_encoded_packet_for_each_open_member() -> None:
    aio.run(_scenario())


def test_room_emit_declines_without_socketio_internals() -> None:
    # A namespace that is not attached to a python-socketio server: the caller emits normally.
    assert _queue_to_room(SimpleNamespace(), "event", {}, "live-poll-1") is False
