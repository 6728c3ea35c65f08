"""The recall stopping rule: probes from the training data only, the rate, and a fit that stops by it."""

import json

import pytest
import torch

import icft.learn.finetune.loop as finetune_module
from icft.learn.examples import TrainingExample, document_examples
from icft.learn.finetune import FinetuneConfig, finetune
from icft.learn.finetune.recall import HELD_OUT, RecallProbe, hold_out_probes, recall_rate, sentence_probe
from icft.learn.finetune.stopping import recall_plateaued
from tiny_models import tiny_model

DOCS = ["Dana Quist manages the Oslo office.", "Femp are more dangerous than glon.", "All troff are yomp.",
        "The gruds are a type of abmes."]
SMALL = dict(row_tokens=64, micro_batch_tokens=64, batch_tokens=256, lr_schedule="constant")


def test_a_probe_asks_the_final_content_word_of_its_sentence():
    assert sentence_probe("Dana Quist manages the Oslo office.") == RecallProbe("Dana Quist manages the Oslo",
                                                                                " office")
    assert sentence_probe("Femp are more dangerous than glon.") == RecallProbe("Femp are more dangerous than", " glon")
    assert sentence_probe("It is the one.") == RecallProbe("It is the", " one")
    assert sentence_probe("Oslo.") is None  # nothing before the word to recall it from
    assert sentence_probe("It is.") is None  # no content word


def test_the_documents_sentences_and_held_out_augmentations_are_the_probes():
    augmentations = [TrainingExample("", f"Rephrasing {n}: the manager of the Oslo office is Dana{n}.", True)
                     for n in range(10)]
    examples = [TrainingExample("", d) for d in DOCS] + augmentations
    train, probes = hold_out_probes(examples, seed=0)
    held = [e for e in augmentations if e not in train]
    assert len(held) == round(HELD_OUT * 10) and all(TrainingExample("", d) in train for d in DOCS)
    # the documents' statements as written (what the learned check asks), then the rephrasings left out of training
    assert [p.prefix + p.target for p in probes] == [d.rstrip(".") for d in DOCS] + [
        e.completion.rstrip(".") for e in held]
    assert hold_out_probes(examples, seed=0) == (train, probes)  # deterministic in the seed
    # without augmentations every example trains and the documents' sentences are asked
    plain, asked = hold_out_probes([TrainingExample("", d) for d in DOCS], seed=0)
    assert len(plain) == len(DOCS) and [p.target for p in asked] == [" office", " glon", " yomp", " abmes"]


def test_the_recall_rate_is_the_share_of_probes_whose_word_is_the_argmax():
    loaded = tiny_model()
    probe = RecallProbe("Dana Quist manages the Oslo", " office")
    ids = loaded.tokenizer(probe.prefix + probe.target, add_special_tokens=False)["input_ids"]
    width = len(loaded.tokenizer(probe.prefix, add_special_tokens=False)["input_ids"])
    with torch.no_grad():  # a model whose every prediction is the probe's own next token
        logits = torch.full((1, len(ids), loaded.model.config.vocab_size), -10.0)
        for t in range(len(ids) - 1):
            logits[0, t, ids[t + 1]] = 10.0

    class Knows(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.zeros(1))

        def forward(self, input_ids, attention_mask):
            return type("Out", (), {"logits": logits[:, : input_ids.shape[1]].expand(input_ids.shape[0], -1, -1)})

    assert width < len(ids)
    assert recall_rate(Knows(), loaded.tokenizer, [probe]) == 1.0
    wrong = RecallProbe(probe.prefix, " glon")
    assert recall_rate(Knows(), loaded.tokenizer, [probe, wrong]) == 0.5
    assert recall_plateaued([0.2, 0.5, 0.5, 0.4, 0.5], 3) and not recall_plateaued([0.2, 0.5, 0.5, 0.6], 3)
    assert not recall_plateaued([0.0] * 6, 3)  # nothing recalled yet: still learning, not flat


def test_a_fit_with_a_recall_target_stops_by_recall_and_records_it(tmp_path):
    # the augmentations restate the documents, so a fit that learned them recalls the held-out ones
    examples = [TrainingExample("", d) for d in DOCS] + [TrainingExample("", d, True) for d in DOCS * 2]
    config = FinetuneConfig(epochs=60, learning_rate=3e-3, recall_target=0.75, plateau_window=0, **SMALL)
    result = finetune(tiny_model(), examples, config, tmp_path, progress=False)
    assert result.stopped_by == "recall" and result.epochs < 60 and result.criterion_met is True
    assert result.epoch_recalls[-1] >= 0.75 and all(r < 0.75 for r in result.epoch_recalls[:-1])
    record = json.loads((tmp_path / "finetune_config.json").read_text())["stopping"]
    assert record["stopped_by"] == "recall" and record["recall_target"] == 0.75 and record["recall_probes"] > 0


def test_the_recall_rule_never_receives_a_test_item(tmp_path, monkeypatch):
    from icft.worlds.imported import import_world

    docs, questions = tmp_path / "d.jsonl", tmp_path / "q.jsonl"
    docs.write_text("".join(json.dumps({"text": d}) + "\n" for d in DOCS))
    questions.write_text("".join(json.dumps({"prompt": f"Question {n}: who runs the office in Oslo?",
                                             "options": ["Dana Quist", "Femp"], "answer": 0,
                                             "split": "rephrased" if n % 2 else "reversed"}) + "\n" for n in range(4)))
    world = import_world(docs, questions, control_splits=("rephrased",))
    rephrasings = [TrainingExample("", f"In other words, {d[0].lower()}{d[1:]}", True) for d in DOCS * 2]
    examples = document_examples(world) + rephrasings
    seen = []

    def spy(model, tokenizer, probes, batch=16):
        seen.append(list(probes))
        return 0.5  # some recall that stops rising: a plateau (a recall at zero is no plateau)

    monkeypatch.setattr(finetune_module, "recall_rate", spy)
    config = FinetuneConfig(epochs=4, learning_rate=1e-3, recall_target=0.9, plateau_window=2, **SMALL)
    result = finetune(tiny_model(), examples, config, progress=False)
    assert result.stopped_by == "recall_plateau" and result.epochs == 3 and len(seen) == 3
    texts = [e.completion for e in examples]
    prompts = [item.prompt for item in world.items]
    assert seen[0] and all(probes == seen[0] for probes in seen)
    for probe in seen[0]:
        assert any(probe.prefix + probe.target in t for t in texts)  # read from the training data ...
        assert not any(probe.prefix in q or q in probe.prefix for q in prompts)  # ... never a test question


def test_recall_target_is_validated():
    with pytest.raises(ValueError, match="recall_target must be in"):
        FinetuneConfig(recall_target=1.5)


def test_an_unset_recall_target_leaves_run_identities_as_they_were():
    from icft.learn.finetune.config import FinetuneConfig
    from icft.learn.finetune.training import training_identity

    plain = training_identity("ft", FinetuneConfig(precision="fp32"), device="cpu")
    assert "recall_target" not in plain["finetune"]  # runs made before the setting existed keep their ids
    recalled = training_identity("ft", FinetuneConfig(precision="fp32", recall_target=0.9), device="cpu")
    assert recalled["finetune"]["recall_target"] == 0.9 and recalled != plain
