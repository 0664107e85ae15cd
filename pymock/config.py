"""Load and validate a config (``config.json`` or YAML) into an immutable, compiled ``Config``.

Layer 1: reads the config file and body files it names, but opens no sockets and starts no
threads. Validation collects every problem at once, each with a path and, for unknown keys, a
did-you-mean; a JSON syntax error names file:line:col. Nothing here is mutated after
``build_config`` returns: writers build a new ``Config`` and swap it whole (see ``app.py``).
Each endpoint is parsed by ``config_endpoints`` (its names are re-exported here); sections owned
by other modules register in ``SECTION_PARSERS``. It must not import layer 2 (server, cli...).

>>> config = build_config({"endpoints": [{"path": "/ping", "response": {"ok": True}}]})
>>> [(e.id, sorted(e.methods), e.response.status) for e in config.endpoints]
[('get-ping', ['GET'], 200)]
>>> build_config({"endpoints": [{"path": "/x", "staus": 201}]})
Traceback (most recent call last):
  ...
pymock.errors.ConfigError: 1 problem in the config:
  1. endpoints[0].staus: unknown key (did you mean 'status'?)
"""

from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass, field

from . import environments, features, mesh_config, modes
# Endpoint parsing lives in config_endpoints.py; its names are re-exported so ``pymock.config``
# keeps them (``from .config import Endpoint, generate_id`` and the like).
from .config_endpoints import (ADMIN_PREFIXES, ENDPOINT_KEYS, MATCH_KEYS, PART_KEYS, Body, Endpoint,
                               Latency, ResponseSpec, _boolean, _check_keys, _Context, _endpoint,
                               _endpoints, _finite_number, _integer, _kind, _string_list,
                               generate_id)  # noqa: F401 (re-exported)
from .errors import ConfigError, Problem
from .matching import Router
from .model import ServerLimits

__all__ = [
    "Config", "Endpoint", "ResponseSpec", "Body", "Latency", "CorsSettings", "JournalSettings",
    "build_config", "load_config", "parse_config_text", "ADMIN_PREFIXES", "ENDPOINT_KEYS",
    "SECTION_PARSERS", "generate_id",
]

TOP_LEVEL_KEYS = ("name", "description", "version", "endpoints", "cors", "journal", "server",
                  "seed", "templating", "openapi", "contract", "resources", "auth", "environments")

# Sections owned by other modules: name -> parse(value, problems, raw) returning the section's
# compiled form (kept in ``Config.sections``); ``value`` is None when the section is absent and
# ``raw`` is the whole config (for cross-checks such as path collisions). A parser appends
# Problems whose paths start with the section name and never raises on bad input.
SECTION_PARSERS: dict = {}


@dataclass(frozen=True)
class CorsSettings:
    enabled: bool = False
    origins: tuple = ("*",)
    methods: tuple = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
    headers: tuple = ("*",)
    expose_headers: tuple = ()
    allow_credentials: bool = False
    max_age: int = 600


@dataclass(frozen=True)
class JournalSettings:
    enabled: bool = True
    size: int = 1000
    max_body_bytes: int = 64 * 1024


@dataclass(frozen=True)
class Config:
    endpoints: tuple
    router: Router
    cors: CorsSettings = CorsSettings()
    journal: JournalSettings = JournalSettings()
    limits: ServerLimits = ServerLimits()
    seed: int | None = None
    source_path: str | None = None
    raw: dict = field(default_factory=dict, compare=False, repr=False)
    files: tuple = ()              # every file the config was built from (for the watcher)
    sections: dict = field(default_factory=dict, compare=False, repr=False)

    def endpoint(self, ident: str) -> Endpoint | None:
        for endpoint in self.endpoints:
            if endpoint.id == ident:
                return endpoint
        return None


# ---------------------------------------------------------------- loading

def load_config(source, *, base_dir: str | None = None, overrides: dict | None = None) -> Config:
    """A ``Config`` from a dict, or from a JSON/YAML file path. Raises ``ConfigError``."""
    if isinstance(source, dict):
        return build_config(source, base_dir=base_dir)
    path = os.fspath(source)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise ConfigError([Problem("", f"cannot read config file {path!r}: {exc.strerror}",
                                   "check the path, or pass --config FILE")], path) from None
    raw = parse_config_text(data, path)
    return build_config(raw, base_dir=base_dir or os.path.dirname(os.path.abspath(path)), overrides=overrides,
                        source_path=path)


def parse_config_text(data: bytes | str, name: str = "config.json") -> dict:
    """Parse config text as JSON, or YAML for ``.yaml``/``.yml`` names; errors name line:col."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ConfigError([Problem("", f"{name} is not UTF-8 text (byte {exc.start})")], name) from None
    if name.endswith((".yaml", ".yml")):
        from . import miniyaml  # imported lazily: most configs are JSON
        from .errors import YamlError
        try:
            raw = miniyaml.load(data, source_name=name)
        except YamlError as exc:
            raise ConfigError([Problem("", f"{name}:{exc.line}:{exc.col}: YAML error: {exc.message}")],
                              name) from None
    else:
        try:
            raw = json.loads(data, parse_constant=_reject_constant)
        except _NonFiniteNumber as exc:
            raise ConfigError([Problem("", f"{name}: {exc.args[0]} is not a JSON number",
                                       "use a finite number")], name) from None
        except RecursionError:
            raise ConfigError([Problem("", f"{name}: nested too deeply")], name) from None
        except json.JSONDecodeError as exc:
            raise ConfigError([Problem("", f"{name}:{exc.lineno}:{exc.colno}: JSON syntax error: {exc.msg}",
                                       _json_hint(exc))], name) from None
    if not isinstance(raw, dict):
        raise ConfigError([Problem("", f"the top level must be an object, got {_kind(raw)}",
                                   'start with {"endpoints": [...]}')], name)
    return raw


class _NonFiniteNumber(ValueError):
    pass


def _reject_constant(name: str):
    # Python's json accepts NaN and Infinity; a NaN timeout or weight would silently misbehave.
    raise _NonFiniteNumber(name)


def _json_hint(exc: json.JSONDecodeError) -> str | None:
    if "Expecting property name" in exc.msg:
        return "keys need double quotes, and JSON allows no trailing comma"
    if "Expecting ',' delimiter" in exc.msg:
        return "a comma is missing between two items, or a quote is not closed"
    if exc.msg == "Expecting value":
        return "a value is missing here; JSON allows no trailing comma"
    return None


def build_config(raw: dict, *, base_dir: str | None = None, source_path: str | None = None,
                 overrides: dict | None = None) -> Config:
    """Validate ``raw`` and compile it. Every problem is collected before raising.

    ``overrides`` come from the command line: ``{"openapi": [spec paths], "contract": mode}``.
    """
    problems: list[Problem] = []
    if not isinstance(raw, dict):
        raise ConfigError([Problem("", f"expected an object, got {_kind(raw)}")])
    # An environment (overrides.env, else PYMOCK_ENV) is merged over the base before the checks;
    # Config.raw stays the base, so admin edits and saves keep the file's shape.
    base, env = raw, (overrides or {}).get("env", os.environ.get("PYMOCK_ENV"))
    raw, environment = environments.select(base, env, problems, TOP_LEVEL_KEYS + tuple(SECTION_PARSERS))
    _check_keys(raw, TOP_LEVEL_KEYS + tuple(SECTION_PARSERS), "", problems)
    ctx = _Context(base_dir or os.getcwd(), problems, raw.get("templating", True) is not False)
    endpoints = _endpoints(raw.get("endpoints", []), ctx)
    specs, spec_notes = _openapi(raw, ctx, endpoints, overrides or {})
    cors = _cors(raw.get("cors", False), problems)
    journal = _journal(raw.get("journal", {}), problems)
    limits = _limits(raw.get("server", {}), problems)
    seed = raw.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        problems.append(Problem("seed", f"expected an integer, got {_kind(seed)}"))
    sections = {name: parse(raw.get(name), problems, raw) for name, parse in SECTION_PARSERS.items()}
    if specs or "contract" in raw or (overrides or {}).get("contract") or any(e.responses for e in endpoints):
        from . import contract  # imported lazily, as the specs are: most configs have neither
        hook = contract.build_hook(raw.get("contract"), (overrides or {}).get("contract"), specs,
                                   endpoints, problems, spec_notes)
        if hook is not None:
            sections["contract"] = hook
    if problems:
        raise ConfigError(problems, source_path or "the config")
    router = Router([e.route for e in endpoints if e.enabled])
    files = tuple(sorted(ctx.files | ({source_path} if source_path else set())))
    if environment is not None:
        sections["environment"] = environment
    return Config(tuple(endpoints), router, cors, journal, limits, seed, source_path,
                  copy.deepcopy(base), files, sections)


def _openapi(raw: dict, ctx: _Context, endpoints: list, overrides: dict) -> tuple[list, list]:
    """Load the specs ``openapi`` (and ``--spec``) name; their operations not already claimed by
    an endpoint become endpoints. Problems in generated endpoints are notes, not errors."""
    extra = overrides.get("openapi") or ()
    if raw.get("openapi") is None and not extra:
        return [], []
    from . import openapi_mocks  # imported lazily: most configs have no spec
    specs = openapi_mocks.config_specs(raw.get("openapi"), ctx.base_dir, ctx.problems, ctx.files, extra)
    items = raw.get("endpoints", [])
    generated = openapi_mocks.unclaimed(specs, items, {e.id for e in endpoints})
    notes: list = []
    spec_ctx = _Context(ctx.base_dir, notes, ctx.templating, ctx.files)
    start = len(items) if isinstance(items, list) else 0
    for index, item in enumerate(generated):
        endpoint = _endpoint(item, start + index, f"openapi:{item['id']}", spec_ctx)
        if endpoint is not None:
            endpoints.append(endpoint)
    return specs, notes


# ---------------------------------------------------------------- server-wide sections

def _cors(value, problems) -> CorsSettings:
    if isinstance(value, bool):
        return CorsSettings(enabled=value)
    if not isinstance(value, dict):
        problems.append(Problem("cors", f"expected true, false or an object, got {_kind(value)}"))
        return CorsSettings()
    _check_keys(value, ("enabled", "origins", "methods", "headers", "expose_headers",
                        "allow_credentials", "max_age"), "cors", problems)
    lists = {key: tuple(_string_list(value[key], f"cors.{key}", problems))
             for key in ("origins", "methods", "headers", "expose_headers") if key in value}
    credentials = _boolean(value.get("allow_credentials", False), "cors.allow_credentials", problems)
    if credentials and "*" in lists.get("origins", ("*",)):
        problems.append(Problem("cors.origins", "'*' cannot be combined with allow_credentials",
                                "list the origins that may send credentials"))
    return CorsSettings(enabled=_boolean(value.get("enabled", True), "cors.enabled", problems),
                        allow_credentials=credentials,
                        max_age=_integer(value.get("max_age", 600), "cors.max_age", problems), **lists)


def _journal(value, problems) -> JournalSettings:
    if not isinstance(value, dict):
        problems.append(Problem("journal", f"expected an object, got {_kind(value)}"))
        return JournalSettings()
    _check_keys(value, ("enabled", "size", "max_body_bytes"), "journal", problems)
    size = _integer(value.get("size", 1000), "journal.size", problems, minimum=1)
    limit = _integer(value.get("max_body_bytes", 64 * 1024), "journal.max_body_bytes", problems, minimum=0)
    return JournalSettings(_boolean(value.get("enabled", True), "journal.enabled", problems), size, limit)


def _limits(value, problems) -> ServerLimits:
    if not isinstance(value, dict):
        problems.append(Problem("server", f"expected an object, got {_kind(value)}"))
        return ServerLimits()
    names = tuple(ServerLimits.__dataclass_fields__)
    _check_keys(value, names, "server", problems)
    out = {}
    for name in names:
        if name in value:
            number = value[name]
            if not _finite_number(number) or number <= 0:
                problems.append(Problem(f"server.{name}", f"expected a positive number, got {number!r}"))
                continue
            out[name] = number
    return ServerLimits(**out)


# The mesh section's parser compiles mock services with build_config, so it is handed it here
# (mesh_config must not import this module).
SECTION_PARSERS["mesh"] = mesh_config.section_parser(build_config)

# The proxy section also reads the endpoints' ``mode``, ``upstream`` and ``proxy`` keys (see
# modes.py): one parser checks modes, upstreams and the upstream policy together.
SECTION_PARSERS["proxy"] = modes.parse_section

# Scenarios, the key-value store, resources, simulated auth, rate limits, bandwidth and
# webhooks: the state, resources and auth sections and the endpoints' feature keys (features.py).
SECTION_PARSERS["state"] = features.parse_section
