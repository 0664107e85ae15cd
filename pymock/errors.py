"""The project's exceptions and the RFC 9457 problem document every error is sent as.

Pure: imports nothing from pymock and no I/O modules. Every exception subclasses a builtin
(``ValueError`` mostly) so callers can catch it without importing pymock, and carries its
data as attributes rather than only in its message.

>>> err = ConfigError([Problem("endpoints[0].staus", "unknown key", "did you mean 'status'?")])
>>> print(err)
1 problem in the config:
  1. endpoints[0].staus: unknown key (did you mean 'status'?)
>>> problem_document(404, "No mock matched", "GET /x")["type"]
'https://pymock.dev/problems/not-found'
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass

__all__ = [
    "PymockError", "Problem", "ConfigError", "TemplateError", "SpecError", "YamlError",
    "CycleError", "NotFoundError", "ConflictError", "problem_document", "problem_body",
    "PROBLEM_CONTENT_TYPE", "unknown_key_problems", "kind_name",
]

PROBLEM_CONTENT_TYPE = "application/problem+json"

_TYPE_SLUGS = {
    400: "bad-request", 401: "unauthorized", 403: "forbidden", 404: "not-found",
    405: "method-not-allowed", 408: "request-timeout", 409: "conflict", 411: "length-required",
    413: "content-too-large", 414: "uri-too-long", 415: "unsupported-media-type",
    422: "unprocessable-content", 429: "too-many-requests", 431: "headers-too-large",
    500: "internal-error", 501: "not-implemented", 502: "bad-gateway",
    503: "service-unavailable", 504: "gateway-timeout",
}


class PymockError(Exception):
    """Root of every exception pymock raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where (a path like ``endpoints[2].status``), what, and a fix."""

    path: str
    message: str
    hint: str | None = None

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        hint = f" ({self.hint})" if self.hint else ""
        return f"{where}{self.message}{hint}"

    def as_dict(self) -> dict:
        out = {"path": self.path, "message": self.message}
        if self.hint:
            out["hint"] = self.hint
        return out


class ConfigError(PymockError, ValueError):
    """A config (file, admin edit or reload) was rejected; ``problems`` lists every reason."""

    def __init__(self, problems: list[Problem], source: str = "the config"):
        self.problems = list(problems)
        self.source = source
        super().__init__(self._render())

    def _render(self) -> str:
        count = len(self.problems)
        lines = [f"{count} problem{'s' if count != 1 else ''} in {self.source}:"]
        lines += [f"  {i}. {p}" for i, p in enumerate(self.problems, 1)]
        return "\n".join(lines)


class TemplateError(PymockError, ValueError):
    """A template that does not compile or render; ``line``/``col`` are 1-based."""

    def __init__(self, message: str, line: int = 1, col: int = 1, source_name: str = "template"):
        self.message, self.line, self.col, self.source_name = message, line, col, source_name
        super().__init__(f"{source_name}:{line}:{col}: {message}")


class YamlError(PymockError, ValueError):
    """YAML text that cannot be loaded; ``line``/``col`` are 1-based."""

    def __init__(self, message: str, line: int = 0, col: int = 0, source_name: str = "<yaml>"):
        self.message, self.line, self.col, self.source_name = message, line, col, source_name
        super().__init__(f"{source_name}:{line}:{col}: {message}")


class SpecError(PymockError, ValueError):
    """An OpenAPI/Swagger document or a JSON Schema that cannot be used; ``pointer`` says where."""

    def __init__(self, message: str, pointer: str = "", problems: list[Problem] | None = None):
        self.message, self.pointer = message, pointer
        self.problems = list(problems or [])
        super().__init__(f"{pointer}: {message}" if pointer else message)


class CycleError(PymockError, ValueError):
    """A dependency cycle; ``cycle`` lists the nodes with the first repeated at the end."""

    def __init__(self, cycle: list[str]):
        self.cycle = list(cycle)
        super().__init__("dependency cycle: " + " -> ".join(self.cycle))


class NotFoundError(PymockError, KeyError):
    """An id the caller named does not exist (admin API answers 404)."""

    def __init__(self, kind: str, ident: str):
        self.kind, self.ident = kind, ident
        super().__init__(f"no {kind} with id {ident!r}")

    def __str__(self) -> str:  # KeyError would repr() the message
        return self.args[0]


class ConflictError(PymockError, ValueError):
    """The request conflicts with the current state (admin API answers 409)."""


def problem_document(status: int, title: str, detail: str = "", *,
                     errors: list | None = None, **extra) -> dict:
    """Build an RFC 9457 problem document; ``errors`` items are Problems or dicts."""
    doc = {
        "type": f"https://pymock.dev/problems/{_TYPE_SLUGS.get(status, 'error')}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        doc["errors"] = [e.as_dict() if isinstance(e, Problem) else e for e in errors]
    doc.update(extra)
    return doc


def problem_body(status: int, title: str, detail: str = "", **kwargs) -> bytes:
    """The problem document as UTF-8 JSON bytes, ready to send."""
    return json.dumps(problem_document(status, title, detail, **kwargs), indent=2).encode()


def unknown_key_problems(obj: dict, allowed, where: str) -> list[Problem]:
    """A Problem for each key of ``obj`` not in ``allowed``, with a did-you-mean when close.

    >>> [str(p) for p in unknown_key_problems({"staus": 1}, ("status", "body"), "endpoints[0]")]
    ["endpoints[0].staus: unknown key (did you mean 'status'?)"]
    """
    out = []
    for key in obj:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, 1, 0.6)
            out.append(Problem(f"{where}.{key}" if where else str(key), "unknown key",
                               f"did you mean '{close[0]}'?" if close else "allowed here: " + ", ".join(allowed)))
    return out


def kind_name(value) -> str:
    """How an error message names a JSON value's type: 'an object', 'a list', 'null'..."""
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(value), "a number")
