"""Programmable provisions: h1mock-compatible Python files that add Flask-style routes.

Layer 1: no sockets, no threads started. A provision is Python source that defines
``registerRules()`` and calls ``app.add_url_rule(rule, endpoint, view_func=..., methods=[...])``
on a small Flask look-alike (never Flask itself). ``compile_provision`` compiles the source,
runs it and its ``registerRules()`` in a fresh namespace and checks the rules; only a provision
that got through all of that is made live by ``ProvisionManager``, so a syntax error, an
exception or a rule conflict leaves the previous provision serving. Running user code is the
point of this module, and it only happens when the operator passed ``--allow-provisions``.

>>> source = '''
... def registerRules():
...     app.add_url_rule("/hello/<int:n>", "hello", view_func=hello, methods=["GET"])
... def hello(n):
...     return {"n": n, "q": request.args.get("q")}, status.HTTP_201_CREATED
... '''
>>> provision = compile_provision("demo", source)
>>> from .model import Request
>>> response = provision.respond(Request("GET", "/hello/7?q=x"), lambda: False)
>>> response.status, response.body
(201, b'{"n":7,"q":"x"}\\n')

The shim names available in a provision without importing them: ``app``, ``request``,
``jsonify``, ``Response``, ``make_response``, ``abort``, ``status``, ``Blueprint``, ``os``,
``logging`` and ``log``; ``from flask import ...`` and ``from flask_api import status`` also
resolve to the shim. The shim itself lives in ``provision_response`` (what a view returns),
``provision_request`` (what it reads) and ``provision_app`` (how rules register and match);
its names are re-exported here. This module imports those three (never the other way round),
nothing from layer 2 and nothing outside the standard library.
"""

from __future__ import annotations

import linecache
import os
import threading
import time
import traceback

from .errors import PymockError, Problem
from .files import atomic_write
from .matching import RouteMiss
from .model import Request, Response, problem_response
# The shim's names stay importable from here, private ones included, as before the split.
from .provision_app import (_CONVERTERS, _UUID_RE, _VARIABLE, Blueprint,  # noqa: F401
                            ProvisionApp, Rule, _compile_rule, _importer, _methods, _namespace,
                            _RuleProblem, _shim_modules, _sort_key)
from .provision_request import (ProvisionRequest, _MultiDict, _RequestHeaders,  # noqa: F401
                                _RequestProxy, request)
from .provision_response import (FlaskResponse, HTTPException, _body_response,  # noqa: F401
                                 _json_bytes, _json_default, _ResponseHeaders, _status_code,
                                 _status_module, _to_flask_response, abort, jsonify,
                                 make_response, status)

__all__ = [
    "ProvisionError", "Provision", "ProvisionManager", "compile_provision", "check_name",
    "HTTPException", "FlaskResponse", "jsonify", "abort", "make_response", "Blueprint",
    "status", "request", "INITIAL", "DEFAULT_NAME",
]

INITIAL = "initial"                   # the file active at start, as in h1mock
DEFAULT_NAME = "(built-in default)"   # what serves when there is no ``initial`` file
_MAX_NAME = 255
_IGNORED_SUFFIXES = (".bak", ".tmp", ".swp", "~", ".pyc")


# =========================================================================== errors


class ProvisionError(PymockError, ValueError):
    """A provision that cannot go live; ``stage`` says which check refused it.

    Stages: ``name`` (a bad provision name), ``missing`` (no such file), ``read`` (the file
    cannot be read or is not UTF-8),
    ``syntax``, ``load`` (the top level raised), ``register`` (``registerRules`` raised or is
    missing) and ``conflict`` (two rules collide or a rule is malformed).
    """

    def __init__(self, name: str, stage: str, message: str, *, where: str = "",
                 hint: str = "", trace: str = ""):
        self.name, self.stage, self.message = name, stage, message
        self.where, self.hint, self.trace = where or name, hint, trace
        super().__init__(f"provision {name!r} rejected ({stage}): {self.where}: {message}"
                         + (f" ({hint})" if hint else ""))

    def problems(self) -> list[Problem]:
        return [Problem(self.where, self.message, self.hint or None)]

    def as_dict(self) -> dict:
        return {"name": self.name, "stage": self.stage, "where": self.where,
                "message": self.message, "hint": self.hint}


def check_name(name: str) -> str:
    """A provision name as a safe relative path inside the provision folder, or raise.

    Names may contain ``/`` (sub-folders, as in h1mock) but never ``..``, an absolute path,
    a backslash, a hidden part or a control character.

    >>> check_name("team/foo-bar")
    'team/foo-bar'
    >>> check_name("../etc/passwd")
    Traceback (most recent call last):
    ...
    pymock.provisions.ProvisionError: provision '../etc/passwd' rejected (name): ...
    """
    parts = name.split("/")
    bad = (not name or len(name) > _MAX_NAME or name.startswith("/") or "\\" in name
           or any(ord(ch) < 32 or ord(ch) == 127 for ch in name)
           or any(part in ("", ".", "..") or part.startswith(".") for part in parts))
    if bad:
        raise ProvisionError(name, "name", "not a valid provision name",
                             hint="use letters, digits, '-', '_' and '/' between parts; no '..', "
                                  "no leading '/' or '.'")
    return name


# =========================================================================== compiling


# sys.exit() in a provision must not stop a server thread (or, at start, the server).
_USER_ERRORS = (Exception, SystemExit)


def compile_provision(name: str, source, *, filename: str | None = None,
                      folder: str | None = None, clock=time.time) -> "Provision":
    """Compile, run and register ``source`` in a fresh namespace; raise ``ProvisionError``.

    Nothing global changes unless the provision's own code changes it: the result is a new
    ``Provision`` that the caller may make live.
    """
    filename = filename or f"<provision {name}>"
    text = _decode(name, source)
    try:
        code = compile(text, filename, "exec")
    except SyntaxError as exc:
        where = f"{filename}:{exc.lineno or 0}" + (f":{exc.offset}" if exc.offset else "")
        raise ProvisionError(name, "syntax", f"{type(exc).__name__}: {exc.msg}", where=where,
                             hint="fix the line and load the provision again") from None
    _remember_source(filename, text)
    namespace, app = _namespace(name, filename, folder)
    _run_user_code(name, filename, "load", lambda: exec(code, namespace))
    register = namespace.get("registerRules")
    if not callable(register):
        raise ProvisionError(name, "register", "defines no registerRules() function",
                             where=filename, hint="h1mock provisions register their rules in "
                                                  "def registerRules(): app.add_url_rule(...)")
    _run_user_code(name, filename, "register", register)
    _check_conflicts(name, filename, app.rules)
    return Provision(name, app.rules, app.error_handlers, filename, clock())


def _decode(name: str, source) -> str:
    if isinstance(source, str):
        return source
    try:
        return bytes(source).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ProvisionError(name, "read", f"not UTF-8 text (byte {exc.start})",
                             hint="save the provision as UTF-8") from None


def _remember_source(filename: str, text: str) -> None:
    # Tracebacks then show the provision's lines even when it was posted and never saved.
    lines = text.splitlines(keepends=True)
    linecache.cache[filename] = (len(text), None, lines, filename)


def _run_user_code(name: str, filename: str, stage: str, call) -> None:
    try:
        call()
    except _RuleProblem as exc:
        raise ProvisionError(name, "conflict", str(exc), where=_user_line(filename, exc),
                             hint="fix the rule in registerRules()") from None
    except _USER_ERRORS as exc:   # anything user code raises is reported, never raised further
        where = _user_line(filename, exc)
        doing = "while running the file's top level" if stage == "load" else "in registerRules()"
        raise ProvisionError(name, stage, f"{type(exc).__name__}: {exc} ({doing})", where=where,
                             trace=_user_trace(filename, exc)) from None


def _user_line(filename: str, exc: BaseException) -> str:
    """``file:line`` of the innermost frame of the provision itself."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == filename]
    return f"{filename}:{frames[-1].lineno}" if frames else filename


def _user_trace(filename: str, exc: BaseException) -> str:
    lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
    return "".join(lines).rstrip()


def _check_conflicts(name: str, filename: str, rules: list[Rule]) -> None:
    seen: dict[tuple, Rule] = {}
    for rule in rules:
        if rule.rule.startswith(("/__admin", "/__logs", "/__reload")):
            raise ProvisionError(name, "conflict", f"rule {rule.rule!r} is inside the admin API, "
                                 "which is always served first", where=filename,
                                 hint="choose a path outside /__admin, /__logs and /__reload")
        for method in sorted(rule.methods - {"HEAD"}) or ["HEAD"]:
            other = seen.get((rule.signature, method))
            if other is not None:
                raise ProvisionError(name, "conflict", f"{method} {rule.rule} is registered twice "
                                     f"(endpoints {other.endpoint!r} and {rule.endpoint!r})",
                                     where=filename, hint="remove one rule or give it other methods")
            seen[(rule.signature, method)] = rule


# =========================================================================== serving


class Provision:
    """A compiled provision: its rules (most specific first) and error handlers."""

    def __init__(self, name: str, rules: list[Rule], error_handlers: dict, filename: str,
                 loaded_at: float, log=None):
        self.name, self.filename, self.loaded_at = name, filename, loaded_at
        self.rules = sorted(rules, key=lambda rule: rule.sort_key)
        self.error_handlers = dict(error_handlers)
        self.log = log or (lambda message: None)

    def respond(self, plain: Request, config_matches) -> Response | None:
        """The provision's answer, or ``None`` to let the declarative mocks answer.

        ``config_matches()`` says whether a config endpoint would take the request: a
        provision's 404/405 (or its 404 handler) only applies when none would.
        """
        path, method = plain.path, plain.method
        allowed: set[str] = set()
        for rule in self.rules:
            view_args = rule.match(path)
            if view_args is None:
                continue
            if method in rule.methods:
                return self._dispatch(rule, view_args, plain)
            allowed |= rule.methods | ({"OPTIONS"} if rule.automatic_options else set())
        if allowed:
            if config_matches():
                return None
            if method == "OPTIONS" and "OPTIONS" in allowed:   # Flask's automatic answer
                return Response(200, [("Allow", ", ".join(sorted(allowed))),
                                      ("Content-Type", "text/html; charset=utf-8")])
            return self._error(plain, HTTPException(
                405, f"{path} accepts {', '.join(sorted(allowed))}", allowed=allowed))
        redirect = self._slash_redirect(plain)
        if redirect is not None and not config_matches():
            return redirect
        if self._handler_for(HTTPException(404)) is not None and not config_matches():
            return self._error(plain, HTTPException(404, f"{method} {path} matches no rule"))
        return None

    def _dispatch(self, rule: Rule, view_args: dict, plain: Request) -> Response:
        context = ProvisionRequest(plain, view_args, rule.rule, rule.endpoint)
        previous = request._bind(context)
        try:
            try:
                return _to_flask_response(rule.view_func(**view_args)).to_plan()
            except HTTPException as exc:
                return self._handled(exc)
            except _USER_ERRORS as exc:   # a view's bug answers 500; the server keeps serving
                return self._crashed(exc, f"endpoint {rule.endpoint!r}")
        finally:
            request._bind(previous)

    def _error(self, plain: Request, exc: HTTPException) -> Response:
        previous = request._bind(ProvisionRequest(plain))
        try:
            return self._handled(exc)
        finally:
            request._bind(previous)

    def _handled(self, exc: HTTPException) -> Response:
        handler = self._handler_for(exc)
        if handler is None:
            plan = exc.get_response().to_plan()
            if exc.valid_methods and exc.response is None:
                plan.headers.append(("Allow", ", ".join(exc.valid_methods)))
            return plan
        try:
            return _to_flask_response(handler(exc)).to_plan()
        except _USER_ERRORS as inner:   # a broken handler must not take the server down either
            return self._crashed(inner, f"the error handler for {exc.code}", use_handlers=False)

    def _handler_for(self, exc: BaseException):
        if isinstance(exc, HTTPException) and exc.code in self.error_handlers:
            return self.error_handlers[exc.code]
        for cls in type(exc).__mro__:
            if cls in self.error_handlers:
                return self.error_handlers[cls]
        return None

    def _crashed(self, exc: Exception, what: str, use_handlers: bool = True) -> Response:
        where = _user_line(self.filename, exc)
        self.log(f"provision {self.name!r}: {what} raised {type(exc).__name__} at {where}:\n"
                 f"{_user_trace(self.filename, exc)}")
        if use_handlers:
            handler = self._handler_for(exc) or self.error_handlers.get(500)
            if handler is not None:
                wrapped = exc if self._handler_for(exc) else HTTPException(500, str(exc))
                wrapped.original_exception = exc
                try:
                    return _to_flask_response(handler(wrapped)).to_plan()
                except _USER_ERRORS as inner:
                    return self._crashed(inner, f"the error handler for {type(exc).__name__}",
                                         use_handlers=False)
        return problem_response(500, "Provision view failed",
                                f"{what} of provision {self.name!r} raised {type(exc).__name__}: "
                                f"{exc} (at {where}); the traceback is in the server log",
                                provision=self.name)

    def _slash_redirect(self, plain: Request) -> Response | None:
        if plain.path.endswith("/"):
            return None
        slashed = plain.path + "/"
        for rule in self.rules:
            if rule.strict_slashes and rule.rule.endswith("/") and rule.match(slashed) is not None:
                query = f"?{plain.raw_query}" if plain.raw_query else ""
                return Response(308, [("Location", slashed + query),
                                      ("Content-Type", "text/plain; charset=utf-8")],
                                f"Redirecting to {slashed}{query}\n".encode())
        return None

    def describe(self) -> dict:
        return {"name": self.name, "file": self.filename, "loaded_at": self.loaded_at,
                "rules": [rule.describe() for rule in self.rules],
                "error_handlers": sorted(str(getattr(k, "__name__", k)) for k in self.error_handlers)}


def default_provision(folder: str, clock=time.time) -> Provision:
    """What serves when the folder has no ``initial`` file: a 404 that explains what to do."""
    def help_404(exc):
        plan = problem_response(404, "No provision rule or mock matched", f"{request.path} matched "
                                "nothing: the active provision is the built-in default because "
                                f"{os.path.join(folder, INITIAL)} does not exist",
                                hint=f"write a provision to {os.path.join(folder, INITIAL)}, "
                                "drop one in the folder, or POST it to the admin port at "
                                "/app/v1/provision/<name>; see docs/provisions.md")
        return FlaskResponse(plan.body, 404, plan.headers)
    return Provision(DEFAULT_NAME, [], {404: help_404}, "<built-in default>", clock())


# =========================================================================== the manager


class ProvisionManager:
    """Holds the live provision and makes new ones live; mounted on ``MockApp`` at ``/``.

    Writers (the folder watcher, the admin API) go through ``activate_*`` under one lock;
    readers take one reference per request. ``stamps`` remembers the file state each
    activation read, so the watcher does not load again what the admin API just loaded.
    """

    prefixes = ("/",)
    name = "provisions"

    def __init__(self, folder, *, log=None, clock=time.time):
        self.folder = os.path.realpath(os.fspath(folder))
        self.log = log or (lambda message: None)
        self.clock = clock
        self._lock = threading.Lock()
        self.active: Provision = default_provision(self.folder, clock)
        self.last_attempt: dict = {"ok": True, "name": DEFAULT_NAME, "at": clock(), "error": None}
        self.stamps: dict[str, tuple] = {}

    # --- mount interface (see MockApp.mount)
    def handle(self, app, config, plain: Request) -> Response | None:
        def config_matches() -> bool:
            return not isinstance(config.router.find(plain), RouteMiss)
        return self.active.respond(plain, config_matches)

    def health(self) -> dict:
        return {"ok": self.last_attempt["ok"], "folder": self.folder,
                "active": self.active.describe(), "last_attempt": self.last_attempt}

    # --- files
    def path_for(self, name: str) -> str:
        """The file for ``name`` inside the folder; ``ProvisionError`` if it would escape."""
        check_name(name)
        path = os.path.realpath(os.path.join(self.folder, name))
        if os.path.commonpath([path, self.folder]) != self.folder:
            raise ProvisionError(name, "name", "resolves outside the provision folder",
                                 hint="a symlink inside the folder points elsewhere")
        return path

    def names(self) -> list[str]:
        """Every provision file in the folder (hidden and backup files left out)."""
        found = []
        for root, dirs, files in os.walk(self.folder, followlinks=False):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for file in sorted(files):
                if file.startswith(".") or file.endswith(_IGNORED_SUFFIXES):
                    continue
                found.append(os.path.relpath(os.path.join(root, file), self.folder).replace(os.sep, "/"))
        return found

    def stamp(self, name: str):
        """``(mtime_ns, size, inode)`` of a provision file (symlinks followed), or None."""
        try:
            info = os.stat(os.path.join(self.folder, name))
        except OSError:
            return None
        return (info.st_mtime_ns, info.st_size, info.st_ino)

    # --- making provisions live
    def start(self) -> Provision:
        """Load ``initial`` if the folder has one; else (or if it is bad) the built-in default."""
        if self.stamp(INITIAL) is None:
            self.log(f"provisions: no {os.path.join(self.folder, INITIAL)}; serving the built-in "
                     "default (404 with help) until a provision is loaded")
            return self.active
        try:
            return self.activate_file(INITIAL, origin="start")
        except ProvisionError:
            return self.active

    def activate_file(self, name: str, origin: str = "file") -> Provision:
        path = self.path_for(name)
        if not os.path.isfile(path):   # a caller's mistake, not a failed provision
            raise ProvisionError(name, "missing", f"there is no provision file {path}",
                                 hint="GET /app/v1/provision lists the files")
        with self._lock:
            stamp = self.stamp(name)
            try:
                with open(path, "rb") as handle:
                    source = handle.read()
            except OSError as exc:
                error = ProvisionError(name, "read", f"cannot read {path}: {exc.strerror}",
                                       hint="check the file's permissions")
                self._failed(error, origin)
                raise error from None
            self.stamps[name] = stamp
            return self._activate(name, source, path, origin)

    def save_and_activate(self, name: str, source: bytes, origin: str = "admin") -> Provision:
        """Check ``source``; only a good provision is written to the folder and made live."""
        path = self.path_for(name)
        with self._lock:
            provision = self._compile(name, source, path, origin)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            atomic_write(path, source)
            self.stamps[name] = self.stamp(name)
            return self._go_live(provision, origin)

    def _activate(self, name: str, source: bytes, path: str, origin: str) -> Provision:
        return self._go_live(self._compile(name, source, path, origin), origin)

    def _compile(self, name: str, source: bytes, path: str, origin: str) -> Provision:
        try:
            provision = compile_provision(name, source, filename=path, folder=self.folder,
                                          clock=self.clock)
        except ProvisionError as error:
            self._failed(error, origin)
            raise
        provision.log = self.log
        return provision

    def _go_live(self, provision: Provision, origin: str) -> Provision:
        self.active = provision
        self.last_attempt = {"ok": True, "name": provision.name, "at": self.clock(),
                             "origin": origin, "error": None}
        self.log(f"provision {provision.name!r} live ({origin}): {len(provision.rules)} rules, "
                 f"{len(provision.error_handlers)} error handlers")
        return provision

    def _failed(self, error: ProvisionError, origin: str) -> None:
        self.last_attempt = {"ok": False, "name": error.name, "at": self.clock(),
                             "origin": origin, "error": error.as_dict()}
        trace = f"\n{error.trace}" if error.trace else ""
        self.log(f"{error}; provision {self.active.name!r} is still serving{trace}")
