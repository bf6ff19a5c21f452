"""A plan step: one IAM call, named as boto3 names it, with boto3's parameter names."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from attrs import field, frozen

from groupify.errors import InputError
from groupify.inventory.iam import name_problem, path_problem, policy_arn_problem
from groupify.plan.ops import OPS, Op

__all__ = ["Step"]

#: What IAM accepts for each parameter it checks the form of (a document is read
#: when the step is replayed).
_PARAM_PROBLEM: dict[str, Callable[[str], str | None]] = {
    "PolicyArn": policy_arn_problem,
    "UserName": lambda value: name_problem(value, "user"),
    "GroupName": lambda value: name_problem(value, "group"),
    "PolicyName": lambda value: name_problem(value, "policy"),
    "Path": path_problem,
}


@functools.lru_cache(maxsize=1 << 16)
def _problem(key: str, value: str) -> str | None:
    """What IAM would refuse in *value* as parameter *key*, worked out once per value (a
    plan names each group, user and policy in many steps)."""
    check = _PARAM_PROBLEM.get(key)
    return check(value) if check is not None else None


def _params(items: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(items))


def _strings(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(items)


@frozen
class Step:
    """One IAM call: ``op`` as the boto3 IAM client names it, ``params`` as boto3 takes them."""

    id: str
    op: str
    param_items: tuple[tuple[str, str], ...] = field(converter=_params)
    after: tuple[str, ...] = field(default=(), converter=_strings)

    def __attrs_post_init__(self) -> None:
        """Refuse, as one line, a parameter IAM would refuse (a plan file edited by hand)."""
        for key, value in self.param_items:
            if type(key) is str and type(value) is str:
                problem = _problem(key, value)
            else:  # not text: refused, in words, by the check itself
                check = _PARAM_PROBLEM.get(key)
                problem = check(value) if check is not None else None
            if problem is not None:
                raise InputError(f"step {self.id} ({self.op}): {problem}")

    @classmethod
    def make(cls, id: str, op: str, params: Mapping[str, str], after: Iterable[str] = ()) -> Step:
        return cls(id, op, tuple(params.items()), tuple(after))

    @property
    def params(self) -> dict[str, str]:
        return dict(self.param_items)

    @property
    def spec(self) -> Op:
        """The op table's entry for this call."""
        return OPS[self.op]

    @property
    def is_destructive(self) -> bool:
        """Whether the step removes access from a user (detach or delete)."""
        return self.spec.removes_direct

    def parts(self) -> tuple[str, str]:
        """(the user or group it acts on, what it attaches, joins or creates), short names."""
        return self.spec.parts(self.params)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "op": self.op, "params": self.params, "after": list(self.after)}

    def cli(self) -> str:
        """The same call as an AWS CLI command line."""
        words = ["aws", "iam", self.op.replace("_", "-")]
        for key, value in self.param_items:
            flag = "--" + "".join("-" + c.lower() if c.isupper() else c for c in key).lstrip("-")
            if value.startswith("-"):  # IAM allows it; the CLI would read it as an option
                words.append(f"{flag}={_quote(value)}")
            else:
                words += [flag, _quote(value)]
        return " ".join(words)

    def __repr__(self) -> str:
        return f"Step({self.id} {self.op} {', '.join(x for x in self.parts() if x)})"


def _quote(value: str) -> str:
    if value and all(c.isalnum() or c in "_-+=,.@/:" for c in value):
        return value
    return "'" + value.replace("'", "'\\''") + "'"
