"""Quota-capped covers with HiGHS: a proven lower bound (LP) and a better cover (MIP).

With IAM's quotas a user may hold at most ``G`` groups and a group at most ``P``
managed policies. :func:`groupify.mining.minimal.minimal_groups` first builds a cover
by heuristics (split the unconstrained optimum, assign, merge, fall back); when
``highspy`` is installed this module then works on each connected component of the
users ↔ policies graph that the heuristic cover does not prove optimal:

**Lower bound** (:func:`lp_bound`). Policies held by exactly the same users form a
*class*; any group can be described by how many policies it takes from each class, and
an exact cover by groups of counts is a relaxation of the real one (several real groups
with the same counts are one count group used several times). Its linear relaxation is
solved by column generation: the restricted master is an LP over the count groups found
so far, and pricing looks for the count group of most reduced value. For any dual
solution ``(α, λ)`` of the master, ``Σ α·|class| − Σ G·λ`` divided by the largest value
``v`` a count group can reach (at least 1) is a lower bound on every cover (Farley
1990): the scaled duals are feasible for the full LP. ``v`` is computed exactly, by
trying every set of members when the component has at most :data:`_ENUMERATE_ROWS`
distinct users, else as the dual bound of a small MIP, so the bound holds whenever the
iterations stop (a round limit, not a time limit, keeps it deterministic).

**Better cover** (:func:`improve`). The groups any good cover would use are pooled:
the heuristic cover's own, each user's own pieces, every intersection of users' sets
within ``P`` policies, pieces of the larger intersections around the smaller ones, and
the count groups of the column generation made real. The LP over that pool keeps the
groups it uses (plus the heuristic's and the users' pieces, so a feasible cover is
always there), and a MIP over those picks the fewest groups with every user's set
covered exactly within its limit. A cover the MIP returns is checked before it is
used, and replaces the heuristic one only when it has fewer groups.

Without ``highspy`` neither runs, and the heuristic cover and the combinatorial bound
stand (docs/minimal.md says so).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from groupify.mining.minimal import _bits, _chunks, _held_together, _prune, _transpose

__all__: list[str] = []

#: Without a ``time_limit``, the whole quota stage stops starting solver calls after this.
SEARCH_SECONDS = 10.0
#: The column generation of one component starts no round after this.
LP_SECONDS = 3.0
#: Components with at most this many distinct users price by trying every member set.
_ENUMERATE_ROWS = 12
#: The cover MIP runs on components of at most this many distinct users.
MIP_ROWS = 1_000
#: Column generation runs on components of at most this many distinct users.
_LP_ROWS = 60
#: Rounds of column generation (each: one LP, one pricing); the bound holds at any round.
_LP_ROUNDS = 60
#: Count groups added per round.
_LP_BATCH = 50
#: Node limit of the cover MIP: a work limit, so that results are reproducible ...
_COVER_NODES = 500
#: ... and a time limit on it as a safety net, which data seen so far never reaches.
_CALL_SECONDS = 5.0
#: Pricing MIPs per component, their node limit and their safety time limit.
_PRICE_CALLS = 20
_PRICE_NODES = 2_000
_PRICE_SECONDS = 1.0
#: The pool uses every intersection of users' sets while there are at most this many.
_LATTICE_LIMIT = 5_000
#: Groups the cover MIP chooses among, at most.
_POOL_LIMIT = 4_000
_EPS = 1e-7


def _solver(highspy: Any, deadline: float | None, seconds: float | None = None) -> Any:
    """A quiet HiGHS instance that stops by *deadline* and after *seconds* of its own."""
    solver = getattr(highspy, "_Highs", highspy.Highs)()
    solver.setOptionValue("output_flag", False)
    solver.setOptionValue("random_seed", 0)
    limits = [] if seconds is None else [seconds]
    if deadline is not None:
        limits.append(max(0.01, deadline - time.monotonic()))
    if limits:
        solver.setOptionValue("time_limit", min(limits))
    return solver


def _model(
    highspy: Any,
    ncols: int,
    entries: Iterable[tuple[int, int, float]],
    cost: Sequence[float],
    lower: Sequence[float],
    upper: Sequence[float],
    row_lower: Sequence[float],
    row_upper: Sequence[float],
    integer: Sequence[bool] | None = None,
    maximize: bool = False,
) -> Any:
    by_column: list[list[tuple[int, float]]] = [[] for _ in range(ncols)]
    for row, column, value in entries:
        by_column[column].append((row, value))
    starts = [0]
    index: list[int] = []
    values: list[float] = []
    for listed in by_column:
        for row, value in listed:
            index.append(row)
            values.append(value)
        starts.append(len(index))
    lp = highspy.HighsLp()
    lp.num_col_ = ncols
    lp.num_row_ = len(row_lower)
    if maximize:
        lp.sense_ = highspy.ObjSense.kMaximize
    lp.col_cost_ = list(cost)
    lp.col_lower_ = list(lower)
    lp.col_upper_ = list(upper)
    lp.row_lower_ = list(row_lower)
    lp.row_upper_ = list(row_upper)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = starts
    lp.a_matrix_.index_ = index
    lp.a_matrix_.value_ = values
    if integer is not None:
        kinds = highspy.HighsVarType
        lp.integrality_ = [kinds.kInteger if flag else kinds.kContinuous for flag in integer]
    return lp


# ---------------------------------------------------------------------------
# The lower bound: count groups over classes
# ---------------------------------------------------------------------------

CountGroup = tuple[tuple[int, int], ...]  # (class, how many of its policies), by class


def _classes(rows: Sequence[int]) -> list[tuple[int, list[int]]]:
    """Policies held by exactly the same rows: (the rows as a mask, the policies)."""
    holders = _transpose(rows)
    by_holders: dict[int, list[int]] = {}
    for column in sorted(holders):
        by_holders.setdefault(holders[column], []).append(column)
    return sorted(by_holders.items(), key=lambda item: item[1][0])


def _own_pieces(
    rows: Sequence[int], classes: Sequence[tuple[int, list[int]]], cap: int
) -> list[CountGroup]:
    """Each row cut into count groups of at most *cap* policies: always a cover."""
    pieces: list[CountGroup] = []
    for position in range(len(rows)):
        current: list[tuple[int, int]] = []
        room = cap
        for k, (holders, columns) in enumerate(classes):
            if not holders >> position & 1:
                continue
            left = len(columns)
            while left:
                take = min(left, room)
                current.append((k, take))
                left -= take
                room -= take
                if not room:
                    pieces.append(tuple(current))
                    current, room = [], cap
        if current:
            pieces.append(tuple(current))
    return list(dict.fromkeys(pieces))


def _members(group: CountGroup, classes: Sequence[tuple[int, list[int]]]) -> int:
    members = -1
    for k, _ in group:
        members &= classes[k][0]
    return members


def _uses_model(
    highspy: Any,
    demand: Mapping[tuple[int, int], float],
    limits: Sequence[int | None],
    ngroups: int,
    uses: Sequence[tuple[int, int]],
    content: Callable[[int], Iterable[tuple[int, float]]],
    upper: float,
    integer: bool = False,
) -> tuple[Any, dict[tuple[int, int], int], dict[int, int]]:
    """The cover model both stages solve: groups ``y`` (cost 1) and their uses ``x``.

    A use ``(row, g)`` gives the row what ``content(g)`` lists (item, amount); each
    ``(row, item)`` of *demand* must get at least its amount; a row with a limit uses at
    most that many groups; a use needs its group (``x <= y``). Returns the model and the
    rows of the demand and limit constraints (their duals are the pricing's weights).
    """
    inf = highspy.kHighsInf
    cover = {key: i for i, key in enumerate(demand)}
    limit_row: dict[int, int] = {}
    for position, limit in enumerate(limits):
        if limit is not None:
            limit_row[position] = len(cover) + len(limit_row)
    base = len(cover) + len(limit_row)
    entries: list[tuple[int, int, float]] = []
    for j, (position, g) in enumerate(uses):
        column = ngroups + j
        for item, amount in content(g):
            entries.append((cover[(position, item)], column, amount))
        if position in limit_row:
            entries.append((limit_row[position], column, 1.0))
        entries.append((base + j, column, 1.0))
        entries.append((base + j, g, -1.0))
    ncols = ngroups + len(uses)
    lp = _model(
        highspy,
        ncols,
        entries,
        [1.0] * ngroups + [0.0] * len(uses),
        [0.0] * ncols,
        [upper] * ncols,
        [*demand.values(), *[-inf] * (len(limit_row) + len(uses))],
        [inf] * len(cover) + [float(limits[p] or 0) for p in limit_row] + [0.0] * len(uses),
        integer=[True] * ncols if integer else None,
    )
    return lp, cover, limit_row


def _master(
    highspy: Any,
    limits: Sequence[int | None],
    classes: Sequence[tuple[int, list[int]]],
    pool: Sequence[CountGroup],
) -> tuple[Any, dict[tuple[int, int], int], dict[int, int]]:
    """The LP: count groups ``y`` (any multiplicity) and their uses ``x`` by each row."""
    demand = {
        (position, k): float(len(columns))
        for position in range(len(limits))
        for k, (holders, columns) in enumerate(classes)
        if holders >> position & 1
    }
    uses = [(p, g) for g, group in enumerate(pool) for p in _bits(_members(group, classes))]
    return _uses_model(
        highspy,
        demand,
        limits,
        len(pool),
        uses,
        lambda g: ((k, float(count)) for k, count in pool[g]),
        highspy.kHighsInf,
    )


def _best_for(
    members: int,
    classes: Sequence[tuple[int, list[int]]],
    alpha: Mapping[tuple[int, int], float],
    lam: Mapping[int, float],
    cap: int,
) -> tuple[CountGroup, float]:
    """The count group of most value for exactly these members, and that value."""
    weighted: list[tuple[float, int]] = []
    for k, (holders, _) in enumerate(classes):
        if members & ~holders:
            continue
        weight = sum(alpha.get((p, k), 0.0) for p in _bits(members))
        if weight > 1e-12:
            weighted.append((weight, k))
    weighted.sort(key=lambda item: (-item[0], item[1]))
    room, taken, value = cap, [], 0.0
    for weight, k in weighted:
        if not room:
            break
        count = min(room, len(classes[k][1]))
        taken.append((k, count))
        value += weight * count
        room -= count
    value -= sum(lam.get(p, 0.0) for p in _bits(members))
    return tuple(sorted(taken)), value


def _value(
    group: CountGroup,
    classes: Sequence[tuple[int, list[int]]],
    alpha: Mapping[tuple[int, int], float],
    lam: Mapping[int, float],
) -> float:
    """What a count group is worth to the rows that gain by it."""
    total = 0.0
    for position in _bits(_members(group, classes)):
        gain = sum(count * alpha.get((position, k), 0.0) for k, count in group)
        gain -= lam.get(position, 0.0)
        if gain > 0:
            total += gain
    return total


def _ceiling(
    members: int,
    classes: Sequence[tuple[int, list[int]]],
    alpha: Mapping[tuple[int, int], float],
    lam: Mapping[int, float],
    cap: int,
) -> float:
    """An upper bound on the value of any count group whose members lie within *members*.

    Each row is given the best count group for itself alone among the classes all of
    *members* hold, and only rows that gain count; a shared group can do no better.
    """
    shared = [k for k, (holders, _) in enumerate(classes) if not members & ~holders]
    total = 0.0
    for position in _bits(members):
        weighted = sorted(
            ((alpha.get((position, k), 0.0), k) for k in shared), key=lambda item: -item[0]
        )
        room, value = cap, 0.0
        for weight, k in weighted:
            if not room or weight <= 0:
                break
            count = min(room, len(classes[k][1]))
            value += weight * count
            room -= count
        gain = value - lam.get(position, 0.0)
        if gain > 0:
            total += gain
    return total


def _price_mip(
    highspy: Any,
    nrows: int,
    classes: Sequence[tuple[int, list[int]]],
    alpha: Mapping[tuple[int, int], float],
    lam: Mapping[int, float],
    cap: int,
    deadline: float | None,
) -> tuple[float, CountGroup | None]:
    """An upper bound on any count group's value (the MIP's dual bound), and its best.

    Variables: how many policies of each class (``n_k``), which rows are members
    (``m_r``), and what each member gets of each class (``w_rk <= n_k``, ``<= |k| m_r``).
    """
    inf = highspy.kHighsInf
    nk = len(classes)
    edges = sorted(key for key, value in alpha.items() if value > 1e-12)
    sizes = [float(len(columns)) for _, columns in classes]
    ncols = nk + nrows + len(edges)
    cost = [0.0] * nk + [-lam.get(p, 0.0) for p in range(nrows)] + [alpha[e] for e in edges]
    entries: list[tuple[int, int, float]] = []
    row_lower: list[float] = []
    row_upper: list[float] = []

    def row(items: list[tuple[int, float]], upper: float) -> None:
        for column, value in items:
            entries.append((len(row_lower), column, value))
        row_lower.append(-inf)
        row_upper.append(upper)

    for j, (position, k) in enumerate(edges):
        w = nk + nrows + j
        row([(w, 1.0), (k, -1.0)], 0.0)
        row([(w, 1.0), (nk + position, -sizes[k])], 0.0)
    for position in range(nrows):
        for k, (holders, _) in enumerate(classes):
            if not holders >> position & 1:  # a member holds every policy of the group
                row([(k, 1.0), (nk + position, sizes[k])], sizes[k])
    row([(k, 1.0) for k in range(nk)], float(cap))
    lp = _model(
        highspy,
        ncols,
        entries,
        cost,
        [0.0] * ncols,
        sizes + [1.0] * nrows + [sizes[k] for _, k in edges],
        row_lower,
        row_upper,
        integer=[True] * (nk + nrows) + [False] * len(edges),
        maximize=True,
    )
    solver = _solver(highspy, deadline, _PRICE_SECONDS)
    solver.setOptionValue("mip_max_nodes", _PRICE_NODES)
    solver.passModel(lp)
    solver.run()
    info = solver.getInfo()
    bound = info.mip_dual_bound
    found: CountGroup | None = None
    if info.primal_solution_status == 2:
        values = solver.getSolution().col_value
        found = tuple((k, round(values[k])) for k in range(nk) if round(values[k]) > 0)
    return (bound if math.isfinite(bound) else math.inf), found


def lp_bound(
    highspy: Any,
    rows: Sequence[int],
    limits: Sequence[int | None],
    cap: int,
    deadline: float | None = None,
) -> tuple[int, list[tuple[CountGroup, list[tuple[int, list[int]]]]]]:
    """A proven lower bound on the groups of one component, and the count groups found.

    *rows* are the component's distinct rows (one per limit), *limits* their group
    limits (None: none), *cap* the policies a group may hold.
    """
    classes = _classes(rows)
    pool = _own_pieces(rows, classes, cap)
    known = set(pool)
    exact = len(rows) <= _ENUMERATE_ROWS
    if exact:
        member_sets: list[int] = list(range(1, 1 << len(rows)))
    else:
        # Every closed set of users (all the holders of the policies they share): any
        # group's members lie within one, and a closed set's ceiling bounds them all.
        intents = _lattice(rows)
        if intents is None:
            return 0, []
        extents = {1 << p for p in range(len(rows))}
        for intent in intents:
            extents.add(sum(1 << p for p, row in enumerate(rows) if not intent & ~row))
        member_sets = sorted(extents)
    best = 0.0
    mips = 0
    for round_ in range(_LP_ROUNDS):
        if deadline is not None and time.monotonic() > deadline:
            break
        lp, cover, limit_row = _master(highspy, limits, classes, pool)
        solver = _solver(highspy, deadline, _CALL_SECONDS)
        solver.passModel(lp)
        solver.run()
        if str(solver.getModelStatus()) != "HighsModelStatus.kOptimal":
            break
        duals = solver.getSolution().row_dual
        # Duals clamped to their signs are still a dual solution; the bound is worked out
        # from them, not from the solver's objective.
        alpha = {key: max(0.0, duals[i]) for key, i in cover.items()}
        lam = {p: max(0.0, -duals[i]) for p, i in limit_row.items()}
        objective = sum(len(classes[k][1]) * a for (_, k), a in alpha.items())
        objective -= sum((limits[p] or 0) * value for p, value in lam.items())
        found: dict[CountGroup, float] = {}
        most = 0.0
        for tried, members in enumerate(member_sets):
            if tried % 256 == 255 and deadline is not None and time.monotonic() > deadline:
                return max(0, math.ceil(best - 1e-6)), [(g, list(classes)) for g in pool]
            group, value = _best_for(members, classes, alpha, lam, cap)
            if group and value > 1 + _EPS and group not in known:
                found[group] = _value(group, classes, alpha, lam)
            most = max(most, value)  # exact when every member set is tried
        new = sorted(found, key=lambda g: (-found[g], g))[:_LP_BATCH]
        last = not new or round_ == _LP_ROUNDS - 1
        if not exact and last:
            # Each closed set's ceiling bounds every group whose members lie within it.
            most = max(_ceiling(members, classes, alpha, lam, cap) for members in member_sets)
        if not new and most > 1 + _EPS and mips < _PRICE_CALLS:
            # The member sets tried found nothing, and their ceiling cannot rule it out:
            # a MIP prices over every member set, and its dual bound is a ceiling too.
            mips += 1
            ceiling, priced = _price_mip(highspy, len(rows), classes, alpha, lam, cap, deadline)
            most = min(most, ceiling)
            if priced and priced not in known and _value(priced, classes, alpha, lam) > 1 + _EPS:
                new = [priced]
        if exact or last:
            best = max(best, objective / max(1.0, most))
        if not new:
            break
        pool.extend(new)
        known.update(new)
    # A safety margin for floating point: the bound is a count, rounded up.
    return max(0, math.ceil(best - 1e-6)), [(group, list(classes)) for group in pool]


def _realize(group: CountGroup, classes: Sequence[tuple[int, list[int]]]) -> set[int]:
    """Real groups with these counts: consecutive runs of each class, several offsets."""
    found: set[int] = set()
    turns = max(-(-len(classes[k][1]) // count) for k, count in group)
    for turn in range(turns):
        for backwards in (False, True):
            mask = 0
            for k, count in group:
                columns = classes[k][1][::-1] if backwards else classes[k][1]
                start = (turn * count) % len(columns)
                for i in range(count):
                    mask |= 1 << columns[(start + i) % len(columns)]
            found.add(mask)
    return found


# ---------------------------------------------------------------------------
# A better cover: a MIP over pooled groups
# ---------------------------------------------------------------------------


def _lattice(rows: Sequence[int]) -> list[int] | None:
    """Every nonempty intersection of rows, or None past :data:`_LATTICE_LIMIT`."""
    seen = set(rows)
    frontier = set(rows)
    while frontier:
        grown: set[int] = set()
        for intent in frontier:
            for row in rows:
                meet = intent & row
                if meet and meet not in seen:
                    grown.add(meet)
        seen |= grown
        if len(seen) > _LATTICE_LIMIT:
            return None
        frontier = grown
    return sorted(seen)


def _pool(
    rows: Sequence[int], incumbent: Iterable[int], cap: int, extra: Iterable[int]
) -> list[int]:
    """Groups for the cover MIP, most promising first, up to :data:`_POOL_LIMIT`.

    Always the heuristic cover's groups and each row's own pieces (so the MIP has a
    cover); then the column generation's groups made real, the intersections of rows
    within *cap*, and the larger intersections cut into pieces, whole and around each
    smaller intersection inside them.
    """
    rank = _held_together(_transpose(rows))
    pool: dict[int, None] = dict.fromkeys(sorted(incumbent))
    for row in rows:
        pool.update(dict.fromkeys(_chunks(row, cap)))
        pool.update(dict.fromkeys(_chunks(row, cap, rank)))

    def more() -> Iterable[int]:
        yield from sorted(extra)
        intents = _lattice(rows)
        if intents is None:
            return
        small = [intent for intent in intents if intent.bit_count() <= cap]
        yield from small
        large = [intent for intent in intents if intent.bit_count() > cap]
        for intent in large:
            yield from _chunks(intent, cap, rank)
        for intent in large:
            for inner in small:
                if not inner & ~intent:
                    yield from _chunks(intent & ~inner, cap, rank)

    for group in more():
        if len(pool) >= _POOL_LIMIT:
            break
        if group.bit_count() <= cap and any(not group & ~row for row in rows):
            pool.setdefault(group)
    return sorted(pool)


def _cover_model(
    highspy: Any,
    rows: Sequence[int],
    limits: Sequence[int | None],
    pool: Sequence[int],
    integer: bool,
) -> tuple[Any, list[tuple[int, int]]]:
    """Real groups ``y`` and their uses ``x``: every policy of every row covered."""
    demand = {(position, column): 1.0 for position, row in enumerate(rows) for column in _bits(row)}
    uses = [
        (p, g) for g, group in enumerate(pool) for p, row in enumerate(rows) if not group & ~row
    ]
    lp, _, _ = _uses_model(
        highspy,
        demand,
        limits,
        len(pool),
        uses,
        lambda g: ((bit, 1.0) for bit in _bits(pool[g])),
        1.0,
        integer,
    )
    return lp, uses


def improve(
    highspy: Any,
    rows: Sequence[int],
    limits: Sequence[int | None],
    cap: int,
    incumbent: Sequence[Sequence[int]],
    counts: Iterable[tuple[CountGroup, list[tuple[int, list[int]]]]] = (),
    deadline: float | None = None,
    also: Iterable[int] = (),
) -> list[list[int]] | None:
    """Fewer groups than *incumbent* (each row's groups) for one component, or None.

    *also* are the groups of another cover (always in the pool, as the incumbent's are).
    """
    used = {g for groups in incumbent for g in groups}
    extra: set[int] = set()
    for group, classes in counts:
        extra |= _realize(group, classes)
    pool = _pool(rows, used | set(also), cap, extra)
    lp, uses = _cover_model(highspy, rows, limits, pool, integer=False)
    solver = _solver(highspy, deadline, _CALL_SECONDS)
    solver.passModel(lp)
    solver.run()
    if str(solver.getModelStatus()) != "HighsModelStatus.kOptimal":
        return None
    if solver.getInfo().objective_function_value > len(used) - 1 + 1e-6:
        return None  # even the relaxation needs as many groups: nothing to gain
    # The groups the relaxation uses, the heuristic's and each row's own pieces: a
    # small MIP that still always has a cover.
    values = solver.getSolution().col_value
    keep = {pool[g] for g in range(len(pool)) if values[g] > 1e-6} | used | set(also)
    if deadline is not None and time.monotonic() >= deadline:
        return None
    for row in rows:
        keep.update(_chunks(row, cap))
    chosen = sorted(keep)
    lp, uses = _cover_model(highspy, rows, limits, chosen, integer=True)
    solver = _solver(highspy, deadline, _CALL_SECONDS)
    solver.setOptionValue("mip_max_nodes", _COVER_NODES)
    solver.setOptionValue("mip_rel_gap", 0.0)
    solver.setOptionValue("mip_abs_gap", 0.999)
    solver.passModel(lp)
    # No first solution from the heuristic: HiGHS 1.16 then reported an objective its
    # returned solution did not have (the checks below caught it).
    solver.run()
    if solver.getInfo().primal_solution_status != 2:
        return None
    values = solver.getSolution().col_value
    if round(sum(values[: len(chosen)])) >= len(used):
        return None
    assignment: list[list[int]] = [[] for _ in rows]
    for j, (position, g) in enumerate(uses):
        if values[len(chosen) + j] > 0.5:
            assignment[position].append(chosen[g])
    # Never trust a solver blindly: exact, within the limits and the cap, fewer groups.
    for position, (row, limit) in enumerate(zip(rows, limits, strict=True)):
        # The MIP may give a row a group it does not need: the largest are kept first.
        given = sorted(set(assignment[position]), key=lambda g: (g.bit_count(), g), reverse=True)
        picked = [given[i] for i in _prune(list(range(len(given))), dict(enumerate(given)))]
        union = 0
        for mask in picked:
            if mask & ~row or mask.bit_count() > cap:
                return None
            union |= mask
        if union != row or (limit is not None and len(picked) > limit):
            return None
        assignment[position] = sorted(picked)
    if len({g for picked in assignment for g in picked}) >= len(used):
        return None
    return assignment
