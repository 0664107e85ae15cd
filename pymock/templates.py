"""Response templating: a small, sandboxed template language for bodies and headers.

``{{ expr }}`` prints a value, ``{% if %}``/``{% for %}``/``{% set %}`` control what is
printed, ``{# ... #}`` is a comment. Expressions have literals, lookups (``request.path.id``,
``request.headers["x-api-key"]``, ``items[0]``), operators, ``| filters`` and a fixed set of
helper functions (``now()``, ``uuid()``, ``fake.name`` ...). The language reference, with an
example for every construct, is ``docs/templates.md``.

Templates are compiled once (to a tree of closures) and rendered many times. Nothing here
evaluates Python code: there is no ``eval``/``exec``, names starting with ``_`` are refused,
lookups read dict keys, list items and the fields of the view objects built in this module
only (never Python attributes), and each render is bounded by ``MAX_LOOP_ITERATIONS`` and
``MAX_OUTPUT_CHARS``. Time, randomness and counters come from a ``RenderEnv``.

>>> compile_template("Hello {{ name | default('you') | title }}!").render({"name": "ada"})
'Hello Ada!'
>>> compile_template("{{ n * 2 }}").render_value({"n": 21})
42
>>> env = RenderEnv(clock=lambda: 86400.0, rng=random.Random(7))
>>> compile_template("{{ now() }} {{ now('%Y-%m-%d', '-1d') }}").render({}, env)
'1970-01-02T00:00:00Z 1970-01-01'
>>> body = compile_body({"id": "{{ request.path.id | int }}", "echo": "{{ request.json.msg }}"})
>>> from pymock.model import Request
>>> req = Request("POST", "/users/7", body=b'{"msg": "say \\\\"hi\\\\""}')
>>> body.render({"request": request_view(req, {"id": "7"})}, env)
{'id': 7, 'echo': 'say "hi"'}

Pure (layer 0): imports only the standard library and ``errors``; no sockets, no files, no
threads started (``Counters`` holds a ``threading.Lock`` so engine threads can share it).
"""

from __future__ import annotations

import base64
import bisect
import difflib
import inspect
import json
import math
import random
import re
import threading
import time
import uuid as _uuid
from datetime import datetime, timezone
from email.utils import formatdate
from urllib.parse import quote, urlencode

from .errors import TemplateError

__all__ = [
    "compile_template", "compile_body", "has_template_syntax", "request_view",
    "Template", "BodyTemplate", "RenderEnv", "Counters", "Undefined", "PathText",
    "MAX_LOOP_ITERATIONS", "MAX_OUTPUT_CHARS", "MAX_NESTING", "FILTER_NAMES", "HELPER_NAMES",
    "FAKE_FIELDS",
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


# ---------------------------------------------------------------- render environment

class Counters:
    """Named counters shared by every render that uses the same ``RenderEnv``; thread-safe.

    >>> c = Counters()
    >>> c.next("orders"), c.next("orders"), c.get("orders"), c.get("other")
    (1, 2, 2, 0)
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._values: dict[str, int] = {}

    def next(self, name: str, step: int = 1) -> int:
        """Add ``step`` to the counter and return its new value (the first call gives 1)."""
        with self._lock:
            value = self._values.get(name, 0) + step
            self._values[name] = value
            return value

    def get(self, name: str) -> int:
        with self._lock:
            return self._values.get(name, 0)

    def reset(self, name: str | None = None) -> None:
        """Forget one counter, or all of them when ``name`` is None."""
        with self._lock:
            if name is None:
                self._values.clear()
            else:
                self._values.pop(name, None)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._values)


class RenderEnv:
    """What a render may draw on besides its context: a clock, randomness and counters.

    Pass one env to every render that should share counters; pass ``random.Random(seed)``
    and a fixed ``clock`` to make output reproducible.
    """

    __slots__ = ("clock", "rng", "counters")

    def __init__(self, clock=time.time, rng: random.Random | None = None,
                 counters: Counters | None = None):
        self.clock = clock
        self.rng = rng if rng is not None else random.Random()
        self.counters = counters if counters is not None else Counters()


class _RenderState:
    __slots__ = ("env", "iterations", "size")

    def __init__(self, env: RenderEnv | None):
        self.env = env if env is not None else RenderEnv()
        self.iterations = 0
        self.size = 0


class _Where:
    """A source position, kept by each node that can fail at render time."""

    __slots__ = ("line", "col", "name")

    def __init__(self, line: int, col: int, name: str):
        self.line, self.col, self.name = line, col, name

    def error(self, message: str) -> TemplateError:
        return TemplateError(message, self.line, self.col, self.name)


# ---------------------------------------------------------------- time

_OFFSET_RE = re.compile(r"([+-]?)\s*((?:\d+(?:\.\d+)?\s*[smhdw]\s*)+)")
_OFFSET_PART_RE = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _offset_seconds(offset) -> float:
    """'+1d', '-2h', '+1h30m', '10s' (or a number of seconds) as seconds."""
    if offset is None or isinstance(offset, Undefined):
        return 0.0
    if isinstance(offset, (int, float)) and not isinstance(offset, bool):
        return float(offset)
    text = offset.strip() if isinstance(offset, str) else None
    if text == "":
        return 0.0
    match = _OFFSET_RE.fullmatch(text) if text is not None else None
    if match is None:
        raise _Fail(f"bad time offset {offset!r}: write a sign, a number and a unit "
                    "(s, m, h, d or w), e.g. '+1d', '-2h' or '+1h30m'")
    total = sum(float(n) * _UNIT_SECONDS[unit] for n, unit in _OFFSET_PART_RE.findall(match.group(2)))
    return -total if match.group(1) == "-" else total


def _format_time(ts: float, fmt=None):
    """Seconds since 1970 (UTC) in ``fmt``: a strftime pattern or iso, iso_ms, epoch,
    epoch_ms, http."""
    if fmt is None or fmt == "iso":
        return "%04d-%02d-%02dT%02d:%02d:%02dZ" % time.gmtime(math.floor(ts))[:6]
    if fmt == "iso_ms":
        seconds, millis = divmod(math.floor(ts * 1000), 1000)
        return "%04d-%02d-%02dT%02d:%02d:%02d" % time.gmtime(seconds)[:6] + f".{millis:03d}Z"
    if fmt == "epoch":
        return math.floor(ts)
    if fmt == "epoch_ms":
        return math.floor(ts * 1000)
    if fmt == "http":
        return formatdate(ts, usegmt=True)
    if not isinstance(fmt, str):
        raise _Fail(f"the format must be a string, got {_type_name(fmt)}")
    return datetime.fromtimestamp(ts, timezone.utc).strftime(fmt)


def _timestamp_of(value) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return float(text)
        except ValueError:
            pass
        if text[-1:] in ("Z", "z"):
            text = text[:-1] + "+00:00"
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return moment.timestamp()
    raise _Fail(f"expects seconds since 1970 or an ISO-8601 date, got {_type_name(value)}")


# ---------------------------------------------------------------- fake data (drawn from env.rng)

_FIRST_NAMES = (
    "Ada", "Alan", "Amara", "Ana", "Ben", "Carlos", "Chen", "Chloe", "Daniel", "Elena", "Emma",
    "Farah", "Grace", "Hannah", "Hiro", "Ivan", "Jamal", "Julia", "Kai", "Leila", "Liam",
    "Lucas", "Maya", "Mei", "Noah", "Olivia", "Priya", "Rafael", "Sofia", "Tom", "Yusuf", "Zoe")
_LAST_NAMES = (
    "Adams", "Almeida", "Bauer", "Brown", "Costa", "Dubois", "Evans", "Fischer", "Garcia",
    "Gupta", "Hansen", "Ivanova", "Jones", "Kim", "Kowalski", "Lee", "Martin", "Meyer",
    "Moreau", "Nakamura", "Novak", "Okafor", "Patel", "Rossi", "Santos", "Silva", "Smith",
    "Tanaka", "Walker", "Wright", "Young")
_CITIES = (
    "Amsterdam", "Athens", "Auckland", "Austin", "Bangalore", "Barcelona", "Berlin", "Boston",
    "Buenos Aires", "Cairo", "Cape Town", "Chicago", "Dublin", "Helsinki", "Istanbul", "Kyoto",
    "Lagos", "Lima", "Lisbon", "Madrid", "Melbourne", "Montreal", "Nairobi", "Oslo", "Prague",
    "Seoul", "Singapore", "Toronto", "Vienna", "Warsaw")
_COUNTRIES = (
    "Argentina", "Australia", "Austria", "Brazil", "Canada", "Chile", "Denmark", "Egypt",
    "Finland", "France", "Germany", "Ghana", "Greece", "India", "Ireland", "Italy", "Japan",
    "Kenya", "Mexico", "Netherlands", "New Zealand", "Nigeria", "Norway", "Peru", "Poland",
    "Portugal", "South Korea", "Spain", "Sweden", "Vietnam")
_COMPANY_SUFFIXES = (
    "Labs", "Systems", "Industries", "Logistics", "Analytics", "Partners", "Group", "Holdings",
    "Software", "Foods", "Robotics", "Energy", "Media", "Health", "Studios", "Consulting",
    "Networks", "Dynamics", "Works", "& Co")
_STREET_NAMES = (
    "Oak", "Maple", "Cedar", "Elm", "Pine", "Birch", "Willow", "Chestnut", "Lake", "Hill",
    "River", "Park", "Mill", "Church", "High", "Station", "Garden", "Meadow", "Spring", "Sunset",
    "Harbor", "Forest", "Bridge", "Orchard", "Valley")
_STREET_KINDS = ("Street", "Avenue", "Road", "Lane", "Drive", "Way", "Court", "Place", "Boulevard")
_WORDS = (
    "apple", "breeze", "canyon", "delta", "ember", "falcon", "glacier", "harbor", "island",
    "jungle", "kernel", "lantern", "meadow", "nebula", "orbit", "pebble", "quartz", "river",
    "summit", "thunder", "umbra", "velvet", "willow", "xenon", "yonder", "zephyr", "amber",
    "basil", "cobalt", "dune", "echo", "fable", "garnet", "hazel", "ivory", "juniper", "koala",
    "lilac", "mango", "nectar")
_EMAIL_DOMAINS = ("example.com", "example.org", "example.net")  # reserved for examples (RFC 2606)


def _fake_sentence(rng) -> str:
    words = [rng.choice(_WORDS) for _ in range(rng.randint(4, 9))]
    return " ".join(words).capitalize() + "."


def _fake_email(rng) -> str:
    first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
    return f"{first.lower()}.{last.lower()}{rng.randint(1, 99)}@{rng.choice(_EMAIL_DOMAINS)}"


_FAKE = {
    "name": lambda rng: f"{rng.choice(_FIRST_NAMES)} {rng.choice(_LAST_NAMES)}",
    "first_name": lambda rng: rng.choice(_FIRST_NAMES),
    "last_name": lambda rng: rng.choice(_LAST_NAMES),
    "email": _fake_email,
    "city": lambda rng: rng.choice(_CITIES),
    "country": lambda rng: rng.choice(_COUNTRIES),
    "company": lambda rng: f"{rng.choice(_LAST_NAMES)} {rng.choice(_COMPANY_SUFFIXES)}",
    # 555-0100..0199 numbers are reserved for fiction, so a fake number never rings anyone.
    "phone": lambda rng: f"+1-{rng.randint(201, 989)}-555-01{rng.randint(0, 99):02d}",
    "street": lambda rng: (f"{rng.randint(1, 999)} {rng.choice(_STREET_NAMES)} "
                           f"{rng.choice(_STREET_KINDS)}"),
    "word": lambda rng: rng.choice(_WORDS),
    "sentence": _fake_sentence,
}


# ---------------------------------------------------------------- filters (value, *args)

def _sequence(value):
    if isinstance(value, (list, tuple, str)):
        return value
    if isinstance(value, dict):
        return list(value.keys())
    if value is None or isinstance(value, Undefined):
        return []
    raise _Fail(f"expects a list, got {_type_name(value)}")


def _mapping(value) -> dict:
    if isinstance(value, dict):
        return value
    if value is None or isinstance(value, Undefined):
        return {}
    raise _Fail(f"expects a dict, got {_type_name(value)}")


def _number(value):
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    raise _Fail(f"expects a number, got {_type_name(value)} (convert it first with | int or | float)")


def _bounded(value):
    if isinstance(value, (str, list)) and len(value) > MAX_OUTPUT_CHARS:
        raise _Fail(_OUTPUT_LIMIT)
    return value


def _f_default(value, fallback="", boolean=False):
    if isinstance(value, Undefined) or value is None or (boolean and not value):
        return fallback
    return value


def _f_int(value, default=0):
    if isinstance(value, (bool, int)):
        return int(value)
    if isinstance(value, float):
        return int(value) if math.isfinite(value) else default
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
        try:
            return _f_int(float(value), default)
        except ValueError:
            return default
    return default


def _f_float(value, default=0.0):
    if isinstance(value, (bool, int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return default
    return default


def _f_round(value, ndigits=None):
    return round(_number(value)) if ndigits is None else round(_number(value), ndigits)


def _f_length(value):
    if value is None:
        return 0
    if isinstance(value, (int, float)):
        raise _Fail(f"a {_type_name(value)} has no length")
    return len(value)


def _f_urlencode(value):
    if isinstance(value, dict):
        return urlencode([(_to_str(k), _to_str(v)) for k, v in value.items()])
    return quote(_to_str(value), safe="")


def _f_b64decode(value):
    text = _to_str(value).strip().replace("-", "+").replace("_", "/")  # base64url too (JWTs)
    text += "=" * (-len(text) % 4)
    return base64.b64decode(text, validate=True).decode("utf-8", "replace")


def _f_first(value):
    items = _sequence(value)
    return items[0] if items else Undefined("first item")


def _f_last(value):
    items = _sequence(value)
    return items[-1] if items else Undefined("last item")


def _f_join(value, separator=""):
    items = [_to_str(item) for item in _sequence(value)]
    if sum(map(len, items)) + len(_to_str(separator)) * len(items) > MAX_OUTPUT_CHARS:
        raise _Fail(_OUTPUT_LIMIT)
    return _to_str(separator).join(items)


def _f_replace(value, old, new, count=-1):
    text, old, new = _to_str(value), _to_str(old), _to_str(new)
    hits = text.count(old) if count < 0 else min(count, text.count(old))
    if len(text) + hits * (len(new) - len(old)) > MAX_OUTPUT_CHARS:
        raise _Fail(_OUTPUT_LIMIT)
    return text.replace(old, new, count)


def _f_truncate(value, length=255, end="..."):
    text = _to_str(value)
    if len(text) <= length:
        return text
    return text[:max(length - len(end), 0)] + end


def _f_split(value, separator=None, maxsplit=-1):
    return _to_str(value).split(separator, maxsplit)


def _f_sort(value, attribute=None, reverse=False):
    items = list(_sequence(value))
    if isinstance(attribute, str) and attribute[:1] == "_":
        raise _Fail(_private_message(attribute))
    if attribute is None:
        return sorted(items, reverse=bool(reverse))
    keyed = [(_lookup(item, attribute), item) for item in items]
    present = [pair for pair in keyed if pair[0] is not _MISSING]
    present.sort(key=lambda pair: pair[0], reverse=bool(reverse))
    return [item for _, item in present] + [item for key, item in keyed if key is _MISSING]


def _f_reverse(value):
    if isinstance(value, str):
        return value[::-1]
    return list(reversed(_sequence(value)))


def _f_unique(value):
    seen, out = set(), []
    for item in _sequence(value):
        try:
            key = hash(item), item
        except TypeError:  # a dict or list: compare by its JSON spelling
            key = json.dumps(_plain(item), sort_keys=True)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def _f_min(value):
    items = _sequence(value)
    return min(items) if items else Undefined("min of nothing")


def _f_max(value):
    items = _sequence(value)
    return max(items) if items else Undefined("max of nothing")


def _f_slice(value, start, stop=None):
    return _sequence(value)[start:stop]


def _f_date(value, fmt=None):
    if value is None or isinstance(value, Undefined):
        return Undefined("date")
    return _format_time(_timestamp_of(value), fmt)


_FILTERS = {
    "upper": lambda value: _to_str(value).upper(),
    "lower": lambda value: _to_str(value).lower(),
    "title": lambda value: _to_str(value).title(),
    "capitalize": lambda value: _to_str(value).capitalize(),
    "trim": lambda value, chars=None: _to_str(value).strip(chars),
    "default": _f_default,
    "json": lambda value, indent=None, sort_keys=False: _dumps(value, indent, sort_keys),
    "length": _f_length,
    "urlencode": _f_urlencode,
    "base64": lambda value: base64.b64encode(_to_str(value).encode()).decode("ascii"),
    "b64decode": _f_b64decode,
    "int": _f_int,
    "float": _f_float,
    "string": _to_str,
    "round": _f_round,
    "abs": lambda value: abs(_number(value)),
    "first": _f_first,
    "last": _f_last,
    "join": _f_join,
    "replace": _f_replace,
    "truncate": _f_truncate,
    "split": _f_split,
    "keys": lambda value: list(_mapping(value).keys()),
    "values": lambda value: list(_mapping(value).values()),
    "items": lambda value: [[key, item] for key, item in _mapping(value).items()],
    "sort": _f_sort,
    "reverse": _f_reverse,
    "unique": _f_unique,
    "min": _f_min,
    "max": _f_max,
    "sum": lambda value: sum(_sequence(value), 0),
    "slice": _f_slice,
    "date": _f_date,
}


# ---------------------------------------------------------------- helpers (env, *args)

_ALPHANUMERIC = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def _length_arg(n) -> int:
    if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n <= MAX_OUTPUT_CHARS:
        raise _Fail(f"the length must be a whole number from 0 to {MAX_OUTPUT_CHARS}, got {n!r}")
    return n


def _h_now(env, fmt=None, offset=None):
    return _format_time(env.clock() + _offset_seconds(offset), fmt)


def _h_date(env, fmt="%Y-%m-%d", offset=None):
    return _format_time(env.clock() + _offset_seconds(offset), fmt)


def _h_time(env, fmt="%H:%M:%S", offset=None):
    return _format_time(env.clock() + _offset_seconds(offset), fmt)


def _h_timestamp(env, offset=None):
    return math.floor(env.clock() + _offset_seconds(offset))


def _h_random_float(env, min=0.0, max=1.0, ndigits=None):  # noqa: A002 - names users write
    value = env.rng.uniform(_number(min), _number(max))
    return value if ndigits is None else round(value, ndigits)


def _h_random_choice(env, *items):
    pool = items[0] if len(items) == 1 and isinstance(items[0], (list, tuple)) else items
    return env.rng.choice(pool) if pool else Undefined("random_choice of nothing")


def _h_random_token(env, length=32):
    n = _length_arg(length)
    return "%0*x" % (n, env.rng.getrandbits(4 * n)) if n else ""


def _h_range(env, start, stop=None, step=1):
    numbers = range(start) if stop is None else range(start, stop, step)
    if len(numbers) > MAX_LOOP_ITERATIONS:
        raise _Fail(f"range of {len(numbers)} numbers is more than MAX_LOOP_ITERATIONS "
                    f"({MAX_LOOP_ITERATIONS})")
    return list(numbers)


_HELPERS = {
    "now": _h_now,
    "date": _h_date,
    "time": _h_time,
    "timestamp": _h_timestamp,
    "uuid": lambda env: str(_uuid.UUID(int=env.rng.getrandbits(128), version=4)),
    "random_int": lambda env, min=0, max=100: env.rng.randint(min, max),  # noqa: A002
    "random_float": _h_random_float,
    "random_choice": _h_random_choice,
    "random_bool": lambda env: env.rng.random() < 0.5,
    "random_string": lambda env, length=16: "".join(
        env.rng.choices(_ALPHANUMERIC, k=_length_arg(length))),
    "random_token": _h_random_token,
    "counter": lambda env, name: env.counters.next(_to_str(name)),
    "range": _h_range,
}
_TIME_HELPERS = {"now": 1, "date": 1, "time": 1, "timestamp": 0}  # position of `offset`

FILTER_NAMES = tuple(sorted(_FILTERS))
HELPER_NAMES = tuple(sorted(_HELPERS))
FAKE_FIELDS = tuple(sorted(_FAKE))
_SIGNATURES = {("filter", name): inspect.signature(fn) for name, fn in _FILTERS.items()}
_SIGNATURES.update({("function", name): inspect.signature(fn) for name, fn in _HELPERS.items()})


def _params_text(signature) -> str:
    return ", ".join(str(p) for p in list(signature.parameters.values())[1:])


# ---------------------------------------------------------------- expression closures

def _const(value):
    def ev(scope, rs):
        return value
    ev.const = value
    return ev


def _is_const(ev) -> bool:
    return hasattr(ev, "const")


def _name_ev(name: str):
    def ev(scope, rs):
        value = scope.get(name, _MISSING)
        return Undefined(name) if value is _MISSING else value
    return ev


def _private_message(key: str) -> str:
    return f"access to {key!r} is not allowed: names starting with '_' are private"


def _chain(base, name, steps):
    """``base`` followed by lookups; ``steps`` are (key or None, key_ev or None, label, where)."""
    if name is not None and all(key_ev is None for _, key_ev, _, _ in steps):
        keys = tuple((key, label) for key, _, label, _ in steps)

        def fused(scope, rs):  # the common case, e.g. request.path.id, kept to one loop
            value = scope.get(name, _MISSING)
            if value is _MISSING:
                return Undefined(name)
            for key, label in keys:
                value = _lookup(value, key)
                if value is _MISSING:
                    return Undefined(label)
            return value
        return fused

    def ev(scope, rs):
        value = base(scope, rs)
        for key, key_ev, label, where in steps:
            if key_ev is not None:
                key = key_ev(scope, rs)
                if isinstance(key, str) and key[:1] == "_":
                    raise where.error(_private_message(key))
            value = _lookup(value, key)
            if value is _MISSING:
                return Undefined(label)
        return value
    return ev


_CAUGHT = (TypeError, ValueError, ArithmeticError, IndexError, KeyError, OSError)


def _call_failed(kind: str, name: str, value, exc: Exception, where: _Where) -> TemplateError:
    label = f"filter {name!r}" if kind == "filter" else f"{name}()"
    if isinstance(exc, _Fail):
        return where.error(f"{label}: {exc}")
    if kind == "filter":
        return where.error(f"{label} cannot handle {_type_name(value)}: {exc}")
    return where.error(f"{label} failed: {exc}")


def _filtered(base, steps):
    """``base | f1(args) | f2 ...``; each step is (name, fn, arg_evs, kw_evs, where)."""
    def ev(scope, rs):
        value = base(scope, rs)
        for name, fn, arg_evs, kw_evs, where in steps:
            args = [arg(scope, rs) for arg in arg_evs]
            kwargs = {key: arg(scope, rs) for key, arg in kw_evs}
            try:
                value = _bounded(fn(value, *args, **kwargs))
            except (_Fail, *_CAUGHT) as exc:
                raise _call_failed("filter", name, value, exc, where) from None
        return value
    return ev


def _helper_call(name, fn, arg_evs, kw_evs, where):
    if not arg_evs and not kw_evs:
        def call0(scope, rs):
            try:
                return _bounded(fn(rs.env))
            except (_Fail, *_CAUGHT) as exc:
                raise _call_failed("function", name, None, exc, where) from None
        return call0

    def call(scope, rs):
        args = [arg(scope, rs) for arg in arg_evs]
        kwargs = {key: arg(scope, rs) for key, arg in kw_evs}
        try:
            return _bounded(fn(rs.env, *args, **kwargs))
        except (_Fail, *_CAUGHT) as exc:
            raise _call_failed("function", name, None, exc, where) from None
    return call


def _defined(a, b) -> None:
    for value in (a, b):
        if isinstance(value, Undefined):
            raise _Fail(f"{value.name or 'a value'!r} is undefined; give it a fallback with "
                        "| default(...)")


def _op_add(a, b):
    _defined(a, b)
    return _bounded(a + b)


def _op_mul(a, b):
    _defined(a, b)
    for seq, n in ((a, b), (b, a)):
        if isinstance(seq, (str, list, tuple)) and isinstance(n, int) and len(seq) * n > MAX_OUTPUT_CHARS:
            raise _Fail(_OUTPUT_LIMIT)
    if isinstance(a, int) and isinstance(b, int) and a.bit_length() + b.bit_length() > 65536:
        raise _Fail("number too large (more than 65536 bits)")
    return a * b


def _op_mod(a, b):
    _defined(a, b)
    if isinstance(a, str):  # Python's '%' formatting; not a template feature
        raise TypeError("text")
    return a % b


def _numeric(fn):
    def op(a, b):
        _defined(a, b)
        return fn(a, b)
    return op


_ARITH = {
    "+": _op_add, "-": _numeric(lambda a, b: a - b), "*": _op_mul,
    "/": _numeric(lambda a, b: a / b), "//": _numeric(lambda a, b: a // b), "%": _op_mod,
}


def _arith_chain(first, steps):
    def ev(scope, rs):
        value = first(scope, rs)
        for symbol, fn, right, where in steps:
            other = right(scope, rs)
            try:
                value = fn(value, other)
            except _Fail as exc:
                raise where.error(str(exc)) from None
            except ZeroDivisionError:
                raise where.error(f"division by zero in '{symbol}'") from None
            except (TypeError, ValueError, OverflowError):
                raise where.error(
                    f"cannot use '{symbol}' on {_type_name(value)} and {_type_name(other)}; "
                    "convert first with | int, | float or | string (use ~ to join text)") from None
        return value
    return ev


def _contains(container, item) -> bool:
    if container is None or isinstance(container, Undefined):
        return False
    if isinstance(container, str):
        return _to_str(item) in container
    try:
        return item in container
    except TypeError:  # unhashable item in a dict
        return False


_COMPARE = {
    "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
    "in": lambda a, b: _contains(b, a), "not in": lambda a, b: not _contains(b, a),
}


def _compare_chain(first, steps):
    def ev(scope, rs):
        left = first(scope, rs)
        for symbol, fn, right_ev, where in steps:
            right = right_ev(scope, rs)
            try:
                if not fn(left, right):
                    return False
            except (TypeError, _Fail):
                raise where.error(f"cannot compare {_type_name(left)} and {_type_name(right)} "
                                  f"with '{symbol}'; convert first with | int, | float or "
                                  "| string") from None
            left = right
        return True
    return ev


def _concat(parts, where: _Where):
    def ev(scope, rs):
        values = [part(scope, rs) for part in parts]
        try:
            return _bounded("".join([_to_str(value) for value in values]))
        except _Fail as exc:
            raise where.error(str(exc)) from None
    return ev


def _unary(symbol: str, inner, where: _Where):
    def ev(scope, rs):
        value = inner(scope, rs)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise where.error(f"cannot apply unary '{symbol}' to {_type_name(value)}; "
                              "convert it with | int or | float")
        return -value if symbol == "-" else value
    return ev


# ---------------------------------------------------------------- tokens and expression parser

_TOKEN_RE = re.compile(r"""
    (?P<float>\d+\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+)
  | (?P<int>\d+)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<op>//|==|!=|<=|>=|[-+*/%<>()\[\]{}.,:|~=])
""", re.VERBOSE | re.DOTALL)
_SPACE_RE = re.compile(r"\s*")
_ESCAPE_RE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)", re.DOTALL)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", "'": "'", '"': '"', "/": "/"}
_CONSTANTS = {"true": True, "True": True, "false": False, "False": False,
              "none": None, "None": None, "null": None}
_KEYWORDS = frozenset(("and", "or", "not", "in", "if", "else", "is"))
_END = "end"


def _unescape(body: str) -> str:
    def sub(match):
        code = match.group(1)
        if code[0] == "u" and len(code) == 5:
            return chr(int(code[1:], 16))
        return _ESCAPES.get(code, "\\" + code)
    return _ESCAPE_RE.sub(sub, body) if "\\" in body else body


def _describe(token) -> str:
    return "the end of the tag" if token[0] == _END else repr(token[3])


def _suggest(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


class _ExprParser:
    """Recursive descent over the tokens of one tag, building evaluation closures.

    Precedence, loosest first: ``x if c else y``, or, and, not, comparisons (== != < <= >
    >= in, not in), ~, + -, * / // %, unary -, then lookups and ``| filters``.
    """

    def __init__(self, comp: _Compiler, tokens: list, end: int):
        self.c, self.tokens, self.end, self.i, self.depth = comp, tokens, end, 0, 0

    # -- token helpers
    def peek(self, ahead: int = 0):
        i = self.i + ahead
        return self.tokens[i] if i < len(self.tokens) else (_END, None, self.end, "")

    def take(self):
        token = self.peek()
        self.i += 1
        return token

    def at(self, kind: str, value) -> bool:
        token = self.peek()
        return token[0] == kind and token[1] == value

    def accept(self, kind: str, value) -> bool:
        if self.at(kind, value):
            self.i += 1
            return True
        return False

    def expect(self, kind: str, value):
        token = self.peek()
        if not self.accept(kind, value):
            raise self.c.error(f"expected {value!r} but found {_describe(token)}", token[2])
        return token

    def done(self, what: str = "the expression") -> None:
        token = self.peek()
        if token[0] != _END:
            raise self.c.error(f"unexpected {_describe(token)} after {what}", token[2])

    def where(self, token) -> _Where:
        return self.c.where(token[2])

    def enter(self, token) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise self.c.error(f"expression nested too deeply (more than {MAX_NESTING} levels)", token[2])

    # -- grammar
    def expression(self):
        self.enter(self.peek())
        try:
            value = self.or_expr()
            if not self.accept("name", "if"):
                return value
            condition = self.or_expr()
            otherwise = self.expression() if self.accept("name", "else") else _const(Undefined(""))
            return lambda scope, rs: (value(scope, rs) if condition(scope, rs) else otherwise(scope, rs))
        finally:
            self.depth -= 1

    def or_expr(self):
        parts = [self.and_expr()]
        while self.accept("name", "or"):
            parts.append(self.and_expr())
        if len(parts) == 1:
            return parts[0]

        def ev(scope, rs):
            for part in parts:
                value = part(scope, rs)
                if value:
                    return value
            return value
        return ev

    def and_expr(self):
        parts = [self.not_expr()]
        while self.accept("name", "and"):
            parts.append(self.not_expr())
        if len(parts) == 1:
            return parts[0]

        def ev(scope, rs):
            for part in parts:
                value = part(scope, rs)
                if not value:
                    return value
            return value
        return ev

    def not_expr(self):
        token = self.peek()
        if token[0] == "name" and token[1] == "not":
            self.take()
            self.enter(token)
            inner = self.not_expr()
            self.depth -= 1
            return lambda scope, rs: not inner(scope, rs)
        return self.comparison()

    def comparison(self):
        first, steps = self.concat(), []
        while True:
            token = self.peek()
            if token[0] == "op" and token[1] in ("==", "!=", "<", "<=", ">", ">="):
                symbol = token[1]
            elif token[0] == "name" and token[1] == "in":
                symbol = "in"
            elif token[0] == "name" and token[1] == "not" and self.peek(1)[:2] == ("name", "in"):
                self.take()
                symbol = "not in"
            else:
                break
            self.take()
            steps.append((symbol, _COMPARE[symbol], self.concat(), self.where(token)))
        return _compare_chain(first, tuple(steps)) if steps else first

    def concat(self):
        parts = [self.arith()]
        while self.at("op", "~"):
            token = self.take()
            parts.append(self.arith())
        return _concat(tuple(parts), self.where(token)) if len(parts) > 1 else parts[0]

    def arith(self):
        return self.binary(self.term, ("+", "-"))

    def term(self):
        return self.binary(self.unary, ("*", "/", "//", "%"))

    def binary(self, operand, symbols):
        first, steps = operand(), []
        while self.peek()[0] == "op" and self.peek()[1] in symbols:
            token = self.take()
            steps.append((token[1], _ARITH[token[1]], operand(), self.where(token)))
        return _arith_chain(first, tuple(steps)) if steps else first

    def unary(self):
        token = self.peek()
        if token[0] != "op" or token[1] not in ("-", "+"):
            return self.postfix()
        self.take()
        self.enter(token)
        inner = self.unary()
        self.depth -= 1
        folded = getattr(inner, "const", None)
        if isinstance(folded, (int, float)) and not isinstance(folded, bool):
            return _const(-folded if token[1] == "-" else folded)
        return _unary(token[1], inner, self.where(token))

    def postfix(self):
        start = self.peek()[2]
        ev, name = self.primary()
        steps = []
        while self.peek()[0] == "op" and self.peek()[1] in (".", "["):
            steps.append(self.trailer(start))
        if steps:
            ev = _chain(ev, name, tuple(steps))
        return self.filters(ev)

    def trailer(self, start: int):
        opener = self.take()
        if opener[1] == ".":
            token = self.take()
            if token[0] not in ("name", "int"):
                raise self.c.error(f"expected a field name after '.', found {_describe(token)}", token[2])
            key = token[1] if token[0] == "name" else int(token[1])
            key_ev, stop = None, token[2] + len(token[3])
        else:
            token = self.peek()
            key_ev = self.expression()
            stop = self.expect("op", "]")[2] + 1
            key = getattr(key_ev, "const", _MISSING)
            key_ev = key_ev if key is _MISSING else None
        if isinstance(key, str) and key[:1] == "_":
            raise self.c.error(_private_message(key), token[2])
        return (key, key_ev, self.c.src[start:stop], self.where(token))

    def filters(self, ev):
        steps = []
        while self.accept("op", "|"):
            token = self.take()
            if token[0] != "name":
                raise self.c.error(f"expected a filter name after '|', found {_describe(token)}", token[2])
            fn = _FILTERS.get(token[1])
            if fn is None:
                raise self.c.error(f"unknown filter {token[1]!r}{_suggest(token[1], _FILTERS)}; "
                                   "the filters are listed in docs/templates.md", token[2])
            args, kwargs = self.call_args() if self.at("op", "(") else ([], [])
            self.check_call("filter", token, args, kwargs)
            steps.append((token[1], fn, tuple(a for a, _ in args),
                          tuple((k, a) for k, a, _ in kwargs), self.where(token)))
        return _filtered(ev, tuple(steps)) if steps else ev

    def primary(self):
        token = self.take()
        kind, value = token[0], token[1]
        if kind in ("int", "float", "str"):
            return _const(value), None
        if kind == "name" and value not in _KEYWORDS:
            if value in _CONSTANTS:
                return _const(_CONSTANTS[value]), None
            if self.at("op", "("):
                return self.helper(token), None
            if value == "fake":
                return self.fake(token), None
            return self.variable(token), value
        if kind == "op" and value == "(":
            inner = self.expression()
            self.expect("op", ")")
            return inner, None
        if kind == "op" and value == "[":
            return self.list_literal(), None
        if kind == "op" and value == "{":
            return self.dict_literal(token), None
        raise self.c.error(f"expected an expression but found {_describe(token)}", token[2])

    def variable(self, token):
        name = token[1]
        if name[:1] == "_":
            raise self.c.error(_private_message(name), token[2])
        if name in _HELPERS and name not in self.c.bound:
            raise self.c.error(f"{name!r} is a function: call it as {name}()", token[2])
        return _name_ev(name)

    def fake(self, token):
        fields = ", ".join(FAKE_FIELDS)
        if not self.accept("op", "."):
            raise self.c.error(f"'fake' needs a field, e.g. fake.name (fields: {fields})", token[2])
        field = self.take()
        make = _FAKE.get(field[1]) if field[0] == "name" else None
        if make is None:
            hint = (_suggest(field[1], _FAKE) if field[0] == "name" else "") or f"; the fields are {fields}"
            raise self.c.error(f"unknown fake field {_describe(field)}{hint}", field[2])
        if self.accept("op", "("):
            self.expect("op", ")")
        return lambda scope, rs: make(rs.env.rng)

    def helper(self, token):
        name = token[1]
        fn = _HELPERS.get(name)
        if fn is None:
            hint = (f"; {name!r} is a filter: write value | {name}" if name in _FILTERS
                    else _suggest(name, _HELPERS) or f"; the functions are {', '.join(HELPER_NAMES)}")
            raise self.c.error(f"unknown function {name!r}{hint}", token[2])
        args, kwargs = self.call_args()
        self.check_call("function", token, args, kwargs)
        self.check_offset(name, args, kwargs)
        return _helper_call(name, fn, tuple(a for a, _ in args), tuple((k, a) for k, a, _ in kwargs),
                            self.where(token))

    def call_args(self):
        """``(a, b, key=c)`` as ([(ev, token)], [(key, ev, token)])."""
        self.expect("op", "(")
        args, kwargs = [], []
        while not self.accept("op", ")"):
            token = self.peek()
            if token[0] == "name" and self.peek(1)[:2] == ("op", "="):
                self.i += 2
                kwargs.append((token[1], self.expression(), token))
            elif kwargs:
                raise self.c.error("a positional argument cannot follow a keyword argument", token[2])
            else:
                args.append((self.expression(), token))
            if not self.accept("op", ","):
                self.expect("op", ")")
                break
        return args, kwargs

    def check_call(self, kind: str, token, args, kwargs) -> None:
        signature = _SIGNATURES[(kind, token[1])]
        try:
            signature.bind(None, *[None] * len(args), **{key: None for key, _, _ in kwargs})
        except TypeError as exc:
            raise self.c.error(f"bad arguments for {kind} {token[1]}({_params_text(signature)}): {exc}",
                               token[2]) from None

    def check_offset(self, name: str, args, kwargs) -> None:
        """A literal offset such as now(none, '+1x') is checked now, not on every request."""
        if name not in _TIME_HELPERS:
            return
        index = _TIME_HELPERS[name]
        found = [(ev, tok) for key, ev, tok in kwargs if key == "offset"]
        found += [args[index]] if len(args) > index else []
        for ev, token in found:
            if _is_const(ev):
                try:
                    _offset_seconds(ev.const)
                except _Fail as exc:
                    raise self.c.error(str(exc), token[2]) from None

    def list_literal(self):
        items = []
        while not self.accept("op", "]"):
            items.append(self.expression())
            if not self.accept("op", ","):
                self.expect("op", "]")
                break
        items = tuple(items)
        return lambda scope, rs: [item(scope, rs) for item in items]

    def dict_literal(self, opener):
        pairs = []
        while not self.accept("op", "}"):
            key = self.expression()
            self.expect("op", ":")
            pairs.append((key, self.expression()))
            if not self.accept("op", ","):
                self.expect("op", "}")
                break
        pairs, where = tuple(pairs), self.where(opener)

        def ev(scope, rs):
            try:
                return {key(scope, rs): value(scope, rs) for key, value in pairs}
            except TypeError:
                raise where.error("dict keys must be text or numbers") from None
        return ev


# ---------------------------------------------------------------- statements (emitters)

def _text(text: str, where: _Where):
    n = len(text)

    def emit(scope, rs, out):
        rs.size += n
        if rs.size > MAX_OUTPUT_CHARS:
            raise where.error(_OUTPUT_LIMIT)
        out.append(text)
    return emit


def _output(ev, where: _Where):
    def emit(scope, rs, out):
        try:
            text = _to_str(ev(scope, rs))
        except _Fail as exc:
            raise where.error(str(exc)) from None
        rs.size += len(text)
        if rs.size > MAX_OUTPUT_CHARS:
            raise where.error(_OUTPUT_LIMIT)
        out.append(text)
    return emit


def _sequence_of(items: list, where: _Where):
    """One emitter for a block's items (text strings and emitters), merging adjacent text."""
    merged = []
    for item in items:
        if isinstance(item, str) and merged and isinstance(merged[-1], str):
            merged[-1] += item
        else:
            merged.append(item)
    emitters = tuple(_text(item, where) if isinstance(item, str)
                     else _output(item[1], item[2]) if isinstance(item, tuple) else item
                     for item in merged)
    if len(emitters) == 1:
        return emitters[0]

    def run(scope, rs, out):
        for emit in emitters:
            emit(scope, rs, out)
    return run


def _if_block(branches):
    def emit(scope, rs, out):
        for condition, body in branches:
            if condition is None or condition(scope, rs):
                body(scope, rs, out)
                return
    return emit


def _loop_items(value, where: _Where) -> list:
    if isinstance(value, list):
        return value
    if isinstance(value, (tuple, str)):
        return list(value)
    if isinstance(value, dict):
        return list(value.keys())
    if value is None or isinstance(value, Undefined):
        return []
    raise where.error(f"cannot loop over {_type_name(value)}")


def _for_block(targets: tuple, iterable, body, orelse, where: _Where):
    single = targets[0] if len(targets) == 1 else None

    def emit(scope, rs, out):
        items = _loop_items(iterable(scope, rs), where)
        count = len(items)
        if not count:
            if orelse is not None:
                orelse(scope, rs, out)
            return
        rs.iterations += count
        if rs.iterations > MAX_LOOP_ITERATIONS:
            raise where.error(_LOOP_LIMIT)
        for index, item in enumerate(items):
            inner = dict(scope)  # a fresh scope per iteration: {% set %} inside never leaks out
            if single is not None:
                inner[single] = item
            else:
                _unpack(inner, targets, item, where)
            inner["loop"] = _LoopInfo(index, count)
            body(inner, rs, out)
    return emit


def _unpack(scope: dict, targets: tuple, item, where: _Where) -> None:
    if not isinstance(item, (list, tuple)) or len(item) != len(targets):
        raise where.error(f"cannot unpack {_type_name(item)} into {len(targets)} names "
                          f"({', '.join(targets)}); loop over pairs, e.g. dict | items")
    scope.update(zip(targets, item))


def _set(name: str, ev):
    def emit(scope, rs, out):
        scope[name] = ev(scope, rs)
    return emit


class _Block:
    """An open ``{% if %}`` or ``{% for %}`` while compiling: its segments and where it began."""

    __slots__ = ("kind", "offset", "segments", "has_else", "targets", "iterable")

    def __init__(self, kind: str, offset: int, condition=None):
        self.kind, self.offset = kind, offset
        self.segments = [[condition, []]]  # [condition or None, items] per branch
        self.has_else = False
        self.targets = self.iterable = None

    @property
    def items(self) -> list:
        return self.segments[-1][1]


_OPEN_RE = re.compile(r"\{\{|\{%|\{#")
_ENDRAW_RE = re.compile(r"\{%(-?)\s*endraw\s*(-?)%\}")
_TAG_NAMES = ("if", "elif", "else", "endif", "for", "endfor", "set", "raw", "endraw")
_CLOSERS = {"{{": "}}", "{%": "%}"}
_PAIRS = {"(": ")", "[": "]", "{": "}"}


class _Compiler:
    """Scans template text into text, ``{{ }}``, ``{% %}`` and ``{# #}`` pieces and builds emitters."""

    def __init__(self, source: str, name: str):
        self.src, self.name = source, name
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", source)]
        self.stack = [_Block("root", 0)]
        self.bound: set[str] = {"loop"}
        self.has_set = False

    def where(self, offset: int) -> _Where:
        line = bisect.bisect_right(self.line_starts, offset)
        return _Where(line, offset - self.line_starts[line - 1] + 1, self.name)

    def error(self, message: str, offset: int) -> TemplateError:
        return self.where(offset).error(message)

    def build(self) -> list:
        src, pos, strip_next = self.src, 0, False
        while True:
            match = _OPEN_RE.search(src, pos)
            stop = match.start() if match else len(src)
            text = src[pos:stop].lstrip() if strip_next else src[pos:stop]
            if match and src.startswith("-", match.end()):
                text = text.rstrip()
            if text:
                self.stack[-1].items.append(text)
            if match is None:
                break
            pos, strip_next = self.piece(match.group(), match.start(), match.end())
        if len(self.stack) > 1:
            block = self.stack[-1]
            raise self.error(f"'{{% {block.kind} %}}' is never closed; add '{{% end{block.kind} %}}'",
                             block.offset)
        return self.stack[0].items

    def piece(self, opener: str, start: int, after: int) -> tuple[int, bool]:
        if self.src.startswith("-", after):
            after += 1
        if opener == "{#":
            end = self.src.find("#}", after)
            if end < 0:
                raise self.error("unclosed comment '{#'; add '#}' to end it", start)
            return end + 2, self.src[end - 1] == "-" and end > after
        tokens, end, strip = self.tokenize(after, _CLOSERS[opener], start)
        if opener == "{{":
            self.output(tokens, start, end)
            return end, strip
        return self.tag(tokens, start, end, strip)

    def tokenize(self, pos: int, closer: str, start: int):
        """Tokens up to ``closer`` at bracket depth 0: (kind, value, offset, raw text)."""
        src, opened, tokens = self.src, [], []  # opened: offsets of unclosed ( [ {
        while True:
            pos = _SPACE_RE.match(src, pos).end()
            if pos >= len(src):
                if opened:
                    raise self.error(f"{src[opened[-1]]!r} is never closed", opened[-1])
                raise self.error(f"unclosed '{src[start:start + 2]}'; add '{closer}' to close it "
                                 "(for literal braces use {% raw %}...{% endraw %})", start)
            if not opened and src.startswith(closer, pos):
                return tokens, pos + len(closer), False
            if not opened and src.startswith("-" + closer, pos):
                return tokens, pos + 1 + len(closer), True
            match = _TOKEN_RE.match(src, pos)
            if match is None:
                what = "unterminated string" if src[pos] in "'\"" else f"unexpected character {src[pos]!r}"
                raise self.error(what, pos)
            kind, raw = match.lastgroup, match.group()
            if kind == "op" and raw in _PAIRS:
                opened.append(pos)
            elif kind == "op" and opened and _PAIRS[src[opened[-1]]] == raw:
                opened.pop()
            tokens.append((kind, self.token_value(kind, raw, pos), pos, raw))
            pos = match.end()

    def token_value(self, kind: str, raw: str, pos: int):
        try:
            if kind == "int":
                return int(raw)
            if kind == "float":
                return float(raw)
        except ValueError:  # more digits than int() accepts
            raise self.error("number too long", pos) from None
        return _unescape(raw[1:-1]) if kind == "str" else raw

    def output(self, tokens: list, start: int, end: int) -> None:
        if not tokens:
            raise self.error("empty '{{ }}': put an expression between the braces", start)
        parser = _ExprParser(self, tokens, end - 2)
        ev = parser.expression()
        parser.done()
        self.stack[-1].items.append(("out", ev, self.where(start)))

    def tag(self, tokens: list, start: int, end: int, strip: bool) -> tuple[int, bool]:
        if not tokens or tokens[0][0] != "name":
            found = _describe(tokens[0]) if tokens else "nothing"
            raise self.error(f"expected a tag name after '{{%', found {found}", start)
        name = tokens[0][1]
        handler = getattr(self, f"tag_{name}", None) if name in _TAG_NAMES else None
        if handler is None:
            hint = _suggest(name, _TAG_NAMES) or f"; the tags are {', '.join(_TAG_NAMES)}"
            raise self.error(f"unknown tag {name!r}{hint}", tokens[0][2])
        parser = _ExprParser(self, tokens[1:], end - 2)
        return handler(parser, start, end, strip) or (end, strip)

    def push(self, block: _Block) -> None:
        if len(self.stack) > MAX_NESTING:
            raise self.error(f"blocks nested too deeply (more than {MAX_NESTING} levels)", block.offset)
        self.stack.append(block)

    def top(self, kinds: tuple, tag: str, start: int) -> _Block:
        block = self.stack[-1]
        if block.kind in kinds:
            return block
        if block.kind == "root":
            wanted = " or ".join(f"'{{% {k} %}}'" for k in kinds)
            raise self.error(f"'{{% {tag} %}}' has no matching {wanted}", start)
        opened = self.where(block.offset)
        raise self.error(f"'{{% {tag} %}}' found, but the innermost open block is "
                         f"'{block.kind}' (line {opened.line}, col {opened.col}); close it with "
                         f"'{{% end{block.kind} %}}' first", start)

    # -- tags: each gets the parser over the tokens after the tag name
    def tag_if(self, parser, start, end, strip):
        condition = parser.expression()
        parser.done()
        self.push(_Block("if", start, condition))

    def tag_elif(self, parser, start, end, strip):
        block = self.top(("if",), "elif", start)
        if block.has_else:
            raise self.error("'{% elif %}' cannot follow '{% else %}'; move it before the else", start)
        condition = parser.expression()
        parser.done()
        block.segments.append([condition, []])

    def tag_else(self, parser, start, end, strip):
        parser.done("'else'")
        block = self.top(("if", "for"), "else", start)
        if block.has_else:
            raise self.error(f"a second '{{% else %}}' in one '{{% {block.kind} %}}' block", start)
        block.has_else = True
        block.segments.append([None, []])

    def tag_endif(self, parser, start, end, strip):
        parser.done("'endif'")
        block = self.top(("if",), "endif", start)
        self.stack.pop()
        where = self.where(start)
        branches = tuple((cond, _sequence_of(items, where)) for cond, items in block.segments)
        self.stack[-1].items.append(_if_block(branches))

    def tag_for(self, parser, start, end, strip):
        targets = [self.target(parser)]
        while parser.accept("op", ","):
            targets.append(self.target(parser))
        parser.expect("name", "in")
        block = _Block("for", start)
        block.targets, block.iterable = tuple(targets), parser.expression()
        parser.done()
        self.bound.update(targets)
        self.push(block)

    def target(self, parser) -> str:
        token = parser.take()
        if token[0] != "name" or token[1] in _KEYWORDS or token[1] in _CONSTANTS:
            raise self.error(f"expected a variable name, found {_describe(token)}", token[2])
        if token[1][:1] == "_":
            raise self.error(_private_message(token[1]), token[2])
        return token[1]

    def tag_endfor(self, parser, start, end, strip):
        parser.done("'endfor'")
        block = self.top(("for",), "endfor", start)
        self.stack.pop()
        where = self.where(block.offset)
        body = _sequence_of(block.segments[0][1], where)
        orelse = _sequence_of(block.segments[1][1], where) if block.has_else else None
        self.stack[-1].items.append(_for_block(block.targets, block.iterable, body, orelse, where))

    def tag_set(self, parser, start, end, strip):
        name = self.target(parser)
        parser.expect("op", "=")
        ev = parser.expression()
        parser.done()
        self.bound.add(name)
        self.has_set = True
        self.stack[-1].items.append(_set(name, ev))

    def tag_raw(self, parser, start, end, strip):
        parser.done("'raw'")
        match = _ENDRAW_RE.search(self.src, end)
        if match is None:
            raise self.error("'{% raw %}' is never closed; add '{% endraw %}'", start)
        text = self.src[end:match.start()]
        text = text.lstrip() if strip else text
        text = text.rstrip() if match.group(1) else text
        if text:
            self.stack[-1].items.append(text)
        return match.end(), bool(match.group(2))

    def tag_endraw(self, parser, start, end, strip):
        raise self.error("'{% endraw %}' has no matching '{% raw %}'", start)


# ---------------------------------------------------------------- public API

def has_template_syntax(text) -> bool:
    """True when ``text`` contains ``{{``, ``{%`` or ``{#`` (and so needs compiling)."""
    return isinstance(text, str) and ("{{" in text or "{%" in text or "{#" in text)


class Template:
    """A compiled template. ``render`` gives text; ``render_value`` keeps the type of a
    template that is exactly one ``{{ expr }}``. Safe to share between threads."""

    __slots__ = ("source", "name", "is_static", "_run", "_single", "_copy")

    def __init__(self, source: str, name: str, items: list | None, copy_scope: bool = False):
        self.source, self.name = source, name
        self.is_static = items is None
        self._copy = copy_scope
        self._single = items[0][1:] if items and len(items) == 1 and isinstance(items[0], tuple) else None
        self._run = _sequence_of(items, _Where(1, 1, name)) if items else None

    @property
    def is_single_expression(self) -> bool:
        return self._single is not None

    def render(self, context: dict | None = None, env: RenderEnv | None = None) -> str:
        """The text; raises ``TemplateError`` (with line/col) when rendering fails."""
        if self.is_static:
            return self.source
        return self._guard(self._text, context, _RenderState(env))

    def render_value(self, context: dict | None = None, env: RenderEnv | None = None):
        """The value of a single-expression template as JSON-like data, else the text."""
        if self._single is None:
            return self.render(context, env)
        return self._guard(self._value, context, _RenderState(env))

    def _guard(self, fn, context, rs):
        try:
            return fn(context if context is not None else {}, rs)
        except RecursionError:
            raise TemplateError("data or template nested too deeply to render", 1, 1, self.name) from None

    def _text(self, context: dict, rs: _RenderState) -> str:
        if self._run is None:
            return ""
        out = []
        self._run(dict(context) if self._copy else context, rs, out)
        return out[0] if len(out) == 1 else "".join(out)

    def _value(self, context: dict, rs: _RenderState):
        ev, where = self._single
        value = ev(context, rs)
        if type(value) is str:
            rs.size += len(value)
        else:
            rs.size += _measure(value, MAX_OUTPUT_CHARS - rs.size + 1)
        if rs.size > MAX_OUTPUT_CHARS:
            raise where.error(_OUTPUT_LIMIT)
        return _plain(value)

    def __repr__(self) -> str:
        return f"Template({self.name!r}, {self.source[:40]!r})"


def compile_template(source: str, name: str = "template") -> Template:
    """Compile ``source``; ``TemplateError`` (1-based line/col, ``source_name=name``) if it is wrong.

    >>> compile_template("{% if x %}yes{% endiff %}", "greeting")
    Traceback (most recent call last):
      ...
    pymock.errors.TemplateError: greeting:1:17: unknown tag 'endiff' (did you mean 'endif'?)
    """
    if not isinstance(source, str):
        raise TemplateError(f"a template must be text, got {_type_name(source)}", 1, 1, name)
    if not has_template_syntax(source):
        return Template(source, name, None)
    compiler = _Compiler(source, name)
    try:
        items = compiler.build()
    except RecursionError:  # pragma: no cover - MAX_NESTING stops this first
        raise TemplateError("template nested too deeply", 1, 1, name) from None
    return Template(source, name, items, compiler.has_set)


class BodyTemplate:
    """A JSON-like body whose strings (values and keys) are templates.

    ``render`` returns a new JSON-like value; static parts are shared with the source value
    (don't mutate the result).
    """

    __slots__ = ("value", "name", "is_static", "_build")

    def __init__(self, value, name: str, build):
        self.value, self.name, self._build = value, name, build
        self.is_static = build is None

    def render(self, context: dict | None = None, env: RenderEnv | None = None):
        if self._build is None:
            return self.value
        rs = _RenderState(env)
        try:
            return self._build(context if context is not None else {}, rs)
        except RecursionError:
            raise TemplateError("data nested too deeply to render", 1, 1, self.name) from None


def _child_name(path: str, key) -> str:
    if isinstance(key, str) and key.isidentifier():
        return f"{path}.{key}"
    return f"{path}[{json.dumps(key)}]"


def _compile_part(value, path: str):
    """A builder ``fn(scope, rs) -> value`` for a dynamic part, or None for a static one."""
    if isinstance(value, str):
        if not has_template_syntax(value):
            return None
        template = compile_template(value, path)
        if template._single is not None:
            return template._value
        return lambda scope, rs: template._text(scope, rs)
    if isinstance(value, dict):
        return _compile_dict(value, path)
    if isinstance(value, (list, tuple)):
        parts = [(item, _compile_part(item, f"{path}[{i}]")) for i, item in enumerate(value)]
        if all(build is None for _, build in parts):
            return None
        return lambda scope, rs: [item if build is None else build(scope, rs) for item, build in parts]
    return None


def _compile_dict(value: dict, path: str):
    parts, dynamic = [], False
    for key, item in value.items():
        child = _child_name(path, key)
        key_build = None
        if has_template_syntax(key):
            template = compile_template(key, f"{child} (key)")
            key_build = template._text
        build = _compile_part(item, child)
        dynamic = dynamic or key_build is not None or build is not None
        parts.append((key, key_build, item, build))
    if not dynamic:
        return None

    def build_dict(scope, rs):
        return {key if key_build is None else key_build(scope, rs):
                item if build is None else build(scope, rs)
                for key, key_build, item, build in parts}
    return build_dict


def compile_body(value, name: str = "body") -> BodyTemplate:
    """Compile every template string inside a JSON-like ``value``.

    A string that is exactly one ``{{ expr }}`` keeps the type of its value; other strings
    render to text. Error names point into the value, e.g. ``body.items[0].name``.
    """
    return BodyTemplate(value, name, _compile_part(value, name))


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
