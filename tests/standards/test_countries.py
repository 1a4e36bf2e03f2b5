"""ISO 3166-1 countries: the shipped table and the lookups."""

from __future__ import annotations

import doctest
from importlib.resources import files

import pytest

from custmdm.errors import UnknownReference
from custmdm.standards import countries
from custmdm.standards.countries import (
    COUNTRIES_SOURCE,
    all_countries,
    get_country,
    is_country,
)


def test_all_249_iso_3166_1_entries_with_well_formed_codes() -> None:
    entries = all_countries()
    assert len(entries) == 249
    for field, length in (("alpha2", 2), ("alpha3", 3), ("numeric", 3)):
        values = [getattr(country, field) for country in entries]
        assert len(set(values)) == 249
        assert all(len(value) == length for value in values)
    assert all(c.alpha2.isalpha() and c.alpha2.isupper() for c in entries)
    assert all(c.numeric.isdigit() for c in entries)
    assert all(c.name and c.name_zh for c in entries)


@pytest.mark.parametrize("code", ["CN", "cn", "CHN", "chn", "156", " Cn "])
def test_alpha2_alpha3_and_numeric_codes_in_any_case(code: str) -> None:
    china = get_country(code)
    assert (china.alpha2, china.alpha3, china.numeric) == ("CN", "CHN", "156")
    assert is_country(code)


@pytest.mark.parametrize(
    ("code", "name", "name_zh"),
    [
        ("DE", "Germany", "德国"),
        ("JP", "Japan", "日本"),
        ("US", "United States", "美国"),
        ("HK", "Hong Kong", "香港"),
        ("MO", "Macao", "澳门"),
        ("AF", "Afghanistan", "阿富汗"),
    ],
)
def test_known_names(code: str, name: str, name_zh: str) -> None:
    country = get_country(code)
    assert (country.name, country.name_zh) == (name, name_zh)


def test_numeric_codes_keep_leading_zeros() -> None:
    assert get_country("004").alpha2 == "AF"
    assert get_country("AFG").numeric == "004"


def test_uk_is_not_an_iso_code_but_suggests_gb() -> None:
    assert not is_country("UK")
    with pytest.raises(UnknownReference) as caught:
        get_country("UK")
    assert caught.value.suggestions[0] == "GB United Kingdom (英国)"


def test_typo_in_alpha3_suggests_close_codes() -> None:
    with pytest.raises(UnknownReference) as caught:
        get_country("CHA")
    error = caught.value
    assert (error.what, error.value) == ("country", "CHA")
    assert 1 <= len(error.suggestions) <= 3
    assert "CN China (中国)" in error.suggestions


@pytest.mark.parametrize("name", ["China", "中国"])
def test_a_name_suggests_its_code(name: str) -> None:
    with pytest.raises(UnknownReference) as caught:
        get_country(name)
    assert caught.value.suggestions[0] == "CN China (中国)"


@pytest.mark.parametrize("code", ["", "X", "XK", "ZZ", "ABCD", "1560", "C N"])
def test_unknown_codes(code: str) -> None:
    assert not is_country(code)
    with pytest.raises(UnknownReference):
        get_country(code)


def test_source_constant_matches_the_data_file_header() -> None:
    header = files("custmdm.standards").joinpath("data", countries.DATA_FILE).read_text("utf-8")
    assert f"# source: {COUNTRIES_SOURCE}\n" in header


def test_module_doctests() -> None:
    assert doctest.testmod(countries).failed == 0
