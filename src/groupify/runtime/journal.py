"""The journal: an append-only record of what a run did, durable across crashes.

One JSON object a line. The first line is the header and holds the whole plan
(so :func:`groupify.rollback` needs nothing else); then, for every step, a
``start`` line before its call and a ``done`` (or ``failed``) line after it,
each flushed and fsynced before the run goes on (records that several threads
queue while one fsync runs share the next one: group commit). After ``kill -9`` the file
ends, at worst, with a partial line, which is ignored, and cut off before the
next record is written. A run holds an exclusive lock on the file, so two runs
never interleave.

Records::

    {"type": "header", "format": "groupify.journal/1", "plan": {...}, "created": "..."}
    {"type": "run", "mode": "apply" | "rollback", "at": "..."}
    {"type": "start", "step": "s12", "at": "..."}
    {"type": "done", "step": "s12", "outcome": "applied" | "seen" | "already",
     "lost": 2, "entity": {"id": "AGPA...", "created": "..."}, "at": "..."}
    {"type": "failed", "step": "s12", "error": "...", "unknown": true, "at": "..."}
    {"type": "undo-start", "step": "s12", "at": "..."}
    {"type": "undo-done", "step": "s12", "outcome": "applied" | "seen" | "already", "at": "..."}
    {"type": "undo-failed", "step": "s12", "error": "...", "unknown": true, "at": "..."}

Every way a call can end is a distinct record (``docs/apply.md`` has the
table): answered (``done``/``applied``); answered after attempts whose answer
was lost, which therefore did nothing or nothing that mattered
(``applied`` with ``lost``); the answer lost, then the effect found in place
and confirmed by reads (``seen``: ours); found in place with no attempt of
ours that could have made it (``already``: someone else's); refused
(``failed``); and the answer lost with no later attempt settling it
(``failed`` with ``unknown``, or a ``start`` alone after a crash), which the
next run settles by reading. A create's ``done`` records the entity IAM made
(``GroupId`` or ``PolicyId``, and its creation date), so that rollback deletes
only that entity, never one somebody made again under the same name.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import attrs
from attrs import frozen

from groupify._files import parse_json
from groupify.errors import InputError
from groupify.plan.model import Plan

__all__ = ["FORMAT", "UNSETTLED", "Journal", "StepState"]

FORMAT = "groupify.journal/1"


def _write_all(fd: int, data: bytes) -> None:
    """os.write until every byte is written (a short write is not an error)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _fsync_dir(path: str) -> None:
    """Make a new file's directory entry durable too."""
    fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


class Journal:
    """An open journal file for one plan. Thread-safe; every record is durable."""

    def __init__(self, path: str, plan: Plan, records: list[dict[str, Any]]) -> None:
        self.path = path
        self.plan = plan
        self.records = records
        self._turn = threading.Condition()  # held to queue a record or take the writer's turn
        self._partial = 0
        # Group commit: records queued while another thread's fsync runs go out together.
        self._queue: list[tuple[bytes, dict[str, Any]]] = []
        self._queued = 0  # records ever queued
        self._durable = 0  # of those, how many are on disk
        self._writing = False
        self._broken: BaseException | None = None
        #: fsyncs made by :meth:`record` (for benchmarks: fewer than records under load)
        self.fsyncs = 0

    # -- opening ------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | os.PathLike[str], plan: Plan) -> Journal:
        """Open (or create) the journal of *plan* at *path*.

        An existing journal must belong to the same plan (same checksum);
        otherwise :class:`InputError` is raised and nothing is written.
        """
        name = os.fspath(path)
        if os.path.exists(name):
            journal = cls.read(name)
            if journal.plan.to_dict()["checksum"] != plan.to_dict()["checksum"]:
                raise InputError(
                    f"{name}: journal belongs to another plan; give a new --journal path"
                )
            return journal
        header = {"type": "header", "format": FORMAT, "created": _now(), "plan": plan.to_dict()}
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            _write_all(fd, (json.dumps(header, ensure_ascii=False) + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        _fsync_dir(name)
        return cls(name, plan, [header])

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> Journal:
        """Read a journal; refuse one that is not a groupify journal or whose plan is bad."""
        name = os.fspath(path)
        try:
            with open(name, "rb") as fh:
                raw = fh.read()
        except FileNotFoundError:
            raise InputError(f"{name}: no such journal") from None
        lines = raw.split(b"\n")
        # The last element is b"" or a record a crash cut short; it is ignored
        # here and cut off before the next record is written.
        complete = lines[:-1]
        records: list[dict[str, Any]] = []
        for number, line in enumerate(complete, 1):
            if not line.strip():
                continue
            try:
                record = parse_json(line, InputError, f"{name}: line {number}")
            except InputError:
                raise InputError(f"{name}: line {number} is not a journal record") from None
            if not isinstance(record, dict) or "type" not in record:
                raise InputError(f"{name}: line {number} is not a journal record")
            records.append(record)
        if not records or records[0].get("type") != "header" or records[0].get("format") != FORMAT:
            raise InputError(f"{name}: not a groupify journal")
        plan = Plan.from_dict(records[0]["plan"], source=f"{name} (plan)")
        known = {s.id for s in plan.steps}
        for record in records[1:]:
            step = record.get("step")
            if step is not None and not isinstance(step, str):
                raise InputError(f"{name}: a record's step is not a step id")
            if step is not None and step not in known:
                raise InputError(f"{name}: record for unknown step {step!r}")
        journal = cls(name, plan, records)
        journal._partial = len(lines[-1])
        return journal

    @contextlib.contextmanager
    def locked(self) -> Iterator[Journal]:
        """Hold the journal for one run: a second run on it is refused, not interleaved."""
        fd = os.open(self.path, os.O_RDWR)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise InputError(
                    f"{self.path}: another groupify run is using this journal; wait for it"
                ) from None
            # A run that held the lock may have removed the file (see discard): the lock
            # then holds a file no longer at this path.
            held = os.fstat(fd)
            try:
                now = os.stat(self.path)
            except FileNotFoundError:
                now = None
            if now is None or (now.st_dev, now.st_ino) != (held.st_dev, held.st_ino):
                raise InputError(f"{self.path}: the journal was removed while opening; run again")
            yield self
        finally:
            os.close(fd)  # closing releases the lock

    def discard(self, created: bool) -> None:
        """Remove the journal if this run *created* it and recorded nothing (only under
        :meth:`locked`): a run refused before its first call leaves no journal behind."""
        if created and len(self.records) == 1:
            os.unlink(self.path)
            _fsync_dir(self.path)

    # -- writing ----------------------------------------------------------------

    def record(self, kind: str, step: str | None = None, **extra: Any) -> None:
        """Append one record and make it durable before returning.

        Group commit: a record queued while another thread is writing waits for the
        next write, which takes every record queued by then, in order, with one fsync;
        each call still returns only once its own record is on disk. If a write fails,
        every record it held raises, and so does every later one (the journal no longer
        says what happened, so the run must stop).
        """
        body: dict[str, Any] = {"type": kind}
        if step is not None:
            body["step"] = step
        body.update(extra)
        body["at"] = _now()
        data = (json.dumps(body, ensure_ascii=False) + "\n").encode()
        with self._turn:
            self._queue.append((data, body))
            self._queued += 1
            mine = self._queued
            while self._durable < mine:
                if self._broken is not None:
                    raise OSError(f"{self.path}: the journal could not be written: {self._broken}")
                if self._writing:
                    self._turn.wait()
                    continue
                batch, self._queue = self._queue, []
                upto = self._queued
                self._writing = True
                self._turn.release()
                try:
                    self._write(b"".join(d for d, _ in batch))
                except BaseException as exc:
                    self._turn.acquire()
                    self._broken = exc
                    self._writing = False
                    self._turn.notify_all()
                    raise
                self._turn.acquire()
                self.records.extend(b for _, b in batch)
                self._durable = upto
                self._writing = False
                self._turn.notify_all()

    def _write(self, data: bytes) -> None:
        """Append *data* and fsync (one writer at a time: the caller holds the turn)."""
        if self._partial:
            # A record a crash cut short: cut it off so the file stays one record a line.
            size = os.path.getsize(self.path)
            os.truncate(self.path, size - self._partial)
            self._partial = 0
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        try:
            _write_all(fd, data)
            os.fsync(fd)
            self.fsyncs += 1
        finally:
            os.close(fd)

    # -- reading ------------------------------------------------------------------

    def _by_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {r["step"]: r for r in self.records if r.get("type") == kind and "step" in r}

    @property
    def started(self) -> set[str]:
        """Steps whose call this journal's runs began (perhaps without finishing)."""
        return set(self._by_type("start"))

    @property
    def done(self) -> dict[str, str]:
        """Steps recorded as done, with their last outcome (``applied``, ``seen``, ``already``)."""
        return {k: v.get("outcome", "applied") for k, v in self._by_type("done").items()}

    def steps(self) -> dict[str, StepState]:
        """Each step's state after the records in order: the last word on it.

        A step applied by us (``applied`` or ``seen``) stays ours until it is
        undone, whatever later calls of it answer (a re-sent create finds our own
        group). An ``undo-start`` alone leaves the step ours, marked ``undoing``:
        the reverse call may not have gone through, and the next rollback reads
        to find out (and records ``undo-done`` if the effect is gone).
        """
        out: dict[str, StepState] = {}
        for r in self.records:
            step, kind = r.get("step"), r.get("type")
            if step is None or not isinstance(step, str):
                continue
            now = out.get(step, _NEW)
            owned = now.state == "applied"
            if kind == "start":
                # A new attempt: the run that sends it read first, and found the
                # effect of any earlier unsettled attempt absent.
                if not owned:
                    out[step] = StepState("started", None, _str(r.get("at")))
            elif kind == "done":
                outcome = r.get("outcome", "applied")
                entity = _entity(r.get("entity"))
                if outcome in ("applied", "seen"):
                    out[step] = StepState("applied", entity or (now.entity if owned else None))
                elif not owned:
                    out[step] = StepState("already", entity)
            elif kind == "failed" and not owned:
                if r.get("unknown"):
                    # The answer was lost and no later attempt settled it: maybe done.
                    out[step] = StepState("unknown", None, now.since or _str(r.get("at")))
                else:
                    out[step] = StepState("failed")
            elif kind == "undo-start" and now.ours:
                # A reverse call began: if its effect is gone at the next rollback,
                # that call went through (and is recorded so then).
                out[step] = attrs.evolve(now, undoing=True)
            elif kind == "undo-done":
                out[step] = StepState("undone")
        return out

    def status(self) -> dict[str, str]:
        """Each step's state name (see :class:`StepState`)."""
        return {k: v.state for k, v in self.steps().items()}

    @property
    def failed(self) -> set[str]:
        """Steps whose last call was refused (nothing done, started or undone after it)."""
        return {s for s, state in self.status().items() if state == "failed"}

    @property
    def undone(self) -> set[str]:
        return set(self._by_type("undo-done"))

    def ours(self) -> set[str]:
        """Steps whose effect this journal's runs made (or may have made), not undone since.

        ``applied`` steps, and the unsettled ones: a ``start`` alone (a crash
        mid-call) or a failure whose answer was lost; their calls may have gone
        through, and rollback settles them by reading (a create by the entity's
        creation date). Steps found in place without a call of ours
        (``already``), refused calls and steps rollback reversed are not ours.
        """
        return {s for s, state in self.steps().items() if state.ours}


#: States whose call may or may not have gone through.
UNSETTLED = frozenset({"started", "unknown"})


@frozen
class StepState:
    """What the journal says of one step.

    ``state`` is ``applied`` (ours: answered, or seen after a lost answer),
    ``already`` (in place, not by us), ``failed`` (refused), ``started`` or
    ``unknown`` (a call whose outcome nobody saw), or ``undone``. ``entity``
    is what an applied create made (``{"id": ..., "created": ...}``); ``since``
    is when the first unsettled attempt began.
    """

    state: str
    entity: Mapping[str, str] | None = None
    since: str | None = None
    #: A rollback began its reverse call and did not say how it ended.
    undoing: bool = False

    @property
    def ours(self) -> bool:
        return self.state == "applied" or self.state in UNSETTLED

    @property
    def unsettled(self) -> bool:
        return self.state in UNSETTLED


_NEW = StepState("new")


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _entity(value: Any) -> dict[str, str] | None:
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return {k: str(v) for k, v in value.items() if isinstance(v, str)}
    return None
