"""Notebook views of a proposal: the HTML Jupyter shows, its changes, and DataFrames."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol

from groupify._html import badge, details, esc, kv_table, table
from groupify._views import FOLD, box, fold, names, pandas
from groupify.inventory.views import policy_badges
from groupify.privilege.risk import SINGLE_MEMBER, RiskFlag, assess_policies

if TYPE_CHECKING:
    from groupify.inventory.model import Inventory
    from groupify.proposal.model import Exemption, Proposal, ProposalDiff, ProposedGroup

__all__ = [
    "diff_html",
    "exceptions_table",
    "group_risks",
    "proposal_frame",
    "proposal_html",
    "risk_badges",
]


def _groups_table(proposal: Proposal) -> str:
    inv = proposal.inventory
    rows = []
    for g in sorted(proposal.groups, key=lambda g: (-len(g.members), g.name)):
        rows.append(
            [
                f"<b>{esc(g.name)}</b> "
                + (badge("existing, reused", "muted") if g.existing else badge("new", "info")),
                len(g.members),
                esc(names(g.members)),
                policy_badges(inv, g.policies, g.as_managed),
                risk_badges(group_risks(proposal, g)),
                esc(g.reason),
            ]
        )
    return fold(
        "groups", ["group", "users", "members", "policies", "risk", "why"], rows, raw=[0, 2, 3, 4]
    )


def group_risks(proposal: Proposal, group: ProposedGroup) -> tuple[RiskFlag, ...]:
    """What the risk review flags in *group* (its policies, and a new group of one)."""
    flags = assess_policies(proposal.inventory, group.policies)
    if not group.existing and len(group.members) == 1:
        flags += (SINGLE_MEMBER,)
    return flags


def risk_badges(flags: Iterable[RiskFlag]) -> str:
    """One badge per risk, its evidence in the tooltip."""
    return " ".join(f'<span title="{esc(f.detail)}">{badge(f.kind, "warn")}</span>' for f in flags)


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
    flagged = sum(1 for g in proposal.groups if group_risks(proposal, g))
    summary += kv_table([("groups flagged by the risk review", flagged)])
    changed = _changes(proposal)
    return box(
        "Proposed groups",
        summary,
        changed,
        "<h4>Groups</h4>",
        _groups_table(proposal),
        "<h4>Exceptions</h4>",
        exceptions_table(proposal),
    )


def _changes(proposal: Proposal) -> str:
    """Every change since the proposal as proposed (not only the last edit's), and, when it
    took several edits, each edit's own changes in a fold, the last first."""
    chain: list[tuple[Proposal, Proposal]] = []
    root = proposal
    while root.previous is not None:
        chain.append((root.previous, root))
        root = root.previous
    if not chain:
        return ""
    total = root.diff(proposal)
    edits = len(chain)
    count = len(total.lines()) if total else 0
    head = f"<h4>Changed since proposed: {count} change(s) in {edits} edit(s)</h4>"
    out = head + diff_html(total, boxed=False)
    if edits > 1:
        steps = "".join(
            f"<p>edit {edits - i}{' (the last)' if i == 0 else ''}:</p>"
            + diff_html(before.diff(after), boxed=False, most=None)
            for i, (before, after) in enumerate(chain)
        )
        out += details(f"each of the {edits} edits", steps)
    return out


def diff_html(diff: ProposalDiff, *, boxed: bool = True, most: int | None = FOLD) -> str:
    """Every line of *diff*; past *most* lines, the rest in a fold (nothing left out)."""
    lines = diff.lines()

    def bullets(items: list[str]) -> str:
        return "<ul>" + "".join(f"<li><code>{esc(line)}</code></li>" for line in items) + "</ul>"

    if most is None or len(lines) <= most:
        body = bullets(lines)
    else:
        body = bullets(lines[:most]) + details(
            f"the other {len(lines) - most} of {len(lines)} changes", bullets(lines[most:])
        )
    return box("Changes", body) if boxed else body


def proposal_frame(proposal: Proposal, what: str = "groups") -> Any:
    """``what="groups"``: one row per (group, policy); ``"users"``: one row per (user, group)."""
    pd = pandas()
    inv = proposal.inventory
    if what == "groups":
        rows = [
            {
                "group": g.name,
                "existing": g.existing,
                "members": len(g.members),
                "policy": inv.label(p),
                "policy_kind": p.kind_label(p in g.as_managed),
                "policy_id": p.id,
                "why": g.reason,
            }
            for g in proposal.groups
            for p in sorted(g.policies)
        ]
    elif what == "users":
        exempt = {e.user: e.reason for e in proposal.exceptions}
        rows = [
            {
                "user": u.name,
                "group": g.name,
                "existing_group": g.existing,
                "needed_policies": len(proposal.needed[u.name]),
            }
            for u in proposal.in_scope
            for g in proposal.groups_of(u.name)
        ]
        rows += [{"user": u, "group": None, "exempt": r} for u, r in exempt.items()]
    else:
        raise ValueError("what must be 'groups' or 'users'")
    return pd.DataFrame(rows)


class _WithExceptions(Protocol):
    """A proposal or a plan: both document their exceptions against an inventory."""

    @property
    def inventory(self) -> Inventory: ...

    @property
    def exceptions(self) -> tuple[Exemption, ...]: ...


def exceptions_table(proposal: _WithExceptions) -> str:
    """The documented exceptions: who, why, and the direct policies they keep."""
    if not proposal.exceptions:
        return "<p>No exceptions: every user with direct policies is migrated.</p>"
    inv = proposal.inventory
    rows = [
        [e.user, e.reason, policy_badges(inv, e.policies, frozenset())] for e in proposal.exceptions
    ]
    return table(["user", "reason (documented exception)", "direct policies kept"], rows, raw=[2])
