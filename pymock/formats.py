"""String/number ``format`` checkers and ECMA-262 regex translation for :mod:`pymock.schema`.

Layer 0 (pure): imports only the standard library (``re``, ``ipaddress``, ``unicodedata``,
``calendar``, ``functools``) and nothing from pymock; no I/O. Every checker is a predicate that
answers ``True`` for values it does not apply to (a ``date`` check ignores integers), so the
schema compiler can call it blindly.

>>> check = format_checker("date")
>>> check("2024-02-29"), check("2023-02-29"), check(42)
(True, False, True)
>>> bool(ecma_regex(r"^\\d+$").search("123")), bool(ecma_regex(r"^\\d+$").search("١٢٣"))
(True, False)

``ecma_regex`` translates the usual ECMA-262 spellings to Python's :mod:`re` (ASCII ``\\d \\w``,
ECMA ``\\s``, ``$`` without the trailing-newline match, ``(?<name>)``, ``\\k<name>``, ``\\u{...}``,
``\\cX``, ``\\p{L}``-style general categories, ``[^]``). Known gaps: ``\\b``/``\\B`` and
negated classes inside sets (``[\\D]``) keep Python's Unicode meaning, ``\\p{Script=...}`` is
refused, and variable-width lookbehind fails to compile (Python cannot do it).
"""

from __future__ import annotations

import calendar
import functools
import ipaddress
import re
import unicodedata

__all__ = ["format_checker", "ecma_regex", "KNOWN_FORMATS"]

# ---------------------------------------------------------------------------- ECMA-262 regexes

_ECMA_SPACE = ("\\t\\n\\x0b\\x0c\\r \\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f"
               "\\u205f\\u3000\\ufeff")
_IN_CLASS = {"d": "0-9", "w": "a-zA-Z0-9_", "s": _ECMA_SPACE}
_OUTSIDE = {"d": "[0-9]", "D": "[^0-9]", "w": "[a-zA-Z0-9_]", "W": "[^a-zA-Z0-9_]",
            "s": f"[{_ECMA_SPACE}]", "S": f"[^{_ECMA_SPACE}]"}
_CATEGORY_NAMES = {
    "letter": "L", "cased_letter": "LC", "uppercase_letter": "Lu", "lowercase_letter": "Ll",
    "titlecase_letter": "Lt", "modifier_letter": "Lm", "other_letter": "Lo", "mark": "M",
    "nonspacing_mark": "Mn", "spacing_mark": "Mc", "enclosing_mark": "Me", "number": "N",
    "decimal_number": "Nd", "digit": "Nd", "letter_number": "Nl", "other_number": "No",
    "punctuation": "P", "punct": "P", "symbol": "S", "separator": "Z", "space_separator": "Zs",
    "other": "C", "control": "Cc", "cntrl": "Cc", "format": "Cf", "private_use": "Co",
    "unassigned": "Cn", "surrogate": "Cs", "math_symbol": "Sm", "currency_symbol": "Sc",
}
_GROUP_NAME = re.compile(r"<([A-Za-z_][A-Za-z0-9_]*)>")
_MODIFIERS = re.compile(r"[ims]*(?:-[ims]+)?:")


def _category_ranges(name: str) -> str:
    """Character-class body (``\\Uxxxxxxxx-\\Uyyyyyyyy``...) for a Unicode general category."""
    raw = name.split("=", 1)[1] if "=" in name else name
    cat = _CATEGORY_NAMES.get(raw.lower(), raw)
    if not re.fullmatch(r"[A-Z][a-z]?|LC", cat):
        raise re.error(f"unsupported Unicode property \\p{{{name}}}")
    body = _ranges(cat)
    if not body:
        raise re.error(f"unknown Unicode property \\p{{{name}}}")
    return body


@functools.lru_cache(maxsize=None)
def _ranges(cat: str) -> str:
    wanted = {"Lu", "Ll", "Lt"} if cat == "LC" else None
    parts, start = [], None
    for cp in range(0x110001):
        hit = cp <= 0x10FFFF and (unicodedata.category(chr(cp)) in wanted if wanted
                                  else unicodedata.category(chr(cp)).startswith(cat))
        if hit and start is None:
            start = cp
        elif not hit and start is not None:
            parts.append(f"\\U{start:08x}-\\U{cp - 1:08x}")
            start = None
    return "".join(parts)


def _escape(p: str, j: int, in_class: bool) -> tuple[str, int]:
    """Translate the escape whose letter is at ``p[j]``; return (python text, next index)."""
    if j >= len(p):
        raise re.error("pattern ends with a lone backslash")
    c = p[j]
    if c in _OUTSIDE:
        if in_class:
            return _IN_CLASS.get(c, "\\" + c), j + 1
        return _OUTSIDE[c], j + 1
    if c in "pP":
        m = re.match(r"\{([A-Za-z_=]+)\}", p[j + 1:])
        if not m:
            raise re.error(f"\\{c} must be followed by {{Property}}")
        body = _category_ranges(m.group(1))
        if in_class and c == "P":
            raise re.error("\\P{...} inside a character class is not supported")
        text = body if in_class else (f"[^{body}]" if c == "P" else f"[{body}]")
        return text, j + 1 + m.end()
    if c == "c" and j + 1 < len(p) and p[j + 1].isascii() and p[j + 1].isalpha():
        return f"\\x{ord(p[j + 1]) % 32:02x}", j + 2
    if c == "u":
        return _unicode_escape(p, j)
    if c == "k":
        m = _GROUP_NAME.match(p, j + 1)
        if not m:
            raise re.error("\\k must be followed by <name>")
        return f"(?P={m.group(1)})", m.end()
    if c == "0" and not p[j + 1:j + 2].isdigit():
        return "\\x00", j + 1
    if c.isascii() and c.isalpha() and c not in "bBfnrtvx":
        raise re.error(f"\\{c} is not a valid escape in ECMA-262")
    return "\\" + c, j + 1


def _unicode_escape(p: str, j: int) -> tuple[str, int]:
    m = re.match(r"u\{([0-9A-Fa-f]{1,6})\}|u([0-9A-Fa-f]{4})", p[j:])
    if not m:
        raise re.error("\\u must be followed by 4 hex digits or {hex}")
    code = int(m.group(1) or m.group(2), 16)
    end = j + m.end()
    low = re.match(r"\\u(d[c-f][0-9a-f]{2})", p[end:], re.I)
    if 0xD800 <= code <= 0xDBFF and low:  # a surrogate pair spells one astral character
        code = 0x10000 + ((code - 0xD800) << 10) + (int(low.group(1), 16) - 0xDC00)
        end += low.end()
    return f"\\U{code:08x}", end


def _group(p: str, i: int) -> tuple[str, int]:
    """Translate the ``(?`` opener at ``p[i]``; ECMA only knows these forms."""
    rest = p[i + 2:i + 4]
    if rest[:1] in (":", "=", "!") or rest in ("<=", "<!"):
        return "(?", i + 2
    named = _GROUP_NAME.match(p, i + 2)
    if named:
        return f"(?P<{named.group(1)}>", named.end()
    mods = _MODIFIERS.match(p, i + 2)
    if mods and mods.group() != ":":
        return "(?" + mods.group(), mods.end()
    raise re.error(f"'(?{p[i + 2:i + 3]}' at position {i} is not ECMA-262 group syntax")


def _translate(p: str) -> str:
    out, i, in_class = [], 0, False
    while i < len(p):
        c = p[i]
        if c == "\\":
            text, i = _escape(p, i + 1, in_class)
            out.append(text)
            continue
        if in_class:
            if c == "]":
                in_class = False
            elif c == "[" or (c in "&~|-" and p[i - 1] == c):
                c = "\\" + c  # Python would read these as (future) set operations
            out.append(c)
        elif c == "[":
            empty = re.match(r"\[\^?\]", p[i:])
            if empty:
                out.append("[\\s\\S]" if "^" in empty.group() else "(?!)")
                i += empty.end()
                continue
            in_class = True
            out.append(c)
            if p[i + 1:i + 2] == "^":
                out.append("^")
                i += 1
        elif c == "(" and p.startswith("(?", i):
            text, i = _group(p, i)
            out.append(text)
            continue
        else:
            out.append({"$": "\\Z", ".": "[^\\n\\r\\u2028\\u2029]"}.get(c, c))
        i += 1
    return "".join(out)


@functools.lru_cache(maxsize=1024)
def ecma_regex(pattern: str) -> re.Pattern:
    """Compile an ECMA-262 ``pattern`` as a Python regex; raises ``re.error`` when invalid."""
    return re.compile(_translate(pattern))


def _is_regex(value: str) -> bool:
    try:
        ecma_regex(value)
    except re.error as exc:
        # Valid ECMA-262 that Python's engine cannot run is still a valid regex.
        return "look-behind requires fixed-width" in str(exc)
    return True

# ---------------------------------------------------------------------------- dates and times


_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_TIME = re.compile(r"([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.[0-9]+)?"
                   r"(?:[Zz]|([+-])([0-9]{2}):([0-9]{2}))")
_DURATION = re.compile(
    r"P(?:(?:[0-9]+D|[0-9]+M(?:[0-9]+D)?|[0-9]+Y(?:[0-9]+M(?:[0-9]+D)?)?)(?:T(?:_T))?"
    r"|T(?:_T)|[0-9]+W)".replace("_T", r"[0-9]+H(?:[0-9]+M(?:[0-9]+S)?)?|[0-9]+M(?:[0-9]+S)?"
                                 r"|[0-9]+S"))


def _is_date(value: str) -> bool:
    m = _DATE.fullmatch(value)
    if not m:
        return False
    year, month, day = map(int, m.groups())
    return 1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1]


def _is_time(value: str) -> bool:
    m = _TIME.fullmatch(value)
    if not m:
        return False
    hour, minute, second = int(m.group(1)), int(m.group(2)), int(m.group(3))
    off_h, off_m = int(m.group(5) or 0), int(m.group(6) or 0)
    if hour > 23 or minute > 59 or second > 60 or off_h > 23 or off_m > 59:
        return False
    if second == 60:  # a leap second only happens at 23:59:60 UTC
        sign = -1 if m.group(4) == "-" else 1
        utc = (hour * 60 + minute - sign * (off_h * 60 + off_m)) % 1440
        return utc == 23 * 60 + 59
    return True


def _is_date_time(value: str) -> bool:
    date, sep, time = value[:10], value[10:11], value[11:]
    return sep in ("T", "t") and _is_date(date) and _is_time(time)

# ---------------------------------------------------------------------------- hosts and e-mail


_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_IPV4 = re.compile(r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
                   r"(?:\.(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}")
_DISALLOWED = set("\u0640\u07fa\u302e\u302f\u3031\u3032\u3033\u3034\u3035\u303b")
_PVALID_EXTRA = set("-\u00df\u03c2\u06fd\u06fe\u0f0b\u3007\u00b7\u0375\u05f3\u05f4\u30fb"
                    "\u200c\u200d")
_PVALID_CATEGORIES = {"Ll", "Lo", "Lm", "Mn", "Mc", "Nd"}
_JOINING_SCRIPTS = {"ARABIC", "SYRIAC", "NKO", "MONGOLIAN", "MANDAIC", "ADLAM", "MANICHAEAN"}
_ARABIC_INDIC = set(map(chr, range(0x660, 0x66A)))
_EXT_ARABIC_INDIC = set(map(chr, range(0x6F0, 0x6FA)))
_DOTS = re.compile("[.\u3002\uff0e\uff61]")


def _is_ipv4(value: str) -> bool:
    return _IPV4.fullmatch(value) is not None


def _is_ipv6(value: str) -> bool:
    if not value.isascii() or "%" in value or "/" in value or value != value.strip():
        return False
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return True


def _script(ch: str) -> str:
    return unicodedata.name(ch, "").split(" ")[0]


def _context_ok(label: str, i: int, ch: str) -> bool:
    """RFC 5892 CONTEXTJ/CONTEXTO rules, approximated with Unicode character names."""
    before, after = label[i - 1:i], label[i + 1:i + 2]
    if ch == "\u00b7":
        return before == "l" and after == "l"
    if ch == "\u0375":
        return bool(after) and _script(after) == "GREEK"
    if ch in "\u05f3\u05f4":
        return bool(before) and _script(before) == "HEBREW"
    if ch == "\u30fb":
        return any(_script(o) in ("HIRAGANA", "KATAKANA", "CJK") for o in label if o != ch)
    if ch in "\u200c\u200d":
        if before and unicodedata.combining(before) == 9:  # preceded by a virama
            return True
        # ZWNJ between two joining letters (the RFC's joining-type regexp, approximated by script)
        return ch == "\u200c" and bool(before and after) and \
            _script(before) in _JOINING_SCRIPTS and _script(after) in _JOINING_SCRIPTS
    return True


def _is_u_label(label: str) -> bool:
    """A basic IDNA2008 check of one Unicode label (not the full derived-property table)."""
    if not label or label != unicodedata.normalize("NFC", label) or len(label) > 63:
        return False
    if label[2:4] == "--" or label[0] == "-" or label[-1] == "-":
        return False
    if unicodedata.category(label[0]).startswith("M"):
        return False
    if set(label) & _ARABIC_INDIC and set(label) & _EXT_ARABIC_INDIC:
        return False
    for i, ch in enumerate(label):
        if ch in _DISALLOWED or not (ch in _PVALID_EXTRA or
                                     unicodedata.category(ch) in _PVALID_CATEGORIES):
            return False
        if not _context_ok(label, i, ch):
            return False
    return True


_RTL = {"R", "AL", "AN"}
_RTL_ALLOWED = {"R", "AL", "AN", "EN", "ES", "CS", "ET", "ON", "BN", "NSM"}
_LTR_ALLOWED = {"L", "EN", "ES", "CS", "ET", "ON", "BN", "NSM"}


def _bidi_ok(labels: list) -> bool:
    """RFC 5893: once any label is right-to-left, every label must follow the Bidi rule."""
    kinds = [[unicodedata.bidirectional(c) for c in label] for label in labels]
    if not any(set(k) & _RTL for k in kinds):
        return True
    for k in kinds:
        ending = [b for b in k if b != "NSM"][-1:] or ["NSM"]
        if k[0] in ("R", "AL"):
            if not set(k) <= _RTL_ALLOWED or ending[0] not in ("R", "AL", "EN", "AN") or \
                    {"EN", "AN"} <= set(k):
                return False
        elif k[0] != "L" or not set(k) <= _LTR_ALLOWED or ending[0] not in ("L", "EN"):
            return False
    return True


def _is_ascii_label(label: str) -> bool:
    if not _LABEL.fullmatch(label):
        return False
    if label[:4].lower() != "xn--":
        return True  # RFC 1123 allows "--" anywhere in a plain label
    try:
        decoded = label[4:].lower().encode("ascii").decode("punycode")
    except UnicodeError:
        return False
    # The A-label must be the canonical encoding of a valid U-label.
    return decoded.encode("punycode").decode() == label[4:].lower() and \
        _is_u_label(decoded) and _bidi_ok([decoded])


def _is_hostname(value: str) -> bool:
    if not value or len(value) > 253 or not value.isascii():
        return False
    return all(_is_ascii_label(label) for label in value.split("."))


def _is_idn_hostname(value: str) -> bool:
    if not value or len(value) > 253:
        return False
    labels = _DOTS.split(value)
    for label in labels:
        if label.isascii():
            if not _is_ascii_label(label):
                return False
        elif not _is_u_label(label) or len("xn--" + label.encode("punycode").decode()) > 63:
            return False
    return _bidi_ok([label for label in labels if label])


_ATEXT = "A-Za-z0-9!#$%&'*+/=?^_`{|}~\\-"
_LOCAL = re.compile(f'[{_ATEXT}]+(?:\\.[{_ATEXT}]+)*|"(?:[^"\\\\\\r\\n]|\\\\.)*"')
_IDN_LOCAL = re.compile(f'[{_ATEXT}\\x80-\\U0010ffff]+(?:\\.[{_ATEXT}\\x80-\\U0010ffff]+)*'
                        f'|"(?:[^"\\\\\\r\\n]|\\\\.)*"')


def _email(value: str, idn: bool) -> bool:
    local, at, domain = value.rpartition("@")
    if not at or not (_IDN_LOCAL if idn else _LOCAL).fullmatch(local):
        return False
    if len(local.encode("utf-8")) > 64:
        return False
    if domain.startswith("[") and domain.endswith("]"):
        literal = domain[1:-1]
        return _is_ipv6(literal[5:]) if literal.startswith("IPv6:") else _is_ipv4(literal)
    if idn:
        return _is_idn_hostname(unicodedata.normalize("NFC", domain))
    return _is_hostname(domain)

# ---------------------------------------------------------------------------- URIs and pointers


def _uri_regex(extra: str, private: str) -> tuple[re.Pattern, re.Pattern]:
    """RFC 3986 (``extra``/``private`` empty) or RFC 3987 IRI grammar: (absolute, reference)."""
    unres = f"A-Za-z0-9\\-._~{extra}"
    pct, sub = "%[0-9A-Fa-f]{2}", "!$&'()*+,;="
    pchar = f"(?:[{unres}{sub}:@]|{pct})"
    seg_nc = f"(?:[{unres}{sub}@]|{pct})"
    host = (f"(?:\\[(?P<ip>[0-9A-Fa-f:.]+|[vV][0-9A-Fa-f]+\\.[{unres}{sub}:]+)\\]"
            f"|(?:[{unres}{sub}]|{pct})*)")
    authority = f"(?:(?:[{unres}{sub}:]|{pct})*@)?{host}(?::[0-9]*)?"
    tail = f"(?:\\?(?:{pchar}|[/?{private}])*)?(?:#(?:{pchar}|[/?])*)?"
    # Without a scheme the first segment may not contain ':' (path-noscheme).
    hier = (f"(?://{authority}(?:/{pchar}*)*|/(?:{pchar}+(?:/{pchar}*)*)?"
            f"|(?(s){pchar}|{seg_nc})+(?:/{pchar}*)*|)")
    scheme = "(?P<s>[A-Za-z][A-Za-z0-9+\\-.]*):"
    return re.compile(f"{scheme}{hier}{tail}"), re.compile(f"(?:{scheme})?{hier}{tail}")


_URI, _URI_REF = _uri_regex("", "")
_IRI, _IRI_REF = _uri_regex("\\xa0-\\ud7ff\\uf900-\\ufdcf\\ufdf0-\\uffef\\U00010000-\\U000efffd",
                            "\\ue000-\\uf8ff\\U000f0000-\\U000ffffd\\U00100000-\\U0010fffd")


def _uri_check(regex: re.Pattern):
    def check(value: str) -> bool:
        m = regex.fullmatch(value)
        if not m:
            return False
        ip = m.group("ip")
        return ip is None or ip[:1] in "vV" or _is_ipv6(ip)
    return check


_UUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_POINTER = re.compile(r"(?:/(?:[^~/]|~[01])*)*")
_REL_POINTER = re.compile(r"(?:0|[1-9][0-9]*)(?:#|(?:/(?:[^~/]|~[01])*)*)")
_VARSPEC = r"(?:[A-Za-z0-9_]|%[0-9A-Fa-f]{2})(?:\.?(?:[A-Za-z0-9_]|%[0-9A-Fa-f]{2}))*" \
           r"(?::[1-9][0-9]{0,3}|\*)?"
_TEMPLATE = re.compile(
    r"(?:[^\x00-\x20\"%<>\\^`{|}\x7f]|%[0-9A-Fa-f]{2}"
    rf"|\{{[+#./;?&=,!@|]?{_VARSPEC}(?:,{_VARSPEC})*\}})*")
_BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")


def _full(regex: re.Pattern):
    return lambda value: regex.fullmatch(value) is not None


def _int_range(bits: int):
    low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1

    def check(value) -> bool:
        if type(value) is float:
            return value.is_integer() and low <= value <= high
        return low <= value <= high
    return check


_STRING_FORMATS = {
    "date-time": _is_date_time, "date": _is_date, "time": _is_time,
    "duration": _full(_DURATION),
    "email": lambda v: _email(v, False), "idn-email": lambda v: _email(v, True),
    "hostname": _is_hostname, "idn-hostname": _is_idn_hostname,
    "ipv4": _is_ipv4, "ipv6": _is_ipv6,
    "uri": _uri_check(_URI), "uri-reference": _uri_check(_URI_REF),
    "iri": _uri_check(_IRI), "iri-reference": _uri_check(_IRI_REF),
    "uri-template": _full(_TEMPLATE), "uuid": _full(_UUID), "regex": _is_regex,
    "json-pointer": _full(_POINTER), "relative-json-pointer": _full(_REL_POINTER),
    "byte": _full(_BASE64),
}
_NUMBER_FORMATS = {"int32": _int_range(32), "int64": _int_range(64)}
# Formats that are documentation only: every value of the right type passes.
_NOOP_FORMATS = ("float", "double", "binary", "password")
KNOWN_FORMATS = frozenset(_STRING_FORMATS) | frozenset(_NUMBER_FORMATS) | frozenset(_NOOP_FORMATS)


def format_checker(name: str):
    """Predicate for ``format: name`` (True for other types), or None if unknown or a no-op."""
    if name in _STRING_FORMATS:
        test = _STRING_FORMATS[name]
        return lambda value: type(value) is not str or test(value)
    if name in _NUMBER_FORMATS:
        test = _NUMBER_FORMATS[name]
        return lambda value: type(value) not in (int, float) or test(value)
    return None
