"""Golden-file tests for ``pymock.docs``: Markdown and HTML are byte-identical to the files in
tests/data/docs/. After an intended change to the output, regenerate them with
``PYMOCK_UPDATE_GOLDENS=1 python -m pytest tests/test_docs_gen.py`` and review the diff."""

from __future__ import annotations

import copy
import doctest
import json
import os
import re
from pathlib import Path

import pytest

from pymock import docs, miniyaml
from pymock.docs import render_html, render_markdown
from pymock.errors import SpecError

DATA = Path(__file__).resolve().parent / "data" / "docs"
UPDATE = os.environ.get("PYMOCK_UPDATE_GOLDENS") == "1"


def _spec(name: str) -> dict:
    return miniyaml.load((DATA / name).read_text(encoding="utf-8"), source_name=name)


def _mocks() -> list:
    return json.loads((DATA / "mocks.json").read_text(encoding="utf-8"))["endpoints"]


CASES = {
    "pets.md": lambda: render_markdown(_spec("pets.yaml"), mocks=_mocks()),
    "pets.html": lambda: render_html(_spec("pets.yaml"), mocks=_mocks()),
    "legacy.md": lambda: render_markdown(_spec("legacy.yaml"), base_url="http://127.0.0.1:9000/"),
    "legacy.html": lambda: render_html(_spec("legacy.yaml"), base_url="http://127.0.0.1:9000/"),
}


@pytest.mark.parametrize("golden", sorted(CASES))
def test_output_matches_the_golden_file(golden):
    produced = CASES[golden]()
    path = DATA / golden
    if UPDATE:
        path.write_bytes(produced.encode("utf-8"))
    assert path.is_file(), f"missing golden {path}: run with PYMOCK_UPDATE_GOLDENS=1 to create it"
    expected = path.read_bytes().decode("utf-8")
    assert produced == expected, f"{golden} differs from its golden file (PYMOCK_UPDATE_GOLDENS=1 regenerates it)"


@pytest.mark.parametrize("golden", sorted(CASES))
def test_output_is_deterministic(golden):
    assert CASES[golden]().encode() == CASES[golden]().encode()


def test_html_is_self_contained_and_needs_no_javascript():
    page = render_html(_spec("pets.yaml"), mocks=_mocks())
    assert page.startswith("<!DOCTYPE html>") and "<style>" in page
    assert not re.search(r"<(script|link|img|iframe|object|embed)\b|<[a-z]+[^>]*\ssrc=|@import|url\(", page, re.I)
    assert [m for m in re.findall(r'href="([^"]+)"', page) if not m.startswith("#")] == ["https://example.com/guide"]


def test_html_escapes_every_piece_of_spec_text():
    spec = _spec("pets.yaml")
    evil = '<img src=x onerror="alert(1)">'
    spec["info"]["title"] = evil
    spec["paths"]["/pets"]["get"]["summary"] = evil
    spec["paths"]["/pets"]["get"]["parameters"][0]["name"] = evil
    spec["paths"]["/pets"]["get"]["description"] = f"**bold** {evil} [x](javascript:alert(1)) `{evil}`"
    spec["components"]["schemas"]["Problem"]["properties"][evil] = {"type": "string", "description": evil,
                                                                   "default": evil, "pattern": evil}
    spec["tags"][0]["name"] = evil
    page = render_html(spec, mocks=[{"id": evil, "path": "/pets", "fault": evil}])
    assert "<img" not in page and "onerror=\"" not in page and "javascript:" not in page
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page
    assert "<strong>bold</strong>" in page       # the safe Markdown subset still renders
    markdown = render_markdown(spec)
    # outside code (where Markdown shows text literally) no tag survives unescaped
    outside_code = re.sub(r"```.*?```|`[^`\n]*`", "", markdown, flags=re.S)
    assert "<img" not in outside_code.replace("\\<img", "") and "javascript:" not in markdown


def test_operations_are_grouped_by_tag_in_declared_order():
    text = render_markdown(_spec("pets.yaml"))
    headings = re.findall(r"^## (.+)$", text, re.M)
    assert headings == ["Servers", "Contents", "pets", "owners", "default", "Schemas"]
    operations = re.findall(r"^### ((?:GET|POST|DELETE) .+)$", text, re.M)
    assert operations == ["GET /pets", "POST /pets", "GET /pets/{petId}", "DELETE /pets/{petId}",
                          "GET /owners/{ownerId}", "GET /health"]


def test_error_scenarios_of_the_mocks_are_documented():
    text = render_markdown(_spec("pets.yaml"), mocks=_mocks())
    for line in ("Fails 10% of requests with status 503", "Weighted variants: 3× status 201, 1× status 409",
                 "Sequence of answers: 200 → 200 → 404 (then repeats the last)",
                 "Answers with the connection fault `connection_reset`", "answers 200 after 20–80 ms",
                 "answers 200 (disabled)"):
        assert line in text, line
    assert "Mock behaviour" not in render_markdown(_spec("pets.yaml"))


def test_mock_declared_alternatives_and_proxy_modes_are_listed():
    mocks = [{"id": "x", "path": "/pets", "responses": [{"status": 404}, {"status": 500}],
              "mode": "proxy", "upstream": "http://up", "latency_ms": {"median": 40, "sigma": 0.3}}]
    text = render_markdown(_spec("pets.yaml"), mocks=mocks)
    assert "Other declared answers: 404, 500 (pick one with `Prefer: code=…`)" in text
    assert "Mode proxy: upstream http://up" in text and "after about 40 ms" in text


def test_curl_fills_path_parameters_required_query_and_headers_and_the_body():
    text = render_markdown(_spec("pets.yaml"), base_url="http://localhost:1234")
    assert ("curl -i -X GET 'http://localhost:1234/pets?kind=cat' -H 'X-Api-Key: <apiKey>' "
            "-H 'X-Trace: 3fa85f64-5717-4562-b3fc-2c963f66afa6'") in text
    assert "curl -i -X GET http://localhost:1234/pets/7 -H 'X-Api-Key: <apiKey>'" in text
    assert "-H 'Content-Type: application/json' -d '{\"name\": \"Rex\", \"kind\": \"dog\", \"owner\": {\"name\": \"Ann\"}}'" in text
    assert "curl -i -X GET http://localhost:1234/health\n" in text


def test_schema_tables_nest_objects_and_link_named_schemas_without_looping():
    text = render_markdown(_spec("pets.yaml"))
    assert "| `owner.address.city` | string | no |   |" in text
    assert "| `pets` | array of [Pet](#schema-pet) | no |   |" in text
    assert "| `best_friend` | [Owner](#schema-owner) | no |   |" in text        # a cycle: linked once
    assert "| `status` | one of: string, [Problem](#schema-problem) | no |   |" in text
    assert "| `born` | string (date) \\| null | no |   |" in text


def test_read_only_fields_are_left_out_of_request_examples_and_kept_in_responses():
    spec = _spec("pets.yaml")
    spec["paths"]["/pets"]["post"]["requestBody"]["content"]["application/json"] = {
        "schema": {"$ref": "#/components/schemas/Pet"}}
    text = render_markdown(spec)
    request_part = text.split("### POST /pets")[1].split("**Responses**")[0]
    response_part = text.split("### POST /pets")[1].split("**Responses**")[1].split("#### 409")[0]
    assert '"id"' not in request_part and '"id": 0' in response_part


def test_big_schemas_are_cut_with_a_count():
    spec = {"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {}, "components": {"schemas": {
        "Wide": {"type": "object", "properties": {f"f{i}": {"type": "string"} for i in range(230)}}}}}
    text = render_markdown(spec)
    assert "| `f199` |" in text and "| `f200` |" not in text and "| … | 30 more fields |" in text


def test_odd_shapes_render_without_error():
    spec = {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {"/x": {"put": {
        "parameters": [{"name": "v", "in": "query", "required": True, "content": {"application/json": {
            "schema": {"type": "object", "properties": {"a": {"type": ["string", "null"]}}}}}}],
        "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Missing"}}}},
        "responses": {"2XX": {"description": "fine"}, "default": {"description": "other",
                      "content": {"application/json": {"schema": {"anyOf": [{"type": "integer"}, {"type": "boolean"}]},
                                                       "examples": {"a": {"value": 1}, "b": {"summary": "none"}}}}}}}}}}
    text = render_markdown(spec)
    assert "#### 2XX" in text and "#### default (any other status)" in text
    assert "| `(body)` | any of: integer, boolean |" in text
    assert "curl -i -X PUT 'http://127.0.0.1:8080/x?v={\"a\": \"string\"}'" in text


def test_a_bad_spec_raises_a_spec_error():
    with pytest.raises(SpecError, match="no 'openapi' or 'swagger' key"):
        render_html({"paths": {}}, name="bad.yaml")


def test_input_is_not_modified():
    spec = _spec("pets.yaml")
    before = copy.deepcopy(spec)
    render_html(spec, mocks=_mocks())
    assert spec == before


@pytest.mark.parametrize("module", [docs], ids=lambda m: m.__name__)
def test_module_doctests(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


# ---------------------------------------------------------------- pymock docs (in-process CLI)

def test_cli_docs_writes_markdown_and_html(tmp_path, capsys):
    from pymock.cli import main
    out_md, out_html = tmp_path / "api.md", tmp_path / "api.html"
    assert main(["docs", str(DATA / "pets.yaml"), "--format", "md", "-o", str(out_md)]) == 0
    assert out_md.read_text(encoding="utf-8") == render_markdown(_spec("pets.yaml"))
    assert main(["docs", str(DATA / "pets.yaml"), "--format", "html", "-o", str(out_html),
                 "--base-url", "http://mock:1"]) == 0
    assert out_html.read_text(encoding="utf-8") == render_html(_spec("pets.yaml"), base_url="http://mock:1")
    assert "wrote" in capsys.readouterr().err
    assert main(["docs", str(DATA / "legacy.yaml"), "--format", "md"]) == 0
    assert capsys.readouterr().out == render_markdown(_spec("legacy.yaml"))


def test_cli_docs_of_a_config_documents_its_mocks(tmp_path, capsys):
    from pymock.cli import main
    assert main(["docs", str(DATA / "mocks.json"), "--format", "md"]) == 0
    text = capsys.readouterr().out
    assert "### GET /pets" in text and "Weighted variants: 3× status 201, 1× status 409" in text


def test_cli_docs_of_a_bad_spec_exits_2_naming_the_file(tmp_path, capsys):
    from pymock.cli import main
    bad = tmp_path / "bad.yaml"
    bad.write_text("swagger: '2.0'\npaths:\n  /a:\n    get:\n      responses: 7\n", encoding="utf-8")
    assert main(["docs", str(bad), "--format", "md"]) == 2
    assert f"pymock: {bad}: responses of GET /a must be an object (at /paths/~1a/get/responses)" in capsys.readouterr().err
