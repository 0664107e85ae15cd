"""The request inspector (GET /__admin/requests/{id}) and structured JSON access lines."""

import json
import subprocess
import sys
from pathlib import Path
from urllib.request import Request as UrlRequest
from urllib.request import urlopen

from pymock.app import MockApp
from pymock.cli import _json_access_line
from pymock.model import Request
from pymock.testing import MockServer, wait_until

ROOT = Path(__file__).resolve().parents[1]


def inspect(app, ident):
    response = app.handle(Request("GET", f"/__admin/requests/{ident}"))
    assert response.status == 200
    return json.loads(response.body)["inspection"]


def test_a_match_is_explained_condition_by_condition():
    app = MockApp({"endpoints": [{
        "id": "order", "path": "/orders/{id}", "method": "POST",
        "match": {"query": {"v": "2"}, "headers": {"X-Tenant": {"regex": "^t"}}, "cookies": {"s": "1"},
                  "body": {"json_partial": {"qty": 1}}},
        "response": {"id": "{{ request.path.id }}", "seen": "{{ state.inc('orders') }}"}}]})
    app.handle(Request("POST", "/orders/9?v=2", headers=[("X-Tenant", "t1"), ("Cookie", "s=1")],
                       body=b'{"qty": 1}'))
    inspection = inspect(app, "req-1")
    assert inspection["endpoint"]["id"] == "order" and inspection["endpoint"]["match"]["query"] == {"v": "2"}
    assert [(c["field"], c["ok"]) for c in inspection["why"]] == [
        ("method", True), ("path", True), ("query.v", True), ("header.x-tenant", True), ("cookie.s", True), ("body", True)]
    assert inspection["why"][1]["params"] == {"id": "9"}
    assert inspection["template_inputs"]["query"] == {"v": "2"}
    assert inspection["template_inputs"]["state"] == [{"op": "inc", "scope": "global", "key": "orders", "value": 1}]
    assert inspection["response"]["status"] == 200
    assert json.loads(inspection["response"]["body"]) == {"id": "9", "seen": 1}


def test_a_miss_shows_its_near_misses_and_a_gone_mock_says_so():
    app = MockApp({"endpoints": [{"id": "users", "path": "/users"}]})
    app.handle(Request("GET", "/userz"))
    missed = inspect(app, "req-1")
    assert missed["endpoint"] is None and missed["why"] == [] and missed["near_misses"][0]["id"] == "users"
    app.handle(Request("HEAD", "/users"))
    app.handle(Request("DELETE", "/__admin/mocks/users"))
    gone = inspect(app, "req-2")
    assert gone["note"] == "mock 'users' is no longer configured"


def test_scenarios_and_auth_show_up_in_the_explanation():
    app = MockApp({"endpoints": [{"id": "a", "path": "/a", "auth": {"type": "bearer", "tokens": ["t"]},
                                  "scenario": {"name": "s", "when": "Started", "then": "done"}}]})
    app.handle(Request("GET", "/a", headers=[("Authorization", "Bearer t")]))
    why = inspect(app, "req-1")["why"]
    assert why[-1] == {"field": "scenario.s", "ok": True, "name": "s", "from": "Started", "to": "done"}
    entry = json.loads(app.handle(Request("GET", "/__admin/requests/req-1")).body)
    assert entry["auth"] == {"type": "bearer", "result": "ok", "subject": None}


def test_json_access_line_fields(capsys):
    request = Request("GET", "/x?y=1", headers=[("X-Request-Id", "abc")])
    request.received_at = 1.0
    _json_access_line("10.0.0.1", "GET /x?y=1 HTTP/1.1", 200, 12, request)
    line = json.loads(capsys.readouterr().err)
    assert {k: line[k] for k in ("type", "client", "method", "path", "status", "size", "request_id")} == {
        "type": "access", "client": "10.0.0.1", "method": "GET", "path": "/x", "status": 200, "size": 12,
        "request_id": "abc"}
    assert line["duration_ms"] > 0 and line["message"] == '10.0.0.1 "GET /x?y=1 HTTP/1.1" 200 12'
    _json_access_line("10.0.0.1", "BREW /pot HTTP/1.1", 400, 0, None)
    line = json.loads(capsys.readouterr().err)
    assert (line["method"], line["path"], line["request_id"], line["duration_ms"]) == ("BREW", "/pot", None, None)


def test_the_server_hands_structured_access_lines_to_a_sink():
    lines, fields = [], []

    def log(message):
        lines.append(message)
    log.access = lambda *args: fields.append(args)
    with MockServer({"endpoints": [{"path": "/x", "response": "x"}]}, log=log) as mock:
        urlopen(UrlRequest(mock.url("/x"), headers={"X-Request-Id": "mine"})).read()
        wait_until(lambda: fields)
    client, requestline, status, size, request = fields[0]
    assert (requestline, status, size, request.id, request.path) == ("GET /x HTTP/1.1", 200, 1, "req-1", "/x")
    assert not any('"GET /x' in line for line in lines)   # no duplicate text line


def test_cli_json_access_lines_carry_the_request_id(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"endpoints": [{"path": "/x", "response": "x"}]}))
    proc = subprocess.Popen([sys.executable, str(ROOT / "mock_server.py"), "--port", "0", "--no-watch",
                             "--log-format", "json"], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().split()[-1]
        urlopen(url + "/x").read()
        access = None
        while access is None:
            line = json.loads(proc.stderr.readline())
            access = line if line.get("type") == "access" else None
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    assert (access["method"], access["path"], access["status"], access["size"], access["request_id"]) == (
        "GET", "/x", 200, 1, "req-1")
    assert access["duration_ms"] >= 0
