"""The export applied for real: Terraform's AWS provider against a moto server.

The story of the issue, end to end, with nothing written by hand but the account
itself: an account whose users' direct grants live partly in the user's own
Terraform code and partly nowhere (made by hand). groupify scans and plans it and
exports the plan; ``terraform apply`` of stage 1 (the provider pointed at the moto
server) leaves everyone's access unchanged; stage 2 is the user's code without the
grants ``stage2/grants.json`` lists, applied, then ``remove-direct-grants.sh`` for
the rest; then ``groupify verify`` passes (IAM.2), access is still unchanged, and
``terraform plan`` shows no change in either configuration: the next apply puts no
grant back and finds no drift.

Needs ``terraform`` on PATH, a local copy of the AWS provider (Terraform's
filesystem-mirror layout, ``GROUPIFY_TF_PLUGINS``, default ``/opt/tf-plugins``) and
the AWS CLI; skipped, saying which is missing, without them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

import groupify
from tests import awsmoto
from tests.support import doc

pytestmark = pytest.mark.slow

PLUGINS = Path(os.environ.get("GROUPIFY_TF_PLUGINS", "/opt/tf-plugins"))


def _tools() -> str:
    terraform = shutil.which("terraform")
    if terraform is None:
        pytest.skip("terraform is not on PATH")
    if not (PLUGINS / "registry.terraform.io" / "hashicorp" / "aws").is_dir():
        pytest.skip(f"no local copy of the AWS provider in {PLUGINS} (GROUPIFY_TF_PLUGINS)")
    if shutil.which("aws") is None:
        pytest.skip("the AWS CLI is not on PATH")
    return terraform


@pytest.fixture
def server(cli_server: str) -> str:
    return cli_server


def _run(argv: list[str], server: str) -> subprocess.CompletedProcess[str]:
    """A command (the stage-2 script, the AWS CLI) against the moto server."""
    return subprocess.run(
        argv,
        capture_output=True,
        text=True,
        env={**os.environ, "AWS_ENDPOINT_URL": server},
        timeout=600,
        check=False,
    )


def _provider(url: str) -> str:
    """The AWS provider, pointed at the moto server (what a user's backend config would be)."""
    return (
        'provider "aws" {\n'
        f'  region                      = "{awsmoto.REGION}"\n'
        '  access_key                  = "testing"\n'
        '  secret_key                  = "testing"\n'
        "  skip_credentials_validation = true\n"
        "  skip_requesting_account_id  = true\n"
        "  skip_metadata_api_check     = true\n"
        f'  endpoints {{\n    iam = "{url}"\n    sts = "{url}"\n  }}\n'
        "}\n"
    )


class Terraform:
    def __init__(self, binary: str, work: Path) -> None:
        self.binary = binary
        rc = work / "terraformrc"
        rc.write_text(
            f'provider_installation {{\n  filesystem_mirror {{\n    path = "{PLUGINS}"\n  }}\n}}\n'
        )
        self.env = {
            **os.environ,
            "TF_CLI_CONFIG_FILE": str(rc),
            "TF_IN_AUTOMATION": "1",
            "CHECKPOINT_DISABLE": "1",
        }

    def __call__(self, module: Path, *argv: str, expect: int = 0) -> str:
        result = subprocess.run(
            [self.binary, f"-chdir={module}", *argv, "-no-color", "-input=false"],
            capture_output=True,
            text=True,
            env=self.env,
            check=False,
            timeout=600,
        )
        assert result.returncode == expect, result.stdout[-4000:] + result.stderr[-4000:]
        return result.stdout

    def apply(self, module: Path) -> str:
        if not (module / ".terraform").is_dir():
            self(module, "init")
        return self(module, "apply", "-auto-approve")

    def unchanged(self, module: Path) -> None:
        """terraform plan finds nothing to do (-detailed-exitcode: 0, not 2)."""
        self(module, "plan", "-detailed-exitcode")


#: The user's own Terraform before groupify: users, a policy, and direct grants.
#: (user, policy) managed attachments and (user, name, action) inline policies.
IN_CODE_MANAGED = [("ana", "s3-read"), ("ben", "s3-read"), ("dee", "logs-read")]
IN_CODE_INLINE = [("ana", "q", "athena:*"), ("dee", "q", "athena:*")]
#: Made by hand, in no code.
BY_HAND_MANAGED = [("cai", "s3-read"), ("eve", "logs-read"), ("fay", "s3-read")]
BY_HAND_INLINE = [("ben", "q", "athena:*"), ("eve", "q", "athena:*")]
USERS = ["ana", "ben", "cai", "dee", "eve", "fay", "root-breakglass"]


def _user_code(url: str, *, without: frozenset[tuple[str, str]] = frozenset()) -> str:
    """The user's configuration; *without* drops the grants (user, policy-or-inline-name)."""
    out = [_provider(url)]
    for user in USERS:
        out.append(f'resource "aws_iam_user" "{user.replace("-", "_")}" {{\n  name = "{user}"\n')
        if user == "root-breakglass":
            out.append('  tags = {\n    BreakGlass = "true"\n  }\n')
        out.append("}\n")
    for policy, action in (("s3-read", "s3:Get*"), ("logs-read", "logs:Get*"), ("admin", "*")):
        out.append(
            f'resource "aws_iam_policy" "{policy.replace("-", "_")}" {{\n'
            f'  name   = "{policy}"\n'
            f"  policy = jsonencode({json.dumps(json.loads(doc(action)))})\n}}\n"
        )
    for user, policy in IN_CODE_MANAGED:
        if (user, policy) in without:
            continue
        out.append(
            f'resource "aws_iam_user_policy_attachment" "{user}_{policy.replace("-", "_")}" {{\n'
            f"  user       = aws_iam_user.{user}.name\n"
            f"  policy_arn = aws_iam_policy.{policy.replace('-', '_')}.arn\n}}\n"
        )
    for user, name, action in IN_CODE_INLINE:
        if (user, name) in without:
            continue
        out.append(
            f'resource "aws_iam_user_policy" "{user}_{name}" {{\n'
            f'  user   = aws_iam_user.{user}.name\n  name   = "{name}"\n'
            f"  policy = jsonencode({json.dumps(json.loads(doc(action)))})\n}}\n"
        )
    out.append(
        'resource "aws_iam_user_policy_attachment" "breakglass" {\n'
        "  user       = aws_iam_user.root_breakglass.name\n"
        "  policy_arn = aws_iam_policy.admin.arn\n}\n"
    )
    return "\n".join(out)


def _direct(iam: Any, user: str) -> set[str]:
    managed = {
        a["PolicyArn"] for a in iam.list_attached_user_policies(UserName=user)["AttachedPolicies"]
    }
    return managed | set(iam.list_user_policies(UserName=user)["PolicyNames"])


def test_terraform_user_applies_both_stages_and_passes_iam2(server: str, tmp_path: Path) -> None:
    terraform = Terraform(_tools(), tmp_path)
    iam, sts = awsmoto.clients(server)
    account = tmp_path / "account"
    account.mkdir()
    (account / "main.tf").write_text(_user_code(server))
    terraform.apply(account)
    arns = {p["PolicyName"]: p["Arn"] for p in iam.list_policies(Scope="Local")["Policies"]}
    for user, policy in BY_HAND_MANAGED:
        iam.attach_user_policy(UserName=user, PolicyArn=arns[policy])
    for user, name, action in BY_HAND_INLINE:
        iam.put_user_policy(UserName=user, PolicyName=name, PolicyDocument=doc(action))
    # An existing group, made by hand, that the plan reuses for fay (a data source, never
    # managed); cai is in it already, so cai's direct grant only goes.
    iam.create_group(GroupName="readers")
    iam.attach_group_policy(GroupName="readers", PolicyArn=arns["s3-read"])
    iam.add_user_to_group(GroupName="readers", UserName="cai")
    before = awsmoto.access_now()
    breakglass = _direct(iam, "root-breakglass")

    inventory = groupify.scan(iam=iam, sts=sts)
    plan = groupify.build_plan(groupify.propose(inventory, exclude_tags=["BreakGlass=true"]))
    ops = {s.op for s in plan.steps}
    assert {"create_group", "attach_group_policy", "add_user_to_group"} <= ops
    assert "root-breakglass" not in plan.in_scope
    export = tmp_path / "export"
    groupify.export_terraform(plan, export)
    assert 'data "aws_iam_group" "readers"' in (export / "stage1" / "groups.tf").read_text()

    # -- stage 1: as its own root module, with the provider the user already has --
    stage1 = tmp_path / "stage1"
    shutil.copytree(export / "stage1", stage1)
    (stage1 / "provider.tf").write_text(_provider(server))
    out = terraform.apply(stage1)
    assert " 0 changed, 0 destroyed" in out
    assert awsmoto.access_now() == before, "stage 1 changed someone's access"
    assert all(_direct(iam, u) for u in plan.in_scope), "stage 1 removed a direct grant"
    assert groupify.verify(plan, iam=iam, sts=sts).ok is False  # IAM.2 still fails

    # -- stage 2: the user's code without the listed grants, then the script for the rest --
    grants = json.loads((export / "stage2" / "grants.json").read_text())
    assert grants["fingerprint"] == plan.fingerprint
    assert len(grants["grants"]) == sum(1 for s in plan.steps if s.is_destructive)
    listed = {
        (
            g["user"],
            g["policy_arn"].rsplit("/", 1)[1] if g["kind"] == "managed" else g["policy_name"],
        )
        for g in grants["grants"]
    }
    in_code = {*IN_CODE_MANAGED, *((u, n) for u, n, _ in IN_CODE_INLINE)}
    assert in_code <= listed
    (account / "main.tf").write_text(_user_code(server, without=frozenset(in_code & listed)))
    out = terraform.apply(account)
    assert f"0 added, 0 changed, {len(in_code)} destroyed" in out
    assert awsmoto.access_now() == before, "the user's stage 2 apply changed someone's access"
    script = _run([str(export / "stage2" / "remove-direct-grants.sh")], server)
    assert script.returncode == 0, script.stderr
    said = [line.split(":")[0] for line in script.stdout.splitlines()]
    assert said.count("already gone") == len(in_code)
    assert said.count("done") == len(listed) - len(in_code)

    assert groupify.verify(plan, iam=iam, sts=sts).ok, "IAM.2 still fails after stage 2"
    assert awsmoto.access_now() == before, "stage 2 changed someone's access"
    assert not any(_direct(iam, u) for u in plan.in_scope)
    assert _direct(iam, "root-breakglass") == breakglass
    # Neither configuration puts a grant back or finds drift on its next apply.
    terraform.unchanged(stage1)
    terraform.unchanged(account)


def test_cloudformation_user_deploys_stage_1_and_passes_iam2(server: str, tmp_path: Path) -> None:
    """The same story for CloudFormation: ``aws cloudformation deploy`` of stage 1 through
    moto's CloudFormation (with the two IAM types it lacks, see ``cfnmoto``), then the
    script; the grants were made by hand. A small group-inline quota makes the inline
    document a ``AWS::IAM::ManagedPolicy`` that a group references by ``Ref``."""
    from tests.export import cfnmoto

    if shutil.which("aws") is None:
        pytest.skip("the AWS CLI is not on PATH")
    cfnmoto.register()
    iam, sts = awsmoto.clients(server)
    s3 = iam.create_policy(PolicyName="s3-read", PolicyDocument=doc("s3:Get*"))["Policy"]["Arn"]
    admin = iam.create_policy(PolicyName="admin", PolicyDocument=doc("*"))["Policy"]["Arn"]
    for user in ("ana", "ben", "cai", "fay", "root-breakglass"):
        iam.create_user(UserName=user)
    for user in ("ana", "ben", "cai", "fay"):
        iam.attach_user_policy(UserName=user, PolicyArn=s3)
    for user in ("ana", "ben"):
        iam.put_user_policy(UserName=user, PolicyName="q", PolicyDocument=doc("athena:*"))
    iam.tag_user(UserName="root-breakglass", Tags=[{"Key": "BreakGlass", "Value": "true"}])
    iam.attach_user_policy(UserName="root-breakglass", PolicyArn=admin)
    iam.create_group(GroupName="readers")
    iam.attach_group_policy(GroupName="readers", PolicyArn=s3)
    iam.add_user_to_group(GroupName="readers", UserName="cai")
    before = awsmoto.access_now()

    quotas = groupify.Quotas(group_inline_chars=10)
    inventory = groupify.scan(iam=iam, sts=sts)
    plan = groupify.build_plan(
        groupify.propose(inventory, exclude_tags=["BreakGlass"], quotas=quotas)
    )
    assert {"create_policy", "create_group", "add_user_to_group"} <= {s.op for s in plan.steps}
    export = tmp_path / "export"
    groupify.export_cloudformation(plan, export)
    template = export / "stage1" / "groups.template.json"
    types = {r["Type"] for r in json.loads(template.read_text())["Resources"].values()}
    assert types == {"AWS::IAM::Group", "AWS::IAM::ManagedPolicy", "AWS::IAM::UserToGroupAddition"}

    def aws(*argv: str) -> subprocess.CompletedProcess[str]:
        return _run(["aws", *argv], server)

    deploy = aws(
        "cloudformation", "deploy", "--template-file", str(template),
        "--stack-name", "groupify-groups", "--capabilities", "CAPABILITY_NAMED_IAM",
    )  # fmt: skip
    assert deploy.returncode == 0, deploy.stdout + deploy.stderr
    status = aws(
        "cloudformation", "describe-stacks", "--stack-name", "groupify-groups",
        "--query", "Stacks[0].StackStatus", "--output", "text",
    )  # fmt: skip
    assert status.stdout.strip() == "CREATE_COMPLETE", status.stdout + status.stderr
    assert awsmoto.access_now() == before, "stage 1 changed someone's access"
    assert all(_direct(iam, u) for u in plan.in_scope)
    assert not groupify.verify(plan, iam=iam, sts=sts).ok

    script = _run([str(export / "stage2" / "remove-direct-grants.sh")], server)
    assert script.returncode == 0, script.stderr
    assert groupify.verify(plan, iam=iam, sts=sts).ok, "IAM.2 still fails after stage 2"
    assert awsmoto.access_now() == before, "stage 2 changed someone's access"
    assert _direct(iam, "root-breakglass") == {admin}
