"""Forward a request to an upstream over HTTP or HTTPS: the network half of the proxy modes.

Layer 2 (the edge): opens sockets, speaks HTTP/1.1 (a small response reader of its own, see
``_Conn``) and TLS through ``ssl``. ``Forwarder`` is the ``forward(upstream, request, options) -> UpstreamResult``
callable that ``MockApp`` is handed (``modes.py`` decides when to call it). What it does:

* strips hop-by-hop headers (and any named in ``Connection``) both ways, rewrites ``Host``
  (unless ``preserve_host``) and adds ``X-Forwarded-For``/``-Proto``/``-Host``;
* checks the upstream policy on the host name *and* on every address it resolves to, then
  connects to the address it checked, so DNS cannot slip a metadata address past the check;
* bounds the response body by ``max_body_bytes`` (the edge sends bodies whole, so an
  unbounded one would be held in memory);
* keeps idle keep-alive connections per upstream (a pooled connection the upstream closed
  meanwhile is retried once on a fresh one), follows redirects only when asked;
* never raises for a network problem: it reports ``error`` = ``connect``, ``timeout``,
  ``tls``, ``protocol``, ``too_large`` or ``refused_by_policy`` with a detail.

>>> from pymock.modes import parse_upstream, ProxyOptions
>>> from pymock.model import Request
>>> forward = Forwarder()
>>> forward(parse_upstream("http://169.254.169.254"), Request("GET", "/"), ProxyOptions()).error
'refused_by_policy'

Imports ``modes`` and ``model`` (layers 0-1); nothing below layer 2 may import this module.
"""

from __future__ import annotations

import select
import socket
import ssl
import threading
import time
from urllib.parse import urljoin, urlsplit

from .errors import ConfigError
from .modes import ProxyOptions, Upstream, UpstreamResult, parse_upstream

__all__ = ["Forwarder", "HOP_BY_HOP", "outgoing_headers", "incoming_headers", "upstream_target"]

HOP_BY_HOP = frozenset(("connection", "keep-alive", "proxy-connection", "proxy-authenticate",
                        "proxy-authorization", "te", "trailer", "trailers", "transfer-encoding",
                        "upgrade"))
# Also never copied from the client: the edge already answered Expect, we frame the body and
# set Host ourselves, and X-Forwarded-For is rebuilt with the client appended.
_NOT_FORWARDED = HOP_BY_HOP | {"host", "content-length", "expect"}
_REDIRECTS = (301, 302, 303, 307, 308)
_CREDENTIALS = frozenset(("authorization", "cookie"))
_IDEMPOTENT = frozenset(("GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"))
_MAX_HEAD = 64 * 1024   # the upstream's status line and headers, like the edge's own limit


class _Failure(Exception):
    def __init__(self, kind: str, detail: str):
        super().__init__(detail)
        self.kind, self.detail = kind, detail


class _Stale(Exception):
    """A pooled connection the upstream had already closed: retry on a fresh one."""


def upstream_target(upstream: Upstream, request, options: ProxyOptions) -> str:
    """The request-target to send: base path + the client's raw path (minus ``strip_prefix``)
    + its query, percent-encoding kept as the client sent it."""
    raw_path, sep, query = request.target.partition("?")
    prefix = options.strip_prefix
    if prefix and (raw_path == prefix or raw_path.startswith(prefix + "/")):
        raw_path = raw_path[len(prefix):] or "/"
    if not raw_path.startswith("/"):
        raw_path = "/" + raw_path
    return upstream.base_path + raw_path + sep + query


def _connection_tokens(headers) -> set:
    return {token.strip().lower() for name, value in headers if name.lower() == "connection"
            for token in value.split(",")}


def outgoing_headers(request, options: ProxyOptions) -> list:
    """The client's end-to-end headers plus ``X-Forwarded-*`` (``Host`` is added per hop)."""
    dropped = _NOT_FORWARDED | _connection_tokens(request.headers)
    if options.forwarded_headers:
        dropped = dropped | {"x-forwarded-for"}
    if options.identity_encoding:
        dropped = dropped | {"accept-encoding"}
    out = [(name, value) for name, value in request.headers if name.lower() not in dropped]
    if request.id and "x-request-id" not in request.headers:
        out.append(("X-Request-Id", request.id))   # the upstream's logs line up with ours
    if options.identity_encoding:
        out.append(("Accept-Encoding", "identity"))
    if options.forwarded_headers:
        prior = ", ".join(request.headers.get_all("x-forwarded-for"))
        client = request.client[0]
        out.append(("X-Forwarded-For", f"{prior}, {client}" if prior else client))
        if "x-forwarded-proto" not in request.headers:
            out.append(("X-Forwarded-Proto", request.scheme))
        host = request.headers.get("host")
        if host and "x-forwarded-host" not in request.headers:
            out.append(("X-Forwarded-Host", host))
    return out


def incoming_headers(headers, method: str) -> list:
    """The upstream's end-to-end headers. Framing is dropped (the edge frames the body again),
    except ``Content-Length`` on an answer to HEAD, which describes the absent body."""
    dropped = HOP_BY_HOP | _connection_tokens(headers)
    if method != "HEAD":
        dropped = dropped | {"content-length"}
    return [(name, value) for name, value in headers if name.lower() not in dropped]


class Forwarder:
    """``forward(upstream, request, options) -> UpstreamResult``, thread-safe.

    ``pool_size`` idle connections are kept per upstream; ``resolve`` is
    ``socket.getaddrinfo`` unless a test injects another resolver. Call ``close()`` to drop
    the idle connections.
    """

    def __init__(self, *, pool_size: int = 16, resolve=socket.getaddrinfo):
        self.pool_size = pool_size
        self._resolve = resolve
        self._lock = threading.Lock()
        self._idle: dict = {}
        self._contexts: dict = {}

    def __call__(self, upstream: Upstream, request, options: ProxyOptions) -> UpstreamResult:
        started = time.perf_counter()
        method, body = request.method, request.body
        headers = outgoing_headers(request, options)
        host = request.headers.get("host") if options.preserve_host else None
        target = upstream_target(upstream, request, options)
        redirects: list = []
        try:
            while True:
                status, reply, data = self._exchange(upstream, method, target, headers, body, options, host)
                location = _header(reply, "location")
                if not (options.follow_redirects and status in _REDIRECTS and location):
                    break
                if len(redirects) >= options.max_redirects:
                    raise _Failure("protocol", f"more than {options.max_redirects} redirects "
                                   f"(proxy.max_redirects): {' -> '.join(redirects)}")
                url = urljoin(_url(upstream, target), location)
                next_upstream, target = _redirect_target(url)
                redirects.append(url)
                if status == 303 or (status in (301, 302) and method == "POST"):
                    method, body = ("HEAD" if method == "HEAD" else "GET"), b""
                    headers = [(n, v) for n, v in headers if n.lower() != "content-type"]
                if next_upstream.origin != upstream.origin:
                    headers = [(n, v) for n, v in headers if n.lower() not in _CREDENTIALS]
                    host = None
                upstream = next_upstream
        except _Failure as failure:
            return UpstreamResult(error=failure.kind, detail=failure.detail, url=_url(upstream, target),
                                  elapsed_s=time.perf_counter() - started, redirects=tuple(redirects))
        return UpstreamResult(status, tuple(incoming_headers(reply, method)), data,
                              time.perf_counter() - started, url=_url(upstream, target),
                              redirects=tuple(redirects))

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for connections in idle.values():
            for conn in connections:
                conn.close()

    # ------------------------------------------------------------ one hop

    def _exchange(self, upstream: Upstream, method, target, headers, body, options, host):
        refusal = options.policy.refusal(upstream.host)
        if refusal:
            raise _Failure("refused_by_policy", refusal)
        head = _request_head(method, target, host or upstream.host_header, headers, body)
        key = (upstream.scheme, upstream.host, upstream.port, options.policy, options.verify_tls,
               options.ca_file)
        conn = self._acquire(key)
        if conn is not None:
            try:
                return self._round_trip(key, conn, method, head, body, options)
            except _Stale:
                if method not in _IDEMPOTENT:
                    raise _Failure("protocol", "the upstream closed a kept-alive connection without "
                                   f"answering; {method} is not retried (it may have been processed)") from None
        conn = self._connect(upstream, options)   # a fresh connection is never stale
        return self._round_trip(key, conn, method, head, body, options)

    def _round_trip(self, key, conn: _Conn, method, head: bytes, body: bytes, options):
        try:
            if conn.timeout != options.read_timeout_s:
                conn.sock.settimeout(options.read_timeout_s)
                conn.timeout = options.read_timeout_s
            conn.send(head + body if len(body) < 65536 else head, body if len(body) >= 65536 else b"")
            status, headers, data, reusable = conn.read_response(method, options.max_body_bytes)
        except _Failure:
            conn.close()
            raise
        except _Stale:
            conn.close()
            raise
        except TimeoutError:
            conn.close()
            raise _Failure("timeout", f"no answer within {options.read_timeout_s:g} s "
                           "(proxy.read_timeout_s)") from None
        except ssl.SSLError as exc:
            conn.close()
            raise _Failure("tls", f"TLS error: {exc}") from None
        except OSError as exc:
            conn.close()
            raise _Failure("protocol", f"the connection broke: {exc}") from None
        if reusable:
            self._release(key, conn)
        else:
            conn.close()
        return status, headers, data

    # ------------------------------------------------------------ connections

    def _connect(self, upstream: Upstream, options: ProxyOptions) -> _Conn:
        addresses = self._addresses(upstream, options)
        sock = _open_socket(addresses, upstream, options)
        if upstream.scheme == "https":
            context = self._context(options)
            try:
                sock = context.wrap_socket(sock, server_hostname=upstream.host)
            except (ssl.SSLError, ssl.CertificateError) as exc:
                sock.close()
                reason = getattr(exc, "verify_message", None) or getattr(exc, "reason", None) or exc
                raise _Failure("tls", f"TLS handshake with {upstream.host_header} failed: {reason}") from None
            except TimeoutError:
                sock.close()
                raise _Failure("timeout", f"the TLS handshake with {upstream.host_header} took more than "
                               f"{options.connect_timeout_s:g} s (proxy.connect_timeout_s)") from None
            except OSError as exc:
                sock.close()
                raise _Failure("tls", f"TLS handshake with {upstream.host_header} failed: {exc}") from None
        return _Conn(sock)

    def _addresses(self, upstream: Upstream, options: ProxyOptions) -> list:
        try:
            infos = self._resolve(upstream.host, upstream.port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise _Failure("connect", f"cannot resolve {upstream.host}: {exc}") from None
        allowed, refusal = [], None
        for family, _type, _proto, _name, sockaddr in infos:
            why = options.policy.refusal(upstream.host, sockaddr[0])
            if why:
                refusal = refusal or f"{upstream.host} resolves to {sockaddr[0]}, and {why}"
            else:
                allowed.append((family, sockaddr))
        if not allowed:
            raise _Failure("refused_by_policy", refusal or f"{upstream.host} resolves to no address")
        return allowed

    def _context(self, options: ProxyOptions) -> ssl.SSLContext:
        key = (options.verify_tls, options.ca_file)
        with self._lock:
            context = self._contexts.get(key)
        if context is None:
            try:
                context = ssl.create_default_context(cafile=options.ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise _Failure("tls", f"cannot load proxy.ca_file {options.ca_file!r}: {exc}") from None
            if not options.verify_tls:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            with self._lock:
                self._contexts[key] = context
        return context

    def _acquire(self, key):
        while True:
            with self._lock:
                idle = self._idle.get(key)
                conn = idle.pop() if idle else None
            if conn is None or conn.usable():
                return conn
            conn.close()   # the upstream closed it while it was idle

    def _release(self, key, conn) -> None:
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < self.pool_size:
                idle.append(conn)
                return
        conn.close()


class _Conn:
    """One upstream connection with its read buffer: a small HTTP/1.1 response reader.

    ``http.client`` parses headers with the ``email`` package; this reader does the same job
    (status line, headers, Content-Length, chunked, read-until-close, 1xx) for about a fifth
    of the CPU, which is most of what a proxied request costs beyond a mocked one.
    """

    __slots__ = ("sock", "buffer", "answered", "timeout")

    def __init__(self, sock):
        self.sock = sock
        self.buffer = bytearray()
        self.answered = 0   # responses read on this connection (0: never used)
        self.timeout = None

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def usable(self) -> bool:
        """An idle connection is usable when nothing (EOF, stray bytes) is waiting on it."""
        try:
            readable, _, _ = select.select([self.sock], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable and not self.buffer

    def send(self, data: bytes, more: bytes = b"") -> None:
        try:
            self.sock.sendall(data)
            if more:
                self.sock.sendall(more)
        except (BrokenPipeError, ConnectionResetError):
            if self.answered:
                raise _Stale() from None
            raise

    def _fill(self) -> None:
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            data = b""
        if not data:
            if self.answered and not self.buffer:
                raise _Stale()
            raise _Failure("protocol", "the upstream closed the connection in the middle of its answer"
                           if self.buffer else "the upstream closed the connection without answering")
        self.buffer += data

    def read_response(self, method: str, limit: int):
        """``(status, headers, body, reusable)``; interim 1xx answers are skipped."""
        while True:
            status, version, headers = self._read_head()
            if status >= 200:
                break
            if status == 101:
                raise _Failure("protocol", "the upstream switched protocols (101); upgrades are not proxied")
        body, until_close = self._read_body(method, status, headers, limit)
        self.answered += 1
        tokens = {t.strip().lower() for n, v in headers if n.lower() == "connection" for t in v.split(",")}
        keep = "keep-alive" in tokens if version == "HTTP/1.0" else "close" not in tokens
        return status, headers, body, keep and not until_close and not self.buffer

    def _read_head(self):
        start = 0
        while True:
            end = self.buffer.find(b"\r\n\r\n", start)
            if 0 <= end <= _MAX_HEAD:
                break
            if len(self.buffer) > _MAX_HEAD:
                raise _Failure("protocol", f"the upstream's header block is larger than {_MAX_HEAD} bytes")
            start = max(0, len(self.buffer) - 3)
            self._fill()
        head = bytes(self.buffer[:end]).decode("latin-1")
        del self.buffer[:end + 4]
        lines = head.split("\r\n")
        version, _, rest = lines[0].partition(" ")
        code = rest[:3]
        if not version.startswith("HTTP/1.") or not (code.isascii() and code.isdigit()):
            raise _Failure("protocol", f"not an HTTP/1.x status line: {lines[0][:80]!r}")
        return int(code), version, _header_lines(lines[1:])

    def _read_body(self, method: str, status: int, headers, limit: int):
        if method == "HEAD" or status in (204, 304):
            return b"", False
        codings = [c.strip().lower() for n, v in headers if n.lower() == "transfer-encoding"
                   for c in v.split(",")]
        if codings:
            if codings[-1] == "chunked":
                return self._read_chunked(limit), False
            return self._read_until_close(limit), True
        lengths = {v.strip() for n, v in headers if n.lower() == "content-length"}
        if not lengths:
            return self._read_until_close(limit), True
        length = lengths.pop()
        if lengths or not (length.isascii() and length.isdigit()):
            raise _Failure("protocol", f"the upstream sent a bad Content-Length {length!r}")
        return self._read_exact(int(length), limit), False

    def _read_exact(self, length: int, limit: int) -> bytes:
        if length > limit:
            raise _too_large(limit)
        while len(self.buffer) < length:
            self._fill()
        data = bytes(self.buffer[:length])
        del self.buffer[:length]
        return data

    def _read_until_close(self, limit: int) -> bytes:
        while True:
            if len(self.buffer) > limit:
                raise _too_large(limit)
            try:
                data = self.sock.recv(65536)
            except ConnectionResetError:
                data = b""
            if not data:
                break
            self.buffer += data
        data = bytes(self.buffer)
        self.buffer.clear()
        return data

    def _read_line(self) -> bytes:
        while True:
            end = self.buffer.find(b"\r\n")
            if end >= 0:
                line = bytes(self.buffer[:end])
                del self.buffer[:end + 2]
                return line
            if len(self.buffer) > _MAX_HEAD:
                raise _Failure("protocol", "a chunk size line is too long")
            self._fill()

    def _read_chunked(self, limit: int) -> bytes:
        parts, total = [], 0
        while True:
            line = self._read_line().split(b";", 1)[0].strip()
            try:
                size = int(line, 16)
            except ValueError:
                raise _Failure("protocol", f"bad chunk size {line[:20]!r}") from None
            if size == 0:
                while self._read_line():   # trailer fields are dropped
                    pass
                return b"".join(parts)
            total += size
            if total > limit:
                raise _too_large(limit)
            parts.append(self._read_exact(size, limit))
            if self._read_exact(2, limit) != b"\r\n":
                raise _Failure("protocol", "a chunk is not followed by CRLF")


def _header_lines(lines: list) -> list:
    headers: list = []
    for line in lines:
        if line[:1] in (" ", "\t") and headers:   # obsolete line folding
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {line.strip()}")
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise _Failure("protocol", f"malformed header line from the upstream: {line[:80]!r}")
        headers.append((name, value.strip()))
    return headers


def _too_large(limit: int) -> _Failure:
    return _Failure("too_large", f"the body is larger than {limit} bytes (raise proxy.max_body_bytes)")


def _request_head(method: str, target: str, host: str, headers, body: bytes) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    for name, value in headers:
        if "\r" in value or "\n" in value:
            value = value.replace("\r", " ").replace("\n", " ")
        lines.append(f"{name}: {value}")
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    text = "\r\n".join(lines) + "\r\n\r\n"
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


def _open_socket(addresses: list, upstream: Upstream, options: ProxyOptions) -> socket.socket:
    failure = None
    for family, sockaddr in addresses:
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(options.connect_timeout_s)
        try:
            sock.connect(sockaddr)
        except TimeoutError:
            sock.close()
            failure = _Failure("timeout", f"connecting to {upstream.host_header} ({sockaddr[0]}) took more "
                               f"than {options.connect_timeout_s:g} s (proxy.connect_timeout_s)")
            continue
        except OSError as exc:
            sock.close()
            failure = _Failure("connect", f"cannot connect to {upstream.host_header} ({sockaddr[0]}): "
                               f"{exc.strerror or exc}")
            continue
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock
    raise failure


def _redirect_target(url: str) -> tuple[Upstream, str]:
    parts = urlsplit(url)
    try:
        upstream = parse_upstream(f"{parts.scheme}://{parts.netloc}", "redirect")
    except ConfigError:
        raise _Failure("protocol", f"cannot follow a redirect to {url!r}") from None
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return upstream, target


def _url(upstream: Upstream, target: str) -> str:
    return f"{upstream.scheme}://{upstream.host_header}{target}"


def _header(headers, name: str):
    for key, value in headers:
        if key.lower() == name:
            return value
    return None
