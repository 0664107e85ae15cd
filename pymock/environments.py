"""Environments (config overrides picked with ``--env NAME`` or ``PYMOCK_ENV``) and the version
history of mocks changed through the admin API.

An environment is a partial config merged over the base before it is checked:

- any top-level section merges as a JSON merge patch (objects merge, ``null`` removes a key);
- ``endpoints`` is a list of changes to existing mocks, each naming the mock's ``id``
  (``[{"id": "get-user", "latency_ms": 800}]``); an environment cannot add mocks (add them to
  the base with ``"enabled": false`` and enable them in the environment).

The live ``Config.raw`` stays the base, so admin edits and ``POST /__admin/mocks/save`` work on
what the file holds, and the environment is applied again on top.

Every admin change to a mock (create, replace, patch, enable, disable, delete, restore) bumps
its version; ``MockHistory`` keeps the last ``keep`` versions of each.

Layer 1: no sockets, no threads, no files.

>>> base = {"endpoints": [{"id": "a", "path": "/a", "status": 200}], "seed": 1,
...         "environments": {"ci": {"seed": 7, "endpoints": [{"id": "a", "status": 503}]}}}
>>> effective, name = select(base, "ci", [], ("seed", "endpoints"))
>>> name, effective["seed"], effective["endpoints"][0]["status"], base["endpoints"][0]["status"]
('ci', 7, 503, 200)

Must not import the config, the engine or the app.
"""

from __future__ import annotations

import copy
import difflib
import json
import threading
from collections import deque

from .errors import ConfigError, NotFoundError, Problem
from .merge_patch import merge_patch
from .model import Response, problem_response

__all__ = ["select", "MockHistory", "history", "restore", "bulk", "ADMIN_HANDLERS"]


# ---------------------------------------------------------------- environments

def select(raw: dict, env: str | None, problems: list, allowed_keys) -> tuple[dict, str | None]:
    """``(the config to check, the environment applied or None)``; problems are appended."""
    envs = raw.get("environments")
    if envs is None:
        return raw, None
    if not isinstance(envs, dict) or not all(isinstance(block, dict) for block in envs.values()):
        problems.append(Problem("environments", "expected an object of name: overrides",
                                'e.g. {"ci": {"seed": 1, "endpoints": [{"id": "login", "latency_ms": 0}]}}'))
        return raw, None
    for name, block in envs.items():   # ids are checked for the chosen one only: deleting a
        _check_environment(raw, name, block, problems, allowed_keys, name == env)   # mock stays possible
    if not env:
        return raw, None
    if env not in envs:
        close = difflib.get_close_matches(env, list(envs), 1, 0.5)
        problems.append(Problem("environments", f"no environment named {env!r} (asked for by --env "
                                "or PYMOCK_ENV)", f"did you mean {close[0]!r}?" if close else
                                "defined: " + (", ".join(envs) or "none")))
        return raw, None
    return _apply(raw, envs[env]), env


def _check_environment(raw: dict, name: str, block: dict, problems: list, allowed_keys,
                       chosen: bool) -> None:
    where = f"environments.{name}"
    for key in block:
        if key == "environments" or key not in allowed_keys:
            close = difflib.get_close_matches(str(key), list(allowed_keys), 1, 0.6)
            problems.append(Problem(f"{where}.{key}", "not a section an environment can change",
                                    f"did you mean '{close[0]}'?" if close else None))
    changes = block.get("endpoints", [])
    if not isinstance(changes, list):
        problems.append(Problem(f"{where}.endpoints", "expected a list of changes, each with the mock's id"))
        return
    ids = {item.get("id") for item in raw.get("endpoints", []) if isinstance(item, dict)} \
        if isinstance(raw.get("endpoints"), list) else set()
    for index, change in enumerate(changes):
        at = f"{where}.endpoints[{index}]"
        if not isinstance(change, dict) or not isinstance(change.get("id"), str):
            problems.append(Problem(at, "each change needs the id of the mock it changes",
                                    'e.g. {"id": "get-user", "latency_ms": 800}'))
        elif chosen and change["id"] not in ids:
            close = difflib.get_close_matches(change["id"], [i for i in ids if isinstance(i, str)], 1)
            problems.append(Problem(f"{at}.id", f"no mock with id {change['id']!r} in the base config",
                                    f"did you mean {close[0]!r}?" if close else
                                    "environments change mocks that have an explicit id; they cannot add mocks"))


def _apply(raw: dict, block: dict) -> dict:
    out = copy.deepcopy(raw)
    for key, value in block.items():
        if key != "endpoints":
            merged = merge_patch(out.get(key), value)
            if merged is None:
                out.pop(key, None)
            else:
                out[key] = merged
    changes = {c["id"]: c for c in block.get("endpoints", [])}
    out["endpoints"] = [merge_patch(item, changes[item["id"]]) if isinstance(item, dict) and
                        item.get("id") in changes else item for item in out.get("endpoints", [])]
    return out




# ---------------------------------------------------------------- mock history

class MockHistory:
    """Versions of each mock, oldest first; ``record`` compares two configs after an admin edit."""

    def __init__(self, keep: int = 50):
        self.keep = keep
        self._lock = threading.Lock()
        self._versions: dict[str, deque] = {}
        self._numbers: dict[str, int] = {}

    def record(self, old, new, at: float, reason: str = "admin edit") -> list:
        """Add a version for every mock whose source differs; returns the ids that changed."""
        before = {e.id: e.source for e in old.endpoints}
        after = {e.id: e.source for e in new.endpoints}
        changed = []
        with self._lock:
            for ident in [*before, *(i for i in after if i not in before)]:
                if before.get(ident) == after.get(ident):
                    continue
                if ident not in self._versions and ident in before:
                    self._add(ident, before[ident], at, "as loaded")
                self._add(ident, after.get(ident), at, reason if ident in after else "deleted")
                changed.append(ident)
        return changed

    def _add(self, ident: str, source, at: float, reason: str) -> None:
        number = self._numbers.get(ident, 0) + 1
        self._numbers[ident] = number
        versions = self._versions.setdefault(ident, deque(maxlen=self.keep))
        versions.append({"version": number, "at": at, "change": reason,
                         "mock": copy.deepcopy(source) if source is not None else None})

    def versions(self, ident: str) -> list:
        with self._lock:
            return [dict(v) for v in self._versions.get(ident, ())]

    def version(self, ident: str, number: int) -> dict | None:
        for entry in self.versions(ident):
            if entry["version"] == number:
                return entry
        return None

    def current(self, ident: str) -> int:
        with self._lock:
            return self._numbers.get(ident, 1)


# ---------------------------------------------------------------- admin routes

def _json(status: int, payload) -> Response:
    return Response(status, [("Content-Type", "application/json")],
                    json.dumps(payload, indent=2, default=str).encode())


def history(app, config, request, params):
    ident = params["id"]
    versions = app.history.versions(ident)
    endpoint = config.endpoint(ident)
    if not versions:
        if endpoint is None:
            raise NotFoundError("mock", ident)
        versions = [{"version": 1, "at": app.started_at, "change": "as loaded", "mock": endpoint.source}]
    return _json(200, {"id": ident, "version": versions[-1]["version"], "exists": endpoint is not None,
                       "versions": versions[::-1]})


def restore(app, config, request, params):
    ident, text = params["id"], params["version"]
    if not text.isdigit():
        return problem_response(400, "Invalid version", f"a version is a whole number, got {text!r}")
    entry = app.history.version(ident, int(text))
    if entry is None:
        if not app.history.versions(ident) and config.endpoint(ident) is None:
            raise NotFoundError("mock", ident)
        return problem_response(404, "Unknown version", f"mock {ident!r} has no version {text} in its history",
                                hint=f"GET /__admin/mocks/{ident}/history lists them")
    if entry["mock"] is None:
        return problem_response(409, "Nothing to restore", f"version {text} of {ident!r} is its deletion")
    source = {**entry["mock"], "id": ident}
    endpoint = config.endpoint(ident)

    def mutate(raw):
        mocks = raw.setdefault("endpoints", [])
        if endpoint is None:
            mocks.append(source)
        else:
            mocks[endpoint.order] = source
    fresh = _edit(app, mutate)
    if isinstance(fresh, Response):
        return fresh
    return _json(200, {"id": ident, "restored": int(text), "version": app.history.current(ident),
                       "mock": fresh.endpoint(ident).source})


def bulk(app, config, request, params):
    """Enable or disable many mocks: ``{"tag": "slow", "enabled": false}`` (or ``"tags"``,
    ``"ids"``); every mock matching any selector changes."""
    try:
        payload = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        return problem_response(400, "Invalid JSON", f"the request body is not valid JSON: {exc}")
    if not isinstance(payload, dict) or not isinstance(payload.get("enabled"), bool):
        return problem_response(400, "Invalid bulk change", 'send {"tag": "slow", "enabled": false} '
                                '(selectors: tag, tags, ids)')
    tags = set(_strings(payload.get("tags"))) | set(_strings(payload.get("tag")))
    ids = set(_strings(payload.get("ids")))
    if not tags and not ids:
        return problem_response(400, "No selector", "name the mocks with tag, tags or ids")
    chosen = [e for e in config.endpoints if e.id in ids or tags.intersection(e.tags)]
    unknown = sorted(ids - {e.id for e in config.endpoints})
    if unknown:
        return problem_response(404, "Unknown mock", f"no mock with id {unknown[0]!r}", ids=unknown)
    enabled = payload["enabled"]
    changing = [e for e in chosen if e.enabled != enabled]
    if changing:
        def mutate(raw):
            for endpoint in changing:
                raw["endpoints"][endpoint.order] = {**raw["endpoints"][endpoint.order], "enabled": enabled}
        fresh = _edit(app, mutate)
        if isinstance(fresh, Response):
            return fresh
    return _json(200, {"enabled": enabled, "matched": [e.id for e in chosen],
                       "changed": [e.id for e in changing]})


def _strings(value) -> list:
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _edit(app, mutate):
    try:
        return app.edit(mutate)
    except ConfigError as exc:
        return problem_response(400, "Invalid mock", f"{len(exc.problems)} problem(s); nothing was changed",
                                errors=exc.problems)


# (method, path, handler, summary) for admin.ADMIN_ROUTES
ADMIN_HANDLERS = [
    ("POST", "/__admin/mocks/bulk", bulk, "Enable or disable many mocks by tag or id"),
    ("GET", "/__admin/mocks/{id}/history", history, "A mock's versions, newest first"),
    ("POST", "/__admin/mocks/{id}/history/{version}/restore", restore, "Make an old version of a mock live again"),
]
