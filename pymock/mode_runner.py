"""The forwarding run: what happens once ``modes`` has decided to forward a request.

Layer 1: never connects. ``ModeRunner.run(plan, request, endpoint)`` calls the injected
``forward(upstream, request, options)`` (``proxy.Forwarder`` at the edge) for a ``modes.Plan``,
keeps one circuit breaker per upstream, counts requests, errors and fallbacks in the injected
metrics, falls back to the mock in ``proxy_with_fallback``, hands recorded exchanges to the
injected recorder and turns every failure into an ``application/problem+json`` answer naming
the upstream and the reason. The recordings admin handlers (``/__admin/recordings/...``) live
here too: they switch the mode through ``app.edit`` and ask the recorder for its state.

>>> UpstreamResult(error="timeout", detail="no answer in 0.5 s", url="http://h/x").summary()
{'url': 'http://h/x', 'status': None, 'elapsed_ms': 0.0, 'error': 'timeout', 'detail': 'no answer in 0.5 s'}
>>> ERROR_STATUS["timeout"], ERROR_STATUS["circuit_open"]
(504, 503)

Plans are read by attribute (``mode``, ``upstream``, ``options``, ``breaker``, ``record``), so
this module never imports ``modes`` (``modes`` imports and re-exports it). Must not import
sockets, ssl, http.client, threads, ``config``, ``engine``, ``app`` or anything in layer 2.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from .breakers import BreakerRegistry
from .errors import ConfigError
from .model import Response, problem_response

__all__ = [
    "ERROR_STATUS", "RECORD_KEYS", "UpstreamResult", "Forwarded", "ModeRunner", "upstream_problem",
    "recording_start", "recording_stop", "recording_status", "recording_snapshot",
]

# The keys of ``proxy.record``: ``modes`` parses them, the recordings admin API accepts them.
RECORD_KEYS = ("match_query", "match_headers", "match_body", "redact_headers", "redact_patterns",
               "placeholder", "dedupe", "sequences", "max_exchanges")
# Error kinds a forwarder reports, and what the client is answered.
ERROR_STATUS = {"connect": 502, "timeout": 504, "tls": 502, "protocol": 502, "too_large": 502,
                "refused_by_policy": 403, "circuit_open": 503, "no_forwarder": 502}
_ERROR_TITLES = {
    "connect": "Upstream connection failed", "timeout": "Upstream timed out",
    "tls": "Upstream TLS handshake failed", "protocol": "Upstream sent a broken response",
    "too_large": "Upstream response too large", "refused_by_policy": "Upstream refused by policy",
    "circuit_open": "Upstream circuit open", "no_forwarder": "Proxying is not available",
}


# ---------------------------------------------------------------- forwarding

@dataclass(frozen=True)
class UpstreamResult:
    """What a forwarder reports: the upstream's answer, or ``error`` (a key of
    ``ERROR_STATUS``) with ``detail``. ``headers`` are end-to-end headers only."""

    status: int = 0
    headers: tuple = ()
    body: bytes = b""
    elapsed_s: float = 0.0
    error: str | None = None
    detail: str = ""
    url: str = ""
    redirects: tuple = ()
    retry_after_s: float | None = None

    def summary(self) -> dict:
        """The journal's view: enough for the inspector to explain the exchange."""
        out = {"url": self.url, "status": self.status or None,
               "elapsed_ms": round(self.elapsed_s * 1000, 3), "error": self.error}
        if self.detail:
            out["detail"] = self.detail
        if self.redirects:
            out["redirects"] = list(self.redirects)
        return out


@dataclass
class Forwarded:
    """The runner's answer: a ``response``, or ``None`` meaning "fall back to the mock"."""

    response: Response | None
    notes: dict


class ModeRunner:
    """Forwards planned requests through the injected ``forward`` callable.

    ``forward(upstream, request, options) -> UpstreamResult`` does the network part;
    ``recorder.capture(request, result, record_options) -> bool`` keeps recorded exchanges.
    Either may be ``None``: forwarding then answers 502, recording records nothing.
    """

    def __init__(self, forward=None, *, recorder=None, metrics=None, clock=time.monotonic):
        self.forward = forward
        self.recorder = recorder
        self.metrics = metrics
        self.breakers = BreakerRegistry(clock)

    def run(self, plan, request, endpoint) -> Forwarded:
        """Forward ``request`` as ``plan`` (a ``modes.Plan``) says; ``endpoint`` is the mock
        the request matched, or ``None`` (then there is nothing to fall back to)."""
        self._count("pymock_proxy_requests_total")
        result = self._call(plan, request)
        notes = {"mode": plan.mode, "upstream": result.summary()}
        failure = _failure(result, plan.options)
        if failure and plan.mode == "proxy_with_fallback" and result.error != "refused_by_policy":
            if endpoint is not None:
                notes["fallback"] = failure
                self._count("pymock_proxy_fallbacks_total")
                return Forwarded(None, notes)
            notes["fallback"] = f"none: {failure}, and no mock matched this request"
        if result.error:
            self._count("pymock_proxy_errors_total")
            return Forwarded(upstream_problem(plan, result), notes)
        if plan.mode == "record":
            notes["recorded"] = bool(self.recorder is not None and
                                     self.recorder.capture(request, result, plan.record))
        # The app adds its own X-Request-Id (which the forwarder passed upstream).
        headers = [(n, v) for n, v in result.headers if n.lower() != "x-request-id"]
        return Forwarded(Response(result.status, headers, result.body), notes)

    def _call(self, plan, request) -> UpstreamResult:
        url = plan.upstream.url
        if self.forward is None:
            return UpstreamResult(error="no_forwarder", url=url, detail=(
                "this app was built without a forwarder; MockServer and the CLI provide one "
                "(MockApp(config, forward=pymock.proxy.Forwarder()))"))
        breaker = self._breaker(plan)
        if breaker is not None:
            decision = breaker.allow()
            if not decision.allowed:
                return UpstreamResult(error="circuit_open", url=url, retry_after_s=decision.retry_after_s,
                                      detail=f"the circuit breaker for {plan.upstream.origin} is {decision.state}")
        result = self.forward(plan.upstream, request, plan.options)
        if breaker is not None and result.error != "refused_by_policy":
            breaker.record(_failure(result, plan.options) is None, result.elapsed_s)
        return result

    def _breaker(self, plan):
        if plan.breaker is None:
            return None
        breaker = self.breakers.get_or_create(plan.upstream.origin, "*", plan.breaker)
        if breaker.config != plan.breaker:   # the config changed since: start afresh
            breaker = self.breakers.configure(plan.upstream.origin, "*", plan.breaker)
        return breaker

    def _count(self, name: str) -> None:
        if self.metrics is not None:
            self.metrics.increment(name)


def _failure(result: UpstreamResult, options) -> str | None:
    """Why this answer counts as a failure (for fallback and the breaker), or ``None``."""
    if result.error:
        return f"{result.error}: {result.detail}" if result.detail else result.error
    if result.status in options.fallback_statuses:
        return f"status {result.status}"
    return None


def upstream_problem(plan, result: UpstreamResult) -> Response:
    """The problem+json answer for a failed exchange of ``plan`` (a ``modes.Plan``), naming
    upstream and reason."""
    kind = result.error
    status = ERROR_STATUS.get(kind, 502)
    headers = []
    if result.retry_after_s:
        headers.append(("Retry-After", str(max(1, round(result.retry_after_s)))))
    detail = f"{plan.upstream.url}: {result.detail}" if result.detail else plan.upstream.url
    return problem_response(status, _ERROR_TITLES.get(kind, "Upstream failed"), detail,
                            headers=headers, upstream=result.url or plan.upstream.url,
                            reason=kind, mode=plan.mode)


# ---------------------------------------------------------------- recordings admin API
# The recorder itself is injected (``app.recorder``, from ``recording.py``); these handlers
# only switch modes through ``app.edit`` and ask the recorder for its state.

_NO_RECORDER = ("this server has no recorder; start it with recorder.py, mock_server.py or "
                "MockServer (MockApp(config, recorder=pymock.recording.Recorder()))")


def _json(status: int, payload) -> Response:
    return Response(status, [("Content-Type", "application/json")],
                    json.dumps(payload, indent=2, default=str).encode())


def _options_body(request):
    if not request.body.strip():
        return {}
    try:
        payload = json.loads(request.body)
    except (ValueError, UnicodeDecodeError) as exc:
        return problem_response(400, "Invalid JSON", f"the request body is not valid JSON: {exc}")
    if not isinstance(payload, dict):
        return problem_response(400, "Invalid JSON", "expected a JSON object")
    return payload


def _recorder_or_problem(app):
    recorder = getattr(app, "recorder", None)
    return recorder if recorder is not None else problem_response(409, "Recording not available", _NO_RECORDER)


def recording_start(app, config, request, params):
    """Switch the server to ``record`` (optionally to a new ``target``) and start capturing."""
    recorder = _recorder_or_problem(app)
    body = _options_body(request)
    for answer in (recorder, body):
        if isinstance(answer, Response):
            return answer
    unknown = [key for key in body if key not in ("target", *RECORD_KEYS)]
    if unknown:
        return problem_response(400, "Unknown option", f"unknown key(s): {', '.join(unknown)}",
                                allowed=["target", *RECORD_KEYS])
    previous = config.raw.get("proxy")
    section = dict(previous or {})
    section["mode"] = "record"
    if "target" in body:
        section["upstream"] = body["target"]
    options = {k: v for k, v in body.items() if k != "target"}
    if options:
        section["record"] = {**section.get("record", {}), **options}
    on_stop = None
    if section != previous:
        try:
            app.edit(lambda raw: raw.__setitem__("proxy", section))
        except ConfigError as exc:
            return problem_response(400, "Cannot start recording",
                                    f"{len(exc.problems)} problem(s); nothing changed", errors=exc.problems)
        on_stop = lambda: app.edit(lambda raw: _restore(raw, previous))  # noqa: E731
    recorder.start(on_stop=on_stop)
    return _json(200, recorder.status())


def _restore(raw: dict, section) -> None:
    if section is None:
        raw.pop("proxy", None)
    else:
        raw["proxy"] = section


def recording_stop(app, config, request, params):
    """Stop capturing, restore the mode ``start`` replaced, and write the out file if set."""
    recorder = _recorder_or_problem(app)
    if isinstance(recorder, Response):
        return recorder
    on_stop = recorder.stop()
    if on_stop is not None:
        on_stop()
    return _write_answer(app, recorder, recorder.status())


def recording_status(app, config, request, params):
    """Whether the recorder captures, how many exchanges it holds, where it writes."""
    recorder = _recorder_or_problem(app)
    if isinstance(recorder, Response):
        return recorder
    return _json(200, recorder.status())


def recording_snapshot(app, config, request, params):
    """The recorded exchanges as a config. ``{"apply": true}`` serves it at once (replay);
    ``{"write": true}`` writes it to the recorder's out file."""
    recorder = _recorder_or_problem(app)
    body = _options_body(request)
    for answer in (recorder, body):
        if isinstance(answer, Response):
            return answer
    try:
        document = recorder.snapshot(app.config)
    except ConfigError as exc:
        return problem_response(500, "Recording is not a valid config",
                                "the recorded exchanges did not compile; nothing was written",
                                errors=exc.problems)
    if body.get("apply"):
        recorder.stop()   # the whole config is replaced: there is no mode left to restore
        app.edit(lambda raw: (raw.clear(), raw.update(document)))
    status = {"config": document, "endpoints": len(document["endpoints"]),
              "applied": bool(body.get("apply"))}
    if body.get("write"):
        return _write_answer(app, recorder, status, document)
    return _json(200, status)


def _write_answer(app, recorder, status: dict, document=None) -> Response:
    if not recorder.out:
        return _json(200, {**status, "written": None})
    try:
        written = recorder.write(document if document is not None else recorder.snapshot(app.config))
    except ConfigError as exc:
        return problem_response(500, "Recording is not a valid config", "nothing was written",
                                errors=exc.problems)
    except OSError as exc:
        return problem_response(500, "Cannot write the recording", f"{recorder.out}: {exc.strerror}")
    return _json(200, {**status, "written": written})
