"""MockApp in process (no sockets): mocks, misses, CORS, injection, admin API, reload, journal."""

import collections
import json

import pytest

from pymock.app import MockApp
from pymock.model import Request


def call(app, method, target, body=b"", headers=()):
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        headers = [("Content-Type", "application/json"), *headers]
    return app.handle(Request(method, target, headers=headers, body=body))


def as_json(response):
    return json.loads(response.body)


# ---------------------------------------------------------------- serving mocks

def test_issue_example_path_param_template():
    app = MockApp({"endpoints": [{"path": "/users/{id}", "response": {"id": "{{ request.path.id }}"}}]})
    response = call(app, "GET", "/users/7")
    assert (response.status, as_json(response)) == (200, {"id": "7"})
    assert response.header("Content-Type") == "application/json"


def test_template_sees_query_headers_and_json_body_and_keeps_types():
    app = MockApp({"endpoints": [{"path": "/echo", "method": "POST", "status": 201,
                                  "headers": {"X-Echo": "{{ request.headers['x-tag'] }}"},
                                  "response": {"count": "{{ request.json.count }}", "q": "{{ request.query.q }}",
                                               "text": "{{ request.json.text }}"}}]})
    response = call(app, "POST", "/echo?q=hi", {"count": 3, "text": 'quote " and \\ and\nnewline'},
                    headers=[("X-Tag", "t1")])
    assert response.status == 201
    assert as_json(response) == {"count": 3, "q": "hi", "text": 'quote " and \\ and\nnewline'}
    assert response.header("X-Echo") == "t1"


def test_text_template_body():
    app = MockApp({"endpoints": [{"path": "/hello", "response": "Hello, {{ request.query.name | default('world') }}!"}]})
    assert call(app, "GET", "/hello").body == b"Hello, world!"
    assert call(app, "GET", "/hello?name=Ada").body == b"Hello, Ada!"


def test_unmatched_request_gets_a_problem_naming_the_closest_mock():
    app = MockApp({"endpoints": [{"id": "users", "path": "/users/{id}"}, {"id": "health", "path": "/health"}]})
    response = call(app, "GET", "/user/7")
    document = as_json(response)
    assert response.status == 404
    assert response.header("Content-Type") == "application/problem+json"
    assert document["detail"] == "GET /user/7; the closest mock is 'users'"
    assert document["near_misses"][0]["mismatches"][0]["field"] == "path"


def test_empty_config_miss_says_so():
    document = as_json(call(MockApp({"endpoints": []}), "GET", "/x"))
    assert document["detail"] == "GET /x; no mocks are configured"


def test_wrong_method_gets_405_with_allow():
    app = MockApp({"endpoints": [{"path": "/items"}, {"path": "/items", "method": "POST"}]})
    response = call(app, "DELETE", "/items")
    assert response.status == 405
    assert response.header("Allow") == "GET, HEAD, POST"


def test_failure_injection_is_reproducible_with_a_seed():
    raw = {"seed": 42, "endpoints": [{"path": "/flaky", "failure_rate": 0.3,
                                      "failure": {"status": 503, "body": {"error": "down"}}}]}
    first = [call(MockApp(raw), "GET", "/flaky").status for _ in range(1)]
    app_a, app_b = MockApp(raw), MockApp(raw)
    statuses_a = [call(app_a, "GET", "/flaky").status for _ in range(200)]
    statuses_b = [call(app_b, "GET", "/flaky").status for _ in range(200)]
    assert statuses_a == statuses_b
    assert first[0] == statuses_a[0]
    failures = statuses_a.count(503)
    assert 40 <= failures <= 80, failures  # about 30% of 200
    assert set(statuses_a) == {200, 503}


def test_default_failure_response():
    app = MockApp({"seed": 1, "endpoints": [{"path": "/x", "failure_rate": 1.0}]})
    response = call(app, "GET", "/x")
    assert (response.status, as_json(response)) == (500, {"error": "injected failure"})


def test_weighted_variants_follow_their_weights():
    app = MockApp({"seed": 3, "endpoints": [{"path": "/w", "variants": [
        {"weight": 3, "body": {"v": "usual"}}, {"weight": 1, "status": 500, "body": {"v": "rare"}}]}]})
    counts = collections.Counter(call(app, "GET", "/w").status for _ in range(400))
    assert 260 <= counts[200] <= 340 and counts[200] + counts[500] == 400


def test_sequence_loops_or_stays():
    steps = [{"body": {"n": 1}}, {"body": {"n": 2}}]
    app = MockApp({"endpoints": [{"path": "/loop", "sequence": steps},
                                 {"path": "/stay", "sequence": {"responses": steps, "end": "stay"}}]})
    assert [as_json(call(app, "GET", "/loop"))["n"] for _ in range(5)] == [1, 2, 1, 2, 1]
    assert [as_json(call(app, "GET", "/stay"))["n"] for _ in range(4)] == [1, 2, 2, 2]
    call(app, "POST", "/__admin/reset")
    assert as_json(call(app, "GET", "/stay"))["n"] == 1


def test_latency_and_fault_are_planned_not_performed():
    app = MockApp({"endpoints": [{"path": "/slow", "latency_ms": 250}, {"path": "/reset", "fault": "connection_reset"}]})
    slow = call(app, "GET", "/slow")
    assert slow.delay_s == 0.25 and slow.fault is None
    assert call(app, "GET", "/reset").fault == "connection_reset"


def test_template_render_error_is_a_500_naming_the_endpoint():
    app = MockApp({"endpoints": [{"id": "loop", "path": "/big",
                                  "response": "{% for a in range_list %}{% endfor %}{{ 1 // 0 }}"}]})
    response = call(app, "GET", "/big")
    assert response.status == 500
    assert "endpoint 'loop'" in as_json(response)["detail"]


# ---------------------------------------------------------------- CORS

def test_cors_preflight_and_simple_request():
    app = MockApp({"cors": True, "endpoints": [{"path": "/api", "method": "POST"}]})
    preflight = call(app, "OPTIONS", "/api", headers=[("Origin", "http://localhost:3000"),
                                                      ("Access-Control-Request-Method", "POST"),
                                                      ("Access-Control-Request-Headers", "X-Custom")])
    assert preflight.status == 204
    assert preflight.header("Access-Control-Allow-Origin") == "*"
    assert "POST" in preflight.header("Access-Control-Allow-Methods")
    assert preflight.header("Access-Control-Allow-Headers") == "X-Custom"
    actual = call(app, "POST", "/api", headers=[("Origin", "http://localhost:3000")])
    assert actual.header("Access-Control-Allow-Origin") == "*"


def test_cors_with_credentials_echoes_only_listed_origins():
    app = MockApp({"cors": {"origins": ["https://app.example"], "allow_credentials": True,
                            "expose_headers": ["X-Total"]}, "endpoints": [{"path": "/api"}]})
    allowed = call(app, "GET", "/api", headers=[("Origin", "https://app.example")])
    assert allowed.header("Access-Control-Allow-Origin") == "https://app.example"
    assert allowed.header("Access-Control-Allow-Credentials") == "true"
    assert allowed.header("Access-Control-Expose-Headers") == "X-Total"
    assert allowed.header("Vary") == "Origin"
    other = call(app, "GET", "/api", headers=[("Origin", "https://evil.example")])
    assert other.header("Access-Control-Allow-Origin") is None


def test_no_cors_headers_unless_enabled():
    app = MockApp({"endpoints": [{"path": "/api"}]})
    assert call(app, "GET", "/api", headers=[("Origin", "x")]).header("Access-Control-Allow-Origin") is None


# ---------------------------------------------------------------- admin: mocks

@pytest.fixture
def app():
    return MockApp({"endpoints": [{"id": "a", "path": "/a", "response": {"v": 1}, "tags": ["t"]},
                                  {"id": "b", "path": "/b", "response": {"v": 2}}]})


def test_admin_lists_and_gets_mocks(app):
    listing = as_json(call(app, "GET", "/__admin/mocks"))
    assert [m["id"] for m in listing["mocks"]] == ["a", "b"] and listing["total"] == 2
    assert [m["id"] for m in as_json(call(app, "GET", "/__admin/mocks?tag=t"))["mocks"]] == ["a"]
    assert as_json(call(app, "GET", "/__admin/mocks/a"))["response"] == {"v": 1}
    missing = call(app, "GET", "/__admin/mocks/zzz")
    assert missing.status == 404 and as_json(missing)["detail"] == "no mock with id 'zzz'"


def test_admin_create_replace_patch_delete(app):
    created = call(app, "POST", "/__admin/mocks", {"path": "/c", "response": "c"})
    assert created.status == 201 and created.header("Location") == "/__admin/mocks/get-c"
    assert call(app, "GET", "/c").body == b"c"
    assert call(app, "POST", "/__admin/mocks", {"id": "a", "path": "/dup"}).status == 409
    assert call(app, "PUT", "/__admin/mocks/a", {"path": "/a", "status": 202}).status == 200
    assert call(app, "GET", "/a").status == 202
    patched = call(app, "PATCH", "/__admin/mocks/b", {"response": {"v": 3}, "tags": ["x"]})
    assert as_json(patched)["tags"] == ["x"]
    assert as_json(call(app, "GET", "/b")) == {"v": 3}
    call(app, "PATCH", "/__admin/mocks/b", {"tags": None})
    assert "tags" not in as_json(call(app, "GET", "/__admin/mocks/b"))
    assert call(app, "DELETE", "/__admin/mocks/b").status == 204
    assert call(app, "GET", "/b").status == 404
    assert call(app, "DELETE", "/__admin/mocks/b").status == 404


def test_admin_enable_disable(app):
    assert as_json(call(app, "POST", "/__admin/mocks/a/disable"))["enabled"] is False
    assert call(app, "GET", "/a").status == 404
    call(app, "POST", "/__admin/mocks/a/enable")
    assert call(app, "GET", "/a").status == 200


def test_admin_rejects_bad_mocks_and_keeps_serving(app):
    response = call(app, "POST", "/__admin/mocks", {"path": "nope", "staus": 2})
    assert response.status == 400
    assert as_json(response)["errors"] == [
        {"path": "staus", "message": "unknown key", "hint": "did you mean 'status'?"},
        {"path": "path", "message": "must start with '/' (or '^' for a regex)", "hint": "did you mean '/nope'?"}]
    assert call(app, "GET", "/a").status == 200
    json_type = [("Content-Type", "application/json")]
    for body, detail in [(b"", "send a JSON object"), (b"[1]", "expected a JSON object"),
                         (b"[" * 100000, "the request body is nested too deeply")]:
        bad = call(app, "POST", "/__admin/mocks", body, headers=json_type)
        assert bad.status == 400 and as_json(bad)["detail"] == detail
    broken = call(app, "POST", "/__admin/mocks", b'{"path": ', headers=json_type)
    assert broken.status == 400
    assert as_json(broken)["detail"] == "the request body is not valid JSON at line 1, column 10: Expecting value"


def test_admin_save_and_reset_need_a_file(app):
    assert call(app, "POST", "/__admin/mocks/save").status == 409
    assert call(app, "POST", "/__admin/mocks/reset").status == 409


def test_admin_save_writes_atomically_and_keeps_a_backup(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"endpoints": [{"id": "a", "path": "/a"}]}))
    app = MockApp(str(path))
    call(app, "POST", "/__admin/mocks", {"id": "new", "path": "/new"})
    saved = as_json(call(app, "POST", "/__admin/mocks/save"))
    assert saved["endpoints"] == 2
    assert [e["id"] for e in json.loads(path.read_text())["endpoints"]] == ["a", "new"]
    assert [e["id"] for e in json.loads((tmp_path / "config.json.bak").read_text())["endpoints"]] == ["a"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".pymock-")] == []


def test_admin_reset_discards_edits(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"endpoints": [{"id": "a", "path": "/a"}]}))
    app = MockApp(str(path))
    call(app, "DELETE", "/__admin/mocks/a")
    assert call(app, "GET", "/a").status == 404
    assert call(app, "POST", "/__admin/mocks/reset").status == 200
    assert call(app, "GET", "/a").status == 200


def test_admin_save_yaml(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("endpoints:\n  - id: a\n    path: /a\n")
    app = MockApp(str(path))
    call(app, "PATCH", "/__admin/mocks/a", {"status": 201})
    call(app, "POST", "/__admin/mocks/save")
    assert MockApp(str(path)).config.endpoint("a").response.status == 201


# ---------------------------------------------------------------- admin: reload, health, auth

def test_reload_keeps_previous_config_on_a_bad_file(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"endpoints": [{"path": "/a", "response": "one"}]}))
    app = MockApp(str(path))
    path.write_text(json.dumps({"endpoints": [{"path": "/a", "response": "two"}]}))
    assert as_json(call(app, "POST", "/__reload"))["reloaded"] is True
    assert call(app, "GET", "/a").body == b"two"
    path.write_text('{"endpoints": [')
    rejected = call(app, "GET", "/__reload")
    assert rejected.status == 400
    assert "JSON syntax error" in as_json(rejected)["errors"][0]["message"]
    assert call(app, "GET", "/a").body == b"two"
    health = as_json(call(app, "GET", "/__admin/health"))
    assert health["status"] == "degraded" and health["last_reload"]["ok"] is False
    path.write_text(json.dumps({"endpoints": []}))
    assert call(app, "POST", "/__admin/reload").status == 200
    assert as_json(call(app, "GET", "/__admin/health"))["status"] == "ok"


def test_reload_of_a_dict_config_rebuilds_it(app):
    assert as_json(call(app, "POST", "/__admin/reload"))["endpoints"] == 2


def test_admin_token_guards_every_admin_route():
    app = MockApp({"endpoints": [{"path": "/open"}]}, admin_token="s3cret")
    for target in ("/__admin/health", "/__logs", "/__reload"):
        denied = call(app, "GET", target)
        assert denied.status == 401 and denied.header("WWW-Authenticate").startswith("Bearer")
    assert call(app, "GET", "/__admin/health", headers=[("Authorization", "Bearer wrong")]).status == 401
    assert call(app, "GET", "/__admin/health", headers=[("Authorization", "Bearer s3cret")]).status == 200
    assert call(app, "GET", "/open").status == 200


def test_unknown_admin_route_and_wrong_method():
    app = MockApp({"endpoints": []})
    assert call(app, "GET", "/__admin/nope").status == 404
    wrong = call(app, "DELETE", "/__admin/health")
    assert wrong.status == 405 and wrong.header("Allow") == "GET, HEAD"
    assert call(app, "HEAD", "/__admin/health").body == b""


def test_version_and_openapi_document_cover_every_route():
    app = MockApp({"endpoints": []})
    assert as_json(call(app, "GET", "/__admin/version"))["name"] == "pymock"
    document = as_json(call(app, "GET", "/__admin/openapi.json"))
    from pymock.admin import ADMIN_ROUTES
    for route in ADMIN_ROUTES:
        assert route.method.lower() in document["paths"][route.path]
    assert document["paths"]["/__admin/mocks/{id}"]["get"]["parameters"][0]["name"] == "id"


# ---------------------------------------------------------------- journal

def test_journal_records_matches_and_misses_with_filters():
    app = MockApp({"endpoints": [{"id": "a", "path": "/a"}]})
    call(app, "GET", "/a?x=1", headers=[("X-T", "1")])
    call(app, "POST", "/missing", b"payload")
    entries = as_json(call(app, "GET", "/__logs"))["requests"]
    assert [(e["method"], e["path"], e["matched"], e["status"]) for e in entries] == [
        ("POST", "/missing", None, 404), ("GET", "/a", "a", 200)]
    assert entries[1]["query"] == "x=1" and entries[1]["headers"]["x-t"] == "1"
    assert entries[0]["body"] == "payload" and entries[0]["near_misses"][0]["id"] == "a"
    assert [e["path"] for e in as_json(call(app, "GET", "/__admin/requests?matched=false"))["requests"]] == ["/missing"]
    assert [e["path"] for e in as_json(call(app, "GET", "/__admin/requests?method=get&status=200"))["requests"]] == ["/a"]
    assert [e["path"] for e in as_json(call(app, "GET", "/__admin/requests/unmatched"))["requests"]] == ["/missing"]
    one = as_json(call(app, "GET", f"/__admin/requests/{entries[1]['id']}"))
    assert one["path"] == "/a"
    assert call(app, "GET", "/__admin/requests?bogus=1").status == 400
    assert call(app, "GET", "/__admin/requests?limit=x").status == 400
    assert len(as_json(call(app, "GET", "/__admin/requests?limit=1"))["requests"]) == 1
    assert as_json(call(app, "DELETE", "/__admin/requests"))["deleted"] == 2
    assert call(app, "GET", "/__admin/requests/req-1").status == 404


def test_journal_is_bounded_and_counts_evictions():
    app = MockApp({"journal": {"size": 3, "max_body_bytes": 4}, "endpoints": [{"path": "/a", "method": "POST"}]})
    for n in range(10):
        call(app, "POST", "/a", b"0123456789")
    stats = as_json(call(app, "GET", "/__admin/requests"))
    assert (stats["count"], stats["total"], stats["evicted"]) == (3, 10, 7)
    entry = stats["requests"][0]
    assert entry["body"] == "0123" and entry["body_truncated"] is True and entry["body_size"] == 10


def test_admin_requests_are_not_journaled():
    app = MockApp({"endpoints": []})
    call(app, "GET", "/__admin/health")
    assert app.journal.stats()["total"] == 0


def test_journal_can_be_disabled():
    app = MockApp({"journal": {"enabled": False}, "endpoints": [{"path": "/a"}]})
    call(app, "GET", "/a")
    assert app.journal.list() == []


# ---------------------------------------------------------------- observability

def test_request_id_is_echoed_or_generated():
    app = MockApp({"endpoints": [{"path": "/a"}]})
    assert call(app, "GET", "/a", headers=[("X-Request-Id", "trace-me")]).header("X-Request-Id") == "trace-me"
    generated = call(app, "GET", "/a").header("X-Request-Id")
    assert generated.startswith("req-") and app.journal.list()[0]["id"] == generated


def test_prometheus_metrics():
    app = MockApp({"seed": 1, "endpoints": [{"id": "a", "path": "/a", "latency_ms": 20},
                                            {"id": "f", "path": "/f", "fault": "empty_response"}]})
    for _ in range(3):
        call(app, "GET", "/a")
    call(app, "GET", "/f")
    call(app, "GET", "/nope")
    response = call(app, "GET", "/__admin/metrics")
    assert response.header("Content-Type").startswith("text/plain; version=0.0.4")
    text = response.body.decode()
    assert 'pymock_requests_total{endpoint="a",status="200"} 3' in text
    assert "pymock_unmatched_requests_total 1" in text
    assert 'pymock_request_duration_seconds_bucket{le="+Inf"} 5' in text
    assert "pymock_request_duration_seconds_count 5" in text
    assert "pymock_injected_latency_seconds_total 0.060000" in text
    assert 'pymock_faults_total{fault="empty_response"} 1' in text
    assert "pymock_journal_entries 5" in text and "pymock_endpoints 2" in text
    call(app, "POST", "/__admin/reload")
    assert "pymock_config_reloads_total 1" in call(app, "GET", "/__admin/metrics").body.decode()
    call(app, "POST", "/__admin/reset")
    assert "pymock_unmatched_requests_total 0" in call(app, "GET", "/__admin/metrics").body.decode()


def test_har_export_of_the_journal():
    app = MockApp({"endpoints": [{"id": "a", "path": "/a", "method": "POST", "response": {"ok": True}}]})
    call(app, "POST", "/a?x=1&x=2", {"n": 1})
    call(app, "GET", "/missing")
    har = as_json(call(app, "GET", "/__admin/requests.har"))["log"]
    assert har["version"] == "1.2" and har["creator"]["name"] == "pymock"
    first, second = har["entries"]
    assert first["request"]["method"] == "POST" and first["request"]["url"] == "/a?x=1&x=2"
    assert first["request"]["queryString"] == [{"name": "x", "value": "1"}, {"name": "x", "value": "2"}]
    assert first["request"]["postData"] == {"mimeType": "application/json", "text": '{"n": 1}'}
    assert first["response"]["status"] == 200 and first["response"]["content"]["mimeType"] == "application/json"
    assert first["comment"] == "a" and second["comment"] == "unmatched" and second["response"]["status"] == 404


def test_viewer_token_reads_but_cannot_change():
    app = MockApp({"endpoints": [{"id": "a", "path": "/a"}]}, admin_token="adm", viewer_token="view")
    viewer = [("Authorization", "Bearer view")]
    assert call(app, "GET", "/__admin/mocks", headers=viewer).status == 200
    denied = call(app, "DELETE", "/__admin/mocks/a", headers=viewer)
    assert denied.status == 403 and as_json(denied)["title"] == "Read-only token"
    assert call(app, "DELETE", "/__admin/mocks/a", headers=[("Authorization", "Bearer adm")]).status == 204
    assert call(app, "GET", "/__admin/mocks").status == 401


def test_admin_openapi_includes_mounted_mesh_routes():
    document = as_json(call(MockApp({"endpoints": []}), "GET", "/__admin/openapi.json"))
    assert "/registry/register" in document["paths"] and "/chaos/events" in document["paths"]
