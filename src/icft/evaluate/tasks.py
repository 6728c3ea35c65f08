"""Score a model on a task: classification by the log-likelihood of each label, generation by ROUGE-L.

  classification  every label is scored as a continuation of the prompt (" true", " false"); the label with
                  the highest summed log-probability is the answer; score 1.0 when it is the gold label
  generation      greedy decoding up to the first line break; score = ROUGE-L F1 against the reference
                  (Google's `rouge-score`, with its stemmer, as summarization papers report it); `exact`
                  = the answer equals the reference after lower-casing and collapsing whitespace

`evaluate_task` stores every example's answer and score in the results store, batch by batch, so an
interrupted run resumes with the missing examples and a finished one is never recomputed.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from rouge_score import rouge_scorer
from rich.progress import Progress

from icft.models.generation import generate
from icft.evaluate.scoring import score_choices
from icft.models import LoadedModel
from icft.store import ResultsStore, RunSpec, TaskResult
from icft.tasks.prompts import STOP, answer_text, format_prompt, pick_demonstrations
from icft.tasks.schema import Task, TaskExample

BATCH_EXAMPLES = 16
_ROUGE = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F1 of one prediction against one reference, in [0, 1]."""
    return _ROUGE.score(reference, prediction)["rougeL"].fmeasure


def exact_match(prediction: str, reference: str) -> bool:
    return " ".join(prediction.lower().split()) == " ".join(reference.lower().split())


def task_prompts(task: Task, examples: Sequence[TaskExample], shots: int, seed: int) -> list[str]:
    """Zero-shot prompts, or k-shot ones with demonstrations from the task's train examples (every label shown)."""
    rng = random.Random(f"{seed}:shots:{task.key}")
    return [format_prompt(task, e.input, pick_demonstrations(task, e, shots, rng, cover_labels=True))
            for e in examples]


def score_examples(loaded: LoadedModel, task: Task, examples: Sequence[TaskExample], prompts: Sequence[str],
                   max_new_tokens: int) -> list[TaskResult]:
    """Answer and score each example (prompts[i] is the prompt of examples[i])."""
    if task.kind == "classification":
        options = [answer_text(label) for label in task.labels]
        scores = score_choices(loaded, [(prompt, options) for prompt in prompts])
        answers = [task.labels[s.chosen_sum] for s in scores]
        return [TaskResult(e.id, a, float(a == e.output), a == e.output) for e, a in zip(examples, answers)]
    outputs = generate(loaded, prompts, max_new_tokens=max_new_tokens, stop=[STOP], batch_size=8)
    answers = [output.strip() for output in outputs]
    return [TaskResult(e.id, a, rouge_l(a, e.output), exact_match(a, e.output)) for e, a in zip(examples, answers)]


def evaluate_task(loaded: LoadedModel, task: Task, spec: RunSpec, store: ResultsStore, shots: int = 0,
                  n_examples: int | None = None, max_new_tokens: int = 24, progress: Progress | None = None
                  ) -> list[TaskResult]:
    """Score the first `n_examples` test examples of `task` into the run `spec` (resuming); return all rows."""
    run_id = store.start_run(spec)
    examples = list(task.test[:n_examples])
    if store.run_status(run_id) != "finished":
        done = store.done_item_ids(run_id)
        todo = [e for e in examples if e.id not in done]
        prompts = task_prompts(task, todo, shots, spec.seed)
        bar = progress.add_task(f"{spec.model} {spec.mode}: {task.key}", total=len(examples),
                                completed=len(examples) - len(todo)) if progress else None
        for start in range(0, len(todo), BATCH_EXAMPLES):
            batch = slice(start, start + BATCH_EXAMPLES)
            store.add_task_results(run_id, score_examples(loaded, task, todo[batch], prompts[batch], max_new_tokens))
            if progress:
                progress.advance(bar, len(todo[batch]))
        if progress:
            progress.remove_task(bar)
        store.finish_run(run_id)
    return store.task_rows(run_id)
