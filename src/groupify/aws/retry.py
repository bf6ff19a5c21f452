"""Retrying AWS calls: what is retried is decided by the error, how by a policy.

tenacity does the work and stays private. botocore's own retries are turned
off on the clients groupify makes (:func:`client_config`) so that one policy,
visible and testable, decides.

Retried: throttling (``Throttling``, ``ThrottlingException``,
``RequestLimitExceeded``, ``TooManyRequestsException``), server failures
(``ServiceFailure``, ``ServiceUnavailable``, ``InternalFailure``, any 5xx),
``ConcurrentModification``, connection errors and timeouts, answers that
cannot be parsed (cut short, or a proxy's error page); and
``NoSuchEntity`` for a bounded number of attempts where the entity was just
created (IAM is eventually consistent).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import field, frozen

from groupify.aws.errors import error_code

if TYPE_CHECKING:
    import tenacity

__all__ = ["RetryPolicy", "call_with_retries", "client_config", "is_retryable"]

T = TypeVar("T")
_log = logging.getLogger("groupify.aws")

RETRYABLE_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "RequestThrottled",
        "ServiceFailure",
        "ServiceFailureException",
        "ServiceUnavailable",
        "InternalFailure",
        "InternalError",
        "ConcurrentModification",
        "ConcurrentModificationException",
    }
)


def _non_negative(instance: Any, attribute: Any, value: float) -> None:
    if value < 0:
        raise ValueError(f"{attribute.name} must not be negative")


@frozen
class RetryPolicy:
    """How often and how patiently to retry a failed AWS call.

    Waits grow exponentially from ``wait_initial`` to ``wait_max`` seconds with
    up to ``wait_jitter`` seconds of random jitter; ``attempts`` bounds the
    tries of one call (the first included) and ``timeout`` its total time.
    ``eventual_attempts`` bounds the retries of ``NoSuchEntity`` right after a
    create. :meth:`no_wait` is the policy for tests: same decisions, no sleep.
    """

    attempts: int = 8
    wait_initial: float = field(default=0.2, validator=_non_negative)
    wait_max: float = field(default=20.0, validator=_non_negative)
    wait_jitter: float = field(default=1.0, validator=_non_negative)
    timeout: float = field(default=300.0, validator=_non_negative)
    eventual_attempts: int = 6

    @classmethod
    def no_wait(cls, attempts: int = 8) -> RetryPolicy:
        """Retry as usual but never sleep (for tests)."""
        return cls(attempts=attempts, wait_initial=0, wait_max=0, wait_jitter=0)


def _status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return int(status) if status else None
    return None


def is_retryable(exc: BaseException, *, eventual: bool = False) -> bool:
    """Whether *exc* is worth another try; *eventual* also retries ``NoSuchEntity``."""
    from botocore.exceptions import (
        ConnectionClosedError,
        ConnectTimeoutError,
        EndpointConnectionError,
        ReadTimeoutError,
    )
    from botocore.exceptions import ConnectionError as BotoConnectionError
    from botocore.parsers import ResponseParserError

    if isinstance(
        exc,
        ConnectionClosedError
        | EndpointConnectionError
        | ConnectTimeoutError
        | ReadTimeoutError
        | BotoConnectionError
        | ResponseParserError,  # an answer cut short, or an error page in its place
    ):
        return True
    code = error_code(exc)
    if code is None:
        return False
    if code in RETRYABLE_CODES:
        return True
    status = _status(exc)
    if status is not None and status >= 500:
        return True
    return eventual and code == "NoSuchEntity"


def call_with_retries(
    policy: RetryPolicy,
    fn: Callable[..., T],
    *args: Any,
    eventual: bool = False,
    on_retry: Callable[[BaseException, int], None] | None = None,
    **kwargs: Any,
) -> T:
    """Call ``fn(*args, **kwargs)``, retrying per *policy* while the error is retryable."""
    import tenacity  # here, not at import: it costs more than the rest of ``import groupify``

    eventual_left = [policy.eventual_attempts]

    def should_retry(state: tenacity.RetryCallState) -> bool:
        outcome = state.outcome
        if outcome is None or not outcome.failed:
            return False
        exc = outcome.exception()
        if exc is None or not is_retryable(exc, eventual=eventual):
            return False
        if error_code(exc) == "NoSuchEntity":
            eventual_left[0] -= 1
            return eventual_left[0] > 0
        return True

    def before_sleep(state: tenacity.RetryCallState) -> None:
        if state.outcome is None:
            return
        exc = state.outcome.exception()
        if exc is None:
            return
        wait_s = state.next_action.sleep if state.next_action is not None else 0.0
        # Quiet for the first retries (throttling is routine); a warning after that, so
        # that nothing is silent for long against a failing endpoint.
        level = logging.INFO if state.attempt_number < 3 else logging.WARNING
        _log.log(
            level,
            "%s: %s; retry %d of %d in %.1fs",
            getattr(fn, "__name__", "call"),
            error_code(exc) or type(exc).__name__,
            state.attempt_number,
            policy.attempts - 1,
            wait_s,
        )
        if on_retry is not None:
            on_retry(exc, state.attempt_number)

    wait: Any = tenacity.wait_exponential(
        multiplier=policy.wait_initial, max=policy.wait_max
    ) + tenacity.wait_random(0, policy.wait_jitter)
    retrying = tenacity.Retrying(
        retry=should_retry,
        stop=tenacity.stop_after_attempt(policy.attempts)
        | tenacity.stop_after_delay(policy.timeout),
        wait=wait,
        sleep=_sleep if policy.wait_initial or policy.wait_jitter else _no_sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
    return retrying(fn, *args, **kwargs)


def _sleep(seconds: float) -> None:
    import time

    time.sleep(seconds)


def _no_sleep(seconds: float) -> None:
    return None


def client_config() -> Any:
    """A botocore ``Config`` with botocore's own retries off (groupify retries instead)."""
    from botocore.config import Config

    # A dead endpoint fails within seconds, not botocore's minute a try; a page of
    # GetAccountAuthorizationDetails can take a while, so reads get longer.
    return Config(
        retries={"total_max_attempts": 1, "mode": "standard"},
        connect_timeout=10,
        read_timeout=60,
    )
