"""The `icft` command line: arguments -> validated values -> one library call each.

Every user-facing problem is an `IcftError`, printed as one line (`error: ...`) with exit code 2.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from icft.errors import IcftError

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="icft: in-context learning vs fine-tuning, on controlled worlds and your own data.")
worlds_app = typer.Typer(no_args_is_help=True, help="Build, inspect and check controlled worlds.")
app.add_typer(worlds_app, name="worlds")
console = Console()
INTERRUPTED = "interrupted: rerun the same command to resume where it stopped"


def parse_sizes(pairs: list[str]) -> dict[str, int]:
    """`--size n_facts=100` pairs -> {"n_facts": 100}."""
    sizes = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not value.strip().lstrip("-").isdigit():
            raise IcftError(f"--size {pair!r} must look like KEY=INTEGER, e.g. --size n_facts=100")
        sizes[key.strip()] = int(value)
    return sizes


@worlds_app.command("list")
def worlds_list() -> None:
    """List the world generators, their presets and sizes."""
    import dataclasses

    from icft.worlds import WORLDS

    table = Table("world", "preset", "sizes", "description")
    for name, module in WORLDS.items():
        summary = (module.__doc__ or "").strip().splitlines()[0]
        for preset, sizes in module.PRESETS.items():
            text = ", ".join(f"{f.name}={getattr(sizes, f.name)}" for f in dataclasses.fields(sizes))
            table.add_row(name, preset, text, summary if preset == "default" else "")
    console.print(table)


@worlds_app.command("build")
def worlds_build(
    name: str = typer.Argument(..., help="World generator: reversals, syllogisms, semantic, reversal_curse."),
    out: Path = typer.Option(..., "--out", help="Folder to write world.json, train.jsonl, test.jsonl into."),
    seed: int = typer.Option(0, help="Random seed: the same seed gives the same bytes."),
    preset: str = typer.Option("default", help="Size preset: default (small) or paper."),
    size: list[str] = typer.Option([], help="Override one size, KEY=INTEGER (repeatable); see `icft worlds list`."),
) -> None:
    """Generate a world from a seed and write it to a folder."""
    from icft.worlds import build_world, check_world, save_world

    world = build_world(name, seed=seed, preset=preset, **parse_sizes(size))
    problems = check_world(world)
    if problems:  # a generator bug, never the user's fault: refuse to write a broken world
        raise IcftError(f"generated world failed its check ({problems[0]}); please report this with the seed")
    save_world(world, out)
    console.print(f"wrote {name} (seed {seed}) to {out}: {len(world.documents)} documents, {len(world.items)} items")


@worlds_app.command("show")
def worlds_show(
    world_dir: Path = typer.Argument(..., help="A world folder."),
    examples: int = typer.Option(2, min=0, help="Example items to print per split."),
) -> None:
    """Counts per split, chance levels and a few examples."""
    from icft.worlds import load_world
    from icft.worlds.summary import summarize

    world = load_world(world_dir)
    s = summarize(world)
    console.print(f"[bold]{s.name}[/] seed {s.seed}: {s.documents} documents, {s.sentences} sentences, "
                  f"{s.words} words, {s.facts} facts")
    table = Table("split", "items", "options", "chance")
    for sp in s.splits:
        table.add_row(sp.split, str(sp.items), f"{sp.mean_options:.1f}", f"{sp.chance:.3f}")
    console.print(table)
    console.print("[bold]train document[/]: " + world.documents[0].text.replace("\n", " / "))
    for split in world.splits:
        for item in world.items_in(split)[:examples]:
            marks = ["*" if i in item.correct else " " for i in range(len(item.options))]
            opts = "  ".join(f"{m}{o.strip()}" for m, o in zip(marks, item.options))
            if item.free_form:
                opts = "free form: " + " | ".join(a.strip() for a in item.answers)
            console.print(f"[bold]{split}[/]: {item.prompt} -> {opts}", highlight=False)


@worlds_app.command("check")
def worlds_check(world_dir: Path = typer.Argument(..., help="A world folder.")) -> None:
    """Prove every correct option follows from the train facts and no distractor does, then audit shortcuts:
    no heuristic baseline may beat chance on a generalization split unless the world declares it inherent."""
    from icft.worlds import check_world, load_world
    from icft.worlds.audit import audit_world, failures

    world = load_world(world_dir)
    problems = check_world(world)
    if problems:
        for p in problems:
            console.print(f"[red]problem[/]: {p}", highlight=False)
        raise typer.Exit(1)
    results = audit_world(world)
    failed = failures(results)
    n_claims = sum(1 for i in world.items if i.claims is not None)
    if not failed:
        console.print(f"ok: {world_dir} passed ({len(world.items)} items, {n_claims} with logical forms proved; "
                      "no undeclared shortcut above chance on a generalization split)", highlight=False)
    Console(width=max(console.width, 100)).print(_audit_table(results))  # wide enough that names never wrap
    if failed:
        found = "; ".join(f"{r.split}/{r.baseline} {r.accuracy:.2f} [{r.low:.2f}, {r.high:.2f}] "
                          f"vs chance {r.chance:.2f}" for r in failed)
        console.print(f"[red]shortcut above chance[/]: {found} (a split that asks the train statements themselves is "
                      "a control split: name it with `icft worlds import --control-split` or in world.json "
                      "'control_splits'; a shortcut no test of a split can avoid goes in 'inherent_baselines' with "
                      "its reason)", highlight=False, soft_wrap=True)
        raise typer.Exit(1)


def _audit_table(results) -> Table:
    """One row per (split, baseline): accuracy, its 95% Wilson interval, chance and the verdict."""
    from rich import box

    table = Table("split", "baseline", "n", "accuracy", "95% interval", "chance", "verdict", box=box.SIMPLE,
                  title="shortcut audit: heuristics fit on the train documents only")
    for r in results:
        verdict = ""
        if r.above_chance:
            verdict = "inherent" if r.inherent else "control" if r.control else "[red]ABOVE[/]"
        table.add_row(f"{r.split}*" if r.control else r.split, r.baseline, str(r.n), f"{r.accuracy:.2f}",
                      f"{r.low:.2f}-{r.high:.2f}", f"{r.chance:.2f}", verdict)
    reasons = dict.fromkeys(f"{r.split}/{r.baseline}: {r.inherent}" for r in results if r.inherent)
    table.caption = "\n".join(["* control split (reported, never a failure)", *(f"inherent {x}" for x in reasons)])
    return table


@worlds_app.command("import")
def worlds_import(
    documents: Path = typer.Option(..., "--documents", help="JSONL: one {\"text\": ...} a line; or a folder of "
                                                            ".txt/.md files, one document each."),
    questions: Path = typer.Option(..., "--questions", help="JSONL: {\"prompt\", \"options\", \"answer\", \"split\"} "
                                                            "a line, or free form: {\"prompt\", \"answer\": \"text\", "
                                                            "\"aliases\": [...]}."),
    out: Path = typer.Option(..., "--out", help="Folder for the world."),
    name: str = typer.Option(None, help="World name (default: the documents file's name)."),
    control_split: list[str] = typer.Option(
        [], "--control-split", help="A question split that asks the documents' own statements: the learned check "
                                    "a fine-tuned model must pass before it is compared (repeat for several)."),
) -> None:
    """Make a world from your own documents and questions; every command then works on it."""
    from icft.evaluate.learned import world_control_warning
    from icft.worlds import check_world, save_world
    from icft.worlds.imported import import_world

    world = import_world(documents, questions, name, tuple(control_split))
    problems = check_world(world)
    if problems:
        raise IcftError(f"imported world has a problem: {problems[0]}")
    save_world(world, out)
    splits = ", ".join(f"{s} {len(world.items_in(s))}" for s in world.splits)
    console.print(f"wrote {out}: {len(world.documents)} documents, {len(world.items)} questions ({splits})")
    warning = world_control_warning(world, str(out))
    if warning:
        console.print(f"[yellow]{warning}[/]", highlight=False, soft_wrap=True)


@app.command("eval")
def eval_command(
    world: Path = typer.Option(..., "--world", help="A world folder (see `icft worlds build`)."),
    model: str = typer.Option(None, "--model", help="Embedded model name, local folder, or hub id "
                              "(default: the embedded smollm2-135m)."),
    device: str = typer.Option(None, "--device", help="auto (a GPU when there is one), cpu, cuda or cuda:N "
                               "(default: auto)."),
    mode: str = typer.Option(..., "--mode", help="pretrained (prompt alone) or icl (train documents in context)."),
    db: Path = typer.Option(Path("results.db"), "--db", help="SQLite results store (created if missing)."),
    seed: int = typer.Option(0, help="Seed for the ICL document order and the bootstrap."),
    subsample: float = typer.Option(1.0, help="ICL: fraction of documents in the context (0 < f <= 1)."),
    template: str = typer.Option("plain", help="ICL: plain text, or chat (documents in the user turn)."),
) -> None:
    """Score a world's test splits in one mode; prints per-split accuracy, 95% CI and chance."""
    from icft.commands.evaluate import run_eval_command

    run_eval_command(world, model, mode, db, seed=seed, subsample=subsample, template=template, device=device,
                     console=console)


@app.command("augment")
def augment_command(
    world: Path = typer.Option(..., "--world", help="A world folder."),
    strategy: str = typer.Option(..., "--strategy", help="local (each sentence) or global (whole set in context); "
                                 "oracle-local or oracle-global: the world's own reasoner writes them (no generator)."),
    model: str = typer.Option(None, "--model", help="Generator: a local model name or folder."),
    base_url: str = typer.Option(None, "--base-url", help="Generator: an OpenAI-compatible endpoint, e.g. http://localhost:8000/v1."),
    endpoint_model: str = typer.Option(None, "--endpoint-model", help="The model name the endpoint serves."),
    api_key_env: str = typer.Option("OPENAI_API_KEY", help="Environment variable holding the endpoint's key."),
    device: str = typer.Option(None, "--device", help="A local generator's device: auto, cpu, cuda or cuda:N."),
    out: Path = typer.Option(None, "--out", help="Output JSONL (default: augmented-STRATEGY.jsonl in the world)."),
    template: Path = typer.Option(None, "--template", help="A prompt template file (see src/icft/learn/augment/prompts)."),
    # unset options take the defaults a study's [augment] takes (icft.learn.augment.settings.AugmentSettings)
    max_new_tokens: int = typer.Option(None, min=1, help="Tokens generated per prompt (default 96)."),
    temperature: float = typer.Option(None, min=0.0, help="0 = greedy (the default)."),
    seed: int = typer.Option(None, help="Sampling seed (default 0)."),
    limit: int = typer.Option(None, min=1, help="Only the first N prompts (a quick look)."),
) -> None:
    """Write in-context inferences (rephrasings, reversals, links) to fine-tune on, or the oracle's."""
    from icft.commands.augment import run_augment_command

    run_augment_command(world, strategy, model=model, base_url=base_url, endpoint_model=endpoint_model,
                        out=out, template=str(template) if template else None, api_key_env=api_key_env,
                        device=device or "auto",
                        max_new_tokens=max_new_tokens, temperature=temperature, seed=seed, limit=limit)


@app.command("finetune")
def finetune_command(
    world: Path = typer.Option(..., "--world", help="A world folder."),
    model: str = typer.Option(None, "--model", help="Embedded model name, local folder, or hub id "
                              "(default: the embedded smollm2-135m)."),
    device: str = typer.Option(None, "--device", help="auto (a GPU when there is one), cpu, cuda or cuda:N "
                               "(default: auto)."),
    out: Path = typer.Option(..., "--out", help="Run folder: weights/adapter, training curve, config."),
    lora: bool = typer.Option(False, "--lora", help="Train a LoRA adapter instead of all weights."),
    split_sentences: str = typer.Option(None, "--split-sentences", help="independent or cumulative."),
    augmented: list[Path] = typer.Option([], "--augmented", help="Augmentation JSONL to add (repeatable)."),
    epochs: int = typer.Option(None, min=1), learning_rate: float = typer.Option(None, min=0.0),
    max_steps: int = typer.Option(None, min=1), seed: int = typer.Option(0),
    db: Path = typer.Option(None, "--db", help="Also score the fine-tuned model on every split into this store."),
    distill: bool = typer.Option(False, "--distill", help="Context distillation: learn the model's own "
                                 "distribution with the documents in its context (ft-distill; with --augmented "
                                 "local files, ft-distill-local)."),
    teacher_context: str = typer.Option("corpus", "--teacher-context", help="--distill: corpus (every document, "
                                        "as ICL) or relevant (the documents naming the sequence's terms)."),
    temperature: float = typer.Option(1.0, "--temperature", help="--distill: the KL's temperature."),
    ce_weight: float = typer.Option(0.0, "--ce-weight", help="--distill: weight of the plain next-token loss."),
) -> None:
    """Fine-tune on a world's documents (or sentences), plus augmentations, or distil them; optionally evaluate."""
    from icft.commands.finetune import run_finetune_command
    from icft.learn.distill.settings import DistillSettings

    try:
        settings = DistillSettings(context=teacher_context, temperature=temperature, ce_weight=ce_weight)
    except ValueError as e:
        raise IcftError(f"distillation option: {e}") from None
    run_finetune_command(world, model, out, lora=lora, split=split_sentences, augmented=augmented, epochs=epochs,
                         learning_rate=learning_rate, max_steps=max_steps, seed=seed, db=db, device=device,
                         console=console, distill=settings if distill else None)


@app.command("study")
def study_command(
    config: Path = typer.Argument(..., help="A study config (TOML); see configs/."),
    out: Path = typer.Option(..., "--out", help="Study folder: results.db, worlds, caches, report."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the grid and its estimated cost; run nothing."),
    report: bool = typer.Option(True, help="Write the report when the grid is done."),
    device: str = typer.Option(None, "--device", help="Overrides the config's `device`: auto, cpu, cuda or cuda:N."),
) -> None:
    """Run a study's grid (worlds x models x modes x seeds, or a transfer grid); rerun the same command to resume."""
    from icft.study.config import load_study_config
    from icft.study.grid import run_study
    from icft.study.transfer import run_transfer_study

    study = load_study_config(config, device=device)
    run = run_transfer_study if study.kind == "transfer" else run_study
    run(study, out, dry_run=dry_run, console=console)
    if report and not dry_run:
        from icft.report import write_report

        paths = write_report(out)
        console.print(f"report: {paths.html}")


@app.command("report")
def report_command(
    study_dir: Path = typer.Argument(..., help="A study folder (made by `icft study`)."),
    compare: Path = typer.Option(None, "--compare", help="A second study folder to put side by side."),
) -> None:
    """Tables, figures and findings from a study's stored results (never reruns a model)."""
    from icft.report import write_report

    paths = write_report(study_dir, compare=compare)
    console.print(f"report: {paths.html}\nsummary: {paths.markdown}\nfindings: {paths.findings}")


def main() -> None:
    # peft 0.21 reads transformers' deprecated `is_gradient_checkpointing` inside PeftModel (icft never does):
    # not the user's to act on; pyproject.toml's pytest filters name the same exception
    warnings.filterwarnings("ignore", "`is_gradient_checkpointing` is deprecated", FutureWarning)
    try:
        app()
    except IcftError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print(INTERRUPTED, file=sys.stderr)
        sys.exit(130)
    except SystemExit as e:  # typer turns Ctrl-C into a silent exit 130
        if e.code == 130:
            print(INTERRUPTED, file=sys.stderr)
        raise
    except Exception as e:  # a full disk outside a study's own run (which says what it kept), e.g. its report
        from icft.store.lock import disk_full_error

        error = disk_full_error(e, None)
        if error is None:
            raise
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
