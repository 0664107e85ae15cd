"""Webhooks: rendered on the request thread, sent off it with delay and retries (driven by a
fake clock, no sleeps), over real loopback HTTP, and never to link-local addresses."""

import json
import socket
import threading
from urllib.request import urlopen

import pytest

from pymock.app import MockApp
from pymock.config import build_config
from pymock.errors import ConfigError
from pymock.features import WebhookJob
from pymock.model import Request
from pymock.testing import MockServer, wait_until
from pymock.webhooks import WebhookDispatcher, WebhookRefused, send_http


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def job(url="http://127.0.0.1:9/hook", **changes):
    return WebhookJob(url, "POST", (("X-A", "1"),), b"{}", **changes)


class Script:
    """A fake ``send``: answers from a list (a status, or an exception to raise)."""

    def __init__(self, *answers):
        self.answers, self.calls = list(answers), []

    def __call__(self, sent):
        self.calls.append(sent)
        answer = self.answers.pop(0) if self.answers else 204
        if isinstance(answer, Exception):
            raise answer
        return answer


# ---------------------------------------------------------------- the dispatcher

def test_delay_then_retries_with_doubling_backoff():
    clock, send = Clock(), Script(503, OSError("connection refused"), 200)
    hooks = WebhookDispatcher(clock=clock, send=send, autostart=False)
    hooks.submit(job(delay_s=1.0, retries=3, backoff_s=2.0))
    assert hooks.run_due() == 0 and hooks.pending() == 1
    clock.now = 1.0
    assert hooks.run_due() == 1                      # attempt 1: 503, retry in 2s
    clock.now = 2.9
    assert hooks.run_due() == 0
    clock.now = 3.0
    assert hooks.run_due() == 1                      # attempt 2: refused, retry in 4s
    clock.now = 7.0
    assert hooks.run_due() == 1 and hooks.pending() == 0
    attempts = [(d["attempt"], d["status"], d["error"], d["will_retry"]) for d in reversed(hooks.deliveries())]
    assert attempts == [(1, 503, None, True), (2, None, "connection refused", True), (3, 200, None, False)]


def test_retries_run_out_and_client_errors_are_not_retried():
    clock, logged = Clock(), []
    hooks = WebhookDispatcher(clock=clock, send=Script(500, 500, 404), autostart=False, log=logged.append)
    hooks.submit(job(retries=1, backoff_s=0.0))
    assert hooks.run_due() == 2 and hooks.pending() == 0
    hooks.submit(job())
    assert hooks.run_due() == 1                      # 404: no retry
    assert [d["status"] for d in hooks.deliveries()] == [404, 500, 500]
    assert logged == ["webhook POST http://127.0.0.1:9/hook failed after 2 attempt(s): 500",
                      "webhook POST http://127.0.0.1:9/hook failed after 1 attempt(s): 404"]


def test_refused_targets_are_not_retried():
    hooks = WebhookDispatcher(clock=Clock(), send=Script(WebhookRefused("link-local")), autostart=False)
    hooks.submit(job(retries=5))
    assert hooks.run_due() == 1 and hooks.deliveries()[0]["will_retry"] is False


def test_stop_drops_queued_jobs_and_a_new_submit_starts_again():
    sent = []
    hooks = WebhookDispatcher(send=lambda j: sent.append(j.url) or 200)
    hooks.submit(job(url="http://127.0.0.1:9/late", delay_s=3600))
    hooks.stop()
    assert hooks.pending() == 0
    hooks.submit(job(url="http://127.0.0.1:9/now"))
    wait_until(lambda: sent == ["http://127.0.0.1:9/now"], message="the restarted worker to send")
    hooks.stop()


def test_link_local_and_unresolvable_targets(monkeypatch):
    with pytest.raises(WebhookRefused, match="link-local 169.254.169.254"):
        send_http(job(url="http://169.254.169.254/latest/meta-data"))

    def no_dns(*args, **kwargs):
        raise socket.gaierror(-2, "Name or service not known")
    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    with pytest.raises(OSError, match="cannot resolve 'nowhere.example'"):
        send_http(job(url="http://nowhere.example/hook"))


def test_send_http_posts_to_a_loopback_server():
    with MockServer({"endpoints": [{"path": "/hook", "method": "POST", "status": 202}]}) as receiver:
        status = send_http(WebhookJob(receiver.url("/hook?x=1"), "POST", (("X-Sig", "abc"),), b'{"a": 1}'))
        entry = receiver.requests()[-1]
    assert status == 202
    assert (entry["query"], entry["body"], entry["headers"]["x-sig"]) == ("x=1", '{"a": 1}', "abc")
    assert entry["headers"]["user-agent"] == "pymock-webhook"


def test_a_bad_http_answer_is_an_error():
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def answer_garbage():
        conn, _ = listener.accept()
        conn.recv(65536)
        conn.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        conn.close()
    thread = threading.Thread(target=answer_garbage)
    thread.start()
    try:
        with pytest.raises(OSError, match="bad HTTP answer"):
            send_http(WebhookJob(f"http://127.0.0.1:{port}/", "GET", (), b"", timeout_s=5))
    finally:
        thread.join()
        listener.close()


# ---------------------------------------------------------------- endpoints fire webhooks

class Collect:
    def __init__(self):
        self.jobs = []

    def submit(self, sent):
        self.jobs.append(sent)


def test_an_endpoint_renders_its_webhook_after_answering():
    collect = Collect()
    app = MockApp({"endpoints": [{
        "id": "order", "path": "/orders/{id}", "method": "POST", "status": 201, "response": {"id": "{{ request.path.id }}"},
        "auth": {"type": "bearer", "tokens": ["t"]},
        "webhook": [{"url": "http://127.0.0.1:9/{{ request.path.id }}", "headers": {"X-Order": "{{ request.path.id }}"},
                     "body": {"event": "created", "order": "{{ response.body.id }}", "status": "{{ response.status }}",
                              "n": "{{ state.inc('hooks') }}"}, "delay_ms": 250, "retries": 4, "retry_backoff_ms": 10},
                    {"url": "http://127.0.0.1:9/text", "method": "put", "body": "order {{ request.path.id }}"}]},
        {"path": "/plain", "response": "just text", "webhook": {"url": "http://127.0.0.1:9/p",
                                                                "body": {"got": "{{ response.body }}"}}}]},
        webhooks=collect)
    assert app.handle(Request("POST", "/orders/7")).status == 401
    assert collect.jobs == []                        # refused requests fire nothing
    response = app.handle(Request("POST", "/orders/7", headers=[("Authorization", "Bearer t")]))
    assert response.status == 201
    first, second = collect.jobs
    assert (first.url, first.delay_s, first.retries, first.backoff_s) == ("http://127.0.0.1:9/7", 0.25, 4, 0.01)
    assert json.loads(first.body) == {"event": "created", "order": "7", "status": 201, "n": 1}
    assert dict(first.headers) == {"X-Order": "7", "Content-Type": "application/json"}
    assert (first.endpoint, first.request_id) == ("order", "req-2")
    assert (second.method, second.body, second.headers) == ("PUT", b"order 7", ())
    app.handle(Request("GET", "/plain"))
    assert json.loads(collect.jobs[-1].body) == {"got": "just text"}
    assert app.journal.list()[1]["webhooks"] == [
        {"url": "http://127.0.0.1:9/7", "status": "queued", "delay_ms": 250},
        {"url": "http://127.0.0.1:9/text", "status": "queued", "delay_ms": 0}]


def test_without_a_dispatcher_or_with_a_failing_template_nothing_is_sent():
    raw = {"endpoints": [{"path": "/a", "webhook": "http://127.0.0.1:9/a"},
                         {"path": "/b", "webhook": {"url": "http://127.0.0.1:9/b", "body": "{{ state.inc('x', scope='team') }}"}}]}
    app = MockApp(raw)
    app.handle(Request("GET", "/a"))
    assert app.journal.list()[0]["webhooks"][0]["status"] == "not sent"
    assert "no webhook dispatcher" in app.journal.list()[0]["webhooks"][0]["error"]
    app.stateful.webhooks = Collect()
    assert app.handle(Request("GET", "/b")).status == 200     # the answer still goes out
    assert "unknown scope 'team'" in app.journal.list()[0]["webhooks"][0]["error"]


def test_webhooks_are_delivered_over_http_off_the_request_thread():
    with MockServer({"endpoints": [{"path": "/hook", "method": "POST", "status": 204}]}) as receiver:
        raw = {"endpoints": [{"path": "/pay/{id}", "method": "POST", "response": {"paid": True},
                              "webhook": {"url": receiver.url("/hook"), "body": {"paid": "{{ request.path.id }}"}}}]}
        with MockServer(raw) as mock:
            urlopen(mock.url("/pay/42"), data=b"")
            wait_until(lambda: receiver.requests(path="/hook"), message="the webhook to arrive")
            assert json.loads(receiver.requests(path="/hook")[0]["body"]) == {"paid": "42"}
            wait_until(lambda: mock.app.stateful.webhooks.deliveries())
            listed = json.loads(urlopen(mock.url("/__admin/webhooks")).read())
        assert listed["dispatcher"] is True and listed["deliveries"][0]["status"] == 204
    assert json.loads(MockApp({"endpoints": []}).handle(Request("GET", "/__admin/webhooks")).body) == {
        "deliveries": [], "dispatcher": False}


# ---------------------------------------------------------------- config problems

@pytest.mark.parametrize("webhook, path, message", [
    (3, "endpoints[0].webhook", "expected a URL or an object"),
    ({}, "endpoints[0].webhook.url", "required"),
    ("ftp://x/y", "endpoints[0].webhook.url", "not an http(s) URL"),
    ({"url": "http://x/{{ oops( }}"}, "endpoints[0].webhook.url", "template error"),
    ({"url": "http://x/", "method": "P OST"}, "endpoints[0].webhook.method", "HTTP method"),
    ({"url": "http://x/", "retries": 11}, "endpoints[0].webhook.retries", "0 to 10"),
    ({"url": "http://x/", "delay_ms": -1}, "endpoints[0].webhook.delay_ms", "milliseconds"),
    ({"url": "http://x/", "timeout_s": 0}, "endpoints[0].webhook.timeout_s", "seconds above 0"),
    ({"url": "http://x/", "headers": []}, "endpoints[0].webhook.headers", "header: value"),
    ({"url": "http://x/", "headers": {"A": "a\nb"}}, "endpoints[0].webhook.headers.A", "one line"),
    ({"url": "http://x/", "headers": {"A": "{{ }}"}}, "endpoints[0].webhook.headers.A", "template error"),
    ({"url": "http://x/", "body": {"a": "{{ nope( }}"}}, "endpoints[0].webhook.body", "template error"),
    ({"url": "http://x/", "delay": 5}, "endpoints[0].webhook.delay", "unknown key"),
    ([{"url": "http://x/"}, {"url": 1}], "endpoints[0].webhook[1].url", "expected a URL, got 1"),
])
def test_webhook_config_problems(webhook, path, message):
    with pytest.raises(ConfigError) as caught:
        build_config({"endpoints": [{"path": "/x", "webhook": webhook}]})
    assert any(p.path == path and message in p.message for p in caught.value.problems), caught.value.problems
