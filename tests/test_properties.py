"""Hypothesis properties over generated accounts: no gap, no widening, acyclic, deterministic."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from typing import Any

import networkx as nx
import pytest
from hypothesis import assume, event, given
from hypothesis import strategies as st

import groupify
from groupify import Inventory, Plan, PlanVerificationError, QuotaError, Quotas, Step
from groupify.plan.replay import check_steps, created_policies, policy_of
from tests.support import aws, cust, doc, make_inventory

MANAGED = [
    aws("AmazonS3ReadOnlyAccess"),
    aws("AmazonEC2ReadOnlyAccess"),
    aws("job-function/DataScientist"),
    aws("ReadOnlyAccess"),
    aws("AdministratorAccess"),
    aws("CloudWatchReadOnlyAccess"),
    cust("deploy"),
    cust("billing-view"),
]
DOCS = [
    doc("s3:GetObject"),
    doc("athena:*"),
    doc("logs:Get*", resource="arn:aws:logs:*"),
    doc("kms:Decrypt"),
]
INLINE_NAMES = ["a", "b", "query", "extra"]
TEAMS = ["data", "web", "ops"]


@st.composite
def accounts(draw: st.DrawFn) -> tuple[Inventory, list[str]]:
    """An account, and the user names to exempt."""
    n_groups = draw(st.integers(0, 3))
    groups = {}
    for i in range(n_groups):
        groups[f"existing{i}"] = {
            "managed": draw(st.lists(st.sampled_from(MANAGED), max_size=3, unique=True)),
            "inline": {
                f"g{j}": d
                for j, d in enumerate(
                    draw(st.lists(st.sampled_from(DOCS), max_size=1, unique=True))
                )
            },
        }
    users = {}
    for i in range(draw(st.integers(1, 10))):
        docs = draw(st.lists(st.sampled_from(DOCS), max_size=3, unique=True))
        names = draw(
            st.lists(
                st.sampled_from(INLINE_NAMES), min_size=len(docs), max_size=len(docs), unique=True
            )
        )
        users[f"u{i}"] = {
            "managed": draw(st.lists(st.sampled_from(MANAGED), max_size=6, unique=True)),
            "inline": dict(zip(names, docs, strict=True)),
            "groups": draw(st.lists(st.sampled_from(sorted(groups)), unique=True))
            if groups
            else [],
            "tags": {"Team": draw(st.sampled_from(TEAMS))} if draw(st.booleans()) else {},
        }
    quotas = Quotas(
        managed_policies_per_group=draw(st.integers(2, 10)),
        group_inline_chars=draw(st.sampled_from([5120, 120])),
    )
    inv = make_inventory(users, groups, quotas=quotas)
    exempt = draw(st.lists(st.sampled_from(sorted(users)), max_size=2, unique=True))
    return inv, exempt


# -- an independent model of IAM, so the plan is not checked by its own verifier --


def _access(state: dict[str, Any], user: str) -> frozenset[tuple[str, str]]:
    def ref(arn: str) -> tuple[str, str]:
        return ("doc", state["created"][arn]) if arn in state["created"] else ("arn", arn)

    out = {ref(a) for a in state["um"][user]} | {("doc", d) for d in state["ui"][user].values()}
    for g in state["ug"][user]:
        out |= {ref(a) for a in state["gm"][g]} | {("doc", d) for d in state["gi"][g].values()}
    return frozenset(out)


def _state(inv: Inventory) -> dict[str, Any]:
    return {
        "um": {u.name: set(u.managed) for u in inv.users},
        "ui": {u.name: {p.name: p.document for p in u.inline} for u in inv.users},
        "ug": {u.name: set(u.groups) for u in inv.users},
        "gm": {g.name: set(g.managed) for g in inv.groups},
        "gi": {g.name: {p.name: p.document for p in g.inline} for g in inv.groups},
        "created": {},
    }


def _apply(state: dict[str, Any], inv: Inventory, step: Step) -> None:
    p = step.params
    match step.op:
        case "create_group":
            assert p["GroupName"] not in state["gm"]
            state["gm"][p["GroupName"]] = set()
            state["gi"][p["GroupName"]] = {}
        case "create_policy":
            arn = f"arn:aws:iam::{inv.account_id}:policy{p.get('Path', '/')}{p['PolicyName']}"
            state["created"][arn] = json.dumps(
                json.loads(p["PolicyDocument"]), sort_keys=True, separators=(",", ":")
            )
        case "attach_group_policy":
            assert p["PolicyArn"] not in state["gm"][p["GroupName"]]
            state["gm"][p["GroupName"]].add(p["PolicyArn"])
        case "put_group_policy":
            state["gi"][p["GroupName"]][p["PolicyName"]] = p["PolicyDocument"]
        case "add_user_to_group":
            state["ug"][p["UserName"]].add(p["GroupName"])
        case "detach_user_policy":
            state["um"][p["UserName"]].remove(p["PolicyArn"])
        case "delete_user_policy":
            del state["ui"][p["UserName"]][p["PolicyName"]]
        case _:
            raise AssertionError(step.op)


def replay(inv: Inventory, steps: Sequence[Step], exempt: Sequence[str]) -> dict[str, Any]:
    """Apply *steps*; assert every user's access equals the original after each one."""
    state = _state(inv)
    users = [u.name for u in inv.users]
    before = {u: _access(state, u) for u in users}
    for step in steps:
        assert step.params.get("UserName") not in exempt, step
        _apply(state, inv, step)
        for u in users:
            assert _access(state, u) == before[u], (step, u)
    return state


def _random_order(plan: Plan, rnd: random.Random) -> list[Step]:
    graph = plan.graph.copy()
    by_id = {s.id: s for s in plan.steps}
    out = []
    while graph:
        ready = sorted(n for n in graph if graph.in_degree(n) == 0)
        pick = rnd.choice(ready)
        out.append(by_id[pick])
        graph.remove_node(pick)
    return out


@pytest.mark.parametrize("strategy", ["exact", "minimal"])
@given(case=accounts(), rnd=st.randoms(use_true_random=False))
def test_plan_keeps_access_in_every_order(
    strategy: str, case: tuple[Inventory, list[str]], rnd: random.Random
) -> None:
    """Any order the DAG allows keeps every user's access; in-scope users end with none direct."""
    inv, exempt = case
    try:
        proposal = groupify.propose(inv, exclude_users=exempt, strategy=strategy)
    except QuotaError:
        assume(False)
        raise
    plan = groupify.build_plan(proposal)
    assert nx.is_directed_acyclic_graph(plan.graph)
    for steps in (plan.steps, _random_order(plan, rnd)):
        state = replay(inv, steps, exempt)
        for user in plan.in_scope:
            assert not state["um"][user] and not state["ui"][user]
        for user in exempt:
            assert state["um"][user] == set(inv.user_by_name[user].managed)
    migrated = {u.name for u in inv.users if u.direct} - set(exempt)
    assert set(plan.in_scope) == migrated


@pytest.mark.parametrize("strategy", ["exact", "minimal"])
@given(case=accounts())
def test_plan_is_deterministic(strategy: str, case: tuple[Inventory, list[str]]) -> None:
    """The same account gives byte-identical plans, whatever the order users are listed in."""
    inv, exempt = case
    try:
        first = groupify.build_plan(groupify.propose(inv, exclude_users=exempt, strategy=strategy))
    except QuotaError:
        assume(False)
        raise
    shuffled = Inventory(
        account_id=inv.account_id,
        users=list(reversed(inv.users)),
        groups=list(reversed(inv.groups)),
        policies=list(reversed(inv.policies)),
        aws_policies=list(reversed(inv.aws_policies)),
        quotas=inv.quotas,
    )
    second = groupify.build_plan(
        groupify.propose(shuffled, exclude_users=list(reversed(exempt)), strategy=strategy)
    )
    a, b = first.to_dict(), second.to_dict()
    for made in (a, b):  # who wrote it and when, and the checksum that covers them
        made.pop("generator"), made.pop("created"), made.pop("checksum")
    assert a == b


@given(accounts(), st.data())
def test_verifier_rejects_a_detach_moved_before_its_add(
    case: tuple[Inventory, list[str]], data: st.DataObject
) -> None:
    """Moving any removal ahead of the steps it depends on is caught by the verifier."""
    inv, exempt = case
    try:
        plan = groupify.build_plan(groupify.propose(inv, exclude_users=exempt))
    except QuotaError:
        assume(False)
        raise

    def needed(step: Step) -> bool:
        user = inv.user_by_name[step.params["UserName"]]
        if step.op == "detach_user_policy":
            ref = groupify.PolicyRef.managed(step.params["PolicyArn"])
        else:
            ref = next(p.ref for p in user.inline if p.name == step.params["PolicyName"])
        return ref not in inv.group_access(user)

    candidates = [i for i, s in enumerate(plan.steps) if s.is_destructive and needed(s)]
    assume(candidates)
    i = data.draw(st.sampled_from(candidates))
    steps = list(plan.steps)
    moved = steps.pop(i)
    steps.insert(0, Step(moved.id, moved.op, moved.param_items, ()))
    bad = Plan(
        inventory=plan.inventory, steps=steps, exceptions=plan.exceptions, in_scope=plan.in_scope
    )
    with pytest.raises(PlanVerificationError):
        bad.verify()


def _route_kept(inv: Inventory, steps: Sequence[Step]) -> str | None:
    """The first removal that does not run after a group route to its policy (networkx's
    ancestors, step by step): the reference the replay's ancestry check must agree with."""
    graph = nx.DiGraph()
    graph.add_nodes_from(s.id for s in steps)
    graph.add_edges_from((d, s.id) for s in steps for d in s.after)
    by_id = {s.id: s for s in steps}
    made = created_policies(inv, steps)
    for step in steps:
        if not step.is_destructive:
            continue
        user, need = step.params["UserName"], policy_of(step, inv, made)
        groups = set(inv.user_by_name[user].groups) | {
            by_id[a].params["GroupName"]
            for a in nx.ancestors(graph, step.id)
            if by_id[a].op == "add_user_to_group" and by_id[a].params["UserName"] == user
        }
        granted = {
            (by_id[a].params["GroupName"], policy_of(by_id[a], inv, made))
            for a in nx.ancestors(graph, step.id)
            if by_id[a].spec.grants == "group"
        }
        held = {g: inv.group_by_name[g].policies for g in groups if g in inv.group_by_name}
        if not any(need in held.get(g, ()) or (g, need) in granted for g in groups):
            return step.id
    return None


@given(accounts(), st.data())
def test_ancestry_check_agrees_with_networkx_ancestors(
    case: tuple[Inventory, list[str]], data: st.DataObject
) -> None:
    """With random ``after`` entries dropped, the replay refuses a plan exactly when the
    networkx reference finds a removal without its route among its ancestors (same step)."""
    inv, exempt = case
    try:
        plan = groupify.build_plan(groupify.propose(inv, exclude_users=exempt))
    except QuotaError:
        assume(False)
        raise
    steps = [
        Step(s.id, s.op, s.param_items, [a for a in s.after if data.draw(st.integers(0, 5))])
        for s in plan.steps
    ]
    expected = _route_kept(inv, steps)
    event("refused" if expected else "kept")
    protected = {e.user: e.reason for e in plan.exceptions}
    if expected is None:
        check_steps(inv, steps, in_scope=plan.in_scope, protected=protected)
    else:
        with pytest.raises(PlanVerificationError, match="parallel run could open a gap") as info:
            check_steps(inv, steps, in_scope=plan.in_scope, protected=protected)
        assert info.value.step == expected
