"""Notebook views, DataFrames, pictures and proposal edits as a reviewer uses them."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

import groupify
from groupify import ProposalError
from groupify.runtime.checks import UserCheck, VerifyReport
from groupify.runtime.result import ApplyResult
from tests.support import aws, make_inventory

EXAMPLE = Path(__file__).parents[1] / "examples" / "acme-gaad.json"


@pytest.fixture(scope="module")
def proposal() -> groupify.Proposal:
    return groupify.propose(groupify.load_gaad(EXAMPLE), exclude_tags=["BreakGlass"])


def text(markup: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", markup))


def test_proposal_view_summary_first_then_groups(proposal: groupify.Proposal) -> None:
    """The proposal view opens with the summary, then lists every group and exception."""
    page = proposal._repr_html_()
    assert page.index("users in scope") < page.index("<h4>Groups</h4>")
    words = text(page)
    for g in proposal.groups:
        assert g.name in words
    assert "breakglass-admin" in words and "excluded by tag BreakGlass=true" in words
    assert "AWS-managed" in words and "customer-managed" in words and "inline" in words
    assert "existing, reused" in words


def test_plan_view_marks_removals_and_headroom(proposal: groupify.Proposal) -> None:
    """The plan view shows steps by op, quota headroom, and marks destructive steps."""
    plan = groupify.build_plan(proposal)
    words = text(plan._repr_html_())
    assert "Quota headroom" in words and "Groups per user" in words
    assert words.count("removes direct policy") >= 1
    assert "detach_user_policy" in words
    assert "all 2" in words  # long tables are folded, with the full list in <details>


def test_views_escape_account_data() -> None:
    """Tag values and inline policy names are escaped."""
    inv = make_inventory({"a": {"managed": [aws("ReadOnlyAccess")], "tags": {"team": "<b>x</b>"}}})
    page = inv._repr_html_()
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page


def test_plain_repr_stays_short(proposal: groupify.Proposal) -> None:
    """repr() is one short line even when the HTML view is long."""
    assert "\n" not in repr(proposal) and len(repr(proposal)) < 120


def test_edit_shows_what_changed(proposal: groupify.Proposal) -> None:
    """An edited proposal's view starts with the change; diff() says the same in text."""
    first = next(g for g in proposal.groups if not g.existing and len(g.members) > 2)
    moved = sorted(first.members)[:2]
    edited = proposal.split(first.name, moved, name="split-off").rename(first.name, "renamed")
    diff = proposal.diff(edited)
    assert diff.added == ("split-off",)
    assert diff.renamed == ((first.name, "renamed"),)
    assert {u for u, _, _ in diff.moved} == set(moved)
    assert "Changed by the last edit" in edited._repr_html_()
    assert "+ group split-off" in str(proposal.diff(edited))
    assert str(proposal.diff(proposal)) == "(no change)"


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda p, g: p.split(g.name, ["nobody"]), "not in group"),
        (lambda p, g: p.split(g.name, sorted(g.members)), "rename it instead"),
        (lambda p, g: p.split(g.name, []), "give the members"),
        (lambda p, g: p.rename("no-such-group", "x"), "no proposed group"),
        (lambda p, g: p.exclude_user(sorted(g.members)[0], "  "), "needs a reason"),
    ],
)
def test_invalid_edits_say_how_to_fix(
    proposal: groupify.Proposal, edit: object, match: str
) -> None:
    """Invalid edits raise ProposalError with a hint."""
    group = next(g for g in proposal.groups if not g.existing and len(g.members) > 2)
    with pytest.raises(ProposalError, match=match):
        edit(proposal, group)  # type: ignore[operator]


def test_dataframes(proposal: groupify.Proposal) -> None:
    """Users, groups and steps come out as DataFrames a reviewer can filter."""
    pytest.importorskip("pandas")
    users = proposal.inventory.to_dataframe()
    assert users["iam2_failing"].sum() == len([u for u in proposal.inventory.users if u.direct])
    groups = proposal.to_dataframe()
    assert set(groups["group"]) == {g.name for g in proposal.groups}
    assert set(groups["policy_kind"]) >= {"AWS-managed", "customer-managed", "inline"}
    memberships = proposal.to_dataframe("users")
    assert "breakglass-admin" in set(memberships["user"])
    steps = groupify.build_plan(proposal).to_dataframe()
    assert steps["destructive"].sum() == sum(
        1 for s in groupify.build_plan(proposal).steps if s.is_destructive
    )
    with pytest.raises(ValueError, match="groups"):
        proposal.to_dataframe("nope")


def test_pictures(proposal: groupify.Proposal, tmp_path: Path) -> None:
    """Both pictures draw, for one proposal and for two side by side."""
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from groupify.proposal.pictures import plot_groups_per_user, plot_structure

    fig = plot_structure(proposal)
    fig.savefig(tmp_path / "s.png")
    assert (tmp_path / "s.png").stat().st_size > 10_000
    labels = [t.get_text() for t in fig.axes[0].texts]
    assert any(label.startswith(proposal.groups[0].name) for label in labels)
    fig = plot_groups_per_user([proposal, proposal], labels=["exact", "again"])
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == [
        f"exact: {len(proposal.groups)} groups",
        f"again: {len(proposal.groups)} groups",
    ]


def test_result_and_verify_views() -> None:
    """Apply results and verify reports render their status."""
    result = ApplyResult("apply", ["s1"], [], [("s2", "AccessDenied")], ["s3"])
    assert "stopped before the end" in text(result._repr_html_())
    report = VerifyReport("1", (UserCheck("a", False, True, "direct policies: X"),), ())
    assert "1 user(s) fail" in text(report._repr_html_())
