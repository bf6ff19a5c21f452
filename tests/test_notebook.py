"""Notebook views, DataFrames, pictures and proposal edits as a reviewer uses them."""

from __future__ import annotations

import html
import json
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
    """The plan view shows steps by op, quota headroom, and marks each step that removes a
    direct grant with the group replacing it, in a labelled column."""
    plan = groupify.build_plan(proposal)
    page = plan._repr_html_()
    words = text(page)
    assert "Quota headroom" in words and "Groups per user" in words
    assert "detach_user_policy" in words
    assert "all 2" in words  # long tables are folded, with the full list in <details>
    assert "<th></th>" not in page  # every column has a header
    steps_head = re.search(r"<h4>Steps</h4><table[^>]*><thead><tr>(.*?)</tr>", page)
    assert steps_head is not None
    assert re.findall(r"<th[^>]*>([^<]*)</th>", steps_head.group(1)) == [
        "id",
        "op",
        "target",
        "removes a direct grant",
        "after",
    ]
    removal = next(s for s in plan.steps if s.is_destructive)
    row = re.search(rf"<tr><td>{removal.id}</td>(.*?)</tr>", page)
    assert row is not None and "yes" in text(row.group(1))
    assert "replaced by group" in text(row.group(1))
    assert "destructive" not in words.lower() and "removes direct policy" not in words


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
    assert "Changed since proposed" in edited._repr_html_()
    assert "+ group split-off" in str(proposal.diff(edited))
    assert str(proposal.diff(proposal)) == "(no change)"


def test_view_shows_every_change_since_proposed(proposal: groupify.Proposal) -> None:
    """After several edits the view lists every change since the proposal was made (not
    only the last edit's), and each edit's own changes in a fold."""
    big = [g for g in proposal.groups if not g.existing and len(g.members) > 2]
    first, second = big[0], big[1]
    edited = (
        proposal.split(first.name, sorted(first.members)[:2], name="split-off")
        .rename(second.name, "renamed")
        .exclude_user(sorted(first.members)[-1], "leaves next week")
    )
    every = proposal.diff(edited).lines()
    assert len(every) >= 5
    words = text(edited._repr_html_())
    shown = words[words.index("Changed since proposed") : words.index("Groups ")]
    for line in every:
        assert line in shown, line
    assert f"{len(every)} change(s) in 3 edit(s)" in shown
    assert "each of the 3 edits" in shown


def test_long_diff_is_folded_not_cut(proposal: groupify.Proposal) -> None:
    """A diff longer than the fold shows its first lines and keeps the rest in <details>."""
    from groupify._views import FOLD
    from groupify.proposal.model import ProposalDiff
    from groupify.proposal.views import diff_html

    users = [f"u{i:02}" for i in range(FOLD + 5)]
    diff = ProposalDiff((), (), (), tuple((u, ("a",), ("b",)) for u in users), ())
    page = diff_html(diff)
    assert all(f"user {u}: a -&gt; b" in page for u in users)
    assert "<details>" in page and f"the other 5 of {FOLD + 5} changes" in page


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
    plan = groupify.build_plan(proposal)
    steps = plan.to_dataframe()
    assert steps["removes_direct_grant"].sum() == sum(1 for s in plan.steps if s.is_destructive)
    removals = steps[steps["removes_direct_grant"]]
    assert removals["replaced_by"].notna().all()
    assert steps[~steps["removes_direct_grant"]]["replaced_by"].isna().all()
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


def test_dry_run_view_lists_the_steps_to_run(proposal: groupify.Proposal) -> None:
    """A dry run's view lists what would run: the step ids alone (all the result holds),
    and with the plan each step's call, target and the group replacing a removed grant."""
    from groupify.runtime.views import dry_run_view

    plan = groupify.build_plan(proposal)
    done, todo = plan.steps[:3], plan.steps[3:]
    preview = ApplyResult("dry-run", [], [s.id for s in done], [], [s.id for s in todo])
    words = text(preview._repr_html_())
    assert f"Would run: {len(todo)} step(s)" in words
    assert f"{todo[0].id}–{todo[-1].id}" in words  # the ids, as a range
    page = dry_run_view(preview, plan)._repr_html_()
    for step in todo[:20]:
        assert f"<td>{step.id}</td><td>{step.op}</td>" in page
    assert done[0].id not in re.findall(r"<td>(s\d+)</td>", page)
    assert "removes a direct grant" in text(page) and "replaced by group" in text(page)
    nothing = ApplyResult("dry-run", [], [s.id for s in plan.steps], [], [])
    assert "Nothing would run" in text(nothing._repr_html_())


def test_pictures_stay_legible_at_thousands_of_users(tmp_path: Path) -> None:
    """At 5,000 users (about 60 groups) the structure picture aggregates: every drawn node
    has a label, the rest sit in an "others" node, and no two labels overlap."""
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from groupify.proposal.pictures import plot_structure
    from groupify.testing import synthetic_gaad

    gaad = tmp_path / "gaad.json"
    gaad.write_text(json.dumps(synthetic_gaad(users=5000, seed=0)), encoding="utf-8")
    big = groupify.propose(groupify.load_gaad(gaad), exclude_tags=["BreakGlass"])
    assert len(big.groups) > 40
    fig = plot_structure(big)
    fig.savefig(tmp_path / "big.png", dpi=60)
    ax = fig.axes[0]
    labels = [t for t in ax.texts if t.get_text()]
    names = [t.get_text() for t in labels]
    largest = max(big.groups, key=lambda g: len(g.members))
    assert f"{largest.name} ({len(largest.members):,})" in names
    assert any(n.startswith("+") and "other groups" in n for n in names)
    renderer = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in labels]
    page = fig.bbox
    for i, a in enumerate(boxes):
        assert page.x0 <= a.x0 and a.x1 <= page.x1 and page.y0 <= a.y0 and a.y1 <= page.y1
        for b in boxes[i + 1 :]:
            assert not a.overlaps(b), (names[i], names[boxes.index(b)])
    # One label per node drawn: markers and labels match, a row each.
    groups, policies = ax.collections[0], ax.collections[1]
    assert len(groups.get_offsets()) + len(policies.get_offsets()) == len(labels)
