"""The classify stage on real postings: fields, decisions, retention and streaming."""

from __future__ import annotations

import itertools

import pytest

from benchmarks.bench_classifier import reduction, retention
from transforms.classify import classify_postings, estimate_tokens, load_model
from transforms.paragraphs import split_paragraphs

FIELDS = {"kept_text", "kept_ratio", "tokens_before", "tokens_after", "classifier_version", "keep_reason"}


def test_real_postings_keep_their_technologies_and_lose_half_their_tokens(model, gold_postings):
    results = list(classify_postings(gold_postings, model=model, batch_size=16))
    assert [r["id"] for r in results] == [p["id"] for p in gold_postings]  # order, nothing lost
    for posting, result in zip(gold_postings, results):
        assert FIELDS <= result.keys() and result["source"] == posting["source"]  # fields pass through
        assert result["classifier_version"] == model.version
        assert 0 <= result["tokens_after"] <= result["tokens_before"] == estimate_tokens(posting["text"])
        assert result["kept_ratio"] == pytest.approx(result["tokens_after"] / result["tokens_before"], abs=1e-4)
    assert retention(results)["retention"] >= 0.98
    assert reduction(results) >= 0.5


def test_kept_text_is_made_of_whole_paragraphs(model, gold_postings):
    for result in classify_postings(gold_postings[:10], model=model):
        if result["keep_reason"] == "classified":
            paragraphs = split_paragraphs(result["description_text"])
            kept = result["kept_text"].split("\n\n")
            assert 0 < len(kept) < len(paragraphs) and all(p in paragraphs for p in kept)


def test_short_descriptions_are_kept_whole(model):
    [result] = classify_postings([{"description_text": "Nurse, nights."}], model=model)
    assert result["keep_reason"] == "short" and result["kept_text"] == "Nurse, nights." and result["kept_ratio"] == 1.0
    [empty] = classify_postings([{"description_text": ""}], model=model)
    assert empty["kept_text"] == "" and empty["kept_ratio"] == 1.0


def test_posting_without_technology_keeps_nothing_and_unsure_keeps_all(model):
    text = "\n".join(["We are a family bakery in the heart of town and we love bread."] * 3
                     + ["You will bake, serve customers and keep the shop clean every morning."] * 3)
    [none] = classify_postings([{"description_text": text}], model=model)
    assert none["keep_reason"] == "no-technology" and none["kept_text"] == "" and none["tokens_after"] == 0
    # the same posting, judged by a model whose threshold sits just over its best paragraph: unsure
    best = max(model.scores(text.split("\n")))
    unsure_model = type(model)(model.pipeline, threshold=best * 1.5, version=model.version, metrics=model.metrics)
    [unsure] = classify_postings([{"description_text": text}], model=unsure_model)
    assert unsure["keep_reason"] == "unsure" and unsure["kept_text"] == text


def test_too_little_kept_means_whole_description(model):
    text = "Python\n" + "\n".join(["We are a friendly team that loves good coffee and long walks."] * 5)
    [result] = classify_postings([{"description_text": text}], model=model, min_kept_tokens=10)
    assert result["keep_reason"] == "too-little" and result["kept_text"] == text


def test_streams_in_batches(model, gold_postings):
    pulled = 0

    def source():
        nonlocal pulled
        for posting in itertools.cycle(gold_postings):
            pulled += 1
            yield posting

    stream = classify_postings(source(), model=model, batch_size=8)
    first = list(itertools.islice(stream, 3))
    assert len(first) == 3 and pulled == 8  # one batch read, not the endless input


def test_bad_input_is_a_clear_error(model):
    with pytest.raises(ValueError, match="no description_text"):
        list(classify_postings([{"source_id": "x1"}], model=model))


def test_load_model_caches_per_process():
    assert load_model() is load_model()


def test_classify_day_reads_staging_and_writes_classified(lake_root, model, gold_postings):
    import datetime as dt

    from jobreqs import lake
    from transforms.classify import classify_day

    day = dt.date(2026, 11, 20)
    staged = [{"source": "indeed", "source_id": p["id"], "description_text": p["text"]} for p in gold_postings[:20]]
    lake.replace_partition(lake.partition(lake_root, "staging", "postings", day), staged + [{"source_id": "bad"}])
    stats = classify_day(lake_root, day)
    assert stats["postings"] == 20 and stats["quarantined"] == 1 and stats["classifier_version"] == model.version
    assert stats["reduction"] > 0.5 and sum(stats["keep_reasons"].values()) == 20
    out = list(lake.read_partition(lake.partition(lake_root, "staging", "classified", day)))
    assert [r["source_id"] for r in out] == [p["source_id"] for p in staged]
    assert all(r["classifier_version"] == model.version and "kept_text" in r for r in out)
    quarantined = list(lake.read_partition(lake.partition(lake_root, "quarantine", "classify", day)))
    assert quarantined[0]["record"] == {"source_id": "bad"}
    assert classify_day(lake_root, day) == stats  # idempotent: the same partition again
    assert classify_day(lake_root, dt.date(2026, 11, 21))["message"].startswith("no staged postings")
