"""JSON Schema validation for the dialects OpenAPI uses: draft-04, OAS 3.0, Swagger 2.0, 2020-12.

Layer 0 (pure): imports the standard library, ``.errors`` and ``.formats`` only. It never does
network I/O and reads no file unless the caller builds a :func:`file_retriever` and passes it.
A schema is compiled once into a tree of small closures (no keyword look-ups at validation
time); recursive schemas work because nodes are memoised by (document, pointer).

>>> v = compile_schema({"type": "object", "required": ["name"],
...                     "properties": {"age": {"type": "integer", "maximum": 5}}})
>>> v.is_valid({"name": "Rex", "age": 3})
True
>>> [str(e) for e in v.validate({"age": 7})]
["(root): 'name' is a required property", '/age: value 7 is greater than the maximum 5']

Dialects: ``"2020-12"`` (also OpenAPI 3.1), ``"draft4"``, ``"openapi-3.0"`` (``nullable``,
boolean ``exclusiveMaximum``, ``discriminator``, ``$ref`` hides its siblings) and
``"swagger-2.0"`` (``x-nullable``, ``discriminator`` as a property name). ``validate(x,
direction="request"|"response")`` applies ``readOnly``/``writeOnly``. For many subschemas of
one OpenAPI document use :class:`SchemaCompiler`, which shares the compiled parts. Must not
import socket/threading-starting/file-watching modules or any higher pymock layer (a
``threading.RLock`` only guards lazy compiles). See docs/schema.md.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Context, Decimal, InvalidOperation
from pathlib import Path
from urllib.parse import unquote, urlsplit

from .errors import SpecError
from .formats import ecma_regex, format_checker

__all__ = ["ValidationError", "Validator", "SchemaCompiler", "compile_schema", "file_retriever",
           "DIALECTS"]


@dataclass(frozen=True)
class ValidationError:
    """One reason an instance is invalid: where in the data, which keyword, and why."""

    instance_pointer: str
    schema_pointer: str
    keyword: str
    message: str

    def __str__(self) -> str:
        return f"{self.instance_pointer or '(root)'}: {self.message}"

    def as_dict(self) -> dict:
        return {"path": self.instance_pointer, "message": self.message,
                "keyword": self.keyword, "schema": self.schema_pointer}

# ---------------------------------------------------------------------------- JSON helpers


def _freeze(v):
    """A hashable stand-in with JSON equality: 1 == 1.0, True != 1, containers compared deeply."""
    t = type(v)
    if t is dict:
        return ("o", frozenset((k, _freeze(x)) for k, x in v.items()))
    if t is list:
        return ("a", tuple(_freeze(x) for x in v))
    if t is bool:
        return ("b", v)
    if t is int or t is float:
        return ("n", v)
    return ("s", v)


def _show(v) -> str:
    text = repr(v) if isinstance(v, str) else json.dumps(v, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _describe(v) -> str:
    t = type(v)
    if t is str or t is bool:
        return f"{'string' if t is str else 'boolean'} {_show(v)}"
    if t is int or t is float:
        return f"{'integer' if t is int else 'number'} {_show(v)}"
    return {type(None): "null", list: "array", dict: "object"}.get(t, t.__name__)


def _esc(token) -> str:
    return str(token).replace("~", "~0").replace("/", "~1")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"

# ---------------------------------------------------------------------------- URIs (RFC 3986)


_URI = re.compile(r"(?:([A-Za-z][A-Za-z0-9+.-]*):)?(?://([^/?#]*))?([^?#]*)"
                  r"(?:\?([^#]*))?(?:#(.*))?", re.S)


def _dots(path: str) -> str:
    if "." not in path:
        return path
    absolute, out = path.startswith("/"), []
    for seg in path.split("/")[1 if absolute else 0:]:
        if seg == "..":
            if out:
                out.pop()
        elif seg != ".":
            out.append(seg)
    if path.endswith(("/.", "/..")):
        out.append("")
    return ("/" if absolute else "") + "/".join(out)


def _join(base: str, ref: str) -> str:
    """Resolve ``ref`` against ``base`` (RFC 3986 section 5.2); works for URNs and ``""``."""
    s, a, p, q, f = _URI.fullmatch(ref).groups()
    if s is None:
        bs, ba, bp, bq, _ = _URI.fullmatch(base).groups()
        s = bs
        if a is None:
            a = ba
            if not p:
                p, q = bp, q if q is not None else bq
            elif not p.startswith("/"):
                p = ("/" if ba is not None and not bp else bp[:bp.rfind("/") + 1]) + p
    p = _dots(p)
    return (f"{s}:" if s else "") + (f"//{a}" if a is not None else "") + p + \
        (f"?{q}" if q is not None else "") + (f"#{f}" if f is not None else "")

# ---------------------------------------------------------------------------- dialects


@dataclass(frozen=True)
class _Dialect:
    name: str
    keywords: frozenset
    id_key: str | None          # "$id", "id" or None (OpenAPI 3.0/Swagger have no ids)
    legacy_ref: bool            # $ref hides its siblings (draft-04, OpenAPI 3.0, Swagger 2.0)
    float_ints: bool            # 1.0 counts as an integer (draft 6 and later)
    bool_exclusive: bool        # exclusiveMaximum/Minimum are booleans next to maximum/minimum
    nullable: str | None        # "nullable" / "x-nullable"
    discriminator: str | None   # "object" (OpenAPI 3.x) / "name" (Swagger 2.0)
    format_assertion: bool = True


_DRAFT4_KW = frozenset(
    "$ref type enum multipleOf maximum minimum maxLength minLength pattern format items "
    "additionalItems maxItems minItems uniqueItems maxProperties minProperties required "
    "properties patternProperties additionalProperties dependencies allOf anyOf oneOf not".split())
_VOCAB = "https://json-schema.org/draft/2020-12/vocab/"
_VOCABULARIES = {
    _VOCAB + "core": frozenset({"$ref", "$dynamicRef"}),
    _VOCAB + "applicator": frozenset(
        "prefixItems items contains additionalProperties properties patternProperties "
        "dependentSchemas propertyNames if allOf anyOf oneOf not dependencies".split()),
    _VOCAB + "unevaluated": frozenset({"unevaluatedItems", "unevaluatedProperties"}),
    _VOCAB + "validation": frozenset(
        "type const enum multipleOf maximum exclusiveMaximum minimum exclusiveMinimum maxLength "
        "minLength pattern maxItems minItems uniqueItems maxContains minContains maxProperties "
        "minProperties required dependentRequired".split()),
    _VOCAB + "format-annotation": frozenset({"format"}),
    _VOCAB + "format-assertion": frozenset({"format"}),
    _VOCAB + "content": frozenset(), _VOCAB + "meta-data": frozenset(),
}
_2020_KW = frozenset().union(*_VOCABULARIES.values()) | {"discriminator"}
DIALECTS = {
    "2020-12": _Dialect("2020-12", _2020_KW, "$id", False, True, False, None, "object"),
    "draft4": _Dialect("draft4", _DRAFT4_KW, "id", True, False, True, None, None),
    "openapi-3.0": _Dialect("openapi-3.0", _DRAFT4_KW | {"discriminator"}, None, True, False,
                            True, "nullable", "object"),
    "swagger-2.0": _Dialect("swagger-2.0", _DRAFT4_KW | {"discriminator"}, None, True, False,
                            True, "x-nullable", "name"),
}
# 2019-09 is only reachable through "$schema" (e.g. a $ref to an older document), approximated
# as 2020-12 without prefixItems/$dynamicRef and with array-form items + additionalItems.
DIALECTS["2019-09"] = replace(DIALECTS["2020-12"], name="2019-09", keywords=_2020_KW - {
    "prefixItems", "$dynamicRef"} | {"additionalItems"})
_ALIASES = {"draft-04": "draft4", "openapi-3.1": "2020-12", "swagger": "swagger-2.0"}
_SCHEMA_URIS = {
    "http://json-schema.org/draft-04/schema": "draft4",
    "https://json-schema.org/draft/2020-12/schema": "2020-12",
    "https://json-schema.org/draft/2019-09/schema": "2019-09",
    "https://spec.openapis.org/oas/3.1/dialect/base": "2020-12",
}
# Where subschemas live: one schema, a list of schemas, or a map of name -> schema.
_SUBSCHEMAS = {k: 1 for k in ("additionalItems", "additionalProperties", "not", "contains",
                              "propertyNames", "if", "then", "else", "unevaluatedItems",
                              "unevaluatedProperties", "items")}
_SUBSCHEMAS.update({k: 2 for k in ("allOf", "anyOf", "oneOf", "prefixItems")})
_SUBSCHEMAS.update({k: 3 for k in ("properties", "patternProperties", "definitions", "$defs",
                                   "dependentSchemas", "dependencies")})


def _dialect_named(name: str, format_assertion: bool, x_nullable: bool) -> _Dialect:
    d = DIALECTS.get(_ALIASES.get(name, name))
    if d is None:
        raise SpecError(f"unknown schema dialect {name!r}; use one of {', '.join(DIALECTS)}")
    return replace(d, format_assertion=format_assertion,
                   nullable=d.nullable if x_nullable or d.name != "swagger-2.0" else None)

# ---------------------------------------------------------------------------- documents and refs


class _Store:
    """Schema documents, their resources ($id) and anchors; turns references into locations."""

    def __init__(self, root: str, retrieve, registry, options: dict):
        self.root, self.retrieve, self.options = root, retrieve, options
        self.registry = {}
        items = registry.items() if isinstance(registry, Mapping) else \
            ((d.get("$id") or d.get("id"), d) for d in registry)
        for uri, doc in items:
            if not isinstance(uri, str):
                raise SpecError("a registry document has no '$id'/'id'; pass registry as a "
                                "dict {uri: document} instead")
            self.registry[uri.partition("#")[0]] = doc
        self.docs, self.where, self.resources = {}, {}, {}
        self.anchors, self.dynamic, self._metas = {}, {}, {}

    def load(self, uri: str, doc, dialect: _Dialect, roots=("",)) -> None:
        self.docs[uri], self.where[uri] = doc, {"": (uri, dialect)}
        self.resources.setdefault(uri, (uri, ""))
        for ptr in roots:
            self._scan(uri, self.node_at(uri, ptr, ptr), ptr, uri, dialect)

    def add_root(self, ptr: str) -> None:
        """Index a subschema of the root document that the first scan did not reach."""
        if ptr not in self.where[self.root]:
            node = self.node_at(self.root, ptr, ptr)
            self._scan(self.root, node, ptr, *self.location(self.root, ptr))

    def _scan(self, doc: str, node, ptr: str, base: str, dialect: _Dialect) -> None:
        if isinstance(node, bool):
            self.where[doc][ptr] = (base, dialect)
        if not isinstance(node, dict):
            return
        if isinstance(node.get("$schema"), str):
            dialect = self.dialect_for(node["$schema"], dialect, ptr)
        base = self._identify(doc, node, ptr, base, dialect)
        self.where[doc][ptr] = (base, dialect)
        for key, value in node.items():
            kind = _SUBSCHEMAS.get(key)
            if kind == 3 and isinstance(value, dict):
                for name, sub in value.items():
                    self._scan(doc, sub, f"{ptr}/{key}/{_esc(name)}", base, dialect)
            elif kind and isinstance(value, list):
                for i, sub in enumerate(value):
                    self._scan(doc, sub, f"{ptr}/{key}/{i}", base, dialect)
            elif kind == 1:
                self._scan(doc, value, f"{ptr}/{key}", base, dialect)

    def _identify(self, doc: str, node: dict, ptr: str, base: str, dialect: _Dialect) -> str:
        ident = node.get(dialect.id_key) if dialect.id_key else None
        if isinstance(ident, str) and not (dialect.legacy_ref and "$ref" in node):
            uri, _, frag = _join(base, ident).partition("#")
            if not ident.startswith("#"):
                base = uri
                self.resources.setdefault(uri, (doc, ptr))
            if frag:  # draft-04 "id": "#name" is a location-independent name
                self.anchors[(uri, frag)] = (doc, ptr)
        if dialect.id_key == "$id":
            for key in ("$anchor", "$dynamicAnchor"):
                if isinstance(node.get(key), str):
                    self.anchors.setdefault((base, node[key]), (doc, ptr))
            if isinstance(node.get("$dynamicAnchor"), str):
                self.dynamic[(base, node["$dynamicAnchor"])] = (doc, ptr)
        return base

    def dialect_for(self, uri: str, current: _Dialect, where: str) -> _Dialect:
        key = uri.partition("#")[0]
        if key in _SCHEMA_URIS:
            return _dialect_named(_SCHEMA_URIS[key], **self.options)
        if key not in self._metas:
            try:
                meta = self._fetch(key, where)
            except SpecError:  # an unknown meta-schema we cannot read: keep the current dialect
                meta = None
            vocab = meta.get("$vocabulary") if isinstance(meta, dict) else None
            self._metas[key] = _with_vocabulary(vocab, current, where) if vocab else current
        return self._metas[key]

    def _fetch(self, uri: str, where: str):
        doc = self.registry.get(uri)
        if doc is None and self.retrieve is not None:
            try:
                doc = self.retrieve(uri)
            except SpecError as exc:
                raise SpecError(exc.message, exc.pointer or where) from None
            except Exception as exc:  # noqa: BLE001 - any failure of the caller's callback
                raise SpecError(f"cannot retrieve {uri!r}: {exc}", where) from exc
        if doc is None:
            raise SpecError(f"cannot resolve {uri!r}: it is not in the registry and no retrieve "
                            "callback was given (pass retrieve=file_retriever(folder) for local "
                            "files, or registry={uri: schema})", where)
        return doc

    def resolve(self, base: str, ref: str, where: str, dialect: _Dialect) -> tuple[str, str]:
        """The (document, pointer) a reference names; raises SpecError naming ``where``."""
        uri, _, frag = _join(base, ref).partition("#")
        if uri not in self.resources:
            self.load(uri, self._fetch(uri, where), dialect)
        doc, root_ptr = self.resources[uri]
        frag = unquote(frag)
        if frag and not frag.startswith("/"):
            hit = self.anchors.get((uri, frag))
            if hit is None:
                raise SpecError(f"$ref {ref!r}: no anchor named {frag!r} in {uri or 'the schema'}",
                                where)
            return hit
        self.node_at(doc, root_ptr + frag, where)
        return doc, root_ptr + frag

    def node_at(self, doc: str, ptr: str, where: str):
        node = self.docs[doc]
        for token in ptr.split("/")[1:]:
            token = token.replace("~1", "/").replace("~0", "~")
            try:
                node = node[int(token) if isinstance(node, list) else token]
            except (KeyError, ValueError, IndexError, TypeError):
                raise SpecError(f"reference target {self.label(doc, ptr) or '#'} does not exist",
                                where) from None
        return node

    def location(self, doc: str, ptr: str) -> tuple[str, _Dialect]:
        """Base URI and dialect in force at a pointer (the nearest scanned ancestor's)."""
        table = self.where[doc]
        while ptr not in table and ptr:
            ptr = ptr.rpartition("/")[0]
        return table.get(ptr) or table[""]

    def label(self, doc: str, ptr: str) -> str:
        return ptr if doc == self.root else f"{doc}#{ptr}"


def _with_vocabulary(vocab: dict, base: _Dialect, where: str) -> _Dialect:
    """The 2020-12 dialect restricted to the vocabularies a custom meta-schema declares."""
    keywords, assertion = set(), base.format_assertion
    for uri, required in vocab.items():
        if uri in _VOCABULARIES:
            keywords |= _VOCABULARIES[uri]
            assertion = assertion or uri.endswith("format-assertion")
        elif required:
            raise SpecError(f"the meta-schema requires vocabulary {uri!r}, which is not "
                            "supported; mark it false or drop it", where)
    return replace(DIALECTS["2020-12"], name="custom", keywords=frozenset(keywords),
                   format_assertion=assertion)

# ---------------------------------------------------------------------------- compiled nodes


_JSON_TYPES = (dict, list, str, int, float, bool, type(None))
_NUM, _STR, _ARR, _OBJ = (int, float), (str,), (list,), (dict,)
_EMPTY = frozenset()


def _yes(inst, dyn):
    return True


def _no_annotations(inst, dyn):
    return _EMPTY


class _Kw:
    """One compiled keyword: the JSON types it applies to, its checks and its annotations."""

    __slots__ = ("types", "ok", "errs", "props", "items", "subs", "select")

    def __init__(self, types, ok, errs, props=None, items=None, subs=(), select=None):
        self.types, self.ok, self.errs = types, ok, errs
        self.props, self.items, self.subs, self.select = props, items, subs, select


class _Node:
    """A compiled schema. Attributes are filled in by ``_build``; until then it is a placeholder
    that other nodes may already point at (this is what makes recursive schemas work)."""

    __slots__ = ("ok", "errs", "props", "items", "inner_props", "inner_items", "subs", "where")


class _Ctx:
    """What a keyword compiler needs to know about the schema object it sits in."""

    __slots__ = ("comp", "doc", "ptr", "base", "dialect", "raw", "node", "skip")

    def __init__(self, comp, doc, ptr, node, skip):
        self.comp, self.doc, self.ptr, self.node, self.skip = comp, doc, ptr, node, skip
        self.base, self.dialect = comp.store.location(doc, ptr)
        self.raw = comp.store.node_at(doc, ptr, self.at())

    def at(self, *tokens) -> str:
        return self.comp.store.label(self.doc, self.ptr + "".join(f"/{_esc(t)}" for t in tokens))

    def sub(self, *tokens) -> _Node:
        """A subschema applied to the same value (allOf, not, if, ...)."""
        return self.comp.node(self.doc, self.ptr + "".join(f"/{_esc(t)}" for t in tokens),
                              self.skip)

    def child(self, *tokens) -> _Node:
        """A subschema applied to a property or item: a new value, so no discriminator is
        already decided for it."""
        return self.comp.node(self.doc, self.ptr + "".join(f"/{_esc(t)}" for t in tokens), None)

    def need(self, ok: bool, kw: str, what: str) -> None:
        if not ok:
            raise SpecError(f"'{kw}' must be {what}, got {_show(self.raw[kw])}", self.at(kw))

    def target(self, ref: str, kw: str) -> tuple[str, str]:
        return self.comp.store.resolve(self.base, ref, self.at(kw), self.dialect)


class _Compiler:
    """Builds nodes for one validation direction, memoised by (document, pointer, skip).

    ``skip`` names a discriminator property whose value an enclosing discriminator already
    used to pick this schema, so discriminators on it are not applied a second time."""

    def __init__(self, store: _Store, direction: str | None):
        self.store, self.direction = store, direction
        self.memo, self.pending, self.dynamic_nodes = {}, [], {}
        self.loop_state = {}  # node -> 2 once checked for in-place loops

    def node(self, doc: str, ptr: str, skip) -> _Node:
        key = (doc, ptr, skip)
        found = self.memo.get(key)
        if found is None:
            found = self.memo[key] = _Node()
            self.pending.append((found, doc, ptr, skip))
        return found

    def run(self, doc: str, ptr: str) -> _Node:
        """The node for a pointer, building it and all it reaches; on a SpecError nothing new
        is kept, so earlier validators from this compiler stay intact."""
        start = len(self.memo)
        try:
            root = self.node(doc, ptr, None)
            self._drain()
            _check_loops(list(self.memo.values())[start:], self.loop_state)
        except BaseException:
            dropped = {key: self.memo.pop(key) for key in list(self.memo)[start:]}
            for node in dropped.values():
                self.loop_state.pop(node, None)
            self.dynamic_nodes = {k: n for k, n in self.dynamic_nodes.items()
                                  if n not in dropped.values()}
            self.pending.clear()
            raise
        return root

    def _drain(self) -> None:
        while self.pending or len(self.dynamic_nodes) < len(self.store.dynamic):
            while self.pending:
                node, doc, ptr, skip = self.pending.pop()
                _build(_Ctx(self, doc, ptr, node, skip))
            for key, (doc, ptr) in list(self.store.dynamic.items()):
                if key not in self.dynamic_nodes:  # now, so that validation never compiles
                    self.dynamic_nodes[key] = self.node(doc, ptr, None)


def _check_loops(nodes, state: dict) -> None:
    """Refuse schemas that re-apply themselves to the same value forever ($ref: '#' chains).

    ``state`` maps node -> 1 (on the current path) or 2 (checked); nodes checked by an earlier
    run only point at nodes of earlier runs, so they never need a second look."""
    for start in nodes:
        if start in state:
            continue
        path, iters = [start], [iter(start.subs)]
        state[start] = 1
        while iters:
            nxt = next(iters[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                iters.pop()
            elif state.get(nxt) == 1:
                loop = path[path.index(nxt):] + [nxt]
                raise SpecError("the schema applies itself to the same value without end: "
                                + " -> ".join(n.where or "#" for n in loop), nxt.where)
            elif nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                iters.append(iter(nxt.subs))


def _build(cx: _Ctx) -> None:
    node, raw, d = cx.node, cx.raw, cx.dialect
    node.where, node.subs = cx.at(), []
    if raw is True or raw is False:
        return _finish_bool(cx, raw)
    if not isinstance(raw, dict):
        raise SpecError(f"a schema must be an object or a boolean, got {_describe(raw)}", cx.at())
    keys = ("$ref",) if d.legacy_ref and "$ref" in raw else raw
    kws = []
    for key in keys:
        if key in d.keywords and key in _KEYWORDS:
            made = _KEYWORDS[key](cx, raw[key])
            kws.extend(made if isinstance(made, list) else [made] if made else [])
    for kw in kws:
        node.subs.extend(kw.subs)
    nullable = d.nullable is not None and raw.get(d.nullable) is True and keys is raw
    push = cx.base if d.id_key == "$id" and "$dynamicRef" in d.keywords and "$id" in raw else None
    selector = next((k for k in kws if k.select), None)
    _finish(cx, [k for k in kws if k is not selector], nullable, push)
    if selector:
        _select_subtype(node, selector)


def _finish_bool(cx: _Ctx, value: bool) -> None:
    node, where = cx.node, cx.at()

    def errs(inst, ip, dyn, out):
        out.append(ValidationError(ip, where, "false", "no value is allowed here (the schema is "
                                   "false)"))
    node.ok = _yes if value else (lambda inst, dyn: False)
    node.errs = (lambda inst, ip, dyn, out: None) if value else errs
    node.props = node.items = node.inner_props = node.inner_items = _no_annotations


def _dispatch(fns_by_type: dict, default: tuple, is_errs: bool):
    if not any(fns_by_type.values()):
        return (lambda inst, ip, dyn, out: None) if is_errs else _yes
    get = fns_by_type.get
    if is_errs:
        def errs(inst, ip, dyn, out):
            for check in get(type(inst), default):
                check(inst, ip, dyn, out)
        return errs
    if len(default) == 1 and all(v == default for v in fns_by_type.values()):
        return default[0]

    def ok(inst, dyn):
        for check in get(type(inst), default):
            if not check(inst, dyn):
                return False
        return True
    return ok


def _merge(fns):
    if not fns:
        return _no_annotations
    if len(fns) == 1:
        return fns[0]

    def merged(inst, dyn):
        acc = set()
        for fn in fns:
            got = fn(inst, dyn)
            if got is True:
                return True
            acc |= got
        return acc
    return merged


def _finish(cx: _Ctx, kws: list, nullable: bool, push) -> None:
    node = cx.node
    table = {t: tuple(k.ok for k in kws if k.types is None or t in k.types) for t in _JSON_TYPES}
    etable = {t: tuple(k.errs for k in kws if k.types is None or t in k.types)
              for t in _JSON_TYPES}
    ok = _dispatch(table, tuple(k.ok for k in kws if k.types is None), False)
    errs = _dispatch(etable, tuple(k.errs for k in kws if k.types is None), True)
    node.inner_props = _merge([k.props for k in kws if k.props])
    node.inner_items = _merge([k.items for k in kws if k.items])
    props = (lambda i, d: True) if "unevaluatedProperties" in cx.raw and \
        "unevaluatedProperties" in cx.dialect.keywords else node.inner_props
    items = (lambda i, d: True) if "unevaluatedItems" in cx.raw and \
        "unevaluatedItems" in cx.dialect.keywords else node.inner_items
    if nullable:
        ok = (lambda f: lambda i, d: i is None or f(i, d))(ok)
        errs = (lambda f: lambda i, ip, d, out: i is None or f(i, ip, d, out))(errs)
    if push is not None:  # a schema with "$id" enters its resource's dynamic scope
        ok, props, items = (_entering(f, push) for f in (ok, props, items))
        errs = (lambda f: lambda i, ip, d, out: f(i, ip, (push, d), out))(errs)
    node.ok, node.errs, node.props, node.items = ok, errs, props, items


def _entering(fn, resource: str):
    return lambda inst, dyn: fn(inst, (resource, dyn))


def _leaf(cx: _Ctx, kw: str, types, ok, message) -> _Kw:
    """A keyword that only looks at the value itself; ``message(value)`` explains a failure."""
    where = cx.at(kw)

    def errs(inst, ip, dyn, out):
        if not ok(inst, dyn):
            out.append(ValidationError(ip, where, kw, message(inst)))
    return _Kw(types, ok, errs)

# ---------------------------------------------------------------------------- value keywords


_TYPES = {"string": (str,), "object": (dict,), "array": (list,), "boolean": (bool,),
          "null": (type(None),), "number": (int, float), "integer": (int,)}


def _kw_type(cx: _Ctx, v) -> _Kw:
    names = [v] if isinstance(v, str) else v
    cx.need(isinstance(names, list) and names and all(n in _TYPES for n in names), "type",
            "one of " + ", ".join(sorted(_TYPES)) + " (or a list of them)")
    allowed = frozenset(t for n in names for t in _TYPES[n])
    if "integer" in names and "number" not in names and cx.dialect.float_ints:
        def ok(inst, dyn):
            t = type(inst)
            return t in allowed or (t is float and inst.is_integer())
    else:
        def ok(inst, dyn):
            return type(inst) in allowed
    expected = " or ".join(names)
    return _leaf(cx, "type", None, ok, lambda inst: f"expected {expected}, got {_describe(inst)}")


def _kw_enum(cx: _Ctx, v) -> _Kw:
    cx.need(isinstance(v, list), "enum", "an array")
    frozen = frozenset(_freeze(x) for x in v)
    shown = ", ".join(_show(x) for x in v[:10]) + (", ..." if len(v) > 10 else "")
    return _leaf(cx, "enum", None, lambda i, d: _freeze(i) in frozen,
                 lambda i: f"value {_show(i)} is not one of {shown}")


def _kw_const(cx: _Ctx, v) -> _Kw:
    frozen = _freeze(v)
    return _leaf(cx, "const", None, lambda i, d: _freeze(i) == frozen,
                 lambda i: f"value {_show(i)} is not the constant {_show(v)}")


def _number(cx: _Ctx, kw: str, v) -> None:
    cx.need(type(v) in _NUM, kw, "a number")


def _bound(cx: _Ctx, kw: str, v, exclusive: bool) -> _Kw:
    _number(cx, kw, v)
    high = kw in ("maximum", "exclusiveMaximum")
    if high:
        ok = (lambda i, d: i < v) if exclusive else (lambda i, d: i <= v)
    else:
        ok = (lambda i, d: i > v) if exclusive else (lambda i, d: i >= v)
    if exclusive:
        text = "less than the exclusive maximum" if high else \
            "greater than the exclusive minimum"
        return _leaf(cx, kw, _NUM, ok, lambda i: f"value {_show(i)} is not {text} {_show(v)}")
    text = "greater than the maximum" if high else "less than the minimum"
    return _leaf(cx, kw, _NUM, ok, lambda i: f"value {_show(i)} is {text} {_show(v)}")


def _kw_maximum(cx: _Ctx, v) -> _Kw:
    return _bound(cx, "maximum", v, cx.dialect.bool_exclusive and
                  cx.raw.get("exclusiveMaximum") is True)


def _kw_minimum(cx: _Ctx, v) -> _Kw:
    return _bound(cx, "minimum", v, cx.dialect.bool_exclusive and
                  cx.raw.get("exclusiveMinimum") is True)


_DECIMAL = Context(prec=1200, Emax=999999, Emin=-999999)


def _is_multiple(value, factor) -> bool:
    if type(value) is int and type(factor) is int:
        return value % factor == 0
    try:  # decimal arithmetic on the shortest repr: 0.0075 is a multiple of 0.0001
        return _DECIMAL.remainder(Decimal(repr(value)), Decimal(repr(factor))) == 0
    except InvalidOperation:
        return False


def _kw_multiple_of(cx: _Ctx, v) -> _Kw:
    cx.need(type(v) in _NUM and v > 0, "multipleOf", "a number greater than 0")
    return _leaf(cx, "multipleOf", _NUM, lambda i, d: _is_multiple(i, v),
                 lambda i: f"value {_show(i)} is not a multiple of {_show(v)}")


def _count(cx: _Ctx, kw: str, v) -> int:
    cx.need(type(v) in _NUM and v >= 0 and float(v).is_integer(), kw, "a non-negative integer")
    return int(v)


def _kw_length(cx: _Ctx, kw: str, v) -> _Kw:
    n = _count(cx, kw, v)
    if kw == "maxLength":
        return _leaf(cx, kw, _STR, lambda i, d: len(i) <= n,
                     lambda i: f"{_show(i)} is longer than the maximum length {n}")
    return _leaf(cx, kw, _STR, lambda i, d: len(i) >= n,
                 lambda i: f"{_show(i)} is shorter than the minimum length {n}")


def _regex(cx: _Ctx, kw: str, pattern, *tokens):
    if not isinstance(pattern, str):
        raise SpecError(f"'{kw}' must be a regular expression string, got {_show(pattern)}",
                        cx.at(kw, *tokens))
    try:
        return ecma_regex(pattern)
    except re.error as exc:
        raise SpecError(f"invalid regular expression {pattern!r}: {exc}", cx.at(kw, *tokens)) \
            from None


def _kw_pattern(cx: _Ctx, v) -> _Kw:
    search = _regex(cx, "pattern", v).search
    return _leaf(cx, "pattern", _STR, lambda i, d: search(i) is not None,
                 lambda i: f"{_show(i)} does not match the pattern {v!r}")


def _kw_format(cx: _Ctx, v):
    check = format_checker(v) if cx.dialect.format_assertion and isinstance(v, str) else None
    if check is None:
        return None  # unknown formats and format-as-annotation validate nothing
    return _leaf(cx, "format", None, lambda i, d: check(i), lambda i: f"{_show(i)} is not a "
                 f"valid {v}")


def _kw_size(cx: _Ctx, kw: str, v) -> _Kw:
    n = _count(cx, kw, v)
    types, noun = (_ARR, "item") if kw.endswith("Items") else (_OBJ, "property")
    noun_of = (lambda k: _plural(k, noun)) if noun == "item" else \
        (lambda k: f"{k} {'property' if k == 1 else 'properties'}")
    what = "array" if noun == "item" else "object"
    if kw.startswith("max"):
        return _leaf(cx, kw, types, lambda i, d: len(i) <= n,
                     lambda i: f"{what} has {noun_of(len(i))}, more than the maximum {n}")
    return _leaf(cx, kw, types, lambda i, d: len(i) >= n,
                 lambda i: f"{what} has {noun_of(len(i))}, fewer than the minimum {n}")


def _kw_unique(cx: _Ctx, v):
    cx.need(isinstance(v, bool), "uniqueItems", "a boolean")
    if not v:
        return None

    def message(inst):
        seen = {}
        for i, x in enumerate(inst):
            first = seen.setdefault(_freeze(x), i)
            if first != i:
                return f"array items are not unique: items {first} and {i} are equal"
    return _leaf(cx, "uniqueItems", _ARR, lambda i, d: len(set(map(_freeze, i))) == len(i),
                 message)


def _kw_required(cx: _Ctx, v) -> _Kw:
    cx.need(isinstance(v, list) and all(isinstance(n, str) for n in v), "required",
            "an array of property names")
    hidden = _hidden_flag(cx.comp.direction)
    props = cx.raw.get("properties") if isinstance(cx.raw.get("properties"), dict) else {}
    names = tuple(n for n in v if not (hidden and n in props and _has_flag(cx, props[n], hidden)))
    where = cx.at("required")

    def ok(inst, dyn):
        for name in names:
            if name not in inst:
                return False
        return True

    def errs(inst, ip, dyn, out):
        for name in names:
            if name not in inst:
                out.append(ValidationError(ip, where, "required",
                                           f"{_show(name)} is a required property"))
    return _Kw(_OBJ, ok, errs)


def _dependent_required(cx: _Ctx, kw: str, table: dict) -> _Kw:
    for key, names in table.items():
        if not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
            raise SpecError(f"'{kw}' entry {key!r} must be an array of property names",
                            cx.at(kw, key))
    pairs = tuple((k, tuple(n)) for k, n in table.items())
    where = cx.at(kw)

    def ok(inst, dyn):
        return all(n in inst for k, names in pairs if k in inst for n in names)

    def errs(inst, ip, dyn, out):
        for key, names in pairs:
            for name in names if key in inst else ():
                if name not in inst:
                    out.append(ValidationError(ip, where, kw, f"{_show(name)} is required when "
                                               f"{_show(key)} is present"))
    return _Kw(_OBJ, ok, errs)

# ---------------------------------------------------------------------------- applicators


def _hidden_flag(direction):
    return {"request": "readOnly", "response": "writeOnly"}.get(direction)


def _has_flag(cx: _Ctx, sub, flag: str) -> bool:
    """True when a property schema (or what its $ref chain points to) sets readOnly/writeOnly."""
    store, base = cx.comp.store, cx.base
    # $ref chains end: the direction-less compile, always done first, rejects $ref loops.
    while isinstance(sub, dict):
        if sub.get(flag) is True:
            return True
        if not isinstance(sub.get("$ref"), str):
            return False
        doc, ptr = store.resolve(base, sub["$ref"], cx.at(), cx.dialect)
        sub, base = store.node_at(doc, ptr, cx.at()), store.location(doc, ptr)[0]
    return False


def _schema_map(cx: _Ctx, kw: str, v, compile_sub) -> list:
    cx.need(isinstance(v, dict), kw, "an object of schemas")
    return [(name, compile_sub(kw, name)) for name in v]


def _kw_properties(cx: _Ctx, v) -> list:
    pairs = tuple(_schema_map(cx, "properties", v, cx.child))
    names = frozenset(v)

    def ok(inst, dyn):
        for name, sub in pairs:
            if name in inst and not sub.ok(inst[name], dyn):
                return False
        return True

    def errs(inst, ip, dyn, out):
        for name, sub in pairs:
            if name in inst:
                sub.errs(inst[name], f"{ip}/{_esc(name)}", dyn, out)
    kws = [_Kw(_OBJ, ok, errs, props=lambda inst, dyn: inst.keys() & names)]
    flag = _hidden_flag(cx.comp.direction)
    hidden = tuple(n for n in v if flag and _has_flag(cx, v[n], flag))
    if hidden:
        why = {"readOnly": "read-only and must not be sent in a request",
               "writeOnly": "write-only and must not be sent in a response"}[flag]
        where = {name: cx.at("properties", name, flag) for name in hidden}

        def hidden_errs(inst, ip, dyn, out):
            for name in hidden:
                if name in inst:
                    out.append(ValidationError(f"{ip}/{_esc(name)}", where[name], flag,
                                               f"{_show(name)} is {why}"))
        kws.append(_Kw(_OBJ, lambda i, d: not any(n in i for n in hidden), hidden_errs))
    return kws


def _kw_pattern_properties(cx: _Ctx, v) -> _Kw:
    cx.need(isinstance(v, dict), "patternProperties", "an object of schemas")
    pairs = tuple((_regex(cx, "patternProperties", p, p).search, cx.child("patternProperties", p))
                  for p in v)

    def ok(inst, dyn):
        for key, value in inst.items():
            for search, sub in pairs:
                if search(key) and not sub.ok(value, dyn):
                    return False
        return True

    def errs(inst, ip, dyn, out):
        for key, value in inst.items():
            for search, sub in pairs:
                if search(key):
                    sub.errs(value, f"{ip}/{_esc(key)}", dyn, out)
    return _Kw(_OBJ, ok, errs, props=lambda inst, dyn: {k for k in inst
                                                         if any(s(k) for s, _ in pairs)})


def _element_errs(sub, where: str, kw: str, raw_sub, noun: str):
    """errs(value, pointer, label, ...) for a subschema applied to one property or item; a
    ``false`` subschema gets a message naming the keyword instead of 'the schema is false'."""
    if raw_sub is False:
        def denied(value, ptr, label, dyn, out):
            out.append(ValidationError(ptr, where, kw, f"{noun} {label} is not allowed ({kw} "
                                       "is false)"))
        return denied
    return lambda value, ptr, label, dyn, out: sub.errs(value, ptr, dyn, out)


def _kw_additional_properties(cx: _Ctx, v) -> _Kw:
    known = frozenset(cx.raw["properties"]) if isinstance(cx.raw.get("properties"), dict) \
        else _EMPTY
    patterns = cx.raw.get("patternProperties")
    searches = tuple(_regex(cx, "patternProperties", p, p).search for p in patterns) \
        if isinstance(patterns, dict) else ()
    sub = cx.child("additionalProperties")
    each = _element_errs(sub, cx.at("additionalProperties"), "additionalProperties", v, "property")

    def extra(inst):
        return [k for k in inst if k not in known and not any(s(k) for s in searches)]

    def ok(inst, dyn):
        check = sub.ok
        return all(check(inst[k], dyn) for k in extra(inst))

    def errs(inst, ip, dyn, out):
        for k in extra(inst):
            each(inst[k], f"{ip}/{_esc(k)}", _show(k), dyn, out)
    return _Kw(_OBJ, ok, errs, props=lambda inst, dyn: True)


def _kw_property_names(cx: _Ctx, v) -> _Kw:
    sub, where = cx.child("propertyNames"), cx.at("propertyNames")

    def errs(inst, ip, dyn, out):
        for key in inst:
            found = []
            sub.errs(key, ip, dyn, found)
            if found:
                out.append(ValidationError(f"{ip}/{_esc(key)}", where, "propertyNames",
                                           f"property name {_show(key)} is invalid: "
                                           f"{found[0].message}"))
    return _Kw(_OBJ, lambda inst, dyn: all(sub.ok(k, dyn) for k in inst), errs)


def _when_present(pairs) -> _Kw:
    """Each (property name, subschema) pair applies to the whole object if the name is present."""
    def ok(inst, dyn):
        return all(sub.ok(inst, dyn) for key, sub in pairs if key in inst)

    def errs(inst, ip, dyn, out):
        for key, sub in pairs:
            if key in inst:
                sub.errs(inst, ip, dyn, out)

    def props(inst, dyn):
        return _union(sub.props(inst, dyn) for key, sub in pairs if key in inst)
    return _Kw(_OBJ, ok, errs, props=props, subs=[sub for _, sub in pairs])


def _kw_dependent_schemas(cx: _Ctx, v) -> _Kw:
    return _when_present(tuple(_schema_map(cx, "dependentSchemas", v, cx.sub)))


def _kw_dependent_required(cx: _Ctx, v) -> _Kw:
    cx.need(isinstance(v, dict), "dependentRequired", "an object")
    return _dependent_required(cx, "dependentRequired", v)


def _kw_dependencies(cx: _Ctx, v) -> list:
    cx.need(isinstance(v, dict), "dependencies", "an object")
    names = {k: x for k, x in v.items() if isinstance(x, list)}
    schemas = tuple((k, cx.sub("dependencies", k)) for k, x in v.items()
                    if not isinstance(x, list))
    kws = [_dependent_required(cx, "dependencies", names)] if names else []
    return kws + [_when_present(schemas)] if schemas else kws


def _kw_unevaluated_properties(cx: _Ctx, v) -> _Kw:
    sub, node = cx.child("unevaluatedProperties"), cx.node
    each = _element_errs(sub, cx.at("unevaluatedProperties"), "unevaluatedProperties", v,
                         "unevaluated property")

    def rest(inst, dyn):
        seen = node.inner_props(inst, dyn)
        return () if seen is True else [k for k in inst if k not in seen]

    def ok(inst, dyn):
        return all(sub.ok(inst[k], dyn) for k in rest(inst, dyn))

    def errs(inst, ip, dyn, out):
        for k in rest(inst, dyn):
            each(inst[k], f"{ip}/{_esc(k)}", _show(k), dyn, out)
    return _Kw(_OBJ, ok, errs)


def _items_from(cx: _Ctx, kw: str, start: int, raw_sub) -> _Kw:
    """``kw``'s subschema applied to every array item from index ``start`` on."""
    sub = cx.child(kw)
    each = _element_errs(sub, cx.at(kw), kw, raw_sub, "item")

    def ok(inst, dyn):
        check = sub.ok
        for i in range(start, len(inst)):
            if not check(inst[i], dyn):
                return False
        return True

    def errs(inst, ip, dyn, out):
        for i in range(start, len(inst)):
            each(inst[i], f"{ip}/{i}", str(i), dyn, out)
    return _Kw(_ARR, ok, errs, items=lambda inst, dyn: True)


def _positional(cx: _Ctx, kw: str, v) -> _Kw:
    cx.need(isinstance(v, list), kw, "an array of schemas")
    subs = tuple(cx.child(kw, i) for i in range(len(v)))

    def ok(inst, dyn):
        return all(s.ok(x, dyn) for s, x in zip(subs, inst))

    def errs(inst, ip, dyn, out):
        for i, (s, x) in enumerate(zip(subs, inst)):
            s.errs(x, f"{ip}/{i}", dyn, out)
    return _Kw(_ARR, ok, errs, items=lambda inst, dyn: set(range(min(len(subs), len(inst)))))


def _kw_items(cx: _Ctx, v) -> _Kw:
    if isinstance(v, list):
        return _positional(cx, "items", v)
    prefix = cx.raw.get("prefixItems") if "prefixItems" in cx.dialect.keywords else None
    return _items_from(cx, "items", len(prefix) if isinstance(prefix, list) else 0, v)


def _kw_additional_items(cx: _Ctx, v):
    items = cx.raw.get("items")
    return _items_from(cx, "additionalItems", len(items), v) if isinstance(items, list) else None


def _kw_contains(cx: _Ctx, v) -> _Kw:
    sub, where, raw = cx.child("contains"), cx.at("contains"), cx.raw
    bounded = "minContains" in cx.dialect.keywords
    low = _count(cx, "minContains", raw["minContains"]) if bounded and "minContains" in raw else 1
    high = _count(cx, "maxContains", raw["maxContains"]) if bounded and "maxContains" in raw \
        else None

    def ok(inst, dyn):
        if low == 1 and high is None:
            return any(sub.ok(x, dyn) for x in inst)
        n = sum(1 for x in inst if sub.ok(x, dyn))
        return low <= n and (high is None or n <= high)

    def errs(inst, ip, dyn, out):
        n = sum(1 for x in inst if sub.ok(x, dyn))
        if n < low:
            text = "array does not contain an item that matches 'contains'" if n == 0 else \
                f"array contains {_plural(n, 'matching item')}, fewer than minContains {low}"
            out.append(ValidationError(ip, where, "contains", text))
        elif high is not None and n > high:
            text = f"array contains {_plural(n, 'matching item')}, more than maxContains {high}"
            out.append(ValidationError(ip, where, "maxContains", text))
    return _Kw(_ARR, ok, errs, items=lambda inst, dyn: {i for i, x in enumerate(inst)
                                                        if sub.ok(x, dyn)})


def _kw_unevaluated_items(cx: _Ctx, v) -> _Kw:
    sub, node = cx.child("unevaluatedItems"), cx.node
    each = _element_errs(sub, cx.at("unevaluatedItems"), "unevaluatedItems", v,
                         "unevaluated item")

    def rest(inst, dyn):
        seen = node.inner_items(inst, dyn)
        return () if seen is True else [i for i in range(len(inst)) if i not in seen]

    def errs(inst, ip, dyn, out):
        for i in rest(inst, dyn):
            each(inst[i], f"{ip}/{i}", str(i), dyn, out)
    return _Kw(_ARR, lambda inst, dyn: all(sub.ok(inst[i], dyn) for i in rest(inst, dyn)), errs)


def _branches(cx: _Ctx, kw: str, v) -> tuple:
    cx.need(isinstance(v, list) and v, kw, "a non-empty array of schemas")
    return tuple(cx.sub(kw, i) for i in range(len(v)))


def _closest(subs, inst, ip, dyn) -> str:
    """'#i: first message' for the branch that failed with the fewest errors."""
    best = None
    for i, sub in enumerate(subs):
        found = []
        sub.errs(inst, ip, dyn, found)
        if found and (best is None or len(found) < len(best[1])):
            best = (i, found)
    first = best[1][0]  # every branch failed, so every branch reported at least one error
    where = f"{first.instance_pointer}: " if first.instance_pointer != ip else ""
    return f"#{best[0]}: {where}{first.message}"


def _kw_all_of(cx: _Ctx, v) -> _Kw:
    subs = _branches(cx, "allOf", v)
    inherited = _inherited(cx, v)
    if inherited:  # a named subtype: its base's discriminator must not dispatch back to it
        subs = tuple(cx.comp.node(cx.doc, f"{cx.ptr}/allOf/{i}", inherited.get(i, cx.skip))
                     for i in range(len(v)))

    def errs(inst, ip, dyn, out):
        for s in subs:
            s.errs(inst, ip, dyn, out)
    return _Kw(None, lambda i, d: all(s.ok(i, d) for s in subs), errs,
               props=lambda i, d: _union(s.props(i, d) for s in subs),
               items=lambda i, d: _union(s.items(i, d) for s in subs), subs=subs)


def _union(results):
    acc = set()
    for got in results:
        if got is True:
            return True
        acc |= got
    return acc


def _governed(cx: _Ctx) -> bool:
    """oneOf/anyOf next to a discriminator are applied by the discriminator keyword."""
    return cx.dialect.discriminator is not None and "discriminator" in cx.raw


def _kw_any_of(cx: _Ctx, v, dispatched=False):
    if not dispatched and _governed(cx):
        return None
    subs, where = _branches(cx, "anyOf", v), cx.at("anyOf")

    def errs(inst, ip, dyn, out):
        if not any(s.ok(inst, dyn) for s in subs):
            closest = _closest(subs, inst, ip, dyn)
            out.append(ValidationError(ip, where, "anyOf", "value does not match any of the "
                                       f"schemas in anyOf (closest {closest})"))
    return _Kw(None, lambda i, d: any(s.ok(i, d) for s in subs), errs,
               _valid_union(subs, "props"), _valid_union(subs, "items"), subs)


def _valid_union(subs, attr: str):
    """Annotations of the branches the value is valid against (anyOf/oneOf)."""
    return lambda i, d: _union(getattr(s, attr)(i, d) for s in subs if s.ok(i, d))


def _kw_one_of(cx: _Ctx, v, dispatched=False):
    if not dispatched and _governed(cx):
        return None
    subs, where = _branches(cx, "oneOf", v), cx.at("oneOf")

    def ok(inst, dyn):
        hits = 0
        for s in subs:
            if s.ok(inst, dyn):
                hits += 1
                if hits > 1:
                    return False
        return hits == 1

    def errs(inst, ip, dyn, out):
        hits = [i for i, s in enumerate(subs) if s.ok(inst, dyn)]
        if not hits:
            text = f"value does not match any of the schemas in oneOf (closest " \
                   f"{_closest(subs, inst, ip, dyn)})"
        elif len(hits) > 1:
            text = f"value matches {len(hits)} schemas in oneOf (#{hits[0]} and #{hits[1]}), " \
                   "expected exactly one"
        else:
            return
        out.append(ValidationError(ip, where, "oneOf", text))
    return _Kw(None, ok, errs, _valid_union(subs, "props"), _valid_union(subs, "items"), subs)


def _kw_not(cx: _Ctx, v) -> _Kw:
    sub = cx.sub("not")
    kw = _leaf(cx, "not", None, lambda i, d: not sub.ok(i, d),
               lambda i: "value must not match the schema in 'not'")
    kw.subs = [sub]
    return kw


def _kw_if(cx: _Ctx, v) -> _Kw:
    test = cx.sub("if")
    then = cx.sub("then") if "then" in cx.raw else None
    other = cx.sub("else") if "else" in cx.raw else None

    def branch(inst, dyn):
        return then if test.ok(inst, dyn) else other

    def ok(inst, dyn):
        chosen = branch(inst, dyn)
        return chosen is None or chosen.ok(inst, dyn)

    def errs(inst, ip, dyn, out):
        chosen = branch(inst, dyn)
        if chosen is not None:
            chosen.errs(inst, ip, dyn, out)

    def annotations(attr):
        def collect(inst, dyn):
            parts = [test, then] if test.ok(inst, dyn) else [other]
            return _union(getattr(p, attr)(inst, dyn) for p in parts if p is not None)
        return collect
    subs = [s for s in (test, then, other) if s is not None]
    return _Kw(None, ok, errs, annotations("props"), annotations("items"), subs)


def _follow(target: _Node, push) -> _Kw:
    """A keyword that applies ``target`` (via $ref); ``push`` enters its resource's scope."""
    if push is None:
        return _Kw(None, lambda i, d: target.ok(i, d),
                   lambda i, ip, d, out: target.errs(i, ip, d, out),
                   lambda i, d: target.props(i, d), lambda i, d: target.items(i, d), [target])
    return _Kw(None, lambda i, d: target.ok(i, (push, d)),
               lambda i, ip, d, out: target.errs(i, ip, (push, d), out),
               lambda i, d: target.props(i, (push, d)), lambda i, d: target.items(i, (push, d)),
               [target])


def _ref_target(cx: _Ctx, kw: str, v):
    cx.need(isinstance(v, str), kw, "a URI reference string")
    doc, ptr = cx.target(v, kw)
    base = cx.comp.store.location(doc, ptr)[0]
    dynamic = "$dynamicRef" in cx.dialect.keywords
    return doc, ptr, (base if dynamic and base != cx.base else None)


def _kw_ref(cx: _Ctx, v) -> _Kw:
    doc, ptr, push = _ref_target(cx, "$ref", v)
    return _follow(cx.comp.node(doc, ptr, cx.skip), push)


def _kw_dynamic_ref(cx: _Ctx, v) -> _Kw:
    doc, ptr, push = _ref_target(cx, "$dynamicRef", v)
    initial = cx.comp.node(doc, ptr, cx.skip)
    name = v.partition("#")[2]
    raw = cx.comp.store.node_at(doc, ptr, cx.at("$dynamicRef"))
    if not (isinstance(raw, dict) and raw.get("$dynamicAnchor") == name):
        return _follow(initial, push)  # no bookend: it is an ordinary $ref
    nodes = cx.comp.dynamic_nodes

    def pick(dyn):
        scopes = []
        while dyn:
            scopes.append(dyn[0])
            dyn = dyn[1]
        for resource in reversed(scopes):  # the outermost resource with the anchor wins
            found = nodes.get((resource, name))
            if found is not None:
                return found
        return initial
    return _Kw(None, lambda i, d: pick(d).ok(i, d),
               lambda i, ip, d, out: pick(d).errs(i, ip, d, out),
               lambda i, d: pick(d).props(i, d), lambda i, d: pick(d).items(i, d))

# ---------------------------------------------------------------------------- discriminator


def _dispatches(cx: _Ctx) -> bool:
    """Whether this schema's discriminator picks a schema (not already decided by an outer one)."""
    spec = cx.raw.get("discriminator")
    prop = spec.get("propertyName") if isinstance(spec, dict) else spec
    return _governed(cx) and not (isinstance(prop, str) and prop == cx.skip)


def _discriminator_spec(cx: _Ctx, v) -> tuple[str, dict]:
    if cx.dialect.discriminator == "name":
        cx.need(isinstance(v, str), "discriminator", "a property name")
        return v, {}
    cx.need(isinstance(v, dict) and isinstance(v.get("propertyName"), str), "discriminator",
            "an object with a string 'propertyName'")
    mapping = v.get("mapping", {})
    cx.need(isinstance(mapping, dict) and all(isinstance(x, str) for x in mapping.values()),
            "discriminator", "an object whose 'mapping' maps values to schema references")
    return v["propertyName"], mapping


def _named_schemas(cx: _Ctx) -> str:
    """Pointer of the document's named-schema table (components/schemas or definitions)."""
    docroot = cx.comp.store.docs[cx.doc]
    if isinstance(docroot, dict) and isinstance(docroot.get("components"), dict) and \
            isinstance(docroot["components"].get("schemas"), dict):
        return "/components/schemas"
    return "/definitions"


def _mapped(cx: _Ctx, ref: str) -> tuple[str, str]:
    if "#" not in ref and "/" not in ref and "." not in ref:
        ref = f"#{_named_schemas(cx)}/{_esc(ref)}"  # a bare schema name
    return cx.target(ref, "discriminator")


def _discriminator_table(cx: _Ctx, mapping: dict, skip) -> dict:
    """value -> node: explicit mapping first, then schema names (branches or subtypes)."""
    store, table, locs = cx.comp.store, {}, []
    kw = next((k for k in ("oneOf", "anyOf") if isinstance(cx.raw.get(k), list)), None)
    if kw:
        for i, branch in enumerate(cx.raw[kw]):
            if isinstance(branch, dict) and isinstance(branch.get("$ref"), str):
                locs.append(cx.target(branch["$ref"], kw))
    else:
        container = _named_schemas(cx)
        children = store.docs[cx.doc]
        for token in container.split("/")[1:]:
            children = children.get(token, {}) if isinstance(children, dict) else {}
        for name, child in children.items() if isinstance(children, dict) else ():
            parents = child.get("allOf", []) if isinstance(child, dict) else []
            for part in parents if isinstance(parents, list) else []:
                if isinstance(part, dict) and isinstance(part.get("$ref"), str) and \
                        cx.target(part["$ref"], "discriminator") == (cx.doc, cx.ptr):
                    locs.append((cx.doc, f"{container}/{_esc(name)}"))
    for doc, ptr in locs:
        name = ptr.rpartition("/")[2].replace("~1", "/").replace("~0", "~")
        table.setdefault(name, cx.comp.node(doc, ptr, skip))
    for value, ref in mapping.items():
        doc, ptr = _mapped(cx, ref)
        table[value] = cx.comp.node(doc, ptr, skip)
    return table


def _inherited(cx: _Ctx, branches: list) -> dict:
    """allOf index -> discriminator property, for $refs from a named schema to a base schema
    that has a discriminator (OpenAPI inheritance: Cat = allOf[Pet, {...}])."""
    if cx.dialect.discriminator is None or \
            cx.ptr.rpartition("/")[0] != _named_schemas(cx) or cx.doc != cx.comp.store.root:
        return {}
    found = {}
    for i, branch in enumerate(branches):
        if isinstance(branch, dict) and isinstance(branch.get("$ref"), str):
            base = cx.comp.store.node_at(*cx.target(branch["$ref"], "allOf"), cx.at("allOf"))
            spec = base.get("discriminator") if isinstance(base, dict) else None
            prop = spec.get("propertyName") if isinstance(spec, dict) else spec
            if isinstance(prop, str):
                found[i] = prop
    return found


def _select_subtype(node: _Node, selector: _Kw) -> None:
    """Inheritance-style discriminator: a value naming a subtype is validated by the subtype
    (which includes this base through allOf) instead of by this schema's own keywords."""
    choose, where = selector.select
    ok, errs, props, items = node.ok, node.errs, node.props, node.items

    def picked(inst):
        return choose(inst) if type(inst) is dict else (None, None)

    def new_ok(inst, dyn):
        target, problem = picked(inst)
        return problem is None and (target or node_own).ok(inst, dyn)

    def new_errs(inst, ip, dyn, out):
        target, problem = picked(inst)
        if problem:
            out.append(ValidationError(ip, where, "discriminator", problem))
        else:
            (target or node_own).errs(inst, ip, dyn, out)
    node_own = _Node()
    node_own.ok, node_own.errs, node_own.props, node_own.items = ok, errs, props, items
    node.ok, node.errs = new_ok, new_errs
    node.props = lambda inst, dyn: (picked(inst)[0] or node_own).props(inst, dyn)
    node.items = lambda inst, dyn: (picked(inst)[0] or node_own).items(inst, dyn)


def _chooser(prop: str, table: dict, own: str | None):
    """choose(object) -> (schema node or None, problem message or None)."""
    choices = ", ".join(map(_show, sorted(table)))

    def choose(inst):
        if prop not in inst:
            return None, f"the discriminator property {_show(prop)} is missing"
        value = inst[prop]
        if isinstance(value, str) and value in table:
            return table[value], None
        if own is not None and value == own:
            return None, None  # the base type itself: its own keywords already apply
        return None, (f"discriminator value {_show(value)} does not match any schema "
                      f"(expected one of {choices})")
    return choose


def _kw_discriminator(cx: _Ctx, v):
    if not _dispatches(cx):
        return None
    prop, mapping = _discriminator_spec(cx, v)
    table, where = _discriminator_table(cx, mapping, prop), cx.at("discriminator")
    kw = next((k for k in ("oneOf", "anyOf") if k in cx.raw), None)
    if not kw:  # inheritance: the node itself hands the value to the subtype
        own = cx.ptr.rpartition("/")[2].replace("~1", "/").replace("~0", "~")
        return _Kw(None, _yes, None, subs=list(table.values()),
                   select=(_chooser(prop, table, own), where))
    choose = _chooser(prop, table, None)
    plain = (_kw_one_of if kw == "oneOf" else _kw_any_of)(cx, cx.raw[kw], True)

    def ok(inst, dyn):
        if type(inst) is not dict:
            return plain.ok(inst, dyn)
        node, problem = choose(inst)
        return problem is None and node.ok(inst, dyn)

    def errs(inst, ip, dyn, out):
        if type(inst) is not dict:
            return plain.errs(inst, ip, dyn, out)
        node, problem = choose(inst)
        if problem:
            out.append(ValidationError(ip, where, "discriminator", problem))
        else:
            node.errs(inst, ip, dyn, out)

    def annotations(attr):
        def collect(inst, dyn):
            node = choose(inst)[0] if type(inst) is dict else None
            return getattr(node, attr)(inst, dyn) if node is not None else _EMPTY
        return collect
    return _Kw(None, ok, errs, annotations("props"), annotations("items"), list(table.values()))


_KEYWORDS = {
    "$ref": _kw_ref, "$dynamicRef": _kw_dynamic_ref, "type": _kw_type, "enum": _kw_enum,
    "const": _kw_const, "multipleOf": _kw_multiple_of, "maximum": _kw_maximum,
    "minimum": _kw_minimum,
    "exclusiveMaximum": lambda cx, v: _bound(cx, "exclusiveMaximum", v, True),
    "exclusiveMinimum": lambda cx, v: _bound(cx, "exclusiveMinimum", v, True),
    "maxLength": lambda cx, v: _kw_length(cx, "maxLength", v),
    "minLength": lambda cx, v: _kw_length(cx, "minLength", v),
    "pattern": _kw_pattern, "format": _kw_format,
    "maxItems": lambda cx, v: _kw_size(cx, "maxItems", v),
    "minItems": lambda cx, v: _kw_size(cx, "minItems", v),
    "maxProperties": lambda cx, v: _kw_size(cx, "maxProperties", v),
    "minProperties": lambda cx, v: _kw_size(cx, "minProperties", v),
    "uniqueItems": _kw_unique, "required": _kw_required,
    "dependentRequired": _kw_dependent_required,
    "properties": _kw_properties, "patternProperties": _kw_pattern_properties,
    "additionalProperties": _kw_additional_properties, "propertyNames": _kw_property_names,
    "dependentSchemas": _kw_dependent_schemas, "dependencies": _kw_dependencies,
    "unevaluatedProperties": _kw_unevaluated_properties, "items": _kw_items,
    "prefixItems": lambda cx, v: _positional(cx, "prefixItems", v),
    "additionalItems": _kw_additional_items, "contains": _kw_contains,
    "unevaluatedItems": _kw_unevaluated_items, "allOf": _kw_all_of, "anyOf": _kw_any_of,
    "oneOf": _kw_one_of, "not": _kw_not, "if": _kw_if, "discriminator": _kw_discriminator,
}

# ---------------------------------------------------------------------------- public API


class Validator:
    """A compiled schema. Thread-safe; ``validate`` never raises on bad data."""

    def __init__(self, compiler: SchemaCompiler, pointer: str):
        self.dialect, self.pointer = compiler.dialect, pointer
        self._compiler, self._roots = compiler, {}
        self._scope = (compiler._store.location(compiler._store.root, pointer)[0], None)
        self._root(None)

    def _root(self, direction) -> _Node:
        node = self._roots.get(direction)
        if node is None:
            if direction not in (None, "request", "response"):
                raise ValueError(f"direction must be None, 'request' or 'response', got "
                                 f"{direction!r}")
            # A direction is compiled on first use, once (readOnly/writeOnly change the tree).
            node = self._roots[direction] = self._compiler._compile(self.pointer, direction)
        return node

    def validate(self, instance, direction: str | None = None) -> list[ValidationError]:
        """Every reason ``instance`` is invalid (empty when valid)."""
        root = self._root(direction)
        try:
            if root.ok(instance, self._scope):
                return []
            out = []
            root.errs(instance, "", self._scope, out)
            return out
        except RecursionError:
            return [ValidationError("", "", "depth", "the value is nested too deeply to validate")]

    def is_valid(self, instance, direction: str | None = None) -> bool:
        """True when ``instance`` is valid; stops at the first failing keyword."""
        try:
            return self._root(direction).ok(instance, self._scope)
        except RecursionError:
            return False


class SchemaCompiler:
    """Compiles validators for many pointers of one document (an OpenAPI spec), sharing the
    scan of the document and every compiled subschema. Thread-safe.

    >>> spec = {"components": {"schemas": {"Id": {"type": "integer"},
    ...     "Pet": {"properties": {"id": {"$ref": "#/components/schemas/Id"}}}}}}
    >>> compiler = SchemaCompiler(spec, dialect="openapi-3.0")
    >>> compiler.validator("/components/schemas/Pet").is_valid({"id": "x"})
    False
    """

    def __init__(self, document, *, dialect: str = "2020-12", retrieve=None, registry=None,
                 format_assertion: bool = True, base_uri: str = "", x_nullable: bool = True):
        options = {"format_assertion": format_assertion, "x_nullable": x_nullable}
        base = _dialect_named(dialect, **options)
        self.dialect = base.name
        self._store = _Store(base_uri, retrieve, registry or {}, options)
        self._compilers, self._validators = {}, {}
        self._lock = threading.RLock()
        named = document.get("components", {}).get("schemas") \
            if isinstance(document, dict) and isinstance(document.get("components"), dict) \
            else None
        roots = [f"/components/schemas/{_esc(k)}" for k in named] if isinstance(named, dict) \
            else []
        self._store.load(base_uri, document, base, roots=["", *roots])

    def validator(self, pointer: str = "") -> Validator:
        """The validator for the subschema at ``pointer`` (memoised); SpecError if broken."""
        with self._lock:
            found = self._validators.get(pointer)
            if found is None:
                self._store.add_root(pointer)
                found = self._validators[pointer] = Validator(self, pointer)
            return found

    def _compile(self, pointer: str, direction) -> _Node:
        with self._lock:
            compiler = self._compilers.get(direction)
            if compiler is None:
                compiler = self._compilers[direction] = _Compiler(self._store, direction)
            return compiler.run(self._store.root, pointer)


def compile_schema(schema, *, dialect: str = "2020-12", retrieve=None, registry=None,
                   format_assertion: bool = True, base_uri: str = "", pointer: str = "",
                   x_nullable: bool = True) -> Validator:
    """Compile ``schema`` once; raises :class:`SpecError` (with a pointer) if it is broken.

    ``retrieve(uri) -> schema`` supplies documents that ``$ref`` names and ``registry`` does not
    hold (``registry`` maps URI -> document, or is a list of documents with ``$id``/``id``).
    ``pointer`` selects a subschema of ``schema`` (e.g. of an OpenAPI document) to validate
    against; references resolve inside the whole document. ``x_nullable`` honours Swagger's
    ``x-nullable``. To compile many pointers of one document, use :class:`SchemaCompiler`.
    """
    return SchemaCompiler(schema, dialect=dialect, retrieve=retrieve, registry=registry,
                          format_assertion=format_assertion, base_uri=base_uri,
                          x_nullable=x_nullable).validator(pointer)


def file_retriever(base_dir, *, loader=json.loads):
    """A ``retrieve`` callback that reads JSON documents under ``base_dir`` (and nothing else).

    Relative references (``common.json#/Pet``) and ``file:`` URIs are read from the folder;
    other URIs raise :class:`SpecError`. Pass ``loader`` to parse YAML or another format.
    """
    root = Path(base_dir).resolve()

    def retrieve(uri: str):
        parts = urlsplit(uri)
        if parts.scheme == "file":
            local = unquote(parts.path)  # file:///C:/x on Windows names C:/x
            path = Path(local[1:] if re.match(r"/[A-Za-z]:", local) else local)
        elif parts.scheme or parts.netloc:
            raise SpecError(f"cannot fetch {uri!r}: only local files under {root} are read "
                            "(give the document in registry= instead)")
        else:
            path = root / unquote(parts.path)
        path = path.resolve()
        if path != root and root not in path.parents:
            raise SpecError(f"refusing to read {path}: it is outside {root}")
        try:
            return loader(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SpecError(f"cannot load {path}: {exc}") from exc
    return retrieve
