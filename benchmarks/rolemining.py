"""Run ``minimal_groups`` on the role-mining benchmark files and print what it found.

Each file holds one ``user_id perm_id`` pair a line (the HP Labs data of Ene et al.,
SACMAT 2008). For each, the result is checked to be an exact cover with
``check_cover``, and a row is printed: users, permissions, distinct permission sets,
groups found, the published optimum (parsed from the folder's README table where it
is listed), whether the result is proven optimal, and wall-clock seconds.

``--quotas`` also runs with IAM's default quotas (10 groups a user, 10 policies a
group) and prints the groups, the proven lower bound, and the users that needed
groups of their own or that no assignment can fit.

``--synthetic N`` adds generated accounts of N users in the same shape (job roles
of a few policies, users holding one to three roles, plus noise: extra and missing
policies), seeded, to see how the method holds up beyond the six files.

Run: ``.venv/bin/python benchmarks/rolemining.py [--quotas] [--solver python]
[--data DIR | FILE ...] [--synthetic 10000]``
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from groupify.cli.text import table
from groupify.mining.minimal import MinimalResult, check_cover, minimal_groups

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "rolemining"


def load(path: Path) -> dict[int, set[int]]:
    assignments: dict[int, set[int]] = defaultdict(set)
    for number, line in enumerate(path.read_text().splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) < 2:
            raise SystemExit(f"{path}:{number}: expected 'user_id perm_id', got {line!r}")
        assignments[int(fields[0])].add(int(fields[1]))
    return dict(assignments)


def known_optima(folder: Path) -> dict[str, int]:
    """``file name -> optimum`` from the README's markdown table, where it has one."""
    readme = folder / "README.md"
    if not readme.is_file():
        return {}
    optima: dict[str, int] = {}
    for line in readme.read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and cells[0].endswith(".txt"):
            found = re.match(r"\d+", cells[-1])
            if found:
                optima[cells[0]] = int(found.group())
    return optima


def synthetic(users: int, seed: int) -> dict[int, set[int]]:
    """Vaidya-style data: 100 roles of 1-10 of 500 policies, 1-3 roles a user, 30% noise."""
    rng = random.Random(seed)
    roles = [rng.sample(range(500), rng.randint(1, 10)) for _ in range(100)]
    assignments: dict[int, set[int]] = {}
    for user in range(users):
        held: set[int] = set()
        for role in rng.sample(range(100), rng.randint(1, 3)):
            held.update(roles[role])
        if rng.random() < 0.3:
            held.add(rng.randrange(500))
        if rng.random() < 0.3 and len(held) > 1:
            held.discard(min(held))
        assignments[user] = held
    return assignments


def timed(
    assignments: Mapping[int, set[int]], **options: Any
) -> tuple[MinimalResult[int, int], float]:
    started = time.perf_counter()
    result = minimal_groups(assignments, **options)
    seconds = time.perf_counter() - started
    check_cover(assignments, result.groups)
    return result, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", type=Path, help="data files (default: all of --data)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of *.txt files")
    parser.add_argument("--quotas", action="store_true", help="also run with 10/10 IAM quotas")
    parser.add_argument("--solver", choices=["auto", "highs", "python"], default="auto")
    parser.add_argument("--time-limit", type=float, default=None, help="seconds per run")
    parser.add_argument("--synthetic", type=int, nargs="*", default=[], metavar="USERS")
    args = parser.parse_args(argv)

    files = args.files or sorted(args.data.glob("*.txt"))
    if not files and not args.synthetic:
        print(f"no data: {args.data} has no *.txt files", file=sys.stderr)
        return 1
    optima = known_optima(args.data)
    for path in args.files:
        optima.update(known_optima(path.parent))
    instances = [(path.name, load(path)) for path in files]
    instances += [(f"synthetic-{n}", synthetic(n, seed=n)) for n in args.synthetic]

    options: dict[str, Any] = {"solver": args.solver, "time_limit": args.time_limit}
    plain: list[list[Any]] = []
    quota: list[list[Any]] = []
    for name, assignments in instances:
        result, seconds = timed(assignments, **options)
        stats = result.stats
        assert stats is not None
        plain.append(
            [
                name,
                stats.users,
                stats.policies,
                stats.distinct_sets,
                len(result.groups),
                optima.get(name, "?"),
                "yes" if result.optimal else f"no (>= {result.lower_bound})",
                ",".join(stats.methods),
                f"{seconds:.2f}",
            ]
        )
        if args.quotas:
            capped, seconds = timed(
                assignments, max_groups_per_user=10, max_policies_per_group=10, **options
            )
            quota.append(
                [
                    name,
                    len(capped.groups),
                    capped.lower_bound,
                    len(capped.fallback_users),
                    len(capped.over_quota_users),
                    f"{seconds:.2f}",
                ]
            )
    headers = ["file", "users", "perms", "distinct sets", "groups", "optimum", "proven"]
    print(table([*headers, "decided by", "seconds"], plain))
    if args.quotas:
        print()
        print("with IAM quotas: 10 groups per user, 10 policies per group")
        print(
            table(
                ["file", "groups", "lower bound", "fallback users", "over quota", "seconds"],
                quota,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
