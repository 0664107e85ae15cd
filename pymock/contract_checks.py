"""Check one request or response against one OpenAPI operation, compiled once.

Layer 1, pure in practice: no sockets, threads or files; must not import ``config``,
``engine`` or ``app``. ``compile_operation`` turns an :class:`~pymock.openapi.Operation` into
a :class:`CheckedOperation` whose validators come from the spec's shared
:class:`~pymock.schema.SchemaCompiler` and are cached on the spec, so a config reload does not
compile a schema twice. Checking then only parses what the request carries:

- parameters with their ``style``/``explode`` (``simple``, ``label``, ``matrix``, ``form``,
  ``spaceDelimited``, ``pipeDelimited``, ``deepObject``; Swagger's ``collectionFormat``), each
  value coerced to its schema's type before validation;
- the body: required or not, its ``Content-Type`` against the declared media types, JSON,
  form and multipart bodies against the schema (``readOnly`` excluded for requests);
- security: at least one alternative of the operation's requirements must be present
  (an API key in its header/query/cookie, ``Authorization: Basic``/``Bearer``);
- responses: a declared status, required and well-formed headers, the body's schema.

>>> from pymock.openapi import load_spec
>>> from pymock.model import Request
>>> spec = load_spec({"openapi": "3.0.3", "info": {"title": "t", "version": "1"},
...     "paths": {"/pets": {"get": {"parameters": [{"name": "limit", "in": "query",
...         "schema": {"type": "integer", "maximum": 50}}], "responses": {"200": {"description": "ok"}}}}}})
>>> checked = compile_operation(spec, spec.operations[0])
>>> [v.as_dict() for v in checked.check_request(Request("GET", "/pets?limit=70"), {})]
[{'location': 'query', 'pointer': '/limit', 'keyword': 'maximum', 'message': 'value 70 is greater than the maximum 50'}]
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import HTTP
from urllib.parse import parse_qs

from .errors import SpecError
from .openapi import JSON_TYPES, Operation, Spec, esc, node_at

__all__ = ["Violation", "CheckedOperation", "compile_operation", "media_matches"]

_FORM = "application/x-www-form-urlencoded"
_IGNORED_HEADERS = frozenset({"accept", "content-type", "authorization"})
_INTEGER = re.compile(r"^-?[0-9]+$")
_NUMBER = re.compile(r"^-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$")


@dataclass(frozen=True)
class Violation:
    """One way a request or response breaks the contract."""

    location: str          # path, query, header, cookie, body, security, operation, status
    pointer: str           # a JSON pointer: the parameter name, then into its value
    keyword: str           # the schema keyword or check that failed
    message: str
    direction: str = "request"

    def as_dict(self) -> dict:
        return {"location": self.location, "pointer": self.pointer, "keyword": self.keyword,
                "message": self.message}

    def __str__(self) -> str:
        where = f" {self.pointer}" if self.pointer else ""
        return f"{self.direction} {self.location}{where}: {self.message}"


def media_matches(declared: str, actual: str) -> bool:
    """``application/json`` matches ``application/json; charset=utf-8``; ``*/*`` and
    ``application/*`` match by wildcard."""
    want = declared.split(";")[0].strip().lower()
    got = actual.split(";")[0].strip().lower()
    if want in ("*/*", got):
        return True
    return want.endswith("/*") and got.startswith(want[:-1])


# ---------------------------------------------------------------- schema shapes

def _shape(spec: Spec, pointer: str | None, depth: int = 0):
    """(type, item type, property types) of a schema, following $ref and allOf, for coercion."""
    if pointer is None or depth > 8:
        return None, None, {}
    try:
        node = node_at(spec.document, pointer)
    except KeyError:
        return None, None, {}
    if isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#"):
        return _shape(spec, node["$ref"][1:], depth + 1)
    if not isinstance(node, dict):
        return None, None, {}
    kind = node.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    props = {name: _shape(spec, f"{pointer}/properties/{esc(name)}", depth + 1)[0]
             for name in (node.get("properties") or {})} if isinstance(node.get("properties"), dict) else {}
    for key in ("allOf", "oneOf", "anyOf"):
        for index, _ in enumerate(node.get(key) or () if isinstance(node.get(key), list) else ()):
            sub_kind, sub_items, sub_props = _shape(spec, f"{pointer}/{key}/{index}", depth + 1)
            kind = kind or sub_kind
            props = {**sub_props, **props}
    items = _shape(spec, pointer + "/items", depth + 1)[0] if isinstance(node.get("items"), dict) else None
    if kind is None and props:
        kind = "object"
    return kind, items, props


def _coerce(text, kind):
    """A string from the wire as the JSON value its schema type expects (unchanged if unsure)."""
    if not isinstance(text, str):
        return text
    if kind == "integer" and _INTEGER.match(text):
        return int(text)
    if kind == "number" and _NUMBER.match(text):
        number = float(text)
        return int(number) if number.is_integer() and "." not in text and "e" not in text.lower() else number
    if kind == "boolean" and text in ("true", "false"):
        return text == "true"
    if kind == "null" and text in ("", "null"):
        return None
    return text


# ---------------------------------------------------------------- parameters

@dataclass(frozen=True)
class _Param:
    name: str
    location: str
    required: bool
    style: str
    explode: bool
    validator: object
    kind: str | None
    items: str | None
    props: dict
    content_type: str | None


def _split(text: str, style: str) -> list:
    separator = {"spaceDelimited": " ", "pipeDelimited": "|", "tabDelimited": "\t"}.get(style, ",")
    return text.split(separator) if text != "" else []


def _pairs_to_object(parts: list, props: dict) -> dict:
    return {k: _coerce(v, props.get(k)) for k, v in zip(parts[::2], parts[1::2])}


def _exploded_object(parts: list, props: dict, sep: str = "=") -> dict:
    out = {}
    for part in parts:
        key, _, value = part.partition(sep)
        out[key] = _coerce(value, props.get(key))
    return out


def _shape_value(param: _Param, text: str, exploded_parts: list | None = None):
    """A scalar/array/object parameter value from its string form (simple, form, delimited)."""
    if param.kind == "array":
        parts = exploded_parts if exploded_parts is not None else _split(text, param.style)
        return [_coerce(p, param.items) for p in parts]
    if param.kind == "object":
        parts = _split(text, "simple")
        if param.explode and param.location in ("path", "header"):
            return _exploded_object(parts, param.props)
        return _pairs_to_object(parts, param.props)
    return _coerce(text, param.kind)


def _path_value(param: _Param, text: str):
    if param.style == "label":
        text = text[1:] if text.startswith(".") else text
        if param.explode and param.kind == "array":
            return _shape_value(param, "", text.split("."))
        if param.explode and param.kind == "object":
            return _exploded_object(text.split("."), param.props)
    elif param.style == "matrix":
        prefix = f";{param.name}="
        if param.explode and param.kind == "array":
            return _shape_value(param, "", [p.partition("=")[2] for p in text.split(";") if p])
        if param.explode and param.kind == "object":
            return _exploded_object([p for p in text.split(";") if p], param.props)
        text = text[len(prefix):] if text.startswith(prefix) else text.lstrip(";")
    return _shape_value(param, text)


def _query_value(param: _Param, query: dict):
    """(present, value) of a query parameter from the parsed query string."""
    if param.style == "deepObject" or (param.kind == "object" and param.explode and param.style == "form"):
        if param.style == "deepObject":
            found = {k[len(param.name) + 1:-1]: v[0] for k, v in query.items()
                     if k.startswith(param.name + "[") and k.endswith("]")}
        else:
            found = {k: query[k][0] for k in param.props if k in query}
        return bool(found), {k: _coerce(v, param.props.get(k)) for k, v in found.items()}
    values = query.get(param.name)
    if values is None:
        return False, None
    if param.kind == "array" and param.explode and param.style == "form":
        return True, _shape_value(param, "", values)
    return True, _shape_value(param, values[0])


def _content_value(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return text


# ---------------------------------------------------------------- the compiled operation

class CheckedOperation:
    """An operation's request and response checks, with every validator compiled."""

    def __init__(self, spec: Spec, op: Operation, schemes: dict):
        self.spec, self.op = spec, op
        self.label = f"{op.method} {op.path}"
        # OpenAPI: header parameters named Accept, Content-Type or Authorization are ignored.
        self.params = [self._param(p) for p in op.parameters
                       if not (p.location == "header" and p.name.lower() in _IGNORED_HEADERS)]
        self.body = op.request_body
        self._media_for: dict = {}
        self.body_validators = {m.content_type: self._validator(m.schema) for m in op.request_body.content} \
            if op.request_body else {}
        self.body_shapes = {m.content_type: _shape(spec, m.schema) for m in op.request_body.content} \
            if op.request_body else {}
        self.security = [[schemes.get(name) for name in requirement] for requirement in op.security]
        self.responses = {r.status: r for r in op.responses}
        self.response_validators = {(r.status, m.content_type): self._validator(m.schema)
                                    for r in op.responses for m in r.content}
        self.response_shapes = {(r.status, m.content_type): _shape(spec, m.schema)
                                for r in op.responses for m in r.content}
        self.header_checks = {r.status: [(h, self._validator(h.schema), _shape(spec, h.schema))
                                         for h in r.headers] for r in op.responses}

    def _validator(self, pointer: str | None):
        if pointer is None:
            return None
        cache = self.spec.cache.setdefault("validators", {})
        if pointer not in cache:
            try:
                cache[pointer] = self.spec.schema_compiler().validator(pointer)
            except SpecError as exc:
                self.spec.problems.append(_schema_problem(self.spec, pointer, exc))
                cache[pointer] = None
        return cache[pointer]

    def _param(self, p) -> _Param:
        kind, items, props = _shape(self.spec, p.schema)
        return _Param(p.name, p.location, p.required, p.style, p.explode, self._validator(p.schema),
                      kind, items, props, p.content_type)

    # ------------------------------------------------------------ requests

    def check_request(self, request, path_params: dict) -> list[Violation]:
        out: list[Violation] = []
        query = None
        for param in self.params:
            if param.location == "query" and query is None:
                query = parse_qs(request.raw_query, keep_blank_values=True) if request.raw_query else {}
            present, value = self._read(param, request, path_params, query)
            if not present:
                if param.required:
                    out.append(Violation(param.location, "/" + esc(param.name), "required",
                                         f"the {param.location} parameter {param.name!r} is required"))
                continue
            if param.validator is not None and not param.validator.is_valid(value, "request"):
                out += [Violation(param.location, "/" + esc(param.name) + e.instance_pointer, e.keyword,
                                  e.message) for e in param.validator.validate(value, "request")]
        if self.body is not None or request.body:
            out += self._check_body(request)
        if self.security:
            out += self._check_security(request)
        return out

    def _read(self, param: _Param, request, path_params: dict, query):
        if param.location == "path":
            text = path_params.get(param.name)
            if text is None:
                return False, None
            value = _path_value(param, text)
        elif param.location == "query":
            if param.content_type:
                values = query.get(param.name)
                return (values is not None), (_content_value(values[0]) if values else None)
            return _query_value(param, query)
        elif param.location == "header":
            text = request.headers.get(param.name)
            if text is None:
                return False, None
            value = _shape_value(param, text)
        else:
            text = request.cookies.get(param.name)
            if text is None:
                return False, None
            value = _shape_value(param, text)
        return True, _content_value(text) if param.content_type else value

    def _check_body(self, request) -> list[Violation]:
        body = self.body
        if not request.body:
            if body is not None and body.required:
                return [Violation("body", "", "required", "the request body is required")]
            return []
        if body is None or not body.content:
            return []
        ctype = request.headers.get("content-type")
        media = self._media_for.get(ctype, _UNPARSED)
        if media is _UNPARSED:   # clients send few distinct Content-Types: remember the match
            media = next((m for m in body.content if ctype and media_matches(m.content_type, ctype)), None)
            if len(self._media_for) < 64:
                self._media_for[ctype] = media
        if media is None:
            accepted = ", ".join(m.content_type for m in body.content)
            return [Violation("header", "/content-type", "contentType",
                              f"Content-Type {ctype or '(none)'} is not accepted; send one of: {accepted}")]
        validator = self.body_validators.get(media.content_type)
        value, problem = _parse_body(request.body, ctype, self.body_shapes.get(media.content_type))
        if problem:
            return [Violation("body", "", "parse", problem)]
        if validator is None or value is _UNPARSED:
            return []
        return [Violation("body", e.instance_pointer, e.keyword, e.message)
                for e in validator.validate(value, "request")]

    def _check_security(self, request) -> list[Violation]:
        for requirement in self.security:
            if all(_credential_present(s, request) for s in requirement):
                return []
        options = " or ".join(" + ".join(_describe_scheme(s) for s in r) for r in self.security)
        return [Violation("security", "", "security", f"missing credentials: send {options}")]

    # ------------------------------------------------------------ responses

    def declared(self, status: int) -> str | None:
        """The response key that covers ``status``: exact, range (``4XX``) or ``default``."""
        for key in (str(status), f"{str(status)[0]}XX", "default"):
            if key in self.responses:
                return key
        return None

    def check_response(self, response) -> list[Violation]:
        if not self.responses:
            return []   # OpenAPI 3.1 operations may declare no responses: anything goes
        key = self.declared(response.status)
        if key is None:
            listed = ", ".join(self.responses) or "none"
            return [Violation("status", "", "status", f"status {response.status} is not declared for "
                              f"{self.label} (declared: {listed})", "response")]
        out = []
        for header, validator, (kind, items, _) in self.header_checks.get(key, ()):
            value = response.header(header.name)
            if value is None:
                if header.required:
                    out.append(Violation("header", "/" + esc(header.name), "required",
                                         f"the response header {header.name!r} is required", "response"))
                continue
            if validator is not None:
                value = [_coerce(v.strip(), items) for v in value.split(",")] if kind == "array" \
                    else _coerce(value, kind)
                out += [Violation("header", "/" + esc(header.name) + e.instance_pointer, e.keyword, e.message,
                                  "response") for e in validator.validate(value, "response")]
        return out + self._check_response_body(key, response)

    def _check_response_body(self, key: str, response) -> list[Violation]:
        definition = self.responses[key]
        if not response.body or not definition.content:
            return []
        ctype = response.header("content-type") or ""
        media = next((m for m in definition.content if media_matches(m.content_type, ctype)), None)
        if media is None:
            declared = ", ".join(m.content_type for m in definition.content)
            return [Violation("header", "/content-type", "contentType", f"Content-Type {ctype or '(none)'} "
                              f"is not declared for status {key} (declared: {declared})", "response")]
        validator = self.response_validators.get((key, media.content_type))
        if validator is None:
            return []
        value, problem = _parse_body(response.body, ctype, self.response_shapes.get((key, media.content_type)))
        if problem:
            return [Violation("body", "", "parse", problem, "response")]
        if value is _UNPARSED:
            return []
        return [Violation("body", e.instance_pointer, e.keyword, e.message, "response")
                for e in validator.validate(value, "response")]


_UNPARSED = object()


def _parse_body(data: bytes, ctype: str | None, shape):
    """(value, problem): JSON, form and multipart bodies as JSON values; text as a string."""
    original, ctype = ctype or "", (ctype or "").lower()   # the boundary is case-sensitive
    if ctype.startswith("application/json") or JSON_TYPES.match(ctype):
        try:
            return json.loads(data), None
        except (ValueError, UnicodeDecodeError) as exc:
            return None, f"the body is not valid JSON: {exc}"
    props = shape[2] if shape else {}
    if ctype.startswith(_FORM):
        fields = parse_qs(data.decode("utf-8", "replace"), keep_blank_values=True)
        return _form_object(fields, props), None
    if ctype.startswith("multipart/form-data"):
        return _multipart(data, original, props)
    if ctype.startswith("text/plain") and (shape is None or shape[0] in (None, "string")):
        return data.decode("utf-8", "replace"), None
    return _UNPARSED, None   # XML, binary, ...: no JSON Schema applies


def _form_object(fields: dict, props: dict) -> dict:
    return {name: [_coerce(v, None) for v in values] if props.get(name) == "array" or len(values) > 1
            else _coerce(values[0], props.get(name)) for name, values in fields.items()}


def _multipart(data: bytes, ctype: str, props: dict):
    message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + ctype.encode("latin-1") + b"\r\n\r\n" + data)
    if not message.is_multipart():
        return None, "the multipart body has no parts (is the boundary right?)"
    fields: dict = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name:
            payload = part.get_payload(decode=True) or b""
            fields.setdefault(name, []).append(payload.decode("utf-8", "replace"))
    return _form_object(fields, props), None


def _credential_present(scheme, request) -> bool:
    if scheme is None:
        return False   # the spec names a scheme it does not define: nothing can satisfy it
    if scheme.type == "apiKey":
        if scheme.location == "query":
            return scheme.param_name in request.query
        if scheme.location == "cookie":
            return scheme.param_name in request.cookies
        return scheme.param_name in request.headers
    if scheme.type == "mutualTLS":
        return True
    authorization = request.headers.get("authorization", "")
    if scheme.type == "http" and scheme.scheme not in ("", "bearer"):
        return authorization.lower().startswith(scheme.scheme + " ")
    return authorization.lower().startswith("bearer ")


def _describe_scheme(scheme) -> str:
    if scheme is None:
        return "an undefined scheme"
    if scheme.type == "apiKey":
        return f"the {scheme.location} {scheme.param_name!r} ({scheme.name})"
    if scheme.type == "http" and scheme.scheme not in ("", "bearer"):
        return f"'Authorization: {scheme.scheme.capitalize()} ...' ({scheme.name})"
    return f"'Authorization: Bearer <token>' ({scheme.name})"


def _schema_problem(spec: Spec, pointer: str, exc: SpecError):
    from .errors import Problem
    return Problem(spec.where(exc.pointer or pointer), f"schema cannot be compiled: {exc.message}",
                   "requests and responses are not checked against it")


def compile_operation(spec: Spec, op: Operation) -> CheckedOperation:
    """The checks for ``op`` (memoised on the spec: one compile per spec file version)."""
    cache = spec.cache.setdefault("operations", {})
    checked = cache.get(op.pointer)
    if checked is None:
        checked = cache[op.pointer] = CheckedOperation(spec, op, spec.security_schemes)
    return checked
