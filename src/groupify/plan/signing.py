"""Signed plans: an HMAC over a plan's checksum, for plans handed between people.

A plan's checksum catches accidental edits, but anyone can recompute it: a
plan with its exemption rules deleted and a fresh checksum reads as a good
plan. An HMAC-SHA256 under a key that only the planner and the applier hold
cannot be recomputed without the key. The key is read from a file (never from
the command line, where ``ps`` would show it); ``GROUPIFY_PLAN_KEY_FILE``
names it for both ``groupify plan`` (which then signs) and ``groupify apply``
(which then refuses a plan that is unsigned or signed with another key).
"""

from __future__ import annotations

import hashlib
import hmac
import os

from groupify.errors import InputError

__all__ = ["KEY_FILE_ENV", "SCHEME", "key_from", "matches", "read_key", "sign"]

SCHEME = "hmac-sha256"
#: The environment variable naming the key file when no option does.
KEY_FILE_ENV = "GROUPIFY_PLAN_KEY_FILE"
_MIN_KEY = 16


def read_key(path: str | os.PathLike[str]) -> bytes:
    """The key in *path*: its bytes, surrounding whitespace removed; at least 16 bytes."""
    name = os.fspath(path)
    try:
        with open(name, "rb") as fh:
            key = fh.read().strip()
    except FileNotFoundError:
        raise InputError(f"{name}: no such key file") from None
    except IsADirectoryError:
        raise InputError(f"{name}: is a directory, not a key file") from None
    if len(key) < _MIN_KEY:
        raise InputError(
            f"{name}: a plan key must hold at least {_MIN_KEY} bytes (e.g. the output of "
            "'openssl rand -hex 32')"
        )
    return key


def key_from(path: str | os.PathLike[str] | None) -> bytes | None:
    """The key from *path*, else from the file ``GROUPIFY_PLAN_KEY_FILE`` names, else none."""
    chosen = path or os.environ.get(KEY_FILE_ENV) or None
    return read_key(chosen) if chosen else None


def sign(checksum: str, key: bytes) -> str:
    """The signature of a plan whose checksum is *checksum*."""
    return f"{SCHEME}:" + hmac.new(key, checksum.encode(), hashlib.sha256).hexdigest()


def matches(signature: object, checksum: str, key: bytes) -> bool:
    """Whether *signature* is *checksum*'s under *key* (compared in constant time)."""
    return isinstance(signature, str) and hmac.compare_digest(
        signature.encode(), sign(checksum, key).encode()
    )
