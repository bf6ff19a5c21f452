"""The step scheduler: DAG order, plan order among ready steps, the first failure stops it."""

from __future__ import annotations

import threading

from hypothesis import given
from hypothesis import strategies as st

from groupify.errors import GroupifyError
from groupify.plan.steps import Step
from groupify.runtime.executor import run_steps

ARN = "arn:aws:iam::aws:policy/ReadOnlyAccess"


def _steps(edges: list[list[int]]) -> list[Step]:
    """Step i depends on the earlier steps edges[i] names (a DAG by construction)."""
    return [
        Step.make(
            f"s{i}",
            "attach_group_policy",
            {"GroupName": f"g{i}", "PolicyArn": ARN},
            after=sorted({f"s{j % i}" for j in deps}) if i else (),
        )
        for i, deps in enumerate(edges)
    ]


dags = st.lists(st.lists(st.integers(0, 50), max_size=3), min_size=1, max_size=30)


@given(dags)
def test_one_worker_runs_the_lowest_ready_step_first(edges: list[list[int]]) -> None:
    steps = _steps(edges)
    ran: list[str] = []
    applied, already, failed, remaining = run_steps(
        steps, lambda s: ran.append(s.id) or "applied", workers=1
    )
    # The reference: repeatedly the first step, in plan order, whose dependencies ran.
    expected: list[str] = []
    left = list(steps)
    while left:
        step = next(s for s in left if all(d in expected for d in s.after))
        expected.append(step.id)
        left.remove(step)
    assert ran == applied == expected and not already and not failed and not remaining


@given(dags, st.integers(1, 8), st.data())
def test_every_step_runs_after_its_dependencies_and_a_failure_stops_the_rest(
    edges: list[list[int]], workers: int, data: st.DataObject
) -> None:
    steps = _steps(edges)
    bad = data.draw(st.none() | st.sampled_from([s.id for s in steps]))
    lock = threading.Lock()
    finished: set[str] = set()

    def execute(step: Step) -> str:
        with lock:
            assert all(d in finished for d in step.after), step
        if step.id == bad:
            raise GroupifyError("refused")
        with lock:
            finished.add(step.id)
        return "already" if step.id.endswith("3") else "applied"

    applied, already, failed, remaining = run_steps(steps, execute, workers=workers)
    assert set(applied) | set(already) == finished
    if bad is None:
        assert not failed and not remaining and len(finished) == len(steps)
    else:
        assert [f for f, _ in failed] == [bad]
        assert bad not in finished and bad not in remaining
        # Everything not run is left, in plan order; dependents of the failure among them.
        order = [s.id for s in steps]
        assert remaining == [i for i in order if i not in finished and i != bad]
        assert {s.id for s in steps if bad in s.after} <= set(remaining)


def test_a_dependency_outside_the_steps_and_not_done_holds_its_step() -> None:
    steps = _steps([[], []])
    held = Step.make("s9", "attach_group_policy", {"GroupName": "h", "PolicyArn": ARN}, ["zz"])
    applied, _, _, remaining = run_steps([*steps, held], lambda s: "applied", workers=2)
    assert applied == ["s0", "s1"] and remaining == ["s9"]
    applied, _, _, remaining = run_steps([held], lambda s: "applied", workers=2, done=["zz"])
    assert applied == ["s9"] and remaining == []


def test_an_interrupt_ends_the_steps_waiting_without_a_call() -> None:
    """Ctrl-C (here: one step raising KeyboardInterrupt) sets *stop*: a step waiting on it
    (a settle, a route not yet visible) ends then, not when its wait runs out."""
    steps = _steps([[], []])
    stop = threading.Event()
    waiting = threading.Event()
    ended: list[bool] = []

    def execute(step: Step) -> str:
        if step.id == "s0":
            ended.append(stop.wait(30))  # as Executor._pause waits
            return "applied"
        waiting.wait(60)
        raise KeyboardInterrupt

    def starts(event: str, step: Step, count: int, total: int) -> None:
        if event == "start" and step.id == "s1":
            waiting.set()

    try:
        run_steps(steps, execute, workers=2, progress=starts, stop=stop)
    except KeyboardInterrupt:
        pass
    else:
        raise AssertionError("the interrupt was not raised")
    assert ended == [True]  # woken by the stop, not at the end of its 30 s
