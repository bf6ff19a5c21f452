"""Notebook views of an inventory: the HTML Jupyter shows, and a pandas DataFrame."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from groupify._html import badge, esc, kv_table
from groupify._views import box, fold, pandas

if TYPE_CHECKING:
    from collections.abc import Iterable

    from groupify.inventory.model import Inventory, PolicyRef

__all__ = ["inventory_frame", "inventory_html", "policy_badges"]


def inventory_html(inv: Inventory) -> str:
    failing = [u for u in inv.users if u.direct]
    summary = kv_table(
        [
            ("account", inv.account_id),
            ("source", inv.source or "scan"),
            ("users", len(inv.users)),
            ("groups", len(inv.groups)),
            ("users failing IAM.2 (direct policies)", len(failing)),
            ("fingerprint", inv.fingerprint[:23] + "…"),
        ]
    )
    rows = [
        [
            u.name,
            policy_badges(inv, u.direct, frozenset()),
            ", ".join(u.groups) or "—",
            ", ".join(f"{k}={v}" for k, v in u.tags) or "—",
        ]
        for u in failing
    ]
    return box(
        f"Inventory of account {inv.account_id}",
        summary,
        "<h4>Users with direct policies</h4>",
        fold("users", ["user", "direct policies", "groups", "tags"], rows, raw=[1]),
    )


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
    return pandas().DataFrame(rows).set_index("user") if rows else pandas().DataFrame()


def policy_badges(inv: Inventory, refs: Iterable[PolicyRef], as_managed: frozenset[Any]) -> str:
    kinds = {"AWS-managed": "info", "customer-managed": "ok", "inline": "warn"}
    out = []
    for ref in sorted(refs, key=lambda r: inv.label(r).lower()):
        kind = ref.kind_label(ref in as_managed)
        out.append(f"{esc(inv.label(ref))} {badge(kind, kinds.get(kind, 'warn'))}")
    return "<br>".join(out)
