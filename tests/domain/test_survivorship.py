"""Survivorship: which customer's value a merge keeps, field by field."""

from __future__ import annotations

from datetime import datetime

import pytest

from custmdm.domain.survivorship import (
    DEFAULT_SURVIVORSHIP,
    Choice,
    Contender,
    FieldRule,
    Survivorship,
    choose,
    field_rule,
)
from custmdm.errors import ValidationError

SURVIVOR = Contender("A", {"legal_name": "甲", "owner": "s1", "region": None,
                           "industry": None, "size": "small", "grade": None},
                     datetime(2026, 1, 1), frozenset({"CRM"}))
OLDER = Contender("B", {"legal_name": "乙", "owner": "s2", "region": "440305",
                        "industry": "C39", "size": "large", "grade": "vip"},
                  datetime(2025, 1, 1), frozenset({"ERP"}))
NEWER = Contender("C", {"legal_name": "丙", "owner": None, "region": "110101",
                        "industry": None, "size": "medium", "grade": None},
                  datetime(2026, 6, 1))


def test_the_default_rules() -> None:
    chosen = choose([SURVIVOR, OLDER, NEWER], DEFAULT_SURVIVORSHIP)
    assert chosen["legal_name"] == Choice("A", "survivor")
    assert chosen["owner"] == Choice("A", "survivor")
    assert chosen["region"] == Choice("B", "most_complete")  # first other that has one
    assert chosen["size"] == Choice("C", "most_recent")  # changed last
    assert chosen["grade"] == Choice("B", "most_recent")  # the only one with a grade


def test_a_stewards_rules_replace_the_defaults() -> None:
    rules = {"legal_name": FieldRule("legal_name", Survivorship.MOST_RECENT),
             "size": FieldRule("size", Survivorship.SURVIVOR),
             "region": FieldRule("region", Survivorship.TRUSTED, ("SAP", "ERP"))}
    chosen = choose([SURVIVOR, OLDER, NEWER], rules)
    assert chosen["legal_name"] == Choice("C", "most_recent")
    assert chosen["size"] == Choice("A", "survivor")
    assert chosen["region"] == Choice("B", "trusted:ERP")  # no SAP customer; ERP's
    assert chosen["grade"] == Choice("B", "most_recent")  # not set: the default


def test_trusted_falls_back_to_most_complete() -> None:
    rules = {"industry": FieldRule("industry", Survivorship.TRUSTED, ("CRM",))}
    # The CRM's customer (A) has no industry: the first that has one.
    assert choose([SURVIVOR, OLDER], rules)["industry"] == Choice("B", "most_complete")


def test_a_pick_beats_the_merges_trusted_order_which_beats_the_rule() -> None:
    chosen = choose([SURVIVOR, OLDER, NEWER], DEFAULT_SURVIVORSHIP,
                    picks={"size": "A"}, trusted=["ERP"])
    assert chosen["size"] == Choice("A", "pick")
    assert chosen["owner"] == Choice("B", "trusted:ERP")
    assert chosen["legal_name"] == Choice("B", "trusted:ERP")


def test_nobody_has_a_value_keeps_the_survivors() -> None:
    assert choose([SURVIVOR, NEWER], DEFAULT_SURVIVORSHIP)["industry"] == Choice(
        "A", "most_complete")


@pytest.mark.parametrize(("args", "message"), [
    (("colour", "survivor"), "no field 'colour'"),
    (("region", "newest"), "unknown survivorship rule 'newest'"),
    (("region", "trusted"), "needs the systems to trust"),
    (("region", "most_recent", ["ERP"]), "only with the trusted rule"),
])
def test_bad_rules_say_what_to_write(args: tuple, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValidationError, match=message):
        field_rule(*args)


def test_bad_picks_are_refused() -> None:
    with pytest.raises(ValidationError, match="no such field"):
        choose([SURVIVOR, OLDER], DEFAULT_SURVIVORSHIP, picks={"colour": "A"})
    with pytest.raises(ValidationError, match="Z is not one of the customers"):
        choose([SURVIVOR, OLDER], DEFAULT_SURVIVORSHIP, picks={"size": "Z"})


def test_a_rule_is_read_as_written() -> None:
    assert field_rule("region", " Trusted ", ["ERP", "SAP", "ERP"]) == FieldRule(
        "region", Survivorship.TRUSTED, ("ERP", "SAP"))
