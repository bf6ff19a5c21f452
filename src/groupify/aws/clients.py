"""boto3 sessions and clients, and counting the calls made through them."""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

from groupify.aws.retry import client_config

__all__ = ["CallCounter", "counted_clients", "make_clients", "session"]


def session(profile: str | None = None) -> Any:
    """A ``boto3.Session`` for *profile* (``None``: boto3's usual chain)."""
    import boto3

    return boto3.Session(profile_name=profile) if profile else boto3.Session()


def make_clients(session_: Any = None) -> tuple[Any, Any]:
    """IAM and STS clients from *session_* (default: boto3's standard configuration),
    with botocore's own retries off (groupify's :class:`~groupify.RetryPolicy` decides)."""
    made = session_ or session()
    return made.client("iam", config=client_config()), made.client("sts", config=client_config())


class CallCounter:
    """Counts API calls by boto3 operation name (``create_group``), thread-safe."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(self, model: Any = None, **_: Any) -> None:
        name = getattr(model, "name", None)
        if name:
            snake = "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")
            with self._lock:
                self.counts[snake] += 1


@contextlib.contextmanager
def counted_clients(
    session_: Any = None, iam: Any = None, sts: Any = None
) -> Iterator[tuple[Any, Any, CallCounter]]:
    """The clients given, or made from *session_*, with IAM calls counted while open."""
    if iam is None or sts is None:
        made_iam, made_sts = make_clients(session_)
        iam, sts = iam or made_iam, sts or made_sts
    counter = CallCounter()
    iam.meta.events.register("before-call.iam", counter)
    try:
        yield iam, sts, counter
    finally:
        iam.meta.events.unregister("before-call.iam", counter)
