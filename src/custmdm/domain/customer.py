"""The customer's classification vocabulary: kinds, lifecycle, sizes and grades.

Pure values shared by every layer; the names match ../shared/GLOSSARY.md.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from custmdm.errors import InvalidComponent


class Kind(StrEnum):
    """Customer kind (客户类型)."""

    ENTERPRISE = "enterprise"
    INDIVIDUAL = "individual"
    GOVERNMENT = "government"
    OTHER = "other"


class Lifecycle(StrEnum):
    """Lifecycle status (生命周期); merged and retired customers keep their codes for ever."""

    PROSPECT = "prospect"
    ACTIVE = "active"
    DORMANT = "dormant"
    CHURNED = "churned"
    MERGED = "merged"
    RETIRED = "retired"


class Size(StrEnum):
    """Enterprise size (企业规模)."""

    LARGE = "large"
    MEDIUM = "medium"
    SMALL = "small"
    MICRO = "micro"


class Grade(StrEnum):
    """Customer grade (客户等级)."""

    VIP = "vip"
    IMPORTANT = "important"
    ORDINARY = "ordinary"
    POTENTIAL = "potential"


class CodeStatus(StrEnum):
    """The state of one code value. No state ever frees a value for reuse."""

    RESERVED = "reserved"  # counter taken, registration not yet committed (or crashed)
    ACTIVE = "active"  # the customer's current code
    SUPERSEDED = "superseded"  # replaced by a change of code; still resolves
    RETIRED = "retired"  # the customer was retired; still resolves
    VOID = "void"  # reserved but never used (registration failed)


#: Default one-letter rendering of ``{kind}``; a coding rule may configure its own.
DEFAULT_KIND_LETTERS: dict[str, str] = {
    Kind.ENTERPRISE: "E",
    Kind.INDIVIDUAL: "P",
    Kind.GOVERNMENT: "G",
    Kind.OTHER: "O",
}

#: Default one-letter rendering of ``{grade}``; a coding rule may configure its own.
DEFAULT_GRADE_LETTERS: dict[str, str] = {
    Grade.VIP: "A",
    Grade.IMPORTANT: "B",
    Grade.ORDINARY: "C",
    Grade.POTENTIAL: "D",
}


E = TypeVar("E", bound=StrEnum)


def parse_choice(enum: type[E], value: str, what: str) -> E:
    """Return ``value`` as a member of ``enum``, or raise a clear error listing the choices.

    >>> parse_choice(Kind, "Enterprise", "kind")
    <Kind.ENTERPRISE: 'enterprise'>
    >>> parse_choice(Kind, "firm", "kind")
    Traceback (most recent call last):
    ...
    custmdm.errors.InvalidComponent: unknown kind 'firm'; choose one of enterprise, individual, ...
    """
    try:
        return enum._value2member_map_[value]  # type: ignore[return-value]  # fast path
    except KeyError:
        pass
    try:
        return enum(value.strip().lower())
    except ValueError:
        choices = ", ".join(member.value for member in enum)
        raise InvalidComponent(f"unknown {what} {value!r}; choose one of {choices}") from None
