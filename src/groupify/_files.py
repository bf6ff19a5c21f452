"""Writing files so that a crash never leaves a partial one where a good one was."""

from __future__ import annotations

import os

__all__ = ["write_atomic"]


def write_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write *text* to a temporary file beside *path*, flush it to disk, then rename it."""
    name = os.fspath(path)
    tmp = f"{name}.tmp-{os.getpid()}"
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, name)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
