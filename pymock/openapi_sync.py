"""Sync a spec and a config in either direction; what a sync would change is the drift.

Layer 1: pure functions over a loaded ``Spec``, a compiled ``Config`` and raw dicts; reads and
writes no files (the CLI does). Must not import ``engine``, ``app`` or layer 2.

- :func:`sync_to_spec`: merge mock changes into the spec as written (new operations, changed
  examples, new statuses, schemas widened where a mock needs it); nothing else is touched.
- :func:`sync_to_mocks`: spec changes into the config, keeping hand edits to mock-only keys.
- A non-empty change list from either is drift (``pymock openapi sync --check`` exits 1).

>>> from pymock.config import build_config
>>> from pymock.openapi import load_spec
>>> spec = load_spec({"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {}})
>>> sync_to_spec(spec, build_config({"endpoints": [{"path": "/new", "response": {"ok": True}}]}))[1]
["added operation GET /new (mock 'get-new')"]
"""

from __future__ import annotations

import copy
import re

from .errors import SpecError
from .openapi import JSON_TYPES, Spec, esc, node_at
from .openapi_export import add_examples, infer_schema, mock_operation, mock_parts, openapi_path
from .openapi_mocks import endpoint_key, mock_path, operation_endpoint, pick_media, sample

__all__ = ["sync_to_spec", "sync_to_mocks", "MOCK_ONLY_KEYS"]

# Endpoint keys a spec never sets: sync_to_mocks keeps whatever the config says for them.
MOCK_ONLY_KEYS = ("id", "name", "description", "tags", "enabled", "priority", "match", "latency_ms",
                  "failure_rate", "failure", "fault", "variants", "sequence", "mode", "upstream",
                  "proxy")


# ---------------------------------------------------------------- sync: mocks -> spec

def sync_to_spec(spec: Spec, config, spec_name: str | None = None) -> tuple[dict, list]:
    """``spec.raw`` with the config's mock changes merged in, and a list of what changed."""
    doc = copy.deepcopy(spec.raw)
    changes: list = []
    hook = config.sections.get("contract")
    ops = {op.pointer: op for op in spec.operations}
    for endpoint in config.endpoints:
        linked = hook.operation_of(endpoint) if hook is not None else None
        if linked is not None:
            # By pointer: the config may hold its own copy of the spec.
            op = spec.operation_at(linked[1].pointer) if spec_name is None or linked[0].name == spec_name else None
        else:
            op = _matching_op(spec, endpoint)   # a hand-written mock on an operation's path
            if op is None and not _covered(endpoint, ops):
                _add_operation(doc, spec, endpoint, changes)
        if op is not None:
            _sync_operation(doc, spec, op, endpoint, changes)
    return doc, changes


def _covered(endpoint, ops) -> bool:
    key = endpoint_key(endpoint.source)
    return key is not None and key[1] in ops


def _matching_op(spec: Spec, endpoint):
    for op in spec.operations:
        if endpoint.methods and op.method in endpoint.methods and \
                _same_template(mock_path(op.path)[0], endpoint.path):
            return op
    return None


def _same_template(a: str, b: str) -> bool:
    shape = re.compile(r"\{[^{}/]*\}")
    return shape.sub("{}", a.rstrip("/")) == shape.sub("{}", b.rstrip("/"))


def _sync_operation(doc: dict, spec: Spec, op, endpoint, changes: list) -> None:
    label = f"{op.method} {op.path}"
    for status, declared, name, generated, _headers, ctype, body, present in mock_parts(endpoint):
        response = op.response(declared) or op.response(str(status))
        if response is None:
            _add_response(doc, spec, op, str(status), ctype, body if present else None, changes)
            continue
        if not present or ctype is None:
            continue
        media = next((m for m in response.content if m.content_type.split(";")[0] == ctype.split(";")[0]), None) \
            or pick_media(response.content)
        if media is None:
            continue
        if generated and (body == sample(spec, media.schema) or _valid(spec, media.schema, body)):
            continue   # a body generated from the schema, which still describes it
        _set_example(doc, spec, response, media, name, body, label, changes)
        if media.schema is not None and JSON_TYPES.match(media.content_type):
            _extend(doc, spec, media.schema, body, changes)


def _valid(spec: Spec, pointer: str | None, value) -> bool:
    if pointer is None:
        return True
    try:
        return spec.schema_compiler().validator(pointer).is_valid(value, "response")
    except SpecError:
        return False


def _writable(spec: Spec, pointer: str) -> bool:
    return not pointer.startswith(("/x-pymock-documents", "/x-pymock-synthetic"))


def _set_example(doc, spec: Spec, response, media, name: str, body, label: str, changes: list) -> None:
    if not _writable(spec, media.pointer):
        changes.append(f"skipped {label} {response.status}: its media type is in another file")
        return
    current = dict(media.examples)
    if name in current and current[name] == body:
        return
    node = node_at(doc, media.pointer)
    if spec.kind == "swagger":
        node.setdefault("examples", {})[media.content_type] = copy.deepcopy(body)
    elif name:
        node.setdefault("examples", {})[name] = {"value": copy.deepcopy(body)}
    else:
        node["example"] = copy.deepcopy(body)
        node.pop("examples", None) if not isinstance(node.get("examples"), dict) else None
    verb = "updated" if name in current else "added"
    changes.append(f"{verb} example {name or '(default)'} of {label} {response.status} {media.content_type}")


def _add_response(doc, spec: Spec, op, status: str, ctype, body, changes: list) -> None:
    responses = node_at(doc, op.pointer).setdefault("responses", {})
    entry = {"description": "Added by pymock sync"}
    if ctype is not None and body is not None:
        schema = infer_schema(body, spec.dialect) if JSON_TYPES.match(ctype) else {"type": "string"}
        if spec.kind == "swagger":
            entry.update({"schema": schema, "examples": {ctype: body}})
        else:
            entry["content"] = {ctype: {"schema": schema, "example": body}}
    responses[status] = entry
    changes.append(f"added response {status} to {op.method} {op.path}")


def _extend(doc: dict, spec: Spec, pointer: str, value, changes: list, depth: int = 0) -> None:
    """Widen the schema at ``pointer`` (as written in ``doc``) so that ``value`` fits it."""
    if depth > 20 or not _writable(spec, pointer):
        return
    try:
        node = node_at(doc, pointer)
    except KeyError:
        return
    if not isinstance(node, dict):
        return
    if isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/"):
        _extend(doc, spec, node["$ref"][1:], value, changes, depth + 1)
        return
    if value is None:
        _allow_null(node, spec, pointer, changes)
        return
    if isinstance(value, dict) and (node.get("type") in (None, "object") or "properties" in node):
        props = node.get("properties")
        for key, item in value.items():
            if isinstance(props, dict) and key in props:
                _extend(doc, spec, f"{pointer}/properties/{esc(key)}", item, changes, depth + 1)
            elif isinstance(props, dict) or node.get("additionalProperties") is False:
                node.setdefault("properties", {})[key] = infer_schema(item, spec.dialect)
                changes.append(f"extended schema {spec.where(pointer)}: added property {key!r}")
    elif isinstance(value, list) and isinstance(node.get("items"), dict):
        for item in value[:20]:
            _extend(doc, spec, pointer + "/items", item, changes, depth + 1)
    elif isinstance(node.get("enum"), list) and value not in node["enum"]:
        node["enum"].append(copy.deepcopy(value))
        changes.append(f"extended schema {spec.where(pointer)}: enum value {value!r} added")


def _allow_null(node: dict, spec: Spec, pointer: str, changes: list) -> None:
    kind = node.get("type")
    if kind == "null" or (isinstance(kind, list) and "null" in kind):
        return
    if spec.dialect == "2020-12":
        if isinstance(kind, str):
            node["type"] = [kind, "null"]
        elif isinstance(kind, list) and "null" not in kind:
            kind.append("null")
        else:
            return
    else:
        flag = "x-nullable" if spec.kind == "swagger" else "nullable"
        if node.get(flag) is True or kind is None:
            return
        node[flag] = True
    changes.append(f"extended schema {spec.where(pointer)}: null allowed")


def _add_operation(doc: dict, spec: Spec, endpoint, changes: list) -> None:
    operation = mock_operation(endpoint)
    add_examples(operation, endpoint, None)
    if spec.kind == "swagger":
        operation = _as_swagger(operation)
    path_key = openapi_path(endpoint.path)
    paths = doc.setdefault("paths", {})
    for method in (sorted(m.lower() for m in endpoint.methods) if endpoint.methods else ["get"]):
        if method in paths.get(path_key, {}):
            continue
        paths.setdefault(path_key, {})[method] = copy.deepcopy(operation)
        changes.append(f"added operation {method.upper()} {path_key} (mock {endpoint.id!r})")


def _as_swagger(operation: dict) -> dict:
    """A 3.x operation built from a mock, in Swagger 2.0 form."""
    out = {k: v for k, v in operation.items() if k not in ("requestBody", "responses", "parameters")}
    params = [{**{k: v for k, v in p.items() if k != "schema"}, **p.get("schema", {})}
              for p in operation.get("parameters", [])]
    body = operation.get("requestBody")
    if body:
        media = next(iter(body["content"].values()))
        params.append({"name": "body", "in": "body", "required": True, "schema": media.get("schema", {})})
    if params:
        out["parameters"] = [{k: v for k, v in p.items() if k != "example"} for p in params]
    out["responses"] = {}
    for status, response in operation.get("responses", {}).items():
        item = {"description": response.get("description", "Response")}
        for ctype, media in (response.get("content") or {}).items():
            item.setdefault("schema", media.get("schema", {}))
            if "example" in media:
                item.setdefault("examples", {})[ctype] = media["example"]
        if response.get("headers"):
            item["headers"] = {k: {"type": "string"} for k in response["headers"]}
        out["responses"][status] = item
    return out


# ---------------------------------------------------------------- sync: spec -> mocks

def sync_to_mocks(spec: Spec, raw_config: dict, spec_name: str | None = None, *,
                  add_missing: bool = True) -> tuple[dict, list]:
    """``raw_config`` with each operation's mock refreshed from the spec (spec-derived keys
    replaced, mock-only keys kept), vanished operations' mocks removed, and (``add_missing``)
    a mock added for each operation that has none."""
    raw = copy.deepcopy(raw_config)
    items = raw.setdefault("endpoints", [])
    changes: list = []
    ops = {op.pointer: op for op in spec.operations}
    by_id = {op.operation_id: op for op in spec.operations if op.operation_id}
    seen = set()
    kept = []
    for item in items:
        op = _op_for_item(item, ops, by_id, spec_name)
        if op is None and _linked_elsewhere(item, spec_name):
            changes.append(f"removed mock {item.get('id')!r}: its operation is gone from the spec")
            continue
        if op is not None:
            seen.add(op.pointer)
            item = _refreshed(item, operation_endpoint(spec, op, _link_name(item, spec_name)), changes)
        kept.append(item)
    for op in spec.operations if add_missing else ():
        if op.pointer not in seen:
            fresh = operation_endpoint(spec, op, spec_name)
            fresh["id"] = _free(fresh["id"], {i.get("id") for i in kept})
            kept.append(fresh)
            changes.append(f"added mock {fresh['id']!r} for {op.method} {op.path}")
    raw["endpoints"] = kept
    return raw, changes


def _link_name(item: dict, spec_name):
    link = item.get("openapi") if isinstance(item.get("openapi"), dict) else {}
    return link.get("spec", spec_name)


def _op_for_item(item: dict, ops: dict, by_id: dict, spec_name):
    if not isinstance(item, dict):
        return None
    key = endpoint_key(item)
    if key is None or (key[0] is not None and spec_name is not None and key[0] != spec_name):
        return None
    if key[1].startswith("operationId:"):
        return by_id.get(key[1][len("operationId:"):])
    return ops.get(key[1]) or (by_id.get(item["operation_id"]) if isinstance(item.get("operation_id"), str) else None)


def _linked_elsewhere(item, spec_name) -> bool:
    key = endpoint_key(item) if isinstance(item, dict) else None
    return key is not None and (key[0] is None or spec_name is None or key[0] == spec_name)


def _refreshed(item: dict, fresh: dict, changes: list) -> dict:
    out = {k: v for k, v in fresh.items() if k not in MOCK_ONLY_KEYS}
    out = {**{k: item[k] for k in MOCK_ONLY_KEYS if k in item}, **out}
    if "id" not in out:
        out["id"] = fresh["id"]
    if "match" not in item and "match" in fresh:
        out["match"] = fresh["match"]
    differing = sorted(k for k in set(out) | set(item) if out.get(k) != item.get(k))
    if differing:
        changes.append(f"updated mock {out['id']!r} from the spec: {', '.join(differing)}")
    return out


def _free(ident: str, taken: set) -> str:
    base, n = ident, 2
    while ident in taken:
        ident, n = f"{base}-{n}", n + 1
    return ident
