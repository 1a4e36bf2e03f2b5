"""GB/T 4754-2017 industries: the shipped table (counts, tree, known names) and lookups."""

from __future__ import annotations

import doctest
import string
from importlib.resources import files

import pytest

from custmdm.errors import UnknownReference
from custmdm.standards import industries
from custmdm.standards.industries import (
    INDUSTRIES_SOURCE,
    all_industries,
    children,
    get_industry,
    is_industry,
    section_of,
)


def test_counts_per_level() -> None:
    assert len(all_industries("section")) == 20
    assert len(all_industries("division")) == 97
    assert len(all_industries("group")) == 473
    # 1,381 in the 2017 text; amendment No. 1 (2019, 1,382) is not applied, see the module.
    assert len(all_industries("class")) == 1381
    assert len(all_industries()) == 20 + 97 + 473 + 1381


def test_sections_are_a_to_t_and_divisions_01_to_97() -> None:
    assert [i.code for i in all_industries("section")] == list(string.ascii_uppercase[:20])
    assert [i.code for i in all_industries("division")] == [f"{n:02d}" for n in range(1, 98)]


@pytest.mark.parametrize(
    ("division", "section"),
    [("01", "A"), ("05", "A"), ("06", "B"), ("12", "B"), ("13", "C"), ("43", "C"),
     ("44", "D"), ("47", "E"), ("51", "F"), ("53", "G"), ("61", "H"), ("63", "I"),
     ("66", "J"), ("70", "K"), ("71", "L"), ("73", "M"), ("76", "N"), ("80", "O"),
     ("83", "P"), ("84", "Q"), ("86", "R"), ("91", "S"), ("96", "S"), ("97", "T")],
)  # fmt: skip
def test_divisions_belong_to_their_sections(division: str, section: str) -> None:
    assert section_of(division) == section
    assert get_industry(division).parent_code == section


def test_every_parent_exists_one_level_up_in_the_same_section() -> None:
    by_code = {industry.code: industry for industry in all_industries()}
    up = {"division": "section", "group": "division", "class": "group"}
    for industry in all_industries():
        if industry.level == "section":
            assert industry.parent_code is None and industry.section == industry.code
            continue
        assert industry.parent_code is not None
        parent = by_code[industry.parent_code]
        assert parent.level == up[industry.level]
        assert parent.section == industry.section
        if industry.level != "division":
            assert industry.code[:-1] == parent.code


def test_every_group_has_classes_and_an_undivided_group_repeats_itself() -> None:
    for group in all_industries("group"):
        classes = children(group.code)
        assert classes, group
        if len(classes) == 1:
            assert (classes[0].code, classes[0].name) == (group.code + "0", group.name)
        else:
            assert not any(c.code.endswith("0") for c in classes)


@pytest.mark.parametrize("typed", ["C13", "c13", "13", " C13 ", "Ｃ１３"])
def test_division_13_in_any_spelling(typed: str) -> None:
    industry = get_industry(typed)
    assert (industry.code, industry.name, industry.section) == ("13", "农副食品加工业", "C")
    assert industry.level == "division"
    assert is_industry(typed)


@pytest.mark.parametrize(
    ("typed", "code", "level", "name"),
    [
        ("C", "C", "section", "制造业"),
        ("c", "C", "section", "制造业"),
        ("131", "131", "group", "谷物磨制"),
        ("1311", "1311", "class", "稻谷加工"),
        ("C1311", "1311", "class", "稻谷加工"),
        ("134", "134", "group", "制糖业"),
        ("1340", "1340", "class", "制糖业"),
        ("6531", "6531", "class", "信息系统集成服务"),
        ("6572", "6572", "class", "动漫、游戏数字内容服务"),
        ("7224", "7224", "class", "供应链管理服务"),
        ("9700", "9700", "class", "国际组织"),
    ],
)
def test_known_categories(typed: str, code: str, level: str, name: str) -> None:
    industry = get_industry(typed)
    assert (industry.code, industry.level, industry.name) == (code, level, name)


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("15", "酒、饮料和精制茶制造业"),
        ("75", "科技推广和应用服务业"),
        ("87", "广播、电视、电影和录音制作业"),
        ("339", "铸造及其他金属制品制造"),
        ("395", "非专业视听设备制造"),
        ("746", "环境与生态监测检测服务"),
        ("905", "文化体育娱乐活动与经纪代理服务"),
    ],
)
def test_names_are_the_2017_wording_not_2011(code: str, name: str) -> None:
    assert get_industry(code).name == name


def test_a_wrong_section_letter_is_unknown_and_suggests_the_right_code() -> None:
    assert not is_industry("A13")
    with pytest.raises(UnknownReference) as caught:
        get_industry("A13")
    error = caught.value
    assert (error.what, error.value) == ("industry", "A13")
    assert error.suggestions[0] == "13 农副食品加工业"


def test_unknown_class_suggests_close_classes_of_the_same_group() -> None:
    with pytest.raises(UnknownReference) as caught:
        get_industry("1318")
    suggestions = caught.value.suggestions
    assert 1 <= len(suggestions) <= 3
    assert all(s.startswith("131") for s in suggestions)
    assert "1319 其他谷物磨制" in suggestions


def test_a_name_suggests_matching_codes() -> None:
    with pytest.raises(UnknownReference) as caught:
        get_industry("稻谷")
    assert caught.value.suggestions == ["0111 稻谷种植", "1311 稻谷加工"]


@pytest.mark.parametrize("typed", ["", "U", "Z", "0", "98", "C99", "13111", "1390", "CC13"])
def test_unknown_codes(typed: str) -> None:
    assert not is_industry(typed)
    with pytest.raises(UnknownReference):
        get_industry(typed)


def test_children() -> None:
    manufacturing = children("C")
    assert [i.code for i in manufacturing] == [str(n) for n in range(13, 44)]
    assert [i.code for i in children("13")] == [
        "131",
        "132",
        "133",
        "134",
        "135",
        "136",
        "137",
        "139",
    ]
    assert children("1311") == []


def test_all_industries_rejects_an_unknown_level() -> None:
    with pytest.raises(ValueError, match="unknown industry level"):
        all_industries("subclass")  # type: ignore[arg-type]


def test_source_constant_matches_the_data_file_header() -> None:
    header = files("custmdm.standards").joinpath("data", industries.DATA_FILE).read_text("utf-8")
    assert f"# source: {INDUSTRIES_SOURCE}\n" in header


def test_module_doctests() -> None:
    assert doctest.testmod(industries).failed == 0
