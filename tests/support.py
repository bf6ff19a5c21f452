"""One home for test helpers: the account, ARNs, policy documents, small inventories.

Tests against moto (a server, faults at the wire, watchdogs) are in
:mod:`tests.moto`; both use the one :data:`ACCOUNT` and the one :func:`doc`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from groupify import Group, InlinePolicy, Inventory, ManagedPolicy, Quotas, User
from groupify.inventory.policy import canonical_document

#: The test account: moto's default, so in-memory inventories and moto agree.
ACCOUNT = "123456789012"


def aws(name: str) -> str:
    """The ARN of an AWS-managed policy."""
    return f"arn:aws:iam::aws:policy/{name}"


def cust(name: str) -> str:
    """The ARN of a customer-managed policy in the test account."""
    return f"arn:aws:iam::{ACCOUNT}:policy/{name}"


def doc(*actions: str, resource: str = "*") -> str:
    """A canonical policy document allowing *actions*."""
    return canonical_document(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": resource}],
        }
    )


def aws_document(arn: str) -> str:
    """A stand-in document for the managed policy *arn*, shaped like the real one.

    ``AdministratorAccess`` allows everything, ``IAMFullAccess`` all of IAM,
    ``PowerUserAccess`` everything but IAM; any other allows read calls of one
    made-up service named after the policy (so two policies never overlap).
    """
    name = arn.rsplit("/", 1)[-1]
    if name == "AdministratorAccess":
        statement: dict[str, Any] = {"Effect": "Allow", "Action": "*", "Resource": "*"}
    elif name == "IAMFullAccess":
        statement = {"Effect": "Allow", "Action": "iam:*", "Resource": "*"}
    elif name == "PowerUserAccess":
        statement = {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}
    else:
        statement = {"Effect": "Allow", "Action": f"{name.lower()}:Get*", "Resource": "*"}
    return canonical_document({"Version": "2012-10-17", "Statement": [statement]})


def make_inventory(
    users: Mapping[str, Mapping[str, Any]],
    groups: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    caller: str | None = None,
    quotas: Quotas | None = None,
    group_count: int | None = None,
    aws_documents: Mapping[str, str | None] | None = None,
) -> Inventory:
    """An inventory from ``{user: {"managed": [], "inline": {}, "groups": [], "tags": {},
    "boundary": ARN}}``.

    Every managed policy held (AWS or customer) gets a document:
    :func:`aws_document`'s, or the one *aws_documents* gives for its ARN
    (``None``: unknown).
    """
    held = sorted(
        {a for spec in users.values() for a in spec.get("managed", ())}
        | {a for spec in (groups or {}).values() for a in spec.get("managed", ())}
        | {spec["boundary"] for spec in users.values() if spec.get("boundary")}
    )
    documents = dict(aws_documents or {})
    known = [
        ManagedPolicy(arn=a, name=a.rsplit("/", 1)[-1], document=documents.get(a, aws_document(a)))
        for a in held
    ]
    aws_policies = [p for p in known if p.is_aws_managed]
    customer = [p for p in known if not p.is_aws_managed]
    return Inventory(
        account_id=ACCOUNT,
        users=[
            User(
                name=name,
                arn=f"arn:aws:iam::{ACCOUNT}:user/{name}",
                tags=list(spec.get("tags", {}).items()),
                groups=spec.get("groups", ()),
                managed=spec.get("managed", ()),
                inline=[InlinePolicy(n, d) for n, d in spec.get("inline", {}).items()],
                permissions_boundary=spec.get("boundary"),
            )
            for name, spec in users.items()
        ],
        groups=[
            Group(
                name=name,
                arn=f"arn:aws:iam::{ACCOUNT}:group/{name}",
                managed=spec.get("managed", ()),
                inline=[InlinePolicy(n, d) for n, d in spec.get("inline", {}).items()],
            )
            for name, spec in (groups or {}).items()
        ],
        policies=customer,
        aws_policies=aws_policies,
        caller_arn=f"arn:aws:iam::{ACCOUNT}:user/{caller}" if caller else None,
        quotas=quotas or Quotas(),
        group_count=group_count,
    )


def to_gaad(inventory: Inventory) -> dict[str, Any]:
    """The inventory as the AWS CLI writes get-account-authorization-details."""
    import json

    return {
        "UserDetailList": [
            {
                "Path": u.path,
                "UserName": u.name,
                "UserId": u.user_id,
                "Arn": u.arn,
                "UserPolicyList": [
                    {"PolicyName": p.name, "PolicyDocument": json.loads(p.document)}
                    for p in u.inline
                ],
                "GroupList": list(u.groups),
                "AttachedManagedPolicies": [
                    {"PolicyName": a.rsplit("/", 1)[-1], "PolicyArn": a} for a in u.managed
                ],
                "Tags": [{"Key": k, "Value": v} for k, v in u.tags],
            }
            for u in inventory.users
        ],
        "GroupDetailList": [
            {
                "Path": g.path,
                "GroupName": g.name,
                "GroupId": g.group_id,
                "Arn": g.arn,
                "GroupPolicyList": [
                    {"PolicyName": p.name, "PolicyDocument": json.loads(p.document)}
                    for p in g.inline
                ],
                "AttachedManagedPolicies": [
                    {"PolicyName": a.rsplit("/", 1)[-1], "PolicyArn": a} for a in g.managed
                ],
            }
            for g in inventory.groups
        ],
        "RoleDetailList": [],
        "Policies": [
            {
                "PolicyName": p.name,
                "Arn": p.arn,
                "Path": p.path,
                "DefaultVersionId": "v1",
                "PolicyVersionList": [
                    {
                        "Document": json.loads(p.document),
                        "VersionId": "v1",
                        "IsDefaultVersion": True,
                    }
                ],
            }
            for p in (*inventory.policies, *inventory.aws_policies)
            if p.document is not None
        ],
    }
