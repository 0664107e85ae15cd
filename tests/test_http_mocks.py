"""Mocks over real HTTP: MockServer, the pytest fixture, faults, latency, limits, keep-alive."""

import http.client
import json
import time
import urllib.error
import urllib.request

import pytest

from pymock import MockServer
from pymock.errors import ConfigError


def get(url, method="GET", body=None, headers=None):
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_issue_example_from_python_tests():
    with MockServer({"endpoints": [{"path": "/users/{id}", "response": {"id": "{{ request.path.id }}"}}]}) as mock:
        status, headers, body = get(mock.url("/users/7"))
        assert (status, json.loads(body)) == (200, {"id": "7"})
        assert headers["Content-Type"] == "application/json"
        assert [(r["method"], r["path"], r["matched"]) for r in mock.requests()] == [("GET", "/users/7", "get-users-id")]


def test_fixture_add_and_configure(pymock_server):
    ident = pymock_server.add({"path": "/ping", "response": {"ok": True}})
    assert ident == "get-ping"
    assert get(pymock_server.url("/ping"))[2] == b'{"ok": true}'
    pymock_server.configure({"endpoints": [{"path": "/other", "response": "x"}]})
    assert get(pymock_server.url("/ping"))[0] == 404
    with pytest.raises(ConfigError):
        pymock_server.configure({"endpoints": [{"path": "bad"}]})
    assert get(pymock_server.url("/other"))[2] == b"x"
    pymock_server.reset()
    assert pymock_server.requests() == []


def test_requests_filters_and_order(pymock_server):
    pymock_server.add({"path": "/a", "method": "ANY"})
    get(pymock_server.url("/a"))
    get(pymock_server.url("/a"), method="POST", body=b"x")
    assert [r["method"] for r in pymock_server.requests()] == ["GET", "POST"]
    assert [r["body"] for r in pymock_server.requests(method="POST")] == ["x"]


def test_problem_json_on_miss_and_405_over_http():
    with MockServer({"endpoints": [{"path": "/items"}]}) as mock:
        status, headers, body = get(mock.url("/itemz"))
        assert status == 404 and headers["Content-Type"] == "application/problem+json"
        assert json.loads(body)["near_misses"][0]["id"] == "get-items"
        status, headers, _ = get(mock.url("/items"), method="DELETE")
        assert status == 405 and headers["Allow"] == "GET, HEAD"


def test_head_has_length_but_no_body():
    with MockServer({"endpoints": [{"path": "/doc", "response": "twelve bytes"}]}) as mock:
        connection = http.client.HTTPConnection("127.0.0.1", mock.port, timeout=10)
        connection.request("HEAD", "/doc")
        response = connection.getresponse()
        assert response.status == 200 and response.getheader("Content-Length") == "12"
        assert response.read() == b""
        connection.request("GET", "/doc")  # the same keep-alive connection still works
        assert connection.getresponse().read() == b"twelve bytes"
        connection.close()


def test_custom_methods_are_mockable():
    with MockServer({"endpoints": [{"path": "/cache", "method": "PURGE", "response": "purged"}]}) as mock:
        assert get(mock.url("/cache"), method="PURGE")[2] == b"purged"


def test_latency_is_slept_by_the_server():
    with MockServer({"endpoints": [{"path": "/slow", "latency_ms": 150}]}) as mock:
        started = time.monotonic()
        assert get(mock.url("/slow"))[0] == 200
        assert time.monotonic() - started >= 0.15


@pytest.mark.parametrize("fault, errors", [
    ("connection_reset", (ConnectionResetError, http.client.RemoteDisconnected, http.client.BadStatusLine)),
    ("empty_response", (http.client.RemoteDisconnected, http.client.BadStatusLine, ConnectionResetError)),
    ("malformed_chunk", (http.client.IncompleteRead, ValueError, http.client.HTTPException, ConnectionResetError)),
    ("random_data_then_close", (http.client.BadStatusLine, http.client.HTTPException, ConnectionResetError, ValueError)),
    ("truncated_body", (http.client.IncompleteRead, ConnectionResetError)),
])
def test_faults_break_the_connection_and_the_server_keeps_serving(fault, errors):
    with MockServer({"endpoints": [{"path": "/broken", "fault": fault, "response": {"x": "y" * 100}},
                                   {"path": "/fine"}]}) as mock:
        connection = http.client.HTTPConnection("127.0.0.1", mock.port, timeout=10)
        with pytest.raises(errors):
            connection.request("GET", "/broken")
            connection.getresponse().read()
        connection.close()
        assert get(mock.url("/fine"))[0] == 200
        assert mock.requests()[0]["fault"] == fault


def test_failure_injection_over_http_with_seed():
    config = {"seed": 5, "endpoints": [{"path": "/f", "failure_rate": 0.5, "failure": {"status": 503}}]}
    with MockServer(config) as first, MockServer(config) as second:
        a = [get(first.url("/f"))[0] for _ in range(30)]
        b = [get(second.url("/f"))[0] for _ in range(30)]
    assert a == b and set(a) == {200, 503}


def test_body_limit_from_config_gives_413():
    with MockServer({"server": {"max_body_bytes": 10}, "endpoints": [{"path": "/up", "method": "POST"}]}) as mock:
        status, headers, body = get(mock.url("/up"), method="POST", body=b"x" * 11)
        assert status == 413 and headers["Content-Type"] == "application/problem+json"
        assert get(mock.url("/up"), method="POST", body=b"x" * 10)[0] == 200


def test_many_keep_alive_requests_on_one_connection():
    with MockServer({"endpoints": [{"path": "/n", "response": {"n": 1}}]}) as mock:
        connection = http.client.HTTPConnection("127.0.0.1", mock.port, timeout=10)
        for _ in range(50):
            connection.request("GET", "/n")
            assert connection.getresponse().read() == b'{"n": 1}'
        connection.close()
        assert len(mock.requests()) == 50


def test_admin_api_over_http_with_token():
    with MockServer({"endpoints": []}, admin_token="t0k") as mock:
        assert get(mock.url("/__admin/mocks"))[0] == 401
        auth = {"Authorization": "Bearer t0k", "Content-Type": "application/json"}
        status, _, body = get(mock.url("/__admin/mocks"), method="POST", headers=auth,
                              body=json.dumps({"path": "/made", "response": "by admin"}).encode())
        assert status == 201
        assert get(mock.url("/made"))[2] == b"by admin"


def test_server_side_exception_is_reported_by_check():
    mock = MockServer({"endpoints": [{"path": "/ok"}]})
    mock.app.engine.respond = lambda config, request: 1 / 0
    mock.start()
    try:
        status, headers, body = get(mock.url("/ok"))
        assert status == 500 and headers["Content-Type"] == "application/problem+json"
        assert "ZeroDivisionError" in body.decode()
    finally:
        mock.stop()
    with pytest.raises(ZeroDivisionError):
        mock.check()


def test_mock_server_can_attach_the_mesh_edge():
    with MockServer({"endpoints": []}, mesh_edge=True) as mock:
        assert mock.app.mesh.http_call is not None
    assert mock.app.mesh.http_call is None
