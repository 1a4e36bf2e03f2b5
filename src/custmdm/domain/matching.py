"""The match model: blocking keys, comparisons, scores and explanations. Pure logic.

One model serves both edges of deduplication: the check on entry scores a draft against
the candidates its blocking keys find (core/dedup.py), and the batch run hands the same
comparisons to Splink. A comparison is declared, not coded: each level says which field
it looks at and how (:class:`Predicate`), so Python evaluates it here and the batch run turns
it into SQL, and both agree on what "names 93 % similar" means (Levenshtein similarity,
``1 - distance / longer length``, the same in rapidfuzz, DuckDB and Spark).

Scores are Fellegi–Sunter: each comparison lands on its first level that holds, the
level's match weight ``log2(m / u)`` adds up, and the total becomes a probability with
the prior. ``m`` is how often true duplicates land there, ``u`` how often two different
customers do. The defaults below are starting values from the labelled demo set; a
trained model replaces them. Levels marked ``term_frequency`` use the value's share of
the register as ``u`` when that is larger: a trade name that a thousand customers share
says less than one nobody else has.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from rapidfuzz.distance import Levenshtein

from custmdm.domain.customer import Kind
from custmdm.domain.names import NameForms, normalise


class LevelKind(StrEnum):
    """How a comparison level compares a field of two records."""

    EQUAL = "equal"  # the same value (for sets: a value in common)
    SIMILAR = "similar"  # Levenshtein similarity ≥ threshold (for sets: the best pair)
    PREFIX = "prefix"  # the first ``length`` characters equal
    DIFFERENT = "different"  # both known and not equal (catches what is left)


@dataclass(frozen=True)
class Predicate:
    kind: LevelKind
    field: str
    threshold: float = 0.0  # SIMILAR
    length: int = 0  # PREFIX


@dataclass(frozen=True)
class Level:
    """One outcome of a comparison, with its m and u probabilities."""

    label: str  # the explanation; ``{similarity}`` and ``{value}`` are filled in
    test: Predicate
    m: float
    u: float
    term_frequency: bool = False

    @property
    def weight(self) -> float:
        return math.log2(self.m / self.u)


@dataclass(frozen=True)
class Comparison:
    """One aspect of two records (identifier, name, phone …): levels, best first.

    When either record lacks every field the comparison reads, it adds nothing.
    """

    name: str
    fields: tuple[str, ...]
    levels: tuple[Level, ...]


@dataclass(frozen=True)
class MatchRecord:
    """What matching knows of one customer or draft. Sets hold every current value.

    ``identifiers`` are ``scheme:value``; ``phones`` E.164; ``emails`` lower case;
    ``address`` and ``person`` (legal representative, or an individual's name) normalised.
    """

    kind: str
    names: tuple[NameForms, ...]  # the legal name first
    legal_form: str | None = None  # its family (domain.names.LegalForm.family)
    region: str | None = None  # GB/T 2260 code
    identifiers: frozenset[str] = frozenset()
    phones: frozenset[str] = frozenset()
    emails: frozenset[str] = frozenset()
    address: str | None = None
    person: str | None = None
    birth_date: str | None = None  # ISO date (individuals)

    def values(self, name: str) -> frozenset[str]:
        """The field's values: a set, empty when unknown."""
        getter = _FIELDS[name]
        return getter(self)


def _scalar(attribute: str) -> Callable[[MatchRecord], frozenset[str]]:
    def get(record: MatchRecord) -> frozenset[str]:
        value = getattr(record, attribute)
        return frozenset((value,)) if value else frozenset()
    return get


def _name_forms(index: int) -> Callable[[MatchRecord], frozenset[str]]:
    def get(record: MatchRecord) -> frozenset[str]:
        return frozenset(forms[index] for forms in record.names if forms[index])
    return get


_FIELDS: dict[str, Callable[[MatchRecord], frozenset[str]]] = {
    "identifier": lambda r: r.identifiers,
    "name": _name_forms(NameForms._fields.index("normalised")),
    "core": _name_forms(NameForms._fields.index("core")),
    "core_pinyin": _name_forms(NameForms._fields.index("core_pinyin")),
    "legal_form": _scalar("legal_form"),
    "region": _scalar("region"),
    "phone": lambda r: r.phones,
    "email": lambda r: r.emails,
    "address": _scalar("address"),
    "person": _scalar("person"),
    "birth_date": _scalar("birth_date"),
}


def _identifier_comparison(different_m: float) -> Comparison:
    return Comparison("identifier", ("identifier",), (
        Level("same {value}", Predicate(LevelKind.EQUAL, "identifier"), 0.95, 1e-7),
        Level("different {value}", Predicate(LevelKind.DIFFERENT, "identifier"),
              different_m, 0.9999),
    ))


def _name_comparison(what: str, form_m: float, same_u: float) -> Comparison:
    """``same_u``: how often two different customers have the same name (people share
    names far more often than companies do)."""
    return Comparison("name", ("name", "core", "core_pinyin"), (
        Level(f"same {what}", Predicate(LevelKind.EQUAL, "name"), 0.55, same_u,
              term_frequency=True),
        Level(f"same {what} after removing legal form and region",
              Predicate(LevelKind.EQUAL, "core"), form_m, 4e-6, term_frequency=True),
        Level(f"{what}s sound alike", Predicate(LevelKind.EQUAL, "core_pinyin"), 0.05, 1e-5),
        Level(f"{what}s {{similarity}} similar after removing legal form and region",
              Predicate(LevelKind.SIMILAR, "core", threshold=0.75), 0.12, 2e-5),
        Level(f"{what}s {{similarity}} similar", Predicate(LevelKind.SIMILAR, "core", 0.5),
              0.03, 2e-3),
        Level(f"different {what}s", Predicate(LevelKind.DIFFERENT, "core"), 0.02, 0.998),
    ))


def _contact_comparison(name: str, what: str) -> Comparison:
    return Comparison(name, (name,), (
        Level(f"same {what}", Predicate(LevelKind.EQUAL, name), 0.7, 1e-6),
        Level(f"different {what}", Predicate(LevelKind.DIFFERENT, name), 0.3, 0.99999),
    ))


def _address_comparison() -> Comparison:
    return Comparison("address", ("address",), (
        Level("same address", Predicate(LevelKind.EQUAL, "address"), 0.5, 1e-5),
        Level("addresses {similarity} similar", Predicate(LevelKind.SIMILAR, "address", 0.85),
              0.3, 1e-3),
        Level("different address", Predicate(LevelKind.DIFFERENT, "address"), 0.2, 0.999),
    ))


def _region_comparison() -> Comparison:
    return Comparison("region", ("region",), (
        Level("same county", Predicate(LevelKind.EQUAL, "region"), 0.75, 0.01),
        Level("same city", Predicate(LevelKind.PREFIX, "region", length=4), 0.12, 0.05),
        Level("same province", Predicate(LevelKind.PREFIX, "region", length=2), 0.06, 0.1),
        Level("different province", Predicate(LevelKind.DIFFERENT, "region"), 0.07, 0.84),
    ))


#: The comparisons per customer kind. Government bodies and other organisations are
#: matched like enterprises: they have USCCs, names with regions, and addresses.
ENTERPRISE_COMPARISONS: tuple[Comparison, ...] = (
    _identifier_comparison(0.03),
    _name_comparison("name", 0.3, 2e-6),
    Comparison("legal_form", ("legal_form",), (
        Level("same legal form", Predicate(LevelKind.EQUAL, "legal_form"), 0.9, 0.6),
        Level("different legal form", Predicate(LevelKind.DIFFERENT, "legal_form"), 0.1, 0.4),
    )),
    _region_comparison(),
    _contact_comparison("phone", "phone"),
    _contact_comparison("email", "e-mail"),
    _address_comparison(),
    Comparison("person", ("person",), (
        Level("same legal representative", Predicate(LevelKind.EQUAL, "person"), 0.7, 1e-4),
        Level("different legal representative", Predicate(LevelKind.DIFFERENT, "person"),
              0.3, 0.9999),
    )),
)
INDIVIDUAL_COMPARISONS: tuple[Comparison, ...] = (
    _identifier_comparison(0.01),  # an ID number is rarely mistyped and never shared
    _name_comparison("name", 0.05, 1e-4),
    Comparison("birth_date", ("birth_date",), (
        Level("same birth date", Predicate(LevelKind.EQUAL, "birth_date"), 0.95, 1 / 20000),
        Level("different birth date", Predicate(LevelKind.DIFFERENT, "birth_date"), 0.05, 0.99995),
    )),
    _region_comparison(),
    _contact_comparison("phone", "phone"),
    _contact_comparison("email", "e-mail"),
    _address_comparison(),
)


def comparisons_for(kind: str) -> tuple[Comparison, ...]:
    return INDIVIDUAL_COMPARISONS if kind == Kind.INDIVIDUAL else ENTERPRISE_COMPARISONS


#: Prior odds that two records picked from one block are the same customer.
PRIOR = 1e-4


def similarity(a: str, b: str) -> float:
    """Levenshtein similarity: 1 − distance / length of the longer (1.0: equal)."""
    return float(Levenshtein.normalized_similarity(a, b))


# -- scoring ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Evidence:
    """Where one comparison landed: its level's label filled in, and its weight."""

    comparison: str
    label: str
    weight: float


@dataclass(frozen=True)
class Score:
    weight: float  # total match weight, in bits
    probability: float
    evidence: tuple[Evidence, ...]

    @property
    def explanation(self) -> list[str]:
        """What speaks for and strongly against the match, strongest first."""
        shown = [e for e in self.evidence if e.weight > 0 or e.weight < -3]
        return [e.label for e in sorted(shown, key=lambda e: -abs(e.weight))]


@dataclass
class Frequencies:
    """How many customers share a value (term frequency), and of how many."""

    population: int = 1
    counts: Mapping[str, int] = field(default_factory=dict)  # core prefix -> customers

    def share(self, value: str) -> float:
        """The share of the register whose name core starts like ``value`` (as the
        blocking keys file it), besides the candidate itself (so a value nobody else has
        is not penalised, however small the register)."""
        others = self.counts.get(value[:KEY_PREFIX], 0) - 1
        return max(others, 0) / max(self.population, 1)


def score(a: MatchRecord, b: MatchRecord, frequencies: Frequencies | None = None) -> Score:
    """Compare two records with their kind's comparisons.

    >>> from custmdm.domain.names import forms_of
    >>> a = MatchRecord("enterprise", (forms_of("深圳市腾讯计算机系统有限公司"),),
    ...                 identifiers=frozenset({"cn.uscc:91440300708461136T"}))
    >>> b = MatchRecord("enterprise", (forms_of("腾讯计算机系统有限责任公司"),))
    >>> s = score(a, b)
    >>> s.explanation
    ['same name after removing legal form and region']
    >>> round(s.probability, 3)
    0.882
    """
    evidence = []
    for comparison in comparisons_for(a.kind):
        found = _evaluate(comparison, a, b, frequencies)
        if found is not None:
            evidence.append(found)
    weight = sum(e.weight for e in evidence)
    return Score(weight, _probability(weight), tuple(evidence))


def _probability(weight: float) -> float:
    log_odds = math.log2(PRIOR / (1 - PRIOR)) + weight
    return 1 / (1 + 2.0 ** -log_odds) if log_odds > -1000 else 0.0


def _evaluate(comparison: Comparison, a: MatchRecord, b: MatchRecord,
              frequencies: Frequencies | None) -> Evidence | None:
    known_a = {f: a.values(f) for f in comparison.fields}
    known_b = {f: b.values(f) for f in comparison.fields}
    if not any(known_a.values()) or not any(known_b.values()):
        return None
    for level in comparison.levels:
        held = _holds(level.test, known_a[level.test.field], known_b[level.test.field])
        if held is None:
            continue
        value, closeness = held
        weight = level.weight
        if level.term_frequency and frequencies is not None:
            share = frequencies.share(value)
            if share > level.u:
                weight = math.log2(level.m / share)
        label = level.label.format(value=_shown(comparison.name, value),
                                   similarity=f"{closeness:.0%}")
        return Evidence(comparison.name, label, weight)
    return None


def _holds(test: Predicate, left: frozenset[str], right: frozenset[str]
           ) -> tuple[str, float] | None:
    """``(the value that matched, similarity)`` when ``test`` holds; else None."""
    if not left or not right:
        return None
    if test.kind is LevelKind.EQUAL:
        common = left & right
        return (min(common), 1.0) if common else None
    if test.kind is LevelKind.PREFIX:
        for x in left:
            for y in right:
                if x[:test.length] == y[:test.length]:
                    return x[:test.length], 1.0
        return None
    if test.kind is LevelKind.SIMILAR:
        best = max((similarity(x, y), x) for x in left for y in right)
        return (best[1], best[0]) if best[0] >= test.threshold else None
    if test.field == "identifier":  # different only where both have the same scheme
        schemes = {v.partition(":")[0] for v in left} & {v.partition(":")[0] for v in right}
        return (f"{min(schemes)}:", 0.0) if schemes else None
    return min(left), 0.0  # DIFFERENT: both known, and no earlier level held


def _shown(comparison: str, value: str) -> str:
    """How a matched value is named in an explanation ("USCC" for a cn.uscc value)."""
    if comparison == "identifier":
        scheme = value.partition(":")[0]
        return _SCHEME_NAMES.get(scheme, scheme)
    return value


_SCHEME_NAMES = {"cn.uscc": "USCC", "cn.ric": "ID number"}


# -- blocking -----------------------------------------------------------------------------

#: Deletion keys are made from at most this many characters of a core (SymSpell with a
#: prefix: a typo inside the prefix still leaves one deletion in common).
KEY_PREFIX = 8
#: Cores shorter than this get no deletion keys: one character less is too common.
_MIN_DELETION_LENGTH = 4
MAX_KEY_LENGTH = 100


def blocking_keys(record: MatchRecord) -> list[str]:
    """The keys under which a record is filed, so candidates are found by index lookups.

    ``i:`` an identifier; ``n:`` a name's core; ``d:`` (cores of four or more
    characters) the city and the core with one character deleted: one typo leaves one
    of these in common; ``p:`` the core's pinyin (homophones); ``t:`` a phone; ``e:`` an
    e-mail. Cores count their first eight characters.

    >>> from custmdm.domain.names import forms_of
    >>> blocking_keys(MatchRecord("enterprise", (forms_of("腾讯科技有限公司"),),
    ...                           region="440305"))  # doctest: +NORMALIZE_WHITESPACE
    ['n:腾讯科技', 'd:4403:讯科技', 'd:4403:腾科技', 'd:4403:腾讯技', 'd:4403:腾讯科',
     'p:tengxunkeji']
    """
    keys = [f"i:{ident}" for ident in sorted(record.identifiers)]
    keys += [f"n:{forms.core[:KEY_PREFIX]}" for forms in record.names if forms.core]
    # One-character deletions only within the city: across the country a common
    # deletion ("宇食品") files thousands of customers and the one meant is lost.
    city = (record.region or "")[:4]
    keys += [f"d:{city}:{variant}" for forms in record.names
             for variant in core_variants(forms.core)[1:]]
    keys += [f"p:{forms.core_pinyin}" for forms in record.names
             if forms.core_pinyin and forms.core_pinyin != forms.core]
    keys += [f"t:{phone}" for phone in sorted(record.phones)]
    keys += [f"e:{email}" for email in sorted(record.emails)]
    # Cut first, then drop repeats: two long keys may differ only after the cut.
    return list(dict.fromkeys(key[:MAX_KEY_LENGTH] for key in keys))


def core_variants(core: str) -> list[str]:
    """A core and (from four characters) each one-character deletion of its prefix."""
    if not core:
        return []
    head = core[:KEY_PREFIX]
    variants = [head]
    if len(head) >= _MIN_DELETION_LENGTH:
        variants += [head[:i] + head[i + 1:] for i in range(len(head))]
    return list(dict.fromkeys(variants))


def normal_address(text: str | None) -> str | None:
    """An address as matching compares it: normalised like a name (width, brackets,
    traditional characters, punctuation and spaces folded)."""
    if not text:
        return None
    return normalise(text) or None


# -- rules --------------------------------------------------------------------------------


class Action(StrEnum):
    """What a match rule does when a candidate scores at or above its threshold."""

    BLOCK = "block"  # refuse the registration
    WARN = "warn"  # register only with an explicit override and a reason
    LINK = "link"  # certain: link to the existing customer instead of registering


@dataclass(frozen=True)
class MatchRule:
    kind: str
    action: Action
    threshold: float  # match probability, 0 < threshold ≤ 1

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "action": self.action.value, "threshold": self.threshold}


#: The rules a new register starts with: block near-certain duplicates, warn on likely
#: ones; nothing is linked automatically until a steward says so.
DEFAULT_RULES: tuple[MatchRule, ...] = tuple(
    rule for kind in Kind for rule in (
        MatchRule(kind.value, Action.BLOCK, 0.99),
        MatchRule(kind.value, Action.WARN, 0.5),
    )
)


def strongest_action(rules: Iterable[MatchRule], kind: str, probability: float
                     ) -> Action | None:
    """The action a candidate with this probability triggers (link > block > warn)."""
    triggered = {rule.action for rule in rules
                 if rule.kind == kind and probability >= rule.threshold}
    for action in (Action.LINK, Action.BLOCK, Action.WARN):
        if action in triggered:
            return action
    return None
