"""Batch deduplication with Splink (DuckDB) and the review queue, on SQLite and
PostgreSQL registers; the same model on Spark in local mode where Java is present."""

from __future__ import annotations

import shutil
from typing import Any

import pytest
from sqlalchemy import select

from custmdm.core import batch
from custmdm.core.customers import CustomerDraft
from custmdm.demo.generator import DemoGenerator, make_uscc
from custmdm.errors import Conflict, StaleVersion, ValidationError
from custmdm.register import Register
from custmdm.store.tables import match_model, not_duplicate

HUASHENG = "深圳市华盛电子科技有限公司"


@pytest.fixture
def messy(unchecked: Register) -> tuple[Register, dict[str, str]]:
    """A register of demo customers with duplicates imported without any check."""
    reg = unchecked
    reg.add_rule("std", "C{kind}{seq:6}")
    reg.register_many(DemoGenerator(seed=3).customers(300))
    codes = {
        "a": reg.register(CustomerDraft(
            "enterprise", HUASHENG, region="440305", phones=["13800138000"],
            identifiers=[("cn.uscc", make_uscc("9", "1", "440305", 77))])).code,
        "a2": reg.register(CustomerDraft("enterprise", "華盛電子科技有限責任公司",
                                         region="440305", phones=["+86 138-0013-8000"])).code,
        "b": reg.register(CustomerDraft("individual", "欧阳翠花", region="110105",
                                        identifiers=[("cn.ric", "110105198001010016")])).code,
        "b2": reg.register(CustomerDraft("individual", "欧阳翠花", region="110105",
                                         phones=["13900139000"])).code,
        "c": reg.register(CustomerDraft("enterprise", "广州市恒泰贸易有限公司",
                                        region="440106", phones=["13700137000"])).code,
        "c2": reg.register(CustomerDraft("enterprise", "恒泰贸易有限责任公司", region="440106",
                                         phones=["137-0013-7000"])).code,
        "d": reg.register(CustomerDraft("enterprise", "杭州市云帆网络科技有限公司",
                                        region="330106", phones=["13600136000"])).code,
        "d2": reg.register(CustomerDraft("enterprise", "雲帆網絡科技有限公司", region="330106",
                                         phones=["136 0013 6000"])).code,
    }
    return reg, codes


def test_the_model_is_our_match_model_in_splink_terms() -> None:
    settings = batch.splink_settings("organisations").get_settings("duckdb")
    comparisons = {c.output_column_name: c for c in settings.comparisons}
    name = comparisons["name"]
    labels = [level.label_for_charts for level in name.comparison_levels]
    assert "same name after removing legal form and region" in labels
    assert any("levenshtein" in level.sql_condition for level in name.comparison_levels)
    assert set(comparisons) >= {"identifier", "name", "legal_form", "region", "phone",
                                "email", "address", "person"}


def test_a_run_queues_the_duplicates_and_a_second_run_reuses_the_model(
    messy: tuple[Register, dict[str, str]]
) -> None:
    reg, codes = messy
    first = reg.dedup_run()
    assert first.trained and first.customers == 308
    queue = reg.review_queue()
    clusters = [set(c.codes) for c in queue]
    assert {codes["a"], codes["a2"]} in clusters
    huasheng = next(c for c in queue if codes["a"] in c.codes)
    assert "same phone" in huasheng.pairs[0][3]
    with reg.store.read() as conn:
        assert set(conn.scalars(select(match_model.c.name))) == {"organisations",
                                                                  "individuals"}
    again = reg.dedup_run()
    assert not again.trained and again.clusters == 0  # pending clusters are not repeated


def test_accept_merges_reject_remembers_defer_waits(
    messy: tuple[Register, dict[str, str]]
) -> None:
    reg, codes = messy
    reg.dedup_run()
    queue = {frozenset(c.codes): c for c in reg.review_queue()}
    huasheng, hengtai, yunfan = (queue[frozenset((codes[x], codes[f"{x}2"]))]
                                 for x in ("a", "c", "d"))
    reviewed = {code: reg.find(code).customer.version for code in huasheng.codes}
    reg.update(codes["a2"], grade="vip")  # changed after the steward reviewed it
    with pytest.raises(StaleVersion, match=codes["a2"]):
        reg.decide(huasheng.id, "accept", survivor=codes["a"], expected_versions=reviewed)
    assert reg.review_queue("open") and reg.find(codes["a2"]).customer.code == codes["a2"]
    reviewed[codes["a2"]] += 1
    reg.decide(huasheng.id, "accept", survivor=codes["a"], expected_versions=reviewed)
    assert reg.find(codes["a2"]).customer.code == codes["a"]
    accepted = reg.review_queue("accepted")[0]  # a merged member has no code of its own
    assert codes["a"] in accepted.codes and all(isinstance(c, str) for c in accepted.codes)
    with pytest.raises(Conflict, match="already accepted"):
        reg.decide(huasheng.id, "reject")
    rejected = reg.decide(hengtai.id, "reject")
    assert rejected.status == "rejected"
    with reg.store.read() as conn:
        assert len(conn.execute(select(not_duplicate)).all()) == 1
    reg.decide(yunfan.id, "defer")
    assert yunfan.id in {c.id for c in reg.review_queue("deferred")}
    # the next run proposes neither the rejected pair nor the deferred one again
    reg.dedup_run()
    again = {frozenset(c.codes) for c in reg.review_queue()}
    assert frozenset((codes["c"], codes["c2"])) not in again
    assert frozenset((codes["d"], codes["d2"])) not in again


def test_a_cluster_whose_customer_was_merged_meanwhile_is_stale(
    messy: tuple[Register, dict[str, str]]
) -> None:
    reg, codes = messy
    reg.dedup_run()
    cluster = next(c for c in reg.review_queue() if codes["c"] in c.codes)
    reg.merge(codes["c"], [codes["c2"]])
    with pytest.raises(Conflict, match="stale"):
        reg.decide(cluster.id, "accept")
    assert cluster.id in {c.id for c in reg.review_queue("stale")}


def test_rejected_pairs_are_cut_out_of_a_cluster() -> None:
    pairs = [batch.Prediction(1, 2, 0.99), batch.Prediction(2, 3, 0.95),
             batch.Prediction(4, 5, 0.97)]
    assert [ids for ids, _ in batch._components(pairs)] == [[1, 2, 3], [4, 5]]
    kept = [p for p in pairs if (p.left, p.right) != (2, 3)]
    assert [ids for ids, _ in batch._components(kept)] == [[1, 2], [4, 5]]


@pytest.mark.skipif(shutil.which("java") is None, reason="Spark needs Java")
def test_the_same_model_runs_on_spark_in_local_mode(tmp_path: Any) -> None:
    pyspark = pytest.importorskip("pyspark", reason="pyspark is a dev dependency")
    from pyspark.sql import SparkSession
    from splink import Linker
    from splink.backends.spark import SparkAPI

    rows = _rows()
    _, _, trained = batch.train_and_predict(rows, "organisations", threshold=0.5)
    duck_pairs, _, model = batch.train_and_predict(rows, "organisations", model=trained,
                                                   threshold=0.5)
    untrained = batch.splink_settings("organisations").create_settings_dict("duckdb")
    assert any(a.get("u_probability") != b.get("u_probability")  # training changed u
               for x, y in zip(model["comparisons"], untrained["comparisons"], strict=True)
               for a, b in zip(x["comparison_levels"], y["comparison_levels"], strict=True))
    spark = (SparkSession.builder.master("local[1]").appName("custmdm-test")
             .config("spark.ui.enabled", "false")
             .config("spark.sql.warehouse.dir", str(tmp_path / "warehouse")).getOrCreate())
    spark.sparkContext.setCheckpointDir(str(tmp_path))
    try:
        frame = spark.createDataFrame(rows, schema=batch.spark_schema())
        db_api = SparkAPI(spark_session=spark)
        linker = Linker(db_api.register(frame), batch.model_for(model, "organisations",
                                                                "spark"))
        predicted = linker.inference.predict(threshold_match_probability=0.5)
        spark_pairs = {(int(r["unique_id_l"]), int(r["unique_id_r"])): r["match_probability"]
                       for r in predicted.as_record_list()}
    finally:
        spark.stop()
    assert pyspark.__version__
    duck = {(p.left, p.right): p.probability for p in duck_pairs}
    assert duck.keys() == spark_pairs.keys() and duck
    for pair, probability in duck.items():
        assert spark_pairs[pair] == pytest.approx(probability, rel=1e-6)


def _rows() -> list[dict[str, Any]]:
    from custmdm.core.customers import validate_draft

    drafts = [CustomerDraft("enterprise", HUASHENG, region="440305", phones=["13800138000"]),
              CustomerDraft("enterprise", "華盛電子科技有限責任公司", region="440305",
                            phones=["138 0013 8000"]),
              CustomerDraft("enterprise", "深圳市华胜电子科技有限公司", region="440305"),
              CustomerDraft("enterprise", "北京市恒泰贸易有限公司", region="110105")]
    drafts += list(DemoGenerator(seed=4).customers(400))
    return [batch.frame_row(n + 1, validate_draft(d).match_record())
            for n, d in enumerate(drafts) if d.kind != "individual"]


def test_an_incoming_file_is_linked_to_the_register(
    messy: tuple[Register, dict[str, str]], tmp_path: Any
) -> None:
    reg, codes = messy
    incoming = tmp_path / "incoming.csv"
    incoming.write_text("kind,legal_name,ids,region,phones\n"
                        "enterprise,华盛电子科技有限公司,,440305,138 0013 8000\n"
                        "enterprise,北京市从未见过科技有限公司,,110105,\n", encoding="utf-8")
    matches = reg.dedup_file(incoming)
    assert {m.code for m in matches} == {codes["a"], codes["a2"]}
    assert all(m.line == 2 and "same phone" in m.why for m in matches)
    bad = tmp_path / "bad.csv"
    bad.write_text("kind,name\nenterprise,x\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="header must name at least kind and legal_name"):
        reg.dedup_file(bad)
    bad.write_text("kind,legal_name,phones\nenterprise,华盛,12345\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="line 2: phone '12345'"):
        reg.dedup_file(bad)


def _levels(model: dict[str, Any], comparison: str) -> dict[str, float]:
    found = next(c for c in model["comparisons"] if c["output_column_name"] == comparison)
    return {level["label_for_charts"]: level["m_probability"]
            for level in found["comparison_levels"] if "m_probability" in level}


def test_m_is_estimated_from_labelled_pairs_smoothed_toward_the_match_model() -> None:
    rows = _rows()
    untrained = batch.splink_settings("organisations").create_settings_dict("duckdb")
    # Pairs 1-2 (same phone) and 1-3 (no phone on 3) are labelled as one customer.
    _, _, model = batch.train_and_predict(rows, "organisations", labels=[(1, 2), (1, 3)])
    before, after = _levels(untrained, "phone"), _levels(model, "phone")
    prior = batch.LABEL_PRIOR_PAIRS
    total = sum(before.values())  # the hand-set m, taken as shares
    # Only 1-2 has a phone on both sides, and it is the same one.
    assert after["same phone"] == pytest.approx(
        (1 + prior * before["same phone"] / total) / (1 + prior))
    different = next(label for label in before if label != "same phone")
    assert after[different] == pytest.approx(prior * before[different] / total / (1 + prior))
    assert sum(after.values()) == pytest.approx(1)
    # Region: both pairs are in 440305, so "same county" rises for both.
    region_before, region_after = _levels(untrained, "region"), _levels(model, "region")
    region_total = sum(region_before.values())
    assert region_after["same county"] == pytest.approx(
        (2 + prior * region_before["same county"] / region_total) / (2 + prior))
    # The identifier's "no evidence" level (m 0.5, a weight of 0) is a share like the
    # others: the levels of a comparison no label reached still sum to 1.
    assert sum(_levels(model, "identifier").values()) == pytest.approx(1)


def test_labels_naming_customers_not_linked_are_refused() -> None:
    with pytest.raises(ValidationError, match=r"1 labelled pair\(s\) name a customer not "
                                              r"linked here, e.g. \(1, 99999\)"):
        batch.train_and_predict(_rows(), "organisations",
                                labels=[(1, 2), (2, 1), (1, 99_999)])
    with pytest.raises(ValidationError, match="two different customers"):
        batch.train_and_predict(_rows(), "organisations", labels=[(1, 1)])
    with pytest.raises(ValidationError, match="labelled pairs train a model"):
        batch.train_and_predict(_rows(), "organisations", labels=[(1, 2)], train=False)


def test_a_run_trains_m_from_a_file_of_labelled_code_pairs(
    messy: tuple[Register, dict[str, str]], tmp_path: Any
) -> None:
    reg, codes = messy
    labels = tmp_path / "labels.csv"
    labels.write_text(f"left,right\n{codes['a']},{codes['a2']}\n{codes['c']},{codes['c2']}\n"
                      f"{codes['b']},{codes['b2']}\n", encoding="utf-8")
    result = reg.dedup_run(labels=labels)
    assert result.trained
    with reg.store.read() as conn:
        model = dict(conn.execute(select(match_model.c.name, match_model.c.model)).all())
    untrained = _levels(batch.splink_settings("organisations").create_settings_dict(
        "duckdb"), "phone")
    # Both labelled organisation pairs share their phone.
    prior = batch.LABEL_PRIOR_PAIRS
    assert _levels(model["organisations"], "phone")["same phone"] == pytest.approx(
        (2 + prior * untrained["same phone"] / sum(untrained.values())) / (2 + prior))
    assert {codes["a"], codes["a2"]} in [set(c.codes) for c in reg.review_queue()]


@pytest.mark.parametrize(("text", "message"), [
    ("a,b\nX,Y\n", "header must be left,right"),
    ("left,right\n", "no labelled pairs"),
    ("left,right\n{a},C000000\n", "line 2: no customer has code 'C000000'"),
    ("left,right\n{a},\n", "line 2: two codes are needed"),
    ("left,right\n\xff\n", "not a UTF-8 CSV file"),
    ("left,right\n{a},{a}\n", "line 2: .* are one customer already"),
    ("left,right\n{a},{b}\n", "line 2: .* is enterprise and .* individual"),
])
def test_a_bad_labels_file_says_which_line_and_what_is_wrong(
    messy: tuple[Register, dict[str, str]], tmp_path: Any, text: str, message: str
) -> None:
    reg, codes = messy
    labels = tmp_path / "labels.csv"
    labels.write_text(text.format(**codes), encoding="latin-1" if "\xff" in text
                      else "utf-8")
    with pytest.raises(ValidationError, match=message):
        reg.dedup_run(labels=labels)
    with reg.store.read() as conn:
        assert conn.execute(select(match_model.c.name)).first() is None  # nothing saved


def test_a_label_of_two_customers_since_merged_names_one_customer_twice(
    messy: tuple[Register, dict[str, str]], tmp_path: Any
) -> None:
    reg, codes = messy
    reg.merge(codes["d"], [codes["d2"]], reason="same company")
    labels = tmp_path / "labels.csv"
    labels.write_text(f"left,right\n{codes['d']},{codes['d2']}\n", encoding="utf-8")
    with pytest.raises(ValidationError, match=r"line 2: .* are one customer already"):
        reg.dedup_run(labels=labels)


def test_two_runs_at_once_queue_a_cluster_once(reg: Register) -> None:
    """Two batch runs whose queueing overlaps (a client retried a slow POST /dedup-runs):
    the second waits for the first's clusters and leaves them be."""
    import threading

    from custmdm.core.batch import Prediction, _queue

    reg.add_rule("std", "C{kind}{seq:6}")
    for rule in reg.match_rules():
        reg.set_match_rule(rule.kind, rule.action, None)
    ids = [reg.register(CustomerDraft("enterprise", name, region="440305")).id
           for name in (HUASHENG, "深圳华盛电子科技有限公司")]
    records = {cid: stored_record_of(reg, cid) for cid in ids}
    both_read = threading.Barrier(2)
    queued: list[int] = []

    def run() -> None:
        with reg.store.write() as conn:
            both_read.wait(timeout=10)  # both transactions open before either queues
            reg.store.lock_review_queue(conn)
            queued.append(_queue(conn, [Prediction(ids[0], ids[1], 0.99)], records,
                                 reg.ctx.now()))

    if reg.store.is_sqlite:  # one writer at a time: the barrier would wait for ever
        run_alone = [threading.Thread(target=run) for _ in range(2)]
        both_read = threading.Barrier(1)
        for thread in run_alone:
            thread.start()
            thread.join()
    else:
        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(queued) == [0, 1] and len(reg.review_queue()) == 1


def stored_record_of(reg: Register, customer_id: int) -> Any:
    from custmdm.core.dedup import stored_record

    with reg.store.read() as conn:
        return stored_record(conn, customer_id, reg.store.fields)
