"""Policy documents: decoding, a canonical form, and IAM's size arithmetic."""

from __future__ import annotations

import hashlib
import json
import re
import urllib.parse
from typing import Any

from groupify.errors import InputError

__all__ = ["canonical_document", "digest", "document_size", "is_aws_managed"]

_WHITESPACE = re.compile(r"\s+")


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
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise InputError(f"policy document is not JSON: {exc}") from None
        except RecursionError:
            raise InputError("policy document is nested too deeply") from None
    if not isinstance(document, dict):
        raise InputError(f"policy document must be a JSON object, got {type(document).__name__}")
    try:
        return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except RecursionError:
        raise InputError("policy document is nested too deeply") from None
    except ValueError as exc:  # e.g. a lone surrogate or a number too long to write
        raise InputError(f"policy document cannot be written back as JSON: {exc}") from None


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
