"""Naming rules a data steward sets per customer kind: what a name must have, must not
have, how long it may be, and which characters it may use.

Pure logic: :func:`breaches` says what is wrong with a name under a rule, each finding
naming the rule and the offending part, so the error can say how to fix it. Structure
comes from :func:`custmdm.domain.names.parse_name`, so a rule such as "an enterprise's
legal name carries a legal form" accepts every name built the official way
(region + 字号 + industry + legal form, a region in brackets, a branch).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

from custmdm.domain.names import NameKind, normalise, parse_name
from custmdm.errors import InvalidComponent

#: Parts a rule can require of a name.
PARTS = {
    "legal_form": "a legal form (有限公司, 股份有限公司, （有限合伙）, Co., Ltd. …)",
    "region": "a region (深圳市…, or in brackets after the trade name)",
    "trade_name": "a trade name (字号) of at least two characters",
    "industry": "an industry word (科技, 贸易, 制造 …)",
}

#: Character classes a rule can allow.
CHARACTER_CLASSES = {
    "han": "Chinese characters",
    "latin": "Latin letters (accents included)",
    "digit": "digits",
    "space": "spaces",
    "brackets": "brackets ( ) （ ）",
    "punctuation": "the punctuation of names: . , & ' - · /",
}
_PUNCTUATION = set(".,&'-·/，、．＆－")
_BRACKETS = set("()（）")


@dataclass(frozen=True)
class NamingRule:
    """One rule; ``kind`` None applies it to every customer kind."""

    name: str
    kind: str | None = None
    name_kinds: tuple[str, ...] = (NameKind.LEGAL.value,)
    required_parts: tuple[str, ...] = ()
    forbidden_words: tuple[str, ...] = ()
    min_length: int | None = None
    max_length: int | None = None
    allowed_characters: tuple[str, ...] = ()  # empty: any
    extra_characters: str = ""
    description: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        unknown = [p for p in self.required_parts if p not in PARTS]
        if unknown:
            raise InvalidComponent(f"naming rule {self.name!r}: unknown part {unknown[0]!r}; "
                                   f"choose from {', '.join(PARTS)}")
        unknown = [c for c in self.allowed_characters if c not in CHARACTER_CLASSES]
        if unknown:
            raise InvalidComponent(f"naming rule {self.name!r}: unknown character class "
                                   f"{unknown[0]!r}; choose from {', '.join(CHARACTER_CLASSES)}")
        kinds = [k for k in self.name_kinds if k not in {k.value for k in NameKind}]
        if kinds:
            raise InvalidComponent(f"naming rule {self.name!r}: unknown name kind {kinds[0]!r}")
        if (self.min_length is not None and self.max_length is not None
                and self.min_length > self.max_length):
            raise InvalidComponent(f"naming rule {self.name!r}: the minimum length "
                                   f"{self.min_length} is above the maximum {self.max_length}")

    def applies_to(self, customer_kind: str, name_kind: str) -> bool:
        return (self.kind is None or self.kind == customer_kind) and name_kind in self.name_kinds


def breaches(rule: NamingRule, text: str) -> list[str]:
    """What is wrong with ``text`` under ``rule``; empty when it complies.

    >>> rule = NamingRule("ent", required_parts=("legal_form",), forbidden_words=("中央",))
    >>> breaches(rule, "深圳市华盛电子科技有限公司")
    []
    >>> breaches(rule, "中央华盛电子科技")
    ["naming rule 'ent': the name needs a legal form (有限公司, 股份有限公司, （有限合伙）, \
Co., Ltd. …)", "naming rule 'ent': the name contains the forbidden word '中央'"]
    """
    found: list[str] = []
    prefix = f"naming rule {rule.name!r}: "
    if rule.required_parts:
        parts = parse_name(text)
        present = {"legal_form": parts.legal_form is not None, "region": bool(parts.regions),
                   "trade_name": len(parts.trade_name) >= 2, "industry": bool(parts.industry)}
        found += [f"{prefix}the name needs {PARTS[p]}" for p in rule.required_parts
                  if not present[p]]
    normalised = normalise(text)
    found += [f"{prefix}the name contains the forbidden word {word!r}"
              for word in rule.forbidden_words if normalise(word) in normalised]
    length = len(text.strip())
    if rule.min_length is not None and length < rule.min_length:
        found.append(f"{prefix}the name has {length} characters; at least "
                     f"{rule.min_length} are needed")
    if rule.max_length is not None and length > rule.max_length:
        found.append(f"{prefix}the name has {length} characters; at most "
                     f"{rule.max_length} are allowed")
    if rule.allowed_characters:
        bad = [ch for ch in text if not _allowed(ch, rule)]
        if bad:
            shown = "".join(dict.fromkeys(bad))
            allowed = [CHARACTER_CLASSES[c] for c in rule.allowed_characters]
            if rule.extra_characters:
                allowed.append(repr(rule.extra_characters))
            found.append(f"{prefix}the name contains {shown!r}, which is not allowed "
                         f"(allowed: {', '.join(allowed)})")
    return found


def check_name(
    rules: Sequence[NamingRule], customer_kind: str, name_kind: str, text: str
) -> None:
    """Raise InvalidComponent listing every breach of the rules that apply."""
    found = [b for rule in rules if rule.applies_to(customer_kind, name_kind)
             for b in breaches(rule, text)]
    if found:
        raise InvalidComponent("; ".join(found))


def _allowed(ch: str, rule: NamingRule) -> bool:
    if ch in rule.extra_characters:
        return True
    classes = rule.allowed_characters
    if "han" in classes and ("\u3400" <= ch <= "\u9fff" or "\U00020000" <= ch <= "\U0003134f"
                             or ch == "〇"):
        return True
    if "latin" in classes and ch.isalpha() and unicodedata.name(ch, "").startswith(
            ("LATIN", "FULLWIDTH LATIN")):
        return True
    if "digit" in classes and ch.isdigit():
        return True
    if "space" in classes and ch in " \u3000":
        return True
    if "brackets" in classes and ch in _BRACKETS:
        return True
    return "punctuation" in classes and ch in _PUNCTUATION
