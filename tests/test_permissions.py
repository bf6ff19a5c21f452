"""docs/permissions.md names every AWS call the code can make: a call added without its
permission fails here. The calls are read from the source (every string that is an
operation of IAM, STS, Organizations or Security Hub) and from the op table."""

from __future__ import annotations

import ast
from pathlib import Path

import boto3
import pytest

from groupify.plan.ops import ALL

ROOT = Path(__file__).resolve().parents[1]
SERVICES = {
    "iam": "iam",
    "sts": "sts",
    "organizations": "organizations",
    "securityhub": "securityhub",
}


def _operations() -> dict[str, str]:
    """boto3 method name -> ``prefix:ApiName`` for the services groupify calls."""
    session = boto3.Session(region_name="us-east-1")
    out: dict[str, str] = {}
    for service, prefix in SERVICES.items():
        model = session._session.get_service_model(service)
        for api in model.operation_names:
            from botocore import xform_name

            out.setdefault(xform_name(api), f"{prefix}:{api}")
    return out


def _literals() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "src" / "groupify").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.add(node.value)
    return found


def test_every_call_in_the_code_has_its_permission_documented() -> None:
    operations = _operations()
    used = {operations[name] for name in _literals() | set(ALL) if name in operations}
    assert "iam:GetAccountAuthorizationDetails" in used and "sts:AssumeRole" in used
    page = (ROOT / "docs" / "permissions.md").read_text(encoding="utf-8")
    missing = sorted(action for action in used if action not in page)
    assert not missing, f"docs/permissions.md does not name {missing}"


@pytest.mark.parametrize("action", ["iam:CreateGroup", "securityhub:BatchUpdateFindings"])
def test_the_check_sees_calls(action: str) -> None:
    """The scan finds op-table calls and literal ones (the check cannot pass vacuously)."""
    operations = _operations()
    used = {operations[name] for name in _literals() | set(ALL) if name in operations}
    assert action in used
