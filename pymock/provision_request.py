"""The request side of the Flask shim for provisions: the ``request`` every view reads.

Layer 1: no sockets. ``ProvisionRequest`` puts Flask's request attributes (``args``, ``form``,
``get_json()``, ``headers``, ``cookies``, URL pieces) over a pymock ``Request``; ``request`` is
one thread-local proxy shared by every provision, which ``provisions.Provision`` binds to the
current request while a view or error handler runs.

>>> from .model import Request
>>> view = ProvisionRequest(Request("GET", "/items?page=2&tag=a&tag=b"))
>>> view.args.get("page", type=int), view.args.getlist("tag"), view.full_path
(2, ['a', 'b'], '/items?page=2&tag=a&tag=b')

Must not import ``provisions`` or ``provision_app`` (they import this module), anything in
layer 2, or anything outside the standard library.
"""

from __future__ import annotations

import json
import threading
from urllib.parse import parse_qs

from .model import Headers, Request
from .provision_response import HTTPException

__all__ = ["ProvisionRequest", "request"]


# =========================================================================== Flask shim: request


class _MultiDict:
    """Query or form values: ``get`` (first value, optional ``type=``), ``getlist``, ``[]``."""

    def __init__(self, lists: dict[str, list[str]]):
        self._lists = lists

    def get(self, key, default=None, type=None):  # noqa: A002 (werkzeug's signature)
        values = self._lists.get(key)
        if not values:
            return default
        if type is None:
            return values[0]
        try:
            return type(values[0])
        except (TypeError, ValueError):
            return default

    def getlist(self, key, type=None) -> list:  # noqa: A002
        values = self._lists.get(key, [])
        return [type(v) for v in values] if type else list(values)

    def __getitem__(self, key):
        values = self._lists.get(key)
        if not values:
            raise HTTPException(400, f"the request has no {key!r} value")
        return values[0]

    def __contains__(self, key) -> bool:
        return key in self._lists

    def __iter__(self):
        return iter(self._lists)

    def __len__(self) -> int:
        return len(self._lists)

    def keys(self):
        return self._lists.keys()

    def items(self, multi: bool = False):
        if multi:
            return [(k, v) for k, values in self._lists.items() for v in values]
        return [(k, values[0]) for k, values in self._lists.items()]

    def to_dict(self, flat: bool = True) -> dict:
        return dict(self.items()) if flat else {k: list(v) for k, v in self._lists.items()}

    def __repr__(self) -> str:
        return f"MultiDict({self.items(multi=True)!r})"


class _RequestHeaders(Headers):
    """The request headers with werkzeug's extras: ``[]``, ``get(type=)``, ``getlist``."""

    __slots__ = ()

    def get(self, name, default=None, type=None):  # noqa: A002
        value = super().get(name, default)
        if type is None or value is default:
            return value
        try:
            return type(value)
        except (TypeError, ValueError):
            return default

    def __getitem__(self, name):
        value = super().get(name)
        if value is None:
            raise KeyError(name)
        return value

    getlist = Headers.get_all

    def keys(self) -> list[str]:
        return [name for name, _ in self]


class ProvisionRequest:
    """What ``request`` is inside a view: Flask's request attributes over a pymock ``Request``."""

    def __init__(self, request: Request, view_args: dict | None = None, rule: str | None = None,
                 endpoint: str | None = None):
        self._request = request
        self.view_args = dict(view_args or {})
        self.url_rule, self.endpoint = rule, endpoint
        self.method = request.method
        self.path = request.path
        self.query_string = request.raw_query.encode("latin-1", "replace")
        self.full_path = f"{request.path}?{request.raw_query}"
        self.args = _MultiDict(request.query)
        self.headers = _RequestHeaders(request.headers.items())
        self.data = request.body
        self.scheme = request.scheme
        self.remote_addr = request.client[0]
        self.script_root = ""

    # --- body
    def get_data(self, cache: bool = True, as_text: bool = False, parse_form_data: bool = False):
        return self.data.decode("utf-8", "replace") if as_text else self.data

    @property
    def content_type(self):
        return self.headers.get("content-type")

    @property
    def mimetype(self) -> str:
        return (self.content_type or "").split(";")[0].strip().lower()

    @property
    def content_length(self):
        return len(self.data) if self.data else None

    @property
    def is_json(self) -> bool:
        kind = self.mimetype
        return kind == "application/json" or (kind.startswith("application/") and kind.endswith("+json"))

    def get_json(self, force: bool = False, silent: bool = False, cache: bool = True):
        """The body as JSON; ``None`` when it is not declared JSON (unless ``force``)."""
        if not (force or self.is_json):
            return None
        try:
            return json.loads(self.data)
        except (ValueError, UnicodeDecodeError) as exc:
            if silent:
                return None
            raise HTTPException(400, f"the request body is not valid JSON: {exc}") from None

    @property
    def json(self):
        return self.get_json()

    @property
    def form(self) -> _MultiDict:
        if self.mimetype != "application/x-www-form-urlencoded":
            return _MultiDict({})
        return _MultiDict(parse_qs(self.data.decode("utf-8", "replace"), keep_blank_values=True))

    @property
    def values(self) -> _MultiDict:
        merged = {k: list(v) for k, v in self._request.query.items()}
        for key, values in self.form._lists.items():
            merged.setdefault(key, []).extend(values)
        return _MultiDict(merged)

    @property
    def cookies(self) -> dict:
        return self._request.cookies

    # --- URL pieces
    @property
    def host(self) -> str:
        return self.headers.get("host", "localhost")

    @property
    def host_url(self) -> str:
        return f"{self.scheme}://{self.host}/"

    @property
    def url_root(self) -> str:
        return self.host_url

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.host}{self.path}"

    @property
    def url(self) -> str:
        query = f"?{self._request.raw_query}" if self._request.raw_query else ""
        return self.base_url + query

    @property
    def is_secure(self) -> bool:
        return self.scheme == "https"

    @property
    def user_agent(self) -> str:
        return self.headers.get("user-agent", "")


class _RequestProxy:
    """The one ``request`` name every provision sees: the current thread's request."""

    def __init__(self):
        self._local = threading.local()

    def _bind(self, current):
        previous = getattr(self._local, "current", None)
        self._local.current = current
        return previous

    def _current(self) -> ProvisionRequest:
        current = getattr(self._local, "current", None)
        if current is None:
            raise RuntimeError("working outside of a request: 'request' is only available "
                               "while a view function or error handler runs")
        return current

    def __getattr__(self, name):
        if name.startswith("__"):   # introspection (hasattr, copy, doctest) is not a request use
            raise AttributeError(name)
        return getattr(self._current(), name)

    def __repr__(self) -> str:
        current = getattr(self._local, "current", None)
        return f"<request {current.method} {current.path}>" if current else "<request (unbound)>"


request = _RequestProxy()
