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

from sqlalchemy import func, select
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


def _counts(store: Store) -> dict[str, Any]:
    with store.read() as conn:
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
    """Connection options for pg_dump/pg_restore, and the register's schema (if the URL
    sets a search_path, as a register inside a shared database does)."""
    url = make_url(store.url).set(drivername="postgresql")
    options = str(url.query.get("options", ""))
    schema = None
    for part in options.split():
        if part.startswith("-csearch_path="):
            schema = part.split("=", 1)[1].split(",")[0]
    plain = url.set(query={k: v for k, v in url.query.items() if k != "options"})
    env = {**os.environ}
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    args = ["--dbname", plain.set(password=None).render_as_string(hide_password=False)]
    if schema:
        args += ["--schema", schema]
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
        state = _counts(store)  # before the snapshot: a later write only adds to it
        if store.is_sqlite:
            _sqlite_snapshot(store, data)
            state = _sqlite_state(data)  # exactly what the snapshot holds
        else:
            args, env = _pg_arguments(store)
            _run([_pg_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges",
                  "--file", str(data), *args], env, "pg_dump")
        manifest = {
            "format": FORMAT, "created_at": datetime.now(UTC).isoformat(),
            "dialect": store.dialect, "schema_revision": revision, "custmdm": version,
            "data": {"name": data.name, "sha256": _sha256(data), "size": data.stat().st_size},
            **state,
        }
        partial = target.with_name(f".{target.name}.partial")
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


def replace_sqlite(target: Path, restored: Path, keep: bool) -> Path | None:
    """Put ``restored`` in ``target``'s place; the old file (and its WAL) are kept
    beside it when ``keep``. Returns where the old one went."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    kept: Path | None = target.with_name(f"{target.name}.before-restore-{stamp}")
    assert kept is not None
    if keep and target.exists():
        os.replace(target, kept)
    else:
        target.unlink(missing_ok=True)
        kept = None
    for suffix in ("-wal", "-shm"):  # the old database's journal must not meet the new one
        old = Path(f"{target}{suffix}")
        if old.exists():
            if kept is None:
                old.unlink()
            else:
                os.replace(old, Path(f"{kept}{suffix}"))
    os.replace(restored, target)
    return kept


def restore_postgresql(store: Store, dump: Path) -> None:
    """Check the archive, then restore it in one transaction."""
    args, env = _pg_arguments(store)
    _run([_pg_tool("pg_restore"), "--list", str(dump)], env, "pg_restore --list")
    _run([_pg_tool("pg_restore"), "--clean", "--if-exists", "--single-transaction",
          "--no-owner", "--no-privileges", "--exit-on-error", *args, str(dump)], env,
         "pg_restore")


def state_of(store: Store) -> dict[str, Any]:
    """Counts, chain head and key ids of a register."""
    return _counts(store)
