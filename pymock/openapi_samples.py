"""Values that satisfy a JSON Schema: what a mock sends when a spec gives no example.

Layer 1 (it reads the bundled document through ``openapi.node_at``); no I/O, no threads. Must
not import ``config``, ``engine`` or ``app``. Static values (no ``rng``) are the same on every
run; with an injected ``random.Random`` they vary within the schema (``Prefer: dynamic=true``).

>>> Sampler({}).value({"type": "object", "required": ["id"], "properties": {
...     "id": {"type": "integer", "minimum": 1}, "at": {"type": "string", "format": "date-time"}}})
{'id': 1, 'at': '2024-01-15T09:30:00Z'}
>>> pattern_sample("^[A-Z]{2}-[0-9]{3}$")
'AA-000'
"""

from __future__ import annotations

import copy
import functools
import re

from .openapi import Spec, node_at

try:  # the regex parser behind ``re``: used to build a string that matches a pattern
    from re import _parser as _sre
except ImportError:  # pragma: no cover - Python 3.10
    import sre_parse as _sre

__all__ = ["Sampler", "sample", "pattern_sample"]

_FORMATS = {
    "date-time": "2024-01-15T09:30:00Z", "date": "2024-01-15", "time": "09:30:00Z",
    "duration": "P1D", "email": "user@example.com", "idn-email": "user@example.com",
    "hostname": "example.com", "idn-hostname": "example.com", "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1", "uri": "https://example.com/", "url": "https://example.com/",
    "iri": "https://example.com/", "uri-reference": "/example", "iri-reference": "/example",
    "uri-template": "/example/{id}", "uuid": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
    "byte": "c3RyaW5n", "binary": "string", "password": "string", "regex": "^.*$",
    "json-pointer": "/example", "relative-json-pointer": "0", "int32": 0, "int64": 0,
}
_WORDS = ("alpha", "bravo", "cedar", "delta", "ember", "falcon", "harbor", "indigo", "juniper",
          "kestrel", "lumen", "maple", "nova", "orbit", "pebble", "quill", "river", "summit")
_CYCLE = object()


class Sampler:
    """Builds a value that satisfies a schema. Static (no ``rng``) is deterministic."""

    def __init__(self, document, *, rng=None, direction: str = "response", full_depth: int = 4,
                 max_depth: int = 12):
        self.document, self.rng, self.direction = document, rng, direction
        self.full_depth, self.max_depth = full_depth, max_depth
        self._memo: dict = {}   # static values by (ref, depth): big specs reuse schemas a lot

    def value(self, schema, depth: int = 0, stack: tuple = ()):
        if depth > self.max_depth:
            return _CYCLE   # as deep as a cycle: an optional property is left out
        if not isinstance(schema, dict):
            return None
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#"):
            if ref in stack:
                return _CYCLE
            if self.rng is None and (ref, depth) in self._memo:
                return self._memo[(ref, depth)]
            try:
                target = node_at(self.document, ref[1:])
            except KeyError:
                return None
            subtype = _first_subtype(target, ref)
            if subtype is not None and subtype not in stack:
                try:
                    ref, target = subtype, node_at(self.document, subtype[1:])
                except KeyError:
                    pass
            value = self.value(target, depth, stack + (ref,))
            if self.rng is None:
                self._memo[(ref, depth)] = value
            return value
        found = self._given(schema)
        if found is not _CYCLE:
            return found
        if "allOf" in schema:
            return self._object_or(self._merge(schema, stack), depth, stack)
        for key in ("oneOf", "anyOf"):
            if isinstance(schema.get(key), list) and schema[key]:
                return self._branch(schema, key, depth, stack)
        return self._typed(schema, _type_of(schema, self.rng), depth, stack)

    def _given(self, schema: dict):
        """A value the schema states (const, example, default, enum), or _CYCLE when none."""
        if "const" in schema:
            return schema["const"]
        if self.rng is None:
            stated = [schema[k] for k in ("example", "default") if k in schema]
            if isinstance(schema.get("examples"), list):
                stated[1:1] = schema["examples"][:1]
            for value in stated:   # a spec's example can break its own schema: then generate
                if _fits(value, schema):
                    return value
        enum = schema.get("enum")
        if isinstance(enum, list) and enum:
            usable = [v for v in enum if v is not None and _fits(v, schema)] or [v for v in enum if v is not None] or enum
            return self.rng.choice(usable) if self.rng else usable[0]
        return _CYCLE

    def _merge(self, schema: dict, stack: tuple) -> dict:
        """allOf flattened into one schema: properties and required merged, first type wins."""
        merged = {k: v for k, v in schema.items() if k != "allOf"}
        merged["properties"] = dict(merged.get("properties") or {})
        required = list(merged.get("required") or [])
        for part in schema.get("allOf") or []:
            part = self._deref(part, stack)
            if "allOf" in part:
                part = self._merge(part, stack)
            for key, value in part.items():
                if key == "properties" and isinstance(value, dict):
                    merged["properties"].update(value)
                elif key == "required" and isinstance(value, list):
                    required += [r for r in value if r not in required]
                else:
                    merged.setdefault(key, value)
        merged["required"] = required
        return merged

    def _deref(self, schema, stack: tuple) -> dict:
        seen = set(stack)
        while isinstance(schema, dict) and isinstance(schema.get("$ref"), str) and schema["$ref"] not in seen:
            seen.add(schema["$ref"])
            try:
                schema = node_at(self.document, schema["$ref"][1:])
            except KeyError:
                return {}
        return schema if isinstance(schema, dict) and "$ref" not in schema else {}

    def _object_or(self, merged: dict, depth: int, stack: tuple):
        found = self._given(merged)
        if found is not _CYCLE:
            return found
        if any(k in merged for k in ("oneOf", "anyOf")):
            return self._branch(merged, "oneOf" if "oneOf" in merged else "anyOf", depth, stack)
        return self._typed(merged, _type_of(merged, self.rng), depth, stack)

    def _branch(self, schema: dict, key: str, depth: int, stack: tuple):
        options = [b for b in schema[key] if not (isinstance(b, dict) and b.get("type") == "null")] \
            or schema[key]
        chosen = self.rng.choice(options) if self.rng else options[0]
        value = self.value(chosen, depth, stack)
        rest = {k: v for k, v in schema.items() if k not in (key, "discriminator")}
        if isinstance(value, dict) and rest.get("properties"):
            base = self._typed(rest, "object", depth, stack)
            value = {**base, **value} if isinstance(base, dict) else value
        return self._discriminate(schema, chosen, value)

    def _discriminate(self, schema: dict, chosen, value):
        disc = schema.get("discriminator")
        if not (isinstance(disc, dict) and isinstance(value, dict) and isinstance(chosen, dict)):
            return value
        name, ref = disc.get("propertyName"), chosen.get("$ref")
        if isinstance(name, str) and isinstance(ref, str):
            mapping = disc.get("mapping") if isinstance(disc.get("mapping"), dict) else {}
            label = next((k for k, v in mapping.items() if v == ref), None)
            if label is not None or value.get(name, "string") == "string":
                # a new dict: static values are shared (memo)
                value = {**value, name: label or ref.rpartition("/")[2]}
        return value

    def _typed(self, schema: dict, kind, depth: int, stack: tuple):
        if kind == "object":
            value = self._object(schema, depth, stack)
            disc = schema.get("discriminator")
            name = disc.get("propertyName") if isinstance(disc, dict) else disc if isinstance(disc, str) else None
            if isinstance(name, str) and stack and value.get(name, "string") == "string":
                # Inheritance: the value names its own type (the schema it was reached through).
                value[name] = _own_name(disc, stack[-1])
            return value
        if kind == "array":
            return self._array(schema, depth, stack)
        if kind == "string":
            return self._string(schema)
        if kind in ("integer", "number"):
            return self._number(schema, kind)
        if kind == "boolean":
            return self.rng.random() < 0.5 if self.rng else True
        return None

    def _object(self, schema: dict, depth: int, stack: tuple) -> dict:
        props = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
        required = schema.get("required") if isinstance(schema.get("required"), list) else []
        hidden = "readOnly" if self.direction == "request" else "writeOnly"
        out = {}
        for name, sub in props.items():
            keep = name in required or (depth < self.full_depth and (self.rng is None or self.rng.random() < 0.8))
            if not keep or self._flag(sub, hidden, stack):
                continue
            value = self.value(sub, depth + 1, stack)
            if value is _CYCLE:
                if name not in required:
                    continue
                value = {}
            out[name] = value
        for name in required:
            if isinstance(name, str) and name not in out and name not in props:
                out[name] = "string"
        extra = schema.get("additionalProperties")
        if not props and isinstance(extra, dict) and extra and depth < self.full_depth:
            value = self.value(extra, depth + 1, stack)
            if value is not _CYCLE:
                out["key"] = value
        return out

    def _flag(self, sub, flag: str, stack: tuple) -> bool:
        if not isinstance(sub, dict):
            return False
        return sub.get(flag) is True or self._deref(sub, stack).get(flag) is True

    def _array(self, schema: dict, depth: int, stack: tuple) -> list:
        items = schema.get("items")
        prefix = schema.get("prefixItems") if isinstance(schema.get("prefixItems"), list) else []
        low = schema.get("minItems") if isinstance(schema.get("minItems"), int) else 0
        high = schema.get("maxItems") if isinstance(schema.get("maxItems"), int) else None
        count = max(low, 1 if not self.rng else self.rng.randint(1, 3))
        count = min(count, high) if high is not None else count
        out = [self.value(p, depth + 1, stack) for p in prefix[:count]]
        if isinstance(items, dict) and len(out) < count:
            first = self.value(items, depth + 1, stack)
            if first is _CYCLE:
                return out if len(out) >= low else out + [{}] * (low - len(out))
            out.append(first)
            while len(out) < count:
                if self.rng is not None or schema.get("uniqueItems"):
                    value = self.value(items, depth + 1, stack)
                    out.append(_vary(value, len(out)) if schema.get("uniqueItems") else value)
                else:
                    out.append(copy.deepcopy(first))
        return [None if v is _CYCLE else v for v in out]

    def _string(self, schema: dict) -> str:
        fmt, pattern = schema.get("format"), schema.get("pattern")
        if isinstance(pattern, str):
            text = pattern_sample(pattern, self.rng)
            if text is not None:
                return text
        if fmt in _FORMATS and isinstance(_FORMATS[fmt], str):
            text = _FORMATS[fmt]
        else:
            text = self.rng.choice(_WORDS) if self.rng else "string"
        low = schema.get("minLength") if isinstance(schema.get("minLength"), int) else 0
        high = schema.get("maxLength") if isinstance(schema.get("maxLength"), int) else None
        if len(text) < low:
            text = (text * (low // max(len(text), 1) + 1))[:max(low, 1)] if text else "a" * low
        return text[:high] if high is not None else text

    def _number(self, schema: dict, kind: str):
        low, high = _bounds(schema, kind)
        if self.rng is not None:
            lo = low if low is not None else (high - 100 if high is not None else 0)
            hi = high if high is not None else lo + 100
            value = self.rng.randint(int(lo), int(hi)) if kind == "integer" and int(lo) <= int(hi) \
                else round(self.rng.uniform(lo, hi), 2)
        else:
            value = low if low is not None else (min(high, 0) if high is not None else 0)
        step = schema.get("multipleOf")
        if isinstance(step, (int, float)) and not isinstance(step, bool) and step > 0:
            value = -(-value // step) * step
            if high is not None and value > high:
                value -= step
        if kind == "integer" or (isinstance(value, float) and value.is_integer() and abs(value) < 2 ** 53):
            return int(value)
        return value


_JSON_TYPES = {str: "string", bool: "boolean", int: "integer", float: "number", list: "array",
               dict: "object", type(None): "null"}


def _fits(value, schema: dict) -> bool:
    """A shallow check that a stated value suits its schema (type, enum, format, bounds)."""
    kinds = schema.get("type")
    kinds = set(kinds) if isinstance(kinds, list) else {kinds} if isinstance(kinds, str) else set()
    if schema.get("nullable") is True or schema.get("x-nullable") is True:
        kinds.add("null")
    kind = _JSON_TYPES.get(type(value))
    if kinds and kind not in kinds and not (kind == "integer" and "number" in kinds):
        return False
    if isinstance(schema.get("enum"), list) and value not in schema["enum"]:
        return False
    if isinstance(value, str):
        return _fits_string(value, schema)
    if _is_number(value):
        low, high = _bounds(schema, "number")
        return (low is None or value >= low) and (high is None or value <= high)
    return True


def _fits_string(value: str, schema: dict) -> bool:
    from .formats import format_checker
    check = format_checker(schema["format"]) if isinstance(schema.get("format"), str) else None
    if check is not None and not check(value):
        return False
    low, high = schema.get("minLength"), schema.get("maxLength")
    return (not isinstance(low, int) or len(value) >= low) and (not isinstance(high, int) or len(value) <= high)


def _bounds(schema: dict, kind: str):
    tiny = 1 if kind == "integer" else 0.01
    low, high = schema.get("minimum"), schema.get("maximum")
    low = low if _is_number(low) else None
    high = high if _is_number(high) else None
    ex_low, ex_high = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    if ex_low is True and low is not None:
        low += tiny
    elif _is_number(ex_low):
        low = max(low, ex_low + tiny) if low is not None else ex_low + tiny
    if ex_high is True and high is not None:
        high -= tiny
    elif _is_number(ex_high):
        high = min(high, ex_high - tiny) if high is not None else ex_high - tiny
    if kind == "integer":
        low = None if low is None else -(-low // 1)
        high = None if high is None else high // 1
    return low, high


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _type_of(schema: dict, rng) -> str | None:
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"] or kind
        kind = kinds[0] if kinds else None
    if isinstance(kind, str):
        return kind
    if any(k in schema for k in ("properties", "additionalProperties", "required")):
        return "object"
    if "items" in schema or "prefixItems" in schema:
        return "array"
    if any(k in schema for k in ("format", "pattern", "minLength", "maxLength")):
        return "integer" if schema.get("format") in ("int32", "int64") else "string"
    if any(k in schema for k in ("minimum", "maximum", "multipleOf")):
        return "number"
    return None


def _first_subtype(schema, ref: str) -> str | None:
    """A base schema with a discriminator mapping is sent as its first mapped subtype, as a
    real API would (the base alone rarely satisfies the discriminator)."""
    if not isinstance(schema, dict) or "oneOf" in schema or "anyOf" in schema:
        return None
    disc = schema.get("discriminator")
    mapping = disc.get("mapping") if isinstance(disc, dict) else None
    if not isinstance(mapping, dict):
        return None
    for target in mapping.values():
        if isinstance(target, str) and target.startswith("#/") and target != ref:
            return target
    return None


def _own_name(disc, ref: str) -> str:
    mapping = disc.get("mapping") if isinstance(disc, dict) and isinstance(disc.get("mapping"), dict) else {}
    return next((k for k, v in mapping.items() if v == ref), ref.rpartition("/")[2])


def _vary(value, index: int):
    if isinstance(value, str):
        return f"{value}{index}"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value + index
    return value


def pattern_sample(pattern: str, rng=None) -> str | None:
    """A string matching the ECMA-262 ``pattern`` (shortest by default), or None if unsure."""
    return _static_pattern(pattern) if rng is None else _pattern_sample(pattern, rng)


@functools.lru_cache(maxsize=1024)
def _static_pattern(pattern: str) -> str | None:
    return _pattern_sample(pattern, None)


def _pattern_sample(pattern: str, rng) -> str | None:
    from .formats import ecma_regex
    try:
        compiled = ecma_regex(pattern)
        text = _emit(_sre.parse(compiled.pattern), rng, 0)
    except (re.error, ValueError, RecursionError, IndexError, TypeError):
        return None
    return text if compiled.search(text) else None


def _emit(parsed, rng, depth: int) -> str:
    out = []
    for op, arg in parsed:
        name = str(op)
        if name == "LITERAL":
            out.append(chr(arg))
        elif name in ("ANY", "NOT_LITERAL"):
            out.append("a" if name == "ANY" or arg != ord("a") else "b")
        elif name == "IN":
            out.append(_class_char(arg))
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, high, sub = arg
            times = low if rng is None else rng.randint(low, min(high, low + 3))
            out.append("".join(_emit(sub, rng, depth + 1) for _ in range(max(times, 0))))
        elif name == "SUBPATTERN":
            out.append(_emit(arg[-1], rng, depth + 1))
        elif name == "BRANCH":
            branches = arg[1]
            out.append(_emit(branches[0] if rng is None else rng.choice(branches), rng, depth + 1))
        elif name == "CATEGORY":
            out.append(_category_char(arg))
        elif name in ("AT", "ASSERT", "ASSERT_NOT"):
            continue
        else:
            raise ValueError(f"cannot sample {name}")
    return "".join(out)


def _class_char(items) -> str:
    negated = any(str(op) == "NEGATE" for op, _ in items)
    if negated:
        return "~" if not any(str(op) == "LITERAL" and arg == ord("~") for op, arg in items) else "!"
    for op, arg in items:
        name = str(op)
        if name == "LITERAL":
            return chr(arg)
        if name == "RANGE":
            return chr(arg[0])
        if name == "CATEGORY":
            return _category_char(arg)
    raise ValueError("empty class")


def _category_char(category) -> str:
    name = str(category)
    if "NOT" in name:
        return "-" if "DIGIT" in name or "WORD" in name else "a"
    return {"CATEGORY_DIGIT": "0", "CATEGORY_SPACE": " "}.get(name, "a")


def sample(spec: Spec, pointer: str | None, *, direction: str = "response", rng=None):
    """The value for the schema at ``pointer`` in ``spec`` (None when there is no schema)."""
    if pointer is None:
        return None
    try:
        schema = spec.node(pointer)
    except KeyError:
        return None
    value = Sampler(spec.document, rng=rng, direction=direction).value(schema)
    return None if value is _CYCLE else value

