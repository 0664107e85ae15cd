"""Breaking-change detection between two OpenAPI documents: the model, the report, the output.

Layer 0 (pure): imports only the standard library and ``.errors``/``.specdiff_checks``; no
sockets, threads or files (callers load the documents). Today's date, needed only for sunset
checks, is passed in. ``diff(old, new)`` compares two OpenAPI 3.0/3.1 or Swagger 2.0 documents
after resolving local ``$ref``s, so moving a schema into ``components`` is not a change. Every
``Change`` has a stable check id, a level (``ERR`` breaking, ``WARN`` possibly breaking,
``INFO``), the operation (method and path), a JSON pointer, the direction (request/response)
and a plain-language message. The check catalogue lives in ``specdiff_checks``.

>>> old = {"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {"/pets": {
...     "get": {"responses": {"200": {"description": "ok"}}}}}}
>>> new = {"openapi": "3.0.3", "info": {"title": "t", "version": "2"}, "paths": {}}
>>> report = diff(old, new)
>>> [(c.id, c.level, c.method, c.path) for c in report.changes]
[('api-path-removed', 'ERR', 'GET', '/pets')]
>>> report.exit_code("ERR")
1

``SpecModel`` is also what ``docs.py`` renders from: operations in document order with their
parameters, request body and responses normalised to the OpenAPI 3 shape (Swagger 2.0 body and
formData parameters become a request body; ``produces`` becomes response content).
Must not import any higher pymock layer, sockets, threads or file-reading modules.
"""

from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import dataclass, field

from .errors import Problem, SpecError

__all__ = [
    "LEVELS", "METHODS", "Change", "Report", "SpecModel", "Operation", "Parameter", "Body",
    "MediaType", "ResponseDef", "Header", "IgnoreRule", "diff", "parse_ignore", "format_text",
    "format_markdown", "format_json", "escape_pointer", "path_key",
]

LEVELS = ("INFO", "WARN", "ERR")
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_LEVEL_RANK = {name: rank for rank, name in enumerate(LEVELS)}
_METHOD_RANK = {m.upper(): i for i, m in enumerate(METHODS)}
_PARAM_SEGMENT = re.compile(r"\{[^}/]*\}")


def escape_pointer(token) -> str:
    """One JSON pointer token (RFC 6901): ``~`` becomes ``~0`` and ``/`` becomes ``~1``."""
    return str(token).replace("~", "~0").replace("/", "~1")


def path_key(path: str) -> str:
    """A path template with parameter names blanked: renaming ``{id}`` is not a change."""
    return _PARAM_SEGMENT.sub("{}", path.rstrip("/") or "/")


# ---------------------------------------------------------------- the normalised model

@dataclass
class MediaType:
    media: str
    schema: object            # raw schema (may hold $ref), or None
    pointer: str              # logical pointer of the media type object
    example: object = None
    examples: dict = field(default_factory=dict)
    has_example: bool = False


@dataclass
class Parameter:
    name: str
    location: str             # path, query, header, cookie
    required: bool
    schema: object
    pointer: str
    description: str = ""
    deprecated: bool = False
    style: str = ""
    explode: bool | None = None
    media: str = ""           # set when the parameter uses ``content`` instead of ``schema``
    example: object = None
    node: dict = field(default_factory=dict)


@dataclass
class Body:
    required: bool
    content: dict             # media type -> MediaType
    pointer: str
    description: str = ""


@dataclass
class Header:
    name: str
    required: bool
    schema: object
    pointer: str
    description: str = ""
    deprecated: bool = False


@dataclass
class ResponseDef:
    status: str
    description: str
    headers: dict             # name -> Header
    content: dict             # media type -> MediaType
    pointer: str


@dataclass
class Operation:
    method: str               # upper case
    path: str
    pointer: str
    node: dict
    parameters: list
    body: Body | None
    responses: dict           # status -> ResponseDef, document order
    security: list | None     # effective requirement objects (None: none declared anywhere)
    own_security: bool        # the operation declares ``security`` itself

    @property
    def key(self) -> tuple:
        return (self.method, path_key(self.path))

    def get(self, name, default=None):
        return self.node.get(name, default)


class SpecModel:
    """One OpenAPI 3.x or Swagger 2.0 document, with ``$ref`` resolution and operations.

    Raises ``SpecError`` (with a JSON pointer) when the document cannot be used. ``name``
    names the document in messages (a file name, say).
    """

    def __init__(self, doc, name: str = "the spec"):
        if isinstance(doc, SpecModel):
            doc = doc.doc
        self.name = name
        if not isinstance(doc, dict):
            raise SpecError(f"{name}: expected an OpenAPI document (an object), got {type(doc).__name__}")
        self.doc = doc
        self.version = str(doc.get("openapi") or doc.get("swagger") or "")
        if not self.version:
            raise SpecError(f"{name}: not an OpenAPI document: no 'openapi' or 'swagger' key",
                            "", [Problem("", "add 'openapi: 3.0.3' (or 'swagger: \"2.0\"') at the top")])
        if not (self.version.startswith("3.") or self.version == "2.0"):
            raise SpecError(f"{name}: unsupported version {self.version!r} (use 2.0, 3.0.x or 3.1.x)",
                            "/openapi" if "openapi" in doc else "/swagger")
        self.swagger2 = self.version == "2.0"
        self.is31 = self.version.startswith("3.1")
        paths = doc.get("paths", {})
        if paths is None:
            paths = {}
        if not isinstance(paths, dict):
            raise SpecError(f"{name}: 'paths' must be an object", "/paths")
        self._paths = paths
        self._operations = None

    # ------------------------------------------------------------ references

    def resolve_pointer(self, pointer: str, where: str = ""):
        """The node at a local JSON pointer (``/components/schemas/Pet``); ``SpecError`` if absent."""
        node = self.doc
        if pointer in ("", "/"):
            return node
        for raw in pointer.lstrip("/").split("/"):
            token = raw.replace("~1", "/").replace("~0", "~")
            token = _unquote(token)
            if isinstance(node, dict) and token in node:
                node = node[token]
            elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
                node = node[int(token)]
            else:
                raise SpecError(f"{self.name}: $ref target #{pointer} does not exist", where,
                                [Problem(where, f"unresolved $ref '#{pointer}'", "check the component name")])
        return node

    def deref(self, node, where: str = ""):
        """Follow ``$ref`` chains: returns ``(node, target_pointer_or_None)``."""
        target = None
        hops = 0
        while isinstance(node, dict) and isinstance(node.get("$ref"), str):
            ref = node["$ref"]
            if not ref.startswith("#"):
                raise SpecError(f"{self.name}: external $ref {ref!r} is not supported here", where,
                                [Problem(where, f"external $ref '{ref}'", "bundle the document into one file first")])
            hops += 1
            if hops > 64:
                raise SpecError(f"{self.name}: $ref loop at {ref}", where)
            target = ref[1:]
            node = self.resolve_pointer(target, where)
        return node, target

    # ------------------------------------------------------------ document parts

    @property
    def info(self) -> dict:
        info = self.doc.get("info")
        return info if isinstance(info, dict) else {}

    @property
    def title(self) -> str:
        return str(self.info.get("title") or "API")

    @property
    def api_version(self) -> str:
        return str(self.info.get("version") or "")

    def servers(self) -> list[tuple[str, str]]:
        """``(url, description)`` pairs; Swagger 2.0 ``host``/``basePath``/``schemes`` too."""
        if self.swagger2:
            host = self.doc.get("host")
            base = self.doc.get("basePath", "") or ""
            if not host:
                return [(base, "")] if base else []
            schemes = self.doc.get("schemes") or ["https"]
            return [(f"{scheme}://{host}{base}", "") for scheme in schemes]
        out = []
        for server in self.doc.get("servers") or []:
            if isinstance(server, dict) and isinstance(server.get("url"), str):
                out.append((server["url"], str(server.get("description") or "")))
        return out

    def global_security(self) -> list | None:
        security = self.doc.get("security")
        return security if isinstance(security, list) else None

    def schema_components(self) -> list[tuple[str, object, str]]:
        """``(name, schema, pointer)`` for every named schema, in document order."""
        if self.swagger2:
            found, base = self.doc.get("definitions"), "/definitions"
        else:
            found, base = (self.doc.get("components") or {}).get("schemas"), "/components/schemas"
        if not isinstance(found, dict):
            return []
        return [(name, schema, f"{base}/{escape_pointer(name)}") for name, schema in found.items()]

    def webhooks(self) -> dict:
        hooks = self.doc.get("webhooks")
        return hooks if isinstance(hooks, dict) else {}

    def tags(self) -> list[dict]:
        return [t for t in self.doc.get("tags") or [] if isinstance(t, dict) and "name" in t]

    # ------------------------------------------------------------ operations

    def operations(self) -> list[Operation]:
        """Every operation in document order (computed once)."""
        if self._operations is None:
            ops = []
            for path, item in self._paths.items():
                if not isinstance(path, str) or not path.startswith("/"):
                    continue  # x- extensions under paths
                where = f"/paths/{escape_pointer(path)}"
                item, _ = self.deref(item, where)
                if not isinstance(item, dict):
                    raise SpecError(f"{self.name}: path item {path!r} must be an object", where)
                shared = item.get("parameters") or []
                for method in METHODS:
                    node = item.get(method)
                    if isinstance(node, dict):
                        ops.append(self._operation(method, path, node, shared, f"{where}/{method}"))
            self._operations = ops
        return self._operations

    def _operation(self, method, path, node, shared, where) -> Operation:
        params, form = self._parameters(shared, node.get("parameters") or [], where)
        body = self._body(node, form, where)
        responses = {}
        raw_responses = node.get("responses")
        raw_responses = {} if raw_responses is None else raw_responses
        if not isinstance(raw_responses, dict):
            raise SpecError(f"{self.name}: responses of {method.upper()} {path} must be an object",
                            f"{where}/responses")
        for status, raw in raw_responses.items():
            if str(status).startswith("x-"):
                continue
            responses[str(status)] = self._response(str(status), raw, node,
                                                    f"{where}/responses/{escape_pointer(status)}")
        own = isinstance(node.get("security"), list)
        security = node["security"] if own else self.global_security()
        return Operation(method.upper(), path, where, node, params, body, responses, security, own)

    def _parameters(self, shared, own, where):
        """Path-level then operation-level parameters (the operation's win), Swagger 2.0
        ``body``/``formData`` split off."""
        merged: dict = {}
        form: list = []
        for source, items in (("shared", shared), ("own", own)):
            if not isinstance(items, list):
                continue
            base = where.rsplit("/", 1)[0] if source == "shared" else where
            for index, raw in enumerate(items):
                at = f"{base}/parameters/{index}"
                param, _ = self.deref(raw, at)
                if not isinstance(param, dict):
                    raise SpecError(f"{self.name}: a parameter must be an object", at)
                location = param.get("in")
                if location in ("body", "formData"):
                    form.append((location, param, at))
                    continue
                merged[(location, str(param.get("name", "")))] = self._parameter(param, at)
        return list(merged.values()), form

    def _parameter(self, param: dict, at: str) -> Parameter:
        schema, media = param.get("schema"), ""
        content = param.get("content")
        if schema is None and isinstance(content, dict) and content:
            media, mt = next(iter(content.items()))
            schema = mt.get("schema") if isinstance(mt, dict) else None
        if self.swagger2 and schema is None:
            schema = _swagger2_schema(param)
        location = str(param.get("in", ""))
        return Parameter(str(param.get("name", "")), location,
                         bool(param.get("required")) or location == "path", schema, at,
                         str(param.get("description") or ""), bool(param.get("deprecated")),
                         str(param.get("style") or ""), param.get("explode"), media,
                         param.get("example"), param)

    def _body(self, node: dict, form: list, where: str) -> Body | None:
        if self.swagger2:
            return self._swagger2_body(node, form, where)
        raw = node.get("requestBody")
        if raw is None:
            return None
        at = f"{where}/requestBody"
        body, _ = self.deref(raw, at)
        if not isinstance(body, dict):
            raise SpecError(f"{self.name}: requestBody must be an object", at)
        content = self._content(body.get("content"), f"{at}/content")
        return Body(bool(body.get("required")), content, at, str(body.get("description") or ""))

    def _swagger2_body(self, node, form, where) -> Body | None:
        consumes = node.get("consumes") or self.doc.get("consumes") or ["application/json"]
        for location, param, at in form:
            if location == "body":
                content = {m: MediaType(m, param.get("schema"), f"{at}/schema") for m in consumes}
                return Body(bool(param.get("required")), content, at, str(param.get("description") or ""))
        if not form:
            return None
        properties = {p.get("name", ""): {**_swagger2_schema(p), **({"description": p["description"]}
                                                                    if p.get("description") else {})}
                      for _, p, _ in form}
        required = [p.get("name", "") for _, p, _ in form if p.get("required")]
        schema = {"type": "object", "properties": properties, **({"required": required} if required else {})}
        media = [m for m in consumes if "form" in m] or ["application/x-www-form-urlencoded"]
        at = form[0][2]
        return Body(bool(required), {m: MediaType(m, schema, at) for m in media}, at)

    def _content(self, content, at: str) -> dict:
        out = {}
        if not isinstance(content, dict):
            return out
        for media, raw in content.items():
            mt_at = f"{at}/{escape_pointer(media)}"
            mt, _ = self.deref(raw, mt_at)
            if not isinstance(mt, dict):
                mt = {}
            examples = mt.get("examples") if isinstance(mt.get("examples"), dict) else {}
            out[str(media)] = MediaType(str(media), mt.get("schema"), mt_at, mt.get("example"),
                                        examples, "example" in mt)
        return out

    def _response(self, status: str, raw, op: dict, at: str) -> ResponseDef:
        resp, _ = self.deref(raw, at)
        if not isinstance(resp, dict):
            raise SpecError(f"{self.name}: response {status} must be an object", at)
        headers = {}
        for name, h_raw in (resp.get("headers") or {}).items():
            h_at = f"{at}/headers/{escape_pointer(name)}"
            header, _ = self.deref(h_raw, h_at)
            if not isinstance(header, dict):
                continue
            schema = header.get("schema") if not self.swagger2 else _swagger2_schema(header)
            headers[str(name)] = Header(str(name), bool(header.get("required")), schema, h_at,
                                        str(header.get("description") or ""), bool(header.get("deprecated")))
        if self.swagger2:
            content = {}
            if resp.get("schema") is not None:
                produces = op.get("produces") or self.doc.get("produces") or ["application/json"]
                examples = resp.get("examples") if isinstance(resp.get("examples"), dict) else {}
                for media in produces:
                    content[media] = MediaType(media, resp["schema"], f"{at}/schema", examples.get(media),
                                               {}, media in examples)
        else:
            content = self._content(resp.get("content"), f"{at}/content")
        return ResponseDef(status, str(resp.get("description") or ""), headers, content, at)


_SWAGGER2_SCHEMA_KEYS = ("type", "format", "items", "enum", "default", "minimum", "maximum",
                         "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength", "pattern",
                         "minItems", "maxItems", "uniqueItems", "multipleOf", "x-nullable",
                         "x-extensible-enum")


def _swagger2_schema(param: dict) -> dict:
    """A Swagger 2.0 non-body parameter or header carries its schema inline; lift it out."""
    return {key: param[key] for key in _SWAGGER2_SCHEMA_KEYS if key in param}


def _unquote(token: str) -> str:
    if "%" not in token:
        return token
    from urllib.parse import unquote
    return unquote(token)


# ---------------------------------------------------------------- the report

@dataclass(frozen=True)
class Change:
    """One difference between two documents, with everything needed to act on it."""

    id: str
    level: str
    method: str
    path: str
    pointer: str
    direction: str
    message: str

    @property
    def fingerprint(self) -> str:
        """A stable one-line key: ``check-id METHOD /path /pointer`` (``-`` for none).

        Ignore files and the design workflow's accepted changes use it.
        """
        return f"{self.id} {self.method or '-'} {self.path or '-'} {self.pointer or '-'}"

    @property
    def sort_key(self) -> tuple:
        return (self.path, _METHOD_RANK.get(self.method, -1), self.pointer, self.id, self.message)

    def as_dict(self) -> dict:
        return {"id": self.id, "level": self.level, "method": self.method, "path": self.path,
                "pointer": self.pointer, "direction": self.direction, "message": self.message,
                "fingerprint": self.fingerprint}


@dataclass(frozen=True)
class IgnoreRule:
    """``check-id [METHOD [PATH [POINTER]]]``; each field a glob (``*``), ``-`` matches empty."""

    fields: tuple
    line: int = 0

    def matches(self, change: Change) -> bool:
        values = (change.id, change.method or "-", change.path or "-", change.pointer or "-")
        return all(fnmatch.fnmatchcase(value, pattern) or (i == 3 and value.startswith(pattern))
                   for i, (pattern, value) in enumerate(zip(self.fields, values)))


def parse_ignore(text: str, source: str = "the ignore file") -> list[IgnoreRule]:
    """Rules from an ignore file: one per line, ``#`` starts a comment.

    >>> [r.fields for r in parse_ignore("# known\\napi-path-removed GET /old\\n*-enum-value-added\\n")]
    [('api-path-removed', 'GET', '/old'), ('*-enum-value-added',)]
    """
    rules = []
    for number, line in enumerate(text.splitlines(), 1):
        fields = tuple(line.split("#", 1)[0].split())
        if not fields:
            continue
        if len(fields) > 4:
            raise SpecError(f"{source}:{number}: expected 'check-id [METHOD [PATH [POINTER]]]', "
                            f"got {len(fields)} fields", "",
                            [Problem(f"{source}:{number}", "too many fields",
                                     "copy a fingerprint from 'pymock diff --format json'")])
        rules.append(IgnoreRule(fields, number))
    return rules


@dataclass
class Report:
    """The changes between two documents (sorted), and those an ignore rule hid."""

    changes: list
    ignored: list = field(default_factory=list)
    old_name: str = "old"
    new_name: str = "new"

    def count(self, level: str) -> int:
        return sum(1 for c in self.changes if c.level == level)

    @property
    def breaking(self) -> list:
        return [c for c in self.changes if c.level == "ERR"]

    def max_level(self) -> str | None:
        ranks = [_LEVEL_RANK[c.level] for c in self.changes]
        return LEVELS[max(ranks)] if ranks else None

    def exit_code(self, fail_on: str | None) -> int:
        """1 when a change at ``fail_on`` (``ERR`` or ``WARN``) or above is present, else 0."""
        if not fail_on:
            return 0
        threshold = _LEVEL_RANK[fail_on.upper()]
        return 1 if any(_LEVEL_RANK[c.level] >= threshold for c in self.changes) else 0

    def summary(self) -> dict:
        return {"ERR": self.count("ERR"), "WARN": self.count("WARN"), "INFO": self.count("INFO"),
                "ignored": len(self.ignored), "breaking": bool(self.breaking)}

    def as_dict(self) -> dict:
        return {"old": self.old_name, "new": self.new_name, "summary": self.summary(),
                "changes": [c.as_dict() for c in self.changes],
                "ignored": [c.as_dict() for c in self.ignored]}


def diff(old, new, *, today=None, ignore=(), old_name: str = "old", new_name: str = "new") -> Report:
    """Compare two documents (dicts or ``SpecModel``s); raises ``SpecError`` on a bad one.

    ``today`` (a ``datetime.date``) enables the sunset checks; ``ignore`` is a list of
    ``IgnoreRule``s whose matches move to ``Report.ignored``.
    """
    from .specdiff_checks import run_checks   # the catalogue imports this module's model
    old_model = old if isinstance(old, SpecModel) else SpecModel(old, old_name)
    new_model = new if isinstance(new, SpecModel) else SpecModel(new, new_name)
    found = sorted(set(run_checks(old_model, new_model, today)), key=lambda c: c.sort_key)
    kept, hidden = [], []
    for change in found:
        (hidden if any(rule.matches(change) for rule in ignore) else kept).append(change)
    return Report(kept, hidden, old_name, new_name)


# ---------------------------------------------------------------- output

def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _headline(report: Report) -> str:
    total = len(report.changes)
    if not total:
        line = "no changes"
    else:
        line = (f"{_plural(total, 'change')}: {report.count('ERR')} breaking"
                f" (ERR), {_plural(report.count('WARN'), 'warning')}, {report.count('INFO')} info")
    if report.ignored:
        line += f"; {len(report.ignored)} ignored"
    return line


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."


def _where(change: Change) -> str:
    return f"{change.method} {change.path}" if change.method else (change.path or "(document)")


def format_text(report: Report) -> str:
    """Plain text, one block per change, in the report's (deterministic) order."""
    lines = [f"{report.old_name} -> {report.new_name}: {_headline(report)}"]
    for c in report.changes:
        direction = f" [{c.direction}]" if c.direction else ""
        lines.append(f"{c.level:<4} {c.id}  {_where(c)}{direction}")
        lines.append(f"     {c.message}")
        lines.append(f"     at {c.pointer or '/'}")
    return "\n".join(lines) + "\n"


def _md_cell(text: str) -> str:
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace("\n", " ")


def format_markdown(report: Report) -> str:
    """A Markdown section with a summary line and one table row per change."""
    lines = [f"## API changes: {_md_cell(report.old_name)} → {_md_cell(report.new_name)}", "",
             _sentence(_headline(report)), ""]
    if report.changes:
        lines += ["| Level | Check | Operation | Direction | Change | Location |",
                  "| --- | --- | --- | --- | --- | --- |"]
        for c in report.changes:
            lines.append(f"| {c.level} | `{c.id}` | {_md_cell(_where(c))} | {c.direction or '-'} | "
                         f"{_md_cell(c.message)} | `{_md_cell(c.pointer or '/')}` |")
        lines.append("")
    return "\n".join(lines)


def format_json(report: Report) -> str:
    return json.dumps(report.as_dict(), indent=2, ensure_ascii=False) + "\n"
