"""A policy evaluator for identity policies: may principal P call action A on resource R?

It answers from the documents groupify holds (inline documents, customer-managed
policies, and the AWS-managed policies a GAAD file or a scan supplied), the
way IAM evaluates identity-based policies inside one account:

* an explicit ``Deny`` that matches wins; otherwise an ``Allow`` that matches
  allows; otherwise the call is implicitly denied;
* ``Action``/``NotAction`` match action names ignoring case, with IAM's ``*``
  and ``?`` wildcards; ``Resource``/``NotResource`` match ARNs with the same
  wildcards, case-sensitively;
* a permissions boundary limits the user: both its policies and the boundary
  must allow;
* an ``Allow`` with a ``Condition``, or with a policy variable (``${aws:username}``)
  in its resource, makes the answer :data:`Answer.CONDITIONAL` ("may", and
  treated as yes by every safety check); a ``Deny`` with a condition or a
  variable is not relied on (the call may still be allowed);
* a policy whose document groupify does not have makes the answer
  :data:`Answer.UNKNOWN` unless a known ``Deny`` settles it: never harmless.

What it cannot see: service control policies and resource control policies
of an Organization, resource-based policies (a bucket policy, a role's trust
policy), session policies, and the request context a condition tests. An
answer of :data:`Answer.YES` means "the identity policies allow it".
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from typing import Any

from attrs import frozen

__all__ = [
    "Answer",
    "Evaluator",
    "Statement",
    "action_matches",
    "resource_matches",
    "statements",
]


class Answer(enum.Enum):
    """The evaluator's answer; :attr:`possible` is what the safety checks act on."""

    #: The identity policies allow the call.
    YES = "yes"
    #: An allow applies under a condition (or a policy variable): the call may be allowed.
    CONDITIONAL = "conditional"
    #: A policy's document is missing: the call may be allowed.
    UNKNOWN = "unknown"
    #: Denied, explicitly or implicitly.
    NO = "no"

    @property
    def possible(self) -> bool:
        """Whether the call may be allowed: anything but :data:`NO`."""
        return self is not Answer.NO

    @property
    def certain(self) -> bool:
        """Whether the identity policies allow the call without any condition."""
        return self is Answer.YES


def _strings(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    return (str(value),)


def _wildcard(pattern: str, text: str) -> bool:
    """IAM's ``*`` and ``?`` over *text*, in time linear in practice and never exponential.

    The classic two-pointer match: on a mismatch, the last ``*`` takes one more
    character. (A regex would backtrack exponentially on ``*a*a*a…b``.)
    """
    p = t = 0
    star = mark = -1
    while t < len(text):
        if p < len(pattern) and (pattern[p] == "?" or pattern[p] == text[t]):
            p += 1
            t += 1
        elif p < len(pattern) and pattern[p] == "*":
            star, mark = p, t
            p += 1
        elif star >= 0:
            p = star + 1
            mark += 1
            t = mark
        else:
            return False
    while p < len(pattern) and pattern[p] == "*":
        p += 1
    return p == len(pattern)


@cache
def action_matches(pattern: str, action: str) -> bool:
    """Whether IAM action *pattern* (``iam:Put*``) matches *action*, ignoring case."""
    return _wildcard(pattern.lower(), action.lower())


_VARIABLE = re.compile(r"\$\{[^}]*\}")


def _strict(pattern: str, arn: str) -> bool:
    """Match as IAM documents it for ARNs: a wildcard stays within its colon-separated
    segment, except a ``*`` that ends the pattern's last segment, which takes the rest."""
    if pattern == "*":
        return True
    pats, parts = pattern.split(":", 5), arn.split(":", 5)
    if len(pats) > len(parts):
        return False
    if len(pats) < len(parts):
        if not pats[-1].endswith("*"):
            return False
        parts = [*parts[: len(pats) - 1], ":".join(parts[len(pats) - 1 :])]
    return all(_wildcard(p, a) for p, a in zip(pats, parts, strict=True))


@cache
def resource_matches(pattern: str, arn: str, *, strict: bool = False) -> tuple[bool, bool]:
    """(whether *pattern* may match *arn*, whether that depends on a policy variable).

    A policy variable (``${aws:username}``) could stand for anything here, so a
    pattern with one matches as ``*`` would, and says so. *strict* keeps each
    wildcard in its ARN segment, as IAM does; loose matching (the default) lets
    a ``*`` cross colons. Each check uses the one that errs toward "allowed":
    loose for what an Allow covers, strict for what a Deny covers.
    """
    variable = bool(_VARIABLE.search(pattern))
    if variable:
        pattern = _VARIABLE.sub("*", pattern)
    return (_strict(pattern, arn) if strict else _wildcard(pattern, arn)), variable


@frozen
class Statement:
    """One statement of an identity policy, as the evaluator reads it."""

    allow: bool
    actions: tuple[str, ...]
    not_action: bool
    resources: tuple[str, ...]
    not_resource: bool
    conditional: bool
    #: Whether its condition tests only the caller and its request context (MFA, source
    #: address, time, the principal's own tags…), keys whose value is the same for any
    #: two calls the same principal makes together, never the resource or the request.
    context_only: bool = False

    @property
    def variable_resources(self) -> bool:
        """Whether a resource pattern holds a policy variable (``${aws:username}``)."""
        return any(_VARIABLE.search(p) for p in self.resources)

    def applies(self, action: str, resource: str) -> tuple[bool, bool]:
        """(whether the statement applies to the call, whether only under a condition)."""
        hit = any(action_matches(p, action) for p in self.actions)
        if hit == self.not_action:
            return False, False
        # Err toward "allowed": what an Allow covers, and what a Deny's NotResource
        # leaves out, match loosely; what a Deny covers, and what an Allow's
        # NotResource leaves out, match strictly.
        strict = self.allow == self.not_resource
        matched = [resource_matches(p, resource, strict=strict) for p in self.resources]
        if self.not_resource:
            # Applies unless a pattern surely matches; a variable makes "surely" doubtful.
            excluded = any(m and not v for m, v in matched)
            doubtful = any(m and v for m, v in matched)
            if excluded:
                return False, False
            return True, self.conditional or doubtful
        hits = [v for m, v in matched if m]
        if not hits:
            return False, False
        return True, self.conditional or all(hits)


def statements(document: str | Mapping[str, Any]) -> tuple[Statement, ...]:
    """The statements of a policy document (JSON text or an object).

    Raises :class:`ValueError` for a document IAM would not accept as a policy.
    """
    data = json.loads(document) if isinstance(document, str) else document
    if not isinstance(data, Mapping):
        raise ValueError("a policy document is a JSON object")
    raw = data.get("Statement", [])
    if isinstance(raw, Mapping):
        raw = [raw]
    if not isinstance(raw, list):
        raise ValueError("Statement must be an object or a list")
    out = []
    for s in raw:
        if not isinstance(s, Mapping):
            raise ValueError("a statement is a JSON object")
        effect = s.get("Effect")
        if effect not in ("Allow", "Deny"):
            raise ValueError(f"Effect must be Allow or Deny, not {effect!r}")
        if ("Action" in s) == ("NotAction" in s):
            raise ValueError("a statement has exactly one of Action and NotAction")
        if ("Resource" in s) == ("NotResource" in s):
            raise ValueError("a statement has exactly one of Resource and NotResource")
        out.append(
            Statement(
                allow=effect == "Allow",
                actions=_strings(s.get("Action", s.get("NotAction"))),
                not_action="NotAction" in s,
                resources=_strings(s.get("Resource", s.get("NotResource"))),
                not_resource="NotResource" in s,
                conditional=bool(s.get("Condition")),
                context_only=_context_only(s.get("Condition")),
            )
        )
    return tuple(out)


#: Condition keys whose value depends on the caller and its session, not on the call:
#: a conditional Deny on these alone stops every call alike, or none.
_CONTEXT_KEYS = frozenset(
    {
        "aws:multifactorauthpresent",
        "aws:multifactorauthage",
        "aws:sourceip",
        "aws:sourcevpc",
        "aws:sourcevpce",
        "aws:securetransport",
        "aws:currenttime",
        "aws:epochtime",
        "aws:tokenissuetime",
        "aws:username",
        "aws:userid",
        "aws:principalarn",
        "aws:principalaccount",
        "aws:principalorgid",
        "aws:principaltype",
        "aws:principalisawsservice",
        "aws:viaawsservice",
        "aws:requestedregion",
    }
)


def _context_only(condition: Any) -> bool:
    if not isinstance(condition, Mapping) or not condition:
        return False
    keys = [
        str(k).lower() for tests in condition.values() if isinstance(tests, Mapping) for k in tests
    ]
    # A value with a policy variable (``${iam:ResourceTag/team}``) can differ between
    # two calls even where the key is the caller's own.
    if "${" in json.dumps(condition, default=str):
        return False
    return bool(keys) and all(k in _CONTEXT_KEYS or k.startswith("aws:principaltag/") for k in keys)


#: Stands, among the doubts of an answer, for a policy whose document is missing.
_MISSING = -1
#: Stands for a conditional Deny that may stop one call and not another.
_UNSHARED = -2


def _decide(
    policies: Sequence[tuple[Statement, ...] | None], action: str, resource: str
) -> tuple[Answer, frozenset[int]]:
    """IAM's decision over one set of policies (``None``: a policy whose document is missing),
    and its doubts: the conditional ``Deny`` statements that apply (by identity), and
    :data:`_MISSING` for a missing document; any of them could deny what the rest allows."""
    allowed = Answer.NO
    doubts: set[int] = set()
    for policy in policies:
        if policy is None:
            doubts.add(_MISSING)
            if allowed is Answer.NO:
                allowed = Answer.UNKNOWN
            continue
        for s in policy:
            applies, conditional = s.applies(action, resource)
            if not applies:
                continue
            if not s.allow:
                if not conditional:
                    return Answer.NO, frozenset()
                # A conditional Deny is not relied on, nor ruled out. One whose
                # condition tests more than the caller's context, or that holds only
                # through a policy variable, may stop one call and not another: it
                # is a doubt no other answer can share.
                doubts.add(id(s) if s.context_only and not s.variable_resources else _UNSHARED)
                continue
            if not conditional:
                allowed = Answer.YES
            elif allowed is not Answer.YES:
                allowed = Answer.CONDITIONAL
    return allowed, frozenset(doubts)


def _parsed(document: str | None) -> tuple[Statement, ...] | None:
    if document is None:
        return None
    try:
        return statements(document)
    except (ValueError, TypeError):
        return None


Policies = tuple[tuple[Statement, ...] | None, ...]


class Evaluator:
    """What one principal's identity policies allow.

    *policies* are the principal's policies as statements (``None`` for one
    whose document is missing); *boundary*, when set, is its permissions
    boundary (``(None,)`` for a boundary whose document is missing). Answers
    are worked out per action from only the statements that name it, so asking
    many resources is cheap.
    """

    __slots__ = ("_by_action", "boundary", "policies")

    def __init__(self, policies: Policies, boundary: Policies | None = None) -> None:
        self.policies = policies
        self.boundary = boundary
        self._by_action: dict[str, tuple[Policies, Policies | None]] = {}

    @classmethod
    def of(
        cls,
        documents: Iterable[str | None],
        boundary: str | tuple[()] | None = (),
    ) -> Evaluator:
        """From policy documents (``None``: missing) and a boundary document (``()``: none).

        A document that does not parse as a policy counts as missing: unknown, not harmless.
        """
        bound = None if isinstance(boundary, tuple) else (_parsed(boundary),)
        return cls(tuple(_parsed(d) for d in documents), bound)

    def _for(self, action: str) -> tuple[Policies, Policies | None]:
        found = self._by_action.get(action)
        if found is None:

            def keep(policies: Policies) -> Policies:
                return tuple(
                    None
                    if p is None
                    else tuple(
                        s
                        for s in p
                        if any(action_matches(a, action) for a in s.actions) != s.not_action
                    )
                    for p in policies
                )

            found = (keep(self.policies), None if self.boundary is None else keep(self.boundary))
            self._by_action[action] = found
        return found

    def _answer(self, action: str, resource: str) -> tuple[Answer, frozenset[int]]:
        policies, boundary = self._for(action)
        answer, doubts = _decide(policies, action, resource)
        if boundary is None or answer is Answer.NO:
            return answer, doubts
        bounded, bound_doubts = _decide(boundary, action, resource)
        if bounded is Answer.NO:
            return Answer.NO, frozenset()
        order = (Answer.YES, Answer.CONDITIONAL, Answer.UNKNOWN)
        return max(answer, bounded, key=order.index), doubts | bound_doubts

    def may(self, action: str, resource: str) -> Answer:
        """May the principal call *action* (``iam:AttachGroupPolicy``) on *resource* (an ARN)?

        :data:`Answer.YES` means an unconditional allow applies and no unconditional
        deny does; use :meth:`surely` where a conditional deny or a missing document
        must also be ruled out.
        """
        return self._answer(action, resource)[0]

    def surely(self, action: str, resource: str) -> bool:
        """Whether the call is allowed beyond doubt: an unconditional allow, no deny that
        might apply (conditional or not), no missing document. For excusing, never refusing."""
        answer, doubts = self._answer(action, resource)
        return answer is Answer.YES and not doubts

    def whenever(self, action: str, resource: str, then: tuple[str, str]) -> bool:
        """Whether the principal may call *action* on *resource* in every case in which it
        may make the call *then* (another action and resource).

        True when *action* is allowed unconditionally and every conditional ``Deny``
        that could stop it would stop *then* too: the same statement applies to both
        and its condition tests only the caller's context (an MFA requirement over
        all actions, say, but not a resource tag), with no document missing. So a
        user that may attach any policy to itself whenever it may attach one to its
        group gains nothing by the group.
        """
        answer, doubts = self._answer(action, resource)
        if answer is not Answer.YES or _MISSING in doubts or _UNSHARED in doubts:
            return False
        return doubts <= self._answer(*then)[1]

    @property
    def unknown(self) -> bool:
        """Whether some policy (or the boundary) has no document."""
        return None in self.policies or (self.boundary is not None and None in self.boundary)

    def __repr__(self) -> str:
        return f"Evaluator(policies={len(self.policies)}, boundary={self.boundary is not None})"
