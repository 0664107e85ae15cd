"""The block list for one API's documentation, built from a normalised ``SpecModel``.

Layer 0 (pure): ``_Builder(model, mocks, base_url).build()`` gives the ``docs_blocks.Block`` list
that ``docs.render_markdown`` and ``docs_html.render_html`` render: title, version, servers, a
table of contents grouped by tag, per operation its parameters, request body, responses, mock
behaviour and a ``curl`` command, then every named schema. Document order throughout.

Must not import ``docs`` or ``docs_html`` (they import this), any higher pymock layer, sockets,
threads or file-reading modules.
"""

from __future__ import annotations

import json
import re
import shlex

from .docs_blocks import (Block, Code, Link, Prose, Strong, _Sampler, _constraints, _inline, _json_text,
                          _merge_all_of, _mock_lines, _phrase, _form_text, _text, _types_text)
from .specdiff import SpecModel, path_key

__all__ = []    # internal to the docs modules: docs.py is the public face

_MAX_DEPTH = 5          # nested levels a schema table expands inline
_MAX_ROWS = 200         # rows one schema table shows before it says how many were left out



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
