"""Build a plan: a proposal's groups as an ordered, verified DAG of IAM calls.

:func:`build_plan` turns a :class:`~groupify.Proposal` into a networkx DAG of
steps (attach and add before detach or delete, per user), orders it
deterministically and replays it on a model of the account; a plan that would
open a gap or widen access raises instead of being returned.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

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

__all__ = ["build_plan"]


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
    import networkx as nx  # imported when used: it is most of ``import groupify``'s time

    proposal = proposal.validate()
    inv = proposal.inventory
    graph = nx.DiGraph()
    keys: dict[int, tuple[Any, ...]] = {}
    calls: dict[int, tuple[str, dict[str, str]]] = {}

    def node(op: str, params: dict[str, str], key: tuple[Any, ...]) -> int:
        n = len(calls)
        calls[n] = (op, params)
        keys[n] = key
        graph.add_node(n)
        return n

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
                    )
                else:
                    deps = [create]
                    n = node(
                        "put_group_policy",
                        {"GroupName": gname, "PolicyName": names[ref], "PolicyDocument": ref.key},
                        (1, gi, 2, names[ref]),
                    )
                graph.add_edges_from((d, n) for d in deps)
                grants.append(n)
            if not grants:
                grants.append(create)
        current = {m for m in group.members if gname in inv.user_by_name[m].groups}
        for member in sorted(group.members - current):
            n = node(
                "add_user_to_group",
                {"GroupName": gname, "UserName": member},
                (1, gi, 3, member),
            )
            graph.add_edges_from((g, n) for g in grants)
            adds_of_user.setdefault(member, []).append(n)

    for ui, user in enumerate(proposal.in_scope):
        adds = adds_of_user.get(user.name, [])
        for arn in user.managed:
            n = node(
                "detach_user_policy", {"UserName": user.name, "PolicyArn": arn}, (2, ui, 0, arn)
            )
            graph.add_edges_from((a, n) for a in adds)
        for policy in user.inline:
            n = node(
                "delete_user_policy",
                {"UserName": user.name, "PolicyName": policy.name},
                (2, ui, 1, policy.name),
            )
            graph.add_edges_from((a, n) for a in adds)

    order = list(nx.lexicographical_topological_sort(graph, key=lambda n: keys[n]))
    ids = {n: f"s{i + 1}" for i, n in enumerate(order)}
    steps = [
        Step.make(
            ids[n],
            calls[n][0],
            calls[n][1],
            sorted((ids[d] for d in graph.predecessors(n)), key=lambda s: int(s[1:])),
        )
        for n in order
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
