"""One function per CLI verb. The CLI only parses arguments and calls these.

Each function takes its inputs as plain values, writes human-readable text (or
JSON with ``as_json``) to *out*, and returns the process exit code. Errors are
raised as :class:`~groupify.errors.GroupifyError`; the CLI turns them into one
line on stderr.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from typing import Any, TextIO

import attrs

from groupify._render import table
from groupify.errors import InputError
from groupify.gaad import load_gaad
from groupify.model import Inventory, Quotas
from groupify.plan import Plan, build_plan
from groupify.propose import Proposal, propose
from groupify.scan import scan

__all__ = ["inventory_from", "plan_cmd", "propose_cmd", "scan_cmd"]


def parse_quotas(specs: Sequence[str]) -> dict[str, int]:
    """``["groups_per_user=20"]`` → ``{"groups_per_user": 20}``; names as :class:`Quotas` fields."""
    known = {f.name for f in attrs.fields(Quotas)}
    out: dict[str, int] = {}
    for spec in specs:
        name, _, value = spec.partition("=")
        name = name.strip().replace("-", "_")
        if name not in known:
            raise InputError(f"--quota {spec!r}: unknown quota; known: {', '.join(sorted(known))}")
        try:
            out[name] = int(value)
        except ValueError:
            raise InputError(f"--quota {spec!r}: give NAME=INTEGER") from None
    return out


def inventory_from(
    gaad: str | None, *, profile: str | None = None, quotas: Sequence[str] = ()
) -> Inventory:
    """Load a GAAD file, or scan the live account when *gaad* is ``None``."""
    overrides = parse_quotas(quotas)
    if gaad is not None:
        inventory = load_gaad(gaad)
    else:
        import boto3

        inventory = scan(boto3.Session(profile_name=profile) if profile else None)
    if overrides:
        inventory = attrs.evolve(inventory, quotas=attrs.evolve(inventory.quotas, **overrides))
    return inventory


def _dump(data: Any, out: TextIO) -> None:
    out.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def scan_cmd(inventory: Inventory, *, as_json: bool = False, out: TextIO | None = None) -> int:
    """Show the account and which users fail IAM.2 (a policy attached directly)."""
    out = out or sys.stdout
    failing = [u for u in inventory.users if u.direct]
    if as_json:
        _dump(
            {
                "account_id": inventory.account_id,
                "fingerprint": inventory.fingerprint,
                "source": inventory.source,
                "caller_arn": inventory.caller_arn,
                "users": len(inventory.users),
                "groups": len(inventory.groups),
                "quotas": inventory.quotas.to_dict(),
                "iam2_failing": [
                    {
                        "user": u.name,
                        "managed": list(u.managed),
                        "inline": [p.name for p in u.inline],
                        "groups": list(u.groups),
                    }
                    for u in failing
                ],
            },
            out,
        )
        return 0
    out.write(
        f"Account {inventory.account_id} ({inventory.source or 'scan'}): "
        f"{len(inventory.users)} users, {len(inventory.groups)} groups\n"
        f"Fingerprint {inventory.fingerprint}\n"
        f"IAM.2: {len(failing)} user(s) have policies attached directly\n\n"
    )
    if failing:
        rows = [
            (
                u.name,
                len(u.managed),
                len(u.inline),
                ", ".join(u.groups) or "-",
                ", ".join(sorted(inventory.label(p) for p in u.direct)),
            )
            for u in failing
        ]
        out.write(table(["user", "managed", "inline", "groups", "direct policies"], rows) + "\n")
    return 0


def _proposal_text(proposal: Proposal) -> str:
    inv = proposal.inventory
    s = proposal.summary()
    lines = [
        f"Account {inv.account_id}: {s['users_in_scope']} user(s) in scope, strategy "
        f"{s['strategy']}: {s['groups_new']} new group(s), {s['groups_reused']} existing "
        f"group(s) reused, {s['policies_created']} inline polic(ies) to become managed",
        "",
    ]
    rows = []
    for g in proposal.groups:
        rows.append(
            (
                g.name + (" (existing)" if g.existing else ""),
                len(g.members),
                ", ".join(sorted(g.members)),
                ", ".join(sorted(inv.label(p) for p in g.policies)),
            )
        )
    if rows:
        lines.append(table(["group", "users", "members", "policies"], rows))
    else:
        lines.append("No group is needed.")
    if proposal.exceptions:
        lines += ["", "Documented exceptions (not touched; IAM.2 still fails for them):"]
        lines.append(
            table(
                ["user", "reason", "direct policies"],
                [
                    (e.user, e.reason, ", ".join(sorted(inv.label(p) for p in e.policies)))
                    for e in proposal.exceptions
                ],
            )
        )
    return "\n".join(lines) + "\n"


def propose_cmd(
    inventory: Inventory,
    *,
    strategy: str = "exact",
    exclude_users: Sequence[str] = (),
    exclude_tags: Sequence[str] = (),
    as_json: bool = False,
    out_path: str | None = None,
    out: TextIO | None = None,
) -> int:
    """Propose groups; print them, and write the editable proposal to *out_path*."""
    out = out or sys.stdout
    proposal = propose(
        inventory, strategy=strategy, exclude_users=exclude_users, exclude_tags=exclude_tags
    )
    if out_path:
        _write_json(out_path, proposal.to_dict())
    if as_json:
        _dump(proposal.to_dict(), out)
    else:
        out.write(_proposal_text(proposal))
        if out_path:
            out.write(
                f"\nProposal written to {out_path} (edit it, then: groupify plan --proposal)\n"
            )
    return 0


def _write_json(path: str, data: Any) -> None:
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, ensure_ascii=False)
        fh.write("\n")
    os.replace(tmp, path)


def _load_proposal(path: str, inventory: Inventory) -> Proposal:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a JSON proposal ({exc})") from None
    return Proposal.from_dict(data, inventory)


def plan_text(plan: Plan) -> str:
    s = plan.summary()
    ops = ", ".join(f"{n} {op}" for op, n in s["steps_by_op"].items())
    lines = [
        f"Plan for account {plan.account_id} ({plan.fingerprint[:19]}…): "
        f"{s['users_migrated']} user(s) move to groups, {s['exceptions']} documented "
        f"exception(s)",
        f"{s['steps']} steps: {ops or 'none'}",
        "Verified: every user's effective access is unchanged after every step, and no "
        "user in scope keeps a direct policy.",
    ]
    return "\n".join(lines) + "\n"


def plan_cmd(
    inventory: Inventory,
    *,
    out_path: str,
    strategy: str = "exact",
    exclude_users: Sequence[str] = (),
    exclude_tags: Sequence[str] = (),
    proposal_path: str | None = None,
    as_json: bool = False,
    out: TextIO | None = None,
) -> int:
    """Build and verify a plan, write it to *out_path* and print its summary."""
    out = out or sys.stdout
    if proposal_path:
        if exclude_users or exclude_tags:
            raise InputError("--proposal carries its own exclusions; drop --exclude-*")
        proposal = _load_proposal(proposal_path, inventory)
    else:
        proposal = propose(
            inventory, strategy=strategy, exclude_users=exclude_users, exclude_tags=exclude_tags
        )
    plan = build_plan(proposal)
    plan.save(out_path)
    if as_json:
        data = plan.to_dict()
        _dump({k: data[k] for k in ("account_id", "fingerprint", "summary", "exceptions")}, out)
    else:
        out.write(_proposal_text(proposal) + "\n" + plan_text(plan))
        out.write(f"Plan written to {out_path}\n")
    return 0
