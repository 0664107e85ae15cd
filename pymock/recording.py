"""Record exchanges with a real upstream and turn them into a config that replays them.

Layer 2 (the edge): holds the captured exchanges in memory, writes files, and runs
``recorder.py`` (``main``): a recording proxy that prints ``listening on http://HOST:PORT``
first and, on SIGTERM/SIGINT, ``POST /__admin/recordings/stop`` or every ``--every``
seconds, writes a config that ``python mock_server.py --config FILE`` replays.

From exchanges to endpoints (``build_recording``): exchanges are grouped by method, path and
the chosen match conditions (query, named headers, body); identical answers collapse into one
(``dedupe``), different answers to the same request become a ``sequence`` that stays on the
last one; JSON bodies are kept as JSON, text as text, anything else as ``body_base64``.
Secrets are replaced by a placeholder: ``Authorization``, ``Cookie``, ``Set-Cookie`` (and any
``redact_headers``) and whatever the ``redact_patterns`` regexes match; a redacted value used
as a match condition becomes ``{"present": true}``. Every endpoint has ``templating: false``
so recorded ``{{`` text is replayed literally. The result is checked with ``build_config``
before it is returned or written, and writes are atomic.

>>> exchange = {"method": "GET", "path": "/users/7", "query": "", "headers": [],
...             "body": b"", "status": 200, "response_headers": [("Content-Type", "application/json")],
...             "response_body": b'{"id": 7}', "upstream": "http://api.test"}
>>> document = build_recording([exchange, exchange], RecordOptions())
>>> [(e["method"], e["path"], e["response"]) for e in document["endpoints"]]
[('GET', '/users/7', {'id': 7})]

Must not be imported by layers 0-1 (``MockApp`` is handed a ``Recorder``).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import signal
import sys
import threading
import time
from urllib.parse import parse_qs

from .app import MockApp
from .config import build_config
from .errors import ConfigError
from .files import atomic_write
from .model import Headers
from .modes import RecordOptions
from .proxy import Forwarder
from .server import format_listen_url, make_server, serve_in_thread, stop_server

__all__ = ["Recorder", "build_recording", "main", "build_parser"]

# Never replayed: the replaying server frames, dates and identifies its own answers.
_DROPPED_RESPONSE_HEADERS = frozenset(("date", "server", "content-length", "transfer-encoding",
                                       "connection", "keep-alive", "x-request-id", "via"))
_SPECIAL_PATH = re.compile(r"[{}]|(^|/)\*{1,2}(/|$)")


class Recorder:
    """Captured exchanges (bounded by ``max_exchanges``), thread-safe; ``out`` is the file
    ``stop``, ``save`` and ``write`` go to (``None``: keep them in memory only)."""

    def __init__(self, out=None, *, clock=time.time):
        self.out = os.fspath(out) if out else None
        self.clock = clock
        self._lock = threading.Lock()
        self._exchanges: list = []
        self.capturing = True
        self.dropped = 0
        self.changed = False
        self.started_at = clock()
        self.written: dict | None = None
        self.options: RecordOptions | None = None   # those of the last capture
        self._on_stop = None

    def capture(self, request, result, options: RecordOptions) -> bool:
        """Keep one exchange (``modes.ModeRunner`` calls this in ``record`` mode)."""
        if not self.capturing:
            return False
        exchange = {"method": request.method, "path": request.path, "query": request.raw_query,
                    "headers": request.headers.items(), "body": request.body,
                    "status": result.status, "response_headers": list(result.headers),
                    "response_body": result.body, "upstream": _origin(result.url),
                    "at": self.clock(), "elapsed_ms": round(result.elapsed_s * 1000, 3)}
        with self._lock:
            if len(self._exchanges) >= options.max_exchanges:
                self.dropped += 1
                return False
            self._exchanges.append(exchange)
            self.changed, self.options = True, options
        return True

    def start(self, on_stop=None, clear: bool = True) -> None:
        """Capture from now on; ``on_stop`` (restoring the previous mode) runs at ``stop``."""
        with self._lock:
            if clear:
                self._exchanges.clear()
                self.dropped = 0
            self.capturing, self._on_stop, self.started_at = True, on_stop, self.clock()

    def stop(self):
        """Stop capturing; returns the ``on_stop`` given to ``start`` (or ``None``)."""
        with self._lock:
            on_stop, self._on_stop, self.capturing = self._on_stop, None, False
        return on_stop

    def exchanges(self) -> list:
        with self._lock:
            return list(self._exchanges)

    def status(self) -> dict:
        exchanges = self.exchanges()
        return {"recording": self.capturing, "exchanges": len(exchanges), "dropped": self.dropped,
                "upstreams": sorted({e["upstream"] for e in exchanges}),
                "requests": sorted({f"{e['method']} {e['path']}" for e in exchanges}),
                "out": self.out, "started_at": self.started_at, "last_written": self.written}

    def snapshot(self, config) -> dict:
        """The exchanges as a validated config, built with the record options they were
        captured under (``stop`` may have restored a config without them), else ``config``'s."""
        settings = config.sections.get("proxy") if config is not None else None
        options = self.options or (settings.record if settings is not None else RecordOptions())
        document = build_recording(self.exchanges(), options)
        build_config(document)   # raises ConfigError: never hand out a config that cannot load
        return document

    def write(self, document: dict) -> str:
        """Validate and atomically write ``document`` to ``out``; returns the path."""
        if not self.out:
            raise ValueError("this recorder has no out file (Recorder(out=PATH))")
        build_config(document)
        with self._lock:
            self.changed = False
        atomic_write(self.out, json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        self.written = {"path": self.out, "at": self.clock(), "endpoints": len(document["endpoints"])}
        return self.out

    def save(self, config) -> str | None:
        """Snapshot and write, when there is an out file."""
        return self.write(self.snapshot(config)) if self.out else None


def _origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}" if rest else url


# ---------------------------------------------------------------- exchanges -> config

class _Redactor:
    def __init__(self, options: RecordOptions):
        self.patterns = [re.compile(pattern) for pattern in options.redact_patterns]
        self.headers = frozenset(options.redact_headers)
        self.placeholder = options.placeholder

    def text(self, value: str) -> str:
        for pattern in self.patterns:
            value = pattern.sub(self.placeholder, value)
        return value

    def json(self, value):
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.json(item) for item in value]
        if isinstance(value, dict):
            return {key: self.json(item) for key, item in value.items()}
        return value

    def header(self, name: str, value: str) -> str:
        return self.placeholder if name.lower() in self.headers else self.text(value)


def build_recording(exchanges: list, options: RecordOptions) -> dict:
    """A config dict replaying ``exchanges`` (see the module docstring for the rules)."""
    redactor = _Redactor(options)
    groups: dict = {}
    for exchange in exchanges:
        match = _conditions(exchange, options, redactor)
        key = json.dumps([exchange["method"], exchange["path"], match], sort_keys=True)
        group = groups.setdefault(key, {"method": exchange["method"], "path": exchange["path"],
                                        "match": match, "parts": []})
        group["parts"].append(_response_part(exchange, redactor))
    ids: set = set()
    endpoints = [_endpoint(group, options, ids) for group in groups.values()]
    upstreams = sorted({exchange["upstream"] for exchange in exchanges})
    return {"name": "recording",
            "description": f"Recorded by pymock from {', '.join(upstreams) or 'nothing yet'}: "
                           f"{len(exchanges)} exchanges, {len(endpoints)} endpoints",
            "proxy": {"mode": "replay"}, "endpoints": endpoints}


def _conditions(exchange: dict, options: RecordOptions, redactor: _Redactor) -> dict:
    match: dict = {}
    if options.match_query and exchange["query"]:
        query = {}
        for name, values in parse_qs(exchange["query"], keep_blank_values=True).items():
            value = values[0]
            query[name] = value if redactor.text(value) == value else {"present": True}
        match["query"] = query
    headers, sent = {}, Headers(exchange["headers"])
    for name in options.match_headers:
        value = sent.get(name)
        if value is None:
            headers[name] = {"absent": True}
        elif redactor.header(name, value) != value:
            headers[name] = {"present": True}
        else:
            headers[name] = value
    if headers:
        match["headers"] = headers
    if options.match_body and exchange["body"]:
        condition = _body_condition(exchange["body"], redactor)
        if condition is not None:
            match["body"] = condition
    return match


def _body_condition(body: bytes, redactor: _Redactor):
    """An exact body condition, or ``None`` when the body is binary or held a secret."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if isinstance(parsed, (dict, list)):
        return {"json": parsed} if redactor.json(parsed) == parsed else None
    return {"equals": text} if redactor.text(text) == text else None


def _response_part(exchange: dict, redactor: _Redactor) -> dict:
    part: dict = {"status": exchange["status"]}
    headers: dict = {}
    names: dict = {}
    for name, value in exchange["response_headers"]:
        lowered = name.lower()
        if lowered in _DROPPED_RESPONSE_HEADERS:
            continue
        value = redactor.header(name, value)
        if lowered in names:
            headers[names[lowered]] += ", " + value
        else:
            names[lowered] = name
            headers[name] = value
    if headers:
        part["headers"] = headers
    body = exchange["response_body"]
    if body:
        content_type = headers.get(names.get("content-type", ""), "")
        part.update(_body_part(body, content_type, redactor))
    return part


def _body_part(body: bytes, content_type: str, redactor: _Redactor) -> dict:
    kind = content_type.split(";")[0].strip().lower()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and (kind == "application/json" or kind.endswith("+json")):
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if isinstance(parsed, (dict, list)):
            return {"response": redactor.json(parsed)}
    textual = not kind or kind.startswith("text/") or kind.endswith(("json", "xml", "javascript")) \
        or kind == "application/x-www-form-urlencoded"
    if text is not None and textual:
        return {"body": redactor.text(text)}
    return {"body_base64": base64.b64encode(body).decode("ascii")}


def _endpoint(group: dict, options: RecordOptions, ids: set) -> dict:
    parts = group["parts"]
    if options.dedupe and all(part == parts[0] for part in parts):
        parts = parts[:1]
    endpoint = {"id": _unique_id(group["method"], group["path"], ids), "method": group["method"],
                "path": _path(group["path"]), "templating": False}
    if group["match"]:
        conditions = sum(len(v) if isinstance(v, dict) else 1 for v in group["match"].values())
        endpoint["match"] = group["match"]
        endpoint["priority"] = max(1, 5 - conditions)   # the more it asks, the sooner it is tried
    if len(parts) == 1 or not options.sequences:
        endpoint.update(parts[0])
    else:
        endpoint["sequence"] = {"responses": parts, "end": "stay"}
    return endpoint


def _path(path: str) -> str:
    """The recorded path as a literal; a regex when it holds pattern syntax ({}, *, ^)."""
    if path.startswith("^") or _SPECIAL_PATH.search(path):
        return "^" + re.escape(path) + "$"
    return path


def _unique_id(method: str, path: str, ids: set) -> str:
    words = "-".join(re.findall(r"[A-Za-z0-9]+", path))[:60] or "root"
    base = f"rec-{method.lower()}-{words}"
    ident, n = base, 2
    while ident in ids:
        ident, n = f"{base}-{n}", n + 1
    ids.add(ident)
    return ident


# ---------------------------------------------------------------- recorder.py

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="recorder.py",
        description="Record real traffic through a proxy into a config that mock_server.py replays.",
        epilog="Example: python recorder.py --target https://api.example.com --out recordings.json")
    parser.add_argument("--target", required=True, help="the upstream to record, e.g. https://api.example.com")
    parser.add_argument("--out", required=True, help="the config file to write (JSON, written atomically)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port to bind (default 8080; 0 picks a free one)")
    parser.add_argument("--every", type=float, default=0.0, metavar="SECONDS",
                        help="also write the file every SECONDS while new exchanges arrive")
    parser.add_argument("--match-query", action=argparse.BooleanOptionalAction, default=True,
                        help="the query string becomes a match condition (default on)")
    parser.add_argument("--match-header", action="append", default=[], metavar="NAME",
                        help="this request header becomes a match condition (repeatable)")
    parser.add_argument("--match-body", action=argparse.BooleanOptionalAction, default=False,
                        help="the request body becomes a match condition (default off)")
    parser.add_argument("--redact-header", action="append", default=[], metavar="NAME",
                        help="also redact this header (Authorization, Cookie, Set-Cookie, "
                             "Proxy-Authorization and X-Api-Key always are)")
    parser.add_argument("--redact", action="append", default=[], metavar="REGEX",
                        help="replace what REGEX matches in bodies, queries and headers (repeatable)")
    parser.add_argument("--placeholder", default="REDACTED", help="what secrets are replaced by")
    parser.add_argument("--dedupe", action=argparse.BooleanOptionalAction, default=True,
                        help="identical exchanges become one endpoint (default on)")
    parser.add_argument("--sequences", action=argparse.BooleanOptionalAction, default=True,
                        help="different answers to one request become a sequence (default on)")
    parser.add_argument("--allow-host", action="append", default=[], metavar="HOST",
                        help="upstream hosts that may be contacted (default: any but link-local)")
    parser.add_argument("--allow-link-local", action="store_true",
                        help="allow link-local and cloud metadata addresses (169.254.0.0/16, fd00:ec2::254)")
    parser.add_argument("--connect-timeout", type=float, default=5.0, help="seconds (default 5)")
    parser.add_argument("--read-timeout", type=float, default=30.0, help="seconds (default 30)")
    parser.add_argument("--follow-redirects", action="store_true", help="follow upstream redirects")
    parser.add_argument("--ca-file", help="PEM CA certificates to trust for an https target")
    parser.add_argument("--insecure", action="store_true", help="do not verify the target's TLS certificate")
    parser.add_argument("--admin-token", default=os.environ.get("PYMOCK_ADMIN_TOKEN"),
                        help="require 'Authorization: Bearer TOKEN' on admin routes (env PYMOCK_ADMIN_TOKEN)")
    parser.add_argument("--quiet", action="store_true", help="no access log")
    return parser


def recording_config(args) -> dict:
    """The config a recording proxy serves, from ``recorder.py``'s arguments."""
    record = {"match_query": args.match_query, "match_headers": args.match_header,
              "match_body": args.match_body, "placeholder": args.placeholder,
              "redact_patterns": args.redact, "dedupe": args.dedupe, "sequences": args.sequences}
    if args.redact_header:
        record["redact_headers"] = [*RecordOptions().redact_headers, *args.redact_header]
    proxy = {"mode": "record", "upstream": args.target, "connect_timeout_s": args.connect_timeout,
             "read_timeout_s": args.read_timeout, "follow_redirects": args.follow_redirects,
             "allow_link_local": args.allow_link_local, "verify_tls": not args.insecure,
             "record": record}
    if args.allow_host:
        proxy["allow_hosts"] = args.allow_host
    if args.ca_file:
        proxy["ca_file"] = args.ca_file
    return {"name": f"recording proxy for {args.target}", "proxy": proxy, "endpoints": []}


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    log = _log(args.quiet)
    recorder = Recorder(args.out)
    try:
        app = MockApp(recording_config(args), admin_token=args.admin_token, log=log,
                      forward=Forwarder(), recorder=recorder)
        server = make_server(app, args.host, args.port, log=None if args.quiet else log)
    except ConfigError as exc:
        print(f"recorder.py: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"recorder.py: cannot listen on {args.host}:{args.port}: {exc.strerror} "
              "(is another server using the port? try --port 0)", file=sys.stderr)
        return 2
    print(f"listening on {format_listen_url(server)}", flush=True)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    thread = serve_in_thread(server)
    log(f"recording {args.target} into {args.out}")
    last_write = time.monotonic()
    while not stop.wait(0.2):
        if args.every and recorder.changed and time.monotonic() - last_write >= args.every:
            _save(app, recorder, log)
            last_write = time.monotonic()
    stop_server(server, thread)
    return 0 if _save(app, recorder, log) else 1


def _save(app, recorder: Recorder, log) -> bool:
    try:
        recorder.save(app.config)
    except (ConfigError, OSError) as exc:
        print(f"recorder.py: cannot write {recorder.out}: {exc}", file=sys.stderr)
        return False
    log(f"wrote {recorder.written['endpoints']} endpoints ({len(recorder.exchanges())} exchanges) "
        f"to {recorder.out}")
    return True


def _log(quiet: bool):
    def log(message: str) -> None:
        if not quiet:
            print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
    return log
