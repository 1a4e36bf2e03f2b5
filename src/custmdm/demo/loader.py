"""Loading the demo register: its coding rules, then generated customers in bulk."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import partial

from sqlalchemy import func, select

from custmdm.core.bulk import (
    BulkResult,
    PreparedBatch,
    ordered_map_with_items,
    prepare_batch,
    write_prepared,
)
from custmdm.core.coding import cached_rules
from custmdm.core.customers import validate_draft
from custmdm.core.naming import cached_naming_rules
from custmdm.demo.generator import DEMO_RULES, DemoGenerator
from custmdm.domain.naming import NamingRule
from custmdm.domain.rules import CodingRule
from custmdm.register import Register
from custmdm.security.fields import SensitiveFields
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
    ctx = reg.ctx
    owner, today, rules = ctx.actor.name, ctx.today(), cached_rules(ctx)
    names = tuple(cached_naming_rules(ctx))
    starts = range(present, present + count, batch_size)
    tasks = [(seed, start, min(batch_size, present + count - start), owner, rules, today,
              names, ctx.store.fields) for start in starts]
    total, first, last = 0, None, None
    for task, batch in ordered_map_with_items(generate_prepared_batch, tasks, helpers):
        codes = write_prepared(ctx, batch, partial(_generate_again, task))
        total += len(codes)
        first, last = first or codes[0], codes[-1]
        if progress is not None:
            progress(len(codes))
    return DemoLoad(added, BulkResult(total, first, last))


DemoTask = tuple[int, int, int, str, Sequence[CodingRule], date, Sequence[NamingRule],
                 SensitiveFields]


def _generate_again(task: DemoTask, rules: list[CodingRule]) -> PreparedBatch:
    seed, start, count, owner, _, today, names, fields = task
    return generate_prepared_batch((seed, start, count, owner, rules, today, names, fields))


def generate_prepared_batch(task: DemoTask) -> PreparedBatch:
    """Generate, validate and prepare one batch of demo customers (runs in helpers)."""
    seed, start, count, owner, rules, today, names, fields = task
    valid = [validate_draft(d, default_owner=owner)
             for d in DemoGenerator(seed).customers(count, start=start)]
    return prepare_batch(valid, rules, today, fields, start + 1, names)
