"""Replay plan steps on a model of the account and prove they are safe.

:func:`check_steps` applies each step to an in-memory model built from the
inventory and, after every step, compares the effective access of each user
the step affects with that user's access before the migration. It also
checks the DAG: whatever order of the steps respects ``after`` (as a parallel
executor may choose), every removal of a user's direct policy has, among its
ancestors, the group membership and group policy that keep the access.

Why checking one order plus the ancestors is enough: a plan only ever adds
group memberships and group policies and only ever removes direct user
policies. The group side of a user's access therefore grows monotonically to
its final value, so no order can widen access if the final state does not;
and a removal can open a gap only if the route replacing it is not yet in
place, which the ancestor check rules out for every order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from groupify.errors import InputError, PlanVerificationError
from groupify.inventory.iam import policy_arn_problem
from groupify.inventory.model import Inventory, PolicyKind, PolicyRef
from groupify.inventory.policy import canonical_document
from groupify.plan.ops import ALL, OPS, Backend

if TYPE_CHECKING:
    from groupify.plan.steps import Step

__all__ = ["REPLAY", "AccountModel", "check_steps", "created_policies"]

#: The replay backend: each op's effect on an :class:`AccountModel`. An
#: implementation returns the users whose access the call may change, and
#: raises :class:`ValueError` where IAM would refuse the call (a malformed policy ARN
#: among them; :class:`~groupify.errors.InputError` for a document that is not JSON).
REPLAY: Backend[Callable[..., tuple[str, ...]]] = Backend("replay", ALL)


class AccountModel:
    """A mutable model of the IAM state a plan touches, built from an inventory."""

    def __init__(
        self,
        inventory: Inventory,
        *,
        created_policies: Mapping[str, str] | None = None,
        created_groups: Iterable[str] = (),
    ) -> None:
        self.inventory = inventory
        self.user_managed = {u.name: set(u.managed) for u in inventory.users}
        self.user_inline = {u.name: {p.name: p.document for p in u.inline} for u in inventory.users}
        self.user_groups = {u.name: set(u.groups) for u in inventory.users}
        self.group_managed = {g.name: set(g.managed) for g in inventory.groups}
        self.group_inline = {
            g.name: {p.name: p.document for p in g.inline} for g in inventory.groups
        }
        self.group_members: dict[str, set[str]] = {g.name: set() for g in inventory.groups}
        for u in inventory.users:
            for g in u.groups:
                self.group_members[g].add(u.name)
        #: ARN -> canonical document of the policies the plan created.
        self.created: dict[str, str] = dict(created_policies or {})
        self.created_groups: set[str] = set(created_groups)
        self.groups_lower = {g.lower() for g in self.group_managed}
        self.known_arns: set[str] | None = None
        # One PolicyRef per ARN and per document, so that sets of them compare by identity.
        self._refs: dict[tuple[str, str], PolicyRef] = {}

    def intern(self, ref: PolicyRef) -> PolicyRef:
        """The model's one :class:`PolicyRef` equal to *ref*."""
        return self._refs.setdefault((ref.kind, ref.key), ref)

    def _ref(self, kind: PolicyKind, key: str) -> PolicyRef:
        found = self._refs.get((kind, key))
        if found is None:
            found = self._refs[(kind, key)] = PolicyRef(kind, key)
        return found

    def ref(self, arn: str) -> PolicyRef:
        """The access a managed policy ARN stands for (a created one stands for its document)."""
        doc = self.created.get(arn)
        return self._ref("inline", doc) if doc is not None else self._ref("managed", arn)

    def group_policies(self, group: str) -> frozenset[PolicyRef]:
        ref, _ref = self.ref, self._ref
        return frozenset(
            [
                *map(ref, self.group_managed[group]),
                *(_ref("inline", d) for d in self.group_inline[group].values()),
            ]
        )

    def direct(self, user: str) -> frozenset[PolicyRef]:
        ref, _ref = self.ref, self._ref
        return frozenset(
            [
                *map(ref, self.user_managed[user]),
                *(_ref("inline", d) for d in self.user_inline[user].values()),
            ]
        )

    def through_groups(
        self, user: str, cache: dict[str, frozenset[PolicyRef]] | None = None
    ) -> frozenset[PolicyRef]:
        """What *user* holds through the groups it is in. *cache* keeps groups' policies
        between calls; its owner drops a group from it when a step may change that group."""
        groups = self.user_groups[user]
        if cache is None:
            return frozenset().union(*map(self.group_policies, groups))
        out: list[frozenset[PolicyRef]] = []
        for g in groups:
            held = cache.get(g)
            if held is None:
                held = cache[g] = self.group_policies(g)
            out.append(held)
        return frozenset().union(*out)

    def access(
        self,
        user: str,
        cache: dict[str, frozenset[PolicyRef]] | None = None,
        direct: frozenset[PolicyRef] | None = None,
    ) -> frozenset[PolicyRef]:
        """*user*'s direct and group policies. *cache* keeps groups' policies between
        calls (see :meth:`through_groups`); *direct* is the user's :meth:`direct` policies,
        when the caller has them."""
        own = self.direct(user) if direct is None else direct
        return own | self.through_groups(user, cache)

    # -- applying steps --------------------------------------------------------

    def apply(self, op: str, params: Mapping[str, Any]) -> tuple[str, ...]:
        """Apply one IAM call; return the users whose access it may change.

        Raises :class:`ValueError` where IAM would refuse the call.
        """
        if op not in OPS:
            raise ValueError(f"unknown operation {op!r}")
        return REPLAY[op](self, **params)

    def require_user(self, name: str) -> str:
        if name not in self.user_managed:
            raise ValueError(f"user {name!r} does not exist")
        return name

    def require_group(self, name: str) -> str:
        if name not in self.group_managed:
            raise ValueError(f"group {name!r} does not exist")
        return name

    def require_new_group(self, name: str) -> str:
        if self.require_group(name) not in self.created_groups:
            raise ValueError(f"group {name!r} was not created by this plan; it must not change")
        return name

    def is_known(self, arn: str) -> bool:
        """Whether the inventory shows customer policy *arn* exists (listed or attached)."""
        if self.known_arns is None:
            inv = self.inventory
            self.known_arns = set(inv.policy_by_arn)
            self.known_arns.update(a for u in inv.users for a in u.managed)
            self.known_arns.update(a for g in inv.groups for a in g.managed)
        return arn in self.known_arns


# -- the effect of each op -------------------------------------------------------


@REPLAY.register("create_group")
def _create_group(m: AccountModel, GroupName: str, Path: str = "/") -> tuple[str, ...]:
    if GroupName.lower() in m.groups_lower:
        raise ValueError(f"group {GroupName!r} already exists")
    m.groups_lower.add(GroupName.lower())
    m.group_managed[GroupName] = set()
    m.group_inline[GroupName] = {}
    m.group_members[GroupName] = set()
    m.created_groups.add(GroupName)
    return ()


@REPLAY.register("create_policy")
def _create_policy(
    m: AccountModel,
    PolicyName: str,
    PolicyDocument: str,
    Path: str = "/",
    Description: str = "",
) -> tuple[str, ...]:
    arn = m.inventory.policy_arn(PolicyName, Path)
    if arn in m.created or arn in m.inventory.policy_by_arn:
        raise ValueError(f"policy {arn} already exists")
    m.created[arn] = canonical_document(PolicyDocument)
    return ()


def _policy_account(arn: str) -> str:
    """The account part of a managed policy ARN (``aws`` for AWS's); IAM refuses a malformed one."""
    if policy_arn_problem(arn) is not None:
        raise ValueError(f"{arn!r} is not a policy ARN")
    return arn.split(":")[4]


@REPLAY.register("attach_group_policy")
def _attach_group_policy(m: AccountModel, GroupName: str, PolicyArn: str) -> tuple[str, ...]:
    m.require_new_group(GroupName)
    if PolicyArn in m.group_managed[GroupName]:
        raise ValueError(f"{PolicyArn} is already attached to group {GroupName!r}")
    arn_account = _policy_account(PolicyArn)
    if arn_account not in ("aws", m.inventory.account_id):
        raise ValueError(f"{PolicyArn} belongs to another account")
    if arn_account != "aws" and PolicyArn not in m.created and not m.is_known(PolicyArn):
        raise ValueError(f"customer policy {PolicyArn} is not known to exist")
    m.group_managed[GroupName].add(PolicyArn)
    return tuple(m.group_members[GroupName])


@REPLAY.register("put_group_policy")
def _put_group_policy(
    m: AccountModel, GroupName: str, PolicyName: str, PolicyDocument: str
) -> tuple[str, ...]:
    m.require_new_group(GroupName)
    if PolicyName in m.group_inline[GroupName]:
        raise ValueError(f"group {GroupName!r} already has inline policy {PolicyName!r}")
    m.group_inline[GroupName][PolicyName] = canonical_document(PolicyDocument)
    return tuple(m.group_members[GroupName])


@REPLAY.register("add_user_to_group")
def _add_user_to_group(m: AccountModel, GroupName: str, UserName: str) -> tuple[str, ...]:
    m.require_group(GroupName)
    m.require_user(UserName)
    if GroupName in m.user_groups[UserName]:
        raise ValueError(f"user {UserName!r} is already in group {GroupName!r}")
    m.user_groups[UserName].add(GroupName)
    m.group_members[GroupName].add(UserName)
    return (UserName,)


@REPLAY.register("detach_user_policy")
def _detach_user_policy(m: AccountModel, UserName: str, PolicyArn: str) -> tuple[str, ...]:
    if PolicyArn not in m.user_managed[m.require_user(UserName)]:
        raise ValueError(f"{PolicyArn} is not attached to user {UserName!r}")
    m.user_managed[UserName].discard(PolicyArn)
    return (UserName,)


@REPLAY.register("delete_user_policy")
def _delete_user_policy(m: AccountModel, UserName: str, PolicyName: str) -> tuple[str, ...]:
    if PolicyName not in m.user_inline[m.require_user(UserName)]:
        raise ValueError(f"user {UserName!r} has no inline policy {PolicyName!r}")
    del m.user_inline[UserName][PolicyName]
    return (UserName,)


@REPLAY.register("remove_user_from_group")
def _remove_user_from_group(m: AccountModel, GroupName: str, UserName: str) -> tuple[str, ...]:
    if GroupName not in m.user_groups[m.require_user(UserName)]:
        raise ValueError(f"user {UserName!r} is not in group {GroupName!r}")
    m.user_groups[UserName].discard(GroupName)
    m.group_members[GroupName].discard(UserName)
    return (UserName,)


@REPLAY.register("detach_group_policy")
def _detach_group_policy(m: AccountModel, GroupName: str, PolicyArn: str) -> tuple[str, ...]:
    m.require_new_group(GroupName)
    if PolicyArn not in m.group_managed[GroupName]:
        raise ValueError(f"{PolicyArn} is not attached to group {GroupName!r}")
    m.group_managed[GroupName].discard(PolicyArn)
    return tuple(m.group_members[GroupName])


@REPLAY.register("delete_group_policy")
def _delete_group_policy(m: AccountModel, GroupName: str, PolicyName: str) -> tuple[str, ...]:
    m.require_new_group(GroupName)
    if PolicyName not in m.group_inline[GroupName]:
        raise ValueError(f"group {GroupName!r} has no inline policy {PolicyName!r}")
    del m.group_inline[GroupName][PolicyName]
    return tuple(m.group_members[GroupName])


@REPLAY.register("delete_group")
def _delete_group(m: AccountModel, GroupName: str) -> tuple[str, ...]:
    m.require_new_group(GroupName)
    if m.group_members[GroupName] or m.group_managed[GroupName] or (m.group_inline[GroupName]):
        raise ValueError(f"group {GroupName!r} still has members or policies")
    for table in (m.group_managed, m.group_inline, m.group_members):
        del table[GroupName]
    m.created_groups.discard(GroupName)
    m.groups_lower.discard(GroupName.lower())
    return ()


@REPLAY.register("delete_policy")
def _delete_policy(m: AccountModel, PolicyArn: str) -> tuple[str, ...]:
    if PolicyArn not in m.created:
        raise ValueError(f"policy {PolicyArn} was not created by this plan")
    holders = [g for g, arns in m.group_managed.items() if PolicyArn in arns]
    holders += [u for u, arns in m.user_managed.items() if PolicyArn in arns]
    if holders:
        raise ValueError(f"policy {PolicyArn} is still attached to {holders[0]!r}")
    del m.created[PolicyArn]
    return ()


@REPLAY.register("attach_user_policy")
def _attach_user_policy(m: AccountModel, UserName: str, PolicyArn: str) -> tuple[str, ...]:
    _policy_account(PolicyArn)
    if PolicyArn in m.user_managed[m.require_user(UserName)]:
        raise ValueError(f"{PolicyArn} is already attached to user {UserName!r}")
    m.user_managed[UserName].add(PolicyArn)
    return (UserName,)


@REPLAY.register("put_user_policy")
def _put_user_policy(
    m: AccountModel, UserName: str, PolicyName: str, PolicyDocument: str
) -> tuple[str, ...]:
    if PolicyName in m.user_inline[m.require_user(UserName)]:
        raise ValueError(f"user {UserName!r} already has inline policy {PolicyName!r}")
    m.user_inline[UserName][PolicyName] = canonical_document(PolicyDocument)
    return (UserName,)


def created_policies(inventory: Inventory, steps: Iterable[Step]) -> dict[str, str]:
    """ARN → canonical document of every policy *steps* create."""
    out = {}
    for s in steps:
        if s.spec.creates == "policy":
            p = s.params
            arn = inventory.policy_arn(p["PolicyName"], p.get("Path", "/"))
            out[arn] = canonical_document(p["PolicyDocument"])
    return out


def policy_of(step: Step, inventory: Inventory, created: Mapping[str, str]) -> PolicyRef | None:
    """The policy *step* attaches, embeds or removes, as access (``None``: it moves none).

    A policy the plan creates (*created*: ARN → document) stands for its
    document; a deleted inline policy for the document *inventory* recorded
    under its name.
    """
    spec, p = step.spec, step.params
    if spec.subject == "PolicyArn":
        doc = created.get(p["PolicyArn"])
        return PolicyRef("inline", doc) if doc is not None else PolicyRef("managed", p["PolicyArn"])
    if spec.subject != "PolicyName" or spec.principal is None:
        return None
    if "PolicyDocument" in p:
        return PolicyRef("inline", canonical_document(p["PolicyDocument"]))
    owner = (
        inventory.user_by_name.get(p[spec.principal])
        if spec.principal == "UserName"
        else inventory.group_by_name.get(p[spec.principal])
    )
    documents = {x.name: x.document for x in owner.inline} if owner is not None else {}
    document = documents.get(p["PolicyName"])
    return PolicyRef("inline", document) if document is not None else None


def check_steps(
    inventory: Inventory,
    steps: Sequence[Step],
    *,
    in_scope: Iterable[str],
    protected: Mapping[str, str],
    model: AccountModel | None = None,
    baseline: Mapping[str, frozenset[PolicyRef]] | None = None,
    check_dag: bool = True,
) -> AccountModel:
    """Replay *steps* in order on a model of *inventory*; raise if any is unsafe.

    *in_scope* names the users whose direct policies must all be gone at the
    end; *protected* maps users the plan must not touch (exempt users, the
    caller) to the reason. Returns the final model.

    *model* starts the replay from another state than the inventory's (the live
    account part-way through a run) and *baseline* gives the access each user
    must keep (default: the inventory's); *check_dag* off skips the checks of
    ``after`` (for a subset of a plan's steps, or calls that are not a plan).
    """
    model = model or AccountModel(inventory)
    if baseline is None:
        intern = model.intern
        baseline = {u.name: frozenset(map(intern, inventory.access(u))) for u in inventory.users}
    seen: set[str] = set()
    # Groups' and users' own policies, and what each user holds through its groups, read
    # again only after a step that may change them.
    group_cache: dict[str, frozenset[PolicyRef]] = {}
    direct_cache: dict[str, frozenset[PolicyRef]] = {}
    via_groups: dict[str, frozenset[PolicyRef]] = {}
    apply, direct, through_groups = model.apply, model.direct, model.through_groups
    for step in steps:
        sid, op = step.id, step.op
        if sid in seen:
            raise PlanVerificationError(f"step id {sid!r} appears twice", step=sid)
        if check_dag:
            for dep in step.after:
                if dep not in seen:
                    raise PlanVerificationError(
                        f"step {sid} runs after {dep!r}, which is not an earlier step",
                        step=sid,
                    )
        seen.add(sid)
        spec = OPS.get(op)
        if spec is None:
            raise PlanVerificationError(
                f"step {sid} ({op}) would fail: unknown operation {op!r}", step=sid
            )
        params = step.params
        user = params.get("UserName")
        if user is not None and user in protected and spec.principal == "UserName":
            raise PlanVerificationError(
                f"step {sid} ({op}) touches user {user!r}, who is exempt ({protected[user]})",
                step=sid,
                user=user,
            )
        try:
            affected = apply(op, params)
        except InputError as exc:  # a document that is not JSON: bad input, not a bad plan
            raise InputError(f"step {sid} ({op}): {exc}") from None
        except (ValueError, TypeError) as exc:
            raise PlanVerificationError(f"step {sid} ({op}) would fail: {exc}", step=sid) from None
        group = params.get("GroupName")
        if user is not None and spec.subject == "GroupName":
            # A membership joined or left: the user's groups change, no group's policies.
            via_groups.pop(user, None)
        elif group is not None:
            # The group's own policies (or the group itself): what its members hold changes.
            group_cache.pop(group, None)
            for member in model.group_members.get(group, ()):
                via_groups.pop(member, None)
            if user is not None:  # pragma: no cover - no op names a user and a group else
                direct_cache.pop(user, None)
                via_groups.pop(user, None)
        elif user is not None:
            direct_cache.pop(user, None)  # a user's own policy attached, put or removed
        else:
            # A policy created or deleted: an ARN anyone holds may read otherwise.
            group_cache.clear()
            direct_cache.clear()
            via_groups.clear()
        for name in affected:
            own = direct_cache.get(name)
            if own is None:
                own = direct_cache[name] = direct(name)
            held = via_groups.get(name)
            if held is None:
                held = via_groups[name] = through_groups(name, group_cache)
            now = own | held
            if now != baseline[name]:
                lost, gained = baseline[name] - now, now - baseline[name]
                what = (
                    f"lose {', '.join(sorted(inventory.label(p) for p in lost))}"
                    if lost
                    else f"gain {', '.join(sorted(inventory.label(p) for p in gained))}"
                )
                raise PlanVerificationError(
                    f"after step {sid} ({op}) user {name!r} would {what}",
                    step=sid,
                    user=name,
                )
    for name in sorted(in_scope):
        if model.user_managed[name] or model.user_inline[name]:
            raise PlanVerificationError(
                f"user {name!r} still has direct policies at the end of the plan", user=name
            )
    if check_dag:
        _check_ancestors(inventory, steps)
    return model


def _check_ancestors(inventory: Inventory, steps: Sequence[Step]) -> None:
    """Every removal depends (transitively) on the group route that replaces it.

    *steps* are in an order where each runs after earlier ones only (``check_steps``
    checked it), so each step's ancestors are worked out from its prerequisites' in one
    pass, once for each distinct ``after`` list (the removals of a user share one, the
    memberships of a group another).
    """
    created_policy = created_policies(inventory, steps)
    by_after: dict[tuple[str, ...], frozenset[str]] = {(): frozenset()}
    ancestors: dict[str, frozenset[str]] = {}
    # What each step gives: a membership (user, group), or a group's grant (group, policy),
    # worked out once (documents canonicalized once).
    joins: dict[str, tuple[str, str]] = {}
    grants: dict[str, tuple[str, PolicyRef | None]] = {}
    removals: list[Step] = []
    for s in steps:
        found = by_after.get(s.after)
        if found is None:
            out = set(s.after)
            for dep in s.after:
                out |= ancestors[dep]
            found = by_after[s.after] = frozenset(out)
        ancestors[s.id] = found
        spec = s.spec
        if spec.removes_direct:
            removals.append(s)
        if s.op == "add_user_to_group":
            p = s.params
            joins[s.id] = (p["UserName"], p["GroupName"])
        elif spec.grants == "group":
            grants[s.id] = (s.params["GroupName"], policy_of(s, inventory, created_policy))
    # For a user and a set of ancestors: what the groups it is in then grant it (the
    # groups it was in already, with their policies, and those its ancestors join, with
    # what its ancestors grant them).
    routes: dict[tuple[str, tuple[str, ...]], set[PolicyRef | None]] = {}
    for step in removals:
        user = step.params["UserName"]
        route = routes.get((user, step.after))
        if route is None:
            groups = set(inventory.user_by_name[user].groups)
            granted: dict[str, set[PolicyRef | None]] = {}
            for a in ancestors[step.id]:
                join = joins.get(a)
                if join is not None:
                    if join[0] == user:
                        groups.add(join[1])
                elif a in grants:
                    granted.setdefault(grants[a][0], set()).add(grants[a][1])
            route = set()
            for g in groups:
                existing = inventory.group_by_name.get(g)
                if existing is not None:
                    route |= existing.policies
                route |= granted.get(g, set())
            routes[(user, step.after)] = route
        if policy_of(step, inventory, created_policy) not in route:
            raise PlanVerificationError(
                f"step {step.id} ({step.op}) for user {user!r} does not run after the steps "
                "that give the same access through a group; a parallel run could open a gap",
                step=step.id,
                user=user,
            )
