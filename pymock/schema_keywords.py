"""The building blocks of a compiled schema, and the keywords that look only at the value itself.

Part of the JSON Schema validator; :mod:`pymock.schema` is its public face. A schema compiles
to a :class:`_Node`; each keyword of it compiles to a :class:`_Kw` of closures (``ok``, ``errs``,
annotations) that ``schema`` merges into the node. :class:`_Ctx` is what a keyword compiler
knows about the schema object it sits in. The value keywords here (``type``, ``enum``,
``maximum``, ``pattern``, ``format``, ``required`` ...) are listed in :data:`VALUE_KEYWORDS`.

>>> str(ValidationError("/age", "/properties/age/maximum", "maximum", "value 7 is too big"))
'/age: value 7 is too big'
>>> _freeze(1) == _freeze(1.0), _freeze(True) == _freeze(1)
(True, False)

Names with a leading underscore are shared between the ``schema*`` modules only. Pure (layer 0):
imports the standard library, ``.errors``, ``.formats`` and ``.schema_refs`` only; never the
applicator modules or ``schema``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Context, Decimal, InvalidOperation

from .errors import SpecError
from .formats import ecma_regex, format_checker
from .schema_refs import _esc

__all__ = ["ValidationError", "VALUE_KEYWORDS", "_freeze", "_show", "_describe", "_plural",
           "_JSON_TYPES", "_NUM", "_STR", "_ARR", "_OBJ", "_EMPTY", "_yes", "_no_annotations",
           "_Kw", "_Node", "_Ctx", "_leaf", "_union", "_count", "_regex",
           "_dependent_required", "_hidden_flag", "_has_flag"]


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


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


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


def _leaf(cx: _Ctx, kw: str, types, ok, message) -> _Kw:
    """A keyword that only looks at the value itself; ``message(value)`` explains a failure."""
    where = cx.at(kw)

    def errs(inst, ip, dyn, out):
        if not ok(inst, dyn):
            out.append(ValidationError(ip, where, kw, message(inst)))
    return _Kw(types, ok, errs)


def _union(results):
    """The union of annotation sets, or True (every one evaluated) if any result is True."""
    acc = set()
    for got in results:
        if got is True:
            return True
        acc |= got
    return acc


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


def _hidden_flag(direction):
    """The flag whose properties a validation direction forbids (None: no direction)."""
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


VALUE_KEYWORDS = {
    "type": _kw_type, "enum": _kw_enum, "const": _kw_const, "multipleOf": _kw_multiple_of,
    "maximum": _kw_maximum, "minimum": _kw_minimum,
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
}
