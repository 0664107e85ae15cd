"""The admin REST API. ``ADMIN_ROUTES`` below is the whole API: read it to learn it.

Layer 1: handlers take the app, the config snapshot and the request, and return a
``Response``; they never touch sockets. ``/__admin/openapi.json`` is generated from the same
table, so the document cannot drift from the code.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import parse_qs

from . import __version__, environments, state_admin, workflow_api
from .config import ENDPOINT_KEYS, generate_id
from .errors import PROBLEM_CONTENT_TYPE, ConfigError, ConflictError, NotFoundError, Problem, SpecError
from .merge_patch import merge_patch
from .files import atomic_write
from .inspector import inspect_entry
from .matching import Route, RouteMiss, Router, compile_path
from .model import Request, Response, missing_route, problem_response
from .modes import recording_snapshot, recording_start, recording_status, recording_stop

__all__ = ["ADMIN_ROUTES", "AdminRoute", "dispatch", "unauthorized", "forbidden_for_viewer", "admin_openapi"]


@dataclass(frozen=True)
class AdminRoute:
    method: str
    path: str
    handler: object
    summary: str


def _json(status: int, payload, headers=()) -> Response:
    body = json.dumps(payload, indent=2, default=str).encode()
    return Response(status, [("Content-Type", "application/json"), *headers], body)


def _body_json(request: Request):
    """The request body as a JSON object, or a 400 problem response explaining why not."""
    if not request.body.strip():
        return problem_response(400, "Request body required", "send a JSON object")
    try:
        payload = json.loads(request.body)
    except RecursionError:
        return problem_response(400, "Invalid JSON", "the request body is nested too deeply")
    except (ValueError, UnicodeDecodeError) as exc:
        where = f" at line {exc.lineno}, column {exc.colno}: {exc.msg}" if hasattr(exc, "lineno") else f": {exc}"
        return problem_response(400, "Invalid JSON", f"the request body is not valid JSON{where}")
    if not isinstance(payload, dict):
        return problem_response(400, "Invalid JSON", "expected a JSON object")
    escaping = _escaping_body_files(payload)
    if escaping:
        return problem_response(400, "body_file outside the config folder",
                                f"{escaping!r}: mocks made through the admin API may only read files "
                                "inside the config file's folder (a relative path without '..')")
    return payload


def _escaping_body_files(value):
    """The first ``body_file`` in ``value`` that is absolute or climbs out with '..', if any.

    Confining admin-made mocks keeps the admin API from reading arbitrary files
    (e.g. /etc/passwd); a config file written by the operator may still point anywhere.
    """
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "body_file" and isinstance(item, str):
                if os.path.isabs(item) or os.path.normpath(item).split(os.sep)[0] == "..":
                    return item
            found = _escaping_body_files(item)
            if found:
                return found
    elif isinstance(value, list):
        for item in value:
            found = _escaping_body_files(item)
            if found:
                return found
    return None


def _apply(app, mutate, index: int):
    """Run ``app.edit(mutate)``; on a bad result, a 400 naming problems relative to the mock."""
    try:
        return app.edit(mutate)
    except ConfigError as exc:
        # Problems come from validating the whole config; name them relative to the edited mock.
        prefix = f"endpoints[{index}]"
        problems = [Problem(p.path[len(prefix):].lstrip(".") if p.path.startswith(prefix) else p.path,
                            p.message, p.hint) for p in exc.problems]
        return problem_response(400, "Invalid mock", f"{len(problems)} problem(s); nothing was changed",
                                errors=problems)


# ---------------------------------------------------------------- status

def health(app, config, request, params):
    reload_ok = app.last_reload["ok"]
    return _json(200, {
        "status": "ok" if reload_ok else "degraded",
        "version": __version__,
        "uptime_s": round(app.clock() - app.started_at, 3),
        "config": {"source": config.source_path, "endpoints": len(config.endpoints),
                   "enabled": sum(1 for e in config.endpoints if e.enabled)},
        "last_reload": app.last_reload,
        "journal": app.journal.stats(),
    })


def version(app, config, request, params):
    return _json(200, {"name": "pymock", "version": __version__})


def reload(app, config, request, params):
    result = app.reload("reload requested")
    if result["ok"]:
        return _json(200, {"reloaded": True, "endpoints": len(app.config.endpoints), **result})
    return problem_response(400, "Reload rejected", "the previous config is still serving",
                            errors=result["problems"])


def reset(app, config, request, params):
    app.reset_state()
    return _json(200, {"reset": True})


# ---------------------------------------------------------------- mocks

def _mock_view(endpoint) -> dict:
    return {"id": endpoint.id, **{k: v for k, v in endpoint.source.items() if k != "id"},
            "enabled": endpoint.enabled}


def _find_index(config, ident: str) -> int:
    endpoint = config.endpoint(ident)
    if endpoint is None:
        raise NotFoundError("mock", ident)
    return endpoint.order


def _live_endpoint(app, ident: str):
    """The mock ``ident`` in the config that is live now; call inside ``app.edit`` (under its
    lock), so two concurrent edits never act on a stale position."""
    endpoint = app.config.endpoint(ident)
    if endpoint is None:
        raise NotFoundError("mock", ident)
    return endpoint


def list_mocks(app, config, request, params):
    tag = request.query.get("tag", [None])[0]
    mocks = [_mock_view(e) for e in config.endpoints if tag is None or tag in e.tags]
    return _json(200, {"mocks": mocks, "total": len(mocks)})


def get_mock(app, config, request, params):
    endpoint = config.endpoint(params["id"])
    if endpoint is None:
        raise NotFoundError("mock", params["id"])
    return _json(200, _mock_view(endpoint))


def create_mock(app, config, request, params):
    payload = _body_json(request)
    if isinstance(payload, Response):
        return payload
    if "id" in payload and config.endpoint(str(payload["id"])) is not None:
        return problem_response(409, "Mock exists", f"a mock with id {payload['id']!r} already exists",
                                hint="use PUT /__admin/mocks/{id} to replace it")

    def mutate(raw):
        if "id" not in payload:  # stored, so the id stays this mock's whatever is deleted later
            payload["id"] = generate_id(payload, {e.id for e in app.config.endpoints})
        elif app.config.endpoint(str(payload["id"])) is not None:
            raise ConflictError(f"a mock with id {payload['id']!r} already exists")
        raw.setdefault("endpoints", []).append(payload)
    try:
        fresh = _apply(app, mutate, len(config.raw.get("endpoints", [])))
    except ConflictError as exc:
        return problem_response(409, "Mock exists", str(exc), hint="use PUT /__admin/mocks/{id} to replace it")
    if isinstance(fresh, Response):
        return fresh
    created = fresh.endpoint(str(payload["id"]))
    return _json(201, _mock_view(created), [("Location", f"/__admin/mocks/{created.id}")])


def _edit_one(app, config, ident, change):
    index = _find_index(config, ident)  # a 404 before any work; the edit re-reads it under the lock

    def mutate(raw):
        endpoint = _live_endpoint(app, ident)
        items = raw.setdefault("endpoints", [])
        if endpoint.order < len(items):
            items[endpoint.order] = change(items[endpoint.order])
        else:  # made from an OpenAPI spec: the edited copy joins the config and overrides it
            items.append(change(dict(endpoint.source)))
    fresh = _apply(app, mutate, index)
    if isinstance(fresh, Response):
        return fresh
    return _json(200, _mock_view(fresh.endpoint(ident)))


def replace_mock(app, config, request, params):
    payload = _body_json(request)
    if isinstance(payload, Response):
        return payload
    return _edit_one(app, config, params["id"], lambda old: {**payload, "id": params["id"]})


def patch_mock(app, config, request, params):
    payload = _body_json(request)
    if isinstance(payload, Response):
        return payload
    return _edit_one(app, config, params["id"],
                     lambda old: {**merge_patch(old, payload), "id": params["id"]})




def delete_mock(app, config, request, params):
    ident = params["id"]
    index = _find_index(config, ident)

    def mutate(raw):
        endpoint = _live_endpoint(app, ident)
        if endpoint.order >= len(raw.get("endpoints", [])):
            raise ConflictError(f"mock {ident!r} is made from an OpenAPI operation; "
                                "it cannot be deleted while the spec is loaded")
        raw["endpoints"].pop(endpoint.order)
    try:
        fresh = _apply(app, mutate, index)
    except ConflictError as exc:
        return problem_response(409, "Mock comes from a spec", str(exc),
                                hint=f"POST /__admin/mocks/{ident}/disable instead")
    return fresh if isinstance(fresh, Response) else Response(204, [])


def enable_mock(app, config, request, params):
    return _edit_one(app, config, params["id"], lambda old: {**old, "enabled": True, "id": params["id"]})


def disable_mock(app, config, request, params):
    return _edit_one(app, config, params["id"], lambda old: {**old, "enabled": False, "id": params["id"]})


def reset_mocks(app, config, request, params):
    if not app.source_path:
        return problem_response(409, "No config file", "this server was started from a dict; there is no file to reset to")
    return reload(app, config, request, params)


def save_mocks(app, config, request, params):
    if not app.source_path:
        return problem_response(409, "No config file", "this server was started from a dict; there is no file to save to")
    if app.source_path.endswith((".yaml", ".yml")):
        from . import miniyaml
        text = miniyaml.dump(config.raw)
    else:
        text = json.dumps(config.raw, indent=2) + "\n"
    try:
        atomic_write(app.source_path, text, backup=True)
    except OSError as exc:
        return problem_response(500, "Save failed",
                                f"could not write {app.source_path}: {exc.strerror or exc}; the file is unchanged")
    return _json(200, {"saved": app.source_path, "backup": app.source_path + ".bak",
                       "endpoints": len(config.endpoints)})


# ---------------------------------------------------------------- request journal

_FILTERS = {
    "method": lambda entry, v: entry["method"] == v.upper(),
    "path": lambda entry, v: entry["path"] == v,
    "path_prefix": lambda entry, v: entry["path"].startswith(v),
    "status": lambda entry, v: str(entry["status"]) == v,
    "matched": lambda entry, v: (entry["matched"] is not None) == (v.lower() in ("1", "true", "yes")),
    "endpoint": lambda entry, v: entry["matched"] == v,
}


def list_requests(app, config, request, params):
    query = request.query_first()
    unknown = [k for k in query if k not in _FILTERS and k != "limit"]
    if unknown:
        return problem_response(400, "Unknown filter", f"unknown query parameter(s): {', '.join(unknown)}",
                                allowed=sorted([*_FILTERS, "limit"]))
    limit = query.get("limit")
    if limit is not None and not limit.isdigit():
        return problem_response(400, "Invalid limit", f"limit must be a whole number, got {limit!r}")
    checks = [(_FILTERS[k], v) for k, v in query.items() if k in _FILTERS]
    entries = app.journal.list(lambda e: all(check(e, v) for check, v in checks),
                               int(limit) if limit else None)
    return _json(200, {"requests": entries, **app.journal.stats()})


def unmatched_requests(app, config, request, params):
    entries = app.journal.list(lambda e: e["matched"] is None)
    return _json(200, {"requests": entries, "count": len(entries)})


def get_request(app, config, request, params):
    return _json(200, inspect_entry(config, app.journal.get(params["id"])))


def clear_requests(app, config, request, params):
    return _json(200, {"deleted": app.journal.clear()})


def logs(app, config, request, params):
    """The learning guide's ``/__logs``: the journal, newest first."""
    return list_requests(app, config, request, params)


def metrics(app, config, request, params):
    stats = app.journal.stats()
    gauges = {"pymock_journal_entries": stats["count"], "pymock_journal_evicted_total": stats["evicted"],
              "pymock_endpoints": len(config.endpoints), "pymock_uptime_seconds": round(app.clock() - app.started_at, 3)}
    return Response(200, [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")],
                    app.metrics.render(gauges).encode())


def har(app, config, request, params):
    """The journal as HAR 1.2, oldest first, for browser dev tools and HAR viewers."""
    entries = [_har_entry(entry) for entry in reversed(app.journal.list())]
    return _json(200, {"log": {"version": "1.2", "creator": {"name": "pymock", "version": __version__},
                               "entries": entries}})


def _har_entry(entry: dict) -> dict:
    query = [{"name": k, "value": v} for k, values in parse_qs(entry["query"], keep_blank_values=True).items()
             for v in values]
    request = {"method": entry["method"], "url": entry["path"] + (f"?{entry['query']}" if entry["query"] else ""),
               "httpVersion": "HTTP/1.1", "cookies": [], "queryString": query, "headersSize": -1,
               "headers": [{"name": k, "value": v} for k, v in entry["headers"].items()],
               "bodySize": entry["body_size"]}
    if entry["body"]:
        request["postData"] = {"mimeType": entry["headers"].get("content-type", ""), "text": entry["body"]}
    headers = entry["response_headers"]
    response = {"status": entry["status"], "statusText": "", "httpVersion": "HTTP/1.1", "cookies": [],
                "headers": [{"name": k, "value": v} for k, v in headers.items()], "redirectURL": "",
                "headersSize": -1, "bodySize": entry["response_size"],
                "content": {"size": entry["response_size"], "mimeType": headers.get("Content-Type", "")}}
    started = datetime.fromtimestamp(entry["time"], timezone.utc).isoformat()
    total = entry["duration_ms"] + entry["delay_ms"]
    return {"startedDateTime": started, "time": total, "request": request, "response": response, "cache": {},
            "timings": {"send": 0, "wait": total, "receive": 0}, "comment": entry["matched"] or "unmatched"}


def openapi(app, config, request, params):
    document = admin_openapi()
    for mounted in app.mounts:  # the mesh and other mounted groups describe their own routes
        if hasattr(mounted, "openapi_paths"):
            document["paths"].update(mounted.openapi_paths())
    return _json(200, document)


def import_openapi(app, config, request, params):
    """Import an OpenAPI/Swagger document (JSON or YAML body): its operations are served at once."""
    from . import openapi_mocks  # imported lazily: most servers never import a spec
    try:
        spec, entry = openapi_mocks.document_entry(request.body, request.query_first().get("name"))
    except SpecError as exc:
        return problem_response(400, "Invalid spec", str(exc),
                                errors=[{"path": exc.pointer, "message": exc.message}] + exc.problems)
    try:
        fresh = app.edit(lambda raw: openapi_mocks.add_spec_entry(raw, entry))
    except ConfigError as exc:
        return problem_response(400, "Spec rejected", "nothing was changed", errors=exc.problems)
    mocks = [e.id for e in fresh.endpoints if (e.source.get("openapi") or {}).get("spec") == entry["name"]]
    return _json(201, {"name": entry["name"], "version": spec.version, "operations": len(spec.operations),
                       "mocks": mocks, "problems": [p.as_dict() for p in spec.problems]})


def contract_violations(app, config, request, params):
    from .contract import violations_report
    return _json(200, violations_report(app.contract_log, config.sections.get("contract")))


def clear_contract_violations(app, config, request, params):
    return _json(200, {"deleted": app.contract_log.clear()})


ADMIN_ROUTES = [
    AdminRoute("GET", "/__admin/health", health, "Server health, config status and the last reload"),
    AdminRoute("GET", "/__admin/version", version, "The pymock version"),
    AdminRoute("POST", "/__admin/reload", reload, "Reload the config file (a bad file keeps the old config)"),
    AdminRoute("GET", "/__admin/reload", reload, "Reload the config file (GET alias)"),
    AdminRoute("POST", "/__admin/reset", reset, "Forget the request journal, sequences and counters"),
    AdminRoute("GET", "/__admin/mocks", list_mocks, "List mocks (filter with ?tag=)"),
    AdminRoute("POST", "/__admin/mocks", create_mock, "Create a mock from an endpoint object"),
    AdminRoute("POST", "/__admin/mocks/save", save_mocks, "Write the live mocks to the config file (atomic, keeps .bak)"),
    AdminRoute("POST", "/__admin/mocks/reset", reset_mocks, "Discard admin edits: reload mocks from the file"),
    AdminRoute("GET", "/__admin/mocks/{id}", get_mock, "Get one mock"),
    AdminRoute("PUT", "/__admin/mocks/{id}", replace_mock, "Replace one mock"),
    AdminRoute("PATCH", "/__admin/mocks/{id}", patch_mock, "Change part of a mock (JSON merge patch)"),
    AdminRoute("DELETE", "/__admin/mocks/{id}", delete_mock, "Delete one mock"),
    AdminRoute("POST", "/__admin/mocks/{id}/enable", enable_mock, "Enable one mock"),
    AdminRoute("POST", "/__admin/mocks/{id}/disable", disable_mock, "Disable one mock"),
    AdminRoute("GET", "/__admin/requests", list_requests, "The request journal, newest first (filters: " + ", ".join(_FILTERS) + ", limit)"),
    AdminRoute("DELETE", "/__admin/requests", clear_requests, "Empty the request journal"),
    AdminRoute("GET", "/__admin/requests/unmatched", unmatched_requests, "Requests no mock matched"),
    AdminRoute("GET", "/__admin/requests.har", har, "The journal as a HAR 1.2 file"),
    AdminRoute("GET", "/__admin/metrics", metrics, "Prometheus metrics (text exposition format)"),
    AdminRoute("GET", "/__admin/requests/{id}", get_request, "One journal entry, explained: why it matched, template inputs, the response"),
    AdminRoute("POST", "/__admin/recordings/start", recording_start, "Record: proxy to the upstream (or body 'target') and capture exchanges"),
    AdminRoute("POST", "/__admin/recordings/stop", recording_stop, "Stop capturing, restore the previous mode, write the out file if set"),
    AdminRoute("GET", "/__admin/recordings/status", recording_status, "Whether recording is on, and what was captured"),
    AdminRoute("POST", "/__admin/recordings/snapshot", recording_snapshot, "The recordings as a config (body: apply, write)"),
    AdminRoute("GET", "/__admin/openapi.json", openapi, "This API as an OpenAPI 3.1 document"),
    AdminRoute("POST", "/__admin/openapi", import_openapi, "Import an OpenAPI/Swagger spec (JSON or YAML body; ?name=): serve its operations"),
    AdminRoute("GET", "/__admin/contract/violations", contract_violations, "Contract mode: requests and responses that broke the spec, and the load report"),
    AdminRoute("DELETE", "/__admin/contract/violations", clear_contract_violations, "Forget the recorded contract violations"),
    # Mock versions and bulk changes (environments.py); scenarios, store, auth tokens,
    # resources and webhooks (state_admin.py).
    *(AdminRoute(*route) for route in environments.ADMIN_HANDLERS + state_admin.ADMIN_HANDLERS),
    # Documentation of the live mocks; the design workflow (workflow_api.py, needs --designs-db).
    *(AdminRoute(*route) for route in workflow_api.DOCS_ROUTES + workflow_api.ROUTES),
    AdminRoute("GET", "/__logs", logs, "The request journal (learning-guide name for /__admin/requests)"),
    AdminRoute("GET", "/__reload", reload, "Reload the config file (learning-guide name)"),
    AdminRoute("POST", "/__reload", reload, "Reload the config file (learning-guide name)"),
]

_ROUTER = Router(Route(route, f"{route.method} {route.path}", frozenset([route.method]),
                       compile_path(route.path), order=index)
                 for index, route in enumerate(ADMIN_ROUTES))


def dispatch(app, config, request: Request) -> Response:
    found = _ROUTER.find(request)
    if isinstance(found, RouteMiss):
        return missing_route(request, found.allowed_methods, "admin route",
                             "GET /__admin/openapi.json lists every admin route")
    route: AdminRoute = found.route.key
    try:
        response = route.handler(app, config, request, found.path_params)
    except NotFoundError as exc:
        return problem_response(404, f"Unknown {exc.kind}", str(exc), id=exc.ident)
    if request.method == "HEAD":
        response.body = b""
    return response


def unauthorized() -> Response:
    return problem_response(401, "Admin token required",
                            "send 'Authorization: Bearer <token>' (the --admin-token or PYMOCK_ADMIN_TOKEN value)",
                            headers=[("WWW-Authenticate", 'Bearer realm="pymock-admin"')])


# GET routes that change state: the viewer token may not call them.
STATE_CHANGING_GETS = frozenset({"/__admin/reload", "/__reload"})


def cross_origin_refused(origin: str) -> Response:
    return problem_response(403, "Cross-origin admin request refused",
                            f"the admin API only answers pages served from its own host, not {origin!r}")


def host_refused(host: str) -> Response:
    return problem_response(403, "Admin API needs a token here",
                            f"admin requests through the host name {host!r} are refused without an admin "
                            "token (a web page could reach them by DNS rebinding)",
                            hint="use localhost or an IP address, or start with --admin-token")


def forbidden_for_viewer() -> Response:
    return problem_response(403, "Read-only token", "the viewer token may only read (GET); use the admin token to change things")


def admin_openapi() -> dict:
    """An OpenAPI 3.1 document describing ``ADMIN_ROUTES``."""
    paths: dict = {}
    for route in ADMIN_ROUTES:
        operation = {
            "summary": route.summary,
            "operationId": f"{route.method.lower()}_{route.handler.__name__}",
            "responses": {"200": {"description": "OK"},
                          "default": {"description": "An error",
                                      "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}}},
        }
        names = [part[1:-1] for part in route.path.split("/") if part.startswith("{")]
        if names:
            operation["parameters"] = [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
                                       for n in names]
        if route.handler in (create_mock, replace_mock, patch_mock):
            operation["requestBody"] = {"required": True, "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/Mock"}}}}
        paths.setdefault(route.path, {})[route.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "pymock admin API", "version": __version__},
        "paths": paths,
        "components": {"schemas": {
            "Problem": {"type": "object", "properties": {
                "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                "detail": {"type": "string"}, "errors": {"type": "array"}}},
            "Mock": {"type": "object", "properties": {key: {} for key in ENDPOINT_KEYS},
                     "required": ["path"], "additionalProperties": False},
        }},
    }
