"""groupify export: Terraform and CloudFormation, staged, read back to the plan's end state."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, assume, given, settings

import groupify
from groupify import EscalationError, InputError, Plan, PlanVerificationError, QuotaError, Quotas
from groupify.cli.export import export_verb
from groupify.export import cloudformation_files, terraform_files
from groupify.export.common import identifiers, logical_id, terraform_identifier
from groupify.plan.replay import check_steps
from tests.export.interpret import (
    State,
    apply_cloudformation,
    apply_terraform,
    read_hcl,
    read_tf_json,
    run_stage2,
)
from tests.plan.test_ops import every_op_plan
from tests.plan.test_privilege import grant
from tests.support import aws, doc, make_inventory
from tests.test_properties import accounts

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "acme-gaad.json"
TARGETS = ("terraform", "tf-json", "cloudformation")


def example_plan() -> Plan:
    inventory = groupify.load_gaad(EXAMPLE)
    return groupify.build_plan(groupify.propose(inventory, exclude_tags=["BreakGlass"]))


def variables_plan() -> Plan:
    """Two users share a document with IAM policy variables (``${…}``, and a ``%{``)."""
    shared = grant(
        "s3:GetObject",
        resource="arn:aws:s3:::home/${aws:username}/*",
        Condition={"StringLike": {"s3:prefix": ["pct%{x}"]}},
    )
    inventory = make_inventory(
        {
            "ann": {"inline": {"home": shared}, "managed": [aws("ReadOnlyAccess")]},
            "bob": {"inline": {"home-dir": shared}, "managed": [aws("ReadOnlyAccess")]},
        },
        quotas=Quotas(group_inline_chars=20),  # too small: the document becomes managed
    )
    return groupify.build_plan(groupify.propose(inventory))


@pytest.fixture(scope="module")
def plans() -> dict[str, Plan]:
    return {"example": example_plan(), "every-op": every_op_plan(), "variables": variables_plan()}


def files(plan: Plan, target: str) -> dict[str, str]:
    if target == "cloudformation":
        return cloudformation_files(plan)
    return terraform_files(plan, tf_json=target == "tf-json")


def stage1(plan: Plan, target: str, out: dict[str, str], tmp: Path) -> State:
    """The state after stage 1, read from the files as the tool would act on them."""
    start = State.of(plan.inventory)
    if target == "cloudformation":
        return apply_cloudformation(start, json.loads(out["stage1/groups.template.json"]))
    if target == "tf-json":
        path = tmp / "groups.tf.json"
        path.write_text(out["stage1/groups.tf.json"], encoding="utf-8")
        return apply_terraform(start, *read_tf_json(path))
    path = tmp / "groups.tf"
    path.write_text(out["stage1/groups.tf"], encoding="utf-8")
    return apply_terraform(start, *read_hcl(path))


def planned(plan: Plan) -> dict[str, Any]:
    """The plan's end state by the replay (as runtime/executor computes ``final``)."""
    final = check_steps(
        plan.inventory,
        plan.steps,
        in_scope=plan.in_scope,
        protected={e.user: e.reason for e in plan.exceptions},
    )
    return {
        "group_managed": {g: frozenset(a) for g, a in final.group_managed.items()},
        "group_inline": {g: dict(p) for g, p in final.group_inline.items()},
        "members": {g: frozenset(m) for g, m in final.group_members.items()},
        "user_managed": {u: frozenset(a) for u, a in final.user_managed.items()},
        "user_inline": {u: dict(p) for u, p in final.user_inline.items()},
        "created": dict(final.created),
    }


def check_round_trip(plan: Plan, target: str, tmp: Path) -> None:
    out = files(plan, target)
    before = {u.name: plan.inventory.access(u) for u in plan.inventory.users}
    first = stage1(plan, target, out, tmp)
    # Stage 1 only adds routes: no one loses or gains access.
    assert {u: first.access(u) for u in before} == before
    done = run_stage2(first, out["stage2/remove-direct-grants.sh"])
    assert done.comparable() == planned(plan)
    assert {u: done.access(u) for u in before} == before
    assert not any(done.user_managed[u] or done.user_inline[u] for u in plan.in_scope)
    # stage2/grants.json lists exactly the grants the script removed.
    removed = {
        (u, "managed", a)
        for u, had in first.user_managed.items()
        for a in had - done.user_managed[u]
    } | {
        (u, "inline", n)
        for u, had in first.user_inline.items()
        for n in set(had) - set(done.user_inline[u])
    }
    grants = json.loads(out["stage2/grants.json"])
    assert grants["fingerprint"] == plan.fingerprint
    assert grants["account_id"] == plan.account_id
    listed = [
        (g["user"], g["kind"], g.get("policy_arn", g.get("policy_name"))) for g in grants["grants"]
    ]
    assert len(listed) == len(set(listed)) and set(listed) == removed


# -- round trip -------------------------------------------------------------------------------


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", ["example", "every-op", "variables"])
def test_stage1_then_stage2_is_the_plans_end_state(
    plans: dict[str, Plan], name: str, target: str, tmp_path: Path
) -> None:
    """Read back by an independent interpreter, the export leads to the replay's end state."""
    check_round_trip(plans[name], target, tmp_path)


def test_the_fixtures_cover_every_op_and_a_reused_group(plans: dict[str, Plan]) -> None:
    """The round trip above sees every plan op, a reused group and a created policy."""
    ops = {s.op for p in plans.values() for s in p.steps}
    assert ops == set(groupify.plan.ops.PLAN_OPS)
    assert any(g.get("existing") for g in plans["example"].groups)
    assert plans["variables"].created_policies


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=accounts())
def test_round_trip_on_generated_accounts(case: Any, tmp_path: Path) -> None:
    """Any account: each target's stage 1 + stage 2 equals the plan's end state."""
    inv, exempt = case
    try:
        plan = groupify.build_plan(groupify.propose(inv, exclude_users=exempt))
    except (QuotaError, EscalationError):
        assume(False)
        raise
    for target in TARGETS:
        check_round_trip(plan, target, tmp_path)


# -- what is (never) written ------------------------------------------------------------------


def test_no_exclusive_resource_and_reused_groups_are_read(plans: dict[str, Plan]) -> None:
    """Memberships are non-exclusive; a reused group is a data source, never a resource."""
    for plan in plans.values():
        for target in ("terraform", "tf-json"):
            text = files(plan, target)[
                f"stage1/groups.{'tf.json' if target == 'tf-json' else 'tf'}"
            ]
            for exclusive in (
                "aws_iam_group_membership",
                "aws_iam_policy_attachment",
                "_exclusive",
                "aws_iam_user_policy",
            ):
                assert f'"{exclusive}"' not in text and f'{exclusive}"' not in text
    tf = files(plans["example"], "terraform")["stage1/groups.tf"]
    assert 'data "aws_iam_group" "billing_viewers" {\n  group_name = "billing-viewers"\n}' in tf
    assert 'resource "aws_iam_group" "billing_viewers"' not in tf
    assert "data.aws_iam_group.billing_viewers.group_name," in tf
    template = json.loads(files(plans["example"], "cloudformation")["stage1/groups.template.json"])
    added = template["Resources"]["MembersBillingViewers"]
    assert added["Properties"] == {
        "GroupName": "billing-viewers",
        "Users": ["gabriel.cohen", "ivan.santos"],
    }
    assert "GroupBillingViewers" not in template["Resources"]


def test_policy_variables_are_escaped_and_exact(plans: dict[str, Plan]) -> None:
    """${aws:username} is written $${aws:username} for Terraform, as is for CloudFormation."""
    tf = files(plans["variables"], "terraform")["stage1/groups.tf"]
    assert "home/$${aws:username}/*" in tf and "pct%%{x}" in tf
    assert "home/${aws" not in tf
    cfn = files(plans["variables"], "cloudformation")["stage1/groups.template.json"]
    assert "home/${aws:username}/*" in cfn


def test_plan_identity_and_review_notes_are_carried(plans: dict[str, Plan]) -> None:
    """Fingerprint and account in every stage; exceptions and risks for the reviewer."""
    plan = plans["example"]
    for target in TARGETS:
        for name, text in files(plan, target).items():
            if "versions" in name:
                continue
            assert plan.fingerprint in text, name
            assert plan.account_id in text, name
    tf = files(plan, "terraform")["stage1/groups.tf"]
    assert "#   breakglass-admin: excluded by tag BreakGlass=true; keeps AdministratorAccess" in tf
    assert "# risk: service-wildcard: athena:*\n" in tf
    meta = json.loads(files(plan, "cloudformation")["stage1/groups.template.json"])
    assert meta["Metadata"]["groupify"]["exceptions"][0]["user"] == "breakglass-admin"
    assert meta["Metadata"]["groupify"]["fingerprint"] == plan.fingerprint
    assert meta["Resources"]["GroupDataAnalyst"]["Metadata"]["groupify"]["risks"] == [
        "service-wildcard: athena:*"
    ]
    script = files(plan, "terraform")["stage2/remove-direct-grants.sh"]
    assert "Run this ONLY after stage 1" in script
    assert script.index("set -euo pipefail") < script.index("remove aws iam")


def test_accepted_findings_are_listed_and_unaccepted_refused() -> None:
    """An accepted control-path finding is in the comments; without it, export refuses."""
    users = {"eve": {"inline": {"p": grant("iam:AttachGroupPolicy")}}, "ann": {}}
    inventory = make_inventory(users)
    with pytest.raises(EscalationError) as info:
        groupify.build_plan(groupify.propose(inventory))
    plan = groupify.build_plan(
        groupify.propose(inventory), accept=[f.id for f in info.value.findings]
    )
    tf = terraform_files(plan)["stage1/groups.tf"]
    assert "Control-path findings a reviewer accepted:" in tf
    assert info.value.findings[0].id in tf
    for target in TARGETS:
        with pytest.raises(EscalationError):
            files(attrs.evolve(plan, accepted=()), target)


def test_a_plan_that_does_not_verify_is_refused(plans: dict[str, Plan]) -> None:
    """A removal moved before the step that replaces it: no export."""
    plan = plans["every-op"]
    steps = list(plan.steps)
    first = next(i for i, s in enumerate(steps) if s.is_destructive)
    moved = steps.pop(first)
    bad = attrs.evolve(plan, steps=[attrs.evolve(moved, after=()), *steps])
    for target in TARGETS:
        with pytest.raises(PlanVerificationError):
            files(bad, target)


@pytest.mark.parametrize(
    ("name", "identifier", "logical"),
    [
        ("data-analyst", "data_analyst", "GroupDataAnalyst"),
        ("AmazonS3ReadOnlyAccess", "amazon_s3_read_only_access", "GroupAmazonS3ReadOnlyAccess"),
        (
            "AWSGlueConsoleFullAccess",
            "aws_glue_console_full_access",
            "GroupAWSGlueConsoleFullAccess",
        ),
        ("2fa.admins@corp", "_2fa_admins_corp", "Group2faAdminsCorp"),
        ("mohammed.andersen2", "mohammed_andersen2", "GroupMohammedAndersen2"),
    ],
)
def test_identifiers(name: str, identifier: str, logical: str) -> None:
    """Terraform names in snake case, never from a digit; CloudFormation ids in letters."""
    assert terraform_identifier(name) == identifier
    assert logical_id("Group", name) == logical


def test_colliding_names_all_get_a_digest() -> None:
    """a.b and a-b share a shape: both get a suffix from their exact name; others do not."""
    ids = identifiers(["a.b", "a-b", "c"], terraform_identifier, suffix=lambda d: "_" + d)
    assert ids["c"] == "c"
    assert ids["a.b"] != ids["a-b"]
    assert ids["a.b"].startswith("a_b_") and len(ids["a.b"]) == len("a_b_") + 8
    again = identifiers(["a-b", "a.b", "c", "d"], terraform_identifier, suffix=lambda d: "_" + d)
    assert {k: again[k] for k in ids} == ids


# -- the CLI verb -----------------------------------------------------------------------------


def test_export_verb_writes_both_and_refuses_bad_input(
    plans: dict[str, Plan], tmp_path: Path
) -> None:
    """--terraform and --cloudformation write their directories; bad arguments are refused."""
    path = tmp_path / "plan.json"
    plans["every-op"].save(path)
    out = io.StringIO()
    code = export_verb(
        plan=str(path),
        terraform=str(tmp_path / "tf"),
        cloudformation=str(tmp_path / "cfn"),
        tf_json=False,
        as_json=True,
        out=out,
    )
    assert code == 0
    result = json.loads(out.getvalue())["result"]
    assert sorted(Path(p).relative_to(tmp_path / "tf").as_posix() for p in result["terraform"]) == [
        "README.md",
        "stage1/groups.tf",
        "stage1/versions.tf",
        "stage2/README.md",
        "stage2/grants.json",
        "stage2/remove-direct-grants.sh",
    ]
    script = tmp_path / "cfn" / "stage2" / "remove-direct-grants.sh"
    assert os.access(script, os.X_OK)
    bad: list[dict[str, Any]] = [
        {"terraform": None, "cloudformation": None, "tf_json": False},
        {"terraform": None, "cloudformation": str(tmp_path / "c"), "tf_json": True},
        {"terraform": str(tmp_path / "x"), "cloudformation": str(tmp_path / "x"), "tf_json": False},
        {"terraform": str(path), "cloudformation": None, "tf_json": False},
    ]
    for kwargs in bad:
        with pytest.raises(InputError):
            export_verb(plan=str(path), as_json=False, out=io.StringIO(), **kwargs)
    text = io.StringIO()
    export_verb(
        plan=str(path),
        terraform=str(tmp_path / "tfj"),
        cloudformation=None,
        tf_json=True,
        as_json=False,
        out=text,
    )
    assert text.getvalue().startswith(f"Terraform export written to {tmp_path / 'tfj'} (6 files)")
    assert (tmp_path / "tfj" / "stage1" / "groups.tf.json").exists()


# -- validators ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def written(plans: dict[str, Plan], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every plan exported to every target, under one directory."""
    root = tmp_path_factory.mktemp("exports")
    for name, plan in plans.items():
        groupify.export_terraform(plan, root / name / "terraform")
        groupify.export_terraform(plan, root / name / "tf-json", tf_json=True)
        groupify.export_cloudformation(plan, root / name / "cloudformation")
    return root


def test_cfn_lint_finds_no_error(written: Path) -> None:
    """cfn-lint on every template: no error; on the real-world ones, no warning either (the
    every-op fixture's made-up actions are warned about, as they would be in the account)."""
    from cfnlint.api import lint_all

    templates = sorted(written.glob("*/cloudformation/stage1/*.template.json"))
    assert len(templates) == 3
    for template in templates:
        matches = lint_all(template.read_text(encoding="utf-8"))
        levels = {"every-op": ("error",)}.get(template.parts[-4], ("error", "warning"))
        assert [str(m) for m in matches if m.rule.severity in levels] == [], template


def test_every_terraform_file_parses(written: Path) -> None:
    """python-hcl2 parses every .tf; every .tf.json is JSON."""
    import hcl2

    tf = sorted(written.glob("*/terraform/stage1/*.tf"))
    assert len(tf) == 6
    for path in tf:
        with path.open(encoding="utf-8") as f:
            assert hcl2.load(f), path
    for path in sorted(written.glob("*/tf-json/stage1/*.tf.json")):
        json.loads(path.read_text(encoding="utf-8"))


def _terraform() -> str:
    found = shutil.which("terraform")
    if found is None:
        pytest.skip("terraform is not on PATH")
    return found


def test_terraform_fmt_leaves_the_files_alone(written: Path) -> None:
    """The .tf files are exactly as terraform fmt writes them."""
    result = subprocess.run(
        [_terraform(), "fmt", "-check", "-recursive", "-diff", str(written)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


#: A local copy of the AWS provider (Terraform's filesystem_mirror layout), so that
#: terraform validate runs without the network.
PLUGINS = os.environ.get("GROUPIFY_TF_PLUGINS", "/opt/tf-plugins")


@pytest.mark.parametrize("name", ["example", "variables"])
@pytest.mark.parametrize("target", ["terraform", "tf-json"])
def test_terraform_validate(written: Path, name: str, target: str, tmp_path: Path) -> None:
    """terraform init (from a local provider mirror) and validate accept stage 1."""
    terraform = _terraform()
    if not Path(PLUGINS, "registry.terraform.io", "hashicorp", "aws").is_dir():
        pytest.skip(f"no local copy of the AWS provider in {PLUGINS} (GROUPIFY_TF_PLUGINS)")
    config = tmp_path / "terraformrc"
    config.write_text(
        f'provider_installation {{\n  filesystem_mirror {{\n    path = "{PLUGINS}"\n  }}\n}}\n'
    )
    env = {**os.environ, "TF_CLI_CONFIG_FILE": str(config), "TF_IN_AUTOMATION": "1"}
    work = tmp_path / "stage1"
    shutil.copytree(written / name / target / "stage1", work)
    for argv in (["init", "-backend=false", "-input=false"], ["validate", "-no-color"]):
        result = subprocess.run(
            [terraform, f"-chdir={work}", *argv],
            capture_output=True,
            text=True,
            env=env,
            check=False,
            timeout=300,
        )
        assert result.returncode == 0, result.stdout + result.stderr


def _checkov() -> str:
    found = os.environ.get("GROUPIFY_CHECKOV") or shutil.which("checkov")
    if not found:
        pytest.skip(
            "checkov is not on PATH (nor GROUPIFY_CHECKOV): it pins networkx<2.7 and an old "
            "boto3, so it lives in its own environment (pipx install checkov)"
        )
    return found


def test_checkov_passes_ckv_aws_40(written: Path, tmp_path: Path) -> None:
    """checkov (once, on the bundled example's stage 1, .tf and .tf.json): CKV_AWS_40 ("IAM
    policies are attached only to groups or roles") fails only on a user attachment made to
    check that it can fail; CKV_AWS_274 passes on the attachments (so checkov read them)."""
    scanned = tmp_path / "scan"
    shutil.copytree(written / "example" / "terraform" / "stage1", scanned / "tf")
    shutil.copytree(written / "example" / "tf-json" / "stage1", scanned / "tf-json")
    (scanned / "control").mkdir()
    (scanned / "control" / "main.tf").write_text(
        'resource "aws_iam_user_policy_attachment" "direct" {\n'
        '  user       = "alice"\n'
        '  policy_arn = "arn:aws:iam::aws:policy/ReadOnlyAccess"\n'
        "}\n"
    )
    argv = [_checkov(), "-d", str(scanned), "--framework", "terraform", "terraform_json"]
    argv += ["--check", "CKV_AWS_40,CKV_AWS_274", "--skip-download", "--output", "json"]
    result = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=600)
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    failed, passed = set(), set()
    for report in reports:
        for check in report.get("results", {}).get("failed_checks", []):
            failed.add((check["check_id"], check["file_path"]))
        for check in report.get("results", {}).get("passed_checks", []):
            passed.add((check["check_id"], check["file_path"]))
    assert failed == {("CKV_AWS_40", "/control/main.tf")}
    assert {("CKV_AWS_274", "/tf/groups.tf"), ("CKV_AWS_274", "/tf-json/groups.tf.json")} <= passed


# -- the stage-2 script, run for real -----------------------------------------------------


@pytest.fixture
def moto_url(cli_server: str) -> str:
    from tests import awsmoto

    url = cli_server
    iam, _ = awsmoto.clients(url)
    # Small, as each AWS CLI call the script makes starts a Python: two users move to a
    # new group (a managed and an inline grant), one keeps a route it already has.
    arn = iam.create_policy(PolicyName="s3-read", PolicyDocument=doc("s3:Get*"))["Policy"]
    iam.create_group(GroupName="readers")
    iam.attach_group_policy(GroupName="readers", PolicyArn=arn["Arn"])
    # -dan: IAM allows a name that starts with "-", which the CLI must not read as a flag.
    for user in ("ana", "ben", "cai", "-dan"):
        iam.create_user(UserName=user)
        iam.attach_user_policy(UserName=user, PolicyArn=arn["Arn"])
    for user in ("ana", "ben"):
        iam.put_user_policy(UserName=user, PolicyName="q", PolicyDocument=doc("athena:*"))
    iam.add_user_to_group(GroupName="readers", UserName="cai")
    return url


def test_stage2_script_against_an_embedded_iam(moto_url: str, tmp_path: Path) -> None:
    """With the AWS CLI on moto: refused before stage 1; after it, IAM.2 passes; re-runnable."""
    if shutil.which("aws") is None:
        pytest.skip("the AWS CLI is not on PATH")
    from tests import awsmoto

    iam, sts = awsmoto.clients(moto_url)
    plan = groupify.build_plan(groupify.propose(groupify.scan(iam=iam, sts=sts)))
    assert {s.op for s in plan.steps if s.is_destructive} == {
        "detach_user_policy",
        "delete_user_policy",
    }
    groupify.export_terraform(plan, tmp_path / "tf")
    script = tmp_path / "tf" / "stage2" / "remove-direct-grants.sh"
    env = {**os.environ, "AWS_ENDPOINT_URL": moto_url}

    def run(**extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(script)],
            capture_output=True,
            text=True,
            env={**env, **extra},
            timeout=300,
            check=False,
        )

    def direct() -> dict[str, int]:
        return {
            u: len(iam.list_attached_user_policies(UserName=u)["AttachedPolicies"])
            + len(iam.list_user_policies(UserName=u)["PolicyNames"])
            for u in plan.in_scope
        }

    start = direct()
    refused = run()
    assert refused.returncode == 1
    assert "stage 2 stopped: cannot read the " in refused.stderr
    assert "is stage 1 applied?" in refused.stderr
    assert direct() == start
    # Stage 1, as Terraform would apply it: every step that adds.
    for step in plan.steps:
        if not step.is_destructive:
            getattr(iam, step.op)(**step.params)
    done = run()
    assert done.returncode == 0, done.stderr
    assert all(n == 0 for n in direct().values())
    again = run()
    assert again.returncode == 0 and "already gone" in again.stdout
    assert groupify.verify(plan, iam=iam, sts=sts).ok


# -- found by adversarial review ---------------------------------------------------------


@pytest.mark.parametrize("target", ["hcl", "tf-json", "cloudformation"])
def test_a_document_with_line_separator_characters_round_trips(target: str, tmp_path: Path) -> None:
    """U+0085 and U+2028 inside a policy string are not line breaks for the heredoc."""
    odd = grant("s3:GetObject", resource="arn:aws:s3:::b/a\u0085b\u2028c/*")
    inventory = make_inventory({"ann": {"inline": {"odd": odd}}, "bob": {"inline": {"odd2": odd}}})
    check_round_trip(groupify.build_plan(groupify.propose(inventory)), target, tmp_path)


def test_a_name_that_looks_like_another_names_suffixed_form_gets_its_own_identifier() -> None:
    names = ["a.b", "a-b", "a_b", "a@b"]
    first = identifiers(names, terraform_identifier, suffix=lambda d: "_" + d)
    tricky = first["a-b"]  # a suffixed form; now a group is named exactly that
    ids = identifiers([*names, tricky], terraform_identifier, suffix=lambda d: "_" + d)
    assert len(set(ids.values())) == len(ids)


def test_nested_export_directories_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan_path = tmp_path / "p.json"
    example_plan().save(plan_path)
    with pytest.raises(InputError, match="one directory is inside the other"):
        export_verb(
            plan=str(plan_path),
            terraform=str(tmp_path / "x" / "stage2"),
            cloudformation=str(tmp_path / "x"),
            tf_json=False,
            as_json=False,
            out=io.StringIO(),
        )
    assert not (tmp_path / "x").exists()


def test_a_new_syntax_replaces_the_old_one(tmp_path: Path) -> None:
    from groupify.export import export_terraform

    export_terraform(example_plan(), tmp_path, tf_json=True)
    export_terraform(example_plan(), tmp_path)
    assert sorted(p.name for p in (tmp_path / "stage1").iterdir()) == ["groups.tf", "versions.tf"]


@pytest.mark.parametrize(
    ("number", "shown"),
    [("3600.0", "3600.0"), ("1e2", "100.0"), ("12345678901234567890",) * 2, ("2e16", "2e+16")],
)
def test_a_number_terraform_would_re_encode_is_refused(
    number: str, shown: str, tmp_path: Path
) -> None:
    """Terraform's AWS provider sends policies through a float64: 3600.0 becomes 3600 and
    big integers lose digits. Such a plan is refused for Terraform, naming the number;
    numbers that survive (3600, 0.5) export, and CloudFormation is not affected."""
    from groupify.export import export_cloudformation, export_terraform
    from groupify.inventory.policy import canonical_document

    def plan_with(value: str) -> Plan:
        document = canonical_document(
            '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject",'
            '"Resource":"*","Condition":{"NumericLessThan":{"s3:max-keys":' + value + "}}}]}"
        )
        users = {u: {"inline": {"q": document}} for u in ("ann", "bob")}
        return groupify.build_plan(groupify.propose(make_inventory(users)))

    with pytest.raises(InputError, match=re.escape(f"holds the number {shown}, which Terraform")):
        export_terraform(plan_with(number), tmp_path / "tf")
    assert not (tmp_path / "tf").exists()
    export_cloudformation(plan_with(number), tmp_path / "cfn")
    for fine in ("3600", "0.5", "9007199254740992"):
        export_terraform(plan_with(fine), tmp_path / f"tf-{fine}")


def test_a_name_that_starts_with_a_dash_is_passed_as_flag_equals_value() -> None:
    from groupify.plan.steps import Step

    arn = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    step = Step.make("s1", "detach_user_policy", {"UserName": "-ana", "PolicyArn": arn})
    assert step.cli() == f"aws iam detach-user-policy --policy-arn {arn} --user-name=-ana"
