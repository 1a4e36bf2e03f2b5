"""Search latency at scale: p50/p95 per kind of query, next to a plain rapidfuzz scan.

    python benchmarks/bench_search.py --db URL [--customers 1000000] [--queries 200]

On an empty database it first builds the demo register (timed; several names per
enterprise) and maps 10 % of the customers to an ERP id. Queries are drawn from the
register itself (seeded): an exact code, an exact legal name, a short name, a substring
of a name's core (4 characters), the pinyin initials of a short name, a legal name with
one character of its core replaced, and an ERP id. Each is timed end to end through
``Register.search`` (limit 10) and counted as found when the customer it was drawn from
is among the hits. Each kind is measured twice: first as drawn, then the same queries
again (their pages now in memory, as on a server that has been answering searches for
a while). With ``--drop-caches`` the OS page cache is emptied before each first pass,
so those pages come from disk. The peer: rapidfuzz ``process.extract`` with ``WRatio`` over every
normalised name held in memory, for a few of the same typo queries. Prints JSON lines.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz, process
from sqlalchemy import func, select, text

from custmdm import open_register
from custmdm.demo.generator import TRADE_NAME_CHARACTERS
from custmdm.demo.loader import customer_count, load_demo
from custmdm.domain.names import parse_name
from custmdm.register import Register
from custmdm.store.tables import customer, customer_code, customer_name, system, xref


def build(reg: Register, customers: int) -> dict[str, Any]:
    start = time.perf_counter()
    load_demo(reg, customers)
    built = time.perf_counter() - start
    start = time.perf_counter()
    reg.add_system("ERP")
    with reg.store.write() as conn:
        system_id = conn.execute(select(system.c.id)).scalar_one()
        ids = list(conn.execute(select(customer.c.id).where(customer.c.id % 10 == 0)).scalars())
        now = reg.ctx.now()
        reg.store.insert_many(conn, xref, ("system_id", "external_id", "customer_id",
                                           "created_at"),
                              [(system_id, f"K-{i:08d}", i, now) for i in ids])
    return {"build_seconds": round(built, 1), "xref_seconds": round(time.perf_counter() - start, 1),
            "xrefs": len(ids)}


def database_size(reg: Register) -> int:
    if reg.store.is_sqlite:
        path = Path(reg.store.engine.url.database or "")
        return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    with reg.store.read() as conn:
        return int(conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one())


def draw_queries(reg: Register, count: int, rng: random.Random) -> dict[str, list[tuple[str, int]]]:
    """(query, customer id it was drawn from) per kind."""
    with reg.store.read() as conn:
        top = int(conn.execute(select(func.max(customer.c.id))).scalar_one())
        picks = sorted(rng.sample(range(1, top + 1), min(count * 4, top)))
        codes = conn.execute(select(customer_code.c.customer_id, customer_code.c.value)
                             .where(customer_code.c.customer_id.in_(picks),
                                    customer_code.c.status == "active")).all()
        names = conn.execute(select(customer_name.c.customer_id, customer_name.c.kind,
                                    customer_name.c.text, customer_name.c.core,
                                    customer_name.c.initials)
                             .where(customer_name.c.customer_id.in_(picks))).all()
        xrefs = conn.execute(select(xref.c.customer_id, xref.c.external_id)
                             .where(xref.c.customer_id.in_(picks))).all()
    legal = [n for n in names if n.kind == "legal" and parse_name(n.text).trade_name
             and len(n.core) >= 4 and n.core != n.text.casefold()]
    short = [n for n in names if n.kind == "short"]

    def typo(name: Any) -> str:
        core_start = name.text.find(name.core[:2])
        at = max(core_start, 0) + rng.randrange(min(len(name.core), 4))
        other = rng.choice(TRADE_NAME_CHARACTERS.replace(name.text[at], ""))
        return name.text[:at] + other + name.text[at + 1:]

    def substring(name: Any) -> str:
        at = rng.randrange(len(name.core) - 3)
        return name.core[at:at + 4]

    return {
        "exact code": [(c.value, c.customer_id) for c in codes[:count]],
        "exact legal name": [(n.text, n.customer_id) for n in legal[:count]],
        "short name": [(n.text, n.customer_id) for n in short[:count]],
        "substring": [(substring(n), n.customer_id) for n in legal[:count]],
        "pinyin initials": [(n.initials, n.customer_id) for n in short[:count]],
        "one-typo name": [(typo(n), n.customer_id) for n in legal[:count]],
        "external id": [(x.external_id, x.customer_id) for x in xrefs[:count]],
    }


def drop_page_cache() -> None:
    """Write dirty pages, then drop the kernel's page cache (the database server's own
    buffers, such as PostgreSQL's shared_buffers, are not touched)."""
    os.sync()
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError as error:
        raise SystemExit(f"--drop-caches needs root on Linux: {error}") from error


def measure(reg: Register, queries: list[tuple[str, int]]) -> dict[str, Any]:
    times, found = [], 0
    for query, wanted in queries:
        start = time.perf_counter()
        hits = reg.search(query, limit=10)
        times.append((time.perf_counter() - start) * 1000)
        found += any(h.customer.id == wanted for h in hits)
    times.sort()
    return {"queries": len(times), "p50_ms": round(statistics.median(times), 2),
            "p95_ms": round(times[int(len(times) * 0.95) - 1], 2),
            "found_percent": round(100 * found / max(len(times), 1), 1)}


def rapidfuzz_peer(reg: Register, queries: list[tuple[str, int]]) -> dict[str, Any]:
    with reg.store.read() as conn:
        names = list(conn.execute(select(customer_name.c.normalised)).scalars())
    times = []
    for query, _ in queries:
        start = time.perf_counter()
        process.extract(query, names, scorer=fuzz.WRatio, limit=10)
        times.append((time.perf_counter() - start) * 1000)
    return {"names_scanned": len(names), "queries": len(times),
            "p50_ms": round(statistics.median(times), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", required=True)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--peer-queries", type=int, default=5)
    parser.add_argument("--drop-caches", action="store_true",
                        help="empty the OS page cache before each kind's first pass "
                             "(Linux, root): every page a query needs comes from disk")
    args = parser.parse_args()
    reg = open_register(args.db)  # as the login user, like the CLI
    reg.init()
    database = args.db.split(":")[0]
    if customer_count(reg) == 0:
        print(json.dumps({"benchmark": "search-build", "database": database,
                          "customers": args.customers, **build(reg, args.customers)}),
              flush=True)
    print(json.dumps({"benchmark": "search-size", "database": database,
                      "customers": customer_count(reg),
                      "database_mb": round(database_size(reg) / 2**20)}), flush=True)
    queries = draw_queries(reg, args.queries, random.Random(7))
    for kind, drawn in queries.items():
        measure(reg, drawn[:5])  # warm the code paths of this kind of query
        if args.drop_caches:
            drop_page_cache()
        first = measure(reg, drawn)
        again = measure(reg, drawn)  # the same queries: their pages now in memory
        print(json.dumps({"benchmark": "search", "database": database, "kind": kind,
                          **first, "again_p50_ms": again["p50_ms"],
                          "again_p95_ms": again["p95_ms"]}), flush=True)
    if args.peer_queries:
        print(json.dumps({"benchmark": "search-rapidfuzz-scan", "database": database,
                          "kind": "one-typo name",
                          **rapidfuzz_peer(reg, queries["one-typo name"][:args.peer_queries])}),
              flush=True)
    reg.close()


if __name__ == "__main__":
    main()
