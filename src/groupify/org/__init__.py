"""Many accounts in one run: an AWS Organization's accounts, reached through an assumed
role, planned, applied, verified and rolled back one ordinary plan per account; and the
Security Hub loop (IAM.2 findings in, documented exceptions suppressed out).

Each account's work is the single-account pipeline, unchanged; this package only
chooses the accounts, reaches them, runs them in a bounded pool, and keeps one
account's failure from touching the others (:func:`~groupify.org.fleet.for_each`).
"""

from groupify.org.accounts import Account, Target, organization_accounts
from groupify.org.fleet import AccountResult, for_each
from groupify.org.securityhub import (
    IAM2Finding,
    iam2_findings,
    suppress_exceptions,
)

__all__ = [
    "Account",
    "AccountResult",
    "IAM2Finding",
    "Target",
    "for_each",
    "iam2_findings",
    "organization_accounts",
    "suppress_exceptions",
]
