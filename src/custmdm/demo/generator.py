"""A realistic, reproducible customer register for demos, tests and benchmarks.

Chinese enterprises are named as region + trade name (字号) + industry word + legal
form (深圳市华盛电子科技有限公司), with valid USCCs whose region is the customer's own;
individuals get valid resident ID numbers; government bodies and other organisations
get USCCs of their registration authorities; foreign companies get VAT numbers where
their country has one in python-stdnum.

Streaming and index-based: customer *i* is the same for a given seed however many are
drawn, identifiers are unique by construction (no set of used numbers is kept), and
millions of customers cost memory for one at a time.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from functools import cached_property
from itertools import accumulate

from pypinyin import lazy_pinyin
from stdnum import luhn
from stdnum.iso7064 import mod_11_10

from custmdm.core.customers import CustomerDraft
from custmdm.domain.identifiers import Identifier, ric, uscc
from custmdm.standards.industries import Industry, all_industries
from custmdm.standards.regions import Region, all_regions, get_region

# Characters common in the trade names (字号) of registered Chinese enterprises. Several
# hundred, as in real registers: with a few dozen, one company in six shared its trade
# name and industry with another in its city, which no registration authority allows
# (企业名称登记管理规定), and a one-character typo of a name was often another company's.
TRADE_NAME_CHARACTERS = (
    "华盛泰鑫达恒瑞德祥兴宏伟安康信诚嘉新美天正金博远创联通汇科景昌隆丰源明光宇中海东方佳利顺"
    "发荣腾飞龙凤和乐永星辰川宁成启航锦绣云峰立邦众合智慧睿捷迅卓越精益广大亿万千百福禄喜吉庆"
    "鸿运旺富贵昊晟昱晨曦朗晖辉耀灿炫铭钰铂锐铖淼森林松柏桦梓楠杉竹兰梅菊荷莲芳苑园圆元亨贞乾"
    "坤豫宝玉翠琳琅瑶璟璞瑾瑜琪琦璐珑玮琛禧祺祯佑泽润涵沐清澜涛波洋溪泉湖江河山岳岭峻崇巍峥嵘"
    "石磊垣城基培增塘春夏秋冬晴虹霞雨雪霖露霄雷电风鹤鹏鹰燕雁鸣凰麟骏驰骐骥豪杰俊彦英雄才贤良"
    "善仁义礼忠孝廉勤敏奋进展拓开图强壮健力劲坚毅久长行舟帆港湾洲屿沙滩原野田禾稻谷粮收实诺承"
    "传统协同共赢聚融畅速迈跃升高登攀顶极致尚品质优匠艺颖奇特异彩宙银斗枢璇玑衡阳亮晶莹澄澈紫"
    "蓝绿红橙黄白铜铁钢铝锋镭钧铎铠缘纬经纶维织绵绸缎丝帛雅韵诗书画琴棋墨砚笔翰文章理志思学问"
    "道仕伦伊尔易简朴素惠民"
)
INDUSTRY_WORDS: dict[str, Sequence[str]] = {
    "A": ("农业", "农业科技", "生态农业", "种植"),
    "B": ("矿业", "矿产开发", "能源开发"),
    "C": ("食品", "纺织", "服装", "家具", "化工", "医药", "机械", "电子科技", "汽车零部件",
          "精密制造", "新材料", "塑胶制品"),
    "D": ("电力", "能源", "燃气", "水务"),
    "E": ("建筑工程", "建设", "装饰工程", "市政工程"),
    "F": ("贸易", "商贸", "进出口", "供应链管理"),
    "G": ("物流", "运输", "货运代理", "仓储"),
    "H": ("餐饮管理", "酒店管理", "餐饮"),
    "I": ("信息技术", "软件", "网络科技", "数据科技"),
    "J": ("投资", "融资租赁", "资产管理"),
    "K": ("房地产开发", "置业", "物业管理"),
    "L": ("企业管理咨询", "人力资源", "广告", "商务服务"),
    "M": ("技术研究", "检测技术", "工程设计"),
    "N": ("环保科技", "环境工程", "园林绿化"),
    "O": ("家政服务", "维修服务"),
    "P": ("教育科技", "培训"),
    "Q": ("医疗科技", "健康管理"),
    "R": ("文化传媒", "体育发展", "影视"),
    "S": ("社会服务",),
    "T": ("国际合作",),
}
ENGLISH_INDUSTRY = {"A": "Agriculture", "C": "Manufacturing", "E": "Construction",
                    "F": "Trading", "G": "Logistics", "I": "Technology", "J": "Investment",
                    "K": "Real Estate", "L": "Business Services", "M": "Engineering",
                    "P": "Education", "Q": "Healthcare", "R": "Media"}

LEGAL_FORMS = ("有限公司", "有限公司", "有限公司", "有限责任公司", "股份有限公司",
               "集团有限公司")
GOVERNMENT_BODIES = ("人民政府", "市场监督管理局", "税务局", "教育局", "卫生健康委员会",
                     "财政局", "公安局", "交通运输局", "生态环境局", "住房和城乡建设局",
                     "商务局", "人力资源和社会保障局", "民政局", "司法局", "统计局")
ORGANISATIONS = (("协会", "1"), ("商会", "1"), ("基金会", "3"), ("研究会", "1"),
                 ("学校", "2"), ("医院", "2"), ("服务中心", "2"))
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡"
    "余杜叶程苏魏吕丁任沈"
)
GIVEN_NAME_CHARACTERS = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志红玉梅文斌浩宇欣怡"
    "子涵雨轩"
)
FOREIGN = (
    ("DE", ("Müller", "Schmidt", "Weber", "Becker", "Hoffmann", "Krause"),
     ("Maschinenbau GmbH", "Logistik GmbH", "Handels AG", "Elektronik GmbH")),
    ("FR", ("Dubois", "Moreau", "Laurent", "Lefèvre", "Girard"),
     ("Industries SAS", "Distribution SA", "Conseil SARL")),
    ("IT", ("Rossi", "Bianchi", "Ferrari", "Romano", "Colombo"),
     ("Meccanica S.p.A.", "Alimentari S.r.l.", "Moda S.r.l.")),
    ("US", ("Summit", "Harbor", "Pioneer", "Redwood", "Liberty"),
     ("Holdings Inc.", "Technologies LLC", "Trading Corp.")),
    ("JP", ("Sakura", "Fuji", "Yamato", "Hikari"), ("Co., Ltd.", "Kogyo K.K.")),
    ("SG", ("Lion City", "Straits", "Orchid"), ("Pte. Ltd.",)),
)
# Rough weights of provinces by number of registered enterprises.
PROVINCE_WEIGHTS = {"44": 14, "32": 10, "33": 9, "37": 7, "31": 5, "11": 5, "35": 5, "41": 5,
                    "51": 5, "42": 4, "43": 3, "34": 3, "13": 3, "50": 3, "61": 2, "21": 2}
OTHER_PROVINCE_WEIGHT = 1
SECTION_WEIGHTS = {"C": 20, "F": 25, "I": 8, "L": 8, "E": 6, "M": 6, "G": 5, "K": 3, "H": 4,
                   "R": 2, "A": 2, "N": 2, "P": 2, "Q": 1, "J": 2, "O": 2, "D": 1, "B": 1}
SALES_OWNERS = tuple(f"sales{n:02d}" for n in range(1, 21))

# Identifier spaces are walked with a multiplier coprime to their size: a bijection, so
# customer i and customer j never share a number, and the numbers still look random.
_ORG_SPACE = 10**8
_ORG_STEP = 48_271


@dataclass(frozen=True)
class DemoRule:
    """A coding rule the demo installs when the register has none."""

    name: str
    pattern: str
    kind: str | None = None
    region_prefix: str | None = None
    priority: int = 100
    gapless: bool = False


DEMO_RULES = (
    DemoRule("government", "G{region:4}{seq:5}{check:mod37-2}", kind="government",
             region_prefix="CN", priority=10, gapless=True),
    DemoRule("domestic", "C{kind}{region:2}{seq:7}{check:mod37-2}", region_prefix="CN",
             priority=50),
    DemoRule("foreign", "F{country}{seq:6}{check:mod37-2}", priority=90),
)


class DemoGenerator:
    """Customer drafts, reproducible from a seed."""

    def __init__(self, seed: int = 2026) -> None:
        self.seed = seed

    @cached_property
    def counties(self) -> list[Region]:
        return [r for r in all_regions() if r.level == "county"]

    @cached_property
    def _county_weights(self) -> list[int]:
        weights = (PROVINCE_WEIGHTS.get(r.code[:2], OTHER_PROVINCE_WEIGHT) for r in self.counties)
        return list(accumulate(weights))

    @cached_property
    def divisions(self) -> list[Industry]:
        return list(all_industries("division"))

    @cached_property
    def _division_weights(self) -> list[int]:
        return list(accumulate(SECTION_WEIGHTS.get(d.section, 1) for d in self.divisions))

    def customers(self, count: int, start: int = 0) -> Iterator[CustomerDraft]:
        """Drafts number ``start`` … ``start + count - 1``."""
        for index in range(start, start + count):
            yield self.customer(index)

    def customer(self, index: int) -> CustomerDraft:
        """Draft number ``index`` (the same for the same seed, always)."""
        rng = random.Random(self.seed * 1_000_003 + index)
        roll = rng.random()
        if roll < 0.70:
            draft = self._enterprise(rng, index)
        elif roll < 0.85:
            draft = self._individual(rng, index)
        elif roll < 0.89:
            draft = self._government(rng, index)
        elif roll < 0.94:
            draft = self._organisation(rng, index)
        else:
            return self._foreign(rng, index)
        return _with_contacts(draft, random.Random(f"{self.seed}:{index}:contacts"))

    # -- kinds -------------------------------------------------------------------------

    def _county(self, rng: random.Random) -> Region:
        return rng.choices(self.counties, cum_weights=self._county_weights)[0]

    def _enterprise(self, rng: random.Random, index: int) -> CustomerDraft:
        county = self._county(rng)
        division = rng.choices(self.divisions, cum_weights=self._division_weights)[0]
        trade_name = "".join(rng.sample(TRADE_NAME_CHARACTERS, rng.choice((2, 2, 3))))
        word = rng.choice(INDUSTRY_WORDS.get(division.section, ("实业",)))
        name = f"{_place_name(county)}{trade_name}{word}{rng.choice(LEGAL_FORMS)}"
        number = make_uscc("9", "1", county.code, index)
        size = rng.choices(("large", "medium", "small", "micro"), (1, 4, 15, 30))[0]
        grade = rng.choices(("vip", "important", "ordinary", "potential"), (1, 5, 20, 10))[0]
        owner = rng.choice(SALES_OWNERS)
        # Drawn last, so the fields above stay what they were before names were added.
        names: list[tuple[str, str]] = []
        if rng.random() < 0.6:  # 简称: trade name + the start of the industry word
            names.append(("short", trade_name + word[:2]))
        if rng.random() < 0.2:
            english = ENGLISH_INDUSTRY.get(division.section, "Industrial")
            names.append(("english", f"{_romanised(trade_name)} {english} Co., Ltd."))
        return CustomerDraft(
            kind="enterprise", legal_name=name, identifiers=[Identifier("cn.uscc", number)],
            region=county.code, industry=division.code, size=size, grade=grade, owner=owner,
            names=names,
        )

    def _individual(self, rng: random.Random, index: int) -> CustomerDraft:
        county = self._county(rng)
        # Birth date and sequence come from the index, so numbers never repeat.
        born = date(1950, 1, 1) + timedelta(days=(index // 999) % 20_000)
        sequence = index % 999 + 1
        body = f"{county.code}{born:%Y%m%d}{sequence:03d}"
        name = rng.choice(SURNAMES) + "".join(
            rng.sample(GIVEN_NAME_CHARACTERS, rng.choice((1, 2))))
        return CustomerDraft(
            kind="individual", legal_name=name,
            identifiers=[Identifier("cn.ric", body + ric.calc_check_digit(body))],
            region=county.code, grade=rng.choice(("ordinary", "potential")),
            owner=rng.choice(SALES_OWNERS),
        )

    def _government(self, rng: random.Random, index: int) -> CustomerDraft:
        county = self._county(rng)
        city = _place_name(county)
        body = rng.choice(GOVERNMENT_BODIES)
        name = f"{city}{'' if county.name == city else county.name}{body}"
        return CustomerDraft(
            kind="government", legal_name=name,
            identifiers=[Identifier("cn.uscc", make_uscc("1", "1", county.code, index))],
            region=county.code, industry="S", grade="important",
            owner=rng.choice(SALES_OWNERS),
        )

    def _organisation(self, rng: random.Random, index: int) -> CustomerDraft:
        county = self._county(rng)
        division = rng.choices(self.divisions, cum_weights=self._division_weights)[0]
        suffix, category = rng.choice(ORGANISATIONS)
        word = rng.choice(INDUSTRY_WORDS.get(division.section, ("公益",)))
        name = f"{_place_name(county)}{word}{suffix}"
        return CustomerDraft(
            kind="other", legal_name=name,
            identifiers=[Identifier("cn.uscc", make_uscc("5", category, county.code, index))],
            region=county.code, industry=division.code, grade="ordinary",
            owner=rng.choice(SALES_OWNERS),
        )

    def _foreign(self, rng: random.Random, index: int) -> CustomerDraft:
        country, names, forms = rng.choice(FOREIGN)
        name = f"{rng.choice(names)} {rng.choice(forms)}"
        vat = make_vat(country, index)
        identifiers = [Identifier(f"vat.{country.lower()}", vat)] if vat else []
        return CustomerDraft(
            kind="enterprise", legal_name=name, identifiers=identifiers, region=country,
            industry=rng.choice(("C", "F", "I", "G")), grade="ordinary",
            owner=rng.choice(SALES_OWNERS),
        )


#: Mobile prefixes (all valid in libphonenumber's metadata for China).
_MOBILE_PREFIXES = [p for p in (*range(130, 140), *range(150, 160), *range(180, 190))
                    if p != 154]


def _with_contacts(draft: CustomerDraft, rng: random.Random) -> CustomerDraft:
    """A phone for most customers (written as people write them), and the legal
    representative of most enterprises. A random generator of their own, so the other
    fields stay what they were before contacts were added."""
    phones = []
    if rng.random() < (0.9 if draft.kind == "individual" else 0.75):
        digits = f"{rng.choice(_MOBILE_PREFIXES)}{rng.randrange(10**8):08d}"
        phones.append(rng.choice((digits, f"{digits[:3]} {digits[3:7]} {digits[7:]}",
                                  f"{digits[:3]}-{digits[3:7]}-{digits[7:]}")))
    representative = None
    if draft.kind == "enterprise" and rng.random() < 0.7:
        representative = rng.choice(SURNAMES) + "".join(
            rng.sample(GIVEN_NAME_CHARACTERS, rng.choice((1, 2))))
    return replace(draft, phones=phones, legal_representative=representative)


def _place_name(county: Region) -> str:
    """Enterprises are named after their prefecture-level city, as most are; in the
    municipalities and directly administered counties, after the province or county."""
    parent = get_region(county.parent_code) if county.parent_code else county
    if parent.level == "province" and parent.name.endswith("市"):
        return parent.name  # 北京市, 上海市, 天津市, 重庆市
    if parent.level == "province" or parent.name.endswith(("行政区划", "市辖区")):
        return county.name
    return parent.name


def _romanised(chinese: str) -> str:
    """華盛 → Huasheng: how such names are written in English."""
    return "".join(lazy_pinyin(chinese)).capitalize()


def make_uscc(authority: str, category: str, region: str, index: int) -> str:
    """A valid USCC, unique per ``index`` (authority, category, region as given)."""
    organisation = f"{(index * _ORG_STEP + 12_345) % _ORG_SPACE:08d}"
    org = organisation + uscc.calc_organisation_check_digit(organisation)
    body = f"{authority}{category}{region}{org}"
    return body + uscc.calc_check_digit(body)


def make_vat(country: str, index: int) -> str | None:
    """A valid VAT number for DE, FR or IT, unique per ``index``; None elsewhere."""
    n = (index * _ORG_STEP + 7) % 90_000_000  # a bijection for index < 9e7
    if country == "DE":  # 9 digits, no leading zero, ISO 7064 MOD 11,10
        body = f"{10_000_000 + n:08d}"
        return "DE" + body + mod_11_10.calc_check_digit(body)
    if country == "FR":  # 2-digit key over a 9-digit SIREN (Luhn)
        siren8 = f"{10_000_000 + n:08d}"
        siren = siren8 + luhn.calc_check_digit(siren8)
        key = (12 + 3 * (int(siren) % 97)) % 97
        return f"FR{key:02d}{siren}"
    if country == "IT":  # 7-digit company, 3-digit office, Luhn
        m = (index * _ORG_STEP + 7) % 10_000_000
        body = f"{m:07d}{m % 100 + 1:03d}"
        return "IT" + body + luhn.calc_check_digit(body)
    return None
