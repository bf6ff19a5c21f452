"""Exact clustering: one cluster per distinct policy set, as the bipartite graph says."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from groupify.mining.exact import bipartite_graph, exact

needs = st.dictionaries(
    st.text("abc", min_size=1, max_size=2),
    st.frozensets(st.integers(0, 5), max_size=4),
    max_size=10,
)


@given(needs)
def test_clusters_are_the_users_with_equal_neighbourhoods(
    needed: dict[str, frozenset[int]],
) -> None:
    """The dict grouping equals grouping the users by their neighbours in the graph."""
    graph = bipartite_graph(needed)
    by_set: dict[frozenset[int], set[str]] = {}
    for node, side in graph.nodes(data="bipartite"):
        if side == 0:
            policies = frozenset(p for _, p in graph.neighbors(node))
            if policies:
                by_set.setdefault(policies, set()).add(node[1])
    reference = sorted(
        ((p, frozenset(u)) for p, u in by_set.items()),
        key=lambda pu: (-len(pu[1]), sorted(map(repr, pu[0]))),
    )
    assert exact(needed) == reference


def test_users_without_policies_get_no_cluster() -> None:
    assert exact({"a": frozenset(), "b": frozenset({1}), "c": frozenset({1})}) == [
        (frozenset({1}), frozenset({"b", "c"}))
    ]
