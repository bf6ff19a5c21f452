"""An independent reader of what ``groupify export`` writes: the end state it leads to.

It knows nothing of groupify's exporters: it reads the Terraform (with
python-hcl2, or as JSON) or the CloudFormation template the way the tool would
act on it, starting from the account the plan was made from, then runs the
stage-2 script's checks and calls on that state. Anything it does not
understand (another resource type, an exclusive resource, a reference it
cannot resolve) fails the test.
"""

from __future__ import annotations

import json
import re
import shlex
import textwrap
from copy import deepcopy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from groupify import Inventory, PolicyRef
from groupify.inventory.policy import canonical_document


@dataclass
class State:
    """IAM as the code and calls leave it (names, ARNs and canonical documents)."""

    account: str
    group_managed: dict[str, set[str]] = field(default_factory=dict)
    group_inline: dict[str, dict[str, str]] = field(default_factory=dict)
    members: dict[str, set[str]] = field(default_factory=dict)
    user_managed: dict[str, set[str]] = field(default_factory=dict)
    user_inline: dict[str, dict[str, str]] = field(default_factory=dict)
    created: dict[str, str] = field(default_factory=dict)
    new_groups: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, inv: Inventory) -> State:
        s = cls(inv.account_id)
        for g in inv.groups:
            s.group_managed[g.name] = set(g.managed)
            s.group_inline[g.name] = {p.name: p.document for p in g.inline}
            s.members[g.name] = set()
        for u in inv.users:
            s.user_managed[u.name] = set(u.managed)
            s.user_inline[u.name] = {p.name: p.document for p in u.inline}
            for g in u.groups:
                s.members[g].add(u.name)
        return s

    def new_group(self, name: str) -> None:
        assert name.lower() not in {g.lower() for g in self.group_managed}, name
        self.group_managed[name], self.group_inline[name], self.members[name] = set(), {}, set()
        self.new_groups.add(name)

    def ref(self, arn: str) -> PolicyRef:
        doc = self.created.get(arn)
        return PolicyRef("inline", doc) if doc is not None else PolicyRef("managed", arn)

    def access(self, user: str) -> frozenset[PolicyRef]:
        out = {self.ref(a) for a in self.user_managed[user]}
        out |= {PolicyRef("inline", d) for d in self.user_inline[user].values()}
        for g, users in self.members.items():
            if user in users:
                out |= {self.ref(a) for a in self.group_managed[g]}
                out |= {PolicyRef("inline", d) for d in self.group_inline[g].values()}
        return frozenset(out)

    def comparable(self) -> dict[str, Any]:
        return {
            "group_managed": {g: frozenset(a) for g, a in self.group_managed.items()},
            "group_inline": {g: dict(p) for g, p in self.group_inline.items()},
            "members": {g: frozenset(m) for g, m in self.members.items()},
            "user_managed": {u: frozenset(a) for u, a in self.user_managed.items()},
            "user_inline": {u: dict(p) for u, p in self.user_inline.items()},
            "created": dict(self.created),
        }


# -- Terraform ------------------------------------------------------------------------------

_TERRAFORM_TYPES = {
    "aws_iam_policy",
    "aws_iam_group",
    "aws_iam_group_policy_attachment",
    "aws_iam_group_policy",
    "aws_iam_user_group_membership",
}


def _untemplate(text: str) -> str:
    """A Terraform string's characters: ``$${`` and ``%%{`` are literal ``${`` and ``%{``; an
    unescaped template sequence is refused (the exporter never writes one)."""
    assert not re.search(r"(?<![$%])[$%]\{", text.replace("$${", "").replace("%%{", "")), text
    return text.replace("$${", "${").replace("%%{", "%{")


def _heredoc(text: str) -> str:
    """The content of ``<<-EOT … EOT`` as Terraform reads it (common indentation removed)."""
    match = re.fullmatch(r"<<(-?)([A-Z]+)\n(.*)\n[ \t]*\2\n?", text, re.S)
    assert match, text[:80]
    body = match.group(3)
    return _untemplate(textwrap.dedent(body) if match.group(1) else body)


def _tf_value(value: Any) -> Any:
    """A python-hcl2 value (quotes stripped) as ("ref", expr) or ("lit", text) or a list."""
    if isinstance(value, list):
        return [_tf_value(v) for v in value]
    assert isinstance(value, str), value
    if value.startswith("<<"):
        return ("lit", _heredoc(value))
    ref = re.fullmatch(r"\$\{([A-Za-z0-9_.]+)\}", value)
    if ref:
        return ("ref", ref.group(1))
    return ("lit", _untemplate(value))


def _json_value(value: Any) -> Any:
    """A ``.tf.json`` value: ``${…}`` alone is a reference, anything else a template string."""
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    ref = re.fullmatch(r"\$\{([A-Za-z0-9_.]+)\}", value)
    return ("ref", ref.group(1)) if ref else ("lit", _untemplate(value))


def read_hcl(path: Path) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """(resources, data sources) of a ``.tf`` file: ``{type: {name: {attr: value}}}``."""
    import hcl2
    from hcl2.utils import SerializationOptions

    with path.open(encoding="utf-8") as f:
        tree = hcl2.load(
            f,
            serialization_options=SerializationOptions(
                strip_string_quotes=True, explicit_blocks=False, with_comments=False
            ),
        )
    out: dict[str, dict[str, dict[str, Any]]] = {"resource": {}, "data": {}}
    for kind in out:
        for entry in tree.get(kind, []):
            for rtype, named in entry.items():
                for name, body in named.items():
                    assert name not in out[kind].get(rtype, {}), f"{rtype}.{name} twice"
                    out[kind].setdefault(rtype, {})[name] = {
                        k: _tf_value(v) for k, v in body.items()
                    }
    return out["resource"], out["data"]


def read_tf_json(path: Path) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    tree = json.loads(path.read_text(encoding="utf-8"))
    assert set(tree) <= {"//", "resource", "data"}, set(tree)
    out: dict[str, dict[str, dict[str, Any]]] = {"resource": {}, "data": {}}
    for kind in out:
        for rtype, named in tree.get(kind, {}).items():
            for name, body in named.items():
                out[kind].setdefault(rtype, {})[name] = {
                    k: _json_value(v) for k, v in body.items() if k != "//"
                }
    return out["resource"], out["data"]


def apply_terraform(
    state: State,
    resources: dict[str, dict[str, Any]],
    data: dict[str, dict[str, Any]],
) -> State:
    """What ``terraform apply`` of these resources does to *state* (a new state)."""
    s = deepcopy(state)
    assert set(resources) <= _TERRAFORM_TYPES, set(resources) - _TERRAFORM_TYPES
    assert set(data) <= {"aws_iam_group"}, set(data)
    values: dict[str, str] = {}
    for name, body in data.get("aws_iam_group", {}).items():
        kind, group = body["group_name"]
        assert kind == "lit" and group in s.group_managed, group  # it must exist already
        values[f"data.aws_iam_group.{name}.group_name"] = group

    def lit(value: Any) -> str:
        kind, text = value
        if kind == "lit":
            return str(text)
        assert text in values, f"unresolved reference {text}"
        return values[text]

    for name, body in resources.get("aws_iam_policy", {}).items():
        path = lit(body.get("path", ("lit", "/")))
        arn = f"arn:aws:iam::{s.account}:policy{path}{lit(body['name'])}"
        s.created[arn] = canonical_document(lit(body["policy"]))
        values[f"aws_iam_policy.{name}.arn"] = arn
    for name, body in resources.get("aws_iam_group", {}).items():
        s.new_group(lit(body["name"]))
        values[f"aws_iam_group.{name}.name"] = lit(body["name"])
    for body in resources.get("aws_iam_group_policy_attachment", {}).values():
        group, arn = lit(body["group"]), lit(body["policy_arn"])
        assert group in s.new_groups and arn not in s.group_managed[group]
        s.group_managed[group].add(arn)
    for body in resources.get("aws_iam_group_policy", {}).values():
        group, policy = lit(body["group"]), lit(body["name"])
        assert group in s.new_groups and policy not in s.group_inline[group]
        s.group_inline[group][policy] = canonical_document(lit(body["policy"]))
    for body in resources.get("aws_iam_user_group_membership", {}).values():
        user = lit(body["user"])
        assert user in s.user_managed
        for item in body["groups"]:
            s.members[lit(item)].add(user)
    return s


# -- CloudFormation -----------------------------------------------------------------------


def apply_cloudformation(state: State, template: dict[str, Any]) -> State:
    """What creating a stack of *template* does to *state* (a new state)."""
    s = deepcopy(state)
    resources = template["Resources"]
    refs: dict[str, str] = {}

    def value(v: Any) -> str:
        if isinstance(v, dict):
            assert set(v) == {"Ref"} and v["Ref"] in refs, v
            return refs[v["Ref"]]
        assert isinstance(v, str)
        return v

    def of_type(t: str) -> list[tuple[str, dict[str, Any]]]:
        return [(k, r["Properties"]) for k, r in resources.items() if r["Type"] == t]

    known = {
        "AWS::IAM::ManagedPolicy",
        "AWS::IAM::Group",
        "AWS::IAM::UserToGroupAddition",
    }
    assert {r["Type"] for r in resources.values()} <= known
    for lid, p in of_type("AWS::IAM::ManagedPolicy"):
        arn = f"arn:aws:iam::{s.account}:policy{p.get('Path', '/')}{p['ManagedPolicyName']}"
        s.created[arn] = canonical_document(p["PolicyDocument"])
        refs[lid] = arn
    for lid, p in of_type("AWS::IAM::Group"):
        s.new_group(p["GroupName"])
        refs[lid] = p["GroupName"]
        for arn in p.get("ManagedPolicyArns", []):
            s.group_managed[p["GroupName"]].add(value(arn))
        for inline in p.get("Policies", []):
            s.group_inline[p["GroupName"]][inline["PolicyName"]] = canonical_document(
                inline["PolicyDocument"]
            )
    for _, p in of_type("AWS::IAM::UserToGroupAddition"):
        group = value(p["GroupName"])
        for user in p["Users"]:
            assert user in s.user_managed
            s.members[group].add(user)
    return s


# -- stage 2 ---------------------------------------------------------------------------------


def _flags(words: list[str]) -> dict[str, str]:
    assert len(words) % 2 == 0, words
    return {words[i]: words[i + 1] for i in range(0, len(words), 2)}


def run_stage2(state: State, script: str) -> State:
    """The script's checks (each must pass on *state*) and removal calls, in its order."""
    s = deepcopy(state)
    calls = ("require_member", "require_attached", "require_inline", "remove")
    for line in script.splitlines():
        if not line.startswith(tuple(c + " " for c in calls)) or "() {" in line:
            continue  # the functions' definitions, comments, the account check
        words = shlex.split(line, comments=True)
        if words[0] == "require_member":
            user, group = words[1:]
            assert user in s.members[group], line
        elif words[0] == "require_attached":
            group, arn = words[1:]
            assert arn in s.group_managed[group], line
        elif words[0] == "require_inline":
            group, name = words[1:]
            assert name in s.group_inline[group], line
        else:
            assert words[1:3] == ["aws", "iam"], line
            flags = _flags(words[4:])
            user = flags["--user-name"]
            if words[3] == "detach-user-policy":
                s.user_managed[user].remove(flags["--policy-arn"])
            else:
                assert words[3] == "delete-user-policy", line
                del s.user_inline[user][flags["--policy-name"]]
    return s
