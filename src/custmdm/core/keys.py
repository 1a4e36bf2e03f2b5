"""Key rotation as a use case: administrators only, written to the audit trail.

Rotating a key adds a new current key to the key file (saved before anything uses
it); older keys stay in the file for what they protected.

- ``audit``: entries from now on are chained under the new key (each entry names its
  key); older entries keep verifying under theirs.
- ``data``: every sealed value (contacts, persons' numbers, and the copies merges keep
  for undo) is re-encrypted under the new key, in batches of one short transaction
  each, so the register stays in use. A value names its key, so a register half-way
  through reads both; a crash loses nothing, and ``resume`` finishes the work. Other
  processes look at the key file every few seconds (Store.fields) and write under the
  new key once they have seen it; the rotation repeats its passes until one finds no
  value under an older key, so values they wrote meanwhile are taken too.

The ``index`` key is not rotatable: a new one would change every blind index and every
match key made of personal data at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select, update

from custmdm.core.audit import audit_row, write_audit
from custmdm.core.context import Context
from custmdm.errors import ValidationError
from custmdm.security.access import Permission
from custmdm.security.crypto import TOKEN_PREFIX
from custmdm.security.fields import SensitiveFields
from custmdm.store.audit import record_key_use
from custmdm.store.tables import contact, identifier, merge

ROTATABLE = ("audit", "data")
#: Values re-encrypted per transaction: short enough not to hold writers up.
RESEAL_BATCH = 500


@dataclass(frozen=True, slots=True)
class Rotation:
    """A key rotated: the old and the new key's ids, the key file, and (data keys) how
    many values were re-encrypted under the new one."""

    purpose: str
    old_key: str
    new_key: str
    key_file: str
    resealed: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"purpose": self.purpose, "old_key": self.old_key, "new_key": self.new_key,
                "key_file": self.key_file,
                **({"resealed": self.resealed} if self.resealed is not None else {})}


def rotate_key(ctx: Context, purpose: str = "audit", *, resume: bool = False,
               batch_size: int = RESEAL_BATCH,
               progress: Callable[[int], None] | None = None) -> Rotation:
    """Make a new current key for ``purpose``; the old one stays for what it protected.
    For the data key, re-encrypt every value under the new one (``resume``: no new
    key, only finish re-encrypting under the current one)."""
    ctx.require(Permission.ADMINISTER)
    if purpose not in ROTATABLE:
        raise ValidationError(f"{purpose!r} keys cannot be rotated; rotatable: "
                              f"{', '.join(ROTATABLE)} (a new index key would change every "
                              "blind index and match key at once)")
    if resume and purpose != "data":
        raise ValidationError("only a data key rotation has work to resume")
    keyring = ctx.store.keyring
    old = keyring.current_key(purpose)
    if not resume:
        new = keyring.add_key(purpose)  # saved to the key file before anything uses it
        ctx.store.forget_audit_key()
        with ctx.store.write() as conn:
            record_key_use(ctx.store, conn, new, ctx.now())
            write_audit(ctx.store, conn, [audit_row(
                ctx.actor.name, "key.rotate", "key", purpose,
                {"old_key": old.id, "new_key": new.id}, ctx.now())])
    current = keyring.current_key(purpose)
    if purpose != "data":
        return Rotation(purpose, old.id, current.id, keyring.source)
    count = reseal(ctx, batch_size, progress)
    with ctx.store.write() as conn:
        write_audit(ctx.store, conn, [audit_row(
            ctx.actor.name, "key.reseal", "key", purpose,
            {"key": current.id, "values": count, "resumed": resume}, ctx.now())])
    return Rotation(purpose, old.id if not resume else "", current.id, keyring.source, count)


def reseal(ctx: Context, batch_size: int = RESEAL_BATCH,
           progress: Callable[[int], None] | None = None) -> int:
    """Re-encrypt, batch by batch, every value not under the current data key; returns
    how many were found so. Passes over the tables repeat until one finds none: a row
    changed meanwhile (a merge moved it) is left alone by its batch and taken by the
    next pass, as are values other processes wrote under the old key before they saw
    the new one (within KEY_FILE_TTL seconds)."""
    fields = ctx.store.fields
    total = 0
    while found := _reseal_pass(ctx, fields, batch_size, progress):
        total += found
    return total + _reseal_merge_snapshots(ctx, fields)


def _reseal_pass(ctx: Context, fields: SensitiveFields, batch_size: int,
                 progress: Callable[[int], None] | None) -> int:
    prefix = f"{TOKEN_PREFIX}{fields.cipher.current}:"
    total = 0
    for table, token_column in ((contact, contact.c.value), (identifier, identifier.c.sealed)):
        last = 0
        while True:
            with ctx.store.write() as conn:
                rows = conn.execute(
                    select(table).where(table.c.id > last, token_column.is_not(None),
                                        ~token_column.startswith(prefix, autoescape=True))
                    .order_by(table.c.id).limit(batch_size)).all()
                if rows:
                    conn.execute(_RESEAL[table.name], [_resealed(fields, table, r)
                                                       for r in rows])
            if not rows:
                break
            last = rows[-1].id
            total += len(rows)
            if progress is not None:
                progress(len(rows))
    return total


#: One statement per table, run for a whole batch. The old value in the condition: a
#: row changed meanwhile (moved by a merge, rewritten) is left as it now is.
_RESEAL = {
    "contact": update(contact).where(contact.c.id == bindparam("row_id"),
                                     contact.c.value == bindparam("old"))
    .values(value=bindparam("new_value"), canonical=bindparam("new_canonical")),
    "identifier": update(identifier).where(identifier.c.id == bindparam("row_id"),
                                           identifier.c.sealed == bindparam("old"))
    .values(sealed=bindparam("new_sealed")),
}


def _resealed(fields: SensitiveFields, table: Any, row: Any) -> dict[str, Any]:
    """The parameters of ``_RESEAL`` for one row: its values under the current key."""
    values = row._mapping
    old = values["value"] if table is contact else values["sealed"]
    new = fields.resealed(table.name, values)
    return {"row_id": values["id"], "old": old, **{f"new_{k}": v for k, v in new.items()}}


def _reseal_merge_snapshots(ctx: Context, fields: SensitiveFields) -> int:
    """The contacts and numbers merges saved for undo, one merge per transaction."""
    count = 0
    with ctx.store.read() as conn:
        merge_ids = list(conn.scalars(select(merge.c.id).order_by(merge.c.id)))
    for merge_id in merge_ids:
        with ctx.store.write() as conn:
            before = conn.execute(select(merge.c.before).where(merge.c.id == merge_id)
                                  .with_for_update()).scalar_one()
            changed = 0
            for table, token in (("contact", "value"), ("identifier", "sealed")):
                for row in before.get(table, []):
                    if row.get(token) and not fields.cipher.is_current(row[token]):
                        row.update(fields.resealed(table, row))
                        changed += 1
            if changed:
                conn.execute(update(merge).where(merge.c.id == merge_id).values(before=before))
                count += changed
    return count
