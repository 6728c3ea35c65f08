import dataclasses
import inspect
import random
import re

import pytest

from icft.errors import IcftError
from icft.worlds import build_world, semantic
from icft.worlds.semantic import text as semantic_text
from icft.worlds.semantic import world as semantic_world
from icft.worlds.checker import check_world
from icft.worlds.io import load_world
from icft.worlds.logic import closure
from icft.worlds.vocabulary import is_nonce_word
from world_files import built, world_bytes

SENTENCE_END = re.compile(r"[.?!](?=\s|$)")
MID = semantic.Sizes(categories=40, roots=3, levels=3, max_properties=5, relations=14, holdouts=6, documents=110,
                     max_sentences=12, items_per_split=30)


@pytest.fixture(scope="module")
def world():
    return semantic.build(0, semantic.Sizes())



def stated_claims(world):
    return {world.fact(fid).claim for doc in world.documents for fid in doc.fact_ids}


def all_text(world):
    return "\n".join(doc.text for doc in world.documents).lower()


def test_same_seed_same_bytes_other_seed_differs(world, tmp_path):
    again = build_world("semantic", seed=0)
    other = semantic.build(1, semantic.Sizes())
    assert world_bytes(world, tmp_path / "a") == world_bytes(again, tmp_path / "b")
    assert world_bytes(world, tmp_path / "a") != world_bytes(other, tmp_path / "c")
    loaded = load_world(tmp_path / "a")
    assert loaded.items == world.items and loaded.documents == world.documents and check_world(loaded) == []


@pytest.mark.parametrize("seed, sizes", [(0, semantic.Sizes()), (7, semantic.Sizes()), (3, MID)])
def test_world_passes_checker(seed, sizes):
    world = semantic.build(seed, sizes)
    assert check_world(world) == []
    assert len(world.documents) == sizes.documents
    assert world.splits == ["rephrased", "reversed", "syllogism", "category_holdout", "stated"]
    assert world.control_splits == ("stated",)
    counts = {split: len(world.items_in(split)) for split in world.splits}
    assert all(n == sizes.items_per_split for split, n in counts.items() if split != "category_holdout")
    assert 10 <= counts["category_holdout"] <= sizes.items_per_split


def test_stated_items_ask_trained_facts_in_the_sentences_that_state_them():
    world = semantic.build(0, semantic.Sizes())
    stated = {f.claim for f in world.facts}
    items = world.items_in("stated")
    assert len(items) == semantic.Sizes().items_per_split
    for item in items:
        assert item.claims[item.answer] in stated
        sentence = item.prompt + item.options[item.answer]
        assert any(sentence in doc.text for doc in world.documents)  # verbatim, as trained
        assert not any(item.prompt + wrong in doc.text for doc in world.documents
                       for wrong in item.options if wrong != item.options[item.answer])


def test_paper_preset_builds_and_passes():
    sizes = semantic.PRESETS["paper"]
    world = built("semantic", 0, "paper")
    categories = {f.subject for f in world.facts if f.relation == "is_a"} | {
        f.object for f in world.facts if f.relation == "is_a"}
    assert len(categories) == sizes.categories == 110
    assert len(world.documents) == 2200
    assert check_world(world) == []
    counts = [len(SENTENCE_END.findall(doc.text)) for doc in world.documents]
    assert min(counts) == 4 and max(counts) == 20


def test_flipped_answer_fails_checker(world):
    item = world.items[0]
    flipped = dataclasses.replace(item, answer=(item.answer + 1) % len(item.options))
    problems = check_world(dataclasses.replace(world, items=[flipped, *world.items[1:]]))
    assert len(problems) == 2 and all(item.id in p for p in problems)


def test_dropping_the_documents_of_a_needed_fact_fails_checker(world):
    item = next(i for i in world.items_in("syllogism") if i.claims[i.answer][1] == "has_property")
    property_fact = item.fact_ids[-1]  # the ancestor's property; the rest is the is_a chain
    kept = [d for d in world.documents if property_fact not in d.fact_ids]
    problems = check_world(dataclasses.replace(world, documents=kept))
    assert any(f"needs fact {property_fact!r}" in p for p in problems)
    assert any(item.id in p and "does not follow" in p for p in problems)


def test_words_are_nonce_or_template(world):
    entities = {w for f in world.facts for w in (f.subject, f.object)}
    assert all(is_nonce_word(w) for w in entities)
    template_words = {w.lower() for w in re.findall(r"[A-Za-z]+", inspect.getsource(semantic_text))}
    texts = [d.text for d in world.documents] + [i.prompt + o for i in world.items for o in i.options]
    words = {w.lower() for t in texts for w in re.findall(r"[A-Za-z]+", t)}
    assert words - template_words == entities


def test_every_fact_stated_and_documents_4_to_max_sentences(world):
    assert {fid for d in world.documents for fid in d.fact_ids} == {f.id for f in world.facts}
    counts = [len(SENTENCE_END.findall(doc.text)) for doc in world.documents]
    assert min(counts) >= 4 and max(counts) <= world.sizes["max_sentences"]
    assert {d.style for d in world.documents} == set(semantic_text.STYLES)


def test_items_are_well_formed_with_hard_distractors(world):
    stated = stated_claims(world)
    # what training states, read in either direction: "grud are a type of abme" = "abme include grud"
    said = stated | {(o, world.rules.converses[r], s) for s, r, o in stated if r in world.rules.converses}
    for item in world.items:
        assert 2 <= len(item.options) <= 4 and not item.prompt.endswith(" ")
        assert all(o.startswith(" ") and o.endswith(".") for o in item.options)
        assert item.fact_ids and len({c[:2] for c in item.claims}) == 1  # one subject and relation
        for index, (s, r, d) in enumerate(item.claims):
            # every distractor is stated to hold this relation for another subject, whatever the relation
            assert index == item.answer or any(x != s and (x, r, d) in said for x, _, _ in said)
    assert {i.claims[0][1] for i in world.items} >= {"is_a", "includes", "has_property", "property_of", "eats"}
    # fewer than 4 only where the world has no more hard distractors (few parents in a small world)
    assert sum(len(i.options) == 4 for i in world.items) > 0.6 * len(world.items)


def test_trees_are_balanced_so_every_ancestor_has_peers():
    for seed, sizes in ((0, semantic.Sizes()), (1, MID)):
        taxonomy = semantic_world._taxonomy(random.Random(seed), sizes)
        roots = [c for c in taxonomy.categories if taxonomy.parent[c] is None]
        assert max(len(taxonomy.descendants(r)) for r in roots) - min(len(taxonomy.descendants(r)) for r in roots) <= 1
        assert max(len(taxonomy.ancestors(c)) for c in taxonomy.categories) == sizes.levels - 1
        assert all(2 <= len(kids) <= semantic.MAX_BRANCHING for kids in taxonomy.children.values() if kids)


def test_a_holdout_shares_no_document_with_its_ancestors(world):
    taxonomy = semantic_world._taxonomy(random.Random(world.seed), semantic.Sizes())
    for holdout in taxonomy.holdouts:
        for doc in world.documents:
            if re.search(rf"\b{holdout}\b", doc.text):
                grandparents = taxonomy.ancestors(holdout)[1:]  # the parent is named in the holdout's one fact
                assert not any(re.search(rf"\b{a}\b", doc.text, re.IGNORECASE) for a in grandparents)


def test_reversed_converses_are_never_stated(world):
    stated = stated_claims(world)
    text = all_text(world)
    items = world.items_in("reversed")
    assert {i.claims[i.answer][1] for i in items} == {"includes", "property_of", "eaten_by", "feared_by"}
    for item in items:
        forward = world.fact(item.fact_ids[0])
        converse = item.claims[item.answer]
        assert converse == (forward.object, semantic_text.CONVERSES[forward.relation], forward.subject)
        assert forward.claim in stated and converse not in stated
        for wording in semantic_text.TRAIN_WORDINGS[converse[1]]:
            assert semantic_text.sentence(wording, converse[0], converse[2]).lower() not in text


def test_some_facts_are_stated_both_ways(world):
    stated = stated_claims(world)
    forward_of = {backward: forward for forward, backward in semantic_text.CONVERSES.items()}
    backwards = [c for c in stated if c[1] in forward_of]
    assert {r for _, r, _ in backwards} == {"includes", "eaten_by", "feared_by"}
    assert all((o, forward_of[r], s) in stated for s, r, o in backwards)


def test_rephrased_wordings_never_appear_in_training(world):
    text = all_text(world)
    for wordings in semantic_text.HELD_OUT_WORDINGS.values():
        for wording in wordings:
            longest = max(wording.split("{s}"), key=len).strip()
            assert not re.search(rf"\b{longest}\b", text), wording
    for item in world.items_in("rephrased"):
        fact = world.fact(item.fact_ids[0])
        assert item.claims[item.answer] == fact.claim
        assert item.prompt in {semantic_text.prompt_text(w, fact.subject)
                               for w in semantic_text.HELD_OUT_WORDINGS[fact.relation]}


def test_syllogisms_are_inferred_not_stated(world):
    stated = stated_claims(world)
    for item in world.items_in("syllogism"):
        assert item.claims[item.answer] not in stated and len(item.fact_ids) >= 2


def test_holdout_categories_have_exactly_one_trained_fact(world):
    holdouts = sorted({i.claims[0][0] for i in world.items_in("category_holdout")})
    assert len(holdouts) == world.sizes["holdouts"]
    stated = stated_claims(world)
    for holdout in holdouts:
        mentions = [c for c in stated if holdout in (c[0], c[2])]
        assert len(mentions) == 1 and mentions[0][:2] == (holdout, "is_a")
        fact_id = f"{holdout}-is_a-{mentions[0][2]}"
        for doc in world.documents:
            if re.search(rf"\b{holdout}\b", doc.text, re.IGNORECASE):
                assert fact_id in doc.fact_ids


@pytest.mark.embedded
def test_default_train_set_fits_an_icl_context(world, embedded):
    tokenizer = embedded.tokenizer
    tokens = sum(len(tokenizer(doc.text + "\n\n")["input_ids"]) for doc in world.documents)
    assert tokens <= 3500


@pytest.mark.parametrize("kwargs, field", [
    ({"roots": 0}, "roots"), ({"levels": 1}, "levels"), ({"categories": 5}, "categories"),
    ({"categories": 200, "roots": 1, "levels": 3}, "categories"), ({"max_properties": 0}, "max_properties"),
    ({"holdouts": 9}, "holdouts"), ({"max_sentences": 3}, "max_sentences"), ({"max_sentences": 21}, "max_sentences"),
    ({"relations": 0}, "relations"), ({"items_per_split": 0}, "items_per_split"),
])
def test_sizes_out_of_range(kwargs, field):
    with pytest.raises(ValueError, match=field):
        semantic.Sizes(**kwargs)


@pytest.mark.parametrize("kwargs, field", [({"documents": 5}, "documents"), ({"relations": 200}, "relations")])
def test_sizes_the_world_cannot_meet(kwargs, field):
    with pytest.raises(IcftError, match=field):
        semantic.build(0, semantic.Sizes(**kwargs))
