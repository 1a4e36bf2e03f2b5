"""The audit trail's hash chain: each entry's MAC covers the previous entry's MAC and
this entry's canonical form, so altering, deleting or inserting any entry breaks the
chain from there on.

The MAC is HMAC-SHA256 under the keyring's ``audit`` key, not a bare hash: someone who
can write to the database but has no key cannot forge a valid entry, not even at the
end of the chain. The message of entry ``seq`` is::

    previous MAC + '[' + seq + ',' + JSON(entity_id) + ',' + head + ',' + detail + ']'

where ``head`` is the compact JSON of ``at, actor, action, entity`` without its
brackets, and ``detail`` is the entry's detail exactly as the database stores it
(JSON text). PostgreSQL's single-statement registrations compute the same message
in SQL (see :func:`hmac_pads`); this module is the reference both follow.

>>> key = bytes(32)
>>> at = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
>>> head = entry_head(at, "tester", "customer.register", "customer")
>>> head
'"2026-03-15T12:00:00.000000Z","tester","customer.register","customer"'
>>> message = entry_message(GENESIS, 1, "7", head, '{"code":"C1"}')
>>> message[64:]
'[1,"7","2026-03-15T12:00:00.000000Z","tester","customer.register","customer",{"code":"C1"}]'
>>> len(entry_mac(key, message))
64
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

#: The "previous MAC" of the first entry.
GENESIS = "0" * 64


def canonical_json(value: Any) -> str:
    """The one JSON text of a value: sorted keys, no spaces, UTF-8 as is.

    >>> canonical_json({"b": 1, "a": "客户"})
    '{"a":"客户","b":1}'
    """
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"),
                      default=str)


def audit_time(at: datetime) -> str:
    """An entry's time as the chain sees it: UTC, microseconds (naive means UTC).

    >>> audit_time(datetime(2026, 1, 2, 3, 4, 5, 6))
    '2026-01-02T03:04:05.000006Z'
    """
    if at.tzinfo is not None:
        at = at.astimezone(UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_head(at: datetime, actor: str, action: str, entity: str) -> str:
    """The fixed fields of an entry in the chain's form (see the module docstring)."""
    return json.dumps([audit_time(at), actor, action, entity], ensure_ascii=False,
                      separators=(",", ":"))[1:-1]


def entry_message(previous: str, seq: int, entity_id: str, head: str, detail: str) -> str:
    """What an entry's MAC is computed over."""
    return f"{previous}[{seq},{json.dumps(entity_id, ensure_ascii=False)},{head},{detail}]"


def entry_mac(key: bytes, message: str) -> str:
    """HMAC-SHA256 of the message, as 64 hex digits."""
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).hexdigest()


def hmac_pads(key: bytes) -> tuple[bytes, bytes]:
    """The inner and outer HMAC pads of a key, for HMAC-SHA256 written in SQL as
    ``sha256(outer || sha256(inner || message))`` (RFC 2104), since PostgreSQL has
    ``sha256()`` built in but ``hmac()`` only in the pgcrypto extension.

    >>> inner, outer = hmac_pads(b"k" * 32)
    >>> message = b"abc"
    >>> hashlib.sha256(outer + hashlib.sha256(inner + message).digest()).hexdigest() == (
    ...     hmac.new(b"k" * 32, message, hashlib.sha256).hexdigest())
    True
    """
    padded = key.ljust(64, b"\0") if len(key) <= 64 else hashlib.sha256(key).digest().ljust(
        64, b"\0")
    return bytes(b ^ 0x36 for b in padded), bytes(b ^ 0x5C for b in padded)


@dataclass(frozen=True, slots=True)
class StoredEntry:
    """An audit entry as read back for verification."""

    id: int
    seq: int
    at: datetime
    actor: str
    action: str
    entity: str
    entity_id: str
    detail: str
    mac: str
    key_id: str


@dataclass(frozen=True, slots=True)
class ChainReport:
    """What verifying the chain found: how far it holds, and the first broken link."""

    entries: int
    last_seq: int
    last_mac: str
    broken_at: int | None = None
    problem: str | None = None

    @property
    def intact(self) -> bool:
        return self.problem is None


def verify_chain(
    entries: Iterable[StoredEntry], key_of: Callable[[str], bytes | None],
    head: tuple[int, str] | None, anchor: tuple[int, str] | None = None,
) -> ChainReport:
    """Walk the entries in ``seq`` order and report the first broken link.

    ``head`` is the chain head the database keeps (last seq and MAC): it tells a
    deleted last entry, or one appended behind the writers' back, from an intact end.
    ``anchor`` is a seq and MAC recorded outside the database by an earlier verify:
    the chain must still pass through it, which shows a cut-off end even when the
    head was moved back with it.
    """
    previous_seq, previous_mac, count = 0, GENESIS, 0
    for entry in entries:
        if anchor is not None and entry.seq == anchor[0] and not hmac.compare_digest(
                entry.mac, anchor[1].lower()):
            return ChainReport(count, previous_seq, previous_mac, entry.seq,
                               f"entry #{entry.seq} is not the one recorded earlier (its "
                               f"MAC was {anchor[1]}): the chain was rewritten from there")
        if entry.seq > previous_seq + 1:
            return ChainReport(count, previous_seq, previous_mac, previous_seq + 1,
                               f"{_entries(previous_seq + 1, entry.seq - 1)} missing (deleted)")
        if entry.seq != previous_seq + 1:
            problem = (f"entry #{entry.seq} appears twice (one was inserted)"
                       if entry.seq == previous_seq > 0 else
                       f"entry #{entry.seq} is out of order")
            return ChainReport(count, previous_seq, previous_mac, entry.seq, problem)
        key = key_of(entry.key_id)
        if key is None:
            return ChainReport(count, previous_seq, previous_mac, entry.seq,
                               f"entry #{entry.seq} (id {entry.id}) names the key "
                               f"{entry.key_id!r}, which the keyring does not hold as an "
                               "audit key: the entry was altered, or this is not the "
                               "register's key file")
        head_text = entry_head(entry.at, entry.actor, entry.action, entry.entity)
        message = entry_message(previous_mac, entry.seq, entry.entity_id, head_text,
                                entry.detail)
        if not hmac.compare_digest(entry_mac(key, message), entry.mac):
            return ChainReport(count, previous_seq, previous_mac, entry.seq,
                               f"entry #{entry.seq} (id {entry.id}) does not match its MAC: "
                               "it was altered, or inserted in place of another")
        previous_seq, previous_mac, count = entry.seq, entry.mac, count + 1
    if anchor is not None and anchor[0] > previous_seq:
        return ChainReport(count, previous_seq, previous_mac, previous_seq + 1,
                           f"the chain ends at #{previous_seq}, before entry #{anchor[0]} "
                           "recorded earlier: entries were cut off the end")
    head_seq, head_mac = head or (0, GENESIS)
    if head_seq > previous_seq:
        return ChainReport(count, previous_seq, previous_mac, previous_seq + 1,
                           f"{_entries(previous_seq + 1, head_seq)} missing (deleted); the "
                           f"chain head says #{head_seq}")
    if head_seq < previous_seq:
        return ChainReport(count, previous_seq, previous_mac, head_seq + 1,
                           f"entries after #{head_seq} are not in the chain head "
                           "(appended outside CustMDM)")
    if not hmac.compare_digest(head_mac, previous_mac):
        return ChainReport(count, previous_seq, previous_mac, previous_seq,
                           f"the chain head does not match entry #{previous_seq}")
    return ChainReport(count, previous_seq, previous_mac)


def _entries(first: int, last: int) -> str:
    """'entry #3 is' or 'entries #3…#5 are'."""
    return f"entry #{first} is" if first == last else f"entries #{first}…#{last} are"
