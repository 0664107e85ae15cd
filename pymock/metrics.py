"""Prometheus metrics: request counters and a latency histogram, in the text exposition format.

Layer 1: no sockets, no threads. One lock; each observation is a few dict updates, so the hot
path stays cheap. Series exist only for endpoints that were hit, so 10,000 configured
endpoints do not mean 10,000 idle series.

>>> metrics = Metrics()
>>> metrics.observe("get-users", 200, 0.004)
>>> metrics.observe(None, 404, 0.001)
>>> text = metrics.render({"pymock_journal_entries": 2})
>>> 'pymock_requests_total{endpoint="get-users",status="200"} 1' in text
True
>>> "pymock_unmatched_requests_total 1" in text
True
"""

from __future__ import annotations

import bisect
import threading

__all__ = ["Metrics", "BUCKETS"]

# Seconds; mock answers are fast unless latency is injected, so the low end is fine-grained.
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

_HELP = {
    "pymock_requests_total": ("counter", "Requests answered by the mock engine, by endpoint and status."),
    "pymock_unmatched_requests_total": ("counter", "Requests no endpoint matched (404 or 405)."),
    "pymock_request_duration_seconds": ("histogram", "Time to build the response, excluding injected latency."),
    "pymock_injected_latency_seconds_total": ("counter", "Latency injected on purpose, summed."),
    "pymock_faults_total": ("counter", "Connection faults injected, by kind."),
}


class Metrics:
    """Counters and a histogram guarded by one lock. ``render`` adds caller-supplied gauges."""

    def __init__(self):
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, int], int] = {}
        self._unmatched = 0
        self._bucket_counts = [0] * (len(BUCKETS) + 1)
        self._duration_sum = 0.0
        self._duration_count = 0
        self._injected = 0.0
        self._faults: dict[str, int] = {}
        self._counters: dict[str, float] = {}  # other modules' counters (proxy errors, reloads...)

    def observe(self, endpoint: str | None, status: int, duration_s: float,
                delay_s: float = 0.0, fault: str | None = None) -> None:
        slot = bisect.bisect_left(BUCKETS, duration_s)
        with self._lock:
            if endpoint is None:
                self._unmatched += 1
            key = (endpoint or "", status)
            self._requests[key] = self._requests.get(key, 0) + 1
            self._bucket_counts[slot] += 1
            self._duration_sum += duration_s
            self._duration_count += 1
            if delay_s:
                self._injected += delay_s
            if fault:
                self._faults[fault] = self._faults.get(fault, 0) + 1

    def increment(self, name: str, amount: float = 1.0) -> None:
        """Count something by name (e.g. ``pymock_config_reloads_total``)."""
        with self._lock:
            self._counters[name] = self._counters.get(name, 0.0) + amount

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._unmatched = 0
            self._bucket_counts = [0] * (len(BUCKETS) + 1)
            self._duration_sum, self._duration_count, self._injected = 0.0, 0, 0.0
            self._faults.clear()

    def render(self, gauges: dict | None = None) -> str:
        """The Prometheus text format (version 0.0.4)."""
        with self._lock:
            requests = sorted(self._requests.items())
            buckets = list(self._bucket_counts)
            total, count = self._duration_sum, self._duration_count
            unmatched, injected = self._unmatched, self._injected
            faults, counters = sorted(self._faults.items()), sorted(self._counters.items())
        lines = _header("pymock_requests_total")
        lines += [f'pymock_requests_total{{endpoint="{_escape(e)}",status="{s}"}} {n}' for (e, s), n in requests]
        lines += _header("pymock_unmatched_requests_total") + [f"pymock_unmatched_requests_total {unmatched}"]
        lines += _header("pymock_request_duration_seconds")
        running = 0
        for bound, n in zip(BUCKETS, buckets):
            running += n
            lines.append(f'pymock_request_duration_seconds_bucket{{le="{bound}"}} {running}')
        lines.append(f'pymock_request_duration_seconds_bucket{{le="+Inf"}} {count}')
        lines += [f"pymock_request_duration_seconds_sum {total:.6f}", f"pymock_request_duration_seconds_count {count}"]
        lines += _header("pymock_injected_latency_seconds_total") + [f"pymock_injected_latency_seconds_total {injected:.6f}"]
        lines += _header("pymock_faults_total") + [f'pymock_faults_total{{fault="{k}"}} {n}' for k, n in faults]
        for name, value in counters:
            lines += [f"# TYPE {name} counter", f"{name} {_number(value)}"]
        for name, value in sorted((gauges or {}).items()):
            lines += [f"# TYPE {name} gauge", f"{name} {_number(value)}"]
        return "\n".join(lines) + "\n"


def _header(name: str) -> list[str]:
    kind, text = _HELP[name]
    return [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
