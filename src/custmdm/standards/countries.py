"""ISO 3166-1 country codes (国家和地区代码), with English short names and Chinese names.

Each of the 249 entries has an alpha-2 code (``CN``), an alpha-3 code (``CHN``), a three-digit
numeric code (``156``), the ISO English short name and the zh_CN name. Source: the Debian
iso-codes data as shipped in PyPI ``pycountry`` 26.2.16, Chinese names from its zh_CN
translation (PO revision 2024-01-15); data file ``data/iso3166-1.tsv``, built by
``tools/build_countries.py``. The package does not need pycountry at run time.

Lookups take alpha-2, alpha-3 or numeric codes, in any case; names are not codes but are
used to suggest one.

>>> get_country("cn").name_zh
'中国'
>>> get_country("DEU").alpha2
'DE'
>>> get_country("156").alpha3
'CHN'
>>> is_country("UK")
False
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import cache

from custmdm.errors import UnknownReference
from custmdm.standards._reference import nearest_codes, nearest_names, read_rows

COUNTRIES_SOURCE = (
    "Debian iso-codes via PyPI pycountry 26.2.16 (zh_CN translation revised 2024-01-15 15:46+0000)"
)

DATA_FILE = "iso3166-1.tsv"

# Codes ISO reserves for a country that are not its ISO 3166-1 code; suggested, not accepted.
_RESERVED = {"UK": "GB", "EL": "GR"}


@dataclass(frozen=True, slots=True)
class Country:
    """One ISO 3166-1 country or territory."""

    alpha2: str
    alpha3: str
    numeric: str
    name: str
    name_zh: str | None

    def label(self) -> str:
        """``"CN China (中国)"``: code, English name and Chinese name when known."""
        chinese = f" ({self.name_zh})" if self.name_zh else ""
        return f"{self.alpha2} {self.name}{chinese}"


@dataclass(frozen=True, slots=True)
class _CountryTable:
    ordered: list[Country]
    by_code: dict[str, Country]


@cache
def _table() -> _CountryTable:
    """Read the data file once, on first use."""
    ordered = [
        Country(alpha2, alpha3, numeric, name, name_zh or None)
        for alpha2, alpha3, numeric, name, name_zh in read_rows(DATA_FILE, columns=5)
    ]
    by_code: dict[str, Country] = {}
    for country in ordered:
        for code in (country.alpha2, country.alpha3, country.numeric):
            by_code[code] = country
    return _CountryTable(ordered, by_code)


def _clean(code: str) -> str:
    return unicodedata.normalize("NFKC", code).strip().upper()


def _suggestions(text: str) -> list[str]:
    """Up to three country labels for an unknown code or a country name."""
    table = _table()
    found: list[Country] = []
    if text in _RESERVED:
        found.append(table.by_code[_RESERVED[text]])
    if text.isascii() and text.isalnum() and len(text) in (2, 3):
        if text.isdigit():
            codes = [country.numeric for country in table.ordered]
        else:
            codes = [c.alpha2 if len(text) == 2 else c.alpha3 for c in table.ordered]
        found += [table.by_code[code] for code in nearest_codes(text, codes)]
    else:
        names = [f"{country.name} {country.name_zh or ''}" for country in table.ordered]
        found += [table.ordered[index] for index in nearest_names(text, names)]
    unique = list(dict.fromkeys(found))
    return [country.label() for country in unique[:3]]


def get_country(code: str) -> Country:
    """The country with this alpha-2, alpha-3 or numeric code (any case).

    Raises ``UnknownReference`` with up to three close valid codes when there is none.
    """
    text = _clean(code)
    country = _table().by_code.get(text) if text.isascii() else None
    if country is None:
        raise UnknownReference("country", code, _suggestions(text))
    return country


def is_country(code: str) -> bool:
    """Whether ``get_country(code)`` would succeed."""
    return _clean(code) in _table().by_code


def all_countries() -> list[Country]:
    """Every country, in alpha-2 order."""
    return list(_table().ordered)
