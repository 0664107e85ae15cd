"""Multi-process serving: ``--workers N`` runs N processes that share the listening port.

Layer 2: forks processes, binds sockets, installs signal handlers. The parent reserves the
port, prints the listening line, forks the workers and supervises them: a worker that dies
is replaced, SIGHUP is passed on (each worker reloads its config), and SIGTERM/SIGINT stop
every worker before the parent exits 0. A worker whose parent vanished stops by itself.

How the port is shared:

- ``reuseport`` (Linux): each worker binds its own socket with ``SO_REUSEPORT`` and the
  kernel spreads new connections across them. The parent holds a bound, non-listening
  socket so the port stays reserved (and ``--port 0`` resolves once, for everyone).
- ``shared`` (elsewhere, or ``PYMOCK_WORKER_SOCKET=shared``): the parent binds and listens
  once; the workers inherit the socket and race to accept each connection. It is made
  non-blocking so a worker that loses the race goes back to waiting instead of blocking.

Each worker is a full pymock: its own config snapshot and file watcher (so a config change
reaches every worker), its own journal, sequences, counters and provision watcher. What is
per worker is listed in docs/deploy.md.

>>> socket_mode() in ("reuseport", "shared")
True

Imports only the standard library and pymock's ``server`` (relatively); nothing in layers
0-1 may import this module.
"""

from __future__ import annotations

import errno
import os
import select
import signal
import socket
import sys
import time
import traceback

from .server import MockHTTPServer

__all__ = ["Listener", "WorkerTag", "run_workers", "socket_mode", "WORKER_HEADER",
           "fork_supported"]

WORKER_HEADER = "X-Pymock-Worker"
_STOP_GRACE_S = 10.0           # how long workers get to finish in-flight requests
_RESTART_WINDOW_S = 10.0       # more than _MAX_RESTARTS deaths in this window: give up
_MAX_RESTARTS = 5
_READY_TIMEOUT_S = 15.0        # how long the parent waits for every worker to listen


def fork_supported() -> bool:
    return hasattr(os, "fork")


def socket_mode() -> str:
    """``reuseport`` where the kernel balances it (Linux), else ``shared``; env overrides."""
    asked = os.environ.get("PYMOCK_WORKER_SOCKET", "auto").strip().lower()
    has_reuseport = hasattr(socket, "SO_REUSEPORT")
    if asked == "shared" or not has_reuseport:
        return "shared"
    if asked == "reuseport":
        return "reuseport"
    return "reuseport" if sys.platform.startswith("linux") else "shared"


def _new_socket(host: str) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    return sock


class Listener:
    """A port the parent reserved; each worker makes its server from it with ``server()``."""

    def __init__(self, host: str, port: int, mode: str | None = None):
        self.mode = mode or socket_mode()
        self.host = host
        if self.mode == "reuseport":
            port = self._probe(host, port)
            self.socket = _new_socket(host)
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            self.socket.bind((host, port))
        else:
            self.socket = _new_socket(host)
            self.socket.bind((host, port))
            self.socket.listen(MockHTTPServer.request_queue_size)
        self.port = self.socket.getsockname()[1]

    @staticmethod
    def _probe(host: str, port: int) -> int:
        # A plain bind first: SO_REUSEPORT alone would let us share a port that another
        # program of the same user already serves, and split its traffic silently.
        probe = _new_socket(host)
        try:
            probe.bind((host, port))
            return probe.getsockname()[1]
        finally:
            probe.close()

    def url(self, scheme: str = "http") -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"

    def server(self, app, *, ssl_context=None, log=None) -> MockHTTPServer:
        """The worker's server on this port (call it in the worker, after the fork)."""
        if self.mode == "reuseport":
            return _ReusePortServer((self.host, self.port), app, ssl_context=ssl_context, log=log)
        self.socket.setblocking(False)
        shared = type("_SharedServer", (_SharedSocketServer,), {"shared_socket": self.socket})
        return shared((self.host, self.port), app, ssl_context=ssl_context, log=log)

    def close(self) -> None:
        self.socket.close()


class _ReusePortServer(MockHTTPServer):
    def server_bind(self):
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        super().server_bind()


class _SharedSocketServer(MockHTTPServer):
    shared_socket: socket.socket

    def server_bind(self):
        self.socket.close()   # the fresh socket TCPServer made; the inherited one is used
        self.socket = self.shared_socket
        self.server_address = self.socket.getsockname()
        self.server_name, self.server_port = self.server_address[:2]

    def server_activate(self):
        """Already listening: the parent did it once for every worker."""


class WorkerTag:
    """Wrap an app so every response names the process that answered it: debug only."""

    def __init__(self, app, tag: str | None = None):
        self.app = app
        self.tag = tag or str(os.getpid())

    @property
    def limits(self):
        return self.app.limits

    def handle(self, request):
        response = self.app.handle(request)
        response.set_header(WORKER_HEADER, self.tag)   # a new list: a shared plan is not mutated
        return response

    def __getattr__(self, name):
        return getattr(self.app, name)


def run_workers(count: int, serve_one, *, log=None, on_ready=None) -> int:
    """Fork ``count`` workers running ``serve_one(index, parent_pid, ready) -> exit code``.

    A worker calls ``ready()`` once it listens; ``on_ready()`` runs in the parent when every
    worker did (so a "listening" line printed there is true). Returns when SIGTERM or SIGINT
    arrives (0, after every worker stopped) or when workers keep dying (1). Call it before
    starting any thread: ``fork`` copies only the calling thread.
    """
    return _Supervisor(count, serve_one, log or (lambda message: None)).run(on_ready)


class _Supervisor:
    def __init__(self, count: int, serve_one, log):
        self.count, self.serve_one, self.log = count, serve_one, log
        self.children: dict[int, int] = {}   # pid -> worker index
        self.deaths: list[float] = []
        self.stopping = False
        self._ready_read, self._ready_write = os.pipe()

    def run(self, on_ready=None) -> int:
        parent = os.getpid()
        previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        signal.signal(signal.SIGHUP, self._forward)
        try:
            for index in range(self.count):
                self._spawn(index, parent)
            code = 1
            if self._wait_ready(parent):
                self.log(f"workers: {self.count} started (pids {', '.join(map(str, self.children))})")
                if on_ready is not None and not self.stopping:
                    on_ready()
                code = self._supervise(parent)
        finally:
            os.close(self._ready_read)
            os.close(self._ready_write)
            self._stop_children()
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        return code

    def _stop(self, *_):
        self.stopping = True

    def _wait_ready(self, parent: int) -> bool:
        """Until every worker wrote its byte (or the timeout, or a stop signal); a worker
        that dies first is replaced. False when workers keep dying."""
        waiting, deadline = self.count, time.monotonic() + _READY_TIMEOUT_S
        while waiting > 0 and not self.stopping and time.monotonic() < deadline:
            readable, _, _ = select.select([self._ready_read], [], [], 0.1)
            if readable:
                waiting -= len(os.read(self._ready_read, waiting))
            if not self._replace_dead(parent):
                return False
        if waiting > 0 and not self.stopping:
            self.log(f"workers: {waiting} worker(s) not listening after {_READY_TIMEOUT_S:.0f}s")
        return True

    def _ready(self) -> None:
        try:
            os.write(self._ready_write, b"r")
        except OSError:
            pass   # the parent stopped listening for it: nothing to tell

    def _forward(self, signum, _frame):
        for pid in list(self.children):
            _signal(pid, signum)

    def _spawn(self, index: int, parent: int) -> None:
        pid = os.fork()
        if pid:
            self.children[pid] = index
            return
        code = 1
        try:   # the worker: never returns into the parent's code
            for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                signal.signal(signum, signal.SIG_DFL)
            os.close(self._ready_read)
            code = self.serve_one(index, parent, self._ready)
        except BaseException:   # noqa: B036 (a worker reports anything, then exits)
            traceback.print_exc()
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)

    def _supervise(self, parent: int) -> int:
        while not self.stopping:
            time.sleep(0.1)   # signal handlers run here; a reap costs one syscall
            if not self._replace_dead(parent):
                return 1
        return 0

    def _replace_dead(self, parent: int) -> bool:
        """Start a new worker for each one that exited; False once they keep dying."""
        for pid, status in _reap():
            index = self.children.pop(pid, None)
            if index is None or self.stopping:
                continue
            self.log(f"workers: worker {index} (pid {pid}) exited ({_describe(status)})")
            if self._too_many_deaths():
                self.log("workers: workers keep dying; stopping (see the errors above)")
                return False
            self._spawn(index, parent)
        return True

    def _too_many_deaths(self) -> bool:
        now = time.monotonic()
        self.deaths = [t for t in self.deaths if now - t < _RESTART_WINDOW_S] + [now]
        return len(self.deaths) > _MAX_RESTARTS

    def _stop_children(self) -> None:
        for pid in list(self.children):
            _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + _STOP_GRACE_S
        while self.children and time.monotonic() < deadline:
            for pid, _status in _reap():
                self.children.pop(pid, None)
            if self.children:
                time.sleep(0.02)
        for pid in list(self.children):   # still there after the grace period
            _signal(pid, signal.SIGKILL)
            _wait(pid)
            self.children.pop(pid, None)


def _reap() -> list[tuple[int, int]]:
    out = []
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return out
        if pid == 0:
            return out
        out.append((pid, status))


def _wait(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except OSError as exc:
        if exc.errno != errno.ESRCH:
            raise


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exit code {os.waitstatus_to_exitcode(status)}"
