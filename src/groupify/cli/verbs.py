"""One function per CLI verb. The CLI only parses arguments and calls these.

Each function takes its inputs as plain values, writes human-readable text (or
JSON with ``as_json``) to *out*, and returns the process exit code. Errors are
raised as :class:`~groupify.errors.GroupifyError`; the CLI turns them into one
line on stderr.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

import attrs

from groupify._files import read_json, write_atomic
from groupify.cli.text import table
from groupify.errors import InputError
from groupify.inventory.account import scan
from groupify.inventory.gaad import load_gaad
from groupify.inventory.model import Inventory, Quotas
from groupify.plan.model import Plan, build_plan
from groupify.proposal.strategies import Proposal, propose

__all__ = ["inventory_from", "plan_cmd", "propose_cmd", "report_cmd", "scan_cmd"]


def parse_quotas(specs: Sequence[str]) -> dict[str, int]:
    """``["groups_per_user=20"]`` → ``{"groups_per_user": 20}``; names as :class:`Quotas` fields."""
    known = {f.name for f in attrs.fields(Quotas)}
    out: dict[str, int] = {}
    for spec in specs:
        name, _, value = spec.partition("=")
        name = name.strip().replace("-", "_")
        if name not in known:
            raise InputError(f"--quota {spec!r}: unknown quota; known: {', '.join(sorted(known))}")
        try:
            out[name] = int(value)
        except ValueError:
            raise InputError(f"--quota {spec!r}: give NAME=INTEGER") from None
    return out


def inventory_from(
    gaad: str | None, *, profile: str | None = None, quotas: Sequence[str] = ()
) -> Inventory:
    """Load a GAAD file, or scan the live account when *gaad* is ``None``."""
    overrides = parse_quotas(quotas)
    if gaad is not None:
        inventory = load_gaad(gaad)
    else:
        import boto3

        inventory = scan(boto3.Session(profile_name=profile) if profile else None)
    if overrides:
        inventory = attrs.evolve(inventory, quotas=attrs.evolve(inventory.quotas, **overrides))
    return inventory


def _dump(data: Any, out: TextIO) -> None:
    out.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def scan_cmd(inventory: Inventory, *, as_json: bool = False, out: TextIO | None = None) -> int:
    """Show the account and which users fail IAM.2 (a policy attached directly)."""
    out = out or sys.stdout
    failing = [u for u in inventory.users if u.direct]
    if as_json:
        _dump(
            {
                "account_id": inventory.account_id,
                "fingerprint": inventory.fingerprint,
                "source": inventory.source,
                "caller_arn": inventory.caller_arn,
                "users": len(inventory.users),
                "groups": len(inventory.groups),
                "quotas": inventory.quotas.to_dict(),
                "iam2_failing": [
                    {
                        "user": u.name,
                        "managed": list(u.managed),
                        "inline": [p.name for p in u.inline],
                        "groups": list(u.groups),
                    }
                    for u in failing
                ],
            },
            out,
        )
        return 0
    out.write(
        f"Account {inventory.account_id} ({inventory.source or 'scan'}): "
        f"{len(inventory.users)} users, {len(inventory.groups)} groups\n"
        f"Fingerprint {inventory.fingerprint}\n"
        f"IAM.2: {len(failing)} user(s) have policies attached directly\n\n"
    )
    if failing:
        rows = [
            (
                u.name,
                len(u.managed),
                len(u.inline),
                ", ".join(u.groups) or "-",
                ", ".join(sorted(inventory.label(p) for p in u.direct)),
            )
            for u in failing
        ]
        out.write(table(["user", "managed", "inline", "groups", "direct policies"], rows) + "\n")
    return 0


def _proposal_text(proposal: Proposal) -> str:
    inv = proposal.inventory
    s = proposal.summary()
    lines = [
        f"Account {inv.account_id}: {s['users_in_scope']} user(s) in scope, strategy "
        f"{s['strategy']}: {s['groups_new']} new group(s), {s['groups_reused']} existing "
        f"group(s) reused, {s['policies_created']} inline polic(ies) to become managed",
        "",
    ]
    rows = []
    for g in proposal.groups:
        rows.append(
            (
                g.name + (" (existing)" if g.existing else ""),
                len(g.members),
                ", ".join(sorted(g.members)),
                ", ".join(sorted(inv.label(p) for p in g.policies)),
            )
        )
    if rows:
        lines.append(table(["group", "users", "members", "policies"], rows))
    else:
        lines.append("No group is needed.")
    if proposal.exceptions:
        lines += ["", "Documented exceptions (not touched; IAM.2 still fails for them):"]
        lines.append(
            table(
                ["user", "reason", "direct policies"],
                [
                    (e.user, e.reason, ", ".join(sorted(inv.label(p) for p in e.policies)))
                    for e in proposal.exceptions
                ],
            )
        )
    return "\n".join(lines) + "\n"


def propose_cmd(
    inventory: Inventory,
    *,
    strategy: str = "exact",
    exclude_users: Sequence[str] = (),
    exclude_tags: Sequence[str] = (),
    as_json: bool = False,
    out_path: str | None = None,
    time_limit: float | None = None,
    compare_strategies: bool = False,
    out: TextIO | None = None,
) -> int:
    """Propose groups; print them, and write the editable proposal to *out_path*."""
    out = out or sys.stdout
    if compare_strategies:
        from groupify.proposal.strategies import STRATEGIES, compare_proposals

        rows = compare_proposals(
            propose(
                inventory,
                strategy=s,
                exclude_users=exclude_users,
                exclude_tags=exclude_tags,
                time_limit=time_limit,
            )
            for s in STRATEGIES
        )
        if as_json:
            _dump(rows, out)
        else:
            out.write(
                table(
                    [
                        "strategy",
                        "groups",
                        "new",
                        "reused",
                        "users",
                        "groups/user mean",
                        "groups/user max",
                        "policies/group mean",
                        "policies/group max",
                    ],
                    [list(r.values()) for r in rows],
                )
                + "\n"
            )
        return 0
    proposal = propose(
        inventory,
        strategy=strategy,
        exclude_users=exclude_users,
        exclude_tags=exclude_tags,
        time_limit=time_limit,
    )
    if out_path:
        _write_json(out_path, proposal.to_dict())
    if as_json:
        _dump(proposal.to_dict(), out)
    else:
        out.write(_proposal_text(proposal))
        if out_path:
            out.write(
                f"\nProposal written to {out_path} (edit it, then: groupify plan --proposal)\n"
            )
    return 0


def _write_json(path: str, data: Any) -> None:
    write_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def _load_proposal(path: str, inventory: Inventory) -> Proposal:
    return Proposal.from_dict(read_json(path, InputError, "not a JSON proposal"), inventory)


def plan_text(plan: Plan) -> str:
    s = plan.summary()
    ops = ", ".join(f"{n} {op}" for op, n in s["steps_by_op"].items())
    lines = [
        f"Plan for account {plan.account_id} ({plan.fingerprint[:19]}…): "
        f"{s['users_migrated']} user(s) move to groups, {s['exceptions']} documented "
        f"exception(s)",
        f"{s['steps']} steps: {ops or 'none'}",
        "Verified: every user's effective access is unchanged after every step, and no "
        "user in scope keeps a direct policy.",
    ]
    return "\n".join(lines) + "\n"


def plan_cmd(
    inventory: Inventory,
    *,
    out_path: str,
    strategy: str = "exact",
    exclude_users: Sequence[str] = (),
    exclude_tags: Sequence[str] = (),
    proposal_path: str | None = None,
    as_json: bool = False,
    time_limit: float | None = None,
    out: TextIO | None = None,
) -> int:
    """Build and verify a plan, write it to *out_path* and print its summary."""
    out = out or sys.stdout
    if proposal_path:
        if exclude_users or exclude_tags:
            raise InputError("--proposal carries its own exclusions; drop --exclude-*")
        proposal = _load_proposal(proposal_path, inventory)
    else:
        proposal = propose(
            inventory,
            strategy=strategy,
            exclude_users=exclude_users,
            exclude_tags=exclude_tags,
            time_limit=time_limit,
        )
    plan = build_plan(proposal)
    plan.save(out_path)
    if as_json:
        data = plan.to_dict()
        _dump({k: data[k] for k in ("account_id", "fingerprint", "summary", "exceptions")}, out)
    else:
        out.write(_proposal_text(proposal) + "\n" + plan_text(plan))
        out.write(f"Plan written to {out_path}\n")
    return 0


# -- apply, verify, rollback ------------------------------------------------------


def _confirm(prompt: str, *, yes: bool, out: TextIO) -> None:
    """Ask on the terminal; refuse without one (use --yes in scripts)."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise InputError("not a terminal and --yes not given; refusing to change the account")
    out.write(prompt + " [y/N] ")
    out.flush()
    answer = sys.stdin.readline().strip().lower()
    if answer not in ("y", "yes"):
        raise InputError("not confirmed; nothing was changed")


class _Progress:
    """One status line on a terminal; a line every 10% otherwise."""

    def __init__(self, stream: TextIO, label: str) -> None:
        self.stream = stream
        self.label = label
        self.tty = stream.isatty()
        self.shown = -1

    def __call__(self, event: str, step: Any, done: int, total: int) -> None:
        if event == "start":
            return
        if self.tty:
            self.stream.write(f"\r{self.label} {done}/{total} {step.op} {step.id}".ljust(70))
            if done == total:
                self.stream.write("\n")
            self.stream.flush()
        elif total and (done * 10 // total) > self.shown:
            self.shown = done * 10 // total
            self.stream.write(f"{self.label} {done}/{total} steps\n")


def _result_text(result: Any, total: int) -> str:
    lines = [
        f"{result.mode}: {len(result.applied)} step(s) applied, {len(result.already)} already "
        f"done, {len(result.failed)} failed, {len(result.remaining)} remaining of {total}",
        f"API calls: {result.mutating_calls} mutating, {result.read_calls} read",
    ]
    for step_id, message in result.failed:
        lines.append(f"FAILED {step_id}: {message}")
    for step_id, message in result.kept:
        lines.append(f"KEPT {step_id}: {message}")
    if result.remaining and result.mode != "dry-run":
        lines.append(
            "Nothing was left half-done: every user still has all of its access. "
            "Run the same command again to resume."
        )
    if result.journal:
        lines.append(f"Journal: {result.journal}")
    return "\n".join(lines) + "\n"


def apply_cmd(
    plan_path: str,
    *,
    dry_run: bool = False,
    journal: str | None = None,
    yes: bool = False,
    workers: int = 4,
    settle: float = 5.0,
    profile: str | None = None,
    as_json: bool = False,
    out: TextIO | None = None,
) -> int:
    """Dry-run or apply a plan file; exit 0 when the account is in the planned state."""
    from groupify.plan.model import load_plan
    from groupify.runtime.executor import apply

    out = out or sys.stdout
    plan = load_plan(plan_path)
    session = _session(profile)
    preview = apply(plan, session, dry_run=True)
    by_id = {s.id: s for s in plan.steps}
    if dry_run:
        if as_json:
            _dump(
                {
                    "already": list(preview.already),
                    "would_run": [by_id[i].to_dict() for i in preview.remaining],
                    "calls": dict(preview.calls),
                },
                out,
            )
            return 0
        out.write(plan_text(plan))
        rows = [
            (
                s.id,
                "already done" if s.id in preview.already else "would run",
                s.op,
                _target(s),
                "yes" if s.is_destructive else "",
            )
            for s in plan.steps
        ]
        out.write(table(["step", "status", "op", "target", "removes access"], rows) + "\n")
        out.write(
            f"\nDry run: {len(preview.remaining)} step(s) would run, {len(preview.already)} "
            f"already done; no change was made ({preview.read_calls} read calls).\n"
        )
        return 0
    destructive = sum(1 for i in preview.remaining if by_id[i].is_destructive)
    if not preview.remaining:
        out.write("Nothing to do: every step of the plan is already in place.\n")
        return 0
    _confirm(
        f"Apply {len(preview.remaining)} step(s) to account {plan.account_id} "
        f"({destructive} remove direct policies after their group route is in place)?",
        yes=yes,
        out=out,
    )
    journal = journal or plan_path + ".journal"
    result = apply(
        plan,
        session,
        journal=journal,
        workers=workers,
        settle=settle,
        progress=_Progress(sys.stderr, "apply"),
    )
    if as_json:
        _dump(_result_dict(result), out)
    else:
        out.write(_result_text(result, len(plan.steps)))
    return 0 if result.ok else 1


def _result_dict(result: Any) -> dict[str, Any]:
    return {
        "mode": result.mode,
        "ok": result.ok,
        "applied": list(result.applied),
        "already": list(result.already),
        "failed": [{"step": s, "error": m} for s, m in result.failed],
        "remaining": list(result.remaining),
        "kept": [{"step": s, "reason": m} for s, m in result.kept],
        "calls": dict(result.calls),
        "journal": result.journal,
    }


def _target(step: Any) -> str:
    p = step.params
    what = p.get("PolicyArn", p.get("PolicyName", ""))
    who = p.get("UserName") or p.get("GroupName") or ""
    if step.op == "add_user_to_group":
        return f"{p['UserName']} -> {p['GroupName']}"
    return f"{who} {what.rsplit('/', 1)[-1]}".strip()


def _session(profile: str | None) -> Any:
    if not profile:
        return None
    import boto3

    return boto3.Session(profile_name=profile)


def verify_cmd(
    plan_path: str, *, profile: str | None = None, as_json: bool = False, out: TextIO | None = None
) -> int:
    """Check IAM.2 and unchanged access per user; exit 1 when any check fails."""
    from groupify.runtime.checks import verify

    out = out or sys.stdout
    report = verify(plan_path, _session(profile))
    if as_json:
        _dump(
            {
                "account_id": report.account_id,
                "ok": report.ok,
                "users": [
                    {"user": u.user, "iam2": u.iam2, "access_unchanged": u.access, "note": u.note}
                    for u in report.users
                ],
                "exceptions": [{"user": u, "reason": r} for u, r in report.exceptions],
            },
            out,
        )
        return 0 if report.ok else 1
    rows = [
        (
            u.user,
            "pass" if u.iam2 else "FAIL",
            {True: "unchanged", False: "CHANGED", None: "-"}[u.access],
            u.note,
        )
        for u in report.users
    ]
    out.write(table(["user", "IAM.2", "access", "note"], rows, max_width=80) + "\n")
    if report.exceptions:
        out.write("\nDocumented exceptions (IAM.2 not expected to pass):\n")
        out.write(table(["user", "reason"], list(report.exceptions)) + "\n")
    failures = report.failures
    out.write(
        f"\n{len(report.users) - len(failures)} of {len(report.users)} user(s) pass"
        + ("." if not failures else f"; {len(failures)} fail.")
        + "\n"
    )
    return 0 if report.ok else 1


def rollback_cmd(
    journal: str,
    *,
    yes: bool = False,
    dry_run: bool = False,
    settle: float = 5.0,
    profile: str | None = None,
    as_json: bool = False,
    out: TextIO | None = None,
) -> int:
    """Undo what the runs recorded in *journal* did."""
    from groupify.runtime.undo import rollback

    out = out or sys.stdout
    session = _session(profile)
    preview = rollback(journal, session, dry_run=True)
    if dry_run or not preview.remaining:
        if as_json:
            _dump(_result_dict(preview), out)
        else:
            out.write(
                f"Rollback would make {len(preview.remaining)} call(s); no change was made.\n"
                if preview.remaining
                else "Nothing to roll back.\n"
            )
            for step_id, message in preview.kept:
                out.write(f"It would leave {step_id} as it is: {message}\n")
        return 0
    _confirm(f"Undo {len(preview.remaining)} change(s) recorded in {journal}?", yes=yes, out=out)
    result = rollback(journal, session, settle=settle, progress=_Progress(sys.stderr, "rollback"))
    if as_json:
        _dump(_result_dict(result), out)
    else:
        out.write(_result_text(result, len(preview.remaining)))
    return 0 if result.ok else 1


# -- report -----------------------------------------------------------------------


def report_cmd(
    plan_path: str,
    *,
    html_path: str | None = None,
    markdown_path: str | None = None,
    as_json: bool = False,
    out: TextIO | None = None,
) -> int:
    """Write a plan's change-approval report, as one self-contained HTML or Markdown file."""
    from groupify.plan.model import load_plan
    from groupify.report.document import render_html, render_markdown

    out = out or sys.stdout
    if not html_path and not markdown_path:
        raise InputError("give --html FILE and/or --markdown FILE")
    plan = load_plan(plan_path)  # checks format, checksum and fingerprint, and replays it
    written_to: dict[str, str] = {}
    if html_path:
        write_atomic(html_path, render_html(plan, plan_path=plan_path))
        written_to["html"] = html_path
    if markdown_path:
        write_atomic(markdown_path, render_markdown(plan, plan_path=plan_path))
        written_to["markdown"] = markdown_path
    if as_json:
        _dump(written_to, out)
    else:
        for path in written_to.values():
            out.write(f"Report written to {path}\n")
    return 0
