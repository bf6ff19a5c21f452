"""The change-approval report: content, removal marking, escaping, self-containment."""

from __future__ import annotations

import html as html_module
import re
from html.parser import HTMLParser
from pathlib import Path

import attrs
import pytest

import groupify
from groupify import Plan, PlanVerificationError, Quotas, Step
from groupify.inventory.model import PolicyRef
from groupify.report import render_html, render_markdown
from groupify.report.facts import after, facts
from tests.support import ACCOUNT, aws, doc, make_inventory

EXAMPLE = Path(__file__).parents[2] / "examples" / "acme-gaad.json"

#: A policy path may hold any printable ASCII but space (IAM: ``[\u0021-\u007E]``),
#: so a customer-managed policy ARN can carry markup and Markdown table syntax.
HOSTILE_PATH = "/<script>alert(1)</script>|x&y\"'/"
#: Condition values in a policy document are free text.
HOSTILE_VALUE = "</pre><script>alert(2)</script>|`*_"
#: Reasons are typed by reviewers.
HOSTILE_REASON = "on leave <img src=x onerror=alert(3)> | ask *ops*"
HOSTILE_GROUP_REASON = "<b>bold</b> & <script>alert(4)</script>"


@pytest.fixture(scope="module")
def example() -> Plan:
    inventory = groupify.load_gaad(EXAMPLE)
    return groupify.build_plan(groupify.propose(inventory, exclude_tags=["BreakGlass"]))


@pytest.fixture(scope="module")
def example_html(example: Plan) -> str:
    return render_html(example)


@pytest.fixture(scope="module")
def example_md(example: Plan) -> str:
    return render_markdown(example)


def hostile_plan() -> Plan:
    """A plan whose account and reviewer texts hold markup, as IAM and reviews allow."""
    evil_arn = f"arn:aws:iam::{ACCOUNT}:policy{HOSTILE_PATH}Evil"
    evil_doc = doc("s3:GetObject", resource=f"arn:aws:s3:::bucket/{HOSTILE_VALUE}")
    inventory = make_inventory(
        {
            "ana": {"managed": [evil_arn, aws("ReadOnlyAccess")], "inline": {"q": evil_doc}},
            "ben": {"managed": [evil_arn, aws("ReadOnlyAccess")], "inline": {"q": evil_doc}},
            "cy": {"managed": [aws("AdministratorAccess")]},
        }
    )
    proposal = groupify.propose(inventory).exclude_user("cy", HOSTILE_REASON)
    data = proposal.to_dict()
    data["groups"][0]["reason"] = HOSTILE_GROUP_REASON
    return groupify.build_plan(groupify.Proposal.from_dict(data, inventory))


class _Rows(HTMLParser):
    """The rows of the step table: (tr class, [cell texts]) per step row."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[str, list[str]]] = []
        self._in_steps = False
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table":
            self._in_steps = "steps" in (a.get("class") or "")
        elif tag == "tr" and self._in_steps:
            self.rows.append((a.get("class") or "", []))
        elif tag == "td" and self._in_steps:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None:
            self.rows[-1][1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._in_steps = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def step_rows(html: str) -> dict[str, tuple[str, list[str]]]:
    parser = _Rows()
    parser.feed(html)
    return {cells[0]: (cls, cells) for cls, cells in parser.rows if cells}


def outside_code(md: str) -> str:
    """*md* without fenced blocks and code spans (where text is shown literally)."""
    md = re.sub(r"^(`{3,})[^\n]*\n.*?^\1$", "", md, flags=re.S | re.M)
    return re.sub(r"(`+)(?!`).*?(?<!`)\1(?!`)", "", md)


def html_text(html: str) -> str:
    """The text of an HTML document, tags removed and entities decoded."""
    return html_module.unescape(re.sub(r"<[^>]+>", "", html))


def md_step_rows(md: str) -> dict[str, list[str]]:
    """Step rows of the Markdown tables, split on unescaped pipes."""
    out = {}
    for line in md.splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        if cells and re.fullmatch(r"s\d+", cells[0]):
            out[cells[0]] = cells
    return out


def test_scopefacts(example: Plan, example_html: str, example_md: str) -> None:
    """Account, fingerprint, strategy, counts and versions are stated in both formats."""
    s = example.summary()
    for text in (example_html, example_md):
        assert example.account_id in text
        assert example.fingerprint in text
        assert example.to_dict()["checksum"] in text
        assert f"groupify {groupify.__version__}" in text
        assert f"{s['users_migrated']} (their direct policies are removed)" in text
        assert f"{s['exceptions']} (documented exceptions, not touched)" in text
        assert f"{len(example.steps)} IAM calls" in text
        for op in s["steps_by_op"]:
            assert op in text


def test_every_group_member_and_policy_is_listed(
    example: Plan, example_html: str, example_md: str
) -> None:
    """Each group with its status, members, policies (with kind) and reason."""
    assert any(g["existing"] for g in example.groups)
    for g in example.groups:
        for text in (example_html, example_md):
            assert g["name"] in text
            assert g["reason"] in text
            for member in g["members"]:
                assert member in text
            for p in g["policies"]:
                assert p["name"] in text
    assert "existing, reused unchanged" in example_html
    assert "AWS-managed" in example_md
    assert "customer-managed" in example_md
    assert "inline (embedded in the group)" in example_md


def test_exceptions_say_iam2_stays_failing(
    example: Plan, example_html: str, example_md: str
) -> None:
    """Every exception with its reason, and the consequence for the control."""
    assert example.exceptions
    for text in (example_html, example_md):
        assert "IAM.2 stays failing for 1 user" in text
        for e in example.exceptions:
            assert e.user in text
            assert e.reason in text


def replacing_groups(plan: Plan, step: Step) -> list[str]:
    """The groups the step's user is in at the end (the plan's, and those it was in
    already) that hold the policy the step removes, read from the plan's records."""
    inv = plan.inventory
    user = inv.user_by_name[step.params["UserName"]]
    if step.op == "detach_user_policy":
        removed = step.params["PolicyArn"]
    else:
        document = next(p.document for p in user.inline if p.name == step.params["PolicyName"])
        removed = PolicyRef("inline", document).id
    held = {g["name"]: {p["id"] for p in g["policies"]} for g in plan.groups}
    for name in user.groups:
        held.setdefault(name, {p.id for p in inv.group_by_name[name].policies})
    members = {g["name"]: set(g["members"]) for g in plan.groups}
    return sorted(
        g
        for g, ids in held.items()
        if removed in ids and (g in user.groups or user.name in members.get(g, ()))
    )


def test_removals_are_marked_in_html(example: Plan, example_html: str) -> None:
    """Exactly the detach and delete steps carry the removal class and mark, each naming
    the group that gives the user the same policy."""
    rows = step_rows(example_html)
    assert set(rows) == {s.id for s in example.steps}
    for step in example.steps:
        cls, cells = rows[step.id]
        assert cells[1] == step.op
        assert (cls == "removal") is step.is_destructive
        if step.is_destructive:
            groups = replacing_groups(example, step)
            assert groups, step
            assert cells[-1] == f"yes replaced by group{'s' * (len(groups) > 1)} " + ", ".join(
                groups
            )
        else:
            assert cells[-1] == ""


def test_removals_are_marked_in_markdown(example: Plan, example_md: str) -> None:
    """The same steps, in order, with the same marks and dependencies."""
    rows = md_step_rows(example_md)
    assert list(rows) == [s.id for s in example.steps]
    for step in example.steps:
        cells = rows[step.id]
        assert len(cells) == 6
        assert cells[1] == f"`{step.op}`"
        if step.is_destructive:
            names = ", ".join(f"`{g}`" for g in replacing_groups(example, step))
            assert cells[-1].startswith("**yes**, replaced by group") and names in cells[-1]
        else:
            assert cells[-1] == ""
        assert cells[4] == after(step.after)


def test_one_word_for_removals(example_html: str, example_md: str) -> None:
    """Removal steps are called one thing everywhere: a removed direct grant, never
    "destructive" nor "removes access" (the access stays: a group gives it)."""
    for text in (html_text(example_html), example_md):
        lowered = text.lower()
        assert "destructive" not in lowered
        assert "removes access" not in lowered
        assert "removes a direct grant" in lowered


def test_after_dependencies_are_shown(example: Plan, example_html: str) -> None:
    """Every step's prerequisites are in its row, runs of ids shortened."""
    rows = step_rows(example_html)
    removal = next(s for s in example.steps if s.is_destructive)
    assert removal.after
    assert rows[removal.id][1][4] == after(removal.after)


@pytest.mark.parametrize(
    ("ids", "shown"),
    [
        ((), ""),
        (("s3",), "s3"),
        (("s3", "s4"), "s3, s4"),
        (("s4", "s3", "s5", "s9"), "s3–s5, s9"),
        (("s1", "s2", "s3", "s5", "s6", "s7", "s8"), "s1–s3, s5–s8"),
        (("a", "b"), "a, b"),
    ],
)
def test_after_runs_are_shortened(ids: tuple[str, ...], shown: str) -> None:
    """Consecutive step ids read as ranges; ids of another form are listed as they are."""
    assert after(ids) == shown


def test_rollback_commands(example_html: str, example_md: str) -> None:
    """The exact commands, dry run first, and what rollback leaves alone."""
    for text in (example_html, example_md):
        dry = text.index("groupify rollback --journal plan.json.journal --dry-run")
        real = re.search(r"groupify rollback --journal plan\.json\.journal(?! --dry-run)", text)
        assert real and real.start() > dry
        assert "delete anything groupify did not create" in text
        assert "billing-viewers" in text.split("9. Rollback")[1]


def test_rollback_commands_quote_the_plan_path(example: Plan) -> None:
    """A plan path with a space is quoted for the shell."""
    md = render_markdown(example, plan_path="change 42/plan.json")
    assert "groupify rollback --journal 'change 42/plan.json.journal' --dry-run" in md


def test_verification_statement(example_html: str, example_md: str) -> None:
    """The report says what was verified: replayed, no gap, no widening, after every step."""
    for text in (example_html, example_md):
        assert "Verified." in text
        assert "no gap, no widening" in text
        assert "after every step" in text


def test_quota_headroom(example: Plan, example_md: str) -> None:
    """Each quota with its limit, the plan's maximum and the headroom."""
    inv = example.inventory
    joined = {
        u: sum(1 for g in example.groups if u in g["members"] and not g["existing"])
        for u in example.in_scope
    }
    per_user = max(len(inv.user_by_name[u].groups) + n for u, n in joined.items())
    groups = inv.existing_group_count + example.summary()["groups_created"]
    for quota, reached in [("GroupsPerUserQuota", per_user), ("GroupsQuota", groups)]:
        row = next(line for line in example_md.splitlines() if f"`{quota}`" in line)
        cells = [c.strip() for c in row.split("|")[1:-1]]
        limit = int(cells[1].replace(",", ""))
        assert cells[2:4] == [str(reached), str(limit - reached)]
    for key in ("AttachedPoliciesPerGroupQuota", "GroupPolicySizeQuota", "PoliciesQuota"):
        assert f"`{key}`" in example_md


def test_counts_for_a_user_joining_beside_existing_groups() -> None:
    """Groups per user counts the groups a user is in now plus those it joins."""
    inv = make_inventory(
        {
            "ann": {"managed": [aws("A"), aws("B")], "groups": ["g1", "g2"]},
            "bo": {"managed": [aws("A")]},
        },
        {"g1": {"managed": [aws("X")]}, "g2": {"managed": [aws("Y")]}},
        quotas=Quotas(groups_per_user=3),
    )
    md = render_markdown(groupify.build_plan(groupify.propose(inv)))
    row = next(line for line in md.splitlines() if "`GroupsPerUserQuota`" in line)
    cells = [c.strip() for c in row.split("|")[1:-1]]
    assert cells[1:4] == ["3", "3", "0"]
    assert "ann (2 now + 1 joined)" in cells[5]
    assert cells[4] == "100% **near the limit**"


def over_inline_budget() -> Plan:
    """Two of three inline documents do not fit the group's inline budget."""
    big = [doc(f"svc{i}:" + "A" * 60) for i in range(3)]
    inv = make_inventory(
        {"a": {"inline": {f"p{i}": d for i, d in enumerate(big)}}},
        quotas=Quotas(group_inline_chars=200),
    )
    return groupify.build_plan(groupify.propose(inv))


def test_inline_documents_that_become_managed_policies() -> None:
    """create_policy steps are listed, and their documents' kind and size are shown."""
    plan = over_inline_budget()
    html, md = render_html(plan), render_markdown(plan)
    for text in (html, md):
        assert "inline → new customer-managed policy" in text
        assert "Customer-managed policies created from inline documents" in text
        assert "PolicySizeQuota" in text
        assert "svc0:" in text  # the document, in the appendix
    created = [s.id for s in plan.steps if s.op == "create_policy"]
    assert [i for i in md_step_rows(md) if i in created] == created


@pytest.mark.parametrize("which", ["example", "over-inline-budget", "hostile"])
def test_groups_are_rebuilt_from_steps_when_the_plan_has_none(which: str, example: Plan) -> None:
    """A plan without its reviewed groups still shows each group, from its steps."""
    plan = {"example": lambda: example, "over-inline-budget": over_inline_budget}.get(
        which, hostile_plan
    )()
    shown = facts(plan, plan_path="p", generator=None, checksum="")
    rebuilt = facts(attrs.evolve(plan, groups=()), plan_path="p", generator=None, checksum="")
    assert [attrs.evolve(g, reason="") for g in rebuilt.groups] == [
        attrs.evolve(g, reason="") for g in shown.groups
    ]
    assert {g.reason for g in rebuilt.groups} == {"not recorded in the plan"}
    assert rebuilt.documents == shown.documents


def test_hostile_text_is_escaped_in_html() -> None:
    """Markup from policy paths, documents and reasons is shown as text, never run."""
    html = render_html(hostile_plan()).replace("<wbr>", "")  # line-break hints in ARNs
    assert "<script" not in html.lower()
    assert "<img" not in html.lower()
    assert "<b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;/pre&gt;&lt;script&gt;alert(2)" in html
    assert "on leave &lt;img src=x onerror=alert(3)&gt;" in html
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; &lt;script&gt;alert(4)" in html


def test_hostile_text_is_escaped_in_markdown() -> None:
    """In Markdown, markup is entity-escaped and pipes cannot split a table cell."""
    plan = hostile_plan()
    md = render_markdown(plan)
    assert "<" not in outside_code(md)
    assert "&lt;img src=x onerror=alert(3)&gt; \\| ask \\*ops\\*" in md
    rows = md_step_rows(md)
    assert len(rows) == len(plan.steps)
    assert all(len(cells) == 6 for cells in rows.values())
    exception = next(line for line in md.splitlines() if line.startswith("| `cy`"))
    assert len(re.split(r"(?<!\\)\|", exception)) == 5


def test_markdown_renders_the_samefacts(example: Plan, example_md: str) -> None:
    """Rendered by a Markdown processor, the report holds the facts and no foreign markup."""
    markdown = pytest.importorskip("markdown", reason="Python-Markdown not installed")
    html = markdown.markdown(example_md, extensions=["tables", "fenced_code"])
    text = html_text(html)
    for g in example.groups:
        assert g["name"] in text
        assert all(m in text for m in g["members"])
    assert "groupify rollback --journal plan.json.journal --dry-run" in text
    # one a removing op in the table of calls, and one a step that removes a direct grant
    assert html.count("<td><strong>yes</strong></td>") == 2
    assert html.count("<td><strong>yes</strong>, replaced by group") == sum(
        1 for s in example.steps if s.is_destructive
    )
    hostile = markdown.markdown(render_markdown(hostile_plan()), extensions=["tables"])
    assert not re.search(r"<(script|img|b)\b", hostile)


def test_self_contained(example_html: str) -> None:
    """No script, no external stylesheet, image, font or link: one file, readable offline."""
    lower = example_html.lower()
    assert "<script" not in lower
    assert "<link" not in lower
    assert "@import" not in lower
    assert "url(" not in lower
    assert not re.search(r"\bsrc\s*=", lower)
    hrefs = re.findall(r"\bhref\s*=\s*[\"']?([^\"'\s>]*)", lower)
    assert hrefs
    assert all(h.startswith("#") for h in hrefs)
    assert lower.startswith("<!doctype html>")
    assert '<meta charset="utf-8">' in lower


def test_fragment_for_notebooks(example: Plan) -> None:
    """standalone=False: a div with its own style, every rule scoped to the report."""
    fragment = render_html(example, standalone=False)
    assert not fragment.lower().startswith("<!doctype")
    css = fragment[fragment.index("<style>") + 7 : fragment.index("</style>")]
    assert "@page" not in css and "body" not in css
    selectors = re.findall(r"(?:^|})\s*([^{}@]+)\{", css.replace("@media print{", "}"))
    assert selectors
    for group in selectors:
        for selector in group.split(","):
            assert selector.strip().startswith(".gfy"), selector


def test_deterministic_and_same_from_the_file(example: Plan, tmp_path: Path) -> None:
    """Rendering is repeatable (no clock), and a saved and loaded plan gives the same report."""
    path = tmp_path / "plan.json"
    example.save(path)
    loaded = groupify.load_plan(path)
    assert render_html(loaded) == render_html(example)
    assert render_markdown(loaded) == render_markdown(example)


def test_file_generator_and_checksum_are_shown(example: Plan) -> None:
    """What the plan file says about itself is reported as such."""
    md = render_markdown(example, generator="groupify 0.0.9", checksum="sha256:" + "0" * 64)
    assert "| Plan written by | groupify 0.0.9 |" in md
    assert "sha256:" + "0" * 64 in md


def test_a_plan_that_does_not_verify_is_not_reported() -> None:
    """The report states a verification only after it passes again."""
    inv = make_inventory({"a": {"managed": [aws("ReadOnlyAccess")]}})
    unsafe = Plan(
        inventory=inv,
        steps=[
            Step.make(
                "s1", "detach_user_policy", {"UserName": "a", "PolicyArn": aws("ReadOnlyAccess")}
            )
        ],
        in_scope=["a"],
    )
    with pytest.raises(PlanVerificationError):
        render_html(unsafe)
    with pytest.raises(PlanVerificationError):
        render_markdown(unsafe)


def test_empty_plan() -> None:
    """An account with nothing to migrate still gets a complete, truthful report."""
    inv = make_inventory({"a": {}})
    plan = groupify.build_plan(groupify.propose(inv))
    html, md = render_html(plan), render_markdown(plan)
    for text in (html, md):
        assert "The plan has no step: nothing to change." in text
        assert "nothing to roll back" in text
        assert "No group is needed." in text
        assert "None: every user with a direct policy is in scope" in text


def test_timestamps_when_the_plan_records_them(
    example: Plan, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ "Planned at" and "account read at" come from the plan file (plan.created and the
    inventory's scanned time) where it records them; nothing is shown where it does not."""
    import datetime as dt
    from types import SimpleNamespace

    from groupify.plan.views import timestamps

    assert timestamps(SimpleNamespace(inventory=SimpleNamespace())) == []  # type: ignore[arg-type]
    stamped = SimpleNamespace(
        created="2026-03-02T10:15:00Z",
        inventory=SimpleNamespace(read_at=dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)),
    )
    assert timestamps(stamped) == [  # type: ignore[arg-type]
        ("planned at", "2026-03-02T10:15:00Z"),
        ("account read at", "2026-03-02T09:00:00+00:00"),
    ]
    created = getattr(example, "created", None)
    for text in (render_html(example), render_markdown(example)):
        assert ("Planned at" in text) is bool(created)
    monkeypatch.setattr("groupify.report.facts.timestamps", lambda plan: timestamps(stamped))
    for text in (html_text(render_html(example)), render_markdown(example)):
        assert "Planned at" in text and "2026-03-02T10:15:00Z" in text
        assert "Account read at" in text and "2026-03-02T09:00:00+00:00" in text


def test_estimated_duration_states_its_assumptions(
    example: Plan, example_html: str, example_md: str
) -> None:
    """The report estimates how long apply takes, says it is an estimate, and says what
    it assumes (calls, rate, workers, settle)."""
    from groupify.report.facts import duration, estimate

    e = estimate(example)
    assert e.mutating == len(example.steps)
    assert e.seconds >= len(example.steps) / e.rate
    for text in (html_text(example_html), example_md):
        assert f"Estimated apply time: {e.text}" in text
        assert "An estimate" in text and "not a promise" in text
        assert f"{len(example.steps)} mutating IAM calls" in text
        assert "10 calls a second" in text and "4 workers" in text and "--settle" in text
    assert [duration(s) for s in (3, 42, 150, 3600, 5400)] == [
        "10 seconds",
        "45 seconds",
        "3 minutes",
        "60 minutes",
        "1 hour 30 minutes",
    ]


def test_rollback_section_says_drift_does_not_block_it(example_html: str, example_md: str) -> None:
    """The report says rollback goes ahead when the account drifted, leaving out (and
    listing as kept) what it cannot reverse safely; it no longer says it refuses."""
    for text in (html_text(example_html), example_md):
        rollback = text[text.index("9. Rollback") :]
        assert "rollback still goes ahead" in rollback
        assert "listing each as kept with the reason" in rollback
        assert "stops with a drift error" not in text
