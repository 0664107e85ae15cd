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
from .reload import ConfigWatcher
from .server import build_ssl_context, format_listen_url, make_server, serve_in_thread, stop_server

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
    parser.add_argument("--tls-cert", help="PEM certificate: serve HTTPS")
    parser.add_argument("--tls-key", help="PEM private key for --tls-cert")
    parser.add_argument("--no-watch", action="store_true", help="do not reload when the config file changes")
    parser.add_argument("--watch-interval", type=float, default=0.5, help="seconds between config file checks")
    parser.add_argument("--seed", type=int, default=None, help="seed for failure injection, variants, latency and fake data")
    parser.add_argument("--quiet", action="store_true", help="no access log")
    parser.add_argument("--log-format", choices=("text", "json"), default="text", help="access log format")


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


def _serve(args) -> int:
    path, named = _config_path(args)
    log = _make_log(args)
    try:
        if named or os.path.exists(path):
            app = MockApp(path, admin_token=args.admin_token, seed=args.seed, log=log)
        else:
            print(f"pymock: no {path} here; serving no mocks (pass a config file to serve one)", file=sys.stderr)
            app = MockApp({"endpoints": []}, admin_token=args.admin_token, seed=args.seed, log=log)
        ssl_context = build_ssl_context(args.tls_cert, args.tls_key) if args.tls_cert or args.tls_key else None
        server = make_server(app, args.host, args.port, ssl_context=ssl_context,
                             log=None if args.quiet else log)
    except ConfigError as exc:
        print(f"pymock: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except OSError as exc:
        print(f"pymock: cannot listen on {args.host}:{args.port}: {exc.strerror}"
              " (is another server using the port? try --port 0)", file=sys.stderr)
        return EXIT_USAGE
    print(f"listening on {format_listen_url(server)}", flush=True)
    return _run_until_signalled(app, server, args, log)


def _run_until_signalled(app, server, args, log) -> int:
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    thread = serve_in_thread(server)
    watcher = None
    if app.source_path and not args.no_watch:
        watcher = ConfigWatcher(app, args.watch_interval).start()
    log(f"serving {len(app.config.endpoints)} endpoints from {app.source_path or 'an empty config'}")
    while not stop.wait(0.5):
        if not thread.is_alive():
            break
    if watcher is not None:
        watcher.stop()
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
