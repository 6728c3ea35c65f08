"""Evaluate a model on a world in one mode, storing every item's scores so a run resumes where it stopped.

Modes (`icft.learn.modes`): `pretrained` scores each item's prompt alone; `icl` puts the world's train
documents in a shared context first (see `icft.learn.icl`); a fine-tuning mode scores an already fine-tuned
model with no context, and its `training` description (data + hyperparameters) is part of the run's identity.
A free-form item is answered by greedy generation after the same context and prompt (`icft.evaluate.free_form`).
Items are scored in batches; each batch is written to the results store
in one transaction, so an interrupted run loses at most one batch and a finished run is never recomputed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from icft.errors import IcftError
from icft.evaluate.metrics import Estimate, SplitSummary, is_correct, summarize_splits
from icft.evaluate.free_form import ANSWER_STOPS, MAX_ANSWER_TOKENS, squad_scores
from icft.evaluate.scoring import OptionScores, score_choices
from icft.models.generation import generate
from icft.models.tokens import context_ids, continuation
from icft.learn.modes import mode_spec
from icft.learn.icl import NO_CONTEXT, TEMPLATES, IclContext, build_icl_context, check_fits
from icft.models import LoadedModel
from icft.models.device import precision_name
from icft.store import CellKey, ItemResult, ResultsStore, RunSpec, world_identity
from icft.worlds.schema import Item, World

TOKEN_BUDGET = 2048  # tokens per scoring forward pass (batch x length)


@dataclass(frozen=True)
class EvalSummary:
    """One run's per-split results; `n_scored` counts the items scored by this call (0 if already done)."""

    run_id: str
    world_label: str
    model: str
    mode: str
    seed: int
    config: dict
    splits: list[SplitSummary]
    n_scored: int


def evaluate_world(loaded: LoadedModel, world: World, world_label: str, mode: str, store: ResultsStore,
                   seed: int = 0, subsample: float = 1.0, template: str = "plain", batch_items: int = 32,
                   progress: bool = True, training: dict | None = None) -> EvalSummary:
    """Score every item of `world` in `mode` (resuming a stored run), then summarize per split.

    `world_label` is how results name the world (a study's label, or the folder `icft eval` read). `seed` picks
    and orders the ICL documents. `subsample` and `template` are the ICL options (see `build_icl_context`); the
    pretrained mode takes neither.
    """
    config = eval_config(mode, subsample, template, training)
    spec = run_spec(CellKey(world_label, seed, loaded.name, mode), world, config, precision_name(loaded.dtype))
    return evaluate_run(loaded, world, spec, store, batch_items, progress)


def evaluate_run(loaded: LoadedModel, world: World, spec: RunSpec, store: ResultsStore, batch_items: int = 32,
                 progress: bool = True) -> EvalSummary:
    """Score every item of `world` for the run `spec` (a study's cell plan, or `evaluate_world`'s), resuming a
    stored run; the ICL options are the ones `spec`'s config holds."""
    if batch_items < 1:
        raise IcftError(f"batch_items must be at least 1, got {batch_items}")
    if spec.config.get("precision", "float32") != precision_name(loaded.dtype):
        raise IcftError(f"run {spec.key.label} is planned in {spec.config.get('precision', 'float32')} but its model "
                        f"is loaded in {precision_name(loaded.dtype)}")
    _require_unique_item_ids(world)
    run_id = store.start_run(spec)
    n_scored = 0
    if store.run_status(run_id) != "finished":
        done = store.done_item_ids(run_id)
        todo = [item for item in world.items if item.id not in done]
        if todo:
            subsample, template = spec.config.get("subsample", 1.0), spec.config.get("template", "plain")
            context = mode_context(spec.mode, world, loaded.tokenizer, spec.seed, subsample, template)
            if context.context:  # fail before scoring anything (the scorer checks only the batch it is given)
                check_fits(loaded, len(context_ids(loaded.tokenizer, context.context)),
                           longest_request_tokens(loaded.tokenizer, context, todo))
            n_scored = _score_items(loaded, context, todo, store, run_id, batch_items, progress, len(world.items))
        store.finish_run(run_id)
    summary = stored_summary(store, spec, world)
    return dataclasses.replace(summary, n_scored=n_scored)


def stored_summary(store: ResultsStore, spec: RunSpec, world: World) -> EvalSummary:
    """Per-split results of a run, read from the store (nothing is scored)."""
    rows = _rows_in_world_order(store.item_rows(spec.run_id), world)
    return EvalSummary(run_id=spec.run_id, world_label=spec.world_label, model=spec.model, mode=spec.mode,
                       seed=spec.seed, config=spec.config, splits=summarize_splits(rows), n_scored=0)


def run_spec(key: CellKey, world: World, config: dict, precision: str = "float32") -> RunSpec:
    """The identity of a run; its `run_id` tells whether the store already has it (before any work)."""
    # the world's control splits travel with every run, so a report (which reads only the store) knows which
    # splits are the learned check
    config = {**config, "control_splits": list(world.control_splits)}
    if precision != "float32":  # fp32 runs keep the ids they had before precision was recorded
        config["precision"] = precision
    return RunSpec(key=key, world_id=world_identity(world), config=config)


def eval_config(mode: str, subsample: float = 1.0, template: str = "plain", training: dict | None = None) -> dict:
    """The resolved settings that change a run's results (hashed into its run id)."""
    if mode_spec(mode).finetunes:  # an unknown mode is an error naming the modes
        if training is None:
            raise IcftError(f"mode {mode!r} scores a fine-tuned model: run it with `icft study` (or use pretrained/icl)")
        if subsample != 1.0 or template != "plain":
            raise IcftError(f"the ICL settings subsample and template apply to mode icl only, not {mode}")
        return {"training": training}
    if template not in TEMPLATES:
        raise IcftError(f"unknown ICL template {template!r}: choose one of {', '.join(TEMPLATES)}")
    if mode == "pretrained":
        if subsample != 1.0 or template != "plain":
            raise IcftError("the ICL settings subsample and template apply to mode icl only: drop them for pretrained")
        return {}
    return {"subsample": float(subsample), "template": template}  # float: 1 and 1.0 must hash alike


def mode_context(mode: str, world: World, tokenizer, seed: int, subsample: float, template: str) -> IclContext:
    if mode == "icl":
        return build_icl_context(world, tokenizer, seed, subsample, template)
    return NO_CONTEXT


def longest_request_tokens(tokenizer, context: IclContext, items: Sequence[Item]) -> int:
    """Tokens of the longest item prompt + option (or free-form answer, plus the tokens generated for it),
    tokenized as the scorer does."""
    return max(len(continuation(tokenizer, context.prompt(item.prompt), option).ids)
               + (MAX_ANSWER_TOKENS if item.free_form else 0)
               for item in items for option in item.continuations)


def _score_items(loaded: LoadedModel, context: IclContext, items: list[Item], store: ResultsStore, run_id: str,
                 batch_items: int, progress: bool, n_total: int) -> int:
    with _progress_bar(progress) as bar:
        task = bar.add_task(f"{loaded.name}: scoring", total=n_total, completed=n_total - len(items))
        for start in range(0, len(items), batch_items):
            batch = items[start : start + batch_items]
            requests = [(context.prompt(item.prompt), item.continuations) for item in batch]
            scores = score_choices(loaded, requests, context=context.context, reuse_context=True,
                                   token_budget=TOKEN_BUDGET)
            answers = _free_form_answers(loaded, context, batch)
            store.add_item_results(run_id, [_item_result(item, s, answers.get(item.id))
                                            for item, s in zip(batch, scores, strict=True)])
            bar.advance(task, len(batch))
    return len(items)


def _free_form_answers(loaded: LoadedModel, context: IclContext, batch: list[Item]) -> dict[str, str]:
    """item id -> the model's greedy answer (up to the first line break or sentence end) for the batch's
    free-form items."""
    free = [item for item in batch if item.free_form]
    if not free:
        return {}
    outputs = generate(loaded, [context.prompt(item.prompt) for item in free], context=context.context,
                       max_new_tokens=MAX_ANSWER_TOKENS, stop=list(ANSWER_STOPS))
    return {item.id: output.strip() for item, output in zip(free, outputs, strict=True)}


def _item_result(item: Item, scores: OptionScores, answer: str | None = None) -> ItemResult:
    if item.free_form:
        # the accepted answers were scored as continuations: their log-probabilities are the continuous score;
        # "chosen" is the accepted answer the model finds likeliest, correct is exact match
        exact, f1 = squad_scores(answer or "", [a.strip() for a in item.answers])
        return ItemResult(
            item_id=item.id, split=item.split, logprobs=tuple(scores.logprobs), n_tokens=tuple(scores.n_tokens),
            chosen_sum=scores.chosen_sum, chosen_mean=scores.chosen_mean, correct_sum=exact, correct_mean=exact,
            chance=item.chance, prediction=answer or "", f1=f1,
        )
    return ItemResult(
        item_id=item.id, split=item.split, logprobs=tuple(scores.logprobs), n_tokens=tuple(scores.n_tokens),
        chosen_sum=scores.chosen_sum, chosen_mean=scores.chosen_mean,
        correct_sum=is_correct(scores.chosen_sum, item), correct_mean=is_correct(scores.chosen_mean, item),
        chance=item.chance,
    )


def _progress_bar(enabled: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("items"),
        TimeRemainingColumn(), disable=not enabled, transient=False,
    )


def _require_unique_item_ids(world: World) -> None:
    seen: set[str] = set()
    for item in world.items:
        if item.id in seen:
            raise IcftError(f"world {world.name!r} has two items with id {item.id!r}: run `icft worlds check`")
        seen.add(item.id)


def _rows_in_world_order(rows: list[ItemResult], world: World) -> list[ItemResult]:
    """Stored rows in the world's item order, so the bootstrap sees the same sequence however the run went."""
    by_id = {row.item_id: row for row in rows}
    missing = [item.id for item in world.items if item.id not in by_id]
    if missing:
        raise IcftError(f"run is marked finished but lacks {len(missing)} items (first {missing[0]!r}): "
                        "use a new results file")
    return [by_id[item.id] for item in world.items]


def summary_table(summary: EvalSummary) -> Table:
    """Per-split accuracy under both choice rules with 95% CIs, chance beside them."""
    title = f"{summary.model} · {summary.mode} · {summary.world_label} · seed {summary.seed}"
    table = Table(title=title)
    table.add_column("split")
    table.add_column("n", justify="right")
    table.add_column("accuracy, summed [95% CI]", justify="right")
    table.add_column("accuracy, per-token mean [95% CI]", justify="right")
    table.add_column("chance", justify="right")
    free_form = any(s.f1 is not None for s in summary.splits)
    if free_form:  # a free-form split's accuracy is exact match
        table.add_column("free form: token F1 [95% CI]", justify="right")
    for s in summary.splits:
        f1 = [format_estimate(s.f1) if s.f1 is not None else "—"] if free_form else []
        table.add_row(s.split, str(s.n), format_estimate(s.accuracy_sum), format_estimate(s.accuracy_mean),
                      f"{s.chance:.2f}", *f1)
    return table


def format_estimate(e: Estimate) -> str:
    return f"{e.mean:.2f} [{e.low:.2f}, {e.high:.2f}]"
