"""Pictures for review: who gets what through which group, and groups per user.

matplotlib is an optional dependency: ``pip install 'groupify[notebook]'``.
The drawings aggregate (a node per group and per policy, sized by members),
so they stay legible at hundreds of users where a user-level drawing would
be a hairball.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import networkx as nx

if TYPE_CHECKING:
    from groupify.proposal.model import Proposal

__all__ = ["plot_groups_per_user", "plot_structure"]

_KIND_COLOURS = {
    "AWS-managed": "#1f6feb",
    "customer-managed": "#1a7f37",
    "inline": "#9a6700",
    "inline → managed": "#8250df",
}


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("pictures need matplotlib: pip install 'groupify[notebook]'") from None
    return plt


def plot_structure(proposal: Proposal, *, ax: Any = None, max_labels: int = 60) -> Any:
    """Groups (left, sized by members) joined to the policies they grant (right).

    Returns the matplotlib Figure. Policies are coloured by kind (AWS-managed,
    customer-managed, inline). Labels are drawn while there are at most
    *max_labels* nodes a side.
    """
    plt = _pyplot()
    inv = proposal.inventory
    graph = nx.Graph()
    groups = sorted(proposal.groups, key=lambda g: (-len(g.members), g.name))
    policy_nodes: dict[Any, str] = {}
    for g in groups:
        graph.add_node(("g", g.name), members=len(g.members), existing=g.existing)
        for ref in g.policies:
            node = ("p", ref)
            policy_nodes[node] = ref.kind_label(ref in g.as_managed)
            graph.add_edge(("g", g.name), node)
    # Order policies by the first group that grants them: fewer crossing edges.
    order = {("g", g.name): i for i, g in enumerate(groups)}
    policies = sorted(
        policy_nodes,
        key=lambda n: (min(order[m] for m in graph.neighbors(n)), inv.label(n[1]).lower()),
    )
    left = [("g", g.name) for g in groups]
    pos = {}
    for column, nodes in ((0.0, left), (1.0, policies)):
        for i, node in enumerate(nodes):
            pos[node] = (column, 1.0 - (i + 0.5) / max(len(nodes), 1))
    if ax is None:
        height = max(4.0, 0.28 * max(len(left), len(policies)))
        fig, ax = plt.subplots(figsize=(11, height))
    else:
        fig = ax.figure
    nx.draw_networkx_edges(graph, pos, ax=ax, alpha=0.25, width=0.8)
    sizes = [40 + 30 * graph.nodes[n]["members"] for n in left]
    nx.draw_networkx_nodes(
        graph,
        pos,
        nodelist=left,
        node_size=sizes,
        node_color=["#d0d7de" if graph.nodes[n]["existing"] else "#54aeff" for n in left],
        ax=ax,
    )
    nx.draw_networkx_nodes(
        graph,
        pos,
        nodelist=policies,
        node_size=30,
        node_color=[_KIND_COLOURS[policy_nodes[n]] for n in policies],
        ax=ax,
    )
    if len(left) <= max_labels:
        for n in left:
            x, y = pos[n]
            label = f"{n[1]} ({graph.nodes[n]['members']})"
            ax.text(x - 0.06, y, label, ha="right", va="center", fontsize=8)
    if len(policies) <= max_labels:
        for n in policies:
            x, y = pos[n]
            ax.text(x + 0.02, y, inv.label(n[1]), ha="left", va="center", fontsize=7)
    for kind, colour in _KIND_COLOURS.items():
        ax.scatter([], [], color=colour, label=kind, s=30)
    ax.scatter([], [], color="#54aeff", label="new group (size: members)", s=60)
    ax.scatter([], [], color="#d0d7de", label="existing group, reused", s=60)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=3, fontsize=8, frameon=False)
    ax.set_xlim(-0.75, 1.75)
    ax.set_axis_off()
    ax.set_title(
        f"{len(left)} groups for {len(proposal.in_scope)} users, "
        f"{len(policies)} policies ({proposal.strategy})",
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
