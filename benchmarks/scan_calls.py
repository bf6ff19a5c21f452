"""How many IAM calls does reading an account take: groupify.scan against a naive scan.

A moto server (``ThreadedMotoServer``, in this process) is filled with
``groupify.testing.synth.synthetic_gaad(users=N)``; then every API call made by

* ``groupify.scan(session)``: GetCallerIdentity, GetAccountSummary and the
  paginated GetAccountAuthorizationDetails, and
* a naive scan that walks the users one by one, in two variants:
  ``naive-minimal`` (ListUsers, then per user ListAttachedUserPolicies,
  ListUserPolicies and GetUserPolicy per inline policy) and ``naive-full``
  (also ListGroupsForUser and ListUserTags per user, every group's policies,
  and each customer-managed policy's default version: what the scan reads)

is counted with a botocore ``before-call`` hook, per operation.

moto never pages GetAccountAuthorizationDetails or ListUsers, so the page
counts real IAM would need are printed separately, as estimates.
The server shares this process (and its GIL) with the client: the seconds
compare the approaches with each other, not with real IAM's latency.

Run: ``.venv/bin/python benchmarks/scan_calls.py [--users 5000] [--setup http]``
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

import groupify
from groupify.cli.text import table
from groupify.inventory.account import GAAD_FILTER
from groupify.inventory.policy import canonical_document
from groupify.testing import populate, synthetic_gaad

REGION = "us-east-1"
#: IAM's documented default page size (MaxItems) for the List* and GAAD calls.
DEFAULT_MAX_ITEMS = 100
#: The largest MaxItems IAM accepts.
LARGEST_MAX_ITEMS = 1000

Json = dict[str, Any]


# -- the moto server ------------------------------------------------------------------


def _post(url: str) -> None:
    request = urllib.request.Request(url, data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=30):
        pass


def start_server() -> tuple[ThreadedMotoServer, str]:
    # AWS-managed policies must exist to be attached. moto loads them when
    # it creates the IAM backend if this is set (/moto-api/config has no iam key).
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one log line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    _post(f"{url}/moto-api/reset")
    return server, url


# -- filling the account ------------------------------------------------------------------


def _document(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _default_versions(policy: Json) -> list[tuple[Json, bool]]:
    """A customer policy's versions in creation order, and which is the default."""
    default = policy.get("DefaultVersionId")
    versions = sorted(policy.get("PolicyVersionList", []), key=lambda v: int(v["VersionId"][1:]))
    return [(v, v.get("IsDefaultVersion") or v["VersionId"] == default) for v in versions]


def populate_http(gaad: Json, url: str, workers: int) -> None:
    """Create everything in *gaad* with boto3 calls to the server (users in a thread pool)."""
    iam = boto3.Session(region_name=REGION).client("iam", endpoint_url=url)
    populate(iam, gaad, workers=workers)


def populate_backend(gaad: Json, account_id: str) -> None:
    """Create everything in *gaad* straight in moto's in-process IAM backend (no HTTP).

    moto's backend API is internal: this follows moto 5.2. Permissions
    boundaries are left out (moto's GAAD does not return them anyway).
    """
    from moto.iam.models import iam_backends

    backend = iam_backends[account_id]["aws"]
    for policy in gaad["Policies"]:
        if ":aws:policy/" in policy["Arn"]:
            continue
        versions = _default_versions(policy)
        first, _ = versions[0]
        created = backend.create_policy(
            description="",
            path=policy.get("Path", "/"),
            policy_document=_document(first["Document"]),
            policy_name=policy["PolicyName"],
            tags=[],
        )
        for version, _ in versions[1:]:
            backend.create_policy_version(created.arn, _document(version["Document"]), True)
        default = next(v["VersionId"] for v, d in versions if d)
        backend.set_default_policy_version(created.arn, default)
    for group in gaad["GroupDetailList"]:
        name = group["GroupName"]
        backend.create_group(name, group.get("Path", "/"))
        for attached in group.get("AttachedManagedPolicies", []):
            backend.attach_group_policy(attached["PolicyArn"], name)
        for inline in group.get("GroupPolicyList", []):
            backend.put_group_policy(
                name, inline["PolicyName"], _document(inline["PolicyDocument"])
            )
    for user in gaad["UserDetailList"]:
        name = user["UserName"]
        backend.create_user(REGION, name, user.get("Path", "/"), user.get("Tags") or None)
        for attached in user.get("AttachedManagedPolicies", []):
            backend.attach_user_policy(attached["PolicyArn"], name)
        for inline in user.get("UserPolicyList", []):
            backend.put_user_policy(name, inline["PolicyName"], _document(inline["PolicyDocument"]))
        for group in user.get("GroupList", []):
            backend.add_user_to_group(group, name)


# -- counting calls ------------------------------------------------------------------------


def counted_session() -> tuple[boto3.Session, Counter[str]]:
    """A session whose clients count each API call they make, by operation."""
    session = boto3.Session(region_name=REGION)
    calls: Counter[str] = Counter()

    def count(model: Any, **_: Any) -> None:
        calls[model.name] += 1

    session.events.register("before-call", count)
    return session, calls


def _paged(client: Any, operation: str, key: str, **kwargs: Any) -> Iterator[Any]:
    for page in client.get_paginator(operation).paginate(**kwargs):
        yield from page[key]


def naive_scan(session: boto3.Session, *, full: bool) -> Json:
    """Read the account one user at a time, the way a first script would."""
    iam = session.client("iam")
    users: Json = {}
    for user in _paged(iam, "list_users", "Users"):
        name = user["UserName"]
        entry: Json = {
            "managed": sorted(
                p["PolicyArn"]
                for p in _paged(
                    iam, "list_attached_user_policies", "AttachedPolicies", UserName=name
                )
            ),
            "inline": {
                policy: canonical_document(
                    iam.get_user_policy(UserName=name, PolicyName=policy)["PolicyDocument"]
                )
                for policy in _paged(iam, "list_user_policies", "PolicyNames", UserName=name)
            },
        }
        if full:
            entry["groups"] = sorted(
                g["GroupName"] for g in _paged(iam, "list_groups_for_user", "Groups", UserName=name)
            )
            entry["tags"] = sorted(
                (t["Key"], t["Value"]) for t in _paged(iam, "list_user_tags", "Tags", UserName=name)
            )
        users[name] = entry
    if not full:
        return {"users": users}

    session.client("sts").get_caller_identity()
    iam.get_account_summary()
    groups: Json = {}
    for group in _paged(iam, "list_groups", "Groups"):
        name = group["GroupName"]
        groups[name] = {
            "managed": sorted(
                p["PolicyArn"]
                for p in _paged(
                    iam, "list_attached_group_policies", "AttachedPolicies", GroupName=name
                )
            ),
            "inline": {
                policy: canonical_document(
                    iam.get_group_policy(GroupName=name, PolicyName=policy)["PolicyDocument"]
                )
                for policy in _paged(iam, "list_group_policies", "PolicyNames", GroupName=name)
            },
        }
    policies = {
        p["Arn"]: canonical_document(
            iam.get_policy_version(PolicyArn=p["Arn"], VersionId=p["DefaultVersionId"])[
                "PolicyVersion"
            ]["Document"]
        )
        for p in _paged(iam, "list_policies", "Policies", Scope="Local")
    }
    return {"users": users, "groups": groups, "policies": policies}


def agrees(inventory: groupify.Inventory, naive: Json) -> bool:
    """Whether the naive full scan read what groupify.scan read."""
    users = {
        u.name: {
            "managed": list(u.managed),
            "inline": {p.name: p.document for p in u.inline},
            "groups": list(u.groups),
            "tags": list(u.tags),
        }
        for u in inventory.users
    }
    groups = {
        g.name: {"managed": list(g.managed), "inline": {p.name: p.document for p in g.inline}}
        for g in inventory.groups
    }
    policies = {p.arn: p.document for p in inventory.policies}
    return (users, groups, policies) == (naive["users"], naive["groups"], naive["policies"])


def matches_synth(inventory: groupify.Inventory, gaad: Json) -> bool:
    """Whether the server holds the synthetic account (ids and boundaries aside)."""
    expected = groupify.parse_gaad([gaad])

    def view(inv: groupify.Inventory) -> Any:
        return (
            [(u.name, u.path, u.tags, u.groups, u.managed, u.inline) for u in inv.users],
            [(g.name, g.path, g.managed, g.inline) for g in inv.groups],
            [(p.arn, p.document) for p in inv.policies],
        )

    return view(inventory) == view(expected)


# -- report --------------------------------------------------------------------------------


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=5000, help="IAM users (default 5000)")
    parser.add_argument("--seed", type=int, default=0, help="synthetic account seed")
    parser.add_argument(
        "--setup",
        choices=["backend", "http"],
        default="backend",
        help="fill moto in-process through its backend (fast), or with boto3 over HTTP",
    )
    parser.add_argument("--workers", type=int, default=8, help="threads for --setup http")
    args = parser.parse_args(argv)

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        os.environ[name] = "testing"
    os.environ["AWS_DEFAULT_REGION"] = REGION
    os.environ.pop("AWS_PROFILE", None)

    gaad, synth_seconds = timed(lambda: synthetic_gaad(users=args.users, seed=args.seed))
    server, url = start_server()
    try:
        account = (
            boto3.Session(region_name=REGION)
            .client("sts", endpoint_url=url)
            .get_caller_identity()["Account"]
        )
        if account != "123456789012":
            gaad = synthetic_gaad(users=args.users, seed=args.seed, account_id=account)
        if args.setup == "http":
            _, setup_seconds = timed(lambda: populate_http(gaad, url, args.workers))
        else:
            _, setup_seconds = timed(lambda: populate_backend(gaad, account))
        n_users = len(gaad["UserDetailList"])
        n_groups = len(gaad["GroupDetailList"])
        n_local = sum(1 for p in gaad["Policies"] if ":aws:policy/" not in p["Arn"])
        print(
            f"account: {n_users} users, {n_groups} groups, {n_local} customer-managed policies "
            f"(synthetic_gaad seed={args.seed}, built in {synth_seconds:.2f} s)"
        )
        print(f"moto setup ({args.setup}): {setup_seconds:.1f} s\n")

        # Every client below reaches the server the way a user's boto3 would.
        os.environ["AWS_ENDPOINT_URL"] = url
        runs: list[tuple[str, Counter[str], float]] = []

        session, calls = counted_session()
        inventory, seconds = timed(lambda: groupify.scan(session))
        runs.append(("groupify.scan", calls, seconds))

        session, calls = counted_session()
        _, seconds = timed(lambda: naive_scan(session, full=False))
        runs.append(("naive-minimal", calls, seconds))

        session, calls = counted_session()
        naive, seconds = timed(lambda: naive_scan(session, full=True))
        runs.append(("naive-full", calls, seconds))
    finally:
        os.environ.pop("AWS_ENDPOINT_URL", None)
        server.stop()

    print(
        table(
            ["approach", "API calls", "seconds"],
            [[name, sum(c.values()), f"{s:.2f}"] for name, c, s in runs],
        )
    )
    operations = sorted(set().union(*(c for _, c, _ in runs)))
    print()
    print(
        table(
            ["operation", *(name for name, _, _ in runs)],
            [[op, *(c.get(op, 0) for _, c, _ in runs)] for op in operations],
        )
    )
    print()
    print(f"scan read the synthetic account exactly: {matches_synth(inventory, gaad)}")
    print(f"naive-full read what scan read:          {agrees(inventory, naive)}")

    entities = n_users + n_groups + n_local
    print(
        f"\nmoto answers in one page; real IAM pages. ESTIMATES, assuming each user, "
        f"group and customer policy counts as one item against MaxItems "
        f"({entities} items with Filter={GAAD_FILTER}):"
    )
    # Besides the GAAD pages: GetCallerIdentity, GetAccountSummary, and two reads for
    # each AWS-managed policy held (their documents are not in a filtered GAAD).
    aws_reads = 2 * len(inventory.aws_policies)
    estimate = [
        [
            f"MaxItems={m}",
            math.ceil(entities / m),
            2 + aws_reads + math.ceil(entities / m),
            math.ceil(n_users / m),
        ]
        for m in (DEFAULT_MAX_ITEMS, LARGEST_MAX_ITEMS)
    ]
    print(
        table(
            [
                "page size (estimate)",
                "GAAD calls",
                "groupify.scan calls",
                "ListUsers calls (naive)",
            ],
            estimate,
        )
    )
    print(
        f"(groupify.scan: {aws_reads} of its calls read the documents of the "
        f"{len(inventory.aws_policies)} AWS-managed policies held, whatever the page size.)"
    )
    print(
        f"(observed on moto: {runs[0][1]['GetAccountAuthorizationDetails']} GAAD call(s), "
        f"{runs[1][1]['ListUsers']} ListUsers call(s). groupify.scan asks for MaxItems=1000; "
        f"the naive scan's paginator sends none, so IAM's default of {DEFAULT_MAX_ITEMS} "
        "applies to it.)"
    )


if __name__ == "__main__":
    main()
