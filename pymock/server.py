"""The HTTP edge: bytes on the wire become a ``Request``; a ``Response`` plan becomes bytes.

Layer 2. This is the only module that sleeps for injected latency or breaks sockets on
purpose (faults). It knows nothing about mocks: the *app* is any object with
``handle(request) -> Response`` and a ``limits`` attribute (``ServerLimits``), read again
for every request because a reload may swap it. An optional ``app.on_error(exc, request)``
hears about exceptions the app raised.

>>> from pymock.model import Response
>>> class Hello:
...     def handle(self, request):
...         return Response.text(200, "hi " + request.path)
>>> server = make_server(Hello())
>>> thread = serve_in_thread(server)
>>> import http.client
>>> conn = http.client.HTTPConnection(*server.server_address[:2], timeout=5)
>>> conn.request("GET", "/there")
>>> conn.getresponse().read()
b'hi /there'
>>> conn.close()
>>> stop_server(server, thread)

Imports only the standard library and pymock's ``__version__``, ``errors`` and ``model``
(relatively), never a layer 1 module. Nothing in layers 0-1 may import this module; it is
handed the app, never the other way round.
"""

from __future__ import annotations

import os
import re
import socket
import ssl
import struct
import sys
import threading
import time
import traceback
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer

from . import __version__
from .errors import ConfigError, Problem
from .model import FAULTS, Headers, Request, Response, ServerLimits, problem_response

__all__ = ["MockHTTPServer", "Handler", "make_server", "serve_in_thread", "stop_server",
           "build_ssl_context", "format_listen_url"]

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


# --------------------------------------------------------------------------- server


class MockHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server that hands every request to ``app`` and tracks its connections.

    ``errors`` collects exceptions that escaped the app or a handler, so tests can fail on
    them. ``closing`` is set by ``server_close``: delays end early, idle keep-alive
    connections are woken and closed, and in-flight responses are still written.
    """

    daemon_threads = True         # a stuck client thread never keeps the process alive
    allow_reuse_address = True    # restart on the same port without waiting for TIME_WAIT
    request_queue_size = 128      # bursts of connections (benchmarks, parallel tests) queue
    close_timeout = 5.0           # how long server_close waits for in-flight requests

    def __init__(self, server_address, app, *, ssl_context: ssl.SSLContext | None = None,
                 log=None):
        self.app = app
        self.log = log
        self.errors: list[BaseException] = []
        self.ssl_context = ssl_context
        self.scheme = "https" if ssl_context is not None else "http"
        self.closing = threading.Event()
        self._date = (0, "")
        self._connections: set = set()
        self._conn_lock = threading.Lock()
        self._drained = threading.Condition(self._conn_lock)
        if ":" in server_address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(server_address, Handler)
        if ssl_context is not None:
            # The handshake is left to the handler thread (see Handler.handle): done in
            # accept() it would run on the serving thread, and one silent client would stop
            # every other connection from being accepted.
            self.socket = ssl_context.wrap_socket(self.socket, server_side=True,
                                                  do_handshake_on_connect=False)

    def server_bind(self):
        # HTTPServer.server_bind calls socket.getfqdn(), a reverse DNS lookup that stalls for
        # ~30 s on machines with a slow resolver; the name is never used here.
        TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def date_header(self) -> str:
        """The ``Date:`` header line, formatted at most once a second."""
        now = int(time.time())
        cached = self._date
        if cached[0] != now:
            # Rebinding one tuple is atomic, so racing threads at worst format it twice.
            cached = (now, f"Date: {formatdate(now, usegmt=True)}\r\n")
            self._date = cached
        return cached[1]

    def process_request(self, request, client_address):
        # Tracked here, on the serving thread, so server_close cannot miss a connection that
        # was accepted but whose handler thread has not started yet.
        with self._conn_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        super().shutdown_request(request)
        with self._conn_lock:
            self._connections.discard(request)
            if not self._connections:
                self._drained.notify_all()

    def server_close(self):
        """Stop accepting, let in-flight requests finish, close idle connections.

        ThreadingHTTPServer's daemon threads are never joined, and an idle keep-alive
        connection would sit in ``readline`` for the whole idle timeout. So each live
        connection is shut down *for reading*: a handler waiting for the next request sees
        EOF at once, while one busy with a request can still write its response (delays are
        cut short through ``closing``). Then wait, at most ``close_timeout``, for them all.
        """
        self.closing.set()
        with self._conn_lock:
            live = list(self._connections)
        for conn in live:
            _shutdown_read(conn)
        super().server_close()
        with self._conn_lock:
            self._drained.wait_for(lambda: not self._connections, timeout=self.close_timeout)

    def handle_error(self, request, client_address):
        """Record an exception that escaped a handler (a bug), instead of printing it."""
        exc = sys.exc_info()[1]
        self.errors.append(exc)
        if self.log is not None:
            self.log(f"error serving {client_address[0]}:\n{traceback.format_exc().rstrip()}")


def _shutdown_read(conn) -> None:
    # socket.socket.shutdown, not SSLSocket.shutdown: the latter drops the TLS state, and a
    # handler still writing its response would then send plaintext.
    try:
        socket.socket.shutdown(conn, socket.SHUT_RD)
    except OSError:
        pass


def make_server(app, host: str = "127.0.0.1", port: int = 0, *,
                ssl_context: ssl.SSLContext | None = None, log=None) -> MockHTTPServer:
    """Bind (port 0 picks a free port) and return a server for ``app``; not yet serving.

    ``log`` is a callable taking one line of text (access and error lines); None is quiet.
    """
    return MockHTTPServer((host, port), app, ssl_context=ssl_context, log=log)


def serve_in_thread(server: MockHTTPServer) -> threading.Thread:
    """Run ``server.serve_forever`` on a daemon thread and return the thread."""
    # A short poll interval makes shutdown() return in ~50 ms instead of up to 0.5 s.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name=f"pymock-server-{server.server_address[1]}", daemon=True)
    thread.start()
    return thread


def stop_server(server: MockHTTPServer, thread: threading.Thread | None = None) -> None:
    """Stop serving, close the server and join ``thread``. Never call it from a handler."""
    if thread is not None and thread.is_alive():
        server.shutdown()
    server.server_close()
    if thread is not None:
        thread.join(server.close_timeout)


def format_listen_url(server: MockHTTPServer) -> str:
    """``http://HOST:PORT`` (or https) with the port actually bound; IPv6 hosts in brackets."""
    host, port = server.server_address[:2]
    if ":" in host:
        host = f"[{host}]"
    return f"{server.scheme}://{host}:{port}"


def build_ssl_context(cert_path, key_path) -> ssl.SSLContext:
    """A server TLS context from PEM files; ``ConfigError`` names the file that is wrong."""
    problems = [p for p in (_pem_problem(cert_path, "certificate", "CERTIFICATE-----"),
                            _pem_problem(key_path, "private key", "PRIVATE KEY-----")) if p]
    if problems:
        raise ConfigError(problems, source="the TLS settings")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        # A password callback that gives nothing: OpenSSL would otherwise prompt on the TTY.
        context.load_cert_chain(str(cert_path), str(key_path), password=lambda: b"")
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError([Problem(
            f"{cert_path} + {key_path}", f"cannot load the certificate and key: {exc}",
            "check that the key belongs to the certificate and is not password-protected")],
            source="the TLS settings") from exc
    return context


def _pem_problem(path, what: str, marker: str) -> Problem | None:
    try:
        with open(path, "rb") as handle:
            text = handle.read(1 << 20)
    except OSError as exc:
        return Problem(str(path), f"cannot read the TLS {what} file: {exc.strerror}",
                       f"pass the path of an existing PEM {what} file")
    if marker.encode() not in text:
        return Problem(str(path), f"not a PEM {what} (no '-----BEGIN ...{marker}' block)",
                       f"pass a PEM-encoded {what}")
    return None


# --------------------------------------------------------------------------- handler


class Handler(BaseHTTPRequestHandler):
    """Reads each request with the server's limits, calls the app, carries out its plan.

    Parsing is done here rather than by ``parse_request`` so that the configurable limits
    (``ServerLimits``) apply and every refusal is ``application/problem+json``.
    """

    protocol_version = "HTTP/1.1"
    # Response bytes go out in one write, but Nagle + the client's delayed ACK still stall
    # each keep-alive request by ~40 ms on small writes.
    disable_nagle_algorithm = True
    server: MockHTTPServer

    def __getattr__(self, name):
        # Every method, standard or custom (PURGE, PROPFIND, ...), goes to one place.
        if name.startswith("do_"):
            return self._handle
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def setup(self):
        super().setup()
        self._limits = getattr(self.server.app, "limits", _DEFAULT_LIMITS)
        self._timeout = None
        self._apply_timeout(self._limits.idle_timeout_s)
        self._head = self._http10 = False
        self._request = None

    def _apply_timeout(self, seconds) -> None:
        # A per-read timeout: a silent or stalled client releases its thread. <= 0 means none.
        if seconds != self._timeout:
            self.connection.settimeout(seconds if seconds and seconds > 0 else None)
            self._timeout = seconds

    def handle(self):
        self.close_connection = True
        try:
            if isinstance(self.connection, ssl.SSLSocket):
                self.connection.do_handshake()
            self.close_connection = False
            while not self.close_connection:
                self.handle_one_request()
        except OSError as exc:   # client went away, timed out, or failed the TLS handshake
            self.close_connection = True
            self._log(f"{self.client_address[0]} connection dropped: {exc!r}")

    def handle_one_request(self):
        """Read one request and answer it; sets ``close_connection`` when the stream ends."""
        self._head = False
        self.requestline = ""   # logged with an error that comes before the request line parses
        try:
            request = self._read_request()
        except _ProtocolError as err:
            self._send_problem(err.status, err.title, err.detail)
            return
        if request is None:
            self.close_connection = True
            return
        self._request = request
        self._handle()

    # ----------------------------------------------------------------- reading

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
        items = self._read_fields(limits.max_header_bytes - len(line), limits.max_headers)
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

    def _read_fields(self, budget: int, max_count: int) -> list[tuple[str, str]]:
        """Header (or trailer) lines up to the blank line, within a byte and a count budget."""
        readline = self.rfile.readline
        items: list[tuple[str, str]] = []
        while True:
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

    # ----------------------------------------------------------------- answering

    def _handle(self):
        """Ask the app for a plan and carry it out (every ``do_*`` method lands here)."""
        request = self._request
        try:
            response = self.server.app.handle(request)
            _check_plan(response)
        except Exception as exc:  # the app's bug must not kill the connection or the server
            response = self._app_failed(exc, request)
        if self.server.closing.is_set():
            self.close_connection = True
        delay = response.delay_s
        if delay and delay > 0:
            # Event.wait, not sleep: server_close cuts delays short so shutdown stays quick.
            self.server.closing.wait(min(delay, self._limits.max_delay_s))
        if response.fault is not None:
            self.close_connection = True
            _FAULT_ACTIONS[response.fault](self, response)
            self._log_access(f"fault={response.fault}", 0)
            return
        self._write(response)

    def _app_failed(self, exc: Exception, request: Request) -> Response:
        server = self.server
        server.errors.append(exc)
        name = type(exc).__name__
        if server.log is not None:
            server.log(f"app failed on {request.method} {request.target}:\n"
                       f"{traceback.format_exc().rstrip()}")
        on_error = getattr(server.app, "on_error", None)
        if on_error is not None:
            try:
                on_error(exc, request)
            except Exception as hook_exc:  # a broken hook is recorded, not raised
                server.errors.append(hook_exc)
        return problem_response(500, "Internal server error",
                                f"the app raised {name}: {exc}", exception=name)

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

    # ----------------------------------------------------------------- logging

    def address_string(self):
        return self.client_address[0]   # never a reverse DNS lookup

    def log_message(self, format, *args):  # noqa: A002 (stdlib signature)
        self._log(f"{self.address_string()} {format % args}")

    def _log(self, line: str) -> None:
        if self.server.log is not None:
            self.server.log(line)

    def _log_access(self, status, size: int) -> None:
        if self.server.log is not None:
            self.server.log(f'{self.client_address[0]} "{self.requestline}" {status} {size}')


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

def _fault_connection_reset(handler: Handler, response: Response) -> None:
    handler._close_now(reset=True)


def _fault_empty_response(handler: Handler, response: Response) -> None:
    handler._close_now(reset=False)


def _fault_malformed_chunk(handler: Handler, response: Response) -> None:
    headers = [*_without_framing(response.headers), ("Transfer-Encoding", "chunked")]
    head = handler._render_head(response.status, headers, None)
    part = response.body[:len(response.body) // 2]
    chunk = b"%x\r\n%s\r\n" % (len(part), part) if part else b""
    handler.connection.sendall(head + chunk + b"zz-not-a-chunk-size\r\n")


def _fault_random_data_then_close(handler: Handler, response: Response) -> None:
    handler.connection.sendall(os.urandom(_GARBAGE_BYTES))


def _fault_truncated_body(handler: Handler, response: Response) -> None:
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
