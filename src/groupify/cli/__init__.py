"""The ``groupify`` command: a parser built from the table of verbs, and one error policy.

The verbs and their arguments are :data:`groupify.cli.verbs.VERBS`; what they
print is :mod:`groupify.cli.text`. Nothing in groupify imports this package.

Every error is one line on stderr (``groupify: error: ...``) and an exit status
from :data:`~groupify.cli.verbs.EXIT`; with ``--json`` the same error is also
a JSON document on stdout, in the envelope every result has. ``-v`` shows
retries, waits and phases (standard :mod:`logging` on stderr), ``-vv`` more.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from groupify._version import version
from groupify.cli.verbs import _COMMAND, _WIDE, EXIT, VERBS, Aws, Declined, envelope
from groupify.errors import AWSError, GroupifyError

__all__ = ["EXIT", "EXIT_AWS", "EXIT_INPUT", "build_parser", "main"]

EXIT_INPUT = EXIT["input"]
EXIT_AWS = EXIT["aws"]

_EPILOG = """exit status: 0 done (verify: all pass), 1 verify failed or a run stopped before the
end, 2 bad input or a refused plan (nothing changed), 3 an AWS call failed, 4 the
confirmation was declined, 5 apply --dry-run --detailed-exitcode with steps to run,
130 interrupted. See https://github.com/groupify/groupify/blob/main/docs/cli.md"""


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line, like every other error (``--help`` shows the usage)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_INPUT, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class _Help(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults shown after each option's help, and examples kept as written."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        # "(default: False)" on a flag, or "(default: None)", says nothing.
        if action.default in (None, False, [], argparse.SUPPRESS) or "default" in (
            action.help or ""
        ):
            return action.help
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, one subcommand per verb."""
    common = _Parser(add_help=False)
    common.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="show retries, waits and phases on stderr (-vv: more)",
    )
    common.add_argument(
        "--wide",
        action="store_true",
        help="never cut table cells (piped output is never cut; on a terminal tables fit it)",
    )
    parser = _Parser(
        prog="groupify",
        description="Move IAM users from directly attached policies to job-function groups "
        "without an access gap (Security Hub IAM.2).",
        epilog=_EPILOG,
        formatter_class=_Help,
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"groupify {version()}")
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=_Parser
    )
    for verb in VERBS:
        p = sub.add_parser(
            verb.name,
            help=verb.help,
            description=verb.help,
            epilog=f"example:\n  {verb.example}" if verb.example else None,
            formatter_class=_Help,
            parents=[common],
        )
        for arg in verb.args:
            p.add_argument(*arg.flags, **arg.options)
        p.set_defaults(run=verb.run)
    return parser


def _logging(level: int) -> None:
    if level <= 0:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("groupify: %(asctime)s %(name)s: %(message)s"))
    root = logging.getLogger("groupify")
    root.addHandler(handler)
    root.setLevel(logging.INFO if level == 1 else logging.DEBUG)
    if level > 2:
        logging.getLogger("botocore").addHandler(handler)
        logging.getLogger("botocore").setLevel(logging.DEBUG)


def _resume_hint(command: str, args: dict[str, Any]) -> str:
    """What an interrupted run leaves, and the command that goes on from there."""
    if command == "apply" and not args.get("dry_run"):
        plans = list(args.get("plan") or [])
        if len(plans) != 1:
            return (
                "; every step done so far is recorded in each plan's journal and every user "
                f"still has all of its access. Resume: groupify apply {' '.join(plans)}"
            )
        journal = args.get("journal") or f"{plans[0]}.journal"
        return (
            f"; every step done so far is recorded in {journal} and every user still has all "
            f"of its access. Resume: groupify apply {plans[0]} --journal {journal}; "
            f"undo: groupify rollback --journal {journal}"
        )
    if command == "rollback" and not args.get("dry_run"):
        journals = " ".join(f"--journal {j}" for j in args.get("journal") or [])
        return (
            f"; every call made so far is recorded in the journal and no user lost "
            f"access. Finish with: groupify rollback {journals}"
        )
    return "; nothing was changed"


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``groupify`` with *argv*; return the exit status (errors: one line on stderr)."""
    args = vars(build_parser().parse_args(argv))
    run = args.pop("run")
    command = args.pop("command")
    verbose = args.pop("verbose", 0)
    wide = _WIDE.set(bool(args.pop("wide", False)))
    _logging(verbose)
    target = {k: args.pop(k) for k in ("profile", "region", "endpoint_url") if k in args}
    if target:
        args["aws"] = Aws(**target)
    as_json = bool(args.get("as_json"))
    token = _COMMAND.set(command)
    saved = dict(args)
    try:
        return int(run(out=sys.stdout, **args))
    except KeyboardInterrupt:
        print(f"groupify: interrupted{_resume_hint(command, saved)}", file=sys.stderr)
        return _fail(as_json, "Interrupted", "interrupted", EXIT["interrupted"])
    except Declined as exc:
        print(f"groupify: {exc}", file=sys.stderr)
        return _fail(as_json, type(exc).__name__, str(exc), EXIT["declined"])
    except AWSError as exc:
        print(f"groupify: error: {exc}", file=sys.stderr)
        return _fail(as_json, type(exc).__name__, str(exc), EXIT["aws"])
    except GroupifyError as exc:
        message = str(exc).splitlines()[0] if verbose == 0 else str(exc)
        print(f"groupify: error: {exc}", file=sys.stderr)
        return _fail(as_json, type(exc).__name__, message, EXIT["input"])
    except OSError as exc:
        message = f"{exc.filename or ''}: {exc.strerror}"
        print(f"groupify: error: {message}", file=sys.stderr)
        return _fail(as_json, type(exc).__name__, message, EXIT["input"])
    finally:
        _COMMAND.reset(token)
        _WIDE.reset(wide)


def _fail(as_json: bool, kind: str, message: str, status: int) -> int:
    """With ``--json``, the error as a document on stdout too; return *status*."""
    if as_json:
        import json

        error = {"kind": kind, "exit": status, "message": message}
        sys.stdout.write(json.dumps(envelope(ok=False, error=error), indent=2) + "\n")
    return status
