"""The ``groupify`` command: a parser built from the table of verbs, and one error policy.

The verbs and their arguments are :data:`groupify.cli.verbs.VERBS`; what they
print is :mod:`groupify.cli.text`. Nothing in groupify imports this package.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from groupify._version import version
from groupify.cli.verbs import VERBS
from groupify.errors import AWSError, GroupifyError

__all__ = ["EXIT_AWS", "EXIT_INPUT", "build_parser", "main"]

EXIT_INPUT = 2
EXIT_AWS = 1


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, one subcommand per verb."""
    parser = argparse.ArgumentParser(
        prog="groupify",
        description="Move IAM users from directly attached policies to job-function groups "
        "without an access gap (Security Hub IAM.2).",
    )
    parser.add_argument("--version", action="version", version=f"groupify {version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for verb in VERBS:
        p = sub.add_parser(verb.name, help=verb.help)
        for arg in verb.args:
            p.add_argument(*arg.flags, **arg.options)
        p.set_defaults(run=verb.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``groupify`` with *argv*; return the exit status (errors: one line on stderr)."""
    args = vars(build_parser().parse_args(argv))
    run = args.pop("run")
    del args["command"]
    try:
        return int(run(out=sys.stdout, **args))
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
