"""``groupify export``: a plan as Terraform and/or CloudFormation, in two stages."""

from __future__ import annotations

import json
import os
from typing import TextIO

from groupify.errors import InputError
from groupify.export import export_cloudformation, export_terraform
from groupify.plan.model import load_plan

__all__ = ["export_verb"]


def export_verb(
    *,
    plan: str,
    terraform: str | None,
    cloudformation: str | None,
    tf_json: bool,
    as_json: bool,
    out: TextIO,
) -> int:
    """Write a verified plan as Terraform (``--terraform DIR``) and/or CloudFormation
    (``--cloudformation DIR``): stage 1 as code, stage 2 as a list and IAM calls."""
    if not terraform and not cloudformation:
        raise InputError("give --terraform DIR and/or --cloudformation DIR")
    if tf_json and not terraform:
        raise InputError("--tf-json goes with --terraform DIR")
    if (
        terraform
        and cloudformation
        and os.path.realpath(terraform) == os.path.realpath(cloudformation)
    ):
        raise InputError("--terraform and --cloudformation name the same directory")
    for name in (terraform, cloudformation):
        if name and os.path.exists(name) and not os.path.isdir(name):
            raise InputError(f"{name}: not a directory")
    loaded = load_plan(plan)  # checks format, checksum and fingerprint, and replays it
    written: dict[str, list[str]] = {}
    if terraform:
        written["terraform"] = [
            str(p) for p in export_terraform(loaded, terraform, tf_json=tf_json)
        ]
    if cloudformation:
        written["cloudformation"] = [str(p) for p in export_cloudformation(loaded, cloudformation)]
    if as_json:
        from groupify.cli.verbs import envelope  # verbs imports this module

        out.write(json.dumps(envelope(ok=True, result=written), indent=2) + "\n")
        return 0
    for target, paths in written.items():
        where = terraform if target == "terraform" else cloudformation
        out.write(
            f"{'Terraform' if target == 'terraform' else 'CloudFormation'} export written to "
            f"{where} ({len(paths)} files): apply stage1/ first, then stage2/ (see "
            f"{os.path.join(str(where), 'README.md')})\n"
        )
    return 0
