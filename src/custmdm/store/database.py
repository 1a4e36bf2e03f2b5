"""Connecting to the register's database: SQLite (embedded default) or PostgreSQL.

Every difference between the two lives in this module, so the core stays one code path:
how a write transaction starts, how "insert unless present" is spelled, and whether a
gap-allowed counter may be taken in a transaction of its own.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
from sqlalchemy import (
    Connection,
    Engine,
    Executable,
    Table,
    Text,
    bindparam,
    cast,
    create_engine,
    event,
    func,
    insert,
    inspect,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import psycopg as psycopg_dialect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError

from custmdm.errors import ConfigurationError, ValidationError
from custmdm.security.fields import SensitiveFields
from custmdm.security.keys import Key, Keyring

if TYPE_CHECKING:
    from custmdm.store.audit import PendingEntry

DEFAULT_DATABASE_ENV = "CUSTMDM_DATABASE_URL"
#: PostgreSQL advisory lock key taken while coding rules change ("CMDMRULE").
RULE_CHANGES_LOCK = 0x434D444D52554C45

#: PostgreSQL advisory lock key taken while users or grants change ("CMDMUSER").
USER_CHANGES_LOCK = 0x434D444D55534552

#: PostgreSQL advisory lock key taken while clusters are queued for review ("CMDMQUEU").
REVIEW_QUEUE_LOCK = 0x434D444D51554555

#: Where a write transaction's queued audit entries wait (Connection.info).
_PENDING_AUDIT = "custmdm_pending_audit"

#: How long a SQLite writer waits for the lock before giving up (milliseconds).
SQLITE_BUSY_TIMEOUT_MS = 60_000
#: Seconds between looks at the key file for keys another process rotated in.
KEY_FILE_TTL = 5.0


def default_database_url() -> str:
    """``$CUSTMDM_DATABASE_URL``, else a SQLite file in the user's data directory."""
    url = os.environ.get(DEFAULT_DATABASE_ENV)
    if url:
        return url
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return f"sqlite:///{base / 'custmdm' / 'register.db'}"


def normalise_url(url: str) -> str:
    """Accept the spellings people type and pick our drivers (psycopg 3 for PostgreSQL).

    >>> normalise_url("postgresql://u@localhost/db")
    'postgresql+psycopg://u@localhost/db'
    >>> normalise_url("register.db")
    'sqlite:///register.db'
    """
    if "://" not in url:
        return f"sqlite:///{url}"
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


class Store:
    """A connection pool to one register database, with its dialect's habits."""

    def __init__(self, url: str | None = None) -> None:
        self.url = normalise_url(url or default_database_url())
        self._statements: dict[str, Any] = {}
        self._sqlite_inserts: dict[tuple[str, tuple[str, ...]], Any] = {}
        parsed = make_url(self.url)
        self.dialect = parsed.get_backend_name()
        if self.dialect not in ("sqlite", "postgresql"):
            raise ValidationError(
                f"unsupported database {self.dialect!r}: use sqlite:///FILE or "
                "postgresql://USER@HOST/DB"
            )
        self._autocommit_engine: Engine | None = None
        self._keyring: Keyring | None = None
        self._fields: SensitiveFields | None = None
        self._fields_at = 0.0
        self._audit_key: Key | None = None
        self._hot = _HotPath()
        self._sqlite_path = parsed.database
        if self.dialect == "sqlite":
            self.engine = self._sqlite_engine_for(parsed.database)
        else:
            # No pre-ping: it would cost a round trip per transaction; a dropped
            # connection fails its transaction, which is then safe to retry.
            self.engine = create_engine(self.url, pool_size=10, max_overflow=20)

    # -- dialect habits ------------------------------------------------------------

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @property
    def sqlite_path(self) -> Path:
        """SQLite: the database file."""
        if not self.is_sqlite or not self._sqlite_path or self._sqlite_path == ":memory:":
            raise ValidationError("this register is not a SQLite file")
        return Path(self._sqlite_path).expanduser()

    @property
    def reserves_separately(self) -> bool:
        """Whether gap-allowed codes are reserved in a short transaction of their own.

        On PostgreSQL this keeps the counter row locked only for that short transaction.
        SQLite serialises all writers anyway, so there it would only add a commit.
        """
        return not self.is_sqlite

    def statement(self, key: str, build: Callable[[Store], Executable]) -> Executable:
        """A statement built once per store and reused: building SQLAlchemy constructs
        costs more CPU than running them on a hot path."""
        found = self._statements.get(key)
        if found is None:
            found = self._statements[key] = build(self)
        return found

    def execute_scalar(
        self, conn: Connection, key: str, build: Callable[[Store], Executable],
        params: dict[str, Any],
    ) -> Any:
        """Run a statement built once per store; the first column of its first row."""
        return conn.execute(self.statement(key, build), params).scalar()

    def run_alone(
        self, key: str, build: Callable[[Store], Executable], params: dict[str, Any]
    ) -> tuple[Any, ...] | None:
        """Run a statement built once as a transaction of its own; its first row.

        This is the hot path of single registrations. On PostgreSQL the statement is
        compiled once to native ``$n`` placeholders and runs as a server-side prepared
        statement on a psycopg connection kept for it (one per thread), which skips
        SQLAlchemy's per-call work: about a fifth of a registration's client CPU.
        Errors are raised as SQLAlchemy's (``IntegrityError`` …), as on other paths.
        """
        if self.is_sqlite:
            with self.autocommit() as conn:
                row = conn.execute(self.statement(key, build), params).first()
            return None if row is None else tuple(row)
        return self._hot.run(self, key, build, params)

    def lock_rule_changes(self, conn: Connection) -> None:
        """Serialise coding-rule changes until this transaction ends.

        SQLite: BEGIN IMMEDIATE already holds the only write lock. PostgreSQL: a
        transaction-scoped advisory lock, so two overlapping rules saved at the same
        moment cannot both pass the overlap check.
        """
        self._lock_until_commit(conn, RULE_CHANGES_LOCK)

    def lock_user_changes(self, conn: Connection) -> None:
        """Serialise changes to users and grants until this transaction ends, so that
        checks over all of them (one administrator must remain) see every other change.

        SQLite: BEGIN IMMEDIATE already holds the only write lock. PostgreSQL: a
        transaction-scoped advisory lock.
        """
        self._lock_until_commit(conn, USER_CHANGES_LOCK)

    def lock_review_queue(self, conn: Connection) -> None:
        """Serialise queueing clusters for review until this transaction ends, so two
        batch runs at once (a client retrying a slow POST /dedup-runs) do not both
        queue the same cluster. SQLite: BEGIN IMMEDIATE already holds the only write
        lock. PostgreSQL: a transaction-scoped advisory lock."""
        self._lock_until_commit(conn, REVIEW_QUEUE_LOCK)

    def _lock_until_commit(self, conn: Connection, key: int) -> None:
        # SQLite's BEGIN IMMEDIATE already holds the only write lock.
        if not self.is_sqlite:
            conn.execute(select(func.pg_advisory_xact_lock(key)))

    def dialect_insert(self, table: Table) -> sqlite.Insert | postgresql.Insert:
        """This dialect's INSERT, which can say ``ON CONFLICT … DO UPDATE``."""
        if self.is_sqlite:
            return sqlite.insert(table)
        return postgresql.insert(table)

    def serial_sequence(self, table: Table) -> str:
        """PostgreSQL: the schema-qualified name of the sequence behind ``table.id``."""
        with self.autocommit() as conn:
            name = conn.execute(select(func.pg_get_serial_sequence(table.name, "id"))).scalar()
        if not name:
            raise AssertionError(f"{table.name}.id has no sequence")
        return str(name).replace("'", "''")

    def reserve_ids(self, conn: Connection, table: Table, count: int) -> list[int]:
        """``count`` new primary-key values for ``table``, so that bulk inserts need no
        RETURNING (which SQLite can only honour row by row).

        SQLite: the caller holds the write lock (BEGIN IMMEDIATE), so max(id)+1 … is
        ours. PostgreSQL: values drawn from the column's own sequence in one query.
        """
        if count <= 0:
            return []
        if self.is_sqlite:
            top = conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()
            return list(range(int(top) + 1, int(top) + 1 + count))
        sequence = func.pg_get_serial_sequence(table.name, "id")
        rows = conn.execute(
            select(func.nextval(sequence)).select_from(func.generate_series(1, count))
        )
        return [int(v) for v in rows.scalars()]

    def insert_many(
        self, conn: Connection, table: Table, columns: Sequence[str],
        rows: Iterable[Sequence[Any]], json_text: Sequence[str] = (),
        same: Mapping[str, Any] | None = None,
    ) -> None:
        """Insert rows given as value tuples in ``columns`` order, as fast as the driver
        allows. ``same`` gives columns that have one value in every row (a batch's
        timestamp); columns named in ``json_text`` are JSON columns given as JSON text.

        PostgreSQL: SQLAlchemy's own "insertmanyvalues" batching. SQLite: SQLAlchemy's
        per-row parameter handling costs more than SQLite's own work (about 20 µs
        against 9 µs a row), so the statement is compiled once, values go through the
        same SQLAlchemy type processors (those in ``same`` once), and the driver's
        executemany runs it.
        """
        batch = rows if isinstance(rows, list) else list(rows)
        if not batch:
            return
        same = same or {}
        if not self.is_sqlite:
            statement = self.statement(
                f"insert:{table.name}:{','.join(json_text)}",
                lambda _: insert(table).values(
                    {c: cast(bindparam(c, type_=Text), table.c[c].type) for c in json_text}))
            params = [{**dict(zip(columns, row, strict=True)), **same} for row in batch]
            conn.execute(statement, params[0] if len(params) == 1 else params)
            return
        sql, processors = self._sqlite_insert(table, (*columns, *same))
        converters = [(i, _memoised(p)) for i, p in enumerate(processors[:len(columns)])
                      if p is not None and columns[i] not in json_text]
        if converters:
            converted = []
            for row in batch:
                values = list(row)
                for i, convert in converters:
                    values[i] = convert(values[i])
                converted.append(tuple(values))
            batch = converted
        if same:
            fixed = tuple(value if process is None else process(value)
                          for value, process in zip(same.values(), processors[len(columns):],
                                                    strict=True))
            batch = [tuple(row) + fixed for row in batch]
        conn.exec_driver_sql(sql, batch)

    def _sqlite_insert(
        self, table: Table, columns: tuple[str, ...]
    ) -> tuple[str, list[Callable[[Any], Any] | None]]:
        key = (table.name, columns)
        found = self._sqlite_inserts.get(key)
        if found is None:
            dialect = self.engine.dialect
            # Placeholders in the caller's column order (SQLAlchemy would use the
            # table's), so rows pass to the driver as they are.
            quote = dialect.identifier_preparer.quote
            sql = (f"INSERT INTO {quote(table.name)} ({', '.join(map(quote, columns))}) "
                   f"VALUES ({', '.join('?' * len(columns))})")
            processors: list[Callable[[Any], Any] | None] = [
                table.c[c].type.dialect_impl(dialect).bind_processor(dialect) for c in columns
            ]
            found = self._sqlite_inserts[key] = (sql, processors)
        return found

    @staticmethod
    def violated_constraint(error: IntegrityError) -> str:
        """The name (PostgreSQL) or column list (SQLite) of the violated constraint."""
        orig = error.orig
        diag = getattr(orig, "diag", None)
        if diag is not None and getattr(diag, "constraint_name", None):
            return str(diag.constraint_name)
        return str(orig)

    # -- transactions --------------------------------------------------------------

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction: committed on success, rolled back on any error.

        On SQLite it starts with BEGIN IMMEDIATE, taking the write lock up front, so two
        writers never deadlock on a lock upgrade; the busy timeout makes the later wait.
        Audit entries queued with :meth:`queue_audit` are appended to the chain just
        before the commit (see store.audit).
        """
        from custmdm.store.audit import append_entries

        with self.engine.connect() as conn:
            conn = conn.execution_options(custmdm_write=True)
            with conn.begin():
                pending: list[PendingEntry] = []
                conn.info[_PENDING_AUDIT] = pending
                try:
                    yield conn
                    if pending:
                        append_entries(conn, self, pending)
                finally:
                    conn.info.pop(_PENDING_AUDIT, None)

    def queue_audit(self, conn: Connection, entries: Iterable[PendingEntry]) -> None:
        """Queue audit entries to be chained when this write transaction commits."""
        pending = conn.info.get(_PENDING_AUDIT)
        if pending is None:
            raise AssertionError("audit entries are written inside Store.write() only")
        pending.extend(entries)

    # -- keys --------------------------------------------------------------------------

    def use_keyring(self, keyring: Keyring) -> None:
        """Protect this register with ``keyring`` (default: :meth:`Keyring.load`)."""
        self._keyring, self._audit_key, self._fields = keyring, None, None

    @property
    def has_keyring(self) -> bool:
        """Whether a keyring was given or already loaded."""
        return self._keyring is not None

    @property
    def keyring(self) -> Keyring:
        """The keyring in use, loaded from the environment on first need."""
        if self._keyring is None:
            self._keyring = Keyring.load()
        return self._keyring

    def forget_audit_key(self) -> None:
        """Take the keyring's current keys afresh on next use (after a rotation)."""
        self._audit_key, self._fields = None, None

    @property
    def fields(self) -> SensitiveFields:
        """Seals, opens and blind-indexes personal data under the keyring's keys
        (checked against the register with the audit key, on the first write). The
        key file is looked at again every KEY_FILE_TTL seconds: after another process
        rotates the data key, this one writes under the new key within that time."""
        now = time.monotonic()
        if self._fields is not None and now - self._fields_at > KEY_FILE_TTL:
            self._fields_at = now
            fresh = self.keyring.reread_if_changed()
            if fresh is not None:  # another process rotated a key: write under it too
                self.use_keyring(fresh)
        if self._fields is None:
            self._fields = SensitiveFields.from_keyring(self.keyring, self._rotated_data_key)
            self._fields_at = now
        return self._fields

    def _rotated_data_key(self, key_id: str) -> bytes | None:
        """A data key another process rotated in since this one read the key file: read
        it again, and write under its current key from now on."""
        try:
            fresh = Keyring.load()
        except ConfigurationError:
            return None
        found = fresh.keys.get(key_id)
        if found is None or found.purpose != "data":
            return None
        self._keyring, self._audit_key, self._fields = fresh, None, None
        return found.secret

    def checked_audit_key(self) -> Key:
        """:meth:`audit_key`, checked in a transaction of its own if not yet (for
        statements that run alone, see store.registration)."""
        if self._audit_key is None:
            with self.write() as conn:
                self.audit_key(conn)
        assert self._audit_key is not None
        return self._audit_key

    def audit_key(self, conn: Connection) -> Key:
        """The key that chains new audit entries, checked against the register once."""
        if self._audit_key is None:
            from custmdm.store.audit import check_audit_key

            self._audit_key = check_audit_key(self, conn, self.keyring, datetime.now(UTC))
        return self._audit_key

    def truncate_log(self) -> bool:
        """SQLite: copy the write-ahead log into the database file and empty it, so
        that no older page images stay in it; False when readers kept it from
        finishing (SQLite then reuses the log from the start). Nothing to do on
        PostgreSQL."""
        if not self.is_sqlite:
            return True
        with self.engine.connect() as conn:
            busy = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").first()
        return busy is None or busy[0] == 0

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction that sees one consistent snapshot: SQLite's deferred
        transaction does; PostgreSQL needs REPEATABLE READ (read-only, so it never
        fails on a conflict)."""
        with self.engine.connect() as conn:
            if not self.is_sqlite:
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn

    @contextmanager
    def autocommit(self) -> Iterator[Connection]:
        """A connection where each statement is its own transaction: one round trip for
        a single read, with no BEGIN and COMMIT around it."""
        if self._autocommit_engine is None:
            # A pool of its own, so connections are not switched in and out of
            # autocommit on every checkout.
            self._autocommit_engine = (
                self._sqlite_engine_for(self._sqlite_path, autocommit=True) if self.is_sqlite
                else create_engine(self.url, isolation_level="AUTOCOMMIT", pool_size=5,
                                   max_overflow=20)
            )
        with self._autocommit_engine.connect() as conn:
            yield conn

    def dispose(self) -> None:
        """Close every pooled connection (call in a child after fork, or at exit)."""
        self._hot.close()
        self.engine.dispose()
        if self._autocommit_engine is not None:
            self._autocommit_engine.dispose()

    def has_schema(self) -> bool:
        """Has ``init`` been run on this database?"""
        with self.engine.connect() as conn:
            return inspect(conn).has_table("alembic_version")

    # -- SQLite set-up -------------------------------------------------------------

    def _sqlite_engine_for(self, database: str | None, autocommit: bool = False) -> Engine:
        if database and database != ":memory:":
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(self.url)
        if autocommit:
            engine.update_execution_options(custmdm_autocommit=True)
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine


#: Compiles statements with PostgreSQL's own placeholders, which psycopg's raw
#: cursors pass through untouched (no per-call query rewriting).
_NATIVE_PLACEHOLDERS = psycopg_dialect.dialect(  # type: ignore[no-untyped-call]
    paramstyle="numeric_dollar")


class _PreparedStatement:
    """A statement compiled once: its SQL, parameter order, fixed values, converters."""

    def __init__(self, statement: Executable) -> None:
        compiled = statement.compile(dialect=_NATIVE_PLACEHOLDERS)  # type: ignore[attr-defined]
        self.sql: str = compiled.string
        self.names: tuple[str, ...] = tuple(compiled.positiontup or ())
        self.fixed = {name: bind.value for name, bind in compiled.binds.items()
                      if bind.value is not None}
        self.converters = [
            (n, process) for n, name in enumerate(self.names)
            if (process := compiled.binds[name].type.dialect_impl(_NATIVE_PLACEHOLDERS)
                .bind_processor(_NATIVE_PLACEHOLDERS)) is not None
        ]

    def arguments(self, params: dict[str, Any]) -> list[Any]:
        args = [params[name] if name in params else self.fixed[name] for name in self.names]
        for n, process in self.converters:
            args[n] = process(args[n])
        return args


class _ThreadConnection:
    """One thread's connection, closed when the thread ends (its thread-local goes):
    servers start and stop worker threads (anyio's idle after 10 s), and each would
    otherwise leave a session open."""

    __slots__ = ("__weakref__", "connection", "cursor", "pid")

    def __init__(self, connection: psycopg.Connection[Any]) -> None:
        self.connection = connection
        self.cursor = psycopg.RawCursor(connection)
        self.pid = os.getpid()

    def __del__(self) -> None:
        if self.pid == os.getpid():  # a forked child must not end its parent's session
            with contextlib.suppress(Exception):
                self.connection.close()


class _HotPath:
    """Autocommit psycopg connections (one per thread) with prepared statements."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._statements: dict[str, _PreparedStatement] = {}
        self._owners: list[weakref.ref[_ThreadConnection]] = []
        self._lock = threading.Lock()

    def run(
        self, store: Store, key: str, build: Callable[[Store], Executable],
        params: dict[str, Any],
    ) -> tuple[Any, ...] | None:
        prepared = self._statements.get(key)
        if prepared is None:
            prepared = self._statements[key] = _PreparedStatement(build(store))
        cursor = self._cursor(store)
        args = prepared.arguments(params)
        try:
            cursor.execute(prepared.sql, args, prepare=True)
            return cursor.fetchone()
        except psycopg.Error as error:
            if cursor.connection.broken:
                self._local.__dict__.clear()  # reconnect on the next call
            raise DBAPIError.instance(prepared.sql, args, error, psycopg.Error) from error

    def _cursor(self, store: Store) -> psycopg.RawCursor[Any]:
        owned: _ThreadConnection | None = getattr(self._local, "owned", None)
        if owned is not None and owned.pid == os.getpid():
            return owned.cursor
        conninfo = make_url(store.url).set(drivername="postgresql")
        owned = _ThreadConnection(psycopg.connect(
            conninfo.render_as_string(hide_password=False), autocommit=True))
        with self._lock:
            self._owners = [ref for ref in self._owners if ref() is not None]
            self._owners.append(weakref.ref(owned))
        self._local.owned = owned
        return owned.cursor

    def close(self) -> None:
        """Close this process's connections; a forked child only forgets its parent's."""
        with self._lock:
            owners, self._owners = self._owners, []
        for ref in owners:
            owned = ref()
            if owned is None:
                continue
            if owned.pid == os.getpid():
                owned.connection.close()
            else:  # never finalised here: that would end the parent's session
                _INHERITED_CONNECTIONS.append(owned.connection)
                owned.pid = -1
        self._local = threading.local()


_INHERITED_CONNECTIONS: list[psycopg.Connection[Any]] = []


def _memoised(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A bind processor that converts a repeated object (a batch's timestamp) once."""
    last: list[Any] = [object(), None]

    def convert(value: Any) -> Any:
        if value is not last[0]:
            last[0], last[1] = value, process(value)
        return last[1]

    return convert


def _sqlite_on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event decide how a transaction starts (see write()).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    # Deleted and overwritten content is zeroed in the file, not left in free space:
    # an erased person's name must not linger on disk (core.erasure).
    cursor.execute("PRAGMA secure_delete=ON")
    # FULL: a committed registration survives even a power cut (NORMAL would only
    # survive a process crash). Bulk loads commit in chunks, so the cost stays small.
    cursor.execute("PRAGMA synchronous=FULL")
    # 64 MiB of page cache: index inserts stay in memory as the register grows.
    cursor.execute("PRAGMA cache_size=-65536")
    # Checkpoint the WAL every 40 MiB rather than 4 MiB: index pages that bulk loads
    # change again and again are copied back to the database file less often.
    cursor.execute("PRAGMA wal_autocheckpoint=10000")
    cursor.close()


def _sqlite_on_begin(conn: Connection) -> None:
    options = conn.get_execution_options()
    if options.get("custmdm_autocommit"):
        return  # each statement is its own transaction
    conn.exec_driver_sql("BEGIN IMMEDIATE" if options.get("custmdm_write") else "BEGIN")
