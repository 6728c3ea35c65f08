import json

import pytest
import torch

from icft.errors import IcftError
from icft.learn.examples import TrainingExample
from icft.learn.finetune import FinetuneConfig, finetune, plan_steps
from icft.learn.finetune.stopping import plateaued
from tiny_models import tiny_model

DOCS = [
    "femp are more dangerous than glon.",
    "All glon are yomp. All troff are glon.",
    "Did you know that the gruds are a type of abmes?",
    "hello world, this is a test.",
    "Abmes include gruds.",
    "Some blick are not dax.",
]
EXAMPLES = [TrainingExample("", doc) for doc in DOCS]
# one optimizer step sees every document once, so the losses of successive steps are comparable
SMALL = dict(row_tokens=64, micro_batch_tokens=64, batch_tokens=256, lr_schedule="constant")


def tiny_model_for_lora():
    """The tiny model with a wider output scale.

    A random model's logits are nearly flat (a unit final norm times 0.02-std embeddings), and LoRA can change
    neither, so without this the adapter has almost no room to lower the loss.
    """
    loaded = tiny_model()
    with torch.no_grad():
        loaded.model.model.norm.weight.fill_(4.0)
    return loaded


def test_full_finetuning_reduces_the_training_loss(tmp_path):
    loaded = tiny_model()
    result = finetune(loaded, EXAMPLES, FinetuneConfig(epochs=20, learning_rate=3e-3, **SMALL), tmp_path,
                      progress=False)
    losses = [loss for _, loss in result.loss_curve]
    assert result.steps == 20 and len(losses) == 20
    assert result.final_loss < losses[0] - 2.0
    assert result.tokens_trained == 20 * sum(len(loaded.tokenizer(d)["input_ids"]) + 1 for d in DOCS)
    assert (tmp_path / "model" / "model.safetensors").is_file()
    curve = json.loads((tmp_path / "training_curve.json").read_text())
    assert [row["loss"] for row in curve["steps"]] == losses
    record = json.loads((tmp_path / "finetune_config.json").read_text())
    assert record["config"]["learning_rate"] == 3e-3 and record["examples"] == len(DOCS)


def test_training_stops_at_the_first_epoch_whose_loss_meets_the_target(tmp_path):
    capped = FinetuneConfig(epochs=30, learning_rate=3e-3, **SMALL)  # one step per epoch (see SMALL)
    full = finetune(tiny_model(), EXAMPLES, capped, progress=False)
    epoch_losses = [loss for _, loss in full.loss_curve]
    assert full.epoch_losses == pytest.approx(epoch_losses) and full.stopped_by == "epochs"
    assert full.criterion_met is None  # no target: nothing to meet
    target = epoch_losses[9] + 1e-6  # reached first at epoch 10 (the loss falls steadily here)
    first = next(n for n, loss in enumerate(epoch_losses, start=1) if loss <= target)
    stopped = finetune(tiny_model(), EXAMPLES, FinetuneConfig(**{**capped.to_dict(), "target_loss": target}),
                       tmp_path, progress=False)
    # the same seed gives the same steps, so the stopped run is a prefix of the full one
    assert stopped.steps == stopped.epochs == first <= 10
    assert [loss for _, loss in stopped.loss_curve] == pytest.approx(epoch_losses[:first])
    assert stopped.stopped_by == "target_loss" and stopped.criterion_met is True
    record = json.loads((tmp_path / "finetune_config.json").read_text())["stopping"]
    assert record == json.loads(json.dumps(stopped.summary()))
    assert record["criterion_met"] and record["steps"] == first and record["final_loss"] <= target


def test_an_unreachable_target_stops_at_the_cap_and_says_it_was_not_met():
    result = finetune(tiny_model(), EXAMPLES, FinetuneConfig(epochs=3, target_loss=1e-4, **SMALL), progress=False)
    assert result.epochs == 3 and result.stopped_by == "epochs" and result.criterion_met is False
    assert result.summary()["criterion_met"] is False and result.summary()["target_loss"] == 1e-4


# Gemma3-270M LoRA on reversal_curse (target 0.3): down to a floor near 0.47, then 0.41-0.55 for 20 epochs
GEMMA_FLAT = [4.4, 1.67, 0.96, 0.70, 0.56, 0.48, 0.45, 0.41, 0.47, 0.52, 0.44, 0.55, 0.43, 0.49, 0.42, 0.50]
# SmolLM2 plain FT on reversals (target 0.2): a steady fall to 0.198 in 14 epochs
SMOLLM_STEADY = [6.15, 4.22, 2.95, 1.91, 1.14, 0.80, 0.62, 0.50, 0.41, 0.34, 0.29, 0.25, 0.22, 0.198]


@pytest.mark.parametrize(
    "losses, fires_at",
    [
        (GEMMA_FLAT, 12),  # 3+ epochs after its best (0.41 at epoch 8) without a 5% gain on it, and not falling
        (SMOLLM_STEADY, None),
        ([1.0 * 0.98**n for n in range(40)], None),  # 2% an epoch is slow but still falling
        ([0.6, 0.35, 0.28, 0.24, 0.21, 0.26, 0.23, 0.22, 0.25, 0.28, 0.21, 0.24], 8),  # FT-split near its floor
        ([5.0, 5.1, 5.2], None),  # no epochs before the window yet
        # SmolLM2 FT and FT-local on reversals (bf16, constant 2e-3): recovering from a spike is not flat
        ([5.91, 3.66, 2.54, 1.75, 1.17, 0.92, 0.62, 0.47, 0.42, 0.33, 0.32, 0.28, 0.47, 0.48, 0.37], None),
        ([5.06, 2.77, 1.82, 1.24, 1.01, 0.71, 0.56, 0.48, 0.38, 0.35, 1.00, 0.60, 0.48], None),
        ([1.0, 0.5, 0.3, 0.6, 0.55, 0.54], 6),  # ... but one that stops falling short of its best is
    ],
)
def test_the_plateau_rule_fires_on_a_flat_loss_and_never_on_a_steady_fall(losses, fires_at):
    fired = next((n for n in range(1, len(losses) + 1) if plateaued(losses[:n], 3, 0.05)), None)
    assert fired == fires_at


def test_a_flat_loss_stops_a_fit_with_a_target_as_plateau():
    flat = dict(epochs=12, learning_rate=1e-9, target_loss=1e-4, **SMALL)  # the loss cannot move
    result = finetune(tiny_model(), EXAMPLES, FinetuneConfig(**flat, plateau_window=2), progress=False)
    assert result.stopped_by == "plateau" and result.epochs == 3 and result.criterion_met is False
    assert result.summary()["stopped_by"] == "plateau"
    off = finetune(tiny_model(), EXAMPLES, FinetuneConfig(**{**flat, "epochs": 4}, plateau_window=0),
                   progress=False)
    untargeted = finetune(tiny_model(), EXAMPLES, FinetuneConfig(**{**flat, "epochs": 4, "target_loss": None}),
                          progress=False)
    assert off.stopped_by == untargeted.stopped_by == "epochs" and off.epochs == untargeted.epochs == 4


def test_epoch_loss_weighs_steps_by_their_learned_tokens():
    config = FinetuneConfig(epochs=2, learning_rate=1e-3, batch_examples=2, **SMALL)  # three steps an epoch
    result = finetune(tiny_model(), EXAMPLES, config, progress=False)
    lengths = [len(tiny_model().tokenizer(d)["input_ids"]) + 1 for d in DOCS]
    from icft.learn.finetune import plan_epochs

    epochs = plan_epochs(lengths, config)
    assert [len(e) for e in epochs] == [3, 3] and result.epochs == 2
    learned = [sum(lengths[i] - 1 for row in step for i in row) for step in epochs[0]]  # tokens after the first
    losses = [log.loss for log in result.curve[:3]]
    assert result.epoch_losses[0] == pytest.approx(sum(l * n for l, n in zip(losses, learned)) / sum(learned))


def test_the_stopping_rule_reads_the_loss_of_the_worlds_own_text_not_the_augmentations():
    # two repetitive augmentation sentences: easy to learn, so their loss pulls the all-data mean below the
    # documents' own; the augmentation flag changes what the rule reads, never what is trained
    easy = [TrainingExample("", "a a a a a a a a a a a a a a a a"), TrainingExample("", "b b b b b b b b b b b b b b")]
    augmented = [TrainingExample("", e.completion, augmentation=True) for e in easy]
    config = FinetuneConfig(epochs=12, learning_rate=3e-3, **SMALL)  # one step per epoch (see SMALL)
    result = finetune(tiny_model(), EXAMPLES + augmented, config, progress=False)
    counted = finetune(tiny_model(), EXAMPLES + easy, config, progress=False)  # the same data, all counted
    assert [log.loss for log in result.curve] == pytest.approx([log.loss for log in counted.curve])
    assert result.epoch_losses_with_augmentations == pytest.approx(counted.epoch_losses)
    assert not counted.epoch_losses_with_augmentations
    assert all(own > both + 0.1 for own, both in zip(result.epoch_losses, result.epoch_losses_with_augmentations))
    # the documents meet this target at the last epoch; all data would have met it earlier
    target = result.epoch_losses[-1] + 1e-6
    with_target = FinetuneConfig(**{**config.to_dict(), "target_loss": target})
    stopped = finetune(tiny_model(), EXAMPLES + augmented, with_target, progress=False)
    early = finetune(tiny_model(), EXAMPLES + easy, with_target, progress=False)
    first = next(n for n, loss in enumerate(result.epoch_losses, start=1) if loss <= target)
    assert stopped.stopped_by == "target_loss" and stopped.epochs == first == 12
    assert early.stopped_by == "target_loss" and early.epochs < first
    assert stopped.summary()["epoch_losses_with_augmentations"] == pytest.approx(
        result.epoch_losses_with_augmentations)


def test_lora_trains_only_the_adapter_and_saves_it(tmp_path):
    loaded = tiny_model_for_lora()
    base = {name: p.detach().clone() for name, p in loaded.model.named_parameters()}
    config = FinetuneConfig(epochs=20, learning_rate=1e-2, lora=True, lora_rank=8, merge_lora=False, **SMALL)
    result = finetune(loaded, EXAMPLES, config, tmp_path, progress=False)
    assert result.final_loss < result.loss_curve[0][1] - 2.0
    assert (tmp_path / "adapter" / "adapter_model.safetensors").is_file()
    assert not (tmp_path / "model").exists()
    wrapped = dict(loaded.model.get_base_model().named_parameters())
    lora = [name for name in wrapped if "lora_" in name]
    assert lora and all(wrapped[name].requires_grad for name in lora)
    for name, before in base.items():  # peft keeps the frozen weight as `<module>.base_layer.weight`
        key = name if name in wrapped else name.replace(".weight", ".base_layer.weight")
        assert torch.equal(wrapped[key], before), name


def test_merged_lora_scores_like_the_adapter_it_came_from():
    examples, tokens = EXAMPLES[:2], torch.tensor([[321, 266, 391, 306, 299]])
    config = FinetuneConfig(epochs=3, learning_rate=1e-2, lora=True, **SMALL)
    wrapped, merged = tiny_model_for_lora(), tiny_model_for_lora()
    finetune(wrapped, examples, FinetuneConfig(**{**config.to_dict(), "merge_lora": False}), progress=False)
    finetune(merged, examples, config, progress=False)
    assert not any("lora_" in name for name, _ in merged.model.named_parameters())
    with torch.no_grad():
        torch.testing.assert_close(merged.model(tokens).logits, wrapped.model(tokens).logits, atol=1e-4, rtol=1e-4)
        assert not torch.allclose(merged.model(tokens).logits, tiny_model_for_lora().model(tokens).logits, atol=1e-4)


def test_the_same_seed_gives_the_same_loss_curve_and_another_seed_does_not():
    config = FinetuneConfig(epochs=4, learning_rate=3e-3, row_tokens=32, micro_batch_tokens=32, batch_tokens=64)
    first = finetune(tiny_model(), EXAMPLES, config, progress=False).loss_curve
    again = finetune(tiny_model(), EXAMPLES, config, progress=False).loss_curve
    other = finetune(tiny_model(), EXAMPLES, FinetuneConfig(**{**config.to_dict(), "seed": 1}), progress=False)
    assert first == again
    assert other.loss_curve != first


def test_plan_covers_each_example_once_per_epoch_and_stops_at_max_steps():
    lengths = [10, 20, 30, 5, 25, 12, 8, 40]
    config = FinetuneConfig(epochs=3, row_tokens=50, micro_batch_tokens=50, batch_tokens=100)
    plan = plan_steps(lengths, config)
    seen = sorted(i for step in plan for row in step for i in row)
    assert seen == sorted(list(range(len(lengths))) * 3)
    assert all(len(step) <= 2 and all(sum(lengths[i] for i in row) <= 50 for row in step) for step in plan)
    assert plan == plan_steps(lengths, config)
    capped = plan_steps(lengths, FinetuneConfig(**{**config.to_dict(), "max_steps": 2}))
    assert capped == plan[:2]


def test_a_batch_in_examples_takes_the_same_steps_whatever_the_lengths():
    short, long = [10, 20, 30, 5, 25, 12, 8, 40], [40, 45, 30, 35, 45, 42, 38, 44]
    for lengths in (short, long):
        plan = plan_steps(lengths, FinetuneConfig(epochs=2, row_tokens=50, micro_batch_tokens=50, batch_tokens=50,
                                                  batch_examples=3))
        assert [sum(len(row) for row in step) for step in plan] == [3, 3, 2] * 2  # examples per step
        assert sorted(i for step in plan[:3] for row in step for i in row) == list(range(8))
        assert all(sum(lengths[i] for i in row) <= 50 for step in plan for row in step)


def test_an_example_longer_than_a_row_stops_before_training():
    config = FinetuneConfig(row_tokens=8, micro_batch_tokens=8, batch_tokens=8)
    with pytest.raises(IcftError, match="raise row_tokens"):
        finetune(tiny_model(), EXAMPLES, config, progress=False)


@pytest.mark.parametrize(
    "values, field",
    [
        ({"epochs": 0}, "epochs"),
        ({"epochs": 1.5}, "epochs"),
        ({"max_steps": 0}, "max_steps"),
        ({"batch_examples": 0}, "batch_examples"),
        ({"batch_examples": 2.5}, "batch_examples"),
        ({"learning_rate": -1e-4}, "learning_rate"),
        ({"learning_rate": "fast"}, "learning_rate"),
        ({"lr_schedule": "step"}, "lr_schedule"),
        ({"warmup_steps": -1}, "warmup_steps"),
        ({"batch_tokens": 1000}, "batch_tokens"),
        ({"micro_batch_tokens": 1536, "batch_tokens": 2048}, "batch_tokens"),
        ({"weight_decay": -0.1}, "weight_decay"),
        ({"lora": "yes"}, "lora"),
        ({"lora_rank": 0}, "lora_rank"),
        ({"lora_dropout": 1.0}, "lora_dropout"),
        ({"lora_targets": []}, "lora_targets"),
        ({"lora_targets": "q_proj"}, "lora_targets"),
        ({"precision": "fp16"}, "precision"),
        ({"precision": None}, "precision"),
        ({"plateau_window": -1}, "plateau_window"),
        ({"plateau_window": 2.5}, "plateau_window"),
        ({"plateau_window": None}, "plateau_window"),
        ({"plateau_tolerance": 1.0}, "plateau_tolerance"),
        ({"plateau_tolerance": -0.01}, "plateau_tolerance"),
    ],
)
def test_bad_config_values_name_their_field(values, field):
    with pytest.raises(ValueError, match=field):
        FinetuneConfig(**values)


def test_each_steps_loss_and_counts_match_the_examples_learned_tokens_across_micro_batches():
    """The step's learned tokens (all, and of augmentations) are counted once, from the examples: with a rate too
    small to move the weights, every step's loss and both epoch losses equal those computed example by example."""
    import torch.nn.functional as F

    from icft.learn.finetune import plan_epochs
    from icft.learn.finetune.packing import IGNORE, tokenize_examples

    examples = EXAMPLES + [TrainingExample("Q:", " a a a a b b", augmentation=True),
                           TrainingExample("", "c c c c c c c c", augmentation=True)]
    # rows of 32 tokens, one row a micro-batch, four a step: every step spans several micro-batches
    config = FinetuneConfig(epochs=1, learning_rate=1e-12, row_tokens=32, micro_batch_tokens=32, batch_tokens=128,
                            lr_schedule="constant")
    loaded = tiny_model()
    tokenized = tokenize_examples(examples, loaded.tokenizer)
    sums, counts = [], []
    with torch.no_grad():
        for example in tokenized:
            logits = loaded.model(torch.tensor([example.input_ids])).logits[0, :-1]  # (T-1, V)
            targets = torch.tensor(example.labels[1:])
            learned = targets != IGNORE
            sums.append(F.cross_entropy(logits[learned], targets[learned], reduction="sum").item())
            counts.append(example.loss_tokens)
    assert counts == [int(learned.sum()) for learned in (torch.tensor(e.labels) != IGNORE for e in tokenized)]
    steps = plan_epochs([len(e) for e in tokenized], config)[0]
    assert all(len(rows) > 1 for rows in steps)
    result = finetune(tiny_model(), examples, config, progress=False)
    expected = [sum(sums[i] for row in rows for i in row) / sum(counts[i] for row in rows for i in row)
                for rows in steps]
    assert [log.loss for log in result.curve] == pytest.approx(expected, rel=1e-4)
    own = [i for i, e in enumerate(tokenized) if not e.augmentation]
    assert result.epoch_losses == pytest.approx([sum(sums[i] for i in own) / sum(counts[i] for i in own)], rel=1e-4)
    assert result.epoch_losses_with_augmentations == pytest.approx([sum(sums) / sum(counts)], rel=1e-4)


def test_a_diverged_fit_goes_back_to_its_best_weights_and_is_never_read_as_a_plateau(tmp_path):
    """At a rate far too high the loss blows up: each diverged epoch restores the best weights at half the rate
    (`icft.learn.finetune.stopping`), no stopping rule reads it, and the fit ends on weights whose loss stood."""
    from icft.learn.finetune.stopping import DIVERGENCE_FACTOR, MAX_RESTORES

    wild = FinetuneConfig(epochs=12, learning_rate=0.3, target_loss=1e-4, grad_clip=0.0, **SMALL)
    result = finetune(tiny_model(), EXAMPLES, wild, tmp_path, progress=False)
    losses = result.epoch_losses
    assert result.restores, losses  # it did diverge
    for epoch in result.restores:  # each restore followed a loss above the best before it by the factor
        assert losses[epoch - 1] > DIVERGENCE_FACTOR * min(losses[: epoch - 1]) or losses[epoch - 1] != losses[epoch - 1]
    assert result.stopped_by != "plateau" or result.restores[-1] < result.epochs - 3
    assert result.kept_epoch not in result.restores
    standing = [loss for n, loss in enumerate(losses, start=1) if n not in result.restores]
    assert result.kept_loss <= DIVERGENCE_FACTOR * min(standing)
    summary = json.loads((tmp_path / "finetune_config.json").read_text())["stopping"]
    assert summary["diverged"] is True and summary["restores"] == result.restores
    assert summary["kept_loss"] == result.kept_loss and summary["divergence_factor"] == DIVERGENCE_FACTOR
    restored = ", ".join(str(e) for e in result.restores)
    assert result.stopping_line().endswith(f"(epoch {restored}): best weights restored")  # what the console says
    if result.stopped_by == "diverged":
        assert len(result.restores) == MAX_RESTORES + 1 and result.kept_epoch < result.epochs


def test_the_scored_weights_are_the_best_epochs_when_the_last_epoch_diverged():
    """A fit whose last epoch diverged ends on its best epoch's weights: scoring them gives that epoch's loss
    level, not the spike's."""
    from icft.learn.finetune.stopping import BestWeights

    loaded = tiny_model()
    model = loaded.model
    best = BestWeights(model)
    best.offer(1.0, 1)
    kept = {n: p.detach().clone() for n, p in model.named_parameters()}
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)  # the spike
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    optimizer.state[next(model.parameters())]["exp_avg"] = torch.zeros(1)
    best.offer(5.0, 2)  # worse: not kept
    best.restore(optimizer, scheduler)
    assert all(torch.equal(p, kept[n]) for n, p in model.named_parameters())
    assert not optimizer.state and optimizer.param_groups[0]["lr"] == pytest.approx(5e-4)
    assert scheduler.base_lrs == [pytest.approx(5e-4)] and best.epoch == 1


@pytest.mark.parametrize(
    "fit, says",
    [
        ({"stopped_by": "target_loss", "target_loss": 0.2, "criterion_met": True}, "loss ≤ 0.2"),
        ({"stopped_by": "epochs", "target_loss": 0.2, "criterion_met": False}, "epoch cap, loss > 0.2"),
        ({"stopped_by": "target_loss", "target_loss": 0.2, "criterion_met": True, "restores": [4]},
         "loss ≤ 0.2, 1 divergence (epoch 4): best weights restored"),
        ({"stopped_by": "diverged", "target_loss": 0.2, "criterion_met": False, "restores": [3, 5, 6, 8]},
         "diverged, loss > 0.2, 4 divergences (epoch 3, 5, 6, 8): best weights restored"),
        ({"stopped_by": "recall", "recall_target": 0.9, "epoch_recalls": [0.5, 0.92], "criterion_met": True},
         "recall 0.92 ≥ 0.9"),
    ],
)
def test_a_fits_table_says_how_each_fit_stopped(fit, says):
    from icft.learn.finetune.stopping import describe
    from icft.store import FitRecord

    assert describe(FitRecord.from_stats(fit)) == says
