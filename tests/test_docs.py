"""The documentation site: builds in strict mode, with the API and CLI generated from the code."""

from __future__ import annotations

import argparse
import html
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import groupify
from groupify.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent


def _missing_tools() -> list[str]:
    missing = []
    for name in ("mkdocs", "mkdocstrings", "mkdocstrings_handlers.python", "material"):
        try:
            found = importlib.util.find_spec(name) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            missing.append(name)
    return missing


pytestmark = pytest.mark.skipif(
    bool(_missing_tools()),
    reason=f"docs tools not installed ({', '.join(_missing_tools())}): pip install -e '.[docs]'",
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built as CI builds it: mkdocs build --strict."""
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode:
        pytest.fail(f"mkdocs build --strict failed:\n{done.stderr}", pytrace=False)
    return out


def page(site: Path, name: str) -> str:
    return (site / name / "index.html").read_text(encoding="utf-8")


def text(markup: str) -> str:
    """What a reader sees of some HTML: no tags, no entities."""
    return html.unescape(re.sub(r"<[^>]+>", "", markup))


def summary(obj: object) -> str:
    """The first line of *obj*'s docstring, as rendered (no Markdown emphasis)."""
    return (obj.__doc__ or "").splitlines()[0].replace("*", "").replace("``", "")


def test_api_reference_is_generated_from_docstrings(site: Path) -> None:
    """The plan and apply pages render build_plan and apply with their docstrings."""
    plan = page(site, "reference/plan")
    assert 'id="groupify.build_plan"' in plan
    assert summary(groupify.build_plan) in text(plan)
    apply = page(site, "reference/apply")
    assert 'id="groupify.apply"' in apply
    assert summary(groupify.apply) in text(apply)


@pytest.mark.parametrize(
    "name", ["reference", *(f"reference/{p}" for p in ("inventory", "propose", "plan", "apply"))]
)
def test_api_pages_show_no_raw_sphinx_roles(site: Path, name: str) -> None:
    """Docstring roles such as :class:`X` become links or code, not raw text."""
    shown = text(page(site, name))
    assert not any(role in shown for role in (":class:", ":func:", ":meth:", ":mod:"))


def test_cli_page_is_the_parser_help(site: Path) -> None:
    """The CLI page holds groupify apply --help, every option of it, from the parser."""
    cli = page(site, "cli")
    shown = text(cli)
    assert "usage: groupify apply" in shown
    assert "--dry-run" in shown
    (commands,) = (a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for action in commands.choices["apply"]._actions:
        for option in action.option_strings:
            assert option in shown
        if action.dest == "dry_run":
            assert action.help and action.help in shown
    assert 'id="exit-status"' in cli


def test_permissions_page_names_the_scan_call(site: Path) -> None:
    """The least-privilege policy allows the one bulk read a scan makes."""
    assert "iam:GetAccountAuthorizationDetails" in page(site, "permissions")
