"""pytest plugin (entry point ``pymock``): the ``pymock_server`` fixture.

Layer 2. A fresh real server on an ephemeral port per test, stopped afterwards; server-side
exceptions fail the test that caused them::

    def test_client(pymock_server):
        pymock_server.add({"path": "/users/{id}", "response": {"id": "{{ request.path.id }}"}})
        assert my_client(pymock_server.base_url).get_user(7) == {"id": "7"}

pymock's runtime imports only the standard library, so this module names no ``import pytest``:
pytest hands itself over through ``pytest_configure`` (this module only ever runs inside it).
"""

import importlib

__all__ = ["pymock_server", "pytest_configure"]


def pymock_server():
    """A started ``MockServer`` with no mocks; add some with ``.add()`` or ``.configure()``.

    A generator: the fixture of the same name yields from it; other harnesses may too.
    """
    from .testing import MockServer  # lazily: loading the plugin must not import the server

    with MockServer({"endpoints": []}) as server:
        yield server


def pytest_configure(config):
    pytest = importlib.import_module("pytest")  # already loaded: we are running inside pytest

    class PymockFixtures:
        @pytest.fixture(name="pymock_server")
        def fixture(self):
            """A started ``MockServer`` with no mocks; add some with ``.add()`` or ``.configure()``."""
            yield from pymock_server()

    if not config.pluginmanager.has_plugin("pymock-fixtures"):
        config.pluginmanager.register(PymockFixtures(), "pymock-fixtures")
