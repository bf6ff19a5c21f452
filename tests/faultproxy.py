"""A fault-injecting HTTP proxy between boto3 clients and a moto server.

The hooks in :mod:`tests.awsmoto` fake faults inside botocore; this proxy makes
them on the wire, so the client sees what it would see from AWS or a network:
an error answer, a connection reset before the call was sent on, or a call
that was done upstream whose answer never came back.

    with FaultProxy(moto_url, Schedule.script([("create_group", "lose")])) as proxy:
        iam, sts = awsmoto.clients(proxy.url)
        ...

Faults (what a schedule's ``decide(op, n)`` returns for a request):

``"throttle"``
    400 ``Throttling`` (JSON protocols: ``ThrottlingException``); not forwarded.
``"error500"``
    500 ``ServiceFailure`` (JSON: ``InternalFailure``); not forwarded.
``"html500"``
    500 with an HTML page for a body (as werkzeug, moto's server, answers an
    internal error); not forwarded.
``"reset"``
    the connection is reset (TCP RST, ``SO_LINGER`` 0); not forwarded.
``"lose"``
    forwarded and done upstream, then the connection is reset: the answer is lost.
``"lose500"``
    forwarded and done upstream, then answered 500 ``ServiceFailure``.
``"truncate"``
    forwarded and done upstream; the answer's headers and half its body are
    sent, then the connection is reset.
``"truncate_fin"``
    as ``"truncate"`` but the connection is then closed cleanly (FIN, no RST).
``"stall"``
    forwarded and done upstream; the answer is held for ``stall_seconds``
    (for a client with a shorter ``read_timeout``), then the connection is reset.
``None``
    passed through.
"""

from __future__ import annotations

import contextlib
import http.client
import http.server
import json
import random as _random
import socket
import struct
import threading
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from types import TracebackType
from typing import Any, Final, Literal, get_args

from botocore import xform_name

from groupify.runtime.result import MUTATING_OPS

__all__ = ["FAULTS", "Decide", "Fault", "FaultProxy", "Schedule", "operation"]

Fault = Literal[
    "throttle",
    "error500",
    "reset",
    "lose",
    "lose500",
    "truncate",
    "truncate_fin",
    "stall",
    "html500",
]
FAULTS: Final[frozenset[str]] = frozenset(get_args(Fault))

#: A schedule: the fault for the *n*-th request (0-based, all requests), of operation *op*.
Decide = Callable[[str, int], "str | None"]

#: request and answer headers not copied as they are (hop by hop, or redone here)
_NOT_COPIED = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "expect",
        "content-length",
    }
)


# -- which operation a request is --


def operation(headers: Any, path: str, body: bytes) -> str:
    """The boto3 method name of a request (``create_group``), ``""`` when it cannot tell.

    JSON-protocol services (Organizations, ...) name it in ``X-Amz-Target``
    (``AWSOrganizationsV20161128.ListAccounts``); Query-protocol ones (IAM, STS)
    in ``Action=`` of the form body, or of the query string. REST protocols
    (SecurityHub, S3, ...) name it only by method and path: ``""`` here.
    """
    target = headers.get("X-Amz-Target")
    if target:
        return xform_name(target.rsplit(".", 1)[-1])
    action = _action(body) or _action(urllib.parse.urlsplit(path).query.encode())
    return xform_name(action) if action else ""


def _action(form: bytes) -> str:
    if b"Action=" not in form:
        return ""
    values = urllib.parse.parse_qs(form.decode("utf-8", "replace")).get("Action")
    return values[0] if values else ""


# -- schedules --


class Schedule:
    """A thread-safe ``decide(op, n)``: :meth:`script`, :meth:`random` or :meth:`sequence`.

    ``fired`` lists the ``(op, fault)`` pairs it has handed out, in order.
    """

    def __init__(self, decide: Decide | None = None) -> None:
        self._decide = decide
        self._lock = threading.Lock()
        self.fired: list[tuple[str, str]] = []

    def __call__(self, op: str, n: int) -> str | None:
        with self._lock:
            fault = self._choose(op, n)
            if fault is not None:
                self.fired.append((op, fault))
            return fault

    def _choose(self, op: str, n: int) -> str | None:
        return self._decide(op, n) if self._decide is not None else None

    @staticmethod
    def passthrough() -> Schedule:
        """Never a fault."""
        return Schedule()

    @staticmethod
    def script(faults: Iterable[tuple[str, str]]) -> ScriptSchedule:
        """Each ``(op, fault)`` pair fires once, on the next request of *op* (as ``Script``)."""
        return ScriptSchedule(faults)

    @staticmethod
    def random(
        seed: int,
        throttle: float = 0.1,
        lose: float = 0.1,
        error500: float = 0.0,
        reset: float = 0.0,
        only_mutating: bool = True,
        *,
        lose500: float = 0.0,
        truncate: float = 0.0,
    ) -> RandomSchedule:
        """A seeded draw per request; with *only_mutating*, reads pass through and draw nothing."""
        return RandomSchedule(
            seed,
            {
                "throttle": throttle,
                "lose": lose,
                "error500": error500,
                "reset": reset,
                "lose500": lose500,
                "truncate": truncate,
            },
            only_mutating=only_mutating,
        )

    @staticmethod
    def sequence(
        faults: Sequence[str | None], ops: Iterable[str] = MUTATING_OPS
    ) -> SequenceSchedule:
        """The k-th request whose op is in *ops* gets ``faults[k]``; the rest pass through."""
        return SequenceSchedule(faults, ops)


class ScriptSchedule(Schedule):
    """``(op, fault)`` pairs, each firing once; ``pending`` holds those yet to fire."""

    def __init__(self, faults: Iterable[tuple[str, str]]) -> None:
        super().__init__()
        self.pending = [(op, _checked(fault)) for op, fault in faults]

    def _choose(self, op: str, n: int) -> str | None:
        for i, (wanted, fault) in enumerate(self.pending):
            if wanted == op:
                del self.pending[i]
                return fault
        return None


class RandomSchedule(Schedule):
    """A seeded random fault per request, by the given rates (their sum at most 1)."""

    def __init__(self, seed: int, rates: dict[str, float], *, only_mutating: bool = True) -> None:
        super().__init__()
        for fault, rate in rates.items():
            _checked(fault)
            if rate < 0:
                raise ValueError(f"rate of {fault} must not be negative")
        if sum(rates.values()) > 1 + 1e-9:
            raise ValueError("the rates add up to more than 1")
        self.rates = dict(rates)
        self.only_mutating = only_mutating
        self.rng = _random.Random(seed)

    def _choose(self, op: str, n: int) -> str | None:
        if self.only_mutating and op not in MUTATING_OPS:
            return None
        draw = self.rng.random()
        for fault, rate in self.rates.items():
            if draw < rate:
                return fault
            draw -= rate
        return None


class SequenceSchedule(Schedule):
    """``faults[k]`` for the k-th request whose op is in ``ops``; ``seen`` counts those."""

    def __init__(self, faults: Sequence[str | None], ops: Iterable[str]) -> None:
        super().__init__()
        self.faults = [None if f is None else _checked(f) for f in faults]
        self.ops = frozenset(ops)
        self.seen = 0

    def _choose(self, op: str, n: int) -> str | None:
        if op not in self.ops:
            return None
        k, self.seen = self.seen, self.seen + 1
        return self.faults[k] if k < len(self.faults) else None


def _checked(fault: str) -> str:
    if fault not in FAULTS:
        raise ValueError(f"unknown fault {fault!r}; one of {sorted(FAULTS)}")
    return fault


# -- error answers --


def _error_answer(code: str, status: int, json_protocol: bool) -> tuple[dict[str, str], bytes]:
    if json_protocol:
        body = json.dumps({"__type": code, "message": f"injected {code}"}).encode()
        return {"Content-Type": "application/x-amz-json-1.1"}, body
    # the shape of IAM's (and STS's) Query-protocol errors, as awsmoto._error
    body = (
        '<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">'
        f"<Error><Type>{'Receiver' if status >= 500 else 'Sender'}</Type><Code>{code}</Code>"
        f"<Message>injected {code}</Message></Error>"
        "<RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>"
    ).encode()
    return {"Content-Type": "text/xml"}, body


_HTML500 = (
    b"<!doctype html>\n<html lang=en>\n<title>500 Internal Server Error</title>\n"
    b"<h1>Internal Server Error</h1>\n<p>The server encountered an internal error.</p>\n"
)


# -- the proxy --


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # keep-alive handler threads would otherwise hold close() up
    proxy: FaultProxy


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    _upstream: http.client.HTTPConnection | None = None
    _aborted = False

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.proxy._opened(self.connection)

    def finish(self) -> None:
        try:
            if not self._aborted:
                super().finish()
        finally:
            if self._upstream is not None:
                self._upstream.close()
            self.server.proxy._closed(self.connection)

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except (ConnectionError, TimeoutError):
            self.close_connection = True
        if self._aborted:
            self.close_connection = True

    # -- one request --

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _relay(self) -> None:
        proxy = self.server.proxy
        body = self._read_body()
        op = operation(self.headers, self.path, body)
        fault = proxy._decide(op)
        if proxy.latency:
            # a round trip to a remote endpoint, for every request (refused ones too)
            proxy._stopping.wait(proxy.latency)
        json_protocol = bool(self.headers.get("X-Amz-Target"))
        if fault == "reset":
            self._abort()
            return
        if fault == "throttle":
            code = "ThrottlingException" if json_protocol else "Throttling"
            self._answer_error(code, 400, json_protocol)
            return
        if fault == "html500":
            self._answer(500, "Internal Server Error", [("Content-Type", "text/html")], _HTML500)
            return
        if fault == "error500":
            self._answer_error(
                "InternalFailure" if json_protocol else "ServiceFailure", 500, json_protocol
            )
            return
        mutating = op in MUTATING_OPS
        lock = proxy._mutation_lock if mutating else None
        try:
            if lock is not None:
                lock.acquire()
            try:
                status, reason, headers, answer = self._forward(body)
            except (OSError, http.client.HTTPException) as exc:  # the upstream is gone
                proxy._error(f"{self.command} {self.path} ({op}): upstream failed: {exc!r}")
                self._answer_error("InternalFailure", 502, json_protocol)
                return
            if mutating:
                proxy._after_forward(op)
        finally:
            if lock is not None:
                lock.release()
        if fault == "lose":
            self._abort()
        elif fault == "lose500":
            self._answer_error("ServiceFailure", 500, json_protocol)
        elif fault in ("truncate", "truncate_fin"):
            self._answer(status, reason, headers, answer, truncate=True)
            self._abort(rst=fault == "truncate")
        elif fault == "stall":
            proxy._stopping.wait(proxy.stall_seconds)
            self._abort()
        else:
            self._answer(status, reason, headers, answer)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _relay

    def _forward(self, body: bytes) -> tuple[int, str, list[tuple[str, str]], bytes]:
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _NOT_COPIED}
        if body or self.command in ("POST", "PUT", "PATCH"):
            headers["Content-Length"] = str(len(body))
        for attempt in (0, 1):
            reused = self._upstream is not None and self._upstream.sock is not None
            if self._upstream is None:
                self._upstream = self.server.proxy._connect()
            try:
                self._upstream.request(self.command, self.path, body=body, headers=headers)
                response = self._upstream.getresponse()
                answer = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # a kept-alive upstream connection gone stale: open a new one, once
                self._upstream.close()
                if attempt or not reused:
                    raise
                continue
            except Exception:
                self._upstream.close()
                raise
            if response.will_close:
                self._upstream.close()
            return response.status, response.reason, response.getheaders(), answer
        raise AssertionError("unreachable")

    def _answer(
        self,
        status: int,
        reason: str,
        headers: list[tuple[str, str]],
        body: bytes,
        *,
        truncate: bool = False,
    ) -> None:
        self.send_response_only(status, reason)
        length = None
        for key, value in headers:
            lower = key.lower()
            if lower == "content-length":
                length = value
            elif lower not in _NOT_COPIED:
                self.send_header(key, value)
        if self.command == "HEAD" and length is not None:
            self.send_header("Content-Length", length)
        elif status >= 200 and status not in (204, 304):
            self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body[: len(body) // 2] if truncate else body)

    def _answer_error(self, code: str, status: int, json_protocol: bool) -> None:
        headers, body = _error_answer(code, status, json_protocol)
        self._answer(status, "Injected", list(headers.items()), body)

    def _abort(self, *, rst: bool = True) -> None:
        """Drop the connection now: reset it (RST), or with *rst* false close it (FIN)."""
        self._aborted = True
        self.close_connection = True
        sock = self.connection
        with contextlib.suppress(OSError):
            if rst:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            else:
                sock.shutdown(socket.SHUT_RDWR)
        # the socket closes for real only once its file (rfile) is closed too; wfile
        # writes to the socket directly and holds no reference
        self.rfile.close()
        sock.close()


class FaultProxy:
    """An HTTP proxy on ``127.0.0.1`` in front of *upstream_url* that injects faults.

    *decide* (default: pass everything through) is asked ``decide(op, n)`` for
    every request, under the proxy's lock, *n* counting all requests from 0.
    ``log`` records ``(op, fault)`` per request in that order, ``injected``
    counts faults by kind. *after_forward* (also settable as an attribute) is
    called with the op, in the handler thread, once a mutating request has been
    done upstream and before its answer is sent or lost; with
    *serialize_mutations*, mutating requests go upstream one at a time, each with
    its *after_forward*, so the hook sees every state the upstream passes through.
    Errors of the hook or the upstream are kept in ``errors`` (not raised).
    *latency* seconds pass before each request is answered or forwarded (a round
    trip to IAM over the internet, which moto answers in about a millisecond).
    """

    def __init__(
        self,
        upstream_url: str,
        decide: Decide | None = None,
        *,
        after_forward: Callable[[str], None] | None = None,
        serialize_mutations: bool = False,
        timeout: float = 30.0,
        stall_seconds: float = 5.0,
        latency: float = 0.0,
    ) -> None:
        parts = urllib.parse.urlsplit(upstream_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"an http:// upstream URL, not {upstream_url!r}")
        self.upstream = (parts.hostname, parts.port or 80)
        self.decide: Decide = decide if decide is not None else Schedule()
        self.after_forward = after_forward
        self.timeout = timeout
        self.stall_seconds = stall_seconds
        self.latency = latency
        self._stopping = threading.Event()
        self.injected: Counter[str] = Counter()
        self.log: list[tuple[str, str | None]] = []
        self.errors: list[str] = []
        #: client connections accepted so far (to check keep-alive)
        self.connections = 0
        self._lock = threading.Lock()
        self._mutation_lock: threading.Lock | None = (
            threading.Lock() if serialize_mutations else None
        )
        self._open: set[socket.socket] = set()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.proxy = self
        host, port = self._server.server_address[:2]
        self.url = f"http://{host!s}:{port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"faultproxy:{port}",
            daemon=True,
        )
        self._thread.start()

    # -- the lifecycle --

    def close(self) -> None:
        """Stop serving and drop the client connections still open."""
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            still_open = list(self._open)
        for sock in still_open:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=5)

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- what the handlers call --

    def _decide(self, op: str) -> str | None:
        with self._lock:
            n = len(self.log)
            try:
                fault = self.decide(op, n)
            except Exception as exc:
                self.errors.append(f"decide({op!r}, {n}) raised {exc!r}")
                fault = None
            if fault is not None:
                if fault not in FAULTS:
                    self.errors.append(f"decide({op!r}, {n}) gave unknown fault {fault!r}")
                    fault = None
                else:
                    self.injected[fault] += 1
            self.log.append((op, fault))
            return fault

    def _after_forward(self, op: str) -> None:
        hook = self.after_forward
        if hook is None:
            return
        try:
            hook(op)
        except Exception as exc:
            self._error(f"after_forward({op!r}) raised {exc!r}")

    def _connect(self) -> http.client.HTTPConnection:
        return _UpstreamConnection(*self.upstream, timeout=self.timeout)

    def _error(self, message: str) -> None:
        with self._lock:
            self.errors.append(message)

    def _opened(self, sock: socket.socket) -> None:
        with self._lock:
            self.connections += 1
            self._open.add(sock)

    def _closed(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.discard(sock)

    # -- views --

    @property
    def faults(self) -> list[tuple[str, str]]:
        """The ``(op, fault)`` pairs injected, in order."""
        with self._lock:
            return [(op, f) for op, f in self.log if f is not None]

    def reset_log(self) -> None:
        """Forget the log and counts (``n`` counts from 0 again); the schedule stays."""
        with self._lock:
            self.log.clear()
            self.injected.clear()
            self.errors.clear()


class _UpstreamConnection(http.client.HTTPConnection):
    """An upstream connection without Nagle's delay."""

    def connect(self) -> None:
        super().connect()
        if self.sock is not None:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
