"""In-place applicator keywords: subschemas applied to the same value, and OpenAPI's discriminator.

Part of the JSON Schema validator; :mod:`pymock.schema` is its public face. Covers ``allOf``,
``anyOf``, ``oneOf``, ``not``, ``if``/``then``/``else``, ``$ref``, ``$dynamicRef`` and the
OpenAPI/Swagger ``discriminator`` (next to ``oneOf``/``anyOf``, or inheritance through
``allOf``), listed in :data:`INPLACE_KEYWORDS`. :func:`_select_subtype` lets the compiler hand
a value to the subtype its discriminator names.

Names with a leading underscore are shared between the ``schema*`` modules only. Pure (layer 0):
imports ``.schema_refs`` and ``.schema_keywords`` only; never ``schema_applicators`` or
``schema``.
"""

from __future__ import annotations

from .schema_keywords import (_EMPTY, ValidationError, _Ctx, _Kw, _leaf, _Node, _show, _union,
                              _yes)
from .schema_refs import _esc

__all__ = ["INPLACE_KEYWORDS", "_select_subtype"]


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


INPLACE_KEYWORDS = {
    "$ref": _kw_ref, "$dynamicRef": _kw_dynamic_ref, "allOf": _kw_all_of, "anyOf": _kw_any_of,
    "oneOf": _kw_one_of, "not": _kw_not, "if": _kw_if, "discriminator": _kw_discriminator,
}
