"""One AWS call: retried per the policy, with botocore's errors mapped to :class:`AWSError`."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from groupify.aws.errors import aws_error
from groupify.aws.retry import RetryPolicy, call_with_retries

__all__ = ["call"]


def call(
    policy: RetryPolicy,
    client: Any,
    operation: str,
    *,
    eventual: bool = False,
    on_retry: Callable[[BaseException, int], None] | None = None,
    what: str | None = None,
    gate: AbstractContextManager[Any] | None = None,
    **params: Any,
) -> Any:
    """``client.<operation>(**params)``, retried; a failure that outlasts the retries is an
    :class:`~groupify.errors.AWSError` (see :func:`~groupify.aws.errors.aws_error`).

    *gate* (a semaphore, say) is held around each attempt and not while waiting to
    retry, so that it bounds the requests in flight and a call backing off gives
    its place to another.
    """
    from botocore.exceptions import BotoCoreError, ClientError
    from botocore.parsers import ResponseParserError

    fn = getattr(client, operation)
    if gate is not None:
        send, held = fn, gate

        def fn(**kwargs: Any) -> Any:
            with held:
                return send(**kwargs)

        fn.__name__ = operation
    try:
        return call_with_retries(policy, fn, eventual=eventual, on_retry=on_retry, **params)
    except (ClientError, BotoCoreError, ResponseParserError) as exc:
        raise aws_error(exc, operation, what=what) from exc
