"""The CLI's verbs, as a table: each one's arguments, and a function that does it.

A verb's function takes its arguments as keywords named as argparse stores
them (``from_gaad``, ``exclude_user``, …) plus *out*, the stream for the
result; it returns the exit status. Errors are raised as
:class:`~groupify.errors.GroupifyError`; :func:`groupify.cli.main` turns them
into one line on stderr. Text comes from :mod:`groupify.cli.text`, JSON from
the results' own ``to_dict`` (or ``summary``/``overview``) methods.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TextIO

import attrs
from attrs import frozen

from groupify._files import read_json, write_atomic
from groupify.aws import session
from groupify.cli import text
from groupify.errors import InputError
from groupify.inventory.account import scan
from groupify.inventory.gaad import load_gaad
from groupify.inventory.model import Inventory, Quotas
from groupify.plan.build import build_plan
from groupify.plan.model import load_plan
from groupify.plan.signing import key_from
from groupify.proposal.model import STRATEGIES, Exemptions, Proposal
from groupify.proposal.strategies import compare_proposals, propose
from groupify.report import render_html, render_markdown
from groupify.runtime.checks import verify
from groupify.runtime.forward import apply
from groupify.runtime.undo import rollback

__all__ = ["VERBS", "Arg", "Verb", "inventory_from", "parse_quotas"]


@frozen
class Arg:
    """One argparse argument: its flags and ``add_argument`` keywords."""

    flags: tuple[str, ...]
    options: Mapping[str, Any]

    @classmethod
    def of(cls, *flags: str, **options: Any) -> Arg:
        return cls(flags, options)


@frozen
class Verb:
    """One ``groupify`` command: its name, help line, arguments and function."""

    name: str
    help: str
    args: tuple[Arg, ...]
    run: Callable[..., int]


JSON = Arg.of("--json", dest="as_json", action="store_true", help="print JSON for scripts")
PROFILE = Arg.of("--profile", help="AWS profile (default: boto3's usual chain)")
SOURCE = (
    Arg.of(
        "--from-gaad",
        metavar="FILE",
        help="read a file saved by 'aws iam get-account-authorization-details' "
        "instead of scanning the live account",
    ),
    Arg.of("--profile", help="AWS profile for a live scan (default: boto3's usual chain)"),
    Arg.of(
        "--quota",
        action="append",
        default=[],
        metavar="NAME=N",
        help="override an IAM quota, e.g. groups_per_user=20 (repeatable)",
    ),
    JSON,
)
SCOPE = (
    Arg.of(
        "--strategy", choices=STRATEGIES, default="exact", help="how to form groups (default exact)"
    ),
    Arg.of(
        "--exclude-user",
        action="append",
        default=[],
        metavar="NAME",
        help="leave this user alone (glob; repeatable), e.g. a break-glass user",
    ),
    Arg.of(
        "--exclude-tag",
        action="append",
        default=[],
        metavar="KEY[=VALUE]",
        help="leave users with this tag alone (repeatable)",
    ),
    Arg.of(
        "--time-limit",
        type=float,
        metavar="SECONDS",
        help="bound the search of --strategy minimal (default: to the proven optimum)",
    ),
)
YES = Arg.of("--yes", action="store_true", help="do not ask (needed without a terminal)")
KEY_FILE = Arg.of(
    "--key-file",
    metavar="FILE",
    help="a secret key (at least 16 bytes) for signed plans: 'plan' signs with it, 'apply' "
    "refuses a plan not signed with it (default: the file $GROUPIFY_PLAN_KEY_FILE names)",
)


def parse_quotas(specs: Sequence[str]) -> dict[str, int]:
    """``["groups_per_user=20"]`` → ``{"groups_per_user": 20}``; names as :class:`Quotas` fields."""
    known = {f.name for f in attrs.fields(Quotas)}
    out: dict[str, int] = {}
    for spec in specs:
        name, _, value = spec.partition("=")
        name = name.strip().replace("-", "_")
        if name not in known:
            raise InputError(f"--quota {spec!r}: unknown quota; known: {', '.join(sorted(known))}")
        try:
            out[name] = int(value)
        except ValueError:
            raise InputError(f"--quota {spec!r}: give NAME=INTEGER") from None
    return out


def inventory_from(
    gaad: str | None, *, profile: str | None = None, quotas: Sequence[str] = ()
) -> Inventory:
    """Load a GAAD file, or scan the live account when *gaad* is ``None``."""
    overrides = parse_quotas(quotas)
    inventory = load_gaad(gaad) if gaad is not None else scan(_session(profile))
    if overrides:
        inventory = attrs.evolve(inventory, quotas=attrs.evolve(inventory.quotas, **overrides))
    return inventory


def _session(profile: str | None) -> Any:
    return session(profile) if profile else None


def _dump(data: Any, out: TextIO) -> None:
    out.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def _write_json(path: str, data: Any) -> None:
    write_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def _confirm(prompt: str, *, yes: bool, out: TextIO) -> None:
    """Ask on the terminal; refuse without one (use --yes in scripts)."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise InputError("not a terminal and --yes not given; refusing to change the account")
    out.write(prompt + " [y/N] ")
    out.flush()
    answer = sys.stdin.readline().strip().lower()
    if answer not in ("y", "yes"):
        raise InputError("not confirmed; nothing was changed")


# -- the verbs --------------------------------------------------------------------


def scan_verb(
    *, from_gaad: str | None, profile: str | None, quota: Sequence[str], as_json: bool, out: TextIO
) -> int:
    """Show the account and which users fail IAM.2 (a policy attached directly)."""
    inventory = inventory_from(from_gaad, profile=profile, quotas=quota)
    if as_json:
        _dump(inventory.summary(), out)
    else:
        out.write(text.scan_text(inventory))
    return 0


def _proposal(inventory: Inventory, strategy: str, **scope: Any) -> Proposal:
    return propose(
        inventory,
        strategy=strategy,
        exclude_users=scope["exclude_user"],
        exclude_tags=scope["exclude_tag"],
        time_limit=scope["time_limit"],
    )


def propose_verb(
    *,
    from_gaad: str | None,
    profile: str | None,
    quota: Sequence[str],
    as_json: bool,
    strategy: str,
    out_path: str | None,
    compare: bool,
    out: TextIO,
    **scope: Any,
) -> int:
    """Propose groups; print them, and write the editable proposal to *out_path*."""
    inventory = inventory_from(from_gaad, profile=profile, quotas=quota)
    if compare:
        rows = compare_proposals(_proposal(inventory, s, **scope) for s in STRATEGIES)
        if as_json:
            _dump(rows, out)
        else:
            out.write(text.compare_text(rows))
        return 0
    proposal = _proposal(inventory, strategy, **scope)
    if out_path:
        _write_json(out_path, proposal.to_dict())
    if as_json:
        _dump(proposal.to_dict(), out)
    else:
        out.write(text.proposal_text(proposal))
        if out_path:
            out.write(
                f"\nProposal written to {out_path} (edit it, then: groupify plan --proposal)\n"
            )
    return 0


def plan_verb(
    *,
    from_gaad: str | None,
    profile: str | None,
    quota: Sequence[str],
    as_json: bool,
    strategy: str,
    proposal: str | None,
    accept: Sequence[str],
    out_path: str,
    key_file: str | None,
    out: TextIO,
    **scope: Any,
) -> int:
    """Build and verify a plan, write it to *out_path* and print its summary."""
    inventory = inventory_from(from_gaad, profile=profile, quotas=quota)
    if proposal:
        if scope["exclude_user"] or scope["exclude_tag"]:
            raise InputError("--proposal carries its own exclusions; drop --exclude-*")
        chosen = Proposal.from_dict(
            read_json(proposal, InputError, "not a JSON proposal"), inventory
        )
    else:
        chosen = _proposal(inventory, strategy, **scope)
    plan = build_plan(chosen, accept=accept)
    plan.save(out_path, key=key_from(key_file))
    if as_json:
        _dump(plan.overview(), out)
    else:
        out.write(text.proposal_text(chosen) + "\n" + text.plan_text(plan))
        out.write(f"Plan written to {out_path}\n")
    return 0


def apply_verb(
    *,
    plan: str,
    dry_run: bool,
    journal: str | None,
    yes: bool,
    workers: int,
    settle: float,
    profile: str | None,
    as_json: bool,
    key_file: str | None,
    exclude_user: Sequence[str],
    exclude_tag: Sequence[str],
    out: TextIO,
) -> int:
    """Dry-run or apply a plan file; exit 0 when the account is in the planned state."""
    plan_path = plan
    loaded = load_plan(plan_path, key=key_from(key_file))
    rules = Exemptions(users=exclude_user, tags=exclude_tag)
    session_ = _session(profile)
    preview = apply(loaded, session_, dry_run=True, exempt=rules)
    if dry_run:
        if as_json:
            _dump(preview.preview(loaded.steps), out)
        else:
            out.write(text.dry_run_text(loaded, preview))
        return 0
    if not preview.remaining:
        out.write("Nothing to do: every step of the plan is already in place.\n")
        return 0
    by_id = {s.id: s for s in loaded.steps}
    destructive = sum(1 for i in preview.remaining if by_id[i].is_destructive)
    _confirm(
        f"Apply {len(preview.remaining)} step(s) to account {loaded.account_id} "
        f"({destructive} remove direct policies after their group route is in place)?",
        yes=yes,
        out=out,
    )
    result = apply(
        loaded,
        session_,
        journal=journal or plan_path + ".journal",
        workers=workers,
        settle=settle,
        progress=text.Progress(sys.stderr, "apply"),
        exempt=rules,
    )
    if as_json:
        _dump(result.to_dict(), out)
    else:
        out.write(text.result_text(result, len(loaded.steps)))
    return 0 if result.ok else 1


def verify_verb(*, plan: str, profile: str | None, as_json: bool, out: TextIO) -> int:
    """Check IAM.2 and unchanged access per user; exit 1 when any check fails."""
    report = verify(plan, _session(profile))
    if as_json:
        _dump(report.to_dict(), out)
    else:
        out.write(text.verify_text(report))
    return 0 if report.ok else 1


def rollback_verb(
    *,
    journal: str,
    yes: bool,
    dry_run: bool,
    settle: float,
    profile: str | None,
    as_json: bool,
    out: TextIO,
) -> int:
    """Undo what the runs recorded in *journal* did."""
    session_ = _session(profile)
    preview = rollback(journal, session_, dry_run=True)
    if dry_run or not preview.remaining:
        if as_json:
            _dump(preview.to_dict(), out)
        else:
            out.write(text.rollback_preview_text(preview))
        return 0
    _confirm(f"Undo {len(preview.remaining)} change(s) recorded in {journal}?", yes=yes, out=out)
    result = rollback(
        journal, session_, settle=settle, progress=text.Progress(sys.stderr, "rollback")
    )
    if as_json:
        _dump(result.to_dict(), out)
    else:
        out.write(text.result_text(result, len(preview.remaining)))
    return 0 if result.ok else 1


def report_verb(
    *, plan: str, html: str | None, markdown: str | None, as_json: bool, out: TextIO
) -> int:
    """Write a plan's change-approval report, as one self-contained HTML or Markdown file."""
    if not html and not markdown:
        raise InputError("give --html FILE and/or --markdown FILE")
    loaded = load_plan(plan)  # checks format, checksum and fingerprint, and replays it
    written_to: dict[str, str] = {}
    if html:
        write_atomic(html, render_html(loaded, plan_path=plan))
        written_to["html"] = html
    if markdown:
        write_atomic(markdown, render_markdown(loaded, plan_path=plan))
        written_to["markdown"] = markdown
    if as_json:
        _dump(written_to, out)
    else:
        for path in written_to.values():
            out.write(f"Report written to {path}\n")
    return 0


PLAN_FILE = Arg.of("plan", help="plan file from 'groupify plan'")

#: Every verb, in the order ``groupify --help`` lists them.
VERBS: tuple[Verb, ...] = (
    Verb("scan", "read the account and list users failing IAM.2", SOURCE, scan_verb),
    Verb(
        "propose",
        "propose job-function groups for review",
        (
            *SOURCE,
            *SCOPE,
            Arg.of(
                "--out",
                dest="out_path",
                metavar="FILE",
                help="write the editable proposal (JSON) here",
            ),
            Arg.of(
                "--compare",
                action="store_true",
                help="compare the strategies (groups, groups per user, policies per group)",
            ),
        ),
        propose_verb,
    ),
    Verb(
        "plan",
        "build a verified, ordered plan of IAM calls",
        (
            *SOURCE,
            *SCOPE,
            Arg.of(
                "--proposal", metavar="FILE", help="plan from a (reviewed, edited) proposal file"
            ),
            Arg.of(
                "--accept",
                action="append",
                default=[],
                metavar="FINDING",
                help="accept a reviewed control-path finding by its id (repeatable); it is "
                "recorded in the plan and checked again at apply",
            ),
            Arg.of(
                "--out",
                dest="out_path",
                metavar="FILE",
                required=True,
                help="write the plan (JSON) here",
            ),
            KEY_FILE,
        ),
        plan_verb,
    ),
    Verb(
        "apply",
        "apply a plan (asks first; --dry-run changes nothing)",
        (
            PLAN_FILE,
            Arg.of("--dry-run", action="store_true", help="report what would be done; no change"),
            Arg.of(
                "--journal",
                metavar="FILE",
                help="journal to resume from and roll back with (default: PLAN.journal)",
            ),
            YES,
            Arg.of("--workers", type=int, default=4, help="parallel IAM calls (default 4)"),
            Arg.of(
                "--settle",
                type=float,
                default=5.0,
                metavar="SECONDS",
                help="wait between granting a user's group access and removing its direct policies",
            ),
            Arg.of(
                "--exclude-user",
                action="append",
                default=[],
                metavar="NAME",
                help="refuse to change this user, whatever the plan says (glob; repeatable)",
            ),
            Arg.of(
                "--exclude-tag",
                action="append",
                default=[],
                metavar="KEY[=VALUE]",
                help="refuse to change users with this tag in the live account (repeatable)",
            ),
            KEY_FILE,
            PROFILE,
            JSON,
        ),
        apply_verb,
    ),
    Verb(
        "verify",
        "check IAM.2 and unchanged access after a run",
        (Arg.of("plan", help="plan file the run applied"), PROFILE, JSON),
        verify_verb,
    ),
    Verb(
        "report",
        "write a plan's change-approval report (self-contained HTML or Markdown)",
        (
            PLAN_FILE,
            Arg.of("--html", metavar="FILE", help="write the report as one HTML file here"),
            Arg.of("--markdown", metavar="FILE", help="write the report as Markdown here"),
            JSON,
        ),
        report_verb,
    ),
    Verb(
        "rollback",
        "undo what the runs in a journal did",
        (
            Arg.of("--journal", metavar="FILE", required=True, help="journal written by apply"),
            YES,
            Arg.of("--dry-run", action="store_true", help="report what would be undone"),
            Arg.of("--settle", type=float, default=5.0, metavar="SECONDS"),
            PROFILE,
            JSON,
        ),
        rollback_verb,
    ),
)
