import dataclasses
import re
from collections import Counter

import pytest

from icft.worlds import process
from icft.worlds.checker import check_world
from icft.worlds.process.rewrite import canonical, infix, parse, prefix, prover, transform
from icft.worlds.vocabulary import is_nonce_word
from world_files import template_words, world_bytes

IMAGES = {"blick": "zorp", "zorp": "fendo", "fendo": "blick"}


@pytest.fixture(scope="module")
def world():
    return process.build(0, process.Sizes())


def combination(tree) -> tuple[str, str | None]:
    """(outer, inner) rule kinds of an expression: inner None for a single rule."""
    def kind(t):
        return t[0] if t[0] != "app" else ("apply" if t[2] != ("x",) else "base")

    children = [t for t in tree[1:] if isinstance(t, tuple) and kind(t) != "base"]
    return kind(tree), (kind(children[0]) if children else None)


def test_the_rules_worked_by_hand():
    rules = process.TEMPLATES
    # sum rule: the transforms multiplied; product rule: added; nesting: h(g(x)) + the transform of g(x)
    assert infix(transform(parse("sum(blick(x), zorp(x))"), rules, IMAGES)) == "zorp(x) * fendo(x)"
    assert infix(transform(parse("prod(blick(x), zorp(x))"), rules, IMAGES)) == "zorp(x) + fendo(x)"
    assert infix(transform(parse("blick(zorp(x))"), rules, IMAGES)) == "zorp(zorp(x)) + fendo(x)"
    nested = transform(parse("blick(sum(zorp(x), fendo(x)))"), rules, IMAGES)
    assert infix(nested) == "zorp(zorp(x) + fendo(x)) + (fendo(x) * blick(x))"
    wrong_inner = transform(parse("blick(sum(zorp(x), fendo(x)))"), rules, IMAGES, {1: process.WRONG})
    assert infix(wrong_inner) == "zorp(zorp(x) + fendo(x)) + (fendo(x) + blick(x))"


def test_expressions_parse_print_and_compare_up_to_commutativity():
    tree = parse("prod(blick(x), sum(zorp(x), fendo(blick(x))))")
    assert prefix(tree) == "prod(blick(x), sum(zorp(x), fendo(blick(x))))"
    assert infix(tree) == "blick(x) * (zorp(x) + fendo(blick(x)))"
    assert canonical(tree) == canonical(parse("prod(sum(fendo(blick(x)), zorp(x)), blick(x))"))
    assert canonical(tree) != canonical(parse("sum(blick(x), prod(zorp(x), fendo(blick(x))))"))
    for bad in ("sum(blick(x))", "blick", "prod(blick(x), zorp(x)", "blick(x) + zorp(x)"):
        with pytest.raises(ValueError):
            parse(bad)
    follows = prover({"transform": process.TEMPLATES}, {(p, "transform", q) for p, q in IMAGES.items()})
    assert follows(("sum(blick(x), zorp(x))", "transform", "prod(fendo(x), zorp(x))")) is True
    assert follows(("sum(blick(x), zorp(x))", "transform", "sum(fendo(x), zorp(x))")) is False
    assert follows(("blick", "transform", "zorp")) is None  # a table fact: stated or not, not computed
    assert prover({"transform": process.TEMPLATES}, set())(("blick(x)", "transform", "zorp(x)")) is False


def test_same_seed_same_bytes_other_seed_differs(world, tmp_path):
    again = process.build(0, process.Sizes())
    other = process.build(1, process.Sizes())
    assert world_bytes(world, tmp_path / "a") == world_bytes(again, tmp_path / "b")
    assert world_bytes(world, tmp_path / "a") != world_bytes(other, tmp_path / "c")


@pytest.mark.parametrize("sizes", [process.Sizes(), process.Sizes(primitives=4, singles=1, worked=1, items_per_split=7,
                                                                   repeats=1), process.PRESETS["paper"]])
def test_world_passes_checker(sizes):
    world = process.build(4, sizes)
    assert check_world(world) == []
    counts = {split: len(world.items_in(split)) for split in world.splits}
    assert counts == {"worked": sizes.worked * len(process.SEEN), "seen_combinations": sizes.items_per_split,
                      "held_out_combinations": sizes.items_per_split}
    assert world.control_splits == ("worked",)
    assert len(world.documents) == 2 * sizes.repeats + 3 * sizes.singles + len(process.SEEN) * sizes.worked
    assert all(len(item.options) == 4 for item in world.items)


def test_held_out_combinations_are_never_trained(world):
    trained = {combination(parse(f.subject)) for f in world.facts if f.id.startswith("proc-worked")}
    assert trained == set(process.SEEN) | {(k, None) for k in process.KINDS}
    def combinations(split):
        return {combination(parse(i.claims[0][0])) for i in world.items_in(split)}

    assert combinations("held_out_combinations") == set(process.HELD_OUT)
    assert combinations("seen_combinations") == set(process.SEEN)
    stated = {f.subject for f in world.facts}
    assert all(i.claims[0][0] in stated for i in world.items_in("worked"))
    assert not any(i.claims[0][0] in stated for s in world.generalization_splits for i in world.items_in(s))
    assert {o for o, i in process.SEEN} == {o for o, i in process.HELD_OUT} == set(process.KINDS)  # every role
    assert {i for o, i in process.SEEN} == {i for o, i in process.HELD_OUT} == set(process.KINDS)


def test_options_differ_in_operators_and_in_names(world):
    for item in world.items:
        answer = item.options[item.answer]
        operators = [re.findall(r"[+*]", o) for o in item.options]
        names = [Counter(re.findall(r"[a-z]+", o)) for o in item.options]
        assert len({canonical(parse(c[2])) for c in item.claims}) == 4  # all different up to commutativity
        assert sum(ops == re.findall(r"[+*]", answer) for ops in operators) == 2  # a wrong rule: half
        assert len({tuple(sorted(n.items())) for n in names}) == 1  # same names, other places
        assert len(answer) == len(item.options[0])


def test_flipped_answer_fails_checker(world):
    item = world.items_in("held_out_combinations")[0]
    flipped = dataclasses.replace(item, answer=(item.answer + 1) % 4)
    problems = check_world(dataclasses.replace(world, items=[flipped if i is item else i for i in world.items]))
    assert len(problems) == 2 and all(item.id in p for p in problems)


def test_an_unstated_image_or_a_wrong_worked_example_fails_checker(world):
    item = world.items_in("held_out_combinations")[0]
    image = item.fact_ids[0]
    kept = [d for d in world.documents if image not in d.fact_ids]
    problems = check_world(dataclasses.replace(world, documents=kept))
    assert any(f"needs fact {image!r}" in p for p in problems) and any("does not follow" in p for p in problems)
    worked = next(f for f in world.facts if f.id.startswith("proc-worked"))
    facts = [dataclasses.replace(f, object="x") if f is worked else f for f in world.facts]
    problems = check_world(dataclasses.replace(world, facts=facts))
    assert any("disagrees with the world's rewrite rules" in p for p in problems)


def test_documents_and_words(world):
    styles = Counter(d.style for d in world.documents)
    assert styles == {"rules": 2, "table": 2, "worked": 3 * 2 + 6 * 4}
    name = world.items[0].prompt.split()[1]
    primitives = {f.subject for f in world.facts if f.id.startswith("proc-image")}
    assert is_nonce_word(name) and all(is_nonce_word(p) for p in primitives) and name not in primitives
    rules = next(d.text for d in world.documents if d.style == "rules")
    texts = [d.text for d in world.documents] + [i.prompt + o for i in world.items for o in i.options]
    words = {w.lower() for t in texts for w in re.findall(r"[A-Za-z]+", t)}
    allowed = template_words(rules, "find so by the rule is of each basic function") | {"x", name} | primitives
    assert words <= allowed
    worked = next(d.text for d in world.documents if d.style == "worked")
    assert worked.startswith(f"Find the {name} of ") and f"So the {name} of " in worked


def test_answer_positions_and_wrong_steps_are_balanced(world):
    for split in world.splits:
        assert set(Counter(i.answer for i in world.items_in(split)).values()) == {len(world.items_in(split)) // 4}


@pytest.mark.parametrize("kwargs, field", [({"primitives": 3}, "primitives"), ({"worked": 0}, "worked"),
                                           ({"primitives": 4, "items_per_split": 30}, "items_per_split")])
def test_sizes_out_of_range(kwargs, field):
    with pytest.raises(ValueError, match=field):
        process.Sizes(**kwargs)
