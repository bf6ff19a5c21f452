"""Apply a plan to a live account: the only place groupify writes to AWS.

The run, in order:

1. read the account in bulk (one paginated GAAD call, as :func:`groupify.scan`);
2. :func:`~groupify.plan.reconcile.reconcile`: find the steps already in place and refuse
   if anything the plan touches drifted;
3. replay the remaining steps on the live state (no gap, no widening), and
   check the plan's control paths again with the live documents and users
   (:func:`~groupify.plan.privilege.check_live`);
4. run them in DAG order on a bounded pool of workers, each call retried per
   the :class:`~groupify.RetryPolicy`, each step journaled before and after;
   before any direct policy is removed, confirm by reads that the group route
   replacing it is visible (IAM is eventually consistent).

A dry run does 1-3 and reports; it makes no mutating call.
"""

from __future__ import annotations

import os
from typing import Any

from groupify.aws import CallCounter, RetryPolicy, counted_clients
from groupify.errors import GroupifyError, InputError
from groupify.inventory.account import scan
from groupify.plan.model import Plan, load_plan
from groupify.plan.privilege import check_live
from groupify.plan.reconcile import Reconciliation, reconcile
from groupify.plan.steps import Step
from groupify.runtime.executor import Executor, Progress, run_steps
from groupify.runtime.journal import Journal
from groupify.runtime.result import ApplyResult

__all__ = ["apply"]


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
        state = _checked(plan, iam, sts, retry)
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
            state = _checked(plan, iam, sts, retry)
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


def _checked(plan: Plan, iam: Any, sts: Any, retry: RetryPolicy) -> Reconciliation:
    """Read the account and check it against *plan*: drift, the remaining steps replayed
    on the live state, and the control paths with the live documents; raise otherwise."""
    live = scan(iam=iam, sts=sts, retry=retry)
    state = reconcile(plan, live)
    state.verify_remaining()
    check_live(plan, live)
    return state


def _step_key(step_id: str) -> int:
    return int(step_id[1:]) if step_id[1:].isdigit() else 0


def _run(
    plan: Plan,
    state: Reconciliation,
    log: Journal,
    iam: Any,
    counter: CallCounter,
    retry: RetryPolicy,
    settle: float,
    propagation_timeout: float,
    workers: int,
    progress: Progress | None,
) -> ApplyResult:
    executor = Executor(
        plan, iam, retry=retry, settle=settle, propagation_timeout=propagation_timeout
    )
    if log.started:
        executor.resumed()
    status = log.status()
    log.record("run", mode="apply")
    already: list[str] = []
    for sid in sorted(state.done, key=_step_key):
        if status.get(sid) not in ("applied", "already"):
            # In place, but not recorded so: started in an earlier run that stopped
            # before it could say so (ours), or done by someone else (not ours).
            ours = status.get(sid) == "started"
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
