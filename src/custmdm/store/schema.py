"""Creating and upgrading the schema with Alembic, from inside the package."""

from __future__ import annotations

from importlib.resources import files

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from custmdm.store.database import Store


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config pointing at our migrations; no alembic.ini needed."""
    config = Config()
    config.set_main_option("script_location", str(files("custmdm.store") / "migrations"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(store: Store, revision: str = "head") -> None:
    """Bring the database to ``revision`` (creating it if empty). Safe to repeat.

    Migrations that protect existing data (0013 chains the audit entries) use the
    store's keyring."""
    with store.engine.begin() as conn:
        config = alembic_config(conn)
        config.attributes["keyring"] = lambda: store.keyring  # loaded only if needed
        command.upgrade(config, revision)


def current_revision(store: Store) -> str | None:
    """The revision the database is at, or None when it was never initialised."""
    with store.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    """The newest revision the installed package knows."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
