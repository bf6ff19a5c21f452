"""build_plan's ordering: the heap order is networkx's lexicographical topological sort."""

from __future__ import annotations

import networkx as nx
import pytest
from hypothesis import given
from hypothesis import strategies as st

import groupify
from groupify import Plan, PlanVerificationError, Step
from groupify.plan.build import lexicographic_order


@pytest.fixture
def small_plan(small: groupify.Inventory) -> Plan:
    return groupify.build_plan(groupify.propose(small, exclude_tags=["BreakGlass"]))


@st.composite
def dags(draw: st.DrawFn) -> tuple[list[tuple[int, str]], list[list[int]]]:
    """Random DAGs: a hidden order, edges only forward in it; keys that often tie, or
    (as build_plan's) that grow along every edge."""
    n = draw(st.integers(0, 40))
    hidden = draw(st.permutations(range(n)))
    rank = {node: i for i, node in enumerate(hidden)}
    after: list[list[int]] = [[] for _ in range(n)]
    for a in range(n):
        for b in range(n):
            if rank[a] < rank[b] and draw(st.integers(0, 9)) < 2:
                after[b].append(a)
    if draw(st.booleans()):  # as in build_plan: the sorted order is the answer
        keys = [(rank[node], draw(st.sampled_from("abc"))) for node in range(n)]
    else:
        keys = [(draw(st.integers(0, 3)), draw(st.sampled_from("abc"))) for _ in range(n)]
    return keys, after


@given(dags())
def test_order_is_networkx_lexicographical_topological_sort(
    case: tuple[list[tuple[int, str]], list[list[int]]],
) -> None:
    """On random DAGs (ties in the keys included) the order is networkx's, node for node."""
    keys, after = case
    graph = nx.DiGraph()
    graph.add_nodes_from(range(len(keys)))
    graph.add_edges_from((d, n) for n, deps in enumerate(after) for d in deps)
    expected = list(nx.lexicographical_topological_sort(graph, key=lambda n: keys[n]))
    assert lexicographic_order(keys, after) == expected


def test_order_counts_a_repeated_prerequisite_once() -> None:
    """A prerequisite listed twice is waited for once, as one networkx edge."""
    assert lexicographic_order([2, 1, 0], [[], [0, 0], [1]]) == [0, 1, 2]


def test_order_refuses_a_cycle() -> None:
    """Prerequisites in a cycle have no order."""
    with pytest.raises(ValueError, match="cycle"):
        lexicographic_order([0, 1, 2], [[2], [0], [1]])


def test_a_plan_whose_steps_form_a_cycle_is_refused(small_plan: Plan) -> None:
    """Plan.verify refuses a cycle: a step runs after one that is not before it."""
    first, second, *rest = small_plan.steps
    steps = [
        Step(first.id, first.op, first.param_items, (second.id,)),
        Step(second.id, second.op, second.param_items, (first.id,)),
        *rest,
    ]
    with pytest.raises(PlanVerificationError, match="which is not an earlier step"):
        Plan(
            inventory=small_plan.inventory,
            steps=steps,
            in_scope=small_plan.in_scope,
            exceptions=small_plan.exceptions,
        ).verify()
