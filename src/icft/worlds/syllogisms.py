"""Simple syllogisms: pairs of categorical premises over nonsense nouns, tested on their conclusion.

A train document names its three terms in a shuffled order on its first line, then states two premises
in a shuffled order:

    This is about troff, glon and yomp.
    All glon are yomp. All troff are glon.

Only the quantifiers all/some/no are used ("some X are not Y" never), and only the valid forms whose
conclusion is all/some/no without existential import ("all" never implies "some"): Barbara, Celarent,
Darii, Cesare, Camestres, Datisi, Disamis, Camenes and Dimaris. Conclusions are balanced across all, no
and some. Every example uses three fresh terms, so no two examples chain.

Test splits, one item per example: `premises` (the control: one of the two trained premises, asked in the
format below) and `syllogism`. In `syllogism` (one item per example): the prompt names the two conclusion terms ("This is about
troff and yomp.", in a random order) and the six options are {All, Some, No} x {both directions}, each on
a new line as in training ("\\nAll troff are yomp."). One best answer up to wording: an "all" conclusion
has exactly one true option; "no" and "some" are symmetric, so both directions are true and say the same
thing: `answer` is the one whose subject the prompt names first and `also_correct` holds its converse.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass

from icft.worlds.logic import Rules
from icft.worlds.schema import Document, Fact, Item, World
from icft.worlds.vocabulary import NonceVocabulary

GENERATOR_VERSION = "3"
NAME = "syllogisms"
CONTROL_SPLITS = ("premises",)  # a trained premise, asked in the test's six-statement format: the learned check
MAX_EXAMPLES = 2000
QUANTIFIERS = ("all", "some", "no")

# name -> (major premise, minor premise, conclusion), each (quantifier, subject term, predicate term)
# over the terms S (subject), M (middle) and P (predicate) of the conclusion.
FORMS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "barbara": (("all", "M", "P"), ("all", "S", "M"), ("all", "S", "P")),
    "celarent": (("no", "M", "P"), ("all", "S", "M"), ("no", "S", "P")),
    "cesare": (("no", "P", "M"), ("all", "S", "M"), ("no", "S", "P")),
    "camestres": (("all", "P", "M"), ("no", "S", "M"), ("no", "S", "P")),
    "camenes": (("all", "P", "M"), ("no", "M", "S"), ("no", "S", "P")),
    "darii": (("all", "M", "P"), ("some", "S", "M"), ("some", "S", "P")),
    "datisi": (("all", "M", "P"), ("some", "M", "S"), ("some", "S", "P")),
    "disamis": (("some", "M", "P"), ("all", "M", "S"), ("some", "S", "P")),
    "dimaris": (("some", "P", "M"), ("all", "M", "S"), ("some", "S", "P")),
}

# "some" and "no" are symmetric; no existential import, so all(a, b) never gives some(a, b)
RULES = Rules(
    converses={"no": "no", "some": "some"},
    compositions=(("all", "all", "all"), ("all", "no", "no"), ("some", "all", "some")),
)


@dataclass(frozen=True)
class Sizes:
    examples: int = 24

    def __post_init__(self):
        if not 1 <= self.examples <= MAX_EXAMPLES:
            raise ValueError(f"examples must be between 1 and {MAX_EXAMPLES}, got {self.examples}")


PRESETS = {"default": Sizes(), "paper": Sizes(examples=69)}


def build(seed: int, sizes: Sizes) -> World:
    """A syllogisms world: `sizes.examples` premise pairs, one test item each."""
    rng = random.Random(seed)
    vocab = NonceVocabulary(rng, NAME)
    forms = _forms_balanced_by_conclusion(rng, sizes.examples)
    documents, items, controls, facts = [], [], [], []
    for index, form in enumerate(forms):
        terms = dict(zip("SMP", vocab.draw(3)))
        premises = [_fact(f"syl-fact-{index:04d}-{k}", FORMS[form][k], terms) for k in (0, 1)]
        documents.append(_premises_document(rng, f"syl-doc-{index:04d}", terms, premises))
        conclusion = _fact("", FORMS[form][2], terms)
        items.append(_six_statement_item(rng, f"syl-test-{index:04d}", "syllogism", conclusion, premises))
        premise = rng.choice(premises)
        controls.append(_six_statement_item(rng, f"syl-premise-{index:04d}", "premises", premise, [premise]))
        facts.extend(premises)
    return World(
        name=NAME, seed=seed, generator_version=GENERATOR_VERSION, sizes=dataclasses.asdict(sizes),
        documents=documents, items=items + controls, facts=facts, rules=RULES, control_splits=CONTROL_SPLITS,
    )


def _forms_balanced_by_conclusion(rng: random.Random, n: int) -> list[str]:
    """`n` form names: conclusions cycle through all/no/some, and each conclusion's forms cycle too."""
    conclusions = [QUANTIFIERS[i % len(QUANTIFIERS)] for i in range(n)]
    rng.shuffle(conclusions)
    cycles: dict[str, list[str]] = {q: [] for q in QUANTIFIERS}
    forms = []
    for q in conclusions:
        if not cycles[q]:  # a fresh shuffled round of the forms with this conclusion
            cycles[q] = sorted(name for name, form in FORMS.items() if form[2][0] == q)
            rng.shuffle(cycles[q])
        forms.append(cycles[q].pop())
    return forms


def _fact(fact_id: str, premise: tuple[str, str, str], terms: dict[str, str]) -> Fact:
    quantifier, subject, predicate = premise
    return Fact(fact_id, terms[subject], quantifier, terms[predicate])


def _premises_document(rng, doc_id: str, terms: dict[str, str], premises: list[Fact]) -> Document:
    names = rng.sample(list(terms.values()), 3)
    ordered = rng.sample(premises, 2)
    text = f"This is about {names[0]}, {names[1]} and {names[2]}.\n" + " ".join(_sentence(f.claim) for f in ordered)
    return Document(doc_id, text, tuple(f.id for f in premises), style="premises")


def _six_statement_item(rng, item_id: str, split: str, statement: Fact, premises: list[Fact]) -> Item:
    """Six options {all, some, no} x both directions over `statement`'s two terms, shuffled; the true one
    (a conclusion, or a trained premise in the control split) leads with the first-named term."""
    quantifier = statement.relation
    first, second = rng.sample([statement.subject, statement.object], 2)
    claims = [(a, q, b) for q in QUANTIFIERS for a, b in ((first, second), (second, first))]
    rng.shuffle(claims)
    true_claims = {statement.claim}
    if quantifier in RULES.converses:
        true_claims.add((statement.object, quantifier, statement.subject))
    leading = [i for i, c in enumerate(claims) if c in true_claims and c[0] == first]
    answer = leading[0] if leading else next(i for i, c in enumerate(claims) if c in true_claims)
    return Item(
        id=item_id, split=split, prompt=f"This is about {first} and {second}.",
        options=tuple("\n" + _sentence(c) for c in claims), answer=answer,
        also_correct=tuple(i for i, c in enumerate(claims) if c in true_claims and i != answer),
        fact_ids=tuple(f.id for f in premises), claims=tuple(claims),
    )


def _sentence(claim: tuple[str, str, str]) -> str:
    subject, quantifier, predicate = claim
    return f"{quantifier.capitalize()} {subject} are {predicate}."
