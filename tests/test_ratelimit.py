"""Rate limits (token buckets on an injected clock, 429 + Retry-After + RateLimit-* headers)
and bandwidth throttling plans."""

import json
from urllib.error import HTTPError
from urllib.request import urlopen

import pytest

from pymock.app import MockApp
from pymock.config import build_config
from pymock.errors import ConfigError
from pymock.model import Request
from pymock.ratelimit import RateLimit, RateLimiter, bucket_key, parse_rate_limit
from pymock.testing import MockServer


class Clock:
    def __init__(self, now=100.0):
        self.now = now

    def __call__(self):
        return self.now


def call(app, method, target, headers=(), client=("127.0.0.1", 1)):
    return app.handle(Request(method, target, headers=list(headers), client=client))


def limits(response):
    return {k: v for k, v in response.headers if k.startswith(("RateLimit", "Retry"))}


# ---------------------------------------------------------------- the bucket

def test_a_bucket_refills_at_limit_per_window():
    clock = Clock(0.0)
    limiter, rule = RateLimiter(clock=clock), RateLimit(limit=3, window_s=60, burst=3)
    decisions = [limiter.take("k", rule) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    assert (decisions[3].retry_after_s, decisions[3].reset_s) == (20, 60)
    clock.now = 19.0
    assert not limiter.take("k", rule).allowed
    clock.now = 20.0
    assert limiter.take("k", rule).allowed
    clock.now = 1000.0   # long idle: full again, never more than the burst
    assert [limiter.take("k", rule).allowed for _ in range(4)] == [True, True, True, False]


def test_burst_is_separate_from_the_rate():
    clock = Clock(0.0)
    limiter, rule = RateLimiter(clock=clock), RateLimit(limit=1, window_s=1, burst=5)
    assert sum(limiter.take("k", rule).allowed for _ in range(10)) == 5
    clock.now = 2.0
    assert sum(limiter.take("k", rule).allowed for _ in range(10)) == 2


def test_least_recently_used_buckets_go_first():
    limiter, rule = RateLimiter(clock=Clock(), max_buckets=2), RateLimit(1, 60, 1)
    limiter.take("a", rule)
    limiter.take("b", rule)
    limiter.take("a", rule)          # "a" is now the most recent
    limiter.take("c", rule)          # evicts "b"
    assert limiter.take("b", rule).allowed      # forgotten, so full again (and "a" goes)
    assert not limiter.take("c", rule).allowed  # still remembered
    limiter.reset()
    assert limiter.take("a", rule).allowed


def test_bucket_keys():
    request = Request("GET", "/", headers=[("X-Api-Key", "k1")], client=("10.0.0.9", 1))
    assert bucket_key(RateLimit(1, 1, 1), "ep", request) == "ep"
    assert bucket_key(RateLimit(1, 1, 1, "client"), "ep", request) == "ep|client:10.0.0.9"
    assert bucket_key(RateLimit(1, 1, 1, "header:X-Api-Key", "shared"), "ep", request) == "shared|header:X-Api-Key:k1"
    assert bucket_key(RateLimit(1, 1, 1, "header:X-Other"), "ep", request) == "ep|header:X-Other:-"


@pytest.mark.parametrize("text, limit, window", [
    ("10/s", 10, 1), ("100/min", 100, 60), ("5/10s", 5, 10), ("1000/hour", 1000, 3600), (" 2 / d ", 2, 86400)])
def test_shorthand_rates(text, limit, window):
    assert parse_rate_limit(text, "r", []) == RateLimit(limit, float(window), limit)


@pytest.mark.parametrize("value, path, message", [
    ("ten/s", "rate_limit", "cannot read rate 'ten/s'"),
    ("10/fortnight", "rate_limit", "cannot read rate"),
    ("0/s", "rate_limit", "cannot read rate"),
    ("5/0s", "rate_limit", "cannot read rate"),
    (10, "rate_limit", "expected \"N/s\""),
    ({"window_s": 1}, "rate_limit.limit", "required"),
    ({"limit": 1.5}, "rate_limit.limit", "whole number"),
    ({"limit": 1, "window_s": 0}, "rate_limit.window_s", "above 0"),
    ({"limit": 1, "burst": 0}, "rate_limit.burst", "above 0"),
    ({"limit": 1, "key": "ip"}, "rate_limit.key", "endpoint, client or header:<name>"),
    ({"limit": 1, "key": "header:"}, "rate_limit.key", "endpoint, client or header:<name>"),
    ({"limit": 1, "bucket": ""}, "rate_limit.bucket", "non-empty name"),
    ({"limit": 1, "limt": 2}, "rate_limit.limt", "unknown key"),
])
def test_rate_limit_problems(value, path, message):
    problems = []
    assert parse_rate_limit(value, "rate_limit", problems) is None
    assert any(p.path == path and message in p.message for p in problems), problems


def test_rate_limit_typo_is_suggested():
    problems = []
    parse_rate_limit({"limit": 1, "windw_s": 2}, "rate_limit", problems)
    assert problems[0].hint == "did you mean 'window_s'?"


# ---------------------------------------------------------------- through the app

CONFIG = {"endpoints": [
    {"path": "/shared", "rate_limit": {"limit": 2, "window_s": 10}, "response": "s"},
    {"path": "/mine", "rate_limit": {"limit": 1, "window_s": 10, "key": "client"}, "response": "m"},
    {"path": "/a", "rate_limit": {"limit": 2, "window_s": 10, "bucket": "ab"}, "response": "a"},
    {"path": "/b", "rate_limit": {"limit": 2, "window_s": 10, "bucket": "ab"}, "response": "b"},
    {"path": "/guarded", "auth": {"type": "bearer", "tokens": ["t"]}, "rate_limit": "1/min", "response": "g"},
]}


def test_429_with_retry_after_and_ratelimit_headers():
    clock = Clock()
    app = MockApp(CONFIG, clock=clock)
    first = call(app, "GET", "/shared")
    assert first.status == 200 and limits(first) == {
        "RateLimit-Limit": "2", "RateLimit-Remaining": "1", "RateLimit-Reset": "5", "RateLimit-Policy": "2;w=10;burst=2"}
    call(app, "GET", "/shared")
    refused = call(app, "GET", "/shared")
    assert refused.status == 429 and refused.header("Content-Type") == "application/problem+json"
    assert limits(refused)["Retry-After"] == "5" and limits(refused)["RateLimit-Remaining"] == "0"
    assert json.loads(refused.body)["detail"] == "this mock allows 2 requests per 10s (per endpoint); retry in 5s"
    entry = app.journal.list()[0]
    assert (entry["picked"], entry["rate_limit"]) == ("rate_limited", {"allowed": False, "remaining": 0})
    clock.now += 5
    assert call(app, "GET", "/shared").status == 200


def test_per_client_and_shared_buckets():
    app = MockApp(CONFIG, clock=Clock())
    assert call(app, "GET", "/mine", client=("10.0.0.1", 1)).status == 200
    assert call(app, "GET", "/mine", client=("10.0.0.1", 2)).status == 429
    assert call(app, "GET", "/mine", client=("10.0.0.2", 1)).status == 200
    assert [call(app, "GET", path).status for path in ("/a", "/b", "/a")] == [200, 200, 429]


def test_refused_auth_spends_no_token_and_reset_refills():
    app = MockApp(CONFIG, clock=Clock())
    assert [call(app, "GET", "/guarded").status for _ in range(3)] == [401, 401, 401]
    token = [("Authorization", "Bearer t")]
    assert call(app, "GET", "/guarded", token).status == 200
    assert call(app, "GET", "/guarded", token).status == 429
    app.handle(Request("POST", "/__admin/reset"))
    assert call(app, "GET", "/guarded", token).status == 200


def test_rate_limit_over_http():
    with MockServer({"endpoints": [{"path": "/x", "rate_limit": "1/hour", "response": "x"}]}) as mock:
        assert urlopen(mock.url("/x")).headers["RateLimit-Remaining"] == "0"
        with pytest.raises(HTTPError) as refused:
            urlopen(mock.url("/x"))
        assert refused.value.code == 429 and refused.value.headers["Retry-After"] == "3600"


# ---------------------------------------------------------------- bandwidth

def test_bandwidth_sets_the_throttle_on_the_plan():
    app = MockApp({"endpoints": [{"path": "/slow", "bandwidth": 4096, "response": "x" * 100},
                                 {"path": "/fast", "response": "y"}]})
    assert call(app, "GET", "/slow").bytes_per_s == 4096
    assert call(app, "GET", "/fast").bytes_per_s == 0


def test_throttled_body_arrives_whole_over_http():
    body = "z" * 3000
    with MockServer({"endpoints": [{"path": "/slow", "bandwidth": 1_000_000, "response": body}]}) as mock:
        assert urlopen(mock.url("/slow")).read().decode() == body


@pytest.mark.parametrize("value", [0, -5, 1.5, "1kb", True])
def test_bandwidth_must_be_whole_bytes_per_second(value):
    with pytest.raises(ConfigError) as caught:
        build_config({"endpoints": [{"path": "/x", "bandwidth": value}]})
    assert caught.value.problems[0].path == "endpoints[0].bandwidth"
    assert "bytes per second" in caught.value.problems[0].message
