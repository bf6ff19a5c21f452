"""Minimal groups: exact covers, the fewest groups, quotas, determinism, and the benchmarks."""

from __future__ import annotations

import itertools
import json
import os
import random
import subprocess
import sys
from collections import defaultdict
from collections.abc import Collection, Hashable, Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import groupify.mining.minimal as minimal
from groupify.errors import InputError
from groupify.mining.minimal import MinimalGroup, MinimalResult, check_cover, minimal_groups

#: The role-mining benchmark files with their proven optima: ``GROUPIFY_DATASETS``, else
#: ``shared/datasets/rolemining`` beside the checkout (see the README's "Tests").
DATASETS = Path(
    os.environ.get("GROUPIFY_DATASETS")
    or Path(__file__).resolve().parents[3] / "shared" / "datasets" / "rolemining"
)
OPTIMA = {
    "healthcare": 14,
    "domino": 20,
    "emea": 34,
    "apj": 453,
    "firewall1": 64,
    "firewall2": 10,
}
HAS_HIGHS = minimal._load_highs() is not None

Assignments = Mapping[Hashable, Collection[Hashable]]


def brute_force_minimum(assignments: Assignments) -> int:
    """Fewest bicliques covering the graph, by trying every set of maximal bicliques."""
    rows = {frozenset(held) for held in assignments.values() if held}
    concepts = set(rows)
    frontier = set(rows)
    while frontier:
        frontier = {c & r for c in frontier for r in rows if c & r} - concepts
        concepts |= frontier
    edges = {(row, policy) for row in rows for policy in row}
    rectangles = [
        {(row, p) for row in rows if concept <= row for p in concept} for concept in concepts
    ]
    for size in range(len(rows) + 1):
        for chosen in itertools.combinations(rectangles, size):
            if set().union(*chosen) >= edges:
                return size
    raise AssertionError("unreachable: the rows themselves cover")


NO_DATASETS = f"datasets not found at {DATASETS} (set GROUPIFY_DATASETS)"


def groups_per_user(result: MinimalResult[Any, Any]) -> dict[Hashable, int]:
    count: dict[Hashable, int] = defaultdict(int)
    for group in result.groups:
        for user in group.members:
            count[user] += 1
    return count


def load(path: Path) -> dict[int, set[int]]:
    assignments: dict[int, set[int]] = defaultdict(set)
    for line in path.read_text().splitlines():
        if line.strip():
            user, perm = line.split()[:2]
            assignments[int(user)].add(int(perm))
    return assignments


def crown(n: int) -> dict[str, set[str]]:
    """User i holds every policy but policy i."""
    return {f"u{i}": {f"p{j}" for j in range(n) if j != i} for i in range(n)}


tiny = st.dictionaries(
    st.integers(0, 7), st.frozensets(st.sampled_from("abcde"), max_size=5), max_size=6
)
small = st.dictionaries(
    st.text("xyz", min_size=1, max_size=3),
    st.frozensets(st.integers(0, 11), max_size=9),
    max_size=14,
)


@pytest.fixture
def no_highs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the optional MIP solver look uninstalled."""
    monkeypatch.setattr(minimal, "_load_highs", lambda: None)


# --- exact cover and the optimum ---------------------------------------------------


@settings(max_examples=150)
@given(tiny)
def test_tiny_instances_reach_the_brute_force_optimum(assignments: Assignments) -> None:
    """On instances small enough to brute-force, the result is proven and optimal."""
    result = minimal_groups(assignments)
    check_cover(assignments, result.groups)
    assert result.optimal
    assert len(result.groups) == result.lower_bound == brute_force_minimum(assignments)


@settings(max_examples=100)
@given(tiny)
def test_pure_python_path_matches_the_brute_force_optimum(assignments: Assignments) -> None:
    """The branch and bound without HiGHS proves the same optimum."""
    result = minimal_groups(assignments, solver="python")
    check_cover(assignments, result.groups)
    assert result.optimal
    assert len(result.groups) == brute_force_minimum(assignments)


@given(small)
def test_result_is_an_exact_cover(assignments: Assignments) -> None:
    """Every user gets exactly its policies, and the count sits between bound and clusters."""
    result = minimal_groups(assignments)
    check_cover(assignments, result.groups)
    distinct = {frozenset(held) for held in assignments.values() if held}
    assert result.lower_bound <= len(result.groups) <= len(distinct)
    assert all(group.policies and group.members for group in result.groups)
    assert len({group.policies for group in result.groups}) == len(result.groups)


def test_empty_input() -> None:
    """No users, no groups, trivially optimal."""
    result: MinimalResult[str, str] = minimal_groups({})
    assert result.groups == ()
    assert result.optimal
    assert result.lower_bound == 0


def test_users_without_policies_get_no_group() -> None:
    """A user with an empty set is in no group, and the rest are still covered."""
    assignments = {"idle": [], "ann": ["s3"], "bob": ["s3", "ec2"], "eve": set()}
    result = minimal_groups(assignments)
    check_cover(assignments, result.groups)
    members = set().union(*(group.members for group in result.groups))
    assert members == {"ann", "bob"}
    assert len(result.groups) == 2


def test_union_user_needs_no_group_of_its_own() -> None:
    """A set that is the union of other sets costs nothing: 2 groups for 3 distinct sets."""
    assignments = {"a": {"x"}, "b": {"y"}, "c": {"x", "y"}, "d": {"x", "y"}}
    result = minimal_groups(assignments)
    assert sorted(sorted(group.policies) for group in result.groups) == [["x"], ["y"]]
    assert result.groups_of("c") == result.groups_of("d")
    assert len(result.groups_of("c")) == 2


@pytest.mark.parametrize(("n", "expected"), [(3, 3), (4, 4), (5, 4), (6, 4), (10, 5)])
def test_crown_graph(n: int, expected: int) -> None:
    """Crown graphs: n distinct sets need only k groups, n <= C(k, k // 2) (de Caen et al.)."""
    assignments = crown(n)
    result = minimal_groups(assignments)
    check_cover(assignments, result.groups)
    assert len(result.groups) == expected
    assert result.optimal


def test_crown_graph_without_highs(no_highs: None) -> None:
    """The pure-Python search also finds and proves the crown graph's 4 < 6."""
    result = minimal_groups(crown(6))
    assert len(result.groups) == 4
    assert result.optimal
    assert "highs" not in (result.stats.methods if result.stats else ())


@pytest.mark.parametrize("seed", range(4))
def test_fallback_without_highs_on_dense_random_data(no_highs: None, seed: int) -> None:
    """With HiGHS missing and a short budget, the heuristic still returns an exact cover."""
    rng = random.Random(seed)
    assignments = {u: {p for p in range(18) if rng.random() < 0.35} for u in range(18)}
    result = minimal_groups(assignments, time_limit=0.5)
    check_cover(assignments, result.groups)
    assert result.lower_bound <= len(result.groups) <= 18
    assert result.stats is not None
    assert "highs" not in result.stats.methods


def test_zero_time_limit_still_covers() -> None:
    """A deadline already past gives a valid cover, not necessarily an optimal one."""
    rng = random.Random(7)
    assignments = {u: {p for p in range(25) if rng.random() < 0.3} for u in range(40)}
    result = minimal_groups(assignments, time_limit=0)
    check_cover(assignments, result.groups)
    assert result.lower_bound <= len(result.groups)


@pytest.mark.skipif(not HAS_HIGHS, reason="highspy is not installed")
@pytest.mark.parametrize("seed", range(3))
def test_highs_proves_dense_random_cores(seed: int) -> None:
    """Where reductions leave a core, HiGHS solves it to proven optimality."""
    rng = random.Random(seed)
    assignments = {u: {p for p in range(24) if rng.random() < 0.3} for u in range(24)}
    result = minimal_groups(assignments, solver="highs")
    check_cover(assignments, result.groups)
    assert result.optimal
    assert result.stats is not None
    assert "highs" in result.stats.methods


def test_solver_highs_without_highspy_is_an_input_error(no_highs: None) -> None:
    """Asking for HiGHS when it is not installed says what to install."""
    with pytest.raises(InputError, match="highspy"):
        minimal_groups({"a": {"x"}}, solver="highs")


# --- quotas -------------------------------------------------------------------------


@given(small, st.integers(1, 3), st.integers(1, 4))
def test_quotas_are_honoured_or_reported(
    assignments: Assignments, max_groups: int, max_policies: int
) -> None:
    """Within quota for every user not reported; the reported ones truly cannot fit."""
    result = minimal_groups(
        assignments, max_groups_per_user=max_groups, max_policies_per_group=max_policies
    )
    check_cover(assignments, result.groups)
    assert all(len(group.policies) <= max_policies for group in result.groups)
    counts = groups_per_user(result)
    for user, held in assignments.items():
        needed = -(-len(held) // max_policies)
        if user in result.over_quota_users:
            assert needed > max_groups
        else:
            assert counts.get(user, 0) <= max_groups
            assert needed <= max_groups
    assert result.fallback_users.isdisjoint(result.over_quota_users)
    assert result.lower_bound <= len(result.groups)


def brute_force_capped_minimum(assignments: Assignments, cap: int) -> int:
    """Fewest bicliques of at most *cap* policies covering the graph, by trying them all."""
    rows = {frozenset(held) for held in assignments.values() if held}
    policies = sorted(set().union(*rows)) if rows else []
    candidates = {
        frozenset(c)
        for size in range(1, cap + 1)
        for c in itertools.combinations(policies, size)
        if any(set(c) <= row for row in rows)
    }
    edges = {(row, policy) for row in rows for policy in row}
    rectangles = [{(row, p) for row in rows if c <= row for p in c} for c in candidates]
    for size in range(len(edges) + 1):
        for chosen in itertools.combinations(rectangles, size):
            if set().union(*chosen) >= edges:
                return size
    raise AssertionError("unreachable: single policies cover")


@settings(max_examples=80)
@given(tiny, st.integers(1, 3))
def test_the_bound_under_a_policy_quota_is_a_bound(assignments: Assignments, cap: int) -> None:
    """``lower_bound`` with max_policies_per_group never exceeds the true capped optimum."""
    result = minimal_groups(assignments, max_policies_per_group=cap)
    assert result.lower_bound <= brute_force_capped_minimum(assignments, cap)
    assert result.lower_bound <= len(result.groups)


def brute_force_quota_minimum(assignments: Assignments, cap: int, limit: int) -> int | None:
    """Fewest groups of at most *cap* policies, at most *limit* a user: try them all."""
    rows = {frozenset(held) for held in assignments.values() if held}
    policies = sorted(set().union(*rows)) if rows else []
    candidates = [
        frozenset(c)
        for size in range(1, cap + 1)
        for c in itertools.combinations(policies, size)
        if any(set(c) <= row for row in rows)
    ]

    def fits(row: frozenset[Hashable], chosen: tuple[frozenset[Hashable], ...]) -> bool:
        inside = [group for group in chosen if group <= row]
        return any(
            frozenset().union(*picked) == row
            for n in range(1, min(limit, len(inside)) + 1)
            for picked in itertools.combinations(inside, n)
        )

    for size in range(len(candidates) + 1):
        for chosen in itertools.combinations(candidates, size):
            if all(fits(row, chosen) for row in rows):
                return size
    return None  # some user cannot fit at all


quota_tiny = st.dictionaries(
    st.integers(0, 4), st.frozensets(st.sampled_from("abcd"), max_size=4), max_size=5
)


@settings(max_examples=60, deadline=None)
@given(quota_tiny, st.integers(1, 3), st.integers(1, 3))
def test_the_bound_under_both_quotas_is_a_bound(
    assignments: Assignments, cap: int, limit: int
) -> None:
    """The LP bound (with HiGHS) or the combinatorial one never exceeds the true optimum,
    and the groups found keep both quotas for every user that can fit."""
    result = minimal_groups(assignments, max_groups_per_user=limit, max_policies_per_group=cap)
    check_cover(assignments, result.groups)
    assert all(len(group.policies) <= cap for group in result.groups)
    counts = groups_per_user(result)
    fitting = [u for u in assignments if u not in result.over_quota_users]
    assert all(counts.get(user, 0) <= limit for user in fitting)
    assert result.lower_bound <= len(result.groups)
    if not result.over_quota_users:
        best = brute_force_quota_minimum(assignments, cap, limit)
        assert best is not None
        assert result.lower_bound <= best <= len(result.groups)


@pytest.mark.skipif(not HAS_HIGHS, reason="needs highspy (the exact extra)")
@settings(max_examples=40, deadline=None)
@given(quota_tiny, st.integers(1, 3), st.integers(1, 3))
def test_the_lp_bound_by_ceilings_is_a_bound(
    assignments: Assignments, cap: int, limit: int
) -> None:
    """The pricing ceilings used past 12 distinct users (closed sets, the MIP's dual
    bound) give a bound too: forced on tiny instances, checked by brute force."""
    import highspy

    from groupify.mining import capped

    if not any(assignments.values()):
        return
    bit = {p: i for i, p in enumerate(sorted({p for held in assignments.values() for p in held}))}
    rows = sorted({sum(1 << bit[p] for p in held) for held in assignments.values() if held})
    if any(-(-row.bit_count() // cap) > limit for row in rows):
        return  # nobody can be served: no optimum to compare with
    saved = capped._ENUMERATE_ROWS
    capped._ENUMERATE_ROWS = 0
    try:
        bound, _ = capped.lp_bound(highspy, rows, [limit] * len(rows), cap)
    finally:
        capped._ENUMERATE_ROWS = saved
    best = brute_force_quota_minimum(assignments, cap, limit)
    assert best is not None and bound <= best


@pytest.mark.skipif(not HAS_HIGHS, reason="needs highspy (the exact extra)")
def test_highs_is_never_worse_than_the_python_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """A user no assignment can fit (limit 0) no longer keeps its component out of the
    HiGHS stage, and the pure-Python cover is a second incumbent (found by review: 9
    groups with HiGHS against 8 without)."""
    assignments = {
        "u0": {"p0", "p10", "p12", "p6", "p8"},
        "u10": {"p13", "p8", "p9"},
        "u11": {"p4", "p8"},
        "u14": {"p13", "p2", "p4", "p8"},
        "u15": {"p0", "p10", "p6", "p9"},
        "u16": {"p10", "p2", "p9"},
        "u17": {"p0", "p2", "p8"},
        "u5": {"p12"},
        "u7": {"p0", "p10", "p13", "p2", "p6"},
    }
    limits = {"u5": 0, "u11": 2, "u14": 2, "u17": 3}
    with_highs = minimal_groups(assignments, max_groups_per_user=limits, max_policies_per_group=10)
    monkeypatch.setattr(minimal, "_load_highs", lambda: None)
    plain = minimal_groups(assignments, max_groups_per_user=limits, max_policies_per_group=10)
    for result in (with_highs, plain):
        check_cover(assignments, result.groups)
        assert result.over_quota_users == {"u5"}
        counts = groups_per_user(result)
        assert all(counts.get(u, 0) <= n for u, n in limits.items() if u != "u5")
    assert len(with_highs.groups) <= len(plain.groups)


def test_the_bound_under_a_policy_quota_counts_policies_per_component() -> None:
    """Two users sharing nothing, 7 and 5 policies, at most 3 a group: 3 + 2 groups."""
    assignments = {"a": {f"a{i}" for i in range(7)}, "b": {f"b{i}" for i in range(5)}}
    result = minimal_groups(assignments, max_policies_per_group=3)
    assert result.lower_bound == 5 and result.lower_bound_by == "policies per group"
    assert result.optimal and len(result.groups) == 5


def test_group_quota_forces_a_fallback() -> None:
    """A user whose only exact cover by shared groups is too many gets its own group."""
    assignments: dict[str, set[str]] = {f"solo{i}": {f"p{i}"} for i in range(4)}
    assignments["all"] = {f"p{i}" for i in range(4)}
    free = minimal_groups(assignments)
    assert len(free.groups_of("all")) == 4
    capped = minimal_groups(assignments, max_groups_per_user=2)
    check_cover(assignments, capped.groups)
    assert len(capped.groups_of("all")) <= 2
    assert capped.fallback_users == {"all"}
    assert not capped.over_quota_users
    assert len(capped.groups) == 5


def test_shared_pairs_are_merged_before_falling_back() -> None:
    """Users over quota that share groups get one merged group, not one each."""
    assignments: dict[str, set[str]] = {f"solo{i}": {f"p{i}"} for i in range(3)}
    assignments |= {f"wide{i}": {"p0", "p1", "p2", f"own{i}"} for i in range(4)}
    assignments |= {f"own{i}": {f"own{i}"} for i in range(4)}
    capped = minimal_groups(assignments, max_groups_per_user=3)
    check_cover(assignments, capped.groups)
    assert all(len(capped.groups_of(f"wide{i}")) <= 3 for i in range(4))
    assert not capped.fallback_users
    assert len(capped.groups) == 3 + 4 + 1


def test_policy_quota_splits_groups() -> None:
    """Groups never exceed the policy quota, even where the optimum would."""
    big = {f"p{i}" for i in range(7)}
    assignments = {"a": big, "b": big | {"x"}, "c": {"x"}}
    result = minimal_groups(assignments, max_policies_per_group=3)
    check_cover(assignments, result.groups)
    assert all(len(group.policies) <= 3 for group in result.groups)
    assert result.lower_bound >= 3


def test_impossible_quota_is_reported_not_hidden() -> None:
    """More policies than groups x policies allows: named, and still an exact cover."""
    assignments = {"heavy": {f"p{i}" for i in range(7)}, "light": {"p0"}}
    result = minimal_groups(assignments, max_groups_per_user=2, max_policies_per_group=3)
    check_cover(assignments, result.groups)
    assert result.over_quota_users == {"heavy"}
    assert "over quota" in repr(result)
    assert all(len(group.policies) <= 3 for group in result.groups)


def test_per_user_group_limits() -> None:
    """Users with the same set but less room get what fits them; no room at all is named."""
    assignments: dict[str, set[str]] = {f"solo{i}": {f"p{i}"} for i in range(4)}
    assignments |= {"roomy": {"p0", "p1", "p2", "p3"}, "tight": {"p0", "p1", "p2", "p3"}}
    assignments["full"] = {"p0"}
    limits = {"roomy": 4, "tight": 1, "full": 0}
    result = minimal_groups(assignments, max_groups_per_user=limits)
    check_cover(assignments, result.groups)
    assert len(result.groups_of("roomy")) == 4
    assert len(result.groups_of("tight")) == 1
    assert result.fallback_users == {"tight"}
    assert result.over_quota_users == {"full"}
    assert len(result.groups_of("solo0")) == 1  # not in the mapping: no limit


@pytest.mark.parametrize(
    "options",
    [
        {"max_groups_per_user": {"a": -1}},
        {"max_groups_per_user": 0},
        {"max_policies_per_group": -1},
        {"max_groups_per_user": 2.5},
        {"max_groups_per_user": True},
        {"time_limit": -1},
        {"solver": "cplex"},
    ],
)
def test_bad_options_are_input_errors(options: dict[str, object]) -> None:
    """Nonsense quotas, limits or solvers are refused up front."""
    with pytest.raises(InputError):
        minimal_groups({"a": {"x"}}, **options)  # type: ignore[arg-type]


# --- determinism and reprs ---------------------------------------------------------


@given(small, st.randoms(use_true_random=False))
def test_iteration_order_does_not_matter(assignments: Assignments, rng: random.Random) -> None:
    """Shuffled users and policies, lists or sets: the same groups in the same order."""
    items = list(assignments.items())
    rng.shuffle(items)
    shuffled = {user: rng.sample(sorted(held, key=repr), len(held)) for user, held in items}
    assert minimal_groups(shuffled).groups == minimal_groups(assignments).groups


SCRIPT = """
import json, random
from groupify.mining.minimal import minimal_groups
rng = random.Random(3)
names = [f"user-{i}" for i in range(60)]
policies = [f"arn:aws:iam::aws:policy/P{i}" for i in range(30)]
roles = [set(rng.sample(policies, rng.randint(1, 6))) for _ in range(12)]
data = {n: set().union(*rng.sample(roles, rng.randint(1, 3))) for n in names}
result = minimal_groups(data, max_groups_per_user=3, max_policies_per_group=5)
print(json.dumps([repr(g) for g in result.groups] + [repr(result)]))
"""


def test_same_result_under_any_hash_seed() -> None:
    """String ids hash differently per process; the groups must not care."""
    outputs = []
    for seed in ("0", "1", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, check=True
        )
        outputs.append(json.loads(done.stdout))
    assert outputs[0] == outputs[1] == outputs[2]
    assert len(outputs[0]) > 1


def test_reprs_are_short_and_sorted() -> None:
    """Group reprs list ids in sorted order; the result repr is one line."""
    group = MinimalGroup(policies=frozenset({"b", "a"}), members=frozenset({2, 1, 10}))
    assert (
        repr(group) == "MinimalGroup(policies=frozenset({'a', 'b'}), members=frozenset({1, 2, 10}))"
    )
    result = minimal_groups({"u": {"a"}, "v": {"a", "b"}})
    assert repr(result) == "<MinimalResult 2 groups, optimal>"


def test_groups_are_hashable_values() -> None:
    """Frozen groups compare by value and can be graph nodes."""
    first = MinimalGroup(policies=frozenset({"a"}), members=frozenset({"u"}))
    second = MinimalGroup(policies=frozenset({"a"}), members=frozenset({"u"}))
    assert first == second
    assert len({first, second}) == 1


# --- check_cover ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("groups", "message"),
    [
        ([MinimalGroup(frozenset({"x", "y"}), frozenset({"a"}))], "widens 'a'"),
        ([MinimalGroup(frozenset({"x"}), frozenset({"a"}))], "'b' is missing"),
        ([MinimalGroup(frozenset({"x"}), frozenset({"a", "z"}))], "'z', who is not a known"),
        ([], "'a' is missing"),
    ],
)
def test_check_cover_names_the_first_violation(
    groups: list[MinimalGroup[str, str]], message: str
) -> None:
    """Widening, gaps and unknown members each raise ValueError with the culprit."""
    with pytest.raises(ValueError, match=message):
        check_cover({"a": {"x"}, "b": {"y"}}, groups)


def test_check_cover_accepts_an_exact_cover() -> None:
    """Overlapping groups are fine as long as each user's union is exact."""
    groups = [
        MinimalGroup(frozenset({"x", "y"}), frozenset({"a"})),
        MinimalGroup(frozenset({"y"}), frozenset({"a", "b"})),
    ]
    check_cover({"a": {"x", "y"}, "b": {"y"}, "c": set()}, groups)


# --- the role-mining benchmark ----------------------------------------------------


@pytest.mark.skipif(
    not DATASETS.is_dir(), reason=f"datasets not found at {DATASETS} (set GROUPIFY_DATASETS)"
)
@pytest.mark.parametrize("name", sorted(OPTIMA))
def test_rolemining_dataset_reaches_the_published_optimum(name: str) -> None:
    """Each HP Labs dataset gets its proven optimum, as an exact cover."""
    assignments = load(DATASETS / f"{name}.txt")
    result = minimal_groups(assignments)
    check_cover(assignments, result.groups)
    assert len(result.groups) == OPTIMA[name]
    assert result.optimal


@pytest.mark.skipif(
    not DATASETS.is_dir(), reason=f"datasets not found at {DATASETS} (set GROUPIFY_DATASETS)"
)
@pytest.mark.parametrize("name", ["healthcare", "domino", "apj"])
def test_rolemining_dataset_without_highs(no_highs: None, name: str) -> None:
    """The optimum does not depend on the optional dependency."""
    assignments = load(DATASETS / f"{name}.txt")
    result = minimal_groups(assignments)
    assert len(result.groups) == OPTIMA[name]
    assert result.optimal


#: The best published figure under IAM's 10/10 quotas, users of at most 100 permissions
#: (PRUCC heuristics and post-processing, Blundo, Cimato and Siniscalchi 2021), and what
#: groupify proves optimal with HiGHS whatever the machine's speed (firewall2 has 9
#: distinct users: its pricing tries every member set, and its MIPs are tiny).
PEERS_10_10 = {"healthcare": 18, "firewall2": 10, "emea": 76, "firewall1": 62, "apj": 479}
PROVEN_10_10 = {"firewall2": 10}


@pytest.mark.skipif(not HAS_HIGHS, reason="needs highspy (the exact extra)")
@pytest.mark.skipif(
    not DATASETS.is_dir(), reason=f"datasets not found at {DATASETS} (set GROUPIFY_DATASETS)"
)
@pytest.mark.parametrize("name", sorted(PEERS_10_10))
def test_rolemining_quota_covers_at_or_ahead_of_the_peers(name: str) -> None:
    """With 10/10 quotas and HiGHS: at most the best peer's groups, optimal where proven."""
    assignments = {u: p for u, p in load(DATASETS / f"{name}.txt").items() if len(p) <= 100}
    result = minimal_groups(assignments, max_groups_per_user=10, max_policies_per_group=10)
    check_cover(assignments, result.groups)
    assert all(len(group.policies) <= 10 for group in result.groups)
    assert max(groups_per_user(result).values()) <= 10
    assert not result.over_quota_users and not result.fallback_users
    assert len(result.groups) <= PEERS_10_10[name]
    if name in PROVEN_10_10:
        assert len(result.groups) == result.lower_bound == PROVEN_10_10[name]
        assert result.optimal and result.lower_bound_by == "linear programming"


@pytest.mark.skipif(
    not DATASETS.is_dir(), reason=f"datasets not found at {DATASETS} (set GROUPIFY_DATASETS)"
)
@pytest.mark.parametrize("name", ["healthcare", "apj", "firewall2"])
def test_rolemining_dataset_with_iam_quotas(name: str) -> None:
    """With 10/10 quotas: exact cover, limits kept or users named."""
    assignments = load(DATASETS / f"{name}.txt")
    result = minimal_groups(assignments, max_groups_per_user=10, max_policies_per_group=10)
    check_cover(assignments, result.groups)
    assert all(len(group.policies) <= 10 for group in result.groups)
    counts = groups_per_user(result)
    assert all(counts[user] <= 10 for user in assignments if user not in result.over_quota_users)
    assert all(len(assignments[user]) > 100 for user in result.over_quota_users)
