"""The mesh API in process, through ``MockApp.handle``: registry, dependencies, breakers,
traces, chaos, mock services, the ``mesh`` config section and hot reload. A fake clock and
seeded randomness throughout: nothing sleeps."""

import doctest
import json
import re
from pathlib import Path

import pytest

from pymock import mesh_config, registry, tracing
from pymock.app import MockApp
from pymock.config import build_config
from pymock.errors import ConfigError
from pymock.mesh import MESH_ROUTES, Mesh, openapi_paths
from pymock.model import Headers, Request
from pymock.traceparent import parse_traceparent, parse_tracestate

CONFORMANCE = Path(__file__).resolve().parents[2] / "shared" / "conformance"
VECTORS_FILE = CONFORMANCE / "trace-context" / "vectors.json"
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE}-{PARENT}-01"
SMALL_BREAKER = {"sliding_window_size": 4, "minimum_number_of_calls": 4,
                 "failure_rate_threshold": 50, "wait_duration_open_s": 10,
                 "permitted_calls_half_open": 1}


class FakeClock:
    def __init__(self, now: float = 1_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Answer:
    def __init__(self, response):
        self.response = response
        self.status = response.status
        self.headers = Headers(response.headers)
        try:
            self.json = json.loads(response.body) if response.body else None
        except ValueError:
            self.json = None

    @property
    def text(self):
        return self.response.body.decode()

    def __repr__(self):
        return f"Answer({self.status}, {self.response.body[:300]!r})"


def make_app(mesh=None, clock=None, endpoints=(), seed=7):
    config = {"endpoints": list(endpoints), "seed": seed}
    if mesh is not None:
        config["mesh"] = mesh
    return MockApp(config, clock=clock or FakeClock())


def call(app, method, path, body=None, headers=()):
    data = b"" if body is None else body if isinstance(body, bytes) else json.dumps(body).encode()
    return Answer(app.handle(Request(method, path, headers=list(headers), body=data)))


def seed_mesh(**extra):
    """frontend -> api-gateway -> user-service, order-service -> database."""
    mesh = {
        "services": [
            {"service_id": "frontend", "tags": ["edge"],
             "mock": {"calls": [{"service": "api-gateway", "path": "api"}]}},
            {"service_id": "api-gateway", "tags": ["edge", "core"],
             "mock": {"calls": [{"service": "user-service", "path": "users"},
                                {"service": "order-service", "path": "orders"}]}},
            {"service_id": "user-service", "tags": ["core"],
             "mock": {"calls": [{"service": "database", "path": "users"}]}},
            {"service_id": "order-service", "tags": ["core"],
             "mock": {"calls": [{"service": "database", "path": "orders"}]}},
            {"service_id": "database", "tags": ["data"], "mock": {"response": {"rows": 3}}},
        ],
        "dependencies": [
            {"from_service": "frontend", "to_service": "api-gateway"},
            {"from_service": "api-gateway", "to_service": "user-service"},
            {"from_service": "api-gateway", "to_service": "order-service"},
            {"from_service": "user-service", "to_service": "database"},
            {"from_service": "order-service", "to_service": "database"},
        ],
        "circuit_breakers": {"default": SMALL_BREAKER},
    }
    mesh.update(extra)
    return mesh


def problems_of(answer):
    return {(e["path"], e["message"]) for e in answer.json["errors"]}


def hints_of(answer):
    return {e["path"]: e.get("hint") for e in answer.json["errors"]}


# --- mounting -------------------------------------------------------------------------------

def test_non_mesh_requests_pass_through_to_the_mocks():
    app = make_app(endpoints=[{"path": "/registryx", "response": "mine"},
                              {"path": "/hello", "response": "hi"}])
    assert call(app, "GET", "/hello").text == "hi"
    assert call(app, "GET", "/registryx").text == "mine"
    assert "traceparent" not in call(app, "GET", "/hello").headers


def test_unknown_mesh_route_and_wrong_method():
    app = make_app()
    missing = call(app, "GET", "/registry/a/b/c")
    assert missing.status == 404
    assert missing.headers.get("content-type") == "application/problem+json"
    wrong = call(app, "PATCH", "/registry")
    assert wrong.status == 405 and wrong.headers.get("allow") == "GET, HEAD"


def test_bad_json_bodies_are_400_problems():
    app = make_app()
    assert call(app, "POST", "/registry/register").json["title"] == "Request body required"
    bad = call(app, "POST", "/registry/register", b"{nope")
    assert bad.status == 400 and bad.json["title"] == "Invalid JSON"
    assert "line 1, column 2" in bad.json["errors"][0]["message"]
    assert call(app, "POST", "/dependencies", [1, 2]).json["errors"][0]["message"] == \
        "expected a JSON object"


# --- registry -------------------------------------------------------------------------------

def test_register_update_get_and_deregister():
    app = make_app()
    created = call(app, "POST", "/registry/register", {
        "service_id": "users-1", "name": "users", "tags": ["v1"], "metadata": {"az": "eu-1"}})
    assert created.status == 201 and created.headers.get("location") == "/registry/users-1"
    assert created.json["health"] == "passing" and created.json["address"] is None
    updated = call(app, "POST", "/registry/register", {"service_id": "users-1", "name": "users",
                                                       "tags": ["v2"]})
    assert updated.status == 200 and updated.json["tags"] == ["v2"]
    got = call(app, "GET", "/registry/users-1")
    assert got.json["tags"] == ["v2"] and got.json["mock"] is None
    gone = call(app, "DELETE", "/registry/users-1")
    assert gone.status == 200 and gone.json["deregistered"]["service_id"] == "users-1"
    missing = call(app, "GET", "/registry/users-1")
    assert missing.status == 404 and missing.json["id"] == "users-1"
    assert "users-1" in missing.json["detail"]
    assert call(app, "DELETE", "/registry/users-1").status == 404


def test_register_addresses():
    app = make_app()
    by_port = call(app, "POST", "/registry/register", {"name": "a", "port": 9001})
    assert by_port.json["service_id"] == "a"
    assert by_port.json["address"] == "http://127.0.0.1:9001"
    assert by_port.json["checks"][0]["name"] == "heartbeat"
    by_url = call(app, "POST", "/registry/register", {"service_id": "b",
                                                      "endpoint": "https://b.internal/api/"})
    assert by_url.json["address"] == "https://b.internal:443/api"
    by_host = call(app, "POST", "/registry/register", {"service_id": "c", "endpoint": "c.local",
                                                       "port": 8080,
                                                       "health_check_url": "ready"})
    assert by_host.json["address"] == "http://c.local:8080"
    assert app.mesh.registry.check_targets()[-1] == ("c", "http://c.local:8080/ready")


@pytest.mark.parametrize("body, expected", [
    ({"service_id": "a", "prot": 1}, ("prot", "unknown key")),
    ({}, ("service_id", "is required (or give a name)")),
    ({"service_id": "has space"}, ("service_id", "must be a service id name, got 'has space'")),
    ({"service_id": "a", "port": 70000}, ("port", "must be a port number 1-65535, got 70000")),
    ({"service_id": "a", "tags": "x"}, ("tags", "must be a list of non-empty strings, got 'x'")),
    ({"service_id": "a", "metadata": []}, ("metadata", "must be an object, got a list")),
    ({"service_id": "a", "ttl_s": 0},
     ("ttl_s", "must be a number of seconds > 0 or null (off), got 0")),
    ({"service_id": "a", "endpoint": "host"}, ("port", "is required with the host 'host'")),
    ({"service_id": "a", "endpoint": "a/b"},
     ("endpoint", "'a/b' is neither a URL nor a host name")),
    ({"service_id": "a", "endpoint": 5}, ("endpoint", "must be a URL or a host name, got 5")),
    ({"service_id": "a", "endpoint": "http://h:1", "port": 2},
     ("port", "2 disagrees with the port in endpoint (1)")),
    ({"service_id": "a", "endpoint": "http://h:99999"},
     ("endpoint", "is not a valid URL: Port out of range 0-65535")),
    ({"service_id": "a", "endpoint": "http://h:1/?q=1"},
     ("endpoint", "'http://h:1/?q=1' needs a host and no query or fragment")),
    ({"service_id": "a", "health_check_url": "health"},
     ("health_check_url", "a relative check URL needs the service's endpoint or port")),
    ({"service_id": "a", "port": 1, "health_check_url": 3},
     ("health_check_url", "must be a URL or a path, got 3")),
])
def test_register_validation(body, expected):
    answer = call(make_app(), "POST", "/registry/register", body)
    assert answer.status == 400
    assert expected in problems_of(answer)


def test_register_unknown_key_has_did_you_mean():
    answer = call(make_app(), "POST", "/registry/register", {"service_id": "a", "tgas": []})
    assert hints_of(answer) == {"tgas": "did you mean 'tags'?"}


def test_registry_query_filters():
    app = make_app()
    for ident, name, tags in [("u1", "users", ["v1", "eu"]), ("u2", "users", ["v2", "eu"]),
                              ("o1", "orders", ["v1"])]:
        call(app, "POST", "/registry/register", {"service_id": ident, "name": name, "tags": tags})
    def ids(query):
        return [s["service_id"] for s in call(app, "GET", "/registry" + query).json["services"]]
    assert ids("") == ["o1", "u1", "u2"]
    assert ids("?name=users") == ["u1", "u2"]
    assert ids("?tag=eu&tag=v1") == ["u1"]
    assert ids("?health=passing&name=orders") == ["o1"]
    assert ids("?health=critical") == []
    bad = call(app, "GET", "/registry?health=sick")
    assert bad.status == 400 and "query.health" in hints_of(bad)
    unknown = call(app, "GET", "/registry?nmae=x")
    assert unknown.status == 400 and hints_of(unknown) == {"query.nmae": "did you mean 'name'?"}


def test_heartbeat_ttl_and_deregistration_seen_on_the_next_request():
    clock = FakeClock()
    app = make_app({"health": {"ttl_s": 10, "deregister_critical_after_s": 20}}, clock)
    call(app, "POST", "/registry/register", {"service_id": "a"})
    clock.advance(11)
    assert call(app, "GET", "/registry?health=critical").json["count"] == 1
    beat = call(app, "PUT", "/registry/a/heartbeat", {"status": "warning", "output": "slow disk"})
    assert beat.status == 200 and beat.json["health"] == "warning"
    assert call(app, "GET", "/registry?health=warning").json["count"] == 1
    assert call(app, "PUT", "/registry/a/heartbeat").json["health"] == "passing"
    clock.advance(31)
    listed = call(app, "GET", "/registry").json
    assert listed["services"] == []
    assert listed["recently_deregistered"][0]["service_id"] == "a"
    assert call(app, "PUT", "/registry/a/heartbeat").status == 404


def test_heartbeat_body_validation():
    app = make_app()
    call(app, "POST", "/registry/register", {"service_id": "a"})
    bad = call(app, "PUT", "/registry/a/heartbeat", {"status": "sick", "output": 3, "x": 1})
    assert bad.status == 400
    assert {p for p, _ in problems_of(bad)} == {"status", "output", "x"}


def test_registry_change_takes_effect_on_the_very_next_call():
    clock = FakeClock()
    app = make_app(seed_mesh(health={"ttl_s": 5}), clock)
    assert call(app, "GET", "/mock/frontend/").status == 200
    clock.advance(6)   # every TTL ran out: database is critical now
    for name in ("frontend", "api-gateway", "user-service", "order-service"):
        call(app, "PUT", f"/registry/{name}/heartbeat")
    failed = call(app, "GET", "/mock/frontend/")
    assert failed.status == 503
    assert failed.json["failure_path"][-1] == {
        "service": "database", "status": 503,
        "cause": "registry health is critical; no healthy instance"}
    call(app, "PUT", "/registry/database/heartbeat")
    assert call(app, "GET", "/mock/frontend/").status == 200


# --- dependencies ---------------------------------------------------------------------------

def test_dependencies_add_update_remove():
    app = make_app()
    added = call(app, "POST", "/dependencies", {"from_service": "web", "to_service": "api",
                                                "timeout_ms": 250})
    assert added.status == 201
    assert added.json == {"from_service": "web", "to_service": "api", "required": True,
                          "timeout_ms": 250.0, "circuit_breaker_enabled": True, "source": "api"}
    again = call(app, "POST", "/dependencies", {"from_service": "web", "to_service": "api",
                                                "required": False})
    assert again.status == 200 and again.json["required"] is False
    removed = call(app, "DELETE", "/dependencies/web/api")
    assert removed.status == 200 and removed.json["removed"]["to_service"] == "api"
    missing = call(app, "DELETE", "/dependencies/web/api")
    assert missing.status == 404 and missing.json["id"] == "web -> api"


def test_dependency_cycle_is_refused_with_the_cycle_named():
    app = make_app(seed_mesh())
    refused = call(app, "POST", "/dependencies", {"from_service": "database",
                                                  "to_service": "frontend"})
    assert refused.status == 409
    assert refused.json["cycle"] == ["database", "frontend", "api-gateway", "order-service",
                                     "database"]
    assert "database -> frontend" in refused.json["detail"]
    allowed = call(app, "POST", "/dependencies", {"from_service": "database",
                                                  "to_service": "frontend", "allow_cycle": True})
    assert allowed.status == 201
    graph = call(app, "GET", "/dependencies/graph").json
    assert graph["cycles"] and graph["deployment_order"] is None


def test_dependency_validation():
    answer = call(make_app(), "POST", "/dependencies", {"from_service": "a", "to_sevice": "b",
                                                        "required": "yes", "timeout_ms": -1})
    assert answer.status == 400
    assert {p for p, _ in problems_of(answer)} == {"to_sevice", "to_service", "required",
                                                  "timeout_ms"}
    assert hints_of(answer)["to_sevice"] == "did you mean 'to_service'?"


def test_dependencies_of_a_service():
    app = make_app(seed_mesh())
    view = call(app, "GET", "/dependencies/api-gateway").json
    assert [d["to_service"] for d in view["depends_on"]] == ["order-service", "user-service"]
    assert [d["from_service"] for d in view["dependents"]] == ["frontend"]
    assert all(d["source"] == "config" for d in view["depends_on"])
    db = call(app, "GET", "/dependencies/database").json
    assert db["impact"]["failed"] == ["api-gateway", "frontend", "order-service", "user-service"]
    call(app, "POST", "/registry/register", {"service_id": "loner"})
    assert call(app, "GET", "/dependencies/loner").json["depends_on"] == []
    assert call(app, "GET", "/dependencies/ghost").status == 404


def test_graph_json_mermaid_and_dot():
    app = make_app(seed_mesh(dependencies=seed_mesh()["dependencies"] + [
        {"from_service": "frontend", "to_service": "cdn", "required": False, "timeout_ms": 50}]))
    graph = call(app, "GET", "/dependencies/graph").json
    assert graph["deployment_order"] == ["cdn", "database", "order-service", "user-service",
                                         "api-gateway", "frontend"]
    assert graph["critical_services"][0]["service"] == "database"
    assert graph["critical_services"][0]["fails"] == 4
    assert graph["articulation_points"] == ["api-gateway", "frontend"]
    assert (graph["required_edges"], graph["optional_edges"]) == (5, 1)
    mermaid = call(app, "GET", "/dependencies/graph?format=mermaid")
    assert mermaid.headers.get("content-type").startswith("text/vnd.mermaid")
    assert "frontend -.->|50ms| cdn" in mermaid.text
    dot = call(app, "GET", "/dependencies/graph?format=dot")
    assert '"frontend" -> "cdn" [style=dashed, label="50ms"];' in dot.text
    assert call(app, "GET", "/dependencies/graph?format=svg").status == 400


# --- calls ----------------------------------------------------------------------------------

def test_seed_topology_call_walks_every_dependency():
    app = make_app(seed_mesh())
    answer = call(app, "GET", "/mock/frontend/home", headers=[("traceparent", TRACEPARENT)])
    assert answer.status == 200 and answer.json == {"service": "frontend", "ok": True}
    trace = call(app, "GET", f"/traces/{TRACE}").json
    assert trace["span_count"] == 6 and trace["error"] is False
    assert {(e["from"], e["to"]) for e in trace["graph"]["edges"]} == {
        ("frontend", "api-gateway"), ("api-gateway", "user-service"),
        ("api-gateway", "order-service"), ("user-service", "database"),
        ("order-service", "database")}
    root = trace["tree"][0]
    assert root["service"] == "frontend" and root["parent_span_id"] == PARENT
    assert [c["service"] for c in root["children"][0]["children"]] == ["user-service",
                                                                       "order-service"]


def test_entry_to_unknown_service_is_404_with_traceparent():
    answer = call(make_app(), "GET", "/mock/ghost/x", headers=[("traceparent", TRACEPARENT)])
    assert answer.status == 404 and answer.json["id"] == "ghost"
    assert parse_traceparent(answer.headers.get("traceparent")).trace_id == TRACE


def test_registered_service_without_mock_answers_by_default():
    app = make_app()
    call(app, "POST", "/registry/register", {"service_id": "plain"})
    assert call(app, "GET", "/mock/plain/a/b").json == {"service": "plain", "path": "/a/b",
                                                         "ok": True}


def test_call_by_name_goes_to_an_instance_round_robin():
    app = make_app({"services": [{"service_id": "web", "mock": {"calls": [{"service": "users"}]}},
                                 {"service_id": "users-1", "name": "users"},
                                 {"service_id": "users-2", "name": "users"}]})
    seen = []
    for _ in range(4):
        tp = call(app, "GET", "/mock/web/").headers.get("traceparent")
        spans = call(app, "GET", "/traces/" + tp.split("-")[1]).json["spans"]
        seen += [s["service"] for s in spans if s["service"] != "web"]
    assert seen == ["users-1", "users-2", "users-1", "users-2"]


def test_required_failure_fails_the_caller_by_kind():
    app = make_app({"services": [
        {"service_id": "web", "mock": {"calls": [{"service": "err"}]}},
        {"service_id": "web2", "mock": {"calls": [{"service": "down"}]}},
        {"service_id": "web3", "mock": {"calls": [{"service": "slow"}]}},
        {"service_id": "err", "mock": {"status": 500}},
        {"service_id": "down", "mock": {"status": 503}},
        {"service_id": "slow", "mock": {"status": 504}}],
        "circuit_breakers": {"enabled": False}})
    assert call(app, "GET", "/mock/web/").status == 502
    assert call(app, "GET", "/mock/web2/").status == 503
    gateway = call(app, "GET", "/mock/web3/")
    assert gateway.status == 504 and gateway.json["kind"] == "timeout"
    assert gateway.json["dependency"] == "slow"


def test_optional_failure_degrades_the_response():
    app = make_app({"services": [
        {"service_id": "web", "mock": {"response": {"page": 1},
                                       "calls": [{"service": "recs"}, {"service": "ads",
                                                                       "required": False}]}},
        {"service_id": "recs", "mock": {"status": 500}},
        {"service_id": "ads", "mock": {"status": 500}}],
        "dependencies": [{"from_service": "web", "to_service": "recs", "required": False}],
        "circuit_breakers": {"enabled": False}})
    answer = call(app, "GET", "/mock/web/")
    assert answer.status == 200 and answer.json == {"page": 1}
    assert answer.headers.get("x-mesh-degraded") == "recs, ads"
    trace = call(app, "GET", "/traces/" + answer.headers.get("traceparent").split("-")[1]).json
    web = next(s for s in trace["spans"] if s["service"] == "web")
    assert web["error"] is None and web["attributes"]["degraded"] == ["recs", "ads"]


def test_unknown_downstream_is_unavailable():
    app = make_app({"services": [{"service_id": "web", "mock": {"calls": [{"service": "nope"}]}}]})
    answer = call(app, "GET", "/mock/web/")
    assert answer.status == 503
    assert answer.json["failure_path"][-1]["cause"] == "not registered and not configured as a mock"


def test_latency_accumulates_and_timeouts_use_simulated_time():
    mesh = seed_mesh(circuit_breakers={"enabled": False})
    mesh["services"][4]["mock"]["latency_ms"] = 40
    mesh["services"][0]["mock"]["latency_ms"] = 5
    app = make_app(mesh)
    answer = call(app, "GET", "/mock/frontend/", headers=[("traceparent", TRACEPARENT)])
    assert answer.status == 200 and answer.response.delay_s == pytest.approx(0.085)
    spans = {s["service"]: s for s in call(app, "GET", f"/traces/{TRACE}").json["spans"]
             if s["service"] != "database"}
    assert spans["frontend"]["duration_ms"] == pytest.approx(85)
    assert spans["user-service"]["duration_ms"] == pytest.approx(40)
    assert spans["order-service"]["start"] - spans["user-service"]["start"] == pytest.approx(0.04)
    # A 30 ms budget on order-service -> database: the 40 ms database answer is too late.
    mesh["dependencies"][4]["timeout_ms"] = 30
    app = make_app(mesh)
    late = call(app, "GET", "/mock/frontend/")
    assert late.status == 504
    assert late.json["failure_path"][-1]["cause"] == "no answer within 30ms (it needed 40ms)"
    assert late.response.delay_s == pytest.approx(0.005 + 0.04 + 0.03)


def test_mock_fault_passes_through_at_entry_and_breaks_callers():
    app = make_app({"services": [{"service_id": "web", "mock": {"calls": [{"service": "flaky"}]}},
                                 {"service_id": "flaky", "mock": {"fault": "connection_reset"}}]})
    assert call(app, "GET", "/mock/flaky/").response.fault == "connection_reset"
    broken = call(app, "GET", "/mock/web/")
    assert broken.status == 503 and broken.response.fault is None
    assert broken.json["failure_path"][-1]["cause"] == "connection broken (connection_reset)"


def test_call_loops_stop_at_max_call_depth():
    app = make_app({"allow_cycles": True, "max_call_depth": 3, "services": [
        {"service_id": "a", "mock": {"calls": [{"service": "b"}]}},
        {"service_id": "b", "mock": {"calls": [{"service": "a"}]}}],
        "dependencies": [{"from_service": "a", "to_service": "b"},
                         {"from_service": "b", "to_service": "a"}],
        "circuit_breakers": {"enabled": False}})
    answer = call(app, "GET", "/mock/a/")
    assert answer.status == 502
    assert [p["service"] for p in answer.json["failure_path"]] == ["a", "b", "a", "b", "a"]
    assert "max_call_depth (3)" in answer.json["failure_path"][-1]["cause"]


def test_remote_service_without_http_client_is_unavailable():
    app = make_app({"services": [{"service_id": "web", "mock": {"calls": [{"service": "far"}]}},
                                 {"service_id": "far", "port": 9}]})
    answer = call(app, "GET", "/mock/web/")
    assert answer.status == 503 and "no HTTP client" in answer.json["failure_path"][-1]["cause"]


def test_remote_calls_go_through_the_injected_http_call():
    sent = []

    def fake_http(method, url, headers, body, timeout):
        from pymock.mesh_calls import RemoteAnswer
        sent.append((method, url, dict(headers), body, timeout))
        if ":9/" in url:
            return RemoteAnswer(error="refused", detail="connection refused")
        return RemoteAnswer(200, (("Content-Type", "text/plain"), ("Content-Length", "2")),
                            b"ok", 0.25)
    app = make_app({"services": [
        {"service_id": "web", "mock": {"calls": [{"service": "far", "path": "x?y=1",
                                                  "method": "POST", "body": {"a": 1}}]}},
        {"service_id": "far", "endpoint": "http://far.local:81/base"},
        {"service_id": "down", "port": 9}],
        "dependencies": [{"from_service": "web", "to_service": "far", "timeout_ms": 700}]})
    app.mesh.set_http_call(fake_http)
    assert call(app, "GET", "/mock/web/", headers=[("traceparent", TRACEPARENT)]).status == 200
    method, url, headers, body, timeout = sent[0]
    assert (method, url, body, timeout) == ("POST", "http://far.local:81/base/x?y=1",
                                            b'{"a": 1}', 0.7)
    far_span = next(s for s in call(app, "GET", f"/traces/{TRACE}").json["spans"]
                    if s["service"] == "far")
    assert far_span["kind"] == "client" and far_span["duration_ms"] == pytest.approx(250)
    assert headers["traceparent"] == f"00-{TRACE}-{far_span['span_id']}-01"
    entry = call(app, "GET", "/mock/far/z")
    assert entry.text == "ok" and "content-length" not in entry.headers
    refused = call(app, "GET", "/mock/down/")
    assert refused.status == 503 and "connection refused" in refused.json["detail"]


# --- trace context --------------------------------------------------------------------------

def test_traceparent_on_every_mock_response_and_tracestate_carried():
    app = make_app(seed_mesh())
    answer = call(app, "GET", "/mock/frontend/", headers=[("traceparent", TRACEPARENT),
                                                          ("tracestate", "rojo=1,congo=2")])
    out = parse_traceparent(answer.headers.get("traceparent"))
    assert out.trace_id == TRACE and out.parent_id != PARENT and out.flags == 1
    assert answer.headers.get("tracestate") == "rojo=1,congo=2"
    spans = call(app, "GET", f"/traces/{TRACE}").json["spans"]
    entry = next(s for s in spans if s["service"] == "frontend")
    assert entry["span_id"] == out.parent_id and entry["parent_span_id"] == PARENT
    ids = [s["span_id"] for s in spans]
    assert len(set(ids)) == len(ids)
    by_id = {s["span_id"]: s for s in spans}
    assert all(by_id[s["parent_span_id"]]["service"] == s["caller"]
               for s in spans if s["caller"] is not None)


def test_invalid_traceparent_starts_a_new_trace_and_drops_tracestate():
    app = make_app(seed_mesh())
    answer = call(app, "GET", "/mock/frontend/", headers=[
        ("traceparent", f"00-{TRACE.upper()}-{PARENT}-01"), ("tracestate", "rojo=1")])
    out = parse_traceparent(answer.headers.get("traceparent"))
    assert out.trace_id != TRACE.lower() and "tracestate" not in answer.headers


def test_mock_sees_the_trace_context_it_sends_downstream():
    app = make_app({"services": [{"service_id": "echo", "mock": {"response": {
        "tp": "{{ request.headers.traceparent }}", "ts": "{{ request.headers.tracestate }}"}}}]})
    answer = call(app, "GET", "/mock/echo/", headers=[("traceparent", TRACEPARENT),
                                                      ("tracestate", "a=1")])
    assert answer.json == {"tp": answer.headers.get("traceparent"), "ts": "a=1"}


def test_tracing_disabled_sends_no_headers_and_records_nothing():
    app = make_app(seed_mesh(tracing={"enabled": False}))
    answer = call(app, "GET", "/mock/frontend/", headers=[("traceparent", TRACEPARENT)])
    assert answer.status == 200 and "traceparent" not in answer.headers
    stats = call(app, "GET", "/traces").json
    assert stats["spans"] == 0 and stats["tracing_enabled"] is False


def test_span_store_is_bounded_by_config():
    app = make_app(seed_mesh(tracing={"max_spans": 8}))
    for _ in range(3):
        call(app, "GET", "/mock/frontend/")
    stats = call(app, "GET", "/traces").json
    assert (stats["spans"], stats["recorded"], stats["evicted"]) == (8, 18, 10)
    assert stats["max_spans"] == 8


def test_trace_statistics_compare_observed_with_declared():
    mesh = seed_mesh()
    mesh["services"][0]["mock"]["calls"].append({"service": "cdn", "required": False})
    mesh["dependencies"].append({"from_service": "database", "to_service": "backup"})
    app = make_app(mesh)
    call(app, "POST", "/registry/register", {"service_id": "cdn"})
    call(app, "GET", "/mock/frontend/")
    stats = call(app, "GET", "/traces").json
    assert stats["dependencies"]["undeclared_calls"] == [{"from": "frontend", "to": "cdn"}]
    assert stats["dependencies"]["never_seen"] == [{"from": "database", "to": "backup"}]
    assert len(stats["dependencies"]["confirmed"]) == 5
    assert stats["services"]["database"]["spans"] == 2
    assert stats["recent"][0]["root_service"] == "frontend"
    assert call(app, "GET", "/traces/" + "0" * 32).status == 404
    assert call(app, "GET", "/traces?x=1").status == 400


def _load_vectors():
    if not VECTORS_FILE.is_file():
        return [pytest.param(None, id="vectors-absent")]
    return [pytest.param(v, id=v["id"]) for v in json.loads(VECTORS_FILE.read_text())]


@pytest.fixture(scope="module")
def echo_app():
    return make_app({"services": [
        {"service_id": "echo", "mock": {"response": {"ts": "{{ request.headers.tracestate }}"},
                                        "calls": [{"service": "next"}]}},
        {"service_id": "next"}]})


@pytest.mark.parametrize("vector", _load_vectors())
def test_trace_context_conformance_through_the_mesh(vector, echo_app):
    """Every W3C vector, sent to a mesh service: the traceparent it answers with and the
    context its downstream hop receives must agree with the vector."""
    if vector is None:
        pytest.skip(f"W3C trace-context vectors not found at {VECTORS_FILE}")
    values = vector["value"] if isinstance(vector["value"], list) else [vector["value"]]
    headers = [(vector["header"], v) for v in values]
    if vector.get("with_traceparent"):
        headers.insert(0, ("traceparent", vector["with_traceparent"]))
    answer = call(echo_app, "GET", "/mock/echo/", headers=headers)
    match = re.fullmatch(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})",
                         answer.headers.get("traceparent"))
    assert answer.status == 200 and match, answer.headers.get("traceparent")
    trace_id, span_id, flags = match.groups()
    assert int(flags, 16) & ~0x03 == 0
    spans = {s["service"]: s for s in echo_app.mesh.spans.trace(trace_id)
             for s in [s.as_dict()] if s["span_id"] == span_id or s["parent_span_id"] == span_id}
    assert spans["next"]["parent_span_id"] == span_id == spans["echo"]["span_id"]
    sent_state = answer.json["ts"]
    if vector["header"].lower() in ("traceparent", "trace-parent", "trace.parent"):
        _check_parent_vector(vector, values, trace_id, spans["echo"], sent_state)
    else:
        _check_state_vector(vector, values, trace_id, sent_state)


def _check_parent_vector(vector, values, trace_id, entry, sent_state):
    if vector["valid"]:
        incoming = parse_traceparent(values[0])
        assert trace_id == incoming.trace_id and entry["parent_span_id"] == incoming.parent_id
        assert entry["span_id"] != incoming.parent_id
        if vector.get("expect", {}).get("flags_bit_0x02") == "set":
            assert entry["trace_id"] == trace_id
    else:
        assert all(trace_id not in v.lower() for v in values)
        assert entry["parent_span_id"] is None and not sent_state


def _check_state_vector(vector, values, trace_id, sent_state):
    if vector["with_traceparent"]:
        assert trace_id == parse_traceparent(vector["with_traceparent"]).trace_id
    out = parse_tracestate(sent_state) if sent_state else []
    assert out is not None
    if not vector["valid"]:
        assert out == []
    elif "expect_entries" in vector:
        assert out == [tuple(pair) for pair in vector["expect_entries"]]
    else:
        assert out and len({k for k, _ in out}) == len(out)


# --- circuit breakers -----------------------------------------------------------------------

def breaker(app, service, endpoint="*"):
    listed = call(app, "GET", f"/circuit-breakers?service_id={service}").json["breakers"]
    return next(b for b in listed if b["endpoint"] == endpoint)


def test_breaker_opens_answers_fast_with_retry_after_then_recovers():
    clock = FakeClock()
    app = make_app(seed_mesh(), clock)
    call(app, "POST", "/chaos/events", {"type": "service_outage", "service": "database",
                                        "duration_s": 5, "id": "db-down"})
    for _ in range(2):    # each request fails user-service -> database only (required)
        assert call(app, "GET", "/mock/api-gateway/").status == 503
    assert breaker(app, "database")["state"] == "closed"
    call(app, "GET", "/mock/user-service/")
    call(app, "GET", "/mock/user-service/")
    state = breaker(app, "database")
    assert state["state"] == "open"            # visible on the very next request
    assert state["transitions"][-1]["cause"].startswith("failure_rate (100% >= 50%)")
    assert breaker(app, "user-service")["state"] == "open"   # its own callers saw it fail
    fast = call(app, "GET", "/mock/order-service/")
    assert fast.status == 503 and fast.headers.get("retry-after") == "10"
    assert fast.json["failure_path"][-1]["cause"] == "circuit breaker database * is open"
    assert app.mesh.chaos.get("db-down")["requests_affected"] == 4   # not reached while open
    call(app, "DELETE", "/chaos/events/db-down")
    clock.advance(4)
    assert call(app, "GET", "/mock/order-service/").headers.get("retry-after") == "6"
    clock.advance(6)                           # open wait over: half-open lets one through
    assert call(app, "GET", "/mock/order-service/").status == 200
    state = breaker(app, "database")
    assert state["state"] == "closed"
    assert [t["to"] for t in state["transitions"]] == ["open", "half_open", "closed"]
    assert all(t["at"] is not None for t in state["transitions"])


def test_breaker_per_endpoint_uses_mock_endpoint_ids():
    app = make_app({"services": [{"service_id": "api", "mock": {"endpoints": [
        {"id": "users", "path": "users/{id}", "response": {"u": 1}},
        {"id": "orders", "path": "orders", "status": 500}]}}],
        "circuit_breakers": {"default": SMALL_BREAKER}})
    for _ in range(4):
        call(app, "GET", "/mock/api/orders")
    call(app, "GET", "/mock/api/users/7")
    assert breaker(app, "api", "orders")["state"] == "open"
    assert breaker(app, "api", "users")["state"] == "closed"
    assert call(app, "GET", "/mock/api/users/8").status == 200
    assert call(app, "GET", "/mock/api/orders").json["title"] == "Circuit breaker open"
    assert call(app, "GET", "/mock/api/nothing").status == 404   # no default: a miss, key '*'


def test_breaker_manual_control():
    app = make_app(seed_mesh())
    opened = call(app, "POST", "/circuit-breakers/database/*/force-open")
    assert opened.status == 200 and opened.json["state"] == "forced_open"
    assert call(app, "GET", "/mock/frontend/").status == 503
    closed = call(app, "POST", "/circuit-breakers/database/*/force-closed")
    assert closed.json["state"] == "forced_closed"
    assert call(app, "GET", "/mock/frontend/").status == 200
    released = call(app, "POST", "/circuit-breakers/database/*/release")
    assert released.json["state"] == "closed"
    reset = call(app, "POST", "/circuit-breakers/database/*/reset")
    assert reset.json["totals"]["calls"] == 0
    assert [t["cause"] for t in reset.json["transitions"]] == ["forced_open", "forced_closed",
                                                               "released"]
    assert call(app, "POST", "/circuit-breakers/ghost/*/reset").status == 404
    assert call(app, "POST", "/circuit-breakers/database/*/explode").status == 404


def test_breaker_configure_list_and_validation():
    app = make_app(seed_mesh())
    call(app, "GET", "/mock/frontend/")
    configured = call(app, "POST", "/circuit-breakers", {
        "service_id": "database", "consecutive_failures_threshold": 1})
    assert configured.status == 201
    assert configured.json["config"]["consecutive_failures_threshold"] == 1
    assert configured.json["config"]["sliding_window_size"] == 4   # the rest from the default
    listed = call(app, "GET", "/circuit-breakers").json
    assert listed["count"] == 5 and listed["default"]["sliding_window_size"] == 4
    assert call(app, "GET", "/circuit-breakers?state=open").json["count"] == 0
    call(app, "POST", "/chaos/events", {"type": "response_error", "service": "database",
                                        "status": 500, "duration_s": 60})
    call(app, "GET", "/mock/order-service/")
    assert [b["service_id"] for b in call(app, "GET", "/circuit-breakers?state=open").json[
        "breakers"]] == ["database"]
    bad = call(app, "POST", "/circuit-breakers", {"service_id": "db", "endpoint": "a/b",
                                                  "sliding_windw_size": 3,
                                                  "failure_rate_threshold": 0})
    assert bad.status == 400
    assert hints_of(bad)["sliding_windw_size"] == "did you mean 'sliding_window_size'?"
    assert {"endpoint", "failure_rate_threshold"} <= set(hints_of(bad))
    assert call(app, "POST", "/circuit-breakers", {"endpoint": "x"}).status == 400
    assert call(app, "GET", "/circuit-breakers?servce=x").status == 400


def test_service_wide_breaker_config_reaches_endpoint_breakers():
    app = make_app({"services": [{"service_id": "api", "mock": {"endpoints": [
        {"id": "a", "path": "a"}, {"id": "b", "path": "b"}]}}]})
    call(app, "GET", "/mock/api/a")
    call(app, "POST", "/circuit-breakers", {"service_id": "api", "endpoint": "b",
                                            "sliding_window_size": 7})
    call(app, "POST", "/circuit-breakers", {"service_id": "api", "sliding_window_size": 3})
    call(app, "GET", "/mock/api/b")
    assert breaker(app, "api", "a")["config"]["sliding_window_size"] == 3
    assert breaker(app, "api", "b")["config"]["sliding_window_size"] == 7


def test_edge_can_turn_its_breaker_off():
    mesh = seed_mesh()
    mesh["dependencies"][3]["circuit_breaker_enabled"] = False   # user-service -> database
    app = make_app(mesh)
    call(app, "GET", "/mock/user-service/")
    assert call(app, "GET", "/circuit-breakers?service_id=database").json["count"] == 0


def test_slow_calls_open_the_breaker():
    app = make_app({"services": [{"service_id": "web", "mock": {"calls": [{"service": "slow"}]}},
                                 {"service_id": "slow", "mock": {"latency_ms": 2000}}],
                    "circuit_breakers": {"default": {**SMALL_BREAKER, "slow_call_duration_s": 1,
                                                     "slow_call_rate_threshold": 50}}})
    for _ in range(4):
        assert call(app, "GET", "/mock/web/").status == 200
    state = breaker(app, "slow")
    assert state["state"] == "open"
    assert state["transitions"][0]["cause"].startswith("slow_call_rate")


# --- chaos ----------------------------------------------------------------------------------

def test_chaos_outage_refuse_and_expiry():
    clock = FakeClock()
    app = make_app(seed_mesh(circuit_breakers={"enabled": False}), clock)
    started = call(app, "POST", "/chaos/events", {"type": "service_outage", "service": "database",
                                                  "duration_s": 30, "mode": "refuse"})
    assert started.status == 201 and started.json["id"] == "chaos-1"
    answer = call(app, "GET", "/mock/order-service/")
    assert answer.status == 503
    assert answer.json["failure_path"][-1]["cause"] == "connection refused (chaos chaos-1)"
    clock.advance(30)
    assert call(app, "GET", "/mock/order-service/").status == 200
    events = call(app, "GET", "/chaos/events").json
    assert events["active"] == [] and events["past"][0]["state"] == "expired"
    assert events["metrics"]["by_service"] == {"database": 1}


def test_chaos_latency_fixed_and_seeded_distribution():
    app = make_app(seed_mesh(circuit_breakers={"enabled": False}))
    call(app, "POST", "/chaos/events", {"type": "latency", "service": "database",
                                        "latency_ms": 100})
    assert call(app, "GET", "/mock/order-service/").response.delay_s == pytest.approx(0.1)

    def run(seed):
        app = make_app(seed_mesh(circuit_breakers={"enabled": False}))
        call(app, "POST", "/chaos/events", {"type": "latency", "service": "database", "seed": seed,
                                            "distribution": {"uniform": {"min": 10, "max": 500}}})
        return [call(app, "GET", "/mock/order-service/").response.delay_s for _ in range(5)]
    assert run(3) == run(3) != run(4)
    assert all(0.01 <= d <= 0.5 for d in run(3))


def test_chaos_partition_between_services_times_out_or_refuses():
    mesh = seed_mesh(circuit_breakers={"enabled": False})
    mesh["dependencies"][4]["timeout_ms"] = 250   # order-service -> database
    app = make_app(mesh)
    call(app, "POST", "/chaos/events", {"type": "network_partition", "id": "cut",
                                        "between": ["order-service", "database"]})
    assert call(app, "GET", "/mock/user-service/").status == 200   # other side unaffected
    late = call(app, "GET", "/mock/order-service/")
    assert late.status == 504 and late.response.delay_s == pytest.approx(0.25)
    assert late.json["failure_path"][-1]["cause"] == "no answer within 250ms (chaos cut)"
    call(app, "DELETE", "/chaos/events/cut")
    call(app, "POST", "/chaos/events", {"type": "network_partition", "mode": "refuse",
                                        "groups": [["frontend", "api-gateway"],
                                                   ["user-service", "order-service"]]})
    refused = call(app, "GET", "/mock/frontend/")
    assert refused.status == 503
    assert [p["service"] for p in refused.json["failure_path"]] == ["frontend", "api-gateway",
                                                                    "user-service"]


def test_chaos_partition_without_timeout_uses_the_default():
    app = make_app(seed_mesh(default_timeout_ms=1500, circuit_breakers={"enabled": False}))
    call(app, "POST", "/chaos/events", {"type": "network_partition",
                                        "between": ["order-service", "database"]})
    assert call(app, "GET", "/mock/order-service/").response.delay_s == pytest.approx(1.5)


def test_chaos_response_error_rate_is_reproducible():
    def statuses(seed):
        app = make_app(seed_mesh(circuit_breakers={"enabled": False}))
        call(app, "POST", "/chaos/events", {"type": "response_error", "service": "database",
                                            "endpoint": "/orders", "status": 500, "rate": 0.5,
                                            "seed": seed})
        out = [call(app, "GET", "/mock/order-service/").status for _ in range(12)]
        assert all(call(app, "GET", "/mock/user-service/").status == 200 for _ in range(3))
        return out
    first = statuses(11)
    assert first == statuses(11) and set(first) == {200, 502}


def test_cascade_failure_walks_dependents_with_probability_and_depth():
    app = make_app(seed_mesh(circuit_breakers={"enabled": False}))
    event = call(app, "POST", "/chaos/cascade-failure", {
        "initial_service": "database", "failure_probability": 1.0, "max_depth": 1, "seed": 5})
    assert event.status == 201
    assert event.json["affected_services"] == ["database", "order-service", "user-service"]
    assert [h["depth"] for h in event.json["hops"]] == [1, 1]
    answer = call(app, "GET", "/mock/frontend/")
    assert answer.status == 503
    assert answer.json["failure_path"][-1] == {"service": "user-service", "status": 503,
                                               "cause": f"answered 503 (chaos {event.json['id']})"}
    zero = call(app, "POST", "/chaos/cascade-failure", {"initial_service": "database",
                                                        "failure_probability": 0.0})
    assert zero.json["affected_services"] == ["database"]
    half = [call(make_app(seed_mesh()), "POST", "/chaos/cascade-failure", {
        "initial_service": "database", "failure_probability": 0.5, "seed": 9}).json["hops"]
        for _ in range(2)]
    assert half[0] == half[1]


def test_cascade_validation():
    app = make_app(seed_mesh())
    assert call(app, "POST", "/chaos/cascade-failure", {"initial_service": "ghost"}).status == 404
    wrong = call(app, "POST", "/chaos/cascade-failure", {"initial_service": "database",
                                                         "type": "latency"})
    assert wrong.status == 400 and wrong.json["errors"][0]["path"] == "type"
    bad = call(app, "POST", "/chaos/cascade-failure", {"initial_service": "database",
                                                       "max_dept": 2})
    assert bad.status == 400 and hints_of(bad)["max_dept"] == "did you mean 'max_depth'?"


def test_chaos_events_list_stop_metrics_and_errors():
    clock = FakeClock()
    app = make_app(seed_mesh(circuit_breakers={"enabled": False}), clock)
    call(app, "POST", "/chaos/events", {"type": "service_outage", "service": "database",
                                        "id": "out"})
    for _ in range(3):
        call(app, "GET", "/mock/order-service/")
    dup = call(app, "POST", "/chaos/events", {"type": "service_outage", "service": "x",
                                              "id": "out"})
    assert dup.status == 409
    invalid = call(app, "POST", "/chaos/events", {"type": "outage"})
    assert invalid.status == 400 and hints_of(invalid)["type"] == "did you mean 'service_outage'?"
    clock.advance(1)
    stopped = call(app, "DELETE", "/chaos/events/out")
    assert stopped.json["state"] == "stopped" and stopped.json["requests_affected"] == 3
    assert call(app, "DELETE", "/chaos/events/nope").status == 404
    listed = call(app, "GET", "/chaos/events").json
    assert listed["metrics"]["by_event"] == {"out": 3} and listed["metrics"]["active"] == 0
    assert listed["metrics"]["by_service"] == {"database": 3}
    assert call(app, "GET", "/mock/order-service/").status == 200


# --- mock services --------------------------------------------------------------------------

def test_configure_mock_then_call_it():
    app = make_app()
    created = call(app, "POST", "/mock/users/configure", {"endpoints": [
        {"path": "users/{id}", "response": {"id": "{{ request.path_params.id }}"}}]})
    assert created.status == 201
    assert [e["id"] for e in created.json["endpoints"]] == ["get-users-id"]
    assert call(app, "GET", "/mock/users/users/7").json == {"id": "7"}
    assert call(app, "GET", "/mock/users/other").status == 404
    replaced = call(app, "POST", "/mock/users/configure", {"status": 202})
    assert replaced.status == 200 and call(app, "GET", "/mock/users/any").status == 202
    assert call(app, "GET", "/mock/users/configure").status == 202   # GET is the mock's


def test_configure_mock_validation_paths():
    app = make_app()
    bad = call(app, "POST", "/mock/users/configure", {
        "path": "/x", "staus": 200,
        "endpoints": [{"path": "a", "resposne": 1, "calls": [{"servce": "x"}]},
                      {"path": "b", "body_file": "x.json"}, 3],
        "calls": "nope"})
    assert bad.status == 400 and bad.json["title"] == "Invalid mock service"
    paths = {e["path"] for e in bad.json["errors"]}
    assert {"path", "calls", "endpoints[0].calls[0].servce", "endpoints[0].calls[0].service",
            "endpoints[1].body_file", "endpoints[2]"} <= paths
    inner = call(app, "POST", "/mock/users/configure", {"staus": 200, "endpoints": [
        {"path": "a", "resposne": 1}]})
    assert hints_of(inner) == {"endpoints[0].resposne": "did you mean 'response'?",
                               "staus": "did you mean 'status'?"}
    calls = call(app, "POST", "/mock/users/configure", {"calls": [
        {"service": "x", "path": 3, "method": "GE T", "required": "y", "headers": {"a": 1}}, 4,
        {"service": "y", "headers": "x"}]})
    assert {e["path"] for e in calls.json["errors"]} == {
        "calls[0].path", "calls[0].method", "calls[0].required", "calls[0].headers.a", "calls[1]",
        "calls[2].headers"}
    assert call(app, "POST", "/mock/users/configure", {"endpoints": {}}).status == 400


def test_endpoint_calls_override_service_calls():
    app = make_app({"services": [
        {"service_id": "api", "mock": {"calls": [{"service": "db"}], "endpoints": [
            {"path": "health", "calls": []}, {"path": "users"}]}},
        {"service_id": "db", "mock": {"status": 500}}],
        "circuit_breakers": {"enabled": False}})
    assert call(app, "GET", "/mock/api/health").status == 200
    assert call(app, "GET", "/mock/api/users").status == 502
    view = call(app, "GET", "/registry/api").json["mock"]
    assert [e["calls"] for e in view["endpoints"]] == [[], [{"service": "db", "path": "",
                                                            "method": "GET"}]]


def test_mock_sequences_persist_across_unrelated_changes():
    app = make_app({"services": [{"service_id": "s", "mock": {"sequence": [
        {"status": 200}, {"status": 201}]}}]})
    assert call(app, "GET", "/mock/s/").status == 200
    call(app, "POST", "/registry/register", {"service_id": "other"})
    call(app, "POST", "/mock/other/configure", {})
    assert call(app, "GET", "/mock/s/").status == 201


# --- config section -------------------------------------------------------------------------

def mesh_problems(mesh, endpoints=()):
    with pytest.raises(ConfigError) as info:
        build_config({"endpoints": list(endpoints), "mesh": mesh})
    return {p.path: p for p in info.value.problems}


def test_config_validation_collects_every_problem_with_paths():
    found = mesh_problems({
        "prefx": "", "prefix": "mesh/", "default_timeout_ms": 0, "max_call_depth": 0,
        "enabled": "yes", "allow_cycles": 1,
        "services": [{"service_id": "a", "mock": {"endpoints": [{"path": "/x", "staus": 1}]}},
                     {"service_id": "a"}, {"sevice_id": "b"}],
        "dependencies": [{"from_service": "a", "to_service": "b"},
                         {"from_service": "b", "to_service": "a"}, {"from_service": "x"}],
        "circuit_breakers": {"default": {"sliding_window_size": 0}, "breakers": [
            {"service_id": "a", "bogus": 1}], "enabeld": True},
        "chaos": [{"type": "latency", "service": "a"}],
        "tracing": {"max_spans": 0, "x": 1},
        "health": {"ttl_s": -1, "check_interval_s": None}})
    expected = {"mesh.prefx", "mesh.prefix", "mesh.default_timeout_ms", "mesh.max_call_depth",
                "mesh.enabled", "mesh.allow_cycles",
                "mesh.services[0].mock.endpoints[0].staus", "mesh.services[1].service_id",
                "mesh.services[2].sevice_id", "mesh.services[2].service_id",
                "mesh.dependencies[1]", "mesh.dependencies[2].to_service",
                "mesh.circuit_breakers.default.sliding_window_size",
                "mesh.circuit_breakers.breakers[0].bogus", "mesh.circuit_breakers.enabeld",
                "mesh.chaos[0].latency_ms", "mesh.tracing.max_spans", "mesh.tracing.x",
                "mesh.health.ttl_s", "mesh.health.check_interval_s"}
    assert expected <= set(found), expected - set(found)
    assert found["mesh.prefx"].hint == "did you mean 'prefix'?"
    assert "closes the dependency cycle b -> a -> b" == found["mesh.dependencies[1]"].message
    assert "duplicate service id 'a'" in found["mesh.services[1].service_id"].message


@pytest.mark.parametrize("mesh, path", [
    ([], "mesh"),
    ({"services": {}}, "mesh.services"),
    ({"circuit_breakers": []}, "mesh.circuit_breakers"),
    ({"tracing": 1}, "mesh.tracing"),
    ({"health": "x"}, "mesh.health"),
    ({"prefix": "/__admin/mesh"}, "mesh.prefix"),
    ({"prefix": "/a b"}, "mesh.prefix"),
    ({"services": [{"service_id": "a", "mock": {"endpoints": [{"path": 3}]}}]},
     "mesh.services[0].mock.endpoints[0].path"),
])
def test_config_section_shapes(mesh, path):
    assert path in mesh_problems(mesh)


def test_config_endpoint_colliding_with_the_mesh_names_the_setting():
    found = mesh_problems({"prefix": ""}, endpoints=[{"path": "/registry/x"},
                                                     {"path": "/traces"}, {"path": "/ok"},
                                                     {"path": "/{any}"}])
    assert set(found) == {"endpoints[0].path", "endpoints[1].path"}
    assert "mesh.prefix" in found["endpoints[0].path"].hint
    assert "collides with the mesh API route /registry" in found["endpoints[0].path"].message
    with pytest.raises(ConfigError, match="mesh.prefix is ''"):
        build_config({"endpoints": [{"path": "/mock/x"}]})   # the default mount collides too
    build_config({"endpoints": [{"path": "/mock/x"}], "mesh": {"prefix": "/__mesh"}})
    build_config({"endpoints": [{"path": "/mock/x"}], "mesh": {"enabled": False}})
    with pytest.raises(ConfigError, match="/__mesh/chaos"):
        build_config({"endpoints": [{"path": "/__mesh/chaos/x"}], "mesh": {"prefix": "/__mesh"}})


def test_prefix_moves_the_api_and_disabled_mesh_mounts_nothing():
    app = make_app(seed_mesh(prefix="/__mesh"),
                   endpoints=[{"path": "/registry", "response": "own"}])
    assert call(app, "GET", "/registry").text == "own"
    assert call(app, "GET", "/__mesh/registry").json["count"] == 5
    registered = call(app, "POST", "/__mesh/registry/register", {"service_id": "z"})
    assert registered.headers.get("location") == "/__mesh/registry/z"
    assert call(app, "GET", "/__mesh/mock/frontend/").status == 200
    off = make_app({"enabled": False}, endpoints=[{"path": "/mock/x", "response": "plain"}])
    assert off.mesh.prefixes == () and call(off, "GET", "/mock/x").text == "plain"


def test_hot_reload_rebuilds_topology_and_keeps_api_additions():
    clock = FakeClock()
    app = make_app(seed_mesh(chaos=[{"type": "latency", "service": "database", "latency_ms": 5,
                                     "id": "slow-db", "duration_s": 100}]), clock)
    assert call(app, "GET", "/chaos/events").json["active"][0]["id"] == "slow-db"
    call(app, "POST", "/registry/register", {"service_id": "extra"})
    call(app, "POST", "/dependencies", {"from_service": "extra", "to_service": "database"})
    call(app, "POST", "/mock/extra/configure", {"status": 203})
    call(app, "POST", "/dependencies", {"from_service": "frontend", "to_service": "api-gateway",
                                        "required": False})   # overrides a config edge for now
    clock.advance(10)

    def change(raw):
        raw["mesh"]["services"] = [s for s in raw["mesh"]["services"]
                                   if s["service_id"] != "frontend"]
        raw["mesh"]["dependencies"] = raw["mesh"]["dependencies"][1:]
        raw["mesh"]["chaos"].append({"type": "service_outage", "service": "user-service",
                                     "duration_s": 50})
        raw["mesh"]["prefix"] = "/m"
    app.edit(change)
    names = [s["service_id"] for s in call(app, "GET", "/m/registry").json["services"]]
    assert names == ["api-gateway", "database", "extra", "order-service", "user-service"]
    assert call(app, "GET", "/m/mock/extra/").status == 203
    graph = call(app, "GET", "/m/dependencies/graph").json
    assert {(d["from_service"], d["to_service"], d["source"]) for d in graph["dependencies"]} >= {
        ("extra", "database", "api"), ("frontend", "api-gateway", "api")}
    events = call(app, "GET", "/m/chaos/events").json
    slow = next(e for e in events["active"] if e["id"] == "slow-db")
    assert slow["started_at"] == 1_000_000.0          # not restarted by the reload
    assert {e["type"] for e in events["active"]} == {"latency", "service_outage"}
    assert call(app, "GET", "/registry").status == 404   # moved: now a plain miss
    app.edit(lambda raw: raw["mesh"].update(chaos=[]))
    assert call(app, "GET", "/m/chaos/events").json["active"] == []


def test_reload_drops_an_api_edge_that_now_closes_a_cycle():
    logged = []
    app = MockApp({"mesh": {"dependencies": [{"from_service": "a", "to_service": "b"}]}},
                  clock=FakeClock(), log=logged.append)
    added = call(app, "POST", "/dependencies", {"from_service": "c", "to_service": "a"})
    assert added.status == 201
    app.edit(lambda raw: raw["mesh"]["dependencies"].append({"from_service": "a",
                                                             "to_service": "c"}))
    graph = call(app, "GET", "/dependencies/graph").json   # the next request syncs
    assert [(d["from_service"], d["to_service"]) for d in graph["dependencies"]] == [
        ("a", "b"), ("a", "c")]
    assert any("dropped dependency c -> a" in line and "closes c -> a -> c" in line
               for line in logged)


def test_config_breaker_overrides_apply_and_reload_refreshes_changed_breakers():
    app = make_app(seed_mesh(circuit_breakers={"default": SMALL_BREAKER, "breakers": [
        {"service_id": "database", "endpoint": "*", "sliding_window_size": 9}]}))
    call(app, "GET", "/mock/frontend/")
    assert breaker(app, "database")["config"]["sliding_window_size"] == 9
    assert breaker(app, "frontend")["config"]["sliding_window_size"] == 4
    call(app, "POST", "/circuit-breakers/frontend/*/force-open")
    app.edit(lambda raw: raw["mesh"]["circuit_breakers"]["breakers"][0].update(
        sliding_window_size=6))
    assert breaker(app, "database")["config"]["sliding_window_size"] == 6
    assert breaker(app, "frontend")["state"] == "forced_open"    # unchanged config: state kept


def test_config_services_with_mocks_and_health_policy():
    clock = FakeClock()
    app = make_app(seed_mesh(health={"ttl_s": 3, "check_interval_s": 1, "check_timeout_s": 0.5}),
                   clock)
    assert app.mesh.registry.policy.check_timeout_s == 0.5
    record = call(app, "GET", "/registry/database").json
    assert record["source"] == "config" and record["mock"]["endpoints"][0]["id"] == "*"
    clock.advance(4)
    assert call(app, "GET", "/registry?health=critical").json["count"] == 5


# --- documents ------------------------------------------------------------------------------

def test_openapi_paths_cover_every_route():
    paths = openapi_paths("/__mesh")
    assert len(MESH_ROUTES) == 20
    assert paths["/__mesh/registry/register"]["post"]["requestBody"]["content"][
        "application/json"]["schema"]["properties"]["service_id"] == {"type": "string"}
    assert set(paths["/__mesh/mock/{service_id}/{path}"]) == {"get", "post", "put", "patch",
                                                              "delete"}
    assert paths["/__mesh/dependencies/{from_service}/{to_service}"]["delete"]["parameters"][1][
        "name"] == "to_service"
    ids = [op["operationId"] for item in paths.values() for op in item.values()]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("module", [registry, tracing, mesh_config])
def test_module_doctests(module):
    result = doctest.testmod(module)
    assert result.failed == 0 and result.attempted > 0


def test_standalone_mesh_without_an_app():
    mesh = Mesh(clock=FakeClock(), seed=1)
    assert mesh.prefixes == tuple(f"/{r}" for r in mesh_config.MESH_ROOTS)
    mesh.registry.register({"service_id": "a"})
    answer = Answer(mesh.dispatch(Request("GET", "/mock/a/x"), "/mock/a/x"))
    assert answer.json["service"] == "a"
    assert mesh.handle(None, None, Request("GET", "/elsewhere")) is None
    ipv6 = mesh_config.registration({"service_id": "x", "endpoint": "http://[::1]:5"}, "", [])
    assert ipv6["address"] == "http://[::1]:5"


# --- edges of the edges ---------------------------------------------------------------------

@pytest.mark.parametrize("mesh, path", [
    ({"services": [3]}, "mesh.services[0]"),
    ({"services": [{"service_id": "a", "mock": 3}]}, "mesh.services[0].mock"),
    ({"services": [{"service_id": "a", "mock": {"endpoints": [3]}}]},
     "mesh.services[0].mock.endpoints[0]"),
    ({"dependencies": [3]}, "mesh.dependencies[0]"),
    ({"circuit_breakers": {"breakers": [3]}}, "mesh.circuit_breakers.breakers[0]"),
    ({"circuit_breakers": {"default": 3}}, "mesh.circuit_breakers.default"),
    ({"chaos": {}}, "mesh.chaos"),
])
def test_config_item_shapes(mesh, path):
    assert path in mesh_problems(mesh)


def test_config_odds_and_ends():
    config = build_config({"endpoints": [{"path": "/x"}], "mesh": {
        "services": [{"service_id": "a", "port": 5, "health_check_url": "https://h/ready",
                      "mock": {"endpoints": [{"path": "x", "calls": [
                          {"service": "b", "required": False, "headers": {"X-A": "1"}}]}]}}]}})
    spec = config.sections["mesh"]
    assert spec.services[0]["health_check_url"] == "https://h/ready"
    mock = spec.mocks["a"]
    assert mock.as_dict()["endpoints"][0]["calls"] == [
        {"service": "b", "path": "", "method": "GET", "required": False}]
    assert mock.calls["get-x"][0].headers == (("X-A", "1"),)
    for endpoints in ("x", [3, {"path": 5}, {"path": "^/mock"}]):   # no crash, no collision
        with pytest.raises(ConfigError) as info:
            build_config({"endpoints": endpoints})
        assert all("mesh" not in str(p) for p in info.value.problems)


def test_heartbeat_body_shapes():
    problems = []
    assert mesh_config.heartbeat_body(None, problems) == ("passing", "")
    assert mesh_config.heartbeat_body([1], problems) == ("passing", "")
    assert [p.path for p in problems] == [""]


def test_api_edge_and_mock_named_by_the_config_are_taken_over_on_reload():
    app = make_app(seed_mesh())
    call(app, "POST", "/dependencies", {"from_service": "web", "to_service": "api-gateway"})
    call(app, "POST", "/mock/web/configure", {"status": 201})
    call(app, "POST", "/mock/database/configure", {"status": 202})
    assert call(app, "GET", "/mock/database/").status == 202      # the API override, for now

    def change(raw):
        raw["mesh"]["dependencies"].append({"from_service": "web", "to_service": "api-gateway",
                                            "required": False})
        raw["mesh"]["services"].append({"service_id": "web", "mock": {"status": 204}})
    app.edit(change)
    view = call(app, "GET", "/dependencies/web").json["depends_on"][0]
    assert view["source"] == "config" and view["required"] is False
    assert call(app, "GET", "/mock/web/").status == 204
    assert call(app, "GET", "/mock/database/").status == 200      # config re-applied


def test_reload_restarts_a_changed_config_event_under_a_fresh_id():
    clock = FakeClock()
    app = make_app(seed_mesh(chaos=[{"type": "latency", "service": "database", "id": "lat",
                                     "latency_ms": 5}]), clock)
    app.edit(lambda raw: raw["mesh"]["chaos"][0].update(latency_ms=9))
    events = call(app, "GET", "/chaos/events").json
    assert [e["id"] for e in events["active"]] == ["lat-2"]
    assert [(e["id"], e["state"]) for e in events["past"]] == [("lat", "stopped")]


def test_reload_tolerates_a_config_event_the_engine_forgot():
    clock = FakeClock()
    app = make_app(seed_mesh(chaos=[{"type": "service_outage", "service": "x", "id": "old",
                                     "duration_s": 1}]), clock)
    clock.advance(2)
    for n in range(100):   # push "old" out of the engine's bounded history
        call(app, "POST", "/chaos/events", {"type": "service_outage", "service": "x",
                                            "duration_s": 1})
        clock.advance(2)
    app.edit(lambda raw: raw["mesh"].update(chaos=[]))
    assert call(app, "GET", "/chaos/events").json["metrics"]["evicted"] >= 1


def test_partition_timeout_plus_latency_is_capped_at_the_budget():
    mesh = seed_mesh(circuit_breakers={"enabled": False})
    mesh["dependencies"][4]["timeout_ms"] = 200
    app = make_app(mesh)
    call(app, "POST", "/chaos/events", {"type": "network_partition",
                                        "between": ["order-service", "database"]})
    call(app, "POST", "/chaos/events", {"type": "latency", "service": "database",
                                        "latency_ms": 50})
    assert call(app, "GET", "/mock/order-service/").response.delay_s == pytest.approx(0.2)


def test_remote_hops_with_chaos_latency_and_error_answers():
    from pymock.mesh_calls import RemoteAnswer
    sent = []

    def fake_http(method, url, headers, body, timeout):
        sent.append(timeout)
        return RemoteAnswer(500 if "bad" in url else 200, (), b"{}", 0.01)
    app = make_app({"services": [
        {"service_id": "web", "mock": {"calls": [{"service": "far"}, {"service": "bad"}]}},
        {"service_id": "far", "endpoint": "http://far:1"},
        {"service_id": "bad", "endpoint": "http://bad:1"}],
        "dependencies": [{"from_service": "web", "to_service": "far", "timeout_ms": 1000}],
        "circuit_breakers": {"enabled": False}})
    app.mesh.set_http_call(fake_http)
    call(app, "POST", "/chaos/events", {"type": "latency", "service": "far", "latency_ms": 300})
    answer = call(app, "GET", "/mock/web/")
    assert sent[0] == pytest.approx(0.7)        # the budget left after the injected delay
    assert answer.status == 502 and answer.json["failure_path"][-1] == {
        "service": "bad", "status": 500, "cause": "answered 500"}
    entry = call(app, "GET", "/mock/far/")
    assert entry.status == 200 and entry.response.delay_s == pytest.approx(0.3)
    assert sent[-1] == 10.0                     # an outside caller: the default timeout


def test_child_context_never_reuses_the_parent_span_id():
    from pymock.mesh_calls import _Ctx

    class Rigged:
        values = iter([0xAB, 0xAB, 0xCD])

        def getrandbits(self, bits):
            return next(self.values)
    parent = _Ctx("t" * 32, "00000000000000ab", None, 1, None)
    child = parent.child(Rigged())   # draws ab (the parent's), ab again, then cd
    assert (child.parent_id, child.span_id) == ("00000000000000ab", "00000000000000cd")


def test_mesh_handle_syncs_to_the_config_it_is_given():
    app = make_app(seed_mesh())
    fresh = build_config({"mesh": {"prefix": "/x"}})
    assert app.mesh.handle(app, fresh, Request("GET", "/x/registry")).status == 200
    assert app.mesh._prefix == "/x"
    app.mesh._sync(fresh.sections["mesh"])   # the same spec again: nothing to do
    assert app.mesh.settings is fresh.sections["mesh"]


def test_entry_context_never_reuses_the_incoming_parent_id():
    from pymock.mesh_calls import _entry_context

    class Rigged:
        values = iter([0xAB, 0xCD])

        def getrandbits(self, bits):
            return next(self.values)
    parent = f"00-{TRACE}-00000000000000ab-01"
    ctx = _entry_context(Headers([("traceparent", parent)]), Rigged())
    assert (ctx.trace_id, ctx.parent_id, ctx.span_id) == (TRACE, "00000000000000ab",
                                                           "00000000000000cd")


def test_a_config_without_a_mesh_section_keeps_the_default_mesh():
    class Bare:
        sections = {}
    configs = [Bare(), Bare()]
    mesh = Mesh(config_source=lambda: configs[0], clock=FakeClock())
    first = mesh.settings
    configs.pop(0)
    assert mesh.prefixes and mesh.settings is first   # a new config, the same default spec


def test_admin_health_reports_the_mesh_without_degrading():
    clock = FakeClock()
    app = make_app(seed_mesh(health={"ttl_s": 1}), clock)
    call(app, "GET", "/mock/frontend/")
    call(app, "POST", "/circuit-breakers/database/*/force-open")
    call(app, "POST", "/chaos/events", {"type": "latency", "service": "x", "latency_ms": 1})
    clock.advance(2)
    health = call(app, "GET", "/__admin/health").json
    assert health["status"] == "ok"
    mesh = health["mesh"]
    assert mesh["ok"] is True and mesh["services"] == 5 and mesh["by_health"]["critical"] == 5
    assert (mesh["open_breakers"], mesh["active_chaos_events"], mesh["spans"]) == (1, 1, 6)
    assert mesh["mock_services"] == 5 and mesh["dependencies"] == 5 and not mesh["real_http"]


def test_mesh_openapi_paths_follow_the_mount():
    assert "/__mesh/traces" in make_app({"prefix": "/__mesh"}).mesh.openapi_paths()
    assert make_app({"enabled": False}).mesh.openapi_paths() == {}
