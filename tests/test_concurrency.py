"""Many OS processes registering at once never share a code (both databases)."""

from __future__ import annotations

import multiprocessing as mp
from collections import Counter

import pytest
from sqlalchemy import select

from custmdm import CustomerDraft, Identifier, open_register
from custmdm.demo.generator import make_uscc
from custmdm.register import Register
from custmdm.store.tables import coding_rule, customer_code

WORKERS = 8
PER_WORKER = 25


def _register_worker(url: str, worker: int, per_worker: int, start: mp.Barrier) -> None:  # type: ignore[type-arg]
    reg = open_register(url, actor=f"worker{worker}")
    start.wait()
    for n in range(per_worker):
        index = worker * 10_000 + n
        kind = "government" if n % 2 else "enterprise"
        reg.register(CustomerDraft(
            kind=kind, legal_name=f"并发测试{worker}-{n}有限公司", region="440305",
            identifiers=[Identifier("cn.uscc", make_uscc("9", "1", "440305", index))],
        ), override_reason="names that differ in a number are different customers here")
    reg.close()


@pytest.mark.slow
def test_parallel_processes_on_a_gapless_and_a_gap_allowed_rule(reg: Register) -> None:
    reg.add_rule("gapless", "G{seq:6}{check:mod37-2}", kind="government", gapless=True,
                 priority=10)
    reg.add_rule("gappy", "C{region:2}{seq:6}{check:mod37-2}", priority=20)
    url = reg.store.url
    for w in range(WORKERS):
        reg.add_user(f"worker{w}")
        reg.grant(f"worker{w}", "data_steward", "all")
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(WORKERS)
    procs = [ctx.Process(target=_register_worker, args=(url, w, PER_WORKER, barrier))
             for w in range(WORKERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
    assert [p.exitcode for p in procs] == [0] * WORKERS

    with reg.store.read() as conn:
        rows = conn.execute(
            select(customer_code.c.value, customer_code.c.seq, customer_code.c.status,
                   coding_rule.c.name)
            .join(coding_rule, coding_rule.c.id == customer_code.c.rule_id)
        ).all()
    values = [r.value for r in rows]
    assert len(values) == len(set(values))
    active = [r for r in rows if r.status == "active"]
    assert len(active) == WORKERS * PER_WORKER
    gapless = sorted(r.seq for r in active if r.name == "gapless")
    total_gov = WORKERS * (PER_WORKER // 2)
    assert gapless == list(range(1, total_gov + 1))
    by_status = Counter(r.status for r in rows if r.name == "gappy")
    assert by_status["active"] == WORKERS * PER_WORKER - total_gov
    report = reg.check_codes()
    assert report.ok, report.problems
    chain = reg.verify_audit()  # every committed entry chained, none half-written
    assert chain.intact, chain.problem
