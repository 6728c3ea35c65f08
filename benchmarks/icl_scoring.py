"""ICL scoring speed and agreement: icft's cached scorer vs the naive per-option forward vs lm-evaluation-harness.

    python benchmarks/icl_scoring.py [--world semantic] [--naive-items 3] [--lm-eval-items 3]

ICL mode on a world: the context is every train document joined by "\\n\\n", then "\\n\\n"; each item's prompt
follows it and its options are scored by log-likelihood, with the embedded model on CPU.
1. icft's cached scorer (`score_choices`, context key/value cache computed once, continuations packed) on all
   items; its time per item includes the context prefill, paid once.
2. the naive reference (`reuse_context=False`: one full forward over context + prompt + option per option) on an
   evenly spaced subset of items: each option costs one independent forward, so time per item scales.
3. lm-evaluation-harness (`pip install lm-eval`), offline, through a local multiple_choice task (doc_to_text =
   context + prompt, target_delimiter "" so the option's leading space is the delimiter) on the same subset,
   with the embedded model's cached safetensors folder; its per-option log-likelihoods come from log_samples.

Ratios are the other's time per item / icft's. The last line is
`icl_scoring: vs_lm_eval=<ratio> vs_naive=<ratio> max_abs_diff=<nats>` (max |icft cached - naive|).
Torch uses its default thread count; the load average is printed because other processes may share the cores.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before any Hugging Face import: lm-eval must not reach the hub
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import torch  # noqa: E402

from icft.evaluate import score_choices  # noqa: E402
from icft.models.tokens import context_ids, continuation  # noqa: E402
from icft.models import DEFAULT_MODEL, load, resolve  # noqa: E402
from icft.models.loading import model_folder  # noqa: E402
from icft.worlds import build_world  # noqa: E402

TASK = "icft_icl_scoring"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DEFAULT_MODEL, help="a model name or local folder (default: embedded)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (icft's device setting)")
    parser.add_argument("--world", default="semantic")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--naive-items", type=int, default=3, help="items scored by the naive reference")
    parser.add_argument("--lm-eval-items", type=int, default=3,
                        help="items scored by lm-evaluation-harness (0: skip it)")
    parser.add_argument("--lm-eval-batch-size", type=int, default=1)
    parser.add_argument("--token-budget", type=int, default=2048)
    parser.add_argument("--documents", type=int, default=None, help="only the first N documents in the context")
    args = parser.parse_args()
    if args.lm_eval_items > 0 and importlib.util.find_spec("lm_eval") is None:
        sys.exit("icl_scoring compares with lm-evaluation-harness: install it with `pip install -e '.[bench]'` "
                 "(or pass --lm-eval-items 0 to skip it)")

    loaded = load(args.model, device=args.device)
    world = build_world(args.world, seed=args.seed)
    context = "\n\n".join(doc.text for doc in world.documents[: args.documents]) + "\n\n"
    requests = [(item.prompt, list(item.options)) for item in world.items]
    describe(loaded, world, context, requests)

    start = time.perf_counter()
    cached = score_choices(loaded, requests, context=context, token_budget=args.token_budget)
    icft_per_item = (time.perf_counter() - start) / len(requests)
    print(f"icft cached   {len(requests):4d} items  {icft_per_item:9.3f} s/item  (all items; the context prefill, "
          f"paid once, is included)")

    naive_subset = spaced(len(requests), args.naive_items)
    start = time.perf_counter()
    score_choices(loaded, [requests[i] for i in naive_subset], context=context, token_budget=args.token_budget)
    subset_per_item = (time.perf_counter() - start) / len(naive_subset)
    print(f"icft cached   {len(naive_subset):4d} items  {subset_per_item:9.3f} s/item  (the naive subset alone, "
          "so the prefill is shared by these items only; not used in the ratios)")
    start = time.perf_counter()
    naive = score_choices(loaded, [requests[i] for i in naive_subset], context=context, reuse_context=False)
    naive_per_item = (time.perf_counter() - start) / len(naive_subset)
    print(f"naive         {len(naive_subset):4d} items  {naive_per_item:9.3f} s/item  (subset {naive_subset}: "
          "one full forward per option, so the time per item scales to all items)")
    naive_diff = max_abs_diff([cached[i].logprobs for i in naive_subset], [s.logprobs for s in naive])

    vs_naive, vs_lm_eval = naive_per_item / icft_per_item, "skipped"
    if args.lm_eval_items > 0:
        lm_subset = spaced(len(requests), args.lm_eval_items)
        lm_scores, lm_per_item, lm_version = run_lm_eval(args.model, context, [requests[i] for i in lm_subset],
                                                          args.lm_eval_batch_size)
        print(f"lm-eval {lm_version:<6}{len(lm_subset):4d} items  {lm_per_item:9.3f} s/item  (subset {lm_subset}, "
              f"batch_size {args.lm_eval_batch_size}; model loading not counted)")
        lm_diff = max_abs_diff([cached[i].logprobs for i in lm_subset], lm_scores)
        same_ids = same_ids_as_lm_eval(loaded.tokenizer, context, [requests[i] for i in lm_subset])
        vs_lm_eval = f"{lm_per_item / icft_per_item:.1f}"
        print(f"icft vs lm-eval: max |diff| {lm_diff:.3g} nats over {len(lm_subset)} items "
              f"(token ids identical to lm-eval's whole-string encoding: {same_ids})")
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    print(f"ratios (time per item / icft's): naive {vs_naive:.1f}x, lm-eval {vs_lm_eval}")
    print(f"icft vs naive:   max |diff| {naive_diff:.3g} nats over {len(naive_subset)} items")
    print(f"icl_scoring: vs_lm_eval={vs_lm_eval} vs_naive={vs_naive:.1f} max_abs_diff={naive_diff:.3g}")


def describe(loaded, world, context: str, requests) -> None:
    n_options = sum(len(options) for _, options in requests)
    print(f"world {world.name} seed {world.seed}: {len(world.documents)} documents -> context of "
          f"{len(context_ids(loaded.tokenizer, context))} tokens; {len(requests)} items, {n_options} options")
    print(f"model {loaded.name} on {loaded.device}, {loaded.model.dtype}; torch threads {torch.get_num_threads()} "
          f"of {os.cpu_count()} CPUs; load average before: {os.getloadavg()[0]:.1f} (other processes share the cores)")


def spaced(n: int, k: int) -> list[int]:
    """k item indices spread evenly over n items (so the subset spans the splits)."""
    k = max(1, min(k, n))
    return [round(i * (n - 1) / max(k - 1, 1)) for i in range(k)] if k > 1 else [0]


def max_abs_diff(a: list, b: list) -> float:
    return max(abs(x - y) for xs, ys in zip(a, b, strict=True) for x, y in zip(xs, ys, strict=True))


def run_lm_eval(model: str, context: str, requests, batch_size: int) -> tuple[list[list[float]], float, str]:
    """Per-option log-likelihoods from lm-evaluation-harness, its time per item, and its version."""
    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    with tempfile.TemporaryDirectory() as tmp:
        write_task(Path(tmp), context, requests)
        lm = HFLM(pretrained=model_folder(resolve(model)), dtype="float32", batch_size=batch_size, device="cpu")
        start = time.perf_counter()
        results = lm_eval.simple_evaluate(model=lm, tasks=[TASK], task_manager=TaskManager(include_path=tmp),
                                          log_samples=True, num_fewshot=0)
        per_item = (time.perf_counter() - start) / len(requests)
    samples = sorted(results["samples"][TASK], key=lambda sample: sample["doc_id"])
    scores = [[float(_loglikelihood(resp)) for resp in sample["resps"]] for sample in samples]
    return scores, per_item, lm_eval.__version__


def _loglikelihood(resp) -> float:
    """A response is [(loglikelihood, is_greedy)] per repeat; the first repeat's log-likelihood."""
    while isinstance(resp, (list, tuple)):
        resp = resp[0]
    return resp


def write_task(folder: Path, context: str, requests) -> None:
    """A local multiple_choice task over `requests` (docs in a jsonl file next to the YAML)."""
    docs = folder / "docs.jsonl"
    with docs.open("w") as f:
        for prompt, options in requests:
            f.write(json.dumps({"text": context + prompt, "choices": options, "label": 0}) + "\n")
    (folder / f"{TASK}.yaml").write_text(
        f"task: {TASK}\n"
        "dataset_path: json\n"
        f"dataset_kwargs:\n  data_files:\n    test: {docs}\n"
        "test_split: test\n"
        "output_type: multiple_choice\n"
        "doc_to_text: text\n"
        "doc_to_choice: choices\n"
        "doc_to_target: label\n"
        'target_delimiter: ""\n'
        "metric_list:\n  - metric: acc\n"
    )


def same_ids_as_lm_eval(tokenizer, context: str, requests) -> str:
    """Whether icft's ids (context, then prompt + option) equal the whole string tokenized at once, as lm-eval does."""
    pairs = [(prompt, option) for prompt, options in requests for option in options]
    same = sum(
        context_ids(tokenizer, context) + list(continuation(tokenizer, prompt, option).ids)
        == tokenizer(context + prompt + option).input_ids
        for prompt, option in pairs
    )
    return f"{same} of {len(pairs)} options"


if __name__ == "__main__":
    main()
