"""Coding-rule patterns (编码规则): parse, validate, render, parse back, check characters.

A pattern is a row of segments. The syntax is a contract other tools rely on:

=====================  ==============================================================
``{kind}``             one letter per customer kind (E, P, G, O by default; per rule)
``{region:N}``         first N (2, 4 or 6) digits of the GB/T 2260 region code
``{country}``          ISO 3166-1 alpha-2 country code
``{industry}``         GB/T 4754 section letter; ``{industry:2}`` the 2-digit division
``{grade}``            the grade letter (A, B, C, D by default; per rule)
``{yyyy}`` ``{yy}``    year of issue; ``{mm}`` month of issue
``{seq:N}``            the counter, zero-padded to width N; never wraps
``{check:ALG}``        check character over everything before it; ALG is one of
                       ``mod11-2``, ``mod37-2``, ``luhn``, ``damm``, ``verhoeff``
``{{`` ``}}``          a literal brace
=====================  ==============================================================

All other text is literal. Every segment has a fixed width, so a pattern describes a
set of strings of one length; two patterns can render the same code only if they have
the same length and, at every position, alphabets that intersect. That is how rules are
checked against each other when saved.

>>> p = parse_pattern("C{kind}{region:4}{seq:6}{check:mod37-2}")
>>> ctx = CodeContext(kind="enterprise", region="440305", issued_on=date(2026, 11, 23))
>>> p.render(ctx, 42)
'CE4403000042Q'
>>> p.scope_key(ctx)
'CE4403'
>>> p.verify("CE4403000042Q")
True
>>> p.verify("CE4403000043Q")
False

The check algorithms are python-stdnum's; only the table of which characters each one
covers and promises to protect is ours.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from stdnum import damm, luhn, verhoeff
from stdnum.iso7064 import mod_11_2, mod_37_2

from custmdm.domain.customer import DEFAULT_GRADE_LETTERS, DEFAULT_KIND_LETTERS
from custmdm.errors import (
    CounterExhausted,
    InvalidComponent,
    PatternSyntaxError,
    RuleViolation,
)

DIGITS = frozenset(string.digits)
UPPER = frozenset(string.ascii_uppercase)
#: Characters a literal segment may contain: codes travel to other systems, so no
#: spaces, no quotes, nothing a CSV or URL would need to escape.
LITERAL_CHARACTERS = frozenset(string.ascii_letters + string.digits + "-_./#")


@dataclass(frozen=True, slots=True)
class CheckAlgorithm:
    """A check-character algorithm: what it covers and what it yields."""

    name: str
    covers: frozenset[str]
    yields: frozenset[str]
    calc: Callable[[str], str]

    def check_character(self, text: str) -> str:
        """The check character for ``text`` (every character must be covered)."""
        return self.calc(text)


CHECK_ALGORITHMS: dict[str, CheckAlgorithm] = {
    "mod11-2": CheckAlgorithm(
        "mod11-2", DIGITS, DIGITS | {"X"}, mod_11_2.calc_check_digit
    ),
    "mod37-2": CheckAlgorithm(
        "mod37-2", DIGITS | UPPER, DIGITS | UPPER | {"*"}, mod_37_2.calc_check_digit
    ),
    "luhn": CheckAlgorithm("luhn", DIGITS, DIGITS, luhn.calc_check_digit),
    "damm": CheckAlgorithm("damm", DIGITS, DIGITS, damm.calc_check_digit),
    "verhoeff": CheckAlgorithm("verhoeff", DIGITS, DIGITS, verhoeff.calc_check_digit),
}


@dataclass(frozen=True, slots=True)
class CodeContext:
    """What a pattern needs to know about the customer and the day of issue."""

    kind: str
    issued_on: date
    region: str | None = None  # six-digit GB/T 2260 code (Chinese customers)
    country: str = "CN"  # ISO 3166-1 alpha-2
    industry_section: str | None = None  # GB/T 4754 section letter
    industry_division: str | None = None  # GB/T 4754 two-digit division
    grade: str | None = None


@dataclass(frozen=True, slots=True)
class Segment:
    """One part of a pattern. ``name`` is the segment type, ``arg`` its parameter."""

    name: str
    arg: str | None
    width: int
    position: int  # where it starts in the pattern text (for error messages)
    source: str  # the pattern text of this segment, e.g. "{region:4}"

    @property
    def is_literal(self) -> bool:
        return self.name == "literal"


@dataclass(frozen=True)
class Letters:
    """The rule's letters for ``{kind}`` and ``{grade}``."""

    kind: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_KIND_LETTERS))
    grade: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_GRADE_LETTERS))


@dataclass(frozen=True)
class Narrowing:
    """What a rule's conditions fix: used to narrow alphabets when comparing rules."""

    kind: str | None = None
    region_prefix: str | None = None  # digits of a GB/T 2260 prefix, or an alpha-2 country
    industry_section: str | None = None
    grade: str | None = None


class Pattern:
    """A parsed coding-rule pattern. Build one with :func:`parse_pattern`."""

    def __init__(self, text: str, segments: Sequence[Segment], letters: Letters) -> None:
        self.text = text
        self.segments = tuple(segments)
        self.letters = letters
        self.length = sum(s.width for s in self.segments)
        self.seq = next(s for s in self.segments if s.name == "seq")
        self.check = next((s for s in self.segments if s.name == "check"), None)
        self._seq_offset = self._offset_of(self.seq)
        self._regex = re.compile(self._regex_source())

    def __repr__(self) -> str:
        return f"Pattern({self.text!r})"

    @property
    def max_seq(self) -> int:
        """The largest sequence number the counter may give; it never wraps."""
        return int("9" * self.seq.width)

    @property
    def check_algorithm(self) -> CheckAlgorithm | None:
        return CHECK_ALGORITHMS[self.check.arg or ""] if self.check else None

    # -- rendering ---------------------------------------------------------------

    def scope_key(self, ctx: CodeContext) -> str:
        """The rendered text before ``{seq}``: the default counter scope."""
        out: list[str] = []
        for seg in self.segments:
            if seg is self.seq:
                break
            out.append(self._render_segment(seg, ctx, "", 0))
        return "".join(out)

    def series_key(self, ctx: CodeContext) -> str:
        """What distinguishes this customer's series: every segment rendered except the
        counter and the check character. Customers with the same key get codes that
        differ only in the sequence number."""
        return "|".join(
            self._render_segment(seg, ctx, "", 0)
            for seg in self.segments if seg.name not in ("seq", "check")
        )

    def render(self, ctx: CodeContext, seq: int) -> str:
        """The code for ``ctx`` with sequence number ``seq``."""
        if not 1 <= seq <= self.max_seq:
            raise CounterExhausted(
                f"sequence {seq} does not fit {self.seq.source} in pattern {self.text!r}"
            )
        out: list[str] = []
        for seg in self.segments:
            out.append(self._render_segment(seg, ctx, "".join(out), seq))
        return "".join(out)

    def _render_segment(self, seg: Segment, ctx: CodeContext, before: str, seq: int) -> str:
        name = seg.name
        if name == "literal":
            return seg.arg or ""
        if name == "seq":
            return str(seq).zfill(seg.width)
        if name == "check":
            return CHECK_ALGORITHMS[seg.arg or ""].check_character(before)
        if name == "kind":
            return _letter(self.letters.kind, ctx.kind, "kind", seg)
        if name == "grade":
            if ctx.grade is None:
                raise RuleViolation(f"{seg.source} needs the customer's grade; give one")
            return _letter(self.letters.grade, ctx.grade, "grade", seg)
        if name == "region":
            if ctx.region is None:
                raise RuleViolation(
                    f"{seg.source} needs a Chinese (GB/T 2260) region; give the customer one"
                )
            return ctx.region[: seg.width]
        if name == "country":
            return ctx.country.upper()
        if name == "industry":
            value = ctx.industry_division if seg.arg == "2" else ctx.industry_section
            if value is None:
                raise RuleViolation(f"{seg.source} needs the customer's industry; give one")
            return value
        if name == "yyyy":
            return f"{ctx.issued_on.year:04d}"
        if name == "yy":
            return f"{ctx.issued_on.year % 100:02d}"
        if name == "mm":
            return f"{ctx.issued_on.month:02d}"
        raise AssertionError(f"unhandled segment {name}")  # parse_pattern admits no other

    # -- reading codes back --------------------------------------------------------

    def fits(self, code: str) -> bool:
        """Does ``code`` have this pattern's shape (ignoring the check character)?"""
        return self._regex.fullmatch(code) is not None

    def verify(self, code: str) -> bool:
        """Does ``code`` fit the pattern and carry the right check character?"""
        if not self.fits(code):
            return False
        expected = self.expected_check(code)
        return expected is None or expected == code[self._offset_of(self.check)]

    def expected_check(self, code: str) -> str | None:
        """The check character ``code`` should carry, or None if the pattern has none."""
        algorithm = self.check_algorithm
        if algorithm is None or self.check is None:
            return None
        return algorithm.check_character(code[: self._offset_of(self.check)])

    def parts(self, code: str) -> dict[str, str]:
        """Split a fitting code into its segments: ``{"kind": "E", "seq": "000042", ...}``."""
        if not self.fits(code):
            raise InvalidComponent(f"code {code!r} does not fit pattern {self.text!r}")
        result: dict[str, str] = {}
        offset = 0
        for seg in self.segments:
            if not seg.is_literal:
                key = seg.name if seg.arg is None or seg.name == "check" else seg.source[1:-1]
                result[key] = code[offset : offset + seg.width]
            offset += seg.width
        return result

    def seq_of(self, code: str) -> int:
        """The sequence number inside a fitting code."""
        return int(code[self._seq_offset : self._seq_offset + self.seq.width])

    def with_seq(self, code: str, seq: int) -> str:
        """The code of the same series as ``code`` with another sequence number.

        >>> parse_pattern("C{seq:3}{check:mod37-2}").with_seq("C0010", 2)
        'C002R'
        """
        start, width = self._seq_offset, self.seq.width
        text = code[:start] + str(seq).zfill(width) + code[start + width :]
        algorithm = self.check_algorithm
        if algorithm is not None:
            at = self._offset_of(self.check)
            text = text[:at] + algorithm.check_character(text[:at]) + text[at + 1 :]
        return text

    def scope_of(self, code: str) -> str:
        """The counter scope (text before ``{seq}``) of a fitting code."""
        return code[: self._seq_offset]

    # -- comparing patterns --------------------------------------------------------

    def alphabets(self, narrowing: Narrowing | None = None) -> list[frozenset[str]]:
        """For each character position, the characters the pattern can put there."""
        narrowing = narrowing or Narrowing()
        result: list[frozenset[str]] = []
        for seg in self.segments:
            result.extend(self._segment_alphabets(seg, narrowing))
        return result

    def _segment_alphabets(self, seg: Segment, n: Narrowing) -> list[frozenset[str]]:
        name = seg.name
        if name == "literal":
            return [frozenset(c) for c in seg.arg or ""]
        if name == "kind":
            return [_narrowed(self.letters.kind, n.kind)]
        if name == "grade":
            return [_narrowed(self.letters.grade, n.grade)]
        if name == "region":
            fixed = n.region_prefix if n.region_prefix and n.region_prefix.isdigit() else ""
            return [
                frozenset(fixed[i]) if i < len(fixed) else DIGITS for i in range(seg.width)
            ]
        if name == "country":
            prefix = n.region_prefix or ""
            country = "CN" if prefix.isdigit() else prefix.upper()
            if len(country) == 2:
                return [frozenset(country[0]), frozenset(country[1])]
            return [UPPER, UPPER]
        if name == "industry" and seg.arg is None:
            section = n.industry_section
            return [frozenset(section) if section else frozenset("ABCDEFGHIJKLMNOPQRST")]
        if name == "mm":
            return [frozenset("01"), DIGITS]
        if name == "check":
            return [CHECK_ALGORITHMS[seg.arg or ""].yields]
        return [DIGITS] * seg.width  # region digits, industry:2, yyyy, yy, seq

    def example_overlap(
        self, other: Pattern, mine: Narrowing | None = None, theirs: Narrowing | None = None
    ) -> str | None:
        """A string both patterns could render, or None if they can never collide.

        Conservative: it ignores that a check character depends on the rest, so it may
        call two patterns overlapping that never actually collide, never the reverse.
        """
        if self.length != other.length:
            return None
        example: list[str] = []
        for a, b in zip(self.alphabets(mine), other.alphabets(theirs), strict=True):
            common = a & b
            if not common:
                return None
            example.append(min(common))
        return "".join(example)

    def _offset_of(self, target: Segment | None) -> int:
        offset = 0
        for seg in self.segments:
            if seg is target:
                return offset
            offset += seg.width
        raise AssertionError("segment not in pattern")

    def _regex_source(self) -> str:
        parts: list[str] = []
        for alphabet in self.alphabets():
            chars = "".join(sorted(alphabet))
            parts.append(re.escape(chars) if len(chars) == 1 else f"[{re.escape(chars)}]")
        return "".join(parts)

    def like_prefix(self) -> str:
        """The literal text every code of this pattern starts with (for SQL LIKE)."""
        prefix = []
        for seg in self.segments:
            if not seg.is_literal:
                break
            prefix.append(seg.arg or "")
        return "".join(prefix)


def _narrowed(letters: Mapping[str, str], fixed: str | None) -> frozenset[str]:
    if fixed is not None and fixed in letters:
        return frozenset({letters[fixed]})
    return frozenset(letters.values())


def _letter(letters: Mapping[str, str], value: str, what: str, seg: Segment) -> str:
    try:
        return letters[value]
    except KeyError:
        known = ", ".join(f"{k}={v}" for k, v in letters.items())
        raise RuleViolation(
            f"{seg.source} has no letter for {what} {value!r} (the rule knows {known})"
        ) from None


_SEGMENT = re.compile(r"\{([a-z]+)(?::([^{}]*))?\}")
_SEGMENT_WIDTHS: dict[str, Callable[[str | None], int]] = {
    "kind": lambda _: 1,
    "grade": lambda _: 1,
    "country": lambda _: 2,
    "region": lambda arg: int(arg or 0),
    "industry": lambda arg: 2 if arg == "2" else 1,
    "yyyy": lambda _: 4,
    "yy": lambda _: 2,
    "mm": lambda _: 2,
    "seq": lambda arg: int(arg or 0),
    "check": lambda _: 1,
}
_NO_ARGUMENT = {"kind", "grade", "country", "yyyy", "yy", "mm"}


def parse_pattern(text: str, letters: Letters | None = None) -> Pattern:
    """Parse and validate a pattern; errors point at the offending position.

    >>> parse_pattern("C{seq:6}{check:mod37-2}").length
    8
    >>> parse_pattern("C{kind}{seq:6}{check:luhn}")
    Traceback (most recent call last):
    ...
    custmdm.errors.PatternSyntaxError: {check:luhn} covers only digits 0-9, but C puts C before it;
    use {check:mod37-2}, which covers them (at position 1 of 'C{kind}{seq:6}{check:luhn}')
    >>> parse_pattern("C{sequence:6}")
    Traceback (most recent call last):
    ...
    custmdm.errors.PatternSyntaxError: unknown segment {sequence:6}; ...
    """
    letters = letters or Letters()
    segments = list(_tokenise(text))
    _validate_structure(text, segments)
    _validate_letters(text, segments, letters)
    pattern = Pattern(text, segments, letters)
    _validate_check_coverage(pattern)
    return pattern


def _tokenise(text: str) -> Iterator[Segment]:
    i = 0
    literal: list[str] = []
    literal_start = 0
    while i < len(text):
        ch = text[i]
        if text.startswith("{{", i) or text.startswith("}}", i):
            if not literal:
                literal_start = i
            literal.append(ch)
            i += 2
            continue
        if ch == "{":
            if literal:
                yield _literal("".join(literal), literal_start)
                literal = []
            match = _SEGMENT.match(text, i)
            if match is None:
                end = text.find("}", i)
                if end < 0:
                    raise PatternSyntaxError("unclosed '{'", text, i)
                raise PatternSyntaxError(f"malformed segment {text[i:end + 1]}", text, i)
            yield _segment(text, match)
            i = match.end()
            continue
        if ch == "}":
            raise PatternSyntaxError("'}' without '{' (write '}}' for a literal brace)", text, i)
        if ch not in LITERAL_CHARACTERS:
            allowed = "letters, digits and - _ . / #"
            raise PatternSyntaxError(
                f"character {ch!r} cannot be part of a code (allowed: {allowed})", text, i
            )
        if not literal:
            literal_start = i
        literal.append(ch)
        i += 1
    if literal:
        yield _literal("".join(literal), literal_start)


def _literal(text: str, position: int) -> Segment:
    return Segment("literal", text, len(text), position, text)


def _segment(text: str, match: re.Match[str]) -> Segment:
    name, arg = match.group(1), match.group(2)
    source = match.group(0)
    position = match.start()
    known = "{kind} {region:N} {country} {industry} {industry:2} {grade} {yyyy} {yy} {mm} " \
        "{seq:N} {check:ALG}"
    if name not in _SEGMENT_WIDTHS:
        raise PatternSyntaxError(
            f"unknown segment {source}; known segments are {known}", text, position
        )
    if name in _NO_ARGUMENT and arg is not None:
        raise PatternSyntaxError(f"{{{name}}} takes no argument", text, position)
    if name == "region" and arg not in {"2", "4", "6"}:
        raise PatternSyntaxError("{region:N} needs N = 2, 4 or 6", text, position)
    if name == "industry" and arg not in {None, "2"}:
        raise PatternSyntaxError(
            "write {industry} for the section letter or {industry:2} for the division",
            text, position,
        )
    if name == "seq" and not (arg and arg.isdigit() and 1 <= int(arg) <= 18):
        raise PatternSyntaxError("{seq:N} needs a width N from 1 to 18", text, position)
    if name == "check" and arg not in CHECK_ALGORITHMS:
        algorithms = ", ".join(CHECK_ALGORITHMS)
        raise PatternSyntaxError(
            f"{source}: unknown check algorithm; use one of {algorithms}", text, position
        )
    return Segment(name, arg, _SEGMENT_WIDTHS[name](arg), position, source)


def _validate_structure(text: str, segments: Sequence[Segment]) -> None:
    seqs = [s for s in segments if s.name == "seq"]
    if not seqs:
        raise PatternSyntaxError(
            "a pattern needs one {seq:N} counter, or codes would repeat", text, len(text)
        )
    if len(seqs) > 1:
        raise PatternSyntaxError("only one {seq:N} is allowed", text, seqs[1].position)
    checks = [s for s in segments if s.name == "check"]
    if len(checks) > 1:
        raise PatternSyntaxError("only one {check:ALG} is allowed", text, checks[1].position)
    if checks and checks[0].position < seqs[0].position:
        raise PatternSyntaxError(
            "{check:ALG} must come after {seq:N} so that it covers the counter",
            text, checks[0].position,
        )


def _validate_letters(text: str, segments: Sequence[Segment], letters: Letters) -> None:
    for seg in segments:
        table = {"kind": letters.kind, "grade": letters.grade}.get(seg.name)
        if table is None:
            continue
        for value, letter in table.items():
            if len(letter) != 1 or letter not in LITERAL_CHARACTERS:
                raise RuleViolation(
                    f"{seg.source} letter for {value!r} must be one letter or digit, "
                    f"not {letter!r}"
                )
        if len(set(table.values())) != len(table):
            raise RuleViolation(f"{seg.source} letters must differ: {dict(table)}")


def _validate_check_coverage(pattern: Pattern) -> None:
    algorithm = pattern.check_algorithm
    if algorithm is None or pattern.check is None:
        return
    before = pattern.segments[: pattern.segments.index(pattern.check)]
    in_use = frozenset().union(*pattern.alphabets()[: pattern._offset_of(pattern.check)])
    for seg in before:
        uncovered = frozenset().union(*pattern._segment_alphabets(seg, Narrowing()))
        uncovered -= algorithm.covers
        if not uncovered:
            continue
        better = [a.name for a in CHECK_ALGORITHMS.values() if in_use <= a.covers]
        hint = f"; use {{check:{better[0]}}}, which covers them" if better else ""
        shown = "/".join(sorted(uncovered)[:6]) + ("/…" if len(uncovered) > 6 else "")
        raise PatternSyntaxError(
            f"{pattern.check.source} covers only {_describe(algorithm.covers)}, "
            f"but {seg.source} puts {shown} before it{hint}",
            pattern.text, seg.position,
        )


def _describe(alphabet: frozenset[str]) -> str:
    return "digits 0-9" if alphabet == DIGITS else "digits 0-9 and capital letters A-Z"
