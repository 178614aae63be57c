"""Secrets out of text that the project stores or prints (pipeline_runs, quarantine rows, logs).

Two layers: Airflow's secrets masker (every connection password and sensitive extra the process
has read is registered with it), then patterns for what a secret looks like when it was never
registered (an API key quoted in a server's error, a bearer token, a password in a URL or a
conninfo).
"""

from __future__ import annotations

import re

_PATTERNS = [
    (re.compile(r"\bsk-[A-Za-z0-9_\-*]{6,}"), "sk-***"),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 ***"),
    (re.compile(r"(?i)\b(password|passwd|pwd|api[_-]?key|apikey|secret|client_secret|access_token|refresh_token|"
                r"token|x-api-key)(\s*[=:]\s*['\"]?|['\"]\s*:\s*['\"])([^\s'\"&,;)}]+)"), r"\1\2***"),
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)([^/\s:@]*):([^/\s@]+)@"), r"\1\2:***@"),
]


def redact(text: str) -> str:
    """``text`` with every secret the process knows of, and everything shaped like one, as ***."""
    if not text:
        return text
    try:
        from airflow.sdk.log import redact as airflow_redact

        text = str(airflow_redact(text))
    except Exception:  # noqa: BLE001 - no Airflow logging set up: the patterns still apply
        pass
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text
