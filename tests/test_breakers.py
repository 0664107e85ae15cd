"""Tests for pymock.breakers: every transition and cause, with a fake clock."""

import threading

import pytest

from pymock.breakers import (
    CLOSED, FORCED_CLOSED, FORCED_OPEN, HALF_OPEN, OPEN, BreakerConfig, BreakerRegistry,
    CircuitBreaker, Decision,
)
from pymock.errors import ConfigError, NotFoundError


class FakeClock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def small(**overrides) -> BreakerConfig:
    values = dict(failure_rate_threshold=50, sliding_window_size=4, minimum_number_of_calls=4,
                  wait_duration_open_s=10, permitted_calls_half_open=2, slow_call_duration_s=1.0)
    values.update(overrides)
    return BreakerConfig(**values)


def make(**overrides):
    clock = FakeClock()
    return CircuitBreaker(small(**overrides), clock, name="orders GET /x"), clock


def causes(breaker):
    return [(t["from"], t["to"], t["cause"]) for t in breaker.snapshot()["transitions"]]


def feed(breaker, outcomes, duration=0.1):
    for ok in outcomes:
        breaker.record(ok, duration)


# --- config ---------------------------------------------------------------------------------

def test_defaults_match_resilience4j():
    config = BreakerConfig()
    assert (config.failure_rate_threshold, config.slow_call_rate_threshold) == (50.0, 100.0)
    assert (config.slow_call_duration_s, config.wait_duration_open_s) == (60.0, 60.0)
    assert (config.permitted_calls_half_open, config.sliding_window_size) == (10, 100)
    assert config.minimum_number_of_calls == 100 and config.consecutive_failures_threshold is None


def test_config_rejects_every_bad_value_at_once():
    with pytest.raises(ConfigError) as info:
        BreakerConfig(failure_rate_threshold=0, slow_call_rate_threshold=101,
                      slow_call_duration_s=-1, wait_duration_open_s=float("nan"),
                      permitted_calls_half_open=0, sliding_window_size=2.5,
                      minimum_number_of_calls=True, consecutive_failures_threshold=0)
    assert [p.path for p in info.value.problems] == [
        "failure_rate_threshold", "slow_call_rate_threshold", "slow_call_duration_s",
        "wait_duration_open_s", "permitted_calls_half_open", "sliding_window_size",
        "minimum_number_of_calls", "consecutive_failures_threshold"]
    assert isinstance(info.value, ValueError)


def test_config_from_dict_with_paths_and_did_you_mean():
    config = BreakerConfig.from_dict({"failure_rate_threshold": 25, "sliding_window_size": 10})
    assert config.failure_rate_threshold == 25 and config.minimum_number_of_calls == 100
    assert config.effective_minimum_calls == 10
    with pytest.raises(ConfigError) as info:
        BreakerConfig.from_dict({"failure_rate_treshold": 5, "zzz": 1, "sliding_window_size": 0},
                                path="services.orders.circuit_breaker")
    problems = [str(p) for p in info.value.problems]
    assert problems[0] == ("services.orders.circuit_breaker.failure_rate_treshold: unknown key "
                           "(did you mean 'failure_rate_threshold'?)")
    assert problems[1].startswith("services.orders.circuit_breaker.zzz: unknown key (known keys:")
    assert problems[2].startswith("services.orders.circuit_breaker.sliding_window_size: must be")
    with pytest.raises(ConfigError, match="must be an object"):
        BreakerConfig.from_dict([1])
    base = small()
    assert BreakerConfig.from_dict({}, base=base) == base
    assert base.as_dict()["sliding_window_size"] == 4


def test_breaker_requires_a_clock():
    with pytest.raises(TypeError, match="clock"):
        CircuitBreaker(BreakerConfig())


# --- closed -> open -------------------------------------------------------------------------

def test_failure_rate_opens_only_after_minimum_calls():
    cb, _ = make()
    feed(cb, [False, False, False])
    assert cb.state == CLOSED, "3 calls < minimum of 4"
    cb.record(True, 0.1)
    assert cb.state == OPEN   # 3/4 = 75% >= 50%
    assert causes(cb) == [(CLOSED, OPEN, "failure_rate (75% >= 50%)")]


def test_failure_rate_below_threshold_stays_closed_and_window_slides():
    cb, _ = make()
    feed(cb, [False, True, True, True, True, True])   # first failure slides out
    snap = cb.snapshot()
    assert snap["state"] == CLOSED and snap["window"]["calls"] == 4
    assert snap["window"]["failures"] == 0 and snap["failure_rate"] == 0.0
    feed(cb, [False])
    assert cb.snapshot()["failure_rate"] == 25.0 and cb.state == CLOSED
    feed(cb, [False])
    assert cb.state == OPEN


def test_slow_calls_open_the_breaker():
    cb, _ = make(slow_call_rate_threshold=50)
    feed(cb, [True, True], duration=0.5)
    feed(cb, [True, True], duration=1.5)   # slow means strictly longer than 1.0 s
    assert cb.state == OPEN
    assert causes(cb)[-1][2] == "slow_call_rate (50% >= 50%)"
    assert cb.snapshot()["totals"]["slow_calls"] == 2


def test_call_exactly_at_slow_threshold_is_not_slow():
    cb, _ = make(slow_call_rate_threshold=25)
    feed(cb, [True] * 4, duration=1.0)
    assert cb.state == CLOSED and cb.snapshot()["slow_call_rate"] == 0.0


def test_consecutive_failures_open_before_the_window_fills():
    cb, _ = make(consecutive_failures_threshold=3, sliding_window_size=100,
                 minimum_number_of_calls=100)
    feed(cb, [False, False, True, False, False])
    assert cb.state == CLOSED and cb.snapshot()["consecutive_failures"] == 2
    cb.record(False)
    assert cb.state == OPEN
    assert causes(cb) == [(CLOSED, OPEN, "consecutive_failures (3)")]


# --- open -----------------------------------------------------------------------------------

def test_open_refuses_fast_with_retry_after_and_counts():
    cb, clock = make()
    feed(cb, [False] * 4)
    assert cb.snapshot()["opened_at"] == 1000.0
    clock.advance(4)
    assert cb.allow() == Decision(False, OPEN, 6.0)
    cb.record(True)   # a call that started before the breaker opened
    snap = cb.snapshot()
    assert snap["totals"]["not_permitted"] == 1 and snap["totals"]["ignored"] == 1
    assert snap["retry_after_s"] == 6.0 and snap["window"]["calls"] == 0


def test_open_becomes_half_open_on_the_next_call_after_the_wait():
    cb, clock = make()
    feed(cb, [False] * 4)
    clock.advance(9.999)
    assert not cb.allow().allowed
    clock.advance(0.001)
    assert cb.allow() == Decision(True, HALF_OPEN, None)
    assert causes(cb)[-1] == (OPEN, HALF_OPEN, "wait_duration_elapsed")
    assert cb.snapshot()["transitions"][-1]["at"] == 1010.0


# --- half open ------------------------------------------------------------------------------

def open_then_half_open(**overrides):
    cb, clock = make(**overrides)
    feed(cb, [False] * 4)
    clock.advance(10)
    return cb, clock


def test_half_open_permits_limited_calls_then_closes():
    cb, _ = open_then_half_open()
    assert cb.allow().allowed and cb.allow().allowed
    refused = cb.allow()
    assert refused == Decision(False, HALF_OPEN, None)
    assert cb.snapshot()["half_open"]["in_flight"] == 2
    feed(cb, [True])
    assert cb.state == HALF_OPEN
    feed(cb, [True])
    assert cb.state == CLOSED
    assert causes(cb)[-1] == (HALF_OPEN, CLOSED, "half_open_calls_succeeded")
    assert cb.snapshot()["window"]["calls"] == 0, "closing starts a fresh window"


def test_half_open_failures_reopen():
    cb, clock = open_then_half_open()
    cb.allow(), cb.allow()
    feed(cb, [True, False])
    assert cb.state == OPEN
    assert causes(cb)[-1] == (HALF_OPEN, OPEN, "half_open_failure_rate (50% >= 50%)")
    assert cb.snapshot()["opened_at"] == clock.now
    assert cb.allow().retry_after_s == 10.0


def test_half_open_slow_calls_reopen():
    cb, _ = open_then_half_open(slow_call_rate_threshold=50)
    cb.allow(), cb.allow()
    feed(cb, [True], duration=0.1)
    feed(cb, [True], duration=5)
    assert causes(cb)[-1][1:] == (OPEN, "half_open_slow_call_rate (50% >= 50%)")


def test_full_cycle_transition_log():
    cb, clock = open_then_half_open()
    cb.allow(), cb.allow()
    feed(cb, [False, False])
    clock.advance(10)
    cb.allow(), cb.allow()
    feed(cb, [True, True])
    assert causes(cb) == [
        (CLOSED, OPEN, "failure_rate (100% >= 50%)"),
        (OPEN, HALF_OPEN, "wait_duration_elapsed"),
        (HALF_OPEN, OPEN, "half_open_failure_rate (100% >= 50%)"),
        (OPEN, HALF_OPEN, "wait_duration_elapsed"),
        (HALF_OPEN, CLOSED, "half_open_calls_succeeded")]
    assert [t["at"] for t in cb.snapshot()["transitions"]] == [1000, 1010, 1010, 1020, 1020]


# --- manual control -------------------------------------------------------------------------

def test_forced_open_refuses_until_released():
    cb, clock = make()
    cb.force_open()
    cb.force_open()   # no second transition
    clock.advance(3600)
    assert cb.allow() == Decision(False, FORCED_OPEN, None)
    cb.record(True)
    assert cb.snapshot()["totals"]["ignored"] == 1
    cb.release()
    assert cb.allow() == Decision(True, CLOSED)
    assert causes(cb) == [(CLOSED, FORCED_OPEN, "forced_open"),
                          (FORCED_OPEN, CLOSED, "released")]


def test_forced_closed_ignores_failures():
    cb, _ = make()
    cb.force_closed()
    feed(cb, [False] * 20)
    assert cb.allow() == Decision(True, FORCED_CLOSED)
    assert cb.snapshot()["totals"]["failures"] == 20
    cb.release()
    cb.release()
    assert cb.state == CLOSED and len(causes(cb)) == 2


def test_reset_closes_and_clears_counts_but_keeps_history():
    cb, _ = make()
    feed(cb, [False] * 4)
    cb.reset()
    snap = cb.snapshot()
    assert snap["state"] == CLOSED and snap["totals"]["calls"] == 0
    assert snap["opened_at"] is None and causes(cb)[-1] == (OPEN, CLOSED, "reset")
    feed(cb, [False])
    cb.reset()   # already closed: counts cleared, no new transition
    assert cb.snapshot()["window"]["calls"] == 0 and len(causes(cb)) == 2


def test_transition_history_is_bounded():
    cb, clock = make()
    for _ in range(150):
        cb.force_open()
        cb.release()
    snap = cb.snapshot()
    assert len(snap["transitions"]) == 200 and snap["transitions_dropped"] == 100


def test_snapshot_shape():
    cb, _ = make()
    feed(cb, [True, False])
    snap = cb.snapshot()
    assert snap["name"] == "orders GET /x" and snap["failure_rate"] == 50.0
    assert snap["window"] == {"size": 4, "calls": 2, "failures": 1, "slow_calls": 0,
                              "failure_rate": 50.0, "slow_call_rate": 0.0}
    assert snap["half_open"]["permitted"] == 2 and snap["config"]["sliding_window_size"] == 4
    snap["transitions"].append("x")
    assert cb.snapshot()["transitions"] == []


# --- concurrency ----------------------------------------------------------------------------

def test_concurrent_records_lose_no_counts():
    cb, _ = make(sliding_window_size=100_000, minimum_number_of_calls=100_000,
                 failure_rate_threshold=100)
    threads_n, per_thread = 8, 2000
    barrier = threading.Barrier(threads_n)

    def worker(index):
        barrier.wait()
        for i in range(per_thread):
            cb.allow()
            cb.record(i % 4 != 0, 0.01)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    snap = cb.snapshot()
    assert snap["totals"]["calls"] == threads_n * per_thread
    assert snap["window"]["calls"] == threads_n * per_thread
    assert snap["window"]["failures"] == threads_n * per_thread // 4
    assert snap["state"] == CLOSED


# --- registry -------------------------------------------------------------------------------

def test_registry_creates_once_and_lists_sorted():
    clock = FakeClock()
    registry = BreakerRegistry(clock, default_config=small())
    orders = registry.get_or_create("orders", "GET /orders")
    assert registry.get_or_create("orders", "GET /orders", config=BreakerConfig()) is orders
    assert orders.config == small()
    users = registry.get_or_create("users", config=small(sliding_window_size=8))
    assert users.config.sliding_window_size == 8 and registry.get("users") is users
    feed(orders, [False] * 4)
    listing = registry.list()
    assert [(b["service"], b["endpoint"], b["state"]) for b in listing] == [
        ("orders", "GET /orders", OPEN), ("users", "*", CLOSED)]
    assert [b["service"] for b in registry.list("users")] == ["users"]
    assert len(registry) == 2


def test_registry_reset_configure_remove_and_not_found():
    clock = FakeClock()
    registry = BreakerRegistry(clock)
    assert registry.default_config == BreakerConfig()
    cb = registry.get_or_create("orders", "GET /x", config=small())
    feed(cb, [False] * 4)
    registry.reset("orders", "GET /x")
    assert cb.state == CLOSED
    feed(cb, [False] * 4)
    registry.reset_all()
    assert cb.state == CLOSED
    fresh = registry.configure("orders", "GET /x", small(wait_duration_open_s=1))
    assert registry.get("orders", "GET /x") is fresh and fresh is not cb
    registry.remove("orders", "GET /x")
    for action in (registry.get, registry.reset, registry.remove):
        with pytest.raises(NotFoundError, match="circuit breaker"):
            action("orders", "GET /x")
