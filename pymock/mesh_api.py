"""The mesh simulator's HTTP API: ``MESH_ROUTES`` is the whole API, one small handler per route.

Layer 1: no sockets, no threads, no sleeping. A handler is ``handler(mesh, request, params)
-> Response``, where ``mesh`` is the :class:`pymock.mesh.Mesh` that dispatched the request
(through ``_ROUTER``) and whose state the handler reads, and changes under ``mesh._lock``. A
bad body raises ``_Invalid`` (400); ``Mesh.dispatch`` maps the errors of ``pymock.errors`` to
404 and 409. ``openapi_paths`` describes the routes for the admin OpenAPI document.

>>> sorted({route.path.split("/")[1] for route in MESH_ROUTES})
['chaos', 'circuit-breakers', 'dependencies', 'mock', 'registry', 'traces']
>>> next(iter(openapi_paths("/__mesh")))
'/__mesh/registry/register'

Names with a leading underscore are shared with ``mesh`` only. Must not import ``mesh`` (it
imports this module), ``app``, ``mesh_edge``, sockets or threads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from .config import build_config
from .errors import PROBLEM_CONTENT_TYPE, NotFoundError, Problem
from .graph import DependencyGraph
from .matching import Route, Router, compile_path
from .mesh_calls import breaker_config_for
from .mesh_config import (breaker_override, compile_mock, dependency, heartbeat_body,
                          registration, unknown_key)
from .model import Request, Response
from .registry import HEALTH_STATES
from .tracing import compare_graphs, failure_path, span_tree, trace_graph

__all__ = ["MESH_ROUTES", "MeshRoute", "openapi_paths", "_ROUTER", "_At", "_Invalid",
           "_add_edge"]


_BREAKER_ACTIONS = ("reset", "force-open", "force-closed", "release")


class _Invalid(Exception):
    """A request the mesh refuses with 400; ``problems`` say what and where."""

    def __init__(self, title: str, problems: list):
        super().__init__(title)
        self.title, self.problems = title, problems


@dataclass(frozen=True)
class MeshRoute:
    method: str | None        # None: any method
    path: str
    handler: object
    summary: str
    body: str | None = None   # name of the request-body schema in ``_SCHEMAS``


@dataclass(frozen=True)
class _At:
    """A request seen at a path relative to the mesh prefix (what the router matches)."""

    request: Request
    path: str

    @property
    def method(self) -> str:
        return self.request.method

    def __getattr__(self, name):
        return getattr(self.request, name)


def _add_edge(graph: DependencyGraph, dep: dict, allow: bool):
    return graph.add_dependency(dep["from_service"], dep["to_service"], dep["required"],
                                dep["timeout_ms"], dep["circuit_breaker_enabled"],
                                allow_cycle=allow)


# --- request helpers ------------------------------------------------------------------------

def _json(status: int, payload, headers=()) -> Response:
    body = json.dumps(payload, indent=2, default=str).encode()
    return Response(status, [("Content-Type", "application/json"), *headers], body)


def _body(request: Request, required: bool = True):
    if not request.body.strip():
        if required:
            raise _Invalid("Request body required", [Problem("", "send a JSON object")])
        return None
    try:
        payload = json.loads(request.body)
    except (ValueError, UnicodeDecodeError) as exc:
        where = f" at line {exc.lineno}, column {exc.colno}" if hasattr(exc, "lineno") else ""
        raise _Invalid("Invalid JSON", [Problem("", f"the body is not valid JSON{where}: "
                                                    f"{exc}")]) from None
    if not isinstance(payload, dict):
        raise _Invalid("Invalid JSON", [Problem("", "expected a JSON object")])
    return payload


def _checked(problems: list, title: str = "Invalid request body"):
    if problems:
        raise _Invalid(title, problems)


def _query(request: Request, allowed: tuple) -> dict:
    problems = [unknown_key(k, allowed, "query") for k in request.query if k not in allowed]
    _checked(problems, "Unknown query parameter")
    return request.query


def _edge_view(mesh, edge) -> dict:
    key = (edge.source, edge.target)
    return {"from_service": edge.source, "to_service": edge.target, "required": edge.required,
            "timeout_ms": edge.timeout_ms, "circuit_breaker_enabled": edge.circuit_breaker_enabled,
            "source": "config" if key in mesh._deps["config"] else "api"}


# --- registry -------------------------------------------------------------------------------

def register(mesh, request, params):
    problems: list = []
    spec = registration(_body(request), "", problems)
    _checked(problems)
    record, created = mesh.registry.register(spec)
    return _json(201 if created else 200, record,
                 [("Location", f"{mesh._prefix}/registry/{record['service_id']}")])


def list_services(mesh, request, params):
    query = _query(request, ("name", "tag", "health"))
    health = query.get("health", [None])[0]
    if health is not None and health not in HEALTH_STATES:
        raise _Invalid("Invalid query parameter", [Problem(
            "query.health", f"must be one of {', '.join(HEALTH_STATES)}, got {health!r}")])
    services = mesh.registry.query(query.get("name", [None])[0], query.get("tag", []), health)
    return _json(200, {"services": services, "count": len(services),
                       "recently_deregistered": mesh.registry.deregistered()})


def get_service(mesh, request, params):
    record = mesh.registry.get(params["service_id"])
    runtime = mesh._world.mocks.get(params["service_id"])
    record["mock"] = runtime.mock.as_dict() if runtime is not None else None
    return _json(200, record)


def deregister(mesh, request, params):
    return _json(200, {"deregistered": mesh.registry.deregister(params["service_id"])})


def heartbeat(mesh, request, params):
    problems: list = []
    status, output = heartbeat_body(_body(request, required=False), problems)
    _checked(problems)
    return _json(200, mesh.registry.heartbeat(params["service_id"], status, output))


# --- dependencies ---------------------------------------------------------------------------

def add_dependency(mesh, request, params):
    problems: list = []
    dep = dependency(_body(request), "", problems)
    _checked(problems)
    key = (dep["from_service"], dep["to_service"])
    with mesh._lock:
        allow = mesh.settings.allow_cycles or dep["allow_cycle"]
        created = key not in mesh._world.edges
        edge = _add_edge(mesh._graph, dep, allow)
        mesh._deps["config"].pop(key, None)
        mesh._deps["api"][key] = dep
        mesh._rebuild_world()
        return _json(201 if created else 200, _edge_view(mesh, edge))


def remove_dependency(mesh, request, params):
    key = (params["from_service"], params["to_service"])
    with mesh._lock:
        edge = mesh._graph.remove_dependency(*key)
        mesh._deps["config"].pop(key, None)
        mesh._deps["api"].pop(key, None)
        mesh._rebuild_world()
        return _json(200, {"removed": _edge_view(mesh, edge)})


def dependencies_of(mesh, request, params):
    service = params["service_id"]
    with mesh._lock:
        graph = mesh._graph.copy()
    if service not in graph:
        if not mesh._known(service):
            raise NotFoundError("service", service)
        return _json(200, {"service_id": service, "depends_on": [], "dependents": [],
                           "impact": {"service": service, "fails": 0, "failed": [],
                                      "degraded": []}})
    return _json(200, {
        "service_id": service,
        "depends_on": [_edge_view(mesh, graph.edge(service, t))
                       for t in graph.dependencies_of(service)],
        "dependents": [_edge_view(mesh, graph.edge(s, service))
                       for s in graph.dependents_of(service)],
        "impact": graph.impact(service).as_dict()})


def graph_view(mesh, request, params):
    fmt = _query(request, ("format",)).get("format", ["json"])[0]
    with mesh._lock:
        graph = mesh._graph.copy()
    if fmt == "mermaid":
        return Response.text(200, graph.to_mermaid(),
                             content_type="text/vnd.mermaid; charset=utf-8")
    if fmt == "dot":
        return Response.text(200, graph.to_dot(),
                             content_type="text/vnd.graphviz; charset=utf-8")
    if fmt != "json":
        raise _Invalid("Invalid query parameter", [Problem(
            "query.format", f"must be json, mermaid or dot, got {fmt!r}")])
    cycles = graph.find_cycles()
    edges = [_edge_view(mesh, e) for e in graph.edges()]
    return _json(200, {
        "services": graph.services(), "dependencies": edges, "cycles": cycles,
        "deployment_order": None if cycles else graph.deployment_order(),
        "critical_services": graph.critical_services(),
        "articulation_points": graph.articulation_points(),
        "required_edges": sum(e["required"] for e in edges),
        "optional_edges": sum(not e["required"] for e in edges)})


# --- circuit breakers -----------------------------------------------------------------------

def configure_breaker(mesh, request, params):
    problems: list = []
    found = breaker_override(_body(request), "", problems, mesh.settings.breaker_default)
    _checked(problems)
    service, endpoint, config = found
    with mesh._lock:
        mesh._breaker_cfg["config"].pop((service, endpoint), None)
        mesh._breaker_cfg["api"][(service, endpoint)] = config
        mesh._rebuild_world()
        mesh._refresh_breakers()   # an existing breaker with another config is replaced
        breaker = mesh.breakers.get_or_create(service, endpoint, config)
    return _json(201, {"service_id": service, "endpoint": endpoint, **breaker.snapshot()})


def list_breakers(mesh, request, params):
    query = _query(request, ("service_id", "state"))
    service = query.get("service_id", [None])[0]
    state = query.get("state", [None])[0]
    breakers = [{"service_id": b.pop("service"), **b} for b in mesh.breakers.list(service)
                if state is None or b["state"] == state]
    settings = mesh.settings
    return _json(200, {"breakers": breakers, "count": len(breakers),
                       "enabled": settings.breakers_enabled,
                       "default": settings.breaker_default.as_dict()})


def breaker_action(mesh, request, params):
    service, endpoint, action = params["service_id"], params["endpoint"], params["action"]
    if action not in _BREAKER_ACTIONS:
        raise NotFoundError("circuit breaker action", action)
    if action.startswith("force"):
        world = mesh._world
        config = breaker_config_for(world.breaker_configs, world.settings.breaker_default,
                                    service, endpoint)
        breaker = mesh.breakers.get_or_create(service, endpoint, config)
        breaker.force_open() if action == "force-open" else breaker.force_closed()
    else:
        breaker = mesh.breakers.get(service, endpoint)
        breaker.reset() if action == "reset" else breaker.release()
    return _json(200, {"service_id": service, "endpoint": endpoint, **breaker.snapshot()})


# --- traces ---------------------------------------------------------------------------------

def trace_stats(mesh, request, params):
    _query(request, ())
    stats = mesh.spans.stats()
    stats["tracing_enabled"] = mesh.settings.tracing_enabled
    stats["dependencies"] = compare_graphs(mesh.spans.observed_edges(), list(mesh._world.edges))
    return _json(200, stats)


def get_trace(mesh, request, params):
    spans = sorted(mesh.spans.trace(params["trace_id"]), key=lambda s: s.start)
    path = failure_path(spans)
    return _json(200, {"trace_id": params["trace_id"], "span_count": len(spans),
                       "error": any(s.error is not None for s in spans),
                       "spans": [s.as_dict() for s in spans], "tree": span_tree(spans),
                       "graph": trace_graph(spans), "failure_path": path})


# --- chaos ----------------------------------------------------------------------------------

def start_event(mesh, request, params):
    return _json(201, mesh._start_event(_body(request)))


def cascade(mesh, request, params):
    body = _body(request)
    if body.get("type", "cascade_failure") != "cascade_failure":
        raise _Invalid("Invalid request body", [Problem(
            "type", f"this route starts cascade_failure events, got {body['type']!r}",
            "use POST /chaos/events for other types")])
    return _json(201, mesh._start_event({**body, "type": "cascade_failure"}))


def list_events(mesh, request, params):
    _query(request, ())
    events = mesh.chaos.list(include_past=True)
    return _json(200, {"active": [e for e in events if e["active"]],
                       "past": [e for e in events if not e["active"]],
                       "metrics": mesh.chaos.metrics()})


def stop_event(mesh, request, params):
    return _json(200, mesh.chaos.stop(params["event_id"]))


# --- mock services --------------------------------------------------------------------------

def configure_mock(mesh, request, params):
    service = params["service_id"]
    problems: list = []
    mock = compile_mock(_body(request), "", problems, build_config, service)
    _checked(problems, "Invalid mock service")
    with mesh._lock:
        created = service not in mesh._world.mocks
        mesh._mocks["config"].pop(service, None)
        mesh._mocks["api"][service] = mock
        mesh._rebuild_world()
    return _json(201 if created else 200, mock.as_dict())


def call_mock(mesh, request, params):
    return mesh.call(request, params["service_id"], params["**"])


MESH_ROUTES = [
    MeshRoute("POST", "/registry/register", register, "Register a service, or update it "
              "(re-registration counts as a heartbeat)", "Registration"),
    MeshRoute("GET", "/registry", list_services, "List services (filters: name, tag "
              "(repeatable, all must match), health)"),
    MeshRoute("GET", "/registry/{service_id}", get_service, "One service with its health "
              "checks and mock"),
    MeshRoute("DELETE", "/registry/{service_id}", deregister, "Deregister a service"),
    MeshRoute("PUT", "/registry/{service_id}/heartbeat", heartbeat, "TTL heartbeat; body "
              "{status, output} optional", "Heartbeat"),
    MeshRoute("POST", "/dependencies", add_dependency, "Declare that from_service calls "
              "to_service (409 when it closes a cycle, unless allow_cycle)", "Dependency"),
    MeshRoute("GET", "/dependencies/graph", graph_view, "The dependency graph: JSON "
              "(cycles, deployment order, critical services), ?format=mermaid or dot"),
    MeshRoute("GET", "/dependencies/{service_id}", dependencies_of, "What a service depends "
              "on, what depends on it, and what fails with it"),
    MeshRoute("DELETE", "/dependencies/{from_service}/{to_service}", remove_dependency,
              "Remove a dependency"),
    MeshRoute("POST", "/circuit-breakers", configure_breaker, "Configure the breaker of a "
              "service endpoint ('*': the whole service)", "Breaker"),
    MeshRoute("GET", "/circuit-breakers", list_breakers, "Every breaker with its state, "
              "window and transitions (filters: service_id, state)"),
    MeshRoute("POST", "/circuit-breakers/{service_id}/{endpoint}/{action}", breaker_action,
              "reset, force-open, force-closed or release one breaker"),
    MeshRoute("GET", "/traces", trace_stats, "Trace statistics, observed vs declared "
              "dependencies, recent traces"),
    MeshRoute("GET", "/traces/{trace_id}", get_trace, "One trace: spans, span tree, the call "
              "graph it implies and its failure path"),
    MeshRoute("POST", "/chaos/events", start_event, "Start a chaos event", "ChaosEvent"),
    MeshRoute("GET", "/chaos/events", list_events, "Active and past chaos events and metrics"),
    MeshRoute("DELETE", "/chaos/events/{event_id}", stop_event, "Stop a chaos event early"),
    MeshRoute("POST", "/chaos/cascade-failure", cascade, "Start a cascade failure from "
              "initial_service up through its dependents", "Cascade"),
    MeshRoute("POST", "/mock/{service_id}/configure", configure_mock, "Configure a mock "
              "service: endpoints, default answer and downstream calls", "MockService"),
    MeshRoute(None, "/mock/{service_id}/**", call_mock, "Call a mock service (any method); "
              "its declared calls run through the mesh"),
]

_ROUTER = Router(Route(route, f"{route.method} {route.path}",
                       frozenset([route.method]) if route.method else None,
                       compile_path(route.path), order=index)
                 for index, route in enumerate(MESH_ROUTES))


# --- OpenAPI --------------------------------------------------------------------------------

def _props(**types) -> dict:
    return {"type": "object", "properties": {k: {"type": v} if isinstance(v, str) else v
                                             for k, v in types.items()}}


_SCHEMAS = {
    "Registration": {**_props(service_id="string", name="string", endpoint="string",
                              port="integer", tags={"type": "array", "items": {"type": "string"}},
                              metadata="object", ttl_s="number",
                              deregister_critical_after_s="number", health_check_url="string"),
                     "additionalProperties": False},
    "Heartbeat": {**_props(status={"enum": list(HEALTH_STATES)}, output="string"),
                  "additionalProperties": False},
    "Dependency": {**_props(from_service="string", to_service="string", required="boolean",
                            timeout_ms="number", circuit_breaker_enabled="boolean",
                            allow_cycle="boolean"),
                   "required": ["from_service", "to_service"], "additionalProperties": False},
    "Breaker": {**_props(service_id="string", endpoint="string", failure_rate_threshold="number",
                         slow_call_rate_threshold="number", slow_call_duration_s="number",
                         wait_duration_open_s="number", permitted_calls_half_open="integer",
                         sliding_window_size="integer", minimum_number_of_calls="integer",
                         consecutive_failures_threshold="integer"),
                "required": ["service_id"], "additionalProperties": False},
    "ChaosEvent": {**_props(type={"enum": ["service_outage", "latency", "network_partition",
                                           "response_error", "cascade_failure"]},
                            id="string", duration_s="number", seed="integer",
                            description="string", service="string", endpoint="string",
                            status="integer", mode="string", latency_ms="number",
                            distribution="object", probability="number", rate="number",
                            between={"type": "array"}, groups={"type": "array"},
                            initial_service="string", failure_probability="number",
                            max_depth="integer"),
                   "required": ["type"]},
    "Cascade": {**_props(initial_service="string", failure_probability="number",
                         max_depth="integer", duration_s="number", seed="integer",
                         status="integer", id="string", description="string"),
                "required": ["initial_service"]},
    "MockService": {**_props(endpoints={"type": "array", "items": {"type": "object"}},
                             calls={"type": "array", "items": _props(
                                 service="string", path="string", method="string",
                                 required="boolean", body={}, headers="object")},
                             status="integer", response={}, headers="object",
                             latency_ms={})},
}


def openapi_paths(prefix: str = "") -> dict:
    """OpenAPI 3.1 path items for every mesh route (mounted under ``prefix``), for the admin
    document; errors refer to ``#/components/schemas/Problem``."""
    paths: dict = {}
    for route in MESH_ROUTES:
        path = prefix + route.path.replace("/**", "/{path}")
        names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
        operation = {
            "summary": route.summary, "tags": ["mesh"],
            "operationId": f"mesh_{route.handler.__name__}",
            "responses": {"200": {"description": "OK"}, "default": {
                "description": "An error", "content": {PROBLEM_CONTENT_TYPE: {
                    "schema": {"$ref": "#/components/schemas/Problem"}}}}},
        }
        if names:
            operation["parameters"] = [{"name": n, "in": "path", "required": True,
                                        "schema": {"type": "string"}} for n in names]
        if route.body:
            operation["requestBody"] = {"required": route.body != "Heartbeat", "content": {
                "application/json": {"schema": _SCHEMAS[route.body]}}}
        methods = [route.method.lower()] if route.method else \
            ["get", "post", "put", "patch", "delete"]
        for method in methods:
            op = dict(operation)
            if not route.method:
                op["operationId"] = f"mesh_{route.handler.__name__}_{method}"
            paths.setdefault(path, {})[method] = op
    return paths
