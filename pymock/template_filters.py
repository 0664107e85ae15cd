"""Template filters (``value | name(args)``), helper functions (``name(args)``) and time.

Filters take the value first, helpers take the render env (clock, rng, counters) first; the
two tables map a template name to a plain function, and ``_SIGNATURES`` lets the expression
parser check call arguments once, when a template compiles. A function reports a problem the
template author can fix by raising ``_Fail``; the node that called it adds the position. Time
offsets (``'+1d'``) and formats (``iso``, ``http``, strftime) for ``now()`` and ``| date`` are
here too.

>>> _FILTERS["truncate"]("hello world", 8), _FILTERS["int"]("4.7"), _format_time(0.0, "http")
('hello...', 4, 'Thu, 01 Jan 1970 00:00:00 GMT')

Part of the template engine; ``templates`` is its public face. Names with a leading underscore
are shared between the ``template_*`` modules only. Pure (layer 0): imports only the standard
library and ``template_runtime``; never the nodes, parsers or ``templates`` (they import this).
Nothing here reads the system clock or global randomness: helpers use ``env.clock`` and
``env.rng``.
"""

from __future__ import annotations

import base64
import inspect
import json
import math
import re
import time
import uuid as _uuid
from datetime import datetime, timezone
from email.utils import formatdate
from urllib.parse import quote, urlencode

from .template_runtime import (
    _MISSING, _OUTPUT_LIMIT, MAX_LOOP_ITERATIONS, MAX_OUTPUT_CHARS, Undefined, _dumps, _Fail, _lookup,
    _plain, _private_message, _to_str, _type_name,
)

__all__ = [
    "FILTER_NAMES", "HELPER_NAMES", "_FILTERS", "_HELPERS", "_TIME_HELPERS", "_SIGNATURES",
    "_params_text", "_offset_seconds",
]


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
_SIGNATURES = {("filter", name): inspect.signature(fn) for name, fn in _FILTERS.items()}
_SIGNATURES.update({("function", name): inspect.signature(fn) for name, fn in _HELPERS.items()})


def _params_text(signature) -> str:
    return ", ".join(str(p) for p in list(signature.parameters.values())[1:])
