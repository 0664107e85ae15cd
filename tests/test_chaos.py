"""Tests for pymock.chaos: each event kind, durations, stops, cascades, metrics, validation."""

import random
import threading

import pytest

from pymock.chaos import EVENT_TYPES, ChaosEngine, ChaosPlan, validate_event
from pymock.errors import ConfigError, ConflictError, NotFoundError
from pymock.graph import DependencyGraph


class FakeClock:
    def __init__(self, now: float = 100.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def engine_with_clock(**kwargs):
    clock = FakeClock()
    return ChaosEngine(clock, **kwargs), clock


def paths(spec):
    return [p.path for p in validate_event(spec)]


# --- service outage -------------------------------------------------------------------------

def test_outage_fails_calls_to_the_service_only():
    engine, _ = engine_with_clock()
    event = engine.start({"type": "service_outage", "service": "orders", "duration_s": 10})
    assert event["id"] == "chaos-1" and event["status"] == 503 and event["mode"] == "status"
    plan = engine.plan_call("gateway", "orders", "/orders")
    assert plan == ChaosPlan(0.0, 503, False, False, ["chaos-1"]) and plan.affected
    assert not engine.plan_call("gateway", "users", "/users").affected
    assert not engine.plan_call("orders", "users").affected, "the source being down is not ours"


def test_outage_refuse_mode_and_custom_status():
    engine, _ = engine_with_clock()
    engine.start({"type": "service_outage", "service": "a", "mode": "refuse"})
    engine.start({"type": "service_outage", "service": "b", "status": 502})
    assert engine.plan_call(None, "a").refuse
    assert engine.plan_call(None, "b").fail_status == 502


# --- durations and stopping -----------------------------------------------------------------

def test_event_expires_on_the_next_check_after_its_duration():
    engine, clock = engine_with_clock()
    event = engine.start({"type": "service_outage", "service": "orders", "duration_s": 30})
    assert event["started_at"] == 100.0 and event["ends_at"] == 130.0 and event["active"]
    clock.now = 129.999
    assert engine.plan_call("x", "orders").fail_status == 503
    clock.now = 130.0
    assert not engine.plan_call("x", "orders").affected
    assert engine.list() == []
    past = engine.list(include_past=True)
    assert [(e["id"], e["state"], e["ended_at"]) for e in past] == [("chaos-1", "expired", 130.0)]


def test_stop_early_is_idempotent_and_unknown_ids_are_404():
    engine, clock = engine_with_clock()
    engine.start({"type": "latency", "service": "orders", "latency_ms": 200, "id": "slow"})
    clock.now = 105.0
    stopped = engine.stop("slow")
    assert (stopped["state"], stopped["stopped_at"], stopped["ended_at"]) == ("stopped", 105, 105)
    assert not stopped["active"] and not engine.plan_call("x", "orders").affected
    clock.now = 200.0
    assert engine.stop("slow")["state"] == "stopped"
    assert engine.get("slow")["ended_at"] == 105.0
    with pytest.raises(NotFoundError, match="no chaos event with id 'nope'"):
        engine.stop("nope")
    with pytest.raises(NotFoundError):
        engine.get("nope")


def test_stop_all_and_get_active():
    engine, clock = engine_with_clock()
    engine.start({"type": "service_outage", "service": "a"})
    engine.start({"type": "service_outage", "service": "b"})
    assert engine.get("chaos-2")["active"]
    assert engine.stop_all() == 2 and engine.stop_all() == 0
    assert [e["state"] for e in engine.list(include_past=True)] == ["stopped", "stopped"]


def test_ids_are_unique_and_given_ids_conflict():
    engine, _ = engine_with_clock()
    engine.start({"type": "service_outage", "service": "a", "id": "chaos-2"})
    assert engine.start({"type": "service_outage", "service": "a"})["id"] == "chaos-3"
    with pytest.raises(ConflictError, match="'chaos-2' is already in use"):
        engine.start({"type": "service_outage", "service": "a", "id": "chaos-2"})


# --- latency --------------------------------------------------------------------------------

def test_fixed_latency_with_endpoint_pattern():
    engine, _ = engine_with_clock()
    engine.start({"type": "latency", "service": "orders", "endpoint": "/orders/*",
                  "latency_ms": 250})
    assert engine.plan_call("gw", "orders", "/orders/7").delay_s == 0.25
    assert not engine.plan_call("gw", "orders", "/users/7").affected
    assert not engine.plan_call("gw", "orders").affected, "endpoint-scoped needs an endpoint"


def test_latency_events_add_up():
    engine, _ = engine_with_clock()
    engine.start({"type": "latency", "service": "orders", "latency_ms": 100})
    engine.start({"type": "latency", "service": "orders", "latency_ms": 50})
    plan = engine.plan_call("gw", "orders", "/x")
    assert plan.delay_s == pytest.approx(0.15) and plan.event_ids == ["chaos-1", "chaos-2"]


def test_uniform_distribution_is_seeded_and_bounded():
    def delays(seed):
        engine, _ = engine_with_clock()
        engine.start({"type": "latency", "service": "s", "seed": seed,
                      "distribution": {"uniform": {"min": 100, "max": 300}}})
        return [engine.plan_call("c", "s").delay_s for _ in range(50)]

    first = delays(7)
    assert first == delays(7) and first != delays(8)
    assert all(0.1 <= d <= 0.3 for d in first) and len(set(first)) > 40


def test_lognormal_distribution_centres_on_the_median():
    engine, _ = engine_with_clock()
    engine.start({"type": "latency", "service": "s", "seed": 3,
                  "distribution": {"lognormal": {"median": 200, "sigma": 0.5}}})
    delays = sorted(engine.plan_call("c", "s").delay_s for _ in range(2001))
    assert 0.18 < delays[1000] < 0.22
    zero_sigma = ChaosEngine(FakeClock())
    zero_sigma.start({"type": "latency", "service": "s",
                      "distribution": {"lognormal": {"median": 40, "sigma": 0}}})
    assert zero_sigma.plan_call("c", "s").delay_s == pytest.approx(0.04)


def test_latency_probability_is_reproducible():
    def hits(seed):
        engine, _ = engine_with_clock()
        engine.start({"type": "latency", "service": "s", "latency_ms": 10,
                      "probability": 0.3, "seed": seed})
        return [engine.plan_call("c", "s").affected for _ in range(1000)]

    run = hits(11)
    assert run == hits(11)
    assert 250 < sum(run) < 350


# --- network partition ----------------------------------------------------------------------

def test_partition_between_two_services_both_directions():
    engine, _ = engine_with_clock()
    engine.start({"type": "network_partition", "between": ["orders", "payments"]})
    assert engine.plan_call("orders", "payments").timeout
    assert engine.plan_call("payments", "orders").timeout
    assert not engine.plan_call("orders", "users").affected
    assert not engine.plan_call(None, "payments").affected, "outside clients are not split"
    assert engine.list()[0]["groups"] == [["orders"], ["payments"]]


def test_partition_between_groups_refuse_mode():
    engine, _ = engine_with_clock()
    engine.start({"type": "network_partition", "mode": "refuse",
                  "groups": [["a", "b"], ["c", "d"]]})
    for src, dst in (("a", "c"), ("b", "d"), ("d", "a"), ("c", "b")):
        plan = engine.plan_call(src, dst)
        assert plan.refuse and not plan.timeout
    for src, dst in (("a", "b"), ("c", "d"), ("e", "a")):
        assert not engine.plan_call(src, dst).affected


# --- response errors ------------------------------------------------------------------------

def test_response_error_rate_and_status_seeded():
    def statuses(seed):
        engine, _ = engine_with_clock()
        engine.start({"type": "response_error", "service": "s", "endpoint": "/pay",
                      "status": 502, "rate": 0.25, "seed": seed})
        return [engine.plan_call("c", "s", "/pay").fail_status for _ in range(800)]

    run = statuses(5)
    assert run == statuses(5) and set(run) == {None, 502}
    assert 150 < run.count(502) < 250


def test_response_error_defaults_and_endpoint_filter():
    engine, _ = engine_with_clock()
    event = engine.start({"type": "response_error", "service": "s", "endpoint": "/pay"})
    assert (event["status"], event["rate"]) == (500, 1.0)
    assert engine.plan_call("c", "s", "/pay").fail_status == 500
    assert not engine.plan_call("c", "s", "/refund").affected
    assert not engine.plan_call("c", "t", "/pay").affected


# --- combining ------------------------------------------------------------------------------

def test_plan_combines_events_earliest_status_wins():
    engine, _ = engine_with_clock()
    engine.start({"type": "response_error", "service": "s", "status": 500})
    engine.start({"type": "service_outage", "service": "s", "status": 503})
    engine.start({"type": "latency", "service": "s", "latency_ms": 20})
    engine.start({"type": "network_partition", "between": ["c", "s"], "mode": "refuse"})
    plan = engine.plan_call("c", "s", "/x")
    assert plan.as_dict() == {"delay_s": 0.02, "fail_status": 500, "refuse": True,
                              "timeout": False,
                              "event_ids": ["chaos-1", "chaos-2", "chaos-3", "chaos-4"]}


# --- cascades -------------------------------------------------------------------------------

def mesh_graph():
    g = DependencyGraph()
    g.add_dependency("frontend", "api-gateway")
    g.add_dependency("api-gateway", "user-service")
    g.add_dependency("api-gateway", "order-service")
    g.add_dependency("user-service", "database")
    g.add_dependency("order-service", "database")
    g.add_dependency("reports", "database")
    return g


def test_cascade_certain_failure_walks_up_to_max_depth():
    engine, _ = engine_with_clock(dependents=mesh_graph().dependents_of)
    event = engine.start({"type": "cascade_failure", "initial_service": "database",
                          "failure_probability": 1.0, "max_depth": 2})
    assert event["affected_services"] == ["api-gateway", "database", "order-service",
                                          "reports", "user-service"]
    assert [(h["from"], h["to"], h["depth"]) for h in event["hops"]] == [
        ("database", "order-service", 1), ("database", "reports", 1),
        ("database", "user-service", 1), ("order-service", "api-gateway", 2)]
    assert engine.plan_call("x", "api-gateway").fail_status == 503
    assert not engine.plan_call("x", "frontend").affected, "depth 3 is beyond max_depth"


def test_cascade_is_deterministic_per_seed():
    graph = mesh_graph()

    def run(seed):
        engine = ChaosEngine(FakeClock(), dependents=graph.dependents_of)
        event = engine.start({"type": "cascade_failure", "initial_service": "database",
                              "failure_probability": 0.5, "max_depth": 5, "seed": seed})
        return event["affected_services"], event["hops"]

    outcomes = {seed: run(seed) for seed in range(20)}
    assert all(run(seed) == outcome for seed, outcome in outcomes.items())
    assert len({tuple(a) for a, _ in outcomes.values()}) > 2, "seeds give different cascades"
    for affected, hops in outcomes.values():
        assert "database" in affected
        assert {h["to"] for h in hops if h["failed"]} == set(affected) - {"database"}
        for hop in hops:
            assert hop["from"] in affected   # a hop only starts from a failed service


def test_cascade_zero_probability_depth_zero_and_mapping_adjacency():
    engine, _ = engine_with_clock(dependents={"db": ["api"], "api": ["web"]})
    none = engine.start({"type": "cascade_failure", "initial_service": "db",
                         "failure_probability": 0.0, "max_depth": 3})
    assert none["affected_services"] == ["db"] and none["hops"][0]["failed"] is False
    shallow = engine.start({"type": "cascade_failure", "initial_service": "db",
                            "failure_probability": 1.0, "max_depth": 0})
    assert shallow["affected_services"] == ["db"] and shallow["hops"] == []
    override = engine.start({"type": "cascade_failure", "initial_service": "x",
                             "failure_probability": 1.0, "status": 500},
                            dependents=lambda s: {"x": ["y"]}[s])
    assert override["affected_services"] == ["x", "y"]
    assert engine.plan_call("c", "y").fail_status == 500


def test_cascade_without_graph_or_unknown_service_fails_only_the_initial_one():
    plain = ChaosEngine(FakeClock())
    event = plain.start({"type": "cascade_failure", "initial_service": "db"})
    assert event["affected_services"] == ["db"]
    graph_engine = ChaosEngine(FakeClock(), dependents=mesh_graph().dependents_of)
    ghost = graph_engine.start({"type": "cascade_failure", "initial_service": "ghost"})
    assert ghost["affected_services"] == ["ghost"] and ghost["hops"] == []


# --- seeds ----------------------------------------------------------------------------------

def test_unseeded_events_get_a_reported_seed_from_the_engine_rng():
    a = ChaosEngine(FakeClock(), rng=random.Random(42))
    b = ChaosEngine(FakeClock(), rng=random.Random(42))
    spec = {"type": "response_error", "service": "s", "rate": 0.5}
    seed_a, seed_b = a.start(spec)["seed"], b.start(spec)["seed"]
    assert seed_a == seed_b and isinstance(seed_a, int)
    replay = ChaosEngine(FakeClock())
    replay.start({**spec, "seed": seed_a})
    assert [a.plan_call("c", "s").fail_status for _ in range(30)] == \
           [replay.plan_call("c", "s").fail_status for _ in range(30)]


# --- metrics and history --------------------------------------------------------------------

def test_metrics_per_event_and_per_service():
    engine, clock = engine_with_clock()
    engine.start({"type": "service_outage", "service": "orders", "duration_s": 10})
    engine.start({"type": "latency", "service": "users", "latency_ms": 5, "duration_s": 100})
    engine.start({"type": "latency", "service": "orders", "latency_ms": 5, "duration_s": 100})
    for _ in range(3):
        engine.plan_call("gw", "orders")
    engine.plan_call("gw", "users")
    engine.plan_call("gw", "payments")
    clock.now = 110.0
    engine.plan_call("gw", "orders")
    metrics = engine.metrics()
    assert metrics == {"active": 2, "past": 1, "evicted": 0, "started": 3,
                       "requests_affected": 5, "by_service": {"orders": 4, "users": 1},
                       "by_event": {"chaos-2": 1, "chaos-3": 4, "chaos-1": 3}}
    past = engine.list(include_past=True)[-1]
    assert past["requests_affected"] == 3 and past["affected_by_service"] == {"orders": 3}


def test_past_events_are_bounded_with_an_eviction_count():
    engine, _ = engine_with_clock(past_limit=3)
    for i in range(5):
        engine.start({"type": "service_outage", "service": "s", "id": f"e{i}"})
        engine.stop(f"e{i}")
    metrics = engine.metrics()
    assert (metrics["past"], metrics["evicted"], metrics["started"]) == (3, 2, 5)
    assert [e["id"] for e in engine.list(include_past=True)] == ["e2", "e3", "e4"]
    engine.start({"type": "service_outage", "service": "s", "id": "e0"})   # forgotten: reusable


def test_concurrent_plan_calls_count_every_request():
    engine, _ = engine_with_clock()
    engine.start({"type": "service_outage", "service": "s"})
    barrier = threading.Barrier(4)

    def worker():
        barrier.wait()
        for _ in range(500):
            engine.plan_call("c", "s")

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert engine.metrics()["requests_affected"] == 2000
    assert engine.get("chaos-1")["requests_affected"] == 2000


# --- validation -----------------------------------------------------------------------------

def test_start_rejects_with_all_problems_and_keeps_running_events():
    engine, _ = engine_with_clock()
    engine.start({"type": "service_outage", "service": "s"})
    with pytest.raises(ConfigError) as info:
        engine.start({"type": "service_outage", "servce": "s", "duration_s": -1})
    messages = [str(p) for p in info.value.problems]
    assert messages[0] == ("servce: unknown key for a service_outage event "
                           "(did you mean 'service'?)")
    assert messages[1].startswith("duration_s: must be a number of seconds > 0, got -1")
    assert messages[2].startswith("service: is required")
    assert len(engine.list()) == 1


@pytest.mark.parametrize("spec, expected", [
    ([], [""]),
    ({"type": "latncy", "service": "s"}, ["type"]),
    ({"type": "meteor", "seed": "x"}, ["type", "seed"]),
    ({"service": "s"}, ["type"]),
    ({"type": "service_outage", "service": "", "status": 200, "mode": "explode",
      "duration_s": True, "id": "", "description": 3},
     ["duration_s", "id", "description", "service", "status", "mode"]),
    ({"type": "latency", "service": "s"}, ["latency_ms"]),
    ({"type": "latency", "service": "s", "latency_ms": 5,
      "distribution": {"uniform": {"min": 1, "max": 2}}}, ["latency_ms"]),
    ({"type": "latency", "service": "s", "latency_ms": -5, "probability": 2,
      "endpoint": 7}, ["endpoint", "probability", "latency_ms"]),
    ({"type": "latency", "service": "s", "distribution": "uniform"}, ["distribution"]),
    ({"type": "latency", "service": "s", "distribution": {"unifrom": {}}},
     ["distribution.unifrom"]),
    ({"type": "latency", "service": "s", "distribution": {"gamma": {}}},
     ["distribution.gamma"]),
    ({"type": "latency", "service": "s", "distribution": {"uniform": {"min": 1}}},
     ["distribution.uniform"]),
    ({"type": "latency", "service": "s", "distribution": {"uniform": {"min": -1, "max": "x"}}},
     ["distribution.uniform.min", "distribution.uniform.max"]),
    ({"type": "latency", "service": "s", "distribution": {"uniform": {"min": 5, "max": 1}}},
     ["distribution.uniform.max"]),
    ({"type": "latency", "service": "s", "distribution": {"lognormal": {"median": 0,
                                                                        "sigma": 1}}},
     ["distribution.lognormal.median"]),
    ({"type": "network_partition"}, ["between"]),
    ({"type": "network_partition", "between": ["a"], "mode": "drop"}, ["mode", "between"]),
    ({"type": "network_partition", "between": ["a", 3]}, ["between[1]"]),
    ({"type": "network_partition", "between": ["a", "a"]}, ["between"]),
    ({"type": "network_partition", "groups": [["a"], []]}, ["groups"]),
    ({"type": "network_partition", "groups": [["a", ""], ["b"]]}, ["groups[0][1]"]),
    ({"type": "network_partition", "groups": [["a", "b"], ["b"]]}, ["groups"]),
    ({"type": "response_error", "service": "s", "rate": -0.1, "status": "500"},
     ["status", "rate"]),
    ({"type": "cascade_failure", "failure_probability": 1.5, "max_depth": -1},
     ["initial_service", "failure_probability", "max_depth"]),
    ({"type": "cascade_failure", "initial_service": "db", "max_depth": 2.0}, ["max_depth"]),
])
def test_validation_paths(spec, expected):
    assert paths(spec) == expected


def test_validation_messages_help():
    (problem,) = validate_event({"type": "latncy", "service": "s"})
    assert str(problem) == "type: unknown chaos event type 'latncy' (did you mean 'latency'?)"
    (problem,) = validate_event({"service": "s"})
    assert problem.hint == "one of " + ", ".join(EVENT_TYPES)
    (problem,) = validate_event({"type": "latency", "service": "s", "zzzz": 1, "latency_ms": 1})
    assert problem.hint.startswith("latency takes type, id, duration_s")
    (problem,) = validate_event({"type": "latency", "service": "s", "latency_ms": -1})
    assert problem.message == "must be a number >= 0, got -1"
    nested = validate_event({"type": "latency"}, path="chaos[2]")
    assert [p.path for p in nested] == ["chaos[2].service", "chaos[2].latency_ms"]
    assert validate_event({"type": "service_outage", "service": "s"}) == []
