"""Applying plans against a real moto server over HTTP, with faults, crashes and drift."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import groupify
from groupify.aws import RetryPolicy, api_name
from groupify.errors import DriftError, InputError, PlanVerificationError, StalePlanError
from groupify.plan.model import Plan
from groupify.plan.steps import Step
from groupify.runtime.checks import verify
from groupify.runtime.forward import apply
from groupify.runtime.journal import Journal
from groupify.runtime.undo import rollback
from tests import awsmoto
from tests.support import ACCOUNT, doc

FAST = RetryPolicy.no_wait(attempts=40)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """One moto server on a free port for the module."""
    yield from awsmoto.serve()


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    awsmoto.fake_env(monkeypatch, tmp_path)


@pytest.fixture
def url(server: str) -> str:
    """The server, wiped and loaded with the small account."""
    awsmoto.reset(server)
    iam, _ = awsmoto.clients(server)
    awsmoto.small_account(iam)
    return server


def make_plan(url: str) -> Plan:
    iam, sts = awsmoto.clients(url)
    inventory = groupify.scan(iam=iam, sts=sts)
    return groupify.build_plan(groupify.propose(inventory, exclude_tags=["BreakGlass"]))


run = awsmoto.apply_through


def test_apply_reaches_the_planned_state_without_a_gap(url: str, tmp_path: Path) -> None:
    """Apply runs every step, keeps access intact call by call, and IAM.2 then passes."""
    plan = make_plan(url)
    watchdog = awsmoto.Watchdog()
    result = run(url, plan, tmp_path / "j", watchdog)
    assert result.ok, result.failed
    assert result.mutating_calls == len(plan.steps)
    assert watchdog.mutations and not watchdog.violations
    iam, sts = awsmoto.clients(url)
    report = verify(plan, iam=iam, sts=sts)
    assert report.ok, report.failures
    assert [e[0] for e in report.exceptions] == ["root-bg"]
    assert awsmoto.state_now()["users"]["root-bg"][0]  # break-glass user untouched


def test_dry_run_makes_no_mutating_call(url: str) -> None:
    """A dry run reads and reports; it changes nothing."""
    plan = make_plan(url)
    before = awsmoto.state_now()
    log = awsmoto.CallLog()
    iam, sts = awsmoto.clients(url)
    log.attach(iam)
    result = apply(plan, iam=iam, sts=sts, dry_run=True, retry=FAST)
    assert log.mutating == 0
    assert result.remaining == tuple(s.id for s in plan.steps)
    assert awsmoto.state_now() == before


def test_reapply_makes_zero_mutating_calls(url: str, tmp_path: Path) -> None:
    """Applying a finished plan again finds every step in place."""
    plan = make_plan(url)
    run(url, plan, tmp_path / "j")
    log = awsmoto.CallLog()
    again = run(url, plan, tmp_path / "j", log)
    assert again.ok
    assert log.mutating == 0
    assert len(again.already) == len(plan.steps)


@pytest.mark.parametrize("workers", [1, 8])
def test_faults_converge(url: str, tmp_path: Path, workers: int) -> None:
    """20% throttling, 5xx, dropped connections and lost responses: apply still converges."""
    plan = make_plan(url)
    watchdog = awsmoto.Watchdog()
    faults = awsmoto.Faults(
        throttle=0.2,
        server_error=0.05,
        drop=0.03,
        lose_response=0.05,
        seed=workers,
        watchdog=watchdog,
    )
    result = run(url, plan, tmp_path / "j", watchdog, faults, workers=workers)
    assert result.ok, result.failed
    assert faults.injected["Throttling"] > 0
    assert faults.injected["ServiceFailure"] > 0
    assert not watchdog.violations
    iam, sts = awsmoto.clients(url)
    assert verify(plan, iam=iam, sts=sts).ok


def _crash_then_resume(url: str, tmp_path: Path, at: int, *, after: bool) -> None:
    plan = make_plan(url)
    watchdog = awsmoto.Watchdog()
    journal = tmp_path / f"j{at}{after}"
    with pytest.raises(awsmoto.Crash):
        run(url, plan, journal, watchdog, awsmoto.Crasher(at, after=after))
    assert not watchdog.violations
    resumed = run(url, plan, journal, watchdog)
    assert resumed.ok, resumed.failed
    assert not watchdog.violations
    iam, sts = awsmoto.clients(url)
    assert verify(plan, iam=iam, sts=sts).ok
    # Rollback after a crashed-and-resumed run still restores the start exactly.
    rolled = rollback(journal, iam=iam, sts=sts, retry=FAST, settle=0)
    assert rolled.ok, rolled.failed
    assert not watchdog.violations


@pytest.mark.parametrize("after", [False, True], ids=["before-call", "after-call"])
@pytest.mark.parametrize("share", range(3))
def test_crash_at_every_step_then_resume(
    server: str, tmp_path: Path, after: bool, share: int
) -> None:
    """A crash before or after any mutating call, then a resume: always converges, no gap.

    The step indexes are shared out over three tests so that they run in parallel.
    """
    awsmoto.reset(server)
    iam, _ = awsmoto.clients(server)
    awsmoto.small_account(iam)
    n = len(make_plan(server).steps)
    assert n >= 20
    for at in range(share, n, 3):
        awsmoto.reset(server)
        awsmoto.small_account(awsmoto.clients(server)[0])
        start = awsmoto.state_now()
        _crash_then_resume(server, tmp_path, at, after=after)
        assert awsmoto.state_now() == start, (at, after)


def test_rollback_restores_the_original_state_exactly(url: str, tmp_path: Path) -> None:
    """Rollback undoes every change, deletes only what groupify created, and never opens a gap."""
    before = awsmoto.state_now()
    iam, sts = awsmoto.clients(url)
    fingerprint = groupify.scan(iam=iam, sts=sts).fingerprint
    plan = make_plan(url)
    run(url, plan, tmp_path / "j")
    assert awsmoto.state_now() != before
    watchdog = awsmoto.Watchdog()
    watchdog.attach(iam)
    result = rollback(tmp_path / "j", iam=iam, sts=sts, retry=FAST, settle=0)
    assert result.ok, result.failed
    assert not watchdog.violations
    assert awsmoto.state_now() == before
    assert groupify.scan(iam=iam, sts=sts).fingerprint == fingerprint
    again = rollback(tmp_path / "j", iam=iam, sts=sts, retry=FAST, settle=0)
    assert again.applied == ()


@pytest.mark.parametrize(
    ("create", "read"), [("create_group", "get_group"), ("create_policy", "get_policy")]
)
def test_a_lost_create_answer_then_a_lagging_read_stays_ours(
    url: str, tmp_path: Path, create: str, read: str
) -> None:
    """A create is applied but its answer lost; the retry's EntityAlreadyExists is checked by
    a read that first says NoSuchEntity (IAM catching up): the entity is still ours, and
    rollback removes it."""
    iam, _ = awsmoto.clients(url)
    iam.create_user(UserName="ivy")
    for i in range(2):  # two large inline documents: one becomes a customer-managed policy
        actions = [f"s3:Get{'X' * 20}{i}{j}" for j in range(100)]
        iam.put_user_policy(UserName="ivy", PolicyName=f"big{i}", PolicyDocument=doc(*actions))
    before = awsmoto.state_now()
    plan = make_plan(url)
    script = awsmoto.Script((create, "lose"), (read, "NoSuchEntity"))
    result = run(url, plan, tmp_path / "j", script, workers=1)
    assert script.fired == [(create, "lose"), (read, "NoSuchEntity")]
    assert result.ok, result.failed
    first = next(s for s in plan.steps if s.op == create)
    assert first.id in result.applied
    iam, sts = awsmoto.clients(url)
    back = rollback(tmp_path / "j", iam=iam, sts=sts, retry=FAST, settle=0)
    assert back.ok, (back.kept, back.foreign, back.failed)
    assert awsmoto.state_now() == before


def test_apply_refuses_a_control_path_opened_after_planning(url: str, tmp_path: Path) -> None:
    """A policy changed after planning (a new default version lets dev and eve attach policies
    to any group) is seen at apply: refused before any change, in a dry run too. Only dev is
    a finding: eve is already in readers, so it could already attach anything there."""
    plan = make_plan(url)
    assert plan.findings == ()
    iam, _ = awsmoto.clients(url)
    iam.create_policy_version(
        PolicyArn=f"arn:aws:iam::{ACCOUNT}:policy/deploy",
        PolicyDocument=doc("ecs:UpdateService", "iam:AttachGroupPolicy"),
        SetAsDefault=True,
    )
    changed = awsmoto.state_now()
    for dry_run in (True, False):
        with pytest.raises(groupify.EscalationError) as info:
            run(url, plan, tmp_path / "j", dry_run=dry_run)
        assert [(f.user, f.action) for f in info.value.findings] == [
            ("dev", "iam:AttachGroupPolicy")
        ]
    assert awsmoto.state_now() == changed
    assert not (tmp_path / "j").exists()


def test_a_second_rollback_leaves_a_group_someone_made_since(url: str, tmp_path: Path) -> None:
    """After a complete rollback, someone creates an empty group with a planned name: rolling
    back the same journal again leaves it (the journal says groupify undid its own)."""
    plan = make_plan(url)
    run(url, plan, tmp_path / "j")
    iam, sts = awsmoto.clients(url)
    assert rollback(tmp_path / "j", iam=iam, sts=sts, retry=FAST, settle=0).ok
    name = next(s.params["GroupName"] for s in plan.steps if s.op == "create_group")
    iam.create_group(GroupName=name)
    again = rollback(tmp_path / "j", iam=iam, sts=sts, retry=FAST, settle=0)
    assert again.applied == ()
    assert name in awsmoto.state_now()["groups"]


@pytest.mark.parametrize("op", ["detach_user_policy", "delete_user_policy"])
def test_a_removal_whose_answer_was_lost_is_ours_and_rolled_back(
    url: str, tmp_path: Path, op: str
) -> None:
    """The removal is done but its answer lost; the retry's NoSuchEntity, confirmed by a read,
    is our own removal: rollback puts the policy back, and the account is as before."""
    before = awsmoto.state_now()
    plan = make_plan(url)
    script = awsmoto.Script((op, "lose"))
    result = run(url, plan, tmp_path / "j", script, workers=1)
    assert script.fired == [(op, "lose")]
    assert result.ok, result.failed
    removal = next(s for s in plan.steps if s.op == op)
    assert removal.id in result.applied
    iam, sts = awsmoto.clients(url)
    back = rollback(tmp_path / "j", iam=iam, sts=sts, retry=FAST, settle=0)
    assert back.ok, (back.failed, back.kept)
    assert awsmoto.state_now() == before


def test_a_throttled_create_then_someone_elses_group_is_not_ours(url: str, tmp_path: Path) -> None:
    """CreateGroup refused with Throttling (IAM did nothing); another admin creates the group
    meanwhile; the retry's EntityAlreadyExists is theirs: rollback leaves their group."""
    plan = make_plan(url)
    name = next(s.params["GroupName"] for s in plan.steps if s.op == "create_group")
    other, _ = awsmoto.clients(url)

    class Meanwhile(awsmoto.Script):
        def __call__(self, request: Any, **kwargs: Any) -> Any:
            answer = super().__call__(request, **kwargs)
            if answer is not None and not self.pending:
                other.create_group(GroupName=name)  # during our back-off
            return answer

    script = Meanwhile(("create_group", "Throttling"))
    result = run(url, plan, tmp_path / "j", script, workers=1)
    assert script.fired == [("create_group", "Throttling")]
    first = next(s for s in plan.steps if s.op == "create_group")
    # Not ours, so not ours to fill either: the run stops there, their group untouched.
    assert [f[0] for f in result.failed] == [first.id]
    assert "groupify did not create it" in result.failed[0][1]
    theirs = awsmoto.state_now()["groups"][name]
    assert theirs == ([], [], [])
    iam, sts = awsmoto.clients(url)
    back = rollback(tmp_path / "j", iam=iam, sts=sts, retry=FAST, settle=0)
    assert back.ok, (back.failed, back.kept)
    assert awsmoto.state_now()["groups"][name] == theirs


def test_rollback_never_deletes_what_it_did_not_create(url: str, tmp_path: Path) -> None:
    """A reused existing group keeps existing after rollback; only memberships we added go."""
    plan = make_plan(url)
    reused = [g["name"] for g in plan.groups if g["existing"]]
    assert reused == ["billing"]
    run(url, plan, tmp_path / "j")
    iam, sts = awsmoto.clients(url)
    rollback(tmp_path / "j", iam=iam, sts=sts, retry=FAST, settle=0)
    assert {"readers", "billing"} <= set(awsmoto.state_now()["groups"])


@pytest.mark.parametrize(
    "drift",
    [
        "attach another policy to a user",
        "detach a user policy",
        "delete a user",
        "add a policy to a reused group",
        "create the planned group with another member",
    ],
)
def test_drift_is_refused_and_nothing_changes(url: str, tmp_path: Path, drift: str) -> None:
    """A touched entity that changed since planning stops apply before any change."""
    plan = make_plan(url)
    iam, _ = awsmoto.clients(url)
    arn = f"arn:aws:iam::{ACCOUNT}:policy/"
    match drift:
        case "attach another policy to a user":
            iam.attach_user_policy(UserName="ana", PolicyArn=arn + "deploy")
        case "detach a user policy":
            iam.detach_user_policy(UserName="dev", PolicyArn=arn + "deploy")
        case "delete a user":
            iam.detach_user_policy(UserName="fay", PolicyArn=arn + "billing")
            iam.delete_user(UserName="fay")
        case "add a policy to a reused group":
            iam.attach_group_policy(GroupName="readers", PolicyArn=arn + "admin")
        case "create the planned group with another member":
            name = next(s.params["GroupName"] for s in plan.steps if s.op == "create_group")
            iam.create_group(GroupName=name)
            iam.add_user_to_group(GroupName=name, UserName="hal")
    before = awsmoto.state_now()
    log = awsmoto.CallLog()
    with pytest.raises(DriftError) as info:
        run(url, plan, tmp_path / "j", log)
    assert log.mutating == 0
    assert awsmoto.state_now() == before
    assert "make a new plan" in str(info.value)
    assert not (tmp_path / "j").exists()


def test_plan_for_another_account_is_refused(url: str, tmp_path: Path) -> None:
    """A plan's account id must match the live account."""
    plan = make_plan(url)
    data = plan.inventory.to_dict()
    data["account_id"] = "999999999999"
    other = Plan(
        inventory=groupify.Inventory.from_dict(data),
        steps=plan.steps,
        exceptions=plan.exceptions,
        in_scope=plan.in_scope,
    )
    with pytest.raises(StalePlanError, match="999999999999"):
        run(url, other, tmp_path / "j")


def test_unsafe_hand_edited_plan_is_refused_before_any_call(url: str, tmp_path: Path) -> None:
    """A plan re-ordered to detach first fails verification; nothing is changed."""
    plan = make_plan(url)
    first_detach = next(s for s in plan.steps if s.is_destructive)
    steps = [
        Step(first_detach.id, first_detach.op, first_detach.param_items, ()),
        *(s for s in plan.steps if s.id != first_detach.id),
    ]
    bad = Plan(
        inventory=plan.inventory, steps=steps, exceptions=plan.exceptions, in_scope=plan.in_scope
    )
    before = awsmoto.state_now()
    with pytest.raises(PlanVerificationError):
        run(url, bad, tmp_path / "j")
    assert awsmoto.state_now() == before


def test_journal_of_another_plan_is_refused(url: str, tmp_path: Path) -> None:
    """A journal belongs to one plan."""
    plan = make_plan(url)
    Journal.open(tmp_path / "j", plan)
    iam, _ = awsmoto.clients(url)
    iam.detach_user_policy(UserName="fay", PolicyArn=f"arn:aws:iam::{ACCOUNT}:policy/billing")
    iam.attach_user_policy(UserName="fay", PolicyArn=f"arn:aws:iam::{ACCOUNT}:policy/billing")
    iam.put_user_policy(UserName="hal", PolicyName="x", PolicyDocument=doc("sqs:*"))
    other = make_plan(url)
    with pytest.raises(InputError, match="another plan"):
        run(url, other, tmp_path / "j")


def test_never_touches_the_caller(url: str, tmp_path: Path) -> None:
    """A plan that would change the principal running apply is refused."""
    plan = make_plan(url)
    data = plan.inventory.to_dict()
    iam, sts = awsmoto.clients(url)

    class Caller:
        def __init__(self, arn: str) -> None:
            self.arn = arn
            self.meta = sts.meta

        def get_caller_identity(self) -> dict[str, str]:
            return {"Arn": self.arn, "Account": ACCOUNT, "UserId": "AIDA"}

    del data
    with pytest.raises(StalePlanError, match="running groupify"):
        apply(
            plan,
            iam=iam,
            sts=Caller(f"arn:aws:iam::{ACCOUNT}:user/ana"),
            journal=tmp_path / "j",
            retry=FAST,
            settle=0,
        )


def test_kill_9_then_resume(url: str, tmp_path: Path) -> None:
    """kill -9 of a real `groupify apply` mid-run; running it again finishes with no gap."""
    plan_path = tmp_path / "plan.json"
    make_plan(url).save(plan_path)
    journal = tmp_path / "plan.json.journal"
    env = {**os.environ, "AWS_ENDPOINT_URL": url}
    watchdog = awsmoto.Watchdog()
    argv = [
        sys.executable,
        "-m",
        "groupify.cli",
        "apply",
        str(plan_path),
        "--yes",
        "--settle",
        "0",
        "--workers",
        "1",
    ]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if journal.exists() and journal.read_text().count('"done"') >= 6:
            break
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    watchdog.check("kill -9")
    assert not watchdog.violations
    done = Journal.read(journal).done
    assert 0 < len(done) < len(groupify.load_plan(plan_path).steps)
    finished = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    assert finished.returncode == 0, finished.stderr
    watchdog.check("resume")
    assert not watchdog.violations
    check = subprocess.run(
        [sys.executable, "-m", "groupify.cli", "verify", str(plan_path)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stdout


def test_cli_refuses_without_a_terminal_or_yes(url: str, tmp_path: Path) -> None:
    """With no terminal and no --yes, apply refuses, changes nothing, leaves no journal."""
    plan_path = tmp_path / "plan.json"
    make_plan(url).save(plan_path)
    before = awsmoto.state_now()
    env = {**os.environ, "AWS_ENDPOINT_URL": url}
    proc = subprocess.run(
        [sys.executable, "-m", "groupify.cli", "apply", str(plan_path)],
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert proc.returncode == 2
    assert "--yes" in proc.stderr
    assert awsmoto.state_now() == before
    assert not (tmp_path / "plan.json.journal").exists()  # asked under the lock, removed


def test_cli_runbook_through_aws_endpoint_url(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """plan, apply --dry-run, apply, verify, rollback, verify through AWS_ENDPOINT_URL."""
    from groupify.cli import main

    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    plan = str(tmp_path / "plan.json")
    assert main(["plan", "--exclude-user", "root-*", "--out", plan]) == 0
    assert main(["apply", plan, "--dry-run"]) == 0
    assert "would run" in capsys.readouterr().out
    assert main(["apply", plan, "--yes", "--settle", "0"]) == 0
    assert main(["verify", plan]) == 0
    assert main(["apply", plan, "--yes"]) == 0
    assert "Nothing to do" in capsys.readouterr().out
    assert main(["rollback", "--journal", plan + ".journal", "--yes", "--settle", "0"]) == 0
    assert main(["verify", plan]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "root-bg" in out


class FailOn:
    """Fails every call of one operation with a non-retryable IAM error."""

    def __init__(self, op: str, code: str = "AccessDenied", status: int = 403) -> None:
        self.op, self.code, self.status = op, code, status

    def __call__(self, request: Any, **_: Any) -> Any:
        body = request.body.decode() if isinstance(request.body, bytes) else request.body
        if f"Action={self.op}&" in (body or "") + "&":
            return awsmoto._error(self.code, self.status)
        return None

    def attach(self, iam: Any) -> None:
        iam.meta.events.register_first("before-send.iam", self)


def test_non_retryable_error_stops_cleanly_with_a_report(url: str, tmp_path: Path) -> None:
    """AccessDenied on detaching stops the run: a report, no gap, and a resume finishes."""
    plan = make_plan(url)
    watchdog = awsmoto.Watchdog()
    result = run(url, plan, tmp_path / "j", watchdog, FailOn("DetachUserPolicy"), workers=1)
    assert not result.ok
    ((failed_id, message),) = result.failed
    assert "AccessDenied" in message and failed_id.startswith("s")
    assert result.remaining
    assert set(result.applied) | set(result.remaining) | {failed_id} == {s.id for s in plan.steps}
    assert not watchdog.violations
    resumed = run(url, plan, tmp_path / "j", watchdog)
    assert resumed.ok
    assert not watchdog.violations


def test_route_not_visible_keeps_the_direct_policy(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When reads never show the new group membership, no direct policy is removed."""
    from groupify.runtime.executor import Executor

    monkeypatch.setattr(Executor, "user_groups", lambda self, user: set())
    monkeypatch.setattr(Executor, "_read_routes", lambda self, began: None)
    plan = make_plan(url)
    log = awsmoto.CallLog()
    result = run(url, plan, tmp_path / "j", log, propagation_timeout=0)
    assert not result.ok
    assert "visibly grants" in result.failed[0][1]
    assert log.calls["detach_user_policy"] == 0
    assert log.calls["delete_user_policy"] == 0


def test_same_named_group_appearing_mid_run_is_a_conflict(url: str, tmp_path: Path) -> None:
    """A group with the planned name created by someone else just before our call: stop."""
    plan = make_plan(url)
    name = next(s.params["GroupName"] for s in plan.steps if s.op == "create_group")
    other, _ = awsmoto.clients(url)

    class Race:
        def __call__(self, params: Any = None, **_: Any) -> None:
            if params["GroupName"] == name:
                other.create_group(GroupName=name)
                other.add_user_to_group(GroupName=name, UserName="hal")

        def attach(self, iam: Any) -> None:
            iam.meta.events.register("before-parameter-build.iam.CreateGroup", self)

    result = run(url, plan, tmp_path / "j", Race(), workers=1)
    assert not result.ok
    assert "already exists with members or policies" in result.failed[0][1]
    assert "hal" in awsmoto.state_now()["groups"][name][2]


def test_apply_requires_a_journal(url: str) -> None:
    """Without a journal a crash could not be resumed: refused."""
    iam, sts = awsmoto.clients(url)
    with pytest.raises(InputError, match="journal"):
        apply(make_plan(url), iam=iam, sts=sts)


def test_access_taken_off_a_new_group_is_drift_not_redone(url: str, tmp_path: Path) -> None:
    """After a run, a policy removed from a created group by an admin is reported, not re-added."""
    plan = make_plan(url)
    run(url, plan, tmp_path / "j")
    attach = next(s for s in plan.steps if s.op == "attach_group_policy")
    iam, _ = awsmoto.clients(url)
    iam.detach_group_policy(**attach.params)
    log = awsmoto.CallLog()
    with pytest.raises(DriftError, match="is not"):
        run(url, plan, tmp_path / "j", log)
    assert log.mutating == 0


def test_newly_exempt_user_is_drift(url: str, tmp_path: Path) -> None:
    """A user tagged break-glass after planning matches the plan's exemption rules: refused."""
    plan = make_plan(url)
    iam, _ = awsmoto.clients(url)
    iam.tag_user(UserName="ana", Tags=[{"Key": "BreakGlass", "Value": "true"}])
    with pytest.raises(DriftError, match="now exempt"):
        run(url, plan, tmp_path / "j")


def test_failed_create_is_not_ours_to_roll_back(url: str, tmp_path: Path) -> None:
    """A create_group that failed, then a same-named group made by hand: rollback keeps it."""
    plan = make_plan(url)
    first = next(s for s in plan.steps if s.op == "create_group")
    result = run(url, plan, tmp_path / "j", FailOn("CreateGroup"), workers=1)
    assert [f for f, _ in result.failed] == [first.id]
    iam, sts = awsmoto.clients(url)
    iam.create_group(GroupName=first.params["GroupName"])
    rolled = rollback(tmp_path / "j", iam=iam, sts=sts, retry=FAST, settle=0)
    assert rolled.ok
    assert first.params["GroupName"] in awsmoto.state_now()["groups"]


def test_a_failing_read_inside_a_step_is_reported(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ListGroupsForUser denied: the run stops with a report, no traceback, no removal."""
    from groupify.runtime.executor import Executor

    # the bulk read and the read under the lock show nothing: each user is read alone
    monkeypatch.setattr(Executor, "_read_routes", lambda self, began: None)
    plan = make_plan(url)
    log = awsmoto.CallLog()
    result = run(url, plan, tmp_path / "j", log, FailOn("ListGroupsForUser"), workers=2)
    assert not result.ok
    assert "AccessDenied" in result.failed[0][1]
    assert log.calls["detach_user_policy"] == 0


def test_a_second_run_on_the_same_journal_is_refused(url: str, tmp_path: Path) -> None:
    """While one run holds the journal, another is refused before any change."""
    plan = make_plan(url)
    journal = Journal.open(tmp_path / "j", plan)
    log = awsmoto.CallLog()
    with journal.locked(), pytest.raises(InputError, match="another groupify run"):
        run(url, plan, tmp_path / "j", log)
    assert log.mutating == 0


def test_journal_cut_short_by_a_crash_is_read_and_mended(url: str, tmp_path: Path) -> None:
    """A partial last record is ignored on read and cut off before the next write."""
    plan = make_plan(url)
    journal = Journal.open(tmp_path / "j", plan)
    journal.record("start", plan.steps[0].id)
    with open(tmp_path / "j", "ab") as fh:
        fh.write(b'{"type": "done", "st')
    again = Journal.read(tmp_path / "j")
    assert again.started == {plan.steps[0].id} and not again.done
    again.record("done", plan.steps[0].id, outcome="applied")
    lines = (tmp_path / "j").read_text().splitlines()
    assert [json.loads(x)["type"] for x in lines] == ["header", "start", "done"]


def test_rollback_leaves_out_what_it_cannot_undo_safely(server: str, tmp_path: Path) -> None:
    """A created policy someone attached to a new user stays; everything else is undone."""
    awsmoto.reset(server)
    iam, sts = awsmoto.clients(server)
    awsmoto.small_account(iam)
    inventory = groupify.scan(iam=iam, sts=sts)
    quotas = groupify.Quotas(group_inline_chars=10)
    plan = groupify.build_plan(
        groupify.propose(inventory, exclude_tags=["BreakGlass"], quotas=quotas)
    )
    made = next(s for s in plan.steps if s.op == "create_policy")
    run(server, plan, tmp_path / "j")
    iam.create_user(UserName="newhire")
    arn = f"arn:aws:iam::{ACCOUNT}:policy/groupify/{made.params['PolicyName']}"
    iam.attach_user_policy(UserName="newhire", PolicyArn=arn)
    watchdog = awsmoto.Watchdog()
    watchdog.attach(iam)
    result = rollback(tmp_path / "j", iam=iam, sts=sts, retry=FAST, settle=0)
    assert not watchdog.violations
    assert [k for k, _ in result.kept] == ["u" + made.id.removeprefix("s")]
    assert "still attached to 'newhire'" in result.kept[0][1]
    assert not result.failed and not result.remaining
    assert arn in awsmoto.state_now()["users"]["newhire"][0]
    assert awsmoto.state_now()["users"]["ana"][1]  # ana's inline policies are back


# -- ownership is a recorded fact: entity ids, unsettled attempts, idempotent rollback ----


def _groups_made(plan: Plan) -> list[str]:
    return [s.params["GroupName"] for s in plan.steps if s.op == "create_group"]


def test_created_entities_are_recorded_with_their_ids(url: str, tmp_path: Path) -> None:
    """Each create's done record holds the id and creation date IAM answered."""
    plan = make_plan(url)
    run(url, plan, tmp_path / "j")
    facts = Journal.read(tmp_path / "j").steps()
    backend = awsmoto.backend()
    for step in plan.steps:
        if step.op == "create_group":
            entity = facts[step.id].entity
            assert entity is not None
            assert entity["id"] == backend.groups[step.params["GroupName"]].id
            assert entity["created"].startswith("20")


def test_rollback_leaves_a_group_someone_made_again_under_our_name(
    url: str, tmp_path: Path
) -> None:
    """Our group is deleted and made again by someone else: same name, another GroupId.
    Rollback deletes neither it nor anything on it, and says why."""
    plan = make_plan(url)
    first = next(s for s in plan.steps if s.op != "create_group")
    result = run(url, plan, tmp_path / "j", FailOn(api_name(first.op)), workers=1)
    assert result.failed and result.failed[0][0] == first.id  # every group made, still empty
    name = _groups_made(plan)[0]
    iam, sts = awsmoto.clients(url)
    iam.delete_group(GroupName=name)
    theirs = iam.create_group(GroupName=name)["Group"]["GroupId"]
    back = rollback(tmp_path / "j", iam=iam, sts=sts, retry=FAST, settle=0)
    assert back.ok, (back.failed, back.kept)
    assert awsmoto.backend().groups[name].id == theirs
    assert set(_groups_made(plan)) & set(awsmoto.state_now()["groups"]) == {name}
    reason = dict(back.foreign)[next(s.id for s in plan.steps if s.op == "create_group")]
    assert "not the entity groupify created" in reason and theirs in reason


def test_a_create_whose_answer_never_came_is_settled_by_rollback(url: str, tmp_path: Path) -> None:
    """CreateGroup is done but its answer lost, and the run gives up (one attempt): the
    journal says 'unknown'; rollback reads the group, finds it made after that attempt
    began, and deletes it: the account is as before."""
    before = awsmoto.state_now()
    plan = make_plan(url)
    result = run(
        url,
        plan,
        tmp_path / "j",
        awsmoto.Script(("create_group", "lose")),
        workers=1,
        retry=RetryPolicy.no_wait(attempts=1),
    )
    first = next(s for s in plan.steps if s.op == "create_group")
    assert [f for f, _ in result.failed] == [first.id]
    log = Journal.read(tmp_path / "j")
    assert log.status()[first.id] == "unknown" and first.id in log.ours()
    assert log.records[-1] == {**log.records[-1], "type": "failed", "unknown": True}
    iam, sts = awsmoto.clients(url)
    back = rollback(tmp_path / "j", iam=iam, sts=sts, retry=FAST, settle=0)
    assert back.ok and back.applied == ("u" + first.id[1:],)
    assert awsmoto.state_now() == before


def test_a_second_rollback_makes_no_call_at_all(url: str, tmp_path: Path) -> None:
    """After a complete rollback the journal alone says nothing is ours: no read, no write."""
    plan = make_plan(url)
    run(url, plan, tmp_path / "j")
    iam, sts = awsmoto.clients(url)
    assert rollback(tmp_path / "j", iam=iam, sts=sts, retry=FAST, settle=0).ok
    log = awsmoto.CallLog()
    iam, sts = awsmoto.clients(url)
    log.attach(iam)
    sts.meta.events.register("before-call.sts", log)
    again = rollback(tmp_path / "j", iam=iam, sts=sts, retry=FAST, settle=0)
    assert again.ok and again.calls == () and not log.calls


def test_apply_refuses_to_fill_a_group_someone_else_made(url: str, tmp_path: Path) -> None:
    """An empty group with a planned name exists before the first run: groupify did not make
    it, so it will not fill it; nothing changes and the reason names the group."""
    plan = make_plan(url)
    name = _groups_made(plan)[0]
    iam, _ = awsmoto.clients(url)
    iam.create_group(GroupName=name)
    before = awsmoto.state_now()
    with pytest.raises(DriftError, match=f"group '{name}' exists but groupify did not create"):
        run(url, plan, tmp_path / "j")
    assert awsmoto.state_now() == before


def test_reapplying_with_a_new_journal_when_all_is_done_changes_nothing(
    url: str, tmp_path: Path
) -> None:
    """Everything in place and nothing left to change: a fresh journal finds it all done
    (someone else's, by its record) and makes no call; rollback with it deletes nothing."""
    plan = make_plan(url)
    run(url, plan, tmp_path / "j")
    after = awsmoto.state_now()
    again = run(url, plan, tmp_path / "j2")
    assert again.ok and again.mutating_calls == 0
    iam, sts = awsmoto.clients(url)
    back = rollback(tmp_path / "j2", iam=iam, sts=sts, retry=FAST, settle=0)
    assert back.calls == () and awsmoto.state_now() == after


# -- exemptions at apply: the live tags decide, not only the plan file ----------------


def test_apply_time_rules_protect_a_user_the_plan_file_no_longer_exempts(
    url: str, tmp_path: Path
) -> None:
    """A plan whose exemption rules were dropped (here: made without them) would migrate
    the break-glass user; apply's own rules, checked on live tags, refuse before any change."""
    iam, sts = awsmoto.clients(url)
    plan = groupify.build_plan(groupify.propose(groupify.scan(iam=iam, sts=sts)))
    assert "root-bg" in plan.in_scope
    before = awsmoto.state_now()
    rules = groupify.Exemptions(tags=["BreakGlass=true"])
    for dry_run in (True, False):
        with pytest.raises(DriftError, match="'root-bg' is exempt at apply"):
            run(url, plan, tmp_path / "j", dry_run=dry_run, exempt=rules)
    assert awsmoto.state_now() == before


def test_the_exempt_tag_protects_whatever_the_plan_says(url: str, tmp_path: Path) -> None:
    """Tagging a user groupify:exempt in IAM exempts it from every plan, even one made
    before the tag and without any rules."""
    plan = make_plan(url)
    iam, _ = awsmoto.clients(url)
    iam.tag_user(UserName="dev", Tags=[{"Key": "groupify:exempt", "Value": "on call"}])
    before = awsmoto.state_now()
    with pytest.raises(DriftError, match="'dev' is now exempt \\(tagged groupify:exempt=on call"):
        run(url, plan, tmp_path / "j")
    assert awsmoto.state_now() == before
    fresh = make_plan(url)
    assert "dev" not in fresh.in_scope
    assert {e.user: e.reason for e in fresh.exceptions}["dev"] == "tagged groupify:exempt=on call"


def test_rollback_after_drift_reverses_what_is_safe_and_lists_the_rest(
    url: str, tmp_path: Path
) -> None:
    """Mid-incident, an admin put a new user in one created group and attached an extra
    policy to another. Rollback does not refuse everything: it reverses every step it
    safely can, keeps the rest with reasons, lists the drift, and no one loses access."""
    before = awsmoto.state_now()
    plan = make_plan(url)
    run(url, plan, tmp_path / "j")
    made = _groups_made(plan)
    iam, sts = awsmoto.clients(url)
    iam.create_user(UserName="newbie")
    iam.add_user_to_group(GroupName=made[0], UserName="newbie")
    extra = f"arn:aws:iam::{ACCOUNT}:policy/billing"
    iam.attach_group_policy(GroupName=made[1], PolicyArn=extra)
    members = [u["UserName"] for u in iam.get_group(GroupName=made[1])["Users"]]
    now = awsmoto.access_now()
    preview = rollback(tmp_path / "j", iam=iam, sts=sts, dry_run=True, retry=FAST, settle=0)
    assert preview.drift and any(made[0] in d for d in preview.drift)
    assert [u.id for u in preview.steps] == list(preview.remaining)
    back = rollback(tmp_path / "j", iam=iam, sts=sts, retry=FAST, settle=0)
    assert not back.failed and back.applied
    reasons = " ".join(r for _, r in back.kept)
    assert "'newbie' would lose" in reasons  # made[0]'s policies stay for the new member
    assert any(f"{members[0]!r} would lose" in r for _, r in back.kept)  # the extra policy
    after = awsmoto.access_now()
    for user, had in now.items():
        assert had <= after[user], user  # nobody lost what they held before the rollback
    state = awsmoto.state_now()
    untouched = {u: v for u, v in state["users"].items() if u not in ("newbie", *members)}
    assert untouched == {u: before["users"][u] for u in untouched}


# -- found by adversarial review -------------------------------------------------------


def test_resume_refuses_a_group_made_again_since_the_crash(url: str, tmp_path: Path) -> None:
    """The run stopped after creating a group; someone deleted it and made another of the same
    name. The journal's GroupId differs: the resumed apply refuses to fill their group."""
    plan = make_plan(url)
    first = next(s for s in plan.steps if s.op != "create_group")
    run(url, plan, tmp_path / "j", FailOn(api_name(first.op)), workers=1)
    name = _groups_made(plan)[0]
    iam, _ = awsmoto.clients(url)
    iam.delete_group(GroupName=name)
    iam.create_group(GroupName=name)
    with pytest.raises(DriftError, match=f"group '{name}' exists but groupify did not create"):
        run(url, plan, tmp_path / "j")
    assert awsmoto.state_now()["groups"][name] == ([], [], [])


def test_a_crash_mid_rollback_is_settled_and_then_rollback_makes_no_call(
    url: str, tmp_path: Path
) -> None:
    """Rollback dies right after a reverse call went through. The next rollback sees that
    effect gone and records it undone; a third rollback makes no call, and a change made by
    hand afterwards to what that call restored is left alone."""
    before = awsmoto.state_now()
    plan = make_plan(url)
    run(url, plan, tmp_path / "j")
    iam, sts = awsmoto.clients(url)
    awsmoto.Crasher(0, after=True).attach(iam)
    with pytest.raises(awsmoto.Crash):
        rollback(tmp_path / "j", iam=iam, sts=sts, retry=FAST, settle=0)
    iam, sts = awsmoto.clients(url)
    assert rollback(tmp_path / "j", iam=iam, sts=sts, retry=FAST, settle=0).ok
    assert awsmoto.state_now() == before
    assert Journal.read(tmp_path / "j").ours() == set()
    third = rollback(tmp_path / "j", iam=iam, sts=sts, retry=FAST, settle=0)
    assert third.calls == ()


def test_rollback_leaves_users_exempt_now_or_made_again(url: str, tmp_path: Path) -> None:
    """After the apply, ana is tagged groupify:exempt and gus is deleted and made again (a new
    principal): rollback changes neither, and says why."""
    plan = make_plan(url)
    run(url, plan, tmp_path / "j")
    iam, sts = awsmoto.clients(url)
    iam.tag_user(UserName="ana", Tags=[{"Key": "groupify:exempt", "Value": "legal hold"}])
    for g in iam.list_groups_for_user(UserName="gus")["Groups"]:
        iam.remove_user_from_group(GroupName=g["GroupName"], UserName="gus")
    iam.delete_user(UserName="gus")
    iam.create_user(UserName="gus")
    ana = awsmoto.state_now()["users"]["ana"]
    back = rollback(tmp_path / "j", iam=iam, sts=sts, retry=FAST, settle=0)
    reasons = [r for _, r in back.kept]
    assert any("'ana' is exempt now (tagged groupify:exempt=legal hold)" in r for r in reasons)
    assert any("'gus' was deleted and created again" in r for r in reasons)
    state = awsmoto.state_now()
    assert state["users"]["ana"] == ana and state["users"]["gus"] == ([], [])


@pytest.mark.parametrize("settle", [float("inf"), float("nan"), -1.0])
def test_a_wait_that_is_not_a_finite_number_is_refused(
    url: str, tmp_path: Path, settle: float
) -> None:
    plan = make_plan(url)
    before = awsmoto.state_now()
    with pytest.raises(InputError, match="settle must be a finite number"):
        run(url, plan, tmp_path / "j", settle=settle)
    iam, sts = awsmoto.clients(url)
    with pytest.raises(InputError, match="settle must be a finite number"):
        rollback(tmp_path / "j", iam=iam, sts=sts, settle=settle)
    assert awsmoto.state_now() == before


def test_verify_refuses_another_account(url: str, tmp_path: Path) -> None:
    """Credentials that reach another account (a misdirected role) are refused by verify,
    as by apply and rollback, rather than reported as every user's access changed."""
    import attrs

    plan = make_plan(url)
    other = attrs.evolve(plan, inventory=attrs.evolve(plan.inventory, account_id="210987654321"))
    iam, sts = awsmoto.clients(url)
    with pytest.raises(StalePlanError, match="but these credentials reach 123456789012"):
        verify(other, iam=iam, sts=sts)


def test_cli_apply_reads_the_account_once(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`groupify apply --yes` reads the account once, under the lock; with nothing left to
    do it says so and leaves no journal; a dry run reads once too."""
    from groupify.cli import main
    from groupify.runtime import forward

    reads: list[str] = []
    real_scan = forward.scan

    def counted(**kwargs: Any) -> Any:
        reads.append("scan")
        return real_scan(**kwargs)

    monkeypatch.setattr(forward, "scan", counted)
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    plan = str(tmp_path / "plan.json")
    assert main(["plan", "--exclude-user", "root-*", "--out", plan]) == 0
    assert main(["apply", plan, "--dry-run"]) == 0
    assert len(reads) == 1
    assert main(["apply", plan, "--yes", "--settle", "0"]) == 0
    assert len(reads) == 2
    os.unlink(plan + ".journal")
    assert main(["apply", plan, "--yes"]) == 0
    assert len(reads) == 3
    assert not os.path.exists(plan + ".journal")  # nothing to do: no journal made
