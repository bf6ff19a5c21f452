"""pandas DataFrames of users, groups and steps, for filtering and pivoting in a notebook.

pandas is an optional dependency: ``pip install 'groupify[notebook]'``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from groupify.inventory.model import Inventory
    from groupify.plan.model import Plan
    from groupify.proposal.strategies import Proposal

__all__ = ["inventory_frame", "plan_frame", "proposal_frame"]


def _pandas() -> Any:
    try:
        import pandas
    except ImportError:
        raise ImportError("to_dataframe() needs pandas: pip install 'groupify[notebook]'") from None
    return pandas


def _kind(ref: Any) -> str:
    from groupify.notebook import policy_kind

    return policy_kind(ref)


def inventory_frame(inv: Inventory) -> Any:
    """One row per user: direct policies, groups, tags, IAM.2 status."""
    rows = []
    for u in inv.users:
        rows.append(
            {
                "user": u.name,
                "iam2_failing": bool(u.direct),
                "direct_managed": len(u.managed),
                "direct_inline": len(u.inline),
                "groups": len(u.groups),
                "group_names": ", ".join(u.groups),
                "direct_policies": ", ".join(sorted(inv.label(p) for p in u.direct)),
                **{f"tag:{k}": v for k, v in u.tags},
            }
        )
    return _pandas().DataFrame(rows).set_index("user") if rows else _pandas().DataFrame()


def proposal_frame(proposal: Proposal, what: str = "groups") -> Any:
    """``what="groups"``: one row per (group, policy); ``"users"``: one row per (user, group)."""
    pd = _pandas()
    inv = proposal.inventory
    if what == "groups":
        rows = [
            {
                "group": g.name,
                "existing": g.existing,
                "members": len(g.members),
                "policy": inv.label(p),
                "policy_kind": _kind(p) if p not in g.as_managed else "inline → managed",
                "policy_id": p.id,
                "why": g.reason,
            }
            for g in proposal.groups
            for p in sorted(g.policies)
        ]
    elif what == "users":
        exempt = {e.user: e.reason for e in proposal.exceptions}
        rows = [
            {
                "user": u.name,
                "group": g.name,
                "existing_group": g.existing,
                "needed_policies": len(proposal.needed[u.name]),
            }
            for u in proposal.in_scope
            for g in proposal.groups_of(u.name)
        ]
        rows += [{"user": u, "group": None, "exempt": r} for u, r in exempt.items()]
    else:
        raise ValueError("what must be 'groups' or 'users'")
    return pd.DataFrame(rows)


def plan_frame(plan: Plan) -> Any:
    """One row per step, in execution order."""
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
            "destructive": s.is_destructive,
            "after": ", ".join(s.after),
        }
        for s in plan.steps
    ]
    return _pandas().DataFrame(rows).set_index("id") if rows else _pandas().DataFrame()
