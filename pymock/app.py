"""``MockApp``: the one place a request is routed to the admin API or to the mock engine.

Layer 1: no sockets (``server.py`` calls ``handle``), no threads started. It owns the current
``Config`` (immutable, swapped whole under ``_write_lock``), the journal and runtime state.

>>> app = MockApp({"endpoints": [{"path": "/hi", "response": "hello"}]})
>>> response = app.handle(Request("GET", "/hi"))
>>> response.status, response.body
(200, b'hello')
>>> app.journal.list()[0]["matched"]
'get-hi'
"""

from __future__ import annotations

import copy
import hmac
import json
import os
import random
import threading
import time

from . import admin, templates
from .config import ADMIN_PREFIXES, Config, build_config, load_config
from .engine import Engine, Outcome
from .errors import ConfigError
from .mesh import Mesh
from .metrics import Metrics
from .modes import ModeRunner
from .model import Request, Response
from .state import Journal, SequenceState

__all__ = ["MockApp"]

_ALL_METHODS = "GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS"


class MockApp:
    """Serve a config. ``config`` is a ``Config``, a dict, or a path to a JSON/YAML file."""

    def __init__(self, config, *, admin_token: str | None = None, viewer_token: str | None = None,
                 clock=time.time, seed: int | None = None, log=None, forward=None, recorder=None):
        self.source_path = None
        if isinstance(config, (str, os.PathLike)):
            self.source_path = os.fspath(config)
            config = load_config(self.source_path)
        elif isinstance(config, dict):
            config = build_config(config)
        self._config: Config = config
        self._write_lock = threading.Lock()
        self.admin_token = admin_token or None
        self.viewer_token = viewer_token or None  # read-only admin access (GET and HEAD)
        self.clock = clock
        self.log = log or (lambda message: None)
        self.started_at = clock()
        self.rng = random.Random(seed if seed is not None else config.seed)
        self.counters = templates.Counters()
        self.render_env = templates.RenderEnv(clock=clock, rng=self.rng, counters=self.counters)
        self.sequences = SequenceState()
        self.engine = Engine(self.rng, self.render_env, self.sequences)
        self.journal = Journal(config.journal.size, config.journal.enabled)
        self.metrics = Metrics()
        # Proxy modes: ``forward`` (proxy.Forwarder) does the network part, ``recorder``
        # (recording.Recorder) keeps recorded exchanges; both come from layer 2.
        self.recorder = recorder
        self.engine.modes = ModeRunner(forward, recorder=recorder, metrics=self.metrics, clock=clock)
        self.last_reload = {"ok": True, "at": self.started_at, "reason": "start", "problems": []}
        self.mounts: list = []  # route groups served before the mocks (see ``mount``)
        self.mesh = Mesh(config_source=lambda: self._config, clock=clock, log=self.log,
                         seed=config.seed if seed is None else seed, render_env=self.render_env)
        self.mount(self.mesh)

    # ------------------------------------------------------------ config

    @property
    def config(self) -> Config:
        return self._config

    @property
    def limits(self):
        return self._config.limits

    def swap_config(self, config: Config, reason: str) -> None:
        """Make ``config`` live. Requests already running keep the snapshot they took."""
        with self._write_lock:
            self._install(config, reason)

    def _install(self, config: Config, reason: str) -> None:
        self._config = config
        self.journal.resize(config.journal.size, config.journal.enabled)
        self.sequences.reset()
        self.last_reload = {"ok": True, "at": self.clock(), "reason": reason, "problems": []}
        self.log(f"config {reason}: {len(config.endpoints)} endpoints live")

    def reload(self, reason: str = "reload") -> dict:
        """Re-read the config file; a bad file keeps the previous config serving."""
        with self._write_lock:
            current = self._config
            try:
                if self.source_path:
                    fresh = load_config(self.source_path)
                else:
                    fresh = build_config(current.raw, source_path=None)
            except ConfigError as exc:
                self.last_reload = {"ok": False, "at": self.clock(), "reason": reason,
                                    "problems": [p.as_dict() for p in exc.problems]}
                self.metrics.increment("pymock_config_reloads_rejected_total")
                self.log(f"config {reason} rejected, previous config still serving:\n{exc}")
                return self.last_reload
            self._install(fresh, reason)
            self.metrics.increment("pymock_config_reloads_total")
            return self.last_reload

    def edit(self, mutate) -> Config:
        """Apply ``mutate(raw)`` to a copy of the raw config, validate it, and make it live.

        Raises ``ConfigError`` (nothing changes) when the result is invalid.
        """
        with self._write_lock:
            current = self._config
            raw = copy.deepcopy(current.raw)
            mutate(raw)
            base_dir = os.path.dirname(os.path.abspath(self.source_path)) if self.source_path else None
            fresh = build_config(raw, base_dir=base_dir, source_path=self.source_path)
            self._install(fresh, "admin edit")
            return fresh

    # ------------------------------------------------------------ requests

    def mount(self, mounted) -> None:
        """Serve a route group before the mocks.

        ``mounted`` has ``prefixes`` (a tuple of path prefixes) and
        ``handle(app, config, request) -> Response | None`` (``None`` passes the request on
        to the mocks). The mesh API and provisions plug in this way.
        """
        self.mounts.append(mounted)

    def handle(self, request: Request) -> Response:
        config = self._config  # one snapshot for the whole request
        if request.path.startswith(ADMIN_PREFIXES):
            return self._admin(config, request)
        for mounted in self.mounts:
            if request.path.startswith(mounted.prefixes):
                answer = mounted.handle(self, config, request)
                if answer is not None:
                    return answer
        started = time.perf_counter()
        if not request.id:
            request.id = self.journal.next_id()
        cors = config.cors
        if cors.enabled and request.method == "OPTIONS" and "access-control-request-method" in request.headers:
            outcome = Outcome(self._preflight(cors, request))
        else:
            outcome = self.engine.respond(config, request)
            if cors.enabled:
                _add_cors_headers(cors, request, outcome.response)
        response = outcome.response
        # Echo the caller's request id (or ours) so client logs and the journal line up.
        response.headers.append(("X-Request-Id", request.headers.get("x-request-id") or request.id))
        duration = time.perf_counter() - started
        self.metrics.observe(outcome.endpoint.id if outcome.endpoint else None, response.status,
                             duration, response.delay_s, response.fault)
        if self.journal.enabled:
            self._record(config, request, outcome, duration)
        return response

    def _admin(self, config: Config, request: Request) -> Response:
        denied = self._check_admin_access(request)
        if denied is not None:
            return denied
        response = admin.dispatch(self, config, request)
        if request.path == "/__admin/health" and response.status == 200 and response.body:
            _add_mount_health(self.mounts, response)
        return response

    def _check_admin_access(self, request: Request) -> Response | None:
        """401/403 unless the request carries the admin token, or the viewer token for a read."""
        if not (self.admin_token or self.viewer_token):
            return None
        if self.admin_token and _authorized(request, self.admin_token):
            return None
        if self.viewer_token and _authorized(request, self.viewer_token):
            return None if request.method in ("GET", "HEAD") else admin.forbidden_for_viewer()
        return admin.unauthorized()

    def _preflight(self, cors, request: Request) -> Response:
        response = Response(204, [])
        _add_cors_headers(cors, request, response)
        asked = request.headers.get("access-control-request-headers")
        allow_headers = asked if "*" in cors.headers and asked else ", ".join(cors.headers)
        response.headers += [("Access-Control-Allow-Methods", ", ".join(cors.methods) or _ALL_METHODS),
                             ("Access-Control-Allow-Headers", allow_headers),
                             ("Access-Control-Max-Age", str(cors.max_age))]
        return response

    def _record(self, config: Config, request: Request, outcome: Outcome, duration: float) -> None:
        limit = config.journal.max_body_bytes
        body = request.body
        response = outcome.response
        entry = {
            "id": request.id,
            "time": request.received_at or self.clock(),
            "method": request.method,
            "path": request.path,
            "query": request.raw_query,
            "headers": request.headers.to_dict(),
            "body": body[:limit].decode("utf-8", "replace") if body else "",
            "body_size": len(body),
            "body_truncated": len(body) > limit,
            "client": request.client[0],
            "matched": outcome.endpoint.id if outcome.endpoint else None,
            "picked": outcome.picked if outcome.endpoint else None,
            "path_params": outcome.path_params,
            "near_misses": [m.as_dict() for m in outcome.near_misses],
            "status": response.status,
            "delay_ms": round(response.delay_s * 1000, 3),
            "fault": response.fault,
            "response_headers": dict(response.headers),
            "response_size": len(response.body),
            "duration_ms": round(duration * 1000, 3),
        }
        if outcome.notes:
            entry.update(outcome.notes)
        self.journal.record(entry)

    def reset_state(self) -> None:
        """Forget the journal, sequence positions, template counters and metrics."""
        self.journal.clear()
        self.metrics.reset()
        self.sequences.reset()
        self.counters.reset()


def _add_mount_health(mounts, response: Response) -> None:
    """A mounted group with ``health() -> {"ok": bool, ...}`` reports under its ``name``."""
    sections = {mounted.name: mounted.health() for mounted in mounts if hasattr(mounted, "health")}
    if not sections:
        return
    document = json.loads(response.body)
    document.update(sections)
    if not all(section.get("ok", True) for section in sections.values()):
        document["status"] = "degraded"
    response.body = json.dumps(document, indent=2, default=str).encode()


def _authorized(request: Request, token: str) -> bool:
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def _add_cors_headers(cors, request: Request, response: Response) -> None:
    origin = request.headers.get("origin")
    if "*" in cors.origins and not cors.allow_credentials:
        allowed = "*"
    elif origin and origin in cors.origins:
        allowed = origin
    else:
        return
    response.headers.append(("Access-Control-Allow-Origin", allowed))
    if allowed != "*":
        response.headers.append(("Vary", "Origin"))
    if cors.allow_credentials:
        response.headers.append(("Access-Control-Allow-Credentials", "true"))
    if cors.expose_headers:
        response.headers.append(("Access-Control-Expose-Headers", ", ".join(cors.expose_headers)))
