"""The whole migration of the example account, against an embedded IAM (moto).

No AWS account is needed: moto stands in for IAM inside this process. The
account is loaded from ``examples/acme-gaad.json`` and then taken through the
runbook with the real ``groupify`` commands:

    scan -> plan -> apply --dry-run -> apply -> verify -> apply (again: nothing to do)
    -> rollback -> verify (IAM.2 fails again: the original state is back)

Run it with ``python examples/runbook.py`` after ``pip install '.[demo]'``.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def step(argv: list[str]) -> int:
    from groupify.cli import main

    print(f"\n{'=' * 78}\n$ groupify {' '.join(argv)}\n{'=' * 78}", flush=True)
    code = main(argv)
    print(f"(exit status {code})", flush=True)
    return code


def main() -> int:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        os.environ.setdefault(key, value)
    os.environ.pop("AWS_PROFILE", None)
    os.environ.pop("AWS_ENDPOINT_URL", None)

    import boto3
    from moto import mock_aws

    from groupify.testing import populate

    work = Path(tempfile.mkdtemp(prefix="groupify-runbook-"))
    plan, journal = str(work / "plan.json"), str(work / "plan.json.journal")
    with mock_aws(config={"iam": {"load_aws_managed_policies": True}}):
        gaad = json.loads((HERE / "acme-gaad.json").read_text())
        populate(boto3.client("iam"), gaad)
        print(f"Embedded IAM loaded with {len(gaad['UserDetailList'])} users from acme-gaad.json")
        checks = [
            step(["scan"]) == 0,
            step(["plan", "--exclude-tag", "BreakGlass", "--out", plan]) == 0,
            step(["apply", plan, "--dry-run"]) == 0,
            step(["apply", plan, "--yes", "--settle", "1", "--journal", journal]) == 0,
            step(["verify", plan]) == 0,
            step(["apply", plan, "--yes", "--journal", journal]) == 0,
            step(["rollback", "--journal", journal, "--yes", "--settle", "1"]) == 0,
            # After the rollback the original direct policies are back: IAM.2 fails again.
            step(["verify", plan]) == 1,
        ]
    print(f"\nFiles of this run: {work}")
    if all(checks):
        print("Runbook complete: planned, dry-run, applied, verified, rolled back.")
        return 0
    print("Runbook FAILED: see the exit statuses above.", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
