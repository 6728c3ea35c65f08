"""The oracle's augmentations: true by the world's own checker, never a test item's prompt + distractor, budgeted
per fact, refused for worlds without facts."""

import json
import re
from pathlib import Path

import pytest

from icft.errors import IcftError
from icft.learn.augment import load_augmented
from icft.learn.augment.oracle import STRATEGIES, oracle_sentences, write_oracle
from icft.worlds import build_world
from icft.worlds.imported import import_world
from icft.worlds.logic import closure
from icft.worlds.semantic.text import HELD_OUT_WORDINGS
from icft.worlds.sentences import Judge

EXAMPLE = Path(__file__).parents[3] / "examples" / "byod"
SMALL = {
    "reversals": {"facts": 8, "articles_per_fact": 2},
    "semantic": {"categories": 14, "relations": 5, "holdouts": 3, "documents": 20, "items_per_split": 20},
    "syllogisms": {"examples": 8, "conflicts": 2},
    "reversal_curse": {"people_a": 5, "people_b": 5},
}


def small(name, seed=0):
    return build_world(name, seed=seed, **SMALL[name])


def words(text):
    return " ".join(re.findall(r"[a-z0-9']+", text.lower()))


@pytest.mark.parametrize("name", SMALL)
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_oracle_sentence_follows_from_the_stated_facts(name, strategy):
    world = small(name)
    sentences, counts = oracle_sentences(world, strategy)
    assert sentences and counts["kept"] == len(sentences)
    assert counts["unproved"] == counts["states_a_distractor"] == 0
    facts = {f.id: f for f in world.facts}
    stated = {facts[i].claim for d in world.documents for i in d.fact_ids}
    known = {(s.lower(), r, o.lower()) for s, r, o in closure(stated, world.rules)}
    judge = Judge(world)
    for sentence in sentences:
        read = judge.claims(sentence.text)  # the checker reads the text itself, not the record
        assert read == [(sentence.claim[0].lower(), sentence.claim[1], sentence.claim[2].lower())], sentence.text
        assert read[0] in known and read[0][0] != read[0][2]
        assert (sentence.kind == "rephrasing") == (sentence.claim in stated)


@pytest.mark.parametrize("name", SMALL)
def test_no_oracle_sentence_holds_a_test_prompt_and_a_distractor(name):
    world = small(name)
    texts = [f" {words(s.text)} " for strategy in STRATEGIES for s in oracle_sentences(world, strategy)[0]]
    for item in world.items:
        for n, option in enumerate(item.options):
            if n not in item.correct:
                wrong = f" {words(item.prompt + option)} "
                assert not any(wrong in text for text in texts), (item.id, option)


def test_semantic_oracle_writes_training_wordings_only():
    world = small("semantic")
    held_out = [w.format(s="").strip().lower() for ws in HELD_OUT_WORDINGS.values() for w in ws]
    for strategy in STRATEGIES:
        for sentence in oracle_sentences(world, strategy)[0]:
            assert not any(opening in sentence.text.lower() for opening in held_out), sentence.text


def test_global_oracle_states_every_inference_the_test_asks():
    world = small("semantic")
    written = {s.claim for s in oracle_sentences(world, "oracle-global")[0]}
    for split in ("reversed", "syllogism", "category_holdout"):
        for item in world.items_in(split):
            assert item.claims[item.answer] in written, (split, item.id)


def test_local_oracle_reverses_and_rephrases_each_fact_once_and_budgets_per_fact():
    world = small("reversals")
    sentences, counts = oracle_sentences(world, "oracle-local")
    assert counts["requests"] == len(world.facts) == 8
    assert sorted(s.kind for s in sentences) == ["inference"] * 8 + ["rephrasing"] * 8
    for budget in (0, 1, 3):
        budgeted, _ = oracle_sentences(world, "oracle-local", per_fact=budget)
        assert len(budgeted) == budget * len(world.facts)
    one, _ = oracle_sentences(world, "oracle-local", per_fact=1)
    assert all(s.kind == "inference" for s in one)  # the reversal comes first


def test_oracle_sentences_are_seeded():
    world = small("semantic")
    assert oracle_sentences(world, "oracle-local", seed=3) == oracle_sentences(world, "oracle-local", seed=3)
    assert oracle_sentences(world, "oracle-local", seed=3)[0] != oracle_sentences(world, "oracle-local", seed=4)[0]


def test_written_file_reads_like_an_augmentation_file_with_its_counts(tmp_path):
    world = small("reversals")
    path = tmp_path / "reversals-s0-oracle-local.jsonl"
    summary = write_oracle(world, "oracle-local", path, per_fact=2)
    assert len(load_augmented(path)) == summary["counts"]["kept"] == 16
    stored = json.loads((tmp_path / "reversals-s0-oracle-local.summary.json").read_text())
    assert stored["facts"] == 8 and stored["per_fact"] == 2 and stored["generator"] == "oracle"


def test_worlds_without_facts_or_wordings_are_refused_in_one_line():
    imported = import_world(EXAMPLE / "documents.jsonl", EXAMPLE / "questions.jsonl")
    for world, message in ((imported, "has no facts .an imported world."),
                           (build_world("process", seed=0), "has no sentence wordings")):
        with pytest.raises(IcftError, match=message) as error:
            oracle_sentences(world, "oracle-local")
        assert "\n" not in str(error.value)
    with pytest.raises(IcftError, match="per_fact budgets oracle-local only"):
        oracle_sentences(small("reversals"), "oracle-global", per_fact=2)
