"""An offline token estimate (no tokenizer download at run time or in tests).

BPE tokenizers such as OpenAI's cl100k/o200k give about one token per common short word or
punctuation mark and split long or rare words into pieces; this estimate counts one token per
word of up to 6 characters, one more per further 6 characters, and one per punctuation mark.
On English job postings it lands within about 10-15% of the real counts: good enough to compare
prompt designs and to estimate cost, not to bill.
"""

from __future__ import annotations

import re

_PIECES = re.compile(r"\w+|[^\w\s]")


def estimate_tokens(text: str) -> int:
    """Estimated number of tokens of ``text``."""
    return sum(max(1, (len(w) + 5) // 6) if w[0].isalnum() or w[0] == "_" else 1 for w in _PIECES.findall(text))


def estimate_chat_tokens(messages: list[dict[str, str]], schema: dict | None = None) -> int:
    """Prompt tokens of a chat request: the messages, ~4 tokens of framing each, plus the JSON
    schema of a structured-output request (the API adds it to the prompt)."""
    import json

    total = sum(estimate_tokens(m.get("content", "")) + 4 for m in messages) + 3
    if schema is not None:
        total += estimate_tokens(json.dumps(schema))
    return total


def billable_tokens(text: str) -> int:
    """The tokens the project counts (and pays for) when ``text`` is sent or received: the
    estimate above, but never fewer than one token per 4 bytes of UTF-8 (text outside English,
    where the word estimate runs low). A server's own usage figures are recorded beside it and
    never used for money or budgets."""
    return max(estimate_tokens(text), -(-len(text.encode("utf-8")) // 4))


def billable_chat_tokens(messages: list[dict[str, str]], schema: dict | None = None) -> int:
    """:func:`billable_tokens` of a chat request (messages, framing, structured-output schema)."""
    import json

    total = sum(billable_tokens(m.get("content", "")) + 4 for m in messages) + 3
    if schema is not None:
        total += billable_tokens(json.dumps(schema))
    return total
