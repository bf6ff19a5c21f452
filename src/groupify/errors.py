"""Every error groupify raises, under one root.

::

    GroupifyError
    ├── InputError                 bad input from a file or a caller; nothing was changed
    │   ├── GaadFormatError        a GAAD file that is not what the AWS CLI writes
    │   ├── InvalidNameError       a group or policy name IAM would refuse
    │   └── ProposalError          an edit or a proposal that does not reproduce access
    ├── QuotaError                 an IAM quota cannot be met; names the users and sets
    ├── PlanError
    │   ├── PlanFormatError        a plan file that is malformed or was tampered with
    │   ├── StalePlanError         the account or inventory changed since planning
    │   │   └── DriftError         entities the plan touches changed; lists the changes
    │   ├── PlanVerificationError  a plan that would open a gap or widen access (a bug)
    │   └── EscalationError        a plan that would let users raise their own access
    └── AWSError                   an AWS call failed; carries the operation and error code
        ├── ConflictError          a same-named entity exists that groupify did not plan
        └── PropagationError       a new group route did not become visible in time

Every error has a one-line ``str()`` fit for a terminal, except
``EscalationError``: one line per finding.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = [
    "AWSError",
    "ConflictError",
    "DriftError",
    "EscalationError",
    "GaadFormatError",
    "GroupifyError",
    "InputError",
    "InvalidNameError",
    "PlanError",
    "PlanFormatError",
    "PlanVerificationError",
    "PropagationError",
    "ProposalError",
    "QuotaError",
    "StalePlanError",
]


class GroupifyError(Exception):
    """Root of every error groupify raises on purpose."""


class InputError(GroupifyError):
    """Input that groupify refuses; nothing was changed."""


class GaadFormatError(InputError):
    """A GAAD document that is not what ``get-account-authorization-details`` returns."""


class InvalidNameError(InputError):
    """A name IAM would refuse (characters, length, or a case-insensitive clash)."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason
        super().__init__(f"invalid name {name!r}: {reason}")


class ProposalError(InputError):
    """A proposal (or an edit of one) that does not reproduce every user's access."""

    def __init__(self, message: str, *, users: Sequence[str] = ()) -> None:
        self.users = tuple(users)
        super().__init__(message)


class QuotaError(GroupifyError):
    """An IAM quota that the migration cannot meet.

    ``quota`` is the quota's name in ``GetAccountSummary`` terms, ``limit`` its
    value, and ``users`` the users that cannot be accommodated.
    """

    def __init__(self, message: str, *, quota: str, limit: int, users: Sequence[str] = ()) -> None:
        self.quota = quota
        self.limit = limit
        self.users = tuple(users)
        super().__init__(message)


class PlanError(GroupifyError):
    """Something is wrong with a plan."""


class PlanFormatError(PlanError):
    """A plan file that is malformed, of an unknown version, or altered after it was written."""


class StalePlanError(PlanError):
    """The inventory a plan or proposal was built from is not the one at hand."""


class PlanVerificationError(PlanError):
    """A plan whose replay opens an access gap or widens access.

    ``step`` is the id of the first offending step (or ``None`` for a check
    on the final state), ``user`` the affected user.
    """

    def __init__(self, message: str, *, step: str | None = None, user: str | None = None) -> None:
        self.step = step
        self.user = user
        super().__init__(message)


class AWSError(GroupifyError):
    """An AWS API call failed.

    ``operation`` is the API's name (``GetAccountAuthorizationDetails``) and
    ``code`` the AWS error code (``AccessDenied``), when known.
    """

    def __init__(self, message: str, *, operation: str, code: str | None = None) -> None:
        self.operation = operation
        self.code = code
        super().__init__(message)


class EscalationError(PlanError):
    """A plan that would give users a way to raise their own access (a new control path).

    ``findings`` are the :class:`~groupify.plan.privilege.Finding` values not
    accepted; the message has one line per finding (the first :data:`SHOWN`, then how
    many more: ``--json`` and ``findings`` carry them all) and names the ways out.
    """

    SHOWN = 20

    def __init__(self, findings: Sequence[Any]) -> None:
        self.findings = tuple(findings)
        users = sorted({f.user for f in self.findings})
        more = len(self.findings) - self.SHOWN
        lines = [
            f"the plan would give {len(users)} user(s) a way to raise their own access "
            f"({len(self.findings)} finding(s)):",
            *(f"  {f.why}" for f in self.findings[: self.SHOWN]),
            *(
                [f"  ... and {more} more (--json lists every finding with its id)"]
                if more > 0
                else []
            ),
            "Exclude the user (--exclude-user NAME), restrict its IAM grant, or accept each "
            "finding after review (--accept ID).",
        ]
        super().__init__("\n".join(lines))


class DriftError(StalePlanError):
    """Entities the plan touches changed since it was made; ``changes`` says how."""

    def __init__(self, changes: Sequence[str]) -> None:
        self.changes = tuple(changes)
        shown = "; ".join(self.changes[:3])
        more = f" (and {len(self.changes) - 3} more)" if len(self.changes) > 3 else ""
        super().__init__(
            f"the account changed since the plan was made: {shown}{more}; make a new plan"
        )


class ConflictError(AWSError):
    """An entity with the planned name exists and is not what the plan would make."""


class PropagationError(AWSError):
    """A group route did not become visible in time; the direct policy was kept."""
