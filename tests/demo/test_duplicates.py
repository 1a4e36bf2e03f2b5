"""Labelled duplicates for measuring matching: variants keep the customer, look-alikes
are other customers, and every variant is one that matching has to see through."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from custmdm.core.customers import CustomerDraft
from custmdm.demo.duplicates import NAME_VARIANTS, labelled_duplicates
from custmdm.demo.generator import DemoGenerator
from custmdm.domain.names import forms_of, normalise, parse_name

HUASHENG = CustomerDraft("enterprise", "深圳市华盛电子科技有限公司", region="440305",
                         names=[("short", "华盛电子"),
                                ("english", "Huasheng Electronics Co., Ltd.")])


@pytest.mark.parametrize(("how", "same"), [
    ("short name for the legal name", lambda a, b: forms_of(b).core in forms_of(a).core),
    ("traditional characters", lambda a, b: normalise(a) == normalise(b)),
    ("other legal form", lambda a, b: forms_of(a).core == forms_of(b).core),
    ("region prefix dropped", lambda a, b: forms_of(a).core == forms_of(b).core),
    ("homophone typo", lambda a, b: forms_of(a).core_pinyin == forms_of(b).core_pinyin),
])
def test_each_variant_differs_as_written_but_not_where_matching_looks(how, same) -> None:  # type: ignore[no-untyped-def]
    variant = NAME_VARIANTS[how](HUASHENG, random.Random(1))
    assert variant is not None and variant != HUASHENG.legal_name
    assert same(HUASHENG.legal_name, variant)


def test_a_typo_changes_one_character_of_the_trade_name() -> None:
    variant = NAME_VARIANTS["one-character typo"](HUASHENG, random.Random(3))
    assert variant is not None and len(variant) == len(HUASHENG.legal_name)
    changed = [i for i, (a, b) in enumerate(zip(HUASHENG.legal_name, variant, strict=True))
               if a != b]
    assert len(changed) == 1 and 3 <= changed[0] < 5  # inside 华盛


def test_full_width_letters_normalise_to_the_same_name() -> None:
    draft = CustomerDraft("enterprise", "ABC(深圳)科技有限公司")
    variant = NAME_VARIANTS["full-width letters and brackets"](draft, random.Random(1))
    assert variant == "ＡＢＣ（深圳）科技有限公司"
    assert normalise(variant) == normalise(draft.legal_name)


def test_the_labelled_set_keeps_its_entities_apart() -> None:
    originals = list(DemoGenerator(seed=5).customers(2000))
    labelled = labelled_duplicates(originals, seed=11)
    assert labelled == labelled_duplicates(originals, seed=11)  # seeded
    assert [item.draft for item in labelled[:2000]] == originals
    variants = [item for item in labelled if item.entity < 2000 and item.how != "original"]
    negatives = [item for item in labelled if item.entity >= 2000]
    assert 450 < len(variants) < 750  # about 30 % of 2,000
    assert all(item.draft.legal_name != originals[item.entity].legal_name for item in variants)
    kinds = Counter(item.how.split(",")[0] for item in variants)
    # Every way a duplicate is made occurs, but half-width brackets: demo names have none.
    assert set(kinds) == set(NAME_VARIANTS) - {"half-width brackets"}
    assert sum("identifiers missing" in item.how for item in variants) > len(variants) // 3
    assert negatives and len({item.entity for item in negatives}) == len(negatives)
    for item in negatives:
        original = next(o for o in originals if o.kind == item.draft.kind
                        and (parse_name(o.legal_name).trade_name
                             == parse_name(item.draft.legal_name).trade_name))
        assert original.identifiers and not item.draft.identifiers


def test_phones_are_written_differently_or_missing_but_stay_the_same_number() -> None:
    from custmdm.domain.contacts import canonical_phone

    originals = list(DemoGenerator(seed=5).customers(600))
    assert sum(bool(d.phones) for d in originals) > 350  # most customers have one
    labelled = labelled_duplicates(originals, seed=3)
    rewritten = [item for item in labelled if "phone written differently" in item.how]
    missing = [item for item in labelled if "phone missing" in item.how]
    assert rewritten and missing
    for item in rewritten:
        before, after = originals[item.entity].phones[0], item.draft.phones[0]
        assert before != after and canonical_phone(before) == canonical_phone(after)
    assert all(not item.draft.phones for item in missing)
    negatives = [item for item in labelled if item.how.startswith("hard negative")]
    assert negatives and all(not item.draft.phones for item in negatives)
