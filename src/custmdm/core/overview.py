"""A short summary of the register: counts by kind, status, province and rule."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, true

from custmdm.core.context import Context
from custmdm.domain.customer import CodeStatus
from custmdm.security.access import Permission
from custmdm.store.tables import coding_rule, customer, customer_code


@dataclass(frozen=True)
class Overview:
    """Counts that tell at a glance what the register holds."""

    customers: int
    by_kind: dict[str, int]
    by_status: dict[str, int]
    by_province: dict[str, int]
    codes_by_rule: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {"customers": self.customers, "by_kind": self.by_kind,
                "by_status": self.by_status, "by_province": self.by_province,
                "codes_by_rule": self.codes_by_rule}


def overview(ctx: Context, top_provinces: int = 10) -> Overview:
    """Counts in one read transaction, of the customers the actor may read."""
    province = func.substr(customer.c.region, 1, 2)
    ctx.require_user()
    in_scope = ctx.scope_filter(Permission.READ)
    with ctx.store.read() as conn:
        def counts(column: Any) -> dict[str, int]:
            query = select(column, func.count()).group_by(column)
            if in_scope is not None:
                query = query.where(in_scope)
            rows = conn.execute(query.order_by(func.count().desc()))
            return {str(k): int(n) for k, n in rows}

        by_province = dict(list(counts(province).items())[:top_provinces])
        codes = conn.execute(
            select(coding_rule.c.name, func.count())
            .join(customer_code, customer_code.c.rule_id == coding_rule.c.id)
            .where(customer_code.c.status != CodeStatus.VOID.value)
            .where(true() if in_scope is None else customer_code.c.customer_id.in_(
                select(customer.c.id).where(in_scope)))
            .group_by(coding_rule.c.name)
        )
        by_kind = counts(customer.c.kind)
        return Overview(sum(by_kind.values()), by_kind, counts(customer.c.lifecycle),
                        by_province, {k: int(n) for k, n in codes})
