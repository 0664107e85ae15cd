"""The breaking-change check catalogue (``CHECKS``) and the walk that applies it.

Layer 0 (pure): imports only the standard library and ``.specdiff``/``.errors``; no I/O.
``run_checks(old_model, new_model, today)`` returns ``Change``s; ``specdiff.diff`` sorts,
filters and reports them. The level of a check follows what a client sees: in a *request*,
tightening a constraint breaks callers (the server now rejects what it accepted), in a
*response*, widening breaks them (they now receive what they did not expect).

Schema checks are named ``<where>-<what>`` with ``<where>`` one of ``SCHEMA_KINDS`` (the body
itself, a property in it, a parameter, a response header), e.g. ``request-property-min-increased``.
Schemas are compared after ``$ref`` resolution and after merging ``allOf`` branches, so moving a
schema into ``components`` or splitting it into ``allOf`` parts is not reported.

>>> CHECKS["request-property-became-required"]
('ERR', 'a request property became required')
>>> CHECKS["response-property-enum-value-added"][0]
'WARN'

The schema comparison itself (and the schema check families) lives in ``specdiff_schema``;
every name stays importable from here.

Must not import any higher pymock layer, sockets, threads or file-reading modules.
"""

from __future__ import annotations

import datetime

from .specdiff import Change, SpecModel, escape_pointer, path_key
from .specdiff_schema import (REQUEST_KINDS, RESPONSE_KINDS, SCHEMA_KINDS, _ANY_PATTERNS,  # noqa: F401
                              _BOUND_LEVELS, _BOUNDS, _CHILD_KIND, _SCHEMA_FAMILIES, _WIDER_FORMAT,
                              _Memo, _Schemas, _additional, _bounds, _canon, _conditionals, _defaults,
                              _discriminator, _enum, _enums, _format, _nullability, _nullable, _number,
                              _pattern, _short, _types)

__all__ = ["CHECKS", "SCHEMA_KINDS", "run_checks"]


def _catalogue() -> dict:
    checks = {}
    for suffix, (req, resp, text) in _SCHEMA_FAMILIES.items():
        for kind in SCHEMA_KINDS:
            level = req if kind in REQUEST_KINDS else resp
            if level:
                checks[f"{kind}-{suffix}"] = (level, f"{kind.replace('-', ' ')}: {text}")
    for change in ("changed", "added", "removed"):   # a parameter's default is what the server assumes
        checks[f"request-parameter-default-value-{change}"] = ("ERR", f"a request parameter's default value {change}")
    checks.update({
        "api-path-removed": ("ERR", "a path was removed"),
        "api-path-removed-with-deprecation": ("INFO", "a deprecated path was removed"),
        "api-path-removed-before-sunset": ("ERR", "a deprecated path was removed before its sunset date"),
        "api-operation-removed": ("ERR", "an operation was removed"),
        "api-operation-removed-with-deprecation": ("INFO", "a deprecated operation was removed"),
        "api-operation-removed-before-sunset": ("ERR", "a deprecated operation was removed before its sunset date"),
        "endpoint-added": ("INFO", "an operation was added"),
        "api-operation-id-changed": ("WARN", "the operationId changed (generated clients rename the method)"),
        "api-operation-id-added": ("INFO", "an operationId was added"),
        "endpoint-deprecated": ("INFO", "an operation was deprecated without a sunset date"),
        "endpoint-deprecated-with-sunset": ("INFO", "an operation was deprecated with a sunset date"),
        "endpoint-reactivated": ("INFO", "a deprecated operation is no longer deprecated"),
        "endpoint-sunset-changed": ("INFO", "the sunset date of a deprecated operation changed"),
        "endpoint-sunset-brought-forward": ("WARN", "the sunset date of a deprecated operation moved earlier"),
        "api-stability-decreased": ("ERR", "x-stability-level decreased"),
        "api-stability-increased": ("INFO", "x-stability-level increased"),
        "webhook-removed": ("ERR", "a webhook was removed"),
        "webhook-added": ("INFO", "a webhook was added"),
        "new-required-request-parameter": ("ERR", "a required request parameter was added"),
        "new-optional-request-parameter": ("INFO", "an optional request parameter was added"),
        "request-parameter-removed": ("WARN", "a request parameter was removed"),
        "request-parameter-removed-with-deprecation": ("INFO", "a deprecated request parameter was removed"),
        "request-parameter-became-required": ("ERR", "a request parameter became required"),
        "request-parameter-became-optional": ("INFO", "a request parameter became optional"),
        "request-parameter-deprecated": ("INFO", "a request parameter was deprecated"),
        "request-body-removed": ("ERR", "the request body was removed"),
        "request-body-added-required": ("ERR", "a required request body was added"),
        "request-body-added-optional": ("INFO", "an optional request body was added"),
        "request-body-became-required": ("ERR", "the request body became required"),
        "request-body-became-optional": ("INFO", "the request body became optional"),
        "request-body-media-type-removed": ("ERR", "a request media type was removed"),
        "request-body-media-type-added": ("INFO", "a request media type was added"),
        "new-required-request-property": ("ERR", "a required request property was added"),
        "new-optional-request-property": ("INFO", "an optional request property was added"),
        "request-property-removed": ("WARN", "a request property was removed"),
        "request-property-became-required": ("ERR", "a request property became required"),
        "request-property-became-optional": ("INFO", "a request property became optional"),
        "request-property-deprecated": ("INFO", "a request property was deprecated"),
        "response-success-status-removed": ("ERR", "a success (2xx) response was removed"),
        "response-non-success-status-removed": ("INFO", "a non-success response was removed"),
        "response-success-status-added": ("INFO", "a success response was added"),
        "response-non-success-status-added": ("INFO", "a non-success response was added"),
        "response-media-type-removed": ("ERR", "a response media type was removed"),
        "response-media-type-added": ("INFO", "a response media type was added"),
        "required-response-header-removed": ("ERR", "a required response header was removed"),
        "optional-response-header-removed": ("WARN", "an optional response header was removed"),
        "response-header-added": ("INFO", "a response header was added"),
        "response-header-became-optional": ("ERR", "a response header became optional"),
        "response-required-property-removed": ("ERR", "a required response property was removed"),
        "response-optional-property-removed": ("WARN", "an optional response property was removed"),
        "response-required-property-added": ("INFO", "a required response property was added"),
        "response-optional-property-added": ("INFO", "an optional response property was added"),
        "response-property-became-optional": ("ERR", "a response property became optional"),
        "response-property-became-required": ("INFO", "a response property became required"),
        "response-property-deprecated": ("INFO", "a response property was deprecated"),
        "api-security-added": ("ERR", "security added to a public operation (INFO when it is one more alternative)"),
        "api-security-removed": ("WARN", "a security alternative was removed (INFO when the operation became public)"),
        "api-security-scope-added": ("WARN", "a security requirement needs a further scope"),
        "api-security-scope-removed": ("INFO", "a security requirement needs one scope fewer"),
        "api-global-security-added": ("ERR", "global security added to a public API (INFO when one more alternative)"),
        "api-global-security-removed": ("WARN", "a global security alternative was removed (INFO when the API became public)"),
        "api-global-security-scope-added": ("WARN", "the global security requirement needs a further scope"),
        "api-global-security-scope-removed": ("INFO", "the global security requirement needs one scope fewer"),
    })
    return dict(sorted(checks.items()))


CHECKS = _catalogue()
_STABILITY = {"draft": 0, "alpha": 1, "beta": 2, "stable": 3}


class _Out:
    """Collects changes for one operation (method, path) or for the document."""

    def __init__(self, sink: list, method: str = "", path: str = "", direction: str = ""):
        self.sink, self.method, self.path, self.direction = sink, method, path, direction

    def add(self, check: str, pointer: str, message: str, level: str | None = None, direction=None):
        self.sink.append(Change(check, level or CHECKS[check][0], self.method, self.path, pointer,
                                self.direction if direction is None else direction, message))

    def towards(self, direction: str) -> "_Out":
        return _Out(self.sink, self.method, self.path, direction)


def run_checks(old: SpecModel, new: SpecModel, today: datetime.date | None = None) -> list[Change]:
    """Every change from ``old`` to ``new`` (unsorted; ``specdiff.diff`` orders them)."""
    sink: list = []
    memo = _Memo()
    _document(_Out(sink), old, new)
    old_ops = {op.key: op for op in old.operations()}
    new_ops = {op.key: op for op in new.operations()}
    new_paths = {path_key(op.path) for op in new_ops.values()}
    for key, op in old_ops.items():
        if key not in new_ops:
            _removed(_Out(sink, op.method, op.path), op, key[1] not in new_paths, today)
    for key, op in new_ops.items():
        if key not in old_ops:
            _Out(sink, op.method, op.path).add("endpoint-added", op.pointer,
                                               f"{op.method} {op.path} was added")
        else:
            _operation(_Out(sink, op.method, op.path), old, new, old_ops[key], op, today, memo)
    return sink


# ---------------------------------------------------------------- document and operations

def _document(out: _Out, old: SpecModel, new: SpecModel) -> None:
    _security(out, old.global_security(), new.global_security(), "api-global", "/security")
    old_hooks, new_hooks = old.webhooks(), new.webhooks()
    for name in old_hooks:
        if name not in new_hooks:
            out.add("webhook-removed", f"/webhooks/{escape_pointer(name)}",
                    f"the webhook '{name}' was removed; subscribers stop receiving it")
    for name in new_hooks:
        if name not in old_hooks:
            out.add("webhook-added", f"/webhooks/{escape_pointer(name)}", f"the webhook '{name}' was added")


def _parse_date(value) -> datetime.date | None:
    if isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def _removed(out: _Out, op, path_gone: bool, today) -> None:
    kind = "api-path" if path_gone else "api-operation"
    what = f"the path {op.path}" if path_gone else f"{op.method} {op.path}"
    if not op.get("deprecated"):
        out.add(f"{kind}-removed", op.pointer, f"{what} was removed without being deprecated first; "
                "clients calling it now get 404 or 405")
        return
    sunset = _parse_date(op.get("x-sunset"))
    if sunset and today and today < sunset:
        out.add(f"{kind}-removed-before-sunset", op.pointer,
                f"{what} was removed before its sunset date {sunset.isoformat()}")
    else:
        out.add(f"{kind}-removed-with-deprecation", op.pointer, f"{what} was deprecated and is now removed")


def _operation(out: _Out, old: SpecModel, new: SpecModel, o, n, today, memo) -> None:
    old_id, new_id = o.get("operationId"), n.get("operationId")
    if old_id and old_id != new_id:
        out.add("api-operation-id-changed", f"{n.pointer}/operationId",
                f"operationId changed from '{old_id}' to '{new_id or '(none)'}'; generated clients rename the method")
    elif new_id and not old_id:
        out.add("api-operation-id-added", f"{n.pointer}/operationId", f"operationId '{new_id}' was added")
    _deprecation(out, o, n, today)
    _stability(out, o, n)
    if o.own_security or n.own_security:
        _security(out, o.security, n.security, "api", f"{n.pointer}/security")
    walk = _Schemas(old, new, memo)
    _parameters(out.towards("request"), walk, o, n)
    _request_body(out.towards("request"), walk, o.body, n.body)
    _responses(out.towards("response"), walk, o, n)


def _deprecation(out: _Out, o, n, today) -> None:
    was, now = bool(o.get("deprecated")), bool(n.get("deprecated"))
    at = f"{n.pointer}/deprecated"
    if now and not was:
        sunset = _parse_date(n.get("x-sunset"))
        if sunset:
            out.add("endpoint-deprecated-with-sunset", at, f"{n.method} {n.path} was deprecated; "
                    f"it may be removed after {sunset.isoformat()}")
        else:
            out.add("endpoint-deprecated", at, f"{n.method} {n.path} was deprecated (no x-sunset date given)")
    elif was and not now:
        out.add("endpoint-reactivated", at, f"{n.method} {n.path} is no longer deprecated")
    elif was and now:
        before, after = _parse_date(o.get("x-sunset")), _parse_date(n.get("x-sunset"))
        if before and after and after < before:
            out.add("endpoint-sunset-brought-forward", f"{n.pointer}/x-sunset",
                    f"the sunset date moved earlier, from {before.isoformat()} to {after.isoformat()}")
        elif before != after:
            out.add("endpoint-sunset-changed", f"{n.pointer}/x-sunset",
                    f"the sunset date changed from {before or 'none'} to {after or 'none'}")


def _stability(out: _Out, o, n) -> None:
    before, after = o.get("x-stability-level"), n.get("x-stability-level")
    if before in _STABILITY and after in _STABILITY and before != after:
        check = "api-stability-decreased" if _STABILITY[after] < _STABILITY[before] else "api-stability-increased"
        out.add(check, f"{n.pointer}/x-stability-level", f"x-stability-level changed from {before} to {after}")


def _requirements(items) -> dict:
    """Security alternatives keyed by their scheme names -> {scheme: set(scopes)}."""
    out = {}
    for item in items or []:
        if isinstance(item, dict):
            out[tuple(sorted(item))] = {name: set(scopes or []) for name, scopes in item.items()}
    return out


def _security(out: _Out, old, new, prefix: str, pointer: str) -> None:
    before, after = _requirements(old), _requirements(new)
    open_before = not before or () in before
    open_after = not after or () in after
    names = lambda key: " + ".join(key) or "no authentication"  # noqa: E731
    for key in after:
        if key not in before and key:
            public = open_before and not open_after
            out.add(f"{prefix}-security-added", pointer,
                    f"now requires {names(key)}; clients that send no credentials are rejected" if public
                    else f"{names(key)} was added as another way to authenticate",
                    level=None if public else "INFO")
    for key in before:
        if key not in after and key:
            out.add(f"{prefix}-security-removed", pointer,
                    f"{names(key)} is no longer required: {'the API' if prefix == 'api-global' else 'the operation'} "
                    "is public now" if open_after else
                    f"{names(key)} is no longer accepted; clients using it must switch",
                    level="INFO" if open_after else None)
    for key in sorted(set(before) & set(after)):
        for scheme in key:
            added, dropped = after[key][scheme] - before[key][scheme], before[key][scheme] - after[key][scheme]
            if added:
                out.add(f"{prefix}-security-scope-added", pointer,
                        f"{scheme} now also needs scope(s) {', '.join(sorted(added))}; older tokens may lack them")
            if dropped:
                out.add(f"{prefix}-security-scope-removed", pointer,
                        f"{scheme} no longer needs scope(s) {', '.join(sorted(dropped))}")


# ---------------------------------------------------------------- parameters and bodies

def _param_keys(op) -> dict:
    names = [segment[1:-1] for segment in op.path.split("/") if segment.startswith("{") and segment.endswith("}")]
    keyed = {}
    for param in op.parameters:
        if param.location == "path" and param.name in names:
            key = ("path", names.index(param.name))     # renaming a path parameter is no change
        elif param.location == "header":
            key = ("header", param.name.lower())
        else:
            key = (param.location, param.name)
        keyed[key] = param
    return keyed


def _parameters(out: _Out, walk, o, n) -> None:
    before, after = _param_keys(o), _param_keys(n)
    for key, param in before.items():
        if key not in after:
            check = "request-parameter-removed-with-deprecation" if param.deprecated else "request-parameter-removed"
            out.add(check, param.pointer, f"the {param.location} parameter '{param.name}' was removed; "
                    "clients still sending it may be rejected")
    for key, param in after.items():
        if key not in before:
            if param.required:
                out.add("new-required-request-parameter", param.pointer,
                        f"a required {param.location} parameter '{param.name}' was added; existing clients do not send it")
            else:
                out.add("new-optional-request-parameter", param.pointer,
                        f"an optional {param.location} parameter '{param.name}' was added")
            continue
        old_param = before[key]
        label = f"the {param.location} parameter '{param.name}'"
        if param.required and not old_param.required:
            out.add("request-parameter-became-required", f"{param.pointer}/required", f"{label} became required")
        elif old_param.required and not param.required:
            out.add("request-parameter-became-optional", f"{param.pointer}/required", f"{label} became optional")
        if param.deprecated and not old_param.deprecated:
            out.add("request-parameter-deprecated", f"{param.pointer}/deprecated", f"{label} was deprecated")
        at = f"{param.pointer}/content/{escape_pointer(param.media)}/schema" if param.media else f"{param.pointer}/schema"
        walk.compare(out, old_param.schema, param.schema, at, "request-parameter", "", label, param)


def _request_body(out: _Out, walk, o, n) -> None:
    if o is None and n is None:
        return
    if n is None:
        out.add("request-body-removed", o.pointer, "the request body was removed; clients still send one")
        return
    if o is None:
        if n.required:
            out.add("request-body-added-required", n.pointer, "a required request body was added")
        else:
            out.add("request-body-added-optional", n.pointer, "an optional request body was added")
        return
    if n.required and not o.required:
        out.add("request-body-became-required", f"{n.pointer}/required", "the request body became required")
    elif o.required and not n.required:
        out.add("request-body-became-optional", f"{n.pointer}/required", "the request body became optional")
    for media, mt in o.content.items():
        if media not in n.content:
            out.add("request-body-media-type-removed", mt.pointer,
                    f"the request media type {media} is no longer accepted")
    for media, mt in n.content.items():
        if media not in o.content:
            out.add("request-body-media-type-added", mt.pointer, f"the request media type {media} was added")
        else:
            walk.compare(out, o.content[media].schema, mt.schema, f"{mt.pointer}/schema", "request-body", "",
                         f"the request body ({media})")


def _is_success(status: str) -> bool:
    return status.startswith("2")


def _responses(out: _Out, walk, o, n) -> None:
    for status, resp in o.responses.items():
        if status not in n.responses:
            check = "response-success-status-removed" if _is_success(status) else "response-non-success-status-removed"
            out.add(check, resp.pointer, f"the {status} response was removed")
    for status, resp in n.responses.items():
        if status not in o.responses:
            check = "response-success-status-added" if _is_success(status) else "response-non-success-status-added"
            out.add(check, resp.pointer, f"a {status} response was added")
            continue
        old_resp = o.responses[status]
        _headers(out, walk, status, old_resp.headers, resp.headers)
        for media, mt in old_resp.content.items():
            if media not in resp.content:
                out.add("response-media-type-removed", mt.pointer,
                        f"the {status} response no longer returns {media}")
        for media, mt in resp.content.items():
            if media not in old_resp.content:
                out.add("response-media-type-added", mt.pointer, f"the {status} response may now return {media}")
            else:
                walk.compare(out, old_resp.content[media].schema, mt.schema, f"{mt.pointer}/schema",
                             "response-body", "", f"the {status} response body ({media})")


def _headers(out: _Out, walk, status: str, before: dict, after: dict) -> None:
    lower_after = {name.lower(): h for name, h in after.items()}
    lower_before = {name.lower(): h for name, h in before.items()}
    for name, header in lower_before.items():
        if name not in lower_after:
            check = "required-response-header-removed" if header.required else "optional-response-header-removed"
            out.add(check, header.pointer, f"the {status} response no longer sends the header {header.name}")
    for name, header in lower_after.items():
        old_header = lower_before.get(name)
        if old_header is None:
            out.add("response-header-added", header.pointer, f"the {status} response sends a new header {header.name}")
            continue
        if old_header.required and not header.required:
            out.add("response-header-became-optional", f"{header.pointer}/required",
                    f"the {status} response header {header.name} became optional")
        walk.compare(out, old_header.schema, header.schema, f"{header.pointer}/schema", "response-header", "",
                     f"the {status} response header {header.name}")
