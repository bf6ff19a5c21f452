"""Proposals: the groups each user in scope will join, editable and re-validated.

A :class:`Proposal` says, for every user in scope, which groups it will join
(new ones, or existing ones reused unchanged) so that, once its direct
policies are gone, its effective access is exactly what it was. Its edits
(rename, move, exclude, split) return a new, re-validated proposal.
"""

from __future__ import annotations

import difflib
import fnmatch
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from functools import cached_property
from typing import Any, Literal

import attrs
from attrs import field, frozen

from groupify.errors import InputError, ProposalError, QuotaError, StalePlanError
from groupify.inventory.model import Inventory, PolicyRef, User
from groupify.inventory.names import suggest_name, validate_name

__all__ = [
    "EXEMPT_TAG",
    "STRATEGIES",
    "Exemption",
    "Exemptions",
    "Proposal",
    "ProposalDiff",
    "ProposedGroup",
]

Strategy = Literal["exact", "minimal"]
STRATEGIES: tuple[str, ...] = ("exact", "minimal")


def _frozenset(items: Iterable[Any]) -> frozenset[Any]:
    return frozenset(items)


def _groups(items: Iterable[ProposedGroup]) -> tuple[ProposedGroup, ...]:
    return tuple(items)


def _exemptions(items: Iterable[Exemption]) -> tuple[Exemption, ...]:
    return tuple(items)


def _strings(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(items)


def _sorted_unique(items: Iterable[str]) -> tuple[str, ...]:
    # Order does not change what matches; sorted, the plan file is deterministic.
    return tuple(sorted(set(items)))


#: The tag that exempts a user whatever a plan says (any value; the value may say why).
EXEMPT_TAG = "groupify:exempt"


@frozen
class Exemptions:
    """Which users a migration leaves alone: name globs and ``KEY`` / ``KEY=VALUE`` tags."""

    users: tuple[str, ...] = field(default=(), converter=_sorted_unique)
    tags: tuple[str, ...] = field(default=(), converter=_sorted_unique)

    def reason(self, user: User) -> str | None:
        """Why *user* is exempt, or ``None``.

        A user tagged ``groupify:exempt`` (any value) is always exempt, whatever the
        rules say: the account itself documents the exception, so no plan file can
        drop it.
        """
        tags = user.tag_map
        for key, value in tags.items():
            if key.lower() == EXEMPT_TAG:  # IAM tag keys are unique ignoring case
                return f"tagged {key}={value}" if value else f"tagged {key}"
        for pattern in self.users:
            # IAM user names are unique ignoring case: so is the match.
            if fnmatch.fnmatchcase(user.name.lower(), pattern.lower()):
                exact = pattern.lower() == user.name.lower()
                return "excluded by name" if exact else f"excluded by name ({pattern})"
        for spec in self.tags:
            found = _tag(tags, spec)
            if found is not None:
                return f"excluded by tag {found}"
        return None

    def unmatched(self, users: Iterable[User]) -> list[str]:
        """A line for each rule that matches none of *users*, naming the closest that exist.

        A rule that matches nobody is most often a typo that leaves a break-glass
        user in scope; :func:`groupify.propose` and :func:`groupify.apply` refuse it
        unless told to allow it.
        """
        users = list(users)
        names = {u.name.lower(): u.name for u in users}
        keys: dict[str, str] = {}
        pairs: dict[str, str] = {}
        for user in users:
            for key, value in user.tags:
                keys.setdefault(key.lower(), key)
                pairs.setdefault(f"{key}={value}".lower(), f"{key}={value}")
        out = []
        for pattern in self.users:
            if not any(fnmatch.fnmatchcase(n, pattern.lower()) for n in names):
                close = difflib.get_close_matches(pattern.lower(), list(names), n=3, cutoff=0.6)
                out.append(f"--exclude-user {pattern!r} matches no user" + _closest(close, names))
        for spec in self.tags:
            if not any(_tag(u.tag_map, spec) is not None for u in users):
                key, has_value, _ = spec.partition("=")
                pool = pairs if has_value else keys
                close = difflib.get_close_matches(spec.lower(), list(pool), n=3, cutoff=0.6)
                out.append(f"--exclude-tag {spec!r} matches no user" + _closest(close, pool))
        return out

    def check_matched(self, users: Iterable[User]) -> None:
        """Raise :class:`InputError` if a rule matches none of *users* (see :meth:`unmatched`)."""
        unmatched = self.unmatched(users)
        if unmatched:
            more = f" (and {len(unmatched) - 1} more)" if len(unmatched) > 1 else ""
            raise InputError(
                f"{unmatched[0]}{more}; fix the rule, or allow rules that match no user "
                "(--allow-unmatched, allow_unmatched=True)"
            )


def _tag(tags: Mapping[str, str], spec: str) -> str | None:
    """The ``KEY=VALUE`` (or ``KEY``) of *tags* that *spec* matches; keys ignore case, as
    IAM's do, values do not."""
    key, has_value, value = spec.partition("=")
    for have, shown in tags.items():
        if have.lower() == key.lower() and (not has_value or shown == value):
            return f"{have}={shown}" if shown else have
    return None


def _closest(close: list[str], pool: Mapping[str, str]) -> str:
    if not close:
        return " in the account"
    return " in the account (closest: " + ", ".join(repr(pool[c]) for c in close) + ")"


@frozen
class Exemption:
    """A documented exception to IAM.2: a user the migration does not touch."""

    user: str
    reason: str
    policies: frozenset[PolicyRef] = field(converter=_frozenset)

    def __repr__(self) -> str:
        return f"Exemption({self.user!r}, {self.reason!r})"


@frozen
class ProposedGroup:
    """A group users will join: new, or an existing one reused unchanged (``existing``).

    ``as_managed`` holds the inline documents of ``policies`` that become
    customer-managed policies (``create_policy``) because the group's inline
    budget cannot hold them; the rest are put as group inline policies.
    """

    name: str
    policies: frozenset[PolicyRef] = field(converter=_frozenset)
    members: frozenset[str] = field(converter=_frozenset)
    existing: bool = False
    reason: str = ""
    as_managed: frozenset[PolicyRef] = field(default=frozenset(), converter=_frozenset)

    @property
    def managed_count(self) -> int:
        """Managed policies the group will have attached (converted inline included)."""
        return sum(1 for p in self.policies if p.is_managed) + len(self.as_managed)

    @property
    def inline_size(self) -> int:
        """IAM-counted characters of the inline policies the group will embed."""
        return sum(p.size for p in self.policies if not p.is_managed and p not in self.as_managed)

    def __repr__(self) -> str:
        kind = "existing " if self.existing else ""
        return (
            f"ProposedGroup({kind}{self.name!r}, policies={len(self.policies)}, "
            f"members={len(self.members)})"
        )


@frozen
class Proposal:
    """Groups proposed for an inventory, with the users left out and why.

    Edits (:meth:`rename`, :meth:`merge`, :meth:`move_user`,
    :meth:`exclude_user`) return a new, re-validated proposal.
    """

    inventory: Inventory = field(repr=False)
    groups: tuple[ProposedGroup, ...] = field(converter=_groups)
    exemptions: Exemptions = Exemptions()
    strategy: str = "exact"
    excluded: tuple[Exemption, ...] = field(default=(), converter=_exemptions)
    #: The proposal this one was edited from (notebook views show the change).
    previous: Proposal | None = field(default=None, eq=False, repr=False)

    # -- scope --------------------------------------------------------------

    @cached_property
    def exceptions(self) -> tuple[Exemption, ...]:
        """Users with direct policies that are left alone, and why (documented exceptions)."""
        out = {e.user: e for e in self.excluded}
        caller = self.inventory.caller_user
        for user in self.inventory.users:
            if user.name in out or not user.direct:
                continue
            if user.name == caller:
                out[user.name] = Exemption(user.name, "runs groupify", user.direct)
            elif reason := self.exemptions.reason(user):
                out[user.name] = Exemption(user.name, reason, user.direct)
        return tuple(sorted(out.values(), key=lambda e: e.user))

    @cached_property
    def in_scope(self) -> tuple[User, ...]:
        """Users whose direct policies the migration removes."""
        skip = {e.user for e in self.exceptions}
        return tuple(u for u in self.inventory.users if u.direct and u.name not in skip)

    @cached_property
    def needed(self) -> dict[str, frozenset[PolicyRef]]:
        """Per user in scope: direct policies it does not already get through a group."""
        return {u.name: u.direct - self.inventory.group_access(u) for u in self.in_scope}

    def _regrouped(self, groups: Iterable[ProposedGroup]) -> Proposal:
        """This proposal with other *groups* (not validated). Who is in scope, and what
        each user needs, depend only on the inventory and the exemptions, which stay the
        same: worked out once, they are kept."""
        out = attrs.evolve(self, groups=groups)
        for name in ("exceptions", "in_scope", "needed"):
            object.__setattr__(out, name, getattr(self, name))
        return out

    def groups_of(self, user: str) -> tuple[ProposedGroup, ...]:
        return tuple(g for g in self.groups if user in g.members)

    @cached_property
    def created_policies(self) -> frozenset[PolicyRef]:
        """Inline documents that become customer-managed policies."""
        out: frozenset[PolicyRef] = frozenset()
        for g in self.groups:
            out |= g.as_managed
        return out

    # -- validation -----------------------------------------------------------

    def validate(self) -> Proposal:
        """Check every rule; return ``self`` or raise the first problem found.

        Raises :class:`ProposalError` where a user's access would not be
        reproduced exactly (or a name or membership is wrong),
        :class:`~groupify.errors.InvalidNameError` for a bad name and
        :class:`QuotaError` where an IAM quota would be exceeded.
        """
        return self._validated

    @cached_property
    def _validated(self) -> Proposal:
        # A proposal is frozen all the way down (groups, inventory, exemptions), so the
        # checks give the same answer every time: once passed, they are not run again
        # (propose validates, and build_plan again). A failure is not kept: it raises.
        inv = self.inventory
        quotas = inv.quotas
        existing_lower = {g.name.lower(): g for g in inv.groups}
        seen: dict[str, str] = {}
        in_scope = {u.name for u in self.in_scope}
        exempt = {e.user: e.reason for e in self.exceptions}
        for g in self.groups:
            validate_name(g.name)
            if g.name.lower() in seen:
                raise ProposalError(
                    f"group names {seen[g.name.lower()]!r} and {g.name!r} differ only in case; "
                    "rename one"
                )
            seen[g.name.lower()] = g.name
            if not g.members:
                raise ProposalError(f"group {g.name!r} has no members; drop it or add users")
            if not g.policies:
                raise ProposalError(f"group {g.name!r} has no policies; drop it")
            for member in sorted(g.members):
                if member in exempt:
                    raise ProposalError(
                        f"user {member!r} in group {g.name!r} is exempt ({exempt[member]}); "
                        "remove it from the group",
                        users=[member],
                    )
                if member not in in_scope:
                    why = (
                        "does not exist"
                        if member not in inv.user_by_name
                        else ("has no direct policies to migrate")
                    )
                    raise ProposalError(
                        f"user {member!r} in group {g.name!r} {why}; remove it from the group",
                        users=[member],
                    )
            clash = existing_lower.get(g.name.lower())
            if g.existing:
                if clash is None or clash.name != g.name:
                    raise ProposalError(
                        f"group {g.name!r} is marked existing but the account has no such group"
                    )
                if clash.policies != g.policies:
                    raise ProposalError(
                        f"existing group {g.name!r} would need different policies; groupify "
                        "never changes an existing group: give the proposed group a new name"
                    )
                if g.as_managed:
                    raise ProposalError(f"existing group {g.name!r} cannot take converted policies")
            else:
                if clash is not None:
                    raise ProposalError(
                        f"group name {g.name!r} is taken by existing group {clash.name!r} "
                        "(IAM names are unique ignoring case); rename it"
                    )
                if not g.as_managed <= {p for p in g.policies if not p.is_managed}:
                    raise ProposalError(
                        f"group {g.name!r}: only its own inline documents can become managed"
                    )
                if g.managed_count > quotas.managed_policies_per_group:
                    raise QuotaError(
                        f"group {g.name!r} would have {g.managed_count} managed policies; the "
                        f"quota is {quotas.managed_policies_per_group} (split the group)",
                        quota="AttachedPoliciesPerGroupQuota",
                        limit=quotas.managed_policies_per_group,
                        users=sorted(g.members),
                    )
                if g.inline_size > quotas.group_inline_chars:
                    raise QuotaError(
                        f"group {g.name!r} would embed {g.inline_size} characters of inline "
                        f"policy; the quota is {quotas.group_inline_chars}",
                        quota="GroupPolicySizeQuota",
                        limit=quotas.group_inline_chars,
                        users=sorted(g.members),
                    )

        # Every user in scope: final access equals today's, exactly.
        membership: dict[str, list[ProposedGroup]] = {}
        for g in self.groups:
            for member in g.members:
                membership.setdefault(member, []).append(g)
        over: list[str] = []
        reasons: list[str] = []
        for user in self.in_scope:
            granted: frozenset[PolicyRef] = frozenset()
            for g in membership.get(user.name, ()):
                granted |= g.policies
            access = inv.access(user)
            extra = granted - access
            if extra:
                raise ProposalError(
                    f"user {user.name!r} would gain {_labels(inv, extra)} through "
                    f"{_names(membership[user.name])}; remove it from the group that grants it",
                    users=[user.name],
                )
            missing = self.needed[user.name] - granted
            if missing:
                raise ProposalError(
                    f"user {user.name!r} would lose {_labels(inv, missing)}; add it to a group "
                    "that grants it",
                    users=[user.name],
                )
            joins = {g.name for g in membership.get(user.name, ())} - set(user.groups)
            if len(user.groups) + len(joins) > quotas.groups_per_user:
                over.append(user.name)
                reasons.append(
                    f"{user.name} ({len(user.groups)} now + {len(joins)} for "
                    f"{len(self.needed[user.name])} policies: {_list(sorted(joins), 3)})"
                )
        if over:
            raise QuotaError(
                f"{len(over)} user(s) would be in more than {quotas.groups_per_user} groups: "
                f"{_list(reasons, 3)}; raise --quota groups_per_user if the account's quota "
                "is higher, or exclude these users",
                quota="GroupsPerUserQuota",
                limit=quotas.groups_per_user,
                users=over,
            )
        new_groups = sum(1 for g in self.groups if not g.existing)
        if inv.existing_group_count + new_groups > quotas.groups_per_account:
            raise QuotaError(
                f"the account has {inv.existing_group_count} groups and the proposal adds "
                f"{new_groups}; the quota is {quotas.groups_per_account}",
                quota="GroupsQuota",
                limit=quotas.groups_per_account,
            )
        created = self.created_policies
        if created:
            too_big = [p for p in created if p.size > quotas.policy_size]
            if too_big:
                raise QuotaError(
                    f"inline policy {_labels(inv, too_big)} is {too_big[0].size} characters, "
                    f"over the managed policy size quota of {quotas.policy_size}",
                    quota="PolicySizeQuota",
                    limit=quotas.policy_size,
                )
            if len(inv.policies) + len(created) > quotas.policies_per_account:
                raise QuotaError(
                    f"{len(created)} new customer-managed policies would exceed the quota of "
                    f"{quotas.policies_per_account}",
                    quota="PoliciesQuota",
                    limit=quotas.policies_per_account,
                )
        return self

    # -- edits ------------------------------------------------------------------

    def group(self, name: str) -> ProposedGroup:
        """The proposed group called *name* (ignoring case)."""
        for g in self.groups:
            if g.name.lower() == name.lower():
                return g
        raise ProposalError(
            f"no proposed group {name!r}; the groups are {_list([g.name for g in self.groups])}"
        )

    def _replace(self, groups: Iterable[ProposedGroup], **changes: Any) -> Proposal:
        kept = tuple(g for g in groups if g.members)
        return attrs.evolve(self, groups=kept, previous=self, **changes).validate()

    def rename(self, old: str, new: str) -> Proposal:
        """Rename proposed group *old* to *new*."""
        target = self.group(old)
        if target.existing:
            raise ProposalError(f"{old!r} is an existing group; groupify does not rename it")
        validate_name(new)
        return self._replace(attrs.evolve(g, name=new) if g is target else g for g in self.groups)

    def merge(self, first: str, second: str, *, name: str | None = None) -> Proposal:
        """Merge two groups into one with the members and policies of both.

        Valid only when every member of either already has every policy of
        both; otherwise some user would gain access, and the error names them.
        """
        a, b = self.group(first), self.group(second)
        if a is b:
            raise ProposalError(f"cannot merge {first!r} with itself")
        if a.existing or b.existing:
            raise ProposalError("existing groups are reused unchanged and cannot be merged")
        merged = ProposedGroup(
            name=name or a.name,
            policies=a.policies | b.policies,
            members=a.members | b.members,
            reason=f"merged {a.name} and {b.name}",
            as_managed=a.as_managed | b.as_managed,
        )
        out = [g for g in self.groups if g is not a and g is not b]
        try:
            return self._replace([*out, merged])
        except ProposalError as exc:
            raise ProposalError(
                f"cannot merge {a.name!r} and {b.name!r}: {str(exc).split(';')[0]}; groups "
                "merge only when every member of both holds every policy of both",
                users=exc.users,
            ) from None

    def move_user(self, user: str, source: str, target: str) -> Proposal:
        """Move *user* from group *source* to group *target*."""
        src, dst = self.group(source), self.group(target)
        if user not in src.members:
            raise ProposalError(f"user {user!r} is not in group {src.name!r}", users=[user])
        if src is dst:
            raise ProposalError(f"user {user!r} is already in group {dst.name!r}", users=[user])
        return self._replace(
            attrs.evolve(g, members=g.members - {user})
            if g is src
            else attrs.evolve(g, members=g.members | {user})
            if g is dst
            else g
            for g in self.groups
        )

    def exclude_user(self, user: str, reason: str = "excluded in review") -> Proposal:
        """Leave *user* untouched, as a documented exception with *reason*."""
        found = self.inventory.user_by_name.get(user)
        if found is None:
            raise ProposalError(f"no user {user!r} in the inventory", users=[user])
        if not reason.strip():
            raise ProposalError("an exclusion needs a reason, for the record")
        exemption = Exemption(user, reason, found.direct)
        return self._replace(
            (attrs.evolve(g, members=g.members - {user}) for g in self.groups),
            excluded=(*self.excluded, exemption),
        )

    def split(self, group: str, members: Iterable[str], *, name: str | None = None) -> Proposal:
        """Move *members* of *group* into a new group with the same policies."""
        source = self.group(group)
        moving = frozenset(members)
        if source.existing:
            raise ProposalError(f"{source.name!r} is an existing group; split a new group instead")
        if not moving:
            raise ProposalError("give the members to move into the new group")
        strangers = sorted(moving - source.members)
        if strangers:
            raise ProposalError(f"{_list(strangers)} not in group {source.name!r}", users=strangers)
        if moving == source.members:
            raise ProposalError(f"that is every member of {source.name!r}; rename it instead")
        new_name = name or suggest_name(
            [self.inventory.user_by_name[m] for m in sorted(moving)],
            source.policies,
            self.inventory,
            {
                **{g.name.lower(): g.policies for g in self.inventory.groups},
                **{g.name.lower(): g.policies for g in self.groups},
            },
        )
        twin = attrs.evolve(
            source, name=new_name, members=moving, reason=f"split from {source.name}"
        )
        return self._replace(
            [
                *(
                    attrs.evolve(g, members=g.members - moving) if g is source else g
                    for g in self.groups
                ),
                twin,
            ]
        )

    def diff(self, other: Proposal) -> ProposalDiff:
        """What changed from this proposal to *other* (an edited one)."""
        return ProposalDiff.between(self, other)

    # -- reading ----------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        groups_per_user = Counter(m for g in self.groups for m in g.members)
        return {
            "strategy": self.strategy,
            "users_in_scope": len(self.in_scope),
            "exceptions": len(self.exceptions),
            "groups_new": sum(1 for g in self.groups if not g.existing),
            "groups_reused": sum(1 for g in self.groups if g.existing),
            "policies_created": len(self.created_policies),
            "max_groups_per_user": max(groups_per_user.values(), default=0),
        }

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form; :meth:`from_dict` reads it back against an inventory."""
        inv = self.inventory
        return {
            "format": "groupify.proposal/1",
            "account_id": inv.account_id,
            "fingerprint": inv.fingerprint,
            "strategy": self.strategy,
            "exemptions": {
                "users": list(self.exemptions.users),
                "tags": list(self.exemptions.tags),
            },
            "excluded": [{"user": e.user, "reason": e.reason} for e in self.excluded],
            "exceptions": [{"user": e.user, "reason": e.reason} for e in self.exceptions],
            "summary": self.summary(),
            "groups": [
                {
                    "name": g.name,
                    "existing": g.existing,
                    "reason": g.reason,
                    "members": sorted(g.members),
                    "policies": [
                        _policy_dict(inv, p, p in g.as_managed) for p in sorted(g.policies)
                    ],
                }
                for g in self.groups
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], inventory: Inventory) -> Proposal:
        """Read a proposal written by :meth:`to_dict` (perhaps edited) and validate it."""
        if not isinstance(data, Mapping) or data.get("format") != "groupify.proposal/1":
            raise InputError("not a groupify proposal (format is not groupify.proposal/1)")
        if data.get("fingerprint") != inventory.fingerprint:
            raise StalePlanError(
                "the proposal was made from another inventory (fingerprint differs); "
                "propose again from the current account"
            )
        refs = {p.id: p for u in inventory.users for p in u.direct}
        refs.update({p.id: p for g in inventory.groups for p in g.policies})
        try:
            groups = []
            for g in data["groups"]:
                policies, as_managed = [], []
                for p in g["policies"]:
                    ref = refs.get(p["id"])
                    if ref is None:
                        raise ProposalError(
                            f"group {g['name']!r}: policy {p['id']!r} is not in the inventory"
                        )
                    policies.append(ref)
                    if p.get("as_managed"):
                        as_managed.append(ref)
                groups.append(
                    ProposedGroup(
                        name=g["name"],
                        policies=policies,
                        members=g["members"],
                        existing=bool(g.get("existing", False)),
                        reason=str(g.get("reason", "")),
                        as_managed=as_managed,
                    )
                )
            ex = data.get("exemptions", {})
            excluded = [
                Exemption(e["user"], e["reason"], inventory.user_by_name[e["user"]].direct)
                for e in data.get("excluded", [])
            ]
            proposal = cls(
                inventory=inventory,
                groups=groups,
                exemptions=Exemptions(users=ex.get("users", ()), tags=ex.get("tags", ())),
                strategy=str(data.get("strategy", "exact")),
                excluded=excluded,
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise InputError(f"malformed proposal: {type(exc).__name__}: {exc}") from None
        return proposal.validate()

    def _repr_html_(self) -> str:
        from groupify.proposal.views import proposal_html

        return proposal_html(self)

    def to_dataframe(self, what: str = "groups") -> Any:
        """Groups (``"groups"``) or memberships (``"users"``) as a pandas DataFrame."""
        from groupify.proposal.views import proposal_frame

        return proposal_frame(self, what)

    def __repr__(self) -> str:
        s = self.summary()
        return (
            f"Proposal(strategy={self.strategy!r}, users={s['users_in_scope']}, "
            f"groups={s['groups_new']} new + {s['groups_reused']} reused, "
            f"exceptions={s['exceptions']})"
        )


@frozen
class ProposalDiff:
    """Groups added, removed and renamed, and users moved, between two proposals."""

    added: tuple[str, ...]
    removed: tuple[str, ...]
    renamed: tuple[tuple[str, str], ...]
    moved: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...]
    excluded: tuple[str, ...]

    @classmethod
    def between(cls, old: Proposal, new: Proposal) -> ProposalDiff:
        old_names = {g.name for g in old.groups}
        new_names = {g.name for g in new.groups}
        # A rename: a group gone and a group new with the same policies; where
        # several fit, the one sharing the most members.
        renamed: list[tuple[str, str]] = []
        candidates = [g for g in new.groups if g.name not in old_names]
        for g in sorted(old.groups, key=lambda g: g.name):
            if g.name in new_names:
                continue
            fits = [c for c in candidates if c.policies == g.policies and c.members & g.members]
            if fits:
                best = max(fits, key=lambda c: (len(c.members & g.members), c.name))
                renamed.append((g.name, best.name))
                candidates.remove(best)
        renamed.sort()
        renamed_old = {a for a, _ in renamed}
        renamed_new = {b for _, b in renamed}
        moved = []
        users = sorted({m for g in (*old.groups, *new.groups) for m in g.members})
        for user in users:
            was = tuple(sorted(g.name for g in old.groups_of(user)))
            now = tuple(sorted(g.name for g in new.groups_of(user)))
            renames = dict(renamed)
            if tuple(sorted(renames.get(n, n) for n in was)) != now:
                moved.append((user, was, now))
        return cls(
            added=tuple(sorted(new_names - old_names - renamed_new)),
            removed=tuple(sorted(old_names - new_names - renamed_old)),
            renamed=tuple(renamed),
            moved=tuple(moved),
            excluded=tuple(
                sorted({e.user for e in new.exceptions} - {e.user for e in old.exceptions})
            ),
        )

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.renamed or self.moved or self.excluded)

    def lines(self) -> list[str]:
        out = [f"+ group {n}" for n in self.added]
        out += [f"- group {n}" for n in self.removed]
        out += [f"~ group {a} -> {b}" for a, b in self.renamed]
        out += [
            f"~ user {u}: {', '.join(was) or '(no group)'} -> {', '.join(now) or '(no group)'}"
            for u, was, now in self.moved
        ]
        out += [f"! user {u} excluded" for u in self.excluded]
        return out or ["(no change)"]

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def _repr_html_(self) -> str:
        from groupify.proposal.views import diff_html

        return diff_html(self)


def _policy_dict(inv: Inventory, ref: PolicyRef, as_managed: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"id": ref.id, "name": inv.label(ref), "kind": ref.kind}
    if ref.kind == "managed":
        out["aws_managed"] = ref.is_aws_managed
    elif as_managed:
        out["as_managed"] = True
    return out


def _labels(inv: Inventory, refs: Iterable[PolicyRef]) -> str:
    return _list([inv.label(r) for r in sorted(refs)])


def _names(groups: Iterable[ProposedGroup]) -> str:
    return _list([g.name for g in groups])


def _list(items: Sequence[str], most: int = 5) -> str:
    items = list(items)
    shown = ", ".join(items[:most])
    return shown + (f" and {len(items) - most} more" if len(items) > most else "")
