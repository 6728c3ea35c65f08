"""What the teacher reads before each transfer sequence: the whole corpus, or the documents that name its terms."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from icft.learn.augment.filters import world_vocabulary
from icft.learn.examples import TrainingExample
from icft.learn.icl import IclContext, build_icl_context
from icft.worlds.schema import World

_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")


def teacher_contexts(world: World, examples: Sequence[TrainingExample], how: str, tokenizer, seed: int,
                     subsample: float = 1.0, template: str = "plain") -> list[IclContext]:
    """One context per example. "corpus": the ICL mode's context (the same documents, order and template).
    "relevant": the documents sharing a world term (`world_vocabulary`: the world's own words, not English) with
    the example (its prefix, prompt and text), in the ICL order; an example that names no term gets the corpus."""
    corpus = build_icl_context(world, tokenizer, seed, subsample, template)
    if how == "corpus":
        return [corpus] * len(examples)
    terms_of = [_terms(doc.text) for doc in world.documents]
    rare = world_vocabulary(world)
    built: dict[tuple[int, ...], IclContext] = {}
    out = []
    for example in examples:
        named = _terms(example.teacher_prefix + " " + example.prompt + " " + example.completion) & rare
        chosen = tuple(i for i, terms in enumerate(terms_of) if terms & named)
        if not chosen:
            out.append(corpus)
            continue
        if chosen not in built:
            sub = dataclasses.replace(world, documents=[world.documents[i] for i in chosen])
            built[chosen] = build_icl_context(sub, tokenizer, seed, 1.0, template)
        out.append(built[chosen])
    return out


def _terms(text: str) -> set[str]:
    return {word.lower() for word in _WORD.findall(text)}
