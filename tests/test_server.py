"""Tests for pymock/server.py against real servers on port 0 (http.client and raw sockets).

The app here is a tiny fake defined below, so these tests exercise only the HTTP edge.
"""

from __future__ import annotations

import doctest
import http.client
import io
import json
import select
import shutil
import socket
import ssl
import subprocess
import threading
import time

import pytest

import pymock
from pymock import server as server_mod
from pymock.errors import ConfigError
from pymock.model import FAULTS, Response, ServerLimits
from pymock.server import (Handler, build_ssl_context, format_listen_url, make_server,
                           serve_in_thread, stop_server)
from pymock.testing import wait_until

PROBLEM = "application/problem+json"


class FakeApp:
    """Records requests; answers with ``respond(request)`` (default: echo)."""

    def __init__(self, respond=None, limits: ServerLimits | None = None):
        self.limits = limits or ServerLimits()
        self.requests = []
        self.respond = respond or _echo

    def handle(self, request):
        self.requests.append(request)
        return self.respond(request)


def _echo(request):
    body = request.body or f"{request.method} {request.target}".encode()
    return Response(200, [("Content-Type", "text/plain")], body)


@pytest.fixture
def serve():
    """``serve(app=None, **make_server_kwargs) -> server``; stopped (and checked) afterwards."""
    started = []

    def start(app=None, **kwargs):
        server = make_server(app if app is not None else FakeApp(), **kwargs)
        started.append((server, serve_in_thread(server)))
        return server

    yield start
    for server, thread in started:
        stop_server(server, thread)
        assert not thread.is_alive()
        assert server.errors == [], f"server-side exceptions: {server.errors!r}"


def connect(server, timeout: float = 5.0) -> http.client.HTTPConnection:
    host, port = server.server_address[:2]
    return http.client.HTTPConnection(host, port, timeout=timeout)


def raw_socket(server, timeout: float = 5.0) -> socket.socket:
    return socket.create_connection(server.server_address[:2], timeout=timeout)


def exchange(server, data: bytes) -> bytes:
    """Send raw bytes and read until the server closes the connection."""
    with raw_socket(server) as sock:
        sock.sendall(data)
        return read_to_eof(sock)


def read_to_eof(sock) -> bytes:
    chunks = []
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def read_response(rfile, head: bool = False):
    """(status, {lower-name: [values]}, body) of one response read from a binary file."""
    status = int(rfile.readline().split()[1])
    headers: dict[str, list[str]] = {}
    while (line := rfile.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers.setdefault(name.lower(), []).append(value.strip())
    length = 0 if head or "content-length" not in headers else int(headers["content-length"][0])
    return status, headers, rfile.read(length)


def parse_one(data: bytes):
    return read_response(io.BytesIO(data))


def assert_problem(data: bytes, status: int, *, detail_has: str = ""):
    got_status, headers, body = parse_one(data)
    assert got_status == status, data[:300]
    assert headers["content-type"] == [PROBLEM]
    assert headers["connection"] == ["close"]
    doc = json.loads(body)
    assert doc["status"] == status
    assert detail_has in doc["detail"]
    return doc


def closed_by_peer(sock) -> bool:
    readable, _, _ = select.select([sock], [], [], 0)
    if not readable:
        return False
    try:
        return sock.recv(65536) == b""
    except ConnectionError:
        return True


# --------------------------------------------------------------------------- basics


def test_module_docstring_example_runs():
    assert doctest.testmod(server_mod).failed == 0


def test_get_builds_the_request_and_standard_headers(serve):
    app = FakeApp()
    server = serve(app)
    conn = connect(server)
    before = time.time()
    conn.request("GET", "/users/7?active=1&x=", headers={"X-Multi": "a"})
    resp = conn.getresponse()
    assert (resp.status, resp.read()) == (200, b"GET /users/7?active=1&x=")
    assert resp.getheader("Content-Length") == str(len("GET /users/7?active=1&x="))
    assert resp.getheader("Server") == f"pymock/{pymock.__version__}"
    assert resp.getheader("Date").endswith(" GMT")
    request = app.requests[0]
    assert (request.method, request.target, request.path) == ("GET", "/users/7?active=1&x=",
                                                             "/users/7")
    assert request.query == {"active": ["1"], "x": [""]}
    assert request.headers.get("x-multi") == "a"
    assert request.headers.get("host") == f"127.0.0.1:{server.server_address[1]}"
    assert request.client == conn.sock.getsockname()[:2]
    assert (request.scheme, request.http_version) == ("http", "HTTP/1.1")
    assert before - 1 <= request.received_at <= time.time()
    conn.close()


def test_target_is_kept_as_sent(serve):
    app = FakeApp()
    server = serve(app)
    data = exchange(server, b"GET //a/%7e?q=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert parse_one(data)[2] == b"GET //a/%7e?q=1"
    assert app.requests[0].target == "//a/%7e?q=1"


def test_content_length_body_reaches_the_app(serve):
    app = FakeApp()
    server = serve(app)
    conn = connect(server)
    conn.request("POST", "/echo", body=b'{"a": 1}', headers={"Content-Type": "application/json"})
    assert conn.getresponse().read() == b'{"a": 1}'
    assert app.requests[0].json == {"a": 1}


@pytest.mark.parametrize("method", ["PURGE", "PROPFIND", "GET", "DELETE", "OPTIONS", "M-SEARCH"])
def test_every_method_reaches_the_app(serve, method):
    server = serve()
    conn = connect(server)
    conn.request(method, "/thing")
    assert conn.getresponse().read() == f"{method} /thing".encode()


def test_do_attributes_all_dispatch_to_one_handler():
    handler = Handler.__new__(Handler)
    assert handler.do_PURGE == handler._handle
    assert handler.do_GET == handler._handle
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        handler.nothing_here  # noqa: B018


def test_date_header_is_cached_per_second(serve):
    server = serve()
    first = server.date_header()
    assert first.startswith("Date: ") and first.endswith(" GMT\r\n")
    assert server.date_header() is server._date[1]


# --------------------------------------------------------------------------- chunked bodies


def test_chunked_body_with_extensions_and_trailers(serve):
    app = FakeApp()
    server = serve(app)
    with raw_socket(server) as sock:
        rfile = sock.makefile("rb")
        sock.sendall(b"POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"5;name=value\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\n"
                     b"X-Checksum: abc\r\n\r\n")
        assert read_response(rfile)[2] == b"hello world"
        # The stream stayed in step: a second request on the same connection works.
        sock.sendall(b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(rfile)[2] == b"GET /next"
    assert app.requests[0].body == b"hello world"


def test_http_client_chunked_upload(serve):
    server = serve()
    conn = connect(server)
    conn.request("PUT", "/f", body=iter([b"ab", b"cd", b"ef"]), encode_chunked=True)
    assert conn.getresponse().read() == b"abcdef"


@pytest.mark.parametrize("body, detail", [
    (b"zz\r\nhello\r\n0\r\n\r\n", "bad chunk size"),
    (b"0x5\r\nhello\r\n0\r\n\r\n", "bad chunk size"),
    (b"5\r\nhelloXX0\r\n\r\n", "not followed by CRLF"),
    (b"5\r\nhel", "shorter than its size"),
    (b"5", "bad chunk size"),
    (b"1" + b"0" * 5000 + b"\r\n", "bad chunk size"),
    (b"0\r\nBad Trailer\r\n\r\n", "malformed header"),
])
def test_bad_chunk_framing_is_400_and_others_keep_being_served(serve, body, detail):
    server = serve()
    head = b"POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    with raw_socket(server) as sock:
        sock.sendall(head + body)
        sock.shutdown(socket.SHUT_WR)   # EOF, so truncated framing is noticed
        assert_problem(read_to_eof(sock), 400, detail_has=detail)
    conn = connect(server)
    conn.request("GET", "/still-up")
    assert conn.getresponse().status == 200


@pytest.mark.parametrize("headers, status, detail", [
    (b"Content-Length: abc\r\n", 400, "bad Content-Length"),
    (b"Content-Length: -1\r\n", 400, "bad Content-Length"),
    (b"Content-Length: +5\r\n", 400, "bad Content-Length"),
    (b"Content-Length: \xb2\r\n", 400, "bad Content-Length"),
    (b"Content-Length: 5\r\nContent-Length: 6\r\n", 400, "bad Content-Length"),
    (b"Content-Length: 5, 6\r\n", 400, "bad Content-Length"),
    (b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", 400, "both Content-Length"),
    (b"Transfer-Encoding: chunked, gzip\r\n", 400, "does not end in 'chunked'"),
    (b"Transfer-Encoding: gzip, chunked\r\n", 501, "only 'Transfer-Encoding: chunked'"),
])
def test_bad_body_framing_headers(serve, headers, status, detail):
    server = serve()
    data = exchange(server, b"POST / HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\nhello")
    assert_problem(data, status, detail_has=detail)


def test_repeated_equal_content_lengths_are_accepted(serve):
    server = serve()
    data = exchange(server, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                            b"Content-Length: 2\r\nConnection: close\r\n\r\nok")
    assert parse_one(data)[2] == b"ok"


def test_zero_content_length(serve):
    app = FakeApp()
    server = serve(app)
    conn = connect(server)
    conn.request("POST", "/empty", body=b"")
    assert conn.getresponse().read() == b"POST /empty"
    assert app.requests[0].headers.get("content-length") == "0"


def test_body_shorter_than_content_length_is_400(serve):
    server = serve()
    with raw_socket(server) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        sock.shutdown(socket.SHUT_WR)
        assert_problem(read_to_eof(sock), 400, detail_has="ended after 3 of 10")


# --------------------------------------------------------------------------- Expect


def test_expect_100_continue_within_limits(serve):
    server = serve()
    with raw_socket(server) as sock:
        rfile = sock.makefile("rb")
        sock.sendall(b"POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                     b"Expect: 100-continue\r\n\r\n")
        assert rfile.readline() == b"HTTP/1.1 100 Continue\r\n"
        assert rfile.readline() == b"\r\n"
        sock.sendall(b"hello")
        assert read_response(rfile)[:3:2] == (200, b"hello")


def test_expect_100_continue_with_chunked_body(serve):
    server = serve()
    with raw_socket(server) as sock:
        rfile = sock.makefile("rb")
        sock.sendall(b"POST /e HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                     b"Expect: 100-continue\r\n\r\n")
        assert rfile.readline() == b"HTTP/1.1 100 Continue\r\n"
        rfile.readline()
        sock.sendall(b"2\r\nok\r\n0\r\n\r\n")
        assert read_response(rfile)[2] == b"ok"


def test_expect_100_continue_too_large_is_413_without_reading(serve):
    app = FakeApp(limits=ServerLimits(max_body_bytes=10))
    server = serve(app)
    data = exchange(server, b"POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n"
                            b"Expect: 100-continue\r\n\r\n")
    assert not data.startswith(b"HTTP/1.1 100")
    assert_problem(data, 413, detail_has="limit is 10")
    assert app.requests == []


def test_http_client_expect_continue_round_trip(serve):
    server = serve()
    conn = connect(server)
    conn.request("POST", "/", body=b"xyz", headers={"Expect": "100-continue"})
    assert conn.getresponse().read() == b"xyz"


# --------------------------------------------------------------------------- limits


def test_body_over_limit_is_413(serve):
    server = serve(FakeApp(limits=ServerLimits(max_body_bytes=4)))
    data = exchange(server, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
    assert_problem(data, 413, detail_has="server.max_body_bytes")


def test_error_close_drains_what_the_client_still_sends(serve):
    server = serve(FakeApp(limits=ServerLimits(max_body_bytes=4, idle_timeout_s=0.2)))
    with raw_socket(server) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n")
        assert_problem(read_to_eof(sock), 413)
        sock.sendall(b"x" * 5000)      # the rest of the upload arrives late and is drained
        # The client never closes: the server gives up draining after a bounded time.
        wait_until(lambda: not server._connections, message="drain ended")


def test_shutdown_read_ignores_closed_sockets():
    sock = socket.socket()
    sock.close()
    server_mod._shutdown_read(sock)   # must not raise: the connection may already be gone


def test_chunked_body_over_limit_is_413(serve):
    server = serve(FakeApp(limits=ServerLimits(max_body_bytes=4)))
    data = exchange(server, b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                            b"3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n")
    assert_problem(data, 413, detail_has="chunked body exceeds 4")


def test_limits_are_read_per_request(serve):
    app = FakeApp(limits=ServerLimits(max_body_bytes=100))
    server = serve(app)
    conn = connect(server)
    conn.request("POST", "/", body=b"x" * 50)
    assert conn.getresponse().read() == b"x" * 50
    app.limits = ServerLimits(max_body_bytes=10)   # what a reload does
    conn.request("POST", "/", body=b"x" * 50)
    resp = conn.getresponse()
    assert resp.status == 413 and resp.getheader("Content-Type") == PROBLEM
    resp.read()


def test_too_many_headers_is_431(serve):
    server = serve(FakeApp(limits=ServerLimits(max_headers=5)))
    fields = b"".join(b"X-%d: v\r\n" % i for i in range(6))
    data = exchange(server, b"GET / HTTP/1.1\r\n" + fields + b"\r\n")
    assert_problem(data, 431, detail_has="more than 5 header fields")


def test_header_bytes_over_limit_is_431(serve):
    server = serve(FakeApp(limits=ServerLimits(max_header_bytes=200)))
    ok = exchange(server, b"GET / HTTP/1.1\r\nX-A: " + b"a" * 100 + b"\r\nConnection: close\r\n\r\n")
    assert parse_one(ok)[0] == 200
    data = exchange(server, b"GET / HTTP/1.1\r\nX-A: " + b"a" * 100 + b"\r\nX-B: " + b"b" * 100
                            + b"\r\n\r\n")
    assert_problem(data, 431, detail_has="server.max_header_bytes")


def test_request_line_too_long_is_414(serve):
    server = serve(FakeApp(limits=ServerLimits(max_header_bytes=100)))
    data = exchange(server, b"GET /" + b"a" * 200 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert_problem(data, 414, detail_has="longer than 100 bytes")


@pytest.mark.parametrize("request_bytes, status, detail", [
    (b"GARBAGE\r\n\r\n", 400, "malformed request line"),
    (b"GET / HTTP/1.1 extra\r\n\r\n", 400, "malformed request line"),
    (b"GET /\r\n\r\n", 400, "malformed request line"),
    (b"G(T / HTTP/1.1\r\n\r\n", 400, "bad method"),
    (b"GET / HTTP/1.1", 400, "malformed request line"),
    (b"GET / HTTX/1.1\r\n\r\n", 400, "bad HTTP version"),
    (b"GET / HTTP/2.0\r\n\r\n", 505, "HTTP/2.0 is not supported"),
    (b"GET / HTTP/1.1\r\nNo colon here\r\n\r\n", 400, "malformed header line"),
    (b"GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400, "malformed header line"),
    (b"GET / HTTP/1.1\r\nX-A: 1\r\n folded\r\n\r\n", 400, "malformed header line"),
    (b"GET / HTTP/1.1\r\nX-A: 1", 400, "malformed header line"),
])
def test_malformed_requests_are_problem_json(serve, request_bytes, status, detail):
    app = FakeApp()
    server = serve(app)
    with raw_socket(server) as sock:
        sock.sendall(request_bytes)
        sock.shutdown(socket.SHUT_WR)
        assert_problem(read_to_eof(sock), status, detail_has=detail)
    assert app.requests == []


def test_error_to_head_request_has_no_body(serve):
    server = serve(FakeApp(limits=ServerLimits(max_body_bytes=1)))
    data = exchange(server, b"HEAD / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n")
    status, headers, _ = parse_one(data)
    assert status == 413 and int(headers["content-length"][0]) > 0
    assert data.endswith(b"\r\n\r\n")


def test_send_error_is_problem_json_never_html(serve):
    class Teapot(Handler):
        def _handle(self):
            self.send_error(418, None, "short and stout")

    server = serve()
    server.RequestHandlerClass = Teapot
    doc = assert_problem(exchange(server, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 418,
                         detail_has="short and stout")
    assert doc["title"] == "I'm a Teapot"


def test_send_error_with_a_non_standard_code(serve):
    class Odd(Handler):
        def _handle(self):
            self.send_error(599, "Odd")

    server = serve()
    server.RequestHandlerClass = Odd
    assert assert_problem(exchange(server, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
                          599)["title"] == "Odd"


# --------------------------------------------------------------------------- timeouts


def test_silent_client_is_disconnected_after_idle_timeout(serve):
    server = serve(FakeApp(limits=ServerLimits(idle_timeout_s=0.2)))
    with raw_socket(server) as sock:
        wait_until(lambda: closed_by_peer(sock), timeout=5, message="idle connection closed")


def test_half_request_gets_408_then_close(serve):
    server = serve(FakeApp(limits=ServerLimits(idle_timeout_s=0.2)))
    with raw_socket(server) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        assert_problem(read_to_eof(sock), 408, detail_has="server.idle_timeout_s")


def test_idle_keep_alive_connection_is_closed_after_timeout(serve):
    server = serve(FakeApp(limits=ServerLimits(idle_timeout_s=0.2)))
    with raw_socket(server) as sock:
        rfile = sock.makefile("rb")
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(rfile)[0] == 200
        wait_until(lambda: closed_by_peer(sock), timeout=5, message="idle connection closed")


def test_zero_idle_timeout_means_no_timeout(serve):
    server = serve(FakeApp(limits=ServerLimits(idle_timeout_s=0)))
    conn = connect(server)
    conn.request("GET", "/")
    assert conn.getresponse().read() == b"GET /"


# --------------------------------------------------------------------------- persistence


def test_keep_alive_serves_many_requests_on_one_connection(serve):
    app = FakeApp()
    server = serve(app)
    conn = connect(server)
    for i in range(25):
        conn.request("GET", f"/n/{i}")
        resp = conn.getresponse()
        assert resp.read() == f"GET /n/{i}".encode()
        assert resp.getheader("Connection") is None
    assert len({r.client for r in app.requests}) == 1


def test_pipelined_requests_and_a_stray_crlf(serve):
    server = serve()
    with raw_socket(server) as sock:
        rfile = sock.makefile("rb")
        sock.sendall(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(rfile)[2] == b"GET /a"
        assert read_response(rfile)[2] == b"GET /b"


def test_connection_close_is_honoured(serve):
    server = serve()
    data = exchange(server, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Close\r\n\r\n")
    status, headers, body = parse_one(data)
    assert (status, headers["connection"], body) == (200, ["close"], b"GET /")


def test_http10_closes_unless_keep_alive_asked(serve):
    server = serve()
    data = exchange(server, b"GET /old HTTP/1.0\r\n\r\n")
    status, headers, body = parse_one(data)
    assert (status, headers["connection"], body) == (200, ["close"], b"GET /old")
    with raw_socket(server) as sock:
        rfile = sock.makefile("rb")
        for path in (b"/1", b"/2"):
            sock.sendall(b"GET " + path + b" HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            status, headers, body = read_response(rfile)
            assert headers["connection"] == ["keep-alive"] and body == b"GET " + path


def test_app_connection_close_header_closes(serve):
    app = FakeApp(lambda r: Response(200, [("Connection", "close")], b"bye"))
    server = serve(app)
    data = exchange(server, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    status, headers, body = parse_one(data)
    assert headers["connection"] == ["close"] and body == b"bye"


def test_head_sends_length_but_no_body(serve):
    app = FakeApp(lambda r: Response(200, [("Content-Type", "text/plain")], b"0123456789"))
    server = serve(app)
    with raw_socket(server) as sock:
        rfile = sock.makefile("rb")
        sock.sendall(b"HEAD /h HTTP/1.1\r\nHost: x\r\n\r\nGET /g HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, body = read_response(rfile, head=True)
        assert (status, headers["content-length"], body) == (200, ["10"], b"")
        # Had the HEAD answer carried a body, this would not parse as a status line.
        assert read_response(rfile)[2] == b"0123456789"


# --------------------------------------------------------------------------- response writing


def test_app_headers_are_not_duplicated(serve):
    app = FakeApp(lambda r: Response(200, [("server", "custom/1"), ("DATE", "yesterday"),
                                           ("Content-Length", "2")], b"ok"))
    server = serve(app)
    data = exchange(server, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    _, headers, body = parse_one(data)
    assert headers["server"] == ["custom/1"] and headers["date"] == ["yesterday"]
    assert headers["content-length"] == ["2"] and body == b"ok"
    assert len(headers["connection"]) == 1


@pytest.mark.parametrize("status", [204, 304, 101])
def test_bodiless_statuses_send_no_length_or_body(serve, status):
    server = serve(FakeApp(lambda r: Response(status, [], b"ignored")))
    data = exchange(server, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 %d " % status)
    assert b"content-length" not in data.lower() and data.endswith(b"\r\n\r\n")


def test_unknown_status_has_empty_reason(serve):
    server = serve(FakeApp(lambda r: Response(299, [], b"x")))
    conn = connect(server)
    conn.request("GET", "/")
    resp = conn.getresponse()
    assert (resp.status, resp.reason, resp.read()) == (299, "", b"x")


def test_header_injection_is_neutralised(serve):
    app = FakeApp(lambda r: Response(200, [("X-A", "1\r\nX-Evil: yes"), ("X-B\n", "2"),
                                           ("X-C", "3\rX-Cr: no")], b""))
    server = serve(app)
    data = exchange(server, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    _, headers, _ = parse_one(data)
    assert "x-evil" not in headers and headers["x-a"] == ["1  X-Evil: yes"]
    assert headers["x-b"] == ["2"] and headers["x-c"] == ["3 X-Cr: no"]


def test_non_latin1_header_values_go_out_as_utf8(serve):
    server = serve(FakeApp(lambda r: Response(200, [("X-Name", "Zoë ☃")], b"")))
    data = exchange(server, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert "X-Name: Zoë ☃\r\n".encode() in data


def test_response_is_written_with_one_sendall(serve):
    calls = []

    class Counting(Handler):
        def setup(self):
            super().setup()
            real = self.connection.sendall
            self.connection = _SendallSpy(self.connection, real, calls)

    server = serve(FakeApp(lambda r: Response(200, [("A", "b")], b"x" * 5000)))
    server.RequestHandlerClass = Counting
    conn = connect(server)
    conn.request("GET", "/")
    assert len(conn.getresponse().read()) == 5000
    assert len(calls) == 1 and calls[0].endswith(b"x" * 5000)


class _SendallSpy:
    def __init__(self, sock, real, calls):
        self._sock, self._real, self._calls = sock, real, calls

    def sendall(self, data):
        self._calls.append(bytes(data))
        return self._real(data)

    def __getattr__(self, name):
        return getattr(self._sock, name)


def test_delay_is_slept_before_writing(serve):
    server = serve(FakeApp(lambda r: Response(200, [], b"late", delay_s=0.15)))
    conn = connect(server)
    start = time.monotonic()
    conn.request("GET", "/")
    assert conn.getresponse().read() == b"late"
    assert time.monotonic() - start >= 0.14   # timer slack only


def test_delay_is_capped_by_max_delay(serve):
    app = FakeApp(lambda r: Response(200, [], b"capped", delay_s=3600),
                  limits=ServerLimits(max_delay_s=0.01))
    server = serve(app)
    conn = connect(server, timeout=5)   # would time out if the cap were ignored
    conn.request("GET", "/")
    assert conn.getresponse().read() == b"capped"


def test_bytes_per_s_throttles_the_body(serve):
    body = bytes(range(256)) * 12   # 3072 bytes at 20 kB/s: slices of 1000, >= 0.15 s
    server = serve(FakeApp(lambda r: Response(200, [], body, bytes_per_s=20_000)))
    conn = connect(server)
    start = time.monotonic()
    conn.request("GET", "/")
    resp = conn.getresponse()
    assert resp.read() == body
    assert time.monotonic() - start >= 0.14


def test_throttled_head_request_sends_only_the_head(serve):
    server = serve(FakeApp(lambda r: Response(200, [], b"abc", bytes_per_s=1)))
    conn = connect(server)
    conn.request("HEAD", "/")
    resp = conn.getresponse()
    assert resp.getheader("Content-Length") == "3" and resp.read() == b""


# --------------------------------------------------------------------------- faults


FAULT_ERRORS = {
    "connection_reset": (ConnectionResetError,),
    "empty_response": (http.client.RemoteDisconnected,),
    "malformed_chunk": (http.client.IncompleteRead,),
    "random_data_then_close": (http.client.BadStatusLine,),
    "truncated_body": (http.client.IncompleteRead,),
}


def test_every_fault_has_an_action():
    assert set(server_mod._FAULT_ACTIONS) == set(FAULTS) == set(FAULT_ERRORS)


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("body", [b"", b"some body text"])
def test_faults_break_the_exchange_and_the_server_keeps_serving(serve, fault, body):
    app = FakeApp(lambda r: (Response(200, [("Content-Length", "99")], body, fault=fault)
                             if r.path == "/fault" else _echo(r)))
    server = serve(app)
    conn = connect(server)
    with pytest.raises(FAULT_ERRORS[fault]):
        conn.request("GET", "/fault")
        conn.getresponse().read()
    conn.close()
    again = connect(server)
    again.request("GET", "/ok")
    assert again.getresponse().read() == b"GET /ok"


def test_malformed_chunk_sends_a_good_chunk_then_garbage(serve):
    server = serve(FakeApp(lambda r: Response(200, [], b"abcdef", fault="malformed_chunk")))
    data = exchange(server, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    head, _, rest = data.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding: chunked" in head and b"Content-Length" not in head
    assert rest == b"3\r\nabc\r\nzz-not-a-chunk-size\r\n"


def test_truncated_body_promises_more_than_it_sends(serve):
    server = serve(FakeApp(lambda r: Response(200, [], b"abcdef", fault="truncated_body")))
    status, headers, body = parse_one(exchange(server, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
    assert headers["content-length"] == ["6"] and body == b"abc"


# --------------------------------------------------------------------------- app errors


class Boom(RuntimeError):
    pass


def test_app_exception_is_500_recorded_logged_and_serving_continues(serve):
    lines, seen = [], []

    class Failing(FakeApp):
        def on_error(self, exc, request):
            seen.append((exc, request.target))

    def respond(request):
        if request.path == "/boom":
            raise Boom("kaput")
        return _echo(request)

    app = Failing(respond)
    server = serve(app, log=lines.append)
    conn = connect(server)
    conn.request("GET", "/boom")
    resp = conn.getresponse()
    doc = json.loads(resp.read())
    assert resp.status == 500 and resp.getheader("Content-Type") == PROBLEM
    assert doc["exception"] == "Boom" and "Boom: kaput" in doc["detail"]
    conn.request("GET", "/fine")    # same connection: the stream was in step
    assert conn.getresponse().read() == b"GET /fine"
    assert [type(e) for e in server.errors] == [Boom]
    assert seen == [(server.errors[0], "/boom")]
    assert any("Traceback" in line and "Boom: kaput" in line for line in lines)
    server.errors.clear()


@pytest.mark.parametrize("plan, message", [
    (None, "returned NoneType, expected a Response"),
    (Response(42), "status 42 is not an HTTP status"),
    (Response(200, [], "text"), "body is str, expected bytes"),
    (Response(200, fault="explode"), "unknown fault 'explode'"),
])
def test_bad_plans_are_500(serve, plan, message):
    server = serve(FakeApp(lambda r: plan))
    conn = connect(server)
    conn.request("GET", "/")
    resp = conn.getresponse()
    assert resp.status == 500 and message in json.loads(resp.read())["detail"]
    assert len(server.errors) == 1
    server.errors.clear()


def test_failing_on_error_hook_is_recorded_too(serve):
    class Hooked(FakeApp):
        def on_error(self, exc, request):
            raise KeyError("hook")

    server = serve(Hooked(lambda r: 1 / 0))
    conn = connect(server)
    conn.request("GET", "/")
    assert conn.getresponse().status == 500
    assert [type(e) for e in server.errors] == [ZeroDivisionError, KeyError]
    server.errors.clear()


def test_handler_bug_is_recorded_in_errors(serve):
    lines = []

    class Buggy(Handler):
        def handle(self):
            raise LookupError("handler bug")

    server = serve(log=lines.append)
    server.RequestHandlerClass = Buggy
    with raw_socket(server) as sock:
        wait_until(lambda: closed_by_peer(sock), message="buggy handler closed")
    wait_until(lambda: server.errors, message="error recorded")
    assert isinstance(server.errors[0], LookupError)
    assert any("handler bug" in line for line in lines)
    server.errors.clear()


# --------------------------------------------------------------------------- logging


def test_access_log_line(serve):
    lines = []
    server = serve(log=lines.append)
    conn = connect(server)
    conn.request("GET", "/logged?x=1")
    conn.getresponse().read()
    wait_until(lambda: lines, message="access line")
    assert lines[0] == '127.0.0.1 "GET /logged?x=1 HTTP/1.1" 200 15'


def test_errors_before_the_request_line_parses_are_logged(serve):
    lines = []
    server = serve(FakeApp(limits=ServerLimits(max_header_bytes=50)), log=lines.append)
    with raw_socket(server) as sock:
        rfile = sock.makefile("rb")
        sock.sendall(b"GET /first HTTP/1.1\r\nHost: x\r\n\r\n")
        read_response(rfile)
        sock.sendall(b"GET /" + b"a" * 100 + b" HTTP/1.1\r\n\r\n")
        assert read_response(rfile)[0] == 414
    wait_until(lambda: len(lines) == 2, message="two access lines")
    assert lines[1].startswith('127.0.0.1 "" 414 ')


def test_log_message_and_address_string_never_resolve_names(serve):
    lines = []
    server = serve(log=lines.append)
    handler = Handler.__new__(Handler)
    handler.server, handler.client_address = server, ("10.1.2.3", 5)
    handler.log_message("%s %d", "hello", 7)
    assert handler.address_string() == "10.1.2.3"
    assert lines == ["10.1.2.3 hello 7"]


def test_fault_and_dropped_connections_are_logged(serve):
    lines = []
    server = serve(FakeApp(lambda r: Response(fault="empty_response")), log=lines.append)
    exchange(server, b"GET /f HTTP/1.1\r\nHost: x\r\n\r\n")
    wait_until(lambda: any("fault=empty_response" in line for line in lines))


# --------------------------------------------------------------------------- shutdown


def test_stop_server_returns_promptly_with_an_idle_keep_alive_client():
    server = make_server(FakeApp())    # default idle timeout: 30 s
    thread = serve_in_thread(server)
    conn = connect(server)
    conn.request("GET", "/")
    conn.getresponse().read()          # the connection now idles in keep-alive
    stopper = threading.Thread(target=stop_server, args=(server, thread))
    stopper.start()
    stopper.join(timeout=3)
    assert not stopper.is_alive() and not thread.is_alive()
    assert server._connections == set()
    conn.close()


def test_shutdown_lets_an_in_flight_request_finish():
    entered, release = threading.Event(), threading.Event()

    def respond(request):
        entered.set()
        release.wait(5)
        return Response(200, [], b"finished")

    server = make_server(FakeApp(respond))
    thread = serve_in_thread(server)
    result = {}

    def client():
        conn = connect(server)
        conn.request("GET", "/slow")
        result["body"] = conn.getresponse().read()

    requester = threading.Thread(target=client)
    requester.start()
    wait_until(entered.is_set, message="app entered")
    stopper = threading.Thread(target=stop_server, args=(server, thread))
    stopper.start()
    wait_until(lambda: server.socket.fileno() == -1, message="listener closed")
    assert stopper.is_alive()          # still waiting for the in-flight request
    release.set()
    requester.join(5)
    stopper.join(5)
    assert result == {"body": b"finished"} and not stopper.is_alive()
    assert server.errors == []


def test_shutdown_cuts_injected_delays_short():
    called = threading.Event()

    def respond(request):
        called.set()
        return Response(200, [], b"woken", delay_s=60)

    server = make_server(FakeApp(respond))
    thread = serve_in_thread(server)
    result = {}

    def client():
        conn = connect(server, timeout=10)
        conn.request("GET", "/")
        result["body"] = conn.getresponse().read()

    requester = threading.Thread(target=client)
    requester.start()
    wait_until(called.is_set)
    stop_server(server, thread)
    requester.join(5)
    assert result == {"body": b"woken"}


# --------------------------------------------------------------------------- addresses


def test_format_listen_url(serve):
    server = serve()
    assert format_listen_url(server) == f"http://127.0.0.1:{server.server_address[1]}"
    assert server.server_name == "127.0.0.1"


def test_ipv6_listen_url(serve):
    if not socket.has_ipv6:
        pytest.skip("no IPv6 support in this Python")
    try:
        server = serve(host="::1")
    except OSError as exc:
        pytest.skip(f"cannot bind ::1 here: {exc}")
    url = format_listen_url(server)
    assert url == f"http://[::1]:{server.server_address[1]}"
    conn = http.client.HTTPConnection("::1", server.server_address[1], timeout=5)
    conn.request("GET", "/v6")
    assert conn.getresponse().read() == b"GET /v6"


def test_server_bind_never_resolves_names(serve, monkeypatch):
    def forbidden(*args):
        raise AssertionError("getfqdn called")

    monkeypatch.setattr(socket, "getfqdn", forbidden)
    assert serve().server_port > 0


# --------------------------------------------------------------------------- TLS


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.skip("the openssl binary is not installed, so no test certificate can be made")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-subj", "/CN=localhost", "-days", "1", "-keyout", str(key),
                    "-out", str(cert)], check=True, capture_output=True, timeout=60)
    return cert, key


def _client_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def test_tls_serves_https(serve, tls_files):
    app = FakeApp()
    server = serve(app, ssl_context=build_ssl_context(*tls_files))
    assert format_listen_url(server).startswith("https://127.0.0.1:")
    conn = http.client.HTTPSConnection(*server.server_address[:2], timeout=5,
                                       context=_client_context())
    for path in ("/secure", "/again"):
        conn.request("POST", path, body=b"secret")
        assert conn.getresponse().read() == b"secret"
    assert app.requests[0].scheme == "https"
    conn.close()


def test_tls_survives_plaintext_and_silent_clients(serve, tls_files):
    app = FakeApp(limits=ServerLimits(idle_timeout_s=0.3))
    server = serve(app, ssl_context=build_ssl_context(*tls_files))
    silent = raw_socket(server)        # never handshakes: must not block other clients
    try:
        plain = exchange(server, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    except ConnectionResetError:   # the server may close with the request unread: RST
        plain = b""
    assert not plain.startswith(b"HTTP/1.1 200")
    conn = http.client.HTTPSConnection(*server.server_address[:2], timeout=5,
                                       context=_client_context())
    conn.request("GET", "/ok")
    assert conn.getresponse().read() == b"GET /ok"
    wait_until(lambda: closed_by_peer(silent), message="silent TLS client dropped")
    silent.close()


def test_tls_stop_with_idle_client(tls_files):
    server = make_server(FakeApp(), ssl_context=build_ssl_context(*tls_files))
    thread = serve_in_thread(server)
    conn = http.client.HTTPSConnection(*server.server_address[:2], timeout=5,
                                       context=_client_context())
    conn.request("GET", "/")
    conn.getresponse().read()
    stopper = threading.Thread(target=stop_server, args=(server, thread))
    stopper.start()
    stopper.join(timeout=3)
    assert not stopper.is_alive()
    conn.close()


def test_build_ssl_context_names_missing_files(tmp_path):
    with pytest.raises(ConfigError) as info:
        build_ssl_context(tmp_path / "nope.pem", tmp_path / "nokey.pem")
    paths = [p.path for p in info.value.problems]
    assert paths == [str(tmp_path / "nope.pem"), str(tmp_path / "nokey.pem")]
    assert "cannot read the TLS certificate file" in str(info.value)


def test_build_ssl_context_rejects_non_pem(tmp_path, tls_files):
    junk = tmp_path / "junk.pem"
    junk.write_text("hello")
    with pytest.raises(ConfigError) as info:
        build_ssl_context(junk, tls_files[1])
    assert [p.path for p in info.value.problems] == [str(junk)]
    assert "not a PEM certificate" in str(info.value)


def test_build_ssl_context_rejects_a_bad_pair(tmp_path):
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    cert.write_text("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    key.write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    with pytest.raises(ConfigError) as info:
        build_ssl_context(cert, key)
    assert "cannot load the certificate and key" in str(info.value)
    assert info.value.problems[0].path == f"{cert} + {key}"


def test_a_trickled_request_head_times_out_as_a_whole():
    class Slow:
        limits = ServerLimits(idle_timeout_s=1.0, head_timeout_s=0.3)

        def handle(self, request):
            return Response(200, [], b"ok")
    server = make_server(Slow())
    thread = serve_in_thread(server)
    try:
        sock = socket.create_connection(server.server_address[:2], timeout=5)
        sock.sendall(b"GET / HTTP/1.1\r\n")
        answer = b""
        deadline = time.monotonic() + 5
        while b"408" not in answer and time.monotonic() < deadline:
            try:
                sock.sendall(b"X-Drip: 1\r\n")  # each line well inside the per-read timeout
            except OSError:
                break
            sock.settimeout(0.05)
            try:
                answer += sock.recv(4096)
            except (TimeoutError, socket.timeout):
                pass
        assert b"408" in answer and b"server.head_timeout_s" in answer
        sock.close()
    finally:
        stop_server(server, thread)


def test_connections_over_the_limit_get_503():
    class Tiny:
        limits = ServerLimits(max_connections=1)

        def handle(self, request):
            return Response(200, [], b"ok")
    server = make_server(Tiny())
    thread = serve_in_thread(server)
    try:
        first = socket.create_connection(server.server_address[:2], timeout=5)
        first.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert first.recv(4096).startswith(b"HTTP/1.1 200")  # the first stays open (keep-alive)
        second = socket.create_connection(server.server_address[:2], timeout=5)
        reply = b""
        while chunk := second.recv(4096):
            reply += chunk
        assert reply.startswith(b"HTTP/1.1 503") and b"server.max_connections" in reply
        second.close()
        first.close()
    finally:
        stop_server(server, thread)


def test_recorded_errors_are_capped():
    server = make_server(type("App", (), {"handle": lambda self, r: 1 / 0})())
    try:
        for _ in range(server.MAX_ERRORS + 5):
            server.record_error(ZeroDivisionError())
        assert len(server.errors) == server.MAX_ERRORS and server.error_count == server.MAX_ERRORS + 5
    finally:
        server.server_close()
