"""The mesh simulator's HTTP API and state: ``MESH_ROUTES`` below is the whole API.

Layer 1: no sockets, no threads, no sleeping. ``Mesh`` is mounted into ``MockApp`` (see
``app.mount``); it owns the registry, the dependency graph, the circuit breakers, the chaos
engine, the span store and the mock services, and runs calls through ``mesh_calls``. Real
HTTP (calls to registered addresses, active health checks) is injected by ``mesh_edge``.

The ``mesh`` config section declares a topology; a hot reload re-applies everything the new
config declares (config wins for the ids it names) and keeps what was added through the API
that the config does not mention. Non-mesh requests pay one ``str.startswith`` on
``prefixes``; the mesh roots are ``/registry``, ``/dependencies``, ``/circuit-breakers``,
``/traces``, ``/chaos`` and ``/mock`` under ``mesh.prefix``.

Must not import ``app``, ``mesh_edge``, sockets or threads beyond a ``Lock``.
"""

from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass

from . import templates
from .breakers import BreakerRegistry
from .chaos import ChaosEngine
from .config import build_config
from .engine import Engine
from .errors import (PROBLEM_CONTENT_TYPE, ConfigError, ConflictError, CycleError,
                     NotFoundError, Problem)
from .graph import DependencyGraph
from .matching import Route, RouteMiss, Router, compile_path
from .mesh_calls import CallSimulator, MockRuntime, World, breaker_config_for
from .mesh_config import (MESH_ROOTS, MeshSpec, breaker_override, compile_mock, dependency,
                          heartbeat_body, registration, unknown_key)
from .model import Request, Response, problem_response
from .registry import HEALTH_STATES, ServiceRegistry
from .state import SequenceState
from .tracing import SpanStore, compare_graphs, failure_path, span_tree, trace_graph

__all__ = ["Mesh", "MESH_ROUTES", "MeshRoute", "openapi_paths"]

_DEFAULT_SPEC = MeshSpec()
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


class Mesh:
    """The mesh simulator. ``config_source()`` returns the live ``Config`` (its
    ``sections["mesh"]`` is applied whenever it changes); ``clock`` and ``seed`` make runs
    reproducible; ``http_call`` (set by ``mesh_edge``) reaches real addresses."""

    name = "mesh"   # the key of ``health()`` in /__admin/health

    def __init__(self, *, config_source=None, clock=time.time, seed: int | None = None,
                 render_env=None, log=None):
        self._config_source = config_source or (lambda: None)
        self.clock = clock
        self.log = log or (lambda message: None)
        seeds = random.Random(seed)
        self._ids = random.Random(seeds.getrandbits(64))
        self._mock_rng = random.Random(seeds.getrandbits(64))
        self._render_env = render_env or templates.RenderEnv(clock=clock, rng=self._mock_rng)
        self.registry = ServiceRegistry(clock)
        self.breakers = BreakerRegistry(clock, _DEFAULT_SPEC.breaker_default)
        self.chaos = ChaosEngine(clock, rng=random.Random(seeds.getrandbits(64)))
        self.spans = SpanStore(_DEFAULT_SPEC.max_spans)
        self.simulator = CallSimulator(registry=self.registry, breakers=self.breakers,
                                       chaos=self.chaos, spans=self.spans, clock=clock,
                                       rng=self._ids)
        self.http_call = None
        self._lock = threading.RLock()         # topology writes and config syncs
        self._graph = DependencyGraph()
        self._deps = {"config": {}, "api": {}}     # source -> {(from, to): dependency body}
        self._mocks = {"config": {}, "api": {}}    # source -> {service id: ServiceMock}
        self._breaker_cfg = {"config": {}, "api": {}}
        self._runtimes: dict = {}
        self._config_chaos: dict = {}          # spec fingerprint -> event id
        self._spec = None
        self._seen = object()                  # the Config whose mesh section is applied
        self._prefix = ""
        self._prefixes: tuple = ()
        self._world = World(_DEFAULT_SPEC, {}, {}, {})
        self._observe(self._config_source())

    # --- mounting -----------------------------------------------------------------------

    @property
    def prefixes(self) -> tuple:
        """Path prefixes the app hands to ``handle`` (empty when the mesh is disabled).

        Read for every request the app serves, so it costs one identity check unless the
        config was swapped since the last look."""
        config = self._config_source()
        if config is not self._seen:
            self._observe(config)
        return self._prefixes

    @property
    def settings(self) -> MeshSpec:
        return self._world.settings

    def health(self) -> dict:
        """The mesh's part of ``/__admin/health``. Simulated failures are the point of the
        mesh, so they never make the server itself "degraded": ``ok`` stays true."""
        settings = self.settings
        services = self.registry.query()
        by_health = {state: sum(s["health"] == state for s in services) for state in HEALTH_STATES}
        return {"ok": True, "enabled": settings.enabled, "prefix": settings.prefix,
                "services": len(services), "by_health": by_health,
                "mock_services": len(self._world.mocks), "dependencies": len(self._world.edges),
                "open_breakers": sum(b["state"] in ("open", "forced_open")
                                     for b in self.breakers.list()),
                "active_chaos_events": len(self.chaos.list()),
                "spans": len(self.spans), "spans_evicted": self.spans.evicted,
                "real_http": self.http_call is not None}

    def openapi_paths(self) -> dict:
        """OpenAPI path items of the mesh routes as currently mounted (none when disabled),
        for the admin document (``admin.openapi`` merges those of every mount that has them)."""
        settings = self.prefixes and self.settings
        return openapi_paths(settings.prefix) if settings else {}

    def handle(self, app, config, request: Request) -> Response | None:
        """Answer a mesh route; None passes anything else on to the mocks."""
        if config is not None and config is not self._seen:
            self._observe(config)
        prefix = self._prefix
        sub = request.path[len(prefix):]
        if not sub.startswith("/") or sub.split("/", 2)[1] not in MESH_ROOTS:
            return None
        return self.dispatch(request, sub)

    def dispatch(self, request: Request, sub_path: str) -> Response:
        found = _ROUTER.find(_At(request, sub_path))
        if isinstance(found, RouteMiss):
            if found.allowed_methods:
                allow = ", ".join(found.allowed_methods)
                return problem_response(405, "Method not allowed",
                                        f"{sub_path} accepts {allow}", headers=[("Allow", allow)])
            return problem_response(404, "No such mesh route", f"{request.method} {sub_path}",
                                    hint="see docs/mesh.md or GET /__admin/openapi.json")
        route: MeshRoute = found.route.key
        try:
            return route.handler(self, request, found.path_params)
        except NotFoundError as exc:
            return problem_response(404, f"Unknown {exc.kind}", str(exc), id=exc.ident)
        except _Invalid as exc:
            return problem_response(400, exc.title, f"{len(exc.problems)} problem(s); nothing "
                                    "was changed", errors=exc.problems)
        except ConfigError as exc:
            return problem_response(400, "Invalid request body", f"{len(exc.problems)} "
                                    "problem(s); nothing was changed", errors=exc.problems)
        except CycleError as exc:
            return problem_response(409, "Dependency cycle", str(exc), cycle=exc.cycle,
                                    hint="send allow_cycle: true if the cycle is intended")
        except ConflictError as exc:
            return problem_response(409, "Conflict", str(exc))

    # --- config sync --------------------------------------------------------------------

    def _observe(self, config) -> None:
        spec = _DEFAULT_SPEC if config is None else config.sections.get("mesh", _DEFAULT_SPEC)
        if spec is not self._spec:
            self._sync(spec)
        self._seen = config

    def _sync(self, spec: MeshSpec) -> None:
        with self._lock:
            if spec is self._spec:
                return
            self._spec = spec
            self._prefix = spec.prefix
            self._prefixes = tuple(f"{spec.prefix}/{root}" for root in MESH_ROOTS) \
                if spec.enabled else ()
            self.registry.set_policy(spec.health)
            self.registry.sync_declared(list(spec.services))
            if self.spans.max_spans != spec.max_spans:
                self.spans.resize(spec.max_spans)
            self.breakers.default_config = spec.breaker_default
            self._mocks["config"] = dict(spec.mocks)
            self._deps["config"] = {(d["from_service"], d["to_service"]): d
                                    for d in spec.dependencies}
            self._breaker_cfg["config"] = {(s, e): c for s, e, c in spec.breaker_overrides}
            self._rebuild_graph(spec)
            self._rebuild_world(spec)
            self._refresh_breakers()
            self._sync_chaos(spec)

    def _rebuild_graph(self, spec: MeshSpec) -> None:
        graph = DependencyGraph()
        for dep in self._deps["config"].values():
            _add_edge(graph, dep, allow=True)   # config edges were cycle-checked when parsed
        api = self._deps["api"]
        for key, dep in list(api.items()):
            if key in self._deps["config"]:
                del api[key]                    # the config names this edge: config wins
                continue
            try:
                _add_edge(graph, dep, allow=spec.allow_cycles or dep["allow_cycle"])
            except CycleError as exc:
                del api[key]
                self.log(f"mesh: dropped dependency {key[0]} -> {key[1]} added through the "
                         f"API: with the reloaded config it closes {' -> '.join(exc.cycle)}")
        self._graph = graph

    def _rebuild_world(self, spec: MeshSpec | None = None) -> None:
        spec = spec or self._world.settings
        mocks = {**self._mocks["api"], **self._mocks["config"]}
        for ident in [i for i in self._mocks["api"] if i in self._mocks["config"]]:
            del self._mocks["api"][ident]
        runtimes = {}
        for ident, mock in mocks.items():
            old = self._runtimes.get(ident)
            if old is not None and (old.mock is mock or old.mock.source == mock.source):
                runtimes[ident] = MockRuntime(mock, old.engine)   # keep sequence positions
            else:
                engine = Engine(self._mock_rng, self._render_env, SequenceState())
                runtimes[ident] = MockRuntime(mock, engine)
        self._runtimes = runtimes
        edges = {(e.source, e.target): e for e in self._graph.edges()}
        configs = {**self._breaker_cfg["config"], **self._breaker_cfg["api"]}
        self._world = World(spec, runtimes, edges, configs, self.http_call)

    def _refresh_breakers(self) -> None:
        """Give every breaker whose config changed a fresh one (others keep their state)."""
        world = self._world
        for snap in self.breakers.list():
            wanted = breaker_config_for(world.breaker_configs, world.settings.breaker_default,
                                        snap["service"], snap["endpoint"])
            if snap["config"] != wanted.as_dict():
                self.breakers.configure(snap["service"], snap["endpoint"], wanted)

    def _sync_chaos(self, spec: MeshSpec) -> None:
        wanted = {json.dumps(e, sort_keys=True): e for e in spec.chaos}
        for key in [k for k in self._config_chaos if k not in wanted]:
            try:
                self.chaos.stop(self._config_chaos.pop(key))
            except NotFoundError:
                pass                          # long over and forgotten by the engine
        for key, event in wanted.items():
            if key in self._config_chaos:
                continue                      # already started by an earlier load
            self._config_chaos[key] = self._start_event(dict(event), unique_id=True)["id"]

    def set_http_call(self, http_call) -> None:
        """Install the real-HTTP client (``mesh_edge``); None removes it."""
        with self._lock:
            self.http_call = http_call
            self._rebuild_world()

    # --- operations shared by handlers and config sync ----------------------------------

    def _start_event(self, spec: dict, unique_id: bool = False) -> dict:
        if spec.get("type") == "cascade_failure":
            initial = spec.get("initial_service")
            if isinstance(initial, str) and not self._known(initial):
                raise NotFoundError("service", initial)
        dependents: dict = {}
        for source, target in self._world.edges:
            dependents.setdefault(target, []).append(source)
        if unique_id and spec.get("id") is not None:
            spec["id"] = self._free_event_id(spec["id"])
        return self.chaos.start(spec, dependents=dependents)

    def _free_event_id(self, ident: str) -> str:
        taken = {e["id"] for e in self.chaos.list(include_past=True)}
        candidate, n = ident, 2
        while candidate in taken:
            candidate, n = f"{ident}-{n}", n + 1
        return candidate

    def _known(self, service: str) -> bool:
        return (service in self._world.mocks or service in self._graph
                or self.registry.knows(service))

    def call(self, request: Request, service_id: str, path: str) -> Response:
        """Serve ``/mock/{service_id}/{path}`` (the simulated call chain)."""
        return self.simulator.serve(request, service_id, path, self._world)


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


def _edge_view(mesh: Mesh, edge) -> dict:
    key = (edge.source, edge.target)
    return {"from_service": edge.source, "to_service": edge.target, "required": edge.required,
            "timeout_ms": edge.timeout_ms, "circuit_breaker_enabled": edge.circuit_breaker_enabled,
            "source": "config" if key in mesh._deps["config"] else "api"}


# --- registry -------------------------------------------------------------------------------

def register(mesh: Mesh, request, params):
    problems: list = []
    spec = registration(_body(request), "", problems)
    _checked(problems)
    record, created = mesh.registry.register(spec)
    return _json(201 if created else 200, record,
                 [("Location", f"{mesh._prefix}/registry/{record['service_id']}")])


def list_services(mesh: Mesh, request, params):
    query = _query(request, ("name", "tag", "health"))
    health = query.get("health", [None])[0]
    if health is not None and health not in HEALTH_STATES:
        raise _Invalid("Invalid query parameter", [Problem(
            "query.health", f"must be one of {', '.join(HEALTH_STATES)}, got {health!r}")])
    services = mesh.registry.query(query.get("name", [None])[0], query.get("tag", []), health)
    return _json(200, {"services": services, "count": len(services),
                       "recently_deregistered": mesh.registry.deregistered()})


def get_service(mesh: Mesh, request, params):
    record = mesh.registry.get(params["service_id"])
    runtime = mesh._world.mocks.get(params["service_id"])
    record["mock"] = runtime.mock.as_dict() if runtime is not None else None
    return _json(200, record)


def deregister(mesh: Mesh, request, params):
    return _json(200, {"deregistered": mesh.registry.deregister(params["service_id"])})


def heartbeat(mesh: Mesh, request, params):
    problems: list = []
    status, output = heartbeat_body(_body(request, required=False), problems)
    _checked(problems)
    return _json(200, mesh.registry.heartbeat(params["service_id"], status, output))


# --- dependencies ---------------------------------------------------------------------------

def add_dependency(mesh: Mesh, request, params):
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


def remove_dependency(mesh: Mesh, request, params):
    key = (params["from_service"], params["to_service"])
    with mesh._lock:
        edge = mesh._graph.remove_dependency(*key)
        mesh._deps["config"].pop(key, None)
        mesh._deps["api"].pop(key, None)
        mesh._rebuild_world()
        return _json(200, {"removed": _edge_view(mesh, edge)})


def dependencies_of(mesh: Mesh, request, params):
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


def graph_view(mesh: Mesh, request, params):
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

def configure_breaker(mesh: Mesh, request, params):
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


def list_breakers(mesh: Mesh, request, params):
    query = _query(request, ("service_id", "state"))
    service = query.get("service_id", [None])[0]
    state = query.get("state", [None])[0]
    breakers = [{"service_id": b.pop("service"), **b} for b in mesh.breakers.list(service)
                if state is None or b["state"] == state]
    settings = mesh.settings
    return _json(200, {"breakers": breakers, "count": len(breakers),
                       "enabled": settings.breakers_enabled,
                       "default": settings.breaker_default.as_dict()})


def breaker_action(mesh: Mesh, request, params):
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

def trace_stats(mesh: Mesh, request, params):
    _query(request, ())
    stats = mesh.spans.stats()
    stats["tracing_enabled"] = mesh.settings.tracing_enabled
    stats["dependencies"] = compare_graphs(mesh.spans.observed_edges(), list(mesh._world.edges))
    return _json(200, stats)


def get_trace(mesh: Mesh, request, params):
    spans = sorted(mesh.spans.trace(params["trace_id"]), key=lambda s: s.start)
    path = failure_path(spans)
    return _json(200, {"trace_id": params["trace_id"], "span_count": len(spans),
                       "error": any(s.error is not None for s in spans),
                       "spans": [s.as_dict() for s in spans], "tree": span_tree(spans),
                       "graph": trace_graph(spans), "failure_path": path})


# --- chaos ----------------------------------------------------------------------------------

def start_event(mesh: Mesh, request, params):
    return _json(201, mesh._start_event(_body(request)))


def cascade(mesh: Mesh, request, params):
    body = _body(request)
    if body.get("type", "cascade_failure") != "cascade_failure":
        raise _Invalid("Invalid request body", [Problem(
            "type", f"this route starts cascade_failure events, got {body['type']!r}",
            "use POST /chaos/events for other types")])
    return _json(201, mesh._start_event({**body, "type": "cascade_failure"}))


def list_events(mesh: Mesh, request, params):
    _query(request, ())
    events = mesh.chaos.list(include_past=True)
    return _json(200, {"active": [e for e in events if e["active"]],
                       "past": [e for e in events if not e["active"]],
                       "metrics": mesh.chaos.metrics()})


def stop_event(mesh: Mesh, request, params):
    return _json(200, mesh.chaos.stop(params["event_id"]))


# --- mock services --------------------------------------------------------------------------

def configure_mock(mesh: Mesh, request, params):
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


def call_mock(mesh: Mesh, request, params):
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
