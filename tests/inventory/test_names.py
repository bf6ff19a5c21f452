"""Group names a person would write: words split, filler dropped, never a bare generic word."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import groupify
from groupify.inventory.model import PolicyRef
from groupify.inventory.names import policy_name, policy_slug, words
from tests.support import ACCOUNT, aws, doc, make_inventory

EXAMPLE = Path(__file__).parents[2] / "examples" / "acme-gaad.json"


def customer(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:policy/{name}"


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        (
            "privesc-sageMakerCreatePresignedNotebookURL-policy",
            ["privesc", "sagemaker", "create", "presigned", "notebook", "url", "policy"],
        ),
        ("AmazonEC2FullAccess", ["amazon", "ec2", "full"]),
        ("Route53ReadOnly", ["route53", "readonly"]),
        ("DataLake2024Writers", ["data", "lake", "2024", "writers"]),
        ("Policy2", ["policy", "2"]),
        ("gp3Volumes", ["gp3", "volumes"]),
        ("AWSCloudTrail_ReadOnlyAccess", ["aws", "cloudtrail", "readonly", "access"]),
    ],
)
def test_words_split_camel_case_and_digits(label: str, expected: list[str]) -> None:
    assert words(label) == expected


def _inventory(policies: dict[str, str]) -> groupify.Inventory:
    """One user holding each customer policy (name -> action)."""
    return make_inventory(
        {"ann": {"managed": [customer(n) for n in policies]}},
        aws_documents={customer(n): doc(a) for n, a in policies.items()},
    )


def test_policy_labels_drop_filler_and_never_are_a_bare_generic_word() -> None:
    inv = _inventory(
        {
            "privesc-sageMakerCreatePresignedNotebookURL-policy": "sagemaker:CreatePresigned*",
            "policy": "s3:GetObject",
            "Policy2": "ec2:Describe*",
            "AllowLogsRead": "logs:Get*",
        }
    )
    slugs = {inv.label(p): policy_slug(p, inv) for p in inv.users[0].direct}
    assert slugs == {
        "privesc-sageMakerCreatePresignedNotebookURL-policy": (
            "privesc-sagemaker-create-presigned-notebook-url"
        ),
        "policy": "s3",
        "Policy2": "ec2",
        "AllowLogsRead": "logs-read",
    }


def test_several_policies_say_a_shared_word_once_and_stop_at_the_service_family() -> None:
    names = ["AmazonEC2FullAccess", "IAMFullAccess", "AmazonRoute53FullAccess"]
    inv = make_inventory({"ann": {"managed": [aws(n) for n in [*names, "AmazonVPCFullAccess"]]}})
    refs = [PolicyRef.managed(aws(n)) for n in names]
    assert policy_name(refs, inv) == "ec2-iam-route53-full"
    refs.append(PolicyRef.managed(aws("AmazonVPCFullAccess")))
    # Four services (the test's stand-in documents name one each): the first three.
    assert policy_name(refs, inv) == "ec2-iam-route53-and-more"
    inv = _inventory({"datalake-read": "s3:GetObject", "datalake-write": "s3:PutObject"})
    assert policy_name(inv.users[0].direct, inv) == "datalake-read-write"
    four = {
        "q-run": "athena:Start*",
        "q-read": "athena:Get*",
        "put": "s3:Put*",
        "lister": "s3:List*",
    }
    inv = _inventory(four)
    assert policy_name(inv.users[0].direct, inv) == "athena-s3"


def test_a_user_added_to_a_set_renames_no_group() -> None:
    """For every user of the bundled example: one more user with the same policies, with
    its tags or with none, leaves every group's name as it was."""
    gaad = json.loads(EXAMPLE.read_text())
    base = groupify.propose(groupify.parse_gaad([gaad]), exclude_tags=["BreakGlass"])
    names = {g.name: g.policies for g in base.groups}
    for user in gaad["UserDetailList"]:
        if user["UserName"] == "breakglass-admin":
            continue
        for tags in (user.get("Tags", []), []):
            twin = json.loads(json.dumps(user)) | {"UserName": user["UserName"] + "-twin"}
            twin |= {"UserId": "AIDA" + "T" * 17, "Arn": user["Arn"] + "-twin", "Tags": tags}
            more = gaad | {"UserDetailList": [*gaad["UserDetailList"], twin]}
            again = groupify.propose(groupify.parse_gaad([more]), exclude_tags=["BreakGlass"])
            assert {g.name: g.policies for g in again.groups} == names, (user["UserName"], tags)
