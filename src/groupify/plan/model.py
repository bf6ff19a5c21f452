"""Plans: IAM calls in a verified, deterministic order, and the plan file.

A :class:`Step` is one IAM API call named as boto3 names it, with boto3's
parameter names. :func:`build_plan` turns a :class:`~groupify.Proposal` into a
networkx DAG of steps (attach and add before detach or delete, per user),
orders it deterministically and replays it on a model of the account; a plan
that would open a gap or widen access raises instead of being returned.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from functools import cached_property
from typing import Any

import networkx as nx
from attrs import field, frozen

from groupify import __name__ as _pkg
from groupify._files import read_json, write_atomic
from groupify.errors import PlanFormatError, PlanVerificationError, StalePlanError
from groupify.inventory.model import Inventory, PolicyRef
from groupify.inventory.names import POLICY_NAME_MAX, slug, validate_name
from groupify.inventory.policy import digest, document_size
from groupify.plan.replay import check_steps, policy_arn
from groupify.proposal.strategies import Exemption, Exemptions, Proposal, _exemptions, _strings

__all__ = ["FORMAT", "OPS", "Plan", "Quota", "Step", "build_plan", "load_plan"]

FORMAT = "groupify.plan/1"

#: The IAM calls a plan may hold, in the order a plan runs them when free to choose.
OPS: tuple[str, ...] = (
    "create_policy",
    "create_group",
    "attach_group_policy",
    "put_group_policy",
    "add_user_to_group",
    "detach_user_policy",
    "delete_user_policy",
)

_PARAMS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    # op: (required, optional)
    "create_policy": (
        frozenset({"PolicyName", "PolicyDocument"}),
        frozenset({"Path", "Description"}),
    ),
    "create_group": (frozenset({"GroupName"}), frozenset({"Path"})),
    "attach_group_policy": (frozenset({"GroupName", "PolicyArn"}), frozenset()),
    "put_group_policy": (frozenset({"GroupName", "PolicyName", "PolicyDocument"}), frozenset()),
    "add_user_to_group": (frozenset({"GroupName", "UserName"}), frozenset()),
    "detach_user_policy": (frozenset({"UserName", "PolicyArn"}), frozenset()),
    "delete_user_policy": (frozenset({"UserName", "PolicyName"}), frozenset()),
}

#: Path of the customer-managed policies groupify creates, so they are easy to find.
CREATED_POLICY_PATH = "/groupify/"


def _params(items: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(items))


def _sorted_strings(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(items))


def _dicts(items: Iterable[dict[str, Any]]) -> tuple[dict[str, Any], ...]:
    return tuple(items)


@frozen
class Step:
    """One IAM call: ``op`` as the boto3 IAM client names it, ``params`` as boto3 takes them."""

    id: str
    op: str
    param_items: tuple[tuple[str, str], ...] = field(converter=_params)
    after: tuple[str, ...] = field(default=(), converter=_strings)

    @classmethod
    def make(cls, id: str, op: str, params: Mapping[str, str], after: Iterable[str] = ()) -> Step:
        return cls(id, op, tuple(params.items()), tuple(after))

    @property
    def params(self) -> dict[str, str]:
        return dict(self.param_items)

    @property
    def is_destructive(self) -> bool:
        """Whether the step removes access from a user (detach or delete)."""
        return self.op in ("detach_user_policy", "delete_user_policy")

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "op": self.op, "params": self.params, "after": list(self.after)}

    def cli(self) -> str:
        """The same call as an AWS CLI command line."""
        words = ["aws", "iam", self.op.replace("_", "-")]
        for key, value in self.param_items:
            flag = "--" + "".join("-" + c.lower() if c.isupper() else c for c in key).lstrip("-")
            words += [flag, _quote(value)]
        return " ".join(words)

    def __repr__(self) -> str:
        target = self.params.get("UserName") or self.params.get("GroupName") or ""
        what = self.params.get("PolicyArn", self.params.get("PolicyName", ""))
        detail = ", ".join(x for x in (target, what.rsplit("/", 1)[-1]) if x)
        return f"Step({self.id} {self.op} {detail})"


def _quote(value: str) -> str:
    if value and all(c.isalnum() or c in "_-+=,.@/:" for c in value):
        return value
    return "'" + value.replace("'", "'\\''") + "'"


def _steps(items: Iterable[Step]) -> tuple[Step, ...]:
    return tuple(items)


@frozen
class Quota:
    """One IAM quota against what a plan takes of it (``reached``; ``None``: unused)."""

    label: str
    key: str  # the GetAccountSummary key
    limit: int
    reached: int | None
    where: str

    @property
    def headroom(self) -> int | None:
        return None if self.reached is None else self.limit - self.reached

    @property
    def share(self) -> float:
        return 0.0 if self.reached is None or not self.limit else self.reached / self.limit


@frozen
class Plan:
    """Ordered, verified IAM calls for one inventory, with what a reviewer needs."""

    inventory: Inventory = field(repr=False)
    steps: tuple[Step, ...] = field(converter=_steps)
    strategy: str = "exact"
    exceptions: tuple[Exemption, ...] = field(default=(), converter=_exemptions)
    groups: tuple[dict[str, Any], ...] = field(default=(), converter=_dicts, eq=False)
    #: Users whose direct policies the plan removes, all of them.
    in_scope: tuple[str, ...] = field(default=(), converter=_sorted_strings)
    #: The exemption rules the plan was made with, re-checked against the live account.
    exemptions: Exemptions = field(default=Exemptions(), eq=False)
    #: What the plan file said of itself when loaded: who wrote it, and its checksum.
    generator: str | None = field(default=None, eq=False)
    checksum: str | None = field(default=None, eq=False)

    @property
    def account_id(self) -> str:
        return self.inventory.account_id

    @property
    def fingerprint(self) -> str:
        return self.inventory.fingerprint

    @cached_property
    def graph(self) -> Any:
        """The steps as a networkx DiGraph (edges from prerequisite to step)."""
        g = nx.DiGraph()
        for s in self.steps:
            g.add_node(s.id, step=s)
            for dep in s.after:
                g.add_edge(dep, s.id)
        return g

    def verify(self) -> Plan:
        """Replay the steps on the inventory; raise :class:`PlanVerificationError` if unsafe."""
        if not nx.is_directed_acyclic_graph(self.graph):
            raise PlanVerificationError("the plan's steps have a cycle")
        protected = {e.user: e.reason for e in self.exceptions}
        caller = self.inventory.caller_user
        if caller:
            protected.setdefault(caller, "runs groupify")
        touched = sorted(set(self.in_scope) & set(protected))
        if touched:
            raise PlanVerificationError(
                f"user {touched[0]!r} is exempt ({protected[touched[0]]}) but in scope",
                user=touched[0],
            )
        check_steps(self.inventory, self.steps, in_scope=self.in_scope, protected=protected)
        return self

    def summary(self) -> dict[str, Any]:
        ops = Counter(s.op for s in self.steps)
        return {
            "strategy": self.strategy,
            "users_migrated": len(self.in_scope),
            "exceptions": len(self.exceptions),
            "groups_created": ops["create_group"],
            "groups_reused": sum(1 for g in self.groups if g.get("existing")),
            "policies_created": ops["create_policy"],
            "steps": len(self.steps),
            "steps_by_op": {op: ops[op] for op in OPS if ops[op]},
        }

    def headroom(self) -> list[Quota]:
        """How close the finished plan brings the account to each IAM quota.

        ``reached`` is ``None`` where the plan does not use a quota; ``where``
        names the user or group that comes closest.
        """
        inv = self.inventory
        q = inv.quotas
        keys = q.SUMMARY_KEYS
        joins: Counter[str] = Counter()
        managed: Counter[str] = Counter()
        inline: Counter[str] = Counter()
        made = []
        for s in self.steps:
            p = s.params
            if s.op == "add_user_to_group":
                joins[p["UserName"]] += 1
            elif s.op == "attach_group_policy":
                managed[p["GroupName"]] += 1
            elif s.op == "put_group_policy":
                inline[p["GroupName"]] += document_size(p["PolicyDocument"])
            elif s.op == "create_policy":
                made.append(s)

        def most(counts: Counter[str]) -> tuple[str, int] | None:
            # Ties go to the alphabetically first name, so the report is stable.
            return max(sorted(counts.items()), key=lambda kv: kv[1], default=None)

        out = []
        top = most(Counter({u: len(inv.user_by_name[u].groups) + joins[u] for u in self.in_scope}))
        out.append(
            Quota(
                "Groups per user",
                keys["groups_per_user"],
                q.groups_per_user,
                top[1] if top else None,
                f"most: {top[0]} ({top[1] - joins[top[0]]} now + {joins[top[0]]} joined)"
                if top
                else "",
            )
        )
        top = most(managed)
        out.append(
            Quota(
                "Managed policies per group",
                keys["managed_policies_per_group"],
                q.managed_policies_per_group,
                top[1] if top else None,
                f"most: {top[0]}" if top else "no managed policy is attached to a new group",
            )
        )
        top = most(inline)
        out.append(
            Quota(
                "Group inline policy characters",
                keys["group_inline_chars"],
                q.group_inline_chars,
                top[1] if top else None,
                f"most: {top[0]} (whitespace not counted, as in IAM)"
                if top
                else "no inline policy is put on a group",
            )
        )
        existing = inv.existing_group_count
        new = sum(1 for s in self.steps if s.op == "create_group")
        out.append(
            Quota(
                "Groups per account",
                keys["groups_per_account"],
                q.groups_per_account,
                existing + new,
                f"{existing} existing + {new} new",
            )
        )
        known = len(inv.policies)
        out.append(
            Quota(
                "Customer-managed policies",
                keys["policies_per_account"],
                q.policies_per_account,
                known + len(made),
                f"{known} existing + {len(made)} new",
            )
        )
        if made:
            largest = max(made, key=lambda s: document_size(s.params["PolicyDocument"]))
            out.append(
                Quota(
                    "Managed policy size (characters)",
                    keys["policy_size"],
                    q.policy_size,
                    document_size(largest.params["PolicyDocument"]),
                    f"largest: {largest.params['PolicyName']}",
                )
            )
        return out

    # -- file form ------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        from groupify import __version__

        body = {
            "format": FORMAT,
            "generator": f"{_pkg} {__version__}",
            "account_id": self.account_id,
            "fingerprint": self.fingerprint,
            "summary": self.summary(),
            "exceptions": [{"user": e.user, "reason": e.reason} for e in self.exceptions],
            "users_in_scope": list(self.in_scope),
            "exemptions": {
                "users": list(self.exemptions.users),
                "tags": list(self.exemptions.tags),
            },
            "groups": list(self.groups),
            "steps": [s.to_dict() for s in self.steps],
            "inventory": self.inventory.to_dict(),
        }
        body["checksum"] = _checksum(body)
        return body

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the plan file atomically (a partial file never replaces a good one)."""
        write_atomic(path, self.to_json())

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "plan") -> Plan:
        """Read and check a plan: format, checksum, fingerprint, then a full replay."""
        if not isinstance(data, dict):
            raise PlanFormatError(f"{source}: not a groupify plan (not a JSON object)")
        if data.get("format") != FORMAT:
            raise PlanFormatError(
                f"{source}: not a groupify plan of a known format "
                f"(format is {data.get('format')!r}, expected {FORMAT!r})"
            )
        if data.get("checksum") != _checksum({k: v for k, v in data.items() if k != "checksum"}):
            raise PlanFormatError(
                f"{source}: checksum does not match; the plan was changed after it was "
                "written (make a new plan instead of editing one)"
            )
        try:
            inventory = Inventory.from_dict(data["inventory"], source=source)
            steps = []
            for raw in data["steps"]:
                if set(raw) - {"id", "op", "params", "after"}:
                    raise PlanFormatError(f"{source}: step {raw.get('id')!r} has unknown keys")
                op = raw["op"]
                if op not in _PARAMS:
                    raise PlanFormatError(f"{source}: step {raw['id']!r}: unknown op {op!r}")
                params = raw["params"]
                required, optional = _PARAMS[op]
                if not isinstance(params, dict) or not all(
                    isinstance(v, str) for v in params.values()
                ):
                    raise PlanFormatError(f"{source}: step {raw['id']!r}: params must be strings")
                if not required <= set(params) or set(params) - required - optional:
                    raise PlanFormatError(
                        f"{source}: step {raw['id']!r}: {op} takes "
                        f"{', '.join(sorted(required))} (and optionally "
                        f"{', '.join(sorted(optional)) or 'nothing else'})"
                    )
                after = [str(a) for a in raw["after"]]
                if len(set(after)) != len(after):
                    raise PlanFormatError(f"{source}: step {raw['id']!r} lists a step twice")
                steps.append(Step.make(str(raw["id"]), op, params, after))
            exceptions = [
                Exemption(
                    e["user"],
                    e["reason"],
                    inventory.user_by_name[e["user"]].direct
                    if e["user"] in inventory.user_by_name
                    else (),
                )
                for e in data["exceptions"]
            ]
            plan = cls(
                inventory=inventory,
                steps=steps,
                strategy=str(data["summary"]["strategy"]),
                exceptions=exceptions,
                groups=data.get("groups", []),
                in_scope=[str(u) for u in data["users_in_scope"]],
                generator=data.get("generator"),
                checksum=data.get("checksum"),
                exemptions=Exemptions(
                    users=[str(u) for u in data.get("exemptions", {}).get("users", [])],
                    tags=[str(t) for t in data.get("exemptions", {}).get("tags", [])],
                ),
            )
        except PlanFormatError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise PlanFormatError(
                f"{source}: malformed plan ({type(exc).__name__}: {exc})"
            ) from None
        unknown = sorted(set(plan.in_scope) - set(inventory.user_by_name))
        if unknown:
            raise PlanFormatError(f"{source}: user {unknown[0]!r} in scope is not in the inventory")
        if data.get("fingerprint") != inventory.fingerprint or data.get("account_id") != (
            inventory.account_id
        ):
            raise PlanFormatError(f"{source}: fingerprint or account does not match its inventory")
        try:
            return plan.verify()
        except PlanVerificationError as exc:
            raise PlanVerificationError(f"{source}: {exc}", step=exc.step, user=exc.user) from None

    def check_inventory(self, inventory: Inventory) -> None:
        """Raise :class:`StalePlanError` unless *inventory* is the one the plan was built from."""
        if inventory.account_id != self.account_id:
            raise StalePlanError(
                f"plan is for account {self.account_id}, not {inventory.account_id}"
            )
        if inventory.fingerprint != self.fingerprint:
            raise StalePlanError(
                "the account changed since the plan was made (inventory fingerprint differs); "
                "make a new plan"
            )

    def _repr_html_(self) -> str:
        from groupify.notebook import plan_html

        return plan_html(self)

    def to_dataframe(self) -> Any:
        """Steps as a pandas DataFrame (needs ``groupify[notebook]``)."""
        from groupify.frames import plan_frame

        return plan_frame(self)

    def __repr__(self) -> str:
        return (
            f"Plan(account={self.account_id}, steps={len(self.steps)}, "
            f"users={len(self.in_scope)}, fingerprint={self.fingerprint[:19]})"
        )


def _checksum(body: Mapping[str, Any]) -> str:
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + digest(text, 64)


def load_plan(path: str | os.PathLike[str]) -> Plan:
    """Read a plan file written by :meth:`Plan.save` and verify it."""
    name = os.fspath(path)
    return Plan.from_dict(read_json(name, PlanFormatError, "not a JSON plan file"), source=name)


# -- building ---------------------------------------------------------------------


def _created_policy_name(ref: PolicyRef, inventory: Inventory) -> str:
    base = slug(inventory.label(ref)) or "inline"
    suffix = "-" + digest(ref.key, 8)
    return validate_name(
        base[: POLICY_NAME_MAX - len(suffix)] + suffix, kind="policy", max_length=POLICY_NAME_MAX
    )


def _inline_names(refs: Sequence[PolicyRef], inventory: Inventory) -> dict[PolicyRef, str]:
    """Group inline policy names: the document's most common name, unique within the group."""
    out: dict[PolicyRef, str] = {}
    used: set[str] = set()
    for ref in refs:
        candidates = inventory.inline_names.get(ref, ()) or (ref.id.replace(":", "-"),)
        name = next((c for c in candidates if c not in used), None)
        if name is None:
            stem = candidates[0][: POLICY_NAME_MAX - 9]
            name = f"{stem}-{digest(ref.key, 8)}"
        used.add(name)
        out[ref] = name
    return out


def build_plan(proposal: Proposal) -> Plan:
    """Turn a validated proposal into a verified plan.

    Raises :class:`PlanVerificationError` if the replay finds a gap or a
    widening: that would be a bug in groupify, never something to emit.
    """
    proposal = proposal.validate()
    inv = proposal.inventory
    graph = nx.DiGraph()
    keys: dict[int, tuple[Any, ...]] = {}
    calls: dict[int, tuple[str, dict[str, str]]] = {}

    def node(op: str, params: dict[str, str], key: tuple[Any, ...]) -> int:
        n = len(calls)
        calls[n] = (op, params)
        keys[n] = key
        graph.add_node(n)
        return n

    # Inline documents that become customer-managed policies: one policy each.
    created: dict[PolicyRef, tuple[int, str]] = {}
    for ref in sorted(proposal.created_policies):
        name = _created_policy_name(ref, inv)
        arn = policy_arn(inv, name, CREATED_POLICY_PATH)
        n = node(
            "create_policy",
            {
                "PolicyName": name,
                "Path": CREATED_POLICY_PATH,
                "PolicyDocument": ref.key,
                "Description": f"groupify: from inline policy {inv.label(ref)}"[:1000],
            },
            (0, name),
        )
        created[ref] = (n, arn)

    adds_of_user: dict[str, list[int]] = {}
    for gi, group in enumerate(sorted(proposal.groups, key=lambda g: g.name.lower())):
        gname = group.name
        grants: list[int] = []
        if not group.existing:
            create = node("create_group", {"GroupName": gname}, (1, gi, 0))
            inline = sorted(
                p for p in group.policies if not p.is_managed and p not in group.as_managed
            )
            names = _inline_names(inline, inv)
            for ref in sorted(group.policies):
                if ref.is_managed or ref in group.as_managed:
                    if ref.is_managed:
                        arn, deps = ref.key, [create]
                    else:
                        made, arn = created[ref]
                        deps = [create, made]
                    n = node(
                        "attach_group_policy",
                        {"GroupName": gname, "PolicyArn": arn},
                        (1, gi, 1, arn),
                    )
                else:
                    deps = [create]
                    n = node(
                        "put_group_policy",
                        {"GroupName": gname, "PolicyName": names[ref], "PolicyDocument": ref.key},
                        (1, gi, 2, names[ref]),
                    )
                graph.add_edges_from((d, n) for d in deps)
                grants.append(n)
            if not grants:
                grants.append(create)
        current = {m for m in group.members if gname in inv.user_by_name[m].groups}
        for member in sorted(group.members - current):
            n = node(
                "add_user_to_group",
                {"GroupName": gname, "UserName": member},
                (1, gi, 3, member),
            )
            graph.add_edges_from((g, n) for g in grants)
            adds_of_user.setdefault(member, []).append(n)

    for ui, user in enumerate(proposal.in_scope):
        adds = adds_of_user.get(user.name, [])
        for arn in user.managed:
            n = node(
                "detach_user_policy", {"UserName": user.name, "PolicyArn": arn}, (2, ui, 0, arn)
            )
            graph.add_edges_from((a, n) for a in adds)
        for policy in user.inline:
            n = node(
                "delete_user_policy",
                {"UserName": user.name, "PolicyName": policy.name},
                (2, ui, 1, policy.name),
            )
            graph.add_edges_from((a, n) for a in adds)

    order = list(nx.lexicographical_topological_sort(graph, key=lambda n: keys[n]))
    ids = {n: f"s{i + 1}" for i, n in enumerate(order)}
    steps = [
        Step.make(
            ids[n],
            calls[n][0],
            calls[n][1],
            sorted((ids[d] for d in graph.predecessors(n)), key=lambda s: int(s[1:])),
        )
        for n in order
    ]
    groups = Proposal.to_dict(proposal)["groups"]
    plan = Plan(
        inventory=inv,
        steps=steps,
        strategy=proposal.strategy,
        exceptions=proposal.exceptions,
        groups=groups,
        in_scope=[u.name for u in proposal.in_scope],
        exemptions=proposal.exemptions,
    )
    return plan.verify()
