"""Programmable provisions: h1mock-compatible Python files that add Flask-style routes.

Layer 1: no sockets, no threads started. A provision is Python source that defines
``registerRules()`` and calls ``app.add_url_rule(rule, endpoint, view_func=..., methods=[...])``
on a small Flask look-alike (never Flask itself). ``compile_provision`` compiles the source,
runs it and its ``registerRules()`` in a fresh namespace and checks the rules; only a provision
that got through all of that is made live by ``ProvisionManager``, so a syntax error, an
exception or a rule conflict leaves the previous provision serving. Running user code is the
point of this module, and it only happens when the operator passed ``--allow-provisions``.

>>> source = '''
... def registerRules():
...     app.add_url_rule("/hello/<int:n>", "hello", view_func=hello, methods=["GET"])
... def hello(n):
...     return {"n": n, "q": request.args.get("q")}, status.HTTP_201_CREATED
... '''
>>> provision = compile_provision("demo", source)
>>> from .model import Request
>>> response = provision.respond(Request("GET", "/hello/7?q=x"), lambda: False)
>>> response.status, response.body
(201, b'{"n":7,"q":"x"}\\n')

The shim names available in a provision without importing them: ``app``, ``request``,
``jsonify``, ``Response``, ``make_response``, ``abort``, ``status``, ``Blueprint``, ``os``,
``logging`` and ``log``; ``from flask import ...`` and ``from flask_api import status`` also
resolve to the shim. Imports nothing from layer 2 and nothing outside the standard library.
"""

from __future__ import annotations

import builtins
import datetime
import decimal
import json
import linecache
import logging
import os
import re
import threading
import time
import traceback
import types
import uuid
from email.utils import format_datetime
from http import HTTPStatus
from http.cookies import SimpleCookie
from urllib.parse import parse_qs

from .errors import PymockError, Problem
from .files import atomic_write
from .matching import RouteMiss
from .model import Headers, Request, Response, problem_response

__all__ = [
    "ProvisionError", "Provision", "ProvisionManager", "compile_provision", "check_name",
    "HTTPException", "FlaskResponse", "jsonify", "abort", "make_response", "Blueprint",
    "status", "request", "INITIAL", "DEFAULT_NAME",
]

INITIAL = "initial"                   # the file active at start, as in h1mock
DEFAULT_NAME = "(built-in default)"   # what serves when there is no ``initial`` file
_MAX_NAME = 255
_IGNORED_SUFFIXES = (".bak", ".tmp", ".swp", "~", ".pyc")


# =========================================================================== errors


class ProvisionError(PymockError, ValueError):
    """A provision that cannot go live; ``stage`` says which check refused it.

    Stages: ``name`` (a bad provision name), ``missing`` (no such file), ``read`` (the file
    cannot be read or is not UTF-8),
    ``syntax``, ``load`` (the top level raised), ``register`` (``registerRules`` raised or is
    missing) and ``conflict`` (two rules collide or a rule is malformed).
    """

    def __init__(self, name: str, stage: str, message: str, *, where: str = "",
                 hint: str = "", trace: str = ""):
        self.name, self.stage, self.message = name, stage, message
        self.where, self.hint, self.trace = where or name, hint, trace
        super().__init__(f"provision {name!r} rejected ({stage}): {self.where}: {message}"
                         + (f" ({hint})" if hint else ""))

    def problems(self) -> list[Problem]:
        return [Problem(self.where, self.message, self.hint or None)]

    def as_dict(self) -> dict:
        return {"name": self.name, "stage": self.stage, "where": self.where,
                "message": self.message, "hint": self.hint}


def check_name(name: str) -> str:
    """A provision name as a safe relative path inside the provision folder, or raise.

    Names may contain ``/`` (sub-folders, as in h1mock) but never ``..``, an absolute path,
    a backslash, a hidden part or a control character.

    >>> check_name("team/foo-bar")
    'team/foo-bar'
    >>> check_name("../etc/passwd")
    Traceback (most recent call last):
    ...
    pymock.provisions.ProvisionError: provision '../etc/passwd' rejected (name): ...
    """
    parts = name.split("/")
    bad = (not name or len(name) > _MAX_NAME or name.startswith("/") or "\\" in name
           or any(ord(ch) < 32 or ord(ch) == 127 for ch in name)
           or any(part in ("", ".", "..") or part.startswith(".") for part in parts))
    if bad:
        raise ProvisionError(name, "name", "not a valid provision name",
                             hint="use letters, digits, '-', '_' and '/' between parts; no '..', "
                                  "no leading '/' or '.'")
    return name


# =========================================================================== Flask shim: status


def _status_module() -> types.ModuleType:
    """``flask_api.status``: ``HTTP_<code>_<NAME>`` constants and the ``is_*`` helpers."""
    module = types.ModuleType("flask_api.status", "HTTP status codes, as flask_api names them")
    for name, member in HTTPStatus.__members__.items():
        setattr(module, f"HTTP_{member.value}_{name}", member.value)
    legacy = {413: "REQUEST_ENTITY_TOO_LARGE", 414: "REQUEST_URI_TOO_LONG",
              416: "REQUESTED_RANGE_NOT_SATISFIABLE", 422: "UNPROCESSABLE_ENTITY",
              431: "REQUEST_HEADER_FIELDS_TOO_LARGE"}
    for code, name in legacy.items():
        setattr(module, f"HTTP_{code}_{name}", code)
    ranges = {"informational": 100, "success": 200, "redirect": 300,
              "client_error": 400, "server_error": 500}
    for label, low in ranges.items():
        setattr(module, f"is_{label}", lambda code, low=low: low <= code < low + 100)
    return module


status = _status_module()


# =========================================================================== Flask shim: responses


class _ResponseHeaders:
    """Response headers: ordered, case-insensitive; ``h[name] = v`` replaces, ``add`` appends."""

    def __init__(self, items=None):
        self._items: list[tuple[str, str]] = []
        if items:
            self.update(items)

    def __getitem__(self, name):
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def get(self, name, default=None):
        lowered = name.lower()
        return next((v for k, v in self._items if k.lower() == lowered), default)

    def getlist(self, name) -> list[str]:
        lowered = name.lower()
        return [v for k, v in self._items if k.lower() == lowered]

    def __setitem__(self, name, value):
        self.set(name, value)

    def set(self, name, value) -> None:
        self.remove(name)
        self._items.append((str(name), str(value)))

    def add(self, name, value) -> None:
        self._items.append((str(name), str(value)))

    def remove(self, name) -> None:
        lowered = name.lower()
        self._items = [(k, v) for k, v in self._items if k.lower() != lowered]

    __delitem__ = remove

    def update(self, items) -> None:
        """Each name replaces what was there (a list value sets several), as werkzeug does."""
        pairs = items.items() if hasattr(items, "items") else items
        grouped: dict[str, list] = {}
        for name, value in pairs:
            grouped.setdefault(name, []).extend(value if isinstance(value, (list, tuple)) else [value])
        for name, values in grouped.items():
            self.remove(name)
            self._items.extend((str(name), str(v)) for v in values)

    extend = update

    def __contains__(self, name) -> bool:
        return self.get(name) is not None

    def __iter__(self):
        return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def items(self) -> list[tuple[str, str]]:
        return list(self._items)

    def keys(self) -> list[str]:
        return [k for k, _ in self._items]


class FlaskResponse:
    """Flask's ``Response`` as provisions use it: ``Response(body, status, headers, mimetype)``."""

    default_mimetype = "text/html"

    def __init__(self, response=None, status=None, headers=None, mimetype=None, content_type=None):
        self.headers = _ResponseHeaders(headers)
        self.status_code = 200
        if status is not None:
            self.status = status
        if content_type is None and "content-type" not in self.headers:
            mimetype = mimetype or self.default_mimetype
            text_like = mimetype.startswith("text/") or mimetype.endswith(("+xml", "/xml"))
            content_type = f"{mimetype}; charset=utf-8" if text_like else mimetype
        if content_type is not None:
            self.headers["Content-Type"] = content_type
        self.set_data(response if response is not None else b"")

    @property
    def status(self) -> str:
        code = self.status_code
        phrase = HTTPStatus(code).phrase.upper() if code in HTTPStatus._value2member_map_ else "UNKNOWN"
        return f"{code} {phrase}"

    @status.setter
    def status(self, value) -> None:
        self.status_code = _status_code(value)

    @property
    def mimetype(self) -> str:
        return (self.headers.get("Content-Type") or "").split(";")[0].strip()

    @property
    def content_type(self):
        return self.headers.get("Content-Type")

    @property
    def data(self) -> bytes:
        return self._data

    @data.setter
    def data(self, value) -> None:
        self.set_data(value)

    def set_data(self, value) -> None:
        if isinstance(value, str):
            value = value.encode("utf-8")
        elif isinstance(value, bytearray):
            value = bytes(value)
        elif not isinstance(value, bytes):
            value = b"".join(part.encode() if isinstance(part, str) else bytes(part) for part in value)
        self._data = value

    def get_data(self, as_text: bool = False):
        return self._data.decode("utf-8", "replace") if as_text else self._data

    def get_json(self, silent: bool = False):
        try:
            return json.loads(self._data)
        except ValueError:
            if silent:
                return None
            raise

    json = property(get_json)

    def set_cookie(self, key, value="", max_age=None, path="/", domain=None, secure=False,
                   httponly=False, samesite=None) -> None:
        cookie = SimpleCookie()
        cookie[key] = value
        morsel = cookie[key]
        for attribute, given in (("max-age", max_age), ("path", path), ("domain", domain),
                                 ("samesite", samesite)):
            if given is not None:
                morsel[attribute] = given
        morsel["secure"], morsel["httponly"] = secure, httponly
        self.headers.add("Set-Cookie", morsel.OutputString())

    def to_plan(self) -> Response:
        if not 100 <= self.status_code <= 599:
            raise ValueError(f"status {self.status_code} is not an HTTP status 100-599")
        return Response(self.status_code, self.headers.items(), self._data)

    def __repr__(self) -> str:
        return f"<Response {len(self._data)} bytes [{self.status}]>"


def _status_code(value) -> int:
    if isinstance(value, HTTPStatus):
        return value.value
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.split(" ", 1)[0].isdigit():
        return int(value.split(" ", 1)[0])
    raise TypeError(f"a status must be an int or a string like '404 NOT FOUND', not {value!r}")


def _json_default(value):
    """What Flask's JSON provider does for the types ``json`` cannot write."""
    if isinstance(value, datetime.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)
        return format_datetime(aware.astimezone(datetime.timezone.utc), usegmt=True)
    if isinstance(value, datetime.date):
        return _json_default(datetime.datetime.combine(value, datetime.time()))
    if isinstance(value, (uuid.UUID, decimal.Decimal)):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _json_bytes(data) -> bytes:
    # Flask's defaults: sorted keys, compact separators, ASCII-safe, one trailing newline.
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=_json_default)
    return (text + "\n").encode()


def jsonify(*args, **kwargs) -> FlaskResponse:
    """``jsonify(obj)``, ``jsonify(a, b)`` (a list) or ``jsonify(key=value)``, as Flask."""
    if args and kwargs:
        raise TypeError("jsonify() takes either arguments or keywords, not both")
    data = args[0] if len(args) == 1 else list(args) if args else kwargs
    return FlaskResponse(_json_bytes(data), mimetype="application/json")


def make_response(*args) -> FlaskResponse:
    """Turn any view return value into a ``Response`` (so a view can add headers to it)."""
    if not args:
        return FlaskResponse()
    return _to_flask_response(args[0] if len(args) == 1 else tuple(args))


def _to_flask_response(value) -> FlaskResponse:
    """Flask's view return forms: body, (body, status), (body, headers), (body, status, headers)."""
    status_value = headers = None
    if isinstance(value, tuple):
        if len(value) == 3:
            value, status_value, headers = value
        elif len(value) == 2 and isinstance(value[1], (dict, list, tuple, _ResponseHeaders)):
            value, headers = value
        elif len(value) == 2:
            value, status_value = value
        else:
            raise TypeError("a view returned a tuple of length {}; use (body, status), "
                            "(body, headers) or (body, status, headers)".format(len(value)))
    response = _body_response(value)
    if status_value is not None:
        response.status = status_value
    if headers:
        response.headers.update(headers)
    return response


def _body_response(value) -> FlaskResponse:
    if isinstance(value, FlaskResponse):
        return value
    if isinstance(value, (str, bytes, bytearray)):
        return FlaskResponse(value)
    if isinstance(value, (dict, list)):
        return jsonify(value)
    if value is None:
        raise TypeError("the view function returned None; return a body, a tuple, "
                        "jsonify(...) or Response(...)")
    if isinstance(value, types.GeneratorType):
        return FlaskResponse(value)
    raise TypeError(f"the view function returned a {type(value).__name__}; return a str, "
                    "bytes, dict, list, tuple, jsonify(...) or Response(...)")


# =========================================================================== Flask shim: errors


class HTTPException(Exception):
    """What ``abort`` raises; an error handler registered for ``code`` receives it."""

    def __init__(self, code: int = 500, description: str | None = None,
                 response: FlaskResponse | None = None, allowed=()):
        self.code = code
        self.name = HTTPStatus(code).phrase if code in HTTPStatus._value2member_map_ else "Error"
        self.description = description or ""
        self.response = response
        self.valid_methods = sorted(allowed)
        self.original_exception = None
        super().__init__(f"{code} {self.name}: {self.description}".rstrip(": "))

    def get_response(self) -> FlaskResponse:
        if self.response is not None:
            return self.response
        plan = problem_response(self.code, self.name, self.description)
        return FlaskResponse(plan.body, self.code, plan.headers)


def abort(code, *args, **kwargs):
    """``abort(404)``, ``abort(400, "why")`` or ``abort(Response(...))``: stop the view."""
    if isinstance(code, FlaskResponse):
        raise HTTPException(code.status_code, response=code)
    raise HTTPException(_status_code(code), *args, **kwargs)


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


# =========================================================================== rules


_VARIABLE = re.compile(r"<(?:(?P<conv>[A-Za-z_]\w*)(?:\((?P<args>[^)]*)\))?:)?(?P<name>[A-Za-z_]\w*)>")
_UUID_RE = r"[A-Fa-f0-9]{8}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{12}"
# converter -> (regex, Python type, weight: lower is tried first, as werkzeug orders them)
_CONVERTERS = {
    "default": (r"[^/]+", str, 2), "string": (r"[^/]+", str, 2), "int": (r"\d+", int, 1),
    "float": (r"\d+\.\d+", float, 1), "path": (r"[^/].*?", str, 3), "uuid": (_UUID_RE, uuid.UUID, 1),
}


# sys.exit() in a provision must not stop a server thread (or, at start, the server).
_USER_ERRORS = (Exception, SystemExit)


class _RuleProblem(ValueError):
    """A malformed rule; turned into a ``ProvisionError`` naming the provision line."""


class Rule:
    """One compiled Flask rule: its regex, converters, methods and view."""

    def __init__(self, rule: str, endpoint: str, view_func, methods, *, strict_slashes=True,
                 defaults=None, automatic_options=True):
        if not isinstance(rule, str) or not rule.startswith("/"):
            raise _RuleProblem(f"rule {rule!r} must be a string starting with '/'")
        self.rule, self.endpoint, self.view_func = rule, endpoint, view_func
        self.methods = frozenset(_methods(methods))
        self.automatic_options = automatic_options and "OPTIONS" not in self.methods
        self.strict_slashes, self.defaults = strict_slashes, dict(defaults or {})
        pattern, self.converters, self.sort_key = _compile_rule(rule)
        self.regex = re.compile(pattern)
        self.signature = _VARIABLE.sub(lambda m: f"<{m.group('conv') or 'default'}>", rule)

    def match(self, path: str) -> dict | None:
        found = self.regex.fullmatch(path)
        if found is None and not self.strict_slashes:   # "/a" and "/a/" are the same rule
            found = self.regex.fullmatch(path.rstrip("/") or "/" if path.endswith("/") else path + "/")
        if found is None:
            return None
        # The converters' regexes admit only values their types parse (int, float, uuid).
        args = {name: self.converters[name](value) for name, value in found.groupdict().items()}
        return {**self.defaults, **args}

    def describe(self) -> str:
        return f"{' '.join(sorted(self.methods))} {self.rule} -> {self.endpoint}"


def _methods(methods) -> set[str]:
    if methods is None:
        methods = ["GET"]
    if isinstance(methods, str):
        raise _RuleProblem(f"methods={methods!r} must be a list such as [{methods!r}], not a string")
    names = {str(m).upper() for m in methods}
    if "GET" in names:
        names.add("HEAD")
    return names


def _compile_rule(rule: str) -> tuple[str, dict, tuple]:
    """Regex source, converters by name and a sort key (static segments sort first)."""
    pattern, converters, position = [], {}, 0
    for found in _VARIABLE.finditer(rule):
        pattern.append(re.escape(rule[position:found.start()]))
        name, kind = found.group("name"), found.group("conv") or "default"
        if kind not in _CONVERTERS:
            raise _RuleProblem(f"rule {rule!r}: unknown converter {kind!r} (use string, int, "
                               "float, path or uuid)")
        if found.group("args") is not None:
            raise _RuleProblem(f"rule {rule!r}: converter arguments such as "
                               f"{found.group(0)!r} are not supported")
        if name in converters:
            raise _RuleProblem(f"rule {rule!r} names the variable {name!r} twice")
        regex, converters[name], _weight = _CONVERTERS[kind]
        pattern.append(f"(?P<{name}>{regex})")
        position = found.end()
    tail = rule[position:]
    if "<" in tail or ">" in tail:
        raise _RuleProblem(f"rule {rule!r}: malformed variable near {tail!r}; write <name> or "
                           "<converter:name>")
    pattern.append(re.escape(tail))
    return "".join(pattern), converters, _sort_key(rule)


def _sort_key(rule: str) -> tuple:
    key = []
    for segment in rule.split("/"):
        kinds = [m.group("conv") or "default" for m in _VARIABLE.finditer(segment)]
        if not kinds:
            key.append((0, -len(segment)))
        else:
            static = len(_VARIABLE.sub("", segment))
            key.append((1, max(_CONVERTERS[k][2] for k in kinds), -static))
    return tuple(key)


class Blueprint:
    """A named group of rules registered on the app with an optional ``url_prefix``."""

    def __init__(self, name: str, import_name: str = "", url_prefix: str | None = None, **_ignored):
        self.name, self.url_prefix = name, url_prefix
        self._deferred: list[tuple] = []
        self._handlers: list[tuple] = []

    def add_url_rule(self, rule, endpoint=None, view_func=None, **options):
        self._deferred.append((rule, endpoint, view_func, options))

    def route(self, rule, **options):
        def decorator(func):
            self.add_url_rule(rule, options.pop("endpoint", None), func, **options)
            return func
        return decorator

    def register_error_handler(self, code_or_exception, func):
        self._handlers.append((code_or_exception, func))

    def errorhandler(self, code_or_exception):
        def decorator(func):
            self.register_error_handler(code_or_exception, func)
            return func
        return decorator


class ProvisionApp:
    """The ``app`` a provision registers on: Flask's registration API, recording into a table."""

    _SUPPORTED = "add_url_rule, route, register_error_handler, errorhandler, register_blueprint"

    def __init__(self, name: str):
        self.name = name
        self.rules: list[Rule] = []
        self.error_handlers: dict = {}
        self.view_functions: dict = {}
        self.config: dict = {}
        self.secret_key = None
        self.debug = False
        self.logger = logging.getLogger(f"pymock.provision.{name}")

    def add_url_rule(self, rule, endpoint=None, view_func=None, provide_automatic_options=None,
                     *, methods=None, strict_slashes=True, defaults=None, **options):
        if options:
            raise _RuleProblem(f"add_url_rule({rule!r}): unsupported option(s) "
                               f"{', '.join(sorted(options))}")
        if not callable(view_func):
            raise _RuleProblem(f"add_url_rule({rule!r}): view_func must be a function, "
                               f"got {type(view_func).__name__}")
        endpoint = endpoint or view_func.__name__
        known = self.view_functions.get(endpoint)
        if known is not None and known is not view_func:
            raise _RuleProblem(f"endpoint {endpoint!r} is already mapped to the function "
                               f"{known.__name__!r}; give the rule another endpoint name")
        self.view_functions[endpoint] = view_func
        self.rules.append(Rule(rule, endpoint, view_func, methods, strict_slashes=strict_slashes,
                               defaults=defaults, automatic_options=provide_automatic_options is not False))

    def route(self, rule, **options):
        def decorator(func):
            self.add_url_rule(rule, options.pop("endpoint", None), func, **options)
            return func
        return decorator

    def register_error_handler(self, code_or_exception, func) -> None:
        key = code_or_exception
        if not (isinstance(key, int) or (isinstance(key, type) and issubclass(key, BaseException))):
            raise _RuleProblem(f"register_error_handler({key!r}): give an HTTP status code or an "
                               "exception class")
        if not callable(func):
            raise _RuleProblem(f"register_error_handler({key!r}): the handler must be a function")
        self.error_handlers[key] = func

    def errorhandler(self, code_or_exception):
        def decorator(func):
            self.register_error_handler(code_or_exception, func)
            return func
        return decorator

    def register_blueprint(self, blueprint: Blueprint, url_prefix: str | None = None, **_ignored):
        prefix = (url_prefix if url_prefix is not None else blueprint.url_prefix) or ""
        for rule, endpoint, func, options in blueprint._deferred:
            name = f"{blueprint.name}.{endpoint or getattr(func, '__name__', 'view')}"
            self.add_url_rule(prefix.rstrip("/") + rule, name, func, **options)
        for key, func in blueprint._handlers:
            self.register_error_handler(key, func)

    def run(self, *args, **kwargs) -> None:
        """Ignored: pymock serves the provision (h1mock files never call it either)."""

    def __getattr__(self, name):
        raise AttributeError(f"the provision 'app' has no {name!r}; pymock's Flask shim "
                             f"supports {self._SUPPORTED} (see docs/provisions.md)")


# =========================================================================== compiling


def _shim_modules(app: ProvisionApp) -> dict[str, types.ModuleType]:
    flask = types.ModuleType("flask", "pymock's Flask shim for provisions")
    for name, value in (("Flask", lambda *a, **k: app), ("Blueprint", Blueprint),
                        ("jsonify", jsonify), ("request", request), ("Response", FlaskResponse),
                        ("make_response", make_response), ("abort", abort), ("current_app", app)):
        setattr(flask, name, value)
    flask_api = types.ModuleType("flask_api", "pymock's flask_api shim")
    flask_api.status = status
    return {"flask": flask, "flask_api": flask_api, "flask_api.status": status}


def _importer(shims: dict):
    real_import = builtins.__import__

    def provision_import(name, globals=None, locals=None, fromlist=(), level=0):
        top = name.split(".")[0]
        if level == 0 and top in shims:
            if name not in shims:
                raise ModuleNotFoundError(f"pymock's Flask shim has no module {name!r}")
            return shims[name] if fromlist else shims[top]
        return real_import(name, globals, locals, fromlist, level)
    return provision_import


def _namespace(name: str, filename: str, folder: str | None) -> tuple[dict, ProvisionApp]:
    app = ProvisionApp(name)
    shims = _shim_modules(app)
    namespace = {
        "__name__": f"provision_{re.sub(r'[^0-9A-Za-z_]', '_', name)}", "__file__": filename,
        "__builtins__": {**builtins.__dict__, "__import__": _importer(shims)},
        "app": app, "request": request, "jsonify": jsonify, "Response": FlaskResponse,
        "make_response": make_response, "abort": abort, "status": status, "Blueprint": Blueprint,
        "os": os, "logging": logging, "log": app.logger,
        "mock_api": Blueprint("mock_api", "provision"), "PROVISION_DIR": folder,
    }
    return namespace, app


def compile_provision(name: str, source, *, filename: str | None = None,
                      folder: str | None = None, clock=time.time) -> "Provision":
    """Compile, run and register ``source`` in a fresh namespace; raise ``ProvisionError``.

    Nothing global changes unless the provision's own code changes it: the result is a new
    ``Provision`` that the caller may make live.
    """
    filename = filename or f"<provision {name}>"
    text = _decode(name, source)
    try:
        code = compile(text, filename, "exec")
    except SyntaxError as exc:
        where = f"{filename}:{exc.lineno or 0}" + (f":{exc.offset}" if exc.offset else "")
        raise ProvisionError(name, "syntax", f"{type(exc).__name__}: {exc.msg}", where=where,
                             hint="fix the line and load the provision again") from None
    _remember_source(filename, text)
    namespace, app = _namespace(name, filename, folder)
    _run_user_code(name, filename, "load", lambda: exec(code, namespace))
    register = namespace.get("registerRules")
    if not callable(register):
        raise ProvisionError(name, "register", "defines no registerRules() function",
                             where=filename, hint="h1mock provisions register their rules in "
                                                  "def registerRules(): app.add_url_rule(...)")
    _run_user_code(name, filename, "register", register)
    _check_conflicts(name, filename, app.rules)
    return Provision(name, app.rules, app.error_handlers, filename, clock())


def _decode(name: str, source) -> str:
    if isinstance(source, str):
        return source
    try:
        return bytes(source).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ProvisionError(name, "read", f"not UTF-8 text (byte {exc.start})",
                             hint="save the provision as UTF-8") from None


def _remember_source(filename: str, text: str) -> None:
    # Tracebacks then show the provision's lines even when it was posted and never saved.
    lines = text.splitlines(keepends=True)
    linecache.cache[filename] = (len(text), None, lines, filename)


def _run_user_code(name: str, filename: str, stage: str, call) -> None:
    try:
        call()
    except _RuleProblem as exc:
        raise ProvisionError(name, "conflict", str(exc), where=_user_line(filename, exc),
                             hint="fix the rule in registerRules()") from None
    except _USER_ERRORS as exc:   # anything user code raises is reported, never raised further
        where = _user_line(filename, exc)
        doing = "while running the file's top level" if stage == "load" else "in registerRules()"
        raise ProvisionError(name, stage, f"{type(exc).__name__}: {exc} ({doing})", where=where,
                             trace=_user_trace(filename, exc)) from None


def _user_line(filename: str, exc: BaseException) -> str:
    """``file:line`` of the innermost frame of the provision itself."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == filename]
    return f"{filename}:{frames[-1].lineno}" if frames else filename


def _user_trace(filename: str, exc: BaseException) -> str:
    lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
    return "".join(lines).rstrip()


def _check_conflicts(name: str, filename: str, rules: list[Rule]) -> None:
    seen: dict[tuple, Rule] = {}
    for rule in rules:
        if rule.rule.startswith(("/__admin", "/__logs", "/__reload")):
            raise ProvisionError(name, "conflict", f"rule {rule.rule!r} is inside the admin API, "
                                 "which is always served first", where=filename,
                                 hint="choose a path outside /__admin, /__logs and /__reload")
        for method in sorted(rule.methods - {"HEAD"}) or ["HEAD"]:
            other = seen.get((rule.signature, method))
            if other is not None:
                raise ProvisionError(name, "conflict", f"{method} {rule.rule} is registered twice "
                                     f"(endpoints {other.endpoint!r} and {rule.endpoint!r})",
                                     where=filename, hint="remove one rule or give it other methods")
            seen[(rule.signature, method)] = rule


# =========================================================================== serving


class Provision:
    """A compiled provision: its rules (most specific first) and error handlers."""

    def __init__(self, name: str, rules: list[Rule], error_handlers: dict, filename: str,
                 loaded_at: float, log=None):
        self.name, self.filename, self.loaded_at = name, filename, loaded_at
        self.rules = sorted(rules, key=lambda rule: rule.sort_key)
        self.error_handlers = dict(error_handlers)
        self.log = log or (lambda message: None)

    def respond(self, plain: Request, config_matches) -> Response | None:
        """The provision's answer, or ``None`` to let the declarative mocks answer.

        ``config_matches()`` says whether a config endpoint would take the request: a
        provision's 404/405 (or its 404 handler) only applies when none would.
        """
        path, method = plain.path, plain.method
        allowed: set[str] = set()
        for rule in self.rules:
            view_args = rule.match(path)
            if view_args is None:
                continue
            if method in rule.methods:
                return self._dispatch(rule, view_args, plain)
            allowed |= rule.methods | ({"OPTIONS"} if rule.automatic_options else set())
        if allowed:
            if config_matches():
                return None
            if method == "OPTIONS" and "OPTIONS" in allowed:   # Flask's automatic answer
                return Response(200, [("Allow", ", ".join(sorted(allowed))),
                                      ("Content-Type", "text/html; charset=utf-8")])
            return self._error(plain, HTTPException(
                405, f"{path} accepts {', '.join(sorted(allowed))}", allowed=allowed))
        redirect = self._slash_redirect(plain)
        if redirect is not None and not config_matches():
            return redirect
        if self._handler_for(HTTPException(404)) is not None and not config_matches():
            return self._error(plain, HTTPException(404, f"{method} {path} matches no rule"))
        return None

    def _dispatch(self, rule: Rule, view_args: dict, plain: Request) -> Response:
        context = ProvisionRequest(plain, view_args, rule.rule, rule.endpoint)
        previous = request._bind(context)
        try:
            try:
                return _to_flask_response(rule.view_func(**view_args)).to_plan()
            except HTTPException as exc:
                return self._handled(exc)
            except _USER_ERRORS as exc:   # a view's bug answers 500; the server keeps serving
                return self._crashed(exc, f"endpoint {rule.endpoint!r}")
        finally:
            request._bind(previous)

    def _error(self, plain: Request, exc: HTTPException) -> Response:
        previous = request._bind(ProvisionRequest(plain))
        try:
            return self._handled(exc)
        finally:
            request._bind(previous)

    def _handled(self, exc: HTTPException) -> Response:
        handler = self._handler_for(exc)
        if handler is None:
            plan = exc.get_response().to_plan()
            if exc.valid_methods and exc.response is None:
                plan.headers.append(("Allow", ", ".join(exc.valid_methods)))
            return plan
        try:
            return _to_flask_response(handler(exc)).to_plan()
        except _USER_ERRORS as inner:   # a broken handler must not take the server down either
            return self._crashed(inner, f"the error handler for {exc.code}", use_handlers=False)

    def _handler_for(self, exc: BaseException):
        if isinstance(exc, HTTPException) and exc.code in self.error_handlers:
            return self.error_handlers[exc.code]
        for cls in type(exc).__mro__:
            if cls in self.error_handlers:
                return self.error_handlers[cls]
        return None

    def _crashed(self, exc: Exception, what: str, use_handlers: bool = True) -> Response:
        where = _user_line(self.filename, exc)
        self.log(f"provision {self.name!r}: {what} raised {type(exc).__name__} at {where}:\n"
                 f"{_user_trace(self.filename, exc)}")
        if use_handlers:
            handler = self._handler_for(exc) or self.error_handlers.get(500)
            if handler is not None:
                wrapped = exc if self._handler_for(exc) else HTTPException(500, str(exc))
                wrapped.original_exception = exc
                try:
                    return _to_flask_response(handler(wrapped)).to_plan()
                except _USER_ERRORS as inner:
                    return self._crashed(inner, f"the error handler for {type(exc).__name__}",
                                         use_handlers=False)
        return problem_response(500, "Provision view failed",
                                f"{what} of provision {self.name!r} raised {type(exc).__name__}: "
                                f"{exc} (at {where}); the traceback is in the server log",
                                provision=self.name)

    def _slash_redirect(self, plain: Request) -> Response | None:
        if plain.path.endswith("/"):
            return None
        slashed = plain.path + "/"
        for rule in self.rules:
            if rule.strict_slashes and rule.rule.endswith("/") and rule.match(slashed) is not None:
                query = f"?{plain.raw_query}" if plain.raw_query else ""
                return Response(308, [("Location", slashed + query),
                                      ("Content-Type", "text/plain; charset=utf-8")],
                                f"Redirecting to {slashed}{query}\n".encode())
        return None

    def describe(self) -> dict:
        return {"name": self.name, "file": self.filename, "loaded_at": self.loaded_at,
                "rules": [rule.describe() for rule in self.rules],
                "error_handlers": sorted(str(getattr(k, "__name__", k)) for k in self.error_handlers)}


def default_provision(folder: str, clock=time.time) -> Provision:
    """What serves when the folder has no ``initial`` file: a 404 that explains what to do."""
    def help_404(exc):
        plan = problem_response(404, "No provision rule or mock matched", f"{request.path} matched "
                                "nothing: the active provision is the built-in default because "
                                f"{os.path.join(folder, INITIAL)} does not exist",
                                hint=f"write a provision to {os.path.join(folder, INITIAL)}, "
                                "drop one in the folder, or POST it to the admin port at "
                                "/app/v1/provision/<name>; see docs/provisions.md")
        return FlaskResponse(plan.body, 404, plan.headers)
    return Provision(DEFAULT_NAME, [], {404: help_404}, "<built-in default>", clock())


# =========================================================================== the manager


class ProvisionManager:
    """Holds the live provision and makes new ones live; mounted on ``MockApp`` at ``/``.

    Writers (the folder watcher, the admin API) go through ``activate_*`` under one lock;
    readers take one reference per request. ``stamps`` remembers the file state each
    activation read, so the watcher does not load again what the admin API just loaded.
    """

    prefixes = ("/",)
    name = "provisions"

    def __init__(self, folder, *, log=None, clock=time.time):
        self.folder = os.path.realpath(os.fspath(folder))
        self.log = log or (lambda message: None)
        self.clock = clock
        self._lock = threading.Lock()
        self.active: Provision = default_provision(self.folder, clock)
        self.last_attempt: dict = {"ok": True, "name": DEFAULT_NAME, "at": clock(), "error": None}
        self.stamps: dict[str, tuple] = {}

    # --- mount interface (see MockApp.mount)
    def handle(self, app, config, plain: Request) -> Response | None:
        def config_matches() -> bool:
            return not isinstance(config.router.find(plain), RouteMiss)
        return self.active.respond(plain, config_matches)

    def health(self) -> dict:
        return {"ok": self.last_attempt["ok"], "folder": self.folder,
                "active": self.active.describe(), "last_attempt": self.last_attempt}

    # --- files
    def path_for(self, name: str) -> str:
        """The file for ``name`` inside the folder; ``ProvisionError`` if it would escape."""
        check_name(name)
        path = os.path.realpath(os.path.join(self.folder, name))
        if os.path.commonpath([path, self.folder]) != self.folder:
            raise ProvisionError(name, "name", "resolves outside the provision folder",
                                 hint="a symlink inside the folder points elsewhere")
        return path

    def names(self) -> list[str]:
        """Every provision file in the folder (hidden and backup files left out)."""
        found = []
        for root, dirs, files in os.walk(self.folder, followlinks=False):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for file in sorted(files):
                if file.startswith(".") or file.endswith(_IGNORED_SUFFIXES):
                    continue
                found.append(os.path.relpath(os.path.join(root, file), self.folder).replace(os.sep, "/"))
        return found

    def stamp(self, name: str):
        """``(mtime_ns, size, inode)`` of a provision file (symlinks followed), or None."""
        try:
            info = os.stat(os.path.join(self.folder, name))
        except OSError:
            return None
        return (info.st_mtime_ns, info.st_size, info.st_ino)

    # --- making provisions live
    def start(self) -> Provision:
        """Load ``initial`` if the folder has one; else (or if it is bad) the built-in default."""
        if self.stamp(INITIAL) is None:
            self.log(f"provisions: no {os.path.join(self.folder, INITIAL)}; serving the built-in "
                     "default (404 with help) until a provision is loaded")
            return self.active
        try:
            return self.activate_file(INITIAL, origin="start")
        except ProvisionError:
            return self.active

    def activate_file(self, name: str, origin: str = "file") -> Provision:
        path = self.path_for(name)
        if not os.path.isfile(path):   # a caller's mistake, not a failed provision
            raise ProvisionError(name, "missing", f"there is no provision file {path}",
                                 hint="GET /app/v1/provision lists the files")
        with self._lock:
            stamp = self.stamp(name)
            try:
                with open(path, "rb") as handle:
                    source = handle.read()
            except OSError as exc:
                error = ProvisionError(name, "read", f"cannot read {path}: {exc.strerror}",
                                       hint="check the file's permissions")
                self._failed(error, origin)
                raise error from None
            self.stamps[name] = stamp
            return self._activate(name, source, path, origin)

    def save_and_activate(self, name: str, source: bytes, origin: str = "admin") -> Provision:
        """Check ``source``; only a good provision is written to the folder and made live."""
        path = self.path_for(name)
        with self._lock:
            provision = self._compile(name, source, path, origin)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            atomic_write(path, source)
            self.stamps[name] = self.stamp(name)
            return self._go_live(provision, origin)

    def _activate(self, name: str, source: bytes, path: str, origin: str) -> Provision:
        return self._go_live(self._compile(name, source, path, origin), origin)

    def _compile(self, name: str, source: bytes, path: str, origin: str) -> Provision:
        try:
            provision = compile_provision(name, source, filename=path, folder=self.folder,
                                          clock=self.clock)
        except ProvisionError as error:
            self._failed(error, origin)
            raise
        provision.log = self.log
        return provision

    def _go_live(self, provision: Provision, origin: str) -> Provision:
        self.active = provision
        self.last_attempt = {"ok": True, "name": provision.name, "at": self.clock(),
                             "origin": origin, "error": None}
        self.log(f"provision {provision.name!r} live ({origin}): {len(provision.rules)} rules, "
                 f"{len(provision.error_handlers)} error handlers")
        return provision

    def _failed(self, error: ProvisionError, origin: str) -> None:
        self.last_attempt = {"ok": False, "name": error.name, "at": self.clock(),
                             "origin": origin, "error": error.as_dict()}
        trace = f"\n{error.trace}" if error.trace else ""
        self.log(f"{error}; provision {self.active.name!r} is still serving{trace}")
