"""Apply a plan for a synthetic account against a moto server; print calls and times.

    python benchmarks/apply_plan.py [--users 1000] [--workers 1 8] [--throttle 0.2]

For each worker count, and then again with a share of requests throttled
(400 ``Throttling``, injected by a botocore before-send hook), the account is
loaded fresh into a ThreadedMotoServer, planned, and applied; the table gives
the plan's steps (the floor for mutating calls), the mutating and read calls
made, the injected errors, and wall time. Waits are those of
``RetryPolicy.no_wait`` (moto does not need real backoff, and the figures
compare call counts and groupify's own overhead); ``--settle 0``.
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import random
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import boto3  # noqa: E402
from botocore.awsrequest import AWSResponse  # noqa: E402
from moto.server import ThreadedMotoServer  # noqa: E402

import groupify  # noqa: E402
from groupify.aws import RetryPolicy, client_config  # noqa: E402
from groupify.cli.text import table  # noqa: E402
from groupify.runtime.forward import apply  # noqa: E402
from groupify.testing import populate, synthetic_gaad  # noqa: E402


class _Raw(io.BytesIO):
    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.getvalue()


class Throttle:
    """Throttle a share of requests with a valid IAM XML error body."""

    def __init__(self, rate: float, seed: int = 0) -> None:
        self.rate = rate
        self.random = random.Random(seed)
        self.count = 0
        self.lock = threading.Lock()

    def __call__(self, request: Any, **_: Any) -> AWSResponse | None:
        with self.lock:
            hit = self.random.random() < self.rate
            self.count += hit
        if not hit:
            return None
        body = (
            b'<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error>'
            b"<Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message>"
            b"</Error><RequestId>0</RequestId></ErrorResponse>"
        )
        return AWSResponse(request.url, 400, {"Content-Type": "text/xml"}, _Raw(body))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--throttle", type=float, default=0.2)
    parser.add_argument(
        "--latency",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="add this round-trip time to every request (moto answers in about a "
        "millisecond; IAM over the internet takes tens)",
    )
    args = parser.parse_args(argv)

    logging.disable(logging.CRITICAL)
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ[key] = "testing"
    os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    session = boto3.Session(region_name="us-east-1")
    gaad = synthetic_gaad(users=args.users, seed=1)
    rows = []
    try:
        for throttle in (0.0, args.throttle):
            for workers in args.workers:
                request = urllib.request.Request(f"{url}/moto-api/reset", method="POST")
                urllib.request.urlopen(request, timeout=60).close()
                iam = session.client("iam", endpoint_url=url, config=client_config())
                sts = session.client("sts", endpoint_url=url, config=client_config())
                t0 = time.perf_counter()
                populate(iam, gaad)
                load_s = time.perf_counter() - t0
                inventory = groupify.scan(iam=iam, sts=sts)
                plan = groupify.build_plan(groupify.propose(inventory, exclude_tags=["BreakGlass"]))
                faults = Throttle(throttle, seed=workers)
                if throttle:
                    iam.meta.events.register_first("before-send.iam", faults)
                if args.latency:
                    iam.meta.events.register_first(
                        "before-send.iam", lambda latency=args.latency, **_: time.sleep(latency)
                    )
                journal = Path(tempfile.mkdtemp()) / "journal"
                t0 = time.perf_counter()
                result = apply(
                    plan,
                    iam=iam,
                    sts=sts,
                    journal=journal,
                    workers=workers,
                    settle=0,
                    retry=RetryPolicy.no_wait(attempts=50),
                )
                seconds = time.perf_counter() - t0
                if not result.ok:
                    raise SystemExit(f"apply failed: {result.failed[:3]}")
                calls = Counter(dict(result.calls))
                rows.append(
                    [
                        f"{throttle:.0%}",
                        workers,
                        len(plan.steps),
                        result.mutating_calls,
                        result.read_calls,
                        faults.count,
                        f"{seconds:.1f}",
                        f"{load_s:.1f}",
                        calls["list_groups_for_user"],
                    ]
                )
                print(f"done: throttle {throttle:.0%}, workers {workers}", file=sys.stderr)
    finally:
        server.stop()
    print(
        f"apply of a {args.users}-user synthetic plan against a moto server (HTTP), "
        f"{args.latency * 1000:.0f} ms added latency\n"
    )
    print(
        table(
            [
                "throttled",
                "workers",
                "steps",
                "mutating",
                "reads",
                "injected",
                "apply s",
                "load s",
                "route reads",
            ],
            rows,
        )
    )
    print(
        "\nmutating counts calls made, retries included; the steps are the floor. "
        "reads include the bulk scan and the propagation checks (route reads: "
        "list_groups_for_user)."
    )


if __name__ == "__main__":
    main()
