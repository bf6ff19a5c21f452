"""Views of a plan: each op's one-line text label, the HTML Jupyter shows, a DataFrame.

Also the one wording every view uses for a step that takes a policy off a user
(:data:`REMOVES`, "removes a direct grant") and the group(s) replacing it
(:func:`replaced_by`), so the CLI, the notebook and the report say the same.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from groupify._html import badge, esc, kv_table, table
from groupify._views import box, fold, names, pandas
from groupify.plan.ops import ALL, OPS, Backend, Op
from groupify.proposal.views import exceptions_table, risk_badges

if TYPE_CHECKING:
    from groupify.plan.model import Plan, Quota
    from groupify.plan.steps import Step

__all__ = [
    "REMOVES",
    "TEXT",
    "label",
    "plan_frame",
    "plan_html",
    "replaced_by",
    "replacement",
    "timestamps",
]

#: What a step that detaches or deletes a user's policy is called, everywhere a user reads
#: it: the access stays (a group gives the same policy first); the direct grant goes.
REMOVES = "removes a direct grant"


def replaced_by(plan: Plan) -> dict[str, tuple[str, ...]]:
    """For each step that removes a direct grant: the groups that give the user the same
    policy once the plan is done (the route apply confirms before it removes the grant)."""
    from groupify.plan.replay import AccountModel, policy_of

    final = AccountModel(plan.inventory)
    for s in plan.steps:
        final.apply(s.op, s.params)
    out: dict[str, tuple[str, ...]] = {}
    for s in plan.steps:
        if not s.is_destructive:
            continue
        user = s.params["UserName"]
        ref = policy_of(s, plan.inventory, {})
        out[s.id] = tuple(
            sorted(g for g in final.user_groups[user] if ref in final.group_policies(g))
        )
    return out


def replacement(groups: Iterable[str], code: Callable[[str], str] = str) -> str:
    """``replaced by group a`` (``groups a, b``), for the groups :func:`replaced_by` gives;
    each name passed through *code* (to escape it and set it as code in a document)."""
    groups = sorted(groups)
    if not groups:
        return "replaced by a group"
    return f"replaced by group{'s' if len(groups) > 1 else ''} {', '.join(map(code, groups))}"


def _when(value: object) -> str | None:
    """An ISO 8601 time as the plan file records it (a ``datetime`` in the same form)."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="seconds")
    return str(value)


def timestamps(plan: Plan) -> list[tuple[str, str]]:
    """("planned at", …) and ("account read at", …), for the plans (and inventories) that
    record them (``plan.created``, the inventory's ``read_at``); none where they do not."""
    inventory = getattr(plan, "inventory", None)
    read = getattr(inventory, "read_at", None) or getattr(inventory, "scanned", None)
    found = [
        ("planned at", _when(getattr(plan, "created", None))),
        ("account read at", _when(read)),
    ]
    return [(k, v) for k, v in found if v is not None]


#: The text renderer: each op's target as one short line (``alice -> data-analysts``,
#: ``data-analysts ReadOnlyAccess``), for the CLI's tables and the notebook.
TEXT: Backend[Callable[[Op, Mapping[str, str], str], str]] = Backend("text", ALL)


@TEXT.register(*(o for o in ALL if OPS[o].subject != "GroupName"))
def _who_what(op: Op, params: Mapping[str, str], arrow: str) -> str:
    return " ".join(x for x in op.parts(params) if x)


@TEXT.register("add_user_to_group", "remove_user_from_group")
def _membership(op: Op, params: Mapping[str, str], arrow: str) -> str:
    return f"{params['UserName']} {arrow} {params['GroupName']}"


def label(step: Step, *, arrow: str = "->") -> str:
    """*step*'s target in a few words, as the text renderer gives it."""
    return TEXT[step.op](step.spec, step.params, arrow)


def _headroom(quotas: list[Quota]) -> str:
    rows = []
    for q in quotas:
        if q.headroom is None:
            left = badge("not used", "muted")
        else:
            kind = "danger" if q.headroom < 0 else "warn" if q.share >= 0.8 else "ok"
            left = badge(f"{q.headroom} left", kind)
        rows.append([q.label, q.limit, "—" if q.reached is None else q.reached, left, q.where])
    return table(["quota", "limit", "plan reaches", "headroom", "where"], rows, raw=[3])


def plan_html(plan: Plan) -> str:
    s = plan.summary()
    summary = kv_table(
        [
            ("account", plan.account_id),
            ("strategy", s["strategy"]),
            ("users migrated", s["users_migrated"]),
            ("exempt users", s["exceptions"]),
            ("groups created", s["groups_created"]),
            ("existing groups reused", s["groups_reused"]),
            ("policies created", s["policies_created"]),
            ("steps", s["steps"]),
            ("flagged by the risk review", _risk_count(plan)),
            ("accepted control-path findings", len(plan.accepted) or "none"),
            ("fingerprint", plan.fingerprint[:23] + "…"),
            *timestamps(plan),
        ]
    )
    risk = {r.name: r for r in plan.risks if r.subject == "group"}
    ops = table(["op", "steps"], list(s["steps_by_op"].items()))
    groups = [
        [
            f"<b>{esc(g['name'])}</b> "
            + (badge("existing, reused", "muted") if g["existing"] else badge("new", "info")),
            len(g["members"]),
            esc(names(g["members"])),
            "<br>".join(f"{esc(p['name'])} {badge(_kind(p), 'info')}" for p in g["policies"]),
            risk_badges(risk[g["name"]].flags) if g["name"] in risk else "",
            esc(g.get("reason", "")),
        ]
        for g in plan.groups
    ]
    covered = replaced_by(plan)
    steps = [
        [
            s_.id,
            s_.op,
            label(s_, arrow="→"),
            f"{badge('yes', 'danger')} {esc(replacement(covered[s_.id]))}"
            if s_.is_destructive
            else "",
            ", ".join(s_.after),
        ]
        for s_ in plan.steps
    ]
    return box(
        f"Plan for account {plan.account_id}",
        summary,
        "<p>Verified: after every step every user has exactly the access it had, in any "
        f"order the dependencies allow. A step that {REMOVES} runs only after the group "
        "replacing it is in place.</p>",
        "<h4>Steps by operation</h4>",
        ops,
        "<h4>Quota headroom</h4>",
        _headroom(plan.headroom()),
        "<h4>Groups</h4>",
        fold(
            "groups",
            ["group", "users", "members", "policies", "risk", "why"],
            groups,
            raw=[0, 2, 3, 4],
        ),
        "<h4>Exceptions</h4>",
        exceptions_table(plan),
        "<h4>Steps</h4>",
        fold("steps", ["id", "op", "target", REMOVES, "after"], steps, raw=[3]),
    )


def _risk_count(plan: Plan) -> str:
    groups = sum(1 for r in plan.risks if r.subject == "group")
    return f"{groups} group(s), {len(plan.risks) - groups} exempt user(s)"


def _kind(policy: dict[str, Any]) -> str:
    if policy.get("kind") == "managed":
        return "AWS-managed" if policy.get("aws_managed") else "customer-managed"
    return "inline → managed" if policy.get("as_managed") else "inline"


def plan_frame(plan: Plan) -> Any:
    """One row per step, in execution order; ``removes_direct_grant`` marks the steps that
    take a policy off a user, ``replaced_by`` the groups giving it instead."""
    covered = replaced_by(plan)
    rows = [
        {
            "id": s.id,
            "op": s.op,
            "user": s.params.get("UserName"),
            "group": s.params.get("GroupName"),
            "policy": (s.params.get("PolicyArn") or s.params.get("PolicyName") or "").rsplit(
                "/", 1
            )[-1]
            or None,
            "removes_direct_grant": s.is_destructive,
            "replaced_by": ", ".join(covered.get(s.id, ())) or None,
            "after": ", ".join(s.after),
        }
        for s in plan.steps
    ]
    return pandas().DataFrame(rows).set_index("id") if rows else pandas().DataFrame()
