"""Reading sentences back into claims: every fact-stating train sentence reads true; the rest is judged or
left unparsed."""

import pytest

from icft.text import split_sentences
from icft.worlds import build_world
from icft.worlds.sentences import FALSE, TRUE, UNPARSED, Judge, clean

WORLDS = {
    "reversals": {"facts": 6, "articles_per_fact": 2},
    "semantic": {"categories": 14, "relations": 5, "holdouts": 3, "documents": 20, "items_per_split": 10},
    "syllogisms": {"examples": 6, "conflicts": 2},
    "reversal_curse": {"people_a": 4, "people_b": 4},
}


@pytest.mark.parametrize("name", WORLDS)
def test_train_sentences_read_back_to_the_stated_facts(name):
    world = build_world(name, seed=1, **WORLDS[name])
    judge = Judge(world)
    read = [judge.claims(s) for d in world.documents for s in split_sentences(d.text)]
    assert all(judge.verdict(claims) in (TRUE, UNPARSED) for claims in read)
    assert {c for claims in read if claims for c in claims} == judge.stated  # every stated fact is read


@pytest.mark.parametrize("name", WORLDS)
def test_each_items_options_read_true_when_correct_and_false_otherwise(name):
    world = build_world(name, seed=1, **WORLDS[name])
    judge = Judge(world)
    for item in world.items:
        if name == "syllogisms":
            texts = [opt.strip() for opt in item.options]  # the prompt names the terms; an option is a sentence
        else:
            texts = [item.prompt + opt for opt in item.options]
        verdicts = [judge.verdict(judge.claims(t)) for t in texts]
        assert verdicts == [TRUE if n in item.correct else FALSE for n in range(len(texts))], (item.id, texts)


def test_reader_knows_the_wordings_connectives_and_styles():
    world = build_world("semantic", seed=1, **WORLDS["semantic"])
    judge = Judge(world)
    parent = next(f for f in world.facts if f.relation == "is_a")
    prop = next(f for f in world.facts if f.relation == "has_property")
    assert judge.claims(f"Therefore, {parent.subject} can be classified as {parent.object}.") == [
        (parent.subject, "is_a", parent.object)]  # a held-out wording is read (never written)
    assert judge.claims(f"- {parent.subject.capitalize()} are {parent.object}") == [
        (parent.subject, "is_a", parent.object)]  # a category after "are" is a membership
    assert judge.claims(f"{prop.subject} are {prop.object} and {prop.object}") == [
        (prop.subject, "has_property", prop.object)] * 2
    assert judge.claims("The weather was fine.") is None
    assert judge.verdict(None) == UNPARSED
    assert clean("Q: What are grud? A: So, grud are blick.") == "grud are blick"


def test_new_means_a_true_claim_no_document_states():
    world = build_world("reversals", seed=1, **WORLDS["reversals"])
    judge = Judge(world)
    fact = world.facts[0]
    stated = f"It turns out that {fact.subject} are {fact.relation.replace('_', ' ')} than {fact.object}."
    assert judge.verdict(judge.claims(stated)) == TRUE and not judge.is_new(judge.claims(stated))
    from icft.worlds.reversals import CONVERSES, WORDS

    converse = f"{fact.object} are {WORDS[CONVERSES[fact.relation]]} than {fact.subject}."
    assert judge.is_new(judge.claims(converse))
    assert judge.claims("Some glon are not yomp.") is None
