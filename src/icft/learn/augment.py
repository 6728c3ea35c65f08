"""Augmented fine-tuning data: a model writes the inferences that plain fine-tuning misses (Lampinen et al.).

Two strategies, each a prompt template (`icft.learn.templates`):
  local   one request per distinct train sentence: rephrasings and what follows from it alone
          (reversals, converse relations)
  global  the whole train set in a shared context; one request per train document: the inferences that
          link it with the rest of the knowledge

Each completion is split into sentences, cleaned (numbering, bullets, labels, whitespace) and filtered;
every filter counts what it drops:
  empty          nothing left after cleaning ("1.", "Inferences:")
  too_long       more than `max_words` words
  no_world_term  mentions none of the world's nonsense words (off-topic or generic text)
  unknown_word   has a word that is neither English nor the world's: mostly a misspelt world word
                 ("gkuad" for "gukad"), which would teach a new entity
  tautology      relates one world word to itself ("some lebit are lebit"), a common small-model failure
  copy_of_input  repeats the sentence (local) or a sentence of the document (global) it came from
  copy_of_template  repeats a sentence of the template (a small model copies the few-shot examples)
  in_train       repeats another train sentence
  duplicate      repeats an augmentation kept earlier
Completions are cached (`icft.learn.generators`), so a rerun or a resumed run generates only what is new.
"""

from __future__ import annotations

import dataclasses
import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

import icft
from icft.errors import IcftError
from icft.jsonl import json_line, read_jsonl, write_text_atomic
from icft.learn.examples import split_sentences
from icft.learn.augment_settings import STRATEGIES, AugmentSettings
from icft.learn.generators import CacheStats, GenerationCache, Generator, cached_generate
from icft.learn.templates import Template, load_template
from icft.worlds.schema import World
from icft.worlds.vocabulary import is_english, is_nonce_word

FILTERS = (
    "empty", "too_long", "no_world_term", "unknown_word", "tautology", "copy_of_input", "copy_of_template", "in_train",
    "duplicate",
)


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


# --- cleaning and filtering -------------------------------------------------------------------------

_BULLET = re.compile(r"^\s*(?:[-*•+>]+|\(?\d+[.):]|\(?[a-z]\))\s*")
_LABEL = re.compile(
    r"^(?:inferences?|statements?|rephrasings?|reversals?|conclusions?|answer|step \d+)\s*:\s*", re.IGNORECASE
)
_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")
_QUOTES = "\"'“”‘’`"


def clean_completion(completion: str, stop: tuple[str, ...] = ()) -> list[str]:
    """The sentences of a completion with numbering, bullets, labels and markdown removed.

    A line that is blank to begin with is skipped; one that cleaning empties ("2.", "Inferences:") comes
    back as "" so the `empty` filter counts it.
    """
    for marker in stop:
        completion = completion.split(marker)[0]
    sentences = []
    for line in completion.splitlines():
        if not line.strip():
            continue
        line = _strip_decoration(line)
        parts = split_sentences(line) or [""]
        sentences.extend(_finish(_strip_decoration(p)) for p in parts)
    return sentences


def _strip_decoration(text: str) -> str:
    text = text.replace("**", "").replace("__", "")
    previous = None
    while previous != text:  # "1. Inference: - ..." carries several layers
        previous = text
        text = _LABEL.sub("", _BULLET.sub("", text)).strip()
    return " ".join(text.split())


def _finish(sentence: str) -> str:
    """Drop quotes around a whole sentence and end it with a full stop."""
    if len(sentence) >= 2 and sentence[0] in _QUOTES and sentence[-1] in _QUOTES:
        sentence = sentence[1:-1].strip()
    if sentence and sentence[-1] not in ".!?":
        sentence += "."
    return sentence


def normalize(sentence: str) -> str:
    """The form two sentences are compared in: lower case, single spaces, no end punctuation or quotes."""
    return " ".join(sentence.lower().split()).strip(_QUOTES + " .!?;:,")


def world_vocabulary(world: World) -> frozenset[str]:
    """The world's own words (lower case): the non-English words of its facts plus the nonsense words
    of its documents; for a world with neither (imported data), every non-English word of its documents."""
    from_facts = {w for f in world.facts for w in _words(f"{f.subject} {f.object}") if not is_english(w)}
    text = " ".join(d.text for d in world.documents)
    from_docs = {w for w in _words(text) if is_nonce_word(w)}
    vocabulary = from_facts | from_docs
    if not vocabulary:
        vocabulary = {w for w in _words(text) if len(w) >= 3 and not is_english(w)}
    return frozenset(vocabulary)


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text) if "'" not in w]


def mentions_world_term(sentence: str, vocabulary: frozenset[str]) -> bool:
    """True when a word of the sentence, or its singular, is one of the world's words."""
    return any(_forms(word) & vocabulary for word in _words(sentence))


def unknown_words(sentence: str, vocabulary: frozenset[str], train_words: frozenset[str] = frozenset()) -> list[str]:
    """The words of the sentence (3+ letters) that are neither English, the world's, nor in its documents."""
    return [
        w for w in _words(sentence)
        if len(w) >= 3 and not _forms(w) & (vocabulary | train_words) and not _is_english_form(w)
    ]


def _is_tautology(sentence: str, vocabulary: frozenset[str]) -> bool:
    """The sentence names one world word only, more than once."""
    terms = [min(_forms(w) & vocabulary) for w in _words(sentence) if _forms(w) & vocabulary]
    return len(terms) > 1 and len(set(terms)) == 1


def _forms(word: str) -> set[str]:
    return {word, word.removesuffix("s"), word.removesuffix("es")}


_INFLECTIONS = (("ied", "y"), ("ier", "y"), ("iest", "y"), ("ing", ""), ("ing", "e"), ("ed", ""), ("ed", "e"),
                ("er", ""), ("er", "e"), ("est", ""), ("est", "e"), ("ly", ""))


def _is_english_form(word: str) -> bool:
    """English, or an inflection of an English word ("showed", "dirtier", "wetter"): the lists hold stems."""
    if is_english(word):
        return True
    for suffix, replacement in _INFLECTIONS:
        if word.endswith(suffix) and len(word) > len(suffix) + 2:
            stem = word[: -len(suffix)]
            if is_english(stem + replacement):
                return True
            if replacement == "" and len(stem) > 2 and stem[-1] == stem[-2] and is_english(stem[:-1]):
                return True  # a doubled consonant: "wetter" -> "wet"
    return False


def _filter(world, requests, completions, strategy, template: Template, generator_name, settings):
    """(records, counts) from the completions, in request order; counts has sentences, kept and each filter."""
    vocabulary = world_vocabulary(world)
    train_words = frozenset(_words(" ".join(d.text for d in world.documents)))
    known = {
        "train": {normalize(s) for d in world.documents for s in split_sentences(d.text)},
        "template": {normalize(s) for s in split_sentences(template.literal_text())},
        "kept": set(),
    }
    counts = {"sentences": 0, "kept": 0, **{name: 0 for name in FILTERS}}
    records = []
    stop = settings.generation(strategy).stop
    for request, completion in zip(requests, completions):
        inputs = {normalize(s) for s in request.inputs}
        for sentence in clean_completion(completion, stop):
            counts["sentences"] += 1
            reason = _drop_reason(sentence, inputs, known, vocabulary, train_words, settings.max_words)
            if reason is not None:
                counts[reason] += 1
                continue
            known["kept"].add(normalize(sentence))
            counts["kept"] += 1
            record = {"text": sentence, "source_document": request.source_document, "strategy": strategy,
                      "template": template.name, "generator": generator_name}
            if request.source_sentence is not None:
                record["source_sentence"] = request.source_sentence
            records.append(record)
    return records, counts


def _drop_reason(sentence: str, inputs: set[str], known: dict[str, set[str]], vocabulary, train_words,
                 max_words: int) -> str | None:
    """The first filter that drops `sentence`, or None to keep it."""
    key = normalize(sentence)
    if not key:
        return "empty"
    if len(sentence.split()) > max_words:
        return "too_long"
    if vocabulary and not mentions_world_term(sentence, vocabulary):
        return "no_world_term"
    if vocabulary and unknown_words(sentence, vocabulary, train_words):
        return "unknown_word"
    if vocabulary and _is_tautology(sentence, vocabulary):
        return "tautology"
    if key in inputs:
        return "copy_of_input"
    if key in known["template"]:
        return "copy_of_template"
    if key in known["train"]:
        return "in_train"
    if key in known["kept"]:
        return "duplicate"
    return None
