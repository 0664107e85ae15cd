"""Template runtime values: the limits, ``Undefined``, the views and the sandboxed lookup.

What a compiled template handles while it renders, apart from its nodes: the render limits
(``MAX_LOOP_ITERATIONS``, ``MAX_OUTPUT_CHARS``, ``MAX_NESTING``), ``Undefined`` (what a missing
name, key or index gives), the views whose fields templates may read (``PathText``, the
case-insensitive headers, the lazy request dict, ``loop``), ``_lookup`` (the only way a
template reads into a value: dict keys, list items and view fields, never Python attributes),
how a value prints (``_to_str``) and how it becomes plain JSON data (``_plain``).

>>> path = PathText("/users/7", {"id": "7"})
>>> _lookup(path, "id"), _lookup(path, 0), _lookup(path, "upper") is _MISSING
('7', 'users', True)
>>> _to_str(True), _to_str(Undefined("x")), _to_str({"a": [1, None]})
('true', '', '{"a": [1, null]}')

Part of the template engine; ``templates`` is its public face. Names with a leading underscore
are shared between the ``template_*`` modules only. Pure (layer 0): imports only the standard
library and ``errors``; it must not import the other template modules (they all build on this
one) or anything that does I/O.
"""

from __future__ import annotations

import json

from .errors import TemplateError

__all__ = [
    "MAX_LOOP_ITERATIONS", "MAX_OUTPUT_CHARS", "MAX_NESTING", "Undefined", "PathText",
    "request_view", "_MISSING", "_LOOP_LIMIT", "_OUTPUT_LIMIT", "_Fail", "_LoopInfo", "_lookup",
    "_type_name", "_plain", "_measure", "_dumps", "_to_str", "_bounded", "_private_message",
    "_Where",
]


MAX_LOOP_ITERATIONS = 10_000   # loop iterations per render, all loops together
MAX_OUTPUT_CHARS = 1_000_000   # characters one render may produce (and any single value)
MAX_NESTING = 50               # nested blocks, brackets and unary operators in one template

_MISSING = object()
_LOOP_LIMIT = (f"loop limit exceeded: more than {MAX_LOOP_ITERATIONS} iterations in one render "
               "(MAX_LOOP_ITERATIONS); loop over fewer items")
_OUTPUT_LIMIT = (f"output limit exceeded: more than {MAX_OUTPUT_CHARS} characters in one render "
                 "(MAX_OUTPUT_CHARS); render less data")


class _Fail(Exception):
    """A render-time problem without a position; the node that catches it adds one."""


# ---------------------------------------------------------------- runtime values and views

class Undefined:
    """What a lookup of a missing name, key or index gives: renders as "", is falsy.

    ``name`` is the expression that was missing, used in error messages.
    """

    __slots__ = ("name",)

    def __init__(self, name: str = ""):
        self.name = name

    def __str__(self) -> str:
        return ""

    def __bool__(self) -> bool:
        return False

    def __iter__(self):
        return iter(())

    def __len__(self) -> int:
        return 0

    def __eq__(self, other) -> bool:
        return isinstance(other, Undefined)

    def __hash__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return f"Undefined({self.name!r})"


class _View:
    """Objects built here whose fields templates may read: the only lookups beyond
    dict keys and list indexes. ``_tpl_get`` answers a lookup, ``_tpl_plain`` gives JSON data."""

    __slots__ = ()

    def _tpl_get(self, key):  # pragma: no cover - every view overrides it
        return _MISSING

    def _tpl_plain(self):  # pragma: no cover - every view overrides it
        return None


class PathText(str, _View):
    """The request path as text whose lookups give path parameters.

    ``{{ request.path }}`` is ``/users/7``; ``{{ request.path.id }}`` is the ``id`` parameter;
    ``{{ request.path[0] }}`` is the first path segment (``users``).
    """

    def __new__(cls, path: str, params: dict | None = None):
        self = super().__new__(cls, path)
        self.params = dict(params or {})
        self.segments = [part for part in path.split("/") if part]
        return self

    def _tpl_get(self, key):
        if type(key) is int:
            n = len(self.segments)
            return self.segments[key] if -n <= key < n else _MISSING
        return self.params.get(key, _MISSING)

    def _tpl_plain(self):
        return str.__str__(self)


class _HeaderDict(dict, _View):
    """Header names (lower-cased) to their first value; any lookup ignores case."""

    __slots__ = ()

    def _tpl_get(self, key):
        return dict.get(self, key.lower() if isinstance(key, str) else key, _MISSING)

    def __getitem__(self, key):
        return dict.__getitem__(self, key.lower() if isinstance(key, str) else key)

    def get(self, key, default=None):
        return dict.get(self, key.lower() if isinstance(key, str) else key, default)

    def __contains__(self, key) -> bool:
        return dict.__contains__(self, key.lower() if isinstance(key, str) else key)

    def _tpl_plain(self):
        return dict(self)


class _LazyDict(dict, _View):
    """A dict whose expensive entries are computed on first use (the request view).

    Whole-dict operations (iteration, ``len``, ``items``, ``==``, ``json.dumps``) compute
    every entry first, so callers see an ordinary dict.
    """

    __slots__ = ("_lazy",)

    def __init__(self, eager: dict, lazy: dict):
        dict.__init__(self, eager)
        self._lazy = dict(lazy)

    def _tpl_get(self, key):
        value = dict.get(self, key, _MISSING)
        if value is _MISSING and key in self._lazy:
            value = self._lazy.pop(key)()
            dict.__setitem__(self, key, value)
        return value

    def _fill(self) -> _LazyDict:
        for key in list(self._lazy):
            self._tpl_get(key)
        return self

    def _tpl_plain(self):
        return dict(self._fill().items())

    def __getitem__(self, key):
        value = self._tpl_get(key)
        if value is _MISSING:
            raise KeyError(key)
        return value

    def get(self, key, default=None):
        value = self._tpl_get(key)
        return default if value is _MISSING else value

    def __contains__(self, key) -> bool:
        return dict.__contains__(self, key) or key in self._lazy

    def __iter__(self):
        return dict.__iter__(self._fill())

    def __len__(self) -> int:
        return dict.__len__(self) + len(self._lazy)

    def keys(self):
        return dict.keys(self._fill())

    def values(self):
        return dict.values(self._fill())

    def items(self):
        return dict.items(self._fill())

    def __eq__(self, other) -> bool:
        return dict.__eq__(self._fill(), other._fill() if isinstance(other, _LazyDict) else other)

    __hash__ = None

    def __repr__(self) -> str:
        return dict.__repr__(self._fill())


class _LoopInfo(_View):
    """``loop`` inside ``{% for %}``: index (1-based), index0, first, last, length."""

    __slots__ = ("index0", "length")

    def __init__(self, index0: int, length: int):
        self.index0, self.length = index0, length

    def _tpl_get(self, key):
        if key == "index":
            return self.index0 + 1
        if key == "index0":
            return self.index0
        if key == "first":
            return self.index0 == 0
        if key == "last":
            return self.index0 == self.length - 1
        if key == "length":
            return self.length
        return _MISSING

    def _tpl_plain(self):
        return {name: self._tpl_get(name) for name in ("index", "index0", "first", "last", "length")}


def _lookup(obj, key):
    """``obj.key`` / ``obj[key]`` under the sandbox rules; ``_MISSING`` when there is none."""
    t = type(obj)
    try:
        if t is dict:
            return obj.get(key, _MISSING)
        if isinstance(obj, _View):
            return obj._tpl_get(key)
        if isinstance(obj, dict):  # someone else's dict subclass: its storage, never its methods
            return dict.get(obj, key, _MISSING)
        if isinstance(obj, (list, tuple, str)) and type(key) is int:
            return obj[key] if -len(obj) <= key < len(obj) else _MISSING
    except TypeError:  # an unhashable key
        pass
    return _MISSING


def _type_name(value) -> str:
    if isinstance(value, Undefined):
        return f"undefined ({value.name} is missing)" if value.name else "undefined"
    if value is None:
        return "none"
    if isinstance(value, _LoopInfo):
        return "loop"
    for kind, name in ((bool, "bool"), (str, "string"), (int, "int"), (float, "float"),
                       (dict, "dict"), ((list, tuple), "list")):
        if isinstance(value, kind):
            return name
    return type(value).__name__


_SCALARS = frozenset((str, int, float, bool, type(None)))


def _plain(value):
    """The value as plain JSON-like data (views become dicts/strings, Undefined None)."""
    t = type(value)
    if t in _SCALARS:
        return value
    if t is list or t is tuple:
        return [_plain(item) for item in value]
    if t is dict:
        return {key: _plain(item) for key, item in value.items()}
    if t is Undefined:
        return None
    if isinstance(value, _View):
        return _plain(value._tpl_plain())
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in dict.items(value)}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, (int, float)):
        return value
    return str(value)


def _measure(value, budget: int) -> int:
    """About how many characters ``value`` renders to; stops counting once past ``budget``."""
    total, stack = 0, [value]
    while stack and total <= budget:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item) + 2
        elif isinstance(item, dict):
            if isinstance(item, _LazyDict):
                item._fill()
            total += 2 + 4 * dict.__len__(item)
            if total <= budget:
                stack.extend(dict.keys(item))
                stack.extend(dict.values(item))
        elif isinstance(item, (list, tuple)):
            total += 2 + 2 * len(item)
            if total <= budget:
                stack.extend(item)
        else:
            total += 8
    return total


def _check_size(value):
    if _measure(value, MAX_OUTPUT_CHARS) > MAX_OUTPUT_CHARS:
        raise _Fail(_OUTPUT_LIMIT)
    return value


def _dumps(value, indent=None, sort_keys=False) -> str:
    _check_size(value)
    return json.dumps(_plain(value), ensure_ascii=False, indent=indent, sort_keys=sort_keys)


def _to_str(value) -> str:
    """How ``{{ value }}`` prints: JSON spelling for booleans and containers, "" for nothing."""
    t = type(value)
    if t is str:
        return value
    if t is int:
        return str(value)
    if t is bool:
        return "true" if value else "false"
    if value is None or t is Undefined:
        return ""
    if t is float:
        return repr(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, (dict, list, tuple, _LoopInfo)):
        return _dumps(value)
    return str(value)


# ---------------------------------------------------------------- sandbox checks, positions

def _bounded(value):
    if isinstance(value, (str, list)) and len(value) > MAX_OUTPUT_CHARS:
        raise _Fail(_OUTPUT_LIMIT)
    return value


def _private_message(key: str) -> str:
    return f"access to {key!r} is not allowed: names starting with '_' are private"


class _Where:
    """A source position, kept by each node that can fail at render time."""

    __slots__ = ("line", "col", "name")

    def __init__(self, line: int, col: int, name: str):
        self.line, self.col, self.name = line, col, name

    def error(self, message: str) -> TemplateError:
        return TemplateError(message, self.line, self.col, self.name)


# ---------------------------------------------------------------- the request a template sees

def request_view(request, path_params: dict | None = None) -> dict:
    """The ``request`` a template sees, built from a ``pymock.model.Request``.

    ``body``, ``json`` and ``cookies`` are computed only when a template reads them.
    """
    params = dict(path_params or {})
    path = PathText(request.path, params)
    eager = {
        "method": request.method,
        "url": request.target,
        "path": path,
        "path_params": params,
        "path_segments": path.segments,
        "query": request.query_first(),
        "query_all": request.query,
        "headers": _HeaderDict(request.headers.to_dict()),
        "client_ip": request.client[0] if request.client else "",
        "scheme": request.scheme,
        "id": request.id,
    }
    lazy = {
        "body": lambda: request.text,
        "json": lambda: request.json,
        "cookies": lambda: dict(request.cookies),
    }
    return _LazyDict(eager, lazy)
