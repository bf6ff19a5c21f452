"""The Security Hub loop: IAM.2 findings in (what to plan), documented exceptions out.

IAM.2 ("IAM users should not have IAM policies attached") is found by
``Compliance.SecurityControlId`` on consolidated findings, or by the
``GeneratorId`` of the standards that carried it before (AWS Foundational
Security Best Practices ``…/IAM.2``, CIS 1.2.0 rule 1.16, CIS 1.4.0 and 3.0.0
control 1.15). A finding counts while it is ``ACTIVE``, ``FAILED`` and not
already ``SUPPRESSED`` or ``RESOLVED``. Server-side filters narrow the read;
every finding is checked again here, because not every endpoint (moto's,
notably) applies them all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from attrs import frozen

from groupify.aws import RetryPolicy, call, token_pages

__all__ = ["IAM2Finding", "iam2_findings", "is_iam2", "suppress_exceptions"]

#: GeneratorIds of the standards' controls that are IAM.2 (consolidated findings use
#: ``security-control/IAM.2``, also matched by the suffix rule).
LEGACY_GENERATORS = frozenset(
    {
        "arn:aws:securityhub:::ruleset/cis-aws-foundations-benchmark/v/1.2.0/rule/1.16",
        "cis-aws-foundations-benchmark/v/1.4.0/1.15",
        "cis-aws-foundations-benchmark/v/3.0.0/1.15",
    }
)
_OPEN = ("NEW", "NOTIFIED")
_NOTE_LIMIT = 512  # BatchUpdateFindings' Note.Text limit
_BATCH = 100  # BatchUpdateFindings takes at most 100 findings a call


@frozen
class IAM2Finding:
    """An active, failed IAM.2 finding about one IAM user in one account."""

    id: str
    product_arn: str
    account_id: str
    user_name: str
    user_arn: str = ""
    region: str = ""
    workflow: str = "NEW"

    def to_dict(self) -> dict[str, str]:
        return {
            "id": self.id,
            "account_id": self.account_id,
            "user": self.user_name,
            "workflow": self.workflow,
        }


def is_iam2(finding: Mapping[str, Any]) -> bool:
    """Whether a Security Hub finding is the IAM.2 control (any standard)."""
    compliance = finding.get("Compliance") or {}
    if compliance.get("SecurityControlId") == "IAM.2":
        return True
    generator = str(finding.get("GeneratorId", ""))
    return generator.endswith("/IAM.2") or generator in LEGACY_GENERATORS


def _open(finding: Mapping[str, Any]) -> bool:
    compliance = finding.get("Compliance") or {}
    workflow = (finding.get("Workflow") or {}).get("Status", "NEW")
    return (
        finding.get("RecordState", "ACTIVE") == "ACTIVE"
        and compliance.get("Status") == "FAILED"
        and workflow in _OPEN
    )


def _user(resource: Mapping[str, Any]) -> tuple[str, str] | None:
    if resource.get("Type") != "AwsIamUser":
        return None
    arn = str(resource.get("Id", ""))
    details = (resource.get("Details") or {}).get("AwsIamUser") or {}
    name = details.get("UserName") or (arn.rsplit("/", 1)[-1] if ":user/" in arn else "")
    return (str(name), arn) if name else None


def iam2_findings(
    securityhub: Any,
    *,
    accounts: Iterable[str] | None = None,
    retry: RetryPolicy | None = None,
) -> list[IAM2Finding]:
    """The open IAM.2 findings (``securityhub:GetFindings``), one per user and finding,
    from the region *securityhub* reads (the aggregator region sees every linked one);
    only those of *accounts* when given."""
    retry = retry or RetryPolicy()
    wanted = set(accounts) if accounts is not None else None
    filters: dict[str, Any] = {
        "RecordState": [{"Value": "ACTIVE", "Comparison": "EQUALS"}],
        "ComplianceStatus": [{"Value": "FAILED", "Comparison": "EQUALS"}],
        "ResourceType": [{"Value": "AwsIamUser", "Comparison": "EQUALS"}],
    }

    def fetch(**params: Any) -> Any:
        return call(retry, securityhub, "get_findings", **params)

    out: dict[tuple[str, str], IAM2Finding] = {}
    for page in token_pages(fetch, Filters=filters, MaxResults=100):
        for raw in page.get("Findings", []):
            if not (is_iam2(raw) and _open(raw)):
                continue
            account = str(raw.get("AwsAccountId", ""))
            if wanted is not None and account not in wanted:
                continue
            for resource in raw.get("Resources", []):
                user = _user(resource)
                if user is None:
                    continue
                finding = IAM2Finding(
                    id=str(raw["Id"]),
                    product_arn=str(raw.get("ProductArn", "")),
                    account_id=account,
                    user_name=user[0],
                    user_arn=user[1],
                    region=str(raw.get("Region", "")),
                    workflow=str((raw.get("Workflow") or {}).get("Status", "NEW")),
                )
                out[(finding.id, finding.user_name)] = finding
    return sorted(out.values(), key=lambda f: (f.account_id, f.user_name, f.id))


def suppress_exceptions(
    securityhub: Any,
    findings: Iterable[IAM2Finding],
    reasons: Mapping[tuple[str, str], str],
    *,
    retry: RetryPolicy | None = None,
) -> tuple[list[str], list[tuple[str, str]]]:
    """Set the IAM.2 findings of documented exceptions to ``SUPPRESSED``
    (``securityhub:BatchUpdateFindings``), with a note citing the recorded reason.

    *reasons* maps ``(account id, user)`` to the exception's reason: only
    findings of those users are touched; the caller passes only accounts whose
    verify passed, so a user who still fails for another reason is never
    among them. Returns the suppressed finding ids and ``(id, why)`` for those
    Security Hub did not process.
    """
    retry = retry or RetryPolicy()
    chosen = [f for f in findings if (f.account_id, f.user_name) in reasons]
    by_note: dict[str, list[IAM2Finding]] = {}
    for f in chosen:
        # One note per reason (not per user), so that findings share calls: the API's
        # request rate is low.
        note = (f"groupify: documented exception to IAM.2: {reasons[(f.account_id, f.user_name)]}")[
            :_NOTE_LIMIT
        ]
        by_note.setdefault(note, []).append(f)
    done: list[str] = []
    failed: list[tuple[str, str]] = []
    for note, group in by_note.items():
        for start in range(0, len(group), _BATCH):
            batch = group[start : start + _BATCH]
            answer = call(
                retry,
                securityhub,
                "batch_update_findings",
                FindingIdentifiers=[{"Id": f.id, "ProductArn": f.product_arn} for f in batch],
                Workflow={"Status": "SUPPRESSED"},
                Note={"Text": note, "UpdatedBy": "groupify"},
            )
            done += [p["Id"] for p in answer.get("ProcessedFindings", [])]
            failed += [
                (u.get("FindingIdentifier", {}).get("Id", "?"), str(u.get("ErrorMessage", "")))
                for u in answer.get("UnprocessedFindings", [])
            ]
    return sorted(done), failed
