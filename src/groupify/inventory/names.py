"""Group names: valid for IAM, unique ignoring case, and meaningful to a reviewer."""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence

from groupify.errors import InvalidNameError
from groupify.inventory.model import Inventory, PolicyRef, User
from groupify.inventory.policy import digest

__all__ = [
    "FILLER",
    "GENERIC",
    "GROUP_NAME_MAX",
    "POLICY_NAME_MAX",
    "policy_name",
    "policy_slug",
    "slug",
    "suggest_name",
    "validate_name",
    "words",
]

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
    "Cloud9",
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
    "IoT",
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


#: Service names with digits, kept whole (``Route53`` is ``route53``, not ``route-53``).
_DIGIT_WORDS = frozenset({"ec2", "s3", "route53", "elbv2", "sesv2", "cloud9", "x509"})
#: Words that say nothing in a name: dropped (``privesc-...-policy`` → ``privesc-...``).
FILLER = frozenset(
    {"policy", "policies", "access", "allow", "allows", "permission", "permissions", "perms"}
)
#: Words that never make a name alone (a group named just ``policy`` or ``default``).
GENERIC = FILLER | frozenset(
    {
        "all", "base", "basic", "common", "custom", "default", "general", "group", "groups",
        "inline", "managed", "misc", "my", "new", "role", "standard", "temp", "test", "tmp",
        "user", "users", "full", "read", "write", "rw", "ro", "v",
    }
)  # fmt: skip
# Matches are kept or split by _whole (not inside a longer CamelCase word).
_SERVICE_RE = re.compile("|".join(sorted(_SERVICES, key=len, reverse=True)), re.IGNORECASE)
_WORDS_RE = re.compile("|".join(sorted(_WORDS, key=len, reverse=True)), re.IGNORECASE)


def _whole(replace: Callable[[str], str]) -> Callable[[re.Match[str]], str]:
    """A substitution that keeps a CamelCase match followed by a lower-case letter as it
    was (``CloudWatchers``, ``CodeDeployer``: not the service); lower-case text, which
    has no word boundaries to go by, is split as found (``readonlyaccess``)."""

    def sub(m: re.Match[str]) -> str:
        found, after = m.group(0), m.string[m.end() : m.end() + 1]
        if not found.islower() and after.islower():
            return found
        return f" {replace(found)} "

    return sub


def words(text: str) -> list[str]:
    """The words of a policy or group label, lower case: CamelCase and digits split.

    ``privesc-sageMakerCreatePresignedNotebookURL-policy`` →
    ``[privesc, sagemaker, create, presigned, notebook, url, policy]``;
    ``AmazonEC2FullAccess`` → ``[amazon, ec2, full]``; ``DataLake2024`` →
    ``[data, lake, 2024]``; service names stay whole (``CloudWatch``, ``Route53``).
    """
    text = _SERVICE_RE.sub(_whole(str.lower), text)
    text = _WORDS_RE.sub(_whole(lambda w: _WORDS[_canonical_word(w)]), text)
    out: list[str] = []
    for token in re.split(r"[^A-Za-z0-9]+", text):
        if not token:
            continue
        token = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", token)
        token = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", token)
        for word in token.lower().split():
            out.extend(_split_digits(word))
    return out


def _canonical_word(found: str) -> str:
    return next(w for w in _WORDS if w.lower() == found.lower())


def _split_digits(word: str) -> list[str]:
    """``policy2`` → ``policy 2``; ``ec2``, ``s3``, ``v2`` and short codes stay whole."""
    if word in _DIGIT_WORDS or word.isdigit() or word.isalpha():
        return [word]
    parts = re.findall(r"[a-z]+|[0-9]+", word)
    # A short prefix with its number is a code (ec2, r53, gp3), not two words.
    if len(parts) == 2 and parts[0].isalpha() and len(parts[0]) <= 3:
        return [word]
    return parts


def _meaningful(items: list[str]) -> list[str]:
    """*items* without filler and repeated words; as they were if nothing would be left."""
    out: list[str] = []
    for word in items:
        if word not in FILLER and word not in out:
            out.append(word)
    return out or items


def policy_services(ref: PolicyRef, inventory: Inventory) -> list[str]:
    """The services a policy's Allow statements name (``s3``, ``ec2``), sorted; [] if unknown.

    ``Action: "*"`` is ``all-services``; a ``NotAction`` statement is ``all-except-`` and
    the services it leaves out (``all-except-iam-organizations``).
    """
    import json

    document = inventory.document(ref)
    if document is None:
        return []
    try:
        statements = json.loads(document).get("Statement", [])
    except (ValueError, AttributeError):
        return []
    if isinstance(statements, dict):
        statements = [statements]
    found: set[str] = set()
    for st in statements:
        if not isinstance(st, dict) or st.get("Effect") != "Allow":
            continue
        for key in ("Action", "NotAction"):
            actions = st.get(key, [])
            actions = [actions] if isinstance(actions, str) else actions
            if not isinstance(actions, list):
                continue
            services = sorted(
                {slug(a.split(":", 1)[0]) for a in actions if isinstance(a, str) and ":" in a}
                - {""}
            )
            if key == "Action":
                if any(a == "*" for a in actions):
                    found.add("all-services")
                found.update(services)
            elif actions:
                found.add("-".join(["all-except", *services[:2]]) if services else "all-except")
    return sorted(found)


def policy_slug(ref: PolicyRef, inventory: Inventory) -> str:
    """A short label for a policy, for names: ``AmazonS3ReadOnlyAccess`` → ``s3-readonly``.

    CamelCase and digits are split, filler words (``policy``, ``access``, ``allow``)
    dropped; a customer or inline label that would be only generic words, numbers or
    versions (``policy``, ``default``, ``v2``) is named by what its document allows
    (``s3``, ``all-services``), else by its words and a digest of the policy.
    """
    label = inventory.label(ref).rsplit("/", 1)[-1]
    if ref.is_aws_managed:
        label = re.sub(r"^(Amazon|AWS)(?=[A-Z0-9])", "", label)
    kept = _meaningful(words(label))
    # AWS's own names always mean something (ReadOnlyAccess, AdministratorAccess).
    if not ref.is_aws_managed and all(_generic(w) for w in kept):
        services = policy_services(ref, inventory)
        if services:
            return "-".join(services[:3] + (["more"] if len(services) > 3 else []))
        # Nothing to name it by: its words with a digest of the policy, never bare.
        return "-".join([*kept, digest(ref.key, 6)])
    return slug("-".join(kept)) or slug(inventory.label(ref))


def _generic(word: str) -> bool:
    """A word that names nothing alone: generic, a number, a version (``v2``)."""
    return word in GENERIC or word.isdigit() or re.fullmatch(r"v\d+", word) is not None


def _norm_key(key: str) -> str:
    return re.sub(r"[^a-z]", "", key.lower())


@functools.lru_cache(maxsize=4096)
def _tag_slugs(tags: tuple[tuple[str, str], ...]) -> dict[str, str]:
    """Each tag key, normalized (:func:`_norm_key`), to the slug of the first value under
    it; worked out once for each set of tags (users of a team share one)."""
    out: dict[str, str] = {}
    for key, value in tags:
        out.setdefault(_norm_key(key), slug(value))
    return out


def tag_name(members: Iterable[User]) -> str | None:
    """A name from the team and job-function tags that most members share, if any.

    Members without the tag abstain. A value counts when at least half of the members
    have the tag and at least two thirds of those have that value (compared ignoring
    case): one user without the tags joining a group does not rename it, and a layer
    that several teams share is not named after one of them.
    """
    # Each member's tags normalized once, not once for every key looked up.
    slugs = [_tag_slugs(user.tags) for user in members]
    if not slugs:
        return None
    parts: list[str] = []
    for keys in TAG_KEYS:
        for key in keys:
            values = Counter(found for tags in slugs if (found := tags.get(key)))
            tagged = sum(values.values())
            if not tagged:
                continue
            value, n = max(values.items(), key=lambda kv: (kv[1], kv[0]))
            if 2 * tagged >= len(slugs) and 3 * n >= 2 * tagged:
                if value not in parts:
                    parts.append(value)
                break
    return "-".join(parts) or None


def policy_name(policies: Collection[PolicyRef], inventory: Inventory, *, most: int = 3) -> str:
    """A name from the policies: ``s3-readonly``, ``datalake-read-write``, ``ec2-iam-full``.

    One policy: its label. Several: a shared leading word is said once
    (``datalake-read`` + ``datalake-write`` → ``datalake-read-write``) and so is a
    shared last word (``ec2-full`` + ``iam-full`` → ``ec2-iam-full``); past *most*
    labels, the services they name when those are few (``athena-glue-s3``), else
    the first *most* and ``-and-more``.
    """
    labels = sorted({policy_slug(p, inventory) for p in policies} - {""})
    if not labels:
        return "policies"
    if len(labels) == 1:
        return labels[0]
    split = [label.split("-") for label in labels]
    head: list[str] = []
    while all(len(w) > len(head) + 1 for w in split) and len({w[len(head)] for w in split}) == 1:
        head.append(split[0][len(head)])
    tail: list[str] = []
    rest = [w[len(head) :] for w in split]
    if all(len(w) > 1 for w in rest) and len({w[-1] for w in rest}) == 1:
        tail = [rest[0][-1]]
        rest = [w[:-1] for w in rest]
    parts = ["-".join(w) for w in rest]
    if len(parts) > most:
        # The service family: from the documents, else each label's first word.
        services = sorted(
            {s for p in policies for s in policy_services(p, inventory)} or {w[0] for w in rest}
        )
        if len(services) <= most:
            parts = services
        else:
            parts, tail = [*parts[:most], "and-more"], []
    seen: list[str] = []
    for word in "-".join([*head, *parts, *tail]).split("-"):
        if word not in seen or word in ("and", "more"):
            seen.append(word)
    return "-".join(seen)


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
    The members' tags come first (``data-analyst``, see :func:`tag_name`). Where another
    group already has that name, the policies that tell the two apart are
    added (``support-engineer-ssm``, ``web-without-dynamodb-full``); without
    shared tags the policies name the group. Where all of those are taken, a short
    digest of the policies tells it apart (stable: it does not depend on the members
    or the order groups are named in). *part* (``-part2``) stays at the end for the
    pieces of a split set.
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
    # A digest of the policies, not a count: adding a user to a set renames nothing.
    key = digest("\n".join(sorted(p.key for p in policies)), 6)
    name = _fit(candidates[-1], f"-{key}{part}")
    n = 2
    while name.lower() in taken:
        name = _fit(candidates[-1], f"-{key}-{n}{part}")
        n += 1
    return validate_name(name)
