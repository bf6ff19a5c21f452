"""``groupify export``: a plan as Terraform and/or CloudFormation, in two stages."""

from __future__ import annotations

import json
import os
from typing import TextIO

from groupify.errors import InputError
from groupify.export import cloudformation_files, terraform_files, write_files
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
    if terraform and cloudformation:
        a, b = os.path.realpath(terraform), os.path.realpath(cloudformation)
        if a == b:
            raise InputError("--terraform and --cloudformation name the same directory")
        if os.path.commonpath([a, b]) in (a, b):
            raise InputError("--terraform and --cloudformation: one directory is inside the other")
    for name in (terraform, cloudformation):
        if name and os.path.exists(name) and not os.path.isdir(name):
            raise InputError(f"{name}: not a directory")
    loaded = load_plan(plan)  # checks format, checksum and fingerprint, and replays it
    # Build every file first: a refusal (CloudFormation's limits, say) writes nothing.
    files: dict[str, tuple[str, dict[str, str]]] = {}
    if terraform:
        files["terraform"] = (terraform, terraform_files(loaded, tf_json=tf_json))
    if cloudformation:
        files["cloudformation"] = (cloudformation, cloudformation_files(loaded))
    written: dict[str, list[str]] = {
        target: [str(p) for p in write_files(where, made)]
        for target, (where, made) in files.items()
    }
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
