"""Risk review: what a set of policies lets its holder do that a reviewer must see.

:func:`assess` reads the documents a group grants (or an exempt user holds)
and flags, each with the evidence:

* ``admin``: a statement allowing every action on every resource (Security Hub
  IAM.1), or an AWS-managed policy named in AWS's remediation guidance as too
  broad (``AdministratorAccess``, ``PowerUserAccess``, ``IAMFullAccess``,
  ``AWSCloudShellFullAccess``: IAM.27);
* ``service-wildcard``: an allow of all of a service's actions, ``s3:*``
  (Security Hub IAM.21);
* ``privilege-escalation``: a known privilege-escalation method whose every
  action the documents allow on any resource (creating policy versions,
  attaching or putting policies on users, groups or roles, adding users to
  groups, passing roles to compute, creating access keys or login profiles
  for others, …);
* ``data-write``: writing or deleting data on every resource (``s3:DeleteObject``
  on ``*``, ``dynamodb:DeleteTable``, …);
* ``unknown``: a policy whose document groupify does not have: it may allow
  anything.

The privilege-escalation methods come from cloudsplaining
(``PRIVILEGE_ESCALATION_METHODS``, maintained with the pathfinding.cloud
catalogue) when the ``risk`` extra is installed, else from a compact built-in
table of the published Rhino Security Labs methods. Either way the actions are
checked with groupify's own evaluator over *all* the documents together, so a
method split across two policies, a ``Deny`` or a ``NotAction`` counts as IAM
would count it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from typing import TYPE_CHECKING

from attrs import frozen

from groupify.privilege.evaluate import Answer, Evaluator, statements

if TYPE_CHECKING:
    from groupify.inventory.model import Inventory, PolicyRef

__all__ = [
    "BROAD_AWS_MANAGED",
    "SINGLE_MEMBER",
    "RiskFlag",
    "assess",
    "assess_policies",
    "escalation_methods",
]

#: AWS-managed policies AWS's own guidance names as too broad for a job function.
BROAD_AWS_MANAGED: Mapping[str, str] = {
    "AdministratorAccess": "full administrator (Security Hub IAM.1)",
    "PowerUserAccess": "every service but IAM and Organizations",
    "IAMFullAccess": "all of IAM: can grant itself anything",
    "AWSCloudShellFullAccess": "CloudShell with file upload and download (Security Hub IAM.27)",
}

#: The published Rhino Security Labs methods: used when cloudsplaining is not installed.
_BUILTIN_ESCALATIONS: Mapping[str, tuple[str, ...]] = {
    "CreateAccessKey": ("iam:CreateAccessKey",),
    "CreateLoginProfile": ("iam:CreateLoginProfile",),
    "UpdateLoginProfile": ("iam:UpdateLoginProfile",),
    "AddUserToGroup": ("iam:AddUserToGroup",),
    "CreateNewPolicyVersion": ("iam:CreatePolicyVersion",),
    "SetExistingDefaultPolicyVersion": ("iam:SetDefaultPolicyVersion",),
    "AttachUserPolicy": ("iam:AttachUserPolicy",),
    "AttachGroupPolicy": ("iam:AttachGroupPolicy",),
    "AttachRolePolicy": ("iam:AttachRolePolicy",),
    "PutUserPolicy": ("iam:PutUserPolicy",),
    "PutGroupPolicy": ("iam:PutGroupPolicy",),
    "PutRolePolicy": ("iam:PutRolePolicy",),
    "UpdateRolePolicyToAssumeIt": ("iam:UpdateAssumeRolePolicy",),
    "CreateEC2WithExistingIP": ("iam:PassRole", "ec2:RunInstances"),
    "PassExistingRoleToNewLambdaThenInvoke": (
        "iam:PassRole",
        "lambda:CreateFunction",
        "lambda:InvokeFunction",
    ),
    "PassExistingRoleToNewLambdaThenTriggerWithExistingDynamo": (
        "iam:PassRole",
        "lambda:CreateFunction",
        "lambda:CreateEventSourceMapping",
    ),
    "PassExistingRoleToNewGlueDevEndpoint": ("iam:PassRole", "glue:CreateDevEndpoint"),
    "PassExistingRoleToCloudFormation": ("iam:PassRole", "cloudformation:CreateStack"),
    "PassExistingRoleToNewDataPipeline": ("iam:PassRole", "datapipeline:CreatePipeline"),
    "UpdateExistingGlueDevEndpoint": ("glue:UpdateDevEndpoint",),
    "EditExistingLambdaFunctionWithRole": ("lambda:UpdateFunctionCode",),
}

#: Writes and deletes that, on every resource, reach all of an account's data.
DATA_WRITE = (
    "s3:DeleteObject",
    "s3:PutObject",
    "s3:DeleteBucket",
    "dynamodb:DeleteTable",
    "dynamodb:PutItem",
    "rds:DeleteDBInstance",
    "ec2:TerminateInstances",
    "kms:ScheduleKeyDeletion",
)


@cache
def escalation_methods() -> Mapping[str, tuple[str, ...]]:
    """Privilege-escalation methods: name → the actions that together make it.

    cloudsplaining's table when the ``risk`` extra is installed, else the built-in one.
    """
    try:
        from cloudsplaining.shared.constants import PRIVILEGE_ESCALATION_METHODS
    except ImportError:
        return _BUILTIN_ESCALATIONS
    return {str(k): tuple(str(a) for a in v) for k, v in PRIVILEGE_ESCALATION_METHODS.items()}


@frozen
class RiskFlag:
    """One reason a reviewer should look: its kind and the evidence."""

    kind: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.detail}"


def assess(documents: Mapping[str, str | None]) -> tuple[RiskFlag, ...]:
    """The risks of holding the policies *documents* maps (a name or ARN → document).

    A ``None`` document is unknown and flagged as such.
    """
    flags: list[RiskFlag] = []
    unknown = sorted(name for name, doc in documents.items() if doc is None)
    if unknown:
        flags.append(
            RiskFlag("unknown", "no document for " + ", ".join(_short(u) for u in unknown))
        )
    broad = sorted(
        f"{_short(n)} ({BROAD_AWS_MANAGED[_short(n)]})"
        for n in documents
        if n.startswith("arn:aws:iam::aws:policy/") and _short(n) in BROAD_AWS_MANAGED
    )
    full, wildcards = _statement_risks(d for d in documents.values() if d is not None)
    if full or broad:
        flags.append(RiskFlag("admin", "; ".join([*(["allows * on *"] if full else []), *broad])))
    if wildcards:
        flags.append(RiskFlag("service-wildcard", ", ".join(sorted(wildcards))))
    evaluator = Evaluator.of(d for d in documents.values() if d is not None)
    escalations = sorted(
        name
        for name, actions in escalation_methods().items()
        if all(_anywhere(evaluator, a) for a in actions)
    )
    if escalations:
        detail = "every known method (it allows * on *)" if full else ", ".join(escalations)
        flags.append(RiskFlag("privilege-escalation", detail))
    writes = [a for a in DATA_WRITE if _anywhere(evaluator, a)]
    if writes:
        detail = "everything" if full else ", ".join(writes)
        flags.append(RiskFlag("data-write", "on every resource: " + detail))
    return tuple(flags)


#: A new group with one member: grouping gave no reuse there.
SINGLE_MEMBER = RiskFlag("single-member", "a group of one: grouping gave no reuse here")


def assess_policies(inventory: Inventory, refs: Iterable[PolicyRef]) -> tuple[RiskFlag, ...]:
    """:func:`assess` of the policies *refs* stand for, their documents from *inventory*."""
    return assess(
        {
            ref.key if ref.is_managed else f"inline {inventory.label(ref)}": inventory.document(ref)
            for ref in sorted(refs)
        }
    )


def _anywhere(evaluator: Evaluator, action: str) -> bool:
    """Allowed on every resource (``*``), perhaps under a condition."""
    return evaluator.may(action, "*") in (Answer.YES, Answer.CONDITIONAL)


def _statement_risks(documents: Iterable[str]) -> tuple[bool, set[str]]:
    full = False
    wildcards: set[str] = set()
    for document in documents:
        try:
            parsed = statements(document)
        except (ValueError, TypeError):
            continue
        for s in parsed:
            if not s.allow or s.not_action:
                continue
            if "*" in s.actions and "*" in s.resources and not s.not_resource:
                full = True
            wildcards |= {a.lower() for a in s.actions if a.endswith(":*") and a.count(":") == 1}
    return full, wildcards


def _short(name: str) -> str:
    return name.rsplit("/", 1)[-1]
