"""Notebook views of a run's result and of a verification."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from groupify._html import badge, details, kv_table, table
from groupify._views import box, fold

if TYPE_CHECKING:
    from groupify.runtime.checks import VerifyReport
    from groupify.runtime.result import ApplyResult

__all__ = ["result_html", "verify_html"]


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
    if result.kept:
        failed += table(["step", "kept because"], list(result.kept))
    if result.foreign:
        failed += table(["step", "not groupify's, left alone"], list(result.foreign))
    calls = Counter(dict(result.calls))
    return box(
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
    return box(
        f"Verification of account {report.account_id}",
        f"<p>{status}</p>",
        fold("users", ["user", "IAM.2", "access", "note"], rows, raw=[1, 2]),
        table(["exempt user", "reason"], list(report.exceptions)) if report.exceptions else "",
    )
