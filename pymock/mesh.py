"""The mesh simulator's state: registry, graph, breakers, chaos, spans and mock services.

Layer 1: no sockets, no threads, no sleeping. ``Mesh`` is mounted into ``MockApp`` (see
``app.mount``); it owns the registry, the dependency graph, the circuit breakers, the chaos
engine, the span store and the mock services, and runs calls through ``mesh_calls``. Real
HTTP (calls to registered addresses, active health checks) is injected by ``mesh_edge``.

The ``mesh`` config section declares a topology; a hot reload re-applies everything the new
config declares (config wins for the ids it names) and keeps what was added through the API
that the config does not mention. Non-mesh requests pay one ``str.startswith`` on
``prefixes``; the mesh roots are ``/registry``, ``/dependencies``, ``/circuit-breakers``,
``/traces``, ``/chaos`` and ``/mock`` under ``mesh.prefix``. The routes themselves
(``MESH_ROUTES``, one handler each, and their OpenAPI description) are in ``mesh_api`` and
re-exported here.

Must not import ``app``, ``mesh_edge``, sockets or threads beyond a ``Lock``.
"""

from __future__ import annotations

import json
import random
import threading
import time

from . import templates
from .breakers import BreakerRegistry
from .chaos import ChaosEngine
from .engine import Engine
from .errors import ConfigError, ConflictError, CycleError, NotFoundError
from .graph import DependencyGraph
from .matching import RouteMiss
from .mesh_api import (_ROUTER, MESH_ROUTES, MeshRoute, _add_edge, _At, _Invalid,
                       openapi_paths)
# The route handlers lived here before mesh_api split off; still importable from here.
from .mesh_api import (add_dependency, breaker_action, call_mock, cascade,  # noqa: F401
                       configure_breaker, configure_mock, dependencies_of, deregister,
                       get_service, get_trace, graph_view, heartbeat, list_breakers,
                       list_events, list_services, register, remove_dependency,
                       start_event, stop_event, trace_stats)
from .mesh_calls import CallSimulator, MockRuntime, World, breaker_config_for
from .mesh_config import MESH_ROOTS, MeshSpec
from .model import Request, Response, missing_route, problem_response
from .registry import HEALTH_STATES, ServiceRegistry
from .state import SequenceState
from .tracing import SpanStore

__all__ = ["Mesh", "MESH_ROUTES", "MeshRoute", "openapi_paths"]


_DEFAULT_SPEC = MeshSpec()


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

    def is_control(self, request: Request) -> bool:
        """True for the control routes (registry, dependencies, breakers, traces, chaos and
        ``/mock/{service}/configure``), which the admin and viewer tokens guard like
        ``/__admin``; simulated service traffic under ``/mock/{service}/...`` stays open."""
        parts = request.path[len(self._prefix):].split("/")
        if len(parts) < 2 or parts[0] or parts[1] not in MESH_ROOTS:
            return False
        return parts[1] != "mock" or (len(parts) == 4 and parts[3] == "configure")

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
            return missing_route(request, found.allowed_methods, "mesh route",
                                 "see docs/mesh.md or GET /__admin/openapi.json", path=sub_path)
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
