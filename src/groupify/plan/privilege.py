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
from groupify.plan.replay import AccountModel
from groupify.plan.steps import Step
from groupify.privilege.evaluate import Answer, Evaluator
from groupify.privilege.risk import RiskFlag, assess

if TYPE_CHECKING:
    from groupify.plan.model import Plan

__all__ = [
    "Finding",
    "Risk",
    "check_live",
    "control_findings",
    "risk_review",
    "summary",
    "unaccepted",
]

#: Calls that change what a group grants.
CHANGE_GROUP = ("iam:AttachGroupPolicy", "iam:PutGroupPolicy")
#: Calls that change what a customer-managed policy says.
CHANGE_POLICY = ("iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion")
#: The call that joins a group.
JOIN = "iam:AddUserToGroup"
#: Calls that give a user any policy directly: whoever may make them is admin-equivalent.
CHANGE_USER = ("iam:AttachUserPolicy", "iam:PutUserPolicy")


@frozen
class Finding:
    """A user the plan would give a way to raise its own access."""

    user: str
    group: str
    action: str
    resource: str
    answer: Answer

    @property
    def id(self) -> str:
        """A stable name to accept it by: ``user:Action:group[:policy]``."""
        tail = (
            ""
            if self.resource.split(":")[-1].startswith("group")
            else (":" + self.resource.rsplit("/", 1)[-1])
        )
        return f"{self.user}:{self.action.split(':', 1)[1]}:{self.group}{tail}"

    @property
    def why(self) -> str:
        """One line for a reviewer: who, which group, which call, how sure."""
        how = {
            Answer.YES: "its policies allow it",
            Answer.CONDITIONAL: "its policies allow it under a condition",
            Answer.UNKNOWN: "a policy it holds has no document here, so it may",
        }[self.answer]
        if self.action == JOIN:
            what = f"may add itself to new group {self.group!r} ({self.action}), which grants more"
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


def _group_arn(inventory: Inventory, group: str, steps: Iterable[Step]) -> str:
    existing = inventory.group_by_name.get(group)
    if existing is not None:
        return existing.arn
    path = next(
        (
            s.params.get("Path", "/")
            for s in steps
            if s.op == "create_group" and s.params["GroupName"] == group
        ),
        "/",
    )
    return f"arn:{inventory.partition}:iam::{inventory.account_id}:group{path}{group}"


def control_findings(
    inventory: Inventory,
    steps: Sequence[Step],
    *,
    documents: Inventory | None = None,
    outsiders: Iterable[tuple[User, frozenset[PolicyRef]]] = (),
) -> tuple[Finding, ...]:
    """Every way the plan's *steps* would let a user of *inventory* raise its own access.

    *documents* supplies the policy and boundary documents (default: *inventory*'s;
    at apply, the live account's). *outsiders* are users not in *inventory*
    (created since planning) with their access: they are checked for joining the
    new groups.
    """
    final = AccountModel(inventory)
    for step in steps:
        final.apply(step.op, step.params)
    created = {s.params["GroupName"] for s in steps if s.spec.creates == "group"}
    touched = created | {s.params["GroupName"] for s in steps if s.op == "add_user_to_group"}
    evaluators = _Evaluators(documents or inventory)
    before = {u.name: set(u.groups) for u in inventory.users}
    access = {u.name: inventory.access(u) for u in inventory.users}
    out: list[Finding] = []

    def already_unbounded(user: User, ev: Evaluator) -> bool:
        if any(evaluators.may(ev, a, user.arn).certain for a in CHANGE_USER):
            return True
        arns = [by_name[g].arn for g in user.groups if g in by_name]
        return any(evaluators.may(ev, a, arn).certain for arn in arns for a in CHANGE_GROUP)

    by_name = (documents or inventory).group_by_name
    groups = sorted(touched)
    arns = {g: _group_arn(inventory, g, steps) for g in groups}
    grants = {g: final.group_policies(g) for g in groups}
    users = [(u, access[u.name]) for u in inventory.users]
    for user, held in (*users, *outsiders):
        ev = evaluators.of(user, held)
        if not ev.policies or already_unbounded(user, ev):
            continue
        for group in groups:
            arn = arns[group]
            joins = user.name in final.group_members.get(group, ()) and group not in before.get(
                user.name, ()
            )
            if joins:
                for action in CHANGE_GROUP:
                    answer = evaluators.may(ev, action, arn)
                    if answer.possible:
                        out.append(Finding(user.name, group, action, arn, answer))
                for policy in sorted(final.group_managed[group]):
                    if policy.split(":")[4] == "aws":
                        continue
                    for action in CHANGE_POLICY:
                        answer = evaluators.may(ev, action, policy)
                        if answer.possible:
                            out.append(Finding(user.name, group, action, policy, answer))
            elif group in created and not grants[group] <= held:
                answer = evaluators.may(ev, JOIN, arn)
                if answer.possible:
                    out.append(Finding(user.name, group, JOIN, arn, answer))
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


def _documents(inventory: Inventory, refs: Iterable[PolicyRef]) -> dict[str, str | None]:
    return {
        ref.key if ref.is_managed else f"inline {inventory.label(ref)}": inventory.document(ref)
        for ref in sorted(refs)
    }


def risk_review(
    inventory: Inventory, steps: Sequence[Step], exempt: Iterable[str] = ()
) -> tuple[Risk, ...]:
    """Every group *steps* create or add members to, and every *exempt* user, that
    :func:`~groupify.privilege.risk.assess` flags; a new group of one member is flagged
    too (grouping gave no reuse there)."""
    final = AccountModel(inventory)
    for step in steps:
        final.apply(step.op, step.params)
    created = {s.params["GroupName"] for s in steps if s.spec.creates == "group"}
    touched = created | {s.params["GroupName"] for s in steps if s.op == "add_user_to_group"}
    out = []
    for group in sorted(touched):
        members = tuple(sorted(final.group_members[group]))
        flags = list(assess(_documents(inventory, final.group_policies(group))))
        if group in created and len(members) == 1:
            flags.append(RiskFlag("single-member", "a group of one: grouping gave no reuse here"))
        if flags:
            out.append(Risk("group", group, members, tuple(flags)))
    for name in sorted(exempt):
        user = inventory.user_by_name.get(name)
        if user is None:
            continue
        flags = list(assess(_documents(inventory, user.direct)))
        if flags:
            out.append(Risk("exempt user", name, (name,), tuple(flags)))
    return tuple(out)


def check_live(plan: Plan, live: Inventory) -> None:
    """Refuse to go on if, with the live account's documents and users, the plan would give
    a user a way to raise its own access that the plan does not record as accepted."""
    documents = attrs.evolve(plan.inventory, policies=live.policies, aws_policies=live.aws_policies)
    known = plan.inventory.user_by_name
    outsiders = [(u, live.access(u)) for u in live.users if u.name not in known]
    findings = control_findings(
        plan.inventory, plan.steps, documents=documents, outsiders=outsiders
    )
    refused = unaccepted(findings, plan.accepted)
    if refused:
        raise EscalationError(refused)


def unaccepted(findings: Iterable[Finding], accepted: Iterable[str]) -> list[Finding]:
    """The findings whose id is not in *accepted*."""
    ok = set(accepted)
    return [f for f in findings if f.id not in ok]


def summary(findings: Iterable[Finding]) -> Mapping[str, int]:
    """Findings counted by action."""
    out: dict[str, int] = {}
    for f in findings:
        out[f.action] = out.get(f.action, 0) + 1
    return out
