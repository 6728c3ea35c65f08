import json
import random
import re

import pytest

from icft.errors import IcftError
from icft.worlds import WORLDS, Document, Fact, Item, World, build_world, check_world, load_world, save_world
from icft.worlds.logic import Rules, closure
from icft.worlds.vocabulary import PARTITIONS, NonceVocabulary, candidates, is_english, is_nonce_word, world_candidates

RULES = Rules(converses={"more": "less", "less": "more", "is_a": "includes", "includes": "is_a"},
              compositions=(("is_a", "is_a", "is_a"),))


def world_words(world: World) -> set[str]:
    """The nonsense words of a world's train text and test items."""
    texts = [d.text for d in world.documents] + [i.prompt + " ".join(i.options) for i in world.items]
    nonce = set(candidates())
    return {w for t in texts for w in re.findall(r"[a-z]+", t.lower()) if w in nonce}


def hand_world() -> World:
    facts = [Fact("f1", "femp", "more", "glon"), Fact("f2", "grud", "is_a", "abme"), Fact("f3", "abme", "is_a", "tovo")]
    docs = [Document("d1", "Did you know that femp are more dangerous than glon?", ("f1",), "article"),
            Document("d2", "Gruds are a type of abmes. Abmes are a type of tovos.", ("f2", "f3"), "article")]
    items = [
        Item("i1", "reversed", "glon are", (" less dangerous than femp.", " more dangerous than femp."), 0,
             fact_ids=("f1",), claims=(("glon", "less", "femp"), ("glon", "more", "femp"))),
        Item("i2", "syllogism", "Gruds are a type of", (" tovos.", " glons."), 0, fact_ids=("f2", "f3"),
             claims=(("grud", "is_a", "tovo"), ("grud", "is_a", "glon"))),
    ]
    return World("hand", 0, "1", {"n": 1}, docs, items, facts, RULES)


def test_closure_applies_converses_and_compositions():
    known = closure({("a", "is_a", "b"), ("b", "is_a", "c")}, RULES)
    assert {("a", "is_a", "c"), ("c", "includes", "a"), ("b", "includes", "a")} <= known
    assert ("c", "is_a", "a") not in known


def test_save_load_round_trip_and_check(tmp_path):
    world = hand_world()
    save_world(world, tmp_path)
    again = load_world(tmp_path)
    assert again == world
    assert check_world(again) == []


def test_checker_catches_a_distractor_that_follows_and_an_unstated_fact():
    world = hand_world()
    bad = Item("i3", "reversed", "glon are", (" more dangerous than femp.", " less dangerous than femp."), 0,
               fact_ids=("f1",), claims=(("glon", "more", "femp"), ("glon", "less", "femp")))
    world.items.append(bad)
    problems = check_world(world)
    assert any("i3: correct option 0" in p for p in problems)
    assert any("i3: distractor 1" in p for p in problems)
    world.documents.pop(1)  # nothing states f2/f3 any more
    assert any("needs fact 'f2', which no train document states" in p for p in check_world(world))


@pytest.mark.parametrize("line, message", [
    ('{"id": "d1", "text": "x"', "train.jsonl:1: malformed JSON"),
    ('{"text": "x"}', "train.jsonl:1: missing field 'id'"),
    ('{"id": 3, "text": "x"}', "train.jsonl:1: field 'id' must be str"),
    ('[1, 2]', "train.jsonl:1: each line must be a JSON object"),
])
def test_malformed_train_lines_name_file_line_and_field(tmp_path, line, message):
    save_world(hand_world(), tmp_path)
    (tmp_path / "train.jsonl").write_text(line + "\n")
    with pytest.raises(IcftError, match=message):
        load_world(tmp_path)


def test_malformed_items_name_the_field(tmp_path):
    save_world(hand_world(), tmp_path)
    rows = [json.loads(x) for x in (tmp_path / "test.jsonl").read_text().splitlines()]
    rows[1]["answer"] = 5
    (tmp_path / "test.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    with pytest.raises(IcftError, match=r"test.jsonl:2: field 'answer' must be an index from 0 to 1, got 5"):
        load_world(tmp_path)
    rows[1]["answer"], rows[1]["options"] = 0, [" a"]
    (tmp_path / "test.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    with pytest.raises(IcftError, match="at least 2 non-empty strings"):
        load_world(tmp_path)


def test_missing_folder_and_file(tmp_path):
    with pytest.raises(IcftError, match="does not exist"):
        load_world(tmp_path / "nope")
    with pytest.raises(IcftError, match="world.json is missing"):
        load_world(tmp_path)


def test_vocabulary_rules_and_uniqueness():
    assert len(candidates()) > 10_000
    assert not is_nonce_word("table") and not is_nonce_word("tables") and not is_nonce_word("apple")
    assert is_english("dogs") and is_english("table")
    words = NonceVocabulary(random.Random(1), "reversals").draw(300)
    assert len(set(words)) == 300 and all(is_nonce_word(w) for w in words)
    assert all(not a.startswith(b) for a in words for b in words if a != b)
    assert words == NonceVocabulary(random.Random(1), "reversals").draw(300)
    assert words != NonceVocabulary(random.Random(2), "reversals").draw(300)


def test_worlds_draw_from_disjoint_parts_of_the_word_list():
    parts = {world: set(world_candidates(world)) for world in PARTITIONS}
    assert set(PARTITIONS) >= set(WORLDS) and len(set(PARTITIONS.values())) == len(PARTITIONS)
    assert all(len(words) > 8000 for words in parts.values())
    for a in parts:
        for b in parts:
            assert a == b or not parts[a] & parts[b]
    # the same seed in every world: no word is shared (worlds of one study never give a word two meanings)
    words = {name: world_words(build_world(name, seed=0)) for name in WORLDS}
    for a in words:
        for b in words:
            assert a == b or not words[a] & words[b], (a, b)


def test_a_vocabulary_that_runs_out_says_so():
    vocabulary = NonceVocabulary(random.Random(0), "syllogisms")
    with pytest.raises(IcftError, match="ran out"):
        vocabulary.draw(len(world_candidates("syllogisms")))


def test_control_splits_round_trip_and_every_generator_names_its_own(tmp_path):
    expected = {"reversals": ("rephrased",), "semantic": ("stated",), "syllogisms": ("premises",),
                "reversal_curse": ("forward", "reverse_b"), "process": ("worked",)}
    assert set(expected) == set(WORLDS)
    for name, controls in expected.items():
        world = build_world(name, seed=0)
        assert world.control_splits == controls and set(controls) <= set(world.splits)
        assert not set(controls) & set(world.generalization_splits)
        assert load_world(save_world(world, tmp_path / name)).control_splits == controls


def test_a_control_split_without_items_is_refused(tmp_path):
    folder = save_world(build_world("reversals", seed=0, facts=4), tmp_path / "w")
    header = json.loads((folder / "world.json").read_text())
    header["control_splits"] = ["nope"]
    (folder / "world.json").write_text(json.dumps(header))
    with pytest.raises(IcftError, match="control split 'nope' has no test items"):
        load_world(folder)
