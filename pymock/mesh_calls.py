"""The service-call simulation: one request walks its service's declared calls, hop by hop.

Layer 1: nothing here sleeps or opens a socket. Each hop asks, in order: is the service
known and not critical (registry), does its circuit breaker let the call through, what does
chaos do to it, then answers from the mock (in process) or through the injected
``http_call`` (``mesh_edge``, real HTTP). The mock's declared ``calls`` are made in order;
a failed required call fails the hop (502 error, 503 unavailable, 504 timeout, by kind), a
failed optional one only marks it degraded. Latency is simulated: each hop adds its mock and
chaos latency to the plan's ``delay_s`` and to its span's duration, and a dependency's
``timeout_ms`` is judged against that simulated time, so no thread ever waits here.

Must not import sockets, threads, ``mesh`` or anything in layer 2.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

from .breakers import BreakerConfig
from .errors import problem_document
from .model import Request, Response
from .registry import CRITICAL
from .traceparent import (FLAG_RANDOM, FLAG_SAMPLED, TRACEPARENT, TRACESTATE, new_trace_id,
                          parse_traceparent, propagate)
from .tracing import Span

__all__ = ["World", "MockRuntime", "RemoteAnswer", "CallSimulator", "KIND_STATUS",
           "kind_of_status", "breaker_config_for"]

KIND_STATUS = {"error": 502, "unavailable": 503, "timeout": 504}
_KNOWN_FLAGS = FLAG_SAMPLED | FLAG_RANDOM     # flag bits version 00 defines
_NEW_TRACE_FLAGS = FLAG_SAMPLED | FLAG_RANDOM
_HOP_BY_HOP = frozenset(("connection", "keep-alive", "transfer-encoding", "content-length",
                         "date", "server", TRACEPARENT, TRACESTATE, "upgrade", "te", "trailer"))


def kind_of_status(status: int) -> str | None:
    """How a caller classifies an answer: 503 unavailable, 504 timeout, other 5xx and 429
    an error, anything else a success."""
    if status == 503:
        return "unavailable"
    if status == 504:
        return "timeout"
    if status >= 500 or status == 429:
        return "error"
    return None


@dataclass(frozen=True)
class RemoteAnswer:
    """What ``http_call`` reports: an HTTP answer, or ``error`` (``refused``, ``timeout`` or
    ``broken``) with ``detail``. ``elapsed_s`` is real time spent."""

    status: int = 0
    headers: tuple = ()
    body: bytes = b""
    elapsed_s: float = 0.0
    error: str | None = None
    detail: str = ""


class MockRuntime:
    """A compiled mock service plus the engine that answers for it (own sequence state)."""

    __slots__ = ("mock", "engine")

    def __init__(self, mock, engine):
        self.mock, self.engine = mock, engine


@dataclass(frozen=True)
class World:
    """One consistent view of the topology for a whole request (copy-on-write pieces)."""

    settings: object                # MeshSpec
    mocks: dict                     # service id -> MockRuntime
    edges: dict                     # (from, to) -> graph.Edge
    breaker_configs: dict           # (service, endpoint) -> BreakerConfig
    http_call: object = None


class _Ctx:
    """This hop's trace context: its own span id and the parent it answers to."""

    __slots__ = ("trace_id", "span_id", "parent_id", "flags", "tracestate")

    def __init__(self, trace_id, span_id, parent_id, flags, tracestate):
        self.trace_id, self.span_id, self.parent_id = trace_id, span_id, parent_id
        self.flags, self.tracestate = flags, tracestate

    def child(self, rng) -> _Ctx:
        span_id = f"{rng.getrandbits(64) or 1:016x}"   # _span_id, inlined: once per hop
        while span_id == self.span_id:   # a hop never reuses its parent's id
            span_id = _span_id(rng)
        return _Ctx(self.trace_id, span_id, self.span_id, self.flags, self.tracestate)

    def headers(self) -> list:
        traceparent = (TRACEPARENT, f"00-{self.trace_id}-{self.span_id}-{self.flags:02x}")
        if self.tracestate:
            return [traceparent, (TRACESTATE, self.tracestate)]
        return [traceparent]


def _span_id(rng) -> str:
    """``traceparent.new_span_id`` without its loop: a zero draw (2**-64) becomes 1."""
    return f"{rng.getrandbits(64) or 1:016x}"


def _entry_context(headers, rng) -> _Ctx:
    """The entry hop's context from the request's trace headers, by ``propagate``'s rules.

    The two common cases are decided here without building ``propagate``'s objects: no
    traceparent (start a trace) and one traceparent line with no tracestate (parsed by
    ``parse_traceparent``, so validation stays in one place). Everything else goes through
    ``propagate`` itself. The conformance vectors are run through this function too.
    """
    parents = headers.get_all(TRACEPARENT)
    states = headers.get_all(TRACESTATE)
    if not parents or (len(parents) == 1 and not states):
        incoming = parse_traceparent(parents[0]) if parents else None
        if incoming is None:
            return _Ctx(new_trace_id(rng), _span_id(rng), None, _NEW_TRACE_FLAGS, None)
        span_id = _span_id(rng)
        while span_id == incoming.parent_id:
            span_id = _span_id(rng)
        return _Ctx(incoming.trace_id, span_id, incoming.parent_id,
                    incoming.flags & _KNOWN_FLAGS, None)
    context = propagate(parents, states, rng)
    return _Ctx(context.trace_id, context.span_id, context.parent_span_id, context.flags,
                context.tracestate)


@dataclass
class _Call:
    method: str
    path: str            # without the leading "/"
    query: str
    headers: list
    body: bytes


@dataclass
class _Hop:
    """A hop's outcome as its caller sees it; ``latency_s`` is simulated, ``elapsed_s`` real."""

    service: str
    status: int
    headers: list = field(default_factory=list)
    body: bytes = b""
    endpoint: str = "*"
    latency_s: float = 0.0
    elapsed_s: float = 0.0
    kind: str | None = None
    cause: str = ""
    retry_after: float | None = None
    fault: str | None = None
    path: list = field(default_factory=list)
    degraded: list = field(default_factory=list)
    remote: bool = False
    events: list = field(default_factory=list)


def _problem(service: str, status: int, kind: str, title: str, cause: str, path=None,
             **extra) -> _Hop:
    """A failed hop answering problem+json; ``path`` is the failure path, this hop first."""
    path = path or [{"service": service, "status": status, "cause": cause}]
    doc = problem_document(status, title, f"{service}: {cause}", service=service, kind=kind,
                           failure_path=path, **extra)
    body = json.dumps(doc).encode()
    return _Hop(service, status, [("Content-Type", "application/problem+json")], body,
                kind=kind, cause=cause, path=path)


class CallSimulator:
    """Runs calls through the registry, breakers, chaos, mocks and the span store."""

    def __init__(self, *, registry, breakers, chaos, spans, clock, rng):
        self.registry, self.breakers, self.chaos, self.spans = registry, breakers, chaos, spans
        self.clock, self.rng = clock, rng

    # --- the entry hop --------------------------------------------------------------------

    def serve(self, request: Request, service_id: str, path: str, world: World) -> Response:
        """Answer an outside request to ``/mock/{service_id}/{path}``."""
        ctx = _entry_context(request.headers, self.rng) if world.settings.tracing_enabled \
            else None
        call = _Call(request.method, path, request.raw_query,
                     [(k, v) for k, v in request.headers if k.lower() not in _HOP_BY_HOP],
                     request.body)
        if service_id not in world.mocks and not self.registry.knows(service_id):
            hop = _problem(service_id, 404, "unknown", "Unknown service",
                           f"no service {service_id!r} is registered or configured",
                           id=service_id, hint="POST /registry/register or "
                           f"POST /mock/{service_id}/configure first")
        else:
            hop = self.call(None, service_id, call, ctx, 0, 0.0, None, world)
        return _entry_response(hop, ctx)

    # --- one hop --------------------------------------------------------------------------

    def call(self, source, target: str, call: _Call, ctx, depth: int, offset: float, edge,
             world: World) -> _Hop:
        """Make one call and record its span; ``offset`` is simulated time already spent."""
        started = self.clock()
        hop = self._attempt(source, target, call, ctx, depth, offset, edge, world)
        if ctx is not None:
            real = self.clock() - started
            duration = hop.latency_s + (real if real > hop.elapsed_s else hop.elapsed_s)
            attributes = None
            if hop.events or hop.degraded:
                attributes = {"chaos_events": hop.events, "degraded": list(hop.degraded)}
            self.spans.record(Span(
                ctx.trace_id, ctx.span_id, ctx.parent_id, hop.service, hop.endpoint,
                call.method, "/" + call.path, source, started + offset, duration * 1000.0,
                hop.status, hop.cause if hop.kind is not None else None,
                "client" if hop.remote else "server", attributes))
        return hop

    def _attempt(self, source, target, call: _Call, ctx, depth, offset, edge, world) -> _Hop:
        settings = world.settings
        if depth > settings.max_call_depth:
            return _problem(target, 508, "error", "Call depth exceeded",
                            f"call depth {depth} exceeds mesh.max_call_depth "
                            f"({settings.max_call_depth}); is there a call loop?")
        instance = self.registry.resolve(target)
        service_id = instance.service_id if instance is not None else target
        runtime = world.mocks.get(service_id) or world.mocks.get(target)
        if instance is None and runtime is None:
            return _problem(target, 503, "unavailable", "Unknown service",
                            "not registered and not configured as a mock")
        if instance is not None and instance.health == CRITICAL:
            return _problem(service_id, 503, "unavailable", "Service unhealthy",
                            "registry health is critical; no healthy instance")
        remote = instance is not None and instance.address is not None
        request = None if remote else _sub_request(call, ctx, source)
        endpoint = "*" if remote or runtime is None else _endpoint_of(runtime, request)
        budget = _budget(edge, settings) if source is not None else None
        breaker = None
        if settings.breakers_enabled and (edge is None or edge.circuit_breaker_enabled):
            breaker, refused = self._breaker_gate(service_id, endpoint, world)
            if refused is not None:
                return refused
        hop = self._through_chaos(source, service_id, endpoint, call, ctx, depth, offset, world,
                                  instance if remote else None, runtime, request, budget)
        hop.endpoint, hop.remote = endpoint, remote
        if budget is not None and hop.latency_s > budget:
            if hop.kind != "timeout":
                hop = _timed_out(hop, service_id, budget)
            hop.latency_s = budget
        if breaker is not None:
            breaker.record(hop.kind is None, hop.latency_s + hop.elapsed_s)
        return hop

    def _breaker_gate(self, service_id: str, endpoint: str, world: World):
        """(breaker, None) when the call may go ahead, else (breaker, the fast 503 hop)."""
        config = breaker_config_for(world.breaker_configs, world.settings.breaker_default,
                                    service_id, endpoint)
        breaker = self.breakers.get_or_create(service_id, endpoint, config)
        decision = breaker.allow()
        if decision.allowed:
            return breaker, None
        hop = _problem(service_id, 503, "unavailable", "Circuit breaker open",
                       f"circuit breaker {service_id} {endpoint} is {decision.state}",
                       endpoint=endpoint, retry_after_s=decision.retry_after_s)
        hop.endpoint, hop.retry_after = endpoint, decision.retry_after_s
        return breaker, hop

    def _through_chaos(self, source, service_id, endpoint, call, ctx, depth, offset, world,
                       instance, runtime, request, budget) -> _Hop:
        plan = self.chaos.plan_call(source, service_id, "/" + call.path)
        if not plan.event_ids:
            if instance is not None:
                return self._remote(instance, call, ctx, budget, world)
            return self._local(service_id, runtime, request, ctx, depth, offset, world)
        events = ", ".join(plan.event_ids)
        if plan.refuse:
            hop = _problem(service_id, 503, "unavailable", "Connection refused",
                           f"connection refused (chaos {events})")
        elif plan.timeout:
            wait = budget if budget is not None else world.settings.default_timeout_ms / 1000
            hop = _problem(service_id, 504, "timeout", "No answer",
                           f"no answer within {wait * 1000:g}ms (chaos {events})")
            hop.latency_s = wait
        elif plan.fail_status is not None:
            kind = kind_of_status(plan.fail_status) or "error"
            hop = _problem(service_id, plan.fail_status, kind, "Injected failure",
                           f"answered {plan.fail_status} (chaos {events})")
        elif instance is not None:
            hop = self._remote(instance, call, ctx, _less(budget, plan.delay_s), world)
        else:
            hop = self._local(service_id, runtime, request, ctx, depth, offset + plan.delay_s,
                              world)
        hop.latency_s += plan.delay_s
        hop.events = list(plan.event_ids)
        return hop

    # --- answering --------------------------------------------------------------------------

    def _local(self, service_id, runtime, request, ctx, depth, offset, world) -> _Hop:
        if runtime is None:   # registered, no mock configured: a plain answer, no calls
            body = {"service": service_id, "path": request.path, "ok": True}
            return _Hop(service_id, 200, [("Content-Type", "application/json")],
                        json.dumps(body).encode())
        outcome = runtime.engine.respond(runtime.mock.config, request)
        response = outcome.response
        hop = _Hop(service_id, response.status, list(response.headers), response.body,
                   latency_s=response.delay_s)
        if response.fault is not None:
            hop.fault, hop.kind = response.fault, "unavailable"
            hop.cause = f"connection broken ({response.fault})"
            hop.path = [{"service": service_id, "status": response.status, "cause": hop.cause}]
            return hop
        hop.kind = kind_of_status(response.status)
        if hop.kind is not None:
            hop.cause = f"answered {response.status}"
            hop.path = [{"service": service_id, "status": response.status, "cause": hop.cause}]
            return hop
        calls = runtime.mock.calls.get(outcome.endpoint.id, ()) if outcome.endpoint else ()
        for spec in calls:
            failed = self._downstream(service_id, spec, hop, ctx, depth, offset, world)
            if failed is not None:
                return failed
        return hop

    def _downstream(self, service_id, spec, hop: _Hop, ctx, depth, offset, world):
        """Make one declared call; returns the hop's failure if a required call failed."""
        edges = world.edges
        edge = edges.get((service_id, spec.service))
        path, _, query = spec.path.partition("?")
        call = _Call(spec.method, path, query, list(spec.headers), spec.body)
        child = ctx.child(self.rng) if ctx is not None else None
        result = self.call(service_id, spec.service, call, child, depth + 1,
                           offset + hop.latency_s, edge, world)
        hop.latency_s += result.latency_s
        hop.elapsed_s += result.elapsed_s
        if result.kind is None:
            return None
        required = spec.required if spec.required is not None else \
            (edge.required if edge is not None else True)
        if not required:
            hop.degraded.append(spec.service)
            return None
        status = KIND_STATUS[result.kind]
        path = [{"service": service_id, "status": status,
                 "cause": f"required dependency {spec.service} failed"}] + result.path
        root = result.path[-1]
        where = "" if root["service"] == spec.service else f" at {root['service']}"
        failed = _problem(service_id, status, result.kind, "Dependency failed",
                          f"required dependency {spec.service} failed{where}: {root['cause']}",
                          path, dependency=spec.service)
        failed.latency_s, failed.elapsed_s = hop.latency_s, hop.elapsed_s
        failed.retry_after, failed.degraded = result.retry_after, hop.degraded
        return failed

    def _remote(self, instance, call: _Call, ctx, budget, world) -> _Hop:
        service_id = instance.service_id
        if world.http_call is None:
            return _problem(service_id, 503, "unavailable", "No HTTP client",
                            f"{instance.address} is a real address but no HTTP client is "
                            "attached (mesh_edge.attach(app) provides one)")
        url = instance.address + "/" + call.path + ("?" + call.query if call.query else "")
        headers = list(call.headers) + (ctx.headers() if ctx is not None else [])
        timeout = budget if budget is not None else world.settings.default_timeout_ms / 1000
        answer: RemoteAnswer = world.http_call(call.method, url, headers, call.body, timeout)
        if answer.error is not None:
            kind = {"timeout": "timeout", "broken": "error"}.get(answer.error, "unavailable")
            hop = _problem(service_id, KIND_STATUS[kind], kind, "Remote call failed",
                           f"{call.method} {url}: {answer.detail or answer.error}")
        else:
            headers = [(k, v) for k, v in answer.headers if k.lower() not in _HOP_BY_HOP]
            hop = _Hop(service_id, answer.status, headers, answer.body,
                       kind=kind_of_status(answer.status))
            if hop.kind is not None:
                hop.cause = f"answered {answer.status}"
                hop.path = [{"service": service_id, "status": answer.status, "cause": hop.cause}]
        hop.elapsed_s, hop.remote = answer.elapsed_s, True
        return hop


def _sub_request(call: _Call, ctx, source) -> Request:
    target = "/" + call.path + ("?" + call.query if call.query else "")
    headers = list(call.headers)
    if ctx is not None:
        headers += ctx.headers()
    if source is not None:
        headers.append(("X-Mesh-Caller", source))
    return Request(call.method, target, headers, call.body)


def _endpoint_of(runtime, request) -> str:
    """The breaker key of a local call: the id of the mock endpoint that will answer."""
    found = runtime.mock.config.router.find(request)
    route = getattr(found, "route", None)
    return route.key.id if route is not None else "*"


def _budget(edge, settings) -> float:
    if edge is not None and edge.timeout_ms is not None:
        return edge.timeout_ms / 1000.0
    return settings.default_timeout_ms / 1000.0


def _less(budget, spent: float):
    return None if budget is None else max(budget - spent, 0.001)


def _timed_out(hop: _Hop, service_id: str, budget: float) -> _Hop:
    late = _problem(service_id, 504, "timeout", "Dependency timed out",
                    f"no answer within {budget * 1000:g}ms (it needed {hop.latency_s * 1000:g}ms)")
    late.endpoint, late.remote, late.events = hop.endpoint, hop.remote, hop.events
    late.latency_s, late.elapsed_s = budget, hop.elapsed_s
    return late


def _entry_response(hop: _Hop, ctx) -> Response:
    headers = list(hop.headers)
    if ctx is not None:
        headers += ctx.headers()
    if hop.retry_after is not None:
        headers.append(("Retry-After", str(max(1, math.ceil(hop.retry_after)))))
    if hop.degraded:
        headers.append(("X-Mesh-Degraded", ", ".join(hop.degraded)))
    return Response(hop.status, headers, hop.body, delay_s=hop.latency_s, fault=hop.fault)


def breaker_config_for(configs: dict, default: BreakerConfig, service: str, endpoint: str):
    """The config a breaker gets: its own, else its service's ``*``, else the default."""
    return configs.get((service, endpoint)) or configs.get((service, "*")) or default
