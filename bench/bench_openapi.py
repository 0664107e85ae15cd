"""Benchmark the OpenAPI side: load + validate the largest spec of the corpus, and the per-request
contract check of a Petstore body, each against PyYAML + ``jsonschema`` in this environment.

Run from the repository root: ``python3 bench/bench_openapi.py [N]``. Writes
``bench/results/openapi.json``. PyYAML and ``jsonschema`` are baselines only (importable here,
never dependencies of pymock); without them the ratios are left out.

1. **Load + validate**: read the largest document of ``../shared/conformance/specs`` (by size)
   and validate it against the official OpenAPI schema for its version
   (``../shared/conformance/oas-schemas``). pymock: ``miniyaml`` + ``pymock.schema``;
   baseline: ``yaml.load`` (the C loader when PyYAML has it, as most installs do) +
   ``jsonschema``. Also timed: ``pymock.openapi.load_spec`` (bundling and the operation model).
2. **Per request**: ``POST /pets`` of the Petstore 3.0 example with a JSON ``Pet`` body, through
   the full contract request check (parameters, content type, JSON parse, schema), against
   ``json.loads`` + ``jsonschema`` on the same schema and instance. Targets: under 0.2 ms, and
   at least 3x faster than jsonschema.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pymock import miniyaml  # noqa: E402
from pymock.contract_checks import compile_operation  # noqa: E402
from pymock.model import Request  # noqa: E402
from pymock.openapi import load_spec  # noqa: E402
from pymock.schema import compile_schema  # noqa: E402

CONFORMANCE = ROOT.parent / "shared" / "conformance"
OAS_SCHEMAS = {"2": "v2.0/schema.json", "3.0": "v3.0/schema.json", "3.1": "v3.1/schema.json"}
PET = {"id": 10, "name": "doggie", "tag": "dog"}


def _best(fn, repeat: int = 3) -> tuple[float, object]:
    """Best wall time of ``repeat`` runs, in seconds, and the last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def _per_call_us(fn, n: int) -> float:
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, time.perf_counter() - start)
    return best / n * 1e6


def _largest_spec() -> tuple[Path, dict]:
    manifest = json.loads((CONFORMANCE / "specs" / "manifest.json").read_text())
    entry = max((e for e in manifest["files"] if e["spec_kind"] != "fragment"), key=lambda e: e["size_bytes"])
    return CONFORMANCE / "specs" / entry["file"], entry


def _oas_schema(version: str) -> tuple[dict, str]:
    key = "2" if version.startswith("2") else version[:3]
    schema = json.loads((CONFORMANCE / "oas-schemas" / OAS_SCHEMAS[key]).read_text())
    return schema, "2020-12" if key == "3.1" else "draft4"


def _metaschemas() -> dict:
    out = {}
    for path in (CONFORMANCE / "json-schema-metaschemas").rglob("*.json"):
        document = json.loads(path.read_text())
        if isinstance(document, dict) and "$id" in document:
            out[document["$id"].rstrip("#")] = document
    return out


def load_and_validate() -> dict:
    path, entry = _largest_spec()
    text = path.read_text(encoding="utf-8")
    schema, dialect = _oas_schema(str(entry["openapi_version"]))
    parse = (lambda: json.loads(text)) if path.suffix == ".json" else (lambda: miniyaml.load(text, str(path)))
    load_s, document = _best(parse)
    validator = compile_schema(schema, dialect=dialect, registry=_metaschemas(), format_assertion=False)
    validate_s, errors = _best(lambda: validator.validate(document))
    spec_s, spec = _best(lambda: load_spec(path), repeat=1)
    ours = {"load_s": round(load_s, 3), "validate_s": round(validate_s, 4), "total_s": round(load_s + validate_s, 3),
            "errors": len(errors), "load_spec_s": round(spec_s, 3), "operations": len(spec.operations)}
    result = {"file": entry["file"], "bytes": entry["size_bytes"], "version": entry["openapi_version"],
              "oas_schema": OAS_SCHEMAS["2" if dialect == "swagger" else str(entry["openapi_version"])[:3]],
              "pymock": ours, "baseline": _baseline_load(text, path, schema, dialect)}
    if result["baseline"]:
        result["ratio_total"] = round(result["baseline"]["total_s"] / ours["total_s"], 2)
        result["ratio_load"] = round(result["baseline"]["load_s"] / ours["load_s"], 2)
        result["ratio_validate"] = round(result["baseline"]["validate_s"] / ours["validate_s"], 2)
    return result


def _baseline_load(text: str, path: Path, schema: dict, dialect: str) -> dict | None:
    try:
        import jsonschema
        import yaml
        from importlib.metadata import version
    except ImportError:
        return None
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    parse = (lambda: json.loads(text)) if path.suffix == ".json" else (lambda: yaml.load(text, Loader=loader))
    load_s, document = _best(parse)
    cls = jsonschema.Draft4Validator if dialect == "draft4" else jsonschema.Draft202012Validator
    validator = cls(schema)
    validate_s, errors = _best(lambda: list(validator.iter_errors(document)))
    return {"pyyaml": version("PyYAML"), "yaml_loader": loader.__name__, "jsonschema": version("jsonschema"),
            "load_s": round(load_s, 3), "validate_s": round(validate_s, 4), "total_s": round(load_s + validate_s, 3),
            "errors": len(errors)}


def per_request(n: int) -> dict:
    spec = load_spec(CONFORMANCE / "specs" / "oai-examples" / "v3.0" / "petstore.yaml")
    op = next(o for o in spec.operations if o.operation_id == "createPets")
    checked = compile_operation(spec, op)
    body = json.dumps(PET).encode()
    request = Request("POST", "/pets", headers=[("Content-Type", "application/json")], body=body)
    assert checked.check_request(request, {}) == []
    bad = Request("POST", "/pets", headers=[("Content-Type", "application/json")], body=b'{"id": "x"}')
    assert len(checked.check_request(bad, {})) == 2
    validator = checked.body_validators["application/json"]
    ours = {"request_check_us": round(_per_call_us(lambda: checked.check_request(request, {}), n), 2),
            "schema_only_us": round(_per_call_us(lambda: validator.validate(PET, "request"), n), 2)}
    result = {"operation": "POST /pets (petstore.yaml, OpenAPI 3.0)", "instance": PET, "n": n, "pymock": ours}
    baseline = _baseline_request(spec.raw["components"]["schemas"]["Pet"], body, max(1, n // 5))
    if baseline:
        result["jsonschema"] = baseline
        result["ratio_request"] = round(baseline["parse_and_validate_us"] / ours["request_check_us"], 2)
        result["ratio_schema_only"] = round(baseline["validate_us"] / ours["schema_only_us"], 2)
    result["targets_met"] = ours["request_check_us"] < 200 and result.get("ratio_request", 3) >= 3
    return result


def _baseline_request(schema: dict, body: bytes, n: int) -> dict | None:
    try:
        import jsonschema
    except ImportError:
        return None
    validator = jsonschema.Draft4Validator(schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)
    assert validator.is_valid(PET)
    return {"parse_and_validate_us": round(_per_call_us(lambda: list(validator.iter_errors(json.loads(body))), n), 2),
            "validate_us": round(_per_call_us(lambda: list(validator.iter_errors(PET)), n), 2)}


def main(n: int = 20000) -> dict:
    if not (CONFORMANCE / "specs" / "manifest.json").is_file():
        sys.exit(f"the spec corpus is not at {CONFORMANCE / 'specs'}: check out the repo next to shared/")
    big = load_and_validate()
    request = per_request(n)
    result = {"benchmark": "openapi: load + validate the largest spec; per-request contract check",
              "python": platform.python_version(), "load_and_validate": big, "per_request": request}
    ours, base = big["pymock"], big["baseline"]
    print(f"{big['file']} ({big['bytes'] / 1e6:.1f} MB, {big['version']}), {big['oas_schema']}:")
    print(f"  pymock   load {ours['load_s']:7.3f} s  validate {ours['validate_s']:7.3f} s  total {ours['total_s']:7.3f} s"
          f"  ({ours['errors']} errors; load_spec with bundling {ours['load_spec_s']:.3f} s)")
    if base:
        print(f"  baseline load {base['load_s']:7.3f} s  validate {base['validate_s']:7.3f} s  total {base['total_s']:7.3f} s"
              f"  ({base['errors']} errors; PyYAML {base['pyyaml']} {base['yaml_loader']}, jsonschema {base['jsonschema']})")
        print(f"  ratio (baseline / pymock): total {big['ratio_total']}x, load {big['ratio_load']}x, "
              f"validate {big['ratio_validate']}x")
    mine = request["pymock"]
    print(f"per request, {request['operation']}: contract check {mine['request_check_us']:.2f} us, "
          f"schema only {mine['schema_only_us']:.2f} us")
    if "jsonschema" in request:
        theirs = request["jsonschema"]
        print(f"  jsonschema: json.loads + validate {theirs['parse_and_validate_us']:.2f} us, validate "
              f"{theirs['validate_us']:.2f} us; ratio {request['ratio_request']}x (request), "
              f"{request['ratio_schema_only']}x (schema only)")
    print(f"  targets (< 200 us, >= 3x jsonschema) met: {request['targets_met']}")
    out = ROOT / "bench" / "results" / "openapi.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out.relative_to(ROOT)}")
    return result


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20000)
