"""Mocks -> OpenAPI 3.1: one document describing every endpoint of a config.

Layer 1: pure functions over a compiled ``Config``, a loaded ``Spec`` and raw dicts; reads and
writes no files (the CLI does) and must not import ``engine``, ``app`` or layer 2.

- :func:`export_spec`: one OpenAPI 3.1 document for a config. An endpoint linked to a spec
  operation (``openapi.pointer``) is exported from that operation: its parameters, request
  body, every declared response, headers and schemas, converted to 3.1 (``nullable`` to
  ``type: [..., "null"]``, boolean ``exclusiveMinimum``, Swagger 2.0 bodies and
  ``definitions``), with the mock's bodies as examples. Other endpoints get schemas
  inferred from their bodies and parameters from their ``match`` block.
- ``openapi_sync`` builds on the helpers here to sync a spec and a config both ways.

>>> from pymock.config import build_config
>>> doc = export_spec(build_config({"endpoints": [{"path": "/pets/{id}", "response": {"id": 7}}]}))
>>> op = doc["paths"]["/pets/{id}"]["get"]
>>> op["parameters"][0]["name"], op["responses"]["200"]["content"]["application/json"]["schema"]
('id', {'type': 'object', 'properties': {'id': {'type': 'integer'}}, 'required': ['id']})
"""

from __future__ import annotations

import copy
import json
import re

from .openapi import JSON_TYPES, Spec, esc, node_at

__all__ = ["export_spec", "infer_schema", "convert_schema", "mock_operation", "add_examples",
           "mock_parts", "openapi_path"]
_STANDARD_METHODS = ("get", "post", "put", "patch", "delete")
_ONE = ("items", "additionalProperties", "not", "if", "then", "else", "contains", "propertyNames",
        "unevaluatedItems", "unevaluatedProperties", "additionalItems")
_MANY = ("allOf", "anyOf", "oneOf", "prefixItems")
_MAP = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_DATA = ("example", "examples", "enum", "const", "default")


# ---------------------------------------------------------------- schemas

def infer_schema(value, dialect: str = "2020-12") -> dict:
    """A JSON Schema describing ``value`` (objects require the keys they have); for the older
    dialects, which have no ``null`` type, null is ``nullable``."""
    if isinstance(value, dict):
        schema = {"type": "object", "properties": {k: infer_schema(v, dialect) for k, v in value.items()}}
        if value:
            schema["required"] = list(value)
        return schema
    if isinstance(value, list):
        return {"type": "array", "items": infer_schema(value[0], dialect)} if value else {"type": "array"}
    if value is None and dialect != "2020-12":
        return {"x-nullable": True} if dialect == "swagger-2.0" else {"nullable": True}
    kind = {bool: "boolean", int: "integer", float: "number", str: "string", type(None): "null"}
    return {"type": kind.get(type(value), "string")}


class _Components:
    """Converts a spec's schemas to 3.1 and collects the named ones under components/schemas."""

    def __init__(self):
        self.schemas: dict = {}
        self._names: dict = {}        # (id(spec), pointer) -> component name
        self._pending: list = []

    def name_for(self, spec: Spec, pointer: str) -> str:
        key = (id(spec), pointer)
        if key not in self._names:
            base = pointer.rpartition("/")[2].replace("~1", "/").replace("~0", "~")
            base = re.sub(r"[^A-Za-z0-9._-]", "_", base) or "Schema"
            name, n = base, 2
            while name in self.schemas:
                name, n = f"{base}{n}", n + 1
            self._names[key] = name
            self.schemas[name] = {}
            self._pending.append((spec, pointer, name))
        return self._names[key]

    def schema(self, spec: Spec, pointer: str | None):
        if pointer is None:
            return None
        converted = convert_schema(spec, node_at(spec.document, pointer), self)
        self.drain()
        return converted

    def drain(self) -> None:
        while self._pending:
            spec, pointer, name = self._pending.pop()
            self.schemas[name] = convert_schema(spec, node_at(spec.document, pointer), self)


def convert_schema(spec: Spec, node, components: _Components):
    """A Schema Object of ``spec`` (3.0/2.0/3.1) as OpenAPI 3.1 (JSON Schema 2020-12)."""
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#"):
        target = ref[1:]
        if target.startswith("/x-pymock-synthetic/"):
            return convert_schema(spec, node_at(spec.document, target), components)
        out = {"$ref": "#/components/schemas/" + esc(components.name_for(spec, target))}
        # 3.1 applies a $ref's siblings; 3.0 and 2.0 ignore them, except the readOnly/writeOnly
        # flags (pymock.schema honours those next to a $ref, as most tools do) and annotations.
        keep = None if spec.dialect == "2020-12" else ("readOnly", "writeOnly", "description", "deprecated")
        out.update({k: _convert_child(spec, k, v, components) for k, v in node.items()
                    if k != "$ref" and (keep is None or k in keep)})
        return out
    out = {k: _convert_child(spec, k, v, components) for k, v in node.items()}
    if spec.dialect != "2020-12":
        out = _modernise(out)
    return out


def _convert_child(spec: Spec, key: str, value, components: _Components):
    if key in _DATA or key.startswith("x-"):
        return copy.deepcopy(value)
    if key == "discriminator" and isinstance(value, dict) and isinstance(value.get("mapping"), dict):
        mapping = {name: "#/components/schemas/" + esc(components.name_for(spec, target[1:]))
                   if isinstance(target, str) and target.startswith("#/") and _exists(spec, target[1:]) else target
                   for name, target in value["mapping"].items()}
        return {**copy.deepcopy(value), "mapping": mapping}
    if key in _ONE and isinstance(value, dict):
        return convert_schema(spec, value, components)
    if (key in _MANY or key == "items") and isinstance(value, list):
        return [convert_schema(spec, v, components) for v in value]
    if key in _MAP and isinstance(value, dict):
        return {k: convert_schema(spec, v, components) for k, v in value.items()}
    return copy.deepcopy(value)


def _exists(spec: Spec, pointer: str) -> bool:
    try:
        node_at(spec.document, pointer)
    except KeyError:
        return False
    return True


def _modernise(out: dict) -> dict:
    """OpenAPI 3.0/Swagger 2.0 keywords in their 3.1 form."""
    for bound, exclusive in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
        if isinstance(out.get(exclusive), bool):
            if out.pop(exclusive) and bound in out:
                out[exclusive] = out.pop(bound)
    if isinstance(out.get("discriminator"), str):
        out["discriminator"] = {"propertyName": out["discriminator"]}
    if out.get("type") == "file":
        out.update({"type": "string", "format": "binary"})
    nullable = out.pop("nullable", None) is True
    nullable = out.pop("x-nullable", None) is True or nullable
    if not nullable:
        return out
    if isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
        if isinstance(out.get("enum"), list) and None not in out["enum"]:
            out["enum"] = out["enum"] + [None]
        return out
    return {"anyOf": [out, {"type": "null"}]}


# ---------------------------------------------------------------- export

def export_spec(config, *, title: str | None = None) -> dict:
    """An OpenAPI 3.1 document for every endpoint of ``config`` (a compiled Config)."""
    hook = config.sections.get("contract")
    components = _Components()
    first = hook.specs[0].spec if hook is not None and hook.specs else None
    info = {"title": title or config.raw.get("name") or (first.title if first else "") or "pymock mocks",
            "version": str(config.raw.get("version") or _spec_version(first) or "0")}
    doc = {"openapi": "3.1.0", "info": info}
    if first is not None and isinstance(first.raw.get("servers"), list):
        doc["servers"] = copy.deepcopy(first.raw["servers"])
    paths: dict = {}
    used_ids: set = set()
    for endpoint in config.endpoints:
        linked = hook.operation_of(endpoint) if hook is not None else None
        for method, path_key, operation in _operations(endpoint, linked, components):
            if linked is None:   # a spec's own operationIds are kept as written
                _unique_id(operation, used_ids)
            paths.setdefault(path_key, {})[method] = operation
    doc["paths"] = paths
    comps = {}
    if components.schemas:
        comps["schemas"] = components.schemas
    schemes = _security_schemes(hook.specs if hook is not None else [])
    if schemes:
        comps["securitySchemes"] = schemes
    if comps:
        doc["components"] = comps
    return doc


def _spec_version(spec) -> str | None:
    info = spec.raw.get("info") if spec is not None else None
    return info.get("version") if isinstance(info, dict) else None


def _unique_id(operation: dict, used: set) -> None:
    ident = operation.get("operationId")
    if ident is None:
        return
    base, n = ident, 2
    while ident in used:
        ident, n = f"{base}-{n}", n + 1
    used.add(ident)
    operation["operationId"] = ident


def _operations(endpoint, linked, components: _Components):
    source = endpoint.source
    if linked is not None:
        loaded, op = linked
        operation = _from_spec(loaded.spec, op, components)
        path_key, methods = op.path, [op.method.lower()]
    else:
        operation = mock_operation(endpoint)
        path_key = openapi_path(endpoint.path)
        methods = sorted(m.lower() for m in endpoint.methods) if endpoint.methods else list(_STANDARD_METHODS)
    add_examples(operation, endpoint, linked)
    if source.get("name") and "summary" not in operation:
        operation["summary"] = source["name"]
    for method in methods:
        yield method, path_key, copy.deepcopy(operation)


def openapi_path(path: str) -> str:
    """A pymock path as an OpenAPI path template (wildcards become parameters)."""
    if path.startswith("^"):   # a regex: named groups become parameters, the rest is flattened
        text = re.sub(r"\(\?P<(\w+)>[^()]*\)", r"{\1}", path.strip("^$"))
        return "/" + re.sub(r"[^A-Za-z0-9/_{}-]+", "_", text).strip("/_")
    parts, n = [], 0
    for part in path.split("/"):
        if part in ("*", "**"):
            n += 1
            part = "{rest}" if part == "**" else f"{{segment{n}}}"
        parts.append(part)
    return "/".join(parts) or "/"


def _from_spec(spec: Spec, op, components: _Components) -> dict:
    node = node_at(spec.document, op.pointer)
    operation = {k: copy.deepcopy(node[k]) for k in ("tags", "summary", "description", "operationId",
                                                      "deprecated", "externalDocs") if k in node}
    params = [_parameter(spec, p, components) for p in op.parameters]
    if params:
        operation["parameters"] = params
    if op.request_body is not None and op.request_body.content:
        body = {"content": {m.content_type: _media(spec, m, components) for m in op.request_body.content}}
        if op.request_body.required:
            body["required"] = True
        operation["requestBody"] = body
    operation["responses"] = {r.status: _response(spec, r, components) for r in op.responses}
    if not operation["responses"]:
        operation["responses"] = {"200": {"description": "OK"}}
    if "security" in node or "security" in spec.document:
        operation["security"] = copy.deepcopy(node.get("security", spec.document.get("security")))
    return operation


def _parameter(spec: Spec, param, components: _Components) -> dict:
    out = {"name": param.name, "in": param.location}
    if param.required:
        out["required"] = True
    if param.content_type:
        media = {"schema": components.schema(spec, param.schema)} if param.schema else {}
        out["content"] = {param.content_type: media}
    else:
        out["schema"] = components.schema(spec, param.schema) if param.schema else {}
        default_style = "form" if param.location in ("query", "cookie") else "simple"
        if param.style != default_style:
            out["style"] = param.style if param.style != "tabDelimited" else "form"
        if param.explode != (param.style == "form"):
            out["explode"] = param.explode
    _set_examples(out, param.examples)
    return out


def _set_examples(out: dict, examples) -> None:
    for name, value in examples:
        if not name:
            out["example"] = copy.deepcopy(value)
        else:
            out.setdefault("examples", {})[name] = {"value": copy.deepcopy(value)}


def _media(spec: Spec, media, components: _Components) -> dict:
    out = {"schema": components.schema(spec, media.schema)} if media.schema else {}
    return out


def _response(spec: Spec, response, components: _Components) -> dict:
    out = {"description": response.description or "Response"}
    headers = {}
    for header in response.headers:
        item = {"schema": components.schema(spec, header.schema)} if header.schema else {}
        if header.required:
            item["required"] = True
        headers[header.name] = item
    if headers:
        out["headers"] = headers
    if response.content:
        out["content"] = {m.content_type: _media(spec, m, components) for m in response.content}
    return out


def mock_operation(endpoint) -> dict:
    source = endpoint.source
    operation = {"operationId": source.get("operation_id") or endpoint.id}
    if source.get("description"):
        operation["description"] = source["description"]
    if endpoint.tags:
        operation["tags"] = list(endpoint.tags)
    params = [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
              for n in re.findall(r"\{([^{}/]+)\}", openapi_path(endpoint.path))]
    match = source.get("match") if isinstance(source.get("match"), dict) else {}
    for section, where in (("query", "query"), ("headers", "header"), ("cookies", "cookie")):
        for name, rule in (match.get(section) or {}).items():
            params.append(_matched_param(name, where, rule))
    if params:
        operation["parameters"] = params
    body = match.get("body")
    rule = body if isinstance(body, dict) else None
    value = (rule or {}).get("json", (rule or {}).get("json_partial"))
    if value is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": infer_schema(value), "example": value}}}
    operation["responses"] = {}
    return operation


def _matched_param(name: str, where: str, rule) -> dict:
    out = {"name": name, "in": where, "schema": {"type": "string"}}
    if isinstance(rule, str):
        out["schema"]["enum"] = [rule]
        out["example"] = rule
    if not (isinstance(rule, dict) and ("absent" in rule or rule.get("present") is False)):
        out["required"] = True
    return out


# ---------------------------------------------------------------- the mock's bodies as examples

def mock_parts(endpoint) -> list:
    """(status, declared key, example name, generated, headers, content type, body, present)."""
    source = endpoint.source
    link = source.get("openapi") if isinstance(source.get("openapi"), dict) else {}
    items = [(source, link)]
    items += [(part, part) for part in (source.get("responses") or []) if isinstance(part, dict)]
    if source.get("failure_rate") and isinstance(source.get("failure"), dict):
        items.append((source["failure"], {}))
    items += [(part, {}) for part in (source.get("variants") or []) if isinstance(part, dict)]
    sequence = source.get("sequence")
    steps = sequence.get("responses") if isinstance(sequence, dict) else sequence
    items += [(part, {}) for part in (steps or []) if isinstance(part, dict)]
    return [_part(part, labels, endpoint) for part, labels in items]


def _part(part: dict, labels: dict, endpoint) -> tuple:
    status = part.get("status", 500 if part is endpoint.source.get("failure") else 200)
    headers = {k: str(v) for k, v in (part.get("headers") or {}).items()}
    ctype = part.get("content_type") or next((v for k, v in headers.items() if k.lower() == "content-type"), None)
    headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
    present = any(k in part for k in ("response", "body"))
    body = part.get("response", part.get("body"))
    if isinstance(body, str) and ctype and JSON_TYPES.match(ctype):
        try:
            body = json.loads(body)
        except ValueError:
            pass
    if ctype is None and present:
        ctype = "application/json" if not isinstance(body, str) else \
            ("text/html" if body.lstrip().startswith("<") else "text/plain")
    declared = labels.get("declared") or str(status)
    return (status, declared, labels.get("example", ""), labels.get("generated", False), headers, ctype,
            body, present)


def add_examples(operation: dict, endpoint, linked) -> None:
    responses = operation.setdefault("responses", {})
    for status, declared, name, generated, headers, ctype, body, present in mock_parts(endpoint):
        response = responses.setdefault(declared, {"description": f"Response of mock {endpoint.id!r}"})
        for header, value in headers.items():
            item = response.setdefault("headers", {}).setdefault(header, {"schema": {"type": "string"}})
            item["example"] = value
        if ctype is None:
            continue
        media = response.setdefault("content", {}).setdefault(ctype, {})
        if present and "schema" not in media:
            media["schema"] = infer_schema(body) if JSON_TYPES.match(ctype) else {"type": "string"}
        if present and not generated:
            _set_examples(media, [(name, body)])


def _security_schemes(specs) -> dict:
    out = {}
    for loaded in specs:
        doc = loaded.spec.document
        if loaded.spec.kind == "swagger":
            for name, scheme in (doc.get("securityDefinitions") or {}).items():
                out.setdefault(name, _modern_scheme(scheme))
        else:
            for name, scheme in ((doc.get("components") or {}).get("securitySchemes") or {}).items():
                out.setdefault(name, copy.deepcopy(scheme))
    return out


def _modern_scheme(scheme: dict) -> dict:
    kind = scheme.get("type")
    if kind == "basic":
        return {"type": "http", "scheme": "basic"}
    if kind == "oauth2":
        flow = {"implicit": "implicit", "password": "password", "application": "clientCredentials",
                "accessCode": "authorizationCode"}.get(scheme.get("flow"), "implicit")
        spec = {k: scheme[k] for k in ("authorizationUrl", "tokenUrl") if k in scheme}
        spec.setdefault("authorizationUrl" if flow in ("implicit", "authorizationCode") else "tokenUrl", "")
        if flow == "authorizationCode":
            spec.setdefault("tokenUrl", "")
        spec["scopes"] = dict(scheme.get("scopes") or {})
        return {"type": "oauth2", "flows": {flow: spec}}
    return {k: v for k, v in scheme.items() if k in ("type", "name", "in", "description")}
