"""The internal model of a loaded OpenAPI/Swagger document, and JSON pointer helpers.

Layer 1: data classes only (``Spec``, ``Operation``, ``Parameter``, ...) plus the RFC 6901
pointer helpers every openapi module uses; ``openapi_refs`` reads and bundles documents,
``openapi_normalise`` fills this model, and ``openapi.load_spec`` ties them together. Import
these names from ``openapi``.

>>> pointer_to("paths", "/pets/{id}", "get")
'/paths/~1pets~1{id}/get'
>>> node_at({"a": [{"b": 1}]}, "/a/0/b")
1

Must not import ``openapi``, ``openapi_refs`` or ``openapi_normalise`` (they import this),
``config``, ``engine``, ``app`` or anything of layer 2.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass, field
from urllib.parse import urlsplit

__all__ = [
    "Spec", "Operation", "Parameter", "RequestBody", "MediaType", "ResponseDef", "Header",
    "SecurityScheme", "METHODS", "esc", "pointer_to", "node_at", "JSON_TYPES",
]

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
JSON_TYPES = re.compile(r"^application/(?:[\w.+-]+\+)?json\b|^\*/\*$|^application/\*$", re.I)
_STATUS = re.compile(r"^(?:[1-5][0-9][0-9]|[1-5]XX|default)$", re.I)
_MOUNT, _SYNTH = "x-pymock-documents", "x-pymock-synthetic"
# Keys whose values are data, not OpenAPI/Schema objects: a "$ref" inside them is not a reference.
_DATA_KEYS = frozenset({"example", "enum", "const", "default", "value", "externalValue"})
# Keys whose values map arbitrary names to objects (a property may be called "default").
_NAME_MAPS = frozenset({"properties", "patternProperties", "definitions", "$defs", "schemas",
                        "responses", "parameters", "headers", "examples", "securitySchemes",
                        "securityDefinitions", "requestBodies", "links", "callbacks", "paths",
                        "pathItems", "dependentSchemas", "webhooks", "content", "encoding"})
_SCHEMA_WORDS = ("type", "format", "items", "enum", "default", "maximum", "exclusiveMaximum",
                 "minimum", "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems",
                 "minItems", "uniqueItems", "multipleOf", "x-nullable")
_COLLECTION_STYLES = {"csv": ("form", False), "ssv": ("spaceDelimited", False),
                      "pipes": ("pipeDelimited", False), "tsv": ("tabDelimited", False),
                      "multi": ("form", True)}


def esc(token) -> str:
    """One JSON pointer token: ``~`` and ``/`` escaped (RFC 6901)."""
    return str(token).replace("~", "~0").replace("/", "~1")


def pointer_to(*tokens) -> str:
    return "".join("/" + esc(t) for t in tokens)


def node_at(document, pointer: str):
    """The value at ``pointer`` in ``document``; KeyError when it does not exist."""
    node = document
    for token in pointer.split("/")[1:] if pointer else ():
        token = token.replace("~1", "/").replace("~0", "~")
        try:
            node = node[int(token)] if isinstance(node, list) else node[token]
        except (IndexError, ValueError, TypeError):
            raise KeyError(pointer) from None
    return node


# ---------------------------------------------------------------- the model

@dataclass(frozen=True)
class MediaType:
    """One content type of a body: its schema's pointer and its examples ((name, value), ...)."""

    content_type: str
    schema: str | None
    examples: tuple = ()
    pointer: str = ""


@dataclass(frozen=True)
class Parameter:
    name: str
    location: str                  # path, query, header or cookie
    required: bool
    schema: str | None             # pointer of the schema (None: anything goes)
    style: str
    explode: bool
    pointer: str = ""
    content_type: str | None = None   # a parameter given with ``content`` instead of ``schema``
    examples: tuple = ()


@dataclass(frozen=True)
class RequestBody:
    required: bool
    content: tuple                 # (MediaType, ...)
    pointer: str = ""


@dataclass(frozen=True)
class Header:
    name: str
    required: bool
    schema: str | None
    pointer: str = ""
    examples: tuple = ()


@dataclass(frozen=True)
class ResponseDef:
    status: str                    # "200", "4XX" or "default"
    description: str
    headers: tuple                 # (Header, ...)
    content: tuple                 # (MediaType, ...)
    pointer: str = ""


@dataclass(frozen=True)
class SecurityScheme:
    name: str
    type: str                      # apiKey, http, oauth2, openIdConnect, mutualTLS
    location: str = ""             # apiKey: header, query or cookie
    param_name: str = ""           # apiKey: the header/query/cookie name
    scheme: str = ""               # http: basic, bearer, ...


@dataclass(frozen=True)
class Operation:
    method: str                    # upper case
    path: str                      # the path key as written in the spec
    operation_id: str | None
    pointer: str
    parameters: tuple = ()
    request_body: RequestBody | None = None
    responses: tuple = ()          # (ResponseDef, ...) in document order
    security: tuple = ()           # alternatives: ({scheme name: scopes}, ...); () = none needed
    summary: str = ""
    tags: tuple = ()

    def response(self, status: str) -> ResponseDef | None:
        for response in self.responses:
            if response.status == status:
                return response
        return None


@dataclass
class Spec:
    """A loaded spec: the bundled document, its operations, and what was wrong with it."""

    version: str
    dialect: str                   # the schema dialect for pymock.schema
    document: dict                 # bundled: self-contained, only local $refs
    raw: dict                      # the root document as read (not bundled)
    source: str                    # file path, URL or a name
    operations: tuple = ()
    security_schemes: dict = field(default_factory=dict)
    problems: list = field(default_factory=list)
    files: tuple = ()              # local files read (the root and every referenced one)
    title: str = ""
    mounts: dict = field(default_factory=dict)   # mount pointer -> document URI
    cache: dict = field(default_factory=dict, repr=False)   # compiled checks (contract_checks)
    _compiler: object = field(default=None, repr=False)
    _lock: object = field(default_factory=threading.Lock, repr=False)

    @property
    def kind(self) -> str:
        return "swagger" if self.version.startswith("2") else "openapi"

    def node(self, pointer: str):
        return node_at(self.document, pointer)

    def where(self, pointer: str) -> str:
        """A pointer as people read it: bundled documents by their file name."""
        for mount, uri in self.mounts.items():
            if pointer == mount or pointer.startswith(mount + "/"):
                return f"{_short(uri)}#{pointer[len(mount):]}"
        return pointer

    def operation_at(self, pointer: str) -> Operation | None:
        for operation in self.operations:
            if operation.pointer == pointer:
                return operation
        return None

    def schema_compiler(self):
        """One shared SchemaCompiler for every schema in the document (built on first use)."""
        with self._lock:
            if self._compiler is None:
                from .schema import SchemaCompiler
                self._compiler = SchemaCompiler(self.document, dialect=self.dialect)
            return self._compiler


def _short(uri: str) -> str:
    return os.path.basename(urlsplit(uri).path) or uri
