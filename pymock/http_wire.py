"""HTTP/1.1 on the wire: request parsing and framing, chunked bodies, response heads, faults.

Layer 2. :class:`_Wire` is mixed into :class:`pymock.server.Handler` and holds everything
that turns bytes into a ``Request`` and a ``Response`` plan back into bytes: the request line
and header fields within ``ServerLimits``, ``Content-Length``/chunked framing and
``100 Continue``, the response head (``Date``, ``Server``, ``Content-Length``,
``Connection``), throttled writes, problem+json refusals with a lingering close, and the
faults that break an exchange on purpose (:data:`_FAULT_ACTIONS`). It expects what a
``BaseHTTPRequestHandler`` has (``rfile``, ``connection``, ``client_address``,
``close_connection``, and a ``server`` with ``scheme``, ``closing``, ``log`` and
``date_header()``), the state ``Handler.setup`` sets (``_limits``, ``_timeout``, ``_head``,
``_http10``) and a ``_log_access`` method.

Names with a leading underscore are shared with ``server`` only. Imports only the standard
library and pymock's ``__version__`` and ``model`` (relatively); never ``server``, the app or
any layer 1 module.
"""

from __future__ import annotations

import os
import re
import socket
import struct
import time
from http import HTTPStatus

from . import __version__
from .model import FAULTS, Headers, Request, Response, ServerLimits, problem_response

__all__ = ["_Wire", "_ProtocolError", "_DEFAULT_LIMITS", "_FAULT_ACTIONS", "_check_plan"]


_DEFAULT_LIMITS = ServerLimits()
_STATUS_LINES = {int(s): f"HTTP/1.1 {int(s)} {s.phrase}\r\n" for s in HTTPStatus}
_SERVER_HEADER = f"Server: pymock/{__version__}\r\n"
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
# Headers the server writes itself unless the app already set them.
_MANAGED = frozenset(("content-length", "date", "server", "connection", "transfer-encoding"))
_FRAMING = frozenset(("content-length", "transfer-encoding"))
_EOL = (b"\r\n", b"\n")
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")   # RFC 9110 token (names, methods)
_HEX = re.compile(rb"[0-9A-Fa-f]{1,16}")
_VERSION = re.compile(rb"HTTP/[0-9]\.[0-9]")
_MAX_CHUNK_LINE = 4096       # chunk size line including extensions
_LINGER_S = 0.5              # how long to drain a client's unread input after an error
_LINGER_BYTES = 1 << 20
_GARBAGE_BYTES = 256
_LINGER_RESET = struct.pack("ii", 1, 0)   # SO_LINGER on, 0 s: close() sends RST


class _ProtocolError(Exception):
    """A request the server itself refuses; answered as problem+json, then the socket closes."""

    def __init__(self, status: int, title: str, detail: str):
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail


# --------------------------------------------------------------------------- the wire


class _Wire:
    """Reading requests and writing responses for one connection (a handler mixin).

    Parsing is done here rather than by ``parse_request`` so that the configurable limits
    (``ServerLimits``) apply and every refusal is ``application/problem+json``.
    """

    # ----------------------------------------------------------------- reading

    def _apply_timeout(self, seconds) -> None:
        # A per-read timeout: a silent or stalled client releases its thread. <= 0 means none.
        if seconds != self._timeout:
            self.connection.settimeout(seconds if seconds and seconds > 0 else None)
            self._timeout = seconds

    def _read_request(self) -> Request | None:
        """The next request, or None when the client closed or idled out between requests."""
        cap = self._limits.max_header_bytes + 1
        try:
            line = self.rfile.readline(cap)
            if line in _EOL:   # RFC 9112 §2.2: tolerate one stray CRLF between requests
                line = self.rfile.readline(cap)
        except TimeoutError:
            return None
        if not line:
            return None
        received_at = time.time()
        # Read the limits only now: a reload may have swapped them while the connection idled.
        limits = self._limits = getattr(self.server.app, "limits", _DEFAULT_LIMITS)
        self._apply_timeout(limits.idle_timeout_s)
        max_head = limits.max_header_bytes
        if len(line) > max_head or (len(line) == cap and not line.endswith(b"\n")):
            raise _ProtocolError(414, "URI too long", f"the request line is longer than "
                                 f"{max_head} bytes (server.max_header_bytes)")
        try:
            return self._read_rest(line, limits, received_at)
        except TimeoutError:
            raise _ProtocolError(408, "Request timeout", "the request did not arrive within "
                                 f"{limits.idle_timeout_s}s (server.idle_timeout_s)") from None

    def _read_rest(self, line: bytes, limits: ServerLimits, received_at: float) -> Request:
        method, target, version = self._parse_request_line(line)
        # A whole-head deadline: the per-read timeout alone lets a client trickle one header
        # line just inside it forever (slowloris) and pin a thread.
        deadline = time.monotonic() + limits.head_timeout_s
        items = self._read_fields(limits.max_header_bytes - len(line), limits.max_headers, deadline)
        headers = Headers(items)
        self._set_persistence(version, headers.get("connection"))
        body = self._read_body(headers, limits, version)
        request = Request(method, target, headers, body, self.client_address[:2],
                          self.server.scheme, version)
        request.received_at = received_at
        return request

    def _parse_request_line(self, line: bytes):
        parts = line.split()
        if len(parts) != 3 or not line.endswith(b"\n"):
            raise _ProtocolError(400, "Bad request", "malformed request line "
                                 f"{line[:200]!r}; expected 'METHOD /target HTTP/1.1'")
        method, target, version = parts
        if version not in (b"HTTP/1.1", b"HTTP/1.0"):
            if _VERSION.fullmatch(version):
                raise _ProtocolError(505, "HTTP version not supported",
                                     f"{version.decode('latin-1')} is not supported; use HTTP/1.1")
            raise _ProtocolError(400, "Bad request", f"bad HTTP version {version[:50]!r}")
        if not _TOKEN.fullmatch(method):
            raise _ProtocolError(400, "Bad request", f"bad method {method[:50]!r}")
        self.command = method = method.decode("ascii")
        self.request_version = version = version.decode("ascii")
        self.requestline = line.rstrip(b"\r\n").decode("latin-1")
        self._head = method == "HEAD"
        return method, target.decode("latin-1"), version

    def _read_fields(self, budget: int, max_count: int, deadline: float | None = None) -> list[tuple[str, str]]:
        """Header (or trailer) lines up to the blank line, within a byte and a count budget
        and, for a request head, before ``deadline`` (a ``time.monotonic`` value)."""
        readline = self.rfile.readline
        items: list[tuple[str, str]] = []
        while True:
            if deadline is not None and items and time.monotonic() > deadline:
                raise _ProtocolError(408, "Request timeout", "the request headers took longer than "
                                     f"{self._limits.head_timeout_s}s (server.head_timeout_s)")
            line = readline(budget + 1)
            if len(line) > budget:
                raise _ProtocolError(431, "Request header fields too large", "the request "
                                     "head is too large (server.max_header_bytes)")
            budget -= len(line)
            if line in _EOL:
                return items
            name, sep, value = line.partition(b":")
            if not sep or not line.endswith(b"\n") or not _TOKEN.fullmatch(name):
                raise _ProtocolError(400, "Bad request", f"malformed header line {line[:200]!r};"
                                     " expected 'Name: value'")
            items.append((name.decode("ascii"), value.strip().decode("latin-1")))
            if len(items) > max_count:
                raise _ProtocolError(431, "Request header fields too large", "more than "
                                     f"{max_count} header fields (server.max_headers)")

    def _set_persistence(self, version: str, connection: str | None) -> None:
        self._http10 = version == "HTTP/1.0"
        if connection is None:
            self.close_connection = self._http10
            return
        tokens = {token.strip() for token in connection.lower().split(",")}
        if "close" in tokens:
            self.close_connection = True
        else:
            self.close_connection = self._http10 and "keep-alive" not in tokens

    def _read_body(self, headers: Headers, limits: ServerLimits, version: str) -> bytes:
        codings = headers.get_all("transfer-encoding")
        lengths = headers.get_all("content-length")
        if codings:
            if lengths:
                raise _ProtocolError(400, "Bad request", "both Content-Length and "
                                     "Transfer-Encoding were sent; send only one")
            _check_codings(codings)
            self._maybe_continue(headers, version)
            return self._read_chunked(limits)
        if not lengths:
            return b""
        length = _parse_length(lengths)
        if length > limits.max_body_bytes:
            raise _ProtocolError(413, "Content too large", f"the body is {length} bytes; the "
                                 f"limit is {limits.max_body_bytes} (server.max_body_bytes)")
        if not length:
            return b""
        self._maybe_continue(headers, version)
        body = self.rfile.read(length)
        if len(body) < length:
            raise _ProtocolError(400, "Bad request", f"the body ended after {len(body)} of "
                                 f"{length} bytes declared by Content-Length")
        return body

    def _maybe_continue(self, headers: Headers, version: str) -> None:
        expect = headers.get("expect")
        if expect is not None and version == "HTTP/1.1" and expect.lower() == "100-continue":
            self.handle_expect_100()

    def handle_expect_100(self):
        """Send ``100 Continue``: called only once the declared length passed the limits.

        An oversized Content-Length was already answered 413 (and the connection closed)
        before this point, so the client never uploads a body that would be refused.
        """
        self.connection.sendall(_CONTINUE)
        return True

    def _read_chunked(self, limits: ServerLimits) -> bytes:
        rfile, parts, total = self.rfile, [], 0
        while True:
            line = rfile.readline(_MAX_CHUNK_LINE + 1)
            size_field = line.split(b";", 1)[0].strip()   # chunk extensions are ignored
            if not line.endswith(b"\n") or not _HEX.fullmatch(size_field):
                raise _ProtocolError(400, "Bad request", f"bad chunk size line {line[:100]!r}"
                                     "; expected hex digits then CRLF")
            size = int(size_field, 16)
            if not size:
                break
            total += size
            if total > limits.max_body_bytes:
                raise _ProtocolError(413, "Content too large", "the chunked body exceeds "
                                     f"{limits.max_body_bytes} bytes (server.max_body_bytes)")
            data = rfile.read(size)
            if len(data) < size or rfile.readline(3) not in _EOL:
                raise _ProtocolError(400, "Bad request", "a chunk is shorter than its size "
                                     "or not followed by CRLF")
            parts.append(data)
        # Trailer fields are read to keep the stream in step, then dropped: nothing uses them.
        self._read_fields(limits.max_header_bytes, limits.max_headers)
        return b"".join(parts)

    # ----------------------------------------------------------------- writing

    def _write(self, response: Response) -> None:
        status, body = response.status, response.body
        if status < 200 or status in (204, 304):
            head, body = self._render_head(status, response.headers, None), b""
        else:
            head = self._render_head(status, response.headers, len(body))
        if self._head:
            body = b""
        rate = response.bytes_per_s
        if rate and rate > 0 and body:
            self._send_throttled(head, body, rate)
        else:
            self.connection.sendall(head + body if body else head)
        if self.server.log is not None:
            self._log_access(status, len(body))

    def _render_head(self, status: int, headers, length: int | None) -> bytes:
        """Status line and header block as one bytes object; adds what the app did not set."""
        out = [_STATUS_LINES.get(status) or f"HTTP/1.1 {status} \r\n"]
        own: frozenset | set = frozenset()
        for name, value in headers:
            lowered = name.lower()
            if lowered in _MANAGED:
                own = own | {lowered}
                if lowered == "connection" and "close" in value.lower():
                    self.close_connection = True
            out.append(f"{name}: {value}\r\n")
        if length is not None and own.isdisjoint(_FRAMING):
            out.append(f"Content-Length: {length}\r\n")
        if "date" not in own:
            out.append(self.server.date_header())
        if "server" not in own:
            out.append(_SERVER_HEADER)
        if "connection" not in own:
            if self.close_connection:
                out.append("Connection: close\r\n")
            elif self._http10:
                out.append("Connection: keep-alive\r\n")
        out.append("\r\n")
        text = "".join(out)
        lines = len(out)
        if text.count("\n") != lines or text.count("\r") != lines:
            # A CR or LF inside a header (say, from a template) would split the response.
            return self._render_head(status, _clean_headers(headers), length)
        try:
            return text.encode("latin-1")
        except UnicodeEncodeError:
            return text.encode("utf-8")

    def _send_throttled(self, head: bytes, body: bytes, rate: int) -> None:
        """Write ``body`` at about ``rate`` bytes/s: slices sent on a schedule, no drift."""
        send, wait = self.connection.sendall, self.server.closing.wait
        step = max(1, rate // 20)   # ~20 writes a second: smooth without a syscall per byte
        view = memoryview(body)
        send(head + bytes(view[:step]))
        start = time.monotonic()
        for offset in range(step, len(body), step):
            pause = start + offset / rate - time.monotonic()
            if pause > 0:
                wait(pause)
            send(view[offset:offset + step])

    def _send_problem(self, status: int, title: str, detail: str) -> None:
        """Answer with a problem+json error, then close: the stream may be out of step."""
        self.close_connection = True
        self._write(problem_response(status, title, detail))
        self._linger()

    def send_error(self, code, message=None, explain=None):
        """Never CPython's HTML page: every server error is problem+json."""
        code = int(code)
        phrase = HTTPStatus(code).phrase if code in _STATUS_LINES else "Error"
        self._send_problem(code, message or phrase, explain or "")

    def _linger(self) -> None:
        """Half-close, then read and drop what the client still sends, for a bounded time.

        Closing with unread input makes the kernel send RST, and the client's TCP stack may
        then discard the error response before the client reads it.
        """
        conn = self.connection
        limit = self._limits.idle_timeout_s
        deadline = time.monotonic() + (min(_LINGER_S, limit) if limit and limit > 0
                                       else _LINGER_S)
        budget = _LINGER_BYTES
        try:
            socket.socket.shutdown(conn, socket.SHUT_WR)
            while budget > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                conn.settimeout(left)
                data = conn.recv(65536)
                if not data:
                    break
                budget -= len(data)
        except OSError:
            pass

    # ----------------------------------------------------------------- faults

    def _close_now(self, reset: bool) -> None:
        conn = self.connection
        if reset:
            # Linger on with a zero timeout: close() sends RST instead of FIN.
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
        self.rfile.close()   # makefile() holds a reference that would keep the fd open
        conn.close()


def _check_codings(codings: list[str]) -> None:
    names = [c.strip().lower() for c in ",".join(codings).split(",")]
    if names[-1] != "chunked":
        raise _ProtocolError(400, "Bad request", f"Transfer-Encoding {', '.join(names)!r} "
                             "does not end in 'chunked', so the body length is unknown")
    if len(names) > 1:
        raise _ProtocolError(501, "Not implemented", "only 'Transfer-Encoding: chunked' is "
                             f"supported, not {', '.join(names)!r}")


def _parse_length(values: list[str]) -> int:
    found = {v.strip() for v in ",".join(values).split(",")}
    value = found.pop() if len(found) == 1 else ""
    # isascii: str.isdigit() also accepts digits such as '²' that int() rejects.
    if not (value.isascii() and value.isdigit()):
        raise _ProtocolError(400, "Bad request", f"bad Content-Length {', '.join(values)!r}; "
                             "expected one non-negative integer")
    return int(value)


def _check_plan(response) -> None:
    """Reject a plan the server cannot carry out (a bug in the app, answered as 500)."""
    if not isinstance(response, Response):
        raise TypeError(f"app.handle returned {type(response).__name__}, expected a Response")
    if not isinstance(response.status, int) or not 100 <= response.status <= 599:
        raise ValueError(f"response status {response.status!r} is not an HTTP status 100-599")
    if not isinstance(response.body, (bytes, bytearray)):
        raise TypeError(f"response body is {type(response.body).__name__}, expected bytes")
    if response.fault is not None and response.fault not in _FAULT_ACTIONS:
        raise ValueError(f"unknown fault {response.fault!r}; expected one of {FAULTS}")


def _clean_headers(headers):
    return [(str(n).replace("\r", "").replace("\n", ""),
             str(v).replace("\r", " ").replace("\n", " ")) for n, v in headers]


def _without_framing(headers):
    return [(n, v) for n, v in headers if n.lower() not in _FRAMING]


# Each fault breaks the exchange in a way a client library must notice. The connection is
# always closed afterwards (close_connection is set before the action runs).

def _fault_connection_reset(handler: _Wire, response: Response) -> None:
    handler._close_now(reset=True)


def _fault_empty_response(handler: _Wire, response: Response) -> None:
    handler._close_now(reset=False)


def _fault_malformed_chunk(handler: _Wire, response: Response) -> None:
    headers = [*_without_framing(response.headers), ("Transfer-Encoding", "chunked")]
    head = handler._render_head(response.status, headers, None)
    part = response.body[:len(response.body) // 2]
    chunk = b"%x\r\n%s\r\n" % (len(part), part) if part else b""
    handler.connection.sendall(head + chunk + b"zz-not-a-chunk-size\r\n")


def _fault_random_data_then_close(handler: _Wire, response: Response) -> None:
    handler.connection.sendall(os.urandom(_GARBAGE_BYTES))


def _fault_truncated_body(handler: _Wire, response: Response) -> None:
    body = response.body
    declared = len(body) or 1   # an empty body cannot be cut short, so promise one byte
    head = handler._render_head(response.status, _without_framing(response.headers), declared)
    handler.connection.sendall(head + body[:len(body) // 2])


_FAULT_ACTIONS = {
    "connection_reset": _fault_connection_reset,
    "empty_response": _fault_empty_response,
    "malformed_chunk": _fault_malformed_chunk,
    "random_data_then_close": _fault_random_data_then_close,
    "truncated_body": _fault_truncated_body,
}
