"""Run the fuzz corpus and print a table per mutation kind and outcome.

Usage: python -m tests.fuzz [--seed N] [--workers N] [--quick] [--kind KIND ...] [--json PATH]
Exit status 1 when any run ends in a failure class (crash, hang, oom, raw traceback, ...).
"""

from __future__ import annotations

import argparse
import json
import sys

from .mutations import plan, quick_subset
from .runner import FAILURES, Limits, counts, default_workers, run_cases, table, to_json


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fuzz", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=None, help="default: one per core")
    parser.add_argument("--quick", action="store_true", help="only the ~150-case subset")
    parser.add_argument("--kind", action="append", help="only these mutation kinds")
    parser.add_argument("--source", action="append", help="only these source files")
    parser.add_argument("--timeout", type=float, default=20.0, help="hard kill, seconds")
    parser.add_argument("--slow", type=float, default=5.0, help="a longer run fails, seconds")
    parser.add_argument("--memory-limit-gib", type=float, default=3.0, help="kill above, RSS")
    parser.add_argument("--growth-limit-gib", type=float, default=1.0, help="fail above, per run")
    parser.add_argument("--keep", metavar="FOLDER", help="write the corpus here and keep it")
    parser.add_argument("--json", metavar="PATH", help="also write every run as JSON")
    parser.add_argument(
        "--series", action="store_true", help="also open each case in a folder beside four intact siblings"
    )
    args = parser.parse_args(argv)

    cases = plan(args.seed)
    if args.quick:
        cases = quick_subset(cases)
    if args.kind:
        cases = [c for c in cases if c.kind in args.kind]
    if args.source:
        cases = [c for c in cases if c.source in args.source]
    limits = Limits(
        timeout=args.timeout,
        slow=args.slow,
        memory_limit=int(args.memory_limit_gib * 2**30),
        growth_limit=int(args.growth_limit_gib * 2**30),
    )
    workers = args.workers or default_workers(limits)
    print(f"fuzz: {len(cases)} planned cases, seed {args.seed}, {workers} workers", file=sys.stderr)

    def progress(done: int, total: int) -> None:
        if done % 100 == 0 or done == total:
            print(f"  {done}/{total} runs", file=sys.stderr, flush=True)

    outcomes, problems, seconds = run_cases(
        cases, workers=workers, limits=limits, folder=args.keep, progress=progress, series=args.series
    )
    print(table(outcomes, problems, seconds))
    if args.json:
        with open(args.json, "w") as out:
            json.dump(to_json(outcomes, problems, seconds), out, indent=1)
    total = counts(outcomes)
    return 1 if problems or any(total[c] for c in FAILURES) else 0


if __name__ == "__main__":
    sys.exit(main())
