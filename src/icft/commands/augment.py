"""`icft augment`: augment a world folder with a generator (or the world's own reasoner, the oracle), write the
JSONL and print the counts."""

from __future__ import annotations

from pathlib import Path

from icft.errors import IcftError
from icft.learn.augment import augment_world
from icft.learn.augment.settings import STRATEGIES, AugmentSettings
from icft.learn.augment.generators import GeneratorSource, make_generator
from icft.learn.augment.oracle import STRATEGIES as ORACLE_STRATEGIES
from icft.learn.augment.templates import load_template
from icft.worlds.io import load_world


def run_augment_command(
    world_dir: str | Path,
    strategy: str,
    model: str | None = None,
    base_url: str | None = None,
    endpoint_model: str | None = None,
    out: str | Path | None = None,
    api_key_env: str = "OPENAI_API_KEY",
    device: str = "auto",
    progress: bool = True,
    **settings,
) -> Path:
    """`icft augment`: load the world, build the generator, augment, print the counts; returns the file written.

    `settings` are `AugmentSettings` fields (template, max_new_tokens, temperature, seed, ...); one left unset
    (None) takes the default a study's augmentation takes too. `out` defaults to `augmented-<strategy>.jsonl` in
    the world folder. The oracle's strategies take no generator: the world's reasoner writes them.
    """
    if strategy not in STRATEGIES + ORACLE_STRATEGIES:
        raise IcftError(f"unknown augmentation strategy {strategy!r}: choose one of "
                        f"{', '.join(STRATEGIES + ORACLE_STRATEGIES)}")
    out_path = Path(out) if out is not None else Path(world_dir) / f"augmented-{strategy}.jsonl"
    if strategy in ORACLE_STRATEGIES:
        return _write_oracle(world_dir, strategy, out_path, model or base_url or endpoint_model, settings)
    settings = AugmentSettings(**{key: value for key, value in settings.items() if value is not None})
    load_template(strategy, settings.template)  # a bad template or generator fails before a model is loaded
    source = GeneratorSource(model, base_url, endpoint_model, api_key_env)
    world = load_world(world_dir)
    generator = make_generator(source, device, settings.batch_size)
    result = augment_world(world, generator, strategy, out_path, settings, progress=progress)
    print(result.describe())
    print(f"wrote {result.path} and {result.summary_path}")
    return result.path


def _write_oracle(world_dir: str | Path, strategy: str, out_path: Path, generator: str | None,
                  settings: dict) -> Path:
    """The world's oracle augmentations (`icft.learn.augment.oracle`); imported and process worlds are refused."""
    from icft.learn.augment import summary_path
    from icft.learn.augment.oracle import write_oracle

    unused = sorted(f"--{key.replace('_', '-')}" for key, value in settings.items() if value is not None
                    and key != "seed")
    if generator or unused:
        given = ", ".join((["a generator"] if generator else []) + unused)
        raise IcftError(f"--strategy {strategy} is written by the world's own reasoner, not generated: drop {given}")
    summary = write_oracle(load_world(world_dir), strategy, out_path, seed=settings.get("seed") or 0)
    counts = summary["counts"]
    dropped = ", ".join(f"{key} {n}" for key, n in counts.items() if key not in ("requests", "sentences", "kept"))
    print(f"{counts['kept']} oracle augmentations kept of {counts['sentences']} written "
          f"({counts['requests']} requests); dropped: {dropped}")
    print(f"wrote {out_path} and {summary_path(out_path)}")
    return out_path
