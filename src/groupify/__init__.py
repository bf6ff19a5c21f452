"""groupify: move IAM users from directly attached policies to job-function groups.

The pipeline, one function a stage::

    inventory = groupify.load_gaad("gaad.json")    # or groupify.scan()
    proposal = groupify.propose(inventory, exclude_users=["breakglass"])
    plan = groupify.build_plan(proposal)            # verified: no gap, no widening
    plan.save("plan.json")

    result = groupify.apply(plan, journal="plan.journal", dry_run=True)  # then for real
    report = groupify.verify(plan)                  # IAM.2 passes, access unchanged
    groupify.rollback("plan.journal")               # if needed: back to the start
"""

from groupify.aws.retry import RetryPolicy
from groupify.errors import (
    AWSError,
    ConflictError,
    DriftError,
    EscalationError,
    GaadFormatError,
    GroupifyError,
    InputError,
    InvalidNameError,
    PlanError,
    PlanFormatError,
    PlanVerificationError,
    PropagationError,
    ProposalError,
    QuotaError,
    StalePlanError,
)
from groupify.export import export_cloudformation, export_terraform
from groupify.inventory.account import scan
from groupify.inventory.gaad import load_gaad, parse_gaad
from groupify.inventory.model import (
    Group,
    InlinePolicy,
    Inventory,
    ManagedPolicy,
    PolicyRef,
    Quotas,
    User,
)
from groupify.mining.layers import Weights
from groupify.mining.minimal import MinimalGroup, MinimalResult, minimal_groups
from groupify.plan.build import build_plan
from groupify.plan.model import Plan, load_plan
from groupify.plan.steps import Step
from groupify.proposal.model import Exemption, Exemptions, Proposal, ProposedGroup
from groupify.proposal.strategies import compare_proposals, propose
from groupify.runtime.checks import UserCheck, VerifyReport, verify
from groupify.runtime.forward import apply
from groupify.runtime.result import ApplyResult
from groupify.runtime.undo import rollback


def __getattr__(name: str) -> object:
    # __version__ reads package metadata, which costs more than the rest of the
    # import; it is computed the first time someone asks for it.
    if name == "__version__":
        from groupify._version import version

        return version()
    raise AttributeError(f"module 'groupify' has no attribute {name!r}")


__all__ = [
    "AWSError",
    "ApplyResult",
    "ConflictError",
    "DriftError",
    "EscalationError",
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
    "MinimalGroup",
    "MinimalResult",
    "Plan",
    "PlanError",
    "PlanFormatError",
    "PlanVerificationError",
    "PolicyRef",
    "PropagationError",
    "Proposal",
    "ProposalError",
    "ProposedGroup",
    "QuotaError",
    "Quotas",
    "RetryPolicy",
    "StalePlanError",
    "Step",
    "User",
    "UserCheck",
    "VerifyReport",
    "Weights",
    "__version__",
    "apply",
    "build_plan",
    "compare_proposals",
    "export_cloudformation",
    "export_terraform",
    "load_gaad",
    "load_plan",
    "minimal_groups",
    "parse_gaad",
    "propose",
    "rollback",
    "scan",
    "verify",
]
