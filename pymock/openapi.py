"""Load an OpenAPI 3.0/3.1 or Swagger 2.0 document into one internal model of operations.

Layer 1: reads the spec file and the files its ``$ref``s name (remote documents only through
a ``fetch`` callback the caller passes, e.g. the CLI's urllib one); no sockets, no threads.
Must not import ``config``, ``engine``, ``app`` or anything of layer 2.

External references are *bundled*: every other document is mounted inside a private copy of
the root under ``/x-pymock-documents/<n>`` and every ``$ref`` is rewritten to a local pointer,
so one :class:`~pymock.schema.SchemaCompiler` sees one self-contained document, and circular
references (across files too) stay plain references. Swagger 2.0 is normalised on the way:
``in: body``/``formData`` parameters become a request body, ``produces`` gives response media
types, and parameter schemas are written under ``/x-pymock-synthetic/<n>``.

Broken parts are reported as :class:`~pymock.errors.Problem` s whose path is a JSON pointer
into the spec, and skipped: an operation with one bad response still imports. Only a document
that is not an OpenAPI document at all raises :class:`~pymock.errors.SpecError`.

>>> spec = load_spec({"openapi": "3.0.3", "info": {"title": "t", "version": "1"},
...     "paths": {"/pets/{id}": {"get": {"operationId": "getPet", "parameters": [
...         {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
...         "responses": {"200": {"description": "ok"}}}}}})
>>> op = spec.operations[0]
>>> op.method, op.path, op.operation_id, op.parameters[0].schema, op.pointer
('GET', '/pets/{id}', 'getPet', '/paths/~1pets~1{id}/get/parameters/0/schema', '/paths/~1pets~1{id}/get')
"""

from __future__ import annotations

import json
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

from .errors import Problem, SpecError, YamlError

__all__ = [
    "Spec", "Operation", "Parameter", "RequestBody", "MediaType", "ResponseDef", "Header",
    "SecurityScheme", "load_spec", "load_spec_text", "parse_spec_text", "METHODS", "esc",
    "pointer_to", "node_at", "JSON_TYPES",
]

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
JSON_TYPES = re.compile(r"^application/(?:[\w.+-]+\+)?json\b|^\*/\*$|^application/\*$", re.I)
_STATUS = re.compile(r"^(?:[1-5][0-9][0-9]|[1-5]XX|default)$", re.I)
_MOUNT, _SYNTH = "x-pymock-documents", "x-pymock-synthetic"
# Keys whose values are data, not OpenAPI/Schema objects: a "$ref" inside them is not a reference.
_DATA_KEYS = frozenset({"example", "enum", "const", "default", "value", "externalValue"})
# Keys whose values map arbitrary names to objects (a property may be called "default").
_NAME_MAPS = frozenset({"properties", "patternProperties", "definitions", "$defs", "schemas",
                        "responses", "parameters", "headers", "examples", "securitySchemes",
                        "securityDefinitions", "requestBodies", "links", "callbacks", "paths",
                        "pathItems", "dependentSchemas", "webhooks", "content", "encoding"})
_SCHEMA_WORDS = ("type", "format", "items", "enum", "default", "maximum", "exclusiveMaximum",
                 "minimum", "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems",
                 "minItems", "uniqueItems", "multipleOf", "x-nullable")
_COLLECTION_STYLES = {"csv": ("form", False), "ssv": ("spaceDelimited", False),
                      "pipes": ("pipeDelimited", False), "tsv": ("tabDelimited", False),
                      "multi": ("form", True)}


def esc(token) -> str:
    """One JSON pointer token: ``~`` and ``/`` escaped (RFC 6901)."""
    return str(token).replace("~", "~0").replace("/", "~1")


def pointer_to(*tokens) -> str:
    return "".join("/" + esc(t) for t in tokens)


def node_at(document, pointer: str):
    """The value at ``pointer`` in ``document``; KeyError when it does not exist."""
    node = document
    for token in pointer.split("/")[1:] if pointer else ():
        token = token.replace("~1", "/").replace("~0", "~")
        try:
            node = node[int(token)] if isinstance(node, list) else node[token]
        except (IndexError, ValueError, TypeError):
            raise KeyError(pointer) from None
    return node


# ---------------------------------------------------------------- the model

@dataclass(frozen=True)
class MediaType:
    """One content type of a body: its schema's pointer and its examples ((name, value), ...)."""

    content_type: str
    schema: str | None
    examples: tuple = ()
    pointer: str = ""


@dataclass(frozen=True)
class Parameter:
    name: str
    location: str                  # path, query, header or cookie
    required: bool
    schema: str | None             # pointer of the schema (None: anything goes)
    style: str
    explode: bool
    pointer: str = ""
    content_type: str | None = None   # a parameter given with ``content`` instead of ``schema``
    examples: tuple = ()


@dataclass(frozen=True)
class RequestBody:
    required: bool
    content: tuple                 # (MediaType, ...)
    pointer: str = ""


@dataclass(frozen=True)
class Header:
    name: str
    required: bool
    schema: str | None
    pointer: str = ""
    examples: tuple = ()


@dataclass(frozen=True)
class ResponseDef:
    status: str                    # "200", "4XX" or "default"
    description: str
    headers: tuple                 # (Header, ...)
    content: tuple                 # (MediaType, ...)
    pointer: str = ""


@dataclass(frozen=True)
class SecurityScheme:
    name: str
    type: str                      # apiKey, http, oauth2, openIdConnect, mutualTLS
    location: str = ""             # apiKey: header, query or cookie
    param_name: str = ""           # apiKey: the header/query/cookie name
    scheme: str = ""               # http: basic, bearer, ...


@dataclass(frozen=True)
class Operation:
    method: str                    # upper case
    path: str                      # the path key as written in the spec
    operation_id: str | None
    pointer: str
    parameters: tuple = ()
    request_body: RequestBody | None = None
    responses: tuple = ()          # (ResponseDef, ...) in document order
    security: tuple = ()           # alternatives: ({scheme name: scopes}, ...); () = none needed
    summary: str = ""
    tags: tuple = ()

    def response(self, status: str) -> ResponseDef | None:
        for response in self.responses:
            if response.status == status:
                return response
        return None


@dataclass
class Spec:
    """A loaded spec: the bundled document, its operations, and what was wrong with it."""

    version: str
    dialect: str                   # the schema dialect for pymock.schema
    document: dict                 # bundled: self-contained, only local $refs
    raw: dict                      # the root document as read (not bundled)
    source: str                    # file path, URL or a name
    operations: tuple = ()
    security_schemes: dict = field(default_factory=dict)
    problems: list = field(default_factory=list)
    files: tuple = ()              # local files read (the root and every referenced one)
    title: str = ""
    mounts: dict = field(default_factory=dict)   # mount pointer -> document URI
    cache: dict = field(default_factory=dict, repr=False)   # compiled checks (contract_checks)
    _compiler: object = field(default=None, repr=False)
    _lock: object = field(default_factory=threading.Lock, repr=False)

    @property
    def kind(self) -> str:
        return "swagger" if self.version.startswith("2") else "openapi"

    def node(self, pointer: str):
        return node_at(self.document, pointer)

    def where(self, pointer: str) -> str:
        """A pointer as people read it: bundled documents by their file name."""
        for mount, uri in self.mounts.items():
            if pointer == mount or pointer.startswith(mount + "/"):
                return f"{_short(uri)}#{pointer[len(mount):]}"
        return pointer

    def operation_at(self, pointer: str) -> Operation | None:
        for operation in self.operations:
            if operation.pointer == pointer:
                return operation
        return None

    def schema_compiler(self):
        """One shared SchemaCompiler for every schema in the document (built on first use)."""
        with self._lock:
            if self._compiler is None:
                from .schema import SchemaCompiler
                self._compiler = SchemaCompiler(self.document, dialect=self.dialect)
            return self._compiler


def _short(uri: str) -> str:
    return os.path.basename(urlsplit(uri).path) or uri


# ---------------------------------------------------------------- reading documents

def parse_spec_text(text, name: str = "<spec>"):
    """JSON or YAML text to data; syntax errors become a SpecError naming name:line:col."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise SpecError(f"{name} is not UTF-8 text (byte {exc.start})") from None
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped.startswith(("{", "[")):
        try:
            return json.loads(stripped)
        except json.JSONDecodeError as exc:
            if name.endswith(".json"):
                raise SpecError(f"{name}:{exc.lineno}:{exc.colno}: JSON syntax error: {exc.msg}") from None
    from . import miniyaml  # imported lazily: JSON specs never need it
    try:
        return miniyaml.load(text, source_name=name)
    except YamlError as exc:
        raise SpecError(f"{name}:{exc.line}:{exc.col}: YAML error: {exc.message}") from None


class _Reader:
    """Reads the documents ``$ref`` s name: local files, or remote ones through ``fetch``."""

    def __init__(self, fetch, allow_files: bool):
        self.fetch, self.allow_files = fetch, allow_files
        self.files: list[str] = []

    def read(self, uri: str):
        parts = urlsplit(uri)
        if parts.scheme in ("http", "https"):
            if self.fetch is None:
                raise SpecError(f"cannot fetch {uri}: remote references need a fetch callback "
                                "(the CLI passes one; the admin API does not fetch)")
            return parse_spec_text(self.fetch(uri), uri)
        if parts.scheme != "file" or not self.allow_files:
            raise SpecError(f"cannot read {uri}: a spec given as text can only reference "
                            "itself (load it from a file to follow relative references)")
        path = unquote(parts.path)
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            raise SpecError(f"cannot read {path}: {exc.strerror}") from None
        self.files.append(path)
        return parse_spec_text(data, path)


def load_spec(source, *, name: str | None = None, fetch=None) -> Spec:
    """A :class:`Spec` from a file path, a ``file:``/``http(s):`` URL or an already parsed dict.

    Raises SpecError when the document cannot be read or is not an OpenAPI/Swagger document;
    everything else wrong is listed in ``spec.problems`` (each with a JSON pointer).
    """
    if isinstance(source, dict):
        return _build(source, "", name or "<spec>", _Reader(fetch, False))
    text = os.fspath(source)
    if re.match(r"^https?://", text):
        if fetch is None:
            raise SpecError(f"cannot fetch {text}: loading a spec from a URL needs a fetch callback")
        return _build(parse_spec_text(fetch(text), text), text, name or text, _Reader(fetch, False))
    path = os.path.abspath(unquote(urlsplit(text).path) if text.startswith("file:") else text)
    reader = _Reader(fetch, True)
    uri = Path(path).as_uri()
    document = reader.read(uri)
    return _build(document, uri, name or path, reader)


def load_spec_text(text, *, name: str = "<spec>", base: str | None = None, fetch=None) -> Spec:
    """A Spec from JSON/YAML text (the admin API); ``base`` (a file path or URL) lets relative
    references resolve, and without it the document must be self-contained."""
    document = parse_spec_text(text, name)
    if base is None:
        return _build(document, "", name, _Reader(fetch, False))
    uri = base if re.match(r"^[a-z]+:", base) else Path(os.path.abspath(base)).as_uri()
    return _build(document, uri, name, _Reader(fetch, uri.startswith("file:")))


# ---------------------------------------------------------------- bundling

class _Bundler:
    """Collects every document reachable through $refs and rewrites refs to local pointers."""

    def __init__(self, root_uri: str, reader: _Reader, problems: list):
        self.root_uri, self.reader, self.problems = root_uri, reader, problems
        self.mounts: dict[str, str] = {root_uri: ""}   # document URI -> mount pointer
        self.docs: dict[str, object] = {}
        self.swagger = False

    def bundle(self, root: dict) -> tuple[dict, dict]:
        self.docs[self.root_uri] = root
        pending, out = [self.root_uri], {}
        while pending:
            uri = pending.pop(0)
            out[uri] = self._rewrite(self.docs[uri], uri, self.mounts[uri], pending, False)
        document = out.pop(self.root_uri)
        if out:
            document = dict(document)
            document[_MOUNT] = {self.mounts[u][len(_MOUNT) + 2:]: doc for u, doc in out.items()}
        return document, {mount: uri for uri, mount in self.mounts.items() if mount}

    def _mount(self, uri: str, where: str, pending: list) -> str | None:
        if uri in self.mounts:
            return self.mounts[uri]
        try:
            self.docs[uri] = self.reader.read(uri)
        except SpecError as exc:
            self.problems.append(Problem(where, f"$ref to another document failed: {exc}",
                                         "check the relative path, or bundle the spec into one file"))
            return None
        self.mounts[uri] = f"/{_MOUNT}/{len(self.mounts) - 1}"
        pending.append(uri)
        return self.mounts[uri]

    def _ref(self, ref: str, uri: str, mount: str, where: str, pending: list) -> str:
        if ref.startswith("#"):
            # Pointers in a URI fragment may be percent-encoded ({id} as %7Bid%7D): decode once.
            local = "#" + unquote(ref[1:]) if "%" in ref else ref
            return local if not mount else "#" + mount + local[1:]
        target, _, fragment = urljoin(uri, ref).partition("#") if uri else (ref, "", "")
        if not uri:
            self.problems.append(Problem(where, f"$ref {ref!r} names another document, but this "
                                         "spec was given as text", "load the spec from its file"))
            return ref
        if target == self.root_uri:
            return "#" + unquote(fragment)
        prefix = self._mount(target, where, pending)
        return ref if prefix is None else "#" + prefix + unquote(fragment)

    def _rewrite(self, node, uri: str, mount: str, pending: list, in_map: bool, where: str = ""):
        """``node`` with refs rewritten; unchanged subtrees are shared, not copied."""
        if isinstance(node, list):
            new = [self._rewrite(v, uri, mount, pending, False, f"{where}/{i}") for i, v in enumerate(node)]
            return node if all(a is b for a, b in zip(new, node)) else new
        if not isinstance(node, dict):
            return node
        changed = {}
        for key, value in node.items():
            if not in_map and (key in _DATA_KEYS or (isinstance(key, str) and key.startswith("x-"))):
                continue
            at = f"{mount}{where}/{esc(key)}"
            if key == "$ref" and isinstance(value, str) and not in_map:
                new = self._ref(value, uri, mount, at, pending)
            elif self.swagger and key == "type" and value == "file" and not in_map:
                new = "string"   # Swagger's "file" is no JSON Schema type: a binary string
                changed["format"] = "binary"
            else:
                new = self._rewrite(value, uri, mount, pending, key in _NAME_MAPS and not in_map,
                                    f"{where}/{esc(key)}")
            if new is not value:
                changed[key] = new
        return {**node, **changed} if changed else node


# ---------------------------------------------------------------- normalising

def _build(document, uri: str, source: str, reader: _Reader) -> Spec:
    if not isinstance(document, dict):
        raise SpecError(f"{source}: an OpenAPI document is an object at the top level, got "
                        f"{type(document).__name__}")
    version = document.get("openapi", document.get("swagger"))
    if version is None:
        raise SpecError(f"{source}: not an OpenAPI document: it has no 'openapi' or 'swagger' field",
                        "", [Problem("", "missing 'openapi' (3.x) or 'swagger' (2.0)")])
    version = str(version)
    if not re.match(r"^(2\.0|3\.[01])(\.\d+)?(-[\w.]+)?$", version):
        raise SpecError(f"{source}: unsupported version {version!r}; pymock reads Swagger 2.0 and "
                        "OpenAPI 3.0.x/3.1.x", "/openapi" if "openapi" in document else "/swagger")
    problems: list[Problem] = []
    bundler = _Bundler(uri, reader, problems)
    bundler.swagger = version.startswith("2")
    bundled, mounts = bundler.bundle(document)
    dialect = "swagger-2.0" if bundler.swagger else "openapi-3.0" if version.startswith("3.0") \
        else "2020-12"
    spec = Spec(version, dialect, bundled, document, source, problems=problems,
                files=tuple(reader.files), mounts=mounts)
    _check_top(spec)
    normaliser = _Normaliser(spec)
    spec.security_schemes = normaliser.security_schemes()
    spec.operations = tuple(normaliser.operations())
    if normaliser.synthetic:
        spec.document = {**spec.document, _SYNTH: normaliser.synthetic}
    info = document.get("info")
    spec.title = str(info.get("title", "")) if isinstance(info, dict) else ""
    return spec


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
