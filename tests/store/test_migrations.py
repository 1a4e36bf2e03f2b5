"""The Alembic migrations build exactly the schema the code declares."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from custmdm.store import schema
from custmdm.store.database import Store
from custmdm.store.search import is_search_structure
from custmdm.store.tables import metadata


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
