"""Many accounts from a management account, against a moto server over HTTP: Organizations,
an assumed role per member account (one account denies it), faults on the wire, and the
Security Hub loop (findings in; suppression through botocore's Stubber, since moto has no
BatchUpdateFindings)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

import groupify
from groupify.aws import RetryPolicy, client_config
from groupify.cli import main
from groupify.org.accounts import Target, organization_accounts
from groupify.org.securityhub import IAM2Finding, iam2_findings, is_iam2, suppress_exceptions
from tests import awsmoto
from tests.faultproxy import FaultProxy, Schedule
from tests.support import doc

MANAGEMENT = "123456789012"
ROLE = "GroupifyMember"
FAST = RetryPolicy.no_wait(attempts=40)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    yield from awsmoto.serve()


def _session() -> boto3.Session:
    return boto3.Session(aws_access_key_id="t", aws_secret_access_key="t", region_name="us-east-1")


def _member(url: str, account: str) -> Any:
    sts = _session().client("sts", endpoint_url=url)
    c = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/{ROLE}", RoleSessionName="seed")[
        "Credentials"
    ]
    s = boto3.Session(
        aws_access_key_id=c["AccessKeyId"],
        aws_secret_access_key=c["SecretAccessKey"],
        aws_session_token=c["SessionToken"],
        region_name="us-east-1",
    )
    return s.client("iam", endpoint_url=url)


def _seed(iam: Any, account: str) -> None:
    """Five users sharing two sets of customer policies, and a break-glass admin."""
    arns = {
        n: iam.create_policy(PolicyName=n, PolicyDocument=doc(*a))["Policy"]["Arn"]
        for n, a in {"read": ["s3:Get*"], "ops": ["ec2:Describe*"], "admin": ["*"]}.items()
    }
    for user, policies in {
        "ana": ["read"],
        "ben": ["read"],
        "cai": ["read", "ops"],
        "dev": ["read", "ops"],
        "eve": ["ops"],
    }.items():
        iam.create_user(UserName=user)
        for p in policies:
            iam.attach_user_policy(UserName=user, PolicyArn=arns[p])
    iam.create_user(UserName="root-bg", Tags=[{"Key": "groupify:exempt", "Value": "break-glass"}])
    iam.attach_user_policy(UserName="root-bg", PolicyArn=arns["admin"])


def _finding(account: str, user: str, n: int) -> dict[str, Any]:
    return {
        "SchemaVersion": "2018-10-08",
        "Id": f"arn:aws:securityhub:us-east-1:{account}:finding/iam2-{user}-{n}",
        "ProductArn": "arn:aws:securityhub:us-east-1::product/aws/securityhub",
        "GeneratorId": "security-control/IAM.2",
        "AwsAccountId": account,
        "Types": ["Software and Configuration Checks"],
        "CreatedAt": "2026-11-30T00:00:00Z",
        "UpdatedAt": "2026-11-30T00:00:00Z",
        "Severity": {"Label": "LOW"},
        "Title": "IAM users should not have IAM policies attached",
        "Description": "IAM.2",
        "Resources": [
            {
                "Type": "AwsIamUser",
                "Id": f"arn:aws:iam::{account}:user/{user}",
                "Details": {"AwsIamUser": {"UserName": user}},
            }
        ],
        "Compliance": {"Status": "FAILED", "SecurityControlId": "IAM.2"},
        "RecordState": "ACTIVE",
        "Workflow": {"Status": "NEW"},
    }


@pytest.fixture
def org(server: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Any]:
    """An Organization with three member accounts; the third denies the role."""
    awsmoto.reset(server)
    awsmoto.fake_env(monkeypatch, tmp_path, key="t")
    s = _session()
    orgs = s.client("organizations", endpoint_url=server)
    orgs.create_organization(FeatureSet="ALL")
    members = []
    for i in range(3):
        status = orgs.create_account(Email=f"m{i}@example.com", AccountName=f"member-{i}")
        members.append(status["CreateAccountStatus"]["AccountId"])
    for account in members:
        _seed(_member(server, account), account)
    hub = s.client("securityhub", endpoint_url=server)
    hub.enable_security_hub()
    findings = [_finding(a, u, 0) for a in members for u in ("ana", "ben", "cai", "dev", "root-bg")]
    findings.append(_finding(members[0], "gone-user", 1))  # a user that no longer exists
    hub.batch_import_findings(Findings=findings)
    denied = members[2]
    return {"url": server, "members": sorted(members), "denied": denied, "gone": members[0]}


def _deny(denied: str) -> Any:
    """A before-call hook: AssumeRole into *denied* is AccessDenied (its trust policy)."""

    def hook(params: Any = None, **_: Any) -> None:
        if f"::{denied}:" in params.get("RoleArn", ""):
            raise ClientError(
                {"Error": {"Code": "AccessDenied", "Message": "not authorized to assume"}},
                "AssumeRole",
            )

    return hook


@pytest.fixture
def denying(org: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Every boto3 session made from now on refuses AssumeRole into the denied account."""
    real = boto3.Session.__init__

    def init(self: boto3.Session, *args: Any, **kwargs: Any) -> None:
        real(self, *args, **kwargs)
        self.events.register("before-parameter-build.sts.AssumeRole", _deny(org["denied"]))

    monkeypatch.setattr(boto3.Session, "__init__", init)
    return org


def test_organization_accounts_lists_active_members(org: dict[str, Any]) -> None:
    orgs = _session().client("organizations", endpoint_url=org["url"], config=client_config())
    ids = [a.id for a in organization_accounts(orgs, retry=FAST)]
    assert set(org["members"]) <= set(ids) and MANAGEMENT in ids
    only = organization_accounts(orgs, only=[org["members"][0]], retry=FAST)
    assert [a.id for a in only] == [org["members"][0]]
    with pytest.raises(groupify.InputError, match="not an account of this Organization"):
        organization_accounts(orgs, only=["000000000000"], retry=FAST)


def test_iam2_findings_are_read_and_filtered(org: dict[str, Any]) -> None:
    hub = _session().client("securityhub", endpoint_url=org["url"], config=client_config())
    found = iam2_findings(hub, retry=FAST)
    assert {f.user_name for f in found} == {"ana", "ben", "cai", "dev", "root-bg", "gone-user"}
    assert {f.account_id for f in found} == set(org["members"])
    mine = iam2_findings(hub, accounts=[org["members"][1]], retry=FAST)
    assert {f.account_id for f in mine} == {org["members"][1]}
    cis = "arn:aws:securityhub:::ruleset/cis-aws-foundations-benchmark/v/1.2.0/rule/1.16"
    assert is_iam2({"GeneratorId": cis})
    assert not is_iam2({"GeneratorId": "security-control/IAM.3"})


def test_suppress_exceptions_through_a_stubbed_batch_update() -> None:
    """moto has no BatchUpdateFindings: botocore's Stubber checks the exact request."""
    hub = boto3.client(
        "securityhub", region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t"
    )
    findings = [
        IAM2Finding("f1", "arn:p", "111111111111", "root-bg"),
        IAM2Finding("f2", "arn:p", "111111111111", "ana"),  # not an exception: untouched
    ]
    with Stubber(hub) as stub:
        stub.add_response(
            "batch_update_findings",
            {"ProcessedFindings": [{"Id": "f1", "ProductArn": "arn:p"}], "UnprocessedFindings": []},
            {
                "FindingIdentifiers": [{"Id": "f1", "ProductArn": "arn:p"}],
                "Workflow": {"Status": "SUPPRESSED"},
                "Note": {
                    "Text": "groupify: documented exception to IAM.2: tagged "
                    "groupify:exempt=break-glass",
                    "UpdatedBy": "groupify",
                },
            },
        )
        done, failed = suppress_exceptions(
            hub,
            findings,
            {("111111111111", "root-bg"): "tagged groupify:exempt=break-glass"},
            retry=FAST,
        )
        stub.assert_no_pending_responses()
    assert done == ["f1"] and failed == []


def test_plan_apply_verify_an_organization_with_a_denied_account_and_faults(
    denying: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One command plans every member; one applies them all under lost answers and
    throttling; verify passes in each; the denied account fails alone, and says why;
    every in-scope IAM.2 finding is resolved by the change or left open for a reason."""
    org = denying
    out_dir = tmp_path / "plans"
    members = org["members"]
    with FaultProxy(org["url"], Schedule.random(7, throttle=0.1, lose=0.1)) as proxy:
        url = proxy.url
        common = ["--endpoint-url", url, "--role-name", ROLE]
        accounts = ["--accounts", ",".join(members)]
        status = main(
            [
                "plan",
                "--organization",
                *accounts,
                *common,
                "--from-securityhub",
                "--out-dir",
                str(out_dir),
                "--json",
            ]
        )
        plan_doc = json.loads(capsys.readouterr().out)
        assert status == 1  # one account failed
        by_account = {a["account"]: a for a in plan_doc["result"]["accounts"]}
        assert by_account[org["denied"]]["ok"] is False
        assert "AccessDenied" in by_account[org["denied"]]["error"]["message"]
        planned = [a for a in members if a != org["denied"]]
        assert sorted(p.stem for p in out_dir.glob("*.json")) == planned
        for account in planned:
            planned_here = by_account[account]["result"]
            assert planned_here["users_in_scope"] == 4  # eve has no finding: left out
            unplanned = [u["user"] for u in planned_here["securityhub_unplanned"]]
            assert unplanned == (["gone-user"] if account == org["gone"] else [])
        assert main(["apply", str(out_dir), *common, "--yes", "--settle", "0"]) == 0
        capsys.readouterr()
        assert main(["verify", str(out_dir), *common, "--securityhub", "--json"]) == 0
        doc_ = json.loads(capsys.readouterr().out)["result"]
        hub = doc_["securityhub"]
        resolved = {(f["account_id"], f["user"]) for f in hub["resolved_by_the_change"]}
        assert resolved == {(a, u) for a in planned for u in ("ana", "ben", "cai", "dev")}
        still = {(f["account_id"], f["user"]) for f in hub["still_open"]}
        assert {(a, "root-bg") for a in planned} <= still  # exceptions, not yet suppressed
        assert proxy.injected["lose"] > 0
    for account in planned:
        iam = _member(org["url"], account)
        assert iam.list_attached_user_policies(UserName="ana")["AttachedPolicies"] == []
        assert iam.list_attached_user_policies(UserName="eve")["AttachedPolicies"]  # no finding
        assert iam.list_attached_user_policies(UserName="root-bg")["AttachedPolicies"]
    # A re-run resumes only what is unfinished: nothing left in the planned accounts.
    assert (
        main(
            [
                "apply",
                str(out_dir),
                "--endpoint-url",
                org["url"],
                "--role-name",
                ROLE,
                "--dry-run",
                "--json",
            ]
        )
        == 0
    )
    again = json.loads(capsys.readouterr().out)["result"]["accounts"]
    assert all(a["result"]["remaining"] == [] for a in again)
    # And rollback restores each account, each from its own journal.
    assert (
        main(
            [
                "rollback",
                "--journal",
                str(out_dir),
                "--endpoint-url",
                org["url"],
                "--role-name",
                ROLE,
                "--yes",
                "--settle",
                "0",
            ]
        )
        == 0
    )
    for account in planned:
        iam = _member(org["url"], account)
        assert iam.list_attached_user_policies(UserName="ana")["AttachedPolicies"]


def test_combined_report_has_a_section_per_account(
    org: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "plans"
    common = ["--endpoint-url", org["url"], "--role-name", ROLE]
    assert (
        main(
            [
                "plan",
                "--organization",
                *common,
                "--out-dir",
                str(out_dir),
                "--accounts",
                ",".join(org["members"][:2]),
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "report",
                str(out_dir),
                "--markdown",
                str(tmp_path / "r.md"),
                "--html",
                str(tmp_path / "r.html"),
            ]
        )
        == 0
    )
    md = (tmp_path / "r.md").read_text()
    html = (tmp_path / "r.html").read_text()
    for account in org["members"][:2]:
        assert f"account {account}" in md and f'id="account-{account}"' in html
    assert md.count("\n## Move IAM users") == 2


def test_the_caller_account_needs_no_role(org: dict[str, Any]) -> None:
    target = Target(session=_session(), endpoint_url=org["url"], retry=FAST)
    assert target.clients(MANAGEMENT)["sts"].get_caller_identity()["Account"] == MANAGEMENT
    with pytest.raises(groupify.InputError, match="give --role-name"):
        target.clients(org["members"][0])


# -- found by adversarial review ---------------------------------------------------------


def test_refusals_come_before_any_plan_is_written(
    org: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No --role-name, or an exclusion that matches nobody anywhere: one line, exit 2, and
    no plan file left behind to apply by mistake."""
    out_dir = tmp_path / "plans"
    base = ["plan", "--organization", "--endpoint-url", org["url"], "--out-dir", str(out_dir)]
    assert main(base) == 2
    assert "give --role-name" in capsys.readouterr().err
    assert main([*base, "--role-name", ROLE, "--exclude-user", "evee"]) == 2
    assert "'evee' matches no user in any account" in capsys.readouterr().err
    assert not out_dir.exists() or not list(out_dir.glob("*.json"))
    assert main([*base, "--role-name", ROLE, "--account-workers", "0"]) == 2


def test_planning_again_over_a_begun_run_is_refused(
    org: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "plans"
    common = ["--endpoint-url", org["url"], "--role-name", ROLE]
    one = ["--accounts", org["members"][0]]
    assert main(["plan", *one, *common, "--out-dir", str(out_dir)]) == 0
    assert main(["apply", str(out_dir), *common, "--yes", "--settle", "0"]) == 0
    capsys.readouterr()
    assert main(["plan", *one, *common, "--out-dir", str(out_dir)]) == 2
    assert "has a journal" in capsys.readouterr().err


def test_a_run_that_stopped_is_a_failed_account_in_the_summary() -> None:
    from groupify.cli.fleet import summary_text
    from groupify.org.fleet import AccountResult
    from groupify.runtime.result import ApplyResult

    stopped = ApplyResult(
        mode="apply",
        applied=["s1"],
        already=(),
        failed=[("s2", "s2 detach_user_policy failed: AccessDenied: no")],
        remaining=["s3"],
    )
    text_ = summary_text(
        "apply", [AccountResult("111111111111", value=stopped)], ["applied", "complete"]
    )
    assert "0 ok, 1 failed" in text_ and "FAILED" in text_ and "AccessDenied" in text_
