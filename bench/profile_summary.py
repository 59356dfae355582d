"""Summarise a py-spy ``--format raw`` record (collapsed stacks): own time and inclusive time per
function, as shares of the samples that pass ``--within`` (a substring of some frame).

    .venv/bin/python -m bench.profile_summary prof.raw [--within RequestGuard.__call__] [--top 30]
"""

from __future__ import annotations

import argparse
import collections


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").strip().split("\n")[0])
    parser.add_argument("record")
    parser.add_argument("--within", default="", help="count only the samples with a frame containing this")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args(argv)
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = everything = 0
    with open(args.record) as lines:
        for line in lines:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if not count.isdigit():
                continue
            frames = stack.split(";")
            everything += int(count)
            if args.within and not any(args.within in f for f in frames):
                continue
            total += int(count)
            own[frames[-1]] += int(count)
            for name in {f.split(" (")[0] + " (" + f.rsplit("/", 1)[-1].split(":")[0] for f in frames}:
                inclusive[name] += int(count)
    print(f"{total} of {everything} samples{' within ' + args.within if args.within else ''}")
    print("own time:")
    for name, count in own.most_common(args.top):
        print(f"  {100 * count / total:5.1f}%  {name[:140]}")
    print("inclusive:")
    for name, count in inclusive.most_common(args.top * 2):
        print(f"  {100 * count / total:5.1f}%  {name[:140]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
