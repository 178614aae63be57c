"""Paragraph splitting: each boundary rule, each fallback, and the no-character-lost invariant."""

from __future__ import annotations

import json
import random

import lxml.html
import pytest

from jobreqs.config import SOURCE_DATA_DIR
from transforms.paragraphs import (
    HARD_MAX_CHARS, MAX_CHARS, paragraph_spans, reassemble, split_paragraphs, to_text,
)


def assert_invariant(text: str, max_chars: int = MAX_CHARS) -> list[str]:
    """Spans sorted, disjoint, stripped, non-empty; gaps whitespace only; text reassembles."""
    spans = paragraph_spans(text, max_chars)
    pos = 0
    for start, end in spans:
        assert pos <= start < end <= len(text)
        assert text[pos:start].strip() == "", f"non-space text lost: {text[pos:start]!r}"
        assert not text[start].isspace() and not text[end - 1].isspace()
        assert end - start <= max(max_chars, HARD_MAX_CHARS)
        pos = end
    assert text[pos:].strip() == ""
    assert reassemble(text, spans) == text
    return [text[s:e] for s, e in spans]


def test_one_line_description_is_one_paragraph():
    assert split_paragraphs("Looking for a React developer to fix our checkout page.") == [
        "Looking for a React developer to fix our checkout page."]
    assert split_paragraphs("   ") == [] and split_paragraphs("") == []


def test_blank_lines_headings_and_list_items():
    text = "About us\n\nWe build tools.\n\nRequirements:\n- Python 3\n- PostgreSQL\n* Docker\n1. Git\n• Linux"
    assert assert_invariant(text) == [
        "About us", "We build tools.", "Requirements:", "- Python 3", "- PostgreSQL", "* Docker", "1. Git", "• Linux"]


def test_hard_wrapped_prose_is_joined_but_not_across_items_or_blank_lines():
    wrapped = ("We are looking for an engineer who enjoys building reliable data pipelines\n"
               "and who has shipped them to production before.\n"
               "Nice to have:\n"
               "- experience with Kafka\n\n"
               "and a sense of humour")
    assert assert_invariant(wrapped) == [
        "We are looking for an engineer who enjoys building reliable data pipelines\n"
        "and who has shipped them to production before.",
        "Nice to have:", "- experience with Kafka", "and a sense of humour"]


def test_html_headings_lists_and_br_runs():
    html = ("<h2>Stack</h2><ul><li>Python</li><li>AWS <b>Lambda</b></li></ul>"
            "<p>Line one<br>Line two<br><br>Line three</p><script>var x=1;</script>")
    paragraphs = split_paragraphs(html)
    assert paragraphs == ["Stack", "- Python", "- AWS Lambda", "Line one", "Line two", "Line three"]
    assert_invariant(to_text(html))


def test_html_loses_no_visible_character():
    html = "<div><p>Hello <i>world</i>,</p>\n<ol><li>C++ &amp; C#</li><li>.NET</li></ol>tail text</div>"
    visible = "".join(lxml.html.fragment_fromstring(html).text_content().split())
    joined = "".join("".join(p.removeprefix("- ").split()) for p in split_paragraphs(html))
    assert joined == visible


def test_over_long_single_line_is_split_at_sentence_boundaries():
    sentences = [f"Sentence number {i} talks about topic {i} at some length to fill space." for i in range(40)]
    text = " ".join(sentences)
    paragraphs = assert_invariant(text)
    assert len(paragraphs) > 1
    assert all(len(p) <= MAX_CHARS for p in paragraphs)
    assert all(p.endswith(".") for p in paragraphs)  # every cut is at a sentence end
    assert " ".join(paragraphs) == text


def test_inline_bullets_split_a_long_line():
    text = "Skills we need " + " ".join(f"• skill number {i} with detail" for i in range(30))
    paragraphs = assert_invariant(text)
    assert len(paragraphs) > 1 and all(p.startswith("•") for p in paragraphs[1:])


def test_run_on_sentence_is_cut_at_spaces_and_a_spaceless_blob_anywhere():
    run_on = " ".join(["word"] * 600)  # no sentence end at all
    paragraphs = assert_invariant(run_on)
    assert all(len(p) <= MAX_CHARS for p in paragraphs) and all(p.startswith("word") for p in paragraphs)
    blob = "x" * 2500 + "  tail"
    pieces = assert_invariant(blob)
    assert len(pieces) >= 7 and "".join("".join(p.split()) for p in pieces) == "x" * 2500 + "tail"


@pytest.fixture(scope="module")
def real_descriptions() -> list[str]:
    """Every SkillSpan posting (train and dev) as text, as it is in the eval gold file."""
    texts: dict[str, list[str]] = {}
    for split in ("train", "dev"):
        with (SOURCE_DATA_DIR / "skillspan" / "json" / f"{split}.json").open() as f:
            for row in map(json.loads, f):
                texts.setdefault(f"{row['source']}-{split}-{row['idx']}", []).append(" ".join(row["tokens"]))
    return ["\n".join(lines) for lines in texts.values()]


def test_invariant_on_every_real_posting(real_descriptions):
    assert len(real_descriptions) == 198  # 140 train + 58 dev postings
    for text in real_descriptions:
        assert len(assert_invariant(text)) >= text.count("\n") // 2  # follows the lines, roughly


def test_invariant_on_real_postings_reshaped(real_descriptions):
    """Property-style: the same postings as one line, as HTML, with odd whitespace, random limits."""
    rng = random.Random(5)
    for text in rng.sample(real_descriptions, 60):
        lines = text.split("\n")
        one_line = " ".join(lines)
        assert_invariant(one_line, max_chars=rng.choice([80, 200, MAX_CHARS, 1000]))
        html = "".join(rng.choice(["<p>{}</p>", "<li>{}</li>", "{}<br>", "<h3>{}</h3>"]).format(line)
                       for line in lines)
        assert_invariant(to_text(html))
        noisy = "".join(line + rng.choice(["\n", "\n\n", "\r\n", " \n\t", "\n   \n"]) for line in lines)
        assert_invariant(noisy, max_chars=rng.choice([60, MAX_CHARS]))


def test_invariant_on_random_texts():
    rng = random.Random(11)
    alphabet = "ab .!?\n\n\t•-*1)Ab"
    for _ in range(500):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 3000)))
        assert_invariant(text, max_chars=rng.choice([5, 50, MAX_CHARS]))
