"""The CLI over many accounts: ``plan --organization``, and apply, verify, rollback and
report over several plan files (or a directory of them).

Each account's outcome is a row of one summary (text, or ``--json``); an account
that failed says why, and the exit status is 1 if any did (2 for bad input before
any account ran).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from groupify.aws import service_client
from groupify.cli import text
from groupify.errors import InputError
from groupify.org.accounts import Target, check_account_ids, organization_accounts
from groupify.org.fleet import AccountResult
from groupify.org.runs import (
    apply_plans,
    exception_reasons,
    load_plans,
    plan_accounts,
    plan_paths,
    rollback_journals,
    verify_plans,
)
from groupify.org.securityhub import iam2_findings, suppress_exceptions

__all__ = [
    "apply_many",
    "plan_many",
    "report_many",
    "rollback_many",
    "summary_text",
    "target_from",
    "verify_many",
]


def target_from(aws: Any, role_name: str | None, external_id: str | None) -> Target:
    """Where each account's calls go: the CLI's profile, region and endpoint, and the role."""
    from groupify.aws import session

    return Target(
        session=session(aws.profile, aws.region),
        role_name=role_name,
        external_id=external_id,
        region=aws.region,
        endpoint_url=aws.endpoint_url,
    )


def summary_text(title: str, results: Sequence[AccountResult], columns: Sequence[str]) -> str:
    """One row per account: its figures, or why it failed; then the totals."""
    rows = []
    for r in results:
        if r.ok:
            value = r.value if isinstance(r.value, dict) else _figures(r.value)
            status = "ok" if _done(r) else "FAILED"
            rows.append([r.account, status, *(value.get(c, "") for c in columns), _why(r)])
        else:
            rows.append([r.account, "FAILED", *("" for _ in columns), f"{r.kind}: {r.error}"])
    failed = sum(1 for r in results if not _done(r))
    head = f"{title}: {len(results)} account(s), {len(results) - failed} ok, {failed} failed\n"
    table = text.table(["account", "status", *columns, "error"], rows)
    return head + table + "\n"


def _done(r: AccountResult) -> bool:
    """The account's work finished and its checks passed (a run that stopped is a failure)."""
    return r.ok and bool(getattr(r.value, "ok", True))


def _why(r: AccountResult) -> str:
    """Why an account's run did not finish: its first failed step, kept call, or check."""
    value = r.value
    for step, message in getattr(value, "failed", ()) or ():
        return f"{step}: {message}"
    for step, message in getattr(value, "kept", ()) or ():
        return f"kept {step}: {message}"
    failures = getattr(value, "failures", ()) or ()
    if failures:
        first = failures[0]
        return f"{first.user}: {first.note}"
    return ""


def _figures(value: Any) -> dict[str, Any]:
    if hasattr(value, "mode"):  # an ApplyResult
        return {
            "applied": len(value.applied),
            "already": len(value.already),
            "failed": len(value.failed),
            "remaining": len(value.remaining),
            "kept": len(value.kept),
            "complete": "yes" if value.ok else "no",
        }
    if hasattr(value, "failures"):  # a VerifyReport
        return {
            "users": len(value.users),
            "failing": len(value.failures),
            "exceptions": len(value.exceptions),
            "passes": "yes" if value.ok else "NO",
        }
    return {}


def _status(results: Sequence[AccountResult], ok: Any = None) -> int:
    if any(not r.ok for r in results):
        return 1
    if ok is not None and not all(ok(r.value) for r in results):
        return 1
    return 0


def _json(results: Sequence[AccountResult], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "accounts": [r.to_dict() for r in results],
        "failed": [r.account for r in results if not _done(r)],
        **(extra or {}),
    }


def plan_many(
    *,
    target: Target,
    organization: bool,
    ous: Sequence[str],
    accounts: Sequence[str],
    out_dir: str,
    from_securityhub: bool,
    securityhub_region: str | None,
    account_workers: int,
    key: bytes | None,
    as_json: bool,
    out: TextIO,
    dump: Any,
    **options: Any,
) -> int:
    """Plan every chosen account into *out_dir*; print the summary."""
    if account_workers < 1:
        raise InputError("--account-workers must be at least 1")
    if organization:
        orgs = service_client(
            target.session, "organizations", region=target.region, endpoint_url=target.endpoint_url
        )
        chosen = [a.id for a in organization_accounts(orgs, ous=ous, only=accounts)]
    else:
        chosen = check_account_ids(accounts)
    if not chosen:
        raise InputError("no active account to plan")
    _need_role(target, chosen)
    findings = None
    if from_securityhub:
        hub = service_client(
            target.session,
            "securityhub",
            region=securityhub_region or target.region,
            endpoint_url=target.endpoint_url,
        )
        findings = iam2_findings(hub, accounts=chosen, retry=target.retry)
    results = plan_accounts(
        target,
        chosen,
        out_dir=out_dir,
        key=key,
        findings=findings,
        workers=account_workers,
        **options,
    )
    if as_json:
        extra: dict[str, Any] = {"out_dir": out_dir}
        if findings is not None:
            extra["securityhub_findings"] = [f.to_dict() for f in findings]
        dump(_json(results, extra), out, ok=all(r.ok for r in results))
    else:
        cols = ["users_in_scope", "exceptions", "groups_created", "steps", "control_findings"]
        out.write(summary_text("plan", results, cols))
        for r in results:
            for miss in (r.value or {}).get("securityhub_unplanned", []) if r.ok else []:
                out.write(
                    f"  {r.account}: IAM.2 finding {miss['finding']} for {miss['user']!r} not "
                    f"planned: {miss['why']}\n"
                )
        if findings is not None:
            out.write(f"Security Hub: {len(findings)} open IAM.2 finding(s) in scope.\n")
        out.write(f"Plans written to {out_dir}{os.sep}<account-id>.json\n")
    return _status(results)


def _need_role(target: Target, accounts: Sequence[str]) -> None:
    """Refuse before any account runs when some account is not the caller's and no role
    was given (one line, instead of one failure per account)."""
    if target.role_name:
        return
    mine = target.caller()["Account"]
    others = [a for a in accounts if a != mine]
    if others:
        raise InputError(
            f"account {others[0]} is not the caller's ({mine}); give --role-name (the role to "
            "assume in each member account)"
        )


def apply_many(
    *,
    target: Target,
    plans: Sequence[str],
    dry_run: bool,
    yes: bool,
    confirm: Any,
    account_workers: int,
    key: bytes | None,
    as_json: bool,
    out: TextIO,
    dump: Any,
    **options: Any,
) -> int:
    """Dry-run every plan, ask once, then apply them all (each in its own account)."""
    if account_workers < 1:
        raise InputError("--account-workers must be at least 1")
    loaded = load_plans(plan_paths(plans), key)  # read and verified once, for both passes
    _need_role(target, list(loaded))
    preview = apply_plans(target, loaded, dry_run=True, account_workers=account_workers, **options)
    pending = sum(len(r.value.remaining) for r in preview if r.ok)
    if dry_run or not pending:
        if as_json:
            dump(_json(preview), out, ok=all(r.ok for r in preview))
        else:
            out.write(summary_text("apply --dry-run", preview, ["already", "remaining"]))
        return _status(preview)
    ready = [r.account for r in preview if r.ok]
    confirm(f"Apply {pending} step(s) in {len(ready)} account(s) ({', '.join(ready)})?", yes=yes)
    results = apply_plans(
        target,
        {account: loaded[account] for account in ready},
        account_workers=account_workers,
        progress=lambda account: text.Progress(sys.stderr, f"apply {account}"),
        **options,
    )
    results = sorted([*results, *(r for r in preview if not r.ok)], key=lambda r: r.account)
    if as_json:
        dump(_json(results), out, ok=all(r.ok and r.value.ok for r in results))
    else:
        cols = ["applied", "already", "failed", "remaining", "complete"]
        out.write(summary_text("apply", results, cols))
        out.write("Run the same command again to resume the accounts that did not finish.\n")
    return _status(results, ok=lambda v: v.ok)


def verify_many(
    *,
    target: Target,
    plans: Sequence[str],
    securityhub: bool,
    suppress: bool,
    securityhub_region: str | None,
    account_workers: int,
    as_json: bool,
    out: TextIO,
    dump: Any,
) -> int:
    """Verify every plan in its account; with Security Hub, account for the IAM.2 findings:
    resolved by the change (the user passes now) or, with *suppress*, suppressed as the
    documented exception it is (only in accounts whose verify passed)."""
    if suppress and not securityhub:
        raise InputError("--suppress-exceptions needs --securityhub")
    results = verify_plans(target, plan_paths(plans), account_workers=account_workers)
    extra: dict[str, Any] = {}
    lines: list[str] = []
    if securityhub:
        hub = service_client(
            target.session,
            "securityhub",
            region=securityhub_region or target.region,
            endpoint_url=target.endpoint_url,
        )
        accounts = [r.account for r in results if r.ok]
        findings = iam2_findings(hub, accounts=accounts, retry=target.retry)
        passing = {
            (r.account, u.user) for r in results if r.ok for u in r.value.users if u.ok and u.iam2
        }
        resolved = [f for f in findings if (f.account_id, f.user_name) in passing]
        reasons = exception_reasons(results)
        suppressed: list[str] = []
        unprocessed: list[tuple[str, str]] = []
        if suppress:
            suppressed, unprocessed = suppress_exceptions(
                hub, findings, reasons, retry=target.retry
            )
        open_ = [
            f
            for f in findings
            if (f.account_id, f.user_name) not in passing and f.id not in suppressed
        ]
        extra = {
            "securityhub": {
                "resolved_by_the_change": [f.to_dict() for f in resolved],
                "suppressed": suppressed,
                "not_processed": [{"id": i, "why": w} for i, w in unprocessed],
                "still_open": [f.to_dict() for f in open_],
            }
        }
        lines.append(
            f"Security Hub: {len(findings)} open IAM.2 finding(s): {len(resolved)} resolved by "
            "the change (the user passes now; Security Hub marks them PASSED at its next check), "
            f"{len(suppressed)} suppressed as documented exceptions, {len(open_)} still open."
        )
        lines += [f"  suppressed {i}" for i in suppressed]
        lines += [f"  NOT suppressed {i}: {w}" for i, w in unprocessed]
        lines += [f"  open {f.account_id} {f.user_name} {f.id}" for f in open_]
    if as_json:
        dump(_json(results, extra), out, ok=_status(results, ok=lambda v: v.ok) == 0)
    else:
        out.write(summary_text("verify", results, ["users", "failing", "exceptions", "passes"]))
        out.write("".join(line + "\n" for line in lines))
    return _status(results, ok=lambda v: v.ok)


def rollback_many(
    *,
    target: Target,
    journals: Sequence[str],
    dry_run: bool,
    yes: bool,
    confirm: Any,
    account_workers: int,
    as_json: bool,
    out: TextIO,
    dump: Any,
    **options: Any,
) -> int:
    """Roll back every journal in its account (ask once)."""
    paths = plan_paths(journals, pattern="*.journal", what="journals")
    preview = rollback_journals(target, paths, dry_run=True, account_workers=account_workers)
    pending = sum(len(r.value.remaining) for r in preview if r.ok)
    if dry_run or not pending:
        if as_json:
            dump(_json(preview), out, ok=all(r.ok for r in preview))
        else:
            out.write(summary_text("rollback --dry-run", preview, ["remaining", "kept"]))
        return _status(preview)
    confirm(f"Undo {pending} change(s) in {len(preview)} account(s)?", yes=yes)
    results = rollback_journals(target, paths, account_workers=account_workers, **options)
    if as_json:
        dump(_json(results), out, ok=all(r.ok and r.value.ok for r in results))
    else:
        out.write(summary_text("rollback", results, ["applied", "kept", "complete"]))
    return _status(results, ok=lambda v: v.ok)


def report_many(
    *, plans: Sequence[str], html: str | None, markdown: str | None, write: Any
) -> dict[str, str]:
    """One report over several plans: a summary, then a section per account."""
    from groupify.plan.model import load_plan
    from groupify.report.combined import combined_html, combined_markdown

    loaded = [(p, load_plan(p)) for p in plan_paths(plans)]
    written: dict[str, str] = {}
    if html and write(html, combined_html(loaded)):
        written["html"] = html
    if markdown and write(markdown, combined_markdown(loaded)):
        written["markdown"] = markdown
    return written
