"""Admin routes for state: scenarios, the key-value store, JWTs for simulated auth, resource
collections and webhook deliveries. ``ADMIN_HANDLERS`` is added to ``admin.ADMIN_ROUTES``.

Layer 1: handlers take the app, the config snapshot, the request and the path params, and
return a ``Response``; the state they change is ``app.stateful`` (``features.Stateful``).

>>> from pymock.app import MockApp
>>> from pymock.model import Request
>>> app = MockApp({"state": {"scenarios": {"cart": "empty"}}, "endpoints": []})
>>> json.loads(app.handle(Request("GET", "/__admin/scenarios")).body)["scenarios"][0]["state"]
'empty'

Must not import the admin module (it imports this one).
"""

from __future__ import annotations

import difflib
import json

from .features import STARTED, Stateful
from .model import Request, Response, problem_response
from .simauth import issue_token
from .stores import MISSING, SCOPES

__all__ = ["ADMIN_HANDLERS"]


def _json(status: int, payload, headers=()) -> Response:
    body = json.dumps(payload, indent=2, default=str).encode()
    return Response(status, [("Content-Type", "application/json"), *headers], body)


def _body(request: Request, kind=dict):
    try:
        payload = json.loads(request.body) if request.body.strip() else None
    except (ValueError, UnicodeDecodeError) as exc:
        return problem_response(400, "Invalid JSON", f"the request body is not valid JSON: {exc}")
    if not isinstance(payload, kind):
        return problem_response(400, "Invalid body", f"expected a JSON {'object' if kind is dict else 'value'}")
    return payload


def _scenario_views(stateful: Stateful, config) -> list:
    section, live = stateful.section, stateful.store.scenarios()
    ids = {endpoint.order: endpoint.id for endpoint in config.endpoints}
    return [{"name": name, "state": live.get(name, section.initial.get(name, STARTED)),
             "initial": section.initial.get(name), "states": list(section.states.get(name, ())),
             "endpoints": [ids[order] for order, f in sorted(section.endpoints.items())
                           if f.scenario is not None and f.scenario.name == name and order in ids]}
            for name in sorted({*section.initial, *live})]


def scenarios_list(app, config, request, params):
    return _json(200, {"scenarios": _scenario_views(app.stateful, config)})


def scenarios_put(app, config, request, params):
    """Set several scenarios at once: ``{"cart": "has_items", "login": "Started"}``."""
    payload = _body(request)
    if isinstance(payload, Response):
        return payload
    bad = [name for name, state in payload.items() if not isinstance(state, str) or not state]
    if bad:
        return problem_response(400, "Invalid state", f"{bad[0]!r}: a state is non-empty text",
                                hint='send {"scenario": "state", ...}')
    for name, state in payload.items():
        app.stateful.store.set_scenario(name, state)
    return scenarios_list(app, config, request, params)


def scenario_put(app, config, request, params):
    payload = _body(request)
    if isinstance(payload, Response):
        return payload
    state = payload.get("state")
    if not isinstance(state, str) or not state:
        return problem_response(400, "Invalid state", 'send {"state": "has_items"}')
    app.stateful.store.set_scenario(params["name"], state)
    return _json(200, _one_scenario(app.stateful, config, params["name"]))


def _one_scenario(stateful: Stateful, config, name: str) -> dict:
    for view in _scenario_views(stateful, config):
        if view["name"] == name:
            return view
    return None


def scenarios_reset(app, config, request, params):
    app.stateful.store.reset_scenarios(app.stateful.section.initial)
    return scenarios_list(app, config, request, params)


def scenario_reset(app, config, request, params):
    name = params["name"]
    if _one_scenario(app.stateful, config, name) is None:
        return _unknown("scenario", name, [v["name"] for v in _scenario_views(app.stateful, config)])
    app.stateful.store.reset_scenarios(app.stateful.section.initial, [name])
    return _json(200, _one_scenario(app.stateful, config, name) or {"name": name, "state": None})


def _unknown(kind: str, name: str, known: list) -> Response:
    close = difflib.get_close_matches(name, known, 1)
    return problem_response(404, f"Unknown {kind}", f"no {kind} named {name!r}" +
                            (f" (did you mean {close[0]!r}?)" if close else ""), known=known)


def _scope_param(request: Request):
    scope = request.query_first().get("scope")
    if scope is not None and scope.split(":", 1)[0] not in SCOPES:
        return problem_response(400, "Invalid scope", f"unknown scope {scope!r}",
                                hint="global, session:<id> or client:<address>")
    return scope


def store_list(app, config, request, params):
    scope = _scope_param(request)
    if isinstance(scope, Response):
        return scope
    return _json(200, {"scopes": app.stateful.store.entries(scope)})


def store_get(app, config, request, params):
    scope = _scope_param(request)
    if isinstance(scope, Response):
        return scope
    value = app.stateful.store.get(scope or "global", params["key"], MISSING)
    if value is MISSING:
        return problem_response(404, "Unknown key", f"no key {params['key']!r} in scope {scope or 'global'!r}")
    return _json(200, {"scope": scope or "global", "key": params["key"], "value": value})


def store_put(app, config, request, params):
    scope = _scope_param(request)
    if isinstance(scope, Response):
        return scope
    payload = _body(request)
    if isinstance(payload, Response):
        return payload
    if "value" not in payload:
        return problem_response(400, "Value required", 'send {"value": ...}')
    app.stateful.store.set(scope or "global", params["key"], payload["value"])
    return _json(200, {"scope": scope or "global", "key": params["key"], "value": payload["value"]})


def store_clear(app, config, request, params):
    scope = _scope_param(request)
    if isinstance(scope, Response):
        return scope
    return _json(200, {"deleted": app.stateful.store.clear(scope)})


def store_delete(app, config, request, params):
    scope = _scope_param(request)
    if isinstance(scope, Response):
        return scope
    if not app.stateful.store.delete(scope or "global", params["key"]):
        return problem_response(404, "Unknown key", f"no key {params['key']!r} in scope {scope or 'global'!r}")
    return Response(204, [])


def auth_token(app, config, request, params):
    """Issue a JWT signed with the config's ``auth.jwt`` settings: body ``{"sub": "ada",
    "claims": {...}, "expires_in_s": 600}`` (all optional)."""
    payload = _body(request) if request.body.strip() else {}
    if isinstance(payload, Response):
        return payload
    claims, lifetime = payload.get("claims", {}), payload.get("expires_in_s")
    if not isinstance(claims, dict):
        return problem_response(400, "Invalid claims", "claims must be a JSON object")
    if lifetime is not None and (isinstance(lifetime, bool) or not isinstance(lifetime, int) or lifetime < 1):
        return problem_response(400, "Invalid expires_in_s", "expires_in_s is a whole number of seconds from 1")
    if "sub" in payload:
        claims = {"sub": payload["sub"], **claims}
    settings = app.stateful.section.jwt
    token = issue_token(settings, claims, now=app.stateful.clock(), expires_in_s=lifetime)
    return _json(200, {"access_token": token, "token_type": "Bearer",
                       "expires_in": lifetime or settings.expires_in_s})


def resources_list(app, config, request, params):
    counts = app.stateful.collections.counts()
    return _json(200, {"resources": {name: counts.get(name, 0) for name in
                                     sorted({*app.stateful.section.resources, *counts})}})


def resource_reset(app, config, request, params):
    spec = app.stateful.section.resources.get(params["name"])
    if spec is None:
        return _unknown("resource", params["name"], sorted(app.stateful.section.resources))
    app.stateful.collections.install(spec, force=True)
    return resources_list(app, config, request, params)


def webhooks_list(app, config, request, params):
    dispatcher = app.stateful.webhooks
    deliveries = dispatcher.deliveries() if dispatcher is not None else []
    return _json(200, {"deliveries": deliveries, "dispatcher": dispatcher is not None})


# (method, path, handler, summary) for admin.ADMIN_ROUTES
ADMIN_HANDLERS = [
    ("GET", "/__admin/scenarios", scenarios_list, "Scenarios: current state, first state, known states"),
    ("PUT", "/__admin/scenarios", scenarios_put, "Set several scenarios: {\"name\": \"state\", ...}"),
    ("POST", "/__admin/scenarios/reset", scenarios_reset, "Put every scenario back to its first state"),
    ("PUT", "/__admin/scenarios/{name}", scenario_put, "Set one scenario: {\"state\": \"...\"}"),
    ("POST", "/__admin/scenarios/{name}/reset", scenario_reset, "Put one scenario back to its first state"),
    ("GET", "/__admin/store", store_list, "The key-value store by scope (?scope= filters)"),
    ("DELETE", "/__admin/store", store_clear, "Empty the key-value store (?scope= for one scope)"),
    ("GET", "/__admin/store/{key}", store_get, "One key (?scope=, default global)"),
    ("PUT", "/__admin/store/{key}", store_put, "Set one key: {\"value\": ...} (?scope=)"),
    ("DELETE", "/__admin/store/{key}", store_delete, "Delete one key (?scope=)"),
    ("POST", "/__admin/auth/token", auth_token, "Issue a JWT for mocks with jwt auth"),
    ("GET", "/__admin/resources", resources_list, "Resource collections and their sizes"),
    ("POST", "/__admin/resources/{name}/reset", resource_reset, "Re-seed one collection from the config"),
    ("GET", "/__admin/webhooks", webhooks_list, "Recent webhook deliveries"),
]
