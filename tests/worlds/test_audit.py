import dataclasses
import math

import pytest

from icft.worlds import WORLDS, Document, Fact, Item, World, check_world, load_world, save_world
from icft.worlds.audit import audit_world, credit, failures, wilson_interval
from icft.worlds.baselines import BASELINES, TrainIndex, tokens
from icft.worlds.logic import Rules
from world_files import built

RULES = Rules(converses={"is_a": "includes", "includes": "is_a"}, compositions=(("is_a", "is_a", "is_a"),))


def item(item_id, split, prompt, options, answer, claims=None):
    return Item(item_id, split, prompt, tuple(options), answer, claims=tuple(claims) if claims else None)


def tiny_world(copies=1, **changes) -> World:
    """A world small enough that every baseline's answer can be worked out by hand."""
    facts = [Fact("f1", "femp", "has_property", "blick"), Fact("f2", "glon", "has_property", "zept"),
             Fact("f3", "femp", "is_a", "abme"), Fact("f4", "tovo", "is_a", "abme"), Fact("f5", "abme", "is_a", "grud"),
             Fact("f6", "mip", "all", "nov"), Fact("f7", "lat", "no", "mip")]
    docs = [Document("d1", "Femp are blick. Glon are zept.", ("f1", "f2")),
            Document("d2", "Femp are a type of abme. Tovo are a type of abme. Abme are a type of grud.",
                     ("f3", "f4", "f5")),
            Document("d3", "All mip are nov. No lat are mip.", ("f6", "f7"))]
    props = [" blick.", " zept."]
    items = [
        # cooccurrence_sentence: femp shares a sentence with blick (1), glon with zept, not blick (0), tovo with
        # neither (a tie: 1/2)
        item("p1", "property", "Femp are", props, 0, [("femp", "has_property", p.strip(" .")) for p in props]),
        item("p2", "property", "Glon are", props, 0, [("glon", "has_property", p.strip(" .")) for p in props]),
        item("p3", "property", "Tovo are", props, 1, [("tovo", "has_property", p.strip(" .")) for p in props]),
        # most_general: grud holds is_a from femp, tovo and abme, tovo from nothing
        item("u1", "up", "Femp are a type of", [" tovo.", " grud."], 1,
             [("femp", "is_a", "tovo"), ("femp", "is_a", "grud")]),
        # atmosphere: a "no" premise, so "no"
        item("s1", "syl", "This is about lat and nov.",
             ["\nAll lat are nov.", "\nSome lat are nov.", "\nNo lat are nov."], 2,
             [("lat", q, "nov") for q in ("all", "some", "no")]),
        # a question with no logical forms, for the text-only baselines
        item("t1", "text", "Glon are", [" zept.", " are a type of abme and more."], 0),
    ]
    items += [dataclasses.replace(items[0], id=f"p1-{n}", split="repeated") for n in range(copies)]
    world = World("tiny", 0, "1", {}, docs, items, facts, RULES, control_splits=("text",))
    return dataclasses.replace(world, **changes)


def results_by_key(world):
    return {(r.split, r.baseline): r for r in audit_world(world)}


def test_wilson_interval_known_values():
    assert wilson_interval(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson_interval(10, 10) == pytest.approx((0.7225, 1.0), abs=1e-4)


def test_ties_earn_the_correct_share():
    assert credit([1.0, 1.0, 0.0], {0}) == 0.5
    assert credit([1.0, 1.0, 1.0], {0}) == pytest.approx(1 / 3)
    assert credit([0.0, 2.0, 1.0], {0}) == 0.0
    assert credit([1.0, 1.0, 1.0], {0, 1}) == pytest.approx(2 / 3)


def test_hand_worked_accuracies():
    results = results_by_key(tiny_world())
    sentence = results[("property", "cooccurrence_sentence")]
    assert (sentence.correct, sentence.n, sentence.chance) == (1.5, 3, 0.5)
    assert results[("property", "cooccurrence_document")].correct == 1.5  # femp and glon share d1 with both
    assert results[("up", "most_general")].accuracy == 1.0 and results[("up", "relation_elsewhere")].accuracy == 1.0
    assert results[("property", "most_general")].accuracy == 0.5  # nothing inherits a property here: ties
    atmosphere = results[("syl", "atmosphere")]
    assert atmosphere.accuracy == 1.0 and atmosphere.chance == pytest.approx(1 / 3)
    assert ("property", "atmosphere") not in results and ("text", "most_general") not in results
    text = {name: results[("text", name)].accuracy
            for name in ("longest", "shortest", "prompt_overlap", "train_frequency")}
    assert text == {"longest": 0.0, "shortest": 1.0, "prompt_overlap": 0.0, "train_frequency": 1.0}
    # without logical forms the subject is the prompt's rarest known word: glon, which shares d1 with zept
    assert results[("text", "cooccurrence_document")].accuracy == 1.0


def test_ngram_is_an_interpolated_bigram_model_of_the_train_text():
    world = tiny_world()
    index = TrainIndex(world)
    words = [w for d in world.documents for w in tokens(d.text)]
    unigram = (words.count("abme") + 1) / (len(words) + len(set(words)) + 1)
    assert index.log_prob("of", "abme") == pytest.approx(math.log(0.9 * 2 / 3 + 0.1 * unigram))  # "of abme" 2 of 3
    up = item("u", "up", "Tovo are a type of", [" abme.", " tovo."], 0)
    first, second = BASELINES["ngram"](index, up)
    assert first > second
    assert tokens("\nAll lat are nov.") == ("all", "lat", "are", "nov", ".")


def test_above_chance_fails_only_on_an_undeclared_generalization_split():
    world = tiny_world(copies=20)
    repeated = results_by_key(world)[("repeated", "cooccurrence_sentence")]
    assert repeated.accuracy == 1.0 and repeated.low > 0.8 and repeated.above_chance and repeated.fails
    failed = failures(audit_world(world))
    assert {r.split for r in failed} == {"repeated"} and "cooccurrence_sentence" in {r.baseline for r in failed}

    controlled = tiny_world(copies=20, control_splits=("repeated",))
    assert not any(r.split == "repeated" for r in failures(audit_world(controlled)))
    declared = {("repeated", name): "a hand-made shortcut" for name in BASELINES}
    inherent = tiny_world(copies=20, inherent_baselines=declared)
    row = results_by_key(inherent)[("repeated", "cooccurrence_sentence")]
    assert row.above_chance and row.inherent == "a hand-made shortcut" and not row.fails


def test_inherent_baselines_round_trip(tmp_path):
    world = tiny_world(inherent_baselines={("up", "most_general"): "why", ("syl", "atmosphere"): "because"})
    assert load_world(save_world(world, tmp_path)).inherent_baselines == world.inherent_baselines


@pytest.mark.parametrize("name", sorted(WORLDS))
@pytest.mark.parametrize("seed, preset", [(0, "default"), (1, "default"), (2, "default"), (0, "paper")])
def test_every_world_is_proved_and_free_of_undeclared_shortcuts(name, seed, preset):
    world = built(name, seed, preset)
    assert check_world(world) == []
    results = audit_world(world)
    assert failures(results) == []
    assert {r.split for r in results} == set(world.splits)  # every split is audited
    for (split, baseline), reason in world.inherent_baselines.items():
        assert split in world.generalization_splits and baseline in BASELINES and reason
