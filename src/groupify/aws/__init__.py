"""The AWS boundary: the only package that imports boto3, botocore or tenacity.

Clients (:mod:`~groupify.aws.clients`), one error builder
(:mod:`~groupify.aws.errors`), Marker paging (:mod:`~groupify.aws.paging`),
the retry policy (:mod:`~groupify.aws.retry`) and one retried, error-mapped
call (:mod:`~groupify.aws.calls`). Everything above this package holds a
client as an opaque value and calls AWS through :func:`call`.
"""

from groupify.aws.calls import call
from groupify.aws.clients import (
    CallCounter,
    assumed_session,
    counted_clients,
    make_clients,
    service_client,
    session,
)
from groupify.aws.errors import answer_lost, api_name, aws_error, error_code
from groupify.aws.paging import collect, pages, token_pages
from groupify.aws.retry import RetryPolicy, call_with_retries, client_config, is_retryable

__all__ = [
    "CallCounter",
    "RetryPolicy",
    "answer_lost",
    "api_name",
    "assumed_session",
    "aws_error",
    "call",
    "call_with_retries",
    "client_config",
    "collect",
    "counted_clients",
    "error_code",
    "is_retryable",
    "make_clients",
    "pages",
    "service_client",
    "session",
    "token_pages",
]
