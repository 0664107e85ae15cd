"""Endpoint parsing for the config: one ``endpoints[]`` item into a compiled ``Endpoint``.

``config.build_config`` hands each endpoint object here: its path and methods, the ``match``
block, the response (status, headers, body, body_file, latency, fault) and the variants,
sequence, failure and OpenAPI ``responses`` alternatives, collecting every problem with its
path. The small shared checks (``_check_keys``, ``_integer``...) live here too, and the
endpoint-level dataclasses; ``config`` re-exports all of them.

>>> ctx = _Context(".", [], True)
>>> endpoint = _endpoint({"path": "/ping", "latency_ms": 5}, 0, "endpoints[0]", ctx)
>>> endpoint.id, endpoint.response.latency
('get-ping', Latency(kind='fixed', a=5.0, b=0.0))

Layer 1: reads body files the config names, nothing else. It must not import ``config``
(``config`` imports this module) nor anything in layer 2.
"""

from __future__ import annotations

import base64
import copy
import difflib
import json
import math
import mimetypes
import os
import re
from dataclasses import dataclass, field

from . import features, templates
from .errors import Problem, TemplateError, kind_name, unknown_key_problems
from .matching import Route, compile_matcher, compile_path
from .model import FAULTS

__all__ = [
    "Endpoint", "ResponseSpec", "Body", "Latency", "ENDPOINT_KEYS", "PART_KEYS", "MATCH_KEYS",
    "generate_id", "ADMIN_PREFIXES",
]

ADMIN_PREFIXES = ("/__admin", "/__logs", "/__reload")


ENDPOINT_KEYS = ("id", "name", "description", "tags", "enabled", "priority", "method", "path",
                 "match", "status", "headers", "response", "body", "body_file", "body_base64",
                 "content_type", "latency_ms", "failure_rate", "failure", "fault", "variants",
                 "sequence", "templating", "mode", "upstream", "proxy", "operation_id", "openapi",
                 "responses") + features.FEATURE_KEYS
PART_KEYS = ("status", "headers", "response", "body", "body_file", "body_base64", "content_type",
             "latency_ms", "fault")
MATCH_KEYS = ("query", "headers", "cookies", "body")
_METHOD_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_FRAMING_HEADERS = ("content-length", "transfer-encoding")  # wrong values break the framing


# ---------------------------------------------------------------- the compiled model

@dataclass(frozen=True)
class Latency:
    """Injected latency: ``fixed`` (a = ms), ``uniform`` (a..b ms) or ``lognormal`` (median a, sigma b)."""

    kind: str
    a: float
    b: float = 0.0

    def sample_s(self, rng) -> float:
        if self.kind == "fixed":
            return self.a / 1000.0
        if self.kind == "uniform":
            return rng.uniform(self.a, self.b) / 1000.0
        return self.a * math.exp(rng.gauss(0.0, self.b)) / 1000.0


@dataclass(frozen=True)
class Body:
    """A response body: pre-encoded ``static`` bytes, or a compiled template to render."""

    kind: str                      # "json", "text", "bytes" or "empty"
    static: bytes = b""
    template: object = None        # templates.BodyTemplate / Template when not static
    content_type: str | None = None


@dataclass(frozen=True)
class ResponseSpec:
    status: int = 200
    headers: tuple = ()            # ((name, value-or-Template), ...)
    body: Body = Body("empty")
    latency: Latency | None = None
    fault: str | None = None


@dataclass(frozen=True)
class Endpoint:
    id: str
    order: int
    path: str
    methods: frozenset | None
    response: ResponseSpec
    route: Route = None
    name: str = ""
    tags: tuple = ()
    enabled: bool = True
    priority: int = 5
    failure_rate: float = 0.0
    failure: ResponseSpec | None = None
    variants: tuple = ()           # ((weight, ResponseSpec), ...)
    sequence: tuple = ()           # (ResponseSpec, ...)
    sequence_end: str = "loop"     # "loop" or "stay"
    source: dict = field(default_factory=dict, compare=False, repr=False)
    responses: tuple = ()          # ((status, example name, ResponseSpec), ...): what Prefer picks


@dataclass
class _Context:
    base_dir: str
    problems: list
    templating: bool
    files: set = field(default_factory=set)


# ---------------------------------------------------------------- endpoints

def _endpoints(items, ctx: _Context) -> list[Endpoint]:
    if not isinstance(items, list):
        ctx.problems.append(Problem("endpoints", f"expected a list, got {_kind(items)}"))
        return []
    endpoints, seen_ids = [], {}
    for index, item in enumerate(items):
        where = f"endpoints[{index}]"
        if not isinstance(item, dict):
            ctx.problems.append(Problem(where, f"expected an object, got {_kind(item)}"))
            continue
        endpoint = _endpoint(item, index, where, ctx)
        if endpoint is None:
            continue
        if endpoint.id in seen_ids:
            if "id" in item:
                ctx.problems.append(Problem(f"{where}.id", f"duplicate id {endpoint.id!r} "
                                            f"(also endpoints[{seen_ids[endpoint.id]}])"))
                continue
            endpoint = _with_id(endpoint, _unique_id(endpoint.id, seen_ids))
        seen_ids[endpoint.id] = index
        endpoints.append(endpoint)
    return endpoints


def _with_id(endpoint: Endpoint, ident: str) -> Endpoint:
    route = Route(**{**endpoint.route.__dict__, "ident": ident})
    return Endpoint(**{**endpoint.__dict__, "id": ident, "route": route})


def _unique_id(base: str, seen: dict) -> str:
    n = 2
    while f"{base}-{n}" in seen:
        n += 1
    return f"{base}-{n}"


def _endpoint(item: dict, order: int, where: str, ctx: _Context) -> Endpoint | None:
    problems = ctx.problems
    before = len(problems)
    _check_keys(item, ENDPOINT_KEYS, where, problems)
    path = item.get("path")
    if not isinstance(path, str) or not path:
        problems.append(Problem(f"{where}.path", "required: a path like '/users/{id}'" if path is None
                                else f"expected a non-empty string, got {_kind(path)}"))
        path = "/"
    elif path.startswith(ADMIN_PREFIXES):
        problems.append(Problem(f"{where}.path", f"{path!r} is reserved for the admin API",
                                "choose a path that does not start with " + ", ".join(ADMIN_PREFIXES)))
    resource = "resource" in item   # a collection: its path is a prefix, every method by default
    pattern = compile_path(path.rstrip("/") + "/**" if resource else path, f"{where}.path", problems)
    methods = _methods(item.get("method", "ANY" if resource else "GET"), f"{where}.method", problems)
    templating = ctx.templating and item.get("templating", True) is not False
    response = _part(item, where, ctx, templating, top=True)
    failure = _failure(item, where, ctx, templating)
    variants = _variants(item.get("variants"), f"{where}.variants", ctx, templating)
    sequence, sequence_end = _sequence(item.get("sequence"), f"{where}.sequence", ctx, templating)
    responses = _spec_responses(item, where, ctx, templating)
    conditions = _match_block(item.get("match", {}), f"{where}.match", problems)
    ident = item.get("id")
    if ident is not None and (not isinstance(ident, str) or not ident):
        problems.append(Problem(f"{where}.id", f"expected a non-empty string, got {_kind(ident)}"))
    elif isinstance(ident, str) and ("/" in ident or "?" in ident or "#" in ident):
        problems.append(Problem(f"{where}.id", f"{ident!r} cannot be used in an admin URL",
                                "use letters, digits, '-', '_' or '.'"))
    ident = ident if isinstance(ident, str) and ident else _slug(methods, path)
    priority = _integer(item.get("priority", 5), f"{where}.priority", problems)
    enabled = _boolean(item.get("enabled", True), f"{where}.enabled", problems)
    tags = _string_list(item.get("tags", []), f"{where}.tags", problems)
    name = item.get("name", "")
    if not isinstance(name, str):
        problems.append(Problem(f"{where}.name", f"expected a string, got {_kind(name)}"))
    failure_rate = _rate(item.get("failure_rate", 0.0), f"{where}.failure_rate", problems)
    if len(problems) > before:
        return None
    route = Route(None, ident, methods, pattern, priority=priority, order=order, **conditions)
    endpoint = Endpoint(ident, order, path, methods, response, route, name, tuple(tags), enabled,
                        priority, failure_rate, failure, variants, sequence, sequence_end,
                        copy.deepcopy(item), responses)
    object.__setattr__(route, "key", endpoint)  # the router hands back the endpoint on a hit
    return endpoint


def generate_id(item: dict, taken) -> str:
    """The id an endpoint without one gets: method and path words, made unique against ``taken``.

    >>> generate_id({"path": "/users/{id}"}, {"get-users-id"})
    'get-users-id-2'
    """
    problems: list = []
    methods = _methods(item.get("method", "GET"), "", problems)
    base = _slug(None if problems else methods, str(item.get("path", "")))
    return base if base not in taken else _unique_id(base, set(taken))


def _slug(methods, path: str) -> str:
    method = "any" if methods is None else "-".join(sorted(m.lower() for m in methods))
    words = re.findall(r"[A-Za-z0-9]+", path)
    return "-".join([method, *words]) if words else f"{method}-root"


def _methods(value, where: str, problems) -> frozenset | None:
    values = value if isinstance(value, list) else [value]
    if not values:
        problems.append(Problem(where, "the list of methods is empty", "use \"ANY\" to accept every method"))
        return frozenset()
    out = set()
    for item in values:
        if not isinstance(item, str) or not _METHOD_TOKEN.match(item):
            problems.append(Problem(where, f"not an HTTP method: {item!r}", "e.g. \"GET\", [\"GET\", \"POST\"] or \"ANY\""))
            continue
        if item.upper() in ("ANY", "*"):
            return None
        out.add(item.upper())
    return frozenset(out)


def _match_block(block, where: str, problems) -> dict:
    if not isinstance(block, dict):
        problems.append(Problem(where, f"expected an object, got {_kind(block)}"))
        return {}
    _check_keys(block, MATCH_KEYS, where, problems)
    out = {}
    for section in ("query", "headers", "cookies"):
        rules = block.get(section, {})
        if not isinstance(rules, dict):
            problems.append(Problem(f"{where}.{section}", f"expected an object of name: matcher, got {_kind(rules)}"))
            continue
        out[section] = tuple((name.lower() if section == "headers" else name,
                              compile_matcher(spec, f"{where}.{section}.{name}", problems))
                             for name, spec in rules.items())
    body = block.get("body")
    if body is not None:
        specs = body if isinstance(body, list) else [body]
        out["body"] = tuple(compile_matcher(spec, f"{where}.body", problems) for spec in specs)
    return out


def _failure(item: dict, where: str, ctx: _Context, templating: bool) -> ResponseSpec | None:
    spec = item.get("failure")
    if spec is None:
        if item.get("failure_rate"):
            return ResponseSpec(500, (("Content-Type", "application/json"),),
                                Body("json", b'{"error": "injected failure"}', None, "application/json"))
        return None
    if not isinstance(spec, dict):
        ctx.problems.append(Problem(f"{where}.failure", f"expected an object like {{\"status\": 503}}, got {_kind(spec)}"))
        return None
    return _part(spec, f"{where}.failure", ctx, templating, default_status=500)


def _variants(items, where: str, ctx: _Context, templating: bool) -> tuple:
    if items is None:
        return ()
    if not isinstance(items, list) or not items:
        ctx.problems.append(Problem(where, "expected a non-empty list of responses with weights"))
        return ()
    out = []
    for index, spec in enumerate(items):
        at = f"{where}[{index}]"
        if not isinstance(spec, dict):
            ctx.problems.append(Problem(at, f"expected an object, got {_kind(spec)}"))
            continue
        weight = spec.get("weight", 1)
        if not _finite_number(weight) or weight <= 0:
            ctx.problems.append(Problem(f"{at}.weight", f"expected a positive number, got {weight!r}"))
        _check_keys(spec, PART_KEYS + ("weight",), at, ctx.problems)
        out.append((weight, _part(spec, at, ctx, templating, check_keys=False)))
    return tuple(out)


def _sequence(spec, where: str, ctx: _Context, templating: bool) -> tuple[tuple, str]:
    if spec is None:
        return (), "loop"
    end = "loop"
    items = spec
    if isinstance(spec, dict):
        _check_keys(spec, ("responses", "end"), where, ctx.problems)
        items, end = spec.get("responses"), spec.get("end", "loop")
        if end not in ("loop", "stay"):
            ctx.problems.append(Problem(f"{where}.end", f"expected 'loop' or 'stay', got {end!r}"))
    if not isinstance(items, list) or not items:
        ctx.problems.append(Problem(where, "expected a non-empty list of responses (or {\"responses\": [...], \"end\": \"stay\"})"))
        return (), end
    parts = []
    for index, part in enumerate(items):
        at = f"{where}[{index}]" if isinstance(spec, list) else f"{where}.responses[{index}]"
        if not isinstance(part, dict):
            ctx.problems.append(Problem(at, f"expected an object, got {_kind(part)}"))
            continue
        parts.append(_part(part, at, ctx, templating))
    return tuple(parts), end


def _spec_responses(item: dict, where: str, ctx: _Context, templating: bool) -> tuple:
    """An OpenAPI import's keys: ``operation_id``, ``openapi`` (the link to the spec) and
    ``responses`` (every other declared status/example, chosen with a Prefer header)."""
    problems = ctx.problems
    if "operation_id" in item and not isinstance(item["operation_id"], str):
        problems.append(Problem(f"{where}.operation_id", f"expected a string, got {_kind(item['operation_id'])}"))
    if "openapi" in item and not isinstance(item["openapi"], dict):
        problems.append(Problem(f"{where}.openapi", f"expected an object, got {_kind(item['openapi'])}"))
    items = item.get("responses")
    if items is None:
        return ()
    if not isinstance(items, list):
        problems.append(Problem(f"{where}.responses", f"expected a list of responses, got {_kind(items)}"))
        return ()
    out = []
    for index, spec in enumerate(items):
        at = f"{where}.responses[{index}]"
        if not isinstance(spec, dict):
            problems.append(Problem(at, f"expected an object, got {_kind(spec)}"))
            continue
        _check_keys(spec, PART_KEYS + ("example", "generated", "declared"), at, problems)
        example = spec.get("example", "")
        if not isinstance(example, str):
            problems.append(Problem(f"{at}.example", f"expected an example name, got {_kind(example)}"))
        part = _part(spec, at, ctx, templating, check_keys=False)
        out.append((part.status, example, part))
    return tuple(out)


# ---------------------------------------------------------------- one response

def _part(spec: dict, where: str, ctx: _Context, templating: bool, *, top: bool = False,
          default_status: int = 200, check_keys: bool = True) -> ResponseSpec:
    """A response (status, headers, body, latency, fault) from an endpoint, variant or step."""
    problems = ctx.problems
    if check_keys and not top:
        _check_keys(spec, PART_KEYS, where, problems)
    status = spec.get("status", default_status)
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        problems.append(Problem(f"{where}.status", f"expected an HTTP status 100-599, got {status!r}"))
        status = 500
    body = _body(spec, where, ctx, templating)
    headers = _headers(spec.get("headers", {}), f"{where}.headers", problems, templating)
    content_type = spec.get("content_type")
    if content_type is not None and not isinstance(content_type, str):
        problems.append(Problem(f"{where}.content_type", f"expected a string, got {_kind(content_type)}"))
        content_type = None
    if not any(name.lower() == "content-type" for name, _ in headers):
        content_type = content_type or body.content_type
        if content_type:
            headers = (("Content-Type", content_type), *headers)
    latency = _latency(spec.get("latency_ms"), f"{where}.latency_ms", problems)
    fault = spec.get("fault")
    if fault is not None and fault not in FAULTS:
        close = difflib.get_close_matches(str(fault), FAULTS, 1)
        problems.append(Problem(f"{where}.fault", f"unknown fault {fault!r}",
                                f"did you mean '{close[0]}'?" if close else "use one of " + ", ".join(FAULTS)))
        fault = None
    return ResponseSpec(status, headers, body, latency, fault)


def _body(spec: dict, where: str, ctx: _Context, templating: bool) -> Body:
    given = [key for key in ("response", "body", "body_file", "body_base64") if key in spec]
    if len(given) > 1:
        ctx.problems.append(Problem(where, "give only one of " + ", ".join(given),
                                    "'response' and 'body' are the same thing"))
        return Body("empty")
    if not given:
        return Body("empty")
    key = given[0]
    value = spec[key]
    if key == "body_base64":
        try:
            return Body("bytes", base64.b64decode(value, validate=True), None, "application/octet-stream")
        except (ValueError, TypeError):
            ctx.problems.append(Problem(f"{where}.body_base64", "not valid base64",
                                        "use only A-Z a-z 0-9 + / with = padding, no spaces or line breaks"))
            return Body("empty")
    if key == "body_file":
        return _file_body(value, f"{where}.body_file", ctx, templating)
    if isinstance(value, str):
        return _text_body(value, f"{where}.{key}", ctx.problems, templating)
    return _json_body(value, f"{where}.{key}", ctx.problems, templating)


def _json_body(value, where: str, problems, templating: bool) -> Body:
    if templating:
        try:
            compiled = templates.compile_body(value, name=where)
        except TemplateError as exc:
            problems.append(_template_problem(exc, where))
            return Body("empty")
        if not compiled.is_static:
            return Body("json", b"", compiled, "application/json")
    return Body("json", json.dumps(value).encode(), None, "application/json")


def _text_body(text: str, where: str, problems, templating: bool, content_type: str | None = None) -> Body:
    content_type = content_type or _guess_text_type(text)
    if templating and templates.has_template_syntax(text):
        try:
            return Body("text", b"", templates.compile_template(text, name=where), content_type)
        except TemplateError as exc:
            problems.append(_template_problem(exc, where))
            return Body("empty")
    return Body("text", text.encode(), None, content_type)


def _template_problem(exc: TemplateError, where: str) -> Problem:
    # The engine names the exact string (e.g. endpoints[0].response.items[1].name).
    path = exc.source_name if exc.source_name.startswith(where) else where
    return Problem(path, f"template error at line {exc.line}, column {exc.col}: {exc.message}")


def _guess_text_type(text: str) -> str:
    start = text.lstrip()[:5].lower()
    if start.startswith("<?xml"):
        return "application/xml"
    if start.startswith("<"):
        return "text/html; charset=utf-8"
    return "text/plain; charset=utf-8"


def _file_body(value, where: str, ctx: _Context, templating: bool) -> Body:
    if not isinstance(value, str):
        ctx.problems.append(Problem(where, f"expected a file path, got {_kind(value)}"))
        return Body("empty")
    path = os.path.normpath(os.path.join(ctx.base_dir, value))
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        ctx.problems.append(Problem(where, f"cannot read {path!r}: {exc.strerror}",
                                    "body_file paths are relative to the config file"))
        return Body("empty")
    ctx.files.add(path)
    content_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
    if content_type.startswith("text/") or content_type in ("application/json", "application/xml"):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return Body("bytes", data, None, content_type)
        if content_type.startswith("text/"):
            content_type += "; charset=utf-8"
        return _text_body(text, where, ctx.problems, templating, content_type)
    return Body("bytes", data, None, content_type)


def _headers(value, where: str, problems, templating: bool) -> tuple:
    if not isinstance(value, dict):
        problems.append(Problem(where, f"expected an object of header: value, got {_kind(value)}"))
        return ()
    out = []
    for name, text in value.items():
        if not _METHOD_TOKEN.match(name):  # header names are tokens, like methods
            problems.append(Problem(f"{where}[{name!r}]", "not a valid header name",
                                    "letters, digits and !#$%&'*+-.^_`|~ only"))
            continue
        if name.lower() in _FRAMING_HEADERS:
            problems.append(Problem(f"{where}.{name}", "the server sets this header itself",
                                    "remove it; the body length is computed"))
            continue
        if not isinstance(text, (str, int, float)) or isinstance(text, bool):
            problems.append(Problem(f"{where}.{name}", f"expected a string, got {_kind(text)}"))
            continue
        text = str(text)
        if "\r" in text or "\n" in text:
            problems.append(Problem(f"{where}.{name}", "header values cannot contain line breaks"))
            continue
        if templating and templates.has_template_syntax(text):
            try:
                out.append((name, templates.compile_template(text, name=f"{where}.{name}")))
            except TemplateError as exc:
                problems.append(_template_problem(exc, f"{where}.{name}"))
            continue
        out.append((name, text))
    return tuple(out)


def _latency(value, where: str, problems) -> Latency | None:
    if value is None:
        return None
    if _finite_number(value) and value >= 0:
        return Latency("fixed", float(value)) if value else None
    if isinstance(value, dict):
        keys = set(value)
        numbers = all(_finite_number(v) and v >= 0 for v in value.values())
        if keys == {"min", "max"} and numbers and value["min"] <= value["max"]:
            return Latency("uniform", float(value["min"]), float(value["max"]))
        if keys == {"median", "sigma"} and numbers:
            return Latency("lognormal", float(value["median"]), float(value["sigma"]))
    problems.append(Problem(where, f"invalid latency {value!r}",
                            "use milliseconds (100), {\"min\": 50, \"max\": 200} or {\"median\": 80, \"sigma\": 0.4}"))
    return None


# ---------------------------------------------------------------- small checks

def _check_keys(obj: dict, allowed, where: str, problems) -> None:
    problems.extend(unknown_key_problems(obj, allowed, where))


_kind = kind_name


def _integer(value, where: str, problems, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        problems.append(Problem(where, f"expected an integer, got {_kind(value)}"))
        return 0
    if minimum is not None and value < minimum:
        problems.append(Problem(where, f"must be at least {minimum}, got {value}"))
    return value


def _boolean(value, where: str, problems) -> bool:
    if not isinstance(value, bool):
        problems.append(Problem(where, f"expected true or false, got {value!r}"))
        return False
    return value


def _finite_number(value) -> bool:
    """An int or float that is not a bool, NaN or infinite."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _rate(value, where: str, problems) -> float:
    if not _finite_number(value) or not 0 <= value <= 1:
        problems.append(Problem(where, f"expected a number from 0 to 1, got {value!r}",
                                "0.1 means 10% of requests fail"))
        return 0.0
    return float(value)


def _string_list(value, where: str, problems) -> list:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.append(Problem(where, f"expected a list of strings, got {value!r}"))
        return []
    return list(value)
