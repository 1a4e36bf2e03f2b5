"""Key rotation as a use case: administrators only, written to the audit trail.

Rotating the ``audit`` key adds a new current key to the key file: entries from now on
are chained under it (each entry names its key), and older entries keep verifying under
theirs, which stay in the file. The ``data`` and ``index`` keys rotate with field
encryption (re-wrapping each customer's data key in batches), which is not built yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from custmdm.core.audit import audit_row, write_audit
from custmdm.core.context import Context
from custmdm.errors import ValidationError
from custmdm.security.access import Permission
from custmdm.store.audit import record_key_use

ROTATABLE = ("audit",)


@dataclass(frozen=True, slots=True)
class Rotation:
    """A key rotated: the old and the new key's ids, and the key file."""

    purpose: str
    old_key: str
    new_key: str
    key_file: str

    def to_dict(self) -> dict[str, Any]:
        return {"purpose": self.purpose, "old_key": self.old_key, "new_key": self.new_key,
                "key_file": self.key_file}


def rotate_key(ctx: Context, purpose: str = "audit") -> Rotation:
    """Make a new current key for ``purpose``; the old one stays for what it protected."""
    ctx.require(Permission.ADMINISTER)
    if purpose not in ROTATABLE:
        raise ValidationError(f"{purpose!r} keys cannot be rotated yet; rotatable: "
                              f"{', '.join(ROTATABLE)}")
    keyring = ctx.store.keyring
    old = keyring.current_key(purpose)
    new = keyring.add_key(purpose)  # saved to the key file before anything uses it
    ctx.store.forget_audit_key()
    with ctx.store.write() as conn:
        record_key_use(ctx.store, conn, new, ctx.now())
        write_audit(ctx.store, conn, [audit_row(
            ctx.actor.name, "key.rotate", "key", purpose,
            {"old_key": old.id, "new_key": new.id}, ctx.now())])
    return Rotation(purpose, old.id, new.id, keyring.source)
