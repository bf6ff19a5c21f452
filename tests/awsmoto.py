"""Helpers for tests against moto: a server, fault injection, and an access watchdog."""

from __future__ import annotations

import io
import os
import random
import threading
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ConnectionClosedError
from botocore.httpsession import URLLib3Session

from groupify import PolicyRef
from groupify.inventory.policy import canonical_document
from groupify.runtime.result import MUTATING_OPS
from tests.support import ACCOUNT, doc

REGION = "us-east-1"


def serve() -> Iterator[str]:
    """Run a moto server on a free port for as long as the generator lives; yield its URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def fake_env(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    *,
    drop: tuple[str, ...] = (),
    key: str = "testing",
) -> None:
    """Only fake credentials in the environment (boto3's and child processes'): no
    profile, no endpoint setting, no config or credentials file, nor variables
    starting with *drop*."""
    for name in list(os.environ):
        if name.startswith(("AWS_ENDPOINT_URL", "AWS_PROFILE", *drop)):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)


def reset(url: str) -> None:
    """Wipe the moto server's state."""
    request = urllib.request.Request(f"{url}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


_SESSION: list[boto3.Session] = []


def session() -> boto3.Session:
    """One session for the test run: making clients from it is cheap after the first."""
    if not _SESSION:
        _SESSION.append(
            boto3.Session(
                aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
            )
        )
    return _SESSION[0]


def clients(url: str) -> tuple[Any, Any]:
    """IAM and STS clients on the moto server, as groupify makes them (no botocore retries)."""
    from groupify.aws import client_config

    s = session()
    return (
        s.client("iam", endpoint_url=url, config=client_config()),
        s.client("sts", endpoint_url=url, config=client_config()),
    )


def apply_through(url: str, plan: Any, journal: Path, *hooks: Any, **kwargs: Any) -> Any:
    """``groupify.apply`` of *plan* (or a plan file) against *url*, each of *hooks*
    attached to its IAM client; no retry waits and no settle unless given."""
    from groupify.aws import RetryPolicy
    from groupify.runtime.forward import apply

    iam, sts = clients(url)
    for hook in hooks:
        hook.attach(iam)
    kwargs.setdefault("retry", RetryPolicy.no_wait(attempts=40))
    kwargs.setdefault("settle", 0)
    return apply(plan, iam=iam, sts=sts, journal=journal, **kwargs)


def small_account(iam: Any) -> None:
    """Eight users over customer policies and inline documents; an existing group; break-glass."""
    arns = {}
    for name, actions in {
        "s3-read": ["s3:Get*", "s3:List*"],
        "ec2-read": ["ec2:Describe*"],
        "deploy": ["ecs:UpdateService"],
        "billing": ["aws-portal:View*"],
        "admin": ["*"],
    }.items():
        arns[name] = iam.create_policy(PolicyName=name, PolicyDocument=(doc(*actions)))["Policy"][
            "Arn"
        ]
    iam.create_group(GroupName="readers")
    iam.attach_group_policy(GroupName="readers", PolicyArn=arns["s3-read"])
    iam.create_group(GroupName="billing")
    iam.attach_group_policy(GroupName="billing", PolicyArn=arns["billing"])
    athena = doc("athena:*")
    users: dict[str, dict[str, Any]] = {
        "ana": {"managed": ["s3-read", "ec2-read"], "inline": {"athena": athena}},
        "ben": {"managed": ["s3-read", "ec2-read"], "inline": {"athena-q": athena}},
        "cai": {"managed": ["s3-read", "ec2-read"], "inline": {"q": athena}},
        "dev": {"managed": ["deploy", "ec2-read"]},
        "eve": {"managed": ["deploy", "ec2-read"], "groups": ["readers"]},
        "fay": {"managed": ["billing"]},
        "gus": {"managed": ["s3-read"], "groups": ["readers"]},
        "root-bg": {"managed": ["admin"], "tags": [{"Key": "BreakGlass", "Value": "true"}]},
        "hal": {"groups": ["readers"]},
    }
    for user, spec in users.items():
        iam.create_user(UserName=user, Tags=spec.get("tags", []))
        for p in spec.get("managed", []):
            iam.attach_user_policy(UserName=user, PolicyArn=arns[p])
        for name, document in spec.get("inline", {}).items():
            iam.put_user_policy(UserName=user, PolicyName=name, PolicyDocument=document)
        for g in spec.get("groups", []):
            iam.add_user_to_group(GroupName=g, UserName=user)


# -- the state of the moto backend, read directly (the server runs in this process) --


def backend() -> Any:
    from moto.iam.models import iam_backends

    return iam_backends[ACCOUNT]["aws"]


def access_now() -> dict[str, frozenset[PolicyRef]]:
    """Every user's effective access on the moto server now.

    A policy under ``/groupify/`` stands for its default document, as groupify
    means it to.
    """
    for _ in range(20):
        try:
            return _access_now(backend())
        except RuntimeError:  # a dict changed size under a concurrent request
            continue
    return _access_now(backend())


def _access_now(b: Any) -> dict[str, frozenset[PolicyRef]]:
    def ref(arn: str) -> PolicyRef:
        policy = b.managed_policies.get(arn)
        if policy is not None and policy.path.startswith("/groupify/"):
            version = next(v for v in policy.versions if v.is_default)
            return PolicyRef("inline", canonical_document(version.document))
        return PolicyRef.managed(arn)

    out: dict[str, frozenset[PolicyRef]] = {}
    groups_of: dict[str, list[Any]] = {}
    for group in list(b.groups.values()):
        for user in list(group.users):
            groups_of.setdefault(user.name, []).append(group)
    for name, user in list(b.users.items()):
        refs = {ref(a) for a in list(user.managed_policies)}
        refs |= {PolicyRef.inline(d) for d in list(user.policies.values())}
        for group in groups_of.get(name, []):
            refs |= {ref(a) for a in list(group.managed_policies)}
            refs |= {PolicyRef.inline(d) for d in list(group.policies.values())}
        out[name] = frozenset(refs)
    return out


def state_now() -> dict[str, Any]:
    """Users, groups and customer policies on the server, for exact comparisons."""
    b = backend()
    return {
        "users": {
            n: (
                sorted(u.managed_policies),
                sorted((k, canonical_document(v)) for k, v in u.policies.items()),
            )
            for n, u in b.users.items()
        },
        "groups": {
            n: (
                sorted(g.managed_policies),
                sorted(g.policies),
                sorted(u.name for u in g.users),
            )
            for n, g in b.groups.items()
        },
        "policies": sorted(a for a in b.managed_policies if ":aws:policy/" not in a),
    }


class Watchdog:
    """Checks after every mutating call that no user has more or less access than before."""

    def __init__(self) -> None:
        self.baseline = access_now()
        self.mutations: list[tuple[str, dict[str, Any]]] = []
        self.violations: list[str] = []
        #: The violations in which a user had less access (not only more).
        self.losses: list[str] = []
        self._lock = threading.Lock()

    def check(self, label: str) -> None:
        now = access_now()
        for user, before in self.baseline.items():
            after = now.get(user)
            if after != before:
                self.violations.append(f"after {label}: {user} had {before}, now {after}")
                if after is None or not before <= after:
                    self.losses.append(self.violations[-1])

    def after_call(self, model: Any = None, http_response: Any = None, **_: Any) -> None:
        op = _snake(model.name)
        if op in MUTATING_OPS:
            with self._lock:
                self.mutations.append((op, {}))
                self.check(op)

    def attach(self, iam: Any) -> None:
        iam.meta.events.register("after-call.iam", self.after_call)


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


class _Raw(io.BytesIO):
    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.getvalue()


def _error(code: str, status: int) -> AWSResponse:
    body = (
        '<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">'
        f"<Error><Type>{'Receiver' if status >= 500 else 'Sender'}</Type><Code>{code}</Code>"
        f"<Message>injected {code}</Message></Error>"
        "<RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>"
    ).encode()
    return AWSResponse(
        "https://iam.amazonaws.com/", status, {"Content-Type": "text/xml"}, _Raw(body)
    )


class Faults:
    """A botocore before-send hook that fails a share of requests as IAM or a network would.

    Each request is, by a seeded draw: throttled (400 ``Throttling``), failed
    by the service (500 ``ServiceFailure``), dropped before it is sent, or sent
    and its response lost (the server applied the call; the client saw a
    closed connection): the case that needs idempotent steps.
    """

    def __init__(
        self,
        *,
        throttle: float = 0.2,
        server_error: float = 0.05,
        drop: float = 0.03,
        lose_response: float = 0.03,
        seed: int = 0,
        watchdog: Watchdog | None = None,
    ) -> None:
        self.rates = (throttle, server_error, drop, lose_response)
        self.random = random.Random(seed)
        self.injected: Counter[str] = Counter()
        self.watchdog = watchdog
        self._http = URLLib3Session()
        self._lock = threading.Lock()

    def __call__(self, request: Any, **_: Any) -> AWSResponse | None:
        body = request.body.decode() if isinstance(request.body, bytes) else request.body or ""
        action = urllib.parse.parse_qs(body).get("Action", [""])[0]
        with self._lock:
            draw = self.random.random()
        throttle, server_error, drop, lose = self.rates
        if draw < throttle:
            self.injected["Throttling"] += 1
            return _error("Throttling", 400)
        draw -= throttle
        if draw < server_error:
            self.injected["ServiceFailure"] += 1
            return _error("ServiceFailure", 500)
        draw -= server_error
        if draw < drop:
            self.injected["dropped"] += 1
            raise ConnectionClosedError(endpoint_url=request.url)
        draw -= drop
        if draw < lose and _snake(action) in MUTATING_OPS:
            self.injected["response lost"] += 1
            self._http.send(request)
            if self.watchdog is not None:
                self.watchdog.check(f"{action} (response lost)")
            raise ConnectionClosedError(endpoint_url=request.url)
        return None

    def attach(self, client: Any) -> None:
        client.meta.events.register_first(
            f"before-send.{client.meta.service_model.service_name}", self
        )


class Script:
    """A before-send hook that injects chosen faults, in order: ``(op, fault)`` pairs.

    *fault* is an error code (answered as IAM would, 404 for ``NoSuchEntity``,
    400 otherwise), ``"lose"`` (the call is sent and applied, its answer
    lost) or ``"drop"`` (never sent). Each pair fires once, on the next call of *op*.
    """

    def __init__(self, *faults: tuple[str, str]) -> None:
        self.pending = list(faults)
        self.fired: list[tuple[str, str]] = []
        self._http = URLLib3Session()
        self._lock = threading.Lock()

    def __call__(self, request: Any, **_: Any) -> AWSResponse | None:
        body = request.body.decode() if isinstance(request.body, bytes) else request.body or ""
        op = _snake(urllib.parse.parse_qs(body).get("Action", [""])[0])
        with self._lock:
            chosen = next((f for f in self.pending if f[0] == op), None)
            if chosen is None:
                return None
            self.pending.remove(chosen)
            self.fired.append(chosen)
        fault = chosen[1]
        if fault == "lose":
            self._http.send(request)
            raise ConnectionClosedError(endpoint_url=request.url)
        if fault == "drop":
            raise ConnectionClosedError(endpoint_url=request.url)
        return _error(fault, 404 if fault == "NoSuchEntity" else 400)

    def attach(self, client: Any) -> None:
        client.meta.events.register_first(
            f"before-send.{client.meta.service_model.service_name}", self
        )


class Crash(BaseException):
    """Stands for the process dying (kill -9) at a chosen call."""


class Crasher:
    """Raises :class:`Crash` at the n-th mutating call, before it is sent or after it is applied."""

    def __init__(self, at: int, *, after: bool) -> None:
        self.at = at
        self.after = after
        self.seen = 0

    def before(self, model: Any = None, **_: Any) -> None:
        if _snake(model.name) in MUTATING_OPS and not self.after:
            if self.seen == self.at:
                raise Crash(f"before call {self.at}")
            self.seen += 1

    def after_call(self, model: Any = None, **_: Any) -> None:
        if _snake(model.name) in MUTATING_OPS and self.after:
            if self.seen == self.at:
                raise Crash(f"after call {self.at}")
            self.seen += 1

    def attach(self, iam: Any) -> None:
        iam.meta.events.register("before-call.iam", self.before)
        iam.meta.events.register("after-call.iam", self.after_call)


class CallLog:
    """Counts calls by operation."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def __call__(self, model: Any = None, **_: Any) -> None:
        self.calls[_snake(model.name)] += 1

    @property
    def mutating(self) -> int:
        return sum(n for op, n in self.calls.items() if op in MUTATING_OPS)

    def attach(self, iam: Any) -> None:
        iam.meta.events.register("before-call.iam", self)
