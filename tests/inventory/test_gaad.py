"""Reading GAAD files and pages into an inventory."""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

import groupify
from groupify import GaadFormatError, PolicyRef
from groupify.inventory.policy import canonical_document, document_size, is_aws_managed
from tests.support import ACCOUNT, aws, cust, doc, make_inventory, to_gaad


def _write(tmp_path: Path, data: Any, name: str = "gaad.json") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_object_json_and_urlencoded_documents_are_one_policy() -> None:
    """The three spellings of a document canonicalise to the same text."""
    obj = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
    }
    text = json.dumps(obj, indent=4)
    encoded = urllib.parse.quote(json.dumps(obj))
    assert canonical_document(obj) == canonical_document(text) == canonical_document(encoded)
    assert PolicyRef.inline(obj) == PolicyRef.inline(encoded)


def test_document_size_ignores_whitespace() -> None:
    """IAM does not count whitespace against size quotas."""
    assert document_size('{ "a" : "b c" }') == len('{"a":"bc"}')


@pytest.mark.parametrize(
    ("arn", "expected"),
    [
        ("arn:aws:iam::aws:policy/ReadOnlyAccess", True),
        ("arn:aws-us-gov:iam::aws:policy/ReadOnlyAccess", True),
        ("arn:aws:iam::123456789012:policy/ReadOnlyAccess", False),
    ],
)
def test_is_aws_managed(arn: str, expected: bool) -> None:
    """AWS-managed policies are told apart by the account field, in any partition."""
    assert is_aws_managed(arn) is expected


def test_round_trip_through_cli_format(tmp_path: Path, small: groupify.Inventory) -> None:
    """A GAAD file of an inventory loads back to the same inventory."""
    loaded = groupify.load_gaad(_write(tmp_path, to_gaad(small)))
    assert loaded.fingerprint == small.fingerprint
    assert loaded.user_by_name["alice"].inline[0].document == doc("athena:StartQueryExecution")


def test_urlencoded_pages_load_like_the_cli_file(small: groupify.Inventory) -> None:
    """Raw API pages (URL-encoded documents, split users) equal the merged CLI file."""
    gaad = to_gaad(small)
    for u in gaad["UserDetailList"]:
        for p in u["UserPolicyList"]:
            p["PolicyDocument"] = urllib.parse.quote(json.dumps(p["PolicyDocument"]))
    users = gaad.pop("UserDetailList")
    pages = [
        {"UserDetailList": users[:2], "IsTruncated": True, "Marker": "m1"},
        {**gaad, "UserDetailList": users[2:], "IsTruncated": False},
    ]
    assert groupify.parse_gaad(pages).fingerprint == small.fingerprint


def test_same_document_under_two_names_is_one_policy(small: groupify.Inventory) -> None:
    """alice's 'athena' and bob's 'athena-query' are one inline policy."""
    assert small.user_by_name["alice"].direct == small.user_by_name["bob"].direct


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "not valid JSON (line 1, column 1"),
        ("[]", "not an object"),
        ("{}", "no UserDetailList"),
        ('{"UserDetailList": {}}', "UserDetailList must be a list"),
        ('{"UserDetailList": [{"Arn": "x"}]}', "missing or invalid UserName"),
        (
            '{"UserDetailList": [], "IsTruncated": true, "Marker": "x"}',
            "holds only the first page",
        ),
    ],
)
def test_malformed_files_are_refused_in_one_line(
    tmp_path: Path, content: str, message: str
) -> None:
    """Bad files raise GaadFormatError naming the file, on one line."""
    path = _write(tmp_path, content)
    with pytest.raises(GaadFormatError) as info:
        groupify.load_gaad(path)
    text = str(info.value)
    assert message in text
    assert str(path) in text
    assert "\n" not in text


def test_missing_file(tmp_path: Path) -> None:
    """A missing file is a GaadFormatError, not an OSError."""
    with pytest.raises(GaadFormatError, match="no such file"):
        groupify.load_gaad(tmp_path / "nope.json")


def test_group_not_described_is_refused(tmp_path: Path) -> None:
    """A user in a group the file lacks (a filtered save) cannot be planned for."""
    gaad = to_gaad(
        make_inventory({"a": {"managed": [aws("ReadOnlyAccess")], "groups": ["g"]}}, {"g": {}})
    )
    gaad["GroupDetailList"] = []
    with pytest.raises(GaadFormatError, match="which the inventory does not describe"):
        groupify.load_gaad(_write(tmp_path, gaad))


def test_users_differing_in_case_are_refused(tmp_path: Path) -> None:
    """IAM names are unique ignoring case; a file that says otherwise is corrupt."""
    gaad = to_gaad(make_inventory({"ann": {}, "bob": {}}))
    gaad["UserDetailList"][1]["UserName"] = "Ann"
    with pytest.raises(GaadFormatError, match="appears twice"):
        groupify.load_gaad(_write(tmp_path, gaad))


def test_bad_inline_document_names_user_and_policy(tmp_path: Path) -> None:
    """An inline document that is not JSON is reported with its user and name."""
    gaad = to_gaad(make_inventory({"ann": {"inline": {"p": doc("s3:*")}}}))
    gaad["UserDetailList"][0]["UserPolicyList"][0]["PolicyDocument"] = "%7Bbroken"
    with pytest.raises(GaadFormatError, match="user 'ann', inline policy 'p'"):
        groupify.load_gaad(_write(tmp_path, gaad))


def test_mixed_accounts_are_refused() -> None:
    """Entities from two accounts in one file are refused."""
    gaad = to_gaad(make_inventory({"ann": {}}))
    other = dict(
        gaad["UserDetailList"][0], UserName="bob", Arn="arn:aws:iam::999999999999:user/bob"
    )
    gaad["UserDetailList"].append(other)
    with pytest.raises(GaadFormatError, match="more than one account"):
        groupify.parse_gaad([gaad])


def test_customer_policies_are_kept_and_aws_ones_only_where_held() -> None:
    """Customer policy details are kept; an AWS-managed one only if a user or group holds it."""
    gaad = to_gaad(make_inventory({"ann": {}}))
    version = {
        "Document": {"Version": "2012-10-17", "Statement": []},
        "VersionId": "v1",
        "IsDefaultVersion": True,
    }
    gaad["Policies"] = [
        {
            "PolicyName": "mine",
            "Arn": cust("mine"),
            "Path": "/",
            "DefaultVersionId": "v1",
            "PolicyVersionList": [version],
            "AttachmentCount": 0,
        },
        {
            "PolicyName": "ReadOnlyAccess",
            "Arn": aws("ReadOnlyAccess"),
            "Path": "/",
            "DefaultVersionId": "v1",
            "PolicyVersionList": [version],
        },
    ]
    inv = groupify.parse_gaad([gaad])
    assert [p.arn for p in inv.policies] == [cust("mine")]
    assert inv.policies[0].document == canonical_document(version["Document"])
    assert inv.aws_policies == ()  # ReadOnlyAccess is in the file, but nobody holds it

    gaad["UserDetailList"][0]["AttachedManagedPolicies"] = [
        {"PolicyName": "ReadOnlyAccess", "PolicyArn": aws("ReadOnlyAccess")}
    ]
    held = groupify.parse_gaad([gaad])
    assert [(p.arn, p.document) for p in held.aws_policies] == [
        (aws("ReadOnlyAccess"), canonical_document(version["Document"]))
    ]
    assert held.document(groupify.PolicyRef.managed(aws("ReadOnlyAccess"))) == (
        canonical_document(version["Document"])
    )
    assert held.document(groupify.PolicyRef.managed(aws("PowerUserAccess"))) is None
    assert held.fingerprint == groupify.parse_gaad([to_gaad(held)]).fingerprint
    assert groupify.Inventory.from_dict(held.to_dict()) == held


def test_inventory_dict_round_trip(small: groupify.Inventory) -> None:
    """Inventory.to_dict / from_dict is lossless."""
    assert groupify.Inventory.from_dict(small.to_dict()) == small


def test_reprs_are_short() -> None:
    """Reprs name the thing and its size, not its contents."""
    inv = make_inventory({"ann": {"managed": [aws("ReadOnlyAccess")]}})
    assert repr(inv) == f"Inventory(account={ACCOUNT}, users=1, groups=0)"
    assert repr(inv.users[0]) == "User('ann', direct=1, groups=0)"
    assert (
        repr(PolicyRef.managed(aws("ReadOnlyAccess")))
        == "PolicyRef(arn:aws:iam::aws:policy/ReadOnlyAccess)"
    )


@pytest.mark.parametrize(
    "boundary", [5, "arn:aws:iam::aws:policy/X", {"PermissionsBoundaryArn": 7}]
)
def test_an_unreadable_permissions_boundary_is_refused(boundary: object) -> None:
    """A boundary limits a user: one that cannot be read is refused, never dropped."""
    gaad = to_gaad(make_inventory({"ann": {}}))
    gaad["UserDetailList"][0]["PermissionsBoundary"] = boundary
    with pytest.raises(GaadFormatError, match="PermissionsBoundary"):
        groupify.parse_gaad([gaad])


def test_deeply_nested_json_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    """A file, or a policy document, nested past Python's recursion limit is bad input."""
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(GaadFormatError, match="nested too deeply"):
        groupify.load_gaad(deep)
    gaad = to_gaad(make_inventory({"ann": {}}))
    gaad["UserDetailList"][0]["UserPolicyList"] = [
        {"PolicyName": "p", "PolicyDocument": '{"a":' * 100_000 + "1" + "}" * 100_000}
    ]
    with pytest.raises(GaadFormatError, match="nested too deeply"):
        groupify.parse_gaad([gaad])


# -- values IAM could never have written ------------------------------------------


def _gaad_with_role() -> dict[str, Any]:
    """A one-user, one-group, one-role GAAD document to break one field of."""
    gaad = to_gaad(
        make_inventory(
            {"ann": {"managed": [aws("ReadOnlyAccess")], "inline": {"p": doc("s3:*")}}},
            {"g": {"inline": {"q": doc("ec2:Describe*")}}},
        )
    )
    gaad["UserDetailList"][0]["GroupList"] = ["g"]
    gaad["UserDetailList"][0]["Tags"] = [{"Key": "Team", "Value": "data"}]
    gaad["RoleDetailList"] = [
        {
            "Path": "/",
            "RoleName": "app",
            "Arn": f"arn:aws:iam::{ACCOUNT}:role/app",
            "RolePolicyList": [],
            "AttachedManagedPolicies": [],
            "Tags": [{"Key": "Owner", "Value": "ann"}],
        }
    ]
    return gaad


def _set(*path: Any) -> Any:
    """A change to the document: ``_set(k0, k1, ..., value)`` sets ``gaad[k0][k1]...``."""
    *keys, value = path

    def change(gaad: dict[str, Any]) -> None:
        target = gaad
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value

    return change


_USER = ("UserDetailList", 0)
_GROUP = ("GroupDetailList", 0)
_ROLE = ("RoleDetailList", 0)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_set(*_USER, "UserName", "a" * 65), "user name 'aaaa"),
        (_set(*_USER, "UserName", "ann smith"), "user name 'ann smith' is not one IAM allows"),
        (_set(*_USER, "UserName", "ann/smith"), "user name 'ann/smith' is not one IAM allows"),
        (_set(*_USER, "UserName", "ännа"), "is not one IAM allows"),  # \w is ASCII only
        (_set(*_ROLE, "RoleName", "r" * 65), "has 65 characters; IAM allows at most 64"),
        (_set(*_ROLE, "RoleName", "app<1>"), "role name 'app<1>' is not one IAM allows"),
        (_set(*_GROUP, "GroupName", "g" * 129), "has 129 characters; IAM allows at most 128"),
        (_set(*_GROUP, "GroupName", "g;drop"), "group name 'g;drop' is not one IAM allows"),
        (
            _set(*_USER, "UserPolicyList", 0, "PolicyName", "p" * 129),
            "user 'ann': policy name 'pppp",
        ),
        (
            _set(*_GROUP, "GroupPolicyList", 0, "PolicyName", "q q"),
            "group 'g': policy name 'q q' is not one IAM allows",
        ),
        (_set(*_USER, "Path", "data/"), "user 'ann': path 'data/' is not one IAM allows"),
        (_set(*_USER, "Path", "/da ta/"), "user 'ann': path '/da ta/' is not one IAM allows"),
        (_set(*_GROUP, "Path", "/" + "x" * 512 + "/"), "group 'g': path '/xxx"),
        (_set(*_ROLE, "Path", "/a\x7f/"), "role 'app': path '/a\\x7f/' is not one IAM allows"),
        (
            _set(*_USER, "Arn", "arn:aws:iam::12345678901:user/ann"),
            "user 'ann': ARN 'arn:aws:iam::12345678901:user/ann' has account id '12345678901'; "
            "an AWS account id has 12 digits",
        ),
        (
            _set(*_GROUP, "Arn", "arn:aws:iam::1234567890123:group/g"),
            "has account id '1234567890123'",
        ),
        (_set(*_ROLE, "Arn", "arn:aws:iam::acct:role/app"), "has account id 'acct'"),
        (_set(*_USER, "Arn", "ann"), "user 'ann': 'ann' is not an IAM ARN"),
        (
            _set(*_USER, "Arn", f"arn:aws:iam::{ACCOUNT}:group/ann"),
            "is not the ARN of a user",
        ),
        (
            _set(*_USER, "Tags", [{"Key": "Team", "Value": "a"}, {"Key": "team", "Value": "b"}]),
            "user 'ann': tag key 'team' appears twice (IAM tag keys are unique ignoring case)",
        ),
        (
            _set(*_ROLE, "Tags", [{"Key": "Owner", "Value": "a"}, {"Key": "Owner", "Value": "b"}]),
            "role 'app': tag key 'Owner' appears twice",
        ),
        (
            _set(
                *_USER,
                "AttachedManagedPolicies",
                [{"PolicyName": "x", "PolicyArn": "arn:policy/x"}],
            ),
            "user 'ann': 'arn:policy/x' is not a managed policy ARN",
        ),
        (
            _set(
                *_USER,
                "AttachedManagedPolicies",
                [{"PolicyName": "x", "PolicyArn": "arn:aws:iam::12345678901:policy/x"}],
            ),
            "policy ARN 'arn:aws:iam::12345678901:policy/x' has account id '12345678901'",
        ),
        (
            _set(
                *_GROUP,
                "AttachedManagedPolicies",
                [{"PolicyName": "x", "PolicyArn": f"arn:aws:iam::{ACCOUNT}:role/x"}],
            ),
            "group 'g': 'arn:aws:iam::123456789012:role/x' is not a managed policy ARN",
        ),
        (
            _set(
                *_ROLE,
                "AttachedManagedPolicies",
                [{"PolicyName": "x y", "PolicyArn": aws("ReadOnlyAccess")}],
            ),
            "role 'app': policy name 'x y' is not one IAM allows",
        ),
        (
            _set(*_USER, "PermissionsBoundary", {"PermissionsBoundaryArn": "arn:policy/b"}),
            "user 'ann', boundary: 'arn:policy/b' is not a managed policy ARN",
        ),
        (_set("Policies", 0, "Arn", "arn:policy/ReadOnlyAccess"), "is not a managed policy ARN"),
        (
            _set("Policies", 0, "PolicyName", "Read Only"),
            "policy name 'Read Only' is not one IAM allows",
        ),
    ],
)
def test_values_iam_never_writes_are_refused(
    tmp_path: Path, change: Any, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A name, path, ARN or tag IAM would refuse is a GaadFormatError naming the file and
    the entity, on one line; the CLI prints it as one line and exits 2."""
    from groupify.cli import main

    gaad = _gaad_with_role()
    groupify.parse_gaad([gaad])  # the document is good before the change
    change(gaad)
    path = _write(tmp_path, gaad)
    with pytest.raises(GaadFormatError) as info:
        groupify.load_gaad(path)
    text = str(info.value)
    assert text.startswith(f"{path}: ") and message in text
    assert "\n" not in text
    assert main(["scan", "--from-gaad", str(path)]) == 2
    out = capsys.readouterr()
    assert out.err == f"groupify: error: {text}\n"
    assert out.out == ""


def test_what_iam_does_write_is_accepted() -> None:
    """AWS-managed ARNs with a path, other partitions, 64- and 128-character names, deep
    paths, service-linked roles and tag keys that differ beyond case all load."""
    lambda_basic = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    gaad = _gaad_with_role()
    user = gaad["UserDetailList"][0]
    user["UserName"] = "u" * 63 + "@"
    user["Arn"] = f"arn:aws:iam::{ACCOUNT}:user/{'u' * 63}@"
    user["Path"] = "/team+a/x=y,z.w@q_-/" + "p" * 400 + "/"
    user["Tags"] = [{"Key": "Team", "Value": "a"}, {"Key": "Team2", "Value": "b"}]
    user["AttachedManagedPolicies"] = [
        {"PolicyName": "AWSLambdaBasicExecutionRole", "PolicyArn": lambda_basic},
        {
            "PolicyName": "ViewOnlyAccess",
            "PolicyArn": "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess",
        },
    ]
    user["PermissionsBoundary"] = {"PermissionsBoundaryArn": cust("boundaries/" + "b" * 128)}
    user["UserPolicyList"][0]["PolicyName"] = "p" * 128
    gaad["GroupDetailList"][0]["GroupName"] = "g" * 128
    gaad["GroupDetailList"][0]["Arn"] = f"arn:aws:iam::{ACCOUNT}:group/{'g' * 128}"
    user["GroupList"] = ["g" * 128]
    gaad["RoleDetailList"].append(
        {
            "Path": "/aws-service-role/support.amazonaws.com/",
            "RoleName": "AWSServiceRoleForSupport",
            "Arn": f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/support.amazonaws.com/"
            "AWSServiceRoleForSupport",
            "AttachedManagedPolicies": [
                {
                    "PolicyName": "AWSSupportServiceRolePolicy",
                    "PolicyArn": aws("aws-service-role/AWSSupportServiceRolePolicy"),
                }
            ],
        }
    )
    inv = groupify.parse_gaad([gaad])
    assert lambda_basic in inv.user_by_name["u" * 63 + "@"].managed
    for partition in ("aws-cn", "aws-us-gov"):
        text = json.dumps(_gaad_with_role()).replace("arn:aws:", f"arn:{partition}:")
        assert groupify.parse_gaad([json.loads(text)]).partition == partition


def test_example_and_synthetic_accounts_load() -> None:
    """The bundled example and the generator's accounts pass every check."""
    from groupify.testing import synthetic_gaad

    example = Path(__file__).parents[2] / "examples" / "acme-gaad.json"
    assert groupify.load_gaad(example).users
    for seed in range(3):
        assert len(groupify.parse_gaad([synthetic_gaad(users=5000, seed=seed)]).users) == 5000
