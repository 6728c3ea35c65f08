"""Simple reversals: comparison facts between nonsense nouns ("femp are more dangerous than glon").

Each fact compares two fresh nouns along one of 28 dimensions, stated with one of the dimension's two
comparatives; its converse ("glon are less dangerous than femp") is never trained. Every fact is repeated
in several short articles that open with a context line ("Did you know that ...") and may add a filler
sentence that states nothing.

Test splits (2-way forced choice; `reversed_per_fact` and `rephrasings_per_fact` items per fact, each in its
own wording, so a fact is asked several times for little cost: scoring is cheap, facts cost fine-tuning):
  reversed   "glon are" -> " less dangerous than femp" (the converse) vs " more dangerous than femp";
             further wordings: "Compared with femp, glon are" -> " less dangerous" vs " more dangerous"
  rephrased  "Compared with glon, femp are" -> " more dangerous" (the trained direction) vs " less dangerous";
             further wordings: "Relative to glon, femp are", "Next to glon, femp are", ...

Options end where the answer ends, without a full stop: the articles go on "femp are more dangerous than ...",
so a model that read a fact expects " than" after the comparative it read and gives a full stop there a lower
probability than after the other comparative. A scored "." thus counted against the option the model had read
(Gemma3-270M's ICL, 24 facts x 6 wordings x 3 orders: log p(".") -2.24 after the stated comparative, -1.71 after
its converse, -2.8 after either without the articles; rephrased 0.80 with the stop, 0.92 without; generator
version 3 had it).

Facts are stated half with the first comparative of a pair ("more dangerous", "brighter") and half with the
second, and where a pair's words differ in length ("brighter", "darker") half state the longer one, so the
converse (the reversed answer) is the longer option in half of the items: "pick the longest option" scores at
chance (generator version 2 balanced only the first/second side, and a 32-fact world's reversed split gave that
shortcut 0.67). Each split puts the correct option first in half of its items, so a model that prefers one word
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

GENERATOR_VERSION = "4"  # 3: several items per fact (sizes reversed_per_fact, rephrasings_per_fact); 4: no full stop
# ending the options (it scored against the comparative a model had read: see the module docstring)
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
# the wordings of a fact's further control items (a fact asked k > 1 times takes k of all of these)
MORE_REPHRASINGS: tuple[str, ...] = ("Relative to {b}, {a} are", "Next to {b}, {a} are",
                                     "When set beside {b}, {a} are", "Measured against {b}, {a} are")
# the reversed question: first as a plain statement with its object, then in the rephrasings' wordings
REVERSED_PROMPTS: tuple[str, ...] = ("{b} are", "Compared with {a}, {b} are", "In comparison with {a}, {b} are",
                                     "Relative to {a}, {b} are")


@dataclass(frozen=True)
class Sizes:
    facts: int = 24
    articles_per_fact: int = 3
    reversed_per_fact: int = 1  # reversed items per fact, each in its own wording
    rephrasings_per_fact: int = 1  # control items per fact (the learned check), each in its own wording

    def __post_init__(self):
        if not 1 <= self.facts <= MAX_FACTS:
            raise ValueError(f"facts must be between 1 and {MAX_FACTS}, got {self.facts}")
        if not 1 <= self.reversed_per_fact <= len(REVERSED_PROMPTS):
            raise ValueError(f"reversed_per_fact must be between 1 and {len(REVERSED_PROMPTS)}, "
                             f"got {self.reversed_per_fact}")
        most = len(REPHRASINGS) + len(MORE_REPHRASINGS)
        if not 1 <= self.rephrasings_per_fact <= most:
            raise ValueError(f"rephrasings_per_fact must be between 1 and {most}, got {self.rephrasings_per_fact}")
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
    items = _reversed_items(rng, facts, sizes.reversed_per_fact) + _rephrased_items(rng, facts,
                                                                                    sizes.rephrasings_per_fact)
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
    # balanced within each kind of pair (first word longer, shorter, or as long): in each, half state the first
    # word, so both the stated side and the converse's length are balanced
    states_first = [False] * n
    for kind in (1, -1, 0):
        group = [i for i, (a, b) in enumerate(dimensions) if (len(a) > len(b)) - (len(a) < len(b)) == kind]
        for i, flag in zip(group, balanced_flags(rng, len(group))):
            states_first[i] = flag
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


def _reversed_items(rng: random.Random, facts: list[Fact], per_fact: int) -> list[Item]:
    """Ask for the converse: "glon are" -> " less dangerous than femp" (then "Compared with femp, glon are" ...).

    The correct option comes first in half of each wording's items."""
    items = []
    for wording in REVERSED_PROMPTS[:per_fact]:
        positions = balanced_flags(rng, len(facts))
        for fact, correct_first in zip(facts, positions):
            converse = CONVERSES[fact.relation]
            ending = f" than {fact.subject}" if wording == REVERSED_PROMPTS[0] else ""
            right = (f" {WORDS[converse]}{ending}", (fact.object, converse, fact.subject))
            wrong = (f" {WORDS[fact.relation]}{ending}", (fact.object, fact.relation, fact.subject))
            prompt = wording.format(a=fact.subject, b=fact.object)
            items.append(_two_way_item("reversed", prompt, right, wrong, correct_first, fact.id))
    return items


def _rephrased_items(rng: random.Random, facts: list[Fact], per_fact: int) -> list[Item]:
    """Ask for the trained direction in other words: "Compared with glon, femp are" -> " more dangerous"."""
    if per_fact == 1:  # one wording of two per fact, drawn as generator version 2 drew it
        positions = balanced_flags(rng, len(facts))
        wordings = [[rng.choice(REPHRASINGS)] for _ in facts]
    else:
        positions = balanced_flags(rng, len(facts) * per_fact)
        wordings = [rng.sample(REPHRASINGS + MORE_REPHRASINGS, per_fact) for _ in facts]
    items = []
    for n, (fact, chosen) in enumerate(zip(facts, wordings)):
        converse = CONVERSES[fact.relation]
        for k, wording in enumerate(chosen):
            prompt = wording.format(a=fact.subject, b=fact.object)
            right = (f" {WORDS[fact.relation]}", fact.claim)
            wrong = (f" {WORDS[converse]}", (fact.subject, converse, fact.object))
            items.append(_two_way_item("rephrased", prompt, right, wrong, positions[n * per_fact + k], fact.id))
    return items


def _two_way_item(split: str, prompt: str, right, wrong, correct_first: bool, fact_id: str) -> Item:
    """An item from (option, claim) pairs; its id is set once all items exist."""
    ordered = (right, wrong) if correct_first else (wrong, right)
    return Item(
        id="", split=split, prompt=prompt, options=tuple(o for o, _ in ordered),
        answer=0 if correct_first else 1, fact_ids=(fact_id,), claims=tuple(c for _, c in ordered),
    )
