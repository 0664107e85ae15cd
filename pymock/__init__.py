"""PyMockAPI: a zero-install HTTP mock server in pure Python (standard library only).

Copy ``mock_server.py`` and this folder anywhere and run ``python mock_server.py``. From tests::

    from pymock import MockServer
    with MockServer({"endpoints": [{"path": "/ping", "response": {"ok": True}}]}) as mock:
        urlopen(mock.url("/ping"))

Every import inside this package is relative, so the folder works under any parent package.
"""

__version__ = "0.1.0"

__all__ = ["__version__", "MockServer", "MockApp", "Request", "Response", "ConfigError",
           "PymockError", "load_config", "wait_until"]


def __getattr__(name):
    # Lazy so that `import pymock` stays cheap and pure modules can be used without the server.
    if name in ("MockServer", "wait_until"):
        from . import testing
        return getattr(testing, name)
    if name == "MockApp":
        from .app import MockApp
        return MockApp
    if name in ("Request", "Response"):
        from . import model
        return getattr(model, name)
    if name in ("ConfigError", "PymockError"):
        from . import errors
        return getattr(errors, name)
    if name == "load_config":
        from .config import load_config
        return load_config
    raise AttributeError(f"module 'pymock' has no attribute {name!r}")
