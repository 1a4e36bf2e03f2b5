"""Labelled duplicates: the ways one customer comes to be registered twice, and
look-alikes that are different customers. What matching is measured on (issue 4).

Each :class:`LabelledDraft` says which real customer (``entity``) it is and how it was
made (``how``). Variants of a customer share its entity; hard negatives (the same trade
name in another city and trade, the same person's name with another ID number) get an
entity of their own. Seeded: the same originals and seed give the same set.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import cache

import opencc
from pypinyin import lazy_pinyin

from custmdm.core.customers import CustomerDraft
from custmdm.demo.generator import TRADE_NAME_CHARACTERS, DemoGenerator
from custmdm.domain.names import parse_name


@dataclass(frozen=True)
class LabelledDraft:
    draft: CustomerDraft
    entity: int  # the real customer: originals are numbered 0…n-1, negatives after
    how: str  # "original", a variant's name, or "hard negative: …"


def _traditional(name: str) -> str | None:
    converted = str(_to_traditional().convert(name))
    return converted if converted != name else None


@cache
def _to_traditional() -> opencc.OpenCC:
    return opencc.OpenCC("s2t")


def _full_width(name: str) -> str | None:
    """ASCII letters and digits, and brackets, as their full-width forms."""
    converted = "".join(chr(ord(ch) + 0xFEE0) if ch.isascii() and ch.isalnum() else ch
                        for ch in name).replace("(", "（").replace(")", "）")
    return converted if converted != name else None


def _half_width_brackets(name: str) -> str | None:
    converted = name.replace("（", "(").replace("）", ")")
    return converted if converted != name else None


# 股份有限公司 first: its 有限公司 must not become 有限责任公司 (no such form exists).
_FORM_SWAPS = (("股份有限公司", "股份公司"), ("有限责任公司", "有限公司"),
               ("有限公司", "有限责任公司"))


def _other_legal_form(name: str) -> str | None:
    for written, other in _FORM_SWAPS:
        if name.endswith(written):
            return name[: -len(written)] + other
    return None


def _without_region(name: str) -> str | None:
    parts = parse_name(name)
    if not parts.region_text or not name.startswith(parts.region_text):
        return None
    rest = name[len(parts.region_text):]
    return rest if len(rest) >= 4 else None


def _trade_name_at(name: str) -> tuple[int, str] | None:
    parts = parse_name(name)
    at = name.find(parts.trade_name) if parts.trade_name else -1
    return (at, parts.trade_name) if at >= 0 and len(parts.trade_name) >= 2 else None


def _replace_in_trade_name(
    name: str, rng: random.Random, other: Callable[[str, random.Random], str | None]
) -> str | None:
    """One character of the trade name replaced by ``other(character, rng)``."""
    found = _trade_name_at(name)
    if found is None:
        return None
    at, trade = found
    i = at + rng.randrange(len(trade))
    replacement = other(name[i], rng)
    return None if replacement is None else name[:i] + replacement + name[i + 1:]


def _typo(name: str, rng: random.Random) -> str | None:
    """One character of the trade name replaced by another."""
    return _replace_in_trade_name(
        name, rng, lambda ch, rng: rng.choice(TRADE_NAME_CHARACTERS.replace(ch, "")))


@cache
def _homophones() -> dict[str, tuple[str, ...]]:
    """Characters of the CJK Unified block grouped by toneless pinyin."""
    by_sound: dict[str, list[str]] = {}
    for code in range(0x4E00, 0x9FA6):
        ch = chr(code)
        if unicodedata.category(ch) == "Lo":
            by_sound.setdefault(lazy_pinyin(ch)[0], []).append(ch)
    return {sound: tuple(chars) for sound, chars in by_sound.items()}


def _homophone(name: str, rng: random.Random) -> str | None:
    """One character of the trade name replaced by one that sounds the same."""
    def alike(ch: str, rng: random.Random) -> str | None:
        sounds = [c for c in _homophones().get(lazy_pinyin(ch)[0], ()) if c != ch]
        return rng.choice(sounds) if sounds else None
    return _replace_in_trade_name(name, rng, alike)


def _other_name(kind: str) -> Callable[[CustomerDraft], str | None]:
    def pick(draft: CustomerDraft) -> str | None:
        return next((text for k, text in draft.names if k == kind), None)
    return pick


#: Variants that change the name, each from the original's draft.
NAME_VARIANTS: dict[str, Callable[[CustomerDraft, random.Random], str | None]] = {
    "short name for the legal name": lambda d, _: _other_name("short")(d),
    "English name for the legal name": lambda d, _: _other_name("english")(d),
    "traditional characters": lambda d, _: _traditional(d.legal_name),
    "full-width letters and brackets": lambda d, _: _full_width(d.legal_name),
    "half-width brackets": lambda d, _: _half_width_brackets(d.legal_name),
    "other legal form": lambda d, _: _other_legal_form(d.legal_name),
    "region prefix dropped": lambda d, _: _without_region(d.legal_name),
    "one-character typo": lambda d, rng: _typo(d.legal_name, rng),
    "homophone typo": lambda d, rng: _homophone(d.legal_name, rng),
}


def labelled_duplicates(
    originals: Sequence[CustomerDraft], *, seed: int = 7, duplicate_share: float = 0.3,
    negative_share: float = 0.05,
) -> list[LabelledDraft]:
    """The originals, then variants of ``duplicate_share`` of them (a name variant,
    and half the time the identifiers left out as well, as when a clerk does not have
    them at hand; phones written differently or left out), then hard negatives for
    ``negative_share`` of them (without the contacts, which would give them away)."""
    rng = random.Random(seed)
    out = [LabelledDraft(d, i, "original") for i, d in enumerate(originals)]
    for i, draft in enumerate(originals):
        if rng.random() >= duplicate_share:
            continue
        for how in rng.sample(list(NAME_VARIANTS), len(NAME_VARIANTS)):
            name = NAME_VARIANTS[how](draft, rng)
            if name and name != draft.legal_name:
                break
        else:
            continue
        variant = replace(draft, legal_name=name, names=())
        if rng.random() < 0.5:
            variant, how = replace(variant, identifiers=()), how + ", identifiers missing"
        variant, how = _contacts_as_given(variant, how, rng)
        out.append(LabelledDraft(variant, i, how))
    entity = len(originals)
    for draft in originals:
        if rng.random() >= negative_share:
            continue
        negative = _hard_negative(draft, rng)
        if negative is not None:
            out.append(LabelledDraft(negative[0], entity, negative[1]))
            entity += 1
    return out


@cache
def _demo_counties() -> list[str]:
    return [county.code for county in DemoGenerator().counties]


def _contacts_as_given(draft: CustomerDraft, how: str, rng: random.Random
                       ) -> tuple[CustomerDraft, str]:
    """A third of phones written differently (+86, other separators), a third left
    out; half the legal representatives left out."""
    if draft.phones:
        roll = rng.random()
        if roll < 1 / 3:
            draft, how = replace(draft, phones=[_rewritten(p) for p in draft.phones]), \
                how + ", phone written differently"
        elif roll < 2 / 3:
            draft, how = replace(draft, phones=()), how + ", phone missing"
    if draft.legal_representative and rng.random() < 0.5:
        draft, how = replace(draft, legal_representative=None), how + ", legal rep missing"
    return draft, how


def _rewritten(phone: str) -> str:
    """The same mobile number as another clerk writes it: +86, then other separators."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    return f"+86 {digits[:3]}-{digits[3:7]}-{digits[7:]}"


def _hard_negative(draft: CustomerDraft, rng: random.Random) -> tuple[CustomerDraft, str] | None:
    """Another customer that looks like ``draft``: the same 字号 elsewhere in another
    trade, or the same person's name with another ID number. Identifiers are left out
    (they would give it away, and a real one would differ)."""
    if draft.kind == "enterprise":
        parts = parse_name(draft.legal_name)
        if not parts.trade_name or not parts.region_text:
            return None
        region, region_code = rng.choice((("北京市", "110000"), ("上海市", "310000"),
                                          ("重庆市", "500000"), ("天津市", "120000")))
        if parts.region_text == region:
            return None
        industry = "贸易" if parts.industry != "贸易" else "科技"
        form = parts.legal_form.text if parts.legal_form is not None else "有限公司"
        return (replace(draft, legal_name=f"{region}{parts.trade_name}{industry}{form}",
                        identifiers=(), names=(), region=region_code, phones=(),
                        legal_representative=None),
                "hard negative: same trade name, another city and trade")
    if draft.kind == "individual":
        elsewhere = rng.choice(_demo_counties())
        return (replace(draft, identifiers=(), region=elsewhere, phones=()),
                "hard negative: same person name, another person")
    return None
