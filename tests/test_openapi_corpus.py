"""Every spec of the shared corpus imports without error, and a mock made from it answers every
operation (in process through ``MockApp.handle``, and once over a real server)."""

import json
import re
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from pymock.app import MockApp
from pymock.model import Request
from pymock.openapi import load_spec
from pymock.openapi_mocks import mock_path
from pymock.testing import MockServer

SPECS = Path(__file__).resolve().parents[2] / "shared" / "conformance" / "specs"
MANIFEST = SPECS / "manifest.json"


def _corpus():
    if not MANIFEST.is_file():
        return []
    files = json.loads(MANIFEST.read_text())["files"]
    return [entry for entry in files if entry["spec_kind"] != "fragment"]


CORPUS = _corpus()
needs_corpus = pytest.mark.skipif(not CORPUS, reason=f"spec corpus not found at {SPECS} "
                                                      "(check out the repo next to shared/)")


def concrete(op) -> Request:
    """A request for ``op``: every path parameter filled in, the query an AWS-style path needs."""
    path, query = mock_path(op.path)
    path = re.sub(r"\{[^{}]*\}", "x1", path)
    pairs = "&".join(f"{k}={v}" for k, v in query.items() if isinstance(v, str))
    pairs += "".join(f"&{k}" for k, v in query.items() if not isinstance(v, str))
    return Request(op.method, path + ("?" + pairs.lstrip("&") if pairs else ""))


@needs_corpus
def test_the_corpus_is_all_here():
    assert len([e for e in CORPUS if "real-world" in e["tags"]]) == 61
    assert sum(e["operations"] for e in CORPUS) == 5544


@needs_corpus
@pytest.mark.parametrize("entry", CORPUS, ids=lambda e: e["file"])
def test_spec_imports_and_every_operation_is_answered(entry):
    path = SPECS / entry["file"]
    app = MockApp({"openapi": str(path), "journal": {"enabled": False}})
    loaded = app.config.sections["contract"].specs[0]
    spec = loaded.spec
    assert spec.version == str(entry["openapi_version"])
    assert len(spec.operations) == entry["operations"]
    unanswered = []
    for op in spec.operations:
        response = app.handle(concrete(op))
        if response.header("Content-Type") == "application/problem+json" and response.status in (404, 405):
            unanswered.append(f"{op.method} {op.path}")
    assert unanswered == []


@needs_corpus
def test_a_real_server_answers_every_operation_of_a_spec():
    spec = load_spec(SPECS / "oai-examples" / "v3.0" / "petstore-expanded.yaml")
    with MockServer({"openapi": str(SPECS / "oai-examples" / "v3.0" / "petstore-expanded.yaml")}) as mock:
        answers = {}
        for op in spec.operations:
            request = concrete(op)
            http = urllib.request.Request(mock.url(request.target), method=request.method)
            try:
                with urllib.request.urlopen(http, timeout=10) as response:
                    answers[op.operation_id] = (response.status, response.read())
            except urllib.error.HTTPError as error:
                answers[op.operation_id] = (error.code, error.read())
    assert answers["findPets"] == (200, b'[{"name": "string", "tag": "string", "id": 0}]')
    assert answers["addPet"][0] == 200 and answers["deletePet"] == (204, b"")
    assert json.loads(answers["find pet by id"][1]) == {"name": "string", "tag": "string", "id": 0}
