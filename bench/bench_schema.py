"""Benchmark: validate a Petstore ``Pet`` object with pymock.schema and (if importable) jsonschema.

Run from the repository root: ``python3 bench/bench_schema.py [N]``. Prints microseconds per
validation for both, the ratio, and writes ``bench/results/schema.json``. The ``jsonschema``
package is only a baseline for comparison, never a dependency of pymock.

Targets: under 200 us per validation, and at least 3x faster than jsonschema.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pymock.schema import compile_schema  # noqa: E402

PET_SCHEMA = {
    "type": "object",
    "required": ["name", "photoUrls"],
    "properties": {
        "id": {"type": "integer", "format": "int64"},
        "name": {"type": "string", "minLength": 1},
        "category": {
            "type": "object",
            "properties": {"id": {"type": "integer", "format": "int64"},
                           "name": {"type": "string"}},
        },
        "photoUrls": {"type": "array", "items": {"type": "string"}},
        "tags": {
            "type": "array",
            "items": {"type": "object",
                      "properties": {"id": {"type": "integer", "format": "int64"},
                                     "name": {"type": "string"}}},
        },
        "status": {"type": "string", "enum": ["available", "pending", "sold"]},
    },
}
PET = {
    "id": 10, "name": "doggie", "category": {"id": 1, "name": "Dogs"},
    "photoUrls": ["https://example.com/a.png", "https://example.com/b.png"],
    "tags": [{"id": 1, "name": "friendly"}, {"id": 2, "name": "small"}],
    "status": "available",
}
BAD_PET = dict(PET, id="ten", status="lost", tags=[{"id": "x"}])


def _time_per_call(fn, n: int) -> float:
    """Best of 5 runs of ``n`` calls, in microseconds per call."""
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, time.perf_counter() - start)
    return best / n * 1e6


def _ours(n: int) -> dict:
    validator = compile_schema(PET_SCHEMA, dialect="draft4")
    assert validator.validate(PET) == [] and len(validator.validate(BAD_PET)) == 3
    return {"validate_us": _time_per_call(lambda: validator.validate(PET), n),
            "is_valid_us": _time_per_call(lambda: validator.is_valid(PET), n),
            "invalid_validate_us": _time_per_call(lambda: validator.validate(BAD_PET), n)}


def _theirs(n: int) -> dict | None:
    try:
        import jsonschema
        from importlib.metadata import version
    except ImportError:
        return None
    validator = jsonschema.Draft4Validator(PET_SCHEMA,
                                           format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)
    assert validator.is_valid(PET) and len(list(validator.iter_errors(BAD_PET))) == 3
    return {"version": version("jsonschema"),
            "validate_us": _time_per_call(lambda: list(validator.iter_errors(PET)), n),
            "is_valid_us": _time_per_call(lambda: validator.is_valid(PET), n),
            "invalid_validate_us": _time_per_call(lambda: list(validator.iter_errors(BAD_PET)), n)}


def main(n: int = 20000) -> dict:
    ours, theirs = _ours(n), _theirs(max(1, n // 5))
    result = {"benchmark": "schema: Petstore Pet object", "n": n,
              "python": platform.python_version(), "pymock": ours, "jsonschema": theirs}
    print(f"pymock.schema  validate {ours['validate_us']:8.2f} us   is_valid "
          f"{ours['is_valid_us']:8.2f} us   invalid {ours['invalid_validate_us']:8.2f} us")
    if theirs:
        ratio = theirs["validate_us"] / ours["validate_us"]
        result["ratio_validate"] = round(ratio, 2)
        result["ratio_invalid"] = round(theirs["invalid_validate_us"] /
                                        ours["invalid_validate_us"], 2)
        print(f"jsonschema {theirs['version']:<7} validate {theirs['validate_us']:8.2f} us   "
              f"is_valid {theirs['is_valid_us']:8.2f} us   invalid "
              f"{theirs['invalid_validate_us']:8.2f} us")
        print(f"ratio (jsonschema / pymock): valid {ratio:.1f}x, invalid "
              f"{result['ratio_invalid']:.1f}x")
    else:
        print("jsonschema not importable: no baseline ratio")
    result["targets_met"] = ours["validate_us"] < 200 and \
        (theirs is None or result["ratio_validate"] >= 3)
    out = ROOT / "bench" / "results" / "schema.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out.relative_to(ROOT)}")
    return result


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20000)
