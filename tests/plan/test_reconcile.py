"""Reconciling a plan with a live inventory: what is done, what drifted, the live model.

The "live" accounts here are :class:`~groupify.Inventory` values built by hand: the
plan's inventory with some of its steps replayed on it, then perhaps changed.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs
import pytest

import groupify
from groupify import (
    DriftError,
    Group,
    InlinePolicy,
    Inventory,
    ManagedPolicy,
    Plan,
    PolicyRef,
    Quotas,
    StalePlanError,
    Step,
)
from groupify.plan.ops import PLAN_OPS
from groupify.plan.reconcile import access_report, is_done, live_model, reconcile
from groupify.plan.replay import AccountModel
from tests.support import ACCOUNT, aws, doc, make_inventory

S3 = aws("AmazonS3ReadOnlyAccess")
READ = aws("ReadOnlyAccess")
ADMIN = aws("AdministratorAccess")
BIG = [doc(f"svc{i}:" + "A" * 60) for i in range(3)]
GROUP = "p0-p1-p2-and-more"


def make_plan() -> Plan:
    """Every plan op: two created policies, a new group for ana and ben, erin to readers."""
    inline = {f"p{i}": d for i, d in enumerate(BIG)}
    inventory = make_inventory(
        {
            "ana": {"managed": [S3], "inline": inline},
            "ben": {"managed": [S3], "inline": inline},
            "erin": {"managed": [READ]},
            "dave": {"groups": ["readers"]},
            "zed": {},
        },
        {"readers": {"managed": [READ]}},
        quotas=Quotas(group_inline_chars=200),
    )
    # The rule matches nobody yet: a test tags a user later (newly exempt is drift).
    proposal = groupify.propose(inventory, exclude_tags=["BreakGlass"], allow_unmatched=True)
    return groupify.build_plan(proposal)


@pytest.fixture(scope="module")
def plan() -> Plan:
    return make_plan()


def test_the_plan_is_what_these_tests_expect(plan: Plan) -> None:
    """The plan's steps, by id: the drift tests below name them."""
    assert [(s.id, s.op, s.parts()) for s in plan.steps] == [
        ("s1", "create_policy", ("", plan.steps[0].params["PolicyName"])),
        ("s2", "create_policy", ("", plan.steps[1].params["PolicyName"])),
        ("s3", "create_group", (GROUP, "")),
        ("s4", "attach_group_policy", (GROUP, plan.steps[0].params["PolicyName"])),
        ("s5", "attach_group_policy", (GROUP, plan.steps[1].params["PolicyName"])),
        ("s6", "attach_group_policy", (GROUP, "AmazonS3ReadOnlyAccess")),
        ("s7", "put_group_policy", (GROUP, "p0")),
        ("s8", "add_user_to_group", ("ana", GROUP)),
        ("s9", "add_user_to_group", ("ben", GROUP)),
        ("s10", "add_user_to_group", ("erin", "readers")),
        ("s11", "detach_user_policy", ("ana", "AmazonS3ReadOnlyAccess")),
        ("s12", "delete_user_policy", ("ana", "p0")),
        ("s13", "delete_user_policy", ("ana", "p1")),
        ("s14", "delete_user_policy", ("ana", "p2")),
        ("s15", "detach_user_policy", ("ben", "AmazonS3ReadOnlyAccess")),
        ("s16", "delete_user_policy", ("ben", "p0")),
        ("s17", "delete_user_policy", ("ben", "p1")),
        ("s18", "delete_user_policy", ("ben", "p2")),
        ("s19", "detach_user_policy", ("erin", "ReadOnlyAccess")),
    ]


# -- building live inventories --------------------------------------------------------------


def as_inventory(model: AccountModel, base: Inventory) -> Inventory:
    """The account a model describes, as a scan would read it."""
    users = [
        attrs.evolve(
            u,
            managed=model.user_managed[u.name],
            inline=[InlinePolicy(n, d) for n, d in model.user_inline[u.name].items()],
            groups=model.user_groups[u.name],
        )
        for u in base.users
    ]
    groups = [
        Group(
            name=g,
            arn=f"arn:aws:iam::{ACCOUNT}:group/{g}",
            managed=model.group_managed[g],
            inline=[InlinePolicy(n, d) for n, d in model.group_inline[g].items()],
        )
        for g in model.group_managed
    ]
    policies = [
        *base.policies,
        *(
            ManagedPolicy(arn, arn.rsplit("/", 1)[-1], path="/groupify/", document=d)
            for arn, d in model.created.items()
        ),
    ]
    return attrs.evolve(base, users=users, groups=groups, policies=policies)


def after(plan: Plan, ids: Iterable[str] | None = None) -> Inventory:
    """The account after the steps *ids* (default: all), applied in plan order."""
    wanted = set(ids) if ids is not None else {s.id for s in plan.steps}
    model = AccountModel(plan.inventory)
    for step in plan.steps:
        if step.id in wanted:
            model.apply(step.op, step.params)
    return as_inventory(model, plan.inventory)


def change_user(inventory: Inventory, name: str, **changes: object) -> Inventory:
    users = [attrs.evolve(u, **changes) if u.name == name else u for u in inventory.users]
    return attrs.evolve(inventory, users=users)


def change_group(inventory: Inventory, name: str, **changes: object) -> Inventory:
    groups = [attrs.evolve(g, **changes) if g.name == name else g for g in inventory.groups]
    return attrs.evolve(inventory, groups=groups)


def drift(plan: Plan, live: Inventory) -> tuple[str, ...]:
    with pytest.raises(DriftError) as info:
        reconcile(plan, live)
    return info.value.changes


def ids(first: int, last: int) -> set[str]:
    return {f"s{i}" for i in range(first, last + 1)}


# -- what is done -----------------------------------------------------------------------------


def test_nothing_done_on_the_original_inventory(plan: Plan) -> None:
    """The inventory the plan was made from has no step done; all remain."""
    state = reconcile(plan, plan.inventory)
    assert state.done == frozenset()
    assert state.remaining == plan.steps
    assert state.plan is plan


def test_all_done_on_the_final_state(plan: Plan) -> None:
    """Once every step is in place, every step is done and none remain."""
    state = reconcile(plan, after(plan))
    assert state.done == {s.id for s in plan.steps}
    assert state.remaining == ()
    assert state.verify_remaining().created_groups == {GROUP}


@pytest.mark.parametrize(
    "applied",
    [
        ids(1, 2),
        ids(1, 3),
        ids(1, 8),
        ids(1, 10),
        ids(1, 12),
        {"s10", "s19"},
        {"s3", "s6", "s10"},
        ids(1, 9) | {"s15", "s17"},
    ],
    ids=[
        "policies",
        "group",
        "ana-joined",
        "all-joined",
        "ana-part-way",
        "erin-only",
        "mixed",
        "ben-part-way",
    ],
)
def test_partially_applied_state(plan: Plan, applied: set[str]) -> None:
    """Part-way (in any order the DAG allows) exactly the steps in place are done."""
    state = reconcile(plan, after(plan, applied))
    assert state.done == applied
    assert [s.id for s in state.remaining] == [s.id for s in plan.steps if s.id not in applied]
    final = state.verify_remaining()
    assert all(not final.direct(u) for u in plan.in_scope)


def test_baseline_is_the_access_when_planned(plan: Plan) -> None:
    """The baseline is each user's access in the plan's inventory, whatever is done."""
    state = reconcile(plan, after(plan))
    assert state.baseline == {u.name: plan.inventory.access(u) for u in plan.inventory.users}
    assert state.baseline["erin"] == {PolicyRef("managed", READ)}


def test_an_empty_same_named_group_counts_as_created(plan: Plan) -> None:
    """An empty group with the planned name is the create step done (a run cut short)."""
    live = after(plan, {"s3"})
    assert reconcile(plan, live).done == {"s3"}


# -- drift ------------------------------------------------------------------------------------


def test_user_got_an_extra_managed_policy(plan: Plan) -> None:
    """A managed policy attached to a user the plan touches is drift."""
    live = change_user(plan.inventory, "ana", managed=[S3, ADMIN])
    assert drift(plan, live) == ("user 'ana': managed policies added: AdministratorAccess",)


def test_user_lost_an_inline_policy_and_joined_a_group(plan: Plan) -> None:
    """Every difference of a user is listed in its one line."""
    user = plan.inventory.user_by_name["erin"]
    live = change_user(
        plan.inventory, "erin", inline=[InlinePolicy("x", doc("s3:PutObject"))], managed=[]
    )
    assert user.managed == (READ,)
    assert drift(plan, live) == (
        "s19 detach_user_policy(erin, ReadOnlyAccess) is already gone but "
        "s10 add_user_to_group(erin, readers) is not",
        "user 'erin': inline policies added: x",
    )


def test_inline_document_changed(plan: Plan) -> None:
    """Same names, another document: drift, said as such."""
    user = plan.inventory.user_by_name["ana"]
    inline = [
        InlinePolicy(p.name, doc("s3:*") if p.name == "p0" else p.document) for p in user.inline
    ]
    live = change_user(plan.inventory, "ana", inline=inline)
    assert drift(plan, live) == ("user 'ana': an inline policy document changed",)


def test_created_group_has_a_member_the_plan_did_not_add(plan: Plan) -> None:
    """Someone else in a group the plan created is drift (even with no policy of its own)."""
    live = after(plan)
    live = change_user(live, "zed", groups=[GROUP])
    assert drift(plan, live) == (f"group '{GROUP}' has members the plan did not add",)


def test_created_group_has_another_policy(plan: Plan) -> None:
    """A policy on a created group that the plan did not attach is drift."""
    live = after(plan)
    group = live.group_by_name[GROUP]
    live = change_group(live, GROUP, managed=[*group.managed, ADMIN])
    changes = drift(plan, live)
    assert f"group '{GROUP}' has other policies than planned" in changes
    assert "user 'ana' does not have the access it had when planned" in changes


def test_group_the_plan_creates_exists_with_a_policy(plan: Plan) -> None:
    """A same-named group that exists before its create step, holding a policy, is drift."""
    live = attrs.evolve(
        plan.inventory,
        groups=[
            *plan.inventory.groups,
            Group(GROUP, f"arn:aws:iam::{ACCOUNT}:group/{GROUP}", managed=[ADMIN]),
        ],
    )
    assert drift(plan, live) == (f"group '{GROUP}' has other policies than planned",)


def test_group_the_plan_creates_exists_with_a_member(plan: Plan) -> None:
    """A same-named group that exists before its create step, with a member, is drift."""
    live = attrs.evolve(
        plan.inventory,
        groups=[*plan.inventory.groups, Group(GROUP, f"arn:aws:iam::{ACCOUNT}:group/{GROUP}")],
    )
    live = change_user(live, "zed", groups=[GROUP])
    assert drift(plan, live) == (f"group '{GROUP}' has members the plan did not add",)


def test_done_step_with_its_prerequisite_undone(plan: Plan) -> None:
    """A direct policy removed by hand before its group route is in place is drift."""
    live = change_user(plan.inventory, "ana", managed=[])
    assert drift(plan, live) == (
        f"s11 detach_user_policy(ana, AmazonS3ReadOnlyAccess) is already gone but "
        f"s8 add_user_to_group(ana, {GROUP}) is not",
        "user 'ana' does not have the access it had when planned",
    )


def test_policy_taken_off_a_new_group(plan: Plan) -> None:
    """A grant taken off a new group after its members joined is drift, not redone."""
    live = after(plan, ids(1, 9))
    live = change_group(
        live, GROUP, managed=[a for a in live.group_by_name[GROUP].managed if a != S3]
    )
    assert drift(plan, live) == (
        f"s8 add_user_to_group(ana, {GROUP}) is in place but "
        f"s6 attach_group_policy({GROUP}, AmazonS3ReadOnlyAccess) is not",
        f"s9 add_user_to_group(ben, {GROUP}) is in place but "
        f"s6 attach_group_policy({GROUP}, AmazonS3ReadOnlyAccess) is not",
    )


def test_created_policy_with_another_document(plan: Plan) -> None:
    """A policy at a planned ARN with another document is drift."""
    live = after(plan, ids(1, 2))
    arn = sorted(plan.created_policies)[0]
    policies = [
        attrs.evolve(p, document=doc("iam:*")) if p.arn == arn else p for p in live.policies
    ]
    live = attrs.evolve(live, policies=policies)
    assert drift(plan, live) == (f"policy {arn} exists with another document",)


def test_existing_group_deleted(plan: Plan) -> None:
    """The existing group the plan adds a user to is gone: drift."""
    live = change_user(plan.inventory, "dave", groups=[])
    live = attrs.evolve(live, groups=[])
    assert drift(plan, live) == ("group 'readers' no longer exists",)


def test_existing_group_changed(plan: Plan) -> None:
    """The existing group the plan reuses got another policy: drift."""
    live = change_group(plan.inventory, "readers", managed=[READ, ADMIN])
    changes = drift(plan, live)
    assert "group 'readers' has other policies than planned" in changes


def test_user_deleted(plan: Plan) -> None:
    """A user the plan touches is gone: drift (its removal reads as done out of order, too)."""
    live = attrs.evolve(plan.inventory, users=[u for u in plan.inventory.users if u.name != "erin"])
    assert drift(plan, live) == (
        "s19 detach_user_policy(erin, ReadOnlyAccess) is already gone but "
        "s10 add_user_to_group(erin, readers) is not",
        "user 'erin' no longer exists",
    )


def test_user_deleted_and_created_again(plan: Plan) -> None:
    """Same name, another user id: drift."""
    base = change_user(plan.inventory, "erin", user_id="AIDAOLD")
    planned = attrs.evolve(plan, inventory=base)
    live = change_user(base, "erin", user_id="AIDANEW")
    assert drift(planned, live) == ("user 'erin' was deleted and created again",)


def test_user_newly_exempt(plan: Plan) -> None:
    """A user the plan changes that now carries an exempting tag is drift."""
    live = change_user(plan.inventory, "ben", tags=[("BreakGlass", "true")])
    assert drift(plan, live) == (
        "user 'ben' is now exempt (excluded by tag BreakGlass=true); the plan would change it",
    )


def test_many_changes_are_all_listed(plan: Plan) -> None:
    """Every change is in ``changes``; the message shows three and counts the rest."""
    live = plan.inventory
    for name in ("ana", "ben", "erin", "dave"):
        live = change_user(live, name, tags=[("BreakGlass", "")])
    with pytest.raises(DriftError) as info:
        reconcile(plan, live)
    assert [c.split("'")[1] for c in info.value.changes] == ["ana", "ben", "erin"]
    assert "(and" not in str(info.value)
    live = change_user(live, "zed", managed=[ADMIN])
    changed = attrs.evolve(
        live, groups=[attrs.evolve(g, managed=[READ, ADMIN]) for g in live.groups]
    )
    with pytest.raises(DriftError) as info:
        reconcile(plan, changed)
    assert len(info.value.changes) == 4
    assert str(info.value).endswith("(and 1 more); make a new plan")


def test_another_account(plan: Plan) -> None:
    """A live account other than the plan's is stale, not drift."""
    live = attrs.evolve(plan.inventory, account_id="999999999999")
    with pytest.raises(StalePlanError) as info:
        reconcile(plan, live)
    assert not isinstance(info.value, DriftError)
    assert str(info.value) == f"plan is for account {ACCOUNT}, not 999999999999"


def test_caller_in_scope(plan: Plan) -> None:
    """The plan would change the user running groupify: refused."""
    live = attrs.evolve(plan.inventory, caller_arn=f"arn:aws:iam::{ACCOUNT}:user/ben")
    with pytest.raises(StalePlanError, match="the plan changes user 'ben', who is running") as info:
        reconcile(plan, live)
    assert not isinstance(info.value, DriftError)
    other = attrs.evolve(plan.inventory, caller_arn=f"arn:aws:iam::{ACCOUNT}:user/zed")
    assert reconcile(plan, other).done == frozenset()


# -- is_done per op ------------------------------------------------------------------------


@pytest.mark.parametrize("name", PLAN_OPS)
def test_is_done_per_op(plan: Plan, name: str) -> None:
    """Each plan op is not done before it runs and done right after it."""
    step = next(s for s in plan.steps if s.op == name)
    model = AccountModel(plan.inventory)
    for earlier in plan.steps[: plan.steps.index(step)]:
        model.apply(earlier.op, earlier.params)
    assert not is_done(step, model)
    model.apply(step.op, step.params)
    assert is_done(step, model)


@pytest.mark.parametrize("name", PLAN_OPS)
def test_is_done_on_a_live_model(plan: Plan, name: str) -> None:
    """Read from the live account too: done on the final state, not on the original."""
    step = next(s for s in plan.steps if s.op == name)
    assert not is_done(step, live_model(plan, plan.inventory))
    assert is_done(step, live_model(plan, after(plan)))


def test_put_group_policy_with_another_document_is_not_done(plan: Plan) -> None:
    """An inline policy of the planned name but another document is not the step done."""
    put = next(s for s in plan.steps if s.op == "put_group_policy")
    model = live_model(plan, after(plan, {"s3"}))
    model.group_inline[GROUP]["p0"] = doc("s3:*")
    assert not is_done(put, model)
    model.group_inline[GROUP]["p0"] = put.params["PolicyDocument"]
    assert is_done(put, model)


def test_is_done_of_a_missing_user_or_group(plan: Plan) -> None:
    """A step on a user or group that is not there: a grant is not done, a removal is."""
    model = live_model(plan, plan.inventory)
    join = Step.make("s1", "add_user_to_group", {"GroupName": "g", "UserName": "nobody"})
    attach = Step.make("s1", "attach_group_policy", {"GroupName": "nope", "PolicyArn": READ})
    detach = Step.make("s1", "detach_user_policy", {"UserName": "nobody", "PolicyArn": READ})
    assert not is_done(join, model)
    assert not is_done(attach, model)
    assert is_done(detach, model)


def test_is_done_of_a_non_plan_op(plan: Plan) -> None:
    """Undo calls are not plan steps: is_done refuses them."""
    step = Step.make("u1", "delete_group", {"GroupName": GROUP})
    with pytest.raises(ValueError, match="unknown operation 'delete_group'"):
        is_done(step, live_model(plan, after(plan)))


# -- live_model and access_report -----------------------------------------------------------


def test_live_model_of_the_original_account(plan: Plan) -> None:
    """Before any step, the live model knows no created policy or group."""
    model = live_model(plan, plan.inventory)
    assert model.created == {}
    assert model.created_groups == set()
    assert model.inventory is plan.inventory


def test_live_model_knows_what_the_plan_created(plan: Plan) -> None:
    """Created policies stand for the documents they hold; created groups are the plan's."""
    live = after(plan, ids(1, 3))
    model = live_model(plan, live)
    assert model.created == plan.created_policies
    assert model.created_groups == {GROUP}
    assert model.created_groups == set(plan.created_groups)
    arn = sorted(plan.created_policies)[0]
    assert model.ref(arn) == PolicyRef("inline", plan.created_policies[arn])
    # The plan's group may change; the existing one may not.
    model.apply("attach_group_policy", {"GroupName": GROUP, "PolicyArn": READ})
    with pytest.raises(ValueError, match="not created by this plan"):
        model.apply("attach_group_policy", {"GroupName": "readers", "PolicyArn": S3})


def test_live_model_uses_the_live_document(plan: Plan) -> None:
    """A created policy whose document changed stands for the changed document."""
    live = after(plan, ids(1, 2))
    arn = sorted(plan.created_policies)[0]
    changed = doc("iam:*")
    live = attrs.evolve(
        live,
        policies=[attrs.evolve(p, document=changed) if p.arn == arn else p for p in live.policies],
    )
    model = live_model(plan, live)
    assert model.created[arn] == changed
    assert model.ref(arn) == PolicyRef("inline", changed)


def test_live_model_skips_a_policy_without_a_document(plan: Plan) -> None:
    """A created policy read without its document is not taken to stand for anything."""
    live = after(plan, ids(1, 2))
    live = attrs.evolve(live, policies=[attrs.evolve(p, document=None) for p in live.policies])
    assert live_model(plan, live).created == {}


def test_access_report(plan: Plan) -> None:
    """Per user: the access when planned and now; equal on the final state."""
    report = access_report(plan, after(plan))
    assert set(report) == {u.name for u in plan.inventory.users}
    assert all(then == now for then, now in report.values())
    live = change_user(plan.inventory, "erin", managed=[])
    live = attrs.evolve(live, users=[u for u in live.users if u.name != "zed"])
    report = access_report(plan, live)
    assert "zed" not in report
    assert report["erin"] == (frozenset({PolicyRef("managed", READ)}), frozenset())
