"""Pathological input: one line on stderr and exit code 2 from the CLI, nothing written,
and groupify's own errors (never ValueError, IndexError or UnicodeError) from the library.

JSON that :func:`json.loads` accepts but groupify cannot use (a lone surrogate escape,
``NaN``), JSON it cannot read (numbers past Python's digit limit, nesting past the
recursion limit), and plan files whose steps or inventory hold ARNs IAM never writes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import groupify
from groupify._files import parse_json, read_json
from groupify.cli import main
from groupify.errors import GaadFormatError, InputError, PlanFormatError
from groupify.inventory.policy import canonical_document, digest
from groupify.plan.model import _checksum

_UNSUMMED = ("checksum", "signature")

EXAMPLE = Path(__file__).parent.parent / "examples" / "acme-gaad.json"

#: JSON text that json.load accepts, or fails on with other than a JSONDecodeError, and
#: what groupify's one line says.
BAD_JSON = [
    ('{"a": ' + "9" * 5000 + "}", "a number has more than 4300 digits"),
    ('{"a": -' + "1" * 4301 + "}", "a number has more than 4300 digits"),
    ('{"a": "\\ud800"}', "unpaired UTF-16 surrogate"),
    ('{"a": "x\\uDFFFy"}', "unpaired UTF-16 surrogate"),
    ('{"a": "\\ude00\\ud83d"}', "unpaired UTF-16 surrogate"),  # a pair the wrong way round
    ('{"\\udbff": 1}', "unpaired UTF-16 surrogate"),  # in a key
    ('{"a": NaN}', "NaN is not a JSON number"),
    ('{"a": [Infinity]}', "Infinity is not a JSON number"),
    ('{"a": -Infinity}', "-Infinity is not a JSON number"),
    ('{"a": 1e999}', "number 1e999 is out of range"),
]
IDS = [
    "huge-int",
    "huge-negative-int",
    "lone-high",
    "lone-low",
    "reversed-pair",
    "surrogate-key",
    "nan",
    "infinity",
    "minus-infinity",
    "float-overflow",
]
#: What read_json refused already; parse_json says it the same way.
SYNTAX = [
    ("[" * 100_000 + "]" * 100_000, "nested too deeply to read"),
    ('{"a": 1', "line 1, column 8: Expecting ',' delimiter"),
    ('{"a": 1}\n{"b": 2}', "line 2, column 1: Extra data"),
    ("\ufeff{}", "line 1, column 1: Unexpected UTF-8 BOM"),
]


# -- parse_json -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"), BAD_JSON + SYNTAX, ids=[*IDS, "deep", "truncated", "extra-data", "bom"]
)
def test_parse_json_refuses_in_one_line_of_the_given_error(text: str, message: str) -> None:
    """Every failure is the caller's error class, ``what:`` first, on one line."""
    for given in (text, text.encode("utf-8")) if "BOM" not in message else (text,):
        with pytest.raises(PlanFormatError) as info:
            parse_json(given, PlanFormatError, "journal line 3")
        line = str(info.value)
        assert line.startswith("journal line 3: not valid JSON (") and message in line
        assert "\n" not in line and len(line) < 200


def test_parse_json_keeps_what_json_means() -> None:
    """Surrogate pairs (an emoji), an escaped backslash before ``u``, big-but-legal numbers
    and text in UTF-16 all read as :func:`json.loads` reads them."""
    assert parse_json('{"e": "\\ud83d\\ude00"}', InputError, "x") == {"e": "\U0001f600"}
    assert parse_json('{"e": "\\uD83D\\uDE00"}', InputError, "x") == {"e": "\U0001f600"}
    assert parse_json('"\\\\ud800"', InputError, "x") == "\\ud800"
    assert parse_json('{"n": ' + "9" * 4300 + "}", InputError, "x") == {"n": int("9" * 4300)}
    assert parse_json('[1.5e308, -0.0, "\u00e9"]', InputError, "x") == [1.5e308, -0.0, "é"]
    assert parse_json('{"a": 1}'.encode("utf-16"), InputError, "x") == {"a": 1}


def test_parse_json_refuses_bytes_that_are_not_text() -> None:
    """Bytes are decoded strictly: an encoded surrogate (which json.loads lets through
    with ``surrogatepass``) is refused."""
    with pytest.raises(InputError, match=r"^x: not valid JSON \(not UTF-8 text"):
        parse_json(b'"\xed\xa0\x80"', InputError, "x")


# -- read_json and the files the CLI reads ----------------------------------------------


@pytest.mark.parametrize(("text", "message"), BAD_JSON, ids=IDS)
def test_read_json_names_the_file(tmp_path: Path, text: str, message: str) -> None:
    """read_json keeps its form: ``FILE: BAD_JSON (detail)``."""
    path = tmp_path / "in.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(GaadFormatError) as info:
        read_json(path, GaadFormatError, "not valid JSON")
    line = str(info.value)
    assert line.startswith(f"{path}: not valid JSON (") and message in line
    assert "\n" not in line


def _example_text(replace: tuple[str, str] | None = None, add: str | None = None) -> str:
    text = EXAMPLE.read_text(encoding="utf-8")
    if replace is not None:
        assert replace[0] in text
        text = text.replace(*replace, 1)
    if add is not None:
        text = text.rstrip().removesuffix("}") + f', "X": {add}}}'
    return text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (_example_text(add="9" * 5000), "a number has more than 4300 digits"),
        (_example_text(replace=('"alex.bauer"', '"\\ud800"')), "unpaired UTF-16 surrogate"),
        (_example_text(replace=('"Version"', '"\\udc00"')), "unpaired UTF-16 surrogate"),
        (_example_text(add="NaN"), "NaN is not a JSON number"),
        (_example_text(add="-Infinity"), "-Infinity is not a JSON number"),
    ],
    ids=["huge-int", "surrogate-name", "surrogate-document", "nan", "minus-infinity"],
)
@pytest.mark.parametrize("verb", ["scan", "propose", "plan"])
def test_cli_refuses_bad_json_gaad_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str, verb: str
) -> None:
    """Exit 2, one line naming the file, no traceback, nothing written."""
    gaad = tmp_path / "gaad.json"
    gaad.write_text(text, encoding="utf-8")
    out = tmp_path / "out.json"
    argv = [verb, "--from-gaad", str(gaad)] + (["--out", str(out)] if verb != "scan" else [])
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(f"groupify: error: {gaad}: not valid JSON (")
    assert message in captured.err and captured.err.count("\n") == 1
    assert not out.exists()


def test_proposal_file_with_bad_json_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """plan --proposal reads its file through the same reader."""
    proposal = tmp_path / "proposal.json"
    proposal.write_text('{"groups": [{"name": "\\ud800"}]}', encoding="utf-8")
    out = tmp_path / "p.json"
    argv = ["plan", "--from-gaad", str(EXAMPLE), "--proposal", str(proposal), "--out", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"groupify: error: {proposal}: not a JSON proposal (")
    assert "unpaired UTF-16 surrogate" in err and err.count("\n") == 1
    assert not out.exists()


@pytest.mark.parametrize(
    "document",
    [
        '{"Version": "2012-10-17", "Statement": [], "Sid": "\\ud800"}',
        "%7B%22Sid%22%3A%22%5Cud800%22%7D",  # URL-encoded, as the IAM API returns it
        {"Sid": "\ud800"},
        '{"Statement": [], "N": NaN}',
        {"N": float("nan")},
        {"N": float("inf")},
    ],
    ids=["json", "urlencoded", "mapping", "nan", "nan-mapping", "inf-mapping"],
)
def test_policy_documents_that_cannot_be_digested_are_input_errors(document: Any) -> None:
    """canonical_document refuses what would fail later, in digest() or json.dumps()."""
    with pytest.raises(InputError) as info:
        digest(canonical_document(document))
    assert str(info.value).startswith("policy document")
    assert "\n" not in str(info.value)


# -- plan files ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def plan_data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A plan built from the bundled example, as its JSON."""
    path = tmp_path_factory.mktemp("plan") / "plan.json"
    assert main(["plan", "--from-gaad", str(EXAMPLE), "--out", str(path), "--json"]) == 0
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _write_plan(tmp_path: Path, data: dict[str, Any], change: Callable[[Any], None]) -> Path:
    data = json.loads(json.dumps(data))
    change(data)
    # Anyone can recompute the checksum of an unsigned plan: it is no defence.
    data["checksum"] = _checksum({k: v for k, v in data.items() if k not in _UNSUMMED})
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _step_param(op: str, key: str, value: str) -> Callable[[Any], None]:
    def change(data: Any) -> None:
        next(s for s in data["steps"] if s["op"] == op)["params"][key] = value

    return change


def _inventory(kind: str, field: str, value: Any) -> Callable[[Any], None]:
    def change(data: Any) -> None:
        entry = next(e for e in data["inventory"][kind] if e.get(field))
        if isinstance(entry[field], list):
            entry[field][0] = value
        else:
            entry[field] = value

    return change


def _duplicate_tag(data: Any) -> None:
    user = next(u for u in data["inventory"]["users"] if u["tags"])
    key = user["tags"][0][0]
    user["tags"] = [[key, "1"], [key.upper(), "2"]]


PLAN_CHANGES = [
    (_step_param("attach_group_policy", "PolicyArn", "arn:policy/x"), "is not a managed policy"),
    (_step_param("detach_user_policy", "PolicyArn", "arn:aws:iam::aws"), "is not a managed"),
    (
        _step_param("attach_group_policy", "PolicyArn", "arn:aws:iam::12345678901:policy/x"),
        "has account id '12345678901'",
    ),
    (_step_param("create_group", "GroupName", "a b"), "group name 'a b' is not one IAM allows"),
    (_step_param("create_group", "GroupName", "g" * 129), "has 129 characters"),
    (_step_param("add_user_to_group", "UserName", "x/y"), "user name 'x/y' is not one IAM"),
    (_step_param("put_group_policy", "PolicyName", "p q"), "policy name 'p q' is not one IAM"),
    (_step_param("create_group", "Path", "nope"), "path 'nope' is not one IAM allows"),
    (_inventory("users", "managed", "arn:policy/x"), "malformed inventory: user '"),
    (_inventory("groups", "managed", "arn:policy/x"), "malformed inventory: group '"),
    (_inventory("policies", "arn", "arn:policy/x"), "malformed inventory: policy: 'arn:policy/x'"),
    (_inventory("users", "permissions_boundary", "arn:"), "boundary: 'arn:' is not a managed"),
    (_inventory("users", "arn", "arn:aws:iam::1:user/x"), "has account id '1'"),
    (_inventory("roles", "path", "/a b/"), "path '/a b/' is not one IAM allows"),
    (_duplicate_tag, "appears twice (IAM tag keys are unique ignoring case)"),
    (
        lambda d: d["inventory"].__setitem__("caller_arn", "me"),
        "caller 'me' is not an IAM or STS ARN",
    ),
    (_inventory("aws_policies", "document", -1), "document must be text or null, not int"),
    (_inventory("policies", "document", "{nope"), "policy document: not valid JSON (line 1"),
]
PLAN_IDS = [
    "attach-arn",
    "detach-arn",
    "attach-11-digits",
    "group-name",
    "group-name-long",
    "user-name",
    "inline-name",
    "path",
    "inventory-user-managed",
    "inventory-group-managed",
    "inventory-policy",
    "inventory-boundary",
    "inventory-user-arn",
    "inventory-role-path",
    "inventory-tags",
    "inventory-caller",
    "inventory-document-type",
    "inventory-document-json",
]


@pytest.mark.parametrize(("change", "message"), PLAN_CHANGES, ids=PLAN_IDS)
@pytest.mark.parametrize(
    "verb",
    [
        ["apply", "--dry-run", "{plan}"],
        ["report", "{plan}", "--markdown", "{tmp}/r.md"],
        ["report", "{plan}", "--html", "{tmp}/r.html"],
    ],
    ids=["apply-dry-run", "report-markdown", "report-html"],
)
def test_plan_file_iam_never_wrote_is_one_line_exit_2(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    plan_data: dict[str, Any],
    change: Callable[[Any], None],
    message: str,
    verb: list[str],
) -> None:
    """An edited plan (its checksum made to match) with a parameter or inventory value IAM
    would refuse: one line, exit 2, no report written, before any AWS call."""
    path = _write_plan(tmp_path, plan_data, change)
    argv = [a.format(plan=path, tmp=tmp_path) for a in verb]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("groupify: error: ") and message in captured.err
    assert captured.err.count("\n") == 1
    assert "Traceback" not in captured.err
    assert not (tmp_path / "r.md").exists() and not (tmp_path / "r.html").exists()


@pytest.mark.parametrize("change", [c for c, _ in PLAN_CHANGES[:8]], ids=PLAN_IDS[:8])
def test_load_plan_raises_input_error(
    tmp_path: Path, plan_data: dict[str, Any], change: Callable[[Any], None]
) -> None:
    """The library raises PlanFormatError naming the file for a malformed step, not
    IndexError."""
    path = _write_plan(tmp_path, plan_data, change)
    with pytest.raises(groupify.PlanFormatError) as info:
        groupify.load_plan(path)
    assert "\n" not in str(info.value)
    assert str(info.value).startswith(f"{path}: ")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace('"format"', '"\\udc00format"', 1), "unpaired UTF-16 surrogate"),
        (lambda t: t[:-1] + ', "x": ' + "1" * 5000 + "}", "a number has more than 4300"),
        (lambda t: t[:-1] + ', "x": NaN}', "NaN is not a JSON number"),
    ],
    ids=["surrogate", "huge-int", "nan"],
)
def test_plan_file_with_bad_json_is_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    plan_data: dict[str, Any],
    edit: Callable[[str], str],
    message: str,
) -> None:
    """A plan file that is not plain JSON: ``FILE: not a JSON plan file (detail)``."""
    path = tmp_path / "edited.json"
    path.write_text(edit(json.dumps(plan_data)), encoding="utf-8")
    assert main(["report", str(path), "--markdown", str(tmp_path / "r.md")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"groupify: error: {path}: not a JSON plan file (")
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "r.md").exists()


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d["groups"].__setitem__(0, "data-analyst"),
        lambda d: d["groups"][0].__setitem__("members", "alice"),
        lambda d: d["groups"][0].__setitem__("policies", [None]),
        lambda d: d["groups"][0].pop("name"),
    ],
    ids=["not-an-object", "members-text", "policy-null", "no-name"],
)
def test_report_of_a_plan_with_malformed_group_records_is_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    plan_data: dict[str, Any],
    change: Callable[[Any], None],
) -> None:
    """A record of the plan's reviewed groups of the wrong shape is refused when the plan is
    read: one line, not an AttributeError in the renderer."""
    path = _write_plan(tmp_path, plan_data, change)
    for fmt in ("--markdown", "--html"):
        assert main(["report", str(path), fmt, str(tmp_path / "r")]) == 2
        err = capsys.readouterr().err
        assert err == (
            f"groupify: error: {path}: malformed plan: groups[0] must be an object with a "
            "name, whether it exists, member names and policy objects\n"
        )
        assert not (tmp_path / "r").exists()


def test_an_unedited_plan_still_loads(tmp_path: Path, plan_data: dict[str, Any]) -> None:
    """The checks refuse edits, not what groupify wrote (with its checksum recomputed)."""
    plan = groupify.load_plan(_write_plan(tmp_path, plan_data, lambda d: None))
    assert plan.steps
