"""The one fine-tuning loop (full or LoRA), read top to bottom: config, setup, train, save.

Plain FT, FT on sentence-split documents, FT on documents plus augmentations, and FTICL all call
`finetune` and differ only in the `TrainingExample`s they pass (see `icft.learn.examples`). Context distillation
(`icft.learn.distill`) passes the teacher's targets too: each learned token's loss is then the KL to them, and the
stopping rules read that loss as they read the next-token loss.

    from icft.learn.finetune import FinetuneConfig, finetune
    result = finetune(loaded, document_examples(world), FinetuneConfig(lora=True), out_dir="runs/ft")

What happens:
  1. examples are tokenized (loss on completion tokens only) and packed into rows of `row_tokens` tokens
     with no attention across examples (`icft.learn.finetune.packing`); each epoch is shuffled with
     `random.Random(seed)`, so the same seed gives the same rows, steps and losses;
  2. an optimizer step takes `batch_tokens // row_tokens` rows (or, with `batch_examples`, the rows packed
     from that many examples: a batch size in examples, as papers state it), run as micro-batches of
     `micro_batch_tokens // row_tokens` rows whose gradients accumulate; the loss is the mean over all
     learned tokens of the step, however they fall into micro-batches;
  3. AdamW (torch), a transformers scheduler, and LoRA from peft; with LoRA the adapter is saved and, by
     default, merged into the weights (`merge_and_unload`) so later scoring sees a plain model;
  4. the stopping rules (`icft.learn.finetune.stopping`): an epoch whose loss rose above the best epoch's by more than
     DIVERGENCE_FACTOR has diverged: the best weights are restored at half the rate and training goes on; with
     `target_loss`, training stops at the end of the first epoch whose mean training loss is at most that ("train
     until learned"; `epochs` is then the cap), or earlier when the epoch loss has gone flat ("learned or flat");
     with `recall_target`, it stops instead when recall probes built from the training data (the documents'
     sentences and held-out augmentations) are answered (`icft.learn.finetune.recall`); the result records the epoch
     losses, the divergences, why it stopped and whether the criterion was met (`FinetuneResult.summary`);
  5. `loaded.model` is replaced by the trained model; `out_dir` gets the weights (`model/`) or adapter
     (`adapter/`) as safetensors, `training_curve.json` and `finetune_config.json`.

The loop runs through accelerate's `Accelerator`, so on one CPU or GPU a plain call just works, and the
same code runs data-parallel when its script is started by a distributed launcher:
    accelerate launch --multi_gpu --num_processes 4 my_study.py           # DDP on 4 GPUs
    accelerate launch --use_fsdp --num_processes 4 my_study.py           # FSDP
    ACCELERATE_USE_CPU=true torchrun --nproc_per_node 2 my_study.py      # DDP on CPU (gloo)
Each process takes every n-th row of a step; a process with no row left runs a row with no labels, so every
process joins every gradient all-reduce (bf16 is the `precision` setting below, not accelerate's
`--mixed_precision`). The loss is normalized by the learned tokens of all processes, so
a run on 2 CPU processes gives the losses of the same run on one (checked to 1e-6, full and LoRA).

Mixed precision (`precision` bf16; "auto" picks it where the hardware multiplies bf16 natively): the forward
runs under `torch.autocast`, so matrix products take bf16 inputs, while the weights, the LoRA parameters, their
gradients and the optimizer state stay fp32, and the LM head computes the logits in fp32, so the loss is fp32
from end to end. Casting the *weights* to bf16 instead does not train like fp32: an update smaller than half a
bf16 step of its weight (2^-9 of it) rounds away, so full fine-tuning at lr 1e-4 all but stalls. What makes bf16
fast on a CPU (frozen weights cast once, eager attention, compiled decoder layers: the `compile` setting) is in
`icft.learn.finetune.speedups`; none of it changes what the fit computes beyond float rounding.

An example longer than `row_tokens` is an `IcftError` (not truncated: truncation would silently drop facts).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import random
import shutil
import time
from importlib.metadata import version
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F

from icft.errors import IcftError
from icft.jsonl import write_text_atomic
from icft.learn.distill.teacher import TeacherTargets
from icft.learn.examples import TrainingExample
from icft.learn.finetune.config import LR_SCHEDULES, FinetuneConfig
from icft.learn.finetune.packing import IGNORE, TokenizedExample, collate_rows, pack_rows, tokenize_examples
from icft.learn.finetune.recall import hold_out_probes, recall_rate
from icft.learn.finetune.result import FinetuneResult, StepLog, StepTotals
from icft.learn.finetune.stopping import MAX_RESTORES, BestWeights, diverged, verdict
from icft.learn.finetune.speedups import decoder_layer_classes, resolve_compile, training_speedups
from icft.models import LoadedModel
from icft.models.device import checked_precision, resolve_precision


def finetune(
    loaded: LoadedModel,
    examples: Sequence[TrainingExample],
    config: FinetuneConfig,
    out_dir: str | Path | None = None,
    progress: bool = True,
    teacher: TeacherTargets | None = None,
) -> FinetuneResult:
    """Train `loaded.model` on `examples` and put the trained model back into `loaded.model`.

    With `teacher` (context distillation, `icft.learn.distill`), each learned token's loss is the KL to the
    teacher's distribution there instead of the next-token loss; all else is the same loop."""
    from accelerate import Accelerator
    from transformers import get_scheduler

    if not examples:
        raise IcftError("no training examples: give finetune at least one document or sentence")
    # --- setup -----------------------------------------------------------------------------------------
    # training runs where the model was loaded: on a GPU machine a CPU-loaded model stays on the CPU, so a
    # study's fine-tuned cells are scored on the same device as its others
    accelerator = Accelerator(cpu=loaded.device.type == "cpu")
    # a study's cell plan resolved "auto" already (`icft.study.cells`); a setting is resolved once
    precision = (resolve_precision("auto", loaded.device) if config.precision == "auto"
                 else checked_precision(config.precision, loaded.device))
    config = dataclasses.replace(config, precision=precision)
    torch.manual_seed(config.seed)  # LoRA initialization and dropout
    if teacher is not None and config.recall_target is not None:  # probes held out would shift the targets
        raise IcftError("recall_target does not apply to a distilled fit: stop it by epochs or target_loss")
    examples, probes = _recall_probes(examples, config)
    tokenized = tokenize_examples(examples, loaded.tokenizer)
    if teacher is not None:
        teacher.check([e.loss_tokens for e in tokenized])
    epochs = plan_epochs([len(e) for e in tokenized], config)
    n_steps = sum(len(epoch) for epoch in epochs)
    dtype = next(loaded.model.parameters()).dtype  # before the speedups cast any frozen weight
    model = _trainable_model(loaded.model, config)
    compile_layers = resolve_compile(config.compile, config.precision, loaded.device, n_steps,
                                     decoder_layer_classes(loaded.model))
    # bf16's fp32 head and frozen bf16 weights, the attention kernel, compiled layers: undone when the block ends
    with training_speedups(model, loaded.model, config.precision, compile_layers, loaded.device) as applied:
        optimizer = _optimizer(model, config, accelerator.device)
        model, optimizer = accelerator.prepare(model, optimizer)
        # not prepared: accelerate would step it once per process, but our steps are already global
        scheduler = get_scheduler(LR_SCHEDULES[config.lr_schedule], optimizer, num_warmup_steps=config.warmup_steps,
                                  num_training_steps=n_steps)
        run = _Training(accelerator, model, optimizer, scheduler, tokenized, config, (applied.attention, dtype),
                        teacher)
        result = run.train(epochs, loaded.tokenizer, probes, progress and accelerator.is_local_main_process)
    model.eval()
    # --- save --------------------------------------------------------------------------------------------
    out = Path(out_dir) if out_dir is not None else None
    loaded.model = _finish_model(accelerator, model, loaded, config, out)
    result = dataclasses.replace(result, out_dir=out, compiled=applied.compiled_layers > 0,
                                 recall_probes=len(probes))
    if out is not None and accelerator.is_main_process:
        _write_records(out, result, loaded, config, len(examples))
    return result


def _recall_probes(examples: Sequence[TrainingExample], config: FinetuneConfig):
    """The examples to train on and, with `recall_target`, the recall probes held out of them (built from the
    training examples alone: never a test item)."""
    if config.recall_target is None:
        return examples, []
    examples, probes = hold_out_probes(examples, config.seed)
    if not probes:
        raise IcftError("recall_target needs sentences to probe: the training examples have no sentence with a "
                        "content word after its start")
    return examples, probes


class _Training:
    """The training epochs of one fit: each epoch's steps, then the stopping rules (`icft.learn.finetune.stopping`)."""

    def __init__(self, accelerator, model, optimizer, scheduler, tokenized: list[TokenizedExample],
                 config: FinetuneConfig, attention: tuple, teacher: TeacherTargets | None = None):
        self.accelerator, self.model, self.optimizer, self.scheduler = accelerator, model, optimizer, scheduler
        self.tokenized, self.config, self.attention, self.teacher = tokenized, config, attention, teacher

    def train(self, epochs: list[list[list[list[int]]]], tokenizer, probes: list, progress: bool) -> FinetuneResult:
        config, model = self.config, self.model
        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        curve: list[StepLog] = []
        epoch_losses: list[float] = []  # on the world's own text: what the stopping rule reads
        all_data_losses: list[float] = []  # with the augmentations too (only when there are any)
        recalls: list[float] = []  # with `recall_target`: each epoch's recall rate, what that rule reads
        n_steps = sum(len(epoch) for epoch in epochs)
        stopped_by = "max_steps" if config.max_steps is not None and config.max_steps < n_steps else "epochs"
        best = BestWeights(model)  # what a divergence goes back to (`icft.learn.finetune.stopping`)
        restores: list[int] = []
        model.train()
        start = time.perf_counter()
        bar = _progress_bar(n_steps, enabled=progress)
        for epoch in epochs:
            totals = self._epoch(epoch, pad_id, curve, start, bar)
            epoch_losses.append(totals.own_text_loss)
            if totals.augmentation_learned:
                all_data_losses.append(totals.loss)
            # a diverged epoch is broken, not flat: back to the best weights, at a lower rate; no rule reads it
            if diverged(epoch_losses[-1], best.loss):
                restores.append(len(epoch_losses))
                best.restore(self.optimizer, self.scheduler)
                if len(restores) > MAX_RESTORES:
                    stopped_by = "diverged"
                    break
                continue
            best.offer(epoch_losses[-1], len(epoch_losses))
            if config.recall_target is not None:
                with torch.autocast(self.accelerator.device.type, dtype=torch.bfloat16,
                                    enabled=config.precision == "bf16"):
                    recalls.append(recall_rate(model, tokenizer, probes))
            stop = verdict(config, epoch_losses, restores, recalls)
            if stop is not None:
                stopped_by = stop
                break
        bar.close()
        kept = best.epoch if restores and restores[-1] == len(epoch_losses) else len(epoch_losses)
        return FinetuneResult(len(curve), sum(log.tokens for log in curve), time.perf_counter() - start, curve,
                              epochs=len(epoch_losses), epoch_losses=epoch_losses, stopped_by=stopped_by,
                              target_loss=config.target_loss, epoch_losses_with_augmentations=all_data_losses,
                              precision=config.precision, recall_target=config.recall_target,
                              epoch_recalls=recalls, restores=restores, kept_epoch=kept)

    def _epoch(self, epoch: list[list[list[int]]], pad_id: int, curve: list[StepLog], start: float,
               bar) -> StepTotals:
        """One epoch's optimizer steps, logged in `curve`; returns the epoch's summed totals."""
        totals = StepTotals()
        for rows in epoch:
            learning_rate = self.scheduler.get_last_lr()[0]
            step = _train_step(self.accelerator, self.model, self.tokenized, rows, self.config, pad_id,
                               self.attention, self.teacher)
            self.optimizer.step()
            self.scheduler.step()
            self.optimizer.zero_grad(set_to_none=True)
            curve.append(StepLog(len(curve) + 1, step.loss, learning_rate, step.real_tokens,
                                 time.perf_counter() - start))
            totals += step
            bar.set_postfix(loss=f"{step.loss:.4f}")
            bar.update()
        return totals


def plan_steps(lengths: Sequence[int], config: FinetuneConfig) -> list[list[list[int]]]:
    """Every optimizer step the run may take (the cap): steps -> rows -> example indices."""
    return [rows for epoch in plan_epochs(lengths, config) for rows in epoch]


def plan_epochs(lengths: Sequence[int], config: FinetuneConfig) -> list[list[list[list[int]]]]:
    """The steps of each epoch, up to the `epochs` cap and cut at `max_steps`: epochs -> steps -> rows -> examples.

    Each epoch shuffles the examples, packs them into rows and shuffles the rows, all with one
    `random.Random(seed)`; a step takes the next `batch_tokens // row_tokens` rows of its epoch. With
    `batch_examples`, each epoch's shuffled examples are cut into steps of that many, each packed on its own.
    The plan does not depend on `target_loss`: a run that stops early took a prefix of it.
    """
    rng = random.Random(config.seed)
    rows_per_step = config.batch_tokens // config.row_tokens
    epochs: list[list[list[list[int]]]] = []
    budget = config.max_steps if config.max_steps is not None else math.inf
    for _ in range(config.epochs):
        order = list(range(len(lengths)))
        rng.shuffle(order)
        steps: list[list[list[int]]] = []
        if config.batch_examples is not None:
            for at in range(0, len(order), config.batch_examples):
                chunk = order[at : at + config.batch_examples]
                steps.append([[chunk[i] for i in row] for row in pack_rows([lengths[i] for i in chunk],
                                                                             config.row_tokens)])
        else:
            rows = [[order[i] for i in row] for row in pack_rows([lengths[i] for i in order], config.row_tokens)]
            rng.shuffle(rows)
            steps = [rows[at : at + rows_per_step] for at in range(0, len(rows), rows_per_step)]
        steps = steps[: max(0, budget - sum(len(e) for e in epochs))] if budget < math.inf else steps
        if steps:
            epochs.append(steps)
    return epochs


def _trainable_model(model: torch.nn.Module, config: FinetuneConfig) -> torch.nn.Module:
    """The model itself (every weight trains) or a peft LoRA wrapper (only the adapter trains)."""
    if not config.lora:
        return model.requires_grad_(True)
    from peft import LoraConfig, get_peft_model

    lora = LoraConfig(
        r=config.lora_rank,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=list(config.lora_targets),
        task_type="CAUSAL_LM",
    )
    try:
        return get_peft_model(model, lora)
    except ValueError as e:  # peft: none of the target modules exist in this model
        raise IcftError(f"LoRA cannot wrap this model ({e}): set lora_targets to its linear layers' names") from None


def _optimizer(model: torch.nn.Module, config: FinetuneConfig, device: torch.device) -> torch.optim.Optimizer:
    """AdamW; weight decay on matrices only (not on norms and biases), as is usual for transformers.

    The fused kernel (CPU and CUDA; also the Trainer's default) takes a 135M-parameter step in a sixth of the
    time of the default multi-tensor one on CPU.
    """
    trainable = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in trainable if p.ndim >= 2], "weight_decay": config.weight_decay},
        {"params": [p for p in trainable if p.ndim < 2], "weight_decay": 0.0},
    ]
    fused = device.type in ("cpu", "cuda")
    return torch.optim.AdamW([g for g in groups if g["params"]], lr=config.learning_rate, fused=fused)


def _train_step(accelerator, model, tokenized: list[TokenizedExample], rows: list[list[int]],
                config: FinetuneConfig, pad_id: int, attention: tuple,
                teacher: TeacherTargets | None = None) -> StepTotals:
    """Forward and backward over this process's rows of one step, clip; returns the step's totals (the loss is the
    next-token loss, or with `teacher` the distillation loss of `TeacherTargets.token_losses`)."""
    world, rank = accelerator.num_processes, accelerator.process_index
    mine = rows[rank::world]
    rows_per_micro = config.micro_batch_tokens // config.row_tokens
    micro_batches = math.ceil(math.ceil(len(rows) / world) / rows_per_micro)  # the same on every process
    # the step's learned tokens, and those of augmentation examples, counted once here from the examples: the
    # total normalizes the loss before any backward, and both are the step's counts in its totals
    examples = [tokenized[i] for row in mine for i in row]
    learned_here = [sum(e.loss_tokens for e in examples), sum(e.loss_tokens for e in examples if e.augmentation)]
    learned_total, augmentation_learned = (int(n) for n in _sum_over_processes(accelerator, learned_here))
    learned_all = max(learned_total, 1)
    # loss sum and its part on augmentation tokens; real tokens
    sums, real_tokens = torch.zeros(2, dtype=torch.float64, device=accelerator.device), 0
    for m in range(micro_batches):
        chunk_rows = mine[m * rows_per_micro : (m + 1) * rows_per_micro]
        chunk = [[tokenized[i] for i in row] for row in chunk_rows]
        batch = collate_rows(chunk or [[_no_label_example(pad_id)]], pad_id).to(accelerator.device)
        # gradients are all-reduced once per step, on the last micro-batch
        sync = contextlib.nullcontext() if m == micro_batches - 1 else accelerator.no_sync(model)
        with sync:
            targets = batch.targets  # (B, T)
            learned = targets != IGNORE  # (B, T)
            # logits only where there is a target: no vocabulary projection for prompts, padding, last tokens
            # (a 2-D bool `logits_to_keep` selects hidden[learned], in the order of targets[learned])
            with torch.autocast(accelerator.device.type, dtype=torch.bfloat16, enabled=config.precision == "bf16"):
                logits = model(**batch.model_inputs(*attention), logits_to_keep=learned).logits  # (N, V)
            if teacher is None:
                token_losses = F.cross_entropy(logits.float(), targets[learned], reduction="none")  # (N,)
            else:  # the packed rows hold their examples' learned tokens in row order: so does the teacher's cat
                token_losses = teacher.token_losses(logits, targets[learned], [i for row in chunk_rows for i in row],
                                                    ~batch.augmentation_targets[learned])
            summed = token_losses.sum()
            # DDP averages gradients over processes; scaling by `world` makes that the mean over all tokens
            accelerator.backward(summed * world / learned_all)
        augmentation = batch.augmentation_targets[learned]  # (N,)
        sums += torch.stack([summed.detach(), token_losses.detach()[augmentation].sum()]).double()
        real_tokens += batch.real_tokens if chunk else 0
    if config.grad_clip > 0:
        accelerator.clip_grad_norm_(model.parameters(), config.grad_clip)
    if accelerator.num_processes > 1:
        sums = accelerator.reduce(sums, reduction="sum")
    loss_sum, augmentation_loss_sum = sums.tolist()
    return StepTotals(loss_sum, learned_total, augmentation_loss_sum, augmentation_learned,
                      int(_sum_over_processes(accelerator, real_tokens)))


def _no_label_example(pad_id: int) -> TokenizedExample:
    return TokenizedExample((pad_id,), (IGNORE,))


def _sum_over_processes(accelerator, value):
    """A number, or a list of numbers, summed over the processes (one all-reduce)."""
    tensor = torch.as_tensor(value, dtype=torch.float64, device=accelerator.device)
    if accelerator.num_processes > 1:
        tensor = accelerator.reduce(tensor, reduction="sum")
    return tensor.tolist()


def _progress_bar(total: int, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="fine-tuning", unit="step", disable=not enabled, leave=False)


def _finish_model(accelerator, model, loaded: LoadedModel, config: FinetuneConfig, out: Path | None):
    """Save the weights or adapter, then unwrap (and merge LoRA) into the model later code scores."""
    accelerator.wait_for_everyone()
    unwrapped = accelerator.unwrap_model(model)
    if out is not None and config.save_weights:
        target = out / ("adapter" if config.lora else "model")
        # written beside, then renamed: a full disk or a kill never leaves half a model for a rerun to reuse
        partial = out / f".{target.name}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        state = accelerator.get_state_dict(model)  # gathers FSDP shards; the plain state dict otherwise
        unwrapped.save_pretrained(partial, is_main_process=accelerator.is_main_process, state_dict=state)
        if accelerator.is_main_process:
            if not config.lora:
                loaded.tokenizer.save_pretrained(partial)
            shutil.rmtree(target, ignore_errors=True)
            partial.rename(target)
    if config.lora and config.merge_lora:
        # a plain model again; peft froze the base weights, so thaw them as a freshly loaded model is
        unwrapped = unwrapped.merge_and_unload().requires_grad_(True)
    return unwrapped.eval()


def _write_records(out: Path, result: FinetuneResult, loaded: LoadedModel, config: FinetuneConfig,
                   examples: int) -> None:
    curve = {"steps": [dataclasses.asdict(log) for log in result.curve], "seconds": result.seconds,
             "tokens_trained": result.tokens_trained}
    write_text_atomic(out / "training_curve.json", json.dumps(curve, indent=1) + "\n")
    record = {
        "config": config.to_dict(),
        "model": loaded.name,
        "examples": examples,
        "steps": result.steps,
        "stopping": result.summary(),
        "versions": {name: version(name) for name in ("icft", "torch", "transformers", "peft", "accelerate")},
    }
    write_text_atomic(out / "finetune_config.json", json.dumps(record, indent=1) + "\n")
