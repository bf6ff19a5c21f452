"""Layered groups: the same number of groups, each shared policy attached once.

A cover of users by groups (from :func:`groupify.mining.exact.exact` or
:func:`groupify.minimal_groups`) gives each user a bundle: two users sharing
``ReadOnlyAccess``, one of them also holding an ES-write policy, get
``readonly`` {both} and ``readonly + es-write`` {one}. An IAM engineer draws
``readonly`` {both} + ``es-write`` {one}: as many groups, each policy attached
once, one more membership. This is the weighted structural complexity of role
mining evaluation (Molloy et al., "Evaluating role mining algorithms", SACMAT
2009): among covers with the fewest groups, prefer the fewest group-policy
attachments, then the fewest memberships.

:func:`layer` takes a cover and removes attachments while the cover stays
exact: a policy leaves a group only if every user who needs it and relies on
that group for it gets it from another group it may join (one whose policies it
all holds: never widening), within the user's groups-per-user room. Groups only
lose policies, so no group grows past a policy quota, and the number of groups
never rises (a group left with no one, or equal to another, goes). A removal
that costs memberships is taken by the order of :class:`Weights`. It is a local
search: the group count stays what the solver proved; the attachment count is
improved, not proven minimal.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Mapping, Sequence
from typing import TypeVar

import attrs

from groupify.errors import InputError
from groupify.mining.minimal import _bits, _mask

__all__ = ["LayerStats", "Weights", "layer"]

U = TypeVar("U", bound=Hashable)
P = TypeVar("P", bound=Hashable)

Cover = list[tuple[frozenset[P], frozenset[U]]]


def _non_negative(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool) or not value >= 0:
        raise InputError(f"weight {attribute.name} must be a number >= 0, not {value!r}")
    if value == float("inf"):
        raise InputError(f"weight {attribute.name} must be finite")


@attrs.frozen
class Weights:
    """What an attachment and a membership cost, to choose among covers of as many groups.

    The number of groups always comes first (it is never raised). By default
    (``Weights()``) the order is lexicographic: fewer attachments, then fewer
    memberships. With ``lexicographic=False``, an attachment is removed only when
    ``attachments`` is more than ``memberships`` times the memberships it adds
    (Molloy et al.'s weighted structural complexity restricted to those two terms);
    ``Weights(attachments=0, lexicographic=False)`` keeps the bundles.
    """

    attachments: float = attrs.field(default=1.0, validator=_non_negative)
    memberships: float = attrs.field(default=0.0, validator=_non_negative)
    lexicographic: bool = True

    @classmethod
    def parse(cls, text: str) -> Weights:
        """``attachments=W,memberships=W`` (either may be left out) → weighted order."""
        values: dict[str, float] = {}
        for part in text.split(","):
            key, sep, value = part.partition("=")
            key = key.strip()
            if not sep or key not in ("attachments", "memberships") or key in values:
                raise InputError(
                    f"--weights {text!r}: give attachments=W,memberships=W (numbers >= 0)"
                )
            try:
                if "_" in value:
                    raise ValueError(value)
                values[key] = float(value)
            except ValueError:
                raise InputError(f"--weights {text!r}: {value.strip()!r} is not a number") from None
        return cls(lexicographic=False, **values)

    def takes(self, added_memberships: int) -> bool:
        """Whether removing one attachment at the cost of *added_memberships* is better."""
        if self.lexicographic:
            return True
        return self.attachments > self.memberships * added_memberships


@attrs.frozen
class LayerStats:
    """What layering changed: counts before and after."""

    groups: tuple[int, int]
    attachments: tuple[int, int]
    memberships: tuple[int, int]


def _greedy(row: int, admissible: Sequence[int], masks: Sequence[int]) -> list[int] | None:
    """A small cover of *row* by admissible groups (most new policies first), pruned."""
    left = row
    chosen: list[int] = []
    pool = list(admissible)
    while left:
        best = max(pool, key=lambda i: ((masks[i] & left).bit_count(), -i), default=None)
        if best is None or not masks[best] & left:
            return None
        chosen.append(best)
        left &= ~masks[best]
    # Drop a group the others chosen already cover. (minimal._prune does the same by
    # counting per bit, which is slower on rows of thousands of policies.)
    for i in list(chosen):
        rest = 0
        for j in chosen:
            if j != i:
                rest |= masks[j]
        if masks[i] & ~rest == 0:
            chosen.remove(i)
    return sorted(chosen)


def layer(
    cover: Sequence[tuple[frozenset[P], frozenset[U]]],
    needed: Mapping[U, frozenset[P]],
    *,
    room: Mapping[U, int] | None = None,
    weights: Weights | None = None,
    keep: Collection[frozenset[P]] = (),
    max_policies_per_group: int | None = None,
) -> tuple[Cover[P, U], LayerStats]:
    """*cover* with shared policies attached once where the group count allows it.

    *cover* is ``[(policies, members), ...]``, an exact cover of *needed* (every
    member holds every policy of its groups; each user's groups' union is its set).
    *room* caps each user's groups (a user over it already is not given more).
    Groups whose policies are in *keep* (those of existing groups, which a proposal
    reuses rather than create a group) are never changed. With
    *max_policies_per_group*, a group of more policies counts, against *room*, as the
    ``ceil(policies / max)`` groups it will be split into.
    Returns the new cover, in the input's order, and the counts before and after.
    """
    weights = weights or Weights()
    policies = sorted({p for s, _ in cover for p in s}, key=repr)
    bit = {p: i for i, p in enumerate(policies)}

    def mask(items: frozenset[P]) -> int:
        return _mask(bit[p] for p in items)

    masks = [mask(s) for s, _ in cover]

    def weight(groups: Sequence[int], current: Sequence[int]) -> int:
        """The memberships *groups* take once split to the policies-per-group quota."""
        if max_policies_per_group is None:
            return len(groups)
        return sum(-(-current[i].bit_count() // max_policies_per_group) for i in groups)

    kept = set(keep)
    pinned = {i for i, (s, _) in enumerate(cover) if s in kept}
    # Users with the same set, room and groups are one row.
    row_of: dict[tuple[int, int | None, tuple[int, ...]], list[U]] = {}
    for user in sorted({u for _, m in cover for u in m}, key=repr):
        groups = tuple(i for i, (_, m) in enumerate(cover) if user in m)
        key = (mask(needed[user]), None if room is None else room.get(user), groups)
        row_of.setdefault(key, []).append(user)
    rows = list(row_of)
    want = [r[0] for r in rows]
    count = [len(row_of[r]) for r in rows]
    covers = [list(r[2]) for r in rows]
    limit = [
        None if r[1] is None else max(r[1], weight(r[2], masks))  # never more than it had
        for r in rows
    ]
    admissible = [{i for i, m in enumerate(masks) if m and not m & ~w} for w in want]
    rows_in: list[set[int]] = [set() for _ in masks]  # the rows each group covers now
    for r, cov in enumerate(covers):
        for i in cov:
            rows_in[i].add(r)

    changed = True
    while changed:
        changed = False
        holders_of = {b: [i for i, m in enumerate(masks) if m >> b & 1] for b in range(len(bit))}
        for b in sorted(holders_of, key=lambda b: (-len(holders_of[b]), b)):
            for i in sorted(holders_of[b], key=lambda i: (-masks[i].bit_count(), i)):
                if i in pinned or masks[i] == 1 << b or not masks[i] >> b & 1:
                    continue
                if sum(1 for j in holders_of[b] if masks[j] >> b & 1) < 2:
                    break
                # Try the group without the policy (put back if the removal is refused).
                whole, shrunk = masks[i], masks[i] & ~(1 << b)
                masks[i] = shrunk
                redo: dict[int, list[int]] = {}
                ok = True
                for r in sorted(rows_in[i]):  # its members hold every policy it has, b too
                    rest = 0
                    for j in covers[r]:
                        if j != i:
                            rest |= masks[j]
                    if rest >> b & 1:
                        continue  # it has the policy from another of its groups
                    new = _greedy(want[r], sorted(admissible[r]), masks)
                    cap = limit[r]
                    if new is None or (cap is not None and weight(new, masks) > cap):
                        ok = False
                        break
                    redo[r] = new
                added = sum(count[r] * (len(new) - len(covers[r])) for r, new in redo.items())
                if not ok or not weights.takes(added):
                    masks[i] = whole
                    continue
                for r, new in redo.items():
                    for j in covers[r]:
                        rows_in[j].discard(r)
                    for j in new:
                        rows_in[j].add(r)
                    covers[r] = new
                for r, w in enumerate(want):
                    if not shrunk & ~w:
                        admissible[r].add(i)
                changed = True

    # Each row takes the fewest groups that cover it (newly admissible layers may help).
    for r, w in enumerate(want):
        best = _greedy(w, sorted(admissible[r]), masks)
        if best is not None and weight(best, masks) < weight(covers[r], masks):
            covers[r] = best
    members: list[set[U]] = [set() for _ in cover]
    for r, cov in enumerate(covers):
        for i in cov:
            members[i].update(row_of[rows[r]])
    # A group left with no one goes; two with the same policies become one.
    out: dict[int, tuple[int, set[U]]] = {}
    for i, m in enumerate(masks):
        if not members[i]:
            continue
        if m in out:
            out[m][1].update(members[i])
        else:
            out[m] = (i, members[i])
    result = [
        (frozenset(policies[b] for b in _bits(m)), frozenset(us))
        for m, (_, us) in sorted(out.items(), key=lambda kv: kv[1][0])
    ]
    stats = LayerStats(
        groups=(len(cover), len(result)),
        attachments=(sum(len(s) for s, _ in cover), sum(len(s) for s, _ in result)),
        memberships=(sum(len(m) for _, m in cover), sum(len(m) for _, m in result)),
    )
    return result, stats
