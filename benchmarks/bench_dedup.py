"""The duplicate check on entry: precision, recall and F1 on labelled duplicates, and
its latency, in a register of demo customers.

    python benchmarks/bench_dedup.py --db URL [--customers 1000000] [--originals 2000]

On an empty database it first builds the demo register (``load_demo``, seed 2026, so
customer number i has id i + 1). ``--originals`` of its customers are drawn (seeded);
``demo.duplicates.labelled_duplicates`` makes variants of about 30 % of them the way
duplicates happen (short name, traditional characters, typo, homophone, other legal
form, region dropped …, identifiers missing half the time) and hard negatives (same
trade name in another city and trade; same person name, another person). Every variant
and negative is checked with ``Register.check_duplicates``, not registered:

* a variant counts as found (true positive) when the check would warn or block and its
  best candidate is the customer it was made from; otherwise a false negative (and a
  false positive too when it points at another customer);
* a hard negative that would be warned or blocked is a false positive.

Originals whose name core the demo register holds more than once in the same city
(abroad: the same name) are skipped and counted. A registration authority does not give
one name twice in its area, but the demo generator draws trade names from 71 characters
and does not avoid it; no matcher can tell such customers apart by name, and the
labels would call a correct answer wrong.

The same is counted for "block" alone, and for warn-or-block counting a variant as found
when its original is among the candidates the check shows with an action (what the
clerk is told), not only first. Each check is timed end to end (validation,
blocking-key lookup, reading candidates, scoring). Prints JSON lines.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter

from labelled import DEMO_SEED, draw_originals, emit

from custmdm import open_register
from custmdm.demo.duplicates import labelled_duplicates
from custmdm.demo.generator import DemoGenerator
from custmdm.demo.loader import customer_count, load_demo
from custmdm.domain.matching import Action


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--originals", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    reg = open_register(args.db)  # as the login user, like the CLI
    reg.init()
    if customer_count(reg) == 0:
        start = time.perf_counter()
        load_demo(reg, args.customers)
        emit({"what": "build", "customers": args.customers,
              "seconds": round(time.perf_counter() - start, 1)})
    population = customer_count(reg)
    indexes, ambiguous = draw_originals(reg, population, args.originals, args.seed)
    emit({"what": "originals", "drawn": len(indexes), "skipped_as_ambiguous": ambiguous})
    generator = DemoGenerator(DEMO_SEED)
    originals = [generator.customer(i) for i in indexes]
    labelled = labelled_duplicates(originals, seed=args.seed)
    counts: Counter[str] = Counter()
    negatives = 0
    misses: Counter[str] = Counter()
    timings: list[float] = []
    for item in labelled:
        if item.how == "original":
            continue
        start = time.perf_counter()
        result = reg.check_duplicates(item.draft)
        timings.append(time.perf_counter() - start)
        best = result.candidates[0] if result.candidates else None
        negative = item.entity >= len(originals)
        negatives += negative
        expected = None if negative else indexes[item.entity] + 1
        flagged_ids = {c.customer_id for c in result.candidates if c.action}
        for level, actions, listed in (
                ("warn", (Action.WARN, Action.BLOCK, Action.LINK), False),
                ("block", (Action.BLOCK, Action.LINK), False),
                ("warn, among the candidates shown", (Action.WARN, Action.BLOCK,
                                                      Action.LINK), True)):
            flagged = result.action in actions and best is not None
            right = flagged and best is not None and (
                expected in flagged_ids if listed else best.customer_id == expected)
            if negative:
                counts[f"{level}:fp"] += flagged
                counts[f"{level}:tn"] += not flagged
            else:
                counts[f"{level}:tp"] += right
                counts[f"{level}:fn"] += not right
                counts[f"{level}:fp"] += flagged and not right
                if level == "warn" and not right:
                    misses[item.how] += 1
    for level in ("warn", "block", "warn, among the candidates shown"):
        tp, fp, fn = (counts[f"{level}:{k}"] for k in ("tp", "fp", "fn"))
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        emit({"what": "accuracy", "flagged_from": level, "register": population,
              "variants": tp + fn, "negatives": negatives, "tp": tp, "fp": fp, "fn": fn,
              "precision": round(precision, 4), "recall": round(recall, 4),
              "f1": round(f1, 4)})
    emit({"what": "misses by variant (warn)", **dict(misses.most_common())})
    ms = sorted(t * 1000 for t in timings)
    emit({"what": "latency", "register": population, "checks": len(ms),
          "p50_ms": round(statistics.median(ms), 2),
          "p95_ms": round(ms[int(0.95 * (len(ms) - 1))], 2), "max_ms": round(ms[-1], 2)})
    reg.close()


if __name__ == "__main__":
    main()
