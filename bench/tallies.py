"""Benchmark and equivalence check for the pure tally functions (commons_app.services.tally).

Run from the repository root::

    .venv/bin/python bench/tallies.py            # full run: 100,000 ranked/scored ballots, 1,000,000 single-choice
    .venv/bin/python bench/tallies.py --quick    # smaller elections, fewer repeats

It does three things:

1. Equivalence on many small and medium random elections (seeded): every method of the app is
   compared with the straightforward reference implementation kept in this file (the tally code
   as it was before it was optimised, made exact: weights taken as the decimals they were written
   as and summed as Fractions, ballot by ballot, with no tolerance), including weights such as
   0.1 and 1/3, partial rankings, unknown and repeated ids, out-of-range scores, ties, and the
   errors raised for invalid input. Results must be identical: ``dataclasses.asdict`` of both results
   compared with ``==`` and by ``repr`` (same floats, winners, rounds, detail, notes and tie
   flags). Every election is run twice, once per strategy the app uses to sum weights exactly
   (per weight class, and per "limb" as used beyond ``_CLASS_LIMIT`` distinct weights).
2. Large synthetic elections (seeded; voters and options in a 2-D opinion space, so ballots have
   preference structure; about a quarter of the rankings are partial; about 4% of the ballots
   carry a weight other than 1, among them 0.3, a decimal no float holds exactly): each tally is
   run ``--repeat`` times and the median, p95 (nearest rank) and minimum wall-clock time in ms
   are printed. The machine may be shared: the load average is printed at the start and end.
3. Each large result is compared with the reference too (skip with ``--no-check``).

Exits with status 1 when any result differs from the reference, else 0. ``--impl reference``
times the reference implementation instead of the app (the "before" figures).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from commons_app.services import tally as app
from commons_app.services.tally import (
    MAX_SCORE,
    METHODS,
    TallyBallot,
)
from commons_app.services.tally.reference import REFERENCE, check_random, same_result

# ==========================================================================================
# Large synthetic elections
# ==========================================================================================


@dataclass
class Election:
    name: str
    option_ids: list[int]
    ballots: list[TallyBallot]


def synthetic(kind: str, n: int, count: int, seed: int) -> Election:
    """A structured election: voters in clusters of a 2-D opinion space, options at points in it.

    ``kind`` is ``ranked`` (partial rankings for about a quarter of the ballots), ``scored``
    (0..5 scores from the distance, some options left unscored), ``approval`` or ``single``.
    """
    rng = np.random.default_rng(seed)
    option_ids = [100 + 7 * i for i in rng.permutation(n).tolist()]
    positions = rng.normal(scale=1.2, size=(n, 2))
    appeal = rng.normal(scale=0.15, size=n)
    centres = rng.normal(scale=1.5, size=(6, 2))
    cluster = rng.choice(6, size=count, p=rng.dirichlet(np.full(6, 4.0)))
    voters = centres[cluster] + rng.normal(scale=0.9, size=(count, 2))
    utility = -np.linalg.norm(voters[:, None, :] - positions[None, :, :], axis=2) + appeal
    utility += rng.normal(scale=0.4, size=utility.shape)
    weights = np.where(rng.random(count) < 0.96, 1.0, rng.choice([2.0, 0.5, 1.5, 3.0, 0.3], size=count)).tolist()
    ids = np.array(option_ids)
    ballots: list[TallyBallot] = []
    if kind in ("ranked", "single"):
        order = ids[np.argsort(-utility, axis=1)]
        if kind == "single":
            firsts = order[:, 0].tolist()
            ballots = [TallyBallot(weight=w, choices=(c,)) for w, c in zip(weights, firsts, strict=True)]
        else:
            lengths = np.where(rng.random(count) < 0.75, n, rng.integers(1, n, size=count))
            lengths[rng.random(count) < 0.005] = 0  # a few blank ballots
            rows = order.tolist()
            ballots = [
                TallyBallot(weight=w, choices=tuple(row[:length]))
                for w, row, length in zip(weights, rows, lengths.tolist(), strict=True)
            ]
    elif kind == "approval":
        threshold = np.sort(utility, axis=1)[np.arange(count), -rng.integers(1, min(n, 4) + 1, size=count)]
        approved = utility >= threshold[:, None]
        ballots = [
            TallyBallot(weight=w, choices=tuple(ids[row].tolist())) for w, row in zip(weights, approved, strict=True)
        ]
    elif kind == "scored":
        low = utility.min(axis=1, keepdims=True)
        high = utility.max(axis=1, keepdims=True)
        scores = np.rint(MAX_SCORE * (utility - low) / (high - low)).astype(int)
        keep = rng.random((count, n)) < np.where(rng.random(count) < 0.3, 0.5, 1.0)[:, None]
        ballots = [
            TallyBallot(weight=w, scores={int(o): int(s) for o, s, k in zip(option_ids, row, mask, strict=True) if k})
            for w, row, mask in zip(weights, scores.tolist(), keep.tolist(), strict=True)
        ]
    else:
        raise ValueError(kind)
    # A handful of sloppy ballots (repeated or unknown ids), as the tally must stay robust.
    for index in rng.choice(count, size=min(count, 20), replace=False).tolist():
        b = ballots[index]
        ballots[index] = TallyBallot(weight=b.weight, choices=(*b.choices, 999_999, *b.choices[:1]), scores=b.scores)
    return Election(f"{kind} {n} options x {count:,} ballots", option_ids, ballots)


def scenarios(quick: bool) -> list[tuple[str, str, int, int]]:
    """(method, ballot kind, options, ballots) of the timed elections."""
    big = 10_000 if quick else 100_000
    single = 100_000 if quick else 1_000_000
    return [
        ("irv", "ranked", 10, big),
        ("irv", "ranked", 20, big),
        ("schulze", "ranked", 10, big),
        ("schulze", "ranked", 20, big),
        ("borda", "ranked", 10, big),
        ("borda", "ranked", 20, big),
        ("star", "scored", 10, big),
        ("score", "scored", 10, big),
        ("approval", "approval", 10, big),
        ("single", "single", 8, single),
    ]


def timings(function: Callable[[], Any], repeat: int) -> tuple[float, float, float]:
    """Median, p95 (nearest rank) and minimum wall-clock ms of ``repeat`` calls."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[max(0, math.ceil(0.95 * len(samples)) - 1)], samples[0]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 ballots (100,000 single-choice), 3 repeats")
    parser.add_argument("--repeat", type=int, help="timed runs per election (default 7, quick 3)")
    parser.add_argument("--methods", help="comma-separated methods to time (default: all)")
    parser.add_argument("--impl", choices=("app", "reference"), default="app", help="what to time")
    parser.add_argument("--no-check", action="store_true", help="skip comparing the large results with the reference")
    parser.add_argument(
        "--random", type=int, help="small random elections to compare, 0 for none (default 2000, quick 300)"
    )
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    repeat = args.repeat or (3 if args.quick else 7)
    wanted = set(args.methods.split(",")) if args.methods else set(METHODS)
    failures = 0
    print(
        f"# python {platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} cores, "
        f"impl={args.impl}, repeat={repeat}{', quick' if args.quick else ''}, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    if args.impl == "app" and args.random != 0:
        differences, lines = check_random(args.random if args.random is not None else (300 if args.quick else 2000), args.seed)
        print("\n".join(lines))
        failures += differences

    print(f"{'method':<9} {'election':<38} {'median ms':>10} {'p95 ms':>10} {'min ms':>10}  check")
    cache: dict[tuple[str, int, int], Election] = {}
    for method, kind, n, count in scenarios(args.quick):
        if method not in wanted:
            continue
        key = (kind, n, count)
        if key not in cache:
            cache[key] = synthetic(kind, n, count, seed=args.seed + n)
        election = cache[key]
        function = app.tally if args.impl == "app" else (lambda m, i, b: REFERENCE[m](i, b))
        median, p95, fastest = timings(lambda: function(method, election.option_ids, election.ballots), repeat)  # noqa: B023
        status = "-"
        if args.impl == "app" and not args.no_check:
            problem = same_result(method, election.option_ids, election.ballots)
            status = "identical" if problem is None else f"DIFFERS {problem}"
            failures += problem is not None
        print(f"{method:<9} {election.name:<38} {median:>10.1f} {p95:>10.1f} {fastest:>10.1f}  {status}", flush=True)
    print(f"# load average at the end {os.getloadavg()[0]:.1f}")
    if failures:
        print(f"FAILED: {failures} result(s) differ from the reference")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
