"""Mocks -> OpenAPI 3.1 (valid against the official schema), the import -> export -> import round
trip, sync in both directions, and ``pymock openapi sync --check`` for CI."""

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pymock import miniyaml
from pymock.config import build_config, load_config
from pymock.openapi import load_spec
from pymock.openapi_export import convert_schema, export_spec, infer_schema
from pymock.openapi_sync import sync_to_mocks, sync_to_spec
from pymock.openapi_mocks import import_config, spec_endpoints
from pymock.schema import compile_schema

ROOT = Path(__file__).resolve().parents[1]
CONFORMANCE = Path(__file__).resolve().parents[2] / "shared" / "conformance"
SPECS = CONFORMANCE / "specs"


def _round_trip_set():
    manifest = SPECS / "manifest.json"
    if not manifest.is_file():
        return []
    files = json.loads(manifest.read_text())["files"]
    # Documents under 400 KB (78 of the 93, every version and format) keep the suite fast;
    # PYMOCK_FULL_CORPUS=1 runs all of them (about 15 s more).
    limit = float("inf") if os.environ.get("PYMOCK_FULL_CORPUS") else 400_000
    return [e["file"] for e in files if e["spec_kind"] != "fragment" and e["size_bytes"] < limit]


ROUND_TRIP = _round_trip_set()


@pytest.fixture(scope="module")
def oas31():
    """The official OAS 3.1 schema-base (it also checks Schema Objects), compiled by pymock."""
    folder = CONFORMANCE / "oas-schemas" / "v3.1"
    metas = CONFORMANCE / "json-schema-metaschemas"
    if not folder.is_dir() or not metas.is_dir():
        pytest.skip(f"official OAS schemas not found at {folder} (check out the repo next to shared/)")
    registry = {}
    for path in [*metas.rglob("*.json"), folder / "dialect" / "base.schema.json", folder / "meta" / "base.schema.json",
                 folder / "schema.json"]:
        document = json.loads(path.read_text())
        if isinstance(document, dict) and "$id" in document:
            registry[document["$id"].rstrip("#")] = document
    return compile_schema(json.loads((folder / "schema-base.json").read_text()), registry=registry,
                          format_assertion=False)


def without_spec_name(endpoints):
    out = copy.deepcopy(endpoints)
    for endpoint in out:
        endpoint["openapi"].pop("spec", None)
    return out


@pytest.mark.skipif(not ROUND_TRIP, reason=f"spec corpus not found at {SPECS}")
@pytest.mark.parametrize("name", ROUND_TRIP)
def test_import_export_import_gives_the_same_mocks(name):
    path = SPECS / name
    spec = load_spec(path)
    exported = export_spec(build_config(import_config(spec, str(path))))
    assert exported["openapi"] == "3.1.0"
    again = load_spec(json.loads(json.dumps(exported)), name="exported")
    assert without_spec_name(spec_endpoints(again)) == without_spec_name(spec_endpoints(spec))


@pytest.mark.skipif(not SPECS.is_dir(), reason=f"spec corpus not found at {SPECS}")
@pytest.mark.parametrize("name", ["oai-examples/v3.0/petstore.yaml", "oai-examples/v2.0/json/petstore-separate/spec/swagger.json",
                                  "oai-examples/v3.1/webhook-example.yaml", "apis-guru/twitter.com_labs_1.12_openapi.yaml",
                                  "apis-guru/azure.com_search-searchservice_2019-05-06_swagger.yaml"])
def test_exported_specs_validate_against_the_official_schema(oas31, name):
    path = SPECS / name
    exported = export_spec(build_config(import_config(load_spec(path), str(path))))
    assert [str(e) for e in oas31.validate(exported)] == []


def test_the_official_schema_does_catch_a_broken_export(oas31):
    exported = export_spec(build_config({"endpoints": [{"path": "/a", "response": 1}]}))
    assert oas31.validate(exported) == []
    exported["paths"]["/a"]["get"]["responses"]["200"]["content"]["application/json"]["schema"] = {"type": 5}
    assert oas31.validate(exported) != []


# ---------------------------------------------------------------- mocks without a spec

def test_hand_written_mocks_export_with_inferred_schemas_and_parameters(oas31):
    config = build_config({"name": "Shop", "version": "2.1", "endpoints": [
        {"id": "items", "path": "/items/{id}", "tags": ["items"], "name": "One item",
         "match": {"query": {"full": "yes", "page": {"present": True}, "gone": {"absent": True}},
                   "headers": {"x-tenant": "t1"}, "cookies": {"s": {"regex": "^a"}}},
         "headers": {"X-Count": "1"}, "response": {"id": 7, "price": 2.5, "tags": ["a"], "note": None},
         "failure_rate": 0.1, "failure": {"status": 503, "body": "busy"}},
        {"path": "/items", "method": ["POST", "PUT"], "status": 201, "match": {"body": {"json": {"name": "x"}}},
         "variants": [{"weight": 1, "status": 409, "response": {"error": "dup"}}]},
        {"path": "/files/**", "method": "ANY", "body": "<p>hi</p>"},
        {"path": "/seq/*", "sequence": [{"status": 202}, {"status": 200, "response": []}]},
        {"path": "^/v(?P<n>[0-9]+)/ping$", "response": "{{ request.path }}"}]})
    doc = export_spec(config)
    assert doc["info"] == {"title": "Shop", "version": "2.1"}
    item = doc["paths"]["/items/{id}"]["get"]
    assert item["operationId"] == "items" and item["summary"] == "One item" and item["tags"] == ["items"]
    assert [(p["name"], p["in"], p.get("required", False)) for p in item["parameters"]] == [
        ("id", "path", True), ("full", "query", True), ("page", "query", True), ("gone", "query", False),
        ("x-tenant", "header", True), ("s", "cookie", True)]
    ok = item["responses"]["200"]
    assert ok["headers"]["X-Count"] == {"schema": {"type": "string"}, "example": "1"}
    assert ok["content"]["application/json"]["schema"]["properties"]["note"] == {"type": "null"}
    assert item["responses"]["503"]["content"]["text/plain"]["example"] == "busy"
    post = doc["paths"]["/items"]["post"]
    assert post["requestBody"]["content"]["application/json"]["example"] == {"name": "x"}
    assert set(doc["paths"]["/items"]) == {"post", "put"} and post["operationId"] != doc["paths"]["/items"]["put"]["operationId"]
    assert post["responses"]["409"]["content"]["application/json"]["example"] == {"error": "dup"}
    assert set(doc["paths"]["/files/{rest}"]) == {"get", "post", "put", "patch", "delete"}
    assert doc["paths"]["/files/{rest}"]["get"]["responses"]["200"]["content"]["text/html"]["example"] == "<p>hi</p>"
    assert set(doc["paths"]["/seq/{segment1}"]["get"]["responses"]) == {"202", "200"}
    assert doc["paths"]["/v{n}/ping"]["get"]["parameters"][0]["name"] == "n"
    assert oas31.validate(doc) == []


def test_infer_and_convert_schemas():
    assert infer_schema([{"a": True}]) == {"type": "array", "items": {"type": "object", "properties": {
        "a": {"type": "boolean"}}, "required": ["a"]}}
    assert infer_schema([]) == {"type": "array"} and infer_schema({}) == {"type": "object", "properties": {}}
    spec = load_spec({"openapi": "3.0.0", "info": {"title": "t", "version": "1"}, "paths": {}, "components": {"schemas": {
        "A": {"type": "integer", "minimum": 1, "exclusiveMinimum": True, "nullable": True, "enum": [1, 2]},
        "B": {"allOf": [{"$ref": "#/components/schemas/A"}], "nullable": True, "maximum": 3, "exclusiveMaximum": False},
        "C": {"$ref": "#/components/schemas/A", "readOnly": True, "minimum": 9}}}})
    from pymock.openapi_export import _Components
    components = _Components()
    converted = {name: convert_schema(spec, spec.document["components"]["schemas"][name], components) for name in "ABC"}
    assert converted["A"] == {"type": ["integer", "null"], "exclusiveMinimum": 1, "enum": [1, 2, None]}
    assert converted["B"] == {"anyOf": [{"allOf": [{"$ref": "#/components/schemas/A"}], "maximum": 3}, {"type": "null"}]}
    assert converted["C"] == {"$ref": "#/components/schemas/A", "readOnly": True}   # 3.0 ignores $ref siblings


def test_swagger_security_schemes_are_modernised():
    spec_doc = {"swagger": "2.0", "info": {"title": "t", "version": "1"}, "securityDefinitions": {
        "basic": {"type": "basic"}, "key": {"type": "apiKey", "in": "header", "name": "K"},
        "oauth": {"type": "oauth2", "flow": "accessCode", "authorizationUrl": "https://a", "tokenUrl": "https://t",
                  "scopes": {"read": "r"}}},
        "security": [{"key": []}],
        "paths": {"/a": {"get": {"responses": {"200": {"description": "ok"}}}}}}
    config = build_config({"openapi": {"document": spec_doc, "name": "s"}})
    doc = export_spec(config)
    assert doc["components"]["securitySchemes"] == {
        "basic": {"type": "http", "scheme": "basic"}, "key": {"type": "apiKey", "name": "K", "in": "header"},
        "oauth": {"type": "oauth2", "flows": {"authorizationCode": {"authorizationUrl": "https://a",
                                                                    "tokenUrl": "https://t", "scopes": {"read": "r"}}}}}
    assert doc["paths"]["/a"]["get"]["security"] == [{"key": []}]


# ---------------------------------------------------------------- sync

BASE = {
    "openapi": "3.1.0", "info": {"title": "Pets", "version": "1", "x-owner": "team-a"},
    "paths": {"/pets": {"get": {"operationId": "listPets", "description": "All the pets.", "x-rate": 5,
                                "responses": {"200": {"description": "ok", "content": {"application/json": {
                                    "schema": {"$ref": "#/components/schemas/Pets"}, "example": [{"id": 1}]}}}}}},
              "/pets/{id}": {"get": {"operationId": "getPet", "parameters": [
                  {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
                  "responses": {"200": {"description": "one", "content": {"application/json": {
                      "schema": {"$ref": "#/components/schemas/Pet"}}}}}}}},
    "components": {"schemas": {"Pets": {"type": "array", "items": {"$ref": "#/components/schemas/Pet"}},
                               "Pet": {"type": "object", "properties": {"id": {"type": "integer"}},
                                       "additionalProperties": False, "description": "A pet."}}},
}


@pytest.fixture
def project(tmp_path):
    (tmp_path / "spec.json").write_text(json.dumps(BASE, indent=2))
    config = import_config(load_spec(tmp_path / "spec.json"), "spec.json")
    config["endpoints"][0]["latency_ms"] = 20
    (tmp_path / "config.json").write_text(json.dumps(config, indent=2))
    return tmp_path


def test_sync_mocks_into_the_spec_changes_only_what_the_mocks_need(project):
    config = json.loads((project / "config.json").read_text())
    config["endpoints"][0]["response"] = [{"id": 2, "name": "Rex", "born": None}]
    config["endpoints"].append({"path": "/orders", "method": "POST", "status": 201, "response": {"ok": True}})
    config["endpoints"][1]["responses"] = [{"status": 404, "response": {"error": "no"}}]
    spec = load_spec(project / "spec.json")
    doc, changes = sync_to_spec(spec, build_config(config, base_dir=str(project)), "spec.json")
    assert changes == [
        "updated example (default) of GET /pets 200 application/json",
        "extended schema /components/schemas/Pet: added property 'name'",
        "extended schema /components/schemas/Pet: added property 'born'",
        "added response 404 to GET /pets/{id}",
        "added operation POST /orders (mock 'post-orders')"]
    media = doc["paths"]["/pets"]["get"]["responses"]["200"]["content"]["application/json"]
    assert media["example"] == [{"id": 2, "name": "Rex", "born": None}]
    assert doc["components"]["schemas"]["Pet"]["properties"]["born"] == {"type": "null"}
    assert doc["paths"]["/orders"]["post"]["responses"]["201"]["content"]["application/json"]["example"] == {"ok": True}
    # Everything else as it was: descriptions, x- extensions, key order, other components.
    assert doc["info"] == BASE["info"] and doc["paths"]["/pets"]["get"]["x-rate"] == 5
    assert doc["paths"]["/pets"]["get"]["description"] == "All the pets."
    assert list(doc) == list(BASE) and doc["components"]["schemas"]["Pet"]["description"] == "A pet."
    # Synced once, the two agree: a second sync finds nothing to do.
    again = build_config({**config, "openapi": {"document": doc, "name": "spec.json"}}, base_dir=str(project))
    assert sync_to_spec(load_spec(doc), again, "spec.json")[1] == []


def test_sync_widens_nulls_and_enums_in_each_dialect():
    from pymock.openapi_sync import _extend
    for version, expected in (("3.1.0", {"type": ["string", "null"], "enum": ["a", "b"]}),
                              ("3.0.3", {"type": "string", "nullable": True, "enum": ["a", "b"]})):
        raw = {"openapi": version, "info": {"title": "t", "version": "1"}, "paths": {},
               "components": {"schemas": {"S": {"type": "string", "enum": ["a"]}}}}
        spec = load_spec(raw)
        doc, changes = copy.deepcopy(raw), []
        _extend(doc, spec, "/components/schemas/S", None, changes)
        _extend(doc, spec, "/components/schemas/S", "b", changes)
        assert doc["components"]["schemas"]["S"] == expected and len(changes) == 2


def test_sync_into_a_swagger_spec_writes_swagger(tmp_path):
    raw = {"swagger": "2.0", "info": {"title": "t", "version": "1"}, "paths": {"/a": {"get": {
        "produces": ["application/json"], "responses": {"200": {"description": "ok", "schema": {"type": "object"}}}}}}}
    spec = load_spec(raw)
    config = build_config({"openapi": {"document": raw, "name": "s"}, "endpoints": [
        {"path": "/a", "openapi": {"spec": "s", "pointer": "/paths/~1a/get"}, "response": {"v": 1}},
        {"path": "/b", "method": "POST", "match": {"body": {"json": {"q": 1}}}, "response": [1]}]})
    doc, changes = sync_to_spec(spec, config, "s")
    assert doc["paths"]["/a"]["get"]["responses"]["200"]["examples"] == {"application/json": {"v": 1}}
    post = doc["paths"]["/b"]["post"]
    assert post["parameters"] == [{"name": "body", "in": "body", "required": True, "schema": {
        "type": "object", "properties": {"q": {"type": "integer"}}, "required": ["q"]}}]
    assert post["responses"]["200"]["examples"] == {"application/json": [1]}
    assert load_spec(doc).problems == []


def test_sync_spec_changes_into_mocks_keeps_mock_only_fields(project):
    raw = json.loads((project / "spec.json").read_text())
    raw["paths"]["/pets"]["get"]["responses"]["200"]["content"]["application/json"]["example"] = [{"id": 9}]
    del raw["paths"]["/pets/{id}"]
    raw["paths"]["/toys"] = {"get": {"operationId": "listToys", "responses": {"204": {"description": "none"}}}}
    config = json.loads((project / "config.json").read_text())
    config["endpoints"].append({"path": "/mine", "response": "hand-made"})
    updated, changes = sync_to_mocks(load_spec(raw), config, "spec.json")
    assert changes == ["updated mock 'listPets' from the spec: response",
                       "removed mock 'getPet': its operation is gone from the spec",
                       "added mock 'listToys' for GET /toys"]
    first = updated["endpoints"][0]
    assert first["response"] == [{"id": 9}] and first["latency_ms"] == 20
    assert updated["endpoints"][1] == {"path": "/mine", "response": "hand-made"}
    assert updated["endpoints"][2]["status"] == 204
    assert sync_to_mocks(load_spec(raw), updated, "spec.json")[1] == []
    assert sync_to_mocks(load_spec(raw), config, "spec.json", add_missing=False)[1][-1].startswith("removed")


def run_cli(*args, cwd):
    return subprocess.run([sys.executable, str(ROOT / "mock_server.py"), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=60)


def test_cli_sync_check_export_and_write(project):
    result = run_cli("openapi", "sync", "spec.json", "config.json", "--check", cwd=project)
    assert result.returncode == 0 and "spec.json and config.json agree" in result.stderr
    config = json.loads((project / "config.json").read_text())
    config["endpoints"][0]["response"] = [{"id": 5}]
    (project / "config.json").write_text(json.dumps(config))
    result = run_cli("openapi", "sync", "spec.json", "config.json", "--check", cwd=project)
    assert result.returncode == 1 and "drift: updated example (default) of GET /pets 200" in result.stderr
    assert json.loads((project / "spec.json").read_text()) == BASE          # --check changes nothing
    result = run_cli("openapi", "sync", "spec.json", "config.json", cwd=project)
    assert result.returncode == 0 and "1 change(s) written to spec.json" in result.stderr
    assert json.loads((project / "spec.json").read_text())["paths"]["/pets"]["get"]["responses"]["200"][
        "content"]["application/json"]["example"] == [{"id": 5}]
    result = run_cli("openapi", "sync", "spec.json", "config.json", "--direction", "spec-to-mocks", "--check", cwd=project)
    assert result.returncode == 0, result.stderr
    result = run_cli("openapi", "export", "config.json", "-o", "out.yaml", cwd=project)
    assert result.returncode == 0 and "exported 2 operations as OpenAPI 3.1 to out.yaml" in result.stderr
    exported = miniyaml.load((project / "out.yaml").read_text())
    assert exported["paths"]["/pets"]["get"]["responses"]["200"]["content"]["application/json"]["example"] == [{"id": 5}]
    assert run_cli("openapi", "export", "missing.json", cwd=project).returncode == 2
    assert run_cli("openapi", "export", "config.json", "-o", "out.json", cwd=project).returncode == 0
    assert json.loads((project / "out.json").read_text())["openapi"] == "3.1.0"


def test_cli_sync_a_config_that_does_not_name_the_spec(project):
    config = {"endpoints": [{"path": "/pets", "response": [{"id": 3}]}]}
    (project / "plain.json").write_text(json.dumps(config))
    result = run_cli("openapi", "sync", "spec.json", "plain.json", "--check", cwd=project)
    assert result.returncode == 1 and "added operation" not in result.stderr
    result = run_cli("openapi", "sync", "spec.json", "plain.json", "--direction", "spec-to-mocks", cwd=project)
    assert result.returncode == 0
    assert [e.get("operation_id") for e in json.loads((project / "plain.json").read_text())["endpoints"]] == \
        [None, "listPets", "getPet"]
    assert load_config(project / "plain.json").endpoints[0].path == "/pets"


def test_sync_corners_named_examples_other_files_and_swagger_responses(tmp_path):
    (tmp_path / "shared.yaml").write_text("Ok:\n  description: ok\n  content:\n    application/json:\n"
                                          "      schema: {type: object}\n")
    raw = {"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {
        "/a": {"get": {"operationId": "getA", "responses": {"200": {"description": "ok", "content": {
            "application/json": {"schema": {"type": "array", "items": {"type": "integer"}},
                                 "examples": {"two": {"value": [1, 2]}}}}}}}},
        "/b": {"get": {"operationId": "getB", "responses": {"200": {"$ref": "shared.yaml#/Ok"}}}},
        "/#Action=Go": {"get": {"operationId": "go", "responses": {"204": {"description": "gone"}}}}}}
    (tmp_path / "spec.json").write_text(json.dumps(raw))
    spec = load_spec(tmp_path / "spec.json")
    config = build_config({"openapi": "spec.json", "endpoints": [
        {"path": "/a", "operation_id": "getA", "response": [1, 2, 3],
         "openapi": {"spec": "spec.json", "pointer": "/paths/~1a/get", "example": "two"}},
        {"path": "/b", "operation_id": "getB", "response": {"changed": True}}]}, base_dir=str(tmp_path))
    doc, changes = sync_to_spec(spec, config, "spec.json")
    assert changes == ["updated example two of GET /a 200 application/json",
                       "skipped GET /b 200: its media type is in another file"]
    assert doc["paths"]["/a"]["get"]["responses"]["200"]["content"]["application/json"]["examples"]["two"] == \
        {"value": [1, 2, 3]}
    # spec -> mocks: an operationId link, an id taken by a hand-written mock, the AWS-style match.
    items = {"endpoints": [{"path": "/x", "operation_id": "getA", "response": 0}, {"id": "go", "path": "/other"}]}
    updated, changes = sync_to_mocks(spec, items, "spec.json")
    assert updated["endpoints"][0]["id"] == "getA" and updated["endpoints"][0]["path"] == "/a"
    assert [e["id"] for e in updated["endpoints"]] == ["getA", "go", "getB", "go-2"]
    assert updated["endpoints"][3]["match"] == {"query": {"Action": "Go"}}
    swagger = {"swagger": "2.0", "info": {"title": "t", "version": "1"}, "paths": {"/s": {"get": {
        "responses": {"200": {"description": "ok"}}}}}}
    config = build_config({"openapi": {"document": swagger, "name": "s"}, "endpoints": [
        {"path": "/s", "openapi": {"spec": "s", "pointer": "/paths/~1s/get"}, "status": 404,
         "response": {"gone": True}},
        {"path": "/t", "headers": {"X-A": "1"}, "response": "text"}]})
    doc, changes = sync_to_spec(load_spec(swagger), config, "s")
    assert doc["paths"]["/s"]["get"]["responses"]["404"] == {
        "description": "Added by pymock sync", "schema": {"type": "object", "properties": {"gone": {"type": "boolean"}},
                                                         "required": ["gone"]}, "examples": {"application/json": {"gone": True}}}
    assert doc["paths"]["/t"]["get"]["responses"]["200"]["headers"] == {"X-A": {"type": "string"}}
