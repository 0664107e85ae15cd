"""Where schemas live: JSON Pointers, URI resolution (RFC 3986), dialects and the document store.

Part of the JSON Schema validator; :mod:`pymock.schema` is its public face. :class:`_Store`
indexes each document's resources (``$id``/``id``), anchors and the dialect in force at every
subschema, and turns a reference into a (document, pointer) location. Other documents come
only from the caller's ``registry`` or ``retrieve`` callback; this module reads nothing itself.

>>> _join("https://example.com/a/b.json", "../c.json#/x")
'https://example.com/c.json#/x'
>>> DIALECTS["openapi-3.0"].nullable
'nullable'

Names with a leading underscore are shared between the ``schema*`` modules only. Pure (layer 0):
imports the standard library and ``.errors`` only; never the keyword modules or ``schema``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from urllib.parse import unquote

from .errors import SpecError

__all__ = ["DIALECTS", "_Dialect", "_Store", "_dialect_named", "_esc", "_join"]


# ---------------------------------------------------------------------------- JSON Pointer


def _esc(token) -> str:
    return str(token).replace("~", "~0").replace("/", "~1")


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
