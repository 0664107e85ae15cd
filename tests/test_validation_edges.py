"""Edge cases of config and matcher validation (the validation code is held to full coverage)."""

import json

import pytest

from pymock import matchers
from pymock.config import build_config, load_config
from pymock.errors import ConfigError
from pymock.matching import Route, Router, compile_path
from pymock.matchers import Mismatch, compile_matcher
from pymock.model import Request


def problems_of(raw):
    with pytest.raises(ConfigError) as caught:
        build_config(raw)
    return [str(p) for p in caught.value.problems]


def test_generated_ids_skip_ids_already_taken():
    config = build_config({"endpoints": [{"path": "/x"}, {"id": "get-x-2", "path": "/y"}, {"path": "/x"}]})
    assert [e.id for e in config.endpoints] == ["get-x", "get-x-2", "get-x-3"]


def test_wrong_types_of_simple_endpoint_fields():
    assert problems_of({"endpoints": [
        {"id": 5, "path": "/a"},
        {"path": "/b", "name": ["x"]},
        {"path": "/c", "content_type": 7},
        {"path": "/d", "priority": "high"},
        {"path": "/e", "enabled": "yes"},
        {"path": "/f", "tags": [1]},
    ]}) == [
        "endpoints[0].id: expected a non-empty string, got a number",
        "endpoints[1].name: expected a string, got a list",
        "endpoints[2].content_type: expected a string, got a number",
        "endpoints[3].priority: expected an integer, got a string",
        "endpoints[4].enabled: expected true or false, got 'yes'",
        "endpoints[5].tags: expected a list of strings, got [1]",
    ]


def test_a_single_tag_string_is_a_list_of_one():
    assert build_config({"endpoints": [{"path": "/a", "tags": "smoke"}]}).endpoints[0].tags == ("smoke",)


def test_a_text_file_that_is_not_utf8_is_sent_as_bytes(tmp_path):
    (tmp_path / "latin1.txt").write_bytes("café".encode("latin-1"))
    (tmp_path / "config.json").write_text(json.dumps({"endpoints": [{"path": "/t", "body_file": "latin1.txt"}]}))
    body = load_config(tmp_path / "config.json").endpoints[0].response.body
    assert (body.kind, body.static) == ("bytes", "café".encode("latin-1"))


def test_load_config_takes_a_dict_and_build_config_refuses_a_non_object():
    assert load_config({"endpoints": [{"path": "/a"}]}).endpoints[0].path == "/a"
    with pytest.raises(ConfigError, match="expected an object, got a list"):
        build_config([])


def test_mismatch_values_are_made_json_safe_and_readable():
    assert Mismatch("body", b"bytes", object).as_dict()["expected"] == "bytes"
    assert Mismatch("body", "x", object).as_dict()["actual"] == str(object)
    assert str(Mismatch("body", b"raw", "x")) == "at body: expected 'raw', got 'x'"
    assert matchers._as_text(None) is None and matchers._as_text(b"hi") == "hi"


def test_json_equality_needs_a_value():
    assert compile_matcher({"equals": 3}, "q").check(None) is False


def test_cookie_conditions_explain_a_miss():
    route = Route("r", "r", frozenset(["GET"]), compile_path("/c"),
                  cookies=(("session", compile_matcher("abc", "c")),))
    miss = Router([route]).find(Request("GET", "/c", headers=[("Cookie", "session=zzz")]))
    assert [m.field for m in miss.near_misses[0].mismatches] == ["cookie.session"]


def test_near_miss_pool_is_full_from_the_first_segment_alone():
    routes = [Route(f"r{i}", f"r{i}", frozenset(["GET"]), compile_path(f"/same/{i}"), order=i) for i in range(300)]
    pool = Router(routes)._near_miss_pool("/same/x")
    assert len(pool) == 200 and all(r.path.source.startswith("/same/") for r in pool)
