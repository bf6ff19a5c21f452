"""Build a plan: a proposal's groups as an ordered, verified DAG of IAM calls.

:func:`build_plan` turns a :class:`~groupify.Proposal` into a DAG of steps
(attach and add before detach or delete, per user), orders it deterministically
(:func:`lexicographic_order`) and replays it on a model of the account; a plan
that would open a gap or widen access raises instead of being returned.
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Iterable, Sequence
from typing import Any, Protocol, TypeVar

from groupify._gc import without_gc
from groupify.errors import InputError
from groupify.inventory.model import Inventory, PolicyRef
from groupify.inventory.names import POLICY_NAME_MAX, slug, validate_name
from groupify.inventory.policy import digest
from groupify.plan.model import Plan
from groupify.plan.ops import CREATED_POLICY_PATH
from groupify.plan.privilege import control_findings
from groupify.plan.steps import Step
from groupify.proposal.model import Proposal

__all__ = ["build_plan", "lexicographic_order"]


class _Ordered(Protocol):
    def __lt__(self, other: Any, /) -> bool: ...


K = TypeVar("K", bound=_Ordered)


def lexicographic_order(keys: Sequence[K], after: Sequence[Iterable[int]]) -> list[int]:
    """Nodes ``0 .. len(keys) - 1`` in topological order, the ready node of least key
    (then least index) first; *after* lists each node's prerequisites.

    The order ``networkx.lexicographical_topological_sort`` gives for nodes added in
    index order. Where every prerequisite has a lesser key than the node after it (as
    in :func:`build_plan`), that order is the nodes sorted by key: the least node left
    is always ready. Otherwise it comes from a list of counts and a heap (each node
    pushed and popped once). Raises :class:`ValueError` if the prerequisites form a cycle.
    """
    by_key = sorted(range(len(keys)), key=keys.__getitem__)  # stable: ties by index
    position = [0] * len(keys)
    for i, node in enumerate(by_key):
        position[node] = i
    if all(position[dep] < position[node] for node, deps in enumerate(after) for dep in deps):
        return by_key
    waiting = [0] * len(keys)
    children: list[list[int]] = [[] for _ in keys]
    for node, deps in enumerate(after):
        for dep in set(deps):
            children[dep].append(node)
            waiting[node] += 1
    ready = [(keys[n], n) for n, count in enumerate(waiting) if not count]
    heapq.heapify(ready)
    order = []
    while ready:
        node = heapq.heappop(ready)[1]
        order.append(node)
        for child in children[node]:
            waiting[child] -= 1
            if not waiting[child]:
                heapq.heappush(ready, (keys[child], child))
    if len(order) != len(keys):
        raise ValueError("the steps' prerequisites form a cycle")
    return order


def _created_policy_name(ref: PolicyRef, inventory: Inventory) -> str:
    base = slug(inventory.label(ref)) or "inline"
    suffix = "-" + digest(ref.key, 8)
    return validate_name(
        base[: POLICY_NAME_MAX - len(suffix)] + suffix, kind="policy", max_length=POLICY_NAME_MAX
    )


def _inline_names(refs: Sequence[PolicyRef], inventory: Inventory) -> dict[PolicyRef, str]:
    """Group inline policy names: the document's most common name, unique within the group."""
    out: dict[PolicyRef, str] = {}
    used: set[str] = set()
    for ref in refs:
        candidates = inventory.inline_names.get(ref, ()) or (ref.id.replace(":", "-"),)
        name = next((c for c in candidates if c not in used), None)
        if name is None:
            stem = candidates[0][: POLICY_NAME_MAX - 9]
            name = f"{stem}-{digest(ref.key, 8)}"
        used.add(name)
        out[ref] = name
    return out


@without_gc
def build_plan(proposal: Proposal, *, accept: Iterable[str] = ()) -> Plan:
    """Turn a validated proposal into a verified plan.

    Raises :class:`PlanVerificationError` if the replay finds a gap or a
    widening: that would be a bug in groupify, never something to emit. Raises
    :class:`~groupify.errors.EscalationError` if the plan would give a user a
    way to raise its own access (a control-path finding, see
    :mod:`groupify.plan.privilege`) whose id is not in *accept*; accepted
    ones are recorded in the plan with their answer; an id that names no finding
    is refused (:class:`~groupify.errors.InputError`).
    """
    proposal = proposal.validate()
    inv = proposal.inventory
    # Node n: its call, its sort key, and the nodes it runs after.
    calls: list[tuple[str, dict[str, str]]] = []
    keys: list[tuple[Any, ...]] = []
    after: list[list[int]] = []

    def node(
        op: str, params: dict[str, str], key: tuple[Any, ...], deps: Iterable[int] = ()
    ) -> int:
        calls.append((op, params))
        keys.append(key)
        after.append(list(deps))
        return len(calls) - 1

    # Inline documents that become customer-managed policies: one policy each.
    created: dict[PolicyRef, tuple[int, str]] = {}
    for ref in sorted(proposal.created_policies):
        name = _created_policy_name(ref, inv)
        arn = inv.policy_arn(name, CREATED_POLICY_PATH)
        n = node(
            "create_policy",
            {
                "PolicyName": name,
                "Path": CREATED_POLICY_PATH,
                "PolicyDocument": ref.key,
                "Description": f"groupify: from inline policy {inv.label(ref)}"[:1000],
            },
            (0, name),
        )
        created[ref] = (n, arn)

    adds_of_user: dict[str, list[int]] = {}
    for gi, group in enumerate(sorted(proposal.groups, key=lambda g: g.name.lower())):
        gname = group.name
        grants: list[int] = []
        if not group.existing:
            create = node("create_group", {"GroupName": gname}, (1, gi, 0))
            inline = sorted(
                p for p in group.policies if not p.is_managed and p not in group.as_managed
            )
            names = _inline_names(inline, inv)
            for ref in sorted(group.policies):
                if ref.is_managed or ref in group.as_managed:
                    if ref.is_managed:
                        arn, deps = ref.key, [create]
                    else:
                        made, arn = created[ref]
                        deps = [create, made]
                    n = node(
                        "attach_group_policy",
                        {"GroupName": gname, "PolicyArn": arn},
                        (1, gi, 1, arn),
                        deps,
                    )
                else:
                    n = node(
                        "put_group_policy",
                        {"GroupName": gname, "PolicyName": names[ref], "PolicyDocument": ref.key},
                        (1, gi, 2, names[ref]),
                        [create],
                    )
                grants.append(n)
            if not grants:
                grants.append(create)
        current = {m for m in group.members if gname in inv.user_by_name[m].groups}
        for member in sorted(group.members - current):
            n = node(
                "add_user_to_group",
                {"GroupName": gname, "UserName": member},
                (1, gi, 3, member),
                grants,
            )
            adds_of_user.setdefault(member, []).append(n)

    for ui, user in enumerate(proposal.in_scope):
        adds = adds_of_user.get(user.name, [])
        for arn in user.managed:
            node(
                "detach_user_policy",
                {"UserName": user.name, "PolicyArn": arn},
                (2, ui, 0, arn),
                adds,
            )
        for policy in user.inline:
            node(
                "delete_user_policy",
                {"UserName": user.name, "PolicyName": policy.name},
                (2, ui, 1, policy.name),
                adds,
            )

    order = lexicographic_order(keys, after)
    position = [0] * len(order)
    for i, n in enumerate(order):
        position[n] = i
    ids = [f"s{i}" for i in range(1, len(order) + 1)]  # one string each, shared by `after`
    steps = [
        Step(
            ids[i],
            calls[n][0],
            calls[n][1].items(),
            [ids[p] for p in sorted({position[d] for d in after[n]})],
        )
        for i, n in enumerate(order)
    ]
    groups = Proposal.to_dict(proposal)["groups"]
    plan = Plan(
        inventory=inv,
        steps=steps,
        strategy=proposal.strategy,
        exceptions=proposal.exceptions,
        groups=groups,
        in_scope=[u.name for u in proposal.in_scope],
        exemptions=proposal.exemptions,
        accepted=_accepted(inv, steps, accept),
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )
    return plan.verify()


def _accepted(inventory: Inventory, steps: Sequence[Step], accept: Iterable[str]) -> list[str]:
    """The keys (id and answer) of the findings *accept* names by id; an id that names no
    finding of this plan is refused (a typo must not pass for a review)."""
    ids = list(accept)
    if not ids:
        return []
    by_id = {f.id: f for f in control_findings(inventory, steps)}
    unknown = [i for i in ids if i not in by_id]
    if unknown:
        known = ", ".join(sorted(by_id)) or "none"
        raise InputError(
            f"--accept {unknown[0]!r}: no such finding in this plan (findings: {known})"
        )
    return [by_id[i].key for i in ids]
