"""The benchmark's ceiling: a bare ``ThreadingHTTPServer`` answering one fixed JSON body.

Run by ``bench/bench_core.py`` as a separate process (``python3 bench/baseline_server.py
--port 0``); it prints ``listening on http://127.0.0.1:PORT`` as its first line, like pymock.
Every GET (any path, any query) gets the same small JSON body with ``Content-Length``, on an
HTTP/1.1 keep-alive connection with Nagle off, daemon threads and no ``getfqdn``: the same
server architecture as pymock with none of its work, so the ratio pymock/baseline measures
what pymock adds. Request parsing is the standard ``BaseHTTPRequestHandler``'s; the response
(status line, ``Server``, ``Date``, ``Content-Type``, ``Content-Length``, body) goes out in one
``sendall`` as pymock's does. (The textbook ``end_headers()`` then ``wfile.write(body)`` makes
two writes and measured ~40% slower here, so it would be a flattering ceiling, not a fair one.)

Standard library only; imports nothing from pymock.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer

__all__ = ["BODY", "BaselineHandler", "BaselineServer", "main"]

# The same bytes pymock's static bench endpoint sends (bench_core.STATIC_PAYLOAD).
BODY = b'{"id": 1, "name": "static", "ok": true}'


class BaselineHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"     # keep-alive, as pymock
    disable_nagle_algorithm = True    # as pymock: small writes are not held back

    def do_GET(self):  # noqa: N802 (stdlib naming)
        close = "Connection: close\r\n" if self.close_connection else ""
        head = (f"HTTP/1.1 200 OK\r\nServer: {self.version_string()}\r\n"
                f"Date: {self.date_time_string()}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(BODY)}\r\n{close}\r\n")
        self.wfile.write(head.encode("latin-1") + BODY)

    def handle(self):
        try:
            super().handle()
        except OSError:
            pass   # the client went away (wrk resets its connections when it stops), as pymock

    def log_message(self, format, *args):  # noqa: A002 (stdlib signature)
        pass   # no access log, as pymock --quiet


class BaselineServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128   # as pymock: connection bursts queue instead of being refused

    def server_bind(self):
        # HTTPServer.server_bind does a reverse DNS lookup (getfqdn) that is never needed.
        TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    server = BaselineServer((args.host, args.port), BaselineHandler)
    host, port = server.server_address[:2]
    print(f"listening on http://{host}:{port}", flush=True)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    while not stop.wait(0.5):
        pass
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
