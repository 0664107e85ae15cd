"""One-off generator of tests/data/yaml_corpus_digests.json: what PyYAML reads from the corpus.

Run by hand on a machine that has PyYAML (it is not a project dependency and CI never runs
this): ``python3 bench/make_yaml_digests.py``. Every ``*.yaml``/``*.yml`` file under
``../shared/conformance/specs/`` is loaded with PyYAML's *pure-Python* ``yaml.SafeLoader``
(never ``CSafeLoader``) and recorded as the sha256 of
``json.dumps(data, sort_keys=True, ensure_ascii=False)``. tests/test_miniyaml_corpus.py checks
that pymock.miniyaml loads every file to the same digest.

Normalisation, and only this: PyYAML resolves plain (unquoted) scalars by YAML 1.1 rules;
miniyaml uses the YAML 1.2 core schema. Where the two readings of a plain scalar differ
(``yes``/``on`` booleans, ``0777`` octal, ``1_000``, ``0b1``, ``1:30``, timestamps, ``=``,
``1e3`` and so on) the generator keeps the YAML 1.2 core value, and lists each such scalar
under ``normalised`` with its text and both readings. The 1.2 resolver below is written here
from the spec, independently of miniyaml. A file PyYAML refuses is recorded under
``rejected_by_pyyaml`` with PyYAML's error; its expected digest is what PyYAML's parser
yields once plain scalars are resolved by the 1.2 core schema.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import sys
from pathlib import Path

import yaml  # a local measuring tool only; never imported by pymock

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT.parent / "shared" / "conformance" / "specs"
OUT = ROOT / "tests" / "data" / "yaml_corpus_digests.json"

# YAML 1.2.2 section 10.3.2 (core schema tag resolution), transcribed.
_NULL = re.compile(r"(?:null|Null|NULL|~|)\Z")
_BOOL = re.compile(r"(?:true|True|TRUE|false|False|FALSE)\Z")
_INT10 = re.compile(r"[-+]?[0-9]+\Z")
_INT8 = re.compile(r"0o[0-7]+\Z")
_INT16 = re.compile(r"0x[0-9a-fA-F]+\Z")
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?\Z")
_INF = re.compile(r"[-+]?\.(?:inf|Inf|INF)\Z")
_NAN = re.compile(r"\.(?:nan|NaN|NAN)\Z")


def core12(text: str):
    """The value the YAML 1.2 core schema gives a plain scalar."""
    if _NULL.match(text):
        return None
    if _BOOL.match(text):
        return text[0] in "tT"
    if _INT10.match(text):
        return int(text)
    if _INT8.match(text):
        return int(text[2:], 8)
    if _INT16.match(text):
        return int(text[2:], 16)
    if _FLOAT.match(text):
        return float(text)
    if _INF.match(text):
        return -math.inf if text[0] == "-" else math.inf
    if _NAN.match(text):
        return math.nan
    return text


def _same(a, b) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


def _loader_class(record: list):
    """A pure-Python SafeLoader whose plain scalars resolve by the 1.2 core schema."""

    class Core12Loader(yaml.SafeLoader):
        def compose_scalar_node(self, anchor):
            untagged = self.peek_event().tag is None
            node = super().compose_scalar_node(anchor)
            node.untagged_plain = untagged and node.style is None
            return node

        def construct_object(self, node, deep=False):
            if not getattr(node, "untagged_plain", False) or node in self.constructed_objects:
                return super().construct_object(node, deep)
            try:
                old = super().construct_object(node, deep)
            except yaml.constructor.ConstructorError:
                old = "<rejected by PyYAML>"
            new = core12(node.value)
            if not _same(old, new):
                record.append({"line": node.start_mark.line + 1, "text": node.value,
                               "yaml11": _jsonable(old), "yaml12": _jsonable(new)})
            self.constructed_objects[node] = new  # aliases of this node must see the same value
            return new

    return Core12Loader


def _jsonable(value):
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return f"{type(value).__name__}: {value}"


def digest(data) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def corpus_files(root: Path = SPECS) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


def main() -> int:
    assert yaml.SafeLoader.__module__ == "yaml.loader", "must be the pure-Python SafeLoader"
    result = {
        "generator": "bench/make_yaml_digests.py",
        "pyyaml": yaml.__version__,
        "loader": "yaml.SafeLoader (pure Python), plain scalars re-resolved by the YAML 1.2 core schema",
        "hash": "sha256 of json.dumps(data, sort_keys=True, ensure_ascii=False).encode('utf-8')",
        "digests": {}, "normalised": {}, "rejected_by_pyyaml": {},
    }
    for path in corpus_files():
        rel = path.relative_to(SPECS).as_posix()
        text = path.read_text(encoding="utf-8-sig")
        record: list = []
        data = yaml.load(text, Loader=_loader_class(record))
        result["digests"][rel] = digest(data)
        if record:
            result["normalised"][rel] = record
        try:
            yaml.load(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError as exc:
            result["rejected_by_pyyaml"][rel] = {
                "error": " ".join(str(exc).split()),
                "expected": "the digest above: PyYAML's parse with the YAML 1.2 core reading of "
                            "the scalars listed under 'normalised' (1.2 has no '=' value tag)",
            }
        print(f"{rel}: {len(record)} normalised", file=sys.stderr)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {OUT} ({len(result['digests'])} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
