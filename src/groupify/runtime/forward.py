"""Apply a plan to a live account: the only place groupify writes to AWS.

The run, in order:

1. take the journal's lock, then read the account in bulk (one paginated GAAD
   call, as :func:`groupify.scan`): the one read the plan is checked against;
2. :func:`~groupify.plan.reconcile.reconcile`: find the steps already in place and refuse
   if anything the plan touches drifted;
3. replay the remaining steps on the live state (no gap, no widening), and
   check the plan's control paths again with the live documents and users
   (:func:`~groupify.plan.privilege.check_live`);
4. run them in DAG order, at most *workers* calls in flight, each call retried per
   the :class:`~groupify.RetryPolicy`, each step journaled before and after;
   before any direct policy is removed, confirm by reads that the group route
   replacing it is visible (IAM is eventually consistent): the read of step 1
   for routes already in place, one bulk read of every user's groups for the
   removals waiting together, and reads of the one user where those do not show it.

A dry run does 1-3 without the lock or a journal and reports; it makes no mutating call.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from groupify.aws import CallCounter, RetryPolicy, counted_clients
from groupify.errors import DriftError, InputError
from groupify.inventory.account import scan
from groupify.inventory.model import Inventory
from groupify.plan.model import Plan, load_plan
from groupify.plan.privilege import check_live
from groupify.plan.reconcile import Reconciliation, reconcile
from groupify.plan.replay import AccountModel
from groupify.plan.steps import Step
from groupify.proposal.model import Exemptions
from groupify.runtime.executor import (
    ROUTE_AGE,
    Executor,
    Outcome,
    Progress,
    check_waits,
    claims,
    created_entity,
    run_steps,
)
from groupify.runtime.journal import Journal, StepState
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
    route_age: float = ROUTE_AGE,
    iam: Any = None,
    sts: Any = None,
    progress: Progress | None = None,
    exempt: Exemptions | None = None,
    key: bytes | None = None,
    allow_unmatched: bool = False,
    confirm: Callable[[ApplyResult], bool] | None = None,
) -> ApplyResult:
    """Bring the account to *plan*'s state; return what was done.

    *plan* is a :class:`Plan` or the path of a plan file. *journal* (required
    unless *dry_run*) records every step durably; running again with the same
    journal resumes after a crash. *workers* bounds parallel calls (IAM's
    mutating rate limits are low: the default, 4, stays well under them).
    *settle* seconds pass between the last grant to a user and the first
    removal of its direct policies, and *propagation_timeout* bounds the wait
    for the group route to be visible by reads. A direct policy is removed only
    while the latest reads of the user's groups and of the group's policies show
    the group route replacing it and began at most *route_age* seconds before
    (checked before each attempt of the call; a membership taken away out of band
    after an older read would otherwise leave a gap). Bulk reads of the account
    are repeated to keep it so; a *route_age* shorter than such a read takes sends
    every removal to slower per-user reads.

    *exempt* adds the operator's own exemption rules at apply, checked against
    the live users whatever the plan file says: a step that would change a user
    they (or the built-in ``groupify:exempt`` tag) exempt is refused, and so is a
    rule that matches no live user (a typo), unless *allow_unmatched*. *key*
    (with a plan path) requires the file to be signed with it.

    *confirm* is called with what a dry run would report, from the read made
    under the journal's lock, before any call: when it returns false (or raises),
    nothing is changed and the dry-run result is returned (the CLI asks there,
    holding the lock while it asks). A journal this call created is removed again
    when the run stops before its first record.

    Raises :class:`~groupify.plan.reconcile.DriftError` (nothing changed) when the
    account drifted from the plan or a step would change an exempt user, and
    :class:`~groupify.errors.AWSError` when the first read fails. A step that fails
    is reported in the result's ``failed``, and the steps after it in ``remaining``.
    """
    if not isinstance(plan, Plan):
        plan = load_plan(plan, key=key)
    elif key is not None:
        raise InputError("a plan key checks a plan file's signature: give the plan's path")
    rules = exempt if exempt is not None else Exemptions()
    if journal is None and not dry_run:
        raise InputError("apply needs a journal path (to resume after a crash and to roll back)")
    if workers < 1:
        raise InputError("workers must be at least 1")
    check_waits(settle=settle, propagation_timeout=propagation_timeout, route_age=route_age)
    retry = retry or RetryPolicy()
    with counted_clients(session, iam, sts) as (iam, sts, counter):
        if dry_run:
            state, _ = _checked(plan, iam, sts, retry, rules, allow_unmatched)
            return _preview(state, counter)
        assert journal is not None
        fresh = not os.path.exists(journal)
        log = Journal.open(journal, plan)
        with log.locked():
            # The one read the run is checked against, under the lock: a run that held
            # it may have just finished, and none can start until this one ends.
            try:
                state, final = _checked(plan, iam, sts, retry, rules, allow_unmatched)
                if confirm is not None and not confirm(_preview(state, counter)):
                    log.discard(fresh)
                    return _preview(state, counter)
            except BaseException:
                log.discard(fresh)
                raise
            return _run(
                plan,
                state,
                final,
                log,
                iam,
                counter,
                retry,
                settle,
                propagation_timeout,
                route_age,
                workers,
                progress,
            )


def _preview(state: Reconciliation, counter: CallCounter) -> ApplyResult:
    return ApplyResult(
        mode="dry-run",
        applied=(),
        already=sorted(state.done, key=_step_key),
        failed=(),
        remaining=[s.id for s in state.remaining],
        calls=counter.counts,
    )


def _checked(
    plan: Plan, iam: Any, sts: Any, retry: RetryPolicy, rules: Exemptions, allow_unmatched: bool
) -> tuple[Reconciliation, AccountModel]:
    """Read the account and check it against *plan*: drift, the exemptions at apply, the
    remaining steps replayed on the live state, and the control paths with the live
    documents; raise otherwise. Returns the reconciliation and the replay's end state
    (the account once every step is done)."""
    live = scan(iam=iam, sts=sts, retry=retry)
    if not allow_unmatched:
        rules.check_matched(live.users)
    state = reconcile(plan, live)
    _refuse_exempt(state, live, rules)
    final = state.verify_remaining()
    check_live(plan, live)
    return state, final


def _refuse_exempt(state: Reconciliation, live: Inventory, rules: Exemptions) -> None:
    """Refuse steps that would change a user the apply-time rules exempt, by live tags."""
    changes = []
    for user in sorted({s.params["UserName"] for s in state.remaining if "UserName" in s.params}):
        found = live.user_by_name.get(user)
        if found is not None and (reason := rules.reason(found)):
            changes.append(f"user {user!r} is exempt at apply ({reason}); the plan would change it")
    if changes:
        raise DriftError(changes)


def _settle_found(executor: Executor, step: Step, prior: StepState | None) -> Outcome:
    """A step found in place that the journal does not record as done: whose is it?

    After an unsettled attempt of ours (a crash mid-call, a lost answer) it is
    ours: a removal at once, a create if the entity was made after that attempt
    began. Otherwise someone else's.
    """
    if prior is None or not prior.unsettled:
        return Outcome("already")
    if not step.spec.creates:
        return Outcome("seen")
    entity = executor.identify(step)
    ours = claims(entity, prior, None, window=executor.window)
    return Outcome("seen" if ours else "already", 0, entity)


def _same_entity(executor: Executor, step: Step, prior: StepState) -> bool:
    """Whether the live group or policy a create step names is the one the journal
    recorded (a group deleted and made again by someone else is not)."""
    if prior.entity is None:
        return True  # a journal that recorded no ids: the name decides
    return claims(executor.identify(step), prior, None, window=executor.window)


def _refuse_changing_theirs(plan: Plan, state: Reconciliation, foreign: list[str]) -> None:
    """Refuse to fill a group (or attach a policy) that the plan meant to create but
    somebody else did: groupify changes only what it made."""
    by_id = {s.id: s for s in plan.steps}
    theirs: dict[tuple[str, str], str] = {}
    for sid in foreign:
        key, value, label = created_entity(by_id[sid], plan)
        theirs[(key, value)] = label
    changes = sorted(
        {
            f"{theirs[key]} exists but groupify did not create it; the plan would change it "
            "(if an earlier run of this plan made it, apply with that run's journal)"
            for s in state.remaining
            for key in s.params.items()
            if key in theirs
        }
    )
    if changes:
        raise DriftError(changes)


def _step_key(step_id: str) -> int:
    return int(step_id[1:]) if step_id[1:].isdigit() else 0


def _run(
    plan: Plan,
    state: Reconciliation,
    final: AccountModel,
    log: Journal,
    iam: Any,
    counter: CallCounter,
    retry: RetryPolicy,
    settle: float,
    propagation_timeout: float,
    route_age: float,
    workers: int,
    progress: Progress | None,
) -> ApplyResult:
    executor = Executor(
        plan,
        iam,
        retry=retry,
        settle=settle,
        propagation_timeout=propagation_timeout,
        route_age=route_age,
        final=final,
        calls=workers,
    )
    by_id = {s.id: s for s in plan.steps}
    if log.started:
        executor.resumed()
    history = log.steps()
    log.record("run", mode="apply")
    already: list[str] = []
    foreign: list[str] = []
    for sid in sorted(state.done, key=_step_key):
        step = by_id[sid]
        prior = history.get(sid)
        if prior is None or prior.state not in ("applied", "already"):
            # In place, but not recorded so: either an earlier run's call went through
            # before it could say so (ours), or someone else did it (not ours).
            outcome = _settle_found(executor, step, prior)
            log.record("done", sid, **outcome.record())
            if outcome.kind == "already" and step.spec.creates:
                foreign.append(sid)
        elif step.spec.creates and (
            prior.state == "already" or not _same_entity(executor, step, prior)
        ):
            foreign.append(sid)
        already.append(sid)
    _refuse_changing_theirs(plan, state, foreign)

    def execute(step: Step) -> str:
        try:
            if step.is_destructive:
                executor.confirm_route(step)
            return executor.journaled(log, step, step.id, prior=history.get(step.id))
        finally:
            if executor.lanes is not None:
                executor.lanes.resume()  # a thread idle when its last retry gave up

    # A step backing off after throttling, or waiting for its route to show, holds a
    # thread but lets another step make its call (at most *workers* calls in flight).
    applied, found, failed, remaining = run_steps(
        state.remaining,
        execute,
        workers=workers,
        done=state.done,
        progress=progress,
        lanes=executor.lanes,
        stop=executor.stopping,
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
