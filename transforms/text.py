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
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_BLANK_RUNS = re.compile(r"\n{3,}")
# Invisible characters that join, never separate: removed ("ig\u200bnore" reads "ignore").
_INVISIBLE = re.compile("[\u200b\u2060\ufeff\u00ad]")
# What Postgres cannot store in text or jsonb (NUL) or UTF-8 cannot encode (lone surrogates).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


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
    """Collapse runs of spaces within lines, trim lines, keep at most one blank line in a row;
    invisible joiners (zero-width space, word joiner, BOM, soft hyphen) are dropped."""
    text = _INVISIBLE.sub("", text)
    lines = [_SPACES.sub(" ", line).strip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip()


def content_hash(*parts: str) -> str:
    """A stable hash of text parts (sha256, hex)."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8"))
        digest.update(b"\x00")
    return digest.hexdigest()


def storable(value):
    """``value`` (a str, or dicts and lists of them, any depth) without the characters Postgres
    cannot store: NUL, and lone surrogates (no UTF-8 form); with how many were removed. One NUL
    must never stop a day's load: the stages that first touch outside data call this."""
    if isinstance(value, str):
        if not _UNSTORABLE.search(value):
            return value, 0
        cleaned = _UNSTORABLE.sub("", value)
        return cleaned, len(value) - len(cleaned)
    if isinstance(value, dict):
        removed = 0
        out = {}
        for key, item in value.items():
            (key, n1), (item, n2) = storable(key), storable(item)
            out[key] = item
            removed += n1 + n2
        return out, removed
    if isinstance(value, list):
        pairs = [storable(item) for item in value]
        return [item for item, _ in pairs], sum(n for _, n in pairs)
    return value, 0
