"""Span collection: a bounded span store, span trees, the call graph traces imply, statistics.

Layer 1: no sockets, no threads (one ``Lock``), no clock of its own: every ``Span`` arrives
with its start and duration already worked out by the caller. The store is a ring buffer:
when it is full the oldest span goes and ``evicted`` counts it. Statistics are computed over
the stored spans when asked; the set of observed call edges is kept for the whole run
(it survives eviction), so "declared edges never seen" does not flip back just because old
spans were dropped.

>>> store = SpanStore(max_spans=2)
>>> for n, (service, parent, caller) in enumerate([("db", "a1", "api"), ("api", None, None),
...                                                 ("db", "a1", "api")]):
...     store.record(Span("t1", f"s{n}" if parent else "a1", parent, service, "*", caller=caller))
>>> store.stats()["evicted"], [s.service for s in store.trace("t1")]
(1, ['api', 'db'])
>>> compared = compare_graphs([("api", "db"), ("api", "cache")], [("api", "db"), ("web", "api")])
>>> compared["undeclared_calls"], compared["never_seen"]
([{'from': 'api', 'to': 'cache'}], [{'from': 'web', 'to': 'api'}])

Must not import sockets, threads (beyond a ``Lock``), ``mesh`` or anything in layer 2.
"""

from __future__ import annotations

import threading
from collections import deque, namedtuple

from .errors import NotFoundError

__all__ = ["Span", "SpanStore", "span_tree", "trace_graph", "failure_path", "compare_graphs",
           "percentile"]


_SPAN_FIELDS = ("trace_id", "span_id", "parent_span_id", "service", "endpoint", "method",
                "path", "caller", "start", "duration_ms", "status", "error", "kind",
                "attributes")


class Span(namedtuple("_SpanFields", _SPAN_FIELDS,
                      defaults=("GET", "/", None, 0.0, 0.0, 200, None, "server", None))):
    """One hop of a trace: ``service`` answering ``endpoint`` for ``caller`` (None: outside).

    ``start`` is seconds since the epoch; ``duration_ms`` includes simulated latency;
    ``error`` is None on success, else why the hop failed. ``kind`` is ``server`` for a hop
    simulated here and ``client`` for a call that went to a real address. A named tuple:
    immutable, and cheap to build, since every hop makes one.
    """

    __slots__ = ()

    def as_dict(self) -> dict:
        out = self._asdict()
        out["duration_ms"] = round(self.duration_ms, 3)
        out["attributes"] = dict(self.attributes or {})
        return out

    def __repr__(self) -> str:
        return f"Span({self.service} {self.endpoint} {self.status} {self.span_id})"


class SpanStore:
    """The last ``max_spans`` spans. Thread-safe; readers get copies.

    Recording is the hot path (one span per hop), so it only appends: the ring buffer drops
    the oldest span by itself. Counts and latency are worked out from the stored spans when
    someone asks; only the set of (caller, service) edges ever seen is kept for the whole
    run, so an edge does not turn "never seen" again once its spans were evicted. Lookups by
    trace scan the buffer, which is fine for an API call over at most ``max_spans`` spans.
    """

    def __init__(self, max_spans: int = 10000):
        if max_spans < 1:
            raise ValueError(f"max_spans must be at least 1, got {max_spans}")
        self._lock = threading.Lock()
        self._spans: deque = deque(maxlen=max_spans)
        self._recorded = 0
        self._seen: set = set()                  # every (caller, service) pair observed

    @property
    def max_spans(self) -> int:
        return self._spans.maxlen

    @property
    def recorded(self) -> int:
        """Spans recorded since start or ``clear``."""
        return self._recorded

    @property
    def evicted(self) -> int:
        """Spans the ring buffer dropped to stay within ``max_spans``."""
        with self._lock:
            return self._recorded - len(self._spans)

    def __len__(self) -> int:
        return len(self._spans)

    def record(self, span: Span) -> None:
        with self._lock:
            self._spans.append(span)
            self._recorded += 1
            if span.caller is not None:
                self._seen.add((span.caller, span.service))

    def resize(self, max_spans: int) -> None:
        """Change the capacity, keeping the newest spans (the rest count as evicted)."""
        if max_spans < 1:
            raise ValueError(f"max_spans must be at least 1, got {max_spans}")
        with self._lock:
            self._spans = deque(self._spans, maxlen=max_spans)

    def clear(self) -> int:
        """Forget every span and every observed edge; returns how many spans were dropped."""
        with self._lock:
            count = len(self._spans)
            self._spans.clear()
            self._recorded = 0
            self._seen.clear()
            return count

    def trace(self, trace_id: str) -> list[Span]:
        """The stored spans of one trace in the order they were recorded."""
        with self._lock:
            spans = list(self._spans)
        found = [s for s in spans if s.trace_id == trace_id]
        if not found:
            raise NotFoundError("trace", trace_id)
        return found

    def observed_edges(self) -> set:
        """Every (caller, service) pair seen since start or ``clear`` (survives eviction)."""
        with self._lock:
            return set(self._seen)

    def stats(self, recent: int = 20) -> dict:
        """Counts, per-service latency and errors, call edges and the newest traces: all over
        the stored spans, except ``observed_edges``, which covers the whole run."""
        with self._lock:
            spans = list(self._spans)
            recorded = self._recorded
            seen = sorted(self._seen)
        by_trace: dict[str, list] = {}
        by_service: dict[str, list] = {}
        edges: dict[tuple, list] = {}
        for span in spans:
            by_trace.setdefault(span.trace_id, []).append(span)
            by_service.setdefault(span.service, []).append(span)
            if span.caller is not None:
                counts = edges.setdefault((span.caller, span.service), [0, 0])
                counts[0] += 1
                counts[1] += span.error is not None
        newest = list(by_trace.items())[-recent:] if recent > 0 else []
        return {
            "spans": len(spans), "max_spans": self.max_spans, "recorded": recorded,
            "evicted": recorded - len(spans), "traces": len(by_trace),
            "errors": sum(s.error is not None for s in spans),
            "services": {name: _service_stats(group) for name, group in sorted(by_service.items())},
            "edges": [{"from": a, "to": b, "calls": c[0], "errors": c[1]}
                      for (a, b), c in sorted(edges.items())],
            "observed_edges": [{"from": a, "to": b} for a, b in seen],
            "recent": [_trace_summary(t, v) for t, v in reversed(newest)]}


def _service_stats(spans: list) -> dict:
    durations = sorted(s.duration_ms for s in spans)
    errors = sum(s.error is not None for s in spans)
    return {"spans": len(spans), "errors": errors, "error_rate": round(errors / len(spans), 4),
            "avg_ms": round(sum(durations) / len(spans), 3), "max_ms": round(durations[-1], 3),
            "p50_ms": percentile(durations, 50), "p95_ms": percentile(durations, 95),
            "p99_ms": percentile(durations, 99)}


def _trace_summary(trace_id: str, spans: list) -> dict:
    roots = _roots(spans)
    root = min(roots, key=lambda s: s.start) if roots else spans[0]
    return {"trace_id": trace_id, "root_service": root.service, "spans": len(spans),
            "error": any(s.error is not None for s in spans), "status": root.status,
            "start": root.start, "duration_ms": round(root.duration_ms, 3)}


def percentile(sorted_values: list, q: float):
    """Nearest-rank percentile of an already sorted list (None when it is empty)."""
    if not sorted_values:
        return None
    rank = max(1, -(-len(sorted_values) * q // 100))   # ceil without floats drifting
    return round(sorted_values[int(rank) - 1], 3)


def _roots(spans: list) -> list:
    ids = {s.span_id for s in spans}
    return [s for s in spans if s.parent_span_id not in ids]


def span_tree(spans: list) -> list[dict]:
    """Spans nested under their parents (roots: spans whose parent is not stored), each
    level ordered by start time, then by the order they were given."""
    nodes = {s.span_id: {**s.as_dict(), "children": []} for s in spans}
    roots = []
    for span in spans:
        parent = nodes.get(span.parent_span_id)
        (parent["children"] if parent is not None else roots).append(nodes[span.span_id])
    for node in nodes.values():   # stable: equal starts keep the order spans were recorded
        node["children"].sort(key=lambda n: n["start"])
    roots.sort(key=lambda n: n["start"])
    return roots


def trace_graph(spans: list) -> dict:
    """The service call graph one trace implies: parent span's service -> child's service
    (plus the recorded caller of spans whose parent is not stored)."""
    by_id = {s.span_id: s for s in spans}
    edges: dict[tuple, list] = {}
    for span in spans:
        parent = by_id.get(span.parent_span_id)
        source = parent.service if parent is not None else span.caller
        if source is None:
            continue
        counts = edges.setdefault((source, span.service), [0, 0])
        counts[0] += 1
        counts[1] += span.error is not None
    services = sorted({s.service for s in spans} | {a for a, _ in edges})
    return {"services": services,
            "edges": [{"from": a, "to": b, "calls": c[0], "errors": c[1]}
                      for (a, b), c in sorted(edges.items())]}


def failure_path(spans: list) -> list[dict]:
    """The longest chain of failed spans from a failed root downwards: where it broke."""
    children: dict = {}
    for span in spans:
        children.setdefault(span.parent_span_id, []).append(span)

    def chain(span) -> list:
        failed = [c for c in children.get(span.span_id, ()) if c.error is not None]
        below = max((chain(c) for c in sorted(failed, key=lambda c: c.start)), key=len,
                    default=[])
        return [span] + below

    starts = [s for s in _roots(spans) if s.error is not None]
    best = max((chain(s) for s in starts), key=len, default=[])
    return [{"service": s.service, "endpoint": s.endpoint, "status": s.status,
             "error": s.error, "span_id": s.span_id} for s in best]


def compare_graphs(observed, declared) -> dict:
    """Observed call edges against declared dependencies, as ``{from, to}`` lists:
    calls nobody declared, declared edges no trace has shown, and edges seen and declared."""
    seen, wanted = set(observed), set(declared)

    def listed(edges) -> list:
        return [{"from": a, "to": b} for a, b in sorted(edges)]
    return {"undeclared_calls": listed(seen - wanted), "never_seen": listed(wanted - seen),
            "confirmed": listed(seen & wanted)}
