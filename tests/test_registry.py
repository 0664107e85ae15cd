"""Tests for pymock.registry: registrations, TTL health, active checks, deregistration, lookups
(with a fake clock: no sleeps)."""

import threading

import pytest

from pymock.errors import NotFoundError
from pymock.registry import (CRITICAL, PASSING, WARNING, HealthPolicy, Instance, ServiceRegistry,
                             worst)


class FakeClock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def spec(service_id, **fields):
    return {"service_id": service_id, "name": fields.pop("name", service_id), **fields}


def make(**policy):
    clock = FakeClock()
    return ServiceRegistry(clock, HealthPolicy(**policy)), clock


def check(record, name):
    return next(c for c in record["checks"] if c["name"] == name)


def test_worst_orders_states():
    assert worst() == PASSING
    assert worst(PASSING, WARNING) == WARNING
    assert worst(WARNING, CRITICAL, PASSING) == CRITICAL


def test_register_returns_record_and_created_flag():
    reg, clock = make()
    record, created = reg.register(spec("users-1", name="users", tags=["v1"], metadata={"az": "a"}))
    assert created is True
    assert record["service_id"] == "users-1" and record["name"] == "users"
    assert record["tags"] == ["v1"] and record["metadata"] == {"az": "a"}
    assert record["health"] == PASSING and record["source"] == "api"
    assert record["registered_at"] == clock.now and record["critical_since"] is None
    assert check(record, "heartbeat")["output"] == "registered"


def test_reregistration_updates_fields_and_counts_as_heartbeat():
    reg, clock = make(ttl_s=10)
    reg.register(spec("a", tags=["old"]))
    clock.advance(8)
    record, created = reg.register(spec("a", tags=["new"]))
    assert created is False and record["tags"] == ["new"]
    assert record["registered_at"] == 1000.0 and record["updated_at"] == 1008.0
    clock.advance(8)   # 16 s after registration but 8 s after re-registration
    assert reg.get("a")["health"] == PASSING


def test_record_is_a_copy():
    reg, _ = make()
    reg.register(spec("a", tags=["x"], metadata={"k": "v"}))
    record = reg.get("a")
    record["tags"].append("y")
    record["metadata"]["k"] = "changed"
    assert reg.get("a")["tags"] == ["x"] and reg.get("a")["metadata"] == {"k": "v"}


def test_ttl_expiry_turns_critical_on_the_next_look():
    reg, clock = make(ttl_s=10)
    reg.register(spec("a"))
    clock.advance(10)
    assert reg.get("a")["health"] == PASSING   # exactly at the TTL is still in time
    clock.advance(0.5)
    record = reg.get("a")
    assert record["health"] == CRITICAL
    assert record["critical_since"] == 1010.0
    assert "TTL of 10s expired" in check(record, "heartbeat")["output"]


def test_heartbeat_revives_and_reports_status():
    reg, clock = make(ttl_s=10)
    reg.register(spec("a"))
    clock.advance(20)
    assert reg.get("a")["health"] == CRITICAL
    record = reg.heartbeat("a")
    assert record["health"] == PASSING
    assert check(record, "heartbeat")["since"] == clock.now
    record = reg.heartbeat("a", WARNING, "disk 91%")
    assert record["health"] == WARNING
    assert check(record, "heartbeat")["output"] == "disk 91%"
    assert reg.heartbeat("a", CRITICAL)["critical_since"] == clock.now


def test_heartbeat_rejects_unknown_status_and_service():
    reg, _ = make()
    reg.register(spec("a"))
    with pytest.raises(ValueError, match="not one of passing, warning, critical"):
        reg.heartbeat("a", "sick")
    with pytest.raises(NotFoundError, match="'ghost'"):
        reg.heartbeat("ghost")


def test_service_ttl_overrides_policy():
    reg, clock = make(ttl_s=100)
    reg.register(spec("short", ttl_s=5))
    reg.register(spec("long"))
    clock.advance(6)
    assert reg.get("short")["health"] == CRITICAL
    assert reg.get("long")["health"] == PASSING
    assert reg.get("short")["ttl_s"] == 5 and reg.get("long")["ttl_s"] == 100


def test_no_ttl_means_passing_forever():
    reg, clock = make()
    reg.register(spec("a"))
    clock.advance(10 ** 6)
    assert reg.get("a")["health"] == PASSING


def test_deregister_after_critical_for_long_enough():
    reg, clock = make(ttl_s=10, deregister_critical_after_s=30)
    reg.register(spec("a"))
    clock.advance(39)            # critical since 1010, 29 s critical
    assert [s["service_id"] for s in reg.query()] == ["a"]
    clock.advance(1)             # 30 s critical
    assert reg.query() == []
    assert reg.deregistered() == [{"service_id": "a", "at": 1040.0, "reason": "critical for 30s"}]
    with pytest.raises(NotFoundError):
        reg.get("a")


def test_deregistration_seen_by_get_resolve_and_contains():
    reg, clock = make(ttl_s=1, deregister_critical_after_s=1)
    for name in ("a", "b", "c"):
        reg.register(spec(name))
    clock.advance(5)
    assert "a" not in reg
    assert reg.resolve("b") is None
    with pytest.raises(NotFoundError):
        reg.get("c")
    assert len(reg) == 0


def test_service_deregister_override():
    reg, clock = make(ttl_s=1)
    reg.register(spec("a", deregister_critical_after_s=5))
    reg.register(spec("b"))
    clock.advance(100)
    assert [s["service_id"] for s in reg.query()] == ["b"]


def test_explicit_deregister_and_unknown():
    reg, _ = make()
    reg.register(spec("a"))
    assert reg.deregister("a")["service_id"] == "a"
    assert reg.deregistered()[-1]["reason"] == "deregistered"
    with pytest.raises(NotFoundError, match="no service with id 'a'"):
        reg.deregister("a")


def test_http_check_results_combine_with_heartbeat():
    reg, clock = make()
    reg.register(spec("a", address="http://127.0.0.1:9",
                      health_check_url="http://127.0.0.1:9/health"))
    reg.register(spec("local"))
    assert reg.check_targets() == [("a", "http://127.0.0.1:9/health")]
    assert reg.record_check("a", WARNING, "HTTP 429") is True
    assert reg.record_check("local", CRITICAL, "x") is False      # no real address
    assert reg.record_check("ghost", CRITICAL, "x") is False
    record = reg.get("a")
    assert record["health"] == WARNING
    assert check(record, "http")["url"] == "http://127.0.0.1:9/health"
    clock.advance(3)
    reg.record_check("a", CRITICAL, "refused")
    reg.record_check("a", CRITICAL, "refused again")
    record = reg.get("a")
    assert record["health"] == CRITICAL and record["critical_since"] == 1003.0
    assert check(record, "http")["output"] == "refused again"
    reg.record_check("a", PASSING, "HTTP 200")
    assert reg.get("a")["health"] == PASSING


def test_http_check_critical_deregisters():
    reg, clock = make(deregister_critical_after_s=10)
    reg.register(spec("a", address="http://x:1", health_check_url="http://x:1/health"))
    reg.record_check("a", CRITICAL, "down")
    clock.advance(10)
    assert reg.query() == []


def test_reregistering_without_address_drops_the_http_check():
    reg, _ = make()
    reg.register(spec("a", address="http://x:1", health_check_url="http://x:1/h"))
    reg.record_check("a", CRITICAL, "down")
    record, _ = reg.register(spec("a"))
    assert [c["name"] for c in record["checks"]] == ["heartbeat"]
    assert record["health"] == PASSING


def test_query_filters_by_name_tags_and_health():
    reg, clock = make()
    reg.register(spec("u1", name="users", tags=["v1", "eu"]))
    reg.register(spec("u2", name="users", tags=["v2", "eu"], ttl_s=1))
    reg.register(spec("o1", name="orders", tags=["v1"]))
    clock.advance(2)
    ids = lambda **f: [s["service_id"] for s in reg.query(**f)]
    assert ids() == ["o1", "u1", "u2"]
    assert ids(name="users") == ["u1", "u2"]
    assert ids(tags=["eu"]) == ["u1", "u2"]
    assert ids(tags=["eu", "v1"]) == ["u1"]
    assert ids(health=CRITICAL) == ["u2"]
    assert ids(name="users", health=PASSING) == ["u1"]
    assert ids(name="nobody") == []


def test_query_reflects_a_heartbeat_on_the_very_next_call():
    reg, clock = make(ttl_s=5)
    reg.register(spec("a"))
    clock.advance(6)
    assert [s["service_id"] for s in reg.query(health=CRITICAL)] == ["a"]
    reg.heartbeat("a")
    assert reg.query(health=CRITICAL) == []


def test_resolve_by_id_then_name_round_robin_healthiest_first():
    reg, clock = make()
    reg.register(spec("u1", name="users"))
    reg.register(spec("u2", name="users"))
    reg.register(spec("u3", name="users", ttl_s=1))
    clock.advance(2)   # u3 is critical
    assert reg.resolve("u3") == Instance("u3", "users", None, CRITICAL)
    picks = [reg.resolve("users").service_id for _ in range(4)]
    assert picks == ["u1", "u2", "u1", "u2"]
    reg.heartbeat("u1", WARNING)
    assert {reg.resolve("users").service_id for _ in range(3)} == {"u2"}
    assert reg.resolve("nobody") is None


def test_resolve_returns_critical_instance_when_all_are_critical():
    reg, clock = make(ttl_s=1)
    reg.register(spec("u1", name="users"))
    clock.advance(2)
    assert reg.resolve("users").health == CRITICAL


def test_knows_ids_and_names_without_side_effects():
    reg, _ = make()
    reg.register(spec("u1", name="users"))
    assert reg.knows("u1") and reg.knows("users") and not reg.knows("orders")
    assert reg.resolve("users").service_id == "u1"


def test_sync_declared_keeps_api_services_and_health():
    reg, clock = make(ttl_s=10)
    reg.register(spec("api-made"))
    reg.sync_declared([spec("a"), spec("b")])
    assert [(s["service_id"], s["source"]) for s in reg.query()] == [
        ("a", "config"), ("api-made", "api"), ("b", "config")]
    clock.advance(8)
    reg.sync_declared([spec("a", tags=["changed"])])   # a reload: b dropped, a updated
    assert [s["service_id"] for s in reg.query()] == ["a", "api-made"]
    assert reg.get("a")["tags"] == ["changed"]
    clock.advance(3)   # 11 s since a's registration: a reload is not a heartbeat
    assert reg.get("a")["health"] == CRITICAL
    assert reg.deregistered()[-1] == {"service_id": "b", "at": 1008.0,
                                      "reason": "removed from the config"}


def test_config_wins_for_ids_it_declares():
    reg, _ = make()
    reg.register(spec("a", tags=["api"]))
    reg.sync_declared([spec("a", tags=["config"])])
    assert reg.get("a")["tags"] == ["config"] and reg.get("a")["source"] == "config"


def test_set_policy_applies_on_next_look():
    reg, clock = make()
    reg.register(spec("a"))
    clock.advance(50)
    assert reg.get("a")["health"] == PASSING
    reg.set_policy(HealthPolicy(ttl_s=30))
    assert reg.get("a")["health"] == CRITICAL


def test_concurrent_heartbeats_and_queries():
    reg, _ = make(ttl_s=10)
    for n in range(20):
        reg.register(spec(f"s{n}", name="svc"))
    errors = []

    def worker(n):
        try:
            for _ in range(200):
                reg.heartbeat(f"s{n}")
                reg.query(name="svc")
                reg.resolve("svc")
        except Exception as exc:   # pragma: no cover - only on a bug
            errors.append(exc)
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(reg) == 20
