"""Full registrations per second with N concurrent writer processes.

    python benchmarks/bench_register.py --db URL --rule gapless|gap-allowed \\
        [--workers 8] [--count 4000]

The database must be empty; the script initialises it, adds one rule and registers
``count`` generated customers (valid identifiers, realistic names) split over the
workers. Drafts are generated before the clock starts. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import time
from typing import Any

from custmdm import open_register
from custmdm.demo.generator import DemoGenerator

PATTERNS = {
    "gapless": "G{seq:7}{check:mod37-2}",
    "gap-allowed": "C{kind}{seq:7}{check:mod37-2}",
}


def worker(url: str, start: int, count: int, barrier: Any, results: Any) -> None:
    drafts = list(DemoGenerator(seed=99).customers(count, start=start))
    reg = open_register(url)  # as the login user, like the CLI
    reg.rules()  # warm the connection pool and the rule cache
    failures = 0
    barrier.wait()
    began = time.perf_counter()
    for draft in drafts:
        try:
            # The duplicate check runs as for every registration; generated customers
            # may look alike, so a warning is overridden (a block still counts as a
            # failure).
            reg.register(draft, override_reason="benchmark")
        except Exception:  # every failure is counted and reported
            failures += 1
    results.put((began, time.perf_counter(), count - failures, failures))
    reg.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", required=True)
    parser.add_argument("--rule", choices=sorted(PATTERNS), required=True)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--count", type=int, default=4000)
    args = parser.parse_args()

    reg = open_register(args.db)  # as the login user, like the CLI
    reg.init()
    reg.add_rule("bench", PATTERNS[args.rule], gapless=args.rule == "gapless")
    reg.close()

    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(args.workers), ctx.Queue()
    share = args.count // args.workers
    procs = [ctx.Process(target=worker, args=(args.db, w * share, share, barrier, results))
             for w in range(args.workers)]
    for p in procs:
        p.start()
    rows = [results.get() for _ in procs]
    for p in procs:
        p.join()
    began = min(r[0] for r in rows)
    ended = max(r[1] for r in rows)
    registered = sum(r[2] for r in rows)
    failures = sum(r[3] for r in rows)
    reg = open_register(args.db)
    check_ok = reg.check_codes().ok
    reg.close()
    print(json.dumps({
        "benchmark": f"register-{args.rule}", "database": args.db.split(":")[0],
        "workers": args.workers, "registered": registered, "failed": failures,
        "seconds": round(ended - began, 3),
        "per_second": round(registered / (ended - began), 1), "check_codes_ok": check_ok,
    }))


if __name__ == "__main__":
    main()
