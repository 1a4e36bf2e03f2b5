"""What bench_dedup.py and bench_batch.py share: drawing the originals of the labelled
set from a demo register, and printing JSON lines."""

from __future__ import annotations

import json
import random
from typing import Any

from sqlalchemy import func, select

from custmdm.demo.generator import DemoGenerator
from custmdm.domain.names import forms_of
from custmdm.store.tables import customer, customer_name

#: The demo loader's seed: customer number i has id i + 1.
DEMO_SEED = 2026


def draw_originals(reg: Any, population: int, count: int, seed: int) -> tuple[list[int], int]:
    """``count`` demo customer numbers drawn (seeded) among the first ``population``,
    and how many were skipped: those whose core another demo customer has in the same
    city (abroad: the same name). A registration authority does not give one name twice
    in its area, but the generator does not avoid it; no matcher can tell them apart."""
    rng = random.Random(seed)
    generator = DemoGenerator(DEMO_SEED)
    indexes: list[int] = []
    skipped = 0
    for i in rng.sample(range(population), min(count * 2, population)):
        if len(indexes) == count:
            break
        if _holders(reg, generator.customer(i), population) > 1:
            skipped += 1
            continue
        indexes.append(i)
    return indexes, skipped


def _holders(reg: Any, draft: Any, population: int) -> int:
    """Demo customers (ids up to ``population``, so a second run draws the same) with
    the core of ``draft``'s legal name in its city."""
    forms = forms_of(draft.legal_name)
    query = (select(func.count(func.distinct(customer_name.c.customer_id)))
             .join(customer, customer.c.id == customer_name.c.customer_id)
             .where(customer.c.id <= population))
    if draft.region and draft.region.isdigit():
        query = query.where(customer_name.c.core == forms.core,
                            func.substr(customer.c.region, 1, 4) == draft.region[:4])
    else:
        query = query.where(customer_name.c.normalised == forms.normalised)
    with reg.store.read() as conn:
        return int(conn.execute(query).scalar_one())


def emit(row: dict[str, Any]) -> None:
    print(json.dumps(row, ensure_ascii=False), flush=True)
