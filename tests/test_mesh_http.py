"""The mesh over real HTTP: servers on port 0, ``mesh_edge`` for calls to registered
addresses and active health checks, and the seed topology end to end. Time for breakers,
chaos and TTLs comes from a fake clock; the only waiting is ``wait_until`` on a thread."""

import http.client
import json
import socket
import threading

import pytest

from pymock import mesh_edge
from pymock.app import MockApp
from pymock.mesh_edge import HealthChecker, attach, http_call, probe
from pymock.testing import MockServer, wait_until
from pymock.traceparent import parse_traceparent

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


class FakeClock:
    def __init__(self, now: float = 2_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Reply:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None


def send(server, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        data = json.dumps(body).encode() if body is not None else None
        all_headers = {"Content-Type": "application/json"} if data else {}
        all_headers.update(headers or {})
        conn.request(method, path, body=data, headers=all_headers)
        response = conn.getresponse()
        return Reply(response.status, response.headers, response.read())
    finally:
        conn.close()


def ok(reply, status=(200, 201)):
    assert reply.status in ((status,) if isinstance(status, int) else status), reply.body[:500]
    return reply.json


def free_port() -> int:
    """A port nothing listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def servers(clock):
    """A: the mesh with the edge attached (no checker thread); B: a second pymock hosting
    the database mock at a real address."""
    with MockServer(MockApp({"endpoints": []}, clock=clock, seed=1)) as host_b, \
            MockServer(MockApp({"endpoints": []}, clock=clock, seed=2)) as mesh_a:
        edge = attach(mesh_a.app, start_checks=False)
        try:
            yield mesh_a, host_b, edge
        finally:
            edge.close()


def build_seed_topology(a, b):
    ok(send(b, "POST", "/mock/database/configure", {"response": {"rows": 3},
                                                    "endpoints": [{"path": "health",
                                                                   "response": "up"}]}))
    for name in ("frontend", "api-gateway", "user-service", "order-service"):
        ok(send(a, "POST", "/registry/register", {"service_id": name, "tags": ["seed"]}))
    ok(send(a, "POST", "/registry/register", {"service_id": "database", "tags": ["data"],
                                              "endpoint": b.url("/mock/database")}))
    for source, target in [("frontend", "api-gateway"), ("api-gateway", "user-service"),
                           ("api-gateway", "order-service"), ("user-service", "database"),
                           ("order-service", "database")]:
        ok(send(a, "POST", "/dependencies", {"from_service": source, "to_service": target,
                                             "timeout_ms": 5000}))
    calls = {"frontend": [("api-gateway", "api")],
             "api-gateway": [("user-service", "users"), ("order-service", "orders")],
             "user-service": [("database", "users")], "order-service": [("database", "orders")]}
    for name, targets in calls.items():
        ok(send(a, "POST", f"/mock/{name}/configure", {
            "response": {"service": name},
            "calls": [{"service": t, "path": p} for t, p in targets]}))
    ok(send(a, "POST", "/circuit-breakers", {
        "service_id": "database", "sliding_window_size": 4, "minimum_number_of_calls": 4,
        "failure_rate_threshold": 50, "wait_duration_open_s": 30,
        "permitted_calls_half_open": 1}), 201)


def breaker_states(a):
    listed = ok(send(a, "GET", "/circuit-breakers"))["breakers"]
    return {(b["service_id"], b["endpoint"]): b["state"] for b in listed}


def test_seed_topology_end_to_end(servers, clock):
    a, b, edge = servers
    build_seed_topology(a, b)

    # Active health check through the real address: B answers /mock/database/health.
    assert edge.checker.check_now() == 1
    assert ok(send(a, "GET", "/registry/database"))["checks"][1]["status"] == "passing"

    # A traced request walks every dependency, the database hop over real HTTP.
    parent = f"00-{TRACE}-00f067aa0ba902b7-01"
    reply = send(a, "GET", "/mock/frontend/home", headers={"traceparent": parent,
                                                          "tracestate": "rojo=1"})
    assert reply.status == 200 and reply.json == {"service": "frontend"}
    assert parse_traceparent(reply.headers["traceparent"]).trace_id == TRACE
    assert reply.headers["tracestate"] == "rojo=1"
    trace = ok(send(a, "GET", f"/traces/{TRACE}"))
    assert trace["span_count"] == 6 and not trace["error"]
    db_spans = [s for s in trace["spans"] if s["service"] == "database"]
    assert {s["kind"] for s in db_spans} == {"client"}
    # B saw the same trace, each database span parented by A's client span.
    remote = ok(send(b, "GET", f"/traces/{TRACE}"))
    assert {s["parent_span_id"] for s in remote["spans"]} == {s["span_id"] for s in db_spans}
    assert {s["service"] for s in remote["spans"]} == {"database"}

    # Cascade from the database: the failure propagates up every required edge.
    event = ok(send(a, "POST", "/chaos/cascade-failure", {
        "initial_service": "database", "failure_probability": 1.0, "max_depth": 0,
        "seed": 42, "duration_s": 600}), 201)
    failures = []
    for n in range(4):
        reply = send(a, "GET", "/mock/frontend/home",
                     headers={"traceparent": f"00-{n + 1:032x}-00f067aa0ba902b7-01"})
        failures.append(reply)
    assert {r.status for r in failures} == {503}
    path = failures[0].json["failure_path"]
    assert [p["service"] for p in path] == ["frontend", "api-gateway", "user-service", "database"]
    assert path[-1]["cause"] == f"answered 503 (chaos {event['id']})"
    failed_trace = ok(send(a, "GET", f"/traces/{1:032x}"))
    assert [p["service"] for p in failed_trace["failure_path"]] == [
        "frontend", "api-gateway", "user-service", "database"]

    # Breakers opened along the failure path, visible on the very next request.
    states = breaker_states(a)
    assert states[("database", "*")] == "open"
    assert states[("frontend", "*")] == "open" and states[("order-service", "*")] == "closed"
    fast = send(a, "GET", "/mock/frontend/home")
    assert fast.status == 503 and fast.headers["Retry-After"] == "30"
    # The database breaker (2 earlier successes + 2 failures = 50%) opened after the second
    # failure, so the last two requests were refused by it before reaching the chaos event.
    assert [r.json["failure_path"][-1]["cause"] for r in failures[2:]] == [
        "circuit breaker database * is open"] * 2
    metrics = ok(send(a, "GET", "/chaos/events"))["metrics"]
    assert metrics["by_event"][event["id"]] == 2 and metrics["by_service"] == {"database": 2}

    # Stop the event: breakers stay open until their wait is over, then recover.
    stopped = ok(send(a, "DELETE", f"/chaos/events/{event['id']}"))
    assert stopped["state"] == "stopped"
    assert send(a, "GET", "/mock/frontend/home").status == 503
    clock.advance(30)
    recovered = send(a, "GET", "/mock/frontend/home")
    assert recovered.status == 200, recovered.body
    states = breaker_states(a)
    assert states[("database", "*")] == "closed"
    transitions = [t["to"] for t in ok(send(a, "GET", "/circuit-breakers?service_id=database"))[
        "breakers"][0]["transitions"]]
    assert transitions == ["open", "half_open", "closed"]
    stats = ok(send(a, "GET", "/traces"))
    assert stats["dependencies"]["never_seen"] == [] and stats["errors"] > 0

    # Take B away: the next active check marks the database critical, and calls fail fast.
    b.stop()
    edge.checker.check_now()
    record = ok(send(a, "GET", "/registry/database"))
    assert record["health"] == "critical" and "connection refused" in record["checks"][1]["output"]
    down = send(a, "GET", "/mock/order-service/")
    assert down.status == 503
    assert down.json["failure_path"][-1]["cause"] == \
        "registry health is critical; no healthy instance"


def test_entry_request_to_a_remote_service_is_forwarded(servers):
    a, b, _ = servers
    ok(send(b, "POST", "/mock/db/configure", {"endpoints": [
        {"path": "rows/{n}", "method": "POST", "status": 201,
         "response": {"n": "{{ request.path_params.n }}", "body": "{{ request.json.x }}"}}]}))
    ok(send(a, "POST", "/registry/register", {"service_id": "db", "endpoint": b.url("/mock/db")}))
    reply = send(a, "POST", "/mock/db/rows/5?debug=1", {"x": 9})
    assert reply.status == 201 and reply.json == {"n": "5", "body": 9}
    assert "traceparent" in reply.headers


def test_remote_timeout_and_refusal_over_real_sockets(servers):
    a, b, _ = servers
    ok(send(b, "POST", "/mock/slow/configure", {"latency_ms": 3000}))
    for name, endpoint in [("slow", b.url("/mock/slow")),
                           ("gone", f"http://127.0.0.1:{free_port()}")]:
        ok(send(a, "POST", "/registry/register", {"service_id": name, "endpoint": endpoint}))
    ok(send(a, "POST", "/mock/web/configure", {"calls": [{"service": "slow"}]}))
    ok(send(a, "POST", "/mock/web2/configure", {"calls": [{"service": "gone"}]}))
    ok(send(a, "POST", "/dependencies", {"from_service": "web", "to_service": "slow",
                                         "timeout_ms": 150}))
    late = send(a, "GET", "/mock/web/")
    assert late.status == 504 and late.json["failure_path"][-1]["service"] == "slow"
    assert "no answer within 150ms" in late.json["failure_path"][-1]["cause"]
    refused = send(a, "GET", "/mock/web2/")
    assert refused.status == 503 and "connection refused" in refused.json["failure_path"][-1][
        "cause"]


def test_every_mesh_service_response_carries_traceparent(servers):
    a, _, _ = servers
    for path in ("/mock/ghost/x", "/mock/ghost"):
        reply = send(a, "GET", path)
        assert reply.status == 404
        assert reply.headers["Content-Type"] == "application/problem+json"
        assert parse_traceparent(reply.headers["traceparent"]) is not None


def test_health_checker_thread_probes_on_the_configured_interval():
    app = MockApp({"mesh": {"health": {"check_interval_s": 0.02, "check_timeout_s": 1}}})
    with MockServer({"endpoints": [{"path": "/health", "status": 429}]}) as target, \
            MockServer(app):
        with attach(app) as edge:
            send_register = app.mesh.registry.register
            send_register({"service_id": "t", "address": target.url("").rstrip("/"),
                           "health_check_url": target.url("/health")})
            wait_until(lambda: app.mesh.registry.get("t")["health"] == "warning",
                       message="the checker thread to report HTTP 429 as warning")
            assert edge.checker.rounds >= 1
        assert app.mesh.http_call is None
        assert not any(t.name == "pymock-mesh-health" for t in threading.enumerate())


def test_probe_classifies_answers():
    with MockServer({"endpoints": [{"path": "/ok", "response": "fine"},
                                   {"path": "/busy", "status": 429},
                                   {"path": "/bad", "status": 500}]}) as target:
        assert probe(target.url("/ok"), 2) == ("passing", f"GET {target.url('/ok')}: HTTP 200")
        assert probe(target.url("/busy"), 2)[0] == "warning"
        assert probe(target.url("/bad"), 2)[0] == "critical"
    status, output = probe(f"http://127.0.0.1:{free_port()}/h", 1)
    assert status == "critical" and "connection refused" in output


def test_http_call_reports_timeouts_and_broken_answers():
    with socket.socket() as silent:   # accepts connections (backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        answer = http_call("GET", f"http://127.0.0.1:{silent.getsockname()[1]}/", [], b"", 0.1)
        assert answer.error == "timeout" and "no answer within 100ms" in answer.detail
    with MockServer({"endpoints": [{"path": "/junk", "fault": "random_data_then_close"}]}) as t:
        answer = http_call("GET", t.url("/junk"), [("User-Agent", "x")], b"", 2)
        assert answer.error == "broken" and answer.status == 0
    answer = http_call("GET", "http://255.255.255.255:1/", [], b"", 0.5)   # no DNS involved
    assert answer.error == "refused" and answer.detail.startswith("cannot connect")


def test_http_call_sends_method_headers_and_body():
    with MockServer({"endpoints": [{"path": "/echo", "method": "PUT", "response": {
            "ua": "{{ request.headers['user-agent'] }}", "x": "{{ request.headers['x-a'] }}",
            "body": "{{ request.json.v }}"}}]}) as target:
        answer = http_call("PUT", target.url("/echo?q=1"), [("X-A", "1")], b'{"v": 2}', 2)
    assert answer.error is None and answer.status == 200 and answer.elapsed_s > 0
    assert json.loads(answer.body) == {"ua": "pymock-mesh", "x": "1", "body": 2}


def test_checker_survives_a_failing_probe():
    logged = []
    app = MockApp({"mesh": {"health": {"check_interval_s": 0.01}}}, log=logged.append)
    app.mesh.registry.register({"service_id": "t", "address": "http://x:1",
                                "health_check_url": "http://x:1/h"})

    def boom(url, timeout):
        raise RuntimeError("probe broke")
    checker = HealthChecker(app.mesh.registry, probe_fn=boom, log=logged.append).start()
    try:
        wait_until(lambda: any("probe broke" in line for line in logged), message="the error log")
    finally:
        checker.stop()
    assert checker.rounds == 0


def test_module_is_edge_only():
    assert mesh_edge.__all__ == ["http_call", "probe", "HealthChecker", "MeshEdge", "attach"]
