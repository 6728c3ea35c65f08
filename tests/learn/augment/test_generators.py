"""Generators and the generation cache: a rerun generates nothing, an interrupted run resumes, errors name the fix."""

from __future__ import annotations

import socket

import pytest
from tiny_models import tiny_model

from icft.errors import IcftError
from icft.learn.augment import augment_world
from icft.learn.augment.settings import AugmentSettings
from icft.learn.augment.generators import (
    CacheStats,
    EndpointGenerator,
    GenerationCache,
    GenerationSettings,
    GeneratorSource,
    LocalGenerator,
    cached_generate,
    make_generator,
)
from icft.worlds.schema import Document, Fact, World

SETTINGS = GenerationSettings(max_new_tokens=6)


class CountingGenerator:
    """Wraps a real generator, counting the prompts it is asked for; can fail on a chosen call."""

    def __init__(self, inner, fail_on_call: int | None = None):
        self.inner = inner
        self.name = inner.name
        self.fail_on_call = fail_on_call
        self.calls = 0
        self.prompts = 0

    def generate(self, prompts, context, settings):
        self.calls += 1
        if self.calls == self.fail_on_call:
            raise KeyboardInterrupt  # as if the user stopped the run here
        self.prompts += len(prompts)
        return self.inner.generate(prompts, context, settings)


@pytest.fixture(scope="module")
def local():
    return LocalGenerator(tiny_model(), batch_size=2)


def test_cache_key_changes_with_every_input():
    base = GenerationCache.key("local:a", "p", "c", SETTINGS)
    assert base == GenerationCache.key("local:a", "p", "c", GenerationSettings(max_new_tokens=6))
    others = {
        GenerationCache.key("local:b", "p", "c", SETTINGS),
        GenerationCache.key("local:a", "q", "c", SETTINGS),
        GenerationCache.key("local:a", "p", "d", SETTINGS),
        GenerationCache.key("local:a", "p", "c", GenerationSettings(max_new_tokens=6, seed=1)),
        GenerationCache.key("local:a", "p", "c", GenerationSettings(max_new_tokens=6, chat=False)),
    }
    assert base not in others and len(others) == 5


def test_rerun_calls_the_generator_zero_times(tmp_path, local):
    prompts = ["All feran are ukal.", "tuvir are big.", "All feran are ukal.", "pevab run."]
    first = CountingGenerator(local)
    cache = GenerationCache(tmp_path / "cache.sqlite")
    stats = CacheStats()
    outputs = cached_generate(first, cache, prompts, "Rewrite:\n", SETTINGS, batch_size=2, stats=stats)
    assert len(outputs) == 4 and outputs[0] == outputs[2]
    assert first.prompts == 3 and stats.generated == 3  # the repeated prompt is generated once
    cache.close()

    again = CountingGenerator(local)
    reopened = GenerationCache(tmp_path / "cache.sqlite")
    stats = CacheStats()
    assert cached_generate(again, reopened, prompts, "Rewrite:\n", SETTINGS, stats=stats) == outputs
    assert again.calls == 0 and stats.hits == 4


def test_interrupted_run_resumes_with_the_missing_prompts_only(tmp_path, local):
    prompts = [f"tuvir number {i} are big." for i in range(6)]
    cache = GenerationCache(tmp_path / "cache.sqlite")
    interrupted = CountingGenerator(local, fail_on_call=3)
    with pytest.raises(KeyboardInterrupt):
        cached_generate(interrupted, cache, prompts, "", SETTINGS, batch_size=2)
    assert interrupted.prompts == 4  # two whole batches were stored before the interruption

    resumed = CountingGenerator(local)
    outputs = cached_generate(resumed, cache, prompts, "", SETTINGS, batch_size=2)
    assert resumed.prompts == 2
    fresh = cached_generate(CountingGenerator(local), GenerationCache(tmp_path / "other.sqlite"), prompts, "",
                            SETTINGS, batch_size=2)
    assert outputs == fresh  # resuming gives what one uninterrupted run gives


def test_augment_rerun_generates_nothing(tmp_path, local):
    world = World("tiny", 0, "t", {}, [Document("d0", "tuvir are bigger than pevab. All feran are ukal.")], [],
                  facts=[Fact("f0", "tuvir", "bigger", "pevab")])
    counting = CountingGenerator(local)
    out = tmp_path / "aug.jsonl"
    settings = AugmentSettings(max_new_tokens=8)
    try:  # random weights rarely write a world word: an empty result is fine here, the cache is what counts
        augment_world(world, counting, "local", out, settings, progress=False)
    except IcftError as e:
        assert "kept nothing" in str(e)
    assert counting.prompts == 2
    again = CountingGenerator(local)
    try:
        augment_world(world, again, "local", out, settings, progress=False)
    except IcftError:
        pass
    assert again.calls == 0
    assert (tmp_path / "augment-cache.sqlite").is_file()


def test_local_generator_rejects_a_context_longer_than_the_window(tmp_path):
    generator = LocalGenerator(tiny_model(context=64))
    with pytest.raises(IcftError, match="generation needs .* tokens .*holds 64: put fewer documents in context"):
        generator.generate(["tuvir are big."], "All feran are ukal. " * 40, SETTINGS)


def test_local_generator_is_deterministic(local):
    settings = GenerationSettings(max_new_tokens=5, temperature=1.0, seed=3)
    assert local.generate(["tuvir are"], "", settings) == local.generate(["tuvir are"], "", settings)
    assert local.name == "local:tiny-llama"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the block ends: nothing listens there


def test_unreachable_endpoint_is_one_line_naming_the_url():
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    generator = EndpointGenerator(url, "any-model", max_retries=0, timeout=5)
    with pytest.raises(IcftError, match=f"cannot reach the endpoint at {url}: start the server or fix base_url"):
        generator.generate(["tuvir are"], "", SETTINGS)


def test_remote_endpoint_without_a_key_names_the_variable(monkeypatch):
    monkeypatch.delenv("ICFT_TEST_KEY", raising=False)
    with pytest.raises(IcftError, match=r"no API key for https://api.example.com/v1: set .*ICFT_TEST_KEY"):
        EndpointGenerator("https://api.example.com/v1", "m", api_key_env="ICFT_TEST_KEY")
    monkeypatch.setenv("ICFT_TEST_KEY", "secret")
    assert EndpointGenerator("https://api.example.com/v1/", "m", api_key_env="ICFT_TEST_KEY").name == (
        "openai:https://api.example.com/v1:m"
    )


def test_a_generator_source_is_exactly_one_model_or_endpoint():
    with pytest.raises(IcftError, match="choose a generator"):
        GeneratorSource()
    with pytest.raises(IcftError, match="choose a generator"):
        GeneratorSource(model="smollm2-135m", base_url="http://127.0.0.1:1/v1")
    with pytest.raises(IcftError, match="needs endpoint_model"):
        GeneratorSource(base_url="http://127.0.0.1:1/v1")
    with pytest.raises(IcftError, match="unknown model"):
        make_generator(GeneratorSource(model="no-such-model-anywhere"))


def test_studies_and_the_command_name_a_generator_alike(local):
    """One name per generator: the one a study's files carry is the one `icft augment` records."""
    from icft.study.augmentations import generator_name, generator_source
    from icft.study.config import AugmentSpec

    assert generator_name(AugmentSpec(), "tiny-llama") == local.name == "local:tiny-llama"
    assert make_generator(generator_source(AugmentSpec(), "tiny-llama"), loaded=local.loaded).name == local.name
    endpoint = AugmentSpec(base_url="http://127.0.0.1:1/v1/", endpoint_model="m")
    assert generator_name(endpoint, "tiny-llama") == GeneratorSource(base_url="http://127.0.0.1:1/v1",
                                                                     endpoint_model="m").name == (
        "openai:http://127.0.0.1:1/v1:m")
