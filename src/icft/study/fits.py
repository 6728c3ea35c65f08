"""The fine-tuned side of a study's cells: their augmentations, their training examples, the fitted model, and
the learned check each fit's record keeps.

A fit is keyed by its cell's run id (`CellPlan.run_id`): its record in the store's `fits` table (steps, tokens,
seconds, losses, the stopping rule and whether it was met, then its control-split accuracy) and its folder
under `finetune/` (`icft.store.layout.finetune_folder`).
"""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console

from icft.evaluate.learned import SeedCheck, passes, rates_line, seed_check_from_rows
from icft.jsonl import write_text_atomic
from icft.store import ResultsStore
from icft.store.layout import augment_file, distill_folder, generation_cache
from icft.study.augmentations import generator_source, oracle_file
from icft.study.cells import CellPlan
from icft.study.config import StudyConfig
from icft.study.costs import TRAIN
from icft.worlds.schema import World


class Fits:
    """Fits a study's fine-tuned cells; `runner` is the study (`icft.study.grid.Study`): its unmodified model,
    shared with the augmentations' generator, and its timing records."""

    def __init__(self, runner):
        self.runner = runner
        self.config: StudyConfig = runner.config
        self.out: Path = runner.out
        self.console: Console = runner.console

    def model(self, plan: CellPlan, folder: Path, store: ResultsStore):
        """The cell's fine-tuned model: the weights an earlier run kept (`keep_weights`), or a fresh fit whose record
        goes in the store under the cell's run id."""
        import dataclasses

        from icft.learn.finetune import finetune
        from icft.models import load, load_finetuned

        kept = load_finetuned(folder, plan.cell.model, device=self.config.device)  # from an earlier run
        if kept is not None:
            self.console.print(f"reusing the fine-tuned weights kept in {folder}")
            return kept
        examples = self.examples(plan)
        config = dataclasses.replace(plan.finetune, save_weights=self.config.keep_weights)
        # fine-tuning changes the model in place: never train the shared base copy
        teacher = self.teacher(plan, examples) if plan.mode.distills else None
        fresh = load(plan.cell.model, device=self.config.device)
        self.console.print(f"fine-tuning {plan.label} on {len(examples)} examples")
        result = finetune(fresh, examples, config, out_dir=folder, teacher=teacher)
        # the report joins the fit's record with the run's control-split accuracy (the learned check)
        extra = {"teacher_seconds": teacher.seconds} if teacher is not None else {}
        store.add_fit(plan.run_id, plan.training, {**result.summary(), "examples": len(examples), **extra})
        self.runner.record_timing(store, plan.cell.model, TRAIN, result.tokens_trained, result.seconds)
        with_augmentations = result.epoch_losses_with_augmentations
        all_data = f" ({with_augmentations[-1]:.3f} with the augmentations)" if with_augmentations else ""
        self.console.print(f"trained {result.steps} steps ({result.epochs} epochs) to loss {result.final_loss:.3f} on "
                           f"the world's own text{all_data}: {result.stopping_line()}", highlight=False)
        write_text_atomic(folder / "cell.json", json.dumps({"cell": plan.label, "training": plan.training}, indent=1))
        return fresh

    def examples(self, plan: CellPlan) -> list:
        from icft.learn.finetune.training import mode_examples

        strategies = (*plan.mode.augmentations, *plan.mode.oracle)
        files = [self.augmentations(plan, strategy) for strategy in strategies]
        if "probes" in plan.mode.train_on:
            files.append(self.probes(plan))
        return mode_examples(plan.cell.mode, plan.world, self.config.split, files)

    def probes(self, plan: CellPlan) -> Path:
        """The probe transfer set of (world, seed, model, teacher context): prompts from the world's terms,
        continued by the teacher reading its context (`icft.learn.distill.probes`); written once."""
        from icft.learn.distill import teacher_contexts
        from icft.learn.distill.probes import write_probes
        from icft.learn.examples import TrainingExample

        loaded = self.runner.base_model(plan.cell.model)
        how = self.distill_settings(plan).context
        path = augment_file(self.out, plan.key, plan.cell.model, f"probes-{how}")
        if not path.exists():
            self.console.print(f"probes of {plan.key.world_ref}: {loaded.name} continues them after its {how} context")

        def contexts(prompts):
            return teacher_contexts(plan.world, [TrainingExample("", p) for p in prompts], how, loaded.tokenizer,
                                    plan.cell.seed, self.config.icl.subsample, self.config.icl.template)

        return write_probes(path, plan.world, loaded, contexts)

    def distill_settings(self, plan: CellPlan):
        """The cell's distillation settings: the study's [distill] with its world's own keys over them."""
        return self.config.distill.settings(plan.cell.world.distill)

    def teacher(self, plan: CellPlan, examples: list):
        """A distilled cell's teacher targets: the study's unmodified model reading each example after its context
        (`icft.learn.distill`), computed once per world, transfer set and settings (cached under distill/)."""
        from icft.evaluate.teacher import cached_teacher_targets
        from icft.learn.distill import teacher_contexts

        loaded = self.runner.base_model(plan.cell.model)
        settings = self.distill_settings(plan)
        contexts = teacher_contexts(plan.world, examples, settings.context, loaded.tokenizer, plan.cell.seed,
                                    self.config.icl.subsample, self.config.icl.template)
        self.console.print(f"teacher: {loaded.name} reading the {settings.context} context before {len(examples)} "
                           f"sequences of {plan.key.world_ref}", highlight=False)
        targets = cached_teacher_targets(distill_folder(self.out), loaded, examples, contexts, settings)
        if targets.seconds:
            self.console.print(f"teacher targets computed in {targets.seconds:.0f} s", highlight=False)
        return targets

    def augmentations(self, plan: CellPlan, strategy: str) -> Path:
        """The augmentation file of (world, seed, generator, strategy), generated once (cached, resumable)."""
        from icft.learn.augment import AugmentSettings, augment_world, make_generator

        if strategy.startswith("oracle-"):
            return oracle_file(self.out, plan.key, plan.world, strategy)
        spec = self.config.augment
        source = generator_source(spec, plan.cell.model)
        path = augment_file(self.out, plan.key, source.name, strategy)
        if path.exists():
            return path
        loaded = self.runner.base_model(source.model) if source.model else None  # the study's copy, not a second
        generator = make_generator(source, loaded=loaded)
        settings = AugmentSettings(max_new_tokens=spec.max_new_tokens, temperature=spec.temperature,
                                   seed=plan.cell.seed, cache_path=str(generation_cache(self.out)))
        self.console.print(f"augmenting {plan.key.world_ref} ({strategy}) with {generator.name}")
        result = augment_world(plan.world, generator, strategy, path, settings)
        self.console.print(result.describe(), highlight=False)
        return path

    def record_learned_check(self, store: ResultsStore, fit_id: str, world: World) -> None:
        """Add the fit's control-split accuracy (its learned check) to its record, beside how it trained."""
        stats = store.fit_stats(fit_id)
        check = self.print_learned_check(store.item_rows(fit_id), world)
        if stats is None or check is None:
            return
        store.add_fit(fit_id, store.fit_config(fit_id), {**stats, "control_correct": check.control_correct,
                                                          "control_n": check.control_n,
                                                          "control_accuracy": check.control_accuracy})

    def print_learned_check(self, rows, world: World) -> SeedCheck | None:
        """The run's learned check on the console (the report decides it again from the store, by the same rule)."""
        check = seed_check_from_rows(0, rows, world.control_splits)
        if not check.control_n:
            return None
        outcome = "passed" if passes(check.control_correct, check.control_n) else "FAILED"
        self.console.print(f"learned check: {check.control_correct}/{check.control_n} = {check.control_accuracy:.2f} "
                           f"on {', '.join(world.control_splits)}: {outcome} ({rates_line(check.control_n)})",
                           highlight=False)
        return check
