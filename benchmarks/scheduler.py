"""The step scheduler alone: ``run_steps`` over real plans' DAGs, with calls that do nothing.

What this measures is groupify's own cost of choosing the next step, nothing of IAM:
each plan is built from a synthetic account (``groupify.testing.synthetic_gaad``) and
its steps run through :func:`groupify.runtime.executor.run_steps` with an ``execute``
that returns at once, on 1 and on 8 worker threads. Beside it, the scheduler groupify
had before (after every finished call, a scan and sort of all waiting steps), kept
here only to measure against, on the sizes where it finishes in reasonable time.

Linear means the microseconds per step stay flat as the steps grow.

Run: ``.venv/bin/python benchmarks/scheduler.py [--users 250 1000 5000] [--old-up-to 7000]``
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

import groupify
from groupify.cli.text import table
from groupify.plan.steps import Step
from groupify.runtime.executor import run_steps
from groupify.testing import synthetic_gaad


def old_run_steps(steps: Iterable[Step], execute: Callable[[Step], str], *, workers: int) -> int:
    """The scheduler before issue 15, reduced to its scheduling (for comparison only)."""
    steps = list(steps)
    order = {s.id: i for i, s in enumerate(steps)}
    finished: set[str] = set()
    waiting = {s.id: s for s in steps}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        running: dict[Future[str], Step] = {}
        while True:
            ready = sorted(
                (s for s in waiting.values() if all(d in finished for d in s.after)),
                key=lambda s: order[s.id],
            )
            for s in ready[: max(0, workers - len(running))]:
                del waiting[s.id]
                running[pool.submit(execute, s)] = s
            if not running:
                break
            complete, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in complete:
                finished.add(running.pop(future).id)
    return len(finished)


def nothing(step: Step) -> str:
    return "applied"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, nargs="+", default=[250, 1000, 5000])
    parser.add_argument("--old-up-to", type=int, default=7000, metavar="STEPS")
    args = parser.parse_args(argv)
    rows = []
    for users in args.users:
        inventory = groupify.parse_gaad([synthetic_gaad(users=users, seed=1)])
        plan = groupify.build_plan(groupify.propose(inventory, exclude_tags=["BreakGlass"]))
        steps = plan.steps
        for workers in (1, 8):
            started = time.perf_counter()
            applied, _, failed, remaining = run_steps(steps, nothing, workers=workers)
            seconds = time.perf_counter() - started
            assert len(applied) == len(steps) and not failed and not remaining
            old = "-"
            if len(steps) <= args.old_up_to:
                started = time.perf_counter()
                assert old_run_steps(steps, nothing, workers=workers) == len(steps)
                before = time.perf_counter() - started
                old = f"{before:.2f} ({before / seconds:.0f}x)"
            per_step = seconds / len(steps) * 1e6
            rows.append([users, len(steps), workers, f"{seconds:.3f}", f"{per_step:.0f}", old])
    headers = ["users", "steps", "workers", "seconds", "us/step", "old scheduler s (ratio)"]
    print(table(headers, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
