"""Load and dump the YAML that OpenAPI documents and configs are written in.

Supports block mappings and sequences (compact ``- key: v`` forms, sequences at the same
indent as their key), flow collections, plain, single- and double-quoted scalars (all escapes,
line folding), literal ``|`` and folded ``>`` blocks with chomping and indentation indicators,
comments, document markers and directives, anchors, aliases and merge keys (``<<``), the core
tags (``!!str`` ``!!int`` ``!!float`` ``!!bool`` ``!!null`` ``!!map`` ``!!seq`` ``!!binary``),
``? `` complex keys, duplicate-key errors and multi-document streams.

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

The loader is split by what it reads: this module holds the public API and the block structure
(documents, block mappings and sequences, values on one line); ``miniyaml_flow`` reads flow
collections, ``miniyaml_scalars`` scalars, anchors and tags, and ``miniyaml_dump`` writes YAML.
Pure (layer 0): imports only ``re``, ``pymock.errors`` and those modules, never PyYAML or any
other third-party package, sockets or threads; it reads a file only in ``load_file(path)``.
"""

from __future__ import annotations

import re

from .errors import YamlError
from .miniyaml_dump import _key_name, dump
from .miniyaml_flow import _FlowReader
from .miniyaml_scalars import _MERGE, _is_marker, _resolve

__all__ = ["load", "load_all", "load_file", "dump", "YamlError"]


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
_TRAILER = re.compile(r"[ \t]*(?:#.*)?\Z")


def _is_dash(s: str) -> bool:
    return s[0] == "-" and (len(s) == 1 or s[1] in " \t")


# --- the loader ------------------------------------------------------------------------------

class _Parser(_FlowReader):
    """A line-oriented recursive-descent reader of one YAML stream: its documents, block
    mappings and sequences, and the values written on one line. The base classes read flow
    collections, scalars, anchors, aliases and tags."""

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

    def trailer(self, i: int, p: int, what: str) -> None:
        if _TRAILER.match(self.lines[i], p) is None:
            raise self.error(f"unexpected text after the {what} (put a comment after ' #', or "
                             f"quote the whole value)", i, p)


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
