"""Group names: valid for IAM, unique ignoring case, and meaningful to a reviewer."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence

from groupify.errors import InvalidNameError
from groupify.inventory.model import Inventory, PolicyRef, User

__all__ = ["GROUP_NAME_MAX", "POLICY_NAME_MAX", "slug", "suggest_name", "validate_name"]

GROUP_NAME_MAX = 128
POLICY_NAME_MAX = 128
_VALID = re.compile(r"[\w+=,.@-]+", re.ASCII)
_INVALID_CHARS = re.compile(r"[^A-Za-z0-9_+=,.@-]+")

#: User tag keys that name a team or a job function, in the order they are
#: joined into a name (team first: ``data-analyst``). Matched ignoring case
#: and punctuation.
TAG_KEYS: tuple[tuple[str, ...], ...] = (
    ("team", "department", "dept", "org", "unit", "businessunit"),
    ("jobfunction", "job", "function", "role", "title", "position"),
)

_WORDS = {
    "ReadOnly": "readonly",
    "FullAccess": "full",
    "PowerUser": "poweruser",
    "ViewOnly": "viewonly",
}
#: Service names kept as one word (``CloudWatch`` is ``cloudwatch``, not ``cloud-watch``).
_SERVICES = [
    "CloudFormation",
    "CloudFront",
    "CloudHSM",
    "CloudSearch",
    "CloudShell",
    "CloudTrail",
    "CloudWatch",
    "CodeArtifact",
    "CodeBuild",
    "CodeCommit",
    "CodeDeploy",
    "CodePipeline",
    "CodeStar",
    "DataSync",
    "DynamoDB",
    "ElastiCache",
    "ElasticBeanstalk",
    "EventBridge",
    "GuardDuty",
    "LakeFormation",
    "OpenSearch",
    "QuickSight",
    "SageMaker",
    "SecretsManager",
    "SecurityHub",
    "StepFunctions",
    "WorkSpaces",
]


def validate_name(name: str, *, kind: str = "group", max_length: int = GROUP_NAME_MAX) -> str:
    """Return *name* if IAM accepts it as a *kind* name, else raise :class:`InvalidNameError`."""
    if not isinstance(name, str) or not name:
        raise InvalidNameError(str(name), f"a {kind} name must not be empty")
    if len(name) > max_length:
        raise InvalidNameError(
            name, f"a {kind} name may have at most {max_length} characters, this has {len(name)}"
        )
    if not _VALID.fullmatch(name):
        bad = sorted(set(_INVALID_CHARS.findall(name)))
        raise InvalidNameError(
            name,
            f"{kind} names may only contain letters, digits and +=,.@_- (found {''.join(bad)!r})",
        )
    return name


def slug(text: str) -> str:
    """Lower-case, IAM-safe, hyphenated form of *text* (may be empty)."""
    out = _INVALID_CHARS.sub("-", text.strip().lower())
    out = re.sub(r"[-_.]{2,}", "-", out)
    return out.strip("-_.")


def _kebab(camel: str) -> str:
    for word in _SERVICES:
        camel = camel.replace(word, f"-{word.lower()}-")
    for word, repl in _WORDS.items():
        camel = camel.replace(word, f"-{repl}-")
    # AmazonS3 -> S3, EC2Instance -> ec2-instance
    camel = re.sub(r"([a-z0-9])([A-Z])", r"\1-\2", camel)
    camel = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1-\2", camel)
    return slug(camel)


def policy_slug(ref: PolicyRef, inventory: Inventory) -> str:
    """A short label for a policy, for names: ``AmazonS3ReadOnlyAccess`` → ``s3-readonly``."""
    label = inventory.label(ref)
    if ref.is_aws_managed:
        label = re.sub(r"^(Amazon|AWS)(?=[A-Z0-9])", "", label)
        if label not in ("ReadOnlyAccess", "ViewOnlyAccess"):
            label = re.sub(r"(?<=[a-z0-9])Access$", "", label)
        label = label.removesuffix("Access") or label
        return _kebab(label) or slug(inventory.label(ref))
    return slug(label) if "-" in label or "_" in label else _kebab(label)


def _norm_key(key: str) -> str:
    return re.sub(r"[^a-z]", "", key.lower())


def tag_name(members: Iterable[User]) -> str | None:
    """A name from team and job-function tags that every member shares, if any."""
    members = list(members)
    if not members:
        return None
    parts: list[str] = []
    for keys in TAG_KEYS:
        for key in keys:
            values = set()
            for user in members:
                found = [v for k, v in user.tags if _norm_key(k) == key]
                values.add(found[0] if found else None)
            if len(values) == 1 and (value := values.pop()) and slug(value):
                if slug(value) not in parts:
                    parts.append(slug(value))
                break
    return "-".join(parts) or None


def policy_name(policies: Collection[PolicyRef], inventory: Inventory, *, most: int = 3) -> str:
    """A name from the policies: ``s3-readonly-ec2-readonly``, ``...-and-4-more``."""
    labels = sorted({policy_slug(p, inventory) for p in policies} - {""})
    if not labels:
        return "policies"
    if len(labels) > most:
        return "-".join(labels[:most]) + f"-and-{len(labels) - most}-more"
    return "-".join(labels)


def _fit(base: str, suffix: str = "") -> str:
    base = base[: GROUP_NAME_MAX - len(suffix)].rstrip("-_.") or "group"
    return base + suffix


def suggest_name(
    members: Sequence[User],
    policies: Collection[PolicyRef],
    inventory: Inventory,
    taken: Mapping[str, frozenset[PolicyRef]],
    *,
    part: str = "",
) -> str:
    """A valid name, not in *taken* (compared ignoring case), for a group of *members*.

    *taken* maps names already used, lower-cased, to their groups' policies.
    Tags shared by every member come first (``data-analyst``). Where another
    group already has that name, the policies that tell the two apart are
    added (``support-engineer-ssm``, ``web-without-dynamodb-full``); without
    shared tags the policies name the group. A number comes last. *part*
    (``-part2``) stays at the end for the pieces of a split set.
    """
    by_tags = tag_name(members)
    candidates = []
    if by_tags:
        candidates.append(by_tags)
        other = taken.get(_fit(by_tags, part).lower())
        if other is not None:
            extra, missing = frozenset(policies) - other, other - frozenset(policies)
            if extra:
                candidates.append(f"{by_tags}-{policy_name(extra, inventory)}")
            elif missing:
                candidates.append(f"{by_tags}-without-{policy_name(missing, inventory)}")
    candidates.append(policy_name(policies, inventory))
    for candidate in candidates:
        name = _fit(candidate, part)
        if name.lower() not in taken:
            return validate_name(name)
    n = 2
    while True:
        name = _fit(candidates[0], f"{part}-{n}")
        if name.lower() not in taken:
            return validate_name(name)
        n += 1
