"""The inventory: frozen, hashable models of an account's users, groups and policies.

A managed policy is identified by its ARN; an inline policy by its canonical
document, so the same document under two names on two users is one policy.
Both are :class:`PolicyRef` values, and a user's *access* is the set of
``PolicyRef`` it holds directly or through its groups.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from functools import cached_property
from typing import Any, ClassVar, Literal

import attrs
from attrs import field, frozen

from groupify.errors import InputError
from groupify.inventory.iam import (
    account_problem,
    caller_arn_problem,
    entity_arn_problem,
    name_problem,
    path_problem,
    policy_arn_problem,
)
from groupify.inventory.policy import canonical_document, digest, document_size, is_aws_managed

__all__ = [
    "Group",
    "InlinePolicy",
    "Inventory",
    "ManagedPolicy",
    "PolicyRef",
    "Quotas",
    "Role",
    "User",
]

PolicyKind = Literal["managed", "inline"]


def _sorted_tuple(items: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(sorted(items))


@frozen(order=True)
class PolicyRef:
    """One grant of access: a managed policy by ARN, or an inline document by content."""

    kind: PolicyKind
    key: str

    @classmethod
    def managed(cls, arn: str) -> PolicyRef:
        return cls("managed", arn)

    @classmethod
    def inline(cls, document: Any) -> PolicyRef:
        return cls("inline", canonical_document(document))

    @property
    def is_managed(self) -> bool:
        return self.kind == "managed"

    @property
    def is_aws_managed(self) -> bool:
        return self.kind == "managed" and is_aws_managed(self.key)

    @property
    def id(self) -> str:
        """A short, stable id: the ARN, or ``inline:<digest>`` of the document."""
        return self.key if self.kind == "managed" else f"inline:{digest(self.key)}"

    def kind_label(self, as_managed: bool = False) -> str:
        """``AWS-managed``, ``customer-managed`` or ``inline`` (``inline → managed``)."""
        if self.is_aws_managed:
            return "AWS-managed"
        if self.is_managed:
            return "customer-managed"
        return "inline → managed" if as_managed else "inline"

    @property
    def size(self) -> int:
        """IAM-counted characters of an inline document (0 for a managed policy)."""
        return document_size(self.key) if self.kind == "inline" else 0

    def __repr__(self) -> str:
        return f"PolicyRef({self.id})"


@frozen(order=True)
class InlinePolicy:
    """An inline policy as attached: its name there and its canonical document."""

    name: str
    document: str

    @property
    def ref(self) -> PolicyRef:
        return PolicyRef("inline", self.document)

    def __repr__(self) -> str:
        return f"InlinePolicy({self.name!r}, {self.ref.id})"


@frozen
class ManagedPolicy:
    """A managed policy the inventory knows the details of (customer-managed, usually)."""

    arn: str
    name: str
    path: str = "/"
    document: str | None = None
    attachment_count: int | None = None

    @property
    def is_aws_managed(self) -> bool:
        return is_aws_managed(self.arn)


@frozen
class User:
    """An IAM user with what it holds directly and the groups it is in."""

    name: str
    arn: str
    user_id: str = ""
    path: str = "/"
    tags: tuple[tuple[str, str], ...] = field(default=(), converter=_sorted_tuple)
    groups: tuple[str, ...] = field(default=(), converter=_sorted_tuple)
    managed: tuple[str, ...] = field(default=(), converter=_sorted_tuple)
    inline: tuple[InlinePolicy, ...] = field(default=(), converter=_sorted_tuple)
    permissions_boundary: str | None = None

    @cached_property
    def direct(self) -> frozenset[PolicyRef]:
        """Every policy attached to or embedded in the user itself."""
        return frozenset(PolicyRef("managed", a) for a in self.managed) | frozenset(
            p.ref for p in self.inline
        )

    @property
    def tag_map(self) -> dict[str, str]:
        return dict(self.tags)

    def __repr__(self) -> str:
        return f"User({self.name!r}, direct={len(self.direct)}, groups={len(self.groups)})"


@frozen
class Group:
    """An IAM group and the policies attached to or embedded in it."""

    name: str
    arn: str
    group_id: str = ""
    path: str = "/"
    managed: tuple[str, ...] = field(default=(), converter=_sorted_tuple)
    inline: tuple[InlinePolicy, ...] = field(default=(), converter=_sorted_tuple)

    @cached_property
    def policies(self) -> frozenset[PolicyRef]:
        return frozenset(PolicyRef("managed", a) for a in self.managed) | frozenset(
            p.ref for p in self.inline
        )

    def __repr__(self) -> str:
        return f"Group({self.name!r}, policies={len(self.policies)})"


@frozen
class Role:
    """An IAM role: not a group member ever, but it may change or join groups (a control path)."""

    name: str
    arn: str
    path: str = "/"
    managed: tuple[str, ...] = field(default=(), converter=_sorted_tuple)
    inline: tuple[InlinePolicy, ...] = field(default=(), converter=_sorted_tuple)
    permissions_boundary: str | None = None

    @cached_property
    def policies(self) -> frozenset[PolicyRef]:
        return frozenset(PolicyRef("managed", a) for a in self.managed) | frozenset(
            p.ref for p in self.inline
        )

    def __repr__(self) -> str:
        return f"Role({self.name!r}, policies={len(self.policies)})"


def _positive(instance: Any, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 1:
        raise InputError(f"quota {attribute.name} must be at least 1, got {value}")


@frozen
class Quotas:
    """The IAM quotas a migration must respect.

    Defaults are IAM's default quotas; :func:`groupify.scan` reads the live
    values from ``GetAccountSummary``.
    """

    groups_per_user: int = field(default=10, validator=_positive)
    managed_policies_per_group: int = field(default=10, validator=_positive)
    group_inline_chars: int = field(default=5120, validator=_positive)
    groups_per_account: int = field(default=300, validator=_positive)
    policies_per_account: int = field(default=1500, validator=_positive)
    policy_size: int = field(default=6144, validator=_positive)

    #: ``GetAccountSummary`` keys for each field.
    SUMMARY_KEYS: ClassVar[dict[str, str]] = {
        "groups_per_user": "GroupsPerUserQuota",
        "managed_policies_per_group": "AttachedPoliciesPerGroupQuota",
        "group_inline_chars": "GroupPolicySizeQuota",
        "groups_per_account": "GroupsQuota",
        "policies_per_account": "PoliciesQuota",
        "policy_size": "PolicySizeQuota",
    }

    @classmethod
    def from_account_summary(cls, summary: Mapping[str, int]) -> Quotas:
        """Quotas from a ``GetAccountSummary`` ``SummaryMap``; missing keys keep defaults."""
        values = {
            name: int(summary[key]) for name, key in cls.SUMMARY_KEYS.items() if key in summary
        }
        return cls(**values)

    def to_dict(self) -> dict[str, int]:
        return attrs.asdict(self)


def _optional_str(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise TypeError(f"expected a string, got {type(value).__name__}")


def _users(items: Iterable[User]) -> tuple[User, ...]:
    return tuple(sorted(items, key=lambda u: u.name))


def _group_list(items: Iterable[Group]) -> tuple[Group, ...]:
    return tuple(sorted(items, key=lambda g: g.name))


def _inline_dicts(policies: Iterable[InlinePolicy]) -> list[dict[str, str]]:
    return [{"name": p.name, "document": p.document} for p in policies]


def _inline_from(entries: Iterable[Mapping[str, Any]]) -> list[InlinePolicy]:
    return [InlinePolicy(p["name"], canonical_document(p["document"])) for p in entries]


def _check_types(data: Mapping[str, Any]) -> None:
    """Refuse, as one line, fields of the wrong type that would fail later as a traceback."""
    optional = {"caller_arn": data.get("caller_arn")}
    for kind in ("users", "roles"):
        for entry in data.get(kind, []) or []:
            if not isinstance(entry, Mapping):
                raise InputError(f"malformed inventory: {kind} entries must be objects")
            optional[f"{kind} {entry.get('name')!r} permissions_boundary"] = entry.get(
                "permissions_boundary"
            )
            for key in ("name", "arn"):
                if not isinstance(entry.get(key), str):
                    raise InputError(f"malformed inventory: a {kind[:-1]}'s {key} must be text")
    for what, value in optional.items():
        if value is not None and not isinstance(value, str):
            raise InputError(f"malformed inventory: {what} must be text or null")


def _check_iam(inventory: Inventory) -> None:
    """Refuse, as one line, a name, path or ARN IAM would never have written (an edited file)."""

    def check(problem: str | None, where: str = "") -> None:
        if problem is not None:
            raise InputError(f"malformed inventory: {where}{': ' if where else ''}{problem}")

    check(account_problem(inventory.account_id))
    entities: list[tuple[str, User | Group | Role]] = [
        *(("user", u) for u in inventory.users),
        *(("group", g) for g in inventory.groups),
        *(("role", r) for r in inventory.roles),
    ]
    for kind, entity in entities:
        check(name_problem(entity.name, kind))
        where = f"{kind} {entity.name!r}"
        check(entity_arn_problem(entity.arn, kind), where)
        check(path_problem(entity.path), where)
        for arn in entity.managed:
            check(policy_arn_problem(arn), where)
        for inline in entity.inline:
            check(name_problem(inline.name, "policy"), where)
        boundary = getattr(entity, "permissions_boundary", None)
        if boundary is not None:
            check(policy_arn_problem(boundary), f"{where}, boundary")
    for user in inventory.users:
        seen: set[str] = set()
        for key, _ in user.tags:
            if key.lower() in seen:
                check(
                    f"tag key {key!r} appears twice (IAM tag keys are unique ignoring case)",
                    f"user {user.name!r}",
                )
            seen.add(key.lower())
    for policy in (*inventory.policies, *inventory.aws_policies):
        check(policy_arn_problem(policy.arn), "policy")
        where = f"policy {policy.arn!r}"
        check(name_problem(policy.name, "policy"), where)
        check(path_problem(policy.path), where)
        if policy.document is not None:
            if not isinstance(policy.document, str):
                check(f"document must be text or null, not {type(policy.document).__name__}", where)
            try:
                canonical_document(policy.document)
            except InputError as exc:
                check(str(exc), where)
    if inventory.caller_arn is not None:
        check(caller_arn_problem(inventory.caller_arn))


def _role_list(items: Iterable[Role]) -> tuple[Role, ...]:
    return tuple(sorted(items, key=lambda r: r.name))


def _policy_list(items: Iterable[ManagedPolicy]) -> tuple[ManagedPolicy, ...]:
    return tuple(sorted(items, key=lambda p: p.arn))


@frozen
class Inventory:
    """What an account holds that matters to IAM.2, as read by a scan or from a GAAD file."""

    account_id: str
    users: tuple[User, ...] = field(converter=_users)
    groups: tuple[Group, ...] = field(converter=_group_list)
    policies: tuple[ManagedPolicy, ...] = field(default=(), converter=_policy_list)
    #: The AWS-managed policies users and groups hold, with their documents where known
    #: (a GAAD file saved without a filter, or a scan, has them; a missing one is unknown).
    aws_policies: tuple[ManagedPolicy, ...] = field(default=(), converter=_policy_list)
    #: Roles and their policies: checked as control paths over the groups a plan makes.
    roles: tuple[Role, ...] = field(default=(), converter=_role_list)
    quotas: Quotas = Quotas()
    caller_arn: str | None = None
    source: str = field(default="", eq=False)
    #: Existing groups and users in the account as counted by GetAccountSummary
    #: (``None`` when read from a file: the inventory's own counts are used).
    group_count: int | None = field(default=None, eq=False)
    #: When the account was read (UTC, ISO 8601): the scan's time, or a GAAD file's
    #: modification time; ``None`` when unknown.
    read_at: str | None = field(default=None, eq=False)

    def __attrs_post_init__(self) -> None:
        names = [u.name.lower() for u in self.users]
        if len(set(names)) != len(names):
            raise InputError("inventory has two users whose names differ only in case")
        groups = {g.name for g in self.groups}
        for user in self.users:
            missing = sorted(set(user.groups) - groups)
            if missing:
                raise InputError(
                    f"user {user.name!r} is in group {missing[0]!r}, which the inventory does "
                    "not describe (save the GAAD file without --filter)"
                )

    # -- look-ups -------------------------------------------------------------

    @cached_property
    def user_by_name(self) -> dict[str, User]:
        return {u.name: u for u in self.users}

    @cached_property
    def group_by_name(self) -> dict[str, Group]:
        return {g.name: g for g in self.groups}

    @cached_property
    def policy_by_arn(self) -> dict[str, ManagedPolicy]:
        return {p.arn: p for p in self.policies}

    @cached_property
    def aws_policy_by_arn(self) -> dict[str, ManagedPolicy]:
        return {p.arn: p for p in self.aws_policies}

    def document(self, ref: PolicyRef) -> str | None:
        """The canonical document of the policy *ref* stands for, or ``None`` when unknown."""
        if not ref.is_managed:
            return ref.key
        known = self.aws_policy_by_arn if ref.is_aws_managed else self.policy_by_arn
        policy = known.get(ref.key)
        return policy.document if policy is not None else None

    def boundary_document(self, user: User) -> str | tuple[()] | None:
        """*user*'s permissions boundary document: ``()`` for none, ``None`` when unknown."""
        arn = user.permissions_boundary
        if not arn:
            return ()
        return self.document(PolicyRef.managed(arn))

    @cached_property
    def inline_names(self) -> dict[PolicyRef, tuple[str, ...]]:
        """Every name each inline document goes by, most common first."""
        counts: dict[PolicyRef, dict[str, int]] = {}
        holders: list[User | Group] = [*self.users, *self.groups]
        for holder in holders:
            for p in holder.inline:
                names = counts.setdefault(p.ref, {})
                names[p.name] = names.get(p.name, 0) + 1
        return {
            ref: tuple(sorted(names, key=lambda n: (-names[n], n))) for ref, names in counts.items()
        }

    def label(self, ref: PolicyRef) -> str:
        """A short, human name for a policy: the managed policy's name, or the inline name."""
        if ref.kind == "managed":
            return ref.key.rsplit("/", 1)[-1]
        names = self.inline_names.get(ref)
        return names[0] if names else ref.id

    @cached_property
    def partition(self) -> str:
        """The AWS partition of the account (``aws``, ``aws-cn``, ``aws-us-gov``)."""
        for arn in (*(u.arn for u in self.users), *(g.arn for g in self.groups)):
            parts = arn.split(":")
            if len(parts) > 1 and parts[0] == "arn" and parts[1]:
                return parts[1]
        return "aws"

    def policy_arn(self, name: str, path: str = "/") -> str:
        """The ARN IAM gives a customer-managed policy *name* under *path* in this account."""
        return f"arn:{self.partition}:iam::{self.account_id}:policy{path}{name}"

    def group_access(self, user: User) -> frozenset[PolicyRef]:
        """What *user* gets through the groups it is in now."""
        out: frozenset[PolicyRef] = frozenset()
        for name in user.groups:
            out |= self.group_by_name[name].policies
        return out

    def access(self, user: User) -> frozenset[PolicyRef]:
        """*user*'s effective identity-policy access: direct plus through groups."""
        return user.direct | self.group_access(user)

    @property
    def caller_user(self) -> str | None:
        """The IAM user running the tool, when it is one."""
        if self.caller_arn and ":user/" in self.caller_arn:
            return self.caller_arn.rsplit("/", 1)[-1]
        return None

    @property
    def existing_group_count(self) -> int:
        return self.group_count if self.group_count is not None else len(self.groups)

    @property
    def iam2_failing(self) -> tuple[User, ...]:
        """The users IAM.2 fails for: those with a policy attached directly."""
        return tuple(u for u in self.users if u.direct)

    def summary(self) -> dict[str, Any]:
        """The account and who fails IAM.2, as ``groupify scan --json`` prints it."""
        return {
            "account_id": self.account_id,
            "fingerprint": self.fingerprint,
            "source": self.source,
            "caller_arn": self.caller_arn,
            "users": len(self.users),
            "groups": len(self.groups),
            "quotas": self.quotas.to_dict(),
            "iam2_failing": [
                {
                    "user": u.name,
                    "managed": list(u.managed),
                    "inline": [p.name for p in u.inline],
                    "groups": list(u.groups),
                }
                for u in self.iam2_failing
            ],
        }

    # -- identity -----------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form that :meth:`from_dict` reads back."""
        return {
            "account_id": self.account_id,
            "caller_arn": self.caller_arn,
            "users": [
                {
                    "name": u.name,
                    "arn": u.arn,
                    "user_id": u.user_id,
                    "path": u.path,
                    "tags": [list(t) for t in u.tags],
                    "groups": list(u.groups),
                    "managed": list(u.managed),
                    "inline": _inline_dicts(u.inline),
                    "permissions_boundary": u.permissions_boundary,
                }
                for u in self.users
            ],
            "groups": [
                {
                    "name": g.name,
                    "arn": g.arn,
                    "group_id": g.group_id,
                    "path": g.path,
                    "managed": list(g.managed),
                    "inline": _inline_dicts(g.inline),
                }
                for g in self.groups
            ],
            "policies": [
                {
                    "arn": p.arn,
                    "name": p.name,
                    "path": p.path,
                    "document": p.document,
                    "attachment_count": p.attachment_count,
                }
                for p in self.policies
            ],
            "aws_policies": [
                {"arn": p.arn, "name": p.name, "path": p.path, "document": p.document}
                for p in self.aws_policies
            ],
            "roles": [
                {
                    "name": r.name,
                    "arn": r.arn,
                    "path": r.path,
                    "managed": list(r.managed),
                    "inline": _inline_dicts(r.inline),
                    "permissions_boundary": r.permissions_boundary,
                }
                for r in self.roles
            ],
            "quotas": self.quotas.to_dict(),
            "group_count": self.group_count,
            **({"read_at": self.read_at} if self.read_at else {}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "") -> Inventory:
        """Read what :meth:`to_dict` wrote; raises :class:`InputError` on bad data."""
        try:
            _check_types(data)
            inventory = cls(
                account_id=str(data["account_id"]),
                caller_arn=data.get("caller_arn"),
                users=[
                    User(
                        name=u["name"],
                        arn=u["arn"],
                        user_id=u.get("user_id", ""),
                        path=u.get("path", "/"),
                        tags=[(str(k), str(v)) for k, v in u.get("tags", [])],
                        groups=u.get("groups", []),
                        managed=u.get("managed", []),
                        inline=_inline_from(u.get("inline", [])),
                        permissions_boundary=u.get("permissions_boundary"),
                    )
                    for u in data["users"]
                ],
                groups=[
                    Group(
                        name=g["name"],
                        arn=g["arn"],
                        group_id=g.get("group_id", ""),
                        path=g.get("path", "/"),
                        managed=g.get("managed", []),
                        inline=_inline_from(g.get("inline", [])),
                    )
                    for g in data["groups"]
                ],
                policies=[
                    ManagedPolicy(
                        arn=p["arn"],
                        name=p["name"],
                        path=p.get("path", "/"),
                        document=p.get("document"),
                        attachment_count=p.get("attachment_count"),
                    )
                    for p in data.get("policies", [])
                ],
                aws_policies=[
                    ManagedPolicy(
                        arn=p["arn"],
                        name=p["name"],
                        path=p.get("path", "/"),
                        document=p.get("document"),
                    )
                    for p in data.get("aws_policies", [])
                ],
                roles=[
                    Role(
                        name=r["name"],
                        arn=r["arn"],
                        path=r.get("path", "/"),
                        managed=r.get("managed", []),
                        inline=_inline_from(r.get("inline", [])),
                        permissions_boundary=r.get("permissions_boundary"),
                    )
                    for r in data.get("roles", [])
                ],
                quotas=Quotas(**data.get("quotas", {})),
                group_count=data.get("group_count"),
                read_at=_optional_str(data.get("read_at")),
                source=source,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InputError(f"malformed inventory: {type(exc).__name__}: {exc}") from None
        _check_iam(inventory)
        return inventory

    @cached_property
    def fingerprint(self) -> str:
        """SHA-256 over the account id, users and groups in canonical form.

        Quotas, the caller and policy details are left out, so a live scan and a
        GAAD file of the same account state have the same fingerprint.
        """
        data = self.to_dict()
        core = {k: data[k] for k in ("account_id", "users", "groups")}
        text = json.dumps(core, sort_keys=True, separators=(",", ":"))
        return "sha256:" + digest(text, 64)

    def _repr_html_(self) -> str:
        from groupify.inventory.views import inventory_html

        return inventory_html(self)

    def to_dataframe(self) -> Any:
        """Users as a pandas DataFrame (needs ``groupify[notebook]``)."""
        from groupify.inventory.views import inventory_frame

        return inventory_frame(self)

    def __repr__(self) -> str:
        return (
            f"Inventory(account={self.account_id}, users={len(self.users)}, "
            f"groups={len(self.groups)})"
        )
