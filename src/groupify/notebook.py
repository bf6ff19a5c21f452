"""Notebook views: the HTML that Jupyter shows for groupify's objects.

The classes' ``_repr_html_`` methods call these functions; nothing here
imports IPython. Each view puts a summary first (scope, exceptions, groups,
steps, quota headroom), then tables a reviewer can scan. Large tables are
folded into ``<details>`` so a 5,000-user account stays readable.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from groupify._html import badge, details, esc, kv_table, table

if TYPE_CHECKING:
    from groupify.inventory.model import Inventory, PolicyRef
    from groupify.plan.model import Plan, Quota
    from groupify.proposal.strategies import Proposal, ProposalDiff
    from groupify.runtime.checks import VerifyReport
    from groupify.runtime.executor import ApplyResult

__all__ = [
    "diff_html",
    "inventory_html",
    "plan_html",
    "proposal_html",
    "result_html",
    "verify_html",
]

STYLE = (
    "<style>"
    "table.groupify{border-collapse:collapse;margin:4px 0 10px 0;font-size:90%}"
    "table.groupify th,table.groupify td{border:1px solid #d0d7de;padding:3px 8px;"
    "text-align:left;vertical-align:top}"
    "table.groupify thead th{background:#f6f8fa}"
    "table.summary th{background:#f6f8fa;font-weight:600}"
    ".groupify-box{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif}"
    ".groupify-box h4{margin:8px 0 4px 0}"
    "</style>"
)

#: Rows shown before a table is folded.
FOLD = 25


def _box(title: str, *parts: str) -> str:
    return f'{STYLE}<div class="groupify-box"><h4>{esc(title)}</h4>{"".join(parts)}</div>'


def _fold(title: str, headers: list[str], rows: list[list[Any]], raw: Iterable[int] = ()) -> str:
    raw = tuple(raw)
    if len(rows) <= FOLD:
        return table(headers, rows, raw=raw)
    return table(headers, rows[:FOLD], raw=raw) + details(
        f"{title}: all {len(rows)} rows", table(headers, rows, raw=raw)
    )


def policy_kind(ref: PolicyRef, as_managed: bool = False) -> str:
    """``AWS-managed``, ``customer-managed``, ``inline`` or ``inline → managed``."""
    if ref.is_aws_managed:
        return "AWS-managed"
    if ref.is_managed:
        return "customer-managed"
    return "inline → managed" if as_managed else "inline"


def _policy_badges(inv: Inventory, refs: Iterable[PolicyRef], as_managed: frozenset[Any]) -> str:
    kinds = {"AWS-managed": "info", "customer-managed": "ok", "inline": "warn"}
    out = []
    for ref in sorted(refs, key=lambda r: inv.label(r).lower()):
        kind = policy_kind(ref, ref in as_managed)
        out.append(f"{esc(inv.label(ref))} {badge(kind, kinds.get(kind, 'warn'))}")
    return "<br>".join(out)


def _names(names: Iterable[str], most: int = 12) -> str:
    names = sorted(names)
    shown = ", ".join(names[:most])
    return shown + (f" … (+{len(names) - most})" if len(names) > most else "")


def _headroom(quotas: list[Quota]) -> str:
    rows = []
    for q in quotas:
        if q.headroom is None:
            left = badge("not used", "muted")
        else:
            kind = "danger" if q.headroom < 0 else "warn" if q.share >= 0.8 else "ok"
            left = badge(f"{q.headroom} left", kind)
        rows.append([q.label, q.limit, "—" if q.reached is None else q.reached, left, q.where])
    return table(["quota", "limit", "plan reaches", "headroom", "where"], rows, raw=[3])


# -- views ------------------------------------------------------------------------------


def inventory_html(inv: Inventory) -> str:
    failing = [u for u in inv.users if u.direct]
    summary = kv_table(
        [
            ("account", inv.account_id),
            ("source", inv.source or "scan"),
            ("users", len(inv.users)),
            ("groups", len(inv.groups)),
            ("users failing IAM.2 (direct policies)", len(failing)),
            ("fingerprint", inv.fingerprint[:23] + "…"),
        ]
    )
    rows = [
        [
            u.name,
            _policy_badges(inv, u.direct, frozenset()),
            ", ".join(u.groups) or "—",
            ", ".join(f"{k}={v}" for k, v in u.tags) or "—",
        ]
        for u in failing
    ]
    return _box(
        f"Inventory of account {inv.account_id}",
        summary,
        "<h4>Users with direct policies</h4>",
        _fold("users", ["user", "direct policies", "groups", "tags"], rows, raw=[1]),
    )


def _groups_table(proposal: Proposal) -> str:
    inv = proposal.inventory
    rows = []
    for g in sorted(proposal.groups, key=lambda g: (-len(g.members), g.name)):
        rows.append(
            [
                f"<b>{esc(g.name)}</b> "
                + (badge("existing, reused", "muted") if g.existing else badge("new", "info")),
                len(g.members),
                esc(_names(g.members)),
                _policy_badges(inv, g.policies, g.as_managed),
                esc(g.reason),
            ]
        )
    return _fold("groups", ["group", "users", "members", "policies", "why"], rows, raw=[0, 2, 3])


def _exceptions_table(proposal: Proposal | Plan) -> str:
    if not proposal.exceptions:
        return "<p>No exceptions: every user with direct policies is migrated.</p>"
    inv = proposal.inventory
    rows = [
        [e.user, e.reason, _policy_badges(inv, e.policies, frozenset())]
        for e in proposal.exceptions
    ]
    return table(["user", "reason (documented exception)", "direct policies kept"], rows, raw=[2])


def proposal_html(proposal: Proposal) -> str:
    s = proposal.summary()
    summary = kv_table(
        [
            ("account", proposal.inventory.account_id),
            ("strategy", s["strategy"]),
            ("users in scope", s["users_in_scope"]),
            ("exempt users", s["exceptions"]),
            ("groups proposed (new)", s["groups_new"]),
            ("existing groups reused", s["groups_reused"]),
            ("inline policies becoming managed", s["policies_created"]),
            ("most proposed groups per user", s["max_groups_per_user"]),
        ]
    )
    changed = ""
    if proposal.previous is not None:
        changed = "<h4>Changed by the last edit</h4>" + diff_html(
            proposal.previous.diff(proposal), boxed=False
        )
    return _box(
        "Proposed groups",
        summary,
        changed,
        "<h4>Groups</h4>",
        _groups_table(proposal),
        "<h4>Exceptions</h4>",
        _exceptions_table(proposal),
    )


def plan_html(plan: Plan) -> str:
    s = plan.summary()
    summary = kv_table(
        [
            ("account", plan.account_id),
            ("strategy", s["strategy"]),
            ("users migrated", s["users_migrated"]),
            ("exempt users", s["exceptions"]),
            ("groups created", s["groups_created"]),
            ("existing groups reused", s["groups_reused"]),
            ("policies created", s["policies_created"]),
            ("steps", s["steps"]),
            ("fingerprint", plan.fingerprint[:23] + "…"),
        ]
    )
    ops = table(["op", "steps"], list(s["steps_by_op"].items()))
    groups = [
        [
            f"<b>{esc(g['name'])}</b> "
            + (badge("existing, reused", "muted") if g["existing"] else badge("new", "info")),
            len(g["members"]),
            esc(_names(g["members"])),
            "<br>".join(f"{esc(p['name'])} {badge(_kind(p), 'info')}" for p in g["policies"]),
            esc(g.get("reason", "")),
        ]
        for g in plan.groups
    ]
    steps = [
        [
            s_.id,
            s_.op,
            _target(s_.params),
            badge("removes direct policy", "danger") if s_.is_destructive else "",
            ", ".join(s_.after),
        ]
        for s_ in plan.steps
    ]
    return _box(
        f"Plan for account {plan.account_id}",
        summary,
        "<p>Verified: after every step every user has exactly the access it had, in any "
        "order the dependencies allow.</p>",
        "<h4>Steps by operation</h4>",
        ops,
        "<h4>Quota headroom</h4>",
        _headroom(plan.headroom()),
        "<h4>Groups</h4>",
        _fold("groups", ["group", "users", "members", "policies", "why"], groups, raw=[0, 2, 3]),
        "<h4>Exceptions</h4>",
        _exceptions_table(plan),
        "<h4>Steps</h4>",
        _fold("steps", ["id", "op", "target", "", "after"], steps, raw=[3]),
    )


def _kind(policy: dict[str, Any]) -> str:
    if policy.get("kind") == "managed":
        return "AWS-managed" if policy.get("aws_managed") else "customer-managed"
    return "inline → managed" if policy.get("as_managed") else "inline"


def _target(params: dict[str, str]) -> str:
    if "UserName" in params and "GroupName" in params:
        return f"{params['UserName']} → {params['GroupName']}"
    who = params.get("UserName") or params.get("GroupName") or ""
    what = params.get("PolicyArn", params.get("PolicyName", ""))
    return f"{who} {what.rsplit('/', 1)[-1]}".strip()


def result_html(result: ApplyResult) -> str:
    summary = kv_table(
        [
            ("mode", result.mode),
            ("applied", len(result.applied)),
            ("already in place", len(result.already)),
            ("failed", len(result.failed)),
            ("remaining", len(result.remaining)),
            ("mutating calls", result.mutating_calls),
            ("read calls", result.read_calls),
            ("journal", result.journal or "—"),
        ]
    )
    status = (
        badge("complete", "ok")
        if result.ok and result.mode != "dry-run"
        else badge("dry run: nothing changed", "muted")
        if result.mode == "dry-run"
        else badge("stopped before the end: run again to resume", "danger")
    )
    failed = table(["step", "error"], list(result.failed)) if result.failed else ""
    calls = Counter(dict(result.calls))
    return _box(
        f"{result.mode.capitalize()} result",
        f"<p>{status}</p>",
        summary,
        failed,
        details("calls by operation", table(["operation", "calls"], sorted(calls.items()))),
    )


def verify_html(report: VerifyReport) -> str:
    rows = [
        [
            u.user,
            badge("pass", "ok") if u.iam2 else badge("FAIL", "danger"),
            {True: badge("unchanged", "ok"), False: badge("CHANGED", "danger"), None: "—"}[
                u.access
            ],
            u.note,
        ]
        for u in sorted(report.users, key=lambda u: (u.ok, u.user))
    ]
    status = (
        badge("all users pass", "ok")
        if report.ok
        else badge(f"{len(report.failures)} user(s) fail", "danger")
    )
    return _box(
        f"Verification of account {report.account_id}",
        f"<p>{status}</p>",
        _fold("users", ["user", "IAM.2", "access", "note"], rows, raw=[1, 2]),
        table(["exempt user", "reason"], list(report.exceptions)) if report.exceptions else "",
    )


def diff_html(diff: ProposalDiff, *, boxed: bool = True) -> str:
    items = "".join(f"<li><code>{esc(line)}</code></li>" for line in diff.lines())
    body = f"<ul>{items}</ul>"
    return _box("Changes", body) if boxed else body
