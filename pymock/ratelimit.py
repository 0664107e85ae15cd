"""Rate limits for mocks: a token bucket per endpoint, per client or per header value.

Layer 1: no sockets, no threads, no files; the clock is injected (``clock=``, seconds, e.g.
``time.monotonic``). A bucket holds ``burst`` tokens (default: ``limit``) and refills at
``limit / window_s`` tokens a second; each request takes one. A request that finds the bucket
empty gets 429 with ``Retry-After``; every answer of a limited endpoint carries
``RateLimit-Limit``, ``RateLimit-Remaining``, ``RateLimit-Reset`` and ``RateLimit-Policy``
(the IETF httpapi rate-limit header fields).

>>> now = [0.0]
>>> limiter = RateLimiter(clock=lambda: now[0])
>>> rule = parse_rate_limit("2/s", "rate_limit", [])
>>> [limiter.take("ep", rule).allowed for _ in range(3)]
[True, True, False]
>>> now[0] = 0.5
>>> limiter.take("ep", rule).allowed
True

Must not import the engine, the app or the config.
"""

from __future__ import annotations

import difflib
import math
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from .errors import Problem
from .model import Request, Response, problem_response

__all__ = ["RateLimit", "RateLimiter", "Decision", "parse_rate_limit", "bucket_key",
           "limit_headers", "too_many_requests"]

_UNITS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600,
          "hour": 3600, "d": 86400, "day": 86400}
_SHORT = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([a-z]+)\s*$")
_KEYS = ("limit", "window_s", "burst", "key", "bucket")


@dataclass(frozen=True)
class RateLimit:
    """``limit`` requests per ``window_s`` seconds, bursts of up to ``burst``; ``key`` says whose
    bucket: ``endpoint`` (one for everyone), ``client`` (per address) or ``header:<name>``."""

    limit: int
    window_s: float
    burst: int
    key: str = "endpoint"
    bucket: str | None = None     # a name shared by several endpoints, else the endpoint's id

    @property
    def rate(self) -> float:
        return self.limit / self.window_s


@dataclass(frozen=True)
class Decision:
    allowed: bool
    remaining: int
    reset_s: int          # seconds until the bucket is full again
    retry_after_s: int    # seconds until one token is back (0 when allowed)


class RateLimiter:
    """Token buckets by key, thread-safe; at most ``max_buckets`` (the least recently used go)."""

    def __init__(self, clock=time.monotonic, max_buckets: int = 10_000):
        self.clock = clock
        self.max_buckets = max_buckets
        self._lock = threading.Lock()
        self._buckets: OrderedDict = OrderedDict()   # key -> [tokens, last refill time]

    def take(self, key: str, rule: RateLimit) -> Decision:
        now = self.clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = [float(rule.burst), now]
                if len(self._buckets) > self.max_buckets:
                    self._buckets.popitem(last=False)
            else:
                self._buckets.move_to_end(key)
            tokens = min(float(rule.burst), bucket[0] + max(0.0, now - bucket[1]) * rule.rate)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            bucket[0], bucket[1] = tokens, now
        reset = math.ceil((rule.burst - tokens) / rule.rate - 1e-9)
        retry = 0 if allowed else math.ceil((1.0 - tokens) / rule.rate - 1e-9)
        return Decision(allowed, int(tokens), max(0, reset), max(1, retry) if not allowed else 0)

    def reset(self) -> None:
        with self._lock:
            self._buckets.clear()


def bucket_key(rule: RateLimit, endpoint_id: str, request: Request) -> str:
    """Whose bucket this request draws from."""
    base = rule.bucket or endpoint_id
    if rule.key == "client":
        return f"{base}|client:{request.client[0] if request.client else '-'}"
    if rule.key.startswith("header:"):
        return f"{base}|{rule.key}:{request.headers.get(rule.key[7:]) or '-'}"
    return base


def limit_headers(rule: RateLimit, decision: Decision) -> list:
    headers = [("RateLimit-Limit", str(rule.limit)), ("RateLimit-Remaining", str(decision.remaining)),
               ("RateLimit-Reset", str(decision.reset_s)),
               ("RateLimit-Policy", f"{rule.limit};w={_number(rule.window_s)};burst={rule.burst}")]
    if not decision.allowed:
        headers.append(("Retry-After", str(decision.retry_after_s)))
    return headers


def too_many_requests(rule: RateLimit, decision: Decision) -> Response:
    return problem_response(429, "Too many requests",
                            f"this mock allows {rule.limit} requests per {_number(rule.window_s)}s "
                            f"(per {rule.key}); retry in {decision.retry_after_s}s",
                            headers=limit_headers(rule, decision))


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


# ---------------------------------------------------------------- config

def parse_rate_limit(value, where: str, problems: list) -> RateLimit | None:
    """``"10/s"``, ``"100/min"``, ``"5/10s"`` or ``{"limit", "window_s", "burst", "key", "bucket"}``."""
    if isinstance(value, str):
        return _shorthand(value, where, problems)
    if not isinstance(value, dict):
        problems.append(Problem(where, f"expected \"N/s\", \"N/min\" or an object, got {value!r}",
                                'e.g. "10/s" or {"limit": 100, "window_s": 60, "key": "client"}'))
        return None
    before = len(problems)
    for key in value:
        if key not in _KEYS:
            close = difflib.get_close_matches(str(key), _KEYS, 1, 0.6)
            problems.append(Problem(f"{where}.{key}", "unknown key", f"did you mean '{close[0]}'?"
                                    if close else "allowed here: " + ", ".join(_KEYS)))
    limit = _positive(value.get("limit"), f"{where}.limit", problems, whole=True)
    window = _positive(value.get("window_s", 1), f"{where}.window_s", problems)
    burst = _positive(value.get("burst", limit or 1), f"{where}.burst", problems, whole=True)
    key = value.get("key", "endpoint")
    if not isinstance(key, str) or not (key in ("endpoint", "client") or
                                        (key.startswith("header:") and len(key) > 7)):
        problems.append(Problem(f"{where}.key", f"expected endpoint, client or header:<name>, got {key!r}"))
    bucket = value.get("bucket")
    if bucket is not None and (not isinstance(bucket, str) or not bucket):
        problems.append(Problem(f"{where}.bucket", f"expected a non-empty name, got {bucket!r}"))
    if len(problems) > before:
        return None
    return RateLimit(limit, float(window), burst, key, bucket)


def _shorthand(text: str, where: str, problems: list) -> RateLimit | None:
    found = _SHORT.match(text.lower())
    if not found or found.group(3) not in _UNITS or int(found.group(1)) < 1 or found.group(2) == "0":
        problems.append(Problem(where, f"cannot read rate {text!r}",
                                'write requests/period: "10/s", "100/min", "5/10s", "1000/h"'))
        return None
    limit = int(found.group(1))
    window = int(found.group(2) or 1) * _UNITS[found.group(3)]
    return RateLimit(limit, float(window), limit)


def _positive(value, where: str, problems: list, whole: bool = False):
    kinds = int if whole else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or value <= 0:
        need = "a whole number" if whole else "a number"
        problems.append(Problem(where, "required" if value is None else f"expected {need} above 0, got {value!r}"))
        return None
    return value
