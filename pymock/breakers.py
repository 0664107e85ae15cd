"""Circuit breakers per (service, endpoint), in the manner of resilience4j.

A count-based sliding window of the last ``sliding_window_size`` calls decides when a CLOSED
breaker opens: a failure rate or slow-call rate at or over its threshold (once
``minimum_number_of_calls`` were seen), or ``consecutive_failures_threshold`` failures in a row.
OPEN refuses calls fast (with a Retry-After) until ``wait_duration_open_s`` has passed; the next
``allow()`` then moves it to HALF_OPEN, which lets ``permitted_calls_half_open`` calls through
and closes or re-opens on their outcome. There are no timers: every change is noticed on the
next call. FORCED_OPEN / FORCED_CLOSED are manual overrides until ``release()``. Every
transition is recorded with its time and cause.

>>> now = [0.0]
>>> cb = CircuitBreaker(BreakerConfig(minimum_number_of_calls=2, sliding_window_size=2,
...                                   wait_duration_open_s=30), clock=lambda: now[0])
>>> cb.record(False, 0.1); cb.record(False, 0.1)
>>> cb.allow()
Decision(allowed=False, state='open', retry_after_s=30.0)
>>> now[0] = 30.0
>>> cb.allow().state
'half_open'

Pure (layer 0): imports ``threading`` only for a per-breaker ``Lock`` (it starts no thread);
time comes from the injected ``clock``. Must not import sockets, files or higher layers.
"""

from __future__ import annotations

import difflib
import math
import threading
from collections import deque
from dataclasses import asdict, dataclass, fields

from .errors import ConfigError, NotFoundError, Problem

__all__ = ["BreakerConfig", "CircuitBreaker", "BreakerRegistry", "Decision", "CLOSED", "OPEN",
           "HALF_OPEN", "FORCED_OPEN", "FORCED_CLOSED", "STATES"]

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"
FORCED_OPEN, FORCED_CLOSED = "forced_open", "forced_closed"
STATES = (CLOSED, OPEN, HALF_OPEN, FORCED_OPEN, FORCED_CLOSED)
_MAX_TRANSITIONS = 200   # history kept per breaker; older ones are counted, not kept


@dataclass(frozen=True)
class BreakerConfig:
    """Thresholds are percentages (0-100]; durations are seconds. Raises ``ConfigError``."""

    failure_rate_threshold: float = 50.0
    slow_call_rate_threshold: float = 100.0
    slow_call_duration_s: float = 60.0
    wait_duration_open_s: float = 60.0
    permitted_calls_half_open: int = 10
    sliding_window_size: int = 100
    minimum_number_of_calls: int = 100
    consecutive_failures_threshold: int | None = None

    def __post_init__(self):
        problems = _value_problems(asdict(self), "")
        if problems:
            raise ConfigError(problems, source="the circuit breaker config")

    @classmethod
    def from_dict(cls, data, path: str = "circuit_breaker", base: BreakerConfig | None = None):
        """Build from a JSON object (missing keys come from ``base``); all problems at once."""
        if not isinstance(data, dict):
            raise ConfigError([Problem(path, f"must be an object, got {type(data).__name__}")])
        values = asdict(base or cls())
        problems = [_unknown_key(key, path) for key in data if key not in values]
        values.update({k: v for k, v in data.items() if k in values})
        problems += _value_problems(values, path)
        if problems:
            raise ConfigError(problems, source="the circuit breaker config")
        return cls(**values)

    @property
    def effective_minimum_calls(self) -> int:
        # As in resilience4j's count-based window: never wait for more calls than it holds.
        return min(self.minimum_number_of_calls, self.sliding_window_size)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Decision:
    """The answer to ``allow()``; ``retry_after_s`` is set when a wait is known (OPEN)."""

    allowed: bool
    state: str
    retry_after_s: float | None = None


class _Window:
    """The last ``size`` outcomes with running counts (count-based sliding window)."""

    def __init__(self, size: int):
        self.calls: deque = deque(maxlen=size)
        self.failures = 0
        self.slow = 0

    def add(self, failed: bool, slow: bool) -> None:
        if len(self.calls) == self.calls.maxlen:
            old_failed, old_slow = self.calls[0]
            self.failures -= old_failed
            self.slow -= old_slow
        self.calls.append((failed, slow))
        self.failures += failed
        self.slow += slow

    def rates(self) -> tuple[float, float]:
        count = len(self.calls)
        if not count:
            return 0.0, 0.0
        return 100.0 * self.failures / count, 100.0 * self.slow / count

    def as_dict(self) -> dict:
        failure_rate, slow_rate = self.rates()
        return {"size": self.calls.maxlen, "calls": len(self.calls), "failures": self.failures,
                "slow_calls": self.slow, "failure_rate": failure_rate,
                "slow_call_rate": slow_rate}


class CircuitBreaker:
    """One breaker. Thread-safe: one lock, held only for the bookkeeping of a call."""

    def __init__(self, config: BreakerConfig | None = None, clock=None, name: str = ""):
        if clock is None:
            raise TypeError("CircuitBreaker needs clock=, a callable returning seconds "
                            "(e.g. time.monotonic); layer-0 code never reads the time itself")
        self.config = config or BreakerConfig()
        self.name = name
        self._clock = clock
        self._lock = threading.Lock()
        self._state = CLOSED
        self._opened_at: float | None = None
        self._transitions: deque = deque(maxlen=_MAX_TRANSITIONS)
        self._transitions_dropped = 0
        self._totals = {"calls": 0, "failures": 0, "slow_calls": 0, "not_permitted": 0,
                        "ignored": 0}
        self._reset_counts()

    def _reset_counts(self) -> None:
        self._window = _Window(self.config.sliding_window_size)
        self._half_open = _Window(self.config.permitted_calls_half_open)
        self._half_open_permits = 0
        self._consecutive_failures = 0

    @property
    def state(self) -> str:
        """The state as of now (an elapsed OPEN wait already shows as HALF_OPEN)."""
        with self._lock:
            self._check_wait(self._clock())
            return self._state

    # --- calls --------------------------------------------------------------------------

    def allow(self) -> Decision:
        """May a call go through now? Refusals are counted as ``not_permitted``."""
        with self._lock:
            now = self._clock()
            self._check_wait(now)
            state = self._state
            if state in (CLOSED, FORCED_CLOSED):
                return Decision(True, state)
            permits_left = self.config.permitted_calls_half_open - self._half_open_permits
            if state == HALF_OPEN and permits_left > 0:
                self._half_open_permits += 1
                return Decision(True, state)
            self._totals["not_permitted"] += 1
            return Decision(False, state, self._retry_after(now))

    def record(self, success: bool, duration_s: float = 0.0) -> None:
        """Report a finished call. Calls that end while OPEN or forced change no window."""
        with self._lock:
            now = self._clock()
            self._check_wait(now)
            failed, slow = not success, duration_s > self.config.slow_call_duration_s
            self._totals["calls"] += 1
            self._totals["failures"] += failed
            self._totals["slow_calls"] += slow
            if self._state == CLOSED:
                self._record_closed(now, failed, slow)
            elif self._state == HALF_OPEN:
                self._record_half_open(now, failed, slow)
            else:
                self._totals["ignored"] += 1

    def _record_closed(self, now: float, failed: bool, slow: bool) -> None:
        self._window.add(failed, slow)
        self._consecutive_failures = self._consecutive_failures + 1 if failed else 0
        limit = self.config.consecutive_failures_threshold
        if limit is not None and self._consecutive_failures >= limit:
            self._transition(now, OPEN, f"consecutive_failures ({self._consecutive_failures})")
            return
        if len(self._window.calls) < self.config.effective_minimum_calls:
            return
        cause = self._rate_cause(self._window)
        if cause:
            self._transition(now, OPEN, cause)

    def _record_half_open(self, now: float, failed: bool, slow: bool) -> None:
        self._half_open.add(failed, slow)
        if len(self._half_open.calls) < self.config.permitted_calls_half_open:
            return
        cause = self._rate_cause(self._half_open)
        if cause:
            self._transition(now, OPEN, "half_open_" + cause)
        else:
            self._transition(now, CLOSED, "half_open_calls_succeeded")

    def _rate_cause(self, window: _Window) -> str | None:
        failure_rate, slow_rate = window.rates()
        if failure_rate >= self.config.failure_rate_threshold:
            return f"failure_rate ({failure_rate:g}% >= {self.config.failure_rate_threshold:g}%)"
        if slow_rate >= self.config.slow_call_rate_threshold:
            return f"slow_call_rate ({slow_rate:g}% >= {self.config.slow_call_rate_threshold:g}%)"
        return None

    # --- state changes ------------------------------------------------------------------

    def _check_wait(self, now: float) -> None:
        if self._state == OPEN and now >= self._opened_at + self.config.wait_duration_open_s:
            self._transition(now, HALF_OPEN, "wait_duration_elapsed")

    def _retry_after(self, now: float) -> float | None:
        if self._state != OPEN:
            return None
        return max(0.0, self._opened_at + self.config.wait_duration_open_s - now)

    def _transition(self, now: float, to: str, cause: str) -> None:
        if len(self._transitions) == self._transitions.maxlen:
            self._transitions_dropped += 1
        self._transitions.append({"at": now, "from": self._state, "to": to, "cause": cause})
        self._state = to
        self._opened_at = now if to in (OPEN, FORCED_OPEN) else None
        self._reset_counts()   # each state starts from fresh counts, as resilience4j does

    def _move(self, to: str, cause: str) -> None:
        with self._lock:
            if self._state != to:
                self._transition(self._clock(), to, cause)

    def force_open(self) -> None:
        """Refuse every call until ``release()`` (manual override)."""
        self._move(FORCED_OPEN, "forced_open")

    def force_closed(self) -> None:
        """Let every call through and ignore outcomes until ``release()``."""
        self._move(FORCED_CLOSED, "forced_closed")

    def release(self) -> None:
        """End a manual override: back to CLOSED with fresh counts."""
        self._move(CLOSED, "released")

    def reset(self) -> None:
        """Back to CLOSED with empty windows and totals; the transition history is kept."""
        with self._lock:
            if self._state != CLOSED:
                self._transition(self._clock(), CLOSED, "reset")
            self._reset_counts()
            self._totals = dict.fromkeys(self._totals, 0)

    # --- reporting ----------------------------------------------------------------------

    def snapshot(self) -> dict:
        """A JSON-ready copy of state, counts, rates, open time and transitions."""
        with self._lock:
            now = self._clock()
            self._check_wait(now)
            window = self._half_open if self._state == HALF_OPEN else self._window
            counts = window.as_dict()
            return {
                "name": self.name, "state": self._state,
                "failure_rate": counts["failure_rate"], "slow_call_rate": counts["slow_call_rate"],
                "window": self._window.as_dict(), "half_open": self._half_open_dict(),
                "consecutive_failures": self._consecutive_failures, "totals": dict(self._totals),
                "opened_at": self._opened_at, "retry_after_s": self._retry_after(now),
                "transitions": [dict(t) for t in self._transitions],
                "transitions_dropped": self._transitions_dropped,
                "config": self.config.as_dict(),
            }

    def _half_open_dict(self) -> dict:
        return {"permitted": self.config.permitted_calls_half_open,
                "in_flight": self._half_open_permits - len(self._half_open.calls),
                **self._half_open.as_dict()}


class BreakerRegistry:
    """Breakers by ``(service, endpoint)``, created on first use. Thread-safe."""

    def __init__(self, clock, default_config: BreakerConfig | None = None):
        self._clock = clock
        self.default_config = default_config or BreakerConfig()
        self._lock = threading.Lock()
        self._breakers: dict[tuple[str, str], CircuitBreaker] = {}

    def get_or_create(self, service: str, endpoint: str = "*",
                      config: BreakerConfig | None = None) -> CircuitBreaker:
        """The breaker for the key; ``config`` only applies when it is created here."""
        key = (service, endpoint)
        with self._lock:
            breaker = self._breakers.get(key)
            if breaker is None:
                breaker = CircuitBreaker(config or self.default_config, self._clock,
                                         name=f"{service} {endpoint}")
                self._breakers[key] = breaker
            return breaker

    def configure(self, service: str, endpoint: str, config: BreakerConfig) -> CircuitBreaker:
        """Replace the key's breaker with a fresh one using ``config``."""
        breaker = CircuitBreaker(config, self._clock, name=f"{service} {endpoint}")
        with self._lock:
            self._breakers[(service, endpoint)] = breaker
        return breaker

    def get(self, service: str, endpoint: str = "*") -> CircuitBreaker:
        with self._lock:
            try:
                return self._breakers[(service, endpoint)]
            except KeyError:
                raise NotFoundError("circuit breaker", f"{service} {endpoint}") from None

    def remove(self, service: str, endpoint: str = "*") -> None:
        with self._lock:
            if self._breakers.pop((service, endpoint), None) is None:
                raise NotFoundError("circuit breaker", f"{service} {endpoint}")

    def reset(self, service: str, endpoint: str = "*") -> None:
        self.get(service, endpoint).reset()

    def reset_all(self) -> None:
        for breaker in self._all():
            breaker.reset()

    def list(self, service: str | None = None) -> list[dict]:
        """Snapshots (with ``service`` and ``endpoint``) sorted by key; one service's if asked."""
        out = []
        for (svc, endpoint), breaker in sorted(self._items()):
            if service is None or svc == service:
                out.append({"service": svc, "endpoint": endpoint, **breaker.snapshot()})
        return out

    def __len__(self) -> int:
        with self._lock:
            return len(self._breakers)

    def _items(self) -> list:
        with self._lock:   # copy, then snapshot outside the registry lock
            return list(self._breakers.items())

    def _all(self) -> list[CircuitBreaker]:
        return [breaker for _, breaker in self._items()]


# --- validation ---------------------------------------------------------------------------

_PERCENTS = ("failure_rate_threshold", "slow_call_rate_threshold")
_DURATIONS = ("slow_call_duration_s", "wait_duration_open_s")
_COUNTS = ("permitted_calls_half_open", "sliding_window_size", "minimum_number_of_calls")
_KEYS = tuple(f.name for f in fields(BreakerConfig))


def _unknown_key(key, path: str) -> Problem:
    close = difflib.get_close_matches(str(key), _KEYS, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(_KEYS)}"
    return Problem(f"{path}.{key}" if path else str(key), "unknown key", hint)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _value_problems(values: dict, path: str) -> list[Problem]:
    prefix = f"{path}." if path else ""
    problems = []
    for key in _PERCENTS:
        if not (_is_number(values[key]) and 0 < values[key] <= 100):
            problems.append(Problem(prefix + key, f"must be a percentage in (0, 100], "
                                    f"got {values[key]!r}", "e.g. 50 for half the calls"))
    for key in _DURATIONS:
        if not (_is_number(values[key]) and values[key] >= 0):
            problems.append(Problem(prefix + key, f"must be a number of seconds >= 0, "
                                    f"got {values[key]!r}"))
    for key in _COUNTS:
        if not _is_count(values[key]):
            problems.append(Problem(prefix + key, f"must be a whole number >= 1, "
                                    f"got {values[key]!r}"))
    limit = values["consecutive_failures_threshold"]
    if limit is not None and not _is_count(limit):
        problems.append(Problem(prefix + "consecutive_failures_threshold",
                                f"must be a whole number >= 1 or null, got {limit!r}",
                                "null turns the consecutive-failure rule off"))
    return problems
