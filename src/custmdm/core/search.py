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

from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz
from sqlalchemy import Connection, or_, select

from custmdm.core.context import Context
from custmdm.core.customers import CustomerRecord, load_records
from custmdm.domain.names import NameKind, forms_of, normalise
from custmdm.errors import ValidationError
from custmdm.store.tables import customer_code, customer_name, identifier, system, xref

#: How good a match is, best first.
EXACT_KEY, EXACT_NAME, PREFIX, CONTAINS, SIMILAR = range(5)
MATCH_WORDS = {EXACT_KEY: "exact", EXACT_NAME: "exact", PREFIX: "prefix",
               CONTAINS: "contains", SIMILAR: "similar"}
#: The least rapidfuzz ratio (0–100) for a similar name to count.
SIMILARITY_CUTOFF = 75
#: How many candidates each index lookup may return before ranking.
CANDIDATES = 200
MAX_LIMIT = 500

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
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationError(f"limit must be between 1 and {MAX_LIMIT}, not {limit}")
    text = normalise(raw)
    key = "".join(raw.split()).upper()
    best: dict[int, _Reason] = {}

    def offer(customer_id: int, reason: _Reason) -> None:
        known = best.get(customer_id)
        if known is None or (reason.rank, -reason.score) < (known.rank, -known.score):
            best[customer_id] = reason

    with ctx.store.read() as conn:
        _keys(conn, raw, key, offer)
        if text:
            _names(ctx, conn, text, offer, best)
        ranked = sorted(best.items(), key=lambda item: (item[1].rank, -item[1].score,
                                                        item[0]))[:limit]
        records = {r.id: r for r in load_records(conn, [cid for cid, _ in ranked])}
    return [SearchHit(records[cid], reason.field, reason.matched, MATCH_WORDS[reason.rank],
                      reason.score) for cid, reason in ranked if cid in records]


def _keys(conn: Connection, raw: str, key: str, offer: Any) -> None:
    """Codes, identifiers and external ids: exact, or codes starting with the text."""
    row: Any
    for row in conn.execute(select(customer_code.c.customer_id, customer_code.c.value,
                                   customer_code.c.status)
                            .where(customer_code.c.value == key,
                                   customer_code.c.customer_id.is_not(None))):
        field = "code" if row.status in ("active", "retired") else f"{row.status} code"
        offer(row.customer_id, _Reason(EXACT_KEY, 100, field, row.value))
    for row in conn.execute(select(identifier.c.customer_id, identifier.c.scheme,
                                   identifier.c.value)
                            .where(identifier.c.value == key.replace("-", ""))):
        offer(row.customer_id, _Reason(EXACT_KEY, 100, f"identifier {row.scheme}", row.value))
    for row in conn.execute(select(xref.c.customer_id, xref.c.external_id, system.c.name)
                            .join(system, system.c.id == xref.c.system_id)
                            .where(xref.c.external_id == raw, xref.c.valid_to.is_(None))):
        offer(row.customer_id, _Reason(EXACT_KEY, 100, f"{row.name} id", row.external_id))
    if len(key) >= 2 and key.isascii() and key.isalnum():
        for row in conn.execute(select(customer_code.c.customer_id, customer_code.c.value)
                                .where(*_starts_with(customer_code.c.value, key),
                                       customer_code.c.customer_id.is_not(None))
                                .limit(CANDIDATES)):
            offer(row.customer_id, _Reason(PREFIX, 100 - len(row.value), "code", row.value))


def _names(
    ctx: Context, conn: Connection, text: str, offer: Any, found: dict[int, _Reason]
) -> None:
    columns = [customer_name.c.normalised, customer_name.c.core]
    if text.isascii() and text.isalpha():
        columns += [customer_name.c.pinyin, customer_name.c.initials]
    exact = conn.execute(select(customer_name).where(or_(*(c == text for c in columns)))
                         .limit(CANDIDATES)).all()
    for row in exact:
        offer(row.customer_id, _Reason(EXACT_NAME, _current(row, 100), _field(row), row.text))
    for col in columns:
        for row in conn.execute(select(customer_name).where(*_starts_with(col, text))
                                .limit(CANDIDATES)):
            share = 100 * len(text) / max(len(row.normalised), 1)
            offer(row.customer_id, _Reason(PREFIX, _current(row, share), _field(row), row.text))
    index = ctx.name_index
    for row in index.containing(conn, text, CANDIDATES):
        offer(row.customer_id, _Reason(CONTAINS, fuzz.partial_ratio(text, row.normalised),
                                       _field(row), row.text))
    if any(r.rank <= EXACT_NAME for r in found.values()):
        return  # an exact code, key or name: no typo to forgive, skip the costliest lookups
    forms = forms_of(text)  # one structural parse gives the core and the pinyin
    query_core = forms.core
    latin = text.isascii() and text.isalpha()
    sound = text if latin else forms.pinyin
    if len(query_core) >= 3 or latin:
        for row in index.similar(conn, text, query_core, sound if latin else None,
                                 CANDIDATES):
            score = max(fuzz.ratio(text, row.normalised), fuzz.ratio(query_core, row.core),
                        fuzz.ratio(text, row.pinyin))
            if score >= SIMILARITY_CUTOFF:
                offer(row.customer_id, _Reason(SIMILAR, score, _field(row), row.text))
    if not latin and len(sound) >= 3:
        # Characters that sound alike (腾迅 for 腾讯) are the commonest Chinese typo,
        # and they leave no trigram of a short name intact: compare the sounds.
        for row in index.containing(conn, sound, CANDIDATES):
            if sound in row.pinyin:
                # Contains the sound (partial 100); the closer the whole, the better.
                score = 0.45 * (fuzz.partial_ratio(sound, row.pinyin)
                                + fuzz.ratio(sound, row.pinyin))
                offer(row.customer_id, _Reason(SIMILAR, score, _field(row) + " (sounds alike)",
                                               row.text))


def _current(row: Any, score: float) -> float:
    """Former names rank a little below current ones matching as well."""
    return score * 0.8 if row.kind == NameKind.FORMER.value else score


def _starts_with(col: Any, prefix: str) -> list[Any]:
    """A range both databases answer from a btree index (LIKE may not use one)."""
    return [col >= prefix, col < prefix + "\U0010ffff"]


def _field(row: Any) -> str:
    return str(_NAME_FIELDS.get(row.kind, row.kind))
