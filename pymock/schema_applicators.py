"""Applicator keywords for child values: the subschemas a value's properties and items must match.

Part of the JSON Schema validator; :mod:`pymock.schema` is its public face. Covers
``properties`` (with the readOnly/writeOnly rules of a validation direction),
``patternProperties``, ``additionalProperties``, ``propertyNames``, ``dependentSchemas``,
``dependentRequired``, ``dependencies``, ``unevaluatedProperties``, ``items``, ``prefixItems``,
``additionalItems``, ``contains`` and ``unevaluatedItems``, listed in :data:`CHILD_KEYWORDS`.
Each keyword compiler takes a :class:`~pymock.schema_keywords._Ctx` and the keyword's value and
returns compiled keywords; the subschemas are compiled lazily by the caller's compiler.

Names with a leading underscore are shared between the ``schema*`` modules only. Pure (layer 0):
imports ``.schema_refs`` and ``.schema_keywords`` only; never ``schema_inplace`` or ``schema``.
"""

from __future__ import annotations

from .schema_keywords import (_ARR, _EMPTY, _OBJ, ValidationError, _count, _Ctx,
                              _dependent_required, _has_flag, _hidden_flag, _Kw, _plural, _regex,
                              _show, _union)
from .schema_refs import _esc

__all__ = ["CHILD_KEYWORDS"]


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


CHILD_KEYWORDS = {
    "dependentRequired": _kw_dependent_required,
    "properties": _kw_properties, "patternProperties": _kw_pattern_properties,
    "additionalProperties": _kw_additional_properties, "propertyNames": _kw_property_names,
    "dependentSchemas": _kw_dependent_schemas, "dependencies": _kw_dependencies,
    "unevaluatedProperties": _kw_unevaluated_properties, "items": _kw_items,
    "prefixItems": lambda cx, v: _positional(cx, "prefixItems", v),
    "additionalItems": _kw_additional_items, "contains": _kw_contains,
    "unevaluatedItems": _kw_unevaluated_items,
}
