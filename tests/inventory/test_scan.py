"""Tests for groupify.scan: moto in-process and over HTTP, GAAD paging, and errors.

moto answers every call in one page, so paging is tested with botocore's
Stubber on a real IAM client, fed pages as the raw API returns them.
"""

from __future__ import annotations

import json
import os
import socket
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

import groupify
import groupify.aws
from groupify.inventory.account import GAAD_FILTER
from groupify.inventory.model import InlinePolicy, ManagedPolicy, Quotas
from groupify.inventory.policy import canonical_document
from tests import awsmoto
from tests.support import ACCOUNT

REGION = awsmoto.REGION
#: Retry as groupify does, without sleeping.
FAST = groupify.RetryPolicy.no_wait()
AWS_MANAGED = "arn:aws:iam::aws:policy/"
CUSTOMER = f"arn:aws:iam::{ACCOUNT}:policy/"

DEPLOY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "ecs:UpdateService", "Resource": "*"}],
}
LOGS = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["logs:Get*", "logs:List*"], "Resource": "*"}],
}
QUEUE = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "Send", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}],
}
# The same document as QUEUE with its keys reordered and spaced out: one policy.
QUEUE_SCRAMBLED = (
    '{ "Statement" : [ { "Resource":"*", "Action":"sqs:SendMessage", '
    '"Effect":"Allow", "Sid":"Send" } ],\n  "Version":"2012-10-17" }'
)


# -- environment and moto fixtures ------------------------------------------------------


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Dummy credentials and no trace of the developer's own AWS configuration."""
    for name in list(os.environ):
        if name.startswith(("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_DEFAULT_PROFILE")):
            monkeypatch.delenv(name)
    monkeypatch.delenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)


def _moto_iam(load_aws_managed_policies: bool) -> Iterator[Any]:
    with mock_aws(config={"iam": {"load_aws_managed_policies": load_aws_managed_policies}}):
        yield boto3.client("iam", region_name=REGION)


@pytest.fixture
def iam() -> Iterator[Any]:
    """An in-process moto account (customer-managed policies only: quick to start)."""
    yield from _moto_iam(False)


@pytest.fixture
def iam_aws() -> Iterator[Any]:
    """An in-process moto account that also knows the AWS-managed policies."""
    yield from _moto_iam(True)


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    """One moto HTTP server for the module, on a free port; its URL."""
    yield from awsmoto.serve()


@pytest.fixture
def endpoint(moto_server: str) -> str:
    """The moto server's URL, with its state wiped."""
    awsmoto.reset(moto_server)
    return moto_server


# -- an account to read ---------------------------------------------------------------------


def populate(iam: Any, *, aws_managed: bool = False) -> dict[str, Any]:
    """Create users and groups through *iam*; return the expected inventory content."""
    deploy = iam.create_policy(PolicyName="deploy", PolicyDocument=json.dumps(DEPLOY))
    deploy_arn = deploy["Policy"]["Arn"]
    read_only = f"{AWS_MANAGED}ReadOnlyAccess"
    s3_read = f"{AWS_MANAGED}AmazonS3ReadOnlyAccess"

    iam.create_group(GroupName="devs")
    if aws_managed:
        iam.attach_group_policy(GroupName="devs", PolicyArn=read_only)
    iam.put_group_policy(GroupName="devs", PolicyName="logs", PolicyDocument=json.dumps(LOGS))
    iam.create_group(GroupName="ops", Path="/eng/")
    iam.attach_group_policy(GroupName="ops", PolicyArn=deploy_arn)

    iam.create_user(
        UserName="alice",
        Tags=[{"Key": "team", "Value": "data"}, {"Key": "cost-center", "Value": "42"}],
    )
    iam.attach_user_policy(UserName="alice", PolicyArn=deploy_arn)
    if aws_managed:
        iam.attach_user_policy(UserName="alice", PolicyArn=s3_read)
    iam.put_user_policy(UserName="alice", PolicyName="queue", PolicyDocument=json.dumps(QUEUE))
    iam.add_user_to_group(UserName="alice", GroupName="devs")
    iam.add_user_to_group(UserName="alice", GroupName="ops")

    iam.create_user(UserName="bob", Path="/eng/", Tags=[{"Key": "BreakGlass", "Value": ""}])
    iam.put_user_policy(UserName="bob", PolicyName="send", PolicyDocument=QUEUE_SCRAMBLED)
    iam.put_user_policy(UserName="bob", PolicyName="logs", PolicyDocument=json.dumps(LOGS))
    iam.add_user_to_group(UserName="bob", GroupName="ops")

    iam.create_user(UserName="carol")

    def ids(kind: str, name: str) -> tuple[str, str]:
        if kind == "user":
            got = iam.get_user(UserName=name)["User"]
            return got["UserId"], got["Arn"]
        got = iam.get_group(GroupName=name)["Group"]
        return got["GroupId"], got["Arn"]

    def inline(*pairs: tuple[str, Any]) -> list[dict[str, str]]:
        return [{"name": n, "document": canonical_document(d)} for n, d in sorted(pairs)]

    users = [
        {
            "name": "alice",
            "path": "/",
            "tags": [["cost-center", "42"], ["team", "data"]],
            "groups": ["devs", "ops"],
            "managed": sorted([deploy_arn] + ([s3_read] if aws_managed else [])),
            "inline": inline(("queue", QUEUE)),
        },
        {
            "name": "bob",
            "path": "/eng/",
            "tags": [["BreakGlass", ""]],
            "groups": ["ops"],
            "managed": [],
            "inline": inline(("logs", LOGS), ("send", QUEUE)),
        },
        {"name": "carol", "path": "/", "tags": [], "groups": [], "managed": [], "inline": []},
    ]
    for user in users:
        user["user_id"], user["arn"] = ids("user", user["name"])
        user["permissions_boundary"] = None
    groups = [
        {
            "name": "devs",
            "path": "/",
            "managed": [read_only] if aws_managed else [],
            "inline": inline(("logs", LOGS)),
        },
        {"name": "ops", "path": "/eng/", "managed": [deploy_arn], "inline": []},
    ]
    for group in groups:
        group["group_id"], group["arn"] = ids("group", group["name"])
    policies = [
        ManagedPolicy(
            arn=deploy_arn,
            name="deploy",
            path="/",
            document=canonical_document(DEPLOY),
            attachment_count=2,
        )
    ]
    return {"users": users, "groups": groups, "policies": policies}


def assert_inventory(inv: groupify.Inventory, expected: dict[str, Any]) -> None:
    data = inv.to_dict()
    assert data["account_id"] == ACCOUNT
    assert data["users"] == expected["users"]
    assert data["groups"] == expected["groups"]
    assert list(inv.policies) == expected["policies"]


def gaad_file(iam: Any, path: Path, *, gaad_filter: list[str] | None) -> Path:
    """Save GAAD the way ``aws iam get-account-authorization-details`` does."""
    merged: dict[str, list[Any]] = {}
    kwargs = {"Filter": gaad_filter} if gaad_filter is not None else {}
    for page in iam.get_paginator("get_account_authorization_details").paginate(**kwargs):
        for key in ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies"):
            merged.setdefault(key, []).extend(page.get(key, []))
    path.write_text(json.dumps(merged, indent=4, default=str), encoding="utf-8")
    return path


# -- moto in process --------------------------------------------------------------------


def test_scan_reads_users_groups_and_policies(iam_aws: Any) -> None:
    """A scan returns exactly the users, groups, policies, tags and documents created."""
    expected = populate(iam_aws, aws_managed=True)
    inv = groupify.scan(boto3.Session(region_name=REGION))
    assert_inventory(inv, expected)
    assert inv.source == "live account"


def test_scan_reads_the_aws_managed_documents_users_and_groups_hold(iam_aws: Any) -> None:
    """Each AWS-managed policy held is read at its default version, and only those held."""
    populate(iam_aws, aws_managed=True)
    held = {
        a["PolicyArn"]
        for kind, key in (("users", "UserName"), ("groups", "GroupName"))
        for entity in (
            iam_aws.list_users()["Users"] if kind == "users" else iam_aws.list_groups()["Groups"]
        )
        for a in (
            iam_aws.list_attached_user_policies(UserName=entity[key])
            if kind == "users"
            else iam_aws.list_attached_group_policies(GroupName=entity[key])
        )["AttachedPolicies"]
        if a["PolicyArn"].startswith(AWS_MANAGED)
    }
    inv = groupify.scan(boto3.Session(region_name=REGION))
    assert {p.arn for p in inv.aws_policies} == held
    for policy in inv.aws_policies:
        version = iam_aws.get_policy(PolicyArn=policy.arn)["Policy"]["DefaultVersionId"]
        document = iam_aws.get_policy_version(PolicyArn=policy.arn, VersionId=version)
        assert policy.document == canonical_document(document["PolicyVersion"]["Document"])
        assert inv.document(groupify.PolicyRef.managed(policy.arn)) == policy.document


@pytest.mark.parametrize("refusal", ["AccessDenied", "NoSuchEntity"])
def test_an_aws_managed_policy_that_cannot_be_read_is_unknown(iam_aws: Any, refusal: str) -> None:
    """A GetPolicy refused (no permission, or no such policy) leaves that document unknown
    (None, not empty) and the scan goes on."""
    iam_aws.create_user(UserName="ann")
    iam_aws.attach_user_policy(UserName="ann", PolicyArn=f"{AWS_MANAGED}ReadOnlyAccess")
    client = boto3.client("iam", region_name=REGION, config=groupify.aws.client_config())
    script = awsmoto.Script(("get_policy", refusal))
    script.attach(client)
    inv = groupify.scan(iam=client, sts=boto3.client("sts", region_name=REGION), retry=FAST)
    assert script.fired == [("get_policy", refusal)]
    assert [(p.arn, p.document) for p in inv.aws_policies] == [
        (f"{AWS_MANAGED}ReadOnlyAccess", None)
    ]
    assert inv.document(groupify.PolicyRef.managed(f"{AWS_MANAGED}ReadOnlyAccess")) is None


def test_other_errors_reading_an_aws_managed_policy_fail_the_scan(iam_aws: Any) -> None:
    """Throttling that outlasts the retries is an AWSError, not a silently unknown document."""
    iam_aws.create_user(UserName="ann")
    iam_aws.attach_user_policy(UserName="ann", PolicyArn=f"{AWS_MANAGED}ReadOnlyAccess")
    client = boto3.client("iam", region_name=REGION, config=groupify.aws.client_config())
    awsmoto.Script(*[("get_policy", "Throttling")] * 3).attach(client)
    with pytest.raises(groupify.AWSError, match="GetPolicy failed: Throttling"):
        groupify.scan(
            iam=client,
            sts=boto3.client("sts", region_name=REGION),
            retry=groupify.RetryPolicy.no_wait(attempts=3),
        )


def test_scan_records_the_caller(iam: Any) -> None:
    """The caller ARN is what sts:GetCallerIdentity says."""
    populate(iam)
    caller = boto3.client("sts", region_name=REGION).get_caller_identity()["Arn"]
    assert groupify.scan(boto3.Session(region_name=REGION)).caller_arn == caller


def test_inline_documents_are_one_policy_however_written(iam: Any) -> None:
    """The same inline document, differently spaced and ordered, is one PolicyRef."""
    populate(iam)
    inv = groupify.scan(boto3.Session(region_name=REGION))
    alice, bob = inv.user_by_name["alice"], inv.user_by_name["bob"]
    (queue,) = alice.inline
    send = next(p for p in bob.inline if p.name == "send")
    assert send.ref == queue.ref
    assert inv.inline_names[queue.ref] == ("queue", "send")


def test_scan_reads_quotas_from_account_summary(iam: Any) -> None:
    """Quotas and the group count come from GetAccountSummary."""
    populate(iam)
    session = boto3.Session(region_name=REGION)
    changed = {"GroupsPerUserQuota": 7, "AttachedPoliciesPerGroupQuota": 20, "GroupsQuota": 400}

    def edit_summary(parsed: dict[str, Any], **_: Any) -> None:
        parsed["SummaryMap"].update(changed)

    session.events.register("after-call.iam.GetAccountSummary", edit_summary)
    inv = groupify.scan(session)
    assert inv.quotas == Quotas(
        groups_per_user=7, managed_policies_per_group=20, groups_per_account=400
    )
    assert inv.group_count == 2


def test_scan_quotas_argument_overrides_summary(iam: Any) -> None:
    """Quotas passed to scan win over the account's."""
    populate(iam)
    quotas = Quotas(groups_per_user=3)
    assert groupify.scan(boto3.Session(region_name=REGION), quotas=quotas).quotas == quotas


def test_scan_accepts_clients(iam: Any) -> None:
    """Clients passed as iam= and sts= are used instead of a session."""
    expected = populate(iam)
    sts = boto3.client("sts", region_name=REGION)
    assert_inventory(groupify.scan(iam=iam, sts=sts), expected)


def test_scan_of_an_empty_account_names_it_from_the_caller(iam: Any) -> None:
    """An account with no user, group or customer policy takes its id from sts."""
    inv = groupify.scan(boto3.Session(region_name=REGION))
    assert (inv.account_id, inv.users, inv.groups, inv.policies) == (ACCOUNT, (), (), ())


@pytest.mark.parametrize(
    ("gaad_filter", "aws_managed"),
    # Unfiltered with moto's 1,500 AWS-managed policies loaded is a 4 MB file
    # and seconds of moto time; test_gaad covers dropping AWS-managed entries.
    [(None, False), (GAAD_FILTER, True)],
    ids=["cli-default", "filtered-with-aws-policies"],
)
def test_scan_and_gaad_file_have_one_fingerprint(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    gaad_filter: list[str] | None,
    aws_managed: bool,
) -> None:
    """A scan and a GAAD file saved from the same account state fingerprint the same."""
    iam = request.getfixturevalue("iam_aws" if aws_managed else "iam")
    populate(iam, aws_managed=aws_managed)
    scanned = groupify.scan(boto3.Session(region_name=REGION))
    loaded = groupify.load_gaad(gaad_file(iam, tmp_path / "gaad.json", gaad_filter=gaad_filter))
    assert loaded.fingerprint == scanned.fingerprint
    assert (loaded.users, loaded.groups, loaded.policies) == (
        scanned.users,
        scanned.groups,
        scanned.policies,
    )


def test_fingerprint_changes_with_the_account(iam: Any) -> None:
    """Deleting one inline policy of one user changes the fingerprint."""
    populate(iam)
    before = groupify.scan(boto3.Session(region_name=REGION)).fingerprint
    iam.delete_user_policy(UserName="bob", PolicyName="logs")
    assert groupify.scan(boto3.Session(region_name=REGION)).fingerprint != before


def test_scan_names_a_policy_from_its_arn_when_gaad_omits_it() -> None:
    """moto's GAAD gives customer policies no PolicyName; the name comes from the ARN."""
    with mock_aws():
        client = boto3.client("iam", region_name=REGION)
        client.create_policy(PolicyName="deploy", PolicyDocument=json.dumps(DEPLOY))
        client.create_user(UserName="alice")
        inv = groupify.scan(boto3.Session(region_name=REGION))
    assert [p.name for p in inv.policies] == ["deploy"]


# -- moto over HTTP ---------------------------------------------------------------------


def test_scan_through_endpoint_url(endpoint: str) -> None:
    """Clients built with endpoint_url read the moto server."""
    session = boto3.Session(region_name=REGION)
    iam = session.client("iam", endpoint_url=endpoint)
    expected = populate(iam)
    inv = groupify.scan(iam=iam, sts=session.client("sts", endpoint_url=endpoint))
    assert_inventory(inv, expected)
    assert inv.caller_arn is not None
    assert inv.caller_arn.startswith(f"arn:aws:sts::{ACCOUNT}:")


def test_scan_through_aws_endpoint_url(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """With AWS_ENDPOINT_URL set, scan() and its default session read the moto server."""
    expected = populate(boto3.client("iam", endpoint_url=endpoint))
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    inv = groupify.scan()
    assert_inventory(inv, expected)


def test_server_reset_between_tests(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each server test starts from an empty account."""
    iam = boto3.client("iam", endpoint_url=endpoint)
    assert iam.list_users()["Users"] == []
    iam.create_user(UserName="dave")
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    assert [u.name for u in groupify.scan().users] == ["dave"]


def test_unreachable_endpoint_is_an_aws_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A refused connection becomes an AWSError naming the first call and no code."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    with pytest.raises(groupify.AWSError) as info:
        groupify.scan(retry=FAST)
    assert (info.value.operation, info.value.code) == ("GetCallerIdentity", None)
    assert "\n" not in str(info.value)


# -- paging and errors, with Stubber ------------------------------------------------------


def encoded(document: dict[str, Any]) -> str:
    """A policy document as the IAM API sends it: URL-encoded JSON."""
    return urllib.parse.quote(json.dumps(document))


def user_detail(name: str, *, groups: tuple[str, ...] = (), inline: Any = None) -> dict[str, Any]:
    detail: dict[str, Any] = {
        "UserName": name,
        "UserId": f"AIDA{name.upper():0>17}",
        "Arn": f"arn:aws:iam::{ACCOUNT}:user/{name}",
        "Path": "/",
        "GroupList": list(groups),
        "AttachedManagedPolicies": [
            {"PolicyName": "ReadOnlyAccess", "PolicyArn": f"{AWS_MANAGED}ReadOnlyAccess"}
        ],
        "UserPolicyList": [],
        "Tags": [{"Key": "page-user", "Value": name}],
    }
    if inline is not None:
        detail["UserPolicyList"] = [{"PolicyName": "inline", "PolicyDocument": encoded(inline)}]
    return detail


def group_detail(name: str) -> dict[str, Any]:
    return {
        "GroupName": name,
        "GroupId": f"AGPA{name.upper():0>17}",
        "Arn": f"arn:aws:iam::{ACCOUNT}:group/{name}",
        "Path": "/",
        "GroupPolicyList": [{"PolicyName": "logs", "PolicyDocument": encoded(LOGS)}],
        "AttachedManagedPolicies": [],
    }


def policy_detail(name: str, document: dict[str, Any]) -> dict[str, Any]:
    return {
        "PolicyName": name,
        "PolicyId": f"ANPA{name.upper():0>17}",
        "Arn": f"{CUSTOMER}{name}",
        "Path": "/",
        "DefaultVersionId": "v2",
        "AttachmentCount": 1,
        "PolicyVersionList": [
            {"Document": encoded(LOGS), "VersionId": "v1", "IsDefaultVersion": False},
            {"Document": encoded(document), "VersionId": "v2", "IsDefaultVersion": True},
        ],
    }


READ_ONLY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}],
}


def stub_aws_managed(iam_stub: Stubber) -> None:
    """The two reads a scan makes for the AWS-managed policy the page users hold."""
    arn = f"{AWS_MANAGED}ReadOnlyAccess"
    iam_stub.add_response(
        "get_policy",
        {"Policy": {"PolicyName": "ReadOnlyAccess", "Arn": arn, "DefaultVersionId": "v7"}},
        {"PolicyArn": arn},
    )
    iam_stub.add_response(
        "get_policy_version",
        {"PolicyVersion": {"Document": encoded(READ_ONLY), "VersionId": "v7"}},
        {"PolicyArn": arn, "VersionId": "v7"},
    )


def gaad_pages() -> list[dict[str, Any]]:
    """Three GAAD pages, new each call: botocore decodes their documents in place."""
    return [
        {
            "UserDetailList": [user_detail("u1", groups=("g1",)), user_detail("u2")],
            "GroupDetailList": [group_detail("g1")],
            "RoleDetailList": [],
            "Policies": [],
            "IsTruncated": True,
            "Marker": "page-2",
        },
        {
            "UserDetailList": [user_detail("u3", inline=QUEUE)],
            "GroupDetailList": [group_detail("g2")],
            "RoleDetailList": [],
            "Policies": [policy_detail("deploy", DEPLOY)],
            "IsTruncated": True,
            "Marker": "page-3",
        },
        {
            # A member of groups listed on earlier pages.
            "UserDetailList": [user_detail("u4", groups=("g1", "g2")), user_detail("u5")],
            "GroupDetailList": [],
            "RoleDetailList": [],
            "Policies": [],
            "IsTruncated": False,
        },
    ]


SUMMARY = {"SummaryMap": {"Users": 5, "Groups": 2, "GroupsPerUserQuota": 10}}
CALLER = {
    "UserId": "AIDAADMIN",
    "Account": ACCOUNT,
    "Arn": f"arn:aws:iam::{ACCOUNT}:user/admin",
}


@pytest.fixture
def stubbed() -> Iterator[tuple[Any, Any, Stubber, Stubber]]:
    """Real IAM and STS clients whose responses come from Stubbers."""
    iam = boto3.client("iam", region_name=REGION)
    sts = boto3.client("sts", region_name=REGION)
    with Stubber(iam) as iam_stub, Stubber(sts) as sts_stub:
        yield iam, sts, iam_stub, sts_stub


def expected_gaad_params(page: int) -> dict[str, Any]:
    params: dict[str, Any] = {
        "Filter": ["User", "Group", "Role", "LocalManagedPolicy"],
        "MaxItems": 1000,
    }
    if page:
        params["Marker"] = f"page-{page + 1}"
    return params


def test_scan_follows_every_gaad_page(stubbed: tuple[Any, Any, Stubber, Stubber]) -> None:
    """Users, groups and policies from every page arrive; each page asks with the Marker."""
    iam, sts, iam_stub, sts_stub = stubbed
    sts_stub.add_response("get_caller_identity", CALLER, {})
    iam_stub.add_response("get_account_summary", SUMMARY, {})
    for i, page in enumerate(gaad_pages()):
        iam_stub.add_response("get_account_authorization_details", page, expected_gaad_params(i))
    stub_aws_managed(iam_stub)
    sent: list[dict[str, Any]] = []
    iam.meta.events.register(
        "before-parameter-build.iam.GetAccountAuthorizationDetails",
        lambda params, **_: sent.append(dict(params)),
    )

    inv = groupify.scan(iam=iam, sts=sts, retry=FAST)

    iam_stub.assert_no_pending_responses()
    sts_stub.assert_no_pending_responses()
    assert [p.get("Marker") for p in sent] == [None, "page-2", "page-3"]
    assert all(p["Filter"] == ["User", "Group", "Role", "LocalManagedPolicy"] for p in sent)
    assert [u.name for u in inv.users] == ["u1", "u2", "u3", "u4", "u5"]
    assert [g.name for g in inv.groups] == ["g1", "g2"]
    assert inv.user_by_name["u4"].groups == ("g1", "g2")
    assert inv.user_by_name["u3"].inline == (InlinePolicy("inline", canonical_document(QUEUE)),)
    assert inv.group_by_name["g2"].inline[0].document == canonical_document(LOGS)
    assert inv.policies == (
        ManagedPolicy(
            arn=f"{CUSTOMER}deploy",
            name="deploy",
            document=canonical_document(DEPLOY),
            attachment_count=1,
        ),
    )
    assert inv.aws_policies == (
        ManagedPolicy(
            arn=f"{AWS_MANAGED}ReadOnlyAccess",
            name="ReadOnlyAccess",
            document=canonical_document(READ_ONLY),
        ),
    )
    assert inv.caller_arn == CALLER["Arn"]
    assert inv.caller_user == "admin"
    assert inv.group_count == 2


def test_a_throttled_page_is_asked_again_with_its_marker(
    stubbed: tuple[Any, Any, Stubber, Stubber],
) -> None:
    """Throttling on the second page retries that page, not the scan from the start."""
    iam, sts, iam_stub, sts_stub = stubbed
    pages = gaad_pages()
    sts_stub.add_response("get_caller_identity", CALLER, {})
    iam_stub.add_response("get_account_summary", SUMMARY, {})
    iam_stub.add_response("get_account_authorization_details", pages[0], expected_gaad_params(0))
    iam_stub.add_client_error(
        "get_account_authorization_details",
        service_error_code="Throttling",
        service_message="Rate exceeded",
        http_status_code=400,
        expected_params=expected_gaad_params(1),
    )
    for i in (1, 2):
        iam_stub.add_response(
            "get_account_authorization_details", pages[i], expected_gaad_params(i)
        )
    stub_aws_managed(iam_stub)

    inv = groupify.scan(iam=iam, sts=sts, retry=FAST)

    iam_stub.assert_no_pending_responses()
    assert [u.name for u in inv.users] == ["u1", "u2", "u3", "u4", "u5"]


def test_truncated_page_without_marker_is_an_aws_error(
    stubbed: tuple[Any, Any, Stubber, Stubber],
) -> None:
    """A page that says IsTruncated but gives no Marker stops the scan with AWSError."""
    iam, sts, iam_stub, sts_stub = stubbed
    page = gaad_pages()[0]
    del page["Marker"]
    sts_stub.add_response("get_caller_identity", CALLER, {})
    iam_stub.add_response("get_account_summary", SUMMARY, {})
    iam_stub.add_response("get_account_authorization_details", page, expected_gaad_params(0))
    with pytest.raises(groupify.AWSError) as info:
        groupify.scan(iam=iam, sts=sts, retry=FAST)
    assert info.value.operation == "GetAccountAuthorizationDetails"


@pytest.mark.parametrize(
    ("operation", "gaad_pages_before"),
    [
        ("GetCallerIdentity", 0),
        ("GetAccountSummary", 0),
        ("GetAccountAuthorizationDetails", 0),
        ("GetAccountAuthorizationDetails", 2),
    ],
    ids=["sts", "summary", "gaad-first-page", "gaad-third-page"],
)
def test_access_denied_is_an_aws_error(
    stubbed: tuple[Any, Any, Stubber, Stubber], operation: str, gaad_pages_before: int
) -> None:
    """AccessDenied on any call becomes AWSError with the operation, the code and one line."""
    iam, sts, iam_stub, sts_stub = stubbed
    message = (
        f"User: arn:aws:iam::{ACCOUNT}:user/auditor is not authorized to perform: "
        f"iam:{operation} on resource: *"
    )
    denied = {
        "service_error_code": "AccessDenied",
        "service_message": message,
        "http_status_code": 403,
    }
    if operation == "GetCallerIdentity":
        sts_stub.add_client_error("get_caller_identity", **denied)
    else:
        sts_stub.add_response("get_caller_identity", CALLER, {})
        if operation == "GetAccountSummary":
            iam_stub.add_client_error("get_account_summary", **denied)
        else:
            iam_stub.add_response("get_account_summary", SUMMARY, {})
            for i in range(gaad_pages_before):
                iam_stub.add_response(
                    "get_account_authorization_details", gaad_pages()[i], expected_gaad_params(i)
                )
            iam_stub.add_client_error(
                "get_account_authorization_details",
                expected_params=expected_gaad_params(gaad_pages_before),
                **denied,
            )

    with pytest.raises(groupify.AWSError) as info:
        groupify.scan(iam=iam, sts=sts, retry=FAST)

    error = info.value
    assert (error.operation, error.code) == (operation, "AccessDenied")
    assert str(error) == f"{operation} failed: AccessDenied: {message}"
    assert "\n" not in str(error)
    assert isinstance(error.__cause__, ClientError)
    iam_stub.assert_no_pending_responses()
