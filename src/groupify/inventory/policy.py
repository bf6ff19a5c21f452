"""Policy documents: decoding, a canonical form, and IAM's size arithmetic."""

from __future__ import annotations

import hashlib
import json
import re
import urllib.parse
from typing import Any

from groupify._files import parse_json
from groupify.errors import InputError

__all__ = ["canonical_document", "digest", "document_size", "is_aws_managed"]

_WHITESPACE = re.compile(r"\s+")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def canonical_document(document: Any) -> str:
    """Return *document* as compact JSON with sorted keys.

    *document* may be a mapping (as the AWS CLI writes it) or a string: JSON,
    or URL-encoded JSON (as the raw IAM API returns it). Only key order and
    whitespace are normalised; nothing that changes meaning (or might) is
    touched, so two documents are one policy exactly when IAM would evaluate
    them the same way for the same reasons.
    """
    if isinstance(document, str):
        text = document.strip()
        if not text.startswith("{"):
            text = urllib.parse.unquote(text)
        document = parse_json(text, InputError, "policy document")
    if not isinstance(document, dict):
        raise InputError(f"policy document must be a JSON object, got {type(document).__name__}")
    try:
        out = json.dumps(
            document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except RecursionError:
        raise InputError("policy document is nested too deeply") from None
    except (ValueError, TypeError) as exc:  # NaN, a key that is not text, a set...
        raise InputError(f"policy document cannot be written back as JSON: {exc}") from None
    if not out.isascii() and _SURROGATE.search(out):
        # Only a mapping built in Python gets here with one; parse_json refuses them in text.
        raise InputError("policy document holds an unpaired surrogate, \\uD800 to \\uDFFF")
    return out


def document_size(document: str) -> int:
    """Characters IAM counts against a size quota: whitespace is not counted."""
    return len(_WHITESPACE.sub("", document))


def digest(text: str, length: int = 12) -> str:
    """A short, stable hex digest of *text*."""
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def is_aws_managed(arn: str) -> bool:
    """Whether *arn* names an AWS-managed policy (in any partition)."""
    parts = arn.split(":", 5)
    return len(parts) == 6 and parts[0] == "arn" and parts[4] == "aws"
