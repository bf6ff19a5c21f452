"""The ``groupify`` command: argument parsing only; the work is in :mod:`groupify.commands`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from groupify.cli import verbs as commands
from groupify.errors import AWSError, GroupifyError
from groupify.proposal.strategies import STRATEGIES

__all__ = ["main"]

EXIT_INPUT = 2
EXIT_AWS = 1


def _source_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--from-gaad",
        metavar="FILE",
        help="read a file saved by 'aws iam get-account-authorization-details' "
        "instead of scanning the live account",
    )
    p.add_argument("--profile", help="AWS profile for a live scan (default: boto3's usual chain)")
    p.add_argument(
        "--quota",
        action="append",
        default=[],
        metavar="NAME=N",
        help="override an IAM quota, e.g. groups_per_user=20 (repeatable)",
    )
    p.add_argument("--json", action="store_true", help="print JSON for scripts")


def _scope_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--strategy", choices=STRATEGIES, default="exact", help="how to form groups (default exact)"
    )
    p.add_argument(
        "--exclude-user",
        action="append",
        default=[],
        metavar="NAME",
        help="leave this user alone (glob; repeatable), e.g. a break-glass user",
    )
    p.add_argument(
        "--exclude-tag",
        action="append",
        default=[],
        metavar="KEY[=VALUE]",
        help="leave users with this tag alone (repeatable)",
    )
    p.add_argument(
        "--time-limit",
        type=float,
        metavar="SECONDS",
        help="bound the search of --strategy minimal (default: to the proven optimum)",
    )


def build_parser() -> argparse.ArgumentParser:
    from groupify import __version__

    parser = argparse.ArgumentParser(
        prog="groupify",
        description="Move IAM users from directly attached policies to job-function groups "
        "without an access gap (Security Hub IAM.2).",
    )
    parser.add_argument("--version", action="version", version=f"groupify {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("scan", help="read the account and list users failing IAM.2")
    _source_args(p)

    p = sub.add_parser("propose", help="propose job-function groups for review")
    _source_args(p)
    _scope_args(p)
    p.add_argument("--out", metavar="FILE", help="write the editable proposal (JSON) here")
    p.add_argument(
        "--compare",
        action="store_true",
        help="compare the strategies (groups, groups per user, policies per group)",
    )

    p = sub.add_parser("plan", help="build a verified, ordered plan of IAM calls")
    _source_args(p)
    _scope_args(p)
    p.add_argument(
        "--proposal", metavar="FILE", help="plan from a (reviewed, edited) proposal file"
    )
    p.add_argument("--out", metavar="FILE", required=True, help="write the plan (JSON) here")
    p = sub.add_parser("apply", help="apply a plan (asks first; --dry-run changes nothing)")
    p.add_argument("plan", help="plan file from 'groupify plan'")
    p.add_argument("--dry-run", action="store_true", help="report what would be done; no change")
    p.add_argument(
        "--journal",
        metavar="FILE",
        help="journal to resume from and roll back with (default: PLAN.journal)",
    )
    p.add_argument("--yes", action="store_true", help="do not ask (needed without a terminal)")
    p.add_argument("--workers", type=int, default=4, help="parallel IAM calls (default 4)")
    p.add_argument(
        "--settle",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="wait between granting a user's group access and removing its direct policies",
    )
    p.add_argument("--profile", help="AWS profile (default: boto3's usual chain)")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")

    p = sub.add_parser("verify", help="check IAM.2 and unchanged access after a run")
    p.add_argument("plan", help="plan file the run applied")
    p.add_argument("--profile", help="AWS profile (default: boto3's usual chain)")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")

    p = sub.add_parser(
        "report", help="write a plan's change-approval report (self-contained HTML or Markdown)"
    )
    p.add_argument("plan", help="plan file from 'groupify plan'")
    p.add_argument("--html", metavar="FILE", help="write the report as one HTML file here")
    p.add_argument("--markdown", metavar="FILE", help="write the report as Markdown here")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")

    p = sub.add_parser("rollback", help="undo what the runs in a journal did")
    p.add_argument("--journal", metavar="FILE", required=True, help="journal written by apply")
    p.add_argument("--yes", action="store_true", help="do not ask (needed without a terminal)")
    p.add_argument("--dry-run", action="store_true", help="report what would be undone")
    p.add_argument("--settle", type=float, default=5.0, metavar="SECONDS")
    p.add_argument("--profile", help="AWS profile (default: boto3's usual chain)")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    return parser


def _run(args: argparse.Namespace) -> int:
    if args.command == "apply":
        return commands.apply_cmd(
            args.plan,
            dry_run=args.dry_run,
            journal=args.journal,
            yes=args.yes,
            workers=args.workers,
            settle=args.settle,
            profile=args.profile,
            as_json=args.json,
        )
    if args.command == "verify":
        return commands.verify_cmd(args.plan, profile=args.profile, as_json=args.json)
    if args.command == "report":
        return commands.report_cmd(
            args.plan, html_path=args.html, markdown_path=args.markdown, as_json=args.json
        )
    if args.command == "rollback":
        return commands.rollback_cmd(
            args.journal,
            yes=args.yes,
            dry_run=args.dry_run,
            settle=args.settle,
            profile=args.profile,
            as_json=args.json,
        )
    inventory = commands.inventory_from(args.from_gaad, profile=args.profile, quotas=args.quota)
    if args.command == "scan":
        return commands.scan_cmd(inventory, as_json=args.json)
    if args.command == "propose":
        return commands.propose_cmd(
            inventory,
            strategy=args.strategy,
            exclude_users=args.exclude_user,
            exclude_tags=args.exclude_tag,
            as_json=args.json,
            out_path=args.out,
            time_limit=args.time_limit,
            compare_strategies=args.compare,
        )
    return commands.plan_cmd(
        inventory,
        out_path=args.out,
        strategy=args.strategy,
        exclude_users=args.exclude_user,
        exclude_tags=args.exclude_tag,
        proposal_path=args.proposal,
        as_json=args.json,
        time_limit=args.time_limit,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except AWSError as exc:
        print(f"groupify: error: {exc}", file=sys.stderr)
        return EXIT_AWS
    except GroupifyError as exc:
        print(f"groupify: error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except OSError as exc:
        print(f"groupify: error: {exc.filename or ''}: {exc.strerror}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("groupify: interrupted", file=sys.stderr)
        return 130
