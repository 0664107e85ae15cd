"""The answer side of the Flask shim for provisions: ``Response``, ``jsonify``,
``make_response``, ``abort`` and ``flask_api.status``.

Layer 1, pure: builds Flask-style response objects and turns whatever a view returns (a body,
a ``(body, status, headers)`` tuple, a dict, a ``Response``) into a pymock ``Response`` plan,
the way Flask would. Nothing here runs user code; ``provisions`` does, and catches what it
raises. ``provision_request`` holds the request side, ``provision_app`` the rule table.

>>> jsonify(n=7).get_data()
b'{"n":7}\\n'
>>> make_response("gone", 410).to_plan().status
410
>>> status.HTTP_404_NOT_FOUND, status.is_client_error(404)
(404, True)

Must not import ``provisions``, ``provision_request`` or ``provision_app`` (they import this
module), anything in layer 2, or anything outside the standard library.
"""

from __future__ import annotations

import datetime
import decimal
import json
import types
import uuid
from email.utils import format_datetime
from http import HTTPStatus
from http.cookies import SimpleCookie

from .model import Response, problem_response

__all__ = ["FlaskResponse", "HTTPException", "jsonify", "make_response", "abort", "status"]


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
