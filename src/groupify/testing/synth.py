"""Deterministic, realistic synthetic ``get-account-authorization-details`` documents.

:func:`synthetic_gaad` builds what ``aws iam get-account-authorization-details``
writes for a made-up company ("Acme") whose IAM users hold policies attached
directly (the Security Hub IAM.2 finding groupify fixes). It feeds the
examples, the tests and the benchmarks: no AWS account is needed, and the
same ``(users, seed)`` always gives the same document.

What the account holds:

* Users in teams, tagged ``Team`` and ``JobFunction`` (and often
  ``CostCenter``): ``data/analyst``, ``data/engineer``, ``platform/sre``,
  ``platform/developer``, ``web/developer``, ``finance/analyst``,
  ``security/auditor``, ``support/engineer`` and ``support/agent``.
* Most users of a job function hold the same set of directly attached
  AWS-managed and customer-managed policies; data and support engineers also
  hold one shared inline document, embedded under different policy names.
* A minority deviates: an extra policy, a missing one, or (data analysts) a
  personal inline policy that no one else has.
* Existing groups: ``AllUsers-MFA`` (most people), ``Developers`` (platform
  and web developers; some platform developers also hold its
  ``CloudWatchReadOnlyAccess`` directly), ``billing-viewers`` (whose policies
  are exactly the finance analysts' direct set, so groupify can reuse it),
  ``support-tier1`` (with an inline policy) and an unused ``legacy-s3-readers``.
* Already compliant users: support agents, and some finance analysts, hold
  nothing directly.
* ``breakglass-admin`` (``AdministratorAccess`` attached directly, tagged
  ``BreakGlass=true``) and ``ci-deployer`` (an inline policy and a
  permissions boundary).
* Two or three roles, and the ``Policies`` list: every customer-managed
  policy (some with several versions, one attached nowhere) and every
  AWS-managed policy in use. AWS-managed documents are abbreviated stand-ins
  for the real ones (groupify knows those policies by ARN only).

Every job function is present from about a dozen users on; the shared inline
documents and the deviations from about two dozen.
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
import string
import urllib.parse
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = ["populate", "synthetic_gaad"]

Json = dict[str, Any]

_VERSION = "2012-10-17"
_ID_CHARS = string.ascii_uppercase + string.digits
_EPOCH = datetime(2017, 3, 1, 9, 0, 0, tzinfo=UTC)

#: IAM's quotas the generator keeps to, per user.
USER_INLINE_CHARS = 2048
USER_MANAGED_POLICIES = 10


# -- AWS-managed policies (abbreviated documents) ---------------------------------


def _allow(actions: str | list[str], resource: str | list[str] = "*", **extra: Any) -> Json:
    return {"Effect": "Allow", "Action": actions, "Resource": resource, **extra}


#: key (the ARN after ``policy/``) -> (default version, statements).
_AWS_POLICIES: dict[str, tuple[str, list[Json]]] = {
    "AdministratorAccess": ("v1", [_allow("*")]),
    "PowerUserAccess": (
        "v5",
        [
            {
                "Effect": "Allow",
                "NotAction": ["iam:*", "organizations:*", "account:*"],
                "Resource": "*",
            },
            _allow(
                [
                    "account:GetAccountInformation",
                    "account:ListRegions",
                    "iam:CreateServiceLinkedRole",
                    "iam:DeleteServiceLinkedRole",
                    "iam:ListRoles",
                    "organizations:DescribeOrganization",
                ]
            ),
        ],
    ),
    "ReadOnlyAccess": (
        "v112",
        [
            _allow(
                [
                    "cloudwatch:Describe*",
                    "cloudwatch:Get*",
                    "cloudwatch:List*",
                    "ec2:Describe*",
                    "iam:Get*",
                    "iam:List*",
                    "lambda:Get*",
                    "lambda:List*",
                    "logs:Describe*",
                    "logs:Get*",
                    "rds:Describe*",
                    "s3:Get*",
                    "s3:List*",
                ]
            )
        ],
    ),
    "job-function/ViewOnlyAccess": (
        "v18",
        [
            _allow(
                [
                    "cloudtrail:DescribeTrails",
                    "cloudwatch:List*",
                    "dynamodb:ListTables",
                    "ec2:DescribeInstances",
                    "ec2:DescribeSecurityGroups",
                    "iam:List*",
                    "lambda:List*",
                    "rds:DescribeDBInstances",
                    "s3:ListAllMyBuckets",
                    "s3:ListBucket",
                ]
            )
        ],
    ),
    "job-function/DataScientist": (
        "v10",
        [
            _allow(
                [
                    "athena:*",
                    "datapipeline:Describe*",
                    "ec2:Describe*",
                    "elasticmapreduce:*",
                    "glue:Get*",
                    "kinesis:Get*",
                    "sagemaker:*",
                ]
            ),
            _allow(["s3:GetObject", "s3:PutObject"], "arn:aws:s3:::*sagemaker*"),
        ],
    ),
    "job-function/SupportUser": (
        "v9",
        [_allow(["support:*", "ec2:Describe*", "cloudwatch:Get*", "logs:Get*", "iam:List*"])],
    ),
    "job-function/Billing": (
        "v4",
        [_allow(["aws-portal:*Billing", "aws-portal:*Usage", "budgets:*", "ce:*", "cur:*"])],
    ),
    "SecurityAudit": (
        "v38",
        [
            _allow(
                [
                    "access-analyzer:List*",
                    "cloudtrail:Describe*",
                    "config:Describe*",
                    "ec2:Describe*",
                    "guardduty:Get*",
                    "iam:GenerateCredentialReport",
                    "iam:Get*",
                    "iam:List*",
                    "kms:Describe*",
                    "s3:GetBucketPolicy",
                    "securityhub:Get*",
                ]
            )
        ],
    ),
    "AWSBillingReadOnlyAccess": (
        "v11",
        [
            _allow(
                [
                    "aws-portal:ViewBilling",
                    "aws-portal:ViewUsage",
                    "billing:Get*",
                    "billing:List*",
                    "budgets:ViewBudget",
                    "ce:Describe*",
                    "ce:Get*",
                    "ce:List*",
                    "cur:Describe*",
                    "pricing:DescribeServices",
                ]
            )
        ],
    ),
    "AmazonS3ReadOnlyAccess": (
        "v3",
        [
            _allow(
                [
                    "s3:Get*",
                    "s3:List*",
                    "s3:Describe*",
                    "s3-object-lambda:Get*",
                    "s3-object-lambda:List*",
                ]
            )
        ],
    ),
    "AmazonS3FullAccess": ("v2", [_allow(["s3:*", "s3-object-lambda:*"])]),
    "AmazonEC2ReadOnlyAccess": (
        "v3",
        [
            _allow("ec2:Describe*"),
            _allow("elasticloadbalancing:Describe*"),
            _allow(
                ["cloudwatch:ListMetrics", "cloudwatch:GetMetricStatistics", "cloudwatch:Describe*"]
            ),
            _allow("autoscaling:Describe*"),
        ],
    ),
    "AmazonAthenaFullAccess": (
        "v9",
        [
            _allow(["athena:*"]),
            _allow(["glue:Get*", "glue:BatchGetPartition", "glue:CreateTable", "glue:UpdateTable"]),
            _allow(
                ["s3:GetBucketLocation", "s3:GetObject", "s3:ListBucket", "s3:PutObject"],
                ["arn:aws:s3:::aws-athena-query-results-*"],
            ),
        ],
    ),
    "AmazonRDSReadOnlyAccess": (
        "v4",
        [
            _allow(["rds:Describe*", "rds:ListTagsForResource", "ec2:DescribeAccountAttributes"]),
            _allow(
                ["cloudwatch:GetMetricStatistics", "logs:DescribeLogStreams", "logs:GetLogEvents"]
            ),
        ],
    ),
    "CloudWatchReadOnlyAccess": (
        "v11",
        [
            _allow(
                [
                    "autoscaling:Describe*",
                    "cloudwatch:Describe*",
                    "cloudwatch:Get*",
                    "cloudwatch:List*",
                    "logs:Get*",
                    "logs:List*",
                    "logs:StartQuery",
                    "logs:StopQuery",
                    "logs:Describe*",
                    "logs:FilterLogEvents",
                    "sns:Get*",
                    "sns:List*",
                ]
            )
        ],
    ),
    "CloudWatchLogsReadOnlyAccess": (
        "v6",
        [
            _allow(
                [
                    "logs:Describe*",
                    "logs:Get*",
                    "logs:List*",
                    "logs:StartQuery",
                    "logs:StopQuery",
                    "logs:TestMetricFilter",
                    "logs:FilterLogEvents",
                ]
            )
        ],
    ),
    "IAMReadOnlyAccess": (
        "v4",
        [
            _allow(
                [
                    "iam:GenerateCredentialReport",
                    "iam:GenerateServiceLastAccessedDetails",
                    "iam:Get*",
                    "iam:List*",
                    "iam:SimulateCustomPolicy",
                    "iam:SimulatePrincipalPolicy",
                ]
            )
        ],
    ),
    "IAMUserChangePassword": (
        "v2",
        [
            _allow(["iam:ChangePassword"], ["arn:aws:iam::*:user/${aws:username}"]),
            _allow(["iam:GetAccountPasswordPolicy"]),
        ],
    ),
    "AWSSupportAccess": ("v1", [_allow(["support:*"])]),
    "AWSGlueConsoleFullAccess": (
        "v12",
        [
            _allow(["glue:*", "redshift:DescribeClusters", "s3:ListAllMyBuckets", "iam:ListRoles"]),
            _allow(["s3:GetObject", "s3:PutObject"], ["arn:aws:s3:::aws-glue-*/*"]),
        ],
    ),
    "AmazonSageMakerFullAccess": ("v27", [_allow(["sagemaker:*", "ecr:Describe*", "logs:*"])]),
    "AmazonDynamoDBFullAccess": (
        "v17",
        [_allow(["dynamodb:*", "dax:*", "application-autoscaling:*", "cloudwatch:GetMetricData"])],
    ),
    "AWSLambda_FullAccess": (
        "v9",
        [
            _allow(["lambda:*", "logs:DescribeLogGroups", "cloudformation:DescribeStacks"]),
            _allow(
                ["iam:PassRole"],
                "*",
                Condition={"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}},
            ),
        ],
    ),
    "CloudFrontFullAccess": (
        "v6",
        [_allow(["cloudfront:*", "acm:ListCertificates", "s3:ListAllMyBuckets"])],
    ),
    "AmazonEC2ContainerRegistryPowerUser": (
        "v3",
        [
            _allow(
                [
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:BatchGetImage",
                    "ecr:CompleteLayerUpload",
                    "ecr:DescribeImages",
                    "ecr:DescribeRepositories",
                    "ecr:GetAuthorizationToken",
                    "ecr:GetDownloadUrlForLayer",
                    "ecr:InitiateLayerUpload",
                    "ecr:ListImages",
                    "ecr:PutImage",
                    "ecr:UploadLayerPart",
                ]
            )
        ],
    ),
    "AmazonRedshiftReadOnlyAccess": (
        "v2",
        [_allow(["redshift:Describe*", "redshift:View*", "ec2:DescribeVpcs", "sns:Get*"])],
    ),
    "AWSCloudTrail_ReadOnlyAccess": (
        "v1",
        [
            _allow(
                [
                    "cloudtrail:Describe*",
                    "cloudtrail:Get*",
                    "cloudtrail:List*",
                    "cloudtrail:LookupEvents",
                ]
            )
        ],
    ),
    "AmazonSQSFullAccess": ("v2", [_allow(["sqs:*"])]),
    "AmazonAPIGatewayAdministrator": ("v1", [_allow(["apigateway:*"], "arn:aws:apigateway:*::/*")]),
    "AmazonGuardDutyReadOnlyAccess": (
        "v4",
        [_allow(["guardduty:Describe*", "guardduty:Get*", "guardduty:List*"])],
    ),
    "AWSCodeCommitPowerUser": (
        "v9",
        [
            _allow(
                ["codecommit:Get*", "codecommit:List*", "codecommit:GitPull", "codecommit:GitPush"]
            )
        ],
    ),
    "AmazonSSMManagedInstanceCore": (
        "v2",
        [
            _allow(["ssm:DescribeAssociation", "ssm:GetDocument", "ssm:UpdateInstanceInformation"]),
            _allow(["ssmmessages:*", "ec2messages:*"]),
        ],
    ),
    "aws-service-role/AWSSupportServiceRolePolicy": (
        "v23",
        [_allow(["ec2:Describe*", "iam:Get*", "iam:List*", "s3:GetBucketPolicy"])],
    ),
}

#: AWS-managed policies that cannot be attached to users or groups.
_NOT_ATTACHABLE = frozenset({"aws-service-role/AWSSupportServiceRolePolicy"})


def _aws_arn(key: str) -> str:
    return f"arn:aws:iam::aws:policy/{key}"


def _constant_id(prefix: str, text: str) -> str:
    """An id that depends only on *text* (AWS-managed policies are the same everywhere)."""
    raw = hashlib.sha256(text.encode()).digest()
    return prefix + "".join(_ID_CHARS[b % len(_ID_CHARS)] for b in raw[:16])


# -- customer-managed policies -----------------------------------------------------

DocBuilder = Callable[[str], Json]


def _doc(*statements: Json) -> Json:
    return {"Version": _VERSION, "Statement": list(statements)}


def _require_mfa(account: str) -> Json:
    own = "arn:aws:iam::*:user/${aws:username}"
    return _doc(
        _allow(
            ["iam:GetAccountPasswordPolicy", "iam:ListVirtualMFADevices"],
            Sid="AllowViewAccountInfo",
        ),
        _allow(
            ["iam:ChangePassword", "iam:GetUser", "iam:CreateLoginProfile"],
            own,
            Sid="AllowManageOwnPasswords",
        ),
        _allow(
            [
                "iam:CreateAccessKey",
                "iam:DeleteAccessKey",
                "iam:ListAccessKeys",
                "iam:UpdateAccessKey",
                "iam:GetAccessKeyLastUsed",
            ],
            own,
            Sid="AllowManageOwnAccessKeys",
        ),
        _allow(
            ["iam:CreateVirtualMFADevice"],
            "arn:aws:iam::*:mfa/*",
            Sid="AllowManageOwnVirtualMFADevice",
        ),
        _allow(
            [
                "iam:DeactivateMFADevice",
                "iam:EnableMFADevice",
                "iam:ListMFADevices",
                "iam:ResyncMFADevice",
            ],
            own,
            Sid="AllowManageOwnUserMFA",
        ),
        {
            "Sid": "DenyAllExceptListedIfNoMFA",
            "Effect": "Deny",
            "NotAction": [
                "iam:CreateVirtualMFADevice",
                "iam:EnableMFADevice",
                "iam:GetUser",
                "iam:ChangePassword",
                "iam:ListMFADevices",
                "iam:ListVirtualMFADevices",
                "iam:ResyncMFADevice",
                "sts:GetSessionToken",
            ],
            "Resource": "*",
            "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
        },
    )


def _athena_results(account: str) -> Json:
    bucket = f"arn:aws:s3:::acme-athena-results-{account}"
    return _doc(
        _allow(["s3:GetBucketLocation", "s3:ListBucket"], bucket),
        _allow(["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"], f"{bucket}/*"),
    )


def _athena_results_v1(account: str) -> Json:
    bucket = f"arn:aws:s3:::acme-athena-results-{account}"
    return _doc(_allow(["s3:*"], [bucket, f"{bucket}/*"]))


def _data_lake_read(account: str) -> Json:
    bucket = f"arn:aws:s3:::acme-data-lake-{account}"
    return _doc(
        _allow(["s3:ListBucket"], bucket, Condition={"StringLike": {"s3:prefix": ["curated/*"]}}),
        _allow(["s3:GetObject"], f"{bucket}/curated/*"),
        _allow(["glue:GetDatabase*", "glue:GetTable*", "glue:GetPartition*"]),
    )


def _cost_explorer(account: str) -> Json:
    return _doc(
        _allow(
            [
                "ce:Describe*",
                "ce:Get*",
                "ce:List*",
                "budgets:ViewBudget",
                "cur:DescribeReportDefinitions",
            ],
            Sid="CostExplorerRead",
        )
    )


def _eks_developer(account: str) -> Json:
    return _doc(
        _allow(["eks:DescribeCluster", "eks:ListClusters", "eks:AccessKubernetesApi"]),
        _allow(
            ["eks:DescribeNodegroup", "eks:ListNodegroups"],
            f"arn:aws:eks:*:{account}:cluster/dev-*",
        ),
    )


def _eks_developer_v1(account: str) -> Json:
    return _doc(_allow(["eks:DescribeCluster", "eks:ListClusters"]))


def _ci_boundary(account: str) -> Json:
    return _doc(
        _allow(["ecr:*", "ecs:*", "s3:*", "cloudformation:*", "logs:*"], Sid="DeployServices"),
        _allow(["iam:PassRole"], f"arn:aws:iam::{account}:role/app-*", Sid="PassAppRoles"),
        {
            "Sid": "NoIamChanges",
            "Effect": "Deny",
            "Action": ["iam:Create*", "iam:Delete*", "iam:Put*", "iam:Attach*"],
            "Resource": "*",
        },
    )


def _app_secrets(account: str) -> Json:
    return _doc(
        _allow(
            ["secretsmanager:GetSecretValue"],
            f"arn:aws:secretsmanager:us-east-1:{account}:secret:app/ingest/*",
        )
    )


def _legacy_uploader(account: str) -> Json:
    return _doc(_allow(["s3:PutObject"], f"arn:aws:s3:::acme-uploads-{account}/incoming/*"))


def _legacy_uploader_v1(account: str) -> Json:
    return _doc(_allow(["s3:PutObject", "s3:GetObject"], f"arn:aws:s3:::acme-uploads-{account}/*"))


#: name -> (path, versions oldest first; the last is the default).
_CUSTOMER_POLICIES: dict[str, tuple[str, tuple[DocBuilder, ...]]] = {
    "RequireMFA": ("/", (_require_mfa,)),
    "AthenaQueryResultsWrite": ("/data/", (_athena_results_v1, _athena_results)),
    "DataLakeReadOnly": ("/data/", (_data_lake_read,)),
    "CostExplorerReadOnly": ("/finance/", (_cost_explorer,)),
    "EKSDeveloperAccess": ("/", (_eks_developer_v1, _eks_developer, _eks_developer)),
    "CIDeployerBoundary": ("/boundaries/", (_ci_boundary,)),
    "AppIngestSecrets": ("/", (_app_secrets,)),
    "LegacyS3Uploader": ("/", (_legacy_uploader_v1, _legacy_uploader)),
}


def _cm(name: str) -> str:
    """A reference to a customer-managed policy, resolved to an ARN per account."""
    return f"cm:{name}"


def _ref_arn(ref: str, account: str) -> str:
    if ref.startswith("cm:"):
        name = ref[3:]
        path = _CUSTOMER_POLICIES[name][0]
        return f"arn:aws:iam::{account}:policy{path}{name}"
    return _aws_arn(ref)


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1].removeprefix("cm:")


# -- inline documents -------------------------------------------------------------


def _reorder(statement: Json, rng: random.Random) -> Json:
    """The same statement with its keys in another order, as another author wrote it."""
    keys = list(statement)
    rng.shuffle(keys)
    return {k: statement[k] for k in keys}


def _data_lake_write(account: str, rng: random.Random) -> Json:
    bucket = f"arn:aws:s3:::acme-data-lake-{account}"
    statements = [
        _allow(["s3:ListBucket"], bucket),
        _allow(
            ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            [f"{bucket}/raw/*", f"{bucket}/curated/*"],
        ),
        _allow(["glue:StartJobRun", "glue:GetJobRun*", "glue:StartCrawler"]),
    ]
    return {"Version": _VERSION, "Statement": [_reorder(s, rng) for s in statements]}


def _support_tools(account: str, rng: random.Random) -> Json:
    statements = [
        _allow(["support:*"]),
        _allow(
            ["ssm:StartSession", "ssm:TerminateSession"],
            f"arn:aws:ec2:us-east-1:{account}:instance/*",
            Condition={"StringEquals": {"ssm:resourceTag/Environment": "production"}},
        ),
    ]
    return {"Version": _VERSION, "Statement": [_reorder(s, rng) for s in statements]}


def _home_prefix(account: str, user: str) -> Json:
    bucket = f"arn:aws:s3:::acme-analyst-home-{account}"
    return _doc(
        _allow(["s3:ListBucket"], bucket, Condition={"StringLike": {"s3:prefix": [f"{user}/*"]}}),
        _allow(["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], f"{bucket}/{user}/*"),
    )


def _ci_deploy(account: str) -> Json:
    return _doc(
        _allow(
            [
                "ecr:GetAuthorizationToken",
                "ecr:BatchCheckLayerAvailability",
                "ecr:InitiateLayerUpload",
                "ecr:UploadLayerPart",
                "ecr:CompleteLayerUpload",
                "ecr:PutImage",
            ],
            Sid="PushImages",
        ),
        _allow(
            ["ecs:UpdateService", "ecs:DescribeServices", "ecs:RegisterTaskDefinition"],
            Sid="DeployServices",
        ),
        _allow(
            ["s3:GetObject", "s3:PutObject"],
            f"arn:aws:s3:::acme-ci-artifacts-{account}/*",
            Sid="Artifacts",
        ),
        _allow(["iam:PassRole"], f"arn:aws:iam::{account}:role/app-*", Sid="PassAppRoles"),
    )


def _support_console(account: str) -> Json:
    return _doc(
        _allow(["support:DescribeCases", "support:CreateCase", "support:AddCommunicationToCase"])
    )


InlineBuilder = Callable[[str, random.Random], Json]

#: Shared inline documents: (builder, the names different people gave it).
_SHARED_INLINE: dict[str, tuple[InlineBuilder, tuple[str, ...]]] = {
    "data-lake-write": (
        _data_lake_write,
        ("data-lake-write", "DataLakeWrite", "datalake-rw", "s3-datalake-access", "glue-etl"),
    ),
    "support-tools": (_support_tools, ("support-tools", "SupportTools", "case-and-ssm")),
}


# -- job functions ------------------------------------------------------------------


@dataclass(frozen=True)
class _Job:
    team: str
    function: str
    weight: int
    managed: tuple[str, ...] = ()
    inline: tuple[str, ...] = ()
    extras: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    #: Share of the job's users already compliant (in ``compliant_group``, nothing direct).
    compliant: float = 0.0
    compliant_group: str = ""
    cost_center: str = ""
    contractors: float = 0.0
    #: Attached directly by some users although a group of theirs grants it.
    redundant: str = ""


_JOBS: tuple[_Job, ...] = (
    _Job(
        "finance",
        "analyst",
        6,
        managed=("AWSBillingReadOnlyAccess", _cm("CostExplorerReadOnly")),
        extras=("job-function/Billing",),
        compliant=1 / 3,
        compliant_group="billing-viewers",
        cost_center="CC-1100",
    ),
    _Job(
        "platform",
        "developer",
        12,
        managed=(
            "AmazonEC2ReadOnlyAccess",
            "AmazonRDSReadOnlyAccess",
            "AmazonEC2ContainerRegistryPowerUser",
            _cm("EKSDeveloperAccess"),
        ),
        extras=("AmazonSQSFullAccess", "AmazonDynamoDBFullAccess"),
        groups=("Developers",),
        cost_center="CC-2200",
        redundant="CloudWatchReadOnlyAccess",
    ),
    _Job(
        "data",
        "engineer",
        9,
        managed=(
            "AWSGlueConsoleFullAccess",
            "AmazonAthenaFullAccess",
            "AmazonS3ReadOnlyAccess",
            "CloudWatchLogsReadOnlyAccess",
        ),
        inline=("data-lake-write",),
        extras=("AmazonRedshiftReadOnlyAccess", "AmazonSQSFullAccess"),
        cost_center="CC-4100",
    ),
    _Job(
        "data",
        "analyst",
        12,
        managed=(
            "AmazonAthenaFullAccess",
            "AmazonS3ReadOnlyAccess",
            _cm("AthenaQueryResultsWrite"),
        ),
        extras=("job-function/DataScientist", "AmazonRedshiftReadOnlyAccess"),
        cost_center="CC-4100",
    ),
    _Job(
        "web",
        "developer",
        12,
        managed=(
            "AWSLambda_FullAccess",
            "AmazonDynamoDBFullAccess",
            "CloudFrontFullAccess",
            "AmazonS3ReadOnlyAccess",
            "CloudWatchLogsReadOnlyAccess",
        ),
        extras=("AmazonAPIGatewayAdministrator", "AmazonS3FullAccess"),
        groups=("Developers",),
        cost_center="CC-2300",
        contractors=0.15,
    ),
    _Job(
        "platform",
        "sre",
        6,
        managed=("PowerUserAccess", "IAMReadOnlyAccess", "AWSSupportAccess"),
        extras=("AdministratorAccess",),
        cost_center="CC-2200",
    ),
    _Job(
        "security",
        "auditor",
        4,
        managed=("SecurityAudit", "job-function/ViewOnlyAccess", "AWSCloudTrail_ReadOnlyAccess"),
        extras=("AmazonGuardDutyReadOnlyAccess", "IAMReadOnlyAccess"),
        cost_center="CC-3100",
    ),
    _Job(
        "support",
        "agent",
        6,
        compliant=1.0,
        compliant_group="support-tier1",
        cost_center="CC-5100",
        contractors=0.2,
    ),
    _Job(
        "support",
        "engineer",
        5,
        managed=("job-function/SupportUser", "AmazonEC2ReadOnlyAccess", "CloudWatchReadOnlyAccess"),
        inline=("support-tools",),
        extras=("AmazonRDSReadOnlyAccess",),
        cost_center="CC-5100",
    ),
)

#: Existing groups: name -> (path, managed policy refs, inline (name, builder) pairs).
_GROUPS: dict[str, tuple[str, tuple[str, ...], tuple[tuple[str, DocBuilder], ...]]] = {
    "AllUsers-MFA": ("/", (_cm("RequireMFA"), "IAMUserChangePassword"), ()),
    "Developers": ("/", ("CloudWatchReadOnlyAccess", "AWSCodeCommitPowerUser"), ()),
    # Exactly the finance analysts' direct set: groupify reuses it.
    "billing-viewers": ("/finance/", ("AWSBillingReadOnlyAccess", _cm("CostExplorerReadOnly")), ()),
    "support-tier1": (
        "/support/",
        ("job-function/SupportUser",),
        (("support-console", _support_console),),
    ),
    "legacy-s3-readers": ("/", ("AmazonS3ReadOnlyAccess",), ()),
}

_MFA_GROUP = "AllUsers-MFA"
_DEVIATION_RATE = 0.05


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_FIRST = _words(
    "aaliyah adam aisha alex alice amir ana andrea ben bianca carlos chen chloe daniel "
    "david diego elena emma fatima felix gabriel grace hana hugo ines ivan jack james "
    "jin julia kai karim laura leo lucas maya mei mohammed nadia noah olivia omar pablo "
    "priya rafael ravi sara sofia tariq tom uma victor wei yusuf zoe"
)
_LAST = _words(
    "abbott adeyemi alvarez andersen bauer becker brown castro chen cohen costa dubois "
    "evans fischer garcia gomez gupta haddad hansen hoffman ito jensen kaur khan kim "
    "kowalski larsen lee lopez martin meyer moreau nakamura nguyen novak obrien okafor "
    "patel petrov quinn rossi santos schmidt silva singh smith suzuki tanaka walsh weber "
    "wong yilmaz zhang"
)


# -- the generator ---------------------------------------------------------------


@dataclass
class _Person:
    name: str
    job: _Job | None
    path: str = "/"
    tags: list[tuple[str, str]] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    managed: list[str] = field(default_factory=list)
    #: (policy name, document)
    inline: list[tuple[str, Json]] = field(default_factory=list)
    boundary: str | None = None


class _Ids:
    """Random unique ids (``AIDA`` + 16 characters), never the same one twice."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._seen: set[str] = set()

    def __call__(self, prefix: str) -> str:
        while True:
            value = prefix + "".join(self._rng.choices(_ID_CHARS, k=16))
            if value not in self._seen:
                self._seen.add(value)
                return value


def _when(rng: random.Random, start_days: int, span_days: int) -> datetime:
    return _EPOCH + timedelta(
        days=start_days + rng.randrange(span_days), seconds=rng.randrange(86_400)
    )


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _allocate(total: int, jobs: Sequence[_Job]) -> list[int]:
    """How many users each job gets: one each (in priority order) first, then by weight."""
    counts = [0] * len(jobs)
    for i in range(min(total, len(jobs))):
        counts[i] = 1
    rest = total - sum(counts)
    if rest > 0:
        weight = sum(j.weight for j in jobs)
        shares = [rest * j.weight / weight for j in jobs]
        floors = [int(s) for s in shares]
        left = rest - sum(floors)
        order = sorted(range(len(jobs)), key=lambda i: (-(shares[i] - floors[i]), i))
        for i in order[:left]:
            floors[i] += 1
        counts = [c + f for c, f in zip(counts, floors, strict=True)]
    return counts


def _unique_names(rng: random.Random, n: int, reserved: set[str]) -> list[str]:
    seen = {r.lower() for r in reserved}
    used: Counter[str] = Counter()
    out = []
    for _ in range(n):
        base = f"{rng.choice(_FIRST)}.{rng.choice(_LAST)}"
        name = base
        while name.lower() in seen:
            used[base] += 1
            name = f"{base}{used[base] + 1}"
        seen.add(name.lower())
        out.append(name)
    return out


def _build_people(rng: random.Random, users: int, account: str) -> list[_Person]:
    regular = users - 2
    counts = _allocate(regular, _JOBS)
    names = iter(_unique_names(rng, regular, {"breakglass-admin", "ci-deployer"}))
    people: list[_Person] = []
    by_job: dict[int, list[_Person]] = {}
    for j, (job, count) in enumerate(zip(_JOBS, counts, strict=True)):
        compliant = int(count * job.compliant) if job.compliant < 1 else count
        shared_offset = rng.randrange(len(_SHARED_INLINE[job.inline[0]][1])) if job.inline else 0
        direct_index = 0
        for k in range(count):
            person = _Person(next(names), job)
            if rng.random() < job.contractors:
                person.path = "/contractors/"
            person.tags = [("Team", job.team), ("JobFunction", job.function)]
            if job.cost_center and rng.random() < 0.6:
                person.tags.append(("CostCenter", job.cost_center))
            if person.path == "/" and rng.random() < 0.9:
                person.groups.append(_MFA_GROUP)
            person.groups.extend(job.groups)
            # The last users of a partly compliant job are the ones already migrated.
            if k >= count - compliant:
                person.groups.append(job.compliant_group)
            else:
                person.managed = list(job.managed)
                for key in job.inline:
                    builder, inline_names = _SHARED_INLINE[key]
                    label = inline_names[(shared_offset + direct_index) % len(inline_names)]
                    person.inline.append((label, builder(account, rng)))
                by_job.setdefault(j, []).append(person)
                direct_index += 1
            people.append(person)

    _deviate(rng, users, by_job, account)

    # Some users attach directly what a group of theirs already grants.
    for j, members in by_job.items():
        job = _JOBS[j]
        if job.redundant:
            n = max(1, round(len(members) * 0.2))
            for person in rng.sample(members, min(n, len(members))):
                if job.redundant not in person.managed:
                    person.managed.append(job.redundant)

    breakglass = _Person(
        "breakglass-admin",
        None,
        tags=[("Team", "security"), ("BreakGlass", "true"), ("CostCenter", "CC-3100")],
        groups=[_MFA_GROUP],
        managed=["AdministratorAccess"],
    )
    ci = _Person(
        "ci-deployer",
        None,
        path="/automation/",
        tags=[("Team", "platform"), ("JobFunction", "automation"), ("Owner", "platform-team")],
        inline=[("ci-deploy", _ci_deploy(account))],
        boundary=_cm("CIDeployerBoundary"),
    )
    people.extend([breakglass, ci])
    for person in people:
        rng.shuffle(person.managed)
    return sorted(people, key=lambda p: p.name)


def _deviate(
    rng: random.Random, users: int, by_job: dict[int, list[_Person]], account: str
) -> None:
    """Make a minority of users differ from their job's set (never a job's first user)."""
    wanted = max(1, round(users * _DEVIATION_RATE))
    caps = {j: (len(members) - 1) // 2 for j, members in by_job.items()}
    candidates = [(j, p) for j, members in sorted(by_job.items()) for p in members[1:]]
    rng.shuffle(candidates)
    done: Counter[int] = Counter()
    for j, person in candidates:
        if wanted == 0:
            break
        if done[j] >= caps[j]:
            continue
        job = _JOBS[j]
        roll = rng.random()
        if job.function == "analyst" and job.team == "data" and roll < 0.3:
            person.inline.append(("home-prefix", _home_prefix(account, person.name)))
        elif roll < 0.6 and job.extras:
            extra = rng.choice(job.extras)
            if extra in person.managed:
                continue
            person.managed.append(extra)
        elif len(job.managed) > 1:
            person.managed.remove(rng.choice(job.managed))
        else:
            continue
        done[j] += 1
        wanted -= 1


def synthetic_gaad(
    users: int = 60,
    *,
    seed: int = 0,
    account_id: str = "123456789012",
    url_encoded: bool = False,
) -> dict[str, Any]:
    """A synthetic ``aws iam get-account-authorization-details`` document.

    *users* is the exact number of IAM users (at least 2: ``breakglass-admin``
    and ``ci-deployer`` are always there). The same arguments always give the
    same document. Policy documents are JSON objects, as the AWS CLI writes
    them, or with *url_encoded* URL-encoded JSON strings, as the IAM API
    returns them.
    """
    if isinstance(users, bool) or not isinstance(users, int) or users < 2:
        raise ValueError(f"users must be an integer of at least 2, got {users!r}")
    if not (len(account_id) == 12 and account_id.isdigit()):
        raise ValueError(f"account_id must be 12 digits, got {account_id!r}")
    rng = random.Random(seed)
    ids = _Ids(rng)

    def doc(value: Json) -> Any:
        return urllib.parse.quote(json.dumps(value)) if url_encoded else value

    people = _build_people(rng, users, account_id)
    attachments: Counter[str] = Counter()
    boundaries: Counter[str] = Counter()

    def attached(refs: Sequence[str]) -> list[Json]:
        out = []
        for ref in refs:
            arn = _ref_arn(ref, account_id)
            attachments[arn] += 1
            out.append({"PolicyName": _ref_name(ref), "PolicyArn": arn})
        return out

    user_list: list[Json] = []
    for p in people:
        entry: Json = {
            "Path": p.path,
            "UserName": p.name,
            "UserId": ids("AIDA"),
            "Arn": f"arn:aws:iam::{account_id}:user{p.path}{p.name}",
            "CreateDate": _iso(_when(rng, 300, 2400)),
            "UserPolicyList": [
                {"PolicyName": name, "PolicyDocument": doc(body)} for name, body in p.inline
            ],
            "GroupList": sorted(p.groups),
            "AttachedManagedPolicies": attached(p.managed),
        }
        if p.boundary:
            arn = _ref_arn(p.boundary, account_id)
            boundaries[arn] += 1
            entry["PermissionsBoundary"] = {
                "PermissionsBoundaryType": "Policy",
                "PermissionsBoundaryArn": arn,
            }
        entry["Tags"] = [{"Key": k, "Value": v} for k, v in p.tags]
        user_list.append(entry)

    group_list: list[Json] = []
    for name, (path, managed, inline) in _GROUPS.items():
        group_list.append(
            {
                "Path": path,
                "GroupName": name,
                "GroupId": ids("AGPA"),
                "Arn": f"arn:aws:iam::{account_id}:group{path}{name}",
                "CreateDate": _iso(_when(rng, 0, 700)),
                "GroupPolicyList": [
                    {"PolicyName": pname, "PolicyDocument": doc(build(account_id))}
                    for pname, build in inline
                ],
                "AttachedManagedPolicies": attached(managed),
            }
        )

    role_list = _roles(rng, ids, account_id, doc, attached)

    policies: list[Json] = []
    for name, (path, versions) in _CUSTOMER_POLICIES.items():
        arn = f"arn:aws:iam::{account_id}:policy{path}{name}"
        created = _when(rng, 100, 800)
        dates = [created]
        for _ in versions[1:]:
            dates.append(dates[-1] + timedelta(days=rng.randrange(20, 400)))
        n = len(versions)
        policies.append(
            {
                "PolicyName": name,
                "PolicyId": ids("ANPA"),
                "Arn": arn,
                "Path": path,
                "DefaultVersionId": f"v{n}",
                "AttachmentCount": attachments[arn],
                "PermissionsBoundaryUsageCount": boundaries[arn],
                "IsAttachable": True,
                "CreateDate": _iso(created),
                "UpdateDate": _iso(dates[-1]),
                "PolicyVersionList": [
                    {
                        "Document": doc(versions[v](account_id)),
                        "VersionId": f"v{v + 1}",
                        "IsDefaultVersion": v == n - 1,
                        "CreateDate": _iso(dates[v]),
                    }
                    for v in reversed(range(n))
                ],
            }
        )
    for key, (version, statements) in _AWS_POLICIES.items():
        arn = _aws_arn(key)
        if not attachments[arn]:
            continue  # AWS lists the AWS-managed policies that are in use
        path = "/" + key.rpartition("/")[0] + "/" if "/" in key else "/"
        created = _EPOCH - timedelta(days=800 + int(_constant_id("", key)[:3], 36) % 400)
        updated = created + timedelta(days=int(version[1:]) * 13)
        policies.append(
            {
                "PolicyName": _ref_name(key),
                "PolicyId": _constant_id("ANPA", arn),
                "Arn": arn,
                "Path": path,
                "DefaultVersionId": version,
                "AttachmentCount": attachments[arn],
                "PermissionsBoundaryUsageCount": 0,
                "IsAttachable": key not in _NOT_ATTACHABLE,
                "CreateDate": _iso(created),
                "UpdateDate": _iso(updated),
                "PolicyVersionList": [
                    {
                        "Document": doc(_doc(*copy.deepcopy(statements))),
                        "VersionId": version,
                        "IsDefaultVersion": True,
                        "CreateDate": _iso(updated),
                    }
                ],
            }
        )
    policies.sort(key=lambda p: p["PolicyName"].lower())

    return {
        "UserDetailList": user_list,
        "GroupDetailList": sorted(group_list, key=lambda g: g["GroupName"].lower()),
        "RoleDetailList": role_list,
        "Policies": policies,
    }


def _roles(
    rng: random.Random,
    ids: _Ids,
    account: str,
    doc: Callable[[Json], Any],
    attached: Callable[[Sequence[str]], list[Json]],
) -> list[Json]:
    """Two or three roles: cross-account admin, a service-linked role, maybe an EC2 role."""

    def trust(principal: Json) -> Json:
        return _doc({"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"})

    specs: list[tuple[str, str, Json, tuple[str, ...], list[tuple[str, Json]]]] = [
        (
            "/",
            "OrganizationAccountAccessRole",
            trust({"AWS": "arn:aws:iam::111122223333:root"}),
            ("AdministratorAccess",),
            [],
        ),
        (
            "/aws-service-role/support.amazonaws.com/",
            "AWSServiceRoleForSupport",
            trust({"Service": "support.amazonaws.com"}),
            ("aws-service-role/AWSSupportServiceRolePolicy",),
            [],
        ),
    ]
    if rng.random() < 0.5:
        specs.append(
            (
                "/",
                "app-ingest-ec2",
                trust({"Service": "ec2.amazonaws.com"}),
                ("AmazonSSMManagedInstanceCore", _cm("AppIngestSecrets")),
                [("ingest-queue", _doc(_allow(["sqs:ReceiveMessage", "sqs:DeleteMessage"])))],
            )
        )
    out = []
    for path, name, trust_doc, managed, inline in specs:
        arn = f"arn:aws:iam::{account}:role{path}{name}"
        role_id = ids("AROA")
        created = _when(rng, 0, 900)
        profiles = []
        if name == "app-ingest-ec2":
            profiles.append(
                {
                    "Path": "/",
                    "InstanceProfileName": name,
                    "InstanceProfileId": ids("AIPA"),
                    "Arn": f"arn:aws:iam::{account}:instance-profile/{name}",
                    "CreateDate": _iso(created),
                    "Roles": [
                        {
                            "Path": path,
                            "RoleName": name,
                            "RoleId": role_id,
                            "Arn": arn,
                            "CreateDate": _iso(created),
                            "AssumeRolePolicyDocument": doc(trust_doc),
                        }
                    ],
                }
            )
        last_used: Json = {}
        if rng.random() < 0.8:
            last_used = {
                "LastUsedDate": _iso(_when(rng, 2500, 200)),
                "Region": rng.choice(["us-east-1", "eu-west-1"]),
            }
        out.append(
            {
                "Path": path,
                "RoleName": name,
                "RoleId": role_id,
                "Arn": arn,
                "CreateDate": _iso(created),
                "AssumeRolePolicyDocument": doc(trust_doc),
                "InstanceProfileList": profiles,
                "RolePolicyList": [
                    {"PolicyName": pname, "PolicyDocument": doc(body)} for pname, body in inline
                ],
                "AttachedManagedPolicies": attached(managed),
                "Tags": [],
                "RoleLastUsed": last_used,
            }
        )
    return out


def populate(iam: Any, gaad: Mapping[str, Any], *, workers: int = 1) -> None:
    """Create the users, groups and customer-managed policies of *gaad* through *iam*.

    For tests, demos and benchmarks against an embedded IAM (moto); AWS-managed
    policies must already exist there (moto:
    ``mock_aws(config={"iam": {"load_aws_managed_policies": True}})``).
    Customer policies get every version, the default one set as in *gaad*;
    users are created on *workers* threads. Roles are not created.
    """
    from concurrent.futures import ThreadPoolExecutor

    def document(value: Any) -> str:
        return value if isinstance(value, str) else json.dumps(value)

    for policy in gaad.get("Policies", []):
        if policy["Arn"].split(":")[4] == "aws":
            continue
        versions = sorted(
            policy.get("PolicyVersionList", []), key=lambda v: int(v["VersionId"][1:])
        )
        arn = iam.create_policy(
            PolicyName=policy["PolicyName"],
            Path=policy.get("Path", "/"),
            PolicyDocument=document(versions[0]["Document"]),
        )["Policy"]["Arn"]
        for version in versions[1:]:
            iam.create_policy_version(
                PolicyArn=arn, PolicyDocument=document(version["Document"]), SetAsDefault=True
            )
        default = policy.get("DefaultVersionId") or next(
            v["VersionId"] for v in versions if v.get("IsDefaultVersion")
        )
        if len(versions) > 1:
            iam.set_default_policy_version(PolicyArn=arn, VersionId=default)
    for group in gaad.get("GroupDetailList", []):
        name = group["GroupName"]
        iam.create_group(GroupName=name, Path=group.get("Path", "/"))
        for attached in group.get("AttachedManagedPolicies", []):
            iam.attach_group_policy(GroupName=name, PolicyArn=attached["PolicyArn"])
        for inline in group.get("GroupPolicyList", []):
            iam.put_group_policy(
                GroupName=name,
                PolicyName=inline["PolicyName"],
                PolicyDocument=document(inline["PolicyDocument"]),
            )

    def create(user: Mapping[str, Any]) -> None:
        name = user["UserName"]
        kwargs: dict[str, Any] = {"UserName": name, "Path": user.get("Path", "/")}
        if user.get("Tags"):
            kwargs["Tags"] = user["Tags"]
        boundary = (user.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
        if boundary:
            kwargs["PermissionsBoundary"] = boundary
        iam.create_user(**kwargs)
        for attached in user.get("AttachedManagedPolicies", []):
            iam.attach_user_policy(UserName=name, PolicyArn=attached["PolicyArn"])
        for inline in user.get("UserPolicyList", []):
            iam.put_user_policy(
                UserName=name,
                PolicyName=inline["PolicyName"],
                PolicyDocument=document(inline["PolicyDocument"]),
            )
        for group_name in user.get("GroupList", []):
            iam.add_user_to_group(GroupName=group_name, UserName=name)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        list(pool.map(create, gaad.get("UserDetailList", [])))
