"""State: the key-value store and counters, scenarios, scopes, the SQLite backend (restarts,
processes, crashes), template access to ``state``, the admin routes, and no lost update under
concurrency."""

import doctest
import importlib
import json
import re
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from urllib.request import Request as UrlRequest
from urllib.request import urlopen

import pytest

from pymock.app import MockApp
from pymock.config import build_config
from pymock.errors import ConfigError
from pymock.model import Request
from pymock.stores import MISSING, StateError, StateStore, StateView, scope_key
from pymock.testing import MockServer

ROOT = Path(__file__).resolve().parents[1]
MY_MODULES = ["stores", "resources", "simauth", "ratelimit", "webhooks", "environments", "features",
              "inspector", "state_admin"]


def call(app, method, target, body=None, headers=()):
    data = json.dumps(body).encode() if body is not None else b""
    return app.handle(Request(method, target, headers=list(headers), body=data))


def as_json(response):
    return json.loads(response.body)


@pytest.fixture(params=["memory", "sqlite"])
def store(request, tmp_path):
    made = StateStore(tmp_path / "state.db" if request.param == "sqlite" else None)
    yield made
    made.close()


def doc_configs(page):
    """The JSON blocks of a docs page that are configs (they have endpoints)."""
    text = (ROOT / "docs" / page).read_text(encoding="utf-8")
    blocks = [json.loads(block) for block in re.findall(r"```json\n(.*?)```", text, re.S)]
    return [block for block in blocks if "endpoints" in block]


def test_every_config_in_docs_state_md_is_valid():
    configs = doc_configs("state.md")
    assert len(configs) >= 7
    for raw in configs:
        build_config(raw, overrides={"env": None})


def test_the_state_md_examples_behave_as_described():
    cart, store = doc_configs("state.md")[:2]
    app = MockApp(cart)
    assert as_json(call(app, "GET", "/cart")) == {"items": []}
    assert call(app, "POST", "/cart").status == 201
    assert as_json(call(app, "GET", "/cart")) == {"items": ["book"]}
    assert call(app, "POST", "/checkout").status == 200 and as_json(call(app, "GET", "/cart")) == {"items": []}
    app = MockApp(store)
    assert as_json(call(app, "POST", "/orders", {"item": "pen"})) == {"id": 1, "item": "pen"}
    assert call(app, "PUT", "/profile", {"name": "Ada"}).body == b"saved"
    assert as_json(call(app, "GET", "/profile")) == {"name": "Ada"}


@pytest.mark.parametrize("name", MY_MODULES)
def test_module_examples_run(name):
    result = doctest.testmod(importlib.import_module(f"pymock.{name}"))
    assert result.attempted > 0 and result.failed == 0


# ---------------------------------------------------------------- the store

def test_key_values_counters_and_compare_and_set(store):
    assert store.get("global", "k") is None and store.get("global", "k", 5) == 5
    store.set("global", "k", {"a": [1, 2]})
    assert store.get("global", "k") == {"a": [1, 2]}
    assert store.inc("global", "n") == 1 and store.inc("global", "n", 2.5) == 3.5
    assert store.cas("global", "n", 99, 0) is False and store.get("global", "n") == 3.5
    assert store.cas("global", "n", 3.5, "x") is True and store.get("global", "n") == "x"
    assert store.cas("global", "fresh", None, 1) is True   # None matches a missing key
    assert store.delete("global", "k") is True and store.delete("global", "k") is False


def test_values_are_copies_and_must_be_json(store):
    value = {"list": [1]}
    store.set("global", "k", value)
    value["list"].append(2)
    got = store.get("global", "k")
    got["list"].append(3)
    assert store.get("global", "k") == {"list": [1]}
    with pytest.raises(StateError, match="JSON data"):
        store.set("global", "bad", {1, 2})
    with pytest.raises(StateError, match="JSON data"):
        store.set("global", "nan", float("nan"))


def test_inc_refuses_what_is_not_a_number(store):
    store.set("global", "name", "ada")
    with pytest.raises(StateError, match="holds \"ada\", not a number"):
        store.inc("global", "name")
    with pytest.raises(StateError, match="needs a number"):
        store.inc("global", "n", "2")
    assert store.get("global", "name") == "ada"


def test_scopes_list_clear_and_seed(store):
    store.set("global", "a", 1)
    store.set("session:s1", "a", 2)
    store.set("client:10.0.0.1", "b", 3)
    assert store.entries() == {"global": {"a": 1}, "session:s1": {"a": 2}, "client:10.0.0.1": {"b": 3}}
    assert store.entries("session:s1") == {"session:s1": {"a": 2}}
    store.seed("global", {"a": 100, "c": 4})
    assert store.entries("global") == {"global": {"a": 1, "c": 4}}   # seeds never overwrite
    assert store.clear("session:s1") == 1
    assert store.clear() == 3 and store.entries() == {}


def test_a_failed_transaction_leaves_nothing_behind(store):
    store.set("global", "a", 1)

    def half_then_fail(txn):
        txn.put("kv:global", "a", 2)
        txn.put("kv:global", "b", 3)
        txn.delete("kv:global", "a")
        raise RuntimeError("boom")
    with pytest.raises(RuntimeError):
        store.transaction(half_then_fail)
    assert store.entries() == {"global": {"a": 1}}


def test_scenarios_compare_and_set_and_reset(store):
    assert store.scenario_cas("cart", ("empty",), "full", initial="empty") == (True, "empty")
    assert store.scenario_cas("cart", ("empty",), "other", initial="empty") == (False, "full")
    assert store.scenario_cas("cart", None, "paid") == (True, "full")
    store.set_scenario("extra", "x")
    assert store.scenarios() == {"cart": "paid", "extra": "x"}
    store.seed_scenarios({"cart": "empty", "login": "out"})
    assert store.scenarios() == {"cart": "paid", "extra": "x", "login": "out"}
    assert store.reset_scenarios({"cart": "empty", "login": "out"}, ["cart"]) == {"cart": "empty"}
    store.reset_scenarios({"cart": "empty", "login": "out"})
    assert store.scenarios() == {"cart": "empty", "login": "out"}   # unknown ones are dropped


def test_scope_keys():
    request = Request("GET", "/", headers=[("X-Session-Id", "abc")], client=("10.1.2.3", 5))
    assert scope_key("global", request) == "global"
    assert scope_key("session", request) == "session:abc"
    assert scope_key("session", Request("GET", "/")) == "session:-"
    assert scope_key("client", request) == "client:10.1.2.3"
    assert scope_key("session", request, "x-other") == "session:-"
    with pytest.raises(StateError, match="unknown scope 'team'"):
        scope_key("team", request)


def test_view_notes_what_a_render_read_and_wrote():
    notes = {}
    view = StateView(StateStore(), Request("GET", "/", client=("1.2.3.4", 1)), "client", notes=notes)
    assert view.set("k", 1) == "" and view.inc("k") == 2 and view.get("k") == 2
    assert view.cas("k", 2, 5) is True and view.delete("k") is True and view.scenario("s") is None
    assert view.get("k", "dflt", scope="global") == "dflt"
    assert [(n["op"], n["scope"]) for n in notes["state"]] == [
        ("set", "client:1.2.3.4"), ("inc", "client:1.2.3.4"), ("get", "client:1.2.3.4"),
        ("cas", "client:1.2.3.4"), ("delete", "client:1.2.3.4"), ("scenario", "global"), ("get", "global")]
    for _ in range(60):
        view.get("k")
    assert len(notes["state"]) == 50   # bounded


# ---------------------------------------------------------------- SQLite

def test_sqlite_state_survives_a_restart(tmp_path):
    db = tmp_path / "state.db"
    raw = {"state": {"scenarios": {"cart": "empty"}},
           "resources": {"users": [{"id": 1, "name": "Ada"}]},
           "endpoints": [
               {"path": "/cart", "method": "POST", "scenario": {"name": "cart", "when": "empty", "then": "full"},
                "response": {"visits": "{{ state.inc('visits') }}"}},
               {"path": "/cart", "scenario": {"name": "cart", "when": "full"},
                "response": {"state": "full", "visits": "{{ state.get('visits') }}"}},
               {"path": "/users", "resource": "users"}]}
    first = MockApp(raw, state=str(db))
    assert as_json(call(first, "POST", "/cart")) == {"visits": 1}
    assert call(first, "POST", "/users", {"name": "Bob"}).status == 201
    first.stateful.store.close()

    second = MockApp(raw, state=str(db))   # a "restart": a new app on the same file
    assert as_json(call(second, "GET", "/cart")) == {"state": "full", "visits": 1}
    assert call(second, "POST", "/cart").status == 404   # still "full": the transition stuck
    assert [u["name"] for u in as_json(call(second, "GET", "/users"))] == ["Ada", "Bob"]
    assert call(second, "POST", "/users", {"name": "Cy"}).headers[1] == ("Location", "/users/3")


def test_sqlite_is_shared_by_processes_with_no_lost_update(tmp_path):
    db = tmp_path / "shared.db"
    StateStore(db).close()
    code = ("import sys; from pymock.stores import StateStore\n"
            "s = StateStore(sys.argv[1])\n"
            "for _ in range(40): s.inc('global', 'n')\n")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(db)], cwd=ROOT) for _ in range(3)]
    local = StateStore(db)
    threads = [threading.Thread(target=lambda: [local.inc("global", "n") for _ in range(40)]) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [proc.wait(60) for proc in procs] == [0, 0, 0]
    assert local.get("global", "n") == 5 * 40


def test_sqlite_keeps_nothing_of_a_transaction_cut_by_a_crash(tmp_path):
    db = tmp_path / "crash.db"
    store = StateStore(db)
    store.set("global", "k", "before")
    code = ("import os, sys; from pymock.stores import StateStore\n"
            "s = StateStore(sys.argv[1])\n"
            "def crash(txn):\n"
            "    txn.put('kv:global', 'k', 'half-written')\n"
            "    os._exit(3)\n"
            "s.transaction(crash)\n")
    assert subprocess.run([sys.executable, "-c", code, str(db)], cwd=ROOT, timeout=60).returncode == 3
    assert StateStore(db).get("global", "k") == "before"


def test_bad_state_files_are_refused_clearly(tmp_path):
    with pytest.raises(StateError, match="cannot use .* as the state file"):
        StateStore(tmp_path / "missing-folder" / "state.db")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StateError, match="cannot use"):
        StateStore(junk)
    newer = tmp_path / "newer.db"
    StateStore(newer).close()
    with sqlite3.connect(newer) as conn:
        conn.execute("UPDATE pymock_meta SET value = '9' WHERE name = 'schema'")
    with pytest.raises(StateError, match="version 9"):
        StateStore(newer)


def test_a_busy_state_file_is_a_clear_error(tmp_path):
    db = tmp_path / "busy.db"
    store = StateStore(db, timeout_s=0.01)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")   # another process holding the write lock
    try:
        with pytest.raises(StateError, match="busy or unreadable"):
            store.set("global", "k", 1)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    store.set("global", "k", 1)
    assert store.get("global", "k") == 1


def test_the_connection_pool_stays_small(tmp_path):
    backend = StateStore(tmp_path / "pool.db").backend
    taken = [backend._acquire() for _ in range(10)]
    for conn in taken:
        backend._release(conn)
    assert len(backend._idle) == 8
    backend.close()
    assert backend._idle == []


def test_sqlite_connections_are_reopened_after_a_fork(tmp_path, monkeypatch):
    store = StateStore(tmp_path / "fork.db")
    store.set("global", "k", 1)
    backend = store.backend
    monkeypatch.setattr(backend, "_pid", -1)   # as if this process were a forked child
    assert store.get("global", "k") == 1 and backend._pid != -1


# ---------------------------------------------------------------- concurrency

CHAIN = 24


def chain_config():
    steps = [{"id": f"step-{i}", "path": "/step", "method": "POST",
              "scenario": {"name": "chain", "when": f"s{i}", "then": f"s{i + 1}"},
              "response": {"step": i, "hits": "{{ state.inc('hits') }}"}} for i in range(CHAIN)]
    return {"state": {"scenarios": {"chain": "s0"}}, "endpoints": steps}


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_concurrent_transitions_and_counters_lose_no_update(backend, tmp_path):
    app = MockApp(chain_config(), state=str(tmp_path / "c.db") if backend == "sqlite" else None)
    answers, lock = [], threading.Lock()

    def worker():
        for _ in range(5):
            response = call(app, "POST", "/step")
            with lock:
                answers.append((response.status, as_json(response)))
    threads = [threading.Thread(target=worker) for _ in range(8)]   # 40 requests for 24 steps
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    served = sorted(body["step"] for status, body in answers if status == 200)
    assert served == list(range(CHAIN))   # every transition exactly once, none repeated
    assert sorted(body["hits"] for status, body in answers if status == 200) == list(range(1, CHAIN + 1))
    assert [status for status, _ in answers].count(404) == 40 - CHAIN
    assert app.stateful.store.scenario("chain") == f"s{CHAIN}"
    assert app.stateful.store.get("global", "hits") == CHAIN


# ---------------------------------------------------------------- scenarios through the app

CART = {"state": {"scenarios": {"cart": "empty"}},
        "endpoints": [
            {"id": "add", "path": "/cart", "method": "POST",
             "scenario": {"name": "cart", "when": ["empty", "has_items"], "then": "has_items"}, "status": 201},
            {"id": "empty", "path": "/cart", "scenario": {"name": "cart", "when": "empty"}, "response": {"items": []}},
            {"id": "full", "path": "/cart", "scenario": {"name": "cart", "when": "has_items"}, "response": {"items": [1]}},
            {"id": "checkout", "path": "/checkout", "method": "POST", "scenario": {"name": "cart", "then": "empty"},
             "auth": {"type": "bearer", "tokens": ["t"]}}]}


def test_scenario_gates_fall_through_and_move_after_answering():
    app = MockApp(CART)
    assert as_json(call(app, "GET", "/cart")) == {"items": []}
    assert call(app, "POST", "/cart").status == 201
    assert as_json(call(app, "GET", "/cart")) == {"items": [1]}
    assert call(app, "POST", "/checkout").status == 401   # refused: the scenario stays
    assert app.stateful.store.scenario("cart") == "has_items"
    assert call(app, "POST", "/checkout", headers=[("Authorization", "Bearer t")]).status == 200
    assert as_json(call(app, "GET", "/cart")) == {"items": []}
    entry = app.journal.list()[1]
    assert entry["scenario"] == {"name": "cart", "from": "has_items", "to": "empty"}


def test_a_plain_miss_in_a_config_with_scenarios_is_a_plain_404():
    document = as_json(call(MockApp(CART), "GET", "/nowhere"))
    fields = [m["field"] for miss in document["near_misses"] for m in miss["mismatches"]]
    assert document["status"] == 404 and "path" in fields and not any(f.startswith("scenario") for f in fields)


def test_a_miss_caused_by_a_scenario_names_it():
    app = MockApp({"endpoints": [{"id": "new", "path": "/order", "method": "POST",
                                  "scenario": {"name": "order", "when": "new", "then": "paid"}},
                                 {"id": "paid", "path": "/receipt", "scenario": {"name": "order", "when": "paid"}}]})
    response = call(app, "GET", "/receipt")
    document = as_json(response)
    assert response.status == 404 and document["detail"] == "GET /receipt; the closest mock is 'paid'"
    assert document["near_misses"][0]["mismatches"][0] == {
        "field": "scenario.order", "expected": "paid", "actual": "new",
        "message": "at scenario.order: expected 'paid', got 'new'"}


def test_first_states_are_declared_inferred_or_started():
    config = build_config({"endpoints": [
        {"path": "/a", "scenario": {"name": "one", "when": ["x", "y"], "then": "z"}},
        {"path": "/b", "scenario": {"name": "two", "then": "done"}}]})
    section = config.sections["state"]
    assert section.initial == {"one": "x", "two": "Started"}
    assert section.states == {"one": ("x", "y", "z"), "two": ("Started", "done")}
    assert build_config({"endpoints": [{"path": "/a"}]}).sections["state"] is None


def test_templates_use_state_in_the_configured_scope():
    app = MockApp({"state": {"scope": "session", "session_header": "X-Team"},
                   "endpoints": [{"path": "/count", "response": {
                       "mine": "{{ state.inc('n') }}", "all": "{{ state.inc('n', scope='global') }}"}}]})
    ada, bob = [("X-Team", "ada")], [("X-Team", "bob")]
    assert as_json(call(app, "GET", "/count", headers=ada)) == {"mine": 1, "all": 1}
    assert as_json(call(app, "GET", "/count", headers=ada)) == {"mine": 2, "all": 2}
    assert as_json(call(app, "GET", "/count", headers=bob)) == {"mine": 1, "all": 3}
    assert app.journal.list()[0]["state"][0] == {"op": "inc", "scope": "session:bob", "key": "n", "value": 1}


def test_state_works_in_plain_configs_and_errors_name_the_endpoint():
    app = MockApp({"endpoints": [{"id": "set", "path": "/set/{v}", "response": "{{ state.set('v', request.path.v) }}ok"},
                                 {"id": "get", "path": "/get", "headers": {"X-V": "{{ state.get('v') }}"}},
                                 {"id": "bad", "path": "/bad", "response": "{{ state.inc('v') }}"},
                                 {"id": "scope", "path": "/scope", "response": "{{ state.get('v', scope='team') }}"}]})
    assert call(app, "GET", "/set/seven").body == b"ok"
    assert call(app, "GET", "/get").header("X-V") == "seven"
    bad = call(app, "GET", "/bad")
    assert bad.status == 500 and "state.inc() failed: cannot inc 'v'" in as_json(bad)["detail"]
    assert "unknown scope 'team'" in as_json(call(app, "GET", "/scope"))["detail"]


def test_config_seeds_the_store_without_overwriting_live_values():
    raw = {"state": {"store": {"greeting": "hi", "n": 0}},
           "endpoints": [{"path": "/g", "response": "{{ state.get('greeting') }} {{ state.inc('n') }}"}]}
    app = MockApp(raw)
    assert call(app, "GET", "/g").body == b"hi 1"
    app.reload()
    assert call(app, "GET", "/g").body == b"hi 2"
    call(app, "POST", "/__admin/reset")
    assert call(app, "GET", "/g").body == b"hi 1"


@pytest.mark.parametrize("raw, path, message", [
    ({"state": []}, "state", "expected an object, got a list"),
    ({"state": {"scope": "team"}}, "state.scope", "unknown scope 'team'"),
    ({"state": {"scop": "global"}}, "state.scop", "unknown key"),
    ({"state": {"session_header": ""}}, "state.session_header", "expected a header name"),
    ({"state": {"scenarios": {"cart": 1}}}, "state.scenarios", "expected scenario: first state"),
    ({"state": {"store": []}}, "state.store", "expected an object"),
    ({"endpoints": [{"path": "/a", "scenario": "cart"}]}, "endpoints[0].scenario", "expected an object"),
    ({"endpoints": [{"path": "/a", "scenario": {"when": "x"}}]}, "endpoints[0].scenario.name", "required"),
    ({"endpoints": [{"path": "/a", "scenario": {"name": "c"}}]}, "endpoints[0].scenario", "give when"),
    ({"endpoints": [{"path": "/a", "scenario": {"name": "c", "when": []}}]}, "endpoints[0].scenario.when", "expected a state"),
    ({"endpoints": [{"path": "/a", "scenario": {"name": "c", "then": 3}}]}, "endpoints[0].scenario.then", "expected a state"),
    ({"endpoints": [{"path": "/a", "scenario": {"name": "c", "when": "x", "thne": "y"}}]},
     "endpoints[0].scenario.thne", "unknown key"),
    ({"endpoints": [{"path": "/a", "scenaro": {}}]}, "endpoints[0].scenaro", "unknown key"),
])
def test_state_config_problems_name_the_place(raw, path, message):
    with pytest.raises(ConfigError) as caught:
        build_config(raw)
    assert any(p.path == path and message in p.message for p in caught.value.problems), caught.value.problems


def test_scenario_key_typo_gets_a_suggestion():
    with pytest.raises(ConfigError) as caught:
        build_config({"endpoints": [{"path": "/a", "scenaro": {}}]})
    assert caught.value.problems[0].hint == "did you mean 'scenario'?"


# ---------------------------------------------------------------- admin routes

def test_admin_scenarios_list_set_and_reset():
    app = MockApp(CART)
    listed = as_json(call(app, "GET", "/__admin/scenarios"))["scenarios"]
    assert listed == [{"name": "cart", "state": "empty", "initial": "empty", "states": ["empty", "has_items"],
                       "endpoints": ["add", "empty", "full", "checkout"]}]
    assert as_json(call(app, "PUT", "/__admin/scenarios/cart", {"state": "has_items"}))["state"] == "has_items"
    assert as_json(call(app, "GET", "/cart")) == {"items": [1]}
    assert call(app, "PUT", "/__admin/scenarios", {"cart": "empty", "other": "on"}).status == 200
    assert app.stateful.store.scenarios() == {"cart": "empty", "other": "on"}
    assert as_json(call(app, "POST", "/__admin/scenarios/other/reset")) == {"name": "other", "state": None}
    call(app, "PUT", "/__admin/scenarios/cart", {"state": "has_items"})
    assert as_json(call(app, "POST", "/__admin/scenarios/cart/reset"))["state"] == "empty"
    call(app, "PUT", "/__admin/scenarios/cart", {"state": "has_items"})
    assert as_json(call(app, "POST", "/__admin/scenarios/reset"))["scenarios"][0]["state"] == "empty"


def test_admin_scenario_errors():
    app = MockApp(CART)
    missing = call(app, "POST", "/__admin/scenarios/crat/reset")
    assert missing.status == 404 and as_json(missing)["detail"] == "no scenario named 'crat' (did you mean 'cart'?)"
    assert call(app, "PUT", "/__admin/scenarios/cart", {"state": ""}).status == 400
    assert call(app, "PUT", "/__admin/scenarios/cart", [1]).status == 400
    assert call(app, "PUT", "/__admin/scenarios", {"cart": 3}).status == 400
    bad_json = app.handle(Request("PUT", "/__admin/scenarios", body=b"{nope"))
    assert bad_json.status == 400 and as_json(bad_json)["title"] == "Invalid JSON"


def test_admin_store_routes():
    app = MockApp({"endpoints": []})
    assert as_json(call(app, "PUT", "/__admin/store/greeting", {"value": "hi"}))["value"] == "hi"
    assert call(app, "PUT", "/__admin/store/n?scope=session:s1", {"value": 1}).status == 200
    assert as_json(call(app, "GET", "/__admin/store")) == {"scopes": {"global": {"greeting": "hi"},
                                                                     "session:s1": {"n": 1}}}
    assert as_json(call(app, "GET", "/__admin/store?scope=session:s1")) == {"scopes": {"session:s1": {"n": 1}}}
    assert as_json(call(app, "GET", "/__admin/store/n?scope=session:s1"))["value"] == 1
    assert call(app, "GET", "/__admin/store/nope").status == 404
    assert call(app, "GET", "/__admin/store?scope=team").status == 400
    assert call(app, "PUT", "/__admin/store/k", {"val": 1}).status == 400
    assert call(app, "PUT", "/__admin/store/k", [1]).status == 400
    assert call(app, "DELETE", "/__admin/store/greeting").status == 204
    assert call(app, "DELETE", "/__admin/store/greeting").status == 404
    assert as_json(call(app, "DELETE", "/__admin/store")) == {"deleted": 1}
    for method, target in (("GET", "/__admin/store/k?scope=x"), ("PUT", "/__admin/store/k?scope=x"),
                           ("DELETE", "/__admin/store?scope=x"), ("DELETE", "/__admin/store/k?scope=x")):
        assert call(app, method, target, {"value": 1}).status == 400


def test_state_over_http_with_a_state_file(tmp_path):
    raw = {"endpoints": [{"path": "/hit", "response": {"n": "{{ state.inc('hits') }}"}}]}
    with MockServer(raw, state=str(tmp_path / "s.db")) as mock:
        assert json.loads(urlopen(mock.url("/hit")).read()) == {"n": 1}
        put = UrlRequest(mock.url("/__admin/store/hits"), data=b'{"value": 41}', method="PUT")
        assert urlopen(put).status == 200
        assert json.loads(urlopen(mock.url("/hit")).read()) == {"n": 42}
    assert StateStore(tmp_path / "s.db").get("global", "hits") == 42
    assert MISSING is not None and not MISSING and repr(MISSING) == "MISSING"
