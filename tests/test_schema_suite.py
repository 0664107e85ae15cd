"""JSON-Schema-Test-Suite conformance for pymock.schema (draft-04 and 2020-12).

Every test case of the suite is one pytest case, id ``<draft>/<file>::<group>::<test>``:
the required tests (``tests/<draft>/*.json``), ``optional/format/*.json`` (run with format
assertion on) and the other ``optional/*.json`` files. Remote references to
``http://localhost:1234/...`` are served from the suite's ``remotes/`` folder by a retrieve
callback that only reads files; the draft meta-schemas are given through ``registry``.

The suite lives in ``../shared/conformance`` next to the repository and is never copied here;
without it every case skips with the reason.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pymock.errors import SpecError
from pymock.schema import compile_schema

CONFORMANCE = Path(__file__).resolve().parents[2] / "shared" / "conformance"
SUITE = CONFORMANCE / "json-schema-test-suite"
METASCHEMAS = CONFORMANCE / "json-schema-metaschemas"
REMOTE_PREFIX = "http://localhost:1234/"
DRAFTS = {"draft4": "draft4", "draft2020-12": "2020-12"}
# (folder under tests/<draft>, format assertion on?)
PARTS = (("", False), ("optional/format/", True), ("optional/", False))

# Test ids expected to fail, each with the reason. They are xfail(strict=True), so a fix (or a
# regression elsewhere) shows up instead of passing silently. Currently every case passes.
KNOWN_FAILURES: dict[str, str] = {}


def _cases():
    if not (SUITE / "tests").is_dir() or not METASCHEMAS.is_dir():
        reason = f"JSON-Schema-Test-Suite not found at {SUITE} (see shared/conformance/README.md)"
        return [pytest.param(None, None, None, None, marks=pytest.mark.skip(reason=reason),
                             id="suite-missing")]
    cases = []
    for draft in DRAFTS:
        for folder, assert_formats in PARTS:
            for path in sorted((SUITE / "tests" / draft / folder).glob("*.json")):
                groups = json.loads(path.read_text(encoding="utf-8"))
                for g_index, group in enumerate(groups):
                    for t_index, test in enumerate(group["tests"]):
                        test_id = (f"{draft}/{folder}{path.name}::{group['description']}::"
                                   f"{test['description']}")
                        marks = [pytest.mark.xfail(reason=KNOWN_FAILURES[test_id], strict=True)] \
                            if test_id in KNOWN_FAILURES else []
                        key = (draft, f"{folder}{path.name}", g_index, assert_formats)
                        cases.append(pytest.param(key, group["schema"], test["data"],
                                                  test["valid"], marks=marks, id=test_id))
    return cases


def _retrieve(uri: str):
    if not uri.startswith(REMOTE_PREFIX):
        raise SpecError(f"the suite only serves {REMOTE_PREFIX}..., not {uri!r}")
    return json.loads((SUITE / "remotes" / uri[len(REMOTE_PREFIX):]).read_text(encoding="utf-8"))


_REGISTRY: dict = {}
_VALIDATORS: dict = {}


def _registry() -> dict:
    if not _REGISTRY:
        for path in METASCHEMAS.rglob("*.json"):
            doc = json.loads(path.read_text(encoding="utf-8"))
            _REGISTRY[doc.get("$id") or doc["id"]] = doc
    return _REGISTRY


def _validator(key, schema):
    """One compiled validator per test group (the suite has several tests per schema)."""
    if key not in _VALIDATORS:
        draft, _, _, assert_formats = key
        _VALIDATORS[key] = compile_schema(schema, dialect=DRAFTS[draft], retrieve=_retrieve,
                                          registry=_registry(), format_assertion=assert_formats)
    return _VALIDATORS[key]


@pytest.mark.parametrize("key, schema, data, valid", _cases())
def test_suite_case(key, schema, data, valid):
    validator = _validator(key, schema)
    assert validator.is_valid(data) is valid
    errors = validator.validate(data)
    # validate() and is_valid() must agree, and a failure must explain itself.
    assert (errors == []) is valid, [str(e) for e in errors]
    assert all(e.message and e.keyword for e in errors)
