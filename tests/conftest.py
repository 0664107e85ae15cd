"""Shared test fixtures. The pymock pytest plugin is loaded here when it is not installed."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONFORMANCE = ROOT.parent / "shared" / "conformance"


def pytest_configure(config):
    if not config.pluginmanager.has_plugin("pymock"):
        config.pluginmanager.import_plugin("pymock.pytest_plugin")


@pytest.fixture
def conformance():
    """The shared conformance folder, or a skip naming where it was looked for."""
    if not CONFORMANCE.is_dir():
        pytest.skip(f"conformance material not found at {CONFORMANCE} (clone the repo next to shared/)")
    return CONFORMANCE
