"""The change-approval report: one plan, read by a board, in HTML or Markdown.

:func:`render_html` and :func:`render_markdown` turn a :class:`~groupify.Plan`
into a single self-contained document (inline CSS, no script, no external
resource) that a change-approval board can read on screen, in a notebook or
on paper: the scope, the documented exceptions, each group and why it
exists, the quota headroom, every step with the destructive ones marked, how
to roll back, and the verification statement.

Both formats are rendered from the same facts (:class:`_Facts`), computed
once from the plan, so they say the same thing. The plan is verified again
before anything is rendered: the report never states a verification that did
not just pass. Everything that comes from the account or from a reviewer
(names, paths, reasons, policy documents) is escaped; IAM allows ``<``,
``&`` and quotes in paths and in policy documents, and reasons are free text.
"""

from __future__ import annotations

import json
import re
import shlex
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from attrs import frozen

from groupify._html import badge, details, esc, kv_table, table
from groupify.inventory.model import PolicyRef
from groupify.inventory.policy import document_size, is_aws_managed
from groupify.plan.model import CREATED_POLICY_PATH, OPS, Plan, Quota, Step

__all__ = ["render_html", "render_markdown"]

#: What each plan op does, in a reviewer's words.
_OP_MEANING: dict[str, str] = {
    "create_policy": "create a customer-managed policy under /groupify/ from an inline document",
    "create_group": "create a new group",
    "attach_group_policy": "attach a managed policy to a new group",
    "put_group_policy": "embed an inline policy in a new group",
    "add_user_to_group": "add a user to a group",
    "detach_user_policy": "detach a managed policy from a user",
    "delete_user_policy": "delete an inline policy from a user",
}

#: The call rollback makes to undo each op (see :func:`groupify.runtime.undo.reverse`).
_REVERSE: dict[str, str] = {
    "delete_user_policy": "put_user_policy",
    "detach_user_policy": "attach_user_policy",
    "add_user_to_group": "remove_user_from_group",
    "put_group_policy": "delete_group_policy",
    "attach_group_policy": "detach_group_policy",
    "create_group": "delete_group",
    "create_policy": "delete_policy",
}

#: A share of a quota at or above which the report flags it as near the limit.
_NEAR = 0.8


def _near(quota: Quota) -> bool:
    return quota.share >= _NEAR


_STEP_ID = re.compile(r"s(\d+)")


# -- facts ---------------------------------------------------------------------------


@frozen
class _Policy:
    """A policy of a group, as a reviewer needs to see it."""

    name: str
    ident: str  # the ARN, or ``inline:<digest>`` of the document
    kind: str  # a reviewer's label, see _policy_kind
    managed: bool  # attached as a managed policy (counts toward the group's quota)


@frozen
class _Group:
    """A group of the plan: new, or existing and reused unchanged."""

    name: str
    existing: bool
    reason: str
    members: tuple[str, ...]
    policies: tuple[_Policy, ...]


@frozen
class _User:
    """A user in scope: what it joins and which direct policies go."""

    name: str
    groups_now: tuple[str, ...]
    joins: tuple[str, ...]
    removes: tuple[str, ...]


@frozen
class _Exception:
    """A documented exception: a user left alone, why, and what it keeps."""

    user: str
    reason: str
    keeps: tuple[str, ...]


@frozen
class _Segment:
    """Consecutive steps about one thing (a group, a user, created policies)."""

    kind: str  # "group", "user" or "policies"
    name: str
    steps: tuple[Step, ...]
    existing: bool = False  # a group the plan reuses


@frozen
class _Document:
    """An inline document the plan gives to a group, shown once in an appendix."""

    name: str
    ident: str
    groups: tuple[str, ...]
    text: str  # pretty-printed JSON


@frozen
class _Facts:
    """Everything both renderers show, computed once from the plan."""

    account_id: str
    fingerprint: str
    checksum: str
    strategy: str
    generator: str
    renderer: str
    plan_path: str
    summary: Mapping[str, Any]
    in_scope: tuple[_User, ...]
    exceptions: tuple[_Exception, ...]
    groups: tuple[_Group, ...]
    quotas: tuple[Quota, ...]
    steps: tuple[Step, ...]
    segments: tuple[_Segment, ...]
    documents: tuple[_Document, ...]
    reverse_calls: tuple[tuple[str, int], ...]

    @property
    def destructive(self) -> int:
        return sum(1 for s in self.steps if s.is_destructive)

    @property
    def new_groups(self) -> tuple[_Group, ...]:
        return tuple(g for g in self.groups if not g.existing)

    @property
    def reused_groups(self) -> tuple[_Group, ...]:
        return tuple(g for g in self.groups if g.existing)

    @property
    def journal(self) -> str:
        return f"{self.plan_path}.journal"

    @property
    def rollback_commands(self) -> tuple[str, str]:
        journal = shlex.quote(self.journal)
        return (
            f"groupify rollback --journal {journal} --dry-run",
            f"groupify rollback --journal {journal}",
        )


def _policy_kind(entry: Mapping[str, Any], existing: bool) -> str:
    if entry.get("kind") == "managed":
        aws = entry.get("aws_managed", is_aws_managed(str(entry.get("id", ""))))
        return "AWS-managed" if aws else "customer-managed"
    if entry.get("as_managed"):
        return "inline → new customer-managed policy"
    return "inline (the group's own)" if existing else "inline (embedded in the group)"


def _policy_sort_key(p: _Policy) -> tuple[int, str]:
    order = ("AWS-managed", "customer-managed")
    return (order.index(p.kind) if p.kind in order else 2, p.name.lower())


def _subject(step: Step) -> tuple[str, str]:
    p = step.params
    if step.is_destructive:
        return ("user", p["UserName"])
    if step.op == "create_policy":
        return ("policies", "")
    return ("group", p.get("GroupName", ""))


def _segments(steps: Sequence[Step], existing: Iterable[str]) -> tuple[_Segment, ...]:
    runs: list[tuple[tuple[str, str], list[Step]]] = []
    for step in steps:
        subject = _subject(step)
        if runs and runs[-1][0] == subject:
            runs[-1][1].append(step)
        else:
            runs.append((subject, [step]))
    return tuple(
        _Segment(kind, name, tuple(steps), existing=kind == "group" and name in existing)
        for (kind, name), steps in runs
    )


def _groups_from_steps(plan: Plan) -> list[dict[str, Any]]:
    """The plan's groups as a plan file records them, rebuilt from the steps.

    For a plan that does not carry its reviewed groups (``Plan.groups`` is
    optional): names, members and policies are all in the steps; reasons are not.
    """
    inv = plan.inventory
    made = {
        s.params["PolicyName"]: s.params["PolicyDocument"]
        for s in plan.steps
        if s.op == "create_policy"
    }
    out: dict[str, dict[str, Any]] = {}
    for s in plan.steps:
        name = s.params.get("GroupName")
        if name is None or s.is_destructive:
            continue
        existing = name in inv.group_by_name
        group = out.setdefault(
            name,
            {
                "name": name,
                "existing": existing,
                "reason": "not recorded in the plan",
                "members": [],
                "policies": [],
            },
        )
        if existing and not group["policies"]:
            group["policies"] = [
                {"id": p.id, "name": inv.label(p), "kind": p.kind}
                for p in sorted(inv.group_by_name[name].policies)
            ]
        if s.op == "add_user_to_group":
            group["members"].append(s.params["UserName"])
        elif s.op == "put_group_policy":
            ref = PolicyRef("inline", s.params["PolicyDocument"])
            group["policies"].append({"id": ref.id, "name": inv.label(ref), "kind": "inline"})
        elif s.op == "attach_group_policy":
            arn = s.params["PolicyArn"]
            created = arn.rsplit("/", 1)[-1]
            if arn.split(":policy", 1)[-1].startswith(CREATED_POLICY_PATH) and created in made:
                ref = PolicyRef("inline", made[created])
                entry = {"id": ref.id, "name": inv.label(ref), "kind": "inline", "as_managed": True}
            else:
                entry = {"id": arn, "name": arn.rsplit("/", 1)[-1], "kind": "managed"}
            group["policies"].append(entry)
    return sorted(out.values(), key=lambda g: str(g["name"]).lower())


def _pretty(document: str) -> str:
    try:
        return json.dumps(json.loads(document), indent=2, ensure_ascii=False)
    except ValueError:
        return document


def _facts(plan: Plan, *, plan_path: str, generator: str | None, checksum: str | None) -> _Facts:
    from groupify import __version__

    plan.verify()
    inv = plan.inventory
    renderer = f"groupify {__version__}"

    refs = {p.id: p for u in inv.users for p in u.direct}
    refs.update({p.id: p for g in inv.groups for p in g.policies})

    groups: list[_Group] = []
    holders: dict[str, list[str]] = {}
    for raw in plan.groups or _groups_from_steps(plan):
        existing = bool(raw.get("existing", False))
        policies = []
        for entry in raw.get("policies", ()):
            ident = str(entry.get("id", ""))
            ref = refs.get(ident)
            if ref is not None and not ref.is_managed and not existing:
                holders.setdefault(ident, []).append(str(raw["name"]))
            policies.append(
                _Policy(
                    name=str(entry.get("name", ident)),
                    ident=ident,
                    kind=_policy_kind(entry, existing),
                    managed=entry.get("kind") == "managed" or bool(entry.get("as_managed")),
                )
            )
        groups.append(
            _Group(
                name=str(raw["name"]),
                existing=existing,
                reason=str(raw.get("reason", "")),
                members=tuple(sorted(str(m) for m in raw.get("members", ()))),
                policies=tuple(sorted(policies, key=_policy_sort_key)),
            )
        )

    removes: dict[str, list[str]] = {}
    for s in plan.steps:
        if s.op == "detach_user_policy":
            removes.setdefault(s.params["UserName"], []).append(
                s.params["PolicyArn"].rsplit("/", 1)[-1]
            )
        elif s.op == "delete_user_policy":
            removes.setdefault(s.params["UserName"], []).append(
                f"{s.params['PolicyName']} (inline)"
            )
    users = []
    for name in plan.in_scope:
        user = inv.user_by_name[name]
        joins = sorted(g.name for g in groups if name in g.members and g.name not in user.groups)
        users.append(_User(name, user.groups, tuple(joins), tuple(removes.get(name, ()))))

    exceptions = tuple(
        _Exception(e.user, e.reason, tuple(sorted(inv.label(p) for p in e.policies)))
        for e in plan.exceptions
    )

    documents = tuple(
        _Document(
            name=next(p.name for g in groups for p in g.policies if p.ident == ident),
            ident=ident,
            groups=tuple(names),
            text=_pretty(refs[ident].key),
        )
        for ident, names in sorted(holders.items())
    )

    ops = Counter(s.op for s in plan.steps)
    reverse_calls = tuple(
        (_REVERSE[op], ops[op]) for op in reversed(OPS) if ops[op] and op in _REVERSE
    )

    return _Facts(
        account_id=plan.account_id,
        fingerprint=plan.fingerprint,
        checksum=checksum or plan.checksum or str(plan.to_dict()["checksum"]),
        strategy=plan.strategy,
        generator=generator or plan.generator or renderer,
        renderer=renderer,
        plan_path=plan_path,
        summary=plan.summary(),
        in_scope=tuple(users),
        exceptions=exceptions,
        groups=tuple(groups),
        quotas=tuple(plan.headroom()),
        steps=plan.steps,
        segments=_segments(plan.steps, {g.name for g in groups if g.existing}),
        documents=documents,
        reverse_calls=reverse_calls,
    )


def _after(ids: Iterable[str]) -> str:
    """Step ids with runs of three or more shortened: ``s4–s6, s9``."""
    ids = list(ids)
    numbers: list[int] = []
    for step_id in ids:
        m = _STEP_ID.fullmatch(step_id)
        if m is None:
            return ", ".join(ids)
        numbers.append(int(m.group(1)))
    numbers.sort()
    parts: list[str] = []
    i = 0
    while i < len(numbers):
        j = i
        while j + 1 < len(numbers) and numbers[j + 1] == numbers[j] + 1:
            j += 1
        if j - i >= 2:
            parts.append(f"s{numbers[i]}–s{numbers[j]}")
        else:
            parts += [f"s{n}" for n in numbers[i : j + 1]]
        i = j + 1
    return ", ".join(parts)


def _target(step: Step) -> str:
    p = step.params
    return p.get("UserName") or p.get("GroupName") or p.get("PolicyName", "")


def _details(step: Step) -> list[tuple[str, str]]:
    """(label, value) pairs a reviewer needs about *step*, documents summarised."""
    p = step.params
    match step.op:
        case "add_user_to_group":
            return [("joins group", p["GroupName"])]
        case "attach_group_policy" | "detach_user_policy":
            return [("", p["PolicyArn"])]
        case "put_group_policy":
            return [
                ("inline policy", p["PolicyName"]),
                ("document", f"{document_size(p['PolicyDocument'])} characters (appendix A)"),
            ]
        case "delete_user_policy":
            return [("inline policy", p["PolicyName"])]
        case "create_policy":
            return [
                ("path", p.get("Path", "/")),
                ("document", f"{document_size(p['PolicyDocument'])} characters"),
            ]
        case "create_group":
            return [("path", p["Path"])] if "Path" in p else []
    return [(k, v) for k, v in step.param_items]  # pragma: no cover - every op is above


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else plural or word + 's'}"


# The prose below is shared by both formats. Its fixed text must stay plain
# (no HTML or Markdown syntax: no <, &, *, _, backticks or pipes) because it is
# emitted as is; every value is passed through *code*, which escapes it for
# the format and sets it as code.

Code = Callable[[str], str]


def _lede(f: _Facts) -> str:
    s = f.summary
    return (
        f"{_plural(s['users_migrated'], 'user')} move from directly attached policies to "
        f"{_plural(len(f.groups), 'job-function group')} ({len(f.new_groups)} new, "
        f"{len(f.reused_groups)} existing reused unchanged); "
        f"{_plural(len(f.exceptions), 'documented exception')}. "
        f"The plan is {_plural(len(f.steps), 'IAM call')}, {f.destructive} of them destructive: "
        "each removes a direct policy, and only after the group route replacing it is in place."
    )


def _verification(f: _Facts) -> list[str]:
    n = f.summary["users_migrated"]
    return [
        "after every step, every user's effective access (its direct policies plus those of "
        "its groups) equals its access before the change: no gap, no widening;",
        "every destructive step depends, through its after steps, on the group membership and "
        "group policy that replace the policy it removes, so any order a parallel executor may "
        "choose is as safe as the listed one;",
        f"at the end no user in scope keeps a direct policy: IAM.2 passes for all {n} of them;"
        if n
        else "no user is in scope: the plan removes no direct policy;",
        "no step changes an existing group or touches an exempt user.",
    ]


def _verification_intro(f: _Facts, code: Code) -> str:
    return (
        "The plan was replayed step by step, in the order listed below, on a model of account "
        f"{code(f.account_id)} as recorded in the plan (fingerprint {code(f.fingerprint)}). "
        "groupify does this when it builds a plan and whenever it loads a plan file, and did "
        "it again to render this report. It passed:"
    )


def _verification_after(f: _Facts, code: Code) -> str:
    return (
        f"Before changing anything, {code('groupify apply')} re-reads the account and refuses "
        "(drift) if anything the plan touches changed since the plan was made; it then checks "
        "the remaining steps against the live state the same way. After the run, "
        f"{code('groupify verify ' + shlex.quote(f.plan_path))} checks each user again: IAM.2 "
        "passes, access unchanged."
    )


def _rollback_does(code: Code) -> list[str]:
    return [
        "reverses only the steps that this journal's runs made and whose effect is still in "
        "place, in reverse plan order, one call at a time;",
        f"re-attaches each detached managed policy ({code('attach_user_policy')}) and re-embeds "
        f"each deleted inline policy with its original document ({code('put_user_policy')}), "
        "and confirms they are visible before it removes the user from the group "
        f"({code('remove_user_from_group')}): no gap on the way back either;",
        "detaches and deletes group policies, and deletes groups "
        f"({code('delete_group')}) and policies ({code('delete_policy')}), only where a run of "
        "this journal created them;",
        "verifies the reverse calls on a model first, as the plan itself was verified.",
    ]


_ROLLBACK_DOES_NOT = (
    "delete anything groupify did not create: existing groups reused by the plan stay, with "
    "their policies; only the memberships the plan added are removed;",
    "touch the documented exceptions or any user outside the plan;",
    "undo changes made by anyone else: if the account no longer matches the plan plus its "
    "steps, rollback stops with a drift error and changes nothing.",
)


def _rollback_intro(f: _Facts, code: Code) -> str:
    return (
        f"{code('groupify apply')} journals every call to {code(f.journal)} (unless "
        f"{code('--journal')} names another file). The journal holds the whole plan, so "
        "rollback needs only the journal: keep it with this change record. Preview first, "
        "then roll back:"
    )


def _rollback_calls(f: _Facts, code: Code) -> str:
    calls = ", ".join(f"{n} {code(op)}" for op, n in f.reverse_calls)
    total = sum(n for _, n in f.reverse_calls)
    return (
        f"For this plan, rolling back a complete run makes at most {total} calls: {calls}."
        if total
        else "This plan makes no change, so there is nothing to roll back."
    )


def _segment_title(seg: _Segment, code: Code) -> str:
    if seg.kind == "policies":
        return "Customer-managed policies created from inline documents"
    if seg.kind == "user":
        n = len(seg.steps)
        return f"User {code(seg.name)}: remove {n} direct polic{'ies' if n != 1 else 'y'}"
    state = "existing, reused unchanged" if seg.existing else "new"
    return f"Group {code(seg.name)} ({state})"


_SIGN_OFF = ("Change ticket", "Reviewed by", "Approved by", "Date", "Decision")


# -- HTML ------------------------------------------------------------------------------

_CSS = """
.gfy{font:14px/1.5 -apple-system,BlinkMacSystemFont,"Segoe UI","Helvetica Neue",Helvetica,
Arial,"Liberation Sans",sans-serif;color:#1f2328;max-width:1120px;margin:0 auto;
padding:28px 40px 48px;background:#fff;-webkit-print-color-adjust:exact;print-color-adjust:exact}
.gfy h1{font-size:25px;line-height:1.25;margin:2px 0 10px;font-weight:650;letter-spacing:-.01em}
.gfy h2{font-size:18px;line-height:1.3;margin:34px 0 10px;padding-bottom:5px;
border-bottom:1px solid #d1d9e0;font-weight:650}
.gfy h3{font-size:15px;margin:18px 0 6px;font-weight:650}
.gfy p,.gfy ul{margin:6px 0 10px}
.gfy ul{padding-left:22px}
.gfy li{margin:2px 0}
.gfy .eyebrow{text-transform:uppercase;letter-spacing:.07em;font-size:11.5px;color:#59636e;
margin:0;font-weight:600}
.gfy .lede{font-size:15px;color:#31373d;max-width:62em;margin-bottom:14px}
.gfy nav{font-size:13px;color:#59636e;margin:10px 0 0}
.gfy nav a{color:#0b57d0;text-decoration:none;margin-right:14px;white-space:nowrap}
.gfy table{border-collapse:collapse;width:100%;margin:8px 0 14px;font-size:13px}
.gfy th,.gfy td{border:1px solid #d1d9e0;padding:5px 8px;text-align:left;vertical-align:top}
.gfy thead th{background:#f6f8fa;font-weight:600;white-space:nowrap}
.gfy thead{display:table-header-group}
.gfy tr{break-inside:avoid}
.gfy table.summary{width:auto;min-width:64%}
.gfy table.summary th{background:#f6f8fa;font-weight:600;width:15em;white-space:nowrap}
.gfy code,.gfy pre{font-family:ui-monospace,SFMono-Regular,"SF Mono",Menlo,Consolas,
"Liberation Mono",monospace;font-size:12px}
.gfy td code{overflow-wrap:anywhere}
.gfy pre{background:#f6f8fa;border:1px solid #d1d9e0;border-radius:6px;padding:9px 12px;
margin:6px 0 12px;white-space:pre-wrap;overflow-wrap:anywhere}
.gfy .callout{border:1px solid #d1d9e0;border-left:4px solid #1a7f37;border-radius:6px;
padding:8px 14px;margin:10px 0 14px}
.gfy .callout.warn{border-left-color:#9a6700}
.gfy .callout p:first-child{margin-top:2px}
.gfy .muted{color:#59636e}
.gfy .small{font-size:12px}
.gfy .num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.gfy .nowrap{white-space:nowrap}
.gfy .kind{display:block;font-size:11.5px;color:#59636e}
.gfy ul.plain{list-style:none;padding:0;margin:0}
.gfy ul.plain li{margin:0 0 3px}
.gfy .names{overflow-wrap:break-word}
.gfy .bar{display:inline-block;width:90px;height:8px;background:#eaeef2;border-radius:4px;
vertical-align:middle;margin-right:6px;overflow:hidden}
.gfy .bar span{display:block;height:100%;background:#8c959f}
.gfy .bar.near span{background:#bf8700}
.gfy tr.segment th{background:#eef2f6;font-weight:600;border-top:2px solid #c3ccd5}
.gfy tr.destructive td{background:#fff8f8}
.gfy tr.destructive td:first-child{box-shadow:inset 3px 0 0 #cf222e}
.gfy tr.destructive .op{font-weight:700}
.gfy code.op{white-space:nowrap}
.gfy table.byop td:nth-child(3),.gfy table.quotas td:nth-child(2),
.gfy table.quotas td:nth-child(3),.gfy table.quotas td:nth-child(4){text-align:right;
font-variant-numeric:tabular-nums}
.gfy details>summary{cursor:pointer;font-weight:600;margin:6px 0}
.gfy table.signoff td{height:30px}
.gfy footer{margin-top:36px;padding-top:8px;border-top:1px solid #d1d9e0;font-size:12px;
color:#59636e}
@media print{.gfy{padding:0;max-width:none;font-size:9.5pt}.gfy nav{display:none}
.gfy table{font-size:8.5pt}.gfy code,.gfy pre{font-size:8pt}.gfy h1{font-size:17pt}
.gfy h2{font-size:13pt}
.gfy h2{break-after:avoid}.gfy h3{break-after:avoid}}
"""

_PAGE_CSS = "@page{size:A4;margin:14mm 12mm}body{margin:0}"


def _ul(items: Iterable[str], cls: str = "") -> str:
    """A list of already-escaped HTML items."""
    attr = f' class="{cls}"' if cls else ""
    return f"<ul{attr}>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>"


def _code(text: str) -> str:
    return f"<code>{esc(text)}</code>"


def _arn(arn: str) -> str:
    """An ARN as code that a narrow column (or paper) breaks after a slash."""
    return "<code>" + esc(arn).replace("/", "/<wbr>") + "</code>"


def _names(names: Sequence[str]) -> str:
    if not names:
        return '<span class="muted">none</span>'
    return '<span class="names">' + ", ".join(esc(n) for n in names) + "</span>"


def _h2(anchor: str, title: str) -> str:
    return f'<h2 id="{anchor}">{esc(title)}</h2>'


_SECTIONS = (
    ("scope", "1. Scope"),
    ("verification", "2. Verification"),
    ("exceptions", "3. Documented exceptions"),
    ("groups", "4. Groups"),
    ("users", "5. Users in scope"),
    ("quotas", "6. Quota headroom"),
    ("steps", "7. Steps"),
    ("rollback", "8. Rollback"),
    ("signoff", "9. Sign-off"),
    ("documents", "Appendix A. Inline policy documents"),
)


def _html_scope(f: _Facts) -> str:
    s = f.summary
    rows: list[tuple[str, object]] = [
        ("Account", f.account_id),
        ("Plan fingerprint", f.fingerprint),
        ("Plan checksum", f.checksum),
        ("Strategy", f.strategy),
        ("Users in scope", f"{s['users_migrated']} (their direct policies are removed)"),
        ("Users exempt", f"{len(f.exceptions)} (documented exceptions, not touched)"),
        ("Groups created", len(f.new_groups)),
        ("Existing groups reused", f"{len(f.reused_groups)} (unchanged; members added)"),
        ("Policies created", f"{s['policies_created']} customer-managed, under /groupify/"),
        ("Steps", f"{len(f.steps)} IAM calls (by call below; each one in section 7)"),
        ("Destructive steps", f"{f.destructive} (each removes a direct policy from a user)"),
        ("Plan written by", f.generator),
        ("Report rendered by", f.renderer),
    ]
    ops = Counter(st.op for st in f.steps)
    op_rows = [
        (
            _code(op),
            esc(_OP_MEANING[op]),
            ops[op],
            badge("destructive", "danger")
            if op in ("detach_user_policy", "delete_user_policy")
            else "",
        )
        for op in OPS
        if ops[op]
    ]
    return (
        _h2("scope", "1. Scope")
        + kv_table(rows)
        + "<h3>Steps by IAM call</h3>"
        + table(
            ["IAM call", "what it does", "steps", "removes access"],
            op_rows,
            raw=(0, 1, 3),
            cls="groupify byop",
        )
    )


def _html_verification(f: _Facts) -> str:
    return (
        _h2("verification", "2. Verification")
        + '<div class="callout">'
        + f"<p><strong>Verified.</strong> {_verification_intro(f, _code)}</p>"
        + _ul(_verification(f))
        + f"<p>{_verification_after(f, _code)}</p></div>"
    )


def _html_exceptions(f: _Facts) -> str:
    out = _h2("exceptions", "3. Documented exceptions")
    if not f.exceptions:
        return out + (
            "<p>None: every user with a direct policy is in scope, so IAM.2 passes for every "
            "user once the plan is applied.</p>"
        )
    out += (
        '<div class="callout warn"><p><strong>IAM.2 stays failing for '
        f"{_plural(len(f.exceptions), 'user')}.</strong> They keep their direct policies and "
        "are never touched by the plan. Record each as a documented exception to the control "
        "(for example, a Security Hub suppression citing the reason below).</p></div>"
    )
    rows = [(esc(e.user), esc(e.reason), _names(e.keeps) if e.keeps else "") for e in f.exceptions]
    return out + table(["user", "reason", "direct policies kept"], rows, raw=(0, 1, 2))


def _html_policy(p: _Policy) -> str:
    return f'{esc(p.name)}<span class="kind">{esc(p.kind)}</span>'


def _html_groups(f: _Facts) -> str:
    out = _h2("groups", "4. Groups")
    if not f.groups:
        return out + "<p>No group is needed.</p>"
    out += (
        f"<p>{_plural(len(f.new_groups), 'new group')} and "
        f"{_plural(len(f.reused_groups), 'existing group')} reused unchanged (groupify never "
        "changes an existing group's policies; it reuses one only when its policies equal a "
        "needed set exactly).</p>"
    )
    rows = []
    for g in f.groups:
        state = badge("existing, reused unchanged", "muted") if g.existing else badge("new", "info")
        rows.append(
            (
                f"<strong>{esc(g.name)}</strong><br>{state}",
                f'<span class="muted small">{_plural(len(g.members), "member")}</span><br>'
                + _names(g.members),
                _ul((_html_policy(p) for p in g.policies), "plain"),
                esc(g.reason) or '<span class="muted">no reason recorded</span>',
            )
        )
    return out + table(["group", "members", "policies", "why it exists"], rows, raw=(0, 1, 2, 3))


def _html_users(f: _Facts) -> str:
    out = _h2("users", "5. Users in scope")
    if not f.in_scope:
        return out + "<p>No user is in scope.</p>"
    out += (
        f"<p>{_plural(len(f.in_scope), 'user')} join groups first; only then are their direct "
        "policies removed.</p>"
    )
    rows = [
        (
            f'<span class="nowrap">{esc(u.name)}</span>',
            _names(u.groups_now),
            _names(u.joins),
            _names(u.removes),
        )
        for u in f.in_scope
    ]
    return out + table(
        ["user", "groups now", "joins", "direct policies removed"], rows, raw=(0, 1, 2, 3)
    )


def _html_quotas(f: _Facts) -> str:
    rows = []
    for q in f.quotas:
        if q.reached is None:
            used = '<span class="muted">not used</span>'
        else:
            pct = min(100, round(100 * q.share))
            used = (
                f'<span class="bar{" near" if _near(q) else ""}"><span style="width:{pct}%">'
                f"</span></span>{pct}%"
                + (" " + badge("near the limit", "warn") if _near(q) else "")
            )
        rows.append(
            (
                f"{esc(q.label)}<span class='kind'>{esc(q.key)}</span>",
                f"{q.limit:,}",
                "" if q.reached is None else f"{q.reached:,}",
                "" if q.headroom is None else f"{q.headroom:,}",
                f'<span class="nowrap">{used}</span>',
                esc(q.where),
            )
        )
    return (
        _h2("quotas", "6. Quota headroom")
        + "<p>The highest value each IAM quota reaches once the plan is applied, against the "
        "account's limit (read from GetAccountSummary by a live scan, IAM's defaults for a "
        "file, or as overridden with --quota).</p>"
        + table(
            ["quota", "limit", "plan reaches", "headroom", "used", "where"],
            rows,
            raw=(0, 4),
            cls="groupify quotas",
        )
    )


def _html_step_row(step: Step) -> str:
    items = []
    for label, value in _details(step):
        text = _arn(value) if value.startswith("arn:") else esc(value)
        items.append(f'<span class="muted">{esc(label)}</span> {text}' if label else text)
    mark = badge("destructive", "danger") if step.is_destructive else ""
    cls = ' class="destructive"' if step.is_destructive else ""
    return (
        f"<tr{cls}><td class='nowrap'>{esc(step.id)}</td>"
        f"<td><code class='op'>{esc(step.op)}</code></td>"
        f"<td>{esc(_target(step))}</td><td>{'<br>'.join(items)}</td>"
        f"<td>{esc(_after(step.after))}</td><td>{mark}</td></tr>"
    )


def _html_steps(f: _Facts) -> str:
    out = _h2("steps", "7. Steps")
    if not f.steps:
        return out + "<p>The plan has no step: nothing to change.</p>"
    out += (
        f"<p>{_plural(len(f.steps), 'step')}, each one IAM call named as in boto3 (the plan file "
        "holds the exact parameters; <code>Step.cli()</code> gives the AWS CLI line). A step "
        "runs only after the steps in its <em>after</em> column. Rows marked "
        f"{badge('destructive', 'danger')} remove a direct policy from a user "
        f"({f.destructive} of them); each runs after the group route that replaces it.</p>"
    )
    head = "".join(
        f"<th>{h}</th>"
        for h in ("step", "IAM call", "target", "details", "after", "removes access")
    )
    body = "".join(
        f'<tbody><tr class="segment"><th colspan="6">{_segment_title(seg, esc)}</th></tr>'
        + "".join(_html_step_row(s) for s in seg.steps)
        + "</tbody>"
        for seg in f.segments
    )
    full = (
        '<table class="groupify steps"><colgroup><col style="width:5%"><col style="width:17%">'
        '<col style="width:15%"><col style="width:41%"><col style="width:11%">'
        f'<col style="width:11%"></colgroup><thead><tr>{head}</tr></thead>{body}</table>'
    )
    title = (
        f"All {len(f.steps)} steps in execution order, grouped by group and user "
        f"({f.destructive} destructive)"
    )
    return out + details(title, full, open_=True)


def _html_rollback(f: _Facts) -> str:
    dry, real = f.rollback_commands
    reused = [g.name for g in f.reused_groups]
    kept = (
        f"<p>Existing groups reused by this plan, which rollback leaves in place: "
        f"{_names(reused)}.</p>"
        if reused
        else ""
    )
    return (
        _h2("rollback", "8. Rollback")
        + f"<p>{_rollback_intro(f, _code)}</p>"
        + f"<pre>{esc(dry)}\n{esc(real)}</pre>"
        + "<p>Rollback:</p>"
        + _ul(_rollback_does(_code))
        + "<p>Rollback does not:</p>"
        + _ul(_ROLLBACK_DOES_NOT)
        + f"<p>{_rollback_calls(f, _code)}</p>"
        + kept
        + '<p class="muted small">Rollback needs the permissions in the GroupifyRollback '
        "statements of docs/permissions.md.</p>"
    )


def _html_signoff() -> str:
    rows = "".join(f"<tr><th>{esc(label)}</th><td></td></tr>" for label in _SIGN_OFF)
    return (
        _h2("signoff", "9. Sign-off")
        + f'<table class="groupify summary signoff"><tbody>{rows}</tbody></table>'
    )


def _html_documents(f: _Facts) -> str:
    out = _h2("documents", "Appendix A. Inline policy documents")
    if not f.documents:
        return out + "<p>The plan puts no inline document on a group.</p>"
    out += (
        "<p>The inline documents the plan embeds in (or turns into managed policies for) new "
        "groups, exactly as the users hold them today.</p>"
    )
    for d in f.documents:
        out += (
            f"<h3>{esc(d.name)} <span class='muted small'>{esc(d.ident)} · "
            f"for {esc(', '.join(d.groups))}</span></h3><pre>{esc(d.text)}</pre>"
        )
    return out


def render_html(
    plan: Plan,
    *,
    plan_path: str = "plan.json",
    generator: str | None = None,
    checksum: str | None = None,
    standalone: bool = True,
) -> str:
    """The plan's change-approval report as one self-contained HTML document.

    *plan_path* is the plan file's name, used in the commands the report
    gives (the journal is ``PLAN.journal``). *generator* and *checksum* are
    the plan file's ``generator`` and ``checksum``; by default, those the plan
    was loaded with, or else those this groupify would write for *plan*. With
    *standalone* false the result is a fragment (a ``<div>`` with its own
    scoped style) for a notebook.

    Raises :class:`~groupify.PlanVerificationError` if the plan is unsafe:
    the report's verification statement is made only after it passes again.
    """
    f = _facts(plan, plan_path=plan_path, generator=generator, checksum=checksum)
    nav = " ".join(f'<a href="#{anchor}">{esc(title)}</a>' for anchor, title in _SECTIONS)
    body = (
        '<div class="gfy">'
        "<header>"
        '<p class="eyebrow">Change-approval report · Security Hub IAM.2 '
        "(iam-user-no-policies-check)</p>"
        f"<h1>Move IAM users to job-function groups in account {esc(f.account_id)}</h1>"
        f'<p class="lede">{_lede(f)}</p>'
        f"<nav>{nav}</nav>"
        "</header>"
        + _html_scope(f)
        + _html_verification(f)
        + _html_exceptions(f)
        + _html_groups(f)
        + _html_users(f)
        + _html_quotas(f)
        + _html_steps(f)
        + _html_rollback(f)
        + _html_signoff()
        + _html_documents(f)
        + f"<footer>Rendered by {esc(f.renderer)} from {esc(f.plan_path)} (plan fingerprint "
        f"{esc(f.fingerprint)}). The plan file is the record of what will run; this report "
        "describes it.</footer></div>"
    )
    if not standalone:
        return f"<style>{_CSS}</style>{body}"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>groupify plan {esc(f.account_id)}: change-approval report</title>"
        f"<style>{_PAGE_CSS}{_CSS}</style></head><body>{body}</body></html>\n"
    )


# -- Markdown ----------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_\[\]{}|#~!])")


def _md(text: str) -> str:
    """*text* as Markdown prose: HTML and Markdown syntax escaped, on one line."""
    text = " ".join(str(text).split())
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", text)


def _mdcode(text: str) -> str:
    """*text* as an inline code span, safe in a table cell."""
    text = " ".join(str(text).split()).replace("|", "\\|")
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or longest else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _mdnames(names: Sequence[str]) -> str:
    return ", ".join(_mdcode(n) for n in names) if names else "none"


def _mdtable(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """A GFM table of cells that are already Markdown."""
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return [*out, ""]


def _fence(text: str, info: str = "") -> list[str]:
    longest = max((len(m) for m in re.findall(r"`{3,}", text)), default=2)
    fence = "`" * (longest + 1)
    return [fence + info, text, fence, ""]


def render_markdown(
    plan: Plan,
    *,
    plan_path: str = "plan.json",
    generator: str | None = None,
    checksum: str | None = None,
) -> str:
    """The plan's change-approval report as Markdown (GitHub-flavoured tables).

    The same facts as :func:`render_html`, for a ticket or a pull request.
    Arguments as for :func:`render_html`.
    """
    f = _facts(plan, plan_path=plan_path, generator=generator, checksum=checksum)
    s = f.summary
    ops = Counter(st.op for st in f.steps)
    out: list[str] = [
        f"# Move IAM users to job-function groups in account {_md(f.account_id)}",
        "",
        "*Change-approval report · Security Hub IAM.2 (iam-user-no-policies-check)*",
        "",
        _lede(f),
        "",
        "## 1. Scope",
        "",
    ]
    out += _mdtable(
        ["", ""],
        [
            ("Account", _mdcode(f.account_id)),
            ("Plan fingerprint", _mdcode(f.fingerprint)),
            ("Plan checksum", _mdcode(f.checksum)),
            ("Strategy", _md(f.strategy)),
            ("Users in scope", f"{s['users_migrated']} (their direct policies are removed)"),
            ("Users exempt", f"{len(f.exceptions)} (documented exceptions, not touched)"),
            ("Groups created", str(len(f.new_groups))),
            ("Existing groups reused", f"{len(f.reused_groups)} (unchanged; members added)"),
            ("Policies created", f"{s['policies_created']} customer-managed, under /groupify/"),
            ("Steps", f"{len(f.steps)} IAM calls (by call below; each one in section 7)"),
            (
                "Destructive steps",
                f"**{f.destructive} DESTRUCTIVE** (each removes a direct policy from a user)",
            ),
            ("Plan written by", _md(f.generator)),
            ("Report rendered by", _md(f.renderer)),
        ],
    )
    out += ["### Steps by IAM call", ""]
    out += _mdtable(
        ["IAM call", "what it does", "steps", "removes access"],
        [
            (
                _mdcode(op),
                _md(_OP_MEANING[op]),
                str(ops[op]),
                "**DESTRUCTIVE**" if op in ("detach_user_policy", "delete_user_policy") else "",
            )
            for op in OPS
            if ops[op]
        ],
    )

    out += ["## 2. Verification", "", f"**Verified.** {_verification_intro(f, _mdcode)}", ""]
    out += [f"- {line}" for line in _verification(f)]
    out += ["", _verification_after(f, _mdcode), ""]

    out += ["## 3. Documented exceptions", ""]
    if f.exceptions:
        out += [
            f"> **IAM.2 stays failing for {_plural(len(f.exceptions), 'user')}.** They keep "
            "their direct policies and are never touched by the plan. Record each as a "
            "documented exception to the control (for example, a Security Hub suppression "
            "citing the reason below).",
            "",
        ]
        out += _mdtable(
            ["user", "reason", "direct policies kept"],
            [(_mdcode(e.user), _md(e.reason), _mdnames(e.keeps)) for e in f.exceptions],
        )
    else:
        out += [
            "None: every user with a direct policy is in scope, so IAM.2 passes for every user "
            "once the plan is applied.",
            "",
        ]

    out += ["## 4. Groups", ""]
    if not f.groups:
        out += ["No group is needed.", ""]
    else:
        out += [
            f"{_plural(len(f.new_groups), 'new group')} and "
            f"{_plural(len(f.reused_groups), 'existing group')} reused unchanged (groupify never "
            "changes an existing group's policies; it reuses one only when its policies equal a "
            "needed set exactly).",
            "",
        ]
    for g in f.groups:
        state = "existing, reused unchanged" if g.existing else "new"
        out += [
            f"### {_mdcode(g.name)} ({state})",
            "",
            f"- **Why it exists:** {_md(g.reason) or 'no reason recorded'}",
            f"- **Members ({len(g.members)}):** {_mdnames(g.members)}",
            "",
        ]
        out += _mdtable(
            ["policy", "kind", "id"],
            [(_mdcode(p.name), _md(p.kind), _mdcode(p.ident)) for p in g.policies],
        )

    out += ["## 5. Users in scope", ""]
    if f.in_scope:
        out += _mdtable(
            ["user", "groups now", "joins", "direct policies removed"],
            [
                (_mdcode(u.name), _mdnames(u.groups_now), _mdnames(u.joins), _mdnames(u.removes))
                for u in f.in_scope
            ],
        )
    else:
        out += ["No user is in scope.", ""]

    out += [
        "## 6. Quota headroom",
        "",
        "The highest value each IAM quota reaches once the plan is applied, against the "
        "account's limit.",
        "",
    ]
    out += _mdtable(
        ["quota", "limit", "plan reaches", "headroom", "used", "where"],
        [
            (
                f"{_md(q.label)} ({_mdcode(q.key)})",
                f"{q.limit:,}",
                "" if q.reached is None else f"{q.reached:,}",
                "" if q.headroom is None else f"{q.headroom:,}",
                "not used"
                if q.reached is None
                else f"{round(100 * q.share)}%" + (" **near the limit**" if _near(q) else ""),
                _md(q.where),
            )
            for q in f.quotas
        ],
    )

    out += ["## 7. Steps", ""]
    if not f.steps:
        out += ["The plan has no step: nothing to change.", ""]
    else:
        out += [
            f"{_plural(len(f.steps), 'step')} in execution order. A step runs only after the "
            f"steps in its *after* column. Steps marked **DESTRUCTIVE** remove a direct policy "
            f"from a user ({f.destructive} of them); each runs after the group route that "
            "replaces it.",
            "",
        ]
    for seg in f.segments:
        out += [f"**{_segment_title(seg, _mdcode)}**", ""]
        rows = []
        for st in seg.steps:
            detail = "; ".join(
                (f"{_md(label)} " if label else "")
                + (_mdcode(value) if value.startswith("arn:") else _md(value))
                for label, value in _details(st)
            )
            rows.append(
                (
                    _md(st.id),
                    _mdcode(st.op),
                    _mdcode(_target(st)),
                    detail,
                    _md(_after(st.after)),
                    "**DESTRUCTIVE**" if st.is_destructive else "",
                )
            )
        out += _mdtable(["step", "IAM call", "target", "details", "after", "removes access"], rows)

    dry, real = f.rollback_commands
    out += ["## 8. Rollback", "", _rollback_intro(f, _mdcode), ""]
    out += _fence(f"{dry}\n{real}", "sh")
    out += ["Rollback:", ""] + [f"- {x}" for x in _rollback_does(_mdcode)] + [""]
    out += ["Rollback does not:", ""] + [f"- {x}" for x in _ROLLBACK_DOES_NOT] + [""]
    out += [_rollback_calls(f, _mdcode), ""]
    if f.reused_groups:
        out += [
            "Existing groups reused by this plan, which rollback leaves in place: "
            f"{_mdnames([g.name for g in f.reused_groups])}.",
            "",
        ]

    out += ["## 9. Sign-off", ""]
    out += _mdtable(["", ""], [(label, " ") for label in _SIGN_OFF])

    out += ["## Appendix A. Inline policy documents", ""]
    if not f.documents:
        out += ["The plan puts no inline document on a group.", ""]
    for d in f.documents:
        out += [f"### {_mdcode(d.name)} ({_mdcode(d.ident)}, for {_mdnames(d.groups)})", ""]
        out += _fence(d.text, "json")
    out += [
        "---",
        "",
        f"*Rendered by {_md(f.renderer)} from {_mdcode(f.plan_path)} (plan fingerprint "
        f"{_mdcode(f.fingerprint)}). The plan file is the record of what will run; this report "
        "describes it.*",
    ]
    return "\n".join(out) + "\n"
