"""Read a live account: the only place groupify reads from AWS for planning.

One paginated ``GetAccountAuthorizationDetails`` (users, groups and
customer-managed policies), ``GetAccountSummary`` for the quotas,
``sts:GetCallerIdentity`` for the principal running the tool (which is never
modified), and, for each AWS-managed policy a user or group holds, its
default version (``GetPolicy``, ``GetPolicyVersion``): the privilege checks
read those documents. The calls go through :mod:`groupify.aws`.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import attrs

from groupify.aws import RetryPolicy, call, make_clients, pages
from groupify.errors import AWSError
from groupify.inventory.gaad import parse_gaad
from groupify.inventory.model import Inventory, ManagedPolicy, Quotas
from groupify.inventory.policy import canonical_document, is_aws_managed

__all__ = ["GAAD_FILTER", "scan"]

#: What the scan asks GetAccountAuthorizationDetails for. Roles are read for the
#: control-path check; the AWS-managed documents in use are read one by one.
GAAD_FILTER = ["User", "Group", "Role", "LocalManagedPolicy"]
_log = logging.getLogger("groupify.inventory")


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
    read_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    caller = call(retry, sts, "get_caller_identity")
    summary = call(retry, iam, "get_account_summary")["SummaryMap"]
    operation = "get_account_authorization_details"

    began = time.monotonic()
    fetched = [0]

    def fetch(**params: Any) -> Any:
        page = call(retry, iam, operation, **params)
        fetched[0] += 1
        _log.info(
            "read page %d of the account (%d users on it) after %.1fs",
            fetched[0],
            len(page.get("UserDetailList", [])),
            time.monotonic() - began,
        )
        return page

    # 1,000 is the largest page IAM serves: ten times fewer calls than its default.
    inventory = parse_gaad(
        pages(fetch, operation, Filter=GAAD_FILTER, MaxItems=1000),
        source="live account",
        quotas=quotas or Quotas.from_account_summary(summary),
        caller_arn=caller["Arn"],
        account_id=caller["Account"],
        group_count=summary.get("Groups"),
    )
    return attrs.evolve(
        inventory, aws_policies=aws_managed_policies(inventory, iam, retry), read_at=read_at
    )


def aws_managed_policies(inventory: Inventory, iam: Any, retry: RetryPolicy) -> list[ManagedPolicy]:
    """The AWS-managed policies *inventory*'s users, groups and roles hold, read at their default
    version (two calls each; a few dozen policies in a typical account)."""
    held = sorted(
        {a for u in inventory.users for a in u.managed}
        | {a for g in inventory.groups for a in g.managed}
        | {a for r in inventory.roles for a in r.managed}
        | {u.permissions_boundary for u in inventory.users if u.permissions_boundary}
        | {r.permissions_boundary for r in inventory.roles if r.permissions_boundary}
    )
    wanted = [arn for arn in held if is_aws_managed(arn)]

    def read(arn: str) -> ManagedPolicy:
        name, document = arn.rsplit("/", 1)[-1], None
        try:
            policy = call(retry, iam, "get_policy", PolicyArn=arn)["Policy"]
            version = call(
                retry,
                iam,
                "get_policy_version",
                PolicyArn=arn,
                VersionId=policy["DefaultVersionId"],
            )["PolicyVersion"]
            name, document = policy.get("PolicyName", name), canonical_document(version["Document"])
        except AWSError as exc:
            # Not readable here (no such policy, or no permission to read it): the
            # policy stays in the inventory with its document unknown, never harmless.
            if exc.code not in _UNREADABLE:
                raise
        return ManagedPolicy(arn=arn, name=name, path="/", document=document)

    if len(wanted) < 2:
        return [read(arn) for arn in wanted]
    # A few reads at once (the client is thread-safe; IAM's read limits are far above
    # four in flight): the scan's wall time is these round trips, one after another.
    with ThreadPoolExecutor(max_workers=READ_WORKERS, thread_name_prefix="groupify-scan") as pool:
        return list(pool.map(read, wanted))


#: AWS-managed policy documents read at once by a scan.
READ_WORKERS = 4


#: Errors that leave an AWS-managed policy's document unknown rather than fail the scan.
_UNREADABLE = frozenset({"NoSuchEntity", "AccessDenied", "AccessDeniedException"})
