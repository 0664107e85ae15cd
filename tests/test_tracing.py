"""Tests for pymock.tracing: the bounded span store, span trees, implied call graphs, the
comparison with a declared graph, and statistics."""

import threading

import pytest

from pymock.errors import NotFoundError
from pymock.tracing import (Span, SpanStore, compare_graphs, failure_path, percentile, span_tree,
                            trace_graph)


def span(trace, ident, parent, service, *, caller=None, start=0.0, ms=1.0, status=200,
         error=None, endpoint="*"):
    return Span(trace, ident, parent, service, endpoint, caller=caller, start=start,
                duration_ms=ms, status=status, error=error)


def chain(trace="t1", failing=False):
    """web -> api -> (users, orders -> db): the seed topology's shape."""
    bad = "answered 503" if failing else None
    return [
        span(trace, "db", "orders", "db", caller="orders", start=4, ms=5,
             status=503 if failing else 200, error=bad),
        span(trace, "orders", "api", "orders", caller="api", start=3, ms=7,
             status=503 if failing else 200,
             error="required dependency db failed" if failing else None),
        span(trace, "users", "api", "users", caller="api", start=2, ms=1),
        span(trace, "api", "web", "api", caller="web", start=1, ms=10,
             status=503 if failing else 200, error="x" if failing else None),
        span(trace, "web", "outside", "web", start=0, ms=12,
             status=503 if failing else 200, error="y" if failing else None),
    ]


def test_span_as_dict_rounds_and_copies_attributes():
    s = Span("t", "s", None, "api", "get-x", duration_ms=1.23456, attributes={"depth": 0})
    d = s.as_dict()
    assert d["duration_ms"] == 1.235 and d["attributes"] == {"depth": 0}
    d["attributes"]["depth"] = 9
    assert s.attributes == {"depth": 0}
    assert "api" in repr(s) and set(d) >= {"trace_id", "span_id", "parent_span_id", "service",
                                          "endpoint", "start", "duration_ms", "status", "error"}


def test_store_keeps_spans_by_trace_in_record_order():
    store = SpanStore()
    for s in chain("t1") + chain("t2"):
        store.record(s)
    assert [s.span_id for s in store.trace("t1")] == ["db", "orders", "users", "api", "web"]
    assert store.stats()["traces"] == 2
    with pytest.raises(NotFoundError, match="no trace with id 'nope'"):
        store.trace("nope")


def test_store_is_a_ring_buffer_that_counts_evictions():
    store = SpanStore(max_spans=3)
    for n in range(5):
        store.record(span(f"t{n}", f"s{n}", None, "api"))
    stats = store.stats()
    assert (stats["spans"], stats["recorded"], stats["evicted"], stats["traces"]) == (3, 5, 2, 3)
    with pytest.raises(NotFoundError):
        store.trace("t0")
    assert [s.span_id for s in store.trace("t4")] == ["s4"]


def test_eviction_removes_only_the_oldest_span_of_a_trace():
    store = SpanStore(max_spans=4)
    for s in chain("t1"):
        store.record(s)
    assert [s.span_id for s in store.trace("t1")] == ["orders", "users", "api", "web"]


def test_resize_keeps_newest_and_validates():
    store = SpanStore(max_spans=10)
    for n in range(6):
        store.record(span("t", f"s{n}", None, "api"))
    store.resize(2)
    assert store.max_spans == 2 and [s.span_id for s in store.trace("t")] == ["s4", "s5"]
    assert store.evicted == 4
    with pytest.raises(ValueError, match="at least 1"):
        store.resize(0)
    with pytest.raises(ValueError):
        SpanStore(0)


def test_observed_edges_survive_eviction_but_not_clear():
    store = SpanStore(max_spans=1)
    for s in chain("t1", failing=True):
        store.record(s)
    assert store.observed_edges() == {("orders", "db"), ("api", "orders"), ("api", "users"),
                                      ("web", "api")}   # an entry span has no caller
    stats = store.stats()
    assert stats["spans"] == 1 and stats["errors"] == 1 and list(stats["services"]) == ["web"]
    assert stats["edges"] == [] and len(stats["observed_edges"]) == 4
    assert (store.recorded, store.evicted) == (5, 4)
    assert store.clear() == 1
    assert store.observed_edges() == set() and store.stats()["recorded"] == 0


def test_stats_edges_count_calls_and_errors_of_stored_spans():
    store = SpanStore()
    for s in chain("t1", failing=True) + chain("t2"):
        store.record(s)
    edges = {(e["from"], e["to"]): (e["calls"], e["errors"]) for e in store.stats()["edges"]}
    assert edges == {("orders", "db"): (2, 1), ("api", "orders"): (2, 1),
                     ("api", "users"): (2, 0), ("web", "api"): (2, 1)}
    assert store.stats(recent=0)["recent"] == []


def test_stats_per_service_latency_and_recent_traces():
    store = SpanStore()
    for n, ms in enumerate([10, 20, 30, 40]):
        store.record(span(f"t{n}", f"s{n}", None, "api", ms=ms, start=n,
                          error="boom" if n == 3 else None, status=500 if n == 3 else 200))
    stats = store.stats(recent=2)
    api = stats["services"]["api"]
    assert api == {"spans": 4, "errors": 1, "error_rate": 0.25, "avg_ms": 25.0, "max_ms": 40.0,
                   "p50_ms": 20, "p95_ms": 40, "p99_ms": 40}
    assert [(r["trace_id"], r["error"], r["status"]) for r in stats["recent"]] == [
        ("t3", True, 500), ("t2", False, 200)]
    assert stats["recent"][0]["root_service"] == "api"


def test_percentile_nearest_rank():
    assert percentile([], 50) is None
    assert percentile([1.0], 99) == 1.0
    values = list(range(1, 101))
    assert [percentile(values, q) for q in (50, 95, 100)] == [50, 95, 100]


def test_span_tree_nests_children_by_start():
    tree = span_tree(chain())
    assert len(tree) == 1 and tree[0]["service"] == "web"
    api = tree[0]["children"][0]
    assert api["service"] == "api"
    assert [c["service"] for c in api["children"]] == ["users", "orders"]
    assert api["children"][1]["children"][0]["service"] == "db"


def test_span_tree_with_missing_parent_gives_several_roots():
    spans = chain()[:3]   # api and web evicted
    assert sorted(r["service"] for r in span_tree(spans)) == ["orders", "users"]


def test_trace_graph_from_parents_and_callers():
    graph = trace_graph(chain(failing=True))
    assert graph["services"] == ["api", "db", "orders", "users", "web"]
    assert {(e["from"], e["to"]): (e["calls"], e["errors"]) for e in graph["edges"]} == {
        ("web", "api"): (1, 1), ("api", "users"): (1, 0), ("api", "orders"): (1, 1),
        ("orders", "db"): (1, 1)}
    # Without the parent span the recorded caller still names the edge.
    assert trace_graph(chain()[:1])["edges"] == [{"from": "orders", "to": "db", "calls": 1,
                                                   "errors": 0}]


def test_failure_path_follows_the_deepest_failed_chain():
    path = failure_path(chain(failing=True))
    assert [p["service"] for p in path] == ["web", "api", "orders", "db"]
    assert path[-1]["error"] == "answered 503" and path[-1]["status"] == 503
    assert failure_path(chain()) == []


def test_compare_graphs():
    result = compare_graphs([("a", "b"), ("a", "c")], [("a", "b"), ("b", "d")])
    assert result == {"undeclared_calls": [{"from": "a", "to": "c"}],
                      "never_seen": [{"from": "b", "to": "d"}],
                      "confirmed": [{"from": "a", "to": "b"}]}


def test_concurrent_recording_is_consistent():
    store = SpanStore(max_spans=500)

    def worker(n):
        for i in range(300):
            store.record(span(f"t{n}-{i % 7}", f"{n}-{i}", None, "svc", caller="gw"))
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stats = store.stats()
    assert stats["recorded"] == 1800 and stats["spans"] == 500 and stats["evicted"] == 1300
    assert store.observed_edges() == {("gw", "svc")}
    traces = store.stats(recent=10 ** 6)["recent"]
    assert sum(len(store.trace(t["trace_id"])) for t in traces) == 500
