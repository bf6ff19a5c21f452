"""Read ``get-account-authorization-details`` output into an :class:`Inventory`.

The same parser serves a file saved with the AWS CLI (documents decoded to
JSON objects, pages already merged) and the pages of a live paginated call
(documents URL-encoded strings).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from groupify._files import read_json
from groupify._gc import without_gc
from groupify.errors import GaadFormatError, InputError
from groupify.inventory.iam import (
    arn_account,
    entity_arn_problem,
    name_problem,
    path_problem,
    policy_arn_problem,
    shown,
)
from groupify.inventory.model import (
    Group,
    InlinePolicy,
    Inventory,
    ManagedPolicy,
    Quotas,
    Role,
    User,
)
from groupify.inventory.policy import canonical_document

__all__ = ["load_gaad", "parse_gaad"]

_LIST_KEYS = ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies")


@without_gc  # reading the file too: its JSON is most of what a load allocates
def load_gaad(path: str | os.PathLike[str], *, quotas: Quotas | None = None) -> Inventory:
    """Read a file written by ``aws iam get-account-authorization-details``.

    Raises :class:`~groupify.errors.GaadFormatError` (one line, naming the file)
    for a file that is missing, not JSON, truncated, or not GAAD output.
    """
    name = os.fspath(path)
    data = read_json(name, GaadFormatError, "not valid JSON")
    if isinstance(data, dict) and data.get("IsTruncated"):
        # The CLI merges pages; a truncated file was saved one page at a time.
        raise GaadFormatError(
            f"{name}: file holds only the first page (IsTruncated is true); save it again "
            "without --no-paginate or --max-items"
        )
    inventory = parse_gaad([data], source=name, quotas=quotas)
    saved = dt.datetime.fromtimestamp(os.path.getmtime(name), dt.UTC)
    return attrs.evolve(inventory, read_at=saved.isoformat(timespec="seconds"))


def _fail(source: str, message: str) -> GaadFormatError:
    prefix = f"{source}: " if source else ""
    return GaadFormatError(f"{prefix}{message}")


def _list(obj: Mapping[str, Any], key: str, where: str, source: str) -> list[Any]:
    value = obj.get(key, [])
    if value is None:
        return []
    if not isinstance(value, list):
        raise _fail(source, f"{where}: {key} must be a list, got {type(value).__name__}")
    return value


def _str(
    obj: Mapping[str, Any], key: str, where: str, source: str, default: str | None = None
) -> str:
    value = obj.get(key, default)
    if not isinstance(value, str) or (default is None and not value):
        raise _fail(source, f"{where}: missing or invalid {key}")
    return value


def _check(problem: str | None, where: str, source: str) -> None:
    if problem is not None:
        raise _fail(source, f"{where}: {problem}" if where else problem)


def _name(value: str, kind: str, where: str, source: str) -> str:
    """*value* if IAM allows it as a *kind* name; *where* names the entity (or is empty)."""
    _check(name_problem(value, kind), where, source)
    return value


def _path(raw: Mapping[str, Any], where: str, source: str) -> str:
    path = _str(raw, "Path", where, source, default="/")
    _check(path_problem(path), where, source)
    return path


def _arn(raw: Mapping[str, Any], kind: str, where: str, source: str) -> str:
    """The entity's ``Arn``: an IAM ARN of a *kind* in a 12-digit account."""
    arn = _str(raw, "Arn", where, source)
    _check(entity_arn_problem(arn, kind), where, source)
    return arn


def _policy_arn(arn: str, where: str, source: str) -> str:
    _check(policy_arn_problem(arn), where, source)
    return arn


def _tags(raw: Mapping[str, Any], where: str, source: str) -> list[tuple[str, str]]:
    tags = []
    seen: set[str] = set()
    for tag in _list(raw, "Tags", where, source):
        if not isinstance(tag, dict) or not isinstance(tag.get("Key"), str):
            raise _fail(source, f"{where}: tags must be objects with Key and Value")
        key = tag["Key"]
        if key.lower() in seen:
            raise _fail(
                source,
                f"{where}: tag key {shown(key)} appears twice (IAM tag keys are unique "
                "ignoring case)",
            )
        seen.add(key.lower())
        tags.append((key, str(tag.get("Value", ""))))
    return tags


def _inline(items: list[Any], where: str, source: str) -> list[InlinePolicy]:
    out = []
    seen: set[str] = set()
    for item in items:
        if not isinstance(item, dict):
            raise _fail(source, f"{where}: inline policy entry must be an object")
        name = _name(_str(item, "PolicyName", where, source), "policy", where, source)
        if name in seen:
            raise _fail(source, f"{where}: inline policy {name!r} appears twice")
        seen.add(name)
        try:
            doc = canonical_document(item.get("PolicyDocument"))
        except InputError as exc:
            raise _fail(source, f"{where}, inline policy {name!r}: {exc}") from None
        out.append(InlinePolicy(name, doc))
    return out


def _attached(items: list[Any], where: str, source: str) -> list[str]:
    arns = []
    for item in items:
        if not isinstance(item, dict):
            raise _fail(source, f"{where}: attached policy entry must be an object")
        arn = _policy_arn(_str(item, "PolicyArn", where, source), where, source)
        if "PolicyName" in item:
            _name(_str(item, "PolicyName", where, source), "policy", where, source)
        arns.append(arn)
    if len(set(arns)) != len(arns):
        raise _fail(source, f"{where}: a managed policy is attached twice")
    return arns


@without_gc
def parse_gaad(
    pages: Iterable[Mapping[str, Any]],
    *,
    source: str = "",
    quotas: Quotas | None = None,
    caller_arn: str | None = None,
    group_count: int | None = None,
    account_id: str | None = None,
) -> Inventory:
    """Build an :class:`Inventory` from one or more GAAD pages (or one merged file).

    *account_id* (from ``sts:GetCallerIdentity`` in a scan) names the account
    when no ARN in the pages does, and must agree with them otherwise.
    """
    users: list[User] = []
    groups: list[Group] = []
    roles: list[Role] = []
    policies: list[ManagedPolicy] = []
    n_pages = 0
    for page in pages:
        n_pages += 1
        if not isinstance(page, dict):
            raise _fail(source, "not a get-account-authorization-details document (not an object)")
        if not any(k in page for k in _LIST_KEYS):
            raise _fail(
                source,
                "not a get-account-authorization-details document (no UserDetailList, "
                "GroupDetailList or Policies)",
            )
        for raw in _list(page, "UserDetailList", "document", source):
            users.append(_user(raw, source))
        for raw in _list(page, "GroupDetailList", "document", source):
            groups.append(_group(raw, source))
        for raw in _list(page, "RoleDetailList", "document", source):
            roles.append(_role(raw, source))
        for raw in _list(page, "Policies", "document", source):
            policies.append(_policy(raw, source))
    if n_pages == 0:
        raise _fail(source, "no pages")

    for kind, names in (("user", [u.name for u in users]), ("group", [g.name for g in groups])):
        lowered = [n.lower() for n in names]
        if len(set(lowered)) != len(lowered):
            dup = sorted(n for n in names if lowered.count(n.lower()) > 1)[0]
            raise _fail(
                source, f"{kind} {dup!r} appears twice (IAM names are unique ignoring case)"
            )

    # AWS-managed policies (in a file saved without a filter) are kept where a user
    # or group holds them: their documents are what the privilege checks read.
    attached = {a for u in users for a in u.managed} | {a for g in groups for a in g.managed}
    attached |= {a for r in roles for a in r.managed}
    attached |= {u.permissions_boundary for u in users if u.permissions_boundary}
    attached |= {r.permissions_boundary for r in roles if r.permissions_boundary}
    aws_policies = [p for p in policies if p.is_aws_managed and p.arn in attached]
    policies = [p for p in policies if not p.is_aws_managed]
    arns = [u.arn for u in users] + [g.arn for g in groups] + [p.arn for p in policies]
    arns += [r.arn for r in roles]
    accounts = {a for a in map(arn_account, arns) if a is not None}
    if account_id is not None:
        accounts.add(account_id)
    if len(accounts) > 1:
        raise _fail(source, f"entities from more than one account: {', '.join(sorted(accounts))}")
    if not accounts:
        raise _fail(source, "cannot tell the account id: no user, group or customer policy ARN")
    try:
        return Inventory(
            account_id=accounts.pop(),
            users=users,
            groups=groups,
            policies=policies,
            aws_policies=aws_policies,
            roles=roles,
            quotas=quotas or Quotas(),
            caller_arn=caller_arn,
            source=source,
            group_count=group_count,
        )
    except GaadFormatError:
        raise
    except InputError as exc:
        raise _fail(source, str(exc)) from None


def _user(raw: Any, source: str) -> User:
    if not isinstance(raw, dict):
        raise _fail(source, "UserDetailList entry must be an object")
    name = _name(_str(raw, "UserName", "user", source), "user", "", source)
    where = f"user {name!r}"
    tags = _tags(raw, where, source)
    group_names = _list(raw, "GroupList", where, source)
    if not all(isinstance(g, str) for g in group_names):
        raise _fail(source, f"{where}: GroupList must hold group names")
    boundary = _boundary(raw, where, source)
    return User(
        name=name,
        arn=_arn(raw, "user", where, source),
        user_id=_str(raw, "UserId", where, source, default=""),
        path=_path(raw, where, source),
        tags=tags,
        groups=group_names,
        managed=_attached(_list(raw, "AttachedManagedPolicies", where, source), where, source),
        inline=_inline(_list(raw, "UserPolicyList", where, source), where, source),
        permissions_boundary=boundary,
    )


def _boundary(raw: Mapping[str, Any], where: str, source: str) -> str | None:
    boundary = raw.get("PermissionsBoundary")
    if boundary is None:
        return None
    if not (isinstance(boundary, dict) and isinstance(boundary.get("PermissionsBoundaryArn"), str)):
        # A boundary limits what the principal may do: one that cannot be read is
        # refused, never silently dropped.
        raise _fail(source, f"{where}: PermissionsBoundary must hold a PermissionsBoundaryArn")
    return _policy_arn(str(boundary["PermissionsBoundaryArn"]), f"{where}, boundary", source)


def _role(raw: Any, source: str) -> Role:
    if not isinstance(raw, dict):
        raise _fail(source, "RoleDetailList entry must be an object")
    name = _name(_str(raw, "RoleName", "role", source), "role", "", source)
    where = f"role {name!r}"
    _tags(raw, where, source)
    return Role(
        name=name,
        arn=_arn(raw, "role", where, source),
        path=_path(raw, where, source),
        managed=_attached(_list(raw, "AttachedManagedPolicies", where, source), where, source),
        inline=_inline(_list(raw, "RolePolicyList", where, source), where, source),
        permissions_boundary=_boundary(raw, where, source),
    )


def _group(raw: Any, source: str) -> Group:
    if not isinstance(raw, dict):
        raise _fail(source, "GroupDetailList entry must be an object")
    name = _name(_str(raw, "GroupName", "group", source), "group", "", source)
    where = f"group {name!r}"
    return Group(
        name=name,
        arn=_arn(raw, "group", where, source),
        group_id=_str(raw, "GroupId", where, source, default=""),
        path=_path(raw, where, source),
        managed=_attached(_list(raw, "AttachedManagedPolicies", where, source), where, source),
        inline=_inline(_list(raw, "GroupPolicyList", where, source), where, source),
    )


def _policy(raw: Any, source: str) -> ManagedPolicy:
    if not isinstance(raw, dict):
        raise _fail(source, "Policies entry must be an object")
    arn = _policy_arn(_str(raw, "Arn", "policy", source), "policy", source)
    where = f"policy {arn!r}"
    document = None
    default_version = raw.get("DefaultVersionId")
    for version in _list(raw, "PolicyVersionList", where, source):
        if isinstance(version, dict) and (
            version.get("IsDefaultVersion") or version.get("VersionId") == default_version
        ):
            try:
                document = canonical_document(version.get("Document"))
            except InputError as exc:
                raise _fail(source, f"{where}: {exc}") from None
            break
    count = raw.get("AttachmentCount")
    policy = ManagedPolicy(
        arn=arn,
        # moto leaves PolicyName out of GAAD; the ARN's last part is the name.
        name=_name(
            _str(raw, "PolicyName", where, source, default=arn.rsplit("/", 1)[-1]),
            "policy",
            where,
            source,
        ),
        path=_path(raw, where, source),
        document=document,
        attachment_count=count if isinstance(count, int) else None,
    )
    return policy
