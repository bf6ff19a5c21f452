"""Read a live account: the only place groupify reads from AWS for planning.

One paginated ``GetAccountAuthorizationDetails`` (users, groups and
customer-managed policies), ``GetAccountSummary`` for the quotas and
``sts:GetCallerIdentity`` for the principal running the tool, which is never
modified. The calls go through :mod:`groupify.aws`.
"""

from __future__ import annotations

from typing import Any

from groupify.aws import RetryPolicy, call, make_clients, pages
from groupify.inventory.gaad import parse_gaad
from groupify.inventory.model import Inventory, Quotas

__all__ = ["GAAD_FILTER", "scan"]

#: What the scan asks GetAccountAuthorizationDetails for. AWS-managed policy
#: documents are not needed: they are known by ARN.
GAAD_FILTER = ["User", "Group", "LocalManagedPolicy"]


def scan(
    session: Any = None,
    *,
    quotas: Quotas | None = None,
    iam: Any = None,
    sts: Any = None,
    retry: RetryPolicy | None = None,
) -> Inventory:
    """Read the account that *session* (a ``boto3.Session``; default: a new one) reaches.

    Standard boto3 configuration applies: profiles, credentials, region and
    ``AWS_ENDPOINT_URL``. *iam* and *sts* clients may be passed instead (tests
    do). *quotas* overrides the quotas read from ``GetAccountSummary``. Every
    call is retried per *retry* (default :class:`RetryPolicy`).
    Raises :class:`~groupify.errors.AWSError` when a call fails.
    """
    if iam is None or sts is None:
        made_iam, made_sts = make_clients(session)
        iam, sts = iam or made_iam, sts or made_sts
    retry = retry or RetryPolicy()
    caller = call(retry, sts, "get_caller_identity")
    summary = call(retry, iam, "get_account_summary")["SummaryMap"]
    operation = "get_account_authorization_details"

    def fetch(**params: Any) -> Any:
        return call(retry, iam, operation, **params)

    # 1,000 is the largest page IAM serves: ten times fewer calls than its default.
    return parse_gaad(
        pages(fetch, operation, Filter=GAAD_FILTER, MaxItems=1000),
        source="live account",
        quotas=quotas or Quotas.from_account_summary(summary),
        caller_arn=caller["Arn"],
        account_id=caller["Account"],
        group_count=summary.get("Groups"),
    )
