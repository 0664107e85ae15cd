"""Admin API hardening: concurrent edits, stable ids, token scopes, CSRF guards, atomic saves."""

import json
import threading

import pytest

from pymock import files
from pymock.admin import ADMIN_ROUTES
from pymock.app import MockApp
from pymock.model import Request

JSON = [("Content-Type", "application/json")]


def call(app, method, target, payload=None, headers=()):
    body = json.dumps(payload).encode() if payload is not None else b""
    return app.handle(Request(method, target, headers=[*(JSON if payload is not None else []), *headers], body=body))


def ids(app):
    return [e.id for e in app.config.endpoints]


def test_concurrent_deletes_and_patches_each_hit_their_own_mock():
    app = MockApp({"endpoints": [{"id": f"m{i}", "path": f"/m{i}", "response": i} for i in range(60)]})
    errors = []

    def delete(i):
        status = call(app, "DELETE", f"/__admin/mocks/m{i}").status
        if status != 204:
            errors.append(("delete", i, status))

    def patch(i):
        status = call(app, "PATCH", f"/__admin/mocks/m{i}", {"status": 201}).status
        if status != 200:
            errors.append(("patch", i, status))

    threads = [threading.Thread(target=delete, args=(i,)) for i in range(30)]
    threads += [threading.Thread(target=patch, args=(i,)) for i in range(30, 60)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert ids(app) == [f"m{i}" for i in range(30, 60)]
    assert all(app.config.endpoint(f"m{i}").response.status == 201 for i in range(30, 60))
    assert all(json.loads(call(app, "GET", f"/m{i}").body) == i for i in range(30, 60))


def test_generated_ids_are_stored_so_they_never_move():
    app = MockApp({"endpoints": []})
    first = call(app, "POST", "/__admin/mocks", {"path": "/dup"})
    second = call(app, "POST", "/__admin/mocks", {"path": "/dup", "response": "second"})
    assert (first.header("Location"), second.header("Location")) == ("/__admin/mocks/get-dup", "/__admin/mocks/get-dup-2")
    assert call(app, "DELETE", "/__admin/mocks/get-dup").status == 204
    assert json.loads(call(app, "GET", "/__admin/mocks/get-dup-2").body)["response"] == "second"
    assert call(app, "GET", "/__admin/mocks/get-dup").status == 404


def test_create_answers_with_the_created_mock_and_refuses_unusable_ids():
    app = MockApp({"endpoints": [{"id": "a", "path": "/a"}]})
    created = call(app, "POST", "/__admin/mocks", {"id": "new", "path": "/new"})
    assert json.loads(created.body)["id"] == "new"
    bad = call(app, "POST", "/__admin/mocks", {"id": "a/b", "path": "/x"})
    assert bad.status == 400 and json.loads(bad.body)["errors"][0]["path"] == "id"


@pytest.mark.parametrize("host, token, status", [
    ("localhost:8080", None, 200), ("127.0.0.1:8080", None, 200), ("[::1]:8080", None, 200),
    ("app.localhost", None, 200), ("10.0.0.5:8080", None, 200), ("", None, 200),
    ("attacker.example:8080", None, 403), ("attacker.example:8080", "tok", 200),
])
def test_admin_through_a_dns_name_needs_a_token(host, token, status):
    app = MockApp({"endpoints": []}, admin_token=token)
    headers = [("Host", host)] if host else []
    if token:
        headers.append(("Authorization", f"Bearer {token}"))
    response = call(app, "GET", "/__admin/health", headers=headers)
    assert response.status == status
    if status == 403:
        assert json.loads(response.body)["hint"] == "use localhost or an IP address, or start with --admin-token"


@pytest.mark.parametrize("path", ["/etc/passwd", "../secret.txt", "a/../../secret.txt"])
def test_admin_mocks_cannot_read_files_outside_the_config_folder(path):
    app = MockApp({"endpoints": []})
    response = call(app, "POST", "/__admin/mocks", {"path": "/leak", "variants": [{"body_file": path}]})
    assert response.status == 400 and json.loads(response.body)["title"] == "body_file outside the config folder"


def test_admin_mock_may_read_a_file_beside_the_config(tmp_path):
    (tmp_path / "config.json").write_text('{"endpoints": []}')
    (tmp_path / "hello.txt").write_text("hi")
    app = MockApp(str(tmp_path / "config.json"))
    assert call(app, "POST", "/__admin/mocks", {"path": "/hello", "body_file": "hello.txt"}).status == 201
    assert call(app, "GET", "/hello").body == b"hi"


def test_cross_origin_admin_requests_are_refused():
    app = MockApp({"endpoints": []})
    evil = call(app, "POST", "/__admin/reset", headers=[("Origin", "https://evil.example"), ("Host", "localhost:8080")])
    assert evil.status == 403 and "evil.example" in json.loads(evil.body)["detail"]
    same = call(app, "POST", "/__admin/reset", headers=[("Origin", "http://localhost:8080"), ("Host", "localhost:8080")])
    assert same.status == 200
    assert call(app, "POST", "/__admin/reset").status == 200  # curl and scripts send no Origin


def test_viewer_token_cannot_reload_through_get():
    app = MockApp({"endpoints": []}, admin_token="adm", viewer_token="view")
    for path in ("/__admin/reload", "/__reload"):
        assert call(app, "GET", path, headers=[("Authorization", "Bearer view")]).status == 403
    assert call(app, "GET", "/__reload", headers=[("Authorization", "Bearer adm")]).status == 200


@pytest.mark.parametrize("route", ADMIN_ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_every_admin_route_requires_the_token(route):
    app = MockApp({"endpoints": []}, admin_token="s3cret")
    target = route.path.replace("{", "").replace("}", "").replace("**", "x")
    for headers in ([], [("Authorization", "Bearer wrong")], [("Authorization", "s3cret")]):
        assert app.handle(Request(route.method, target, headers=headers)).status == 401


def test_sequences_survive_edits_to_other_mocks():
    app = MockApp({"endpoints": [{"id": "seq", "path": "/seq", "sequence": [{"body": "one"}, {"body": "two"}]},
                                 {"id": "other", "path": "/other"}]})
    assert call(app, "GET", "/seq").body == b"one"
    call(app, "POST", "/__admin/mocks/other/disable")
    assert call(app, "GET", "/seq").body == b"two"
    call(app, "PATCH", "/__admin/mocks/seq", {"name": "renamed"})
    assert call(app, "GET", "/seq").body == b"one"  # its own change restarts it


def test_request_id_header_is_not_duplicated():
    app = MockApp({"endpoints": [{"path": "/a", "headers": {"X-Request-Id": "fixed"}}]})
    response = call(app, "GET", "/a")
    assert [v for k, v in response.headers if k.lower() == "x-request-id"] == ["fixed"]


def test_journal_limit_zero_returns_nothing():
    app = MockApp({"endpoints": [{"path": "/a"}]})
    call(app, "GET", "/a")
    assert json.loads(call(app, "GET", "/__admin/requests?limit=0").body)["requests"] == []


def test_save_that_fails_midway_leaves_the_old_file_and_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"endpoints": [{"id": "a", "path": "/a"}]}))
    app = MockApp(str(path))
    call(app, "POST", "/__admin/mocks", {"id": "b", "path": "/b"})

    def crash(src, dst):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(files.os, "replace", crash)
    failed = call(app, "POST", "/__admin/mocks/save")
    assert failed.status == 500
    assert json.loads(failed.body)["detail"] == f"could not write {path}: No space left on device; the file is unchanged"
    assert [e["id"] for e in json.loads(path.read_text())["endpoints"]] == ["a"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".pymock-")] == []


def test_mesh_control_routes_need_the_token_but_service_traffic_does_not():
    app = MockApp({"endpoints": []}, admin_token="adm", viewer_token="view")
    assert call(app, "POST", "/registry/register", {"service_id": "db"}).status == 401
    assert call(app, "POST", "/chaos/events", {"type": "service_outage", "service": "db"}).status == 401
    admin = [("Authorization", "Bearer adm")]
    assert call(app, "POST", "/registry/register", {"service_id": "db"}, headers=admin).status in (200, 201)
    assert call(app, "GET", "/registry", headers=[("Authorization", "Bearer view")]).status == 200
    assert call(app, "POST", "/mock/db/configure", {"response": {"ok": True}}, headers=[("Authorization", "Bearer view")]).status == 403
    assert call(app, "POST", "/mock/db/configure", {"response": {"ok": True}}, headers=admin).status == 201
    assert call(app, "GET", "/mock/db/anything").status == 200  # traffic needs no token
