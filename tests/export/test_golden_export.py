"""Golden files: the bundled example's plan exported as Terraform (HCL, JSON) and CloudFormation.

Recorded with ``GROUPIFY_GOLDEN=update pytest tests/export/test_golden_export.py``; review
the diff of ``tests/golden/export/`` like code (fingerprints and times are masked).
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from groupify.cli import main
from groupify.cli.export import export_verb
from tests.test_golden import EXAMPLE, check

TARGETS = {
    "terraform": {"terraform": "out", "cloudformation": None, "tf_json": False},
    "tf-json": {"terraform": "out", "cloudformation": None, "tf_json": True},
    "cloudformation": {"terraform": None, "cloudformation": "out", "tf_json": False},
}


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_example_export_matches_the_golden_files(
    target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every file of the example's export is byte-identical to its golden file."""
    shutil.copy(EXAMPLE, tmp_path / EXAMPLE.name)
    monkeypatch.chdir(tmp_path)
    plan = ("plan", "--from-gaad", EXAMPLE.name, "--exclude-tag", "BreakGlass")
    assert main([*plan, "--out", "plan.json"]) == 0
    capsys.readouterr()
    assert export_verb(plan="plan.json", as_json=False, out=io.StringIO(), **TARGETS[target]) == 0
    written = sorted(p for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert len(written) == (5 if target == "cloudformation" else 6)
    for path in written:
        relative = path.relative_to(tmp_path / "out").as_posix()
        check(f"export/{target}/{relative}", path.read_text(encoding="utf-8"))
