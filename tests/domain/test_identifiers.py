"""Customer identifiers: USCC, resident ID number, VAT numbers and the scheme registry."""

from __future__ import annotations

import dataclasses
import doctest
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum import exceptions as stdnum_errors
from stdnum.cn import ric as stdnum_ric
from stdnum.cn import uscc as stdnum_uscc

from custmdm import errors
from custmdm.domain.identifiers import (
    SCHEMES,
    Identifier,
    format_identifier,
    is_valid_identifier,
    make_identifier,
    normalise_scheme,
    parse_identifier_arg,
    ric,
    supported_schemes,
    uscc,
    validate_identifier,
)

DATA = Path(__file__).parent.parent / "data"
DOCTEST_FILE = Path(__file__).parent / "identifiers.doctest"


def read_samples(name: str) -> list[str]:
    """Numbers of a samples file: the first word of each line that is not a comment."""
    lines = (
        line.split("#", 1)[0].strip() for line in (DATA / name).read_text("utf-8").splitlines()
    )
    return [line for line in lines if line]


USCC_SAMPLES = read_samples("uscc-samples.txt")
RIC_SAMPLES = read_samples("ric-samples.txt")
STANDARD_USCC = [n for n in USCC_SAMPLES if not uscc.is_fujian_pilot(n)]
PILOT_USCC = [n for n in USCC_SAMPLES if uscc.is_fujian_pilot(n)]


def test_samples_files_hold_what_they_promise() -> None:
    assert len(USCC_SAMPLES) >= 700
    assert len(set(USCC_SAMPLES)) == len(USCC_SAMPLES)
    assert {n[:2] for n in USCC_SAMPLES} >= {"11", "12", "51", "52", "53", "91", "92"}
    assert len(PILOT_USCC) == 6  # the GB 32100 example and five that break its check
    assert RIC_SAMPLES[0] == "11010519491231002X"


# -- USCC: real numbers --------------------------------------------------------------------


def test_every_real_uscc_validates() -> None:
    assert [n for n in USCC_SAMPLES if not uscc.is_valid(n)] == []
    assert [n for n in USCC_SAMPLES if validate_identifier("cn.uscc", n) != n] == []


def test_embedded_organisation_check_holds_for_every_real_uscc() -> None:
    wrong = [n for n in USCC_SAMPLES if uscc.calc_organisation_check_digit(n[8:16]) != n[16]]
    assert wrong == []


def test_pilot_codes_are_real_numbers_that_break_the_final_check() -> None:
    broken = [n for n in PILOT_USCC if uscc.calc_check_digit(n) != n[17]]
    assert len(broken) == 5
    assert all(uscc.is_valid(n) for n in broken)
    assert not any(stdnum_uscc.is_valid(n) for n in broken)


def _substitutions(number: str, positions: range | list[int]) -> list[tuple[int, str]]:
    """Every (position, new number) that differs from the number in one character."""
    return [
        (position, number[:position] + char + number[position + 1 :])
        for position in positions
        for char in uscc.ALPHABET
        if char != number[position]
    ]


def test_every_single_substitution_of_a_real_uscc_is_detected() -> None:
    missed = [
        changed
        for number in STANDARD_USCC
        for _, changed in _substitutions(number, range(18))
        if uscc.is_valid(changed)
    ]
    assert missed == []


def test_pilot_codes_still_catch_errors_in_region_and_organisation_code() -> None:
    """The documented price of accepting pilot codes: only these positions stay checked.

    A substitution in the organisation code is caught by GB 11714 unless the values
    differ by a multiple of 11; one in the province (positions 3-4) leaves the pilot
    shape and is caught by GB 32100 unless it happens to satisfy it.
    """
    missed = []
    for number in PILOT_USCC:
        for position, changed in _substitutions(number, [2, 3, *range(8, 17)]):
            difference = int(changed[position], 36) - int(number[position], 36)
            blind_spot = position >= 8 and difference % 11 == 0
            follows_gb32100 = uscc.calc_check_digit(changed) == changed[17]
            if uscc.is_valid(changed) and not (blind_spot or follows_gb32100):
                missed.append(changed)
    assert missed == []


# -- USCC: constructed numbers -------------------------------------------------------------

_ORGANISATION_BODY = st.text(alphabet=uscc.ALPHABET, min_size=8, max_size=8)


def _not_fujian(region: str) -> bool:
    return not region.startswith("35")


@st.composite
def constructed_uscc(draw: st.DrawFn) -> str:
    """A number built with the module's own check functions, never of the pilot shape."""
    head = draw(st.text(alphabet=uscc.ALPHABET, min_size=2, max_size=2))
    # region 35 is left out so that no single substitution can reach the pilot shape
    region = draw(st.text(alphabet="0123456789", min_size=6, max_size=6).filter(_not_fujian))
    body = draw(_ORGANISATION_BODY.filter(lambda b: not b.startswith("M000")))
    first17 = head + region + body + uscc.calc_organisation_check_digit(body)
    return first17 + uscc.calc_check_digit(first17)


@given(constructed_uscc())
def test_constructed_numbers_validate(number: str) -> None:
    assert uscc.validate(number) == number
    assert uscc.validate(number.lower()) == number


@given(constructed_uscc(), st.integers(0, 17), st.sampled_from(uscc.ALPHABET))
def test_a_substitution_in_a_constructed_number_is_detected(
    number: str, position: int, char: str
) -> None:
    changed = number[:position] + char + number[position + 1 :]
    assert uscc.is_valid(changed) == (changed == number)


@pytest.mark.parametrize(
    "number",
    [
        "N2110105MA01C2D36U",  # village collective economic organisation (农业)
        "N1110105MA01C2D36Y",  # group-level collective
        "Y1110000MA01C2D369",  # other registration authority
        "A1100000MA01C2D36R",  # military public institution
        "31110000MA01C2D365",  # law firm (司法行政)
        "71110000MA01C2D361",  # place of worship (宗教)
        "81110000MA01C2D360",  # trade union (工会)
        "B1110000MA01C2D36W",  # an authority code not in any table yet
    ],
)
def test_letter_and_new_authority_codes_are_accepted(number: str) -> None:
    assert uscc.validate(number) == number


def test_stdnum_rejects_letter_authorities_and_ignores_the_organisation_code() -> None:
    """Why cn.uscc is our own module (python-stdnum 2.2); revisit if this test fails."""
    assert not stdnum_uscc.is_valid("N2110105MA01C2D36U")
    broken_organisation = "91440300192203822" + uscc.calc_check_digit("91440300192203822")
    assert stdnum_uscc.is_valid(broken_organisation)
    assert not uscc.is_valid(broken_organisation)


def test_organisation_check_digit_counts_letters_in_base_36() -> None:
    assert uscc.calc_organisation_check_digit("MA2PBM9H") == "X"  # 91340600MA2PBM9HXD
    assert uscc.calc_organisation_check_digit("X1139803") == "4"  # 91350981X11398034D
    with pytest.raises(ValueError):
        uscc.calc_organisation_check_digit("1234567")


def test_check_digit_helpers_build_numbers_a_generator_can_use() -> None:
    first17 = "91440300" + "19220382" + uscc.calc_organisation_check_digit("19220382")
    assert first17 + uscc.calc_check_digit(first17) == "914403001922038216"


# -- USCC: what is wrong, and which error says so --------------------------------------------


@pytest.mark.parametrize(
    ("value", "stdnum_error", "ours", "reason"),
    [
        ("91440300192203821", stdnum_errors.InvalidLength, errors.InvalidLength, "17 characters"),
        ("914403001922038216X", stdnum_errors.InvalidLength, errors.InvalidLength, "19 chara"),
        ("91440300I92203821X", stdnum_errors.InvalidFormat, errors.InvalidFormat, "'I' at pos"),
        ("9144A300192203821X", stdnum_errors.InvalidFormat, errors.InvalidFormat, "region code"),
        ("91440300192203821X", stdnum_errors.InvalidChecksum, errors.InvalidChecksum, "be 6"),
        ("914403001922038229", stdnum_errors.InvalidComponent, errors.InvalidComponent, "be 1"),
    ],
)
def test_each_fault_has_its_error_class_and_message(
    value: str,
    stdnum_error: type[stdnum_errors.ValidationError],
    ours: type[errors.ValidationError],
    reason: str,
) -> None:
    with pytest.raises(stdnum_error, match=reason):
        uscc.validate(value)
    with pytest.raises(ours, match=reason) as raised:
        validate_identifier("cn.uscc", value)
    assert isinstance(raised.value, errors.ValidationError)
    assert isinstance(raised.value, ValueError)
    assert str(raised.value).startswith("cn.uscc ")


def test_the_component_case_really_has_a_right_final_check_character() -> None:
    assert uscc.calc_check_digit("91440300192203822") == "9"


def test_checksum_message_names_scheme_value_and_fix() -> None:
    with pytest.raises(errors.InvalidChecksum) as raised:
        validate_identifier("cn.uscc", "91440300192203821X")
    assert str(raised.value) == (
        "cn.uscc 91440300192203821X: the check character should be 6 — check for a typing error"
    )


def test_compact_folds_full_width_and_separators() -> None:
    assert uscc.compact("９１４４ ０３００－１９２２ ０３８２ １６") == "914403001922038216"
    assert uscc.format(" 91440300-192203821-6 ") == "914403001922038216"


# -- resident identity card number ------------------------------------------------------------


def test_every_published_ric_example_validates() -> None:
    assert [n for n in RIC_SAMPLES if not ric.is_valid(n)] == []
    assert validate_identifier("cn.ric", "110105 19491231 002x") == "11010519491231002X"


def test_ric_accepts_an_address_code_created_after_the_birth_year() -> None:
    """The address code says where the number was issued, not where the holder was born.

    A synthetic number (not a person's): Shantou 龙湖区 440507 exists from 1991 only.
    """
    first17 = "440507" + "19500101" + "001"
    number = first17 + ric.calc_check_digit(first17)
    assert ric.validate(number) == number
    assert not stdnum_ric.is_valid(number)
    assert not stdnum_ric.is_valid("440524188001010014")


@pytest.mark.parametrize(
    ("value", "ours", "reason"),
    [
        ("11010519491231002", errors.InvalidLength, "17 characters"),
        ("110105491231002", errors.InvalidLength, "15 characters"),
        ("1101051949123100AX", errors.InvalidFormat, "17 digits"),
        ("110105194912310021", errors.InvalidChecksum, "should be X"),
        ("110105194902310026", errors.InvalidComponent, "birth date 19490231"),
        ("990105194912310023", errors.InvalidComponent, "no province"),
    ],
)
def test_ric_faults(value: str, ours: type[errors.ValidationError], reason: str) -> None:
    with pytest.raises(ours, match=reason):
        validate_identifier("cn.ric", value)


def test_the_ric_fault_cases_are_otherwise_right() -> None:
    assert ric.calc_check_digit("11010519490231002") == "6"
    assert ric.calc_check_digit("99010519491231002") == "3"


# -- VAT numbers through python-stdnum ---------------------------------------------------------


@pytest.mark.parametrize(
    ("scheme", "value", "canonical"),
    [
        ("vat.de", "DE 136,695 976", "136695976"),
        ("vat.gb", "GB 980 7806 84", "980780684"),
        ("vat.fr", "FR 40 303 265 045", "40303265045"),
        ("vat.eu", "nl004495445b01", "NL004495445B01"),
        ("vat.eu", "DE 136,695 976", "DE136695976"),
        ("vat.eu", "EL 094259216", "EL094259216"),
        ("VAT.DE", " 136695976 ", "136695976"),
    ],
)
def test_vat_numbers_validate(scheme: str, value: str, canonical: str) -> None:
    assert validate_identifier(scheme, value) == canonical
    assert is_valid_identifier(scheme, value)


def test_vat_faults_become_our_errors() -> None:
    with pytest.raises(errors.InvalidChecksum, match=r"^vat\.de 136695977: .*typing error"):
        validate_identifier("vat.de", "DE136695977")
    with pytest.raises(errors.InvalidChecksum, match=r"^vat\.gb 980780685"):
        validate_identifier("vat.gb", "GB980780685")
    with pytest.raises(errors.InvalidComponent, match=r"^vat\.eu "):
        validate_identifier("vat.eu", "XX123456789")
    with pytest.raises(errors.InvalidFormat):
        validate_identifier("vat.de", "DE13669597")
    assert not is_valid_identifier("vat.eu", "DE136695977")


def test_vat_cn_is_our_uscc() -> None:
    assert validate_identifier("vat.cn", "N2110105MA01C2D36U") == "N2110105MA01C2D36U"


def test_format_uses_the_scheme_presentation() -> None:
    assert format_identifier("vat.gb", "GB980780684") == "980 7806 84"
    assert format_identifier("vat.fr", "FR40303265045") == "40303265045"  # tva has no format
    assert (
        format_identifier("cn.uscc", "９１４４０３００１９２２０３８２１６") == "914403001922038216"
    )
    with pytest.raises(errors.InvalidChecksum):
        format_identifier("vat.gb", "GB980780685")


# -- the registry ------------------------------------------------------------------------------


def test_schemes_describe_the_supported_families() -> None:
    assert set(SCHEMES) == {"cn.uscc", "cn.ric", "vat.<cc>"}
    concrete = supported_schemes()
    assert concrete[:2] == ("cn.uscc", "cn.ric")
    assert {"vat.de", "vat.gb", "vat.fr", "vat.eu", "vat.in", "vat.cn"} <= set(concrete)
    assert all(is_valid_identifier(s, "x") is False for s in concrete)


def test_normalise_scheme() -> None:
    assert normalise_scheme("  CN.USCC\t") == "cn.uscc"


@pytest.mark.parametrize("scheme", ["vat.zz", "vat", "cn.passport", "", "vat.iso7064x"])
def test_unknown_scheme_lists_the_supported_ones(scheme: str) -> None:
    with pytest.raises(errors.ValidationError) as raised:
        validate_identifier(scheme, "123")
    error = raised.value
    assert type(error) is errors.ValidationError
    assert f"unknown identifier scheme {scheme!r}" in str(error)
    assert "cn.uscc, cn.ric and vat.<cc>" in str(error)
    assert " de, " in str(error)
    with pytest.raises(errors.ValidationError):
        is_valid_identifier(scheme, "123")


def test_unknown_scheme_suggests_the_likely_one() -> None:
    with pytest.raises(errors.ValidationError, match=r"did you mean vat\.gr"):
        validate_identifier("vat.el", "094259216")
    with pytest.raises(errors.ValidationError, match=r"did you mean vat\.gb"):
        validate_identifier("vat.uk", "980780684")


def test_identifier_is_a_frozen_value() -> None:
    ident = Identifier("cn.uscc", "914403001922038216")
    with pytest.raises(dataclasses.FrozenInstanceError):
        ident.value = "x"  # type: ignore[misc]
    assert ident == Identifier("cn.uscc", "914403001922038216")
    assert len({ident, Identifier("cn.uscc", "914403001922038216")}) == 1
    assert str(ident) == "cn.uscc=914403001922038216"


def test_make_identifier_normalises_both_parts() -> None:
    assert make_identifier(" Vat.EU ", "nl 004495445 b01") == Identifier("vat.eu", "NL004495445B01")


# -- the command line's --id SCHEME=VALUE -------------------------------------------------------


def test_parse_identifier_arg() -> None:
    assert parse_identifier_arg("cn.uscc=9144 0300 1922 0382 16") == Identifier(
        "cn.uscc", "914403001922038216"
    )
    assert parse_identifier_arg(" CN.RIC = 11010519491231002x") == Identifier(
        "cn.ric", "11010519491231002X"
    )
    assert str(parse_identifier_arg("vat.de=DE136695976")) == "vat.de=136695976"


@pytest.mark.parametrize(
    ("argument", "reason"),
    [
        ("cn.uscc 914403001922038216", "no '='"),
        ("914403001922038216", "no '='"),
        ("", "no '='"),
        ("=914403001922038216", "no scheme"),
        ("cn.uscc=", "no value"),
        ("cn.uscc=  ", "no value"),
    ],
)
def test_parse_identifier_arg_says_what_is_missing(argument: str, reason: str) -> None:
    with pytest.raises(errors.InvalidFormat, match="expected SCHEME=VALUE") as raised:
        parse_identifier_arg(argument)
    assert reason in str(raised.value)
    assert "cn.uscc=914403001922038216" in str(raised.value)


def test_parse_identifier_arg_checks_the_value_and_the_scheme() -> None:
    with pytest.raises(errors.InvalidChecksum, match="should be 6"):
        parse_identifier_arg("cn.uscc=91440300192203821X")
    with pytest.raises(errors.ValidationError, match="unknown identifier scheme 'usc'"):
        parse_identifier_arg("usc=914403001922038216")


# -- the doctest file ---------------------------------------------------------------------------


def test_doctest_file() -> None:
    result = doctest.testfile(
        str(DOCTEST_FILE),
        module_relative=False,
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
    )
    assert result.attempted > 20
    assert result.failed == 0
