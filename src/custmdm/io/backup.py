"""Backup and restore of a whole register, verified.

A backup is one tar file: ``manifest.json`` and the data, a SQLite database made with
SQLite's online backup API (consistent while others write), or a ``pg_dump`` archive
(custom format) of the register's PostgreSQL schema. The manifest records the data's
SHA-256 and size, the schema revision, row counts, the audit chain's head and the ids
of the keys the register used (never the keys). It is written to a temporary file,
flushed and renamed, so a crash never leaves half a backup under the name.

Restoring checks everything it can before anything is replaced: the archive and
manifest, the checksum, the dialect and schema revision; for SQLite also
``PRAGMA integrity_check``, the counts, and the whole audit chain under the keyring, on
a copy beside the target, which then takes the target's place with one rename (the
old file stays beside it). PostgreSQL archives are checked with ``pg_restore --list``
and restored in one transaction (``--single-transaction``: an error leaves the
database as it was), then the counts and chain are verified.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from glob import glob
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.engine import make_url

from custmdm.errors import ConfigurationError, ValidationError
from custmdm.security.audit_chain import ChainReport
from custmdm.store.audit import chain_head
from custmdm.store.database import Store
from custmdm.store.tables import audit_entry, customer, customer_code, register_key

FORMAT = "custmdm-backup-1"
MANIFEST = "manifest.json"
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class BackupInfo:
    """What a backup holds (its manifest) and where it is."""

    path: Path
    manifest: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"file": str(self.path), **self.manifest}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as data:
        for chunk in iter(lambda: data.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _counts(store: Store, conn: Connection | None = None) -> dict[str, Any]:
    if conn is None:
        with store.read() as reading:
            return _counts(store, reading)

    def count(table: Any) -> int:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())

    head = chain_head(conn) or (0, "")
    keys = sorted(conn.execute(select(register_key.c.key_id)).scalars())
    return {"counts": {"customers": count(customer), "codes": count(customer_code),
                       "audit_entries": count(audit_entry)},
            "audit_head": {"seq": head[0], "mac": head[1]}, "key_ids": keys}


def _pg_tool(name: str) -> str:
    """A PostgreSQL client program: Debian's versioned one (newest), else on PATH."""
    found = sorted(glob(f"/usr/lib/postgresql/*/bin/{name}"),
                   key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    if found:
        return found[-1]
    on_path = shutil.which(name)
    if on_path:
        return on_path
    raise ConfigurationError(f"{name} is needed to back up or restore PostgreSQL: install "
                             "the PostgreSQL client (Debian: apt-get install postgresql-client)")


def _pg_arguments(store: Store) -> tuple[list[str], dict[str, str]]:
    """Connection options for pg_dump/pg_restore, limited to the register's own schema
    (the one its tables are in), so that other schemas of a shared database are never
    dumped, dropped or restored."""
    url = make_url(store.url).set(drivername="postgresql")
    with store.read() as conn:
        schema = str(conn.execute(select(func.current_schema())).scalar_one())
    plain = url.set(query={k: v for k, v in url.query.items() if k != "options"})
    env = {**os.environ}
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    args = ["--dbname", plain.set(password=None).render_as_string(hide_password=False),
            "--schema", schema]
    return args, env


def write_backup(store: Store, target: Path, *, revision: str | None, version: str
                 ) -> BackupInfo:
    """Write a verified-to-be-complete backup of ``store`` to ``target``."""
    target = target.expanduser().resolve()
    if target.is_dir():
        raise ValidationError(f"{target} is a directory: give a file name, e.g. "
                              f"{target / 'register.backup'}")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".custmdm-backup-") as work:
        data = Path(work) / ("register.db" if store.is_sqlite else "register.pgdump")
        if store.is_sqlite:
            _sqlite_snapshot(store, data)
            state = _sqlite_state(data)  # exactly what the snapshot holds
        else:
            state = _pg_dump(store, data)
        manifest = {
            "format": FORMAT, "created_at": datetime.now(UTC).isoformat(),
            "dialect": store.dialect, "schema_revision": revision, "custmdm": version,
            "data": {"name": data.name, "sha256": _sha256(data), "size": data.stat().st_size},
            **state,
        }
        partial = target.with_name(f".{target.name}.partial")
        # Readable by its owner only: a backup holds everything the register holds.
        os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
        with tarfile.open(partial, "w") as archive:
            encoded = json.dumps(manifest, indent=2).encode()
            entry = tarfile.TarInfo(MANIFEST)
            entry.size = len(encoded)
            archive.addfile(entry, io.BytesIO(encoded))
            archive.add(data, arcname=data.name)
        with partial.open("rb+") as written:
            os.fsync(written.fileno())
        os.replace(partial, target)
    return BackupInfo(target, manifest)


def _pg_dump(store: Store, data: Path) -> dict[str, Any]:
    """pg_dump of the register, and its counts, from one snapshot: the counts are read
    in a repeatable-read transaction whose snapshot pg_dump then uses."""
    args, env = _pg_arguments(store)
    with store.read() as conn:
        snapshot = str(conn.execute(select(func.pg_export_snapshot())).scalar_one())
        state = _counts(store, conn)
        _run([_pg_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges",
              "--snapshot", snapshot, "--file", str(data), *args], env, "pg_dump")
    return state


def _sqlite_snapshot(store: Store, data: Path) -> None:
    source = sqlite3.connect(store.sqlite_path)
    try:
        copy = sqlite3.connect(data)
        try:
            source.backup(copy)  # one step: a consistent snapshot under a read lock
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        finally:
            copy.close()
    finally:
        source.close()


def _sqlite_state(path: Path) -> dict[str, Any]:
    snapshot = Store(f"sqlite:///{path}")
    try:
        return _counts(snapshot)
    finally:
        snapshot.dispose()


def _run(command: list[str], env: dict[str, str], what: str) -> str:
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise ConfigurationError(f"{what} failed: {detail[-1] if detail else done.returncode}")
    return done.stdout


# -- reading and verifying ---------------------------------------------------------------


def read_manifest(path: Path) -> tuple[dict[str, Any], tarfile.TarFile]:
    """The manifest of a backup file, and the open archive; a clear error for anything
    that is not a complete CustMDM backup."""
    path = path.expanduser()
    try:
        archive = tarfile.open(path, "r")  # noqa: SIM115 - the caller closes it
    except FileNotFoundError:
        raise ValidationError(f"no backup file {path}") from None
    except (tarfile.TarError, OSError) as error:
        raise ValidationError(f"{path} is not a CustMDM backup (not a readable archive: "
                              f"{error})") from None
    try:
        member = archive.extractfile(MANIFEST)
        manifest = json.loads(member.read()) if member else None
    except (KeyError, ValueError, tarfile.TarError, OSError):
        manifest = None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        archive.close()
        raise ValidationError(f"{path} is not a CustMDM backup, or its manifest is damaged")
    return manifest, archive


def extract_verified(path: Path, manifest: dict[str, Any], archive: tarfile.TarFile,
                     into: Path) -> Path:
    """Extract the data file into ``into`` and check its size and SHA-256."""
    name = str(manifest["data"]["name"])
    if name not in ("register.db", "register.pgdump"):
        raise ValidationError(f"{path}: the manifest names an unexpected data file {name!r}")
    try:
        member = archive.extractfile(name)
        if member is None:
            raise KeyError(name)
        out = into / name
        with out.open("wb") as copy:
            shutil.copyfileobj(member, copy, _CHUNK)
    except (KeyError, tarfile.TarError, OSError, EOFError) as error:
        raise ValidationError(f"{path} is damaged: its data cannot be read ({error})"
                              ) from None
    if out.stat().st_size != manifest["data"]["size"] or _sha256(out) != manifest["data"][
            "sha256"]:
        raise ValidationError(f"{path} is damaged: its data does not match the checksum in "
                              "its manifest; use another backup")
    return out


def check_state(found: dict[str, Any], manifest: dict[str, Any], chain: ChainReport,
                where: str) -> None:
    """The restored (or to-be-restored) register holds what the manifest says."""
    if found["counts"] != manifest["counts"]:
        raise ValidationError(f"{where} holds {found['counts']}, the manifest says "
                              f"{manifest['counts']}")
    if not chain.intact:
        raise ValidationError(f"{where}: the audit chain is broken at entry "
                              f"#{chain.broken_at}: {chain.problem}")
    head = manifest["audit_head"]
    if (chain.last_seq, chain.last_mac) != (head["seq"], head["mac"]):
        raise ValidationError(f"{where}: the audit chain ends at #{chain.last_seq}, the "
                              f"manifest says #{head['seq']}")


def sqlite_integrity(path: Path) -> None:
    """``PRAGMA integrity_check`` on a database file."""
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            result = [row[0] for row in db.execute("PRAGMA integrity_check")]
        finally:
            db.close()
    except sqlite3.DatabaseError as error:
        raise ValidationError(f"the backed-up database cannot be opened: {error}") from None
    if result != ["ok"]:
        raise ValidationError(f"the backed-up database is damaged: {'; '.join(result[:3])}")


def replace_sqlite(target: Path, restored: Path) -> Path | None:
    """Put ``restored`` in ``target``'s place with one rename; the old database stays
    beside it (``….before-restore-TIME``) unless it held no table at all. Returns where
    the old one went.

    The old database's WAL is checkpointed into it and emptied first, so the old file
    is complete on its own and no journal of it can be applied to the new one; the old
    file gets its second name by a hard link before the rename, so at every moment one
    complete database is under the register's name.
    """
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    kept: Path | None = None
    if target.exists():
        db = sqlite3.connect(target)
        try:
            tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            db.close()
        if tables:
            kept = target.with_name(f"{target.name}.before-restore-{stamp}")
            os.link(target, kept)
    os.replace(restored, target)
    for suffix in ("-wal", "-shm"):  # empty after the checkpoint; rebuilt on next open
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    return kept


def check_pg_archive(store: Store, dump: Path) -> None:
    """pg_restore can read the whole archive's table of contents."""
    _, env = _pg_arguments(store)
    _run([_pg_tool("pg_restore"), "--list", str(dump)], env, "pg_restore --list")


def restore_postgresql(store: Store, dump: Path) -> None:
    """Restore an archive into the register's schema, in one transaction."""
    args, env = _pg_arguments(store)
    _run([_pg_tool("pg_restore"), "--clean", "--if-exists", "--single-transaction",
          "--no-owner", "--no-privileges", "--exit-on-error", *args, str(dump)], env,
         "pg_restore")


def state_of(store: Store) -> dict[str, Any]:
    """Counts, chain head and key ids of a register."""
    return _counts(store)
