"""Chaos events and the decisions they imply for one call; nothing here sleeps or breaks sockets.

Five kinds of event: ``service_outage``, ``latency``, ``network_partition``, ``response_error``
and ``cascade_failure`` (failure walking up the dependency graph from one service, hop by hop
with a probability, to a maximum depth). Every event has a duration after which it ends by
itself (checked against the injected clock on the next look, no timers), can be stopped early,
and owns a ``random.Random(seed)`` so a run can be replayed. ``ChaosEngine.plan_call`` folds
the active events into one ``ChaosPlan`` that the server carries out.

>>> now = [0.0]
>>> engine = ChaosEngine(clock=lambda: now[0])
>>> event = engine.start({"type": "service_outage", "service": "orders", "duration_s": 30})
>>> engine.plan_call("gateway", "orders", "/orders").fail_status
503
>>> now[0] = 30.0
>>> engine.plan_call("gateway", "orders", "/orders").affected
False

Pure (layer 0): imports ``threading`` only for the engine's ``Lock`` (it starts no thread);
time and randomness are injected. Must not import sockets, files or anything above layer 0.
"""

from __future__ import annotations

import difflib
import math
import random
import threading
from collections import Counter, deque
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from .errors import ConfigError, ConflictError, NotFoundError, Problem

__all__ = ["ChaosEngine", "ChaosPlan", "EVENT_TYPES", "validate_event"]

EVENT_TYPES = ("service_outage", "latency", "network_partition", "response_error",
               "cascade_failure")
_COMMON = {"type": None, "id": None, "duration_s": 60.0, "seed": None, "description": ""}
# Each kind's own keys and their defaults (None: required or genuinely optional).
_KINDS = {
    "service_outage": {"service": None, "status": 503, "mode": "status"},
    "latency": {"service": None, "endpoint": None, "latency_ms": None, "distribution": None,
                "probability": 1.0},
    "network_partition": {"between": None, "groups": None, "mode": "timeout"},
    "response_error": {"service": None, "endpoint": None, "status": 500, "rate": 1.0},
    "cascade_failure": {"initial_service": None, "failure_probability": 0.5, "max_depth": 3,
                        "status": 503},
}
_MODES = {"service_outage": ("status", "refuse"), "network_partition": ("timeout", "refuse")}
_DISTRIBUTIONS = {"uniform": ("min", "max"), "lognormal": ("median", "sigma")}


@dataclass
class ChaosPlan:
    """What chaos does to one call. The server applies ``delay_s`` first, then the strongest
    of: ``refuse`` (connection refused), ``timeout`` (never answer), ``fail_status``."""

    delay_s: float = 0.0
    fail_status: int | None = None
    refuse: bool = False
    timeout: bool = False
    event_ids: list = field(default_factory=list)

    @property
    def affected(self) -> bool:
        return bool(self.event_ids)

    def as_dict(self) -> dict:
        return {"delay_s": self.delay_s, "fail_status": self.fail_status, "refuse": self.refuse,
                "timeout": self.timeout, "event_ids": list(self.event_ids)}


# --- validation ---------------------------------------------------------------------------

def validate_event(spec, path: str = "") -> list[Problem]:
    """Every problem with one event spec (empty list when it is fine)."""
    prefix = f"{path}." if path else ""
    if not isinstance(spec, dict):
        return [Problem(path, f"must be an object with a 'type', got {type(spec).__name__}")]
    kind = spec.get("type")
    if kind not in _KINDS:
        return [_type_problem(kind, prefix)] + _common_problems(spec, prefix)
    allowed = {**_COMMON, **_KINDS[kind]}
    problems = [_unknown_key(key, allowed, prefix, kind) for key in spec if key not in allowed]
    problems += _common_problems(spec, prefix)
    return problems + _KIND_CHECKS[kind](spec, prefix)


def _type_problem(kind, prefix: str) -> Problem:
    if kind is None:
        return Problem(prefix + "type", "is required", f"one of {', '.join(EVENT_TYPES)}")
    close = difflib.get_close_matches(str(kind), EVENT_TYPES, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"one of {', '.join(EVENT_TYPES)}"
    return Problem(prefix + "type", f"unknown chaos event type {kind!r}", hint)


def _unknown_key(key, allowed: dict, prefix: str, kind: str) -> Problem:
    close = difflib.get_close_matches(str(key), list(allowed), n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"{kind} takes {', '.join(allowed)}"
    return Problem(f"{prefix}{key}", f"unknown key for a {kind} event", hint)


def _common_problems(spec: dict, prefix: str) -> list[Problem]:
    problems = []
    duration = spec.get("duration_s", _COMMON["duration_s"])
    if not (_is_number(duration) and duration > 0):
        problems.append(Problem(prefix + "duration_s", f"must be a number of seconds > 0, "
                                f"got {duration!r}", "e.g. 60 for one minute"))
    seed = spec.get("seed")
    if seed is not None and not _is_int(seed):
        problems.append(Problem(prefix + "seed", f"must be a whole number, got {seed!r}"))
    ident = spec.get("id")
    if ident is not None and not (isinstance(ident, str) and ident.strip()):
        problems.append(Problem(prefix + "id", f"must be a non-empty string, got {ident!r}",
                                "or leave it out to get a generated id"))
    if not isinstance(spec.get("description", ""), str):
        problems.append(Problem(prefix + "description", "must be a string"))
    return problems


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _service(spec, key: str, prefix: str, required: bool = True) -> list[Problem]:
    value = spec.get(key)
    if value is None and not required:
        return []
    if isinstance(value, str) and value.strip():
        return []
    what = "is required" if value is None else f"must be a non-empty string, got {value!r}"
    return [Problem(prefix + key, what, "name the service as registered, e.g. 'orders'")]


def _ranged(spec, key: str, prefix: str, low: float, high: float, hint: str = "") -> list:
    value = spec.get(key)
    if value is None or (_is_number(value) and low <= value <= high):
        return []
    span = f">= {low:g}" if high == math.inf else f"from {low:g} to {high:g}"
    return [Problem(prefix + key, f"must be a number {span}, got {value!r}", hint or None)]


def _status(spec, prefix: str) -> list[Problem]:
    value = spec.get("status")
    if value is None or (_is_int(value) and 400 <= value <= 599):
        return []
    return [Problem(prefix + "status", f"must be an HTTP error status 400-599, got {value!r}")]


def _mode(spec, kind: str, prefix: str) -> list[Problem]:
    value = spec.get("mode")
    if value is None or value in _MODES[kind]:
        return []
    return [Problem(prefix + "mode", f"must be one of {', '.join(map(repr, _MODES[kind]))}, "
                    f"got {value!r}")]


def _check_outage(spec, prefix):
    return _service(spec, "service", prefix) + _status(spec, prefix) + \
        _mode(spec, "service_outage", prefix)


def _check_latency(spec, prefix):
    problems = _service(spec, "service", prefix) + _service(spec, "endpoint", prefix, False)
    problems += _ranged(spec, "probability", prefix, 0, 1, "a fraction: 0.25 is one call in 4")
    fixed, dist = spec.get("latency_ms"), spec.get("distribution")
    if (fixed is None) == (dist is None):
        return problems + [Problem(prefix + "latency_ms", "give either latency_ms or "
                                   "distribution (not both, not neither)",
                                   'e.g. "latency_ms": 200 or "distribution": '
                                   '{"uniform": {"min": 50, "max": 500}}')]
    if fixed is not None:
        return problems + _ranged(spec, "latency_ms", prefix, 0, math.inf)
    return problems + _distribution_problems(dist, prefix + "distribution")


def _distribution_problems(dist, path: str) -> list[Problem]:
    if not (isinstance(dist, dict) and len(dist) == 1):
        return [Problem(path, "must be an object with one key, 'uniform' or 'lognormal'",
                        'e.g. {"lognormal": {"median": 100, "sigma": 0.5}}')]
    (name, params), = dist.items()
    if name not in _DISTRIBUTIONS:
        close = difflib.get_close_matches(str(name), list(_DISTRIBUTIONS), n=1)
        hint = f"did you mean {close[0]!r}?" if close else "use 'uniform' or 'lognormal'"
        return [Problem(f"{path}.{name}", "unknown distribution", hint)]
    keys = _DISTRIBUTIONS[name]
    if not isinstance(params, dict) or set(params) != set(keys):
        return [Problem(f"{path}.{name}", f"must be an object with exactly {' and '.join(keys)}")]
    problems = [Problem(f"{path}.{name}.{k}", f"must be a number >= 0, got {params[k]!r}")
                for k in keys if not (_is_number(params[k]) and params[k] >= 0)]
    if problems:
        return problems
    if name == "uniform" and params["min"] > params["max"]:
        return [Problem(f"{path}.uniform.max", f"must be >= min ({params['min']!r})")]
    if name == "lognormal" and params["median"] <= 0:
        return [Problem(f"{path}.lognormal.median", "must be > 0 milliseconds")]
    return []


def _check_partition(spec, prefix):
    problems = _mode(spec, "network_partition", prefix)
    between, groups = spec.get("between"), spec.get("groups")
    if (between is None) == (groups is None):
        return problems + [Problem(prefix + "between", "give either between (two services) "
                                   "or groups (two lists of services)",
                                   'e.g. "between": ["orders", "payments"]')]
    if between is not None:
        if not (isinstance(between, list) and len(between) == 2):
            return problems + [Problem(prefix + "between", "must be a list of two services")]
        groups, key = [[between[0]], [between[1]]], "between"
    else:
        key = "groups"
        if not (isinstance(groups, list) and len(groups) == 2 and
                all(isinstance(g, list) and g for g in groups)):
            return problems + [Problem(prefix + "groups", "must be two non-empty lists of "
                                       "services", 'e.g. [["a", "b"], ["c"]]')]
    return problems + _group_problems(groups, prefix + key, key == "between")


def _group_problems(groups, path: str, flat: bool) -> list[Problem]:
    problems = []
    for g, group in enumerate(groups):
        for i, name in enumerate(group):
            where = f"{path}[{g}]" if flat else f"{path}[{g}][{i}]"
            if not (isinstance(name, str) and name.strip()):
                problems.append(Problem(where, f"must be a service name, got {name!r}"))
    if not problems and set(groups[0]) & set(groups[1]):
        shared = ", ".join(sorted(set(groups[0]) & set(groups[1])))
        problems.append(Problem(path, f"a service cannot be on both sides: {shared}"))
    return problems


def _check_error(spec, prefix):
    return (_service(spec, "service", prefix) + _service(spec, "endpoint", prefix, False) +
            _status(spec, prefix) + _ranged(spec, "rate", prefix, 0, 1, "0.1 fails 1 call in 10"))


def _check_cascade(spec, prefix):
    problems = _service(spec, "initial_service", prefix) + _status(spec, prefix)
    problems += _ranged(spec, "failure_probability", prefix, 0, 1)
    depth = spec.get("max_depth")
    if depth is not None and not (_is_int(depth) and depth >= 0):
        problems.append(Problem(prefix + "max_depth", f"must be a whole number >= 0, got "
                                f"{depth!r}", "0 fails only the initial service"))
    return problems


_KIND_CHECKS = {"service_outage": _check_outage, "latency": _check_latency,
                "network_partition": _check_partition, "response_error": _check_error,
                "cascade_failure": _check_cascade}


def _normalize(spec: dict) -> dict:
    kind = spec["type"]
    out = {key: spec.get(key, default) for key, default in {**_COMMON, **_KINDS[kind]}.items()}
    out["duration_s"] = float(out["duration_s"])
    if kind == "network_partition":
        between = out.pop("between")
        groups = [[between[0]], [between[1]]] if between else out["groups"]
        out["groups"] = [sorted(set(g)) for g in groups]
    elif kind == "latency":
        for key in ("latency_ms", "distribution"):
            if out[key] is None:
                del out[key]
    return out


# --- events -------------------------------------------------------------------------------

class _Event:
    """One started event. Mutated only under the engine's lock."""

    def __init__(self, ident: str, spec: dict, seed: int, started_at: float):
        self.id, self.spec, self.seed, self.started_at = ident, spec, seed, started_at
        self.rng = random.Random(seed)
        self.stopped_at: float | None = None
        self.requests_affected = 0
        self.by_service: Counter = Counter()
        self.cascade_failed: frozenset = frozenset()
        self.cascade_hops: list[dict] = []

    @property
    def ends_at(self) -> float:
        return self.started_at + self.spec["duration_s"]

    def active(self, now: float) -> bool:
        return self.stopped_at is None and now < self.ends_at

    def effect(self, source, target: str, endpoint) -> dict | None:
        """This event's part of the plan for one call, or None when it does not touch it."""
        return _EFFECTS[self.spec["type"]](self, source, target, endpoint)

    def as_dict(self, now: float) -> dict:
        if self.active(now):
            ended, state = None, "active"
        elif self.stopped_at is not None:   # only ever set on an event still running
            ended, state = self.stopped_at, "stopped"
        else:
            ended, state = self.ends_at, "expired"
        out = {**self.spec, "id": self.id, "seed": self.seed, "state": state,
               "active": ended is None, "started_at": self.started_at, "ends_at": self.ends_at,
               "stopped_at": self.stopped_at, "ended_at": ended,
               "requests_affected": self.requests_affected,
               "affected_by_service": dict(sorted(self.by_service.items()))}
        if self.spec["type"] == "cascade_failure":
            out["affected_services"] = sorted(self.cascade_failed)
            out["hops"] = [dict(h) for h in self.cascade_hops]
        return out


def _endpoint_matches(pattern, endpoint) -> bool:
    return pattern is None or (endpoint is not None and fnmatchcase(endpoint, pattern))


def _outage_effect(event, source, target, endpoint):
    spec = event.spec
    if target != spec["service"]:
        return None
    if spec["mode"] == "refuse":
        return {"refuse": True}
    return {"fail_status": spec["status"]}


def _latency_effect(event, source, target, endpoint):
    spec = event.spec
    if target != spec["service"] or not _endpoint_matches(spec["endpoint"], endpoint):
        return None
    if event.rng.random() >= spec["probability"]:
        return None
    return {"delay_s": _sample_ms(spec, event.rng) / 1000.0}


def _sample_ms(spec: dict, rng: random.Random) -> float:
    if "latency_ms" in spec:
        return float(spec["latency_ms"])
    (name, params), = spec["distribution"].items()
    if name == "uniform":
        return rng.uniform(params["min"], params["max"])
    return rng.lognormvariate(math.log(params["median"]), params["sigma"])


def _partition_effect(event, source, target, endpoint):
    left, right = event.spec["groups"]
    crosses = (source in left and target in right) or (source in right and target in left)
    if not crosses:
        return None
    return {"refuse": True} if event.spec["mode"] == "refuse" else {"timeout": True}


def _error_effect(event, source, target, endpoint):
    spec = event.spec
    if target != spec["service"] or not _endpoint_matches(spec["endpoint"], endpoint):
        return None
    if event.rng.random() >= spec["rate"]:
        return None
    return {"fail_status": spec["status"]}


def _cascade_effect(event, source, target, endpoint):
    return {"fail_status": event.spec["status"]} if target in event.cascade_failed else None


_EFFECTS = {"service_outage": _outage_effect, "latency": _latency_effect,
            "network_partition": _partition_effect, "response_error": _error_effect,
            "cascade_failure": _cascade_effect}


def _walk_cascade(event: _Event, dependents) -> None:
    """Fail the initial service, then walk up through dependents breadth-first: each hop from
    a failed service to one of its dependents fails it with ``failure_probability``."""
    spec = event.spec
    failed, frontier = {spec["initial_service"]}, [spec["initial_service"]]
    for depth in range(1, spec["max_depth"] + 1):
        reached = []
        for service in frontier:
            for dependent in sorted(set(_lookup(dependents, service)) - failed):
                hit = event.rng.random() < spec["failure_probability"]
                event.cascade_hops.append({"from": service, "to": dependent, "depth": depth,
                                           "failed": hit})
                if hit:
                    failed.add(dependent)
                    reached.append(dependent)
        frontier = sorted(reached)
    event.cascade_failed = frozenset(failed)


def _lookup(dependents, service: str):
    if dependents is None:
        return ()
    try:
        return dependents(service) if callable(dependents) else dependents.get(service, ())
    except KeyError:   # e.g. the graph's NotFoundError: an unknown service has no dependents
        return ()


# --- the engine ---------------------------------------------------------------------------

class ChaosEngine:
    """Active and past chaos events, their decisions and their metrics. Thread-safe.

    ``dependents`` (a callable or a mapping: service -> services that call it) is what
    cascades walk; ``rng`` draws seeds for events started without one (each event reports
    the seed it used); ``past_limit`` bounds the history, counting what it drops.
    """

    def __init__(self, clock, *, dependents=None, rng: random.Random | None = None,
                 past_limit: int = 100):
        self._clock = clock
        self._dependents = dependents
        self._rng = rng or random.Random(0)
        self._lock = threading.Lock()
        self._active: dict[str, _Event] = {}
        self._past: deque = deque(maxlen=past_limit)
        self._evicted = 0
        self._started = 0
        self._calls_affected = 0
        self._by_service: Counter = Counter()

    def start(self, spec: dict, *, dependents=None) -> dict:
        """Validate and start an event; returns its snapshot. ``ConfigError`` lists every
        problem; ``ConflictError`` when a given ``id`` is already in use."""
        problems = validate_event(spec)
        if problems:
            raise ConfigError(problems, source="the chaos event")
        normalized = _normalize(spec)
        with self._lock:
            now = self._clock()
            self._expire(now)
            ident = normalized.pop("id") or self._next_id()
            if self._find(ident) is not None:
                raise ConflictError(f"chaos event id {ident!r} is already in use; "
                                    "choose another id or leave it out")
            seed = normalized.pop("seed")
            event = _Event(ident, normalized, self._rng.getrandbits(32) if seed is None else seed,
                           now)
            if normalized["type"] == "cascade_failure":
                _walk_cascade(event, dependents if dependents is not None else self._dependents)
            self._active[ident] = event
            self._started += 1
            return event.as_dict(now)

    def _next_id(self) -> str:
        number = self._started + 1
        while self._find(f"chaos-{number}") is not None:
            number += 1
        return f"chaos-{number}"

    def _find(self, ident: str) -> _Event | None:
        if ident in self._active:
            return self._active[ident]
        return next((e for e in self._past if e.id == ident), None)

    def _expire(self, now: float) -> None:
        for ident in [i for i, e in self._active.items() if not e.active(now)]:
            self._retire(self._active.pop(ident))

    def _retire(self, event: _Event) -> None:
        if len(self._past) == self._past.maxlen:
            self._evicted += 1
        self._past.append(event)

    def stop(self, event_id: str) -> dict:
        """End an event now (a no-op for one already over); ``NotFoundError`` if unknown."""
        with self._lock:
            now = self._clock()
            self._expire(now)
            event = self._active.pop(event_id, None)
            if event is not None:
                event.stopped_at = now
                self._retire(event)
                return event.as_dict(now)
            event = self._find(event_id)
            if event is None:
                raise NotFoundError("chaos event", event_id)
            return event.as_dict(now)

    def stop_all(self) -> int:
        """Stop every active event; returns how many were stopped."""
        with self._lock:
            now = self._clock()
            self._expire(now)
            events = list(self._active.values())
            self._active.clear()
            for event in events:
                event.stopped_at = now
                self._retire(event)
            return len(events)

    def get(self, event_id: str) -> dict:
        with self._lock:
            now = self._clock()
            self._expire(now)
            event = self._find(event_id)
            if event is None:
                raise NotFoundError("chaos event", event_id)
            return event.as_dict(now)

    def list(self, include_past: bool = False) -> list[dict]:
        """Active events in start order, then (if asked) past ones, oldest first."""
        with self._lock:
            now = self._clock()
            self._expire(now)
            events = list(self._active.values()) + (list(self._past) if include_past else [])
            return [e.as_dict(now) for e in events]

    def plan_call(self, source_service, target_service: str, endpoint=None) -> ChaosPlan:
        """Combine every active event into the plan for one call from ``source_service``
        (``None`` for an outside client) to ``target_service`` at ``endpoint``."""
        plan = ChaosPlan()
        with self._lock:
            self._expire(self._clock())
            for event in self._active.values():
                effect = event.effect(source_service, target_service, endpoint)
                if effect is not None:
                    _fold(plan, effect)
                    plan.event_ids.append(event.id)
                    event.requests_affected += 1
                    event.by_service[target_service] += 1
            if plan.event_ids:
                self._calls_affected += 1
                self._by_service[target_service] += 1
        return plan

    def metrics(self) -> dict:
        """Counts for the admin API: events active/past/evicted, calls affected overall,
        per service and per (still remembered) event."""
        with self._lock:
            self._expire(self._clock())
            events = list(self._active.values()) + list(self._past)
            return {"active": len(self._active), "past": len(self._past),
                    "evicted": self._evicted, "started": self._started,
                    "requests_affected": self._calls_affected,
                    "by_service": dict(sorted(self._by_service.items())),
                    "by_event": {e.id: e.requests_affected for e in events}}


def _fold(plan: ChaosPlan, effect: dict) -> None:
    plan.delay_s += effect.get("delay_s", 0.0)
    plan.refuse = plan.refuse or effect.get("refuse", False)
    plan.timeout = plan.timeout or effect.get("timeout", False)
    if plan.fail_status is None:   # the earliest-started event decides the status
        plan.fail_status = effect.get("fail_status")
