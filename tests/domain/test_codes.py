"""Coding-rule patterns: syntax, rendering, parsing back, check characters, overlaps."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custmdm.domain.codes import CHECK_ALGORITHMS, CodeContext, parse_pattern
from custmdm.domain.rules import CodingRule, choose_rule
from custmdm.errors import CounterExhausted, PatternSyntaxError, RuleViolation

CTX = CodeContext(kind="enterprise", issued_on=date(2026, 3, 15), region="440305",
                  country="CN", industry_section="C", industry_division="13", grade="vip")


def test_every_segment_renders() -> None:
    pattern = parse_pattern(
        "X{kind}{region:6}{country}{industry}{industry:2}{grade}{yyyy}{yy}{mm}{seq:3}"
        "{check:mod37-2}"
    )
    code = pattern.render(CTX, 7)
    assert code[:-1] == "XE440305CNC13A20262603007"
    assert pattern.verify(code)
    assert pattern.parts(code)["seq:3"] == "007"


def test_literal_braces_and_separators() -> None:
    pattern = parse_pattern("{{A}}-{seq:2}")
    assert pattern.render(CTX, 5) == "{A}-05"


@pytest.mark.parametrize(
    ("text", "position", "fragment"),
    [
        ("C{seq:6", 1, "unclosed"),
        ("C{sequence:6}", 1, "unknown segment {sequence:6}"),
        ("C{region:3}{seq:4}", 1, "N = 2, 4 or 6"),
        ("C{seq:0}", 1, "width N from 1 to 18"),
        ("C{seq:4}{check:crc32}", 8, "unknown check algorithm"),
        ("C{kind:x}{seq:4}", 1, "takes no argument"),
        ("CODE", 4, "needs one {seq:N}"),
        ("{seq:2}{seq:2}", 7, "only one {seq:N}"),
        ("C {seq:2}", 1, "cannot be part of a code"),
        ("C}{seq:2}", 1, "'}' without '{'"),
        ("{check:luhn}{seq:4}", 0, "must come after {seq:N}"),
    ],
)
def test_syntax_errors_point_at_the_position(text: str, position: int, fragment: str) -> None:
    with pytest.raises(PatternSyntaxError) as caught:
        parse_pattern(text)
    assert caught.value.position == position
    assert fragment in str(caught.value)
    assert f"at position {position + 1} of" in str(caught.value)


@pytest.mark.parametrize("algorithm", ["luhn", "damm", "verhoeff", "mod11-2"])
def test_digit_algorithms_refuse_letters_before_them(algorithm: str) -> None:
    with pytest.raises(PatternSyntaxError, match=r"use \{check:mod37-2\}"):
        parse_pattern(f"{{kind}}{{seq:6}}{{check:{algorithm}}}")
    assert parse_pattern(f"{{region:4}}{{seq:6}}{{check:{algorithm}}}").length == 11


def test_mod37_2_refuses_separators_it_cannot_cover() -> None:
    with pytest.raises(PatternSyntaxError, match="covers only digits 0-9 and capital"):
        parse_pattern("C-{seq:6}{check:mod37-2}")
    assert parse_pattern("C{seq:6}{check:mod37-2}-X").length == 10


def test_counter_never_wraps() -> None:
    pattern = parse_pattern("C{seq:2}")
    assert pattern.render(CTX, 99) == "C99"
    with pytest.raises(CounterExhausted):
        pattern.render(CTX, 100)


def test_missing_customer_facts_are_named() -> None:
    pattern = parse_pattern("{region:4}{seq:4}")
    with pytest.raises(RuleViolation, match="needs a Chinese"):
        pattern.render(CodeContext(kind="enterprise", issued_on=date.today(), country="DE"), 1)


def test_overlap_detection_uses_conditions() -> None:
    ent = CodingRule.build("e", "C{kind}{seq:6}{check:mod37-2}", kind="enterprise")
    ind = CodingRule.build("p", "C{kind}{seq:6}{check:mod37-2}", kind="individual")
    anyone = CodingRule.build("a", "C{kind}{seq:6}{check:mod37-2}")
    assert ent.collision_example(ind) is None
    assert ent.collision_example(anyone) is not None
    gd = CodingRule.build("gd", "C{region:2}{seq:4}", region_prefix="44")
    bj = CodingRule.build("bj", "C{region:2}{seq:4}", region_prefix="11")
    assert gd.collision_example(bj) is None
    # Same length, digits against a year: they could collide.
    year = CodingRule.build("y", "C{yy}{seq:4}")
    assert gd.collision_example(year) == "C440000"
    assert gd.collision_example(CodingRule.build("long", "C{region:2}{seq:5}")) is None


def test_choose_rule_by_priority_then_conditions() -> None:
    general = CodingRule.build("general", "C{seq:6}", priority=100)
    gov = CodingRule.build("gov", "G{seq:6}", kind="government", priority=10)
    assert choose_rule([general, gov], CTX).name == "general"
    gov_ctx = CodeContext(kind="government", issued_on=date.today(), region="110101")
    assert choose_rule([general, gov], gov_ctx).name == "gov"
    with pytest.raises(RuleViolation, match="no coding rule applies"):
        choose_rule([gov], CTX)


# -- properties --------------------------------------------------------------------------

SEGMENTS = ["{kind}", "{region:2}", "{region:4}", "{region:6}", "{country}", "{industry}",
            "{industry:2}", "{grade}", "{yyyy}", "{yy}", "{mm}", "AB", "7", "Z"]


@st.composite
def patterns_and_contexts(draw: st.DrawFn) -> tuple[str, CodeContext, int]:
    before = draw(st.lists(st.sampled_from(SEGMENTS), max_size=5))
    width = draw(st.integers(1, 9))
    after = draw(st.lists(st.sampled_from(["{yy}", "Q", "{mm}"]), max_size=2))
    check = draw(st.sampled_from(["", "{check:mod37-2}"]))
    text = "".join(before) + f"{{seq:{width}}}" + check + "".join(after)
    ctx = CodeContext(
        kind=draw(st.sampled_from(["enterprise", "individual", "government", "other"])),
        issued_on=draw(st.dates(date(2000, 1, 1), date(2099, 12, 31))),
        region=draw(st.sampled_from(["110101", "440305", "650102"])),
        country=draw(st.sampled_from(["CN", "DE", "US"])),
        industry_section=draw(st.sampled_from(list("ACFIT"))),
        industry_division=draw(st.sampled_from(["01", "13", "65"])),
        grade=draw(st.sampled_from(["vip", "important", "ordinary", "potential"])),
    )
    return text, ctx, draw(st.integers(1, 10**width - 1))


@given(patterns_and_contexts())
def test_a_rendered_code_parses_back(case: tuple[str, CodeContext, int]) -> None:
    text, ctx, seq = case
    pattern = parse_pattern(text)
    code = pattern.render(ctx, seq)
    assert len(code) == pattern.length
    assert pattern.fits(code)
    assert pattern.verify(code)
    assert pattern.seq_of(code) == seq
    assert pattern.scope_of(code) == pattern.scope_key(ctx)
    assert pattern.with_seq(code, seq) == code


@given(
    algorithm=st.sampled_from(sorted(CHECK_ALGORITHMS)),
    data=st.data(),
)
def test_every_single_substitution_is_detected(algorithm: str, data: st.DataObject) -> None:
    """Each algorithm detects every single-character substitution over what it covers."""
    alg = CHECK_ALGORITHMS[algorithm]
    alphabet = sorted(alg.covers)
    body = data.draw(st.text(alphabet=alphabet, min_size=1, max_size=20), label="body")
    code = body + alg.check_character(body)
    position = data.draw(st.integers(0, len(code) - 1), label="position")
    choices = sorted((alg.yields if position == len(body) else alg.covers) - {code[position]})
    replacement = data.draw(st.sampled_from(choices), label="replacement")
    typo = code[:position] + replacement + code[position + 1:]
    assert alg.check_character(typo[:-1]) != typo[-1]


def test_check_characters_come_from_python_stdnum() -> None:
    from stdnum import luhn
    from stdnum.iso7064 import mod_11_2

    assert CHECK_ALGORITHMS["luhn"].check_character("7992739871") == luhn.calc_check_digit(
        "7992739871")
    # GB 11643 uses ISO 7064 MOD 11-2: the check of this sample ID number is X.
    assert CHECK_ALGORITHMS["mod11-2"].check_character("11010519491231002") == "X"
    assert mod_11_2.is_valid("11010519491231002X")
