"""Config validation: every problem collected, with its path, the exact wording and a fix."""

import json

import pytest

from pymock.config import build_config, load_config, parse_config_text
from pymock.errors import ConfigError, Problem


def problems_of(raw) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        build_config(raw)
    return [str(p) for p in caught.value.problems]


def test_learning_guide_shorthand_is_valid():
    config = build_config({"endpoints": [{"path": "/api/endpoint", "method": "GET", "response": {"data": "value"},
                                          "status": 200, "latency_ms": 100, "failure_rate": 0.1}]})
    endpoint = config.endpoints[0]
    assert endpoint.response.status == 200
    assert endpoint.response.body.static == b'{"data": "value"}'
    assert endpoint.response.latency.sample_s(None) == 0.1
    assert endpoint.failure_rate == 0.1 and endpoint.failure.status == 500


def test_every_problem_is_reported_at_once_with_paths():
    assert problems_of({
        "endpoint": [],
        "endpoints": [
            {"path": "/a", "staus": 201},
            {"path": "b", "method": "GE T", "status": 999},
            {"response": 1, "body": 2},
            {"path": "/c", "latency_ms": -5, "failure_rate": 2, "fault": "reset"},
            {"path": "/__admin/x"},
            "not an object",
        ],
        "seed": "x",
    }) == [
        "endpoint: unknown key (did you mean 'endpoints'?)",
        "endpoints[0].staus: unknown key (did you mean 'status'?)",
        "endpoints[1].path: must start with '/' (or '^' for a regex) (did you mean '/b'?)",
        "endpoints[1].method: not an HTTP method: 'GE T' (e.g. \"GET\", [\"GET\", \"POST\"] or \"ANY\")",
        "endpoints[1].status: expected an HTTP status 100-599, got 999",
        "endpoints[2].path: required: a path like '/users/{id}'",
        "endpoints[2]: give only one of response, body ('response' and 'body' are the same thing)",
        "endpoints[3].latency_ms: invalid latency -5 (use milliseconds (100), {\"min\": 50, \"max\": 200} or {\"median\": 80, \"sigma\": 0.4})",
        "endpoints[3].fault: unknown fault 'reset' (use one of connection_reset, empty_response, malformed_chunk, random_data_then_close, truncated_body)",
        "endpoints[3].failure_rate: expected a number from 0 to 1, got 2 (0.1 means 10% of requests fail)",
        "endpoints[4].path: '/__admin/x' is reserved for the admin API (choose a path that does not start with /__admin, /__logs, /__reload)",
        "endpoints[5]: expected an object, got a string",
        "seed: expected an integer, got a string",
    ]


def test_config_error_message_is_a_numbered_list():
    with pytest.raises(ConfigError) as caught:
        build_config({"endpoints": [{"path": "/x", "staus": 1}]})
    assert str(caught.value) == "1 problem in the config:\n  1. endpoints[0].staus: unknown key (did you mean 'status'?)"


def test_json_syntax_error_names_file_line_and_column(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{\n  "endpoints": [\n    {"path": "/a",}\n  ]\n}\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.problems == [Problem(
        "", f"{path}:3:19: JSON syntax error: Expecting property name enclosed in double quotes",
        "keys need double quotes, and JSON allows no trailing comma")]


def test_missing_file_and_non_object_and_non_utf8(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config file .*nope.json.*No such file"):
        load_config(tmp_path / "nope.json")
    with pytest.raises(ConfigError, match="the top level must be an object, got a list"):
        parse_config_text("[]", "c.json")
    with pytest.raises(ConfigError, match="c.json is not UTF-8 text"):
        parse_config_text(b"\xff\xfe{", "c.json")
    with pytest.raises(ConfigError, match="a comma is missing"):
        parse_config_text('{"a": 1 "b": 2}', "c.json")


def test_ids_are_generated_unique_and_explicit_duplicates_rejected():
    config = build_config({"endpoints": [{"path": "/users/{id}"}, {"path": "/users/{id}", "method": "POST"},
                                         {"path": "/users/{id}"}]})
    assert [e.id for e in config.endpoints] == ["get-users-id", "post-users-id", "get-users-id-2"]
    assert problems_of({"endpoints": [{"id": "a", "path": "/a"}, {"id": "a", "path": "/b"}]}) == [
        "endpoints[1].id: duplicate id 'a' (also endpoints[0])"]


def test_methods_forms():
    config = build_config({"endpoints": [{"path": "/a", "method": ["get", "post"]}, {"path": "/b", "method": "ANY"},
                                         {"path": "/c", "method": "*"}]})
    assert [e.methods for e in config.endpoints] == [frozenset({"GET", "POST"}), None, None]
    assert problems_of({"endpoints": [{"path": "/a", "method": []}]}) == [
        "endpoints[0].method: the list of methods is empty (use \"ANY\" to accept every method)"]


def test_body_kinds_and_inferred_content_types(tmp_path):
    (tmp_path / "page.html").write_text("<h1>{{ request.path }}</h1>")
    (tmp_path / "logo.png").write_bytes(b"\x89PNG")
    raw = {"endpoints": [
        {"path": "/json", "body": [1, 2]},
        {"path": "/text", "body": "plain"},
        {"path": "/html", "body": "<p>x</p>"},
        {"path": "/xml", "body": "<?xml version='1.0'?><a/>"},
        {"path": "/b64", "body_base64": "aGk="},
        {"path": "/file", "body_file": "page.html"},
        {"path": "/png", "body_file": "logo.png"},
        {"path": "/typed", "body": "x", "content_type": "text/csv"},
        {"path": "/header", "body": "x", "headers": {"content-type": "text/x"}},
        {"path": "/empty", "status": 204},
    ]}
    config = load_config(_write(tmp_path, raw))
    types = {e.path: dict(e.response.headers).get("Content-Type") or dict(e.response.headers).get("content-type")
             for e in config.endpoints}
    assert types == {"/json": "application/json", "/text": "text/plain; charset=utf-8",
                     "/html": "text/html; charset=utf-8", "/xml": "application/xml",
                     "/b64": "application/octet-stream", "/file": "text/html; charset=utf-8",
                     "/png": "image/png", "/typed": "text/csv", "/header": "text/x", "/empty": None}
    assert config.endpoint("get-b64").response.body.static == b"hi"
    assert config.endpoint("get-png").response.body.static == b"\x89PNG"
    assert config.endpoint("get-file").response.body.template is not None
    assert str(tmp_path / "page.html") in config.files


def _write(folder, raw):
    path = folder / "config.json"
    path.write_text(json.dumps(raw))
    return path


def test_body_problems(tmp_path):
    assert problems_of({"endpoints": [
        {"path": "/a", "body_base64": "!!"},
        {"path": "/c", "body_file": 3},
        {"path": "/d", "body": "{{ request.path | nosuchfilter }}"},
        {"path": "/e", "body": "line one\n{% if %}"},
        {"path": "/f", "headers": {"X": "{{ nope( }}"}},
    ]}) == [
        "endpoints[0].body_base64: not valid base64 (use only A-Z a-z 0-9 + / with = padding, no spaces or line breaks)",
        "endpoints[1].body_file: expected a file path, got a number",
        "endpoints[2].body: template error at line 1, column 19: unknown filter 'nosuchfilter'; the filters are listed in docs/templates.md",
        "endpoints[3].body: template error at line 2, column 7: expected an expression but found the end of the tag",
        "endpoints[4].headers.X: template error at line 1, column 8: '(' is never closed",
    ]
    messages = problems_of({"endpoints": [{"path": "/b", "body_file": "missing.txt"}]})
    assert messages[0].startswith("endpoints[0].body_file: cannot read") and "No such file" in messages[0]
    assert messages[0].endswith("(body_files paths are relative to the config file)".replace("body_files", "body_file"))


def test_template_errors_are_config_errors_with_position():
    messages = problems_of({"endpoints": [{"path": "/a", "body": "line one\n{% if %}"}]})
    assert messages[0].startswith("endpoints[0].body: template error at line 2, column")
    nested = problems_of({"endpoints": [{"path": "/a", "response": {"items": [1, {"name": "{{ fake.nmae }}"}]}}]})
    assert nested[0].startswith("endpoints[0].response.items[1].name: template error at line 1, column")


def test_templating_can_be_turned_off():
    config = build_config({"templating": False, "endpoints": [{"path": "/a", "body": "{{ not a template"}]})
    assert config.endpoints[0].response.body.static == b"{{ not a template"
    config = build_config({"endpoints": [{"path": "/a", "templating": False, "body": {"x": "{{ y }}"}}]})
    assert config.endpoints[0].response.body.static == b'{"x": "{{ y }}"}'


def test_latency_forms():
    config = build_config({"endpoints": [
        {"path": "/a", "latency_ms": 0}, {"path": "/b", "latency_ms": {"min": 10, "max": 20}},
        {"path": "/c", "latency_ms": {"median": 50, "sigma": 0.5}}]})
    import random
    rng = random.Random(1)
    assert config.endpoints[0].response.latency is None
    assert 0.010 <= config.endpoints[1].response.latency.sample_s(rng) <= 0.020
    assert config.endpoints[2].response.latency.sample_s(rng) > 0
    assert problems_of({"endpoints": [{"path": "/a", "latency_ms": {"min": 20, "max": 10}}]})[0].startswith(
        "endpoints[0].latency_ms: invalid latency")


def test_variants_sequence_failure_validation():
    assert problems_of({"endpoints": [
        {"path": "/a", "variants": []},
        {"path": "/b", "variants": [{"weight": 0}, "x", {"wieght": 1}]},
        {"path": "/c", "sequence": {"responses": [], "end": "forever"}},
        {"path": "/d", "sequence": ["x"]},
        {"path": "/e", "failure": "boom"},
    ]}) == [
        "endpoints[0].variants: expected a non-empty list of responses with weights",
        "endpoints[1].variants[0].weight: expected a positive number, got 0",
        "endpoints[1].variants[1]: expected an object, got a string",
        "endpoints[1].variants[2].wieght: unknown key (did you mean 'weight'?)",
        "endpoints[2].sequence.end: expected 'loop' or 'stay', got 'forever'",
        "endpoints[2].sequence: expected a non-empty list of responses (or {\"responses\": [...], \"end\": \"stay\"})",
        "endpoints[3].sequence[0]: expected an object, got a string",
        "endpoints[4].failure: expected an object like {\"status\": 503}, got a string",
    ]


def test_match_block_validation():
    assert problems_of({"endpoints": [
        {"path": "/a", "match": {"qeury": {}}},
        {"path": "/b", "match": {"headers": "x"}},
        {"path": "/c", "match": []},
        {"path": "/d", "match": {"body": {"regexp": "x"}}},
    ]}) == [
        "endpoints[0].match.qeury: unknown key (did you mean 'query'?)",
        "endpoints[1].match.headers: expected an object of name: matcher, got a string",
        "endpoints[2].match: expected an object, got a list",
        "endpoints[3].match.body.regexp: unknown matcher operator (did you mean 'regex'?)",
    ]


def test_headers_validation():
    assert problems_of({"endpoints": [
        {"path": "/a", "headers": {"X-A": ["list"], "X-B": "a\r\nb"}},
        {"path": "/b", "headers": "x"},
    ]}) == [
        "endpoints[0].headers.X-A: expected a string, got a list",
        "endpoints[0].headers.X-B: header values cannot contain line breaks",
        "endpoints[1].headers: expected an object of header: value, got a string",
    ]


def test_server_wide_sections():
    config = build_config({"cors": {"origins": ["https://app.example"], "allow_credentials": True},
                           "journal": {"size": 5, "max_body_bytes": 10},
                           "server": {"max_body_bytes": 1024, "idle_timeout_s": 2.5}, "seed": 7})
    assert config.cors.enabled and config.cors.origins == ("https://app.example",)
    assert (config.journal.size, config.journal.max_body_bytes) == (5, 10)
    assert (config.limits.max_body_bytes, config.limits.idle_timeout_s) == (1024, 2.5)
    assert config.seed == 7
    assert problems_of({"cors": {"allow_credentials": True}, "journal": {"size": 0, "sise": 1},
                        "server": {"max_body_bytes": -1, "port": 1}}) == [
        "cors.origins: '*' cannot be combined with allow_credentials (list the origins that may send credentials)",
        "journal.sise: unknown key (did you mean 'size'?)",
        "journal.size: must be at least 1, got 0",
        "server.port: unknown key (allowed here: max_body_bytes, max_header_bytes, max_headers, idle_timeout_s, head_timeout_s, max_connections, max_delay_s)",
        "server.max_body_bytes: expected a positive number, got -1",
    ]
    assert problems_of({"cors": "yes", "journal": [], "server": 1}) == [
        "cors: expected true, false or an object, got a string",
        "journal: expected an object, got a list",
        "server: expected an object, got a number",
    ]


def test_yaml_config(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("endpoints:\n  - path: /hi\n    response: {greeting: hello}\n")
    config = load_config(path)
    assert config.endpoints[0].response.body.static == b'{"greeting": "hello"}'
    bad = tmp_path / "bad.yaml"
    bad.write_text("endpoints:\n  - path: /hi\n   response: x\n")
    with pytest.raises(ConfigError, match=r"bad.yaml:\d+:\d+: YAML error"):
        load_config(bad)


def test_disabled_endpoints_are_not_routed():
    config = build_config({"endpoints": [{"path": "/a", "enabled": False}]})
    assert config.endpoints[0].enabled is False
    assert config.router.routes == []


def test_non_finite_numbers_bad_header_names_and_framing_headers_are_refused():
    assert problems_of({"server": {"idle_timeout_s": float("nan")},
                        "endpoints": [{"path": "/a", "latency_ms": float("inf"),
                                       "variants": [{"weight": float("nan")}],
                                       "headers": {"X-A: b\r\nSet-Cookie: x": "1", "Content-Length": "9"}},
                                      {"id": "a/b", "path": "/b"}]}) == [
        "endpoints[0].headers['X-A: b\\r\\nSet-Cookie: x']: not a valid header name (letters, digits and !#$%&'*+-.^_`|~ only)",
        "endpoints[0].headers.Content-Length: the server sets this header itself (remove it; the body length is computed)",
        "endpoints[0].latency_ms: invalid latency inf (use milliseconds (100), {\"min\": 50, \"max\": 200} or {\"median\": 80, \"sigma\": 0.4})",
        "endpoints[0].variants[0].weight: expected a positive number, got nan",
        "endpoints[1].id: 'a/b' cannot be used in an admin URL (use letters, digits, '-', '_' or '.')",
        "server.idle_timeout_s: expected a positive number, got nan",
    ]
    with pytest.raises(ConfigError, match="NaN is not a JSON number"):
        parse_config_text('{"seed": NaN}', "c.json")
    with pytest.raises(ConfigError, match="JSON allows no trailing comma"):
        parse_config_text('{"endpoints": [1,]}', "c.json")
    with pytest.raises(ConfigError, match="nested too deeply"):
        parse_config_text("[" * 100000, "c.json")
