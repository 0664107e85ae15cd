"""Response templating: a small, sandboxed template language for bodies and headers.

``{{ expr }}`` prints a value, ``{% if %}``/``{% for %}``/``{% set %}`` control what is
printed, ``{# ... #}`` is a comment. Expressions have literals, lookups (``request.path.id``,
``request.headers["x-api-key"]``, ``items[0]``), operators, ``| filters`` and a fixed set of
helper functions (``now()``, ``uuid()``, ``fake.name`` ...). The language reference, with an
example for every construct, is ``docs/templates.md``.

Templates are compiled once (to a tree of closures) and rendered many times. Nothing here
evaluates Python code: there is no ``eval``/``exec``, names starting with ``_`` are refused,
lookups read dict keys, list items and the fields of the view objects built in
``template_runtime`` only (never Python attributes), and each render is bounded by ``MAX_LOOP_ITERATIONS`` and
``MAX_OUTPUT_CHARS``. Time, randomness and counters come from a ``RenderEnv``.

>>> compile_template("Hello {{ name | default('you') | title }}!").render({"name": "ada"})
'Hello Ada!'
>>> compile_template("{{ n * 2 }}").render_value({"n": 21})
42
>>> env = RenderEnv(clock=lambda: 86400.0, rng=random.Random(7))
>>> compile_template("{{ now() }} {{ now('%Y-%m-%d', '-1d') }}").render({}, env)
'1970-01-02T00:00:00Z 1970-01-01'
>>> body = compile_body({"id": "{{ request.path.id | int }}", "echo": "{{ request.json.msg }}"})
>>> from pymock.model import Request
>>> req = Request("POST", "/users/7", body=b'{"msg": "say \\\\"hi\\\\""}')
>>> body.render({"request": request_view(req, {"id": "7"})}, env)
{'id': 7, 'echo': 'say "hi"'}

This module is the public face and the import point; the engine behind it is split by job:
``template_parser`` scans text and tags, ``template_expr`` parses expressions,
``template_nodes`` holds the closures a template runs, ``template_filters`` the filters, helper
functions and time handling, ``template_fakes`` the ``fake.*`` data, and ``template_runtime``
the limits, ``Undefined``, views and lookups. None of them imports this module.

Pure (layer 0): imports only the standard library, ``errors`` and those ``template_*``
modules; no sockets, no files, no threads started (``Counters`` holds a ``threading.Lock`` so
engine threads can share it).
"""

from __future__ import annotations

import json
import random
import threading
import time

from .errors import TemplateError
from .template_fakes import _FIRST_NAMES, _LAST_NAMES, FAKE_FIELDS  # noqa: F401 - read by tests
from .template_filters import FILTER_NAMES, HELPER_NAMES
from .template_nodes import _sequence_of
from .template_parser import _Compiler
from .template_runtime import (
    _OUTPUT_LIMIT, MAX_LOOP_ITERATIONS, MAX_NESTING, MAX_OUTPUT_CHARS, PathText, Undefined, _measure,
    _plain, _type_name, _Where, request_view,
)

__all__ = [
    "compile_template", "compile_body", "has_template_syntax", "request_view",
    "Template", "BodyTemplate", "RenderEnv", "Counters", "Undefined", "PathText",
    "MAX_LOOP_ITERATIONS", "MAX_OUTPUT_CHARS", "MAX_NESTING", "FILTER_NAMES", "HELPER_NAMES",
    "FAKE_FIELDS",
]


# ---------------------------------------------------------------- render environment

class Counters:
    """Named counters shared by every render that uses the same ``RenderEnv``; thread-safe.

    >>> c = Counters()
    >>> c.next("orders"), c.next("orders"), c.get("orders"), c.get("other")
    (1, 2, 2, 0)
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._values: dict[str, int] = {}

    def next(self, name: str, step: int = 1) -> int:
        """Add ``step`` to the counter and return its new value (the first call gives 1)."""
        with self._lock:
            value = self._values.get(name, 0) + step
            self._values[name] = value
            return value

    def get(self, name: str) -> int:
        with self._lock:
            return self._values.get(name, 0)

    def reset(self, name: str | None = None) -> None:
        """Forget one counter, or all of them when ``name`` is None."""
        with self._lock:
            if name is None:
                self._values.clear()
            else:
                self._values.pop(name, None)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._values)


class RenderEnv:
    """What a render may draw on besides its context: a clock, randomness and counters.

    Pass one env to every render that should share counters; pass ``random.Random(seed)``
    and a fixed ``clock`` to make output reproducible.
    """

    __slots__ = ("clock", "rng", "counters")

    def __init__(self, clock=time.time, rng: random.Random | None = None,
                 counters: Counters | None = None):
        self.clock = clock
        self.rng = rng if rng is not None else random.Random()
        self.counters = counters if counters is not None else Counters()


class _RenderState:
    """One render's state, passed to every node as ``rs``: the env and what the limits count."""

    __slots__ = ("env", "iterations", "size")

    def __init__(self, env: RenderEnv | None):
        self.env = env if env is not None else RenderEnv()
        self.iterations = 0
        self.size = 0


# ---------------------------------------------------------------- public API

def has_template_syntax(text) -> bool:
    """True when ``text`` contains ``{{``, ``{%`` or ``{#`` (and so needs compiling)."""
    return isinstance(text, str) and ("{{" in text or "{%" in text or "{#" in text)


class Template:
    """A compiled template. ``render`` gives text; ``render_value`` keeps the type of a
    template that is exactly one ``{{ expr }}``. Safe to share between threads."""

    __slots__ = ("source", "name", "is_static", "_run", "_single", "_copy")

    def __init__(self, source: str, name: str, items: list | None, copy_scope: bool = False):
        self.source, self.name = source, name
        self.is_static = items is None
        self._copy = copy_scope
        self._single = items[0][1:] if items and len(items) == 1 and isinstance(items[0], tuple) else None
        self._run = _sequence_of(items, _Where(1, 1, name)) if items else None

    @property
    def is_single_expression(self) -> bool:
        return self._single is not None

    def render(self, context: dict | None = None, env: RenderEnv | None = None) -> str:
        """The text; raises ``TemplateError`` (with line/col) when rendering fails."""
        if self.is_static:
            return self.source
        return self._guard(self._text, context, _RenderState(env))

    def render_value(self, context: dict | None = None, env: RenderEnv | None = None):
        """The value of a single-expression template as JSON-like data, else the text."""
        if self._single is None:
            return self.render(context, env)
        return self._guard(self._value, context, _RenderState(env))

    def _guard(self, fn, context, rs):
        try:
            return fn(context if context is not None else {}, rs)
        except RecursionError:
            raise TemplateError("data or template nested too deeply to render", 1, 1, self.name) from None

    def _text(self, context: dict, rs: _RenderState) -> str:
        if self._run is None:
            return ""
        out = []
        self._run(dict(context) if self._copy else context, rs, out)
        return out[0] if len(out) == 1 else "".join(out)

    def _value(self, context: dict, rs: _RenderState):
        ev, where = self._single
        value = ev(context, rs)
        if type(value) is str:
            rs.size += len(value)
        else:
            rs.size += _measure(value, MAX_OUTPUT_CHARS - rs.size + 1)
        if rs.size > MAX_OUTPUT_CHARS:
            raise where.error(_OUTPUT_LIMIT)
        return _plain(value)

    def __repr__(self) -> str:
        return f"Template({self.name!r}, {self.source[:40]!r})"


def compile_template(source: str, name: str = "template") -> Template:
    """Compile ``source``; ``TemplateError`` (1-based line/col, ``source_name=name``) if it is wrong.

    >>> compile_template("{% if x %}yes{% endiff %}", "greeting")
    Traceback (most recent call last):
      ...
    pymock.errors.TemplateError: greeting:1:17: unknown tag 'endiff' (did you mean 'endif'?)
    """
    if not isinstance(source, str):
        raise TemplateError(f"a template must be text, got {_type_name(source)}", 1, 1, name)
    if not has_template_syntax(source):
        return Template(source, name, None)
    compiler = _Compiler(source, name)
    try:
        items = compiler.build()
    except RecursionError:  # pragma: no cover - MAX_NESTING stops this first
        raise TemplateError("template nested too deeply", 1, 1, name) from None
    return Template(source, name, items, compiler.has_set)


class BodyTemplate:
    """A JSON-like body whose strings (values and keys) are templates.

    ``render`` returns a new JSON-like value; static parts are shared with the source value
    (don't mutate the result).
    """

    __slots__ = ("value", "name", "is_static", "_build")

    def __init__(self, value, name: str, build):
        self.value, self.name, self._build = value, name, build
        self.is_static = build is None

    def render(self, context: dict | None = None, env: RenderEnv | None = None):
        if self._build is None:
            return self.value
        rs = _RenderState(env)
        try:
            return self._build(context if context is not None else {}, rs)
        except RecursionError:
            raise TemplateError("data nested too deeply to render", 1, 1, self.name) from None


def _child_name(path: str, key) -> str:
    if isinstance(key, str) and key.isidentifier():
        return f"{path}.{key}"
    return f"{path}[{json.dumps(key)}]"


def _compile_part(value, path: str):
    """A builder ``fn(scope, rs) -> value`` for a dynamic part, or None for a static one."""
    if isinstance(value, str):
        if not has_template_syntax(value):
            return None
        template = compile_template(value, path)
        if template._single is not None:
            return template._value
        return lambda scope, rs: template._text(scope, rs)
    if isinstance(value, dict):
        return _compile_dict(value, path)
    if isinstance(value, (list, tuple)):
        parts = [(item, _compile_part(item, f"{path}[{i}]")) for i, item in enumerate(value)]
        if all(build is None for _, build in parts):
            return None
        return lambda scope, rs: [item if build is None else build(scope, rs) for item, build in parts]
    return None


def _compile_dict(value: dict, path: str):
    parts, dynamic = [], False
    for key, item in value.items():
        child = _child_name(path, key)
        key_build = None
        if has_template_syntax(key):
            template = compile_template(key, f"{child} (key)")
            key_build = template._text
        build = _compile_part(item, child)
        dynamic = dynamic or key_build is not None or build is not None
        parts.append((key, key_build, item, build))
    if not dynamic:
        return None

    def build_dict(scope, rs):
        return {key if key_build is None else key_build(scope, rs):
                item if build is None else build(scope, rs)
                for key, key_build, item, build in parts}
    return build_dict


def compile_body(value, name: str = "body") -> BodyTemplate:
    """Compile every template string inside a JSON-like ``value``.

    A string that is exactly one ``{{ expr }}`` keeps the type of its value; other strings
    render to text. Error names point into the value, e.g. ``body.items[0].name``.
    """
    return BodyTemplate(value, name, _compile_part(value, name))
