"""The store's hot path and bulk inserts (both databases where they differ)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from custmdm.register import Register
from custmdm.store.tables import code_counter


def backend_pid(_store: object) -> object:
    return select(func.pg_backend_pid())


def test_the_hot_path_reconnects_after_the_server_ends_its_session(reg: Register) -> None:
    store = reg.store
    if store.is_sqlite:
        pytest.skip("SQLite has no server session")
    pid = store.run_alone("test:pid", backend_pid, {})
    assert pid is not None
    with store.autocommit() as conn:
        assert conn.execute(select(func.pg_terminate_backend(pid[0]))).scalar()
    with pytest.raises(DBAPIError):
        store.run_alone("test:pid", backend_pid, {})
    again = store.run_alone("test:pid", backend_pid, {})
    assert again is not None and again[0] != pid[0]


def test_a_threads_hot_path_session_ends_with_the_thread(reg: Register) -> None:
    """A server's worker threads come and go: each one's session must go with it."""
    import gc
    import threading

    store = reg.store
    if store.is_sqlite:
        pytest.skip("SQLite has no server session")
    seen: list[int] = []
    worker = threading.Thread(target=lambda: seen.append(
        store.run_alone("test:pid", backend_pid, {})[0]))  # type: ignore[index]
    worker.start()
    worker.join()
    gc.collect()
    with store.autocommit() as conn:
        alive = conn.execute(select(func.count()).select_from(text("pg_stat_activity"))
                             .where(text("pid = :pid")), {"pid": seen[0]}).scalar()
    assert seen and alive == 0


def test_hot_path_errors_are_sqlalchemy_errors_and_leave_nothing(reg: Register) -> None:
    def insert_counter(_store: object) -> object:
        return code_counter.insert().values(rule_name="r", scope_key="", next_value=0)

    with pytest.raises(IntegrityError):  # next_value >= 1 is a CHECK constraint
        reg.store.run_alone("test:bad-counter", insert_counter, {})
    with reg.store.read() as conn:
        assert conn.execute(select(func.count()).select_from(code_counter)).scalar() == 0


def test_insert_many_takes_constant_columns_and_json_text(reg: Register) -> None:
    from datetime import UTC, datetime

    from custmdm.store.tables import survivorship_rule as rule

    at = datetime(2026, 11, 23, 8, 30, tzinfo=UTC)
    with reg.store.write() as conn:
        reg.store.insert_many(conn, rule, ("field", "systems"),
                              [("phone", '["ERP", "CRM"]'), ("email", '["CRM"]')],
                              json_text=("systems",),
                              same={"rule": "trusted", "updated_at": at, "updated_by": "t"})
    with reg.store.read() as conn:
        rows = conn.execute(select(rule).order_by(rule.c.field)).all()
    # SQLite keeps timestamps without their zone (always UTC here).
    assert [(r.field, r.systems, r.rule, r.updated_at.replace(
        tzinfo=r.updated_at.tzinfo or UTC)) for r in rows] == [
        ("email", ["CRM"], "trusted", at), ("phone", ["ERP", "CRM"], "trusted", at)]
