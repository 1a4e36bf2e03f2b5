"""Loading the demo register: its coding rules, then generated customers in bulk."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select

from custmdm.core.bulk import BulkResult
from custmdm.core.customers import ValidCustomer, validate_draft
from custmdm.core.parallel import ordered_map
from custmdm.demo.generator import DEMO_RULES, DemoGenerator
from custmdm.register import Register
from custmdm.store.tables import customer


@dataclass(frozen=True)
class DemoLoad:
    """What loading the demo did."""

    rules_added: list[str]
    result: BulkResult | None
    skipped_because_not_empty: bool = False


def customer_count(reg: Register) -> int:
    """How many customers the register holds."""
    with reg.store.read() as conn:
        return int(conn.execute(select(func.count()).select_from(customer)).scalar_one())


def install_demo_rules(reg: Register) -> list[str]:
    """Add the demo coding rules that are missing; returns the names added."""
    existing = {s.rule.name for s in reg.rules()}
    added = []
    for rule in DEMO_RULES:
        if rule.name not in existing:
            reg.add_rule(rule.name, rule.pattern, kind=rule.kind,
                         region_prefix=rule.region_prefix, priority=rule.priority,
                         gapless=rule.gapless)
            added.append(rule.name)
    return added


def load_demo(
    reg: Register, count: int, *, seed: int = 2026, if_empty: bool = False,
    batch_size: int = 5000, progress: Callable[[int], None] | None = None,
    helpers: int | None = None,
) -> DemoLoad:
    """Install the demo rules and register ``count`` generated customers.

    Customers continue the generator's sequence after those already present, so
    running it twice adds new customers instead of clashing on identifiers.

    Generating and validating cost about as much as writing, so ``helpers`` processes
    (default: one fewer than the cores) generate and validate batches while this one
    writes the previous batch. They only compute: the database is written here.
    """
    present = customer_count(reg)
    if if_empty and present:
        return DemoLoad([], None, skipped_because_not_empty=True)
    added = install_demo_rules(reg) if not reg.rules() else []
    owner = reg.ctx.actor.name
    starts = range(present, present + count, batch_size)
    tasks = [(seed, start, min(batch_size, present + count - start), owner) for start in starts]
    total, first, last = 0, None, None
    for batch in ordered_map(generate_valid_batch, tasks, helpers):
        result = reg.register_validated(batch)
        total += result.registered
        first, last = first or result.first_code, result.last_code
        if progress is not None:
            progress(len(batch))
    return DemoLoad(added, BulkResult(total, first, last))


def generate_valid_batch(task: tuple[int, int, int, str]) -> list[ValidCustomer]:
    """Generate and validate one batch of demo customers (runs in helper processes)."""
    seed, start, count, owner = task
    return [validate_draft(d, default_owner=owner)
            for d in DemoGenerator(seed).customers(count, start=start)]
