"""Backup and restore as use cases: who may, and what the audit trail says
(the work itself is in io.backup)."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic.script import ScriptDirectory

from custmdm.core.audit import audit_row, write_audit
from custmdm.core.context import Context
from custmdm.errors import ConfigurationError, CustMDMError, ValidationError
from custmdm.io.backup import (
    BackupInfo,
    check_pg_archive,
    check_state,
    extract_verified,
    read_manifest,
    replace_sqlite,
    restore_postgresql,
    sqlite_integrity,
    state_of,
    write_backup,
)
from custmdm.security.access import Permission
from custmdm.security.audit_chain import verify_chain
from custmdm.store import schema
from custmdm.store.audit import chain_head, read_entries
from custmdm.store.database import Store


@dataclass(frozen=True, slots=True)
class RestoreResult:
    """What a restore put back, and where the replaced database went (SQLite)."""

    manifest: dict[str, Any]
    previous: Path | None
    upgraded_to: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"restored": self.manifest, "previous": str(self.previous) if self.previous
                else None, "schema_revision": self.upgraded_to}


def backup(ctx: Context, path: Path | str) -> BackupInfo:
    """Back the whole register up into one file (see io.backup)."""
    ctx.require(Permission.ADMINISTER)
    info = write_backup(ctx.store, Path(path), revision=schema.current_revision(ctx.store),
                        version=_version())
    manifest = info.manifest
    with ctx.store.write() as conn:
        write_audit(ctx.store, conn, [audit_row(
            ctx.actor.name, "register.backup", "register", "register",
            {"file": str(info.path), "sha256": manifest["data"]["sha256"],
             "counts": manifest["counts"], "audit_head": manifest["audit_head"]},
            ctx.now())])
    return info


def restore(ctx: Context, path: Path | str) -> RestoreResult:
    """Replace the register with a backup, after checking the backup through.

    On a register that has users, only an administrator may; an empty database (no
    register yet) can be restored into by whoever can reach it.
    """
    store = ctx.store
    if store.has_schema():
        ctx.require(Permission.ADMINISTER)
    source = Path(path).expanduser()
    manifest, archive = read_manifest(source)
    with archive:
        _check_compatible(store, source, manifest)
        if store.is_sqlite:
            previous = _restore_sqlite(ctx, source, manifest, archive)
        else:
            previous = _restore_postgresql(ctx, source, manifest, archive)
    schema.upgrade(store)  # a backup of an older schema is brought up to date
    revision = schema.current_revision(store)
    with store.write() as conn:
        write_audit(store, conn, [audit_row(
            ctx.actor.name, "register.restore", "register", "register",
            {"file": str(source), "sha256": manifest["data"]["sha256"],
             "created_at": manifest["created_at"], "counts": manifest["counts"]},
            ctx.now())])
    ctx.forget_authorization()
    return RestoreResult(manifest, previous, revision)


def _restore_postgresql(ctx: Context, source: Path, manifest: dict[str, Any], archive: Any
                        ) -> Path | None:
    """Check the archive; keep a backup of the register as it is; restore in one
    transaction; verify; and if that fails, put the kept backup back."""
    store = ctx.store
    with tempfile.TemporaryDirectory(prefix="custmdm-restore-") as work:
        dump = extract_verified(source, manifest, archive, Path(work))
        check_pg_archive(store, dump)
        kept = None
        if store.has_schema():
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            kept = write_backup(store, source.with_name(f"before-restore-{stamp}.backup"),
                                revision=schema.current_revision(store),
                                version=_version()).path
        restore_postgresql(store, dump)
        store.dispose()  # pooled sessions may have cached the objects just replaced
        try:
            _verify_register(store, manifest, "the restored register")
        except CustMDMError as error:
            if kept is None:
                raise
            with tempfile.TemporaryDirectory(prefix="custmdm-undo-") as undo:
                old, old_archive = read_manifest(kept)
                with old_archive:
                    restore_postgresql(store, extract_verified(kept, old, old_archive,
                                                               Path(undo)))
            store.dispose()
            raise error.suffixed("; the register was put back as it was") from None
    return kept


def _version() -> str:
    from custmdm import __version__  # the package imports this module

    return __version__


def _check_compatible(store: Store, source: Path, manifest: dict[str, Any]) -> None:
    if manifest["dialect"] != store.dialect:
        raise ValidationError(f"{source} is a {manifest['dialect']} backup; this register is "
                              f"{store.dialect}: restore it into a {manifest['dialect']} "
                              "register")
    known = {s.revision for s in ScriptDirectory.from_config(
        schema.alembic_config()).walk_revisions()}
    if manifest["schema_revision"] not in known:
        raise ValidationError(f"{source} was made by a newer CustMDM (schema "
                              f"{manifest['schema_revision']}); upgrade CustMDM first")
    missing = [k for k in manifest["key_ids"] if k not in store.keyring.keys]
    if missing:
        raise ConfigurationError(
            f"{source} was made with keys {', '.join(missing)}, which the keyring "
            f"({store.keyring.source}) does not hold; restore with that register's key file")


def _restore_sqlite(ctx: Context, source: Path, manifest: dict[str, Any], archive: Any
                    ) -> Path | None:
    target = ctx.store.sqlite_path
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".custmdm-restore-") as work:
        copy = extract_verified(source, manifest, archive, Path(work))
        sqlite_integrity(copy)
        candidate = Store(f"sqlite:///{copy}")
        candidate.use_keyring(ctx.store.keyring)
        try:
            _verify_register(candidate, manifest, f"{source}")
        finally:
            candidate.dispose()
        ctx.store.dispose()  # this process lets go of the old file
        return replace_sqlite(target, copy)


def _verify_register(store: Store, manifest: dict[str, Any], where: str) -> None:
    with store.read() as conn:
        chain = verify_chain(read_entries(conn), store.keyring.audit_secret, chain_head(conn))
    check_state(state_of(store), manifest, chain, where)
