"""boto3 sessions and clients, and counting the calls made through them."""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

from groupify.aws.retry import client_config
from groupify.errors import InputError

__all__ = [
    "DEFAULT_REGION",
    "CallCounter",
    "assumed_session",
    "counted_clients",
    "make_clients",
    "service_client",
    "session",
]


#: IAM and STS are global: where no region is configured, this one is used.
DEFAULT_REGION = "us-east-1"


def session(profile: str | None = None, region: str | None = None) -> Any:
    """A ``boto3.Session`` for *profile* (``None``: boto3's usual chain) and *region*.

    An unknown profile (given, or in ``AWS_PROFILE``) or an AWS config file that
    does not parse is an :class:`~groupify.errors.InputError`, one line.
    """
    import os

    import boto3
    from botocore.exceptions import BotoCoreError, ProfileNotFound

    try:
        return boto3.Session(profile_name=profile or None, region_name=region or None)
    except ProfileNotFound:
        wanted = profile or os.environ.get("AWS_PROFILE") or os.environ.get("AWS_DEFAULT_PROFILE")
        raise InputError(f"AWS profile {wanted!r} not found (profiles: {_profiles()})") from None
    except BotoCoreError as exc:  # a config file that does not parse, say
        raise InputError(f"AWS configuration: {exc}") from None


def _profiles() -> str:
    """The profiles the AWS config and credentials files define (read without resolving one)."""
    try:
        import botocore.session

        known = sorted(botocore.session.Session().full_config.get("profiles", {}))
    except Exception:  # the files themselves may be what is wrong
        return "could not be read"
    return ", ".join(known) if known else "none are configured"


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


def service_client(
    session_: Any, service: str, *, region: str | None = None, endpoint_url: str | None = None
) -> Any:
    """A client for *service* (``organizations``, ``securityhub``, …), groupify's way:
    botocore's retries off, the region defaulted, the endpoint as given."""
    made = session_ or session()
    where: dict[str, Any] = {"region_name": region or made.region_name or DEFAULT_REGION}
    if endpoint_url:
        where["endpoint_url"] = endpoint_url
    return made.client(service, config=client_config(), **where)


def assumed_session(
    sts: Any,
    role_arn: str,
    *,
    session_name: str,
    external_id: str | None = None,
    region: str | None = None,
    retry: Any = None,
) -> Any:
    """A ``boto3.Session`` with the credentials of *role_arn*, assumed through *sts*.

    *session_name* shows in the member account's CloudTrail (who did this);
    *external_id* is passed where the role's trust policy asks for one.
    """
    import boto3

    from groupify.aws.calls import call
    from groupify.aws.retry import RetryPolicy

    params: dict[str, Any] = {"RoleArn": role_arn, "RoleSessionName": session_name[:64]}
    if external_id:
        params["ExternalId"] = external_id
    answer = call(retry or RetryPolicy(), sts, "assume_role", **params)
    creds = answer["Credentials"]
    return boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=region or sts.meta.region_name or DEFAULT_REGION,
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
