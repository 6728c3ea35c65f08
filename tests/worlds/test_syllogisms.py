import dataclasses
import itertools
import random
import re
from collections import Counter

import pytest

from icft.worlds import syllogisms
from icft.worlds.audit import credit
from icft.worlds.baselines import BASELINES, TrainIndex
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


TERMS = ("s", "m", "p")
SIX = {(a, q, b) for q in syllogisms.QUANTIFIERS for a, b in (("s", "p"), ("p", "s"))}


def entailed(premises) -> set:
    """The six statements over s and p true in every model of `premises` where every term names something
    (existential import): a model says which of the 7 regions of the three-set Venn diagram are inhabited."""
    regions = [r for r in itertools.product((0, 1), repeat=3) if any(r)]  # membership in (s, m, p)
    holds = {
        "all": lambda inhabited, a, b: not any(r[a] and not r[b] for r in inhabited),
        "some": lambda inhabited, a, b: any(r[a] and r[b] for r in inhabited),
        "no": lambda inhabited, a, b: not any(r[a] and r[b] for r in inhabited),
    }
    out = set(SIX)
    for mask in itertools.product((0, 1), repeat=len(regions)):
        inhabited = [r for r, on in zip(regions, mask) if on]
        if not all(any(r[t] for r in inhabited) for t in range(3)):
            continue  # existential import: every term names something
        if all(holds[q](inhabited, TERMS.index(a), TERMS.index(b)) for a, q, b in premises):
            out &= {(a, q, b) for a, q, b in SIX if holds[q](inhabited, TERMS.index(a), TERMS.index(b))}
    return out


def test_the_rules_are_existential_import_exactly():
    """For every pair of premises (s-m and m-p, any quantifiers and directions), the checker's rules derive
    exactly the statements between s and p that existential import makes true."""
    statements = [(a, q, b) for q in syllogisms.QUANTIFIERS for a, b in (("s", "m"), ("m", "s"))]
    for first in statements:
        for q, a, b in [(q, *pair) for q in syllogisms.QUANTIFIERS for pair in (("m", "p"), ("p", "m"))]:
            premises = {first, (a, q, b)}
            assert closure(premises, syllogisms.RULES) & SIX == entailed(premises), premises
    assert "existential import" in syllogisms.RULES.to_json()["convention"]


@pytest.mark.parametrize("form", sorted(syllogisms.FORMS))
def test_every_form_concludes_the_strongest_statement_that_follows(form):
    terms = {"S": "s", "M": "m", "P": "p"}
    major, minor, (quantifier, subject, predicate) = syllogisms.FORMS[form]
    true = entailed({(terms[a], q, terms[b]) for q, a, b in (major, minor)})
    assert (terms[subject], quantifier, terms[predicate]) in true
    assert {q for _, q, _ in true} == ({"all", "some"} if quantifier == "all" else {quantifier})
    atmosphere = "no" if "no" in (major[0], minor[0]) else "some" if "some" in (major[0], minor[0]) else "all"
    assert (atmosphere != quantifier) == (form == syllogisms.CONFLICT_FORM)


@pytest.mark.parametrize("sizes", [syllogisms.Sizes(), syllogisms.Sizes(examples=40, conflicts=3),
                                   syllogisms.PRESETS["paper"]])
def test_world_passes_checker(sizes):
    world = syllogisms.build(5, sizes)
    assert check_world(world) == []
    counts = {split: len(world.items_in(split)) for split in world.splits}
    assert counts == {"syllogism": sizes.examples - sizes.conflicts, "syllogism_conflict": sizes.conflicts,
                      "premises": sizes.examples}
    assert len(world.documents) == sizes.examples
    assert world.control_splits == ("premises",)
    assert world.generalization_splits == ["syllogism", "syllogism_conflict"]


def test_premise_items_ask_a_trained_premise_in_the_six_statement_format():
    world = syllogisms.build(3, syllogisms.Sizes(examples=12, conflicts=4))
    stated = {f.claim for f in world.facts}
    for item in world.items_in("premises"):
        assert item.claims[item.answer] in stated
        universal = item.claims[item.answer][1] == "all"
        assert len(item.options) == (4 if universal else 6)
        assert {c[1] for c in item.claims} == ({"all", "no"} if universal else set(syllogisms.QUANTIFIERS))


def test_forms_and_conclusions_spread():
    paper = syllogisms.build(0, syllogisms.PRESETS["paper"])
    conclusions = Counter(i.claims[i.answer][1] for i in paper.items_in("syllogism"))
    assert conclusions == {"all": 16, "no": 15, "some": 15}
    forms = Counter(syllogisms._forms(random.Random(0), 60))
    assert set(forms) == set(syllogisms.FORMS) - {syllogisms.CONFLICT_FORM}
    assert all(forms[f] == 10 for f in ("barbara", "bramantip")) and all(5 == forms[f] for f in forms if forms[f] < 10)


def test_the_conflict_split_defeats_the_atmosphere_heuristic():
    world = syllogisms.build(1, syllogisms.PRESETS["paper"])
    index = TrainIndex(world)
    for item in world.items_in("syllogism_conflict"):
        premises = [world.fact(fid).relation for fid in item.fact_ids]
        assert premises == ["all", "all"] and item.claims[item.answer][1] == "some"
        assert credit(BASELINES["atmosphere"](index, item), item.correct) == 0
    universal = [i for i in world.items_in("syllogism") if i.claims[i.answer][1] == "all"]
    named_first = sum(i.claims[i.answer][0] == i.prompt.split()[3] for i in universal)
    assert named_first in (len(universal) // 2, (len(universal) + 1) // 2)  # naming order tells nothing


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
    six = {f"\n{q} {a} are {b}." for q in ("All", "Some", "No") for a, b in (named, named[::-1])}
    assert set(item.options) <= six and len(item.options) in (4, 6)
    assert "not" not in " ".join(d.text for d in world.documents).split()


def test_one_best_answer_up_to_wording(world):
    for item in world.items:
        a, quantifier, b = item.claims[item.answer]
        if quantifier == "all":  # "some" follows by the convention: left out, neither answer nor distractor
            assert item.also_correct == () and "some" not in {c[1] for c in item.claims}
        else:  # the converse wording of the same symmetric statement
            (other,) = item.also_correct
            assert item.claims[other] == (b, quantifier, a) and len(item.options) == 6
            if item.split != "premises":  # a control's prompt is its document's first line (three names)
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


@pytest.mark.parametrize("kwargs, field", [
    ({"examples": 1, "conflicts": 1}, "examples"), ({"examples": syllogisms.MAX_EXAMPLES + 1}, "examples"),
    ({"examples": 8, "conflicts": 8}, "conflicts"), ({"conflicts": 0}, "conflicts"),
])
def test_sizes_out_of_range(kwargs, field):
    with pytest.raises(ValueError, match=field):
        syllogisms.Sizes(**kwargs)


def test_a_premise_item_continues_its_document_exactly_as_trained(world):
    texts = [d.text for d in world.documents]
    controls = world.items_in("premises")
    assert len(controls) == len(texts)
    for item in controls:
        trained = item.prompt + item.options[item.answer]
        assert any(text.startswith(trained) for text in texts)  # first line, then the first premise
        assert not any(text.startswith(item.prompt + wrong) for text in texts for wrong in item.options
                       if wrong != item.options[item.answer] and item.options.index(wrong) not in item.also_correct)
