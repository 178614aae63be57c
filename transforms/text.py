"""Text helpers shared by the scrapers and the stages."""

from __future__ import annotations

import hashlib
import re

import lxml.html

# Elements after which a paragraph ends, and those that end a line inside a paragraph.
_BLOCK_TAGS = {
    "p", "div", "section", "article", "header", "footer", "ul", "ol", "table", "blockquote",
    "h1", "h2", "h3", "h4", "h5", "h6", "pre", "hr",
}
_LINE_TAGS = {"li", "br", "tr", "dt", "dd"}
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u200b]+")
_BLANK_RUNS = re.compile(r"\n{3,}")


def html_to_text(html: str) -> str:
    """Plain text of an HTML fragment, keeping its structure: a blank line between paragraphs
    (``<p>``, headings, lists, ``<br><br>`` runs) and a line break for each list item or ``<br>``."""
    if not html or not html.strip():
        return ""
    root = lxml.html.fragment_fromstring(html, create_parent="div")
    for bad in root.xpath("//script|//style"):
        bad.drop_tree()
    parts: list[str] = []

    def walk(node) -> None:
        tag = node.tag if isinstance(node.tag, str) else ""
        if tag in _BLOCK_TAGS:
            parts.append("\n\n")
        elif tag == "li":
            parts.append("\n- " if _in_list(node) else "\n")
        elif tag in _LINE_TAGS:
            parts.append("\n")
        if node.text and tag:
            parts.append(node.text)
        for child in node:
            walk(child)
            if child.tail:
                parts.append(child.tail)
        if tag in _BLOCK_TAGS:
            parts.append("\n\n")

    walk(root)
    return normalise_whitespace("".join(parts))


def _in_list(node) -> bool:
    parent = node.getparent()
    return parent is not None and parent.tag in {"ul", "ol"}


def normalise_whitespace(text: str) -> str:
    """Collapse runs of spaces within lines, trim lines, keep at most one blank line in a row."""
    lines = [_SPACES.sub(" ", line).strip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip()


def content_hash(*parts: str) -> str:
    """A stable hash of text parts (sha256, hex)."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8"))
        digest.update(b"\x00")
    return digest.hexdigest()
