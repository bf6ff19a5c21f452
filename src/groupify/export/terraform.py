"""A plan as Terraform: stage 1 as resources, stage 2 as IAM calls (:mod:`~.stage2`).

:data:`TERRAFORM` is the op table's Terraform backend: each plan op adds its
code form to a :class:`_Module` (``create_group`` an ``aws_iam_group``,
``add_user_to_group`` a group in the user's ``aws_iam_user_group_membership``,
a removal a line of stage 2). The module is then written as HCL, formatted as
``terraform fmt`` would (the default: it is what a reviewer reads and what is
merged into existing code, and it carries the reviewer's notes as comments),
or as Terraform's JSON syntax (``.tf.json``, for pipelines that generate code).

Only non-exclusive resources are written: ``aws_iam_user_group_membership``
adds a user to groups and leaves its other memberships alone; a group the
plan reuses is read with ``data "aws_iam_group"``, never declared.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from attrs import define, field, frozen

from groupify.errors import InputError
from groupify.export.common import (
    Exported,
    checked,
    header_lines,
    identifiers,
    review_notes,
    terraform_identifier,
    wrap,
)
from groupify.export.stage2 import GRANTS, SCRIPT, stage2_grants, stage2_readme, stage2_script
from groupify.inventory.policy import canonical_document
from groupify.plan.model import Plan
from groupify.plan.ops import PLAN_OPS, Backend

__all__ = ["TERRAFORM", "terraform_files"]

#: The AWS provider versions the resources are written for.
PROVIDER = ">= 4.0"


@frozen
class Expr:
    """A Terraform expression (a reference), written bare in HCL and as ``${…}`` in JSON."""

    text: str


@frozen
class Document:
    """A policy document (canonical JSON): a heredoc in HCL, a string in JSON."""

    canonical: str


Value = str | Expr | Document | tuple["Value", ...]


@define
class Block:
    """One ``resource`` or ``data`` block."""

    kind: str
    type: str
    name: str
    body: list[tuple[str, Value]] = field(factory=list)
    comments: list[str] = field(factory=list)

    @property
    def address(self) -> str:
        prefix = "data." if self.kind == "data" else ""
        return f"{prefix}{self.type}.{self.name}"


class _Module:
    """Stage 1 as blocks, gathered step by step; names fixed up front from the plan."""

    def __init__(self, exported: Exported) -> None:
        plan = exported.plan
        self.exported = exported
        self.notes = review_notes(plan)
        self.created_groups = plan.created_groups
        self.group_id = identifiers(
            exported.group_order, terraform_identifier, suffix=lambda d: "_" + d
        )
        self.user_id = identifiers(
            (s.params["UserName"] for s in plan.steps if s.op == "add_user_to_group"),
            terraform_identifier,
            suffix=lambda d: "_" + d,
        )
        made = {
            plan.inventory.policy_arn(s.params["PolicyName"], s.params.get("Path", "/")): s
            for s in plan.steps
            if s.op == "create_policy"
        }
        self.policy_id = identifiers(
            made, lambda arn: terraform_identifier(arn.rsplit("/", 1)[-1]), suffix=lambda d: "_" + d
        )
        #: Per (group, what it is given: an attached ARN, or "inline/" and a name): its
        #: identifier within the group, from the last part of the name.
        given: dict[tuple[str, str], list[str]] = {}
        for s in plan.steps:
            if s.op == "attach_group_policy":
                given.setdefault((s.params["GroupName"], "attach"), []).append(
                    s.params["PolicyArn"]
                )
            elif s.op == "put_group_policy":
                given.setdefault((s.params["GroupName"], "inline"), []).append(
                    s.params["PolicyName"]
                )
        self.given = {
            key: identifiers(
                names,
                lambda name: terraform_identifier(name.rsplit("/", 1)[-1]),
                suffix=lambda d: "_" + d,
            )
            for key, names in given.items()
        }
        self.policies: list[Block] = []
        self.groups: dict[str, list[Block]] = {}
        self.memberships: dict[str, list[str]] = {}

    def group_ref(self, group: str) -> Expr:
        ident = self.group_id[group]
        if group in self.created_groups:
            return Expr(f"aws_iam_group.{ident}.name")
        return Expr(f"data.aws_iam_group.{ident}.group_name")

    def section(self, group: str) -> list[Block]:
        """The blocks about *group*; a reused group starts with its data source."""
        if group not in self.groups:
            blocks: list[Block] = []
            if group not in self.created_groups:
                blocks.append(
                    Block(
                        "data",
                        "aws_iam_group",
                        self.group_id[group],
                        [("group_name", group)],
                        [
                            f"{group}: an existing group the plan reuses (read, never managed "
                            "here)",
                            *self.group_comments(group),
                        ],
                    )
                )
            self.groups[group] = blocks
        return self.groups[group]

    def group_comments(self, group: str) -> list[str]:
        about = self.notes["groups"].get(group, {"reason": "", "risks": []})
        out = [f"why: {about['reason']}"] if about["reason"] else []
        return out + [f"risk: {flag}" for flag in about["risks"]]

    def named(self, group: str, kind: str, name: str) -> str:
        """The address name of what *group* is given: ``<group>__<policy>``."""
        return f"{self.group_id[group]}__{self.given[group, kind][name]}"


def _go_float(value: float) -> str | None:
    """How Go's encoding/json writes *value* (a float64), in its plain range; else None."""
    import decimal

    if value == 0:
        return "-0" if math.copysign(1, value) < 0 else "0"
    if not 1e-6 <= abs(value) < 1e21:
        return None  # exponent form: refused rather than emulated
    return format(decimal.Decimal(repr(value)).normalize(), "f")


def _survives_terraform(document: str, policy: str) -> str:
    """*document* canonical, if Terraform's AWS provider sends it to IAM unchanged.

    The provider decodes a policy's JSON and encodes it again through Go's float64:
    ``3600.0`` is sent as ``3600`` and an integer past 2**53 loses digits
    (``12345678901234567890`` becomes ``12345678901234567000``), so IAM would hold
    another document than the plan's (in the second case, another condition). Such a
    document is refused, naming the number, rather than exported.
    """
    found: list[tuple[str, str]] = []

    def number(text: str) -> float:
        value = float(text)
        sent = _go_float(value)
        if sent != text:
            found.append((text, sent or f"{value!r} in exponent form"))
        return value

    def integer(text: str) -> int:
        if abs(int(text)) > 2**53:
            found.append((text, _go_float(float(text)) or "another number"))
        return int(text)

    canonical = canonical_document(document)
    json.loads(canonical, parse_float=number, parse_int=integer)
    if found:
        text, sent = found[0]
        raise InputError(
            f"policy {policy!r}: its document holds the number {text}, which Terraform's AWS "
            f"provider would send to IAM as {sent} (it re-encodes policies through a float64), "
            "so IAM would not hold the plan's document; write the number as a string in the "
            "source policy, or apply this plan with groupify apply"
        )
    return canonical


#: The Terraform backend: each plan op's code form.
TERRAFORM: Backend[Callable[[_Module, Mapping[str, str]], None]] = Backend("terraform", PLAN_OPS)


@TERRAFORM.register("create_policy")
def _create_policy(m: _Module, p: Mapping[str, str]) -> None:
    path = p.get("Path", "/")
    arn = m.exported.plan.inventory.policy_arn(p["PolicyName"], path)
    body: list[tuple[str, Value]] = [("name", p["PolicyName"]), ("path", path)]
    if "Description" in p:
        body.append(("description", p["Description"]))
    body.append(("policy", Document(_survives_terraform(p["PolicyDocument"], p["PolicyName"]))))
    comment = "a policy the plan creates from an inline document (its groups attach it)"
    m.policies.append(Block("resource", "aws_iam_policy", m.policy_id[arn], body, [comment]))


@TERRAFORM.register("create_group")
def _create_group(m: _Module, p: Mapping[str, str]) -> None:
    group = p["GroupName"]
    body: list[tuple[str, Value]] = [("name", group)]
    if "Path" in p:
        body.append(("path", p["Path"]))
    comments = [f"{group}: a new group", *m.group_comments(group)]
    m.section(group).append(Block("resource", "aws_iam_group", m.group_id[group], body, comments))


@TERRAFORM.register("attach_group_policy")
def _attach_group_policy(m: _Module, p: Mapping[str, str]) -> None:
    group, arn = p["GroupName"], p["PolicyArn"]
    made = m.policy_id.get(arn)
    policy: Value = Expr(f"aws_iam_policy.{made}.arn") if made else arn
    m.section(group).append(
        Block(
            "resource",
            "aws_iam_group_policy_attachment",
            m.named(group, "attach", arn),
            [("group", m.group_ref(group)), ("policy_arn", policy)],
        )
    )


@TERRAFORM.register("put_group_policy")
def _put_group_policy(m: _Module, p: Mapping[str, str]) -> None:
    group = p["GroupName"]
    m.section(group).append(
        Block(
            "resource",
            "aws_iam_group_policy",
            m.named(group, "inline", p["PolicyName"]),
            [
                ("name", p["PolicyName"]),
                ("group", m.group_ref(group)),
                ("policy", Document(_survives_terraform(p["PolicyDocument"], p["PolicyName"]))),
            ],
        )
    )


@TERRAFORM.register("add_user_to_group")
def _add_user_to_group(m: _Module, p: Mapping[str, str]) -> None:
    m.section(p["GroupName"])
    m.memberships.setdefault(p["UserName"], []).append(p["GroupName"])


@TERRAFORM.register("detach_user_policy", "delete_user_policy")
def _stage2(m: _Module, p: Mapping[str, str]) -> None:
    # Stage 2 is not Terraform: the grant lives in the user's code or nowhere
    # (see groupify.export.stage2, which renders these steps from the plan).
    return None


def _module(exported: Exported) -> _Module:
    m = _Module(exported)
    for step in exported.plan.steps:
        TERRAFORM[step.op](m, step.params)
    return m


def _blocks(m: _Module) -> list[Block]:
    out = list(m.policies)
    for blocks in m.groups.values():
        out += blocks
    for user in sorted(m.memberships):
        groups = tuple(m.group_ref(g) for g in m.memberships[user])
        out.append(
            Block(
                "resource",
                "aws_iam_user_group_membership",
                m.user_id[user],
                [("user", user), ("groups", groups)],
                [f"{user} joins {', '.join(m.memberships[user])} (its other groups stay)"],
            )
        )
    return out


# -- HCL ----------------------------------------------------------------------------------


def _hcl_string(text: str) -> str:
    out = text.replace("\\", "\\\\").replace('"', '\\"')
    out = out.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return '"' + _template_escape(out) + '"'


def _template_escape(text: str) -> str:
    """Terraform reads ``${`` and ``%{`` in a string or heredoc as a template: doubled, they
    are the characters themselves (IAM policy variables such as ``${aws:username}``)."""
    return text.replace("${", "$${").replace("%{", "%%{")


def _hcl_lines(value: Value, indent: str) -> list[str]:
    """*value* as HCL: one line, or (lists, documents) the lines after the first."""
    if isinstance(value, Expr):
        return [value.text]
    if isinstance(value, str):
        return [_hcl_string(value)]
    if isinstance(value, Document):
        pretty = json.dumps(json.loads(value.canonical), indent=2, ensure_ascii=False)
        inner = indent + "  "
        # split("\n"), not splitlines(): a document may hold U+0085 or U+2028 inside a
        # string, which splitlines() would break the JSON at.
        body = [inner + line for line in _template_escape(pretty).split("\n")]
        return ["<<-EOT", *body, indent + "EOT"]
    items = [_hcl_lines(v, indent + "  ")[0] for v in value]
    return ["[", *(f"{indent}  {item}," for item in items), indent + "]"]


def _hcl_block(block: Block) -> str:
    lines = [f"# {c}".rstrip() for c in wrap(block.comments)]
    lines.append(f'{block.kind} "{block.type}" "{block.name}" {{')
    rendered = [(key, _hcl_lines(value, "  ")) for key, value in block.body]
    # terraform fmt aligns the "=" of a run of attributes. A heredoc ends the run it is in;
    # a list over many lines stands alone.
    runs: list[list[tuple[str, list[str]]]] = [[]]
    for key, value_lines in rendered:
        if isinstance(dict(block.body)[key], tuple) and runs[-1]:
            runs.append([])
        runs[-1].append((key, value_lines))
        if len(value_lines) > 1:
            runs.append([])
    for run in runs:
        width = max((len(key) for key, _ in run), default=0)
        for key, value_lines in run:
            lines.append(f"  {key.ljust(width)} = {value_lines[0]}")
            lines += value_lines[1:]
    lines.append("}")
    return "\n".join(lines)


def _comment(lines: Sequence[str]) -> str:
    return "\n".join(f"# {line}".rstrip() for line in lines)


def _hcl(m: _Module) -> str:
    head = header_lines(m.notes, what=_STAGE1)
    parts = [_comment(head), *(_hcl_block(b) for b in _blocks(m))]
    return "\n\n".join(parts) + "\n"


_STAGE1 = (
    "groupify stage 1: the groups, their policies and memberships. Apply it first; "
    "it only adds access routes, so no one loses or gains access. Stage 2 (../stage2) "
    "removes the users' direct grants, and only after this is applied."
)

_VERSIONS_HCL = f"""terraform {{
  required_version = ">= 1.0"
  required_providers {{
    aws = {{
      source  = "hashicorp/aws"
      version = "{PROVIDER}"
    }}
  }}
}}
"""


# -- JSON syntax --------------------------------------------------------------------------


def _json_value(value: Value) -> Any:
    if isinstance(value, Expr):
        return "${" + value.text + "}"
    if isinstance(value, str):
        return _template_escape(value)
    if isinstance(value, Document):
        return _template_escape(value.canonical)
    return [_json_value(v) for v in value]


def _tf_json(m: _Module) -> str:
    root: dict[str, Any] = {"//": "\n".join(header_lines(m.notes, what=_STAGE1))}
    for block in _blocks(m):
        body: dict[str, Any] = {}
        if block.comments:
            body["//"] = "\n".join(block.comments)
        body.update({key: _json_value(value) for key, value in block.body})
        root.setdefault(block.kind, {}).setdefault(block.type, {})[block.name] = body
    return json.dumps(root, indent=2, ensure_ascii=False) + "\n"


_VERSIONS_JSON = (
    json.dumps(
        {
            "terraform": {
                "required_version": ">= 1.0",
                "required_providers": {"aws": {"source": "hashicorp/aws", "version": PROVIDER}},
            }
        },
        indent=2,
    )
    + "\n"
)


# -- the export ---------------------------------------------------------------------------


def _readme(exported: Exported, *, tf_json: bool) -> str:
    plan = exported.plan
    ext = ".tf.json" if tf_json else ".tf"
    return f"""# groupify export: Terraform

Account {plan.account_id}, plan `{plan.fingerprint}`. Two stages, applied in this order:

1. **`stage1/`**: the groups, their policies and memberships (`groups{ext}`;
   `versions{ext}` pins the AWS provider, leave it out when you copy the resources into a
   configuration that has its own). Review it (the comments list the risk review and the
   documented exceptions), then either copy the resources into the configuration that
   manages your IAM, or apply `stage1/` as its own root module (`terraform init`,
   `terraform plan`, `terraform apply`). It only adds: no one loses or gains access.
2. **`stage2/`**: only after stage 1 is applied. The users' direct grants are removed
   where they live: from your own code (`stage2/README.md` lists them per user), or, for
   grants managed nowhere, with `stage2/{SCRIPT}`, which checks that stage 1 is in place
   before each user's removals.

Then `groupify verify PLAN` confirms that IAM.2 passes and no one's access changed.

**A later export never replaces this one.** Once stage 1 is applied, the groups it made
exist; a new plan of the account reads them (`data "aws_iam_group"`) instead of declaring
them. Copied over this directory, or into the configuration these resources went into,
its `terraform plan` would destroy them, and with them the access of users whose direct
grants stage 2 removed. Export each new plan into a new directory with its own state, and
never apply a `terraform plan` that destroys a group.

The memberships are `aws_iam_user_group_membership` resources, which add a user to groups
and leave its other memberships alone. If your code manages a group this export reuses
(read with `data "aws_iam_group"`) with an exclusive `aws_iam_group_membership`, add the
users there instead: the exclusive resource would take them out on its next apply.
"""


def terraform_files(plan: Plan, *, tf_json: bool = False) -> dict[str, str]:
    """*plan*'s Terraform export: path (relative to the export directory) → text.

    Raises as :meth:`Plan.verify` does for a plan that does not verify.
    """
    exported = checked(plan)
    m = _module(exported)
    ext = ".tf.json" if tf_json else ".tf"
    return {
        "README.md": _readme(exported, tf_json=tf_json),
        f"stage1/groups{ext}": _tf_json(m) if tf_json else _hcl(m),
        f"stage1/versions{ext}": _VERSIONS_JSON if tf_json else _VERSIONS_HCL,
        "stage2/README.md": stage2_readme(exported, target="terraform"),
        f"stage2/{GRANTS}": stage2_grants(exported),
        f"stage2/{SCRIPT}": stage2_script(exported),
    }
