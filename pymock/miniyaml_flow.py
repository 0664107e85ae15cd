"""Flow collections for the YAML loader: ``[a, b]`` and ``{k: v}``, also across lines.

Part of :mod:`pymock.miniyaml`, its public face. :class:`_FlowReader` adds the flow readers to
:class:`~pymock.miniyaml_scalars._ScalarReader`. A flow collection moves its own cursor
(``fi`` line, ``fp`` column) while it crosses lines and hands back the position after its
closing bracket.

>>> _FlowReader("[a, {b: 1}] # c", "<doc>").flow(0, 0)
(['a', {'b': 1}], 0, 11)

Names with a leading underscore are shared between the ``miniyaml*`` modules only. Pure
(layer 0): imports only ``re``, ``miniyaml_scalars`` and ``miniyaml_dump`` (to show a
duplicate key); never ``miniyaml``, sockets, threads or files.
"""

from __future__ import annotations

import re

from .miniyaml_dump import _key_name
from .miniyaml_scalars import _MERGE, _is_marker, _resolve, _ScalarReader

__all__ = ["_FlowReader"]


_FLOW_GAP = re.compile(r"[ \t]*(?:(?<![^ \t])#.*)?")
_FLOW_PLAIN = re.compile(
    r"""(?:[^\s\-?:,\[\]{}#&*!|>'"%@`]|[-?:](?=[^\s,\[\]{}]))"""
    r"""(?:[^\s:,\[\]{}]|:(?=[^\s,\[\]{}])|[ \t]+(?=[^\s:,\[\]{}#]|:[^\s,\[\]{}]))*""")
_FLOW_MORE = re.compile(r"(?:[^\s:,\[\]{}#]|:(?=[^\s,\[\]{}]))(?:[^\s:,\[\]{}]|:(?=[^\s,\[\]{}])"
                        r"|[ \t]+(?=[^\s:,\[\]{}#]|:[^\s,\[\]{}]))*")


# --- the flow reader -------------------------------------------------------------------------

class _FlowReader(_ScalarReader):
    """Reads flow collections; ``flow`` is the entry point from a block context."""

    def flow(self, i: int, p: int):
        """The flow collection opening at ``lines[i][p]``: (value, last line, column after)."""
        self.fi, self.fp, self.fopen = i, p, (i, p)
        value = self.flow_node()
        return value, self.fi, self.fp

    def fpeek(self) -> str:
        """The next significant character inside a flow collection, crossing lines."""
        lines, i, p = self.lines, self.fi, self.fp
        while True:
            line = lines[i]
            p = _FLOW_GAP.match(line, p).end()
            if p < len(line):
                self.fi, self.fp = i, p
                return line[p]
            i, p = i + 1, 0
            if i >= self.n or (lines[i][:3] in ("---", "...") and _is_marker(lines[i])):
                oi, op = self.fopen
                closer = "]" if lines[oi][op] == "[" else "}"
                raise self.error(f"unterminated flow collection (missing '{closer}' for the "
                                 f"'{lines[oi][op]}' opened here)", oi, op)

    def flow_node(self, key: bool = False):
        c = self.fpeek()
        anchor = tag = tag_at = None
        while c in "&!":
            ti = self.fi
            anchor, tag, at, self.fp = self.properties(self.lines[ti], self.fp, ti, anchor, tag)
            if at is not None:
                tag_at = (ti, at)
            c = self.fpeek()
        i, p, plain = self.fi, self.fp, False
        if c == "[":
            value = self.flow_seq()
        elif c == "{":
            value = self.flow_map()
        elif c == "*":
            value, self.fp = self.alias(i, p)
            return value
        elif c == '"' or c == "'":
            value, self.fi, self.fp = self.quoted(i, p)
        elif c in "]}" or (c == ":" and self.flow_indicator(1)) or (
                c == "," and (anchor is not None or tag is not None)):
            value, plain = "", True
        else:
            value, plain = self.flow_plain(), True
            if key and value == "<<" and anchor is None and tag is None:
                return _MERGE
        if anchor is None and tag is None:
            return _resolve(value) if plain else value
        if tag is not None:
            i, p = tag_at
        return self.finish(value, anchor, tag, plain, i, p)

    def flow_indicator(self, offset: int) -> bool:
        line, q = self.lines[self.fi], self.fp + offset
        return q >= len(line) or line[q] in " \t,[]{}"

    def flow_plain(self) -> str:
        i, p = self.fi, self.fp
        line = self.lines[i]
        m = _FLOW_PLAIN.match(line, p)
        if m is None or m.end() == p:
            raise self.error(f"unexpected character {line[p]!r} in a flow collection", i, p)
        parts, self.fp = [m.group()], m.end()
        while _FLOW_GAP.match(line, self.fp).end() == len(line) and "#" not in line[self.fp:]:
            j, blank = i + 1, 0
            while j < self.n and not self.lines[j].strip():
                j, blank = j + 1, blank + 1
            if j >= self.n:
                break
            nxt = self.lines[j]
            q = len(nxt) - len(nxt.lstrip(" \t"))
            m = _FLOW_MORE.match(nxt, q)
            if m is None or (q == 0 and _is_marker(nxt)):
                break
            parts += ["\n" * blank if blank else " ", m.group()]
            i, line, self.fi, self.fp = j, nxt, j, m.end()
        return "".join(parts)

    def flow_seq(self) -> list:
        self.fp += 1
        out = []
        while True:
            c = self.fpeek()
            if c == "]":
                self.fp += 1
                return out
            explicit = c == "?" and self.flow_indicator(1)
            if explicit:
                self.fp += 1
            self.fpeek()
            ki, kp = self.fi, self.fp
            item = self.flow_node(key=True)
            if item is _MERGE:
                item = "<<"
            if explicit or self.fpeek() == ":":
                value = None
                if self.fpeek() == ":":
                    self.fp += 1
                    value = None if self.fpeek() in ",]" else self.flow_node()
                pair: dict = {}
                self.flow_store(pair, item, value, {}, ki, kp)
                item = pair
            out.append(item)
            self.flow_separator("]")

    def flow_separator(self, closer: str) -> None:
        c = self.fpeek()
        if c == ",":
            self.fp += 1
        elif c != closer:
            raise self.error(f"expected ',' or '{closer}' in a flow collection, found {c!r}",
                             self.fi, self.fp)

    def flow_map(self) -> dict:
        self.fp += 1
        out, lines_of = {}, {}
        while True:
            c = self.fpeek()
            if c == "}":
                self.fp += 1
                return self.merged(out) if _MERGE in out else out
            if c == "?" and self.flow_indicator(1):
                self.fp += 1
            self.fpeek()
            ki, kp = self.fi, self.fp
            key = self.flow_node(key=True)
            value = None
            if self.fpeek() == ":":
                self.fp += 1
                if self.fpeek() not in ",}":
                    value = self.flow_node()
            if key is _MERGE:
                value = self.merge_sources(value, ki)
            self.flow_store(out, key, value, lines_of, ki, kp)
            self.flow_separator("}")

    def flow_store(self, out: dict, key, value, lines_of: dict, i: int, p: int) -> None:
        try:
            if key in out:
                raise self.error(f'duplicate key "{_key_name(key)}" (first defined at line '
                                 f"{lines_of[key] + 1}); remove or rename one of them", i, p)
        except TypeError:
            raise self.error("found an unhashable key (a list or mapping used as a mapping "
                             "key); use a scalar key", i, p) from None
        out[key] = value
        lines_of[key] = i
