"""Plans: IAM calls in a verified, deterministic order, and the plan file.

A :class:`Plan` holds :class:`~groupify.Step` values in an order that
:func:`~groupify.build_plan` made and a replay on a model of the account
verified; :meth:`Plan.save` and :func:`load_plan` are its file form, checked
again (format, checksum, fingerprint, replay) whenever it is read.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from functools import cached_property
from typing import Any

from attrs import field, frozen

from groupify._files import read_json, write_atomic
from groupify._gc import without_gc
from groupify._version import version
from groupify.errors import (
    EscalationError,
    InputError,
    PlanFormatError,
    PlanVerificationError,
    StalePlanError,
)
from groupify.inventory.model import Inventory
from groupify.inventory.policy import digest, document_size
from groupify.plan.ops import OPS, PLAN_OPS
from groupify.plan.privilege import (
    Finding,
    Risk,
    RolePath,
    control_findings,
    final_model,
    risk_review,
    role_paths,
    unaccepted,
)
from groupify.plan.replay import AccountModel, check_steps, created_policies
from groupify.plan.signing import matches, sign
from groupify.plan.steps import Step
from groupify.proposal.model import Exemption, Exemptions, _exemptions

__all__ = ["FORMAT", "Plan", "Quota", "load_plan"]

FORMAT = "groupify.plan/1"


def _sorted_strings(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(items))


def _dicts(items: Iterable[dict[str, Any]]) -> tuple[dict[str, Any], ...]:
    return tuple(items)


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


def _one_encoder(**options: Any) -> Callable[[Any], str]:
    """``json.dumps(value, ensure_ascii=False, **options)`` as one function, the C encoder
    made once: ``JSONEncoder.encode`` makes a new one for every value, which costs more
    than encoding a plan step."""
    settings = json.JSONEncoder(ensure_ascii=False, check_circular=False, **options)
    make = getattr(json.encoder, "c_make_encoder", None)  # not in typeshed
    if make is None:  # pragma: no cover - a Python without the _json accelerator
        return settings.encode
    encoder = make(
        None,  # no circular check: a plan's values are trees groupify built or parsed
        settings.default,
        json.encoder.encode_basestring,
        None,
        settings.key_separator,
        settings.item_separator,
        settings.sort_keys,
        settings.skipkeys,
        settings.allow_nan,
    )

    def encode(value: Any) -> str:
        if isinstance(value, str):  # the C encoder takes containers (as JSONEncoder.encode)
            return json.encoder.encode_basestring(value)
        return "".join(encoder(value, 0))

    return encode


#: ``json.dumps(value, ensure_ascii=False)``.
_encode = _one_encoder()
#: The checksum's canonical form: sorted keys, no spaces.
_canonical = _one_encoder(sort_keys=True, separators=(",", ":"))


def _layout(value: Any, depth: int = 0) -> str:
    """JSON laid out for a reader and written by the C encoder: the top two levels of
    objects one key a line, and every list item (a step, a user) on a line of its own.

    ``json.dumps(indent=2)`` gives a similar file but runs the pure-Python encoder, about
    five times slower on a large plan; this calls the C encoder once per item.
    """
    pad, inner = "  " * depth, "  " * (depth + 1)
    if isinstance(value, dict) and value and depth < 2:
        items = [f"{inner}{_encode(k)}: {_layout(v, depth + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, list) and value and depth < 3:
        items = [inner + _encode(v) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + pad + "]"
    return _encode(value)


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
    #: Control-path findings a reviewer accepted (their keys: id and answer); any other
    #: finding refuses the plan.
    accepted: tuple[str, ...] = field(default=(), converter=_sorted_strings)
    #: What the plan file said of itself when loaded: who wrote it, and its checksum.
    generator: str | None = field(default=None, eq=False)
    checksum: str | None = field(default=None, eq=False)
    #: When the plan was built (UTC, ISO 8601); the account's read time is the
    #: inventory's ``read_at``.
    created: str | None = field(default=None, eq=False)

    @property
    def account_id(self) -> str:
        return self.inventory.account_id

    @property
    def fingerprint(self) -> str:
        return self.inventory.fingerprint

    @cached_property
    def graph(self) -> Any:
        """The steps as a networkx DiGraph (edges from prerequisite to step)."""
        import networkx as nx  # imported when used: it is most of ``import groupify``'s time

        g = nx.DiGraph()
        for s in self.steps:
            g.add_node(s.id, step=s)
            for dep in s.after:
                g.add_edge(dep, s.id)
        return g

    def verify(self) -> Plan:
        """Replay the steps on the inventory; raise :class:`PlanVerificationError` if unsafe.

        The steps form no cycle: the replay refuses a step that runs after one that is not
        before it in the plan, so the plan's order is a topological order of its DAG.
        """
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
        final = check_steps(self.inventory, self.steps, in_scope=self.in_scope, protected=protected)
        # The checked replay ends where final_model would: kept for the reviews below.
        object.__setattr__(self, "_final", final)
        refused = unaccepted(self.findings, self.accepted)
        if refused:
            raise EscalationError(refused)
        return self

    @cached_property
    def _final(self) -> AccountModel:
        """The account at the end of the plan, as the replay models it (read it, never
        change it: the reviews below share it)."""
        return final_model(self.inventory, self.steps)

    @cached_property
    def risks(self) -> tuple[Risk, ...]:
        """Groups the plan creates or fills, and exempt users, that a reviewer must look at."""
        return risk_review(
            self.inventory, self.steps, (e.user for e in self.exceptions), end=self._final
        )

    @cached_property
    def role_paths(self) -> tuple[RolePath, ...]:
        """Roles that may change or join the groups the plan creates or fills (listed, not
        refused: a role is never a member)."""
        return role_paths(self.inventory, self.steps, end=self._final)

    @cached_property
    def findings(self) -> tuple[Finding, ...]:
        """Every way the plan would let a user raise its own access (accepted ones included)."""
        return control_findings(self.inventory, self.steps, end=self._final)

    @cached_property
    def created_policies(self) -> dict[str, str]:
        """ARN → canonical document of every policy the plan creates."""
        return created_policies(self.inventory, self.steps)

    @cached_property
    def created_groups(self) -> frozenset[str]:
        """Names of the groups the plan creates."""
        return frozenset(s.params["GroupName"] for s in self.steps if s.spec.creates == "group")

    def summary(self) -> dict[str, Any]:
        ops = Counter(s.op for s in self.steps)
        return {
            "strategy": self.strategy,
            "users_migrated": len(self.in_scope),
            "exceptions": len(self.exceptions),
            "groups_created": len(self.created_groups),
            "groups_reused": sum(1 for g in self.groups if g.get("existing")),
            "policies_created": len(self.created_policies),
            "steps": len(self.steps),
            "steps_by_op": {op: ops[op] for op in PLAN_OPS if ops[op]},
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
        new = len(self.created_groups)
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

    @without_gc
    def to_dict(self) -> dict[str, Any]:
        body = {
            "format": FORMAT,
            "generator": f"groupify {version()}",
            **({"created": self.created} if self.created else {}),
            "account_id": self.account_id,
            "fingerprint": self.fingerprint,
            "summary": self.summary(),
            "exceptions": [{"user": e.user, "reason": e.reason} for e in self.exceptions],
            "users_in_scope": list(self.in_scope),
            "exemptions": {
                "users": list(self.exemptions.users),
                "tags": list(self.exemptions.tags),
            },
            "accepted_findings": list(self.accepted),
            "groups": list(self.groups),
            "steps": [s.to_dict() for s in self.steps],
            "inventory": self.inventory.to_dict(),
        }
        body["checksum"] = _checksum(body)
        return body

    def overview(self) -> dict[str, Any]:
        """Account, fingerprint, summary and exceptions: ``groupify plan --json``."""
        return {
            "account_id": self.account_id,
            "fingerprint": self.fingerprint,
            "summary": self.summary(),
            "exceptions": [{"user": e.user, "reason": e.reason} for e in self.exceptions],
            "control_findings": [
                {**f.to_dict(), "accepted": f.key in self.accepted} for f in self.findings
            ],
            "risks": [r.to_dict() for r in self.risks],
            "role_control_paths": [p.to_dict() for p in self.role_paths],
        }

    def to_json(self, *, key: bytes | None = None) -> str:
        """The plan file's text; signed (an HMAC over the checksum) when *key* is given."""
        body = self.to_dict()
        if key is not None:
            body["signature"] = sign(body["checksum"], key)
        return _layout(body) + "\n"

    def save(self, path: str | os.PathLike[str], *, key: bytes | None = None) -> None:
        """Write the plan file atomically (a partial file never replaces a good one).

        With *key*, the file is signed (see :mod:`groupify.plan.signing`).
        """
        write_atomic(path, self.to_json(key=key))

    @classmethod
    @without_gc
    def from_dict(cls, data: Any, *, source: str = "plan", key: bytes | None = None) -> Plan:
        """Read and check a plan: format, checksum, signature, fingerprint, then a full replay.

        With *key*, the plan must be signed with it; without, a signature is not checked.
        """
        if not isinstance(data, dict):
            raise PlanFormatError(f"{source}: not a groupify plan (not a JSON object)")
        if data.get("format") != FORMAT:
            raise PlanFormatError(
                f"{source}: not a groupify plan of a known format "
                f"(format is {data.get('format')!r}, expected {FORMAT!r})"
            )
        signed = {k: v for k, v in data.items() if k not in ("checksum", "signature")}
        if data.get("checksum") != _checksum(signed):
            raise PlanFormatError(
                f"{source}: checksum does not match; the plan was changed after it was "
                "written (make a new plan instead of editing one)"
            )
        if key is not None and "signature" not in data:
            raise PlanFormatError(
                f"{source}: the plan is not signed, and a plan key was given; sign it when "
                "planning (groupify plan --key-file) or apply without a key"
            )
        if key is not None and not matches(data["signature"], str(data["checksum"]), key):
            raise PlanFormatError(
                f"{source}: the plan's signature does not match this key: it was changed "
                "after it was signed, or signed with another key"
            )
        try:
            inventory = Inventory.from_dict(data["inventory"], source=source)
            steps = []
            is_text = str.__instancecheck__
            for raw in data["steps"]:
                if set(raw) - {"id", "op", "params", "after"}:
                    raise PlanFormatError(f"{source}: step {raw.get('id')!r} has unknown keys")
                op = raw["op"]
                if op not in PLAN_OPS:
                    raise PlanFormatError(f"{source}: step {raw['id']!r}: unknown op {op!r}")
                params = raw["params"]
                if not isinstance(params, dict) or not all(map(is_text, params.values())):
                    raise PlanFormatError(f"{source}: step {raw['id']!r}: params must be strings")
                wrong = OPS[op].check_params(params)
                if wrong:
                    raise PlanFormatError(f"{source}: step {raw['id']!r}: {wrong}")
                after = [str(a) for a in raw["after"]]
                if len(set(after)) != len(after):
                    raise PlanFormatError(f"{source}: step {raw['id']!r} lists a step twice")
                steps.append(Step(str(raw["id"]), op, params.items(), after))
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
            _check_groups(data.get("groups", []), source)
            plan = cls(
                inventory=inventory,
                steps=steps,
                strategy=str(data["summary"]["strategy"]),
                exceptions=exceptions,
                groups=data.get("groups", []),
                in_scope=[str(u) for u in data["users_in_scope"]],
                accepted=[str(a) for a in data.get("accepted_findings", [])],
                generator=data.get("generator"),
                checksum=data.get("checksum"),
                created=data["created"] if isinstance(data.get("created"), str) else None,
                exemptions=Exemptions(
                    users=[str(u) for u in data.get("exemptions", {}).get("users", [])],
                    tags=[str(t) for t in data.get("exemptions", {}).get("tags", [])],
                ),
            )
        except PlanFormatError:
            raise
        except InputError as exc:  # a bad name, ARN or document in the steps or inventory
            shown = str(exc)
            raise PlanFormatError(
                shown if shown.startswith(f"{source}:") else f"{source}: {shown}"
            ) from None
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
        from groupify.plan.views import plan_html

        return plan_html(self)

    def to_dataframe(self) -> Any:
        """Steps as a pandas DataFrame (needs ``groupify[notebook]``)."""
        from groupify.plan.views import plan_frame

        return plan_frame(self)

    def __repr__(self) -> str:
        return (
            f"Plan(account={self.account_id}, steps={len(self.steps)}, "
            f"users={len(self.in_scope)}, fingerprint={self.fingerprint[:19]})"
        )


def _check_groups(records: Any, source: str) -> None:
    """The plan's reviewed groups must have the shape :meth:`Plan.to_dict` writes."""
    if not isinstance(records, list):
        raise PlanFormatError(f"{source}: malformed plan: groups must be a list")
    for index, raw in enumerate(records):
        members = raw.get("members", []) if isinstance(raw, dict) else None
        policies = raw.get("policies", []) if isinstance(raw, dict) else None
        if not (
            isinstance(raw, dict)
            and isinstance(raw.get("name"), str)
            and isinstance(raw.get("existing", False), bool)
            and isinstance(members, list)
            and all(isinstance(m, str) for m in members)
            and isinstance(policies, list)
            and all(isinstance(p, dict) for p in policies)
        ):
            raise PlanFormatError(
                f"{source}: malformed plan: groups[{index}] must be an object with a name, "
                "whether it exists, member names and policy objects"
            )


def _checksum(body: Mapping[str, Any]) -> str:
    return "sha256:" + digest(_canonical(body), 64)


@without_gc  # reading the file too: its JSON is most of what a plan allocates
def load_plan(path: str | os.PathLike[str], *, key: bytes | None = None) -> Plan:
    """Read a plan file written by :meth:`Plan.save` and verify it.

    With *key*, the file must be signed with it (see :mod:`groupify.plan.signing`).
    """
    name = os.fspath(path)
    data = read_json(name, PlanFormatError, "not a JSON plan file")
    return Plan.from_dict(data, source=name, key=key)
