"""The request and the response plan that every layer passes around.

Pure: no sockets, threads or files. ``server.py`` turns bytes off the wire into a ``Request``
and carries out a ``Response`` plan (status, headers, body, a delay to sleep, a connection
fault to inject); everything between is plain data in, plain data out.

>>> req = Request("GET", "/users/7?active=1", headers=[("Accept", "application/json")])
>>> req.path, req.query["active"], req.headers.get("accept")
('/users/7', ['1'], 'application/json')
>>> resp = Response.json(201, {"id": 7})
>>> resp.status, resp.header("content-type"), resp.body
(201, 'application/json', b'{"id": 7}')
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from urllib.parse import parse_qs, unquote

from .errors import PROBLEM_CONTENT_TYPE, problem_body

__all__ = ["Headers", "Request", "Response", "ServerLimits", "FAULTS", "problem_response", "missing_route"]

# Connection-level faults the server knows how to carry out (see server.py).
FAULTS = ("connection_reset", "empty_response", "malformed_chunk",
          "random_data_then_close", "truncated_body")

_NO_JSON = object()


class Headers:
    """Case-insensitive, order-keeping, multi-valued header list.

    >>> h = Headers([("X-A", "1"), ("x-a", "2")])
    >>> h.get("X-a"), h.get_all("X-A"), "x-A" in h, h.get("nope", "-")
    ('1', ['1', '2'], True, '-')
    """

    __slots__ = ("_items", "_index")

    def __init__(self, items=()):
        if isinstance(items, dict):
            items = items.items()
        self._items = [(str(k), str(v)) for k, v in items]
        self._index: dict[str, list[str]] = {}
        for name, value in self._items:
            self._index.setdefault(name.lower(), []).append(value)

    def get(self, name: str, default=None):
        values = self._index.get(name.lower())
        return values[0] if values else default

    def get_all(self, name: str) -> list[str]:
        return list(self._index.get(name.lower(), ()))

    def __contains__(self, name) -> bool:
        return isinstance(name, str) and name.lower() in self._index

    def __iter__(self):
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def items(self) -> list[tuple[str, str]]:
        return list(self._items)

    def to_dict(self) -> dict[str, str]:
        """Lower-cased names to the first value: what templates and matchers see."""
        return {name: values[0] for name, values in self._index.items()}

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


class Request:
    """An HTTP request as the engine sees it: method, decoded path, query, headers, body.

    ``target`` is the request-target as sent (path plus optional ``?query``). ``json`` is the
    body parsed as JSON (``None`` when the body is empty or not JSON), computed once on demand.
    """

    __slots__ = ("method", "target", "path", "raw_query", "headers", "body", "client", "scheme",
                 "http_version", "_query", "_json", "_cookies", "id", "received_at")

    def __init__(self, method: str, target: str, headers=(), body: bytes = b"",
                 client: tuple[str, int] = ("127.0.0.1", 0), scheme: str = "http",
                 http_version: str = "HTTP/1.1"):
        self.method = method.upper()
        self.target = target
        raw_path, _, self.raw_query = target.partition("?")
        self.path = unquote(raw_path) or "/"
        self._query = None
        self.headers = headers if isinstance(headers, Headers) else Headers(headers)
        self.body = body
        self.client = client
        self.scheme = scheme
        self.http_version = http_version
        self._json = _NO_JSON
        self._cookies = None
        self.id = ""            # set by the journal when the request is recorded
        self.received_at = 0.0  # set by the server (wall clock, seconds)

    @property
    def query(self) -> dict[str, list[str]]:
        """Query parameters to their values, parsed on first use (most mocks never look)."""
        if self._query is None:
            self._query = parse_qs(self.raw_query, keep_blank_values=True) if self.raw_query else {}
        return self._query

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    @property
    def json(self):
        if self._json is _NO_JSON:
            try:
                self._json = json.loads(self.body) if self.body.strip() else None
            except (ValueError, UnicodeDecodeError, RecursionError):  # absurdly deep nesting too
                self._json = None
        return self._json

    @property
    def cookies(self) -> dict[str, str]:
        if self._cookies is None:
            jar = SimpleCookie()
            for header in self.headers.get_all("cookie"):
                try:
                    jar.load(header)
                except CookieError:
                    continue
            self._cookies = {name: morsel.value for name, morsel in jar.items()}
        return self._cookies

    def query_first(self) -> dict[str, str]:
        """Each query parameter's first value: the shape templates use for ``request.query.x``."""
        return {name: values[0] for name, values in self.query.items()}

    def __repr__(self) -> str:
        return f"Request({self.method} {self.target})"


@dataclass
class Response:
    """What to send, and how: the engine's plan, carried out only by ``server.py``.

    ``delay_s`` is slept before the first byte. ``fault`` (one of ``FAULTS``) replaces a normal
    answer with a broken one. ``bytes_per_s`` throttles the body (0 means no limit).
    """

    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    delay_s: float = 0.0
    fault: str | None = None
    bytes_per_s: int = 0

    def header(self, name: str, default=None):
        lowered = name.lower()
        for key, value in self.headers:
            if key.lower() == lowered:
                return value
        return default

    def set_header(self, name: str, value: str) -> None:
        lowered = name.lower()
        self.headers = [(k, v) for k, v in self.headers if k.lower() != lowered]
        self.headers.append((name, value))

    @classmethod
    def json(cls, status: int, payload, headers=(), content_type: str = "application/json"):
        body = json.dumps(payload).encode()
        return cls(status, [("Content-Type", content_type), *headers], body)

    @classmethod
    def text(cls, status: int, text: str, headers=(), content_type: str = "text/plain; charset=utf-8"):
        return cls(status, [("Content-Type", content_type), *headers], text.encode())


@dataclass(frozen=True)
class ServerLimits:
    """Protections the HTTP edge enforces before the app sees a request (config ``server``)."""

    max_body_bytes: int = 10 * 1024 * 1024   # larger bodies get 413
    max_header_bytes: int = 64 * 1024        # request line + headers; larger gets 431
    max_headers: int = 100                   # more header lines gets 431
    idle_timeout_s: float = 30.0             # a connection silent this long is closed
    head_timeout_s: float = 10.0             # the request line and headers must arrive within this
    max_connections: int = 1000              # more open connections are refused with 503
    max_delay_s: float = 300.0               # cap on any injected latency


def problem_response(status: int, title: str, detail: str = "", headers=(), **kwargs) -> Response:
    """An ``application/problem+json`` response (RFC 9457); kwargs go into the document."""
    body = problem_body(status, title, detail, **kwargs)
    return Response(status, [("Content-Type", PROBLEM_CONTENT_TYPE), *headers], body)


def missing_route(request: Request, allowed_methods, what: str, hint: str, path: str | None = None) -> Response:
    """The answer of a route table that did not match: 405 with ``Allow`` when ``path`` exists
    under other methods, else a 404 "No such {what}" with a ``hint``."""
    path = request.path if path is None else path
    if allowed_methods:
        allow = ", ".join(allowed_methods)
        return problem_response(405, "Method not allowed", f"{path} accepts {allow}", headers=[("Allow", allow)])
    return problem_response(404, f"No such {what}", f"{request.method} {path}", hint=hint)
