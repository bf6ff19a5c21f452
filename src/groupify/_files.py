"""Reading JSON files with one-line errors, and writing files so that a crash never
leaves a partial one where a good one was."""

from __future__ import annotations

import json
import math
import os
import re
import sys
from typing import Any, NoReturn

__all__ = ["parse_json", "read_json", "write_atomic"]

#: A ``\\uD800``..``\\uDFFF`` escape (half of a surrogate pair, or a lone one), or
#: such a code point already in the text: only then is the parsed data checked.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


class _Refused(Exception):
    """Why a text is not JSON groupify reads (the detail after the file's name)."""


def _constant(name: str) -> NoReturn:
    raise _Refused(f"{name} is not a JSON number")


def _float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _Refused(f"number {text[:20]}{'...' if len(text) > 20 else ''} is out of range")
    return value


_DECODER = json.JSONDecoder(parse_constant=_constant, parse_float=_float)


def _loads(text: str | bytes) -> Any:
    """*text* parsed; raises :class:`_Refused` (one line) for anything that is not plain JSON."""
    if isinstance(text, (bytes, bytearray)):
        # Decoded strictly: json.loads would let encoded surrogates through.
        encoding = json.detect_encoding(text)
        try:
            text = bytes(text).decode(encoding)
        except UnicodeDecodeError as exc:
            raise _Refused(f"not {encoding.upper()} text: {exc.reason}") from None
    if text.startswith("\ufeff"):
        raise _Refused("line 1, column 1: Unexpected UTF-8 BOM (decode using utf-8-sig)")
    try:
        data = _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise _Refused(f"line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise _Refused("nested too deeply to read") from None
    except ValueError:
        # int() refuses a number longer than the interpreter's limit (4300 digits).
        raise _Refused(f"a number has more than {sys.get_int_max_str_digits()} digits") from None
    if _SURROGATE_ESCAPE.search(text) or (not text.isascii() and _SURROGATE.search(text)):
        # json.loads accepts "\\ud800" alone; such a string cannot be written as UTF-8
        # (a digest, a file, an AWS call), so it is refused here. A pair (an emoji) is fine.
        try:
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise _Refused(
                "a string holds an unpaired UTF-16 surrogate, \\uD800 to \\uDFFF"
            ) from None
        except RecursionError:
            raise _Refused("nested too deeply to read") from None
    return data


def parse_json(text: str | bytes, error: type[Exception], what: str) -> Any:
    """The JSON in *text*; every way it can fail is one line of *error*: ``"{what}: ..."``.

    Refused, besides what :func:`json.loads` refuses: nesting too deep to read,
    integers longer than Python converts, ``NaN`` and ``Infinity`` (not JSON), numbers
    out of a float's range, and unpaired surrogate escapes (``"\\ud800"``), which
    would fail later when the text is encoded.
    """
    try:
        return _loads(text)
    except _Refused as exc:
        raise error(f"{what}: not valid JSON ({exc})") from None


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
            text = fh.read()
    except FileNotFoundError:
        raise error(f"{name}: no such file") from None
    except IsADirectoryError:
        raise error(f"{name}: is a directory") from None
    except UnicodeDecodeError as exc:
        raise error(f"{name}: not UTF-8 text ({exc.reason})") from None
    try:
        return _loads(text)
    except _Refused as exc:
        raise error(f"{name}: {bad_json} ({exc})") from None
