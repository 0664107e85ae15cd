"""Proxy modes with two real servers in one process: an upstream MockServer and the proxy.

Every mode (proxy, proxy_with_fallback, spy, record, replay, per-endpoint modes), the upstream
down (a closed port), slow (past the read timeout), answering 5xx, over TLS (a self-signed
certificate made with the openssl binary), redirects, the upstream policy, and the response
reader against a raw socket upstream for framings pymock itself never sends.
"""

import http.client
import json
import shutil
import socket
import subprocess
import threading

import pytest

from pymock import MockServer
from pymock.app import MockApp
from pymock.config import build_config
from pymock.errors import ConfigError
from pymock.model import Request
from pymock.modes import (ProxyOptions, UpstreamPolicy, UpstreamResult, parse_section,
                          parse_upstream)
from pymock.proxy import Forwarder, incoming_headers
from pymock.server import build_ssl_context

UPSTREAM = {"endpoints": [
    {"id": "user", "path": "/users/{id}", "response": {"id": "{{ request.path.id }}", "from": "upstream"}},
    {"id": "echo", "path": "/echo", "method": ["POST", "PUT"], "status": 201,
     "response": {"got": "{{ request.json.x }}"}},
    {"id": "boom", "path": "/boom", "status": 503, "response": {"upstream": "down"}},
    {"id": "slow", "path": "/slow", "latency_ms": 3000, "response": {"late": True}},
    {"id": "moved", "path": "/moved", "status": 302, "headers": {"Location": "/users/9"}},
    {"id": "loop", "path": "/loop", "status": 307, "headers": {"Location": "/loop"}},
    {"id": "away", "path": "/away", "status": 302, "headers": {"Location": "http://elsewhere.test/x"}},
    {"id": "hop", "path": "/hop", "headers": {"Connection": "X-Private", "X-Private": "secret",
                                              "Keep-Alive": "timeout=5", "X-Kept": "yes"},
     "response": "ok"},
    {"id": "big", "path": "/big", "response": "x" * 5000},
    {"id": "api", "path": "/api/v1/things/{id}", "response": {"thing": "{{ request.path.id }}"}},
]}
FALLBACK_MOCKS = [
    {"id": "boom-mock", "path": "/boom", "response": {"from": "mock"}},
    {"id": "slow-mock", "path": "/slow", "response": {"from": "mock"}},
    {"id": "user-mock", "path": "/users/{id}", "response": {"from": "mock"}},
]


def call(server, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def problem(status_headers_body):
    status, headers, body = status_headers_body
    assert headers["Content-Type"] == "application/problem+json"
    return status, json.loads(body)


@pytest.fixture(scope="module")
def upstream():
    with MockServer(UPSTREAM) as server:
        yield server


@pytest.fixture
def fresh(upstream):
    upstream.reset()
    return upstream


def proxy_config(upstream_url, mode="proxy", endpoints=(), **proxy):
    return {"proxy": {"mode": mode, "upstream": upstream_url, **proxy}, "endpoints": list(endpoints)}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---------------------------------------------------------------- proxy

def test_proxy_forwards_and_rewrites_headers(fresh):
    with MockServer(proxy_config(fresh.base_url)) as proxy:
        status, headers, body = call(proxy, "GET", "/users/a%20b?q=1&r=2", headers={
            "Connection": "keep-alive, X-Hop", "X-Hop": "drop me", "Keep-Alive": "300",
            "X-Forwarded-For": "10.0.0.1", "X-Custom": "kept"})
        assert (status, json.loads(body)) == (200, {"id": "a b", "from": "upstream"})
        seen = fresh.requests()[-1]
        assert (seen["path"], seen["query"]) == ("/users/a b", "q=1&r=2")
        sent = seen["headers"]
        assert sent["host"] == f"127.0.0.1:{fresh.port}"
        assert sent["x-forwarded-for"] == "10.0.0.1, 127.0.0.1"
        assert sent["x-forwarded-proto"] == "http"
        assert sent["x-forwarded-host"] == f"127.0.0.1:{proxy.port}"
        assert sent["x-custom"] == "kept"
        assert "x-hop" not in sent and "keep-alive" not in sent
        assert sent["x-request-id"] == proxy.requests()[-1]["id"]
        entry = proxy.requests()[-1]
        assert entry["mode"] == "proxy" and entry["matched"] is None
        assert entry["upstream"]["url"] == f"http://127.0.0.1:{fresh.port}/users/a%20b?q=1&r=2"
        assert entry["upstream"]["status"] == 200 and entry["upstream"]["error"] is None
        assert headers.get_all("X-Request-Id") == [entry["id"]]


def test_proxy_strips_hop_by_hop_response_headers(fresh):
    with MockServer(proxy_config(fresh.base_url)) as proxy:
        status, headers, body = call(proxy, "GET", "/hop")
        assert (status, body, headers["X-Kept"]) == (200, b"ok", "yes")
        assert headers["X-Private"] is None and headers["Keep-Alive"] is None


def test_proxy_forwards_bodies_and_passes_5xx_through(fresh):
    with MockServer(proxy_config(fresh.base_url)) as proxy:
        status, _, body = call(proxy, "POST", "/echo", body=b'{"x": 41}',
                               headers={"Content-Type": "application/json"})
        assert (status, json.loads(body)) == (201, {"got": 41})
        assert fresh.requests()[-1]["body"] == '{"x": 41}'
        status, headers, body = call(proxy, "GET", "/boom")
        assert (status, json.loads(body)) == (503, {"upstream": "down"})
        assert headers["X-Pymock-Fallback"] is None
        status, headers, body = call(proxy, "HEAD", "/big")
        assert (status, body, headers["Content-Length"]) == (200, b"", "5000")
        metrics = call(proxy, "GET", "/__admin/metrics")[2].decode()
        assert "pymock_proxy_requests_total 3" in metrics


def test_upstream_down_is_a_502_problem_naming_the_upstream():
    port = closed_port()
    with MockServer(proxy_config(f"http://127.0.0.1:{port}")) as proxy:
        status, document = problem(call(proxy, "GET", "/users/1"))
        assert status == 502 and document["reason"] == "connect"
        assert document["upstream"] == f"http://127.0.0.1:{port}/users/1"
        assert f"127.0.0.1:{port}" in document["detail"]
        assert proxy.requests()[-1]["upstream"]["error"] == "connect"
        metrics = call(proxy, "GET", "/__admin/metrics")[2].decode()
        assert "pymock_proxy_errors_total 1" in metrics


def test_slow_upstream_is_a_504_after_the_read_timeout(fresh):
    with MockServer(proxy_config(fresh.base_url, read_timeout_s=0.2)) as proxy:
        status, document = problem(call(proxy, "GET", "/slow"))
        assert status == 504 and document["reason"] == "timeout"
        assert "0.2 s" in document["detail"]
        assert proxy.requests()[-1]["upstream"]["elapsed_ms"] < 2500


def test_no_forwarder_answers_502():
    app = MockApp(proxy_config("http://127.0.0.1:9"))
    response = app.handle(Request("GET", "/x"))
    assert response.status == 502
    assert json.loads(response.body)["reason"] == "no_forwarder"


def test_body_over_max_body_bytes_is_refused(fresh):
    with MockServer(proxy_config(fresh.base_url, max_body_bytes=1000)) as proxy:
        status, document = problem(call(proxy, "GET", "/big"))
        assert (status, document["reason"]) == (502, "too_large")
        assert call(proxy, "GET", "/users/1")[0] == 200   # the connection pool is still sound


def test_base_path_strip_prefix_and_preserve_host(fresh):
    endpoints = [{"path": "/gh/**", "method": "ANY", "mode": "proxy", "upstream": fresh.base_url + "/api/",
                  "proxy": {"strip_prefix": "/gh", "preserve_host": True, "forwarded_headers": False}}]
    with MockServer({"endpoints": endpoints}) as proxy:
        status, _, body = call(proxy, "GET", "/gh/v1/things/7")
        assert (status, json.loads(body)) == (200, {"thing": "7"})
        sent = fresh.requests()[-1]["headers"]
        assert sent["host"] == f"127.0.0.1:{proxy.port}"
        assert "x-forwarded-for" not in sent
        assert call(proxy, "GET", "/other")[0] == 404


def test_idle_connection_closed_by_the_upstream_is_replaced():
    with MockServer(UPSTREAM) as first:
        port = first.port
        with MockServer(proxy_config(first.base_url)) as proxy:
            assert call(proxy, "GET", "/users/1")[0] == 200
            first.stop()   # closes the proxy's pooled keep-alive connection
            with MockServer(UPSTREAM, port=port):
                assert call(proxy, "GET", "/users/2")[0] == 200
                assert call(proxy, "PUT", "/echo", body=b'{"x": 1}')[0] == 201


# ---------------------------------------------------------------- redirects

def test_redirects_pass_through_unless_asked(fresh):
    with MockServer(proxy_config(fresh.base_url)) as proxy:
        status, headers, _ = call(proxy, "GET", "/moved")
        assert (status, headers["Location"]) == (302, "/users/9")
    with MockServer(proxy_config(fresh.base_url, follow_redirects=True, max_redirects=2)) as proxy:
        status, _, body = call(proxy, "GET", "/moved")
        assert (status, json.loads(body)["id"]) == (200, "9")
        assert proxy.requests()[-1]["upstream"]["redirects"] == [f"{fresh.base_url}/users/9"]
        status, document = problem(call(proxy, "GET", "/loop"))
        assert (status, document["reason"]) == (502, "protocol") and "redirects" in document["detail"]


def test_redirect_to_a_host_outside_the_allow_list_is_refused(fresh):
    config = proxy_config(fresh.base_url, follow_redirects=True, allow_hosts=["127.0.0.1"])
    with MockServer(config) as proxy:
        status, document = problem(call(proxy, "GET", "/away"))
        assert (status, document["reason"]) == (403, "refused_by_policy")
        assert "elsewhere.test is not in proxy.allow_hosts" in document["detail"]


# ---------------------------------------------------------------- TLS

@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.skip("the openssl binary is not installed, so no test certificate can be made")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-days", "1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def test_tls_upstream_verified_with_a_ca_file_and_refused_without(tls_files):
    cert, key = tls_files
    with MockServer(UPSTREAM, ssl_context=build_ssl_context(cert, key)) as secure:
        assert secure.base_url.startswith("https://")
        with MockServer(proxy_config(secure.base_url, ca_file=str(cert))) as proxy:
            status, _, body = call(proxy, "GET", "/users/5")
            assert (status, json.loads(body)["id"]) == (200, "5")
            assert secure.requests()[-1]["headers"]["x-forwarded-proto"] == "http"
        with MockServer(proxy_config(secure.base_url)) as proxy:
            status, document = problem(call(proxy, "GET", "/users/5"))
            assert (status, document["reason"]) == (502, "tls")
            assert "certificate" in document["detail"]
        with MockServer(proxy_config(secure.base_url, verify_tls=False)) as proxy:
            assert call(proxy, "GET", "/users/6")[0] == 200


# ---------------------------------------------------------------- proxy_with_fallback

def test_fallback_answers_the_mock_on_5xx_and_marks_it(fresh):
    with MockServer(proxy_config(fresh.base_url, "proxy_with_fallback", FALLBACK_MOCKS)) as proxy:
        status, headers, body = call(proxy, "GET", "/users/3")
        assert (status, json.loads(body)["from"], headers["X-Pymock-Fallback"]) == (200, "upstream", None)
        status, headers, body = call(proxy, "GET", "/boom")
        assert (status, json.loads(body), headers["X-Pymock-Fallback"]) == (200, {"from": "mock"}, "true")
        entry = proxy.requests()[-1]
        assert (entry["matched"], entry["fallback"], entry["upstream"]["status"]) == ("boom-mock", "status 503", 503)
        metrics = call(proxy, "GET", "/__admin/metrics")[2].decode()
        assert "pymock_proxy_fallbacks_total 1" in metrics


def test_fallback_on_timeout_and_on_a_configured_status_list(fresh):
    config = proxy_config(fresh.base_url, "proxy_with_fallback", FALLBACK_MOCKS, read_timeout_s=0.2,
                          fallback_on=[502, "4xx"])
    with MockServer(config) as proxy:
        status, headers, body = call(proxy, "GET", "/slow")
        assert (json.loads(body), headers["X-Pymock-Fallback"]) == ({"from": "mock"}, "true")
        assert proxy.requests()[-1]["fallback"].startswith("timeout: ")
        status, headers, body = call(proxy, "GET", "/boom")   # 503 is not in the list
        assert (status, headers["X-Pymock-Fallback"]) == (503, None)


def test_fallback_when_the_upstream_is_down_and_none_without_a_mock():
    port = closed_port()
    with MockServer(proxy_config(f"http://127.0.0.1:{port}", "proxy_with_fallback", FALLBACK_MOCKS)) as proxy:
        status, headers, body = call(proxy, "GET", "/users/1")
        assert (status, json.loads(body), headers["X-Pymock-Fallback"]) == (200, {"from": "mock"}, "true")
        assert proxy.requests()[-1]["fallback"].startswith("connect: ")
        status, document = problem(call(proxy, "GET", "/nothing-here"))
        assert (status, document["reason"]) == (502, "connect")
        assert proxy.requests()[-1]["fallback"].startswith("none: connect")


def test_open_circuit_falls_back_without_calling_the_upstream(fresh):
    breaker = {"minimum_number_of_calls": 2, "sliding_window_size": 2, "wait_duration_open_s": 60}
    config = proxy_config(fresh.base_url, "proxy_with_fallback", FALLBACK_MOCKS, circuit_breaker=breaker)
    with MockServer(config) as proxy:
        for _ in range(2):
            assert call(proxy, "GET", "/boom")[1]["X-Pymock-Fallback"] == "true"
        calls = len(fresh.requests(path="/boom"))
        status, headers, body = call(proxy, "GET", "/users/1")
        assert (json.loads(body)["from"], headers["X-Pymock-Fallback"]) == ("mock", "true")
        assert proxy.requests()[-1]["fallback"].startswith("circuit_open: ")
        assert len(fresh.requests(path="/boom")) == calls and fresh.requests(path="/users/1") == []


def test_open_circuit_in_proxy_mode_is_a_503_with_retry_after(fresh):
    breaker = {"minimum_number_of_calls": 1, "sliding_window_size": 1, "wait_duration_open_s": 30}
    with MockServer(proxy_config(fresh.base_url, circuit_breaker=breaker)) as proxy:
        assert call(proxy, "GET", "/boom")[0] == 503
        status, headers, body = call(proxy, "GET", "/users/1")
        assert (status, headers["Retry-After"], json.loads(body)["reason"]) == (503, "30", "circuit_open")
        # a new breaker config on reload starts a fresh breaker
        proxy.configure(proxy_config(fresh.base_url, circuit_breaker={**breaker, "wait_duration_open_s": 31}))
        assert call(proxy, "GET", "/users/1")[0] == 200


# ---------------------------------------------------------------- spy, per-endpoint, replay, record

def test_spy_mocks_what_matches_and_proxies_the_rest(fresh):
    mocks = [{"id": "mocked", "path": "/users/1", "response": {"from": "mock"}}]
    with MockServer(proxy_config(fresh.base_url, "spy", mocks)) as proxy:
        assert json.loads(call(proxy, "GET", "/users/1")[2]) == {"from": "mock"}
        assert json.loads(call(proxy, "GET", "/users/2")[2]) == {"id": "2", "from": "upstream"}
        assert call(proxy, "DELETE", "/users/1")[0] == 405   # forwarded: the upstream has no DELETE
        assert [r["path"] for r in fresh.requests()] == ["/users/2", "/users/1"]


def test_per_endpoint_modes_in_a_mock_server(fresh):
    endpoints = [{"id": "live", "path": "/users/{id}", "mode": "proxy", "upstream": fresh.base_url},
                 {"id": "local", "path": "/local", "response": "here"}]
    with MockServer({"endpoints": endpoints}) as proxy:
        status, _, body = call(proxy, "GET", "/users/4")
        assert json.loads(body)["from"] == "upstream"
        entry = proxy.requests()[-1]
        assert (entry["matched"], entry["picked"], entry["mode"]) == ("live", "upstream", "proxy")
        assert call(proxy, "GET", "/local")[2] == b"here"
        status, document = problem(call(proxy, "GET", "/user/4"))
        assert status == 404 and document["near_misses"][0]["id"] == "live"


def test_replay_never_forwards(fresh):
    endpoints = [{"path": "/users/{id}", "mode": "proxy", "upstream": fresh.base_url, "response": {"from": "mock"}}]
    with MockServer(proxy_config(fresh.base_url, "replay", endpoints)) as proxy:
        assert json.loads(call(proxy, "GET", "/users/1")[2]) == {"from": "mock"}
        status, document = problem(call(proxy, "GET", "/nope"))
        assert status == 404 and document["near_misses"]
        assert fresh.requests() == []


def test_record_mode_captures_exchanges(fresh):
    with MockServer(proxy_config(fresh.base_url, "record")) as proxy:
        assert call(proxy, "GET", "/users/8", headers={"Accept-Encoding": "gzip"})[0] == 200
        assert proxy.requests()[-1]["recorded"] is True
        assert fresh.requests()[-1]["headers"]["accept-encoding"] == "identity"
        [exchange] = proxy.app.recorder.exchanges()
        assert (exchange["path"], exchange["status"], exchange["upstream"]) == ("/users/8", 200, fresh.base_url)
        proxy.app.recorder.stop()
        assert call(proxy, "GET", "/users/9")[0] == 200
        assert proxy.requests()[-1]["recorded"] is False


# ---------------------------------------------------------------- upstream policy

def test_metadata_addresses_are_refused_unless_allowed():
    for url in ("http://169.254.169.254", "http://[fd00:ec2::254]", "http://[::ffff:169.254.1.1]:8080"):
        with pytest.raises(ConfigError, match="allow_link_local"):
            build_config(proxy_config(url))
        build_config(proxy_config(url, allow_link_local=True))


def test_a_name_resolving_to_a_metadata_address_is_refused_at_request_time():
    def resolve(host, port, type=0):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", port))]
    app = MockApp(proxy_config("http://metadata.test"), forward=Forwarder(resolve=resolve))
    response = app.handle(Request("GET", "/latest/meta-data/"))
    document = json.loads(response.body)
    assert (response.status, document["reason"]) == (403, "refused_by_policy")
    assert "metadata.test resolves to 169.254.169.254" in document["detail"]
    assert document["upstream"] == "http://metadata.test/latest/meta-data/"


def test_allow_list_is_checked_when_the_config_loads():
    with pytest.raises(ConfigError, match=r"proxy.upstream: upstream refused: api.evil.test is not in"):
        build_config(proxy_config("https://api.evil.test", allow_hosts=["*.example.com"]))
    for host in ("api.example.com", "10.1.2.3"):
        build_config(proxy_config(f"https://{host}", allow_hosts=["*.example.com", "10.0.0.0/8"]))
    policy = UpstreamPolicy(("10.0.0.0/8", "exact.test"))
    assert policy.refusal("name.test", "10.9.9.9") is None
    assert policy.refusal("exact.test") is None
    assert "not in proxy.allow_hosts" in policy.refusal("name.test", "192.168.1.1")


# ---------------------------------------------------------------- config

@pytest.mark.parametrize("raw, message", [
    ({"proxy": {"mode": "proxi", "upstream": "http://a.test"}}, "proxy.mode: unknown mode 'proxi' (did you mean 'proxy'?)"),
    ({"proxy": {"mode": "proxy"}}, "proxy.upstream: mode 'proxy' needs an upstream"),
    ({"proxy": {"upstream": "ftp://a.test"}}, "is not an http:// or https:// URL"),
    ({"proxy": {"upstream": "http://u:p@a.test"}}, "credentials belong in headers"),
    ({"proxy": {"upstream": "http://a.test:99999"}}, "not a valid URL"),
    ({"proxy": {"upstream": 7}}, "proxy.upstream: expected a URL string"),
    ({"proxy": {"read_timout_s": 1}}, "did you mean 'read_timeout_s'?"),
    ({"proxy": {"fallback_on": [502, "6xx", True]}}, "proxy.fallback_on[1]: not a status or a class"),
    ({"proxy": {"fallback_on": "5xx"}}, "proxy.fallback_on: expected a list"),
    ({"proxy": {"connect_timeout_s": 0}}, "proxy.connect_timeout_s: expected seconds"),
    ({"proxy": {"max_body_bytes": -1}}, "proxy.max_body_bytes: expected a whole number"),
    ({"proxy": {"follow_redirects": "yes"}}, "proxy.follow_redirects: expected true or false"),
    ({"proxy": {"ca_file": "/no/such/ca.pem"}}, "proxy.ca_file: no such file"),
    ({"proxy": {"ca_file": 3}}, "proxy.ca_file: expected a file path"),
    ({"proxy": {"strip_prefix": "api"}}, "proxy.strip_prefix: expected a path like '/api'"),
    ({"proxy": {"allow_hosts": "a.test"}}, "proxy.allow_hosts: expected a list of host names"),
    ({"proxy": {"allow_hosts": ["10.0.0.0/33"]}}, "proxy.allow_hosts[0]: not a CIDR block"),
    ({"proxy": {"circuit_breaker": {"failure_rate": 5}}}, "proxy.circuit_breaker.failure_rate: unknown key"),
    ({"proxy": {"record": {"match_header": []}}}, "did you mean 'match_headers'?"),
    ({"proxy": {"record": {"redact_patterns": ["("]}}}, "proxy.record.redact_patterns[0]: invalid regex"),
    ({"proxy": {"record": {"placeholder": 1}}}, "proxy.record.placeholder: expected a string"),
    ({"proxy": {"record": {"match_headers": "x"}}}, "proxy.record.match_headers: expected a list of strings"),
    ({"proxy": {"record": []}}, "proxy.record: expected an object"),
    ({"proxy": []}, "proxy: expected an object"),
    ({"endpoints": [{"path": "/a", "mode": "spy", "upstream": "http://a.test"}]},
     "endpoints[0].mode: unknown mode 'spy'"),
    ({"endpoints": [{"path": "/a", "mode": "proxy"}]}, "endpoints[0].upstream: mode 'proxy' needs an upstream"),
    ({"endpoints": [{"path": "/a", "proxy": []}]}, "endpoints[0].proxy: expected an object"),
    ({"endpoints": [{"path": "/a", "proxy": {"allow_hosts": []}}]}, "endpoints[0].proxy.allow_hosts: unknown key"),
])
def test_config_problems_name_the_key(raw, message):
    with pytest.raises(ConfigError) as caught:
        build_config(raw)
    assert message in str(caught.value)


def test_section_defaults_and_plans():
    problems = []
    settings = parse_section(None, problems, {"endpoints": [{"path": "/a", "mode": "mock"}]})
    assert problems == [] and settings.active is False and settings.plan(None) is None
    config = build_config({"proxy": {"mode": "proxy_with_fallback", "upstream": "http://a.test/base/",
                                     "circuit_breaker": True, "record": {"match_headers": ["X-T"]}},
                           "endpoints": [{"path": "/x", "mode": "mock"}, {"path": "/y"}]})
    settings = config.sections["proxy"]
    assert settings.active and settings.upstream.base_path == "/base"
    assert settings.plan(config.endpoints[0]) is None
    assert settings.plan(config.endpoints[1]).mode == "proxy_with_fallback"
    assert settings.breaker is not None and settings.record.match_headers == ("x-t",)
    assert parse_upstream("https://[::1]:8443").origin == "https://[::1]:8443"
    assert parse_upstream("https://h.test:443/").host_header == "h.test"
    with pytest.raises(ConfigError):
        parse_upstream("nope")


def test_upstream_result_summary_and_incoming_headers():
    result = UpstreamResult(error="timeout", detail="slow", url="http://a", redirects=("http://b",))
    assert result.summary() == {"url": "http://a", "status": None, "elapsed_ms": 0.0, "error": "timeout",
                                "detail": "slow", "redirects": ["http://b"]}
    headers = [("Content-Length", "3"), ("Connection", "close, X-A"), ("X-A", "1"), ("X-B", "2")]
    assert incoming_headers(headers, "GET") == [("X-B", "2")]
    assert incoming_headers(headers, "HEAD") == [("Content-Length", "3"), ("X-B", "2")]


# ---------------------------------------------------------------- the response reader

class RawUpstream:
    """A socket server answering every request with canned bytes (then closing when asked)."""

    def __init__(self, answer: bytes, close: bool = True, greet: bool = False):
        self.answer, self.close, self.greet = answer, close, greet
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.requests: list = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                try:
                    self._answer(conn)
                except OSError:
                    pass   # the client gave up first (timeouts, TLS failures)

    def _answer(self, conn):
        if self.greet:
            conn.sendall(self.answer)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
        self.requests.append(data)
        if not self.greet:
            conn.sendall(self.answer)
        if not self.close:
            conn.recv(1)

    def stop(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)   # wakes the accept() below on Linux
        except OSError:
            pass
        self.sock.close()
        self.thread.join(2)
        assert not self.thread.is_alive()


def forward_raw(answer: bytes, method="GET", close=True, greet=False, scheme="http", headers=(),
                body=b"", **options):
    raw = RawUpstream(answer, close, greet)
    try:
        request = Request(method, "/x", headers=[("Host", "proxy.test"), *headers], body=body,
                          client=("10.0.0.9", 1))
        upstream = parse_upstream(raw.url.replace("http", scheme, 1))
        return Forwarder(pool_size=0)(upstream, request, ProxyOptions(**options)), raw
    finally:
        raw.stop()


@pytest.mark.parametrize("answer, status, body", [
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n",
     200, b"hello world"),
    (b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close", 200, b"until close"),
    (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\nX-Fold: a\r\n b\r\n\r\nok", 201, b"ok"),
    (b"HTTP/1.1 204 No Content\r\n\r\n", 204, b""),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nraw-bytes", 200, b"raw-bytes"),
])
def test_reader_handles_every_framing(answer, status, body):
    result, raw = forward_raw(answer)
    assert (result.error, result.status, result.body) == (None, status, body)
    assert b"Transfer-Encoding" not in b"".join(n.encode() for n, _ in result.headers)
    assert b"X-Forwarded-For: 10.0.0.9\r\n" in raw.requests[0]
    assert b"Host: 127.0.0.1:" in raw.requests[0]


def test_folded_header_is_joined():
    result, _ = forward_raw(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Fold: a\r\n b\r\n\r\n")
    assert ("X-Fold", "a b") in result.headers


@pytest.mark.parametrize("answer, kind, words", [
    (b"SSH-2.0-OpenSSH\r\n\r\n", "protocol", "not an HTTP/1.x status line"),
    (b"HTTP/1.1 200 OK\r\nbad header\r\n\r\n", "protocol", "malformed header line"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n", "protocol", "bad Content-Length"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "protocol", "in the middle of its answer"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "protocol", "bad chunk size"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXX", "protocol", "not followed by CRLF"),
    (b"HTTP/1.1 101 Switching Protocols\r\n\r\n", "protocol", "switched protocols"),
    (b"", "protocol", "without answering"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", "too_large", "larger than 10 bytes"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n20\r\n" + b"a" * 32 + b"\r\n0\r\n\r\n",
     "too_large", "larger than 10 bytes"),
    (b"HTTP/1.1 200 OK\r\n\r\n" + b"a" * 100, "too_large", "larger than 10 bytes"),
])
def test_reader_reports_broken_answers(answer, kind, words):
    result, _ = forward_raw(answer, max_body_bytes=10)
    assert result.error == kind and words in result.detail


def test_reader_refuses_an_endless_header_block():
    result, _ = forward_raw(b"HTTP/1.1 200 OK\r\n" + b"X-Long: " + b"a" * 70000 + b"\r\n\r\n")
    assert result.error == "protocol" and "header block is larger" in result.detail


def test_post_on_a_stale_connection_is_not_retried():
    raw = RawUpstream(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", close=False)
    forward = Forwarder()
    try:
        upstream, options = parse_upstream(raw.url), ProxyOptions()
        assert forward(upstream, Request("GET", "/a"), options).status == 200
        result = forward(upstream, Request("POST", "/b", body=b"x"), options)
        assert result.error == "protocol" and "POST is not retried" in result.detail
        assert forward(upstream, Request("GET", "/c"), options).status == 200   # pooled again
        assert forward(upstream, Request("GET", "/d"), options).status == 200   # stale: retried
        # the upstream hangs up on each connection's second request (/b, the first /d) unread
        assert [r.split(b" ")[1] for r in raw.requests] == [b"/a", b"/c", b"/d"]
    finally:
        forward.close()
        raw.stop()


def test_reader_refuses_a_long_chunk_size_line():
    result, _ = forward_raw(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"1" * 70000)
    assert result.error == "protocol" and "chunk size line is too long" in result.detail


def test_large_request_bodies_and_odd_header_values_are_sent_whole():
    body = b"b" * 100_000
    result, raw = forward_raw(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "POST", body=body,
                              headers=[("X-Odd", "a\r\nb \u2713")])
    assert result.status == 200
    assert b"Content-Length: 100000\r\n" in raw.requests[0]
    assert "X-Odd: a  b \u2713\r\n".encode() in raw.requests[0]


def test_tls_to_a_server_that_does_not_speak_it():
    result, _ = forward_raw(b"HTTP/1.1 400 Bad Request\r\n\r\n", greet=True, scheme="https")
    assert result.error == "tls" and "TLS handshake with 127.0.0.1:" in result.detail
    result, _ = forward_raw(b"", scheme="https", connect_timeout_s=0.2)   # silent: the handshake times out
    assert result.error == "timeout" and "took more than 0.2 s" in result.detail


def test_unresolvable_host_and_unreadable_ca_file(tmp_path):
    def resolve(host, port, type=0):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    result = Forwarder(resolve=resolve)(parse_upstream("http://nowhere.test"), Request("GET", "/"), ProxyOptions())
    assert (result.error, result.detail) == ("connect", "cannot resolve nowhere.test: [Errno -2] Name or service not known")
    bad_ca = tmp_path / "ca.pem"
    bad_ca.write_text("not a certificate")
    result, _ = forward_raw(b"", greet=True, scheme="https", ca_file=str(bad_ca))
    assert result.error == "tls" and "cannot load proxy.ca_file" in result.detail


def test_post_redirected_with_302_becomes_a_get(fresh):
    endpoints = [{"path": "/form", "method": "POST", "status": 302, "headers": {"Location": "/users/5"}}]
    with MockServer({"endpoints": UPSTREAM["endpoints"] + endpoints}) as up:
        with MockServer(proxy_config(up.base_url, follow_redirects=True)) as proxy:
            status, _, body = call(proxy, "POST", "/form", body=b"a=1",
                                   headers={"Content-Type": "application/x-www-form-urlencoded"})
            assert (status, json.loads(body)["id"]) == (200, "5")
            last = up.requests()[-1]
            assert (last["method"], last["body"], "content-type" in last["headers"]) == ("GET", "", False)


def test_long_read_until_close_bodies_and_unusable_redirects():
    result, _ = forward_raw(b"HTTP/1.0 200 OK\r\n\r\n" + b"z" * 300_000)
    assert (result.status, len(result.body)) == (200, 300_000)
    result, _ = forward_raw(b"HTTP/1.1 302 Found\r\nLocation: ftp://x/y\r\nContent-Length: 0\r\n\r\n",
                            follow_redirects=True)
    assert result.error == "protocol" and "cannot follow a redirect to 'ftp://x/y'" in result.detail


def test_upstream_target_keeps_encoding_and_odd_targets():
    from pymock.proxy import upstream_target
    upstream = parse_upstream("http://a.test/base")
    assert upstream_target(upstream, Request("OPTIONS", "*"), ProxyOptions()) == "/base/*"
    options = ProxyOptions(strip_prefix="/gh")
    assert upstream_target(upstream, Request("GET", "/gh?x=%20"), options) == "/base/?x=%20"
    assert upstream_target(upstream, Request("GET", "/ghost"), options) == "/base/ghost"
