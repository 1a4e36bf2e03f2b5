"""GB/T 2260 regions: the shipped table (counts, links, 2024/2025 changes) and the lookups."""

from __future__ import annotations

import dataclasses
import doctest
from importlib.resources import files

import pytest

from custmdm.errors import UnknownReference
from custmdm.standards import regions
from custmdm.standards.regions import (
    REGIONS_SOURCE,
    all_regions,
    children,
    find_regions,
    get_region,
    is_region,
    region_path,
)


def test_counts_per_level_match_the_mca_list_of_2025() -> None:
    levels = [region.level for region in all_regions()]
    assert levels.count("province") == 34  # 31 mainland + 台湾, 香港, 澳门
    assert levels.count("prefecture") == 333
    assert levels.count("county") == 2845


def test_province_level_units_are_the_31_mainland_ones_plus_taiwan_hong_kong_macau() -> None:
    provinces = {r.code: r.name for r in all_regions() if r.level == "province"}
    assert provinces["710000"] == "台湾省"
    assert provinces["810000"] == "香港特别行政区"
    assert provinces["820000"] == "澳门特别行政区"
    mainland = [code for code in provinces if code not in ("710000", "810000", "820000")]
    assert len(mainland) == 31
    for code in ("710000", "810000", "820000"):
        assert children(code) == []


@pytest.mark.parametrize(
    ("code", "name", "parent"),
    [
        ("110101", "东城区", "110000"),
        ("440300", "深圳市", "440000"),
        ("440305", "南山区", "440300"),
        ("419001", "济源市", "410000"),  # county-level city governed by the province
        ("441900", "东莞市", "440000"),  # prefecture-level city without counties
        ("659012", "白杨市", "650000"),
    ],
)
def test_known_real_entries(code: str, name: str, parent: str) -> None:
    region = get_region(code)
    assert (region.name, region.parent_code) == (name, parent)


def test_2024_new_counties_in_hotan_are_included() -> None:
    hotan = [region.code for region in children("653200")]
    assert get_region("653228").name == "和康县"
    assert get_region("653229").name == "和安县"
    assert {"653228", "653229"} <= set(hotan)
    assert len(hotan) == 10


def test_2025_chongqing_change_replaces_jiangbei_and_yubei_by_liangjiang() -> None:
    assert get_region("500157").name == "两江新区"
    assert get_region("500157").parent_code == "500000"
    assert not is_region("500105")
    assert not is_region("500112")


def test_an_abolished_code_suggests_its_successor_first() -> None:
    with pytest.raises(UnknownReference) as caught:
        get_region("500112")
    assert caught.value.suggestions[0] == "500157 两江新区"


def test_units_created_in_2026_are_not_in_the_2025_table() -> None:
    assert not is_region("653132")  # 岑岭县
    assert not is_region("659013")  # 草湖市


def test_every_parent_exists_and_is_one_level_up() -> None:
    by_code = {region.code: region for region in all_regions()}
    for region in all_regions():
        if region.level == "province":
            assert region.parent_code is None
            continue
        assert region.parent_code is not None
        parent = by_code[region.parent_code]
        assert region.code.startswith(parent.code.rstrip("0")[:2])
        if region.level == "prefecture":
            assert parent.level == "province"
        elif region.code[:4] + "00" in by_code:
            assert parent.code == region.code[:4] + "00"
        else:
            assert parent.code == region.province_code


def test_codes_are_six_digits_unique_and_shaped_by_level() -> None:
    codes = [region.code for region in all_regions()]
    assert len(set(codes)) == len(codes) == 3212
    assert codes == sorted(codes)
    for region in all_regions():
        assert len(region.code) == 6 and region.code.isdigit()
        assert region.name and region.name.strip() == region.name
        shape = {"province": "0000", "prefecture": "00"}.get(region.level)
        assert region.code.endswith(shape) if shape else not region.code.endswith("00")


@pytest.mark.parametrize(
    ("typed", "code"),
    [("44", "440000"), ("4403", "440300"), ("440305", "440305"), (" 4403 ", "440300")],
)
def test_prefixes_are_padded_with_zeros(typed: str, code: str) -> None:
    assert get_region(typed).code == code
    assert is_region(typed)


def test_full_width_digits_are_accepted() -> None:
    assert get_region("４４０３０５").name == "南山区"


def test_province_code_and_paths() -> None:
    assert get_region("440305").province_code == "440000"
    assert [r.code for r in region_path("440305")] == ["440000", "440300", "440305"]
    assert [r.name for r in region_path("110101")] == ["北京市", "东城区"]
    assert [r.name for r in region_path("419001")] == ["河南省", "济源市"]
    assert get_region("440305").full_name() == "广东省深圳市南山区"
    assert get_region("44").path() == [get_region("440000")]


def test_unknown_code_gives_up_to_three_close_valid_codes_with_names() -> None:
    with pytest.raises(UnknownReference) as caught:
        get_region("440399")
    error = caught.value
    assert (error.what, error.value) == ("region", "440399")
    assert 1 <= len(error.suggestions) <= 3
    for suggestion in error.suggestions:
        code, name = suggestion.split(" ")
        assert code.startswith("4403") and get_region(code).name == name
    assert "did you mean" in str(error)


def test_swapped_digits_are_suggested() -> None:
    with pytest.raises(UnknownReference) as caught:
        get_region("440350")
    assert "440305 南山区" in caught.value.suggestions


def test_municipality_prefix_suggests_the_municipality() -> None:
    with pytest.raises(UnknownReference) as caught:
        get_region("1101")  # Beijing's districts hang directly under 110000
    assert caught.value.suggestions[0] == "110000 北京市"


def test_a_name_instead_of_a_code_suggests_the_code() -> None:
    with pytest.raises(UnknownReference) as caught:
        get_region("深圳")
    assert caught.value.suggestions == ["440300 深圳市"]


@pytest.mark.parametrize("typed", ["", "4", "440", "44030", "4403050", "abc", "44-03"])
def test_malformed_codes_are_unknown(typed: str) -> None:
    assert not is_region(typed)
    with pytest.raises(UnknownReference):
        get_region(typed)


def test_children() -> None:
    guangdong = children("44")
    assert len(guangdong) == 21 and all(r.level == "prefecture" for r in guangdong)
    assert "440300" in [r.code for r in guangdong]
    beijing = children("110000")
    assert len(beijing) == 16 and all(r.level == "county" for r in beijing)
    assert "419001" in [r.code for r in children("410000")]
    assert children("440305") == []
    with pytest.raises(UnknownReference):
        children("449900")


def test_find_regions_by_exact_or_contained_name() -> None:
    assert [r.code for r in find_regions("深圳")] == ["440300"]
    assert [r.code for r in find_regions("南山区")] == ["230404", "440305"]
    assert find_regions("朝阳")[0].code == "211300"  # 朝阳市 before the 朝阳区 districts
    assert [r.code for r in find_regions("深圳市南山区")] == ["440305"]
    assert [r.code for r in find_regions("广东省深圳市")] == ["440300"]
    assert find_regions("") == [] and find_regions("不存在的地方") == []


def test_exact_name_matches_come_first() -> None:
    found = find_regions("城区")  # 阳泉 and 晋城 have a district named just 城区
    assert [r.code for r in found[:2]] == ["140302", "140502"]
    assert len(found) > 2 and all("城区" in r.name for r in found)


def test_regions_are_immutable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        get_region("440305").name = "x"  # type: ignore[misc]


def test_source_constant_matches_the_data_file_header() -> None:
    header = files("custmdm.standards").joinpath("data", regions.DATA_FILE).read_text("utf-8")
    assert f"# source: {REGIONS_SOURCE}\n" in header
    assert "2025-12-31" in REGIONS_SOURCE


def test_loading_is_lazy_and_cached() -> None:
    regions._table.cache_clear()
    assert regions._table.cache_info().currsize == 0
    all_regions()
    assert regions._table() is regions._table()
    assert regions._table.cache_info().hits >= 1


def test_module_doctests() -> None:
    assert doctest.testmod(regions).failed == 0
