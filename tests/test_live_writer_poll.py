"""engine.io's websocket writer waits for its socket's next packets with ``state.live``'s
``_poll_with_timeout`` (``asyncio.timeout`` instead of a task per frame): the same packets, in
the same order, as python-engineio's own ``AsyncSocket.poll``, the same end on ``None``, and the
same ``QueueEmpty`` when nothing comes within the ping interval and timeout."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from engineio import exceptions as eio_exceptions
from engineio.async_socket import AsyncSocket

from commons_app.state import live
from tests import aio


def _socket(ping_interval: float = 0.05, ping_timeout: float = 0.05) -> SimpleNamespace:
    return SimpleNamespace(queue=asyncio.Queue(), server=SimpleNamespace(ping_interval=ping_interval, ping_timeout=ping_timeout))


def _engineio_poll():
    """python-engineio's own poll (the class may already be patched by the app's install)."""
    live._install_writer_poll()
    assert live._engineio_poll is not None and live._engineio_poll is not live._poll_with_timeout
    return live._engineio_poll


SEQUENCES = [["a"], ["a", "b", "c"], [None], ["a", None, "b"], ["a", "b", None]]


@pytest.mark.parametrize("queued", SEQUENCES, ids=lambda q: "-".join(map(str, q)))
def test_the_same_packets_as_engineio_for_what_is_queued(queued):
    async def drain(poll):
        socket = _socket()
        for item in queued:
            socket.queue.put_nowait(item)
        first = await poll(socket)
        rest = [socket.queue.get_nowait() for _ in range(socket.queue.qsize())]
        return first, rest

    assert aio.run(drain(live._poll_with_timeout)) == aio.run(drain(_engineio_poll()))


def test_it_waits_for_a_packet_that_comes_later():
    async def scenario():
        socket = _socket(ping_interval=5, ping_timeout=5)
        asyncio.get_running_loop().call_later(0.05, socket.queue.put_nowait, "late")
        return await live._poll_with_timeout(socket)

    assert aio.run(scenario()) == ["late"]


def test_nothing_within_the_ping_window_is_queue_empty_as_in_engineio():
    async def scenario(poll):
        try:
            await poll(_socket())
        except eio_exceptions.QueueEmpty:
            return "QueueEmpty"
        return "returned"

    assert aio.run(scenario(live._poll_with_timeout)) == aio.run(scenario(_engineio_poll())) == "QueueEmpty"


def test_the_app_installs_it_for_every_websocket_writer():
    live._install_writer_poll()
    assert AsyncSocket.poll is live._poll_with_timeout
