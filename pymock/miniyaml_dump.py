"""Dump data as block-style YAML that :func:`pymock.miniyaml.load` reads back unchanged.

Part of :mod:`pymock.miniyaml`, its public face, which re-exports :func:`dump`. Strings that
the YAML 1.2 core schema or a YAML 1.1 reader (PyYAML) would read as something else are
quoted; multi-line strings become literal blocks; recursive structures are refused.

>>> print(dump({"id": 7, "ok": "yes", "text": "a\\nb\\n"}), end="")
id: 7
ok: 'yes'
text: |
  a
  b

Names with a leading underscore are shared between the ``miniyaml*`` modules only. Pure
(layer 0): imports only ``re``, ``math``, ``base64`` and ``miniyaml_scalars``; never the loader
(``miniyaml``, ``miniyaml_flow``), sockets, threads or files.
"""

from __future__ import annotations

import base64
import math
import re

from .miniyaml_scalars import _MERGE, _is_marker, _resolve

__all__ = ["dump", "_key_name"]


def _key_name(key) -> str:
    """A key as an error message shows it."""
    if key is _MERGE:
        return "<<"
    return key if isinstance(key, str) else _scalar_text(key)


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
