"""Undo what runs of a plan did, from their journal, without an access gap.

Each step a run sent is reversed, in reverse plan order (so a user's direct
policies are back, and visible, before its group membership goes), and only
where its effect is still in place. Groups and policies are deleted only
where a run of this journal created them; nothing else is ever deleted.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Callable, Mapping
from typing import Any

from groupify.aws import RetryPolicy, counted_clients
from groupify.errors import DriftError
from groupify.inventory.account import scan
from groupify.inventory.model import Inventory, PolicyRef
from groupify.plan.model import Plan
from groupify.plan.ops import PLAN_OPS, Backend
from groupify.plan.reconcile import is_done, live_model, reconcile
from groupify.plan.replay import AccountModel
from groupify.plan.steps import Step
from groupify.runtime.executor import (
    ROUTE_AGE,
    Executor,
    Progress,
    check_waits,
    claims,
    created_entity,
    run_steps,
)
from groupify.runtime.journal import Journal, StepState
from groupify.runtime.result import ApplyResult

__all__ = ["REVERSE", "reverse", "rollback", "undo_steps"]


#: Per plan op: the parameters of the call that undoes it (the op table names
#: the call). Only what the plan itself records is needed: a deleted inline
#: policy's document comes from the plan's inventory.
REVERSE: Backend[Callable[[Mapping[str, str], Inventory], dict[str, str]]] = Backend(
    "reverse", PLAN_OPS
)


@REVERSE.register("create_group")
def _delete_group(p: Mapping[str, str], inv: Inventory) -> dict[str, str]:
    return {"GroupName": p["GroupName"]}


@REVERSE.register("create_policy")
def _delete_policy(p: Mapping[str, str], inv: Inventory) -> dict[str, str]:
    return {"PolicyArn": inv.policy_arn(p["PolicyName"], p.get("Path", "/"))}


@REVERSE.register("attach_group_policy", "add_user_to_group", "detach_user_policy")
def _same_params(p: Mapping[str, str], inv: Inventory) -> dict[str, str]:
    return dict(p)


@REVERSE.register("put_group_policy")
def _delete_group_policy(p: Mapping[str, str], inv: Inventory) -> dict[str, str]:
    return {"GroupName": p["GroupName"], "PolicyName": p["PolicyName"]}


@REVERSE.register("delete_user_policy")
def _put_user_policy(p: Mapping[str, str], inv: Inventory) -> dict[str, str]:
    user = inv.user_by_name[p["UserName"]]
    document = next(x.document for x in user.inline if x.name == p["PolicyName"])
    return {**p, "PolicyDocument": document}


def reverse(step: Step, plan: Plan) -> Step:
    """The IAM call that undoes *step* (id ``u<n>`` for step ``s<n>``)."""
    undo = step.spec.reverse
    if undo is None:
        raise ValueError(f"cannot reverse {step.op!r}")
    params = REVERSE[step.op](step.params, plan.inventory)
    return Step.make("u" + step.id.removeprefix("s"), undo, params)


def undo_steps(
    plan: Plan,
    journal: Journal,
    model: AccountModel,
    identify: Callable[[Step], Mapping[str, str] | None] | None = None,
    *,
    window: dt.timedelta = dt.timedelta(minutes=15),
) -> tuple[list[tuple[Step, Step]], list[tuple[str, str]], list[tuple[str, str]]]:
    """(step, its reverse) for every step this journal's runs made that is still in place;
    (reverse id, why) for groupify's steps that are no longer in place (changed by
    someone since: nothing to undo, but the operator should look); and (step id, why)
    for the steps in place that are someone else's.

    Ownership is the journal's record, checked against the live entities: a
    group or policy groupify created is deleted only if it is the very entity
    the journal recorded (*identify* reads its id and creation date; without
    it, the name decides, as for journals that recorded no ids). What sits on a
    group or policy that is not groupify's is not groupify's either.
    Reverse plan order; each reverse runs after the one before it (sequential).
    """
    history = journal.steps()
    by_id = {s.id: s for s in plan.steps}
    foreign: dict[str, str] = {}  # step id -> why it is not ours
    theirs: dict[tuple[str, str], str] = {}  # (param, value) of a created entity not ours
    for step in plan.steps:
        if not step.spec.creates or not is_done(step, model):
            continue
        why = _not_ours(step, history.get(step.id), identify, window)
        if why is not None:
            foreign[step.id] = why
            key, value, label = created_entity(step, plan)
            theirs[(key, value)] = label
    out: list[tuple[Step, Step]] = []
    changed: list[Step] = []  # groupify's, but no longer in place: nothing to undo
    previous: list[str] = []
    for step in reversed(plan.steps):
        if step.id in foreign:
            continue
        if not is_done(step, model):
            state = history.get(step.id)
            if state is not None and state.state == "applied" and not state.undoing:
                changed.append(step)
            continue
        on = next((theirs[k] for k in step.params.items() if k in theirs), None)
        state = history.get(step.id)
        if on is not None:
            foreign[step.id] = f"it is on {on}, which is not groupify's"
            continue
        if state is None or not state.ours:
            foreign[step.id] = _why_theirs(state)
            continue
        undo = reverse(step, plan)
        undo = Step(undo.id, undo.op, undo.param_items, tuple(previous))
        out.append((step, undo))
        previous = [undo.id]
    order = {s.id: i for i, s in enumerate(plan.steps)}
    gone = [
        (
            reverse(step, plan).id,
            f"{step.op}({', '.join(x for x in step.parts() if x)}) is no longer as groupify "
            "left it (someone changed or removed it since): nothing to undo; check it by hand",
        )
        for step in changed
    ]
    return (
        out,
        gone,
        [
            (sid, f"{step.op}({', '.join(x for x in step.parts() if x)}): {foreign[sid]}")
            for sid, step in sorted(
                ((sid, by_id[sid]) for sid in foreign), key=lambda kv: order[kv[0]]
            )
        ],
    )


def _undone_already(plan: Plan, journal: Journal, model: AccountModel) -> list[str]:
    """Steps an earlier rollback began to reverse, whose effect is gone now."""
    history = journal.steps()
    return [
        s.id
        for s in plan.steps
        if (state := history.get(s.id)) is not None
        and state.undoing
        and state.ours
        and not is_done(s, model)
    ]


def _not_ours(
    step: Step,
    state: StepState | None,
    identify: Callable[[Step], Mapping[str, str] | None] | None,
    window: dt.timedelta,
) -> str | None:
    """Why the group or policy a create step names, now in place, is not groupify's."""
    if state is None or not state.ours:
        return _why_theirs(state)
    if identify is None or (state.entity is None and not state.unsettled):
        return None  # a journal without entity ids: the name decides
    entity = identify(step)
    if entity is None:
        return None  # gone since: nothing to delete
    if claims(entity, state, None, window=window):
        return None
    if state.entity is not None:
        return (
            f"it is not the entity groupify created (id {entity.get('id')}, created "
            f"{entity.get('created')}; groupify's was {state.entity.get('id')}): someone "
            "deleted it and made another with the same name"
        )
    return (
        f"it was created at {entity.get('created')}, outside the time groupify's unfinished "
        f"call (begun {state.since}) could have made it: someone else made it"
    )


def _why_theirs(state: StepState | None) -> str:
    match None if state is None else state.state:
        case "already":
            return "it was in place before groupify's call: someone else did it"
        case "undone":
            return "an earlier rollback undid it; someone else did it again since"
        case "failed":
            return "groupify's call was refused; someone else did it"
        case _:
            return "no run of this journal did it"


def rollback(
    journal: str | os.PathLike[str],
    session: Any = None,
    *,
    dry_run: bool = False,
    retry: RetryPolicy | None = None,
    settle: float = 5.0,
    propagation_timeout: float = 120.0,
    route_age: float = ROUTE_AGE,
    iam: Any = None,
    sts: Any = None,
    progress: Progress | None = None,
) -> ApplyResult:
    """Restore the state the plan in *journal* started from, as far as its runs changed it.

    Drift does not stop it: where someone changed the account since (a member or
    a policy added to a created group, a user deleted), the reverse calls are
    tried on a model of the live account first, and each one that IAM would
    refuse, that would take away access a user has now, or that would give a
    user access it had neither now nor before the run, is left out and listed
    in the result's ``kept`` with the reason, so that the operator can finish by
    hand; the rest go ahead. What drifted is listed in ``drift``.

    A user is taken out of a group only once a read of its direct policies, begun
    at most *route_age* seconds before each attempt of the call, shows them back.
    """
    check_waits(settle=settle, propagation_timeout=propagation_timeout, route_age=route_age)
    log = Journal.read(journal)
    plan = log.plan
    retry = retry or RetryPolicy()
    if not log.ours():
        # Nothing this journal's runs did is left in place by their own record (a
        # rollback already undid it all, say): nothing to read, nothing to call.
        return ApplyResult(
            mode="dry-run" if dry_run else "rollback",
            applied=(),
            already=(),
            failed=(),
            remaining=(),
            journal=log.path,
        )
    with (
        counted_clients(session, iam, sts) as (iam, sts, counter),
        contextlib.nullcontext(log) if dry_run else log.locked(),
    ):
        if not dry_run:
            log = Journal.read(log.path)  # under the lock: a run that held it may have ended
        live = scan(iam=iam, sts=sts, retry=retry)
        try:
            reconcile(plan, live)
            drift: tuple[str, ...] = ()
        except DriftError as exc:  # roll back what is safe; list the rest
            drift = exc.changes
        model = live_model(plan, live)
        executor = Executor(
            plan,
            iam,
            retry=retry,
            settle=settle,
            propagation_timeout=propagation_timeout,
            route_age=route_age,
        )
        ours, changed, foreign = undo_steps(
            plan, log, model, executor.identify, window=executor.window
        )
        baseline = {u.name: plan.inventory.access(u) for u in plan.inventory.users}
        pairs, kept = _safe_undos(plan, ours, live, baseline)
        kept = [*kept, *changed]
        gone = _undone_already(plan, log, model)
        undos = [u for _, u in pairs]
        if dry_run:
            return ApplyResult(
                mode="dry-run",
                applied=(),
                already=(),
                failed=(),
                remaining=[u.id for u in undos],
                kept=kept,
                foreign=foreign,
                drift=drift,
                steps=undos,
                calls=counter.counts,
                journal=log.path,
            )
        original = {u.name: u for u in plan.inventory.users}
        log.record("run", mode="rollback")
        for sid in gone:
            # An earlier rollback's reverse call went through, and the run stopped
            # before it could say so: settled by this read.
            log.record("undo-done", sid, outcome="seen")
        forward = {u.id: s for s, u in pairs}

        def execute(undo: Step) -> str:
            step = forward[undo.id]
            if undo.op == "remove_user_from_group":
                user = original[undo.params["UserName"]]
                group_refs = executor.final.group_policies(undo.params["GroupName"])
                executor.confirm_direct(user.name, user.direct & group_refs, undo)
            return executor.journaled(log, undo, step.id, prefix="undo-")

        applied, already, failed, remaining = run_steps(
            undos, execute, workers=1, progress=progress, stop=executor.stopping
        )
        return ApplyResult(
            mode="rollback",
            applied=applied,
            already=already,
            failed=failed,
            remaining=remaining,
            kept=kept,
            foreign=foreign,
            drift=drift,
            steps=undos,
            calls=counter.counts,
            journal=log.path,
        )


def _safe_undos(
    plan: Plan,
    pairs: list[tuple[Step, Step]],
    live: Inventory,
    baseline: Mapping[str, frozenset[PolicyRef]],
) -> tuple[list[tuple[Step, Step]], list[tuple[str, str]]]:
    """Keep the reverse calls that are safe on the live state; say why the others are not.

    Each reverse call is tried on a model of the live account. It is left out
    (and the model keeps the forward state) where IAM would refuse it (a
    created group with a policy or member groupify did not add), where it would
    delete a created policy whose document someone changed, or where a user it
    affects would lose access it has now or gain access it had neither now nor
    in *baseline* (before the run). Without drift "now" is the baseline, so each
    call keeps every user's access exactly as before the run.
    """
    model = live_model(plan, live)
    protected = {e.user: f"is exempt ({e.reason})" for e in plan.exceptions}
    for now in live.users:
        planned = plan.inventory.user_by_name.get(now.name)
        if reason := plan.exemptions.reason(now):
            protected.setdefault(now.name, f"is exempt now ({reason})")
        elif planned and planned.user_id and now.user_id and planned.user_id != now.user_id:
            protected[now.name] = "was deleted and created again: another principal"
    keep: list[tuple[Step, Step]] = []
    kept: list[tuple[str, str]] = []
    previous: list[str] = []
    label = plan.inventory.label
    for step, undo in pairs:
        user = undo.params.get("UserName")
        if user is not None and user in protected:
            kept.append((undo.id, f"{undo.op} left out: {user!r} {protected[user]}"))
            continue
        arn = undo.params.get("PolicyArn")
        if undo.op == "delete_policy" and arn is not None:
            held = live.policy_by_arn.get(arn)
            if held is not None and held.document != plan.created_policies.get(arn):
                kept.append(
                    (undo.id, f"delete_policy left out: {arn} was changed since groupify made it")
                )
                continue
        before = {u: model.access(u) for u in _who(model, undo)}
        try:
            affected = model.apply(undo.op, undo.params)
        except ValueError as exc:
            kept.append((undo.id, f"{undo.op} left out: {exc}"))
            continue
        after = {u: model.access(u) for u in affected}
        for u in after.keys() - before.keys():  # not foreseen: hold it to the baseline
            before[u] = baseline.get(u, after[u])
        why = _access_change(after, before, baseline, label)
        if why is not None:
            model.apply(step.op, step.params)
            kept.append((undo.id, f"{undo.op} left out: {why}"))
            continue
        keep.append((step, Step(undo.id, undo.op, undo.param_items, tuple(previous))))
        previous = [undo.id]
    return keep, kept


def _who(model: AccountModel, undo: Step) -> list[str]:
    """The users a reverse call may change: its user, or its group's members."""
    p = undo.params
    if "UserName" in p:
        return [p["UserName"]] if p["UserName"] in model.user_groups else []
    if "GroupName" in p:
        return [u for u, groups in model.user_groups.items() if p["GroupName"] in groups]
    return []


def _access_change(
    after: Mapping[str, frozenset[PolicyRef]],
    before: Mapping[str, frozenset[PolicyRef]],
    baseline: Mapping[str, frozenset[PolicyRef]],
    label: Callable[[PolicyRef], str],
) -> str | None:
    """Why a reverse call would hurt: a user loses access it has, or gains access it never had."""
    for user in sorted(after):
        lost = before[user] - after[user]
        if lost:
            return f"{user!r} would lose {label(min(lost))}, which it holds now"
        gained = after[user] - before[user] - baseline.get(user, frozenset())
        if gained:
            return f"{user!r} would gain {label(min(gained))}, which it did not hold before the run"
    return None
