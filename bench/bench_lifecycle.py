"""Benchmark the contract lifecycle on the largest corpus spec: docs and a breaking-change diff.

    python3 bench/bench_lifecycle.py [--repeat N] [--spec FILE] [--out FILE]

Picks the largest document of ../shared/conformance/specs/ (by the manifest's byte count;
today the 3.2 MB AWS EC2 OpenAPI file: 806 operations, 2016 schemas), then times, best of N:
loading it (miniyaml or json: the baseline), Markdown docs, HTML docs, a diff against an
unchanged copy, and a diff against a second version with a spread of changes (paths removed,
properties made required, enums narrowed, parameters added...). Prints seconds and the ratio
to the load time, checks the targets (docs and diff each under 2 s) and writes
bench/results/lifecycle.json. Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pymock import docs, miniyaml, specdiff  # noqa: E402  (needs the path set up above)

CORPUS = ROOT.parent / "shared" / "conformance" / "specs"
DEFAULT_OUT = ROOT / "bench" / "results" / "lifecycle.json"
TARGET_S = 2.0


def largest_spec(corpus: Path) -> Path:
    manifest = json.loads((corpus / "manifest.json").read_text(encoding="utf-8"))
    entries = [e for e in manifest["files"] if e.get("spec_kind") in ("openapi", "swagger")]
    return corpus / max(entries, key=lambda e: e["size_bytes"])["file"]


def load(path: Path):
    text = path.read_text(encoding="utf-8-sig")
    return json.loads(text) if path.suffix == ".json" else miniyaml.load(text, source_name=path.name)


def best(func, repeat: int) -> tuple[float, object]:
    fastest, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        fastest = min(fastest, time.perf_counter() - start)
    return fastest, result


def second_version(spec: dict) -> dict:
    """A plausible next version: every 20th path removed, every 10th operation gets a required
    query parameter, every 7th schema makes its first property required and drops an enum value."""
    new = copy.deepcopy(spec)
    paths = list(new.get("paths", {}))
    for path in paths[::20]:
        del new["paths"][path]
    for index, item in enumerate(new.get("paths", {}).values()):
        for method in ("get", "post", "put", "delete", "patch"):
            op = item.get(method) if isinstance(item, dict) else None
            if isinstance(op, dict) and index % 10 == 0:
                op.setdefault("parameters", []).append({"name": "tenant", "in": "query", "required": True,
                                                        "schema": {"type": "string"}})
    schemas = (new.get("components") or {}).get("schemas") or new.get("definitions") or {}
    for index, schema in enumerate(schemas.values()):
        if index % 7 or not isinstance(schema, dict):
            continue
        props = schema.get("properties")
        if isinstance(props, dict) and props:
            first = next(iter(props))
            schema["required"] = sorted(set(schema.get("required") or []) | {first})
            for prop in props.values():
                if isinstance(prop, dict) and isinstance(prop.get("enum"), list) and len(prop["enum"]) > 1:
                    prop["enum"] = prop["enum"][:-1]
                    break
    new.setdefault("info", {})["version"] = "2.0.0"
    return new


def run(path: Path, repeat: int) -> dict:
    load_s, spec = best(lambda: load(path), repeat)
    model_ops = len(specdiff.SpecModel(spec).operations())
    md_s, markdown = best(lambda: docs.render_markdown(spec), repeat)
    html_s, page = best(lambda: docs.render_html(spec), repeat)
    same = copy.deepcopy(spec)
    same_s, same_report = best(lambda: specdiff.diff(spec, same), repeat)
    changed = second_version(spec)
    diff_s, report = best(lambda: specdiff.diff(spec, changed), repeat)
    figures = {
        "load_s": load_s,
        "docs_markdown_s": md_s, "docs_html_s": html_s,
        "diff_unchanged_s": same_s, "diff_changed_s": diff_s,
        "ratio_to_load": {"docs_markdown": md_s / load_s, "docs_html": html_s / load_s,
                          "diff_unchanged": same_s / load_s, "diff_changed": diff_s / load_s},
    }
    return {
        "spec": path.relative_to(CORPUS).as_posix() if path.is_relative_to(CORPUS) else str(path),
        "bytes": path.stat().st_size, "operations": model_ops, "repeat": repeat,
        "markdown_bytes": len(markdown.encode()), "html_bytes": len(page.encode()),
        "changes_found": {"total": len(report.changes), **{k: report.summary()[k] for k in ("ERR", "WARN", "INFO")}},
        "unchanged_changes_found": len(same_report.changes),
        "figures": figures,
        "targets": {"docs_under_2s": max(md_s, html_s) < TARGET_S, "diff_under_2s": diff_s < TARGET_S},
        "python": platform.python_version(), "machine": platform.machine(),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--spec", type=Path, default=None, help="default: the largest corpus spec")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    if args.spec is None and not (CORPUS / "manifest.json").is_file():
        print(f"corpus not found at {CORPUS} (clone the repo next to shared/, or pass --spec)", file=sys.stderr)
        return 2
    path = args.spec or largest_spec(CORPUS)
    result = run(path, args.repeat)
    f = result["figures"]
    print(f"{result['spec']}: {result['bytes']:,} bytes, {result['operations']} operations")
    print(f"  load            {f['load_s']:.3f} s   (baseline)")
    for key, label in (("docs_markdown", "docs markdown"), ("docs_html", "docs html"),
                       ("diff_unchanged", "diff unchanged"), ("diff_changed", "diff changed")):
        print(f"  {label:<15} {f[key + '_s']:.3f} s   {f['ratio_to_load'][key]:.2f} x load")
    print(f"  changes found: {result['changes_found']}")
    print(f"  targets: {result['targets']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0 if all(result["targets"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
