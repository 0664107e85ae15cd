"""Helpers for tests: ``MockServer`` (a real server on an ephemeral port) and ``wait_until``.

Layer 2 (the edge): starts serving threads. Tests and the pytest plugin import it; nothing in
layers 0-1 may.
"""

from __future__ import annotations

import time

__all__ = ["wait_until"]


def wait_until(predicate, timeout: float = 5.0, interval: float = 0.01, message: str = ""):
    """Poll ``predicate`` until it returns a truthy value, which is returned.

    Raises ``TimeoutError`` naming ``message`` (or the predicate) when ``timeout`` runs out.
    This is how tests wait for another thread or process instead of sleeping a fixed time.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            what = message or getattr(predicate, "__name__", "condition")
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)
