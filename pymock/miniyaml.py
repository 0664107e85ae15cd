"""Load and dump the YAML that OpenAPI documents and configs are written in.

Pure (layer 0): imports only ``re``, ``math``, ``base64`` and ``pymock.errors``, never PyYAML
or any other third-party package, sockets or threads; it reads a file only in
``load_file(path)``. Supports block mappings and sequences
(compact ``- key: v`` forms, sequences at the same indent as their key), flow collections,
plain, single- and double-quoted scalars (all escapes, line folding), literal ``|`` and folded
``>`` blocks with chomping and indentation indicators, comments, document markers and
directives, anchors, aliases and merge keys (``<<``), the core tags (``!!str`` ``!!int``
``!!float`` ``!!bool`` ``!!null`` ``!!map`` ``!!seq`` ``!!binary``), ``? `` complex keys,
duplicate-key errors and multi-document streams.

Plain scalars resolve by the YAML 1.2 core schema, where PyYAML applies YAML 1.1 rules. The
differences: ``yes``/``no``/``on``/``off`` (any case form) stay strings; ``0777``, ``09`` and
``012345678910`` are decimal ints; ``0o17`` is octal 15; ``0b101``, ``1_000``, ``-0x1F``,
sexagesimal ``1:30``, timestamps like ``2024-01-31`` and ``=`` stay strings; ``1e3``,
``1.0e3``, ``12e-3`` and ``-.5`` are floats. Unlike PyYAML, ``?`` may appear inside a flow
plain scalar (``[http://x/?a=b]``) and a duplicate key is an error. docs/yaml.md has the table.

>>> load("openapi: 3.0.3\\nenabled: yes\\nports: [80, 0x1F]\\n")
{'openapi': '3.0.3', 'enabled': 'yes', 'ports': [80, 31]}
>>> print(dump({"name": "on", "lines": "a\\nb\\n", "tags": []}), end="")
name: 'on'
lines: |
  a
  b
tags: []
"""

from __future__ import annotations

import base64
import math
import re

from .errors import YamlError

__all__ = ["load", "load_all", "load_file", "dump", "YamlError"]

# --- scalar resolution (YAML 1.2 core schema) ------------------------------------------------

_WORDS = {
    "": None, "~": None, "null": None, "Null": None, "NULL": None,
    "true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False,
    ".inf": math.inf, ".Inf": math.inf, ".INF": math.inf, "+.inf": math.inf, "+.Inf": math.inf,
    "+.INF": math.inf, "-.inf": -math.inf, "-.Inf": -math.inf, "-.INF": -math.inf,
    ".nan": math.nan, ".NaN": math.nan, ".NAN": math.nan,
}
_NUMBER = re.compile(r"""(?:
      (?P<int>[-+]?[0-9]+)
    | 0o(?P<oct>[0-7]+)
    | 0x(?P<hex>[0-9a-fA-F]+)
    | (?P<float>[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?)
    )\Z""", re.X)
_NUMBER_START = frozenset("0123456789+-.")
_MISSING = object()


def _resolve(text: str):
    """The value of a plain scalar under the YAML 1.2 core schema."""
    value = _WORDS.get(text, _MISSING)
    if value is not _MISSING:
        return value
    if text[0] in _NUMBER_START:
        m = _NUMBER.match(text)
        if m is not None:
            kind = m.lastgroup
            if kind == "int":
                try:
                    return int(text)
                except ValueError:  # beyond sys.get_int_max_str_digits(): kept as written
                    return text
            if kind == "float":
                return float(text)
            return int(m.group(kind), 8 if kind == "oct" else 16)
    return text


# --- the patterns the line parser is built on -------------------------------------------------

_PLAIN_FIRST = r"""(?:[^\s\-?:,\[\]{}#&*!|>'"%@`]|[-?:](?=\S))"""
_PLAIN_REST = r"(?:[^\s:]|:(?=\S)|[ \t]+(?=[^\s#:]|:\S))*"
_SQ = r"'(?:[^']|'')*'"
_DQ = r'"[^"\\]*(?:\\.[^"\\]*)*"'
_KEY_FIRST = r"""(?:[^\s\-?:,\[\]{}#&*!|>'"%@`<]|[-?:](?=\S))"""
# The hot path: `key: value` on one line, value plain, quoted or absent, maybe a comment.
_MAP_FAST = re.compile(
    rf"""(?:(?P<kp>{_KEY_FIRST}{_PLAIN_REST})|'(?P<ks>(?:[^']|'')*)'"""
    rf"""|"(?P<kd>[^"\\]*(?:\\.[^"\\]*)*)")[ \t]*:"""
    rf"""(?:[ \t]+(?:(?P<vp>{_PLAIN_FIRST}{_PLAIN_REST})|'(?P<vs>(?:[^']|'')*)'"""
    rf"""|"(?P<vd>[^"\\]*(?:\\.[^"\\]*)*)")?)?[ \t]*(?:\#.*)?\Z""")
# Any implicit key (with optional anchor/tag) followed by the value indicator.
_MAP_KEY = re.compile(
    rf"""(?P<props>(?:[&!][^\s]*[ \t]+)*)(?P<key>{_PLAIN_FIRST}{_PLAIN_REST}|{_SQ}|{_DQ})"""
    r"""[ \t]*:(?:[ \t]+|\Z)""")
_PROP = re.compile(r"(?:&(?P<anchor>[^\s,\[\]{}]*)|!(?P<tag><[^>]*>|[^\s,\[\]{}]*))[ \t]*")
_ALIAS = re.compile(r"\*([^\s,\[\]{}]+)")
_TRAILER = re.compile(r"[ \t]*(?:#.*)?\Z")
_FLOW_GAP = re.compile(r"[ \t]*(?:(?<![^ \t])#.*)?")
_FLOW_PLAIN = re.compile(
    r"""(?:[^\s\-?:,\[\]{}#&*!|>'"%@`]|[-?:](?=[^\s,\[\]{}]))"""
    r"""(?:[^\s:,\[\]{}]|:(?=[^\s,\[\]{}])|[ \t]+(?=[^\s:,\[\]{}#]|:[^\s,\[\]{}]))*""")
_FLOW_MORE = re.compile(r"(?:[^\s:,\[\]{}#]|:(?=[^\s,\[\]{}]))(?:[^\s:,\[\]{}]|:(?=[^\s,\[\]{}])"
                        r"|[ \t]+(?=[^\s:,\[\]{}#]|:[^\s,\[\]{}]))*")
_SQ_BODY = re.compile(r"(?:[^']|'')*")
_DQ_BODY = re.compile(r'[^"\\]*(?:\\.[^"\\]*)*')
_BLOCK_HEADER = re.compile(r"[|>](?:([1-9])([-+]?)|([-+])([1-9]?))?(?=[ \t]|\Z)[ \t]*(?:#.*)?\Z")
_ESCAPE = re.compile(r"\\(?:x([0-9A-Fa-f]{2})|u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|(.?))", re.S)
_ESCAPES = {
    "0": "\0", "a": "\a", "b": "\b", "t": "\t", "\t": "\t", "n": "\n", "v": "\v", "f": "\f",
    "r": "\r", "e": "\x1b", " ": " ", '"': '"', "/": "/", "\\": "\\", "N": "\x85",
    "_": "\xa0", "L": "\u2028", "P": "\u2029",
}
_CORE_TAG = "tag:yaml.org,2002:"


# Stands for the plain key ``<<`` so a mapping can tell a merge from the string key '<<'.
_MERGE = object()


def _is_marker(s: str) -> bool:
    """True for a ``---`` or ``...`` document marker (the caller checks it is at column 0)."""
    return s[:3] in ("---", "...") and (len(s) == 3 or s[3] in " \t")


def _is_dash(s: str) -> bool:
    return s[0] == "-" and (len(s) == 1 or s[1] in " \t")


# --- the loader ------------------------------------------------------------------------------

class _Parser:
    """A line-oriented recursive-descent reader of one YAML stream.

    ``lines`` holds the raw text lines, ``st`` each line without its leading spaces and
    ``ind`` its indentation; a ``- `` entry is consumed by rewriting ``st``/``ind`` of its
    line to the entry's content, so compact forms need no special cases.
    """

    def __init__(self, text: str, source_name: str):
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        if text.startswith("\ufeff"):
            text = text[1:]
        self.src = source_name
        self.lines = lines = text.split("\n")
        self.n = len(lines)
        self.st = st = [line.lstrip(" ") for line in lines]
        self.ind = [len(a) - len(b) for a, b in zip(lines, st)]
        if "\t" in text:
            for k, s in enumerate(st):
                if s[:1] == "\t" and not s.strip():
                    st[k] = ""
        self.i = 0
        self.anchors: dict = {}
        self.handles = {"!!": _CORE_TAG, "!": "!"}

    def error(self, message: str, i: int, col: int) -> YamlError:
        return YamlError(message, min(i, self.n - 1) + 1, col + 1, self.src)

    def skip(self, i: int) -> int:
        """The index of the first line at or after ``i`` that is not blank or a comment."""
        st, n = self.st, self.n
        while i < n:
            s = st[i]
            if s and s[0] != "#":
                return i
            i += 1
        return i

    # -- documents --

    def documents(self) -> list:
        docs, i = [], 0
        while True:
            i, explicit = self.document_start(self.skip(i))
            if i >= self.n:
                if explicit:
                    docs.append(None)
                return docs
            self.i = i
            docs.append(self.block_node(-1))
            i = self.skip(self.i)
            if i < self.n:
                s = self.st[i]
                if self.ind[i] or not _is_marker(s):
                    raise self.error("unexpected content after the document's root node ended "
                                     "(check this line's indentation, or start a new document "
                                     "with '---')", i, self.ind[i])
                if s.startswith("..."):
                    i += 1

    def document_start(self, i: int) -> tuple[int, bool]:
        """Skip directives and a ``---``: (first content line, whether ``---`` was seen)."""
        lines, directive = self.lines, None
        while i < self.n and lines[i].startswith("%"):
            directive = i
            self.directive(lines[i], i)
            i = self.skip(i + 1)
        while i < self.n and lines[i].startswith("...") and _is_marker(lines[i]):
            i = self.skip(i + 1)
        if i < self.n and lines[i].startswith("---") and _is_marker(lines[i]):
            rest = lines[i][3:].lstrip(" \t")
            self.st[i] = rest if rest[:1] != "#" else ""
            self.ind[i] = len(lines[i]) - len(rest)
            return (i if self.st[i] else self.skip(i + 1)), True
        if directive is not None:
            raise self.error("a directive must be followed by a '---' line", directive, 0)
        return i, False

    def directive(self, line: str, i: int) -> None:
        parts = line.split("#")[0].split()
        if parts[0] == "%YAML" and (len(parts) != 2 or not parts[1].startswith("1.")):
            raise self.error(f"unsupported YAML version {' '.join(parts[1:])!r} (only 1.x "
                             f"is understood)", i, 0)
        if parts[0] == "%TAG":
            if len(parts) != 3:
                raise self.error("a %TAG directive needs a handle and a prefix, "
                                 "e.g. '%TAG !e! tag:example.com,2024:'", i, 0)
            self.handles[parts[1]] = parts[2]

    # -- block structure --

    def block_node(self, parent: int, seq_ok: bool = False):
        """The node on the lines from ``self.i`` indented deeper than ``parent`` (or None)."""
        i = self.i = self.skip(self.i)
        if i >= self.n:
            return None
        d, s = self.ind[i], self.st[i]
        if d <= parent:
            if seq_ok and d == parent and _is_dash(s):
                return self.block_seq(d)
            return None
        if d == 0 and _is_marker(s):
            return None
        return self.node_at(i, d, parent, seq_ok)

    def node_at(self, i: int, d: int, parent: int, seq_ok: bool = False):
        s = self.st[i]
        if _is_dash(s):
            return self.block_seq(d)
        if s[0] == "\t":
            raise self.bad_line(i, d)
        if (s[0] == "?" and (len(s) == 1 or s[1] in " \t")) or _MAP_KEY.match(self.lines[i], d):
            return self.block_map(d)
        return self.inline(i, d, parent, seq_ok)

    def bad_line(self, i: int, expected: int) -> YamlError:
        s, d = self.st[i], self.ind[i]
        if s[:1] == "\t":
            return self.error("found a tab character where indentation is expected "
                              "(YAML indents with spaces only; replace the tab)", i, d)
        return self.error(f"bad indentation: this line is indented by {d} spaces but the "
                          f"enclosing block expects {expected} (align it with its siblings)",
                          i, d)

    def entry(self, i: int, parent: int, seq_ok: bool = False):
        """The node after the indicator (``-``, ``?`` or ``:``) that starts line ``i``."""
        rest = self.st[i][1:].lstrip(" \t")
        if not rest or rest[0] == "#":
            self.i = i + 1
            return self.block_node(parent, seq_ok)
        col = len(self.lines[i]) - len(rest)
        self.st[i], self.ind[i] = rest, col
        self.i = i
        return self.node_at(i, col, parent)

    def block_seq(self, ind: int) -> list:
        st, idt, n = self.st, self.ind, self.n
        out, i = [], self.i
        while True:
            out.append(self.entry(i, ind))
            i = self.skip(self.i)
            if i >= n or idt[i] < ind:
                break
            if idt[i] > ind:
                raise self.bad_line(i, ind)
            if not _is_dash(st[i]):
                break
        self.i = i
        return out

    def block_map(self, ind: int) -> dict:
        # One loop on purpose: it runs once per mapping line, and the fast path (one regex
        # match gives key and value) is where most of the loading time goes.
        lines, st, idt, n = self.lines, self.st, self.ind, self.n
        fast = _MAP_FAST.match
        out: dict = {}
        start = i = self.i
        while True:
            at = i
            m = fast(lines[i], ind)
            if m is not None:
                kp, ks, kd, vp, vs, vd = m.groups()
                if kp is not None:
                    key = _resolve(kp)
                elif ks is not None:
                    key = ks.replace("''", "'") if "''" in ks else ks
                else:
                    key = self.unescape(kd, i, m.start("kd")) if "\\" in kd else kd
                i += 1
                if vp is not None:
                    if i < n and ((idt[i] > ind and st[i][:1] != "#") or not st[i]):
                        vp = self.plain(at, m.start("vp"), ind)
                        i = self.i
                    value = _resolve(vp)
                elif vs is not None:
                    value = vs.replace("''", "'") if "''" in vs else vs
                elif vd is not None:
                    value = self.unescape(vd, at, m.start("vd")) if "\\" in vd else vd
                else:
                    self.i = i
                    value = self.block_node(ind, True)
                    i = self.i
            else:
                if ind == 0 and _is_marker(st[i]):
                    break
                key, value = self.map_entry(i, ind)
                i = self.i
            if key in out:
                raise self.duplicate(key, start, ind, at)
            out[key] = value
            i = self.skip(i)
            if i >= n or idt[i] < ind:
                break
            if idt[i] > ind:
                raise self.bad_line(i, ind)
        self.i = i
        return self.merged(out) if _MERGE in out else out

    def map_entry(self, i: int, ind: int):
        """One mapping entry the fast pattern did not take; returns (key, value)."""
        line, s = self.lines[i], self.st[i]
        if s[0] == "?" and (len(s) == 1 or s[1] in " \t"):
            return self.complex_entry(i, ind)
        m = _MAP_KEY.match(line, ind)
        if m is None:
            if s[0] == "\t":
                raise self.bad_line(i, ind)
            if _is_dash(s):
                raise self.error("expected a 'key: value' entry but found a sequence entry "
                                 "'- ' (indent the list under its key)", i, ind)
            raise self.error("expected a 'key: value' entry but found no ': ' on this line "
                             "(add ': ' after the key, or indent the line to continue the "
                             "value above)", i, ind)
        raw, quoted = self.key_raw(m.group("key"), i, m.start("key"))
        key = raw if quoted else (_MERGE if raw == "<<" else _resolve(raw))
        if m.group("props"):
            key = self.key_props(raw, quoted, i, ind)
        p = m.end()
        if p >= len(line) or line[p] == "#":
            self.i = i + 1
            value = self.block_node(ind, True)
        else:
            value = self.inline(i, p, ind, True)
        return key, self.merge_sources(value, i) if key is _MERGE else value

    def complex_entry(self, i: int, ind: int):
        """A ``? key`` entry, with its ``: value`` on a later line at the same indent."""
        key = self.entry(i, ind)
        try:
            hash(key)
        except TypeError:
            raise self.error("found an unhashable key (a list or mapping used as a mapping "
                             "key); use a scalar key", i, ind) from None
        j = self.skip(self.i)
        s = self.st[j] if j < self.n else ""
        if j < self.n and self.ind[j] == ind and s[0] == ":" and (len(s) == 1 or s[1] in " \t"):
            return key, self.entry(j, ind, True)
        self.i = j
        return key, None

    def key_raw(self, raw: str, i: int, col: int) -> tuple[str, bool]:
        """A key's text and whether it was quoted."""
        c = raw[0]
        if c == "'":
            return raw[1:-1].replace("''", "'"), True
        if c == '"':
            return self.unescape(raw[1:-1], i, col + 1), True
        return raw.rstrip(" \t"), False

    def key_props(self, raw: str, quoted: bool, i: int, col: int):
        """A key written with an anchor and/or tag before it, starting at column ``col``."""
        anchor, tag, at, _ = self.properties(self.lines[i], col, i)
        key = self.tagged(tag, raw, not quoted, i, at) if tag is not None else (
            raw if quoted else _resolve(raw))
        if anchor is not None:
            self.anchors[anchor] = key
        return key

    def properties(self, line: str, p: int, i: int, anchor=None, tag=None, at=None):
        """The anchor and tag written at ``line[p]``: (anchor, tag, tag column, column after)."""
        while p < len(line) and line[p] in "&!":
            m = _PROP.match(line, p)
            if line[p] == "&":
                if not m.group("anchor"):
                    raise self.error("an anchor '&' needs a name (e.g. '&base')", i, p)
                if anchor is not None:
                    raise self.error("a node can have only one anchor", i, p)
                anchor = m.group("anchor")
            else:
                if tag is not None:
                    raise self.error("a node can have only one tag", i, p)
                tag, at = self.tag_name(m.group("tag"), i, p), p
            p = m.end()
        return anchor, tag, at, p

    def duplicate(self, key, start: int, ind: int, at: int) -> YamlError:
        found = []
        for k in range(start, at + 1):
            if self.ind[k] == ind and self.st[k][:1] not in ("", "#"):
                m = _MAP_KEY.match(self.lines[k], ind)
                if m is not None:
                    raw, quoted = self.key_raw(m.group("key"), k, ind)
                    if (raw if quoted else _MERGE if raw == "<<" else _resolve(raw)) == key:
                        found.append(k)
        first = found[0] + 1 if found else start + 1
        shown = _key_name(key)
        return self.error(f'duplicate key "{shown}" (first defined at line {first}); remove '
                          f"or rename one of them", at, ind)

    def merge_sources(self, value, i: int) -> list:
        sources = value if isinstance(value, list) else [value]
        if not sources or not all(isinstance(v, dict) for v in sources):
            raise self.error("the merge key '<<' takes a mapping, an alias of one or a list of "
                             "them (e.g. '<<: [*base, *extra]')", i, 0)
        return sources

    @staticmethod
    def merged(out: dict) -> dict:
        """Apply the merge sources kept under ``_MERGE``: the first source listed wins, and
        keys written in the mapping itself win over all."""
        result: dict = {}
        for source in reversed(out.pop(_MERGE)):
            result.update(source)
        result.update(out)
        return result

    # -- values on one line (plus what they continue onto) --

    def inline(self, i: int, p: int, parent: int, seq_ok: bool = False):
        """The node starting at column ``p`` of line ``i``; leaves ``self.i`` after it."""
        line = self.lines[i]
        anchor = tag = at = None
        if line[p] in "&!":
            anchor, tag, at, p = self.properties(line, p, i)
            if p >= len(line) or line[p] == "#":
                self.i = i + 1
                value = self.block_node(parent, seq_ok)
                return self.finish(value, anchor, tag, value is None, i, at)
        c, plain = line[p], False
        if c == "*":
            value, q = self.alias(i, p)
            self.trailer(i, q, "alias")
            self.i = i + 1
        elif c == '"' or c == "'":
            value, j, q = self.quoted(i, p)
            self.trailer(j, q, "quoted string")
            self.i = j + 1
        elif c == "[" or c == "{":
            value, j, q = self.flow(i, p)
            self.trailer(j, q, "flow collection")
            self.i = j + 1
        elif c == "|" or c == ">":
            value = self.block_scalar(i, p, parent)
        else:
            if c in "-?:,]}%@`" and (c in ",]}%@`" or p + 1 == len(line) or line[p + 1] in " \t"):
                raise self.indicator_error(c, i, p)
            value = self.plain(i, p, parent)
            plain = True
        if anchor is None and tag is None:
            return _resolve(value) if plain else value
        return self.finish(value, anchor, tag, plain, i, at)

    def indicator_error(self, c: str, i: int, p: int) -> YamlError:
        if c == "-":
            return self.error("a sequence entry '- ' cannot start on the same line as its key "
                              "(move the list to the next line, indented)", i, p)
        if c in "?:":
            return self.error(f"unexpected '{c} ' here (a complex key or value indicator must "
                              f"start its own line)", i, p)
        return self.error(f"a plain value cannot start with {c!r} (quote the value)", i, p)

    def finish(self, value, anchor, tag, plain: bool, i: int, col: int):
        if tag is not None:
            value = self.tagged(tag, "" if value is None else value, plain, i, col)
        elif plain and isinstance(value, str):
            value = _resolve(value)
        if anchor is not None:
            self.anchors[anchor] = value
        return value

    def alias(self, i: int, p: int):
        """The node an alias at ``lines[i][p]`` refers to, and the column after the alias."""
        m = _ALIAS.match(self.lines[i], p)
        name = m.group(1) if m else ""
        if name not in self.anchors:
            raise self.error(f'undefined alias "*{name}" (define the anchor "&{name}" on an '
                             f"earlier node before using it)", i, p)
        return self.anchors[name], m.end()

    def trailer(self, i: int, p: int, what: str) -> None:
        if _TRAILER.match(self.lines[i], p) is None:
            raise self.error(f"unexpected text after the {what} (put a comment after ' #', or "
                             f"quote the whole value)", i, p)

    def plain(self, i: int, p: int, parent: int) -> str:
        """The text of a plain scalar at column ``p`` of line ``i`` and of the lines continuing it
        (indented deeper than ``parent``), folded; leaves ``self.i`` after the last one."""
        st, idt, n = self.st, self.ind, self.n
        text, ended = self.plain_line(self.lines[i], p, i)
        parts, blank, j, last = [text], 0, i + 1, i + 1
        while j < n and not ended:
            s = st[j]
            if not s:
                blank += 1
                j += 1
                continue
            if idt[j] <= parent or s[0] == "#" or (idt[j] == 0 and _is_marker(s)):
                break
            more, ended = self.plain_line(self.lines[j], len(self.lines[j]) - len(s.lstrip(" \t")),
                                          j, continuation=True)
            parts.append("\n" * blank if blank else " ")
            parts.append(more)
            blank, j, last = 0, j + 1, j + 1
        self.i = last
        return text if len(parts) == 1 else "".join(parts)

    def plain_line(self, line: str, p: int, i: int, continuation: bool = False) -> tuple[str, bool]:
        """The plain text from column ``p`` to a comment or the line end, and whether a comment
        ended it; a ': ' inside is an error."""
        end, k = len(line), line.find("#", p)
        while k != -1:
            if k == p or line[k - 1] in " \t":
                end = k
                break
            k = line.find("#", k + 1)
        text = line[p:end].rstrip(" \t")
        k = text.find(":")
        while k != -1:
            if k + 1 == len(text) or text[k + 1] in " \t":
                if continuation:
                    raise self.error("bad indentation: this 'key: value' line is indented deeper "
                                     "than the entry above, so it would continue that entry's "
                                     "plain value (align it with its siblings, or quote the "
                                     "value)", i, p)
                raise self.error("a plain value cannot contain ': ' or end with ':' (quote the "
                                 "value, or start a nested mapping on its own line)", i, p + k)
            k = text.find(":", k + 1)
        return text, end < len(line)

    # -- quoted scalars --

    def quoted(self, i: int, p: int):
        """A quoted scalar opening at ``lines[i][p]``; returns (text, last line, column after)."""
        line = self.lines[i]
        double = line[p] == '"'
        body = _DQ_BODY if double else _SQ_BODY
        e = body.match(line, p + 1).end()
        if e < len(line) and line[e] != "\\":
            raw = line[p + 1:e]
            if double:
                return (self.unescape(raw, i, p + 1) if "\\" in raw else raw), i, e + 1
            return raw.replace("''", "'"), i, e + 1
        segments, j = [line[p + 1:]], i + 1
        while True:
            if j >= self.n or (self.lines[j][:3] in ("---", "...") and _is_marker(self.lines[j])):
                kind = "double" if double else "single"
                closer = '"' if double else "'"
                raise self.error(f"unterminated {kind}-quoted string (add the closing "
                                 f"{closer!r})", i, p)
            text = self.lines[j]
            e = body.match(text).end()
            if e < len(text) and text[e] != "\\":
                segments.append(text[:e])
                return self.fold_quoted(segments, double, i, p), j, e + 1
            segments.append(text)
            j += 1

    def fold_quoted(self, segments: list[str], double: bool, i: int, p: int) -> str:
        out, blank, escaped = [], 0, False
        last = len(segments) - 1
        for k, seg in enumerate(segments):
            if k:
                seg = seg.lstrip(" \t")
                if k < last and not seg.strip(" \t"):
                    blank += 1
                    continue
                out.append("\n" * blank if (blank or escaped) else " ")
                blank = 0
            escaped = False
            if k < last:
                trimmed = seg.rstrip(" \t")
                tail = len(trimmed) - len(trimmed.rstrip("\\"))
                if double and tail % 2:
                    if len(trimmed) == len(seg):
                        seg, escaped = seg[:-1], True
                    else:
                        seg = seg[:len(trimmed) + 1]
                else:
                    seg = trimmed
            if double:
                seg = self.unescape(seg, i, p) if "\\" in seg else seg
            else:
                seg = seg.replace("''", "'")
            out.append(seg)
        return "".join(out)

    def unescape(self, raw: str, i: int, col: int) -> str:
        def one(m):
            x, u, big, simple = m.groups()
            code = x or u or big
            if code:
                if int(code, 16) > 0x10FFFF:
                    raise self.error(f"escape '\\U{code}' is beyond the last Unicode code "
                                     f"point U+10FFFF", i, col + m.start())
                return chr(int(code, 16))
            if simple in _ESCAPES:
                return _ESCAPES[simple]
            raise self.error(f"unknown escape '\\{simple}' in a double-quoted string (write "
                             f"'\\\\' for a backslash)", i, col + m.start())
        return _ESCAPE.sub(one, raw)

    # -- block scalars --

    def block_scalar(self, i: int, p: int, parent: int) -> str:
        lines, n = self.lines, self.n
        m = _BLOCK_HEADER.match(lines[i], p)
        if m is None:
            raise self.error("invalid block scalar header (write '|' or '>', optionally "
                             "followed by '-'/'+' and an indentation digit 1-9)", i, p)
        digit = m.group(1) or m.group(4)
        chomp = m.group(2) or m.group(3) or ""
        least = max(parent + 1, 1)
        if digit:
            indent = least + int(digit) - 1
        else:
            j, widest = i + 1, 0
            while j < n and not lines[j].strip(" "):
                widest = max(widest, len(lines[j]))
                j += 1
            first = self.ind[j] if j < n else 0
            indent = max(least, widest, first)
        chunks = self.block_lines(i + 1, indent, lines[i][p] == ">")
        return self.chomp(chunks, chomp)

    def block_lines(self, j: int, indent: int, folded: bool) -> list:
        """Content from line ``j``: [text pieces, trailing break count, last line had a break]."""
        lines, n = self.lines, self.n
        chunks, breaks, prev, spaced = [], 0, None, False
        while j < n:
            line = lines[j]
            width = len(line)
            spaces = width - len(line.lstrip(" "))
            if spaces >= indent and width > indent:
                text = line[indent:]
                if prev is None:
                    chunks.append("\n" * breaks)
                elif folded and not spaced and text[0] not in " \t":
                    chunks.append("\n" * breaks if breaks else " ")
                else:
                    chunks.append("\n" * (breaks + 1))
                chunks.append(text)
                prev, spaced, breaks = j, text[0] in " \t", 0
            elif spaces == width:
                breaks += j < n - 1
            else:
                break
            j += 1
        self.i = j
        return [chunks, breaks, prev is not None and prev < n - 1]

    @staticmethod
    def chomp(parts: list, chomp: str) -> str:
        chunks, breaks, has_break = parts
        text = "".join(chunks) if chunks else ""
        if not chunks:
            return "\n" * breaks if chomp == "+" else ""
        if chomp == "-":
            return text
        if chomp == "+":
            return text + "\n" * (has_break + breaks)
        return text + "\n" if has_break else text

    # -- flow collections --

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

    # -- tags --

    def tag_name(self, raw: str, i: int, p: int) -> str:
        if raw.startswith("<"):
            return raw[1:-1]
        if raw == "":
            return "!"
        k = raw.find("!", 0)
        handle = "!" + raw[:k + 1] if k != -1 else "!"
        suffix = raw[k + 1:] if k != -1 else raw
        if handle not in self.handles:
            raise self.error(f"undefined tag handle {handle!r} (declare it with a %TAG "
                             f"directive)", i, p)
        return self.handles[handle] + suffix

    def tagged(self, tag: str, value, plain: bool, i: int, col: int):
        """Apply an explicit tag to a node's value (the raw text for scalars)."""
        if tag == "!":
            return value
        name = tag[len(_CORE_TAG):] if tag.startswith(_CORE_TAG) else None
        if name in ("map", "seq"):
            want = dict if name == "map" else list
            if isinstance(value, want):
                return value
            if value == "":
                return want()
            what = "mapping" if name == "map" else "sequence"
            raise self.error(f"the tag !!{name} needs a {what} but the node is a "
                             f"{type(value).__name__}", i, col)
        if name not in _CONSTRUCTORS:
            raise self.error(f"unsupported tag {'!!' + name if name else tag} (miniyaml knows "
                             f"only the core tags !!str !!int !!float !!bool !!null !!map !!seq "
                             f"!!binary; remove the tag)", i, col)
        if not isinstance(value, str):
            raise self.error(f"the tag !!{name} applies to scalars, not to a "
                             f"{type(value).__name__}", i, col)
        converted = _construct(name, value)
        if converted is _MISSING:
            raise self.error(f"cannot read {value!r} as !!{name}", i, col)
        return converted


def _key_name(key) -> str:
    """A key as an error message shows it."""
    if key is _MERGE:
        return "<<"
    return key if isinstance(key, str) else _scalar_text(key)


_BOOL_TEXT = {"true": True, "True": True, "TRUE": True, "false": False, "False": False,
              "FALSE": False}
_INT_TEXT = re.compile(r"[-+]?(?:[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)\Z")


def _construct(name, text: str):
    """A scalar's value under an explicit core tag, or _MISSING if the text does not fit."""
    if name == "str":
        return text
    if name == "null":
        return None if text in ("", "~", "null", "Null", "NULL") else _MISSING
    if name == "bool":
        return _BOOL_TEXT.get(text, _MISSING)
    if name == "int":
        if not _INT_TEXT.match(text):
            return _MISSING
        value = _resolve(text.lstrip("+-"))
        sign = -1 if text[0] == "-" else 1
        return sign * value if isinstance(value, int) else _MISSING
    if name == "float":
        value = _resolve(text) if text else _MISSING
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return _MISSING
        return float(value)
    try:  # binary, the last of _CONSTRUCTORS
        return base64.b64decode("".join(text.split()), validate=True)
    except ValueError:
        return _MISSING


_CONSTRUCTORS = ("str", "null", "bool", "int", "float", "binary")


# --- public loading API ----------------------------------------------------------------------

def load_all(text: str, source_name: str = "<yaml>") -> list:
    """Every document of a YAML stream, in order (an empty stream gives ``[]``)."""
    parser = _Parser(text, source_name)
    try:
        return parser.documents()
    except RecursionError:
        line = min(max(parser.i, getattr(parser, "fi", 0)), parser.n - 1)
        raise parser.error("the document nests collections too deeply for this loader "
                           "(flatten the structure)", line, 0) from None


def load(text: str, source_name: str = "<yaml>"):
    """The one document in ``text`` as dict/list/str/int/float/bool/None (None if empty).

    >>> load("a: [1, 2.5, ~, true]")
    {'a': [1, 2.5, None, True]}
    """
    docs = load_all(text, source_name)
    if len(docs) > 1:
        raise YamlError(f"expected a single document but found {len(docs)} (use load_all for "
                        f"a multi-document stream)", 1, 1, source_name)
    return docs[0] if docs else None


def load_file(path):
    """Load the YAML file at ``path`` (UTF-8, with or without a byte-order mark)."""
    with open(path, encoding="utf-8-sig") as handle:
        text = handle.read()
    return load(text, str(path))


# --- dumping ---------------------------------------------------------------------------------

_NOT_PLAIN = r"\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff"
_SAFE_PLAIN = re.compile(
    rf"""[^\s\-?:,\[\]{{}}#&*!|>'"%@`<{_NOT_PLAIN}]"""
    rf"""(?:[^{_NOT_PLAIN}:#\s]|:(?=\S)|(?<! )\#| (?=[^ #]))*\Z""")
# Plain scalars a YAML 1.1 reader (PyYAML) would not read as strings; quoted so both agree.
_YAML11_SPECIAL = re.compile(r"""(?:
      y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF|=|<<
    | [-+]?0b[0-1_]+ | [-+]?0[0-7_]+ | [-+]?(?:0|[1-9][0-9_]*) | [-+]?0x[0-9a-fA-F_]+
    | [-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+
    | [-+]?(?:[0-9][0-9_]*)?\.[0-9_]*(?:[eE][-+]?[0-9]+)? | [-+]?[0-9][0-9_]*(?:[eE][-+]?[0-9]+)
    | [-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
    | [0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?.*
    )\Z""", re.X)
_PRINTABLE = re.compile(r"[^\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff]*\Z")
_DQ_ESCAPES = {"\0": "\\0", "\a": "\\a", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\v": "\\v",
               "\f": "\\f", "\r": "\\r", "\x1b": "\\e", '"': '\\"', "\\": "\\\\",
               "\x85": "\\N", "\xa0": "\\_", "\u2028": "\\L", "\u2029": "\\P"}
_DQ_NEEDS = re.compile(r'[\x00-\x1f\x7f-\x9f"\\\u2028\u2029\ufeff\ud800-\udfff]')


def dump(data, indent: int = 2) -> str:
    """Block-style YAML text that ``load`` reads back to exactly ``data``.

    >>> print(dump({"id": 7, "tags": ["a", "yes"], "note": ""}), end="")
    id: 7
    tags:
      - a
      - 'yes'
    note: ''
    """
    if not isinstance(indent, int) or not 1 <= indent <= 9:
        raise ValueError(f"indent must be an int from 1 to 9, got {indent!r}")
    out: list[str] = []
    try:
        _emit(data, "", out, indent, set(), root=True)
    except RecursionError:
        raise ValueError("cannot dump: the data nests too deeply") from None
    return "\n".join(out) + "\n"


def _emit(value, pad: str, out: list, indent: int, seen: set, root: bool = False) -> None:
    """Append the lines of ``value`` written as a block node at indentation ``pad``."""
    if isinstance(value, dict) and value:
        _enter(value, seen)
        for key, item in value.items():
            head = pad + _key_text(key) + ":"
            _emit_child(head, item, pad + " " * indent, out, indent, seen)
        seen.discard(id(value))
    elif isinstance(value, (list, tuple)) and value:
        _enter(value, seen)
        dash = "-" + " " * max(indent - 1, 1)
        for item in value:
            _emit_item(pad + dash, item, pad + " " * len(dash), out, indent, seen)
        seen.discard(id(value))
    else:
        text = _scalar_text(value, root)
        if isinstance(text, list):
            out.append(pad + text[0])
            out.extend(pad + " " * indent + line if line else "" for line in text[1:])
        else:
            out.append(pad + text)


def _enter(value, seen: set) -> None:
    if id(value) in seen:
        raise ValueError("cannot dump a recursive structure (a container includes itself)")
    seen.add(id(value))


def _emit_child(head: str, item, pad: str, out: list, indent: int, seen: set) -> None:
    if isinstance(item, (dict, list, tuple)) and item:
        out.append(head)
        _emit(item, pad, out, indent, seen)
        return
    text = _scalar_text(item)
    if isinstance(text, list):
        out.append(head + " " + text[0])
        out.extend(pad + line if line else "" for line in text[1:])
    else:
        out.append(head + " " + text)


def _emit_item(head: str, item, pad: str, out: list, indent: int, seen: set) -> None:
    if isinstance(item, (dict, list, tuple)) and item:
        start = len(out)
        _emit(item, pad, out, indent, seen)
        out[start] = head + out[start][len(pad):]
        return
    _emit_child(head.rstrip(" "), item, pad, out, indent, seen)


def _key_text(key) -> str:
    if isinstance(key, str):
        return _str_text(key, allow_block=False)
    if key is None or isinstance(key, (bool, int, float)):
        return _scalar_text(key)
    raise TypeError(f"cannot dump a {type(key).__name__} as a mapping key (use str, int, "
                    f"float, bool or None)")


def _scalar_text(value, root: bool = False):
    """A scalar as YAML text, or a list of lines for a literal block (header first)."""
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return _float_text(value)
    if isinstance(value, str):
        return _str_text(value, allow_block=True, root=root)
    if isinstance(value, (bytes, bytearray)):
        return "!!binary " + base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, (list, tuple)):
        return "[]"
    raise TypeError(f"cannot dump a {type(value).__name__} (miniyaml writes dict, list, str, "
                    f"int, float, bool, None and bytes)")


def _float_text(value: float) -> str:
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    return repr(value)


def _str_text(s: str, allow_block: bool, root: bool = False):
    if _SAFE_PLAIN.match(s) and _resolve(s) is s and not _YAML11_SPECIAL.match(s) and not (
            root and _is_marker(s[:3] + " ")):
        return s
    if allow_block and "\n" in s.rstrip("\n") and _block_safe(s):
        return _literal_block(s)
    if _PRINTABLE.match(s) and "\n" not in s and "\t" not in s:
        return "'" + s.replace("'", "''") + "'"
    return '"' + _DQ_NEEDS.sub(_dq_escape, s) + '"'


def _dq_escape(m) -> str:
    c = m.group()
    if c in _DQ_ESCAPES:
        return _DQ_ESCAPES[c]
    code = ord(c)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _block_safe(s: str) -> bool:
    return s[0] not in " \t\n" and _PRINTABLE.match(s) is not None and "\r" not in s and (
        "\x85" not in s)


def _literal_block(s: str) -> list[str]:
    body = s.rstrip("\n")
    trailing = len(s) - len(body)
    header = "|-" if trailing == 0 else "|" if trailing == 1 else "|+"
    lines = body.split("\n")
    if trailing > 1:
        lines += [""] * (trailing - 1)
    return [header] + lines
