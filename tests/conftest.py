"""Shared fixtures: every storage test runs on SQLite and on PostgreSQL.

PostgreSQL comes from ``$CUSTMDM_TEST_PG_URL`` (``make test`` starts a throwaway
server and sets it). Each test gets a schema of its own there, dropped afterwards.
Without the variable PostgreSQL tests are skipped, unless ``$CUSTMDM_REQUIRE_PG`` is
set (as in ``make test`` and CI), where a missing server is an error.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from custmdm import open_register
from custmdm.register import Register
from custmdm.store.database import normalise_url

PG_URL_ENV = "CUSTMDM_TEST_PG_URL"


@pytest.fixture(autouse=True, scope="session")
def key_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One keyring for the whole run (``custmdm init`` creates it), never the user's;
    child processes (CLI, crash tests) inherit it."""
    path = tmp_path_factory.mktemp("keys") / "keys.json"
    saved = {name: os.environ.pop(name, None) for name in ("CUSTMDM_KEY_FILE", "CUSTMDM_KEYS")}
    os.environ["CUSTMDM_KEY_FILE"] = str(path)
    try:
        yield path
    finally:
        os.environ.pop("CUSTMDM_KEY_FILE", None)
        for name, value in saved.items():
            if value is not None:
                os.environ[name] = value


def pg_base_url() -> str | None:
    url = os.environ.get(PG_URL_ENV)
    if not url and os.environ.get("CUSTMDM_REQUIRE_PG"):
        pytest.fail(f"{PG_URL_ENV} is not set but PostgreSQL tests are required")
    return normalise_url(url) if url else None


@pytest.fixture(scope="session")
def pg_extensions() -> None:
    """pg_trgm in a schema of its own, so that no test's schema owns it: dropping that
    schema (or restoring a backup of it) would drop it under every other test."""
    base = pg_base_url()
    if base is None:
        return
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("CREATE SCHEMA IF NOT EXISTS custmdm_ext"))
        where = conn.execute(text("SELECT n.nspname FROM pg_extension e JOIN pg_namespace n "
                                  "ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'")
                             ).scalar()
        if where is None:
            conn.execute(text("CREATE EXTENSION pg_trgm SCHEMA custmdm_ext"))
        elif where != "custmdm_ext":
            conn.execute(text("ALTER EXTENSION pg_trgm SET SCHEMA custmdm_ext"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, pg_extensions: None
           ) -> Iterator[str]:
    """A fresh, empty database URL on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'register.db'}"
        return
    base = pg_base_url()
    if base is None:
        pytest.skip(f"PostgreSQL tests need {PG_URL_ENV}")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
def reg(db_url: str) -> Iterator[Register]:
    """An initialised, empty register on each backend."""
    register = open_register(db_url, actor="tester")
    register.init()
    try:
        yield register
    finally:
        register.close()


class FrozenClock:
    """A clock the test can move."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


@pytest.fixture
def clock(reg: Register) -> FrozenClock:
    """Freeze the register's clock at 2026-03-15 12:00 UTC."""
    frozen = FrozenClock(datetime(2026, 3, 15, 12, 0, tzinfo=UTC))
    reg.ctx.now = frozen
    return frozen


@pytest.fixture
def unchecked(reg: Register) -> Register:
    """``reg`` with the duplicate check turned off, as a steward can: for tests about
    something else that register look-alike customers on purpose."""
    for rule in reg.match_rules():
        reg.set_match_rule(rule.kind, rule.action, None)
    return reg
