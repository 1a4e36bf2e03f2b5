"""Batch deduplication with Splink: a default run (train, then predict) against a
routine run (the saved model: predict only), timed in the same run, with pairwise
precision, recall and F1 on labelled duplicates.

    python benchmarks/bench_batch.py --db URL [--customers 1000000] [--originals 2000]

On an empty database it builds the demo register (``load_demo``, seed 2026, so customer
number i has id i + 1), then registers the labelled variants and hard negatives of
``--originals`` drawn customers (``demo.duplicates``, as in bench_dedup.py; originals
whose core another customer has in the same city are skipped) in bulk, unchecked, as a
careless import would, and without identifiers (the register lets an identifier belong
to one active customer only). Both runs link the whole register (organisations and individuals
separately, DuckDB, threshold 0.9). Scored pairs: those with a labelled variant or
negative on one side. A variant linked to its original is a true positive; linked to
anyone else, a false positive; its original not linked, a false negative. A third run
predicts with the match model's own m and u, untrained, for comparison. JSON lines.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from typing import Any

from labelled import DEMO_SEED, draw_originals, emit

from custmdm import open_register
from custmdm.core import batch
from custmdm.demo.duplicates import labelled_duplicates
from custmdm.demo.generator import DemoGenerator
from custmdm.demo.loader import customer_count, load_demo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--originals", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--threshold", type=float, default=batch.THRESHOLD)
    parser.add_argument("--skip-untrained", action="store_true")
    args = parser.parse_args()
    reg = open_register(args.db, actor="bench")
    reg.init()
    for rule in reg.match_rules():
        reg.set_match_rule(rule.kind, rule.action, None)  # an unchecked import
    if customer_count(reg) == 0:
        start = time.perf_counter()
        load_demo(reg, args.customers)
        emit({"what": "build", "customers": args.customers,
              "seconds": round(time.perf_counter() - start, 1)})
    registered = customer_count(reg)
    population = min(registered, args.customers)
    indexes, _ = draw_originals(reg, population, args.originals, args.seed)
    generator = DemoGenerator(DEMO_SEED)
    labelled = [item for item in labelled_duplicates(
        [generator.customer(i) for i in indexes], seed=args.seed) if item.how != "original"]
    # An identifier belongs to one active customer, so an import cannot repeat one:
    # every variant arrives without them.
    if registered == population + len(labelled):  # an earlier run registered them
        first = population + 1
    else:
        result = reg.register_many([replace(item.draft, identifiers=())
                                    for item in labelled])
        first = _id_of(reg, result.first_code)
    truth: dict[int, int | None] = {}  # labelled customer id -> its original's id
    for n, item in enumerate(labelled):
        negative = item.entity >= len(indexes)
        truth[first + n] = None if negative else indexes[item.entity] + 1
    emit({"what": "labelled", "variants": sum(v is not None for v in truth.values()),
          "negatives": sum(v is None for v in truth.values())})
    saved: dict[str, Any] = {}
    runs = [("default splink run (train + predict)", True, False),
            ("routine run (saved model, predict only)", False, True),
            ("match model m/u, untrained", False, False)]
    for name, train, reuse in runs[:2] if args.skip_untrained else runs:
        models: dict[str, Any] = {}
        pairs: list[batch.Prediction] = []
        seconds: dict[str, float] = {}
        start = time.perf_counter()
        for group, kinds in batch.GROUPS.items():
            with reg.store.read() as conn:
                rows = [batch.frame_row(cid, record) for cid, record in
                        batch.master_records(conn, [k.value for k in kinds])]
            read = time.perf_counter()
            timings: dict[str, float] = {}
            found, _, model = batch.train_and_predict(
                rows, group, model=saved.get(group) if reuse else None, train=train,
                threshold=args.threshold, timings=timings)
            seconds[f"{group}.read"] = round(read - start, 1)
            seconds.update({f"{group}.{k}": v for k, v in timings.items()})
            models[group] = model
            pairs += found
            start = time.perf_counter()
        if train:
            saved.update(models)
        splink_seconds = round(sum(v for k, v in seconds.items() if not k.endswith("read")),
                               2)
        emit({"what": name, "threshold": args.threshold, "splink_seconds": splink_seconds,
              "seconds": seconds, **_accuracy(pairs, truth)})


def _accuracy(pairs: list[batch.Prediction], truth: dict[int, int | None]) -> dict[str, Any]:
    linked: dict[int, set[int]] = {}
    for p in pairs:
        linked.setdefault(p.left, set()).add(p.right)
        linked.setdefault(p.right, set()).add(p.left)
    tp = fp = fn = 0
    for cid, original in truth.items():
        others = linked.get(cid, set()) - set(truth)  # links among labelled ones aside
        if original is not None:
            tp += original in others
            fn += original not in others
        fp += len(others - {original})
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"tp": tp, "fp": fp, "fn": fn, "precision": round(precision, 4),
            "recall": round(recall, 4), "f1": round(f1, 4)}


def _id_of(reg: Any, code: str | None) -> int:
    assert code is not None
    return int(reg.find(code).customer.id)


if __name__ == "__main__":
    main()
