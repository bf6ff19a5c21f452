"""Control paths: a plan never gives a user a new way to raise its own access, unless accepted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import groupify
from groupify import EscalationError, Inventory
from groupify.cli import main
from groupify.inventory.policy import canonical_document
from groupify.plan.privilege import control_findings
from groupify.privilege import Answer
from tests.support import ACCOUNT, aws, cust, make_inventory, to_gaad


def grant(*actions: str, resource: str = "*", effect: str = "Allow", **extra: Any) -> str:
    """A canonical one-statement document."""
    statement = {"Effect": effect, "Action": list(actions), "Resource": resource, **extra}
    return canonical_document({"Version": "2012-10-17", "Statement": [statement]})


def account(eve: dict[str, Any], **extra_users: dict[str, Any]) -> Inventory:
    """eve and ann share S3 read; eve also holds *eve*. Proposed without layers, eve's
    whole set is one new group (these tests are about that group's control paths)."""
    users: dict[str, dict[str, Any]] = {
        "ann": {"managed": [aws("AmazonS3ReadOnlyAccess")]},
        "eve": {
            "managed": [aws("AmazonS3ReadOnlyAccess"), *eve.get("managed", [])],
            "inline": eve.get("inline", {}),
            **({"boundary": eve["boundary"]} if "boundary" in eve else {}),
        },
        **extra_users,
    }
    return make_inventory(users, aws_documents=eve.get("documents"))


def findings(inventory: Inventory) -> list[tuple[str, str, str, Answer]]:
    steps = _steps(groupify.propose(inventory, layers=False))
    return [(f.user, f.group, f.action, f.answer) for f in control_findings(inventory, steps)]


def _steps(proposal: groupify.Proposal) -> tuple[groupify.Step, ...]:
    """The plan's steps, found without the control-path check refusing them."""
    try:
        return groupify.build_plan(proposal).steps
    except EscalationError as exc:
        return groupify.build_plan(proposal, accept=[f.id for f in exc.findings]).steps


def only_group(inventory: Inventory) -> str:
    (name,) = [
        g.name for g in groupify.propose(inventory, layers=False).groups if "eve" in g.members
    ]
    return name


@pytest.mark.parametrize(
    ("document", "actions"),
    [
        (grant("iam:AttachGroupPolicy"), ["iam:AttachGroupPolicy"]),
        (grant("iam:PutGroupPolicy"), ["iam:PutGroupPolicy"]),
        (grant("iam:Put*", resource=f"arn:aws:iam::{ACCOUNT}:group/*"), ["iam:PutGroupPolicy"]),
        # iam:Put* on everything includes PutUserPolicy on itself: admin-equivalent already.
        (grant("iam:Put*"), None),
        (
            grant("iam:*Group*"),
            ["iam:AttachGroupPolicy", "iam:PutGroupPolicy", "iam:UpdateGroup"],
        ),
        (
            canonical_document(
                {"Statement": [{"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"}]}
            ),
            None,  # everything but S3: admin-equivalent by itself, so nothing is new
        ),
    ],
)
def test_a_new_member_who_may_change_its_group_is_a_finding(
    document: str, actions: list[str] | None
) -> None:
    """Attach/Put on the group (by name or wildcard) is a way up for a member who could not
    change its own user before; a user who could is admin-equivalent already."""
    inventory = account({"inline": {"iam": document}})
    group = only_group(inventory)
    got = findings(inventory)
    if actions is None:
        assert got == []
    else:
        assert [f for f in got if f[1] == group] == [("eve", group, a, Answer.YES) for a in actions]
        # iam:*Group* includes AddUserToGroup: ann's new group is one eve could join, then change.
        others = {(f[1], f[2]) for f in got if f[1] != group}
        assert bool(others) == ("iam:AddUserToGroup" in document or "*Group*" in document)


def test_the_cloudsplaining_privesc_users_are_refused() -> None:
    """privesc8-AttachGroupPolicy-user and privesc11-PutGroupPolicy-user (cloudsplaining's
    example account): planned into groups, each could attach or put any policy on its group."""
    users = {
        "privesc8-AttachGroupPolicy-user": {
            "inline": {"privesc8": grant("iam:AttachGroupPolicy")},
        },
        "privesc11-PutGroupPolicy-user": {"inline": {"privesc11": grant("iam:PutGroupPolicy")}},
    }
    inventory = make_inventory(users)
    with pytest.raises(EscalationError) as info:
        groupify.build_plan(groupify.propose(inventory, layers=False))
    assert sorted((f.user, f.action) for f in info.value.findings) == [
        ("privesc11-PutGroupPolicy-user", "iam:PutGroupPolicy"),
        ("privesc8-AttachGroupPolicy-user", "iam:AttachGroupPolicy"),
    ]
    lines = str(info.value).splitlines()
    assert lines[0].startswith("the plan would give 2 user(s) a way to raise their own access")
    assert len(lines) == 2 + len(info.value.findings)
    assert "--exclude-user" in lines[-1] and "--accept" in lines[-1]


def test_add_user_to_group_on_a_new_group_that_grants_more() -> None:
    """joe may add itself to any group: a new group granting what joe lacks is a way up."""
    inventory = account({}, joe={"inline": {"join": grant("iam:AddUserToGroup")}})
    group = only_group(inventory)
    got = findings(inventory)
    assert ("joe", group, "iam:AddUserToGroup", Answer.YES) in got
    assert not [f for f in got if f[0] == "joe" and f[1] != group and f[2] != "iam:AddUserToGroup"]


def test_add_user_to_group_on_a_group_granting_nothing_new_is_no_finding() -> None:
    """A user who already holds all a new group grants gains nothing by joining it."""
    inventory = account(
        {},
        joe={
            "managed": [aws("AmazonS3ReadOnlyAccess")],
            "inline": {"join": grant("iam:AddUserToGroup")},
        },
    )
    group = only_group(inventory)
    assert ("joe", group, "iam:AddUserToGroup", Answer.YES) not in findings(inventory)


@pytest.mark.parametrize(
    ("eve", "expected"),
    [
        # An explicit deny on groups wins.
        (
            {
                "inline": {
                    "iam": grant("iam:AttachGroupPolicy"),
                    "no": grant("iam:*", effect="Deny", resource=f"arn:aws:iam::{ACCOUNT}:group/*"),
                }
            },
            [],
        ),
        # A condition makes it "may": still refused, shown as conditional.
        (
            {
                "inline": {
                    "iam": grant(
                        "iam:AttachGroupPolicy",
                        Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}},
                    )
                }
            },
            [("iam:AttachGroupPolicy", Answer.CONDITIONAL)],
        ),
        # A boundary that allows no IAM call stops it.
        (
            {
                "inline": {"iam": grant("iam:AttachGroupPolicy")},
                "boundary": cust("s3-only"),
                "documents": {cust("s3-only"): grant("s3:*")},
            },
            [],
        ),
        # A boundary whose document is missing: unknown, never harmless.
        (
            {
                "inline": {"iam": grant("iam:AttachGroupPolicy")},
                "boundary": cust("lost"),
                "documents": {cust("lost"): None},
            },
            [("iam:AttachGroupPolicy", Answer.UNKNOWN)],
        ),
        # An AWS-managed policy without a document: unknown, so any call may be allowed.
        (
            {"managed": [aws("SomethingUnread")], "documents": {aws("SomethingUnread"): None}},
            # Any call may be allowed, and the unread policy (now the group's) may hold a
            # Deny that a member could take away.
            [
                (a, Answer.UNKNOWN)
                for a in (
                    "iam:AttachGroupPolicy",
                    "iam:PutGroupPolicy",
                    "iam:UpdateGroup",
                    "iam:DetachGroupPolicy",
                    "iam:DeleteGroupPolicy",
                    "iam:RemoveUserFromGroup",
                )
            ],
        ),
        # Attach on another group only: nothing on its own new group.
        (
            {
                "inline": {
                    "iam": grant(
                        "iam:AttachGroupPolicy", resource=f"arn:aws:iam::{ACCOUNT}:group/x"
                    )
                }
            },
            [],
        ),
        # Admin-equivalent already (AdministratorAccess): it gains nothing.
        ({"managed": [aws("AdministratorAccess")]}, []),
    ],
)
def test_deny_conditions_boundaries_and_unknown_documents(
    eve: dict[str, Any], expected: list[tuple[str, Answer]]
) -> None:
    """Explicit deny, conditions, boundaries and missing documents change the answer."""
    inventory = account(eve)
    group = only_group(inventory)
    got = [(a, ans) for u, g, a, ans in findings(inventory) if u == "eve" and g == group]
    assert got == expected


def test_changing_a_customer_policy_on_the_group_is_a_finding() -> None:
    """A member that may CreatePolicyVersion on a customer policy attached to its new group."""
    deploy = cust("deploy")
    inventory = make_inventory(
        {
            "ann": {"managed": [deploy]},
            "eve": {
                "managed": [deploy],
                "inline": {"v": grant("iam:CreatePolicyVersion", resource=deploy)},
            },
        }
    )
    got = control_findings(inventory, _steps(groupify.propose(inventory, layers=False)))
    (group,) = {f.group for f in got}
    assert [(f.id, f.resource, f.answer) for f in got] == [
        (f"eve:CreatePolicyVersion:{group}:deploy", deploy, Answer.YES)
    ]


def test_joining_an_existing_group_it_may_change_is_a_finding() -> None:
    """A reused existing group counts too: the new member may change what it grants."""
    inventory = make_inventory(
        {
            "eve": {
                "managed": [aws("ReadOnlyAccess")],
                "inline": {"iam": grant("iam:PutGroupPolicy")},
            },
        },
        {
            "readers": {
                "managed": [aws("ReadOnlyAccess")],
                "inline": {"iam": grant("iam:PutGroupPolicy")},
            }
        },
    )
    assert [g.existing for g in groupify.propose(inventory, layers=False).groups] == [True]
    got = [
        (f.user, f.group, f.action)
        for f in control_findings(inventory, _steps(groupify.propose(inventory, layers=False)))
    ]
    assert ("eve", "readers", "iam:PutGroupPolicy") in got


def test_an_accepted_finding_is_recorded_and_checked_again_on_load(tmp_path: Path) -> None:
    """--accept ID lets the plan through; the plan file records it; load_plan re-checks."""
    inventory = account({"inline": {"iam": grant("iam:AttachGroupPolicy")}})
    proposal = groupify.propose(inventory, layers=False)
    with pytest.raises(EscalationError) as info:
        groupify.build_plan(proposal)
    ids = [f.id for f in info.value.findings]
    assert ids == [f"eve:AttachGroupPolicy:{only_group(inventory)}"]
    plan = groupify.build_plan(proposal, accept=ids)
    keys = [f"{ids[0]}=yes"]  # the id and the answer it had when accepted
    assert plan.accepted == tuple(keys)
    path = tmp_path / "plan.json"
    plan.save(path)
    assert json.loads(path.read_text())["accepted_findings"] == keys
    assert groupify.load_plan(path).accepted == tuple(keys)
    # An id that names no finding is refused: a typo must not pass for a review.
    with pytest.raises(groupify.InputError, match="no such finding"):
        groupify.build_plan(proposal, accept=["eve:PutGroupPolicy:elsewhere"])


def test_an_accepted_finding_that_comes_back_worse_is_refused() -> None:
    """Accepted while it needed MFA (conditional); at apply the condition is gone: the same id
    with another answer is a new finding, and the plan is refused."""
    from groupify.plan.privilege import check_live

    mfa = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    planned = account({"inline": {"iam": grant("iam:AttachGroupPolicy", Condition=mfa)}})
    proposal = groupify.propose(planned, layers=False)
    with pytest.raises(EscalationError) as info:
        groupify.build_plan(proposal)
    (finding,) = info.value.findings
    assert finding.answer is Answer.CONDITIONAL
    plan = groupify.build_plan(proposal, accept=[finding.id])
    check_live(plan, planned)
    live = account({"inline": {"iam": grant("iam:AttachGroupPolicy")}})
    with pytest.raises(EscalationError) as again:
        check_live(plan, live)
    assert [(f.id, f.answer) for f in again.value.findings] == [(finding.id, Answer.YES)]


def test_the_cli_refuses_with_one_line_per_finding_and_accepts_by_id(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """groupify plan exits 2 naming each finding; with --accept it writes the plan."""
    inventory = account({"inline": {"iam": grant("iam:AttachGroupPolicy")}})
    gaad = tmp_path / "gaad.json"
    gaad.write_text(json.dumps(to_gaad(inventory)))
    out = tmp_path / "plan.json"
    assert main(["plan", "--no-layers", "--from-gaad", str(gaad), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    finding = f"eve:AttachGroupPolicy:{only_group(inventory)}"
    assert f"  {finding}: user 'eve' joins group" in err
    assert "Traceback" not in err and not out.exists()
    assert (
        main(
            [
                "plan",
                "--no-layers",
                "--from-gaad",
                str(gaad),
                "--out",
                str(out),
                "--accept",
                finding,
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert f"Control paths: 1 accepted finding(s): {finding}" in text
    assert groupify.load_plan(out).accepted == (f"{finding}=yes",)


# -- holes an adversarial review found, each closed ------------------------------------


def refused_ids(inventory: Inventory) -> list[str]:
    """The ids build_plan refuses the plan with ([] when it builds)."""
    try:
        groupify.build_plan(groupify.propose(inventory, layers=False))
    except EscalationError as exc:
        return [f.id for f in exc.findings]
    return []


def statement(effect: str, action: Any, resource: str = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": effect, "Action": action, "Resource": resource, **extra}


def doc_of(*statements: dict[str, Any]) -> str:
    return canonical_document({"Version": "2012-10-17", "Statement": list(statements)})


@pytest.mark.parametrize(
    "deny",
    [
        statement("Deny", "iam:AttachUserPolicy", Condition={"StringLike": {"aws:username": "*"}}),
        statement("Deny", "iam:AttachUserPolicy", f"arn:aws:iam::{ACCOUNT}:user/${{aws:username}}"),
    ],
)
def test_a_deny_that_may_apply_does_not_excuse(deny: dict[str, Any]) -> None:
    """'Admin-equivalent already' needs the allow beyond doubt: a conditional Deny, or one
    with a policy variable, may block it, so eve is not excused."""
    inventory = account(
        {
            "inline": {
                "iam": doc_of(
                    statement("Allow", ["iam:AttachUserPolicy", "iam:PutGroupPolicy"]), deny
                )
            }
        }
    )
    assert refused_ids(inventory) == [f"eve:PutGroupPolicy:{only_group(inventory)}"]


def test_a_missing_document_does_not_excuse() -> None:
    """An unread policy may hold a Deny: an allow elsewhere is not beyond doubt."""
    inventory = account(
        {
            "managed": [aws("Unread")],
            "inline": {"iam": grant("iam:AttachUserPolicy", "iam:PutGroupPolicy")},
            "documents": {aws("Unread"): None},
        }
    )
    assert f"eve:PutGroupPolicy:{only_group(inventory)}" in refused_ids(inventory)


@pytest.mark.parametrize(
    "action", ["iam:DetachGroupPolicy", "iam:DeleteGroupPolicy", "iam:RemoveUserFromGroup"]
)
def test_a_member_that_may_take_its_groups_deny_away(action: str) -> None:
    """A Deny eve held directly moves into her group; if she may detach it, delete it or
    leave the group, she is free of it."""
    no_delete = doc_of(statement("Deny", "s3:DeleteBucket"))
    inventory = make_inventory(
        {
            "ann": {"managed": [aws("AmazonS3FullAccess")], "inline": {"guard": no_delete}},
            "eve": {
                "managed": [aws("AmazonS3FullAccess")],
                "inline": {"guard": no_delete, "iam": grant(action)},
            },
        }
    )
    ids = refused_ids(inventory)
    assert any(i.startswith(f"eve:{action.split(':')[1]}:") for i in ids), ids


def test_no_deny_no_lifting_finding() -> None:
    """Without a Deny in the group, leaving it or detaching from it gains nothing."""
    inventory = account(
        {"inline": {"iam": grant("iam:DetachGroupPolicy", "iam:RemoveUserFromGroup")}}
    )
    assert refused_ids(inventory) == []


def test_a_member_that_may_move_its_group_out_of_a_denys_reach() -> None:
    """PutGroupPolicy denied except under /sandbox/, but UpdateGroup allowed: eve could move
    her new group to /sandbox/ and then put any policy on it."""
    inventory = account(
        {
            "inline": {
                "iam": doc_of(
                    statement("Allow", ["iam:PutGroupPolicy", "iam:UpdateGroup"]),
                    {
                        "Effect": "Deny",
                        "Action": "iam:PutGroupPolicy",
                        "NotResource": f"arn:aws:iam::{ACCOUNT}:group/sandbox/*",
                    },
                )
            }
        }
    )
    assert refused_ids(inventory) == [f"eve:UpdateGroup:{only_group(inventory)}"]


def test_whoever_may_join_a_new_group_is_checked_as_a_member() -> None:
    """eve may add herself to, and attach policies on, groups named s3-*; the plan creates
    one for ann that grants nothing eve lacks: joining, then attaching, is a way up."""
    inventory = make_inventory(
        {
            "ann": {"managed": [aws("AmazonS3ReadOnlyAccess")]},
            "eve": {
                "managed": [aws("AmazonS3ReadOnlyAccess"), aws("AmazonEC2ReadOnlyAccess")],
                "inline": {
                    "iam": grant(
                        "iam:AddUserToGroup",
                        "iam:AttachGroupPolicy",
                        resource=f"arn:aws:iam::{ACCOUNT}:group/s3-*",
                    )
                },
            },
        }
    )
    groups = [g.name for g in groupify.propose(inventory, layers=False).groups]
    assert "s3-readonly" in groups
    assert "eve:AttachGroupPolicy:s3-readonly" in refused_ids(inventory)


def test_a_policy_the_plan_creates_is_a_new_thing_to_attach() -> None:
    """eve may attach to herself policies under /groupify/ (a condition): before the plan none
    exist; after it, admin's former inline document is one."""
    big = doc_of(
        statement("Allow", "*"),
        {"Sid": "x" * 200, "Effect": "Allow", "Action": "s3:*", "Resource": "*"},
    )
    condition = {"ArnLike": {"iam:PolicyARN": f"arn:aws:iam::{ACCOUNT}:policy/groupify/*"}}
    inventory = make_inventory(
        {
            "admin": {"inline": {"admin": big}},
            "eve": {
                "managed": [aws("AmazonS3ReadOnlyAccess")],
                "inline": {
                    "attach": grant(
                        "iam:AttachUserPolicy",
                        resource=f"arn:aws:iam::{ACCOUNT}:user/eve",
                        Condition=condition,
                    )
                },
            },
        },
        quotas=groupify.Quotas(group_inline_chars=150),
    )
    ids = refused_ids(inventory)
    assert [i for i in ids if i.startswith("eve:")] == [
        next(i for i in ids if i.startswith("eve:AttachUserPolicy:groupify/admin-"))
    ]


def test_a_deny_is_matched_as_iam_matches_arns() -> None:
    """A Deny's resource wildcard stays in its ARN segment (IAM's rule): ``1*-readonly`` in
    the account segment does not cover a group, so the Deny is not relied on."""
    inventory = account(
        {
            "inline": {
                "iam": doc_of(
                    statement("Allow", "iam:PutGroupPolicy"),
                    statement("Deny", "iam:PutGroupPolicy", "arn:aws:iam::1*-readonly"),
                )
            }
        }
    )
    assert refused_ids(inventory) == [f"eve:PutGroupPolicy:{only_group(inventory)}"]


def test_apply_checks_every_user_as_it_is_now() -> None:
    """A user untouched by the plan that gained AddUserToGroup since planning is caught at
    apply (check_live reads every live user's access, not the plan's)."""
    from groupify.plan.privilege import check_live

    planned = account({}, joe={"managed": [aws("AmazonEC2ReadOnlyAccess")]})
    plan = groupify.build_plan(groupify.propose(planned, layers=False))
    live = account(
        {},
        joe={
            "managed": [aws("AmazonEC2ReadOnlyAccess")],
            "inline": {"join": grant("iam:AddUserToGroup")},
        },
    )
    check_live(plan, planned)  # nothing changed: nothing found
    with pytest.raises(EscalationError) as info:
        check_live(plan, live)
    assert [f.id for f in info.value.findings] == [f"joe:AddUserToGroup:{only_group(planned)}"]


def test_an_admin_behind_an_mfa_requirement_gains_nothing() -> None:
    """A Deny of everything without MFA stops attaching to itself and to its group alike: an
    admin behind it already has every way up whenever it has this one (no finding)."""
    mfa = {
        "Effect": "Deny",
        "NotAction": ["iam:ListMFADevices"],
        "Resource": "*",
        "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
    }
    inventory = account(
        {"managed": [aws("AdministratorAccess")], "inline": {"mfa": doc_of(mfa)}},
        joe={"managed": [aws("AdministratorAccess")], "inline": {"mfa": doc_of(mfa)}},
    )
    assert refused_ids(inventory) == []


def test_roles_that_may_change_or_join_the_groups_are_listed_not_refused(tmp_path: Path) -> None:
    """A role with iam:AttachGroupPolicy is a control path over the new groups: listed in the
    plan (text and --json), never refused; a role without IAM rights is not listed."""
    inventory = account({})
    gaad = to_gaad(inventory)
    gaad["RoleDetailList"] = [
        {
            "RoleName": "deployer",
            "Arn": f"arn:aws:iam::{ACCOUNT}:role/deployer",
            "Path": "/",
            "RolePolicyList": [
                {"PolicyName": "iam", "PolicyDocument": json.loads(grant("iam:AttachGroupPolicy"))}
            ],
            "AttachedManagedPolicies": [],
        },
        {
            "RoleName": "reader",
            "Arn": f"arn:aws:iam::{ACCOUNT}:role/reader",
            "Path": "/",
            "RolePolicyList": [
                {"PolicyName": "read", "PolicyDocument": json.loads(grant("s3:GetObject"))}
            ],
            "AttachedManagedPolicies": [],
        },
    ]
    parsed = groupify.parse_gaad([gaad])
    assert [r.name for r in parsed.roles] == ["deployer", "reader"]
    assert groupify.Inventory.from_dict(parsed.to_dict()) == parsed
    assert parsed.fingerprint == inventory.fingerprint  # roles are not what a plan changes
    plan = groupify.build_plan(groupify.propose(parsed, layers=False))
    groups = sorted({p.group for p in plan.role_paths})
    assert groups == sorted(g["name"] for g in plan.groups)
    assert {(p.role, p.action) for p in plan.role_paths} == {("deployer", "iam:AttachGroupPolicy")}
    assert plan.overview()["role_control_paths"][0]["role"] == "deployer"
    path = tmp_path / "gaad.json"
    path.write_text(json.dumps(gaad))
    assert (
        main(["plan", "--no-layers", "--from-gaad", str(path), "--out", str(tmp_path / "p.json")])
        == 0
    )


def test_a_deny_whose_condition_value_depends_on_the_resource_excuses_nothing() -> None:
    """The key is eve's own tag but the value is the resource's: the Deny stops attaching to
    her tagged user and never to an untaggable group, so she is not excused."""
    both = ["iam:AttachUserPolicy", "iam:AttachGroupPolicy"]
    condition = {"StringEquals": {"aws:PrincipalTag/team": "${iam:ResourceTag/team}"}}
    inventory = account(
        {
            "inline": {
                "iam": doc_of(
                    statement("Allow", both), statement("Deny", both, Condition=condition)
                )
            }
        }
    )
    assert f"eve:AttachGroupPolicy:{only_group(inventory)}" in refused_ids(inventory)


def test_a_long_list_of_findings_is_cut_short_in_the_message() -> None:
    """Hundreds of findings (one user holding a policy with no document) are summarized
    after the first 20; ``findings`` keeps every one."""
    from types import SimpleNamespace

    many = [SimpleNamespace(user="u", why=f"why {i}") for i in range(30)]
    error = EscalationError(many)
    lines = str(error).splitlines()
    assert len(error.findings) == 30
    assert lines[1:21] == [f"  why {i}" for i in range(20)]
    assert lines[21] == "  ... and 10 more (--json lists every finding with its id)"
    assert lines[-1].startswith("Exclude the user")
