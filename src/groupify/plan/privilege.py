"""Control paths: who could change, or join, the groups a plan creates or fills.

Moving a user's grants into a group changes who may change those grants. For
every user U and every group G the plan creates or adds members to, there is
a *finding* when, at the end of the plan (memberships only grow, so the end
is the worst moment of every order the DAG allows):

* U is a new member of G and may ``iam:AttachGroupPolicy`` or
  ``iam:PutGroupPolicy`` on G, or may ``iam:CreatePolicyVersion`` or
  ``iam:SetDefaultPolicyVersion`` on a customer-managed policy attached to G:
  it could raise its own access through its new group;
* G is new, U is not in it, U may ``iam:AddUserToGroup`` on G and G grants a
  policy U does not hold: a new way up.

Unless U could already raise its own access without limit before the plan:
it may attach or put any policy on its own user, or on a group it is already
in (it gains nothing). U's permissions come from its identity policies and its
permissions boundary as :class:`~groupify.privilege.Evaluator` reads them; an
answer that depends on a condition, or on a document groupify does not have,
counts as "may" (:attr:`~groupify.privilege.Answer.possible`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

import attrs
from attrs import frozen

from groupify.errors import EscalationError
from groupify.inventory.model import Inventory, PolicyRef, User
from groupify.plan.replay import AccountModel, created_policies
from groupify.plan.steps import Step
from groupify.privilege.evaluate import Answer, Evaluator, statements
from groupify.privilege.risk import SINGLE_MEMBER, RiskFlag, assess_policies

if TYPE_CHECKING:
    from groupify.plan.model import Plan

__all__ = [
    "Finding",
    "Risk",
    "RolePath",
    "check_live",
    "control_findings",
    "final_model",
    "risk_review",
    "role_paths",
    "summary",
    "unaccepted",
]

#: Calls that change what a group grants.
CHANGE_GROUP = ("iam:AttachGroupPolicy", "iam:PutGroupPolicy")
#: Calls that change what a customer-managed policy says.
CHANGE_POLICY = ("iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion")
#: The call that joins a group.
JOIN = "iam:AddUserToGroup"
#: Calls that take a group's Deny away from a member (its policy, or the member itself).
LIFT_DENY = ("iam:DetachGroupPolicy", "iam:DeleteGroupPolicy", "iam:RemoveUserFromGroup")
#: The call that renames a group or moves it to another path, out of a Deny's reach.
MOVE_GROUP = "iam:UpdateGroup"
#: Calls that give a user any policy directly: whoever may make them is admin-equivalent.
CHANGE_USER = ("iam:AttachUserPolicy", "iam:PutUserPolicy")


@frozen
class Finding:
    """A user the plan would give a way to raise its own access."""

    user: str
    #: The group it concerns (empty for a policy the plan creates, attachable to the user).
    group: str
    action: str
    resource: str
    answer: Answer
    #: How: ``member`` (joins the group), ``joinable`` (may add itself to it) or
    #: ``new-policy`` (may attach a policy the plan creates).
    via: str = "member"

    @property
    def id(self) -> str:
        """A stable name to accept it by: ``user:Action:group[:policy]`` (``user:Action:policy``
        for a policy the plan creates)."""
        parts = [self.user, self.action.split(":", 1)[1]]
        if self.group:
            parts.append(self.group)
        if ":policy/" in self.resource:
            parts.append(self.resource.split(":policy/", 1)[1])  # path and name
        return ":".join(parts)

    @property
    def key(self) -> str:
        """What an acceptance records: the id and the answer (``…=yes``). A finding that
        comes back with another answer (a condition dropped, say) is not accepted."""
        return f"{self.id}={self.answer.value}"

    @property
    def why(self) -> str:
        """One line for a reviewer: who, which group, which call, how sure."""
        how = {
            Answer.YES: "its policies allow it",
            Answer.CONDITIONAL: "its policies allow it under a condition",
            Answer.UNKNOWN: "a policy it holds has no document here, so it may",
        }[self.answer]
        policy = self.resource.rsplit("/", 1)[-1]
        if self.via == "new-policy":
            what = (
                f"may attach policy {policy!r}, which the plan creates and which grants more "
                f"({self.action} on {'its group ' + repr(self.group) if self.group else 'itself'})"
            )
        elif self.action == JOIN:
            what = f"may add itself to new group {self.group!r} ({self.action}), which grants more"
        elif self.via == "joinable":
            what = f"may add itself to new group {self.group!r} and then change it ({self.action})"
        elif self.action in LIFT_DENY:
            what = (
                f"joins group {self.group!r}, which carries a Deny, and may take the Deny "
                f"away ({self.action})"
            )
        elif self.action in CHANGE_POLICY:
            what = (
                f"joins group {self.group!r} and may change policy "
                f"{self.resource.rsplit('/', 1)[-1]!r} attached to it ({self.action})"
            )
        else:
            what = f"joins group {self.group!r} and may change what it grants ({self.action})"
        return f"{self.id}: user {self.user!r} {what}; {how}"

    def to_dict(self) -> dict[str, str]:
        return {
            "id": self.id,
            "user": self.user,
            "group": self.group,
            "action": self.action,
            "resource": self.resource,
            "answer": self.answer.value,
            "via": self.via,
        }


class _Evaluators:
    """One evaluator per distinct (policies, boundary): users with the same grants share it."""

    def __init__(self, inventory: Inventory) -> None:
        self.inventory = inventory
        self._by_key: dict[tuple[frozenset[PolicyRef], str | None], Evaluator] = {}
        self._answers: dict[tuple[int, str, str], Answer] = {}

    def of(self, user: User, access: frozenset[PolicyRef]) -> Evaluator:
        key = (access, user.permissions_boundary)
        found = self._by_key.get(key)
        if found is None:
            inv = self.inventory
            found = Evaluator.of(
                (inv.document(ref) for ref in sorted(access)), inv.boundary_document(user)
            )
            self._by_key[key] = found
        return found

    def may(self, evaluator: Evaluator, action: str, resource: str) -> Answer:
        key = (id(evaluator), action, resource)
        answer = self._answers.get(key)
        if answer is None:
            answer = self._answers[key] = evaluator.may(action, resource)
        return answer


def final_model(inventory: Inventory, steps: Iterable[Step]) -> AccountModel:
    """The account after *steps*, replayed on *inventory* without the checks (memberships
    only grow: the worst moment of every order); :func:`~groupify.plan.replay.check_steps`
    returns the same model from its checked replay."""
    final = AccountModel(inventory)
    for step in steps:
        final.apply(step.op, step.params)
    return final


def _end(
    inventory: Inventory, steps: Sequence[Step], end: AccountModel | None
) -> tuple[AccountModel, set[str], list[str]]:
    """The account at the end of *steps* (*end*, when the caller has it), the groups they
    create, and every group they create or add members to."""
    final = end if end is not None else final_model(inventory, steps)
    created: set[str] = set()
    joined: set[str] = set()
    for s in steps:
        if s.spec.creates == "group":
            created.add(s.params["GroupName"])
        elif s.op == "add_user_to_group":
            joined.add(s.params["GroupName"])
    return final, created, sorted(created | joined)


def _customer_policies(final: AccountModel, group: str) -> list[str]:
    """The customer-managed policies attached to *group* at the end (AWS's cannot change)."""
    return [p for p in sorted(final.group_managed[group]) if p.split(":")[4] != "aws"]


def _group_arns(
    inventory: Inventory, groups: Iterable[str], steps: Iterable[Step]
) -> dict[str, str]:
    """Each of *groups*' ARN: the inventory's, or the one its first ``create_group``
    step in *steps* gives it."""
    paths: dict[str, str] = {}
    for s in steps:
        if s.op == "create_group":
            p = s.params
            paths.setdefault(p["GroupName"], p.get("Path", "/"))
    out = {}
    for group in groups:
        existing = inventory.group_by_name.get(group)
        out[group] = (
            existing.arn
            if existing is not None
            else f"arn:{inventory.partition}:iam::{inventory.account_id}:group"
            f"{paths.get(group, '/')}{group}"
        )
    return out


def control_findings(
    inventory: Inventory,
    steps: Sequence[Step],
    *,
    documents: Inventory | None = None,
    principals: Iterable[tuple[User, frozenset[PolicyRef]]] | None = None,
    live_groups: Mapping[str, Iterable[str]] | None = None,
    end: AccountModel | None = None,
) -> tuple[Finding, ...]:
    """Every way the plan's *steps* would let a user raise its own access.

    *documents* supplies the policy and boundary documents (default: *inventory*'s;
    at apply, the live account's). *principals* are the users to check with
    their access (default: *inventory*'s users; at apply, the live account's,
    including users created since planning). Group memberships before the plan
    are *inventory*'s, less any a user has left since (*live_groups*: each live
    user's groups, at apply). *end* is the account after *steps* (:func:`final_model`),
    when the caller has it already.
    """
    final, created, groups = _end(inventory, steps, end)
    source = documents or inventory
    evaluators = _Evaluators(source)
    before = {u.name: set(u.groups) for u in inventory.users}
    existing = {g.name: g.arn for g in inventory.groups}
    new_policies = created_policies(inventory, steps)
    out: list[Finding] = []

    def unbounded(user: User, ev: Evaluator, groups_before: Iterable[str]) -> list[tuple[str, str]]:
        # What it may do already to raise its access without limit: attach or put any
        # policy on itself, or on a group it is in.
        own = [(a, user.arn) for a in CHANGE_USER]
        arns = [existing[g] for g in groups_before if g in existing]
        return [*own, *((a, arn) for arn in arns for a in CHANGE_GROUP)]

    def new(ev: Evaluator, action: str, resource: str) -> bool:
        # Nothing new if, whenever it may do this, it may already do one of those.
        return not any(ev.whenever(a, r, (action, resource)) for a, r in already)

    def possible(ev: Evaluator, action: str, resource: str) -> Answer | None:
        answer = evaluators.may(ev, action, resource)
        return answer if answer.possible and new(ev, action, resource) else None

    arns = _group_arns(inventory, groups, steps)
    grants = {g: final.group_policies(g) for g in groups}
    denies = {g: _carries_deny(source, grants[g]) for g in groups}
    members = {g: final.group_members.get(g, set()) for g in groups}
    member_of: dict[str, set[str]] = {}
    for g in groups:
        for m in members[g]:
            member_of.setdefault(m, set()).add(g)
    # Worked out once for each evaluator (users with the same policies share one): the new
    # groups it may join, and what a member may do to change each group (answers that
    # are possible, before what the user may do already is ruled out).
    joinable: dict[int, set[str]] = {}
    member_calls: dict[tuple[int, str], list[tuple[str, str, Answer]]] = {}

    def may_join(ev: Evaluator) -> set[str]:
        found = joinable.get(id(ev))
        if found is None:
            found = joinable[id(ev)] = {
                g for g in created if evaluators.may(ev, JOIN, arns[g]).possible
            }
        return found

    def changes(ev: Evaluator, group: str) -> list[tuple[str, str, Answer]]:
        found = member_calls.get((id(ev), group))
        if found is None:
            arn = arns[group]
            calls = [(a, arn) for a in (*CHANGE_GROUP, MOVE_GROUP)]
            calls += [(a, arn) for a in (LIFT_DENY if denies[group] else ())]
            calls += [(a, p) for p in _customer_policies(final, group) for a in CHANGE_POLICY]
            found = member_calls[(id(ev), group)] = [
                (a, r, answer) for a, r in calls if (answer := evaluators.may(ev, a, r)).possible
            ]
        return found

    if principals is None:
        principals = [(u, inventory.access(u)) for u in inventory.users]
    for user, held in principals:
        ev = evaluators.of(user, held)
        groups_before = before.get(user.name, set(user.groups))
        if live_groups is not None:
            # Only memberships it still has count as a way up it already had.
            groups_before = groups_before & set(live_groups.get(user.name, ()))
        if not ev.policies:
            continue
        already = unbounded(user, ev, groups_before)
        name, join_new = user.name, may_join(ev)
        # Only the groups it is in at the end, or may join, can give a finding (in the
        # order of ``groups``: sorted).
        for group in sorted(member_of.get(name, set()) | join_new):
            arn = arns[group]
            member = name in members[group]
            if member and group in groups_before:
                continue  # a member before the plan, of a group the plan does not change
            if member:
                for action, resource, allowed in changes(ev, group):
                    if new(ev, action, resource):
                        out.append(Finding(user.name, group, action, resource, allowed))
                continue
            # An existing group it could already join is unchanged by the plan, and
            # may_join holds only groups the plan creates.
            join = possible(ev, JOIN, arn)
            if join is None:
                continue
            if not grants[group] <= held:
                out.append(Finding(user.name, group, JOIN, arn, join))
            # Whoever may join a new group may become its member: check it as one.
            for action in (*CHANGE_GROUP, MOVE_GROUP):
                if answer := possible(ev, action, arn):
                    out.append(Finding(user.name, group, action, arn, answer, via="joinable"))
            for policy in _customer_policies(final, group):
                for action in CHANGE_POLICY:
                    if answer := possible(ev, action, policy):
                        out.append(
                            Finding(user.name, group, action, policy, answer, via="joinable")
                        )
        # Policies the plan creates are new things to attach: to itself, or to a group it is in.
        for policy, document in sorted(new_policies.items()):
            # New to attach: it grants more than the user holds, or the user may
            # rewrite it once attached.
            if PolicyRef("inline", document) in held and not any(
                possible(ev, a, policy) for a in CHANGE_POLICY
            ):
                continue
            if answer := possible(ev, "iam:AttachUserPolicy", user.arn):
                out.append(
                    Finding(user.name, "", "iam:AttachUserPolicy", policy, answer, "new-policy")
                )
            for group in sorted(groups_before):
                if group in existing and (
                    answer := possible(ev, "iam:AttachGroupPolicy", existing[group])
                ):
                    out.append(
                        Finding(
                            user.name, group, "iam:AttachGroupPolicy", policy, answer, "new-policy"
                        )
                    )
    return tuple(out)


def _carries_deny(inventory: Inventory, refs: Iterable[PolicyRef]) -> bool:
    """Whether any of *refs* holds a ``Deny`` (or has no document: it may)."""
    for ref in refs:
        document = inventory.document(ref)
        if document is None:
            return True
        try:
            if any(not s.allow for s in statements(document)):
                return True
        except (ValueError, TypeError):
            return True
    return False


@frozen
class RolePath:
    """A role that may change or join a group the plan creates or fills.

    Listed for the reviewer, not refused: a role is never a group member, so it
    gains nothing itself, but whoever may assume it could change what the
    group's members hold.
    """

    role: str
    group: str
    action: str
    answer: Answer

    def to_dict(self) -> dict[str, str]:
        return {
            "role": self.role,
            "group": self.group,
            "action": self.action,
            "answer": self.answer.value,
        }

    def __str__(self) -> str:
        how = "" if self.answer is Answer.YES else f" ({self.answer.value})"
        return f"role {self.role} may {self.action} on {self.group}{how}"


def role_paths(
    inventory: Inventory,
    steps: Sequence[Step],
    *,
    documents: Inventory | None = None,
    end: AccountModel | None = None,
) -> tuple[RolePath, ...]:
    """Every role of *inventory* that may change or join a group *steps* create or fill
    (*end*: the account after *steps*, when the caller has it)."""
    source = documents or inventory
    final, _, touched = _end(inventory, steps, end)
    arns = _group_arns(inventory, touched, steps)
    out = []
    for role in inventory.roles:
        boundary: str | tuple[()] | None = ()
        if role.permissions_boundary:
            boundary = source.document(PolicyRef.managed(role.permissions_boundary))
        ev = Evaluator.of((source.document(r) for r in sorted(role.policies)), boundary)
        for group in touched:
            for action in (*CHANGE_GROUP, MOVE_GROUP, JOIN):
                answer = ev.may(action, arns[group])
                if answer.possible:
                    out.append(RolePath(role.name, group, action, answer))
            for policy in _customer_policies(final, group):
                for action in CHANGE_POLICY:
                    answer = ev.may(action, policy)
                    if answer.possible:
                        out.append(RolePath(role.name, group, action, answer))
    return tuple(out)


@frozen
class Risk:
    """A group the plan creates or fills, or an exempt user, with what a reviewer must see."""

    subject: str  # "group" or "exempt user"
    name: str
    members: tuple[str, ...]
    flags: tuple[RiskFlag, ...]

    def to_dict(self) -> dict[str, object]:
        return {
            "subject": self.subject,
            "name": self.name,
            "members": list(self.members),
            "flags": [{"kind": f.kind, "detail": f.detail} for f in self.flags],
        }


def risk_review(
    inventory: Inventory,
    steps: Sequence[Step],
    exempt: Iterable[str] = (),
    *,
    end: AccountModel | None = None,
) -> tuple[Risk, ...]:
    """Every group *steps* create or add members to, and every *exempt* user, that
    :func:`~groupify.privilege.risk.assess` flags; a new group of one member is flagged
    too (grouping gave no reuse there). *end*: the account after *steps*, when the caller
    has it."""
    final, created, touched = _end(inventory, steps, end)
    out = []
    for group in touched:
        members = tuple(sorted(final.group_members[group]))
        flags = list(assess_policies(inventory, final.group_policies(group)))
        if group in created and len(members) == 1:
            flags.append(SINGLE_MEMBER)
        if flags:
            out.append(Risk("group", group, members, tuple(flags)))
    for name in sorted(exempt):
        user = inventory.user_by_name.get(name)
        if user is None:
            continue
        flags = list(assess_policies(inventory, user.direct))
        if flags:
            out.append(Risk("exempt user", name, (name,), tuple(flags)))
    return tuple(out)


def check_live(plan: Plan, live: Inventory) -> None:
    """Refuse to go on if, with the live account's documents and users, the plan would give
    a user a way to raise its own access that the plan does not record as accepted."""
    documents = attrs.evolve(plan.inventory, policies=live.policies, aws_policies=live.aws_policies)
    # Every live user with its live access: one granted more since planning, or
    # created since, is checked as it is now.
    findings = control_findings(
        plan.inventory,
        plan.steps,
        documents=documents,
        principals=[(u, live.access(u)) for u in live.users],
        live_groups={u.name: u.groups for u in live.users},
        end=plan._final,  # the plan's own replay: the steps are the same
    )
    refused = unaccepted(findings, plan.accepted)
    if refused:
        raise EscalationError(refused)


def unaccepted(findings: Iterable[Finding], accepted: Iterable[str]) -> list[Finding]:
    """The findings whose :attr:`~Finding.key` (id and answer) is not in *accepted*."""
    ok = set(accepted)
    return [f for f in findings if f.key not in ok]


def summary(findings: Iterable[Finding]) -> Mapping[str, int]:
    """Findings counted by action."""
    out: dict[str, int] = {}
    for f in findings:
        out[f.action] = out.get(f.action, 0) + 1
    return out
