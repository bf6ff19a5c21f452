"""The policy evaluator: IAM's identity-policy logic, against a brute-force oracle."""

from __future__ import annotations

import fnmatch
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from groupify.privilege.evaluate import (
    Answer,
    Evaluator,
    action_matches,
    resource_matches,
    statements,
)

GROUP = "arn:aws:iam::123456789012:group/dev"
USER = "arn:aws:iam::123456789012:user/ann"


def policy(*statements_: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements_)})


def allow(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


@pytest.mark.parametrize(
    ("pattern", "action", "expected"),
    [
        ("iam:AttachGroupPolicy", "iam:AttachGroupPolicy", True),
        ("IAM:attachgrouppolicy", "iam:AttachGroupPolicy", True),
        ("iam:Put*", "iam:PutGroupPolicy", True),
        ("iam:Put*", "iam:AttachGroupPolicy", False),
        ("iam:*Group*", "iam:AddUserToGroup", True),
        ("*", "s3:GetObject", True),
        ("iam:?ddUserToGroup", "iam:AddUserToGroup", True),
        ("iam:?UserToGroup", "iam:AddUserToGroup", False),
        ("s3:*", "iam:PutGroupPolicy", False),
    ],
)
def test_action_wildcards_ignore_case(pattern: str, action: str, expected: bool) -> None:
    """Actions match with * and ? and ignoring case, as IAM matches them."""
    assert action_matches(pattern, action) is expected


@pytest.mark.parametrize(
    ("pattern", "arn", "expected"),
    [
        (GROUP, GROUP, (True, False)),
        ("arn:aws:iam::123456789012:group/*", GROUP, (True, False)),
        ("arn:aws:iam::123456789012:GROUP/dev", GROUP, (False, False)),
        ("arn:aws:iam::*:user/${aws:username}", USER, (True, True)),
        ("arn:aws:iam::*:user/${aws:username}", GROUP, (False, True)),
    ],
)
def test_resources_match_case_sensitively_and_variables_are_flagged(
    pattern: str, arn: str, expected: tuple[bool, bool]
) -> None:
    """Resource ARNs are case-sensitive; a policy variable matches like * and says so."""
    assert resource_matches(pattern, arn) == expected


@pytest.mark.parametrize(
    ("documents", "action", "resource", "expected"),
    [
        ([policy(allow("iam:AttachGroupPolicy"))], "iam:AttachGroupPolicy", GROUP, Answer.YES),
        ([policy(allow("iam:AttachGroupPolicy"))], "iam:PutGroupPolicy", GROUP, Answer.NO),
        (
            [policy(allow("iam:*"), deny("iam:AttachGroupPolicy"))],
            "iam:AttachGroupPolicy",
            GROUP,
            Answer.NO,
        ),
        (
            [policy(allow("iam:*")), policy(deny("iam:Attach*", GROUP))],
            "iam:AttachGroupPolicy",
            GROUP,
            Answer.NO,
        ),
        (
            [policy({"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"})],
            "iam:AddUserToGroup",
            GROUP,
            Answer.YES,
        ),
        (
            [policy({"Effect": "Allow", "NotAction": ["iam:*"], "Resource": "*"})],
            "iam:AddUserToGroup",
            GROUP,
            Answer.NO,
        ),
        (
            [policy({"Effect": "Allow", "Action": "iam:*", "NotResource": GROUP})],
            "iam:PutGroupPolicy",
            GROUP,
            Answer.NO,
        ),
        (
            [policy({"Effect": "Allow", "Action": "iam:*", "NotResource": USER})],
            "iam:PutGroupPolicy",
            GROUP,
            Answer.YES,
        ),
        (
            [
                policy(
                    allow(
                        "iam:PutGroupPolicy",
                        Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}},
                    )
                )
            ],
            "iam:PutGroupPolicy",
            GROUP,
            Answer.CONDITIONAL,
        ),
        (
            [
                policy(
                    allow("iam:*"),
                    deny("iam:*", Condition={"Bool": {"aws:SecureTransport": "false"}}),
                )
            ],
            "iam:PutGroupPolicy",
            GROUP,
            Answer.YES,
        ),
        (
            [policy(allow("iam:*", "arn:aws:iam::*:user/${aws:username}"))],
            "iam:PutUserPolicy",
            USER,
            Answer.CONDITIONAL,
        ),
        ([None], "iam:AttachGroupPolicy", GROUP, Answer.UNKNOWN),
        ([None, policy(deny("*"))], "iam:AttachGroupPolicy", GROUP, Answer.NO),
        ([None, policy(allow("iam:*"))], "iam:AttachGroupPolicy", GROUP, Answer.YES),
        (["not json"], "iam:AttachGroupPolicy", GROUP, Answer.UNKNOWN),
        ([], "iam:AttachGroupPolicy", GROUP, Answer.NO),
    ],
)
def test_decisions(
    documents: list[str | None], action: str, resource: str, expected: Answer
) -> None:
    """Explicit deny wins, NotAction and NotResource invert, a condition makes "may"."""
    assert Evaluator.of(documents).may(action, resource) is expected


@pytest.mark.parametrize(
    ("boundary", "expected"),
    [
        (policy(allow("iam:*Group*")), Answer.YES),
        (policy(allow("s3:*")), Answer.NO),
        (
            policy(
                allow("iam:*", Condition={"StringEquals": {"aws:RequestedRegion": "eu-west-1"}})
            ),
            Answer.CONDITIONAL,
        ),
        (None, Answer.UNKNOWN),
    ],
)
def test_a_boundary_must_allow_too(boundary: str | None, expected: Answer) -> None:
    """With a permissions boundary, both the policies and the boundary must allow."""
    evaluator = Evaluator.of([policy(allow("*"))], boundary)
    assert evaluator.may("iam:AttachGroupPolicy", GROUP) is expected


def test_a_boundary_never_grants() -> None:
    """A boundary that allows everything adds nothing the policies do not allow."""
    assert Evaluator.of([], policy(allow("*"))).may("iam:PutGroupPolicy", GROUP) is Answer.NO


@pytest.mark.parametrize(
    "document",
    [
        "[]",
        json.dumps({"Statement": [{"Effect": "Maybe", "Action": "*", "Resource": "*"}]}),
        json.dumps({"Statement": [{"Effect": "Allow", "Resource": "*"}]}),
        json.dumps(
            {
                "Statement": [
                    {"Effect": "Allow", "Action": "*", "NotAction": "s3:*", "Resource": "*"}
                ]
            }
        ),
        json.dumps({"Statement": [{"Effect": "Allow", "Action": "*"}]}),
        json.dumps({"Statement": 7}),
    ],
)
def test_documents_iam_would_refuse_do_not_parse(document: str) -> None:
    """statements() refuses what is not an identity policy; the evaluator calls it unknown."""
    with pytest.raises(ValueError, match=r"[Ss]tatement|policy|Effect"):
        statements(document)
    assert Evaluator.of([document]).may("s3:GetObject", "*") is Answer.UNKNOWN


def test_a_single_statement_object_is_a_list_of_one() -> None:
    """Statement may be one object instead of a list, as IAM allows."""
    doc = json.dumps({"Statement": allow("iam:PutGroupPolicy")})
    assert Evaluator.of([doc]).may("iam:PutGroupPolicy", GROUP) is Answer.YES


# -- against a brute-force oracle ----------------------------------------------------

ACTIONS = (
    "iam:AttachGroupPolicy",
    "iam:PutGroupPolicy",
    "iam:AddUserToGroup",
    "iam:PutUserPolicy",
    "s3:GetObject",
    "s3:PutObject",
    "ec2:RunInstances",
)
RESOURCES = (
    GROUP,
    "arn:aws:iam::123456789012:group/ops",
    USER,
    "arn:aws:s3:::bucket/key",
)


def _variants(text: str) -> st.SearchStrategy[str]:
    """Patterns that match *text* or a neighbour: itself, prefixes with *, ? in places."""
    cut = st.integers(min_value=0, max_value=len(text))
    return st.one_of(
        st.just(text),
        st.just("*"),
        cut.map(lambda i: text[:i] + "*"),
        cut.map(lambda i: "*" + text[i:]),
        cut.map(lambda i: text[:i] + "?" + text[i + 1 :] if i < len(text) else text),
    )


action_pattern = (
    st.sampled_from(ACTIONS)
    .flatmap(_variants)
    .flatmap(lambda p: st.sampled_from([p, p.lower(), p.upper()]))
)
resource_pattern = st.sampled_from(RESOURCES).flatmap(_variants)


@st.composite
def statement(draw: st.DrawFn) -> dict[str, Any]:
    s: dict[str, Any] = {"Effect": draw(st.sampled_from(["Allow", "Deny"]))}
    s["NotAction" if draw(st.booleans()) and draw(st.booleans()) else "Action"] = draw(
        st.lists(action_pattern, min_size=1, max_size=3)
    )
    s["NotResource" if draw(st.booleans()) and draw(st.booleans()) else "Resource"] = draw(
        st.lists(resource_pattern, min_size=1, max_size=2)
    )
    if draw(st.integers(0, 4)) == 0:
        s["Condition"] = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    return s


documents = st.lists(
    st.one_of(st.none(), st.lists(statement(), min_size=1, max_size=4).map(lambda s: policy(*s))),
    max_size=3,
)


def segment_match(pattern: str, arn: str) -> bool:
    """IAM's documented ARN rule, the long way: fnmatch segment by segment, and a ``*`` that
    ends the pattern's last segment takes the rest of the ARN, colons and all."""
    pats, parts = pattern.split(":"), arn.split(":")
    if pattern == "*":
        return True
    for i, p in enumerate(pats):
        if i == len(pats) - 1 and p.endswith("*"):
            return fnmatch.fnmatchcase(":".join(parts[i:]), p) if i < len(parts) else False
        if i >= len(parts) or not fnmatch.fnmatchcase(parts[i], p):
            return False
    return len(pats) == len(parts) or (
        len(pats) == 6 and fnmatch.fnmatchcase(":".join(parts[5:]), pats[5])
    )


def oracle_decide(docs: list[str | None], action: str, resource: str) -> Answer:
    """IAM's rules written the long way, with fnmatch instead of the evaluator's matching.

    Where the evaluator must choose between a loose and a strict reading of a
    resource pattern, it errs toward "allowed": loose (``*`` crosses colons) for
    what an Allow covers and what a Deny's NotResource leaves out, strict (the
    documented segment rule) for what a Deny covers and an Allow's NotResource
    leaves out. The oracle does the same.
    """
    unknown = any(d is None for d in docs)
    allows: list[bool] = []  # conditional?
    for d in docs:
        if d is None:
            continue
        for s in json.loads(d)["Statement"]:
            patterns = s.get("Action", s.get("NotAction"))
            hit = any(fnmatch.fnmatchcase(action.lower(), p.lower()) for p in patterns)
            if "NotAction" in s:
                hit = not hit
            rs = s.get("Resource", s.get("NotResource"))
            strict = (s["Effect"] == "Allow") == ("NotResource" in s)
            rhit = any(
                segment_match(p, resource) if strict else fnmatch.fnmatchcase(resource, p)
                for p in rs
            )
            if "NotResource" in s:
                rhit = not rhit
            if not (hit and rhit):
                continue
            if s["Effect"] == "Deny":
                if "Condition" not in s:
                    return Answer.NO
            else:
                allows.append("Condition" in s)
    if any(not c for c in allows):
        return Answer.YES
    if allows:
        return Answer.CONDITIONAL
    return Answer.UNKNOWN if unknown else Answer.NO


def oracle(docs: list[str | None], boundary: list[str | None] | None, a: str, r: str) -> Answer:
    answer = oracle_decide(docs, a, r)
    if boundary is None or answer is Answer.NO:
        return answer
    bounded = oracle_decide(boundary, a, r)
    if bounded is Answer.NO:
        return Answer.NO
    rank = [Answer.YES, Answer.CONDITIONAL, Answer.UNKNOWN]
    return max(answer, bounded, key=rank.index)


@given(
    docs=documents,
    boundary=st.one_of(st.none(), documents.filter(lambda d: len(d) == 1)),
    action=st.sampled_from(ACTIONS),
    resource=st.sampled_from(RESOURCES),
)
def test_evaluator_agrees_with_brute_force(
    docs: list[str | None],
    boundary: list[str | None] | None,
    action: str,
    resource: str,
) -> None:
    """Generated grants (wildcards, NotAction, NotResource, Deny, conditions, boundaries)."""
    evaluator = Evaluator.of(docs, () if boundary is None else boundary[0])
    assert evaluator.may(action, resource) is oracle(docs, boundary, action, resource)


@pytest.mark.parametrize(
    ("documents", "expected"),
    [
        ([policy(allow("iam:AttachUserPolicy"))], True),
        (
            [
                policy(
                    allow("iam:AttachUserPolicy"),
                    deny("iam:AttachUserPolicy", Condition={"StringLike": {"aws:username": "*"}}),
                )
            ],
            False,
        ),
        ([policy(allow("iam:AttachUserPolicy")), None], False),
        ([policy(allow("iam:AttachUserPolicy", Condition={"Bool": {"x": "true"}}))], False),
    ],
)
def test_surely_rules_out_every_doubt(documents: list[str | None], expected: bool) -> None:
    """surely(): an unconditional allow with no deny that might apply and no missing document."""
    assert Evaluator.of(documents).surely("iam:AttachUserPolicy", USER) is expected


@pytest.mark.parametrize(
    ("pattern", "strict", "loose"),
    [
        ("arn:aws:iam::1*/dev", False, True),
        ("arn:aws:iam::123456789012?group/dev", False, True),
        ("arn:aws:iam::*:group/*", True, True),
        ("arn:aws:iam::123456789012:group/d*", True, True),
        ("arn:aws:iam::1*", True, True),
        ("arn:*", True, True),
        ("*", True, True),
    ],
)
def test_strict_arn_matching_keeps_wildcards_in_their_segment(
    pattern: str, strict: bool, loose: bool
) -> None:
    """Strict (a Deny's resources): a wildcard stays in its segment unless it ends the last."""
    assert resource_matches(pattern, GROUP, strict=True) == (strict, False)
    assert resource_matches(pattern, GROUP) == (loose, False)


def test_a_deny_with_a_wildcard_across_segments_is_not_relied_on() -> None:
    """IAM would not apply this Deny to the group, so the Allow stands."""
    documents = [
        policy(allow("iam:PutGroupPolicy"), deny("iam:PutGroupPolicy", "arn:aws:iam::1*/dev"))
    ]
    assert Evaluator.of(documents).may("iam:PutGroupPolicy", GROUP) is Answer.YES


def test_many_wildcards_match_without_backtracking() -> None:
    """A pattern of forty wildcards against a long name: answered at once, and rightly
    (a backtracking regex takes exponential time here)."""
    pattern = "arn:aws:iam::123456789012:user/" + "*a" * 40 + "*b"
    name = "arn:aws:iam::123456789012:user/" + "a" * 60
    assert resource_matches(pattern, name) == (False, False)
    assert resource_matches(pattern, name + "b") == (True, False)
    assert action_matches("i*a*m*:*P*u*t*G*r*o*u*p*P*o*l*i*c*y*", "iam:PutGroupPolicy")
