"""Value operators for ``match`` blocks: compiled matchers, mismatches and the JSON diff.

``compile_matcher`` turns one ``match`` condition (a plain string, or an object such as
``{"regex": ...}``, ``{"json_partial": ...}``, ``{"json_path": ...}``, ``{"not": ...}``) into a
``Matcher`` with a fast ``check`` and an ``explain`` that lists every ``Mismatch``.

>>> compile_matcher({"regex": "^a+$"}, "match.query.q").check("aaa")
True
>>> [str(m) for m in compile_matcher({"json_partial": {"a": 1}}, "body").explain({"a": 2})]
['at $.a: expected 1, got 2']

Pure (layer 0): no sockets, threads or files. Imports only the standard library and
``errors``; it must not import ``matching`` (which re-exports these names) or anything above
layer 0.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass

from .errors import Problem, kind_name

__all__ = ["Matcher", "compile_matcher", "Mismatch", "MATCHER_OPERATORS"]


@dataclass(frozen=True)
class Mismatch:
    """One field that differed: what was expected and what the request had."""

    field: str
    expected: object
    actual: object

    def __str__(self) -> str:
        return f"at {self.field}: expected {_show(self.expected)}, got {_show(self.actual)}"

    def as_dict(self) -> dict:
        return {"field": self.field, "expected": _jsonable(self.expected), "actual": _jsonable(self.actual)}


def _jsonable(value):
    """``value`` as JSON can carry it: nothing becomes null, bytes become text."""
    if value is _ABSENT:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (str, int, float, bool, type(None), list, dict)):
        return value
    return str(value)


def _show(value) -> str:
    if value is _ABSENT:
        return "nothing"
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        return repr(value) if len(value) <= 80 else repr(value[:77] + "...")
    return json.dumps(value) if value is not None else "null"


_ABSENT = type("_Absent", (), {"__repr__": lambda self: "absent"})()

MATCHER_OPERATORS = ("equals", "contains", "regex", "absent", "present", "json",
                     "json_partial", "json_path", "not", "any_of", "all_of")


class Matcher:
    """A compiled condition on one value (a header, a query value, a cookie or the body).

    ``check(value)`` is the fast yes/no; ``explain(value)`` lists what differed. ``value`` is
    ``None`` when the request lacks the field (headers, query) — only ``absent`` accepts that.
    """

    __slots__ = ("description", "_check", "_explain")

    def __init__(self, description, check, explain=None):
        self.description = description
        self._check = check
        self._explain = explain

    def check(self, value) -> bool:
        return self._check(value)

    def explain(self, value, field_name: str = "$") -> list[Mismatch]:
        if self._explain is not None:
            return self._explain(value, field_name)
        if self._check(value):
            return []
        shown = value.value if isinstance(value, _Parsed) else value
        return [Mismatch(field_name, self.description, _ABSENT if value is None else shown)]


def compile_matcher(spec, where: str, problems: list | None = None) -> Matcher:
    """Compile a matcher spec: a plain string (equals) or ``{"operator": arg, ...}``.

    Modifiers: ``case_insensitive: true`` for equals/contains/regex.
    """
    issues: list[Problem] = [] if problems is None else problems
    before = len(issues)
    matcher = _compile(spec, where, issues)
    if problems is None and len(issues) > before:
        raise ValueError("; ".join(str(p) for p in issues[before:]))
    return matcher


def _compile(spec, where, problems) -> Matcher:
    if not isinstance(spec, dict):
        if isinstance(spec, (list, bool)) or spec is None:
            problems.append(Problem(where, f"expected a string or an operator object, got {_kind(spec)}",
                                    "write {\"equals\": ...} or one of " + ", ".join(MATCHER_OPERATORS)))
            return _never()
        return _equals(str(spec), False)
    ops = [k for k in spec if k != "case_insensitive"]
    unknown = [k for k in ops if k not in MATCHER_OPERATORS]
    for key in unknown:
        close = difflib.get_close_matches(key, MATCHER_OPERATORS, 1)
        problems.append(Problem(f"{where}.{key}", "unknown matcher operator",
                                f"did you mean '{close[0]}'?" if close else
                                "use one of " + ", ".join(MATCHER_OPERATORS)))
    ops = [k for k in ops if k in MATCHER_OPERATORS]
    if len(ops) != 1:
        if not unknown:
            problems.append(Problem(where, f"expected exactly one operator, got {len(ops)}",
                                    "use one of " + ", ".join(MATCHER_OPERATORS)))
        return _never()
    op = ops[0]
    return _BUILDERS[op](spec[op], f"{where}.{op}", problems, bool(spec.get("case_insensitive")))


_kind = kind_name


def _never() -> Matcher:
    return Matcher("<invalid>", lambda value: False)


def _as_text(value):
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, _Parsed):
        value = value.value
    return value if isinstance(value, str) else json.dumps(value)


def _equals(arg, case_insensitive, where=None, problems=None) -> Matcher:
    if not isinstance(arg, str):
        # A number, boolean or null compares as JSON: 3 matches "3" in a query and 3 in a body,
        # true matches a JSON true (never the number 1), null matches a JSON null.
        def same(value):
            if value is None:
                return False
            found = value.value if isinstance(value, _Parsed) else _parse_json(value)
            return found is not _ABSENT and _same_json(arg, found)
        return Matcher(json.dumps(arg), same)
    want = arg
    if case_insensitive:
        folded = want.casefold()
        return Matcher(want, lambda v: v is not None and _as_text(v).casefold() == folded)
    return Matcher(want, lambda v: v is not None and _as_text(v) == want)


def _contains(arg, where, problems, case_insensitive) -> Matcher:
    if not isinstance(arg, str):
        problems.append(Problem(where, f"expected a string, got {_kind(arg)}"))
        return _never()
    if case_insensitive:
        folded = arg.casefold()
        return Matcher(f"contains {arg!r}", lambda v: v is not None and folded in _as_text(v).casefold())
    return Matcher(f"contains {arg!r}", lambda v: v is not None and arg in _as_text(v))


def _regex(arg, where, problems, case_insensitive) -> Matcher:
    try:
        pattern = re.compile(str(arg), re.IGNORECASE if case_insensitive else 0)
    except re.error as exc:
        problems.append(Problem(where, f"invalid regex {arg!r}: {exc}"))
        return _never()
    return Matcher(f"matches /{arg}/", lambda v: v is not None and pattern.search(_as_text(v)) is not None)


def _absent(arg, where, problems, _ci) -> Matcher:
    if not isinstance(arg, bool):
        problems.append(Problem(where, f"expected true or false, got {_kind(arg)}"))
    if arg is False:
        return _present(True, where, problems, _ci)
    return Matcher("absent", lambda v: v is None)


def _present(arg, where, problems, _ci) -> Matcher:
    if not isinstance(arg, bool):
        problems.append(Problem(where, f"expected true or false, got {_kind(arg)}"))
    if arg is False:
        return Matcher("absent", lambda v: v is None)
    return Matcher("present", lambda v: v is not None)


class _Parsed:
    """A JSON value already parsed (found by a JSON path): JSON operators take it as is."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


def _parse_json(value):
    if isinstance(value, _Parsed):
        return value.value
    if isinstance(value, (bytes, str)):
        try:
            return json.loads(value)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return _ABSENT
    return _ABSENT if value is None else value


def _json_equal(arg, where, problems, _ci) -> Matcher:
    def explain(value, field_name):
        return _json_diff(arg, _parse_json(value), field_name, partial=False)
    return Matcher(f"JSON {json.dumps(arg)}", lambda v: not explain(v, "$"), explain)


def _json_partial(arg, where, problems, _ci) -> Matcher:
    def explain(value, field_name):
        return _json_diff(arg, _parse_json(value), field_name, partial=True)
    return Matcher(f"JSON containing {json.dumps(arg)}", lambda v: not explain(v, "$"), explain)


def _json_diff(expected, actual, at: str, partial: bool) -> list[Mismatch]:
    """Differences between two JSON values; ``partial`` lets ``actual`` have extra keys/items."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        out = []
        for key, want in expected.items():
            out += (_json_diff(want, actual[key], f"{at}.{key}", partial) if key in actual
                    else [Mismatch(f"{at}.{key}", want, _ABSENT)])
        if not partial:
            out += [Mismatch(f"{at}.{key}", _ABSENT, actual[key]) for key in actual if key not in expected]
        return out
    if isinstance(expected, list) and isinstance(actual, list):
        if partial:  # every expected item must match some actual item
            return [Mismatch(f"{at}[{i}]", want, actual) for i, want in enumerate(expected)
                    if not any(not _json_diff(want, got, at, True) for got in actual)]
        if len(expected) != len(actual):
            return [Mismatch(at, expected, actual)]
        return [m for i, (w, g) in enumerate(zip(expected, actual)) for m in _json_diff(w, g, f"{at}[{i}]", False)]
    if _same_json(expected, actual):
        return []
    return [Mismatch(at, expected, actual)]


def _same_json(a, b) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return a == b and type(a) in (int, float, str, type(None)) and type(b) in (int, float, str, type(None))


_PATH_TOKEN = re.compile(r"\.([^.\[\]]+)|\[(-?\d+)\]|\[['\"]([^'\"]+)['\"]\]")


def _json_path(arg, where, problems, _ci) -> Matcher:
    """``{"json_path": "$.a.b[0]", "equals": 3}`` style; arg may be a string or an object."""
    if isinstance(arg, str):
        arg = {"path": arg}
    if not isinstance(arg, dict) or not isinstance(arg.get("path"), str):
        problems.append(Problem(where, "expected {\"path\": \"$.a.b\", <operator>: ...} or a path string"))
        return _never()
    steps = _compile_json_path(arg["path"], f"{where}.path", problems)
    nested_spec = {k: v for k, v in arg.items() if k != "path"}
    nested = _compile(nested_spec, where, problems) if nested_spec else None

    def lookup(value):
        current = _parse_json(value)
        for step in steps:
            if isinstance(step, int) and isinstance(current, list) and -len(current) <= step < len(current):
                current = current[step]
            elif isinstance(step, str) and isinstance(current, dict) and step in current:
                current = current[step]
            else:
                return _ABSENT
        return current

    def explain(value, field_name):
        found = lookup(value)
        label = field_name + arg["path"][1:]
        if nested is None:
            return [] if found is not _ABSENT else [Mismatch(label, "present", _ABSENT)]
        # Missing stays None (only 'absent' accepts it); a found value (null included) travels
        # parsed, so `equals: 3` matches 3 but not "3", and text operators see its text.
        if found is _ABSENT:
            return nested.explain(None, label)
        return nested.explain(_Parsed(found), label)

    return Matcher(f"{arg['path']} {nested.description if nested else 'present'}",
                   lambda v: not explain(v, "$"), explain)


def _compile_json_path(path: str, where: str, problems) -> list:
    if not path.startswith("$"):
        problems.append(Problem(where, f"JSON path {path!r} must start with '$'", "e.g. $.user.id"))
        return []
    steps, position = [], 1
    while position < len(path):
        token = _PATH_TOKEN.match(path, position)
        if not token:
            problems.append(Problem(where, f"cannot parse JSON path {path!r} at character {position + 1}",
                                    "supported: $.key, $[0], $['key']"))
            return []
        name, index, quoted = token.groups()
        steps.append(int(index) if index is not None else (name if name is not None else quoted))
        position = token.end()
    return steps


def _not(arg, where, problems, _ci) -> Matcher:
    inner = _compile(arg, where, problems)
    return Matcher(f"not ({inner.description})", lambda v: not inner.check(v))


def _combined(all_needed: bool):
    def build(arg, where, problems, _ci) -> Matcher:
        if not isinstance(arg, list) or not arg:
            problems.append(Problem(where, "expected a non-empty list of matchers"))
            return _never()
        inner = [_compile(item, f"{where}[{i}]", problems) for i, item in enumerate(arg)]
        joiner = " and " if all_needed else " or "
        test = all if all_needed else any
        return Matcher(joiner.join(m.description for m in inner), lambda v: test(m.check(v) for m in inner))
    return build


_BUILDERS = {
    "equals": lambda arg, where, problems, ci: _equals(arg, ci),
    "contains": _contains, "regex": _regex, "absent": _absent, "present": _present,
    "json": _json_equal, "json_partial": _json_partial, "json_path": _json_path, "not": _not,
    "any_of": _combined(False), "all_of": _combined(True),
}
