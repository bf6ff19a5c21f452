"""The op table: every IAM call a plan may hold, and every call that undoes one, defined once.

An :class:`Op` holds the facts about one call that do not depend on where it
runs: its parameters (boto3's names), what it acts on, whether it removes a
user's direct grant, whom it grants access, what undoes it, and how a
reviewer reads it. Each place that does something with ops (the replay model,
the check of what is already done, the live executor, rollback, the text,
HTML and Markdown renderers) is a :class:`Backend` that registers one
implementation per op, alembic's ``implementation_for`` way::

    REPLAY = Backend("replay", ALL)

    @REPLAY.register("create_group")
    def _create_group(model, GroupName, Path="/"): ...

``tests/plan/test_ops.py`` fails when an op lacks an implementation in any
backend, so adding an op (or a backend) is one entry per backend.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Generic, Literal, TypeVar

from attrs import frozen

__all__ = [
    "ALL",
    "BACKENDS",
    "CREATED_POLICY_PATH",
    "OPS",
    "PLAN_OPS",
    "Backend",
    "Op",
    "op",
]

#: Path of the customer-managed policies groupify creates, so they are easy to find.
CREATED_POLICY_PATH = "/groupify/"

Grantee = Literal["user", "group"]


@frozen
class Op:
    """One IAM call, named as the boto3 IAM client names it."""

    name: str
    #: Parameters the call needs, and those it may take (boto3's names).
    required: frozenset[str]
    optional: frozenset[str]
    #: The parameter naming the user or group the call acts on (``None``: neither).
    principal: str | None
    #: The parameter naming what is attached, embedded, joined or created.
    subject: str | None
    #: In a reviewer's words.
    meaning: str
    #: Whether a plan may hold it (the others only undo plan steps).
    in_plan: bool = False
    #: Whether it takes something away (so ``NoSuchEntity`` may mean: gone already).
    takes_away: bool = False
    #: Whether it removes a user's direct grant: the calls IAM.2 is about.
    removes_direct: bool = False
    #: Whom it gives access: the user named, or every member of the group named.
    grants: Grantee | None = None
    #: What it creates (``group`` or ``policy``): ours only when our call made it.
    creates: Literal["group", "policy"] | None = None
    #: The call that undoes it (plan ops only).
    reverse: str | None = None

    def parts(self, params: Mapping[str, str]) -> tuple[str, str]:
        """(the user or group a call acts on, what it attaches, joins or creates).

        The second is shortened to the last part of an ARN or path.
        """
        who = params.get(self.principal, "") if self.principal else ""
        what = params.get(self.subject, "") if self.subject else ""
        return who, what.rsplit("/", 1)[-1]

    def check_params(self, params: Mapping[str, object]) -> str | None:
        """What is wrong with *params* for this call, or ``None``."""
        if not self.required <= set(params) or set(params) - self.required - self.optional:
            return (
                f"{self.name} takes {', '.join(sorted(self.required))} (and optionally "
                f"{', '.join(sorted(self.optional)) or 'nothing else'})"
            )
        return None


def _op(
    name: str,
    required: Iterable[str],
    optional: Iterable[str] = (),
    **facts: object,
) -> Op:
    return Op(name, frozenset(required), frozenset(optional), **facts)  # type: ignore[arg-type]


_TABLE: tuple[Op, ...] = (
    # -- what a plan holds, in the order a plan runs them when free to choose --
    _op(
        "create_policy",
        {"PolicyName", "PolicyDocument"},
        {"Path", "Description"},
        principal=None,
        subject="PolicyName",
        meaning="create a customer-managed policy under /groupify/ from an inline document",
        in_plan=True,
        creates="policy",
        reverse="delete_policy",
    ),
    _op(
        "create_group",
        {"GroupName"},
        {"Path"},
        principal="GroupName",
        subject=None,
        meaning="create a new group",
        in_plan=True,
        creates="group",
        reverse="delete_group",
    ),
    _op(
        "attach_group_policy",
        {"GroupName", "PolicyArn"},
        principal="GroupName",
        subject="PolicyArn",
        meaning="attach a managed policy to a new group",
        in_plan=True,
        grants="group",
        reverse="detach_group_policy",
    ),
    _op(
        "put_group_policy",
        {"GroupName", "PolicyName", "PolicyDocument"},
        principal="GroupName",
        subject="PolicyName",
        meaning="embed an inline policy in a new group",
        in_plan=True,
        grants="group",
        reverse="delete_group_policy",
    ),
    _op(
        "add_user_to_group",
        {"GroupName", "UserName"},
        principal="UserName",
        subject="GroupName",
        meaning="add a user to a group",
        in_plan=True,
        grants="user",
        reverse="remove_user_from_group",
    ),
    _op(
        "detach_user_policy",
        {"UserName", "PolicyArn"},
        principal="UserName",
        subject="PolicyArn",
        meaning="remove a direct grant: detach a managed policy from a user, once a group gives it",
        in_plan=True,
        takes_away=True,
        removes_direct=True,
        reverse="attach_user_policy",
    ),
    _op(
        "delete_user_policy",
        {"UserName", "PolicyName"},
        principal="UserName",
        subject="PolicyName",
        meaning="remove a direct grant: delete a user's inline policy, once a group gives it",
        in_plan=True,
        takes_away=True,
        removes_direct=True,
        reverse="put_user_policy",
    ),
    # -- what undoes them (rollback) ---------------------------------------------
    _op(
        "put_user_policy",
        {"UserName", "PolicyName", "PolicyDocument"},
        principal="UserName",
        subject="PolicyName",
        meaning="put an inline policy back on a user",
        grants="user",
    ),
    _op(
        "attach_user_policy",
        {"UserName", "PolicyArn"},
        principal="UserName",
        subject="PolicyArn",
        meaning="attach a managed policy to a user again",
        grants="user",
    ),
    _op(
        "remove_user_from_group",
        {"GroupName", "UserName"},
        principal="UserName",
        subject="GroupName",
        meaning="take a user out of a group groupify added it to",
        takes_away=True,
    ),
    _op(
        "delete_group_policy",
        {"GroupName", "PolicyName"},
        principal="GroupName",
        subject="PolicyName",
        meaning="delete an inline policy groupify put on a group",
        takes_away=True,
    ),
    _op(
        "detach_group_policy",
        {"GroupName", "PolicyArn"},
        principal="GroupName",
        subject="PolicyArn",
        meaning="detach a managed policy groupify attached to a group",
        takes_away=True,
    ),
    _op(
        "delete_group",
        {"GroupName"},
        principal="GroupName",
        subject=None,
        meaning="delete a group groupify created",
        takes_away=True,
    ),
    _op(
        "delete_policy",
        {"PolicyArn"},
        principal=None,
        subject="PolicyArn",
        meaning="delete a policy groupify created",
        takes_away=True,
    ),
)

#: Every op by name.
OPS: Mapping[str, Op] = {o.name: o for o in _TABLE}
#: The ops a plan may hold, in the order a plan runs them when free to choose.
PLAN_OPS: tuple[str, ...] = tuple(o.name for o in _TABLE if o.in_plan)
#: Every op: plan ops and the calls that undo them.
ALL: tuple[str, ...] = tuple(OPS)


def op(name: str) -> Op:
    """The :class:`Op` called *name*; :class:`KeyError` for a call groupify never makes."""
    return OPS[name]


F = TypeVar("F", bound=Callable[..., object])

#: Every backend, by name, so a test can check that each covers its ops.
BACKENDS: dict[str, Backend[Callable[..., object]]] = {}


class Backend(Generic[F]):
    """One implementation per op for one purpose (replay, live calls, rendering, …)."""

    def __init__(self, name: str, ops: Iterable[str]) -> None:
        self.name = name
        self.ops = tuple(ops)
        unknown = sorted(set(self.ops) - set(OPS))
        if unknown:
            raise ValueError(f"backend {name!r}: unknown ops {unknown}")
        self._impl: dict[str, F] = {}
        BACKENDS[name] = self  # type: ignore[assignment]

    def register(self, *names: str) -> Callable[[F], F]:
        """Decorator: *fn* implements the ops *names* in this backend."""

        def decorate(fn: F) -> F:
            for name in names:
                if name not in self.ops:
                    raise ValueError(f"backend {self.name!r} does not take op {name!r}")
                if name in self._impl:
                    raise ValueError(f"backend {self.name!r}: op {name!r} registered twice")
                self._impl[name] = fn
            return fn

        return decorate

    def __getitem__(self, name: str) -> F:
        try:
            return self._impl[name]
        except KeyError:
            raise KeyError(f"backend {self.name!r} has no implementation of {name!r}") from None

    def missing(self) -> list[str]:
        """The ops this backend must cover and does not."""
        return [o for o in self.ops if o not in self._impl]

    def __repr__(self) -> str:
        return f"Backend({self.name}, {len(self._impl)}/{len(self.ops)} ops)"
