"""Trigram search over customer names: the only place the two databases differ in it.

SQLite: an FTS5 table with the trigram tokenizer over ``customer_name.normalised``,
kept in step by triggers in the writing transaction. PostgreSQL: a pg_trgm GIN index
on the same column. Both answer one question with the index: which names contain all
the pieces of one of several patterns (a text; or what a typo leaves intact around
it). They return candidates; the caller ranks them with rapidfuzz.
Migrations 0005 and 0007 create the structures.

Only the normalised name is indexed. Its core (trade name + industry) is part of it,
and the pinyin columns are left out on purpose: latin trigrams are so common (eng, ong,
you…) that finding a pinyin fragment among a million names took 100–500 ms. Pinyin is
searched exactly or by prefix with ordinary indexes instead (core.search).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, bindparam, column, func, or_, select, text

from custmdm.store.database import Store
from custmdm.store.tables import customer_name


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


def purge_deleted_names(conn: Connection) -> None:
    """Make names just deleted or overwritten leave the search index for good (an
    erasure). SQLite's FTS5 only marks them deleted in a newer segment (its
    secure-delete option needs SQLite 3.42) until segments merge: merge them all now,
    about 2 s for 1.5 million names. PostgreSQL keeps dead index entries until VACUUM,
    which the server runs itself; they are never in a dump or a backup."""
    if conn.dialect.name == "sqlite":
        conn.execute(text("INSERT INTO customer_name_fts(customer_name_fts) "
                          "VALUES ('optimize')"))


class NameIndex:
    """Substring lookups on normalised customer names, by trigram index."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def containing(
        self, conn: Connection, fragment: str, limit: int, probe: str | None = None
    ) -> list[Any]:
        """Names (rows of customer_name) whose normalised text contains ``fragment``.

        The index is asked for ``probe`` (a part of the fragment; the whole by default),
        which must be at least three characters long (one trigram): a part without the
        words most names share (有限公司) costs far less to look up. The rest of the
        fragment is checked before the limit, on at most ``PROBED`` candidates per row
        asked for on SQLite."""
        probe = probe or fragment
        if len(probe) < 3 or probe not in fragment:
            return []
        params = {"probe": probe, "fragment": fragment}
        if self.store.is_sqlite:
            params["expression"] = _phrase(probe)
            return list(conn.execute(_fts_containing(limit), params))
        params["like"] = f"%{_escape_like(probe)}%"
        return list(conn.execute(_like_containing(limit), params))

    def containing_all(
        self, conn: Connection, patterns: Sequence[Sequence[str]], limit: int
    ) -> list[Any]:
        """Names whose normalised text contains every piece of one of ``patterns``:
        on PostgreSQL in the order given, on SQLite in any order. Candidates, such as
        what a typo leaves intact around it; the caller scores them. Pieces come
        normalised (LIKE wildcards are escaped all the same). On SQLite a piece shorter than a
        trigram cannot be looked up and is left out."""
        if self.store.is_sqlite:
            terms = []
            for pieces in patterns:
                phrases = [_phrase(piece) for piece in pieces if len(piece) >= 3]
                if phrases:
                    terms.append("(" + " AND ".join(phrases) + ")")
            if not terms:
                return []
            return list(conn.execute(_fts_statement(limit),
                                     {"expression": " OR ".join(terms)}))
        likes = ["%" + "%".join(_escape_like(p) for p in pieces if p) + "%" for pieces in patterns
                 if max(map(len, pieces), default=0) >= 3]
        if not likes:
            return []
        return list(conn.execute(_like_statement(len(likes), limit),
                                 {f"like_{i}": like for i, like in enumerate(likes)}))


# Built once per shape: building a statement costs about as much as running it.

#: Candidates read per row asked for when a probe stands for a longer fragment.
PROBED = 10


@lru_cache(maxsize=64)
def _fts_containing(limit: int) -> Any:
    ids: Any = select(column("rowid")).select_from(text("customer_name_fts")).where(
        text("customer_name_fts MATCH :expression")).limit(limit * PROBED)
    return select(customer_name).where(
        customer_name.c.id.in_(ids),
        func.instr(customer_name.c.normalised, bindparam("fragment")) > 0).limit(limit)


@lru_cache(maxsize=64)
def _like_containing(limit: int) -> Any:
    return select(customer_name).where(
        customer_name.c.normalised.like(bindparam("like"), escape="\\"),
        func.strpos(customer_name.c.normalised, bindparam("fragment")) > 0).limit(limit)


@lru_cache(maxsize=64)
def _fts_statement(limit: int) -> Any:
    ids: Any = select(column("rowid")).select_from(text("customer_name_fts")).where(
        text("customer_name_fts MATCH :expression")).limit(limit)
    return select(customer_name).where(customer_name.c.id.in_(ids))


@lru_cache(maxsize=256)
def _like_statement(patterns: int, limit: int) -> Any:
    return select(customer_name).where(or_(*(
        customer_name.c.normalised.like(bindparam(f"like_{i}"), escape="\\")
        for i in range(patterns)
    ))).limit(limit)


def _escape_like(value: str) -> str:
    """Normalised text holds no wildcard today; escaping keeps it so if that changes."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _phrase(fragment: str) -> str:
    return '"' + fragment.replace('"', '""') + '"'
