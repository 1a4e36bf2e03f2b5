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
predicts with the match model's own m and u, untrained, for comparison. Then two runs
train m from labelled pairs instead of EM (``dedup run --labels``), two-fold: the
variants of even-numbered originals are the labels of one and are scored by the other,
and the other way round. Last, the labelled set as an incoming file (``dedup run
--file``, identifiers as the generator left them) against the demo customers, with
each model. Every run also counts the links it makes between two demo customers, which
are not scored (``demo_links``). JSON lines.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from dataclasses import replace
from typing import Any

from labelled import DEMO_SEED, draw_originals, emit

from custmdm import open_register
from custmdm.core import batch
from custmdm.core.customers import validate_draft
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
    parser.add_argument("--skip-labels", action="store_true",
                        help="leave out the two-fold runs with m from labelled pairs")
    args = parser.parse_args()
    reg = open_register(args.db)  # as the login user, like the CLI
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
            ("routine run (saved model, predict only)", False, True)]
    _runs(reg, runs, truth, population, args.threshold, saved)
    models = {"default run's model": saved}
    if not args.skip_labels:
        models.update(_labelled_runs(reg, labelled, truth, first, population,
                                     args.threshold))
    _file_runs(reg, labelled, truth, first, population, models, args.threshold)
    if not args.skip_untrained:  # last: it links tens of millions of pairs
        _runs(reg, [("match model m/u, untrained", False, False)], truth, population,
              args.threshold, saved)


def _runs(reg: Any, runs: list[tuple[str, bool, bool]], truth: dict[int, int | None],
          population: int, threshold: float, saved: dict[str, Any]) -> None:
    """Link the register per run (name, train, reuse the saved model) and score it."""
    for name, train, reuse in runs:
        models: dict[str, Any] = {}
        pairs: list[batch.Prediction] = []
        seconds: dict[str, float] = {}
        demo: Counter[str] = Counter()
        start = time.perf_counter()
        for group, kinds in batch.GROUPS.items():
            with reg.store.read() as conn:
                rows = [batch.frame_row(cid, record) for cid, record in
                        batch.master_records(conn, [k.value for k in kinds], reg.store.fields)]
            read = time.perf_counter()
            timings: dict[str, float] = {}
            found, _, model = batch.train_and_predict(
                rows, group, model=saved.get(group) if reuse else None, train=train,
                threshold=threshold, timings=timings)
            seconds[f"{group}.read"] = round(read - start, 1)
            seconds.update({f"{group}.{k}": v for k, v in timings.items()})
            models[group] = model
            pairs += found
            demo.update(_demo_links(found, rows, population))
            start = time.perf_counter()
        if train:
            saved.update(models)
        splink_seconds = round(sum(v for k, v in seconds.items() if not k.endswith("read")),
                               2)
        emit({"what": name, "threshold": threshold, "splink_seconds": splink_seconds,
              "seconds": seconds, **_accuracy(pairs, truth),
              "demo_links": dict(demo)})


def _labelled_runs(reg: Any, labelled: list[Any], truth: dict[int, int | None], first: int,
                   population: int, threshold: float) -> dict[str, Any]:
    """m estimated from labelled pairs, two-fold: the variants of even originals label
    the training of a model that is scored on the odd ones' variants and negatives,
    then the other way round, so no pair is scored by a model that saw it."""
    fold = {first + n: item.entity % 2 for n, item in enumerate(labelled)}
    halves = (0, 1)
    models: dict[str, Any] = {f"m from labels, fold {half}": {} for half in halves}
    pairs: dict[int, list[batch.Prediction]] = {half: [] for half in halves}
    seconds: dict[int, dict[str, float]] = {half: {} for half in halves}
    demo: dict[int, Counter[str]] = {half: Counter() for half in halves}
    labels_used: dict[int, dict[str, int]] = {half: {} for half in halves}
    for group, kinds in batch.GROUPS.items():  # the register read once for both folds
        with reg.store.read() as conn:
            rows = [batch.frame_row(cid, record) for cid, record in
                    batch.master_records(conn, [k.value for k in kinds], reg.store.fields)]
        ids = {row["unique_id"] for row in rows}
        for half in halves:
            labels = [(v, o) for v, o in truth.items()
                      if o is not None and fold[v] == half and v in ids]
            labels_used[half][group] = len(labels)
            timings: dict[str, float] = {}
            found, _, models[f"m from labels, fold {half}"][group] = batch.train_and_predict(
                rows, group, labels=labels, threshold=threshold, timings=timings)
            seconds[half].update({f"{group}.{k}": v for k, v in timings.items()})
            pairs[half] += found
            demo[half].update(_demo_links(found, rows, population))
    totals: list[dict[str, Any]] = []
    for half in halves:
        scored = {v: o for v, o in truth.items() if fold[v] != half}
        accuracy = _accuracy(pairs[half], scored, set(truth))
        totals.append(accuracy)
        predict = round(sum(v for k, v in seconds[half].items() if k.endswith("predict")), 2)
        emit({"what": f"m from labels, fold {half}", "labels": labels_used[half],
              "threshold": threshold,
              "splink_seconds": round(sum(seconds[half].values()), 2),
              "predict_seconds": predict, "seconds": seconds[half], **accuracy,
              "demo_links": dict(demo[half])})
    tp, fp, fn = (sum(t[key] for t in totals) for key in ("tp", "fp", "fn"))
    emit({"what": "m from labels, both folds", "tp": tp, "fp": fp, "fn": fn,
          **_scores(tp, fp, fn)})
    return models


def _file_runs(reg: Any, labelled: list[Any], truth: dict[int, int | None], first: int,
               population: int, models: dict[str, Any], threshold: float) -> None:
    """The labelled set as an incoming file (``dedup run --file``), as the generator
    made it: half the variants keep their identifiers, which a register cannot hold
    twice. Linked to the demo customers (the registered copies of the set left out)
    with each model; a label-trained model scores only the other fold."""
    master: dict[str, dict[int, Any]] = {}
    for group, kinds in batch.GROUPS.items():
        with reg.store.read() as conn:
            master[group] = {cid: record for cid, record in
                             batch.master_records(conn, [k.value for k in kinds], reg.store.fields)
                             if cid <= population}
    incoming = {first + n: validate_draft(item.draft).match_record()
                for n, item in enumerate(labelled)}
    folds: list[dict[str, Any]] = []
    for name, model in models.items():
        start = time.perf_counter()
        pairs: list[batch.Prediction] = []
        for group, kinds in batch.GROUPS.items():
            mine = {key: r for key, r in incoming.items() if r.kind in kinds}
            pairs += [batch.Prediction(key, cid, p) for key, cid, p in batch.link_records(
                group, mine, master[group], model.get(group), threshold)]
        seconds = round(time.perf_counter() - start, 2)
        scored = truth
        if "fold" in name:
            half = int(name[-1])
            scored = {v: o for v, o in truth.items()
                      if labelled[v - first].entity % 2 != half}
        accuracy = _accuracy(pairs, scored, set(truth))
        if "fold" in name:
            folds.append(accuracy)
        emit({"what": f"incoming file, {name}", "records": len(scored),
              "threshold": threshold, "seconds": seconds, **accuracy})
    if folds:
        tp, fp, fn = (sum(f[key] for f in folds) for key in ("tp", "fp", "fn"))
        emit({"what": "incoming file, m from labels, both folds", "tp": tp, "fp": fp,
              "fn": fn, **_scores(tp, fp, fn)})


def _accuracy(pairs: list[batch.Prediction], truth: dict[int, int | None],
              labelled: set[int] | None = None) -> dict[str, Any]:
    """Scores of the records in ``truth``; links to any ``labelled`` record (default:
    those in ``truth``) are left aside, as neither a hit nor a false link."""
    linked: dict[int, set[int]] = {}
    for p in pairs:
        linked.setdefault(p.left, set()).add(p.right)
        linked.setdefault(p.right, set()).add(p.left)
    aside = set(truth) if labelled is None else labelled
    tp = fp = fn = 0
    for cid, original in truth.items():
        others = linked.get(cid, set()) - aside
        if original is not None:
            tp += original in others
            fn += original not in others
        fp += len(others - {original})
    return {"tp": tp, "fp": fp, "fn": fn, **_scores(tp, fp, fn)}


def _demo_links(pairs: list[batch.Prediction], rows: list[dict[str, Any]],
                population: int) -> Counter[str]:
    """Pairs linked between two demo customers, which are not scored: "same name in
    county" (the generator gave one core twice in a county, or abroad, without a region,
    one name twice: no matcher can tell them apart) and "look-alike" (any other: each a
    cluster a steward reviews for nothing).
    A model that links loosely shows here, not in the scores."""
    demo = [p for p in pairs if p.left <= population and p.right <= population]
    wanted = {i for p in demo for i in (p.left, p.right)}
    seen = {row["unique_id"]: (row["core"], row["region"]) for row in rows
            if row["unique_id"] in wanted}
    return Counter("same name in county" if seen[p.left] == seen[p.right] else "look-alike"
                   for p in demo)


def _scores(tp: int, fp: int, fn: int) -> dict[str, float]:
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4),
            "f1": round(f1, 4)}


def _id_of(reg: Any, code: str | None) -> int:
    assert code is not None
    return int(reg.find(code).customer.id)


if __name__ == "__main__":
    main()
