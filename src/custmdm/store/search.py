"""Trigram search over customer names: the only place the two databases differ in it.

SQLite: an FTS5 table with the trigram tokenizer over ``customer_name`` (normalised,
pinyin, initials), kept in step by triggers in the writing transaction. PostgreSQL:
pg_trgm GIN indexes on the same columns. Both answer two questions with an index:
which names contain a text (three characters or more), and which names share enough
trigrams with a text to be worth scoring as a typo (candidates only; the caller ranks
them with rapidfuzz). Migration 0005 creates the structures.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, column, func, or_, select, text, union

from custmdm.store.database import Store
from custmdm.store.tables import customer_name

#: Columns covered by the trigram index.
SEARCHED = ("normalised", "core", "pinyin", "initials")


def trigram_schema(conn: Connection) -> str:
    """The schema pg_trgm is installed in: its operators are named with it, so they are
    found whatever the connection's search path."""
    found = conn.execute(text(
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
        "WHERE e.extname = 'pg_trgm'")).scalar()
    if found is None:
        raise RuntimeError("pg_trgm is not installed: run `custmdm init` to upgrade the schema")
    return str(found)


def is_search_structure(name: str) -> bool:
    """Database objects that belong to search and are not modelled in store/tables.py."""
    return name.startswith(("customer_name_fts", "trgm_customer_name_"))


class NameIndex:
    """Substring and similarity lookups on customer names, by index."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._schema: str | None = None

    def containing(self, conn: Connection, fragment: str, limit: int) -> list[Any]:
        """Names (rows of customer_name) whose searched columns contain ``fragment``,
        which must be at least three characters long (one trigram)."""
        if len(fragment) < 3:
            return []
        if self.store.is_sqlite:
            ids: Any = select(column("rowid")).select_from(text("customer_name_fts")).where(
                text("customer_name_fts MATCH :phrase")).limit(limit)
            return list(conn.execute(
                select(customer_name).where(customer_name.c.id.in_(ids)),
                {"phrase": _phrase(fragment)}))
        pattern = "%" + _escape_like(fragment) + "%"
        matches = union(*(
            select(customer_name.c.id).where(customer_name.c[c].like(pattern, escape="\\"))
            for c in SEARCHED)).subquery()
        return list(conn.execute(
            select(customer_name).where(customer_name.c.id.in_(
                select(matches.c.id).limit(limit)))))

    def similar(
        self, conn: Connection, normalised: str, core: str, pinyin: str | None, limit: int
    ) -> list[Any]:
        """Names whose core (trade name + industry) or pinyin shares trigrams with the
        query's, most alike first where the database can tell; candidates for scoring,
        not an answer. Cores, not whole names: region words and legal forms are shared
        by millions of names and would make every name a candidate. When a typo spoils
        the start of a short core, its end (电子科技) is common: the start of the whole
        name (its region) narrows it."""
        if self.store.is_sqlite:
            parts = []
            if len(core) >= 3:
                parts.append(f"core : ({_either_end(trigrams(core))})")
                grams = trigrams(core)
                if len(normalised) > len(core) + 2 and len(grams) >= 2:
                    parts.append(f"(normalised : {_phrase(normalised[:3])}) AND "
                                 f"(core : ({_phrase(grams[-2])} AND {_phrase(grams[-1])}))")
            if pinyin and len(pinyin) >= 3:
                parts.append(f"pinyin : ({_either_end(trigrams(pinyin))})")
            if not parts:
                return []
            ids: Any = select(column("rowid")).select_from(text("customer_name_fts")).where(
                text("customer_name_fts MATCH :expression")).order_by(text("rank")).limit(limit)
            return list(conn.execute(
                select(customer_name).where(customer_name.c.id.in_(ids)),
                {"expression": " OR ".join(parts)}))
        if self._schema is None:
            self._schema = trigram_schema(conn)
        similar_to = f'OPERATOR("{self._schema}".%)'
        similarity = getattr(func, self._schema).similarity
        q: Any = bindparam("core", core)
        whole: Any = bindparam("normalised", normalised)
        alike = [customer_name.c.core.op(similar_to)(q),
                 customer_name.c.normalised.op(similar_to)(whole)]
        closeness: Any = func.greatest(similarity(customer_name.c.core, q),
                                       similarity(customer_name.c.normalised, whole))
        if pinyin:
            p: Any = bindparam("pinyin", pinyin)
            alike.append(customer_name.c.pinyin.op(similar_to)(p))
            closeness = func.greatest(closeness, similarity(customer_name.c.pinyin, p))
        best = (select(customer_name.c.id).where(or_(*alike))
                .order_by(closeness.desc()).limit(limit)).subquery()
        return list(conn.execute(select(customer_name).where(
            customer_name.c.id.in_(select(best.c.id)))))


def trigrams(text_: str) -> list[str]:
    """The overlapping three-character pieces of a text, in order."""
    return [text_[i:i + 3] for i in range(len(text_) - 2)]


def _phrase(fragment: str) -> str:
    return '"' + fragment.replace('"', '""') + '"'


def _either_end(grams: Sequence[str]) -> str:
    """An FTS5 expression for names sharing the first two or the last two trigrams of
    the query (or any trigram, for short queries): a single typo leaves one end
    intact, and AND keeps the posting lists short even for common trigrams."""
    if len(grams) < 5:
        return " OR ".join(_phrase(g) for g in grams)
    head = f"({_phrase(grams[0])} AND {_phrase(grams[1])})"
    tail = f"({_phrase(grams[-2])} AND {_phrase(grams[-1])})"
    middle = len(grams) // 2
    centre = f"({_phrase(grams[middle - 1])} AND {_phrase(grams[middle])})"
    return f"{head} OR {tail} OR {centre}"


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
