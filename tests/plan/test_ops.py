"""The op table: every backend covers its ops, the table is consistent, reverses undo."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import groupify
import groupify.cli
import groupify.export
import groupify.plan.reconcile
import groupify.plan.replay
import groupify.plan.views
import groupify.report
import groupify.report.facts
import groupify.runtime.executor
import groupify.runtime.undo
from groupify import Plan, Quotas, Step
from groupify.plan.ops import ALL, BACKENDS, OPS, PLAN_OPS, Backend, op
from groupify.plan.replay import AccountModel
from groupify.plan.views import label
from groupify.runtime.undo import reverse
from tests.support import ACCOUNT, aws, doc, make_inventory

#: The backends the package registers, and the ops each must cover.
EXPECTED_BACKENDS = {
    "replay": ALL,
    "done": PLAN_OPS,
    "live": ALL,
    "reverse": PLAN_OPS,
    "text": ALL,
    "report": PLAN_OPS,
    "terraform": PLAN_OPS,
    "cloudformation": PLAN_OPS,
}

BIG = [doc(f"svc{i}:" + "A" * 60) for i in range(3)]


def every_op_plan() -> Plan:
    """A plan holding every plan op: created policies, a new group, an existing group reused."""
    inline = {f"p{i}": d for i, d in enumerate(BIG)}
    inventory = make_inventory(
        {
            "ana": {"managed": [aws("AmazonS3ReadOnlyAccess")], "inline": inline},
            "ben": {"managed": [aws("AmazonS3ReadOnlyAccess")], "inline": inline},
            "erin": {"managed": [aws("ReadOnlyAccess")]},
            "dave": {"groups": ["readers"]},
        },
        {"readers": {"managed": [aws("ReadOnlyAccess")]}},
        quotas=Quotas(group_inline_chars=200),
    )
    return groupify.build_plan(groupify.propose(inventory))


@pytest.fixture(scope="module")
def plan() -> Plan:
    return every_op_plan()


def state(model: AccountModel) -> dict[str, Any]:
    """Everything an :class:`AccountModel` holds, as comparable values."""
    return {
        "user_managed": {u: frozenset(a) for u, a in model.user_managed.items()},
        "user_inline": {u: dict(p) for u, p in model.user_inline.items()},
        "user_groups": {u: frozenset(g) for u, g in model.user_groups.items()},
        "group_managed": {g: frozenset(a) for g, a in model.group_managed.items()},
        "group_inline": {g: dict(p) for g, p in model.group_inline.items()},
        "group_members": {g: frozenset(m) for g, m in model.group_members.items()},
        "created": dict(model.created),
        "created_groups": frozenset(model.created_groups),
        "groups_lower": frozenset(model.groups_lower),
    }


# -- the backends ------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(EXPECTED_BACKENDS))
def test_expected_backend_exists_and_covers_its_ops(name: str) -> None:
    """Each backend the package registers takes the ops it should and implements all of them."""
    backend = BACKENDS[name]
    assert backend.name == name
    assert backend.ops == EXPECTED_BACKENDS[name]
    assert backend.missing() == []
    for o in backend.ops:
        assert callable(backend[o])


def test_every_registered_backend_covers_all_its_ops() -> None:
    """No backend anywhere in the package lacks an implementation of one of its ops."""
    assert set(EXPECTED_BACKENDS) <= set(BACKENDS)
    assert {name: b.missing() for name, b in BACKENDS.items()} == {name: [] for name in BACKENDS}


@pytest.fixture
def throwaway() -> Iterator[Backend[Any]]:
    backend: Backend[Any] = Backend("x-test", ["create_group", "create_policy"])
    try:
        yield backend
    finally:
        BACKENDS.pop("x-test", None)


def test_an_op_without_an_implementation_is_missing(throwaway: Backend[Any]) -> None:
    """missing() names the ops not yet registered, in the backend's order, until they are."""
    assert BACKENDS["x-test"] is throwaway
    assert throwaway.missing() == ["create_group", "create_policy"]
    assert repr(throwaway) == "Backend(x-test, 0/2 ops)"

    @throwaway.register("create_group")
    def impl() -> str:
        return "made"

    assert throwaway.missing() == ["create_policy"]
    assert throwaway["create_group"] is impl
    throwaway.register("create_policy")(impl)
    assert throwaway.missing() == []
    assert repr(throwaway) == "Backend(x-test, 2/2 ops)"


def test_one_function_may_implement_several_ops(throwaway: Backend[Any]) -> None:
    """register(a, b) registers the same function for both."""

    def impl() -> None:
        return None

    assert throwaway.register("create_group", "create_policy")(impl) is impl
    assert throwaway["create_group"] is throwaway["create_policy"] is impl


def test_backend_with_an_unknown_op_is_refused() -> None:
    """A backend may only take ops from the table; it is not registered when refused."""
    with pytest.raises(ValueError, match=r"backend 'x-bad': unknown ops \['nope'\]"):
        Backend("x-bad", ["create_group", "nope"])
    assert "x-bad" not in BACKENDS


def test_registering_an_op_the_backend_does_not_take_is_refused(throwaway: Backend[Any]) -> None:
    """An op in the table but not among the backend's ops cannot be registered."""
    with pytest.raises(ValueError, match="backend 'x-test' does not take op 'delete_group'"):
        throwaway.register("delete_group")(print)
    with pytest.raises(ValueError, match="does not take op 'nope'"):
        throwaway.register("nope")(print)
    assert throwaway.missing() == ["create_group", "create_policy"]


def test_registering_an_op_twice_is_refused(throwaway: Backend[Any]) -> None:
    """A second implementation of the same op is an error, and the first one stays."""
    throwaway.register("create_group")(print)
    with pytest.raises(ValueError, match="backend 'x-test': op 'create_group' registered twice"):
        throwaway.register("create_group")(repr)
    assert throwaway["create_group"] is print


def test_getitem_of_a_missing_op_names_the_backend(throwaway: Backend[Any]) -> None:
    """Looking up an op without an implementation raises KeyError naming backend and op."""
    with pytest.raises(KeyError) as info:
        throwaway["create_group"]
    assert info.value.args == ("backend 'x-test' has no implementation of 'create_group'",)
    with pytest.raises(KeyError) as info:
        throwaway["nope"]
    assert info.value.args == ("backend 'x-test' has no implementation of 'nope'",)


# -- the table -------------------------------------------------------------------------


def test_plan_ops_and_all_ops() -> None:
    """PLAN_OPS are the in-plan ops in run order; ALL is every op in the table."""
    assert PLAN_OPS == (
        "create_policy",
        "create_group",
        "attach_group_policy",
        "put_group_policy",
        "add_user_to_group",
        "detach_user_policy",
        "delete_user_policy",
    )
    assert tuple(OPS) == ALL
    assert len(ALL) == 14
    assert tuple(o for o in ALL if OPS[o].in_plan) == PLAN_OPS
    assert all(OPS[name].name == name for name in ALL)


def test_op_lookup() -> None:
    """op() returns the table entry; an op groupify never makes is a KeyError."""
    assert op("create_group") is OPS["create_group"]
    with pytest.raises(KeyError):
        op("delete_user")


@pytest.mark.parametrize("name", PLAN_OPS)
def test_plan_op_has_a_reverse_that_is_not_a_plan_op(name: str) -> None:
    """Every plan op names the call that undoes it; that call is in the table, not in plans."""
    undo = OPS[name].reverse
    assert undo is not None
    assert undo in OPS
    assert not OPS[undo].in_plan
    assert OPS[undo].reverse is None
    # Undoing a grant takes away; undoing a removal gives back.
    assert OPS[undo].takes_away is not OPS[name].takes_away


def test_reverses_are_exactly_the_non_plan_ops() -> None:
    """Each non-plan op undoes exactly one plan op."""
    reverses = [OPS[name].reverse for name in PLAN_OPS]
    assert len(set(reverses)) == len(PLAN_OPS)
    assert set(reverses) == set(ALL) - set(PLAN_OPS)


@pytest.mark.parametrize("name", [o for o in ALL if o not in PLAN_OPS])
def test_non_plan_op_has_no_reverse(name: str) -> None:
    """Only plan ops are reversed."""
    assert OPS[name].reverse is None
    assert not OPS[name].in_plan
    assert OPS[name].creates is None


@pytest.mark.parametrize("name", ALL)
def test_op_facts_are_consistent(name: str) -> None:
    """removes_direct implies takes_away and in_plan; principal and subject are required."""
    o = OPS[name]
    if o.removes_direct:
        assert o.takes_away
        assert o.in_plan
    if o.principal is not None:
        assert o.principal in o.required
    if o.subject is not None:
        assert o.subject in o.required
    assert not o.required & o.optional
    assert not (o.takes_away and o.grants)
    assert o.meaning


def test_removes_direct_ops() -> None:
    """Only detaching and deleting a user's own policies count as removing a direct grant."""
    assert {o.name for o in OPS.values() if o.removes_direct} == {
        "detach_user_policy",
        "delete_user_policy",
    }


def test_creating_ops() -> None:
    """create_policy and create_group are the only ops that make something."""
    assert {o.name: o.creates for o in OPS.values() if o.creates} == {
        "create_policy": "policy",
        "create_group": "group",
    }


@pytest.mark.parametrize("name", ALL)
def test_check_params_accepts_required_and_optional(name: str) -> None:
    """The required parameters, with or without the optional ones, are accepted."""
    o = OPS[name]
    assert o.check_params(dict.fromkeys(o.required, "x")) is None
    assert o.check_params(dict.fromkeys(o.required | o.optional, "x")) is None


@pytest.mark.parametrize("name", ALL)
def test_check_params_refuses_missing_and_extra(name: str) -> None:
    """A missing required parameter or an unknown one is refused with the op's name."""
    o = OPS[name]
    params = dict.fromkeys(o.required, "x")
    missing = dict(params)
    missing.pop(sorted(o.required)[0])
    for wrong in (missing, {**params, "Bogus": "x"}, {}):
        message = o.check_params(wrong)
        assert message is not None
        assert message.startswith(f"{name} takes {', '.join(sorted(o.required))} ")


def test_check_params_message() -> None:
    """The message lists required and optional parameters, or says there are no others."""
    assert (
        OPS["create_group"].check_params({}) == "create_group takes GroupName (and optionally Path)"
    )
    assert OPS["attach_group_policy"].check_params(
        {"GroupName": "g", "PolicyArn": "a", "UserName": "u"}
    ) == ("attach_group_policy takes GroupName, PolicyArn (and optionally nothing else)")
    assert OPS["create_policy"].check_params({"PolicyName": "p"}) == (
        "create_policy takes PolicyDocument, PolicyName (and optionally Description, Path)"
    )


# -- reverses undo on the replay model -----------------------------------------------------


def test_the_plan_holds_every_plan_op(plan: Plan) -> None:
    """The fixture plan exercises every plan op (else the reverse tests below prove less)."""
    assert {s.op for s in plan.steps} == set(PLAN_OPS)


def test_reverse_ids_and_params(plan: Plan) -> None:
    """reverse() names the undoing call u<n>, with parameters that call accepts."""
    for step in plan.steps:
        undo = reverse(step, plan)
        assert undo.id == "u" + step.id[1:]
        assert undo.op == step.spec.reverse
        assert undo.after == ()
        assert undo.spec.check_params(undo.params) is None


def test_reverse_params_per_op(plan: Plan) -> None:
    """What each reverse call is given: the created ARN, the inline document back, ..."""
    by_op = {s.op: s for s in reversed(plan.steps)}
    made = by_op["create_policy"]
    assert reverse(made, plan).params == {
        "PolicyArn": f"arn:aws:iam::{ACCOUNT}:policy/groupify/{made.params['PolicyName']}"
    }
    deleted = next(
        s for s in plan.steps if s.op == "delete_user_policy" and s.params["PolicyName"] == "p1"
    )
    assert reverse(deleted, plan).params == {
        "UserName": deleted.params["UserName"],
        "PolicyName": "p1",
        "PolicyDocument": BIG[1],
    }
    put = by_op["put_group_policy"]
    assert reverse(put, plan).params == {
        "GroupName": put.params["GroupName"],
        "PolicyName": put.params["PolicyName"],
    }
    for name in ("attach_group_policy", "add_user_to_group", "detach_user_policy"):
        assert reverse(by_op[name], plan).params == by_op[name].params


def test_a_non_plan_op_cannot_be_reversed(plan: Plan) -> None:
    """Reversing an undo call is refused."""
    step = Step.make("u1", "delete_group", {"GroupName": "g"})
    with pytest.raises(ValueError, match="cannot reverse 'delete_group'"):
        reverse(step, plan)


def test_reversing_every_step_restores_the_model(plan: Plan) -> None:
    """All steps, then all reverses in reverse order: the model is the inventory's again."""
    fresh = AccountModel(plan.inventory)
    model = AccountModel(plan.inventory)
    for step in plan.steps:
        model.apply(step.op, step.params)
    assert state(model) != state(fresh)
    assert model.created_groups == plan.created_groups
    assert set(model.created) == set(plan.created_policies)
    assert all(not model.direct(u) for u in plan.in_scope)
    for step in reversed(plan.steps):
        undo = reverse(step, plan)
        model.apply(undo.op, undo.params)
    for user in model.user_managed:
        assert model.access(user) == fresh.access(user)
        assert model.direct(user) == fresh.direct(user)
        assert model.user_groups[user] == fresh.user_groups[user]
    assert state(model) == state(fresh)
    assert model.created == {}
    assert model.created_groups == set()
    assert not plan.created_groups & set(model.group_managed)


@pytest.mark.parametrize("name", PLAN_OPS)
def test_reverse_undoes_one_step(plan: Plan, name: str) -> None:
    """Right after a step, its reverse brings the model back to just before it."""
    model = AccountModel(plan.inventory)
    target = next(s for s in plan.steps if s.op == name)
    for step in plan.steps[: plan.steps.index(target)]:
        model.apply(step.op, step.params)
    before = state(model)
    affected = model.apply(target.op, target.params)
    assert state(model) != before
    undo = reverse(target, plan)
    assert set(model.apply(undo.op, undo.params)) == set(affected)
    assert state(model) == before


# -- how a step reads ---------------------------------------------------------------------

S3 = aws("ReadOnlyAccess")
LABELS = [
    (
        "create_policy",
        {"PolicyName": "athena-1a2b", "Path": "/groupify/", "PolicyDocument": doc("a:B")},
        "athena-1a2b",
        ("", "athena-1a2b"),
        "Step(s1 create_policy athena-1a2b)",
    ),
    (
        "create_group",
        {"GroupName": "data"},
        "data",
        ("data", ""),
        "Step(s1 create_group data)",
    ),
    (
        "attach_group_policy",
        {"GroupName": "data", "PolicyArn": S3},
        "data ReadOnlyAccess",
        ("data", "ReadOnlyAccess"),
        "Step(s1 attach_group_policy data, ReadOnlyAccess)",
    ),
    (
        "put_group_policy",
        {"GroupName": "data", "PolicyName": "athena", "PolicyDocument": doc("a:B")},
        "data athena",
        ("data", "athena"),
        "Step(s1 put_group_policy data, athena)",
    ),
    (
        "add_user_to_group",
        {"GroupName": "data", "UserName": "alice"},
        "alice -> data",
        ("alice", "data"),
        "Step(s1 add_user_to_group alice, data)",
    ),
    (
        "detach_user_policy",
        {"UserName": "alice", "PolicyArn": S3},
        "alice ReadOnlyAccess",
        ("alice", "ReadOnlyAccess"),
        "Step(s1 detach_user_policy alice, ReadOnlyAccess)",
    ),
    (
        "delete_user_policy",
        {"UserName": "alice", "PolicyName": "athena"},
        "alice athena",
        ("alice", "athena"),
        "Step(s1 delete_user_policy alice, athena)",
    ),
]


def test_label_cases_cover_every_plan_op() -> None:
    """The label table below has one case per plan op."""
    assert [case[0] for case in LABELS] == list(PLAN_OPS)


@pytest.mark.parametrize(("name", "params", "text", "parts", "shown"), LABELS)
def test_label_parts_and_repr(
    name: str, params: dict[str, str], text: str, parts: tuple[str, str], shown: str
) -> None:
    """Each plan op's one-line label, its (who, what) and the Step repr."""
    step = Step.make("s1", name, params)
    assert label(step) == text
    assert step.parts() == parts
    assert repr(step) == shown


def test_label_arrow_and_undo_calls() -> None:
    """The membership arrow is the caller's choice; undo calls read the same way."""
    join = Step.make("s1", "add_user_to_group", {"GroupName": "data", "UserName": "alice"})
    assert label(join, arrow="→") == "alice → data"
    leave = Step.make("u1", "remove_user_from_group", {"GroupName": "data", "UserName": "alice"})
    assert label(leave) == "alice -> data"
    gone = Step.make(
        "u2", "delete_policy", {"PolicyArn": f"arn:aws:iam::{ACCOUNT}:policy/groupify/p-1"}
    )
    assert label(gone) == "p-1"
    assert repr(gone) == "Step(u2 delete_policy p-1)"
