"""Reading JSON files with one-line errors, and writing files so that a crash never
leaves a partial one where a good one was."""

from __future__ import annotations

import json
import os
from typing import Any

__all__ = ["read_json", "write_atomic"]


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


def read_json(path: str | os.PathLike[str], error: type[Exception], bad_json: str) -> Any:
    """The JSON in *path*; every way it can fail is one line of *error* naming the file.

    *bad_json* says what the file is not when it does not parse
    (``"not a JSON plan file"``); the line and column follow.
    """
    name = os.fspath(path)
    try:
        with open(name, encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        raise error(f"{name}: no such file") from None
    except IsADirectoryError:
        raise error(f"{name}: is a directory") from None
    except UnicodeDecodeError as exc:
        raise error(f"{name}: not UTF-8 text ({exc.reason})") from None
    except json.JSONDecodeError as exc:
        raise error(
            f"{name}: {bad_json} (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    except RecursionError:
        raise error(f"{name}: {bad_json} (nested too deeply to read)") from None
