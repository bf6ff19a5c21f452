"""groupify: move IAM users from directly attached policies to job-function groups.

The pipeline, one function a stage::

    inventory = groupify.load_gaad("gaad.json")    # or groupify.scan()
    proposal = groupify.propose(inventory, exclude_users=["breakglass"])
    plan = groupify.build_plan(proposal)            # verified: no gap, no widening
    plan.save("plan.json")
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from groupify.errors import (
    AWSError,
    GaadFormatError,
    GroupifyError,
    InputError,
    InvalidNameError,
    PlanError,
    PlanFormatError,
    PlanVerificationError,
    ProposalError,
    QuotaError,
    StalePlanError,
)
from groupify.gaad import load_gaad, parse_gaad
from groupify.model import Group, InlinePolicy, Inventory, ManagedPolicy, PolicyRef, Quotas, User
from groupify.plan import Plan, Step, build_plan, load_plan
from groupify.propose import Exemption, Exemptions, Proposal, ProposedGroup, propose
from groupify.scan import scan

try:
    __version__ = version("groupify")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

__all__ = [
    "AWSError",
    "Exemption",
    "Exemptions",
    "GaadFormatError",
    "Group",
    "GroupifyError",
    "InlinePolicy",
    "InputError",
    "InvalidNameError",
    "Inventory",
    "ManagedPolicy",
    "Plan",
    "PlanError",
    "PlanFormatError",
    "PlanVerificationError",
    "PolicyRef",
    "Proposal",
    "ProposalError",
    "ProposedGroup",
    "QuotaError",
    "Quotas",
    "StalePlanError",
    "Step",
    "User",
    "__version__",
    "build_plan",
    "load_gaad",
    "load_plan",
    "parse_gaad",
    "propose",
    "scan",
]
