"""icft's fine-tuning loop in fp32 and bf16 vs transformers' `Trainer` in fp32 and bf16, side by side.

    python benchmarks/finetune_throughput.py                      # the default study's first fit, 1 thread each
    python benchmarks/finetune_throughput.py --steps 30 --threads 2
    python benchmarks/finetune_throughput.py --study configs/learning.toml --world semantic

All train the embedded model (`smollm2-135m`) on the documents of a world of a study config (default: the
first world of `configs/default.toml`, reversals at 24 facts, one article each), with that study's fine-tuning
settings for the world (LoRA r16 on every projection, lr 2e-3 constant after 2 warmup steps, 8 documents a step,
gradient clipping 1.0, torch's fused AdamW: the Trainer's default), for the same number of optimizer steps:
  icft     packed rows of `row_tokens` (no padding, block-diagonal attention), `precision` fp32 and bf16, each
           compiled or not as the study's fit would be (`compile` auto, resolved on the fit's planned steps: bf16
           fits of 40 steps or more are compiled, fp32 ones are not); two more runs swap that, so the table also
           shows bf16 against fp32 both eager and both compiled;
  Trainer  its standard padding collator (`DataCollatorForLanguageModeling(mlm=False)`), a per-device batch of
           the same 8 documents' count, fp32 and `bf16=True` (CPU autocast).
Compiling happens in the warmup steps, so the measured steps do not include it.

Each is its own fresh subprocess. They take their optimizer steps in lockstep, taking turns at going first:
after each step a worker waits until the others have taken the same step, so all are timed under the same load
from whatever else runs on the machine (on a shared machine, separate back-to-back runs differ by tens of
percent). A step's time runs from the go signal to the end of its optimizer step (an optimizer-step hook, the
same for all); throughput counts real (non-padding) tokens over the steps after `--warmup`.

The two icft runs take the same rows in the same order (same seed), so their losses are comparable step by step:
`loss_gap` compares their final training loss (the mean over the last epoch, which the default 24 steps end
exactly: 3 steps an epoch). The Trainer's losses are a sanity check only (its batches differ).

The last line printed is:
  finetune_throughput: vs_trainer=<icft best tokens/s / Trainer best> bf16_speedup=<icft bf16 / icft fp32>
  loss_gap=<|final loss bf16 - fp32| / fp32> peak_mem_ratio=<icft best peak / Trainer best peak>
  bf16_speedup_eager=<both eager> bf16_speedup_compiled=<both compiled>
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
from pathlib import Path

from icft.models.registry import DEFAULT_MODEL

PREFIX = "finetune-bench:"  # marks the worker's protocol lines among whatever the libraries print
# icft-<precision> runs as the study's fit would; icft-<precision>-swapped compiles where that does not, and not
# where it does
WORKERS = ("icft-fp32", "icft-bf16", "trainer-fp32", "trainer-bf16", "icft-fp32-swapped", "icft-bf16-swapped")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DEFAULT_MODEL, help="a model name or local folder (default: embedded)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (icft's device setting)")
    parser.add_argument("--study", default=str(Path(__file__).parents[1] / "configs" / "default.toml"),
                        help="the study config whose fit is measured (default: configs/default.toml)")
    parser.add_argument("--world", default=None, help="the label of its world (default: the first)")
    parser.add_argument("--steps", type=int, default=21, help="measured optimizer steps (after the warmup)")
    parser.add_argument("--warmup", type=int, default=3, help="optimizer steps not measured")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads of each worker")
    parser.add_argument("--worker", choices=WORKERS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.warmup < 1 or args.steps < 1:
        parser.error("--warmup and --steps must be at least 1")
    if args.worker:
        work(args)
    else:
        report(run_in_lockstep(sys.argv[1:], args.warmup + args.steps), args)


def run_in_lockstep(argv: list[str], steps: int) -> dict[str, dict]:
    """Start the workers, let them take each optimizer step in turn, and collect their results."""
    workers = {}
    for name in WORKERS:
        log = tempfile.TemporaryFile(mode="w+")  # stderr: progress bars and warnings, shown on failure
        command = [sys.executable, __file__, *argv, "--worker", name]
        workers[name] = (subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                                          text=True), log)
    order = list(workers.items())
    for step in range(1, steps + 2):  # the last round lets all finish and report
        turn = step % len(order)
        for name, (process, log) in order[turn:] + order[:turn]:  # each goes first in turn
            if step > 1:  # step 1 (loading and the first step) runs in all at once
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
    kind, precision, *swapped = args.worker.split("-")
    result = run_icft(args, precision, bool(swapped)) if kind == "icft" else run_trainer(args, precision)
    measured = times[args.warmup : args.warmup + args.steps]
    result["seconds"] = sum(wall for wall, _ in measured)
    result["cpu_seconds"] = sum(cpu for _, cpu in measured)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    print(f"{PREFIX} result {json.dumps(result)}", flush=True)


def study_fit(args):
    """The world and `FinetuneConfig` of the study's fit on it, run for exactly warmup + steps steps."""
    import dataclasses

    from icft.study.config import finetune_config, load_study_config
    from icft.worlds import build_world

    study = load_study_config(args.study)
    spec = next((w for w in study.worlds if args.world in (None, w.label)), None)
    if spec is None:
        sys.exit(f"{args.study} has no world labelled {args.world!r}")
    world = build_world(spec.name, preset=spec.preset, **spec.sizes)
    config = finetune_config(spec.finetune, study.finetune)
    steps = args.warmup + args.steps
    if config.batch_examples is None:
        sys.exit("the benchmark needs a study whose [finetune] sets batch_examples (the Trainer's batch size)")
    per_epoch = math.ceil(len(world.documents) / config.batch_examples)
    planned = per_epoch * config.epochs  # the study's fit: its epochs cap, before the benchmark cuts it short
    config = dataclasses.replace(config, epochs=math.ceil(steps / per_epoch) + 1, max_steps=steps,
                                 target_loss=None, save_weights=False)
    return world, config, planned


def run_icft(args, precision: str, swapped: bool) -> dict:
    import dataclasses

    from icft.learn.examples import document_examples
    from icft.learn.finetune import finetune
    from icft.learn.finetune.speedups import decoder_layer_classes, resolve_compile
    from icft.models import load

    world, config, planned = study_fit(args)
    loaded = load(args.model, device=args.device)
    compiled = resolve_compile(config.compile, precision, loaded.device, planned,
                               decoder_layer_classes(loaded.model)) != swapped
    config = dataclasses.replace(config, precision=precision, compile="on" if compiled else "off")
    result = finetune(loaded, document_examples(world), config, progress=False)
    return {"tokens": sum(log.tokens for log in result.curve[args.warmup :]), "final_loss": result.epoch_losses[-1],
            "mean_loss": statistics.mean(log.loss for log in result.curve), "padded_fraction": 0.0,
            "losses": [log.loss for log in result.curve], "compiled": result.compiled}


def run_trainer(args, precision: str) -> dict:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import DataCollatorForLanguageModeling, Trainer, TrainingArguments

    from icft.models import load

    world, config, _ = study_fit(args)
    loaded = load(args.model, device=args.device)
    tokenizer = loaded.tokenizer
    texts = [doc.text for doc in world.documents]
    dataset = [{"input_ids": ids + [tokenizer.eos_token_id]}
               for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]
    padding_collator = DataCollatorForLanguageModeling(tokenizer, mlm=False)
    real, padded = [], []  # per batch, in the order the Trainer consumes them

    def collate(features):
        batch = padding_collator(features)
        real.append(int(batch["attention_mask"].sum()))
        padded.append(batch["attention_mask"].numel())
        return batch

    model = get_peft_model(loaded.model, LoraConfig(
        r=config.lora_rank, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
        target_modules=list(config.lora_targets), task_type="CAUSAL_LM"))
    with tempfile.TemporaryDirectory() as out:
        training = TrainingArguments(
            output_dir=out, max_steps=config.max_steps, per_device_train_batch_size=config.batch_examples,
            gradient_accumulation_steps=1, learning_rate=config.learning_rate,
            lr_scheduler_type="constant_with_warmup", warmup_steps=config.warmup_steps, weight_decay=0.0,
            max_grad_norm=config.grad_clip, optim="adamw_torch_fused", seed=0, bf16=precision == "bf16",
            use_cpu=loaded.device.type == "cpu", save_strategy="no", logging_strategy="no", report_to="none",
            disable_tqdm=True, dataloader_num_workers=0,
        )
        torch.manual_seed(0)
        trainer = Trainer(model=model, args=training, train_dataset=dataset, data_collator=collate)
        output = trainer.train()
    return {"tokens": sum(real[args.warmup : config.max_steps]), "final_loss": math.nan,
            "mean_loss": output.training_loss, "padded_fraction": 1 - sum(real) / sum(padded), "compiled": False}


def report(results: dict[str, dict], args) -> None:
    """A table of the runs, then the ratios (the last line is the summary)."""
    print(f"LoRA fit of {args.model} from {args.study} ({args.world or 'first world'}): {args.steps} steps after "
          f"{args.warmup}, {args.threads} thread(s) each, {len(results)} workers in lockstep")
    print(f"{'':18} {'compiled':>8} {'tokens/s':>9} {'tokens/CPU-s':>13} {'peak MB':>8} {'padding':>8} "
          f"{'mean loss':>10} {'final loss':>11}")
    rate, peak = {}, {}
    for name, result in results.items():
        rate[name] = result["tokens"] / result["seconds"]
        peak[name] = result["peak_rss_mb"]
        print(f"{name:18} {'yes' if result['compiled'] else 'no':>8} {rate[name]:>9.1f} "
              f"{result['tokens'] / result['cpu_seconds']:>13.1f} {peak[name]:>8.0f} {result['padded_fraction']:>8.0%} "
              f"{result['mean_loss']:>10.3f} {result['final_loss']:>11.4f}")
    trainer = max(("trainer-fp32", "trainer-bf16"), key=rate.get)
    icft = max(("icft-fp32", "icft-bf16"), key=rate.get)
    fp32, bf16 = results["icft-fp32"]["final_loss"], results["icft-bf16"]["final_loss"]
    step_gap = max(abs(a - b) / a for a, b in zip(results["icft-fp32"]["losses"], results["icft-bf16"]["losses"]))
    print(f"best: {icft} and {trainer}; icft bf16 vs fp32, largest relative gap of one step's loss: {step_gap:.3f}")
    speed, speedup, gap, memory = rate[icft] / rate[trainer], rate["icft-bf16"] / rate["icft-fp32"], \
        abs(bf16 - fp32) / fp32, peak[icft] / peak[trainer]
    by_compiled = {(name.split("-")[1], results[name]["compiled"]): rate[name] for name in results if "icft" in name}
    eager, compiled = (by_compiled[("bf16", c)] / by_compiled[("fp32", c)] for c in (False, True))
    if not all(math.isfinite(x) for x in (speed, speedup, gap, memory)):
        sys.exit("a run measured no time, no memory or no loss")
    print(f"finetune_throughput: vs_trainer={speed:.2f} bf16_speedup={speedup:.2f} loss_gap={gap:.3f} "
          f"peak_mem_ratio={memory:.2f} bf16_speedup_eager={eager:.2f} bf16_speedup_compiled={compiled:.2f}")


if __name__ == "__main__":
    main()
