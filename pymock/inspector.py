"""The request inspector: one journal entry explained (``GET /__admin/requests/{id}``).

To the entry it adds ``inspection``: the endpoint that answered (as configured now) and why it
matched, condition by condition, or the near misses when none did; what its templates could
read (path params, query, headers, and the state values they read or wrote); and the response
that was sent.

Layer 1: no sockets, no threads, no files.

>>> from pymock.config import build_config
>>> config = build_config({"endpoints": [{"id": "hi", "path": "/hi/{name}",
...                                       "match": {"query": {"loud": "yes"}}}]})
>>> entry = {"method": "GET", "path": "/hi/ada", "query": "loud=yes", "headers": {}, "body": "",
...          "matched": "hi", "path_params": {"name": "ada"}, "status": 200}
>>> [check["field"] for check in inspect_entry(config, entry)["inspection"]["why"]]
['method', 'path', 'query.loud']

Must not import the app or the admin module (the admin module imports this one).
"""

from __future__ import annotations

from .model import Request

__all__ = ["inspect_entry"]


def inspect_entry(config, entry: dict) -> dict:
    """``entry`` plus an ``inspection`` block."""
    endpoint = config.endpoint(entry["matched"]) if entry.get("matched") else None
    request = _rebuild(entry)
    inspection = {
        "endpoint": _endpoint_view(endpoint) if endpoint is not None else None,
        "why": _why(endpoint.route, request, entry) if endpoint is not None else [],
        "near_misses": entry.get("near_misses", []),
        "template_inputs": {"path_params": entry.get("path_params", {}),
                            "query": request.query_first(), "headers": entry.get("headers", {}),
                            "state": entry.get("state", [])},
        "response": {"status": entry.get("status"), "headers": entry.get("response_headers", {}),
                     "body": entry.get("response_body"), "size": entry.get("response_size")},
    }
    if entry.get("matched") and endpoint is None:
        inspection["note"] = f"mock {entry['matched']!r} is no longer configured"
    return {**entry, "inspection": inspection}


def _rebuild(entry: dict) -> Request:
    target = entry.get("path", "/") + (f"?{entry['query']}" if entry.get("query") else "")
    return Request(entry.get("method", "GET"), target, headers=list(entry.get("headers", {}).items()),
                   body=(entry.get("body") or "").encode())


def _endpoint_view(endpoint) -> dict:
    source = endpoint.source
    return {"id": endpoint.id, "path": endpoint.path,
            "methods": sorted(endpoint.methods) if endpoint.methods else ["ANY"],
            "match": source.get("match", {}), "enabled": endpoint.enabled,
            "features": {key: source[key] for key in ("scenario", "resource", "auth", "rate_limit",
                                                       "bandwidth", "webhook") if key in source}}


def _why(route, request: Request, entry: dict) -> list:
    """Each thing the endpoint checks, with what the request had and whether it held."""
    methods = "|".join(sorted(route.methods)) if route.methods else "ANY"
    checks = [{"field": "method", "expected": methods, "actual": request.method,
               "ok": route.methods is None or request.method in route.methods or
               (request.method == "HEAD" and "GET" in route.methods)},
              {"field": "path", "expected": route.path.source, "actual": request.path,
               "ok": route.path.match(request.path) is not None, "params": entry.get("path_params", {})}]
    for name, matcher in route.query:
        values = request.query.get(name)
        checks.append(_check(f"query.{name}", matcher, values[0] if values else None))
    for name, matcher in route.headers:
        checks.append(_check(f"header.{name}", matcher, request.headers.get(name)))
    for name, matcher in route.cookies:
        checks.append(_check(f"cookie.{name}", matcher, request.cookies.get(name)))
    for matcher in route.body:
        checks.append(_check("body", matcher, request.body))
    if "scenario" in entry:
        checks.append({"field": f"scenario.{entry['scenario']['name']}", "ok": True, **entry["scenario"]})
    return checks


def _check(field: str, matcher, value) -> dict:
    shown = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    return {"field": field, "expected": matcher.description, "actual": shown, "ok": matcher.check(value)}
