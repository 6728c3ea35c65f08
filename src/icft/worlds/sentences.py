"""A world's sentences and its claims, both ways: a claim written in the world's own training wordings, and a
sentence (a model's augmentation, say) read back into the claims it states, which the world's facts then judge.

Writing uses only the wordings training documents use, never a held-out one (semantic's rephrased split asks
its facts in held-out wordings: writing them would hand a model the test's exact wording). Reading knows every
wording a world has, held-out ones and the document styles included, and a few leading connectives ("So,",
"Therefore,"); what matches none of them is unparsed. Claims are read in lower case: that is how they are
judged, against the closure of the facts the train documents state (`icft.worlds.logic`).

Worlds with wordings: reversals, syllogisms, semantic, reversal_curse. The process world (expressions, not
sentences of a template) and imported worlds (no facts) have none.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from icft.worlds import reversal_curse, reversals
from icft.worlds.semantic import text as semantic_text
from icft.worlds.logic import Claim, closure
from icft.worlds.schema import World

TRUE, FALSE, UNPARSED = "true", "false", "unparsed"
_CONNECTIVES = re.compile(
    r"^(?:so|therefore|thus|hence|also|in other words|this means that|it follows that|that means|this implies that)"
    r"\s*,?\s+")
_TERM = r"[a-z]+"
_TERMS = r"[a-z]+(?:(?:,? and |, )[a-z]+)*"  # "blick", "blick and zept", "blick, zept and fopru"


@dataclass(frozen=True)
class Wording:
    """How one world says its claims: `write` gives every training sentence stating a claim, in a fixed order;
    `read` gives the (lower-case) claims a sentence states, or None when it matches no wording."""

    write: Callable[[Claim], list[str]]
    read: Callable[[str], list[Claim] | None]


def wording(world: World) -> Wording | None:
    """The world's wording, or None for worlds that have none (process, imported)."""
    if not world.facts:
        return None
    makers = {"reversals": _reversals, "syllogisms": _syllogisms, "semantic": _semantic,
              "reversal_curse": _reversal_curse}
    return makers[world.name](world) if world.name in makers else None


class Judge:
    """Judges sentences against a world: the claims each states, whether they follow from the stated facts,
    and whether one of them is new (not itself a stated fact)."""

    def __init__(self, world: World):
        self.wording = wording(world)
        facts = {f.id: f for f in world.facts}
        self.stated = {_lower(facts[i].claim) for d in world.documents for i in d.fact_ids if i in facts}
        self.known = closure(self.stated, world.rules)

    def claims(self, sentence: str) -> list[Claim] | None:
        return None if self.wording is None else self.wording.read(sentence)

    def verdict(self, claims: list[Claim] | None) -> str:
        if claims is None:
            return UNPARSED
        return TRUE if all(c in self.known for c in claims) else FALSE

    def is_new(self, claims: list[Claim] | None) -> bool:
        """A true sentence that states something no train document states: an inference, not a restatement."""
        return self.verdict(claims) == TRUE and any(c not in self.stated for c in claims)


def clean(sentence: str) -> str:
    """The sentence as the readers match it: its last line, without a bullet, a "Q: ... A:" question or a
    leading connective, and without end punctuation."""
    text = sentence.strip().splitlines()[-1].strip() if sentence.strip() else ""
    text = re.sub(r"^(?:[-*•]|\d+[.)])\s*", "", text)
    answer = re.search(r"(?:^|\s)A:\s*", text)
    if answer:
        text = text[answer.end():]
    while connective := _CONNECTIVES.match(text.lower()):  # "So, therefore ..." carries several
        text = text[connective.end():]
    return text.strip().rstrip(".!?;:").strip()


def _lower(claim: Claim) -> Claim:
    return (claim[0].lower(), claim[1], claim[2].lower())


def _alternatives(words) -> str:
    """A regex group matching any of `words`, longest first (so "more dangerous" wins over a shorter match)."""
    return "(" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) + ")"


# ---- reversals: comparatives inside the articles' context lines -------------------------------------------


def _reversals(world: World) -> Wording:
    relation_of = {words: relation for relation, words in reversals.WORDS.items()}
    words = _alternatives(relation_of)
    statement = re.compile(rf"(?<![a-z])({_TERM}) are {words} than ({_TERM})(?![a-z])")
    compared = re.compile(rf"(?:compared with|in comparison with) ({_TERM}), ({_TERM}) are {words}(?![a-z])")

    def write(claim: Claim) -> list[str]:
        s, r, o = claim
        fact = f"{s} are {reversals.WORDS[r]} than {o}"
        return [semantic_text.capitalize(line.format(fact=fact)) for line in reversals.CONTEXT_LINES]

    def read(sentence: str) -> list[Claim] | None:
        text = clean(sentence).lower()
        found = [(s, relation_of[w], o) for s, w, o in statement.findall(text)]
        found += [(s, relation_of[w], o) for o, s, w in compared.findall(text)]
        return found or None

    return Wording(write, read)


# ---- syllogisms: "All glon are yomp." ----------------------------------------------------------------------


def _syllogisms(world: World) -> Wording:
    statement = re.compile(rf"(?<![a-z])(all|some|no) ({_TERM}) are (?!not\b)({_TERM})(?![a-z])")

    def write(claim: Claim) -> list[str]:
        s, q, p = claim
        return [f"{q.capitalize()} {s} are {p}."]

    def read(sentence: str) -> list[Claim] | None:
        text = clean(sentence).lower()
        if re.search(r"\bare not\b", text):
            return None  # "some X are not Y" is outside the world's logic
        return [(s, q, p) for q, s, p in statement.findall(text)] or None

    return Wording(write, read)


# ---- semantic: the relation wordings, lists of objects, and the comparison sentences -----------------------


def _semantic(world: World) -> Wording:
    categories = {t.lower() for f in world.facts if f.relation in ("is_a", "includes") for t in (f.subject, f.object)}
    patterns = []  # (regex, relation), longest wording first
    wordings = [(w, r) for table in (semantic_text.TRAIN_WORDINGS, semantic_text.HELD_OUT_WORDINGS)
                for r, ws in table.items() for w in ws]
    for w, relation in sorted(wordings, key=lambda wr: -len(wr[0])):
        opening = re.escape(w.lower()).replace(r"\{s\}", f"(?P<s>{_TERM})")
        patterns.append((re.compile(f"{opening} (?P<o>{_TERMS})"), relation))
    both = re.compile(rf"({_TERM}) and ({_TERM}) are both (?:a type of|kinds of|a kind of|types of) ({_TERM})")
    contrast = re.compile(rf"({_TERM}) are ({_TERM}), while ({_TERM}) are ({_TERM})")

    def write(claim: Claim) -> list[str]:
        s, r, o = claim
        return [semantic_text.sentence(w, s, o) for w in semantic_text.TRAIN_WORDINGS[r]]

    def read(sentence: str) -> list[Claim] | None:
        text = clean(sentence).lower()
        if m := both.fullmatch(text):
            return [(m[1], "is_a", m[3]), (m[2], "is_a", m[3])]
        if m := contrast.fullmatch(text):
            return [(m[1], "has_property", m[2]), (m[3], "has_property", m[4])]
        for pattern, relation in patterns:
            if m := pattern.fullmatch(text):
                objects = re.split(r",? and |, ", m["o"])
                if relation == "has_property" and all(o in categories for o in objects):
                    relation = "is_a"  # "grud are abme" names a category: membership, not a property
                return [(m["s"], relation, o) for o in objects]
        return None

    return Wording(write, read)


# ---- reversal curse: a person's name and description, in either order --------------------------------------


def _reversal_curse(world: World) -> Wording:
    name = r"(?P<name>[A-Z][a-z]+ [A-Z][a-z]+)"
    patterns = []
    for templates, forward in ((reversal_curse.FORWARD_TEMPLATES, True), (reversal_curse.REVERSE_TEMPLATES, False)):
        for t in sorted(templates, key=len, reverse=True):  # "{name} is widely known as {desc}" first
            regex = re.escape(t.rstrip(".?")).replace(r"\{name\}", name)
            regex = regex.replace(r"\{desc\}", "(?P<desc>.+?)").replace(r"\{Desc\}", "(?P<desc>.+?)")
            patterns.append((re.compile(regex, re.IGNORECASE), forward))

    def write(claim: Claim) -> list[str]:
        s, r, o = claim
        forward = r == "described_as"
        person, description = (s, o) if forward else (o, s)
        templates = reversal_curse.FORWARD_TEMPLATES if forward else reversal_curse.REVERSE_TEMPLATES
        return [t.format(name=person, desc=description, Desc=semantic_text.capitalize(description)) for t in templates]

    def read(sentence: str) -> list[Claim] | None:
        text = clean(sentence)
        for pattern, forward in patterns:
            if m := pattern.fullmatch(text):
                person, description = m["name"].lower(), m["desc"].lower()
                return [(person, "described_as", description) if forward else (description, "description_of", person)]
        return None

    return Wording(write, read)
