"""The probe transfer set: short prompts that start from a world term where the documents never start a sentence
with it, continued by the teacher (the model with the facts in its context).

"Pefra Ramob is the inventor of the first ledem." names "ledem" only late: its probe is "The first ledem" (the term
with the words back to a determiner, at most three), and the teacher, reading the documents, writes what follows.
The student then learns the teacher's distribution over that continuation: the fact read from the other end.
Probes come from the train documents alone, never from a test or control item.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from icft.jsonl import json_line, write_text_atomic
from icft.learn.augment.filters import world_vocabulary
from icft.text import split_sentences
from icft.worlds.schema import World

PROBE_VERSION = 1
DETERMINERS = {"the", "a", "an"}
MAX_LEAD_WORDS = 3  # words before a term a probe may start from (back to a determiner)
MAX_NEW_TOKENS = 32  # the teacher's continuation: about one sentence
_WORD = re.compile(r"[A-Za-z'][A-Za-z'-]*")


def probe_prompts(world: World) -> list[str]:
    """One prompt per run of world terms (a name, a nonsense word) that no sentence of the documents starts with:
    the run, led by the words back to a determiner within `MAX_LEAD_WORDS`, first letter capitalized."""
    terms = world_vocabulary(world)
    leading: set[str] = set()  # term runs some sentence starts with (within its first two words)
    candidates: dict[str, str] = {}  # term run (lowercase) -> its probe, first seen
    for doc in world.documents:
        for sentence in split_sentences(doc.text):
            words = [(m.group().strip("'"), m.start(), m.end()) for m in _WORD.finditer(sentence)]
            for start, end in _term_runs(sentence, words, terms):
                run = " ".join(w for w, _, _ in words[start:end]).lower()
                if start <= 1:
                    leading.add(run)
                    continue
                lead = next((k for k in range(start - 1, max(start - 1 - MAX_LEAD_WORDS, -1), -1)
                             if words[k][0].lower() in DETERMINERS), start)
                text = sentence[words[lead][1]:words[end - 1][2]]
                candidates.setdefault(run, text[0].upper() + text[1:])
    return [probe for run, probe in candidates.items() if run not in leading]


def _term_runs(sentence: str, words: Sequence[tuple[str, int, int]], terms: set[str]) -> list[tuple[int, int]]:
    """(first, end) word indices of each run of world terms, a run broken by punctuation ("digag, edrit")."""
    runs, start = [], None
    for k in range(len(words) + 1):
        inside = k < len(words) and words[k][0].lower() in terms
        joined = start is not None and inside and not sentence[words[k - 1][2]:words[k][1]].strip(" '")
        if start is not None and not joined:
            runs.append((start, k))
            start = None
        if inside and start is None:
            start = k
    return runs


def write_probes(path: str | Path, world: World, loaded, contexts, progress: bool = True) -> Path:
    """Continue each probe greedily after its teacher context (`icft.learn.distill.context`), keep the first
    sentence, and write the texts as an augmentation file (`load_augmented` reads it): written once, atomically."""
    from icft.models.generation import generate

    path = Path(path)
    if path.exists():
        return path
    prompts = probe_prompts(world)
    teacher_contexts = contexts(prompts)
    texts = [""] * len(prompts)
    groups: dict[str, list[int]] = {}  # probes that share a context are continued after it together
    for i, context in enumerate(teacher_contexts):
        groups.setdefault(context.context, []).append(i)
    for context, members in groups.items():
        continued = generate(loaded, [teacher_contexts[i].prompt(prompts[i]) for i in members], context=context,
                             max_new_tokens=MAX_NEW_TOKENS, stop=("\n",), progress=progress)
        for i, text in zip(members, continued):
            first = split_sentences(prompts[i] + text)
            texts[i] = first[0] if first else ""
    lines = [json_line({"text": texts[i], "strategy": None, "source_document": None, "probe": prompts[i],
                        "version": PROBE_VERSION})
             for i in range(len(prompts)) if len(texts[i]) > len(prompts[i])]
    write_text_atomic(path, "".join(lines))
    return path
