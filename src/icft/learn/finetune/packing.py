"""Pack tokenized training examples into rows with no padding waste and no attention across examples.

A row holds several examples back to back. Three things keep each example independent of its neighbours,
so an example's logits and loss are the same alone and packed (tests/learn/finetune/test_packing.py checks this):
  - a block-diagonal causal attention mask, shape (B, 1, T, T): a token sees only earlier tokens of its own
    example. transformers passes a 4-D mask through to the attention function unchanged
    (`masking_utils._preprocess_mask_arguments`), so it must be in the form that function takes: boolean
    (True = attend) for `sdpa`, additive (0 = attend, dtype min = blocked) for `eager`;
  - position ids that restart at 0 for each example, so rotary positions match the example alone;
  - label -100 on each example's first token, so nothing is predicted across a boundary.
On GPU with flash-attention there is no 4-D mask: the position ids alone delimit the examples (varlen
kernels), which is what transformers' own `DataCollatorWithFlattening` relies on. For it and every other
implementation (flex, ...) `PackedBatch.model_inputs` leaves the mask out, and transformers builds the
packed mask from the position ids itself (`masking_utils.find_packed_sequence_indices`).

Rows are filled by best-fit decreasing: examples sorted by length (longest first, ties in the given, seeded
order) each go into the fullest row that still has room. That is deterministic in the given order and leaves
almost no row short; the caller shuffles the rows afterwards, so there is no length curriculum.
"""

from __future__ import annotations

import bisect
import functools
from dataclasses import dataclass
from typing import Sequence

import torch

from icft.errors import IcftError
from icft.learn.examples import TrainingExample

IGNORE = -100  # the label cross-entropy skips (torch and transformers' convention)


@dataclass(frozen=True)
class TokenizedExample:
    """Token ids and labels (unshifted, as transformers expects): -100 on prompt tokens and the first token."""

    input_ids: tuple[int, ...]
    labels: tuple[int, ...]
    augmentation: bool = False  # see TrainingExample.augmentation

    def __len__(self) -> int:
        return len(self.input_ids)

    @functools.cached_property  # read at every step of every epoch: counted once per example
    def loss_tokens(self) -> int:
        return sum(label != IGNORE for label in self.labels)


def tokenize_examples(examples: Sequence[TrainingExample], tokenizer) -> list[TokenizedExample]:
    """Tokenize prompt and completion separately (so the loss boundary is exact) and append end-of-text.

    A tokenizer that starts every text with a beginning-of-text token (Llama 2, Gemma) gets it in front of
    each example; SmolLM2's does not.
    """
    prefix = bos_prefix(tokenizer)
    prompts = tokenizer([e.prompt for e in examples], add_special_tokens=False)["input_ids"]
    completions = tokenizer([e.completion for e in examples], add_special_tokens=False)["input_ids"]
    tokenized = []
    for example, prompt, completion in zip(examples, prompts, completions):
        context = prefix + list(prompt)
        target = list(completion) + [tokenizer.eos_token_id]
        labels = [IGNORE] * len(context) + target
        labels[0] = IGNORE  # the first token has nothing before it to be predicted from
        tokenized.append(TokenizedExample(tuple(context + target), tuple(labels), example.augmentation))
    return tokenized


def bos_prefix(tokenizer) -> list[int]:
    bos = tokenizer.bos_token_id
    return [bos] if bos is not None and tokenizer("")["input_ids"][:1] == [bos] else []


def pack_rows(lengths: Sequence[int], row_tokens: int) -> list[list[int]]:
    """Group example indices into rows of at most `row_tokens` tokens (best-fit decreasing).

    An example longer than a row is an `IcftError`: truncating would silently drop the facts at its end.
    """
    for index, length in enumerate(lengths):
        if length > row_tokens:
            raise IcftError(
                f"training example {index} has {length} tokens but a packing row holds {row_tokens}: "
                "raise row_tokens in the fine-tuning config or split documents into sentences"
            )
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])  # stable: ties keep the given order
    rows: list[list[int]] = []
    free: list[tuple[int, int]] = []  # (free tokens, row index), sorted: bisect finds the best fit
    for index in order:
        at = bisect.bisect_left(free, (lengths[index], -1))
        if at == len(free):
            rows.append([index])
            room, row = row_tokens - lengths[index], len(rows) - 1
        else:
            room, row = free.pop(at)
            rows[row].append(index)
            room -= lengths[index]
        bisect.insort(free, (room, row))
    return rows


@dataclass
class PackedBatch:
    """A micro-batch of packed rows, right-padded to the longest row."""

    input_ids: torch.Tensor  # (B, T)
    labels: torch.Tensor  # (B, T) unshifted, -100 where nothing is learned
    position_ids: torch.Tensor  # (B, T) restarting at 0 for each example
    allowed: torch.Tensor  # (B, 1, T, T) bool: True where a token may attend
    real_tokens: int  # tokens that are not padding
    augmentation: torch.Tensor | None = None  # (B, T) bool: True on tokens of augmentation examples

    @property
    def augmentation_targets(self) -> torch.Tensor:
        """(B, T) bool aligned with `targets`: True where the target token belongs to an augmentation example."""
        if self.augmentation is None:
            return torch.zeros_like(self.labels, dtype=torch.bool)  # (B, T)
        return _shifted_left(self.augmentation, False)

    @property
    def targets(self) -> torch.Tensor:
        """Labels shifted left: targets[:, t] is what the logits at position t must predict."""
        return _shifted_left(self.labels, IGNORE)

    def model_inputs(self, attn_implementation: str | None = "sdpa", dtype=torch.float32) -> dict:
        """Keyword arguments for a causal LM's forward (`dtype`: the model's, for an additive mask).

        No key/value cache: training does not need one, and with one transformers would not read packed
        examples from the position ids.
        """
        inputs = {"input_ids": self.input_ids, "position_ids": self.position_ids, "use_cache": False}
        if attn_implementation == "sdpa":
            inputs["attention_mask"] = self.allowed
        elif attn_implementation == "eager":  # adds the mask to the attention scores
            blocked = torch.finfo(dtype).min
            inputs["attention_mask"] = torch.zeros(self.allowed.shape, dtype=dtype).masked_fill(~self.allowed, blocked)
        return inputs

    def to(self, device: torch.device | str) -> PackedBatch:
        return PackedBatch(
            self.input_ids.to(device),
            self.labels.to(device),
            self.position_ids.to(device),
            self.allowed.to(device),
            self.real_tokens,
            None if self.augmentation is None else self.augmentation.to(device),
        )


def _shifted_left(values: torch.Tensor, fill) -> torch.Tensor:
    """(B, T) -> (B, T): position t holds what position t + 1 held; the last position gets `fill`."""
    shifted = torch.full_like(values, fill)  # (B, T)
    shifted[:, :-1] = values[:, 1:]
    return shifted


def collate_rows(rows: Sequence[Sequence[TokenizedExample]], pad_id: int) -> PackedBatch:
    """Concatenate each row's examples and build the block-diagonal mask and restarting position ids.

    Padding at the end of a short row is one more segment: it sees only padding and has no labels.
    """
    width = max(sum(len(e) for e in row) for row in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)  # (B, T)
    labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)  # (B, T)
    position_ids = torch.zeros((len(rows), width), dtype=torch.long)  # (B, T)
    segment_ids = torch.zeros((len(rows), width), dtype=torch.long)  # (B, T)
    augmentation = torch.zeros((len(rows), width), dtype=torch.bool)  # (B, T)
    for b, row in enumerate(rows):
        at = 0
        for segment, example in enumerate(row, start=1):
            end = at + len(example)
            input_ids[b, at:end] = torch.tensor(example.input_ids)
            labels[b, at:end] = torch.tensor(example.labels)
            position_ids[b, at:end] = torch.arange(len(example))
            segment_ids[b, at:end] = segment
            augmentation[b, at:end] = example.augmentation
            at = end
        position_ids[b, at:] = torch.arange(width - at)  # padding: segment 0, its own positions
    real_tokens = int((segment_ids > 0).sum())
    return PackedBatch(input_ids, labels, position_ids, block_causal_mask(segment_ids), real_tokens, augmentation)


def block_causal_mask(segment_ids: torch.Tensor) -> torch.Tensor:
    """(B, T) segment ids -> (B, 1, T, T) bool: True where a token attends (earlier tokens of its segment)."""
    width = segment_ids.shape[1]
    same_segment = segment_ids[:, :, None] == segment_ids[:, None, :]  # (B, T, T)
    causal = torch.ones((width, width), dtype=torch.bool).tril()  # (T, T)
    return (same_segment & causal)[:, None]  # (B, 1, T, T)
