"""Customer names: their kinds, the form they are compared in, and their structure.

What is stored is always the name exactly as entered; everything here derives the
forms that matching and search compare:

* :func:`normalise` folds what people type differently for the same name: Unicode
  compatibility forms (full-width → half-width), every bracket style to ``()``, spaces
  and punctuation away, traditional → simplified Chinese (OpenCC), case.
* :func:`legal_form` recognises the legal form at the end of a Chinese or foreign name
  (有限公司, 股份有限公司, （有限合伙）…, Co., Ltd., GmbH …) and its family, so that
  有限公司 and 有限责任公司, or Co., Ltd. and Company Limited, compare equal.
* :func:`parse_name` splits a Chinese enterprise name into region + 字号 (trade name) +
  industry words + legal form, the structure the 企业名称登记管理规定 prescribes; its
  ``core`` (trade name + industry) is what matching compares.
* :func:`pinyin` and :func:`initials` (pypinyin) let people search 华为技术 as
  ``huaweijishu`` or ``hwjs``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from functools import cache, lru_cache
from typing import NamedTuple

import opencc
from pypinyin import lazy_pinyin

from custmdm.standards.regions import Region, all_regions


class NameKind(StrEnum):
    """What a name is to its customer."""

    LEGAL = "legal"  # 正式名称: exactly one current per customer
    SHORT = "short"  # 简称
    ALIAS = "alias"  # 别名, nicknames included
    ENGLISH = "english"  # 英文名称
    CODENAME = "codename"  # 客户代号
    FORMER = "former"  # 曾用名: a legal name no longer valid


# -- normalising --------------------------------------------------------------------------

_OPENING = "([{【〔〖《〈「『⦅｟﹙﹛﹝⟨⟦"
_CLOSING = ")]}】〕〗》〉」』⦆｠﹚﹜﹞⟩⟧"
_BRACKETS = str.maketrans(_OPENING + _CLOSING, "(" * len(_OPENING) + ")" * len(_CLOSING))


@cache
def _to_simplified() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def fold(text: str) -> str:
    """NFKC, brackets folded to ``()``, traditional → simplified, case folded; spaces and
    punctuation are kept (see :func:`normalise`).

    >>> fold("ＡＢＣ【深圳】科技")
    'abc(深圳)科技'
    """
    text = unicodedata.normalize("NFKC", text).translate(_BRACKETS)
    return str(_to_simplified().convert(text)).casefold()


@lru_cache(maxsize=1024)  # a name is normalised again while it is parsed
def normalise(text: str) -> str:
    """The form names are compared and searched in. Never stored instead of the name.

    >>> normalise("深圳市 華為技術（深圳）有限公司")
    '深圳市华为技术(深圳)有限公司'
    >>> normalise("Huawei Technologies Co., Ltd.")
    'huaweitechnologiescoltd'
    """
    return "".join(ch for ch in fold(text) if ch in "()" or _is_word_character(ch))


def _is_word_character(ch: str) -> bool:
    return ch.isalnum() or unicodedata.category(ch) in ("Mn", "Mc")


def _words(text: str) -> list[str]:
    """Latin words of a folded name: punctuation and spaces separate them."""
    return re.findall(r"[^\W_]+", fold(text))


# -- legal forms --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LegalForm:
    """A legal form as found at the end of a name, and the family it belongs to."""

    text: str  # as it appears in the normalised name, e.g. 有限责任公司 or "co ltd"
    family: str  # limited, joint_stock, partnership_limited, branch …


#: Chinese legal forms, longest first, as they appear in normalised names.
_CHINESE_FORMS = (
    ("(特殊普通合伙)", "partnership_special"),
    ("(普通合伙)", "partnership_general"),
    ("(有限合伙)", "partnership_limited"),
    ("集团有限责任公司", "limited"),
    ("集团股份有限公司", "joint_stock"),
    ("股份有限公司", "joint_stock"),
    ("集团有限公司", "limited"),
    ("有限责任公司", "limited"),
    ("(个人独资企业)", "sole_proprietorship"),
    ("(个体工商户)", "individual_business"),
    ("个人独资企业", "sole_proprietorship"),
    ("个体工商户", "individual_business"),
    ("股份公司", "joint_stock"),
    ("合伙企业", "partnership"),
    ("有限公司", "limited"),
    ("分公司", "branch"),
    ("支公司", "branch"),
    ("公司", "company"),
)

_CHINESE_FAMILIES = dict(_CHINESE_FORMS)
_CHINESE_FORM_LENGTHS = sorted({len(form) for form in _CHINESE_FAMILIES}, reverse=True)

#: Foreign legal forms as word sequences, longest first.
_FOREIGN_FORMS = (
    (("company", "limited"), "limited"),
    (("co", "ltd"), "limited"),
    (("pte", "ltd"), "limited"),
    (("pty", "ltd"), "limited"),
    (("private", "limited"), "limited"),
    (("s", "p", "a"), "joint_stock"),
    (("s", "r", "l"), "limited"),
    (("s", "a", "s"), "joint_stock"),
    (("s", "a"), "joint_stock"),
    (("k", "k"), "joint_stock"),
    (("b", "v"), "limited"),
    (("n", "v"), "joint_stock"),
    (("limited",), "limited"),
    (("ltd",), "limited"),
    (("llc",), "limited"),
    (("gmbh",), "limited"),
    (("sarl",), "limited"),
    (("srl",), "limited"),
    (("bv",), "limited"),
    (("inc",), "joint_stock"),
    (("incorporated",), "joint_stock"),
    (("corp",), "joint_stock"),
    (("corporation",), "joint_stock"),
    (("ag",), "joint_stock"),
    (("sa",), "joint_stock"),
    (("sas",), "joint_stock"),
    (("spa",), "joint_stock"),
    (("plc",), "joint_stock"),
    (("nv",), "joint_stock"),
    (("kk",), "joint_stock"),
    (("llp",), "partnership_limited"),
    (("lp",), "partnership_limited"),
)


def legal_form(name: str) -> LegalForm | None:
    """The legal form the name ends with, if it has one.

    >>> legal_form("深圳市华为技术有限责任公司")
    LegalForm(text='有限责任公司', family='limited')
    >>> legal_form("HUAWEI TECHNOLOGIES CO LTD")
    LegalForm(text='co ltd', family='limited')
    """
    return _split_legal_form(name)[1]


def _split_legal_form(name: str) -> tuple[str, LegalForm | None]:
    """(the normalised name without its legal form, the legal form)."""
    text = normalise(name)
    for length in _CHINESE_FORM_LENGTHS:  # longest first: one form of each length
        family = _CHINESE_FAMILIES.get(text[-length:])
        if family is not None and len(text) > length:
            return text[:-length], LegalForm(text[-length:], family)
    words = _words(name)
    for form_words, family in _FOREIGN_FORMS:
        n = len(form_words)
        if len(words) > n and tuple(words[-n:]) == form_words:
            return "".join(words[:-n]), LegalForm(" ".join(form_words), family)
    return text, None


# -- structure of Chinese enterprise names ------------------------------------------------

#: Words of the industry part (行业或者经营特点) of Chinese enterprise names, as commonly
#: registered. The industry part is the longest run of them before the legal form.
_INDUSTRY_WORDS_TEXT = """
科技 技术 电子 信息 网络 软件 数据 智能 系统 自动化 通信 通讯 互联网 电子商务 半导体 集成电路 光电
贸易 商贸 进出口 供应链 实业 投资 控股 发展 管理 咨询 服务 商务 企业管理 资产 租赁 融资 金融
保险 证券 基金 信托 建设 工程 建筑 装饰 市政 设计 园林 绿化 环保 环境 能源 新能源 电力 燃气
水务 制造 精密 机械 设备 仪器 五金 汽车 零部件 配件 电器 电气 照明 新材料 材料 化工 塑胶 制品
钢铁 建材 印刷 包装 纺织 服装 鞋业 家具 食品 饮料 酒业 农业 生态 种植 养殖 林业 渔业 矿业
矿产 开发 房地产 置业 物业 地产 物流 运输 货运 代理 仓储 快递 医药 药业 生物 医疗 健康 器械
化妆品 日用品 百货 超市 餐饮 酒店 旅游 文化 传媒 广告 影视 体育 教育 培训 人力资源 家政
维修 检测 研究 国际 合作 社会 工贸 商行 经营部 门市部 银行 财产 人寿
"""
INDUSTRY_WORDS = frozenset(_INDUSTRY_WORDS_TEXT.split())
_LONGEST_INDUSTRY_WORD = max(map(len, INDUSTRY_WORDS))

_REGION_SUFFIXES = ("特别行政区", "维吾尔自治区", "壮族自治区", "回族自治区", "自治区",
                    "自治州", "自治县", "自治旗", "地区", "省", "市", "区", "县", "盟", "旗")


#: Words that may stand where a region does (企业名称登记管理规定: enterprises approved
#: by the State Council may use them), such as 中国平安.
NATIONAL_PREFIXES = ("中华人民共和国", "中国", "中华", "全国", "国家")


@dataclass(frozen=True, slots=True)
class NameParts:
    """A Chinese enterprise name taken apart (all parts normalised)."""

    region_text: str  # the region part as written (广东省深圳市, 中国, or empty)
    regions: tuple[Region, ...]  # the GB/T 2260 regions named, outermost first
    trade_name: str  # 字号
    industry: str  # 行业或者经营特点, possibly empty
    legal_form: LegalForm | None
    branch: str = ""  # for a branch (分公司): where or what it is, e.g. 深圳

    @property
    def core(self) -> str:
        """字号 + industry (+ branch): what two names of one enterprise share, whatever
        region prefix or legal-form variant each carries."""
        return self.trade_name + self.industry + self.branch


@cache
def _region_names() -> dict[str, tuple[Region, ...]]:
    """Region names → regions of that name, normalised. Provinces and prefectures are
    also known without their level suffix (深圳, 广东) if two characters remain;
    counties only by their full name (平安区, not 平安: too many trade names clash)."""
    names: dict[str, list[Region]] = {}
    for region in all_regions():
        spellings = {region.name}
        for suffix in _REGION_SUFFIXES if region.level != "county" else ():
            if region.name.endswith(suffix) and len(region.name) - len(suffix) >= 2:
                spellings.add(region.name[: -len(suffix)])
                break
        for spelling in spellings:
            names.setdefault(normalise(spelling), []).append(region)
    return {name: tuple(regions) for name, regions in names.items()}


@cache
def _longest_region_name() -> int:
    return max(map(len, _region_names()))


def parse_name(name: str) -> NameParts:
    """Take a Chinese enterprise name apart: region(s), 字号, industry, legal form.

    Regions are found at the start (广东省深圳市…) or in brackets after the trade name
    (华为技术（深圳）有限公司); the industry part is the longest run of
    :data:`INDUSTRY_WORDS` before the legal form that leaves a trade name of two
    characters or more. Names that do not follow the structure still get a core: the
    normalised name without its legal form.

    >>> parts = parse_name("深圳市华盛电子科技有限公司")
    >>> [r.code for r in parts.regions], parts.trade_name, parts.industry, parts.core
    (['440300'], '华盛', '电子科技', '华盛电子科技')
    """
    body, form = _split_legal_form(name)
    branch = ""
    if form is not None and form.family == "branch":
        # 中国平安财产保险股份有限公司深圳分公司: the parent's name, then the branch.
        parent_end = max((body.rfind(f) + len(f) for f, _ in _CHINESE_FORMS
                          if f != "公司" and body.rfind(f) > 0), default=0)
        if parent_end:
            parent = parse_name(body[:parent_end])
            return NameParts(parent.region_text, parent.regions, parent.trade_name,
                             parent.industry, form, body[parent_end:])
    start, regions = _strip_regions(body)
    region_text, body = body[:start], body[start:]
    bracketed = re.search(r"\(([^()]+)\)$", body)
    if bracketed and bracketed.group(1) in _region_names():
        regions.append(_pick(_region_names()[bracketed.group(1)], regions))
        body = body[: bracketed.start()]
    trade_name, industry = _split_industry(body)
    return NameParts(region_text, tuple(regions), trade_name, industry, form, branch)


def _strip_regions(body: str) -> tuple[int, list[Region]]:
    """How many leading characters name regions (each inside the one before), and
    those regions."""
    start, regions = 0, list[Region]()
    for prefix in NATIONAL_PREFIXES:
        if body.startswith(prefix) and len(body) - len(prefix) >= 2:
            start = len(prefix)
            break
    while True:
        found = _region_prefix(body[start:])
        if found is None:
            break
        length, named = found
        if regions:
            named = tuple(r for r in named if _is_inside(r, regions[-1]))
            if not named:
                break  # 中山市中山电子: the second 中山 is the trade name
        regions.append(_pick(named, regions))
        start += length
    return start, regions


def _is_inside(region: Region, outer: Region) -> bool:
    return region.code != outer.code and region.code.startswith(_significant(outer.code))


def _region_prefix(text: str) -> tuple[int, tuple[Region, ...]] | None:
    """The longest region name ``text`` starts with, leaving at least two characters."""
    names = _region_names()
    for length in range(min(_longest_region_name(), len(text) - 2), 1, -1):
        named = names.get(text[:length])
        if named:
            return length, named
    return None


def _pick(named: tuple[Region, ...], outer: list[Region]) -> Region:
    """Of the regions sharing a name, the one inside the region named before it."""
    if outer:
        inside = [r for r in named if r.code.startswith(_significant(outer[-1].code))]
        if inside:
            return inside[0]
    return named[0]


def _significant(code: str) -> str:
    return code.rstrip("0") if code.endswith("0000") else code[:4]


def _split_industry(body: str) -> tuple[str, str]:
    """(trade name, industry words) of what is left between region and legal form."""
    end = len(body)
    while True:
        for length in range(min(_LONGEST_INDUSTRY_WORD, end - 2), 0, -1):
            if body[end - length : end] in INDUSTRY_WORDS:
                end -= length
                break
        else:
            return body[:end], body[end:]


def core(name: str) -> str:
    """What matching compares: the trade name and industry of a Chinese enterprise
    name; the normalised name without its legal form otherwise.

    >>> core("华为技术（深圳）有限公司") == core("深圳市华为技术有限责任公司")
    True
    """
    return parse_name(name).core


# -- pinyin -------------------------------------------------------------------------------


def pinyin(text: str) -> str:
    """The normalised text in toneless pinyin, without spaces; other characters kept.

    >>> pinyin("华为技术")
    'huaweijishu'
    """
    return "".join(syllable for syllable, _ in _syllables(_letters(text), None))


def initials(text: str) -> str:
    """The first letters of the pinyin syllables (other characters kept).

    >>> initials("华为技术")
    'hwjs'
    """
    return "".join(first for _, first in _syllables(_letters(text), None))


def _letters(text: str) -> str:
    return _unbracketed(normalise(text))


def _unbracketed(text: str) -> str:
    return text.replace("(", "").replace(")", "")


@cache
def _segment_syllables(segment: str) -> tuple[tuple[str, str], ...]:
    """(pinyin, initial) per syllable of a normalised segment; text that is not
    Chinese stays as it is, whole."""
    out = []
    for item in lazy_pinyin(segment, errors=lambda chars: _AS_IS + chars):
        if item.startswith(_AS_IS):  # not Chinese: kept whole
            out.append((item[1:], item[1:]))
        else:
            out.append((item, item[:1]))
    return tuple(out)


_AS_IS = "\x00"


def _syllables(text: str, parts: NameParts | None) -> list[tuple[str, str]]:
    """Pinyin syllables of a normalised name, worked out per part of its structure.

    pypinyin segments text into phrases (重庆 is chongqing) at about 7 µs a character;
    region names, industry words and legal forms recur in millions of names, so the
    syllables of each part are cached.
    """
    parts = parse_name(text) if parts is None else parts
    form = parts.legal_form.text if parts.legal_form is not None else ""
    pieces = [parts.region_text, parts.trade_name, parts.industry, parts.branch]
    if form and text.endswith(form.replace(" ", "")) and "".join(pieces) + form == text:
        pieces.append(form)
    if "".join(pieces) != text:  # a structure not recognised: the whole text
        pieces = [text]
    return [syllable for piece in pieces if piece for syllable in _segment_syllables(piece)]


# -- all derived forms at once --------------------------------------------------------------


class NameForms(NamedTuple):
    """What is stored beside a name for matching and search, in the order of the
    customer_name columns that hold it.

    The pinyin of the core is kept apart from the whole name's: it is what people type
    (tengxun, txkj) and what a homophone typo (腾迅 for 腾讯) still shares, and an
    ordinary index answers it exactly or by prefix. Latin trigrams are too common for a
    trigram index to find a pinyin fragment quickly among millions of names.
    """

    normalised: str
    core: str
    pinyin: str
    initials: str
    core_pinyin: str
    core_initials: str


def forms_of(text: str) -> NameForms:
    """Every derived form of a name, working the structure out once.

    >>> forms_of("深圳市華盛電子科技有限公司")  # doctest: +NORMALIZE_WHITESPACE
    NameForms(normalised='深圳市华盛电子科技有限公司', core='华盛电子科技',
              pinyin='shenzhenshihuashengdianzikejiyouxiangongsi', initials='szshsdzkjyxgs',
              core_pinyin='huashengdianzikeji', core_initials='hsdzkj')
    """
    normalised = normalise(text)
    letters = _unbracketed(normalised)
    parts = parse_name(text)
    syllables = _syllables(letters, parts if letters == normalised else None)
    core_syllables = [syllable for piece in (parts.trade_name, parts.industry, parts.branch)
                      if piece for syllable in _segment_syllables(_unbracketed(piece))]
    return NameForms(normalised, parts.core, "".join(s for s, _ in syllables),
                     "".join(f for _, f in syllables),
                     "".join(s for s, _ in core_syllables),
                     "".join(f for _, f in core_syllables))
