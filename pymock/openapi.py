"""Load an OpenAPI 3.0/3.1 or Swagger 2.0 document into one internal model of operations.

Layer 1: reads the spec file and the files its ``$ref``s name (remote documents only through
a ``fetch`` callback the caller passes, e.g. the CLI's urllib one); no sockets, no threads.
Must not import ``config``, ``engine``, ``app`` or anything of layer 2.

External references are *bundled*: every other document is mounted inside a private copy of
the root under ``/x-pymock-documents/<n>`` and every ``$ref`` is rewritten to a local pointer,
so one :class:`~pymock.schema.SchemaCompiler` sees one self-contained document, and circular
references (across files too) stay plain references. Swagger 2.0 is normalised on the way:
``in: body``/``formData`` parameters become a request body, ``produces`` gives response media
types, and parameter schemas are written under ``/x-pymock-synthetic/<n>``.

Broken parts are reported as :class:`~pymock.errors.Problem` s whose path is a JSON pointer
into the spec, and skipped: an operation with one bad response still imports. Only a document
that is not an OpenAPI document at all raises :class:`~pymock.errors.SpecError`.

The work is split by stage: ``openapi_model`` (the model and JSON pointers), ``openapi_refs``
(reading and ``$ref`` bundling), ``openapi_normalise`` (path items to operations) and this
module (loading, and the public API); every name stays importable from here.

>>> spec = load_spec({"openapi": "3.0.3", "info": {"title": "t", "version": "1"},
...     "paths": {"/pets/{id}": {"get": {"operationId": "getPet", "parameters": [
...         {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
...         "responses": {"200": {"description": "ok"}}}}}})
>>> op = spec.operations[0]
>>> op.method, op.path, op.operation_id, op.parameters[0].schema, op.pointer
('GET', '/pets/{id}', 'getPet', '/paths/~1pets~1{id}/get/parameters/0/schema', '/paths/~1pets~1{id}/get')
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

from .errors import Problem, SpecError
from .openapi_model import (_COLLECTION_STYLES, _DATA_KEYS, _MOUNT, _NAME_MAPS,  # noqa: F401
                            _SCHEMA_WORDS, _STATUS, _SYNTH, JSON_TYPES, METHODS, Header, MediaType,
                            Operation, Parameter, RequestBody, ResponseDef, SecurityScheme, Spec, _short,
                            esc, node_at, pointer_to)
from .openapi_normalise import _Normaliser, _check_top, _examples, _media_list, _x_example  # noqa: F401
from .openapi_refs import _Bundler, _Reader, parse_spec_text

__all__ = [
    "Spec", "Operation", "Parameter", "RequestBody", "MediaType", "ResponseDef", "Header",
    "SecurityScheme", "load_spec", "load_spec_text", "parse_spec_text", "METHODS", "esc",
    "pointer_to", "node_at", "JSON_TYPES",
]


def load_spec(source, *, name: str | None = None, fetch=None) -> Spec:
    """A :class:`Spec` from a file path, a ``file:``/``http(s):`` URL or an already parsed dict.

    Raises SpecError when the document cannot be read or is not an OpenAPI/Swagger document;
    everything else wrong is listed in ``spec.problems`` (each with a JSON pointer).
    """
    if isinstance(source, dict):
        return _build(source, "", name or "<spec>", _Reader(fetch, False))
    text = os.fspath(source)
    if re.match(r"^https?://", text):
        if fetch is None:
            raise SpecError(f"cannot fetch {text}: loading a spec from a URL needs a fetch callback")
        return _build(parse_spec_text(fetch(text), text), text, name or text, _Reader(fetch, False))
    path = os.path.abspath(unquote(urlsplit(text).path) if text.startswith("file:") else text)
    reader = _Reader(fetch, True)
    uri = Path(path).as_uri()
    document = reader.read(uri)
    return _build(document, uri, name or path, reader)


def load_spec_text(text, *, name: str = "<spec>", base: str | None = None, fetch=None) -> Spec:
    """A Spec from JSON/YAML text (the admin API); ``base`` (a file path or URL) lets relative
    references resolve, and without it the document must be self-contained."""
    document = parse_spec_text(text, name)
    if base is None:
        return _build(document, "", name, _Reader(fetch, False))
    uri = base if re.match(r"^[a-z]+:", base) else Path(os.path.abspath(base)).as_uri()
    return _build(document, uri, name, _Reader(fetch, uri.startswith("file:")))



# ---------------------------------------------------------------- normalising

def _build(document, uri: str, source: str, reader: _Reader) -> Spec:
    if not isinstance(document, dict):
        raise SpecError(f"{source}: an OpenAPI document is an object at the top level, got "
                        f"{type(document).__name__}")
    version = document.get("openapi", document.get("swagger"))
    if version is None:
        raise SpecError(f"{source}: not an OpenAPI document: it has no 'openapi' or 'swagger' field",
                        "", [Problem("", "missing 'openapi' (3.x) or 'swagger' (2.0)")])
    version = str(version)
    if not re.match(r"^(2\.0|3\.[01])(\.\d+)?(-[\w.]+)?$", version):
        raise SpecError(f"{source}: unsupported version {version!r}; pymock reads Swagger 2.0 and "
                        "OpenAPI 3.0.x/3.1.x", "/openapi" if "openapi" in document else "/swagger")
    problems: list[Problem] = []
    bundler = _Bundler(uri, reader, problems)
    bundler.swagger = version.startswith("2")
    bundled, mounts = bundler.bundle(document)
    dialect = "swagger-2.0" if bundler.swagger else "openapi-3.0" if version.startswith("3.0") \
        else "2020-12"
    spec = Spec(version, dialect, bundled, document, source, problems=problems,
                files=tuple(reader.files), mounts=mounts)
    _check_top(spec)
    normaliser = _Normaliser(spec)
    spec.security_schemes = normaliser.security_schemes()
    spec.operations = tuple(normaliser.operations())
    if normaliser.synthetic:
        spec.document = {**spec.document, _SYNTH: normaliser.synthetic}
    info = document.get("info")
    spec.title = str(info.get("title", "")) if isinstance(info, dict) else ""
    return spec
