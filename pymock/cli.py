"""The command line: ``python mock_server.py [CONFIG]`` / ``pymock [serve|check] ...``.

Layer 2: binds sockets, installs signal handlers, prints to the terminal. The first line
``serve`` prints is ``listening on http://HOST:PORT`` (the real port when ``--port 0``), so
scripts and tests can wait for it instead of sleeping. SIGINT/SIGTERM stop the server cleanly
(requests in flight finish) and the process exits 0. A bad config exits 2 with every problem.
The diff/docs/design commands run in ``cli_lifecycle.py``; their arguments are defined here.
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
from .stores import StateError
from .provision_edge import DEFAULT_ADMIN_PORT, ProvisionAdmin, ProvisionService, make_admin_server
from .provisions import ProvisionManager
from .proxy import Forwarder
from .recording import Recorder
from . import cli_lifecycle, mesh_edge, openapi_cli
from .cli_lifecycle import EXIT_REFUSED, _LifecycleError  # noqa: F401 (EXIT_REFUSED re-exported)
from .reload import ConfigWatcher
from .server import build_ssl_context, format_listen_url, make_server, serve_in_thread, stop_server
from .webhooks import WebhookDispatcher
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
    check.add_argument("--env", default=os.environ.get("PYMOCK_ENV"), metavar="NAME",
                       help="check with the config's environments.NAME applied (env PYMOCK_ENV)")
    _lifecycle_commands(commands)
    openapi_cli.add_command(commands)
    return parser


def _port(text: str) -> int:
    """A TCP port 0-65535 (argparse turns the ValueError into a usage error, exit 2)."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r} (from --port or PYMOCK_PORT)") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port {port} is out of range 0-65535")
    return port


def _serve_arguments(parser: argparse.ArgumentParser) -> None:
    openapi_cli.add_serve_arguments(parser)   # --spec SPEC (repeatable), --contract MODE
    parser.add_argument("config", nargs="?", default=None, help=f"config file, JSON or YAML (default: ./{DEFAULT_CONFIG})")
    parser.add_argument("--config", dest="config_option", metavar="FILE", help="config file (same as the positional)")
    parser.add_argument("--host", default=os.environ.get("PYMOCK_HOST", "127.0.0.1"),
                        help="address to bind (default 127.0.0.1; 0.0.0.0 for every interface)")
    parser.add_argument("--port", type=_port, default=os.environ.get("PYMOCK_PORT", "8080"),
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
    parser.add_argument("--record-out", metavar="FILE",
                        help="where POST /__admin/recordings/stop writes what record mode captured")
    parser.add_argument("--log-format", choices=("text", "json"), default="text",
                        help="log format; json access lines carry method, path, status, size, duration and request id")
    parser.add_argument("--state", metavar="PATH", default=os.environ.get("PYMOCK_STATE"),
                        help="keep scenarios, the store and resources in this SQLite file: kept across restarts, "
                             "shared by processes (env PYMOCK_STATE; default: in memory)")
    parser.add_argument("--env", metavar="NAME", default=os.environ.get("PYMOCK_ENV"),
                        help="apply the config's environments.NAME overrides (env PYMOCK_ENV)")
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
    parser.add_argument("--designs-db", metavar="PATH", default=os.environ.get("PYMOCK_DESIGNS_DB"),
                        help="turn on the design workflow API (/__admin/designs) with this SQLite file "
                             "(':memory:' for a throwaway one; env PYMOCK_DESIGNS_DB; default: off)")


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("serve", "check", "diff", "docs", "design", "openapi", "-h", "--help", "--version"):
        argv.insert(0, "serve")  # `python mock_server.py config.json --port 0` serves
    args = build_parser().parse_args(argv)
    if args.command == "check":
        return _check(args)
    if args.command == "openapi":
        return openapi_cli.run(args)
    if args.command in ("diff", "docs", "design"):
        return _lifecycle(args)
    return _serve(args)


def _config_path(args) -> tuple[str, bool]:
    """The config path and whether the user named it (a missing default is not an error)."""
    named = args.config_option or args.config
    return (named, True) if named else (DEFAULT_CONFIG, False)


def _use_env(args) -> None:
    # Every config this process builds (reloads and admin edits too) applies the environment.
    if args.env:
        os.environ["PYMOCK_ENV"] = args.env


def _missing_env(args, config) -> str | None:
    if args.env and config.sections.get("environment") != args.env:
        return f"--env {args.env}: the config has no environments section to pick from"
    return None


def _check(args) -> int:
    path, _ = _config_path(args)
    _use_env(args)
    try:
        config = load_config(path)
    except ConfigError as exc:
        print(f"pymock: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if _missing_env(args, config):
        print(f"pymock: {_missing_env(args, config)}", file=sys.stderr)
        return EXIT_CONFIG
    print(f"{path}: ok, {len(config.endpoints)} endpoints")
    hook = config.sections.get("contract")   # spec problems and mock examples off their schemas
    for note in (hook.notes if hook is not None else ()):
        print(f"  warning: {note}")
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
    _use_env(args)
    try:
        overrides = openapi_cli.serve_overrides(args)   # --spec, --contract
        if named or os.path.exists(path):
            app = MockApp(path, admin_token=args.admin_token, viewer_token=args.viewer_token, seed=args.seed, log=log,
                          forward=Forwarder(), recorder=Recorder(args.record_out), state=args.state,
                          overrides=overrides)
        else:
            if not args.spec:
                print(f"pymock: no {path} here; serving no mocks (pass a config file to serve one)", file=sys.stderr)
            app = MockApp({"endpoints": []}, admin_token=args.admin_token, viewer_token=args.viewer_token,
                          seed=args.seed, log=log, forward=Forwarder(), recorder=Recorder(args.record_out),
                          state=args.state, overrides=overrides)
        ssl_context = build_ssl_context(args.tls_cert, args.tls_key) if args.tls_cert or args.tls_key else None
    except (ConfigError, StateError) as exc:
        print(f"pymock: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if _missing_env(args, app.config):
        print(f"pymock: {_missing_env(args, app.config)}", file=sys.stderr)
        return EXIT_CONFIG
    app.stateful.webhooks = WebhookDispatcher(log=log)   # its thread starts on the first webhook
    if args.designs_db:   # the design workflow API under /__admin/designs
        import sqlite3
        from .workflow import Workflow
        from .workflow_api import attach
        try:
            attach(app, Workflow(args.designs_db))
        except sqlite3.Error as exc:
            print(f"pymock: --designs-db {args.designs_db}: {exc}", file=sys.stderr)
            return EXIT_CONFIG
    provisions = None
    if args.provisions:   # provision rules answer first, then the config's endpoints
        provisions = ProvisionManager(args.provisions, log=log)
        app.mount(provisions)
        provisions.start()
    admin_port = DEFAULT_ADMIN_PORT if args.admin_port is None else args.admin_port
    if args.workers > 1:
        return _serve_workers(app, provisions, args, ssl_context, admin_port, log)
    return _serve_one_process(app, provisions, args, ssl_context, admin_port, log)


def _serve_one_process(app, provisions, args, ssl_context, admin_port, log) -> int:
    try:
        server = _listen(args.host, args.port, lambda: make_server(WorkerTag(app) if args.debug_worker_id else app,
                                                         args.host, args.port, ssl_context=ssl_context,
                                                         log=None if args.quiet else log))
        admin_server = provisions and _listen(args.host, admin_port, lambda: make_admin_server(
            provisions, args.host, admin_port, admin_token=args.admin_token, log=None if args.quiet else log))
    except _ListenError as exc:
        print(f"pymock: {exc}", file=sys.stderr)
        return EXIT_USAGE
    events = _signal_events()  # before the first line: a client may signal as soon as it reads it
    print(f"listening on {format_listen_url(server)}", flush=True)
    services = []
    if provisions:
        print(f"provision admin on {format_listen_url(admin_server)}", flush=True)
        services.append(ProvisionService(provisions, admin_server, watch=not args.no_watch,
                                         interval=args.watch_interval))
    return _run_until_signalled(app, server, args, log, services, events=events)


class _ListenError(Exception):
    pass


def _listen(host, port, bind):
    try:
        return bind()
    except (OSError, OverflowError) as exc:
        raise _ListenError(f"cannot listen on {host}:{port}: {getattr(exc, 'strerror', None) or exc}"
                           " (is another server using the port? try --port 0)") from None


def _serve_workers(app, provisions, args, ssl_context, admin_port, log) -> int:
    """Reserve the port(s), print them, fork ``--workers`` processes and supervise them."""
    try:
        traffic = _listen(args.host, args.port, lambda: Listener(args.host, args.port))
        admin = provisions and _listen(args.host, admin_port, lambda: Listener(args.host, admin_port))
    except _ListenError as exc:
        print(f"pymock: {exc}", file=sys.stderr)
        return EXIT_USAGE
    def announce():   # once every worker listens
        print(f"listening on {traffic.url('https' if ssl_context else 'http')}", flush=True)
        if admin:
            print(f"provision admin on {admin.url()}", flush=True)

    def serve_one(index, parent_pid, ready):
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
        ready()
        return _run_until_signalled(app, server, args, worker_log, services,
                                    keep_running=lambda: os.getppid() == parent_pid)
    return run_workers(args.workers, serve_one, log=log, on_ready=announce)


def _prefixed(log, prefix):
    def prefixed(message):
        log(f"{prefix}: {message}")
    if hasattr(log, "access"):   # structured access lines pass through unprefixed
        prefixed.access = log.access
    return prefixed


def _signal_events():
    """(stop, reload) events set by SIGINT/SIGTERM and SIGHUP."""
    stop, reload_asked = threading.Event(), threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    if hasattr(signal, "SIGHUP"):   # SIGHUP reloads the config, as daemons do
        signal.signal(signal.SIGHUP, lambda *_: reload_asked.set())
    return stop, reload_asked


def _run_until_signalled(app, server, args, log, services=(), keep_running=None, events=None) -> int:
    stop, reload_asked = events or _signal_events()
    thread = serve_in_thread(server)
    edge = mesh_edge.attach(app)  # real HTTP for mesh services at real addresses, health checks
    watcher = None
    if (app.source_path or app.config.files) and not args.no_watch:   # files: also --spec specs
        watcher = ConfigWatcher(app, args.watch_interval).start()
    for service in services:
        service.start()
    source = app.source_path or ", ".join(map(str, (app.overrides or {}).get("openapi", []))) or "an empty config"
    log(f"serving {len(app.config.endpoints)} endpoints from {source}")
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
    edge.close()
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
        _write_line(line)
    if json_lines:
        log.access = _json_access_line   # server.py sends access lines here, as fields
    return log


def _json_access_line(client: str, requestline: str, status, size: int, request) -> None:
    """One access line as JSON: method, path, status, size, duration and request id."""
    method, _, rest = requestline.partition(" ")
    entry = {"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "type": "access",
             "message": f'{client} "{requestline}" {status} {size}', "client": client,
             "method": request.method if request else method or None,
             "path": request.path if request else rest.rpartition(" ")[0] or None,
             "status": status, "size": size,
             "duration_ms": round((time.time() - request.received_at) * 1000, 3)
             if request is not None and request.received_at else None,
             "request_id": (request.headers.get("x-request-id") or request.id or None) if request else None}
    _write_line(json.dumps(entry))


_LOG_LOCK = threading.Lock()


def _write_line(line: str) -> None:
    # One write per line under a lock: print() writes the text and the newline separately,
    # so lines from several request threads could interleave into invalid JSON lines.
    with _LOG_LOCK:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()


# ---------------------------------------------------------------- contract lifecycle: diff, docs, design
# (specdiff.py, docs.py and workflow.py do the work; the arguments are here, the commands in
# cli_lifecycle.py, except ``design serve``, which serves like ``_serve`` does.)


def _lifecycle_commands(commands) -> None:
    diff = commands.add_parser("diff", help="breaking changes between two specs (or configs); exit 1 with --fail-on")
    diff.add_argument("old", help="the old OpenAPI/Swagger document, or a pymock config")
    diff.add_argument("new", help="the new document (or config)")
    diff.add_argument("--format", choices=("text", "markdown", "json"), default="text", help="output format")
    diff.add_argument("--fail-on", choices=("ERR", "WARN"), type=str.upper, default=None,
                      help="exit 1 when a change at this level (or above) is found: for CI")
    diff.add_argument("--ignore", metavar="FILE", help="ignore file: one 'check-id [METHOD [PATH [POINTER]]]' per line")
    diff.add_argument("-o", "--output", metavar="FILE", help="write the report here instead of stdout")
    docs = commands.add_parser("docs", help="documentation of a spec or config as Markdown or one HTML page")
    docs.add_argument("source", help="an OpenAPI/Swagger document, or a pymock config (its mocks are documented)")
    docs.add_argument("--format", choices=("md", "html"), default="html", help="md or html (default)")
    docs.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    docs.add_argument("--base-url", default=None, help="where the curl examples point (default http://127.0.0.1:8080)")
    design = commands.add_parser("design", help="the design workflow: create, update, submit, approve, reject, status, serve")
    design.add_argument("--db", default=os.environ.get("PYMOCK_DESIGNS_DB", "designs.db"),
                        help="the SQLite file holding the designs (env PYMOCK_DESIGNS_DB; default ./designs.db)")
    design.add_argument("--user", default=os.environ.get("PYMOCK_USER") or _login_name(),
                        help="who you are, for reviews and the audit trail (env PYMOCK_USER)")
    actions = design.add_subparsers(dest="action", required=True)
    for action, text in (("create", "create a design from a spec"), ("update", "save a changed spec (revises a draft or "
                         "rejected version, or starts the next version after an approval)")):
        parser = actions.add_parser(action, help=text)
        parser.add_argument("name")
        _design_common(parser)
        parser.add_argument("--spec", required=True, metavar="FILE", help="the OpenAPI document")
        parser.add_argument("--mocks", metavar="CONFIG", help="a pymock config to serve for this version "
                            "(default: mocks made from the spec)")
        if action == "create":
            parser.add_argument("--title", help="default: the spec's info.title")
            parser.add_argument("--reviewer", action="append", default=[], help="a reviewer (repeat for several)")
            parser.add_argument("--approvals", type=int, default=1, help="approvals required (default 1)")
    for action, text in (("submit", "submit a version for review"), ("withdraw", "take a version out of review"),
                         ("approve", "approve a version"),
                         ("reject", "reject a version with comments"), ("status", "show a design or one version"),
                         ("history", "the audit trail"), ("serve", "serve a version as a live mock with its docs")):
        parser = actions.add_parser(action, help=text)
        parser.add_argument("name")
        _design_common(parser)
        parser.add_argument("--version", default=None, help="version number (default: the latest)")
        if action == "approve":
            parser.add_argument("--comment", default="")
            parser.add_argument("--accept", action="append", default=[], metavar="FINGERPRINT",
                                help="accept one breaking change (its fingerprint from 'status'); repeat")
            parser.add_argument("--accept-all-breaking", action="store_true",
                                help="accept every breaking change of the version, each recorded by fingerprint")
        if action == "reject":
            parser.add_argument("--comment", required=True, help="what to change")
            parser.add_argument("--at", action="append", default=[], metavar="POINTER=TEXT",
                                help="a comment anchored to a JSON pointer, e.g. '/paths/~1pets/get=needs paging'")
        if action in ("status", "history"):
            parser.add_argument("--format", choices=("text", "json"), default="text")
        if action == "serve":
            parser.add_argument("--host", default="127.0.0.1")
            parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")


def _design_common(parser) -> None:
    # --db and --user may also follow the action: `pymock design approve pets --user bob`
    parser.add_argument("--db", default=argparse.SUPPRESS, help="the designs database (as above)")
    parser.add_argument("--user", default=argparse.SUPPRESS, help="who you are (as above)")


def _login_name() -> str:
    try:
        import getpass
        return getpass.getuser()
    except (ImportError, KeyError, OSError):
        return ""


def _design_serve(workflow, args) -> int:
    from .workflow import Workflow
    from .workflow_api import attach, version_mocks
    version = workflow.version(args.name, args.version)
    log = _make_log(argparse.Namespace(log_format="text"))
    try:
        app = MockApp(version_mocks(version), log=log)
    except ConfigError as exc:
        raise _LifecycleError(str(exc)) from None
    attach(app, Workflow(args.db))
    try:
        server = _listen(args.host, args.port, lambda: make_server(app, args.host, args.port, log=log))
    except _ListenError as exc:
        raise _LifecycleError(str(exc)) from None
    url = format_listen_url(server)
    print(f"listening on {url}", flush=True)
    print(f"serving {args.name} v{version['number']} ({version['state']}); docs at "
          f"{url}/__admin/designs/{args.name}/versions/{version['number']}/docs", flush=True)
    try:
        return _run_until_signalled(app, server, argparse.Namespace(no_watch=True, watch_interval=1.0), log)
    finally:
        app.designs.close()


def _lifecycle(args) -> int:
    return cli_lifecycle.run(args, serve=_design_serve)
