import dataclasses
import random
import re
from collections import Counter

import pytest

from icft.worlds import syllogisms
from icft.worlds.checker import check_world
from icft.worlds.logic import closure
from icft.worlds.vocabulary import is_nonce_word
from world_files import world_bytes

TEMPLATE_WORDS = {"this", "is", "about", "and", "all", "some", "no", "are"}


@pytest.fixture(scope="module")
def world():
    return syllogisms.build(0, syllogisms.Sizes())



def test_same_seed_same_bytes_other_seed_differs(world, tmp_path):
    again = syllogisms.build(0, syllogisms.Sizes())
    other = syllogisms.build(1, syllogisms.Sizes())
    assert world_bytes(world, tmp_path / "a") == world_bytes(again, tmp_path / "b")
    assert world_bytes(world, tmp_path / "a") != world_bytes(other, tmp_path / "c")


@pytest.mark.parametrize("form", sorted(syllogisms.FORMS))
def test_every_form_is_valid_under_the_rules_and_nothing_more(form):
    """The conclusion follows from the premises; no other of the six statements does (except its converse)."""
    terms = {"S": "s", "M": "m", "P": "p"}
    major, minor, (quantifier, _, _) = syllogisms.FORMS[form]
    known = closure({(terms[a], q, terms[b]) for q, a, b in (major, minor)}, syllogisms.RULES)
    six = {(a, q, b) for q in syllogisms.QUANTIFIERS for a, b in (("s", "p"), ("p", "s"))}
    expected = {("s", quantifier, "p")} | ({("p", quantifier, "s")} if quantifier != "all" else set())
    assert known & six == expected


@pytest.mark.parametrize("sizes", [syllogisms.Sizes(), syllogisms.Sizes(examples=40), syllogisms.PRESETS["paper"]])
def test_world_passes_checker(sizes):
    world = syllogisms.build(5, sizes)
    assert check_world(world) == []
    assert len(world.documents) == len(world.items_in("syllogism")) == len(world.items_in("premises")) == sizes.examples
    assert world.splits == ["syllogism", "premises"]
    assert world.control_splits == ("premises",) and world.generalization_splits == ["syllogism"]


def test_premise_items_ask_a_trained_premise_in_the_six_statement_format():
    world = syllogisms.build(3, syllogisms.Sizes(examples=12))
    stated = {f.claim for f in world.facts}
    for item in world.items_in("premises"):
        assert len(item.options) == 6 and item.claims[item.answer] in stated
        assert {c[1] for c in item.claims} == set(syllogisms.QUANTIFIERS)


def test_forms_and_conclusions_spread():
    paper = syllogisms.build(0, syllogisms.PRESETS["paper"])
    conclusions = Counter(i.claims[i.answer][1] for i in paper.items_in("syllogism"))
    assert conclusions == {"all": 23, "no": 23, "some": 23}
    forms = Counter(syllogisms._forms_balanced_by_conclusion(random.Random(0), 69))
    assert set(forms) == set(syllogisms.FORMS)
    assert forms["barbara"] == 23 and all(5 <= forms[f] <= 6 for f in forms if f != "barbara")


def test_flipped_answer_fails_checker(world):
    item = next(i for i in world.items if not i.also_correct)  # an "all" conclusion: one true option
    wrong = next(n for n in range(6) if n != item.answer)
    broken_items = [dataclasses.replace(i, answer=wrong) if i is item else i for i in world.items]
    problems = check_world(dataclasses.replace(world, items=broken_items))
    assert len(problems) == 2 and all(item.id in p for p in problems)


def test_missing_document_fails_checker(world):
    kept = world.documents[1:]
    problems = check_world(dataclasses.replace(world, documents=kept))
    assert any("no train document states" in p for p in problems)
    assert any("does not follow" in p for p in problems)


def test_document_and_item_format(world):
    doc, item = world.documents[0], world.items[0]
    first_line, premises = doc.text.split("\n")
    terms = re.fullmatch(r"This is about (\w+), (\w+) and (\w+)\.", first_line).groups()
    assert len(re.findall(r"(?:All|Some|No) \w+ are \w+\.", premises)) == 2
    named = re.fullmatch(r"This is about (\w+) and (\w+)\.", item.prompt).groups()
    assert set(named) < set(terms)
    assert sorted(item.options) == sorted(f"\n{q} {a} are {b}." for q in ("All", "Some", "No")
                                          for a, b in (named, named[::-1]))
    assert "not" not in " ".join(d.text for d in world.documents).split()


def test_one_best_answer_up_to_wording(world):
    for item in world.items:
        quantifier = item.claims[item.answer][1]
        if quantifier == "all":
            assert item.also_correct == ()
        else:  # the converse wording of the same symmetric statement
            (other,) = item.also_correct
            a, q, b = item.claims[item.answer]
            assert item.claims[other] == (b, q, a)
            assert a == item.prompt.split()[3]  # the answer leads with the first-named term


def test_words_are_nonce_or_template(world):
    entities = {w for f in world.facts for w in (f.subject, f.object)}
    assert len(entities) == 3 * len(world.documents)  # three fresh terms per example
    assert all(is_nonce_word(w) for w in entities)
    texts = [d.text for d in world.documents] + [i.prompt + o for i in world.items for o in i.options]
    other = {w for t in texts for w in re.findall(r"[A-Za-z]+", t) if w.lower() not in TEMPLATE_WORDS}
    assert other == entities


def test_answer_positions_vary(world):
    positions = Counter(i.answer for i in world.items)
    assert len(positions) >= 4 and max(positions.values()) <= len(world.items) // 2


@pytest.mark.parametrize("examples", [0, syllogisms.MAX_EXAMPLES + 1])
def test_sizes_out_of_range(examples):
    with pytest.raises(ValueError, match="examples"):
        syllogisms.Sizes(examples=examples)
