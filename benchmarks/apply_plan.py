"""Apply a synthetic plan through a fault-injecting proxy in front of a moto server.

    python benchmarks/apply_plan.py [--users 5000] [--workers 8] [--throttle 0.2]
        [--latency 0.02] [--wait-initial 0.05] [--jitter 0.05] [--profile]

The moto server and the proxy (``tests/faultproxy.py``) each run in a process of
their own, so that this process's CPU time is groupify's (and botocore's) alone.
For the fault-free run and then with ``--throttle`` of all requests answered
``400 Throttling`` at the wire, the account is loaded fresh into the server,
planned, and applied through the proxy, which holds every answer ``--latency``
seconds (a round trip to IAM). Retries are the real :class:`~groupify.RetryPolicy`
with its backoff, from a base of ``--wait-initial`` seconds and up to ``--jitter``
seconds of jitter (the defaults are 0.2 and 1.0; shorter here, to match the
shorter round trip). ``--settle 0``.

The table gives the plan's steps (the floor for mutating calls), the mutating and
read calls made (the read of the account under the lock included), calls per step,
the faults injected, wall time, this process's CPU time and its share of the wall
time, the server's CPU time, and the wall time against the fault-free run.
``--profile`` profiles every thread of the fault-free apply (cProfile) and prints
where this process's CPU time goes, by package.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import logging
import os
import pstats
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402

import groupify  # noqa: E402
from groupify.aws import RetryPolicy, client_config  # noqa: E402
from groupify.cli.text import table  # noqa: E402
from groupify.runtime.executor import ROUTE_AGE  # noqa: E402
from groupify.runtime.forward import apply  # noqa: E402
from groupify.testing import populate, synthetic_gaad  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu(pid: int) -> float:
    """User and system CPU seconds of process *pid* so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait_up(url: str) -> None:
    for _ in range(200):
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"no server at {url}")


def serve_proxy(upstream: str, throttle: float, latency: float, seed: int) -> None:
    """The proxy process: print its URL; on each line of stdin print what it injected."""
    from tests.faultproxy import FaultProxy, Schedule

    schedule = Schedule.random(seed, throttle=throttle, lose=0.0, only_mutating=False)
    with FaultProxy(upstream, schedule, latency=latency) as proxy:
        print(proxy.url, flush=True)
        for _ in sys.stdin:
            print(json.dumps({"requests": len(proxy.log), **proxy.injected}), flush=True)


class Proxy:
    """The proxy in a process of its own."""

    def __init__(self, upstream: str, throttle: float, latency: float, seed: int) -> None:
        command = [sys.executable, __file__, "--serve-proxy", upstream]
        self.proc = subprocess.Popen(
            [*command, str(throttle), str(latency), str(seed)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None and self.proc.stdin is not None
        self.url = self.proc.stdout.readline().strip()

    def stats(self) -> dict[str, int]:
        assert self.proc.stdout is not None and self.proc.stdin is not None
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        return dict(json.loads(self.proc.stdout.readline()))

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


class ThreadProfile:
    """cProfile in every thread started while it is on (and in this one)."""

    def __init__(self) -> None:
        self.profiles: list[cProfile.Profile] = []
        self.lock = threading.Lock()

    def _start(self, *_: Any) -> None:
        profile = cProfile.Profile(time.thread_time)  # CPU time: a blocked thread costs none
        with self.lock:
            self.profiles.append(profile)
        profile.enable()

    def __enter__(self) -> ThreadProfile:
        threading.setprofile(self._start)
        self._start()
        return self

    def __exit__(self, *_: Any) -> None:
        threading.setprofile(None)  # type: ignore[arg-type]
        for p in self.profiles:
            p.disable()

    def by_package(self) -> list[tuple[str, float]]:
        """Own (not cumulative) CPU time by where the code lives."""
        stats = pstats.Stats(self.profiles[0])
        for p in self.profiles[1:]:
            stats.add(p)
        if os.environ.get("APPLY_PROFILE_DUMP"):
            stats.dump_stats(os.environ["APPLY_PROFILE_DUMP"])
        out: Counter[str] = Counter()
        for (path, _, name), row in stats.stats.items():  # type: ignore[attr-defined]
            out[_package(path, name)] += row[2]
        return out.most_common()


def _package(path: str, name: str) -> str:
    if "/groupify/" in path:
        part = path.split("/groupify/", 1)[1].split("/")[0]
        return f"groupify ({part.removesuffix('.py')})"
    for lib in ("botocore", "urllib3", "boto3", "tenacity", "dateutil", "jmespath"):
        if f"/{lib}/" in path:
            return lib
    if path == "~":
        return "builtin " + name.strip("<>").replace("built-in method ", "")[:40]
    return "stdlib " + Path(path).stem


def run(
    url: str,
    server_pid: int,
    args: argparse.Namespace,
    throttle: float,
    profile: bool,
) -> tuple[list[Any], float, list[tuple[str, float]]]:
    request = urllib.request.Request(f"{url}/moto-api/reset", method="POST")
    urllib.request.urlopen(request, timeout=60).close()
    session = boto3.Session(region_name="us-east-1")
    iam = session.client("iam", endpoint_url=url, config=client_config())
    sts = session.client("sts", endpoint_url=url, config=client_config())
    t0 = time.perf_counter()
    populate(iam, synthetic_gaad(users=args.users, seed=1), workers=8)
    print(f"  loaded in {time.perf_counter() - t0:.0f}s", file=sys.stderr)
    plan = groupify.build_plan(
        groupify.propose(groupify.scan(iam=iam, sts=sts), exclude_tags=["BreakGlass"])
    )
    proxy = Proxy(url, throttle, args.latency, seed=args.workers)
    try:
        piam = session.client("iam", endpoint_url=proxy.url, config=client_config())
        psts = session.client("sts", endpoint_url=proxy.url, config=client_config())
        retry = RetryPolicy(
            attempts=50, wait_initial=args.wait_initial, wait_max=5.0, wait_jitter=args.jitter
        )
        journal = Path(tempfile.mkdtemp()) / "journal"
        before = proxy.stats()
        cpu0, server0, t0 = time.process_time(), _cpu(server_pid), time.perf_counter()
        tracer = ThreadProfile() if profile else None
        if tracer is not None:
            tracer.__enter__()
        try:
            result = apply(
                plan,
                iam=piam,
                sts=psts,
                journal=journal,
                workers=args.workers,
                settle=0,
                retry=retry,
                route_age=args.route_age,
            )
        finally:
            if tracer is not None:
                tracer.__exit__()
        wall = time.perf_counter() - t0
        cpu, server = time.process_time() - cpu0, _cpu(server_pid) - server0
        after = proxy.stats()
    finally:
        proxy.close()
    if not result.ok:
        raise SystemExit(f"apply failed: {result.failed[:3]}")
    calls = Counter(dict(result.calls))
    steps = len(plan.steps)
    row = [
        f"{throttle:.0%}",
        args.workers,
        steps,
        result.mutating_calls,
        result.read_calls,
        f"{(result.mutating_calls + result.read_calls) / steps:.3f}",
        after.get("throttle", 0) - before.get("throttle", 0),
        f"{wall:.1f}",
        f"{cpu:.1f}",
        f"{cpu / wall:.0%}",
        f"{server:.1f}",
        calls["list_groups_for_user"],
        calls["get_account_authorization_details"],
    ]
    return row, wall, tracer.by_package() if tracer is not None else []


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--serve-proxy"]:
        serve_proxy(argv[1], float(argv[2]), float(argv[3]), int(argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--throttle", type=float, default=0.2)
    parser.add_argument("--latency", type=float, default=0.02, metavar="SECONDS")
    parser.add_argument("--wait-initial", type=float, default=0.05, metavar="SECONDS")
    parser.add_argument("--jitter", type=float, default=0.05, metavar="SECONDS")
    parser.add_argument(
        "--route-age",
        type=float,
        default=ROUTE_AGE,
        metavar="SECONDS",
        help="how old the read showing a route may be when its direct policy goes",
    )
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args(argv)

    logging.disable(logging.CRITICAL)
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ[key] = "testing"
    os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env={**os.environ, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    rows, profile = [], []
    try:
        _wait_up(url)
        clean = None
        for throttle in dict.fromkeys((0.0, args.throttle)):
            print(f"throttle {throttle:.0%}:", file=sys.stderr)
            row, wall, prof = run(url, server.pid, args, throttle, args.profile and not throttle)
            clean = clean or wall
            rows.append([*row, f"{wall / clean:.2f}x"])
            profile = profile or prof
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(
        f"apply of a {args.users}-user synthetic plan through the fault proxy to a moto "
        f"server (separate processes), {args.latency * 1000:.0f} ms a round trip, "
        f"backoff from {args.wait_initial:g} s with {args.jitter:g} s jitter\n"
    )
    print(
        table(
            [
                "throttled",
                "workers",
                "steps",
                "mutating",
                "reads",
                "calls/step",
                "injected",
                "wall s",
                "cpu s",
                "cpu share",
                "server cpu s",
                "route reads",
                "GAAD",
                "ratio",
            ],
            rows,
        )
    )
    print(
        "\nmutating and reads count calls made, retries included (the steps are the floor); "
        "cpu is this process (groupify, botocore, urllib3); route reads are "
        "ListGroupsForUser, GAAD the reads of every user (under the lock, and in bulk)."
    )
    if profile:
        total = sum(t for _, t in profile)
        print("\nfault-free apply, CPU time of every thread by package (cProfile, so inflated):")
        print(
            table(
                ["where", "s", "share"],
                [[k, f"{t:.1f}", f"{t / total:.0%}"] for k, t in profile[:16]],
            )
        )


if __name__ == "__main__":
    main()
