"""Calibrate ``pymock diff`` against oasdiff's own breaking-change test pairs.

The material (../shared/conformance/oasdiff: SOURCE.md, pairs.json, expected.json and the spec
files) comes from oasdiff's Go tests: each pair is a base and a revision document plus the check
ids oasdiff reports for it. Our check ids are mapped to theirs below (identity where the names
agree). Targets from the issue: >= 90% recall of their ERR findings (matched by one of ours at
level ERR), and no ERR at all on their non-breaking controls.

Run with ``-s`` to see the per-pair table and the figures.
"""

from __future__ import annotations

import collections
import json
from pathlib import Path

import pytest

from pymock import miniyaml
from pymock.specdiff import diff
from pymock.specdiff_checks import CHECKS

OASDIFF = Path(__file__).resolve().parents[2] / "shared" / "conformance" / "oasdiff"

# Ours -> theirs where the names differ. Every other id of ours maps to itself when oasdiff
# has it (reference/default-severity.json), and to nothing otherwise.
OURS_TO_THEIRS = {
    "api-path-removed": "api-path-removed-without-deprecation",
    "api-operation-removed": "api-removed-without-deprecation",
    "api-operation-removed-with-deprecation": "api-removed-with-deprecation",
    "api-operation-removed-before-sunset": "api-removed-before-sunset",
    "api-operation-id-changed": "api-operation-id-removed",
    "response-body-enum-value-removed": "response-mediatype-enum-value-removed",
    "request-parameter-property-max-items-decreased": "request-parameter-max-items-decreased",
    "endpoint-sunset-brought-forward": "api-sunset-date-changed-too-small",
}
# Pairs whose expected list is empty (or a single WARN): no ERR may be reported there.
CONTROLS = ("path-param-renamed-not-breaking", "pattern-removed-not-breaking",
            "pattern-generalized-not-breaking", "pattern-changed")


def _material():
    if not (OASDIFF / "pairs.json").is_file():
        pytest.skip(f"oasdiff calibration material not found at {OASDIFF} "
                    "(clone the repo next to shared/ to run this test)")
    pairs = json.loads((OASDIFF / "pairs.json").read_text(encoding="utf-8"))
    expected = json.loads((OASDIFF / "expected.json").read_text(encoding="utf-8"))
    severities = json.loads((OASDIFF / "reference" / "default-severity.json").read_text(encoding="utf-8"))
    return pairs, expected, severities


def _load(relative: str):
    text = (OASDIFF / relative).read_text(encoding="utf-8")
    return json.loads(text) if relative.endswith(".json") else miniyaml.load(text, source_name=relative)


def theirs(our_id: str, known: dict) -> str | None:
    mapped = OURS_TO_THEIRS.get(our_id, our_id)
    return mapped if mapped in known else None


@pytest.fixture(scope="module")
def results():
    pairs, expected, severities = _material()
    out = {}
    for pair in pairs:
        report = diff(_load(pair["base"]), _load(pair["revision"]), old_name=pair["base"],
                      new_name=pair["revision"])
        out[pair["pair"]] = (pair, report.changes)
    return out, expected, severities


def _recall(results):
    out, expected, severities = results
    rows, hits, total, missed = [], 0, 0, []
    for name, (pair, changes) in out.items():
        assert sorted(expected[name]) == sorted(pair["expected_ids"]), f"{name}: pairs.json and expected.json disagree"
        ours_err = collections.Counter(theirs(c.id, severities) for c in changes if c.level == "ERR")
        ours_any = collections.Counter(theirs(c.id, severities) for c in changes)
        wanted = collections.Counter(i for i in pair["expected_ids"] if pair["severity"][i] == "ERR")
        found = sum(min(n, ours_err[i]) for i, n in wanted.items())
        hits, total = hits + found, total + sum(wanted.values())
        missed += [f"{name}: {i}" for i, n in wanted.items() for _ in range(n - min(n, ours_err[i]))]
        seen_any = sum(min(n, ours_any[i]) for i, n in collections.Counter(pair["expected_ids"]).items())
        rows.append((name, len(pair["expected_ids"]), seen_any, found, sum(wanted.values())))
    return hits, total, missed, rows


def test_material_is_complete(results):
    out, expected, _ = results
    assert len(out) == len(expected) == 58
    assert set(CONTROLS) <= set(out)


def test_recall_of_their_breaking_findings_is_at_least_90_percent(results):
    hits, total, missed, rows = _recall(results)
    recall = hits / total
    print(f"\noasdiff calibration: ERR recall {hits}/{total} = {recall:.1%}")
    for name, n_expected, n_seen, n_err, n_err_expected in rows:
        print(f"  {name:<50} expected {n_expected}  found {n_seen}  ERR {n_err}/{n_err_expected}")
    if missed:
        print("  missed: " + "; ".join(missed))
    assert recall >= 0.90, f"ERR recall {recall:.1%} (missed: {missed})"


def test_extra_breaking_reports_on_pairs_where_oasdiff_pins_every_finding(results):
    """Pairs run with every check and an exact expected list: ERRs of ours that oasdiff does not
    report. Each is printed; they are real changes oasdiff does not inspect (parameters described
    with ``content``, non-JSON media types). Guarded so the number does not grow unnoticed."""
    out, _, severities = results
    extra = []
    for name, (pair, changes) in out.items():
        if not (pair["exact"] and pair["checks"] == "all"):
            continue
        wanted = collections.Counter(pair["expected_ids"])
        for change in changes:
            mapped = theirs(change.id, severities)
            if change.level == "ERR":
                if wanted[mapped] > 0:
                    wanted[mapped] -= 1
                else:
                    extra.append(f"{name}: {change.fingerprint}")
    print(f"\nextra ERR on exact all-check pairs: {len(extra)}")
    for line in extra:
        print("  " + line)
    assert len(extra) <= 4


def test_recall_of_all_their_findings_at_any_level(results):
    """Not a target of the issue, but a regression guard: each of their ids, at any level."""
    out, _, severities = results
    hits = total = 0
    for name, (pair, changes) in out.items():
        ours = collections.Counter(theirs(c.id, severities) for c in changes)
        for their_id, n in collections.Counter(pair["expected_ids"]).items():
            total += n
            hits += min(n, ours[their_id])
    print(f"\noasdiff calibration: any-level recall {hits}/{total} = {hits / total:.1%}")
    assert hits / total >= 0.95


@pytest.mark.parametrize("name", CONTROLS)
def test_no_false_breaking_report_on_their_controls(results, name):
    out, _, _ = results
    pair, changes = out[name]
    errors = [c.fingerprint for c in changes if c.level == "ERR"]
    assert errors == [], f"{name}: false ERR {errors}"
    if not pair["expected_ids"]:
        assert [c for c in changes if c.level == "WARN"] == [], f"{name}: no WARN expected"


def test_pattern_changed_control_is_reported_as_a_warning(results):
    out, _, _ = results
    _, changes = out["pattern-changed"]
    assert [(c.id, c.level) for c in changes if c.level != "INFO"] == [("request-property-pattern-changed", "WARN")]


def test_every_mapping_target_is_an_oasdiff_id_and_every_source_is_ours(results):
    _, _, severities = results
    assert all(ours in CHECKS for ours in OURS_TO_THEIRS), [o for o in OURS_TO_THEIRS if o not in CHECKS]
    assert all(t in severities for t in OURS_TO_THEIRS.values()), [t for t in OURS_TO_THEIRS.values() if t not in severities]
    mapped = sum(1 for ours in CHECKS if theirs(ours, severities))
    print(f"\n{mapped} of our {len(CHECKS)} check ids have an oasdiff counterpart")
    assert mapped >= 200


def test_levels_agree_with_oasdiff_where_we_did_not_decide_otherwise(results):
    """Where our level differs from oasdiff's default it is on purpose; this list is the record."""
    _, _, severities = results
    deliberate = {
        # Adding security to a public operation locks out every client without credentials.
        "api-security-added", "api-global-security-added",
        # Removing a security alternative or requiring a scope breaks the clients that use it.
        "api-security-removed", "api-global-security-removed", "api-security-scope-added",
        "api-global-security-scope-added",
        # A wider range in a response is "possibly breaking": only validating clients notice.
        "response-body-max-increased", "response-property-max-increased", "response-body-min-decreased",
        "response-property-min-decreased", "response-body-max-length-increased",
        "response-property-max-length-increased", "response-body-min-length-decreased",
        "response-property-min-length-decreased", "response-body-min-items-decreased",
        "response-property-min-items-decreased", "response-body-exclusive-max-increased",
        "response-property-exclusive-max-increased", "response-body-exclusive-min-decreased",
        "response-property-exclusive-min-decreased",
        "response-body-if-removed", "response-property-if-removed", "response-body-then-removed",
        "response-property-then-removed", "response-body-else-removed", "response-property-else-removed",
        # More alternatives in a response: clients may receive a shape they do not handle.
        "response-body-any-of-added", "response-property-any-of-added",
        # Dropping an allOf part removes guarantees in a response, widens a request.
        "response-body-all-of-removed", "response-property-all-of-removed",
        "request-body-all-of-removed", "request-property-all-of-removed",
        # A parameter's property changing type rejects what clients send: breaking.
        "request-parameter-property-type-changed",
        # Renaming operationId breaks generated clients at compile time.
        "api-operation-id-changed",
        # oasdiff's counterpart is about a too-early sunset date, which is an error there.
        "endpoint-sunset-brought-forward",
    }
    differ = sorted(ours for ours, (level, _) in CHECKS.items()
                    if theirs(ours, severities) and severities[theirs(ours, severities)] != level)
    assert sorted(set(differ) - deliberate) == []
