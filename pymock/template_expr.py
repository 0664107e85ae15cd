"""Template expressions: the tokenizer rules and the parser that turns tokens into nodes.

``_TOKEN_RE`` splits the inside of ``{{ }}`` and ``{% %}`` into numbers, names, strings and
operators. ``_ExprParser`` parses one tag's tokens by recursive descent into node closures
(``template_nodes``) and checks at compile time all that can be checked then: names starting
with ``_``, unknown filters, functions and fake fields (with a did-you-mean), call arguments
against the function signatures, literal time offsets and the nesting depth.

Part of the template engine; ``templates`` is its public face. Names with a leading underscore
are shared between the ``template_*`` modules only. Pure (layer 0): imports only the standard
library and the ``template_runtime``, ``template_nodes``, ``template_filters`` and
``template_fakes`` modules; never ``template_parser`` or ``templates`` (they import this; the
compiler an ``_ExprParser`` reports errors through is passed in).
"""

from __future__ import annotations

import difflib
import re

from .template_fakes import _FAKE, FAKE_FIELDS
from .template_filters import (
    _FILTERS, _HELPERS, _SIGNATURES, _TIME_HELPERS, HELPER_NAMES, _offset_seconds, _params_text,
)
from .template_nodes import (
    _ARITH, _COMPARE, _arith_chain, _chain, _compare_chain, _concat, _const, _filtered,
    _helper_call, _is_const, _method_call, _name_ev, _unary,
)
from .template_runtime import _MISSING, MAX_NESTING, Undefined, _Fail, _private_message, _Where

__all__ = [
    "_ExprParser", "_TOKEN_RE", "_SPACE_RE", "_CONSTANTS", "_KEYWORDS", "_unescape", "_describe",
    "_suggest",
]


# ---------------------------------------------------------------- tokens and expression parser

_TOKEN_RE = re.compile(r"""
    (?P<float>\d+\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+)
  | (?P<int>\d+)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<op>//|==|!=|<=|>=|[-+*/%<>()\[\]{}.,:|~=])
""", re.VERBOSE | re.DOTALL)
_SPACE_RE = re.compile(r"\s*")
_ESCAPE_RE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)", re.DOTALL)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", "'": "'", '"': '"', "/": "/"}
_CONSTANTS = {"true": True, "True": True, "false": False, "False": False,
              "none": None, "None": None, "null": None}
_KEYWORDS = frozenset(("and", "or", "not", "in", "if", "else", "is"))
_END = "end"


def _unescape(body: str) -> str:
    def sub(match):
        code = match.group(1)
        if code[0] == "u" and len(code) == 5:
            return chr(int(code[1:], 16))
        return _ESCAPES.get(code, "\\" + code)
    return _ESCAPE_RE.sub(sub, body) if "\\" in body else body


def _describe(token) -> str:
    return "the end of the tag" if token[0] == _END else repr(token[3])


def _suggest(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


class _ExprParser:
    """Recursive descent over the tokens of one tag, building evaluation closures.

    Precedence, loosest first: ``x if c else y``, or, and, not, comparisons (== != < <= >
    >= in, not in), ~, + -, * / // %, unary -, then lookups and ``| filters``. ``comp`` is the
    ``template_parser._Compiler`` the tokens came from: it gives positions and errors
    (``where``, ``error``), the source text (``src``) and the names ``set``/``for`` bind
    (``bound``).
    """

    def __init__(self, comp, tokens: list, end: int):
        self.c, self.tokens, self.end, self.i, self.depth = comp, tokens, end, 0, 0

    # -- token helpers
    def peek(self, ahead: int = 0):
        i = self.i + ahead
        return self.tokens[i] if i < len(self.tokens) else (_END, None, self.end, "")

    def take(self):
        token = self.peek()
        self.i += 1
        return token

    def at(self, kind: str, value) -> bool:
        token = self.peek()
        return token[0] == kind and token[1] == value

    def accept(self, kind: str, value) -> bool:
        if self.at(kind, value):
            self.i += 1
            return True
        return False

    def expect(self, kind: str, value):
        token = self.peek()
        if not self.accept(kind, value):
            raise self.c.error(f"expected {value!r} but found {_describe(token)}", token[2])
        return token

    def done(self, what: str = "the expression") -> None:
        token = self.peek()
        if token[0] != _END:
            raise self.c.error(f"unexpected {_describe(token)} after {what}", token[2])

    def where(self, token) -> _Where:
        return self.c.where(token[2])

    def enter(self, token) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise self.c.error(f"expression nested too deeply (more than {MAX_NESTING} levels)", token[2])

    # -- grammar
    def expression(self):
        self.enter(self.peek())
        try:
            value = self.or_expr()
            if not self.accept("name", "if"):
                return value
            condition = self.or_expr()
            otherwise = self.expression() if self.accept("name", "else") else _const(Undefined(""))
            return lambda scope, rs: (value(scope, rs) if condition(scope, rs) else otherwise(scope, rs))
        finally:
            self.depth -= 1

    def or_expr(self):
        parts = [self.and_expr()]
        while self.accept("name", "or"):
            parts.append(self.and_expr())
        if len(parts) == 1:
            return parts[0]

        def ev(scope, rs):
            for part in parts:
                value = part(scope, rs)
                if value:
                    return value
            return value
        return ev

    def and_expr(self):
        parts = [self.not_expr()]
        while self.accept("name", "and"):
            parts.append(self.not_expr())
        if len(parts) == 1:
            return parts[0]

        def ev(scope, rs):
            for part in parts:
                value = part(scope, rs)
                if not value:
                    return value
            return value
        return ev

    def not_expr(self):
        token = self.peek()
        if token[0] == "name" and token[1] == "not":
            self.take()
            self.enter(token)
            inner = self.not_expr()
            self.depth -= 1
            return lambda scope, rs: not inner(scope, rs)
        return self.comparison()

    def comparison(self):
        first, steps = self.concat(), []
        while True:
            token = self.peek()
            if token[0] == "op" and token[1] in ("==", "!=", "<", "<=", ">", ">="):
                symbol = token[1]
            elif token[0] == "name" and token[1] == "in":
                symbol = "in"
            elif token[0] == "name" and token[1] == "not" and self.peek(1)[:2] == ("name", "in"):
                self.take()
                symbol = "not in"
            else:
                break
            self.take()
            steps.append((symbol, _COMPARE[symbol], self.concat(), self.where(token)))
        return _compare_chain(first, tuple(steps)) if steps else first

    def concat(self):
        parts = [self.arith()]
        while self.at("op", "~"):
            token = self.take()
            parts.append(self.arith())
        return _concat(tuple(parts), self.where(token)) if len(parts) > 1 else parts[0]

    def arith(self):
        return self.binary(self.term, ("+", "-"))

    def term(self):
        return self.binary(self.unary, ("*", "/", "//", "%"))

    def binary(self, operand, symbols):
        first, steps = operand(), []
        while self.peek()[0] == "op" and self.peek()[1] in symbols:
            token = self.take()
            steps.append((token[1], _ARITH[token[1]], operand(), self.where(token)))
        return _arith_chain(first, tuple(steps)) if steps else first

    def unary(self):
        token = self.peek()
        if token[0] != "op" or token[1] not in ("-", "+"):
            return self.postfix()
        self.take()
        self.enter(token)
        inner = self.unary()
        self.depth -= 1
        folded = getattr(inner, "const", None)
        if isinstance(folded, (int, float)) and not isinstance(folded, bool):
            return _const(-folded if token[1] == "-" else folded)
        return _unary(token[1], inner, self.where(token))

    def postfix(self):
        start = self.peek()[2]
        ev, name = self.primary()
        steps = []
        while self.peek()[0] == "op" and self.peek()[1] in (".", "["):
            steps.append(self.trailer(start))
        if steps and steps[-1][1] is None and isinstance(steps[-1][0], str) and self.at("op", "("):
            return self.filters(self.method_call(ev, name, steps))
        if steps:
            ev = _chain(ev, name, tuple(steps))
        return self.filters(ev)

    def method_call(self, ev, name, steps):
        """``state.inc('k')``: a call on an object that offers methods to templates."""
        *lookups, (method, _, label, where) = steps
        base = _chain(ev, name, tuple(lookups)) if lookups else ev
        args, kwargs = self.call_args()
        return _method_call(base, method, label, tuple(a for a, _ in args),
                            tuple((k, a) for k, a, _ in kwargs), where)

    def trailer(self, start: int):
        opener = self.take()
        if opener[1] == ".":
            token = self.take()
            if token[0] not in ("name", "int"):
                raise self.c.error(f"expected a field name after '.', found {_describe(token)}", token[2])
            key = token[1] if token[0] == "name" else int(token[1])
            key_ev, stop = None, token[2] + len(token[3])
        else:
            token = self.peek()
            key_ev = self.expression()
            stop = self.expect("op", "]")[2] + 1
            key = getattr(key_ev, "const", _MISSING)
            key_ev = key_ev if key is _MISSING else None
        if isinstance(key, str) and key[:1] == "_":
            raise self.c.error(_private_message(key), token[2])
        return (key, key_ev, self.c.src[start:stop], self.where(token))

    def filters(self, ev):
        steps = []
        while self.accept("op", "|"):
            token = self.take()
            if token[0] != "name":
                raise self.c.error(f"expected a filter name after '|', found {_describe(token)}", token[2])
            fn = _FILTERS.get(token[1])
            if fn is None:
                raise self.c.error(f"unknown filter {token[1]!r}{_suggest(token[1], _FILTERS)}; "
                                   "the filters are listed in docs/templates.md", token[2])
            args, kwargs = self.call_args() if self.at("op", "(") else ([], [])
            self.check_call("filter", token, args, kwargs)
            steps.append((token[1], fn, tuple(a for a, _ in args),
                          tuple((k, a) for k, a, _ in kwargs), self.where(token)))
        return _filtered(ev, tuple(steps)) if steps else ev

    def primary(self):
        token = self.take()
        kind, value = token[0], token[1]
        if kind in ("int", "float", "str"):
            return _const(value), None
        if kind == "name" and value not in _KEYWORDS:
            if value in _CONSTANTS:
                return _const(_CONSTANTS[value]), None
            if self.at("op", "("):
                return self.helper(token), None
            if value == "fake":
                return self.fake(token), None
            return self.variable(token), value
        if kind == "op" and value == "(":
            inner = self.expression()
            self.expect("op", ")")
            return inner, None
        if kind == "op" and value == "[":
            return self.list_literal(), None
        if kind == "op" and value == "{":
            return self.dict_literal(token), None
        raise self.c.error(f"expected an expression but found {_describe(token)}", token[2])

    def variable(self, token):
        name = token[1]
        if name[:1] == "_":
            raise self.c.error(_private_message(name), token[2])
        if name in _HELPERS and name not in self.c.bound:
            raise self.c.error(f"{name!r} is a function: call it as {name}()", token[2])
        return _name_ev(name)

    def fake(self, token):
        fields = ", ".join(FAKE_FIELDS)
        if not self.accept("op", "."):
            raise self.c.error(f"'fake' needs a field, e.g. fake.name (fields: {fields})", token[2])
        field = self.take()
        make = _FAKE.get(field[1]) if field[0] == "name" else None
        if make is None:
            hint = (_suggest(field[1], _FAKE) if field[0] == "name" else "") or f"; the fields are {fields}"
            raise self.c.error(f"unknown fake field {_describe(field)}{hint}", field[2])
        if self.accept("op", "("):
            self.expect("op", ")")
        return lambda scope, rs: make(rs.env.rng)

    def helper(self, token):
        name = token[1]
        fn = _HELPERS.get(name)
        if fn is None:
            hint = (f"; {name!r} is a filter: write value | {name}" if name in _FILTERS
                    else _suggest(name, _HELPERS) or f"; the functions are {', '.join(HELPER_NAMES)}")
            raise self.c.error(f"unknown function {name!r}{hint}", token[2])
        args, kwargs = self.call_args()
        self.check_call("function", token, args, kwargs)
        self.check_offset(name, args, kwargs)
        return _helper_call(name, fn, tuple(a for a, _ in args), tuple((k, a) for k, a, _ in kwargs),
                            self.where(token))

    def call_args(self):
        """``(a, b, key=c)`` as ([(ev, token)], [(key, ev, token)])."""
        self.expect("op", "(")
        args, kwargs = [], []
        while not self.accept("op", ")"):
            token = self.peek()
            if token[0] == "name" and self.peek(1)[:2] == ("op", "="):
                self.i += 2
                kwargs.append((token[1], self.expression(), token))
            elif kwargs:
                raise self.c.error("a positional argument cannot follow a keyword argument", token[2])
            else:
                args.append((self.expression(), token))
            if not self.accept("op", ","):
                self.expect("op", ")")
                break
        return args, kwargs

    def check_call(self, kind: str, token, args, kwargs) -> None:
        signature = _SIGNATURES[(kind, token[1])]
        try:
            signature.bind(None, *[None] * len(args), **{key: None for key, _, _ in kwargs})
        except TypeError as exc:
            raise self.c.error(f"bad arguments for {kind} {token[1]}({_params_text(signature)}): {exc}",
                               token[2]) from None

    def check_offset(self, name: str, args, kwargs) -> None:
        """A literal offset such as now(none, '+1x') is checked now, not on every request."""
        if name not in _TIME_HELPERS:
            return
        index = _TIME_HELPERS[name]
        found = [(ev, tok) for key, ev, tok in kwargs if key == "offset"]
        found += [args[index]] if len(args) > index else []
        for ev, token in found:
            if _is_const(ev):
                try:
                    _offset_seconds(ev.const)
                except _Fail as exc:
                    raise self.c.error(str(exc), token[2]) from None

    def list_literal(self):
        items = []
        while not self.accept("op", "]"):
            items.append(self.expression())
            if not self.accept("op", ","):
                self.expect("op", "]")
                break
        items = tuple(items)
        return lambda scope, rs: [item(scope, rs) for item in items]

    def dict_literal(self, opener):
        pairs = []
        while not self.accept("op", "}"):
            key = self.expression()
            self.expect("op", ":")
            pairs.append((key, self.expression()))
            if not self.accept("op", ","):
                self.expect("op", "}")
                break
        pairs, where = tuple(pairs), self.where(opener)

        def ev(scope, rs):
            try:
                return {key(scope, rs): value(scope, rs) for key, value in pairs}
            except TypeError:
                raise where.error("dict keys must be text or numbers") from None
        return ev
