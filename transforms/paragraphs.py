"""Split a job description (HTML or plain text) into the paragraphs the document itself shows.

A paragraph is a span ``(start, end)`` of the description's plain text. The spans promise:

* they are sorted and do not overlap;
* each one is non-empty and starts and ends on a non-space character;
* everything between two spans (and before the first, after the last) is whitespace only.

So every visible character of the description belongs to exactly one paragraph, and
``gaps + paragraphs`` concatenated in order reproduce the text exactly (:func:`reassemble`).

Boundaries, in the order they apply:

1. HTML is first turned into text by :func:`transforms.text.html_to_text`, which writes a blank
   line after block elements (``<p>``, headings, lists) and a line break for ``<li>`` and ``<br>``.
2. Blank lines and line breaks end a paragraph: headings, list items and ``<br>`` runs are each
   their own line, hence their own paragraph.
3. Hard-wrapped prose is joined back: a line that starts in lower case continues the previous
   line when that line is long (a wrap width) and did not end a sentence or a list item.
4. A paragraph longer than ``max_chars`` (typically a one-line description) is cut at sentence
   boundaries (and inline bullets), the sentences packed greedily into chunks of at most
   ``max_chars``; a single sentence longer than ``hard_max_chars`` is cut at spaces.

A short one-line description is therefore one paragraph.
"""

from __future__ import annotations

import re
from transforms.text import html_to_text

#: Paragraphs longer than this are cut at sentence boundaries.
MAX_CHARS = 400
#: A single sentence longer than this is cut at spaces.
HARD_MAX_CHARS = 1000
#: A line at least this long that ends mid-sentence is taken for a hard-wrapped line.
WRAP_WIDTH = 60

_HTML = re.compile(r"<(?:p|div|br|li|ul|ol|h[1-6]|span|b|strong|em|i|u|table|tr|td|section|a)\b[^>]*>", re.I)
_NONBLANK_LINE = re.compile(r"[^\s](?:[^\n]*[^\s])?")
_BULLET = re.compile(r"(?:[-*•·▪◦‣●○■□➢➤✓✔–—]|\d{1,2}[.)]|[a-zA-Z][.)])\s")
_ENDS_ITEM = re.compile(r"[.!?:;]['\"”’)\]]*$")
# A sentence ends at . ! ? (with closing quotes/brackets) followed by space and a capital, a digit,
# an opening quote/bracket or a bullet; inline bullets (" • ") also start a new piece.
_SENTENCE_END = re.compile(r"[.!?]+['\"”’)\]]*\s+(?=[A-Z0-9\"“‘'(\[•*\-])|\s+(?=[•▪●➢➤✓✔]\s)")
_SPACE = re.compile(r"\s+")


#: A paragraph's place in the plain text: ``text[start:end]`` (a plain tuple: it is made per line).
Span = tuple[int, int]


def looks_like_html(text: str) -> bool:
    """True when the text carries HTML markup (tags such as ``<p>``, ``<br>``, ``<li>``)."""
    return bool(_HTML.search(text))


def to_text(text_or_html: str) -> str:
    """The plain text that paragraphs are spans of: HTML converted, plain text unchanged."""
    if text_or_html and looks_like_html(text_or_html):
        return html_to_text(text_or_html)
    return text_or_html or ""


def paragraph_spans(text: str, max_chars: int = MAX_CHARS, hard_max_chars: int = HARD_MAX_CHARS) -> list[Span]:
    """The paragraphs of a plain text as spans (see the module docstring for the promises)."""
    # each match: one line, stripped, non-blank
    lines: list[tuple[int, int]] = [m.span() for m in _NONBLANK_LINE.finditer(text)]
    if any(text[lines[i][0]].islower() and lines[i - 1][1] - lines[i - 1][0] >= WRAP_WIDTH
           for i in range(1, len(lines))):  # rare: some line may continue a hard-wrapped one
        lines = _join_wrapped(text, lines)
    spans: list[Span] = []
    for start, end in lines:
        if end - start > max_chars:
            spans.extend(_split_long(text, (start, end), max_chars, hard_max_chars))
        else:
            spans.append((start, end))
    return spans


def split_paragraphs(text_or_html: str, max_chars: int = MAX_CHARS) -> list[str]:
    """The paragraphs of a description (HTML or text), in order, each stripped of outer spaces."""
    text = to_text(text_or_html)
    return [text[s:e] for s, e in paragraph_spans(text, max_chars)]


def reassemble(text: str, spans: list[Span]) -> str:
    """Gaps and paragraphs concatenated in order; equals ``text`` for spans from :func:`paragraph_spans`."""
    out: list[str] = []
    pos = 0
    for start, end in spans:
        out.append(text[pos:start])
        out.append(text[start:end])
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _join_wrapped(text: str, lines: list[tuple[int, int]]) -> list[tuple[int, int]]:
    joined: list[tuple[int, int]] = []
    for start, end in lines:
        if joined and text[start].islower() and _continues(text, joined[-1], start):
            joined[-1] = (joined[-1][0], end)
        else:
            joined.append((start, end))
    return joined


def _continues(text: str, previous: tuple[int, int], start: int) -> bool:
    """Whether the line at ``start`` is the hard-wrapped continuation of the paragraph ``previous``."""
    if not text[start].islower() or text.count("\n", previous[1], start) != 1:
        return False  # a capital, a bullet or a blank line in between: a new paragraph
    last_line = text[max(text.rfind("\n", previous[0], previous[1]) + 1, previous[0]):previous[1]]
    return (
        len(last_line) >= WRAP_WIDTH
        and not _ENDS_ITEM.search(last_line)
        and not _BULLET.match(text, start)
    )


def _split_long(text: str, span: Span, max_chars: int, hard_max_chars: int) -> list[Span]:
    """Cut an over-long paragraph at sentence boundaries, packing sentences up to ``max_chars``."""
    pieces = _sentences(text, span)
    pieces = [p for piece in pieces for p in (_cut_at_spaces(text, piece, max_chars)
                                               if piece[1] - piece[0] > hard_max_chars else [piece])]
    out: list[Span] = []
    for piece in pieces:
        if out and piece[1] - out[-1][0] <= max_chars:
            out[-1] = (out[-1][0], piece[1])
        else:
            out.append(piece)
    return out


def _sentences(text: str, span: Span) -> list[Span]:
    pieces: list[Span] = []
    start = span[0]
    for match in _SENTENCE_END.finditer(text, span[0], span[1]):
        cut = match.start() + len(match.group().rstrip())  # keep the punctuation with its sentence
        if cut > start:
            pieces.append((start, cut))
        start = match.end()
    if start < span[1]:
        pieces.append((start, span[1]))
    return pieces


def _cut_at_spaces(text: str, span: Span, max_chars: int) -> list[Span]:
    """Last resort for a run-on sentence: cut at the last space before ``max_chars``."""
    pieces: list[Span] = []
    start = span[0]
    while span[1] - start > max_chars:
        window_end = start + max_chars
        cut = text.rfind(" ", start + 1, window_end)
        while cut > start and text[cut - 1].isspace():  # to the start of that run of spaces
            cut -= 1
        if cut <= start:  # no space at all: cut inside the word rather than exceed the limit
            cut = window_end
        pieces.append((start, cut))
        gap = _SPACE.match(text, cut)
        start = gap.end() if gap else cut
    if start < span[1]:
        pieces.append((start, span[1]))
    return pieces
