"""Contract mode (``off``/``warn``/``strict``) and ``Prefer``: the engine's OpenAPI hook.

Layer 1: no sockets or threads; must not import ``config``, ``engine`` or ``app`` (config
builds a :class:`ContractHook` through :func:`build_hook` and keeps it in
``Config.sections["contract"]``; the engine calls :meth:`ContractHook.respond`). A config
without a spec and without ``responses`` has no hook at all, so contract checking costs
nothing there; with contract ``off`` the hook only serves ``Prefer``.

- ``Prefer: code=404`` / ``example=name`` / ``dynamic=true`` picks a declared status, a named
  example, or a body generated from the schema by the engine's seeded rng (Prism's headers).
  The answer carries ``Preference-Applied``.
- ``warn``: every request and every mock response is checked; violations are logged, put in
  an ``X-Pymock-Contract`` header (``ok`` when there are none), added to the journal entry
  and listed at ``GET /__admin/contract/violations``.
- ``strict``: a bad request gets the spec's 400 (or 422) response when the operation declares
  one, else a 422 ``application/problem+json`` whose ``errors`` are
  ``{location, pointer, keyword, message}``; a request for no operation of the spec gets 404;
  a mock response that breaks the contract becomes a 500 naming the mock and the reasons.
- At config load (contract on) every static mock body is checked against its schema and the
  findings are kept in ``hook.notes`` (logged by the app, printed by ``pymock check``).

>>> parse_settings({"mode": "warn", "responses": False}, None, [])
ContractSettings(mode='warn', requests=True, responses=False)
>>> problems = []
>>> parse_settings("loud", None, problems).mode, str(problems[0])
('off', "contract: unknown contract mode 'loud' (use off, warn or strict)")
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, replace

from .contract_checks import Violation, compile_operation
from .errors import Problem
from .matching import Route, RouteMiss, Router, compile_matcher, compile_path
from .model import Request, Response, problem_response
from .openapi import esc
from .openapi_mocks import endpoint_key, mock_path, parse_prefer, pick_media, sample

__all__ = ["MODES", "ContractSettings", "ContractHook", "ViolationLog", "build_hook",
           "parse_settings", "violations_report", "HEADER"]

MODES = ("off", "warn", "strict")
HEADER = "X-Pymock-Contract"
_HEADER_LIMIT = 1000


@dataclass(frozen=True)
class ContractSettings:
    mode: str = "off"
    requests: bool = True
    responses: bool = True


def parse_settings(value, override: str | None, problems: list) -> ContractSettings:
    """``contract``: a mode, or ``{"mode", "requests", "responses"}``; ``override`` (the CLI's
    ``--contract``) replaces the mode."""
    where = "contract" if isinstance(value, str) else "contract.mode"
    if isinstance(value, str):
        value = {"mode": value}
    if value is not None and not isinstance(value, dict):
        problems.append(Problem("contract", f"expected {' | '.join(MODES)} or an object, got {value!r}"))
        value = {}
    for key in (value or {}):
        if key not in ("mode", "requests", "responses"):
            problems.append(Problem(f"contract.{key}", "unknown key", "allowed here: mode, requests, responses"))
    mode = override or (value or {}).get("mode", "off")
    if mode not in MODES:
        problems.append(Problem(where if override is None else "--contract",
                                f"unknown contract mode {mode!r}", "use off, warn or strict"))
        mode = "off"
    flags = {}
    for key in ("requests", "responses"):
        flag = (value or {}).get(key, True)
        if not isinstance(flag, bool):
            problems.append(Problem(f"contract.{key}", f"expected true or false, got {flag!r}"))
            flag = True
        flags[key] = flag
    return ContractSettings(mode, **flags)


@dataclass(frozen=True)
class _Target:
    """The operation a request is checked against, and its path parameters."""

    loaded: object                 # openapi_mocks.LoadedSpec
    checked: object                # contract_checks.CheckedOperation
    params: dict


# ---------------------------------------------------------------- the hook

class ContractHook:
    """Compiled once per config: the operation index, settings and load-time findings."""

    def __init__(self, settings: ContractSettings, specs: list, endpoints, notes: list):
        self.settings, self.specs = settings, specs
        self.mode = settings.mode
        self.validating = settings.mode != "off"
        self.notes = list(notes)
        for loaded in specs:
            self.notes += [Problem(f"{loaded.where}#{p.path}", p.message, p.hint) for p in loaded.spec.problems]
        self._by_key, self._router = _index(specs)
        self._linked = {e.id: self._link(e) for e in endpoints}
        self._options: dict = {}
        if self.validating:
            risky = {s.name: _risky_patterns(s) for s in specs}
            for loaded in specs:
                self.notes += [Problem(f"{loaded.where}#{ptr}", f"pattern {text!r} can take exponential time "
                                       "on a string it does not match (a quantified group of a repeated class)",
                                       "load-time example checks are skipped for this spec; simplify the pattern")
                               for ptr, text in risky[loaded.name]]
            self.notes += self._check_examples([e for e in endpoints if not self._risky(e, risky)])

    def _link(self, endpoint):
        key = endpoint_key(endpoint.source)
        if key is None:
            return None
        found = self._by_key.get(key) or self._by_key.get((None, key[1]))
        return found

    def operation_of(self, endpoint):
        """(LoadedSpec, Operation) the endpoint is linked to (``openapi``/``operation_id``), or None."""
        return self._linked.get(endpoint.id)

    def _target(self, request: Request, endpoint, params: dict) -> _Target | None:
        linked = self._linked.get(endpoint.id)
        if linked is not None:
            loaded, op = linked
            return _Target(loaded, compile_operation(loaded.spec, op), params)
        found = self._router.find(request)
        if isinstance(found, RouteMiss):
            return None
        loaded, op = found.route.key
        return _Target(loaded, compile_operation(loaded.spec, op), found.path_params)

    # ------------------------------------------------------------ serving

    def respond(self, engine, request: Request, endpoint, params: dict):
        prefer = request.headers.get("prefer")
        if not self.validating and prefer is None:
            return engine.render(*engine.choose(endpoint), endpoint, request, params)
        target = self._target(request, endpoint, params)
        violations = self._request_violations(request, target) if self.validating else []
        if violations and self.mode == "strict":
            outcome = self._reject(engine, request, endpoint, params, target, violations)
        else:
            outcome = self._prefer(engine, request, endpoint, params, target, prefer) if prefer else None
            if outcome is None:
                outcome = engine.render(*engine.choose(endpoint), endpoint, request, params)
            elif outcome.picked == "prefer-error":
                return outcome
            if self.validating and self.settings.responses and target is not None:
                violations += self._response_violations(outcome, endpoint, target)
        if self.validating:
            self._annotate(outcome, violations, target)
        return outcome

    def _request_violations(self, request: Request, target) -> list:
        if not self.settings.requests:
            return []
        if target is None:
            return [Violation("operation", "", "operation",
                              f"{request.method} {request.path} is not an operation of the spec")]
        return target.checked.check_request(request, target.params)

    def _response_violations(self, outcome, endpoint, target) -> list:
        found = target.checked.check_response(outcome.response)
        if found and self.mode == "strict":
            first = found[0]
            outcome.response = problem_response(
                500, "Mock response breaks the contract",
                f"mock {endpoint.id!r} answered {outcome.response.status} to {target.checked.label} "
                f"({target.loaded.name}), which does not match the spec: {first}",
                mock=endpoint.id, operation=target.checked.label,
                errors=[{**v.as_dict(), "direction": v.direction} for v in found])
        return found

    def _annotate(self, outcome, violations: list, target) -> None:
        response = outcome.response
        if violations:
            text = "; ".join(str(v) for v in violations)
            text = f"{len(violations)} violation{'s' if len(violations) != 1 else ''}: {text}"
            if len(text) > _HEADER_LIMIT:
                text = text[:_HEADER_LIMIT - 3] + "..."
            response.headers.append((HEADER, text.encode("ascii", "replace").decode().replace("\n", " ")))
            outcome.notes["contract"] = {
                "mode": self.mode, "operation": target.checked.label if target else None,
                "spec": target.loaded.name if target else None,
                "violations": [{**v.as_dict(), "direction": v.direction} for v in violations]}
        elif self.mode == "warn":
            response.headers.append((HEADER, "ok"))

    def _reject(self, engine, request, endpoint, params, target, violations):
        if target is None:
            response = problem_response(404, "Not in the contract", str(violations[0]),
                                        errors=[v.as_dict() for v in violations])
            return _outcome(endpoint, params, response, "contract")
        for code in (400, 422):
            if str(code) in target.checked.responses:
                outcome = self._status(engine, request, endpoint, params, target, code)
                if outcome is not None:
                    outcome.picked = "contract"
                    return outcome
        response = problem_response(
            422, "Request does not match the contract",
            f"{len(violations)} problem(s) with this request to {target.checked.label} "
            f"({target.loaded.name}); the first: {violations[0]}",
            errors=[v.as_dict() for v in violations], operation=target.checked.label)
        return _outcome(endpoint, params, response, "contract")

    # ------------------------------------------------------------ Prefer

    def options(self, endpoint) -> list:
        """(status, example name, declared key, ResponseSpec) of every response a mock offers."""
        found = self._options.get(endpoint.id)
        if found is None:
            link = endpoint.source.get("openapi") if isinstance(endpoint.source.get("openapi"), dict) else {}
            found = [(endpoint.response.status, link.get("example", ""), link.get("declared"), endpoint.response)]
            raw = endpoint.source.get("responses") if isinstance(endpoint.source.get("responses"), list) else []
            for index, (status, example, spec) in enumerate(endpoint.responses):
                declared = raw[index].get("declared") if index < len(raw) and isinstance(raw[index], dict) else None
                found.append((status, example, declared, spec))
            self._options[endpoint.id] = found
        return found

    def _prefer(self, engine, request, endpoint, params, target, header: str):
        wants = parse_prefer(header)
        code, example = wants.get("code"), wants.get("example")
        dynamic = wants.get("dynamic", "").lower() == "true"
        if not (code or example or dynamic):
            return None
        options = self.options(endpoint)
        if code:
            if not code.isdigit() or not 100 <= int(code) <= 599:
                return _prefer_error(endpoint, params, f"Prefer: code={code} is not an HTTP status")
            options = _with_code(options, int(code))
        if example:
            options = [o for o in options if o[1] == example]
        if not options:
            return self._prefer_fallback(engine, request, endpoint, params, target, code, example)
        status, name, _, spec = options[0]
        outcome = engine.render(spec, "prefer", endpoint, request, params)
        applied = [f"code={status}"] if code else []
        applied += [f"example={name}"] if example else []
        if dynamic and self._dynamic(outcome, target, engine.rng):
            applied.append("dynamic=true")
        if applied:
            outcome.response.headers.append(("Preference-Applied", ", ".join(applied)))
        return outcome

    def _prefer_fallback(self, engine, request, endpoint, params, target, code, example):
        if code and not example and target is not None:
            outcome = self._status(engine, request, endpoint, params, target, int(code))
            if outcome is not None:
                outcome.response.headers.append(("Preference-Applied", f"code={code}"))
                return outcome
        offered = sorted({f"code={o[0]}" + (f", example={o[1]}" if o[1] else "") for o in self.options(endpoint)})
        wanted = ", ".join(f"{k}={v}" for k, v in (("code", code), ("example", example)) if v)
        return _prefer_error(endpoint, params, f"mock {endpoint.id!r} has no response for Prefer: {wanted}",
                             offered)

    def _status(self, engine, request, endpoint, params, target, code: int):
        """The mock's response for ``code``, else one built from the spec (None if undeclared)."""
        options = _with_code(self.options(endpoint), code)
        if options:
            return engine.render(options[0][3], "prefer", endpoint, request, params)
        key = target.checked.declared(code)
        if key is None:
            return None
        definition = target.checked.responses[key]
        media = pick_media(definition.content)
        response = Response(code, [])
        if media is not None:
            value = media.examples[0][1] if media.examples else sample(target.loaded.spec, media.schema)
            _set_body(response, value, media.content_type)
        return _outcome(endpoint, params, response, "spec")

    def _dynamic(self, outcome, target, rng) -> bool:
        if target is None:
            return False
        key = target.checked.declared(outcome.response.status)
        media = pick_media(target.checked.responses[key].content) if key else None
        if media is None or media.schema is None:
            return False
        _set_body(outcome.response, sample(target.loaded.spec, media.schema, rng=rng), media.content_type)
        return True

    # ------------------------------------------------------------ load-time example checks

    def _check_examples(self, endpoints) -> list:
        notes = []
        for endpoint in endpoints:
            target = self._static_target(endpoint)
            if target is None:
                continue
            for label, spec in _static_parts(endpoint, self.options(endpoint)):
                response = Response(spec.status, [(n, v) for n, v in spec.headers if isinstance(v, str)],
                                    spec.body.static)
                for violation in target.checked.check_response(response):
                    notes.append(Problem(f"mock {endpoint.id!r} {label}", str(violation),
                                         f"does not match {target.checked.label} in {target.loaded.name}"))
        return notes

    def _risky(self, endpoint, risky: dict) -> bool:
        linked = self._linked.get(endpoint.id)
        return bool(linked is not None and risky.get(linked[0].name)) or \
            (linked is None and any(risky.values()))

    def _static_target(self, endpoint):
        linked = self._linked.get(endpoint.id)
        if linked is None and endpoint.methods and endpoint.route.path.regex is None:
            method = sorted(endpoint.methods)[0]
            found = self._router.find(Request(method, endpoint.path))
            linked = None if isinstance(found, RouteMiss) else found.route.key
        if linked is None:
            return None
        return _Target(linked[0], compile_operation(linked[0].spec, linked[1]), {})


_RISKY = re.compile(r"\((?:\?:)?(?:\[(?:[^\]\\]|\\.)*\]|\\.|[^()\\])[*+](?:[^()\\]|\\.)*\)(?:[*+]|\{\d+,\})")


def _risky_patterns(loaded) -> list:
    """(pointer, pattern) of every ``pattern`` Python's backtracking ``re`` may hang on."""
    cached = loaded.spec.cache.get("risky_patterns")
    if cached is None:
        cached = []
        stack = [("", loaded.spec.document)]
        while stack:
            pointer, node = stack.pop()
            if isinstance(node, dict):
                if isinstance(node.get("pattern"), str) and _RISKY.search(node["pattern"]):
                    cached.append((pointer, node["pattern"]))
                stack += [(f"{pointer}/{esc(k)}", v) for k, v in node.items() if isinstance(v, (dict, list))]
            elif isinstance(node, list):
                stack += [(f"{pointer}/{i}", v) for i, v in enumerate(node) if isinstance(v, (dict, list))]
        loaded.spec.cache["risky_patterns"] = cached
    return cached


def _static_parts(endpoint, options):
    parts = [(f"status {s}" + (f" example {n!r}" if n else ""), spec) for s, n, _, spec in options]
    parts += [(f"variant[{i}]", spec) for i, (_, spec) in enumerate(endpoint.variants)]
    parts += [(f"sequence[{i}]", spec) for i, spec in enumerate(endpoint.sequence)]
    if endpoint.failure is not None and "failure" in endpoint.source:
        parts.append(("failure", endpoint.failure))
    return [(label, spec) for label, spec in parts if spec.body.template is None and spec.fault is None]


def _with_code(options: list, code: int) -> list:
    exact = [o for o in options if o[0] == code and (o[2] is None or o[2] == str(code))]
    if exact:
        return exact
    ranged = [o for o in options if o[2] == f"{str(code)[0]}XX"] or [o for o in options if o[2] == "default"]
    return [(code, name, declared, replace(spec, status=code)) for _, name, declared, spec in ranged]


def _set_body(response: Response, value, content_type: str) -> None:
    json_type = re.match(r"^application/(?:[\w.+-]+\+)?json\b|^\*/\*$", content_type, re.I)
    if json_type or not isinstance(value, str):
        response.body = json.dumps(value).encode()
        content_type = "application/json" if content_type in ("*/*", "application/*") else content_type
    else:
        response.body = value.encode()
    response.set_header("Content-Type", content_type)


def _outcome(endpoint, params, response, picked: str):
    from .engine import Outcome  # the engine imports this module's callers; import at use
    return Outcome(response, endpoint, params, [], picked)


def _prefer_error(endpoint, params, detail: str, offered=()):
    response = problem_response(400, "Prefer cannot be met", detail, offered=list(offered))
    return _outcome(endpoint, params, response, "prefer-error")


def _index(specs: list):
    """Operations by (spec name, pointer) and (spec name, operationId), and a router over paths."""
    by_key, routes = {}, []
    for loaded in specs:
        for op in loaded.spec.operations:
            for name in (loaded.name, None):
                by_key.setdefault((name, op.pointer), (loaded, op))
                if op.operation_id:
                    by_key.setdefault((name, "operationId:" + op.operation_id), (loaded, op))
            path, query = mock_path(op.path)
            pattern = compile_path(path, op.pointer, [])
            conditions = tuple((k, compile_matcher(v, op.pointer, [])) for k, v in query.items())
            routes.append(Route((loaded, op), op.pointer, frozenset([op.method]), pattern,
                                query=conditions, order=len(routes)))
    return by_key, Router(routes)


def build_hook(value, override, specs: list, endpoints, problems: list, notes: list):
    """The hook for a config, or None when it has no spec, no ``responses`` and contract off."""
    settings = parse_settings(value, override, problems)
    if settings.mode != "off" and not specs:
        problems.append(Problem("contract", f"contract mode {settings.mode!r} needs a spec to check against",
                                'add "openapi": "spec.yaml" to the config, or pass --spec spec.yaml'))
        return None
    if not specs and not any(e.responses for e in endpoints):
        return None
    return ContractHook(settings, specs, endpoints, notes)


# ---------------------------------------------------------------- the violations log

class ViolationLog:
    """The last ``size`` requests that broke the contract (a ring buffer with one lock)."""

    def __init__(self, size: int = 500, clock=time.time, log=None):
        self._entries: deque = deque(maxlen=size)
        self._lock = threading.Lock()
        self._clock, self._log = clock, log
        self.total = 0

    def record(self, request: Request, outcome) -> None:
        found = outcome.notes.get("contract")
        if not found:
            return
        entry = {"time": self._clock(), "request_id": request.id, "method": request.method,
                 "path": request.path, "mock": outcome.endpoint.id if outcome.endpoint else None,
                 "status": outcome.response.status, **found}
        with self._lock:
            self.total += 1
            entry["id"] = self.total
            self._entries.append(entry)
        if self._log is not None:
            for violation in found["violations"]:
                self._log(f"contract {found['mode']}: {request.method} {request.path} -> "
                          f"{outcome.response.status}: {violation['direction']} {violation['location']} "
                          f"{violation['pointer'] or '/'}: {violation['message']}")

    def list(self) -> list:
        """Newest first."""
        with self._lock:
            return [dict(entry) for entry in reversed(self._entries)]

    def clear(self) -> int:
        with self._lock:
            count = len(self._entries)
            self._entries.clear()
            return count

    def stats(self) -> dict:
        with self._lock:
            return {"count": len(self._entries), "total": self.total,
                    "evicted": self.total - len(self._entries) if self.total > len(self._entries) else 0}


def violations_report(log: ViolationLog | None, hook) -> dict:
    """What ``GET /__admin/contract/violations`` answers."""
    entries = log.list() if log is not None else []
    stats = log.stats() if log is not None else {"count": 0, "total": 0, "evicted": 0}
    return {"mode": hook.mode if hook is not None else "off",
            "specs": [{"name": s.name, "version": s.spec.version, "operations": len(s.spec.operations)}
                      for s in (hook.specs if hook is not None else [])],
            "violations": entries, **stats,
            "load_report": [p.as_dict() for p in (hook.notes if hook is not None else [])]}
