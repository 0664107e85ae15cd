"""Scalars for the YAML loader: core-schema resolution, escapes, plain/quoted/block scalars, tags.

Part of :mod:`pymock.miniyaml`, its public face. :func:`_resolve` gives a plain scalar's value
under the YAML 1.2 core schema. :class:`_ScalarReader` holds a stream's lines and reads what
block and flow collections both contain: plain, quoted and block scalars, anchors, aliases,
merge keys and tags.

>>> [_resolve(t) for t in ("yes", "0o17", "1e3", "~", "0x1F", "1_000")]
['yes', 15, 1000.0, None, 31, '1_000']

Names with a leading underscore are shared between the ``miniyaml*`` modules only. Pure
(layer 0): imports only ``re``, ``math``, ``base64`` and ``.errors``; never the other
``miniyaml*`` modules, sockets, threads or files.
"""

from __future__ import annotations

import base64
import math
import re

from .errors import YamlError

__all__ = ["_ScalarReader", "_MERGE", "_is_marker", "_resolve"]


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


# --- the patterns the scalar readers are built on --------------------------------------------

_PROP = re.compile(r"(?:&(?P<anchor>[^\s,\[\]{}]*)|!(?P<tag><[^>]*>|[^\s,\[\]{}]*))[ \t]*")
_ALIAS = re.compile(r"\*([^\s,\[\]{}]+)")
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


# --- the scalar readers ----------------------------------------------------------------------

class _ScalarReader:
    """The lines of one YAML stream, and the readers of its scalars, node properties and tags.

    ``lines`` holds the raw text lines, ``st`` each line without its leading spaces and
    ``ind`` its indentation; a ``- `` entry is consumed by rewriting ``st``/``ind`` of its
    line to the entry's content, so compact forms need no special cases. The flow reader
    (``miniyaml_flow``) and the block parser (``miniyaml``) build on this class.
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

    # -- node properties: anchors, tags, aliases and merge keys --

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

    # -- plain scalars --

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


# --- explicit core tags ----------------------------------------------------------------------

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
