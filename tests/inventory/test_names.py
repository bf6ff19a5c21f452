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


def test_generic_labels_are_named_by_what_their_documents_allow() -> None:
    """Found by review: `default` (Action "*"), `policy` (NotAction), `PolicyV2`, and a
    policy whose document is unknown were emitted bare."""
    star = '{"Statement":[{"Action":"*","Effect":"Allow","Resource":"*"}]}'
    nota = '{"Statement":[{"Effect":"Allow","NotAction":["iam:*"],"Resource":"*"}]}'
    names = {"default": star, "policy": nota, "PolicyV2": doc("s3:GetObject"), "FullAccess": None}
    inv = make_inventory(
        {"ann": {"managed": [customer(n) for n in names]}},
        aws_documents={customer(n): d for n, d in names.items()},
    )
    slugs = {inv.label(p): policy_slug(p, inv) for p in inv.users[0].direct}
    assert slugs["default"] == "all-services"
    assert slugs["policy"] == "all-except-iam"
    assert slugs["PolicyV2"] == "s3"
    assert slugs["FullAccess"].startswith("full-") and len(slugs["FullAccess"]) == 11
    # AWS's own names are never "generic".
    aws_inv = make_inventory({"ann": {"managed": [aws("ReadOnlyAccess")]}})
    (readonly,) = aws_inv.users[0].direct
    assert policy_slug(readonly, aws_inv) == "readonly"


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("AWSIoTFullAccess", ["aws", "iot", "full"]),
        ("AWSCloud9User", ["aws", "cloud9", "user"]),
        ("CloudWatchers", ["cloud", "watchers"]),
        ("CodeDeployerRole", ["code", "deployer", "role"]),
        ("PowerUsersGroup", ["power", "users", "group"]),
        ("data-readonlyaccess", ["data", "readonly", "access"]),
    ],
)
def test_service_names_match_whole_words_only(label: str, expected: list[str]) -> None:
    assert words(label) == expected


def test_a_layer_several_teams_share_is_named_by_its_policies() -> None:
    """Found by review: 3 web developers, 2 data engineers and 1 ops user sharing a logs
    policy got a layer named `web-developer`."""
    logs, lam, glue = customer("LogsRead"), customer("LambdaDeploy"), customer("GlueJobs")
    users: dict[str, dict[str, object]] = {}
    for i in range(3):
        users[f"web{i}"] = {"managed": [logs, lam], "tags": {"Team": "web", "Job": "developer"}}
    for i in range(2):
        users[f"data{i}"] = {"managed": [logs, glue], "tags": {"Team": "Data", "Job": "Engineer"}}
    users["ops0"] = {"managed": [logs], "tags": {"Team": "ops"}}
    proposal = groupify.propose(make_inventory(users))  # type: ignore[arg-type]
    names = {g.name: g.members for g in proposal.groups}
    assert names["web-developer"] == {"web0", "web1", "web2"}
    assert names["data-engineer"] == {"data0", "data1"}  # tag values compared ignoring case
    assert len(names["logs-read"]) == 6


def test_weights_do_not_go_with_no_layers() -> None:
    inv = make_inventory({"ann": {"managed": [aws("A")]}})
    with pytest.raises(groupify.InputError, match="does not go with --no-layers"):
        groupify.propose(inv, layers=False, weights=groupify.Weights())
    with pytest.raises(groupify.InputError, match="not a number"):
        groupify.Weights.parse("attachments=1_0")
