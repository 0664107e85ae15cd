"""Tests for pymock.graph: building, cycles, order, impact, cut vertices and renderings."""

import json

import pytest

from pymock.errors import ConfigError, CycleError, NotFoundError
from pymock.graph import DependencyGraph, Edge, Impact


def seed_graph() -> DependencyGraph:
    """The mesh's demo topology."""
    g = DependencyGraph()
    g.add_dependency("frontend", "api-gateway", timeout_ms=2000)
    g.add_dependency("api-gateway", "user-service", timeout_ms=500)
    g.add_dependency("api-gateway", "order-service", timeout_ms=500)
    g.add_dependency("user-service", "database")
    g.add_dependency("order-service", "database")
    return g


# --- building -------------------------------------------------------------------------------

def test_seed_topology_neighbours():
    g = seed_graph()
    assert g.services() == ["api-gateway", "database", "frontend", "order-service",
                            "user-service"]
    assert g.dependencies_of("api-gateway") == ["order-service", "user-service"]
    assert g.dependents_of("database") == ["order-service", "user-service"]
    assert g.dependencies_of("database") == [] and g.dependents_of("frontend") == []
    assert g.edge("frontend", "api-gateway") == Edge("frontend", "api-gateway", True, 2000, True)
    assert len(g) == 5 and "database" in g and "nope" not in g


def test_add_service_is_idempotent_and_validates_names():
    g = DependencyGraph()
    g.add_service("a")
    g.add_service("a")
    assert g.services() == ["a"]
    for bad in ("", "   ", None, 3):
        with pytest.raises(ConfigError) as info:
            g.add_service(bad)
        assert info.value.problems[0].path == "service"


def test_add_dependency_validates_every_field_at_once():
    g = DependencyGraph()
    with pytest.raises(ConfigError) as info:
        g.add_dependency("", "b", required="yes", timeout_ms=-5, circuit_breaker_enabled=1)
    paths = [p.path for p in info.value.problems]
    assert paths == ["from", "required", "circuit_breaker_enabled", "timeout_ms"]
    for bad_timeout in (0, True, "100", float("inf")):
        with pytest.raises(ConfigError, match="timeout_ms"):
            g.add_dependency("a", "b", timeout_ms=bad_timeout)
    assert len(g) == 0, "a rejected edge adds nothing"


def test_add_dependency_replaces_existing_edge_settings():
    g = seed_graph()
    edge = g.add_dependency("api-gateway", "order-service", required=False, timeout_ms=250.5)
    assert g.edge("api-gateway", "order-service") == edge
    assert edge.required is False and edge.timeout_ms == 250.5
    assert g.dependencies_of("api-gateway") == ["order-service", "user-service"]


def test_remove_dependency_and_service():
    g = seed_graph()
    removed = g.remove_dependency("user-service", "database")
    assert removed.source == "user-service"
    assert g.dependents_of("database") == ["order-service"]
    with pytest.raises(NotFoundError, match="user-service -> database"):
        g.remove_dependency("user-service", "database")
    g.remove_service("api-gateway")
    assert g.dependencies_of("frontend") == [] and g.dependents_of("order-service") == []
    assert "api-gateway" not in g
    with pytest.raises(NotFoundError, match="no service with id 'api-gateway'"):
        g.remove_service("api-gateway")
    with pytest.raises(NotFoundError):
        g.dependents_of("ghost")


def test_queries_return_copies():
    g = seed_graph()
    g.dependencies_of("api-gateway").clear()
    g.to_dict()["services"].clear()
    clone = g.copy()
    clone.add_dependency("database", "cache")
    assert g.dependencies_of("api-gateway") == ["order-service", "user-service"]
    assert "cache" not in g and "cache" in clone


# --- cycles ---------------------------------------------------------------------------------

def test_cycle_forming_edge_is_refused_with_the_cycle():
    g = seed_graph()
    with pytest.raises(CycleError) as info:
        g.add_dependency("database", "frontend")
    assert info.value.cycle == ["database", "frontend", "api-gateway", "order-service",
                                "database"]
    assert isinstance(info.value, ValueError)
    assert g.dependencies_of("database") == [], "refused edge is not added"


def test_self_dependency_is_a_cycle():
    g = DependencyGraph()
    with pytest.raises(CycleError) as info:
        g.add_dependency("a", "a")
    assert info.value.cycle == ["a", "a"]
    assert len(g) == 0


def test_allowed_cycles_are_found_per_component():
    g = seed_graph()
    g.add_dependency("database", "user-service", allow_cycle=True)
    g.add_dependency("x", "y")
    g.add_dependency("y", "z")
    g.add_dependency("z", "x", allow_cycle=True)
    g.add_dependency("solo", "solo", allow_cycle=True)
    assert g.find_cycles() == [["database", "user-service", "database"], ["solo", "solo"],
                               ["x", "y", "z", "x"]]
    assert g.to_dict()["cycles"] == g.find_cycles()
    components = g.strongly_connected_components()
    assert ["database", "user-service"] in components and ["x", "y", "z"] in components


def test_find_cycles_prefers_a_real_cycle_over_a_self_loop():
    g = DependencyGraph()
    g.add_dependency("a", "a", allow_cycle=True)
    g.add_dependency("a", "b")
    g.add_dependency("b", "a", allow_cycle=True)
    assert g.find_cycles() == [["a", "b", "a"]]


def test_acyclic_graph_has_no_cycles():
    assert seed_graph().find_cycles() == []


# --- deployment order -----------------------------------------------------------------------

def test_deployment_order_dependencies_first_ties_by_name():
    g = seed_graph()
    g.add_service("zeta")
    g.add_service("alpha")
    assert g.deployment_order() == ["alpha", "database", "order-service", "user-service",
                                    "api-gateway", "frontend", "zeta"]


def test_deployment_order_refuses_cycles():
    g = seed_graph()
    g.add_dependency("database", "api-gateway", allow_cycle=True)
    with pytest.raises(CycleError) as info:
        g.deployment_order()
    assert info.value.cycle == ["api-gateway", "order-service", "database", "api-gateway"]


def test_deep_chain_does_not_hit_recursion_limit():
    g = DependencyGraph()
    for i in range(3000):
        g.add_dependency(f"s{i:05d}", f"s{i + 1:05d}")
    g.add_dependency("s03000", "s00000", allow_cycle=True)
    assert len(g.find_cycles()[0]) == 3002
    assert len(g.articulation_points()) == 0   # one big ring


# --- impact ---------------------------------------------------------------------------------

def test_impact_walks_required_edges_upwards():
    g = seed_graph()
    assert g.impact("database") == Impact(
        "database", frozenset({"user-service", "order-service", "api-gateway", "frontend"}),
        frozenset())
    assert g.impact("frontend").failed == frozenset()
    assert g.impact("user-service").as_dict() == {
        "service": "user-service", "fails": 2, "failed": ["api-gateway", "frontend"],
        "degraded": []}


def test_optional_edges_degrade_instead_of_failing():
    g = seed_graph()
    g.add_dependency("api-gateway", "order-service", required=False)
    impact = g.impact("order-service")
    assert impact.failed == frozenset() and impact.degraded == frozenset({"api-gateway"})
    db = g.impact("database")
    assert db.failed == frozenset({"user-service", "order-service", "api-gateway", "frontend"})
    assert db.degraded == frozenset()
    with pytest.raises(NotFoundError):
        g.impact("ghost")


def test_critical_services_ranking():
    g = seed_graph()
    g.add_dependency("api-gateway", "order-service", required=False)
    ranked = g.critical_services()
    assert [(e["service"], e["fails"]) for e in ranked] == [
        ("database", 4), ("user-service", 2), ("api-gateway", 1), ("order-service", 0),
        ("frontend", 0)]
    gateway = ranked[2]
    assert gateway["articulation_point"] and gateway["dependents"] == 1
    assert ranked[3]["degraded"] == ["api-gateway"]


# --- articulation points --------------------------------------------------------------------

def test_articulation_points_of_seed_topology():
    assert seed_graph().articulation_points() == ["api-gateway"]


def test_articulation_points_star_chain_and_components():
    g = DependencyGraph()
    for leaf in ("a", "b", "c"):
        g.add_dependency(leaf, "hub")        # hub is the root-less star centre
    g.add_dependency("p", "q")
    g.add_dependency("q", "r")               # chain: q cuts p from r
    g.add_dependency("r", "r", allow_cycle=True)
    g.add_service("lonely")
    assert g.articulation_points() == ["hub", "q"]


def test_articulation_point_that_is_the_dfs_root():
    g = DependencyGraph()
    g.add_dependency("a", "b")
    g.add_dependency("a", "c")               # "a" is visited first and has two subtrees
    assert g.articulation_points() == ["a"]


# --- serialisation --------------------------------------------------------------------------

def test_to_dict_and_back():
    g = seed_graph()
    g.add_dependency("api-gateway", "order-service", required=False, circuit_breaker_enabled=False)
    g.add_service("standalone")
    data = json.loads(json.dumps(g.to_dict()))
    assert data["dependencies"][0] == {"from": "api-gateway", "to": "order-service",
                                       "required": False, "timeout_ms": None,
                                       "circuit_breaker_enabled": False}
    assert "standalone" in data["services"] and data["cycles"] == []
    again = DependencyGraph.from_dict(data)
    assert again.to_dict() == g.to_dict()


def test_from_dict_reports_every_problem():
    bad = {"services": ["ok", ""], "dependencies": [
        {"from": "a", "too": "b"}, "nope", {"from": "a", "to": "b", "timeout_ms": 0}],
        "extra": 1}
    with pytest.raises(ConfigError) as info:
        DependencyGraph.from_dict(bad)
    assert [p.path for p in info.value.problems] == [
        "extra", "services[1]", "dependencies[0].too", "dependencies[0].to", "dependencies[1]",
        "dependencies[2].timeout_ms"]
    with pytest.raises(ConfigError, match="must be an object"):
        DependencyGraph.from_dict([])
    with pytest.raises(ConfigError) as info:
        DependencyGraph.from_dict({"services": "a", "dependencies": {}})
    assert [p.path for p in info.value.problems] == ["services", "dependencies"]


def test_from_dict_cycles_refused_unless_allowed():
    data = {"dependencies": [{"from": "a", "to": "b"}, {"from": "b", "to": "a"}]}
    with pytest.raises(CycleError):
        DependencyGraph.from_dict(data)
    assert DependencyGraph.from_dict(data, allow_cycles=True).find_cycles() == [["a", "b", "a"]]


def test_to_mermaid_is_deterministic():
    g = seed_graph()
    g.add_dependency("api-gateway", "order-service", required=False, timeout_ms=250.5)
    assert g.to_mermaid() == (
        "graph TD\n"
        '    api_gateway["api-gateway"]\n'
        '    database["database"]\n'
        '    frontend["frontend"]\n'
        '    order_service["order-service"]\n'
        '    user_service["user-service"]\n'
        "    api_gateway -.->|250.5ms| order_service\n"
        "    api_gateway -->|500ms| user_service\n"
        "    frontend -->|2000ms| api_gateway\n"
        "    order_service --> database\n"
        "    user_service --> database\n")


def test_to_mermaid_ids_are_safe_and_unique():
    g = DependencyGraph()
    g.add_dependency("a-b", "a_b")
    g.add_dependency("9lives", 'say "hi"')
    g.add_service("end")
    text = g.to_mermaid()
    assert 'a_b["a-b"]' in text and 'a_b_2["a_b"]' in text
    assert 's_9lives["9lives"]' in text and 'say__hi_["say #quot;hi#quot;"]' in text
    assert 'end_2["end"]' in text and "a_b --> a_b_2" in text


def test_to_dot_is_deterministic_and_escaped():
    g = DependencyGraph()
    g.add_dependency("web", "api", timeout_ms=100)
    g.add_dependency("api", 'odd"name\\', required=False)
    assert g.to_dot() == (
        "digraph dependencies {\n"
        "    rankdir=LR;\n"
        "    node [shape=box];\n"
        '    "api";\n'
        '    "odd\\"name\\\\";\n'
        '    "web";\n'
        '    "api" -> "odd\\"name\\\\" [style=dashed];\n'
        '    "web" -> "api" [label="100ms"];\n'
        "}\n")
