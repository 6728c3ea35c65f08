"""`icft augment`: augment a world folder with a generator, write the JSONL and print the counts."""

from __future__ import annotations

from pathlib import Path

from icft.errors import IcftError
from icft.learn.augment import AugmentResult, augment_world
from icft.learn.augment_settings import STRATEGIES, AugmentSettings
from icft.learn.generators import GeneratorSource, make_generator
from icft.learn.templates import load_template
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
) -> AugmentResult:
    """`icft augment`: load the world, build the generator, augment, print the counts.

    `settings` are `AugmentSettings` fields (template, max_new_tokens, temperature, seed, ...); one left unset
    (None) takes the default a study's augmentation takes too. `out` defaults to `augmented-<strategy>.jsonl` in
    the world folder.
    """
    if strategy not in STRATEGIES:
        raise IcftError(f"unknown augmentation strategy {strategy!r}: choose one of {', '.join(STRATEGIES)}")
    settings = AugmentSettings(**{key: value for key, value in settings.items() if value is not None})
    load_template(strategy, settings.template)  # a bad template or generator fails before a model is loaded
    source = GeneratorSource(model, base_url, endpoint_model, api_key_env)
    world = load_world(world_dir)
    generator = make_generator(source, device, settings.batch_size)
    out_path = Path(out) if out is not None else Path(world_dir) / f"augmented-{strategy}.jsonl"
    result = augment_world(world, generator, strategy, out_path, settings, progress=progress)
    print(result.describe())
    print(f"wrote {result.path} and {result.summary_path}")
    return result
