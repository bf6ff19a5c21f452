"""The fault-injecting proxy: what each fault does upstream and what boto3 makes of it."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from botocore.parsers import ResponseParserError

from groupify.aws import client_config
from groupify.aws.errors import answer_lost, error_code
from tests import awsmoto
from tests.faultproxy import FAULTS, FaultProxy, Schedule, operation
from tests.support import ACCOUNT, doc


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """One moto server on a free port for the module."""
    yield from awsmoto.serve()


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    awsmoto.fake_env(monkeypatch, tmp_path)


@pytest.fixture
def proxy(server: str) -> Iterator[FaultProxy]:
    """A pass-through proxy in front of the wiped server; give it a schedule with ``.decide``."""
    awsmoto.reset(server)
    with FaultProxy(server) as p:
        yield p
    assert not p.errors


def iam_of(p: FaultProxy, **config: Any) -> Any:
    if not config:
        return awsmoto.clients(p.url)[0]
    return awsmoto.session().client(
        "iam", endpoint_url=p.url, config=client_config().merge(Config(**config))
    )


def group_exists(name: str) -> bool:
    return name in awsmoto.backend().groups


# -- passing through --


def test_passes_requests_and_answers_through_on_one_kept_alive_connection(
    proxy: FaultProxy, server: str
) -> None:
    iam, sts = awsmoto.clients(proxy.url)
    iam.create_group(GroupName="g")
    iam.put_group_policy(GroupName="g", PolicyName="p", PolicyDocument=doc("s3:GetObject"))
    assert iam.get_group(GroupName="g")["Group"]["GroupName"] == "g"
    assert iam.list_group_policies(GroupName="g")["PolicyNames"] == ["p"]
    with pytest.raises(ClientError) as refused:  # moto's own errors come through as they are
        iam.get_group(GroupName="nope")
    assert error_code(refused.value) == "NoSuchEntity"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert sts.get_caller_identity()["Account"] == ACCOUNT
    assert [op for op, _ in proxy.log] == [
        "create_group",
        "put_group_policy",
        "get_group",
        "list_group_policies",
        "get_group",
        "get_caller_identity",
    ]
    assert proxy.injected == Counter()
    # one connection per client: keep-alive works through the proxy
    assert proxy.connections == 2


def test_names_the_operation_of_query_and_json_requests() -> None:
    form = b"Action=ListMFADevices&Version=2010-05-08"
    assert operation({}, "/", form) == "list_mfa_devices"
    assert operation({}, "/?Action=GetCallerIdentity&Version=2011-06-15", b"") == (
        "get_caller_identity"
    )
    target = {"X-Amz-Target": "AWSOrganizationsV20161128.ListAccountsForParent"}
    assert operation(target, "/", b"{}") == "list_accounts_for_parent"
    assert operation({}, "/moto-api/reset", b"") == ""


# -- each fault, as boto3 sees it --

EXPECTED: dict[str, tuple[type[Exception], bool, bool]] = {
    # fault: (what boto3 raises, the call was done upstream, answer_lost)
    "throttle": (ClientError, False, False),
    "error500": (ClientError, False, True),
    "reset": (ConnectionClosedError, False, True),
    "lose": (ConnectionClosedError, True, True),
    "lose500": (ClientError, True, True),
    "truncate": (ConnectionClosedError, True, True),
    "truncate_fin": (ResponseParserError, True, True),
    "stall": (ReadTimeoutError, True, True),
    "html500": (ResponseParserError, False, True),
}


def create_group_with(p: FaultProxy, fault: str) -> BaseException:
    p.decide = Schedule.script([("create_group", fault)])
    iam = iam_of(p, read_timeout=0.3) if fault == "stall" else iam_of(p)
    iam.list_groups()  # the faulty call goes on a kept-alive connection
    with pytest.raises(
        (ClientError, ConnectionClosedError, ResponseParserError, ReadTimeoutError)
    ) as caught:
        iam.create_group(GroupName="g")
    assert p.log == [("list_groups", None), ("create_group", fault)]
    assert p.injected == Counter({fault: 1})
    return caught.value


@pytest.mark.parametrize("fault", sorted(EXPECTED))
def test_a_fault_raises_what_the_network_would_and_is_done_or_not(
    proxy: FaultProxy, fault: str
) -> None:
    raised, done, _ = EXPECTED[fault]
    exc = create_group_with(proxy, fault)
    assert type(exc) is raised or (raised is ClientError and isinstance(exc, ClientError)), exc
    assert group_exists("g") is done
    if isinstance(exc, ClientError):
        code, status = {
            "throttle": ("Throttling", 400),
            "error500": ("ServiceFailure", 500),
            "lose500": ("ServiceFailure", 500),
        }[fault]
        assert error_code(exc) == code
        assert exc.response["ResponseMetadata"]["HTTPStatusCode"] == status


@pytest.mark.parametrize("fault", sorted(EXPECTED))
def test_answer_lost_tells_a_lost_answer_from_a_refusal(proxy: FaultProxy, fault: str) -> None:
    exc = create_group_with(proxy, fault)
    assert answer_lost(exc) is EXPECTED[fault][2], repr(exc)


def test_every_fault_kind_is_covered() -> None:
    assert set(EXPECTED) == FAULTS


def test_a_throttle_or_500_keeps_the_connection_a_reset_or_lost_answer_drops_it(
    proxy: FaultProxy,
) -> None:
    iam = iam_of(proxy)
    proxy.decide = Schedule.script(
        [("create_group", "throttle"), ("create_group", "error500"), ("create_group", "lose500")]
    )
    for _ in range(3):
        with pytest.raises(ClientError):
            iam.create_group(GroupName="kept")
    iam.get_group(GroupName="kept")  # lose500 did it
    assert proxy.connections == 1
    proxy.decide = Schedule.script(
        [("create_group", "reset"), ("create_group", "lose"), ("create_group", "truncate")]
    )
    for name in ("a", "b", "c"):
        with pytest.raises(ConnectionClosedError):
            iam.create_group(GroupName=name)
    iam.create_group(GroupName="a")  # it was reset, not done
    assert group_exists("b") and group_exists("c")
    assert proxy.connections == 4  # a new connection after each drop


def test_latency_holds_every_answer_throttles_too(server: str) -> None:
    """*latency* is a round trip: each request waits it, answered upstream or injected."""
    awsmoto.reset(server)
    with FaultProxy(server, Schedule.script([("list_groups", "throttle")]), latency=0.05) as p:
        iam = iam_of(p)
        began = time.monotonic()
        with pytest.raises(ClientError):
            iam.list_groups()
        iam.list_groups()
        assert time.monotonic() - began >= 0.1
        assert p.injected == Counter({"throttle": 1})


def test_a_closed_proxy_refuses_connections(server: str) -> None:
    awsmoto.reset(server)
    p = FaultProxy(server)
    iam = iam_of(p)
    iam.list_groups()
    p.close()
    with pytest.raises(EndpointConnectionError) as refused:
        iam.list_groups()
    assert answer_lost(refused.value) is False


def test_json_protocol_faults_answer_as_json_services(proxy: FaultProxy) -> None:
    org = awsmoto.session().client("organizations", endpoint_url=proxy.url, config=client_config())
    proxy.decide = Schedule.script(
        [("create_organization", "throttle"), ("create_organization", "error500")]
    )
    with pytest.raises(ClientError) as throttled:
        org.create_organization(FeatureSet="ALL")
    assert error_code(throttled.value) == "ThrottlingException"
    assert answer_lost(throttled.value) is False
    with pytest.raises(ClientError) as failed:
        org.create_organization(FeatureSet="ALL")
    assert error_code(failed.value) == "InternalFailure"
    assert answer_lost(failed.value) is True
    org.create_organization(FeatureSet="ALL")
    assert [f for _, f in proxy.log] == ["throttle", "error500", None]


# -- schedules --


def test_script_fires_each_pair_once_on_the_next_call_of_its_op(proxy: FaultProxy) -> None:
    iam = iam_of(proxy)
    schedule = Schedule.script([("create_group", "throttle"), ("delete_group", "lose")])
    proxy.decide = schedule
    iam.list_groups()
    with pytest.raises(ClientError):
        iam.create_group(GroupName="g")
    iam.create_group(GroupName="g")
    with pytest.raises(ConnectionClosedError):
        iam.delete_group(GroupName="g")
    assert not group_exists("g")
    assert schedule.pending == []
    assert schedule.fired == [("create_group", "throttle"), ("delete_group", "lose")]
    assert proxy.log == [
        ("list_groups", None),
        ("create_group", "throttle"),
        ("create_group", None),
        ("delete_group", "lose"),
    ]
    with pytest.raises(ValueError, match="unknown fault"):
        Schedule.script([("create_group", "explode")])


def test_sequence_gives_the_kth_mutating_call_the_kth_fault(proxy: FaultProxy) -> None:
    iam = iam_of(proxy)
    proxy.decide = Schedule.sequence([None, "throttle", "lose", "reset"])
    outcomes = []
    for i in range(6):
        iam.list_groups()
        try:
            iam.create_group(GroupName=f"g{i}")
            outcomes.append("ok")
        except Exception as exc:
            outcomes.append(type(exc).__name__)
    assert (
        outcomes
        == ["ok", "ClientError", "ConnectionClosedError", "ConnectionClosedError"] + ["ok"] * 2
    )
    assert [group_exists(f"g{i}") for i in range(6)] == [True, False, True, False, True, True]
    assert [f for op, f in proxy.log if op == "list_groups"] == [None] * 6
    assert proxy.injected == Counter({"throttle": 1, "lose": 1, "reset": 1})


def test_sequence_counts_only_its_ops() -> None:
    s = Schedule.sequence(["reset", "lose"], ops={"delete_group"})
    decisions = [s(op, n) for n, op in enumerate(["create_group", "delete_group"] * 3)]
    assert decisions == [None, "reset", None, "lose", None, None]
    assert s.seen == 3


def test_random_is_seeded_and_spares_reads() -> None:
    ops = ["create_group", "list_groups", "attach_group_policy", "get_group"] * 500

    def draw(seed: int, **rates: Any) -> list[str | None]:
        s = Schedule.random(seed, **rates)
        return [s(op, n) for n, op in enumerate(ops)]

    first = draw(7, throttle=0.2, lose=0.1, error500=0.05, reset=0.05)
    assert first == draw(7, throttle=0.2, lose=0.1, error500=0.05, reset=0.05)
    assert first != draw(8, throttle=0.2, lose=0.1, error500=0.05, reset=0.05)
    assert all(
        f is None for op, f in zip(ops, first, strict=True) if op.startswith(("get", "list"))
    )
    counts = Counter(first)
    assert 150 < counts["throttle"] < 250  # of 1000 mutating draws
    assert 60 < counts["lose"] < 140
    assert counts["error500"] and counts["reset"]
    everywhere = draw(7, throttle=0.5, lose=0.0, only_mutating=False)
    assert any(f for op, f in zip(ops, everywhere, strict=True) if op == "get_group")
    with pytest.raises(ValueError, match="more than 1"):
        Schedule.random(0, throttle=0.7, lose=0.5)


def test_a_bad_decision_passes_through_and_is_reported(server: str) -> None:
    awsmoto.reset(server)
    with FaultProxy(server, lambda op, n: "explode") as p:
        iam_of(p).create_group(GroupName="g")
    assert p.log == [("create_group", None)]
    assert p.errors and "explode" in p.errors[0]


# -- concurrency --


def test_is_thread_safe_under_random_faults(proxy: FaultProxy) -> None:
    iam = iam_of(proxy)  # shared by the workers, as groupify's executor does
    proxy.decide = Schedule.random(3, throttle=0.2, lose=0.1, error500=0.05, reset=0.05)
    raised: Counter[str] = Counter()
    lock = threading.Lock()

    awsmoto.backend().create_group("base", "/")

    def worker(w: int) -> None:
        for i in range(25):
            for mutate in (True, False):
                try:
                    if mutate:
                        iam.create_group(GroupName=f"w{w}-{i}")
                    else:  # not list_groups: moto lists a dict others may be adding to
                        iam.get_group(GroupName="base")
                    kind = "ok"
                except ClientError as exc:
                    kind = str(error_code(exc))
                except ConnectionClosedError:
                    kind = "closed"
                except Exception as exc:
                    kind = repr(exc)
                with lock:
                    raised[kind] += 1

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    injected = proxy.injected
    assert len(proxy.log) == 200 and sum(raised.values()) == 200
    assert sum(injected.values()) == sum(1 for _, f in proxy.log if f)
    assert all(f is None for op, f in proxy.log if op == "get_group")
    assert raised["Throttling"] == injected["throttle"]
    assert raised["ServiceFailure"] == injected["error500"]
    assert raised["closed"] == injected["lose"] + injected["reset"]
    assert raised["ok"] == 200 - sum(injected.values())
    created = sum(1 for op, f in proxy.log if op == "create_group" and f in (None, "lose"))
    assert len(awsmoto.backend().groups) == created + 1
    assert all(injected[k] for k in ("throttle", "lose", "error500", "reset"))


# -- the hook after each forwarded mutation --


def test_after_forward_sees_each_mutation_done_before_its_answer(proxy: FaultProxy) -> None:
    iam = iam_of(proxy)
    seen: list[tuple[str, bool]] = []
    proxy.after_forward = lambda op: seen.append((op, group_exists("g")))
    proxy.decide = Schedule.sequence(["throttle", "reset", "lose", "error500", "lose500", None])
    iam.list_groups()
    with pytest.raises(ClientError):
        iam.create_group(GroupName="g")  # throttled: never forwarded
    with pytest.raises(ConnectionClosedError):
        iam.create_group(GroupName="g")  # reset: never forwarded
    with pytest.raises(ConnectionClosedError):
        iam.create_group(GroupName="g")  # lost: done all the same
    with pytest.raises(ClientError):
        iam.delete_group(GroupName="g")  # error500: not forwarded
    with pytest.raises(ClientError):
        iam.delete_group(GroupName="g")  # lose500: done
    iam.create_group(GroupName="g")
    assert seen == [("create_group", True), ("delete_group", False), ("create_group", True)]


def test_after_forward_runs_the_access_watchdog_at_every_state(proxy: FaultProxy) -> None:
    setup = iam_of(proxy)
    arn = setup.create_policy(PolicyName="read", PolicyDocument=doc("s3:GetObject"))["Policy"][
        "Arn"
    ]
    setup.create_user(UserName="ana")
    setup.attach_user_policy(UserName="ana", PolicyArn=arn)
    watchdog = awsmoto.Watchdog()
    proxy.after_forward = watchdog.check
    proxy.decide = Schedule.script([("attach_group_policy", "lose")])
    iam = iam_of(proxy)
    iam.create_group(GroupName="readers")
    with pytest.raises(ConnectionClosedError):
        iam.attach_group_policy(GroupName="readers", PolicyArn=arn)
    iam.add_user_to_group(GroupName="readers", UserName="ana")
    iam.detach_user_policy(UserName="ana", PolicyArn=arn)  # still hers through the group
    assert watchdog.violations == []
    iam.remove_user_from_group(GroupName="readers", UserName="ana")  # now she lost it
    assert len(watchdog.violations) == 1
    assert watchdog.violations[0].startswith("after remove_user_from_group: ana had")


def test_after_forward_errors_are_kept_not_raised(server: str) -> None:
    awsmoto.reset(server)

    def fail(op: str) -> None:
        raise RuntimeError("boom")

    with FaultProxy(server, after_forward=fail) as p:
        iam_of(p).create_group(GroupName="g")
    assert group_exists("g")
    assert p.errors == ["after_forward('create_group') raised RuntimeError('boom')"]


def test_serialized_mutations_reach_the_hook_one_at_a_time(server: str) -> None:
    awsmoto.reset(server)
    active = [0, 0]  # now, most
    lock = threading.Lock()

    def hook(op: str) -> None:
        with lock:
            active[0] += 1
            active[1] = max(active)
        time.sleep(0.002)
        with lock:
            active[0] -= 1

    with FaultProxy(server, after_forward=hook, serialize_mutations=True) as p:
        iam = iam_of(p)
        threads = [
            threading.Thread(
                target=lambda w=w: [iam.create_group(GroupName=f"s{w}-{i}") for i in range(10)]
            )
            for w in range(4)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert active[1] == 1
    assert len(awsmoto.backend().groups) == 40
    assert p.connections > 1  # the calls did come concurrently
