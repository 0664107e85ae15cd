"""API documentation from an OpenAPI document: Markdown, and one self-contained HTML page.

Layer 0 (pure): imports only the standard library and ``.specdiff`` (for the normalised
``SpecModel``); no sockets, threads or files. The same input always gives byte-identical output
(document order throughout, no clocks). The HTML page has inline CSS, no scripts and no external
assets, and every piece of spec text is escaped, so a hostile description cannot inject markup.

Both renderers share one intermediate list of blocks built by ``_Builder``: title, version,
servers, a table of contents grouped by tag, and per operation its method and path, summary and
description, a parameters table, the request body (schema as a nested table, example), every
response (headers, schema, example), what the mocks do on error paths (failure rates, faults,
variants, sequences) when ``mocks`` (a config's endpoint list) is given, and a ``curl`` command
against ``base_url``; then every named schema.

>>> spec = {"openapi": "3.0.3", "info": {"title": "Pets", "version": "1.0"}, "paths": {
...     "/pets": {"get": {"summary": "List pets", "responses": {"200": {"description": "ok"}}}}}}
>>> text = render_markdown(spec)
>>> text.splitlines()[2], "curl -i -X GET http://127.0.0.1:8080/pets" in text
('# Pets', True)
>>> "<script>" in render_html({**spec, "info": {"title": "<script>", "version": "1"}})
False

Must not import any higher pymock layer, sockets, threads or file-reading modules.
"""

from __future__ import annotations

import html
import json
import re
import shlex
from dataclasses import dataclass, field
from http import HTTPStatus

from .specdiff import SpecModel, path_key

__all__ = ["render_markdown", "render_html", "DEFAULT_BASE_URL"]

DEFAULT_BASE_URL = "http://127.0.0.1:8080"
_MAX_DEPTH = 5          # nested levels a schema table expands inline
_MAX_ROWS = 200         # rows one schema table shows before it says how many were left out


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


# ---------------------------------------------------------------- building

class _Anchors:
    def __init__(self):
        self.used: dict = {}

    def make(self, text: str) -> str:
        slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"
        count = self.used.get(slug, 0)
        self.used[slug] = count + 1
        return slug if count == 0 else f"{slug}-{count + 1}"


class _Builder:
    def __init__(self, model: SpecModel, mocks, base_url: str):
        self.model, self.base_url = model, base_url.rstrip("/")
        self.mocks = [m for m in (mocks or []) if isinstance(m, dict)]
        self.anchors = _Anchors()
        self.blocks: list[Block] = []
        self.schema_anchor = {name: self.anchors.make(f"schema {name}")
                              for name, _, _ in model.schema_components()}
        self.schema_pointer = {pointer: name for name, _, pointer in model.schema_components()}

    def build(self) -> list[Block]:
        model = self.model
        info = model.info
        self.add("heading", level=1, parts=[model.title], anchor=self.anchors.make("top"))
        meta = [f"Version {model.api_version or 'unversioned'}",
                f" · {'Swagger' if model.swagger2 else 'OpenAPI'} {model.version}"]
        self.add("para", parts=meta)
        if info.get("description"):
            self.add("prose", parts=[Prose(str(info["description"]))])
        servers = model.servers()
        if servers:
            self.add("heading", level=2, parts=["Servers"], anchor=self.anchors.make("servers"))
            self.add("list", rows=[_inline(Code(url), f" — {text}" if text else "") for url, text in servers])
        groups = self._groups()
        toc = self.add("toc", anchor=self.anchors.make("contents"))
        for tag, description, ops in groups:
            anchor = self.anchors.make(f"tag {tag}")
            entries = []
            self.add("heading", level=2, parts=[tag], anchor=anchor)
            if description:
                self.add("prose", parts=[Prose(description)])
            for op in ops:
                op_anchor = self.anchors.make(f"{op.method} {op.path}")
                entries.append((_inline(op.method, " ", Code(op.path), f" — {op.get('summary')}" if op.get("summary") else ""),
                                op_anchor, []))
                self._operation(op, op_anchor)
            toc.rows.append(([tag], anchor, entries))
        self._components(toc)
        return self.blocks

    def add(self, kind, **kwargs) -> Block:
        block = Block(kind, **kwargs)
        self.blocks.append(block)
        return block

    def _groups(self) -> list:
        """Operations grouped by their first tag: declared tags first, in document order."""
        described = {str(t["name"]): str(t.get("description") or "") for t in self.model.tags()}
        order = list(described)
        grouped: dict = {}
        for op in self.model.operations():
            tags = op.get("tags") or ["default"]
            tag = str(tags[0])
            if tag not in order:
                order.append(tag)
            grouped.setdefault(tag, []).append(op)
        return [(tag, described.get(tag, ""), grouped[tag]) for tag in order if tag in grouped]

    # ------------------------------------------------------------ one operation

    def _operation(self, op, anchor: str) -> None:
        self.add("heading", level=3, parts=[op.method, " ", op.path], anchor=anchor)
        if op.get("summary"):
            self.add("para", parts=[Strong(str(op.get("summary")))])
        if op.get("description"):
            self.add("prose", parts=[Prose(str(op.get("description")))])
        facts = []
        if op.get("operationId"):
            facts.append(_inline("Operation id: ", Code(str(op.get("operationId")))))
        if op.get("deprecated"):
            sunset = op.get("x-sunset")
            facts.append(_inline(Strong("Deprecated"), f" — sunset {sunset}" if sunset else ""))
        if op.security:
            alternatives = [" + ".join(f"{name}" + (f" ({', '.join(map(str, scopes))})" if scopes else "")
                                       for name, scopes in req.items()) or "none" for req in op.security]
            facts.append(_inline("Security: ", " or ".join(alternatives)))
        if facts:
            self.add("list", rows=facts)
        self._parameters(op)
        self._request_body(op)
        self._responses(op)
        self._mock_behaviour(op)
        self.add("para", parts=[Strong("Try it")])
        self.add("code", lang="sh", text=self._curl(op))

    def _parameters(self, op) -> None:
        if not op.parameters:
            return
        self.add("para", parts=[Strong("Parameters")])
        rows = []
        for param in op.parameters:
            schema = self._deref(param.schema)
            rows.append([[Code(param.name)], [param.location], self._type_cell(schema),
                         ["yes" if param.required else "no"],
                         self._description_cell(param.description or _text(schema.get("description")), schema,
                                                param.deprecated)])
        self.add("table", headers=["Name", "In", "Type", "Required", "Description"], rows=rows)

    def _request_body(self, op) -> None:
        body = op.body
        if body is None:
            return
        self.add("para", parts=[Strong("Request body"), " (required)" if body.required else " (optional)"])
        if body.description:
            self.add("prose", parts=[Prose(body.description)])
        for media, mt in body.content.items():
            self._media(media, mt, "request")

    def _responses(self, op) -> None:
        if not op.responses:
            return
        self.add("para", parts=[Strong("Responses")])
        for status, resp in op.responses.items():
            self.add("heading", level=4, parts=[f"{status} {_phrase(status)}".rstrip()],
                     anchor=self.anchors.make(f"{op.method} {op.path} {status}"))
            if resp.description:
                self.add("prose", parts=[Prose(resp.description)])
            if resp.headers:
                rows = [[[Code(name)], self._type_cell(self._deref(h.schema)), ["yes" if h.required else "no"],
                         self._description_cell(h.description, self._deref(h.schema), h.deprecated)]
                        for name, h in resp.headers.items()]
                self.add("table", headers=["Header", "Type", "Required", "Description"], rows=rows)
            for media, mt in resp.content.items():
                self._media(media, mt, "response")

    def _media(self, media: str, mt, direction: str) -> None:
        self.add("para", parts=_inline("Content type ", Code(media)))
        if mt.schema is not None:
            rows = self._schema_rows(mt.schema, direction)
            if rows:
                self.add("table", headers=["Field", "Type", "Required", "Description"], rows=rows)
        is_json = "json" in media.lower()
        for title, value in self._examples(mt, direction):
            self.add("para", parts=_inline(title))
            text = value if isinstance(value, str) and not is_json else _json_text(value)
            self.add("code", lang="json" if is_json else "text", text=text)

    def _examples(self, mt, direction: str) -> list:
        if mt.has_example:
            return [("Example", mt.example)]
        named = []
        for name, example in mt.examples.items():
            resolved = self._deref(example)
            if "value" in resolved:
                summary = f" — {resolved['summary']}" if resolved.get("summary") else ""
                named.append((f"Example {name}{summary}", resolved["value"]))
        if named:
            return named
        if mt.schema is None:
            return []
        schema = self._deref(mt.schema)
        if "example" in schema:
            return [("Example", schema["example"])]
        return [("Example (generated from the schema)", _Sampler(self.model, direction).sample(mt.schema))]

    # ------------------------------------------------------------ mocks and curl

    def _matching_mocks(self, op) -> list:
        found = []
        for mock in self.mocks:
            methods = mock.get("method", "GET")
            methods = [methods] if isinstance(methods, str) else list(methods or [])
            upper = {str(m).upper() for m in methods}
            if isinstance(mock.get("path"), str) and path_key(mock["path"]) == path_key(op.path) \
                    and (op.method in upper or upper & {"ANY", "*"}):
                found.append(mock)
        return found

    def _mock_behaviour(self, op) -> None:
        mocks = self._matching_mocks(op)
        if not mocks:
            return
        self.add("para", parts=[Strong("Mock behaviour")])
        rows = []
        for mock in mocks:
            rows += _mock_lines(mock)
        self.add("list", rows=rows)

    def _curl(self, op) -> str:
        sampler = _Sampler(self.model, "request")
        path, query, headers = op.path, [], list(self._auth_headers(op))
        for param in op.parameters:
            value = param.example if param.example is not None else self._param_example(param, sampler)
            text = value if isinstance(value, str) else json.dumps(value)
            if param.location == "path":
                path = path.replace("{" + param.name + "}", text)
            elif param.location == "query" and param.required:
                query.append(f"{param.name}={text}")
            elif param.location == "header" and param.required:
                headers.append(f"{param.name}: {text}")
        url = self.base_url + path + ("?" + "&".join(query) if query else "")
        words = ["curl", "-i", "-X", op.method, url]
        for header in headers:
            words += ["-H", header]
        body = op.body
        if body is not None and body.content:
            media, mt = next(iter(body.content.items()))
            examples = self._examples(mt, "request")
            value = examples[0][1] if examples else None
            if media.startswith("multipart/form-data") and isinstance(value, dict):
                for name, field_value in value.items():   # curl sets the multipart Content-Type itself
                    words += ["-F", f"{name}=@{name}" if field_value is None else f"{name}={_form_text(field_value)}"]
            elif media.startswith("application/x-www-form-urlencoded") and isinstance(value, dict):
                for name, field_value in value.items():
                    words += ["--data-urlencode", f"{name}={_form_text(field_value)}"]
            else:
                words += ["-H", f"Content-Type: {media}"]
                if value is not None:
                    words += ["-d", value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)]
        return " ".join(shlex.quote(w) for w in words)

    def _auth_headers(self, op) -> list:
        """A placeholder credential for the operation's first security alternative."""
        if not op.security or not isinstance(op.security[0], dict):
            return []
        doc = self.model.doc
        schemes = doc.get("securityDefinitions") if self.model.swagger2 else (doc.get("components") or {}).get("securitySchemes")
        out = []
        for name in op.security[0]:
            scheme = self._deref((schemes or {}).get(name))
            kind, where = scheme.get("type"), scheme.get("in")
            if kind == "apiKey" and where == "header" and scheme.get("name"):
                out.append(f"{scheme['name']}: <{name}>")
            elif kind in ("oauth2", "openIdConnect") or (kind == "http" and str(scheme.get("scheme", "")).lower() == "bearer"):
                out.append("Authorization: Bearer <token>")
            elif kind in ("http", "basic"):
                out.append("Authorization: Basic <credentials>")
        return out

    def _param_example(self, param, sampler) -> object:
        schema = self._deref(param.schema)
        if "example" in schema:
            return schema["example"]
        return sampler.sample(param.schema)

    # ------------------------------------------------------------ schemas

    def _deref(self, node) -> dict:
        try:
            resolved, _ = self.model.deref(node)
        except Exception:   # a broken $ref: show what is there rather than fail the whole page
            return {}
        return resolved if isinstance(resolved, dict) else {}

    def _ref_name(self, node) -> str | None:
        if isinstance(node, dict) and isinstance(node.get("$ref"), str):
            return self.schema_pointer.get(node["$ref"][1:])
        return None

    def _type_cell(self, schema: dict, raw=None) -> list:
        name = self._ref_name(raw)
        if name:
            return [Link(name, "#" + self.schema_anchor[name])]
        kind = _types_text(schema)
        if kind == "array":
            items = schema.get("items")
            inner = self._type_cell(self._deref(items), items) if items is not None else ["any"]
            return ["array of ", *inner]
        for keyword, word in (("oneOf", "one of"), ("anyOf", "any of")):
            branches = schema.get(keyword)
            if isinstance(branches, list) and branches and not schema.get("type"):
                out = [f"{word}: "]
                for index, branch in enumerate(branches):
                    out += ([", "] if index else []) + self._type_cell(self._deref(branch), branch)
                return out
        fmt = f" ({schema['format']})" if schema.get("format") else ""
        return [kind + fmt + (" | null" if schema.get("nullable") or schema.get("x-nullable") else "")]

    def _description_cell(self, description: str, schema: dict, deprecated: bool = False) -> list:
        parts = []
        if deprecated or schema.get("deprecated"):
            parts += [Strong("Deprecated."), " "]
        if description:
            text = description.strip()
            parts.append(Prose(text))
        facts = _constraints(schema)
        if facts:
            if description and not description.strip().endswith((".", "!", "?", ":")):
                parts.append(".")
            parts += [" " if parts else "", *facts]
        return parts

    def _schema_rows(self, raw, direction: str) -> list:
        rows: list = []
        self._rows(raw, "", rows, 0, set(), direction, root=True)
        if len(rows) > _MAX_ROWS:
            left = len(rows) - _MAX_ROWS
            rows = rows[:_MAX_ROWS] + [[["…"], [f"{left} more fields"], [""], [""]]]
        return rows

    def _rows(self, raw, prefix: str, rows: list, depth: int, seen: set, direction: str, root=False) -> None:
        """Rows for the properties of ``raw``: nested objects inline, named schemas linked."""
        if depth > _MAX_DEPTH or (not root and self._ref_name(raw)):
            return
        schema = _merge_all_of(self._deref(raw), self._deref)
        if id(schema) in seen:
            return
        seen = seen | {id(schema)}
        if root and not schema.get("properties"):
            rows.append([[Code("(body)")], self._type_cell(schema, raw), [""], self._description_cell(
                _text(schema.get("description")), schema)])
            items = schema.get("items")
            if _types_text(schema) == "array" and items is not None and not self._ref_name(items):
                self._rows(items, "[].", rows, depth + 1, seen, direction)
            return
        required = set(schema.get("required") or []) if isinstance(schema.get("required"), list) else set()
        for name, prop_raw in (schema.get("properties") or {}).items():
            prop = self._deref(prop_raw)
            hidden = "writeOnly" if direction == "response" else "readOnly"
            if prop.get(hidden) is True:
                continue
            field_name = prefix + str(name)
            rows.append([[Code(field_name)], self._type_cell(prop, prop_raw), ["yes" if name in required else "no"],
                         self._description_cell(_text(prop.get("description")), prop)])
            if self._ref_name(prop_raw):
                continue
            if _types_text(prop) == "array" and prop.get("items") is not None:
                self._rows(prop["items"], field_name + "[].", rows, depth + 1, seen, direction)
            elif prop.get("properties") or prop.get("allOf"):
                self._rows(prop_raw, field_name + ".", rows, depth + 1, seen, direction)

    def _components(self, toc: Block) -> None:
        components = self.model.schema_components()
        if not components:
            return
        anchor = self.anchors.make("schemas")
        self.add("heading", level=2, parts=["Schemas"], anchor=anchor)
        entries = []
        for name, schema, _ in components:
            self.add("heading", level=3, parts=[name], anchor=self.schema_anchor[name])
            resolved = self._deref(schema)
            if resolved.get("description"):
                self.add("prose", parts=[Prose(str(resolved["description"]))])
            rows = self._schema_rows(schema, "response")
            if rows:
                self.add("table", headers=["Field", "Type", "Required", "Description"], rows=rows)
            entries.append(([Code(name)], self.schema_anchor[name], []))
        toc.rows.append((["Schemas"], anchor, entries))


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


# ---------------------------------------------------------------- Markdown

def _md_escape(text: str) -> str:
    return re.sub(r"([\\`*_\[\]<>|#])", r"\\\1", str(text))


def _md_code(text: str) -> str:
    text = str(text).replace("\n", " ")
    fence = "`"
    while fence in text:
        fence += "`"
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


_LINK = re.compile(r"\[([^\]]+)\]\(((?:[^()\s]|\([^()\s]*\))+)\)")   # one level of () in the target


def _md_safe_links(text: str) -> str:
    """Links to anything but http(s), mailto and in-page anchors lose their target."""
    return _LINK.sub(lambda m: m.group(0) if _safe_href(m.group(2)) else m.group(1), text)


def _md_inline(parts, table: bool = False) -> str:
    out = []
    for part in parts:
        if isinstance(part, Code):
            out.append(_md_code(part.text))
        elif isinstance(part, Link):
            out.append(f"[{_md_escape(part.text)}]({part.href})")
        elif isinstance(part, Strong):
            out.append(f"**{_md_escape(part.text)}**")
        elif isinstance(part, Prose):
            text = _md_safe_links(part.text.replace("<", "&lt;").strip())   # the author's Markdown, minus raw HTML
            out.append(re.sub(r"\s*\n\s*", " ", text).replace("|", "\\|") if table else text)
        else:
            out.append(_md_escape(part))
    return "".join(out)


def _md_block(block: Block) -> list[str]:
    if block.kind == "heading":
        return [f'<a id="{block.anchor}"></a>', "", "#" * block.level + " " + _md_inline(block.parts), ""]
    if block.kind in ("para", "prose"):
        return [_md_inline(block.parts), ""]
    if block.kind == "list":
        return [f"- {_md_inline(row)}" for row in block.rows] + [""]
    if block.kind == "code":
        fence = "```" if "```" not in block.text else "````"
        return [f"{fence}{block.lang}", block.text, fence, ""]
    if block.kind == "table":
        lines = ["| " + " | ".join(block.headers) + " |", "|" + " --- |" * len(block.headers)]
        lines += ["| " + " | ".join(_md_inline(cell, table=True) or " " for cell in row) + " |" for row in block.rows]
        return lines + [""]
    if block.kind == "toc":
        lines = [f'<a id="{block.anchor}"></a>', "", "## Contents", ""]
        for parts, anchor, children in block.rows:
            lines.append(f"- [{_md_inline(parts)}](#{anchor})")
            lines += [f"  - [{_md_inline(c_parts)}](#{c_anchor})" for c_parts, c_anchor, _ in children]
        return lines + [""]
    raise ValueError(f"unknown block kind {block.kind!r}")  # pragma: no cover - builder bug


def render_markdown(spec, *, mocks=None, base_url: str = DEFAULT_BASE_URL, name: str = "the spec") -> str:
    """Markdown documentation for ``spec`` (a dict or ``SpecModel``); raises ``SpecError``."""
    model = spec if isinstance(spec, SpecModel) else SpecModel(spec, name)
    lines = []
    for block in _Builder(model, mocks, base_url).build():
        lines += _md_block(block)
    return "\n".join(lines).rstrip("\n") + "\n"


# ---------------------------------------------------------------- HTML

_CSS = """
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;background:#fff}
nav{position:fixed;top:0;left:0;bottom:0;width:18rem;overflow-y:auto;padding:1rem;background:#f6f8fa;border-right:1px solid #d0d7de;font-size:13px}
nav ul{list-style:none;margin:0;padding-left:.8rem}nav>ul{padding-left:0}
nav a{color:#1f2328;text-decoration:none}nav a:hover{text-decoration:underline}
main{margin-left:18rem;padding:1.5rem 2.5rem;max-width:72rem}
h1{margin-top:0}h2{border-bottom:1px solid #d0d7de;padding-bottom:.3rem;margin-top:2.5rem}
h3{margin-top:2rem;padding:.4rem .6rem;background:#f6f8fa;border-radius:6px;font-family:ui-monospace,SFMono-Regular,Menlo,monospace}
h4{margin-bottom:.3rem}
table{border-collapse:collapse;margin:.5rem 0 1rem;width:100%;font-size:14px}
th,td{border:1px solid #d0d7de;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}
code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:90%;background:#eff1f3;padding:.1rem .3rem;border-radius:4px}
pre{background:#f6f8fa;padding:.8rem;border-radius:6px;overflow-x:auto}pre code{background:none;padding:0}
.method{display:inline-block;min-width:4.2rem;text-align:center;color:#fff;border-radius:4px;padding:0 .4rem;margin-right:.4rem;font-weight:600}
.get{background:#1f6feb}.post{background:#1a7f37}.put{background:#9a6700}.patch{background:#8250df}
.delete{background:#cf222e}.head,.options,.trace{background:#57606a}
@media (max-width:800px){nav{position:static;width:auto;border:0}main{margin:0;padding:1rem}}
""".strip()

_METHOD_WORDS = {"GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE"}


def _esc(text) -> str:
    return html.escape(str(text), quote=True)


def _safe_href(href: str) -> str | None:
    href = href.strip()
    if href.startswith("#") or re.match(r"^(https?:|mailto:)", href, re.I):
        return href
    return None


def _prose_inline(text: str) -> str:
    """The author's Markdown inline subset, escaped first: code, bold, italics, safe links."""
    out = _esc(text)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    out = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", out)
    out = re.sub(r"(?<![\w*])\*([^*\s][^*]*)\*(?![\w*])", r"<em>\1</em>", out)

    def link(match):
        href = _safe_href(html.unescape(match.group(2)))
        return f'<a href="{_esc(href)}">{match.group(1)}</a>' if href else match.group(1)
    return _LINK.sub(link, out)


_BULLET = re.compile(r"^\s*[-*] ")


def _prose_html(text: str) -> str:
    blocks = []
    for chunk in re.split(r"\n\s*\n", text.strip()):
        lines = chunk.splitlines()
        if lines and all(_BULLET.match(line) for line in lines):
            items = "".join("<li>" + _prose_inline(_BULLET.sub("", line)) + "</li>" for line in lines)
            blocks.append(f"<ul>{items}</ul>")
        elif chunk.strip():
            blocks.append("<p>" + _prose_inline(" ".join(line.strip() for line in lines)) + "</p>")   # soft breaks
    return "".join(blocks)


def _html_inline(parts) -> str:
    out = []
    for part in parts:
        if isinstance(part, Code):
            out.append(f"<code>{_esc(part.text)}</code>")
        elif isinstance(part, Link):
            href = _safe_href(part.href) or "#"
            out.append(f'<a href="{_esc(href)}">{_esc(part.text)}</a>')
        elif isinstance(part, Strong):
            out.append(f"<strong>{_esc(part.text)}</strong>")
        elif isinstance(part, Prose):
            out.append(_prose_inline(part.text.strip()))
        elif part in _METHOD_WORDS:
            out.append(f'<span class="method {part.lower()}">{part}</span>')
        else:
            out.append(_esc(part))
    return "".join(out)


def _html_block(block: Block) -> str:
    if block.kind == "heading":
        return f'<h{block.level} id="{_esc(block.anchor)}">{_html_inline(block.parts)}</h{block.level}>'
    if block.kind == "para":
        return f"<p>{_html_inline(block.parts)}</p>"
    if block.kind == "prose":
        return "".join(_prose_html(p.text) for p in block.parts)
    if block.kind == "list":
        return "<ul>" + "".join(f"<li>{_html_inline(row)}</li>" for row in block.rows) + "</ul>"
    if block.kind == "code":
        return f'<pre><code class="language-{_esc(block.lang)}">{_esc(block.text)}</code></pre>'
    if block.kind == "table":
        head = "".join(f"<th>{_esc(h)}</th>" for h in block.headers)
        body = "".join("<tr>" + "".join(f"<td>{_html_inline(cell)}</td>" for cell in row) + "</tr>"
                       for row in block.rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    if block.kind == "toc":
        return ""   # the contents go into the <nav> sidebar
    raise ValueError(f"unknown block kind {block.kind!r}")  # pragma: no cover - builder bug


def _html_nav(blocks: list, title: str, top: str) -> str:
    toc = next((b for b in blocks if b.kind == "toc"), None)
    items = []
    for parts, anchor, children in toc.rows if toc else []:
        sub = "".join(f'<li><a href="#{_esc(a)}">{_html_inline(p)}</a></li>' for p, a, _ in children)
        items.append(f'<li><a href="#{_esc(anchor)}"><strong>{_html_inline(parts)}</strong></a>'
                     + (f"<ul>{sub}</ul>" if sub else "") + "</li>")
    return (f'<nav aria-label="Contents"><p><a href="#{_esc(top)}"><strong>{_esc(title)}</strong></a></p>'
            f"<ul>{''.join(items)}</ul></nav>")


def render_html(spec, *, mocks=None, base_url: str = DEFAULT_BASE_URL, name: str = "the spec") -> str:
    """One self-contained HTML page (inline CSS, no scripts, no external assets)."""
    model = spec if isinstance(spec, SpecModel) else SpecModel(spec, name)
    blocks = _Builder(model, mocks, base_url).build()
    body = "\n".join(text for text in (_html_block(b) for b in blocks) if text)
    title = f"{model.title} {model.api_version}".strip()
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{_esc(title)}</title>\n<style>\n{_CSS}\n</style>\n</head>\n<body>\n"
            f"{_html_nav(blocks, model.title, blocks[0].anchor)}\n<main>\n{body}\n</main>\n</body>\n</html>\n")
