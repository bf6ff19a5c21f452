"""The journal in isolation, on temporary files: header, records, crashes, bad files, the lock."""

from __future__ import annotations

import json
import os
import stat
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import groupify
from groupify import InputError, Plan, PlanFormatError
from groupify.runtime.journal import FORMAT, Journal
from tests.support import aws, make_inventory


@pytest.fixture(scope="module")
def plan() -> Plan:
    inventory = make_inventory(
        {
            "alice": {"managed": [aws("ReadOnlyAccess")]},
            "bob": {"managed": [aws("ReadOnlyAccess"), aws("AmazonS3ReadOnlyAccess")]},
        }
    )
    return groupify.build_plan(groupify.propose(inventory))


@pytest.fixture(scope="module")
def other_plan() -> Plan:
    inventory = make_inventory({"carol": {"managed": [aws("AmazonEC2ReadOnlyAccess")]}})
    return groupify.build_plan(groupify.propose(inventory))


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "plan.journal"


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_the_plan_has_steps(plan: Plan) -> None:
    """The fixture plan: s1..s10 (the tests below record against these ids)."""
    assert [s.id for s in plan.steps] == [f"s{i}" for i in range(1, 11)]


# -- opening -----------------------------------------------------------------------------------


def test_open_creates_the_header_with_the_plan(path: Path, plan: Plan) -> None:
    """A new journal is one header line holding the whole plan; only its owner may read it."""
    journal = Journal.open(path, plan)
    assert journal.path == str(path)
    assert journal.plan is plan
    (header,) = lines(path)
    assert header["type"] == "header"
    assert header["format"] == FORMAT == "groupify.journal/1"
    assert header["plan"] == plan.to_dict()
    assert header["created"].endswith("+00:00")
    assert journal.records == [header]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert Plan.from_dict(header["plan"]) == plan


def test_reopening_with_the_same_plan_returns_the_records(path: Path, plan: Plan) -> None:
    """Opening an existing journal of the same plan reads it back; nothing is written."""
    first = Journal.open(path, plan)
    first.record("run", mode="apply")
    first.record("start", "s1")
    before = path.read_bytes()
    again = Journal.open(path, plan)
    assert path.read_bytes() == before
    assert again.records == first.records
    assert [r["type"] for r in again.records] == ["header", "run", "start"]
    assert again.plan == plan
    assert again.started == {"s1"}


def test_another_plan_is_refused(path: Path, plan: Plan, other_plan: Plan) -> None:
    """A journal belongs to one plan: opening it for another is refused, file unchanged."""
    Journal.open(path, plan).record("start", "s1")
    before = path.read_bytes()
    with pytest.raises(InputError, match="journal belongs to another plan; give a new --journal"):
        Journal.open(path, other_plan)
    assert path.read_bytes() == before


def test_read_a_missing_journal(tmp_path: Path) -> None:
    """Reading a journal that is not there says so."""
    with pytest.raises(InputError, match="no such journal"):
        Journal.read(tmp_path / "nope")


# -- records and what they mean ---------------------------------------------------------------


def test_record_appends_one_durable_line(path: Path, plan: Plan) -> None:
    """Each record is one JSON line with its type, step, extra fields and a timestamp."""
    journal = Journal.open(path, plan)
    journal.record("run", mode="apply")
    journal.record("done", "s2", outcome="already")
    header, run, done = lines(path)
    assert run["type"] == "run" and run["mode"] == "apply" and "step" not in run
    assert {k: v for k, v in done.items() if k != "at"} == {
        "type": "done",
        "step": "s2",
        "outcome": "already",
    }
    assert done["at"].endswith("+00:00")
    assert journal.records[1:] == [run, done]
    assert Journal.read(path).records == [header, run, done]


def test_applied_steps_are_ours(path: Path, plan: Plan) -> None:
    """A step started and recorded done ``applied`` is done, and its effect is ours."""
    journal = Journal.open(path, plan)
    journal.record("start", "s1")
    journal.record("done", "s1", outcome="applied")
    for j in (journal, Journal.read(path)):
        assert j.started == {"s1"}
        assert j.done == {"s1": "applied"}
        assert j.failed == set()
        assert j.ours() == {"s1"}


def test_already_done_steps_are_not_ours(path: Path, plan: Plan) -> None:
    """A step found in place (``already``) is done but was not our doing."""
    journal = Journal.open(path, plan)
    journal.record("start", "s1")
    journal.record("done", "s1", outcome="already")
    journal.record("done", "s2", outcome="already")
    assert journal.done == {"s1": "already", "s2": "already"}
    assert journal.ours() == set()


def test_started_without_an_outcome_is_ours(path: Path, plan: Plan) -> None:
    """A crash mid-call leaves a start with no outcome: the call may have gone through."""
    journal = Journal.open(path, plan)
    journal.record("start", "s1")
    journal.record("done", "s1", outcome="applied")
    journal.record("start", "s2")
    journal.record("start", "s3")
    assert journal.started == {"s1", "s2", "s3"}
    assert journal.done == {"s1": "applied"}
    assert Journal.read(path).ours() == {"s1", "s2", "s3"}


def test_failed_steps_are_not_ours(path: Path, plan: Plan) -> None:
    """A step whose call failed is failed, not done, and not ours; a later done settles it."""
    journal = Journal.open(path, plan)
    journal.record("start", "s1")
    journal.record("failed", "s1", error="AccessDenied")
    assert journal.failed == {"s1"}
    assert journal.done == {}
    assert journal.ours() == set()
    journal.record("start", "s1")
    journal.record("done", "s1", outcome="applied")
    assert journal.failed == set()
    assert journal.done == {"s1": "applied"}
    assert journal.ours() == {"s1"}


def test_done_without_an_outcome_counts_as_applied(path: Path, plan: Plan) -> None:
    """An old-style done record with no outcome means applied."""
    journal = Journal.open(path, plan)
    journal.record("done", "s4")
    assert journal.done == {"s4": "applied"}
    assert journal.ours() == {"s4"}


def test_undone_steps(path: Path, plan: Plan) -> None:
    """Rollback's records: undo-done steps are undone; undo-start alone is not."""
    journal = Journal.open(path, plan)
    journal.record("run", mode="rollback")
    journal.record("undo-start", "s7")
    journal.record("undo-done", "s7", outcome="applied")
    journal.record("undo-start", "s6")
    assert journal.undone == {"s7"}
    assert journal.started == set()
    assert journal.done == {}


@pytest.mark.parametrize(
    "earlier",
    [{"type": "failed", "error": "Throttling"}, {"type": "done", "outcome": "already"}],
    ids=["failed", "already"],
)
def test_a_later_start_without_outcome_is_ours(
    path: Path, plan: Plan, earlier: dict[str, str]
) -> None:
    """Failed (or found in place) in one run, then started and cut short in the next: ours."""
    journal = Journal.open(path, plan)
    journal.record("run", mode="apply")
    journal.record("start", "s1")
    kind = earlier["type"]
    journal.record(kind, "s1", **{k: v for k, v in earlier.items() if k != "type"})
    journal.record("run", mode="apply")
    journal.record("start", "s1")  # then kill -9, the call may have gone through
    assert journal.ours() == {"s1"}


def test_failed_after_an_earlier_done_is_failed(path: Path, plan: Plan) -> None:
    """Applied, rolled back, then failed on re-apply: the step's last call failed."""
    journal = Journal.open(path, plan)
    journal.record("start", "s1")
    journal.record("done", "s1", outcome="applied")
    journal.record("undo-start", "s1")
    journal.record("undo-done", "s1", outcome="applied")
    journal.record("start", "s1")
    journal.record("failed", "s1", error="AccessDenied")
    assert journal.failed == {"s1"}


def test_concurrent_records_stay_one_a_line(path: Path, plan: Plan) -> None:
    """Records from many threads never interleave within a line."""
    journal = Journal.open(path, plan)

    def worker(n: int) -> None:
        for _ in range(20):
            journal.record("start", f"s{n}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(1, 8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    records = lines(path)
    assert len(records) == 1 + 7 * 20
    assert len(journal.records) == len(records)
    assert Journal.read(path).started == {f"s{n}" for n in range(1, 8)}


def test_group_commit_each_record_is_fsynced_before_record_returns(
    path: Path, plan: Plan, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Records queued while another thread's fsync runs share the next fsync, and every
    call returns only once the file, as of an fsync, holds its record."""
    import groupify.runtime.journal as journal_module

    journal = Journal.open(path, plan)
    synced = [b""]
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        real_fsync(fd)
        time.sleep(0.002)  # a slow disk, so that records queue up behind it
        synced[0] = path.read_bytes()

    monkeypatch.setattr(journal_module.os, "fsync", fsync)
    problems: list[str] = []

    def worker(n: int) -> None:
        for i in range(15):
            journal.record("start", f"s{n}", mark=f"{n}-{i}")
            if f'"mark": "{n}-{i}"'.encode() not in synced[0]:
                problems.append(f"{n}-{i} returned before an fsync covered it")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(1, 8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert problems == []
    assert len(lines(path)) == 1 + 7 * 15 == 1 + len(journal.records) - 1
    assert journal.fsyncs < 7 * 15  # shared: fewer fsyncs than records
    assert [r.get("mark") for r in journal.records[1:]] == [
        r.get("mark") for r in Journal.read(path).records[1:]
    ]


def test_a_failed_write_fails_its_records_and_every_later_one(
    path: Path, plan: Plan, monkeypatch: pytest.MonkeyPatch
) -> None:
    import groupify.runtime.journal as journal_module

    journal = Journal.open(path, plan)

    def full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(journal_module.os, "fsync", full)
    with pytest.raises(OSError, match="No space"):
        journal.record("start", "s1")
    monkeypatch.undo()
    with pytest.raises(OSError, match="could not be written"):
        journal.record("start", "s2")
    assert len(journal.records) == 1


# -- crashes ------------------------------------------------------------------------------------


def test_a_partial_last_line_is_ignored_then_cut_off(path: Path, plan: Plan) -> None:
    """A record a crash cut short is not read, and is cut off before the next one is written."""
    Journal.open(path, plan).record("start", "s1")
    with open(path, "ab") as fh:
        fh.write(b'{"type": "done", "step": "s1", "outc')
    again = Journal.read(path)
    assert [r["type"] for r in again.records] == ["header", "start"]
    assert again.done == {}
    assert again.ours() == {"s1"}
    again.record("done", "s1", outcome="applied")
    assert path.read_bytes().endswith(b"\n")
    assert [r["type"] for r in lines(path)] == ["header", "start", "done"]
    assert Journal.read(path).done == {"s1": "applied"}
    # Only the first record after a read cuts anything.
    again.record("start", "s2")
    assert [r.get("step") for r in lines(path)] == [None, "s1", "s1", "s2"]


def test_open_also_cuts_off_a_partial_line(path: Path, plan: Plan) -> None:
    """Reopening with the plan (as apply does) mends the file on the next record too."""
    Journal.open(path, plan)
    with open(path, "ab") as fh:
        fh.write(b"\xff\xfe garbage without a newline")
    journal = Journal.open(path, plan)
    assert len(journal.records) == 1
    journal.record("start", "s3")
    assert [r["type"] for r in lines(path)] == ["header", "start"]


def test_a_partial_line_of_a_header_alone_is_not_a_journal(path: Path, plan: Plan) -> None:
    """A crash while the header was written leaves no journal to read."""
    text = json.dumps({"type": "header", "format": FORMAT, "plan": plan.to_dict()})
    path.write_text(text[: len(text) // 2])
    with pytest.raises(InputError, match="not a groupify journal"):
        Journal.read(path)


# -- files that are not journals ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", "not a groupify journal"),
        (b"\n\n", "not a groupify journal"),
        (b"hello\n", "line 1 is not a journal record"),
        (b"[1, 2]\n", "line 1 is not a journal record"),
        (b'{"step": "s1"}\n', "line 1 is not a journal record"),
        (b"\xff\xfe\n", "line 1 is not a journal record"),
        (b'{"type": "start", "step": "s1"}\n', "not a groupify journal"),
        (
            b'{"type": "header", "format": "groupify.journal/0", "plan": {}}\n',
            "not a groupify journal",
        ),
    ],
    ids=["empty", "blank", "text", "list", "no-type", "binary", "no-header", "old-format"],
)
def test_non_journal_files_are_refused(path: Path, content: bytes, match: str) -> None:
    """Files that are not journals are refused with one line naming the file."""
    path.write_bytes(content)
    with pytest.raises(InputError, match=match) as info:
        Journal.read(path)
    assert str(info.value).startswith(f"{path}: ")
    assert "\n" not in str(info.value)


def test_a_bad_line_after_the_header_is_refused(path: Path, plan: Plan) -> None:
    """A line in the middle that is not a record names its line number."""
    Journal.open(path, plan).record("start", "s1")
    with open(path, "ab") as fh:
        fh.write(b"not json\n")
    with pytest.raises(InputError, match=f"{path}: line 3 is not a journal record"):
        Journal.read(path)
    with pytest.raises(InputError, match="line 3 is not a journal record"):
        Journal.open(path, plan)


def test_blank_lines_are_skipped(path: Path, plan: Plan) -> None:
    """Empty lines between records are harmless."""
    Journal.open(path, plan)
    with open(path, "ab") as fh:
        fh.write(b"\n" + json.dumps({"type": "start", "step": "s2"}).encode() + b"\n\n")
    assert Journal.read(path).started == {"s2"}


def test_record_of_an_unknown_step_is_refused(path: Path, plan: Plan) -> None:
    """A record naming a step the plan does not have is refused."""
    Journal.open(path, plan).record("start", "s999")
    with pytest.raises(InputError, match=f"{path}: record for unknown step 's999'"):
        Journal.read(path)


def test_a_tampered_plan_in_the_header_is_refused(path: Path, plan: Plan) -> None:
    """The header's plan is checked like a plan file (checksum)."""
    Journal.open(path, plan)
    header = lines(path)[0]
    header["plan"]["steps"][0]["params"]["GroupName"] = "admins"
    path.write_text(json.dumps(header) + "\n")
    with pytest.raises(PlanFormatError, match="checksum does not match"):
        Journal.read(path)


# -- the lock ----------------------------------------------------------------------------------


def test_a_second_lock_is_refused(path: Path, plan: Plan) -> None:
    """While one run holds the journal, another (even in this process) is refused."""
    journal = Journal.open(path, plan)
    other = Journal.read(path)
    with journal.locked() as held:
        assert held is journal
        with (
            pytest.raises(InputError, match="another groupify run is using this journal"),
            other.locked(),
        ):
            pass  # pragma: no cover
        with pytest.raises(InputError, match="another groupify run"), journal.locked():
            pass  # pragma: no cover
        journal.record("start", "s1")
    with other.locked():
        other.record("done", "s1", outcome="applied")
    assert Journal.read(path).done == {"s1": "applied"}


def test_the_lock_is_released_on_error(path: Path, plan: Plan) -> None:
    """An exception inside a run releases the journal for the next one."""
    journal = Journal.open(path, plan)
    with pytest.raises(RuntimeError), journal.locked():
        raise RuntimeError("boom")
    with journal.locked():
        pass


@pytest.mark.parametrize(
    "later",
    [{"type": "done", "outcome": "already"}, {"type": "failed", "error": "EntityAlreadyExists"}],
    ids=["already", "failed"],
)
def test_applied_stays_ours_until_undone(path: Path, plan: Plan, later: dict[str, str]) -> None:
    """A stale read re-sends a create we made: its 'already' (or failure) does not make the
    group someone else's; only undoing it does."""
    journal = Journal.open(path, plan)
    journal.record("start", "s1")
    journal.record("done", "s1", outcome="applied")
    journal.record("start", "s1")
    journal.record(later["type"], "s1", **{k: v for k, v in later.items() if k != "type"})
    assert journal.ours() == {"s1"}
    journal.record("undo-start", "s1")
    journal.record("undo-done", "s1", outcome="applied")
    assert journal.ours() == set()
    journal.record("start", "s1")
    journal.record("done", "s1", outcome="already")
    assert journal.ours() == set()


def test_every_outcome_is_distinct(path: Path, plan: Plan) -> None:
    """Answered, answered after lost answers, seen after a lost answer, found in place,
    refused, and unknown: each reads back as its own state, and only ours count as ours."""
    journal = Journal.open(path, plan)
    ids = [s.id for s in plan.steps[:6]]
    entity = {"id": "AGPAEXAMPLE", "created": "2026-12-01T10:00:00+00:00"}
    records: list[tuple[str, dict[str, Any]]] = [
        ("done", {"outcome": "applied", "entity": entity}),
        ("done", {"outcome": "applied", "lost": 2}),
        ("done", {"outcome": "seen", "lost": 1}),
        ("done", {"outcome": "already"}),
        ("failed", {"error": "AccessDenied"}),
        ("failed", {"error": "timed out", "unknown": True}),
    ]
    for sid, (kind, extra) in zip(ids, records, strict=True):
        journal.record("start", sid)
        journal.record(kind, sid, **extra)
    facts = Journal.read(path).steps()
    assert [facts[s].state for s in ids] == [
        "applied",
        "applied",
        "applied",
        "already",
        "failed",
        "unknown",
    ]
    assert facts[ids[0]].entity == entity
    assert facts[ids[5]].since is not None
    assert journal.ours() == {ids[0], ids[1], ids[2], ids[5]}


def test_a_known_refusal_after_an_unknown_attempt_in_a_later_run(path: Path, plan: Plan) -> None:
    """An unknown attempt, then (a later run read and found nothing, so) a new start that is
    refused: the step is failed, not ours."""
    journal = Journal.open(path, plan)
    journal.record("start", "s1")
    journal.record("failed", "s1", error="lost", unknown=True)
    assert journal.status()["s1"] == "unknown"
    journal.record("start", "s1")
    journal.record("failed", "s1", error="AccessDenied")
    assert journal.status()["s1"] == "failed" and journal.ours() == set()


def test_the_entity_of_an_applied_create_survives_a_resent_call(path: Path, plan: Plan) -> None:
    journal = Journal.open(path, plan)
    journal.record("start", "s1")
    journal.record("done", "s1", outcome="applied", entity={"id": "A", "created": "x"})
    journal.record("start", "s1")
    journal.record("done", "s1", outcome="already", entity={"id": "B", "created": "y"})
    assert journal.steps()["s1"].entity == {"id": "A", "created": "x"}


def test_claims_by_id_or_by_creation_after_an_unsettled_attempt() -> None:
    """A live entity is ours by its recorded id; without one, only if it was created after
    an attempt of ours whose outcome nobody saw began (five minutes of clock skew allowed)."""
    import datetime as dt

    from groupify.runtime.executor import claims
    from groupify.runtime.journal import StepState

    t = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)
    made = {"id": "A", "created": t.isoformat()}
    assert claims(made, StepState("applied", {"id": "A", "created": ""}), None)
    assert not claims(made, StepState("applied", {"id": "B", "created": ""}), None)
    assert claims(made, None, t - dt.timedelta(minutes=4))
    assert not claims(made, None, t + dt.timedelta(minutes=6))
    assert claims(made, StepState("started", since=t.isoformat()), None)
    assert not claims(
        made, StepState("started", since=(t + dt.timedelta(hours=1)).isoformat()), None
    )
    assert not claims(made, StepState("already"), None)
    assert not claims(None, StepState("started", since=t.isoformat()), None)


def test_a_record_whose_step_is_not_an_id_is_refused(path: Path, plan: Plan) -> None:
    Journal.open(path, plan)
    with open(path, "a") as fh:
        fh.write(json.dumps({"type": "done", "step": ["s1"]}) + "\n")
    with pytest.raises(InputError, match="a record's step is not a step id"):
        Journal.read(path)


def test_an_unsettled_create_claims_only_entities_made_while_it_could_run() -> None:
    """A crash before a create was sent, then someone makes the group two days later: not
    ours, however the names match."""
    import datetime as dt

    from groupify.runtime.executor import claims
    from groupify.runtime.journal import StepState

    t = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)
    prior = StepState("started", since=t.isoformat())
    for later, ours in ((dt.timedelta(minutes=3), True), (dt.timedelta(days=2), False)):
        made = {"id": "A", "created": (t + later).isoformat()}
        assert claims(made, prior, None, window=dt.timedelta(minutes=5)) is ours
