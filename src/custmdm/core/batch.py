"""Batch deduplication (批量查重) with Splink, and the review queue it fills.

The comparisons are those of the check on entry (domain.matching), turned into Splink
comparison levels here: EQUAL on a list field becomes an array intersection, SIMILAR a
Levenshtein-similarity SQL condition, PREFIX a substring equality, DIFFERENT the rest.
Splink then estimates m and u on the register (``train``: u by random sampling, m from
pairs a steward labelled, else by expectation maximisation) and the trained model is
stored in ``match_model``, so a routine run only predicts and clusters (connected
components of the linked pairs). DuckDB runs it in-process; the same settings run on
Spark (``splink.backends.spark``) for data beyond one machine.

Blocking for predictions uses the keys of the check where they stay selective in a
self-join: identifiers, phones, e-mails, name cores and their pinyin, and, for typos,
the city with the core less one character. Clusters of customers linked above
the threshold go to the review queue with each pair's probability and explanation; a
steward accepts (merge), rejects (never proposed again) or defers each cluster.
"""

from __future__ import annotations

import csv
import itertools
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, insert, select, update

from custmdm.core import merge as merging
from custmdm.core.audit import audit_row, write_audit
from custmdm.core.context import Context
from custmdm.core.customers import CustomerDraft, current_code_of, match_record
from custmdm.core.dedup import CURRENT_LEGAL_FIRST
from custmdm.domain.customer import Kind, Lifecycle
from custmdm.domain.matching import (
    PRIOR,
    Comparison,
    Level,
    LevelKind,
    MatchRecord,
    blocking_keys,
    comparisons_for,
    score,
)
from custmdm.domain.names import NameForms
from custmdm.errors import Conflict, NotFound, ValidationError
from custmdm.security.access import Permission
from custmdm.security.fields import SensitiveFields
from custmdm.store.tables import (
    NAME_FORM_COLUMNS,
    contact,
    customer,
    customer_code,
    customer_name,
    identifier,
    match_model,
    not_duplicate,
    review_cluster,
    review_pair,
)

_log = logging.getLogger(__name__)

#: The groups linked separately, each with its kind's comparisons.
GROUPS = {"organisations": (Kind.ENTERPRISE, Kind.GOVERNMENT, Kind.OTHER),
          "individuals": (Kind.INDIVIDUAL,)}
#: Pairs at or above this probability are linked into clusters for review.
THRESHOLD = 0.9

# -- the master as rows ----------------------------------------------------------------------


def frame_row(customer_id: int, record: MatchRecord) -> dict[str, Any]:
    """One customer as Splink sees it: lists for the many-valued fields (None when
    empty, so Splink's null levels apply)."""
    legal = record.names[0]
    return {
        "unique_id": customer_id,
        "names": _list(f.normalised for f in record.names),
        "cores": _list(f.core for f in record.names),
        "core": legal.core or None,
        "typo_keys": _list(key for key in blocking_keys(record) if key.startswith("d:")),
        "core_pinyins": _list(f.core_pinyin for f in record.names),
        "legal_form": record.legal_form,
        "region": record.region,
        "identifiers": _list(sorted(record.identifiers)),
        "id_schemes": _list(sorted({i.partition(":")[0] for i in record.identifiers})),
        "phones": _list(sorted(record.phones)),
        "emails": _list(sorted(record.emails)),
        "address": record.address,
        "person": record.person,
        "birth_date": record.birth_date,
    }


def _list(values: Iterable[str]) -> list[str] | None:
    found = list(dict.fromkeys(v for v in values if v))
    return found or None


def master_records(conn: Connection, kinds: Sequence[str], fields: SensitiveFields,
                   ) -> Iterator[tuple[int, MatchRecord]]:
    """Every customer of ``kinds`` that is not merged, with what matching compares
    (personal data opened); read in customer order, one pass over each table."""
    people = conn.execute(
        select(customer.c.id, customer.c.kind, customer.c.legal_name, customer.c.region)
        .where(customer.c.kind.in_(list(kinds)), customer.c.lifecycle != Lifecycle.MERGED)
        .order_by(customer.c.id))
    names = _Grouped(conn.execute(
        select(customer_name.c.customer_id, *(customer_name.c[c] for c in NAME_FORM_COLUMNS))
        .order_by(customer_name.c.customer_id, CURRENT_LEGAL_FIRST, customer_name.c.id)))
    # A retired customer's identifiers too, as in the check on entry (core.dedup).
    idents = _Grouped(conn.execute(
        select(identifier.c.customer_id, identifier.c.scheme, identifier.c.value,
               identifier.c.sealed)
        .order_by(identifier.c.customer_id)))
    contacts = _Grouped(conn.execute(
        select(contact.c.customer_id, contact.c.kind, contact.c.canonical)
        .order_by(contact.c.customer_id)))
    for cid, kind, legal_name, region in people:
        forms = [NameForms(*r[1:]) for r in names.take(cid)]
        ids = [f"{r[1]}:{fields.identifier_of(r[1], r[2], r[3])}" for r in idents.take(cid)]
        held = [fields.contact_of(r[1], None, r[2]) for r in contacts.take(cid)]
        if forms:
            yield cid, match_record(kind, forms, legal_name, region, ids, held)


class _Grouped:
    """Rows ordered by their first column, handed out per id as the reader advances."""

    def __init__(self, rows: Iterable[Any]) -> None:
        self._groups = itertools.groupby(rows, key=lambda r: r[0])
        self._next: tuple[int, list[Any]] | None = None
        self._advance()

    def _advance(self) -> None:
        found = next(self._groups, None)
        self._next = None if found is None else (found[0], list(found[1]))

    def take(self, customer_id: int) -> list[Any]:
        while self._next is not None and self._next[0] < customer_id:
            self._advance()
        if self._next is not None and self._next[0] == customer_id:
            rows = self._next[1]
            self._advance()
            return rows
        return []


# -- the model: domain comparisons as Splink settings ---------------------------------------

#: Which frame column a domain field is compared on, for equality and for similarity.
_LIST_COLUMNS = {"identifier": "identifiers", "name": "names", "core": "cores",
                 "core_pinyin": "core_pinyins", "phone": "phones", "email": "emails"}
_SCALAR_COLUMNS = {"core": "core"}


def splink_settings(group: str, *, trained: dict[str, Any] | None = None) -> Any:
    """Splink settings for a group: our comparisons with our m and u, or a trained
    model when given (which carries its own)."""
    from splink import SettingsCreator, block_on

    if trained is not None:
        return trained
    kind = GROUPS[group][0]
    return SettingsCreator(
        link_type="dedupe_only",
        comparisons=[_splink_comparison(c) for c in comparisons_for(kind)],
        blocking_rules_to_generate_predictions=[
            block_on("identifiers", arrays_to_explode=["identifiers"]),
            block_on("phones", arrays_to_explode=["phones"]),
            block_on("emails", arrays_to_explode=["emails"]),
            block_on("cores", arrays_to_explode=["cores"]),
            block_on("core_pinyins", arrays_to_explode=["core_pinyins"]),
            block_on("typo_keys", arrays_to_explode=["typo_keys"]),
        ],
        probability_two_random_records_match=PRIOR,
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )


def model_for(model: dict[str, Any], group: str, sql_dialect: str) -> dict[str, Any]:
    """A trained model (saved from DuckDB) as settings for another Splink backend
    (``"spark"``): the comparisons rebuilt in that dialect's SQL, with the trained m, u
    and prior copied level by level."""
    rebuilt = splink_settings(group).create_settings_dict(sql_dialect)
    rebuilt["probability_two_random_records_match"] = model[
        "probability_two_random_records_match"]
    for target, source in zip(rebuilt["comparisons"], model["comparisons"], strict=True):
        for level, trained in zip(target["comparison_levels"], source["comparison_levels"],
                                  strict=True):
            for key in ("m_probability", "u_probability"):
                if key in trained:
                    level[key] = trained[key]
    return dict(rebuilt)


def _splink_comparison(comparison: Comparison) -> Any:
    import splink.comparison_level_library as cll
    from splink import comparison_library as cl

    columns = [_column(f, LevelKind.EQUAL) for f in comparison.fields]
    null = " OR ".join(f"({' AND '.join(f'{c}_{side} IS NULL' for c in columns)})"
                       for side in "lr")
    levels: list[Any] = [cll.CustomLevel(null).configure(is_null_level=True)]
    for level in comparison.levels:
        levels.append(_splink_level(level).configure(
            m_probability=level.m, u_probability=level.u, label_for_charts=level.label))
    if comparison.levels[-1].test.kind is not LevelKind.DIFFERENT or \
            comparison.name == "identifier":
        levels.append(cll.ElseLevel().configure(m_probability=0.5, u_probability=0.5,
                                                label_for_charts="no evidence"))
    return cl.CustomComparison(levels, output_column_name=comparison.name)


def _column(field: str, kind: LevelKind) -> str:
    if kind in (LevelKind.SIMILAR, LevelKind.PREFIX):
        return _SCALAR_COLUMNS.get(field, field)
    return _LIST_COLUMNS.get(field, field)


def _splink_level(level: Level) -> Any:
    import splink.comparison_level_library as cll

    test = level.test
    column = _column(test.field, test.kind)
    if test.kind is LevelKind.EQUAL:
        if column in _LIST_COLUMNS.values():
            return cll.ArrayIntersectLevel(column, min_intersection=1)
        return cll.ExactMatchLevel(column, term_frequency_adjustments=level.term_frequency)
    if test.kind is LevelKind.SIMILAR:
        return cll.CustomLevel(
            f"1.0 - levenshtein({column}_l, {column}_r) / "
            f"greatest(length({column}_l), length({column}_r)) >= {test.threshold}",
            base_dialect_str="duckdb")
    if test.kind is LevelKind.PREFIX:
        return cll.CustomLevel(f"substr({column}_l, 1, {test.length}) = "
                               f"substr({column}_r, 1, {test.length})",
                               base_dialect_str="duckdb")
    if test.field == "identifier":  # different only under a scheme both have
        return cll.ArrayIntersectLevel("id_schemes", min_intersection=1)
    return cll.ElseLevel()


# -- running -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunResult:
    customers: int
    pairs: int
    clusters: int
    trained: bool
    seconds: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {"customers": self.customers, "pairs": self.pairs, "clusters": self.clusters,
                "trained": self.trained, "seconds": self.seconds}


@dataclass(frozen=True, slots=True)
class Prediction:
    left: int
    right: int
    probability: float


def train_and_predict(
    rows: Sequence[dict[str, Any]], group: str, *, model: dict[str, Any] | None = None,
    train: bool = True, threshold: float = THRESHOLD,
    timings: dict[str, float] | None = None, labels: Sequence[tuple[int, int]] = (),
) -> tuple[list[Prediction], list[list[int]], dict[str, Any]]:
    """Link ``rows`` (see :func:`frame_row`) with Splink on DuckDB, then cluster: with
    a trained ``model`` as it is; else trained first (``train``), or with the match
    model's own m and u. Training estimates u by random sampling, and m from
    ``labels`` (pairs of ``unique_id`` known to be one customer) when given, else by
    expectation maximisation. Returns the pairs, the clusters (customer ids, two or
    more) and the model used."""
    import time

    import pyarrow as pa
    from splink import Linker, block_on
    from splink.backends.duckdb import DuckDBAPI
    from splink.internals.exceptions import EMTrainingException

    if labels and (model is not None or not train):
        raise ValidationError("labelled pairs train a model: give them without a saved "
                              "model and with training on")
    timings = timings if timings is not None else {}
    start = time.perf_counter()
    db_api = DuckDBAPI()
    frame = db_api.register(pa.Table.from_pylist(list(rows), schema=_schema()))
    # Splink warns of every level it could not train and every sampling default; a
    # command's user needs none of that.
    linker = Linker(frame, splink_settings(group, trained=model), log_level=logging.ERROR)
    if model is None and train:
        linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
        if labels:
            _estimate_m_from_labels(linker, labels)
        else:
            for rule in (block_on("region", "substr(core, 1, 2)"), block_on("core")):
                try:
                    linker.training.estimate_parameters_using_expectation_maximisation(
                        rule)
                except (ValueError, EMTrainingException) as error:
                    # Too few pairs in the block, or an m that EM drove to 0 (a level
                    # never seen): the match model's m stays for this pass.
                    _log.info("an EM pass was skipped: %s", str(error).splitlines()[0])
        timings["train"] = round(time.perf_counter() - start, 2)
        start = time.perf_counter()
    model = model or linker.misc.save_model_to_json()
    predicted = linker.inference.predict(threshold_match_probability=threshold)
    # Three columns, not Splink's records (a dict of every column per pair): a loose
    # model links tens of millions of pairs at a million customers.
    found = predicted.as_duckdbpyrelation().select(
        "unique_id_l, unique_id_r, match_probability").to_arrow_table()
    pairs = [Prediction(left, right, probability) for left, right, probability in zip(
        *(found.column(n).to_pylist() for n in range(3)), strict=True)]
    del found
    # Clusters: connected components of the pairs, here rather than in Splink, so the
    # queue can first take out the pairs stewards rejected (see _queue).
    clusters = [ids for ids, _ in _components(pairs)]
    timings["predict"] = round(time.perf_counter() - start, 2)
    return pairs, clusters, model


#: How many labelled pairs the match model's own m counts as when m is estimated from
#: labels: a level no label reached keeps a small m rather than none (which would make
#: every such pair a non-match for ever), and a few labels move m only a little.
LABEL_PRIOR_PAIRS = 10


def _estimate_m_from_labels(linker: Any, labels: Sequence[tuple[int, int]]) -> None:
    """Set each level's m to its share among the labelled pairs (those with a value on
    both sides), smoothed toward the current m by :data:`LABEL_PRIOR_PAIRS`.

    Splink's ``estimate_m_from_pairwise_labels`` gives the bare shares, so an unseen
    level gets m = 0; this runs the same SQL (its comparison vectors of the labelled
    pairs) and keeps the counts."""
    import pyarrow as pa
    from splink.internals.block_from_labels import block_from_labels
    from splink.internals.comparison_vector_values import (
        compute_comparison_vector_values_sql,
    )
    from splink.internals.pipeline import CTEPipeline
    from splink.internals.vertically_concatenate import enqueue_df_concat_with_tf

    pairs = list(dict.fromkeys((min(a, b), max(a, b)) for a, b in labels))
    if any(a == b for a, b in pairs):
        raise ValidationError("a labelled pair must name two different customers")
    table = linker.table_management.register_table(
        pa.table({"unique_id_l": [a for a, _ in pairs],
                  "unique_id_r": [b for _, b in pairs]}),
        "custmdm_labels", overwrite=True)
    settings = linker._settings_obj
    pipeline = CTEPipeline()
    enqueue_df_concat_with_tf(linker, pipeline)
    pipeline.enqueue_list_of_sqls(block_from_labels(linker, table.physical_name))
    pipeline.enqueue_sql(compute_comparison_vector_values_sql(
        settings._columns_to_select_for_comparison_vector_values),
        "__splink__df_comparison_vectors")
    vectors = linker._db_api.sql_pipeline_to_splink_dataframe(pipeline).as_record_list()
    if len(vectors) != len(pairs):
        found = {(int(r["unique_id_l"]), int(r["unique_id_r"])) for r in vectors}
        missing = [pair for pair in pairs if pair not in found]
        raise ValidationError(f"{len(missing)} labelled pair(s) name a customer not "
                              f"linked here, e.g. {missing[0]}; a label must name two "
                              "customers of one group")
    for comparison in settings.comparisons:
        gammas = [row[f"gamma_{comparison.output_column_name}"] for row in vectors]
        seen = sum(g != -1 for g in gammas)  # -1: a value missing on one side
        levels = comparison._comparison_levels_excluding_null
        # The hand-set m of a comparison need not sum to 1 (the "no evidence" level
        # is 0.5, meaning weight 0): as a prior they are taken as shares.
        total = sum(level.m_probability for level in levels)
        for level in levels:
            count = sum(g == level.comparison_vector_value for g in gammas)
            level.m_probability = ((count + LABEL_PRIOR_PAIRS * level.m_probability / total)
                                   / (seen + LABEL_PRIOR_PAIRS))


def _schema() -> Any:
    import pyarrow as pa

    text, texts = pa.string(), pa.list_(pa.string())
    return pa.schema([
        ("unique_id", pa.int64()), ("names", texts), ("cores", texts), ("core", text),
        ("typo_keys", texts),
        ("core_pinyins", texts), ("legal_form", text),
        ("region", text), ("identifiers", texts), ("id_schemes", texts), ("phones", texts),
        ("emails", texts), ("address", text), ("person", text), ("birth_date", text)])


def spark_schema() -> Any:
    """The frame's schema for Spark (``spark.createDataFrame(rows, spark_schema())``)."""
    from pyspark.sql import types as t

    text, texts = t.StringType(), t.ArrayType(t.StringType())
    return t.StructType([t.StructField(field.name, t.LongType() if field.name == "unique_id"
                                       else texts if str(field.type).startswith("list")
                                       else text) for field in _schema()])


def run_batch(ctx: Context, *, train: bool = False, threshold: float = THRESHOLD,
              labels: Path | str | None = None) -> RunResult:
    """Deduplicate the whole register: per group, (train and) predict, cluster, and
    queue the clusters not already decided. ``labels``, a CSV file of pairs of codes
    known to be one customer (see :func:`read_labels`), trains m from those pairs
    (a group without labels is trained as usual); it implies ``train``."""
    ctx.require(Permission.MERGE)  # the whole register
    _check_threshold(threshold)
    labelled = read_labels(ctx, Path(labels)) if labels is not None else []
    train = train or labels is not None
    timings: dict[str, float] = {}
    customers = pairs_found = queued = 0
    trained_any = False
    with ctx.store.read() as conn:
        everyone = {group: dict(master_records(conn, [k.value for k in kinds], ctx.store.fields))
                    for group, kinds in GROUPS.items()}
        models = dict(conn.execute(select(match_model.c.name, match_model.c.model)).all())
    known = {cid for records in everyone.values() for cid in records}
    for a, b in labelled:
        if a not in known or b not in known:  # merged meanwhile, or without a name
            raise Conflict(f"customer {a if a not in known else b} of a labelled pair "
                           "left the register meanwhile; run again")
    for group in GROUPS:
        records, stored = everyone[group], models.get(group)
        if len(records) < 2:
            continue
        customers += len(records)
        model = None if train or stored is None else stored
        rows = [frame_row(cid, record) for cid, record in records.items()]
        group_timings: dict[str, float] = {}
        group_labels = [(a, b) for a, b in labelled if a in records]
        pairs, clusters, trained = train_and_predict(
            rows, group, model=model, threshold=threshold, timings=group_timings,
            labels=group_labels)
        for step, seconds in group_timings.items():
            timings[f"{group}.{step}"] = seconds
        pairs_found += len(pairs)
        with ctx.store.write() as conn:
            now = ctx.now()
            if model is None:
                trained_any = True
                _save_model(conn, group, trained, len(records), now, ctx.actor.name)
            ctx.store.lock_review_queue(conn)
            queued += _queue(conn, pairs, records, now)
            write_audit(ctx.store, conn, [audit_row(
                ctx.actor.name, "dedup.run", "match_model", group,
                {"customers": len(records), "pairs": len(pairs), "clusters": len(clusters),
                 "trained": model is None, "labels": len(group_labels),
                 "threshold": threshold}, now)])
    return RunResult(customers, pairs_found, queued, trained_any, timings)


def read_labels(ctx: Context, path: Path) -> list[tuple[int, int]]:
    """Customer id pairs from a CSV file with the header ``left,right``: per line, two
    codes (any code each customer ever had; a merged customer's lead to its survivor)
    a steward knows to be one customer, as from a clerical review of a sample, of one
    group (organisations or individuals)."""
    header, entries = _read_csv(path)
    lines = [(line, (entry.get("left") or "").strip(), (entry.get("right") or "").strip())
             for line, entry in entries]
    if not {"left", "right"} <= header:
        raise ValidationError(f"{path}: the header must be left,right (the codes of two "
                              "customers known to be one)")
    if not lines:
        raise ValidationError(f"{path}: no labelled pairs; give one pair of codes a line")
    # As registry.find_by_code: the code as given, else in capitals.
    codes = {form for _, left, right in lines for code in (left, right)
             for form in (code, code.upper())}
    with ctx.store.read() as conn:
        found = {row.value: row for row in conn.execute(
            select(customer_code.c.value, customer.c.id, customer.c.kind)
            .join(customer, customer.c.id == customer_code.c.customer_id)
            .where(customer_code.c.value.in_(sorted(codes))))}
    group_of = {kind.value: group for group, kinds in GROUPS.items() for kind in kinds}
    pairs = []
    for line, left, right in lines:
        rows = [found.get(code, found.get(code.upper())) for code in (left, right)]
        where = f"{path}, line {line}"
        if not left or not right:
            raise ValidationError(f"{where}: two codes are needed, left and right")
        for code, row in zip((left, right), rows, strict=True):
            if row is None:
                raise ValidationError(f"{where}: no customer has code {code!r}")
        a, b = rows[0], rows[1]
        assert a is not None and b is not None
        if a.id == b.id:
            raise ValidationError(f"{where}: {left} and {right} are one customer already")
        if group_of[a.kind] != group_of[b.kind]:
            raise ValidationError(f"{where}: {left} is {a.kind} and {right} {b.kind}; a "
                                  "person and an organisation are never one customer")
        pairs.append((min(a.id, b.id), max(a.id, b.id)))
    return list(dict.fromkeys(pairs))


def _check_threshold(threshold: float) -> None:
    if not 0 < threshold < 1:
        raise ValidationError(f"threshold {threshold} is not a probability between 0 and "
                              "1; give e.g. 0.9")


def _save_model(conn: Connection, group: str, model: dict[str, Any], records: int,
                now: Any, actor: str) -> None:
    conn.execute(match_model.delete().where(match_model.c.name == group))
    conn.execute(insert(match_model).values(name=group, model=model, trained_at=now,
                                            trained_by=actor, records=records))


def _queue(conn: Connection, pairs: Sequence[Prediction], records: dict[int, MatchRecord],
           now: Any) -> int:
    """Queue the clusters of ``pairs`` once the pairs a steward rejected are taken out
    (so accepting a cluster never merges two customers said to differ); clusters with a
    customer already waiting in the queue are left for that decision."""
    rejected = set(conn.execute(select(not_duplicate.c.left_id, not_duplicate.c.right_id)))
    waiting = {cid for (ids,) in conn.execute(
        select(review_cluster.c.customer_ids)
        .where(review_cluster.c.status.in_(("open", "deferred")))) for cid in ids}
    kept = [Prediction(min(p.left, p.right), max(p.left, p.right), p.probability)
            for p in pairs]
    kept = [p for p in kept if (p.left, p.right) not in rejected]
    written = 0
    for ids, found in _components(kept):
        if waiting & set(ids):
            continue
        cluster_id = int(conn.execute(insert(review_cluster).values(
            run_at=now, status="open", customer_ids=ids).returning(review_cluster.c.id))
            .scalar_one())
        conn.execute(insert(review_pair), [
            {"cluster_id": cluster_id, "left_id": p.left, "right_id": p.right,
             "probability": p.probability,
             "why": score(records[p.left], records[p.right]).explanation} for p in found])
        written += 1
    return written


def _components(pairs: Sequence[Prediction]) -> list[tuple[list[int], list[Prediction]]]:
    """Connected components of the linked pairs: (customer ids, their pairs)."""
    parent: dict[int, int] = {}

    def root(node: int) -> int:
        parent.setdefault(node, node)
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for p in pairs:
        parent[root(p.left)] = root(p.right)
    groups: dict[int, tuple[list[int], list[Prediction]]] = {}
    for node in parent:
        groups.setdefault(root(node), ([], []))[0].append(node)
    for p in pairs:
        groups[root(p.left)][1].append(p)
    return [(sorted(ids), found) for ids, found in groups.values()]


# -- an incoming file against the register ------------------------------------------------


@dataclass(frozen=True)
class FileMatch:
    """A record of an incoming file and the registered customer it likely is."""

    line: int
    legal_name: str
    code: str
    registered_name: str
    probability: float
    why: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "legal_name": self.legal_name, "code": self.code,
                "registered_name": self.registered_name,
                "score": round(self.probability, 4), "why": list(self.why)}


#: Columns of an incoming file (CSV with a header); lists are separated by ";".
FILE_COLUMNS = ("kind", "legal_name", "ids", "region", "industry", "phones", "emails",
                "address", "legal_representative", "short")


def link_file(ctx: Context, path: Path | str, threshold: float = THRESHOLD
              ) -> list[FileMatch]:
    """Link the records of a CSV file to the register with Splink (``link_only``), with
    the stored model when there is one: for each record, the customers it likely is."""
    ctx.require(Permission.READ)  # against the whole register
    from custmdm.core.customers import validate_draft

    _check_threshold(threshold)
    drafts = read_records(Path(path))
    records: dict[int, MatchRecord] = {}
    for line, draft in drafts:
        try:
            records[line] = validate_draft(draft).match_record()
        except ValidationError as error:
            raise error.prefixed(f"{path}, line {line}: ") from None
    found: list[FileMatch] = []
    given = dict(drafts)
    for group, kinds in GROUPS.items():
        incoming = {line: r for line, r in records.items() if r.kind in kinds}
        if not incoming:
            continue
        with ctx.store.read() as conn:
            master = dict(master_records(conn, [k.value for k in kinds], ctx.store.fields))
            stored = conn.execute(select(match_model.c.model)
                                  .where(match_model.c.name == group)).scalar()
        if not master:
            continue
        pairs = link_records(group, incoming, master, stored, threshold)
        with ctx.store.read() as conn:
            ids = sorted({cid for _, cid, _ in pairs})
            codes = _current_codes(conn, ids)
            names = dict(conn.execute(select(customer.c.id, customer.c.legal_name)
                                      .where(customer.c.id.in_(ids))).all())
        for line, cid, probability in pairs:
            found.append(FileMatch(
                line, given[line].legal_name, codes.get(cid, str(cid)),
                names.get(cid, ""), probability,
                tuple(score(incoming[line], master[cid]).explanation)))
    found.sort(key=lambda m: (m.line, -m.probability))
    return found


def link_records(group: str, incoming: dict[int, MatchRecord],
                 master: dict[int, MatchRecord], stored: dict[str, Any] | None,
                 threshold: float) -> list[tuple[int, int, float]]:
    """``(incoming key, master key, probability)`` for each pair linked at
    ``threshold`` or above, with the ``stored`` model (else the match model's m and u)."""
    import pyarrow as pa
    from splink import Linker
    from splink.backends.duckdb import DuckDBAPI

    settings = (dict(stored) if stored is not None
                else splink_settings(group).create_settings_dict("duckdb"))
    settings["link_type"] = "link_only"
    db_api = DuckDBAPI()
    frames = [db_api.register(pa.Table.from_pylist(
        [frame_row(key, record) for key, record in rows.items()], schema=_schema()),
        dataset_display_name=name) for name, rows in (("incoming", incoming),
                                                      ("master", master))]
    linker = Linker(frames, settings, log_level=logging.ERROR)
    out = []
    for r in linker.inference.predict(threshold_match_probability=threshold).as_record_list():
        if r["source_dataset_l"] == "incoming":
            line, cid = int(r["unique_id_l"]), int(r["unique_id_r"])
        else:
            line, cid = int(r["unique_id_r"]), int(r["unique_id_l"])
        out.append((line, cid, float(r["match_probability"])))
    return out


def _read_csv(path: Path) -> tuple[set[str], list[tuple[int, dict[str, str]]]]:
    """A UTF-8 CSV file's header and ``(line, row)`` for each row (Excel's BOM
    allowed); a file that cannot be read or decoded is one clear error."""
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as error:
        raise ValidationError(f"cannot read {path}: {error.strerror}") from None
    with handle:
        try:
            reader = csv.DictReader(handle)
            header = set(reader.fieldnames or ())
            return header, [(reader.line_num, row) for row in reader]
        except (UnicodeDecodeError, csv.Error) as error:
            raise ValidationError(f"{path}: not a UTF-8 CSV file ({error}); save it as "
                                  "CSV UTF-8") from None


def read_records(path: Path) -> list[tuple[int, CustomerDraft]]:
    """``(line, draft)`` for each record of a CSV file with :data:`FILE_COLUMNS`."""
    header, rows = _read_csv(path)
    if not {"kind", "legal_name"} <= header:
        raise ValidationError(f"{path}: the header must name at least kind and "
                              f"legal_name (known columns: {', '.join(FILE_COLUMNS)})")
    unknown = sorted(header - set(FILE_COLUMNS))
    if unknown:
        raise ValidationError(f"{path}: unknown column(s) {', '.join(unknown)}; known: "
                              f"{', '.join(FILE_COLUMNS)}")
    out = []
    for line, row in rows:
        def listed(name: str, row: dict[str, str] = row) -> list[str]:
            return [v.strip() for v in (row.get(name) or "").split(";") if v.strip()]
        ids = []
        for item in listed("ids"):
            scheme, separator, value = item.partition("=")
            if not separator:
                raise ValidationError(f"{path}, line {line}: ids are SCHEME=VALUE "
                                      f"separated by ';', not {item!r}")
            ids.append((scheme, value))
        out.append((line, CustomerDraft(
            kind=row["kind"] or "", legal_name=row["legal_name"] or "", identifiers=ids,
            region=row.get("region") or None, industry=row.get("industry") or None,
            phones=listed("phones"), emails=listed("emails"),
            address=row.get("address") or None,
            legal_representative=row.get("legal_representative") or None,
            names=[("short", s) for s in listed("short")])))
    return out


def _current_codes(conn: Connection, ids: Sequence[int]) -> dict[int, str]:
    """customer id → current code; a merged customer has none (its codes moved)."""
    return {cid: code for cid, code in conn.execute(
        select(customer.c.id, current_code_of(customer.c.id))
        .where(customer.c.id.in_(list(ids)))) if code is not None}


# -- the review queue -------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewCluster:
    id: int
    status: str
    codes: tuple[str, ...]
    names: tuple[str, ...]
    pairs: tuple[tuple[str, str, float, tuple[str, ...]], ...]
    #: Members merged since the run (by name): the cluster can no longer be decided.
    gone: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "status": self.status, "codes": list(self.codes),
                "legal_names": list(self.names),
                "pairs": [{"left": a, "right": b, "score": round(p, 4), "why": list(why)}
                          for a, b, p, why in self.pairs]}


def review_queue(ctx: Context, status: str = "open", limit: int = 50) -> list[ReviewCluster]:
    """Clusters waiting for a decision (or with another ``status``), oldest first."""
    ctx.require(Permission.MERGE)
    with ctx.store.read() as conn:
        rows = conn.execute(select(review_cluster).where(review_cluster.c.status == status)
                            .order_by(review_cluster.c.id).limit(limit)).all()
        return [_cluster(conn, row) for row in rows]


def decide(ctx: Context, cluster_id: int, decision: str, *, survivor: str | None = None,
           expected_versions: Mapping[str, int] | None = None) -> ReviewCluster:
    """``accept`` (merge the cluster into ``survivor``, default its first customer),
    ``reject`` (its pairs are remembered as different customers) or ``defer``.
    ``expected_versions``: code → the version the steward reviewed; accepting a
    cluster whose customer changed since is StaleVersion."""
    ctx.require(Permission.MERGE)
    if decision not in ("accept", "reject", "defer"):
        raise ValidationError(f"decide accept, reject or defer, not {decision!r}")
    with ctx.store.read() as conn:
        row = conn.execute(select(review_cluster)
                           .where(review_cluster.c.id == cluster_id)).first()
        if row is None:
            raise NotFound(f"no review cluster {cluster_id}")
        cluster = _cluster(conn, row)
    if row.status not in ("open", "deferred"):
        raise Conflict(f"cluster {cluster_id} is already {row.status}")
    if cluster.gone:
        with ctx.store.write() as conn:
            conn.execute(update(review_cluster).where(review_cluster.c.id == cluster_id)
                         .values(status="stale", decided_at=ctx.now(),
                                 decided_by=ctx.actor.name))
        raise Conflict(f"cluster {cluster_id} is stale: {', '.join(cluster.gone)} merged "
                       "since; run `dedup run` again")
    status = {"accept": "accepted", "reject": "rejected", "defer": "deferred"}[decision]

    def record(conn: Connection, merge_id: int | None) -> None:
        now = ctx.now()
        done = conn.execute(update(review_cluster).where(
            review_cluster.c.id == cluster_id,
            review_cluster.c.status.in_(("open", "deferred")))
            .values(status=status, decided_at=now, decided_by=ctx.actor.name,
                    merge_id=merge_id)).rowcount
        if done != 1:
            raise Conflict(f"cluster {cluster_id} was decided meanwhile")
        if decision == "reject":
            known = set(conn.execute(select(not_duplicate.c.left_id, not_duplicate.c.right_id)
                                     .where(not_duplicate.c.left_id.in_(row.customer_ids))))
            new = [{"left_id": a, "right_id": b, "decided_at": now,
                    "decided_by": ctx.actor.name}
                   for a, b in itertools.combinations(sorted(row.customer_ids), 2)
                   if (a, b) not in known]
            if new:
                conn.execute(insert(not_duplicate), new)
        write_audit(ctx.store, conn, [audit_row(
            ctx.actor.name, f"dedup.{decision}", "review_cluster", cluster_id,
            {"codes": list(cluster.codes), "merge_id": merge_id}, now)])

    if decision == "accept":
        chosen = survivor or cluster.codes[0]
        if chosen not in cluster.codes:
            raise ValidationError(f"{chosen} is not in cluster {cluster_id} "
                                  f"({', '.join(cluster.codes)})")
        # The decision is recorded in the merge's own transaction: both or neither.
        merging.merge_customers(ctx, chosen, [c for c in cluster.codes if c != chosen],
                                reason=f"review cluster {cluster_id}", within=record,
                                review_cluster=cluster_id,
                                expected_versions=expected_versions)
    else:
        with ctx.store.write() as conn:
            record(conn, None)
    with ctx.store.read() as conn:
        return _cluster(conn, conn.execute(select(review_cluster).where(
            review_cluster.c.id == cluster_id)).one())


def _cluster(conn: Connection, row: Any) -> ReviewCluster:
    ids = list(row.customer_ids)
    codes = _current_codes(conn, ids)
    names = dict(conn.execute(select(customer.c.id, customer.c.legal_name)
                              .where(customer.c.id.in_(ids))).all())
    pairs = tuple(
        (codes.get(p.left_id, str(p.left_id)), codes.get(p.right_id, str(p.right_id)),
         p.probability, tuple(p.why))
        for p in conn.execute(select(review_pair).where(review_pair.c.cluster_id == row.id)
                              .order_by(review_pair.c.probability.desc())))
    merged = set(conn.scalars(select(customer.c.id).where(
        customer.c.id.in_(ids), customer.c.lifecycle == Lifecycle.MERGED)))
    return ReviewCluster(row.id, row.status, tuple(codes.get(i, str(i)) for i in ids),
                         tuple(names.get(i, "") for i in ids), pairs,
                         tuple(names.get(i, str(i)) for i in ids if i in merged))
