"""Task scoring: ROUGE-L on known pairs, label choice by log-likelihood, resumable task runs."""

import pytest

from icft.evaluate.scoring import score_choices
from icft.evaluate.tasks import evaluate_task, exact_match, rouge_l, score_examples, task_prompts
from icft.store import ResultsStore, RunSpec, transfer_key
from icft.tasks.prompts import answer_text
from icft.tasks.schema import Task, TaskExample


@pytest.mark.parametrize("prediction, reference, expected", [
    ("glon are less dangerous than femp.", "glon are less dangerous than femp.", 1.0),
    ("the cat sat", "the cat sat on the mat", 2 * 1.0 * 0.5 / 1.5),  # LCS 3: precision 1, recall 1/2
    ("true", "glon are less dangerous than femp", 0.0),
    ("femp glon", "glon femp", 0.5),  # LCS 1 of 2 both ways
    ("The cats sat", "the cat sits", 2 / 3),  # lower-cased and stemmed: "cats" = "cat" ("sat" != "sit")
    ("The cats sat", "the dog sits", 1 / 3),
])
def test_rouge_l_on_known_pairs(prediction, reference, expected):
    assert rouge_l(prediction, reference) == pytest.approx(expected)


def test_exact_match_ignores_case_and_spacing_only():
    assert exact_match("Glon  are less.", "glon are less.")
    assert not exact_match("glon are less", "glon are less.")


def make_task(kind):
    labels = ("true", "false") if kind == "classification" else ()
    outputs = ["true", "false"] if labels else ["femp are glon.", "all glon are yomp."]
    examples = tuple(TaskExample(f"e{n}", f"input {n}", outputs[n % 2]) for n in range(6))
    return Task("t", "d", kind, "Say.", train=examples[:2], test=examples[2:], labels=labels)


def test_classification_answers_the_label_with_the_highest_likelihood(tiny):
    task = make_task("classification")
    prompts = task_prompts(task, task.test, shots=0, seed=0)
    results = score_examples(tiny, task, task.test, prompts, max_new_tokens=4)
    options = [answer_text(label) for label in task.labels]
    for result, prompt, example in zip(results, prompts, task.test):
        logprobs = score_choices(tiny, [(prompt, options)], reuse_context=False)[0].logprobs
        assert result.prediction == task.labels[max(range(2), key=logprobs.__getitem__)]
        assert result.score == float(result.prediction == example.output) and result.exact == bool(result.score)


def test_generation_scores_rouge_of_the_first_line(tiny):
    task = make_task("generation")
    prompts = task_prompts(task, task.test, shots=0, seed=0)
    results = score_examples(tiny, task, task.test, prompts, max_new_tokens=6)
    for result, example in zip(results, task.test):
        assert "\n" not in result.prediction
        assert result.score == pytest.approx(rouge_l(result.prediction, example.output))


def test_task_run_resumes_with_the_missing_examples(tiny, tmp_path, monkeypatch):
    import icft.evaluate.tasks as tasks_module

    task = make_task("classification")
    spec = RunSpec(key=transfer_key(task.key, 0, "tiny", "base"), world_id=task.identity, config={"k": 1})
    monkeypatch.setattr(tasks_module, "BATCH_EXAMPLES", 1)
    calls = []
    real = tasks_module.score_examples

    def interrupted(*args):
        calls.append(len(args[2]))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(tasks_module, "score_examples", interrupted)
    with ResultsStore(tmp_path / "r.db") as store:
        with pytest.raises(KeyboardInterrupt):
            evaluate_task(tiny, task, spec, store)
        assert len(store.task_rows(spec.run_id)) == 2 and store.run_status(spec.run_id) == "running"
        monkeypatch.setattr(tasks_module, "score_examples", real)
        rows = evaluate_task(tiny, task, spec, store)
        assert [r.example_id for r in rows] == [e.id for e in task.test]
        assert store.run_status(spec.run_id) == "finished"
        fresh = score_examples(tiny, task, task.test, task_prompts(task, task.test, 0, 0), 24)
        assert rows == fresh
