"""Propose job-function groups: the ``exact`` and ``minimal`` strategies.

:func:`propose` reads which direct policies each user in scope needs, forms
groups (one per distinct set, or the fewest whose unions reproduce every set),
names them and fits them to IAM's quotas; :func:`compare_proposals` sets the
strategies side by side.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from groupify._gc import without_gc
from groupify.errors import InputError, QuotaError
from groupify.inventory.model import Inventory, PolicyRef, Quotas
from groupify.inventory.names import suggest_name, tag_name
from groupify.mining import exact as cluster
from groupify.mining.layers import Weights, layer
from groupify.proposal.model import (
    STRATEGIES,
    Exemption,
    Exemptions,
    Proposal,
    ProposedGroup,
)

__all__ = ["compare_proposals", "propose"]


# -- building a proposal ---------------------------------------------------------

Bicluster = tuple[frozenset[PolicyRef], frozenset[str]]


@without_gc
def propose(
    inventory: Inventory,
    *,
    strategy: str = "exact",
    exclude_users: Iterable[str] = (),
    exclude_tags: Iterable[str] = (),
    quotas: Quotas | None = None,
    time_limit: float | None = None,
    allow_unmatched: bool = False,
    out_of_scope: Mapping[str, str] | None = None,
    layers: bool = True,
    weights: Weights | None = None,
) -> Proposal:
    """Propose groups for every user in scope of *inventory*.

    ``strategy="exact"`` makes one group per distinct set of needed direct
    policies; ``"minimal"`` finds the fewest groups whose unions reproduce
    each user's set (see :func:`groupify.minimal_groups`). Existing groups
    whose policies equal a set are reused, never changed. User names match
    ignoring case (as IAM's do), and so do tag keys. Raises
    :class:`QuotaError` naming users and sets where a quota cannot be met, and
    :class:`InputError` for an exclusion rule that matches no user (a typo would
    leave a break-glass user in scope) unless *allow_unmatched*. *out_of_scope*
    maps users to leave alone to the reason (listed with the exceptions: e.g.
    users with no open IAM.2 finding when the run is scoped by Security Hub).

    With *layers* (the default), a policy that several groups would each hold is
    attached once where that keeps the number of groups: ``readonly`` {both} +
    ``es-write`` {one} rather than ``readonly`` {both} + ``readonly + es-write``
    {one} (:func:`groupify.mining.layers.layer`); *weights* trade attachments
    against the memberships that adds (:class:`~groupify.mining.layers.Weights`).
    """
    if weights is not None and not layers:
        raise InputError("--weights weighs what layering trades: it does not go with --no-layers")
    if strategy not in STRATEGIES:
        raise InputError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    if quotas is not None:
        inventory = attrs.evolve(inventory, quotas=quotas)
    for spec in exclude_tags:
        if not spec.partition("=")[0]:
            raise InputError(f"--exclude-tag {spec!r}: give KEY or KEY=VALUE")
    exemptions = Exemptions(users=tuple(exclude_users), tags=tuple(exclude_tags))
    if not allow_unmatched:
        exemptions.check_matched(inventory.users)
    excluded = [
        Exemption(name, reason, inventory.user_by_name[name].direct)
        for name, reason in sorted((out_of_scope or {}).items())
        if name in inventory.user_by_name and inventory.user_by_name[name].direct
    ]
    base = Proposal(
        inventory=inventory,
        groups=(),
        exemptions=exemptions,
        strategy=strategy,
        excluded=excluded,
    )
    needed = {u: s for u, s in base.needed.items() if s}
    if strategy == "exact":
        biclusters = cluster.exact(needed)
    else:
        biclusters = _minimal(needed, base, time_limit=time_limit)
    if layers:
        existing = [g.policies for g in inventory.groups if g.policies]
        layered, _ = layer(
            biclusters,
            needed,
            room=_room(needed, base),
            weights=weights,
            keep=existing,
            max_policies_per_group=inventory.quotas.managed_policies_per_group,
        )
        try:
            return base._regrouped(_realize(layered, base)).validate()
        except QuotaError:
            pass  # layering never turns a proposal that fits into one that does not
    groups = _realize(biclusters, base)
    return base._regrouped(groups).validate()


def compare_proposals(proposals: Iterable[Proposal]) -> list[dict[str, Any]]:
    """A row per proposal: groups, attachments, memberships, groups per user, policies per group.

    For a reviewer weighing ``exact`` against ``minimal``: fewer groups usually
    means more groups per user. ``attachments`` counts group-policy attachments
    (a policy that several groups hold counts once per group; an inline document,
    once per group it is put in) and ``memberships`` user-group pairs: with the group
    count, the structural complexity of role-mining evaluation (Molloy et al. 2009).
    """
    rows = []
    for p in proposals:
        per_user = Counter(m for g in p.groups for m in g.members)
        sizes = [len(g.policies) for g in p.groups]
        users = len(per_user)
        rows.append(
            {
                "strategy": p.strategy,
                "groups": len(p.groups),
                "new": sum(1 for g in p.groups if not g.existing),
                "reused": sum(1 for g in p.groups if g.existing),
                "users": users,
                "attachments": sum(sizes),
                "memberships": sum(per_user.values()),
                "groups_per_user_mean": round(sum(per_user.values()) / users, 2) if users else 0,
                "groups_per_user_max": max(per_user.values(), default=0),
                "policies_per_group_mean": round(sum(sizes) / len(sizes), 2) if sizes else 0,
                "policies_per_group_max": max(sizes, default=0),
            }
        )
    return rows


def _room(needed: Mapping[str, frozenset[PolicyRef]], base: Proposal) -> dict[str, int]:
    """Each user's room: the groups-per-user quota less the groups it is in already."""
    inv = base.inventory
    limit = inv.quotas.groups_per_user
    return {u: max(0, limit - len(inv.user_by_name[u].groups)) for u in needed}


def _minimal(
    needed: Mapping[str, frozenset[PolicyRef]], base: Proposal, *, time_limit: float | None
) -> list[Bicluster]:
    """The fewest groups reproducing each needed set, within the IAM quotas.

    Each user's room is the groups-per-user quota less the groups it is in
    already. Users the shared groups cannot serve within it get groups of their
    own policies from the solver; users no assignment can serve still get an
    exact cover, and :meth:`Proposal.validate` names them.
    """
    from groupify.mining.minimal import minimal_groups

    quotas = base.inventory.quotas
    result = minimal_groups(
        needed,
        max_groups_per_user=_room(needed, base),
        max_policies_per_group=quotas.managed_policies_per_group,
        time_limit=time_limit,
    )
    return sorted(
        ((g.policies, g.members) for g in result.groups),
        key=lambda pm: (-len(pm[1]), sorted(map(repr, pm[0]))),
    )


def _realize(biclusters: Sequence[Bicluster], base: Proposal) -> list[ProposedGroup]:
    """Turn (policies, members) pairs into named groups that respect the quotas."""
    inv = base.inventory
    quotas = inv.quotas
    existing_by_policies: dict[frozenset[PolicyRef], str] = {}
    for g in inv.groups:
        if g.policies:
            existing_by_policies.setdefault(g.policies, g.name)

    pieces: list[tuple[frozenset[PolicyRef], frozenset[str], frozenset[PolicyRef], int, int]] = []
    reuse: dict[int, str] = {}
    for policies, members in biclusters:
        if policies in existing_by_policies:
            reuse[len(pieces)] = existing_by_policies[policies]
            pieces.append((policies, members, frozenset(), 0, 1))
            continue
        chunks = _split(policies, quotas)
        for i, (chunk, as_managed) in enumerate(chunks):
            if chunk in existing_by_policies and not as_managed:
                reuse[len(pieces)] = existing_by_policies[chunk]
            pieces.append((chunk, members, as_managed, i, len(chunks)))

    # Reused groups first (their names are fixed, and an existing team group keeps the
    # team's name), then the biggest groups, so they get the plainest names.
    order = sorted(
        range(len(pieces)),
        key=lambda i: (
            i not in reuse,
            -len(pieces[i][1]),
            sorted(pieces[i][1]),
            sorted(pieces[i][0]),
            pieces[i][3],
        ),
    )
    taken = {g.name.lower(): g.policies for g in inv.groups}
    names: dict[int, str] = {}
    for i in order:
        if i in reuse:
            names[i] = reuse[i]
            # The team's name now stands for the reused group, so a deviating
            # member is named against it rather than taking the plain name.
            alias = tag_name(inv.user_by_name[m] for m in sorted(pieces[i][1]))
            if alias:
                taken.setdefault(alias.lower(), pieces[i][0])
            continue
        policies, members, _, part, parts = pieces[i]
        users = [inv.user_by_name[m] for m in sorted(members)]
        all_policies = policies if parts == 1 else _whole_set(pieces, i)
        name = suggest_name(
            users, all_policies, inv, taken, part=f"-part{part + 1}" if parts > 1 else ""
        )
        names[i] = name
        taken[name.lower()] = policies

    out: dict[str, ProposedGroup] = {}
    for i, (policies, members, as_managed, part, parts) in enumerate(pieces):
        name = names[i]
        if name in out:  # two sets map onto the same existing group
            prev = out[name]
            out[name] = attrs.evolve(prev, members=prev.members | members)
            continue
        reason = _reason(
            policies,
            members,
            inv,
            part,
            parts,
            existing=i in reuse,
            shared=parts == 1 and any(base.needed[m] != policies for m in members),
        )
        out[name] = ProposedGroup(
            name=name,
            policies=policies,
            members=members,
            existing=i in reuse,
            reason=reason,
            as_managed=as_managed,
        )
    return sorted(out.values(), key=lambda g: g.name.lower())


def _whole_set(pieces: Sequence[Any], i: int) -> frozenset[PolicyRef]:
    members = pieces[i][1]
    out: frozenset[PolicyRef] = frozenset()
    for p in pieces:
        if p[1] == members and p[4] == pieces[i][4]:
            out |= p[0]
    return out


def _reason(
    policies: frozenset[PolicyRef],
    members: frozenset[str],
    inv: Inventory,
    part: int,
    parts: int,
    *,
    existing: bool,
    shared: bool = False,
) -> str:
    n = len(members)
    who = f"{n} user{'s' if n != 1 else ''}"
    if existing:
        return f"existing group with exactly these policies; {who} need them"
    verb = "holds" if n == 1 else "hold"
    what = "this policy" if len(policies) == 1 else f"these {len(policies)} policies"
    if shared:
        text = f"{who} {verb} {what} (with others from their other groups)"
    else:
        text = f"{who} {verb} exactly {what}"
    if parts > 1:
        text += f" (part {part + 1} of {parts}: the set exceeds the group quotas)"
    return text


def _split(
    policies: frozenset[PolicyRef], quotas: Quotas
) -> list[tuple[frozenset[PolicyRef], frozenset[PolicyRef]]]:
    """Split a policy set into pieces that each fit one group's quotas.

    Inline documents are embedded while the inline budget lasts (smallest
    first); the rest become customer-managed policies. Managed policies are
    then dealt out, at most ``managed_policies_per_group`` a piece.
    """
    inline = sorted((p for p in policies if not p.is_managed), key=lambda p: (p.size, p.key))
    embedded: list[PolicyRef] = []
    converted: list[PolicyRef] = []
    budget = quotas.group_inline_chars
    for p in inline:
        if p.size <= budget:
            embedded.append(p)
            budget -= p.size
        else:
            converted.append(p)
    managed = sorted(p for p in policies if p.is_managed)
    attached = managed + converted
    n = max(1, math.ceil(len(attached) / quotas.managed_policies_per_group))
    size = math.ceil(len(attached) / n) if attached else 0
    chunks = [attached[i * size : (i + 1) * size] for i in range(n)] if attached else [[]]
    out = []
    for i, chunk in enumerate(chunks):
        piece = frozenset(chunk) | (frozenset(embedded) if i == 0 else frozenset())
        out.append((piece, frozenset(chunk) & frozenset(converted)))
    return out
