"""The technology mix of the sandboxes' synthetic postings, drifting over weeks.

The sandboxes publish new postings every day, reproducible from the date. For a month of sandbox
runs to draw a trend, the share of each technology must move: each technology's weight follows,
from its name, a long wave (a period of four to ten months: over any month some technologies
rise steadily while others fall) and a short one (three to eight weeks). It stays bounded, so no
technology ever takes over or vanishes. ``weights(names, day)`` gives the relative weights for one
date; ``pick`` draws from them.

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

def _unit(name: str, salt: str) -> float:
    """A number in [0, 1) fixed by ``name`` and ``salt``."""
    digest = hashlib.sha256(f"{salt}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@lru_cache(maxsize=4096)
def weight(name: str, day: dt.date) -> float:
    """The relative weight of one technology on ``day`` (always > 0)."""
    weeks = (day - EPOCH).days / 7
    long_period = 16 + 28 * _unit(name, "long")  # weeks
    short_period = 3 + 5 * _unit(name, "short")
    level = 1.2 * math.sin(2 * math.pi * weeks / long_period + 2 * math.pi * _unit(name, "phase"))
    wave = 0.3 * math.sin(2 * math.pi * weeks / short_period + 2 * math.pi * _unit(name, "phase2"))
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
