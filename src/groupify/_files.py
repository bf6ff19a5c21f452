"""Reading JSON files with one-line errors, and writing files so that a crash never
leaves a partial one where a good one was."""

from __future__ import annotations

import errno
import json
import math
import os
import re
import stat
import sys
from typing import Any, NoReturn

__all__ = ["is_stdout", "parse_json", "read_json", "write_atomic"]

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


#: Paths naming one of this process's open file descriptors: written through that fd.
_OWN_FD = re.compile(r"/dev/(?:(stdin)|(stdout)|(stderr))|/dev/fd/(\d+)|/proc/(self|\d+)/fd/(\d+)")


def _own_fd(name: str) -> int | None:
    """The descriptor *name* stands for, if it is (or its symlinks lead to) one of ours:
    ``/dev/stdout``, ``/dev/fd/N`` (process substitution), ``/proc/self/fd/N``."""
    current = os.path.abspath(name)
    for _ in range(40):  # the kernel's own limit on a chain of symlinks
        m = _OWN_FD.fullmatch(os.path.normpath(current))
        if m is not None:
            stdin, stdout, stderr, dev_fd, pid, proc_fd = m.groups()
            if pid is not None and pid != "self" and int(pid) != os.getpid():
                return None  # another process's descriptor: opened like any other path
            if stdin or stdout or stderr:
                return 0 if stdin else 1 if stdout else 2
            return int(dev_fd or proc_fd)
        if not os.path.islink(current):
            return None
        current = os.path.join(os.path.dirname(current), os.readlink(current))
    return None


def _write_fd(fd: int, data: bytes) -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None and stream.fileno() == fd:
                stream.flush()  # what was printed before comes first
        except (AttributeError, OSError, ValueError):  # not a real file (a test's capture)
            pass
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _write_stdout(text: str) -> None:
    stream = sys.stdout
    buffer = getattr(stream, "buffer", None)
    if buffer is None:  # a text-only stream (StringIO)
        stream.write(text)
    else:  # UTF-8 whatever the locale, as a file would be
        stream.flush()
        buffer.write(text.encode("utf-8"))
        buffer.flush()
    stream.flush()


def is_stdout(path: str) -> bool:
    """Whether writing to *path* writes to this process's standard output."""
    if path == "-":
        return True
    try:
        return os.path.samestat(os.stat(path), os.fstat(1))
    except (OSError, ValueError):
        return False


def write_atomic(path: str | os.PathLike[str], text: str) -> bool:
    """Write *text* to *path* so that a crash never leaves a partial file where a good one was.

    * ``-`` is standard output;
    * one of this process's descriptors (``/dev/stdout``, ``/dev/stderr``, process
      substitution's ``/dev/fd/N``, ``/proc/self/fd/N``, or a symlink to one) is written
      through that descriptor, as the shell set it up;
    * a path that exists and is not a regular file (a FIFO, a character device, a
      symlink to one) is opened and written through: never renamed onto or replaced;
    * otherwise *text* goes to a temporary file beside the file, is flushed to disk,
      then renamed onto it; a symlink to a file (or to where one will be) stays a
      symlink: its target is what is replaced.

    Returns whether a regular file was written (``False``: the text went to a stream).
    """
    name = os.fspath(path)
    if not name:
        raise FileNotFoundError(errno.ENOENT, "an empty path names no file", name)
    data = text.encode("utf-8")
    if name == "-":
        _write_stdout(text)
        return False
    fd = _own_fd(name)
    if fd is not None:
        _write_fd(fd, data)
        return False
    try:
        mode = os.stat(name).st_mode
    except (FileNotFoundError, NotADirectoryError):
        mode = None
    if mode is not None and not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        with open(name, "wb") as fh:  # a FIFO or a device: no temporary file, no rename
            fh.write(data)
        return False
    if mode is not None and stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, "is a directory", name)
    target = os.path.realpath(name) if os.path.islink(name) else name
    tmp = f"{target}.tmp-{os.getpid()}"
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except OSError as exc:  # say which file the user named, not the temporary one
        raise type(exc)(exc.errno, exc.strerror, name) from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return True


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
