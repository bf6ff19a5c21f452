"""Plan (and dry-run, or apply) many accounts of an Organization through assumed roles.

    python benchmarks/org_accounts.py [--accounts 1 10 50] [--users 200] [--latency 0.02]
                                      [--account-workers 1 8] [--apply]

A ThreadedMotoServer holds an Organization whose member accounts each get a
synthetic account of ``--users`` users (seeded once, before timing). Every
request then waits ``--latency`` seconds before it is sent (a botocore hook:
network latency, which the account pool can overlap; moto itself answers in
about 3 ms). For each account count and pool size, the table gives the wall
time of ``plan_accounts`` (assume the role, scan, propose, plan, write) and of
``apply_plans(dry_run=True)`` (assume, scan, reconcile, check), and the
speed-up of the pool over one account at a time, measured in the same run.

``--apply`` applies the plans for real instead of the dry run (each account count and
pool size on accounts of its own, seeded before timing), with the default retry policy
(real backoff) and ``--workers`` calls in flight an account, the per-account limit that
keeps within IAM's per-account rate limits; then verifies every account and prints the
accounts an hour (plan + apply) and the mutating calls made.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"

import boto3  # noqa: E402
from moto.server import ThreadedMotoServer  # noqa: E402

from groupify.aws import RetryPolicy  # noqa: E402
from groupify.cli.text import table  # noqa: E402
from groupify.org.accounts import Target  # noqa: E402
from groupify.org.runs import apply_plans, load_plans, plan_accounts, verify_plans  # noqa: E402
from groupify.testing import populate, synthetic_gaad  # noqa: E402

ROLE = "GroupifyMember"


def _session() -> boto3.Session:
    return boto3.Session(aws_access_key_id="b", aws_secret_access_key="b", region_name="us-east-1")


def _member_iam(url: str, account: str) -> Any:
    sts = _session().client("sts", endpoint_url=url)
    c = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/{ROLE}", RoleSessionName="seed")[
        "Credentials"
    ]
    return boto3.Session(
        aws_access_key_id=c["AccessKeyId"],
        aws_secret_access_key=c["SecretAccessKey"],
        aws_session_token=c["SessionToken"],
        region_name="us-east-1",
    ).client("iam", endpoint_url=url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.02, help="seconds per request")
    parser.add_argument("--account-workers", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--workers", type=int, default=4, help="calls in flight an account")
    parser.add_argument("--apply", action="store_true", help="apply for real, then verify")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    orgs = _session().client("organizations", endpoint_url=url)
    orgs.create_organization(FeatureSet="ALL")
    members = []
    began = time.monotonic()
    # Applying changes the accounts: each account count and pool size gets its own.
    needed = sum(args.accounts) * len(args.account_workers) if args.apply else max(args.accounts)
    for i in range(needed):
        status = orgs.create_account(Email=f"m{i}@example.com", AccountName=f"member-{i}")
        account = status["CreateAccountStatus"]["AccountId"]
        populate(
            _member_iam(url, account),
            synthetic_gaad(args.users, seed=i, account_id=account),
            workers=8,
        )
        members.append(account)
    print(
        f"seeded {len(members)} accounts of {args.users} users in "
        f"{time.monotonic() - began:.1f}s (not timed below)"
    )

    # Latency on every request from here on: a before-send sleep on every session's clients.
    real_init = boto3.Session.__init__

    def init(self: boto3.Session, *a: Any, **k: Any) -> None:
        real_init(self, *a, **k)
        self.events.register("before-send", lambda **_: time.sleep(args.latency))

    boto3.Session.__init__ = init  # type: ignore[method-assign]

    rows = []
    fresh = iter(members)
    with tempfile.TemporaryDirectory() as tmp:
        for count in args.accounts:
            times: dict[int, tuple[float, float]] = {}
            for workers in args.account_workers:
                chosen = [next(fresh) for _ in range(count)] if args.apply else members[:count]
                target = Target(
                    session=_session(),
                    role_name=ROLE,
                    endpoint_url=url,
                    # Applying: the default policy's real backoff; planning: no waits.
                    retry=RetryPolicy() if args.apply else RetryPolicy.no_wait(),
                )
                out_dir = Path(tmp) / f"{count}-{workers}"
                t0 = time.monotonic()
                planned = plan_accounts(
                    target, chosen, out_dir=out_dir, exclude_tags=[], workers=workers
                )
                t1 = time.monotonic()
                failed = [r for r in planned if not r.ok]
                if failed:
                    raise SystemExit(f"plan failed: {failed[0].account}: {failed[0].error}")
                paths = sorted(str(p) for p in out_dir.glob("*.json"))
                done = apply_plans(
                    target,
                    load_plans(paths),
                    dry_run=not args.apply,
                    workers=args.workers,
                    account_workers=workers,
                )
                t2 = time.monotonic()
                bad = [r for r in done if not r.ok]
                if bad:
                    raise SystemExit(f"apply failed: {bad[0].account}: {bad[0].error}")
                if args.apply:
                    checked = verify_plans(target, paths, account_workers=workers)
                    if any(not r.ok or not r.value.ok for r in checked):
                        raise SystemExit("verify failed after apply")
                times[workers] = (t1 - t0, t2 - t1)
                steps = sum(r.value["steps"] for r in planned)
                row = [count, workers, steps, f"{t1 - t0:.2f}", f"{t2 - t1:.2f}", "", ""]
                if args.apply:
                    row.append(f"{count / (t2 - t0) * 3600:.0f}")
                rows.append(row)
            base = times[args.account_workers[0]]
            for row in rows[-len(args.account_workers) :]:
                plan_s, dry_s = times[row[1]]
                row[5] = f"{base[0] / plan_s:.2f}x"
                row[6] = f"{base[1] / dry_s:.2f}x"
    print(f"\nlatency {args.latency * 1000:.0f} ms a request, {args.users} users an account\n")
    second = "apply" if args.apply else "dry-run"
    headers = ["accounts", "account workers", "steps", "plan s", f"{second} s"]
    headers += ["plan speed-up", f"{second} speed-up"]
    if args.apply:
        headers.append("accounts/hour")
    print(table(headers, rows))
    server.stop()


if __name__ == "__main__":
    main()
