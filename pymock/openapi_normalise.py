"""Turning a bundled OpenAPI 3.x or Swagger 2.0 document into the model's ``Operation`` s.

Layer 1 (no I/O): ``_Normaliser(spec)`` follows ``$ref`` s with cycle checks, reports broken
parts as :class:`~pymock.errors.Problem` s (a JSON pointer into the spec) and skips them.
Swagger 2.0 is normalised on the way: ``in: body``/``formData`` parameters become a request
body, ``produces`` gives response media types, and parameter schemas are written under
``/x-pymock-synthetic/<n>``. ``openapi.load_spec`` is the entry point.

Must not import ``openapi`` (it imports this), ``config``, ``engine``, ``app`` or anything of
layer 2.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from .errors import Problem
from .openapi_model import (_COLLECTION_STYLES, _SCHEMA_WORDS, _STATUS, _SYNTH, METHODS, Header, MediaType,
                            Operation, Parameter, RequestBody, ResponseDef, SecurityScheme, Spec, esc, node_at)

__all__ = []    # internal: openapi.load_spec is the public face


def _check_top(spec: Spec) -> None:
    doc, problems = spec.raw, spec.problems
    if not isinstance(doc.get("info"), dict):
        problems.append(Problem("/info", "required: an object with 'title' and 'version'"))
    paths = doc.get("paths")
    if paths is None and not (spec.version.startswith("3.1") and ("webhooks" in doc or "components" in doc)):
        problems.append(Problem("/paths", "required: an object of path -> path item",
                                "an API with no operations still needs \"paths\": {}"))
    elif paths is not None and not isinstance(paths, dict):
        problems.append(Problem("/paths", f"expected an object, got {type(paths).__name__}"))


class _Normaliser:
    """Turns path items (3.x or 2.0) into Operations, following $refs with cycle checks."""

    def __init__(self, spec: Spec):
        self.spec, self.doc, self.problems = spec, spec.document, spec.problems
        self.swagger = spec.kind == "swagger"
        self.synthetic: list = []
        self.op_ids: dict[str, str] = {}

    def problem(self, where: str, message: str, hint: str | None = None) -> None:
        self.problems.append(Problem(self.spec.where(where), message, hint))

    def resolve(self, node, pointer: str):
        """Follow ``$ref`` s: (object, its pointer), or (None, pointer) after a reported problem."""
        seen = set()
        while isinstance(node, dict) and isinstance(node.get("$ref"), str):
            ref = node["$ref"]
            if not ref.startswith("#") or ref in seen:
                why = "it refers to itself in a loop" if ref in seen else "it cannot be resolved"
                self.problem(pointer, f"$ref {ref!r}: {why}")
                return None, pointer
            seen.add(ref)
            target = unquote(ref[1:])
            try:
                node, pointer = node_at(self.doc, target), target
            except KeyError:
                self.problem(pointer, f"$ref {ref!r}: the target does not exist",
                             "check the spelling of the component name")
                return None, pointer
        return node, pointer

    def expect(self, node, pointer: str, kind=dict, what: str = "an object"):
        node, pointer = self.resolve(node, pointer)
        if node is not None and not isinstance(node, kind):
            self.problem(pointer, f"expected {what}, got {type(node).__name__}")
            return None, pointer
        return node, pointer

    # ------------------------------------------------------------ security

    def security_schemes(self) -> dict:
        if self.swagger:
            table, base = self.doc.get("securityDefinitions"), "/securityDefinitions"
        else:
            components = self.doc.get("components")
            table = components.get("securitySchemes") if isinstance(components, dict) else None
            base = "/components/securitySchemes"
        out = {}
        for name, raw in (table.items() if isinstance(table, dict) else ()):
            node, _ = self.expect(raw, f"{base}/{esc(name)}")
            if node is not None:
                kind = str(node.get("type", ""))
                scheme = "basic" if kind == "basic" else str(node.get("scheme", "")).lower()
                out[name] = SecurityScheme(name, "http" if kind == "basic" else kind,
                                           str(node.get("in", "")), str(node.get("name", "")), scheme)
        return out

    def security(self, node, pointer: str) -> tuple:
        value = node.get("security", self.doc.get("security"))
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
            self.problem(pointer + "/security", "expected a list of {scheme: [scopes]} objects")
            return ()
        for requirement in value:
            for name in requirement:
                if name not in self.spec.security_schemes:
                    self.problem(pointer + "/security", f"security scheme {name!r} is not defined",
                                 "define it under components/securitySchemes (securityDefinitions in 2.0)")
        return tuple(dict(r) for r in value)

    # ------------------------------------------------------------ operations

    def operations(self):
        paths = self.doc.get("paths")
        if not isinstance(paths, dict):
            return
        for path, item in paths.items():
            where = "/paths/" + esc(path)
            if not isinstance(path, str) or not path.startswith("/"):
                self.problem(where, f"path {path!r} must start with '/'", "skipped")
                continue
            item, item_ptr = self.expect(item, where)
            if item is None:
                continue
            shared = self.parameter_list(item.get("parameters"), item_ptr + "/parameters")
            for method in METHODS:
                if method in item:
                    operation = self.operation(path, method, item[method], f"{item_ptr}/{method}", shared)
                    if operation is not None:
                        yield operation

    def operation(self, path: str, method: str, node, pointer: str, shared: list):
        node, pointer = self.expect(node, pointer)
        if node is None:
            return None
        own = self.parameter_list(node.get("parameters"), pointer + "/parameters")
        merged = {(p.name, p.location): p for p in shared}
        merged.update({(p.name, p.location): p for p in own})
        params = [p for p in merged.values() if p.location in ("path", "query", "header", "cookie")]
        body = self.request_body(node, pointer, list(merged.values()))
        self.check_path_params(path, params, pointer)
        op_id = node.get("operationId")
        if op_id is not None and not isinstance(op_id, str):
            self.problem(pointer + "/operationId", "expected a string")
            op_id = None
        if op_id in self.op_ids:
            self.problem(pointer + "/operationId", f"duplicate operationId {op_id!r} "
                         f"(also at {self.op_ids[op_id]})", "operationIds must be unique")
        elif op_id:
            self.op_ids[op_id] = pointer
        tags = node.get("tags") if isinstance(node.get("tags"), list) else []
        summary = node.get("summary") if isinstance(node.get("summary"), str) else ""
        return Operation(method.upper(), path, op_id, pointer, tuple(params), body,
                         tuple(self.responses(node, pointer)), self.security(node, pointer),
                         summary, tuple(str(t) for t in tags))

    def check_path_params(self, path: str, params: list, pointer: str) -> None:
        in_path = set(re.findall(r"\{([^{}/]+)\}", path.partition("#")[0].partition("?")[0]))
        declared = {p.name for p in params if p.location == "path"}
        for name in sorted(in_path - declared):
            self.problem(pointer, f"path parameter {name!r} is in the path but not declared",
                         "add it to 'parameters' with in: path")
        for name in sorted(declared - in_path):
            self.problem(pointer + "/parameters", f"path parameter {name!r} is declared but "
                         "not in the path template")

    # ------------------------------------------------------------ parameters

    def parameter_list(self, value, pointer: str) -> list:
        if value is None:
            return []
        if not isinstance(value, list):
            self.problem(pointer, "expected a list of parameters")
            return []
        out = []
        for index, raw in enumerate(value):
            param = self.parameter(raw, f"{pointer}/{index}")
            if param is not None:
                out.append(param)
        return out

    def parameter(self, raw, pointer: str):
        node, pointer = self.expect(raw, pointer)
        if node is None:
            return None
        name, where = node.get("name"), node.get("in")
        allowed = ("path", "query", "header", "body", "formData") if self.swagger else \
            ("path", "query", "header", "cookie")
        if not isinstance(name, str) or where not in allowed:
            self.problem(pointer, "a parameter needs a 'name' and 'in' (one of " + ", ".join(allowed) + ")",
                         "skipped")
            return None
        required = node.get("required") is True or where == "path"
        if self.swagger:
            return self.swagger_parameter(node, name, where, required, pointer)
        style = node.get("style") or ("form" if where in ("query", "cookie") else "simple")
        explode = node.get("explode", style == "form")
        schema, content_type = self.schema_of(node, pointer)
        return Parameter(name, where, required, schema, str(style), explode is True, pointer,
                         content_type, _examples(node, pointer, self))

    def schema_of(self, node: dict, pointer: str):
        if "schema" in node:
            return pointer + "/schema", None
        content = node.get("content")
        if isinstance(content, dict) and content:
            content_type = next(iter(content))
            media = content[content_type]
            if isinstance(media, dict) and "schema" in media:
                return f"{pointer}/content/{esc(content_type)}/schema", content_type
            return None, content_type
        return None, None

    def swagger_parameter(self, node: dict, name: str, where: str, required: bool, pointer: str):
        if where == "body":
            return Parameter(name, "body", required, pointer + "/schema" if "schema" in node else None,
                             "", False, pointer, None, _x_example(node))
        style, explode = _COLLECTION_STYLES.get(node.get("collectionFormat", "csv"), ("form", False))
        if where in ("path", "header"):
            style = "simple" if style == "form" else style
        return Parameter(name, where, required, self.synthesize(node), style, explode, pointer,
                         None, _x_example(node))

    def synthesize(self, node: dict) -> str:
        """A JSON Schema made of a 2.0 parameter's schema keywords, under /x-pymock-synthetic."""
        schema = {k: v for k, v in node.items() if k in _SCHEMA_WORDS}
        if schema.get("type") == "file":
            schema = {"type": "string", "format": "binary"}
        if isinstance(schema.get("items"), dict):
            schema["items"] = {k: v for k, v in schema["items"].items() if k in _SCHEMA_WORDS}
        self.synthetic.append(schema)
        return f"/{_SYNTH}/{len(self.synthetic) - 1}"

    # ------------------------------------------------------------ bodies

    def request_body(self, node: dict, pointer: str, params: list):
        if self.swagger:
            return self.swagger_body(node, pointer, params)
        if "requestBody" not in node:
            return None
        body, where = self.expect(node["requestBody"], pointer + "/requestBody")
        if body is None:
            return None
        content = self.content(body.get("content"), where + "/content")
        return RequestBody(body.get("required") is True, tuple(content), where)

    def swagger_body(self, node: dict, pointer: str, params: list):
        consumes = _media_list(node.get("consumes", self.doc.get("consumes")), ["application/json"])
        body = next((p for p in params if p.location == "body"), None)
        if body is not None:
            content = tuple(MediaType(ct, body.schema, body.examples, body.pointer) for ct in consumes)
            return RequestBody(body.required, content, body.pointer)
        form = [p for p in params if p.location == "formData"]
        if not form:
            return None
        schema = {"type": "object", "properties": {}, "required": [p.name for p in form if p.required]}
        for param in form:
            schema["properties"][param.name] = {"$ref": "#" + param.schema}
        if not schema["required"]:
            del schema["required"]
        self.synthetic.append(schema)
        kinds = [ct for ct in consumes if "form" in ct] or ["application/x-www-form-urlencoded"]
        synthetic = f"/{_SYNTH}/{len(self.synthetic) - 1}"
        content = tuple(MediaType(ct, synthetic, (), pointer + "/parameters") for ct in kinds)
        return RequestBody(bool(schema.get("required")), content, pointer + "/parameters")

    def content(self, value, pointer: str) -> list:
        if value is None:
            return []
        if not isinstance(value, dict):
            self.problem(pointer, "expected an object of media type -> media type object")
            return []
        out = []
        for content_type, raw in value.items():
            media, where = self.expect(raw, f"{pointer}/{esc(content_type)}")
            if media is not None:
                schema = where + "/schema" if "schema" in media else None
                out.append(MediaType(str(content_type), schema, _examples(media, where, self), where))
        return out

    # ------------------------------------------------------------ responses

    def responses(self, node: dict, pointer: str):
        table, where = self.expect(node.get("responses"), pointer + "/responses")
        if not table:
            if not self.spec.version.startswith("3.1"):  # 3.1 made "responses" optional
                self.problem(pointer + "/responses", "an operation needs at least one response",
                             "imported with an empty 200 response")
            return
        produces = _media_list(node.get("produces", self.doc.get("produces")), ["application/json"])
        for status, raw in table.items():
            at = f"{where}/{esc(status)}"
            if isinstance(status, str) and status.startswith("x-"):
                continue
            if not _STATUS.match(str(status)):
                self.problem(at, f"{status!r} is not a status code, a range like '4XX' or 'default'")
                continue
            response, at = self.expect(raw, at)
            if response is not None:
                yield self.response(str(status).upper() if str(status) != "default" else "default",
                                    response, at, produces)

    def response(self, status: str, node: dict, pointer: str, produces: list) -> ResponseDef:
        headers = []
        table = node.get("headers")
        for name, raw in (table.items() if isinstance(table, dict) else ()):
            header, at = self.expect(raw, f"{pointer}/headers/{esc(name)}")
            if header is None:
                continue
            if self.swagger:
                headers.append(Header(name, False, self.synthesize(header), at, _x_example(header)))
            else:
                schema, _ = self.schema_of(header, at)
                headers.append(Header(name, header.get("required") is True, schema, at,
                                      _examples(header, at, self)))
        if self.swagger:
            content = self.swagger_content(node, pointer, produces)
        else:
            content = self.content(node.get("content"), pointer + "/content")
        description = node.get("description") if isinstance(node.get("description"), str) else ""
        return ResponseDef(status, description, tuple(headers), tuple(content), pointer)

    def swagger_content(self, node: dict, pointer: str, produces: list) -> list:
        examples = node.get("examples") if isinstance(node.get("examples"), dict) else {}
        if "schema" not in node and not examples:
            return []
        schema = pointer + "/schema" if "schema" in node else None
        kinds = produces + [ct for ct in examples if ct not in produces]
        return [MediaType(ct, schema, (("", examples[ct]),) if ct in examples else (), pointer)
                for ct in kinds]


def _media_list(value, default: list) -> list:
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return list(value)
    return list(default)


def _x_example(node: dict) -> tuple:
    return (("", node["x-example"]),) if "x-example" in node else ()


def _examples(node: dict, pointer: str, normaliser: _Normaliser) -> tuple:
    """((name, value), ...): a lone ``example`` is named "", ``examples`` keep their names."""
    out = []
    if "example" in node:
        out.append(("", node["example"]))
    table = node.get("examples")
    if isinstance(table, dict):
        for name, raw in table.items():
            example, _ = normaliser.resolve(raw, f"{pointer}/examples/{esc(name)}")
            if isinstance(example, dict) and "value" in example:
                out.append((str(name), example["value"]))
    return tuple(out)
