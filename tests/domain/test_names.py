"""Names: normalisation, legal forms and the structure of Chinese enterprise names.

Table-driven: each group lists real-world spellings of one name that must compare
equal, and pairs that must not.
"""

from __future__ import annotations

import pytest

from custmdm.domain.names import core, initials, legal_form, normalise, parse_name, pinyin

# Spellings of one name that normalise to the same text.
SAME_NORMALISED = [
    ("深圳市华为技术有限公司", "深圳市 华为技术 有限公司", "深圳市华为技术有限公司 "),
    ("ＡＢＣ科技（深圳）有限公司", "ABC科技(深圳)有限公司", "abc科技【深圳】有限公司",
     "ABC科技〔深圳〕有限公司", "Abc科技［深圳］有限公司"),
    ("台湾积体电路制造股份有限公司", "臺灣積體電路製造股份有限公司"),
    ("香港上海汇丰银行有限公司", "香港上海滙豐銀行有限公司"),
    ("Huawei Technologies Co., Ltd.", "HUAWEI TECHNOLOGIES CO.,LTD", "huawei technologies co ltd",
     "Ｈｕａｗｅｉ　Ｔｅｃｈｎｏｌｏｇｉｅｓ　Ｃｏ．，Ｌｔｄ．"),
    ("Müller Maschinenbau GmbH", "MÜLLER MASCHINENBAU GMBH", "Müller-Maschinenbau GmbH"),
]

# Names of one enterprise that share their core although they normalise differently.
SAME_CORE = [
    ("深圳市华盛电子科技有限公司", "华盛电子科技有限公司", "深圳华盛电子科技有限责任公司",
     "广东省深圳市华盛电子科技有限公司", "华盛电子科技（深圳）有限公司",
     "深圳市華盛電子科技有限公司"),
    ("北京红杉投资中心（有限合伙）", "北京市红杉投资中心(有限合伙)"),
    ("上海浦东发展银行股份有限公司", "上海浦东发展银行股份公司"),
    ("德阳市安创数据科技集团有限公司", "德阳市安创数据科技集团有限责任公司"),
    ("Huawei Technologies Co., Ltd.", "Huawei Technologies Company Limited",
     "HUAWEI TECHNOLOGIES LIMITED", "Huawei Technologies Ltd"),
    ("Summit Holdings Inc.", "Summit Holdings, Inc", "SUMMIT HOLDINGS INCORPORATED"),
    ("Lion City Pte. Ltd.", "LION CITY PTE LTD"),
    ("Rossi Meccanica S.p.A.", "ROSSI MECCANICA SPA"),
]

# Different enterprises: their cores must differ.
DIFFERENT_CORE = [
    ("深圳市华盛电子科技有限公司", "深圳市华盛光电科技有限公司"),
    ("深圳市华盛电子科技有限公司", "深圳市华胜电子科技有限公司"),
    ("中国平安财产保险股份有限公司深圳分公司", "中国平安财产保险股份有限公司广州分公司"),
    ("中山市中山电子有限公司", "中山市中天电子有限公司"),
]


@pytest.mark.parametrize("spellings", SAME_NORMALISED)
def test_spellings_of_one_name_normalise_alike(spellings: tuple[str, ...]) -> None:
    assert len({normalise(s) for s in spellings}) == 1, [normalise(s) for s in spellings]


@pytest.mark.parametrize("names", SAME_CORE)
def test_variants_of_one_enterprise_share_the_core(names: tuple[str, ...]) -> None:
    assert len({core(n) for n in names}) == 1, [core(n) for n in names]


@pytest.mark.parametrize(("one", "other"), DIFFERENT_CORE)
def test_different_enterprises_keep_different_cores(one: str, other: str) -> None:
    assert core(one) != core(other)


@pytest.mark.parametrize(("name", "form", "family"), [
    ("深圳市华为技术有限公司", "有限公司", "limited"),
    ("深圳市华为技术有限责任公司", "有限责任公司", "limited"),
    ("华为投资控股集团有限公司", "集团有限公司", "limited"),
    ("平安银行股份有限公司", "股份有限公司", "joint_stock"),
    ("平安银行股份公司", "股份公司", "joint_stock"),
    ("中国平安财产保险股份有限公司深圳分公司", "分公司", "branch"),
    ("中国人寿保险股份有限公司南山支公司", "支公司", "branch"),
    ("北京红杉投资中心（有限合伙）", "(有限合伙)", "partnership_limited"),
    ("深圳某某会计师事务所（普通合伙）", "(普通合伙)", "partnership_general"),
    ("北京市金杜律师事务所（特殊普通合伙）", "(特殊普通合伙)", "partnership_special"),
    ("深圳市华盛投资合伙企业", "合伙企业", "partnership"),
    ("南山区张三小吃店（个体工商户）", "(个体工商户)", "individual_business"),
    ("深圳市李四个人独资企业", "个人独资企业", "sole_proprietorship"),
    ("Huawei Technologies Co., Ltd.", "co ltd", "limited"),
    ("Acme Company Limited", "company limited", "limited"),
    ("Acme LLC", "llc", "limited"),
    ("Summit Holdings Inc.", "inc", "joint_stock"),
    ("Trading Corp.", "corp", "joint_stock"),
    ("Müller Maschinenbau GmbH", "gmbh", "limited"),
    ("Weber Handels AG", "ag", "joint_stock"),
    ("Dubois Distribution S.A.", "s a", "joint_stock"),
    ("Rossi Meccanica S.p.A.", "s p a", "joint_stock"),
    ("Lion City Pte. Ltd.", "pte ltd", "limited"),
    ("Sakura Kogyo K.K.", "k k", "joint_stock"),
])
def test_legal_forms_are_recognised(name: str, form: str, family: str) -> None:
    found = legal_form(name)
    assert found is not None and (found.text, found.family) == (form, family)


@pytest.mark.parametrize("name", ["深圳市华为技术", "张伟", "Acme", "AG", "深圳市华为"])
def test_names_without_a_legal_form(name: str) -> None:
    assert legal_form(name) is None


@pytest.mark.parametrize(("name", "regions", "trade", "industry"), [
    ("深圳市华盛电子科技有限公司", ["440300"], "华盛", "电子科技"),
    ("广东省深圳市南山区华盛电子科技有限公司", ["440000", "440300", "440305"], "华盛",
     "电子科技"),
    ("华为技术（深圳）有限公司", ["440300"], "华为", "技术"),
    ("北京朝阳区华盛科技有限公司", ["110000", "110105"], "华盛", "科技"),
    ("中山市中山电子有限公司", ["442000"], "中山", "电子"),
    ("中国平安财产保险股份有限公司深圳分公司", [], "平安", "财产保险"),
    ("华盛电子科技有限公司", [], "华盛", "电子科技"),
    ("南山华盛科技有限公司", [], "南山华盛", "科技"),  # counties only by full name
])
def test_chinese_enterprise_names_are_taken_apart(
    name: str, regions: list[str], trade: str, industry: str
) -> None:
    parts = parse_name(name)
    assert [r.code for r in parts.regions] == regions
    assert (parts.trade_name, parts.industry) == (trade, industry)


def test_a_branch_keeps_what_distinguishes_it() -> None:
    parts = parse_name("中国平安财产保险股份有限公司深圳分公司")
    assert parts.region_text == "中国" and parts.branch == "深圳"
    assert parts.legal_form is not None and parts.legal_form.family == "branch"


@pytest.mark.parametrize(("name", "full", "first"), [
    ("华为技术", "huaweijishu", "hwjs"),
    ("華為技術", "huaweijishu", "hwjs"),
    ("华为技术（深圳）", "huaweijishushenzhen", "hwjssz"),
    ("ABC科技", "abckeji", "abckj"),
    ("重庆长安汽车", "chongqingchanganqiche", "cqcaqc"),  # 重 as in 重庆, not 重要
])
def test_pinyin_and_initials(name: str, full: str, first: str) -> None:
    assert (pinyin(name), initials(name)) == (full, first)
