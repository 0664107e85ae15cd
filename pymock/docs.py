"""API documentation from an OpenAPI document: Markdown, and one self-contained HTML page.

Layer 0 (pure): imports only the standard library and ``.specdiff`` (for the normalised
``SpecModel``); no sockets, threads or files. The same input always gives byte-identical output
(document order throughout, no clocks). The HTML page has inline CSS, no scripts and no external
assets, and every piece of spec text is escaped, so a hostile description cannot inject markup.

Both renderers share one intermediate list of blocks built by ``_Builder``: title, version,
servers, a table of contents grouped by tag, and per operation its method and path, summary and
description, a parameters table, the request body (schema as a nested table, example), every
response (headers, schema, example), what the mocks do on error paths (failure rates, faults,
variants, sequences) when ``mocks`` (a config's endpoint list) is given, and a ``curl`` command
against ``base_url``; then every named schema.

>>> spec = {"openapi": "3.0.3", "info": {"title": "Pets", "version": "1.0"}, "paths": {
...     "/pets": {"get": {"summary": "List pets", "responses": {"200": {"description": "ok"}}}}}}
>>> text = render_markdown(spec)
>>> text.splitlines()[2], "curl -i -X GET http://127.0.0.1:8080/pets" in text
('# Pets', True)
>>> "<script>" in render_html({**spec, "info": {"title": "<script>", "version": "1"}})
False

The work is split by stage: ``docs_blocks`` (the block types and value helpers),
``docs_builder`` (spec → blocks), this module (blocks → Markdown, and the public API) and
``docs_html`` (blocks → HTML); every name stays importable from here.

Must not import any higher pymock layer, sockets, threads or file-reading modules.
"""

from __future__ import annotations

import re

from .docs_blocks import (DEFAULT_BASE_URL, Block, Code, Link, Prose, Strong, _LINK, _Sampler,  # noqa: F401
                          _constraints, _form_text, _inline, _json_inline, _json_text, _latency,
                          _merge_all_of, _mock_lines, _phrase, _safe_href, _text, _types_text)
from .docs_builder import _MAX_DEPTH, _MAX_ROWS, _Anchors, _Builder  # noqa: F401
from .docs_html import (_BULLET, _CSS, _METHOD_WORDS, _esc, _html_block, _html_inline,  # noqa: F401
                        _html_nav, _prose_html, _prose_inline, render_html)
from .specdiff import SpecModel

__all__ = ["render_markdown", "render_html", "DEFAULT_BASE_URL"]


# ---------------------------------------------------------------- Markdown

def _md_escape(text: str) -> str:
    return re.sub(r"([\\`*_\[\]<>|#])", r"\\\1", str(text))


def _md_code(text: str) -> str:
    text = str(text).replace("\n", " ")
    fence = "`"
    while fence in text:
        fence += "`"
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _md_safe_links(text: str) -> str:
    """Links to anything but http(s), mailto and in-page anchors lose their target."""
    return _LINK.sub(lambda m: m.group(0) if _safe_href(m.group(2)) else m.group(1), text)


def _md_inline(parts, table: bool = False) -> str:
    out = []
    for part in parts:
        if isinstance(part, Code):
            out.append(_md_code(part.text))
        elif isinstance(part, Link):
            out.append(f"[{_md_escape(part.text)}]({part.href})")
        elif isinstance(part, Strong):
            out.append(f"**{_md_escape(part.text)}**")
        elif isinstance(part, Prose):
            text = _md_safe_links(part.text.replace("<", "&lt;").strip())   # the author's Markdown, minus raw HTML
            out.append(re.sub(r"\s*\n\s*", " ", text).replace("|", "\\|") if table else text)
        else:
            out.append(_md_escape(part))
    return "".join(out)


def _md_block(block: Block) -> list[str]:
    if block.kind == "heading":
        return [f'<a id="{block.anchor}"></a>', "", "#" * block.level + " " + _md_inline(block.parts), ""]
    if block.kind in ("para", "prose"):
        return [_md_inline(block.parts), ""]
    if block.kind == "list":
        return [f"- {_md_inline(row)}" for row in block.rows] + [""]
    if block.kind == "code":
        fence = "```" if "```" not in block.text else "````"
        return [f"{fence}{block.lang}", block.text, fence, ""]
    if block.kind == "table":
        lines = ["| " + " | ".join(block.headers) + " |", "|" + " --- |" * len(block.headers)]
        lines += ["| " + " | ".join(_md_inline(cell, table=True) or " " for cell in row) + " |" for row in block.rows]
        return lines + [""]
    if block.kind == "toc":
        lines = [f'<a id="{block.anchor}"></a>', "", "## Contents", ""]
        for parts, anchor, children in block.rows:
            lines.append(f"- [{_md_inline(parts)}](#{anchor})")
            lines += [f"  - [{_md_inline(c_parts)}](#{c_anchor})" for c_parts, c_anchor, _ in children]
        return lines + [""]
    raise ValueError(f"unknown block kind {block.kind!r}")  # pragma: no cover - builder bug


def render_markdown(spec, *, mocks=None, base_url: str = DEFAULT_BASE_URL, name: str = "the spec") -> str:
    """Markdown documentation for ``spec`` (a dict or ``SpecModel``); raises ``SpecError``."""
    model = spec if isinstance(spec, SpecModel) else SpecModel(spec, name)
    lines = []
    for block in _Builder(model, mocks, base_url).build():
        lines += _md_block(block)
    return "\n".join(lines).rstrip("\n") + "\n"
