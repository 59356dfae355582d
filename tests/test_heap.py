"""``heap.settle_worker_heap``: what a server worker does to its garbage collector at start.

A worker with thousands of websockets holds a large heap of long-lived objects, and each push
allocates, for every socket, objects that live a fraction of a second. The attack on latency was
the collector itself: its young collections promoted those in-flight objects, and the promotions
set off full collections of the whole heap (490-640 ms each with 2,500 sockets per worker, every
2-3 s: docs/BENCHMARKS.md, "Live fan-out"). Each scenario runs in a fresh interpreter, so that the
test process's own heap and settings play no part."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SCENARIO = r"""
import collections, gc, json, sys
from commons_app.heap import settle_worker_heap

settled = settle_worker_heap() if sys.argv[1] == "settled" else None
# What the worker comes to hold after start: many long-lived objects (the sockets' state).
held = [[[] for _ in range(10)] for _ in range(100_000)]
full = []
gc.callbacks.append(lambda phase, info: full.append(1) if phase == "stop" and info["generation"] == 2 else None)
# Pushes: each allocates objects that stay alive while the next ones are sent.
in_flight = collections.deque(maxlen=3)
for _ in range(200):
    in_flight.append([[] for _ in range(5_000)])
print(json.dumps({"full_collections": len(full), "settled": settled, "threshold": list(gc.get_threshold())}))
"""


def run(mode: str) -> dict:
    done = subprocess.run([sys.executable, "-c", SCENARIO, mode], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=True)
    return json.loads(done.stdout)


def test_short_lived_objects_over_a_large_heap_set_off_no_full_collection():
    settled = run("settled")
    assert settled["threshold"][0] == 50_000
    assert settled["settled"]["frozen"] > 0  # what the interpreter had loaded is kept out of full passes
    assert settled["full_collections"] == 0


def test_with_the_default_settings_the_same_work_runs_full_collections():
    # The same scenario without the worker's settings: the case the settings exist for.
    default = run("default")
    assert default["threshold"][0] == 700
    assert default["full_collections"] >= 1
