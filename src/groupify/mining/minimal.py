"""Minimal groups: the fewest groups that give every user exactly its policies.

This is the Basic Role Mining Problem (Vaidya, Atluri and Guo 2007), which is the
minimum biclique cover of the bipartite users ↔ policies graph: a group is a set of
policies and a set of members, every policy of a group is held by every member (no
widening), and every user's policies are the union of its groups' policies (no gap).

The method, in the order it runs (``docs/minimal.md`` says why):

1. Users with the same set of policies are one row; a policy is one bit of a row.
2. Kernelisation, repeated until nothing changes: a row that is the union of the rows
   strictly inside it needs no group of its own; a column (policy) held by exactly the
   same rows as another, or by the union of the columns strictly inside it, is put
   back into the groups afterwards. Both keep the optimum (Ene et al., SACMAT 2008).
3. The kernel splits into connected components (networkx); each is solved alone.
4. Per component, the candidates are maximal bicliques, and choosing the fewest is a
   set cover over the edges. A biclique that is the only one over some edge is in
   every cover and is taken without enumerating anything; only the bicliques over
   the edges left are enumerated. Set-cover reductions (essential sets, dominated
   edges, dominated sets) then usually decide everything. What is left is solved
   exactly by HiGHS when ``highspy`` is installed, else by a pure-Python search with
   Lagrangian bounds; a cover is always in hand first, so a deadline cannot leave
   none. Lower bounds (fooling sets, the relaxations) say when a cover is optimal.
5. The removed columns go back into the groups, each user takes the fewest groups
   that cover it, and quotas are met by cutting oversized groups, merging the
   groups that over-quota users share, and, failing that, groups of a user's own
   policies; users no assignment can serve within the quotas are named.
"""

from __future__ import annotations

import heapq
import importlib
import itertools
import math
import time
from collections.abc import (
    Callable,
    Collection,
    Hashable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from typing import Any, Generic, Literal, TypeVar

import attrs

from groupify.errors import InputError

__all__ = [
    "MinimalGroup",
    "MinimalResult",
    "MinimalStats",
    "check_cover",
    "minimal_groups",
]

U = TypeVar("U", bound=Hashable)
P = TypeVar("P", bound=Hashable)

Solver = Literal["auto", "highs", "python"]

# Enumerating maximal bicliques is output-sensitive; past this many in one component
# the candidate list is no longer complete, and optimality can only come from a bound.
_CONCEPT_CAP = 50_000
# Choosing one user's groups is a tiny set cover; this only guards a pathological one.
_ROW_NODE_LIMIT = 2_000
# Subgradient steps for the pure-Python lower bound; it stops early once it stalls.
_LAGRANGE_ITERATIONS = 400
# Covering with pieces of oversized groups is a heuristic stage whatever solves it, so
# it gets a short search, counted in nodes so that the result does not depend on speed.
_POOL_NODE_LIMIT = 200
#: ... and a time limit on it as a safety net.
_POOL_SECONDS = 5.0
# Of a time limit, the share the search may use; the rest is for assembling the result.
_SEARCH_SHARE = 0.75


# ---------------------------------------------------------------------------
# Public data
# ---------------------------------------------------------------------------


def _id_key(value: Hashable) -> tuple[str, str, int, str]:
    """A sort key for arbitrary ids that never depends on hash randomisation."""
    kind = type(value)
    name = f"{kind.__module__}.{kind.__qualname__}"
    if type(value) is int:
        return (name, "", value, "")
    if type(value) is str:
        return (name, value, 0, "")
    return (name, "", 0, repr(value))


def _sorted_repr(items: Iterable[Hashable]) -> str:
    ordered = sorted(items, key=_id_key)
    return "frozenset({" + ", ".join(map(repr, ordered)) + "})" if ordered else "frozenset()"


@attrs.frozen(repr=False)
class MinimalGroup(Generic[U, P]):
    """One group: every member holds every one of its policies."""

    policies: frozenset[P]
    members: frozenset[U]

    def __repr__(self) -> str:
        # Sorted, so the repr is the same under every PYTHONHASHSEED.
        return (
            f"MinimalGroup(policies={_sorted_repr(self.policies)}, "
            f"members={_sorted_repr(self.members)})"
        )


@attrs.frozen
class MinimalStats:
    """How the instance shrank and what decided it; for benchmarks and curiosity."""

    users: int  # users with at least one policy
    policies: int
    distinct_sets: int
    kernel_sets: int  # rows left after the dominance reductions
    components: int
    largest_component: int  # rows in the largest component of the kernel
    candidates: int  # maximal bicliques enumerated over all components
    forced: int  # groups fixed by set-cover reductions alone
    methods: tuple[str, ...]  # what decided the components: reductions, highs, ...
    seconds: float


@attrs.frozen(repr=False)
class MinimalResult(Generic[U, P]):
    """The groups found, and how far they are known to be from the fewest possible.

    ``lower_bound`` is a proven lower bound on the number of groups of any exact
    cover (within ``max_policies_per_group`` where one is given; ``lower_bound_by`` says
    which argument proves it); ``optimal`` says ``len(groups)`` meets it.

    With quotas, ``fallback_users`` got (some) groups made from their own policies
    because the shared groups would exceed ``max_groups_per_user``; and
    ``over_quota_users`` cannot be given their access within the quotas at all (more
    than ``max_groups_per_user * max_policies_per_group`` policies). Those still get an
    exact cover, with more groups than allowed, so that a caller can name them.
    """

    groups: tuple[MinimalGroup[U, P], ...]
    optimal: bool
    lower_bound: int
    fallback_users: frozenset[U] = frozenset()
    over_quota_users: frozenset[U] = frozenset()
    stats: MinimalStats | None = attrs.field(default=None, eq=False)
    #: What proves ``lower_bound``: ``"cover"`` (fooling sets and the relaxations of the
    #: unconstrained cover) or ``"policies per group"`` (with that quota, per component:
    #: its policies, or its largest user, in groups of at most that many).
    lower_bound_by: str = "cover"

    def __repr__(self) -> str:
        proof = "optimal" if self.optimal else f"lower bound {self.lower_bound}"
        extra = ""
        if self.fallback_users:
            extra += f", {len(self.fallback_users)} fallback users"
        if self.over_quota_users:
            extra += f", {len(self.over_quota_users)} over quota"
        return f"<MinimalResult {len(self.groups)} groups, {proof}{extra}>"

    def groups_of(self, user: U) -> tuple[MinimalGroup[U, P], ...]:
        """The groups ``user`` is a member of, in result order."""
        return tuple(group for group in self.groups if user in group.members)


def check_cover(
    assignments: Mapping[U, Collection[P]],
    groups: Iterable[MinimalGroup[U, P]],
) -> None:
    """Raise ``ValueError`` naming the first way ``groups`` fail to reproduce ``assignments``.

    Checked: every member is a known user; no group gives a member a policy it does
    not hold (widening); every user gets all of its policies (gap).
    """
    wanted = {user: frozenset(policies) for user, policies in assignments.items()}
    granted: dict[U, set[P]] = {}
    for index, group in enumerate(groups):
        for user in sorted(group.members, key=_id_key):
            if user not in wanted:
                raise ValueError(f"group {index} has member {user!r}, who is not a known user")
            extra = group.policies - wanted[user]
            if extra:
                raise ValueError(
                    f"group {index} widens {user!r}: grants {_sorted_repr(extra)} "
                    "which the user does not hold"
                )
            granted.setdefault(user, set()).update(group.policies)
    for user in sorted(wanted, key=_id_key):
        missing = wanted[user] - granted.get(user, set())
        if missing:
            raise ValueError(f"user {user!r} is missing {_sorted_repr(missing)}")


# ---------------------------------------------------------------------------
# Bit sets: a row, a column, a set of edges are Python ints
# ---------------------------------------------------------------------------


def _bits(mask: int) -> list[int]:
    """Positions of the set bits of ``mask``, lowest first."""
    positions: list[int] = []
    if mask.bit_count() < 40:
        while mask:
            low = mask & -mask
            positions.append(low.bit_length() - 1)
            mask ^= low
        return positions
    # Peeling bits off a big int copies it each time; a string scan does not.
    text = bin(mask)[:1:-1]
    found = text.find("1")
    while found != -1:
        positions.append(found)
        found = text.find("1", found + 1)
    return positions


def _mask(positions: Iterable[int]) -> int:
    """The int with exactly these bits set (built in one go: ``|=`` per bit is quadratic)."""
    ordered = sorted(set(positions))
    if not ordered:
        return 0
    data = bytearray(ordered[-1] // 8 + 1)
    for position in ordered:
        data[position >> 3] |= 1 << (position & 7)
    return int.from_bytes(data, "little")


def _transpose(rows: Sequence[int]) -> dict[int, int]:
    """Column -> mask of the positions of the rows that hold it."""
    columns: dict[int, int] = {}
    for position, row in enumerate(rows):
        bit = 1 << position
        for column in _bits(row):
            columns[column] = columns.get(column, 0) | bit
    return columns


def _held_together(columns: Mapping[int, int]) -> dict[int, int]:
    """A rank of columns (from :func:`_transpose`) that puts those held by the same rows
    side by side, most held first: cut in this order, pieces of different sets coincide."""
    order = sorted(columns, key=lambda c: (-columns[c].bit_count(), columns[c], c))
    return {column: place for place, column in enumerate(order)}


def _chunks(mask: int, size: int | None, rank: Mapping[int, int] | None = None) -> list[int]:
    """``mask`` cut into pieces of at most ``size`` bits, taken in ``rank`` order."""
    if not mask:
        return []
    if size is None or mask.bit_count() <= size:
        return [mask]
    order = _bits(mask)
    if rank is not None:
        order.sort(key=rank.__getitem__)
    pieces: list[int] = []
    for start in range(0, len(order), size):
        piece = 0
        for bit in order[start : start + size]:
            piece |= 1 << bit
        pieces.append(piece)
    return pieces


# ---------------------------------------------------------------------------
# Kernelisation
# ---------------------------------------------------------------------------


def _union_of_subsets(masks: Sequence[int]) -> list[bool]:
    """For distinct ``masks``: is each the union of the other masks strictly inside it?"""
    frequency: dict[int, int] = {}
    for mask in masks:
        for bit in _bits(mask):
            frequency[bit] = frequency.get(bit, 0) + 1
    # A subset of m holds its rarest bit, which m holds too: look only there.
    buckets: dict[int, list[int]] = {}
    for mask in masks:
        rarest = min(_bits(mask), key=lambda bit: (frequency[bit], bit))
        buckets.setdefault(rarest, []).append(mask)
    flags: list[bool] = []
    for mask in masks:
        covered = 0
        for bit in _bits(mask):
            for other in buckets.get(bit, ()):
                if other != mask and not other & ~mask:
                    covered |= other
            if covered == mask:
                break
        flags.append(covered == mask)
    return flags


def _drop_union_rows(rows: Sequence[int]) -> list[int]:
    # All at once is sound: by induction on size, each dropped row is the union of
    # kept rows inside it, so its groups come for free from theirs.
    return [row for row, union in zip(rows, _union_of_subsets(rows), strict=True) if not union]


@attrs.frozen
class _RestoreColumns:
    """Undo of one round of column removals: put each back where all supporters hold it.

    ``stage`` maps each column present before the round to its supporting rows (a mask
    over that round's rows); ``removed`` maps a removed column's support to the columns.
    """

    stage: dict[int, int]
    removed: dict[int, int]

    def apply(self, intents: list[int]) -> list[int]:
        # An intent only has columns of this round or later, so ``stage`` knows them all.
        # A removed column is added where every row that holds the intent holds it too:
        # no widening, and (being a union of kept columns) its own rows get covered.
        restored: list[int] = []
        for intent in intents:
            support = -1
            for column in _bits(intent):
                support &= self.stage[column]
            for rows, columns in self.removed.items():
                if not support & ~rows:
                    intent |= columns
            restored.append(intent)
        return restored


def _kernelize(rows: Sequence[int]) -> tuple[list[int], list[_RestoreColumns]]:
    """The rows that still need deciding, and the log to turn their cover into ours."""
    log: list[_RestoreColumns] = []
    current = _drop_union_rows(sorted(set(rows)))
    while True:
        columns = _transpose(current)
        by_support: dict[int, int] = {}
        for column in sorted(columns):
            by_support[columns[column]] = by_support.get(columns[column], 0) | (1 << column)
        supports = sorted(by_support)
        removed: dict[int, int] = {}
        for support, union in zip(supports, _union_of_subsets(supports), strict=True):
            same = by_support[support]
            # Identical columns keep one representative; a union column goes entirely.
            gone = same if union else same & ~(same & -same)
            if gone:
                removed[support] = gone
        if not removed:
            return current, log
        log.append(_RestoreColumns(stage=columns, removed=removed))
        dropped = 0
        for gone in removed.values():
            dropped |= gone
        current = _drop_union_rows(sorted({row & ~dropped for row in current} - {0}))


# ---------------------------------------------------------------------------
# Set cover: elements and candidate sets are bits; a solution is a list of set ids
# ---------------------------------------------------------------------------


def _coverage(sets: Mapping[int, int]) -> dict[int, int]:
    """Element -> mask of the sets that cover it."""
    cover: dict[int, int] = {}
    for name, members in sets.items():
        bit = 1 << name
        for element in _bits(members):
            cover[element] = cover.get(element, 0) | bit
    return cover


@attrs.frozen
class _Reduced:
    forced: list[int]
    sets: dict[int, int]
    universe: int
    cover: dict[int, int]


def _reduce(sets: dict[int, int], universe: int, deadline: float | None = None) -> _Reduced | None:
    """Apply the classic set-cover reductions until none applies; None if infeasible.

    Each keeps the optimum: a set that alone covers an element must be taken; an
    element covered by every set that covers another is covered for free; a set inside
    another set is never needed (unit costs). Ties keep the lower id, so it is exact.
    Past ``deadline`` it stops early, which leaves more to search but loses nothing.
    """
    forced: list[int] = []
    while True:
        if not universe:
            return _Reduced(forced, {}, 0, {})
        cover = _coverage(sets)
        if len(cover) != universe.bit_count():
            return None
        if deadline is not None and time.monotonic() > deadline:
            return _Reduced(forced, sets, universe, cover)
        essential = {c.bit_length() - 1 for c in cover.values() if not c & (c - 1)}
        if essential:
            for name in sorted(essential):
                forced.append(name)
                universe &= ~sets[name]
            sets = {n: m & universe for n, m in sets.items() if n not in essential and m & universe}
            continue
        # Elements with the same covering sets are one element: keep the lowest.
        classes: dict[int, int] = {}
        for element in sorted(cover):
            classes.setdefault(cover[element], element)
        kept = _mask(classes.values())
        dominated: list[int] = []
        for covering, element in classes.items():
            inside = kept & ~(1 << element)
            for name in _bits(covering):
                inside &= sets[name]
            dominated.extend(_bits(inside))
        if dominated or len(classes) < len(cover):
            universe &= kept & ~_mask(dominated)
            sets = {n: m & universe for n, m in sets.items() if m & universe}
            continue
        redundant: list[int] = []
        for name, members in sets.items():
            supersets = -1
            for element in _bits(members):
                supersets &= cover[element]
            for other in _bits(supersets & ~(1 << name)):
                if sets[other] != members or other < name:
                    redundant.append(name)
                    break
        if redundant:
            for name in redundant:
                del sets[name]
            continue
        return _Reduced(forced, sets, universe, cover)


def _independent_elements(sets: Mapping[int, int], cover: Mapping[int, int]) -> int:
    """Greedy elements no two of which share a set: each needs a set of its own."""
    blocked = 0
    count = 0
    for element in sorted(cover, key=lambda e: (cover[e].bit_count(), e)):
        if blocked >> element & 1:
            continue
        count += 1
        for name in _bits(cover[element]):
            blocked |= sets[name]
    return count


def _prune(chosen: list[int], sets: Mapping[int, int]) -> list[int]:
    """Drop sets whose elements the others cover, latest (least useful) first."""
    count: dict[int, int] = {}
    for name in chosen:
        for element in _bits(sets[name]):
            count[element] = count.get(element, 0) + 1
    kept = list(chosen)
    for name in reversed(chosen):
        elements = list(_bits(sets[name]))
        if all(count[element] > 1 for element in elements):
            kept.remove(name)
            for element in elements:
                count[element] -= 1
    return kept


def _greedy(sets: Mapping[int, int], universe: int) -> list[int]:
    """Most new elements first (lowest id on ties), then redundant sets pruned."""
    heap = [(-(members & universe).bit_count(), name) for name, members in sets.items()]
    heapq.heapify(heap)
    chosen: list[int] = []
    while universe:
        negative_gain, name = heapq.heappop(heap)
        gain = (sets[name] & universe).bit_count()
        if gain != -negative_gain:
            # Gains only shrink, so a stale entry is re-queued at its true gain.
            heapq.heappush(heap, (-gain, name))
            continue
        if not gain:
            raise AssertionError("set cover has an uncoverable element")  # pragma: no cover
        chosen.append(name)
        universe &= ~sets[name]
    return _prune(chosen, sets)


@attrs.define
class _Frame:
    chosen: list[int]
    sets: dict[int, int]
    universe: int
    branches: list[int]
    next: int = 0  # index of the next branch to try


def _branch_and_bound(
    sets: dict[int, int],
    universe: int,
    target: int,
    deadline: float | None,
    node_limit: int | None,
    weights: Mapping[int, float],
    floor: int,
) -> tuple[list[int] | None, bool]:
    """Depth-first search, reducing at every node, for a cover of fewer than ``target``.

    ``weights`` are Lagrangian multipliers from the root: with them every node gets a
    bound, and a set whose reduced cost alone lifts that bound to the incumbent's size
    cannot be in a better cover, so it is dropped before branching.

    Returns the best cover found (None if none beat ``target``) and whether the search
    finished, in which case nothing smaller exists; it stops at a cover of ``floor``
    sets, a known lower bound.
    """
    best: list[int] | None = None
    limit = target
    nodes = 0

    def expand(chosen: list[int], sets: dict[int, int], universe: int) -> _Frame | None:
        nonlocal best, limit
        while True:
            reduced = _reduce(sets, universe)
            if reduced is None:
                return None
            chosen = chosen + reduced.forced
            if not reduced.universe:
                if len(chosen) < limit:
                    best, limit = chosen, len(chosen)
                return None
            bound = len(chosen) + _independent_elements(reduced.sets, reduced.cover)
            if bound >= limit:
                return None
            value, costs = _relaxed(reduced.sets, reduced.universe, weights)
            if len(chosen) + math.ceil(value - 1e-6) >= limit:
                return None
            hopeless = {
                name
                for name, cost in costs.items()
                if cost > 0 and len(chosen) + math.ceil(value + cost - 1e-6) >= limit
            }
            if not hopeless:
                break
            sets = {n: m for n, m in reduced.sets.items() if n not in hopeless}
            universe = reduced.universe
        cover = reduced.cover
        # Branch on the element with the fewest ways to be covered.
        element = min(cover, key=lambda e: (cover[e].bit_count(), e))
        # Cheapest under the relaxation first: where good covers are usually found.
        options = sorted(
            _bits(cover[element]), key=lambda n: (costs[n], -reduced.sets[n].bit_count(), n)
        )
        return _Frame(chosen, reduced.sets, reduced.universe, options)

    stack: list[_Frame] = []
    root = expand([], sets, universe)
    if root is not None:
        stack.append(root)
    while stack:
        frame = stack[-1]
        if frame.next == len(frame.branches) or len(frame.chosen) + 1 >= limit:
            stack.pop()
            continue
        nodes += 1
        if (deadline is not None and time.monotonic() > deadline) or (
            node_limit is not None and nodes > node_limit
        ):
            return best, False
        pick = frame.branches[frame.next]
        # Later siblings exclude earlier picks, so no cover is visited twice.
        excluded = set(frame.branches[: frame.next])
        frame.next += 1
        left = frame.universe & ~frame.sets[pick]
        child_sets = {
            n: m & left
            for n, m in frame.sets.items()
            if n != pick and n not in excluded and m & left
        }
        child = expand([*frame.chosen, pick], child_sets, left)
        if limit <= floor:
            return best, True
        if child is not None:
            stack.append(child)
    return best, True


def _load_highs() -> Any | None:
    """The optional MIP solver, or None; tests replace this to take the fallback path."""
    try:
        return importlib.import_module("highspy")
    except ImportError:
        return None


def _highs_cover(
    highspy: Any,
    sets: Mapping[int, int],
    universe: int,
    deadline: float | None,
    node_limit: int | None = None,
) -> tuple[list[int] | None, int]:
    """Solve the set cover as a MIP with HiGHS: (a cover or None, a lower bound)."""
    names = sorted(sets)
    row_of = {element: row for row, element in enumerate(_bits(universe))}
    starts = [0]
    index: list[int] = []
    for name in names:
        index.extend(row_of[element] for element in _bits(sets[name]))
        starts.append(len(index))
    lp = highspy.HighsLp()
    lp.num_col_ = len(names)
    lp.num_row_ = len(row_of)
    lp.col_cost_ = [1.0] * len(names)
    lp.col_lower_ = [0.0] * len(names)
    lp.col_upper_ = [1.0] * len(names)
    lp.row_lower_ = [1.0] * len(row_of)
    lp.row_upper_ = [highspy.kHighsInf] * len(row_of)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = starts
    lp.a_matrix_.index_ = index
    lp.a_matrix_.value_ = [1.0] * len(index)
    lp.integrality_ = [highspy.HighsVarType.kInteger] * len(names)
    # The bare binding: the Python wrapper's constructor prints a banner to stdout.
    solver = getattr(highspy, "_Highs", highspy.Highs)()
    solver.setOptionValue("output_flag", False)
    solver.setOptionValue("random_seed", 0)
    # The objective is a count: any gap under 1 is a proof, and a relative gap is not.
    solver.setOptionValue("mip_rel_gap", 0.0)
    solver.setOptionValue("mip_abs_gap", 0.999)
    if deadline is not None:
        solver.setOptionValue("time_limit", max(0.01, deadline - time.monotonic()))
    if node_limit is not None:
        solver.setOptionValue("mip_max_nodes", node_limit)
    solver.passModel(lp)
    solver.run()
    info = solver.getInfo()
    chosen: list[int] | None = None
    if info.primal_solution_status == 2:  # feasible
        values = solver.getSolution().col_value
        chosen = [name for name, value in zip(names, values, strict=True) if value > 0.5]
        covered = 0
        for name in chosen:
            covered |= sets[name]
        if covered != universe:  # pragma: no cover - a solver bug; never trust it blindly
            chosen = None
    # Trust the bound, not the status: the bound is what proves a count optimal.
    bound = info.mip_dual_bound
    return chosen, max(math.ceil(bound - 1e-6), 0) if math.isfinite(bound) else 0


def _lagrangian(
    sets: Mapping[int, int], universe: int, upper: int, deadline: float | None
) -> tuple[int, list[int] | None, dict[int, float]]:
    """A lower bound near the LP relaxation's, and maybe a cover of fewer than ``upper``.

    Subgradient ascent on the Lagrangian relaxation (Beasley 1990): for multipliers
    u >= 0 on the elements, sum(u) + sum over sets of min(0, 1 - u(set)) is below every
    cover. The sets the relaxation picks, completed greedily and pruned, are often a
    better cover than plain greedy. Pure Python, so that the fallback without a MIP
    solver can still prove optima and find good covers.
    """
    names = list(sets)
    elements = _bits(universe)
    index = {element: i for i, element in enumerate(elements)}
    members = [[index[e] for e in _bits(sets[name])] for name in names]
    covering: list[int] = [0] * len(elements)
    for listed in members:
        for i in listed:
            covering[i] += 1
    # Start from the dual-feasible 1/(sets covering e), a bound in itself.
    u = [1.0 / count for count in covering]
    best = 0.0
    best_u = u
    found: list[int] | None = None
    step = 2.0
    stall = 0
    for iteration in range(_LAGRANGE_ITERATIONS):
        if deadline is not None and iteration % 16 == 0 and time.monotonic() > deadline:
            break
        value = sum(u)
        reduced = [1.0 - sum(u[i] for i in listed) for listed in members]
        picked = [k for k, cost in enumerate(reduced) if cost < 0]
        value += sum(reduced[k] for k in picked)
        if value > best + 1e-9:
            best, best_u, stall = value, u, 0
        else:
            stall += 1
            if stall >= 20:
                step, stall = step / 2, 0
        if iteration % 4 == 0:
            cover = _complete(names, sets, universe, picked, reduced)
            if len(cover) < upper:
                found, upper = cover, len(cover)
        if math.ceil(best - 1e-6) >= upper or step < 1e-4:
            break
        gradient = [1.0] * len(elements)
        for k in picked:
            for i in members[k]:
                gradient[i] -= 1.0
        norm = sum(g * g for g in gradient)
        if not norm:
            break  # the relaxation picked an exact partition: u is optimal
        move = step * (upper - value) / norm
        u = [max(0.0, x + move * g) for x, g in zip(u, gradient, strict=True)]
    weights = {element: best_u[i] for i, element in enumerate(elements)}
    return math.ceil(best - 1e-6), found, weights


def _relaxed(
    sets: Mapping[int, int], universe: int, weights: Mapping[int, float]
) -> tuple[float, dict[int, float]]:
    """The Lagrangian value for fixed multipliers, and each set's reduced cost."""
    value = sum(weights[e] for e in _bits(universe))
    costs: dict[int, float] = {}
    for name, members in sets.items():
        cost = 1.0 - sum(weights[e] for e in _bits(members))
        costs[name] = cost
        if cost < 0:
            value += cost
    return value, costs


def _complete(
    names: Sequence[int],
    sets: Mapping[int, int],
    universe: int,
    picked: Sequence[int],
    reduced: Sequence[float],
) -> list[int]:
    """The relaxation's picks made a cover: greedy for the rest, then drop the redundant."""
    chosen = [names[k] for k in picked]
    left = universe
    for name in chosen:
        left &= ~sets[name]
    if left:
        rest = {name: sets[name] & left for name in names if sets[name] & left}
        chosen += _greedy(rest, left)
    cost = {name: reduced[k] for k, name in enumerate(names)}
    # Prune the least attractive first: highest reduced cost at the end of the list.
    chosen.sort(key=lambda name: (cost[name], name))
    return _prune(chosen, sets)


@attrs.frozen
class _Cover:
    chosen: list[int]
    lower_bound: int
    optimal: bool
    forced: int
    method: str


def _solve_cover(
    sets: Sequence[int],
    universe: int,
    *,
    deadline: float | None,
    highs: Any | None,
    node_limit: int | None = None,
    known: Sequence[int] = (),
) -> _Cover:
    """Fewest of ``sets`` whose union is ``universe`` (which they must be able to cover).

    ``known`` is a cover the caller already has; the search only has to beat it.
    """
    # Sets that cover nothing would make the dominance tests see everything as a superset.
    reduced = _reduce(
        {n: m & universe for n, m in enumerate(sets) if m & universe}, universe, deadline
    )
    if reduced is None:
        raise AssertionError("set cover is infeasible")  # pragma: no cover
    forced = reduced.forced
    if not reduced.universe:
        return _Cover(forced, len(forced), True, len(forced), "reductions")
    # Forced sets are in every optimal cover, so bounds add up: forced + the rest's.
    lower = len(forced) + _independent_elements(reduced.sets, reduced.cover)
    best = forced + _greedy(reduced.sets, reduced.universe)
    if known and len(known) < len(best):
        best = list(known)
    method = "greedy"

    def result(proven: bool) -> _Cover:
        bound = len(best) if proven else lower
        return _Cover(best, bound, proven, len(forced), method)

    if len(best) == lower:
        return result(True)
    if deadline is not None and time.monotonic() > deadline:
        return result(False)
    if highs is None and node_limit != 0:
        bound, better, weights = _lagrangian(
            reduced.sets, reduced.universe, len(best) - len(forced), deadline
        )
        if better is not None:
            best = forced + better
        if len(forced) + bound > lower:
            lower = len(forced) + bound
        if better is not None or len(best) == lower:
            method = "lagrangian"
        if len(best) == lower:
            return result(True)
    if highs is not None:
        method = "highs"
        found, core_lower = _highs_cover(
            highs, reduced.sets, reduced.universe, deadline, node_limit
        )
        if found is not None and len(forced) + len(found) < len(best):
            best = forced + found
        lower = max(lower, len(forced) + core_lower)
        return result(len(best) == lower)
    if node_limit == 0:
        return result(False)
    method = "branch-and-bound"
    found, complete = _branch_and_bound(
        reduced.sets,
        reduced.universe,
        len(best) - len(forced),
        deadline,
        node_limit,
        weights,
        lower - len(forced),
    )
    if found is not None:
        best = forced + found
    return result(complete)


# ---------------------------------------------------------------------------
# One component of the kernel
# ---------------------------------------------------------------------------


def _support(intent: int, columns: Mapping[int, int]) -> int:
    """Mask of the rows that hold every column of ``intent``."""
    support = -1
    for column in _bits(intent):
        support &= columns[column]
    return support


def _candidates(
    rows: Sequence[int],
    columns: Mapping[int, int],
    uncovered: Sequence[int],
    deadline: float | None,
) -> tuple[list[int], bool]:
    """Intents of the maximal bicliques that cover an uncovered edge; and are they all.

    An intent is an intersection of rows. If one covers the uncovered edge (r, c), so
    does every intersection between it and r, so a search from the rows with uncovered
    edges, intersecting with a row at each step and dropping what covers nothing new,
    finds them all while never enumerating the (often much larger) rest of the lattice.
    """
    # Column -> rows where that edge is still uncovered.
    open_rows = _transpose(uncovered)
    frontier = [rows[p] for p in range(len(rows)) if uncovered[p]]
    useful: dict[int, bool] = dict.fromkeys(frontier, True)
    found: list[int] = list(frontier)
    expanded = 0
    while frontier:
        fresh: list[int] = []
        for intent in frontier:
            # Split the rows that meet ``intent`` by which of its columns they hold: one
            # block per distinct intersection, a few big-int operations instead of a
            # loop over every row.
            near = 0
            for column in _bits(intent):
                near |= columns[column]
            blocks = [(near, intent)]
            for column in _bits(intent):
                holders = columns[column]
                split: list[tuple[int, int]] = []
                for block, meet in blocks:
                    inside = block & holders
                    if inside != block:
                        split.append((block & ~holders, meet & ~(1 << column)))
                    if inside:
                        split.append((inside, meet))
                blocks = split
            for _, meet in blocks:
                if meet in useful or not meet:
                    continue
                support = _support(meet, columns)
                known = any(support & open_rows.get(c, 0) for c in _bits(meet))
                useful[meet] = known
                if known:
                    found.append(meet)
                    fresh.append(meet)
            expanded += 1
            if len(found) >= _CONCEPT_CAP or (
                deadline is not None and expanded % 64 == 0 and time.monotonic() > deadline
            ):
                return found, False
        frontier = fresh
    return found, True


def _fooling_bound(rows: Sequence[int]) -> int:
    """Greedy fooling set: edges no two of which fit in one biclique.

    Edges (r, c) and (r', c') share a biclique exactly when r holds c' and r' holds c.
    This bound holds whatever candidates were enumerated.
    """
    columns = _transpose(rows)
    available = list(rows)
    count = 0
    for position in sorted(range(len(rows)), key=lambda i: (rows[i].bit_count(), i)):
        if not available[position]:
            continue
        column = min(_bits(available[position]), key=lambda c: (columns[c].bit_count(), c))
        count += 1
        for other in _bits(columns[column]):
            available[other] &= ~rows[position]
    return count


@attrs.frozen
class _Part:
    intents: list[int]
    lower_bound: int
    optimal: bool
    candidates: int
    forced: int
    method: str


def _solve_component(rows: Sequence[int], deadline: float | None, highs: Any | None) -> _Part:
    """Fewest bicliques covering ``rows`` (a connected kernel, columns numbered locally)."""
    if len(rows) == 1:
        return _Part([rows[0]], 1, True, 1, 1, "reductions")
    columns = _transpose(rows)
    # Every biclique over the edge (r, c) lies between the one of all rows holding c
    # and the one of row r alone; when those coincide it is the only one, so it is in
    # every cover. Taking these first is free and leaves few edges to decide.
    present = set(rows)
    essential: list[int] = []
    for column in sorted(columns):
        closure = -1
        for position in _bits(columns[column]):
            closure &= rows[position]
        if closure in present:
            present.discard(closure)
            essential.append(closure)
    uncovered = list(rows)
    for intent in essential:
        for position in _bits(_support(intent, columns)):
            uncovered[position] &= ~intent
    if not any(uncovered):
        return _Part(essential, len(essential), True, len(essential), len(essential), "reductions")
    # Essential bicliques are in every cover, so they count towards any bound too.
    bound = max(_fooling_bound(rows), len(essential))
    if deadline is not None and time.monotonic() > deadline:
        fallback = essential + [row for row, left in zip(rows, uncovered, strict=True) if left]
        return _Part(fallback, bound, len(fallback) == bound, 0, len(essential), "timeout")
    intents, complete = _candidates(rows, columns, uncovered, deadline)
    seeds = {row for row, left in zip(rows, uncovered, strict=True) if left}
    # The uncovered edges, numbered row by row; a candidate covers those in its rectangle.
    offsets: list[int] = []
    places: list[dict[int, int]] = []
    total = 0
    for left in uncovered:
        offsets.append(total)
        places.append({column: i for i, column in enumerate(_bits(left))})
        total += left.bit_count()
    sets: list[int] = []
    for intent in intents:
        edges = 0
        for position in _bits(_support(intent, columns)):
            offset, place = offsets[position], places[position]
            for column in _bits(intent & uncovered[position]):
                edges |= 1 << (offset + place[column])
        sets.append(edges)
    # One group per row with uncovered edges always works; the search has to beat it.
    own = [name for name, intent in enumerate(intents) if intent in seeds]
    cover = _solve_cover(sets, (1 << total) - 1, deadline=deadline, highs=highs, known=own)
    chosen = essential + [intents[name] for name in cover.chosen]
    forced = len(essential) + cover.forced
    if complete:
        # Over all maximal bicliques the set-cover bound is a bound on the real problem.
        lower = max(bound, len(essential) + cover.lower_bound)
        method = cover.method
    else:
        lower = bound
        method = f"{cover.method} (truncated candidates)"
    proven = len(chosen) == lower or (complete and cover.optimal)
    candidates = len(essential) + len(intents)
    return _Part(chosen, len(chosen) if proven else lower, proven, candidates, forced, method)


def _compress(mask: int, place: Mapping[int, int]) -> int:
    local = 0
    for bit in _bits(mask):
        local |= 1 << place[bit]
    return local


def _expand(local: int, columns: Sequence[int]) -> int:
    mask = 0
    for bit in _bits(local):
        mask |= 1 << columns[bit]
    return mask


def _components(rows: Sequence[int]) -> list[list[int]]:
    """Positions of ``rows`` grouped by connected component of the row–column graph."""
    import networkx as nx  # imported when used: it is most of ``import groupify``'s time

    graph = nx.Graph()
    for position, row in enumerate(rows):
        graph.add_node(("r", position))
        graph.add_edges_from((("r", position), ("c", column)) for column in _bits(row))
    parts = [
        sorted(position for kind, position in part if kind == "r")
        for part in nx.connected_components(graph)
    ]
    return sorted(parts)


# ---------------------------------------------------------------------------
# The whole call
# ---------------------------------------------------------------------------


def _closure(intent: int, rows: Sequence[int], columns: Mapping[int, int]) -> int:
    """The largest intent held by exactly the rows that hold ``intent``."""
    support = -1
    for column in _bits(intent):
        support &= columns[column]
    closed = -1
    for position in _bits(support):
        closed &= rows[position]
    return closed


def _positive(name: str, value: object, least: int = 1) -> None:
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int) or value < least
    ):
        raise InputError(f"{name} must be an integer >= {least} or None, not {value!r}")


def _group_limits(limits: int | Mapping[U, int] | None) -> Callable[[U], int | None]:
    """Each user's group limit, from one number for all or a mapping of some."""
    if isinstance(limits, Mapping):
        for user in sorted(limits, key=_id_key):
            _positive(f"max_groups_per_user[{user!r}]", limits[user], least=0)
        return limits.get
    _positive("max_groups_per_user", limits)
    return lambda _user: limits


def minimal_groups(
    assignments: Mapping[U, Collection[P]],
    *,
    max_groups_per_user: int | Mapping[U, int] | None = None,
    max_policies_per_group: int | None = None,
    time_limit: float | None = None,
    solver: Solver = "auto",
) -> MinimalResult[U, P]:
    """The fewest groups whose unions give every user exactly its policies.

    ``assignments`` maps each user to the policies it holds; ids are any hashable
    values. Users with no policies get no group. Every group's policies are held by
    all its members, and every user gets exactly its own set.

    ``max_groups_per_user`` and ``max_policies_per_group`` are honoured (IAM allows 10
    of each by default); users that the shared groups cannot serve within them get
    groups of their own policies (``fallback_users``), and users no assignment can
    serve are named in ``over_quota_users``. ``max_groups_per_user`` may also map users
    to their own limits (0 allowed), e.g. what their existing groups leave; users it
    does not name have no limit.

    ``time_limit`` (seconds) bounds the search; the best cover found is returned, with
    ``optimal`` False unless the bound was met. Without it the exact search runs to the
    end, which is quick on real data but exponential in the worst case.

    ``solver`` picks the exact method: ``"highs"`` (HiGHS MIP, needs ``highspy``),
    ``"python"`` (pure-Python branch and bound) or ``"auto"`` (HiGHS when installed).

    The result depends only on the input's content, not on its iteration order.
    """
    started = time.monotonic()
    limit_of = _group_limits(max_groups_per_user)
    _positive("max_policies_per_group", max_policies_per_group)
    if time_limit is not None and not time_limit >= 0:
        raise InputError(f"time_limit must be a non-negative number or None, not {time_limit!r}")
    # The search stops early enough to leave time for building the memberships after it,
    # which takes time in proportion to the data whatever the search found.
    deadline = None if time_limit is None else started + _SEARCH_SHARE * time_limit
    if solver not in ("auto", "highs", "python"):
        raise InputError(f"solver must be 'auto', 'highs' or 'python', not {solver!r}")
    highs = None if solver == "python" else _load_highs()
    if solver == "highs" and highs is None:
        raise InputError(
            "solver='highs' needs the optional dependency highspy (pip install 'groupify[exact]')"
        )

    policies: list[P] = sorted(
        {policy for held in assignments.values() for policy in held}, key=_id_key
    )
    bit_of = {policy: bit for bit, policy in enumerate(policies)}
    users_of: dict[int, list[U]] = {}
    for user in sorted(assignments, key=_id_key):
        mask = 0
        for policy in assignments[user]:
            mask |= 1 << bit_of[policy]
        if mask:
            users_of.setdefault(mask, []).append(user)
    rows = sorted(users_of, key=lambda m: (m.bit_count(), m))

    kernel, log = _kernelize(rows)
    parts: list[_Part] = []
    kernel_used: list[int] = []  # the columns of each part
    intents: list[int] = []
    sizes: list[int] = []
    for positions in _components(kernel):
        sizes.append(len(positions))
        members = [kernel[p] for p in positions]
        used = 0
        for row in members:
            used |= row
        local_columns = list(_bits(used))
        place = {column: i for i, column in enumerate(local_columns)}
        part = _solve_component([_compress(row, place) for row in members], deadline, highs)
        parts.append(part)
        kernel_used.append(used)
        intents.extend(_expand(intent, local_columns) for intent in part.intents)
    for step in reversed(log):
        intents = step.apply(intents)

    columns = _transpose(rows)
    # Maximal groups (most policies for the same members) let users fit in fewer groups,
    # as long as they stay within the size quota.
    closed: set[int] = set()
    for intent in intents:
        full = _closure(intent, rows, columns)
        fits = max_policies_per_group is None or full.bit_count() <= max_policies_per_group
        closed.add(full if fits else intent)
    if max_policies_per_group is not None:
        closed = set(_size_capped(rows, sorted(closed), max_policies_per_group, deadline, highs))
    choices = sorted(closed, key=lambda m: (m.bit_count(), m))

    # Users with one set share its groups, unless their group limits differ.
    slot_rows: list[int] = []
    slot_limits: list[int | None] = []
    slot_users: list[list[U]] = []
    for row in rows:
        by_limit: dict[int | None, list[U]] = {}
        for user in users_of[row]:
            by_limit.setdefault(limit_of(user), []).append(user)
        for limit in sorted(by_limit, key=lambda n: (n is None, n or 0)):
            slot_rows.append(row)
            slot_limits.append(limit)
            slot_users.append(by_limit[limit])
    assignment, fallback_slots, over_slots = _assign(
        slot_rows, slot_limits, choices, max_policies_per_group, deadline
    )
    bounds = _component_bounds(rows, kernel_used, parts, max_policies_per_group)
    lower = sum(bound for _, bound, _ in bounds)
    bound_by = "policies per group" if any(by != "cover" for *_, by in bounds) else "cover"
    capped = max_policies_per_group is not None or any(n is not None for n in slot_limits)
    if capped and highs is not None:
        # The pure-Python path's heuristic cover can differ (other solvers inside): it is
        # a second incumbent, so that HiGHS never ends with more groups than it.
        from groupify.mining import capped as capped_stage

        budget = capped_stage.SEARCH_SECONDS
        if deadline is not None:
            budget = max(0.0, min(budget, deadline - time.monotonic()))
        plain = minimal_groups(
            assignments,
            max_groups_per_user=max_groups_per_user,
            max_policies_per_group=max_policies_per_group,
            time_limit=budget,
            solver="python",
        )
        alternative: list[list[int]] = []
        plain_fallback: list[int] = []
        groups_of_user: dict[U, list[int]] = {}
        for group in plain.groups:
            mask = _mask(bit_of[policy] for policy in group.policies)
            for user in group.members:
                groups_of_user.setdefault(user, []).append(mask)
        for position, users in enumerate(slot_users):
            alternative.append(sorted(groups_of_user.get(users[0], [])))
            if users[0] in plain.fallback_users:
                plain_fallback.append(position)
        lower, by_lp, fallback_slots = _capped_search(
            highs,
            slot_rows,
            slot_limits,
            assignment,
            fallback_slots,
            over_slots,
            bounds,
            max_policies_per_group,
            deadline,
            (alternative, plain_fallback),
        )
        if by_lp:
            bound_by = "linear programming"
    members_of: dict[int, list[U]] = {}
    for users, picked in zip(slot_users, assignment, strict=True):
        for intent in picked:
            members_of.setdefault(intent, []).extend(users)
    ordered = sorted(members_of, key=lambda m: (-len(members_of[m]), m.bit_count(), m))
    groups = tuple(
        MinimalGroup(
            policies=frozenset(policies[bit] for bit in _bits(intent)),
            members=frozenset(members_of[intent]),
        )
        for intent in ordered
    )
    stats = MinimalStats(
        users=sum(len(found) for found in users_of.values()),
        policies=len(policies),
        distinct_sets=len(rows),
        kernel_sets=len(kernel),
        components=len(parts),
        largest_component=max(sizes, default=0),
        candidates=sum(part.candidates for part in parts),
        forced=sum(part.forced for part in parts),
        methods=tuple(sorted({part.method for part in parts})),
        seconds=time.monotonic() - started,
    )
    return MinimalResult(
        groups=groups,
        optimal=len(groups) == lower,
        lower_bound=lower,
        fallback_users=frozenset(u for p in fallback_slots for u in slot_users[p]),
        over_quota_users=frozenset(u for p in over_slots for u in slot_users[p]),
        stats=stats,
        lower_bound_by=bound_by,
    )


def _component_bounds(
    rows: Sequence[int],
    kernel_used: Sequence[int],
    parts: Sequence[_Part],
    max_policies: int | None,
) -> list[tuple[int, int, str]]:
    """Per connected component: (its policies as a mask, a lower bound, what proved it).

    A group's members hold all its policies, so a group lies within one connected
    component of the users ↔ policies graph, and the fewest groups of the whole is the
    sum over components. In a component, any cover needs at least what its kernel parts
    prove without quotas (the kernel keeps each component's optimum, and quotas only
    remove covers); with at most *max_policies* a group, also ``ceil(policies /
    max_policies)`` (every policy in some group) and ``ceil(largest row /
    max_policies)`` (each user's policies). The bound is the largest of these.
    """
    components = _components(rows)
    component_of: dict[int, int] = {}
    columns: list[int] = []
    largest: list[int] = []
    for c, positions in enumerate(components):
        used = 0
        for position in positions:
            used |= rows[position]
            for bit in _bits(rows[position]):
                component_of.setdefault(bit, c)
        columns.append(used)
        largest.append(max(rows[p].bit_count() for p in positions))
    proven = [0] * len(components)
    for used, part in zip(kernel_used, parts, strict=True):
        if used:
            proven[component_of[_bits(used)[0]]] += part.lower_bound
    bounds: list[tuple[int, int, str]] = []
    for c in range(len(components)):
        capped = 0
        if max_policies is not None:
            capped = max(-(-columns[c].bit_count() // max_policies), -(-largest[c] // max_policies))
        if capped > proven[c]:
            bounds.append((columns[c], capped, "policies per group"))
        else:
            bounds.append((columns[c], proven[c], "cover"))
    return bounds


def _capped_search(
    highs: Any,
    slot_rows: Sequence[int],
    slot_limits: Sequence[int | None],
    assignment: list[list[int]],
    fallback_slots: list[int],
    over_slots: Sequence[int],
    bounds: Sequence[tuple[int, int, str]],
    max_policies: int | None,
    deadline: float | None,
    alternative: tuple[list[list[int]], list[int]] | None = None,
) -> tuple[int, bool, list[int]]:
    """HiGHS on each component the heuristic cover does not prove optimal (capped.py).

    Raises the bound by the LP relaxation and replaces the component's groups in
    *assignment* by the MIP's when they are fewer. *alternative* is a second heuristic
    cover (each slot's groups, and its fallback slots): a component takes it when it has
    fewer groups, and its groups join the MIP's pool. Users no assignment can fit are
    given no group limit here (they keep an exact cover either way). Returns (the lower
    bound, whether the LP raised it, the fallback slots left).
    """
    from groupify.mining import capped

    if deadline is None:
        deadline = time.monotonic() + capped.SEARCH_SECONDS
    bound_of = {mask: bound for mask, bound, _ in bounds}
    impossible = set(over_slots)
    fallback = set(fallback_slots)
    other_fallback = set(alternative[1]) if alternative else set()
    lower = 0
    by_lp = False
    for positions in _components(slot_rows):
        used = 0
        for position in positions:
            used |= slot_rows[position]
        bound = bound_of[used]
        groups = {g for position in positions for g in assignment[position]}
        others: set[int] = set()
        if alternative is not None:
            others = {g for position in positions for g in alternative[0][position]}
            if len(others) < len(groups):
                for position in positions:
                    assignment[position] = list(alternative[0][position])
                fallback.difference_update(positions)
                fallback.update(other_fallback.intersection(positions))
                groups, others = others, groups
        if len(groups) <= bound or time.monotonic() >= deadline:
            lower += bound
            continue
        rows = [slot_rows[p] for p in positions]
        limits = [None if p in impossible else slot_limits[p] for p in positions]
        cap = max_policies if max_policies is not None else max(r.bit_count() for r in rows)
        counts: list[Any] = []
        if len(rows) <= capped._LP_ROWS:
            stop = time.monotonic() + capped.LP_SECONDS
            proven, counts = capped.lp_bound(highs, rows, limits, cap, min(stop, deadline))
            if proven > bound and not impossible.intersection(positions):
                bound, by_lp = proven, True
        if len(groups) > bound and len(rows) <= capped.MIP_ROWS and time.monotonic() < deadline:
            better = capped.improve(
                highs,
                rows,
                limits,
                cap,
                [assignment[p] for p in positions],
                counts,
                deadline,
                also=others,
            )
            if better is not None:
                for position, picked in zip(positions, better, strict=True):
                    assignment[position] = picked
                fallback.difference_update(positions)
        lower += bound
    return lower, by_lp, sorted(fallback)


def _size_capped(
    rows: Sequence[int],
    intents: Sequence[int],
    max_policies: int,
    deadline: float | None,
    highs: Any | None,
) -> list[int]:
    """A cover of ``rows`` by intents of at most ``max_policies`` columns.

    Intents within the limit stay. What they leave uncovered is a new set cover, over a
    pool of pieces: the oversized intents cut two ways (in column order, and with
    columns held by the same rows side by side, so that pieces of different intents
    coincide) and each row's own remainder cut up, which makes it always feasible.
    """
    small = [intent for intent in intents if intent.bit_count() <= max_policies]
    large = [intent for intent in intents if intent.bit_count() > max_policies]
    if not large:
        return list(intents)
    columns = _transpose(rows)
    rank = _held_together(columns)
    residual: list[int] = []
    for row in rows:
        covered = 0
        for intent in small:
            if not intent & ~row:
                covered |= intent
        residual.append(row & ~covered)
    pool: dict[int, None] = {}
    for intent in large:
        pool.update(dict.fromkeys(_chunks(intent, max_policies)))
        pool.update(dict.fromkeys(_chunks(intent, max_policies, rank)))
    for left in residual:
        pool.update(dict.fromkeys(_chunks(left, max_policies, rank)))
    offsets: list[int] = []
    places: list[dict[int, int]] = []
    total = 0
    for left in residual:
        offsets.append(total)
        places.append({column: i for i, column in enumerate(_bits(left))})
        total += left.bit_count()
    if not total:
        return small
    pieces = list(pool)
    sets: list[int] = []
    for piece in pieces:
        edges = 0
        for position in _bits(_support(piece, columns)):
            offset, place = offsets[position], places[position]
            for column in _bits(piece & residual[position]):
                edges |= 1 << (offset + place[column])
        sets.append(edges)
    # A heuristic stage whatever the solver proves, so its search is kept short: by
    # nodes, and by time as a safety net (one HiGHS run took 32 s on 4,095 policies).
    stop = time.monotonic() + _POOL_SECONDS
    cover = _solve_cover(
        sets,
        (1 << total) - 1,
        deadline=stop if deadline is None else min(stop, deadline),
        highs=highs,
        node_limit=_POOL_NODE_LIMIT,
    )
    return small + [pieces[name] for name in cover.chosen]


def _assign(
    rows: Sequence[int],
    limits: Sequence[int | None],
    choices: Sequence[int],
    max_policies: int | None,
    deadline: float | None,
) -> tuple[list[list[int]], list[int], list[int]]:
    """For each row, the fewest intents that cover it, within its group limit if possible.

    ``rows`` may repeat (users with one set but different limits). Returns the intents
    per row, and the positions of the rows that needed groups of their own and of those
    no assignment can fit in the quotas (these keep the cover with the fewest groups).
    """
    frequency: dict[int, int] = {}
    for intent in choices:
        for bit in _bits(intent):
            frequency[bit] = frequency.get(bit, 0) + 1
    buckets: dict[int, list[int]] = {}
    for intent in choices:
        rarest = min(_bits(intent), key=lambda bit: (frequency[bit], bit))
        buckets.setdefault(rarest, []).append(intent)
    available = set(choices)
    fewest: dict[int, list[int]] = {}
    for row in rows:
        if row in fewest:
            continue
        if row in available:
            # A group with exactly the user's policies: one group, nothing to choose.
            fewest[row] = [row]
            continue
        inside = [i for bit in _bits(row) for i in buckets.get(bit, ()) if not i & ~row]
        inside.sort(key=lambda m: (m.bit_count(), m))
        found = _solve_cover(inside, row, deadline=deadline, highs=None, node_limit=_ROW_NODE_LIMIT)
        fewest[row] = sorted(inside[name] for name in found.chosen)
    covers = [list(fewest[row]) for row in rows]
    # More policies than the quotas allow in total: no assignment fits, say so.
    impossible = [
        position
        for position, (row, limit) in enumerate(zip(rows, limits, strict=True))
        if limit is not None
        and (
            limit == 0 or (max_policies is not None and -(-row.bit_count() // max_policies) > limit)
        )
    ]
    excluded = set(impossible)
    over = [
        position
        for position, (cover, limit) in enumerate(zip(covers, limits, strict=True))
        if limit is not None and len(cover) > limit and position not in excluded
    ]
    if not over:
        return covers, [], impossible
    # Two ways to bring users within quota; keep whichever adds fewer groups.
    best: tuple[int, int, list[list[int]], list[int]] | None = None
    for threshold in (2, None):
        trial = [list(cover) for cover in covers]
        if threshold is not None:
            _merge_pairs(trial, over, limits, max_policies, threshold)
        fallback = _fallback_rows(rows, trial, over, limits, max_policies)
        total = len({intent for cover in trial for intent in cover})
        if best is None or (total, len(fallback)) < best[:2]:
            best = (total, len(fallback), trial, fallback)
    assert best is not None
    return best[2], best[3], impossible


def _merge_pairs(
    covers: list[list[int]],
    over: Sequence[int],
    limits: Sequence[int | None],
    max_policies: int | None,
    threshold: int,
) -> None:
    """Merge the pair of groups most over-quota users share into one, until none is shared.

    Each merge adds one group and takes one group off every user that held both, so a
    pair held by many users is cheap quota; the merged group fits each of them exactly.
    """
    pending = set(over)
    holders: dict[tuple[int, int], set[int]] = {}

    def pairs(cover: Sequence[int]) -> Iterator[tuple[int, int]]:
        for first, second in itertools.combinations(sorted(cover), 2):
            if max_policies is None or (first | second).bit_count() <= max_policies:
                yield first, second

    for position in sorted(pending):
        for pair in pairs(covers[position]):
            holders.setdefault(pair, set()).add(position)
    # A max-heap of pairs by holder count; entries go stale as counts change and are
    # re-queued when popped. Pairs below the threshold never matter, so never queue.
    heap = [(-len(held), pair) for pair, held in holders.items() if len(held) >= threshold]
    heapq.heapify(heap)
    while pending and heap:
        negative, pair = heapq.heappop(heap)
        held = holders.get(pair, set())
        if len(held) != -negative:
            if len(held) >= threshold:
                heapq.heappush(heap, (-len(held), pair))
            continue
        merged = pair[0] | pair[1]
        grown: set[tuple[int, int]] = set()
        for position in sorted(held):
            cover = covers[position]
            # The pair and any group inside the merged one leave this user's cover.
            gone = [intent for intent in cover if not intent & ~merged]
            kept = [intent for intent in cover if intent & ~merged]
            for intent in gone:
                for other in cover:
                    if other != intent:
                        holders.get(_pair(intent, other), set()).discard(position)
            covers[position] = sorted([*kept, merged])
            limit = limits[position]
            if limit is not None and len(kept) + 1 > limit:
                for other in kept:
                    if max_policies is None or (other | merged).bit_count() <= max_policies:
                        new = _pair(other, merged)
                        holders.setdefault(new, set()).add(position)
                        grown.add(new)
            else:
                pending.discard(position)
                for first, second in itertools.combinations(kept, 2):
                    holders.get(_pair(first, second), set()).discard(position)
        # Only new pairs gained holders; shrunk ones are re-queued when they surface.
        for new in sorted(grown):
            count = len(holders[new])
            if count >= threshold:
                heapq.heappush(heap, (-count, new))


def _pair(first: int, second: int) -> tuple[int, int]:
    return (first, second) if first < second else (second, first)


def _fallback_rows(
    rows: Sequence[int],
    covers: list[list[int]],
    over: Sequence[int],
    limits: Sequence[int | None],
    max_policies: int | None,
) -> list[int]:
    """Rows still over quota get shared groups plus their own; their positions."""
    fallback: list[int] = []
    shared = sorted({intent for cover in covers for intent in cover})
    # By lowest policy, so that a row looks only at groups that start inside it.
    by_low: dict[int, list[int]] = {}
    for intent in shared:
        by_low.setdefault((intent & -intent).bit_length() - 1, []).append(intent)
    for position in over:
        limit = limits[position]
        if limit is None or len(covers[position]) <= limit:
            continue
        row = rows[position]
        starting = (i for bit in _bits(row) for i in by_low.get(bit, ()))
        inside = sorted(intent for intent in starting if not intent & ~row)
        mixed = _fallback(row, inside, limit, max_policies)
        if mixed is None:  # pragma: no cover - own pieces always fit when not impossible
            raise AssertionError("quota fallback failed for a row that fits")
        covers[position] = mixed
        fallback.append(position)
    return fallback


def _fallback(
    row: int, inside: Sequence[int], max_groups: int, max_policies: int | None
) -> list[int] | None:
    """Shared groups for most of ``row`` and its own chunks for the rest, within quota."""
    order = _greedy(dict(enumerate(inside)), row)
    shared = [inside[name] for name in order]
    for count in range(min(len(shared), max_groups), -1, -1):
        covered = 0
        for intent in shared[:count]:
            covered |= intent
        rest = _chunks(row & ~covered, max_policies)
        if count + len(rest) <= max_groups:
            return sorted(shared[:count] + rest)
    return None
