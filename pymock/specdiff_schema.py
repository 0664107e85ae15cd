"""Schema comparison for the breaking-change checks: the schema check families and ``_Schemas``.

Layer 0 (pure): ``_Schemas(old_model, new_model, memo).compare(out, old, new, pointer, kind, ...)``
compares two schemas of one operation after ``$ref`` resolution and ``allOf`` merging, and
reports each difference through ``out.add(check, pointer, message)`` (``specdiff_checks._Out``).
The level of a check follows what a client sees: in a *request*, tightening a constraint breaks
callers; in a *response*, widening breaks them. ``_SCHEMA_FAMILIES`` holds, per check suffix,
its level in a request and in a response; ``specdiff_checks.CHECKS`` is built from it.

>>> _SCHEMA_FAMILIES["min-length-increased"]
('ERR', 'INFO', 'minLength increased')
>>> "response-header" in SCHEMA_KINDS
True

Must not import ``specdiff_checks`` (it imports this), any higher pymock layer, sockets,
threads or file-reading modules.
"""

from __future__ import annotations

import json

from .specdiff import SpecModel, escape_pointer

__all__ = ["REQUEST_KINDS", "RESPONSE_KINDS", "SCHEMA_KINDS"]

REQUEST_KINDS = ("request-body", "request-property", "request-parameter", "request-parameter-property")
RESPONSE_KINDS = ("response-body", "response-property", "response-header")
SCHEMA_KINDS = REQUEST_KINDS + RESPONSE_KINDS
_CHILD_KIND = {"request-body": "request-property", "request-property": "request-property",
               "request-parameter": "request-parameter-property",
               "request-parameter-property": "request-parameter-property",
               "response-body": "response-property", "response-property": "response-property",
               "response-header": "response-property"}

# suffix: (level in a request, level in a response, what it means); None = not checked there.
_SCHEMA_FAMILIES = {
    "type-changed": ("ERR", "ERR", "the type changed"),
    "type-generalized": ("INFO", None, "the type was widened (e.g. integer to number)"),
    "type-specialized": (None, "INFO", "the type was narrowed (e.g. number to integer)"),
    "list-of-types-widened": (None, "ERR", "more types may now be returned"),
    "format-changed": ("ERR", "ERR", "the format changed"),
    "format-generalized": ("INFO", None, "the format was widened (e.g. int32 to int64)"),
    "format-specialized": (None, "INFO", "the format was narrowed (e.g. int64 to int32)"),
    "became-nullable": ("INFO", "ERR", "null became allowed"),
    "became-not-nullable": ("ERR", "INFO", "null is no longer allowed"),
    "became-enum": ("ERR", "INFO", "the value became restricted to an enum"),
    "enum-removed": ("INFO", "WARN", "the enum restriction was removed"),
    "enum-value-removed": ("ERR", "INFO", "an enum value was removed"),
    "enum-value-added": ("INFO", "WARN", "an enum value was added"),
    "x-extensible-enum-value-removed": ("ERR", None, "an x-extensible-enum value was removed"),
    "default-value-changed": ("INFO", "INFO", "the default value changed"),
    "default-value-added": ("INFO", "INFO", "a default value was added"),
    "default-value-removed": ("INFO", "INFO", "the default value was removed"),
    "pattern-added": ("ERR", None, "a pattern was added"),
    "pattern-removed": ("INFO", None, "the pattern was removed"),
    "pattern-changed": ("WARN", None, "the pattern changed"),
    "pattern-generalized": ("INFO", None, "the pattern changed to one that accepts anything"),
    "one-of-added": ("INFO", "ERR", "a oneOf alternative was added"),
    "one-of-removed": ("ERR", "INFO", "a oneOf alternative was removed"),
    "any-of-added": ("INFO", "ERR", "an anyOf alternative was added"),
    "any-of-removed": ("ERR", "INFO", "an anyOf alternative was removed"),
    "all-of-added": ("ERR", "INFO", "an allOf part was added"),
    "all-of-removed": ("INFO", "WARN", "an allOf part was removed"),
    "additional-properties-closed": ("ERR", "INFO", "additionalProperties became false"),
    "additional-properties-opened": ("INFO", "WARN", "additionalProperties became allowed"),
    "discriminator-added": ("INFO", "INFO", "a discriminator was added"),
    "discriminator-removed": ("INFO", "INFO", "the discriminator was removed"),
    "discriminator-property-name-changed": ("INFO", "INFO", "the discriminator property changed"),
}
for _kw in ("if", "then", "else"):
    _SCHEMA_FAMILIES[f"{_kw}-added"] = ("ERR", "INFO", f"an '{_kw}' subschema was added")
    _SCHEMA_FAMILIES[f"{_kw}-removed"] = ("INFO", "WARN", f"the '{_kw}' subschema was removed")

# keyword: (id word, "min" or "max")
_BOUNDS = {"minimum": ("min", "min"), "maximum": ("max", "max"),
           "exclusiveMinimum": ("exclusive-min", "min"), "exclusiveMaximum": ("exclusive-max", "max"),
           "minLength": ("min-length", "min"), "maxLength": ("max-length", "max"),
           "minItems": ("min-items", "min"), "maxItems": ("max-items", "max"),
           "minProperties": ("min-properties", "min"), "maxProperties": ("max-properties", "max")}
# (sense, change): (request level, response level)
_BOUND_LEVELS = {("min", "increased"): ("ERR", "INFO"), ("min", "decreased"): ("INFO", "WARN"),
                 ("min", "set"): ("WARN", "INFO"), ("min", "removed"): ("INFO", "WARN"),
                 ("max", "decreased"): ("ERR", "INFO"), ("max", "increased"): ("INFO", "WARN"),
                 ("max", "set"): ("WARN", "INFO"), ("max", "removed"): ("INFO", "WARN")}
for _kw, (_word, _sense) in _BOUNDS.items():
    for (_s, _change), _levels in _BOUND_LEVELS.items():
        if _s == _sense:
            _SCHEMA_FAMILIES[f"{_word}-{_change}"] = (*_levels, f"{_kw} {_change}")

_ANY_PATTERNS = (".*", "^.*$", ".*?", "^.*", "(.*)", "[\\s\\S]*")
_WIDER_FORMAT = {("int32", "int64"), ("float", "double"), ("int32", None), ("int64", None),
                 ("float", None), ("double", None)}


# ---------------------------------------------------------------- schemas

class _Memo:
    """Schema pairs already compared without finding anything (shared by the whole run)."""

    def __init__(self):
        self.clean: set = set()


def _canon(value) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _enum(schema: dict):
    if isinstance(schema.get("enum"), list):
        return schema["enum"]
    if "const" in schema:
        return [schema["const"]]
    return None


def _types(schema: dict) -> set | None:
    """The declared types without ``null`` (None when no ``type`` is given)."""
    value = schema.get("type")
    if isinstance(value, str):
        return {value} - {"null"} or None
    if isinstance(value, list):
        return {t for t in value if isinstance(t, str)} - {"null"} or None
    return None


def _nullable(schema: dict) -> bool:
    value = schema.get("type")
    return (schema.get("nullable") is True or schema.get("x-nullable") is True
            or (isinstance(value, list) and "null" in value))


class _Schemas:
    """Compares two schemas of one operation; ``compare`` is the entry point."""

    def __init__(self, old: SpecModel, new: SpecModel, memo: _Memo):
        self.old, self.new, self.memo = old, new, memo
        self.stack: set = set()

    def compare(self, out, o, n, ptr, kind, name, root, param=None, depth=0) -> None:
        if o is None or n is None or depth > 48:
            return
        o, _ = self.old.deref(o, ptr)
        n, _ = self.new.deref(n, ptr)
        if not isinstance(o, dict) or not isinstance(n, dict):
            return
        # body or property: the same pair met again down a recursive schema is a cycle
        key = (id(o), id(n), kind.split("-")[0], param.location if param else "")
        if key in self.memo.clean or key in self.stack:
            return
        before = len(out.sink)
        self.stack.add(key)
        try:
            self._compare(out, o, n, ptr, kind, name, root, param, depth)
        finally:
            self.stack.discard(key)
        if len(out.sink) == before:
            self.memo.clean.add(key)

    def _compare(self, out, o, n, ptr, kind, name, root, param, depth) -> None:
        label = f"property '{name}' of {root}" if name else root
        fo, fn = self._flat(o, self.old), self._flat(n, self.new)
        request = kind in REQUEST_KINDS
        if self._type(out, fo, fn, ptr, kind, label, param):
            _enums(out, fo, fn, ptr, kind, label, request)
            return   # an incompatible type: comparing deeper would only repeat it
        _format(out, fo, fn, ptr, kind, label, request)
        _nullability(out, fo, fn, ptr, kind, label)
        _enums(out, fo, fn, ptr, kind, label, request)
        _defaults(out, fo, fn, ptr, kind, label)
        _bounds(out, fo, fn, ptr, kind, label)
        if request:
            _pattern(out, fo, fn, ptr, kind, label)
        self._composition(out, o, n, ptr, kind, name, root, depth)
        _conditionals(out, fo, fn, ptr, kind, label)
        _discriminator(out, fo, fn, ptr, kind, label)
        self._object(out, fo, fn, ptr, kind, name, root, depth)
        if isinstance(fo.get("items"), dict) and isinstance(fn.get("items"), dict):
            # the items of a parameter array are still the parameter's values
            item_kind = kind if kind == "request-parameter" else _CHILD_KIND[kind]
            self.compare(out, fo["items"], fn["items"], f"{ptr}/items", item_kind,
                         f"{name}/items" if name else "items", root, None, depth + 1)

    def _flat(self, schema: dict, model: SpecModel, seen=None) -> dict:
        """``allOf`` parts merged into one schema (properties, required, type, constraints)."""
        parts = schema.get("allOf")
        if not isinstance(parts, list) or not parts:
            return schema
        seen = (seen or set()) | {id(schema)}
        merged = {k: v for k, v in schema.items() if k != "allOf"}
        properties, required = dict(merged.get("properties") or {}), list(merged.get("required") or [])
        for part in parts:
            resolved, _ = model.deref(part)
            if not isinstance(resolved, dict) or id(resolved) in seen:
                continue
            resolved = self._flat(resolved, model, seen)
            for prop, value in (resolved.get("properties") or {}).items():
                properties.setdefault(prop, value)
            required += [r for r in resolved.get("required") or [] if r not in required]
            for keyword, value in resolved.items():
                if keyword not in ("properties", "required", "allOf"):
                    merged.setdefault(keyword, value)
        if properties:
            merged["properties"] = properties
        if required:
            merged["required"] = required
        merged["allOf"] = parts   # kept so the composition check can count the parts
        return merged

    # ------------------------------------------------------------ types

    def _effective_types(self, schema: dict, model: SpecModel) -> set | None:
        declared = _types(schema)
        if declared:
            return declared
        found = set()
        for keyword in ("oneOf", "anyOf"):
            for branch in schema.get(keyword) or []:
                resolved, _ = model.deref(branch)
                types = _types(resolved) if isinstance(resolved, dict) else None
                if not types:
                    return None
                found |= types
        return found or None

    def _param_types(self, schema: dict, model: SpecModel, param) -> set | None:
        """A form-exploded query array accepts the same single values as its items."""
        types = self._effective_types(schema, model)
        if types == {"array"} and param.location in ("query", "cookie") and param.style in ("", "form") \
                and param.explode is not False and isinstance(schema.get("items"), dict):
            items, _ = model.deref(schema["items"])
            types = (_types(items) if isinstance(items, dict) else None) or types
        return types

    def _type(self, out, o, n, ptr, kind, label, param) -> bool:
        """Report a type change; True when it is incompatible (stop comparing deeper)."""
        request = kind in REQUEST_KINDS
        as_param = param is not None and kind == "request-parameter"
        before = self._param_types(o, self.old, param) if as_param else self._effective_types(o, self.old)
        after = self._param_types(n, self.new, param) if as_param else self._effective_types(n, self.new)
        if before is None or after is None or before == after:
            if before and after is None and request and not (n.get("oneOf") or n.get("anyOf") or n.get("not")):
                out.add(f"{kind}-type-generalized", f"{ptr}/type", f"{label} now accepts any type")
            return False
        shown = lambda types: "/".join(sorted(types))  # noqa: E731
        text = f"the type of {label} changed from {shown(before)} to {shown(after)}"
        if request:
            covered = set(after) | ({"integer"} if "number" in after else set())
            if as_param and "string" in after:   # parameters arrive as text: a string takes any scalar
                covered |= {"integer", "number", "boolean"}
            if before - covered:
                out.add(f"{kind}-type-changed", f"{ptr}/type", text + "; clients sending the old type are rejected")
                return True
            out.add(f"{kind}-type-generalized", f"{ptr}/type", text + " (a wider type)")
            return False
        widened = after - before - ({"integer"} if "number" in before else set())
        if widened and (len(before) > 1 or len(after) > 1):
            out.add(f"{kind}-list-of-types-widened", f"{ptr}/type", text + "; clients may receive a type they do not expect")
            return False
        if widened:
            out.add(f"{kind}-type-changed", f"{ptr}/type", text + "; clients parsing the old type break")
            return True
        out.add(f"{kind}-type-specialized", f"{ptr}/type", text + " (a narrower type)")
        return False

    # ------------------------------------------------------------ composition and objects

    def _composition(self, out, o, n, ptr, kind, name, root, depth) -> None:
        for keyword, word in (("oneOf", "one-of"), ("anyOf", "any-of"), ("allOf", "all-of")):
            before, after = o.get(keyword) or [], n.get(keyword) or []
            if not isinstance(before, list) or not isinstance(after, list) or not before or not after:
                continue   # introducing or dropping the keyword shows as a type or property change
            pairs, removed, added = self._match(before, after)
            label = f"property '{name}' of {root}" if name else root
            for index in added:
                out.add(f"{kind}-{word}-added", f"{ptr}/{keyword}/{index}",
                        f"{label}: a {keyword} part was added ({self._branch_name(after[index], self.new)})")
            for index in removed:
                out.add(f"{kind}-{word}-removed", f"{ptr}/{keyword}/{index}",
                        f"{label}: a {keyword} part was removed ({self._branch_name(before[index], self.old)})")
            for old_index, new_index in pairs if keyword != "allOf" else ():   # allOf: merged in _flat
                self.compare(out, before[old_index], after[new_index], f"{ptr}/{keyword}/{new_index}",
                             kind, name, root, None, depth + 1)

    def _branch_key(self, branch, model: SpecModel):
        if isinstance(branch, dict) and isinstance(branch.get("$ref"), str):
            return ("ref", branch["$ref"].rsplit("/", 1)[-1])
        resolved, _ = model.deref(branch)
        if isinstance(resolved, dict) and resolved.get("title"):
            return ("title", str(resolved["title"]))
        return ("json", _canon(resolved))

    def _branch_name(self, branch, model: SpecModel) -> str:
        kind, value = self._branch_key(branch, model)
        return value if kind != "json" else (value if len(value) <= 60 else value[:57] + "...")

    def _match(self, before: list, after: list):
        """Pair alternatives by $ref name, then title, then content; leftovers pair by position."""
        old_keys = [self._branch_key(b, self.old) for b in before]
        new_keys = [self._branch_key(b, self.new) for b in after]
        pairs, free_new = [], list(range(len(after)))
        free_old = []
        for i, key in enumerate(old_keys):
            match = next((j for j in free_new if new_keys[j] == key), None)
            if match is None:
                free_old.append(i)
            else:
                pairs.append((i, match))
                free_new.remove(match)
        if len(before) == len(after):     # same count: a changed part, not one added and one removed
            pairs += list(zip(free_old, free_new))
            return pairs, [], []
        return pairs, free_old, free_new

    def _object(self, out, o, n, ptr, kind, name, root, depth) -> None:
        props_o, props_n = o.get("properties") or {}, n.get("properties") or {}
        if not isinstance(props_o, dict) or not isinstance(props_n, dict):
            return
        req_o = set(o.get("required") or []) if isinstance(o.get("required"), list) else set()
        req_n = set(n.get("required") or []) if isinstance(n.get("required"), list) else set()
        request = kind in REQUEST_KINDS
        child = _CHILD_KIND[kind]
        prefix = f"{name}/" if name else ""
        for prop, schema in props_o.items():
            if prop not in props_n:
                self._property_removed(out, prop, schema, prop in req_o, ptr, prefix, root, request)
        for prop, schema in props_n.items():
            at = f"{ptr}/properties/{escape_pointer(prop)}"
            full = prefix + prop
            if prop not in props_o:
                self._property_added(out, schema, prop in req_n, at, full, root, request)
                continue
            self._required_change(out, props_o[prop], schema, (prop in req_o, prop in req_n), at, full, root, request)
            self.compare(out, props_o[prop], schema, at, child, full, root, None, depth + 1)
        _additional(out, o, n, ptr, kind, name, root)
        extra_o, extra_n = o.get("additionalProperties"), n.get("additionalProperties")
        if isinstance(extra_o, dict) and isinstance(extra_n, dict):
            self.compare(out, extra_o, extra_n, f"{ptr}/additionalProperties", child,
                         prefix + "additionalProperties", root, None, depth + 1)

    def _flag(self, schema, model: SpecModel, flag: str) -> bool:
        resolved, _ = model.deref(schema)
        return isinstance(resolved, dict) and resolved.get(flag) is True

    def _property_removed(self, out, prop, schema, required, ptr, prefix, root, request) -> None:
        at, label = f"{ptr}/properties/{escape_pointer(prop)}", f"property '{prefix + prop}' of {root}"
        if request:
            out.add("request-property-removed", at, f"{label} was removed; clients still sending it may be rejected")
        elif self._flag(schema, self.old, "writeOnly"):
            return
        elif required:
            out.add("response-required-property-removed", at, f"{label} was removed; clients reading it break")
        else:
            out.add("response-optional-property-removed", at, f"{label} was removed")

    def _property_added(self, out, schema, required, at, full, root, request) -> None:
        label = f"property '{full}' of {root}"
        if request:
            if required and not self._flag(schema, self.new, "readOnly"):
                out.add("new-required-request-property", at, f"{label} was added as required; existing clients do not send it")
            else:
                out.add("new-optional-request-property", at, f"{label} was added (optional)")
        elif not self._flag(schema, self.new, "writeOnly"):
            check = "response-required-property-added" if required else "response-optional-property-added"
            out.add(check, at, f"{label} was added")

    def _required_change(self, out, old_schema, schema, required, at, full, root, request) -> None:
        was, now = required
        label = f"property '{full}' of {root}"
        if was == now:
            pass
        elif request and not self._flag(schema, self.new, "readOnly"):
            out.add("request-property-became-required" if now else "request-property-became-optional", at,
                    f"{label} became {'required' if now else 'optional'}")
        elif not request and not self._flag(schema, self.new, "writeOnly"):
            out.add("response-property-became-required" if now else "response-property-became-optional", at,
                    f"{label} became {'required; it is always sent now' if now else 'optional; clients relying on it break'}")
        if self._flag(schema, self.new, "deprecated") and not self._flag(old_schema, self.old, "deprecated"):
            out.add("request-property-deprecated" if request else "response-property-deprecated",
                    f"{at}/deprecated", f"{label} was deprecated")


# ---------------------------------------------------------------- keyword checks (pure functions)

def _format(out, o, n, ptr, kind, label, request) -> None:
    before, after = o.get("format"), n.get("format")
    if before == after or before is None and after is None:
        return
    if request and ((before, after) in _WIDER_FORMAT or after is None):
        out.add(f"{kind}-format-generalized", f"{ptr}/format", f"the format of {label} was widened from {before} to {after or 'none'}")
    elif not request and ((after, before) in _WIDER_FORMAT or before is None):
        out.add(f"{kind}-format-specialized", f"{ptr}/format", f"the format of {label} was narrowed from {before or 'none'} to {after}")
    else:
        out.add(f"{kind}-format-changed", f"{ptr}/format", f"the format of {label} changed from {before or 'none'} to {after or 'none'}")


def _nullability(out, o, n, ptr, kind, label) -> None:
    before, after = _nullable(o), _nullable(n)
    if before and not after:
        out.add(f"{kind}-became-not-nullable", f"{ptr}/nullable", f"{label} no longer allows null")
    elif after and not before:
        out.add(f"{kind}-became-nullable", f"{ptr}/nullable", f"{label} may now be null")


def _enums(out, o, n, ptr, kind, label, request) -> None:
    before, after = _enum(o), _enum(n)
    if before is None and after is not None:
        out.add(f"{kind}-became-enum", f"{ptr}/enum", f"{label} is now restricted to {_short(after)}")
    elif before is not None and after is None:
        out.add(f"{kind}-enum-removed", f"{ptr}/enum", f"{label} is no longer restricted to an enum")
    elif before is not None:
        old_set, new_set = {_canon(v) for v in before}, {_canon(v) for v in after}
        for value in before:
            if _canon(value) not in new_set:
                out.add(f"{kind}-enum-value-removed", f"{ptr}/enum", f"the value {_canon(value)} was removed from {label}")
        for value in after:
            if _canon(value) not in old_set:
                out.add(f"{kind}-enum-value-added", f"{ptr}/enum", f"the value {_canon(value)} was added to {label}"
                        + ("" if request else "; clients may receive a value they do not handle"))
    if request:
        ext_old, ext_new = o.get("x-extensible-enum"), n.get("x-extensible-enum")
        if isinstance(ext_old, list) and isinstance(ext_new, list):
            remaining = {_canon(v) for v in ext_new}
            for value in ext_old:
                if _canon(value) not in remaining:
                    out.add(f"{kind}-x-extensible-enum-value-removed", f"{ptr}/x-extensible-enum",
                            f"the value {_canon(value)} was removed from the x-extensible-enum of {label}")


def _short(values) -> str:
    text = ", ".join(_canon(v) for v in values[:8])
    return f"[{text}{', ...' if len(values) > 8 else ''}]"


def _defaults(out, o, n, ptr, kind, label) -> None:
    has_old, has_new = "default" in o, "default" in n
    if has_old and has_new and _canon(o["default"]) != _canon(n["default"]):
        out.add(f"{kind}-default-value-changed", f"{ptr}/default",
                f"the default of {label} changed from {_canon(o['default'])} to {_canon(n['default'])}")
    elif has_new and not has_old:
        out.add(f"{kind}-default-value-added", f"{ptr}/default", f"{label} got the default {_canon(n['default'])}")
    elif has_old and not has_new:
        out.add(f"{kind}-default-value-removed", f"{ptr}/default", f"{label} lost its default {_canon(o['default'])}")


def _number(value):
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _bounds(out, o, n, ptr, kind, label) -> None:
    from .specdiff_checks import CHECKS   # the catalogue is built from this module's families
    for keyword, (word, sense) in _BOUNDS.items():
        before, after = _number(o.get(keyword)), _number(n.get(keyword))
        if before == after:
            continue
        if before is None:
            change = "set"
        elif after is None:
            change = "removed"
        else:
            change = "increased" if after > before else "decreased"
        check = f"{kind}-{word}-{change}"
        if check in CHECKS:
            out.add(check, f"{ptr}/{keyword}",
                    f"{keyword} of {label} {change}" + (f" from {before}" if before is not None else "")
                    + (f" to {after}" if after is not None else ""))


def _pattern(out, o, n, ptr, kind, label) -> None:
    before, after = o.get("pattern") or None, n.get("pattern") or None   # '' matches anything
    if before == after:
        return
    if before is None:
        out.add(f"{kind}-pattern-added", f"{ptr}/pattern", f"{label} must now match the pattern {after}")
    elif after is None:
        out.add(f"{kind}-pattern-removed", f"{ptr}/pattern", f"the pattern {before} was removed from {label}")
    elif after in _ANY_PATTERNS:
        out.add(f"{kind}-pattern-generalized", f"{ptr}/pattern", f"the pattern of {label} now accepts any text ({after})")
    else:
        out.add(f"{kind}-pattern-changed", f"{ptr}/pattern", f"the pattern of {label} changed from {before} to {after}; "
                "values valid before may now be rejected")


def _conditionals(out, o, n, ptr, kind, label) -> None:
    for keyword in ("if", "then", "else"):
        if keyword in n and keyword not in o:
            out.add(f"{kind}-{keyword}-added", f"{ptr}/{keyword}", f"{label} got an '{keyword}' subschema")
        elif keyword in o and keyword not in n:
            out.add(f"{kind}-{keyword}-removed", f"{ptr}/{keyword}", f"{label} lost its '{keyword}' subschema")


def _discriminator(out, o, n, ptr, kind, label) -> None:
    before, after = o.get("discriminator"), n.get("discriminator")
    name = lambda d: d.get("propertyName") if isinstance(d, dict) else d  # noqa: E731
    if before is None and after is not None:
        out.add(f"{kind}-discriminator-added", f"{ptr}/discriminator", f"{label} got the discriminator {name(after)}")
    elif after is None and before is not None:
        out.add(f"{kind}-discriminator-removed", f"{ptr}/discriminator", f"{label} lost the discriminator {name(before)}")
    elif before is not None and name(before) != name(after):
        out.add(f"{kind}-discriminator-property-name-changed", f"{ptr}/discriminator",
                f"the discriminator of {label} changed from {name(before)} to {name(after)}")


def _additional(out, o, n, ptr, kind, name, root) -> None:
    label = f"property '{name}' of {root}" if name else root
    before, after = o.get("additionalProperties"), n.get("additionalProperties")
    if after is False and before is not False:
        out.add(f"{kind}-additional-properties-closed", f"{ptr}/additionalProperties",
                f"{label} no longer allows properties it does not list")
    elif before is False and after is not False:
        out.add(f"{kind}-additional-properties-opened", f"{ptr}/additionalProperties",
                f"{label} now allows properties it does not list")
