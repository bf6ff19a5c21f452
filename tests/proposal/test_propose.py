"""Exact clustering, reuse, quotas, names, exemptions and proposal edits."""

from __future__ import annotations

import attrs
import pytest

import groupify
from groupify import InvalidNameError, ProposalError, QuotaError, Quotas, StalePlanError
from groupify.inventory.names import policy_slug, slug, validate_name
from tests.support import aws, cust, doc, make_inventory


def by_members(proposal: groupify.Proposal) -> dict[frozenset[str], groupify.ProposedGroup]:
    return {g.members: g for g in proposal.groups}


def test_exact_one_group_per_distinct_set(small: groupify.Inventory) -> None:
    """Users with the same direct set share a group; a break-glass user is an exception."""
    p = groupify.propose(small, exclude_tags=["BreakGlass"])
    groups = by_members(p)
    assert set(groups) == {frozenset({"alice", "bob"}), frozenset({"carol"})}
    assert groups[frozenset({"alice", "bob"})].name == "data-analyst"
    assert groups[frozenset({"carol"})].name == "ec2-s3-readonly"
    assert [(e.user, e.reason) for e in p.exceptions] == [
        ("root-bg", "excluded by tag BreakGlass=true")
    ]
    assert {u.name for u in p.in_scope} == {"alice", "bob", "carol"}


def test_user_without_direct_policies_is_out_of_scope(small: groupify.Inventory) -> None:
    """dave only has group access: already compliant, never touched."""
    p = groupify.propose(small)
    assert "dave" not in {u.name for u in p.in_scope}


@pytest.mark.parametrize(
    ("users", "tags", "exempt"),
    [
        (["root-bg"], [], {"root-bg"}),
        (["root-*"], [], {"root-bg"}),
        (["a*"], [], {"alice"}),
        ([], ["BreakGlass"], {"root-bg"}),
        ([], ["BreakGlass=false"], set()),
        ([], ["Team=data"], {"alice", "bob"}),
    ],
)
def test_exemptions_by_glob_and_tag(
    small: groupify.Inventory, users: list[str], tags: list[str], exempt: set[str]
) -> None:
    """--exclude-user globs and --exclude-tag KEY[=VALUE] select exactly the intended users."""
    p = groupify.propose(small, exclude_users=users, exclude_tags=tags, allow_unmatched=True)
    assert {e.user for e in p.exceptions} == exempt
    assert not exempt & {m for g in p.groups for m in g.members}


def test_caller_is_never_in_scope() -> None:
    """The IAM user running groupify is left alone, with a reason."""
    inv = make_inventory(
        {
            "me": {"managed": [aws("AdministratorAccess")]},
            "x": {"managed": [aws("ReadOnlyAccess")]},
        },
        caller="me",
    )
    p = groupify.propose(inv)
    assert [(e.user, e.reason) for e in p.exceptions] == [("me", "runs groupify")]
    assert [u.name for u in p.in_scope] == ["x"]


def test_existing_group_with_equal_policies_is_reused_unchanged() -> None:
    """A set equal to an existing group's policies reuses it; nothing is created."""
    inv = make_inventory(
        {"a": {"managed": [aws("ReadOnlyAccess")]}, "b": {"managed": [aws("ReadOnlyAccess")]}},
        {"ReadOnly": {"managed": [aws("ReadOnlyAccess")]}},
    )
    p = groupify.propose(inv)
    assert len(p.groups) == 1
    g = p.groups[0]
    assert (g.name, g.existing, g.members) == ("ReadOnly", True, frozenset({"a", "b"}))
    plan = groupify.build_plan(p)
    assert [s.op for s in plan.steps].count("create_group") == 0


def test_direct_policy_already_granted_by_a_group_is_just_detached() -> None:
    """A direct policy the user already gets from its group needs no new group."""
    inv = make_inventory(
        {"a": {"managed": [aws("ReadOnlyAccess")], "groups": ["ro"]}},
        {"ro": {"managed": [aws("ReadOnlyAccess")]}},
    )
    p = groupify.propose(inv)
    assert p.groups == ()
    plan = groupify.build_plan(p)
    assert [s.op for s in plan.steps] == ["detach_user_policy"]


def test_more_than_ten_managed_policies_are_split() -> None:
    """A set of 13 managed policies becomes two groups of at most 10, both joined."""
    arns = [aws(f"Policy{i:02d}") for i in range(13)]
    inv = make_inventory({"a": {"managed": arns}, "b": {"managed": arns}})
    p = groupify.propose(inv)
    assert len(p.groups) == 2
    assert all(g.managed_count <= 10 for g in p.groups)
    assert {g.members for g in p.groups} == {frozenset({"a", "b"})}
    assert frozenset().union(*(g.policies for g in p.groups)) == inv.users[0].direct
    assert sorted(g.name for g in p.groups)[0].endswith("-part1")


def test_inline_over_budget_becomes_managed() -> None:
    """Inline documents beyond the group's inline budget become customer-managed policies."""
    big = [doc(f"svc{i}:" + "A" * 60) for i in range(3)]
    inv = make_inventory(
        {"a": {"inline": {f"p{i}": d for i, d in enumerate(big)}}},
        quotas=Quotas(group_inline_chars=200),
    )
    p = groupify.propose(inv)
    (g,) = p.groups
    assert g.inline_size <= 200
    assert len(g.as_managed) == 2
    plan = groupify.build_plan(p)
    ops = [s.op for s in plan.steps]
    assert ops.count("create_policy") == 2
    assert ops.count("put_group_policy") == 1
    created = [s for s in plan.steps if s.op == "create_policy"]
    assert all(s.params["Path"] == "/groupify/" for s in created)


def test_groups_per_user_quota_names_users() -> None:
    """Where a user would need more groups than allowed, QuotaError names the user."""
    arns = [aws(f"P{i:02d}") for i in range(5)]
    inv = make_inventory(
        {"a": {"managed": arns}, "b": {"managed": arns[:1]}},
        quotas=Quotas(managed_policies_per_group=2, groups_per_user=2),
    )
    with pytest.raises(QuotaError) as info:
        groupify.propose(inv)
    assert info.value.users == ("a",)
    assert info.value.quota == "GroupsPerUserQuota"
    assert "'a'" not in str(info.value) and "a" in str(info.value)


def test_existing_memberships_count_against_groups_per_user() -> None:
    """A user already in the maximum number of groups cannot join one more."""
    groups = {f"g{i}": {} for i in range(2)}
    inv = make_inventory(
        {"a": {"managed": [aws("ReadOnlyAccess")], "groups": ["g0", "g1"]}},
        groups,
        quotas=Quotas(groups_per_user=2),
    )
    with pytest.raises(QuotaError, match="more than 2 groups"):
        groupify.propose(inv)


def test_groups_per_account_quota() -> None:
    """New groups plus existing ones may not exceed the account quota."""
    inv = make_inventory(
        {"a": {"managed": [aws("A")]}, "b": {"managed": [aws("B")]}},
        quotas=Quotas(groups_per_account=5),
        group_count=4,
    )
    with pytest.raises(QuotaError) as info:
        groupify.propose(inv)
    assert info.value.quota == "GroupsQuota"
    assert info.value.limit == 5


def test_names_are_unique_ignoring_case_against_existing_groups() -> None:
    """A proposed name never clashes, ignoring case, with an existing group."""
    inv = make_inventory(
        {"a": {"managed": [aws("ReadOnlyAccess")], "tags": {"Team": "Data"}}},
        {"DATA": {"managed": [aws("AdministratorAccess")]}},
    )
    (g,) = groupify.propose(inv).groups
    assert g.name.lower() != "data"
    assert g.name == "data-readonly"


def test_names_from_tags_are_disambiguated() -> None:
    """Two sets in one team get the team name plus their policies."""
    inv = make_inventory(
        {
            "a": {"managed": [aws("ReadOnlyAccess")], "tags": {"team": "web"}},
            "b": {"managed": [aws("ReadOnlyAccess")], "tags": {"team": "web"}},
            "c": {"managed": [aws("PowerUserAccess")], "tags": {"team": "web"}},
        }
    )
    names = {g.members: g.name for g in groupify.propose(inv).groups}
    assert names == {frozenset({"a", "b"}): "web", frozenset({"c"}): "web-poweruser"}


@pytest.mark.parametrize(
    ("arn", "expected"),
    [
        (aws("AmazonS3ReadOnlyAccess"), "s3-readonly"),
        (aws("AmazonEC2FullAccess"), "ec2-full"),
        (aws("AdministratorAccess"), "administrator"),
        (aws("ReadOnlyAccess"), "readonly"),
        (aws("job-function/DataScientist"), "data-scientist"),
        (aws("AWSBillingReadOnlyAccess"), "billing-readonly"),
        (cust("deploy_prod"), "deploy-prod"),
        (
            cust("privesc-sagemakerCreatePresignedNotebookUrl-policy"),
            "privesc-sagemaker-create-presigned-notebook-url",
        ),
        (cust("S3AccessPolicy"), "s3"),
        (cust("TeamBilling"), "team-billing"),
        (aws("CloudWatchReadOnlyAccess"), "cloudwatch-readonly"),
        (aws("AmazonDynamoDBFullAccess"), "dynamodb-full"),
    ],
)
def test_policy_slugs(arn: str, expected: str) -> None:
    """Policy labels in names read like a reviewer would write them."""
    inv = make_inventory({})
    assert policy_slug(groupify.PolicyRef.managed(arn), inv) == expected


@pytest.mark.parametrize("name", ["", "a" * 129, "has space", "semi;colon", "é"])
def test_invalid_names_are_refused(name: str) -> None:
    """Names IAM would refuse raise InvalidNameError."""
    with pytest.raises(InvalidNameError):
        validate_name(name)


def test_valid_name_characters() -> None:
    """Every character IAM allows is allowed."""
    assert validate_name("a+b=c,d.e@f_g-h" + "x" * 113) == "a+b=c,d.e@f_g-h" + "x" * 113
    assert slug(" Data Team / EU ") == "data-team-eu"


def test_long_names_are_cut_to_128() -> None:
    """Names from many long policy names stay within 128 characters."""
    arns = [cust("x" * 100 + str(i)) for i in range(3)]
    (g,) = groupify.propose(make_inventory({"a": {"managed": arns}})).groups
    assert len(g.name) <= 128


# -- edits ----------------------------------------------------------------------


def test_rename(small: groupify.Inventory) -> None:
    """Rename returns a new, valid proposal; the old one is unchanged."""
    p = groupify.propose(small, exclude_tags=["BreakGlass"])
    q = p.rename("data-analyst", "Analysts")
    assert "Analysts" in {g.name for g in q.groups}
    assert "data-analyst" in {g.name for g in p.groups}


@pytest.mark.parametrize(
    ("new", "error", "match"),
    [
        ("bad name", InvalidNameError, "letters, digits"),
        ("READERS", ProposalError, "taken by existing group 'readers'"),
        ("EC2-S3-readonly", ProposalError, "differ only in case"),
    ],
)
def test_rename_refuses_bad_names(
    small: groupify.Inventory, new: str, error: type[Exception], match: str
) -> None:
    """Invalid or clashing names are refused with a hint."""
    p = groupify.propose(small, exclude_tags=["BreakGlass"])
    with pytest.raises(error, match=match):
        p.rename("data-analyst", new)


def test_merge_that_widens_access_is_refused(small: groupify.Inventory) -> None:
    """Merging groups whose members hold different sets would widen access."""
    p = groupify.propose(small, exclude_tags=["BreakGlass"])
    with pytest.raises(ProposalError, match="would gain") as info:
        p.merge("data-analyst", "ec2-s3-readonly")
    assert info.value.users


def test_merge_of_equal_sets_is_allowed() -> None:
    """Two groups with the same policies merge into one holding both sets of members."""
    inv = make_inventory(
        {"a": {"managed": [aws("ReadOnlyAccess")]}, "b": {"managed": [aws("ReadOnlyAccess")]}}
    )
    p = groupify.propose(inv)
    (g,) = p.groups
    halves = [attrs.evolve(g, members={"a"}), attrs.evolve(g, name="readonly-b", members={"b"})]
    split = attrs.evolve(p, groups=halves).validate()
    merged = split.merge("readonly", "readonly-b", name="readers")
    assert [(m.name, m.members) for m in merged.groups] == [("readers", frozenset({"a", "b"}))]


def test_move_to_the_same_group_is_refused(small: groupify.Inventory) -> None:
    """Moving a user to the group it is in is a mistake worth saying."""
    p = groupify.propose(small, exclude_tags=["BreakGlass"])
    with pytest.raises(ProposalError, match="already in"):
        p.move_user("alice", "data-analyst", "data-analyst")


def test_move_user_must_keep_access(small: groupify.Inventory) -> None:
    """Moving carol into the analysts' group loses and gains access: refused."""
    p = groupify.propose(small, exclude_tags=["BreakGlass"])
    with pytest.raises(ProposalError, match="carol"):
        p.move_user("carol", "ec2-s3-readonly", "data-analyst")


def test_exclude_user_documents_the_exception(small: groupify.Inventory) -> None:
    """Excluding a user removes it from groups, drops emptied groups and records why."""
    p = groupify.propose(small, exclude_tags=["BreakGlass"]).exclude_user(
        "carol", "contractor, leaving"
    )
    assert "ec2-s3-readonly" not in {g.name for g in p.groups}
    assert ("carol", "contractor, leaving") in {(e.user, e.reason) for e in p.exceptions}
    plan = groupify.build_plan(p)
    assert "carol" not in {s.params.get("UserName") for s in plan.steps}


def test_proposal_file_round_trip(small: groupify.Inventory) -> None:
    """A proposal written to a dict reads back equal, and an edit in the dict is validated."""
    p = groupify.propose(small, exclude_tags=["BreakGlass"]).rename("data-analyst", "analysts")
    data = p.to_dict()
    assert groupify.Proposal.from_dict(data, small) == p
    data["groups"][0]["members"].append("dave")
    with pytest.raises(ProposalError, match="'dave'"):
        groupify.Proposal.from_dict(data, small)


def test_proposal_from_another_inventory_is_stale(small: groupify.Inventory) -> None:
    """A proposal made from another account state is refused."""
    data = groupify.propose(small).to_dict()
    other = make_inventory({"x": {"managed": [aws("ReadOnlyAccess")]}})
    with pytest.raises(StalePlanError):
        groupify.Proposal.from_dict(data, other)


def test_unknown_strategy(small: groupify.Inventory) -> None:
    """An unknown strategy is an input error."""
    with pytest.raises(groupify.InputError, match="unknown strategy"):
        groupify.propose(small, strategy="magic")


def test_repr(small: groupify.Inventory) -> None:
    """The proposal repr is short and exact."""
    p = groupify.propose(small, exclude_tags=["BreakGlass"])
    assert repr(p) == "Proposal(strategy='exact', users=3, groups=2 new + 0 reused, exceptions=1)"
    assert repr(p.group("data-analyst")) == "ProposedGroup('data-analyst', policies=2, members=2)"


def test_deviating_member_of_a_reused_team_is_named_against_it() -> None:
    """When a team reuses an existing group, a deviating member's group says how it differs."""
    team = {"Team": "finance", "JobFunction": "analyst"}
    ro, ce = aws("AWSBillingReadOnlyAccess"), cust("CostExplorerReadOnly")
    inv = make_inventory(
        {
            "a": {"managed": [ro, ce], "tags": team},
            "b": {"managed": [ro, ce], "tags": team},
            "c": {"managed": [ce], "tags": team},
        },
        {"billing-viewers": {"managed": [ro, ce]}},
    )
    names = {g.members: g.name for g in groupify.propose(inv).groups}
    assert names == {
        frozenset({"a", "b"}): "billing-viewers",
        frozenset({"c"}): "finance-analyst-without-billing-readonly",
    }


def test_validation_is_kept_once_passed_and_never_once_failed() -> None:
    """A proposal that passed is not checked again (it is frozen); one that failed fails again,
    and a changed copy of a valid one is checked afresh."""
    inv = make_inventory({"a": {"managed": [aws("ReadOnlyAccess")]}})
    p = groupify.propose(inv)
    assert p.validate() is p
    (g,) = p.groups
    bad = attrs.evolve(p, groups=[attrs.evolve(g, members={"nobody"})])
    for _ in range(2):
        with pytest.raises(ProposalError, match="'nobody'"):
            bad.validate()


def test_scope_kept_from_the_proposal_without_groups_is_what_it_would_be(
    small: groupify.Inventory,
) -> None:
    """propose works out who is in scope once; the proposal it returns says the same as one
    made afresh with its groups."""
    p = groupify.propose(small, exclude_tags=["BreakGlass"])
    fresh = groupify.Proposal(
        inventory=p.inventory, groups=p.groups, exemptions=p.exemptions, strategy=p.strategy
    )
    assert (p.exceptions, p.in_scope, p.needed) == (fresh.exceptions, fresh.in_scope, fresh.needed)
    assert p.exceptions  # the break-glass user
