"""What both exporters share: the checks before an export, names, the reviewer's notes.

An export renders a plan that verifies, and only such a plan: :func:`checked`
replays it (:meth:`~groupify.Plan.verify`: no access gap, no widening, no
unaccepted control-path finding) and computes the end state once, from which
the stage-2 checks (:mod:`groupify.export.stage2`) are derived.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable, Iterable, Mapping
from functools import cached_property
from typing import Any

from attrs import frozen

from groupify._version import version
from groupify.inventory.model import PolicyRef
from groupify.inventory.policy import digest
from groupify.plan.model import Plan
from groupify.plan.replay import AccountModel, check_steps, policy_of

__all__ = ["Exported", "Route", "checked", "identifiers", "review_notes", "routes"]


@frozen
class Exported:
    """A plan ready to export: verified, with its end state (the replay's final model)."""

    plan: Plan
    final: AccountModel

    @cached_property
    def removal_routes(self) -> dict[str, tuple[Route, ...]]:
        """:func:`routes`, computed on first use."""
        return _routes(self)

    @property
    def group_order(self) -> tuple[str, ...]:
        """The groups the plan creates or fills, in the order its steps first name them."""
        seen: dict[str, None] = {}
        for s in self.plan.steps:
            if "GroupName" in s.params:
                seen.setdefault(s.params["GroupName"], None)
        return tuple(seen)


def checked(plan: Plan) -> Exported:
    """*plan*, verified again, with its end state; raises as :meth:`Plan.verify` does."""
    plan.verify()
    protected = {e.user: e.reason for e in plan.exceptions}
    final = check_steps(
        plan.inventory, plan.steps, in_scope=plan.in_scope, protected=protected, check_dag=False
    )
    return Exported(plan, final)


@frozen
class Route:
    """What keeps a user's access once a direct grant goes: a group that holds the policy.

    ``kind`` is ``managed`` (``what`` is the ARN attached to the group) or ``inline``
    (``what`` is the group's inline policy name).
    """

    group: str
    kind: str
    what: str


def routes(exported: Exported) -> dict[str, tuple[Route, ...]]:
    """For each step that removes a direct grant (by id): the routes that replace it.

    Worked out once per export (the script, its README and ``grants.json`` all read it).
    """
    return exported.removal_routes


def _routes(exported: Exported) -> dict[str, tuple[Route, ...]]:
    plan, final = exported.plan, exported.final
    out: dict[str, tuple[Route, ...]] = {}
    for s in plan.steps:
        if not s.is_destructive:
            continue
        ref = policy_of(s, plan.inventory, {})
        found: list[Route] = []
        for g in sorted(final.user_groups[s.params["UserName"]]):
            found += [
                Route(g, "managed", arn)
                for arn in sorted(final.group_managed[g])
                if final.ref(arn) == ref
            ]
            found += [
                Route(g, "inline", name)
                for name, doc in sorted(final.group_inline[g].items())
                if ref is not None and PolicyRef("inline", doc) == ref
            ]
        out[s.id] = tuple(found)
    return out


def identifiers(
    names: Iterable[str], form: Callable[[str], str], *, suffix: Callable[[str], str]
) -> dict[str, str]:
    """A unique identifier for each of *names*: ``form(name)``, or, for every name whose
    form another name shares, ``form(name)`` plus ``suffix(digest)`` of the exact name.

    Deterministic: an identifier depends only on the name and the names it collides with.
    """
    by_form: dict[str, list[str]] = {}
    for name in sorted(set(names)):
        by_form.setdefault(form(name), []).append(name)
    out = {}
    for shape, group in by_form.items():
        for name in group:
            out[name] = shape if len(group) == 1 else shape + suffix(digest(name, 8))
    # A name can look like another's suffixed form (``a_b_d44362d6`` beside ``a-b``): the
    # suffixed ones then take longer digests until every identifier is unique.
    length = 8
    while len(set(out.values())) != len(out):
        length += 4
        seen: dict[str, int] = {}
        for ident in out.values():
            seen[ident] = seen.get(ident, 0) + 1
        for name, ident in out.items():
            if seen[ident] > 1 and ident != form(name):
                out[name] = form(name) + suffix(digest(name, length))
        if length > 64:  # every digest differs by then; a bare form collides with a bare one
            for name, ident in sorted(out.items()):
                if list(out.values()).count(ident) > 1:
                    out[name] = form(name) + suffix(digest(name, 64))
            break
    return out


def terraform_identifier(name: str) -> str:
    """``data-analyst`` → ``data_analyst``, ``AmazonS3ReadOnlyAccess`` →
    ``amazon_s3_read_only_access``: snake case, runs of other characters as ``_``, never
    starting with a digit (Terraform's rule)."""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name)
    out = re.sub(r"[^a-z0-9]+", "_", words.lower()).strip("_") or "_"
    return "_" + out if out[0].isdigit() else out


def logical_id(prefix: str, name: str) -> str:
    """``Group`` + ``data-analyst`` → ``GroupDataAnalyst`` (CloudFormation: letters and digits)."""
    parts = re.split(r"[^A-Za-z0-9]+", name)
    return prefix + "".join(p[:1].upper() + p[1:] for p in parts if p)


def one_line(text: str) -> str:
    """*text* with its line breaks and runs of blanks as one space (for a comment)."""
    return " ".join(text.split())


def review_notes(plan: Plan) -> dict[str, Any]:
    """What a code reviewer needs to see beside the resources, as plain data.

    ``groups`` maps a group to its reason and risk flags; the rest is account-wide.
    """
    groups: dict[str, dict[str, Any]] = {
        g["name"]: {"reason": one_line(str(g.get("reason", ""))), "risks": []} for g in plan.groups
    }
    exempt_risks: dict[str, list[str]] = {}
    for r in plan.risks:
        flags = [one_line(str(f)) for f in r.flags]
        if r.subject == "group":
            groups.setdefault(r.name, {"reason": "", "risks": []})["risks"] = flags
        else:
            exempt_risks[r.name] = flags
    return {
        "generator": f"groupify {version()}",
        "account_id": plan.account_id,
        "fingerprint": plan.fingerprint,
        "created": plan.created,
        "exceptions": [
            {
                "user": e.user,
                "reason": one_line(e.reason),
                "keeps": sorted(plan.inventory.label(p) for p in e.policies),
                "risks": exempt_risks.get(e.user, []),
            }
            for e in plan.exceptions
        ],
        "accepted_findings": [one_line(f.why) for f in plan.findings if f.key in plan.accepted],
        "role_control_paths": _role_lines(plan),
        "groups": groups,
    }


def _role_lines(plan: Plan) -> list[str]:
    """Per role: the calls it may make on the plan's groups, and which groups."""
    actions: dict[str, set[str]] = {}
    groups: dict[str, set[str]] = {}
    for p in plan.role_paths:
        actions.setdefault(p.role, set()).add(p.action.split(":", 1)[-1])
        groups.setdefault(p.role, set()).add(p.group)
    return [
        f"role {role}: {', '.join(sorted(actions[role]))} on {', '.join(sorted(groups[role]))}"
        for role in sorted(actions)
    ]


def wrap(lines: Iterable[str], width: int = 96) -> list[str]:
    """*lines* cut at *width*; an indented line's continuations are indented two more."""
    out = []
    for line in lines:
        lead = line[: len(line) - len(line.lstrip())]
        out += textwrap.wrap(
            line,
            width,
            initial_indent="",
            subsequent_indent=lead + "  " if lead else "",
            break_long_words=False,
            break_on_hyphens=False,
        ) or [""]
    return out


def header_lines(notes: Mapping[str, Any], *, what: str) -> list[str]:
    """The reviewer's notes as comment lines (without the comment marker)."""
    lines = [
        what,
        "",
        f"Account:   {notes['account_id']}",
        f"Plan:      {notes['fingerprint']}",
        *([f"Made:      {notes['created']}"] if notes["created"] else []),
        f"Generator: {notes['generator']}",
        "Do not edit. For a later change, make a new plan and export it into a new directory,",
        "applied with its own state: laid over this one after it is applied, a later export",
        "reads the groups this one made (they exist by then) instead of declaring them, and",
        "Terraform would destroy them.",
    ]
    if notes["exceptions"]:
        lines += ["", "Documented exceptions (not touched; IAM.2 still fails for them):"]
        for e in notes["exceptions"]:
            keeps = f"; keeps {', '.join(e['keeps'])}" if e["keeps"] else ""
            lines.append(f"  {e['user']}: {e['reason']}{keeps}")
            lines += [f"    risk: {flag}" for flag in e["risks"]]
    if notes["accepted_findings"]:
        lines += ["", "Control-path findings a reviewer accepted:"]
        lines += [f"  {f}" for f in notes["accepted_findings"]]
    if notes["role_control_paths"]:
        lines += ["", "Roles that may change or join these groups (not refused):"]
        lines += [f"  {p}" for p in notes["role_control_paths"]]
    flagged = [(g, v["risks"]) for g, v in notes["groups"].items() if v["risks"]]
    if flagged:
        lines += ["", "Risk review: groups to look at before approving (see each group below):"]
        lines += [f"  {g}: {len(flags)} flag(s)" for g, flags in flagged]
    return wrap(lines)
