"""Spec -> mocks: one plain pymock endpoint per operation, with every declared response.

Layer 1: reads spec files through ``openapi.load_spec`` (cached by modification time), opens
no sockets and starts no threads; must not import ``config``, ``engine`` or ``app`` (config
calls in here, not the other way round).

Each operation becomes an endpoint whose top-level response is the default one (the lowest
2xx, its first example) and whose ``responses`` list holds every other declared status and
named example, so ``Prefer: code=404`` / ``Prefer: example=name`` can pick them (Prism's
convention). Bodies come from ``example``/``examples``, else are generated from the schema by
``openapi_samples`` (deterministic here; ``Prefer: dynamic=true`` uses an injected rng).
This module also loads the specs a config's ``openapi`` key names (``config_specs``).

>>> from pymock.openapi import load_spec
>>> spec = load_spec({"openapi": "3.1.0", "info": {"title": "t", "version": "1"},
...     "paths": {"/pets": {"get": {"operationId": "listPets", "responses": {"200": {
...         "description": "ok", "content": {"application/json": {"schema": {
...             "type": "array", "items": {"type": "object", "required": ["id"],
...             "properties": {"id": {"type": "integer", "minimum": 1},
...                            "born": {"type": "string", "format": "date"}}}}}}}}}}}})
>>> endpoint = spec_endpoints(spec, "pets.yaml")[0]
>>> endpoint["id"], endpoint["path"], endpoint["status"], endpoint["response"]
('listPets', '/pets', 200, [{'id': 1, 'born': '2024-01-15'}])
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from dataclasses import dataclass, field

from .errors import Problem, SpecError
from .openapi import JSON_TYPES, Spec, load_spec, load_spec_text
from .openapi_samples import Sampler, pattern_sample, sample

__all__ = ["Sampler", "sample", "spec_endpoints", "operation_endpoint", "import_config",
           "parse_prefer", "default_status", "pick_media", "LoadedSpec", "config_specs",
           "unclaimed", "mock_path", "body_fields", "header_text", "endpoint_key", "document_entry",
           "add_spec_entry", "pattern_sample"]

_SKIP_HEADERS = frozenset({"content-type", "content-length", "transfer-encoding", "connection"})
_PARAM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")


# ---------------------------------------------------------------- operations to endpoints

def default_status(statuses) -> str | None:
    """The response a mock sends by default: the lowest 2xx, then 2XX, default, lowest other."""
    exact = sorted(s for s in statuses if s.isdigit())
    for status in exact:
        if status.startswith("2"):
            return status
    for candidate in ("2XX", "default"):
        if candidate in statuses:
            return candidate
    return exact[0] if exact else (next(iter(statuses), None))


def _status_code(status: str, is_default: bool) -> int:
    if status.isdigit():
        return int(status)
    if status == "default":
        return 200 if is_default else 500
    return int(status[0]) * 100


def pick_media(content, accept: str | None = None):
    """The media type a mock answers with: the one ``accept`` names, else JSON, else the first."""
    if not content:
        return None
    if accept:
        for media in content:
            if media.content_type.split(";")[0].strip().lower() in accept.lower():
                return media
    return next((m for m in content if JSON_TYPES.match(m.content_type)), content[0])


def body_fields(value, content_type: str | None, present: bool = True) -> dict:
    """Endpoint keys that send ``value`` as a body of ``content_type``."""
    out = {}
    if content_type:
        ct = "application/json" if content_type in ("*/*", "application/*") else content_type
        if ct != "application/json" or not present:
            out["content_type"] = ct
    if not present:
        return out
    json_type = content_type is None or JSON_TYPES.match(content_type)
    if json_type and not isinstance(value, str):
        out["response"] = value
    elif json_type:
        out["body"] = json.dumps(value)
        out["content_type"] = out.get("content_type", "application/json")
    else:
        out["body"] = value if isinstance(value, str) else json.dumps(value)
    return out


def header_text(value) -> str:
    """A header value in the simple style, on one line and in ASCII."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, list):
        text = ",".join(header_text(v) for v in value)
    elif isinstance(value, dict):
        text = ",".join(f"{k},{header_text(v)}" for k, v in value.items())
    else:
        text = "" if value is None else str(value)
    return re.sub(r"[\r\n]+", " ", text).encode("ascii", "replace").decode()


def _response_parts(spec: Spec, op, response, is_default: bool) -> list[dict]:
    """Every (example) body one declared response offers, as endpoint-part dicts."""
    status = _status_code(response.status, is_default)
    headers = {}
    for header in response.headers:
        if header.name.lower() in _SKIP_HEADERS:
            continue
        value = header.examples[0][1] if header.examples else sample(spec, header.schema)
        headers[header.name] = header_text("string" if value is None and header.schema is None else value)
    base = {"status": status, **({"headers": headers} if headers else {})}
    if response.status != str(status):
        base["declared"] = response.status
    media = pick_media(response.content)
    if media is None:
        return [base]
    if media.examples:
        return [{**base, **({"example": name} if name else {}), **body_fields(value, media.content_type)}
                for name, value in media.examples]
    if media.schema is None:
        return [{**base, **body_fields(None, media.content_type, present=False)}]
    return [{**base, "generated": True, **body_fields(sample(spec, media.schema), media.content_type)}]


def mock_path(spec_path: str) -> tuple[str, dict]:
    """The pymock path for a spec path, plus query conditions from a ``#a=b`` / ``?a=b`` suffix
    (AWS specs write one operation per query action: ``/#Action=RunInstances``)."""
    cut = min((i for i in (spec_path.find("#"), spec_path.find("?")) if i >= 0), default=-1)
    base, rest = (spec_path[:cut], spec_path[cut + 1:]) if cut >= 0 else (spec_path, "")
    query = {}
    for pair in filter(None, re.split(r"[&#?]", rest)):
        name, eq, value = pair.partition("=")
        query[name] = value if eq else {"present": True}

    def clean(found):
        name = found.group(1)
        if _PARAM_NAME.match(name):
            return found.group(0)
        name = re.sub(r"[^A-Za-z0-9_\-]", "_", name)
        return "{" + (name if _PARAM_NAME.match(name) else "_" + name) + "}"
    return re.sub(r"\{([^{}/]*)\}", clean, base) or "/", query


def _slug(method: str, path: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", path)
    return "-".join([method.lower(), *words]) if words else f"{method.lower()}-root"


def operation_endpoint(spec: Spec, op, spec_name: str | None = None) -> dict:
    """A plain pymock endpoint (a dict build_config accepts) for one operation."""
    path, query = mock_path(op.path)
    statuses = [r.status for r in op.responses]
    chosen = default_status(statuses)
    parts = []
    for response in op.responses:
        parts += _response_parts(spec, op, response, response.status == chosen)
    parts = parts or [{"status": 200}]
    first = next((i for i, p in enumerate(parts) if p.get("declared", str(p["status"])) == chosen), 0)
    top = parts.pop(first)
    link = {"spec": spec_name, "path": op.path, "pointer": op.pointer}
    for key in ("example", "generated", "declared"):
        if key in top:
            link[key] = top.pop(key)
    endpoint = {"id": _ident(op), "method": op.method, "path": path}
    if op.summary:
        endpoint["name"] = op.summary[:200]
    if op.tags:
        endpoint["tags"] = list(op.tags)
    if query:
        endpoint["match"] = {"query": query}
    if op.operation_id:
        endpoint["operation_id"] = op.operation_id
    endpoint["openapi"] = {k: v for k, v in link.items() if v is not None}
    endpoint.update(top)
    if parts:
        endpoint["responses"] = parts
    if re.search(r"\{[{%#]", json.dumps(endpoint)):
        endpoint["templating"] = False   # spec examples are data: never render them as templates
    return endpoint


def _ident(op) -> str:
    if op.operation_id:
        return re.sub(r"[^A-Za-z0-9_.\-]+", "-", op.operation_id).strip("-") or _slug(op.method, op.path)
    return _slug(op.method, op.path)


def spec_endpoints(spec: Spec, spec_name: str | None = None, taken=()) -> list[dict]:
    """An endpoint per operation, with ids made unique (also against ``taken``)."""
    seen = set(taken)
    out = []
    for op in spec.operations:
        endpoint = operation_endpoint(spec, op, spec_name)
        ident, n = endpoint["id"], 2
        while endpoint["id"] in seen:
            endpoint["id"] = f"{ident}-{n}"
            n += 1
        seen.add(endpoint["id"])
        out.append(endpoint)
    return out


def import_config(spec: Spec, spec_ref: str | None = None) -> dict:
    """A whole pymock config for a spec; ``spec_ref`` (a path) links it for contract checks."""
    config = {"name": spec.title or "imported spec"}
    if spec_ref:
        config["openapi"] = spec_ref
    config["endpoints"] = spec_endpoints(spec, spec_ref)
    return config


# ---------------------------------------------------------------- Prefer (RFC 7240, Prism)

def parse_prefer(header: str | None) -> dict:
    """``code=404, example=cat; dynamic=true`` -> {"code": "404", "example": "cat", "dynamic": "true"}."""
    out = {}
    for part in re.split(r"[,;]", header or ""):
        name, eq, value = part.strip().partition("=")
        if eq and name.strip().lower() in ("code", "example", "dynamic"):
            out[name.strip().lower()] = value.strip().strip('"')
    return out


# ---------------------------------------------------------------- specs named in a config

@dataclass
class LoadedSpec:
    """A spec the config's ``openapi`` key names, and the endpoints made from it."""

    name: str
    spec: Spec
    where: str                     # "openapi" or "openapi[1]": for messages
    endpoints: list = field(default_factory=list)
    mocks: bool = True


_CACHE: dict = {}
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 16


def _stamps(paths) -> tuple:
    out = []
    for path in paths:
        try:
            info = os.stat(path)
        except OSError:
            return ()
        out.append((path, info.st_mtime_ns, info.st_size))
    return tuple(out)


def _load_cached(source, name: str) -> tuple[Spec, list]:
    """A spec file (re-read when it or a file it references changed) or an inline document
    (by content), with its endpoints: config reloads and admin edits reuse both, and the
    validators compiled on the spec."""
    if isinstance(source, str):
        key = (source, name)
    else:
        text = json.dumps(source, sort_keys=True, default=str).encode()
        key = ("document:" + hashlib.sha1(text).hexdigest(), name)
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
    if hit is not None and (hit[0] is None or (hit[0] and _stamps(p for p, _, _ in hit[0]) == hit[0])):
        return hit[1], hit[2]
    spec = load_spec(source, name=None if isinstance(source, str) else name)
    endpoints = spec_endpoints(spec, name)
    with _CACHE_LOCK:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = (_stamps(spec.files) if isinstance(source, str) else None, spec, endpoints)
    return spec, endpoints


def config_specs(value, base_dir: str, problems: list, files: set, extra=()) -> list[LoadedSpec]:
    """Load the specs a config's ``openapi`` key names (a path, ``{"path"|"document", "name",
    "mocks"}``, or a list of those) plus ``extra`` paths (``--spec``). Problems use the key."""
    entries = [] if value is None else value if isinstance(value, list) else [value]
    out = []
    for index, entry in enumerate([*entries, *extra]):
        where = "openapi" if not isinstance(value, list) and index == 0 and value is not None \
            else f"openapi[{index}]"
        loaded = _config_spec(entry, where, base_dir, problems)
        if loaded is not None:
            files.update(loaded.spec.files)
            out.append(loaded)
    return out


def _config_spec(entry, where: str, base_dir: str, problems: list) -> LoadedSpec | None:
    if isinstance(entry, str):
        entry = {"path": entry}
    if not isinstance(entry, dict) or not (("path" in entry) ^ ("document" in entry)):
        problems.append(Problem(where, "expected a spec path, or an object with 'path' or 'document'",
                                'e.g. "openapi": "petstore.yaml"'))
        return None
    unknown = sorted(set(entry) - {"path", "document", "name", "mocks"})
    if unknown:
        problems.append(Problem(f"{where}.{unknown[0]}", "unknown key",
                                "allowed here: path, document, name, mocks"))
        return None
    try:
        if "path" in entry:
            path = os.path.normpath(os.path.join(base_dir, str(entry["path"])))
            name = str(entry.get("name", entry["path"]))
            spec, endpoints = _load_cached(path, name)
        else:
            name = str(entry.get("name", "spec"))
            spec, endpoints = _load_cached(entry["document"], name)
    except SpecError as exc:
        problems.append(Problem(where, f"cannot load the spec: {exc}",
                                "fix the spec, or remove it from 'openapi'"))
        return None
    return LoadedSpec(name, spec, where, endpoints, entry.get("mocks", True) is not False)


def document_entry(text, name: str | None = None) -> tuple[Spec, dict]:
    """A spec posted as JSON/YAML text, and the ``openapi`` config entry that serves it."""
    spec = load_spec_text(text, name=name or "posted spec")
    if not name:
        name = re.sub(r"[^a-z0-9]+", "-", spec.title.lower()).strip("-") or "spec"
    return spec, {"name": name, "document": spec.raw}


def add_spec_entry(raw: dict, entry: dict) -> None:
    """Add ``entry`` to ``raw["openapi"]``, replacing a spec of the same name."""
    value = raw.get("openapi")
    entries = [] if value is None else list(value) if isinstance(value, list) else [value]

    def named(item) -> str:
        return item if isinstance(item, str) else str(item.get("name", item.get("path", ""))) \
            if isinstance(item, dict) else ""
    raw["openapi"] = [item for item in entries if named(item) != entry["name"]] + [entry]


def endpoint_key(item: dict) -> tuple | None:
    """What links an endpoint to an operation: (spec name or None, pointer or operationId)."""
    link = item.get("openapi") if isinstance(item.get("openapi"), dict) else {}
    if isinstance(link.get("pointer"), str):
        return (link.get("spec"), link["pointer"])
    if isinstance(item.get("operation_id"), str):
        return (link.get("spec"), "operationId:" + item["operation_id"])
    return None


def unclaimed(loaded: list[LoadedSpec], explicit, taken_ids=()) -> list[dict]:
    """Generated endpoints no explicit endpoint overrides, with ids unique against
    ``taken_ids`` (the explicit endpoints' ids)."""
    explicit = [e for e in explicit if isinstance(e, dict)] if isinstance(explicit, list) else []
    claimed = {endpoint_key(e) for e in explicit} - {None}
    by_any_spec = {key[1] for key in claimed if key[0] is None}
    taken = set(taken_ids) | {e.get("id") for e in explicit if isinstance(e.get("id"), str)}
    out = []
    for item in loaded:
        if not item.mocks:
            continue
        for endpoint in item.endpoints:
            op_id = "operationId:" + endpoint["operation_id"] if "operation_id" in endpoint else None
            keys = {endpoint["openapi"]["pointer"], op_id} - {None}
            if keys & by_any_spec or any((item.name, k) in claimed for k in keys):
                continue
            if endpoint["id"] in taken:
                endpoint = {**endpoint, "id": _free_id(endpoint["id"], taken)}
            taken.add(endpoint["id"])
            out.append(endpoint)
    return out


def _free_id(ident: str, taken: set) -> str:
    n = 2
    while f"{ident}-{n}" in taken:
        n += 1
    return f"{ident}-{n}"
