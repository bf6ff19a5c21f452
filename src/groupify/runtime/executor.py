"""Running IAM calls for a plan: retries, idempotency, propagation checks, a DAG scheduler.

:class:`Executor` makes one step's call through :mod:`groupify.aws` and
decides, per op (the :data:`LIVE` backend), what an error answer means: an
"already exists" or "no such entity" counts as done only after a read
confirms it. :func:`run_steps` runs steps in DAG order on a bounded pool.
Shared by :func:`groupify.apply` and :func:`groupify.rollback`; not public API.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import heapq
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from attrs import field, frozen

from groupify.aws import (
    RetryPolicy,
    answer_lost,
    api_name,
    call,
    collect,
    error_code,
    pages,
)
from groupify.errors import AWSError, ConflictError, GroupifyError, InputError, PropagationError
from groupify.inventory.model import PolicyRef
from groupify.inventory.policy import canonical_document
from groupify.plan.model import Plan
from groupify.plan.ops import ALL, Backend
from groupify.plan.replay import AccountModel, check_steps, policy_of
from groupify.plan.steps import Step
from groupify.runtime.journal import Journal, StepState

__all__ = [
    "BULK_COST",
    "CALL_THREADS",
    "LIVE",
    "MARGIN",
    "ROUTE_AGE",
    "Executor",
    "Lanes",
    "Outcome",
    "Progress",
    "Stopped",
    "check_waits",
    "claims",
    "created_entity",
    "run_steps",
]

Progress = Callable[[str, Step, int, int], None]
#: A read of one user's groups or one group's policies: (when it began, monotonic;
#: what it showed; whether it was a bulk read; how old what it showed may be: when it
#: began, or when the oldest created policy's document it relied on was read).
_Read = tuple[float, frozenset[Any], bool, float]
_log = logging.getLogger("groupify.runtime")


class Stopped(GroupifyError):
    """The run is stopping (interrupted, or a step crashed): a step that was waiting,
    with no call in flight, ends without its call."""


#: Bulk reads of every user's groups, past the first two, stop once their pages reach
#: this many a removal they confirmed: what reading that user's groups and one group's
#: policies would have cost (at least two calls), so they never cost more than those.
BULK_COST = 2.0

#: Seconds the read that shows a removal's group route may have begun before it: a
#: membership or group policy taken away out of band after that read could leave a gap,
#: so the window is kept short; bulk reads are repeated for later removals.
ROUTE_AGE = 30.0


class Lanes:
    """At most *calls* requests in flight, and which steps' threads are idle.

    A step's thread is idle while it backs off after a retryable error or waits
    for a route to show; :func:`run_steps` may then start another step in its
    place, while the requests in flight stay bounded (the thread takes a lane again
    for its next attempt). Without such waits, steps run *calls* at a time, as before.
    """

    def __init__(self, calls: int) -> None:
        self.calls = calls
        self._lanes = threading.BoundedSemaphore(calls)
        self._lock = threading.Lock()
        self._idle = 0
        self._parks = 0  # times a thread went idle: the scheduler's wake-up signal
        self._wake: Future[None] | None = None
        self._local = threading.local()

    def __enter__(self) -> Lanes:
        self.resume()
        self._lanes.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self._lanes.release()

    def park(self, *_: object) -> None:
        """This thread is idle until :meth:`resume` (or its next attempt)."""
        if getattr(self._local, "parked", False):
            return
        self._local.parked = True
        with self._lock:
            self._idle += 1
            self._parks += 1
            wake, self._wake = self._wake, None
        if wake is not None:
            wake.set_result(None)

    def resume(self) -> None:
        if not getattr(self._local, "parked", False):
            return
        self._local.parked = False
        with self._lock:
            self._idle -= 1

    @contextlib.contextmanager
    def idle(self) -> Iterator[None]:
        """Mark this thread idle for a wait that makes no call."""
        self.park()
        try:
            yield
        finally:
            self.resume()

    def state(self) -> tuple[int, int]:
        """(threads idle now, times any went idle so far)."""
        with self._lock:
            return self._idle, self._parks

    def wake(self, parks: int) -> Future[None]:
        """A future done at the next :meth:`park` (at once if one came since *parks*)."""
        with self._lock:
            if self._parks != parks:
                done: Future[None] = Future()
                done.set_result(None)
                return done
            if self._wake is None:
                self._wake = Future()
            return self._wake


class Executor:
    """Runs IAM calls for a plan with retries, idempotency and propagation checks.

    Shared by :func:`apply` and :func:`groupify.rollback`; not public API.
    """

    def __init__(
        self,
        plan: Plan,
        iam: Any,
        *,
        retry: RetryPolicy,
        settle: float,
        propagation_timeout: float,
        final: AccountModel | None = None,
        calls: int | None = None,
        route_age: float = ROUTE_AGE,
    ) -> None:
        self.plan = plan
        self.iam = iam
        self.retry = retry
        self.settle = settle
        self.propagation_timeout = propagation_timeout
        #: How old (seconds) the read showing a route may be when its direct policy goes.
        self.route_age = route_age
        self.created_groups = plan.created_groups
        self.created_policies = plan.created_policies
        self._grant_times: dict[str, float] = {}
        #: The latest-begun read of each user's groups and of each group's policies (see
        #: _Read). A removal trusts only reads begun at most route_age before its call.
        self._members: dict[str, _Read] = {}
        self._user_locks: dict[str, threading.Lock] = {}
        self._grants: dict[str, _Read] = {}
        #: Per step whose route (or, in rollback, direct policies) was confirmed: a check
        #: made before each attempt of its call, and what reads it again when that fails.
        self._checks: dict[str, tuple[Callable[[], bool], Callable[[], None]]] = {}
        #: Per step reading again what its call relies on: the deadline of those reads
        #: (set at the first since the last attempt sent; see _guard).
        self._renewing: dict[str, float] = {}
        #: Rollback: the latest-begun read of each user's direct policies (began, shown).
        self._direct_seen: dict[str, tuple[float, frozenset[PolicyRef]]] = {}
        #: Created policy ARN -> (when the read of its document began, the document).
        self._documents: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()
        #: Set when the run stops (Ctrl-C, a crash): steps waiting without a call in
        #: flight (a settle, a route not visible yet) end at once instead of sleeping on.
        self.stopping = threading.Event()
        self._bulk = threading.Condition()
        self._bulk_running = False
        self._bulk_broken = False
        #: When the last bulk read that finished began (monotonic); bulk reads and pages.
        self._bulk_began: float | None = None
        self.bulk_reads = 0
        self.bulk_pages = 0
        #: Removals whose route bulk reads showed.
        self.bulk_confirmed = 0
        #: Holds the calls in flight to *calls* at once (a call backing off holds none).
        self.lanes = Lanes(calls) if calls else None
        #: Steps whose last call failed after an attempt whose answer was lost.
        self.unknown: set[str] = set()
        #: How long after an unsettled attempt began its call may have gone through.
        self.window = dt.timedelta(seconds=retry.timeout) + MARGIN
        if final is None:
            final = check_steps(
                plan.inventory,
                plan.steps,
                in_scope=plan.in_scope,
                protected={},
                check_dag=False,
            )
        #: The account once every step is done: who is in which group, what groups grant.
        self.final = final

    # -- reads ------------------------------------------------------------------

    def read(self, op: str, *, eventual: bool = False, **params: Any) -> Any:
        """A read, retried; a failure that outlasts the retries is an :class:`AWSError`
        (``NoSuchEntity`` included: the callers that expect it decide what it means).

        *eventual*: IAM has just said the entity exists (or we just made it), so
        ``NoSuchEntity`` is IAM catching up and is retried like throttling.
        """
        lanes = self.lanes
        park = lanes.park if lanes is not None else None
        return call(
            self.retry, self.iam, op, eventual=eventual, gate=lanes, on_retry=park, **params
        )

    def _all(self, op: str, key: str, *, eventual: bool = False, **params: Any) -> list[Any]:
        return collect(lambda **kw: self.read(op, eventual=eventual, **kw), op, key, **params)

    def user_groups(self, user: str) -> set[str]:
        return {g["GroupName"] for g in self._all("list_groups_for_user", "Groups", UserName=user)}

    def group_refs(self, group: str, began: float) -> tuple[set[PolicyRef], float]:
        """What *group* visibly grants, by a read begun at *began* (monotonic): its managed
        policies and inline documents (a policy the plan created stands for its
        document), and since when that is known (the oldest document read it used)."""
        out, at = set(), began
        for attached in self._all(
            "list_attached_group_policies", "AttachedPolicies", GroupName=group
        ):
            ref, read_at = self._attached_ref(attached["PolicyArn"], began)
            out.add(ref)
            at = min(at, read_at)
        for name in self._all("list_group_policies", "PolicyNames", GroupName=group):
            doc = self.read("get_group_policy", GroupName=group, PolicyName=name)
            out.add(PolicyRef.inline(doc["PolicyDocument"]))
        return out, at

    def _attached_ref(self, arn: str, began: float) -> tuple[PolicyRef, float]:
        """The access an attached ARN stands for, and since when it is known: a policy
        the plan created stands for the document it holds (someone may give it a new
        default version), read again unless a read of it began at most half
        :attr:`route_age` before *began* (so that one read serves many routes)."""
        if arn not in self.created_policies:
            return PolicyRef.managed(arn), began
        with self._lock:
            known = self._documents.get(arn)
        if known is None or known[0] < began - self.route_age / 2:
            read_at = time.monotonic()
            document = self._created_document(arn)
            with self._lock:
                if arn not in self._documents or self._documents[arn][0] < read_at:
                    self._documents[arn] = (read_at, document)
            return PolicyRef("inline", document), read_at
        return PolicyRef("inline", known[1]), known[0]

    def _created_document(self, arn: str, *, eventual: bool = False) -> str:
        """The document a policy groupify created holds now (its default version)."""
        policy = self.read("get_policy", eventual=eventual, PolicyArn=arn)["Policy"]
        version = self.read(
            "get_policy_version",
            eventual=eventual,
            PolicyArn=arn,
            VersionId=policy["DefaultVersionId"],
        )
        return canonical_document(version["PolicyVersion"]["Document"])

    # -- writes -----------------------------------------------------------------

    def _eventual(self, step: Step) -> bool:
        """Whether NoSuchEntity may just be IAM catching up with our own create."""
        p = step.params
        return p.get("GroupName") in self.created_groups or p.get("PolicyArn") in (
            self.created_policies
        )

    def call(self, step: Step, prior: StepState | None = None) -> Outcome:
        """Make the IAM call of *step*; say how it ended (see :class:`Outcome`).

        *prior* is what the journal already says of the step: a create it
        records as ours (the same entity id), or an unsettled earlier attempt,
        may explain an "already exists". A call that fails is raised; if an
        attempt's answer was lost, the step id is left in :attr:`unknown`.
        """
        retried: list[BaseException] = []
        began = _utcnow()
        with self._lock:
            self.unknown.discard(step.id)
            check, renew = self._checks.get(step.id, (None, None))
        # A removal whose route was confirmed: before each attempt (the place in flight
        # held), the read showing the route must still be recent, or it is read again.
        try:
            response = call(
                self.retry,
                self.iam,
                step.op,
                eventual=self._eventual(step),
                on_retry=lambda exc, attempt: self._retrying(retried, exc),
                what=f"{step.id} {step.op}",
                gate=self.lanes,
                check=check,
                renew=renew,
                **step.params,
            )
        except AWSError as exc:
            lost = sum(1 for e in (*retried, exc.__cause__) if e is not None and answer_lost(e))
            # The last attempt's error first, then those retried before it: an attempt
            # answered "NoSuchEntity" (after a lost answer, the removal was done) and
            # then throttled is still settled by a read, not failed.
            codes = [exc.code, *(error_code(e) for e in reversed(retried))]
            try:
                verdict = None
                for code in dict.fromkeys(c for c in codes if c):
                    verdict = LIVE[step.op](self, step, code)
                    if verdict is not None:
                        break
                if verdict is None:
                    raise exc
                return self._settle_already(step, prior, lost, began)
            except ConflictError:
                raise  # the entity in place is not ours: that is known
            except GroupifyError:
                if lost:
                    with self._lock:
                        self.unknown.add(step.id)
                raise
        except GroupifyError:
            # Not IAM's answer (the run stopping while a route was read again): an
            # earlier attempt whose answer was lost may still have gone through.
            if any(answer_lost(e) for e in retried):
                with self._lock:
                    self.unknown.add(step.id)
            raise
        lost = sum(1 for e in retried if answer_lost(e))
        return Outcome("applied", lost, _created_entity(step.op, response))

    def _retrying(self, retried: list[BaseException], exc: BaseException) -> None:
        retried.append(exc)
        if self.lanes is not None:
            self.lanes.park()

    def _pause(self, seconds: float) -> None:
        """Wait *seconds* with no call in flight; end at once if the run is stopping."""
        if self.stopping.wait(seconds):
            raise Stopped("the run is stopping")

    def _idle(self) -> contextlib.AbstractContextManager[None]:
        return self.lanes.idle() if self.lanes is not None else contextlib.nullcontext()

    def _settle_already(
        self, step: Step, prior: StepState | None, lost: int, began: dt.datetime
    ) -> Outcome:
        """IAM says the effect is in place (and reads confirmed it): ours, or someone else's?

        A create is ours when the journal recorded this very entity, or when an
        attempt of ours whose outcome nobody saw (a lost answer now, or an
        unsettled one in an earlier run) began before the entity's creation.
        Otherwise somebody else made it, and the run stops rather than change it.
        A removal is ours after such an attempt, and someone else's without one.
        """
        if step.spec.creates:
            entity = self.identify(step)
            if claims(entity, prior, began if lost else None, window=self.window):
                return Outcome("seen", lost, entity)
            label = created_entity(step, self.plan)[2]
            raise ConflictError(
                f"{label} already exists and groupify did not create it (created "
                f"{entity['created'] if entity else 'at an unknown time'}); it is left alone: "
                "rename the planned one or remove it, and make a new plan",
                operation=api_name(step.op),
                code="EntityAlreadyExists",
            )
        if step.spec.takes_away and (lost or (prior is not None and prior.unsettled)):
            return Outcome("seen", lost)
        return Outcome("already", lost)

    def identify(self, step: Step) -> dict[str, str] | None:
        """The live entity a create step names (its id and creation date), or ``None``.

        IAM may have just made it, so ``NoSuchEntity`` is retried a while.
        """
        key, value, _ = created_entity(step, self.plan)
        try:
            if key == "GroupName":
                body = self.read("get_group", eventual=True, GroupName=value)
            else:
                body = self.read("get_policy", eventual=True, PolicyArn=value)
        except AWSError as exc:
            if exc.code == "NoSuchEntity":
                return None
            raise
        return _created_entity(step.op, body)

    def gone_from_user(self, step: Step) -> bool:
        """After NoSuchEntity on a removal from a user: is the thing gone (and the user there)?"""
        p = step.params
        user = p["UserName"]
        try:
            match step.spec.subject:
                case "PolicyArn":
                    listed = self._all(
                        "list_attached_user_policies", "AttachedPolicies", UserName=user
                    )
                    return p["PolicyArn"] not in {a["PolicyArn"] for a in listed}
                case "PolicyName":
                    return p["PolicyName"] not in self._all(
                        "list_user_policies", "PolicyNames", UserName=user
                    )
                case _:
                    return p["GroupName"] not in self.user_groups(user)
        except AWSError as exc:
            if exc.code != "NoSuchEntity":
                raise
            return False

    def gone_from_group(self, step: Step) -> bool:
        """After NoSuchEntity on a removal from a group: gone, or the group itself gone?"""
        p = step.params
        group = p["GroupName"]
        try:
            self.read("get_group", GroupName=group)
            if step.op == "delete_group":
                return False
            if step.spec.subject == "PolicyArn":
                listed = self._all(
                    "list_attached_group_policies", "AttachedPolicies", GroupName=group
                )
                return p["PolicyArn"] not in {a["PolicyArn"] for a in listed}
            return p["PolicyName"] not in self._all(
                "list_group_policies", "PolicyNames", GroupName=group
            )
        except AWSError as exc:
            if exc.code != "NoSuchEntity":
                raise
            return True  # the group is gone, and with it what was on it

    def check_created_policy(self, step: Step) -> None:
        """A policy we plan to create already exists: fine only if it holds our document.

        IAM has just answered that it exists, so its reads retry ``NoSuchEntity``.
        """
        p = step.params
        arn = self.plan.inventory.policy_arn(p["PolicyName"], p.get("Path", "/"))
        if self._created_document(arn, eventual=True) != canonical_document(p["PolicyDocument"]):
            raise ConflictError(
                f"policy {arn} exists with another document; it is not groupify's",
                operation="CreatePolicy",
                code="EntityAlreadyExists",
            )

    def check_created_group(self, group: str) -> None:
        """A group we plan to create already exists: fine only if it is the one we planned.

        IAM has just answered that it exists, so its reads retry ``NoSuchEntity``.
        """
        members = {
            u["UserName"] for u in self._all("get_group", "Users", eventual=True, GroupName=group)
        }
        arns = {
            a["PolicyArn"]
            for a in self._all(
                "list_attached_group_policies", "AttachedPolicies", eventual=True, GroupName=group
            )
        }
        final = self.final
        planned = final.group_inline.get(group, {})
        inline = set()
        for name in self._all("list_group_policies", "PolicyNames", eventual=True, GroupName=group):
            doc = self.read("get_group_policy", eventual=True, GroupName=group, PolicyName=name)
            if planned.get(name) != canonical_document(doc["PolicyDocument"]):
                inline.add(name)
        foreign = (
            members - final.group_members.get(group, set())
            or arns - final.group_managed.get(group, set())
            or inline
        )
        if foreign:
            raise ConflictError(
                f"group {group!r} already exists with members or policies the plan does not "
                f"give it ({', '.join(sorted(foreign))}); rename the planned group",
                operation="CreateGroup",
                code="EntityAlreadyExists",
            )

    # -- propagation ---------------------------------------------------------------

    def journaled(
        self,
        log: Journal,
        step: Step,
        record_id: str,
        *,
        prefix: str = "",
        prior: StepState | None = None,
    ) -> str:
        """Make *step*'s call between its journal records, as ``record_id``: ``start`` on
        disk before the call, then ``done`` (with what the call made) or ``failed`` (and
        whether its answer may have been lost); *prefix* names rollback's records."""
        log.record(prefix + "start", record_id)
        try:
            outcome = self.call(step, prior)
        except GroupifyError as exc:
            lost = {"unknown": True} if step.id in self.unknown else {}
            log.record(prefix + "failed", record_id, error=str(exc), **lost)
            raise
        self.note_grant(step)
        log.record(prefix + "done", record_id, **outcome.record())
        return outcome.kind

    def note_grant(self, step: Step) -> None:
        """Remember when a step gave a user (or a group's members) new access."""
        now = time.monotonic()
        grantee = step.spec.grants
        if grantee is None:
            return
        key = step.params["UserName"] if grantee == "user" else "group:" + step.params["GroupName"]
        with self._lock:
            self._grant_times[key] = now

    def resumed(self) -> None:
        """A run after a stop: grants of the last run may be seconds old; settle everyone."""
        self._grant_times["*"] = time.monotonic()

    def _last_grant(self, keys: Iterable[str]) -> float:
        """When the last grant to any of *keys* (or to everyone) was answered; 0 if none."""
        with self._lock:
            return max((self._grant_times.get(k, 0.0) for k in (*keys, "*")), default=0.0)

    def _settle(self, keys: Iterable[str]) -> None:
        last = self._last_grant(keys)
        delay = last + self.settle - time.monotonic()
        if last and delay > 0:
            _log.info("settling %.1fs after the last grant (IAM is eventually consistent)", delay)
            with self._idle():
                self._pause(delay)

    def _route(self, step: Step) -> tuple[str, PolicyRef, list[str]]:
        """The user of a removal, the policy it removes, and the planned groups of the
        user's that grant that policy."""
        user = step.params["UserName"]
        ref = policy_of(step, self.plan.inventory, {})
        assert ref is not None, step  # a removal of a direct grant the plan's inventory shows
        covering = sorted(
            g for g in self.final.user_groups[user] if ref in self.final.group_policies(g)
        )
        return user, ref, covering

    def confirm_route(self, step: Step) -> None:
        """Before removing *step*'s direct policy, see the group route replacing it in a
        read begun at most :attr:`route_age` seconds before (checked again before each
        attempt of the removal's call: see :meth:`_guard`).

        First a bulk read of every user's groups and every group's policies, shared by
        the removals waiting at the time; where a bulk read begun after the route's
        grants were answered does not show it (IAM catching up), this user's groups and
        its groups' policies, read until they do. An older read is not trusted: a
        membership or group policy taken away out of band since would leave a gap.
        """
        user, ref, covering = self._route(step)
        self._settle([user, *("group:" + g for g in covering)])
        self._confirm(step, user, ref, covering)

        def fresh() -> bool:
            return self._known(user, ref, covering, time.monotonic() - self.route_age) is not None

        def renew(deadline: float) -> None:
            # The grants are long answered: no settle.
            _log.info(
                "%s: the read showing the group route is over %gs old; reading again",
                step.id,
                self.route_age,
            )
            self._confirm(step, user, ref, covering, again=True)

        self._guard(
            step,
            fresh,
            renew,
            lambda: PropagationError(
                f"{step.id}: no read of the group route replacing "
                f"{self.plan.inventory.label(ref)} began within {self.route_age:g}s of the "
                f"removal's call for {self.propagation_timeout:.0f}s (the reads take longer "
                "than route_age, or the route is gone); the removal was not tried again",
                operation=api_name(step.op),
            ),
        )

    def _guard(
        self,
        step: Step,
        fresh: Callable[[], bool],
        renew: Callable[[float], None],
        failure: Callable[[], GroupifyError],
    ) -> None:
        """Before each attempt of *step*'s call (its place in flight held), *fresh* must
        say a read begun at most :attr:`route_age` ago still shows what the call relies
        on; otherwise *renew* reads it again (given its deadline). Renews with no attempt
        sent between them give up with *failure* after ``propagation_timeout`` (reads
        slower than ``route_age`` would otherwise repeat forever); a stopping run ends."""

        def check() -> bool:
            if self.stopping.is_set():
                raise Stopped("the run is stopping")
            ok = fresh()
            if ok:
                with self._lock:  # an attempt goes out: the next renew has a deadline anew
                    self._renewing.pop(step.id, None)
            return ok

        def again() -> None:
            now = time.monotonic()
            with self._lock:
                deadline = self._renewing.setdefault(step.id, now + self.propagation_timeout)
            if self.stopping.is_set():
                raise Stopped("the run is stopping")
            if now > deadline:
                raise failure()
            renew(deadline)

        with self._lock:
            self._checks[step.id] = (check, again)

    def _confirm(
        self, step: Step, user: str, ref: PolicyRef, covering: list[str], again: bool = False
    ) -> None:
        granted = self._last_grant([user, *("group:" + g for g in covering)])
        if self._bulk_confirm(user, ref, covering, granted):
            return
        deadline = time.monotonic() + self.propagation_timeout
        while True:
            # One check per user at a time: parallel removals of one user's
            # policies then share what the first one read.
            with self._user_lock(user):
                if self._route_visible(user, ref, covering, time.monotonic() - self.route_age):
                    return
            if time.monotonic() >= deadline:
                raise PropagationError(
                    f"{step.id}: no group of {user!r} visibly grants "
                    f"{self.plan.inventory.label(ref)} after {self.propagation_timeout:.0f}s; "
                    + (
                        "the removal was not tried again" if again else "the direct policy was kept"
                    ),
                    operation=api_name(step.op),
                )
            _log.info("%s: the group route for %r is not visible yet; reading again", step.id, user)
            with self._idle():
                self._pause(min(2.0, max(0.0, deadline - time.monotonic())))

    # -- what reads showed ------------------------------------------------------------

    @staticmethod
    def _saw(
        store: dict[str, _Read],
        scope: str,
        shown: Iterable[Any],
        began: float,
        bulk: bool,
        at: float | None = None,
    ) -> None:
        """A read begun at *began* (monotonic) showed *shown* of *scope* (one user's groups,
        or one group's policies): it stands for the scope unless a read begun later has
        already answered (reads may end out of order). Called under the lock."""
        old = store.get(scope)
        if old is None or old[0] < began:
            store[scope] = (began, frozenset(shown), bulk, began if at is None else at)

    def _evidence(
        self, user: str, ref: PolicyRef, covering: Iterable[str]
    ) -> tuple[float, bool] | None:
        """The latest reads of *user*'s groups and of a group's policies that show *ref*
        reaching *user*: when the older of the two began, and whether both were bulk
        reads; ``None`` if they show no route. Called under the lock."""
        seen = self._members.get(user)
        if seen is None:
            return None
        best: tuple[float, bool] | None = None
        for g in covering:
            grants = self._grants.get(g)
            if g not in seen[1] or grants is None or ref not in grants[1]:
                continue
            found = (min(seen[3], grants[3]), seen[2] and grants[2])
            if best is None or found[0] > best[0]:
                best = found
        return best

    def _known(
        self, user: str, ref: PolicyRef, covering: Iterable[str], since: float
    ) -> tuple[float, bool] | None:
        """The latest reads' :meth:`_evidence` of *ref* reaching *user* through a group of
        *covering*, if they began at or after *since*; else ``None``."""
        with self._lock:
            found = self._evidence(user, ref, covering)
        return found if found is not None and found[0] >= since else None

    # -- route confirmation in bulk ---------------------------------------------------

    def _bulk_confirm(self, user: str, ref: PolicyRef, covering: list[str], granted: float) -> bool:
        """Whether a read begun at most :attr:`route_age` seconds ago shows a route for
        *ref* to *user*: one made already, or a bulk read (joined if under way, else
        begun). ``False`` sends the caller to the per-user reads: a recent bulk read
        begun after *granted* (the route's last grant answered) did not show the route,
        failed, or bulk reads no longer pay (see :meth:`_bulk_pays`)."""
        with self._bulk:
            while True:
                since = time.monotonic() - self.route_age
                found = self._known(user, ref, covering, since)
                if found is not None:
                    if found[1]:
                        self.bulk_confirmed += 1
                    return True
                if self._bulk_broken or not self._bulk_pays():
                    return False
                if self._bulk_began is not None and self._bulk_began >= max(since, granted):
                    return False  # a recent read begun after the grants did not show it
                if not self._bulk_running:
                    break
                with self._idle():
                    self._bulk.wait(1.0)
                if self.stopping.is_set():
                    raise Stopped("the run is stopping")
            self._bulk_running = True
            self.bulk_reads += 1
        began, ok = time.monotonic(), False
        try:
            self._read_routes(began)
            ok = True
        except GroupifyError as exc:
            _log.warning("reading every user's groups failed (%s); reading user by user", exc)
        finally:
            with self._bulk:
                self._bulk_running = False
                if ok:
                    self._bulk_began = began
                else:
                    self._bulk_broken = True
                self._bulk.notify_all()
        if ok and self._known(user, ref, covering, time.monotonic() - self.route_age) is not None:
            with self._bulk:
                self.bulk_confirmed += 1
            return True
        return False

    def _bulk_pays(self) -> bool:
        """Whether another bulk read is worth its calls: the first two (a wave of removals,
        and those whose grants were answered while the first was read), and then while
        bulk reads have cost fewer pages than :data:`BULK_COST` a removal they confirmed.
        Past that (removals coming one at a time), reading each user costs fewer calls."""
        return self.bulk_reads < 2 or self.bulk_pages < BULK_COST * self.bulk_confirmed

    def _read_routes(self, began: float) -> None:
        """One paginated GetAccountAuthorizationDetails of users and groups, begun at
        *began* (monotonic): every user's groups and every planned group's policies
        (a user or planned group it does not list: none)."""
        members: dict[str, list[str]] = {}
        grants: dict[str, set[PolicyRef]] = {g: set() for g in self.final.group_managed}
        at = dict.fromkeys(grants, began)
        for page in pages(
            lambda **kw: self.read(_GAAD, **kw), _GAAD, Filter=["User", "Group"], MaxItems=1000
        ):
            with self._bulk:
                self.bulk_pages += 1
            for u in page.get("UserDetailList", []):
                members[u["UserName"]] = u.get("GroupList", [])
            for g in page.get("GroupDetailList", []):
                refs = grants.get(g["GroupName"])
                if refs is None:
                    continue  # not a group of the plan's
                for a in g.get("AttachedManagedPolicies", []):
                    ref, read_at = self._attached_ref(a["PolicyArn"], began)
                    refs.add(ref)
                    at[g["GroupName"]] = min(at[g["GroupName"]], read_at)
                for inline in g.get("GroupPolicyList", []):
                    refs.add(PolicyRef.inline(inline["PolicyDocument"]))
        with self._lock:
            for user in self._members.keys() - members.keys():
                self._saw(self._members, user, (), began, True)  # no longer listed
            for user, groups in members.items():
                self._saw(self._members, user, groups, began, True)
            for group, refs in grants.items():
                self._saw(self._grants, group, refs, began, True, at[group])

    def _user_lock(self, user: str) -> threading.Lock:
        with self._lock:
            return self._user_locks.setdefault(user, threading.Lock())

    def _route_visible(
        self, user: str, ref: PolicyRef, covering: Iterable[str], since: float
    ) -> bool:
        """Whether reads begun at or after *since* show a membership and a group policy
        granting *ref*: this user's groups read unless the latest read of them began
        since, then the policies of each group of *covering* it shows, likewise."""
        covering = list(covering)
        if self._known(user, ref, covering, since) is not None:
            return True
        with self._lock:
            seen = self._members.get(user)
        if seen is None or seen[3] < since:
            began = time.monotonic()
            visible = self.user_groups(user)
            with self._lock:
                self._saw(self._members, user, visible, began, False)
                seen = self._members[user]
        for group in (g for g in covering if g in seen[1]):
            with self._lock:
                grants = self._grants.get(group)
            if grants is None or grants[3] < since:
                began = time.monotonic()
                refs, read_at = self.group_refs(group, began)
                with self._lock:
                    self._saw(self._grants, group, refs, began, False, read_at)
            if self._known(user, ref, [group], since) is not None:
                return True
        return False

    def confirm_direct(
        self, user: str, refs: Iterable[PolicyRef], step: Step | None = None
    ) -> None:
        """Before taking a user out of a group in rollback, see its direct policies back.

        With *step* (the removal from the group), that read must also have begun at
        most :attr:`route_age` seconds before each attempt of its call, or it is made
        again first (as for a removal of a direct policy in apply).
        """
        wanted = frozenset(refs)
        if not wanted:
            return
        self._settle([user])
        self._direct(user, wanted, time.monotonic() + self.propagation_timeout)
        if step is None:
            return

        def fresh() -> bool:
            with self._lock:
                began, have = self._direct_seen.get(user, (-1.0, frozenset()))
            return began >= time.monotonic() - self.route_age and wanted <= have

        self._guard(
            step,
            fresh,
            lambda deadline: self._direct(user, wanted, deadline),
            lambda: PropagationError(
                f"no read of the direct policies of {user!r} began within "
                f"{self.route_age:g}s of its removal from the group for "
                f"{self.propagation_timeout:.0f}s (the reads take longer than route_age, "
                "or the policies are gone); its group membership was kept",
                operation="RemoveUserFromGroup",
            ),
        )

    def _direct(self, user: str, wanted: frozenset[PolicyRef], deadline: float) -> None:
        """Read *user*'s direct policies until they hold *wanted* (or *deadline*)."""
        while True:
            began = time.monotonic()
            arns = {
                a["PolicyArn"]
                for a in self._all("list_attached_user_policies", "AttachedPolicies", UserName=user)
            }
            have = {PolicyRef.managed(a) for a in arns}
            for name in self._all("list_user_policies", "PolicyNames", UserName=user):
                doc = self.read("get_user_policy", UserName=user, PolicyName=name)
                have.add(PolicyRef.inline(doc["PolicyDocument"]))
            with self._lock:
                if self._direct_seen.get(user, (-1.0,))[0] < began:
                    self._direct_seen[user] = (began, frozenset(have))
            if wanted <= have:
                return
            if time.monotonic() >= deadline:
                raise PropagationError(
                    f"direct policies of {user!r} not visible after "
                    f"{self.propagation_timeout:.0f}s; its group membership was kept",
                    operation="RemoveUserFromGroup",
                )
            self._pause(min(2.0, max(0.0, deadline - time.monotonic())))


# -- outcomes and created entities -----------------------------------------------

#: Threads per call in flight when applying: the others hold steps that back off
#: (throttled) or wait for a route to show, without holding a call's place.
CALL_THREADS = 4

_GAAD = "get_account_authorization_details"

#: How far IAM's clock (a creation date) may be from ours (a start record): IAM
#: refuses requests signed more than five minutes off.
MARGIN = dt.timedelta(minutes=5)

#: Per create op: the response member holding the entity, and its id key.
_CREATED = {"create_group": ("Group", "GroupId"), "create_policy": ("Policy", "PolicyId")}


@frozen
class Outcome:
    """How a call ended: ``applied`` (answered), ``seen`` (an answer was lost, then the
    effect found in place: ours) or ``already`` (in place, not by us). ``lost`` counts
    the attempts whose answer never came; ``entity`` is what a create made."""

    kind: str
    lost: int = 0
    entity: dict[str, str] | None = field(default=None)

    def record(self) -> dict[str, Any]:
        """The journal fields of this outcome."""
        out: dict[str, Any] = {"outcome": self.kind}
        if self.lost:
            out["lost"] = self.lost
        if self.entity:
            out["entity"] = self.entity
        return out


def check_waits(*, route_age: float | None = None, **waits: float) -> None:
    """Refuse a wait that is negative, infinite or not a number, and a *route_age* that
    is not more than 0 (one line, before any call)."""
    if route_age is not None:
        waits["route_age"] = route_age
    for name, value in waits.items():
        if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
            raise InputError(
                f"{name} must be a finite number of seconds, at least 0; got {value!r}"
            )
    if route_age is not None and not route_age > 0:
        raise InputError(
            "route_age must be more than 0 seconds: the read showing a route begins before "
            "the removal it allows"
        )


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _when(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def _created_entity(op: str, body: Any) -> dict[str, str] | None:
    """The id and creation date of what a create (or a read of it) answered."""
    if op not in _CREATED or not isinstance(body, dict):
        return None
    member, key = _CREATED[op]
    item = body.get(member) or {}
    if not item.get(key):
        return None
    created = item.get("CreateDate")
    if isinstance(created, dt.datetime):
        created = (created if created.tzinfo else created.replace(tzinfo=dt.UTC)).isoformat()
    return {"id": str(item[key]), "created": str(created or "")}


def created_entity(step: Step, plan: Plan) -> tuple[str, str, str]:
    """What a create step names: the parameter later steps name it by, its value, and a
    label (``("GroupName", "ops", "group 'ops'")``, ``("PolicyArn", arn, "policy arn")``)."""
    p = step.params
    if step.op == "create_group":
        return "GroupName", p["GroupName"], f"group {p['GroupName']!r}"
    arn = plan.inventory.policy_arn(p["PolicyName"], p.get("Path", "/"))
    return "PolicyArn", arn, f"policy {arn}"


def claims(
    entity: Mapping[str, str] | None,
    prior: StepState | None,
    began: dt.datetime | None,
    *,
    window: dt.timedelta = dt.timedelta(minutes=15),
) -> bool:
    """Whether a live *entity* a create step names is the one groupify made.

    Yes when the journal recorded its id (*prior*), or when it was created
    while an attempt whose outcome nobody saw may still have been under way:
    after this call began (*began*), or within *window* of *prior*'s unsettled
    attempt beginning (the retries of one call end within the retry policy's
    timeout), allowing :data:`MARGIN` of clock difference each way. An entity
    made later than that is someone else's, whatever its name.
    """
    if entity is None:
        return False
    if prior is not None and prior.entity is not None:
        return prior.entity.get("id") == entity.get("id")
    created = _when(entity.get("created"))
    if created is None:
        return False
    if began is not None and created >= began - MARGIN:
        return True
    since = _when(prior.since) if prior is not None and prior.unsettled else None
    return since is not None and since - MARGIN <= created <= since + window + MARGIN


# -- the live backend: what an error answer to each call means ---------------------

#: Per op: given the error code IAM answered, ``"already"`` when the effect is
#: in place (checked by reads, never assumed), ``None`` when the error stands.
LIVE: Backend[Callable[[Executor, Step, str], str | None]] = Backend("live", ALL)


@LIVE.register("create_group")
def _group_exists(executor: Executor, step: Step, code: str) -> str | None:
    if code != "EntityAlreadyExists":
        return None
    executor.check_created_group(step.params["GroupName"])
    return "already"


@LIVE.register("create_policy")
def _policy_exists(executor: Executor, step: Step, code: str) -> str | None:
    if code != "EntityAlreadyExists":
        return None
    executor.check_created_policy(step)
    return "already"


@LIVE.register(
    "attach_group_policy",
    "put_group_policy",
    "add_user_to_group",
    "attach_user_policy",
    "put_user_policy",
)
def _error_stands(executor: Executor, step: Step, code: str) -> str | None:
    # IAM answers these idempotently; an error means the call did not take effect.
    return None


@LIVE.register("detach_user_policy", "delete_user_policy", "remove_user_from_group")
def _gone_from_user(executor: Executor, step: Step, code: str) -> str | None:
    if code != "NoSuchEntity":
        return None
    return "already" if executor.gone_from_user(step) else None


@LIVE.register("detach_group_policy", "delete_group_policy", "delete_group")
def _gone_from_group(executor: Executor, step: Step, code: str) -> str | None:
    if code != "NoSuchEntity":
        return None
    return "already" if executor.gone_from_group(step) else None


@LIVE.register("delete_policy")
def _policy_gone(executor: Executor, step: Step, code: str) -> str | None:
    if code != "NoSuchEntity":
        return None
    try:
        executor.read("get_policy", PolicyArn=step.params["PolicyArn"])
    except AWSError as exc:
        if exc.code == "NoSuchEntity":
            return "already"
        raise
    return None


def run_steps(
    steps: Iterable[Step],
    execute: Callable[[Step], str],
    *,
    workers: int,
    done: Iterable[str] = (),
    progress: Progress | None = None,
    lanes: Lanes | None = None,
    stop: threading.Event | None = None,
) -> tuple[list[str], list[str], list[tuple[str, str]], list[str]]:
    """Run *steps* in DAG order, *workers* at a time; stop at the first failure.

    With *lanes*, a step whose thread is idle (see :class:`Lanes`) does not count
    against *workers*, up to :data:`CALL_THREADS` times *workers* steps in all.
    Returns (applied, already, failed, remaining) step ids. An exception that
    is not a :class:`GroupifyError` (a bug, or ``KeyboardInterrupt``) is
    raised after the running steps finish; *stop* is set first, so that steps
    waiting with no call in flight end at once (calls under way are answered).
    """
    steps = list(steps)
    order = {s.id: i for i, s in enumerate(steps)}
    finished = set(done)
    waiting = {s.id: s for s in steps}
    # In-degree and a heap of ready steps by plan order: each step is pushed and popped
    # once, so scheduling costs O(steps log steps) rather than a scan of every waiting
    # step after each call. A dependency outside the steps and not done never releases.
    blocked: dict[str, int] = {}
    dependents: dict[str, list[str]] = {}
    ready: list[int] = []
    for s in steps:
        pending = {d for d in s.after if d not in finished}
        blocked[s.id] = len(pending)
        for d in pending:
            dependents.setdefault(d, []).append(s.id)
        if not pending:
            ready.append(order[s.id])
    heapq.heapify(ready)
    applied: list[str] = []
    already: list[str] = []
    failed: list[tuple[str, str]] = []
    crash: BaseException | None = None
    total = len(steps)
    count = 0
    workers = max(1, workers)
    threads = workers * CALL_THREADS if lanes is not None else workers
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="groupify") as pool:
        running: dict[Future[Any], Step] = {}
        try:
            while True:
                idle, parks = lanes.state() if lanes is not None else (0, 0)
                if not failed and crash is None:
                    while ready and len(running) - idle < workers and len(running) < threads:
                        s = steps[heapq.heappop(ready)]
                        del waiting[s.id]
                        if progress:
                            progress("start", s, count, total)
                        running[pool.submit(execute, s)] = s
                if not running:
                    break
                watched: set[Future[Any]] = set(running)
                if lanes is not None and ready and not failed and crash is None:
                    watched.add(lanes.wake(parks))  # a thread going idle frees a place
                complete, _ = wait(watched, return_when=FIRST_COMPLETED)
                for future in sorted(
                    (f for f in complete if f in running), key=lambda f: order[running[f].id]
                ):
                    s = running.pop(future)
                    try:
                        outcome = future.result()
                    except GroupifyError as exc:
                        failed.append((s.id, str(exc)))
                        if progress:
                            progress("failed", s, count, total)
                        continue
                    except BaseException as exc:
                        crash = crash or exc
                        if stop is not None:
                            stop.set()
                        continue
                    finished.add(s.id)
                    for d in dependents.get(s.id, ()):
                        blocked[d] -= 1
                        if blocked[d] == 0:
                            heapq.heappush(ready, order[d])
                    count += 1
                    (applied if outcome in ("applied", "seen") else already).append(s.id)
                    if progress:
                        progress(outcome, s, count, total)
        except BaseException:
            if stop is not None:
                stop.set()  # steps waiting with no call in flight end now
            raise
    if crash is not None:
        raise crash
    remaining = sorted(waiting, key=lambda i: order[i])
    return applied, already, failed, remaining
