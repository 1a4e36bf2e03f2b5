"""GB/T 4754-2017 国民经济行业分类: the industrial classification of China.

Four levels: 20 sections (门类, letters A–T), 97 divisions (大类, ``01``–``97``), 473 groups
(中类, three digits) and 1,381 classes (小类, four digits). A group that is not subdivided
has one class, its code followed by ``0`` and the same name (``134`` / ``1340`` 制糖业).
Canonical codes are the section letter for sections and the digits otherwise; lookups also
take a leading section letter (``C13``, ``c1311``).

Source: the 2017 text of the standard, data file ``data/gbt4754-2017.tsv`` built by
``tools/build_industries.py`` from a public GitHub copy of the full table, with every class
checked against the official 2011↔2017 correspondence table (GitHub robin621/gbcrosswalk,
extracted from the standard's PDF) and every division and group name against a second
copy. Amendment No. 1 of 2019 (GB/T 4754-2017/XG1-2019), said to bring the classes to
1,382, is not applied: no reliable copy of its table was found.

>>> get_industry("C13").name
'农副食品加工业'
>>> get_industry("1311")
Industry(code='1311', name='稻谷加工', level='class', section='C', parent_code='131')
>>> section_of("6572")
'I'
>>> [industry.code for industry in children("13")][:3]
['131', '132', '133']
>>> len(all_industries("division"))
97
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from typing import Literal

from custmdm.errors import UnknownReference
from custmdm.standards._reference import nearest_codes, nearest_names, read_rows

INDUSTRIES_SOURCE = (
    "GB/T 4754-2017 国民经济行业分类 (2017 text, 1,381 classes; the 2019 amendment No.1 is "
    "not applied), from a public GitHub copy of the full table cross-checked with the "
    "official 2011-2017 correspondence table (robin621/gbcrosswalk)"
)

DATA_FILE = "gbt4754-2017.tsv"

IndustryLevel = Literal["section", "division", "group", "class"]

_LEVELS: dict[str, IndustryLevel] = {
    "section": "section",
    "division": "division",
    "group": "group",
    "class": "class",
}

_CODE = re.compile(r"(?P<letter>[A-Z]?)(?P<digits>\d{2,4})")


@dataclass(frozen=True, slots=True)
class Industry:
    """One category of the classification: a section, division, group or class."""

    code: str
    name: str
    level: IndustryLevel
    section: str
    parent_code: str | None


@dataclass(frozen=True, slots=True)
class _IndustryTable:
    ordered: list[Industry]
    by_code: dict[str, Industry]
    children: dict[str, list[Industry]]


@cache
def _table() -> _IndustryTable:
    """Read the data file once, on first use."""
    ordered = [
        Industry(code, name, _LEVELS[level], section, parent or None)
        for code, name, level, section, parent in read_rows(DATA_FILE, columns=5)
    ]
    children: dict[str, list[Industry]] = {}
    for industry in ordered:
        if industry.parent_code is not None:
            children.setdefault(industry.parent_code, []).append(industry)
    return _IndustryTable(ordered, {i.code: i for i in ordered}, children)


def _clean(code: str) -> str:
    return unicodedata.normalize("NFKC", code).strip().upper()


def _canonical(text: str) -> str | None:
    """``C13`` → ``13``; a letter only when it is the section of the digits that follow."""
    table = _table()
    if len(text) == 1:
        return text if text in table.by_code else None
    match = _CODE.fullmatch(text)
    if match is None:
        return None
    digits = match["digits"]
    found = table.by_code.get(digits)
    if found is None or (match["letter"] and match["letter"] != found.section):
        return None
    return digits


def _suggestions(text: str) -> list[str]:
    """Up to three ``"code name"`` strings for an unknown code or a name."""
    table = _table()
    match = _CODE.fullmatch(text)
    if len(text) == 1:  # not one of the 20 section letters: nothing is close
        return []
    if match is not None:
        digits = match["digits"]
        codes = nearest_codes(digits, [i.code for i in table.ordered if i.level != "section"])
        if digits in table.by_code:  # right digits, wrong section letter
            codes = [digits, *(c for c in codes if c != digits)]
    else:
        names = [industry.name for industry in table.ordered]
        contained = [i.code for i in table.ordered if text and text in i.name]
        codes = contained[:3] or [table.ordered[i].code for i in nearest_names(text, names)]
    return [f"{code} {table.by_code[code].name}" for code in codes[:3]]


def get_industry(code: str) -> Industry:
    """The category with this code: ``C``, ``13``, ``C13``, ``131``, ``1311`` (any case).

    Raises ``UnknownReference`` with up to three close valid codes when there is none.
    """
    text = _clean(code)
    canonical = _canonical(text)
    if canonical is None:
        raise UnknownReference("industry", code, _suggestions(text))
    return _table().by_code[canonical]


def is_industry(code: str) -> bool:
    """Whether ``get_industry(code)`` would succeed."""
    return _canonical(_clean(code)) is not None


def section_of(code: str) -> str:
    """The section letter (门类) of any category code."""
    return get_industry(code).section


def all_industries(level: IndustryLevel | None = None) -> list[Industry]:
    """Every category in tree order, or only those of one level."""
    if level is not None and level not in _LEVELS:
        raise ValueError(f"unknown industry level {level!r}; use one of {', '.join(_LEVELS)}")
    return [i for i in _table().ordered if level is None or i.level == level]


def children(code: str) -> list[Industry]:
    """The categories directly under this one (empty for classes)."""
    return list(_table().children.get(get_industry(code).code, []))
