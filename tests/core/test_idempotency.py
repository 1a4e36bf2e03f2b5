"""Idempotent registration: a retried create returns the first result, on both
databases, also when the first request died half-way or runs at the same time."""

from __future__ import annotations

import dataclasses
import hashlib
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from custmdm.core import idempotency
from custmdm.core.customers import CustomerDraft
from custmdm.core.registry import register_customer
from custmdm.errors import Conflict, ValidationError
from custmdm.register import Register
from custmdm.security.audit_chain import canonical_json
from custmdm.store.audit import chain_head
from custmdm.store.tables import customer, idempotency_key


def draft(name: str = "深圳市华盛电子科技有限公司") -> CustomerDraft:
    return CustomerDraft("enterprise", name, region="440305")


def customers(reg: Register) -> int:
    with reg.store.read() as conn:
        return int(conn.execute(select(func.count()).select_from(customer)).scalar_one())


@pytest.fixture
def coded(reg: Register) -> Register:
    reg.add_rule("std", "C{kind}{seq:6}")
    return reg


def test_a_retry_returns_the_first_customer(coded: Register) -> None:
    first = coded.register_once(draft(), "order-17")
    again = coded.register_once(draft(), "order-17")
    assert not first.replayed and again.replayed
    assert again.customer.code == first.customer.code and customers(coded) == 1
    with pytest.raises(ValidationError, match="was used for another request"):
        coded.register_once(draft("深圳市恒泰贸易有限公司"), "order-17")
    with pytest.raises(ValidationError, match="printable ASCII"):
        coded.register_once(draft(), "订单-17")


def test_a_failed_request_gives_its_key_back(coded: Register) -> None:
    with pytest.raises(ValidationError):
        coded.register_once(CustomerDraft("enterprise", "", region="440305"), "k1")
    corrected = coded.register_once(draft(), "k1")  # the key was given back
    assert not corrected.replayed
    bad = CustomerDraft("enterprise", "深圳市华盛电子科技有限公司", region="999999")
    with pytest.raises(ValidationError):
        coded.register_once(bad, "k2")
    with pytest.raises(ValidationError):
        coded.register_once(bad, "k2")  # the key was given back: the same error again
    assert customers(coded) == 1


def test_a_first_request_that_died_after_registering_is_found(coded: Register) -> None:
    """The key taken and the customer committed, but the row never finished."""
    ctx = coded.ctx
    with coded.store.write() as conn:
        seq = (chain_head(conn) or (0, ""))[0]
    fingerprint = hashlib.sha256(canonical_json({
        "draft": dataclasses.asdict(draft()), "override_reason": None}).encode()).hexdigest()
    with coded.store.write() as conn:
        conn.execute(idempotency_key.insert().values(
            actor=ctx.actor.name, key="k9", fingerprint=fingerprint, after_seq=seq, claim="x",
            created_at=ctx.now()))
    registered = register_customer(ctx, draft(), idempotency_key="k9")
    retry = coded.register_once(draft(), "k9")
    assert retry.replayed and retry.customer.code == registered.code
    assert customers(coded) == 1


def test_a_first_request_that_died_before_registering_is_taken_over(
        coded: Register, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(idempotency, "WAIT_FOR_FIRST", 0.2)
    first = coded.register_once(draft(), "k5", override_reason="checked")
    with coded.store.write() as conn:  # as if it had died before registering
        conn.execute(update(idempotency_key).values(customer_id=None, after_seq=10_000_000))
    coded.retire(first.customer.code, "test: make room for the same name")
    with pytest.raises(Conflict, match="still being processed"):
        coded.register_once(draft(), "k5", override_reason="checked")  # still running?
    with coded.store.write() as conn:
        conn.execute(update(idempotency_key).values(
            created_at=coded.ctx.now() - timedelta(seconds=idempotency.STALE_AFTER + 1)))
    taken = coded.register_once(draft(), "k5", override_reason="checked")
    assert not taken.replayed and taken.customer.code != first.customer.code


def test_parallel_retries_register_one_customer(coded: Register, db_url: str) -> None:
    registers = [Register(coded.store, coded.ctx.actor) for _ in range(6)]
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda r: r.register_once(draft(), "same-key"), registers))
    assert len({r.customer.code for r in results}) == 1
    assert sum(not r.replayed for r in results) == 1 and customers(coded) == 1


def test_a_request_taken_over_cannot_undo_its_successor(coded: Register) -> None:
    """Only the request holding the key's claim may finish the row or give it back."""
    from custmdm.core.idempotency import _give_back

    first = coded.register_once(draft(), "k7")
    with coded.store.write() as conn:  # a stale holder's claim, and the row unfinished
        conn.execute(update(idempotency_key).values(customer_id=None, claim="stale"))
    _give_back(coded.ctx, "k7", "someone-else")  # not the holder: nothing happens
    with coded.store.read() as conn:
        assert conn.execute(select(func.count()).select_from(idempotency_key)).scalar() == 1
    again = coded.register_once(draft(), "k7")  # found through the audit trail
    assert again.replayed and again.customer.code == first.customer.code


def test_keys_are_forgotten_after_a_day(coded: Register, clock: Any) -> None:
    first = coded.register_once(draft(), "order-17")
    clock.moment += idempotency.KEEP_FOR - timedelta(minutes=1)
    idempotency._swept_at.clear()  # as if a minute had passed since the last sweep
    assert coded.register_once(draft(), "order-17").replayed  # still within the day
    coded.register_once(draft("深圳市恒泰贸易有限公司"), "order-18")
    clock.moment += timedelta(minutes=2)
    idempotency._swept_at.clear()
    coded.register_once(draft("广州市南方乳业有限公司"), "order-19")  # sweeps order-17
    with coded.store.read() as conn:
        kept = set(conn.execute(select(idempotency_key.c.key)).scalars())
    assert kept == {"order-18", "order-19"}
    with pytest.raises(Conflict):  # order-17 is a new request now: a duplicate of the first
        coded.register_once(draft(), "order-17")
    assert coded.find(first.customer.code).customer.id == first.customer.id


def test_a_failed_sweep_costs_the_request_nothing(coded: Register, clock: Any,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Forgetting old keys is housekeeping after the registration: if it fails (a lock
    timeout, say), the customer is registered and the key finished all the same."""
    from sqlalchemy.exc import OperationalError

    def failing(ctx: Any) -> int:
        raise OperationalError("DELETE", {}, Exception("lock timeout"))

    monkeypatch.setattr(idempotency, "_sweep", failing)
    first = coded.register_once(draft(), "order-17")
    assert coded.register_once(draft(), "order-17").replayed
    assert coded.find(first.customer.code).customer.id == first.customer.id
