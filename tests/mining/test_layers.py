"""Layered groups: as many groups or fewer, fewer attachments, still an exact cover."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from groupify.errors import InputError
from groupify.mining import exact as cluster
from groupify.mining.layers import Weights, layer
from groupify.mining.minimal import MinimalGroup, check_cover, minimal_groups

Need = dict[str, frozenset[str]]


def _check(cover: list[tuple[frozenset[str], frozenset[str]]], needed: Need) -> None:
    check_cover(needed, [MinimalGroup(p, m) for p, m in cover])


def test_the_issues_example_becomes_two_layers() -> None:
    needed = {"a": frozenset({"RO"}), "b": frozenset({"RO", "ES"})}
    out, stats = layer(cluster.exact(needed), needed)
    assert sorted((sorted(p), sorted(m)) for p, m in out) == [
        (["ES"], ["b"]),
        (["RO"], ["a", "b"]),
    ]
    assert stats.groups == (2, 2) and stats.attachments == (3, 2) and stats.memberships == (2, 3)


def test_room_is_respected_and_kept_sets_are_not_changed() -> None:
    needed = {"x": frozenset("AB"), "y": frozenset("AC"), "z": frozenset("A")}
    flat = cluster.exact(needed)
    out, _ = layer(flat, needed, room={"x": 1, "y": 1, "z": 1})
    assert sorted(map(sorted, (p for p, _ in out))) == sorted(map(sorted, (p for p, _ in flat)))
    out, stats = layer(flat, needed, keep=[frozenset("AB")])
    assert frozenset("AB") in {p for p, _ in out}
    assert stats.attachments[1] == 4  # AB kept; AC -> C, with y joining A
    _check(out, needed)


def test_weights_trade_attachments_against_memberships() -> None:
    # Four users hold A+B, one holds A: layering saves one attachment for four memberships.
    needed = {f"u{i}": frozenset("AB") for i in range(4)} | {"v": frozenset("A")}
    flat = cluster.exact(needed)
    assert layer(flat, needed)[1].attachments == (3, 2)
    costly = Weights(attachments=1, memberships=0.5, lexicographic=False)
    assert layer(flat, needed, weights=costly)[1].attachments == (3, 3)
    cheap = Weights(attachments=1, memberships=0.2, lexicographic=False)
    assert layer(flat, needed, weights=cheap)[1].attachments == (3, 2)
    assert Weights.parse("attachments=2,memberships=1") == Weights(2, 1, lexicographic=False)
    for bad in ("memberships", "attachments=-1", "attachments=nan", "x=1", "attachments=inf"):
        with pytest.raises(InputError):
            Weights.parse(bad)


sets = st.dictionaries(
    st.sampled_from([f"u{i}" for i in range(14)]),
    st.frozensets(st.sampled_from("ABCDEFGH"), min_size=1, max_size=6),
    min_size=1,
)


@given(needed=sets, room=st.none() | st.integers(1, 4), minimal=st.booleans())
def test_layering_keeps_an_exact_cover_with_no_more_groups(
    needed: Need, room: int | None, minimal: bool
) -> None:
    if minimal:
        result = minimal_groups(needed, max_groups_per_user=room)
        cover = [(g.policies, g.members) for g in result.groups]
    else:
        cover = cluster.exact(needed)
    rooms = None if room is None else dict.fromkeys(needed, room)
    out, stats = layer(cover, needed, room=rooms)
    _check(out, needed)
    assert len(out) <= len(cover)
    assert sum(len(p) for p, _ in out) <= sum(len(p) for p, _ in cover)
    assert stats.attachments == (sum(len(p) for p, _ in cover), sum(len(p) for p, _ in out))
    # Each new group is a part of an old one (no policy set grows).
    assert all(any(p <= q for q, _ in cover) for p, _ in out)
    before = Counter(u for _, m in cover for u in m)
    after = Counter(u for _, m in out for u in m)
    for user in needed:
        if room is not None:
            assert after[user] <= max(room, before[user])


def test_layering_counts_the_parts_a_group_will_be_split_into() -> None:
    """u1 holds 15 policies and is in 8 groups (room 2): layering must not move it onto
    an 11-policy group that becomes two parts (found by review: a quota error where the
    bundles fit)."""
    import groupify
    from tests.support import make_inventory

    def cust(name: str) -> str:
        return f"arn:aws:iam::123456789012:policy/{name}"

    pols = [cust(f"Pol{i:02d}") for i in range(1, 16)]
    groups = {f"g{i}": {"managed": [cust(f"Other{i}")]} for i in range(8)}
    users = {
        "u1": {"managed": pols, "groups": list(groups)},
        "u2": {"managed": pols[:11]},
        "u3": {"managed": pols[11:]},
    }
    inventory = make_inventory(users, groups)
    proposal = groupify.propose(inventory)  # raised QuotaError before
    assert sum(1 for g in proposal.groups if "u1" in g.members) <= 2
    flat = {u: frozenset(p) for u, p in {"u1": pols, "u2": pols[:11], "u3": pols[11:]}.items()}
    out, _ = layer(cluster.exact(flat), flat, room={"u1": 2}, max_policies_per_group=10)
    assert sum(-(-len(p) // 10) for p, m in out if "u1" in m) <= 2
