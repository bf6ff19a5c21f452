"""Tests for the synthetic GAAD generator, :mod:`groupify.synth`."""

from __future__ import annotations

import json
import re
import urllib.parse
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import groupify
from groupify.inventory.policy import canonical_document, document_size
from groupify.testing import synthetic_gaad

ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"


def _documents(gaad: dict[str, Any]) -> list[Any]:
    """Every policy document in *gaad*, wherever it sits."""
    out: list[Any] = []
    for user in gaad["UserDetailList"]:
        out += [p["PolicyDocument"] for p in user["UserPolicyList"]]
    for group in gaad["GroupDetailList"]:
        out += [p["PolicyDocument"] for p in group["GroupPolicyList"]]
    for role in gaad["RoleDetailList"]:
        out.append(role["AssumeRolePolicyDocument"])
        out += [p["PolicyDocument"] for p in role["RolePolicyList"]]
        for profile in role["InstanceProfileList"]:
            out += [r["AssumeRolePolicyDocument"] for r in profile["Roles"]]
    for policy in gaad["Policies"]:
        out += [v["Document"] for v in policy["PolicyVersionList"]]
    return out


def _write(tmp_path: Path, name: str, gaad: dict[str, Any]) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(gaad, indent=2), encoding="utf-8")
    return path


def test_same_seed_same_document() -> None:
    """The same arguments give the same document, byte for byte."""
    first = json.dumps(synthetic_gaad(80, seed=3))
    second = json.dumps(synthetic_gaad(80, seed=3))
    assert first == second


def test_different_seeds_differ() -> None:
    """Different seeds give different documents and different inventories."""
    a, b = synthetic_gaad(60, seed=1), synthetic_gaad(60, seed=2)
    assert a != b
    assert groupify.parse_gaad([a]).fingerprint != groupify.parse_gaad([b]).fingerprint


def test_url_encoded_documents_are_strings() -> None:
    """With url_encoded=True every document is a URL-encoded JSON string."""
    plain = synthetic_gaad(30, seed=5)
    encoded = synthetic_gaad(30, seed=5, url_encoded=True)
    docs, enc_docs = _documents(plain), _documents(encoded)
    assert docs
    assert len(docs) == len(enc_docs)
    assert all(isinstance(d, dict) for d in docs)
    assert all(isinstance(d, str) and d.startswith("%7B") for d in enc_docs)
    assert [json.loads(urllib.parse.unquote(d)) for d in enc_docs] == docs


def test_object_and_url_encoded_forms_parse_equal() -> None:
    """parse_gaad reads both forms into equal inventories with the same fingerprint."""
    plain = groupify.parse_gaad([synthetic_gaad(60, seed=11)])
    encoded = groupify.parse_gaad([synthetic_gaad(60, seed=11, url_encoded=True)])
    assert plain == encoded
    assert plain.fingerprint == encoded.fingerprint


def test_load_gaad_reads_both_forms(tmp_path: Path) -> None:
    """load_gaad reads files of both forms into inventories with the same fingerprint."""
    plain = groupify.load_gaad(_write(tmp_path, "plain.json", synthetic_gaad(40, seed=4)))
    encoded = groupify.load_gaad(
        _write(tmp_path, "encoded.json", synthetic_gaad(40, seed=4, url_encoded=True))
    )
    assert plain.fingerprint == encoded.fingerprint
    assert plain.account_id == "123456789012"


@pytest.mark.parametrize("users", [2, 3, 10, 48, 257, 2000])
def test_user_count_is_exact(users: int) -> None:
    """users=N gives exactly N users, with names unique ignoring case."""
    gaad = synthetic_gaad(users, seed=users)
    names = [u["UserName"] for u in gaad["UserDetailList"]]
    assert len(names) == users
    assert len({n.lower() for n in names}) == users
    assert len(groupify.parse_gaad([gaad]).users) == users


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("users", [12, 48, 1500])
def test_per_user_quotas_hold(users: int, seed: int) -> None:
    """No user has over 10 managed policies or 2,048 characters of inline policy."""
    inv = groupify.parse_gaad([synthetic_gaad(users, seed=seed)])
    for user in inv.users:
        assert len(user.managed) <= 10, user.name
        assert sum(document_size(p.document) for p in user.inline) < 2048, user.name


def test_shape_matches_the_aws_cli() -> None:
    """Entities carry the keys, ids and ARNs the AWS CLI writes."""
    gaad = synthetic_gaad(50, seed=9, account_id="210987654321")
    assert set(gaad) == {"UserDetailList", "GroupDetailList", "RoleDetailList", "Policies"}
    user_keys = {
        "Path",
        "UserName",
        "UserId",
        "Arn",
        "CreateDate",
        "UserPolicyList",
        "GroupList",
        "AttachedManagedPolicies",
        "Tags",
    }
    for user in gaad["UserDetailList"]:
        assert user_keys <= set(user)
        assert re.fullmatch(r"AIDA[A-Z0-9]{16}", user["UserId"])
        assert user["Arn"] == f"arn:aws:iam::210987654321:user{user['Path']}{user['UserName']}"
    for group in gaad["GroupDetailList"]:
        assert {"GroupPolicyList", "AttachedManagedPolicies"} <= set(group)
    assert 1 <= len(gaad["RoleDetailList"]) <= 3
    for policy in gaad["Policies"]:
        versions = policy["PolicyVersionList"]
        assert [v["VersionId"] for v in versions if v["IsDefaultVersion"]] == [
            policy["DefaultVersionId"]
        ]
        arn = policy["Arn"]
        assert arn.startswith(("arn:aws:iam::aws:policy/", "arn:aws:iam::210987654321:policy/"))


def test_attachment_counts_match() -> None:
    """Each policy's AttachmentCount is the number of users, groups and roles it is on."""
    gaad = synthetic_gaad(120, seed=6)
    counts: Counter[str] = Counter()
    for kind in ("UserDetailList", "GroupDetailList", "RoleDetailList"):
        for entity in gaad[kind]:
            counts.update(p["PolicyArn"] for p in entity["AttachedManagedPolicies"])
    listed = {p["Arn"]: p["AttachmentCount"] for p in gaad["Policies"]}
    assert set(counts) <= set(listed)
    assert all(listed[arn] == counts[arn] for arn in listed)


def test_break_glass_and_ci_users() -> None:
    """Exactly one break-glass admin, tagged, and a CI user with an inline policy."""
    inv = groupify.parse_gaad([synthetic_gaad(48, seed=7)])
    admins = [u for u in inv.users if u.tag_map.get("BreakGlass") == "true"]
    assert [u.name for u in admins] == ["breakglass-admin"]
    breakglass = admins[0]
    assert ADMIN in breakglass.managed
    assert breakglass.tag_map["Team"] == "security"
    ci = inv.user_by_name["ci-deployer"]
    assert ci.inline


def test_realistic_features_present() -> None:
    """Teams share sets; an existing group equals one; inline names vary; some are compliant."""
    inv = groupify.parse_gaad([synthetic_gaad(48, seed=7)])
    sets = Counter(u.direct for u in inv.users if u.direct)
    assert sets.most_common(1)[0][1] >= 5
    assert any(g.policies in sets for g in inv.groups)
    assert any(u.direct & inv.group_access(u) for u in inv.users)
    assert any(not u.direct for u in inv.users)
    assert any(len(names) > 1 for names in inv.inline_names.values())
    teams = {(u.tag_map.get("Team"), u.tag_map.get("JobFunction")) for u in inv.users}
    assert {("data", "analyst"), ("platform", "sre"), ("finance", "analyst")} <= teams


def test_documents_are_canonicalisable() -> None:
    """Every document in the output is a JSON object groupify can read."""
    for doc in _documents(synthetic_gaad(30, seed=2, url_encoded=True)):
        assert canonical_document(doc).startswith("{")


def test_groupify_proposes_and_plans_for_it() -> None:
    """propose and build_plan accept the example account and reuse an existing group."""
    inv = groupify.parse_gaad([synthetic_gaad(48, seed=7)])
    proposal = groupify.propose(inv, exclude_tags=["BreakGlass"])
    assert any(g.existing for g in proposal.groups)
    assert 6 <= len(proposal.groups) <= 12
    assert groupify.build_plan(proposal).steps


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"users": 1}, "at least 2"),
        ({"users": 10, "account_id": "12345"}, "12 digits"),
    ],
)
def test_bad_arguments_raise(kwargs: dict[str, Any], message: str) -> None:
    """Too few users or a malformed account id raise ValueError."""
    with pytest.raises(ValueError, match=message):
        synthetic_gaad(**kwargs)
