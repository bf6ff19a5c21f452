"""Run one function per account in a bounded pool; one account's failure stays its own."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from attrs import frozen

from groupify.errors import AWSError, GroupifyError

__all__ = ["AccountResult", "for_each"]

_log = logging.getLogger("groupify.org")


@frozen
class AccountResult:
    """What the work did in one account: its value, or why it failed (``kind``: the
    exception's class, ``error``: its one-line message), and how long it took."""

    account: str
    value: Any = None
    error: str | None = None
    kind: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        value = self.value.to_dict() if hasattr(self.value, "to_dict") else self.value
        return {
            "account": self.account,
            "ok": self.ok,
            "error": None if self.ok else {"kind": self.kind, "message": self.error},
            "seconds": round(self.seconds, 2),
            "result": value,
        }


def for_each(
    accounts: Iterable[str], work: Callable[[str], Any], *, workers: int = 4
) -> list[AccountResult]:
    """``work(account)`` for every account, at most *workers* at a time, in account order.

    The work is API-bound, so threads are enough; IAM's rate limits are per
    account, so accounts in parallel do not slow each other. An error in one
    account (an AWS error, bad input, or a bug) is recorded as that account's
    result and never stops the others; Ctrl-C stops them all.
    """
    ids = list(dict.fromkeys(accounts))

    def run(account: str) -> AccountResult:
        began = time.monotonic()
        try:
            value = work(account)
        except (GroupifyError, AWSError) as exc:
            _log.info("account %s failed: %s", account, exc)
            return AccountResult(
                account,
                error=str(exc).splitlines()[0],
                kind=type(exc).__name__,
                seconds=time.monotonic() - began,
            )
        except Exception as exc:  # a bug in one account's run must not end the others
            _log.exception("account %s: unexpected error", account)
            return AccountResult(
                account,
                error=f"unexpected error: {type(exc).__name__}: {exc}",
                kind=type(exc).__name__,
                seconds=time.monotonic() - began,
            )
        return AccountResult(account, value=value, seconds=time.monotonic() - began)

    if not ids:
        return []
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="account") as pool:
        return list(pool.map(run, ids))
