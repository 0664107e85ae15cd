"""Webhook delivery: send the callbacks mocks fire after answering, off the request thread.

Layer 2 (the edge): one worker thread, started on the first ``submit``, takes jobs
(``features.WebhookJob``, already rendered) from a time-ordered queue and sends them with
``http.client``. A job waits ``delay_s`` first; a failed attempt (no connection, a timeout, or
a 5xx/429 answer) is tried again up to ``retries`` times, ``backoff_s`` apart and doubling.
Each attempt is kept in a short ring buffer (``deliveries()``, ``GET /__admin/webhooks``).

Tests drive it without a thread or a real clock: ``WebhookDispatcher(clock=fake,
autostart=False)`` queues jobs and ``run_due()`` sends what is due at the fake time.

>>> from pymock.features import WebhookJob
>>> sent, now = [], [0.0]
>>> hooks = WebhookDispatcher(clock=lambda: now[0], send=lambda job: sent.append(job.url) or 204,
...                           autostart=False)
>>> hooks.submit(WebhookJob("http://127.0.0.1:9/hook", "POST", (), b"{}", delay_s=2.0))
>>> hooks.run_due(), sent
(0, [])
>>> now[0] = 2.0
>>> hooks.run_due(), sent, hooks.deliveries()[0]["status"]
(1, ['http://127.0.0.1:9/hook'], 204)

Imports only the standard library; nothing in layers 0-1 may import it (the app is handed a
dispatcher by ``cli`` or ``testing``).
"""

from __future__ import annotations

import heapq
import http.client
import ipaddress
import itertools
import socket
import threading
import time
from collections import deque
from urllib.parse import urlsplit

__all__ = ["WebhookDispatcher", "send_http", "WebhookRefused"]

_RETRY_STATUSES = frozenset((408, 425, 429, 500, 502, 503, 504))
_MAX_IDLE_WAIT_S = 1.0


class WebhookRefused(OSError):
    """The target is not one a mock may call (e.g. a link-local cloud metadata address)."""


def send_http(job) -> int:
    """Send ``job`` with ``http.client``; returns the status. Raises ``OSError`` on failure."""
    parts = urlsplit(job.url)
    host, port = parts.hostname or "", parts.port
    _refuse_link_local(host, port or (443 if parts.scheme == "https" else 80))
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = kind(host, port, timeout=job.timeout_s)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request(job.method, target, body=job.body or None,
                           headers={**dict(job.headers), "User-Agent": "pymock-webhook"})
        response = connection.getresponse()
        response.read(64 * 1024)
        return response.status
    except http.client.HTTPException as exc:
        raise OSError(f"bad HTTP answer: {exc!r}") from None
    finally:
        connection.close()


def _refuse_link_local(host: str, port: int) -> None:
    # 169.254.169.254 and friends hand out cloud credentials; a mock has no business there.
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise OSError(f"cannot resolve {host!r}: {exc.strerror}") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if address.is_link_local:
            raise WebhookRefused(f"{host} resolves to link-local {address}; webhooks may not call it")


class WebhookDispatcher:
    """A delayed, retrying queue of webhook jobs with one worker thread."""

    def __init__(self, *, clock=time.monotonic, send=send_http, log=None, keep: int = 200,
                 autostart: bool = True):
        self.clock = clock
        self.send = send
        self.log = log or (lambda message: None)
        self.autostart = autostart
        self._cond = threading.Condition()
        self._queue: list = []              # (due, seq, job, attempt)
        self._seq = itertools.count()
        self._deliveries: deque = deque(maxlen=keep)
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._sending = 0

    def submit(self, job) -> None:
        with self._cond:
            heapq.heappush(self._queue, (self.clock() + job.delay_s, next(self._seq), job, 1))
            if self.autostart and self._thread is None and not self._stopping:
                self._thread = threading.Thread(target=self._loop, name="pymock-webhooks", daemon=True)
                self._thread.start()
            self._cond.notify()

    def run_due(self) -> int:
        """Send every job that is due now (in this thread); returns how many were attempted."""
        done = 0
        while True:
            with self._cond:
                if not self._queue or self._queue[0][0] > self.clock():
                    return done
                _, _, job, attempt = heapq.heappop(self._queue)
                self._sending += 1
            try:
                self._attempt(job, attempt)
            finally:
                with self._cond:
                    self._sending -= 1
                    self._cond.notify_all()
            done += 1

    def _attempt(self, job, attempt: int) -> None:
        status, error, retry = None, None, False
        try:
            status = self.send(job)
            retry = status in _RETRY_STATUSES
        except WebhookRefused as exc:
            error = str(exc)
        except OSError as exc:
            error, retry = str(exc) or type(exc).__name__, True
        retry = retry and attempt <= job.retries
        self._deliveries.append({"url": job.url, "method": job.method, "endpoint": job.endpoint,
                                 "request_id": job.request_id, "attempt": attempt, "status": status,
                                 "error": error, "will_retry": retry, "at": time.time()})
        if retry:
            due = self.clock() + job.backoff_s * (2 ** (attempt - 1))
            with self._cond:
                heapq.heappush(self._queue, (due, next(self._seq), job, attempt + 1))
        elif error is not None or not 200 <= (status or 0) < 300:
            self.log(f"webhook {job.method} {job.url} failed after {attempt} attempt(s): {error or status}")

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and (not self._queue or self._queue[0][0] > self.clock()):
                    wait = self._queue[0][0] - self.clock() if self._queue else _MAX_IDLE_WAIT_S
                    self._cond.wait(min(max(wait, 0.001), _MAX_IDLE_WAIT_S))
                if self._stopping:
                    return
            self.run_due()

    def pending(self) -> int:
        """Jobs queued or being sent."""
        with self._cond:
            return len(self._queue) + self._sending

    def deliveries(self) -> list:
        """Attempts, newest first."""
        return list(reversed(self._deliveries))

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the worker; jobs still queued are dropped (a mock's callbacks are best effort).
        A later ``submit`` starts a new worker (a server can be started again)."""
        with self._cond:
            self._stopping = True
            self._queue.clear()
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
        with self._cond:
            self._stopping, self._thread = False, None
