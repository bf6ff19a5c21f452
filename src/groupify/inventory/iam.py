"""What IAM accepts as names, paths and ARNs: a value outside these rules was not
written by IAM (a GAAD file, a plan's inventory or steps), and is refused.

The rules are IAM's API patterns (``CreateUser``, ``CreateGroup``, ``CreateRole``,
``CreatePolicy``, ``PutUserPolicy``): names of ASCII letters, digits and ``+=,.@_-``
(users and roles at most 64 characters, groups and policies 128); a path is ``/``
alone or ``/.../`` of printable ASCII, at most 512 characters; an account id has 12
digits. Each check returns what is wrong, in words for a one-line error, or ``None``.
"""

from __future__ import annotations

import re

__all__ = [
    "NAME_MAX",
    "PATH_MAX",
    "account_problem",
    "arn_account",
    "caller_arn_problem",
    "entity_arn_problem",
    "name_problem",
    "path_problem",
    "policy_arn_problem",
    "shown",
]

_NAME_CHARS = r"[\w+=,.@-]"
_NAME = re.compile(f"{_NAME_CHARS}+", re.ASCII)
#: Longest name IAM allows, by kind.
NAME_MAX = {"user": 64, "role": 64, "group": 128, "policy": 128}
PATH_MAX = 512
_PATH = re.compile(r"/|/[\x21-\x7e]+/")
#: ``aws``, ``aws-cn``, ``aws-us-gov``, ``aws-iso-b``...
_PARTITION = re.compile(r"aws(?:-[a-z]+)*")
#: ``arn:PARTITION:iam::ACCOUNT:RESOURCE``, its parts named.
_IAM_ARN = re.compile(r"arn:(?P<partition>[^:]*):iam::(?P<account>[^:]*):(?P<resource>.*)", re.S)
_ACCOUNT = re.compile(r"[0-9]{12}")
#: Whom ``sts:GetCallerIdentity`` names: a user, an assumed role, the root...
_CALLER_ARN = re.compile(rf"arn:{_PARTITION.pattern}:(?:iam|sts)::[0-9]{{12}}:[\x21-\x7e]+")
#: A managed policy: ``arn:PARTITION:iam::ACCOUNT:policy/NAME``, with ``aws`` for the
#: account of an AWS-managed one and a path before the name
#: (``arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole``).
_POLICY_ARN = re.compile(
    rf"arn:{_PARTITION.pattern}:iam::(?:[0-9]{{12}}|aws):policy/"
    rf"(?:[\x21-\x7e]{{1,{PATH_MAX - 2}}}/)?{_NAME_CHARS}{{1,{NAME_MAX['policy']}}}",
    re.ASCII,
)


def shown(value: str, most: int = 80) -> str:
    """*value* quoted for a one-line message (control characters escaped), cut when long."""
    return repr(value) if len(value) <= most else f"{value[:most]!r}..."


def _not_text(value: object, what: str) -> str | None:
    return None if isinstance(value, str) else f"{what} must be text, not {type(value).__name__}"


def name_problem(value: str, kind: str) -> str | None:
    """What is wrong with *value* as the name of a *kind* (``user``, ``role``, ``group``,
    ``policy``), or ``None``."""
    most = NAME_MAX[kind]
    if not isinstance(value, str):
        return _not_text(value, f"{kind} name")
    if not value:
        return f"{kind} name is empty"
    if len(value) > most:
        return f"{kind} name {shown(value)} has {len(value)} characters; IAM allows at most {most}"
    if not _NAME.fullmatch(value):
        return (
            f"{kind} name {shown(value)} is not one IAM allows (letters, digits and +=,.@_- only)"
        )
    return None


def path_problem(path: str) -> str | None:
    """What is wrong with *path* as an IAM path, or ``None``."""
    if not isinstance(path, str):
        return _not_text(path, "path")
    if len(path) > PATH_MAX or not _PATH.fullmatch(path):
        return (
            f"path {shown(path)} is not one IAM allows (/ alone, or /.../ of printable "
            f"ASCII without spaces, at most {PATH_MAX} characters)"
        )
    return None


def account_problem(account: str) -> str | None:
    """What is wrong with *account* as an AWS account id, or ``None``."""
    if not isinstance(account, str):
        return _not_text(account, "account id")
    if not _ACCOUNT.fullmatch(account):
        return f"account id {shown(account)} is not 12 digits"
    return None


def caller_arn_problem(arn: str) -> str | None:
    """What is wrong with *arn* as the ARN ``sts:GetCallerIdentity`` gives, or ``None``."""
    if not isinstance(arn, str):
        return _not_text(arn, "caller ARN")
    if not _CALLER_ARN.fullmatch(arn):
        return f"caller {shown(arn)} is not an IAM or STS ARN in a 12-digit account"
    return None


def arn_account(arn: str) -> str | None:
    """The 12-digit account id of an IAM ARN, or ``None``."""
    match = _IAM_ARN.fullmatch(arn)
    if match is not None and _ACCOUNT.fullmatch(match["account"]):
        return match["account"]
    return None


def entity_arn_problem(arn: str, kind: str) -> str | None:
    """What is wrong with *arn* as the ARN of a *kind* (``user``, ``group``, ``role``), or
    ``None``: ``arn:PARTITION:iam::ACCOUNT:KIND/...`` with a 12-digit account."""
    if not isinstance(arn, str):
        return _not_text(arn, f"{kind} ARN")
    match = _IAM_ARN.fullmatch(arn)
    if match is None or not _PARTITION.fullmatch(match["partition"]):
        return f"{shown(arn)} is not an IAM ARN"
    if not _ACCOUNT.fullmatch(match["account"]):
        return (
            f"ARN {shown(arn)} has account id {shown(match['account'])}; an AWS account id "
            "has 12 digits"
        )
    if not match["resource"].startswith(f"{kind}/"):
        return f"{shown(arn)} is not the ARN of a {kind}"
    return None


def policy_arn_problem(arn: str) -> str | None:
    """What is wrong with *arn* as a managed policy's ARN, or ``None``."""
    if not isinstance(arn, str):
        return _not_text(arn, "policy ARN")
    if _POLICY_ARN.fullmatch(arn):
        return None
    match = _IAM_ARN.fullmatch(arn)
    if match is not None and match["account"] != "aws" and not _ACCOUNT.fullmatch(match["account"]):
        return (
            f"policy ARN {shown(arn)} has account id {shown(match['account'])}; an AWS "
            "account id has 12 digits"
        )
    return f"{shown(arn)} is not a managed policy ARN (arn:PARTITION:iam::ACCOUNT:policy/PATH/NAME)"
