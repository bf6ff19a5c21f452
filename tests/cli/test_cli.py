"""The groupify command: output, files written, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import groupify
from groupify.cli import main
from tests.support import ACCOUNT, to_gaad


@pytest.fixture
def gaad(tmp_path: Path, small: groupify.Inventory) -> Path:
    path = tmp_path / "gaad.json"
    path.write_text(json.dumps(to_gaad(small)))
    return path


def test_scan_lists_iam2_failures(gaad: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """scan prints the users with direct policies."""
    assert main(["scan", "--from-gaad", str(gaad)]) == 0
    out = capsys.readouterr().out
    assert "IAM.2: 4 user(s) have policies attached directly" in out
    assert "root-bg" in out and "dave" not in out


def test_scan_json(gaad: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """scan --json is machine-readable."""
    assert main(["scan", "--from-gaad", str(gaad), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)["result"]
    assert data["account_id"] == ACCOUNT
    assert [u["user"] for u in data["iam2_failing"]] == ["alice", "bob", "carol", "root-bg"]


def test_propose_writes_an_editable_proposal(
    gaad: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """propose --out writes a proposal that plan --proposal accepts after an edit."""
    proposal = tmp_path / "proposal.json"
    assert (
        main(
            [
                "propose",
                "--from-gaad",
                str(gaad),
                "--exclude-user",
                "root-*",
                "--out",
                str(proposal),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "data-analyst" in out and "Documented exceptions" in out
    data = json.loads(proposal.read_text())
    data["groups"][0]["name"] = "analysts"
    proposal.write_text(json.dumps(data))
    plan = tmp_path / "plan.json"
    assert (
        main(["plan", "--from-gaad", str(gaad), "--proposal", str(proposal), "--out", str(plan)])
        == 0
    )
    assert any(
        s["params"].get("GroupName") == "analysts" for s in json.loads(plan.read_text())["steps"]
    )


def test_plan_writes_a_verified_plan(
    gaad: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """plan --out writes a plan that loads and verifies."""
    out_path = tmp_path / "plan.json"
    assert (
        main(
            [
                "plan",
                "--from-gaad",
                str(gaad),
                "--exclude-tag",
                "BreakGlass",
                "--out",
                str(out_path),
            ]
        )
        == 0
    )
    assert "Verified:" in capsys.readouterr().out
    assert groupify.load_plan(out_path).summary()["users_migrated"] == 3


def test_plan_json_summary(gaad: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """plan --json prints the summary for scripts."""
    assert (
        main(["plan", "--from-gaad", str(gaad), "--out", str(tmp_path / "p.json"), "--json"]) == 0
    )
    assert json.loads(capsys.readouterr().out)["result"]["summary"]["steps"] > 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["scan", "--from-gaad", "/nonexistent.json"], "no such file"),
        (
            [
                "plan",
                "--from-gaad",
                "{gaad}",
                "--out",
                "{tmp}/p.json",
                "--quota",
                "groups_per_user=x",
            ],
            "NAME=INTEGER",
        ),
        (
            ["plan", "--from-gaad", "{gaad}", "--out", "{tmp}/p.json", "--quota", "nope=1"],
            "unknown quota",
        ),
        (
            [
                "plan",
                "--from-gaad",
                "{gaad}",
                "--out",
                "{tmp}/p.json",
                "--quota",
                "groups_per_account=1",
            ],
            "quota is 1",
        ),
        (
            ["plan", "--from-gaad", "{gaad}", "--out", "{tmp}/p.json", "--proposal", "{gaad}"],
            "not a groupify proposal",
        ),
        (
            ["plan", "--from-gaad", "{gaad}", "--out", "{tmp}/p.json", "--exclude-tag", "=x"],
            "KEY or KEY=VALUE",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    gaad: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    """Bad input: one line on stderr, exit code 2, no file written."""
    argv = [a.format(gaad=gaad, tmp=tmp_path) for a in args]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("groupify: error: ") and message in err
    assert err.count("\n") == 1
    assert not (tmp_path / "p.json").exists()


def test_console_script_runs(gaad: Path, tmp_path: Path) -> None:
    """python -m groupify.cli works as a process, with no traceback on bad input."""
    ok = subprocess.run(
        [
            sys.executable,
            "-m",
            "groupify.cli",
            "plan",
            "--from-gaad",
            str(gaad),
            "--out",
            str(tmp_path / "p.json"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "groupify.cli", "scan", "--from-gaad", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2
    assert "Traceback" not in bad.stderr and "is a directory" in bad.stderr


def test_propose_compare_strategies(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--compare prints exact against minimal: groups and groups per user."""
    from groupify.testing import synthetic_gaad

    path = tmp_path / "gaad.json"
    path.write_text(json.dumps(synthetic_gaad(users=300, seed=2)))
    argv = ["propose", "--from-gaad", str(path), "--exclude-tag", "BreakGlass", "--compare"]
    assert main([*argv, "--json"]) == 0
    rows = {r["strategy"]: r for r in json.loads(capsys.readouterr().out)["result"]}
    assert set(rows) == {"exact", "minimal"}
    assert rows["minimal"]["groups"] <= rows["exact"]["groups"]
    assert rows["exact"]["groups_per_user_max"] <= 10
    assert rows["minimal"]["users"] == rows["exact"]["users"]
    for row in rows.values():  # layered: no more attachments than one bundle a user
        assert row["memberships"] >= row["users"]
    bundles = ["--no-layers", "--json"]
    assert main([*argv, *bundles]) == 0
    flat = {r["strategy"]: r for r in json.loads(capsys.readouterr().out)["result"]}
    assert flat["exact"]["groups_per_user_max"] == 1
    for strategy, row in rows.items():
        assert row["groups"] <= flat[strategy]["groups"]
        assert row["attachments"] < flat[strategy]["attachments"]
    assert main(argv) == 0
    assert "groups/user mean" in capsys.readouterr().out


def test_plan_with_minimal_strategy(gaad: Path, tmp_path: Path) -> None:
    """plan --strategy minimal writes a verified plan."""
    out = tmp_path / "plan.json"
    assert main(["plan", "--from-gaad", str(gaad), "--strategy", "minimal", "--out", str(out)]) == 0
    assert groupify.load_plan(out).strategy == "minimal"


def test_report_writes_html_and_markdown(
    gaad: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """report writes the change-approval report of a plan file, in either format."""
    plan = tmp_path / "plan.json"
    assert (
        main(["plan", "--from-gaad", str(gaad), "--exclude-tag", "BreakGlass", "--out", str(plan)])
        == 0
    )
    html, md = tmp_path / "plan.html", tmp_path / "plan.md"
    capsys.readouterr()
    assert main(["report", str(plan), "--html", str(html), "--markdown", str(md)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"Report written to {html}",
        f"Report written to {md}",
    ]
    checksum = json.loads(plan.read_text())["checksum"]
    for path in (html, md):
        text = path.read_text(encoding="utf-8")
        assert checksum in text
        assert f"groupify rollback --journal {plan}.journal --dry-run" in text
        assert "root-bg" in text and "data-analyst" in text


def test_report_needs_a_format(
    gaad: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """report without --html or --markdown is bad input: one line, exit 2."""
    plan = tmp_path / "plan.json"
    assert main(["plan", "--from-gaad", str(gaad), "--out", str(plan)]) == 0
    capsys.readouterr()
    assert main(["report", str(plan)]) == 2
    assert capsys.readouterr().err == "groupify: error: give --html FILE and/or --markdown FILE\n"


def test_plan_signed_with_a_key_file_and_apply_refusing_a_resealed_one(
    gaad: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """GROUPIFY_PLAN_KEY_FILE signs at plan and is required at apply; a plan whose
    exemptions were dropped and checksum recomputed is one line, exit 2."""
    from groupify.plan.model import _checksum

    key = tmp_path / "key"
    key.write_text("0123456789abcdef0123456789abcdef\n")
    monkeypatch.setenv("GROUPIFY_PLAN_KEY_FILE", str(key))
    out = tmp_path / "p.json"
    assert main(["plan", "--from-gaad", str(gaad), "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["signature"].startswith("hmac-sha256:")
    data["exemptions"] = {"users": ["someone"], "tags": []}
    data["checksum"] = _checksum(
        {k: v for k, v in data.items() if k not in ("checksum", "signature")}
    )
    out.write_text(json.dumps(data))
    capsys.readouterr()
    assert main(["apply", str(out), "--dry-run"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "signature does not match" in err[0]
    short = tmp_path / "short"
    short.write_text("tiny")
    assert main(["apply", str(out), "--dry-run", "--key-file", str(short)]) == 2
    assert "at least 16 bytes" in capsys.readouterr().err
