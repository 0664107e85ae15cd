"""The registration side of the Flask shim for provisions: ``app``, ``Blueprint`` and rules.

Layer 1: no sockets. A provision's ``registerRules()`` calls ``app.add_url_rule(...)`` (or
``@app.route``, ``register_blueprint``, ``errorhandler``) on a ``ProvisionApp``, which records
compiled ``Rule`` objects: werkzeug-style converters (``string``, ``int``, ``float``, ``path``,
``uuid``), methods, slashes and defaults, sorted most specific first. ``_namespace`` builds the
fresh globals a provision runs in, where ``from flask import ...`` and ``from flask_api import
status`` resolve to the shim.

>>> rule = Rule("/items/<int:n>", "item", view_func=print, methods=["GET"])
>>> rule.match("/items/7"), rule.match("/items/x"), sorted(rule.methods)
({'n': 7}, None, ['GET', 'HEAD'])

Running the provision and reporting its errors belongs to ``provisions``. Must not import
``provisions`` (it imports this module), anything in layer 2, or anything outside the standard
library.
"""

from __future__ import annotations

import builtins
import logging
import os
import re
import types
import uuid

from .provision_request import request
from .provision_response import FlaskResponse, abort, jsonify, make_response, status

__all__ = ["Rule", "Blueprint", "ProvisionApp"]


# =========================================================================== rules


_VARIABLE = re.compile(r"<(?:(?P<conv>[A-Za-z_]\w*)(?:\((?P<args>[^)]*)\))?:)?(?P<name>[A-Za-z_]\w*)>")
_UUID_RE = r"[A-Fa-f0-9]{8}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{12}"
# converter -> (regex, Python type, weight: lower is tried first, as werkzeug orders them)
_CONVERTERS = {
    "default": (r"[^/]+", str, 2), "string": (r"[^/]+", str, 2), "int": (r"\d+", int, 1),
    "float": (r"\d+\.\d+", float, 1), "path": (r"[^/].*?", str, 3), "uuid": (_UUID_RE, uuid.UUID, 1),
}


class _RuleProblem(ValueError):
    """A malformed rule; turned into a ``ProvisionError`` naming the provision line."""


class Rule:
    """One compiled Flask rule: its regex, converters, methods and view."""

    def __init__(self, rule: str, endpoint: str, view_func, methods, *, strict_slashes=True,
                 defaults=None, automatic_options=True):
        if not isinstance(rule, str) or not rule.startswith("/"):
            raise _RuleProblem(f"rule {rule!r} must be a string starting with '/'")
        self.rule, self.endpoint, self.view_func = rule, endpoint, view_func
        self.methods = frozenset(_methods(methods))
        self.automatic_options = automatic_options and "OPTIONS" not in self.methods
        self.strict_slashes, self.defaults = strict_slashes, dict(defaults or {})
        pattern, self.converters, self.sort_key = _compile_rule(rule)
        self.regex = re.compile(pattern)
        self.signature = _VARIABLE.sub(lambda m: f"<{m.group('conv') or 'default'}>", rule)

    def match(self, path: str) -> dict | None:
        found = self.regex.fullmatch(path)
        if found is None and not self.strict_slashes:   # "/a" and "/a/" are the same rule
            found = self.regex.fullmatch(path.rstrip("/") or "/" if path.endswith("/") else path + "/")
        if found is None:
            return None
        # The converters' regexes admit only values their types parse (int, float, uuid).
        args = {name: self.converters[name](value) for name, value in found.groupdict().items()}
        return {**self.defaults, **args}

    def describe(self) -> str:
        return f"{' '.join(sorted(self.methods))} {self.rule} -> {self.endpoint}"


def _methods(methods) -> set[str]:
    if methods is None:
        methods = ["GET"]
    if isinstance(methods, str):
        raise _RuleProblem(f"methods={methods!r} must be a list such as [{methods!r}], not a string")
    names = {str(m).upper() for m in methods}
    if "GET" in names:
        names.add("HEAD")
    return names


def _compile_rule(rule: str) -> tuple[str, dict, tuple]:
    """Regex source, converters by name and a sort key (static segments sort first)."""
    pattern, converters, position = [], {}, 0
    for found in _VARIABLE.finditer(rule):
        pattern.append(re.escape(rule[position:found.start()]))
        name, kind = found.group("name"), found.group("conv") or "default"
        if kind not in _CONVERTERS:
            raise _RuleProblem(f"rule {rule!r}: unknown converter {kind!r} (use string, int, "
                               "float, path or uuid)")
        if found.group("args") is not None:
            raise _RuleProblem(f"rule {rule!r}: converter arguments such as "
                               f"{found.group(0)!r} are not supported")
        if name in converters:
            raise _RuleProblem(f"rule {rule!r} names the variable {name!r} twice")
        regex, converters[name], _weight = _CONVERTERS[kind]
        pattern.append(f"(?P<{name}>{regex})")
        position = found.end()
    tail = rule[position:]
    if "<" in tail or ">" in tail:
        raise _RuleProblem(f"rule {rule!r}: malformed variable near {tail!r}; write <name> or "
                           "<converter:name>")
    pattern.append(re.escape(tail))
    return "".join(pattern), converters, _sort_key(rule)


def _sort_key(rule: str) -> tuple:
    key = []
    for segment in rule.split("/"):
        kinds = [m.group("conv") or "default" for m in _VARIABLE.finditer(segment)]
        if not kinds:
            key.append((0, -len(segment)))
        else:
            static = len(_VARIABLE.sub("", segment))
            key.append((1, max(_CONVERTERS[k][2] for k in kinds), -static))
    return tuple(key)


class Blueprint:
    """A named group of rules registered on the app with an optional ``url_prefix``."""

    def __init__(self, name: str, import_name: str = "", url_prefix: str | None = None, **_ignored):
        self.name, self.url_prefix = name, url_prefix
        self._deferred: list[tuple] = []
        self._handlers: list[tuple] = []

    def add_url_rule(self, rule, endpoint=None, view_func=None, **options):
        self._deferred.append((rule, endpoint, view_func, options))

    def route(self, rule, **options):
        def decorator(func):
            self.add_url_rule(rule, options.pop("endpoint", None), func, **options)
            return func
        return decorator

    def register_error_handler(self, code_or_exception, func):
        self._handlers.append((code_or_exception, func))

    def errorhandler(self, code_or_exception):
        def decorator(func):
            self.register_error_handler(code_or_exception, func)
            return func
        return decorator


class ProvisionApp:
    """The ``app`` a provision registers on: Flask's registration API, recording into a table."""

    _SUPPORTED = "add_url_rule, route, register_error_handler, errorhandler, register_blueprint"

    def __init__(self, name: str):
        self.name = name
        self.rules: list[Rule] = []
        self.error_handlers: dict = {}
        self.view_functions: dict = {}
        self.config: dict = {}
        self.secret_key = None
        self.debug = False
        self.logger = logging.getLogger(f"pymock.provision.{name}")

    def add_url_rule(self, rule, endpoint=None, view_func=None, provide_automatic_options=None,
                     *, methods=None, strict_slashes=True, defaults=None, **options):
        if options:
            raise _RuleProblem(f"add_url_rule({rule!r}): unsupported option(s) "
                               f"{', '.join(sorted(options))}")
        if not callable(view_func):
            raise _RuleProblem(f"add_url_rule({rule!r}): view_func must be a function, "
                               f"got {type(view_func).__name__}")
        endpoint = endpoint or view_func.__name__
        known = self.view_functions.get(endpoint)
        if known is not None and known is not view_func:
            raise _RuleProblem(f"endpoint {endpoint!r} is already mapped to the function "
                               f"{known.__name__!r}; give the rule another endpoint name")
        self.view_functions[endpoint] = view_func
        self.rules.append(Rule(rule, endpoint, view_func, methods, strict_slashes=strict_slashes,
                               defaults=defaults, automatic_options=provide_automatic_options is not False))

    def route(self, rule, **options):
        def decorator(func):
            self.add_url_rule(rule, options.pop("endpoint", None), func, **options)
            return func
        return decorator

    def register_error_handler(self, code_or_exception, func) -> None:
        key = code_or_exception
        if not (isinstance(key, int) or (isinstance(key, type) and issubclass(key, BaseException))):
            raise _RuleProblem(f"register_error_handler({key!r}): give an HTTP status code or an "
                               "exception class")
        if not callable(func):
            raise _RuleProblem(f"register_error_handler({key!r}): the handler must be a function")
        self.error_handlers[key] = func

    def errorhandler(self, code_or_exception):
        def decorator(func):
            self.register_error_handler(code_or_exception, func)
            return func
        return decorator

    def register_blueprint(self, blueprint: Blueprint, url_prefix: str | None = None, **_ignored):
        prefix = (url_prefix if url_prefix is not None else blueprint.url_prefix) or ""
        for rule, endpoint, func, options in blueprint._deferred:
            name = f"{blueprint.name}.{endpoint or getattr(func, '__name__', 'view')}"
            self.add_url_rule(prefix.rstrip("/") + rule, name, func, **options)
        for key, func in blueprint._handlers:
            self.register_error_handler(key, func)

    def run(self, *args, **kwargs) -> None:
        """Ignored: pymock serves the provision (h1mock files never call it either)."""

    def __getattr__(self, name):
        raise AttributeError(f"the provision 'app' has no {name!r}; pymock's Flask shim "
                             f"supports {self._SUPPORTED} (see docs/provisions.md)")



# =========================================================================== the provision's namespace


def _shim_modules(app: ProvisionApp) -> dict[str, types.ModuleType]:
    flask = types.ModuleType("flask", "pymock's Flask shim for provisions")
    for name, value in (("Flask", lambda *a, **k: app), ("Blueprint", Blueprint),
                        ("jsonify", jsonify), ("request", request), ("Response", FlaskResponse),
                        ("make_response", make_response), ("abort", abort), ("current_app", app)):
        setattr(flask, name, value)
    flask_api = types.ModuleType("flask_api", "pymock's flask_api shim")
    flask_api.status = status
    return {"flask": flask, "flask_api": flask_api, "flask_api.status": status}


def _importer(shims: dict):
    real_import = builtins.__import__

    def provision_import(name, globals=None, locals=None, fromlist=(), level=0):
        top = name.split(".")[0]
        if level == 0 and top in shims:
            if name not in shims:
                raise ModuleNotFoundError(f"pymock's Flask shim has no module {name!r}")
            return shims[name] if fromlist else shims[top]
        return real_import(name, globals, locals, fromlist, level)
    return provision_import


def _namespace(name: str, filename: str, folder: str | None) -> tuple[dict, ProvisionApp]:
    app = ProvisionApp(name)
    shims = _shim_modules(app)
    namespace = {
        "__name__": f"provision_{re.sub(r'[^0-9A-Za-z_]', '_', name)}", "__file__": filename,
        "__builtins__": {**builtins.__dict__, "__import__": _importer(shims)},
        "app": app, "request": request, "jsonify": jsonify, "Response": FlaskResponse,
        "make_response": make_response, "abort": abort, "status": status, "Blueprint": Blueprint,
        "os": os, "logging": logging, "log": app.logger,
        "mock_api": Blueprint("mock_api", "provision"), "PROVISION_DIR": folder,
    }
    return namespace, app
