"""The service registry: registrations, health by heartbeat TTL and active checks, lookups.

Layer 1: state and decisions only. Time comes from the injected ``clock``; nothing here sleeps,
opens a socket or starts a thread (``mesh_edge`` runs the HTTP checks and reports them with
``record_check``). Health is worked out when someone looks, so a TTL that ran out or a
service critical long enough to be deregistered shows on the very next query, with no timer.

Each service has up to two checks, Consul-style. ``heartbeat``: the status the last heartbeat
reported (registration counts as a passing one); with a TTL it turns critical once the TTL
passes without a heartbeat. ``http``: the last active check's result (services with a real
address only). The service's health is the worse of the two.

>>> now = [0.0]
>>> reg = ServiceRegistry(clock=lambda: now[0], policy=HealthPolicy(ttl_s=10,
...                       deregister_critical_after_s=30))
>>> reg.register({"service_id": "users-1", "name": "users"})[1]
True
>>> now[0] = 11.0
>>> reg.get("users-1")["health"]
'critical'
>>> now[0] = 41.0
>>> [s["service_id"] for s in reg.query()]
[]

Must not import sockets, threads (beyond a ``Lock``), ``mesh`` or anything in layer 2.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field

from .errors import NotFoundError

__all__ = ["ServiceRegistry", "HealthPolicy", "Instance", "PASSING", "WARNING", "CRITICAL",
           "HEALTH_STATES", "worst"]

PASSING, WARNING, CRITICAL = "passing", "warning", "critical"
HEALTH_STATES = (PASSING, WARNING, CRITICAL)
_RANK = {PASSING: 0, WARNING: 1, CRITICAL: 2}
_REGISTRATION_FIELDS = ("name", "endpoint", "port", "address", "tags", "metadata", "ttl_s",
                        "deregister_critical_after_s", "health_check_url")


def worst(*states: str) -> str:
    """The most severe of ``states`` (``passing`` when there are none)."""
    return max(states, key=_RANK.__getitem__, default=PASSING)


@dataclass(frozen=True)
class HealthPolicy:
    """Registry-wide health defaults (config ``mesh.health``); a registration may override
    ``ttl_s`` and ``deregister_critical_after_s``. ``None`` turns a rule off."""

    ttl_s: float | None = None
    deregister_critical_after_s: float | None = None
    check_interval_s: float = 10.0
    check_timeout_s: float = 2.0


@dataclass(frozen=True)
class Instance:
    """What a caller needs to reach a service: its id, name, base URL (or None) and health."""

    service_id: str
    name: str
    address: str | None
    health: str


@dataclass
class _Check:
    status: str
    output: str
    at: float          # when it was last updated
    since: float       # when it entered ``status``

    def update(self, status: str, output: str, now: float) -> None:
        if status != self.status:
            self.since = now
        self.status, self.output, self.at = status, output, now


@dataclass
class _Entry:
    """One registration; mutated only under the registry lock."""

    service_id: str
    spec: dict
    source: str
    registered_at: float
    updated_at: float
    heartbeat: _Check
    http: _Check | None = None
    extra: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.spec.get("name") or self.service_id

    def ttl(self, policy: HealthPolicy):
        return self.spec["ttl_s"] if self.spec.get("ttl_s") is not None else policy.ttl_s

    def deregister_after(self, policy: HealthPolicy):
        own = self.spec.get("deregister_critical_after_s")
        return own if own is not None else policy.deregister_critical_after_s


def _health(entry: _Entry, now: float, policy: HealthPolicy) -> str:
    """Just the health of ``entry`` (what every call asks; ``_evaluate`` says why)."""
    beat = entry.heartbeat
    ttl = entry.ttl(policy)
    status = CRITICAL if ttl is not None and now > beat.at + ttl else beat.status
    if entry.http is not None and _RANK[entry.http.status] > _RANK[status]:
        return entry.http.status
    return status


def _evaluate(entry: _Entry, now: float, policy: HealthPolicy) -> tuple[str, float | None, list]:
    """(health, critical_since, checks) for ``entry`` at ``now``: a pure decision."""
    beat = entry.heartbeat
    ttl = entry.ttl(policy)
    status, since, output = beat.status, beat.since, beat.output
    if ttl is not None and now > beat.at + ttl:
        status, since = CRITICAL, beat.at + ttl
        output = f"TTL of {ttl:g}s expired: last heartbeat {now - beat.at:g}s ago"
    checks = [{"name": "heartbeat", "status": status, "output": output, "since": since,
               "last_heartbeat": beat.at, "ttl_s": ttl}]
    if entry.http is not None:
        http = entry.http
        checks.append({"name": "http", "status": http.status, "output": http.output,
                       "since": http.since, "checked_at": http.at,
                       "url": entry.spec.get("health_check_url")})
    health = worst(*(c["status"] for c in checks))
    critical = [c["since"] for c in checks if c["status"] == CRITICAL]
    return health, (min(critical) if critical else None), checks


class ServiceRegistry:
    """Registered services by id. Thread-safe: one lock, short transactions, copies out."""

    def __init__(self, clock, policy: HealthPolicy | None = None, history: int = 50):
        self._clock = clock
        self.policy = policy or HealthPolicy()
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._round_robin: dict[str, int] = {}
        self._deregistered: deque = deque(maxlen=history)

    # --- changes ------------------------------------------------------------------------

    def register(self, spec: dict, source: str = "api", refresh: bool = True) -> tuple[dict, bool]:
        """Add or update a service from a validated registration; returns (record, created).

        Re-registering updates every field. With ``refresh`` it also counts as a passing
        heartbeat (what a restarted service does); config reloads pass ``refresh=False`` so
        an unchanged service keeps its health history.
        """
        ident = spec["service_id"]
        fields = {key: spec.get(key) for key in _REGISTRATION_FIELDS}
        with self._lock:
            now = self._clock()
            entry = self._entries.get(ident)
            created = entry is None
            if created:
                beat = _Check(PASSING, "registered", now, now)
                entry = _Entry(ident, fields, source, now, now, beat)
                self._entries[ident] = entry
            else:
                entry.spec, entry.source, entry.updated_at = fields, source, now
                if refresh:
                    entry.heartbeat.update(PASSING, "re-registered", now)
            if not fields.get("address"):
                entry.http = None
            return self._record(entry, now), created

    def deregister(self, service_id: str, reason: str = "deregistered") -> dict:
        with self._lock:
            now = self._clock()
            entry = self._entries.pop(service_id, None)
            if entry is None:
                raise NotFoundError("service", service_id)
            self._deregistered.append({"service_id": service_id, "at": now, "reason": reason})
            return self._record(entry, now)

    def heartbeat(self, service_id: str, status: str = PASSING, output: str = "") -> dict:
        """A TTL heartbeat (Consul's check update): ``status`` is passing, warning or critical."""
        if status not in _RANK:
            raise ValueError(f"heartbeat status {status!r} is not one of "
                             f"{', '.join(HEALTH_STATES)}")
        with self._lock:
            now = self._clock()
            entry = self._live(service_id, now)
            beat, ttl = entry.heartbeat, entry.ttl(self.policy)
            lapsed = ttl is not None and now > beat.at + ttl   # it was critical until now
            beat.update(status, output or f"heartbeat: {status}", now)
            if lapsed:
                beat.since = now
            return self._record(entry, now)

    def record_check(self, service_id: str, status: str, output: str) -> bool:
        """Store an active HTTP check result; False when the service is gone meanwhile."""
        with self._lock:
            now = self._clock()
            entry = self._entries.get(service_id)
            if entry is None or not entry.spec.get("address"):
                return False
            if entry.http is None:
                entry.http = _Check(status, output, now, now)
            else:
                entry.http.update(status, output, now)
            return True

    def set_policy(self, policy: HealthPolicy) -> None:
        with self._lock:
            self.policy = policy

    def sync_declared(self, specs: list[dict]) -> None:
        """Make the config-declared services exactly ``specs``: config-sourced services no
        longer declared are removed, declared ones upserted (health kept when unchanged).
        Services registered through the API are left alone unless the config names them."""
        declared = {spec["service_id"]: spec for spec in specs}
        with self._lock:
            stale = [i for i, e in self._entries.items()
                     if e.source == "config" and i not in declared]
            now = self._clock()
            for ident in stale:
                del self._entries[ident]
                self._deregistered.append({"service_id": ident, "at": now,
                                           "reason": "removed from the config"})
        for spec in specs:
            self.register(spec, source="config", refresh=False)

    # --- queries ------------------------------------------------------------------------

    def get(self, service_id: str) -> dict:
        with self._lock:
            now = self._clock()
            return self._record(self._live(service_id, now), now)

    def query(self, name: str | None = None, tags=(), health: str | None = None) -> list[dict]:
        """Services matching every filter (all ``tags`` must be present), sorted by id."""
        with self._lock:
            now = self._clock()
            self._sweep(now)
            records = [self._record(e, now) for _, e in sorted(self._entries.items())]
        return [r for r in records
                if (name is None or r["name"] == name)
                and all(tag in r["tags"] for tag in tags)
                and (health is None or r["health"] == health)]

    def resolve(self, target: str) -> Instance | None:
        """The instance a call to ``target`` (a service id, else a name) goes to: an exact id
        wins; among same-named instances the healthiest, round-robin. None when unknown."""
        with self._lock:
            now = self._clock()
            entry = self._entries.get(target)
            if entry is not None:
                if self._expired(entry, now):
                    return None
                return self._instance(entry, now)
            self._sweep(now)
            candidates = [self._instance(e, now) for _, e in sorted(self._entries.items())
                          if e.name == target]
            if not candidates:
                return None
            best = min(_RANK[c.health] for c in candidates)
            pool = [c for c in candidates if _RANK[c.health] == best]
            turn = self._round_robin.get(target, 0)
            self._round_robin[target] = turn + 1
            return pool[turn % len(pool)]

    def knows(self, target: str) -> bool:
        """Is ``target`` a live service id or name? (No side effects, unlike ``resolve``.)"""
        with self._lock:
            now = self._clock()
            entry = self._entries.get(target)
            if entry is not None and not self._expired(entry, now):
                return True
            self._sweep(now)
            return any(e.name == target for e in self._entries.values())

    def check_targets(self) -> list[tuple[str, str]]:
        """(service_id, health check URL) of every service an active check should probe."""
        with self._lock:
            return [(i, e.spec["health_check_url"]) for i, e in sorted(self._entries.items())
                    if e.spec.get("address") and e.spec.get("health_check_url")]

    def deregistered(self) -> list[dict]:
        """Recent deregistrations, oldest first (after a sweep, so TTL victims show)."""
        with self._lock:
            self._sweep(self._clock())
            return [dict(d) for d in self._deregistered]

    def __contains__(self, service_id) -> bool:
        with self._lock:
            entry = self._entries.get(service_id)
            return entry is not None and not self._expired(entry, self._clock())

    def __len__(self) -> int:
        with self._lock:
            self._sweep(self._clock())
            return len(self._entries)

    # --- inside the lock ----------------------------------------------------------------

    def _live(self, service_id: str, now: float) -> _Entry:
        entry = self._entries.get(service_id)
        if entry is None or self._expired(entry, now):
            raise NotFoundError("service", service_id)
        return entry

    def _expired(self, entry: _Entry, now: float) -> bool:
        """Deregister ``entry`` (and say so) when it has been critical for too long."""
        limit = entry.deregister_after(self.policy)
        if limit is None:
            return False
        health, since, _ = _evaluate(entry, now, self.policy)
        if health != CRITICAL or now - since < limit:
            return False
        del self._entries[entry.service_id]
        self._deregistered.append({"service_id": entry.service_id, "at": since + limit,
                                   "reason": f"critical for {limit:g}s"})
        return True

    def _sweep(self, now: float) -> None:
        for entry in list(self._entries.values()):
            self._expired(entry, now)

    def _instance(self, entry: _Entry, now: float) -> Instance:
        return Instance(entry.service_id, entry.name, entry.spec.get("address"),
                        _health(entry, now, self.policy))

    def _record(self, entry: _Entry, now: float) -> dict:
        health, since, checks = _evaluate(entry, now, self.policy)
        spec = entry.spec
        return {"service_id": entry.service_id, "name": entry.name,
                "endpoint": spec.get("endpoint"), "port": spec.get("port"),
                "address": spec.get("address"), "tags": list(spec.get("tags") or ()),
                "metadata": dict(spec.get("metadata") or {}), "health": health,
                "critical_since": since, "checks": checks, "source": entry.source,
                "registered_at": entry.registered_at, "updated_at": entry.updated_at,
                "ttl_s": entry.ttl(self.policy),
                "deregister_critical_after_s": entry.deregister_after(self.policy)}
