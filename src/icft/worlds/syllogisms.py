"""Simple syllogisms: pairs of categorical premises over nonsense nouns, tested on their conclusion.

A train document names its three terms in a shuffled order on its first line, then states two premises
in a shuffled order:

    This is about troff, glon and yomp.
    All glon are yomp. All troff are glon.

The logic convention is **existential import** (the traditional reading, and the everyday one): every term
names something, so "all X are Y" implies "some X are Y" (and "some Y are X"). `RULES` encode it and
`world.json` states it (`rules.convention`). Only the quantifiers all/some/no are used ("some X are not Y"
never). The forms are the valid ones with an all/no/some conclusion, across the four figures: Barbara and
Bramantip (all), Celarent, Cesare, Camestres and Camenes (no), Darii, Datisi, Disamis and Dimaris (some),
and Darapti (some, from two "all" premises that share their middle term as subject). Every example uses
three fresh terms, so no two examples chain.

Test splits, one item per example, six options each: {All, Some, No} x both directions over two terms,
each on a new line as in training ("\\nAll troff are yomp."); the prompt names the two terms ("This is
about troff and yomp.", in a random order).
  syllogism           the conclusion of every form but Darapti; conclusions balanced across all, no, some.
                      The premises' "atmosphere" (no if a premise says no, else some if one says some, else
                      all) names the conclusion's quantifier here, as it does for every valid form but
                      Darapti in this format: `INHERENT_BASELINES` lists the shortcuts this leaves.
  syllogism_conflict  Darapti: two "all" premises support only a "some" conclusion, so the atmosphere
                      heuristic always fails here (and "some" is always the answer)
  premises            the control: the premise a document states first, asked after the document's own first
                      line ("This is about troff, glon and yomp.") with the six statements over its two terms,
                      so the answer continues the prompt exactly as trained
No option whose truth depends on the convention is ever a distractor: every option true under it is correct
(`also_correct` holds the converse of a "no" or "some" answer), except that where an "all" statement follows,
the two "some" statements it implies are left out (four options): they test the convention, not the
syllogism. The answer leads with the term the prompt names first, except in "all" items, where the prompt
names the answer's subject first in half of them.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass

from icft.worlds.logic import Claim, Rules, closure
from icft.worlds.sampling import balanced_flags
from icft.worlds.schema import Document, Fact, Item, World
from icft.worlds.vocabulary import NonceVocabulary

GENERATOR_VERSION = "4"
NAME = "syllogisms"
CONTROL_SPLITS = ("premises",)  # a trained premise, asked in the test's six-statement format: the learned check
MAX_EXAMPLES = 2000
QUANTIFIERS = ("all", "some", "no")
CONFLICT_FORM = "darapti"

# name -> (first premise, second premise, conclusion), each (quantifier, subject term, predicate term) over
# the terms S (subject), M (middle) and P (predicate) of the conclusion; the conclusion is the strongest
# statement between S and P that follows (Bramantip's classical "some S are P" is weaker than "all P are S").
FORMS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "barbara": (("all", "M", "P"), ("all", "S", "M"), ("all", "S", "P")),
    "bramantip": (("all", "P", "M"), ("all", "M", "S"), ("all", "P", "S")),
    "celarent": (("no", "M", "P"), ("all", "S", "M"), ("no", "S", "P")),
    "cesare": (("no", "P", "M"), ("all", "S", "M"), ("no", "S", "P")),
    "camestres": (("all", "P", "M"), ("no", "S", "M"), ("no", "S", "P")),
    "camenes": (("all", "P", "M"), ("no", "M", "S"), ("no", "S", "P")),
    "darii": (("all", "M", "P"), ("some", "S", "M"), ("some", "S", "P")),
    "datisi": (("all", "M", "P"), ("some", "M", "S"), ("some", "S", "P")),
    "disamis": (("some", "M", "P"), ("all", "M", "S"), ("some", "S", "P")),
    "dimaris": (("some", "P", "M"), ("all", "M", "S"), ("some", "S", "P")),
    "darapti": (("all", "M", "P"), ("all", "M", "S"), ("some", "S", "P")),
}

RULES = Rules(
    converses={"no": "no", "some": "some"},
    implications={"all": "some"},  # existential import (subalternation)
    compositions=(("all", "all", "all"), ("all", "no", "no"), ("some", "all", "some")),
    convention="existential import: every term names something, so 'all X are Y' implies 'some X are Y'",
)
# What no test in this format can remove from the `syllogism` split (Darapti items, free of them, are the
# syllogism_conflict split); the `longest` rule is the only one that also reaches syllogism_conflict.
_ECHO = "every valid conclusion but Darapti's echoes its premises: "
INHERENT_BASELINES = {
    ("syllogism", "atmosphere"): _ECHO + "its quantifier is the one the premises' atmosphere names",
    ("syllogism", "relation_elsewhere"): _ECHO + "a premise states its predicate with its quantifier (atmosphere)",
    ("syllogism", "cooccurrence_document"): _ECHO + "its quantifier is one the premises use (atmosphere)",
    ("syllogism", "ngram"): "a valid 'all' conclusion needs premises 'all S are ...' and '... are P', so the train "
                            "text's bigrams spell it out",
    ("syllogism", "longest"): "the options differ only in the quantifier (Some > All > No in letters, one token "
                              "each); under existential import 'some' is true wherever 'all' is, and no mix of "
                              "valid conclusions keeps both length rules at chance",
    ("syllogism_conflict", "longest"): "Darapti, the one valid form on which atmosphere fails, always concludes "
                                       "'some', the longest quantifier",
}


@dataclass(frozen=True)
class Sizes:
    examples: int = 24
    conflicts: int = 8  # of the examples, those of the Darapti form (the syllogism_conflict split)

    def __post_init__(self):
        if not 2 <= self.examples <= MAX_EXAMPLES:
            raise ValueError(f"examples must be between 2 and {MAX_EXAMPLES}, got {self.examples}")
        if not 1 <= self.conflicts < self.examples:
            raise ValueError(f"conflicts must be between 1 and examples - 1 ({self.examples - 1}), "
                             f"got {self.conflicts}")


PRESETS = {"default": Sizes(), "paper": Sizes(examples=69, conflicts=23)}


def build(seed: int, sizes: Sizes) -> World:
    """A syllogisms world: `sizes.examples` premise pairs, one test item and one control item each."""
    rng = random.Random(seed)
    vocab = NonceVocabulary(rng, NAME)
    forms = _forms(rng, sizes.examples - sizes.conflicts) + [CONFLICT_FORM] * sizes.conflicts
    rng.shuffle(forms)
    # in the "all" items, the answer's subject is named first in half of them, so naming order tells nothing
    all_forms = [n for n, form in enumerate(forms) if FORMS[form][2][0] == "all"]
    subject_first = dict(zip(all_forms, balanced_flags(rng, len(all_forms))))
    documents, items, controls, facts = [], [], [], []
    for index, form in enumerate(forms):
        terms = dict(zip("SMP", vocab.draw(3)))
        premises = [_fact(f"syl-fact-{index:04d}-{k}", FORMS[form][k], terms) for k in (0, 1)]
        document, first_premise = _premises_document(rng, f"syl-doc-{index:04d}", terms, premises)
        documents.append(document)
        subject, _, predicate = _fact("", FORMS[form][2], terms).claim
        pair = [subject, predicate] if subject_first.get(index, rng.random() < 0.5) else [predicate, subject]
        split = "syllogism_conflict" if form == CONFLICT_FORM else "syllogism"
        items.append(_six_statement_item(rng, f"syl-test-{index:04d}", split, pair, premises))
        # the control asks the document's first premise right after the document's own first line, so the
        # answer continues the prompt exactly as in training (asked out of that context, a 135M model that
        # memorized the documents still misses a third of them: it is a different test)
        heading = document.text.split("\n")[0]
        controls.append(_six_statement_item(rng, f"syl-premise-{index:04d}", "premises",
                                            [first_premise.subject, first_premise.object], premises, heading))
        facts.extend(premises)
    by_split = sorted(items, key=lambda item: item.split != "syllogism")  # stable: syllogism first
    return World(
        name=NAME, seed=seed, generator_version=GENERATOR_VERSION, sizes=dataclasses.asdict(sizes),
        documents=documents, items=by_split + controls, facts=facts, rules=RULES, control_splits=CONTROL_SPLITS,
        inherent_baselines=INHERENT_BASELINES,
    )


def _forms(rng: random.Random, n: int) -> list[str]:
    """`n` form names, Darapti aside: conclusions cycle through all/no/some, and each conclusion's forms too."""
    conclusions = [QUANTIFIERS[i % len(QUANTIFIERS)] for i in range(n)]
    rng.shuffle(conclusions)
    cycles: dict[str, list[str]] = {q: [] for q in QUANTIFIERS}
    forms = []
    for q in conclusions:
        if not cycles[q]:  # a fresh shuffled round of the forms with this conclusion
            cycles[q] = sorted(name for name, form in FORMS.items() if form[2][0] == q and name != CONFLICT_FORM)
            rng.shuffle(cycles[q])
        forms.append(cycles[q].pop())
    return forms


def _fact(fact_id: str, premise: tuple[str, str, str], terms: dict[str, str]) -> Fact:
    quantifier, subject, predicate = premise
    return Fact(fact_id, terms[subject], quantifier, terms[predicate])


def _premises_document(rng, doc_id: str, terms: dict[str, str], premises: list[Fact]) -> tuple[Document, Fact]:
    """The document, and the premise it states first."""
    names = rng.sample(list(terms.values()), 3)
    ordered = rng.sample(premises, 2)
    text = f"This is about {names[0]}, {names[1]} and {names[2]}.\n" + " ".join(_sentence(f.claim) for f in ordered)
    return Document(doc_id, text, tuple(f.id for f in premises), style="premises"), ordered[0]


def _six_statement_item(rng, item_id: str, split: str, pair: list[str], premises: list[Fact],
                        prompt: str | None = None) -> Item:
    """The six statements over `pair` (named in that order), shuffled; every one that follows from
    `premises` under `RULES` is correct, and the one leading with the first-named term is the answer. Where
    an "all" statement follows, it is the answer and the two "some" statements are left out: true only by
    the convention, they are never distractors, and as correct options they would reward a "some" habit."""
    first, second = pair
    claims: list[Claim] = [(a, q, b) for q in QUANTIFIERS for a, b in ((first, second), (second, first))]
    true = closure({f.claim for f in premises}, RULES) & set(claims)
    universal = [c for c in true if c[1] == "all"]
    if universal:
        claims = [c for c in claims if c[1] != "some"]
        true = set(universal)
    rng.shuffle(claims)
    answer = claims.index(universal[0] if universal else next(c for c in claims if c in true and c[0] == first))
    return Item(
        id=item_id, split=split, prompt=prompt or f"This is about {first} and {second}.",
        options=tuple("\n" + _sentence(c) for c in claims), answer=answer,
        also_correct=tuple(i for i, c in enumerate(claims) if c in true and i != answer),
        fact_ids=tuple(f.id for f in premises), claims=tuple(claims),
    )


def _sentence(claim: tuple[str, str, str]) -> str:
    subject, quantifier, predicate = claim
    return f"{quantifier.capitalize()} {subject} are {predicate}."
