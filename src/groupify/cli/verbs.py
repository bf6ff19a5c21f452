"""The CLI's verbs, as a table: each one's arguments, and a function that does it.

A verb's function takes its arguments as keywords named as argparse stores
them (``from_gaad``, ``exclude_user``, …) plus *out*, the stream for the
result, and *aws* (an :class:`Aws`: profile, region and endpoint) where it
talks to AWS; it returns the exit status (:data:`EXIT`). Errors are raised as
:class:`~groupify.errors.GroupifyError`; :func:`groupify.cli.main` turns them
into one line on stderr (and, with ``--json``, an error document on stdout).
Questions and progress go to stderr; stdout carries only the result. Text
comes from :mod:`groupify.cli.text`, JSON from the results' own ``to_dict``
(or ``summary``/``overview``) methods, in one envelope (:func:`envelope`).
"""

from __future__ import annotations

import contextvars
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TextIO

import attrs
from attrs import frozen

from groupify._files import is_stdout, read_json, write_atomic
from groupify.aws import make_clients, session
from groupify.cli import fleet, text
from groupify.cli.export import export_verb
from groupify.errors import GroupifyError, InputError
from groupify.inventory.account import scan
from groupify.inventory.gaad import load_gaad
from groupify.inventory.model import Inventory, Quotas
from groupify.mining.layers import Weights
from groupify.plan.build import build_plan
from groupify.plan.model import load_plan
from groupify.plan.signing import key_from
from groupify.plan.views import label
from groupify.proposal.model import STRATEGIES, Exemptions, Proposal
from groupify.proposal.strategies import compare_proposals, propose
from groupify.report import render_html, render_markdown
from groupify.runtime.checks import verify
from groupify.runtime.executor import ROUTE_AGE
from groupify.runtime.forward import apply
from groupify.runtime.result import ApplyResult
from groupify.runtime.undo import rollback

__all__ = [
    "EXIT",
    "JSON_SCHEMA",
    "VERBS",
    "Arg",
    "Aws",
    "Declined",
    "Verb",
    "envelope",
    "inventory_from",
    "parse_quotas",
]

#: Exit statuses, for scripts (documented in docs/cli.md).
EXIT = {
    "ok": 0,  # done; for verify: every check passed
    "failed": 1,  # verify found a failure, or apply/rollback stopped before the end
    "input": 2,  # bad input, or a plan refused (drift, stale, unsafe): nothing changed
    "aws": 3,  # an AWS call failed (credentials, access, network) after retries
    "declined": 4,  # the confirmation was declined: nothing changed
    "pending": 5,  # apply --dry-run --detailed-exitcode: there are steps to run
    "interrupted": 130,  # Ctrl-C
}

#: The ``schema`` of every ``--json`` document (results and errors alike).
JSON_SCHEMA = "groupify.cli/1"

#: The verb being run (for the JSON envelope).
_COMMAND: contextvars.ContextVar[str] = contextvars.ContextVar("command", default="")
#: Set once a verb starts changing the account (after the confirmation): an interrupt
#: before that changed nothing.
_CHANGING: contextvars.ContextVar[bool] = contextvars.ContextVar("changing", default=False)
#: ``--wide``: never cut a table cell (piped output is never cut anyway).
_WIDE: contextvars.ContextVar[bool] = contextvars.ContextVar("wide", default=False)


class Declined(GroupifyError):
    """The operator answered no (or nothing) to the confirmation."""


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
    """One ``groupify`` command: its name, help line, arguments, function and an example."""

    name: str
    help: str
    args: tuple[Arg, ...]
    run: Callable[..., int]
    example: str = ""


@frozen
class Aws:
    """Where a verb's AWS calls go: ``--profile``, ``--region``, ``--endpoint-url``."""

    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None

    def clients(self) -> dict[str, Any]:
        """``{"iam": ..., "sts": ...}`` for the library's ``iam=``/``sts=`` keywords."""
        iam, sts = make_clients(
            session(self.profile, self.region), region=self.region, endpoint_url=self.endpoint_url
        )
        return {"iam": iam, "sts": sts}


def seconds(text: str) -> float:
    """An argparse type: a finite number of seconds, at least 0."""
    import argparse
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give a finite number of seconds, at least 0")
    return value


def positive_seconds(text: str) -> float:
    """An argparse type: a finite number of seconds, more than 0."""
    import argparse

    value = seconds(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give a number of seconds more than 0")
    return value


def weights_arg(text: str) -> Weights:
    """An argparse type: ``attachments=W,memberships=W`` (:meth:`Weights.parse`)."""
    import argparse

    try:
        return Weights.parse(text)
    except InputError as e:
        raise argparse.ArgumentTypeError(str(e).removeprefix(f"--weights {text!r}: ")) from None


JSON = Arg.of("--json", dest="as_json", action="store_true", help="print JSON for scripts")
AWS_ARGS = (
    Arg.of("--profile", help="AWS profile (default: boto3's usual chain)"),
    Arg.of(
        "--region",
        help="AWS region for the clients (IAM and STS are global; default: the configured "
        "one, else us-east-1)",
    ),
    Arg.of(
        "--endpoint-url",
        metavar="URL",
        help="send IAM and STS calls to this endpoint (as the AWS CLI's; AWS_ENDPOINT_URL "
        "works too)",
    ),
)
SOURCE = (
    Arg.of(
        "--from-gaad",
        metavar="FILE",
        help="read a file saved by 'aws iam get-account-authorization-details' "
        "instead of scanning the live account",
    ),
    *AWS_ARGS,
    Arg.of(
        "--quota",
        action="append",
        default=[],
        metavar="NAME=N",
        help="override an IAM quota, e.g. groups_per_user=20 (repeatable)",
    ),
    JSON,
)
ALLOW_UNMATCHED = Arg.of(
    "--allow-unmatched",
    action="store_true",
    help="go on when an --exclude-* rule matches no user (a typo leaves that user in scope)",
)
SCOPE = (
    Arg.of("--strategy", choices=STRATEGIES, default="exact", help="how to form groups"),
    Arg.of(
        "--exclude-user",
        action="append",
        default=[],
        metavar="NAME",
        help="leave this user alone (glob, ignoring case as IAM does; repeatable), e.g. a "
        "break-glass user",
    ),
    Arg.of(
        "--exclude-tag",
        action="append",
        default=[],
        metavar="KEY[=VALUE]",
        help="leave users with this tag alone (key ignoring case; repeatable)",
    ),
    ALLOW_UNMATCHED,
    Arg.of(
        "--time-limit",
        type=seconds,
        metavar="SECONDS",
        help="bound the search of --strategy minimal (default: to the proven optimum)",
    ),
    Arg.of(
        "--no-layers",
        dest="layers",
        action="store_false",
        help="keep each user's set in one bundle (default: a policy several groups would "
        "hold is attached once, where that keeps the number of groups)",
    ),
    Arg.of(
        "--weights",
        type=weights_arg,
        metavar="attachments=W,memberships=W",
        help="trade group-policy attachments against the memberships layering adds "
        "(default: fewer attachments first, then fewer memberships)",
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
    gaad: str | None, *, aws: Aws | None = None, quotas: Sequence[str] = ()
) -> Inventory:
    """Load a GAAD file, or scan the live account when *gaad* is ``None``."""
    overrides = parse_quotas(quotas)
    inventory = load_gaad(gaad) if gaad is not None else scan(**(aws or Aws()).clients())
    if overrides:
        inventory = attrs.evolve(inventory, quotas=attrs.evolve(inventory.quotas, **overrides))
    return inventory


def envelope(
    *, ok: bool, result: Any = None, error: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The one shape of every ``--json`` document: schema, command, ok, then the result
    (or the error: its kind, exit status and message)."""
    body: dict[str, Any] = {"schema": JSON_SCHEMA, "command": _COMMAND.get(), "ok": ok}
    if error is not None:
        body["error"] = dict(error)
    else:
        body["result"] = result
    return body


def _dump(data: Any, out: TextIO, *, ok: bool = True) -> None:
    out.write(json.dumps(envelope(ok=ok, result=data), indent=2, ensure_ascii=False) + "\n")


def _write_json(path: str, data: Any) -> None:
    write_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def _confirm(prompt: str, *, yes: bool) -> None:
    """Ask on the terminal (the question on stderr, so that stdout stays the result);
    refuse without one (use --yes in scripts)."""
    if yes:
        _CHANGING.set(True)
        return
    if not sys.stdin.isatty():
        raise InputError("not a terminal and --yes not given; refusing to change the account")
    sys.stderr.write(prompt + " [y/N] ")
    sys.stderr.flush()
    answer = sys.stdin.readline().strip().lower()
    if answer not in ("y", "yes"):
        raise Declined("not confirmed; nothing was changed")
    _CHANGING.set(True)


# -- the verbs --------------------------------------------------------------------


def scan_verb(
    *, from_gaad: str | None, aws: Aws, quota: Sequence[str], as_json: bool, out: TextIO
) -> int:
    """Show the account and which users fail IAM.2 (a policy attached directly)."""
    inventory = inventory_from(from_gaad, aws=aws, quotas=quota)
    if as_json:
        _dump(inventory.summary(), out)
    else:
        out.write(text.scan_text(inventory, wide=_WIDE.get()))
    return 0


def _proposal(inventory: Inventory, strategy: str, **scope: Any) -> Proposal:
    return propose(
        inventory,
        strategy=strategy,
        exclude_users=scope["exclude_user"],
        exclude_tags=scope["exclude_tag"],
        time_limit=scope["time_limit"],
        allow_unmatched=scope["allow_unmatched"],
        layers=scope["layers"],
        weights=scope["weights"],
    )


def propose_verb(
    *,
    from_gaad: str | None,
    aws: Aws,
    quota: Sequence[str],
    as_json: bool,
    strategy: str,
    out_path: str | None,
    compare: bool,
    out: TextIO,
    **scope: Any,
) -> int:
    """Propose groups; print them, and write the editable proposal to *out_path*."""
    inventory = inventory_from(from_gaad, aws=aws, quotas=quota)
    if compare:
        rows = compare_proposals(_proposal(inventory, s, **scope) for s in STRATEGIES)
        if as_json:
            _dump(rows, out)
        else:
            out.write(text.compare_text(rows, wide=_WIDE.get()))
        return 0
    proposal = _proposal(inventory, strategy, **scope)
    if out_path and is_stdout(out_path):
        if as_json:
            raise InputError("--out - and --json both write to stdout; give one")
        _write_json(out_path, proposal.to_dict())  # the proposal file is the output
        return EXIT["ok"]
    if out_path:
        _write_json(out_path, proposal.to_dict())
    if as_json:
        _dump(proposal.to_dict(), out)
    else:
        out.write(text.proposal_text(proposal, wide=_WIDE.get()))
        if out_path:
            out.write(
                f"\nProposal written to {out_path} (edit it, then: groupify plan --proposal)\n"
            )
    return 0


def plan_verb(
    *,
    from_gaad: str | None,
    aws: Aws,
    quota: Sequence[str],
    as_json: bool,
    strategy: str,
    proposal: str | None,
    accept: Sequence[str],
    out_path: str | None,
    key_file: str | None,
    organization: bool,
    ou: Sequence[str],
    accounts: Sequence[str],
    role_name: str | None,
    external_id: str | None,
    out_dir: str | None,
    account_workers: int,
    from_securityhub: bool,
    securityhub_region: str | None,
    out: TextIO,
    **scope: Any,
) -> int:
    """Build and verify a plan, write it to *out_path* and print its summary; or, over
    many accounts (``--organization``, ``--accounts``), one plan per account in *out_dir*."""
    many = organization or bool(accounts) or from_securityhub
    if many:
        if from_gaad or proposal or quota:
            raise InputError("--from-gaad, --proposal and --quota plan one account; drop them")
        if not out_dir or out_path:
            raise InputError("planning many accounts writes one plan each: give --out-dir DIR")
        if ou and not organization:
            raise InputError("--ou selects accounts of the Organization: add --organization")
        if not organization and not accounts:
            raise InputError("--from-securityhub needs --organization or --accounts")
        return fleet.plan_many(
            target=fleet.target_from(aws, role_name, external_id),
            organization=organization,
            ous=ou,
            accounts=accounts,
            out_dir=out_dir,
            from_securityhub=from_securityhub,
            securityhub_region=securityhub_region,
            account_workers=account_workers,
            key=key_from(key_file),
            as_json=as_json,
            out=out,
            dump=_dump,
            strategy=strategy,
            exclude_users=scope["exclude_user"],
            exclude_tags=scope["exclude_tag"],
            allow_unmatched=scope["allow_unmatched"],
            time_limit=scope["time_limit"],
            layers=scope["layers"],
            weights=scope["weights"],
            accept=accept,
        )
    if out_dir or role_name or external_id:
        raise InputError(
            "--out-dir, --role-name and --external-id go with --organization or --accounts"
        )
    if not out_path:
        raise InputError("give --out FILE (or --organization/--accounts with --out-dir DIR)")
    inventory = inventory_from(from_gaad, aws=aws, quotas=quota)
    if proposal:
        if scope["exclude_user"] or scope["exclude_tag"]:
            raise InputError("--proposal carries its own exclusions; drop --exclude-*")
        chosen = Proposal.from_dict(
            read_json(proposal, InputError, "not a JSON proposal"), inventory
        )
    else:
        chosen = _proposal(inventory, strategy, **scope)
    to_stdout = is_stdout(out_path)
    if to_stdout and as_json:
        raise InputError("--out - and --json both write to stdout; give one")
    plan = build_plan(chosen, accept=accept)
    plan.save(out_path, key=key_from(key_file))
    if to_stdout:
        return EXIT["ok"]  # the plan file is the output
    if as_json:
        _dump(plan.overview(), out)
    else:
        out.write(text.proposal_text(chosen, wide=_WIDE.get()) + "\n" + text.plan_text(plan))
        out.write(f"Plan written to {out_path}\n")
    return 0


def apply_verb(
    *,
    plan: Sequence[str],
    dry_run: bool,
    detailed_exitcode: bool,
    journal: str | None,
    yes: bool,
    workers: int,
    settle: float,
    route_age: float,
    aws: Aws,
    as_json: bool,
    key_file: str | None,
    exclude_user: Sequence[str],
    exclude_tag: Sequence[str],
    allow_unmatched: bool,
    role_name: str | None,
    external_id: str | None,
    account_workers: int,
    out: TextIO,
) -> int:
    """Dry-run or apply a plan file; exit 0 when the account is in the planned state.

    Several plan files (or a directory of them) are applied each in its own account.
    """
    if len(plan) > 1 or os.path.isdir(plan[0]):
        if journal:
            raise InputError("--journal names one plan's journal; each plan uses PLAN.journal")
        if detailed_exitcode:
            raise InputError("--detailed-exitcode works with one plan")
        return fleet.apply_many(
            target=fleet.target_from(aws, role_name, external_id),
            plans=plan,
            dry_run=dry_run,
            yes=yes,
            confirm=_confirm,
            account_workers=account_workers,
            key=key_from(key_file),
            as_json=as_json,
            out=out,
            dump=_dump,
            workers=workers,
            settle=settle,
            route_age=route_age,
            exempt=Exemptions(users=exclude_user, tags=exclude_tag),
            allow_unmatched=allow_unmatched,
        )
    plan_path = plan[0]
    loaded = load_plan(plan_path, key=key_from(key_file))
    rules = Exemptions(users=exclude_user, tags=exclude_tag)
    clients = _clients_for(aws, loaded.account_id, role_name, external_id)
    checks: dict[str, Any] = {"exempt": rules, "allow_unmatched": allow_unmatched}
    if dry_run:
        preview = apply(loaded, dry_run=True, **clients, **checks)
        if as_json:
            _dump(preview.preview(loaded.steps), out)
        else:
            out.write(text.dry_run_text(loaded, preview, wide=_WIDE.get()))
        pending = detailed_exitcode and bool(preview.remaining)
        return EXIT["pending"] if pending else EXIT["ok"]
    by_id = {s.id: s for s in loaded.steps}

    def ask(preview: ApplyResult) -> bool:
        # Under the journal's lock, from the read the run is checked against: the
        # account is read once, and no other run starts while the question is open.
        if not preview.remaining:
            return False
        removals = sum(1 for i in preview.remaining if by_id[i].is_destructive)
        _confirm(
            f"Apply {len(preview.remaining)} step(s) to account {loaded.account_id} "
            f"({removals} remove a direct grant, each after the group replacing it is in place)?",
            yes=yes,
        )
        return True

    result = apply(
        loaded,
        journal=journal or plan_path + ".journal",
        workers=workers,
        settle=settle,
        route_age=route_age,
        progress=text.Progress(sys.stderr, "apply"),
        confirm=ask,
        **clients,
        **checks,
    )
    if result.mode == "dry-run":  # nothing was left to do
        if as_json:
            _dump(result.preview(loaded.steps), out)
        else:
            out.write("Nothing to do: every step of the plan is already in place.\n")
        return EXIT["ok"]
    if as_json:
        _dump(result.to_dict(), out, ok=result.ok)
    else:
        out.write(text.result_text(result, len(loaded.steps)))
    return EXIT["ok"] if result.ok else EXIT["failed"]


def verify_verb(
    *,
    plan: Sequence[str],
    aws: Aws,
    as_json: bool,
    role_name: str | None,
    external_id: str | None,
    account_workers: int,
    securityhub: bool,
    suppress_exceptions: bool,
    securityhub_region: str | None,
    out: TextIO,
) -> int:
    """Check IAM.2 and unchanged access per user; exit 1 when any check fails."""
    if len(plan) > 1 or os.path.isdir(plan[0]) or securityhub or suppress_exceptions:
        return fleet.verify_many(
            target=fleet.target_from(aws, role_name, external_id),
            plans=plan,
            securityhub=securityhub,
            suppress=suppress_exceptions,
            securityhub_region=securityhub_region,
            account_workers=account_workers,
            as_json=as_json,
            out=out,
            dump=_dump,
        )
    loaded = load_plan(plan[0])
    report = verify(loaded, **_clients_for(aws, loaded.account_id, role_name, external_id))
    if as_json:
        _dump(report.to_dict(), out, ok=report.ok)
    else:
        out.write(text.verify_text(report, wide=_WIDE.get()))
    return EXIT["ok"] if report.ok else EXIT["failed"]


def _clients_for(
    aws: Aws, account: str, role_name: str | None, external_id: str | None
) -> dict[str, Any]:
    """The clients for one plan's account: the caller's own, or through --role-name."""
    if not role_name:
        return aws.clients()
    return fleet.target_from(aws, role_name, external_id).clients(account)


def rollback_verb(
    *,
    journal: Sequence[str],
    yes: bool,
    dry_run: bool,
    settle: float,
    route_age: float,
    aws: Aws,
    as_json: bool,
    role_name: str | None,
    external_id: str | None,
    account_workers: int,
    out: TextIO,
) -> int:
    """Undo what the runs recorded in *journal* did (several journals: each in its account)."""
    if len(journal) > 1 or os.path.isdir(journal[0]):
        return fleet.rollback_many(
            target=fleet.target_from(aws, role_name, external_id),
            journals=journal,
            dry_run=dry_run,
            yes=yes,
            confirm=_confirm,
            account_workers=account_workers,
            as_json=as_json,
            out=out,
            dump=_dump,
            settle=settle,
            route_age=route_age,
        )
    path = journal[0]
    clients = aws.clients()
    if role_name:
        from groupify.runtime.journal import Journal

        account = Journal.read(path).plan.account_id
        clients = _clients_for(aws, account, role_name, external_id)
    preview = rollback(path, dry_run=True, **clients)
    if dry_run or not preview.remaining:
        if as_json:
            _dump(preview.to_dict(), out, ok=preview.ok)
        else:
            out.write(_rollback_listing(preview) + text.rollback_preview_text(preview))
        return EXIT["ok"]
    _confirm(f"Undo {len(preview.remaining)} change(s) recorded in {path}?", yes=yes)
    result = rollback(
        path,
        settle=settle,
        route_age=route_age,
        progress=text.Progress(sys.stderr, "rollback"),
        **clients,
    )
    if as_json:
        _dump(result.to_dict(), out, ok=result.ok)
    else:
        out.write(text.result_text(result, len(preview.remaining)))
    return EXIT["ok"] if result.ok else EXIT["failed"]


def _rollback_listing(preview: Any) -> str:
    """The reverse calls a rollback would make, in order, and how the account drifted."""
    out = ""
    if preview.steps:
        rows = [(u.id, u.op, label(u)) for u in preview.steps]
        out += text.table(["call", "op", "target"], rows, wide=_WIDE.get()) + "\n\n"
    if preview.drift:
        out += "The account changed since the run (rollback reverses only what is safe):\n"
        out += "".join(f"  {change}\n" for change in preview.drift) + "\n"
    return out


def report_verb(
    *, plan: Sequence[str], html: str | None, markdown: str | None, as_json: bool, out: TextIO
) -> int:
    """Write a plan's change-approval report, as one self-contained HTML or Markdown file."""
    if not html and not markdown:
        raise InputError("give --html FILE and/or --markdown FILE")
    outputs = [p for p in (html, markdown) if p and is_stdout(p)]
    if (outputs and as_json) or len(outputs) > 1:
        raise InputError("only one of --html -, --markdown - and --json can write to stdout")
    if html and markdown and os.path.realpath(html) == os.path.realpath(markdown):
        raise InputError("--html and --markdown name the same file")
    if len(plan) > 1 or os.path.isdir(plan[0]):
        many = fleet.report_many(plans=plan, html=html, markdown=markdown, write=write_atomic)
        if as_json:
            _dump(many, out)
        else:
            for path in many.values():
                out.write(f"Report written to {path}\n")
        return EXIT["ok"]
    plan_path = plan[0]
    loaded = load_plan(plan_path)  # checks format, checksum and fingerprint, and replays it
    written_to: dict[str, str] = {}
    if html and write_atomic(html, render_html(loaded, plan_path=plan_path)):
        written_to["html"] = html
    if markdown and write_atomic(markdown, render_markdown(loaded, plan_path=plan_path)):
        written_to["markdown"] = markdown
    if as_json:
        _dump(written_to, out)
    else:
        # A report written to stdout (or a pipe, a device) is itself the output.
        for path in written_to.values():
            out.write(f"Report written to {path}\n")
    return EXIT["ok"]


PLAN_FILES = Arg.of(
    "plan",
    nargs="+",
    help="plan file(s) from 'groupify plan', or a directory of them (one per account)",
)
ROLE = (
    Arg.of(
        "--role-name",
        metavar="NAME",
        help="the role to assume in each account that is not the caller's "
        "(arn:PARTITION:iam::ACCOUNT:role/NAME)",
    ),
    Arg.of("--external-id", metavar="ID", help="the ExternalId the role's trust policy asks for"),
    Arg.of(
        "--account-workers",
        type=int,
        default=4,
        metavar="N",
        help="accounts worked on at once",
    ),
)
SECURITYHUB_REGION = Arg.of(
    "--securityhub-region",
    metavar="REGION",
    help="the Security Hub region to read (the aggregator region sees every linked one; "
    "default: --region)",
)

#: Every verb, in the order ``groupify --help`` lists them.
VERBS: tuple[Verb, ...] = (
    Verb(
        "scan",
        "read the account and list users failing IAM.2",
        SOURCE,
        scan_verb,
        "groupify scan --profile audit\n  groupify scan --from-gaad gaad.json --json",
    ),
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
        "groupify propose --from-gaad gaad.json --exclude-user breakglass-admin "
        "--out proposal.json",
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
                help="write the plan (JSON) here",
            ),
            KEY_FILE,
            Arg.of(
                "--organization",
                action="store_true",
                help="plan every active account of the AWS Organization (organizations:"
                "ListAccounts), one plan each in --out-dir",
            ),
            Arg.of(
                "--ou",
                action="append",
                default=[],
                metavar="OU",
                help="with --organization: only accounts under this OU (ou-… or r-…; "
                "nested ones too; repeatable)",
            ),
            Arg.of(
                "--accounts",
                action="append",
                default=[],
                metavar="ID[,ID…]",
                help="only these accounts (with --organization), or exactly these (without)",
            ),
            *ROLE,
            Arg.of(
                "--out-dir",
                metavar="DIR",
                help="with many accounts: write DIR/<account-id>.json for each",
            ),
            Arg.of(
                "--from-securityhub",
                action="store_true",
                help="migrate only users with an open FAILED IAM.2 finding in Security Hub",
            ),
            SECURITYHUB_REGION,
        ),
        plan_verb,
        "groupify plan --from-gaad gaad.json --exclude-tag BreakGlass --out plan.json\n"
        "  groupify plan --proposal proposal.json --out plan.json\n"
        "  groupify plan --organization --role-name GroupifyMember --out-dir plans/",
    ),
    Verb(
        "apply",
        "apply a plan (asks first; --dry-run changes nothing)",
        (
            PLAN_FILES,
            Arg.of("--dry-run", action="store_true", help="report what would be done; no change"),
            Arg.of(
                "--detailed-exitcode",
                action="store_true",
                help="with --dry-run: exit 5 when there are steps to run, 0 when none",
            ),
            Arg.of(
                "--journal",
                metavar="FILE",
                help="journal to resume from and roll back with (default: PLAN.journal)",
            ),
            YES,
            Arg.of("--workers", type=int, default=4, help="parallel IAM calls"),
            Arg.of(
                "--settle",
                type=seconds,
                default=5.0,
                metavar="SECONDS",
                help="wait between granting a user's group access and removing its direct policies",
            ),
            Arg.of(
                "--route-age",
                type=positive_seconds,
                default=ROUTE_AGE,
                metavar="SECONDS",
                help="how long before removing a direct policy the read showing its group "
                "route may have begun (default: %(default)s)",
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
            ALLOW_UNMATCHED,
            KEY_FILE,
            *AWS_ARGS,
            *ROLE,
            JSON,
        ),
        apply_verb,
        "groupify apply plan.json --dry-run\n  groupify apply plan.json --exclude-tag BreakGlass",
    ),
    Verb(
        "verify",
        "check IAM.2 and unchanged access after a run",
        (
            Arg.of("plan", nargs="+", help="plan file(s) the run applied, or a directory"),
            *AWS_ARGS,
            *ROLE,
            Arg.of(
                "--securityhub",
                action="store_true",
                help="account for the open IAM.2 findings: resolved by the change, or still open",
            ),
            Arg.of(
                "--suppress-exceptions",
                action="store_true",
                help="with --securityhub: set the documented exceptions' IAM.2 findings to "
                "SUPPRESSED, citing their reason (only in accounts whose verify passes)",
            ),
            SECURITYHUB_REGION,
            JSON,
        ),
        verify_verb,
        "groupify verify plan.json",
    ),
    Verb(
        "report",
        "write a plan's change-approval report (self-contained HTML or Markdown)",
        (
            PLAN_FILES,
            Arg.of("--html", metavar="FILE", help="write the report as one HTML file here"),
            Arg.of(
                "--markdown", metavar="FILE", help="write the report as Markdown here ('-': stdout)"
            ),
            JSON,
        ),
        report_verb,
        "groupify report plan.json --html change.html --markdown change.md",
    ),
    Verb(
        "export",
        "write a plan as Terraform or CloudFormation, in two stages (stage 2 after stage 1)",
        (
            Arg.of("plan", help="plan file from 'groupify plan'"),
            Arg.of(
                "--terraform",
                metavar="DIR",
                help="write the Terraform export in DIR (README.md, stage1/, stage2/)",
            ),
            Arg.of(
                "--tf-json",
                action="store_true",
                help="with --terraform: Terraform's JSON syntax (.tf.json) instead of HCL (.tf)",
            ),
            Arg.of(
                "--cloudformation",
                metavar="DIR",
                help="write the CloudFormation export in DIR (a stage-1 template, stage 2's calls)",
            ),
            JSON,
        ),
        export_verb,
        "groupify export plan.json --terraform groups-tf/\n"
        "  groupify export plan.json --cloudformation groups-cfn/",
    ),
    Verb(
        "rollback",
        "undo what the runs in a journal did",
        (
            Arg.of(
                "--journal",
                metavar="FILE",
                action="append",
                required=True,
                help="journal written by apply (repeatable, or a directory: each in its account)",
            ),
            YES,
            Arg.of("--dry-run", action="store_true", help="list the calls that would undo it"),
            Arg.of(
                "--settle",
                type=seconds,
                default=5.0,
                metavar="SECONDS",
                help="wait between restoring a user's direct policies and removing its membership",
            ),
            Arg.of(
                "--route-age",
                type=positive_seconds,
                default=ROUTE_AGE,
                metavar="SECONDS",
                help="how long before removing a membership the read showing the user's direct "
                "policies back may have begun (default: %(default)s)",
            ),
            *AWS_ARGS,
            *ROLE,
            JSON,
        ),
        rollback_verb,
        "groupify rollback --journal plan.json.journal --dry-run",
    ),
)
