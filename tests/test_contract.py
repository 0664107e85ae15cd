"""Contract mode over HTTP: one test per place a request or response can break the spec,
strict and warn behaviour, the violations list, and the load-time example report."""

import json
import urllib.error
import urllib.request

import pytest

from pymock.app import MockApp
from pymock.config import build_config
from pymock.contract_checks import compile_operation, media_matches
from pymock.errors import ConfigError
from pymock.model import Request
from pymock.openapi import load_spec
from pymock.testing import MockServer

SPEC = {
    "openapi": "3.0.3",
    "info": {"title": "Pets", "version": "1.0.0"},
    "components": {
        "securitySchemes": {"key": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                            "bearer": {"type": "http", "scheme": "bearer"},
                            "basic": {"type": "http", "scheme": "basic"}},
        "schemas": {
            "Pet": {"type": "object", "required": ["id", "name"], "properties": {
                "id": {"type": "integer", "readOnly": True, "minimum": 1},
                "name": {"type": "string", "minLength": 1},
                "tag": {"type": "string", "nullable": True}}},
            "Problem": {"type": "object", "properties": {"message": {"type": "string"}}}}},
    "paths": {
        "/pets": {
            "get": {"operationId": "listPets", "parameters": [
                {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 100}},
                {"name": "tags", "in": "query", "schema": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}}},
                {"name": "ids", "in": "query", "style": "pipeDelimited", "explode": False,
                 "schema": {"type": "array", "items": {"type": "integer"}}},
                {"name": "filter", "in": "query", "style": "deepObject", "explode": True,
                 "schema": {"type": "object", "properties": {"age": {"type": "integer"}}}},
                {"name": "X-Trace", "in": "header", "required": True, "schema": {"type": "integer"}},
                {"name": "session", "in": "cookie", "required": True, "schema": {"type": "string", "minLength": 3}}],
                "responses": {"200": {"description": "ok", "headers": {
                    "X-Rate-Limit": {"required": True, "schema": {"type": "integer"}, "example": 10}},
                    "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/Pet"}},
                                                     "example": [{"id": 1, "name": "Rex"}]}}}}},
            "post": {"operationId": "createPet", "security": [{"key": []}, {"bearer": []}],
                     "requestBody": {"required": True, "content": {"application/json": {
                         "schema": {"$ref": "#/components/schemas/Pet"}}}},
                     "responses": {"201": {"description": "made", "content": {"application/json": {
                         "schema": {"$ref": "#/components/schemas/Pet"}, "example": {"id": 2, "name": "Tom"}}}},
                         "400": {"description": "bad", "content": {"application/json": {
                             "schema": {"$ref": "#/components/schemas/Problem"},
                             "example": {"message": "spec says no"}}}}}}},
        "/pets/{petId}": {
            "parameters": [{"name": "petId", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "get": {"operationId": "getPet", "security": [{"basic": []}],
                    "responses": {"200": {"description": "ok", "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/Pet"}, "example": {"id": 3, "name": "Ada"}}}},
                        "404": {"description": "gone"}}}},
        "/forms": {"post": {"operationId": "postForm", "requestBody": {"content": {
            "application/x-www-form-urlencoded": {"schema": {"type": "object", "required": ["n"],
                                                            "properties": {"n": {"type": "integer"}}}}}},
            "responses": {"204": {"description": "done"}}}},
        "/things/{coords}": {"get": {"operationId": "getThing", "parameters": [
            {"name": "coords", "in": "path", "required": True, "style": "matrix", "explode": False,
             "schema": {"type": "array", "items": {"type": "integer"}}}],
            "responses": {"200": {"description": "ok"}}}},
    },
}
GOOD = {"X-Trace": "7", "Cookie": "session=abcd"}


@pytest.fixture(scope="module")
def spec_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("contract") / "pets.json"
    path.write_text(json.dumps(SPEC))
    return str(path)


def call(mock, method, path, body=None, headers=None):
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    request = urllib.request.Request(mock.url(path), data=data, method=method, headers=headers or {})
    if data is not None and "Content-Type" not in (headers or {}):
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def strict_errors(mock, method, path, body=None, headers=None):
    status, headers_out, raw = call(mock, method, path, body, headers)
    assert status == 422, raw
    assert headers_out["Content-Type"] == "application/problem+json"
    return json.loads(raw)["errors"]


@pytest.fixture
def strict(spec_file):
    with MockServer({"openapi": spec_file, "contract": "strict"}) as mock:
        yield mock


# ---------------------------------------------------------------- each request location, strict

def test_a_valid_request_is_served(strict):
    status, headers, body = call(strict, "GET", "/pets?limit=5&tags=a&tags=b&ids=1|2&filter[age]=3", headers=GOOD)
    assert status == 200 and json.loads(body) == [{"id": 1, "name": "Rex"}]
    assert headers["X-Rate-Limit"] == "10" and "X-Pymock-Contract" not in headers


def test_path_parameter(strict):
    errors = strict_errors(strict, "GET", "/pets/abc", headers={"Authorization": "Basic eDp5"})
    assert errors == [{"location": "path", "pointer": "/petId", "keyword": "type",
                       "message": "expected integer, got string 'abc'"}]


def test_query_parameter_schema_and_array_items(strict):
    errors = strict_errors(strict, "GET", "/pets?limit=500&tags=a&tags=zzz", headers=GOOD)
    assert [(e["location"], e["pointer"], e["keyword"]) for e in errors] == [
        ("query", "/limit", "maximum"), ("query", "/tags/1", "enum")]


def test_query_pipe_delimited_and_deep_object_styles(strict):
    errors = strict_errors(strict, "GET", "/pets?ids=1|x&filter[age]=old", headers=GOOD)
    assert [(e["pointer"], e["keyword"]) for e in errors] == [("/ids/1", "type"), ("/filter/age", "type")]


def test_header_parameter_required_and_typed(strict):
    errors = strict_errors(strict, "GET", "/pets", headers={"Cookie": "session=abcd"})
    assert errors == [{"location": "header", "pointer": "/X-Trace", "keyword": "required",
                       "message": "the header parameter 'X-Trace' is required"}]
    errors = strict_errors(strict, "GET", "/pets", headers={"X-Trace": "soon", "Cookie": "session=abcd"})
    assert errors[0]["location"] == "header" and errors[0]["keyword"] == "type"


def test_cookie_parameter(strict):
    errors = strict_errors(strict, "GET", "/pets", headers={"X-Trace": "1", "Cookie": "session=ab"})
    assert [(e["location"], e["pointer"], e["keyword"]) for e in errors] == [("cookie", "/session", "minLength")]
    errors = strict_errors(strict, "GET", "/pets", headers={"X-Trace": "1"})
    assert errors[0]["message"] == "the cookie parameter 'session' is required"


def test_body_schema_with_read_only_property(strict):
    status, _, raw = call(strict, "POST", "/pets", {"id": 5, "name": ""}, {"X-API-Key": "k"})
    # The operation declares 400: strict mode answers with the spec's own 400 response.
    assert status == 400 and json.loads(raw) == {"message": "spec says no"}


def test_body_violations_without_a_declared_400_get_a_problem_422(strict):
    errors = strict_errors(strict, "POST", "/forms", b"n=x", {"Content-Type": "application/x-www-form-urlencoded"})
    assert errors == [{"location": "body", "pointer": "/n", "keyword": "type",
                       "message": "expected integer, got string 'x'"}]
    status, _, _ = call(strict, "POST", "/forms", b"n=4", {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 204


def test_required_body_and_content_type(strict, spec_file):
    with MockServer({"openapi": spec_file, "contract": "strict", "endpoints": [
            {"path": "/pets", "method": "POST", "operation_id": "createPet", "status": 201,
             "response": {"id": 9, "name": "Kit"}}]}) as mock:  # no 400 alternative in this mock
        status, _, raw = call(mock, "POST", "/pets", headers={"X-API-Key": "k"})
        # The spec declares 400, so its example is used even though the mock has no 400 response.
        assert status == 400 and json.loads(raw) == {"message": "spec says no"}
    with MockServer({"openapi": spec_file, "contract": "warn"}) as mock:
        status, headers, _ = call(mock, "POST", "/pets", b"name=x", {"X-API-Key": "k", "Content-Type": "text/plain"})
        assert status == 201
        assert "request header /content-type: Content-Type text/plain is not accepted" in headers["X-Pymock-Contract"]
        status, headers, _ = call(mock, "POST", "/pets", headers={"X-API-Key": "k"})
        assert "request body: the request body is required" in headers["X-Pymock-Contract"]


def test_invalid_json_body(strict, spec_file):
    status, _, raw = call(strict, "POST", "/pets", b"{nope", {"X-API-Key": "k"})
    assert status == 400   # the spec's 400 again
    with MockServer({"openapi": spec_file, "contract": "warn"}) as mock:
        _, headers, _ = call(mock, "POST", "/pets", b"{nope", {"X-API-Key": "k"})
        assert headers["X-Pymock-Contract"].startswith("1 violation: request body: the body is not valid JSON")


def test_security_requirement_presence(strict):
    status, _, raw = call(strict, "POST", "/pets", {"name": "Rex"})
    assert status == 400   # spec's 400 (missing credentials)
    status, _, raw = call(strict, "POST", "/pets", {"name": "Rex"}, {"Authorization": "Bearer t"})
    assert status == 201 and json.loads(raw) == {"id": 2, "name": "Tom"}
    errors = strict_errors(strict, "GET", "/pets/3")
    assert errors == [{"location": "security", "pointer": "", "keyword": "security",
                       "message": "missing credentials: send 'Authorization: Basic ...' (basic)"}]


def test_matrix_style_path_parameter(strict):
    status, _, _ = call(strict, "GET", "/things/;coords=1,2")
    assert status == 200
    errors = strict_errors(strict, "GET", "/things/;coords=1,x")
    assert errors[0]["pointer"] == "/coords/1"


def test_a_request_for_no_operation_of_the_spec(spec_file):
    with MockServer({"openapi": spec_file, "contract": "strict",
                     "endpoints": [{"path": "/extra", "response": "x"}]}) as mock:
        status, _, raw = call(mock, "GET", "/extra")
        assert status == 404 and "not an operation of the spec" in json.loads(raw)["detail"]


# ---------------------------------------------------------------- responses

def test_a_mock_response_off_its_schema_is_a_500_naming_the_mock(spec_file):
    config = {"openapi": spec_file, "contract": "strict", "endpoints": [
        {"id": "bad-pet", "path": "/pets/{petId}", "operation_id": "getPet", "response": {"id": "seven"}}]}
    with MockServer(config) as mock:
        status, headers, raw = call(mock, "GET", "/pets/7", headers={"Authorization": "Basic eDp5"})
        problem = json.loads(raw)
        assert status == 500 and headers["Content-Type"] == "application/problem+json"
        assert problem["mock"] == "bad-pet" and "'bad-pet' answered 200 to GET /pets/{petId}" in problem["detail"]
        assert {(e["location"], e["pointer"], e["keyword"]) for e in problem["errors"]} == {
            ("body", "/id", "type"), ("body", "", "required")}


def test_undeclared_status_and_missing_required_header(spec_file):
    config = {"openapi": spec_file, "contract": "warn", "endpoints": [
        {"path": "/pets/{petId}", "operation_id": "getPet", "status": 418, "response": {"id": 1, "name": "a"}},
        {"path": "/pets", "operation_id": "listPets", "response": []}]}
    with MockServer(config) as mock:
        status, headers, _ = call(mock, "GET", "/pets/1", headers={"Authorization": "Basic eDp5"})
        assert status == 418
        assert "response status: status 418 is not declared for GET /pets/{petId} (declared: 200, 404)" \
            in headers["X-Pymock-Contract"]
        status, headers, _ = call(mock, "GET", "/pets", headers=GOOD)
        assert "response header /X-Rate-Limit: the response header 'X-Rate-Limit' is required" \
            in headers["X-Pymock-Contract"]
        assert status == 200


def test_response_header_value_is_validated(spec_file):
    config = {"openapi": spec_file, "contract": "strict", "endpoints": [
        {"path": "/pets", "operation_id": "listPets", "headers": {"X-Rate-Limit": "lots"}, "response": []}]}
    with MockServer(config) as mock:
        status, _, raw = call(mock, "GET", "/pets", headers=GOOD)
        assert status == 500
        assert json.loads(raw)["errors"][0] == {"location": "header", "pointer": "/X-Rate-Limit", "keyword": "type",
                                                "message": "expected integer, got string 'lots'",
                                                "direction": "response"}


# ---------------------------------------------------------------- warn mode

def test_warn_serves_logs_heads_and_lists_violations(spec_file):
    lines = []
    with MockServer({"openapi": spec_file, "contract": "warn"}, log=lines.append) as mock:
        status, headers, body = call(mock, "GET", "/pets?limit=abc", headers=GOOD)
        assert status == 200 and json.loads(body) == [{"id": 1, "name": "Rex"}]
        assert headers["X-Pymock-Contract"] == "1 violation: request query /limit: expected integer, got string 'abc'"
        status, headers, _ = call(mock, "GET", "/pets", headers=GOOD)
        assert headers["X-Pymock-Contract"] == "ok"
        status, _, raw = call(mock, "GET", "/__admin/contract/violations")
        report = json.loads(raw)
        assert report["mode"] == "warn" and report["count"] == 1
        entry = report["violations"][0]
        assert (entry["method"], entry["path"], entry["operation"], entry["mock"]) == ("GET", "/pets", "GET /pets", "listPets")
        assert entry["violations"] == [{"location": "query", "pointer": "/limit", "keyword": "type",
                                        "message": "expected integer, got string 'abc'", "direction": "request"}]
        journal = mock.requests(path="/pets")[0]
        assert journal["contract"]["violations"][0]["pointer"] == "/limit"
        assert call(mock, "DELETE", "/__admin/contract/violations")[2] == b'{\n  "deleted": 1\n}'
    assert any("contract warn: GET /pets -> 200: request query /limit" in line for line in lines)


def test_load_time_report_of_examples_off_their_schema(spec_file):
    config = build_config({"openapi": spec_file, "contract": "warn", "endpoints": [
        {"id": "odd", "path": "/pets/{petId}", "operation_id": "getPet", "response": {"id": 0, "name": "x"},
         "variants": [{"weight": 1, "response": {"name": 5}}]}]})
    notes = [str(n) for n in config.sections["contract"].notes]
    assert "mock 'odd' status 200: response body /id: value 0 is less than the minimum 1" in notes[0]
    assert any("mock 'odd' variant[0]: response body /name: expected string, got integer 5" in n for n in notes)
    lines = []
    MockApp(config, log=lines.append)
    assert "note(s) about the specs and mock examples" in lines[0]


def test_contract_off_adds_nothing_and_bad_modes_are_config_errors(spec_file):
    app = MockApp({"openapi": spec_file})
    response = app.handle(Request("GET", "/pets?limit=abc"))
    assert response.status == 200 and response.header("X-Pymock-Contract") is None
    assert app.config.sections["contract"].validating is False
    assert "contract" not in build_config({"endpoints": [{"path": "/x"}]}).sections
    with pytest.raises(ConfigError) as caught:
        build_config({"openapi": spec_file, "contract": "loud"})
    assert "contract: unknown contract mode 'loud'" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        build_config({"contract": "strict", "endpoints": []})
    assert "needs a spec" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        build_config({"openapi": spec_file, "contract": {"mode": "warn", "requests": "yes", "color": 1}})
    assert {p.path for p in caught.value.problems} == {"contract.requests", "contract.color"}


def test_responses_only_checking(spec_file):
    app = MockApp({"openapi": spec_file, "contract": {"mode": "strict", "requests": False}})
    assert app.handle(Request("GET", "/pets?limit=abc", headers=[("X-Trace", "1")])).status == 200


# ---------------------------------------------------------------- styles, unit level

@pytest.fixture(scope="module")
def styles():
    params = [
        {"name": "s", "in": "path", "required": True, "style": "label", "explode": True,
         "schema": {"type": "array", "items": {"type": "integer"}}},
        {"name": "o", "in": "query", "style": "form", "explode": False,
         "schema": {"type": "object", "properties": {"x": {"type": "integer"}}}},
        {"name": "flag", "in": "query", "schema": {"type": "boolean"}},
        {"name": "sp", "in": "query", "style": "spaceDelimited", "schema": {"type": "array", "items": {"type": "number"}}},
        {"name": "h", "in": "header", "explode": True, "schema": {"type": "object", "properties": {"a": {"type": "integer"}}}},
        {"name": "j", "in": "query", "content": {"application/json": {"schema": {"type": "object", "required": ["k"]}}}},
        {"name": "c", "in": "cookie", "schema": {"type": "array", "items": {"type": "integer"}}},
        {"name": "m", "in": "query", "schema": {"type": "object", "properties": {"lat": {"type": "number"}}}}]
    spec = load_spec({"openapi": "3.1.0", "info": {"title": "s", "version": "1"}, "paths": {"/p/{s}": {"get": {
        "parameters": params, "responses": {"200": {"description": "ok"}}}}}})
    return compile_operation(spec, spec.operations[0])


@pytest.mark.parametrize("target, headers, params, expected", [
    ("/p/.1.2?o=x,4&flag=true&sp=1.5%202&j=%7B%22k%22%3A1%7D&lat=2.5", [("h", "a=1"), ("Cookie", "c=1,2")], {"s": ".1.2"}, []),
    ("/p/.1.x", [], {"s": ".1.x"}, [("path", "/s/1", "type")]),
    ("/p/.1?o=x,y", [], {"s": ".1"}, [("query", "/o/x", "type")]),
    ("/p/.1?flag=maybe", [], {"s": ".1"}, [("query", "/flag", "type")]),
    ("/p/.1?sp=1%20x", [], {"s": ".1"}, [("query", "/sp/1", "type")]),
    ("/p/.1", [("h", "a=z")], {"s": ".1"}, [("header", "/h/a", "type")]),
    ("/p/.1?j=%7B%7D", [], {"s": ".1"}, [("query", "/j", "required")]),
    ("/p/.1", [("Cookie", "c=1,q")], {"s": ".1"}, [("cookie", "/c/1", "type")]),
    ("/p/.1?lat=north", [], {"s": ".1"}, [("query", "/m/lat", "type")]),
])
def test_parameter_styles(styles, target, headers, params, expected):
    found = styles.check_request(Request("GET", target, headers=headers), params)
    assert [(v.location, v.pointer, v.keyword) for v in found] == expected


def test_media_type_matching():
    assert media_matches("application/json", "application/json; charset=utf-8")
    assert media_matches("application/*", "application/vnd.api+json")
    assert media_matches("*/*", "text/plain")
    assert not media_matches("application/json", "text/json")


def test_multipart_body_is_checked(spec_file):
    spec = load_spec({"openapi": "3.0.0", "info": {"title": "m", "version": "1"}, "paths": {"/up": {"post": {
        "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
            "type": "object", "required": ["count"], "properties": {"count": {"type": "integer"}}}}}},
        "responses": {"200": {"description": "ok"}}}}}})
    checked = compile_operation(spec, spec.operations[0])
    body = (b"--XyZ\r\nContent-Disposition: form-data; name=\"count\"\r\n\r\nmany\r\n--XyZ--\r\n")
    found = checked.check_request(Request("POST", "/up", headers=[("Content-Type", "multipart/form-data; boundary=XyZ")],
                                          body=body), {})
    assert [(v.location, v.pointer, v.keyword) for v in found] == [("body", "/count", "type")]


# ---------------------------------------------------------------- corners of the checks, unit level

CORNERS = {
    "openapi": "3.1.0", "info": {"title": "c", "version": "1"},
    "components": {"securitySchemes": {
        "q": {"type": "apiKey", "in": "query", "name": "key"}, "c": {"type": "apiKey", "in": "cookie", "name": "sid"},
        "tls": {"type": "mutualTLS"}},
        "schemas": {"Mixed": {"allOf": [{"type": "object", "properties": {"n": {"type": "integer"}}}],
                              "oneOf": [{"properties": {"m": {"type": ["null", "number"]}}}]}}},
    "paths": {
        "/c/{lab}/{mat}": {"get": {
            "security": [{"q": []}, {"c": [], "ghost": []}, {"tls": []}],
            "parameters": [
                {"name": "lab", "in": "path", "required": True, "style": "label", "explode": True,
                 "schema": {"type": "object", "properties": {"a": {"type": "integer"}}}},
                {"name": "mat", "in": "path", "required": True, "style": "matrix", "explode": True,
                 "schema": {"type": "array", "items": {"type": "integer"}}},
                {"name": "mixed", "in": "query", "schema": {"$ref": "#/components/schemas/Mixed"}},
                {"name": "raw", "in": "query", "content": {"application/json": {"schema": {"type": "string"}}}},
                {"name": "nothing", "in": "query", "schema": {"type": "null"}},
                {"name": "broken", "in": "query", "schema": {"type": "strin"}}],
            "responses": {"200": {"description": "ok", "content": {
                "application/json": {"schema": {"type": "object", "required": ["a"]}},
                "text/plain": {"schema": {"type": "string", "maxLength": 2}},
                "application/xml": {"schema": {"type": "object"}}}}}}},
        "/m/{obj}": {"post": {"parameters": [
            {"name": "obj", "in": "path", "required": True, "style": "matrix", "explode": True,
             "schema": {"type": "object", "properties": {"x": {"type": "integer"}}}}],
            "requestBody": {"content": {}}, "responses": {"204": {"description": "none"}}}},
        "/free": {"post": {}},
    }}


@pytest.fixture(scope="module")
def corners():
    spec = load_spec(CORNERS)
    return spec, [compile_operation(spec, op) for op in spec.operations]


def test_corner_parameters_styles_and_schemas(corners):
    spec, (get, post, free) = corners
    assert any("schema cannot be compiled" in str(p) for p in spec.problems)   # 'strin' is not a type
    request = Request("GET", "/c/.a=1/;mat=1;mat=2?key=k&mixed=5&raw=%7Bnot-json&nothing=&broken=x")
    assert get.check_request(request, {"lab": ".a=1", "mat": ";mat=1;mat=2"}) == []
    found = get.check_request(Request("GET", "/c?raw=5&nothing=zz&key=k"), {"lab": ".a=b", "mat": ";mat=q"})
    assert [(v.location, v.pointer, v.keyword) for v in found] == [
        ("path", "/lab/a", "type"), ("path", "/mat/0", "type"), ("query", "/raw", "type"), ("query", "/nothing", "type")]
    assert get.check_request(Request("GET", "/c?key=k"), {"lab": ".a=1"})[0].message == \
        "the path parameter 'mat' is required"
    assert [v.pointer for v in post.check_request(Request("POST", "/m"), {"obj": ";x=1;y=2"})] == []
    assert [v.pointer for v in post.check_request(Request("POST", "/m"), {"obj": ";x=z"})] == ["/obj/x"]
    # A body the operation declares no media types for, and one it does not declare at all, pass.
    assert post.check_request(Request("POST", "/m", body=b"x"), {"obj": ";x=1"}) == []
    assert free.check_request(Request("POST", "/free", body=b"x"), {}) == []


def test_corner_security_alternatives(corners):
    _, (get, _, _) = corners
    assert get.check_request(Request("GET", "/c"), {"lab": ".a=1", "mat": ";mat=1"}) == []   # mutualTLS
    checked = compile_operation(get.spec, get.op)
    checked.security = checked.security[:2]
    found = checked.check_request(Request("GET", "/c", headers=[("Cookie", "sid=1")]), {"lab": ".a=1", "mat": ";mat=1"})
    assert found[0].message == ("missing credentials: send the query 'key' (q) or "
                                "the cookie 'sid' (c) + an undefined scheme")


def test_corner_responses(corners):
    from pymock.model import Response
    _, (get, post, free) = corners
    assert free.check_response(Response(299, [], b"anything")) == []     # no responses declared
    assert post.check_response(Response(204, [], b"")) == []
    found = get.check_response(Response(200, [("Content-Type", "image/png")], b"x"))
    assert found[0].message == ("Content-Type image/png is not declared for status 200 "
                                "(declared: application/json, text/plain, application/xml)")
    assert get.check_response(Response(200, [("Content-Type", "application/json")], b"{no"))[0].keyword == "parse"
    assert get.check_response(Response(200, [("Content-Type", "application/xml")], b"<a/>")) == []
    assert get.check_response(Response(200, [("Content-Type", "text/plain")], b"abc"))[0].keyword == "maxLength"
    multipart = compile_operation(*_multipart_spec())
    body_problem = multipart.check_request(Request("POST", "/up", headers=[("Content-Type", "multipart/form-data")],
                                                   body=b"no parts here"), {})
    assert body_problem[0].message == "the multipart body has no parts (is the boundary right?)"


def _multipart_spec():
    spec = load_spec({"openapi": "3.0.0", "info": {"title": "m", "version": "1"}, "paths": {"/up": {"post": {
        "requestBody": {"content": {"multipart/form-data": {"schema": {"type": "object"}}}},
        "responses": {"200": {"description": "ok"}}}}}})
    return spec, spec.operations[0]


def test_hand_written_mocks_are_checked_by_path_and_can_borrow_spec_responses(spec_file):
    config = {"openapi": spec_file, "contract": "warn", "endpoints": [
        {"id": "mine", "path": "/pets/{petId}", "response": {"id": 1, "name": "Mine"},
         "failure_rate": 0.0001, "failure": {"status": 503, "response": {"down": True}}}]}
    app = MockApp(config)
    notes = [str(n) for n in app.config.sections["contract"].notes]
    assert any(n.startswith("mock 'mine' failure: response status: status 503 is not declared") for n in notes)
    answer = app.handle(Request("GET", "/pets/abc", headers=[("Authorization", "Basic eDp5")]))
    assert answer.body == b'{"id": 1, "name": "Mine"}'
    assert answer.header("X-Pymock-Contract") == "1 violation: request path /petId: expected integer, got string 'abc'"
    # No 404 in the mock, but the operation declares one: Prefer gets the spec's.
    answer = app.handle(Request("GET", "/pets/1", headers=[("Prefer", "code=404"), ("Authorization", "Basic eDp5")]))
    assert (answer.status, answer.body, answer.header("Preference-Applied")) == (404, b"", "code=404")
    answer = app.handle(Request("GET", "/pets/1", headers=[("Prefer", "code=410"), ("Authorization", "Basic eDp5")]))
    assert answer.status == 400 and b"no response for Prefer: code=410" in answer.body


def test_many_violations_make_a_bounded_header_and_risky_patterns_are_reported(tmp_path):
    props = {f"field{i}": {"type": "integer"} for i in range(60)}
    spec = {"openapi": "3.0.0", "info": {"title": "r", "version": "1"}, "paths": {"/r": {"post": {
        "requestBody": {"content": {"application/json": {"schema": {"type": "object", "properties": props}}}},
        "responses": {"200": {"description": "ok", "content": {"text/plain": {
            "schema": {"type": "string", "pattern": "^(a+)+$"}, "example": "aaa"}}}}}}}}
    path = tmp_path / "r.json"
    path.write_text(json.dumps(spec))
    app = MockApp({"openapi": str(path), "contract": "warn"})
    notes = [str(n) for n in app.config.sections["contract"].notes]
    assert any("pattern '^(a+)+$' can take exponential time" in n for n in notes)
    body = json.dumps({f"field{i}": "x" for i in range(60)}).encode()
    answer = app.handle(Request("POST", "/r", headers=[("Content-Type", "application/json")], body=body))
    header = answer.header("X-Pymock-Contract")
    assert header.startswith("60 violations: request body /field0") and len(header) == 1000 and header.endswith("...")
    answer = app.handle(Request("POST", "/r", headers=[("Prefer", "dynamic=true")]))
    assert answer.header("Content-Type") == "text/plain" and answer.body.decode().strip("a") == ""
