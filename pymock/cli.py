"""The command line: ``python mock_server.py [CONFIG]`` / ``pymock [serve|check] ...``.

Layer 2: binds sockets, installs signal handlers, prints to the terminal. The first line
``serve`` prints is ``listening on http://HOST:PORT`` (the real port when ``--port 0``), so
scripts and tests can wait for it instead of sleeping. SIGINT/SIGTERM stop the server cleanly
(requests in flight finish) and the process exits 0. A bad config exits 2 with every problem.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time

from . import __version__
from .app import MockApp
from .config import load_config
from .errors import ConfigError
from .provision_edge import DEFAULT_ADMIN_PORT, ProvisionAdmin, ProvisionService, make_admin_server
from .provisions import ProvisionManager
from .reload import ConfigWatcher
from .server import build_ssl_context, format_listen_url, make_server, serve_in_thread, stop_server
from .workers import Listener, WorkerTag, fork_supported, run_workers

__all__ = ["main", "build_parser"]

DEFAULT_CONFIG = "config.json"
EXIT_OK, EXIT_USAGE, EXIT_CONFIG = 0, 2, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pymock", description="A zero-install HTTP mock server (standard library only).",
        epilog="Commands: serve (default), check. 'pymock COMMAND --help' for each.")
    parser.add_argument("--version", action="version", version=f"pymock {__version__}")
    commands = parser.add_subparsers(dest="command")
    _serve_arguments(commands.add_parser("serve", help="serve a config (the default command)"))
    check = commands.add_parser("check", help="validate a config file and exit (0 ok, 2 problems)")
    check.add_argument("config", nargs="?", default=None, help=f"config file (default: ./{DEFAULT_CONFIG})")
    check.add_argument("--config", dest="config_option", metavar="FILE", help="config file")
    return parser


def _serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", nargs="?", default=None, help=f"config file, JSON or YAML (default: ./{DEFAULT_CONFIG})")
    parser.add_argument("--config", dest="config_option", metavar="FILE", help="config file (same as the positional)")
    parser.add_argument("--host", default=os.environ.get("PYMOCK_HOST", "127.0.0.1"),
                        help="address to bind (default 127.0.0.1; 0.0.0.0 for every interface)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PYMOCK_PORT", "8080")),
                        help="port to bind (default 8080; 0 picks a free one)")
    parser.add_argument("--admin-token", default=os.environ.get("PYMOCK_ADMIN_TOKEN"),
                        help="require 'Authorization: Bearer TOKEN' on admin routes (env PYMOCK_ADMIN_TOKEN)")
    parser.add_argument("--viewer-token", default=os.environ.get("PYMOCK_VIEWER_TOKEN"),
                        help="a read-only admin token: GET admin routes only (env PYMOCK_VIEWER_TOKEN)")
    parser.add_argument("--tls-cert", help="PEM certificate: serve HTTPS")
    parser.add_argument("--tls-key", help="PEM private key for --tls-cert")
    parser.add_argument("--no-watch", action="store_true", help="do not reload when the config file changes")
    parser.add_argument("--watch-interval", type=float, default=0.5, help="seconds between config file checks")
    parser.add_argument("--seed", type=int, default=None, help="seed for failure injection, variants, latency and fake data")
    parser.add_argument("--quiet", action="store_true", help="no access log")
    parser.add_argument("--log-format", choices=("text", "json"), default="text", help="access log format")
    parser.add_argument("--workers", type=int, default=int(os.environ.get("PYMOCK_WORKERS", "1")),
                        help="processes sharing the port (default 1; env PYMOCK_WORKERS)")
    parser.add_argument("--debug-worker-id", action="store_true",
                        default=os.environ.get("PYMOCK_DEBUG_WORKER_ID", "") not in ("", "0"),
                        help="add X-Pymock-Worker: <pid> to every response (env PYMOCK_DEBUG_WORKER_ID=1)")
    parser.add_argument("--provisions", metavar="DIR",
                        help="load Python provisions (h1mock-compatible) from DIR; needs --allow-provisions")
    parser.add_argument("--allow-provisions", action="store_true",
                        help="allow provisions: they run as Python code, so only load files you trust")
    parser.add_argument("--admin-port", type=int, default=None,
                        help=f"port of the provision admin API (default {DEFAULT_ADMIN_PORT}; 0 picks a free one)")


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("serve", "check", "-h", "--help", "--version"):
        argv.insert(0, "serve")  # `python mock_server.py config.json --port 0` serves
    args = build_parser().parse_args(argv)
    if args.command == "check":
        return _check(args)
    return _serve(args)


def _config_path(args) -> tuple[str, bool]:
    """The config path and whether the user named it (a missing default is not an error)."""
    named = args.config_option or args.config
    return (named, True) if named else (DEFAULT_CONFIG, False)


def _check(args) -> int:
    path, _ = _config_path(args)
    try:
        config = load_config(path)
    except ConfigError as exc:
        print(f"pymock: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    print(f"{path}: ok, {len(config.endpoints)} endpoints")
    return EXIT_OK


def _refusal(args) -> str | None:
    """Why these serve flags cannot work together, or None. Provisions run user code, so
    they need the operator's explicit --allow-provisions."""
    if args.provisions and not args.allow_provisions:
        return (f"--provisions runs the Python files in {args.provisions}; add --allow-provisions "
                "to allow it (only for files you trust)")
    if args.allow_provisions and not args.provisions:
        return "--allow-provisions needs --provisions DIR (the folder provisions load from and the admin API writes to)"
    if args.admin_port is not None and not args.provisions:
        return "--admin-port serves the provision admin API, which needs --provisions DIR --allow-provisions"
    if args.provisions and not os.path.isdir(args.provisions):
        return f"the provisions folder {args.provisions} does not exist (create it, or mount a volume there)"
    if args.workers < 1:
        return f"--workers must be 1 or more, not {args.workers}"
    if args.workers > 1 and not fork_supported():
        return "--workers needs os.fork, which this platform lacks; run one process per port instead"
    return None


def _serve(args) -> int:
    refusal = _refusal(args)
    if refusal:
        print(f"pymock: {refusal}", file=sys.stderr)
        return EXIT_USAGE
    path, named = _config_path(args)
    log = _make_log(args)
    try:
        if named or os.path.exists(path):
            app = MockApp(path, admin_token=args.admin_token, viewer_token=args.viewer_token, seed=args.seed, log=log)
        else:
            print(f"pymock: no {path} here; serving no mocks (pass a config file to serve one)", file=sys.stderr)
            app = MockApp({"endpoints": []}, admin_token=args.admin_token, viewer_token=args.viewer_token,
                          seed=args.seed, log=log)
        ssl_context = build_ssl_context(args.tls_cert, args.tls_key) if args.tls_cert or args.tls_key else None
    except ConfigError as exc:
        print(f"pymock: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    provisions = None
    if args.provisions:
        provisions = ProvisionManager(args.provisions, log=log)
        app.mount(provisions)
        provisions.start()
    admin_port = DEFAULT_ADMIN_PORT if args.admin_port is None else args.admin_port
    if args.workers > 1:
        return _serve_workers(app, provisions, args, ssl_context, admin_port, log)
    try:
        server = _listen(args.host, args.port, lambda: make_server(WorkerTag(app) if args.debug_worker_id else app,
                                                         args.host, args.port, ssl_context=ssl_context,
                                                         log=None if args.quiet else log))
        admin_server = provisions and _listen(args.host, admin_port, lambda: make_admin_server(
            provisions, args.host, admin_port, admin_token=args.admin_token, log=None if args.quiet else log))
    except _ListenError as exc:
        print(f"pymock: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"listening on {format_listen_url(server)}", flush=True)
    services = []
    if provisions:
        print(f"provision admin on {format_listen_url(admin_server)}", flush=True)
        services.append(ProvisionService(provisions, admin_server, watch=not args.no_watch,
                                         interval=args.watch_interval))
    return _run_until_signalled(app, server, args, log, services)


class _ListenError(Exception):
    pass


def _listen(host, port, bind):
    try:
        return bind()
    except OSError as exc:
        raise _ListenError(f"cannot listen on {host}:{port}: {exc.strerror}"
                           " (is another server using the port? try --port 0)") from None


def _serve_workers(app, provisions, args, ssl_context, admin_port, log) -> int:
    """Reserve the port(s), print them, fork ``--workers`` processes and supervise them."""
    try:
        traffic = _listen(args.host, args.port, lambda: Listener(args.host, args.port))
        admin = provisions and _listen(args.host, admin_port, lambda: Listener(args.host, admin_port))
    except _ListenError as exc:
        print(f"pymock: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"listening on {traffic.url('https' if ssl_context else 'http')}", flush=True)
    if admin:
        print(f"provision admin on {admin.url()}", flush=True)

    def serve_one(index, parent_pid):
        worker_log = _prefixed(log, f"worker {index} pid {os.getpid()}")
        app.log = worker_log
        if provisions:
            provisions.log = provisions.active.log = worker_log
        access = None if args.quiet else worker_log
        server = traffic.server(WorkerTag(app) if args.debug_worker_id else app,
                                ssl_context=ssl_context, log=access)
        services = []
        if admin:
            admin_server = admin.server(ProvisionAdmin(provisions, args.admin_token), log=access)
            services.append(ProvisionService(provisions, admin_server, watch=not args.no_watch,
                                             interval=args.watch_interval))
        return _run_until_signalled(app, server, args, worker_log, services,
                                    keep_running=lambda: os.getppid() == parent_pid)
    return run_workers(args.workers, serve_one, log=log)


def _prefixed(log, prefix):
    return lambda message: log(f"{prefix}: {message}")


def _run_until_signalled(app, server, args, log, services=(), keep_running=None) -> int:
    stop, reload_asked = threading.Event(), threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    if hasattr(signal, "SIGHUP"):   # SIGHUP reloads the config, as daemons do
        signal.signal(signal.SIGHUP, lambda *_: reload_asked.set())
    thread = serve_in_thread(server)
    watcher = None
    if app.source_path and not args.no_watch:
        watcher = ConfigWatcher(app, args.watch_interval).start()
    for service in services:
        service.start()
    log(f"serving {len(app.config.endpoints)} endpoints from {app.source_path or 'an empty config'}")
    while not stop.wait(0.2):
        if not thread.is_alive():
            break
        if keep_running is not None and not keep_running():
            log("the parent process is gone; stopping")
            break
        if reload_asked.is_set():
            reload_asked.clear()
            app.reload("SIGHUP")
    if watcher is not None:
        watcher.stop()
    for service in services:
        service.stop()
    stop_server(server, thread)
    log("stopped")
    return EXIT_OK


def _make_log(args):
    json_lines = getattr(args, "log_format", "text") == "json"

    def log(message: str) -> None:
        if json_lines:
            line = json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "message": message})
        else:
            line = f"[{time.strftime('%H:%M:%S')}] {message}"
        print(line, file=sys.stderr, flush=True)
    return log
