"""Multiple-choice scoring by log-likelihood, computing a long shared context's key/value cache once.

`score_choices(loaded, [(prompt, options), ...], context)` gives, for every option, the summed log-probability
(nats) of its tokens after context + prompt; `icft.models.tokens` says exactly which tokens those are.

How the context is reused (reuse_context=True): the context runs through the model once, and its key/value
cache (batch 1) is kept. The continuations of many items are then packed into ONE row after it, up to
`token_budget` tokens: each item's prompt tokens (shared by its options) once, then each option's own tokens
minus its last one (whose output predicts nothing we score). A 4-D attention mask lets every packed token
see the whole context, its own item's prompt tokens and the earlier tokens of its own option only, and
explicit position ids start every item at len(context), so each option is scored as if it ran alone after
the context: nothing of the context is recomputed or copied per option. The cache is cropped back to the
context after each row, and logits are computed only at the rows that predict a scored token. With an empty
context (the pretrained mode) the same packing runs without a cache.

reuse_context=False is the naive reference: one plain forward over context + prompt + option per option (batch
1, no cache, the model's own causal mask), on the same token ids.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from tqdm import tqdm
from transformers import DynamicCache

from icft.errors import IcftError
from icft.learn.distill.teacher import rest_logmass
from icft.models.tokens import Continuation, context_ids, continuation
from icft.models import LoadedModel

_PACKABLE_LAYERS = {"full_attention", "sliding_attention"}


@dataclass(frozen=True)
class OptionScores:
    """The log-likelihood of each option of one item."""

    logprobs: tuple[float, ...]  # summed log-probability of each option's tokens (nats)
    n_tokens: tuple[int, ...]  # tokens scored per option

    @property
    def chosen_sum(self) -> int:
        """The option with the highest summed log-probability (the first one on ties)."""
        return max(range(len(self.logprobs)), key=self.logprobs.__getitem__)

    @property
    def chosen_mean(self) -> int:
        """The option with the highest mean log-probability per token (the first one on ties)."""
        return max(range(len(self.logprobs)), key=lambda j: self.logprobs[j] / self.n_tokens[j])


def score_choices(
    loaded: LoadedModel,
    requests: Sequence[tuple[str, Sequence[str]]],
    context: str = "",
    reuse_context: bool = True,
    token_budget: int = 2048,
    progress: bool = False,
) -> list[OptionScores]:
    """Score each (prompt, options) request after the shared `context`.

    `token_budget` bounds the tokens of one forward pass (a context prefill chunk or a packed row); an item
    whose continuations alone exceed it gets a row of its own.
    """
    requests = list(requests)
    _check_requests(requests)
    if token_budget < 1:
        raise IcftError(f"token_budget must be at least 1, got {token_budget}")
    tokenizer = loaded.tokenizer
    prefix = context_ids(tokenizer, context)
    items = [[continuation(tokenizer, prompt, option) for option in options] for prompt, options in requests]
    _check_fits(items, len(prefix), loaded.context_window)
    with torch.inference_mode():
        if reuse_context:
            flat = _score_packed(loaded.model, prefix, items, token_budget, progress)
        else:
            flat = _score_naive(loaded.model, prefix, items, progress)
    scores, k = [], 0
    for conts in items:
        scores.append(OptionScores(tuple(flat[k : k + len(conts)]), tuple(len(c.ids) - c.start for c in conts)))
        k += len(conts)
    return scores


def _check_requests(requests) -> None:
    for k, (prompt, options) in enumerate(requests):
        if not isinstance(prompt, str) or isinstance(options, str):
            raise IcftError(f"request {k} must be (prompt, options) with a list of option strings, got {options!r}")
        if not options:
            raise IcftError(f"request {k} has no options: give at least one option to score")
        for j, option in enumerate(options):
            if not option:
                raise IcftError(f"option {j} of request {k} is empty: every option needs text to score")


def _check_fits(items: list[list[Continuation]], context_len: int, window: int) -> None:
    longest = max((len(c.ids) for conts in items for c in conts), default=0)
    if context_len > window:
        raise IcftError(
            f"context is {context_len} tokens but the model's window is {window}: "
            "use fewer or shorter documents, or a model with a longer window"
        )
    if context_len + longest > window:
        raise IcftError(
            f"context ({context_len} tokens) plus the longest prompt and option ({longest} tokens) exceed the "
            f"model's window of {window}: shorten the context or the items"
        )
    for k, conts in enumerate(items):
        if context_len == 0 and any(c.start == 0 for c in conts):
            raise IcftError(
                f"request {k}: an option's first token has nothing before it (the context is empty, the tokenizer "
                "adds no BOS, and the prompt is empty or merges into the option): give a prompt or a context"
            )


# ---- the naive reference ---------------------------------------------------------------------------------


def _score_naive(model, prefix: list[int], items: list[list[Continuation]], progress: bool) -> list[float]:
    """One plain forward per option over context + prompt + option."""
    flat = []
    for conts in tqdm(items, desc="scoring (naive)", unit="item", disable=not progress):
        for cont in conts:
            device = model.device
            ids = torch.tensor([prefix + list(cont.ids)], device=device)  # (1, T)
            predictors = torch.arange(cont.start, len(cont.ids), device=device) + len(prefix) - 1  # (n,)
            logits = model(input_ids=ids, logits_to_keep=predictors).logits[0]  # (n, V)
            targets = torch.tensor(cont.ids[cont.start :], device=device)
            flat.append(float(_target_logprobs(logits, targets).double().sum()))
    return flat


def _target_logprobs(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """log p(target) for each row of logits (N, V) and target (N,)."""
    logits = logits.float()
    return logits.gather(1, targets[:, None])[:, 0] - logits.logsumexp(-1)


# ---- packed continuations after a shared context ---------------------------------------------------------


@dataclass
class _Row:
    """One packed row after the context: its tokens, and which logits score which option's tokens."""

    ids: list[int] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)
    segments: list[int] = field(default_factory=list)  # item within the row; -1 marks context tokens
    branches: list[int] = field(default_factory=list)  # -1: shared by the item's options; j: option j only
    # one entry per scored token: the row index whose output predicts it (-1: the context's last token),
    # the token's id, and the flat index of the option it belongs to
    predictors: list[int] = field(default_factory=list)
    targets: list[int] = field(default_factory=list)
    owners: list[int] = field(default_factory=list)
    n_items: int = 0

    def append(self, token: int, position: int, segment: int, branch: int) -> None:
        self.ids.append(token)
        self.positions.append(position)
        self.segments.append(segment)
        self.branches.append(branch)


def _score_packed(model, prefix, items, token_budget: int, progress: bool) -> list[float]:
    _check_packable(model.config)
    cache, last_logits = _prefill(model, prefix, token_budget)
    last_logprobs = None if last_logits is None else last_logits.log_softmax(-1)
    totals = torch.zeros(sum(len(conts) for conts in items), dtype=torch.float64)
    bar = tqdm(total=len(items), desc="scoring", unit="item", disable=not progress)
    for row in _pack(items, len(prefix), token_budget):
        logprobs = _run_row(model, row, cache, len(prefix), last_logprobs)
        totals.index_add_(0, torch.tensor(row.owners), logprobs.double().cpu())
        bar.update(row.n_items)
    bar.close()
    return totals.tolist()


def _pack(items: list[list[Continuation]], context_len: int, token_budget: int):
    """Yield rows of whole items, each row at most `token_budget` tokens unless one item alone is longer."""
    row, first_option = _Row(), 0
    for conts in items:
        shared = _shared_length(conts)
        size = shared + sum(max(len(c.ids) - 1 - shared, 0) for c in conts)
        if row.n_items and len(row.ids) + size > token_budget:
            yield row
            row = _Row()
        _add_item(row, conts, shared, context_len, first_option)
        first_option += len(conts)
    if row.n_items:
        yield row


def _shared_length(conts: list[Continuation]) -> int:
    """How many leading prompt tokens all options of an item share (fed once for all of them)."""
    limit = min(c.start for c in conts)
    first = conts[0].ids
    for t in range(limit):
        if any(c.ids[t] != first[t] for c in conts):
            return t
    return limit


def _add_item(row: _Row, conts: list[Continuation], shared: int, context_len: int, first_option: int) -> None:
    """Append one item: its shared prompt tokens, then each option's own tokens minus the last."""
    segment, base = row.n_items, len(row.ids)
    for t in range(shared):
        row.append(conts[0].ids[t], context_len + t, segment, -1)
    for j, cont in enumerate(conts):
        own_start = len(row.ids)
        for t in range(shared, len(cont.ids) - 1):
            row.append(cont.ids[t], context_len + t, segment, j)
        for t in range(cont.start, len(cont.ids)):
            before = t - 1  # the token whose output predicts token t
            if before < 0:
                row.predictors.append(-1)  # the context's last token
            else:
                row.predictors.append(base + before if before < shared else own_start + before - shared)
            row.targets.append(cont.ids[t])
            row.owners.append(first_option + j)
    row.n_items += 1


def _prefill(model, prefix: list[int], token_budget: int):
    """The context's key/value cache and the logits (fp32) after its last token (None, None if empty)."""
    if not prefix:
        return None, None
    cache = DynamicCache()  # full layers only: sliding-window layers are windowed by our masks instead
    for start in range(0, len(prefix), token_budget):
        chunk = _Row()
        for t in range(start, min(start + token_budget, len(prefix))):
            chunk.append(prefix[t], t, -1, -1)
        out = model(
            input_ids=torch.tensor([chunk.ids], device=model.device),  # (1, Q)
            position_ids=torch.tensor([chunk.positions], device=model.device),
            attention_mask=_attention_mask(model, chunk, start),
            cache=cache,
            use_cache=True,
            logits_to_keep=1,
        )
    return cache, out.logits[0, -1].float()


def _run_row(model, row: _Row, cache, context_len: int, last_logprobs) -> torch.Tensor:
    """log p of every scored token of the row, in row.targets order."""
    device = model.device
    predictors = torch.tensor(row.predictors, device=device)
    targets = torch.tensor(row.targets, device=device)
    result = torch.empty(len(row.targets), device=device)
    from_context = predictors < 0
    if from_context.any():
        result[from_context] = last_logprobs[targets[from_context]]
    if row.ids:
        needed = torch.unique(predictors[~from_context])  # sorted row indices
        where = torch.searchsorted(needed, predictors[~from_context])
        logits = _row_forward(model, row, cache, context_len, needed)
        result[~from_context] = _target_logprobs(logits[where], targets[~from_context])
    return result


def _row_forward(model, row: _Row, cache, context_len: int, keep: torch.Tensor) -> torch.Tensor:
    """The logits (len(keep), V) at the row indices `keep` (sorted), the row run after the cached context; the
    cache is cropped back to the context alone after."""
    device = model.device
    out = model(
        input_ids=torch.tensor([row.ids], device=device),  # (1, Q)
        position_ids=torch.tensor([row.positions], device=device),
        attention_mask=_attention_mask(model, row, context_len),
        cache=cache,
        use_cache=cache is not None,
        logits_to_keep=keep,
    )
    if cache is not None:
        cache.crop(-len(row.ids))
    return out.logits[0]


# ---- the whole distribution at each scored token (context distillation's teacher) -----------------------


@dataclass(frozen=True)
class TopK:
    """A continuation's next-token distributions at its scored tokens, kept as the top-k and the rest."""

    ids: torch.Tensor  # (n, k) token ids of the k most likely tokens
    logprobs: torch.Tensor  # (n, k) their log-probabilities
    rest: torch.Tensor  # (n,) the log of the probability mass outside them


def top_k_distributions(loaded: LoadedModel, continuations: Sequence[Continuation], context: str = "",
                        top_k: int = 20, temperature: float = 1.0, token_budget: int = 512) -> list[TopK]:
    """For each continuation after the shared `context`, the model's distribution (at `temperature`) at each of
    its scored tokens (`ids[start:]`), as the top `top_k` log-probabilities and the mass of the rest.

    The context is encoded once and its cache reused, and continuations are packed as `score_choices` packs
    options. `token_budget` is kept small: each scored token holds a whole vocabulary row of logits.
    """
    items = [[c] for c in continuations]
    prefix = context_ids(loaded.tokenizer, context)
    _check_fits(items, len(prefix), loaded.context_window)
    model = loaded.model
    _check_packable(model.config)
    pieces: list[list[TopK]] = [[] for _ in items]
    with torch.inference_mode():
        cache, last_logits = _prefill(model, prefix, token_budget)
        for row in _pack(items, len(prefix), token_budget):
            logprobs = (_row_logits(model, row, cache, len(prefix), last_logits) / temperature).log_softmax(-1)
            values, ids = logprobs.topk(min(top_k, logprobs.shape[-1]), dim=-1)  # (n, k)
            rest = rest_logmass(logprobs, ids)  # (n,)
            owners = torch.tensor(row.owners)
            for owner in dict.fromkeys(row.owners):  # an item's scored tokens are contiguous and in order
                mine = (owners == owner).nonzero()[:, 0]
                pieces[owner].append(TopK(ids[mine].cpu(), values[mine].cpu(), rest[mine].cpu()))
    return [TopK(torch.cat([p.ids for p in parts]), torch.cat([p.logprobs for p in parts]),
                 torch.cat([p.rest for p in parts])) for parts in pieces]


def _row_logits(model, row: _Row, cache, context_len: int, last_logits) -> torch.Tensor:
    """The fp32 logits (n, V) that predict each scored token of the row, in row.targets order (each item has one
    continuation, so every scored token has a predictor of its own, in increasing order)."""
    device = model.device
    predictors = torch.tensor(row.predictors, device=device)
    from_context = predictors < 0  # only an item's first scored token can be predicted by the context
    parts = [last_logits[None].expand(int(from_context.sum()), -1)] if from_context.any() else []
    if not from_context.all():
        parts.append(_row_forward(model, row, cache, context_len, predictors[~from_context]).float())
    if len(parts) == 2:  # put each context-predicted token back in its place
        result = torch.empty(len(predictors), parts[1].shape[-1], device=device)
        result[from_context], result[~from_context] = parts[0], parts[1]
        return result
    return parts[0]


def _check_packable(config) -> None:
    layer_types = set(getattr(config, "layer_types", None) or ["full_attention"])
    if not layer_types <= _PACKABLE_LAYERS:
        raise IcftError(
            f"context reuse does not support layer types {sorted(layer_types - _PACKABLE_LAYERS)}: "
            "score with reuse_context=False"
        )
    if config._attn_implementation not in ("sdpa", "eager"):
        raise IcftError(
            f"context reuse needs sdpa or eager attention, not {config._attn_implementation!r}: "
            "load the model with attn_implementation='sdpa'"
        )


def _attention_mask(model, row: _Row, context_len: int):
    """The additive 4-D mask (1, 1, Q, context_len + Q), or one per layer type for sliding-window models.

    A query sees a key when the key is a context token (segment -1) or belongs to the query's item and is
    shared or on the query's own option branch, and the key's position is not after the query's.
    """
    q_pos, q_seg, q_branch = (torch.tensor(v)[:, None] for v in (row.positions, row.segments, row.branches))
    k_pos = torch.cat([torch.arange(context_len), torch.tensor(row.positions)])[None, :]  # (1, K)
    k_seg = torch.cat([torch.full((context_len,), -1), torch.tensor(row.segments)])[None, :]
    k_branch = torch.cat([torch.full((context_len,), -1), torch.tensor(row.branches)])[None, :]
    own = (k_branch == -1) | (k_branch == q_branch)
    allowed = (k_pos <= q_pos) & ((k_seg == -1) | ((k_seg == q_seg) & own))  # (Q, K)
    config, dtype, device = model.config, model.dtype, model.device
    window = getattr(config, "sliding_window", None)
    layer_types = getattr(config, "layer_types", None)
    if layer_types is None:
        if window and getattr(config, "use_sliding_window", True):
            allowed &= q_pos - k_pos < window
        return _additive(allowed, dtype, device)
    if set(layer_types) == {"full_attention"}:
        return _additive(allowed, dtype, device)
    return {
        "full_attention": _additive(allowed, dtype, device),
        "sliding_attention": _additive(allowed & (q_pos - k_pos < window), dtype, device),
    }


def _additive(allowed: torch.Tensor, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """0 where attention is allowed, the dtype's minimum elsewhere; (Q, K) -> (1, 1, Q, K)."""
    mask = torch.zeros(allowed.shape, dtype=dtype).masked_fill_(~allowed, torch.finfo(dtype).min)
    return mask[None, None].to(device)
