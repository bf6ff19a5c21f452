"""The live account against a plan: what is done, what drifted, what access users have.

Pure functions over a live :class:`~groupify.Inventory` (from :func:`groupify.scan`)
and a :class:`~groupify.Plan`; no AWS calls here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cached_property

from attrs import frozen

from groupify.errors import DriftError, StalePlanError
from groupify.inventory.model import Inventory, PolicyRef
from groupify.inventory.policy import canonical_document
from groupify.plan.model import Plan
from groupify.plan.ops import PLAN_OPS, Backend
from groupify.plan.replay import AccountModel, check_steps
from groupify.plan.steps import Step

__all__ = ["DONE", "Reconciliation", "access_report", "is_done", "live_model", "reconcile"]


def live_model(plan: Plan, live: Inventory) -> AccountModel:
    """A model of the live account in which the plan's own policies and groups are known.

    A policy the plan creates stands, once it exists, for the document it
    actually holds (so a policy changed behind our back shows as changed access).
    """
    made = {}
    for arn in plan.created_policies:
        found = live.policy_by_arn.get(arn)
        if found is not None and found.document is not None:
            made[arn] = found.document
    groups = {g for g in plan.created_groups if g in live.group_by_name}
    return AccountModel(live, created_policies=made, created_groups=groups)


#: Whether a plan step's effect is already in place in a model of the account.
DONE: Backend[Callable[[AccountModel, Mapping[str, str]], bool]] = Backend("done", PLAN_OPS)


@DONE.register("create_group")
def _group_exists(model: AccountModel, p: Mapping[str, str]) -> bool:
    return p["GroupName"] in model.group_managed


@DONE.register("create_policy")
def _policy_exists(model: AccountModel, p: Mapping[str, str]) -> bool:
    arn = model.inventory.policy_arn(p["PolicyName"], p.get("Path", "/"))
    return arn in model.created or arn in model.inventory.policy_by_arn


@DONE.register("attach_group_policy")
def _group_policy_attached(model: AccountModel, p: Mapping[str, str]) -> bool:
    return p["PolicyArn"] in model.group_managed.get(p["GroupName"], ())


@DONE.register("put_group_policy")
def _group_policy_put(model: AccountModel, p: Mapping[str, str]) -> bool:
    have = model.group_inline.get(p["GroupName"], {}).get(p["PolicyName"])
    return have is not None and have == canonical_document(p["PolicyDocument"])


@DONE.register("add_user_to_group")
def _member(model: AccountModel, p: Mapping[str, str]) -> bool:
    return p["GroupName"] in model.user_groups.get(p["UserName"], ())


@DONE.register("detach_user_policy")
def _user_policy_detached(model: AccountModel, p: Mapping[str, str]) -> bool:
    return p["PolicyArn"] not in model.user_managed.get(p["UserName"], ())


@DONE.register("delete_user_policy")
def _user_policy_deleted(model: AccountModel, p: Mapping[str, str]) -> bool:
    return p["PolicyName"] not in model.user_inline.get(p["UserName"], {})


def is_done(step: Step, model: AccountModel) -> bool:
    """Whether the effect of *step* is already in place in *model*."""
    if step.op not in DONE.ops:
        raise ValueError(f"unknown operation {step.op!r}")
    return DONE[step.op](model, step.params)


@frozen
class Reconciliation:
    """The plan against the live account: which steps are done, and the live model."""

    plan: Plan
    live: Inventory
    done: frozenset[str]

    @cached_property
    def model(self) -> AccountModel:
        return live_model(self.plan, self.live)

    @property
    def remaining(self) -> tuple[Step, ...]:
        return tuple(s for s in self.plan.steps if s.id not in self.done)

    @cached_property
    def baseline(self) -> dict[str, frozenset[PolicyRef]]:
        """Each user's access when the plan was made: what it must keep."""
        inv = self.plan.inventory
        return {u.name: inv.access(u) for u in inv.users}

    def verify_remaining(self) -> AccountModel:
        """Replay the remaining steps on the live state; raise if any opens a gap or widens."""
        plan = self.plan
        protected = {e.user: e.reason for e in plan.exceptions}
        caller = self.live.caller_user or plan.inventory.caller_user
        if caller:
            protected.setdefault(caller, "runs groupify")
        return check_steps(
            self.live,
            self.remaining,
            in_scope=plan.in_scope,
            protected=protected,
            model=live_model(plan, self.live),
            baseline=self.baseline,
            check_dag=False,
        )


def _user_state(model: AccountModel, user: str) -> tuple[object, ...]:
    return (
        frozenset(model.user_managed[user]),
        frozenset(model.user_inline[user].items()),
        frozenset(model.user_groups[user]),
    )


def _group_state(model: AccountModel, group: str) -> tuple[object, ...]:
    return (frozenset(model.group_managed[group]), frozenset(model.group_inline[group].items()))


def reconcile(plan: Plan, live: Inventory) -> Reconciliation:
    """Compare the live account with the plan's inventory plus the steps done so far.

    A step is *done* when its effect is in place (read from the account, not
    trusted from a journal). Every user and group the
    plan touches must then look exactly as the plan's inventory with the done
    steps applied; the done steps must include all their prerequisites; and
    groups and policies the plan creates must hold nothing the plan did not
    put there. Otherwise :class:`DriftError` lists what changed.
    """
    if live.account_id != plan.account_id:
        raise StalePlanError(f"plan is for account {plan.account_id}, not {live.account_id}")
    caller = live.caller_user
    if caller and caller in plan.in_scope:
        raise StalePlanError(
            f"the plan changes user {caller!r}, who is running groupify; run it as another "
            "principal, or make a new plan with this one as the caller"
        )
    model = live_model(plan, live)
    changes: list[str] = []
    for arn, document in sorted(plan.created_policies.items()):
        found = live.policy_by_arn.get(arn)
        if found is not None and found.document != document:
            changes.append(f"policy {arn} exists with another document")

    done = {s.id for s in plan.steps if _safe_is_done(s, model)}
    by_id = {s.id: s for s in plan.steps}
    # Runs of the plan go in DAG order, so what they leave done includes every
    # prerequisite of every done step (and, by induction, every ancestor). A
    # done step with a prerequisite undone was undone, or done, by someone else:
    # a policy taken off a new group, a direct policy removed by hand.
    for sid in sorted(done, key=lambda x: int(x[1:]) if x[1:].isdigit() else 0):
        missing = [d for d in by_id[sid].after if d not in done]
        if missing:
            verb = "is already gone" if by_id[sid].is_destructive else "is in place"
            changes.append(
                f"{_describe(by_id[sid])} {verb} but {_describe(by_id[missing[0]])} is not"
            )

    expected = AccountModel(plan.inventory)
    for step in plan.steps:
        if step.id in done:
            try:
                expected.apply(step.op, step.params)
            except ValueError as exc:
                changes.append(f"{_describe(step)}: {exc}")
    touched_users = set(plan.in_scope) | {
        s.params["UserName"] for s in plan.steps if "UserName" in s.params
    }
    for user in sorted(touched_users):
        if user not in model.user_managed:
            changes.append(f"user {user!r} no longer exists")
            continue
        old = plan.inventory.user_by_name[user]
        new = live.user_by_name[user]
        if old.user_id and new.user_id and old.user_id != new.user_id:
            changes.append(f"user {user!r} was deleted and created again")
        elif _user_state(expected, user) != _user_state(model, user):
            changes.append(_diff_user(expected, model, user))
        elif model.access(user) != plan.inventory.access(old):
            changes.append(f"user {user!r} does not have the access it had when planned")
        if reason := plan.exemptions.reason(new):
            changes.append(f"user {user!r} is now exempt ({reason}); the plan would change it")
    touched_groups = {s.params["GroupName"] for s in plan.steps if "GroupName" in s.params}
    for user in touched_users:
        touched_groups |= set(expected.user_groups.get(user, ()))
    for group in sorted(touched_groups):
        if group not in expected.group_managed:
            if group in model.group_managed:
                changes.append(f"group {group!r} exists but the plan has not created it yet")
            continue
        if group not in model.group_managed:
            changes.append(f"group {group!r} no longer exists")
            continue
        was = plan.inventory.group_by_name.get(group)
        now = live.group_by_name.get(group)
        if was and now and was.group_id and now.group_id and was.group_id != now.group_id:
            changes.append(f"group {group!r} was deleted and created again")
            continue
        if _group_state(expected, group) != _group_state(model, group):
            changes.append(f"group {group!r} has other policies than planned")
        if (
            group in expected.created_groups
            and expected.group_members[group] != (model.group_members[group])
        ):
            changes.append(f"group {group!r} has members the plan did not add")
    if changes:
        raise DriftError(changes)
    return Reconciliation(plan=plan, live=live, done=frozenset(done))


def _safe_is_done(step: Step, model: AccountModel) -> bool:
    try:
        return is_done(step, model)
    except KeyError:
        return False


def _describe(step: Step) -> str:
    return f"{step.id} {step.op}({', '.join(x for x in step.parts() if x)})"


def _diff_user(expected: AccountModel, live: AccountModel, user: str) -> str:
    parts = []
    for label, a, b in (
        ("managed policies", expected.user_managed[user], live.user_managed[user]),
        ("inline policies", set(expected.user_inline[user]), set(live.user_inline[user])),
        ("groups", expected.user_groups[user], live.user_groups[user]),
    ):
        added, removed = sorted(set(b) - set(a)), sorted(set(a) - set(b))
        if added:
            parts.append(f"{label} added: {', '.join(x.rsplit('/', 1)[-1] for x in added)}")
        if removed:
            parts.append(f"{label} removed: {', '.join(x.rsplit('/', 1)[-1] for x in removed)}")
    if not parts:
        parts.append("an inline policy document changed")
    return f"user {user!r}: " + "; ".join(parts)


def access_report(
    plan: Plan, live: Inventory
) -> Mapping[str, tuple[frozenset[PolicyRef], frozenset[PolicyRef]]]:
    """Per user of the plan's inventory still in the account: (access then, access now)."""
    model = live_model(plan, live)
    out = {}
    for user in plan.inventory.users:
        if user.name in model.user_managed:
            out[user.name] = (plan.inventory.access(user), model.access(user.name))
    return out
