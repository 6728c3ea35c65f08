"""Augmented fine-tuning data: a model writes the inferences that plain fine-tuning misses (Lampinen et al.).

Two strategies, each a prompt template (`icft.learn.augment.templates`):
  local   one request per distinct train sentence: rephrasings and what follows from it alone
          (reversals, converse relations)
  global  the whole train set in a shared context; one request per train document: the inferences that
          link it with the rest of the knowledge

This module prompts, runs the generator and writes the files. Each completion is split into sentences, cleaned
and filtered by `icft.learn.augment.filters`, which names why each dropped sentence was dropped (no world term,
a copy of the input, a duplicate, an unknown word, ...); the counts of every reason go in the file's sidecar.
Completions are cached (`icft.learn.augment.generators`), so a rerun or a resumed run generates only what is new.
"""

from __future__ import annotations

import dataclasses
import json
import random
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

import icft
from icft.errors import IcftError
from icft.jsonl import json_line, read_jsonl, write_text_atomic
from icft.learn.augment.filters import FILTERS, SentenceFilter, clean_completion
from icft.learn.augment.settings import STRATEGIES, AugmentSettings
from icft.learn.augment.generators import CacheStats, GenerationCache, Generator, cached_generate
from icft.learn.augment.templates import Template, load_template
from icft.text import split_sentences
from icft.worlds.schema import World


@dataclass(frozen=True)
class Request:
    """One prompt: the per-request placeholder values and where they came from."""

    values: dict[str, str]
    source_document: str
    source_sentence: str | None  # local only
    inputs: tuple[str, ...]  # the sentences a copy of which is dropped as copy_of_input


@dataclass
class AugmentResult:
    path: Path
    summary_path: Path
    records: list[dict]
    counts: dict[str, int]  # requests, sentences (generated), kept, then one count per filter
    cache_hits: int
    generated: int  # completions the generator was asked for (0 on a rerun)

    def describe(self) -> str:
        dropped = ", ".join(f"{name} {self.counts[name]}" for name in FILTERS)
        return (
            f"{self.counts['kept']} augmentations kept from {self.counts['sentences']} generated sentences "
            f"({self.counts['requests']} requests, {self.generated} generated, {self.cache_hits} from cache); "
            f"dropped: {dropped}"
        )


def augment_world(
    world: World,
    generator: Generator,
    strategy: str,
    out_path: str | Path,
    settings: AugmentSettings = AugmentSettings(),
    progress: bool = True,
) -> AugmentResult:
    """Generate, clean and filter augmentations of `world`'s train documents; write them to `out_path`.

    Writes `out_path` (JSON lines, one augmentation each) and `<stem>.summary.json` (counts and the
    resolved settings), both atomically. Nothing kept is an error (nothing is written then).
    """
    if strategy not in STRATEGIES:
        raise IcftError(f"unknown augmentation strategy {strategy!r}: choose one of {', '.join(STRATEGIES)}")
    out_path = Path(out_path)
    template = load_template(strategy, settings.template)
    shared = _shared_values(world, strategy, settings)
    requests = _requests(world, strategy)[: settings.limit]
    context = template.context(shared)
    prompts = [template.prompt(shared, r.values) for r in requests]
    generation = settings.generation(strategy)
    stats = CacheStats()
    cache = GenerationCache(settings.cache_path or out_path.parent / "augment-cache.sqlite")
    try:
        with tqdm(total=len(prompts), desc=f"augment ({strategy})", unit="prompt", disable=not progress) as bar:
            outputs = cached_generate(
                generator, cache, prompts, context, generation, settings.batch_size, stats, bar.update
            )
    finally:
        cache.close()
    records, counts = _filter(world, requests, outputs, strategy, template, generator.name, settings)
    counts = {"requests": len(requests), **counts}
    if not records:
        raise IcftError(
            f"augmentation kept nothing: all {counts['sentences']} generated sentences were filtered out "
            f"({', '.join(f'{k} {counts[k]}' for k in FILTERS)}): use a larger generator or a different "
            "template (the `template` setting)"
        )
    write_text_atomic(out_path, "".join(json_line(r) for r in records))
    summary = _summary(world, generator.name, strategy, template, settings, counts, stats)
    write_text_atomic(summary_path(out_path), json.dumps(summary, indent=1, ensure_ascii=False) + "\n")
    return AugmentResult(out_path, summary_path(out_path), records, counts, stats.hits, stats.generated)


def summary_path(path: str | Path) -> Path:
    """Where the counts of an augmentation file are kept: `<stem>.summary.json` beside it."""
    path = Path(path)
    return path.with_name(path.stem + ".summary.json")


def _summary(world, generator_name, strategy, template, settings, counts, stats) -> dict:
    """What was asked and what came out: enough to tell two augmentation files apart."""
    return {
        "strategy": strategy,
        "generator": generator_name,
        "template": template.name,
        "world": {"name": world.name, "seed": world.seed, "generator_version": world.generator_version},
        "settings": dataclasses.asdict(settings),
        "generation": settings.generation(strategy).to_json(),
        "counts": counts,
        "cache": {"hits": stats.hits, "generated": stats.generated},
        "icft_version": icft.__version__,
    }


def load_augmented(path: str | Path) -> list[str]:
    """The texts of an augmented.jsonl file; a malformed line is an error naming file:line."""
    texts = []
    for n, obj in read_jsonl(path):
        text = obj.get("text")
        if not isinstance(text, str) or not text.strip():
            raise IcftError(f"{path}:{n}: field 'text' must be a non-empty string")
        for key in ("source_document", "strategy", "template", "generator", "source_sentence"):
            if key in obj and not isinstance(obj[key], str | None):
                raise IcftError(f"{path}:{n}: field {key!r} must be a string")
        if obj.get("strategy") not in (None, *STRATEGIES):
            raise IcftError(f"{path}:{n}: field 'strategy' must be one of {', '.join(STRATEGIES)}")
        texts.append(text)
    if not texts:
        raise IcftError(f"{path} holds no augmentations: rerun `icft augment`")
    return texts


# --- requests ---------------------------------------------------------------------------------------


def _requests(world: World, strategy: str) -> list[Request]:
    if strategy == "global":
        return [
            Request({"document": d.text}, d.id, None, tuple(split_sentences(d.text))) for d in world.documents
        ]
    requests, seen = [], set()
    for document in world.documents:
        for sentence in split_sentences(document.text):
            if sentence not in seen:  # a fact repeated across articles is asked about once
                seen.add(sentence)
                requests.append(Request({"sentence": sentence}, document.id, sentence, (sentence,)))
    return requests


def _shared_values(world: World, strategy: str, settings: AugmentSettings) -> dict[str, str]:
    if strategy != "global":
        return {}
    texts = list(dict.fromkeys(d.text for d in world.documents))
    if settings.context_documents is not None and settings.context_documents < len(texts):
        keep = sorted(random.Random(settings.seed).sample(range(len(texts)), settings.context_documents))
        texts = [texts[i] for i in keep]
    return {"documents": "\n\n".join(texts)}


# --- records: the sentences the filters keep (`icft.learn.augment.filters`) ---------------------------


def _filter(world, requests, completions, strategy, template: Template, generator_name, settings):
    """(records, counts) from the completions, in request order; counts has sentences, kept and each filter."""
    filters = SentenceFilter(world, template.literal_text(), settings.max_words)
    counts = {"sentences": 0, "kept": 0, **{name: 0 for name in FILTERS}}
    records = []
    stop = settings.generation(strategy).stop
    for request, completion in zip(requests, completions):
        for sentence in clean_completion(completion, stop):
            counts["sentences"] += 1
            reason = filters.drop_reason(sentence, request.inputs)
            if reason is not None:
                counts[reason] += 1
                continue
            counts["kept"] += 1
            record = {"text": sentence, "source_document": request.source_document, "strategy": strategy,
                      "template": template.name, "generator": generator_name}
            if request.source_sentence is not None:
                record["source_sentence"] = request.source_sentence
            records.append(record)
    return records, counts
