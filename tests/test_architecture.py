"""Guard rails from DESIGN.md: stdlib-only runtime, relative imports, and layers that only
import downwards. Checked by parsing the source with ``ast``, so a violation fails here
before it ships."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "pymock"

# Every module in pymock/ must be placed in a layer; lower layers never import higher ones.
LAYERS = {
    0: {"errors", "merge_patch", "model", "miniyaml", "templates", "matching", "schema", "formats", "traceparent",
        "graph", "breakers", "chaos", "specdiff", "specdiff_checks", "docs", "template_runtime", "template_fakes",
        "docs_blocks", "docs_builder", "docs_html", "specdiff_schema",
        "template_filters", "template_nodes", "template_expr", "template_parser",
        "schema_refs", "schema_keywords", "schema_applicators", "schema_inplace",
        "miniyaml_scalars", "miniyaml_flow", "miniyaml_dump", "matchers"},
    1: {"files", "config", "openapi", "contract", "state", "registry", "tracing", "workflow",
        "engine", "admin", "mesh", "mesh_config", "mesh_calls", "provisions", "metrics", "app",
        "provision_response", "provision_request", "provision_app", "modes", "mode_runner",
        "stores", "resources", "simauth", "ratelimit", "environments", "features",
        "inspector", "workflow_api", "state_admin", "mesh_api", "mesh_bodies",
        "openapi_mocks", "openapi_samples", "openapi_export", "openapi_sync", "contract_checks",
        "config_endpoints",
        "openapi_model", "openapi_refs", "openapi_normalise"},
    2: {"server", "proxy", "reload", "recording", "cli", "testing", "pytest_plugin", "__main__",
        "__init__", "workers", "provision_edge", "mesh_edge", "webhooks", "http_wire", "openapi_cli", "cli_lifecycle"},
}
LAYER_OF = {name: layer for layer, names in LAYERS.items() for name in names}
EDGE_ONLY_STDLIB = {"socket", "socketserver", "http.server", "http.client", "urllib.request", "ssl",
                    "selectors", "subprocess"}


def _modules():
    return sorted(PACKAGE.glob("*.py"))


def _imports(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node, 0, alias.name, None
        elif isinstance(node, ast.ImportFrom):
            yield node, node.level, node.module or "", [a.name for a in node.names]


def test_every_module_has_a_layer():
    unplaced = [p.stem for p in _modules() if p.stem not in LAYER_OF]
    assert unplaced == [], f"add these modules to LAYERS in {Path(__file__).name}: {unplaced}"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: p.name)
def test_runtime_imports_only_the_standard_library_and_relative_pymock(path):
    bad = []
    for node, level, module, _names in _imports(path):
        if level:
            continue
        top = module.split(".")[0]
        if top == "pymock":
            bad.append(f"line {node.lineno}: absolute import of {module} (use a relative import)")
        elif top not in sys.stdlib_module_names and top != "__future__" and not (
                path.stem == "pytest_plugin" and top == "pytest"):
            bad.append(f"line {node.lineno}: {module} is not in the standard library")
    assert bad == []


@pytest.mark.parametrize("path", _modules(), ids=lambda p: p.name)
def test_layers_only_import_downwards(path):
    layer = LAYER_OF.get(path.stem, 2)
    bad = []
    for node, level, module, names in _imports(path):
        if level == 1:
            targets = [module.split(".")[0]] if module else list(names)
            for target in targets:
                if LAYER_OF.get(target, 0) > layer:
                    bad.append(f"line {node.lineno}: layer {layer} imports {target} (layer {LAYER_OF[target]})")
        elif level == 0 and layer < 2 and (module in EDGE_ONLY_STDLIB or module.split(".")[0] == "socket"):
            bad.append(f"line {node.lineno}: layer {layer} imports {module}, which belongs at the edge")
    assert bad == []


@pytest.mark.parametrize("path", _modules(), ids=lambda p: p.name)
def test_every_module_has_a_docstring_and_all(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    assert ast.get_docstring(tree), f"{path.name} needs a module docstring"
    if path.stem not in ("__main__",):
        names = {t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
        assert "__all__" in names, f"{path.name} needs __all__"


def test_entry_points_import_without_site_packages():
    # -S turns site-packages off: any third-party import at load time fails here.
    code = "import mock_server, recorder, pymock.cli, pymock.app, pymock.server; print('ok')"
    result = subprocess.run([sys.executable, "-S", "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "ok", result.stderr


def test_pyproject_declares_no_runtime_dependencies():
    text = (ROOT / "pyproject.toml").read_text()
    assert "dependencies = []" in text
    assert 'requires-python = ">=3.10"' in text
    assert 'pymock = "pymock.cli:main"' in text
