"""pymock.miniyaml against the real-world OpenAPI corpus in ../shared/conformance/specs/.

Every YAML file must load to the data PyYAML's pure-Python SafeLoader loads (recorded as sha256
digests in tests/data/yaml_corpus_digests.json by bench/make_yaml_digests.py), except where
YAML 1.1 and the YAML 1.2 core schema read a plain scalar differently; those scalars are listed
in the digests file and checked one by one below. PyYAML is not needed: when it happens to be
installed, a digest mismatch is explained by a path-by-path diff against it.
"""

import hashlib
import json
import math
from pathlib import Path

import pytest

from pymock.miniyaml import dump, load

CONFORMANCE = Path(__file__).resolve().parents[2] / "shared" / "conformance"
SPECS = CONFORMANCE / "specs"
DIGESTS = json.loads((Path(__file__).parent / "data" / "yaml_corpus_digests.json")
                     .read_text(encoding="utf-8"))
FILES = sorted(DIGESTS["digests"])


def corpus_text(rel: str) -> str:
    if not SPECS.is_dir():
        pytest.skip(f"conformance corpus not found at {SPECS} (check the repo out next to "
                    f"shared/)")
    return (SPECS / rel).read_text(encoding="utf-8-sig")


def digest(data) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False)
                          .encode("utf-8")).hexdigest()


def differences(mine, theirs, path="$", out=None) -> list[str]:
    """Paths where two loaded documents differ (types checked), for a readable failure."""
    out = [] if out is None else out
    if len(out) >= 15:
        return out
    if isinstance(mine, dict) and isinstance(theirs, dict):
        for key in sorted(set(mine) | set(theirs), key=repr):
            if key not in mine or key not in theirs:
                out.append(f"{path}[{key!r}]: only in {'PyYAML' if key in theirs else 'miniyaml'}")
            else:
                differences(mine[key], theirs[key], f"{path}[{key!r}]", out)
    elif isinstance(mine, list) and isinstance(theirs, list) and len(mine) == len(theirs):
        for k, (a, b) in enumerate(zip(mine, theirs)):
            differences(a, b, f"{path}[{k}]", out)
    elif type(mine) is not type(theirs) or (mine != theirs and not (
            isinstance(mine, float) and math.isnan(mine) and math.isnan(theirs))):
        out.append(f"{path}: miniyaml {mine!r} vs PyYAML {theirs!r}")
    return out


def explain(rel: str, text: str, mine) -> str:
    try:
        import yaml  # optional: only to explain a failure
    except ImportError:
        return "install PyYAML locally for a path-by-path diff"
    try:
        theirs = yaml.load(text, Loader=yaml.SafeLoader)  # the pure-Python loader
    except yaml.YAMLError as exc:
        return f"PyYAML rejects the file: {exc}"
    expected = DIGESTS["normalised"].get(rel, [])
    return "\n".join(differences(mine, theirs)) + (
        f"\n(expected YAML 1.2 differences: {expected})" if expected else "")


def test_the_digest_list_covers_every_corpus_yaml_file():
    if not SPECS.is_dir():
        pytest.skip(f"conformance corpus not found at {SPECS}")
    on_disk = sorted(p.relative_to(SPECS).as_posix() for p in SPECS.rglob("*")
                     if p.suffix in (".yaml", ".yml"))
    assert on_disk == FILES, "re-run bench/make_yaml_digests.py where PyYAML is installed"


@pytest.mark.parametrize("rel", FILES)
def test_loads_what_pyyaml_loads(rel):
    text = corpus_text(rel)
    data = load(text, rel)
    if digest(data) != DIGESTS["digests"][rel]:
        pytest.fail(f"{rel} loads differently from PyYAML:\n{explain(rel, text, data)}")


@pytest.mark.parametrize("rel", FILES)
def test_dump_round_trips(rel):
    data = load(corpus_text(rel), rel)
    assert digest(load(dump(data), f"dump of {rel}")) == digest(data)


# The only places where the corpus meets a YAML 1.1 / 1.2 difference (docs/yaml.md).
YAML12_READINGS = [
    ("apis-guru/epa.gov_eff_1.0.0_swagger.yaml",
     ["definitions", "eff1_DischargeMonitoringReports", "properties", "DMRValueQualifierCode",
      "example"], "="),
    ("apis-guru/amazonaws.com_ec2_2016-11-15_openapi.yaml",
     ["components", "schemas", "Snapshot", "example", "OwnerId"], 12345678910),
    ("apis-guru/flat.io_2.8.0_swagger.yaml",
     ["definitions", "ScoreRevisionCreation", "example", "history", 0, "id"], 90),
]


@pytest.mark.parametrize("rel, path, expected", YAML12_READINGS, ids=lambda v: str(v)[:30])
def test_yaml_1_2_readings_where_pyyaml_differs(rel, path, expected):
    node = load(corpus_text(rel), rel)
    for step in path:
        node = node[step]
    assert node == expected and type(node) is type(expected)


def test_the_recorded_differences_are_exactly_the_documented_ones():
    texts = {rel: sorted({entry["text"] for entry in entries})
             for rel, entries in DIGESTS["normalised"].items()}
    assert texts == {
        "apis-guru/amazonaws.com_ec2_2016-11-15_openapi.yaml": ["012345678910"],
        "apis-guru/epa.gov_eff_1.0.0_swagger.yaml": ["="],
        "apis-guru/flat.io_2.8.0_swagger.yaml": ["000000000000000000000090"],
    }
    assert list(DIGESTS["rejected_by_pyyaml"]) == ["apis-guru/epa.gov_eff_1.0.0_swagger.yaml"]
