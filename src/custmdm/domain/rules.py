"""Coding rules: a pattern plus the conditions that choose it, pure and storage-free.

>>> from datetime import date
>>> rule = CodingRule.build("std", "C{kind}{region:2}{seq:4}", kind="enterprise")
>>> rule.counter_key(CodeContext(kind="enterprise", region="440305", issued_on=date.today()))
'CE44'
>>> other = CodingRule.build("ind", "C{kind}{region:2}{seq:4}", kind="individual")
>>> rule.collision_example(other) is None   # E... versus P...: never the same code
True
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from custmdm.domain.codes import CodeContext, Letters, Narrowing, Pattern, parse_pattern
from custmdm.domain.customer import Grade, Kind, parse_choice
from custmdm.errors import InvalidFormat, RuleViolation

CounterScope = Literal["prefix", "rule"]
#: The longest code the register stores (customer_code.value).
MAX_CODE_LENGTH = 64


@dataclass(frozen=True, slots=True)
class RuleConditions:
    """When a rule applies. ``None`` means "any"."""

    kind: str | None = None
    region_prefix: str | None = None  # GB/T 2260 digits ("44", "4403") or alpha-2 ("US")
    industry: str | None = None  # GB/T 4754 section letter ("C") or division prefix ("13")
    grade: str | None = None

    def matches(self, ctx: CodeContext) -> bool:
        """Does a customer with these facts fall under the rule?"""
        if self.kind is not None and ctx.kind != self.kind:
            return False
        if self.grade is not None and ctx.grade != self.grade:
            return False
        if self.region_prefix is not None and not _region_matches(self.region_prefix, ctx):
            return False
        return self.industry is None or _industry_matches(self.industry, ctx)

    def describe(self) -> str:
        """Human-readable summary, e.g. ``kind=enterprise region=44*``."""
        parts = []
        if self.kind:
            parts.append(f"kind={self.kind}")
        if self.region_prefix:
            parts.append(f"region={self.region_prefix}*")
        if self.industry:
            parts.append(f"industry={self.industry}*")
        if self.grade:
            parts.append(f"grade={self.grade}")
        return " ".join(parts) or "any customer"


def _region_matches(prefix: str, ctx: CodeContext) -> bool:
    if prefix.isdigit():
        return ctx.region is not None and ctx.region.startswith(prefix)
    return ctx.country == prefix.upper()


def _industry_matches(industry: str, ctx: CodeContext) -> bool:
    if industry.isalpha():
        return ctx.industry_section == industry.upper()
    return ctx.industry_division is not None and ctx.industry_division.startswith(industry)


def normalise_conditions(
    kind: str | None = None,
    region_prefix: str | None = None,
    industry: str | None = None,
    grade: str | None = None,
) -> RuleConditions:
    """Validate the shape of rule conditions (reference checks are the core's job)."""
    if region_prefix is not None:
        region_prefix = region_prefix.strip().upper()
        digits_ok = region_prefix.isdigit() and len(region_prefix) <= 6
        country_ok = region_prefix.isalpha() and len(region_prefix) == 2
        if not (digits_ok or country_ok):
            raise InvalidFormat(
                f"region prefix {region_prefix!r} must be 1-6 digits of a GB/T 2260 code "
                "or an ISO 3166 alpha-2 country code"
            )
    if industry is not None:
        industry = industry.strip().upper()
        if not (industry.isalpha() and len(industry) == 1) and not industry.isdigit():
            raise InvalidFormat(
                f"industry condition {industry!r} must be a GB/T 4754 section letter "
                "or division digits"
            )
    return RuleConditions(
        kind=parse_choice(Kind, kind, "kind").value if kind else None,
        region_prefix=region_prefix or None,
        industry=industry or None,
        grade=parse_choice(Grade, grade, "grade").value if grade else None,
    )


@dataclass(frozen=True)
class CodingRule:
    """One version of a coding rule: what it renders and for whom."""

    name: str
    pattern: Pattern
    conditions: RuleConditions = field(default_factory=RuleConditions)
    priority: int = 100
    gapless: bool = False
    counter_scope: CounterScope = "prefix"
    version: int = 1
    id: int | None = None

    @classmethod
    def build(
        cls,
        name: str,
        pattern: str,
        *,
        kind: str | None = None,
        region_prefix: str | None = None,
        industry: str | None = None,
        grade: str | None = None,
        priority: int = 100,
        gapless: bool = False,
        counter_scope: CounterScope = "prefix",
        kind_letters: Mapping[str, str] | None = None,
        grade_letters: Mapping[str, str] | None = None,
        version: int = 1,
        id: int | None = None,
    ) -> CodingRule:
        """Parse and validate everything a steward typed for one rule."""
        name = name.strip()
        if not name or len(name) > 64 or not all(c.isalnum() or c in "-_." for c in name):
            raise InvalidFormat(
                f"rule name {name!r} must be 1-64 letters, digits, '-', '_' or '.'"
            )
        if counter_scope not in ("prefix", "rule"):
            raise InvalidFormat(f"counter scope {counter_scope!r} must be 'prefix' or 'rule'")
        if not isinstance(priority, int) or priority < 0:
            raise InvalidFormat(f"priority {priority!r} must be a whole number of 0 or more")
        letters = Letters(
            kind=dict(kind_letters) if kind_letters else Letters().kind,
            grade=dict(grade_letters) if grade_letters else Letters().grade,
        )
        parsed = parse_pattern(pattern, letters)
        if parsed.length > MAX_CODE_LENGTH:
            raise InvalidFormat(
                f"pattern {pattern!r} renders codes of {parsed.length} characters; codes "
                f"have at most {MAX_CODE_LENGTH}"
            )
        return cls(
            name=name,
            pattern=parsed,
            conditions=normalise_conditions(kind, region_prefix, industry, grade),
            priority=priority,
            gapless=gapless,
            counter_scope=counter_scope,
            version=version,
            id=id,
        )

    def counter_key(self, ctx: CodeContext) -> str:
        """Which counter this customer's code takes its sequence number from."""
        return self.pattern.scope_key(ctx) if self.counter_scope == "prefix" else ""

    def narrowing(self) -> Narrowing:
        """What the conditions fix about the codes this rule can render."""
        cond = self.conditions
        section = cond.industry if cond.industry and cond.industry.isalpha() else None
        return Narrowing(cond.kind, cond.region_prefix, section, cond.grade)

    def collision_example(self, other: CodingRule) -> str | None:
        """A code both rules could render, or None when they can never collide."""
        return self.pattern.example_overlap(other.pattern, self.narrowing(), other.narrowing())

    def fits_narrowed(self, code: str) -> bool:
        """Could this rule, for the customers its conditions admit, render ``code``?"""
        alphabets = self.pattern.alphabets(self.narrowing())
        return len(code) == len(alphabets) and all(
            ch in allowed for ch, allowed in zip(code, alphabets, strict=True)
        ) and self.pattern.verify(code)

    def same_numbering(self, other: CodingRule) -> bool:
        """Do both versions render and count alike, so that counters can simply continue?"""
        return (
            self.pattern.text == other.pattern.text
            and self.counter_scope == other.counter_scope
        )


def choose_rule(rules: Iterable[CodingRule], ctx: CodeContext) -> CodingRule:
    """The first rule, by priority then name, whose conditions match the customer."""
    ordered = sorted(rules, key=lambda r: (r.priority, r.name))
    for rule in ordered:
        if rule.conditions.matches(ctx):
            return rule
    if not ordered:
        raise RuleViolation(
            "no coding rule is defined; add one, e.g. "
            "custmdm rule add std --pattern 'C{kind}{seq:6}{check:mod37-2}'"
        )
    tried = "; ".join(f"{r.name} ({r.conditions.describe()})" for r in ordered)
    facts = f"kind={ctx.kind} region={ctx.region or ctx.country}"
    raise RuleViolation(
        f"no coding rule applies to a customer with {facts}; rules tried: {tried}. "
        "Add a rule whose conditions cover it."
    )
