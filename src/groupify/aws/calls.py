"""One AWS call: retried per the policy, with botocore's errors mapped to :class:`AWSError`."""

from __future__ import annotations

import contextlib
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
    check: Callable[[], bool] | None = None,
    renew: Callable[[], None] | None = None,
    **params: Any,
) -> Any:
    """``client.<operation>(**params)``, retried; a failure that outlasts the retries is an
    :class:`~groupify.errors.AWSError` (see :func:`~groupify.aws.errors.aws_error`).

    *gate* (a semaphore, say) is held around each attempt and not while waiting to
    retry, so that it bounds the requests in flight and a call backing off gives
    its place to another.

    *check*, if given, is asked with the gate held just before each attempt is sent;
    when it says no, the gate is let go, *renew* is called (it may raise: the call is
    then not made) and the attempt waits for the gate again.
    """
    from botocore.exceptions import BotoCoreError, ClientError
    from botocore.parsers import ResponseParserError

    if check is not None and renew is None:
        raise TypeError("a check needs a renew")
    fn = getattr(client, operation)
    if gate is not None or check is not None:
        send, held = fn, gate if gate is not None else contextlib.nullcontext()

        def fn(**kwargs: Any) -> Any:
            while True:
                with held:
                    if check is None or check():
                        return send(**kwargs)
                assert renew is not None
                renew()

        fn.__name__ = operation
    try:
        return call_with_retries(policy, fn, eventual=eventual, on_retry=on_retry, **params)
    except (ClientError, BotoCoreError, ResponseParserError) as exc:
        raise aws_error(exc, operation, what=what) from exc
