"""Benchmark pymock.miniyaml against PyYAML's pure-Python SafeLoader on the OpenAPI corpus.

    python3 bench/bench_yaml.py [--repeat N] [--corpus DIR] [--out FILE]

Loads every ``*.yaml``/``*.yml`` file under ../shared/conformance/specs/ N times with each
loader and keeps the best time per file (the least disturbed run). Prints per-file and total
seconds and the PyYAML/miniyaml ratio (above 1 means miniyaml is faster), and writes the
numbers to bench/results/yaml.json. PyYAML is optional (it is never a project dependency);
without it only miniyaml is timed. The C-accelerated CSafeLoader is deliberately not used.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pymock.miniyaml import load  # noqa: E402  (needs the path set up above)

try:
    import yaml
except ImportError:  # measured without a baseline
    yaml = None

DEFAULT_CORPUS = ROOT.parent / "shared" / "conformance" / "specs"
DEFAULT_OUT = ROOT / "bench" / "results" / "yaml.json"


def best_time(loader, text: str, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        loader(text)
        best = min(best, time.perf_counter() - start)
    return best


def pyyaml_pure(text: str):
    return yaml.load(text, Loader=yaml.SafeLoader)  # yaml.SafeLoader is the pure-Python one


def run(corpus: Path, repeat: int) -> dict:
    files = sorted(p for p in corpus.rglob("*") if p.suffix in (".yaml", ".yml"))
    rows, width = [], max(len(p.relative_to(corpus).as_posix()) for p in files)
    print(f"{'file':<{width}} {'bytes':>9} {'miniyaml s':>11} {'PyYAML s':>10} {'ratio':>7}")
    for path in files:
        rel, text = path.relative_to(corpus).as_posix(), path.read_text(encoding="utf-8-sig")
        mine = best_time(lambda t: load(t, rel), text, repeat)
        theirs = None
        if yaml is not None:
            try:
                theirs = best_time(pyyaml_pure, text, repeat)
            except yaml.YAMLError:  # the one corpus file PyYAML (YAML 1.1) refuses
                theirs = None
        rows.append({"file": rel, "bytes": len(text.encode()), "miniyaml_s": mine,
                     "pyyaml_s": theirs})
        ratio = f"{theirs / mine:7.1f}" if theirs else "      -"
        shown = f"{theirs:10.4f}" if theirs else "   refused" if yaml else "         -"
        print(f"{rel:<{width}} {rows[-1]['bytes']:>9} {mine:11.4f} {shown} {ratio}")
    return summarise(rows, repeat)


def summarise(rows: list, repeat: int) -> dict:
    both = [r for r in rows if r["pyyaml_s"] is not None]
    mine_all = sum(r["miniyaml_s"] for r in rows)
    mine_both = sum(r["miniyaml_s"] for r in both)
    theirs = sum(r["pyyaml_s"] for r in both)
    result = {
        "python": platform.python_version(),
        "pyyaml": getattr(yaml, "__version__", None),
        "baseline": "yaml.SafeLoader (pure Python)" if yaml else None,
        "repeat": repeat, "files": len(rows), "bytes": sum(r["bytes"] for r in rows),
        "miniyaml_total_s": mine_all,
        "compared_files": len(both),
        "miniyaml_compared_s": mine_both,
        "pyyaml_compared_s": theirs if both else None,
        "ratio_pyyaml_over_miniyaml": theirs / mine_both if both else None,
        "per_file": rows,
    }
    print(f"\nminiyaml: {len(rows)} files, {result['bytes']} bytes, {mine_all:.3f} s "
          f"(best of {repeat})")
    if both:
        print(f"on the {len(both)} files both load: miniyaml {mine_both:.3f} s, PyYAML pure "
              f"{theirs:.3f} s, ratio {theirs / mine_both:.1f}x "
              f"({'miniyaml faster' if theirs > mine_both else 'PyYAML faster'})")
    else:
        print("PyYAML is not installed: no baseline (pip install pyyaml to compare)")
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per file and loader")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    if not args.corpus.is_dir():
        print(f"corpus not found at {args.corpus}", file=sys.stderr)
        return 2
    result = run(args.corpus, max(1, args.repeat))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
