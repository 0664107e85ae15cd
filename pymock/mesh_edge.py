"""The mesh's edge: real HTTP calls to registered addresses and active HTTP health checks.

Layer 2: opens sockets (``http.client``) and starts one daemon thread. The layer-1 ``Mesh``
never imports this module; ``attach`` hands it ``http_call`` and starts the ``HealthChecker``,
which probes every service with a real address each ``mesh.health.check_interval_s`` and
reports to the registry: 2xx is passing, 429 warning, anything else (or no answer within
``check_timeout_s``) critical, as Consul does.

    edge = attach(app)        # app: a MockApp (or a Mesh)
    ...
    edge.close()              # stops the checker, removes the HTTP client

Imports only the standard library and ``mesh_calls`` (for ``RemoteAnswer``).
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from urllib.parse import urlsplit

from .mesh_calls import RemoteAnswer

__all__ = ["http_call", "probe", "HealthChecker", "MeshEdge", "attach"]

_USER_AGENT = "pymock-mesh"


def http_call(method: str, url: str, headers, body: bytes, timeout_s: float) -> RemoteAnswer:
    """Send one request and read the whole answer; failures come back as ``error``:
    ``refused`` (nothing listening), ``timeout`` (no answer in time) or ``broken``."""
    started = time.monotonic()
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection_class = http.client.HTTPSConnection if parts.scheme == "https" else \
        http.client.HTTPConnection
    conn = connection_class(parts.hostname, parts.port, timeout=max(timeout_s, 0.001))
    try:
        conn.putrequest(method, target, skip_accept_encoding=True)
        sent = {name.lower() for name, _ in headers}
        for name, value in headers:
            conn.putheader(name, value)
        if "user-agent" not in sent:
            conn.putheader("User-Agent", _USER_AGENT)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body or None)
        response = conn.getresponse()
        payload = response.read()
        return RemoteAnswer(response.status, tuple(response.getheaders()), payload,
                            time.monotonic() - started)
    except (socket.timeout, TimeoutError) as exc:
        return _failed("timeout", f"no answer within {timeout_s * 1000:g}ms ({exc})", started)
    except ConnectionRefusedError as exc:
        return _failed("refused", f"connection refused ({exc.strerror or exc})", started)
    except (http.client.HTTPException, ConnectionError) as exc:
        return _failed("broken", f"broken answer: {type(exc).__name__}: {exc}", started)
    except OSError as exc:
        return _failed("refused", f"cannot connect: {exc.strerror or exc}", started)
    finally:
        conn.close()


def _failed(error: str, detail: str, started: float) -> RemoteAnswer:
    return RemoteAnswer(error=error, detail=detail, elapsed_s=time.monotonic() - started)


def probe(url: str, timeout_s: float) -> tuple[str, str]:
    """One active health check: (status, output) for the registry."""
    answer = http_call("GET", url, [("Accept", "application/json")], b"", timeout_s)
    if answer.error is not None:
        return "critical", f"GET {url}: {answer.detail}"
    output = f"GET {url}: HTTP {answer.status}"
    if 200 <= answer.status < 300:
        return "passing", output
    return ("warning" if answer.status == 429 else "critical"), output


class HealthChecker:
    """Probes the registry's check targets on an interval in a daemon thread.

    ``check_now()`` runs one round synchronously (tests call it instead of waiting). The
    interval and timeout are read from the registry's policy each round, so a config reload
    changes them without a restart. ``probe`` is injectable for tests.
    """

    def __init__(self, registry, *, probe_fn=probe, log=None):
        self.registry = registry
        self._probe = probe_fn
        self.log = log or (lambda message: None)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.rounds = 0

    def check_now(self) -> int:
        """Probe every target once; returns how many were checked."""
        timeout = self.registry.policy.check_timeout_s
        targets = self.registry.check_targets()
        for service_id, url in targets:
            status, output = self._probe(url, timeout)
            self.registry.record_check(service_id, status, output)
        self.rounds += 1
        return len(targets)

    def start(self) -> HealthChecker:
        self._thread = threading.Thread(target=self._run, name="pymock-mesh-health", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.check_now()
            except Exception as exc:  # the checker must never die; report and keep going
                self.log(f"mesh health checker error: {exc!r}")
            self._stop.wait(self.registry.policy.check_interval_s)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None


class MeshEdge:
    """What ``attach`` started: the HTTP client in the mesh and the health checker."""

    def __init__(self, mesh, checker: HealthChecker):
        self.mesh, self.checker = mesh, checker

    def close(self) -> None:
        self.checker.stop()
        self.mesh.set_http_call(None)

    def __enter__(self) -> MeshEdge:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def attach(target, *, start_checks: bool = True, call=http_call) -> MeshEdge:
    """Give ``target`` (a ``MockApp`` or a ``Mesh``) real HTTP: calls to registered
    addresses, and (with ``start_checks``) active health checks in a background thread."""
    mesh = getattr(target, "mesh", target)
    mesh.set_http_call(call)
    checker = HealthChecker(mesh.registry, log=mesh.log)
    if start_checks:
        checker.start()
    return MeshEdge(mesh, checker)
