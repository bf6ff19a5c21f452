"""The change-approval report as Markdown, from the same facts as the HTML one."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

from groupify.plan.model import Plan
from groupify.plan.ops import OPS, PLAN_OPS
from groupify.report.facts import (
    REMOVES,
    ROLLBACK_DOES_NOT,
    ROLLBACK_DRIFT,
    SIGN_OFF,
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

__all__ = ["render_markdown"]

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
    f = facts(plan, plan_path=plan_path, generator=generator, checksum=checksum)
    s = f.summary
    ops = Counter(st.op for st in f.steps)
    out: list[str] = [
        f"# Move IAM users to job-function groups in account {_md(f.account_id)}",
        "",
        "*Change-approval report · Security Hub IAM.2 (iam-user-no-policies-check)*",
        "",
        lede(f),
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
            ("Steps", f"{len(f.steps)} IAM calls (by call below; each one in section 8)"),
            (
                "Steps that remove a direct grant",
                f"**{f.removals}** (each replaced by a group, and run only after it is in place)",
            ),
            *((label, _md(value)) for label, value in f.timestamps),
            *(
                [("Estimated apply time", f"{_md(f.estimate.text)} (an estimate: see below)")]
                if f.estimate
                else []
            ),
            ("Plan written by", _md(f.generator)),
            ("Report rendered by", _md(f.renderer)),
        ],
    )
    out += ["### Steps by IAM call", ""]
    out += _mdtable(
        ["IAM call", "what it does", "steps", REMOVES],
        [
            (
                _mdcode(op),
                _md(OPS[op].meaning),
                str(ops[op]),
                "**yes**" if OPS[op].removes_direct else "",
            )
            for op in PLAN_OPS
            if ops[op]
        ],
    )
    if f.estimate is not None:
        out += [
            f"### Estimated apply time: {_md(f.estimate.text)}",
            "",
            "An estimate from the plan's calls, not a promise. It assumes:",
            "",
            *(f"- {_md(line)}" for line in f.estimate.assumptions()),
            "",
        ]

    out += [
        "## 2. Risk review",
        "",
        ("> **" if f.risks else "") + _md(risk_intro(f)) + ("**" if f.risks else ""),
        "",
    ]
    if f.risks:
        out += _mdtable(
            ["", "name", "members", "why"],
            [
                (
                    _md(r.subject),
                    _mdcode(r.name),
                    _mdnames(r.members),
                    "; ".join(f"**{_md(x.kind)}**: {_md(x.detail)}" for x in r.flags),
                )
                for r in f.risks
            ],
        )
    out += [_md(roles_intro(f)), ""]
    if f.roles:
        out += [*(f"- {_md(line)}" for line in f.roles), ""]
    out += [_md(control_intro(f)), ""]
    out += [f"- {_mdcode(x.id)}: {_md(x.why)}" for x in f.accepted]
    if f.accepted:
        out += [""]

    out += ["## 3. Verification", "", f"**Verified.** {verification_intro(f, _mdcode)}", ""]
    out += [f"- {line}" for line in verification(f)]
    out += ["", verification_after(f, _mdcode), ""]

    out += ["## 4. Documented exceptions", ""]
    if f.exceptions:
        out += [
            f"> **IAM.2 stays failing for {plural(len(f.exceptions), 'user')}.** They keep "
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

    out += ["## 5. Groups", ""]
    if not f.groups:
        out += ["No group is needed.", ""]
    else:
        out += [
            f"{plural(len(f.new_groups), 'new group')} and "
            f"{plural(len(f.reused_groups), 'existing group')} reused unchanged (groupify never "
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

    out += ["## 6. Users in scope", ""]
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
        "## 7. Quota headroom",
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
                else f"{round(100 * q.share)}%" + (" **near the limit**" if near(q) else ""),
                _md(q.where),
            )
            for q in f.quotas
        ],
    )

    out += ["## 8. Steps", ""]
    if not f.steps:
        out += ["The plan has no step: nothing to change.", ""]
    else:
        out += [
            f"{plural(len(f.steps), 'step')} in execution order. A step runs only after the "
            f"steps in its *after* column. Steps marked **yes** in the last column remove a "
            f"direct grant ({f.removals} of them): each takes a policy off a user only after "
            "the group named there gives the user the same policy.",
            "",
        ]
    for seg in f.segments:
        out += [f"**{segment_title(seg, _mdcode)}**", ""]
        rows = []
        for st in seg.steps:
            detail = "; ".join(
                (f"{_md(label)} " if label else "")
                + (_mdcode(value) if value.startswith("arn:") else _md(value))
                for label, value in step_details(st)
            )
            rows.append(
                (
                    _md(st.id),
                    _mdcode(st.op),
                    _mdcode(target(st)),
                    detail,
                    _md(after(st.after)),
                    f"**yes**, {f.replacing(st, _mdcode)}" if st.is_destructive else "",
                )
            )
        out += _mdtable(["step", "IAM call", "target", "details", "after", REMOVES], rows)

    dry, real = f.rollback_commands
    out += ["## 9. Rollback", "", rollback_intro(f, _mdcode), ""]
    out += _fence(f"{dry}\n{real}", "sh")
    out += ["Rollback:", ""] + [f"- {x}" for x in rollback_does(_mdcode)] + [""]
    out += ["Rollback does not:", ""] + [f"- {x}" for x in ROLLBACK_DOES_NOT] + [""]
    out += [ROLLBACK_DRIFT, ""]
    out += [rollback_calls(f, _mdcode), ""]
    if f.reused_groups:
        out += [
            "Existing groups reused by this plan, which rollback leaves in place: "
            f"{_mdnames([g.name for g in f.reused_groups])}.",
            "",
        ]

    out += ["## 10. Sign-off", ""]
    out += _mdtable(["", ""], [(label, " ") for label in SIGN_OFF])

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
