"""Which accounts, and how to reach each: Organizations' account list and an assumed role."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from typing import Any

from attrs import field, frozen

from groupify.aws import RetryPolicy, assumed_session, call, make_clients, session, token_pages
from groupify.errors import AWSError, InputError

__all__ = ["Account", "Target", "organization_accounts"]

_ACCOUNT_ID = re.compile(r"\d{12}")
_OU_ID = re.compile(r"(ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}|r-[0-9a-z]{4,32})")


@frozen
class Account:
    """An account of the Organization (its id, name and status)."""

    id: str
    name: str = ""
    status: str = "ACTIVE"


def check_account_ids(ids: Iterable[str]) -> list[str]:
    """``--accounts`` values: 12-digit ids, comma-separated or repeated; refuse anything else."""
    out: list[str] = []
    for chunk in ids:
        for raw in chunk.split(","):
            value = raw.strip()
            if not value:
                continue
            if not _ACCOUNT_ID.fullmatch(value):
                raise InputError(f"--accounts {value!r}: an AWS account id has 12 digits")
            if value not in out:
                out.append(value)
    return out


def organization_accounts(
    organizations: Any,
    *,
    ous: Iterable[str] = (),
    only: Iterable[str] = (),
    retry: RetryPolicy | None = None,
) -> list[Account]:
    """The Organization's ACTIVE accounts (``organizations:ListAccounts``), sorted by id.

    *ous* keeps those under these organizational units (or roots), nested OUs
    included (``ListAccountsForParent``, ``ListOrganizationalUnitsForParent``);
    *only* keeps those ids, and an id the Organization does not have is an
    :class:`InputError` (a typo must not silently plan nothing).
    """
    retry = retry or RetryPolicy()
    ous = list(ous)
    for ou in ous:
        if not _OU_ID.fullmatch(ou):
            raise InputError(f"--ou {ou!r} is not an organizational unit id (ou-… or r-…)")

    def fetch(op: str) -> Any:
        return lambda **kw: call(retry, organizations, op, **kw)

    if ous:
        found: dict[str, Any] = {}
        pending = list(ous)
        while pending:
            parent = pending.pop()
            try:
                for page in token_pages(fetch("list_accounts_for_parent"), ParentId=parent):
                    for raw in page.get("Accounts", []):
                        found[raw["Id"]] = raw
            except AWSError as exc:
                if exc.code == "ParentNotFoundException":
                    raise InputError(f"--ou {parent}: no such OU in this Organization") from None
                raise
            for page in token_pages(fetch("list_organizational_units_for_parent"), ParentId=parent):
                pending.extend(ou["Id"] for ou in page.get("OrganizationalUnits", []))
        listed = list(found.values())
    else:
        listed = [a for page in token_pages(fetch("list_accounts")) for a in page["Accounts"]]
    accounts = {
        a["Id"]: Account(a["Id"], a.get("Name", ""), a.get("Status", "ACTIVE")) for a in listed
    }
    wanted = check_account_ids(only)
    missing = [a for a in wanted if a not in accounts]
    if missing:
        raise InputError(f"--accounts {missing[0]}: not an account of this Organization (or OU)")
    chosen = [accounts[a] for a in wanted] if wanted else list(accounts.values())
    return sorted((a for a in chosen if a.status == "ACTIVE"), key=lambda a: a.id)


@frozen
class Target:
    """How to reach each account: the caller's own session for its own account, an
    assumed role (``arn:<partition>:iam::<account>:role/<role_name>``) for the others."""

    session: Any = None
    role_name: str | None = None
    external_id: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    retry: RetryPolicy = field(factory=RetryPolicy)
    _caller: dict[str, str] = field(factory=dict, eq=False, repr=False)
    _lock: threading.Lock = field(factory=threading.Lock, eq=False, repr=False)

    def base(self) -> dict[str, Any]:
        """IAM and STS clients of the caller itself."""
        iam, sts = make_clients(
            self.session or session(None, self.region),
            region=self.region,
            endpoint_url=self.endpoint_url,
        )
        return {"iam": iam, "sts": sts}

    def caller(self) -> dict[str, str]:
        """``sts:GetCallerIdentity`` of the caller, read once."""
        with self._lock:
            if not self._caller:
                answer = call(self.retry, self.base()["sts"], "get_caller_identity")
                self._caller.update(Account=answer["Account"], Arn=answer["Arn"])
            return dict(self._caller)

    def clients(self, account_id: str) -> dict[str, Any]:
        """IAM and STS clients acting in *account_id*."""
        me = self.caller()
        if account_id == me["Account"]:
            return self.base()
        if not self.role_name:
            raise InputError(
                f"account {account_id} is not the caller's ({me['Account']}); give --role-name "
                "(the role to assume in each member account)"
            )
        partition = me["Arn"].split(":")[1] if me["Arn"].startswith("arn:") else "aws"
        assumed = assumed_session(
            self.base()["sts"],
            f"arn:{partition}:iam::{account_id}:role/{self.role_name}",
            session_name=f"groupify-{me['Account']}",
            external_id=self.external_id,
            region=self.region,
            retry=self.retry,
        )
        iam, sts = make_clients(assumed, region=self.region, endpoint_url=self.endpoint_url)
        return {"iam": iam, "sts": sts}
