"""What is retried, how often, and that tests never sleep."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError, ReadTimeoutError
from botocore.parsers import ResponseParserError

from groupify.aws.retry import RetryPolicy, call_with_retries, is_retryable


def client_error(code: str, status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "Op",
    )


@pytest.mark.parametrize(
    ("exc", "eventual", "expected"),
    [
        (client_error("Throttling"), False, True),
        (client_error("ServiceFailure", 500), False, True),
        (client_error("ConcurrentModification", 409), False, True),
        (client_error("AnythingElse", 503), False, True),
        (ConnectionClosedError(endpoint_url="http://x"), False, True),
        (ReadTimeoutError(endpoint_url="http://x"), False, True),
        (ResponseParserError("Unable to parse response: invalid XML"), False, True),
        (client_error("NoSuchEntity", 404), False, False),
        (client_error("NoSuchEntity", 404), True, True),
        (client_error("AccessDenied", 403), True, False),
        (client_error("LimitExceeded", 409), False, False),
        (ValueError("bug"), False, False),
    ],
)
def test_is_retryable(exc: BaseException, eventual: bool, expected: bool) -> None:
    """Throttling, 5xx, conflicts and connection errors retry; client errors do not."""
    assert is_retryable(exc, eventual=eventual) is expected


class Flaky:
    """Fails with the given errors, then returns 'ok'."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self, **kwargs: Any) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def test_retries_until_success_without_sleeping(monkeypatch: pytest.MonkeyPatch) -> None:
    """no_wait keeps the decisions and drops the sleeps."""
    import time

    monkeypatch.setattr(time, "sleep", lambda s: pytest.fail(f"slept {s}"))
    fn = Flaky(client_error("Throttling"), client_error("ServiceFailure", 500))
    assert call_with_retries(RetryPolicy.no_wait(), fn) == "ok"
    assert fn.calls == 3


def test_gives_up_after_attempts() -> None:
    """After the last attempt the last error is raised."""
    fn = Flaky(*[client_error("Throttling")] * 5)
    with pytest.raises(ClientError, match="Throttling"):
        call_with_retries(RetryPolicy.no_wait(attempts=3), fn)
    assert fn.calls == 3


def test_non_retryable_raises_at_once() -> None:
    """AccessDenied is not retried."""
    fn = Flaky(client_error("AccessDenied", 403))
    with pytest.raises(ClientError):
        call_with_retries(RetryPolicy.no_wait(), fn)
    assert fn.calls == 1


def test_no_such_entity_after_create_is_retried_a_bounded_number_of_times() -> None:
    """Eventual consistency gets eventual_attempts tries, not the full budget."""
    policy = RetryPolicy(
        attempts=20, wait_initial=0, wait_max=0, wait_jitter=0, eventual_attempts=3
    )
    fn = Flaky(*[client_error("NoSuchEntity", 404)] * 10)
    with pytest.raises(ClientError):
        call_with_retries(policy, fn, eventual=True)
    assert fn.calls == 3
    assert (
        call_with_retries(policy, Flaky(client_error("NoSuchEntity", 404)), eventual=True) == "ok"
    )


def test_waits_grow_and_are_bounded() -> None:
    """Real policies back off exponentially, capped at wait_max plus jitter."""
    slept: list[float] = []
    import groupify.aws.retry as retry

    original = retry._sleep
    retry._sleep = slept.append  # type: ignore[assignment]
    try:
        policy = RetryPolicy(attempts=6, wait_initial=0.1, wait_max=0.5, wait_jitter=0.01)
        call_with_retries(policy, Flaky(*[client_error("Throttling")] * 5))
    finally:
        retry._sleep = original  # type: ignore[assignment]
    assert len(slept) == 5
    assert slept[0] < slept[2]
    assert max(slept) <= 0.5 + 0.01
