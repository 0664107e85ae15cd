"""``pymock openapi import|export|sync`` and the ``serve`` flags ``--spec`` and ``--contract``.

Layer 2 (the edge): reads and writes files (atomically), fetches specs over HTTP(S) with
``urllib``, prints to the terminal. The work itself is done by ``openapi``,
``openapi_mocks`` and ``openapi_export`` (layer 1). Exit codes: 0 done, 1 drift found by
``sync --check``, 2 a spec or config that cannot be used.

    pymock openapi import petstore.yaml -o config.json     # a config with one mock per operation
    pymock serve --spec petstore.yaml --contract strict      # serve a spec directly
    pymock openapi export config.json -o spec.yaml           # OpenAPI 3.1 from mocks
    pymock openapi sync spec.yaml config.json --check        # CI: exit 1 when they drifted
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request

from .config import load_config
from .contract import MODES
from .errors import ConfigError, SpecError
from .files import atomic_write
from .openapi import load_spec
from .openapi_export import export_spec
from .openapi_sync import sync_to_mocks, sync_to_spec
from .openapi_mocks import import_config

__all__ = ["add_command", "add_serve_arguments", "serve_overrides", "run", "fetch"]

EXIT_OK, EXIT_DRIFT, EXIT_BAD = 0, 1, 2
_MAX_FETCH = 64 * 1024 * 1024


def fetch(url: str) -> bytes:
    """GET a spec (or a document it references) over HTTP(S)."""
    request = urllib.request.Request(url, headers={"Accept": "application/json, application/yaml, */*"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - the user's URL
            data = response.read(_MAX_FETCH + 1)
    except OSError as exc:
        raise SpecError(f"cannot fetch {url}: {exc}") from None
    if len(data) > _MAX_FETCH:
        raise SpecError(f"{url} is larger than {_MAX_FETCH // (1024 * 1024)} MiB")
    return data


def add_serve_arguments(parser) -> None:
    parser.add_argument("--spec", action="append", default=[], metavar="SPEC",
                        help="serve every operation of this OpenAPI/Swagger file (repeatable); "
                             "endpoints in the config override them")
    parser.add_argument("--contract", choices=MODES, default=os.environ.get("PYMOCK_CONTRACT") or None,
                        help="check requests and responses against the spec: off, warn or strict "
                             "(env PYMOCK_CONTRACT; default: the config's 'contract', else off)")


def serve_overrides(args) -> dict | None:
    """What ``--spec``/``--contract`` add to the config (kept across reloads), or None."""
    specs = [_remote(path) if path.startswith(("http://", "https://")) else os.path.abspath(path)
             for path in getattr(args, "spec", None) or []]
    out = {}
    if specs:
        out["openapi"] = specs
    if getattr(args, "contract", None):
        out["contract"] = args.contract
    return out or None


def _remote(url: str) -> dict:
    """A spec URL, fetched once at start: the config keeps the document (reloads do not fetch)."""
    from .openapi import parse_spec_text
    try:
        return {"document": parse_spec_text(fetch(url), url), "name": url}
    except SpecError as exc:   # before serving: a clear message and exit 2, not a traceback
        _say(f"pymock: --spec {url}: {exc}")
        raise SystemExit(EXIT_BAD) from None


def add_command(commands) -> None:
    openapi = commands.add_parser("openapi", help="import, export and sync OpenAPI/Swagger specs")
    actions = openapi.add_subparsers(dest="openapi_command", required=True)
    imp = actions.add_parser("import", help="write a config with one mock per operation of SPEC")
    imp.add_argument("spec", help="an OpenAPI 3.0/3.1 or Swagger 2.0 file or URL, JSON or YAML")
    imp.add_argument("-o", "--output", help="config file to write (.json or .yaml; default: stdout)")
    imp.add_argument("--no-link", action="store_true",
                     help="do not name the spec in the config (no contract checks, no dynamic examples)")
    exp = actions.add_parser("export", help="write an OpenAPI 3.1 document describing CONFIG's mocks")
    exp.add_argument("config", help="a pymock config file")
    exp.add_argument("-o", "--output", help="spec file to write (.json, .yaml or .yml; default: stdout as YAML)")
    sync = actions.add_parser("sync", help="merge mock changes into SPEC (or spec changes into CONFIG)")
    sync.add_argument("spec", help="the spec file to update (or read)")
    sync.add_argument("config", help="the config file to read (or update)")
    sync.add_argument("--direction", choices=("mocks-to-spec", "spec-to-mocks"), default="mocks-to-spec")
    sync.add_argument("--check", action="store_true", help="change nothing; exit 1 if they drifted (for CI)")


def run(args) -> int:
    try:
        if args.openapi_command == "import":
            return _import(args)
        if args.openapi_command == "export":
            return _export(args)
        return _sync(args)
    except SpecError as exc:
        _say(f"pymock: {exc}")
        for problem in exc.problems:
            _say(f"  {problem}")
        return EXIT_BAD
    except ConfigError as exc:
        _say(f"pymock: {exc}")
        return EXIT_BAD


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _dump(data: dict, path: str | None, yaml_default: bool) -> str:
    as_yaml = path.endswith((".yaml", ".yml")) if path else yaml_default
    if as_yaml:
        from . import miniyaml
        return miniyaml.dump(data)
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _write(data: dict, path: str | None, yaml_default: bool = False) -> None:
    text = _dump(data, path, yaml_default)
    if path:
        atomic_write(path, text)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()


def _import(args) -> int:
    remote = args.spec.startswith(("http://", "https://"))
    spec = load_spec(args.spec, fetch=fetch)
    link = None
    if not args.no_link and not remote:
        base = os.path.dirname(os.path.abspath(args.output)) if args.output else os.getcwd()
        link = os.path.relpath(os.path.abspath(args.spec), base)
    config = import_config(spec, link)
    if remote and not args.no_link:
        config["openapi"] = {"document": spec.raw, "name": args.spec}
    _write(config, args.output)
    _say(f"imported {len(spec.operations)} operations from {args.spec} ({spec.kind} {spec.version})"
         + (f" into {args.output}" if args.output else ""))
    _report(spec.problems)
    return EXIT_OK


def _report(problems, limit: int = 30) -> None:
    for problem in problems[:limit]:
        _say(f"  warning: {problem}")
    if len(problems) > limit:
        _say(f"  ... and {len(problems) - limit} more")


def _export(args) -> int:
    config = load_config(args.config)
    document = export_spec(config)
    _write(document, args.output, yaml_default=True)
    operations = sum(len(item) for item in document["paths"].values())
    _say(f"exported {operations} operations as OpenAPI 3.1" + (f" to {args.output}" if args.output else ""))
    return EXIT_OK


def _sync(args) -> int:
    spec = load_spec(args.spec)
    spec_path = os.path.abspath(args.spec)
    named = _names(args.config, spec_path)
    # A config that does not name the spec is checked as if it did, so mocks link to operations.
    config = load_config(args.config, overrides=None if named else {"openapi": [spec_path]})
    if args.direction == "mocks-to-spec":
        updated, changes = sync_to_spec(spec, config, named or spec_path)
        target, data = args.spec, updated
    else:
        # Operations of a spec the config names are served without a mock of their own.
        updated, changes = sync_to_mocks(spec, config.raw, named or spec_path, add_missing=not named)
        target, data = args.config, updated
    for change in changes:
        _say(f"  {'drift' if args.check else 'sync'}: {change}")
    if args.check:
        _say(f"{len(changes)} difference(s) between {args.spec} and {args.config}" if changes
             else f"{args.spec} and {args.config} agree")
        return EXIT_DRIFT if changes else EXIT_OK
    if changes:
        _write(data, target, yaml_default=target.endswith((".yaml", ".yml")))
    _say(f"{len(changes)} change(s) written to {target}" if changes else "nothing to change")
    return EXIT_OK


def _names(config_path: str, spec_path: str) -> str | None:
    """The name the config gives ``spec_path`` in its ``openapi`` key, if it names it."""
    from .config import parse_config_text
    try:
        with open(config_path, "rb") as handle:
            raw = parse_config_text(handle.read(), config_path)
    except OSError:
        return None   # load_config reports the missing file
    value = raw.get("openapi")
    entries = value if isinstance(value, list) else [] if value is None else [value]
    base = os.path.dirname(os.path.abspath(config_path))
    for entry in entries:
        path = entry if isinstance(entry, str) else entry.get("path") if isinstance(entry, dict) else None
        if isinstance(path, str) and os.path.abspath(os.path.join(base, path)) == spec_path:
            return entry if isinstance(entry, str) else str(entry.get("name", path))
    return None
