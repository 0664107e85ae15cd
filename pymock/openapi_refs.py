"""Reading spec documents and bundling the ones their ``$ref``s name into one document.

Layer 1: ``parse_spec_text`` turns JSON/YAML text into data; ``_Reader`` reads the documents
``$ref``s name (local files, or remote ones only through a ``fetch`` callback the caller passes);
``_Bundler`` mounts every other document inside a private copy of the root under
``/x-pymock-documents/<n>`` and rewrites every ``$ref`` to a local pointer. No sockets, no threads.

>>> parse_spec_text('{"openapi": "3.0.3"}')
{'openapi': '3.0.3'}

Must not import ``openapi`` or ``openapi_normalise`` (they import this), ``config``, ``engine``,
``app`` or anything of layer 2.
"""

from __future__ import annotations

import json
from urllib.parse import unquote, urljoin, urlsplit

from .errors import Problem, SpecError, YamlError
from .openapi_model import _DATA_KEYS, _MOUNT, _NAME_MAPS, esc

__all__ = ["parse_spec_text"]


# ---------------------------------------------------------------- reading documents

def parse_spec_text(text, name: str = "<spec>"):
    """JSON or YAML text to data; syntax errors become a SpecError naming name:line:col."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise SpecError(f"{name} is not UTF-8 text (byte {exc.start})") from None
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped.startswith(("{", "[")):
        try:
            return json.loads(stripped)
        except json.JSONDecodeError as exc:
            if name.endswith(".json"):
                raise SpecError(f"{name}:{exc.lineno}:{exc.colno}: JSON syntax error: {exc.msg}") from None
    from . import miniyaml  # imported lazily: JSON specs never need it
    try:
        return miniyaml.load(text, source_name=name)
    except YamlError as exc:
        raise SpecError(f"{name}:{exc.line}:{exc.col}: YAML error: {exc.message}") from None


class _Reader:
    """Reads the documents ``$ref`` s name: local files, or remote ones through ``fetch``."""

    def __init__(self, fetch, allow_files: bool):
        self.fetch, self.allow_files = fetch, allow_files
        self.files: list[str] = []

    def read(self, uri: str):
        parts = urlsplit(uri)
        if parts.scheme in ("http", "https"):
            if self.fetch is None:
                raise SpecError(f"cannot fetch {uri}: remote references need a fetch callback "
                                "(the CLI passes one; the admin API does not fetch)")
            return parse_spec_text(self.fetch(uri), uri)
        if parts.scheme != "file" or not self.allow_files:
            raise SpecError(f"cannot read {uri}: a spec given as text can only reference "
                            "itself (load it from a file to follow relative references)")
        path = unquote(parts.path)
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            raise SpecError(f"cannot read {path}: {exc.strerror}") from None
        self.files.append(path)
        return parse_spec_text(data, path)


# ---------------------------------------------------------------- bundling

class _Bundler:
    """Collects every document reachable through $refs and rewrites refs to local pointers."""

    def __init__(self, root_uri: str, reader: _Reader, problems: list):
        self.root_uri, self.reader, self.problems = root_uri, reader, problems
        self.mounts: dict[str, str] = {root_uri: ""}   # document URI -> mount pointer
        self.docs: dict[str, object] = {}
        self.swagger = False

    def bundle(self, root: dict) -> tuple[dict, dict]:
        self.docs[self.root_uri] = root
        pending, out = [self.root_uri], {}
        while pending:
            uri = pending.pop(0)
            out[uri] = self._rewrite(self.docs[uri], uri, self.mounts[uri], pending, False)
        document = out.pop(self.root_uri)
        if out:
            document = dict(document)
            document[_MOUNT] = {self.mounts[u][len(_MOUNT) + 2:]: doc for u, doc in out.items()}
        return document, {mount: uri for uri, mount in self.mounts.items() if mount}

    def _mount(self, uri: str, where: str, pending: list) -> str | None:
        if uri in self.mounts:
            return self.mounts[uri]
        try:
            self.docs[uri] = self.reader.read(uri)
        except SpecError as exc:
            self.problems.append(Problem(where, f"$ref to another document failed: {exc}",
                                         "check the relative path, or bundle the spec into one file"))
            return None
        self.mounts[uri] = f"/{_MOUNT}/{len(self.mounts) - 1}"
        pending.append(uri)
        return self.mounts[uri]

    def _ref(self, ref: str, uri: str, mount: str, where: str, pending: list) -> str:
        if ref.startswith("#"):
            # Pointers in a URI fragment may be percent-encoded ({id} as %7Bid%7D): decode once.
            local = "#" + unquote(ref[1:]) if "%" in ref else ref
            return local if not mount else "#" + mount + local[1:]
        target, _, fragment = urljoin(uri, ref).partition("#") if uri else (ref, "", "")
        if not uri:
            self.problems.append(Problem(where, f"$ref {ref!r} names another document, but this "
                                         "spec was given as text", "load the spec from its file"))
            return ref
        if target == self.root_uri:
            return "#" + unquote(fragment)
        prefix = self._mount(target, where, pending)
        return ref if prefix is None else "#" + prefix + unquote(fragment)

    def _rewrite(self, node, uri: str, mount: str, pending: list, in_map: bool, where: str = ""):
        """``node`` with refs rewritten; unchanged subtrees are shared, not copied."""
        if isinstance(node, list):
            new = [self._rewrite(v, uri, mount, pending, False, f"{where}/{i}") for i, v in enumerate(node)]
            return node if all(a is b for a, b in zip(new, node)) else new
        if not isinstance(node, dict):
            return node
        changed = {}
        for key, value in node.items():
            if not in_map and (key in _DATA_KEYS or (isinstance(key, str) and key.startswith("x-"))):
                continue
            at = f"{mount}{where}/{esc(key)}"
            if key == "$ref" and isinstance(value, str) and not in_map:
                new = self._ref(value, uri, mount, at, pending)
            elif self.swagger and key == "type" and value == "file" and not in_map:
                new = "string"   # Swagger's "file" is no JSON Schema type: a binary string
                changed["format"] = "binary"
            else:
                new = self._rewrite(value, uri, mount, pending, key in _NAME_MAPS and not in_map,
                                    f"{where}/{esc(key)}")
            if new is not value:
                changed[key] = new
        return {**node, **changed} if changed else node
