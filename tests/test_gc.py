"""The cyclic collector is paused only inside groupify's bulk work, then restored."""

from __future__ import annotations

import gc

import pytest

from groupify._gc import paused, without_gc


def test_paused_restores_the_collector_even_on_error() -> None:
    assert gc.isenabled()
    inside: list[bool] = []

    @without_gc
    def fails() -> None:
        inside.append(gc.isenabled())
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        fails()
    assert inside == [False] and gc.isenabled()


def test_a_caller_that_disabled_the_collector_keeps_it_disabled() -> None:
    gc.disable()
    try:
        with paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_the_decorated_entry_points_leave_it_on(small: object) -> None:
    import groupify

    seen: list[bool] = []

    @without_gc
    def inner() -> None:
        seen.append(gc.isenabled())

    inner()
    plan = groupify.build_plan(groupify.propose(small, exclude_tags=["BreakGlass"]))  # type: ignore[arg-type]
    groupify.Plan.from_dict(plan.to_dict())
    assert seen == [False] and gc.isenabled()


def test_what_a_paused_computation_kept_is_moved_to_the_oldest_generation() -> None:
    """Objects made while paused are not left for the next young collection to scan,
    and nothing stays frozen: a cycle made while paused is still collected."""

    class Node:
        def __init__(self) -> None:
            self.me = self

    with paused():
        kept = [[i] for i in range(1000)]
        Node()  # a cycle, garbage at once
    assert gc.get_freeze_count() == 0
    assert gc.get_count()[0] < 100  # the 1,000 lists are not young any more
    assert gc.collect() >= 1  # the cycle was found by a full collection
    assert len(kept) == 1000
