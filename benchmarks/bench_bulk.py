"""Bulk registration throughput: one ``register_many`` call, many customers.

    python benchmarks/bench_bulk.py --db URL [--count 200000] [--batch 5000] [--validators 1]

Generates the drafts first (timed separately), then registers them in one call. With
``--validators 1`` (the default) a forked helper validates and prepares the next batch
on the second core while this process writes. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import time

from custmdm import open_register
from custmdm.demo.generator import DemoGenerator
from custmdm.demo.loader import install_demo_rules


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", required=True)
    parser.add_argument("--count", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--validators", type=int, default=1)
    args = parser.parse_args()

    reg = open_register(args.db)  # as the login user, like the CLI
    reg.init()
    install_demo_rules(reg)
    t0 = time.perf_counter()
    drafts = list(DemoGenerator(seed=1).customers(args.count))
    t1 = time.perf_counter()
    result = reg.register_many(drafts, batch_size=args.batch, validators=args.validators)
    t2 = time.perf_counter()
    ok = reg.check_codes().ok
    reg.close()
    print(json.dumps({
        "benchmark": "bulk-register", "database": args.db.split(":")[0],
        "registered": result.registered, "batch": args.batch,
        "validators": args.validators,
        "generate_seconds": round(t1 - t0, 3), "register_seconds": round(t2 - t1, 3),
        "per_second": round(result.registered / (t2 - t1), 1),
        "generate_and_register_per_second": round(result.registered / (t2 - t0), 1),
        "check_codes_ok": ok,
    }))


if __name__ == "__main__":
    main()
