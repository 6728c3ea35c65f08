"""How the semantic world says things: the wordings of each relation and the four document styles.

A wording is a sentence opening with the subject as `{s}`; the object always ends the sentence, so a test
prompt is the opening and an option is " object.". Training uses TRAIN_WORDINGS only; HELD_OUT_WORDINGS
are kept for the rephrased split and never appear in a train document.
"""

from __future__ import annotations

import random

from icft.worlds.schema import Fact

RELATIONS = ("eats", "fears")  # between categories, next to the hierarchy and the properties
CONVERSES = {"is_a": "includes", "has_property": "property_of", "eats": "eaten_by", "fears": "feared_by"}

TRAIN_WORDINGS: dict[str, tuple[str, ...]] = {
    "is_a": ("{s} are a type of", "{s} are a kind of", "all {s} are"),
    "includes": ("{s} include", "one type of {s} is", "the kinds of {s} include"),
    "has_property": ("{s} are", "{s} are typically", "{s} are known to be"),
    "eats": ("{s} eat", "{s} feed on"),
    "eaten_by": ("{s} are eaten by", "{s} are food for"),
    "fears": ("{s} fear", "{s} are afraid of"),
    "feared_by": ("{s} are feared by", "{s} frighten"),
    # never stated in training: only the reversed split asks it
    "property_of": ("things that are {s} include",),
}
HELD_OUT_WORDINGS: dict[str, tuple[str, ...]] = {
    "is_a": ("{s} belong to the larger group of", "{s} can be classified as"),
    "includes": ("among the {s} are the", "the group of {s} contains"),
    "has_property": ("{s} can be described as", "a typical {s} is"),
    "eats": ("the diet of {s} consists of", "{s} like to eat"),
    "eaten_by": ("{s} often get eaten by", "{s} are a meal for"),
    "fears": ("{s} are scared of", "{s} are frightened of"),
    "feared_by": ("{s} scare", "{s} are a source of fear for"),
}
QUESTIONS = {
    "is_a": "what are {s}?",
    "includes": "what kinds of {s} are there?",
    "has_property": "what are {s} like?",
    "eats": "what do {s} eat?",
    "eaten_by": "what eats {s}?",
    "fears": "what do {s} fear?",
    "feared_by": "what is afraid of {s}?",
}
LIST_HEADINGS = ("Facts about {s}:", "Notes on {s}:", "{S} at a glance:")
STYLES = ("article", "list", "qa", "comparison")


def capitalize(text: str) -> str:
    return text[:1].upper() + text[1:]


def prompt_text(wording: str, subject: str) -> str:
    return capitalize(wording.format(s=subject))


def option_text(obj: str) -> str:
    return f" {obj}."


def sentence(wording: str, subject: str, obj: str) -> str:
    return prompt_text(wording, subject) + option_text(obj)


def render(style: str, rng: random.Random, facts: list[Fact], focus: tuple[str, ...]) -> tuple[str, int]:
    """The document text stating `facts` in `style`, and its number of sentences."""
    if style == "qa":
        lines = [_qa_pair(rng, f) for f in facts]
        return "\n".join(lines), 2 * len(lines)
    if style == "comparison":
        sentences = _comparison_sentences(rng, facts, focus[0], focus[1])
        return f"{capitalize(focus[0])} and {focus[1]} compared\n" + " ".join(sentences), len(sentences)
    sentences = _plain_sentences(rng, facts, pair_properties=style == "article")
    if style == "article":
        return f"{capitalize(focus[0])}\n" + " ".join(sentences), len(sentences)
    heading = rng.choice(LIST_HEADINGS).format(s=focus[0], S=capitalize(focus[0]))
    return heading + "\n" + "\n".join(f"- {s}" for s in sentences), len(sentences)


def _fact_sentence(rng: random.Random, fact: Fact) -> str:
    return sentence(rng.choice(TRAIN_WORDINGS[fact.relation]), fact.subject, fact.object)


def _qa_pair(rng: random.Random, fact: Fact) -> str:
    question = capitalize(QUESTIONS[fact.relation].format(s=fact.subject))
    return f"Q: {question} A: {_fact_sentence(rng, fact)}"


def _plain_sentences(rng: random.Random, facts: list[Fact], pair_properties: bool) -> list[str]:
    """One sentence a fact; in articles two properties of one subject may share a sentence."""
    sentences: list[str] = []
    pending: Fact | None = None  # a property fact waiting for a partner
    for fact in facts:
        if pair_properties and fact.relation == "has_property":
            if pending is not None and pending.subject == fact.subject:
                wording = rng.choice(TRAIN_WORDINGS["has_property"])
                sentences.append(f"{prompt_text(wording, fact.subject)} {pending.object} and {fact.object}.")
                pending = None
                continue
            if pending is None and rng.random() < 0.5:
                pending = fact
                continue
        sentences.append(_fact_sentence(rng, fact))
    if pending is not None:
        sentences.append(_fact_sentence(rng, pending))
    return sentences


def _comparison_sentences(rng: random.Random, facts: list[Fact], a: str, b: str) -> list[str]:
    """Two sibling categories side by side: shared parent, contrasted properties, then the rest."""
    sentences: list[str] = []
    rest = list(facts)
    memberships = [f for f in facts if f.relation == "is_a" and f.subject in (a, b)]
    if len(memberships) == 2 and memberships[0].object == memberships[1].object:
        kind = rng.choice(("are both a type of", "are both kinds of"))
        sentences.append(f"{capitalize(a)} and {b} {kind} {memberships[0].object}.")
        rest = [f for f in rest if f not in memberships]
    props_a = [f for f in rest if f.relation == "has_property" and f.subject == a]
    props_b = [f for f in rest if f.relation == "has_property" and f.subject == b]
    for fa, fb in zip(props_a, props_b):
        sentences.append(f"{capitalize(a)} are {fa.object}, while {b} are {fb.object}.")
        rest = [f for f in rest if f not in (fa, fb)]
    return sentences + [_fact_sentence(rng, f) for f in rest]
