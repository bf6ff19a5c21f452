"""Time groupify's pure pipeline on a synthetic account: load, propose, plan, save, reload.

``groupify.testing.synth.synthetic_gaad(users=N)`` is written to a temporary file as
the AWS CLI would, then each stage is timed once:

* ``load_gaad``: parse the file into an Inventory;
* ``propose``: ``propose(inventory, exclude_tags=["BreakGlass"])`` (validates;
  ``--strategy`` picks another strategy);
* ``build_plan``: steps, and the replay that verifies them;
* ``plan.save``: the plan file, checksummed, written atomically;
* ``load_plan``: read it back, checksum and fingerprint checks, full re-verify.

``--profile STAGE`` (or ``--profile-over SECONDS``) runs cProfile on a stage
and prints its top functions by cumulative and own time.

Run: ``.venv/bin/python benchmarks/pipeline.py [--users 5000] [--profile-over 10]``
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import tempfile
import time
from collections.abc import Callable
from typing import Any

import groupify
from groupify.cli.text import table
from groupify.plan.privilege import control_findings
from groupify.testing import synthetic_gaad

STAGES = ("load_gaad", "propose", "build_plan", "control paths", "plan.save", "load_plan")


def profiled(fn: Callable[[], Any], top: int) -> tuple[Any, str]:
    profiler = cProfile.Profile()
    result = profiler.runcall(fn)
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    return result, out.getvalue()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=5000, help="IAM users (default 5000)")
    parser.add_argument("--seed", type=int, default=0, help="synthetic account seed")
    parser.add_argument("--strategy", default="exact", help="propose strategy (default exact)")
    parser.add_argument(
        "--profile", action="append", choices=STAGES, default=[], help="profile this stage"
    )
    parser.add_argument(
        "--profile-over",
        type=float,
        metavar="SECONDS",
        help="after the timed run, profile again every stage that took longer",
    )
    parser.add_argument("--top", type=int, default=25, help="functions per profile listing")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    gaad = synthetic_gaad(users=args.users, seed=args.seed)
    synth_seconds = time.perf_counter() - start

    with tempfile.TemporaryDirectory(prefix="groupify-bench-") as tmp:
        gaad_path = os.path.join(tmp, "gaad.json")
        plan_path = os.path.join(tmp, "plan.json")
        with open(gaad_path, "w", encoding="utf-8") as fh:
            json.dump(gaad, fh, indent=4)
        gaad_mb = os.path.getsize(gaad_path) / 1e6

        state: dict[str, Any] = {}
        stages: dict[str, Callable[[], Any]] = {
            "load_gaad": lambda: groupify.load_gaad(gaad_path),
            "propose": lambda: groupify.propose(
                state["load_gaad"], strategy=args.strategy, exclude_tags=["BreakGlass"]
            ),
            "build_plan": lambda: groupify.build_plan(state["propose"]),
            # Part of build_plan (and load_plan) already; timed alone for the ratio below.
            "control paths": lambda: control_findings(
                state["load_gaad"], state["build_plan"].steps
            ),
            "plan.save": lambda: state["build_plan"].save(plan_path),
            "load_plan": lambda: groupify.load_plan(plan_path),
        }
        seconds: dict[str, float] = {}
        profiles: dict[str, str] = {}
        for name, run in stages.items():
            if name in args.profile:
                state[name], profiles[name] = profiled(run, args.top)
                seconds[name] = float("nan")
                continue
            start = time.perf_counter()
            state[name] = run()
            seconds[name] = time.perf_counter() - start
        if args.profile_over is not None:
            for name, run in stages.items():
                if seconds[name] > args.profile_over and name not in profiles:
                    _, profiles[name] = profiled(run, args.top)
        plan_mb = os.path.getsize(plan_path) / 1e6

    inventory, proposal, plan = state["load_gaad"], state["propose"], state["build_plan"]
    summary = plan.summary()
    print(
        f"synthetic_gaad(users={args.users}, seed={args.seed}): built in {synth_seconds:.2f} s, "
        f"strategy {args.strategy}, "
        f"{gaad_mb:.1f} MB; plan file {plan_mb:.1f} MB\n"
    )
    rows = [
        [name, "profiled" if name in args.profile else f"{s:.2f}"] for name, s in seconds.items()
    ]
    total = sum(s for n, s in seconds.items() if s == s and n != "control paths")
    rows.append(["total (the check counted once)", f"{total:.2f}"])
    print(table(["stage", "seconds"], rows))
    check, build = seconds["control paths"], seconds["build_plan"]
    if check == check and build == build and build > check:
        print(
            f"\ncontrol-path check: {check:.2f} s of build_plan's {build:.2f} s; build_plan is "
            f"{build / (build - check):.2f}x what it would be without it"
        )
    print()
    print(
        table(
            ["count", "value"],
            [
                ["users", len(inventory.users)],
                ["existing groups", len(inventory.groups)],
                ["users in scope", len(proposal.in_scope)],
                ["exceptions", len(proposal.exceptions)],
                ["groups proposed", len(proposal.groups)],
                ["  of which reused", summary["groups_reused"]],
                ["policies created", summary["policies_created"]],
                ["steps", summary["steps"]],
                *[[f"  {op}", n] for op, n in summary["steps_by_op"].items()],
            ],
        )
    )
    for name, text in profiles.items():
        print(f"\n== cProfile: {name} ==\n{text}")
    assert state["load_plan"].fingerprint == plan.fingerprint


if __name__ == "__main__":
    main()
