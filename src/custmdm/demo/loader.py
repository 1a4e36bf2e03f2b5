"""Loading the demo register: its coding rules, then generated customers in bulk."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sqlalchemy import func, select

from custmdm.core.customers import CustomerDraft
from custmdm.core.registry import BulkResult
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
) -> DemoLoad:
    """Install the demo rules and register ``count`` generated customers.

    Customers continue the generator's sequence after those already present, so
    running it twice adds new customers instead of clashing on identifiers.
    """
    present = customer_count(reg)
    if if_empty and present:
        return DemoLoad([], None, skipped_because_not_empty=True)
    added = install_demo_rules(reg) if not reg.rules() else []
    generator = DemoGenerator(seed)
    drafts = generator.customers(count, start=present)
    if progress is not None:
        drafts = _reporting(drafts, progress, batch_size)
    return DemoLoad(added, reg.register_many(drafts, batch_size=batch_size))


def _reporting(
    drafts: Iterator[CustomerDraft], progress: Callable[[int], None], every: int
) -> Iterator[CustomerDraft]:
    for n, draft in enumerate(drafts, 1):
        yield draft
        if n % every == 0:
            progress(every)
