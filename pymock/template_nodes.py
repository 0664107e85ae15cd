"""Template nodes: the closures a compiled template is made of.

An expression node is ``ev(scope, rs) -> value``; a statement node is ``emit(scope, rs, out)``
and appends text to ``out``. ``scope`` holds the render's variables and ``rs`` its state
(``env``, ``iterations``, ``size``), which is how nodes enforce the loop and output limits.
Nodes are built once by the parser and shared by every render and thread, so they keep no
state of their own. A node that can fail holds a ``_Where`` and turns ``_Fail`` or a Python
error into a ``TemplateError`` at that position.

>>> ev = _arith_chain(_const(6), (("*", _ARITH["*"], _name_ev("n"), None),))
>>> ev({"n": 7}, None), _name_ev("missing")({}, None)
(42, Undefined('missing'))

Part of the template engine; ``templates`` is its public face. Names with a leading underscore
are shared between the ``template_*`` modules only. Pure (layer 0): imports only ``errors`` and
``template_runtime``; never the filters (they are passed in as functions), the parsers or
``templates``.
"""

from __future__ import annotations

from .errors import TemplateError
from .template_runtime import (
    _LOOP_LIMIT, _MISSING, _OUTPUT_LIMIT, MAX_LOOP_ITERATIONS, MAX_OUTPUT_CHARS, Undefined, _bounded,
    _Fail, _lookup, _LoopInfo, _plain, _private_message, _to_str, _type_name, _Where,
)

__all__ = [
    "_const", "_is_const", "_name_ev", "_chain", "_filtered", "_helper_call", "_method_call", "_ARITH",
    "_arith_chain", "_COMPARE", "_compare_chain", "_concat", "_unary", "_sequence_of",
    "_if_block", "_for_block", "_set",
]


# ---------------------------------------------------------------- expression closures

def _const(value):
    def ev(scope, rs):
        return value
    ev.const = value
    return ev


def _is_const(ev) -> bool:
    return hasattr(ev, "const")


def _name_ev(name: str):
    def ev(scope, rs):
        value = scope.get(name, _MISSING)
        return Undefined(name) if value is _MISSING else value
    return ev


def _chain(base, name, steps):
    """``base`` followed by lookups; ``steps`` are (key or None, key_ev or None, label, where)."""
    if name is not None and all(key_ev is None for _, key_ev, _, _ in steps):
        keys = tuple((key, label) for key, _, label, _ in steps)

        def fused(scope, rs):  # the common case, e.g. request.path.id, kept to one loop
            value = scope.get(name, _MISSING)
            if value is _MISSING:
                return Undefined(name)
            for key, label in keys:
                value = _lookup(value, key)
                if value is _MISSING:
                    return Undefined(label)
            return value
        return fused

    def ev(scope, rs):
        value = base(scope, rs)
        for key, key_ev, label, where in steps:
            if key_ev is not None:
                key = key_ev(scope, rs)
                if isinstance(key, str) and key[:1] == "_":
                    raise where.error(_private_message(key))
            value = _lookup(value, key)
            if value is _MISSING:
                return Undefined(label)
        return value
    return ev


_CAUGHT = (TypeError, ValueError, ArithmeticError, IndexError, KeyError, OSError)


def _call_failed(kind: str, name: str, value, exc: Exception, where: _Where) -> TemplateError:
    label = f"filter {name!r}" if kind == "filter" else f"{name}()"
    if isinstance(exc, _Fail):
        return where.error(f"{label}: {exc}")
    if kind == "filter":
        return where.error(f"{label} cannot handle {_type_name(value)}: {exc}")
    return where.error(f"{label} failed: {exc}")


def _filtered(base, steps):
    """``base | f1(args) | f2 ...``; each step is (name, fn, arg_evs, kw_evs, where)."""
    def ev(scope, rs):
        value = base(scope, rs)
        for name, fn, arg_evs, kw_evs, where in steps:
            args = [arg(scope, rs) for arg in arg_evs]
            kwargs = {key: arg(scope, rs) for key, arg in kw_evs}
            try:
                value = _bounded(fn(value, *args, **kwargs))
            except (_Fail, *_CAUGHT) as exc:
                raise _call_failed("filter", name, value, exc, where) from None
        return value
    return ev


def _helper_call(name, fn, arg_evs, kw_evs, where):
    if not arg_evs and not kw_evs:
        def call0(scope, rs):
            try:
                return _bounded(fn(rs.env))
            except (_Fail, *_CAUGHT) as exc:
                raise _call_failed("function", name, None, exc, where) from None
        return call0

    def call(scope, rs):
        args = [arg(scope, rs) for arg in arg_evs]
        kwargs = {key: arg(scope, rs) for key, arg in kw_evs}
        try:
            return _bounded(fn(rs.env, *args, **kwargs))
        except (_Fail, *_CAUGHT) as exc:
            raise _call_failed("function", name, None, exc, where) from None
    return call


def _method_call(base, method: str, label: str, arg_evs, kw_evs, where):
    """``obj.method(...)``: allowed only when ``obj``'s class lists ``method`` in its
    ``template_methods`` (e.g. the ``state`` view); arguments arrive as plain JSON data."""
    def call(scope, rs):
        obj = base(scope, rs)
        if method not in getattr(type(obj), "template_methods", ()):
            what = f"{obj.name} is undefined" if isinstance(obj, Undefined) and obj.name else \
                f"it is {_type_name(obj)}"
            raise where.error(f"{label}() cannot be called: {what}")
        args = [_plain(arg(scope, rs)) for arg in arg_evs]
        kwargs = {key: _plain(arg(scope, rs)) for key, arg in kw_evs}
        try:
            return _bounded(getattr(obj, method)(*args, **kwargs))
        except (_Fail, *_CAUGHT) as exc:
            raise _call_failed("function", label, None, exc, where) from None
    return call


def _defined(a, b) -> None:
    for value in (a, b):
        if isinstance(value, Undefined):
            raise _Fail(f"{value.name or 'a value'!r} is undefined; give it a fallback with "
                        "| default(...)")


def _op_add(a, b):
    _defined(a, b)
    return _bounded(a + b)


def _op_mul(a, b):
    _defined(a, b)
    for seq, n in ((a, b), (b, a)):
        if isinstance(seq, (str, list, tuple)) and isinstance(n, int) and len(seq) * n > MAX_OUTPUT_CHARS:
            raise _Fail(_OUTPUT_LIMIT)
    if isinstance(a, int) and isinstance(b, int) and a.bit_length() + b.bit_length() > 65536:
        raise _Fail("number too large (more than 65536 bits)")
    return a * b


def _op_mod(a, b):
    _defined(a, b)
    if isinstance(a, str):  # Python's '%' formatting; not a template feature
        raise TypeError("text")
    return a % b


def _numeric(fn):
    def op(a, b):
        _defined(a, b)
        return fn(a, b)
    return op


_ARITH = {
    "+": _op_add, "-": _numeric(lambda a, b: a - b), "*": _op_mul,
    "/": _numeric(lambda a, b: a / b), "//": _numeric(lambda a, b: a // b), "%": _op_mod,
}


def _arith_chain(first, steps):
    def ev(scope, rs):
        value = first(scope, rs)
        for symbol, fn, right, where in steps:
            other = right(scope, rs)
            try:
                value = fn(value, other)
            except _Fail as exc:
                raise where.error(str(exc)) from None
            except ZeroDivisionError:
                raise where.error(f"division by zero in '{symbol}'") from None
            except (TypeError, ValueError, OverflowError):
                raise where.error(
                    f"cannot use '{symbol}' on {_type_name(value)} and {_type_name(other)}; "
                    "convert first with | int, | float or | string (use ~ to join text)") from None
        return value
    return ev


def _contains(container, item) -> bool:
    if container is None or isinstance(container, Undefined):
        return False
    if isinstance(container, str):
        return _to_str(item) in container
    try:
        return item in container
    except TypeError:  # unhashable item in a dict
        return False


_COMPARE = {
    "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
    "in": lambda a, b: _contains(b, a), "not in": lambda a, b: not _contains(b, a),
}


def _compare_chain(first, steps):
    def ev(scope, rs):
        left = first(scope, rs)
        for symbol, fn, right_ev, where in steps:
            right = right_ev(scope, rs)
            try:
                if not fn(left, right):
                    return False
            except (TypeError, _Fail):
                raise where.error(f"cannot compare {_type_name(left)} and {_type_name(right)} "
                                  f"with '{symbol}'; convert first with | int, | float or "
                                  "| string") from None
            left = right
        return True
    return ev


def _concat(parts, where: _Where):
    def ev(scope, rs):
        values = [part(scope, rs) for part in parts]
        try:
            return _bounded("".join([_to_str(value) for value in values]))
        except _Fail as exc:
            raise where.error(str(exc)) from None
    return ev


def _unary(symbol: str, inner, where: _Where):
    def ev(scope, rs):
        value = inner(scope, rs)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise where.error(f"cannot apply unary '{symbol}' to {_type_name(value)}; "
                              "convert it with | int or | float")
        return -value if symbol == "-" else value
    return ev


# ---------------------------------------------------------------- statements (emitters)

def _text(text: str, where: _Where):
    n = len(text)

    def emit(scope, rs, out):
        rs.size += n
        if rs.size > MAX_OUTPUT_CHARS:
            raise where.error(_OUTPUT_LIMIT)
        out.append(text)
    return emit


def _output(ev, where: _Where):
    def emit(scope, rs, out):
        try:
            text = _to_str(ev(scope, rs))
        except _Fail as exc:
            raise where.error(str(exc)) from None
        rs.size += len(text)
        if rs.size > MAX_OUTPUT_CHARS:
            raise where.error(_OUTPUT_LIMIT)
        out.append(text)
    return emit


def _sequence_of(items: list, where: _Where):
    """One emitter for a block's items (text strings and emitters), merging adjacent text."""
    merged = []
    for item in items:
        if isinstance(item, str) and merged and isinstance(merged[-1], str):
            merged[-1] += item
        else:
            merged.append(item)
    emitters = tuple(_text(item, where) if isinstance(item, str)
                     else _output(item[1], item[2]) if isinstance(item, tuple) else item
                     for item in merged)
    if len(emitters) == 1:
        return emitters[0]

    def run(scope, rs, out):
        for emit in emitters:
            emit(scope, rs, out)
    return run


def _if_block(branches):
    def emit(scope, rs, out):
        for condition, body in branches:
            if condition is None or condition(scope, rs):
                body(scope, rs, out)
                return
    return emit


def _loop_items(value, where: _Where) -> list:
    if isinstance(value, list):
        return value
    if isinstance(value, (tuple, str)):
        return list(value)
    if isinstance(value, dict):
        return list(value.keys())
    if value is None or isinstance(value, Undefined):
        return []
    raise where.error(f"cannot loop over {_type_name(value)}")


def _for_block(targets: tuple, iterable, body, orelse, where: _Where):
    single = targets[0] if len(targets) == 1 else None

    def emit(scope, rs, out):
        items = _loop_items(iterable(scope, rs), where)
        count = len(items)
        if not count:
            if orelse is not None:
                orelse(scope, rs, out)
            return
        rs.iterations += count
        if rs.iterations > MAX_LOOP_ITERATIONS:
            raise where.error(_LOOP_LIMIT)
        for index, item in enumerate(items):
            inner = dict(scope)  # a fresh scope per iteration: {% set %} inside never leaks out
            if single is not None:
                inner[single] = item
            else:
                _unpack(inner, targets, item, where)
            inner["loop"] = _LoopInfo(index, count)
            body(inner, rs, out)
    return emit


def _unpack(scope: dict, targets: tuple, item, where: _Where) -> None:
    if not isinstance(item, (list, tuple)) or len(item) != len(targets):
        raise where.error(f"cannot unpack {_type_name(item)} into {len(targets)} names "
                          f"({', '.join(targets)}); loop over pairs, e.g. dict | items")
    scope.update(zip(targets, item))


def _set(name: str, ev):
    def emit(scope, rs, out):
        scope[name] = ev(scope, rs)
    return emit
