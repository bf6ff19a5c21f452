"""Golden files: the CLI's text and JSON, the plan file and the report for the bundled example.

Each case runs the real command and compares what it prints (and writes) with a
file under ``tests/golden/``, byte for byte. Against the embedded IAM (moto)
the ids moto draws at random and the fingerprints derived from them are masked.
A deliberate change of output is recorded with ``GROUPIFY_GOLDEN=update pytest
tests/test_golden.py``; review the diff of ``tests/golden/`` like code.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from groupify.cli import main

HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "golden"
EXAMPLE = HERE.parent / "examples" / "acme-gaad.json"
UPDATE = os.environ.get("GROUPIFY_GOLDEN") == "update"

# moto's random ids, and the fingerprints and checksums that depend on them.
_MASKS = (
    (re.compile(r"sha256:[0-9a-f]{8,64}"), "sha256:<masked>"),
    (re.compile(r"\bA(?:IDA|GPA|NPA)[A-Z0-9]{8,}"), "<id>"),
    # When the account was read and the plan made.
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:\+00:00|Z)"), "<time>"),
)


def _mask(text: str) -> str:
    for pattern, repl in _MASKS:
        text = pattern.sub(repl, text)
    return text


def check(name: str, text: str) -> None:
    """Compare *text* with ``golden/<name>`` (or record it, with GROUPIFY_GOLDEN=update).

    Ids, digests and times are masked: they differ on every run.
    """
    text = _mask(text)
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"no golden file {name}; record it with GROUPIFY_GOLDEN=update"
    expected = path.read_text(encoding="utf-8")
    assert text == expected, f"output differs from tests/golden/{name}"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(list(argv))
    return code, capsys.readouterr().out


# Relative, so the text (which names the file) is the same in any checkout.
GAAD = ("--from-gaad", EXAMPLE.name)
SCOPE = ("--exclude-tag", "BreakGlass")

FILE_CASES = {
    "scan.txt": ("scan", *GAAD),
    "scan.json": ("scan", *GAAD, "--json"),
    "propose.txt": ("propose", *GAAD, *SCOPE),
    "propose.json": ("propose", *GAAD, *SCOPE, "--json"),
    "propose-minimal.txt": ("propose", *GAAD, *SCOPE, "--strategy", "minimal"),
    "propose-compare.txt": ("propose", *GAAD, *SCOPE, "--compare"),
    "propose-compare.json": ("propose", *GAAD, *SCOPE, "--compare", "--json"),
    "plan.txt": ("plan", *GAAD, *SCOPE, "--out", "plan.json"),
    "plan-summary.json": ("plan", *GAAD, *SCOPE, "--out", "plan.json", "--json"),
}


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh working directory holding a copy of the example account file."""
    shutil.copy(EXAMPLE, tmp_path / EXAMPLE.name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("name", sorted(FILE_CASES))
def test_cli_output_from_example_file(
    name: str, in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """scan, propose and plan on the example file print exactly the golden text."""
    code, out = run(capsys, *FILE_CASES[name])
    assert code == 0
    check(f"file/{name}", out)


@pytest.mark.parametrize("strategy", ["exact", "minimal"])
def test_plan_file_and_report(
    strategy: str, in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The plan file and its HTML and Markdown reports are byte-identical to the golden ones."""
    plan = f"plan-{strategy}.json"
    code, _ = run(capsys, "plan", *GAAD, *SCOPE, "--strategy", strategy, "--out", plan)
    assert code == 0
    check(f"file/{plan}", (in_tmp / plan).read_text(encoding="utf-8"))
    code, out = run(capsys, "report", plan, "--html", "r.html", "--markdown", "r.md")
    assert code == 0
    check(f"file/report-{strategy}.txt", out)
    check(f"file/report-{strategy}.html", (in_tmp / "r.html").read_text(encoding="utf-8"))
    check(f"file/report-{strategy}.md", (in_tmp / "r.md").read_text(encoding="utf-8"))


@pytest.fixture
def embedded_iam(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The example account in moto, in-process, reached by boto3's default chain."""
    import boto3
    from moto import mock_aws

    from groupify.testing import populate

    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws(config={"iam": {"load_aws_managed_policies": True}}):
        populate(boto3.client("iam"), json.loads(EXAMPLE.read_text()))
        yield


def test_runbook_output(
    in_tmp: Path, embedded_iam: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """The runbook's commands against the embedded IAM print the golden text (ids masked)."""
    steps = {
        "scan.txt": (0, ("scan",)),
        "plan.txt": (0, ("plan", *SCOPE, "--out", "plan.json")),
        "apply-dry-run.txt": (0, ("apply", "plan.json", "--dry-run")),
        "apply-dry-run.json": (0, ("apply", "plan.json", "--dry-run", "--json")),
        "verify-before.json": (1, ("verify", "plan.json", "--json")),
        "apply.json": (
            0,
            ("apply", "plan.json", "--yes", "--settle", "0", "--workers", "1", "--json"),
        ),
        "verify.txt": (0, ("verify", "plan.json")),
        "apply-again.txt": (0, ("apply", "plan.json", "--yes")),
        "rollback-dry-run.txt": (0, ("rollback", "--journal", "plan.json.journal", "--dry-run")),
        "rollback.json": (
            0,
            ("rollback", "--journal", "plan.json.journal", "--yes", "--settle", "0", "--json"),
        ),
        "verify-after.txt": (1, ("verify", "plan.json")),
    }
    for name, (status, argv) in steps.items():
        code, out = run(capsys, *argv)
        assert code == status, name
        check(f"live/{name}", _mask(out))
