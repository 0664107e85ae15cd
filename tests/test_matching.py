"""Path patterns, value operators, the router's specificity order, 405s and near misses."""

import pytest

from pymock.errors import Problem
from pymock.matching import (Route, RouteHit, RouteMiss, Router, compile_matcher, compile_path,
                             split_path)
from pymock.model import Request


def route(ident, path, methods=("GET",), priority=5, order=0, **conditions):
    return Route(ident, ident, frozenset(methods) if methods else None, compile_path(path),
                 priority=priority, order=order, **conditions)


def find(router, method, target, **kwargs):
    return router.find(Request(method, target, **kwargs))


# ---------------------------------------------------------------- paths

@pytest.mark.parametrize("pattern, path, params", [
    ("/users", "/users", {}),
    ("/users", "/users/", {}),
    ("/users", "//users", {}),
    ("/users/{id}", "/users/7", {"id": "7"}),
    ("/users/{id}/orders/{order_id}", "/users/7/orders/9", {"id": "7", "order_id": "9"}),
    ("/files/{name}.json", "/files/report.json", {"name": "report"}),
    ("/a/*/c", "/a/b/c", {}),
    ("/static/**", "/static/css/site.css", {"**": "css/site.css"}),
    ("/static/**", "/static", {"**": ""}),
    ("^/v(?P<version>[0-9]+)/ping$", "/v2/ping", {"version": "2"}),
    ("/", "/", {}),
])
def test_paths_that_match(pattern, path, params):
    assert compile_path(pattern).match(path) == params


@pytest.mark.parametrize("pattern, path", [
    ("/users", "/users/7"),
    ("/users/{id}", "/users"),
    ("/users/{id}", "/users/7/x"),
    ("/files/{name}.json", "/files/report.xml"),
    ("/a/*/c", "/a/b/d"),
    ("^/v[0-9]+$", "/vx"),
])
def test_paths_that_do_not_match(pattern, path):
    assert compile_path(pattern).match(path) is None


def test_path_kinds_order_specificity():
    kinds = {p: compile_path(p).kind_name for p in ("/a/b", "/a/{x}", "/a/*", "/a/**", "^/a")}
    assert kinds == {"/a/b": "literal", "/a/{x}": "param", "/a/*": "wildcard",
                     "/a/**": "wildcard", "^/a": "regex"}
    ordered = sorted(["^/a", "/a/**", "/a/*", "/a/{x}", "/a/b"], key=lambda p: compile_path(p).specificity)
    assert ordered == ["/a/b", "/a/{x}", "/a/*", "/a/**", "^/a"]


@pytest.mark.parametrize("pattern, message, hint", [
    ("users", "must start with '/' (or '^' for a regex)", "did you mean '/users'?"),
    ("/a/**/b", "'**' may only be the last segment", None),
    ("^/a(", "invalid regex: missing ), unterminated subpattern at position 3", None),
])
def test_bad_paths_are_problems(pattern, message, hint):
    problems = []
    compile_path(pattern, "endpoints[0].path", problems)
    assert problems == [Problem("endpoints[0].path", message, hint)]
    with pytest.raises(ValueError, match="endpoints"):
        compile_path(pattern, "endpoints[0].path")


def test_split_path_drops_empty_segments():
    assert split_path("/a//b/") == ["a", "b"]


# ---------------------------------------------------------------- operators

@pytest.mark.parametrize("spec, value, expected", [
    ("abc", "abc", True),
    ("abc", "abd", False),
    ("abc", None, False),
    ({"equals": "ABC", "case_insensitive": True}, "abc", True),
    ({"equals": 5}, "5", True),
    ({"contains": "ell"}, "hello", True),
    ({"contains": "ELL", "case_insensitive": True}, "hello", True),
    ({"contains": "x"}, None, False),
    ({"regex": "^[0-9]+$"}, "123", True),
    ({"regex": "^[0-9]+$"}, "12a", False),
    ({"regex": "^abc$", "case_insensitive": True}, "ABC", True),
    ({"absent": True}, None, True),
    ({"absent": True}, "", False),
    ({"absent": False}, "x", True),
    ({"present": True}, "", True),
    ({"present": True}, None, False),
    ({"present": False}, None, True),
    ({"json": {"a": [1, 2]}}, b'{"a": [1, 2]}', True),
    ({"json": {"a": [1, 2]}}, b'{"a": [2, 1]}', False),
    ({"json": {"a": 1}}, b'{"a": 1, "b": 2}', False),
    ({"json": {"a": 1}}, b"not json", False),
    ({"json": {"a": True}}, b'{"a": 1}', False),
    ({"json": {"a": 1.0}}, b'{"a": 1}', True),
    ({"json_partial": {"a": 1}}, b'{"a": 1, "b": 2}', True),
    ({"json_partial": {"tags": ["x"]}}, b'{"tags": ["y", "x"]}', True),
    ({"json_partial": {"tags": ["z"]}}, b'{"tags": ["y", "x"]}', False),
    ({"json_path": "$.user.id"}, b'{"user": {"id": 0}}', True),
    ({"json_path": "$.user.name"}, b'{"user": {"id": 0}}', False),
    ({"json_path": {"path": "$.items[1].sku", "equals": "B"}}, b'{"items": [{"sku": "A"}, {"sku": "B"}]}', True),
    ({"json_path": {"path": "$.items[-1].sku", "regex": "^A"}}, b'{"items": [{"sku": "A"}]}', True),
    ({"json_path": {"path": "$['odd key']", "equals": "1"}}, b'{"odd key": 1}', True),
    ({"json_path": {"path": "$.n", "equals": "1"}}, b'[1]', False),
    ({"json_path": {"path": "$.a", "json_partial": {"b": 1}}}, b'{"a": {"b": 1, "c": 2}}', True),
    ({"json_path": {"path": "$.ok", "equals": True}}, b'{"ok": true}', True),
    ({"json_path": {"path": "$.ok", "equals": True}}, b'{"ok": 1}', False),
    ({"json_path": {"path": "$.n", "equals": 3}}, b'{"n": 3}', True),
    ({"json_path": {"path": "$.n", "equals": 3}}, b'{"n": "3"}', False),
    ({"json_path": {"path": "$.n", "equals": "3"}}, b'{"n": "3"}', True),
    ({"json_path": {"path": "$.v", "equals": None}}, b'{"v": null}', True),
    ({"json_path": "$.v"}, b'{"v": null}', True),
    ({"json_path": {"path": "$.v", "absent": True}}, b'{"v": null}', False),
    ({"json_path": {"path": "$.w", "absent": True}}, b'{"v": null}', True),
    ({"json_path": {"path": "$.s", "regex": "^a"}}, b'{"s": "abc"}', True),
    ({"equals": 3}, "3", True),
    ({"equals": True}, "true", True),
    ({"json": {"a": 1}}, b"[" * 100000, False),
    ({"not": {"contains": "x"}}, "abc", True),
    ({"any_of": ["a", "b"]}, "b", True),
    ({"all_of": [{"contains": "a"}, {"contains": "b"}]}, "ab", True),
    ({"all_of": [{"contains": "a"}, {"contains": "b"}]}, "a", False),
])
def test_operators(spec, value, expected):
    assert compile_matcher(spec, "m").check(value) is expected


@pytest.mark.parametrize("spec, problem", [
    ({"equal": "x"}, Problem("m.equal", "unknown matcher operator", "did you mean 'equals'?")),
    ({"zzz": "x"}, Problem("m.zzz", "unknown matcher operator", "use one of equals, contains, regex, absent, present, json, json_partial, json_path, not, any_of, all_of")),
    ({}, Problem("m", "expected exactly one operator, got 0", "use one of equals, contains, regex, absent, present, json, json_partial, json_path, not, any_of, all_of")),
    ({"regex": "("}, Problem("m.regex", "invalid regex '(': missing ), unterminated subpattern at position 0")),
    ({"contains": 3}, Problem("m.contains", "expected a string, got a number")),
    ({"absent": "yes"}, Problem("m.absent", "expected true or false, got a string")),
    ({"present": 1}, Problem("m.present", "expected true or false, got a number")),
    ({"json_path": "user.id"}, Problem("m.json_path.path", "JSON path 'user.id' must start with '$'", "e.g. $.user.id")),
    ({"json_path": "$.a..b"}, Problem("m.json_path.path", "cannot parse JSON path '$.a..b' at character 4", "supported: $.key, $[0], $['key']")),
    ({"json_path": 3}, Problem("m.json_path", 'expected {"path": "$.a.b", <operator>: ...} or a path string')),
    ({"any_of": []}, Problem("m.any_of", "expected a non-empty list of matchers")),
    (["a"], Problem("m", "expected a string or an operator object, got a list", 'write {"equals": ...} or one of equals, contains, regex, absent, present, json, json_partial, json_path, not, any_of, all_of')),
])
def test_bad_matchers_name_the_problem(spec, problem):
    problems = []
    matcher = compile_matcher(spec, "m", problems)
    assert problems[0] == problem
    if problem.message.startswith(("unknown", "expected exactly", "invalid regex", "expected a string,", "expected a non-empty", "expected {")):
        assert matcher.check("anything") is False


def test_compile_matcher_raises_without_a_problem_list():
    with pytest.raises(ValueError, match="unknown matcher operator"):
        compile_matcher({"equal": "x"}, "m")


def test_explain_lists_each_json_difference():
    matcher = compile_matcher({"json": {"a": 1, "b": {"c": 2}, "d": [1]}}, "body")
    explained = [str(m) for m in matcher.explain(b'{"a": 1, "b": {"c": 3}, "d": [1, 2], "e": null}', "body")]
    assert explained == ["at body.b.c: expected 2, got 3", "at body.d: expected [1], got [1, 2]",
                         "at body.e: expected nothing, got null"]


def test_explain_of_simple_operator_and_absent_value():
    matcher = compile_matcher({"regex": "^a"}, "q")
    assert [str(m) for m in matcher.explain(None, "query.q")] == ["at query.q: expected 'matches /^a/', got nothing"]
    assert matcher.explain("abc", "query.q") == []


# ---------------------------------------------------------------- router

def test_literal_beats_param_beats_wildcard_beats_regex_regardless_of_order():
    router = Router([
        route("regex", "^/users/.*$", order=0),
        route("rest", "/users/**", order=1),
        route("star", "/users/*", order=2),
        route("param", "/users/{id}", order=3),
        route("literal", "/users/me", order=4),
    ])
    assert find(router, "GET", "/users/me").route.ident == "literal"
    assert find(router, "GET", "/users/7").route.ident == "param"
    assert find(router, "GET", "/users/7/x").route.ident == "rest"
    assert find(router, "GET", "/users/7").path_params == {"id": "7"}


def test_priority_then_file_order_break_ties():
    router = Router([route("a", "/x", order=0), route("b", "/x", priority=1, order=1), route("c", "/x", priority=1, order=2)])
    assert find(router, "GET", "/x").route.ident == "b"


def test_conditions_pick_between_routes_with_the_same_path():
    router = Router([
        route("search", "/users", order=0, query=(("q", compile_matcher({"present": True}, "q")),)),
        route("admin", "/users", order=1, headers=(("x-role", compile_matcher("admin", "h")),)),
        route("vip", "/users", order=2, cookies=(("tier", compile_matcher("vip", "c")),)),
        route("plain", "/users", order=3),
    ])
    assert find(router, "GET", "/users?q=ada").route.ident == "search"
    assert find(router, "GET", "/users", headers=[("X-Role", "admin")]).route.ident == "admin"
    assert find(router, "GET", "/users", headers=[("Cookie", "tier=vip")]).route.ident == "vip"
    assert find(router, "GET", "/users").route.ident == "plain"


def test_body_conditions():
    router = Router([route("json", "/orders", methods=("POST",), body=(compile_matcher({"json_partial": {"type": "gift"}}, "b"),))])
    assert isinstance(find(router, "POST", "/orders", body=b'{"type": "gift", "n": 1}'), RouteHit)
    miss = find(router, "POST", "/orders", body=b'{"type": "plain"}')
    assert isinstance(miss, RouteMiss) and miss.allowed_methods == []
    assert [m.field for m in miss.near_misses[0].mismatches] == ["body.type"]


def test_wrong_method_is_a_405_with_every_allowed_method():
    router = Router([route("get", "/items"), route("post", "/items", methods=("POST", "PUT"))])
    miss = find(router, "DELETE", "/items")
    assert isinstance(miss, RouteMiss)
    assert miss.allowed_methods == ["GET", "HEAD", "POST", "PUT"]


def test_head_is_answered_by_a_get_route():
    router = Router([route("get", "/items")])
    hit = find(router, "HEAD", "/items")
    assert isinstance(hit, RouteHit) and hit.route.ident == "get"


def test_any_method_route():
    router = Router([route("any", "/hook", methods=None)])
    assert find(router, "PURGE", "/hook").route.ident == "any"


def test_miss_names_the_closest_routes_and_what_differed():
    router = Router([
        route("users", "/users/{id}", order=0),
        route("orders", "/orders", methods=("POST",), order=1),
        route("health", "/health", order=2),
    ])
    miss = find(router, "GET", "/user/7")
    assert isinstance(miss, RouteMiss) and miss.allowed_methods == []
    closest = miss.near_misses[0].as_dict()
    assert closest["id"] == "users"
    assert closest["mismatches"] == [{"field": "path", "expected": "/users/{id}", "actual": "/user/7",
                                      "message": "at path: expected '/users/{id}', got '/user/7'"}]
    assert len(miss.near_misses) == 3


def test_near_miss_for_a_header_condition():
    router = Router([route("auth", "/secure", headers=(("authorization", compile_matcher({"regex": "^Bearer "}, "h")),))])
    miss = find(router, "GET", "/secure")
    assert miss.near_misses[0].as_dict()["mismatches"][0]["field"] == "header.authorization"


def test_near_misses_score_a_bounded_pool_with_many_routes():
    routes = [route(f"r{i}", f"/items{i % 50}/{i}", order=i) for i in range(5000)]
    router = Router(routes)
    pool = router._near_miss_pool("/items7/x")
    assert len(pool) == 200
    assert all(r.path.source.startswith("/items7/") for r in pool[:100])
    miss = find(router, "GET", "/items7/x")
    assert miss.near_misses[0].route.path.source.startswith("/items7/")


def test_router_scales_by_index_not_scan():
    routes = [route(f"r{i}", f"/items/{i}/detail", order=i) for i in range(5000)]
    router = Router(routes)
    assert router.path_candidates("/items/4321/detail")[0][0].ident == "r4321"
    # Only the one route whose literal segments match is a candidate.
    assert len(router.path_candidates("/items/4321/detail")) == 1
