"""Endpoint features that need state or a decision before the answer: ``scenario`` gates,
``resource`` collections, ``auth``, ``rate_limit``, ``bandwidth`` and ``webhook``; plus the
top-level ``state``, ``resources`` and ``auth`` sections they draw on.

Layer 1: no sockets, no threads (webhooks are handed to a dispatcher from layer 2, if the
app was given one). ``parse_section`` is ``config.SECTION_PARSERS["state"]``: it compiles the
three sections and every endpoint's feature keys into a ``StateSection``, or returns None when
a config uses none of them, so the engine's hot path does not change for plain mocks.

A request to a config that uses features goes through ``Stateful.respond``:

1. choose the endpoint: scenario-gated endpoints whose scenario is in another state are
   skipped, so the next candidate answers (one store transaction covers the choice, the
   auth and rate-limit decisions and the scenario's move, so concurrent requests never lose
   or repeat a transition);
2. refuse it (401/403 from ``auth``, 429 from ``rate_limit``), or answer it from a resource
   collection, a ``login`` endpoint, or the engine (templates see ``state``);
3. add ``RateLimit-*`` headers, the bandwidth cap, and queue the webhooks.

>>> raw = {"endpoints": [{"path": "/cart", "scenario": {"name": "cart", "when": "empty", "then": "full"}}]}
>>> section = parse_section(None, [], raw)
>>> section.initial, section.endpoints[0].scenario, section.gated
({'cart': 'empty'}, Scenario(name='cart', when=('empty',), then='full'), True)
>>> parse_section(None, [], {"endpoints": [{"path": "/plain"}]}) is None
True

Must not import the config, the app or the admin module (they import this).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from . import templates
from .errors import Problem, TemplateError, kind_name, unknown_key_problems
from .matching import Mismatch, NearMiss, RouteMiss, split_path
from .model import Request, Response
from .ratelimit import RateLimiter, bucket_key, limit_headers, parse_rate_limit, too_many_requests
from .resources import Collections, parse_resource_ref, parse_resources
from .simauth import JwtSettings, check, login, parse_auth, parse_settings
from .stores import MISSING, SCOPES, StateError, StateStore, StateView

__all__ = ["Scenario", "WebhookSpec", "WebhookJob", "EndpointFeatures", "StateSection", "Stateful",
           "parse_section", "render_webhook", "FEATURE_KEYS", "STARTED"]

FEATURE_KEYS = ("scenario", "resource", "auth", "rate_limit", "bandwidth", "webhook")
STATE_KEYS = ("scope", "session_header", "scenarios", "store")
WEBHOOK_KEYS = ("url", "method", "headers", "body", "delay_ms", "retries", "retry_backoff_ms", "timeout_s")
STARTED = "Started"   # a scenario no endpoint or config names a first state for starts here


# ---------------------------------------------------------------- compiled config

@dataclass(frozen=True)
class Scenario:
    name: str
    when: tuple | None = None     # the states the endpoint answers in; None: any state
    then: str | None = None       # where the scenario goes after the endpoint answered


@dataclass(frozen=True)
class WebhookSpec:
    url: object                   # str or a compiled Template
    method: str = "POST"
    headers: tuple = ()           # ((name, str or Template), ...)
    body: object = None           # a templates.BodyTemplate, or None for no body
    delay_s: float = 0.0
    retries: int = 2
    backoff_s: float = 1.0
    timeout_s: float = 5.0


@dataclass(frozen=True)
class WebhookJob:
    """One callback to send, rendered on the request thread, sent by a dispatcher off it."""

    url: str
    method: str
    headers: tuple
    body: bytes
    delay_s: float = 0.0
    retries: int = 2
    backoff_s: float = 1.0
    timeout_s: float = 5.0
    endpoint: str = ""
    request_id: str = ""


@dataclass(frozen=True)
class EndpointFeatures:
    scenario: Scenario | None = None
    resource: object = None       # resources.ResourceSpec
    auth: object = None           # simauth.AuthSpec
    rate_limit: object = None     # ratelimit.RateLimit
    bandwidth: int = 0
    webhooks: tuple = ()


@dataclass(frozen=True)
class StateSection:
    scope: str = "global"
    session_header: str = "x-session-id"
    initial: dict = field(default_factory=dict)     # scenario -> first state
    states: dict = field(default_factory=dict)      # scenario -> states the config names
    store_seed: str = "{}"                          # JSON text: immutable
    resources: dict = field(default_factory=dict)   # name -> ResourceSpec (declared or used)
    jwt: JwtSettings = JwtSettings()
    endpoints: dict = field(default_factory=dict)   # endpoint order -> EndpointFeatures
    gated: bool = False                             # some endpoint has a scenario


_EMPTY = StateSection()


# ---------------------------------------------------------------- the runtime

class Stateful:
    """The state a server keeps for these features, and the request pipeline that uses it.

    ``clock`` is wall time (JWT expiry); rate limits use ``monotonic`` (default
    ``time.monotonic``, or ``clock`` when a test injects one). ``webhooks`` is an object with
    ``submit(job)`` (``webhooks.WebhookDispatcher``), or None.
    """

    def __init__(self, store: StateStore | None = None, *, clock=time.time, monotonic=None,
                 webhooks=None):
        self.store = store or StateStore()
        self.collections = Collections(self.store)
        self.clock = clock
        self.limiter = RateLimiter(clock=monotonic or (time.monotonic if clock is time.time else clock))
        self.webhooks = webhooks
        self.section = _EMPTY   # the live config's, for template scopes and the admin API

    def install(self, config) -> None:
        """Make ``config``'s section live; seed what the store does not hold yet."""
        section = config.sections.get("state") or _EMPTY
        self.section = section
        self.store.seed_scenarios(section.initial)
        seed = json.loads(section.store_seed)
        if seed:
            self.store.seed("global", seed)
        for spec in section.resources.values():
            self.collections.install(spec)

    def reset(self) -> None:
        """Scenarios back to their first states, the store emptied (then re-seeded), resources
        re-seeded, rate limits refilled."""
        section = self.section
        self.store.reset_scenarios(section.initial)
        self.store.clear()
        self.store.seed("global", json.loads(section.store_seed))
        for spec in section.resources.values():
            self.collections.install(spec, force=True)
        self.limiter.reset()

    def view(self, request: Request, notes: dict | None = None) -> StateView:
        section = self.section
        return StateView(self.store, request, section.scope, section.session_header, notes)

    # ------------------------------------------------------------ the pipeline

    def respond(self, engine, config, section: StateSection, request: Request):
        notes: dict = {}
        if section.gated:
            found, denial, headers = self.store.transaction(
                lambda txn: self._select(txn, config, section, request, notes))
        else:
            found = config.router.find(request)
            denial, headers = (None, ()) if isinstance(found, RouteMiss) else \
                self._admit(section.endpoints.get(found.route.key.order), found.route.key, request, notes)
        if isinstance(found, RouteMiss):
            return _noted(engine.answer(config, request, found), notes)
        endpoint = found.route.key
        features = section.endpoints.get(endpoint.order)
        if denial is not None:
            return _outcome(denial.response, endpoint, found.path_params, denial.reason, notes)
        outcome = self._answer(engine, config, request, found, features, notes)
        if features is not None:
            self._finish(engine, request, found, features, outcome, headers)
        return outcome

    def _select(self, txn, config, section: StateSection, request: Request, notes: dict):
        states, rejected = {}, []

        def current(name):
            if name not in states:
                value = txn.get("scenario", name)
                states[name] = section.initial.get(name, STARTED) if value is MISSING else value
            return states[name]

        def accept(route) -> bool:
            features = section.endpoints.get(route.key.order)
            gate = features.scenario if features is not None else None
            if gate is None or gate.when is None or current(gate.name) in gate.when:
                return True
            rejected.append((route, gate, states[gate.name]))
            return False
        found = config.router.find(request, accept)
        if isinstance(found, RouteMiss):
            return _explain_gated(found, rejected), None, ()
        endpoint = found.route.key
        features = section.endpoints.get(endpoint.order)
        denial, headers = self._admit(features, endpoint, request, notes)
        gate = features.scenario if features is not None else None
        if gate is not None:
            before = current(gate.name)
            notes["scenario"] = {"name": gate.name, "state": before}
            if denial is None and gate.then is not None:
                txn.put("scenario", gate.name, gate.then)
                notes["scenario"] = {"name": gate.name, "from": before, "to": gate.then}
        return found, denial, headers

    def _admit(self, features, endpoint, request: Request, notes: dict):
        """``(Denial or None, headers to add)`` from the endpoint's auth and rate limit."""
        if features is None:
            return None, ()
        auth = features.auth
        if auth is not None and auth.type != "login":
            result = check(auth, request, self.clock())
            if not isinstance(result, dict):
                notes["auth"] = {"type": auth.type, "result": result.reason}
                return result, ()
            notes["auth"] = {"type": auth.type, "result": "ok", "subject": result["subject"]}
        rule = features.rate_limit
        if rule is None:
            return None, ()
        decision = self.limiter.take(bucket_key(rule, endpoint.id, request), rule)
        notes["rate_limit"] = {"allowed": decision.allowed, "remaining": decision.remaining}
        if not decision.allowed:
            return _Refused(too_many_requests(rule, decision), "rate_limited"), ()
        return None, limit_headers(rule, decision)

    def _answer(self, engine, config, request: Request, found, features, notes: dict):
        endpoint = found.route.key
        if features is not None and features.resource is not None:
            rest = found.path_params.get("**", "")
            segments = split_path(request.path)
            prefix = "/" + "/".join(segments[:len(segments) - len(split_path(rest))])
            response = self.collections.handle(features.resource, request, prefix, rest)
            return _outcome(response, endpoint, found.path_params, "resource", notes)
        if features is not None and features.auth is not None and features.auth.type == "login":
            response = login(features.auth, request, self.clock())
            return _outcome(response, endpoint, found.path_params, "login", notes)
        return _noted(engine.answer(config, request, found), notes)

    def _finish(self, engine, request: Request, found, features: EndpointFeatures, outcome, headers) -> None:
        response = outcome.response
        if headers:
            response.headers.extend(headers)
        if features.bandwidth:
            response.bytes_per_s = features.bandwidth
        if features.webhooks:
            outcome.notes["webhooks"] = [self._fire(engine, spec, request, found, response)
                                         for spec in features.webhooks]

    def _fire(self, engine, spec: WebhookSpec, request: Request, found, response: Response) -> dict:
        try:
            job = render_webhook(spec, request, found.path_params, response, self.view(request),
                                 engine.render_env, found.route.key.id)
        except (TemplateError, StateError) as exc:
            return {"status": "not sent", "error": str(exc)}
        if self.webhooks is None:
            return {"url": job.url, "status": "not sent",
                    "error": "no webhook dispatcher: serve with MockServer or the CLI"}
        self.webhooks.submit(job)
        return {"url": job.url, "status": "queued", "delay_ms": round(job.delay_s * 1000)}


@dataclass(frozen=True)
class _Refused:
    response: Response
    reason: str


def _outcome(response: Response, endpoint, params: dict, picked: str, notes: dict):
    # The engine module imports the config, which imports this one: import Outcome on use.
    from .engine import Outcome
    return Outcome(response, endpoint, params, [], picked, dict(notes))


def _noted(outcome, notes: dict):
    if notes:
        outcome.notes = {**notes, **outcome.notes}
    return outcome


def _explain_gated(miss: RouteMiss, rejected: list) -> RouteMiss:
    """A miss whose candidates were skipped for their scenario names them first."""
    if not rejected:
        return miss
    near = [NearMiss(route, [Mismatch(f"scenario.{gate.name}", "|".join(gate.when), state)], 0.5)
            for route, gate, state in rejected]
    return RouteMiss(miss.allowed_methods, (near + list(miss.near_misses))[:3])


def render_webhook(spec: WebhookSpec, request: Request, params: dict, response: Response,
                   state: StateView, env, endpoint_id: str = "") -> WebhookJob:
    """The callback to send for ``request``; templates see ``request``, ``response``, ``state``."""
    context = {"request": templates.request_view(request, params), "state": state,
               "response": _response_view(response)}
    url = spec.url if isinstance(spec.url, str) else spec.url.render(context, env)
    headers = [(name, value if isinstance(value, str) else value.render(context, env))
               for name, value in spec.headers]
    body = b""
    if spec.body is not None:
        value = spec.body.render(context, env)
        if isinstance(value, str):
            body = value.encode()
        else:
            body = json.dumps(value).encode()
            if not any(name.lower() == "content-type" for name, _ in headers):
                headers.append(("Content-Type", "application/json"))
    return WebhookJob(url, spec.method, tuple(headers), body, spec.delay_s, spec.retries,
                      spec.backoff_s, spec.timeout_s, endpoint_id, request.id)


def _response_view(response: Response) -> dict:
    text = response.body.decode("utf-8", "replace")
    try:
        body = json.loads(text) if text.strip() else None
    except ValueError:
        body = text
    return {"status": response.status, "headers": {k.lower(): v for k, v in response.headers}, "body": body}


# ---------------------------------------------------------------- config

def parse_section(value, problems: list, raw: dict) -> StateSection | None:
    """``SECTION_PARSERS["state"]``: the ``state``, ``resources`` and ``auth`` sections and the
    endpoints' feature keys; None when the config uses none of them."""
    settings = _state_block(value, problems)
    declared = parse_resources(raw.get("resources"), problems)
    jwt = parse_settings(raw.get("auth"), problems)
    endpoints, resources = {}, dict(declared)
    items = raw.get("endpoints")
    for index, item in enumerate(items if isinstance(items, list) else []):
        if isinstance(item, dict) and any(key in item for key in FEATURE_KEYS):
            features = _endpoint(item, f"endpoints[{index}]", problems, declared, jwt)
            endpoints[index] = features
            if features.resource is not None:
                resources.setdefault(features.resource.name, features.resource)
    if value is None and not endpoints and not declared and raw.get("auth") is None:
        return None
    initial, states = _scenario_states(settings["scenarios"], endpoints)
    return StateSection(settings["scope"], settings["session_header"], initial, states,
                        json.dumps(settings["store"]), resources, jwt, endpoints,
                        any(f.scenario is not None for f in endpoints.values()))


def _state_block(value, problems: list) -> dict:
    out = {"scope": "global", "session_header": "x-session-id", "scenarios": {}, "store": {}}
    if value is None:
        return out
    if not isinstance(value, dict):
        problems.append(Problem("state", f"expected an object, got {kind_name(value)}",
                                'e.g. {"scope": "session", "scenarios": {"cart": "empty"}}'))
        return out
    _check_keys(value, STATE_KEYS, "state", problems)
    scope = value.get("scope", "global")
    if scope not in SCOPES:
        problems.append(Problem("state.scope", f"unknown scope {scope!r}", "use one of " + ", ".join(SCOPES)))
    else:
        out["scope"] = scope
    header = value.get("session_header", "x-session-id")
    if not isinstance(header, str) or not header:
        problems.append(Problem("state.session_header", f"expected a header name, got {header!r}"))
    else:
        out["session_header"] = header.lower()
    for name in ("scenarios", "store"):
        block = value.get(name, {})
        if not isinstance(block, dict):
            problems.append(Problem(f"state.{name}", f"expected an object, got {kind_name(block)}"))
        elif name == "scenarios" and not all(isinstance(s, str) and s for s in block.values()):
            problems.append(Problem("state.scenarios", "expected scenario: first state (text)",
                                    'e.g. {"cart": "empty"}'))
        else:
            out[name] = block
    return out


def _scenario_states(declared: dict, endpoints: dict) -> tuple[dict, dict]:
    """First states (declared, else the first ``when`` of the first endpoint naming the
    scenario, else ``Started``) and every state the config names, per scenario."""
    initial, states = dict(declared), {name: [state] for name, state in declared.items()}
    for order in sorted(endpoints):
        gate = endpoints[order].scenario
        if gate is None:
            continue
        if gate.name not in initial:
            initial[gate.name] = gate.when[0] if gate.when else STARTED
        known = states.setdefault(gate.name, [initial[gate.name]])
        for state in (*(gate.when or ()), *((gate.then,) if gate.then else ())):
            if state not in known:
                known.append(state)
    return initial, {name: tuple(values) for name, values in states.items()}


def _endpoint(item: dict, where: str, problems: list, declared: dict, jwt: JwtSettings) -> EndpointFeatures:
    out = {}
    if "scenario" in item:
        out["scenario"] = _scenario(item["scenario"], f"{where}.scenario", problems)
    if "resource" in item:
        out["resource"] = parse_resource_ref(item["resource"], f"{where}.resource", problems, declared)
        _check_resource_endpoint(item, where, problems)
    if "auth" in item:
        out["auth"] = parse_auth(item["auth"], f"{where}.auth", problems, jwt)
    if "rate_limit" in item:
        out["rate_limit"] = parse_rate_limit(item["rate_limit"], f"{where}.rate_limit", problems)
    if "bandwidth" in item:
        value = item["bandwidth"]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            problems.append(Problem(f"{where}.bandwidth", f"expected bytes per second (a whole "
                                    f"number from 1), got {value!r}", "e.g. 16384 for 16 KiB/s"))
        else:
            out["bandwidth"] = value
    if "webhook" in item:
        out["webhooks"] = _webhooks(item["webhook"], f"{where}.webhook", problems)
    return EndpointFeatures(**out)


def _check_resource_endpoint(item: dict, where: str, problems: list) -> None:
    answers = [key for key in ("response", "body", "body_file", "body_base64", "variants", "sequence")
               if key in item]
    if answers:
        problems.append(Problem(f"{where}.{answers[0]}", "a resource endpoint answers from its "
                                "collection", f"remove {answers[0]}, or the resource key"))
    path = item.get("path")
    if isinstance(path, str) and (path.startswith("^") or "*" in path):
        problems.append(Problem(f"{where}.path", "a resource path is the collection's prefix, "
                                "like /api/users (no regex or wildcards)"))


def _scenario(value, where: str, problems: list) -> Scenario | None:
    if not isinstance(value, dict):
        problems.append(Problem(where, f"expected an object, got {kind_name(value)}",
                                'e.g. {"name": "cart", "when": "empty", "then": "has_items"}'))
        return None
    _check_keys(value, ("name", "when", "then"), where, problems)
    name, when, then = value.get("name"), value.get("when"), value.get("then")
    ok = True
    if not isinstance(name, str) or not name:
        problems.append(Problem(f"{where}.name", "required: the scenario's name" if name is None
                                else f"expected a non-empty string, got {name!r}"))
        ok = False
    if isinstance(when, str):
        when = [when]
    if when is not None and (not isinstance(when, list) or not when or
                             not all(isinstance(s, str) and s for s in when)):
        problems.append(Problem(f"{where}.when", f"expected a state or a list of states, got {when!r}"))
        ok = False
    if then is not None and (not isinstance(then, str) or not then):
        problems.append(Problem(f"{where}.then", f"expected a state, got {then!r}"))
        ok = False
    if ok and when is None and then is None:
        problems.append(Problem(where, "give when (the states it answers in), then (the state it "
                                "moves to), or both"))
        ok = False
    return Scenario(name, tuple(when) if when else None, then) if ok else None


def _webhooks(value, where: str, problems: list) -> tuple:
    items = value if isinstance(value, list) else [value]
    out = []
    for index, block in enumerate(items):
        at = f"{where}[{index}]" if isinstance(value, list) else where
        spec = _webhook(block, at, problems)
        if spec is not None:
            out.append(spec)
    return tuple(out)


def _webhook(block, where: str, problems: list) -> WebhookSpec | None:
    if isinstance(block, str):
        block = {"url": block}
    if not isinstance(block, dict):
        problems.append(Problem(where, f"expected a URL or an object, got {kind_name(block)}",
                                'e.g. {"url": "http://127.0.0.1:9000/hook", "body": {"id": "{{ request.path.id }}"}}'))
        return None
    before = len(problems)
    _check_keys(block, WEBHOOK_KEYS, where, problems)
    url = _webhook_url(block.get("url"), f"{where}.url", problems)
    method = block.get("method", "POST")
    if not isinstance(method, str) or not method.isalpha():
        problems.append(Problem(f"{where}.method", f"expected an HTTP method, got {method!r}"))
    numbers = {name: _seconds(block, name, where, problems, default)
               for name, default in (("delay_ms", 0), ("retry_backoff_ms", 1000))}
    retries = block.get("retries", 2)
    if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 10:
        problems.append(Problem(f"{where}.retries", f"expected 0 to 10, got {retries!r}"))
    timeout = block.get("timeout_s", 5)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        problems.append(Problem(f"{where}.timeout_s", f"expected seconds above 0, got {timeout!r}"))
    headers = _template_headers(block.get("headers", {}), f"{where}.headers", problems)
    body = None
    if "body" in block:
        try:
            body = templates.compile_body(block["body"], name=f"{where}.body")
        except TemplateError as exc:
            problems.append(Problem(f"{where}.body", f"template error at line {exc.line}, column "
                                    f"{exc.col}: {exc.message}"))
    if len(problems) > before:
        return None
    return WebhookSpec(url, method.upper(), headers, body, numbers["delay_ms"], retries,
                       numbers["retry_backoff_ms"], float(timeout))


def _webhook_url(url, where: str, problems: list):
    if not isinstance(url, str) or not url:
        problems.append(Problem(where, "required: the URL to call" if url is None else
                                f"expected a URL, got {url!r}", "e.g. http://127.0.0.1:9000/hook"))
        return None
    if templates.has_template_syntax(url):
        try:
            return templates.compile_template(url, name=where)
        except TemplateError as exc:
            problems.append(Problem(where, f"template error at column {exc.col}: {exc.message}"))
            return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        problems.append(Problem(where, f"not an http(s) URL: {url!r}", "e.g. http://127.0.0.1:9000/hook"))
    return url


def _seconds(block: dict, name: str, where: str, problems: list, default) -> float:
    value = block.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        problems.append(Problem(f"{where}.{name}", f"expected milliseconds (0 or more), got {value!r}"))
        return 0.0
    return value / 1000.0


def _template_headers(value, where: str, problems: list) -> tuple:
    if not isinstance(value, dict):
        problems.append(Problem(where, f"expected an object of header: value, got {kind_name(value)}"))
        return ()
    out = []
    for name, text in value.items():
        if not isinstance(text, str) or "\r" in text or "\n" in text:
            problems.append(Problem(f"{where}.{name}", "expected one line of text"))
            continue
        try:
            out.append((name, templates.compile_template(text, name=f"{where}.{name}")
                        if templates.has_template_syntax(text) else text))
        except TemplateError as exc:
            problems.append(Problem(f"{where}.{name}", f"template error: {exc.message}"))
    return tuple(out)


def _check_keys(obj: dict, allowed, where: str, problems: list) -> None:
    problems.extend(unknown_key_problems(obj, allowed, where))
