"""What Reflex's per-event state handling costs for the vote page: lock, load and save.

Runs in process against a Redis database (no server, no browser): fills the vote page's states
for ``--tabs`` client tokens, then for each token does what Reflex does around every event
(``StateManagerRedis.modify_state``: lock ``SET NX``, one ``MGET`` of the states the handler
needs, unpickling, the fenced-save script, release), for ``VoteState``'s token and, to compare,
for ``SessionState``'s and the root state's. Prints CPU and wall time per event, which states a
``VoteState`` event loads, and what computing a delta of a submit's changes costs.

    .venv/bin/python -m bench.ws_state_cost [--tabs 200] [--redis redis://127.0.0.1:6379/12]

The keys it writes expire like Reflex's (``token_expiration``); use a Redis database of your own.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("COMMONS_ENV", "test")
os.environ.setdefault("SECRET_KEY", "bench-" + "x" * 40)


async def measure(redis_url: str, tabs: int) -> None:
    import redis.asyncio as aredis
    from reflex.istate.manager.redis import StateManagerRedis
    from reflex.istate.manager.token import BaseStateToken
    from reflex.state import State

    import commons_app.commons_app  # noqa: F401 - every state class registered
    from commons_app.pages.vote import VoteState
    from commons_app.state.session import SessionState

    manager = StateManagerRedis(redis=aredis.Redis.from_url(redis_url))
    tokens = [str(uuid.uuid4()) for _ in range(tabs)]
    options = [{"id": i, "text": f"Option {i}"} for i in range(5)]
    ctx = {"poll_id": "bench", "title": "A poll", "description": "words " * 20, "method": "single",
           "rules": ["a rule"] * 3, "has_voted": False, "status": "open"}
    for token in tokens:  # a vote page as its on_load leaves it
        async with manager.modify_state(BaseStateToken(ident=token, cls=VoteState)) as root:
            vote = await root.get_state(VoteState)
            vote.ctx, vote.options = ctx, options
            vote.share = {"link": "http://localhost/p/bench", "qr": "data:image/svg+xml;base64," + "A" * 2500}
            (await root.get_state(SessionState)).username = "voter"
    loaded = sorted(c.get_full_name().rsplit(".", 1)[-1] for c in manager._get_required_state_classes(VoteState, subclasses=True))
    print(f"states loaded for a VoteState event: {len(loaded)}: {', '.join(loaded)}")
    for label, cls in (("VoteState", VoteState), ("SessionState", SessionState), ("root State", State)):
        cpu, wall = time.process_time(), time.perf_counter()
        for token in tokens:
            async with manager.modify_state(BaseStateToken(ident=token, cls=cls)) as root:
                state = await root.get_state(cls)
                if cls is VoteState:
                    state.busy = not state.busy  # a change, so that the save writes
        print(f"{label:>12} token: lock + load + save {(time.process_time() - cpu) / tabs * 1000:.2f} ms CPU, "
              f"{(time.perf_counter() - wall) / tabs * 1000:.2f} ms wall per event")
    async with manager.modify_state(BaseStateToken(ident=tokens[0], cls=VoteState)) as root:
        vote = await root.get_state(VoteState)
        cpu = time.process_time()
        for i in range(tabs):
            vote.ctx, vote.options, vote.form_key = dict(ctx, has_voted=bool(i % 2)), options, vote.form_key + 1
            await root._get_resolved_delta()
            root._clean()
        print(f"delta of a submit's changes: {(time.process_time() - cpu) / tabs * 1000:.3f} ms CPU")
    await manager.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tabs", type=int, default=200)
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/12"))
    args = parser.parse_args()
    asyncio.run(measure(args.redis, args.tabs))


if __name__ == "__main__":
    main()
