"""Spec loading (3.0, 3.1, 2.0; JSON, YAML; files, URLs, text), $ref bundling, problems with
pointers, example generation, spec -> mocks, Prefer, the config key, the admin API and CLI."""

import json
import os
import random
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from pymock import miniyaml
from pymock.app import MockApp
from pymock.config import build_config, load_config
from pymock.errors import ConfigError, SpecError
from pymock.model import Request
from pymock.openapi import load_spec, load_spec_text, node_at, parse_spec_text
from pymock.openapi_mocks import (Sampler, default_status, import_config, mock_path, parse_prefer,
                                  pattern_sample, sample, spec_endpoints)
from pymock.testing import MockServer, wait_until

ROOT = Path(__file__).resolve().parents[1]
INFO = {"title": "T", "version": "1"}


def doc(paths=None, version="3.0.3", **extra):
    return {"openapi": version, "info": INFO, "paths": paths or {}, **extra}


def op(responses=None, **extra):
    return {"responses": responses or {"200": {"description": "ok"}}, **extra}


def json_response(schema=None, **media):
    content = {"application/json": {**({"schema": schema} if schema is not None else {}), **media}}
    return {"description": "ok", "content": content}


# ---------------------------------------------------------------- loading

def test_versions_and_formats_load_to_one_model(tmp_path):
    v30 = doc({"/a": {"get": op({"200": json_response({"type": "string"})})}})
    v31 = doc({"/a": {"get": op({"200": json_response({"type": "string"})})}}, "3.1.0")
    v20 = {"swagger": "2.0", "info": INFO, "produces": ["application/json"],
           "paths": {"/a": {"get": {"responses": {"200": {"description": "ok", "schema": {"type": "string"}}}}}}}
    (tmp_path / "a.yaml").write_text(miniyaml.dump(v30))
    (tmp_path / "b.json").write_text(json.dumps(v31))
    specs = [load_spec(tmp_path / "a.yaml"), load_spec(str(tmp_path / "b.json")), load_spec(v20),
             load_spec_text(json.dumps(v20))]
    assert [s.dialect for s in specs] == ["openapi-3.0", "2020-12", "swagger-2.0", "swagger-2.0"]
    for spec in specs:
        response = spec.operations[0].responses[0]
        assert (response.status, response.content[0].content_type) == ("200", "application/json")
        assert node_at(spec.document, response.content[0].schema) == {"type": "string"}
    assert specs[0].files == (str(tmp_path / "a.yaml"),) and specs[0].title == "T"


def test_not_openapi_and_syntax_errors_raise_spec_error():
    with pytest.raises(SpecError, match="no 'openapi' or 'swagger' field"):
        load_spec({"info": INFO})
    with pytest.raises(SpecError, match="unsupported version '4.0'"):
        load_spec({"openapi": "4.0", "info": INFO})
    with pytest.raises(SpecError, match="an object at the top level"):
        load_spec_text("[1, 2]")
    with pytest.raises(SpecError, match=r"spec.json:1:\d+: JSON syntax error"):
        parse_spec_text('{"openapi": }', "spec.json")
    with pytest.raises(SpecError, match=r"s.yaml:2:\d+: YAML error"):
        parse_spec_text("a: 1\n  b: [", "s.yaml")
    with pytest.raises(SpecError, match="not UTF-8"):
        parse_spec_text(b"\xff\xfe\xfa", "x")
    with pytest.raises(SpecError, match="cannot read"):
        load_spec("/no/such/spec.yaml")


def test_problems_carry_pointers_and_partial_imports_keep_going():
    spec = load_spec({"openapi": "3.0.0", "paths": {
        "nopath": {"get": op()},
        "/a/{id}": {"get": {"operationId": "x", "parameters": [{"in": "query"}, {"$ref": "#/components/parameters/Nope"}]},
                    "post": op(operationId="x", security=[{"ghost": []}])},
        "/b": {"get": op({"200": {"$ref": "#/components/responses/Missing"}, "abc": {"description": "?"},
                          "x-extra": {}})},
        "/c": {"get": "not an object", "put": op({"200": {"description": "ok", "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/Loop1"}}}}})},
    }, "components": {"schemas": {"Loop1": {"$ref": "#/components/schemas/Loop2"},
                                  "Loop2": {"$ref": "#/components/schemas/Loop1"}}}})
    found = [str(p) for p in spec.problems]
    assert "/info: required: an object with 'title' and 'version'" in found
    assert "/paths/nopath: path 'nopath' must start with '/' (skipped)" in found
    assert any(p.startswith("/paths/~1a~1{id}/get/parameters/0: a parameter needs a 'name'") for p in found)
    assert "/paths/~1a~1{id}/get/parameters/1: $ref '#/components/parameters/Nope': the target does not exist " \
           "(check the spelling of the component name)" in found
    assert "/paths/~1a~1{id}/get/responses: an operation needs at least one response (imported with an empty 200 response)" in found
    assert any("duplicate operationId 'x'" in p for p in found)
    assert any("security scheme 'ghost' is not defined" in p for p in found)
    assert any("path parameter 'id' is in the path but not declared" in p for p in found)
    assert any(p.startswith("/paths/~1b/get/responses/abc: 'abc' is not a status code") for p in found)
    assert "/paths/~1c/get: expected an object, got str" in found
    # Every well-formed operation is still imported; the schema loop is the validator's business.
    assert [(o.method, o.path) for o in spec.operations] == [("GET", "/a/{id}"), ("POST", "/a/{id}"), ("GET", "/b"),
                                                               ("PUT", "/c")]


def test_external_refs_are_bundled_including_cycles_across_files(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "pet.yaml").write_text(
        "Pet:\n  type: object\n  properties:\n    owner: {$ref: 'people.json#/Person'}\n"
        "    name: {type: string, example: Rex}\n")
    (tmp_path / "sub" / "people.json").write_text(json.dumps(
        {"Person": {"type": "object", "properties": {"pets": {"type": "array", "items": {"$ref": "pet.yaml#/Pet"}},
                                                     "name": {"type": "string", "example": "Ada"}}}}))
    (tmp_path / "api.yaml").write_text(miniyaml.dump(doc({"/pets": {"get": op({"200": json_response(
        {"$ref": "sub/pet.yaml#/Pet"})})}})))
    spec = load_spec(tmp_path / "api.yaml")
    assert spec.problems == [] and len(spec.files) == 3
    assert spec.where("/x-pymock-documents/0/Pet") == "pet.yaml#/Pet"
    value = sample(spec, spec.operations[0].responses[0].content[0].schema)
    assert value == {"owner": {"pets": [], "name": "Ada"}, "name": "Rex"}   # the cycle ends in []
    validator = spec.schema_compiler().validator(spec.operations[0].responses[0].content[0].schema)
    assert validator.is_valid(value) and not validator.is_valid({"owner": {"pets": [{"name": 1}]}})
    assert spec.raw["paths"]["/pets"]["get"]["responses"]["200"]["content"]["application/json"]["schema"] == \
        {"$ref": "sub/pet.yaml#/Pet"}   # the document as written is untouched


def test_external_ref_problems():
    spec = load_spec(doc({"/a": {"get": op({"200": json_response({"$ref": "other.yaml#/X"})})}}))
    assert "names another document, but this spec was given as text" in str(spec.problems[0])


def test_urls_load_through_a_fetch_callback(tmp_path):
    pages = {"http://h/api.json": json.dumps(doc({"/a": {"get": op({"200": json_response({"$ref": "common.json#/S"})})}})),
             "http://h/common.json": json.dumps({"S": {"type": "integer", "minimum": 3}})}
    spec = load_spec("http://h/api.json", fetch=lambda url: pages[url])
    assert sample(spec, spec.operations[0].responses[0].content[0].schema) == 3
    with pytest.raises(SpecError, match="needs a fetch callback"):
        load_spec("https://h/api.json")
    text_spec = load_spec_text(pages["http://h/api.json"], base="http://h/api.json", fetch=lambda url: pages[url])
    assert text_spec.problems == []
    file_spec = load_spec_text(pages["http://h/api.json"], base=str(tmp_path / "api.json"))
    assert "cannot read" in str(file_spec.problems[0])


def test_percent_encoded_pointer_refs_resolve():
    spec = load_spec(doc({"/a/{id}": {"get": op({"200": json_response({"type": "integer", "example": 4})}),
                                      "put": op({"200": {"$ref": "#/paths/~1a~1%7Bid%7D/get/responses/200"}})}}))
    assert [p.message for p in spec.problems] == ["path parameter 'id' is in the path but not declared"] * 2
    assert sample(spec, spec.operations[1].responses[0].content[0].schema) == 4


def test_swagger_2_parameters_bodies_and_forms_are_normalised():
    spec = load_spec({"swagger": "2.0", "info": INFO, "consumes": ["application/json"], "paths": {"/p/{id}": {
        "parameters": [{"name": "id", "in": "path", "required": True, "type": "integer"}],
        "post": {"parameters": [{"name": "body", "in": "body", "required": True, "schema": {"type": "object"}},
                                {"name": "tags", "in": "query", "type": "array", "items": {"type": "string"},
                                 "collectionFormat": "pipes"},
                                {"name": "id", "in": "query", "type": "array", "items": {"type": "string"},
                                 "collectionFormat": "multi"}],
                 "responses": {"201": {"description": "made", "headers": {"X-Id": {"type": "integer"}},
                                       "examples": {"application/json": {"ok": True}}}}},
        "put": {"consumes": ["multipart/form-data"], "parameters": [
            {"name": "file", "in": "formData", "type": "file", "required": True},
            {"name": "note", "in": "formData", "type": "string"}], "responses": {"204": {"description": "done"}}}}}})
    put, post = spec.operations   # in the order of METHODS: get, put, post, ...
    assert [(p.name, p.location, p.style, p.explode) for p in post.parameters] == [
        ("id", "path", "simple", False), ("tags", "query", "pipeDelimited", False), ("id", "query", "form", True)]
    assert post.request_body.required and post.request_body.content[0].content_type == "application/json"
    assert post.responses[0].content[0].examples == (("", {"ok": True}),)
    assert node_at(spec.document, post.responses[0].headers[0].schema) == {"type": "integer"}
    form = node_at(spec.document, put.request_body.content[0].schema)
    assert put.request_body.content[0].content_type == "multipart/form-data" and form["required"] == ["file"]
    assert node_at(spec.document, form["properties"]["file"]["$ref"][1:]) == {"type": "string", "format": "binary"}


# ---------------------------------------------------------------- values from schemas

@pytest.mark.parametrize("schema, expected", [
    ({"type": "string", "format": "date-time"}, "2024-01-15T09:30:00Z"),
    ({"type": "string", "format": "uuid"}, "3fa85f64-5717-4562-b3fc-2c963f66afa6"),
    ({"type": "string", "format": "email"}, "user@example.com"),
    ({"type": "string", "minLength": 10}, "stringstri"),
    ({"type": "string", "maxLength": 3}, "str"),
    ({"type": "string", "pattern": "^[A-Z]{3}-\\d{2}$"}, "AAA-00"),
    ({"type": "integer", "minimum": 5, "exclusiveMinimum": True}, 6),
    ({"type": "integer", "exclusiveMinimum": 5}, 6),
    ({"type": "number", "maximum": -2}, -2),
    ({"type": "integer", "minimum": 7, "multipleOf": 5}, 10),
    ({"type": "boolean"}, True),
    ({"type": ["null", "string"]}, "string"),
    ({"enum": [None, "b", "c"]}, "b"),
    ({"type": "string", "example": "given"}, "given"),
    ({"type": "string", "format": "date", "example": "yesterday"}, "2024-01-15"),   # an example off its schema
    ({"type": "integer", "default": 3}, 3),
    ({"const": {"a": 1}}, {"a": 1}),
    ({"type": "array", "items": {"type": "integer"}, "minItems": 2, "uniqueItems": True}, [0, 1]),
    ({"type": "array", "maxItems": 0, "items": {"type": "integer"}}, []),
    ({"prefixItems": [{"type": "string"}, {"type": "integer"}]}, ["string"]),
    ({"type": "object", "additionalProperties": {"type": "integer"}}, {"key": 0}),
    ({"type": "object", "required": ["x"]}, {"x": "string"}),
    ({}, None),
])
def test_static_values_follow_the_schema(schema, expected):
    assert Sampler({}).value(schema) == expected


def test_objects_respect_required_read_only_all_of_and_discriminators():
    document = {"components": {"schemas": {
        "Base": {"type": "object", "required": ["kind"], "properties": {"kind": {"type": "string"},
                                                                          "id": {"type": "integer", "readOnly": True}}},
        "Cat": {"allOf": [{"$ref": "#/components/schemas/Base"}, {"properties": {"claws": {"type": "boolean"}}}]},
        "Dog": {"allOf": [{"$ref": "#/components/schemas/Base"}, {"properties": {"bark": {"type": "string"}}}]},
        "Pet": {"oneOf": [{"$ref": "#/components/schemas/Cat"}, {"$ref": "#/components/schemas/Dog"}],
                "discriminator": {"propertyName": "kind", "mapping": {"cat": "#/components/schemas/Cat"}}},
        "Node": {"type": "object", "required": ["name"], "properties": {
            "name": {"type": "string"}, "child": {"$ref": "#/components/schemas/Node"},
            "secret": {"type": "string", "writeOnly": True}}},
        "Animal": {"type": "object", "properties": {"type": {"type": "string"}},
                   "discriminator": {"propertyName": "type", "mapping": {"cow": "#/components/schemas/Cow"}}},
        "Cow": {"allOf": [{"$ref": "#/components/schemas/Animal"}, {"properties": {"moo": {"type": "boolean"}}}]}}}}
    ref = {"$ref": "#/components/schemas/Pet"}
    assert Sampler(document).value(ref) == {"kind": "cat", "id": 0, "claws": True}
    assert Sampler(document, direction="request").value(ref) == {"kind": "cat", "claws": True}
    node = Sampler(document).value({"$ref": "#/components/schemas/Node"})
    assert node == {"name": "string"}   # the optional cycle is left out, writeOnly skipped
    assert Sampler(document).value({"$ref": "#/components/schemas/Animal"}) == {"type": "cow", "moo": True}


def test_dynamic_values_come_from_the_injected_rng():
    schema = {"type": "object", "required": ["n", "word"], "properties": {
        "n": {"type": "integer", "minimum": 1, "maximum": 6}, "word": {"type": "string"},
        "when": {"type": "string", "format": "date"}, "tags": {"type": "array", "items": {"type": "string"}},
        "rate": {"type": "number", "minimum": 0, "maximum": 1}, "ok": {"type": "boolean"},
        "pick": {"enum": ["x", "y", "z"]}, "code": {"type": "string", "pattern": "^[a-c]{2,4}$"}}}
    first = Sampler({}, rng=random.Random(5)).value(schema)
    assert first == Sampler({}, rng=random.Random(5)).value(schema)
    assert first != Sampler({}, rng=random.Random(6)).value(schema)
    assert 1 <= first["n"] <= 6 and isinstance(first["word"], str)
    values = [Sampler({}, rng=random.Random(seed)).value(schema) for seed in range(20)]
    assert {v.get("pick") for v in values} == {"x", "y", "z", None}   # optional: sometimes left out
    assert all(0 <= v.get("rate", 0) <= 1 for v in values)


def test_pattern_sampling_gives_up_politely():
    assert pattern_sample("^(ab|cd)+[0-9]?x\\.y$") == "abx.y"
    assert pattern_sample("[^ab]") == "~" and pattern_sample("[^a]") == "b"
    assert pattern_sample("\\s\\w\\W") == "\ta~"
    assert pattern_sample("(?<=a)b") is None            # look-behind cannot be produced
    assert pattern_sample("(unclosed") is None


def test_default_status_and_prefer_parsing():
    assert default_status(["404", "201", "200"]) == "200"
    assert default_status(["404", "2XX"]) == "2XX"
    assert default_status(["default", "500"]) == "default"
    assert default_status(["500", "302"]) == "302"
    assert parse_prefer('code=404, example="cat"; dynamic=true, other=1') == \
        {"code": "404", "example": "cat", "dynamic": "true"}


def test_mock_paths_from_spec_paths():
    assert mock_path("/pets/{petId}") == ("/pets/{petId}", {})
    assert mock_path("/#Action=RunInstances") == ("/", {"Action": "RunInstances"})
    assert mock_path("/q/{a.b}?flag&x=1") == ("/q/{a_b}", {"flag": {"present": True}, "x": "1"})


# ---------------------------------------------------------------- spec -> endpoints

@pytest.fixture(scope="module")
def pets_spec():
    return load_spec(doc({
        "/pets": {"get": op({
            "200": json_response({"type": "array", "items": {"type": "string"}},
                                 examples={"few": {"value": ["a"]}, "many": {"value": ["a", "b", "c"]},
                                           "ref": {"$ref": "#/components/examples/Empty"}}),
            "404": {"description": "none", "headers": {"X-Why": {"schema": {"type": "string"}, "example": "gone"},
                                                       "Content-Length": {"schema": {"type": "integer"}}}},
            "4XX": json_response({"type": "object", "properties": {"code": {"type": "integer", "minimum": 400}}}),
            "default": {"description": "error", "content": {"text/plain": {"example": "oops"}}}},
            operationId="listPets", summary="List pets", tags=["pets"])},
        "/pets/{id}": {"get": op({"200": {"description": "one", "content": {
            "application/xml": {"schema": {"type": "string"}},
            "application/json": {"schema": {"type": "object", "properties": {"t": {"type": "string"}}},
                                 "example": {"t": "{{ not a template }}"}}}}})},
        "/text": {"get": op({"201": json_response({"type": "string"}, example="quoted")})},
    }, components={"examples": {"Empty": {"value": []}}}))


def test_one_endpoint_per_operation_with_every_status_and_example(pets_spec):
    listed, one, text = spec_endpoints(pets_spec, "pets.yaml")
    assert listed["id"] == "listPets" and listed["operation_id"] == "listPets"
    assert (listed["status"], listed["response"], listed["openapi"]["example"]) == (200, ["a"], "few")
    assert listed["openapi"] == {"spec": "pets.yaml", "path": "/pets", "pointer": "/paths/~1pets/get", "example": "few"}
    assert [(r["status"], r.get("example"), r.get("declared"), r.get("generated")) for r in listed["responses"]] == [
        (200, "many", None, None), (200, "ref", None, None), (404, None, None, None),
        (400, None, "4XX", True), (500, None, "default", None)]
    assert listed["responses"][2]["headers"] == {"X-Why": "gone"}
    assert listed["responses"][3]["response"] == {"code": 400}
    assert listed["responses"][4]["body"] == "oops" and listed["responses"][4]["content_type"] == "text/plain"
    assert (listed["name"], listed["tags"]) == ("List pets", ["pets"])
    assert one["id"] == "get-pets-id" and one["response"] == {"t": "{{ not a template }}"}
    assert one["templating"] is False
    assert text["body"] == '"quoted"' and text["content_type"] == "application/json"
    build_config({"endpoints": [listed, one, text]})   # a plain, valid pymock config


def test_prefer_picks_status_example_and_dynamic_bodies(pets_spec, tmp_path):
    path = tmp_path / "pets.json"
    path.write_text(json.dumps(pets_spec.raw))
    app = MockApp({"openapi": str(path)}, seed=3)

    def get(prefer=None, target="/pets"):
        return app.handle(Request("GET", target, headers=[("Prefer", prefer)] if prefer else []))
    assert (get().status, get().body) == (200, b'["a"]')
    assert get("example=many").body == b'["a", "b", "c"]'
    assert get("code=200, example=ref").body == b"[]"
    answer = get("code=404")
    assert (answer.status, answer.header("X-Why"), answer.header("Preference-Applied")) == (404, "gone", "code=404")
    assert get("code=418").status == 418 and json.loads(get("code=418").body) == {"code": 400}   # the 4XX response
    assert (get("code=503").status, get("code=503").body) == (503, b"oops")                    # the default one
    dynamic = get("dynamic=true", "/pets/1")
    assert dynamic.header("Preference-Applied") == "dynamic=true" and json.loads(dynamic.body) != {"t": "{{ not a template }}"}
    missing = get("example=nope")
    assert missing.status == 400 and "no response for Prefer: example=nope" in json.loads(missing.body)["detail"]
    assert "code=200, example=many" in json.loads(missing.body)["offered"]
    assert get("code=abc").status == 400
    assert get("unrelated=1").body == b'["a"]'


# ---------------------------------------------------------------- the config's openapi key

@pytest.fixture
def spec_path(tmp_path, pets_spec):
    path = tmp_path / "pets.yaml"
    path.write_text(miniyaml.dump(pets_spec.raw))
    return path


def test_config_key_forms_overrides_and_ids(spec_path, pets_spec):
    config = load_config(_write(spec_path.parent / "c.json", {"openapi": "pets.yaml", "endpoints": [
        {"path": "/pets", "operation_id": "listPets", "response": ["mine"]},
        {"id": "get-pets-id", "path": "/other", "response": 1}]}))
    ids = [e.id for e in config.endpoints]
    assert ids == ["get-pets", "get-pets-id", "get-pets-id-2", "get-text"]   # listPets is overridden
    assert str(spec_path) in config.files
    app = MockApp(config)
    assert app.handle(Request("GET", "/pets")).body == b'["mine"]'          # the hand-written mock wins
    assert app.handle(Request("GET", "/pets/9")).status == 200
    inline = build_config({"openapi": [{"document": pets_spec.raw, "name": "inline", "mocks": False}]})
    assert inline.endpoints == () and inline.sections["contract"].specs[0].name == "inline"
    with pytest.raises(ConfigError) as caught:
        build_config({"openapi": [{"path": "x.yaml", "document": {}}, {"path": "missing.yaml"}, {"color": 1}, 5]})
    paths = [p.path for p in caught.value.problems]
    assert paths == ["openapi[0]", "openapi[1]", "openapi[2]", "openapi[3]"]
    assert "cannot load the spec" in caught.value.problems[1].message


def _write(path, data):
    path.write_text(json.dumps(data))
    return path


def test_a_spec_change_reloads_and_the_cache_reuses_an_unchanged_spec(spec_path):
    config_path = _write(spec_path.parent / "c.json", {"openapi": "pets.yaml"})
    first, second = load_config(config_path), load_config(config_path)
    assert first.sections["contract"].specs[0].spec is second.sections["contract"].specs[0].spec
    raw = miniyaml.load(spec_path.read_text())
    raw["paths"]["/new"] = {"get": {"responses": {"200": {"description": "ok"}}}}
    spec_path.write_text(miniyaml.dump(raw))
    os.utime(spec_path, ns=(1, 10 ** 18))
    app = MockApp(str(config_path))
    assert app.handle(Request("GET", "/new")).status == 200


def test_responses_key_is_validated():
    with pytest.raises(ConfigError) as caught:
        build_config({"endpoints": [{"path": "/a", "operation_id": 3, "openapi": [], "responses": [
            {"status": 404, "example": 1, "colour": "red"}, "x"]}, {"path": "/b", "responses": {}}]})
    assert sorted(p.path for p in caught.value.problems) == [
        "endpoints[0].openapi", "endpoints[0].operation_id", "endpoints[0].responses[0].colour",
        "endpoints[0].responses[0].example", "endpoints[0].responses[1]", "endpoints[1].responses"]


def test_prefer_works_on_an_imported_config_without_the_spec(pets_spec):
    config = import_config(pets_spec)
    assert "openapi" not in config
    app = MockApp(config)
    assert app.handle(Request("GET", "/pets", headers=[("Prefer", "code=404")])).status == 404
    assert app.handle(Request("GET", "/pets", headers=[("Prefer", "dynamic=true")])).body == b'["a"]'


# ---------------------------------------------------------------- admin API

def _admin(mock, method, path, body=None, content_type="application/json"):
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    request = urllib.request.Request(mock.url(path), data=data, method=method,
                                     headers={"Content-Type": content_type} if data is not None else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def test_post_admin_openapi_imports_at_runtime(pets_spec):
    with MockServer({"endpoints": [{"path": "/ping", "response": "pong"}]}) as mock:
        status, body = _admin(mock, "POST", "/__admin/openapi?name=pets", miniyaml.dump(pets_spec.raw).encode(),
                              "application/yaml")
        assert status == 201 and body["operations"] == 3 and body["mocks"] == ["listPets", "get-pets-id", "get-text"]
        assert urllib.request.urlopen(mock.url("/pets")).read() == b'["a"]'
        # Edits to a spec mock materialise it in the config; deleting one is refused.
        status, edited = _admin(mock, "PATCH", "/__admin/mocks/listPets", {"response": ["edited"]})
        assert status == 200 and edited["response"] == ["edited"]
        assert urllib.request.urlopen(mock.url("/pets")).read() == b'["edited"]'
        assert _admin(mock, "DELETE", "/__admin/mocks/get-text")[0] == 409
        assert _admin(mock, "POST", "/__admin/mocks/get-text/disable")[0] == 200
        assert _admin(mock, "GET", "/text")[0] == 404
        status, body = _admin(mock, "POST", "/__admin/openapi", b"openapi: 3.0.0\ninfo: {}\npaths: {/x: 1}")
        assert status == 201 and any("/paths/~1x" in p["path"] for p in body["problems"])
        status, body = _admin(mock, "POST", "/__admin/openapi", b'{"swagger": "1.2"}')
        assert status == 400 and "unsupported version" in body["detail"]
        assert urllib.request.urlopen(mock.url("/ping")).read() == b"pong"


# ---------------------------------------------------------------- command line

def run_cli(*args, cwd):
    return subprocess.run([sys.executable, str(ROOT / "mock_server.py"), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=60)


def test_cli_import_writes_a_linked_config(spec_path):
    result = run_cli("openapi", "import", "pets.yaml", "-o", "out.yaml", cwd=spec_path.parent)
    assert result.returncode == 0 and "imported 3 operations from pets.yaml (openapi 3.0.3)" in result.stderr
    config = miniyaml.load((spec_path.parent / "out.yaml").read_text())
    assert config["openapi"] == "pets.yaml" and len(config["endpoints"]) == 3
    assert load_config(spec_path.parent / "out.yaml").endpoints[0].id == "listPets"
    result = run_cli("openapi", "import", "nope.yaml", cwd=spec_path.parent)
    assert result.returncode == 2 and "cannot read" in result.stderr
    result = run_cli("openapi", "import", "pets.yaml", "--no-link", cwd=spec_path.parent)
    assert '"openapi"' not in result.stdout.split('"endpoints"')[0]
    result = run_cli("check", "out.yaml", cwd=spec_path.parent)
    assert result.returncode == 0 and "3 endpoints" in result.stdout


def test_serve_spec_with_contract_over_a_real_process(spec_path):
    process = subprocess.Popen([sys.executable, str(ROOT / "mock_server.py"), "serve", "--port", "0", "--spec",
                                str(spec_path), "--contract", "warn", "--no-watch"],
                               cwd=spec_path.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline().strip()
        assert line.startswith("listening on http://127.0.0.1:"), process.stderr.read() if process.poll() else line
        url = line.removeprefix("listening on ")
        with urllib.request.urlopen(url + "/pets?x=1") as response:
            assert response.read() == b'["a"]' and response.headers["X-Pymock-Contract"] == "ok"
        request = urllib.request.Request(url + "/pets", headers={"Prefer": "code=404"})
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request)
        assert caught.value.code == 404
        wait_until(lambda: process.poll() is None)
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
        process.stdout.close()
        process.stderr.close()


def test_cli_in_process_import_from_a_url_export_and_sync(tmp_path, pets_spec, capsys):
    from pymock.cli import main
    text = json.dumps(pets_spec.raw).encode()
    with MockServer({"endpoints": [{"path": "/spec.json", "body": text.decode(), "content_type": "application/json",
                                    "templating": False}]}) as site:
        url = site.url("/spec.json")
        assert main(["openapi", "import", url, "-o", str(tmp_path / "c.json")]) == 0
        config = json.loads((tmp_path / "c.json").read_text())
        assert config["openapi"] == {"document": pets_spec.raw, "name": url}
        assert main(["openapi", "import", url, "--no-link"]) == 0
        assert '"openapi"' not in capsys.readouterr().out.split('"endpoints"')[0]
        assert main(["openapi", "import", site.url("/missing.json")]) == 2
        assert "cannot fetch" in capsys.readouterr().err
    assert load_config(tmp_path / "c.json").endpoints[0].id == "listPets"
    assert main(["openapi", "export", str(tmp_path / "c.json")]) == 0
    out = capsys.readouterr()
    assert miniyaml.load(out.out)["openapi"] == "3.1.0" and "exported 3 operations" in out.err
    (tmp_path / "spec.yaml").write_text(miniyaml.dump(pets_spec.raw))
    (tmp_path / "m.yaml").write_text(miniyaml.dump({"endpoints": [{"path": "/pets", "response": ["zzz"]}]}))
    assert main(["openapi", "sync", str(tmp_path / "spec.yaml"), str(tmp_path / "m.yaml"), "--check"]) == 1
    assert main(["openapi", "sync", str(tmp_path / "spec.yaml"), str(tmp_path / "m.yaml")]) == 0
    assert main(["openapi", "sync", str(tmp_path / "spec.yaml"), str(tmp_path / "m.yaml"), "--check"]) == 0
    assert main(["openapi", "sync", str(tmp_path / "spec.yaml"), str(tmp_path / "m.yaml"),
                 "--direction", "spec-to-mocks"]) == 0
    assert len(miniyaml.load((tmp_path / "m.yaml").read_text())["endpoints"]) == 4
    assert main(["openapi", "sync", str(tmp_path / "nope.yaml"), str(tmp_path / "m.yaml")]) == 2
    assert main(["openapi", "sync", str(tmp_path / "spec.yaml"), str(tmp_path / "none.json")]) == 2


def test_serve_overrides_from_flags(tmp_path):
    from pymock.cli import build_parser
    from pymock.openapi_cli import serve_overrides
    args = build_parser().parse_args(["serve", "--spec", "a.yaml", "--spec", "b.json", "--contract", "warn"])
    assert serve_overrides(args) == {"openapi": [os.path.abspath("a.yaml"), os.path.abspath("b.json")],
                                     "contract": "warn"}
    assert serve_overrides(build_parser().parse_args(["serve"])) is None


def test_serve_spec_from_a_url_and_spec_files_are_watched(tmp_path, pets_spec, spec_path):
    from pymock.cli import build_parser
    from pymock.openapi_cli import serve_overrides
    from pymock.reload import ConfigWatcher
    with MockServer({"endpoints": [{"path": "/s.json", "body": json.dumps(pets_spec.raw), "templating": False,
                                    "content_type": "application/json"}]}) as site:
        overrides = serve_overrides(build_parser().parse_args(["serve", "--spec", site.url("/s.json")]))
        assert overrides == {"openapi": [{"document": pets_spec.raw, "name": site.url("/s.json")}]}
        with pytest.raises(SystemExit) as caught:
            serve_overrides(build_parser().parse_args(["serve", "--spec", site.url("/none.json")]))
        assert caught.value.code == 2
    app = MockApp({"endpoints": []}, overrides={"openapi": [str(spec_path)]})
    watcher = ConfigWatcher(app, 0.01)
    assert str(spec_path) in app.config.files and not watcher.check_now()
    raw = miniyaml.load(spec_path.read_text())
    raw["paths"]["/watched"] = {"get": {"responses": {"204": {"description": "ok"}}}}
    spec_path.write_text(miniyaml.dump(raw))
    assert watcher.check_now() is True
    assert app.handle(Request("GET", "/watched")).status == 204


@pytest.mark.parametrize("name", ["openapi", "openapi_mocks", "openapi_samples", "openapi_export", "openapi_sync",
                                  "contract", "contract_checks"])
def test_module_docstring_examples(name):
    import doctest
    import importlib
    result = doctest.testmod(importlib.import_module(f"pymock.{name}"))
    assert result.failed == 0 and result.attempted >= 2


def test_sampler_corners():
    document = {"d": {
        "Broken": {"$ref": "#/d/Nowhere"},
        "Odd": {"type": "object", "discriminator": {"propertyName": "k", "mapping": {"x": "#/d/Gone"}},
                "properties": {"k": {"type": "string"}}},
        "Loop": {"type": "object", "required": ["next"], "properties": {"next": {"$ref": "#/d/Loop"}}},
        "Base": {"type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}}},
        "WithBase": {"properties": {"extra": {"type": "boolean"}},
                     "oneOf": [{"$ref": "#/d/Base"}]},
        "Parts": {"allOf": [{"$ref": "#/d/Nowhere"}, {"properties": {"p": {"type": "string"}}}]}}}
    sampler = Sampler(document)
    assert sampler.value({"$ref": "#/d/Broken"}) is None
    assert sampler.value({"$ref": "#/d/Odd"}) == {"k": "Odd"}        # the mapping points nowhere: itself
    assert sampler.value({"$ref": "#/d/Loop"}) == {"next": {}}      # a required cycle ends in {}
    assert sampler.value({"$ref": "#/d/WithBase"}) == {"extra": True, "n": 0}
    assert sampler.value({"$ref": "#/d/Parts"}) == {"p": "string"}
    assert Sampler(document, max_depth=0).value({"type": "object", "properties": {"a": {"type": "integer"}}}) == {}
    assert sampler.value({"minimum": 2.5}) == 2.5 and sampler.value({"format": "int64"}) == 0
    assert sampler.value({"type": "integer", "minimum": 1, "maximum": 4, "multipleOf": 3}) == 3
    assert sampler.value({"type": "integer", "minimum": 5, "maximum": 6, "multipleOf": 4}) == 4
    assert sampler.value({"type": "number", "maximum": 10, "exclusiveMaximum": True, "minimum": 9.995}) == 9.995
    rng = random.Random(1)
    assert pattern_sample("^(x|y)[ab]{2}\\d$", rng) in {f"{a}{b}{c}{d}" for a in "xy" for b in "ab" for c in "ab"
                                                      for d in "0123456789"}
    assert pattern_sample("^\\D\\S$") == "~~"   # negated classes: a char outside them
