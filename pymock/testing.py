"""Helpers for tests: ``MockServer`` (a real server on an ephemeral port) and ``wait_until``.

Layer 2 (the edge): starts serving threads. Tests and the pytest plugin import it; nothing in
layers 0-1 may.

>>> from urllib.request import urlopen
>>> with MockServer({"endpoints": [{"path": "/ping", "response": {"ok": True}}]}) as mock:
...     urlopen(mock.url("/ping")).read()
...     [entry["path"] for entry in mock.requests()]
b'{"ok": true}'
['/ping']
"""

from __future__ import annotations

import time

from .app import MockApp
from .config import build_config, generate_id
from .proxy import Forwarder
from .recording import Recorder
from .server import format_listen_url, make_server, serve_in_thread, stop_server
from .webhooks import WebhookDispatcher

__all__ = ["MockServer", "wait_until"]


class MockServer:
    """A pymock server on ``host:port`` (port 0 = a free one) serving ``config`` in a thread.

    ``config`` is a dict, a path to a config file, or a ``MockApp``. Use it as a context
    manager, or call ``start()``/``stop()``. ``check()`` re-raises the first exception a
    request handler hit, so a server-side bug fails the test that caused it. ``state`` is a
    SQLite path for scenarios, the store and resources (default: in memory).
    """

    def __init__(self, config=None, *, host: str = "127.0.0.1", port: int = 0,
                 admin_token: str | None = None, seed: int | None = None, ssl_context=None, log=None,
                 state=None, mesh_edge: bool = False):
        if isinstance(config, MockApp):
            self.app = config
        else:
            self.app = MockApp(config if config is not None else {"endpoints": []},
                               admin_token=admin_token, seed=seed, log=log,
                               forward=Forwarder(), recorder=Recorder(), state=state)
        # Webhooks go out from a worker thread this server owns (started on first use).
        self._webhooks = None
        if self.app.stateful.webhooks is None:
            self._webhooks = self.app.stateful.webhooks = WebhookDispatcher(log=log)
        self.host, self.port = host, port
        self._ssl_context = ssl_context
        self._attach_mesh_edge = mesh_edge  # real HTTP calls and health checks for mesh services
        self._mesh_edge = None
        self._log = log
        self.server = None
        self._thread = None
        self.errors: list = []  # exceptions request handlers raised (kept after stop)

    def start(self) -> "MockServer":
        self.server = make_server(self.app, self.host, self.port, ssl_context=self._ssl_context,
                                  log=self._log)
        self.port = self.server.server_address[1]
        self.errors = self.server.errors
        self._thread = serve_in_thread(self.server)
        if self._attach_mesh_edge:
            from .mesh_edge import attach
            self._mesh_edge = attach(self.app)
        return self

    def stop(self) -> None:
        if self._mesh_edge is not None:
            self._mesh_edge.close()
            self._mesh_edge = None
        if self.server is not None:
            stop_server(self.server, self._thread)
            self.server = None
        if self._webhooks is not None:
            self._webhooks.stop()

    def __enter__(self) -> "MockServer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
        if exc_info[0] is None:
            self.check()

    @property
    def base_url(self) -> str:
        return format_listen_url(self.server)

    def url(self, path: str = "/") -> str:
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def requests(self, **filters) -> list[dict]:
        """Journal entries, oldest first; ``filters`` keep entries whose fields equal the values."""
        entries = self.app.journal.list(
            lambda entry: all(entry.get(key) == value for key, value in filters.items()))
        return entries[::-1]

    def configure(self, config: dict) -> None:
        """Serve a whole new config (validated first; a bad one raises ``ConfigError``)."""
        self.app.swap_config(build_config(config), "configure")

    def add(self, endpoint: dict) -> str:
        """Add one endpoint; returns its id."""
        endpoint = dict(endpoint)

        def append(raw):
            endpoint.setdefault("id", generate_id(endpoint, {e.id for e in self.app.config.endpoints}))
            raw.setdefault("endpoints", []).append(endpoint)
        self.app.edit(append)
        return endpoint["id"]

    def reset(self) -> None:
        self.app.reset_state()

    def check(self) -> None:
        if self.errors:
            raise self.errors[0]


def wait_until(predicate, timeout: float = 5.0, interval: float = 0.01, message: str = ""):
    """Poll ``predicate`` until it returns a truthy value, which is returned.

    Raises ``TimeoutError`` naming ``message`` (or the predicate) when ``timeout`` runs out.
    This is how tests wait for another thread or process instead of sleeping a fixed time.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            what = message or getattr(predicate, "__name__", "condition")
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)
