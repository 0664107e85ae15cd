"""Environments (--env / PYMOCK_ENV overrides), mock version history with restore, and bulk
enable/disable by tag."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pymock.app import MockApp
from pymock.config import TOP_LEVEL_KEYS, build_config, load_config
from pymock.environments import MockHistory, select
from pymock.errors import ConfigError, Problem
from pymock.model import Request

ROOT = Path(__file__).resolve().parents[1]
BASE = {"seed": 1, "journal": {"size": 5}, "cors": {"origins": ["https://a.example"], "max_age": 60},
        "endpoints": [{"id": "user", "path": "/user", "response": {"name": "Ada"}, "tags": ["users"]},
                      {"id": "slow", "path": "/slow", "latency_ms": 500, "tags": ["slow", "users"]},
                      {"id": "beta", "path": "/beta", "enabled": False, "tags": ["slow"]}],
        "environments": {"ci": {"seed": 7, "cors": {"max_age": None}, "journal": None,
                                "endpoints": [{"id": "slow", "latency_ms": None}, {"id": "beta", "enabled": True}]},
                         "demo": {"endpoints": [{"id": "user", "response": {"name": "Demo"}}]}}}


def call(app, method, target, body=None):
    data = json.dumps(body).encode() if body is not None else b""
    return app.handle(Request(method, target, body=data))


def as_json(response):
    return json.loads(response.body)


# ---------------------------------------------------------------- environments

def test_an_environment_merges_over_the_base():
    effective, name = select(BASE, "ci", [], TOP_LEVEL_KEYS)
    assert name == "ci" and effective["seed"] == 7 and "journal" not in effective
    assert effective["cors"] == {"origins": ["https://a.example"]}         # null removed max_age
    assert "latency_ms" not in effective["endpoints"][1] and effective["endpoints"][2]["enabled"] is True
    assert BASE["endpoints"][1]["latency_ms"] == 500                        # the base is untouched
    assert select(BASE, None, [], TOP_LEVEL_KEYS) == (BASE, None)
    assert select({"endpoints": []}, "ci", [], TOP_LEVEL_KEYS) == ({"endpoints": []}, None)


def test_config_keeps_the_base_and_names_the_environment():
    config = build_config(BASE, overrides={"env": "ci"})
    assert config.seed == 7 and config.sections["environment"] == "ci"
    assert config.endpoint("beta").enabled and config.endpoint("slow").response.latency is None
    assert config.raw == BASE
    plain = build_config(BASE, overrides={"env": ""})
    assert plain.seed == 1 and "environment" not in plain.sections


def test_pymock_env_picks_the_environment(monkeypatch, tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(BASE))
    monkeypatch.setenv("PYMOCK_ENV", "demo")
    app = MockApp(str(path))
    assert as_json(call(app, "GET", "/user")) == {"name": "Demo"}
    call(app, "PATCH", "/__admin/mocks/slow", {"status": 202})             # edits work on the base...
    assert as_json(call(app, "GET", "/user")) == {"name": "Demo"}          # ...and the environment stays
    assert call(app, "POST", "/__admin/mocks/save").status == 200
    saved = json.loads(path.read_text())
    assert saved["endpoints"][0]["response"] == {"name": "Ada"} and saved["environments"] == BASE["environments"]
    assert saved["endpoints"][1]["status"] == 202
    assert load_config(path).endpoint("user").source["response"] == {"name": "Demo"}


@pytest.mark.parametrize("envs, env, path, message, hint", [
    ({"ci": {}}, "cj", "environments", "no environment named 'cj'", "did you mean 'ci'?"),
    ({}, "ci", "environments", "no environment named 'ci'", "defined: none"),
    ([], None, "environments", "expected an object of name: overrides", None),
    ({"ci": 1}, None, "environments", "expected an object of name: overrides", None),
    ({"ci": {"sed": 1}}, None, "environments.ci.sed", "not a section an environment can change", "did you mean 'seed'?"),
    ({"ci": {"environments": {}}}, None, "environments.ci.environments", "not a section", None),
    ({"ci": {"endpoints": {}}}, None, "environments.ci.endpoints", "expected a list of changes", None),
    ({"ci": {"endpoints": [{"path": "/x"}]}}, None, "environments.ci.endpoints[0]", "needs the id", None),
    ({"ci": {"endpoints": [{"id": "usr"}]}}, "ci", "environments.ci.endpoints[0].id", "no mock with id 'usr'",
     "did you mean 'user'?"),
    ({"ci": {"endpoints": [{"id": "zzz"}]}}, "ci", "environments.ci.endpoints[0].id", "no mock with id", "cannot add mocks"),
])
def test_environment_problems(envs, env, path, message, hint):
    raw = {"endpoints": [{"id": "user", "path": "/user"}], "environments": envs}
    with pytest.raises(ConfigError) as caught:
        build_config(raw, overrides={"env": env})
    problem = next(p for p in caught.value.problems if p.path == path)
    assert message in problem.message and (hint is None or hint in problem.hint)


def test_problems_in_an_environment_are_caught_even_when_it_is_not_picked():
    raw = {"endpoints": [], "environments": {"ci": {"cors": "yes"}}}
    build_config(raw)                                    # not applied: not checked as a config
    with pytest.raises(ConfigError, match="cors"):
        build_config(raw, overrides={"env": "ci"})


def run_cli(*args, cwd):
    return subprocess.run([sys.executable, str(ROOT / "mock_server.py"), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=60)


def test_cli_check_with_env(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(BASE))
    (tmp_path / "plain.json").write_text(json.dumps({"endpoints": []}))
    assert run_cli("check", "--env", "ci", cwd=tmp_path).returncode == 0
    wrong = run_cli("check", "--env", "cj", cwd=tmp_path)
    assert wrong.returncode == 2 and "no environment named 'cj'" in wrong.stderr
    none = run_cli("check", "plain.json", "--env", "ci", cwd=tmp_path)
    assert none.returncode == 2 and "the config has no environments section" in none.stderr


# ---------------------------------------------------------------- history

def test_every_admin_change_bumps_the_version():
    app = MockApp(BASE)
    call(app, "PATCH", "/__admin/mocks/user", {"status": 201})
    call(app, "POST", "/__admin/mocks/user/disable")
    call(app, "POST", "/__admin/mocks/user/enable")
    document = as_json(call(app, "GET", "/__admin/mocks/user/history"))
    assert document["version"] == 4 and document["exists"] is True
    assert [(v["version"], v["change"]) for v in document["versions"]] == [
        (4, "admin edit"), (3, "admin edit"), (2, "admin edit"), (1, "as loaded")]
    assert document["versions"][-1]["mock"]["response"] == {"name": "Ada"} and "status" not in document["versions"][-1]["mock"]
    assert document["versions"][0]["mock"]["status"] == 201


def test_restore_an_old_version_and_a_deleted_mock():
    app = MockApp(BASE)
    call(app, "PUT", "/__admin/mocks/user", {"path": "/user", "response": {"name": "Grace"}})
    restored = as_json(call(app, "POST", "/__admin/mocks/user/history/1/restore"))
    assert restored["restored"] == 1 and restored["version"] == 3
    assert as_json(call(app, "GET", "/user")) == {"name": "Ada"}
    assert call(app, "DELETE", "/__admin/mocks/slow").status == 204
    history = as_json(call(app, "GET", "/__admin/mocks/slow/history"))
    assert history["exists"] is False and history["versions"][0] == {
        "version": 2, "at": history["versions"][0]["at"], "change": "deleted", "mock": None}
    assert call(app, "POST", "/__admin/mocks/slow/history/2/restore").status == 409
    assert call(app, "POST", "/__admin/mocks/slow/history/1/restore").status == 200
    assert call(app, "GET", "/slow").status == 200 and app.config.endpoint("slow").order == 2


def test_history_of_new_and_untouched_mocks_and_errors():
    app = MockApp(BASE)
    untouched = as_json(call(app, "GET", "/__admin/mocks/beta/history"))
    assert (untouched["version"], untouched["versions"][0]["change"]) == (1, "as loaded")
    call(app, "POST", "/__admin/mocks", {"id": "new", "path": "/new"})
    assert [v["change"] for v in as_json(call(app, "GET", "/__admin/mocks/new/history"))["versions"]] == ["admin edit"]
    assert call(app, "GET", "/__admin/mocks/nope/history").status == 404
    assert call(app, "POST", "/__admin/mocks/nope/history/1/restore").status == 404
    assert call(app, "POST", "/__admin/mocks/user/history/x/restore").status == 400
    missing = call(app, "POST", "/__admin/mocks/user/history/9/restore")
    assert missing.status == 404 and "has no version 9" in as_json(missing)["detail"]


def test_a_restore_that_would_break_the_config_changes_nothing(monkeypatch):
    app = MockApp(BASE)
    call(app, "PATCH", "/__admin/mocks/user", {"status": 201})

    def refuse(mutate):
        raise ConfigError([Problem("endpoints[0].path", "broken")])
    monkeypatch.setattr(app, "edit", refuse)
    response = call(app, "POST", "/__admin/mocks/user/history/1/restore")
    assert response.status == 400 and as_json(response)["errors"][0]["path"] == "endpoints[0].path"
    assert call(app, "POST", "/__admin/mocks/bulk", {"tag": "users", "enabled": False}).status == 400


def test_history_keeps_a_bounded_number_of_versions():
    history, configs = MockHistory(keep=3), [build_config({"endpoints": [{"id": "a", "path": "/a", "status": 200 + n}]})
                                              for n in range(6)]
    for old, new in zip(configs, configs[1:]):
        assert history.record(old, new, at=0) == ["a"]
    assert [v["version"] for v in history.versions("a")] == [4, 5, 6]
    assert history.record(configs[0], configs[0], at=0) == []


# ---------------------------------------------------------------- bulk

def test_bulk_enable_and_disable_by_tag_and_id():
    app = MockApp(BASE)
    result = as_json(call(app, "POST", "/__admin/mocks/bulk", {"tag": "slow", "enabled": False}))
    assert result == {"enabled": False, "matched": ["slow", "beta"], "changed": ["slow"]}
    assert call(app, "GET", "/slow").status == 404
    result = as_json(call(app, "POST", "/__admin/mocks/bulk", {"tags": ["users"], "ids": ["beta"], "enabled": True}))
    assert result == {"enabled": True, "matched": ["user", "slow", "beta"], "changed": ["slow", "beta"]}
    assert call(app, "GET", "/beta").status == 200
    assert as_json(call(app, "GET", "/__admin/mocks/beta/history"))["version"] == 2
    unchanged = as_json(call(app, "POST", "/__admin/mocks/bulk", {"tag": "nothing", "enabled": True}))
    assert unchanged == {"enabled": True, "matched": [], "changed": []}


@pytest.mark.parametrize("body, status, title", [
    (b"{bad", 400, "Invalid JSON"),
    (b'{"tag": "slow"}', 400, "Invalid bulk change"),
    (b'{"enabled": true}', 400, "No selector"),
    (b'{"ids": ["user", "ghost"], "enabled": true}', 404, "Unknown mock"),
])
def test_bulk_problems(body, status, title):
    response = MockApp(BASE).handle(Request("POST", "/__admin/mocks/bulk", body=body))
    assert (response.status, as_json(response)["title"]) == (status, title)
