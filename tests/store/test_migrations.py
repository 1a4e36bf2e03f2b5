"""The Alembic migrations build exactly the schema the code declares."""

from __future__ import annotations

from datetime import datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import DBAPIError

from custmdm import open_register
from custmdm.domain.names import forms_of
from custmdm.store import schema
from custmdm.store.database import Store
from custmdm.store.search import is_search_structure
from custmdm.store.tables import customer_name, metadata


def test_models_and_migrations_agree(db_url: str) -> None:
    store = Store(db_url)
    schema.upgrade(store)
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={
            "compare_type": True,
            # The dialect-specific search structures are not modelled (store/search.py).
            "include_name": lambda name, *_: not is_search_structure(name or ""),
        })
        differences = compare_metadata(context, metadata)
    store.dispose()
    assert differences == [], f"models and migrations disagree: {differences}"


def test_upgrade_is_repeatable_and_reaches_head(db_url: str) -> None:
    store = Store(db_url)
    schema.upgrade(store)
    schema.upgrade(store)
    assert schema.current_revision(store) == schema.head_revision()
    with store.engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
    store.dispose()
    assert {"customer", "customer_code", "coding_rule", "code_counter", "identifier",
            "audit_entry"} <= tables


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = Store(f"sqlite:///{tmp_path / 'x.db'}")
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    store.dispose()


def test_upgrading_fills_the_pinyin_of_names_written_before(db_url: str) -> None:
    """0007 backfills the core's pinyin of existing names and moves the trigram index
    to the Chinese forms; names written before it are found after it."""
    register = open_register(db_url, actor="tester")
    schema.upgrade(register.store, "0006")
    with register.store.write() as conn:
        conn.execute(text("INSERT INTO customer (kind, legal_name, country, lifecycle, "
                          "version, created_at, updated_at) VALUES ('enterprise', "
                          "'深圳市华盛电子科技有限公司', 'CN', 'active', 1, :t, :t)"),
                     {"t": datetime(2026, 1, 1)})
        forms = forms_of("深圳市华盛电子科技有限公司")
        conn.execute(text("INSERT INTO customer_name (customer_id, kind, text, normalised, "
                          "core, pinyin, initials, source, created_at) VALUES (1, 'legal', "
                          "'深圳市华盛电子科技有限公司', :n, :c, :p, :i, 'registration', :t)"),
                     {"n": forms.normalised, "c": forms.core, "p": forms.pinyin,
                      "i": forms.initials, "t": datetime(2026, 1, 1)})
    register.init()
    with register.store.read() as conn:
        stored = conn.execute(select(customer_name.c.core_pinyin,
                                     customer_name.c.core_initials)).one()
        assert tuple(stored) == ("huashengdianzikeji", "hsdzkj")
        assert [r.customer_id for r in register.ctx.name_index.containing(
            conn, "电子科技", 10)] == [1]
    register.close()


def test_upgrading_makes_external_names_searchable(db_url: str) -> None:
    """0008 backfills the normalised external name of mappings made before it."""
    register = open_register(db_url, actor="tester")
    schema.upgrade(register.store, "0007")
    t = datetime(2026, 1, 1)
    with register.store.write() as conn:
        conn.execute(text("INSERT INTO customer (kind, legal_name, country, lifecycle, "
                          "version, created_at, updated_at) VALUES ('enterprise', "
                          "'深圳市华盛电子科技有限公司', 'CN', 'active', 1, :t, :t)"), {"t": t})
        conn.execute(text("INSERT INTO system (name, created_at) VALUES ('ERP', :t)"),
                     {"t": t})
        conn.execute(text("INSERT INTO xref (system_id, external_id, external_name, "
                          "customer_id, created_at) VALUES (1, 'K-1', '華盛 深圳', 1, :t)"),
                     {"t": t})
    register.init()
    with register.store.read() as conn:
        assert conn.execute(text("SELECT external_normalised FROM xref")).scalar() == "华盛深圳"
    register.close()


def test_upgrading_chains_the_audit_entries_written_before(db_url: str) -> None:
    """Migration 0013 gives entries written before it their place in the chain, in the
    order they were written, and only then makes the table append-only."""
    store = Store(db_url)
    schema.upgrade(store, "0012")
    details = ['{"legal_name": "深圳市华盛电子科技有限公司", "n": 1}', '{"codes": ["C1", "C2"]}',
               '{}']
    with store.engine.begin() as conn:
        for n, detail in enumerate(details):
            conn.execute(text(
                "INSERT INTO audit_entry (at, actor, action, entity, entity_id, detail) "
                "VALUES (:at, 'old-actor', 'customer.register', 'customer', :id, :detail)"),
                {"at": datetime(2026, 3, 1, 8, 0, 0, 123456 + n), "id": str(n + 1),
                 "detail": detail})
    schema.upgrade(store)
    reg = open_register(db_url, actor="tester")
    reg.init()  # the first user
    try:
        report = reg.verify_audit()
        assert report.intact, report.problem
        assert (report.entries, report.last_seq) == (4, 4)  # and the first user's
        assert [e.entity_id for e in reversed(reg.audit_log())] == ["1", "2", "3", "tester"]
        with pytest.raises(DBAPIError, match="append-only"), reg.store.write() as conn:
            conn.execute(text("DELETE FROM audit_entry"))
        reg.add_rule("all", "C{seq:6}{check:mod37-2}")  # appends after the old entries
        assert reg.verify_audit().last_seq == 5 and reg.verify_audit().intact
    finally:
        reg.close()
        store.dispose()
