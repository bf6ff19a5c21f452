"""Time ``groupify plan`` and ``load_plan`` as whole processes against ``json.load``.

Issue 15's targets are ratios to the cost of only reading the same file: ``groupify
plan`` of a synthetic account's GAAD file at most 10× (then 3×) a process that does
``json.load`` of that file, and a process that does ``groupify.load_plan`` of the plan
file at most 5× one that does ``json.load`` of it. Each process is a fresh interpreter
(``sys.executable``), so imports, parsing, the work itself and the interpreter's exit
are all counted, as a user running the command sees them. Bytecode is cached (in a
temporary ``PYTHONPYCACHEPREFIX``, even where ``PYTHONDONTWRITEBYTECODE`` is set), as
it is for an installed package: compiling groupify's sources again in every process
would add about 0.07 s to each.

``groupify.testing.synthetic_gaad(users=N)`` is written as the AWS CLI would
(``indent=4``); each command runs ``--repeat`` times (default 5) and the best wall time
and the best CPU time (user + system, of the child) are kept: on a shared machine the
best run is the one least disturbed by other jobs. Ratios are given for both.

``--profile`` runs each groupify process once more under cProfile and prints its top
functions by own time (``--top``), for what remains.

Run: ``.venv/bin/python benchmarks/plan_process.py [--users 5000] [--repeat 5] [--profile]``
"""

from __future__ import annotations

import argparse
import io
import json
import os
import pstats
import resource
import subprocess
import sys
import tempfile
import time

from groupify.cli.text import table
from groupify.testing import synthetic_gaad

JSON_LOAD = "import json, sys\nwith open(sys.argv[1], encoding='utf-8') as fh: json.load(fh)"
LOAD_PLAN = "import sys, groupify\ngroupify.load_plan(sys.argv[1])"


def run(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one child process running *argv*."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def best(argv: list[str], repeat: int, env: dict[str, str]) -> tuple[float, float]:
    """The least wall time and the least CPU time over *repeat* runs (after one that
    fills the bytecode cache)."""
    run(argv, env)
    runs = [run(argv, env) for _ in range(repeat)]
    return min(w for w, _ in runs), min(c for _, c in runs)


def profile(argv: list[str], top: int, tmp: str, env: dict[str, str]) -> str:
    """Run *argv* (``python -m MODULE ...`` or ``python -c CODE ...``) under cProfile;
    its top functions by own time."""
    out, target = os.path.join(tmp, "prof"), argv[1:]
    if target[0] == "-c":  # cProfile runs a script or a module, not -c
        script = os.path.join(tmp, "snippet.py")
        with open(script, "w", encoding="utf-8") as fh:
            fh.write(target[1] + "\n")
        target = [script, *target[2:]]
    subprocess.run(
        [sys.executable, "-m", "cProfile", "-o", out, *target],
        check=True,
        stdout=subprocess.DEVNULL,
        env=env,
    )
    text = io.StringIO()
    pstats.Stats(out, stream=text).strip_dirs().sort_stats("tottime").print_stats(top)
    return text.getvalue()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=5000, help="IAM users (default 5000)")
    parser.add_argument("--seed", type=int, default=0, help="synthetic account seed")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each command (best kept)")
    parser.add_argument("--profile", action="store_true", help="profile each groupify process")
    parser.add_argument("--top", type=int, default=25, help="functions per profile listing")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="groupify-bench-") as tmp:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = os.path.join(tmp, "pycache")
        gaad_path = os.path.join(tmp, "gaad.json")
        plan_path = os.path.join(tmp, "plan.json")
        with open(gaad_path, "w", encoding="utf-8") as fh:
            json.dump(synthetic_gaad(users=args.users, seed=args.seed), fh, indent=4)
        python = sys.executable
        plan_cmd = [
            python,
            "-m",
            "groupify",
            "plan",
            "--from-gaad",
            gaad_path,
            "--exclude-tag",
            "BreakGlass",
            "--out",
            plan_path,
        ]
        commands = {
            "python: nothing": [python, "-c", "pass"],
            "python: import groupify": [python, "-c", "import groupify"],
            "json.load(GAAD)": [python, "-c", JSON_LOAD, gaad_path],
            "groupify plan": plan_cmd,
        }
        figures = {name: best(cmd, args.repeat, env) for name, cmd in commands.items()}
        commands["json.load(plan)"] = [python, "-c", JSON_LOAD, plan_path]
        commands["load_plan(plan)"] = [python, "-c", LOAD_PLAN, plan_path]
        for name in ("json.load(plan)", "load_plan(plan)"):
            figures[name] = best(commands[name], args.repeat, env)
        sizes = {"GAAD": os.path.getsize(gaad_path) / 1e6, "plan": os.path.getsize(plan_path) / 1e6}
        profiles = {}
        if args.profile:
            for name in ("groupify plan", "load_plan(plan)"):
                profiles[name] = profile(commands[name], args.top, tmp, env)

    print(
        f"synthetic_gaad(users={args.users}, seed={args.seed}): GAAD file {sizes['GAAD']:.1f} MB, "
        f"plan file {sizes['plan']:.1f} MB; best of {args.repeat} runs, {python}\n"
    )
    rows = [[name, f"{wall:.3f}", f"{cpu:.3f}"] for name, (wall, cpu) in figures.items()]
    print(table(["process", "wall s", "cpu s"], rows))

    def ratio(name: str, base: str) -> str:
        (wall, cpu), (base_wall, base_cpu) = figures[name], figures[base]
        return f"{wall / base_wall:.1f}x wall, {cpu / base_cpu:.1f}x cpu"

    print()
    print(
        table(
            ["ratio", "measured", "target"],
            [
                [
                    "groupify plan / json.load(GAAD)",
                    ratio("groupify plan", "json.load(GAAD)"),
                    "10x, then 3x",
                ],
                ["load_plan / json.load(plan)", ratio("load_plan(plan)", "json.load(plan)"), "5x"],
            ],
        )
    )
    for name, text in profiles.items():
        print(f"\n== cProfile: {name} (one run) ==\n{text}")


if __name__ == "__main__":
    main()
