"""The design workflow end to end: the ``Workflow`` store, the ``/__admin/designs`` API over HTTP
(``MockServer``), and ``pymock design`` in a subprocess. Each flow: create, iterate, submit,
reject with anchored comments, revise, approve, evolve with a breaking change that is blocked,
bump the major version, approve; and the state survives a restart."""

from __future__ import annotations

import copy
import doctest
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from pymock import miniyaml, workflow as workflow_module
from pymock.app import MockApp
from pymock.errors import ConflictError, NotFoundError, SpecError
from pymock.testing import MockServer, wait_until
from pymock.workflow import ApprovalBlocked, NotAllowed, Workflow, major_version
from pymock.workflow_api import attach

ROOT = Path(__file__).resolve().parents[1]


def spec_v1() -> dict:
    return {"openapi": "3.0.3", "info": {"title": "Pets", "version": "1.0.0"}, "paths": {
        "/pets": {"get": {"operationId": "listPets", "parameters": [
            {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 50}}],
            "responses": {"200": {"description": "pets", "content": {"application/json": {
                "schema": {"type": "array", "items": {"$ref": "#/components/schemas/Pet"}},
                "example": [{"id": 1, "name": "Rex"}]}}}}}},
        "/pets/{id}": {"get": {"parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
                               "responses": {"200": {"description": "one", "content": {"application/json": {
                                   "schema": {"$ref": "#/components/schemas/Pet"}, "example": {"id": 7, "name": "Tom"}}}},
                                   "404": {"description": "missing"}}}}},
        "components": {"schemas": {"Pet": {"type": "object", "required": ["id", "name"], "properties": {
            "id": {"type": "integer"}, "name": {"type": "string"}}}}}}


def revised(spec: dict) -> dict:
    out = copy.deepcopy(spec)
    out["paths"]["/pets"]["get"]["summary"] = "List pets, 50 at most"
    return out


def breaking(spec: dict, version: str = "1.1.0") -> dict:
    out = copy.deepcopy(spec)
    out["info"]["version"] = version
    del out["paths"]["/pets/{id}"]                                  # ERR: path removed
    out["components"]["schemas"]["Pet"]["required"] = ["id"]       # ERR: response property became optional
    return out


class Clock:
    def __init__(self):
        self.now = 1_700_000_000.0

    def __call__(self):
        self.now += 1
        return self.now


@pytest.fixture
def flow():
    store = Workflow(":memory:", clock=Clock())
    yield store
    store.close()


# ---------------------------------------------------------------- the store


def test_module_doctests():
    result = doctest.testmod(workflow_module)
    assert result.attempted > 0 and result.failed == 0


def test_the_whole_flow_in_the_store(flow):
    flow.create("pets", spec_v1(), user="ann", reviewers=["bob", "cy"], required_approvals=2)
    assert flow.save("pets", revised(spec_v1()), user="ann")["state"] == "draft"
    assert flow.submit("pets", user="ann")["report"]["base_version"] is None
    rejected = flow.reject("pets", user="bob", comment="needs paging",
                           comments=[{"pointer": "/paths/~1pets/get", "body": "add a cursor"}])
    assert rejected["state"] == "rejected"
    assert [(c["pointer"], c["body"]) for c in rejected["comments"]] == [("/paths/~1pets/get", "add a cursor")]
    revision = flow.save("pets", revised(revised(spec_v1())), user="ann")
    assert revision["state"] == "draft" and revision["comments"], "comments stay with the revised version"
    flow.submit("pets", user="ann")
    assert flow.approve("pets", user="bob")["state"] == "in_review"     # 1 of 2 approvals
    assert flow.approve("pets", user="cy", comment="lgtm")["state"] == "approved"
    v2 = flow.save("pets", breaking(spec_v1()), user="ann")
    assert v2["number"] == 2 and v2["state"] == "draft"
    submitted = flow.submit("pets", user="ann")
    assert submitted["report"]["summary"]["ERR"] == 2 and len(submitted["blocking"]) == 2
    with pytest.raises(ApprovalBlocked) as blocked:
        flow.approve("pets", user="bob")
    assert blocked.value.changes == submitted["blocking"]
    assert flow.version("pets", 2)["reviews"] == []                    # nothing stored by the refusal
    flow.withdraw("pets", 2, user="ann")
    flow.save("pets", breaking(spec_v1(), "2.0.0"), user="ann")
    bumped = flow.submit("pets", user="ann")
    assert bumped["report"]["major_bump"] and bumped["blocking"] == []
    flow.approve("pets", user="bob")
    assert flow.approve("pets", user="cy")["state"] == "approved"
    actions = [(e["actor"], e["action"], e["version"]) for e in flow.history("pets")]
    assert actions == [("ann", "create", 1), ("ann", "update", 1), ("ann", "submit", 1), ("bob", "reject", 1),
                       ("ann", "revise", 1), ("ann", "submit", 1), ("bob", "approve", 1), ("cy", "approve", 1),
                       ("ann", "new-version", 2), ("ann", "submit", 2), ("bob", "approve-blocked", 2),
                       ("ann", "withdraw", 2), ("ann", "update", 2), ("ann", "submit", 2), ("bob", "approve", 2),
                       ("cy", "approve", 2)]
    design = flow.design("pets")
    assert design["approved_version"] == 2 and [v["state"] for v in design["versions"]] == ["approved", "approved"]


def test_accepting_each_breaking_change_unblocks_the_approval(flow):
    flow.create("pets", spec_v1(), user="ann", reviewers=["bob"])
    flow.submit("pets", user="ann")
    flow.approve("pets", user="bob")
    flow.save("pets", breaking(spec_v1()), user="ann")
    blocking = flow.submit("pets", user="ann")["blocking"]
    with pytest.raises(ApprovalBlocked) as caught:
        flow.approve("pets", user="bob", accept=blocking[:1])
    assert caught.value.changes == blocking[1:]
    with pytest.raises(ValueError, match="not breaking changes"):
        flow.approve("pets", user="bob", accept=["made-up GET /x -"])
    approved = flow.approve("pets", user="bob", accept=blocking)
    assert approved["state"] == "approved" and approved["reviews"][-1]["accepted"] == sorted(blocking)
    assert approved["blocking"] == []


def test_approved_versions_are_read_only(flow):
    flow.create("pets", spec_v1(), user="ann")
    flow.submit("pets", user="ann")
    flow.approve("pets", user="bob")
    with pytest.raises(ConflictError, match="approved and read-only"):
        flow.save("pets", revised(spec_v1()), user="ann", number=1)
    assert flow.version("pets", 1)["spec"] == spec_v1()
    assert flow.new_version("pets", revised(spec_v1()), user="ann")["number"] == 2
    with pytest.raises(ConflictError, match="still draft"):
        flow.new_version("pets", spec_v1(), user="ann")


def test_who_may_review(flow):
    flow.create("pets", spec_v1(), user="ann", reviewers=["bob"])
    with pytest.raises(ConflictError, match="not in review"):
        flow.approve("pets", user="bob")
    flow.submit("pets", user="ann")
    with pytest.raises(NotAllowed, match="not a reviewer"):
        flow.approve("pets", user="eve")
    with pytest.raises(ConflictError, match="in review"):
        flow.save("pets", revised(spec_v1()), user="ann")
    with pytest.raises(ConflictError, match="only a draft"):
        flow.submit("pets", user="ann")
    flow.create("open", spec_v1(), user="ann", required_approvals=2)
    flow.submit("open", user="ann")
    with pytest.raises(NotAllowed, match="cannot approve"):
        flow.approve("open", user="ann")
    flow.approve("open", user="dan")
    with pytest.raises(ConflictError, match="already approved"):
        flow.approve("open", user="dan")


@pytest.mark.parametrize("call, error, match", [
    (lambda f: f.create("bad name!", spec_v1(), user="ann"), ValueError, "invalid design name"),
    (lambda f: f.create("x", spec_v1(), user=" "), ValueError, "non-empty user"),
    (lambda f: f.create("x", {"paths": {}}, user="ann"), SpecError, "no 'openapi'"),
    (lambda f: f.create("x", spec_v1(), user="ann", required_approvals=0), ValueError, "at least 1"),
    (lambda f: f.create("x", spec_v1(), user="ann", reviewers=["a"], required_approvals=2), ValueError, "only 1 reviewer"),
    (lambda f: f.create("pets", spec_v1(), user="ann"), ConflictError, "already exists"),
    (lambda f: f.version("nope"), NotFoundError, "no design with id 'nope'"),
    (lambda f: f.version("pets", 9), NotFoundError, "pets v9"),
    (lambda f: f.version("pets", "x"), NotFoundError, "pets vx"),
    (lambda f: f.comment("pets", user="ann", pointer="/paths/~1nope", body="?"), SpecError, "does not point into"),
    (lambda f: f.comment("pets", user="ann", pointer="/paths", body=" "), ValueError, "comments\\[0\\]"),
    (lambda f: f.withdraw("pets", user="ann"), ConflictError, "not in review"),
])
def test_bad_requests_are_refused_with_a_reason(flow, call, error, match):
    flow.create("pets", spec_v1(), user="ann")
    with pytest.raises(error, match=match):
        call(flow)


def test_a_refused_step_changes_nothing(flow):
    flow.create("pets", spec_v1(), user="ann", reviewers=["bob"])
    flow.submit("pets", user="ann")
    before = flow.history("pets")
    with pytest.raises(SpecError):
        flow.reject("pets", user="bob", comment="no", comments=[{"pointer": "/paths", "body": "ok"},
                                                                {"pointer": "/nope", "body": "bad"}])
    version = flow.version("pets")
    assert version["state"] == "in_review" and version["reviews"] == [] and version["comments"] == []
    assert flow.history("pets") == before
    with pytest.raises(ValueError, match="needs a comment"):
        flow.reject("pets", user="bob", comment="")


def test_comments_on_any_version_and_the_diff_between_versions(flow):
    flow.create("pets", spec_v1(), user="ann")
    comment = flow.comment("pets", 1, user="cy", pointer="/components/schemas/Pet", body="add a birthday?")
    assert comment["version"] == 1 and flow.version("pets")["comments"][0]["body"] == "add a birthday?"
    assert flow.diff("pets").changes[0].id == "endpoint-added"          # nothing approved: all is new
    flow.submit("pets", user="ann")
    flow.approve("pets", user="bob")
    flow.save("pets", breaking(spec_v1()), user="ann")
    assert {c.id for c in flow.diff("pets", 2, against=1).breaking} == {"api-path-removed", "response-property-became-optional"}


def test_state_survives_a_restart_and_is_shared_between_connections(tmp_path):
    path = str(tmp_path / "designs.db")
    first = Workflow(path)
    first.create("pets", spec_v1(), user="ann", reviewers=["bob"])
    first.submit("pets", user="ann")
    other = Workflow(path)                                   # another process would see the same
    assert other.version("pets")["state"] == "in_review"
    other.approve("pets", user="bob")
    first.close()
    other.close()
    again = Workflow(path)
    assert again.version("pets")["state"] == "approved"
    assert [e["action"] for e in again.history("pets")] == ["create", "submit", "approve"]
    again.close()


def test_concurrent_approvals_are_serialised(tmp_path):
    store = Workflow(str(tmp_path / "d.db"))
    store.create("pets", spec_v1(), user="ann", required_approvals=5)
    store.submit("pets", user="ann")
    errors = []

    def approve(name):
        try:
            store.approve("pets", user=name)
        except Exception as exc:   # collected and asserted below
            errors.append(exc)
    threads = [threading.Thread(target=approve, args=(f"r{i}",)) for i in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and store.version("pets")["state"] == "approved"
    assert store.version("pets")["approvals"] == 5
    store.close()


def test_a_newer_database_schema_is_refused(tmp_path):
    path = tmp_path / "new.db"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(ConflictError, match="newer pymock"):
        Workflow(str(path))


def test_major_version():
    assert [major_version(v) for v in ("1.2.3", "v10", "", None, "x1")] == [1, 10, None, None, None]


# ---------------------------------------------------------------- over HTTP


def call(mock, method, path, body=None, user=None, raw=False):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(mock.url(path), data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if user:
        request.add_header("X-Pymock-User", user)
    try:
        with urllib.request.urlopen(request) as response:
            payload = response.read()
            status, content_type = response.status, response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as exc:
        payload, status, content_type = exc.read(), exc.code, exc.headers.get("Content-Type", "")
    if raw:
        return status, content_type, payload.decode()
    return status, json.loads(payload) if payload else None


def _server(db_path):
    app = MockApp({"endpoints": [{"path": "/ping", "response": {"ok": True}}]})
    attach(app, Workflow(db_path))
    return MockServer(app)


def test_the_whole_flow_over_http_and_a_restart(tmp_path):
    db_path = str(tmp_path / "designs.db")
    with _server(db_path) as mock:
        status, design = call(mock, "POST", "/__admin/designs", {"name": "pets", "spec": spec_v1(), "user": "ann",
                                                                 "reviewers": ["bob"]})
        assert status == 201 and design["versions"][0]["state"] == "draft"
        status, version = call(mock, "PUT", "/__admin/designs/pets/spec", {"spec": revised(spec_v1())}, user="ann")
        assert status == 200 and version["number"] == 1
        status, version = call(mock, "POST", "/__admin/designs/pets/versions/1/submit", user="ann")
        assert status == 200 and version["state"] == "in_review"
        status, problem = call(mock, "POST", "/__admin/designs/pets/versions/1/approve", {}, user="eve")
        assert status == 403 and problem["title"] == "Not allowed"
        status, version = call(mock, "POST", "/__admin/designs/pets/versions/1/reject", {
            "user": "bob", "comment": "limit is too low",
            "comments": [{"pointer": "/paths/~1pets/get/parameters/0/schema/maximum", "body": "make it 100"}]})
        assert status == 200 and version["state"] == "rejected"
        fixed = revised(spec_v1())
        fixed["paths"]["/pets"]["get"]["parameters"][0]["schema"]["maximum"] = 100
        status, version = call(mock, "PUT", "/__admin/designs/pets/spec", {"spec": miniyaml.dump(fixed), "user": "ann"})
        assert status == 200 and version["state"] == "draft" and version["comments"][0]["body"] == "make it 100"
        call(mock, "POST", "/__admin/designs/pets/versions/latest/submit", user="ann")
        status, version = call(mock, "POST", "/__admin/designs/pets/versions/1/approve", {"comment": "ok"}, user="bob")
        assert status == 200 and version["state"] == "approved"
        status, problem = call(mock, "PUT", "/__admin/designs/pets/versions/1/spec", {"spec": fixed}, user="ann")
        assert status == 409 and "read-only" in problem["detail"]          # approved versions are read-only...
        status, version = call(mock, "PUT", "/__admin/designs/pets/spec", {"spec": breaking(fixed)}, user="ann")
        assert status == 201 and version["number"] == 2      # ...saving starts the next version
        status, version = call(mock, "POST", "/__admin/designs/pets/versions/2/submit", user="ann")
        assert version["report"]["summary"]["ERR"] == 2
        status, problem = call(mock, "POST", "/__admin/designs/pets/versions/2/approve", {}, user="bob")
        assert status == 409 and problem["title"] == "Approval blocked by breaking changes"
        assert problem["breaking"] == version["blocking"] and "accept" in problem["hint"]
        status, problem = call(mock, "PUT", "/__admin/designs/pets/spec", {"spec": fixed}, user="ann")
        assert status == 409 and "withdraw" in problem["detail"]
        call(mock, "POST", "/__admin/designs/pets/versions/2/withdraw", user="ann")
        call(mock, "PUT", "/__admin/designs/pets/spec", {"spec": breaking(fixed, "2.0.0")}, user="ann")
        call(mock, "POST", "/__admin/designs/pets/versions/2/submit", user="ann")
        status, version = call(mock, "POST", "/__admin/designs/pets/versions/2/approve", {}, user="bob")
        assert status == 200 and version["state"] == "approved" and version["report"]["major_bump"]
    with _server(db_path) as mock:                       # a new process would read the same file
        status, design = call(mock, "GET", "/__admin/designs/pets")
        assert [(v["number"], v["state"], v["api_version"]) for v in design["versions"]] == [
            (1, "approved", "1.0.0"), (2, "approved", "2.0.0")]
        status, history = call(mock, "GET", "/__admin/designs/pets/history")
        assert [e["action"] for e in history["history"]].count("approve-blocked") == 1
        status, listing = call(mock, "GET", "/__admin/designs")
        assert listing["total"] == 1 and listing["designs"][0]["approved_version"] == 2


def test_any_version_can_be_tried_as_a_mock_and_read_as_docs(tmp_path):
    with _server(str(tmp_path / "d.db")) as mock:
        call(mock, "POST", "/__admin/designs", {"name": "pets", "spec": spec_v1(), "user": "ann"})
        status, body = call(mock, "GET", "/__admin/designs/pets/versions/1/mock/pets/7")
        assert status == 200 and body == {"id": 7, "name": "Tom"}
        status, body = call(mock, "GET", "/__admin/designs/pets/versions/1/mock/pets?limit=3")
        assert status == 200 and body == [{"id": 1, "name": "Rex"}]
        status, body = call(mock, "GET", "/__admin/designs/pets/versions/1/mock/nope")
        assert status == 404
        status, content_type, page = call(mock, "GET", "/__admin/designs/pets/versions/1/docs", raw=True)
        assert status == 200 and content_type.startswith("text/html") and "<h3 id=\"get-pets\">" in page
        assert f"{mock.base_url}/__admin/designs/pets/versions/1/mock/pets/" in page
        status, content_type, text = call(mock, "GET", "/__admin/designs/pets/versions/latest/docs.md", raw=True)
        assert status == 200 and text.startswith('<a id="top"></a>') and "### GET /pets/{id}" in text
        with_mocks = {"name": "own", "user": "ann", "spec": spec_v1(),
                      "mocks": {"endpoints": [{"path": "/pets", "response": [], "failure_rate": 0.5}]}}
        call(mock, "POST", "/__admin/designs", with_mocks)
        status, body = call(mock, "GET", "/__admin/designs/own/versions/1/mock/pets")
        assert status in (200, 500)
        status, content_type, text = call(mock, "GET", "/__admin/designs/own/versions/1/docs.md", raw=True)
        assert "Fails 50% of requests with status 500" in text
        status, content_type, text = call(mock, "GET", "/__admin/designs/own/versions/1/diff?format=text", raw=True)
        assert status == 200 and "(nothing approved) -> own v1" in text
        status, report = call(mock, "GET", "/__admin/designs/own/versions/1/diff")
        assert report["summary"]["INFO"] == 2
        status, content_type, text = call(mock, "GET", "/__admin/designs/own/versions/1/diff?format=markdown", raw=True)
        assert text.startswith("## API changes")
        status, problem = call(mock, "GET", "/__admin/designs/own/versions/1/diff?format=xml")
        assert status == 400
        status, comment = call(mock, "POST", "/__admin/designs/own/versions/1/comments",
                               {"user": "cy", "pointer": "/info", "body": "nice"})
        assert status == 201 and comment["pointer"] == "/info"
        status, version = call(mock, "POST", "/__admin/designs/own/versions", {"spec": spec_v1(), "user": "ann"})
        assert status == 409


@pytest.mark.parametrize("method, path, body, status, title", [
    ("POST", "/__admin/designs", None, 400, "Request body required"),
    ("POST", "/__admin/designs", "[1]", 400, "Invalid JSON"),
    ("POST", "/__admin/designs", "{", 400, "Invalid JSON"),
    ("POST", "/__admin/designs", {"name": "x", "user": "ann"}, 400, "Spec required"),
    ("POST", "/__admin/designs", {"name": "x", "user": "ann", "spec": "a: [1"}, 400, "Invalid spec"),
    ("POST", "/__admin/designs", {"name": "x", "user": "ann", "spec": {"openapi": "3.0.0",
                                  "paths": {"/a": {"get": {"responses": {"200": {"$ref": "#/nope"}}}}}}}, 400, "Invalid spec"),
    ("POST", "/__admin/designs", {"name": "x", "spec": {"openapi": "3.0.0", "paths": {}}}, 400, "Invalid request"),
    ("GET", "/__admin/designs/nope", None, 404, "Unknown design"),
    ("GET", "/__admin/designs/pets/versions/5", None, 404, "Unknown version"),
    ("POST", "/__admin/designs/pets/versions/1/approve", {"user": "bob", "accept": "all"}, 400, "Invalid request"),
    ("POST", "/__admin/designs/pets/versions/1/reject", {"user": "bob", "comments": {}}, 400, "Invalid request"),
    ("POST", "/__admin/designs/pets/versions/1/approve", {"user": "bob"}, 409, "Conflict"),
])
def test_http_errors_are_problem_documents(tmp_path, method, path, body, status, title):
    with _server(str(tmp_path / "d.db")) as mock:
        call(mock, "POST", "/__admin/designs", {"name": "pets", "spec": spec_v1(), "user": "ann"})
        data = body if isinstance(body, str) else json.dumps(body) if body is not None else None
        request = urllib.request.Request(mock.url(path), data=data.encode() if data else None, method=method,
                                         headers={"Content-Type": "application/json"} if data else {})
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request)
        assert caught.value.code == status
        assert caught.value.headers["Content-Type"] == "application/problem+json"
        assert json.loads(caught.value.read())["title"] == title


def test_invalid_saved_mocks_are_reported_when_tried(tmp_path):
    with _server(str(tmp_path / "d.db")) as mock:
        call(mock, "POST", "/__admin/designs", {"name": "pets", "spec": spec_v1(), "user": "ann",
                                                "mocks": {"endpoints": [{"path": "/x", "staus": 1}]}})
        status, problem = call(mock, "GET", "/__admin/designs/pets/versions/1/mock/x")
        assert status == 400 and problem["errors"][0]["path"] == "endpoints[0].staus"


def test_the_designs_api_is_off_without_a_database():
    with MockServer({"endpoints": []}) as mock:
        status, problem = call(mock, "GET", "/__admin/designs")
        assert status == 404 and "--designs-db" in problem["detail"]


def test_live_docs_of_the_running_mocks():
    config = {"name": "Shop", "endpoints": [
        {"path": "/items/{id}", "response": {"id": 1}, "failure_rate": 0.2, "tags": ["items"]},
        {"path": "/items", "method": ["GET", "POST"], "status": 201, "response": "made"},
        {"path": "^/regex$", "response": "x"}]}
    with MockServer(config) as mock:
        status, content_type, page = call(mock, "GET", "/__admin/docs", raw=True)
        assert status == 200 and content_type.startswith("text/html") and "<title>Shop 0</title>" in page
        status, content_type, text = call(mock, "GET", "/__admin/docs.md", raw=True)
        assert "### GET /items/{id}" in text and "Fails 20% of requests with status 500" in text
        assert f"curl -i -X GET {mock.base_url}/items/string" in text


# ---------------------------------------------------------------- through the CLI


def pymock(*args, cwd, check=True):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYMOCK_USER": "ann"}
    result = subprocess.run([sys.executable, "-m", "pymock", *args], cwd=cwd, env=env, capture_output=True,
                            text=True, timeout=60)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_the_whole_flow_through_the_cli(tmp_path):
    def write(name, spec):
        (tmp_path / name).write_text(miniyaml.dump(spec), encoding="utf-8")
    write("v1.yaml", spec_v1())
    write("v1b.yaml", revised(spec_v1()))
    write("v2.yaml", breaking(spec_v1()))
    write("v2major.yaml", breaking(spec_v1(), "2.0.0"))
    db = ["design", "--db", "designs.db"]
    assert "created pets v1 (draft); reviewers: bob" in pymock(*db, "create", "pets", "--spec", "v1.yaml",
                                                               "--reviewer", "bob", cwd=tmp_path).stdout
    pymock(*db, "update", "pets", "--spec", "v1b.yaml", cwd=tmp_path)
    assert "against nothing approved yet" in pymock(*db, "submit", "pets", cwd=tmp_path).stdout
    pymock(*db, "reject", "pets", "--user", "bob", "--comment", "more detail",
           "--at", "/paths/~1pets/get=say how paging works", cwd=tmp_path)
    pymock(*db, "update", "pets", "--spec", "v1.yaml", cwd=tmp_path)
    pymock(*db, "submit", "pets", cwd=tmp_path)
    assert "pets v1: approved (1/1 approvals)" in pymock(*db, "approve", "pets", "--user", "bob", cwd=tmp_path).stdout
    assert "saved pets v2 (draft, api version 1.1.0)" in pymock(*db, "update", "pets", "--spec", "v2.yaml", cwd=tmp_path).stdout
    submitted = pymock(*db, "submit", "pets", cwd=tmp_path).stdout
    assert "2 breaking" in submitted and "breaking: api-path-removed GET /pets/{id}" in submitted
    refused = pymock(*db, "approve", "pets", "--user", "bob", cwd=tmp_path, check=False)
    assert refused.returncode == 1 and "refused:" in refused.stderr and "api-path-removed GET /pets/{id}" in refused.stderr
    pymock(*db, "withdraw", "pets", cwd=tmp_path)
    pymock(*db, "update", "pets", "--spec", "v2major.yaml", cwd=tmp_path)
    pymock(*db, "submit", "pets", cwd=tmp_path)
    pymock(*db, "approve", "pets", "--user", "bob", "--comment", "major bump", cwd=tmp_path)
    status = pymock(*db, "status", "pets", cwd=tmp_path).stdout        # a fresh process reads the saved state
    assert "v1  approved  api 1.0.0  by ann" in status and "v2  approved  api 2.0.0  by ann" in status
    assert "major version bumped" in status and "approve by bob: major bump" in status
    v1 = json.loads(pymock(*db, "status", "pets", "--version", "1", "--format", "json", cwd=tmp_path).stdout)
    assert v1["comments"][0]["pointer"] == "/paths/~1pets/get" and v1["reviews"][0]["decision"] == "reject"
    history = pymock(*db, "history", "pets", cwd=tmp_path).stdout.splitlines()
    assert len(history) == 14 and "bob          approve-blocked v2" in history[9]


def test_cli_refusals_and_bad_input(tmp_path):
    (tmp_path / "v1.yaml").write_text(miniyaml.dump(spec_v1()), encoding="utf-8")
    (tmp_path / "bad.yaml").write_text("openapi: 3.0.0\npaths: [\n", encoding="utf-8")
    db = ["design", "--db", "d.db"]
    missing = pymock(*db, "status", "nope", cwd=tmp_path, check=False)
    assert missing.returncode == 2 and "no design with id 'nope' in d.db" in missing.stderr
    bad = pymock(*db, "create", "x", "--spec", "bad.yaml", cwd=tmp_path, check=False)
    assert bad.returncode == 2 and "bad.yaml:2:8: YAML error" in bad.stderr
    pymock(*db, "create", "pets", "--spec", "v1.yaml", cwd=tmp_path)
    again = pymock(*db, "create", "pets", "--spec", "v1.yaml", cwd=tmp_path, check=False)
    assert again.returncode == 1 and "already exists" in again.stderr
    anchor = pymock(*db, "reject", "pets", "--comment", "x", "--at", "nopointer", cwd=tmp_path, check=False)
    assert anchor.returncode == 2 and "expected POINTER=TEXT" in anchor.stderr
    (tmp_path / "junk.db").write_text("not sqlite" * 100)
    junk = pymock("design", "--db", "junk.db", "status", "x", cwd=tmp_path, check=False)
    assert junk.returncode == 2 and "not a designs database" in junk.stderr


def test_design_serve_serves_the_version_and_its_docs(tmp_path):
    (tmp_path / "v1.yaml").write_text(miniyaml.dump(spec_v1()), encoding="utf-8")
    pymock("design", "--db", "d.db", "create", "pets", "--spec", "v1.yaml", cwd=tmp_path)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "pymock", "design", "--db", "d.db", "serve", "pets", "--port", "0"],
                               cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = process.stdout.readline()
        assert first.startswith("listening on http://127.0.0.1:"), first + process.stderr.read()
        base = first.split()[-1]
        assert "docs at" in process.stdout.readline()
        with urllib.request.urlopen(base + "/pets/7") as response:
            assert json.loads(response.read()) == {"id": 7, "name": "Tom"}
        with urllib.request.urlopen(base + "/__admin/designs/pets/versions/1/docs") as response:
            assert b"<h3 id=\"get-pets-id\">" in response.read()
        with urllib.request.urlopen(base + "/__admin/docs.md") as response:
            assert b"GET /pets/{id}" in response.read()
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
        process.stdout.close()
        process.stderr.close()
    wait_until(lambda: process.returncode is not None)


def test_a_forked_worker_opens_its_own_connection(tmp_path):
    store = Workflow(str(tmp_path / "d.db"))
    store.create("pets", spec_v1(), user="ann")
    inherited = store._conn
    store._pid = -1                      # as seen from a child process after os.fork()
    assert store.version("pets")["number"] == 1
    assert store._conn is not inherited
    inherited.close()
    store.close()
