"""The garbage collector's settings for a server worker (run at each worker's start by
``commons_app.commons_app._freeze_start_heap``)."""

from __future__ import annotations

import gc

# Allocations (of objects the collector tracks) between two young collections; CPython's default
# is 700. A worker holding thousands of websockets keeps millions of objects alive, and a push
# to all of them allocates frames, futures and tasks that live for a fraction of a second. With
# young collections every 700 allocations those in-flight objects were collected while still in
# use, and promoted; the promotions then set off a full collection every 2-3 s, which walked the
# whole heap for 490-640 ms (nothing to free) while every tab and request of that worker waited.
# With 50,000 they die before a collection sees them: no full collection in a 20 s burst at
# 5,000 viewers (docs/BENCHMARKS.md, "Live fan-out").
YOUNG_THRESHOLD = 50_000


def settle_worker_heap() -> dict[str, object]:
    """Keep what the worker loaded at start out of full collections (``gc.freeze``) and collect the
    young generation less often. Returns what was set, for the worker's start-up log line."""
    gc.collect()
    gc.freeze()
    _young, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
    return {"frozen": gc.get_freeze_count(), "gc_threshold": list(gc.get_threshold())}
