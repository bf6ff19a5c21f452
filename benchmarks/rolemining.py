"""Run ``minimal_groups`` on the role-mining benchmark files and print what it found.

Each file holds one ``user_id perm_id`` pair a line (the HP Labs data of Ene et al.,
SACMAT 2008). For each, the result is checked to be an exact cover with
``check_cover``, and a row is printed: users, permissions, distinct permission sets,
groups found, the published optimum (parsed from the folder's README table where it
is listed), whether the result is proven optimal, and wall-clock seconds.

``--quotas G,P`` also runs with quotas (IAM's defaults: ``10,10``, 10 groups a user and
10 policies a group) and prints, per file: the groups, the group-policy attachments and
user-group memberships (bundles as found, then layered, ``groupify.mining.layers``), the
proven lower bound, how it was proven and the gap to it, the users that needed groups of
their own or that no assignment can fit, the seconds, and the best peer's figure where
one is published (with groupify's groups less the peer's). ``--max-perms N`` drops users
holding more than N permissions first (no assignment can serve them within G×P; the
constrained role-mining literature evaluates that way, with N = 100). The unconstrained
table stays as the regression check of the proven optima.

``--synthetic N`` adds generated accounts of N users in the same shape (job roles
of a few policies, users holding one to three roles, plus noise: extra and missing
policies), seeded, to see how the method holds up beyond the six files.

Run: ``.venv/bin/python benchmarks/rolemining.py [--quotas 10,10 [--max-perms 100]]
[--solver python] [--data DIR | FILE ...] [--synthetic 10000]``
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
from groupify.mining.layers import layer
from groupify.mining.minimal import MinimalGroup, MinimalResult, check_cover, minimal_groups

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "rolemining"

#: Groups with 10 groups a user and 10 permissions a group, users with at most 100
#: permissions: the best of the PRUCC heuristics and post-processing of Blundo, Cimato
#: and Siniscalchi (The Computer Journal 2021; RoleMining/ConstrainedRM), as quoted in
#: groupify's issue 14 (each checked there for an exact cover within the quotas).
PEER_10_10 = {"healthcare.txt": 18, "apj.txt": 479, "firewall2.txt": 10, "emea.txt": 76}
PEER_10_10 |= {"firewall1.txt": 62}


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


def quota_pair(text: str) -> tuple[int, int]:
    """``G,P`` → (G, P), both at least 1."""
    try:
        groups, perms = (int(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give G,P (e.g. 10,10)") from None
    if groups < 1 or perms < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: both must be at least 1")
    return groups, perms


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
    parser.add_argument(
        "--quotas",
        type=quota_pair,
        metavar="G,P",
        help="also run with at most G groups a user and P permissions a group (IAM: 10,10)",
    )
    parser.add_argument(
        "--max-perms",
        type=int,
        metavar="N",
        help="with --quotas: leave out users holding more than N permissions",
    )
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
            groups_cap, perms_cap = args.quotas
            kept = assignments
            if args.max_perms is not None:
                kept = {u: p for u, p in assignments.items() if len(p) <= args.max_perms}
            capped, seconds = timed(
                kept, max_groups_per_user=groups_cap, max_policies_per_group=perms_cap, **options
            )
            needed = {u: frozenset(p) for u, p in kept.items()}
            flat = [(g.policies, g.members) for g in capped.groups]
            started = time.perf_counter()
            layered, stats = layer(flat, needed, room=dict.fromkeys(needed, groups_cap))
            layer_seconds = time.perf_counter() - started
            check_cover(needed, [MinimalGroup(p, m) for p, m in layered])
            peer = (
                PEER_10_10.get(name) if args.quotas == (10, 10) and args.max_perms == 100 else None
            )
            quota.append(
                [
                    name,
                    len(kept),
                    len(capped.groups),
                    f"{stats.attachments[0]} -> {stats.attachments[1]}",
                    f"{stats.memberships[0]} -> {stats.memberships[1]}",
                    capped.lower_bound,
                    len(capped.groups) - capped.lower_bound,
                    capped.lower_bound_by + (" (optimal)" if capped.optimal else ""),
                    len(capped.fallback_users),
                    len(capped.over_quota_users),
                    f"{seconds:.2f} + {layer_seconds:.2f}",
                    "?" if peer is None else peer,
                    "" if peer is None else f"{len(capped.groups) - peer:+d}",
                ]
            )
    headers = ["file", "users", "perms", "distinct sets", "groups", "optimum", "proven"]
    print(table([*headers, "decided by", "seconds"], plain))
    if args.quotas:
        print()
        cut = "" if args.max_perms is None else f", users with at most {args.max_perms} perms"
        print(
            f"with quotas: {args.quotas[0]} groups per user, {args.quotas[1]} perms per group{cut}"
        )
        headers = ["file", "users", "groups", "attachments", "memberships", "lower bound"]
        headers += ["gap", "proven by", "fallback users", "over quota", "seconds (+ layers)"]
        headers += ["best peer", "vs peer"]
        print(table(headers, quota))
    return 0


if __name__ == "__main__":
    sys.exit(main())
