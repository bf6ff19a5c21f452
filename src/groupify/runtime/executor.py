"""Apply a plan to a live account: the only place groupify writes to AWS.

The run, in order:

1. read the account in bulk (one paginated GAAD call, as :func:`groupify.scan`);
2. :func:`~groupify.plan.reconcile.reconcile`: find the steps already in place and refuse
   if anything the plan touches drifted;
3. replay the remaining steps on the live state (no gap, no widening);
4. run them in DAG order on a bounded pool of workers, each call retried per
   the :class:`~groupify.RetryPolicy`, each step journaled before and after;
   before any direct policy is removed, confirm by reads that the group route
   replacing it is visible (IAM is eventually consistent).

A dry run does 1-3 and reports; it makes no mutating call.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from attrs import field, frozen

from groupify.aws.retry import RetryPolicy, call_with_retries, client_config, error_code
from groupify.errors import AWSError, ConflictError, GroupifyError, InputError, PropagationError
from groupify.inventory.account import scan
from groupify.inventory.model import PolicyRef
from groupify.inventory.policy import canonical_document
from groupify.plan.model import OPS, Plan, Step, load_plan
from groupify.plan.reconcile import Reconciliation, created_groups, created_policies, reconcile
from groupify.plan.replay import check_steps, policy_arn
from groupify.runtime.journal import Journal

__all__ = [
    "MUTATING_OPS",
    "ApplyResult",
    "ConflictError",
    "Executor",
    "PropagationError",
    "apply",
    "make_clients",
    "run_steps",
]

#: Calls that take something away: NoSuchEntity may mean it is gone already.
_REMOVALS = frozenset(
    {
        "detach_user_policy",
        "delete_user_policy",
        "remove_user_from_group",
        "detach_group_policy",
        "delete_group_policy",
        "delete_group",
        "delete_policy",
    }
)

#: Every IAM call that changes something: plan steps and their reverses.
MUTATING_OPS = (
    frozenset(OPS) | _REMOVALS | {"attach_user_policy", "put_user_policy", "delete_policy_version"}
)

Progress = Callable[[str, Step, int, int], None]


def _pairs(items: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple(items)


def _ids(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(items)


def _counts(items: Mapping[str, int] | Iterable[tuple[str, int]]) -> tuple[tuple[str, int], ...]:
    pairs = items.items() if isinstance(items, Mapping) else items
    return tuple(sorted(pairs))


@frozen
class ApplyResult:
    """What a run did: steps applied, found already done, failed and not reached."""

    mode: str
    applied: tuple[str, ...] = field(converter=_ids)
    already: tuple[str, ...] = field(converter=_ids)
    failed: tuple[tuple[str, str], ...] = field(converter=_pairs)
    remaining: tuple[str, ...] = field(converter=_ids)
    calls: tuple[tuple[str, int], ...] = field(default=(), converter=_counts)
    journal: str | None = None
    #: Rollback only: reverse calls left out because they could not be made safely.
    kept: tuple[tuple[str, str], ...] = field(default=(), converter=_pairs)

    @property
    def ok(self) -> bool:
        """Whether every step is now in place (or, for a dry run, could be checked)."""
        return not self.failed and not self.kept and (self.mode == "dry-run" or not self.remaining)

    @property
    def mutating_calls(self) -> int:
        return sum(n for op, n in self.calls if op in MUTATING_OPS)

    @property
    def read_calls(self) -> int:
        return sum(n for op, n in self.calls if op not in MUTATING_OPS)

    def _repr_html_(self) -> str:
        from groupify.notebook import result_html

        return result_html(self)

    def __repr__(self) -> str:
        return (
            f"ApplyResult({self.mode}, applied={len(self.applied)}, "
            f"already={len(self.already)}, failed={len(self.failed)}, "
            f"remaining={len(self.remaining)})"
        )


class _CallCounter:
    """Counts API calls by boto3 operation name (``create_group``), thread-safe."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(self, model: Any = None, **_: Any) -> None:
        name = getattr(model, "name", None)
        if name:
            snake = "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")
            with self._lock:
                self.counts[snake] += 1


def make_clients(session: Any = None) -> tuple[Any, Any]:
    """IAM and STS clients from *session* (default: boto3's standard configuration)."""
    import boto3

    session = session or boto3.Session()
    return session.client("iam", config=client_config()), session.client(
        "sts", config=client_config()
    )


@contextlib.contextmanager
def counted_clients(
    session: Any = None, iam: Any = None, sts: Any = None
) -> Iterator[tuple[Any, Any, _CallCounter]]:
    """The clients given, or made from *session*, with IAM calls counted while open."""
    if iam is None or sts is None:
        made_iam, made_sts = make_clients(session)
        iam, sts = iam or made_iam, sts or made_sts
    counter = _CallCounter()
    iam.meta.events.register("before-call.iam", counter)
    try:
        yield iam, sts, counter
    finally:
        iam.meta.events.unregister("before-call.iam", counter)


class Executor:
    """Runs IAM calls for a plan with retries, idempotency and propagation checks.

    Shared by :func:`apply` and :func:`groupify.rollback`; not public API.
    """

    def __init__(
        self,
        plan: Plan,
        iam: Any,
        *,
        retry: RetryPolicy,
        settle: float,
        propagation_timeout: float,
    ) -> None:
        self.plan = plan
        self.iam = iam
        self.retry = retry
        self.settle = settle
        self.propagation_timeout = propagation_timeout
        self.created_groups = created_groups(plan)
        self.created_policies = created_policies(plan)
        self._grant_times: dict[str, float] = {}
        self._seen_members: set[tuple[str, str]] = set()
        self._user_locks: dict[str, threading.Lock] = {}
        self._seen_grants: set[tuple[str, PolicyRef]] = set()
        self._lock = threading.Lock()
        final = check_steps(
            plan.inventory,
            plan.steps,
            in_scope=plan.in_scope,
            protected={},
            check_dag=False,
        )
        self.final = final
        self._plan_inline = {
            (u.name, p.name): p.document for u in plan.inventory.users for p in u.inline
        }

    # -- reads ------------------------------------------------------------------

    def read(self, op: str, **params: Any) -> Any:
        """A read, retried; a failure that outlasts the retries is an :class:`AWSError`."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return call_with_retries(self.retry, getattr(self.iam, op), **params)
        except ClientError as exc:
            if error_code(exc) == "NoSuchEntity":
                raise  # the callers that expect it decide what it means
            raise _read_error(op, exc) from exc
        except BotoCoreError as exc:
            raise _read_error(op, exc) from exc

    def _all(self, op: str, key: str, **params: Any) -> list[Any]:
        out: list[Any] = []
        while True:
            page = self.read(op, **params)
            out.extend(page.get(key, []))
            if not page.get("IsTruncated"):
                return out
            params["Marker"] = page["Marker"]

    def user_groups(self, user: str) -> set[str]:
        return {g["GroupName"] for g in self._all("list_groups_for_user", "Groups", UserName=user)}

    def group_refs(self, group: str) -> set[PolicyRef]:
        """What *group* visibly grants now: its managed policies and inline documents.

        A policy the plan created stands for its document.
        """
        out = set()
        for attached in self._all(
            "list_attached_group_policies", "AttachedPolicies", GroupName=group
        ):
            arn = attached["PolicyArn"]
            if arn in self.created_policies:
                out.add(PolicyRef.inline(self._created_document(arn)))
            else:
                out.add(PolicyRef.managed(arn))
        for name in self._all("list_group_policies", "PolicyNames", GroupName=group):
            doc = self.read("get_group_policy", GroupName=group, PolicyName=name)
            out.add(PolicyRef.inline(doc["PolicyDocument"]))
        return out

    def _created_document(self, arn: str) -> str:
        """The document a policy groupify created holds now (its default version)."""
        default = self.read("get_policy", PolicyArn=arn)["Policy"]["DefaultVersionId"]
        version = self.read("get_policy_version", PolicyArn=arn, VersionId=default)
        return canonical_document(version["PolicyVersion"]["Document"])

    # -- writes -----------------------------------------------------------------

    def _eventual(self, step: Step) -> bool:
        """Whether NoSuchEntity may just be IAM catching up with our own create."""
        p = step.params
        return p.get("GroupName") in self.created_groups or p.get("PolicyArn") in (
            self.created_policies
        )

    def call(self, step: Step) -> str:
        """Make the IAM call of *step*; return ``applied`` or ``already`` (effect was in place)."""
        from botocore.exceptions import BotoCoreError, ClientError

        fn = getattr(self.iam, step.op)
        retried: list[BaseException] = []
        try:
            params: dict[str, Any] = step.params
            call_with_retries(
                self.retry,
                fn,
                eventual=self._eventual(step),
                on_retry=lambda exc, attempt: retried.append(exc),
                **params,
            )
        except ClientError as exc:
            outcome = self._already(step, exc)
            if outcome is None:
                raise _aws_error(step, exc) from exc
            # "Already exists" on a retry may be our own earlier attempt, whose
            # answer was lost; on the first attempt it is somebody else's.
            if outcome == "already" and retried and step.op.startswith("create_"):
                return "applied"
            return outcome
        except BotoCoreError as exc:
            raise _aws_error(step, exc) from exc
        return "applied"

    def _already(self, step: Step, exc: Exception) -> str | None:
        """Classify an error that may mean the effect is already in place."""
        code = error_code(exc)
        p = step.params
        if step.op == "create_group" and code == "EntityAlreadyExists":
            self._check_created_group(p["GroupName"])
            return "already"
        if step.op == "create_policy" and code == "EntityAlreadyExists":
            arn = policy_arn(self.plan.inventory, p["PolicyName"], p.get("Path", "/"))
            version = self.read("get_policy", PolicyArn=arn)["Policy"]["DefaultVersionId"]
            doc = self.read("get_policy_version", PolicyArn=arn, VersionId=version)
            if canonical_document(doc["PolicyVersion"]["Document"]) != canonical_document(
                p["PolicyDocument"]
            ):
                raise ConflictError(
                    f"policy {arn} exists with another document; it is not groupify's",
                    operation="CreatePolicy",
                    code=code,
                )
            return "already"
        if code == "NoSuchEntity" and step.op in _REMOVALS:
            return "already" if self._gone(step) else None
        return None

    def _gone(self, step: Step) -> bool:
        """After NoSuchEntity on a removal: is the thing gone (and its owner still there)?"""
        from botocore.exceptions import ClientError

        p = step.params
        try:
            match step.op:
                case "detach_user_policy":
                    arns = {
                        a["PolicyArn"]
                        for a in self._all(
                            "list_attached_user_policies",
                            "AttachedPolicies",
                            UserName=p["UserName"],
                        )
                    }
                    return p["PolicyArn"] not in arns
                case "delete_user_policy":
                    names = self._all("list_user_policies", "PolicyNames", UserName=p["UserName"])
                    return p["PolicyName"] not in names
                case "remove_user_from_group":
                    return p["GroupName"] not in self.user_groups(p["UserName"])
                case "detach_group_policy" | "delete_group_policy" | "delete_group":
                    self.read("get_group", GroupName=p["GroupName"])
                    return step.op != "delete_group" and not self._group_has(step)
                case "delete_policy":
                    self.read("get_policy", PolicyArn=p["PolicyArn"])
                    return False
        except ClientError as exc:
            if error_code(exc) != "NoSuchEntity":
                raise
            # The owner is gone: only fine where the owner itself was the target.
            return step.op in (
                "delete_group",
                "delete_policy",
                "detach_group_policy",
                "delete_group_policy",
            )
        return False

    def _group_has(self, step: Step) -> bool:
        p = step.params
        if step.op == "detach_group_policy":
            arns = {
                a["PolicyArn"]
                for a in self._all(
                    "list_attached_group_policies", "AttachedPolicies", GroupName=p["GroupName"]
                )
            }
            return p["PolicyArn"] in arns
        names = self._all("list_group_policies", "PolicyNames", GroupName=p["GroupName"])
        return p["PolicyName"] in names

    def _check_created_group(self, group: str) -> None:
        """A group we plan to create already exists: fine only if it is the one we planned."""
        members = {u["UserName"] for u in self._all("get_group", "Users", GroupName=group)}
        arns = {
            a["PolicyArn"]
            for a in self._all("list_attached_group_policies", "AttachedPolicies", GroupName=group)
        }
        final = self.final
        planned = final.group_inline.get(group, {})
        inline = set()
        for name in self._all("list_group_policies", "PolicyNames", GroupName=group):
            doc = self.read("get_group_policy", GroupName=group, PolicyName=name)
            if planned.get(name) != canonical_document(doc["PolicyDocument"]):
                inline.add(name)
        foreign = (
            members - final.group_members.get(group, set())
            or arns - final.group_managed.get(group, set())
            or inline
        )
        if foreign:
            raise ConflictError(
                f"group {group!r} already exists with members or policies the plan does not "
                f"give it ({', '.join(sorted(foreign))}); rename the planned group",
                operation="CreateGroup",
                code="EntityAlreadyExists",
            )

    # -- propagation ---------------------------------------------------------------

    def note_grant(self, step: Step) -> None:
        """Remember when a step gave a user (or a group's members) new access."""
        now = time.monotonic()
        with self._lock:
            if step.op == "add_user_to_group":
                self._grant_times[step.params["UserName"]] = now
            elif step.op in ("attach_group_policy", "put_group_policy"):
                self._grant_times["group:" + step.params["GroupName"]] = now
            elif step.op in ("attach_user_policy", "put_user_policy"):
                self._grant_times[step.params["UserName"]] = now

    def resumed(self) -> None:
        """A run after a stop: grants of the last run may be seconds old; settle everyone."""
        self._grant_times["*"] = time.monotonic()

    def _settle(self, keys: Iterable[str]) -> None:
        with self._lock:
            last = max((self._grant_times.get(k, 0.0) for k in (*keys, "*")), default=0.0)
        delay = last + self.settle - time.monotonic()
        if last and delay > 0:
            time.sleep(delay)

    def confirm_route(self, step: Step) -> None:
        """Before removing *step*'s direct policy, see the group route replacing it."""
        user = step.params["UserName"]
        if step.op == "detach_user_policy":
            ref = PolicyRef.managed(step.params["PolicyArn"])
        else:
            ref = PolicyRef("inline", self._plan_inline[(user, step.params["PolicyName"])])
        covering = sorted(
            g for g in self.final.user_groups[user] if ref in self.final.group_policies(g)
        )
        self._settle([user, *("group:" + g for g in covering)])
        deadline = time.monotonic() + self.propagation_timeout
        while True:
            # One check per user at a time: parallel removals of one user's
            # policies then share what the first one read.
            with self._user_lock(user):
                if self._route_visible(user, ref, covering):
                    return
            if time.monotonic() >= deadline:
                raise PropagationError(
                    f"{step.id}: no group of {user!r} visibly grants "
                    f"{self.plan.inventory.label(ref)} after {self.propagation_timeout:.0f}s; "
                    "the direct policy was kept",
                    operation=step.op,
                )
            time.sleep(min(2.0, max(0.0, deadline - time.monotonic())))

    def _user_lock(self, user: str) -> threading.Lock:
        with self._lock:
            return self._user_locks.setdefault(user, threading.Lock())

    def _route_visible(self, user: str, ref: PolicyRef, covering: Iterable[str]) -> bool:
        """Read (or recall having read) a membership and a group policy granting *ref*.

        What was once seen stays true for the run (a plan never removes group
        memberships or group policies), so each is read at most until seen.
        """
        covering = list(covering)
        with self._lock:
            members = {g for g in covering if (user, g) in self._seen_members}
        if not members:
            visible = self.user_groups(user)
            members = {g for g in covering if g in visible}
            with self._lock:
                self._seen_members |= {(user, g) for g in visible}
        for group in sorted(members):
            with self._lock:
                if (group, ref) in self._seen_grants:
                    return True
            refs = self.group_refs(group)
            with self._lock:
                self._seen_grants |= {(group, r) for r in refs}
            if ref in refs:
                return True
        return False

    def confirm_direct(self, user: str, refs: Iterable[PolicyRef]) -> None:
        """Before taking a user out of a group in rollback, see its direct policies back."""
        wanted = set(refs)
        if not wanted:
            return
        self._settle([user])
        deadline = time.monotonic() + self.propagation_timeout
        while True:
            arns = {
                a["PolicyArn"]
                for a in self._all("list_attached_user_policies", "AttachedPolicies", UserName=user)
            }
            have = {PolicyRef.managed(a) for a in arns}
            for name in self._all("list_user_policies", "PolicyNames", UserName=user):
                doc = self.read("get_user_policy", UserName=user, PolicyName=name)
                have.add(PolicyRef.inline(doc["PolicyDocument"]))
            if wanted <= have:
                return
            if time.monotonic() >= deadline:
                raise PropagationError(
                    f"direct policies of {user!r} not visible after "
                    f"{self.propagation_timeout:.0f}s; its group membership was kept",
                    operation="remove_user_from_group",
                )
            time.sleep(min(2.0, max(0.0, deadline - time.monotonic())))


def _read_error(op: str, exc: Exception) -> AWSError:
    code = error_code(exc)
    return AWSError(f"{op} failed: {code or type(exc).__name__}: {exc}", operation=op, code=code)


def _aws_error(step: Step, exc: Exception) -> AWSError:
    code = error_code(exc)
    message = getattr(exc, "response", {}).get("Error", {}).get("Message") if code else str(exc)
    return AWSError(
        f"{step.id} {step.op} failed: {code or type(exc).__name__}: {message}",
        operation=step.op,
        code=code,
    )


def run_steps(
    steps: Iterable[Step],
    execute: Callable[[Step], str],
    *,
    workers: int,
    done: Iterable[str] = (),
    progress: Progress | None = None,
) -> tuple[list[str], list[str], list[tuple[str, str]], list[str]]:
    """Run *steps* in DAG order on up to *workers* threads; stop at the first failure.

    Returns (applied, already, failed, remaining) step ids. An exception that
    is not a :class:`GroupifyError` (a bug, or ``KeyboardInterrupt``) is
    raised after the running steps finish.
    """
    steps = list(steps)
    order = {s.id: i for i, s in enumerate(steps)}
    finished = set(done)
    waiting = {s.id: s for s in steps}
    applied: list[str] = []
    already: list[str] = []
    failed: list[tuple[str, str]] = []
    crash: BaseException | None = None
    total = len(steps)
    count = 0
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="groupify") as pool:
        running: dict[Future[str], Step] = {}
        while True:
            if not failed and crash is None:
                ready = sorted(
                    (s for s in waiting.values() if all(d in finished for d in s.after)),
                    key=lambda s: order[s.id],
                )
                for s in ready[: max(0, workers - len(running))]:
                    del waiting[s.id]
                    if progress:
                        progress("start", s, count, total)
                    running[pool.submit(execute, s)] = s
            if not running:
                break
            complete, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in sorted(complete, key=lambda f: order[running[f].id]):
                s = running.pop(future)
                try:
                    outcome = future.result()
                except GroupifyError as exc:
                    failed.append((s.id, str(exc)))
                    if progress:
                        progress("failed", s, count, total)
                    continue
                except BaseException as exc:
                    crash = crash or exc
                    continue
                finished.add(s.id)
                count += 1
                (applied if outcome == "applied" else already).append(s.id)
                if progress:
                    progress(outcome, s, count, total)
    if crash is not None:
        raise crash
    remaining = sorted(waiting, key=lambda i: order[i])
    return applied, already, failed, remaining


def apply(
    plan: Plan | str | os.PathLike[str],
    session: Any = None,
    *,
    dry_run: bool = False,
    journal: str | os.PathLike[str] | None = None,
    workers: int = 4,
    retry: RetryPolicy | None = None,
    settle: float = 5.0,
    propagation_timeout: float = 120.0,
    iam: Any = None,
    sts: Any = None,
    progress: Progress | None = None,
) -> ApplyResult:
    """Bring the account to *plan*'s state; return what was done.

    *plan* is a :class:`Plan` or the path of a plan file. *journal* (required
    unless *dry_run*) records every step durably; running again with the same
    journal resumes after a crash. *workers* bounds parallel calls (IAM's
    mutating rate limits are low: the default, 4, stays well under them).
    *settle* seconds pass between the last grant to a user and the first
    removal of its direct policies, and *propagation_timeout* bounds the wait
    for the group route to be visible by reads.

    Raises :class:`~groupify.plan.reconcile.DriftError` (nothing changed) when the
    account drifted from the plan, and :class:`~groupify.errors.AWSError` when
    the first read fails. A step that fails is reported in the result's
    ``failed``, and the steps after it in ``remaining``.
    """
    if not isinstance(plan, Plan):
        plan = load_plan(plan)
    if journal is None and not dry_run:
        raise InputError("apply needs a journal path (to resume after a crash and to roll back)")
    if workers < 1:
        raise InputError("workers must be at least 1")
    retry = retry or RetryPolicy()
    with counted_clients(session, iam, sts) as (iam, sts, counter):
        live = scan(iam=iam, sts=sts, retry=retry)
        state = reconcile(plan, live)
        state.verify_remaining()
        if dry_run:
            return ApplyResult(
                mode="dry-run",
                applied=(),
                already=sorted(state.done, key=_step_key),
                failed=(),
                remaining=[s.id for s in state.remaining],
                calls=counter.counts,
            )
        assert journal is not None
        log = Journal.open(journal, plan)
        with log.locked():
            # Read again under the lock: a run that held it may have just finished.
            state = reconcile(plan, scan(iam=iam, sts=sts, retry=retry))
            state.verify_remaining()
            return _run(
                plan,
                state,
                log,
                iam,
                counter,
                retry,
                settle,
                propagation_timeout,
                workers,
                progress,
            )


def _step_key(step_id: str) -> int:
    return int(step_id[1:]) if step_id[1:].isdigit() else 0


def _run(
    plan: Plan,
    state: Reconciliation,
    log: Journal,
    iam: Any,
    counter: _CallCounter,
    retry: RetryPolicy,
    settle: float,
    propagation_timeout: float,
    workers: int,
    progress: Progress | None,
) -> ApplyResult:
    executor = Executor(
        plan, iam, retry=retry, settle=settle, propagation_timeout=propagation_timeout
    )
    started, recorded = log.started, log.done
    if started:
        executor.resumed()
    log.record("run", mode="apply")
    already: list[str] = []
    for sid in sorted(state.done, key=_step_key):
        if sid not in recorded:
            # Started in an earlier run that stopped before it could say so.
            ours = sid in started and sid not in log.failed
            log.record("done", sid, outcome="applied" if ours else "already")
        already.append(sid)

    def execute(step: Step) -> str:
        if step.is_destructive:
            executor.confirm_route(step)
        log.record("start", step.id)
        try:
            outcome = executor.call(step)
        except GroupifyError as exc:
            log.record("failed", step.id, error=str(exc))
            raise
        executor.note_grant(step)
        log.record("done", step.id, outcome=outcome)
        return outcome

    applied, found, failed, remaining = run_steps(
        state.remaining, execute, workers=workers, done=state.done, progress=progress
    )
    return ApplyResult(
        mode="apply",
        applied=applied,
        already=[*already, *found],
        failed=failed,
        remaining=remaining,
        calls=counter.counts,
        journal=log.path,
    )
