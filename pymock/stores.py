"""State that outlives a request: scenario states, a key-value store (with counters) and the
rows of resource collections, kept in memory or in a SQLite file (``--state path.db``).

Layer 1: no sockets, no threads started. The SQLite backend opens only the file it is given.
Every operation is one short transaction, so concurrent requests never lose an update:
``inc`` and ``cas`` read and write under one lock (memory) or one ``BEGIN IMMEDIATE``
transaction (SQLite, which also makes them atomic across processes sharing the file). A crash
mid-transaction leaves the previous state: SQLite rolls the journal back on the next open.

Values are JSON data and are stored as JSON text in both backends, so the two behave alike and
callers always get copies. Keys live in namespaces: ``scenario``, ``kv:<scope>`` and
``resource:<name>``; a scope is ``global``, ``session:<id>`` or ``client:<address>``.

>>> store = StateStore()
>>> store.set("global", "visits", 1)
>>> store.inc("global", "visits"), store.cas("global", "visits", 2, 10), store.get("global", "visits")
(2, True, 10)
>>> store.scenario_cas("cart", ("empty",), "has_items", initial="empty")
(True, 'empty')
>>> store.scenario("cart")
'has_items'

Must not import the engine, the app, the admin API or the config (they build on this).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading

from .errors import PymockError

__all__ = ["StateStore", "StateView", "StateError", "MemoryBackend", "SqliteBackend", "SCOPES",
           "scope_key", "MISSING"]

SCOPES = ("global", "session", "client")
SCHEMA_VERSION = "1"
MISSING = type("_Missing", (), {"__repr__": lambda self: "MISSING", "__bool__": lambda self: False})()
_MAX_NOTED_READS = 50     # state operations one journal entry lists


class StateError(PymockError, ValueError):
    """State could not be read or written (a bad state file, or a value that is not JSON)."""


def _encode(value) -> str:
    try:
        return json.dumps(value, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise StateError(f"state values must be JSON data (text, numbers, true/false, null, "
                         f"lists, objects): {exc}") from None


# ---------------------------------------------------------------- backends

class _MemoryTxn:
    """Reads and writes on the shared dicts, with an undo log so a failed transaction leaves
    nothing behind."""

    __slots__ = ("_data", "_undo")

    def __init__(self, data: dict):
        self._data = data
        self._undo: list = []

    def get(self, ns: str, key: str):
        text = self._data.get(ns, {}).get(key)
        return MISSING if text is None else json.loads(text)

    def put(self, ns: str, key: str, value) -> None:
        text = _encode(value)
        table = self._data.setdefault(ns, {})
        self._undo.append((ns, key, table.get(key)))
        table[key] = text

    def delete(self, ns: str, key: str) -> bool:
        table = self._data.get(ns, {})
        if key not in table:
            return False
        self._undo.append((ns, key, table.pop(key)))
        return True

    def items(self, ns: str) -> list:
        return [(key, json.loads(text)) for key, text in self._data.get(ns, {}).items()]

    def namespaces(self, prefix: str) -> list:
        return [ns for ns, table in self._data.items() if ns.startswith(prefix) and table]

    def drop(self, ns: str) -> int:
        keys = list(self._data.get(ns, {}))
        for key in keys:
            self.delete(ns, key)
        return len(keys)

    def rollback(self) -> None:
        for ns, key, old in reversed(self._undo):
            table = self._data.setdefault(ns, {})
            if old is None:
                table.pop(key, None)
            else:
                table[key] = old
        self._undo.clear()


class MemoryBackend:
    """Everything in one dict under one lock: fast, gone when the process ends."""

    path = None

    def __init__(self):
        self._lock = threading.Lock()
        self._data: dict[str, dict[str, str]] = {}

    def transaction(self, fn, write: bool = True):
        with self._lock:
            txn = _MemoryTxn(self._data)
            try:
                return fn(txn)
            except BaseException:
                txn.rollback()
                raise

    def close(self) -> None:
        """Nothing to release (kept for symmetry with ``SqliteBackend``)."""


_SCHEMA = """
CREATE TABLE IF NOT EXISTS pymock_state (
    ns TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (ns, key));
CREATE TABLE IF NOT EXISTS pymock_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO pymock_meta (name, value) VALUES ('schema', '1');
"""


class _SqliteTxn:
    __slots__ = ("_conn",)

    def __init__(self, conn):
        self._conn = conn

    def get(self, ns: str, key: str):
        row = self._conn.execute("SELECT value FROM pymock_state WHERE ns = ? AND key = ?",
                                 (ns, key)).fetchone()
        return MISSING if row is None else json.loads(row[0])

    def put(self, ns: str, key: str, value) -> None:
        self._conn.execute("INSERT INTO pymock_state (ns, key, value) VALUES (?, ?, ?) "
                           "ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value",
                           (ns, key, _encode(value)))

    def delete(self, ns: str, key: str) -> bool:
        return self._conn.execute("DELETE FROM pymock_state WHERE ns = ? AND key = ?",
                                  (ns, key)).rowcount > 0

    def items(self, ns: str) -> list:
        rows = self._conn.execute("SELECT key, value FROM pymock_state WHERE ns = ? ORDER BY rowid",
                                  (ns,)).fetchall()
        return [(key, json.loads(text)) for key, text in rows]

    def namespaces(self, prefix: str) -> list:
        rows = self._conn.execute("SELECT DISTINCT ns FROM pymock_state WHERE substr(ns, 1, ?) = ? "
                                  "ORDER BY ns", (len(prefix), prefix)).fetchall()
        return [row[0] for row in rows]

    def drop(self, ns: str) -> int:
        return self._conn.execute("DELETE FROM pymock_state WHERE ns = ?", (ns,)).rowcount


class SqliteBackend:
    """State in a SQLite file: survives restarts and is shared by every process that opens it.

    WAL mode with ``synchronous=FULL``: a committed transaction is on disk before the answer
    goes out. Connections are pooled per process (a forked worker opens its own; SQLite
    connections must not cross a fork), and writers take the lock up front
    (``BEGIN IMMEDIATE``) so two read-modify-writes cannot interleave.
    """

    def __init__(self, path, timeout_s: float = 10.0):
        self.path = os.fspath(path)
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._idle: list = []
        self._pid = os.getpid()
        self._release(self._connect())   # fail now, with a clear message, not on a request

    def _connect(self):
        try:
            conn = sqlite3.connect(self.path, timeout=self.timeout_s, isolation_level=None,
                                   check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.executescript(_SCHEMA)
            version = conn.execute("SELECT value FROM pymock_meta WHERE name = 'schema'").fetchone()[0]
        except sqlite3.Error as exc:
            raise StateError(f"cannot use {self.path!r} as the state file: {exc} (give --state a "
                             "path in a folder that exists; pymock creates the file)") from None
        if version != SCHEMA_VERSION:
            conn.close()
            raise StateError(f"{self.path!r} holds pymock state version {version}; this pymock "
                             f"reads version {SCHEMA_VERSION} (use a new file)")
        return conn

    def _acquire(self):
        with self._lock:
            if self._pid != os.getpid():   # forked: the parent's connections are not ours
                self._idle, self._pid = [], os.getpid()
            if self._idle:
                return self._idle.pop()
        return self._connect()

    def _release(self, conn) -> None:
        with self._lock:
            if self._pid == os.getpid() and len(self._idle) < 8:
                self._idle.append(conn)
                return
        conn.close()

    def transaction(self, fn, write: bool = True):
        conn = self._acquire()
        try:
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        except sqlite3.Error as exc:
            conn.close()
            raise StateError(f"state file {self.path!r} is busy or unreadable: {exc}") from None
        try:
            result = fn(_SqliteTxn(conn))
            conn.execute("COMMIT")
        except BaseException:
            _rollback(conn)
            self._release(conn)
            raise
        self._release(conn)
        return result

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


def _rollback(conn) -> None:
    try:
        conn.execute("ROLLBACK")
    except sqlite3.Error:  # pragma: no cover - nothing was begun
        pass


# ---------------------------------------------------------------- the store

def _kv(scope: str) -> str:
    return "kv:" + scope


class StateStore:
    """Scenario states and scoped key-values over a backend; every method is one transaction.

    ``path`` None keeps state in memory; a path keeps it in that SQLite file.
    """

    def __init__(self, path=None, *, timeout_s: float = 10.0):
        self.backend = SqliteBackend(path, timeout_s) if path else MemoryBackend()
        self.path = self.backend.path

    def transaction(self, fn, write: bool = True):
        """Run ``fn(txn)`` atomically; ``txn`` has get/put/delete/items/namespaces/drop."""
        return self.backend.transaction(fn, write)

    def close(self) -> None:
        self.backend.close()

    # ------------------------------------------------------------ key-value and counters

    def get(self, scope: str, key: str, default=None):
        value = self.transaction(lambda txn: txn.get(_kv(scope), key), write=False)
        return default if value is MISSING else value

    def set(self, scope: str, key: str, value) -> None:
        self.transaction(lambda txn: txn.put(_kv(scope), key, value))

    def delete(self, scope: str, key: str) -> bool:
        return self.transaction(lambda txn: txn.delete(_kv(scope), key))

    def inc(self, scope: str, key: str, by=1):
        """Add ``by`` to a number (a missing key counts as 0) and return the new value."""
        if isinstance(by, bool) or not isinstance(by, (int, float)):
            raise StateError(f"inc({key!r}) needs a number to add, got {by!r}")

        def bump(txn):
            value = txn.get(_kv(scope), key)
            value = 0 if value is MISSING else value
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise StateError(f"cannot inc {key!r}: it holds {json.dumps(value)[:60]}, not a number")
            txn.put(_kv(scope), key, value + by)
            return value + by
        return self.transaction(bump)

    def cas(self, scope: str, key: str, expected, new) -> bool:
        """Set ``key`` to ``new`` only if it now equals ``expected`` (None matches a missing key)."""
        def swap(txn):
            value = txn.get(_kv(scope), key)
            if (None if value is MISSING else value) != expected:
                return False
            txn.put(_kv(scope), key, new)
            return True
        return self.transaction(swap)

    def entries(self, scope: str | None = None) -> dict:
        """``{scope: {key: value}}`` for one scope or all of them."""
        def read(txn):
            names = [_kv(scope)] if scope else txn.namespaces("kv:")
            return {ns[3:]: dict(txn.items(ns)) for ns in names}
        return {name: values for name, values in self.transaction(read, write=False).items() if values}

    def clear(self, scope: str | None = None) -> int:
        """Delete every key of one scope, or of all scopes; returns how many went."""
        def wipe(txn):
            names = [_kv(scope)] if scope else txn.namespaces("kv:")
            return sum(txn.drop(ns) for ns in names)
        return self.transaction(wipe)

    def seed(self, scope: str, values: dict) -> None:
        """Set each key that does not exist yet (config defaults never overwrite live state)."""
        def fill(txn):
            for key, value in values.items():
                if txn.get(_kv(scope), key) is MISSING:
                    txn.put(_kv(scope), key, value)
        self.transaction(fill)

    # ------------------------------------------------------------ scenarios

    def scenario(self, name: str, default=None):
        value = self.transaction(lambda txn: txn.get("scenario", name), write=False)
        return default if value is MISSING else value

    def set_scenario(self, name: str, state: str) -> None:
        self.transaction(lambda txn: txn.put("scenario", name, state))

    def scenario_cas(self, name: str, expected, new: str, initial=None) -> tuple[bool, str]:
        """Move ``name`` to ``new`` if its state is one of ``expected`` (None: any state).

        Returns ``(moved, state before)``; a scenario never set is in ``initial``.
        """
        def move(txn):
            current = txn.get("scenario", name)
            current = initial if current is MISSING else current
            if expected is not None and current not in expected:
                return False, current
            txn.put("scenario", name, new)
            return True, current
        return self.transaction(move)

    def scenarios(self) -> dict:
        return dict(self.transaction(lambda txn: txn.items("scenario"), write=False))

    def seed_scenarios(self, initial: dict) -> None:
        def fill(txn):
            for name, state in initial.items():
                if txn.get("scenario", name) is MISSING:
                    txn.put("scenario", name, state)
        self.transaction(fill)

    def reset_scenarios(self, initial: dict, names=None) -> dict:
        """Put scenarios back to ``initial`` (all known ones, or ``names``); returns the states."""
        def reset(txn):
            chosen = list(names) if names is not None else sorted(
                {*initial, *(key for key, _ in txn.items("scenario"))})
            out = {}
            for name in chosen:
                if name in initial:
                    txn.put("scenario", name, initial[name])
                    out[name] = initial[name]
                else:
                    txn.delete("scenario", name)
            return out
        return self.transaction(reset)


# ---------------------------------------------------------------- the template view

def scope_key(scope: str, request, session_header: str = "x-session-id") -> str:
    """The storage scope for a request: ``global``, ``session:<header value>`` or
    ``client:<address>``. A request without the session header shares ``session:-``."""
    if scope == "global":
        return "global"
    if scope == "session":
        return "session:" + (request.headers.get(session_header) or "-")
    if scope == "client":
        return "client:" + (request.client[0] if request.client else "-")
    raise StateError(f"unknown scope {scope!r}: use one of {', '.join(SCOPES)}")


class StateView:
    """``state`` in a template: ``state.get('k')``, ``state.set('k', v)``, ``state.inc('k')``,
    ``state.cas('k', old, new)``, ``state.delete('k')``, ``state.scenario('name')``.

    Each call is one atomic store operation in the request's scope (``scope=`` overrides it).
    What a render read and wrote is listed in ``notes["state"]`` for the request inspector.
    Only the names in ``template_methods`` can be called from a template.
    """

    template_methods = frozenset(("get", "set", "inc", "cas", "delete", "scenario"))
    __slots__ = ("_store", "_request", "_scope", "_header", "_notes")

    def __init__(self, store: StateStore, request, scope: str = "global",
                 session_header: str = "x-session-id", notes: dict | None = None):
        self._store, self._request = store, request
        self._scope, self._header, self._notes = scope, session_header, notes

    def _where(self, scope) -> str:
        return scope_key(scope or self._scope, self._request, self._header)

    def _note(self, op: str, where: str, key: str, value) -> None:
        if self._notes is not None:
            noted = self._notes.setdefault("state", [])
            if len(noted) < _MAX_NOTED_READS:
                noted.append({"op": op, "scope": where, "key": key, "value": value})

    def get(self, key, default=None, scope=None):
        where = self._where(scope)
        value = self._store.get(where, str(key), default)
        self._note("get", where, str(key), value)
        return value

    def set(self, key, value, scope=None) -> str:
        where = self._where(scope)
        self._store.set(where, str(key), value)
        self._note("set", where, str(key), value)
        return ""   # so "{{ state.set('k', v) }}" prints nothing

    def inc(self, key, by=1, scope=None):
        where = self._where(scope)
        value = self._store.inc(where, str(key), by)
        self._note("inc", where, str(key), value)
        return value

    def cas(self, key, expected, new, scope=None) -> bool:
        where = self._where(scope)
        swapped = self._store.cas(where, str(key), expected, new)
        self._note("cas", where, str(key), {"expected": expected, "new": new, "swapped": swapped})
        return swapped

    def delete(self, key, scope=None) -> bool:
        where = self._where(scope)
        deleted = self._store.delete(where, str(key))
        self._note("delete", where, str(key), deleted)
        return deleted

    def scenario(self, name):
        state = self._store.scenario(str(name))
        self._note("scenario", "global", str(name), state)
        return state
