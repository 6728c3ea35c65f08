"""Text generation after a long shared context whose key/value cache is computed once.

The context (with chat=True: the chat template's opening up to and including the context, which starts the
user turn) runs through the model once. Each batch of prompts then continues from a copy of that cache
expanded to the batch, so the context is computed once and copied once per batch, not per prompt. Prompts
of different lengths are padded *between* the context and the prompt: the padding is masked out and the
position ids come from the attention mask (transformers' generate counts them as cumsum(mask) - 1), so each
prompt continues at position len(context) exactly as if it ran alone. Tokenization is the scorer's
(`icft.models.tokens`): the ids are those of context + prompt tokenized as one string when the context
ends at a natural boundary such as "\\n\\n".
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from tqdm import tqdm
from transformers import DynamicCache, GenerationConfig, StoppingCriteria, StoppingCriteriaList

from icft.errors import IcftError
from icft.models.tokens import context_ids, text_ids
from icft.models.loading import LoadedModel

_SENTINEL = "\u2063ICFT-PROMPT\u2063"  # marks where the prompt goes inside the rendered chat template


def generate(
    loaded: LoadedModel,
    prompts: Sequence[str],
    context: str = "",
    max_new_tokens: int = 128,
    temperature: float = 0.0,
    top_p: float = 1.0,
    seed: int = 0,
    chat: bool = False,
    batch_size: int = 8,
    stop: Sequence[str] = (),
    progress: bool = False,
) -> list[str]:
    """Continue context + each prompt; return only the new text, cut at EOS and at the first stop string
    (a stop string counts once the text has begun: leading whitespace never ends it).

    Greedy when temperature == 0, else sampled with `temperature` and nucleus `top_p` (no top-k). Sampling is
    seeded: the same seed and arguments give the same texts (without touching the global torch RNG).
    chat=True wraps context + prompt as one user turn of the tokenizer's chat template, followed by the
    assistant's generation prompt.
    """
    _check_arguments(prompts, max_new_tokens, temperature, top_p, batch_size)
    tokenizer, model = loaded.tokenizer, loaded.model
    head, tail = _chat_frame(tokenizer, context) if chat else (context, "")
    prefix = context_ids(tokenizer, head, add_special_tokens=not chat)  # a chat template writes its own BOS
    requests = [text_ids(tokenizer, prompt + tail) for prompt in prompts]
    longest = max((len(ids) for ids in requests), default=0)
    if len(prefix) + longest + max_new_tokens > loaded.context_window:
        raise IcftError(
            f"context ({len(prefix)} tokens) plus the longest prompt ({longest}) and max_new_tokens "
            f"({max_new_tokens}) exceed the model's window of {loaded.context_window}: shorten them"
        )
    if not prefix and any(not ids for ids in requests):
        raise IcftError("a prompt is empty and so is the context: give text to continue")
    config = _generation_config(loaded, max_new_tokens, temperature, top_p)
    texts = []
    with torch.inference_mode(), torch.random.fork_rng(devices=_accelerators(loaded.device)):
        torch.manual_seed(seed)
        cache = _prefill(model, prefix)
        for start in tqdm(range(0, len(requests), batch_size), desc="generating", disable=not progress):
            batch = requests[start : start + batch_size]
            new_ids = _generate_batch(model, prefix, cache, batch, config, tokenizer, stop)
            texts.extend(_finish(tokenizer, ids, config.eos_token_id, stop) for ids in new_ids)
    return texts


def _check_arguments(prompts, max_new_tokens: int, temperature: float, top_p: float, batch_size: int) -> None:
    if isinstance(prompts, str):
        raise IcftError("prompts must be a list of strings, not one string: wrap it in a list")
    if max_new_tokens < 1:
        raise IcftError(f"max_new_tokens must be at least 1, got {max_new_tokens}")
    if temperature < 0:
        raise IcftError(f"temperature must be 0 (greedy) or positive, got {temperature}")
    if not 0 < top_p <= 1:
        raise IcftError(f"top_p must be in (0, 1], got {top_p}")
    if batch_size < 1:
        raise IcftError(f"batch_size must be at least 1, got {batch_size}")


def _chat_frame(tokenizer, context: str) -> tuple[str, str]:
    """The rendered chat template before and after the prompt, for a user turn holding context + prompt."""
    if not getattr(tokenizer, "chat_template", None):
        raise IcftError("chat=True needs a tokenizer with a chat template: use an instruct model or chat=False")
    rendered = tokenizer.apply_chat_template(
        [{"role": "user", "content": context + _SENTINEL}], tokenize=False, add_generation_prompt=True
    )
    parts = rendered.split(_SENTINEL)
    if len(parts) != 2:
        raise IcftError("the chat template does not keep the user's text verbatim: use chat=False")
    return parts[0], parts[1]


def _generation_config(loaded: LoadedModel, max_new_tokens: int, temperature: float, top_p: float):
    eos = loaded.model.generation_config.eos_token_id
    if eos is None:
        eos = loaded.tokenizer.eos_token_id
    sampling = temperature > 0
    return GenerationConfig(
        max_new_tokens=max_new_tokens,
        do_sample=sampling,
        # explicit, so that values from the model's own generation_config.json do not creep in
        temperature=temperature if sampling else 1.0,
        top_p=top_p if sampling else 1.0,
        top_k=0 if sampling else 50,
        repetition_penalty=1.0,
        eos_token_id=eos,
        pad_token_id=loaded.tokenizer.pad_token_id,
    )


def _prefill(model, prefix: list[int]):
    """The context's cache, or None for an empty one."""
    if not prefix:
        return None
    cache = DynamicCache(config=model.config)
    model(input_ids=torch.tensor([prefix], device=model.device), cache=cache, use_cache=True,
          logits_to_keep=1)
    return cache


def _generate_batch(model, prefix, cache, batch: list[list[int]], config, tokenizer, stop) -> list[list[int]]:
    """New token ids for a batch of prompts, padded between the context and the prompts."""
    width = max(len(ids) for ids in batch)
    rows = [prefix + [config.pad_token_id] * (width - len(ids)) + ids for ids in batch]
    mask = [[1] * len(prefix) + [0] * (width - len(ids)) + [1] * len(ids) for ids in batch]
    input_ids = torch.tensor(rows, device=model.device)  # (B, L + width)
    kwargs = {}
    if cache is not None:
        kwargs["cache"] = copy.deepcopy(cache)
        kwargs["cache"].batch_repeat_interleave(len(batch))  # (1, ...) -> (B, ...)
    criteria = StoppingCriteriaList([_StopStrings(tokenizer, stop, input_ids.shape[1])]) if stop else None
    out = model.generate(
        input_ids=input_ids,
        attention_mask=torch.tensor(mask, device=model.device),
        generation_config=config,
        stopping_criteria=criteria,
        **kwargs,
    )
    return out[:, input_ids.shape[1] :].tolist()


def _finish(tokenizer, new_ids: list[int], eos, stop: Sequence[str]) -> str:
    """Decode the new tokens up to the first EOS, then cut at the first stop string (see `_first_stop`)."""
    eos_ids = set(eos if isinstance(eos, list) else [eos])
    end = next((i for i, token in enumerate(new_ids) if token in eos_ids), len(new_ids))
    text = tokenizer.decode(new_ids[:end], skip_special_tokens=True)
    cut = _first_stop(text, stop)
    return text if cut is None else text[:cut]


def _first_stop(text: str, stop: Sequence[str]) -> int | None:
    """Where the first stop string starts, counting only those after some non-whitespace text.

    A reply that opens with a line break ("\nglon are ...") is not cut to nothing by a "\n" stop.
    """
    start = len(text) - len(text.lstrip())
    cuts = [text.find(s, start) for s in stop if s and s in text[start:]]
    return min(cuts) if cuts else None


class _StopStrings(StoppingCriteria):
    """Stop a row once its new text contains a stop string (the text is cut there afterwards)."""

    def __init__(self, tokenizer, stop: Sequence[str], prompt_width: int):
        self.tokenizer, self.stop, self.prompt_width = tokenizer, [s for s in stop if s], prompt_width

    def __call__(self, input_ids: torch.LongTensor, scores, **kwargs) -> torch.BoolTensor:
        texts = self.tokenizer.batch_decode(input_ids[:, self.prompt_width :], skip_special_tokens=True)
        done = [_first_stop(text, self.stop) is not None for text in texts]
        return torch.tensor(done, device=input_ids.device)


def _accelerators(device: torch.device) -> list[int]:
    """The CUDA devices whose RNG fork_rng must save and restore."""
    return [device.index or 0] if device.type == "cuda" else []
