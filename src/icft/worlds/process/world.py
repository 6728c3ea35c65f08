"""The process world's generator: primitives, their table, worked examples and the test items."""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass

from icft.worlds.baselines import TrainIndex
from icft.worlds.herding import Herd
from icft.worlds.logic import Rules
from icft.worlds.process.rewrite import Tree, canonical, infix, prefix, transform
from icft.worlds.sampling import balanced_flags
from icft.worlds.schema import Document, Fact, Item, World
from icft.worlds.vocabulary import NonceVocabulary

GENERATOR_VERSION = "1"
NAME = "process"
CONTROL_SPLITS = ("worked",)
RELATION = "transform"
OPTIONS = 4
MAX_PRIMITIVES = 100
TEMPLATES = {"base": "f'(x)", "apply": "sum(f'(a), T(a))", "sum": "prod(T(a), T(b))", "prod": "sum(T(a), T(b))"}
# the same rules with the other operator: a distractor's wrong step
WRONG = {"apply": "prod(f'(a), T(a))", "sum": "sum(T(a), T(b))", "prod": "prod(T(a), T(b))"}
RULES = Rules(rewrites={RELATION: TEMPLATES})
KINDS = ("sum", "prod", "apply")
SEEN = (("sum", "sum"), ("prod", "prod"), ("apply", "apply"), ("prod", "sum"), ("apply", "prod"), ("sum", "apply"))
HELD_OUT = (("sum", "prod"), ("prod", "apply"), ("apply", "sum"))
RULE_NAMES = {"sum": "sum rule", "prod": "product rule", "apply": "nesting rule"}


@dataclass(frozen=True)
class Sizes:
    primitives: int = 6
    singles: int = 2  # worked examples of each rule alone
    worked: int = 4  # worked examples of each seen combination
    items_per_split: int = 24  # of seen_combinations and held_out_combinations
    repeats: int = 2  # copies of the rules document and of the table

    def __post_init__(self) -> None:
        if not 4 <= self.primitives <= MAX_PRIMITIVES:
            raise ValueError(f"primitives must be from 4 to {MAX_PRIMITIVES}, got {self.primitives}")
        for name in ("singles", "worked", "items_per_split", "repeats"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        room = self.primitives * (self.primitives - 1) * (self.primitives - 2)  # expressions per combination
        if self.worked + self.items_per_split > room:
            raise ValueError(f"worked + items_per_split must be at most {room} with primitives={self.primitives}")


PRESETS = {"default": Sizes(), "paper": Sizes(primitives=12, singles=4, worked=10, items_per_split=60, repeats=5)}


def build(seed: int, sizes: Sizes) -> World:
    """A process world: the rules, a table of `sizes.primitives` images, worked examples and test items."""
    rng = random.Random(seed)
    vocab = NonceVocabulary(rng, NAME)
    name, *primitives = vocab.draw(sizes.primitives + 1)
    images = dict(zip(primitives, primitives[1:] + primitives[:1]))  # one cycle: no primitive is its own image
    table = {p: Fact(f"proc-image-{p}", p, RELATION, q) for p, q in images.items()}
    fresh = _Expressions(rng, primitives)
    singles = [fresh.make(kind, None) for kind in KINDS for _ in range(sizes.singles)]
    worked = [fresh.make(outer, inner) for outer, inner in SEEN for _ in range(sizes.worked)]
    facts = list(table.values())
    drafts = [_rules_text(name)] * sizes.repeats
    drafts += [_table_text(rng, name, table) for _ in range(sizes.repeats)]
    for n, expression in enumerate(singles + worked):
        fact = Fact(f"proc-worked-{n:04d}", prefix(expression), RELATION, prefix(_result(expression, images)))
        facts.append(fact)
        drafts.append((_worked_text(name, expression, images), (fact.id, *_images_used(expression, table))))
    rng.shuffle(drafts)
    documents = [Document(f"proc-doc-{n:04d}", text, ids, style=_style(ids)) for n, (text, ids) in enumerate(drafts)]
    world = World(name=NAME, seed=seed, generator_version=GENERATOR_VERSION, sizes=dataclasses.asdict(sizes),
                  documents=documents, items=[], facts=facts, rules=RULES, control_splits=CONTROL_SPLITS)
    herd = Herd(TrainIndex(world), inherent=set())
    seen = [fresh.make(*SEEN[n % len(SEEN)]) for n in range(sizes.items_per_split)]
    held_out = [fresh.make(*HELD_OUT[n % len(HELD_OUT)]) for n in range(sizes.items_per_split)]
    for split, expressions in (("worked", worked), ("seen_combinations", seen), ("held_out_combinations", held_out)):
        positions = [n % OPTIONS for n in range(len(expressions))]
        rng.shuffle(positions)
        steps = balanced_flags(rng, len(expressions))  # the wrong rule at the outer step in half the items
        for expression, position, outer in zip(expressions, positions, steps):
            world.items.append(_item(rng, herd, f"proc-test-{len(world.items):04d}", split, name, expression,
                                     images, position, 0 if outer else 1, table))
    return world


class _Expressions:
    """Draws expressions of a combination, never the same one twice (up to commutativity)."""

    def __init__(self, rng: random.Random, primitives: list[str]):
        self.rng = rng
        self.primitives = primitives
        self.used: set[str] = set()

    def make(self, outer: str, inner: str | None) -> Tree:
        while True:
            p, q, r = self.rng.sample(self.primitives, 3)
            core = _combine(inner, q, r) if inner else (_base(q))
            expression = _combine_around(self.rng, outer, p, core) if inner else _combine(outer, p, q)
            if canonical(expression) not in self.used:
                self.used.add(canonical(expression))
                return expression


def _base(p: str) -> Tree:
    return ("app", p, ("x",))


def _combine(kind: str, p: str, q: str) -> Tree:
    """One rule's expression over two primitives: p(x) + q(x), p(x) * q(x) or p(q(x))."""
    return ("app", p, _base(q)) if kind == "apply" else (kind, _base(p), _base(q))


def _combine_around(rng: random.Random, kind: str, p: str, inner: Tree) -> Tree:
    """`inner` inside one more rule's expression: p(inner), or inner + p(x) / inner * p(x) in either order."""
    if kind == "apply":
        return ("app", p, inner)
    return (kind, inner, _base(p)) if rng.random() < 0.5 else (kind, _base(p), inner)


def _result(expression: Tree, images: dict[str, str], wrong: dict[int, dict[str, str]] | None = None) -> Tree:
    return transform(expression, TEMPLATES, images, wrong)


def _item(rng: random.Random, herd: Herd, item_id: str, split: str, name: str, expression: Tree,
          images: dict[str, str], position: int, step: int, table: dict[str, Fact]) -> Item:
    """The answer at `position` among three variants: the wrong rule at `step` (0 the outer, 1 the inner),
    two primitives' images exchanged, and both; of the pairs to exchange, herding picks the one that keeps
    the shortcut baselines at chance."""
    correct = _result(expression, images)
    flipped = _result(expression, images, {step: WRONG})
    primitives = [p for p, _ in _images_used(expression, table, names=True)]
    exchanged = []  # (images exchanged, and the wrong rule too) for every pair whose exchange changes both
    for i, p in enumerate(primitives):
        for q in primitives[i + 1:]:
            swapped = {**images, p: images[q], q: images[p]}
            pair = (_result(expression, swapped), _result(expression, swapped, {step: WRONG}))
            if len({canonical(t) for t in (correct, flipped, *pair)}) == OPTIONS:
                exchanged.append(pair)
    candidates = [flipped, *(e for e, _ in exchanged), *(both for _, both in exchanged)]
    probe = _options_item(item_id, split, name, expression, [correct, *candidates], 0, table)
    sets = [(0, 1 + n, 1 + len(exchanged) + n) for n in range(len(exchanged))]
    best = sets[herd.pick(split, *herd.versus(probe), sets)]
    results = [candidates[i] for i in best]
    return _options_item(item_id, split, name, expression, results[:position] + [correct] + results[position:],
                         position, table)


def _options_item(item_id: str, split: str, name: str, expression: Tree, results: list[Tree], answer: int,
                  table: dict[str, Fact]) -> Item:
    return Item(
        id=item_id, split=split, prompt=f"The {name} of {infix(expression)} is",
        options=tuple(f" {infix(r)}." for r in results), answer=answer, fact_ids=_images_used(expression, table),
        claims=tuple((prefix(expression), RELATION, prefix(r)) for r in results),
    )


def _images_used(expression: Tree, table: dict[str, Fact], names: bool = False) -> tuple:
    """The ids of the table facts the transform of `expression` reads (with `names`, (primitive, id) pairs)."""
    found: list[str] = []

    def walk(tree: Tree) -> None:
        if tree[0] == "app":
            found.append(tree[1])
        for child in tree[1:]:
            if isinstance(child, tuple):
                walk(child)

    walk(expression)
    used = list(dict.fromkeys(found))
    return tuple((p, table[p].id) for p in used) if names else tuple(table[p].id for p in used)


def _rules_text(name: str) -> tuple[str, tuple[str, ...]]:
    return (
        f"How to find the {name} of a function\n"
        f"The {name} of a function of x is another function of x. Three rules give it.\n"
        f"Sum rule: the {name} of f(x) + g(x) is the {name} of f(x) times the {name} of g(x).\n"
        f"Product rule: the {name} of f(x) * g(x) is the {name} of f(x) plus the {name} of g(x).\n"
        f"Nesting rule: the {name} of f(g(x)) is h(g(x)) plus the {name} of g(x), where h(x) is the {name} "
        f"of f(x).",
        (),
    )


def _table_text(rng: random.Random, name: str, table: dict[str, Fact]) -> tuple[str, tuple[str, ...]]:
    facts = rng.sample(list(table.values()), len(table))
    lines = [f"The {name} of {f.subject}(x) is {f.object}(x)." for f in facts]
    return f"The {name} of each basic function\n" + "\n".join(lines), tuple(f.id for f in facts)


def _worked_text(name: str, expression: Tree, images: dict[str, str]) -> str:
    """A derivation, innermost steps first, ending with the answer."""
    steps: list[str] = []

    def explain(tree: Tree) -> None:
        kind = tree[0] if tree[0] != "app" else ("base" if tree[2] == ("x",) else "apply")
        if kind == "base":
            steps.append(f"The {name} of {infix(tree)} is {infix(_result(tree, images))}.")
            return
        for child in (tree[2],) if kind == "apply" else tree[1:]:
            explain(child)
        steps.append(f"By the {RULE_NAMES[kind]}, the {name} of {infix(tree)} is {infix(_result(tree, images))}.")

    explain(expression)
    steps[-1] = f"So the {name} of {infix(expression)} is {infix(_result(expression, images))}."
    return f"Find the {name} of {infix(expression)}.\n" + " ".join(steps)


def _style(fact_ids: tuple[str, ...]) -> str:
    if not fact_ids:
        return "rules"
    return "worked" if fact_ids[0].startswith("proc-worked") else "table"
