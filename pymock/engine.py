"""The mock engine: match a request, pick a response (failure, sequence, variant), render it.

Layer 1: returns a ``Response`` plan and never sleeps or touches sockets; the delay and fault
it chooses are carried out by ``server.py``. Randomness comes from the injected ``rng`` so a
config ``seed`` makes failure injection, variants and latency reproducible.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from . import templates
from .config import Config, Endpoint, ResponseSpec
from .errors import TemplateError
from .matching import RouteMiss
from .model import Request, Response, problem_response
from .state import SequenceState

__all__ = ["Engine", "Outcome"]


@dataclass
class Outcome:
    """The response plan plus what the journal and inspector need to explain it."""

    response: Response
    endpoint: Endpoint | None = None
    path_params: dict = field(default_factory=dict)
    near_misses: list = field(default_factory=list)
    picked: str = "response"       # "response", "failure", "variant[i]" or "sequence[i]"
    notes: dict = field(default_factory=dict)   # extra journal fields (mode, upstream, fallback)


class Engine:
    def __init__(self, rng, render_env, sequences: SequenceState | None = None):
        self.rng = rng
        self.render_env = render_env
        self.sequences = sequences or SequenceState()
        self.modes = None   # a modes.ModeRunner: forwards what the proxy section says to
        self.stateful = None   # a features.Stateful: scenarios, store, auth, limits (the app's)

    def respond(self, config: Config, request: Request) -> Outcome:
        stateful = config.sections.get("state")   # None unless the config uses those features
        if stateful is not None and self.stateful is not None:
            return self.stateful.respond(self, config, stateful, request)
        return self.answer(config, request, config.router.find(request))

    def answer(self, config: Config, request: Request, found) -> Outcome:
        """Forward the router's result (proxy modes) or mock it."""
        proxy = config.sections.get("proxy")
        if proxy is not None and proxy.active and self.modes is not None:
            endpoint = None if isinstance(found, RouteMiss) else found.route.key
            plan = proxy.plan(endpoint)
            if plan is not None:
                return self._forward(plan, request, found, endpoint)
        return self.mock(request, found, config.sections.get("contract"))

    def _forward(self, plan, request: Request, found, endpoint) -> Outcome:
        forwarded = self.modes.run(plan, request, endpoint)
        if forwarded.response is not None:
            params = {} if endpoint is None else found.path_params
            return Outcome(forwarded.response, endpoint, params, [], "upstream", forwarded.notes)
        outcome = self.mock(request, found)   # proxy_with_fallback: the upstream failed
        outcome.response.headers.append(("X-Pymock-Fallback", "true"))
        outcome.notes = {**outcome.notes, **forwarded.notes}
        return outcome

    def mock(self, request: Request, found, contract=None) -> Outcome:
        """The configured answer for a router result (a hit, or a miss's 404/405).

        ``contract`` (``contract.ContractHook``, present when the config links an OpenAPI spec)
        handles ``Prefer`` and contract checks; it calls back ``choose`` and ``render``.
        """
        if isinstance(found, RouteMiss):
            return _miss(request, found)
        endpoint: Endpoint = found.route.key
        if contract is not None:
            return contract.respond(self, request, endpoint, found.path_params)
        return self.render(*self._choose(endpoint), endpoint, request, found.path_params)

    def choose(self, endpoint: Endpoint) -> tuple[ResponseSpec, str]:
        """The response spec to send (failure, sequence step, variant or the response)."""
        return self._choose(endpoint)

    def render(self, spec: ResponseSpec, picked: str, endpoint: Endpoint, request: Request,
               path_params: dict) -> Outcome:
        """Render ``spec``; a template error becomes a 500 naming the endpoint."""
        notes: dict = {}   # what the templates read from state, for the inspector
        try:
            response = self._render(spec, request, path_params, notes)
        except TemplateError as exc:
            response = problem_response(500, "Template failed to render",
                                        f"endpoint {endpoint.id!r}: {exc}", endpoint=endpoint.id)
        return Outcome(response, endpoint, path_params, [], picked, notes)

    def _choose(self, endpoint: Endpoint) -> tuple[ResponseSpec, str]:
        if endpoint.failure is not None and endpoint.failure_rate and self.rng.random() < endpoint.failure_rate:
            return endpoint.failure, "failure"
        if endpoint.sequence:
            index = self.sequences.next_index(endpoint.id, len(endpoint.sequence), endpoint.sequence_end)
            return endpoint.sequence[index], f"sequence[{index}]"
        if endpoint.variants:
            index = _weighted_index([w for w, _ in endpoint.variants], self.rng)
            return endpoint.variants[index][1], f"variant[{index}]"
        return endpoint.response, "response"

    def _context(self, request: Request, path_params: dict, notes: dict | None) -> dict:
        context = {"request": templates.request_view(request, path_params)}
        if self.stateful is not None:
            context["state"] = self.stateful.view(request, notes)
        return context

    def _render(self, spec: ResponseSpec, request: Request, path_params: dict,
                notes: dict | None = None) -> Response:
        body = spec.body
        context = None
        if body.template is None:
            payload = body.static
        else:
            context = self._context(request, path_params, notes)
            if body.kind == "json":
                payload = json.dumps(body.template.render(context, self.render_env)).encode()
            else:
                payload = body.template.render(context, self.render_env).encode()
        headers = []
        for name, value in spec.headers:
            if not isinstance(value, str):
                if context is None:
                    context = self._context(request, path_params, notes)
                value = value.render(context, self.render_env)
            headers.append((name, value))
        delay = spec.latency.sample_s(self.rng) if spec.latency is not None else 0.0
        return Response(spec.status, headers, payload, delay, spec.fault)


def _weighted_index(weights: list, rng) -> int:
    point = rng.random() * sum(weights)
    for index, weight in enumerate(weights):
        point -= weight
        if point < 0:
            return index
    return len(weights) - 1


def _miss(request: Request, miss: RouteMiss) -> Outcome:
    near = [m.as_dict() for m in miss.near_misses]
    if miss.allowed_methods:
        allow = ", ".join(miss.allowed_methods)
        response = problem_response(
            405, "Method not allowed",
            f"{request.path} exists, but not for {request.method}; it accepts {allow}",
            headers=[("Allow", allow)], method=request.method, path=request.path, near_misses=near)
    else:
        closest = f"; the closest mock is {near[0]['id']!r}" if near else "; no mocks are configured"
        response = problem_response(
            404, "No mock matched the request", f"{request.method} {request.path}{closest}",
            method=request.method, path=request.path, near_misses=near)
    return Outcome(response, None, {}, miss.near_misses)
