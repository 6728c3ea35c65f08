"""The settings of augmentation and their one set of defaults, shared by `icft augment` (its options default to
unset and are filled from here) and a study's `[augment]` (`icft.study.config.AugmentSpec` takes its defaults from
here). Torch-free, so a config can read it.
"""

from __future__ import annotations

from dataclasses import dataclass

from icft.errors import IcftError
from icft.learn.augment.generators import GenerationSettings

STRATEGIES = ("local", "global")
# a few-shot template's model tends to go on with a new "Statement:" of its own: stop there
DEFAULT_STOP = {"local": ("\nStatement:",), "global": ("\nNow read this passage",)}
# the local template is a few-shot pattern, which a model continues best as plain text (measured on
# smollm2-135m: in a chat turn it mostly repeats the last example); the global one is an instruction
DEFAULT_CHAT = {"local": False, "global": True}


@dataclass(frozen=True)
class AugmentSettings:
    """Everything that shapes the augmentations; None means the strategy's default."""

    template: str | None = None  # a template file; None: the built-in one of the strategy
    max_new_tokens: int = 96  # per request, either strategy (a study's [augment] default since the first study)
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0
    chat: bool | None = None  # None: plain completion for local, a chat turn for global
    stop: tuple[str, ...] | None = None
    batch_size: int = 8
    max_words: int = 40
    context_documents: int | None = None  # global: a seeded sample of this many documents in context
    limit: int | None = None  # only the first N requests (a quick look at a big world)
    cache_path: str | None = None  # None: augment-cache.sqlite beside the output file

    def __post_init__(self):
        for key in ("max_new_tokens", "batch_size", "max_words", "context_documents", "limit"):
            value = getattr(self, key)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise IcftError(f"augment setting {key!r} must be a positive integer, got {value!r}")

    def generation(self, strategy: str) -> GenerationSettings:
        return GenerationSettings(
            max_new_tokens=self.max_new_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            seed=self.seed,
            chat=DEFAULT_CHAT[strategy] if self.chat is None else self.chat,
            stop=DEFAULT_STOP[strategy] if self.stop is None else tuple(self.stop),
        )
