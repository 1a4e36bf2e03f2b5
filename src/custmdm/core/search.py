"""One search over everything a customer is known by.

Whatever someone has at hand: a code (current or superseded), an identifier, another
system's id, any name or part of it (former names too), its pinyin or initials, with
a typo. Every lookup is served by a database index (see :mod:`custmdm.store.search`);
Python only ranks the few candidates, with rapidfuzz for typos.

Ranking: exact code, identifier or external id first; then exact names; then names,
pinyin or codes that start with the text; then names that contain it; then similar
names by score. Each hit says why it matched.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from rapidfuzz import fuzz
from sqlalchemy import Connection, and_, bindparam, literal, or_, select, union_all

from custmdm.core.context import Context
from custmdm.core.customers import CustomerRecord, load_records
from custmdm.domain.contacts import canonical_email, canonical_phone
from custmdm.domain.names import (
    NameForms,
    NameKind,
    forms_of,
    legal_form,
    normalise,
    parse_name,
)
from custmdm.errors import InvalidFormat, ValidationError
from custmdm.security.access import Permission
from custmdm.security.crypto import mask
from custmdm.security.fields import PERSONAL_SCHEMES, SensitiveFields
from custmdm.store.tables import (
    contact,
    customer,
    customer_code,
    customer_name,
    identifier,
    system,
    xref,
)

#: How many more candidates a search gathers for an actor who sees part of the register.
SCOPED_CANDIDATE_FACTOR = 4
#: How good a match is, best first.
EXACT_KEY, EXACT_NAME, PREFIX, CONTAINS, SIMILAR = range(5)
MATCH_WORDS = {EXACT_KEY: "exact", EXACT_NAME: "exact", PREFIX: "prefix",
               CONTAINS: "contains", SIMILAR: "similar"}
#: The least rapidfuzz ratio (0–100) for a similar name to count.
SIMILARITY_CUTOFF = 75
#: How many candidates each index lookup may return before ranking, per hit asked for:
#: enough for the best to be among them, few enough to rank in a few milliseconds.
CANDIDATES_PER_HIT = 5
MIN_CANDIDATES = 50
#: The least number of exact, prefix or contains matches whose rows are read.
MIN_ROWS = 20
MAX_LIMIT = 500
#: The longest text searched for: a name is at most 500 characters.
MAX_QUERY = 500
#: Latin names are cut into at most this many blocks for typos.
MAX_BLOCKS = 8

_TEXT_COLUMNS = (customer_name.c.normalised, customer_name.c.core)
#: Latin text may also be pinyin or initials, of the core (what people type) or whole.
_LATIN_COLUMNS = (*_TEXT_COLUMNS, customer_name.c.core_pinyin, customer_name.c.core_initials,
                  customer_name.c.pinyin, customer_name.c.initials)
_FORM_WORDS = {"core_pinyin": "pinyin", "pinyin": "pinyin", "core_initials": "initials",
               "initials": "initials"}
#: The least pinyin length (letters) worth a sound-alike lookup: about two syllables.
MIN_SOUND = 4
_NAME_FIELDS = {NameKind.LEGAL.value: "legal name", NameKind.SHORT.value: "short name",
                NameKind.ALIAS.value: "alias", NameKind.ENGLISH.value: "English name",
                NameKind.CODENAME.value: "code name", NameKind.FORMER.value: "former name"}


@dataclass(frozen=True)
class SearchHit:
    """A customer found, and why."""

    customer: CustomerRecord
    field: str  # code, superseded code, identifier cn.uscc, ERP id, short name …
    matched: str  # the text that matched, as stored
    match: str  # exact, prefix, contains or similar
    score: float  # 100 for exact; rapidfuzz's ratio for similar names

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.customer.code, "kind": self.customer.kind,
                "legal_name": self.customer.legal_name, "status": self.customer.status,
                "why": {"field": self.field, "matched": self.matched, "match": self.match,
                        "score": round(self.score, 1)}}


@dataclass(frozen=True)
class _Reason:
    rank: int
    score: float
    field: str
    matched: str


def search(ctx: Context, query: str, limit: int = 20) -> list[SearchHit]:
    """Customers matching ``query``, best first (at most ``limit``)."""
    raw = " ".join((query or "").split())
    if not raw:
        raise ValidationError("give something to search for: a code, a name, pinyin, an "
                              "identifier or another system's id")
    if len(raw) > MAX_QUERY:
        raise ValidationError(f"search text is at most {MAX_QUERY} characters, not "
                              f"{len(raw)}: search for part of it")
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationError(f"limit must be between 1 and {MAX_LIMIT}, not {limit}")
    text = normalise(raw)
    key = "".join(raw.split()).upper()
    best: dict[int, _Reason] = {}
    ctx.require_user()
    in_scope = ctx.scope_filter(Permission.READ)

    def offer(customer_id: int, reason: _Reason) -> None:
        known = best.get(customer_id)
        if known is None or (reason.rank, -reason.score) < (known.rank, -known.score):
            best[customer_id] = reason

    with ctx.store.read() as conn:
        want = max(MIN_CANDIDATES, CANDIDATES_PER_HIT * limit)
        if in_scope is not None:  # out-of-scope candidates are dropped below: take more
            want *= SCOPED_CANDIDATE_FACTOR
        _keys(conn, raw, key, text, offer, want, ctx.store.fields)
        if text:
            _names(ctx, conn, raw, text, offer, best, want, limit)
        ranked = sorted(best.items(), key=lambda item: (item[1].rank, -item[1].score,
                                                        item[0]))
        if in_scope is not None:  # only customers the actor may read, before loading any
            allowed = set(conn.execute(select(customer.c.id).where(
                customer.c.id.in_([cid for cid, _ in ranked]), in_scope)).scalars())
            ranked = [item for item in ranked if item[0] in allowed]
        ranked = ranked[:limit]
        records = {r.id: r for r in load_records(conn, [cid for cid, _ in ranked],
                                                 ctx.store.fields)}
    return [SearchHit(records[cid], reason.field, reason.matched, MATCH_WORDS[reason.rank],
                      reason.score) for cid, reason in ranked if cid in records]


def _keys(
    conn: Connection, raw: str, key: str, text: str, offer: Any, want: int,
    fields: SensitiveFields,
) -> None:
    """Codes, identifiers, phones and e-mails, external ids and external names (what
    other systems call the customer): exact, or starting with the text (codes and
    external names). Personal data is looked up by its blind index (security.fields).
    One statement: on a server each round trip costs about as much as the lookup."""
    prefix = len(key) >= 2 and key.isascii() and key.isalnum()
    ident = key.replace("-", "")
    person_ident = {fields.identifier_value(s, ident): s for s in PERSONAL_SCHEMES}
    params = {"key": key, "idents": [ident, *person_ident], "raw": raw,
              **_contact_blinds(fields, raw),
              **_range("key", key), **(_range("xname", text) if text else _NOTHING)}
    row: Any
    for row in conn.execute(_keys_statement(prefix, want), params):
        if row.source == "code":
            field = ("code" if row.detail in ("active", "retired")
                     else f"{row.detail} code")
            offer(row.customer_id, _Reason(EXACT_KEY, 100, field, row.value))
        elif row.source == "identifier":
            shown = mask(row.detail, ident) if row.value in person_ident else row.value
            offer(row.customer_id, _Reason(EXACT_KEY, 100, f"identifier {row.detail}", shown))
        elif row.source == "contact":
            offer(row.customer_id, _Reason(EXACT_KEY, 100, _CONTACT_WORDS[row.detail],
                                           mask(row.detail, raw)))
        elif row.source == "xref":
            offer(row.customer_id, _Reason(EXACT_KEY, 100, f"{row.detail} id", row.value))
        elif row.source == "xref name":
            known = normalise(row.value)
            rank, score = ((EXACT_NAME, 100) if known == text
                           else (PREFIX, 100 * len(text) / max(len(known), 1)))
            offer(row.customer_id, _Reason(rank, score, f"{row.detail} name", row.value))
        else:
            offer(row.customer_id, _Reason(PREFIX, 100 - len(row.value), "code", row.value))


_CONTACT_WORDS = {"phone": "phone", "email": "e-mail"}


def _contact_blinds(fields: SensitiveFields, raw: str) -> dict[str, str | None]:
    """The blind indexes of ``raw`` read as a phone and as an e-mail, where it is one."""
    found: dict[str, str | None] = {"phone": None, "email": None}
    if "@" in raw:
        with suppress(InvalidFormat):
            found["email"] = fields.contact_blind("email", canonical_email(raw))
    elif sum(c.isdigit() for c in raw) >= 5:
        with suppress(InvalidFormat):
            found["phone"] = fields.contact_blind("phone", canonical_phone(raw))
    return found


def _names(
    ctx: Context, conn: Connection, raw: str, text: str, offer: Any,
    found: dict[int, _Reason], want: int, limit: int,
) -> None:
    latin = text.isascii() and text.isalpha()
    # As typed: foreign legal forms are told apart by the words, which normalising joins.
    forms = forms_of(raw)
    trade_name = parse_name(raw).trade_name
    rows_read = max(2 * limit, MIN_ROWS)  # rows read per lookup whose hits rank alike
    # Exact and prefix matches in one statement and from the indexes alone (a name
    # equal to the text comes first in its range); rows are read for the best only:
    # on a million names each row read is a random page, often not in memory.
    matches: dict[int, Any] = {}
    for match in sorted(conn.execute(_ranges_statement(latin, want), _range("text", text)),
                        key=lambda m: len(m.value)):
        matches.setdefault(match.id, match)  # the closest form of each name
    best_matches = list(matches.values())[:rows_read]
    rows = {row.id: row for row in conn.execute(
        _NAME_ROWS, {"ids": [m.id for m in best_matches]})} if best_matches else {}
    for match in best_matches:
        row = rows[match.id]
        if match.value == text:
            reason = _Reason(EXACT_NAME, _current(row, 100), _field(row, match.via), row.text)
        else:
            share = 100 * len(text) / max(len(match.value), 1)
            reason = _Reason(PREFIX, _current(row, share), _field(row, match.via), row.text)
        offer(row.customer_id, reason)
    if _settled(found, PREFIX, limit):
        return
    index = ctx.name_index
    # Any name containing the text is as good a match as any other before ranking:
    # read a few (each a random page), not all ``want``.
    for row in index.containing(conn, text, rows_read,
                                probe=_contains_probe(text, raw, forms, trade_name)):
        if text in row.normalised:  # the shorter the name, the closer
            share = 100 * len(text) / len(row.normalised)
            offer(row.customer_id, _Reason(CONTAINS, _current(row, share), _field(row),
                                           row.text))
    if any(r.rank <= EXACT_NAME for r in found.values()) or _settled(found, CONTAINS, limit):
        return  # an exact code, key or name: no typo to forgive, skip the costliest lookups
    for row in index.containing_all(conn, _typo_patterns(
            forms.normalised, forms.core, trade_name), want):
        _offer_similar(offer, row, text, forms)
    # The rest from ordinary indexes, in one statement: the same core (a typo in the
    # region or the legal form); for Latin text, pinyin with a typo (names whose core's
    # pinyin starts as the query's first half does: a typo in that half goes
    # unforgiven); for Chinese, characters that sound alike (腾迅 for 腾讯, the
    # commonest Chinese typo, which leaves no trigram of a short name intact).
    lookups = ["core"]
    params = {"core": forms.core, "pinyin": forms.pinyin, **_range("half", text[:len(text) // 2]),
              **_range("sound", forms.core_pinyin)}
    if latin and len(text) >= 2 * MIN_SOUND:
        lookups.append("pinyin")
    if not latin and len(forms.core_pinyin) >= MIN_SOUND:
        lookups.append("sound")
    for row in conn.execute(_btree_typo_statement(tuple(lookups), want), params):
        if row.lookup == "core":
            _offer_similar(offer, row, text, forms)
        elif row.lookup == "pinyin":
            score = fuzz.ratio(text, row.core_pinyin)
            if score >= SIMILARITY_CUTOFF:
                offer(row.customer_id, _Reason(SIMILAR, score, _field(row, "core_pinyin"),
                                               row.text))
        else:
            score = (40 + 0.3 * fuzz.ratio(forms.core_pinyin, row.core_pinyin)
                     + 0.2 * fuzz.ratio(forms.pinyin, row.pinyin))
            offer(row.customer_id, _Reason(SIMILAR, score, _field(row) + " (sounds alike)",
                                           row.text))


def _offer_similar(offer: Any, row: Any, text: str, forms: NameForms) -> None:
    score = max(fuzz.ratio(text, row.normalised), fuzz.ratio(forms.core, row.core))
    if score >= SIMILARITY_CUTOFF:
        offer(row.customer_id, _Reason(SIMILAR, score, _field(row), row.text))


def _settled(found: dict[int, _Reason], rank: int, limit: int) -> bool:
    """Whether ``limit`` customers already match at ``rank`` or better: lower ranks
    could not enter the answer, so their lookups are skipped."""
    return sum(1 for reason in found.values() if reason.rank <= rank) >= limit


def _contains_probe(text: str, raw: str, forms: NameForms, trade: str) -> str:
    """What to look up in the trigram index for names containing ``text``.

    Every trigram costs a lookup, and those of region words and legal forms (有限公司)
    are in so many names that they narrow nothing: a whole name is looked up by its
    trade name (or core) and the three characters before it, a name with a legal form
    without it (if three characters remain). The caller checks the whole text.
    """
    at = text.find(forms.core) if forms.core else -1
    if at >= 0 and len(text) > len(forms.core) + 3:
        if trade and forms.core.startswith(trade) and at + len(trade) - max(at - 3, 0) >= 4:
            return text[max(at - 3, 0):at + len(trade)]  # the trade name narrows most
        if at + len(forms.core) - max(at - 3, 0) >= 3:
            return text[max(at - 3, 0):at + len(forms.core)]
    form = legal_form(raw)
    ending = form.text.replace(" ", "") if form is not None else ""
    if ending and text.endswith(ending) and len(text) - len(ending) >= 3:
        return text[:-len(ending)]
    return text


def _typo_patterns(normalised: str, core: str, trade_name: str) -> list[tuple[str, ...]]:
    """What one typo in the core leaves intact, as patterns for
    :meth:`NameIndex.containing_all`. A typo outside the core leaves the core whole,
    which is looked up apart.

    Chinese, a typo in the trade name (字号): up to three characters each side of it,
    in order but at any distance, so a wrong, an extra or a missing character all
    leave one such pair whole; six characters at least, the left side growing
    leftwards where needed. Sides stop at the end of the trade name: industry words
    (汽车零部件) and legal forms are in so many names that their trigrams narrow
    little and cost the most to look up. A typo after the trade name leaves the name
    whole up to its end, so one pattern (the trade name and what precedes it) covers
    every such typo.

    Latin (a core mostly of Latin letters): trigrams are common (tec, ing), so the
    core is cut into blocks of four characters and a pattern is every block but one:
    one typo spoils at most one block.
    """
    at = normalised.find(core)
    if at < 0 or not core:  # the core is not one piece of the name: take it alone
        normalised, at = core, 0
    if 2 * sum(ch.isascii() for ch in core) > len(core):  # mostly Latin
        size = max(4, -(-len(core) // MAX_BLOCKS))  # at most MAX_BLOCKS blocks
        blocks = [core[i:i + size] for i in range(0, len(core), size)]
        return [tuple(blocks[:k] + blocks[k + 1:]) for k in range(len(blocks))]
    end = at + len(core)
    trade_end = at + (len(trade_name) if trade_name and core.startswith(trade_name)
                      else len(core))
    if trade_end - max(at - 3, 0) < 4:  # no region and a short trade name: too common
        trade_end = end
    patterns = set()
    for j in range(at, trade_end):
        # Each side a trigram at least where the name allows (a shorter one narrows
        # nothing on PostgreSQL): the right side takes industry words if it must.
        after = normalised[j + 1:min(j + 4, trade_end)]
        if len(after) < 3:
            after = normalised[j + 1:min(j + 4, end)]
        start = max(min(j - 3, j + len(after) - 6), 0)
        if j - start + len(after) < 6:  # nothing more on the left: more on the right
            after = normalised[j + 1:min(j + 1 + 6 - (j - start), end)]
        before = normalised[start:j]
        # A left side with two trade-name characters narrows enough alone: the right
        # side, if it has none, would only add the cost of common trigrams (塑胶制).
        if j - max(start, at) >= 2 and j + 1 >= trade_end:
            after = ""
        patterns.add((before, after))
    if trade_end < end:
        patterns.add((normalised[max(at - 3, 0):trade_end], ""))
    return sorted(p for p in patterns if any(p))


def _current(row: Any, score: float) -> float:
    """Former names rank a little below current ones matching as well."""
    return score * 0.8 if row.kind == NameKind.FORMER.value else score


def _field(row: Any, via: str = "normalised") -> str:
    """Which name matched, and through which of its forms if not its text."""
    kind = str(_NAME_FIELDS.get(row.kind, row.kind))
    form = _FORM_WORDS.get(via)
    return f"{kind} ({form})" if form else kind


# -- statements, built once per shape: building them costs more than running them ----


@lru_cache(maxsize=64)
def _keys_statement(with_prefix: bool, want: int) -> Any:
    code_value = customer_code.c.value
    lookups: list[Any] = [
        select(customer_code.c.customer_id, code_value,
               customer_code.c.status.label("detail"), literal("code").label("source"))
        .where(code_value == bindparam("key"), customer_code.c.customer_id.is_not(None)),
        select(identifier.c.customer_id, identifier.c.value, identifier.c.scheme,
               literal("identifier"))
        .where(identifier.c.value.in_(bindparam("idents", expanding=True))),
        select(contact.c.customer_id, contact.c.blind, contact.c.kind, literal("contact"))
        .where(contact.c.blind.in_([bindparam("phone"), bindparam("email")])),
        select(xref.c.customer_id, xref.c.external_id, system.c.name, literal("xref"))
        .join(system, system.c.id == xref.c.system_id)
        .where(xref.c.external_id == bindparam("raw"), xref.c.valid_to.is_(None)),
        select(select(xref.c.customer_id, xref.c.external_name, system.c.name,
                      literal("xref name"))
               .join(system, system.c.id == xref.c.system_id)
               .where(*_starts_with(xref.c.external_normalised, "xname"),
                      xref.c.valid_to.is_(None)).limit(want).subquery()),
    ]
    if with_prefix:
        lookups.append(select(select(
            customer_code.c.customer_id, code_value, customer_code.c.status,
            literal("code prefix")).where(*_starts_with(code_value, "key"),
                                          customer_code.c.customer_id.is_not(None))
            .limit(want).subquery()))
    return union_all(*lookups)


@lru_cache(maxsize=64)
def _ranges_statement(latin: bool, want: int) -> Any:
    """Names whose forms start with the text (param ``text_lo``/``text_hi``), from the
    indexes alone: the name's id and the form that matched."""
    return union_all(*(select(select(customer_name.c.id, c.label("value"),
                                     literal(c.name).label("via"))
                              .where(*_starts_with(c, "text")).limit(want).subquery())
                       for c in (_LATIN_COLUMNS if latin else _TEXT_COLUMNS)))


_NAME_ROWS = select(customer_name.c.id, customer_name.c.customer_id, customer_name.c.kind,
                    customer_name.c.text).where(
    customer_name.c.id.in_(bindparam("ids", expanding=True)))


@lru_cache(maxsize=64)
def _btree_typo_statement(lookups: tuple[str, ...], want: int) -> Any:
    conditions = {
        "core": customer_name.c.core == bindparam("core"),
        "pinyin": and_(*_starts_with(customer_name.c.core_pinyin, "half")),
        "sound": or_(and_(*_starts_with(customer_name.c.core_pinyin, "sound")),
                     customer_name.c.pinyin == bindparam("pinyin")),
    }
    return union_all(*(select(
        select(customer_name, literal(lookup).label("lookup")).where(conditions[lookup])
        .limit(want).subquery()) for lookup in lookups))


def _starts_with(col: Any, name: str) -> list[Any]:
    """A range both databases answer from a btree index (LIKE may not use one); its
    bounds are the parameters ``{name}_lo`` and ``{name}_hi`` (see :func:`_range`)."""
    return [col >= bindparam(f"{name}_lo"), col < bindparam(f"{name}_hi")]


#: An empty range (lo = hi): a lookup that finds nothing, for a text that normalises to
#: nothing. (Not a NUL character: PostgreSQL refuses those in text.)
_NOTHING = {"xname_lo": "", "xname_hi": ""}


def _range(name: str, prefix: str) -> dict[str, str]:
    return {f"{name}_lo": prefix, f"{name}_hi": prefix + "\U0010ffff"}
