"""Record and replay: exchanges to config, the recordings admin API, and ``recorder.py``.

The round trips run against a real upstream MockServer: through the admin API in process
(start -> requests -> stop -> snapshot/apply -> replay with the upstream gone), and with
``recorder.py`` in a subprocess (start, requests, SIGTERM, then ``mock_server.py --config``
replays the file it wrote).
"""

import base64
import http.client
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from pymock import MockServer, wait_until
from pymock.app import MockApp
from pymock.config import build_config
from pymock.model import Request
from pymock.modes import RecordOptions
from pymock.proxy import Forwarder
from pymock.recording import Recorder, build_recording

ROOT = Path(__file__).resolve().parents[1]
UPSTREAM = {"endpoints": [
    {"id": "user", "path": "/users/{id}", "response": {"id": "{{ request.path.id }}", "token": "sk_live_abc123"},
     "headers": {"Set-Cookie": "session=s3cret", "X-Trace": "t-1"}},
    {"id": "count", "path": "/count", "sequence": [{"response": {"n": 1}}, {"response": {"n": 2}}]},
    {"id": "search", "path": "/search", "response": {"hits": "{{ request.query.q }}"}},
    {"id": "login", "path": "/login", "method": "POST", "response": {"ok": "{{ request.json.user }}"}},
    {"id": "logo", "path": "/logo.png", "body_base64": base64.b64encode(bytes(range(256))).decode()},
    {"id": "page", "path": "/page", "response": "<p>{{ '{{' }} not a template }}</p>",
     "content_type": "text/html"},
]}


def call(server_or_url, method, path, body=None, headers=None):
    if isinstance(server_or_url, str):
        host, port = server_or_url.rsplit("/", 1)[-1].split(":")
    else:
        host, port = server_or_url.host, server_or_url.port
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def admin(server, action, payload=None, method="POST"):
    body = json.dumps(payload).encode() if payload is not None else None
    status, _, raw = call(server, method, f"/__admin/recordings/{action}", body)
    return status, json.loads(raw)


@pytest.fixture
def upstream():
    with MockServer(UPSTREAM) as server:
        yield server


def exchange(method="GET", path="/a", query="", headers=(), body=b"", status=200,
             response_headers=(("Content-Type", "application/json"),), response_body=b'{"a": 1}'):
    return {"method": method, "path": path, "query": query, "headers": list(headers), "body": body,
            "status": status, "response_headers": list(response_headers), "response_body": response_body,
            "upstream": "http://api.test"}


# ---------------------------------------------------------------- exchanges -> config

def test_identical_exchanges_collapse_and_different_answers_become_a_sequence():
    one, two = exchange(), exchange(response_body=b'{"a": 2}')
    document = build_recording([one, one, two, exchange(path="/b")], RecordOptions())
    first, second = document["endpoints"]
    assert first["sequence"] == {"responses": [
        {"status": 200, "headers": {"Content-Type": "application/json"}, "response": {"a": 1}}] * 2 + [
        {"status": 200, "headers": {"Content-Type": "application/json"}, "response": {"a": 2}}], "end": "stay"}
    assert second["response"] == {"a": 1} and "sequence" not in second
    assert [e["id"] for e in document["endpoints"]] == ["rec-get-a", "rec-get-b"]
    assert document["proxy"] == {"mode": "replay"}
    build_config(document)
    no_sequences = build_recording([one, two], RecordOptions(sequences=False))["endpoints"][0]
    assert no_sequences["response"] == {"a": 1}
    no_dedupe = build_recording([one, one], RecordOptions(dedupe=False))["endpoints"][0]
    assert len(no_dedupe["sequence"]["responses"]) == 2


def test_match_conditions_from_query_headers_and_body():
    options = RecordOptions(match_headers=("x-tenant", "authorization", "x-absent"), match_body=True,
                            redact_patterns=(r"sk_\w+",))
    exchanges = [
        exchange("POST", "/q", "page=2&key=sk_abc", [("X-Tenant", "acme"), ("Authorization", "Bearer t")],
                 b'{"user": "ada"}'),
        exchange("POST", "/q", "", [("X-Tenant", "acme")], b"plain text"),
        exchange("POST", "/q", "", [], b'{"secret": "sk_live"}'),
        exchange("POST", "/q", "", [], b"\xff\xfe binary"),
    ]
    endpoints = build_recording(exchanges, options)["endpoints"]
    assert endpoints[0]["match"] == {
        "query": {"page": "2", "key": {"present": True}},
        "headers": {"x-tenant": "acme", "authorization": {"present": True}, "x-absent": {"absent": True}},
        "body": {"json": {"user": "ada"}}}
    assert endpoints[0]["priority"] == 1
    assert endpoints[1]["match"]["body"] == {"equals": "plain text"}
    # a body holding a secret, and a binary one, cannot be matched exactly: both land in one endpoint
    assert len(endpoints) == 3 and "body" not in endpoints[2]["match"]
    config = build_config(build_recording(exchanges, options))
    assert config.router.find(Request("POST", "/q?page=2&key=x", headers=[
        ("X-Tenant", "acme"), ("Authorization", "Bearer other")], body=b'{"user": "ada"}')).route.ident == endpoints[0]["id"]


def test_secrets_are_redacted_and_bodies_keep_their_kind():
    options = RecordOptions(redact_patterns=(r"sk_live_\w+",), placeholder="***",
                            redact_headers=("set-cookie", "x-api-key"))
    exchanges = [
        exchange(response_headers=[("Content-Type", "application/json"), ("Set-Cookie", "a=1"),
                                   ("Set-Cookie", "b=2"), ("X-Note", "key sk_live_9"), ("Date", "today")],
                 response_body=b'{"token": "sk_live_abc", "list": ["sk_live_x", 3]}'),
        exchange(path="/t", response_headers=[("Content-Type", "text/plain")], response_body=b"t sk_live_1"),
        exchange(path="/bin", response_headers=[("Content-Type", "image/png")], response_body=b"\x89PNG\xff"),
        exchange(path="/j", response_headers=[("Content-Type", "application/json")], response_body=b'"str"'),
        exchange(path="/u", response_headers=[], response_body=b"\xff\xfe"),
        exchange(path="/{odd}/*", response_body=b""),
        exchange(path="/notjson", response_body=b"{broken"),
    ]
    json_part, text, binary, scalar, unknown, odd, broken = build_recording(exchanges, options)["endpoints"]
    assert broken["body"] == "{broken"
    assert json_part["headers"] == {"Content-Type": "application/json", "Set-Cookie": "***, ***", "X-Note": "key ***"}
    assert json_part["response"] == {"token": "***", "list": ["***", 3]}
    assert text["body"] == "t ***"
    assert base64.b64decode(binary["body_base64"]) == b"\x89PNG\xff"
    assert scalar["body"] == '"str"'
    assert "body_base64" in unknown
    assert odd["path"] == r"^/\{odd\}/\*$" and "response" not in odd
    config = build_config(build_recording(exchanges, options))
    assert config.router.find(Request("GET", "/{odd}/*")).route.ident == odd["id"]


def test_recorder_bounds_and_status():
    recorder = Recorder()
    request, options = Request("GET", "/x"), RecordOptions(max_exchanges=1)

    class Result:
        status, headers, body, url, elapsed_s = 200, [], b"", "http://api.test/x", 0.001
    assert recorder.capture(request, Result, options) is True
    assert recorder.capture(request, Result, options) is False
    status = recorder.status()
    assert (status["exchanges"], status["dropped"], status["upstreams"]) == (1, 1, ["http://api.test"])
    assert recorder.save(None) is None
    with pytest.raises(ValueError, match="no out file"):
        recorder.write({"endpoints": []})
    recorder.stop()
    assert recorder.capture(request, Result, options) is False


# ---------------------------------------------------------------- the admin API round trip

def test_admin_record_stop_replay_round_trip(upstream, tmp_path):
    out = tmp_path / "recorded.json"
    app = MockApp({"endpoints": [{"path": "/local", "response": "mine"}]}, forward=Forwarder(),
                  recorder=Recorder(out))
    with MockServer(app) as recorder:
        status, document = admin(recorder, "start", {"target": upstream.base_url, "match_headers": ["X-Tenant"]})
        assert (status, document["recording"], document["exchanges"]) == (200, True, 0)
        assert recorder.app.config.sections["proxy"].mode == "record"
        assert json.loads(call(recorder, "GET", "/users/7", headers={"Authorization": "Bearer t"})[2])["id"] == "7"
        assert [json.loads(call(recorder, "GET", "/count")[2]) for _ in range(2)] == [{"n": 1}, {"n": 2}]
        assert call(recorder, "GET", "/search?q=ada", headers={"X-Tenant": "acme"})[0] == 200
        assert call(recorder, "POST", "/login", b'{"user": "ada"}', {"Content-Type": "application/json"})[0] == 200
        assert call(recorder, "GET", "/logo.png")[0] == 200
        assert call(recorder, "GET", "/page")[0] == 200
        status, document = admin(recorder, "status", method="GET")
        assert document["exchanges"] == 7 and "GET /count" in document["requests"]

        status, document = admin(recorder, "stop")
        assert (status, document["recording"], document["written"]) == (200, False, str(out))
        assert recorder.app.config.raw.get("proxy") is None   # the mode start replaced is back
        assert call(recorder, "GET", "/local")[2] == b"mine"
        assert call(recorder, "GET", "/users/7")[0] == 404
        written = json.loads(out.read_text())
        assert written["proxy"] == {"mode": "replay"}
        text = out.read_text()
        assert "Bearer t" not in text and "s3cret" not in text

        upstream.stop()   # from here on nothing may reach it
        status, document = admin(recorder, "snapshot", {"apply": True})
        assert (status, document["applied"], document["endpoints"]) == (200, True, 6)
        replayed = recorder.app.config.endpoints
        assert all(e.source["templating"] is False for e in replayed)
        status, headers, body = call(recorder, "GET", "/users/7")
        assert (status, json.loads(body)) == (200, {"id": "7", "token": "sk_live_abc123"})
        assert (headers["Set-Cookie"], headers["X-Trace"]) == ("REDACTED", "t-1")
        assert [json.loads(call(recorder, "GET", "/count")[2]) for _ in range(3)] == [{"n": 1}, {"n": 2}, {"n": 2}]
        assert call(recorder, "GET", "/search?q=ada", headers={"X-Tenant": "acme"})[0] == 200
        status, _, body = call(recorder, "GET", "/search?q=bob", headers={"X-Tenant": "acme"})
        assert status == 404 and json.loads(body)["near_misses"][0]["id"] == "rec-get-search"
        assert call(recorder, "GET", "/search?q=ada")[0] == 404          # the tenant header is a condition
        assert call(recorder, "GET", "/logo.png")[2] == bytes(range(256))
        assert call(recorder, "GET", "/page")[2] == b"<p>{{ not a template }}</p>"
        assert call(recorder, "POST", "/login", b'{"user": "ada"}')[2] == b'{"ok": "ada"}'


def test_snapshot_write_and_start_problems(upstream, tmp_path):
    out = tmp_path / "snap.json"
    app = MockApp({"proxy": {"mode": "record", "upstream": upstream.base_url}}, forward=Forwarder(),
                  recorder=Recorder(out))
    with MockServer(app) as recorder:
        call(recorder, "GET", "/users/1")
        status, document = admin(recorder, "snapshot", {"write": True})
        assert (status, document["written"], document["applied"]) == (200, str(out), False)
        assert json.loads(out.read_text())["endpoints"][0]["path"] == "/users/1"
        assert admin(recorder, "start", {"targt": "x"})[1]["allowed"][0] == "target"
        status, document = admin(recorder, "start", {"target": "ftp://nope"})
        assert status == 400 and "proxy.upstream" in document["errors"][0]["path"]
        assert admin(recorder, "status", method="GET")[1]["exchanges"] == 1   # nothing changed
        status, _, body = call(recorder, "POST", "/__admin/recordings/start", b"[1]")
        assert status == 400 and b"expected a JSON object" in body
        status, _, body = call(recorder, "POST", "/__admin/recordings/snapshot", b"{nope")
        assert status == 400 and b"not valid JSON" in body
        assert admin(recorder, "start")[1]["exchanges"] == 0   # already recording: just starts afresh
        assert admin(recorder, "stop")[1]["recording"] is False
        assert recorder.app.config.sections["proxy"].mode == "record"
        recorder.app.recorder.out = str(tmp_path / "missing-folder" / "x.json")
        status, document = admin(recorder, "stop")
        assert status == 500 and document["title"] == "Cannot write the recording"


def test_recordings_api_without_a_recorder():
    app = MockApp({"endpoints": []})
    for method, action in (("POST", "start"), ("POST", "stop"), ("GET", "status"), ("POST", "snapshot")):
        response = app.handle(Request(method, f"/__admin/recordings/{action}"))
        assert response.status == 409 and b"has no recorder" in response.body


def test_recordings_routes_are_in_the_admin_openapi():
    app = MockApp({"endpoints": []})
    paths = json.loads(app.handle(Request("GET", "/__admin/openapi.json")).body)["paths"]
    assert {"/__admin/recordings/start", "/__admin/recordings/status"} <= set(paths)


# ---------------------------------------------------------------- recorder.py in a subprocess

def _spawn(argv, cwd):
    process = subprocess.Popen([sys.executable, *argv], cwd=cwd, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    if not line.startswith("listening on http://"):
        process.kill()
        raise AssertionError(f"expected 'listening on', got {line!r}: {process.stderr.read()}")
    return process, line.split()[-1]


def _stop(process):
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=15)
    finally:
        process.stdout.close()
        process.stderr.close()


def test_recorder_py_records_and_mock_server_replays(upstream, tmp_path):
    out = tmp_path / "recordings.json"
    process, url = _spawn([str(ROOT / "recorder.py"), "--target", upstream.base_url, "--out", str(out),
                           "--port", "0", "--redact", r"sk_live_\w+", "--match-header", "X-Tenant",
                           "--quiet"], tmp_path)
    try:
        answers = {path: call(url, "GET", path, headers={"X-Tenant": "t1"})[2]
                   for path in ("/users/1", "/users/2", "/search?q=x")}
        assert json.loads(answers["/users/1"])["token"] == "sk_live_abc123"   # clients see the real answer
    finally:
        assert _stop(process) == 0
    recorded = json.loads(out.read_text())
    assert len(recorded["endpoints"]) == 3 and "sk_live_abc123" not in out.read_text()
    replay, url = _spawn([str(ROOT / "mock_server.py"), "--config", str(out), "--port", "0", "--no-watch",
                          "--quiet"], tmp_path)
    try:
        upstream.stop()
        assert json.loads(call(url, "GET", "/users/2", headers={"X-Tenant": "t1"})[2]) == {
            "id": "2", "token": "REDACTED"}
        assert call(url, "GET", "/search?q=x", headers={"X-Tenant": "t1"})[0] == 200
        assert call(url, "GET", "/users/3", headers={"X-Tenant": "t1"})[0] == 404
    finally:
        assert _stop(replay) == 0


def test_recorder_py_writes_every_n_seconds_and_on_admin_stop(upstream, tmp_path):
    out = tmp_path / "periodic.json"
    process, url = _spawn([str(ROOT / "recorder.py"), "--target", upstream.base_url, "--out", str(out),
                           "--port", "0", "--every", "0.05"], tmp_path)
    try:
        call(url, "GET", "/users/1")
        wait_until(lambda: out.exists() and json.loads(out.read_text())["endpoints"], message="periodic write")
        call(url, "GET", "/users/2")
        status, _, body = call(url, "POST", "/__admin/recordings/stop")
        assert status == 200 and json.loads(body)["written"] == str(out)
        assert len(json.loads(out.read_text())["endpoints"]) == 2
    finally:
        assert _stop(process) == 0


def test_recorder_py_refuses_bad_input(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "recorder.py"), "--target", "ftp://x", "--out",
                           str(tmp_path / "o.json"), "--port", "0"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "proxy.upstream" in done.stderr
    done = subprocess.run([sys.executable, str(ROOT / "recorder.py"), "--out", "x.json"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "--target" in done.stderr


# ---------------------------------------------------------------- recording.main in process

def test_main_in_process_autosaves_and_stops_on_a_signal(upstream, tmp_path, monkeypatch, capsys):
    import threading
    from pymock import recording
    handlers = {}
    monkeypatch.setattr(recording.signal, "signal", lambda signum, handler: handlers.__setitem__(signum, handler))
    out = tmp_path / "main.json"
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("code", recording.main(
        ["--target", upstream.base_url, "--out", str(out), "--port", "0", "--every", "0.01",
         "--redact-header", "X-Secret", "--allow-host", "127.0.0.1", "--ca-file", __file__])))
    thread.start()
    printed = []
    url = wait_until(lambda: printed.append(capsys.readouterr().out) or
                     ("listening on" in "".join(printed) and "".join(printed).split()[-1]))
    call(url, "GET", "/users/1", headers={"X-Secret": "hide"})
    wait_until(lambda: out.exists(), message="the periodic write")
    handlers[signal.SIGTERM]()
    thread.join(10)
    assert result["code"] == 0
    document = json.loads(out.read_text())
    assert document["endpoints"][0]["path"] == "/users/1"
    assert "wrote 1 endpoints" in capsys.readouterr().err


def test_main_reports_a_busy_port_and_an_unwritable_out(upstream, tmp_path, monkeypatch, capsys):
    from pymock import recording
    assert recording.main(["--target", upstream.base_url, "--out", "x.json", "--port", str(upstream.port)]) == 2
    assert "cannot listen" in capsys.readouterr().err
    assert recording.main(["--target", "http://169.254.169.254", "--out", "x.json", "--port", "0"]) == 2
    assert "allow_link_local" in capsys.readouterr().err
    monkeypatch.setattr(recording.signal, "signal", lambda signum, handler: handler())
    out = tmp_path / "no-such-folder" / "x.json"
    assert recording.main(["--target", upstream.base_url, "--out", str(out), "--port", "0", "--quiet"]) == 1
    assert f"cannot write {out}" in capsys.readouterr().err
