"""The technology mix of the sandboxes' synthetic postings, drifting over weeks.

The sandboxes publish new postings every day, reproducible from the date. For a month of sandbox
runs to draw a trend, the share of each technology must move: each technology gets, from its
name, a steady trend (some rise, some fall, most stay flat) and a slow wave with a period of a few
weeks. ``weights(names, day)`` gives the relative weights for one date; ``pick`` draws from them.

Nothing here is random at import time: the same date always gives the same weights.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import random
from collections.abc import Sequence
from functools import lru_cache

#: Day zero of the trends (any fixed date works; weights are defined for every date).
EPOCH = dt.date(2026, 1, 5)

#: Technologies given a clear direction, so that a month of sandbox runs shows risers and fallers
#: (per week, on the log scale of the weight).
STEADY = {
    "LangChain": 0.22, "OpenAI API": 0.16, "dbt": 0.14, "Snowflake": 0.10, "PyTorch": 0.12,
    "Rust": 0.09, "Terraform": 0.08, "Apache Airflow": 0.10, "Airflow": 0.10, "Polars": 0.18,
    "PHP": -0.12, "WordPress": -0.10, "Hadoop": -0.18, "jQuery": -0.15, "Excel": -0.07,
    "TensorFlow": -0.11, "R": -0.06, "Tableau": -0.05,
}


def _unit(name: str, salt: str) -> float:
    """A number in [0, 1) fixed by ``name`` and ``salt``."""
    digest = hashlib.sha256(f"{salt}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@lru_cache(maxsize=4096)
def weight(name: str, day: dt.date) -> float:
    """The relative weight of one technology on ``day`` (always > 0)."""
    weeks = (day - EPOCH).days / 7
    slope = STEADY.get(name, (_unit(name, "slope") - 0.5) * 0.06)
    period = 3 + 5 * _unit(name, "period")  # weeks
    phase = 2 * math.pi * _unit(name, "phase")
    wave = 0.35 * math.sin(2 * math.pi * weeks / period + phase)
    # Bounded: a trend runs for months without one technology taking over (or vanishing).
    level = max(-3.0, min(3.0, slope * weeks))
    return math.exp(level + wave)


@lru_cache(maxsize=256)
def _weights(names: tuple[str, ...], day: dt.date) -> tuple[float, ...]:
    return tuple(weight(name, day) for name in names)


def weights(names: Sequence[str], day: dt.date) -> list[float]:
    return list(_weights(tuple(names), day))


def pick(rng: random.Random, names: Sequence[str], day: dt.date, k: int) -> list[str]:
    """``k`` distinct technologies drawn with ``day``'s weights (order of drawing kept)."""
    pool = list(names)
    pool_weights = weights(pool, day)
    chosen: list[str] = []
    for _ in range(min(k, len(pool))):
        index = rng.choices(range(len(pool)), weights=pool_weights)[0]
        chosen.append(pool.pop(index))
        pool_weights.pop(index)
    return chosen


def day_seed(source: str, day: dt.date, seed: int = 0) -> int:
    """A seed for one source's postings of one date (stable across runs and machines)."""
    return int.from_bytes(hashlib.sha256(f"{source}:{seed}:{day.isoformat()}".encode()).digest()[:8], "big")
