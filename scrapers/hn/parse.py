"""The first line of a "Who is hiring?" comment: "Company | Role | Location | REMOTE | salary".

The thread asks posters to start with such a line, but the order and the number of fields vary,
and many comments have no pipes at all. The parse is deliberately cautious: the first field is
the company; of the others, a field naming remote/onsite/hybrid work sets ``is_remote`` (and is
the location when it names a place too, "Remote (US)"), a field with a currency sign or an
amount like "150k" is the salary, a URL is dropped, the first field that reads like a job title
is the role and the first remaining one the location. Nothing is invented: a field that cannot be
placed is left out, and the full text is always kept beside the parse.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

_TAGS = re.compile(r"<[^>]+>")
_SEPARATOR = re.compile(r"\s+[|｜]\s+|\s*\|\s*")
_REMOTE = re.compile(r"\b(remote|wfh|distributed|anywhere)\b", re.I)
_NOT_REMOTE = re.compile(r"\b(onsite|on-site|on site|in[- ]office|no remote)\b", re.I)
_HYBRID = re.compile(r"\bhybrid\b", re.I)
_MONEY = re.compile(r"[$€£]|\b\d{2,3}(?:[.,]\d+)?\s?[kK]\b|\b(?:USD|EUR|GBP|CAD)\b")
_URL = re.compile(r"^(https?://|www\.)\S+$", re.I)
_ROLE = re.compile(r"\b(engineer|developer|scientist|analyst|designer|manager|lead|architect|sre|devops|"
                   r"founding|head of|director|researcher|intern|administrator|specialist|programmer|cto|"
                   r"vp|staff|principal|product|data|ml|ai|frontend|backend|full[- ]?stack)\b", re.I)
_AMOUNT = re.compile(r"([$€£])?\s?(\d{1,3}(?:[,.]\d{3})+|\d+(?:\.\d+)?)\s?([kK])?")
_CURRENCY = {"$": "USD", "€": "EUR", "£": "GBP"}
_CODES = re.compile(r"\b(USD|EUR|GBP|CAD)\b")


@dataclass(frozen=True)
class FirstLine:
    line: str
    company: str | None = None
    role: str | None = None
    location: str | None = None
    is_remote: bool | None = None
    salary_text: str | None = None
    salary_min: float | None = None
    salary_max: float | None = None
    salary_currency: str | None = None
    salary_period: str | None = None


def first_line(text_html: str) -> str:
    """The comment's first line as text: up to its first ``<p>`` (HN separates paragraphs so)."""
    head = re.split(r"<p>|<br\s*/?>|\n", text_html, maxsplit=1)[0]
    return " ".join(html.unescape(_TAGS.sub(" ", head)).split())


def salary(text: str) -> tuple[float | None, float | None, str | None, str | None]:
    """(min, max, currency, period) of a salary field such as "$150k-$200k" or "€80,000 - 100,000";
    all None when no amount reads as pay (an amount under 1,000 a year that is not per hour)."""
    amounts = []
    currency = None
    for sign, number, thousands in _AMOUNT.findall(text):
        value = float(number.replace(",", "").replace(".", "") if re.search(r"[,.]\d{3}$", number) else number)
        if thousands:
            value *= 1000
        amounts.append(value)
        currency = currency or _CURRENCY.get(sign)
    code = _CODES.search(text)
    currency = currency or (code.group(1) if code else None)
    hourly = re.search(r"/\s?(hr|hour)|per hour|hourly", text, re.I)
    amounts = [a for a in amounts if a >= (10 if hourly else 1000)]
    if not amounts or currency is None:
        return None, None, None, None
    return min(amounts[:2]), max(amounts[:2]), currency, "hour" if hourly else "year"


def parse_first_line(text_html: str) -> FirstLine:
    line = first_line(text_html)
    fields = [f.strip() for f in _SEPARATOR.split(line) if f.strip()]
    if len(fields) < 2:  # no pipes: the convention was not followed; nothing is guessed
        return FirstLine(line=line)
    company, rest = fields[0], fields[1:]
    role = location = salary_text = None
    is_remote = None
    unplaced: list[str] = []
    for field in rest:
        if _URL.match(field):
            continue
        if _MONEY.search(field) and salary_text is None:
            salary_text = field
            continue
        remote, onsite, hybrid = _REMOTE.search(field), _NOT_REMOTE.search(field), _HYBRID.search(field)
        if remote or onsite or hybrid:
            is_remote = bool(remote) and not onsite if is_remote is None else is_remote or bool(remote and not onsite)
            place = _NOT_REMOTE.sub("", _HYBRID.sub("", _REMOTE.sub("", field))).strip(" ()-,;/")
            if place and location is None and len(place) > 1:
                location = field
            continue
        if role is None and _ROLE.search(field):
            role = field
            continue
        unplaced.append(field)
    if location is None and unplaced:
        location = unplaced.pop(0)
    if role is None and unplaced:
        role = unplaced.pop(0)
    low, high, currency, period = salary(salary_text) if salary_text else (None, None, None, None)
    return FirstLine(line=line, company=company[:200], role=role and role[:200], location=location and location[:200],
                     is_remote=is_remote, salary_text=salary_text, salary_min=low, salary_max=high,
                     salary_currency=currency, salary_period=period)
