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
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from groupify._version import version
from groupify.cli.verbs import _CHANGING, _COMMAND, _WIDE, EXIT, VERBS, Aws, Declined, envelope
from groupify.errors import AWSError, GroupifyError

__all__ = ["EXIT", "EXIT_AWS", "EXIT_INPUT", "build_parser", "main"]

EXIT_INPUT = EXIT["input"]
EXIT_AWS = EXIT["aws"]

_EPILOG = """exit status: 0 done (verify: all pass), 1 verify failed or a run stopped before the
end, 2 bad input or a refused plan (nothing changed), 3 an AWS call failed, 4 the
confirmation was declined, 5 apply --dry-run --detailed-exitcode with steps to run,
130 interrupted. See https://github.com/groupify/groupify/blob/main/docs/cli.md"""


#: The arguments being parsed (a usage error with --json answers in JSON too).
_ARGV: list[str] = []


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line, like every other error (``--help`` shows the usage)."""

    def error(self, message: str) -> NoReturn:
        if "--json" in _ARGV:
            command = next((a for a in _ARGV if a in {v.name for v in VERBS}), "")
            token = _COMMAND.set(command)
            _fail(True, "UsageError", message, EXIT_INPUT)
            _COMMAND.reset(token)
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

    def common(default: Any) -> _Parser:
        # On the subcommands the defaults are SUPPRESS, so that `groupify -v scan` keeps the
        # top-level -v instead of the subcommand's default overwriting it.
        flags = _Parser(add_help=False)
        flags.add_argument(
            "-v",
            "--verbose",
            action="count",
            default=0 if default is None else default,
            help="show retries, waits and phases on stderr (-vv: more)",
        )
        flags.add_argument(
            "--wide",
            action="store_true",
            default=False if default is None else default,
            help="never cut table cells (piped output is never cut; on a terminal tables fit it)",
        )
        return flags

    parser = _Parser(
        prog="groupify",
        description="Move IAM users from directly attached policies to job-function groups "
        "without an access gap (Security Hub IAM.2).",
        epilog=_EPILOG,
        formatter_class=_Help,
        parents=[common(None)],
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
            parents=[common(argparse.SUPPRESS)],
        )
        for arg in verb.args:
            p.add_argument(*arg.flags, **arg.options)
        p.set_defaults(run=verb.run)
    return parser


class _Stderr(logging.Handler):
    """Writes to whatever ``sys.stderr`` is now (tests and callers may replace it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
        except Exception:
            self.handleError(record)


_HANDLER = _Stderr()
_HANDLER.setFormatter(logging.Formatter("groupify: %(asctime)s %(name)s: %(message)s"))


def _logging(level: int) -> None:
    """Warnings always (a call still failing after retries); -v info, -vv debug, -vvv botocore."""
    root = logging.getLogger("groupify")
    if _HANDLER not in root.handlers:
        root.addHandler(_HANDLER)
    root.setLevel({0: logging.WARNING, 1: logging.INFO}.get(level, logging.DEBUG))
    botocore = logging.getLogger("botocore")
    if level > 2 and _HANDLER not in botocore.handlers:
        botocore.addHandler(_HANDLER)
        botocore.setLevel(logging.DEBUG)
    elif level <= 2 and _HANDLER in botocore.handlers:
        botocore.removeHandler(_HANDLER)


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
    _ARGV[:] = list(sys.argv[1:] if argv is None else argv)
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
        hint = _resume_hint(command, saved) if _CHANGING.get() else "; nothing was changed"
        if sys.stderr.isatty():
            sys.stderr.write("\n")  # off the progress line
        print(f"groupify: interrupted{hint}", file=sys.stderr)
        return _fail(as_json, "Interrupted", "interrupted", EXIT["interrupted"])
    except Declined as exc:
        print(f"groupify: error: {exc}", file=sys.stderr)
        return _fail(as_json, type(exc).__name__, str(exc), EXIT["declined"])
    except AWSError as exc:
        print(f"groupify: error: {exc}", file=sys.stderr)
        return _fail(as_json, type(exc).__name__, str(exc), EXIT["aws"])
    except GroupifyError as exc:
        print(f"groupify: error: {exc}", file=sys.stderr)
        findings = [f.to_dict() for f in getattr(exc, "findings", ())]
        return _fail(as_json, type(exc).__name__, str(exc), EXIT["input"], findings=findings)
    except BrokenPipeError:
        # The reader went away (`| head`): nothing more to say, and nowhere to say it.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT["failed"]
    except OSError as exc:
        message = f"{exc.filename or ''}: {exc.strerror}"
        print(f"groupify: error: {message}", file=sys.stderr)
        return _fail(as_json, type(exc).__name__, message, EXIT["input"])
    finally:
        _COMMAND.reset(token)
        _WIDE.reset(wide)
        _CHANGING.set(False)


def _fail(
    as_json: bool, kind: str, message: str, status: int, findings: list[Any] | None = None
) -> int:
    """With ``--json``, the error as a document on stdout too; return *status*."""
    if as_json:
        import json

        error: dict[str, Any] = {"kind": kind, "exit": status, "message": message}
        if findings:
            error["findings"] = findings  # the ids --accept takes
        try:
            sys.stdout.write(json.dumps(envelope(ok=False, error=error), indent=2) + "\n")
            sys.stdout.flush()
        except OSError:
            pass  # stdout itself is what failed; the line on stderr stands
    return status
