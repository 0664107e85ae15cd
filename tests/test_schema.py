"""Unit tests for pymock.schema and pymock.formats: OpenAPI dialect rules, error messages and
pointers, broken schemas, references, formats and ECMA-262 regex translation.

The JSON-Schema-Test-Suite conformance runs are in test_schema_suite.py.
"""

from __future__ import annotations

import json
import re
import threading

import pytest

from pymock.errors import SpecError
from pymock.formats import KNOWN_FORMATS, ecma_regex, format_checker
from pymock.schema import (DIALECTS, SchemaCompiler, ValidationError, compile_schema,
                           file_retriever, _join)


def errors(schema, instance, direction=None, **options):
    """(instance_pointer, schema_pointer, keyword, message) of every error."""
    validator = compile_schema(schema, **options)
    found = validator.validate(instance, direction)
    assert validator.is_valid(instance, direction) is (found == [])
    return [(e.instance_pointer, e.schema_pointer, e.keyword, e.message) for e in found]


def messages(schema, instance, **options):
    return [e[3] for e in errors(schema, instance, **options)]


def spec_error(schema, **options) -> SpecError:
    with pytest.raises(SpecError) as info:
        compile_schema(schema, **options)
    return info.value

# ---------------------------------------------------------------------------- messages


@pytest.mark.parametrize("schema, instance, message", [
    ({"type": "integer"}, "abc", "expected integer, got string 'abc'"),
    ({"type": ["integer", "null"]}, True, "expected integer or null, got boolean true"),
    ({"type": "string"}, 1.5, "expected string, got number 1.5"),
    ({"type": "string"}, 7, "expected string, got integer 7"),
    ({"type": "string"}, None, "expected string, got null"),
    ({"type": "string"}, [], "expected string, got array"),
    ({"type": "string"}, {}, "expected string, got object"),
    ({"maximum": 5}, 7, "value 7 is greater than the maximum 5"),
    ({"minimum": 2}, 1, "value 1 is less than the minimum 2"),
    ({"exclusiveMaximum": 5}, 5, "value 5 is not less than the exclusive maximum 5"),
    ({"exclusiveMinimum": 2}, 2, "value 2 is not greater than the exclusive minimum 2"),
    ({"multipleOf": 2}, 7, "value 7 is not a multiple of 2"),
    ({"maxLength": 3}, "abcd", "'abcd' is longer than the maximum length 3"),
    ({"minLength": 2}, "a", "'a' is shorter than the minimum length 2"),
    ({"pattern": "^[0-9]+$"}, "12a", "'12a' does not match the pattern '^[0-9]+$'"),
    ({"format": "date"}, "2024-13-01", "'2024-13-01' is not a valid date"),
    ({"enum": ["a", "b"]}, "c", "value 'c' is not one of 'a', 'b'"),
    ({"enum": list(range(12))}, 99, "value 99 is not one of 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, ..."),
    ({"const": {"a": 1}}, {"a": 2}, 'value {"a": 2} is not the constant {"a": 1}'),
    ({"maxItems": 1}, [1, 2], "array has 2 items, more than the maximum 1"),
    ({"minItems": 2}, [1], "array has 1 item, fewer than the minimum 2"),
    ({"maxProperties": 1}, {"a": 1, "b": 2}, "object has 2 properties, more than the maximum 1"),
    ({"minProperties": 2}, {"a": 1}, "object has 1 property, fewer than the minimum 2"),
    ({"uniqueItems": True}, [1, 2, 1.0], "array items are not unique: items 0 and 2 are equal"),
    ({"not": {"type": "string"}}, "x", "value must not match the schema in 'not'"),
    (False, 1, "no value is allowed here (the schema is false)"),
    ({"contains": {"type": "string"}}, [1], "array does not contain an item that matches "
                                            "'contains'"),
    ({"contains": {"type": "string"}, "minContains": 2}, ["a", 1],
     "array contains 1 matching item, fewer than minContains 2"),
    ({"contains": {"type": "string"}, "maxContains": 1}, ["a", "b"],
     "array contains 2 matching items, more than maxContains 1"),
    ({"dependentRequired": {"a": ["b"]}}, {"a": 1}, "'b' is required when 'a' is present"),
    ({"propertyNames": {"maxLength": 2}}, {"abc": 1},
     "property name 'abc' is invalid: 'abc' is longer than the maximum length 2"),
    ({"anyOf": [{"type": "string"}, {"required": ["a"], "minProperties": 2}]}, {},
     "value does not match any of the schemas in anyOf (closest #0: expected string, got "
     "object)"),
    ({"oneOf": [{"type": "integer"}, {"minimum": 0}]}, 3,
     "value matches 2 schemas in oneOf (#0 and #1), expected exactly one"),
    ({"oneOf": [{"properties": {"a": {"type": "string"}}}, {"type": "string"}]}, {"a": 1},
     "value does not match any of the schemas in oneOf (closest #0: /a: expected string, "
     "got integer 1)"),
])
def test_messages(schema, instance, message):
    assert messages(schema, instance) == [message]


def test_long_values_are_shortened_in_messages():
    [message] = messages({"maxLength": 3}, "x" * 100)
    assert message == "'" + "x" * 56 + "... is longer than the maximum length 3"


def test_required_and_pointers():
    schema = {"properties": {"a/b": {"properties": {"c~d": {"type": "integer"}}}},
              "required": ["name", "a/b"]}
    assert errors(schema, {"a/b": {"c~d": "x"}}) == [
        ("/a~1b/c~0d", "/properties/a~1b/properties/c~0d/type", "type",
         "expected integer, got string 'x'"),
        ("", "/required", "required", "'name' is a required property"),
    ]


def test_false_subschemas_name_the_keyword():
    assert errors({"properties": {"a": True}, "additionalProperties": False}, {"a": 1, "b": 2}) \
        == [("/b", "/additionalProperties", "additionalProperties",
             "property 'b' is not allowed (additionalProperties is false)")]
    assert errors({"prefixItems": [True], "items": False}, [1, 2]) == [
        ("/1", "/items", "items", "item 1 is not allowed (items is false)")]
    assert errors({"items": [True], "additionalItems": False}, [1, 2], dialect="draft4") == [
        ("/1", "/additionalItems", "additionalItems",
         "item 1 is not allowed (additionalItems is false)")]
    assert messages({"unevaluatedProperties": False}, {"x": 1}) == [
        "unevaluated property 'x' is not allowed (unevaluatedProperties is false)"]
    assert messages({"prefixItems": [True], "unevaluatedItems": False}, [1, 2]) == [
        "item 1 is not allowed (unevaluatedItems is false)".replace("item", "unevaluated item",
                                                                    1)]


def test_subschema_errors_are_reported_in_place():
    schema = {"additionalProperties": {"type": "integer"}, "patternProperties": {"^x": {
        "minimum": 3}}, "unevaluatedProperties": {"type": "string"}}
    assert errors(schema, {"x1": 1, "y": "s"}) == [  # in the schema's keyword order
        ("/y", "/additionalProperties/type", "type", "expected integer, got string 's'"),
        ("/x1", "/patternProperties/^x/minimum", "minimum", "value 1 is less than the minimum 3"),
    ]
    assert errors({"items": {"type": "string"}, "unevaluatedItems": False}, ["a", 2]) == [
        ("/1", "/items/type", "type", "expected string, got integer 2")]
    schema = {"if": {"minimum": 10}, "then": {"multipleOf": 5}, "else": {"const": 0},
              "dependentSchemas": {"a": {"required": ["b"]}}}
    assert messages(schema, 12) == ["value 12 is not a multiple of 5"]
    assert messages(schema, 3) == ["value 3 is not the constant 0"]
    assert messages({"if": {"minimum": 10}, "then": {"multipleOf": 5}}, 3) == []
    assert messages(schema, {"a": 1}) == ["'b' is a required property"]
    assert messages({"dependencies": {"a": ["b"], "c": {"required": ["d"]}}}, {"a": 1, "c": 2},
                    dialect="draft4") == ["'b' is required when 'a' is present",
                                          "'d' is a required property"]


def test_validation_error_is_small_and_frozen():
    error = compile_schema({"type": "string"}).validate(1)[0]
    assert str(error) == "(root): expected string, got integer 1"
    assert error.as_dict() == {"path": "", "message": "expected string, got integer 1",
                               "keyword": "type", "schema": "/type"}
    with pytest.raises(AttributeError):
        error.message = "changed"
    assert str(ValidationError("/a", "/b", "type", "m")) == "/a: m"

# ---------------------------------------------------------------------------- numbers, equality


def test_booleans_are_not_numbers_and_floats_by_dialect():
    assert not compile_schema({"type": "integer"}).is_valid(True)
    assert not compile_schema({"type": "number"}).is_valid(False)
    assert compile_schema({"maximum": 0}).is_valid(True)  # numeric keywords ignore booleans
    assert compile_schema({"type": "integer"}).is_valid(1.0)
    assert not compile_schema({"type": "integer"}, dialect="draft4").is_valid(1.0)
    assert not compile_schema({"type": "integer"}, dialect="openapi-3.0").is_valid(1.0)
    assert compile_schema({"type": ["integer", "number"]}).is_valid(1.5)


def test_equality_is_json_equality():
    assert compile_schema({"enum": [1]}).is_valid(1.0)
    assert not compile_schema({"enum": [1]}).is_valid(True)
    assert not compile_schema({"enum": [False]}).is_valid(0)
    assert compile_schema({"const": {"a": [1, {"b": None}]}}).is_valid({"a": [1.0, {"b": None}]})
    assert not compile_schema({"const": [1, 2]}).is_valid([2, 1])
    assert compile_schema({"uniqueItems": True}).is_valid([1, True, "1", [1], {"a": 1}])
    assert not compile_schema({"uniqueItems": True}).is_valid([{"a": [1]}, {"a": [1.0]}])
    assert compile_schema({"uniqueItems": False}).is_valid([1, 1])


def test_multiple_of_uses_decimal_arithmetic():
    assert compile_schema({"multipleOf": 0.0001}).is_valid(0.0075)
    assert not compile_schema({"multipleOf": 0.0001}).is_valid(0.00751)
    assert compile_schema({"multipleOf": 0.5}).is_valid(1e308)
    assert not compile_schema({"multipleOf": 0.5}).is_valid(float("inf"))

# ---------------------------------------------------------------------------- OpenAPI 3.0 dialect


OAS = {"openapi": "3.0.3", "paths": {}, "components": {"schemas": {
    "Pet": {"type": "object", "required": ["petType", "name", "id"],
            "discriminator": {"propertyName": "petType"},
            "properties": {"petType": {"type": "string"}, "name": {"type": "string"},
                           "id": {"$ref": "#/components/schemas/Id"},
                           "secret": {"type": "string", "writeOnly": True},
                           "friend": {"$ref": "#/components/schemas/Pet"}}},
    "Id": {"type": "integer", "format": "int64", "readOnly": True},
    "Cat": {"allOf": [{"$ref": "#/components/schemas/Pet"},
                      {"properties": {"hunts": {"type": "boolean"}}, "required": ["hunts"]}]},
    "Dog": {"allOf": [{"$ref": "#/components/schemas/Pet"},
                      {"properties": {"packSize": {"type": "integer", "minimum": 0}}}]},
    "Animal": {"oneOf": [{"$ref": "#/components/schemas/Cat"},
                         {"$ref": "#/components/schemas/Dog"}],
               "discriminator": {"propertyName": "petType",
                                 "mapping": {"kitty": "#/components/schemas/Cat",
                                             "doggo": "Dog"}}},
    "AnyAnimal": {"anyOf": [{"$ref": "#/components/schemas/Cat"},
                            {"$ref": "#/components/schemas/Dog"}],
                  "discriminator": {"propertyName": "petType"}},
    "MaybeName": {"type": "string", "nullable": True, "maxLength": 3},
    "RefSibling": {"$ref": "#/components/schemas/Id", "nullable": True},
    "Small": {"type": "number", "maximum": 5, "exclusiveMaximum": True, "minimum": 1,
              "exclusiveMinimum": True, "example": "not checked"},
}}, "x-wrappers": {"MaybePet": {"nullable": True,
                                "allOf": [{"$ref": "#/components/schemas/Pet"}]}}}


def oas(name, instance, direction=None):
    pointer = f"/x-wrappers/{name}" if name == "MaybePet" else f"/components/schemas/{name}"
    return errors(OAS, instance, direction, dialect="openapi-3.0", pointer=pointer)


def test_nullable_allows_null_only_where_set():
    assert oas("MaybeName", None) == []
    assert oas("MaybeName", "abcd") == [("", "/components/schemas/MaybeName/maxLength",
                                         "maxLength", "'abcd' is longer than the maximum length 3")]
    assert oas("MaybePet", None) == []
    assert oas("MaybePet", {"petType": "Cat", "name": "Tom", "id": 1})[0][3] == \
        "'hunts' is a required property"  # an inline wrapper still dispatches
    assert oas("Id", None)[0][3] == "expected integer, got null"
    # In OpenAPI 3.0 "$ref" hides its siblings, nullable included.
    assert oas("RefSibling", None)[0][3] == "expected integer, got null"
    assert messages({"type": "string", "nullable": True}, None) == [
        "expected string, got null"]  # 2020-12 has no nullable


def test_boolean_exclusive_bounds_and_example_ignored():
    assert oas("Small", 3) == []
    assert oas("Small", 5) == [("", "/components/schemas/Small/maximum", "maximum",
                                "value 5 is not less than the exclusive maximum 5")]
    assert oas("Small", 1)[0][3] == "value 1 is not greater than the exclusive minimum 1"
    assert messages({"maximum": 5, "exclusiveMaximum": False}, 5, dialect="draft4") == []


def test_read_only_and_write_only_follow_the_direction():
    pet = {"petType": "Pet", "name": "Rex"}
    assert oas("Pet", pet, "request") == []  # read-only "id" is not required in a request
    assert oas("Pet", pet) == [("", "/components/schemas/Pet/required", "required",
                                "'id' is a required property")]
    assert oas("Pet", dict(pet, id=1, secret="s"), "request") == [
        ("/id", "/components/schemas/Pet/properties/id/readOnly", "readOnly",
         "'id' is read-only and must not be sent in a request")]
    assert oas("Pet", dict(pet, id=1, secret="s"), "response") == [
        ("/secret", "/components/schemas/Pet/properties/secret/writeOnly", "writeOnly",
         "'secret' is write-only and must not be sent in a response")]
    assert oas("Pet", dict(pet, id=1, secret="s")) == []
    with pytest.raises(ValueError, match="direction must be None, 'request' or 'response'"):
        compile_schema({}).validate(1, direction="sideways")


def test_read_only_applies_in_2020_12_too():
    schema = {"properties": {"id": {"readOnly": True}, "any": True}, "required": ["id"]}
    assert messages(schema, {}, direction=None) == ["'id' is a required property"]
    assert compile_schema(schema).validate({}, direction="request") == []
    assert compile_schema(schema).is_valid({"id": 1}, direction="response")


def test_discriminator_inheritance_picks_the_subtype():
    assert oas("Pet", {"petType": "Cat", "name": "Tom", "id": 1, "hunts": True}) == []
    assert oas("Pet", {"petType": "Cat", "name": "Tom", "id": 1}) == [
        ("", "/components/schemas/Cat/allOf/1/required", "required",
         "'hunts' is a required property")]
    assert oas("Pet", {"petType": "Pet", "name": "Rex", "id": 1}) == []  # the base type
    assert oas("Pet", {"petType": "Lizard", "name": "L", "id": 1}) == [
        ("", "/components/schemas/Pet/discriminator", "discriminator",
         "discriminator value 'Lizard' does not match any schema (expected one of 'Cat', "
         "'Dog')")]
    assert [e[3] for e in oas("Pet", {"name": "Rex", "id": 1})] == [
        "the discriminator property 'petType' is missing"]
    # A nested Pet dispatches on its own value; nothing is reported twice.
    nested = {"petType": "Cat", "name": "Tom", "id": 1, "hunts": True,
              "friend": {"petType": "Dog", "name": "Rex", "id": 2, "packSize": -1}}
    assert oas("Pet", nested) == [
        ("/friend/packSize", "/components/schemas/Dog/allOf/1/properties/packSize/minimum",
         "minimum", "value -1 is less than the minimum 0")]
    # Validating against a subtype directly does not bounce back through the base.
    assert oas("Cat", {"petType": "Cat", "name": "Tom", "id": "x", "hunts": True}) == [
        ("/id", "/components/schemas/Id/type", "type", "expected integer, got string 'x'")]
    assert oas("Pet", "not an object")[0][3] == "expected object, got string 'not an object'"


def test_discriminator_with_one_of_reports_the_chosen_branch_only():
    cat = {"petType": "kitty", "name": "Tom", "id": 1, "hunts": True}
    assert oas("Animal", cat) == []
    assert oas("Animal", dict(cat, hunts="yes")) == [
        ("/hunts", "/components/schemas/Cat/allOf/1/properties/hunts/type", "type",
         "expected boolean, got string 'yes'")]
    assert oas("Animal", {"petType": "doggo", "name": "Rex", "id": 1, "packSize": 2}) == []
    assert oas("Animal", {"petType": "Dog", "name": "Rex", "id": 1}) == []  # implicit name
    assert oas("Animal", {"petType": 3, "name": "Rex", "id": 1})[0][3] == \
        "discriminator value 3 does not match any schema (expected one of 'Cat', 'Dog', " \
        "'doggo', 'kitty')"
    assert oas("Animal", 5) == [("", "/components/schemas/Animal/oneOf", "oneOf",
                                 "value does not match any of the schemas in oneOf (closest #0: "
                                 "expected object, got integer 5)")]
    assert oas("AnyAnimal", {"petType": "Dog", "name": "Rex", "id": 1}) == []
    assert [e[3] for e in oas("AnyAnimal", [])] == [
        "value does not match any of the schemas in anyOf (closest #0: expected object, got "
        "array)"]


def test_discriminator_annotations_reach_unevaluated_properties():
    schema = {"$defs": {"A": {"properties": {"kind": True, "a": True}},
                        "B": {"properties": {"kind": True, "b": True}}},
              "oneOf": [{"$ref": "#/$defs/A"}, {"$ref": "#/$defs/B"}],
              "discriminator": {"propertyName": "kind",
                                "mapping": {"a": "#/$defs/A", "b": "#/$defs/B"}},
              "unevaluatedProperties": False}
    assert messages(schema, {"kind": "a", "a": 1}) == []
    assert messages(schema, {"kind": "a", "b": 1}) == [
        "unevaluated property 'b' is not allowed (unevaluatedProperties is false)"]


def test_discriminator_cycle_through_one_of_and_all_of_works():
    doc = {"components": {"schemas": {
        "Pet": {"oneOf": [{"$ref": "#/components/schemas/Cat"}],
                "discriminator": {"propertyName": "t"}, "required": ["t"]},
        "Cat": {"allOf": [{"$ref": "#/components/schemas/Pet"},
                          {"properties": {"lives": {"maximum": 9}}}]}}}}
    validator = compile_schema(doc, dialect="openapi-3.0", pointer="/components/schemas/Pet")
    assert validator.is_valid({"t": "Cat", "lives": 9})
    assert [e.message for e in validator.validate({"t": "Cat", "lives": 10})] == [
        "value 10 is greater than the maximum 9"]


def test_swagger_discriminator_and_x_nullable():
    doc = {"swagger": "2.0", "definitions": {
        "Pet": {"type": "object", "discriminator": "kind", "required": ["kind"],
                "properties": {"kind": {"type": "string"}, "name": {"type": "string",
                                                                      "x-nullable": True}}},
        "Dog": {"allOf": [{"$ref": "#/definitions/Pet"},
                          {"properties": {"bark": {"type": "boolean"}}}]}}}
    validator = compile_schema(doc, dialect="swagger-2.0", pointer="/definitions/Pet")
    assert validator.is_valid({"kind": "Dog", "name": None, "bark": True})
    assert [e.message for e in validator.validate({"kind": "Dog", "bark": 1})] == [
        "expected boolean, got integer 1"]
    strict = compile_schema(doc, dialect="swagger-2.0", pointer="/definitions/Pet",
                            x_nullable=False)
    assert [e.message for e in strict.validate({"kind": "Pet", "name": None})] == [
        "expected string, got null"]


def test_discriminator_is_ignored_by_draft4():
    schema = {"discriminator": {"propertyName": "t"}, "oneOf": [{"type": "object"}]}
    assert compile_schema(schema, dialect="draft4").is_valid({"t": "anything"})


@pytest.mark.parametrize("disc, dialect, message", [
    ({"mapping": {}}, "openapi-3.0", "'discriminator' must be an object with a string "
                                     "'propertyName'"),
    ({"propertyName": "t", "mapping": {"a": 1}}, "openapi-3.0",
     "'discriminator' must be an object whose 'mapping' maps values to schema references"),
    ({"propertyName": "t"}, "swagger-2.0", "'discriminator' must be a property name"),
])
def test_broken_discriminators(disc, dialect, message):
    error = spec_error({"discriminator": disc, "type": "object"}, dialect=dialect)
    assert error.message.startswith(message) and error.pointer == "/discriminator"

# ---------------------------------------------------------------------------- broken schemas


@pytest.mark.parametrize("schema, message, pointer", [
    ({"type": "strin"}, "'type' must be one of array, boolean, integer, null, number, object, "
                        "string (or a list of them), got 'strin'", "/type"),
    ({"properties": {"a": {"type": ["string", 3]}}}, "'type' must be one of",
     "/properties/a/type"),
    ({"minLength": -1}, "'minLength' must be a non-negative integer, got -1", "/minLength"),
    ({"maxItems": 1.5}, "'maxItems' must be a non-negative integer, got 1.5", "/maxItems"),
    ({"multipleOf": 0}, "'multipleOf' must be a number greater than 0, got 0", "/multipleOf"),
    ({"maximum": "5"}, "'maximum' must be a number, got '5'", "/maximum"),
    ({"required": "name"}, "'required' must be an array of property names", "/required"),
    ({"enum": "a"}, "'enum' must be an array, got 'a'", "/enum"),
    ({"allOf": []}, "'allOf' must be a non-empty array of schemas, got []", "/allOf"),
    ({"properties": []}, "'properties' must be an object of schemas", "/properties"),
    ({"prefixItems": {}}, "'prefixItems' must be an array of schemas", "/prefixItems"),
    ({"uniqueItems": "yes"}, "'uniqueItems' must be a boolean", "/uniqueItems"),
    ({"dependentRequired": {"a": "b"}}, "'dependentRequired' entry 'a' must be an array of "
                                        "property names", "/dependentRequired/a"),
    ({"dependentRequired": []}, "'dependentRequired' must be an object", "/dependentRequired"),
    ({"dependentSchemas": 1}, "'dependentSchemas' must be an object of schemas",
     "/dependentSchemas"),
    ({"$ref": 5}, "'$ref' must be a URI reference string, got 5", "/$ref"),
    ({"pattern": "(unclosed"}, "invalid regular expression '(unclosed'", "/pattern"),
    ({"pattern": 5}, "'pattern' must be a regular expression string, got 5", "/pattern"),
    ({"patternProperties": {"[": {}}}, "invalid regular expression '['",
     "/patternProperties/["),
    ({"items": {"not": 3}}, "a schema must be an object or a boolean, got integer 3",
     "/items/not"),
    ({"$ref": "#/$defs/missing"}, "reference target /$defs/missing does not exist", "/$ref"),
    ({"$ref": "#nowhere"}, "$ref '#nowhere': no anchor named 'nowhere' in the schema", "/$ref"),
    ({"$ref": "other.json"}, "cannot resolve 'other.json': it is not in the registry and no "
                             "retrieve callback was given", "/$ref"),
    ({"$ref": "#"}, "the schema applies itself to the same value without end: # -> #", ""),
    ({"$defs": {"a": {"allOf": [{"$ref": "#/$defs/b"}]}, "b": {"not": {"$ref": "#/$defs/a"}}},
      "properties": {"x": {"$ref": "#/$defs/a"}}},
     "the schema applies itself to the same value without end: /$defs/a -> /$defs/a/allOf/0 "
     "-> /$defs/b -> /$defs/b/not -> /$defs/a", "/$defs/a"),
])
def test_broken_schemas_raise_spec_error_with_pointer(schema, message, pointer):
    error = spec_error(schema)
    assert error.message.startswith(message), error.message
    assert error.pointer == pointer


def test_dialect_level_spec_errors():
    assert "unknown schema dialect 'draft7'" in str(spec_error({}, dialect="draft7"))
    assert spec_error({"dependencies": []}, dialect="draft4").pointer == "/dependencies"
    assert "no '$id'/'id'" in str(spec_error({}, registry=[{"type": "string"}]))
    assert "does not exist" in str(spec_error({}, pointer="/nope"))
    meta = {"$vocabulary": {"https://example.com/vocab/magic": True}}
    error = spec_error({"$schema": "https://example.com/meta"}, registry={
        "https://example.com/meta": meta})
    assert "requires vocabulary 'https://example.com/vocab/magic'" in error.message


def test_retrieve_failures_become_spec_errors():
    def broken(uri):
        raise OSError("disk on fire")
    error = spec_error({"$ref": "x.json"}, retrieve=broken)
    assert error.message == "cannot retrieve 'x.json': disk on fire" and error.pointer == "/$ref"
    assert spec_error({"$ref": "x.json"}, retrieve=lambda uri: None).message.startswith(
        "cannot resolve 'x.json'")

# ---------------------------------------------------------------------------- references


def test_recursive_schema_and_deep_instances():
    tree = {"type": "object", "properties": {"value": {"type": "integer"},
                                             "children": {"type": "array",
                                                          "items": {"$ref": "#"}}}}
    validator = compile_schema(tree)
    good = {"value": 1, "children": [{"value": 2, "children": [{"value": 3}]}]}
    assert validator.is_valid(good)
    bad = {"value": 1, "children": [{"value": 2, "children": [{"value": "3"}]}]}
    assert [(e.instance_pointer, e.schema_pointer) for e in validator.validate(bad)] == [
        ("/children/0/children/0/value", "/properties/value/type")]
    deep: list = []
    for _ in range(5000):
        deep = [deep]
    nested = compile_schema({"items": {"$ref": "#"}})
    assert nested.validate(deep) == [ValidationError(
        "", "", "depth", "the value is nested too deeply to validate")]
    assert nested.is_valid(deep) is False


def test_remote_documents_registry_and_labels():
    other = {"$defs": {"name": {"type": "string", "maxLength": 2}}}
    validator = compile_schema({"$ref": "https://example.com/other.json#/$defs/name"},
                               registry={"https://example.com/other.json": other})
    assert [(e.schema_pointer, e.message) for e in validator.validate("abc")] == [
        ("https://example.com/other.json#/$defs/name/maxLength",
         "'abc' is longer than the maximum length 2")]
    listed = compile_schema({"$ref": "urn:example:x"},
                            registry=[{"$id": "urn:example:x", "type": "integer"}])
    assert listed.is_valid(3) and not listed.is_valid("3")


def test_dynamic_ref_outside_the_dynamic_scope_acts_like_ref():
    schema = {"$id": "https://example.com/root", "$dynamicRef": "other#x",
              "$defs": {"other": {"$id": "other", "$dynamicAnchor": "x", "type": "integer"}}}
    validator = compile_schema(schema)
    assert validator.is_valid(1) and not validator.is_valid("1")


def test_schema_keyword_switches_dialect_per_document():
    old = {"id": "https://example.com/old.json", "$schema": "http://json-schema.org/draft-04/"
           "schema#", "type": "integer", "maximum": 3, "exclusiveMaximum": True}
    validator = compile_schema({"$ref": "https://example.com/old.json"}, registry=[old])
    assert validator.is_valid(2) and not validator.is_valid(3) and not validator.is_valid(2.0)
    # An unknown meta-schema that cannot be fetched leaves the dialect as it was.
    assert compile_schema({"$schema": "https://example.com/unknown", "type": "integer"},
                          retrieve=lambda uri: None).is_valid(2.0)


def test_file_retriever_reads_local_files_only(tmp_path):
    (tmp_path / "defs").mkdir()
    (tmp_path / "defs" / "common.json").write_text(json.dumps(
        {"Pet": {"type": "object", "properties": {"tag": {"$ref": "tag.json"}}}}))
    (tmp_path / "defs" / "tag.json").write_text(json.dumps({"type": "string"}))
    retrieve = file_retriever(tmp_path)
    validator = compile_schema({"$ref": "defs/common.json#/Pet"}, retrieve=retrieve)
    assert validator.is_valid({"tag": "a"})
    assert [e.schema_pointer for e in validator.validate({"tag": 1})] == ["defs/tag.json#/type"]
    by_file_uri = compile_schema({"$ref": (tmp_path / "defs" / "tag.json").as_uri()},
                                 retrieve=retrieve)
    assert by_file_uri.is_valid("x")
    with pytest.raises(SpecError, match="only local files under"):
        retrieve("https://example.com/x.json")
    refused = spec_error({"$ref": "https://example.com/x.json"}, retrieve=retrieve)
    assert refused.pointer == "/$ref" and "only local files" in refused.message
    with pytest.raises(SpecError, match="outside"):
        retrieve("file:///etc/passwd")
    with pytest.raises(SpecError, match="cannot load"):
        retrieve("missing.json")
    yaml_like = file_retriever(tmp_path, loader=lambda text: {"const": text.strip()})
    assert yaml_like("defs/tag.json") == {"const": '{"type": "string"}'}


def test_base_uri_and_pointer_into_a_document():
    doc = {"definitions": {"a": {"$ref": "b.json"}}, "components": {"schemas": {
        "Named": {"$anchor": "named", "type": "boolean"}}}}
    seen = []

    def retrieve(uri):
        seen.append(uri)
        return {"type": "integer"}
    validator = compile_schema(doc, pointer="/definitions/a", retrieve=retrieve,
                               base_uri="https://example.com/api/root.json")
    assert seen == ["https://example.com/api/b.json"] and validator.is_valid(1)
    anchored = compile_schema(dict(doc, x={"$ref": "#named"}), pointer="/x")
    assert anchored.is_valid(True) and not anchored.is_valid(1)


def test_schema_compiler_shares_work_and_survives_broken_pointers():
    doc = {"components": {"schemas": {
        "Id": {"type": "integer"}, "Shared": {"type": "string"},
        "Pet": {"properties": {"id": {"$ref": "#/components/schemas/Id"}}},
        "Bad": {"allOf": [{"$ref": "#/components/schemas/Shared"}, {"type": "nope"}]}}},
        "paths": {"/p": {"get": {"responses": {"200": {"schema": {
            "$id": "https://example.com/inline", "$anchor": "top", "type": "array",
            "items": {"$ref": "#top"}}}}}}}}
    compiler = SchemaCompiler(doc)
    pet = compiler.validator("/components/schemas/Pet")
    assert compiler.validator("/components/schemas/Pet") is pet
    with pytest.raises(SpecError) as info:
        compiler.validator("/components/schemas/Bad")
    assert info.value.pointer == "/components/schemas/Bad/allOf/1/type"
    # Nothing half-built is kept: the other schemas still compile and validate.
    assert compiler.validator("/components/schemas/Shared").validate(1)[0].schema_pointer == \
        "/components/schemas/Shared/type"
    assert not pet.is_valid({"id": "x"}) and pet.is_valid({"id": 1}, direction="request")
    inline = compiler.validator("/paths/~1p/get/responses/200/schema")
    assert inline.is_valid([[[]]]) and not inline.is_valid([1])
    assert inline.pointer == "/paths/~1p/get/responses/200/schema"


@pytest.mark.parametrize("ref, expected", [  # RFC 3986 section 5.4
    ("g", "http://a/b/c/g"), ("./g", "http://a/b/c/g"), ("g/", "http://a/b/c/g/"),
    ("/g", "http://a/g"), ("//g", "http://g"), ("?y", "http://a/b/c/d;p?y"),
    ("#s", "http://a/b/c/d;p?q#s"), ("", "http://a/b/c/d;p?q"), (".", "http://a/b/c/"),
    ("..", "http://a/b/"), ("../g", "http://a/b/g"), ("../../../g", "http://a/g"),
    ("/./g", "http://a/g"), ("g/..", "http://a/b/c/"), ("g;x=1/../y", "http://a/b/c/y"),
])
def test_uri_resolution(ref, expected):
    assert _join("http://a/b/c/d;p?q", ref) == expected


def test_uri_resolution_edge_cases():
    assert _join("urn:uuid:1234", "#/$defs/x") == "urn:uuid:1234#/$defs/x"
    assert _join("", "defs/a.json") == "defs/a.json"
    assert _join("defs/a.json", "../b.json") == "b.json"
    assert _join("http://host", "x") == "http://host/x"


def test_directions_compile_once_under_concurrency():
    validator = compile_schema({"properties": {"id": {"readOnly": True}}})
    results = []
    threads = [threading.Thread(target=lambda: results.append(
        validator.is_valid({"id": 1}, direction="request"))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [False] * 8


def test_dialect_table_and_aliases():
    assert set(DIALECTS) >= {"2020-12", "draft4", "openapi-3.0", "swagger-2.0"}
    assert compile_schema({}, dialect="openapi-3.1").dialect == "2020-12"
    assert compile_schema({}, dialect="draft-04").dialect == "draft4"

# ---------------------------------------------------------------------------- formats


@pytest.mark.parametrize("name, good, bad", [
    ("date-time", "2024-02-29T23:59:60Z", "2024-02-29 10:00:00Z"),
    ("date", "2024-02-29", "2023-02-29"),
    ("time", "08:30:06.5+01:00", "08:30:06"),
    ("duration", "P1Y2M3DT4H5M6S", "P1Y2D"),
    ("email", "joe.bloggs@[IPv6:::1]", "joe..bloggs@example.com"),
    ("idn-email", "실례@실례.테스트", "@example.com"),
    ("hostname", "xn--9n2bp8q.xn--9t4b11yi5a", "-bad.example"),
    ("idn-hostname", "실례.테스트", "ex..ample"),
    ("ipv4", "192.168.0.1", "192.168.0.01"),
    ("ipv6", "::ffff:192.168.0.1", "fe80::1%eth0"),
    ("uri", "https://example.com/a?b#c", "/relative"),
    ("uri-reference", "../a#b", "\\\\host"),
    ("iri", "http://ƒøø.ßår/", "http://[::1"),
    ("iri-reference", "//ƒøø/π", "#a\\b"),
    ("uri-template", "/users/{id}{?q*}", "/users/{id"),
    ("uuid", "2EB8AA08-AA98-11EA-B4AA-73B441D16380", "2eb8aa08-aa98-11ea-b4aa-73b441d1638"),
    ("regex", "^(?<year>[0-9]{4})$", "(?P<py>x)"),
    ("json-pointer", "/a~1b/0", "a/b"),
    ("relative-json-pointer", "1/a", "/a"),
    ("byte", "aGVsbG8=", "not base64!"),
    ("int32", 2 ** 31 - 1, 2 ** 31),
    ("int64", -(2 ** 63), 2 ** 63),
])
def test_formats(name, good, bad):
    check = format_checker(name)
    assert check(good) and not check(bad)
    assert messages({"format": name}, bad) == [f"{_show(bad)} is not a valid {name}"]
    assert compile_schema({"format": name}, format_assertion=False).is_valid(bad)


def _show(value):
    return repr(value) if isinstance(value, str) else str(value)


def test_format_details():
    int32 = format_checker("int32")
    assert int32(3.0) and not int32(3.5) and int32("any string")
    assert format_checker("date")(42) is True  # other types pass
    assert format_checker("password") is None and format_checker("no-such-format") is None
    assert {"int32", "binary", "password", "uuid"} <= KNOWN_FORMATS
    assert compile_schema({"format": "no-such-format"}).is_valid("x")
    assert compile_schema({"format": "int32", "type": "integer"}, dialect="openapi-3.0") \
        .validate(2 ** 40)[0].message == "1099511627776 is not a valid int32"
    assert not format_checker("time")("24:00:00Z") and format_checker("time")("23:59:60Z")
    assert not format_checker("email")('"unclosed@example.com')
    assert format_checker("email")("x@[127.0.0.1]")
    assert not format_checker("email")("a" * 65 + "@example.com")
    assert not format_checker("hostname")("xn--a-ecp.example")  # not canonical punycode


@pytest.mark.parametrize("value, valid", [
    ("l·l", True), ("a·l", False),                          # MIDDLE DOT between l's
    ("α͵β", True), ("α͵a", False),                           # GREEK KERAIA before Greek
    ("א׳", True), ("a׳", False),                            # HEBREW GERESH after Hebrew
    ("ア・", True), ("a・", False),                           # KATAKANA MIDDLE DOT
    ("क्\u200dष", True), ("a\u200db", False),                # ZWJ after a virama
    ("بي\u200cب", True), ("a\u200cb", False),                # ZWNJ between joining letters
    ("ب٠٠", True), ("ب٠۰", False),                           # Arabic-Indic digit mixing
    ("\u0301a", False), ("ñb--c", False), ("ñB", False),    # mark first, --, upper case
    ("n\u0303", False),                                     # not in NFC
    ("\u3031", False),                                      # RFC 5892 DISALLOWED exception
    ("שלום.com", True), ("שלום.1com", False), ("aש", False),  # RFC 5893 Bidi rule
])
def test_idn_hostname_rules(value, valid):
    assert format_checker("idn-hostname")(value) is valid

# ---------------------------------------------------------------------------- ECMA-262 regexes


@pytest.mark.parametrize("pattern, text, found", [
    (r"^\d+$", "123", True), (r"^\d+$", "١٢٣", False), (r"^\D$", "a", True),
    (r"^\w+$", "abc_1", True), (r"^\w$", "é", False), (r"^\W$", "é", True),
    (r"^\s$", "\ufeff", True), (r"^\s$", "\x1c", False), (r"^\S$", "a", True),
    (r"^[\d\w\s]+$", "a1 ", True), (r"^[\d]$", "٣", False), (r"^[\D]$", "a", True),
    (r"^a$", "a\n", False), (r"^.$", "\n", False), (r"^.$", "\u2028", False),
    (r"(?<y>a)\k<y>", "aa", True), (r"^\u{1F600}$", "\U0001F600", True),
    (r"^\ud83d\ude00$", "\U0001F600", True), (r"^\u00e9$", "é", True),
    (r"^\cJ$", "\n", True), (r"^\p{L}+$", "héllo", True), (r"^\p{Letter}$", "1", False),
    (r"^\P{L}$", "1", True), (r"^[\p{Lu}]$", "A", True), (r"^\p{gc=Nd}$", "٣", True),
    (r"^\p{LC}$", "a", True), (r"^[^]$", "\n", True), (r"[]", "a", False), (r"^\0$", "\0", True),
    (r"(?i:a)b", "Ab", True), (r"(?=a)a", "a", True), (r"(?<!b)a", "a", True),
    (r"^[a[]$", "[", True), (r"^[a&&b]$", "&", True), (r"^\/$", "/", True),
    (r"^\x41$", "A", True),
])
def test_ecma_regex_translation(pattern, text, found):
    assert (ecma_regex(pattern).search(text) is not None) is found


@pytest.mark.parametrize("pattern, problem", [
    ("\\", "lone backslash"), (r"\a", "not a valid escape"), (r"\c1", "not a valid escape"), (r"\p", "must be followed by"),
    (r"\p{Script=Greek}", "unsupported Unicode property"), (r"\p{Xx}", "unknown Unicode"),
    (r"[\P{L}]", "not supported"), (r"\u12", "4 hex digits"), (r"\k", "<name>"),
    ("(?P<n>x)", "not ECMA-262 group syntax"), ("(?#c)", "not ECMA-262 group syntax"),
])
def test_ecma_regex_rejects(pattern, problem):
    with pytest.raises(re.error, match=re.escape(problem)):
        ecma_regex(pattern)


def test_regex_format_accepts_variable_width_lookbehind():
    assert format_checker("regex")("(?<=a+)b")  # valid ECMA-262 even though Python cannot run it
    assert "look-behind" in str(spec_error({"pattern": "(?<=a+)b"}))
