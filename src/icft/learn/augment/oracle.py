"""Oracle augmentations: the world's own reasoner writes what the paper's augmentation prompts ask a model for.

A control for augmented fine-tuning (an upper bound for the method, never its result). When FT on a model's
own augmentations does not beat plain FT, either the generator wrote the wrong inferences or fine-tuning on
right ones does not help; the oracle writes right ones, so the two can be told apart.
  local   per stated fact (once, however many documents repeat it): what follows from that statement alone
          (its converse: a reversal; a syllogism's "all" also gives its "some"s) and a rephrasing of it, each
          a natural sentence in a training wording of the world (`icft.worlds.sentences`); a rephrasing uses
          a wording no train document states the fact in. `per_fact` budgets the sentences per fact: the
          candidates are taken in turn (each inference, then the rephrasing, then each in its next wording);
          without a budget, each candidate once.
  global  per train document: every claim that follows from the stated facts (converses, chains through the
          hierarchy, inherited properties, category inclusions), not itself stated, whose first-found
          derivation uses one of the document's facts; each claim once, under the first such document.
Every sentence is read back by the world's reader and must state exactly its claim, which must follow from
the stated facts (else it is dropped as `unproved`: none should be); and no sentence may contain a test
item's prompt followed by one of its distractors (`states_a_distractor`: none should, being true). Also
dropped: `in_train` (a train sentence is or ends with the sentence) and `duplicate`.
Worlds without facts (imported) or without a wording (process) are refused with a one-line error.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

import icft
from icft.errors import IcftError
from icft.jsonl import json_line, write_text_atomic
from icft.learn.augment.augment import summary_path
from icft.text import split_sentences
from icft.worlds.logic import Claim, derivations
from icft.worlds.schema import Fact, World
from icft.worlds.sentences import TRUE, Judge, Wording

ORACLE_VERSION = "1"
STRATEGIES = ("oracle-local", "oracle-global")
DROPS = ("in_train", "duplicate", "unproved", "states_a_distractor")
GENERATOR = "oracle"


@dataclass(frozen=True)
class OracleSentence:
    text: str
    claim: Claim
    kind: str  # inference (a claim no train document states) or rephrasing (a stated one, in other words)
    source_document: str


@dataclass(frozen=True)
class Candidate:
    """A claim to write, with its sentences in the order they are tried."""

    claim: Claim
    sentences: tuple[str, ...]
    source_document: str


def require_oracle(world: World) -> Wording:
    """The world's wording; a world the oracle cannot write for is a one-line error."""
    judge = Judge(world)
    if not world.facts:
        raise IcftError(f"world {world.name!r} has no facts (an imported world): the oracle's augmentations "
                        "(oracle-local, oracle-global, and the ft-oracle modes that train on them) need a world that "
                        "knows its facts")
    if judge.wording is None:
        raise IcftError(f"world {world.name!r} has no sentence wordings the oracle can write (only reversals, "
                        "syllogisms, semantic and reversal_curse do): no oracle-local, oracle-global or ft-oracle "
                        "modes for it")
    return judge.wording


def oracle_sentences(world: World, strategy: str, per_fact: int | None = None,
                     seed: int = 0) -> tuple[list[OracleSentence], dict[str, int]]:
    """The oracle's sentences for `world`, and the counts: requests, sentences (written), kept, each drop."""
    if strategy not in STRATEGIES:
        raise IcftError(f"unknown oracle strategy {strategy!r}: choose one of {', '.join(STRATEGIES)}")
    if per_fact is not None and (strategy != "oracle-local" or per_fact < 0):
        raise IcftError(f"per_fact budgets oracle-local only, with a count of 0 or more (got {per_fact!r})")
    wording = require_oracle(world)
    rng = random.Random(f"{seed}-{strategy}")
    stated = _stated_facts(world)
    if strategy == "oracle-local":
        groups = [_local(world, wording, fact, doc, rng) for fact, doc in stated]
    else:
        groups = _global(world, wording, [fact for fact, _ in stated], rng)
    return _keep(world, groups, per_fact)


def write_oracle(world: World, strategy: str, out_path: str | Path, per_fact: int | None = None,
                 seed: int = 0) -> dict:
    """Write the oracle's sentences to `out_path` (JSON lines, as `icft augment` writes) and its counts to
    `<stem>.summary.json`, both atomically; return the summary."""
    out_path = Path(out_path)
    sentences, counts = oracle_sentences(world, strategy, per_fact, seed)
    if not sentences:
        raise IcftError(f"the oracle has nothing to write for {world.name!r} ({strategy}, per_fact={per_fact})")
    base = strategy.removeprefix("oracle-")  # the file reads like any augmentation file of that strategy
    records = [{"text": s.text, "source_document": s.source_document, "strategy": base, "template": GENERATOR,
                "generator": GENERATOR, "claim": list(s.claim), "kind": s.kind} for s in sentences]
    summary = {
        "strategy": strategy, "generator": GENERATOR, "per_fact": per_fact, "seed": seed,
        "facts": len(_stated_facts(world)),
        "world": {"name": world.name, "seed": world.seed, "generator_version": world.generator_version},
        "counts": counts, "kinds": {k: sum(s.kind == k for s in sentences) for k in ("rephrasing", "inference")},
        "oracle_version": ORACLE_VERSION, "icft_version": icft.__version__,
    }
    write_text_atomic(out_path, "".join(json_line(r) for r in records))
    write_text_atomic(summary_path(out_path), json.dumps(summary, indent=1, ensure_ascii=False) + "\n")
    return summary


# ---- what to write ------------------------------------------------------------------------------------------


def _stated_facts(world: World) -> list[tuple[Fact, str]]:
    """Each fact a train document states, once, with the first document that states it."""
    facts = {f.id: f for f in world.facts}
    first: dict[str, str] = {}
    for document in world.documents:
        for fact_id in document.fact_ids:
            first.setdefault(fact_id, document.id)
    return [(facts[i], doc) for i, doc in first.items() if i in facts]


def _turned(sentences: list[str], rng: random.Random) -> tuple[str, ...]:
    """The sentences starting at a seeded place: the same wording does not open every augmentation."""
    start = rng.randrange(len(sentences)) if sentences else 0
    return tuple(sentences[start:] + sentences[:start])


def _local(world: World, wording: Wording, fact: Fact, document: str, rng: random.Random) -> list[Candidate]:
    """What follows from the fact alone (each a reversal or a direct inference), then the fact rephrased."""
    inferences = [c for c in derivations({fact.claim}, world.rules) if c != fact.claim and _relates_two(c)]
    return [Candidate(c, _turned(wording.write(c), rng), document) for c in [*inferences, fact.claim]]


def _global(world: World, wording: Wording, facts: list[Fact], rng: random.Random) -> list[list[Candidate]]:
    """Per document, the claims it links to the rest of the world (each under the first document that can)."""
    support = derivations({f.claim for f in facts}, world.rules)
    stated = {f.claim for f in facts}
    claims_of = {f.id: f.claim for f in world.facts}
    groups, written = [], set(stated)
    for document in world.documents:
        own = {claims_of[i] for i in document.fact_ids if i in claims_of}
        linked = sorted(c for c, premises in support.items()
                        if c not in written and premises & own and _relates_two(c))
        written.update(linked)
        groups.append([Candidate(c, _turned(wording.write(c), rng), document.id) for c in linked])
    return groups


def _relates_two(claim: Claim) -> bool:
    """Not a claim of a term about itself ("some glon are glon": true under existential import, and empty)."""
    return claim[0] != claim[2]


# ---- what is kept -------------------------------------------------------------------------------------------


def _keep(world: World, groups: list[list[Candidate]], per_fact: int | None) -> tuple[list[OracleSentence], dict]:
    """Per group, passes over its candidates, each giving its next sentence that passes the checks; one pass
    without a budget, else passes until `per_fact` sentences are kept or the candidates run out."""
    check = _Checks(world)
    counts = {"requests": len(groups), "sentences": 0, "kept": 0, **{d: 0 for d in DROPS}}
    kept: list[OracleSentence] = []
    for group in groups:
        queues = [list(c.sentences) for c in group]
        taken = 0
        while any(queues) and (per_fact is None or taken < per_fact):
            for candidate, queue in zip(group, queues):
                if per_fact is not None and taken == per_fact:
                    break
                while queue:  # this candidate's next sentence that passes
                    text = queue.pop(0)
                    counts["sentences"] += 1
                    reason = check.drop_reason(text, candidate.claim)
                    if reason is None:
                        kind = "inference" if check.judge.is_new(check.judge.claims(text)) else "rephrasing"
                        kept.append(OracleSentence(text, candidate.claim, kind, candidate.source_document))
                        taken += 1
                        break
                    counts[reason] += 1
            if per_fact is None:
                break
    counts["kept"] = len(kept)
    return kept, counts


class _Checks:
    """The reasons an oracle sentence is dropped (see the module docstring)."""

    def __init__(self, world: World):
        self.judge = Judge(world)
        # a sentence is in training when it ends a train sentence ("Q: What are tamot? A: Tamot are ...")
        self.train = {" ".join(words[i:]) for d in world.documents for sentence in split_sentences(d.text)
                      for words in (_words(sentence).split(),) for i in range(len(words))}
        self.distractors = {_words(i.prompt + i.options[n]) for i in world.items for n in range(len(i.options))
                            if n not in i.correct}
        self.longest = max((len(d.split()) for d in self.distractors), default=0)
        self.seen: set[str] = set()

    def drop_reason(self, text: str, claim: Claim) -> str | None:
        words = _words(text)
        if words in self.seen:
            return "duplicate"
        claims = self.judge.claims(text)
        lowered = (claim[0].lower(), claim[1], claim[2].lower())
        if claims != [lowered] or self.judge.verdict(claims) != TRUE:
            return "unproved"
        if self.states_a_distractor(words):
            return "states_a_distractor"
        if words in self.train:
            return "in_train"
        self.seen.add(words)
        return None

    def states_a_distractor(self, words: str) -> bool:
        """Some run of the sentence's words is a test item's prompt followed by one of its distractors."""
        tokens = words.split()
        return any(" ".join(tokens[i:j]) in self.distractors
                   for i in range(len(tokens)) for j in range(i + 1, min(len(tokens), i + self.longest) + 1))


def _words(text: str) -> str:
    """Lower-case words and nothing else, single-spaced: the form sentences and test texts are compared in."""
    return " ".join(re.findall(r"[a-z0-9']+", text.lower()))
