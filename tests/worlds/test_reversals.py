import dataclasses
import re
from collections import Counter

import pytest

from icft.worlds import reversals
from icft.worlds.checker import check_world
from icft.worlds.vocabulary import is_nonce_word
from world_files import world_bytes

TEMPLATE_WORDS = {
    w.lower()
    for text in (*reversals.CONTEXT_LINES, *reversals.FILLERS, *reversals.REPHRASINGS,
                 *(w for pair in reversals.DIMENSIONS for w in pair), "are than")
    for w in re.findall(r"[A-Za-z]+", re.sub(r"\{\w+\}", " ", text))  # placeholders are not words
}


@pytest.fixture(scope="module")
def world():
    return reversals.build(0, reversals.Sizes())



def test_same_seed_same_bytes_other_seed_differs(world, tmp_path):
    again = reversals.build(0, reversals.Sizes())
    other = reversals.build(1, reversals.Sizes())
    assert world_bytes(world, tmp_path / "a") == world_bytes(again, tmp_path / "b")
    assert world_bytes(world, tmp_path / "a") != world_bytes(other, tmp_path / "c")


@pytest.mark.parametrize("sizes", [reversals.Sizes(), reversals.Sizes(facts=7, articles_per_fact=1),
                                   reversals.PRESETS["paper"]])
def test_world_passes_checker(sizes):
    world = reversals.build(3, sizes)
    assert check_world(world) == []
    assert len(world.documents) == sizes.facts * sizes.articles_per_fact
    assert {s: len(world.items_in(s)) for s in world.splits} == {"reversed": sizes.facts, "rephrased": sizes.facts}


def test_flipped_answer_fails_checker(world):
    item = world.items[0]
    broken = dataclasses.replace(world, items=[dataclasses.replace(item, answer=1 - item.answer), *world.items[1:]])
    problems = check_world(broken)
    assert len(problems) == 2 and all(item.id in p for p in problems)


def test_missing_articles_fail_checker(world):
    fact_id = world.items[0].fact_ids[0]
    kept = [d for d in world.documents if fact_id not in d.fact_ids]
    problems = check_world(dataclasses.replace(world, documents=kept))
    assert any("no train document states" in p for p in problems)
    assert any("does not follow" in p for p in problems)


def test_words_are_nonce_or_template(world):
    entities = {w for f in world.facts for w in (f.subject, f.object)}
    assert len(entities) == 2 * len(world.facts)  # fresh words for every fact: no chains
    assert all(is_nonce_word(w) for w in entities)
    texts = [d.text for d in world.documents] + [i.prompt + o for i in world.items for o in i.options]
    other = {w for t in texts for w in re.findall(r"[A-Za-z]+", t) if w.lower() not in TEMPLATE_WORDS}
    assert other == entities


def test_each_article_states_one_fact_with_a_context_line(world):
    facts = {f.id: f for f in world.facts}
    per_fact = Counter(d.fact_ids for d in world.documents)
    assert set(per_fact.values()) == {world.sizes["articles_per_fact"]}
    for doc in world.documents:
        fact = facts[doc.fact_ids[0]]
        statement = f"{fact.subject} are {reversals.WORDS[fact.relation]} than {fact.object}"
        assert statement in doc.text
        assert any(line.format(fact=statement) in doc.text for line in reversals.CONTEXT_LINES)


def test_answers_and_comparatives_balanced(world):
    firsts = {reversals.relation_id(first) for first, _ in reversals.DIMENSIONS}
    stated_first = sum(f.relation in firsts for f in world.facts)
    assert abs(stated_first - len(world.facts) / 2) <= 1.5  # half in each kind of pair (an odd one: at random)
    for split in world.splits:
        items = world.items_in(split)
        assert Counter(i.answer for i in items) == {0: len(items) // 2, 1: len(items) // 2}
        correct_first = sum(i.claims[i.answer][1] in firsts for i in items)
        assert 0 < correct_first < len(items)


def test_reversed_item_asks_for_the_converse(world):
    item = world.items_in("reversed")[0]
    fact = world.fact(item.fact_ids[0])
    assert item.prompt == f"{fact.object} are"
    assert item.claims[item.answer] == (fact.object, reversals.CONVERSES[fact.relation], fact.subject)
    assert all(o.startswith(" ") and not item.prompt.endswith(" ") for o in item.options)


def test_options_end_where_the_answer_ends():
    # an article goes on "a are <comparative> than b": a full stop after the comparative a model read is unlikely
    # to it, so a scored stop would count against the option it read; an option is the answer's words alone
    from icft.worlds import build_world

    world = build_world("reversals", seed=2, facts=8, articles_per_fact=1, reversed_per_fact=4,
                        rephrasings_per_fact=6)
    for item in world.items:
        for option, (subject, relation, obj) in zip(item.options, item.claims):
            words = reversals.WORDS[relation]
            stated_object = item.split == "reversed" and item.prompt == f"{subject} are"
            assert option == (f" {words} than {obj}" if stated_object else f" {words}")


@pytest.mark.parametrize("kwargs, field", [({"facts": 0}, "facts"), ({"articles_per_fact": 13}, "articles_per_fact")])
def test_sizes_out_of_range(kwargs, field):
    with pytest.raises(ValueError, match=field):
        reversals.Sizes(**kwargs)


def test_each_fact_can_be_asked_several_times_each_in_its_own_wording():
    from icft.worlds import build_world

    world = build_world("reversals", seed=3, facts=12, articles_per_fact=1, reversed_per_fact=2,
                        rephrasings_per_fact=3)
    for split, per_fact in (("reversed", 2), ("rephrased", 3)):
        items = world.items_in(split)
        assert len(items) == 12 * per_fact
        by_fact = Counter(item.fact_ids[0] for item in items)
        assert set(by_fact.values()) == {per_fact}
        for fact in by_fact:  # a fact's items differ in wording, never in what they ask
            prompts = [item.prompt for item in items if item.fact_ids == (fact,)]
            assert len(set(prompts)) == per_fact
        assert sum(item.answer == 0 for item in items) == len(items) // 2  # the correct option first in half
    check_world(world)  # every answer proved from the facts, every distractor refuted



@pytest.mark.parametrize("seed", range(6))
def test_picking_the_longest_option_stays_at_chance_on_reversed(seed):
    from icft.worlds import build_world

    world = build_world("reversals", seed=seed, facts=32, articles_per_fact=1, reversed_per_fact=3)
    items = world.items_in("reversed")
    longest_right = [len(item.options[item.answer]) > len(item.options[1 - item.answer]) for item in items
                     if len(item.options[0]) != len(item.options[1])]
    # the converse is the longer option in half of the facts whose words differ (one odd fact: 3 items)
    assert abs(sum(longest_right) - len(longest_right) / 2) <= 3
