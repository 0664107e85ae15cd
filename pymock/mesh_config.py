"""The ``mesh`` config section: validate it and compile it into a ``MeshSpec``.

Layer 1: no sockets, no threads, no files. The bodies inside the section (services and their
mocks, dependencies, breaker overrides) are checked by the validators of ``mesh_bodies``, the
same ones the mesh HTTP API uses, which this module re-exports; it adds the section's own keys
and the checks across entries (duplicate service ids, dependency cycles, mocks the mesh API
would shadow). ``config.py`` imports this module and hands it ``build_config``
(``section_parser``), so this module never imports ``config``.

>>> problems = []
>>> spec = section_parser(None)({"prefix": "/__mesh", "enabled": "yes"}, problems, {})
>>> spec.prefix, [str(p) for p in problems]
('/__mesh', ["mesh.enabled: must be true or false, got 'yes'"])

Must not import ``config`` (it imports this module), ``mesh``, ``mesh_api``, sockets or
threads.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field

from .breakers import BreakerConfig
from .chaos import validate_event
from .errors import CycleError, Problem, kind_name
from .graph import DependencyGraph
from .matching import split_path
from .mesh_bodies import (DEPENDENCY_KEYS, REGISTRATION_KEYS, CallSpec, ServiceMock, _bool,
                          _breaker_config, _is_number, _keys, _object, _positive_int,
                          _seconds, breaker_override, compile_mock, dependency, heartbeat_body,
                          registration, unknown_key)
from .mesh_bodies import CALL_KEYS  # noqa: F401  (re-exported: it was defined here)
from .registry import HealthPolicy


__all__ = [
    "MeshSpec", "ServiceMock", "CallSpec", "MESH_ROOTS", "MESH_BREAKER_DEFAULT",
    "REGISTRATION_KEYS", "DEPENDENCY_KEYS", "section_parser", "registration", "dependency",
    "breaker_override", "compile_mock", "heartbeat_body", "check_prefix", "unknown_key",
]

# The first path segment of every mesh route (after ``mesh.prefix``).
MESH_ROOTS = ("registry", "dependencies", "circuit-breakers", "traces", "chaos", "mock")
SECTION_KEYS = ("enabled", "prefix", "default_timeout_ms", "max_call_depth", "allow_cycles",
                "services", "dependencies", "circuit_breakers", "chaos", "tracing", "health")
_BREAKER_SECTION_KEYS = ("enabled", "default", "breakers")
_TRACING_KEYS = ("enabled", "max_spans")
_HEALTH_KEYS = ("ttl_s", "deregister_critical_after_s", "check_interval_s", "check_timeout_s")
# Breaker defaults sized for a laptop demo rather than production traffic (see docs/mesh.md).
MESH_BREAKER_DEFAULT = BreakerConfig(failure_rate_threshold=50, sliding_window_size=10,
                                     minimum_number_of_calls=5, wait_duration_open_s=30,
                                     permitted_calls_half_open=2, slow_call_duration_s=5)
_PREFIX_SEGMENT = re.compile(r"[A-Za-z0-9._~-]+")


@dataclass(frozen=True)
class MeshSpec:
    """The compiled ``mesh`` section (``Config.sections["mesh"]``)."""

    enabled: bool = True
    prefix: str = ""
    default_timeout_ms: float = 10000.0
    max_call_depth: int = 16
    allow_cycles: bool = False
    services: tuple = ()                       # normalized registrations
    mocks: dict = field(default_factory=dict)  # service id -> ServiceMock
    dependencies: tuple = ()                   # normalized dependency bodies
    breakers_enabled: bool = True
    breaker_default: BreakerConfig = MESH_BREAKER_DEFAULT
    breaker_overrides: tuple = ()              # ((service_id, endpoint, BreakerConfig), ...)
    chaos: tuple = ()                          # validated event specs
    tracing_enabled: bool = True
    max_spans: int = 10000
    health: HealthPolicy = HealthPolicy()


# --- the section ----------------------------------------------------------------------------

def check_prefix(prefix, where: str, problems: list) -> str:
    """``""`` or ``/a/b``: the path the mesh API is mounted under."""
    if prefix == "":
        return ""
    if not isinstance(prefix, str) or not prefix.startswith("/") or prefix.endswith("/") or \
            not all(_PREFIX_SEGMENT.fullmatch(s) for s in prefix[1:].split("/")):
        problems.append(Problem(where, f"must be '' or a path like '/__mesh', got {prefix!r}",
                                "no trailing '/', segments of letters, digits and . _ ~ -"))
        return ""
    if prefix.startswith(("/__admin", "/__logs", "/__reload")):
        problems.append(Problem(where, f"{prefix!r} is inside the admin API",
                                "choose another prefix, e.g. '/__mesh'"))
        return ""
    return prefix


def section_parser(build_config):
    """The ``SECTION_PARSERS["mesh"]`` function; ``build_config`` compiles mock services."""
    def parse(value, problems: list, raw: dict) -> MeshSpec:
        if value is None:
            spec = MeshSpec()
        elif not _object(value, "mesh", problems):
            return MeshSpec()
        else:
            spec = _section(value, problems, build_config)
        if spec.enabled:
            _collisions(raw.get("endpoints"), spec.prefix, problems)
        return spec
    return parse


def _section(value: dict, problems: list, build_config) -> MeshSpec:
    _keys(value, SECTION_KEYS, "mesh", problems)
    enabled = _bool(value, "enabled", "mesh", problems, True)
    allow_cycles = _bool(value, "allow_cycles", "mesh", problems, False)
    prefix = check_prefix(value.get("prefix", ""), "mesh.prefix", problems)
    timeout = value.get("default_timeout_ms", 10000)
    if not (_is_number(timeout) and timeout > 0):
        problems.append(Problem("mesh.default_timeout_ms", f"must be a number of milliseconds "
                                f"> 0, got {timeout!r}"))
        timeout = 10000
    depth = _positive_int(value, "max_call_depth", "mesh", problems, 16)
    services, mocks = _services(value.get("services", []), problems, build_config)
    dependencies = _dependencies(value.get("dependencies", []), allow_cycles, problems)
    breakers = _breaker_section(value.get("circuit_breakers", {}), problems)
    chaos = _chaos(value.get("chaos", []), problems)
    tracing = _tracing(value.get("tracing", {}), problems)
    health = _health(value.get("health", {}), problems)
    return MeshSpec(enabled, prefix, float(timeout), depth, allow_cycles, services, mocks,
                    dependencies, *breakers, chaos, *tracing, health)


def _list(value, where: str, problems: list) -> list:
    if isinstance(value, list):
        return value
    problems.append(Problem(where, f"must be a list, got {kind_name(value)}"))
    return []


def _services(items, problems: list, build_config) -> tuple[tuple, dict]:
    services, mocks, seen = [], {}, {}
    for index, item in enumerate(_list(items, "mesh.services", problems)):
        at = f"mesh.services[{index}]"
        spec = registration(item, at, problems, extra_keys=("mock",))
        if spec is None:
            continue
        ident = spec["service_id"]
        if ident in seen:
            problems.append(Problem(f"{at}.service_id", f"duplicate service id {ident!r} "
                                    f"(also mesh.services[{seen[ident]}])"))
            continue
        seen[ident] = index
        services.append(spec)
        if "mock" in item:
            mock = compile_mock(item["mock"], f"{at}.mock", problems, build_config, ident)
            if mock is not None:
                mocks[ident] = mock
    return tuple(services), mocks


def _dependencies(items, allow_cycles: bool, problems: list) -> tuple:
    graph, out = DependencyGraph(), []
    for index, item in enumerate(_list(items, "mesh.dependencies", problems)):
        at = f"mesh.dependencies[{index}]"
        dep = dependency(item, at, problems)
        if dep is None:
            continue
        try:
            graph.add_dependency(dep["from_service"], dep["to_service"],
                                 allow_cycle=allow_cycles or dep["allow_cycle"])
        except CycleError as exc:
            problems.append(Problem(at, "closes the dependency cycle " + " -> ".join(exc.cycle),
                                    "remove it, or set allow_cycle: true on it (or "
                                    "mesh.allow_cycles) if the cycle is intended"))
            continue
        out.append(dep)
    return tuple(out)


def _breaker_section(value, problems: list) -> tuple:
    where = "mesh.circuit_breakers"
    if not _object(value, where, problems):
        return True, MESH_BREAKER_DEFAULT, ()
    _keys(value, _BREAKER_SECTION_KEYS, where, problems)
    enabled = _bool(value, "enabled", where, problems, True)
    default = MESH_BREAKER_DEFAULT
    if "default" in value:
        if _object(value["default"], f"{where}.default", problems):
            default = _breaker_config(value["default"], f"{where}.default", problems, default)
    overrides = []
    for index, item in enumerate(_list(value.get("breakers", []), f"{where}.breakers", problems)):
        found = breaker_override(item, f"{where}.breakers[{index}]", problems, default)
        if found is not None:
            overrides.append(found)
    return enabled, default, tuple(overrides)


def _chaos(items, problems: list) -> tuple:
    events = []
    for index, item in enumerate(_list(items, "mesh.chaos", problems)):
        found = validate_event(item, f"mesh.chaos[{index}]")
        problems.extend(found)
        if not found:
            events.append(copy.deepcopy(item))
    return tuple(events)


def _tracing(value, problems: list) -> tuple[bool, int]:
    if not _object(value, "mesh.tracing", problems):
        return True, 10000
    _keys(value, _TRACING_KEYS, "mesh.tracing", problems)
    return (_bool(value, "enabled", "mesh.tracing", problems, True),
            _positive_int(value, "max_spans", "mesh.tracing", problems, 10000))


def _health(value, problems: list) -> HealthPolicy:
    where = "mesh.health"
    if not _object(value, where, problems):
        return HealthPolicy()
    _keys(value, _HEALTH_KEYS, where, problems)
    default = HealthPolicy()
    return HealthPolicy(
        _seconds(value, "ttl_s", where, problems),
        _seconds(value, "deregister_critical_after_s", where, problems),
        _seconds(value, "check_interval_s", where, problems, default.check_interval_s, False),
        _seconds(value, "check_timeout_s", where, problems, default.check_timeout_s, False))


def _collisions(endpoints, prefix: str, problems: list) -> None:
    """A top-level mock the mesh API would shadow is a config error naming ``mesh.prefix``."""
    if not isinstance(endpoints, list):
        return
    base = split_path(prefix)
    for index, item in enumerate(endpoints):
        path = item.get("path") if isinstance(item, dict) else None
        if not isinstance(path, str) or not path.startswith("/"):
            continue
        parts = split_path(path)[:len(base) + 1]
        if len(parts) == len(base) + 1 and parts[:-1] == base and parts[-1] in MESH_ROOTS:
            root = prefix + "/" + parts[-1]
            problems.append(Problem(f"endpoints[{index}].path", f"{path!r} collides with the "
                                    f"mesh API route {root} (mesh.prefix is {prefix!r})",
                                    "set mesh.prefix to move the mesh API (e.g. \"/__mesh\"), "
                                    "or change this path"))
