"""A plan as CloudFormation: one template for stage 1, stage 2 as IAM calls (:mod:`~.stage2`).

:data:`CLOUDFORMATION` is the op table's CloudFormation backend: each plan op
adds its code form to a template (``create_group`` an ``AWS::IAM::Group``,
``attach_group_policy`` an ARN in its ``ManagedPolicyArns``,
``put_group_policy`` an entry of its ``Policies``, ``add_user_to_group`` a user
in the group's ``AWS::IAM::UserToGroupAddition``, ``create_policy`` an
``AWS::IAM::ManagedPolicy``).

Why one template (stage 1) and not one per stage, nor a change-set sequence:
stage 2 declares nothing. It takes grants away from users that are not
resources of this stack (made by hand, or in the user's own stacks), which
CloudFormation can only do by editing the stack that owns them; so stage 2 is
the same list and IAM calls as for Terraform. A group the plan reuses is not
declared: its ``AWS::IAM::UserToGroupAddition`` names it, and adds members
without touching the others.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from groupify.errors import InputError
from groupify.export.common import (
    Exported,
    checked,
    identifiers,
    logical_id,
    review_notes,
)
from groupify.export.stage2 import GRANTS, SCRIPT, stage2_grants, stage2_readme, stage2_script
from groupify.inventory.policy import canonical_document
from groupify.plan.model import Plan
from groupify.plan.ops import PLAN_OPS, Backend

__all__ = ["CLOUDFORMATION", "TEMPLATE", "cloudformation_files"]

#: The template's file name, in the export's ``stage1/`` directory.
TEMPLATE = "groups.template.json"
#: CloudFormation's limits: resources in a template; a template body passed inline
#: (``--template-body``), and one read from S3.
MAX_RESOURCES = 500
MAX_INLINE_BODY = 51_200
MAX_BODY = 1_000_000


class _Template:
    """The stage-1 template, gathered step by step; logical ids fixed up front."""

    def __init__(self, exported: Exported) -> None:
        plan = exported.plan
        self.exported = exported
        self.notes = review_notes(plan)
        self.created_groups = plan.created_groups
        self.group_id = identifiers(
            plan.created_groups, lambda g: logical_id("Group", g), suffix=str.upper
        )
        self.members_id = identifiers(
            exported.group_order, lambda g: logical_id("Members", g), suffix=str.upper
        )
        made = {
            plan.inventory.policy_arn(s.params["PolicyName"], s.params.get("Path", "/")): s
            for s in plan.steps
            if s.op == "create_policy"
        }
        self.policy_id = identifiers(
            made, lambda arn: logical_id("Policy", arn.rsplit("/", 1)[-1]), suffix=str.upper
        )
        self.resources: dict[str, dict[str, Any]] = {}

    def group(self, name: str) -> dict[str, Any]:
        """The ``Properties`` of new group *name*."""
        return self.resources[self.group_id[name]]["Properties"]  # type: ignore[no-any-return]

    def group_name(self, name: str) -> Any:
        """*name* as a template value: a ``Ref`` to the group when the stack creates it."""
        return {"Ref": self.group_id[name]} if name in self.created_groups else name


#: The CloudFormation backend: each plan op's code form.
CLOUDFORMATION: Backend[Callable[[_Template, Mapping[str, str]], None]] = Backend(
    "cloudformation", PLAN_OPS
)


@CLOUDFORMATION.register("create_policy")
def _create_policy(t: _Template, p: Mapping[str, str]) -> None:
    path = p.get("Path", "/")
    arn = t.exported.plan.inventory.policy_arn(p["PolicyName"], path)
    props: dict[str, Any] = {"ManagedPolicyName": p["PolicyName"], "Path": path}
    if "Description" in p:
        props["Description"] = p["Description"]
    props["PolicyDocument"] = json.loads(canonical_document(p["PolicyDocument"]))
    t.resources[t.policy_id[arn]] = {"Type": "AWS::IAM::ManagedPolicy", "Properties": props}


@CLOUDFORMATION.register("create_group")
def _create_group(t: _Template, p: Mapping[str, str]) -> None:
    name = p["GroupName"]
    props: dict[str, Any] = {"GroupName": name}
    if "Path" in p:
        props["Path"] = p["Path"]
    resource: dict[str, Any] = {"Type": "AWS::IAM::Group", "Properties": props}
    about = t.notes["groups"].get(name)
    if about and (about["reason"] or about["risks"]):
        resource["Metadata"] = {"groupify": {"why": about["reason"], "risks": about["risks"]}}
    t.resources[t.group_id[name]] = resource


@CLOUDFORMATION.register("attach_group_policy")
def _attach_group_policy(t: _Template, p: Mapping[str, str]) -> None:
    arn = p["PolicyArn"]
    made = t.policy_id.get(arn)
    t.group(p["GroupName"]).setdefault("ManagedPolicyArns", []).append(
        {"Ref": made} if made else arn
    )


@CLOUDFORMATION.register("put_group_policy")
def _put_group_policy(t: _Template, p: Mapping[str, str]) -> None:
    t.group(p["GroupName"]).setdefault("Policies", []).append(
        {
            "PolicyName": p["PolicyName"],
            "PolicyDocument": json.loads(canonical_document(p["PolicyDocument"])),
        }
    )


@CLOUDFORMATION.register("add_user_to_group")
def _add_user_to_group(t: _Template, p: Mapping[str, str]) -> None:
    group = p["GroupName"]
    ident = t.members_id[group]
    if ident not in t.resources:
        resource: dict[str, Any] = {
            "Type": "AWS::IAM::UserToGroupAddition",
            "Properties": {"GroupName": t.group_name(group), "Users": []},
        }
        if group not in t.created_groups:
            about = t.notes["groups"].get(group, {"reason": "", "risks": []})
            resource["Metadata"] = {
                "groupify": {
                    "why": about["reason"] or "an existing group the plan reuses",
                    "existing": True,
                    "risks": about["risks"],
                }
            }
        t.resources[ident] = resource
    t.resources[ident]["Properties"]["Users"].append(p["UserName"])


@CLOUDFORMATION.register("detach_user_policy", "delete_user_policy")
def _stage2(t: _Template, p: Mapping[str, str]) -> None:
    # Not CloudFormation: see groupify.export.stage2, which renders these steps.
    return None


def template(exported: Exported) -> dict[str, Any]:
    """The stage-1 template, as data."""
    t = _Template(exported)
    for step in exported.plan.steps:
        CLOUDFORMATION[step.op](t, step.params)
    if len(t.resources) > MAX_RESOURCES:
        raise InputError(
            f"the plan needs {len(t.resources)} CloudFormation resources, more than the "
            f"{MAX_RESOURCES} a template may hold; export it as Terraform, or split the plan"
        )
    notes = t.notes
    plan = exported.plan
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": (
            f"groupify stage 1 for account {plan.account_id}, plan {plan.fingerprint}: "
            "groups, their policies and memberships. Deploy before stage 2, which removes "
            "the users' direct grants."
        ),
        "Metadata": {
            "groupify": {
                "stage": 1,
                "generator": notes["generator"],
                "account_id": notes["account_id"],
                "fingerprint": notes["fingerprint"],
                "created": notes["created"],
                "next": f"stage 2 (../stage2/{SCRIPT}), only once this stack is CREATE_COMPLETE",
                "exceptions": notes["exceptions"],
                "accepted_findings": notes["accepted_findings"],
                "role_control_paths": notes["role_control_paths"],
                "risk_review": {
                    group: about["risks"]
                    for group, about in notes["groups"].items()
                    if about["risks"]
                },
            }
        },
        "Resources": t.resources,
    }


def _readme(exported: Exported, size: int) -> str:
    plan = exported.plan
    big = (
        f"\nThe template is {size} bytes, more than the {MAX_INLINE_BODY} CloudFormation "
        "takes inline: deploy it with `--s3-bucket BUCKET`.\n"
        if size > MAX_INLINE_BODY
        else ""
    )
    return f"""# groupify export: CloudFormation

Account {plan.account_id}, plan `{plan.fingerprint}`. Two stages, applied in this order:

1. **`stage1/{TEMPLATE}`**: the groups, their policies and memberships, as one stack.
   Review it (its `Metadata` lists the risk review and the documented exceptions), then
   deploy it, for example:

   ```
   aws cloudformation deploy --template-file stage1/{TEMPLATE} \\
     --stack-name groupify-groups --capabilities CAPABILITY_NAMED_IAM
   ```

   It only adds: no one loses or gains access. The groups have fixed names, hence
   `CAPABILITY_NAMED_IAM`.
2. **`stage2/`**: only once the stack is `CREATE_COMPLETE`. The users' direct grants are
   removed where they live: from your own templates (`stage2/README.md` lists them per
   user), or, for grants managed nowhere, with `stage2/{SCRIPT}`, which checks that stage 1
   is in place before each user's removals.

Then `groupify verify PLAN` confirms that IAM.2 passes and no one's access changed.

**A later export never updates this stack.** Once it is deployed, its groups exist; a new
plan of the account reuses them instead of declaring them, so updating this stack with the
new template would delete them, and with them the access of users whose direct grants
stage 2 removed. Deploy each new export as a new stack, and never execute a change set
that removes a group.

Deleting the stack later takes the groups, and with them the users' access, away.
{big}"""


def cloudformation_files(plan: Plan) -> dict[str, str]:
    """*plan*'s CloudFormation export: path (relative to the export directory) → text.

    Raises as :meth:`Plan.verify` does for a plan that does not verify, and
    :class:`~groupify.InputError` for one past CloudFormation's limits.
    """
    exported = checked(plan)
    body = json.dumps(template(exported), indent=2, ensure_ascii=False) + "\n"
    size = len(body.encode("utf-8"))
    if size > MAX_BODY:
        raise InputError(
            f"the template would be {size} bytes, more than CloudFormation's {MAX_BODY}; "
            "export it as Terraform, or split the plan"
        )
    return {
        "README.md": _readme(exported, size),
        f"stage1/{TEMPLATE}": body,
        "stage2/README.md": stage2_readme(exported, target="cloudformation"),
        f"stage2/{GRANTS}": stage2_grants(exported),
        f"stage2/{SCRIPT}": stage2_script(exported),
    }
