"""``custmdm check codes``: prove that codes are unique, counted and accounted for."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, func, select

from custmdm.core.coding import rule_versions
from custmdm.core.context import Context
from custmdm.domain.customer import CodeStatus, Lifecycle
from custmdm.security.access import Permission
from custmdm.store.tables import code_counter, coding_rule, customer, customer_code

#: Codes a customer can still be found by.
RESOLVING = (CodeStatus.ACTIVE.value, CodeStatus.SUPERSEDED.value, CodeStatus.RETIRED.value)
MAX_LISTED = 20


@dataclass
class CodeCheckReport:
    """Problems break an invariant; notes explain gaps that are allowed."""

    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "problems": self.problems, "notes": self.notes,
                "counts": self.counts}


def check_codes(ctx: Context) -> CodeCheckReport:
    """Run every code invariant in one consistent snapshot."""
    ctx.require(Permission.READ_AUDIT)
    report = CodeCheckReport()
    with ctx.store.read() as conn:
        status_counts = conn.execute(
            select(customer_code.c.status, func.count()).group_by(customer_code.c.status)
        )
        report.counts = {status: int(n) for status, n in status_counts}

        duplicates = conn.execute(
            select(customer_code.c.value, func.count())
            .group_by(customer_code.c.value).having(func.count() > 1).limit(MAX_LISTED)
        ).all()
        for value, n in duplicates:
            report.problems.append(f"code {value} is recorded {n} times")

        # Every number ever taken (whatever its status) must be below its counter.
        highest = conn.execute(
            select(coding_rule.c.name, customer_code.c.scope_key, func.max(customer_code.c.seq))
            .join(coding_rule, coding_rule.c.id == customer_code.c.rule_id)
            .where(customer_code.c.seq.is_not(None))
            .group_by(coding_rule.c.name, customer_code.c.scope_key)
        ).all()
        counters = {(r.rule_name, r.scope_key): int(r.next_value)
                    for r in conn.execute(select(code_counter))}
        for name, scope, top in highest:
            next_value = counters.get((name, scope or ""))
            if next_value is None or next_value <= top:
                report.problems.append(
                    f"{_label(name, scope)}: counter is {next_value} but number {top} was "
                    "taken; the next code would collide"
                )
        report.problems.extend(_gapless_holes(conn, counters))

        unowned = conn.execute(
            select(customer_code.c.value, customer_code.c.status)
            .outerjoin(customer, customer.c.id == customer_code.c.customer_id)
            .where(customer_code.c.status.in_(RESOLVING), customer.c.id.is_(None))
            .limit(MAX_LISTED)
        ).all()
        for value, status in unowned:
            report.problems.append(f"{status} code {value} does not resolve to a customer")

        without_code = conn.execute(
            select(customer.c.id, customer.c.legal_name)
            .outerjoin(customer_code, (customer_code.c.customer_id == customer.c.id)
                       & (customer_code.c.status == CodeStatus.ACTIVE.value))
            .where(customer.c.lifecycle.not_in([Lifecycle.RETIRED.value,
                                                Lifecycle.MERGED.value]),
                   customer_code.c.id.is_(None))
            .limit(MAX_LISTED)
        ).all()
        for cid, name in without_code:
            report.problems.append(f"customer {cid} ({name}) has no active code")

        versions = rule_versions(ctx, conn)
        malformed = 0
        for value, rule_id in conn.execute(
            select(customer_code.c.value, customer_code.c.rule_id)
            .where(customer_code.c.rule_id.is_not(None))
        ):
            if not versions[rule_id].pattern.verify(value):
                malformed += 1
                if malformed <= MAX_LISTED:
                    report.problems.append(
                        f"code {value} does not fit its rule {versions[rule_id].name!r} "
                        f"({versions[rule_id].pattern.text}) or fails its check character"
                    )

        reserved = report.counts.get(CodeStatus.RESERVED.value, 0)
        if reserved:
            report.notes.append(
                f"{reserved} code(s) reserved but not issued: registrations in flight, or "
                "interrupted ones; the numbers stay taken, so the gap is explained"
            )
        void = report.counts.get(CodeStatus.VOID.value, 0)
        if void:
            report.notes.append(f"{void} code(s) void: taken but never used, never reissued")
    return report


def _label(name: str, scope: str | None) -> str:
    return f"rule {name!r}" + (f" scope {scope!r}" if scope else "")


def _gapless_holes(conn: Connection, counters: dict[tuple[str, str], int]) -> list[str]:
    """Holes in gapless series: from the first number a gapless version issued (number
    1 unless the rule allowed gaps before), every number up to the counter must belong
    to a customer (active, superseded or retired)."""
    gapless_versions = select(coding_rule.c.id).where(coding_rule.c.gapless)
    starts = conn.execute(
        select(coding_rule.c.name, customer_code.c.scope_key, func.min(customer_code.c.seq))
        .join(coding_rule, coding_rule.c.id == customer_code.c.rule_id)
        .where(customer_code.c.rule_id.in_(gapless_versions))
        .group_by(coding_rule.c.name, customer_code.c.scope_key)
    ).all()
    problems = []
    for name, scope, first in starts:
        in_scope = (
            select(func.count(func.distinct(customer_code.c.seq)))
            .join(coding_rule, coding_rule.c.id == customer_code.c.rule_id)
            .where(coding_rule.c.name == name, customer_code.c.scope_key == scope)
        )
        earlier_gaps = conn.execute(
            in_scope.where(coding_rule.c.gapless.is_(False))
        ).scalar_one()
        start = first if earlier_gaps else 1
        held = conn.execute(
            in_scope.where(customer_code.c.seq >= start,
                           customer_code.c.status.in_(RESOLVING))
        ).scalar_one()
        next_value = counters.get((name, scope or ""), 1)
        if held != next_value - start:
            problems.append(
                f"{_label(name, scope)} is gapless but only {held} of the numbers {start} to "
                f"{next_value - 1} belong to customers: there are holes"
            )
    return problems
