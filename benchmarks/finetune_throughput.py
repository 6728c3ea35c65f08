"""icft's fine-tuning loop vs transformers' `Trainer`: real tokens per second and peak memory, side by side.

    python benchmarks/finetune_throughput.py                  # full fine-tuning, CPU, one thread each
    python benchmarks/finetune_throughput.py --lora           # LoRA on both sides
    python benchmarks/finetune_throughput.py --steps 20 --threads 2
    python benchmarks/finetune_throughput.py --world reversals --preset default --row-tokens 64 \
        --micro-batch-tokens 256 --batch-tokens 512

Both train the embedded model (`smollm2-135m`) on the documents of a world. The default is the paper's own
fine-tuning corpus, the `semantic` world at its `paper` preset: 2,200 documents of 4-20 sentences, 34-232
tokens (mean 120), in steps of ~17 documents (the paper used batches of 8-16). `reversals` documents are all
12-24 tokens long, where padding costs the Trainer little. Both use the same learning rate, schedule,
gradient clipping, optimizer (torch's fused AdamW, the Trainer's default), number of steps and real tokens
per optimizer step:
  icft     packed rows of `--row-tokens` (no padding, block-diagonal attention), `--micro-batch-tokens` per
           forward, `--batch-tokens` per step;
  Trainer  its standard padding collator (`DataCollatorForLanguageModeling(mlm=False)`), a per-device batch
           of `micro-batch-tokens / mean document length` documents and the same number of accumulation steps.

Each trainer is its own fresh subprocess, so its peak resident memory (`ru_maxrss`) is its own. The two
take their optimizer steps in lockstep, taking turns at going first: after each step a worker waits until
the other has taken the same step, so both are timed under the same load from whatever else runs on the
machine (on a shared machine, separate back-to-back runs differ by tens of percent; two identical workers
in lockstep agree within about 5%). A step's time runs from the go signal to the
end of its optimizer step (an optimizer-step hook, the same for both); throughput counts real
(non-padding) tokens over the steps after `--warmup`. Both report their mean training loss as a sanity
check (not equal: the batches differ, and the Trainer's collator also masks the end-of-text label, since
this tokenizer pads with its end-of-text token).

The last line printed is:
  finetune_throughput: vs_trainer=<icft tokens/s / Trainer tokens/s> peak_mem_ratio=<icft peak / Trainer peak>
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import statistics
import subprocess
import sys
import tempfile
import time

from icft.models.registry import DEFAULT_MODEL

PREFIX = "finetune-bench:"  # marks the worker's protocol lines among whatever the libraries print


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DEFAULT_MODEL, help="a model name or local folder (default: embedded)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (icft's device setting)")
    parser.add_argument("--steps", type=int, default=12, help="measured optimizer steps (after the warmup)")
    parser.add_argument("--warmup", type=int, default=2, help="optimizer steps not measured")
    parser.add_argument("--world", default="semantic", help="the world whose train documents both train on")
    parser.add_argument("--preset", default="paper", help="the world's size preset")
    # rows just over the longest document: attention cost grows with the row, and 256 leaves ~1% padding
    parser.add_argument("--row-tokens", type=int, default=256, help="icft's packing row (>= the longest document)")
    parser.add_argument("--micro-batch-tokens", type=int, default=1024)
    parser.add_argument("--batch-tokens", type=int, default=2048)
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--lora", action="store_true", help="LoRA (rank 16, attention + MLP) instead of full FT")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads of each worker")
    parser.add_argument("--worker", choices=["icft", "trainer"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.warmup < 1 or args.steps < 1:
        parser.error("--warmup and --steps must be at least 1")
    if args.worker:
        work(args)
    else:
        report(run_in_lockstep(sys.argv[1:], args.warmup + args.steps), args)


def run_in_lockstep(argv: list[str], steps: int) -> dict[str, dict]:
    """Start both workers, let them take each optimizer step in turn, and collect their results."""
    workers = {}
    for name in ("icft", "trainer"):
        log = tempfile.TemporaryFile(mode="w+")  # stderr: progress bars and warnings, shown on failure
        command = [sys.executable, __file__, *argv, "--worker", name]
        workers[name] = (subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                                          text=True), log)
    for step in range(1, steps + 2):  # the last round lets both finish and report
        order = list(workers.items())
        for name, (process, log) in order if step % 2 else order[::-1]:  # neither always goes first
            if step > 1:  # step 1 (loading and the first step) runs in both at once
                process.stdin.write("go\n")
                process.stdin.flush()
            if step <= steps:
                _await_line(name, process, log, f"step {step}")
    results = {name: json.loads(_await_line(name, process, log, "result ")) for name, (process, log) in workers.items()}
    for process, _ in workers.values():
        process.wait()
    return results


def _await_line(name: str, process: subprocess.Popen, log, expected: str) -> str:
    """The rest of the worker's next protocol line, which must start with `expected`."""
    for line in process.stdout:
        if line.startswith(PREFIX):
            message = line[len(PREFIX):].strip()
            if not message.startswith(expected.strip()):
                sys.exit(f"{name} worker said {message!r}, expected {expected!r}")
            return message[len(expected):]
    log.seek(0)
    sys.exit(f"{name} worker stopped before {expected!r}:\n{log.read()[-3000:]}")


def work(args) -> None:
    """One trainer in this process: report each step, wait for the go signal, and report the result."""
    import torch
    from torch.optim.optimizer import register_optimizer_step_post_hook

    torch.set_num_threads(args.threads)
    times: list[tuple[float, float]] = []  # (wall, CPU) seconds of each step, from its go to its end
    started = [time.perf_counter(), time.process_time()]

    def after_step(*_):
        times.append((time.perf_counter() - started[0], time.process_time() - started[1]))
        print(f"{PREFIX} step {len(times)}", flush=True)
        sys.stdin.readline()  # wait for the go signal
        started[:] = [time.perf_counter(), time.process_time()]

    register_optimizer_step_post_hook(after_step)
    result = run_icft(args) if args.worker == "icft" else run_trainer(args)
    measured = times[args.warmup : args.warmup + args.steps]
    result["seconds"] = sum(wall for wall, _ in measured)
    result["cpu_seconds"] = sum(cpu for _, cpu in measured)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    print(f"{PREFIX} result {json.dumps(result)}", flush=True)


def documents(tokenizer, args) -> tuple[list[str], float]:
    """The world's train documents and their mean length in tokens (end-of-text included)."""
    from icft.worlds import build_world

    texts = [doc.text for doc in build_world(args.world, preset=args.preset).documents]
    lengths = [len(ids) + 1 for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]
    return texts, statistics.mean(lengths)


def run_icft(args) -> dict:
    from icft.learn.examples import TrainingExample
    from icft.learn.finetune import FinetuneConfig, finetune, plan_steps
    from icft.learn.packing import tokenize_examples
    from icft.models import load

    loaded = load(args.model, device=args.device)
    texts, _ = documents(loaded.tokenizer, args)
    examples = [TrainingExample("", text) for text in texts]
    lengths = [len(e) for e in tokenize_examples(examples, loaded.tokenizer)]
    epochs = math.ceil((args.warmup + args.steps) * args.batch_tokens / sum(lengths)) + 1  # a few rows to spare
    config = FinetuneConfig(
        epochs=epochs, max_steps=args.warmup + args.steps, learning_rate=args.learning_rate, lr_schedule="constant",
        row_tokens=args.row_tokens, micro_batch_tokens=args.micro_batch_tokens, batch_tokens=args.batch_tokens,
        weight_decay=0.0, grad_clip=1.0, seed=0, lora=args.lora,
    )
    result = finetune(loaded, examples, config, progress=False)
    mean_loss = statistics.mean(log.loss for log in result.curve)
    return {"tokens": sum(log.tokens for log in result.curve[args.warmup :]), "mean_loss": mean_loss,
            "padded_fraction": _padded_fraction(plan_steps(lengths, config), lengths, config)}


def _padded_fraction(plan, lengths, config) -> float:
    """The share of positions the packed micro-batches spend on padding (rows padded to the longest)."""
    per_micro = config.micro_batch_tokens // config.row_tokens
    real = positions = 0
    for step in plan:
        for at in range(0, len(step), per_micro):
            filled = [sum(lengths[i] for i in row) for row in step[at : at + per_micro]]
            real, positions = real + sum(filled), positions + max(filled) * len(filled)
    return 1 - real / positions


def run_trainer(args) -> dict:
    import torch
    from transformers import DataCollatorForLanguageModeling, Trainer, TrainingArguments

    from icft.models import load

    loaded = load(args.model, device=args.device)
    texts, mean_length = documents(loaded.tokenizer, args)
    tokenizer = loaded.tokenizer
    dataset = [{"input_ids": ids + [tokenizer.eos_token_id]}
               for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]
    per_device = max(1, round(args.micro_batch_tokens / mean_length))
    accumulation = args.batch_tokens // args.micro_batch_tokens
    padding_collator = DataCollatorForLanguageModeling(tokenizer, mlm=False)
    real, padded = [], []  # per micro-batch, in the order the Trainer consumes them

    def collate(features):
        batch = padding_collator(features)
        real.append(int(batch["attention_mask"].sum()))
        padded.append(batch["attention_mask"].numel())
        return batch

    model = loaded.model
    if args.lora:
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, target_modules=[
            "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"], task_type="CAUSAL_LM"))
    with tempfile.TemporaryDirectory() as out:
        training = TrainingArguments(
            output_dir=out, max_steps=args.warmup + args.steps, per_device_train_batch_size=per_device,
            gradient_accumulation_steps=accumulation, learning_rate=args.learning_rate, lr_scheduler_type="constant",
            warmup_steps=0, weight_decay=0.0, max_grad_norm=1.0, optim="adamw_torch_fused", seed=0,
            use_cpu=loaded.device.type == "cpu",
            save_strategy="no", logging_strategy="no", report_to="none", disable_tqdm=True,
            dataloader_num_workers=0,
        )
        torch.manual_seed(0)
        trainer = Trainer(model=model, args=training, train_dataset=dataset, data_collator=collate)
        output = trainer.train()
    first = args.warmup * accumulation  # micro-batches before the measured steps
    return {"tokens": sum(real[first : (args.warmup + args.steps) * accumulation]),
            "mean_loss": output.training_loss, "per_device_batch": per_device,
            "padded_fraction": 1 - sum(real) / sum(padded)}


def report(results: dict[str, dict], args) -> None:
    """A table of both trainers, then the ratios (the last line is the summary)."""
    print(f"{'LoRA' if args.lora else 'full FT'} of {args.model} on the {args.world} ({args.preset}) documents: {args.steps} steps after "
          f"{args.warmup}, {args.batch_tokens} real tokens per step, {args.threads} thread(s) each, in lockstep")
    print(f"{'':8} {'tokens/s':>9} {'tokens/CPU-s':>13} {'peak MB':>8} {'padding':>8} {'mean loss':>10}")
    rate, peak = {}, {}
    for name, result in results.items():
        rate[name] = result["tokens"] / result["seconds"]
        peak[name] = result["peak_rss_mb"]
        print(f"{name:8} {rate[name]:>9.1f} {result['tokens'] / result['cpu_seconds']:>13.1f} {peak[name]:>8.0f} "
              f"{result['padded_fraction']:>8.0%} {result['mean_loss']:>10.3f}")
    print(f"Trainer per-device batch: {results['trainer']['per_device_batch']} documents, "
          f"{args.batch_tokens // args.micro_batch_tokens} accumulation steps; icft rows of {args.row_tokens} tokens")
    speed, memory = rate["icft"] / rate["trainer"], peak["icft"] / peak["trainer"]
    if not (math.isfinite(speed) and math.isfinite(memory)):
        sys.exit("a run measured no time or no memory")
    print(f"finetune_throughput: vs_trainer={speed:.2f} peak_mem_ratio={memory:.2f}")


if __name__ == "__main__":
    main()
