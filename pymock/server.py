"""The HTTP edge: bytes on the wire become a ``Request``; a ``Response`` plan becomes bytes.

Layer 2. With ``http_wire`` (the wire format: parsing, framing, response heads, faults) this
is the only code that sleeps for injected latency or breaks sockets on purpose (faults). It
knows nothing about mocks: the *app* is any object with ``handle(request) -> Response`` and a
``limits`` attribute (``ServerLimits``), read again for every request because a reload may
swap it. An optional ``app.on_error(exc, request)`` hears about exceptions the app raised.

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

Imports only the standard library and pymock's ``errors``, ``model`` and ``http_wire``
(relatively), never a layer 1 module. Nothing in layers 0-1 may import this module; it is
handed the app, never the other way round.
"""

from __future__ import annotations

import socket
import ssl
import sys
import threading
import time
import traceback
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer

from .errors import ConfigError, Problem, problem_body
from .http_wire import _DEFAULT_LIMITS, _FAULT_ACTIONS, _check_plan, _ProtocolError, _Wire
from .http_wire import _fault_connection_reset  # noqa: F401  (re-exported: LEARNING.md names it)
from .model import Request, Response, problem_response

__all__ = ["MockHTTPServer", "Handler", "make_server", "serve_in_thread", "stop_server",
           "build_ssl_context", "format_listen_url"]


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
        self.errors: list[BaseException] = []  # the first MAX_ERRORS, for tests (check())
        self.error_count = 0
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
        limit = getattr(self.app, "limits", None)
        limit = limit.max_connections if limit is not None else 0
        with self._conn_lock:
            full = limit and len(self._connections) >= limit
            if not full:
                self._connections.add(request)
        if full:  # one thread per connection: refuse rather than let a flood exhaust threads
            _refuse_busy(request)
            return
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

    MAX_ERRORS = 100  # kept so tests can re-raise them; a long-running server must not grow

    def record_error(self, exc: BaseException) -> None:
        self.error_count += 1
        if len(self.errors) < self.MAX_ERRORS:
            self.errors.append(exc)

    def handle_error(self, request, client_address):
        """Record an exception that escaped a handler (a bug), instead of printing it."""
        exc = sys.exc_info()[1]
        self.record_error(exc)
        if self.log is not None:
            self.log(f"error serving {client_address[0]}:\n{traceback.format_exc().rstrip()}")


def _refuse_busy(conn) -> None:
    """Answer 503 on a connection over ``server.max_connections`` and close it, on the
    accepting thread (so it must not wait on the client)."""
    body = problem_body(503, "Too many connections", "the server is at server.max_connections; retry shortly")
    head = (f"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/problem+json\r\n"
            f"Content-Length: {len(body)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n").encode()
    try:
        conn.settimeout(0.5)
        conn.sendall(head + body)
    except OSError:
        pass
    finally:
        conn.close()


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


class Handler(_Wire, BaseHTTPRequestHandler):
    """Reads each request with the server's limits, calls the app, carries out its plan.

    The wire format (parsing, framing, writing, faults) comes from ``http_wire._Wire``; this
    class runs the connection, asks the app and logs.
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
        self._request = None
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
        server.record_error(exc)
        name = type(exc).__name__
        if server.log is not None:
            server.log(f"app failed on {request.method} {request.target}:\n"
                       f"{traceback.format_exc().rstrip()}")
        on_error = getattr(server.app, "on_error", None)
        if on_error is not None:
            try:
                on_error(exc, request)
            except Exception as hook_exc:  # a broken hook is recorded, not raised
                server.record_error(hook_exc)
        return problem_response(500, "Internal server error",
                                f"the app raised {name}: {exc}", exception=name)

    # ----------------------------------------------------------------- logging

    def address_string(self):
        return self.client_address[0]   # never a reverse DNS lookup

    def log_message(self, format, *args):  # noqa: A002 (stdlib signature)
        self._log(f"{self.address_string()} {format % args}")

    def _log(self, line: str) -> None:
        if self.server.log is not None:
            self.server.log(line)

    def _log_access(self, status, size: int) -> None:
        log = self.server.log
        if log is not None:
            access = getattr(log, "access", None)   # a structured sink (cli --log-format json)
            if access is not None:
                access(self.client_address[0], self.requestline, status, size, self._request)
            else:
                log(f'{self.client_address[0]} "{self.requestline}" {status} {size}')
