"""The reversal curse (after Berglund et al. 2023): fictional people known only by one description.

People have nonsense first and last names ("Dabek Tromil") and a description built from a template and
nonsense words ("the inventor of the first glorp", "the composer of 'Fendi Vask'"). Set A is trained only
name -> description ("Dabek Tromil is the inventor of the first glorp."); set B in both orders, as separate
documents ("The inventor of the first glorp is Dabek Tromil." too). Each direction is written with
`paraphrases` templates per person; the first template of each direction is always among them, and it is
the one the test prompts use.

Test splits (4-way choice):
  reverse_a  "The inventor of the first glorp is" -> " Dabek Tromil." among 3 other set-A names
  reverse_b  the same for set B, whose reverse direction was trained
  forward    "Dabek Tromil is" -> " the inventor of the first glorp." among 3 other set-A descriptions (control)
Distractors come from the same set as the answer, so names or descriptions seen in one position during
training are not favoured. The checker proves the reverse items by the converse rule (logical entailment,
whatever direction was trained).
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass

from icft.worlds.audit import order_free_association
from icft.worlds.logic import Rules
from icft.worlds.schema import Document, Fact, Item, World
from icft.worlds.vocabulary import NonceVocabulary

GENERATOR_VERSION = "2"
# the trained directions (set A forward; set B was trained both ways): the learned check
CONTROL_SPLITS = ("forward", "reverse_b")
INHERENT_BASELINES = order_free_association("reverse_a")
NAME = "reversal_curse"
MAX_PEOPLE = 1000
OPTIONS = 4
RULES = Rules(converses={"described_as": "description_of", "description_of": "described_as"})

# {w}: a lowercase nonsense noun; {T}: a capitalized nonsense name
DESCRIPTIONS: tuple[str, ...] = (
    "the inventor of the first {w}", "the composer of '{T} {T}'", "the founder of {T}",
    "the director of '{T} {T}'", "the author of '{T} {T}'", "the first person to climb Mount {T}",
    "the astronomer who discovered the {w} comet", "the designer of the {T} bridge",
    "the chef who created {w} soup", "the mayor of {T}", "the architect of the {T} tower",
    "the painter of '{T} {T}'", "the captain of the ship {T}", "the world champion of {w} racing",
)
FORWARD_TEMPLATES: tuple[str, ...] = (  # name before description
    "{name} is {desc}.", "{name} is widely known as {desc}.",
    "{name}, known far and wide for being {desc}.", "Ever heard of {name}? They are {desc}.",
)
REVERSE_TEMPLATES: tuple[str, ...] = (  # description before name
    "{Desc} is {name}.", "Known far and wide for being {desc}, {name} is a name people remember.",
    "Did you know that {desc} is {name}?", "As {desc}, {name} needs no introduction.",
)


@dataclass(frozen=True)
class Sizes:
    people_a: int = 12
    people_b: int = 12
    paraphrases: int = 2

    def __post_init__(self):
        for name in ("people_a", "people_b"):
            value = getattr(self, name)
            if not OPTIONS <= value <= MAX_PEOPLE:
                raise ValueError(
                    f"{name} must be between {OPTIONS} (one answer + {OPTIONS - 1} distractors) and {MAX_PEOPLE}, "
                    f"got {value}"
                )
        if not 1 <= self.paraphrases <= len(FORWARD_TEMPLATES):
            raise ValueError(f"paraphrases must be between 1 and {len(FORWARD_TEMPLATES)}, got {self.paraphrases}")


PRESETS = {"default": Sizes(), "paper": Sizes(people_a=30, people_b=30, paraphrases=4)}


@dataclass(frozen=True)
class Person:
    name: str
    description: str
    fact: Fact  # name described_as description
    reverse_fact: Fact | None  # description description_of name: stated for set B only


def build(seed: int, sizes: Sizes) -> World:
    """A reversal-curse world: set A trained one way, set B both ways."""
    rng = random.Random(seed)
    vocab = NonceVocabulary(rng, NAME)
    set_a = [_person(rng, vocab, f"rc-fact-{n:04d}", reverse=False) for n in range(sizes.people_a)]
    set_b = [_person(rng, vocab, f"rc-fact-{sizes.people_a + n:04d}", reverse=True) for n in range(sizes.people_b)]
    documents = _documents(rng, set_a + set_b, sizes.paraphrases)
    items = (
        _choice_items(rng, "reverse_a", set_a, reverse=True)
        + _choice_items(rng, "reverse_b", set_b, reverse=True)
        + _choice_items(rng, "forward", set_a, reverse=False)
    )
    items = [dataclasses.replace(item, id=f"rc-test-{n:04d}") for n, item in enumerate(items)]
    facts = [f for p in set_a + set_b for f in (p.fact, p.reverse_fact) if f is not None]
    return World(
        name=NAME, seed=seed, generator_version=GENERATOR_VERSION, sizes=dataclasses.asdict(sizes),
        documents=documents, items=items, facts=facts, rules=RULES,
        control_splits=CONTROL_SPLITS, inherent_baselines=INHERENT_BASELINES,
    )


def _person(rng: random.Random, vocab: NonceVocabulary, fact_id: str, reverse: bool) -> Person:
    name = " ".join(word.capitalize() for word in vocab.draw(2))
    description = _description(rng.choice(DESCRIPTIONS), vocab)
    fact = Fact(fact_id, name, "described_as", description)
    reverse_fact = Fact(fact_id + "-r", description, "description_of", name) if reverse else None
    return Person(name, description, fact, reverse_fact)


def _description(template: str, vocab: NonceVocabulary) -> str:
    """Fill each {w} with a fresh nonsense noun and each {T} with a fresh capitalized one."""
    out = template
    while "{w}" in out or "{T}" in out:
        slot = "{w}" if "{w}" in out else "{T}"
        word = vocab.draw(1)[0]
        out = out.replace(slot, word if slot == "{w}" else word.capitalize(), 1)
    return out


def _documents(rng: random.Random, people: list[Person], paraphrases: int) -> list[Document]:
    """Each person's statements, one per document, in a shuffled order."""
    drafts = []
    for person in people:
        directions = [(FORWARD_TEMPLATES, person.fact)]
        if person.reverse_fact is not None:
            directions.append((REVERSE_TEMPLATES, person.reverse_fact))
        for templates, fact in directions:
            chosen = [templates[0], *rng.sample(templates[1:], paraphrases - 1)]
            drafts.extend((_fill(t, person), fact.id) for t in chosen)
    rng.shuffle(drafts)
    return [Document(f"rc-doc-{n:04d}", text, (fid,), style="statement") for n, (text, fid) in enumerate(drafts)]


def _fill(template: str, person: Person) -> str:
    desc = person.description
    return template.format(name=person.name, desc=desc, Desc=desc[:1].upper() + desc[1:])


def _choice_items(rng: random.Random, split: str, people: list[Person], reverse: bool) -> list[Item]:
    """One 4-way item per person; the answer's position cycles through all four, shuffled."""
    positions = [n % OPTIONS for n in range(len(people))]
    rng.shuffle(positions)
    items = []
    for person, position in zip(people, positions):
        others = rng.sample([p for p in people if p is not person], OPTIONS - 1)
        candidates = others[:position] + [person] + others[position:]
        if reverse:
            prompt = _fill(REVERSE_TEMPLATES[0], person).removesuffix(f" {person.name}.")
            options = tuple(f" {p.name}." for p in candidates)
            claims = tuple((person.description, "description_of", p.name) for p in candidates)
        else:
            prompt = person.name + " is"
            options = tuple(f" {p.description}." for p in candidates)
            claims = tuple((person.name, "described_as", p.description) for p in candidates)
        fact_ids = tuple(f.id for f in (person.fact, person.reverse_fact) if f is not None)
        items.append(Item(id="", split=split, prompt=prompt, options=options, answer=position,
                          fact_ids=fact_ids, claims=claims))
    return items
