"""Template compiler: scans template text and builds the statement nodes of its blocks.

``_Compiler`` splits the source into literal text, ``{{ }}``, ``{% %}`` and ``{# #}`` pieces
(with ``-`` whitespace control), tokenizes each tag, hands expressions to ``_ExprParser`` and
keeps a stack of open ``{% if %}``/``{% for %}`` blocks, so a mismatched tag is reported with
the line and column of both ends. Every error is a ``TemplateError`` with a 1-based position.

>>> _Compiler("{% if x %}yes", "greeting").build()
Traceback (most recent call last):
  ...
pymock.errors.TemplateError: greeting:1:1: '{% if %}' is never closed; add '{% endif %}'

Part of the template engine; ``templates`` is its public face. Names with a leading underscore
are shared between the ``template_*`` modules only. Pure (layer 0): imports only the standard
library, ``errors`` and the ``template_runtime``, ``template_nodes`` and ``template_expr``
modules; never ``templates`` (it imports this).
"""

from __future__ import annotations

import bisect
import re

from .errors import TemplateError
from .template_expr import (
    _CONSTANTS, _KEYWORDS, _SPACE_RE, _TOKEN_RE, _describe, _ExprParser, _suggest, _unescape,
)
from .template_nodes import _for_block, _if_block, _sequence_of, _set
from .template_runtime import MAX_NESTING, _private_message, _Where

__all__ = ["_Compiler"]


class _Block:
    """An open ``{% if %}`` or ``{% for %}`` while compiling: its segments and where it began."""

    __slots__ = ("kind", "offset", "segments", "has_else", "targets", "iterable")

    def __init__(self, kind: str, offset: int, condition=None):
        self.kind, self.offset = kind, offset
        self.segments = [[condition, []]]  # [condition or None, items] per branch
        self.has_else = False
        self.targets = self.iterable = None

    @property
    def items(self) -> list:
        return self.segments[-1][1]


_OPEN_RE = re.compile(r"\{\{|\{%|\{#")
_ENDRAW_RE = re.compile(r"\{%(-?)\s*endraw\s*(-?)%\}")
_TAG_NAMES = ("if", "elif", "else", "endif", "for", "endfor", "set", "raw", "endraw")
_CLOSERS = {"{{": "}}", "{%": "%}"}
_PAIRS = {"(": ")", "[": "]", "{": "}"}


class _Compiler:
    """Scans template text into text, ``{{ }}``, ``{% %}`` and ``{# #}`` pieces and builds emitters."""

    def __init__(self, source: str, name: str):
        self.src, self.name = source, name
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", source)]
        self.stack = [_Block("root", 0)]
        self.bound: set[str] = {"loop"}
        self.has_set = False

    def where(self, offset: int) -> _Where:
        line = bisect.bisect_right(self.line_starts, offset)
        return _Where(line, offset - self.line_starts[line - 1] + 1, self.name)

    def error(self, message: str, offset: int) -> TemplateError:
        return self.where(offset).error(message)

    def build(self) -> list:
        src, pos, strip_next = self.src, 0, False
        while True:
            match = _OPEN_RE.search(src, pos)
            stop = match.start() if match else len(src)
            text = src[pos:stop].lstrip() if strip_next else src[pos:stop]
            if match and src.startswith("-", match.end()):
                text = text.rstrip()
            if text:
                self.stack[-1].items.append(text)
            if match is None:
                break
            pos, strip_next = self.piece(match.group(), match.start(), match.end())
        if len(self.stack) > 1:
            block = self.stack[-1]
            raise self.error(f"'{{% {block.kind} %}}' is never closed; add '{{% end{block.kind} %}}'",
                             block.offset)
        return self.stack[0].items

    def piece(self, opener: str, start: int, after: int) -> tuple[int, bool]:
        if self.src.startswith("-", after):
            after += 1
        if opener == "{#":
            end = self.src.find("#}", after)
            if end < 0:
                raise self.error("unclosed comment '{#'; add '#}' to end it", start)
            return end + 2, self.src[end - 1] == "-" and end > after
        tokens, end, strip = self.tokenize(after, _CLOSERS[opener], start)
        if opener == "{{":
            self.output(tokens, start, end)
            return end, strip
        return self.tag(tokens, start, end, strip)

    def tokenize(self, pos: int, closer: str, start: int):
        """Tokens up to ``closer`` at bracket depth 0: (kind, value, offset, raw text)."""
        src, opened, tokens = self.src, [], []  # opened: offsets of unclosed ( [ {
        while True:
            pos = _SPACE_RE.match(src, pos).end()
            if pos >= len(src):
                if opened:
                    raise self.error(f"{src[opened[-1]]!r} is never closed", opened[-1])
                raise self.error(f"unclosed '{src[start:start + 2]}'; add '{closer}' to close it "
                                 "(for literal braces use {% raw %}...{% endraw %})", start)
            if not opened and src.startswith(closer, pos):
                return tokens, pos + len(closer), False
            if not opened and src.startswith("-" + closer, pos):
                return tokens, pos + 1 + len(closer), True
            match = _TOKEN_RE.match(src, pos)
            if match is None:
                what = "unterminated string" if src[pos] in "'\"" else f"unexpected character {src[pos]!r}"
                raise self.error(what, pos)
            kind, raw = match.lastgroup, match.group()
            if kind == "op" and raw in _PAIRS:
                opened.append(pos)
            elif kind == "op" and opened and _PAIRS[src[opened[-1]]] == raw:
                opened.pop()
            tokens.append((kind, self.token_value(kind, raw, pos), pos, raw))
            pos = match.end()

    def token_value(self, kind: str, raw: str, pos: int):
        try:
            if kind == "int":
                return int(raw)
            if kind == "float":
                return float(raw)
        except ValueError:  # more digits than int() accepts
            raise self.error("number too long", pos) from None
        return _unescape(raw[1:-1]) if kind == "str" else raw

    def output(self, tokens: list, start: int, end: int) -> None:
        if not tokens:
            raise self.error("empty '{{ }}': put an expression between the braces", start)
        parser = _ExprParser(self, tokens, end - 2)
        ev = parser.expression()
        parser.done()
        self.stack[-1].items.append(("out", ev, self.where(start)))

    def tag(self, tokens: list, start: int, end: int, strip: bool) -> tuple[int, bool]:
        if not tokens or tokens[0][0] != "name":
            found = _describe(tokens[0]) if tokens else "nothing"
            raise self.error(f"expected a tag name after '{{%', found {found}", start)
        name = tokens[0][1]
        handler = getattr(self, f"tag_{name}", None) if name in _TAG_NAMES else None
        if handler is None:
            hint = _suggest(name, _TAG_NAMES) or f"; the tags are {', '.join(_TAG_NAMES)}"
            raise self.error(f"unknown tag {name!r}{hint}", tokens[0][2])
        parser = _ExprParser(self, tokens[1:], end - 2)
        return handler(parser, start, end, strip) or (end, strip)

    def push(self, block: _Block) -> None:
        if len(self.stack) > MAX_NESTING:
            raise self.error(f"blocks nested too deeply (more than {MAX_NESTING} levels)", block.offset)
        self.stack.append(block)

    def top(self, kinds: tuple, tag: str, start: int) -> _Block:
        block = self.stack[-1]
        if block.kind in kinds:
            return block
        if block.kind == "root":
            wanted = " or ".join(f"'{{% {k} %}}'" for k in kinds)
            raise self.error(f"'{{% {tag} %}}' has no matching {wanted}", start)
        opened = self.where(block.offset)
        raise self.error(f"'{{% {tag} %}}' found, but the innermost open block is "
                         f"'{block.kind}' (line {opened.line}, col {opened.col}); close it with "
                         f"'{{% end{block.kind} %}}' first", start)

    # -- tags: each gets the parser over the tokens after the tag name
    def tag_if(self, parser, start, end, strip):
        condition = parser.expression()
        parser.done()
        self.push(_Block("if", start, condition))

    def tag_elif(self, parser, start, end, strip):
        block = self.top(("if",), "elif", start)
        if block.has_else:
            raise self.error("'{% elif %}' cannot follow '{% else %}'; move it before the else", start)
        condition = parser.expression()
        parser.done()
        block.segments.append([condition, []])

    def tag_else(self, parser, start, end, strip):
        parser.done("'else'")
        block = self.top(("if", "for"), "else", start)
        if block.has_else:
            raise self.error(f"a second '{{% else %}}' in one '{{% {block.kind} %}}' block", start)
        block.has_else = True
        block.segments.append([None, []])

    def tag_endif(self, parser, start, end, strip):
        parser.done("'endif'")
        block = self.top(("if",), "endif", start)
        self.stack.pop()
        where = self.where(start)
        branches = tuple((cond, _sequence_of(items, where)) for cond, items in block.segments)
        self.stack[-1].items.append(_if_block(branches))

    def tag_for(self, parser, start, end, strip):
        targets = [self.target(parser)]
        while parser.accept("op", ","):
            targets.append(self.target(parser))
        parser.expect("name", "in")
        block = _Block("for", start)
        block.targets, block.iterable = tuple(targets), parser.expression()
        parser.done()
        self.bound.update(targets)
        self.push(block)

    def target(self, parser) -> str:
        token = parser.take()
        if token[0] != "name" or token[1] in _KEYWORDS or token[1] in _CONSTANTS:
            raise self.error(f"expected a variable name, found {_describe(token)}", token[2])
        if token[1][:1] == "_":
            raise self.error(_private_message(token[1]), token[2])
        return token[1]

    def tag_endfor(self, parser, start, end, strip):
        parser.done("'endfor'")
        block = self.top(("for",), "endfor", start)
        self.stack.pop()
        where = self.where(block.offset)
        body = _sequence_of(block.segments[0][1], where)
        orelse = _sequence_of(block.segments[1][1], where) if block.has_else else None
        self.stack[-1].items.append(_for_block(block.targets, block.iterable, body, orelse, where))

    def tag_set(self, parser, start, end, strip):
        name = self.target(parser)
        parser.expect("op", "=")
        ev = parser.expression()
        parser.done()
        self.bound.add(name)
        self.has_set = True
        self.stack[-1].items.append(_set(name, ev))

    def tag_raw(self, parser, start, end, strip):
        parser.done("'raw'")
        match = _ENDRAW_RE.search(self.src, end)
        if match is None:
            raise self.error("'{% raw %}' is never closed; add '{% endraw %}'", start)
        text = self.src[end:match.start()]
        text = text.lstrip() if strip else text
        text = text.rstrip() if match.group(1) else text
        if text:
            self.stack[-1].items.append(text)
        return match.end(), bool(match.group(2))

    def tag_endraw(self, parser, start, end, strip):
        raise self.error("'{% endraw %}' has no matching '{% raw %}'", start)
