"""JSON Schema validation for the dialects OpenAPI uses: draft-04, OAS 3.0, Swagger 2.0, 2020-12.

Layer 0 (pure): it never does network I/O and reads no file unless the caller builds a
:func:`file_retriever` and passes it. A schema is compiled once into a tree of small closures
(no keyword look-ups at validation time); recursive schemas work because nodes are memoised by
(document, pointer).

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
one OpenAPI document use :class:`SchemaCompiler`, which shares the compiled parts. See
docs/schema.md.

This module is the public face and the compiler; the parts live in ``schema_refs`` (URIs,
dialects, the document store), ``schema_keywords`` (compiled-node building blocks and value
keywords), ``schema_applicators`` (properties and items) and ``schema_inplace`` (allOf/anyOf/
oneOf/not/if, ``$ref``, discriminator). Imports the standard library, ``.errors`` and those
modules only. Must not import socket/threading-starting/file-watching modules or any higher
pymock layer (a ``threading.RLock`` only guards lazy compiles).
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from urllib.parse import unquote, urlsplit

from .errors import SpecError
from .schema_applicators import CHILD_KEYWORDS
from .schema_inplace import INPLACE_KEYWORDS, _select_subtype
from .schema_keywords import (_JSON_TYPES, VALUE_KEYWORDS, ValidationError, _Ctx, _describe,
                              _no_annotations, _Node, _yes)
from .schema_refs import DIALECTS, _dialect_named, _esc, _Store
from .schema_refs import _join  # noqa: F401  (re-exported: tests import it from here)

__all__ = ["ValidationError", "Validator", "SchemaCompiler", "compile_schema", "file_retriever",
           "DIALECTS"]


# ---------------------------------------------------------------------------- compiler


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


# Every keyword this validator knows; a dialect's keyword set says which of them apply.
_KEYWORDS = {**VALUE_KEYWORDS, **CHILD_KEYWORDS, **INPLACE_KEYWORDS}


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
