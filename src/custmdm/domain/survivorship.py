"""Survivorship rules (字段保留规则): which value wins, field by field, when duplicates
are merged into one survivor.

Pure logic: the merge use case (core.merge) hands in the customers, what the steward
picked, the systems each customer is mapped in, and the rules in force, and gets back,
per field, the code of the customer whose value the survivor keeps and why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from custmdm.errors import ValidationError


class Survivorship(StrEnum):
    """How a field's value is chosen among the customers being merged."""

    SURVIVOR = "survivor"  # the survivor's value, even when empty
    MOST_COMPLETE = "most_complete"  # the survivor's, else the first other that has one
    MOST_RECENT = "most_recent"  # from the customer changed last that has one
    TRUSTED = "trusted"  # from the customer mapped in the most trusted system (then
    # most_complete)


#: The fields a merge decides, in the order they are shown.
MERGED_FIELDS = ("legal_name", "owner", "region", "industry", "size", "grade")


@dataclass(frozen=True)
class FieldRule:
    """A field's survivorship rule; ``systems`` (most trusted first) for ``trusted``."""

    field: str
    rule: Survivorship
    systems: tuple[str, ...] = ()
    default: bool = False  # the built-in rule, not one a steward set

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "rule": self.rule.value, "systems": list(self.systems),
                "default": self.default}


#: The rules a new register starts with: the survivor keeps its legal name and owner;
#: region and industry are filled in from the others when it has none; size and grade,
#: which change over time, come from the customer changed last.
DEFAULT_SURVIVORSHIP: Mapping[str, FieldRule] = {
    rule.field: rule for rule in (
        FieldRule("legal_name", Survivorship.SURVIVOR, default=True),
        FieldRule("owner", Survivorship.SURVIVOR, default=True),
        FieldRule("region", Survivorship.MOST_COMPLETE, default=True),
        FieldRule("industry", Survivorship.MOST_COMPLETE, default=True),
        FieldRule("size", Survivorship.MOST_RECENT, default=True),
        FieldRule("grade", Survivorship.MOST_RECENT, default=True),
    )
}


def field_rule(field_name: str, rule: str, systems: Sequence[str] = ()) -> FieldRule:
    """A rule as a steward writes it, checked: a known field and rule, and systems
    exactly when the rule is ``trusted``."""
    if field_name not in MERGED_FIELDS:
        raise ValidationError(f"no field {field_name!r} is decided by a merge; choose one of "
                              f"{', '.join(MERGED_FIELDS)}")
    try:
        chosen = Survivorship(rule.strip().lower())
    except ValueError:
        raise ValidationError(f"unknown survivorship rule {rule!r}; choose one of "
                              f"{', '.join(s.value for s in Survivorship)}") from None
    names = tuple(dict.fromkeys(s.strip() for s in systems if s.strip()))
    if chosen is Survivorship.TRUSTED and not names:
        raise ValidationError("the trusted rule needs the systems to trust, most trusted "
                              "first (--trust SYSTEM, repeatable)")
    if chosen is not Survivorship.TRUSTED and names:
        raise ValidationError(f"systems are given only with the trusted rule, not with "
                              f"{chosen.value}")
    return FieldRule(field_name, chosen, names)


@dataclass(frozen=True)
class Contender:
    """A customer in a merge, as survivorship sees it (the survivor comes first)."""

    code: str
    values: Mapping[str, Any]
    updated_at: datetime
    systems: frozenset[str] = field(default_factory=frozenset)  # where it is mapped


@dataclass(frozen=True)
class Choice:
    """Whose value a field takes, and by which rule (``pick``, ``trusted:SYSTEM``, …)."""

    code: str
    by: str


def choose(contenders: Sequence[Contender], rules: Mapping[str, FieldRule],
           picks: Mapping[str, str] | None = None, trusted: Sequence[str] = ()
           ) -> dict[str, Choice]:
    """For each merged field, the contender whose value the survivor keeps.

    In order: the steward's pick; then ``trusted``, a source order given for this merge
    (the first system that maps a contender with a value); then the field's rule.

    >>> from datetime import datetime as dt
    >>> a = Contender("A", {"region": None, "size": "small"}, dt(2026, 1, 1))
    >>> b = Contender("B", {"region": "440305", "size": "large"}, dt(2026, 6, 1))
    >>> chosen = choose([a, b], DEFAULT_SURVIVORSHIP)
    >>> chosen["region"], chosen["size"], chosen["legal_name"]
    (Choice(code='B', by='most_complete'), Choice(code='B', by='most_recent'), \
Choice(code='A', by='survivor'))
    """
    survivor = contenders[0]
    codes = {c.code for c in contenders}
    for name, code in (picks or {}).items():
        if name not in MERGED_FIELDS:
            raise ValidationError(f"--pick {name}=…: no such field; choose one of "
                                  f"{', '.join(MERGED_FIELDS)}")
        if code not in codes:
            raise ValidationError(f"--pick {name}={code}: {code} is not one of the customers "
                                  "being merged (give the code shown for it)")
    chosen: dict[str, Choice] = {}
    for name in MERGED_FIELDS:
        rule = rules.get(name) or DEFAULT_SURVIVORSHIP[name]
        having = [c for c in contenders if c.values.get(name)]
        systems = (*trusted, *rule.systems)  # the merge's own order, then the rule's
        if picks and name in picks:
            chosen[name] = Choice(picks[name], "pick")
        elif (found := _most_trusted(having, systems)) is not None:
            chosen[name] = found
        elif rule.rule in (Survivorship.MOST_COMPLETE, Survivorship.TRUSTED) and having:
            chosen[name] = Choice(having[0].code, Survivorship.MOST_COMPLETE.value)
        elif rule.rule is Survivorship.MOST_RECENT and having:
            latest = max(having, key=lambda c: c.updated_at)  # the survivor on a tie
            chosen[name] = Choice(latest.code, Survivorship.MOST_RECENT.value)
        else:  # the survivor's, which may be empty when nobody has one
            by = Survivorship.MOST_COMPLETE if rule.rule is Survivorship.TRUSTED else rule.rule
            chosen[name] = Choice(survivor.code, by.value)
    return chosen


def _most_trusted(having: Sequence[Contender], systems: Sequence[str]) -> Choice | None:
    for system in systems:
        for contender in having:
            if system in contender.systems:
                return Choice(contender.code, f"trusted:{system}")
    return None
