"""Plan, apply, verify and roll back many accounts: one ordinary plan (and journal) each.

Every function runs the single-account pipeline per account through
:func:`~groupify.org.fleet.for_each`, so one account failing (access denied,
a quota, drift) is that account's result and never stops the others; a re-run
finds each finished account in place (apply is idempotent, rollback makes no
call where nothing is left) and resumes only what is unfinished.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from groupify.errors import InputError
from groupify.inventory.account import scan
from groupify.mining.layers import Weights
from groupify.org.accounts import Target
from groupify.org.fleet import AccountResult, for_each
from groupify.org.securityhub import IAM2Finding
from groupify.plan.build import build_plan
from groupify.plan.model import Plan, load_plan
from groupify.proposal.strategies import propose
from groupify.runtime.checks import VerifyReport, verify
from groupify.runtime.forward import apply
from groupify.runtime.result import ApplyResult
from groupify.runtime.undo import rollback

__all__ = [
    "OUT_OF_SCOPE",
    "apply_plans",
    "exception_reasons",
    "load_plans",
    "plan_accounts",
    "plan_paths",
    "rollback_journals",
    "verify_plans",
]

#: Why a user with direct policies is left alone when Security Hub scopes the run.
OUT_OF_SCOPE = "out of scope: no open FAILED IAM.2 finding in Security Hub"


def plan_paths(
    items: Sequence[str], *, pattern: str = "*.json", what: str = "plan files"
) -> list[str]:
    """Plan files from the arguments: files as given, and every ``*.json`` in a directory
    (sorted); *pattern* and *what* choose other files (journals: ``*.journal``). A path
    that does not exist is an :class:`InputError`."""
    out: list[str] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            found = sorted(str(p) for p in path.glob(pattern) if p.is_file())
            if not found:
                raise InputError(f"{item}: no {what} ({pattern}) in this directory")
            out += found
        elif path.exists() or item == "-":
            out.append(item)
        else:
            raise InputError(f"{item}: no such file or directory")
    return list(dict.fromkeys(out))


def _accepted_for(account: str, accept: Iterable[str]) -> list[str]:
    """``--accept ACCOUNT:ID`` applies to that account only; a bare ``ID`` to every one."""
    out = []
    for item in accept:
        head, sep, rest = item.partition(":")
        if sep and head.isdigit() and len(head) == 12:
            if head == account:
                out.append(rest)
        else:
            out.append(item)
    return out


def _scoped(
    account: str, inventory: Any, findings: Sequence[IAM2Finding]
) -> tuple[dict[str, str], list[dict[str, str]]]:
    """Users to leave out (no finding), and the findings' users groupify cannot plan, why."""
    # IAM user names are unique ignoring case: so is the match of a finding to a user.
    failing = {f.user_name.lower() for f in findings if f.account_id == account}
    by_lower = {u.name.lower(): u for u in inventory.users}
    out_of_scope = {
        u.name: OUT_OF_SCOPE for u in inventory.users if u.direct and u.name.lower() not in failing
    }
    unplanned = []
    for f in sorted({f for f in findings if f.account_id == account}, key=lambda f: f.user_name):
        user = inventory.user_by_name.get(f.user_name) or by_lower.get(f.user_name.lower())
        if user is None:
            why = "no such user in the account now (the finding is stale)"
        elif not user.direct:
            why = "has no direct policy now (Security Hub has not checked again yet)"
        elif user.name == inventory.caller_user:
            why = "is the principal running groupify"
        else:
            continue
        unplanned.append({"user": f.user_name, "finding": f.id, "why": why})
    return out_of_scope, unplanned


def plan_accounts(
    target: Target,
    accounts: Sequence[str],
    *,
    out_dir: str | os.PathLike[str],
    strategy: str = "exact",
    exclude_users: Sequence[str] = (),
    exclude_tags: Sequence[str] = (),
    allow_unmatched: bool = False,
    time_limit: float | None = None,
    layers: bool = True,
    weights: Weights | None = None,
    accept: Sequence[str] = (),
    key: bytes | None = None,
    findings: Sequence[IAM2Finding] | None = None,
    workers: int = 4,
) -> list[AccountResult]:
    """Scan, propose and plan every account; write ``out_dir/<account>.json`` for each.

    With *findings* (from :func:`~groupify.org.securityhub.iam2_findings`), only
    the users with an open IAM.2 finding are migrated; the others are left out
    with :data:`OUT_OF_SCOPE` as their reason, and the findings' users that
    cannot be planned are listed (``unplanned``), never dropped silently.
    Exclusion rules may match nobody in a given account (they are checked over
    the whole Organization by the caller), so unmatched rules are allowed here.
    """
    directory = os.fspath(out_dir)
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise InputError(f"--out-dir {directory}: exists and is not a directory")
    for account in accounts:
        path = os.path.join(directory, f"{account}.json")
        if os.path.exists(path + ".journal"):
            raise InputError(
                f"{path} has a journal ({path}.journal): a run of that plan began; finish or "
                "roll it back, and move both away, before planning this account again"
            )

    def one(account: str) -> tuple[Plan, dict[str, Any]]:
        inventory = scan(**target.clients(account), retry=target.retry)
        if inventory.account_id != account:
            raise InputError(f"the role reached account {inventory.account_id}, not {account}")
        out_of_scope, unplanned = _scoped(account, inventory, findings or [])
        proposal = propose(
            inventory,
            strategy=strategy,
            exclude_users=exclude_users,
            exclude_tags=exclude_tags,
            allow_unmatched=True,
            time_limit=time_limit,
            out_of_scope=out_of_scope if findings is not None else None,
            layers=layers,
            weights=weights,
        )
        plan = build_plan(proposal, accept=_accepted_for(account, accept))
        summary = plan.summary()
        return plan, {
            "plan": os.path.join(directory, f"{account}.json"),
            "users_in_scope": summary["users_migrated"],
            "exceptions": summary["exceptions"],
            "groups_created": summary["groups_created"],
            "steps": summary["steps"],
            "control_findings": len(plan.findings),
            "risks": len(plan.risks),
            "securityhub_unplanned": unplanned,
            "users": [u.name for u in inventory.users],
            "tags": sorted({k for u in inventory.users for k, _ in u.tags}),
        }

    results = for_each(accounts, one, workers=workers)
    if not allow_unmatched and (exclude_users or exclude_tags):
        # Before anything is written: a typo must not leave plans that migrate its user.
        _check_rules_somewhere([r.value[1] for r in results if r.ok], exclude_users, exclude_tags)
    os.makedirs(directory, exist_ok=True)
    out = []
    for r in results:
        if not r.ok:
            out.append(r)
            continue
        plan, summary = r.value
        plan.save(summary["plan"], key=key)
        summary.pop("users"), summary.pop("tags")
        out.append(AccountResult(r.account, value=summary, seconds=r.seconds))
    return out


def _check_rules_somewhere(
    planned: Sequence[dict[str, Any]], users: Sequence[str], tags: Sequence[str]
) -> None:
    """An exclusion rule that matches no user in any planned account is a typo: refuse."""
    import fnmatch

    if not planned:
        return
    names = [n.lower() for v in planned for n in v["users"]]
    keys = {k.lower() for v in planned for k in v["tags"]}
    for pattern in users:
        if not any(fnmatch.fnmatchcase(n, pattern.lower()) for n in names):
            raise InputError(
                f"--exclude-user {pattern!r} matches no user in any account; fix the rule, or "
                "allow rules that match no user (--allow-unmatched)"
            )
    for spec in tags:
        if spec.partition("=")[0].lower() not in keys:
            raise InputError(
                f"--exclude-tag {spec!r} matches no user in any account; fix the rule, or "
                "allow rules that match no user (--allow-unmatched)"
            )


def load_plans(paths: Sequence[str], key: bytes | None = None) -> dict[str, tuple[str, Plan]]:
    """Each plan (read and verified once) with its path, by its account id; two plans for
    one account are refused. *key* requires each to be signed with it."""
    out: dict[str, tuple[str, Plan]] = {}
    for path in paths:
        plan = load_plan(path, key=key)
        if plan.account_id in out:
            raise InputError(
                f"{path} and {out[plan.account_id][0]} are both plans for account "
                f"{plan.account_id}; give one"
            )
        out[plan.account_id] = (path, plan)
    return out


def apply_plans(
    target: Target,
    plans: Mapping[str, tuple[str, Plan]],
    *,
    dry_run: bool = False,
    workers: int = 4,
    account_workers: int = 4,
    progress: Callable[[str], Any] | None = None,
    **options: Any,
) -> list[AccountResult]:
    """Apply (or dry-run) each plan (from :func:`load_plans`) in the account it records,
    each with ``PLAN.journal``."""

    def one(account: str) -> ApplyResult:
        path, plan = plans[account]
        return apply(
            plan,
            dry_run=dry_run,
            journal=None if dry_run else path + ".journal",
            workers=workers,
            progress=progress(account) if progress else None,
            retry=target.retry,
            **target.clients(account),
            **options,
        )

    return for_each(sorted(plans), one, workers=account_workers)


def verify_plans(
    target: Target, paths: Sequence[str], *, account_workers: int = 4
) -> list[AccountResult]:
    """Verify each plan in the account it records."""
    plans = load_plans(paths)

    def one(account: str) -> VerifyReport:
        return verify(plans[account][1], retry=target.retry, **target.clients(account))

    return for_each(sorted(plans), one, workers=account_workers)


def rollback_journals(
    target: Target,
    journals: Sequence[str],
    *,
    dry_run: bool = False,
    account_workers: int = 4,
    **options: Any,
) -> list[AccountResult]:
    """Roll back each journal in the account its plan records."""
    from groupify.runtime.journal import Journal

    by_account: dict[str, str] = {}
    for path in journals:
        account = Journal.read(path).plan.account_id
        if account in by_account:
            raise InputError(f"{path} and {by_account[account]} are both journals of {account}")
        by_account[account] = path

    def one(account: str) -> ApplyResult:
        return rollback(
            by_account[account],
            dry_run=dry_run,
            retry=target.retry,
            **target.clients(account),
            **options,
        )

    return for_each(sorted(by_account), one, workers=account_workers)


def exception_reasons(results: Iterable[AccountResult]) -> dict[tuple[str, str], str]:
    """``(account, user) -> reason`` of the documented exceptions in accounts whose verify
    passed (only those may have their IAM.2 findings suppressed)."""
    out: dict[tuple[str, str], str] = {}
    for r in results:
        if not r.ok or not r.value.ok:
            continue
        still = set(getattr(r.value, "exempt_now", ()))
        for user, reason in r.value.exceptions:
            if reason in (OUT_OF_SCOPE, "runs groupify"):
                continue  # not a documented exception: nothing to suppress
            if user not in still:
                continue  # its exemption no longer holds in the account (a tag removed)
            out[(r.account, user)] = reason
    return out
