"""Plans: order, determinism, the plan file, tamper and staleness checks, the verifier."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import groupify
from groupify import Plan, PlanFormatError, PlanVerificationError, StalePlanError, Step
from groupify.plan.ops import PLAN_OPS
from tests.support import ACCOUNT, aws, doc, make_inventory


@pytest.fixture
def plan(small: groupify.Inventory) -> Plan:
    return groupify.build_plan(groupify.propose(small, exclude_tags=["BreakGlass"]))


def test_steps_are_iam_calls_in_safe_order(plan: Plan) -> None:
    """Per user, every add comes before any detach or delete; ids follow execution order."""
    position = {s.id: i for i, s in enumerate(plan.steps)}
    assert [s.id for s in plan.steps] == [f"s{i + 1}" for i in range(len(plan.steps))]
    for s in plan.steps:
        assert s.op in PLAN_OPS
        assert all(position[a] < position[s.id] for a in s.after)
    for user in plan.in_scope:
        adds = [
            position[s.id]
            for s in plan.steps
            if s.op == "add_user_to_group" and s.params["UserName"] == user
        ]
        removes = [
            position[s.id] for s in plan.steps if s.is_destructive and s.params["UserName"] == user
        ]
        assert removes and max(adds) < min(removes)


def test_plan_content(plan: Plan) -> None:
    """The small account's plan makes exactly the calls an IAM engineer would."""
    calls = [(s.op, s.params) for s in plan.steps]
    assert calls[:5] == [
        ("create_group", {"GroupName": "data-analyst"}),
        (
            "attach_group_policy",
            {"GroupName": "data-analyst", "PolicyArn": aws("AmazonS3ReadOnlyAccess")},
        ),
        (
            "put_group_policy",
            {
                "GroupName": "data-analyst",
                "PolicyName": "athena",
                "PolicyDocument": doc("athena:StartQueryExecution"),
            },
        ),
        ("add_user_to_group", {"GroupName": "data-analyst", "UserName": "alice"}),
        ("add_user_to_group", {"GroupName": "data-analyst", "UserName": "bob"}),
    ]
    assert ("delete_user_policy", {"UserName": "bob", "PolicyName": "athena-query"}) in calls
    assert not [c for c in calls if c[1].get("UserName") in ("root-bg", "dave")]
    assert plan.summary()["steps_by_op"] == {
        "create_group": 2,
        "attach_group_policy": 3,
        "put_group_policy": 1,
        "add_user_to_group": 3,
        "detach_user_policy": 4,
        "delete_user_policy": 2,
    }


def test_save_and_load(tmp_path: Path, plan: Plan) -> None:
    """A saved plan loads back equal and verified; the file has the documented keys."""
    path = tmp_path / "plan.json"
    plan.save(path)
    data = json.loads(path.read_text())
    assert {"format", "account_id", "fingerprint", "summary", "steps", "checksum"} <= set(data)
    assert data["steps"][0] == {
        "id": "s1",
        "op": "create_group",
        "params": {"GroupName": "data-analyst"},
        "after": [],
    }
    assert groupify.load_plan(path) == plan


def _rewrite(path: Path, edit: object) -> None:
    from groupify.plan.model import _checksum

    data = json.loads(path.read_text())
    edit(data)  # type: ignore[operator]
    data.pop("checksum")
    data["checksum"] = _checksum(data)
    path.write_text(json.dumps(data))


def test_tampered_plan_is_refused(tmp_path: Path, plan: Plan) -> None:
    """Changing a plan after it was written breaks its checksum."""
    path = tmp_path / "plan.json"
    plan.save(path)
    data = json.loads(path.read_text())
    data["steps"][1]["params"]["PolicyArn"] = aws("AdministratorAccess")
    path.write_text(json.dumps(data))
    with pytest.raises(PlanFormatError, match="checksum does not match"):
        groupify.load_plan(path)


def test_unsafe_order_is_refused_even_with_a_valid_checksum(tmp_path: Path, plan: Plan) -> None:
    """A hand-made plan that detaches before adding fails verification on load."""
    path = tmp_path / "plan.json"
    plan.save(path)

    def edit(data: dict) -> None:  # type: ignore[type-arg]
        steps = data["steps"]
        last = steps.pop()
        last["after"] = []
        steps.insert(0, last)

    _rewrite(path, edit)
    with pytest.raises(PlanVerificationError, match="would lose"):
        groupify.load_plan(path)


def test_widening_plan_is_refused(tmp_path: Path, plan: Plan) -> None:
    """A plan that attaches an extra policy to a group would widen access: refused."""
    path = tmp_path / "plan.json"
    plan.save(path)

    def edit(data: dict) -> None:  # type: ignore[type-arg]
        data["steps"][1]["params"]["PolicyArn"] = aws("AdministratorAccess")

    _rewrite(path, edit)
    with pytest.raises(PlanVerificationError):
        groupify.load_plan(path)


def test_dropped_dependency_is_refused(plan: Plan) -> None:
    """A removal that no longer depends on its add could race it in parallel: refused."""
    steps = [Step(s.id, s.op, s.param_items, ()) if s.is_destructive else s for s in plan.steps]
    bad = Plan(
        inventory=plan.inventory, steps=steps, exceptions=plan.exceptions, in_scope=plan.in_scope
    )
    with pytest.raises(PlanVerificationError, match="parallel run could open a gap"):
        bad.verify()


def test_touching_an_exempt_user_is_refused(plan: Plan) -> None:
    """A step on an exempt user fails verification."""
    extra = Step.make(
        "s99",
        "detach_user_policy",
        {"UserName": "root-bg", "PolicyArn": aws("AdministratorAccess")},
    )
    bad = Plan(
        inventory=plan.inventory,
        steps=[*plan.steps, extra],
        exceptions=plan.exceptions,
        in_scope=plan.in_scope,
    )
    with pytest.raises(PlanVerificationError, match="exempt"):
        bad.verify()


def test_leaving_a_direct_policy_is_refused(plan: Plan) -> None:
    """A plan that forgets a detach leaves IAM.2 failing: refused."""
    steps = [s for s in plan.steps if s.id != plan.steps[-1].id]
    bad = Plan(
        inventory=plan.inventory, steps=steps, exceptions=plan.exceptions, in_scope=plan.in_scope
    )
    with pytest.raises(PlanVerificationError, match="still has direct policies"):
        bad.verify()


def test_changing_an_existing_group_is_refused(small: groupify.Inventory, plan: Plan) -> None:
    """Attaching a policy to a group groupify did not create is refused."""
    extra = Step.make(
        "s99", "attach_group_policy", {"GroupName": "readers", "PolicyArn": aws("ReadOnlyAccess")}
    )
    bad = Plan(
        inventory=plan.inventory,
        steps=[extra, *plan.steps],
        exceptions=plan.exceptions,
        in_scope=plan.in_scope,
    )
    with pytest.raises(PlanVerificationError, match="not created by this plan"):
        bad.verify()


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("{", "not a JSON plan file"),
        ('{"format": "other"}', "not a groupify plan of a known format"),
        ("[1]", "not a JSON object"),
    ],
)
def test_malformed_plan_files(tmp_path: Path, content: str, match: str) -> None:
    """Malformed plan files are refused with one line."""
    path = tmp_path / "plan.json"
    path.write_text(content)
    with pytest.raises(PlanFormatError, match=match) as info:
        groupify.load_plan(path)
    assert "\n" not in str(info.value)


def test_unknown_op_is_refused(tmp_path: Path, plan: Plan) -> None:
    """Only the documented ops may appear in a plan file."""
    path = tmp_path / "plan.json"
    plan.save(path)
    _rewrite(path, lambda d: d["steps"][0].update(op="delete_group"))
    with pytest.raises(PlanFormatError, match="unknown op 'delete_group'"):
        groupify.load_plan(path)


def test_stale_inventory(plan: Plan) -> None:
    """A plan checked against a changed account is stale."""
    plan.check_inventory(plan.inventory)
    changed = make_inventory({"alice": {"managed": [aws("ReadOnlyAccess")]}})
    with pytest.raises(StalePlanError):
        plan.check_inventory(changed)


def test_cli_rendering_of_a_step() -> None:
    """A step renders as the equivalent AWS CLI command."""
    step = Step.make(
        "s1", "attach_group_policy", {"GroupName": "data", "PolicyArn": aws("ReadOnlyAccess")}
    )
    assert step.cli() == (
        "aws iam attach-group-policy --group-name data "
        "--policy-arn arn:aws:iam::aws:policy/ReadOnlyAccess"
    )
    assert repr(step) == "Step(s1 attach_group_policy data, ReadOnlyAccess)"


def test_plan_repr(plan: Plan) -> None:
    """The plan repr is short and exact."""
    assert repr(plan) == (
        f"Plan(account={ACCOUNT}, steps=15, users=3, fingerprint={plan.fingerprint[:19]})"
    )


# -- signed plans -------------------------------------------------------------------


def _resealed(path: Path, edit: Any) -> None:
    """Edit a plan file and recompute its checksum, as someone without the key could."""
    from groupify.plan.model import _checksum

    data = json.loads(path.read_text())
    edit(data)
    body = {k: v for k, v in data.items() if k not in ("checksum", "signature")}
    data["checksum"] = _checksum(body)
    path.write_text(json.dumps(data))


def test_a_signed_plan_loads_with_its_key_and_not_with_another(plan: Plan, tmp_path: Path) -> None:
    from groupify.plan.model import load_plan

    key = b"k" * 32
    plan.save(tmp_path / "p.json", key=key)
    assert load_plan(tmp_path / "p.json", key=key) == plan
    assert load_plan(tmp_path / "p.json") == plan  # no key: the signature is not checked
    with pytest.raises(PlanFormatError, match="signature does not match"):
        load_plan(tmp_path / "p.json", key=b"x" * 32)
    plan.save(tmp_path / "u.json")
    with pytest.raises(PlanFormatError, match="not signed"):
        load_plan(tmp_path / "u.json", key=key)


def test_a_resealed_signed_plan_is_refused(plan: Plan, tmp_path: Path) -> None:
    """Dropping the exemption rules and recomputing the checksum passes the checksum
    check; the signature catches it."""
    from groupify.plan.model import load_plan

    key = b"k" * 32
    plan.save(tmp_path / "p.json", key=key)
    _resealed(tmp_path / "p.json", lambda d: d["exemptions"].update(users=["nobody"]))
    load_plan(tmp_path / "p.json")  # the checksum alone is fooled
    with pytest.raises(PlanFormatError, match="signature does not match"):
        load_plan(tmp_path / "p.json", key=key)


@pytest.mark.parametrize(
    "value",
    [
        "plain",
        'naïve — 日本 \U0001f600 "quoted" \\ \n\t\x00',
        {"b": [1, 2.5, None, True, False], "a": {"z": "é", "y": []}, "": {}},
        [1e100, -0.0, 3, "x", {"k": ["v", {"w": 1}]}],
        {"steps": [{"id": "s1", "op": "create_group", "params": {"GroupName": "g"}, "after": []}]},
        {1: "int key", 2.5: "float key", False: "bool key", None: "null key"},
    ],
)
def test_plan_file_encoders_write_what_json_dumps_writes(value: Any) -> None:
    """The one-made C encoders give json.dumps's text, byte for byte."""
    from groupify.plan.model import _canonical, _encode

    assert _encode(value) == json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict) and any(not isinstance(k, str) for k in value):
        return  # mixed key types do not sort
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert _canonical(value) == canonical
