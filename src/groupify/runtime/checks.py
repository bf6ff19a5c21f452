"""Check an account after a run: IAM.2 passes, and every user kept its access."""

from __future__ import annotations

import os
from typing import Any

from attrs import frozen

from groupify.aws import RetryPolicy, counted_clients
from groupify.errors import StalePlanError
from groupify.inventory.account import scan
from groupify.inventory.model import Inventory
from groupify.plan.model import Plan, load_plan
from groupify.plan.reconcile import access_report

__all__ = ["UserCheck", "VerifyReport", "verify", "verify_inventory"]


@frozen
class UserCheck:
    """One user after a run: IAM.2 (no direct policy) and access (as when planned)."""

    user: str
    iam2: bool
    access: bool | None
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.iam2 and self.access is not False


@frozen
class VerifyReport:
    """Per-user results of :func:`verify`; ``ok`` when every check passed."""

    account_id: str
    users: tuple[UserCheck, ...]
    exceptions: tuple[tuple[str, str], ...]
    #: Exempt users whose exemption still holds in the live account (one by tag needs
    #: the tag still there): only their IAM.2 findings may be suppressed.
    exempt_now: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return all(u.ok for u in self.users)

    @property
    def failures(self) -> tuple[UserCheck, ...]:
        return tuple(u for u in self.users if not u.ok)

    def to_dict(self) -> dict[str, Any]:
        """The report as ``--json`` prints it."""
        return {
            "account_id": self.account_id,
            "ok": self.ok,
            "users": [
                {"user": u.user, "iam2": u.iam2, "access_unchanged": u.access, "note": u.note}
                for u in self.users
            ],
            "exceptions": [{"user": u, "reason": r} for u, r in self.exceptions],
        }

    def _repr_html_(self) -> str:
        from groupify.runtime.views import verify_html

        return verify_html(self)

    def __repr__(self) -> str:
        return (
            f"VerifyReport(account={self.account_id}, users={len(self.users)}, "
            f"failures={len(self.failures)})"
        )


def verify_inventory(plan: Plan, live: Inventory) -> VerifyReport:
    """Compare a live inventory with the plan: IAM.2 for every non-exempt user, and
    unchanged effective access for every user the plan's inventory recorded.

    Raises :class:`~groupify.errors.StalePlanError` when *live* is another account.
    """
    if live.account_id != plan.account_id:
        raise StalePlanError(
            f"the plan is for account {plan.account_id}, but these credentials reach "
            f"{live.account_id}"
        )
    exempt = {e.user: e.reason for e in plan.exceptions}
    caller = live.caller_user
    if caller and caller in live.user_by_name and caller not in exempt:
        exempt[caller] = "runs groupify"
    report = access_report(plan, live)
    checks = []
    for user in live.users:
        if user.name in exempt:
            # Not expected to pass IAM.2, but a run must not have changed its access.
            if user.name in report and report[user.name][0] != report[user.name][1]:
                checks.append(
                    UserCheck(
                        user.name,
                        True,
                        False,
                        f"exempt ({exempt[user.name]}), but its access changed",
                    )
                )
            continue
        iam2 = not user.direct
        note = []
        if not iam2:
            names = sorted(live.label(p) for p in user.direct)
            note.append(f"direct policies: {', '.join(names)}")
        access: bool | None = None
        if user.name in report:
            then, now = report[user.name]
            access = then == now
            lost, gained = then - now, now - then
            if lost:
                note.append("lost " + ", ".join(sorted(plan.inventory.label(p) for p in lost)))
            if gained:
                note.append("gained " + ", ".join(sorted(live.label(p) for p in gained)))
        else:
            note.append("not in the plan's inventory")
        checks.append(UserCheck(user.name, iam2, access, "; ".join(note)))
    for name in sorted(set(plan.inventory.user_by_name) - set(live.user_by_name) - set(exempt)):
        checks.append(UserCheck(name, True, False, "user no longer exists"))
    still = []
    for name, reason in sorted(exempt.items()):
        live_user = live.user_by_name.get(name)
        if live_user is None:
            continue
        by_tag = reason.startswith(("excluded by tag", "tagged "))
        if not by_tag or plan.exemptions.reason(live_user) is not None:
            still.append(name)
    return VerifyReport(
        account_id=live.account_id,
        users=tuple(sorted(checks, key=lambda c: c.user)),
        exceptions=tuple(sorted(exempt.items())),
        exempt_now=tuple(still),
    )


def verify(
    plan: Plan | str | os.PathLike[str],
    session: Any = None,
    *,
    iam: Any = None,
    sts: Any = None,
    retry: RetryPolicy | None = None,
) -> VerifyReport:
    """Re-read the account and check it against *plan* (a Plan or a plan file)."""
    if not isinstance(plan, Plan):
        plan = load_plan(plan)
    with counted_clients(session, iam, sts) as (iam, sts, _):
        live = scan(iam=iam, sts=sts, retry=retry or RetryPolicy())
    return verify_inventory(plan, live)
