"""Pictures for review: who gets what through which group, and groups per user.

matplotlib is an optional dependency: ``pip install 'groupify[notebook]'``.
The drawings aggregate (a node per group and per policy, sized by members),
and :func:`plot_structure` draws at most *top* groups and *top_policies*
policies, the rest in one "others" node a side: at thousands of users and
dozens of groups every node keeps a label of its own, on a row of its own, and
no two labels overlap.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from groupify.inventory.model import PolicyRef
    from groupify.proposal.model import Proposal

__all__ = ["plot_groups_per_user", "plot_structure"]

_KIND_COLOURS = {
    "AWS-managed": "#1f6feb",
    "customer-managed": "#1a7f37",
    "inline": "#9a6700",
    "inline → managed": "#8250df",
}
_NEW, _EXISTING, _OTHERS = "#54aeff", "#d0d7de", "#8c959f"

#: Height of one row (a group or a policy and its label), inches; labels are smaller.
_ROW = 0.26
#: Longest label drawn in full (characters); longer ones end in "…".
_LABEL = 40


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("pictures need matplotlib: pip install 'groupify[notebook]'") from None
    return plt


def _short(text: str) -> str:
    return text if len(text) <= _LABEL else text[: _LABEL - 1] + "…"


def plot_structure(
    proposal: Proposal,
    *,
    ax: Any = None,
    top: int = 25,
    top_policies: int = 40,
    max_labels: int | None = None,
) -> Any:
    """Groups (left, sized by members) joined to the policies they grant (right).

    Returns the matplotlib Figure. Policies are coloured by kind (AWS-managed,
    customer-managed, inline). The *top* groups with the most members are
    drawn one by one, the others as one node ("+N other groups", with the
    users they hold); likewise the *top_policies* policies the most users get
    through the groups drawn, the rest as one "+N other policies" node. Every
    node is labelled (with its member count), one row each, so labels never
    overlap: the figure grows with the rows (about a quarter inch each) when
    *ax* is not given. *max_labels*, if given, bounds *top* and *top_policies*
    both (the older keyword).
    """
    plt = _pyplot()
    if max_labels is not None:
        top, top_policies = min(top, max_labels), min(top_policies, max_labels)
    top, top_policies = max(1, top), max(1, top_policies)
    inv = proposal.inventory
    ranked = sorted(proposal.groups, key=lambda g: (-len(g.members), g.name))
    shown, rest = ranked[:top], ranked[top:]
    if len(rest) == 1:  # one "other" is drawn as itself
        shown, rest = ranked, []

    # Group rows: (label, members, colour); policy rows by users reached through them.
    group_rows = [
        (
            f"{_short(g.name)} ({len(g.members):,})",
            len(g.members),
            _EXISTING if g.existing else _NEW,
        )
        for g in shown
    ]
    others_members = len({m for g in rest for m in g.members})
    if rest:
        group_rows.append(
            (f"+{len(rest)} other groups ({others_members:,} users)", others_members, _OTHERS)
        )
    kinds: dict[PolicyRef, str] = {}
    reach: Counter[PolicyRef] = Counter()
    for g in proposal.groups:
        for ref in g.policies:
            kinds.setdefault(ref, ref.kind_label(ref in g.as_managed))
    for g in shown:
        for ref in g.policies:
            reach[ref] += len(g.members)
    order = {g.name: i for i, g in enumerate(shown)}
    listed = sorted(reach, key=lambda r: (-reach[r], inv.label(r).lower()))[:top_policies]
    # Top to bottom by the first group granting each: fewer crossing edges.
    listed.sort(
        key=lambda r: (
            min(order[g.name] for g in shown if r in g.policies),
            inv.label(r).lower(),
        )
    )
    hidden = {r for g in proposal.groups for r in g.policies} - set(listed)
    labels = Counter(inv.label(r) for r in listed)
    policy_rows = []
    for ref in listed:
        name = inv.label(ref)
        if labels[name] > 1:  # several documents under one inline name: tell them apart
            name = f"{name} [{ref.id.removeprefix('inline:')[:6]}]"
        policy_rows.append((_short(name), _KIND_COLOURS[kinds[ref]]))
    if hidden:
        policy_rows.append((f"+{len(hidden)} other policies", _OTHERS))

    rows = max(len(group_rows), len(policy_rows), 1)
    if ax is None:
        fig, ax = plt.subplots(figsize=(11, 1.9 + _ROW * rows))
    else:
        fig = ax.figure

    def y(i: int, n: int) -> float:  # spread over the height, at least a row apart
        return 0.0 if n == 1 else (rows - 1) / 2 - i * (rows - 1) / (n - 1)

    gy = [y(i, len(group_rows)) for i in range(len(group_rows))]
    py = [y(i, len(policy_rows)) for i in range(len(policy_rows))]
    slot = {ref: py[i] for i, ref in enumerate(listed)}
    other_slot = py[-1] if hidden else None
    for i, g in enumerate(shown):
        for ref in sorted(g.policies, key=lambda r: r.id):
            ys = slot.get(ref, other_slot)
            if ys is not None:
                ax.plot([0, 1], [gy[i], ys], color="#57606a", alpha=0.25, lw=0.7, zorder=1)
    if rest:
        targets = {slot.get(r, other_slot) for g in rest for r in g.policies}
        for ys in sorted(t for t in targets if t is not None):
            ax.plot([0, 1], [gy[-1], ys], color=_OTHERS, alpha=0.35, lw=0.7, ls=":", zorder=1)

    # Marker area grows with members; the largest fits its row (no blobs over neighbours).
    row_points = 72 * fig.get_size_inches()[1] * ax.get_position().height / (rows + 1)
    biggest = max((m for _, m, _ in group_rows), default=1) or 1
    top_area = (0.8 * min(row_points, 22)) ** 2
    sizes = [12 + (top_area - 12) * m / biggest for _, m, _ in group_rows]
    ax.scatter(
        [0] * len(group_rows),
        gy,
        s=sizes,
        c=[c for _, _, c in group_rows],
        zorder=2,
        edgecolors="white",
        linewidths=0.5,
    )
    ax.scatter([1] * len(policy_rows), py, s=22, c=[c for _, c in policy_rows], zorder=2)
    font = max(5.0, min(8.0, 0.55 * row_points))
    for (label, _, colour), yy in zip(group_rows, gy, strict=True):
        ax.text(
            -0.05,
            yy,
            label,
            ha="right",
            va="center",
            fontsize=font,
            style="italic" if colour == _OTHERS else "normal",
        )
    for (label, colour), yy in zip(policy_rows, py, strict=True):
        ax.text(
            1.04,
            yy,
            label,
            ha="left",
            va="center",
            fontsize=font - 0.5,
            style="italic" if colour == _OTHERS else "normal",
        )
    for kind, colour in _KIND_COLOURS.items():
        ax.scatter([], [], color=colour, label=kind, s=30)
    ax.scatter([], [], color=_NEW, label="new group (size: members)", s=60)
    ax.scatter([], [], color=_EXISTING, label="existing group, reused", s=60)
    if rest or hidden:
        ax.scatter([], [], color=_OTHERS, label="others, together", s=60)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=4, fontsize=8, frameon=False)
    ax.set_xlim(-0.95, 1.95)
    ax.set_ylim(-rows / 2, rows / 2)
    ax.set_axis_off()
    policies = len(kinds)
    drawn = (
        f" (the {len(shown)} largest groups and {len(listed)} policies drawn)"
        if rest or hidden
        else ""
    )
    ax.set_title(
        f"{len(proposal.groups)} groups for {len(proposal.in_scope):,} users, "
        f"{policies} policies ({proposal.strategy}){drawn}",
        fontsize=10,
    )
    fig.tight_layout()
    return fig


def plot_groups_per_user(
    proposals: Sequence[Proposal], *, labels: Sequence[str] | None = None, ax: Any = None
) -> Any:
    """Bars of how many users join 1, 2, 3… groups, one series per proposal.

    Meant for ``exact`` against ``minimal``: fewer groups overall usually means
    more groups per user. Returns the matplotlib Figure.
    """
    plt = _pyplot()
    labels = list(labels or [p.strategy for p in proposals])
    counts = []
    for p in proposals:
        per_user = Counter(m for g in p.groups for m in g.members)
        counts.append(Counter(per_user.values()))
    most = max((max(c, default=0) for c in counts), default=0)
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 3.5))
    else:
        fig = ax.figure
    width = 0.8 / max(len(proposals), 1)
    xs = list(range(1, most + 1))
    for i, (label, c, p) in enumerate(zip(labels, counts, proposals, strict=True)):
        ax.bar(
            [x + (i - (len(proposals) - 1) / 2) * width for x in xs],
            [c.get(x, 0) for x in xs],
            width=width,
            label=f"{label}: {len(p.groups)} groups",
        )
    ax.set_xticks(xs)
    ax.set_xlabel("groups a user joins")
    ax.set_ylabel("users")
    ax.legend(fontsize=8, frameon=False)
    ax.set_title("Groups per user", fontsize=10)
    fig.tight_layout()
    return fig
