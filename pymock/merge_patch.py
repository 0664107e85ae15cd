"""RFC 7386 JSON merge patch: how PATCH bodies and environment overrides change a document.

Pure: imports nothing but ``copy``.

>>> merge_patch({"a": 1, "b": {"c": 2, "d": 3}}, {"b": {"c": None, "e": 4}, "f": [5]})
{'a': 1, 'b': {'d': 3, 'e': 4}, 'f': [5]}
"""

from __future__ import annotations

import copy

__all__ = ["merge_patch"]


def merge_patch(target, patch):
    """``target`` changed by ``patch``: ``null`` removes a member, objects merge, anything else
    replaces. Neither argument is modified; values taken from ``patch`` are copied."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out
