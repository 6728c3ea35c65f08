"""`icft augment`: augment a world folder with a generator, write the JSONL and print the counts."""

from __future__ import annotations

from pathlib import Path

from icft.errors import IcftError
from icft.learn.augment import STRATEGIES, AugmentResult, AugmentSettings, augment_world
from icft.learn.generators import make_generator
from icft.learn.templates import load_template
from icft.worlds.io import load_world


def run_augment_command(
    world_dir: str | Path,
    strategy: str,
    model: str | None = None,
    base_url: str | None = None,
    endpoint_model: str | None = None,
    out: str | Path | None = None,
    template: str | None = None,
    api_key_env: str = "OPENAI_API_KEY",
    device: str = "auto",
    max_new_tokens: int | None = None,
    temperature: float = 0.0,
    seed: int = 0,
    chat: bool | None = None,
    batch_size: int = 8,
    max_words: int = 40,
    context_documents: int | None = None,
    limit: int | None = None,
    cache: str | None = None,
    progress: bool = True,
) -> AugmentResult:
    """`icft augment`: load the world, build the generator, augment, print the counts.

    `out` defaults to `augmented-<strategy>.jsonl` in the world folder.
    """
    if strategy not in STRATEGIES:
        raise IcftError(f"unknown augmentation strategy {strategy!r}: choose one of {', '.join(STRATEGIES)}")
    settings = AugmentSettings(
        template=template, max_new_tokens=max_new_tokens, temperature=temperature, seed=seed, chat=chat,
        batch_size=batch_size, max_words=max_words, context_documents=context_documents, limit=limit,
        cache_path=cache,
    )
    load_template(strategy, template)  # a bad template fails before a model is loaded
    world = load_world(world_dir)
    generator = make_generator(model, base_url, endpoint_model, api_key_env, device, batch_size)
    out_path = Path(out) if out is not None else Path(world_dir) / f"augmented-{strategy}.jsonl"
    result = augment_world(world, generator, strategy, out_path, settings, progress=progress)
    print(result.describe())
    print(f"wrote {result.path} and {result.summary_path}")
    return result
