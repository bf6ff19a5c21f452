"""Read a live account: the only place groupify reads from AWS for planning.

One paginated ``GetAccountAuthorizationDetails`` (users, groups and
customer-managed policies), ``GetAccountSummary`` for the quotas and
``sts:GetCallerIdentity`` for the principal running the tool, which is never
modified.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from groupify.aws.retry import RetryPolicy, call_with_retries, client_config
from groupify.errors import AWSError, GroupifyError
from groupify.inventory.gaad import parse_gaad
from groupify.inventory.model import Inventory, Quotas

__all__ = ["GAAD_FILTER", "scan"]

#: What the scan asks GetAccountAuthorizationDetails for. AWS-managed policy
#: documents are not needed: they are known by ARN.
GAAD_FILTER = ["User", "Group", "LocalManagedPolicy"]


def _client_error(exc: Exception, operation: str) -> AWSError:
    response: Mapping[str, Any] = getattr(exc, "response", {}) or {}
    code = response.get("Error", {}).get("Code")
    message = response.get("Error", {}).get("Message") or str(exc)
    return AWSError(
        f"{operation} failed: {code or type(exc).__name__}: {message}",
        operation=operation,
        code=code,
    )


def _pages(client: Any, retry: RetryPolicy) -> Iterator[Mapping[str, Any]]:
    """Every page of GetAccountAuthorizationDetails, each call retried on its own."""
    # 1,000 is the largest page IAM serves: ten times fewer calls than its default.
    kwargs: dict[str, Any] = {"Filter": GAAD_FILTER, "MaxItems": 1000}
    while True:
        page = call_with_retries(retry, client.get_account_authorization_details, **kwargs)
        yield page
        if not page.get("IsTruncated"):
            return
        marker = page.get("Marker")
        if not marker:
            raise AWSError(
                "GetAccountAuthorizationDetails said IsTruncated but gave no Marker",
                operation="GetAccountAuthorizationDetails",
            )
        kwargs["Marker"] = marker


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
    from botocore.exceptions import BotoCoreError, ClientError

    if iam is None or sts is None:
        import boto3

        session = session or boto3.Session()
        iam = iam or session.client("iam", config=client_config())
        sts = sts or session.client("sts", config=client_config())
    retry = retry or RetryPolicy()

    operation = "GetCallerIdentity"
    try:
        caller = call_with_retries(retry, sts.get_caller_identity)
        operation = "GetAccountSummary"
        summary = call_with_retries(retry, iam.get_account_summary)["SummaryMap"]
        operation = "GetAccountAuthorizationDetails"
        inventory = parse_gaad(
            _pages(iam, retry),
            source="live account",
            quotas=quotas or Quotas.from_account_summary(summary),
            caller_arn=caller["Arn"],
            account_id=caller["Account"],
            group_count=summary.get("Groups"),
        )
    except (ClientError, BotoCoreError) as exc:
        raise _client_error(exc, operation) from exc
    except GroupifyError:
        raise
    return inventory
