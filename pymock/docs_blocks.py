"""The intermediate blocks both documentation renderers share, and the value helpers they use.

Layer 0 (pure): the ``Block`` list that ``docs_builder._Builder`` produces from a ``SpecModel`` and
``docs.py`` (Markdown) and ``docs_html.py`` (HTML) render; plus the small formatters the builder
needs (type and constraint text, the plain-words summary of a mock, JSON text) and ``_Sampler``,
a deterministic example value for a schema.

>>> _Sampler(SpecModel({"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {}})).sample(
...     {"type": "object", "properties": {"id": {"type": "integer"}, "at": {"type": "string", "format": "date"}}})
{'id': 0, 'at': '2024-01-15'}

Must not import ``docs``, ``docs_builder`` or ``docs_html`` (they import this), any higher pymock
layer, sockets, threads or file-reading modules.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from http import HTTPStatus

from .specdiff import SpecModel

__all__ = ["DEFAULT_BASE_URL", "Code", "Link", "Strong", "Prose", "Block"]

DEFAULT_BASE_URL = "http://127.0.0.1:8080"


# ---------------------------------------------------------------- the intermediate blocks

# ---------------------------------------------------------------- the intermediate blocks

@dataclass(frozen=True)
class Code:
    text: str


@dataclass(frozen=True)
class Link:
    text: str
    href: str


@dataclass(frozen=True)
class Strong:
    text: str


@dataclass(frozen=True)
class Prose:
    """Text written by the spec's author (CommonMark): a safe subset is rendered."""

    text: str


@dataclass
class Block:
    kind: str                       # heading, para, table, code, list, toc, note
    level: int = 0
    parts: list = field(default_factory=list)   # inline items (str, Code, Link, Strong, Prose)
    anchor: str = ""
    rows: list = field(default_factory=list)    # table rows / list items / toc entries
    headers: list = field(default_factory=list)
    lang: str = ""
    text: str = ""


def _inline(*parts) -> list:
    return [p for p in parts if p not in ("", None)]


# ---------------------------------------------------------------- links (shared by both renderers)

_LINK = re.compile(r"\[([^\]]+)\]\(((?:[^()\s]|\([^()\s]*\))+)\)")   # one level of () in the target


def _safe_href(href: str) -> str | None:
    href = href.strip()
    if href.startswith("#") or re.match(r"^(https?:|mailto:)", href, re.I):
        return href
    return None


# ---------------------------------------------------------------- values

def _text(value) -> str:
    return value if isinstance(value, str) else ""


def _phrase(status: str) -> str:
    try:
        return HTTPStatus(int(status)).phrase
    except ValueError:
        return {"default": "(any other status)"}.get(status.lower(), "")


def _types_text(schema: dict) -> str:
    value = schema.get("type")
    if isinstance(value, list):
        return " | ".join(str(v) for v in value)
    if isinstance(value, str):
        return value
    if "properties" in schema:
        return "object"
    if "items" in schema:
        return "array"
    return "any" if not (schema.get("oneOf") or schema.get("anyOf")) else ""


_CONSTRAINTS = (("minimum", "min"), ("maximum", "max"), ("exclusiveMinimum", "exclusive min"),
                ("exclusiveMaximum", "exclusive max"), ("minLength", "min length"),
                ("maxLength", "max length"), ("minItems", "min items"), ("maxItems", "max items"),
                ("pattern", "pattern"), ("multipleOf", "multiple of"))


def _constraints(schema: dict) -> list:
    parts = []
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        parts.append("One of ")
        for index, value in enumerate(enum[:20]):
            parts += ([", "] if index else []) + [Code(_json_inline(value))]
        parts.append(", …. " if len(enum) > 20 else ". ")
    if "default" in schema:
        parts += ["Default ", Code(_json_inline(schema["default"])), ". "]
    for keyword, word in _CONSTRAINTS:
        value = schema.get(keyword)
        if value is not None and not isinstance(value, bool):
            parts += [f"{word.capitalize()} ", Code(str(value) if keyword == "pattern" else _json_inline(value)), ". "]
    if "example" in schema and not isinstance(schema["example"], (dict, list)):
        parts += ["Example ", Code(_json_inline(schema["example"])), ". "]
    if parts and isinstance(parts[-1], str):
        parts[-1] = parts[-1].rstrip()
    return parts


def _merge_all_of(schema: dict, deref) -> dict:
    parts = schema.get("allOf")
    if not isinstance(parts, list):
        return schema
    merged = {k: v for k, v in schema.items() if k != "allOf"}
    properties, required = dict(merged.get("properties") or {}), list(merged.get("required") or [])
    for part in parts:
        resolved = _merge_all_of(deref(part), deref) if deref(part) is not schema else {}
        for name, value in (resolved.get("properties") or {}).items():
            properties.setdefault(name, value)
        required += [r for r in resolved.get("required") or [] if r not in required]
        for key, value in resolved.items():
            if key not in ("properties", "required"):
                merged.setdefault(key, value)
    if properties:
        merged["properties"] = properties
        merged.setdefault("type", "object")
    if required:
        merged["required"] = required
    return merged


def _json_inline(value) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=False)


def _json_text(value) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False)


def _mock_lines(mock: dict) -> list:
    """What one mock endpoint does, in plain words: the happy path and every error path."""
    ident = str(mock.get("id") or mock.get("name") or mock.get("path"))
    lines = [_inline("Mock ", Code(ident), f" answers {mock.get('status', 200)}",
                     f" after {_latency(mock['latency_ms'])}" if mock.get("latency_ms") else "",
                     " (disabled)" if mock.get("enabled") is False else "")]
    match = mock.get("match")
    if isinstance(match, dict) and match:
        lines.append(_inline("Only when the request matches ", Code(_json_inline(match))))
    rate = mock.get("failure_rate")
    if isinstance(rate, (int, float)) and rate:
        failure = mock.get("failure") if isinstance(mock.get("failure"), dict) else {}
        lines.append(_inline(f"Fails {rate:.0%} of requests with status {failure.get('status', 500)}",
                             f" (fault {failure['fault']})" if failure.get("fault") else ""))
    if mock.get("fault"):
        lines.append(_inline("Answers with the connection fault ", Code(str(mock["fault"]))))
    variants = mock.get("variants")
    if isinstance(variants, list) and variants:
        shares = [f"{v.get('weight', 1)}× status {v.get('status', 200)}" + (f" (fault {v['fault']})" if v.get("fault") else "")
                  for v in variants if isinstance(v, dict)]
        lines.append(_inline("Weighted variants: " + ", ".join(shares)))
    sequence = mock.get("sequence")
    steps = sequence.get("responses") if isinstance(sequence, dict) else sequence
    if isinstance(steps, list) and steps:
        end = sequence.get("end", "loop") if isinstance(sequence, dict) else "loop"
        chain = " → ".join(str(s.get("status", 200)) if isinstance(s, dict) else "?" for s in steps)
        lines.append(_inline(f"Sequence of answers: {chain} (then {'repeats the last' if end == 'stay' else 'starts over'})"))
    others = mock.get("responses")
    if isinstance(others, list) and others:
        codes = ", ".join(str(r.get("status")) for r in others if isinstance(r, dict) and r.get("status"))
        if codes:
            lines.append(_inline("Other declared answers: ", codes, " (pick one with ", Code("Prefer: code=…"), ")"))
    if mock.get("mode") and mock.get("mode") != "mock":
        lines.append(_inline(f"Mode {mock['mode']}", f": upstream {mock['upstream']}" if mock.get("upstream") else ""))
    return lines


def _form_text(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _latency(value) -> str:
    if isinstance(value, dict):
        if "min" in value:
            return f"{value.get('min')}–{value.get('max')} ms"
        return f"about {value.get('median')} ms"
    return f"{value} ms"


class _Sampler:
    """A small deterministic example value for a schema (used when the spec gives none)."""

    _FORMATS = {"date-time": "2024-01-15T09:30:00Z", "date": "2024-01-15", "email": "user@example.com",
                "uuid": "3fa85f64-5717-4562-b3fc-2c963f66afa6", "uri": "https://example.com/",
                "ipv4": "192.0.2.1", "byte": "c3RyaW5n"}

    def __init__(self, model: SpecModel, direction: str = "response"):
        self.model = model
        self.hidden = "writeOnly" if direction == "response" else "readOnly"

    def sample(self, raw, depth: int = 0, seen: frozenset = frozenset()):
        try:
            schema, target = self.model.deref(raw)
        except Exception:
            return None
        if not isinstance(schema, dict) or depth > 6 or (target and target in seen):
            return None
        seen = seen | {target} if target else seen
        if "example" in schema:
            return schema["example"]
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return schema["enum"][0]
        if "const" in schema:
            return schema["const"]
        if "default" in schema:
            return schema["default"]
        for keyword in ("oneOf", "anyOf"):
            if isinstance(schema.get(keyword), list) and schema[keyword]:
                return self.sample(schema[keyword][0], depth + 1, seen)
        schema = _merge_all_of(schema, lambda node: self.model.deref(node)[0] if isinstance(node, dict) else {})
        kind = _types_text(schema).split(" | ")[0]
        if kind == "object":
            return {name: self.sample(prop, depth + 1, seen) for name, prop in (schema.get("properties") or {}).items()
                    if not self._hidden(prop)}
        if kind == "array":
            item = self.sample(schema.get("items"), depth + 1, seen) if schema.get("items") is not None else None
            return [] if item is None else [item]
        return self._scalar(kind, schema)

    def _hidden(self, prop) -> bool:
        try:
            resolved, _ = self.model.deref(prop)
        except Exception:
            return False
        return isinstance(resolved, dict) and resolved.get(self.hidden) is True

    def _scalar(self, kind: str, schema: dict):
        if kind == "integer":
            return int(schema.get("minimum", 0)) if isinstance(schema.get("minimum"), (int, float)) else 0
        if kind == "number":
            return schema.get("minimum", 0.0) if isinstance(schema.get("minimum"), (int, float)) else 0.0
        if kind == "boolean":
            return True
        if kind == "null":
            return None
        if kind == "string":
            return self._FORMATS.get(schema.get("format"), "string")
        return None
