"""One change-approval report over several accounts: a summary, then each account's report."""

from __future__ import annotations

import re
from collections.abc import Sequence

from groupify._html import esc
from groupify.plan.model import Plan
from groupify.report.html import _PAGE_CSS, render_html
from groupify.report.markdown import render_markdown

__all__ = ["combined_html", "combined_markdown"]

_COLUMNS = ("account", "plan file", "users in scope", "exceptions", "new groups", "steps")


def _row(path: str, plan: Plan) -> tuple[str, ...]:
    s = plan.summary()
    return (
        plan.account_id,
        path,
        str(s["users_migrated"]),
        str(s["exceptions"]),
        str(s["groups_created"]),
        str(s["steps"]),
    )


def _totals(plans: Sequence[tuple[str, Plan]]) -> str:
    users = sum(p.summary()["users_migrated"] for _, p in plans)
    steps = sum(p.summary()["steps"] for _, p in plans)
    return (
        f"{len(plans)} account(s): {users} user(s) move to job-function groups in {steps} IAM "
        "calls. Each account's plan is verified on its own, applied with its own journal, and "
        "rolled back on its own; its section below is its full change-approval report."
    )


def combined_markdown(plans: Sequence[tuple[str, Plan]]) -> str:
    """Markdown: a summary table, then each account's report with its headings one level down."""
    out = [
        "# Move IAM users to job-function groups across accounts",
        "",
        "*Change-approval report · Security Hub IAM.2 (iam-user-no-policies-check)*",
        "",
        _totals(plans),
        "",
        "| " + " | ".join(_COLUMNS) + " |",
        "|" + "---|" * len(_COLUMNS),
    ]
    out += ["| " + " | ".join(_row(path, plan)) + " |" for path, plan in plans]
    for path, plan in plans:
        body = render_markdown(plan, plan_path=path)
        out += ["", re.sub(r"(?m)^(#+) ", r"#\1 ", body).rstrip()]
    return "\n".join(out) + "\n"


def combined_html(plans: Sequence[tuple[str, Plan]]) -> str:
    """One self-contained HTML file: the summary, then each account's report in a section
    (its anchors prefixed with the account id, so that every link stays in its section)."""
    rows = "".join(
        "<tr>" + "".join(f"<td>{esc(c)}</td>" for c in _row(path, plan)) + "</tr>"
        for path, plan in plans
    )
    head = "".join(f"<th>{esc(c)}</th>" for c in _COLUMNS)
    sections = []
    for path, plan in plans:
        fragment = render_html(plan, plan_path=path, standalone=False)
        prefix = f"a{plan.account_id}-"
        fragment = fragment.replace('id="', f'id="{prefix}').replace('href="#', f'href="#{prefix}')
        sections.append(f'<section id="account-{esc(plan.account_id)}">{fragment}</section>')
    toc = " ".join(
        f'<a href="#account-{esc(p.account_id)}">{esc(p.account_id)}</a>' for _, p in plans
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>groupify: change-approval report across accounts</title>"
        f"<style>{_PAGE_CSS}</style></head><body>"
        '<div class="gfy"><header><p class="eyebrow">Change-approval report · Security Hub '
        "IAM.2 (iam-user-no-policies-check)</p>"
        "<h1>Move IAM users to job-function groups across accounts</h1>"
        f'<p class="lede">{esc(_totals(plans))}</p><nav>{toc}</nav></header>'
        f'<table class="groupify"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'
        "</div>" + "".join(sections) + "</body></html>\n"
    )
