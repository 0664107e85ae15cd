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
import ipaddress
import json
import os
import random
import threading
import time

from . import admin, templates
from .config import ADMIN_PREFIXES, Config, build_config, load_config
from .contract import ViolationLog
from .engine import Engine, Outcome
from .environments import MockHistory
from .errors import ConfigError
from .features import Stateful
from .mesh import Mesh
from .metrics import Metrics
from .modes import ModeRunner
from .model import Request, Response
from .state import Journal, SequenceState
from .stores import StateStore

__all__ = ["MockApp"]

_ALL_METHODS = "GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS"


class MockApp:
    """Serve a config. ``config`` is a ``Config``, a dict, or a path to a JSON/YAML file."""

    def __init__(self, config, *, admin_token: str | None = None, viewer_token: str | None = None,
                 clock=time.time, seed: int | None = None, log=None, forward=None, recorder=None,
                 overrides: dict | None = None, state=None, webhooks=None):
        self.source_path = None
        # Command-line additions kept across reloads and edits: {"openapi": [...], "contract": mode}.
        self.overrides = overrides or None
        if isinstance(config, (str, os.PathLike)):
            self.source_path = os.fspath(config)
            config = load_config(self.source_path, overrides=self.overrides)
        elif isinstance(config, dict):
            config = build_config(config, overrides=self.overrides)
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
        self.contract_log = ViolationLog(clock=clock, log=lambda message: self.log(message))
        _log_contract_notes(config, self.log)
        # Scenarios, the key-value store and resources: in memory, or in the SQLite file ``state``
        # names (shared by processes, kept across restarts). ``webhooks`` sends callbacks
        # (webhooks.WebhookDispatcher, from layer 2); admin edits keep each mock's versions.
        self.stateful = Stateful(state if isinstance(state, StateStore) else StateStore(state),
                                 clock=clock, webhooks=webhooks)
        self.engine.stateful = self.stateful
        self.stateful.install(config)
        self.history = MockHistory()

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
        previous = self._config
        self._config = config
        self.journal.resize(config.journal.size, config.journal.enabled)
        # A sequence restarts only when its own endpoint changed (or went away): editing one
        # mock must not rewind the others.
        unchanged = {e.id for e in config.endpoints
                     if (old := previous.endpoint(e.id)) is not None and old.source == e.source}
        self.sequences.retain(unchanged)
        self.stateful.install(config)
        self.last_reload = {"ok": True, "at": self.clock(), "reason": reason, "problems": []}
        self.log(f"config {reason}: {len(config.endpoints)} endpoints live")
        _log_contract_notes(config, self.log)

    def reload(self, reason: str = "reload") -> dict:
        """Re-read the config file; a bad file keeps the previous config serving."""
        with self._write_lock:
            current = self._config
            try:
                if self.source_path:
                    fresh = load_config(self.source_path, overrides=self.overrides)
                else:
                    fresh = build_config(current.raw, source_path=None, overrides=self.overrides)
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
            fresh = build_config(raw, base_dir=base_dir, source_path=self.source_path,
                                 overrides=self.overrides)
            self._install(fresh, "admin edit")
            self.history.record(current, fresh, self.clock())
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
                if getattr(mounted, "is_control", None) is not None and mounted.is_control(request):
                    denied = self._check_admin_access(request) or _browser_guard(request, bool(self.admin_token))
                    if denied is not None:
                        return denied
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
        if response.header("X-Request-Id") is None:
            response.headers.append(("X-Request-Id", request.headers.get("x-request-id") or request.id))
        duration = time.perf_counter() - started
        self.metrics.observe(outcome.endpoint.id if outcome.endpoint else None, response.status,
                             duration, response.delay_s, response.fault)
        if self.journal.enabled:
            self._record(config, request, outcome, duration)
        if "contract" in outcome.notes:
            self.contract_log.record(request, outcome)
        return response

    def _admin(self, config: Config, request: Request) -> Response:
        denied = self._check_admin_access(request) or _browser_guard(request, bool(self.admin_token))
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
            reads = request.method in ("GET", "HEAD") and request.path not in admin.STATE_CHANGING_GETS
            return None if reads else admin.forbidden_for_viewer()
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
            "response_body": response.body[:limit].decode("utf-8", "replace"),
            "duration_ms": round(duration * 1000, 3),
        }
        if outcome.notes:
            entry.update(outcome.notes)
        self.journal.record(entry)

    def reset_state(self) -> None:
        """Forget the journal, sequence positions, template counters and metrics; put scenarios,
        the store and resources back to what the config seeds."""
        self.journal.clear()
        self.metrics.reset()
        self.sequences.reset()
        self.counters.reset()
        self.stateful.reset()


def _log_contract_notes(config: Config, log) -> None:
    """What loading the specs and checking the mock examples found (contract.py)."""
    hook = config.sections.get("contract")
    if hook is None or not hook.notes:
        return
    shown = "\n".join(f"  {note}" for note in hook.notes[:20])
    more = f"\n  ... and {len(hook.notes) - 20} more (GET /__admin/contract/violations)" if len(hook.notes) > 20 else ""
    log(f"openapi: {len(hook.notes)} note(s) about the specs and mock examples:\n{shown}{more}")


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


def _browser_guard(request: Request, has_token: bool) -> Response | None:
    """403 for admin requests a web page could have made: cross-site (CSRF) or, without an
    admin token, through a DNS name other than localhost (DNS rebinding).

    Browsers put ``Origin`` on cross-site requests and it must name the requested host; curl,
    scripts and tests send none. A rebinding page is same-origin, so the ``Host`` it sends is
    the attacker's name: without a token only IP literals and ``localhost`` names may reach
    the admin API.
    """
    host = request.headers.get("host", "")
    origin = request.headers.get("origin")
    if origin and origin.split("://", 1)[-1].rstrip("/") != host:
        return admin.cross_origin_refused(origin)
    if has_token or not host or _is_local_name(host):
        return None
    return admin.host_refused(host)


def _is_local_name(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    name = name.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


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
