"""Regenerate ``src/custmdm/standards/data/gbt4754-2017.tsv`` (GB/T 4754-2017 industries).

One-off conversion script; the package never runs it. No package on PyPI or npm ships the
table, so it is built from two stored copies of public GitHub files, read as plain text:

* primary, the full four-level tree: a cascader option list in a TypeScript file
  (``value: 'C1311', label: '稻谷加工', isLeaf: true``), from the "上海银行普惠开户" options
  of 深圳市链融科技 (``libs/shared/src/lib/config/options/shanghai-bank-puhui.optins.ts``).
  Groups that hold a single class appear there once, as a leaf ``XNNN0``; this script writes
  both the group and its class, as the standard does (class = group code + "0", same name).
* cross-check for the 1,381 classes: robin621/gbcrosswalk
  ``inst/raw-crosswalks/GB_2011_2017_raw.csv``, the official 2011↔2017 correspondence table
  (GB/T 4754-2017 appendix) extracted from the standard's PDF. Its names are cut at the PDF
  column width, so a class passes when the primary name starts with the crosswalk name.
* cross-check for the 97 divisions and 473 groups (read by hand, not parsed here): a
  Python tree of the same standard in a public repository (``industry = [{'id': "A", ...``).
  The primary disagreed on the ten names in ``CORRECTIONS``; the other copy and several
  more independent copies agree on the corrected names.

    python tools/build_industries.py PRIMARY.ts CROSSWALK.csv
    python tools/build_industries.py --check      # validate the shipped TSV only

The 2019 amendment (第1号修改单, GB/T 4754-2017/XG1-2019) is not applied: both sources hold
the 1,381 classes of the 2017 text; the amended standard is said to have 1,382, and no
reliable copy of the amendment's table was found.
"""

from __future__ import annotations

import csv
import re
import sys
from pathlib import Path

OUTPUT = Path(__file__).resolve().parents[1] / "src/custmdm/standards/data/gbt4754-2017.tsv"

SOURCE = (
    "GB/T 4754-2017 国民经济行业分类 (2017 text, 1,381 classes; the 2019 amendment No.1 is "
    "not applied), from a public GitHub copy of the full table cross-checked with the "
    "official 2011-2017 correspondence table (robin621/gbcrosswalk)"
)

SECTION_OF_DIVISION = {
    "A": (1, 5), "B": (6, 12), "C": (13, 43), "D": (44, 46), "E": (47, 50),
    "F": (51, 52), "G": (53, 60), "H": (61, 62), "I": (63, 65), "J": (66, 69),
    "K": (70, 70), "L": (71, 72), "M": (73, 75), "N": (76, 79), "O": (80, 82),
    "P": (83, 83), "Q": (84, 85), "R": (86, 90), "S": (91, 96), "T": (97, 97),
}  # fmt: skip

# Names the primary copy got wrong (mostly left at their GB/T 4754-2011 wording).
CORRECTIONS = {
    "15": "酒、饮料和精制茶制造业",
    "75": "科技推广和应用服务业",
    "87": "广播、电视、电影和录音制作业",
    "203": "木质制品制造",
    "204": "竹、藤、棕、草等制品制造",
    "339": "铸造及其他金属制品制造",
    "349": "其他通用设备制造业",
    "395": "非专业视听设备制造",
    "746": "环境与生态监测检测服务",
    "905": "文化体育娱乐活动与经纪代理服务",
}

EXPECTED = {"section": 20, "division": 97, "group": 473, "class": 1381}

_OPTION = re.compile(
    r"value:\s*'([A-T])(\d{4})',\s*label:\s*'([^']*)',\s*(children|isLeaf)", re.MULTILINE
)


def section_of(division: str) -> str:
    number = int(division)
    return next(s for s, (low, high) in SECTION_OF_DIVISION.items() if low <= number <= high)


def parse_primary(text: str) -> dict[str, str]:
    """Map canonical code -> name from the cascader list (all four levels)."""
    table: dict[str, str] = {}
    for letter, digits, name, kind in _OPTION.findall(text):
        name = name.strip()
        if digits == "0000":
            table[letter] = name
        elif digits.endswith("00") and kind == "children":
            table[digits[:2]] = name
        elif kind == "children":
            table[digits[:3]] = name
        else:  # a leaf is a class; a leaf ending in 0 is also its single-class group
            table[digits] = name
            if digits.endswith("0"):
                table.setdefault(digits[:3], name)
            if digits.endswith("00"):
                table.setdefault(digits[:2], name)
    for code, name in CORRECTIONS.items():
        table[code] = name
    return table


def parse_crosswalk(text: str) -> dict[str, str]:
    """Map 2017 class code -> (possibly truncated) 2017 name from the correspondence table."""
    classes: dict[str, str] = {}
    for row in csv.DictReader(text.splitlines()):
        code = row["S_2017"].strip()
        words = row["source_line"].split(" ")
        if len(code) == 4 and code.isdigit() and words[0] == code and len(words) > 1:
            classes.setdefault(code, words[1])
    return classes


def level_of(code: str) -> str:
    return {1: "section", 2: "division", 3: "group", 4: "class"}[len(code)]


def parent_of(code: str) -> str:
    if len(code) == 1:
        return ""
    if len(code) == 2:
        return section_of(code)
    return code[:-1]


def sort_key(code: str) -> tuple[str, str]:
    section = code if len(code) == 1 else section_of(code[:2])
    return (section, code if len(code) > 1 else "")


def validate(table: dict[str, str]) -> None:
    counts = {level: 0 for level in EXPECTED}
    for code in table:
        counts[level_of(code)] += 1
        parent = parent_of(code)
        if parent and parent not in table:
            raise SystemExit(f"{code} {table[code]}: parent {parent} missing")
    if counts != EXPECTED:
        raise SystemExit(f"unexpected counts {counts}, expected {EXPECTED}")
    for group in (c for c in table if len(c) == 3):
        classes = [c for c in table if len(c) == 4 and c.startswith(group)]
        if not classes:
            raise SystemExit(f"group {group} has no class")
        if len(classes) == 1 and (classes[0] != group + "0" or table[classes[0]] != table[group]):
            raise SystemExit(f"single-class group {group} is not written as {group}0")


def cross_check(table: dict[str, str], crosswalk: dict[str, str]) -> None:
    classes = {c: n for c, n in table.items() if len(c) == 4}
    if set(classes) != set(crosswalk):
        missing = sorted(set(crosswalk) - set(classes))
        extra = sorted(set(classes) - set(crosswalk))
        raise SystemExit(f"class codes differ: missing {missing}, extra {extra}")
    # 7296 is a garbled row in the crosswalk ("担保服务"); the standard's name is 非融资担保服务.
    wrong = [c for c, n in crosswalk.items() if not classes[c].startswith(n) and c != "7296"]
    if wrong:
        raise SystemExit(f"class names differ: {[(c, classes[c], crosswalk[c]) for c in wrong]}")


def read_table(path: Path) -> dict[str, str]:
    table: dict[str, str] = {}
    lines = [line for line in path.read_text("utf-8").splitlines() if not line.startswith("#")]
    for line in lines[1:]:
        code, name, _level, _section, _parent = line.split("\t")
        table[code] = name
    return table


def write(table: dict[str, str]) -> None:
    lines = [
        "# GB/T 4754-2017 国民经济行业分类: sections, divisions, groups and classes",
        f"# source: {SOURCE}",
        "# regenerate: tools/build_industries.py (see its docstring)",
        "code\tname\tlevel\tsection\tparent_code",
    ]
    for code in sorted(table, key=sort_key):
        section = code if len(code) == 1 else section_of(code[:2])
        lines.append(f"{code}\t{table[code]}\t{level_of(code)}\t{section}\t{parent_of(code)}")
    OUTPUT.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str]) -> int:
    if argv[1:] == ["--check"]:
        validate(read_table(OUTPUT))
        print(f"{OUTPUT.name}: counts and parent links are consistent")
        return 0
    if len(argv) != 3:
        print(__doc__)
        return 2
    table = parse_primary(Path(argv[1]).read_text("utf-8"))
    validate(table)
    cross_check(table, parse_crosswalk(Path(argv[2]).read_text("utf-8")))
    write(table)
    print(f"wrote {len(table)} industries to {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
