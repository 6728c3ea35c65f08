"""Simple reversals: comparison facts between nonsense nouns ("femp are more dangerous than glon").

Each fact compares two fresh nouns along one of 28 dimensions, stated with one of the dimension's two
comparatives; its converse ("glon are less dangerous than femp") is never trained. Every fact is repeated
in several short articles that open with a context line ("Did you know that ...") and may add a filler
sentence that states nothing.

Test splits (2-way forced choice, one item per fact):
  reversed   "glon are" -> " less dangerous than femp." (the converse) vs " more dangerous than femp."
  rephrased  "Compared with glon, femp are" -> " more dangerous." (the trained direction) vs " less dangerous."

Facts are stated half with the first comparative of a pair ("more dangerous", "brighter") and half with the
second, and each split puts the correct option first in half of its items, so a model that prefers one word
or one position scores at chance.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass

from icft.worlds.logic import Rules
from icft.worlds.sampling import balanced_flags, spread
from icft.worlds.schema import Document, Fact, Item, World
from icft.worlds.vocabulary import NonceVocabulary

GENERATOR_VERSION = "2"
CONTROL_SPLITS = ("rephrased",)  # the trained statements reworded: the learned check
NAME = "reversals"
MAX_FACTS = 2000

# (first, second): "a are <first> than b" means "b are <second> than a"; relation ids join words with "_".
DIMENSIONS: tuple[tuple[str, str], ...] = (
    ("more dangerous", "less dangerous"), ("brighter", "darker"), ("heavier", "lighter"),
    ("faster", "slower"), ("older", "younger"), ("taller", "shorter"), ("larger", "smaller"),
    ("stronger", "weaker"), ("warmer", "colder"), ("louder", "quieter"), ("richer", "poorer"),
    ("wider", "narrower"), ("harder", "softer"), ("deeper", "shallower"), ("thicker", "thinner"),
    ("wetter", "drier"), ("rougher", "smoother"), ("more expensive", "cheaper"), ("more common", "rarer"),
    ("more intelligent", "less intelligent"), ("more popular", "less popular"), ("cleaner", "dirtier"),
    ("more valuable", "less valuable"), ("more fragile", "less fragile"), ("more patient", "less patient"),
    ("more curious", "less curious"), ("more numerous", "less numerous"), ("more poisonous", "less poisonous"),
)


def relation_id(word: str) -> str:
    return word.replace(" ", "_")


WORDS: dict[str, str] = {relation_id(w): w for pair in DIMENSIONS for w in pair}  # relation id -> words
CONVERSES: dict[str, str] = {
    relation_id(a): relation_id(b) for first, second in DIMENSIONS for a, b in ((first, second), (second, first))
}


# each article opens with one of these; an article set never repeats a line for the same fact
CONTEXT_LINES: tuple[str, ...] = (
    "Did you know that {fact}?", "It is well known that {fact}.", "Scientists report that {fact}.",
    "Recent studies show that {fact}.", "Few people realize that {fact}.", "Experts agree that {fact}.",
    "According to a new survey, {fact}.", "It turns out that {fact}.", "Observers have long noted that {fact}.",
    "A recent report found that {fact}.", "Many travellers have pointed out that {fact}.",
    "Researchers have confirmed that {fact}.",
)

# sentences that state no fact, so an article is more than its one fact
FILLERS: tuple[str, ...] = (
    "This has been discussed for many years.", "The finding surprised many readers.",
    "More work on the question is planned.", "Not everyone was convinced at first.",
    "The details are still being studied.", "Several groups reached the same result.",
    "It was first described long ago.", "The topic comes up often in conversation.",
)

REPHRASINGS: tuple[str, ...] = ("Compared with {b}, {a} are", "In comparison with {b}, {a} are")


@dataclass(frozen=True)
class Sizes:
    facts: int = 24
    articles_per_fact: int = 3

    def __post_init__(self):
        if not 1 <= self.facts <= MAX_FACTS:
            raise ValueError(f"facts must be between 1 and {MAX_FACTS}, got {self.facts}")
        if not 1 <= self.articles_per_fact <= len(CONTEXT_LINES):
            raise ValueError(
                f"articles_per_fact must be between 1 and {len(CONTEXT_LINES)} (one per context line), "
                f"got {self.articles_per_fact}"
            )


PRESETS = {"default": Sizes(), "paper": Sizes(facts=100, articles_per_fact=10)}


def build(seed: int, sizes: Sizes) -> World:
    """A reversals world: `sizes.facts` facts, each in `sizes.articles_per_fact` articles."""
    rng = random.Random(seed)
    facts = _draw_facts(rng, sizes.facts)
    documents = _articles(rng, facts, sizes.articles_per_fact)
    items = _reversed_items(rng, facts) + _rephrased_items(rng, facts)
    items = [dataclasses.replace(item, id=f"rev-test-{n:04d}") for n, item in enumerate(items)]
    return World(
        name=NAME, seed=seed, generator_version=GENERATOR_VERSION, sizes=dataclasses.asdict(sizes),
        documents=documents, items=items, facts=facts, rules=Rules(converses=CONVERSES),
        control_splits=CONTROL_SPLITS,
    )


def _draw_facts(rng: random.Random, n: int) -> list[Fact]:
    """`n` facts on fresh noun pairs (so no chains form), half stated with each side of a dimension."""
    vocab = NonceVocabulary(rng, NAME)
    dimensions = spread(rng, list(DIMENSIONS), n)
    states_first = balanced_flags(rng, n)
    facts = []
    for index, ((first, second), use_first) in enumerate(zip(dimensions, states_first)):
        subject, obj = vocab.draw(2)
        relation = relation_id(first if use_first else second)
        facts.append(Fact(f"rev-fact-{index:04d}", subject, relation, obj))
    return facts


def _articles(rng: random.Random, facts: list[Fact], per_fact: int) -> list[Document]:
    """`per_fact` articles per fact, each with its own context line, in a shuffled order."""
    drafts = []
    for fact in facts:
        statement = f"{fact.subject} are {WORDS[fact.relation]} than {fact.object}"
        for line in rng.sample(CONTEXT_LINES, per_fact):
            sentences = [line.format(fact=statement)]
            if rng.random() < 0.5:  # a filler sentence before or after the fact
                filler = rng.choice(FILLERS)
                sentences.insert(rng.randrange(2), filler)
            drafts.append((" ".join(sentences), fact.id))
    rng.shuffle(drafts)  # so the articles of one fact are not adjacent in a concatenated context
    return [Document(f"rev-doc-{n:04d}", text, (fid,), style="article") for n, (text, fid) in enumerate(drafts)]


def _reversed_items(rng: random.Random, facts: list[Fact]) -> list[Item]:
    """Ask for the converse: "glon are" -> " less dangerous than femp."."""
    positions = balanced_flags(rng, len(facts))
    items = []
    for fact, correct_first in zip(facts, positions):
        converse = CONVERSES[fact.relation]
        right = (f" {WORDS[converse]} than {fact.subject}.", (fact.object, converse, fact.subject))
        wrong = (f" {WORDS[fact.relation]} than {fact.subject}.", (fact.object, fact.relation, fact.subject))
        items.append(_two_way_item("reversed", fact.object + " are", right, wrong, correct_first, fact.id))
    return items


def _rephrased_items(rng: random.Random, facts: list[Fact]) -> list[Item]:
    """Ask for the trained direction in other words: "Compared with glon, femp are" -> " more dangerous."."""
    positions = balanced_flags(rng, len(facts))
    items = []
    for fact, correct_first in zip(facts, positions):
        converse = CONVERSES[fact.relation]
        prompt = rng.choice(REPHRASINGS).format(a=fact.subject, b=fact.object)
        right = (f" {WORDS[fact.relation]}.", fact.claim)
        wrong = (f" {WORDS[converse]}.", (fact.subject, converse, fact.object))
        items.append(_two_way_item("rephrased", prompt, right, wrong, correct_first, fact.id))
    return items


def _two_way_item(split: str, prompt: str, right, wrong, correct_first: bool, fact_id: str) -> Item:
    """An item from (option, claim) pairs; its id is set once all items exist."""
    ordered = (right, wrong) if correct_first else (wrong, right)
    return Item(
        id="", split=split, prompt=prompt, options=tuple(o for o, _ in ordered),
        answer=0 if correct_first else 1, fact_ids=(fact_id,), claims=tuple(c for _, c in ordered),
    )
