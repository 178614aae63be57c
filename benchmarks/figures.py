"""How a benchmark reports a figure for ``make bench``'s closing table: one ``FIGURE {json}`` line
on stdout (``figure``), read back by ``python -m benchmarks`` (``parse``)."""

from __future__ import annotations

import json

PREFIX = "FIGURE "


def figure(name: str, value, unit: str = "", goal: str | None = None, met: bool | None = None) -> None:
    """Print one figure: ``goal`` says it in words ("< 1.5", ">= 0.8x"); ``met`` whether the value
    meets it (None: a figure without a goal)."""
    print(PREFIX + json.dumps({"figure": name, "value": value, "unit": unit, "goal": goal, "met": met}), flush=True)


def parse(line: str) -> dict | None:
    return json.loads(line[len(PREFIX):]) if line.startswith(PREFIX) else None
