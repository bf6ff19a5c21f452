"""AWS errors as groupify's: one builder, used where botocore's errors enter."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from groupify.errors import AWSError

__all__ = ["answer_lost", "api_name", "aws_error", "error_code"]


def error_code(exc: BaseException) -> str | None:
    """The AWS error code of a botocore ``ClientError`` or an :class:`AWSError`, else ``None``."""
    if isinstance(exc, AWSError):
        return exc.code
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code else None
    return None


def api_name(method: str) -> str:
    """The API's name for a boto3 method: ``get_account_summary`` → ``GetAccountSummary``."""
    return "".join(word[:1].upper() + word[1:] for word in method.split("_"))


def aws_error(exc: BaseException, operation: str, *, what: str | None = None) -> AWSError:
    """The :class:`AWSError` for a botocore error raised by *operation* (a boto3 method name).

    Its message is ``<what> failed: <code>: <AWS's message>`` (*what* defaults
    to the API name); ``operation`` is the API name (``CreateGroup``).
    """
    response: Mapping[str, Any] = getattr(exc, "response", None) or {}
    code = response.get("Error", {}).get("Code") or None
    message = response.get("Error", {}).get("Message") or str(exc)
    name = getattr(exc, "operation_name", None) or api_name(operation)
    return AWSError(
        f"{what or name} failed: {code or type(exc).__name__}: {message}",
        operation=name,
        code=code,
    )


def answer_lost(exc: BaseException) -> bool:
    """Whether the call that raised *exc* may have been done by AWS all the same.

    True where the request may have reached AWS but its answer did not come back
    (the connection closed or timed out while reading, an answer that cannot be
    parsed because it was cut short or replaced by an error page, or a 5xx: the
    service failed after perhaps acting). False where AWS refused it (throttling or any
    other 4xx: nothing was done) or it never left (no connection could be made).
    """
    from botocore.exceptions import (
        ConnectionClosedError,
        EndpointConnectionError,
        ReadTimeoutError,
    )
    from botocore.parsers import ResponseParserError

    # An answer cut short (a clean close mid-body) or a proxy's error page in its place:
    # the call may have been done.
    if isinstance(exc, ReadTimeoutError | ConnectionClosedError | ResponseParserError):
        return True
    if isinstance(exc, EndpointConnectionError):
        return False
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return isinstance(status, int) and status >= 500
    return False
