"""The recall stopping rule: train until the facts can be recalled out of their documents.

A low training loss says the documents were memorized, not that their facts can be said in other words (an
imported knowledge base stopped at loss 0.29 and answered 3 of 8 rephrased questions). With `recall_target`,
`icft.learn.finetune` instead stops at the end of the first epoch whose recall rate reaches the target. The
probes are built from the training examples alone, never from a test item:
  - the documents' own sentences ask their final content word: recall of the statements themselves (a fact
    cannot be said in other words before it is said as written, and the learned check asks exactly these);
  - with augmentations (the model's own rephrasings and inferences, or the oracle's), a share of them is also
    held out of training (`HELD_OUT`, at least one, never all) and each held-out sentence asks its final content
    word after the rest of the sentence: a fact recalled in words the fit did not train on.
Held-out augmentations alone were too few and too noisy to stop on: a 135M model's own augmentations of 12
documents kept 10 sentences (some false), so 2 probes, never recalled, stopped a fit after 4 epochs at loss 3.6.
A probe is recalled when every token of its word is the model's argmax after the prefix (teacher-forced, one
forward pass per batch of probes); the rate is the share recalled. At most `MAX_PROBES` probes are kept, so a
check costs a forward pass over a few short sentences per epoch.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from icft.learn.examples import TrainingExample
from icft.text import split_sentences

RECALL_VERSION = 2  # bumped whenever the probes or the rate change (a fit's identity holds it)
# what an imported world's augmented modes train by (`icft.study.grid`): 0.9 of the probes recalled, within 20
# epochs (a fit stopped at 0.8 cannot pass a learned check of 30 items, which needs 27)
IMPORTED_DEFAULTS = {"recall_target": 0.9, "epochs": 20}
HELD_OUT = 0.2  # share of the augmentation examples kept out of training as recall probes
MAX_PROBES = 64
# short function words are never the recalled word: the probe asks for content, not grammar
_FUNCTION_WORDS = frozenset("""a an the and or but of to in on at by for with from as is are was were be been
being has have had do does did not no yes it its this that these those they them their there here he she his her
him we our you your i me my also than then so such very can could would should may might will shall""".split())
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'-]*")


@dataclass(frozen=True)
class RecallProbe:
    """A sentence cut before its final content word: `prefix` + `target` is the sentence up to that word."""

    prefix: str
    target: str  # the word with its leading space, as it continues the prefix


def hold_out_probes(examples: Sequence[TrainingExample], seed: int
                    ) -> tuple[list[TrainingExample], list[RecallProbe]]:
    """The examples to train on, and the recall probes (see the module): the documents' own sentences, and
    held-out augmentations when there are at least two (else every example trains)."""
    augmentations = [n for n, e in enumerate(examples) if e.augmentation]
    documents = [e.completion for e in examples if not e.augmentation]
    if len(augmentations) >= 2:
        count = min(len(augmentations) - 1, max(1, round(HELD_OUT * len(augmentations))))
        held = set(random.Random(seed).sample(augmentations, count))
        train = [e for n, e in enumerate(examples) if n not in held]
        sources = documents + [examples[n].completion for n in sorted(held)]
    else:
        train, sources = list(examples), documents
    probes = [p for text in sources for sentence in split_sentences(text) if (p := sentence_probe(sentence))]
    if len(probes) > MAX_PROBES:
        probes = random.Random(seed).sample(probes, MAX_PROBES)
    return train, probes


def sentence_probe(sentence: str) -> RecallProbe | None:
    """The sentence cut before its final content word (None when it has none, or nothing before it)."""
    words = [m for m in _WORD.finditer(sentence) if m.group().lower() not in _FUNCTION_WORDS and len(m.group()) > 2]
    if not words or not sentence[: words[-1].start()].strip():
        return None
    last = words[-1]
    start = last.start() - 1 if last.start() > 0 and sentence[last.start() - 1] == " " else last.start()
    return RecallProbe(prefix=sentence[:start], target=sentence[start:last.end()])


@torch.no_grad()
def recall_rate(model, tokenizer, probes: Sequence[RecallProbe], batch: int = 16) -> float:
    """The share of `probes` whose target tokens are all the model's argmax after their prefix (NaN with none)."""
    if not probes:
        return float("nan")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    recalled = 0
    for at in range(0, len(probes), batch):
        chunk = probes[at : at + batch]
        prefixes = tokenizer([p.prefix for p in chunk], add_special_tokens=False)["input_ids"]
        targets = tokenizer([p.target for p in chunk], add_special_tokens=False)["input_ids"]
        rows = [list(a) + list(b) for a, b in zip(prefixes, targets)]
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), pad, dtype=torch.long)  # (B, T), right-padded
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for n, row in enumerate(rows):
            ids[n, : len(row)] = torch.tensor(row)
            mask[n, : len(row)] = 1
        predicted = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits.argmax(-1).cpu()  # (B, T)
        for n, (prefix, target) in enumerate(zip(prefixes, targets)):
            # the token at position t is predicted at t - 1
            start = len(prefix)
            guess = predicted[n, start - 1 : start - 1 + len(target)].tolist()
            recalled += bool(target) and start > 0 and guess == list(target)
    model.train(was_training)
    return recalled / len(probes)
