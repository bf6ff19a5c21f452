"""What the CLI prints: plain-text tables and each verb's text.

A table is never cut when standard output is not a terminal (a pipe, a file):
every cell is whole. On a terminal it fits the terminal's width, cutting the
widest cells (``…``); ``wide=True`` (the CLI's ``--wide``) never cuts. No colour
is used: the text is the same on a terminal and in a pipe.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from groupify.inventory.model import Inventory
from groupify.plan.model import Plan
from groupify.plan.steps import Step
from groupify.plan.views import REMOVES, label, replaced_by, replacement
from groupify.proposal.model import Proposal
from groupify.runtime.checks import VerifyReport
from groupify.runtime.result import ApplyResult

__all__ = [
    "Progress",
    "compare_text",
    "dry_run_text",
    "fit_width",
    "plan_text",
    "proposal_text",
    "result_text",
    "risk_lines",
    "role_lines",
    "rollback_preview_text",
    "scan_text",
    "table",
    "verify_text",
]

#: The narrowest a column is cut to when a table must fit a terminal (or its header's width).
MIN_COLUMN = 6


def fit_width(stream: TextIO | None = None, *, wide: bool = False) -> int | None:
    """The columns a text table may take: the terminal's width when *stream* (default:
    standard output) is a terminal, else ``None`` (never cut); ``None`` with *wide*."""
    if wide:
        return None
    stream = sys.stdout if stream is None else stream
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or closed
        tty = False
    # One column spare: some terminals wrap a line that fills the last one.
    return shutil.get_terminal_size().columns - 1 if tty else None


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(1, width - 1)] + "…"


def _fit(headers: Sequence[str], natural: list[int], width: int) -> list[int]:
    """Column widths within *width*: the widest columns are cut first, to one cap."""
    gaps = 2 * (len(natural) - 1)
    if sum(natural) + gaps <= width:
        return natural
    floors = [min(n, max(len(h), MIN_COLUMN)) for h, n in zip(headers, natural, strict=True)]

    def total(cap: int) -> int:
        return sum(max(min(n, cap), f) for n, f in zip(natural, floors, strict=True)) + gaps

    low, high = 0, max(natural)  # total(low) may still be too wide: the floors win then
    while low < high:
        mid = (low + high + 1) // 2
        if total(mid) <= width:
            low = mid
        else:
            high = mid - 1
    return [max(min(n, low), f) for n, f in zip(natural, floors, strict=True)]


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[object]],
    *,
    wide: bool = False,
    width: int | None = None,
) -> str:
    """A left-aligned table with a rule under the headers.

    Cells are whole unless the table must fit *width* columns (default: the
    terminal's, when standard output is one; see :func:`fit_width`); then the
    widest columns are cut, ending in ``…``. *wide* never cuts.
    """
    cells = [[str(c) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, c in enumerate(row):
            widths[i] = max(widths[i], len(c))
    limit = None if wide else width if width is not None else fit_width()
    if limit is not None:
        widths = _fit(headers, widths, limit)
        cells = [[_cut(c, w) for c, w in zip(row, widths, strict=True)] for row in cells]
    heads = [_cut(h, w) for h, w in zip(headers, widths, strict=True)]
    lines = [
        "  ".join(h.ljust(w) for h, w in zip(heads, widths, strict=True)).rstrip(),
        "  ".join("-" * w for w in widths),
    ]
    lines += [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    return "\n".join(lines)


# -- what each verb prints --------------------------------------------------------


def scan_text(inventory: Inventory, *, wide: bool = False) -> str:
    """The account and the users IAM.2 fails for."""
    failing = inventory.iam2_failing
    out = (
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
        out += (
            table(["user", "managed", "inline", "groups", "direct policies"], rows, wide=wide)
            + "\n"
        )
    return out


#: Members named in a group's row (the rest are counted; --wide and the files name all).
MEMBERS_SHOWN = 12


def _some(names: Sequence[str], wide: bool) -> str:
    if wide or len(names) <= MEMBERS_SHOWN:
        return ", ".join(names)
    return ", ".join(names[:MEMBERS_SHOWN]) + f", … ({len(names) - MEMBERS_SHOWN} more)"


def proposal_text(proposal: Proposal, *, wide: bool = False) -> str:
    """The proposed groups, their members and policies, and the documented exceptions."""
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
                _some(sorted(g.members), wide),
                ", ".join(sorted(inv.label(p) for p in g.policies)),
            )
        )
    if rows:
        lines.append(table(["group", "users", "members", "policies"], rows, wide=wide))
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
                wide=wide,
            )
        )
    return "\n".join(lines) + "\n"


COMPARE_HEADERS = (
    "strategy",
    "groups",
    "new",
    "reused",
    "users",
    "attachments",
    "memberships",
    "groups/user mean",
    "groups/user max",
    "policies/group mean",
    "policies/group max",
)


def compare_text(rows: Sequence[Mapping[str, Any]], *, wide: bool = False) -> str:
    """:func:`~groupify.compare_proposals` as a table."""
    return table(COMPARE_HEADERS, [list(r.values()) for r in rows], wide=wide) + "\n"


def plan_text(plan: Plan) -> str:
    """What the plan does, and what was verified."""
    s = plan.summary()
    ops = ", ".join(f"{n} {op}" for op, n in s["steps_by_op"].items())
    removals = sum(1 for step in plan.steps if step.is_destructive)
    lines = [
        f"Plan for account {plan.account_id} ({plan.fingerprint[:19]}…): "
        f"{s['users_migrated']} user(s) move to groups, {s['exceptions']} documented "
        f"exception(s)",
        f"{s['steps']} steps: {ops or 'none'}",
        f"{removals} of them remove a direct grant, each only after the group replacing it is "
        "in place.",
        "Verified: every user's effective access is unchanged after every step, and no "
        "user in scope keeps a direct policy.",
        control_text(plan),
        *role_lines(plan),
        *risk_lines(plan),
    ]
    return "\n".join(lines) + "\n"


def role_lines(plan: Plan) -> list[str]:
    """Roles that may change or join the plan's groups (listed, not refused)."""
    paths = plan.role_paths
    if not paths:
        return []
    by_role: dict[str, dict[str, set[str]]] = {}
    for p in paths:
        by_role.setdefault(p.role, {}).setdefault(p.group, set()).add(p.action.split(":")[1])
    total = len({v for s in plan.steps for k, v in s.param_items if k == "GroupName"})
    out = [
        f"Roles that may change or join these groups ({len(by_role)}; not refused: a role is "
        "never a member, but whoever assumes it could change what members hold):"
    ]
    for role, groups in sorted(by_role.items()):
        actions = sorted(set().union(*groups.values()))
        where = f"all {len(groups)} groups" if len(groups) == total else ", ".join(sorted(groups))
        out.append(f"  role {role}: {', '.join(actions)} on {where}")
    return out


def risk_lines(plan: Plan) -> list[str]:
    """The risk review: each flagged group and exempt user, and why."""
    risks = plan.risks
    if not risks:
        return ["Risk review: nothing flagged."]
    groups = sum(1 for r in risks if r.subject == "group")
    out = [
        f"Risk review: {groups} group(s) and {len(risks) - groups} exempt user(s) to look at "
        "before approving:"
    ]
    for r in risks:
        who = f"{len(r.members)} member(s)" if r.subject == "group" else "exempt"
        out.append(f"  {r.subject} {r.name} ({who}): " + "; ".join(str(f) for f in r.flags))
    return out


def control_text(plan: Plan) -> str:
    """What the control-path check found, and what it cannot see."""
    accepted = [f for f in plan.findings if f.key in plan.accepted]
    head = (
        "Control paths: no user gains a way to raise its own access"
        if not accepted
        else f"Control paths: {len(accepted)} accepted finding(s): "
        + ", ".join(f.id for f in accepted)
    )
    return (
        head + " (identity policies and boundaries; SCPs, resource and session policies not seen)."
    )


def dry_run_text(plan: Plan, preview: ApplyResult, *, wide: bool = False) -> str:
    """Every step of the plan, done or to run, and what the run would do."""
    covered = replaced_by(plan)
    rows = [
        (
            s.id,
            "already done" if s.id in preview.already else "would run",
            s.op,
            label(s),
            f"yes, {replacement(covered[s.id])}" if s.is_destructive else "",
        )
        for s in plan.steps
    ]
    to_run = set(preview.remaining)
    removals = sum(1 for s in plan.steps if s.is_destructive and s.id in to_run)
    return (
        plan_text(plan)
        + table(["step", "status", "op", "target", REMOVES], rows, wide=wide)
        + "\n"
        + f"\nDry run: {len(preview.remaining)} step(s) would run, {len(preview.already)} "
        f"already done; {removals} of those to run remove a direct grant, each after the "
        f"group replacing it is in place. No change was made ({preview.read_calls} read "
        "calls).\n"
    )


def result_text(result: ApplyResult, total: int) -> str:
    """What a run of apply or rollback did."""
    lines = [
        f"{result.mode}: {len(result.applied)} step(s) applied, {len(result.already)} already "
        f"done, {len(result.failed)} failed, {len(result.remaining)} remaining of {total}",
        f"API calls: {result.mutating_calls} mutating, {result.read_calls} read",
    ]
    for step_id, message in result.failed:
        lines.append(f"FAILED {step_id}: {message}")
    for step_id, message in result.kept:
        lines.append(f"KEPT {step_id}: {message}")
    for step_id, message in result.foreign:
        lines.append(f"NOT OURS {step_id} {message} (left alone)")
    if result.remaining and result.mode != "dry-run":
        lines.append(
            "Nothing was left half-done: every user still has all of its access. "
            "Run the same command again to resume."
        )
    if result.journal:
        lines.append(f"Journal: {result.journal}")
    return "\n".join(lines) + "\n"


def verify_text(report: VerifyReport, *, wide: bool = False) -> str:
    """IAM.2 and access per user, the exceptions, and the count that passes."""
    rows = [
        (
            u.user,
            "pass" if u.iam2 else "FAIL",
            {True: "unchanged", False: "CHANGED", None: "-"}[u.access],
            u.note,
        )
        for u in report.users
    ]
    out = table(["user", "IAM.2", "access", "note"], rows, wide=wide) + "\n"
    if report.exceptions:
        out += "\nDocumented exceptions (IAM.2 not expected to pass):\n"
        out += table(["user", "reason"], list(report.exceptions), wide=wide) + "\n"
    failures = report.failures
    out += (
        f"\n{len(report.users) - len(failures)} of {len(report.users)} user(s) pass"
        + ("." if not failures else f"; {len(failures)} fail.")
        + "\n"
    )
    return out


def rollback_preview_text(preview: ApplyResult) -> str:
    """What a rollback would do."""
    out = (
        f"Rollback would make {len(preview.remaining)} call(s); no change was made.\n"
        if preview.remaining
        else "Nothing to roll back.\n"
    )
    for step_id, message in preview.kept:
        out += f"It would leave {step_id} as it is: {message}\n"
    for step_id, message in preview.foreign:
        out += f"Not groupify's, left alone: {step_id} {message}\n"
    return out


class Progress:
    """One status line on a terminal; a line every 10% otherwise; with the time elapsed."""

    def __init__(self, stream: TextIO, label: str) -> None:
        self.stream = stream
        self.label = label
        self.tty = stream.isatty()
        self.shown = -1
        self.began = time.monotonic()

    def __call__(self, event: str, step: Step, done: int, total: int) -> None:
        if event == "start":
            return
        elapsed = _elapsed(time.monotonic() - self.began)
        if self.tty:
            width = max(20, shutil.get_terminal_size((80, 24)).columns - 1)
            line = f"{self.label} {done}/{total} {elapsed} {step.op} {step.id}"[:width]
            self.stream.write("\r" + line.ljust(width))
            if done == total:
                self.stream.write("\n")
            self.stream.flush()
        elif total and (done * 10 // total) > self.shown:
            self.shown = done * 10 // total
            self.stream.write(f"{self.label} {done}/{total} steps, {elapsed}\n")


def _elapsed(seconds: float) -> str:
    """``7s``, ``2m05s``, ``1h02m``."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
