"""Groups as code: a verified plan as Terraform or CloudFormation, in two stages.

Stage 1 (groups, their policies, memberships) only adds access routes; stage 2
(the removal of the users' direct grants) runs only after it. Each exporter is
a backend of the op table (:data:`~groupify.export.terraform.TERRAFORM`,
:data:`~groupify.export.cloudformation.CLOUDFORMATION`), beside replay, live
apply and the report. An export refuses a plan that does not verify.

Layout of an export directory::

    README.md                     how to apply the stages, in order
    stage1/groups.tf              (or groups.tf.json, or groups.template.json)
    stage1/versions.tf            (Terraform) the AWS provider it is written for
    stage2/README.md              per user: the direct grants to remove, and where
    stage2/grants.json            the same list, for tools
    stage2/remove-direct-grants.sh  the IAM calls for grants managed nowhere
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from groupify._files import write_atomic
from groupify.export.cloudformation import CLOUDFORMATION, cloudformation_files
from groupify.export.stage2 import SCRIPT
from groupify.export.terraform import TERRAFORM, terraform_files
from groupify.plan.model import Plan

__all__ = [
    "CLOUDFORMATION",
    "TERRAFORM",
    "cloudformation_files",
    "export_cloudformation",
    "export_terraform",
    "terraform_files",
    "write_files",
]


def write_files(directory: str | os.PathLike[str], files: dict[str, str]) -> list[Path]:
    """Write an export's files (path relative to *directory* → text); return their paths.

    Terraform files of the other syntax left by an earlier export (``groups.tf.json``
    beside a new ``groups.tf``) are removed: Terraform would read both.
    """
    root = Path(directory)
    for relative in files:
        for old, new in ((".tf.json", ".tf"), (".tf", ".tf.json")):
            if relative.endswith(new) and not relative.endswith(old):
                stale = root / (relative[: -len(new)] + old)
                if stale.is_file():
                    stale.unlink()
    written = []
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, text)
        if path.name == SCRIPT:
            path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        written.append(path)
    return written


def export_terraform(
    plan: Plan, directory: str | os.PathLike[str], *, tf_json: bool = False
) -> list[Path]:
    """Write *plan* as Terraform in *directory* (created if need be); return the files written.

    HCL (``.tf``, formatted as ``terraform fmt`` would) by default; with *tf_json*,
    Terraform's JSON syntax (``.tf.json``). Raises as :meth:`Plan.verify` does for a plan
    that does not verify (:class:`~groupify.PlanVerificationError`,
    :class:`~groupify.EscalationError`).
    """
    return write_files(directory, terraform_files(plan, tf_json=tf_json))


def export_cloudformation(plan: Plan, directory: str | os.PathLike[str]) -> list[Path]:
    """Write *plan* as a CloudFormation template and stage-2 calls in *directory*.

    Raises as :meth:`Plan.verify` does for a plan that does not verify, and
    :class:`~groupify.InputError` for one past CloudFormation's limits (500 resources,
    a 1 MB template).
    """
    return write_files(directory, cloudformation_files(plan))
