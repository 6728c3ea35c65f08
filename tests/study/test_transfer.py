"""The transfer runner end to end on a tiny saved model: base row, fits, fit records, resume, clear errors."""

import pytest

from icft.errors import IcftError
from icft.store import ResultsStore
from icft.study import parse_study_config
from icft.study.transfer import BASE, TransferStudy, mean_abs_weight_change, run_transfer_study
from tiny_models import tiny_model


def config(model, lora=False, **transfer):
    spec = {"builtin_domains": ["reversals"], "builtin_sizes": {"reversals": {"facts": 6}},
            "builtin_tasks": ["judge", "complete"], "train": ["judge/reversals"], "train_sizes": [4],
            "test_examples": 3, "max_new_tokens": 4, **transfer}
    return parse_study_config({"name": "t", "kind": "transfer", "models": [model], "transfer": spec,
                               "finetune": {"epochs": 2, "max_steps": 2, "row_tokens": 256, "batch_tokens": 512,
                                            "micro_batch_tokens": 512, "lora": lora}})


def stored(db):
    """(variant, test task, config, scored examples) of every finished run, read from the transfer runs' view."""
    with ResultsStore(db) as store:
        runs = sorted((r for r in store.transfer_runs() if r.status == "finished"), key=lambda r: r.run_id)
        assert all(r.train_task == (None if r.variant == BASE else "judge/reversals") for r in runs)
        assert all(r.train_size == (None if r.variant == BASE else 4) for r in runs)
        return [(r.variant, r.test_task, r.config, store.task_rows(r.run_id)) for r in runs]


def test_grid_scores_the_base_and_every_fit_on_every_task(tiny_folder, tmp_path):
    assert run_transfer_study(config(tiny_folder), tmp_path, progress=False) == 2
    rows = stored(tmp_path / "results.db")
    assert sorted((mode, task) for mode, task, _, _ in rows) == [
        (BASE, "complete/reversals"), (BASE, "judge/reversals"), ("ft", "complete/reversals"),
        ("ft", "judge/reversals"), ("fticl", "complete/reversals"), ("fticl", "judge/reversals")]
    for mode, task, run_config, results in rows:
        assert len(results) == 3
        expected = None if mode == BASE else "in-domain" if task == "judge/reversals" else "cross-task"
        assert run_config["relation"] == expected
        if task.startswith("judge"):
            assert all(r.prediction in ("true", "false") and r.score in (0.0, 1.0) for r in results)
    study = TransferStudy(config(tiny_folder), tmp_path)
    with ResultsStore(tmp_path / "results.db") as store:
        stats = [store.fit_stats(study.fit_id(fit)) for fit in study.fits()]
    assert all(s["mean_abs_weight_change"] > 0 and s["steps"] == 2 and s["examples"] == 4 for s in stats)
    assert not list((tmp_path / "finetune").glob("*/model"))  # weights deleted once scored (keep_weights false)
    assert run_transfer_study(config(tiny_folder), tmp_path, progress=False) == 0  # nothing left to do


def test_an_interrupted_fit_resumes_to_the_same_results(tiny_folder, tmp_path, monkeypatch):
    import icft.evaluate.tasks as tasks_module

    run_transfer_study(config(tiny_folder), tmp_path / "whole", progress=False)
    real, calls = tasks_module.score_examples, []

    def interrupted(*args):
        calls.append(1)
        if len(calls) == 4:  # base: 2 tasks; then the first fit's second task
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(tasks_module, "score_examples", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_transfer_study(config(tiny_folder), tmp_path / "cut", progress=False)
    monkeypatch.setattr(tasks_module, "score_examples", real)
    assert run_transfer_study(config(tiny_folder), tmp_path / "cut", progress=False) == 2
    assert stored(tmp_path / "cut" / "results.db") == stored(tmp_path / "whole" / "results.db")


def test_lora_fits_through_the_same_loop(tiny_folder, tmp_path):
    study = TransferStudy(config(tiny_folder, lora=True, variants=["fticl"]), tmp_path)
    assert study.run(progress=False) == 1
    with ResultsStore(tmp_path / "results.db") as store:
        stats = store.fit_stats(study.fit_id(study.fits()[0]))
    plain = TransferStudy(config(tiny_folder, variants=["fticl"]), tmp_path / "full")
    assert study.fit_id(study.fits()[0]) != plain.fit_id(plain.fits()[0])  # LoRA is part of the fit's identity
    assert stats["mean_abs_weight_change"] > 0 and stats["steps"] == 2


def test_dry_run_lists_fits_and_runs_nothing(tiny_folder, tmp_path):
    study = TransferStudy(config(tiny_folder, variants=["ft"], train_sizes=[2, 4]), tmp_path)
    table = study.dry_run()
    assert table.row_count == 2 and not (tmp_path / "results.db").exists()


def test_unknown_training_task_names_the_choices(tiny_folder, tmp_path):
    with pytest.raises(IcftError, match=r"'judge/semantic', which is not a task of this study: choose from "
                                        r"judge/reversals, complete/reversals"):
        run_transfer_study(config(tiny_folder, train=["judge/semantic"]), tmp_path, progress=False)


def test_config_keys_of_the_wrong_kind_are_refused():
    with pytest.raises(IcftError, match=r"unknown key 'transfer.varients'"):
        parse_study_config({"kind": "transfer", "transfer": {"varients": ["ft"]}})
    with pytest.raises(IcftError, match="transfer study names tasks in \\[transfer\\], not \\[\\[worlds\\]\\]"):
        parse_study_config({"kind": "transfer", "worlds": [{"name": "reversals"}]})
    with pytest.raises(IcftError, match="needs at least one \\[\\[worlds\\]\\]"):
        parse_study_config({"name": "x"})


def test_weight_change_is_the_mean_absolute_difference():
    base, tuned = tiny_model(seed=0).model, tiny_model(seed=0).model
    assert mean_abs_weight_change(base, tuned) == 0.0
    count = sum(p.numel() for p in tuned.parameters())
    first = next(tuned.parameters())
    first.data += 0.5
    assert mean_abs_weight_change(base, tuned) == pytest.approx(0.5 * first.numel() / count)


def test_each_runner_refuses_the_other_kind(tiny_folder, tmp_path):
    from icft.study.grid import Study

    with pytest.raises(IcftError, match="'t' is a transfer study, not icl_vs_ft"):
        Study(config(tiny_folder), tmp_path)
    other = parse_study_config({"name": "w", "worlds": [{"name": "reversals"}]})
    with pytest.raises(IcftError, match="'w' is a icl_vs_ft study, not transfer"):
        TransferStudy(other, tmp_path)


def test_fp32_and_bf16_fits_of_one_design_have_different_fit_ids(tiny_folder, tmp_path, monkeypatch):
    """The fit id hashes the precision the fit resolves to (fp32 or bf16), never "auto": on a CPU with bf16, an
    auto fit is a bf16 fit, and a resumed study cannot mix it with an fp32 one."""
    import icft.models.device as device

    def study(precision):
        raw = config(tiny_folder).model_dump(mode="json")
        raw["finetune"] = {**raw["finetune"], "precision": precision}
        return TransferStudy(parse_study_config(raw), tmp_path / precision)

    def fit_id(precision):
        made = study(precision)
        return made.fit_id(made.fits()[0])

    monkeypatch.setattr(device, "cpu_has_bf16", lambda *a: True)
    assert fit_id("fp32") != fit_id("bf16") and fit_id("auto") == fit_id("bf16")
    assert study("auto").fit_config(study("auto").fits()[0])["finetune"]["precision"] == "bf16"
    monkeypatch.setattr(device, "cpu_has_bf16", lambda *a: False)
    assert fit_id("auto") == fit_id("fp32")


def test_a_fits_learned_check_asks_its_training_examples_as_it_was_trained(tiny_folder, tmp_path, monkeypatch):
    """FTICL trained with a demonstration in every prompt: its learned check asks its training examples with those
    demonstrations (did it take in what it was given?); FT's asks them as FT trained, zero-shot."""
    import icft.evaluate.tasks as tasks_module
    from icft.learn.fticl import task_training_examples
    from icft.models import load

    asked = {}
    monkeypatch.setattr(tasks_module, "score_examples",
                        lambda loaded, task, sample, prompts, tokens: asked.setdefault("prompts", list(prompts)) and [])
    study = TransferStudy(config(tiny_folder, train_sizes=[6]), tmp_path)
    by_variant = {}
    for fit in study.fits():
        asked.clear()
        task = study.tasks(fit.seed)[fit.train_task]
        with pytest.raises(ZeroDivisionError):  # no rows from the stand-in: the prompts are what is checked
            study._train_score(load(tiny_folder), task, fit)
        trained = task_training_examples(task, fit.variant, fit.size, fit.seed, study.spec.demonstrations)
        assert asked["prompts"] == [e.prompt for e in trained]
        by_variant[fit.variant] = asked["prompts"]
    # the same examples; FTICL's prompts put a demonstration between FT's instruction and its input
    assert all(len(with_demo) > len(plain) and with_demo.endswith(plain.split("\n\n", 1)[1])
               and "Output:" in with_demo.split("Input:")[1] for with_demo, plain in zip(by_variant["fticl"],
                                                                                  by_variant["ft"]))
