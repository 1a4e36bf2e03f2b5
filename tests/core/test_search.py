"""Search over codes, identifiers, external ids and every name (both databases)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from custmdm import CustomerDraft, Identifier
from custmdm.demo.generator import make_uscc
from custmdm.errors import ValidationError
from custmdm.register import Register

USCC = make_uscc("9", "1", "440305", 7)
HUASHENG = "深圳市华盛电子科技有限公司"
OTHERS = ("深圳市华胜光电科技有限公司", "广州市天宇贸易有限公司", "北京博远信息技术有限公司",
          "上海恒瑞医药股份有限公司", "杭州新美服装有限公司")


@pytest.fixture
def code(reg: Register) -> str:
    reg.add_rule("std", "C{kind}{seq:6}")
    reg.add_rule("key", "K{seq:4}", priority=500)
    found = reg.register(CustomerDraft("enterprise", HUASHENG, region="440305",
                                       identifiers=[Identifier("cn.uscc", USCC)])).code
    for name in OTHERS:
        reg.register(CustomerDraft("enterprise", name, region="440305"))
    reg.add_name(found, "short", "华盛电子")
    reg.add_name(found, "english", "Huasheng Electronics Co., Ltd.")
    reg.add_system("ERP")
    reg.add_xref(found, "ERP", "K-00123", "华盛")
    reg.add_system("CRM")
    reg.add_xref(found, "CRM", "C-9", "Huasheng Shenzhen HQ")
    return found


def top(reg: Register, query: str) -> tuple[str, str, str]:
    hits = reg.search(query, limit=5)
    assert hits, f"nothing found for {query!r}"
    return hits[0].customer.code, hits[0].field, hits[0].match


@pytest.mark.parametrize(("query", "field", "match"), [
    ("CE000001", "code", "exact"),
    (" ce000001 ", "code", "exact"),
    (USCC, "identifier cn.uscc", "exact"),
    ("K-00123", "ERP id", "exact"),
    (HUASHENG, "legal name", "exact"),
    ("深圳市華盛電子科技有限公司", "legal name", "exact"),  # traditional characters
    ("华盛电子", "short name", "exact"),
    ("huasheng electronics co ltd", "English name", "exact"),
    ("华盛", "ERP name", "exact"),  # what ERP calls it
    ("華盛", "ERP name", "exact"),
    ("华盛电", "short name", "prefix"),  # the shorter name ranks first
    ("huasheng shenzhen", "CRM name", "prefix"),
    ("电子科技", "legal name", "contains"),
    ("huashengdianzi", "short name (pinyin)", "exact"),
    ("hsdz", "short name (initials)", "exact"),
    ("szshsdz", "legal name (initials)", "prefix"),  # of the whole legal name
    ("深圳市华晟电子科技有限公司", "legal name", "similar"),  # one character wrong
    ("huashengdainzi", "short name (pinyin)", "similar"),  # a typo in pinyin
    ("huashengdianzikeji", "legal name (pinyin)", "exact"),  # of its core
    ("hsdzkj", "legal name (initials)", "exact"),
    ("华圣", "short name (sounds alike)", "similar"),  # the trade name alone
    ("华圣电子", "short name (sounds alike)", "similar"),  # 圣 sounds like 盛
])
def test_found_by_whatever_is_at_hand(
    reg: Register, code: str, query: str, field: str, match: str
) -> None:
    assert top(reg, query) == (code, field, match)


@pytest.mark.parametrize("query", [
    "深圳市华晟电子科技有限公司",  # a wrong character
    "深圳市毕盛电子科技有限公司",  # a wrong first character of the trade name
    "深圳市华盛电科技有限公司",  # a missing character
    "深圳市华盛电子子科技有限公司",  # an extra character
    "华晟电子科技有限公司",  # a wrong character, no region
    "深圳市华盛电子科技有线公司",  # a typo in the legal form: the core is whole
])
def test_one_typo_is_forgiven(reg: Register, code: str, query: str) -> None:
    assert top(reg, query) == (code, "legal name", "similar")


def test_old_codes_and_former_names_still_find_the_customer(reg: Register, code: str) -> None:
    new = reg.change_code(code, "key account", rule="key").customer.code
    hit = reg.search(code)[0]
    assert (hit.customer.code, hit.field, hit.matched) == (new, "superseded code", code)
    reg.rename(new, "深圳市华盛智能科技股份有限公司", "更名", on=date.today() - timedelta(days=1))
    hit = reg.search(HUASHENG)[0]
    assert (hit.customer.code, hit.field) == (new, "former name")
    assert reg.search("华盛智能")[0].customer.code == new  # the new name, at once


def test_ranking_puts_exact_keys_before_names(reg: Register, code: str) -> None:
    fragment = reg.register(CustomerDraft("enterprise", "深圳市CE000001科技有限公司",
                                          region="440305")).code
    hits = reg.search("CE000001")
    assert [h.customer.code for h in hits[:2]] == [code, fragment]
    assert [h.match for h in hits[:2]] == ["exact", "prefix"]  # its core starts so
    similar = reg.search("深圳市华晟电子科技有限公司")
    assert similar[0].customer.code == code
    assert all(h.score <= similar[0].score for h in similar)


def test_nothing_is_found_for_unrelated_text(reg: Register, code: str) -> None:
    assert reg.search("完全无关的名字") == []
    assert reg.search("'") == [] and reg.search("（）") == []  # nothing left to compare


@pytest.mark.parametrize(("query", "limit", "message"), [
    ("  ", 20, "give something to search for"),
    ("华盛", 0, "limit must be between 1 and 500"),
])
def test_bad_searches(reg: Register, code: str, query: str, limit: int, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        reg.search(query, limit=limit)


def test_many_names_sharing_the_looked_up_part_do_not_hide_a_match(reg: Register) -> None:
    """The index is asked for part of a long text; the whole is checked before the limit."""
    reg.add_rule("std", "C{kind}{seq:6}")
    reg.register_many([CustomerDraft("enterprise", f"深圳市华为技术服务{chr(0x4e00 + i)}有限公司",
                                     region="440305") for i in range(70)])
    branch = reg.register(CustomerDraft("enterprise", "深圳市华为技术有限公司南山分公司",
                                        region="440305")).code
    hits = reg.search("华为技术有限公司", limit=3)
    assert [(h.customer.code, h.match) for h in hits][:1] == [(branch, "contains")]


def test_a_typo_is_forgiven_among_many_names_of_the_same_start(reg: Register) -> None:
    reg.add_rule("std", "C{kind}{seq:6}")
    reg.register_many([CustomerDraft("enterprise", f"深圳市华{a}{b}实业有限公司", region="440305")
                       for a in "泰鑫达恒瑞德祥" for b in "兴宏伟安康信诚嘉新美"])
    code = reg.register(CustomerDraft("enterprise", HUASHENG, region="440305")).code
    assert top(reg, "深圳市华成电子科技有限公司") == (code, "legal name", "similar")


def test_a_foreign_legal_form_written_otherwise_is_the_same_name(reg: Register) -> None:
    reg.add_rule("std", "C{kind}{seq:6}")
    code = reg.register(CustomerDraft("enterprise", "Huawei Technologies Co., Ltd.",
                                      region="DE")).code
    assert top(reg, "Huawei Technologies Company Limited")[0] == code


def test_overlong_search_text_is_refused(reg: Register) -> None:
    with pytest.raises(ValidationError, match="at most 500 characters"):
        reg.search("a" * 501)
