"""The replay model in isolation: each op's effect, IAM's refusals, and check_steps."""

from __future__ import annotations

import json
from collections.abc import Mapping

import pytest

import groupify
from groupify import Inventory, ManagedPolicy, Plan, PlanVerificationError, PolicyRef, Step
from groupify.plan.replay import AccountModel, check_steps, created_policies
from tests.support import ACCOUNT, aws, cust, doc, make_inventory

READ = aws("ReadOnlyAccess")
S3 = aws("AmazonS3ReadOnlyAccess")
DEPLOY = cust("deploy")
ATHENA = doc("athena:StartQueryExecution")


@pytest.fixture
def inventory() -> Inventory:
    """Two users with direct policies, one in an existing group, a listed customer policy."""
    inv = make_inventory(
        {
            "alice": {"managed": [S3], "inline": {"athena": ATHENA}},
            "bob": {"managed": [DEPLOY]},
            "dave": {"groups": ["readers"]},
        },
        {"readers": {"managed": [READ]}},
    )
    listed = ManagedPolicy(cust("listed"), "listed", document=doc("s3:GetObject"))
    return Inventory(
        account_id=inv.account_id,
        users=inv.users,
        groups=inv.groups,
        policies=[listed],
    )


@pytest.fixture
def model(inventory: Inventory) -> AccountModel:
    return AccountModel(inventory)


def new_group(model: AccountModel, name: str = "data", *members: str) -> None:
    model.apply("create_group", {"GroupName": name})
    for user in members:
        model.apply("add_user_to_group", {"GroupName": name, "UserName": user})


# -- the model as built --------------------------------------------------------------------


def test_model_of_an_inventory(model: AccountModel) -> None:
    """The model starts as the inventory: direct policies, memberships, group policies."""
    assert model.user_managed == {"alice": {S3}, "bob": {DEPLOY}, "dave": set()}
    assert model.user_inline == {"alice": {"athena": ATHENA}, "bob": {}, "dave": {}}
    assert model.user_groups == {"alice": set(), "bob": set(), "dave": {"readers"}}
    assert model.group_members == {"readers": {"dave"}}
    assert model.created == {}
    assert model.created_groups == set()
    assert model.access("alice") == {PolicyRef("managed", S3), PolicyRef("inline", ATHENA)}
    assert model.access("dave") == {PolicyRef("managed", READ)}
    assert model.direct("dave") == frozenset()


def test_a_created_policy_stands_for_its_document(inventory: Inventory) -> None:
    """The ARN of a policy the plan made stands for its document, so it equals the inline one."""
    arn = inventory.policy_arn("athena-1", "/groupify/")
    model = AccountModel(inventory, created_policies={arn: ATHENA}, created_groups=["readers"])
    assert model.ref(arn) == PolicyRef("inline", ATHENA)
    assert model.ref(READ) == PolicyRef("managed", READ)
    model.apply("attach_group_policy", {"GroupName": "readers", "PolicyArn": arn})
    assert model.group_policies("readers") == {PolicyRef("managed", READ), PolicyRef.inline(ATHENA)}


# -- each op ----------------------------------------------------------------------------


def test_create_group(model: AccountModel) -> None:
    """A new group is empty, known as created, and its name is taken ignoring case."""
    assert model.apply("create_group", {"GroupName": "Data", "Path": "/x/"}) == ()
    assert model.group_managed["Data"] == set()
    assert model.group_inline["Data"] == {}
    assert model.group_members["Data"] == set()
    assert model.created_groups == {"Data"}
    assert "data" in model.groups_lower


@pytest.mark.parametrize("name", ["readers", "READERS", "Readers"])
def test_create_group_that_exists_ignoring_case(model: AccountModel, name: str) -> None:
    """IAM group names are case-insensitive: an existing one in any case is refused."""
    with pytest.raises(ValueError, match=f"group '{name}' already exists"):
        model.apply("create_group", {"GroupName": name})
    assert name not in model.created_groups


def test_create_group_twice(model: AccountModel) -> None:
    """A group the plan made cannot be made again, in any case."""
    new_group(model, "Data")
    with pytest.raises(ValueError, match="group 'data' already exists"):
        model.apply("create_group", {"GroupName": "data"})


def test_create_policy(model: AccountModel, inventory: Inventory) -> None:
    """A new policy is known by its ARN under its path, its document canonical."""
    loose = json.dumps(json.loads(ATHENA), indent=4)
    params = {"PolicyName": "athena-1", "PolicyDocument": loose, "Path": "/groupify/"}
    assert model.apply("create_policy", params) == ()
    assert model.created == {f"arn:aws:iam::{ACCOUNT}:policy/groupify/athena-1": ATHENA}
    model.apply("create_policy", {"PolicyName": "other", "PolicyDocument": ATHENA})
    assert f"arn:aws:iam::{ACCOUNT}:policy/other" in model.created


def test_create_policy_that_exists(model: AccountModel) -> None:
    """A policy listed in the inventory, or made already, is not made again."""
    with pytest.raises(ValueError, match=f"policy {cust('listed')} already exists"):
        model.apply("create_policy", {"PolicyName": "listed", "PolicyDocument": ATHENA})
    params = {"PolicyName": "p", "PolicyDocument": ATHENA, "Path": "/groupify/"}
    model.apply("create_policy", params)
    with pytest.raises(ValueError, match="already exists"):
        model.apply("create_policy", params)


def test_attach_group_policy(model: AccountModel) -> None:
    """Attaching to a new group gives its members the policy and names them."""
    new_group(model, "data", "alice", "bob")
    affected = model.apply("attach_group_policy", {"GroupName": "data", "PolicyArn": READ})
    assert sorted(affected) == ["alice", "bob"]
    assert model.group_managed["data"] == {READ}
    assert PolicyRef("managed", READ) in model.access("bob")


@pytest.mark.parametrize(
    "arn",
    [DEPLOY, cust("listed"), aws("AnyAwsPolicy")],
    ids=["attached-to-a-user", "listed", "aws-managed"],
)
def test_attach_group_policy_known_policies(model: AccountModel, arn: str) -> None:
    """AWS-managed policies and customer policies the inventory shows may be attached."""
    new_group(model)
    assert model.apply("attach_group_policy", {"GroupName": "data", "PolicyArn": arn}) == ()
    assert model.group_managed["data"] == {arn}


def test_attach_group_policy_created_by_the_plan(model: AccountModel) -> None:
    """A customer policy the plan created may be attached."""
    new_group(model)
    model.apply("create_policy", {"PolicyName": "p", "PolicyDocument": ATHENA})
    model.apply("attach_group_policy", {"GroupName": "data", "PolicyArn": cust("p")})
    assert model.group_policies("data") == {PolicyRef("inline", ATHENA)}


@pytest.mark.parametrize(
    ("group", "arn", "match"),
    [
        ("readers", S3, "group 'readers' was not created by this plan; it must not change"),
        ("nope", S3, "group 'nope' does not exist"),
        ("data", "arn:aws:iam::aws:role/x", "is not a policy ARN"),
        ("data", "arn:aws:iam::999999999999:policy/p", "belongs to another account"),
        ("data", cust("unknown"), f"customer policy {cust('unknown')} is not known to exist"),
    ],
    ids=["existing-group", "no-group", "not-a-policy", "other-account", "unknown-policy"],
)
def test_attach_group_policy_refused(model: AccountModel, group: str, arn: str, match: str) -> None:
    """What IAM (or groupify's rules) would refuse when attaching a policy to a group."""
    new_group(model)
    with pytest.raises(ValueError, match=match):
        model.apply("attach_group_policy", {"GroupName": group, "PolicyArn": arn})
    assert model.group_managed["data"] == set()
    assert model.group_managed["readers"] == {READ}


def test_attach_group_policy_twice(model: AccountModel) -> None:
    """A policy already attached to the group is refused."""
    new_group(model)
    model.apply("attach_group_policy", {"GroupName": "data", "PolicyArn": READ})
    with pytest.raises(ValueError, match=f"{READ} is already attached to group 'data'"):
        model.apply("attach_group_policy", {"GroupName": "data", "PolicyArn": READ})


def test_put_group_policy(model: AccountModel) -> None:
    """An inline policy on a new group, stored canonical; names its members."""
    new_group(model, "data", "alice")
    loose = json.dumps(json.loads(ATHENA), indent=2)
    params = {"GroupName": "data", "PolicyName": "athena", "PolicyDocument": loose}
    assert model.apply("put_group_policy", params) == ("alice",)
    assert model.group_inline["data"] == {"athena": ATHENA}
    with pytest.raises(ValueError, match="group 'data' already has inline policy 'athena'"):
        model.apply("put_group_policy", params)
    with pytest.raises(ValueError, match="group 'readers' was not created by this plan"):
        model.apply("put_group_policy", {**params, "GroupName": "readers"})


def test_add_user_to_group(model: AccountModel) -> None:
    """Joining a group (an existing one too) gives the user its policies."""
    assert model.apply("add_user_to_group", {"GroupName": "readers", "UserName": "bob"}) == ("bob",)
    assert model.user_groups["bob"] == {"readers"}
    assert model.group_members["readers"] == {"bob", "dave"}
    assert PolicyRef("managed", READ) in model.access("bob")


@pytest.mark.parametrize(
    ("group", "user", "match"),
    [
        ("nope", "bob", "group 'nope' does not exist"),
        ("readers", "zed", "user 'zed' does not exist"),
        ("readers", "dave", "user 'dave' is already in group 'readers'"),
    ],
)
def test_add_user_to_group_refused(model: AccountModel, group: str, user: str, match: str) -> None:
    """A missing group or user, or a member already, is refused."""
    with pytest.raises(ValueError, match=match):
        model.apply("add_user_to_group", {"GroupName": group, "UserName": user})
    assert model.group_members["readers"] == {"dave"}


def test_detach_user_policy(model: AccountModel) -> None:
    """Detaching takes the policy from the user; detaching it again is refused."""
    params = {"UserName": "alice", "PolicyArn": S3}
    assert model.apply("detach_user_policy", params) == ("alice",)
    assert model.user_managed["alice"] == set()
    with pytest.raises(ValueError, match=f"{S3} is not attached to user 'alice'"):
        model.apply("detach_user_policy", params)
    with pytest.raises(ValueError, match="user 'zed' does not exist"):
        model.apply("detach_user_policy", {"UserName": "zed", "PolicyArn": S3})


def test_delete_user_policy(model: AccountModel) -> None:
    """Deleting an inline policy takes it from the user; a missing one is refused."""
    params = {"UserName": "alice", "PolicyName": "athena"}
    assert model.apply("delete_user_policy", params) == ("alice",)
    assert model.user_inline["alice"] == {}
    assert model.access("alice") == {PolicyRef("managed", S3)}
    with pytest.raises(ValueError, match="user 'alice' has no inline policy 'athena'"):
        model.apply("delete_user_policy", params)


def test_remove_user_from_group(model: AccountModel) -> None:
    """Leaving a group takes its policies away; a non-member is refused."""
    params = {"GroupName": "readers", "UserName": "dave"}
    assert model.apply("remove_user_from_group", params) == ("dave",)
    assert model.user_groups["dave"] == set()
    assert model.group_members["readers"] == set()
    assert model.access("dave") == frozenset()
    with pytest.raises(ValueError, match="user 'dave' is not in group 'readers'"):
        model.apply("remove_user_from_group", params)


def test_detach_group_policy(model: AccountModel) -> None:
    """Detaching from a new group names its members; not attached, or an old group: refused."""
    new_group(model, "data", "bob")
    params = {"GroupName": "data", "PolicyArn": READ}
    model.apply("attach_group_policy", params)
    assert model.apply("detach_group_policy", params) == ("bob",)
    assert model.group_managed["data"] == set()
    with pytest.raises(ValueError, match=f"{READ} is not attached to group 'data'"):
        model.apply("detach_group_policy", params)
    with pytest.raises(ValueError, match="group 'readers' was not created by this plan"):
        model.apply("detach_group_policy", {"GroupName": "readers", "PolicyArn": READ})
    assert model.group_managed["readers"] == {READ}


def test_delete_group_policy(model: AccountModel) -> None:
    """Deleting a new group's inline policy; a missing one is refused."""
    new_group(model, "data", "bob")
    model.apply(
        "put_group_policy", {"GroupName": "data", "PolicyName": "a", "PolicyDocument": ATHENA}
    )
    params = {"GroupName": "data", "PolicyName": "a"}
    assert model.apply("delete_group_policy", params) == ("bob",)
    assert model.group_inline["data"] == {}
    with pytest.raises(ValueError, match="group 'data' has no inline policy 'a'"):
        model.apply("delete_group_policy", params)


def test_delete_group(model: AccountModel) -> None:
    """An empty new group can be deleted, and its name made again."""
    new_group(model, "Data")
    assert model.apply("delete_group", {"GroupName": "Data"}) == ()
    assert "Data" not in model.group_managed
    assert "Data" not in model.group_members
    assert model.created_groups == set()
    assert "data" not in model.groups_lower
    model.apply("create_group", {"GroupName": "data"})
    assert model.created_groups == {"data"}


@pytest.mark.parametrize(
    "fill",
    [
        {"op": "add_user_to_group", "params": {"UserName": "bob"}},
        {"op": "attach_group_policy", "params": {"PolicyArn": READ}},
        {"op": "put_group_policy", "params": {"PolicyName": "a", "PolicyDocument": ATHENA}},
    ],
    ids=["member", "managed", "inline"],
)
def test_delete_group_with_members_or_policies(
    model: AccountModel, fill: Mapping[str, object]
) -> None:
    """IAM refuses to delete a group that has members or policies."""
    new_group(model)
    model.apply(str(fill["op"]), {"GroupName": "data", **fill["params"]})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="group 'data' still has members or policies"):
        model.apply("delete_group", {"GroupName": "data"})
    assert "data" in model.created_groups


def test_delete_group_not_created(model: AccountModel) -> None:
    """A group the plan did not create is never deleted, even when empty."""
    model.apply("remove_user_from_group", {"GroupName": "readers", "UserName": "dave"})
    with pytest.raises(ValueError, match="group 'readers' was not created by this plan"):
        model.apply("delete_group", {"GroupName": "readers"})
    assert "readers" in model.group_managed


def test_delete_policy(model: AccountModel) -> None:
    """A created policy no one holds can be deleted; then it is unknown again."""
    model.apply("create_policy", {"PolicyName": "p", "PolicyDocument": ATHENA})
    assert model.apply("delete_policy", {"PolicyArn": cust("p")}) == ()
    assert model.created == {}
    with pytest.raises(ValueError, match=f"policy {cust('p')} was not created by this plan"):
        model.apply("delete_policy", {"PolicyArn": cust("p")})


def test_delete_policy_still_attached(model: AccountModel) -> None:
    """A created policy attached to a group or a user is not deleted; the holder is named."""
    model.apply("create_policy", {"PolicyName": "p", "PolicyDocument": ATHENA})
    new_group(model)
    model.apply("attach_group_policy", {"GroupName": "data", "PolicyArn": cust("p")})
    with pytest.raises(ValueError, match=f"policy {cust('p')} is still attached to 'data'"):
        model.apply("delete_policy", {"PolicyArn": cust("p")})
    model.apply("detach_group_policy", {"GroupName": "data", "PolicyArn": cust("p")})
    model.apply("attach_user_policy", {"UserName": "dave", "PolicyArn": cust("p")})
    with pytest.raises(ValueError, match="still attached to 'dave'"):
        model.apply("delete_policy", {"PolicyArn": cust("p")})
    assert cust("p") in model.created


def test_delete_policy_not_created(model: AccountModel) -> None:
    """Policies the plan did not create (listed, AWS-managed) are never deleted."""
    for arn in (cust("listed"), READ):
        with pytest.raises(ValueError, match="was not created by this plan"):
            model.apply("delete_policy", {"PolicyArn": arn})


def test_attach_user_policy(model: AccountModel) -> None:
    """Attaching to a user gives it back; attached already is refused."""
    params = {"UserName": "dave", "PolicyArn": S3}
    assert model.apply("attach_user_policy", params) == ("dave",)
    assert model.user_managed["dave"] == {S3}
    with pytest.raises(ValueError, match=f"{S3} is already attached to user 'dave'"):
        model.apply("attach_user_policy", params)


def test_put_user_policy(model: AccountModel) -> None:
    """Putting an inline policy on a user, canonical; a name in use is refused."""
    loose = json.dumps(json.loads(ATHENA), indent=1)
    params = {"UserName": "bob", "PolicyName": "athena", "PolicyDocument": loose}
    assert model.apply("put_user_policy", params) == ("bob",)
    assert model.user_inline["bob"] == {"athena": ATHENA}
    with pytest.raises(ValueError, match="user 'bob' already has inline policy 'athena'"):
        model.apply("put_user_policy", params)
    with pytest.raises(ValueError, match="user 'zed' does not exist"):
        model.apply("put_user_policy", {**params, "UserName": "zed"})


def test_unknown_op(model: AccountModel) -> None:
    """A call that is not in the op table is refused."""
    with pytest.raises(ValueError, match="unknown operation 'delete_user'"):
        model.apply("delete_user", {"UserName": "bob"})


def test_wrong_parameters(model: AccountModel) -> None:
    """A call with a parameter the op does not take is a TypeError (check_steps reports it)."""
    with pytest.raises(TypeError):
        model.apply("create_group", {"GroupName": "g", "Bogus": "x"})


def test_created_policies(inventory: Inventory) -> None:
    """ARN → canonical document of every create_policy among steps."""
    steps = [
        Step.make("s1", "create_policy", {"PolicyName": "a", "PolicyDocument": ATHENA}),
        Step.make("s2", "create_group", {"GroupName": "g"}),
        Step.make(
            "s3",
            "create_policy",
            {"PolicyName": "b", "PolicyDocument": json.dumps(json.loads(ATHENA)), "Path": "/x/"},
        ),
    ]
    assert created_policies(inventory, steps) == {
        cust("a"): ATHENA,
        f"arn:aws:iam::{ACCOUNT}:policy/x/b": ATHENA,
    }


# -- check_steps ------------------------------------------------------------------------------


@pytest.fixture
def plan(small: Inventory) -> Plan:
    return groupify.build_plan(groupify.propose(small, exclude_tags=["BreakGlass"]))


def check(plan: Plan, steps: list[Step], **kwargs: object) -> AccountModel:
    options: dict[str, object] = {
        "in_scope": plan.in_scope,
        "protected": {"root-bg": "break glass"},
    }
    options.update(kwargs)
    return check_steps(plan.inventory, steps, **options)  # type: ignore[arg-type]


def by_id(plan: Plan, step_id: str) -> Step:
    return next(s for s in plan.steps if s.id == step_id)


def test_check_steps_returns_the_final_model(plan: Plan) -> None:
    """A good plan replays to a model where no user in scope holds a direct policy."""
    model = check(plan, list(plan.steps))
    assert isinstance(model, AccountModel)
    for user in plan.inventory.users:
        assert model.access(user.name) == plan.inventory.access(user)
    assert {u: model.direct(u) for u in plan.in_scope} == dict.fromkeys(plan.in_scope, frozenset())
    assert model.user_groups["alice"] == {"data-analyst"}
    assert model.created_groups == {"data-analyst", "ec2-s3-readonly"}
    assert model.direct("root-bg") == {PolicyRef("managed", aws("AdministratorAccess"))}


def test_removal_before_its_route_loses_access(plan: Plan) -> None:
    """A detach that runs before the group gives the same policy opens a gap."""
    detach = by_id(plan, "s10")
    assert detach.op == "detach_user_policy"
    steps = [Step(detach.id, detach.op, detach.param_items, ()), *plan.steps[:9]]
    with pytest.raises(PlanVerificationError) as info:
        check(plan, steps)
    assert info.value.step == "s10"
    assert info.value.user == "alice"
    assert str(info.value) == (
        "after step s10 (detach_user_policy) user 'alice' would lose AmazonS3ReadOnlyAccess"
    )


def test_removal_not_after_its_route_is_a_parallel_gap(plan: Plan) -> None:
    """In a safe order but without ``after`` on its add, a removal could race it."""
    steps = [Step(s.id, s.op, s.param_items, ()) if s.id == "s11" else s for s in plan.steps]
    with pytest.raises(PlanVerificationError, match="parallel run could open a gap") as info:
        check(plan, steps)
    assert (info.value.step, info.value.user) == ("s11", "alice")
    # Without the DAG check the same steps pass.
    check(plan, steps, check_dag=False)


def test_step_touching_a_protected_user(plan: Plan) -> None:
    """Any step naming a protected user is refused with the reason."""
    extra = Step.make("s99", "detach_user_policy", {"UserName": "root-bg", "PolicyArn": READ})
    with pytest.raises(PlanVerificationError) as info:
        check(plan, [*plan.steps, extra])
    assert (info.value.step, info.value.user) == ("s99", "root-bg")
    assert str(info.value) == (
        "step s99 (detach_user_policy) touches user 'root-bg', who is exempt (break glass)"
    )


def test_duplicate_step_id(plan: Plan) -> None:
    """Two steps with one id are refused at the second."""
    twice = Step.make("s1", "create_group", {"GroupName": "other"})
    with pytest.raises(PlanVerificationError, match="step id 's1' appears twice") as info:
        check(plan, [*plan.steps, twice])
    assert info.value.step == "s1"


def test_after_naming_a_later_step(plan: Plan) -> None:
    """``after`` may only name steps that come earlier."""
    first = plan.steps[0]
    steps = [Step(first.id, first.op, first.param_items, ("s5",)), *plan.steps[1:]]
    with pytest.raises(PlanVerificationError) as info:
        check(plan, steps)
    assert info.value.step == "s1"
    assert str(info.value) == "step s1 runs after 's5', which is not an earlier step"
    with pytest.raises(PlanVerificationError, match="runs after 's1'"):
        check(plan, [Step(first.id, first.op, first.param_items, ("s1",))], in_scope=())


def test_widening_access(plan: Plan) -> None:
    """Adding a user to an existing group with more policies than it had widens its access."""
    widen = Step.make("s16", "add_user_to_group", {"GroupName": "readers", "UserName": "carol"})
    with pytest.raises(PlanVerificationError) as info:
        check(plan, [*plan.steps, widen])
    assert (info.value.step, info.value.user) == ("s16", "carol")
    assert (
        str(info.value)
        == "after step s16 (add_user_to_group) user 'carol' would gain ReadOnlyAccess"
    )


def test_widening_through_a_new_group_names_every_member(plan: Plan) -> None:
    """An extra policy on a new group widens its members' access."""
    extra = Step.make(
        "s16",
        "attach_group_policy",
        {"GroupName": "data-analyst", "PolicyArn": aws("AdministratorAccess")},
    )
    with pytest.raises(PlanVerificationError, match="would gain AdministratorAccess") as info:
        check(plan, [*plan.steps, extra])
    assert info.value.step == "s16"
    assert info.value.user in ("alice", "bob")


@pytest.mark.parametrize("op", ["remove_user_from_group", "detach_group_policy"])
def test_a_later_change_to_a_route_is_seen(plan: Plan, op: str) -> None:
    """What a user holds through its groups is read again after a step that changes it:
    it left the group, or the group lost a policy (after its members' access was read)."""
    attach = next(s for s in plan.steps if s.op == "attach_group_policy")
    group = attach.params["GroupName"]
    member = next(
        s.params["UserName"]
        for s in plan.steps
        if s.op == "add_user_to_group" and s.params["GroupName"] == group
    )
    params = {
        "remove_user_from_group": {"GroupName": group, "UserName": member},
        "detach_group_policy": {"GroupName": group, "PolicyArn": attach.params["PolicyArn"]},
    }[op]
    with pytest.raises(PlanVerificationError, match="would lose") as info:
        check(plan, [*plan.steps, Step.make("s99", op, params)], check_dag=False)
    assert info.value.step == "s99"


def test_user_in_scope_left_with_a_direct_policy(plan: Plan) -> None:
    """A user in scope that keeps a direct policy at the end is refused, without a step."""
    steps = [s for s in plan.steps if s.id != "s15"]
    with pytest.raises(PlanVerificationError) as info:
        check(plan, steps)
    assert (info.value.step, info.value.user) == (None, "carol")
    assert str(info.value) == "user 'carol' still has direct policies at the end of the plan"


def test_step_iam_would_refuse(plan: Plan) -> None:
    """A call IAM would refuse (here: the group exists already) names the step and why."""
    again = Step.make("s16", "create_group", {"GroupName": "Data-Analyst"})
    with pytest.raises(PlanVerificationError) as info:
        check(plan, [*plan.steps, again])
    assert info.value.step == "s16"
    assert str(info.value) == (
        "step s16 (create_group) would fail: group 'Data-Analyst' already exists"
    )


def test_step_with_wrong_parameters(plan: Plan) -> None:
    """A call with parameters its op does not take fails as a step, not as a crash."""
    bad = Step.make("s16", "create_group", {"GroupName": "g", "UserName": "bob"})
    with pytest.raises(PlanVerificationError, match=r"step s16 \(create_group\) would fail"):
        check(plan, [*plan.steps, bad])


def test_unknown_op_in_a_step(plan: Plan) -> None:
    """A step whose op is not in the table is refused with its id."""
    bad = Step("s16", "delete_user", (("UserName", "bob"),))
    with pytest.raises(PlanVerificationError) as info:
        check(plan, [*plan.steps, bad])
    assert info.value.step == "s16"
    assert "unknown operation 'delete_user'" in str(info.value)


def test_check_steps_from_a_model_and_baseline(plan: Plan) -> None:
    """Starting from a part-way model, the remaining steps are checked against the baseline."""
    model = AccountModel(plan.inventory)
    for step in plan.steps[:9]:
        model.apply(step.op, step.params)
    final = check(plan, list(plan.steps[9:]), model=model, check_dag=False)
    assert final is model
    assert all(not model.direct(u) for u in plan.in_scope)
    # Against a baseline in which carol never had EC2, her new group widens her access.
    baseline = {u.name: plan.inventory.access(u) for u in plan.inventory.users}
    baseline["carol"] = frozenset({PolicyRef("managed", aws("AmazonS3ReadOnlyAccess"))})
    with pytest.raises(PlanVerificationError, match="user 'carol' would gain") as info:
        check(plan, list(plan.steps), baseline=baseline)
    assert info.value.step == "s9"


def test_ancestry_check_of_a_long_chain_of_steps() -> None:
    """A removal at the end of a chain of 3,000 steps is checked without recursing."""
    inv = make_inventory({"alice": {"managed": [READ]}}, {})
    calls = [("create_group", {"GroupName": f"g{i}"}) for i in range(3000)]
    calls += [
        ("attach_group_policy", {"GroupName": "g0", "PolicyArn": READ}),
        ("add_user_to_group", {"GroupName": "g0", "UserName": "alice"}),
        ("detach_user_policy", {"UserName": "alice", "PolicyArn": READ}),
    ]
    steps = [
        Step.make(f"s{i + 1}", op, params, [f"s{i}"] if i else [])
        for i, (op, params) in enumerate(calls)
    ]
    model = check_steps(inv, steps, in_scope=["alice"], protected={})
    assert model.user_groups["alice"] == {"g0"}
