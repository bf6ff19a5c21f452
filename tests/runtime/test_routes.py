"""Route confirmation in bulk, and calls in flight, against a moto server over HTTP.

Before a direct policy is removed, a read must have shown the group route that
replaces it. These tests count the reads: one bulk read of every user's groups
serves the removals waiting together, a read older than the removal is never
trusted (a membership taken away out of band since would leave a gap), and a
route the bulk read does not show falls back to reading that user (and, if it
never shows, the direct policy stays).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import groupify
from groupify.aws import RetryPolicy
from groupify.inventory.model import PolicyRef
from groupify.plan.model import Plan
from groupify.runtime import executor
from groupify.runtime.executor import Executor
from groupify.runtime.forward import apply
from groupify.testing import populate, synthetic_gaad
from tests import awsmoto
from tests.faultproxy import FaultProxy, Schedule

FAST = RetryPolicy.no_wait(attempts=40)
GAAD = "get_account_authorization_details"


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    saved = os.environ.get("MOTO_IAM_LOAD_MANAGED_POLICIES")
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"  # the synthetic users hold some
    try:
        yield from awsmoto.serve()
    finally:
        if saved is None:
            os.environ.pop("MOTO_IAM_LOAD_MANAGED_POLICIES", None)
        else:
            os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = saved


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    awsmoto.fake_env(monkeypatch, tmp_path)


def _synthetic(server: str, users: int) -> Plan:
    awsmoto.reset(server)
    iam, sts = awsmoto.clients(server)
    populate(iam, synthetic_gaad(users=users, seed=1), workers=4)
    inventory = groupify.scan(iam=iam, sts=sts)
    return groupify.build_plan(groupify.propose(inventory, exclude_tags=["BreakGlass"]))


def _small(server: str) -> Plan:
    awsmoto.reset(server)
    iam, sts = awsmoto.clients(server)
    awsmoto.small_account(iam)
    inventory = groupify.scan(iam=iam, sts=sts)
    return groupify.build_plan(groupify.propose(inventory, exclude_tags=["BreakGlass"]))


_apply = awsmoto.apply_through


@pytest.mark.parametrize("workers", [1, 8])
def test_calls_per_step_at_most_1_02(server: str, tmp_path: Path, workers: int) -> None:
    """A 150-user plan: at most 1.02 calls per step beyond the read under the lock (a
    fixed cost: a scan, and the documents of the AWS-managed policies in use; 50 calls
    here, 0.15% of the steps at 5,000 users); no per-user route read."""
    plan = _synthetic(server, 150)
    scan_log = awsmoto.CallLog()
    iam, sts = awsmoto.clients(server)
    scan_log.attach(iam)
    groupify.scan(iam=iam, sts=sts)
    log = awsmoto.CallLog()
    watchdog = awsmoto.Watchdog()
    result = _apply(server, plan, tmp_path / "j", log, watchdog, workers=workers)
    assert result.ok, result.failed
    assert not watchdog.violations
    calls = sum(log.calls.values()) - sum(scan_log.calls.values())
    assert log.mutating == len(plan.steps)
    assert calls <= 1.02 * len(plan.steps), (calls, len(plan.steps), log.calls)
    assert log.calls["list_groups_for_user"] == 0
    # the read under the lock, and the bulk reads that confirmed the routes (two, and
    # then while their pages stay under 1% of the removals)
    removals = sum(1 for s in plan.steps if s.is_destructive)
    assert 2 <= log.calls[GAAD] <= 1 + max(2, int(0.01 * removals) + 1)


def test_routes_are_confirmed_by_a_read_made_after_the_grants(
    server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every removal runs after a bulk read that showed the memberships it depends on."""
    plan = _small(server)
    reads: list[tuple[float, set[tuple[str, str]]]] = []
    read_routes = Executor._read_routes

    def spy(self: Executor, began: float) -> None:
        read_routes(self, began)
        with self._lock:
            seen = {(u, g) for u, read in self._members.items() for g in read[1]}
            reads.append((time.monotonic(), seen))

    monkeypatch.setattr(Executor, "_read_routes", spy)
    monkeypatch.setattr(executor, "BULK_COST", 1e9)  # always a bulk read
    removed: list[tuple[dict[str, str], float]] = []

    def before(model: Any = None, params: Any = None, **_: Any) -> None:
        if model.name in ("DetachUserPolicy", "DeleteUserPolicy"):
            removed.append((dict(params), time.monotonic()))

    iam, sts = awsmoto.clients(server)
    iam.meta.events.register("before-parameter-build.iam", before)
    log = awsmoto.CallLog()
    log.attach(iam)
    result = apply(plan, iam=iam, sts=sts, journal=tmp_path / "j", workers=4, retry=FAST, settle=0)
    assert result.ok, result.failed
    assert log.calls["list_groups_for_user"] == 0
    by_params = {tuple(sorted(s.params.items())): s for s in plan.steps if s.is_destructive}
    by_id = {s.id: s for s in plan.steps}
    assert len(removed) == len(by_params)
    for params, at in removed:
        step = by_params[tuple(sorted(params.items()))]
        needs = {
            (by_id[d].params["UserName"], by_id[d].params["GroupName"])
            for d in step.after
            if by_id[d].op == "add_user_to_group"
        }
        assert any(done <= at and needs <= seen for done, seen in reads), step


def test_a_route_the_bulk_read_does_not_show_is_read_user_by_user(
    server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """IAM catching up: the bulk read misses one user's new groups; its removals wait on
    reads of that user, the others are confirmed by the bulk read."""
    plan = _small(server)
    joins = {s.params["UserName"] for s in plan.steps if s.op == "add_user_to_group"}
    late = sorted(joins)[0]
    read_routes = Executor._read_routes

    def lagging(self: Executor, began: float) -> None:
        read_routes(self, began)
        with self._lock:  # the late user's groups, as this read saw them: none
            self._members.pop(late, None)

    monkeypatch.setattr(Executor, "_read_routes", lagging)
    monkeypatch.setattr(executor, "BULK_COST", 1e9)  # always a bulk read
    read_alone: list[str] = []

    class Users:
        def __call__(self, model: Any = None, params: Any = None, **_: Any) -> None:
            if model.name == "ListGroupsForUser":
                read_alone.append(params["UserName"])

        def attach(self, iam: Any) -> None:
            iam.meta.events.register("before-parameter-build.iam", self)

    watchdog = awsmoto.Watchdog()
    result = _apply(server, plan, tmp_path / "j", Users(), watchdog, workers=4)
    assert result.ok, result.failed
    assert not watchdog.violations
    assert read_alone and set(read_alone) == {late}  # the late user's, and no other


def test_a_failing_bulk_read_falls_back_to_reads_user_by_user(
    server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bulk read refused (after the read under the lock): per-user reads confirm."""
    plan = _small(server)

    class DenyLaterGaad:
        seen = 0

        def __call__(self, request: Any, **_: Any) -> Any:
            body = request.body.decode() if isinstance(request.body, bytes) else request.body
            if "Action=GetAccountAuthorizationDetails" in (body or ""):
                self.seen += 1
                if self.seen > 1:
                    return awsmoto._error("AccessDenied", 403)
            return None

        def attach(self, iam: Any) -> None:
            iam.meta.events.register_first("before-send.iam", self)

    log = awsmoto.CallLog()
    result = _apply(server, plan, tmp_path / "j", log, DenyLaterGaad(), workers=2)
    assert result.ok, result.failed
    assert log.calls[GAAD] == 2  # the read under the lock; one bulk read, refused
    assert log.calls["list_groups_for_user"] > 0


def test_routes_in_place_at_the_read_under_the_lock_are_read_again_once(
    server: str, tmp_path: Path
) -> None:
    """A run that stopped after its grants: the next one confirms its routes with one
    bulk read begun once the removals were ready (not the read under the lock, which
    is older), and no per-user read."""
    plan = _small(server)
    grants = [s for s in plan.steps if not s.is_destructive]
    iam, _ = awsmoto.clients(server)
    for step in grants:
        getattr(iam, step.op)(**step.params)
    log = awsmoto.CallLog()
    result = _apply(server, plan, tmp_path / "j", log, workers=2)
    assert result.ok, result.failed
    assert log.calls[GAAD] == 2
    assert log.calls["list_groups_for_user"] == 0


def test_no_read_showing_the_route_keeps_every_direct_policy(
    server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No read ever shows a new membership: nothing is removed, the run reports why."""
    plan = _small(server)
    monkeypatch.setattr(Executor, "user_groups", lambda self, user: set())
    monkeypatch.setattr(Executor, "_read_routes", lambda self, began: None)
    log = awsmoto.CallLog()
    result = _apply(server, plan, tmp_path / "j", log, propagation_timeout=0)
    assert not result.ok
    assert "visibly grants" in result.failed[0][1]
    assert log.calls["detach_user_policy"] == log.calls["delete_user_policy"] == 0


class OutOfBand:
    """After the *nth* GetAccountAuthorizationDetails answered to groupify, someone
    else takes *user* (the user of the plan's last removal, if none) out of every
    group it is in, through a client of their own."""

    def __init__(
        self, server: str, plan: Plan, nth: int, user: str | None = None, then: float = 0.0
    ) -> None:
        self.iam, _ = awsmoto.clients(server)
        self.nth = nth
        self.then = then  # seconds to hold the reader afterwards (the read grows old)
        self.user = user or [s for s in plan.steps if s.is_destructive][-1].params["UserName"]
        self.seen = 0
        self.taken: list[str] = []

    def __call__(self, **_: Any) -> None:
        self.seen += 1
        if self.seen != self.nth:
            return
        for g in self.iam.list_groups_for_user(UserName=self.user)["Groups"]:
            self.iam.remove_user_from_group(GroupName=g["GroupName"], UserName=self.user)
            self.taken.append(g["GroupName"])
        time.sleep(self.then)

    def attach(self, iam: Any) -> None:
        iam.meta.events.register("after-call.iam.GetAccountAuthorizationDetails", self)


def _kept(result: Any, plan: Plan, user: str) -> list[str]:
    """The ids of *user*'s removals that failed because no read showed the route."""
    by_id = {s.id: s for s in plan.steps}
    return [
        sid
        for sid, why in result.failed
        if by_id[sid].params.get("UserName") == user and "visibly grants" in why
    ]


def test_a_membership_taken_away_after_the_read_under_the_lock_keeps_the_direct_policy(
    server: str, tmp_path: Path
) -> None:
    """Routes in place at the read under the lock (a resumed run's), and a user then
    taken out of its groups out of band: its direct policies stay, nobody loses access."""
    plan = _small(server)
    iam, _ = awsmoto.clients(server)
    for step in plan.steps:
        if not step.is_destructive:
            getattr(iam, step.op)(**step.params)
    outside = OutOfBand(server, plan, nth=1)
    watchdog = awsmoto.Watchdog()
    result = _apply(server, plan, tmp_path / "j", outside, watchdog, propagation_timeout=0)
    assert outside.taken
    assert not result.ok
    assert _kept(result, plan, outside.user)
    assert not watchdog.violations
    assert awsmoto.access_now() == watchdog.baseline


def test_a_membership_taken_away_after_a_bulk_read_keeps_the_direct_policy(
    server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bulk read showed a membership; it is then taken away out of band, and the read
    grows older than *route_age*: that user's removals trust only a later read, which
    does not show it."""
    plan = _small(server)
    monkeypatch.setattr(executor, "BULK_COST", 1e9)  # always a bulk read
    # the read under the lock, then a bulk read; held 0.6 s, past route_age
    outside = OutOfBand(server, plan, nth=2, then=0.6)
    watchdog = awsmoto.Watchdog()
    result = _apply(
        server,
        plan,
        tmp_path / "j",
        outside,
        watchdog,
        workers=1,
        propagation_timeout=0,
        route_age=0.5,
    )
    assert outside.taken
    assert _kept(result, plan, outside.user)
    assert not watchdog.violations
    assert awsmoto.access_now() == watchdog.baseline


def _one_removal_user(plan: Plan) -> str:
    """A user with exactly one removal, a detach (another would run while it backs off)."""
    removals = Counter(s.params["UserName"] for s in plan.steps if s.is_destructive)
    return next(
        s.params["UserName"]
        for s in plan.steps
        if s.op == "detach_user_policy" and removals[s.params["UserName"]] == 1
    )


class Throttled:
    """A before-send hook: the first *times* requests of *action* for *user* answered
    ``Throttling``; *first* (if any) runs when the first of them is sent."""

    def __init__(self, action: str, user: str, times: int, first: Any = None) -> None:
        self.action, self.user, self.times, self.first = action, user, times, first
        self.sent = 0

    def __call__(self, request: Any, **_: Any) -> Any:
        body = request.body.decode() if isinstance(request.body, bytes) else request.body or ""
        if f"Action={self.action}" not in body or f"UserName={self.user}" not in body:
            return None
        self.sent += 1
        if self.sent == 1 and self.first is not None:
            self.first()
        return awsmoto._error("Throttling", 400) if self.sent <= self.times else None

    def attach(self, iam: Any) -> None:
        iam.meta.events.register_first("before-send.iam", self)


class Slow:
    """A before-call hook: each call of *ops* (API names) waits *seconds* first."""

    def __init__(self, seconds: float, *ops: str) -> None:
        self.seconds, self.ops = seconds, ops

    def __call__(self, model: Any = None, **_: Any) -> None:
        if model.name in self.ops:
            time.sleep(self.seconds)

    def attach(self, iam: Any) -> None:
        iam.meta.events.register("before-call.iam", self)


def test_the_latest_begun_read_of_a_scope_decides() -> None:
    """Reads may end out of order: one begun earlier that answers later does not bring
    back what a read begun after it showed gone (a user's groups, a group's policies)."""
    store: dict[str, Any] = {}
    Executor._saw(store, "dev", {"a", "b"}, 10.0, True)
    assert store["dev"] == (10.0, frozenset({"a", "b"}), True, 10.0)
    Executor._saw(store, "dev", {"a"}, 12.0, False)  # begun later: "b" is gone
    Executor._saw(store, "dev", {"a", "b"}, 11.0, True)  # begun earlier, answered last
    assert store["dev"] == (12.0, frozenset({"a"}), False, 12.0)
    Executor._saw(store, "dev", (), 13.0, True, 9.0)  # what it showed known since 9.0
    assert store["dev"] == (13.0, frozenset(), True, 9.0)


def test_a_removal_retried_past_route_age_reads_the_route_again(
    server: str, tmp_path: Path
) -> None:
    """The read that showed a route grows old while the removal's call is throttled and
    backs off: before its next attempt the route is read again, and a membership taken
    away out of band meanwhile keeps the direct policy."""
    plan = _small(server)
    user = _one_removal_user(plan)
    other, _ = awsmoto.clients(server)
    taken: list[str] = []

    def take() -> None:  # at the first throttled attempt: the user out of its groups
        for g in other.list_groups_for_user(UserName=user)["Groups"]:
            other.remove_user_from_group(GroupName=g["GroupName"], UserName=user)
            taken.append(g["GroupName"])

    watchdog = awsmoto.Watchdog()
    retry = RetryPolicy(attempts=8, wait_initial=0.2, wait_max=0.4, wait_jitter=0.0)
    result = _apply(
        server,
        plan,
        tmp_path / "j",
        Throttled("DetachUserPolicy", user, 3, take),
        watchdog,
        workers=1,
        retry=retry,
        route_age=0.3,
        propagation_timeout=0,
    )
    assert taken
    assert _kept(result, plan, user)
    assert not watchdog.violations
    assert awsmoto.access_now() == watchdog.baseline


def test_a_created_policy_changed_out_of_band_is_read_again(
    server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Inline policies too large for a group's inline room become a policy groupify
    creates; someone then gives it a new default version. A later read of the group
    reads its document again: it no longer grants the inline documents, so they stay."""
    awsmoto.reset(server)
    iam, sts = awsmoto.clients(server)

    def big(i: int) -> str:
        statements = [
            {
                "Sid": f"S{i}x{k}",
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": [f"arn:aws:s3:::bucket-{i}-{k}-{'x' * 40}/*"],
            }
            for k in range(25)
        ]
        return json.dumps({"Version": "2012-10-17", "Statement": statements})

    for n in range(4):
        iam.create_user(UserName=f"u{n}")
        for i in range(3):
            iam.put_user_policy(UserName=f"u{n}", PolicyName=f"p{i}", PolicyDocument=big(i))
    plan = groupify.build_plan(groupify.propose(groupify.scan(iam=iam, sts=sts)))
    assert plan.created_policies
    other, _ = awsmoto.clients(server)
    changed: list[str] = []

    monkeypatch.setattr(executor, "BULK_COST", 1e9)  # always a bulk read
    log_before: list[Any] = []

    class Hook:
        """After groupify's first read of a created policy's document, someone else
        gives that policy a new default version."""

        def __init__(self) -> None:
            self.arn: str | None = None

        def before(self, params: Any = None, **_: Any) -> None:
            log_before.append(dict(params))

        def after(self, **_: Any) -> None:
            arn = log_before[-1].get("PolicyArn", "")
            if changed or arn not in plan.created_policies:
                return
            other.create_policy_version(
                PolicyArn=arn,
                SetAsDefault=True,
                PolicyDocument=json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"}
                        ],
                    }
                ),
            )
            changed.append(arn)
            time.sleep(0.6)  # past route_age: later removals need a later read

        def attach(self, client: Any) -> None:
            client.meta.events.register("before-parameter-build.iam.GetPolicyVersion", self.before)
            client.meta.events.register("after-call.iam.GetPolicyVersion", self.after)

    watchdog = awsmoto.Watchdog()
    result = _apply(
        server,
        plan,
        tmp_path / "j",
        Hook(),
        watchdog,
        workers=1,
        route_age=0.5,
        propagation_timeout=0,
    )
    assert changed
    assert not result.ok and "visibly grants" in result.failed[0][1]
    assert not watchdog.losses  # (the group's new document is more access, not less)
    now = awsmoto.access_now()
    assert all(before <= now[user] for user, before in watchdog.baseline.items())


def test_route_age_must_be_more_than_zero(server: str, tmp_path: Path) -> None:
    plan = _small(server)
    with pytest.raises(groupify.InputError, match="route_age must be more than 0"):
        _apply(server, plan, tmp_path / "j", route_age=0)


def test_throttled_calls_back_off_without_holding_a_call_in_flight(
    server: str, tmp_path: Path
) -> None:
    """Through the proxy, 30% throttled with real (short) backoff: never more than
    *workers* requests in flight, though steps backing off let others run."""
    plan = _small(server)
    workers = 2
    in_flight = [0, 0]  # now, most
    lock = threading.Lock()

    class Count:
        def before(self, **_: Any) -> None:
            with lock:
                in_flight[0] += 1
                in_flight[1] = max(in_flight)

        def after(self, **_: Any) -> None:
            with lock:
                in_flight[0] -= 1

        def attach(self, iam: Any) -> None:
            iam.meta.events.register("before-send.iam", self.before)
            iam.meta.events.register("needs-retry.iam", self.after)

    retry = RetryPolicy(attempts=40, wait_initial=0.02, wait_max=0.2, wait_jitter=0.02)
    with FaultProxy(server, Schedule.random(3, throttle=0.3, lose=0.0)) as proxy:
        iam, sts = awsmoto.clients(proxy.url)
        Count().attach(iam)
        result = apply(
            plan, iam=iam, sts=sts, journal=tmp_path / "j", workers=workers, retry=retry, settle=0
        )
        assert proxy.injected["throttle"] > 0
    assert result.ok, result.failed
    assert in_flight[1] <= workers


def test_a_refused_run_leaves_no_journal(server: str, tmp_path: Path) -> None:
    """Drift found by the read under the lock: nothing changed, and no journal left."""
    plan = _small(server)
    iam, _ = awsmoto.clients(server)
    user = plan.in_scope[0]
    iam.create_group(GroupName="late-group")
    iam.add_user_to_group(GroupName="late-group", UserName=user)
    journal = tmp_path / "j"
    with pytest.raises(groupify.DriftError):
        _apply(server, plan, journal)
    assert not journal.exists()


def test_a_declined_run_leaves_no_journal_and_makes_no_call(server: str, tmp_path: Path) -> None:
    """*confirm* answering no: the dry-run result, no mutating call, no journal."""
    plan = _small(server)
    seen: list[Any] = []
    log = awsmoto.CallLog()
    journal = tmp_path / "j"
    result = _apply(server, plan, journal, log, confirm=lambda p: bool(seen.append(p)))
    assert result.mode == "dry-run" and result.remaining
    assert seen[0].remaining == result.remaining
    assert log.mutating == 0 and log.calls[GAAD] == 1
    assert not journal.exists()


def test_reads_slower_than_route_age_fail_the_removal_instead_of_looping(
    server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every read of a route takes longer than *route_age*: no read is ever recent
    enough at the call, so the removals fail (and say why) within propagation_timeout;
    nothing is removed and the run does not loop on reading."""
    plan = _small(server)
    slow = Slow(0.15, "GetAccountAuthorizationDetails", "ListGroupsForUser")
    log = awsmoto.CallLog()
    result = _apply(server, plan, tmp_path / "j", slow, log, route_age=0.1, propagation_timeout=1)
    assert not result.ok
    assert any("longer than route_age" in why for _, why in result.failed), result.failed
    assert log.calls["detach_user_policy"] == log.calls["delete_user_policy"] == 0


def test_rollback_reads_direct_policies_again_when_a_removal_backs_off(
    server: str, tmp_path: Path
) -> None:
    """Rollback takes a user out of a group only after reading its direct policies back;
    a removal throttled past *route_age* reads them again first, and a direct policy
    detached out of band meanwhile keeps the membership."""
    from groupify.runtime.undo import rollback

    plan = _small(server)
    journal = tmp_path / "j"
    assert _apply(server, plan, journal).ok
    user = _one_removal_user(plan)
    arn = next(
        s.params["PolicyArn"]
        for s in plan.steps
        if s.op == "detach_user_policy" and s.params["UserName"] == user
    )
    other, _ = awsmoto.clients(server)
    iam, sts = awsmoto.clients(server)
    Throttled(
        "RemoveUserFromGroup",
        user,
        3,
        lambda: other.detach_user_policy(UserName=user, PolicyArn=arn),
    ).attach(iam)
    retry = RetryPolicy(attempts=8, wait_initial=0.2, wait_max=0.4, wait_jitter=0.0)
    result = rollback(
        journal, iam=iam, sts=sts, retry=retry, settle=0, propagation_timeout=0, route_age=0.3
    )
    assert not result.ok
    assert "not visible" in result.failed[0][1]
    assert PolicyRef.managed(arn) in awsmoto.access_now()[user]  # still through the group


def test_a_removal_throttled_long_with_fast_reads_still_goes_through(
    server: str, tmp_path: Path
) -> None:
    """Throttled for longer than route_age and propagation_timeout together, with every
    read of its route fast and showing it: each attempt reads the route again and the
    removal is made (the renew deadline counts from the last attempt sent)."""
    plan = _small(server)
    throttle = awsmoto.Script(*[("detach_user_policy", "Throttling")] * 5)

    watchdog = awsmoto.Watchdog()
    retry = RetryPolicy(attempts=10, wait_initial=0.2, wait_max=0.4, wait_jitter=0.0)
    result = _apply(
        server,
        plan,
        tmp_path / "j",
        throttle,
        watchdog,
        workers=1,
        retry=retry,
        route_age=0.2,
        propagation_timeout=0.3,
    )
    assert result.ok, result.failed
    assert len(throttle.fired) == 5
    assert not watchdog.violations


def test_rollback_reads_slower_than_route_age_fail_instead_of_looping(
    server: str, tmp_path: Path
) -> None:
    """Every read of a user's direct policies takes longer than *route_age*: rollback's
    membership removals fail (and say why) after propagation_timeout; none is made."""
    from groupify.runtime.undo import rollback

    plan = _small(server)
    journal = tmp_path / "j"
    assert _apply(server, plan, journal).ok
    iam, sts = awsmoto.clients(server)
    Slow(0.15, "ListAttachedUserPolicies").attach(iam)
    log = awsmoto.CallLog()
    log.attach(iam)
    result = rollback(journal, iam=iam, sts=sts, settle=0, propagation_timeout=1, route_age=0.1)
    assert not result.ok
    assert "longer than route_age" in result.failed[0][1]
    assert log.calls["remove_user_from_group"] == 0
