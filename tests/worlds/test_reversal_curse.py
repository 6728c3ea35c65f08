import dataclasses
import re
from collections import Counter

import pytest

from icft.worlds import reversal_curse
from icft.worlds.checker import check_world
from icft.worlds.vocabulary import is_nonce_word
from world_files import world_bytes

TEMPLATE_WORDS = {
    w.lower()
    for text in (*reversal_curse.DESCRIPTIONS, *reversal_curse.FORWARD_TEMPLATES, *reversal_curse.REVERSE_TEMPLATES)
    for w in re.findall(r"[A-Za-z]+", re.sub(r"\{\w+\}", " ", text))  # placeholders are not words
}


@pytest.fixture(scope="module")
def world():
    return reversal_curse.build(0, reversal_curse.Sizes())



def names_of(world):
    return {f.subject for f in world.facts if f.relation == "described_as"}


def test_same_seed_same_bytes_other_seed_differs(world, tmp_path):
    again = reversal_curse.build(0, reversal_curse.Sizes())
    other = reversal_curse.build(1, reversal_curse.Sizes())
    assert world_bytes(world, tmp_path / "a") == world_bytes(again, tmp_path / "b")
    assert world_bytes(world, tmp_path / "a") != world_bytes(other, tmp_path / "c")


@pytest.mark.parametrize("sizes", [reversal_curse.Sizes(), reversal_curse.Sizes(people_a=4, people_b=9, paraphrases=1),
                                   reversal_curse.PRESETS["paper"]])
def test_world_passes_checker(sizes):
    world = reversal_curse.build(2, sizes)
    assert check_world(world) == []
    a, b = sizes.people_a, sizes.people_b
    assert len(world.documents) == (a + 2 * b) * sizes.paraphrases
    assert {s: len(world.items_in(s)) for s in world.splits} == {"reverse_a": a, "reverse_b": b, "forward": a}
    assert all(len(item.options) == 4 for item in world.items)


def test_set_a_trained_one_way_set_b_both(world):
    facts = {f.id: f for f in world.facts}
    per_fact = Counter(fid for d in world.documents for fid in d.fact_ids)
    assert set(per_fact.values()) == {world.sizes["paraphrases"]}
    both_ways = {"described_as", "description_of"}
    for split, expected_relations in (("reverse_a", {"described_as"}), ("reverse_b", both_ways)):
        for item in world.items_in(split):
            name = item.options[item.answer].strip().rstrip(".")
            docs = [d for d in world.documents if name in d.text]
            assert {facts[d.fact_ids[0]].relation for d in docs} == expected_relations
            for doc in docs:  # the direction a document is written in matches the fact it states
                fact = facts[doc.fact_ids[0]]
                description = fact.object if fact.relation == "described_as" else fact.subject
                name_first = doc.text.index(name) < doc.text.lower().index(description.lower())
                assert name_first == (fact.relation == "described_as")


def test_reverse_prompt_is_the_description(world):
    item = world.items_in("reverse_a")[0]
    fact = world.fact(item.fact_ids[0])
    assert item.prompt == fact.object[:1].upper() + fact.object[1:] + " is"
    assert item.options[item.answer] == f" {fact.subject}."
    assert item.claims[item.answer] == (fact.object, "description_of", fact.subject)
    texts = {d.text for d in world.documents}
    assert item.prompt + item.options[item.answer] not in texts  # set A: the reverse is never trained
    assert all(i.prompt + i.options[i.answer] in texts for i in world.items_in("reverse_b"))
    assert all(i.prompt + i.options[i.answer] in texts for i in world.items_in("forward"))


def test_distractors_come_from_the_same_set(world):
    set_a = {world.fact(i.fact_ids[0]).subject for i in world.items_in("reverse_a")}
    for split, people in (("reverse_a", set_a), ("reverse_b", names_of(world) - set_a)):
        for item in world.items_in(split):
            assert {o.strip().rstrip(".") for o in item.options} <= people


def test_flipped_answer_fails_checker(world):
    item = world.items[0]
    broken_items = [dataclasses.replace(item, answer=(item.answer + 1) % 4), *world.items[1:]]
    problems = check_world(dataclasses.replace(world, items=broken_items))
    assert len(problems) == 2 and all(item.id in p for p in problems)


def test_missing_documents_fail_checker(world):
    fact_id = world.items[0].fact_ids[0]
    kept = [d for d in world.documents if fact_id not in d.fact_ids]
    problems = check_world(dataclasses.replace(world, documents=kept))
    assert any("no train document states" in p for p in problems)
    assert any("does not follow" in p for p in problems)


def test_words_are_nonce_or_template(world):
    names = names_of(world)
    assert len(names) == 24 and all(re.fullmatch(r"[A-Z][a-z]+ [A-Z][a-z]+", n) for n in names)
    texts = [d.text for d in world.documents] + [i.prompt + o for i in world.items for o in i.options]
    other = {w.lower() for t in texts for w in re.findall(r"[A-Za-z]+", t) if w.lower() not in TEMPLATE_WORDS}
    assert {n.lower() for name in names for n in name.split()} <= other
    assert all(is_nonce_word(w) for w in other)


def test_answer_positions_balanced(world):
    for split in world.splits:
        positions = Counter(i.answer for i in world.items_in(split))
        assert positions == {0: 3, 1: 3, 2: 3, 3: 3}


@pytest.mark.parametrize("kwargs, field", [({"people_a": 3}, "people_a"), ({"people_b": 0}, "people_b"),
                                           ({"paraphrases": 5}, "paraphrases")])
def test_sizes_out_of_range(kwargs, field):
    with pytest.raises(ValueError, match=field):
        reversal_curse.Sizes(**kwargs)
