"""The provision edge: the folder watcher thread and the admin listener on ``--admin-port``.

Layer 2: starts threads, reads file metadata, binds the admin port. The decisions (what is a
good provision, which one is live) belong to ``provisions.ProvisionManager``; this module
only feeds it. The admin API is h1mock's, on its own port (8074 by default):

    POST /app/v1/provision/<name>   the body is the provision source -> 201, or 400 naming the error
    GET  /app/v1/provision/<name>   load that file again ("touch") -> 200
    GET  /app/v1/provision          the files, the live provision and the last attempt
    GET  /healthz                   200 while the process serves

Success answers carry h1mock's ``{"result": "success: basename file '<name>' has been
loaded"}``; every refusal is ``application/problem+json`` and the previous provision keeps
serving. With an admin token set, the provision routes need ``Authorization: Bearer``.

Imports only the standard library and pymock modules (relatively).
"""

from __future__ import annotations

import hmac
import json
import os

from .matching import Route, RouteMiss, Router, compile_path
from .model import Request, Response, ServerLimits, missing_route, problem_response
from .provisions import ProvisionError, ProvisionManager
from .reload import PollingWatcher
from .server import make_server, serve_in_thread, stop_server

__all__ = ["ProvisionAdmin", "FolderWatcher", "ProvisionService", "DEFAULT_ADMIN_PORT",
           "ADMIN_ROUTES", "make_admin_server"]

DEFAULT_ADMIN_PORT = 8074
_PREFIX = "/app/v1/provision"
_SOURCE_TYPES = ("text/plain", "text/x-python", "application/x-python", "application/octet-stream")


def _loaded(status: int, name: str, manager: ProvisionManager) -> Response:
    payload = {"result": f"success: basename file '{name}' has been loaded",
               "provision": manager.active.describe()}
    return Response(status, [("Content-Type", "application/json")], json.dumps(payload).encode())


def _refused(error: ProvisionError) -> Response:
    status = 404 if error.stage == "missing" else 400
    titles = {"name": "Invalid provision name", "missing": "No such provision",
              "read": "Provision unreadable", "syntax": "Provision has a syntax error",
              "load": "Provision failed to load", "register": "registerRules() failed",
              "conflict": "Provision rules conflict"}
    return problem_response(status, titles[error.stage],
                            f"{error}; the previous provision is still serving",
                            errors=error.problems(), stage=error.stage,
                            result=f"failed: {error.message}")


def post_provision(admin: "ProvisionAdmin", request: Request, name: str) -> Response:
    content_type = request.headers.get("content-type")
    if content_type is not None and content_type.split(";")[0].strip().lower() not in _SOURCE_TYPES:
        return problem_response(415, "Unsupported media type", "a provision is Python source; "
                                f"send it as text/plain, not {content_type}",
                                hint="curl --data-binary @FILE -H 'Content-Type: text/plain' "
                                     "(plain --data would also drop the newlines)",
                                result="failed: content-type must be 'text/plain'")
    if not request.body.strip():
        return problem_response(400, "Provision source required",
                                "the request body is empty; send the provision's Python source")
    try:
        admin.manager.save_and_activate(name, request.body, origin="admin POST")
    except ProvisionError as error:
        return _refused(error)
    except OSError as exc:
        return problem_response(500, "Provision not saved", f"cannot write {name!r} in "
                                f"{admin.manager.folder}: {exc.strerror}; nothing changed")
    return _loaded(201, name, admin.manager)


def get_provision(admin: "ProvisionAdmin", request: Request, name: str) -> Response:
    try:
        admin.manager.activate_file(name, origin="admin GET")
    except ProvisionError as error:
        return _refused(error)
    _touch(admin.manager, name)
    return _loaded(200, name, admin.manager)


def _touch(manager: ProvisionManager, name: str) -> None:
    # Other workers watching the folder see the new mtime and load the file too; this
    # process already did, so its stamp is updated to match.
    try:
        os.utime(manager.path_for(name))
    except OSError:
        return   # a read-only folder (a ConfigMap): only this process reloads
    manager.stamps[name] = manager.stamp(name)


def list_provisions(admin: "ProvisionAdmin", request: Request, name: str) -> Response:
    manager = admin.manager
    payload = {"folder": manager.folder, "files": manager.names(), **manager.health()}
    return Response(200, [("Content-Type", "application/json")],
                    json.dumps(payload, indent=2, default=str).encode())


def healthz(admin: "ProvisionAdmin", request: Request, name: str) -> Response:
    payload = {"status": "ok" if admin.manager.last_attempt["ok"] else "degraded",
               "provision": admin.manager.active.name}
    return Response(200, [("Content-Type", "application/json")], json.dumps(payload).encode())


# (method, path, handler, needs the admin token)
ADMIN_ROUTES = [
    ("POST", _PREFIX + "/**", post_provision, True),
    ("GET", _PREFIX + "/**", get_provision, True),
    ("GET", _PREFIX, list_provisions, True),
    ("GET", "/healthz", healthz, False),
]

_ROUTER = Router(Route(entry, f"{entry[0]} {entry[1]}", frozenset([entry[0]]),
                       compile_path(entry[1]), order=index)
                 for index, entry in enumerate(ADMIN_ROUTES))


class ProvisionAdmin:
    """The app behind ``--admin-port``: any object with ``handle`` and ``limits`` suits server.py."""

    limits = ServerLimits()

    def __init__(self, manager: ProvisionManager, admin_token: str | None = None):
        self.manager = manager
        self.admin_token = admin_token or None

    def handle(self, request: Request) -> Response:
        found = _ROUTER.find(request)
        if isinstance(found, RouteMiss):
            return missing_route(request, found.allowed_methods, "provision admin route",
                                 f"use POST or GET {_PREFIX}/<name>, GET {_PREFIX} or GET /healthz")
        _method, _path, handler, guarded = found.route.key
        if guarded and self.admin_token and not self._authorized(request):
            return problem_response(401, "Admin token required", "send 'Authorization: Bearer "
                                    "<token>' (the --admin-token value)",
                                    headers=[("WWW-Authenticate", 'Bearer realm="pymock-admin"')])
        name = found.path_params.get("**", "")
        response = handler(self, request, name)
        if request.method == "HEAD":
            response.body = b""
        return response

    def _authorized(self, request: Request) -> bool:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(),
                                                                  self.admin_token.encode())


def make_admin_server(manager: ProvisionManager, host: str, port: int, *, admin_token=None,
                      log=None):
    """Bind the provision admin listener (port 0 picks a free one); not yet serving."""
    return make_server(ProvisionAdmin(manager, admin_token), host, port, log=log)


class FolderWatcher(PollingWatcher):
    """Poll the provision folder; a new or touched file is loaded (a bad one is reported).

    Polling (one ``os.stat`` per file per interval) works on every platform and on
    Kubernetes ConfigMap volumes, whose files are symlinks swapped on update.
    """

    def __init__(self, manager: ProvisionManager, interval: float = 0.5):
        self.manager = manager
        self.interval = interval
        self._seen = self._snapshot()

    def _snapshot(self) -> dict:
        return {name: self.manager.stamp(name) for name in self.manager.names()}

    def check_now(self) -> list[str]:
        """Load what changed since the last look; returns the names it tried, in order."""
        current = self._snapshot()
        changed = [name for name, stamp in current.items()
                   if stamp is not None and stamp != self._seen.get(name)
                   and stamp != self.manager.stamps.get(name)]
        self._seen = current
        # Oldest first, so the most recently written file ends up live; on a tie (a
        # ConfigMap update writes every file at once) 'initial' goes last and wins.
        changed.sort(key=lambda name: (current[name][0], name == "initial", name))
        for name in changed:
            try:
                self.manager.activate_file(name, origin="file changed")
            except ProvisionError:
                pass   # reported by the manager (log, health); the previous one serves
        return changed

    thread_name = "pymock-provision-watcher"
    label = "provision watcher"

    def report(self, message: str) -> None:
        self.manager.log(message)


class ProvisionService:
    """The running parts for one process: the folder watcher and the admin listener."""

    def __init__(self, manager: ProvisionManager, admin_server=None, *, watch: bool = True,
                 interval: float = 0.5):
        self.manager = manager
        self.admin_server = admin_server
        self.watcher = FolderWatcher(manager, interval) if watch else None
        self._thread = None

    def start(self) -> "ProvisionService":
        if self.watcher is not None:
            self.watcher.start()
        if self.admin_server is not None:
            self._thread = serve_in_thread(self.admin_server)
        return self

    def stop(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
        if self.admin_server is not None:
            stop_server(self.admin_server, self._thread)
