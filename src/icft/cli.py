"""The `icft` command line: arguments -> validated values -> one library call each.

Every user-facing problem is an `IcftError`, printed as one line (`error: ...`) with exit code 2.
"""

from __future__ import annotations

import sys
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
            console.print(f"[bold]{split}[/]: {item.prompt} -> {opts}", highlight=False)


@worlds_app.command("check")
def worlds_check(world_dir: Path = typer.Argument(..., help="A world folder.")) -> None:
    """Prove every correct option follows from the train facts and no distractor does."""
    from icft.worlds import check_world, load_world

    world = load_world(world_dir)
    problems = check_world(world)
    if problems:
        for p in problems:
            console.print(f"[red]problem[/]: {p}", highlight=False)
        raise typer.Exit(1)
    n_claims = sum(1 for i in world.items if i.claims is not None)
    console.print(f"ok: {world_dir} passed ({len(world.items)} items, {n_claims} with logical forms proved)")


@app.command("demo")
def demo(
    out: Path = typer.Option(Path("runs/demo"), help="Folder for the demo's outputs."),
    seed: int = typer.Option(0, help="Random seed."),
) -> None:
    """The main job: build a world and show it."""
    world_dir = out / "worlds" / "reversals"
    worlds_build("reversals", out=world_dir, seed=seed, preset="default", size=[])
    worlds_check(world_dir)
    worlds_show(world_dir, examples=2)


def main() -> None:
    try:
        app()
    except IcftError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted: rerun the same command to resume where it stopped", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()
