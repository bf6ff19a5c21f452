"""The change-approval report as one self-contained HTML file.

Inline CSS (print-ready, A4), no script and no external resource, so the file
can be attached to a change ticket and read offline. Everything that comes
from the account or from a reviewer is escaped with :func:`~groupify._html.esc`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from groupify._html import badge, details, esc, kv_table, table
from groupify.plan.model import Plan
from groupify.plan.ops import OPS, PLAN_OPS
from groupify.plan.steps import Step
from groupify.report.facts import (
    REMOVES,
    ROLLBACK_DOES_NOT,
    ROLLBACK_DRIFT,
    SIGN_OFF,
    Facts,
    Policy,
    after,
    control_intro,
    facts,
    lede,
    near,
    plural,
    risk_intro,
    roles_intro,
    rollback_calls,
    rollback_does,
    rollback_intro,
    segment_title,
    step_details,
    target,
    verification,
    verification_after,
    verification_intro,
)

__all__ = ["render_html"]

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
.gfy th,.gfy td{border:1px solid #d1d9e0;padding:5px 8px;text-align:left!important;
vertical-align:top!important}
.gfy thead th{background:#f6f8fa;font-weight:600;white-space:nowrap}
.gfy thead{display:table-header-group}
.gfy tr{break-inside:avoid}
.gfy table.summary{width:auto;min-width:64%}
.gfy table.summary th{background:#f6f8fa;font-weight:600;width:15em;white-space:nowrap}
.gfy code,.gfy pre{font-family:ui-monospace,SFMono-Regular,"SF Mono",Menlo,Consolas,
"Liberation Mono",monospace;font-size:12px}
.gfy td code{overflow-wrap:anywhere}
.gfy td code.nowrap{white-space:nowrap;overflow-wrap:normal}
.gfy pre{background:#f6f8fa;border:1px solid #d1d9e0;border-radius:6px;padding:9px 12px;
margin:6px 0 12px;white-space:pre-wrap;overflow-wrap:anywhere}
.gfy .callout{border:1px solid #d1d9e0;border-left:4px solid #1a7f37;border-radius:6px;
padding:8px 14px;margin:10px 0 14px}
.gfy .callout.warn{border-left-color:#9a6700}
.gfy .callout p:first-child{margin-top:2px}
.gfy .muted{color:#59636e}
.gfy .small{font-size:12px}
.gfy .num{text-align:right!important;font-variant-numeric:tabular-nums;white-space:nowrap}
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
.gfy tr.removal td{background:#fff8f8}
.gfy tr.removal td:first-child{box-shadow:inset 3px 0 0 #cf222e}
.gfy tr.removal .op{font-weight:700}
.gfy code.op{white-space:nowrap}
.gfy table.byop td:nth-child(3),.gfy table.quotas td:nth-child(2),
.gfy table.quotas td:nth-child(3),.gfy table.quotas td:nth-child(4){text-align:right!important;
font-variant-numeric:tabular-nums}
.gfy details>summary{cursor:pointer;font-weight:600;margin:6px 0}
.gfy table.signoff td{height:30px}
.gfy footer{margin-top:36px;padding-top:8px;border-top:1px solid #d1d9e0;font-size:12px;
color:#59636e}
@media print{.gfy{padding:0;max-width:none;font-size:9.5pt}.gfy nav{display:none}
.gfy table{font-size:8.5pt}.gfy code,.gfy pre{font-size:8pt}.gfy h1{font-size:17pt}
.gfy h2{font-size:13pt}
.gfy h2{break-after:avoid}.gfy h3{break-after:avoid}
.gfy td code.nowrap{white-space:normal;overflow-wrap:anywhere}}
"""

_PAGE_CSS = "@page{size:A4;margin:14mm 12mm}body{margin:0}"

# Alignment is !important: in a notebook (standalone=False) the front end's own table
# style is more specific (JupyterLab right-aligns every cell); text left, numbers right.


def _ul(items: Iterable[str], cls: str = "") -> str:
    """A list of already-escaped HTML items."""
    attr = f' class="{cls}"' if cls else ""
    return f"<ul{attr}>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>"


def _code(text: str) -> str:
    return f"<code>{esc(text)}</code>"


def _name(name: str) -> str:
    """A name as code kept on one line (a group name breaks at its hyphens otherwise)."""
    return f'<code class="nowrap">{esc(name)}</code>'


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
    ("risk", "2. Risk review"),
    ("verification", "3. Verification"),
    ("exceptions", "4. Documented exceptions"),
    ("groups", "5. Groups"),
    ("users", "6. Users in scope"),
    ("quotas", "7. Quota headroom"),
    ("steps", "8. Steps"),
    ("rollback", "9. Rollback"),
    ("signoff", "10. Sign-off"),
    ("documents", "Appendix A. Inline policy documents"),
)


def _html_scope(f: Facts) -> str:
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
        ("Steps", f"{len(f.steps)} IAM calls (by call below; each one in section 8)"),
        (
            "Steps that remove a direct grant",
            f"{badge(str(f.removals), 'danger')} each replaced by a group, and run only after "
            "it is in place",
        ),
        *f.timestamps,
        *(
            [("Estimated apply time", f"{f.estimate.text} (an estimate: see below)")]
            if f.estimate
            else []
        ),
        ("Plan written by", f.generator),
        ("Report rendered by", f.renderer),
    ]
    ops = Counter(st.op for st in f.steps)
    op_rows = [
        (
            _code(op),
            esc(OPS[op].meaning),
            ops[op],
            badge("yes", "danger") if OPS[op].removes_direct else "",
        )
        for op in PLAN_OPS
        if ops[op]
    ]
    return (
        _h2("scope", "1. Scope")
        + kv_table(rows, raw=[i for i, (k, _) in enumerate(rows) if k.startswith("Steps that")])
        + "<h3>Steps by IAM call</h3>"
        + table(
            ["IAM call", "what it does", "steps", REMOVES],
            op_rows,
            raw=(0, 1, 3),
            cls="groupify byop",
        )
        + _html_estimate(f)
    )


def _html_estimate(f: Facts) -> str:
    if f.estimate is None:
        return ""
    return (
        f"<h3>Estimated apply time: {esc(f.estimate.text)}</h3>"
        "<p>An estimate from the plan's calls, not a promise. It assumes:</p>"
        + _ul(esc(line) for line in f.estimate.assumptions())
    )


def _html_verification(f: Facts) -> str:
    return (
        _h2("verification", "3. Verification")
        + '<div class="callout">'
        + f"<p><strong>Verified.</strong> {verification_intro(f, _code)}</p>"
        + _ul(verification(f))
        + f"<p>{verification_after(f, _code)}</p></div>"
    )


def _html_risk(f: Facts) -> str:
    out = _h2("risk", "2. Risk review")
    # Amber where something is flagged, like the exceptions callout; green where not.
    cls = "callout warn" if f.risks or f.accepted else "callout"
    out += f'<div class="{cls}"><p>{esc(risk_intro(f))}</p></div>'
    if f.risks:
        rows = [
            (
                esc(r.subject),
                f"<strong>{esc(r.name)}</strong>",
                _names(r.members),
                _ul([f"<strong>{esc(x.kind)}</strong>: {esc(x.detail)}" for x in r.flags]),
            )
            for r in f.risks
        ]
        out += table(["", "name", "members", "why"], rows, raw=(0, 1, 2, 3))
    out += f"<p>{esc(roles_intro(f))}</p>"
    if f.roles:
        out += _ul([esc(line) for line in f.roles])
    out += f"<p>{esc(control_intro(f))}</p>"
    if f.accepted:
        out += _ul([f"<code>{esc(x.id)}</code>: {esc(x.why)}" for x in f.accepted])
    return out


def _html_exceptions(f: Facts) -> str:
    out = _h2("exceptions", "4. Documented exceptions")
    if not f.exceptions:
        return out + (
            "<p>None: every user with a direct policy is in scope, so IAM.2 passes for every "
            "user once the plan is applied.</p>"
        )
    out += (
        '<div class="callout warn"><p><strong>IAM.2 stays failing for '
        f"{plural(len(f.exceptions), 'user')}.</strong> They keep their direct policies and "
        "are never touched by the plan. Record each as a documented exception to the control "
        "(for example, a Security Hub suppression citing the reason below).</p></div>"
    )
    rows = [(esc(e.user), esc(e.reason), _names(e.keeps) if e.keeps else "") for e in f.exceptions]
    return out + table(["user", "reason", "direct policies kept"], rows, raw=(0, 1, 2))


def _html_policy(p: Policy) -> str:
    return f'{esc(p.name)}<span class="kind">{esc(p.kind)}</span>'


def _html_groups(f: Facts) -> str:
    out = _h2("groups", "5. Groups")
    if not f.groups:
        return out + "<p>No group is needed.</p>"
    out += (
        f"<p>{plural(len(f.new_groups), 'new group')} and "
        f"{plural(len(f.reused_groups), 'existing group')} reused unchanged (groupify never "
        "changes an existing group's policies; it reuses one only when its policies equal a "
        "needed set exactly).</p>"
    )
    rows = []
    for g in f.groups:
        state = badge("existing, reused unchanged", "muted") if g.existing else badge("new", "info")
        rows.append(
            (
                f"<strong>{esc(g.name)}</strong><br>{state}",
                f'<span class="muted small">{plural(len(g.members), "member")}</span><br>'
                + _names(g.members),
                _ul((_html_policy(p) for p in g.policies), "plain"),
                esc(g.reason) or '<span class="muted">no reason recorded</span>',
            )
        )
    return out + table(["group", "members", "policies", "why it exists"], rows, raw=(0, 1, 2, 3))


def _html_users(f: Facts) -> str:
    out = _h2("users", "6. Users in scope")
    if not f.in_scope:
        return out + "<p>No user is in scope.</p>"
    out += (
        f"<p>{plural(len(f.in_scope), 'user')} join groups first; only then are their direct "
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


def _html_quotas(f: Facts) -> str:
    rows = []
    for q in f.quotas:
        if q.reached is None:
            used = '<span class="muted">not used</span>'
        else:
            pct = min(100, round(100 * q.share))
            used = (
                f'<span class="bar{" near" if near(q) else ""}"><span style="width:{pct}%">'
                f"</span></span>{pct}%" + (" " + badge("near the limit", "warn") if near(q) else "")
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
        _h2("quotas", "7. Quota headroom")
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


def _html_step_row(f: Facts, step: Step) -> str:
    items = []
    for label, value in step_details(step):
        text = _arn(value) if value.startswith("arn:") else esc(value)
        items.append(f'<span class="muted">{esc(label)}</span> {text}' if label else text)
    mark = f"{badge('yes', 'danger')} {f.replacing(step, _name)}" if step.is_destructive else ""
    cls = ' class="removal"' if step.is_destructive else ""
    return (
        f"<tr{cls}><td class='nowrap'>{esc(step.id)}</td>"
        f"<td><code class='op'>{esc(step.op)}</code></td>"
        f"<td>{esc(target(step))}</td><td>{'<br>'.join(items)}</td>"
        f"<td>{esc(after(step.after))}</td><td>{mark}</td></tr>"
    )


def _html_steps(f: Facts) -> str:
    out = _h2("steps", "8. Steps")
    if not f.steps:
        return out + "<p>The plan has no step: nothing to change.</p>"
    out += (
        f"<p>{plural(len(f.steps), 'step')}, each one IAM call named as in boto3 (the plan file "
        "holds the exact parameters; <code>Step.cli()</code> gives the AWS CLI line). A step "
        "runs only after the steps in its <em>after</em> column. Rows marked "
        f"{badge('yes', 'danger')} in the last column remove a direct grant ({f.removals} of "
        "them): each takes a policy off a user only after the group named there gives the "
        "user the same policy.</p>"
    )
    head = "".join(
        f"<th>{h}</th>" for h in ("step", "IAM call", "target", "details", "after", REMOVES)
    )
    body = "".join(
        f'<tbody><tr class="segment"><th colspan="6">{segment_title(seg, esc)}</th></tr>'
        + "".join(_html_step_row(f, s) for s in seg.steps)
        + "</tbody>"
        for seg in f.segments
    )
    full = (
        '<table class="groupify steps"><colgroup><col style="width:5%"><col style="width:17%">'
        '<col style="width:13%"><col style="width:33%"><col style="width:8%">'
        f'<col style="width:24%"></colgroup><thead><tr>{head}</tr></thead>{body}</table>'
    )
    title = (
        f"All {len(f.steps)} steps in execution order, grouped by group and user "
        f"({f.removals} remove a direct grant)"
    )
    return out + details(title, full, open_=True)


def _html_rollback(f: Facts) -> str:
    dry, real = f.rollback_commands
    reused = [g.name for g in f.reused_groups]
    kept = (
        f"<p>Existing groups reused by this plan, which rollback leaves in place: "
        f"{_names(reused)}.</p>"
        if reused
        else ""
    )
    return (
        _h2("rollback", "9. Rollback")
        + f"<p>{rollback_intro(f, _code)}</p>"
        + f"<pre>{esc(dry)}\n{esc(real)}</pre>"
        + "<p>Rollback:</p>"
        + _ul(rollback_does(_code))
        + "<p>Rollback does not:</p>"
        + _ul(ROLLBACK_DOES_NOT)
        + f"<p>{esc(ROLLBACK_DRIFT)}</p>"
        + f"<p>{rollback_calls(f, _code)}</p>"
        + kept
        + '<p class="muted small">Rollback needs the permissions in the GroupifyRollback '
        "statements of docs/permissions.md.</p>"
    )


def _html_signoff() -> str:
    rows = "".join(f"<tr><th>{esc(label)}</th><td></td></tr>" for label in SIGN_OFF)
    return (
        _h2("signoff", "10. Sign-off")
        + f'<table class="groupify summary signoff"><tbody>{rows}</tbody></table>'
    )


def _html_documents(f: Facts) -> str:
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
    f = facts(plan, plan_path=plan_path, generator=generator, checksum=checksum)
    nav = " ".join(f'<a href="#{anchor}">{esc(title)}</a>' for anchor, title in _SECTIONS)
    body = (
        '<div class="gfy">'
        "<header>"
        '<p class="eyebrow">Change-approval report · Security Hub IAM.2 '
        "(iam-user-no-policies-check)</p>"
        f"<h1>Move IAM users to job-function groups in account {esc(f.account_id)}</h1>"
        f'<p class="lede">{lede(f)}</p>'
        f"<nav>{nav}</nav>"
        "</header>"
        + _html_scope(f)
        + _html_risk(f)
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
