"""Notebook views of a run's result and of a verification.

A dry run's view lists the steps that would run. :class:`ApplyResult` holds
their ids only, so ``result`` alone (``_repr_html_``) lists the ids;
:func:`dry_run_view` with the plan lists each step, its IAM call, its target
and, for a step that removes a direct grant, the group replacing it::

    preview = groupify.apply(plan, dry_run=True)
    dry_run_view(preview, plan)      # in a notebook cell
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from groupify._html import badge, details, esc, kv_table, table
from groupify._views import box, fold, step_ranges

if TYPE_CHECKING:
    from groupify.plan.model import Plan
    from groupify.runtime.checks import VerifyReport
    from groupify.runtime.result import ApplyResult

__all__ = ["HTML", "dry_run_view", "result_html", "verify_html"]


class HTML:
    """Markup a notebook shows as it is (what a cell's last expression displays)."""

    def __init__(self, markup: str) -> None:
        self.markup = markup

    def _repr_html_(self) -> str:
        return self.markup

    def __str__(self) -> str:
        return self.markup


def dry_run_view(result: ApplyResult, plan: Plan) -> HTML:
    """A dry run of *plan* (``apply(plan, dry_run=True)``) with each step that would run."""
    return HTML(result_html(result, plan))


def _would_run(result: ApplyResult, plan: Plan | None) -> str:
    """The steps a dry run found to do: a table with the plan (or the calls the result
    carries, as a rollback's does), else their ids."""
    if not result.remaining:
        return "<p>Nothing would run.</p>"
    head = f"<h4>Would run: {len(result.remaining)} step(s), in this order</h4>"
    carried = {s.id: s for s in getattr(result, "steps", ())}
    if plan is None and not carried:
        return (
            head
            + f"<p><code>{esc(step_ranges(result.remaining))}</code></p>"
            + '<p class="muted">Step ids only: <code>dry_run_view(result, plan)</code> '
            "(groupify.runtime.views) lists each step with its IAM call and target.</p>"
        )
    from groupify.plan.views import REMOVES, label, replaced_by, replacement

    by_id = {**carried, **({s.id: s for s in plan.steps} if plan is not None else {})}
    covered = replaced_by(plan) if plan is not None else {}
    rows = []
    for step_id in result.remaining:
        step = by_id.get(step_id)
        if step is None:  # a result of another plan: the id is all there is
            rows.append([step_id, "", "", ""])
            continue
        removes = (
            f"{badge('yes', 'danger')} {esc(replacement(covered.get(step_id, ())))}"
            if step.is_destructive
            else ""
        )
        rows.append([step_id, step.op, label(step, arrow="→"), removes])
    return head + fold("steps", ["step", "op", "target", REMOVES], rows, raw=[3])


def result_html(result: ApplyResult, plan: Plan | None = None) -> str:
    """A run's result; for a dry run, the steps that would run (with *plan*: each one)."""
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
    if result.kept:
        failed += table(["step", "kept because"], list(result.kept))
    if result.foreign:
        failed += table(["step", "not groupify's, left alone"], list(result.foreign))
    drift = getattr(result, "drift", ())
    if drift:
        failed += table(["changed since the run (drift)"], [[d] for d in drift])
    calls = Counter(dict(result.calls))
    return box(
        f"{result.mode.capitalize()} result",
        f"<p>{status}</p>",
        summary,
        _would_run(result, plan) if result.mode == "dry-run" else "",
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
    return box(
        f"Verification of account {report.account_id}",
        f"<p>{status}</p>",
        fold("users", ["user", "IAM.2", "access", "note"], rows, raw=[1, 2]),
        table(["exempt user", "reason"], list(report.exceptions)) if report.exceptions else "",
    )
