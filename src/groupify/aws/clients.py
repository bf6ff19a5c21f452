"""boto3 sessions and clients, and counting the calls made through them."""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

from groupify.aws.retry import client_config
from groupify.errors import InputError

__all__ = ["DEFAULT_REGION", "CallCounter", "counted_clients", "make_clients", "session"]


#: IAM and STS are global: where no region is configured, this one is used.
DEFAULT_REGION = "us-east-1"


def session(profile: str | None = None, region: str | None = None) -> Any:
    """A ``boto3.Session`` for *profile* (``None``: boto3's usual chain) and *region*.

    An unknown profile is an :class:`~groupify.errors.InputError` naming the known ones.
    """
    import boto3
    from botocore.exceptions import ProfileNotFound

    try:
        return boto3.Session(profile_name=profile or None, region_name=region or None)
    except ProfileNotFound:
        known = boto3.Session().available_profiles
        shown = ", ".join(sorted(known)) if known else "none are configured"
        raise InputError(f"AWS profile {profile!r} not found (profiles: {shown})") from None


def make_clients(
    session_: Any = None, *, region: str | None = None, endpoint_url: str | None = None
) -> tuple[Any, Any]:
    """IAM and STS clients from *session_* (default: boto3's standard configuration),
    with botocore's own retries off (groupify's :class:`~groupify.RetryPolicy` decides).

    IAM and STS are global services: without a configured region, ``us-east-1``
    is used. *endpoint_url* (as the AWS CLI's ``--endpoint-url``) sends both to
    another endpoint; ``AWS_ENDPOINT_URL`` works too (botocore reads it).
    """
    made = session_ or session()
    where = {"region_name": region or made.region_name or DEFAULT_REGION}
    if endpoint_url:
        where["endpoint_url"] = endpoint_url
    return (
        made.client("iam", config=client_config(), **where),
        made.client("sts", config=client_config(), **where),
    )


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
