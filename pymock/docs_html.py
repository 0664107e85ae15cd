"""API documentation as one self-contained HTML page (inline CSS, no scripts, no external assets).

Layer 0 (pure): renders the block list from ``docs_builder._Builder``. Every piece of spec text
is escaped and only http(s), mailto and in-page links survive, so a hostile description cannot
inject markup. ``docs.render_html`` is this function; import it from there.

Must not import ``docs`` (it imports this), any higher pymock layer, sockets, threads or
file-reading modules.
"""

from __future__ import annotations

import html
import re

from .docs_blocks import DEFAULT_BASE_URL, Block, Code, Link, Prose, Strong, _LINK, _safe_href
from .docs_builder import _Builder
from .specdiff import SpecModel

__all__ = ["render_html"]

# ---------------------------------------------------------------- HTML

_CSS = """
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;background:#fff}
nav{position:fixed;top:0;left:0;bottom:0;width:18rem;overflow-y:auto;padding:1rem;background:#f6f8fa;border-right:1px solid #d0d7de;font-size:13px}
nav ul{list-style:none;margin:0;padding-left:.8rem}nav>ul{padding-left:0}
nav a{color:#1f2328;text-decoration:none}nav a:hover{text-decoration:underline}
main{margin-left:18rem;padding:1.5rem 2.5rem;max-width:72rem}
h1{margin-top:0}h2{border-bottom:1px solid #d0d7de;padding-bottom:.3rem;margin-top:2.5rem}
h3{margin-top:2rem;padding:.4rem .6rem;background:#f6f8fa;border-radius:6px;font-family:ui-monospace,SFMono-Regular,Menlo,monospace}
h4{margin-bottom:.3rem}
table{border-collapse:collapse;margin:.5rem 0 1rem;width:100%;font-size:14px}
th,td{border:1px solid #d0d7de;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}
code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:90%;background:#eff1f3;padding:.1rem .3rem;border-radius:4px}
pre{background:#f6f8fa;padding:.8rem;border-radius:6px;overflow-x:auto}pre code{background:none;padding:0}
.method{display:inline-block;min-width:4.2rem;text-align:center;color:#fff;border-radius:4px;padding:0 .4rem;margin-right:.4rem;font-weight:600}
.get{background:#1f6feb}.post{background:#1a7f37}.put{background:#9a6700}.patch{background:#8250df}
.delete{background:#cf222e}.head,.options,.trace{background:#57606a}
@media (max-width:800px){nav{position:static;width:auto;border:0}main{margin:0;padding:1rem}}
""".strip()

_METHOD_WORDS = {"GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE"}


def _esc(text) -> str:
    return html.escape(str(text), quote=True)


def _prose_inline(text: str) -> str:
    """The author's Markdown inline subset, escaped first: code, bold, italics, safe links."""
    out = _esc(text)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    out = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", out)
    out = re.sub(r"(?<![\w*])\*([^*\s][^*]*)\*(?![\w*])", r"<em>\1</em>", out)

    def link(match):
        href = _safe_href(html.unescape(match.group(2)))
        return f'<a href="{_esc(href)}">{match.group(1)}</a>' if href else match.group(1)
    return _LINK.sub(link, out)


_BULLET = re.compile(r"^\s*[-*] ")


def _prose_html(text: str) -> str:
    blocks = []
    for chunk in re.split(r"\n\s*\n", text.strip()):
        lines = chunk.splitlines()
        if lines and all(_BULLET.match(line) for line in lines):
            items = "".join("<li>" + _prose_inline(_BULLET.sub("", line)) + "</li>" for line in lines)
            blocks.append(f"<ul>{items}</ul>")
        elif chunk.strip():
            blocks.append("<p>" + _prose_inline(" ".join(line.strip() for line in lines)) + "</p>")   # soft breaks
    return "".join(blocks)


def _html_inline(parts) -> str:
    out = []
    for part in parts:
        if isinstance(part, Code):
            out.append(f"<code>{_esc(part.text)}</code>")
        elif isinstance(part, Link):
            href = _safe_href(part.href) or "#"
            out.append(f'<a href="{_esc(href)}">{_esc(part.text)}</a>')
        elif isinstance(part, Strong):
            out.append(f"<strong>{_esc(part.text)}</strong>")
        elif isinstance(part, Prose):
            out.append(_prose_inline(part.text.strip()))
        elif part in _METHOD_WORDS:
            out.append(f'<span class="method {part.lower()}">{part}</span>')
        else:
            out.append(_esc(part))
    return "".join(out)


def _html_block(block: Block) -> str:
    if block.kind == "heading":
        return f'<h{block.level} id="{_esc(block.anchor)}">{_html_inline(block.parts)}</h{block.level}>'
    if block.kind == "para":
        return f"<p>{_html_inline(block.parts)}</p>"
    if block.kind == "prose":
        return "".join(_prose_html(p.text) for p in block.parts)
    if block.kind == "list":
        return "<ul>" + "".join(f"<li>{_html_inline(row)}</li>" for row in block.rows) + "</ul>"
    if block.kind == "code":
        return f'<pre><code class="language-{_esc(block.lang)}">{_esc(block.text)}</code></pre>'
    if block.kind == "table":
        head = "".join(f"<th>{_esc(h)}</th>" for h in block.headers)
        body = "".join("<tr>" + "".join(f"<td>{_html_inline(cell)}</td>" for cell in row) + "</tr>"
                       for row in block.rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    if block.kind == "toc":
        return ""   # the contents go into the <nav> sidebar
    raise ValueError(f"unknown block kind {block.kind!r}")  # pragma: no cover - builder bug


def _html_nav(blocks: list, title: str, top: str) -> str:
    toc = next((b for b in blocks if b.kind == "toc"), None)
    items = []
    for parts, anchor, children in toc.rows if toc else []:
        sub = "".join(f'<li><a href="#{_esc(a)}">{_html_inline(p)}</a></li>' for p, a, _ in children)
        items.append(f'<li><a href="#{_esc(anchor)}"><strong>{_html_inline(parts)}</strong></a>'
                     + (f"<ul>{sub}</ul>" if sub else "") + "</li>")
    return (f'<nav aria-label="Contents"><p><a href="#{_esc(top)}"><strong>{_esc(title)}</strong></a></p>'
            f"<ul>{''.join(items)}</ul></nav>")


def render_html(spec, *, mocks=None, base_url: str = DEFAULT_BASE_URL, name: str = "the spec") -> str:
    """One self-contained HTML page (inline CSS, no scripts, no external assets)."""
    model = spec if isinstance(spec, SpecModel) else SpecModel(spec, name)
    blocks = _Builder(model, mocks, base_url).build()
    body = "\n".join(text for text in (_html_block(b) for b in blocks) if text)
    title = f"{model.title} {model.api_version}".strip()
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{_esc(title)}</title>\n<style>\n{_CSS}\n</style>\n</head>\n<body>\n"
            f"{_html_nav(blocks, model.title, blocks[0].anchor)}\n<main>\n{body}\n</main>\n</body>\n</html>\n")
