"""What a run of apply or rollback did, and which IAM calls count as changes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from attrs import field, frozen

from groupify.plan.ops import ALL
from groupify.plan.steps import Step

__all__ = ["MUTATING_OPS", "ApplyResult"]

#: Every IAM call that changes something: plan steps and the calls that undo them.
MUTATING_OPS = frozenset(ALL)


def _pairs(items: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple(items)


def _ids(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(items)


def _steps(items: Iterable[Step]) -> tuple[Step, ...]:
    return tuple(items)


def _counts(items: Mapping[str, int] | Iterable[tuple[str, int]]) -> tuple[tuple[str, int], ...]:
    pairs = items.items() if isinstance(items, Mapping) else items
    return tuple(sorted(pairs))


@frozen
class ApplyResult:
    """What a run did: steps applied, found already done, failed and not reached."""

    mode: str
    applied: tuple[str, ...] = field(converter=_ids)
    already: tuple[str, ...] = field(converter=_ids)
    failed: tuple[tuple[str, str], ...] = field(converter=_pairs)
    remaining: tuple[str, ...] = field(converter=_ids)
    calls: tuple[tuple[str, int], ...] = field(default=(), converter=_counts)
    journal: str | None = None
    #: Rollback only: reverse calls left out because they could not be made safely.
    kept: tuple[tuple[str, str], ...] = field(default=(), converter=_pairs)
    #: Rollback only: steps in place that are not groupify's (left alone), and why.
    foreign: tuple[tuple[str, str], ...] = field(default=(), converter=_pairs)
    #: Rollback only: how the account drifted from the plan since the run.
    drift: tuple[str, ...] = field(default=(), converter=_ids)
    #: Rollback only: the reverse calls, in order (``remaining`` names them).
    steps: tuple[Step, ...] = field(default=(), converter=_steps, eq=False)

    @property
    def ok(self) -> bool:
        """Whether every step is now in place (or, for a dry run, could be checked)."""
        return not self.failed and not self.kept and (self.mode == "dry-run" or not self.remaining)

    @property
    def mutating_calls(self) -> int:
        return sum(n for op, n in self.calls if op in MUTATING_OPS)

    @property
    def read_calls(self) -> int:
        return sum(n for op, n in self.calls if op not in MUTATING_OPS)

    def to_dict(self) -> dict[str, Any]:
        """The result as ``--json`` prints it."""
        return {
            "mode": self.mode,
            "ok": self.ok,
            "applied": list(self.applied),
            "already": list(self.already),
            "failed": [{"step": s, "error": m} for s, m in self.failed],
            "remaining": list(self.remaining),
            "kept": [{"step": s, "reason": m} for s, m in self.kept],
            "not_ours": [{"step": s, "reason": m} for s, m in self.foreign],
            "drift": list(self.drift),
            "calls_to_make": [s.to_dict() for s in self.steps] if self.mode == "dry-run" else [],
            "calls": dict(self.calls),
            "journal": self.journal,
        }

    def preview(self, steps: Iterable[Step]) -> dict[str, Any]:
        """A dry run as ``apply --dry-run --json`` prints it: what is done, what would run."""
        by_id = {s.id: s for s in steps}
        return {
            "already": list(self.already),
            "would_run": [by_id[i].to_dict() for i in self.remaining],
            "calls": dict(self.calls),
        }

    def _repr_html_(self) -> str:
        from groupify.runtime.views import result_html

        return result_html(self)

    def __repr__(self) -> str:
        return (
            f"ApplyResult({self.mode}, applied={len(self.applied)}, "
            f"already={len(self.already)}, failed={len(self.failed)}, "
            f"remaining={len(self.remaining)})"
        )
