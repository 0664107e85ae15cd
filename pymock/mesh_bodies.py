"""The mesh's request bodies: registrations, heartbeats, dependencies, breakers, mock services.

Layer 1: no sockets, no threads, no files. One set of validators serves both the ``mesh``
config section (``mesh_config``; problem paths like ``mesh.services[1].mock.endpoints[0].staus``)
and the HTTP API (``mesh_api``; paths relative to the body, like ``endpoints[0].staus``); every
unknown key gets a did-you-mean. A validator appends its ``Problem`` s to the caller's list and
returns None for a bad body. Mock services are compiled with the ``build_config`` the caller
hands in, so they have templating, variants, sequences and latency for free.

>>> problems = []
>>> registration({"service_id": "users", "prot": 8080}, "", problems)
>>> [str(p) for p in problems]
["prot: unknown key (did you mean 'port'?)"]
>>> registration({"name": "users", "port": 9001}, "", [])["address"]
'http://127.0.0.1:9001'

Names with a leading underscore are shared with ``mesh_config`` only. Must not import
``config`` (which imports ``mesh_config``, which imports this module), ``mesh_config``,
``mesh``, ``mesh_api``, sockets or threads.
"""

from __future__ import annotations

import copy
import difflib
import json
import math
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .breakers import BreakerConfig
from .errors import ConfigError, Problem, kind_name
from .registry import HEALTH_STATES

__all__ = [
    "CallSpec", "ServiceMock", "REGISTRATION_KEYS", "DEPENDENCY_KEYS", "CALL_KEYS",
    "registration", "heartbeat_body", "dependency", "breaker_override", "compile_mock",
    "unknown_key", "_object", "_keys", "_bool", "_is_number", "_positive_int",
    "_seconds", "_breaker_config",
]


REGISTRATION_KEYS = ("service_id", "name", "endpoint", "port", "tags", "metadata", "ttl_s",
                     "deregister_critical_after_s", "health_check_url")
DEPENDENCY_KEYS = ("from_service", "to_service", "required", "timeout_ms",
                   "circuit_breaker_enabled", "allow_cycle")
CALL_KEYS = ("service", "path", "method", "required", "body", "headers")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@~-]{0,127}")
_METHOD = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_ENDPOINT_ONLY = ("path", "method", "match", "id", "priority", "enabled")
_DEFAULT_ID = "*"


@dataclass(frozen=True)
class CallSpec:
    """One downstream call a mock endpoint makes; ``required`` None means "ask the edge"."""

    service: str
    path: str = ""
    method: str = "GET"
    required: bool | None = None
    body: bytes = b""
    headers: tuple = ()

    def as_dict(self) -> dict:
        out = {"service": self.service, "path": self.path, "method": self.method}
        if self.required is not None:
            out["required"] = self.required
        return out


@dataclass(frozen=True)
class ServiceMock:
    """A compiled mock service: its endpoints as a pymock ``Config`` and the calls each makes."""

    service_id: str
    config: object
    calls: dict                    # endpoint id -> tuple[CallSpec, ...]
    source: dict = field(default_factory=dict, compare=False, repr=False)

    def as_dict(self) -> dict:
        return {"service_id": self.service_id,
                "endpoints": [{"id": e.id, "path": e.path,
                               "methods": sorted(e.methods) if e.methods else ["ANY"],
                               "calls": [c.as_dict() for c in self.calls.get(e.id, ())]}
                              for e in self.config.endpoints]}


# --- small checks ---------------------------------------------------------------------------

def _at(where: str, key) -> str:
    return f"{where}.{key}" if where else str(key)


def unknown_key(key, allowed, where: str) -> Problem:
    """An "unknown key" problem with a did-you-mean from ``allowed``."""
    close = difflib.get_close_matches(str(key), list(allowed), n=1)
    hint = f"did you mean {close[0]!r}?" if close else "allowed here: " + ", ".join(allowed)
    return Problem(_at(where, key), "unknown key", hint)


def _keys(body: dict, allowed, where: str, problems: list) -> None:
    problems.extend(unknown_key(k, allowed, where) for k in body if k not in allowed)


def _object(value, where: str, problems: list, what: str = "an object") -> bool:
    if isinstance(value, dict):
        return True
    problems.append(Problem(where, f"must be {what}, got {kind_name(value)}"))
    return False




def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _name(value, where: str, problems: list, what: str = "service") -> bool:
    if isinstance(value, str) and _NAME.fullmatch(value):
        return True
    problems.append(Problem(where, f"must be a {what} name, got {value!r}",
                            "letters, digits and . _ : @ ~ -, starting with a letter or digit, "
                            "e.g. 'user-service'"))
    return False


def _bool(body: dict, key: str, where: str, problems: list, default: bool) -> bool:
    value = body.get(key, default)
    if isinstance(value, bool):
        return value
    problems.append(Problem(_at(where, key), f"must be true or false, got {value!r}"))
    return default


def _seconds(body: dict, key: str, where: str, problems: list, default=None, allow_null=True):
    value = body.get(key, default)
    if value is None and allow_null:
        return None
    if _is_number(value) and value > 0:
        return float(value)
    null = " or null (off)" if allow_null else ""
    problems.append(Problem(_at(where, key), f"must be a number of seconds > 0{null}, "
                            f"got {value!r}"))
    return default


def _positive_int(body: dict, key: str, where: str, problems: list, default: int) -> int:
    value = body.get(key, default)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    problems.append(Problem(_at(where, key), f"must be a whole number >= 1, got {value!r}"))
    return default


# --- registrations --------------------------------------------------------------------------

def registration(body, where: str, problems: list, extra_keys=()) -> dict | None:
    """A validated, normalized registration (``address`` worked out), or None after
    appending problems. ``service_id`` defaults to ``name`` and ``name`` to ``service_id``."""
    if not _object(body, where, problems):
        return None
    before = len(problems)
    _keys(body, REGISTRATION_KEYS + tuple(extra_keys), where, problems)
    ident, name = body.get("service_id"), body.get("name")
    if ident is None and name is None:
        problems.append(Problem(_at(where, "service_id"), "is required (or give a name)",
                                "e.g. \"service_id\": \"user-service-1\""))
    if ident is not None:
        _name(ident, _at(where, "service_id"), problems, "service id")
    if name is not None:
        _name(name, _at(where, "name"), problems)
    tags = body.get("tags", [])
    if not (isinstance(tags, list) and all(isinstance(t, str) and t for t in tags)):
        problems.append(Problem(_at(where, "tags"), f"must be a list of non-empty strings, "
                                f"got {tags!r}"))
    _object(body.get("metadata", {}), _at(where, "metadata"), problems)
    ttl = _seconds(body, "ttl_s", where, problems)
    deregister = _seconds(body, "deregister_critical_after_s", where, problems)
    address = _address(body, where, problems)
    check_url = _check_url(body.get("health_check_url"), address, where, problems)
    if len(problems) > before:
        return None
    return {"service_id": ident or name, "name": name or ident, "endpoint": body.get("endpoint"),
            "port": body.get("port"), "address": address, "tags": list(tags),
            "metadata": copy.deepcopy(body.get("metadata", {})), "ttl_s": ttl,
            "deregister_critical_after_s": deregister, "health_check_url": check_url}


def _address(body: dict, where: str, problems: list) -> str | None:
    """The base URL calls and checks go to, or None for an in-process (mock-only) service."""
    endpoint, port = body.get("endpoint"), body.get("port")
    if port is not None and not (isinstance(port, int) and not isinstance(port, bool)
                                 and 1 <= port <= 65535):
        problems.append(Problem(_at(where, "port"), f"must be a port number 1-65535, got {port!r}"))
        return None
    if endpoint is None:
        return f"http://127.0.0.1:{port}" if port is not None else None
    if not isinstance(endpoint, str) or not endpoint or any(c.isspace() for c in endpoint):
        problems.append(Problem(_at(where, "endpoint"), f"must be a URL or a host name, got "
                                f"{endpoint!r}", "e.g. \"http://127.0.0.1:9001\""))
        return None
    if endpoint.startswith(("http://", "https://")):
        return _url_address(endpoint, port, where, problems)
    if "/" in endpoint or ":" in endpoint:
        problems.append(Problem(_at(where, "endpoint"), f"{endpoint!r} is neither a URL nor a "
                                "host name", "give http://HOST:PORT, or a host plus 'port'"))
        return None
    if port is None:
        problems.append(Problem(_at(where, "port"), f"is required with the host {endpoint!r}",
                                "or give endpoint as a URL such as http://HOST:PORT"))
        return None
    return f"http://{endpoint}:{port}"


def _url_address(endpoint: str, port, where: str, problems: list) -> str | None:
    try:
        parts = urlsplit(endpoint)
        url_port = parts.port
    except ValueError as exc:
        problems.append(Problem(_at(where, "endpoint"), f"is not a valid URL: {exc}"))
        return None
    if not parts.hostname or parts.query or parts.fragment:
        problems.append(Problem(_at(where, "endpoint"), f"{endpoint!r} needs a host and no "
                                "query or fragment", "e.g. http://127.0.0.1:9001/base"))
        return None
    if port is not None and url_port is not None and port != url_port:
        problems.append(Problem(_at(where, "port"), f"{port} disagrees with the port in "
                                f"endpoint ({url_port})", "give the port once"))
        return None
    chosen = url_port or port or (443 if parts.scheme == "https" else 80)
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}:{chosen}{parts.path.rstrip('/')}"


def _check_url(value, address, where: str, problems: list) -> str | None:
    if value is None:
        return f"{address}/health" if address else None
    if not isinstance(value, str) or not value:
        problems.append(Problem(_at(where, "health_check_url"), f"must be a URL or a path, "
                                f"got {value!r}"))
        return None
    if value.startswith(("http://", "https://")):
        return value
    if address is None:
        problems.append(Problem(_at(where, "health_check_url"), "a relative check URL needs "
                                "the service's endpoint or port", "or give a full URL"))
        return None
    return f"{address}/{value.lstrip('/')}"


def heartbeat_body(body, problems: list) -> tuple[str, str]:
    """(status, output) from a heartbeat body (empty body: passing)."""
    if body is None:
        return "passing", ""
    if not _object(body, "", problems):
        return "passing", ""
    _keys(body, ("status", "output"), "", problems)
    status, output = body.get("status", "passing"), body.get("output", "")
    if status not in HEALTH_STATES:
        problems.append(Problem("status", f"must be one of {', '.join(HEALTH_STATES)}, got "
                                f"{status!r}"))
    if not isinstance(output, str):
        problems.append(Problem("output", f"must be a string, got {kind_name(output)}"))
    return status, output if isinstance(output, str) else ""


# --- dependencies and breakers --------------------------------------------------------------

def dependency(body, where: str, problems: list) -> dict | None:
    """A validated dependency body with defaults filled in, or None."""
    if not _object(body, where, problems):
        return None
    before = len(problems)
    _keys(body, DEPENDENCY_KEYS, where, problems)
    for key in ("from_service", "to_service"):
        if body.get(key) is None:
            problems.append(Problem(_at(where, key), "is required", "name a service, e.g. "
                                    "'user-service'"))
        else:
            _name(body[key], _at(where, key), problems)
    flags = {key: _bool(body, key, where, problems, default)
             for key, default in (("required", True), ("circuit_breaker_enabled", True),
                                  ("allow_cycle", False))}
    timeout = body.get("timeout_ms")
    if timeout is not None and not (_is_number(timeout) and timeout > 0):
        problems.append(Problem(_at(where, "timeout_ms"), f"must be a number of milliseconds "
                                f"> 0 or null, got {timeout!r}"))
    if len(problems) > before:
        return None
    return {"from_service": body["from_service"], "to_service": body["to_service"],
            "timeout_ms": None if timeout is None else float(timeout), **flags}


def breaker_override(body, where: str, problems: list, base: BreakerConfig):
    """(service_id, endpoint, BreakerConfig) from ``{"service_id", "endpoint", ...}``."""
    if not _object(body, where, problems):
        return None
    before = len(problems)
    service, endpoint = body.get("service_id"), body.get("endpoint", _DEFAULT_ID)
    if service is None:
        problems.append(Problem(_at(where, "service_id"), "is required"))
    else:
        _name(service, _at(where, "service_id"), problems)
    if not (isinstance(endpoint, str) and endpoint and "/" not in endpoint):
        problems.append(Problem(_at(where, "endpoint"), f"must be a mock endpoint id or '*', "
                                f"got {endpoint!r}", "'*' sets the service-wide breaker"))
    values = {k: v for k, v in body.items() if k not in ("service_id", "endpoint")}
    config = _breaker_config(values, where, problems, base)
    if len(problems) > before:
        return None
    return service, endpoint, config


def _breaker_config(values, where: str, problems: list, base: BreakerConfig):
    try:
        return BreakerConfig.from_dict(values, where, base=base)
    except ConfigError as exc:
        problems.extend(exc.problems)
        return base


# --- mock services --------------------------------------------------------------------------

def compile_mock(body, where: str, problems: list, build_config, service_id: str):
    """Compile a mock service body into a ``ServiceMock`` (None after appending problems).

    ``endpoints`` are pymock endpoint objects with paths relative to the service, plus
    ``calls``; any other top-level key (``status``, ``response``, ``latency_ms``, ...) makes
    the service's default answer for every path no endpoint matches. Top-level ``calls`` apply
    to every endpoint that has no ``calls`` of its own.
    """
    if not _object(body, where, problems):
        return None
    before = len(problems)
    for key in _ENDPOINT_ONLY:
        if key in body:
            problems.append(Problem(_at(where, key), "belongs inside an endpoint",
                                    f"put it in {_at(where, 'endpoints')}[...]"))
    endpoints = body.get("endpoints", [])
    if not isinstance(endpoints, list):
        problems.append(Problem(_at(where, "endpoints"), f"must be a list, got {kind_name(endpoints)}"))
        endpoints = []
    shared = _calls(body.get("calls", []), _at(where, "calls"), problems)
    items, own_calls = _mock_endpoints(endpoints, where, problems)
    rest = {k: v for k, v in body.items() if k not in ("endpoints", "calls") + _ENDPOINT_ONLY}
    if rest or not items:
        rest.setdefault("response", {"service": service_id, "ok": True})
        items.append({**rest, "id": _DEFAULT_ID, "path": "/**", "method": "ANY",
                      "priority": 9})
        own_calls.append(None)
    if len(problems) > before:
        return None
    config = _build(items, len(endpoints), where, problems, build_config)
    if config is None:
        return None
    calls = {e.id: own_calls[e.order] if own_calls[e.order] is not None else shared
             for e in config.endpoints}
    return ServiceMock(service_id, config, calls, copy.deepcopy(body))


def _mock_endpoints(endpoints: list, where: str, problems: list) -> tuple[list, list]:
    items, own_calls = [], []
    for index, item in enumerate(endpoints):
        at = f"{_at(where, 'endpoints')}[{index}]"
        if not _object(item, at, problems):
            items.append({"path": "/"})
            own_calls.append(None)
            continue
        item = dict(item)
        if "body_file" in item:
            problems.append(Problem(f"{at}.body_file", "is not supported in mesh mocks",
                                    "put the body in 'response' or 'body'"))
        if isinstance(item.get("path"), str) and not item["path"].startswith(("/", "^")):
            item["path"] = "/" + item["path"]   # service paths may be written without "/"
        calls = _calls(item.pop("calls"), f"{at}.calls", problems) if "calls" in item else None
        items.append(item)
        own_calls.append(calls)
    return items, own_calls


def _build(items: list, defaults_at: int, where: str, problems: list, build_config):
    try:
        # The inner config has the mesh switched off: a mock path like /registry is fine.
        return build_config({"endpoints": items, "mesh": {"enabled": False}})
    except ConfigError as exc:
        prefix = f"endpoints[{defaults_at}]"
        for p in exc.problems:
            if p.path == prefix or p.path.startswith(prefix + "."):
                path = _at(where, p.path[len(prefix):].lstrip("."))
            else:
                path = _at(where, p.path)
            problems.append(Problem(path, p.message, p.hint))
        return None


def _calls(value, where: str, problems: list) -> tuple:
    if not isinstance(value, list):
        problems.append(Problem(where, f"must be a list of calls, got {kind_name(value)}",
                                'e.g. [{"service": "user-service", "path": "users"}]'))
        return ()
    calls = []
    for index, item in enumerate(value):
        call = _call(item, f"{where}[{index}]", problems)
        if call is not None:
            calls.append(call)
    return tuple(calls)


def _call(item, at: str, problems: list) -> CallSpec | None:
    if not _object(item, at, problems):
        return None
    before = len(problems)
    _keys(item, CALL_KEYS, at, problems)
    if "service" not in item:
        problems.append(Problem(f"{at}.service", "is required", "the service this call goes to"))
    else:
        _name(item["service"], f"{at}.service", problems)
    path, method = item.get("path", ""), item.get("method", "GET")
    if not isinstance(path, str):
        problems.append(Problem(f"{at}.path", f"must be a string, got {kind_name(path)}"))
    if not (isinstance(method, str) and _METHOD.fullmatch(method)):
        problems.append(Problem(f"{at}.method", f"must be an HTTP method, got {method!r}"))
    required = item.get("required")
    if required is not None and not isinstance(required, bool):
        problems.append(Problem(f"{at}.required", f"must be true, false or null, got {required!r}",
                                "null (the default) uses the dependency's 'required'"))
    headers = item.get("headers", {})
    if _object(headers, f"{at}.headers", problems):
        for name, text in headers.items():
            if not isinstance(text, str) or "\n" in text or "\r" in text:
                problems.append(Problem(f"{at}.headers.{name}", "must be a one-line string"))
    if len(problems) > before:
        return None
    body = item.get("body")
    if body is None:
        raw = b""
    else:
        raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    return CallSpec(item["service"], path.lstrip("/"), method.upper(), required, raw,
                    tuple(headers.items()))
