"""Risk review: admin equivalence, service wildcards, escalation methods, data-wide writes."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest

import groupify
from groupify.inventory.policy import canonical_document
from groupify.privilege import risk
from groupify.privilege.risk import assess, escalation_methods
from tests.support import aws, make_inventory


def doc(*statements: dict[str, Any]) -> str:
    return canonical_document({"Version": "2012-10-17", "Statement": list(statements)})


def allow(*actions: str, resource: str = "*") -> dict[str, Any]:
    return {"Effect": "Allow", "Action": list(actions), "Resource": resource}


def kinds(documents: dict[str, str | None]) -> dict[str, str]:
    return {f.kind: f.detail for f in assess(documents)}


def test_read_only_grants_are_not_flagged() -> None:
    """Describe and Get on everything is no risk to flag."""
    assert assess({"read": doc(allow("ec2:Describe*", "s3:Get*"))}) == ()


def test_allow_everything_is_admin() -> None:
    """Action * on Resource * is admin (Security Hub IAM.1); every method follows from it."""
    got = kinds({"all": doc(allow("*"))})
    assert got["admin"] == "allows * on *"
    assert got["privilege-escalation"] == "every known method (it allows * on *)"
    assert got["data-write"] == "on every resource: everything"


@pytest.mark.parametrize(
    "name", ["AdministratorAccess", "PowerUserAccess", "IAMFullAccess", "AWSCloudShellFullAccess"]
)
def test_broad_aws_managed_policies_are_named(name: str) -> None:
    """The AWS-managed policies AWS's guidance names as too broad are flagged by name."""
    got = kinds({aws(name): doc(allow("s3:GetObject"))})
    assert got["admin"].startswith(name)


def test_service_wide_wildcards_are_listed() -> None:
    """s3:* and dynamodb:* (Security Hub IAM.21); an exact action or a prefix wildcard is not."""
    got = kinds({"a": doc(allow("s3:*", "dynamodb:*", "ec2:Describe*", "sqs:SendMessage"))})
    assert got["service-wildcard"] == "dynamodb:*, s3:*"


def test_an_escalation_split_across_two_policies_is_found() -> None:
    """iam:PassRole in one policy and ec2:RunInstances in another: together an escalation."""
    documents = {"pass": doc(allow("iam:PassRole")), "run": doc(allow("ec2:RunInstances"))}
    assert "CreateEC2WithExistingIP" in kinds(documents)["privilege-escalation"]
    assert "privilege-escalation" not in kinds({"run": documents["run"]})


def test_a_deny_takes_an_escalation_away() -> None:
    """An explicit Deny on iam:PassRole removes the PassRole methods."""
    documents = {
        "pass": doc(allow("iam:PassRole", "ec2:RunInstances")),
        "no": doc({"Effect": "Deny", "Action": "iam:PassRole", "Resource": "*"}),
    }
    assert "privilege-escalation" not in kinds(documents)


def test_a_grant_scoped_to_one_resource_is_not_an_escalation_anywhere() -> None:
    """CreateAccessKey on one user ARN is not "on every resource"."""
    scoped = doc(allow("iam:CreateAccessKey", resource="arn:aws:iam::123456789012:user/ci"))
    assert "privilege-escalation" not in kinds({"k": scoped})


def test_data_wide_writes_are_flagged() -> None:
    """Deleting any object or table anywhere is flagged with the actions."""
    got = kinds({"w": doc(allow("s3:DeleteObject", "dynamodb:DeleteTable"))})
    assert got["data-write"] == "on every resource: s3:DeleteObject, dynamodb:DeleteTable"


def test_an_unknown_document_is_flagged_not_ignored() -> None:
    """A policy groupify has no document for is named as unknown."""
    got = kinds({aws("MysteryAccess"): None, "read": doc(allow("s3:GetObject"))})
    assert got["unknown"] == "no document for MysteryAccess"


@pytest.fixture
def no_cloudsplaining(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """As if the risk extra were not installed."""
    escalation_methods.cache_clear()
    monkeypatch.setitem(sys.modules, "cloudsplaining", None)
    monkeypatch.setitem(sys.modules, "cloudsplaining.shared", None)
    monkeypatch.setitem(sys.modules, "cloudsplaining.shared.constants", None)
    yield
    escalation_methods.cache_clear()


def test_the_built_in_table_is_the_fallback(no_cloudsplaining: None) -> None:
    """Without cloudsplaining the compact built-in table of the published methods is used."""
    methods = escalation_methods()
    assert methods == risk._BUILTIN_ESCALATIONS
    assert "PassExistingRoleToNewGlueDevEndpoint" in methods
    assert (
        "CreateEC2WithExistingIP"
        in kinds({"pass": doc(allow("iam:PassRole")), "run": doc(allow("ec2:RunInstances"))})[
            "privilege-escalation"
        ]
    )


def test_cloudsplaining_table_is_used_when_installed() -> None:
    """With the risk extra, cloudsplaining's maintained table (a superset) is used."""
    pytest.importorskip("cloudsplaining")
    escalation_methods.cache_clear()
    methods = escalation_methods()
    assert set(risk._BUILTIN_ESCALATIONS) <= set(methods)
    assert len(methods) > len(risk._BUILTIN_ESCALATIONS)


def test_the_plan_flags_risky_groups_single_members_and_exempt_admins() -> None:
    """Plan.risks: a group granting s3:*, a group of one, and the exempt break-glass admin."""
    wide = canonical_document({"Statement": [allow("s3:*")]})
    inventory = make_inventory(
        {
            "ann": {"inline": {"wide": wide}},
            "bob": {"inline": {"wide": wide}},
            "cat": {"managed": [aws("AmazonEC2ReadOnlyAccess")]},
            "root-bg": {"managed": [aws("AdministratorAccess")], "tags": {"BreakGlass": "true"}},
        }
    )
    plan = groupify.build_plan(groupify.propose(inventory, exclude_tags=["BreakGlass"]))
    got = {(r.subject, r.name): [f.kind for f in r.flags] for r in plan.risks}
    wide_group = next(g["name"] for g in plan.groups if "ann" in g["members"])
    lone_group = next(g["name"] for g in plan.groups if "cat" in g["members"])
    assert got == {
        ("group", wide_group): ["service-wildcard", "data-write"],
        ("group", lone_group): ["single-member"],
        ("exempt user", "root-bg"): ["admin", "privilege-escalation", "data-write"],
    }
    assert plan.overview()["risks"][0]["name"] == sorted([wide_group, lone_group])[0]
