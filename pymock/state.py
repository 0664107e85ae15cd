"""Runtime state shared by requests: the request journal and sequence positions.

Layer 1: no sockets, no serving threads. Each store has one lock and short transactions that
return copies, so no lock is ever held while a response is rendered, slept or sent.

>>> journal = Journal(size=2)
>>> for n in range(3):
...     _ = journal.record({"method": "GET", "path": f"/{n}"})
>>> [e["path"] for e in journal.list()], journal.stats()["evicted"]
(['/2', '/1'], 1)
"""

from __future__ import annotations

import itertools
import threading
from collections import deque

from .errors import NotFoundError

__all__ = ["Journal", "SequenceState"]


class Journal:
    """A bounded ring buffer of request records, newest last; counts what it evicted.

    Entries are plain dicts (JSON-ready). ``record`` assigns ``id`` (``req-<n>``) and keeps the
    entry; readers get shallow copies so a caller cannot mutate the journal.
    """

    def __init__(self, size: int = 1000, enabled: bool = True):
        self._lock = threading.Lock()
        self._entries: deque = deque(maxlen=size)
        self._by_id: dict[str, dict] = {}
        self._ids = itertools.count(1)
        self.enabled = enabled
        self.total = 0
        self.evicted = 0

    @property
    def size(self) -> int:
        return self._entries.maxlen

    def resize(self, size: int, enabled: bool = True) -> None:
        """Change the capacity (on config reload), keeping the newest entries."""
        with self._lock:
            self.enabled = enabled
            if size == self._entries.maxlen:
                return
            kept = list(self._entries)[-size:]
            self.evicted += len(self._entries) - len(kept)
            self._entries = deque(kept, maxlen=size)
            self._by_id = {entry["id"]: entry for entry in kept}

    def next_id(self) -> str:
        return f"req-{next(self._ids)}"

    def record(self, entry: dict) -> dict:
        if "id" not in entry:
            entry["id"] = self.next_id()
        if not self.enabled:
            return entry
        with self._lock:
            if len(self._entries) == self._entries.maxlen:
                oldest = self._entries[0]
                self._by_id.pop(oldest["id"], None)
                self.evicted += 1
            self._entries.append(entry)
            self._by_id[entry["id"]] = entry
            self.total += 1
        return entry

    def list(self, predicate=None, limit: int | None = None) -> list[dict]:
        """Entries newest first, optionally filtered."""
        with self._lock:
            entries = list(self._entries)
        out = []
        if limit is not None and limit <= 0:
            return out
        for entry in reversed(entries):
            if predicate is None or predicate(entry):
                out.append(dict(entry))
                if limit is not None and len(out) >= limit:
                    break
        return out

    def get(self, ident: str) -> dict:
        with self._lock:
            entry = self._by_id.get(ident)
        if entry is None:
            raise NotFoundError("request", ident)
        return dict(entry)

    def clear(self) -> int:
        with self._lock:
            count = len(self._entries)
            self._entries.clear()
            self._by_id.clear()
        return count

    def stats(self) -> dict:
        with self._lock:
            return {"size": self._entries.maxlen, "count": len(self._entries), "total": self.total,
                    "evicted": self.evicted, "enabled": self.enabled}


class SequenceState:
    """Position of each endpoint in its ``sequence``; thread-safe, reset on reload or by admin."""

    def __init__(self):
        self._lock = threading.Lock()
        self._positions: dict[str, int] = {}

    def next_index(self, key: str, length: int, end: str = "loop") -> int:
        """The step to answer now: 0, 1, ... then wrap (``loop``) or keep the last (``stay``)."""
        with self._lock:
            position = self._positions.get(key, 0)
            self._positions[key] = position + 1
        if position < length:
            return position
        return position % length if end == "loop" else length - 1

    def reset(self, key: str | None = None) -> None:
        with self._lock:
            if key is None:
                self._positions.clear()
            else:
                self._positions.pop(key, None)

    def retain(self, keys) -> None:
        """Forget every position except those of ``keys``."""
        keep = set(keys)
        with self._lock:
            self._positions = {k: v for k, v in self._positions.items() if k in keep}

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._positions)
