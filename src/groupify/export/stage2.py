"""Stage 2 of an export: the removal of the users' direct grants, as IAM calls and a list.

Neither Terraform nor CloudFormation can take away an attachment that it does
not manage, and the grants IAM.2 is about were usually made by hand. So stage
2 is, for both: a README that lists, per user, the grants to remove from the
user's own code where they live in code, and a shell script of the plain IAM
calls (``aws iam detach-user-policy`` / ``delete-user-policy``) in plan order
for the grants managed nowhere. The script first checks, with read calls, that
stage 1 is in place (each group holds what replaces the grants; before a user's
first removal, that the user is in those groups), and stops at the first
failed check or call, before the next removal.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from typing import Any

from groupify.export.common import Exported, Route, routes
from groupify.plan.steps import Step

__all__ = ["GRANTS", "GRANTS_SCHEMA", "SCRIPT", "stage2_grants", "stage2_readme", "stage2_script"]

#: The script's file name, in the export's ``stage2/`` directory.
SCRIPT = "remove-direct-grants.sh"

#: The machine-readable list of the grants stage 2 removes, beside the script.
GRANTS = "grants.json"

#: The ``schema`` of :data:`GRANTS`.
GRANTS_SCHEMA = "groupify.export.grants/1"

_PRELUDE = r"""set -euo pipefail
set -o noglob # IAM names and ARNs are split into words below, never expanded

fail() {
  echo "stage 2 stopped: $*" >&2
  exit 1
}

has() { # WORD LIST...: whether WORD is one of LIST
  local want=$1 word
  shift
  for word in "$@"; do
    [[ $word == "$want" ]] && return 0
  done
  return 1
}

# The read calls print names separated by tabs and line breaks; IAM names hold neither.
# Names go as --flag=NAME: IAM allows a name that starts with "-".
# shellcheck disable=SC2086
require_member() { # USER GROUP
  local out
  out=$(aws iam list-groups-for-user --user-name="$1" --query 'Groups[].GroupName' \
    --output text) || fail "cannot read the groups of user $1: does it exist?"
  has "$2" $out || fail "user $1 is not in group $2: apply stage 1 first"
}

# shellcheck disable=SC2086
require_attached() { # GROUP POLICY_ARN
  local out
  out=$(aws iam list-attached-group-policies --group-name="$1" \
    --query 'AttachedPolicies[].PolicyArn' --output text) ||
    fail "cannot read the managed policies of group $1: is stage 1 applied?"
  has "$2" $out || fail "group $1 does not have $2 attached: apply stage 1 first"
}

# shellcheck disable=SC2086
require_inline() { # GROUP POLICY_NAME
  local out
  out=$(aws iam list-group-policies --group-name="$1" --query 'PolicyNames' \
    --output text) || fail "cannot read the inline policies of group $1: is stage 1 applied?"
  has "$2" $out || fail "group $1 has no inline policy $2: apply stage 1 first"
}

remove() { # the AWS CLI call that removes one direct grant
  local err
  if [[ -n ${DRY_RUN:-} ]]; then
    echo "would run: $*"
  elif err=$("$@" 2>&1 >/dev/null); then
    echo "done: $*"
  elif [[ $err == *NoSuchEntity* ]]; then
    echo "already gone: $*"
  else
    printf '%s\n' "$err" >&2
    fail "$*"
  fi
}
"""


def _check(route: Route) -> str:
    call = "require_attached" if route.kind == "managed" else "require_inline"
    return f"{call} {shlex.quote(route.group)} {shlex.quote(route.what)}"


def _removals(exported: Exported) -> list[Step]:
    return [s for s in exported.plan.steps if s.is_destructive]


def _grant(step: Step) -> str:
    p = step.params
    if step.op == "detach_user_policy":
        return f"managed policy `{p['PolicyArn']}`"
    return f"inline policy `{p['PolicyName']}`"


def stage2_script(exported: Exported) -> str:
    """The removal calls of the plan, in plan order, each after the checks that keep access."""
    plan = exported.plan
    found = routes(exported)
    removals = _removals(exported)
    users = sorted({s.params["UserName"] for s in removals})
    lines = [
        "#!/usr/bin/env bash",
        f"# groupify stage 2 for AWS account {plan.account_id}, plan {plan.fingerprint}:",
        f"# remove the direct grants of {len(users)} user(s) (Security Hub IAM.2).",
        "#",
        "# Run this ONLY after stage 1 (groups, policies, memberships) is applied. It checks",
        "# that first: every group holds what replaces the grants, and, before a user's first",
        "# removal, that the user is in those groups. A failed check or call stops the script",
        "# before the next removal. Grants already gone are reported and skipped, so it can",
        "# run again. DRY_RUN=1 makes the checks and prints the removals without making them.",
        "#",
        "# Grants that your own Terraform or CloudFormation code manages: remove them there",
        "# (README.md beside this script lists them per user), not here.",
        "#",
        "# Needs the AWS CLI, with credentials for the account allowed sts:GetCallerIdentity,",
        "# iam:ListGroupsForUser, iam:ListAttachedGroupPolicies, iam:ListGroupPolicies,",
        "# iam:DetachUserPolicy and iam:DeleteUserPolicy.",
        _PRELUDE,
        f"ACCOUNT_ID={plan.account_id}",
        "account=$(aws sts get-caller-identity --query Account --output text) ||",
        '  fail "cannot tell which account these credentials are for"',
        '[[ $account == "$ACCOUNT_ID" ]] || '
        'fail "these credentials are for account $account, not $ACCOUNT_ID"',
        "",
        "# -- stage 1 is in place: the groups hold what replaces the direct grants --",
    ]
    needed = sorted({r for s in removals for r in found[s.id]}, key=lambda r: (r.group, r.what))
    lines += [_check(r) for r in needed]
    lines += ["", "# -- per user, in plan order: its groups, then its direct grants go --"]
    checked_users: set[str] = set()
    for step in removals:
        user = step.params["UserName"]
        if user not in checked_users:
            checked_users.add(user)
            groups = sorted(
                {r.group for s in removals if s.params["UserName"] == user for r in found[s.id]}
            )
            lines += ["", f"# {user}: replaced by group(s) {', '.join(groups)}"]
            lines += [f"require_member {shlex.quote(user)} {shlex.quote(g)}" for g in groups]
        lines.append(f"remove {step.cli()}  # {step.id}")
    lines += ["", 'echo "stage 2 done: run groupify verify on the plan to confirm IAM.2"', ""]
    return "\n".join(lines)


def stage2_grants(exported: Exported) -> str:
    """The grants stage 2 removes, as JSON, for tools that find them in the user's own code.

    One entry per removal step, in plan order: the step id, the user, ``managed`` with the
    ``policy_arn`` or ``inline`` with the ``policy_name``, and the groups that replace it.
    """
    plan = exported.plan
    found = routes(exported)
    grants: list[dict[str, Any]] = []
    for step in _removals(exported):
        p = step.params
        entry: dict[str, Any] = {"step": step.id, "user": p["UserName"]}
        if step.op == "detach_user_policy":
            entry |= {"kind": "managed", "policy_arn": p["PolicyArn"]}
        else:
            entry |= {"kind": "inline", "policy_name": p["PolicyName"]}
        entry["replaced_by"] = sorted({r.group for r in found[step.id]})
        grants.append(entry)
    document = {
        "schema": GRANTS_SCHEMA,
        "account_id": plan.account_id,
        "fingerprint": plan.fingerprint,
        "grants": grants,
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


#: Where a user's direct grant may live in its own code, per target.
_IN_CODE: Mapping[str, str] = {
    "terraform": (
        "In Terraform, a user's direct grant is one of: an `aws_iam_user_policy_attachment` "
        "(its `user` and `policy_arn`), an `aws_iam_user_policy` (its `user` and `name`), "
        "or the user in the `users` list of an `aws_iam_policy_attachment`. Remove it "
        "there and apply: Terraform detaches or deletes it. Beware "
        "`aws_iam_policy_attachment`: it is exclusive, and on its next apply it detaches "
        "the policy from every user, group and role it does not list, the new groups "
        "included; replace it with `aws_iam_user_policy_attachment` resources (or add the "
        "new groups to its `groups`) before stage 1. A `removed` block only helps for a "
        "resource in your state: it forgets the resource without destroying it, which is "
        "not what stage 2 needs."
    ),
    "cloudformation": (
        "In CloudFormation, a user's direct grant is one of: an ARN in the "
        "`ManagedPolicyArns` or an entry in the `Policies` of an `AWS::IAM::User`, the "
        "user in the `Users` of an `AWS::IAM::ManagedPolicy` or `AWS::IAM::Policy`, or "
        "an `AWS::IAM::UserPolicy`. Remove it from that template and update the stack: "
        "CloudFormation detaches or deletes it."
    ),
}


def stage2_readme(exported: Exported, *, target: str) -> str:
    """The per-user list of the grants stage 2 removes, and where each may live."""
    plan = exported.plan
    found = routes(exported)
    removals = _removals(exported)
    by_user: dict[str, list[Step]] = {}
    for s in removals:
        by_user.setdefault(s.params["UserName"], []).append(s)
    lines = [
        "# Stage 2: remove the users' direct grants",
        "",
        f"Account {plan.account_id}, plan `{plan.fingerprint}`: "
        f"{len(removals)} direct grant(s) of {len(by_user)} user(s).",
        "",
        "**Only after stage 1 is applied.** Each grant below is replaced by a group that "
        "stage 1 creates or fills; removed before that group route is in place, it takes "
        "access away.",
        "",
        "Each grant is removed in one of two ways:",
        "",
        f"- **It lives in your own code.** {_IN_CODE[target]}",
        f"- **It is managed nowhere** (made by hand, the usual case): run `./{SCRIPT}` "
        "(first with `DRY_RUN=1`). It checks that stage 1 is in place, then makes the "
        "calls in plan order, and stops at the first failed check or call.",
        "",
        "Then `groupify verify PLAN` confirms that IAM.2 passes and no access changed.",
        "",
        f"The same list, for tools that find the grants in your code: `{GRANTS}` (each "
        "removal's step, user, `managed` policy ARN or `inline` policy name, and the "
        "groups that replace it).",
        "",
        "## Per user",
    ]
    for user in sorted(by_user):
        steps = by_user[user]
        groups = sorted({r.group for s in steps for r in found[s.id]})
        lines += ["", f"### {user}", "", f"Replaced by group(s) {', '.join(groups)}:", ""]
        for s in steps:
            verb = "detach" if s.op == "detach_user_policy" else "delete"
            lines.append(f"- {verb} {_grant(s)} (`{s.id}`)")
    return "\n".join(lines) + "\n"
