"""The facts of a change-approval report, computed once from a plan.

Both renderings (:mod:`~groupify.report.html`, :mod:`~groupify.report.markdown`)
are made from one :class:`Facts`, so they say the same thing; the wording
they share (the lede, the verification statement, how to roll back) is here
too, and so is the report's per-op renderer (:data:`REPORT`).
"""

from __future__ import annotations

import json
import math
import shlex
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from attrs import field, frozen

from groupify._version import version
from groupify._views import step_ranges
from groupify.errors import InputError
from groupify.inventory.model import PolicyRef
from groupify.inventory.policy import document_size, is_aws_managed
from groupify.plan.model import Plan, Quota
from groupify.plan.ops import CREATED_POLICY_PATH, OPS, PLAN_OPS, Backend
from groupify.plan.privilege import Finding, Risk
from groupify.plan.steps import Step
from groupify.plan.views import REMOVES, replaced_by, replacement, timestamps

__all__ = ["REMOVES", "REPORT", "Estimate", "Facts", "estimate", "facts"]


#: A share of a quota at or above which the report flags it as near the limit.
_NEAR = 0.8


def near(quota: Quota) -> bool:
    return quota.share >= _NEAR


# -- facts ---------------------------------------------------------------------------


@frozen
class Policy:
    """A policy of a group, as a reviewer needs to see it."""

    name: str
    ident: str  # the ARN, or ``inline:<digest>`` of the document
    kind: str  # a reviewer's label, see _policy_kind
    managed: bool  # attached as a managed policy (counts toward the group's quota)


@frozen
class _Group:
    """A group of the plan: new, or existing and reused unchanged."""

    name: str
    existing: bool
    reason: str
    members: tuple[str, ...]
    policies: tuple[Policy, ...]


@frozen
class _User:
    """A user in scope: what it joins and which direct policies go."""

    name: str
    groups_now: tuple[str, ...]
    joins: tuple[str, ...]
    removes: tuple[str, ...]


@frozen
class _Exception:
    """A documented exception: a user left alone, why, and what it keeps."""

    user: str
    reason: str
    keeps: tuple[str, ...]


@frozen
class Segment:
    """Consecutive steps about one thing (a group, a user, created policies)."""

    kind: str  # "group", "user" or "policies"
    name: str
    steps: tuple[Step, ...]
    existing: bool = False  # a group the plan reuses
    #: A user's segment: the groups that replace the direct grants it removes.
    replaced_by: tuple[str, ...] = ()


@frozen
class _Document:
    """An inline document the plan gives to a group, shown once in an appendix."""

    name: str
    ident: str
    groups: tuple[str, ...]
    text: str  # pretty-printed JSON


@frozen
class Estimate:
    """How long ``groupify apply`` may take for a plan, from its calls and stated rates.

    An estimate, not a measurement: :attr:`assumptions` says what it assumes.
    """

    #: The plan's steps: one mutating IAM call each.
    mutating: int
    #: Reads that confirm the group routes before direct grants go (a bulk read of every
    #: user's groups, twice, and each created policy's document), and the pages of the
    #: read of the account under the journal's lock.
    route_reads: int
    account_pages: int
    #: Whether any step removes a direct grant (only those wait for --settle).
    settles: bool
    #: IAM calls per second with the default 4 workers, seconds per page of the account
    #: read, and apply's default --settle.
    rate: float = 10.0
    workers: int = 4
    page_seconds: float = 1.0
    settle: float = 5.0

    @property
    def seconds(self) -> float:
        calls = (self.mutating + self.route_reads) / self.rate
        return calls + self.account_pages * self.page_seconds + self.settle * self.settles

    @property
    def text(self) -> str:
        """``about 2 minutes``."""
        return f"about {duration(self.seconds)}"

    def assumptions(self) -> list[str]:
        """What the estimate assumes, one plain sentence each (shared by both formats)."""
        return [
            f"{plural(self.mutating, 'mutating IAM call')} (one per step) and about "
            f"{plural(self.route_reads, 'read')} confirming group routes before direct grants "
            f"are removed, at about {self.rate:g} calls a second: {self.workers} workers (the "
            "default), near the rate at which IAM throttles mutating calls;",
            f"one read of the whole account before the first call (about "
            f"{plural(self.account_pages, 'page')}, about {self.page_seconds:g} s a page);",
            f"one settle wait of {self.settle:g} s (the default --settle): the plan grants "
            "first, so most waits have passed when a user's direct grants are removed;"
            if self.settles
            else "no settle wait: no step removes a direct grant;",
            "not counted: retries after throttling, waits for IAM to show a group route (up to "
            "120 s before a removal), a slow network, and the confirmation prompt.",
        ]


def duration(seconds: float) -> str:
    """``40 seconds``, ``3 minutes``, ``1 hour 20 minutes``: rounded up, never to zero."""
    if seconds < 90:
        return plural(max(10, 5 * math.ceil(seconds / 5)), "second")
    minutes = math.ceil(seconds / 60)
    if minutes < 90:
        return plural(minutes, "minute")
    hours, rest = divmod(minutes, 60)
    return plural(hours, "hour") + (f" {plural(rest, 'minute')}" if rest else "")


def estimate(plan: Plan) -> Estimate:
    """The :class:`Estimate` of applying *plan* to an account in its inventory's state."""
    inv = plan.inventory
    users = {s.params["UserName"] for s in plan.steps if s.is_destructive}
    # apply confirms routes by bulk reads of every user's groups (one for the removals
    # waiting together, one for those whose grants were answered meanwhile)
    route_pages = max(1, math.ceil((len(inv.users) + len(inv.groups)) / 100))
    entities = len(inv.users) + len(inv.groups) + len(inv.roles) + len(inv.policies)
    return Estimate(
        mutating=len(plan.steps),
        route_reads=2 * route_pages + 2 * len(plan.created_policies) if users else 0,
        account_pages=max(1, math.ceil(entities / 100)),
        settles=bool(users),
    )


@frozen
class Facts:
    """Everything both renderers show, computed once from the plan."""

    account_id: str
    fingerprint: str
    checksum: str
    strategy: str
    generator: str
    renderer: str
    plan_path: str
    summary: Mapping[str, Any]
    in_scope: tuple[_User, ...]
    exceptions: tuple[_Exception, ...]
    groups: tuple[_Group, ...]
    quotas: tuple[Quota, ...]
    steps: tuple[Step, ...]
    segments: tuple[Segment, ...]
    documents: tuple[_Document, ...]
    reverse_calls: tuple[tuple[str, int], ...]
    #: Flagged groups and exempt users (the risk review), and accepted control-path findings.
    risks: tuple[Risk, ...] = ()
    accepted: tuple[Finding, ...] = ()
    #: Roles that may change or join the plan's groups, one line each.
    roles: tuple[str, ...] = ()
    #: Per step that removes a direct grant, the groups that give the same policy instead.
    replaced_by: Mapping[str, tuple[str, ...]] = field(factory=dict)
    #: ("planned at", …), ("account read at", …) where the plan file records them.
    timestamps: tuple[tuple[str, str], ...] = ()
    estimate: Estimate | None = None

    @property
    def removals(self) -> int:
        """How many steps remove a direct grant."""
        return sum(1 for s in self.steps if s.is_destructive)

    def replacing(self, step: Step, code: Callable[[str], str]) -> str:
        """``replaced by group X`` for a step that removes a direct grant, names as *code*."""
        return replacement(self.replaced_by.get(step.id, ()), code)

    @property
    def new_groups(self) -> tuple[_Group, ...]:
        return tuple(g for g in self.groups if not g.existing)

    @property
    def reused_groups(self) -> tuple[_Group, ...]:
        return tuple(g for g in self.groups if g.existing)

    @property
    def journal(self) -> str:
        return f"{self.plan_path}.journal"

    @property
    def rollback_commands(self) -> tuple[str, str]:
        journal = shlex.quote(self.journal)
        return (
            f"groupify rollback --journal {journal} --dry-run",
            f"groupify rollback --journal {journal}",
        )


def _policy_kind(entry: Mapping[str, Any], existing: bool) -> str:
    if entry.get("kind") == "managed":
        aws = entry.get("aws_managed", is_aws_managed(str(entry.get("id", ""))))
        return "AWS-managed" if aws else "customer-managed"
    if entry.get("as_managed"):
        return "inline → new customer-managed policy"
    return "inline (the group's own)" if existing else "inline (embedded in the group)"


def _policy_sort_key(p: Policy) -> tuple[int, str]:
    order = ("AWS-managed", "customer-managed")
    return (order.index(p.kind) if p.kind in order else 2, p.name.lower())


def _subject(step: Step) -> tuple[str, str]:
    p = step.params
    if step.is_destructive:
        return ("user", p["UserName"])
    if step.spec.creates == "policy":
        return ("policies", "")
    return ("group", p.get("GroupName", ""))


def _segments(
    steps: Sequence[Step], existing: Iterable[str], covered: Mapping[str, tuple[str, ...]]
) -> tuple[Segment, ...]:
    runs: list[tuple[tuple[str, str], list[Step]]] = []
    for step in steps:
        subject = _subject(step)
        if runs and runs[-1][0] == subject:
            runs[-1][1].append(step)
        else:
            runs.append((subject, [step]))
    return tuple(
        Segment(
            kind,
            name,
            tuple(steps),
            existing=kind == "group" and name in existing,
            replaced_by=tuple(sorted({g for s in steps for g in covered.get(s.id, ())})),
        )
        for (kind, name), steps in runs
    )


def _groups_from_steps(plan: Plan) -> list[dict[str, Any]]:
    """The plan's groups as a plan file records them, rebuilt from the steps.

    For a plan that does not carry its reviewed groups (``Plan.groups`` is
    optional): names, members and policies are all in the steps; reasons are not.
    """
    inv = plan.inventory
    made = {
        s.params["PolicyName"]: s.params["PolicyDocument"]
        for s in plan.steps
        if s.op == "create_policy"
    }
    out: dict[str, dict[str, Any]] = {}
    for s in plan.steps:
        name = s.params.get("GroupName")
        if name is None or s.is_destructive:
            continue
        existing = name in inv.group_by_name
        group = out.setdefault(
            name,
            {
                "name": name,
                "existing": existing,
                "reason": "not recorded in the plan",
                "members": [],
                "policies": [],
            },
        )
        if existing and not group["policies"]:
            group["policies"] = [
                {"id": p.id, "name": inv.label(p), "kind": p.kind}
                for p in sorted(inv.group_by_name[name].policies)
            ]
        if s.op == "add_user_to_group":
            group["members"].append(s.params["UserName"])
        elif s.op == "put_group_policy":
            ref = PolicyRef("inline", s.params["PolicyDocument"])
            group["policies"].append({"id": ref.id, "name": inv.label(ref), "kind": "inline"})
        elif s.op == "attach_group_policy":
            arn = s.params["PolicyArn"]
            created = arn.rsplit("/", 1)[-1]
            if arn.split(":policy", 1)[-1].startswith(CREATED_POLICY_PATH) and created in made:
                ref = PolicyRef("inline", made[created])
                entry = {"id": ref.id, "name": inv.label(ref), "kind": "inline", "as_managed": True}
            else:
                entry = {"id": arn, "name": arn.rsplit("/", 1)[-1], "kind": "managed"}
            group["policies"].append(entry)
    return sorted(out.values(), key=lambda g: str(g["name"]).lower())


def _group_records(plan: Plan) -> Sequence[Mapping[str, Any]]:
    """The plan's reviewed groups (or those the steps make); a record of the wrong shape
    (an edited plan file) is refused as one line, not a traceback in the renderer."""
    records: Sequence[Mapping[str, Any]] = plan.groups or _groups_from_steps(plan)
    for index, raw in enumerate(records):
        members = raw.get("members", []) if isinstance(raw, Mapping) else None
        policies = raw.get("policies", []) if isinstance(raw, Mapping) else None
        if not (
            isinstance(raw, Mapping)
            and isinstance(raw.get("name"), str)
            and isinstance(raw.get("existing", False), bool)
            and isinstance(members, list)
            and all(isinstance(m, str) for m in members)
            and isinstance(policies, list)
            and all(isinstance(p, Mapping) for p in policies)
        ):
            raise InputError(
                f"malformed plan: groups[{index}] must be an object with a name, whether it "
                "exists, member names and policy objects"
            )
    return records


def _pretty(document: str) -> str:
    try:
        return json.dumps(json.loads(document), indent=2, ensure_ascii=False)
    except ValueError:
        return document


def facts(plan: Plan, *, plan_path: str, generator: str | None, checksum: str | None) -> Facts:
    plan.verify()
    inv = plan.inventory
    renderer = f"groupify {version()}"

    refs = {p.id: p for u in inv.users for p in u.direct}
    refs.update({p.id: p for g in inv.groups for p in g.policies})

    groups: list[_Group] = []
    holders: dict[str, list[str]] = {}
    for raw in _group_records(plan):
        existing = bool(raw.get("existing", False))
        policies = []
        for entry in raw.get("policies", ()):
            ident = str(entry.get("id", ""))
            ref = refs.get(ident)
            if ref is not None and not ref.is_managed and not existing:
                holders.setdefault(ident, []).append(str(raw["name"]))
            policies.append(
                Policy(
                    name=str(entry.get("name", ident)),
                    ident=ident,
                    kind=_policy_kind(entry, existing),
                    managed=entry.get("kind") == "managed" or bool(entry.get("as_managed")),
                )
            )
        groups.append(
            _Group(
                name=str(raw["name"]),
                existing=existing,
                reason=str(raw.get("reason", "")),
                members=tuple(sorted(str(m) for m in raw.get("members", ()))),
                policies=tuple(sorted(policies, key=_policy_sort_key)),
            )
        )

    removes: dict[str, list[str]] = {}
    for s in plan.steps:
        if s.op == "detach_user_policy":
            removes.setdefault(s.params["UserName"], []).append(
                s.params["PolicyArn"].rsplit("/", 1)[-1]
            )
        elif s.op == "delete_user_policy":
            removes.setdefault(s.params["UserName"], []).append(
                f"{s.params['PolicyName']} (inline)"
            )
    users = []
    for name in plan.in_scope:
        user = inv.user_by_name[name]
        joins = sorted(g.name for g in groups if name in g.members and g.name not in user.groups)
        users.append(_User(name, user.groups, tuple(joins), tuple(removes.get(name, ()))))

    exceptions = tuple(
        _Exception(e.user, e.reason, tuple(sorted(inv.label(p) for p in e.policies)))
        for e in plan.exceptions
    )

    documents = tuple(
        _Document(
            name=next(p.name for g in groups for p in g.policies if p.ident == ident),
            ident=ident,
            groups=tuple(names),
            text=_pretty(refs[ident].key),
        )
        for ident, names in sorted(holders.items())
    )

    ops = Counter(s.op for s in plan.steps)
    reverse_calls = tuple((str(OPS[op].reverse), ops[op]) for op in reversed(PLAN_OPS) if ops[op])
    covered = replaced_by(plan)

    return Facts(
        account_id=plan.account_id,
        fingerprint=plan.fingerprint,
        checksum=checksum or plan.checksum or str(plan.to_dict()["checksum"]),
        strategy=plan.strategy,
        generator=generator or plan.generator or renderer,
        renderer=renderer,
        plan_path=plan_path,
        summary=plan.summary(),
        in_scope=tuple(users),
        exceptions=exceptions,
        groups=tuple(groups),
        quotas=tuple(plan.headroom()),
        steps=plan.steps,
        segments=_segments(plan.steps, {g.name for g in groups if g.existing}, covered),
        documents=documents,
        reverse_calls=reverse_calls,
        risks=plan.risks,
        accepted=tuple(f for f in plan.findings if f.key in plan.accepted),
        roles=_role_lines(plan),
        replaced_by=covered,
        timestamps=tuple((k[0].upper() + k[1:], v) for k, v in timestamps(plan)),
        estimate=estimate(plan),
    )


def after(ids: Iterable[str]) -> str:
    """Step ids with runs of three or more shortened: ``s4–s6, s9``."""
    return step_ranges(ids)


def target(step: Step) -> str:
    who, what = step.parts()
    return who or what


#: The report's renderer: per plan op, the (label, value) pairs a reviewer needs
#: about a step, documents summarised. The HTML and Markdown renderings are
#: both made from these pairs, so they say the same thing.
REPORT: Backend[Callable[[Mapping[str, str]], list[tuple[str, str]]]] = Backend("report", PLAN_OPS)


@REPORT.register("add_user_to_group")
def _joins(p: Mapping[str, str]) -> list[tuple[str, str]]:
    return [("joins group", p["GroupName"])]


@REPORT.register("attach_group_policy", "detach_user_policy")
def _policy_arn(p: Mapping[str, str]) -> list[tuple[str, str]]:
    return [("", p["PolicyArn"])]


@REPORT.register("put_group_policy")
def _embedded(p: Mapping[str, str]) -> list[tuple[str, str]]:
    return [
        ("inline policy", p["PolicyName"]),
        ("document", f"{document_size(p['PolicyDocument'])} characters (appendix A)"),
    ]


@REPORT.register("delete_user_policy")
def _inline(p: Mapping[str, str]) -> list[tuple[str, str]]:
    return [("inline policy", p["PolicyName"])]


@REPORT.register("create_policy")
def _new_policy(p: Mapping[str, str]) -> list[tuple[str, str]]:
    return [
        ("path", p.get("Path", "/")),
        ("document", f"{document_size(p['PolicyDocument'])} characters"),
    ]


@REPORT.register("create_group")
def _new_group(p: Mapping[str, str]) -> list[tuple[str, str]]:
    return [("path", p["Path"])] if "Path" in p else []


def step_details(step: Step) -> list[tuple[str, str]]:
    """(label, value) pairs a reviewer needs about *step*, documents summarised."""
    return REPORT[step.op](step.params)


def _role_lines(plan: Plan) -> tuple[str, ...]:
    by_role: dict[str, set[str]] = {}
    groups: dict[str, set[str]] = {}
    for p in plan.role_paths:
        by_role.setdefault(p.role, set()).add(p.action.split(":")[1])
        groups.setdefault(p.role, set()).add(p.group)
    return tuple(
        f"{role}: {', '.join(sorted(by_role[role]))} on {', '.join(sorted(groups[role]))}"
        for role in sorted(by_role)
    )


def roles_intro(f: Facts) -> str:
    """What the report says of roles that may change or join the plan's groups."""
    if not f.roles:
        return "No role may change or join the groups the plan creates or fills."
    return (
        f"{plural(len(f.roles), 'role')} may change or join the groups the plan creates or "
        "fills. Not refused (a role is never a member), but whoever may assume it could "
        "change what the members hold:"
    )


def risk_intro(f: Facts) -> str:
    """The risk review's first sentence."""
    groups = sum(1 for r in f.risks if r.subject == "group")
    if not f.risks:
        return (
            "Nothing flagged: no group the plan creates or fills, and no exempt user, holds "
            "admin-equivalent, service-wide, privilege-escalation or data-wide write grants."
        )
    return (
        f"{plural(groups, 'group')} the plan creates or fills and "
        f"{plural(len(f.risks) - groups, 'exempt user')} hold grants to look at before "
        "approving: admin-equivalent policies, service-wide wildcards, known "
        "privilege-escalation methods, data-wide writes, unknown documents, or a group of one."
    )


def control_intro(f: Facts) -> str:
    """What the control-path check says, including accepted findings."""
    if not f.accepted:
        return (
            "Control paths: no user gains a way to raise its own access through the groups "
            "the plan creates or fills (identity policies and permissions boundaries; SCPs, "
            "resource-based and session policies are not seen)."
        )
    return (
        f"Control paths: {plural(len(f.accepted), 'finding')} accepted by a reviewer, each "
        "a way a user could raise its own access; re-checked at apply:"
    )


def plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else plural or word + 's'}"


# The prose below is shared by both formats. Its fixed text must stay plain
# (no HTML or Markdown syntax: no <, &, *, _, backticks or pipes) because it is
# emitted as is; every value is passed through *code*, which escapes it for
# the format and sets it as code.

Code = Callable[[str], str]


def lede(f: Facts) -> str:
    s = f.summary
    return (
        f"{plural(s['users_migrated'], 'user')} move from directly attached policies to "
        f"{plural(len(f.groups), 'job-function group')} ({len(f.new_groups)} new, "
        f"{len(f.reused_groups)} existing reused unchanged); "
        f"{plural(len(f.exceptions), 'documented exception')}. "
        f"The plan is {plural(len(f.steps), 'IAM call')}; {f.removals} of them remove a direct "
        "grant, each only after the group giving the same policy is in place, so no access "
        "is lost."
    )


def verification(f: Facts) -> list[str]:
    n = f.summary["users_migrated"]
    return [
        "after every step, every user's effective access (its direct policies plus those of "
        "its groups) equals its access before the change: no gap, no widening;",
        f"every step that {REMOVES} depends, through its after steps, on the group membership "
        "and group policy that replace it, so any order a parallel executor may choose is as "
        "safe as the listed one;",
        f"at the end no user in scope keeps a direct policy: IAM.2 passes for all {n} of them;"
        if n
        else "no user is in scope: the plan removes no direct policy;",
        "no step changes an existing group or touches an exempt user.",
    ]


def verification_intro(f: Facts, code: Code) -> str:
    return (
        "The plan was replayed step by step, in the order listed below, on a model of account "
        f"{code(f.account_id)} as recorded in the plan (fingerprint {code(f.fingerprint)}). "
        "groupify does this when it builds a plan and whenever it loads a plan file, and did "
        "it again to render this report. It passed:"
    )


def verification_after(f: Facts, code: Code) -> str:
    return (
        f"Before changing anything, {code('groupify apply')} re-reads the account and refuses "
        "(drift) if anything the plan touches changed since the plan was made; it then checks "
        "the remaining steps against the live state the same way. After the run, "
        f"{code('groupify verify ' + shlex.quote(f.plan_path))} checks each user again: IAM.2 "
        "passes, access unchanged."
    )


def rollback_does(code: Code) -> list[str]:
    return [
        "reverses only the steps that this journal's runs made and whose effect is still in "
        "place, in reverse plan order, one call at a time;",
        f"re-attaches each detached managed policy ({code('attach_user_policy')}) and re-embeds "
        f"each deleted inline policy with its original document ({code('put_user_policy')}), "
        "and confirms they are visible before it removes the user from the group "
        f"({code('remove_user_from_group')}): no gap on the way back either;",
        "detaches and deletes group policies, and deletes groups "
        f"({code('delete_group')}) and policies ({code('delete_policy')}), only where a run of "
        "this journal created them;",
        "verifies the reverse calls on a model first, as the plan itself was verified.",
    ]


ROLLBACK_DOES_NOT = (
    "delete anything groupify did not create: existing groups reused by the plan stay, with "
    "their policies; only the memberships the plan added are removed;",
    "touch the documented exceptions or any user outside the plan;",
    "undo changes made by anyone else, nor refuse because of them: see below.",
)

#: What rollback does when the account changed after the run (drift).
ROLLBACK_DRIFT = (
    "If the account changed after the run (someone added a member or a policy to a group "
    "the plan created, say), rollback still goes ahead: it reverses every step it can "
    "without a gap and without touching what someone else changed, and leaves out what it "
    "cannot reverse safely, listing each as kept with the reason (the preview lists them "
    "too), so the operator can finish by hand."
)


def rollback_intro(f: Facts, code: Code) -> str:
    return (
        f"{code('groupify apply')} journals every call to {code(f.journal)} (unless "
        f"{code('--journal')} names another file). The journal holds the whole plan, so "
        "rollback needs only the journal: keep it with this change record. Preview first, "
        "then roll back:"
    )


def rollback_calls(f: Facts, code: Code) -> str:
    calls = ", ".join(f"{n} {code(op)}" for op, n in f.reverse_calls)
    total = sum(n for _, n in f.reverse_calls)
    return (
        f"For this plan, rolling back a complete run makes at most {total} calls: {calls}."
        if total
        else "This plan makes no change, so there is nothing to roll back."
    )


def segment_title(seg: Segment, code: Code) -> str:
    if seg.kind == "policies":
        return "Customer-managed policies created from inline documents"
    if seg.kind == "user":
        n = len(seg.steps)
        by = f", {replacement(seg.replaced_by, code)}" if seg.replaced_by else ""
        return f"User {code(seg.name)}: {plural(n, 'direct grant')} removed{by}"
    state = "existing, reused unchanged" if seg.existing else "new"
    return f"Group {code(seg.name)} ({state})"


SIGN_OFF = ("Change ticket", "Reviewed by", "Approved by", "Date", "Decision")
