"""pytest plugin (entry point ``pymock``): the ``pymock_server`` fixture.

Layer 2. A fresh real server on an ephemeral port per test, stopped afterwards; server-side
exceptions fail the test that caused them::

    def test_client(pymock_server):
        pymock_server.add({"path": "/users/{id}", "response": {"id": "{{ request.path.id }}"}})
        assert my_client(pymock_server.base_url).get_user(7) == {"id": "7"}
"""

import pytest

__all__ = ["pymock_server"]


@pytest.fixture
def pymock_server():
    """A started ``MockServer`` with no mocks; add some with ``.add()`` or ``.configure()``."""
    from .testing import MockServer  # lazily: loading the plugin must not start importing the server

    with MockServer({"endpoints": []}) as server:
        yield server
