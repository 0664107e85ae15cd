"""Unit tests for ``pymock.specdiff``: one case per check family, plus $ref resolution, Swagger
2.0, ignore files, output formats and exit codes; and ``pymock diff`` run in-process."""

from __future__ import annotations

import copy
import doctest
import datetime
import json

import pytest

from pymock import specdiff, specdiff_checks
from pymock.errors import SpecError
from pymock.specdiff import (Report, SpecModel, diff, format_json, format_markdown, format_text,
                             parse_ignore, path_key)
from pymock.specdiff_checks import CHECKS, SCHEMA_KINDS

TODAY = datetime.date(2030, 6, 1)


def base() -> dict:
    pet = {"type": "object", "required": ["name"], "properties": {
        "name": {"type": "string", "maxLength": 50, "pattern": "^[a-z]+$"},
        "age": {"type": "integer", "minimum": 0, "maximum": 30, "format": "int32"},
        "kind": {"type": "string", "enum": ["cat", "dog"]},
        "tags": {"type": "array", "maxItems": 5, "items": {"type": "string"}},
        "note": {"type": "string", "nullable": True}}}
    return {
        "openapi": "3.0.3",
        "info": {"title": "Pets", "version": "1.0.0"},
        "paths": {
            "/pets": {
                "post": {
                    "operationId": "createPet",
                    "parameters": [{"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 100, "default": 10}},
                                   {"name": "X-Trace", "in": "header", "required": True, "schema": {"type": "string"}}],
                    "requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}}},
                    "responses": {
                        "201": {"description": "created",
                                "headers": {"Location": {"required": True, "schema": {"type": "string"}},
                                            "X-Rate": {"schema": {"type": "integer"}}},
                                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}}},
                        "400": {"description": "bad"}}},
            },
            "/pets/{petId}": {
                "get": {"parameters": [{"name": "petId", "in": "path", "required": True, "schema": {"type": "string"}}],
                        "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}}}}},
            },
        },
        "components": {"schemas": {"Pet": pet}},
    }


def changed(mutate, old=None) -> Report:
    old = old or base()
    new = copy.deepcopy(old)
    mutate(new)
    return diff(old, new, today=TODAY)


def ids(report: Report) -> list:
    return [(c.id, c.level) for c in report.changes]


PET = lambda d: d["components"]["schemas"]["Pet"]  # noqa: E731
POST = lambda d: d["paths"]["/pets"]["post"]  # noqa: E731
GET = lambda d: d["paths"]["/pets/{petId}"]["get"]  # noqa: E731


def _set(getter, key, value):
    return lambda d: getter(d).__setitem__(key, value)


CASES = {
    # paths and operations
    "path removed": (lambda d: d["paths"].pop("/pets/{petId}"), "api-path-removed", "ERR"),
    "operation removed": (lambda d: d["paths"]["/pets"].update(get={"responses": {"200": {"description": "x"}}})
                          or d["paths"]["/pets"].pop("post"), "api-operation-removed", "ERR"),
    "endpoint added": (lambda d: d["paths"]["/pets"].update(get={"responses": {"200": {"description": "x"}}}),
                       "endpoint-added", "INFO"),
    "operation id changed": (lambda d: POST(d).update(operationId="addPet"), "api-operation-id-changed", "WARN"),
    "operation id added": (lambda d: GET(d).update(operationId="getPet"), "api-operation-id-added", "INFO"),
    "deprecated": (lambda d: GET(d).update(deprecated=True), "endpoint-deprecated", "INFO"),
    "deprecated with sunset": (lambda d: GET(d).update({"deprecated": True, "x-sunset": "2031-01-01"}),
                               "endpoint-deprecated-with-sunset", "INFO"),
    # parameters
    "required parameter added": (lambda d: POST(d)["parameters"].append({"name": "q", "in": "query", "required": True,
                                                                         "schema": {"type": "string"}}),
                                 "new-required-request-parameter", "ERR"),
    "optional parameter added": (lambda d: POST(d)["parameters"].append({"name": "q", "in": "query", "schema": {"type": "string"}}),
                                 "new-optional-request-parameter", "INFO"),
    "parameter removed": (lambda d: POST(d)["parameters"].pop(0), "request-parameter-removed", "WARN"),
    "parameter made required": (lambda d: POST(d)["parameters"][0].update(required=True),
                                "request-parameter-became-required", "ERR"),
    "parameter made optional": (lambda d: POST(d)["parameters"][1].update(required=False),
                                "request-parameter-became-optional", "INFO"),
    "parameter deprecated": (lambda d: POST(d)["parameters"][0].update(deprecated=True), "request-parameter-deprecated", "INFO"),
    "parameter type changed": (lambda d: POST(d)["parameters"][0]["schema"].update(type="boolean"),
                               "request-parameter-type-changed", "ERR"),
    "parameter type widened": (lambda d: POST(d)["parameters"][0]["schema"].update(type="number"),
                               "request-parameter-type-generalized", "INFO"),
    "parameter format changed": (lambda d: POST(d)["parameters"][1]["schema"].update(format="uuid"),
                                 "request-parameter-format-changed", "ERR"),
    "parameter max decreased": (lambda d: POST(d)["parameters"][0]["schema"].update(maximum=50),
                                "request-parameter-max-decreased", "ERR"),
    "parameter max increased": (lambda d: POST(d)["parameters"][0]["schema"].update(maximum=500),
                                "request-parameter-max-increased", "INFO"),
    "parameter min set": (lambda d: POST(d)["parameters"][0]["schema"].update(minimum=1),
                          "request-parameter-min-set", "WARN"),
    "parameter became enum": (lambda d: POST(d)["parameters"][1]["schema"].update(enum=["a"]),
                              "request-parameter-became-enum", "ERR"),
    "parameter default changed": (lambda d: POST(d)["parameters"][0]["schema"].update(default=20),
                                  "request-parameter-default-value-changed", "ERR"),
    "parameter pattern added": (lambda d: POST(d)["parameters"][1]["schema"].update(pattern="^[0-9]+$"),
                                "request-parameter-pattern-added", "ERR"),
    # request body
    "request body removed": (lambda d: POST(d).pop("requestBody"), "request-body-removed", "ERR"),
    "request body added required": (lambda d: GET(d).update(requestBody={"required": True, "content": {"text/plain": {}}}),
                                    "request-body-added-required", "ERR"),
    "request body added optional": (lambda d: GET(d).update(requestBody={"content": {"text/plain": {}}}),
                                    "request-body-added-optional", "INFO"),
    "request body became optional": (lambda d: POST(d)["requestBody"].update(required=False),
                                     "request-body-became-optional", "INFO"),
    "request media type removed": (lambda d: POST(d)["requestBody"]["content"].update(
        {"application/xml": POST(d)["requestBody"]["content"].pop("application/json")}),
        "request-body-media-type-removed", "ERR"),
    "request media type added": (lambda d: POST(d)["requestBody"]["content"].update({"text/plain": {}}),
                                 "request-body-media-type-added", "INFO"),
    "property made required": (lambda d: PET(d)["required"].append("age"), "request-property-became-required", "ERR"),
    "required property added": (lambda d: (PET(d)["properties"].update(chip={"type": "string"}),
                                           PET(d)["required"].append("chip")), "new-required-request-property", "ERR"),
    "additionalProperties closed": (lambda d: PET(d).update(additionalProperties=False),
                                    "request-body-additional-properties-closed", "ERR"),
    "request property type changed": (lambda d: PET(d)["properties"]["age"].update(type="string", format=None),
                                      "request-property-type-changed", "ERR"),
    "request enum value removed": (lambda d: PET(d)["properties"]["kind"].update(enum=["cat"]),
                                   "request-property-enum-value-removed", "ERR"),
    "request max length decreased": (lambda d: PET(d)["properties"]["name"].update(maxLength=10),
                                     "request-property-max-length-decreased", "ERR"),
    "request min increased": (lambda d: PET(d)["properties"]["age"].update(minimum=1),
                              "request-property-min-increased", "ERR"),
    "request max items decreased": (lambda d: PET(d)["properties"]["tags"].update(maxItems=2),
                                    "request-property-max-items-decreased", "ERR"),
    "request pattern changed": (lambda d: PET(d)["properties"]["name"].update(pattern="^[a-z]{2,}$"),
                                "request-property-pattern-changed", "WARN"),
    "request pattern generalized": (lambda d: PET(d)["properties"]["name"].update(pattern=".*"),
                                    "request-property-pattern-generalized", "INFO"),
    "request not nullable": (lambda d: PET(d)["properties"]["note"].pop("nullable"),
                             "request-property-became-not-nullable", "ERR"),
    # responses
    "success status removed": (lambda d: POST(d)["responses"].update({"200": POST(d)["responses"].pop("201")}),
                               "response-success-status-removed", "ERR"),
    "non-success status removed": (lambda d: POST(d)["responses"].pop("400"), "response-non-success-status-removed", "INFO"),
    "status added": (lambda d: POST(d)["responses"].update({"409": {"description": "dup"}}),
                     "response-non-success-status-added", "INFO"),
    "response media type removed": (lambda d: POST(d)["responses"]["201"].pop("content"), "response-media-type-removed", "ERR"),
    "required header removed": (lambda d: POST(d)["responses"]["201"]["headers"].pop("Location"),
                                "required-response-header-removed", "ERR"),
    "optional header removed": (lambda d: POST(d)["responses"]["201"]["headers"].pop("X-Rate"),
                                "optional-response-header-removed", "WARN"),
    "header became optional": (lambda d: POST(d)["responses"]["201"]["headers"]["Location"].update(required=False),
                               "response-header-became-optional", "ERR"),
    "header type changed": (lambda d: POST(d)["responses"]["201"]["headers"]["X-Rate"]["schema"].update(type="string"),
                            "response-header-type-changed", "ERR"),
    "response property removed": (lambda d: PET(d)["properties"].pop("name") and PET(d).pop("required"),
                                  "response-required-property-removed", "ERR"),
    "response optional property removed": (lambda d: PET(d)["properties"].pop("age"),
                                           "response-optional-property-removed", "WARN"),
    "response property became optional": (lambda d: PET(d).pop("required"), "response-property-became-optional", "ERR"),
    "response enum widened": (lambda d: PET(d)["properties"]["kind"]["enum"].append("bird"),
                              "response-property-enum-value-added", "WARN"),
    "response nullable added": (lambda d: PET(d)["properties"]["age"].update(nullable=True),
                                "response-property-became-nullable", "ERR"),
    "response type changed": (lambda d: PET(d)["properties"]["kind"].update(type="integer", enum=[1, 2]),
                              "response-property-type-changed", "ERR"),
    # security
    "security added": (lambda d: GET(d).update(security=[{"oauth": ["read"]}]), "api-security-added", "ERR"),
    "global security added": (lambda d: d.update(security=[{"key": []}]), "api-global-security-added", "ERR"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_check_family(name):
    mutate, check, level = CASES[name]
    found = ids(changed(mutate))
    assert (check, level) in found, found
    assert CHECKS[check][0] == level or check.startswith("api-security")


def test_no_change_gives_an_empty_report_and_exit_0():
    report = diff(base(), base())
    assert report.changes == [] and report.exit_code("WARN") == 0
    assert format_text(report).startswith("old -> new: no changes")


def test_the_same_change_is_reported_in_request_and_response_with_opposite_meaning():
    found = ids(changed(lambda d: PET(d)["properties"]["kind"]["enum"].append("bird")))
    assert ("request-property-enum-value-added", "INFO") in found
    assert ("response-property-enum-value-added", "WARN") in found
    found = ids(changed(lambda d: PET(d)["properties"]["age"].update(maximum=99)))
    assert ("request-property-max-increased", "INFO") in found
    assert ("response-property-max-increased", "WARN") in found


def test_stability_level_decrease_and_increase():
    old = base()
    GET(old)["x-stability-level"] = "beta"
    assert ids(changed(lambda d: GET(d).update({"x-stability-level": "alpha"}), old)) == [("api-stability-decreased", "ERR")]
    assert ids(changed(lambda d: GET(d).update({"x-stability-level": "stable"}), old)) == [("api-stability-increased", "INFO")]


def test_moving_a_schema_into_components_is_not_a_change():
    inline = base()
    pet = PET(inline)
    for media in (POST(inline)["requestBody"]["content"]["application/json"],
                  POST(inline)["responses"]["201"]["content"]["application/json"],
                  GET(inline)["responses"]["200"]["content"]["application/json"]):
        media["schema"] = copy.deepcopy(pet)
    del inline["components"]
    assert diff(inline, base()).changes == []
    assert diff(base(), inline).changes == []


def test_splitting_a_schema_into_allof_parts_is_not_a_property_change():
    new = base()
    pet = PET(new)
    new["components"]["schemas"]["Named"] = {"type": "object", "required": ["name"],
                                             "properties": {"name": pet["properties"].pop("name")}}
    pet["required"].remove("name")
    new["components"]["schemas"]["Pet"] = {"allOf": [{"$ref": "#/components/schemas/Named"}, pet]}
    assert diff(base(), new).changes == []


def test_renaming_a_path_parameter_is_not_a_change():
    new = base()
    item = new["paths"].pop("/pets/{petId}")
    item["get"]["parameters"][0]["name"] = "id"
    new["paths"]["/pets/{id}"] = item
    assert diff(base(), new).changes == []
    assert path_key("/a/{x}/b/{y}/") == "/a/{}/b/{}"


def test_recursive_schemas_terminate_and_report_changes_once():
    def tree(leaf_type):
        return {"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {"/t": {"get": {
            "responses": {"200": {"description": "ok", "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/Node"}}}}}}}},
            "components": {"schemas": {"Node": {"type": "object", "properties": {
                "value": {"type": leaf_type}, "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}}}}}}}
    report = diff(tree("string"), tree("integer"))
    assert [(c.id, c.pointer) for c in report.changes] == [
        ("response-property-type-changed", "/paths/~1t/get/responses/200/content/application~1json/schema/properties/value/type")]


def test_removal_of_a_deprecated_operation_depends_on_the_sunset_date():
    old = base()
    GET(old).update({"deprecated": True, "x-sunset": "2030-12-31"})
    remove = lambda d: d["paths"].pop("/pets/{petId}")  # noqa: E731
    early = diff(old, _apply(old, remove), today=datetime.date(2030, 1, 1))
    late = diff(old, _apply(old, remove), today=datetime.date(2031, 1, 1))
    unknown = diff(old, _apply(old, remove))
    assert ids(early) == [("api-path-removed-before-sunset", "ERR")]
    assert ids(late) == ids(unknown) == [("api-path-removed-with-deprecation", "INFO")]


def test_sunset_date_changes_on_a_deprecated_operation():
    old = base()
    GET(old).update({"deprecated": True, "x-sunset": "2030-12-31"})
    assert ids(changed(lambda d: GET(d).update({"x-sunset": "2030-07-01"}), old)) == [("endpoint-sunset-brought-forward", "WARN")]
    assert ids(changed(lambda d: GET(d).update({"x-sunset": "2031-07-01"}), old)) == [("endpoint-sunset-changed", "INFO")]
    assert ids(changed(lambda d: GET(d).pop("deprecated"), old)) == [("endpoint-reactivated", "INFO")]


def _apply(doc, mutate):
    new = copy.deepcopy(doc)
    mutate(new)
    return new


def test_security_alternatives_and_scopes():
    old = base()
    GET(old)["security"] = [{"oauth": ["read"]}, {"key": []}]
    found = ids(changed(lambda d: GET(d).update(security=[{"oauth": ["read", "write"]}]), old))
    assert ("api-security-removed", "WARN") in found and ("api-security-scope-added", "WARN") in found
    found = ids(changed(lambda d: GET(d).update(security=[{"oauth": []}, {"key": []}, {"basic": []}]), old))
    assert ("api-security-added", "INFO") in found and ("api-security-scope-removed", "INFO") in found
    assert ids(changed(lambda d: GET(d).update(security=[]), old)) == [
        ("api-security-removed", "INFO"), ("api-security-removed", "INFO")]


def test_composition_alternatives_are_matched_by_ref_title_and_content():
    old = base()
    old["components"]["schemas"].update({"A": {"type": "object", "title": "A"}, "B": {"type": "object"}})
    PET(old)["properties"]["owner"] = {"oneOf": [{"$ref": "#/components/schemas/A"}, {"$ref": "#/components/schemas/B"}]}
    found = ids(changed(lambda d: PET(d)["properties"]["owner"]["oneOf"].pop(0), old))
    assert ("request-property-one-of-removed", "ERR") in found and ("response-property-one-of-removed", "INFO") in found
    found = ids(changed(lambda d: PET(d)["properties"]["owner"]["oneOf"].append({"type": "string", "title": "S"}), old))
    assert ("response-property-one-of-added", "ERR") in found and ("request-property-one-of-added", "INFO") in found


def test_discriminator_and_conditionals():
    found = ids(changed(lambda d: PET(d).update(discriminator={"propertyName": "kind"})))
    assert ("request-body-discriminator-added", "INFO") in found
    old = base()
    PET(old)["discriminator"] = {"propertyName": "kind"}
    assert ("response-body-discriminator-property-name-changed", "INFO") in ids(
        changed(lambda d: PET(d).update(discriminator={"propertyName": "name"}), old))
    found = ids(changed(lambda d: PET(d).update({"if": {"required": ["age"]}})))
    assert ("request-body-if-added", "ERR") in found and ("response-body-if-added", "INFO") in found


def test_swagger_2_documents_are_normalised():
    def swagger(required):
        return {"swagger": "2.0", "info": {"title": "t", "version": "1"}, "host": "api.example.com",
                "basePath": "/v1", "produces": ["application/json"], "paths": {"/pets": {"post": {
                    "parameters": [{"name": "body", "in": "body", "required": True,
                                    "schema": {"$ref": "#/definitions/Pet"}},
                                   {"name": "limit", "in": "query", "type": "integer", "maximum": 10}],
                    "responses": {"200": {"description": "ok", "schema": {"$ref": "#/definitions/Pet"},
                                          "headers": {"X-Id": {"type": "string"}}}}}}},
                "definitions": {"Pet": {"type": "object", "required": required,
                                        "properties": {"name": {"type": "string"}, "age": {"type": "integer", "x-nullable": True}}}}}
    found = ids(diff(swagger(["name"]), swagger(["name", "age"])))
    assert ("request-property-became-required", "ERR") in found
    model = SpecModel(swagger([]))
    assert model.servers() == [("https://api.example.com/v1", "")]
    op = model.operations()[0]
    assert list(op.body.content) == ["application/json"] and op.parameters[0].schema == {"type": "integer", "maximum": 10}
    assert op.responses["200"].headers["X-Id"].schema == {"type": "string"}


def test_swagger_2_form_parameters_become_a_form_body():
    doc = {"swagger": "2.0", "info": {"title": "t", "version": "1"}, "paths": {"/up": {"post": {
        "consumes": ["multipart/form-data"],
        "parameters": [{"name": "file", "in": "formData", "type": "file", "required": True},
                       {"name": "note", "in": "formData", "type": "string"}],
        "responses": {"204": {"description": "ok"}}}}}}
    body = SpecModel(doc).operations()[0].body
    assert body.required and list(body.content) == ["multipart/form-data"]
    assert body.content["multipart/form-data"].schema["required"] == ["file"]
    removed = _apply(doc, lambda d: d["paths"]["/up"]["post"]["parameters"].pop(1))
    assert ids(diff(doc, removed)) == [("request-property-removed", "WARN")]


def test_webhooks_added_and_removed():
    old = {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "webhooks": {"a": {}, "b": {}}}
    new = {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "webhooks": {"b": {}, "c": {}}}
    assert ids(diff(old, new)) == [("webhook-removed", "ERR"), ("webhook-added", "INFO")]


def test_type_lists_of_openapi_3_1():
    def doc(type_):
        return {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {"/x": {"get": {
            "responses": {"200": {"description": "ok", "content": {"application/json": {
                "schema": {"type": "object", "properties": {"v": {"type": type_}}}}}}}}}}}
    assert ids(diff(doc("string"), doc(["string", "null"]))) == [("response-property-became-nullable", "ERR")]
    assert ids(diff(doc("string"), doc(["string", "integer"]))) == [("response-property-list-of-types-widened", "ERR")]
    assert ids(diff(doc(["string", "integer"]), doc("string"))) == [("response-property-type-specialized", "INFO")]


def test_report_order_is_deterministic_and_formats_agree():
    def mutate(d):
        POST(d)["parameters"].pop(0)
        PET(d)["required"].append("age")
        d["paths"].pop("/pets/{petId}")
    first, second = changed(mutate), changed(mutate)
    assert format_text(first) == format_text(second)
    assert format_json(first) == format_json(second)
    document = json.loads(format_json(first))
    assert document["summary"] == {"ERR": 2, "WARN": 1, "INFO": 1, "ignored": 0, "breaking": True}
    assert [c["id"] for c in document["changes"]] == [
        "request-parameter-removed", "request-property-became-required", "response-property-became-required",
        "api-path-removed"]
    markdown = format_markdown(first)
    assert "| ERR | `api-path-removed` | GET /pets/{petId} | - |" in markdown
    text = format_text(first)
    assert "ERR  api-path-removed  GET /pets/{petId}" in text and "4 changes: 2 breaking (ERR), 1 warning, 1 info" in text


def test_exit_code_follows_fail_on():
    report = changed(lambda d: POST(d)["parameters"].pop(0))     # one WARN
    assert report.exit_code(None) == 0 and report.exit_code("ERR") == 0 and report.exit_code("WARN") == 1
    assert report.max_level() == "WARN" and not report.breaking


def test_ignore_rules_match_fingerprints_and_globs():
    report = changed(lambda d: (POST(d)["parameters"].pop(0), d["paths"].pop("/pets/{petId}")))
    fingerprints = [c.fingerprint for c in report.changes]
    assert fingerprints[0] == "request-parameter-removed POST /pets /paths/~1pets/post/parameters/0"
    rules = parse_ignore("# accepted\napi-path-removed GET /pets/*\n")
    again = diff(base(), _apply(base(), lambda d: (POST(d)["parameters"].pop(0), d["paths"].pop("/pets/{petId}"))),
                 ignore=rules)
    assert [c.id for c in again.changes] == ["request-parameter-removed"]
    assert [c.id for c in again.ignored] == ["api-path-removed"]
    assert again.summary()["ignored"] == 1 and "1 ignored" in format_text(again)
    assert diff(base(), _apply(base(), lambda d: POST(d)["parameters"].pop(0)),
                ignore=parse_ignore(fingerprints[0])).changes == []
    assert parse_ignore("* * * /paths/~1pets")[0].matches(report.changes[0])


def test_bad_ignore_file_names_the_line():
    with pytest.raises(SpecError, match=r"ignore.txt:2: expected 'check-id"):
        parse_ignore("ok\na b c d e\n", "ignore.txt")


@pytest.mark.parametrize("doc, pointer, message", [
    ({"info": {}}, "", "no 'openapi' or 'swagger' key"),
    ({"openapi": "4.0"}, "/openapi", "unsupported version"),
    ({"openapi": "3.0.0", "paths": []}, "/paths", "'paths' must be an object"),
    ({"openapi": "3.0.0", "paths": {"/a": {"get": {"responses": {"200": {"$ref": "#/components/responses/Nope"}}}}}},
     "/paths/~1a/get/responses/200", "does not exist"),
    ({"openapi": "3.0.0", "paths": {"/a": {"get": {"parameters": [{"$ref": "other.yaml#/p"}]}}}},
     "/paths/~1a/get/parameters/0", "external \\$ref"),
    ({"openapi": "3.0.0", "paths": {"/a": {"get": {"responses": []}}}}, "/paths/~1a/get/responses", "must be an object"),
    ({"openapi": "3.0.0", "paths": {"/a": "nope"}}, "/paths/~1a", "must be an object"),
])
def test_bad_documents_raise_spec_errors_with_a_pointer(doc, pointer, message):
    with pytest.raises(SpecError, match=message) as caught:
        diff(doc, base(), old_name="old.yaml")
    assert caught.value.pointer == pointer
    assert "old.yaml" in str(caught.value) or pointer


def test_not_a_document():
    with pytest.raises(SpecError, match="expected an OpenAPI document"):
        SpecModel([1, 2])


def test_the_catalogue_names_every_kind_and_levels_are_valid():
    assert all(level in ("ERR", "WARN", "INFO") for level, _ in CHECKS.values())
    for kind in SCHEMA_KINDS:
        assert f"{kind}-type-changed" in CHECKS
    assert CHECKS["request-property-max-length-decreased"][0] == "ERR"
    assert CHECKS["response-property-max-length-decreased"][0] == "INFO"


@pytest.mark.parametrize("module", [specdiff, specdiff_checks], ids=lambda m: m.__name__)
def test_module_doctests(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


# ---------------------------------------------------------------- pymock diff (in-process CLI)

def _write(path, doc):
    path.write_text(json.dumps(doc), encoding="utf-8")
    return str(path)


def test_cli_diff_formats_fail_on_and_ignore(tmp_path, capsys):
    from pymock.cli import main
    old = _write(tmp_path / "old.json", base())
    new = _write(tmp_path / "new.json", _apply(base(), lambda d: (d["paths"].pop("/pets/{petId}"),
                                                                  POST(d)["parameters"].pop(0))))
    assert main(["diff", old, new]) == 0
    out = capsys.readouterr().out
    assert "2 changes: 1 breaking (ERR), 1 warning, 0 info" in out
    assert main(["diff", old, new, "--fail-on", "ERR", "--format", "json"]) == 1
    assert json.loads(capsys.readouterr().out)["summary"]["ERR"] == 1
    assert main(["diff", old, new, "--fail-on", "warn", "--format", "markdown", "-o", str(tmp_path / "r.md")]) == 1
    assert (tmp_path / "r.md").read_text().startswith("## API changes")
    (tmp_path / "ignore.txt").write_text("api-path-removed GET /pets/{petId}\n")
    assert main(["diff", old, new, "--fail-on", "ERR", "--ignore", str(tmp_path / "ignore.txt")]) == 0
    assert "1 ignored" in capsys.readouterr().out


def test_cli_diff_compares_the_specs_derived_from_two_configs(tmp_path, capsys):
    from pymock.cli import main
    old = _write(tmp_path / "old.json", {"endpoints": [{"path": "/a", "response": {"x": 1}},
                                                       {"path": "/b", "response": {"y": 1}}]})
    new = _write(tmp_path / "new.json", {"endpoints": [{"path": "/a", "response": {"x": 1}}]})
    assert main(["diff", old, new, "--fail-on", "ERR"]) == 1
    assert "api-path-removed  GET /b" in capsys.readouterr().out


def test_cli_diff_names_file_and_pointer_of_a_bad_spec(tmp_path, capsys):
    from pymock.cli import main
    good = _write(tmp_path / "good.json", base())
    broken = _apply(base(), lambda d: POST(d)["requestBody"]["content"]["application/json"].update(
        schema={"$ref": "#/components/schemas/Nope"}))
    broken["paths"]["/pets"]["post"]["requestBody"] = {"$ref": "#/components/requestBodies/Missing"}
    bad = _write(tmp_path / "bad.json", broken)
    assert main(["diff", good, bad]) == 2
    err = capsys.readouterr().err
    assert f"pymock: {bad}: $ref target #/components/requestBodies/Missing does not exist (at /paths/~1pets/post/requestBody)" in err
    (tmp_path / "neither.json").write_text('{"x": 1}')
    assert main(["diff", good, str(tmp_path / "neither.json")]) == 2
    assert "neither an OpenAPI/Swagger document" in capsys.readouterr().err
    (tmp_path / "ignore.txt").write_text("a b c d e\n")
    assert main(["diff", good, good, "--ignore", str(tmp_path / "ignore.txt")]) == 2
    assert "ignore.txt:1:" in capsys.readouterr().err
    assert main(["diff", good, good, "--ignore", str(tmp_path / "none.txt")]) == 2
    assert "cannot read" in capsys.readouterr().err
    (tmp_path / "badconfig.json").write_text('{"endpoints": [{"path": "/x", "staus": 1}]}')
    assert main(["diff", good, str(tmp_path / "badconfig.json")]) == 2
    assert "endpoints[0].staus: unknown key" in capsys.readouterr().err


REVERSE = {
    # name: (prepare the old document, change it, expected (id, level))
    "request body became required": (lambda d: POST(d)["requestBody"].update(required=False),
                                     lambda d: POST(d)["requestBody"].update(required=True),
                                     ("request-body-became-required", "ERR")),
    "response media type added": (lambda d: None, lambda d: POST(d)["responses"]["201"]["content"].update(
        {"application/xml": {}}), ("response-media-type-added", "INFO")),
    "response header added": (lambda d: None, lambda d: POST(d)["responses"]["201"]["headers"].update(
        {"ETag": {"schema": {"type": "string"}}}), ("response-header-added", "INFO")),
    "const changed": (lambda d: PET(d)["properties"]["kind"].update(const="cat", enum=None),
                      lambda d: PET(d)["properties"]["kind"].update(const="dog"),
                      ("request-property-enum-value-removed", "ERR")),
    "type dropped": (lambda d: None, lambda d: PET(d)["properties"]["name"].pop("type"),
                     ("request-property-type-generalized", "INFO")),
    "property deprecated": (lambda d: None, lambda d: PET(d)["properties"]["age"].update(deprecated=True),
                            ("response-property-deprecated", "INFO")),
    "format narrowed in a response": (lambda d: PET(d)["properties"]["age"].pop("format"),
                                      lambda d: PET(d)["properties"]["age"].update(format="int32"),
                                      ("response-property-format-specialized", "INFO")),
    "enum dropped": (lambda d: None, lambda d: PET(d)["properties"]["kind"].pop("enum"),
                     ("response-property-enum-removed", "WARN")),
    "default added": (lambda d: None, lambda d: PET(d)["properties"]["age"].update(default=1),
                      ("request-property-default-value-added", "INFO")),
    "else removed": (lambda d: PET(d).update({"if": {}, "else": {}}), lambda d: PET(d).pop("else"),
                     ("response-body-else-removed", "WARN")),
    "discriminator removed": (lambda d: PET(d).update(discriminator={"propertyName": "kind"}),
                              lambda d: PET(d).pop("discriminator"), ("request-body-discriminator-removed", "INFO")),
    "additionalProperties opened": (lambda d: PET(d).update(additionalProperties=False),
                                    lambda d: PET(d).update(additionalProperties=True),
                                    ("response-body-additional-properties-opened", "WARN")),
    "sunset dropped": (lambda d: GET(d).update({"deprecated": True, "x-sunset": "2031-01-01"}),
                       lambda d: GET(d).pop("x-sunset"), ("endpoint-sunset-changed", "INFO")),
}


@pytest.mark.parametrize("name", sorted(REVERSE))
def test_more_changes_in_each_direction(name):
    prepare, mutate, expected = REVERSE[name]
    old = base()
    prepare(old)
    old = json.loads(json.dumps(old).replace(', "enum": null', ""))
    PET(old)["properties"]["kind"] = {k: v for k, v in PET(old)["properties"]["kind"].items() if v is not None}
    assert expected in ids(changed(mutate, old))
